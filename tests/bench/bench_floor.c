/*
 * bench_floor.c: the floor of bench_floor.h. Everything here mirrors the
 * engines' shared path (engine.c's ar_engine_alloc and ar_engine_free, and
 * replay.c's loop) except the placement, which is replaced by the cheapest
 * one there is, so that the time left is the cost of the path itself.
 */
#include "bench_floor.h"

#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "ar/engine.h"
#include "blockmap.h"

#define HDR 16
#define STACKS 256 /* block sizes 16, 32, ..., 4096 */

/* A stack of freed block starts of one block size; owned by the floor. */
typedef struct sizestack_s {
  uint64_t *start;
  size_t count, cap;
} sizestack_t;

/* The allocator: its block map, stacks, bump pointer and counters, as an
 * engine keeps them. */
typedef struct floor_s {
  ar__mem_t mem;
  ar__blockmap_t map;
  uint64_t peak_mem;
  sizestack_t stack[STACKS];
  uint64_t bump;
  uint64_t used, requested, hwm, peak_used, peak_requested;
  uint64_t allocs, frees;
} floor_t;

static uint64_t block_size(uint64_t n) {
  return (n + HDR + 15) & ~UINT64_C(15);
}

/* Returns the payload, or 0 when memory ran out. */
static uint64_t floor_alloc(floor_t *f, uint64_t n) {
  if (n == 0 || n > AR_N_MAX || ar__blockmap_reserve(&f->map) != 0)
    return 0;
  uint64_t b = block_size(n), start;
  sizestack_t *s = b / 16 <= STACKS ? &f->stack[b / 16 - 1] : NULL;
  if (s != NULL && s->count > 0) {
    start = s->start[--s->count];
  } else {
    start = f->bump;
    f->bump += b;
  }
  if (f->mem.bytes > f->peak_mem)
    f->peak_mem = f->mem.bytes;
  ar__blockent_t ent = {start + HDR, n};
  ar__blockmap_insert(&f->map, &ent);
  f->allocs++;
  f->used += b;
  f->requested += n;
  if (start + b > f->hwm)
    f->hwm = start + b;
  if (f->used > f->peak_used)
    f->peak_used = f->used;
  if (f->requested > f->peak_requested)
    f->peak_requested = f->requested;
  return start + HDR;
}

/* Returns false when the payload is not live or memory ran out. */
static bool floor_free(floor_t *f, uint64_t payload) {
  ar__blockent_t *ent = ar__blockmap_find(&f->map, payload);
  if (ent == NULL)
    return false;
  uint64_t n = ent->n, b = block_size(n);
  ar__blockmap_remove(&f->map, ent);
  if (b / 16 <= STACKS) {
    sizestack_t *s = &f->stack[b / 16 - 1];
    if (s->count == s->cap) {
      size_t cap = s->cap ? 2 * s->cap : 64;
      uint64_t *p = realloc(s->start, cap * sizeof *p);
      if (p == NULL)
        return false;
      s->start = p;
      s->cap = cap;
    }
    s->start[s->count++] = payload - HDR;
  }
  f->frees++;
  f->used -= b;
  f->requested -= n;
  return true;
}

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* The loop of ar_replay_run, on the floor. */
static bool replay(floor_t *f, const ar_trace_t *t, uint64_t *payload) {
  ar_trace_info_t info;
  ar_trace_info(t, &info);
  const ar_trace_op_t *ops = ar_trace_ops(t);
  for (size_t i = 0; i < info.nops; i++) {
    const ar_trace_op_t *op = &ops[i];
    if (op->kind == AR_TRACE_FREE) {
      if (op->slot == AR_TRACE_NO_SLOT || payload[op->slot] == 0)
        continue;
      if (!floor_free(f, payload[op->slot]))
        return false;
      payload[op->slot] = 0;
      continue;
    }
    if (payload[op->slot] != 0)
      return false; /* an invalid trace: ar_replay_run refuses it too */
    payload[op->slot] = floor_alloc(f, op->n);
    if (payload[op->slot] == 0)
      return false;
  }
  return true;
}

double bench_floor_replay(const ar_trace_t *t, uint64_t *peak_live) {
  ar_trace_info_t info;
  ar_trace_info(t, &info);
  /* Both owned here, freed before returning. The slot array is timed, as
   * ar_replay_run's own is; the floor's state, like an engine's create and
   * destroy, is not. */
  floor_t *f = calloc(1, sizeof *f);
  if (f == NULL || ar__blockmap_init(&f->map, &f->mem)) {
    free(f);
    return -1;
  }
  double t0 = now_ns();
  uint64_t *payload = calloc(info.nslots ? info.nslots : 1, sizeof *payload);
  bool ok = payload != NULL && replay(f, t, payload);
  free(payload);
  double ns = now_ns() - t0;
  *peak_live = f->peak_requested;
  ar__blockmap_fini(&f->map);
  for (size_t i = 0; i < STACKS; i++)
    free(f->stack[i].start);
  free(f);
  return ok ? ns : -1;
}
