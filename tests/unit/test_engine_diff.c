/*
 * test_engine_diff.c: a randomized differential test of the engines against
 * the reference implementation of the placement model (reference.h).
 *
 * For every policy, several arena sizes (tiny ones where allocations often
 * fail, up to 1 MiB) and three request mixes (workload_t), thousands of
 * random operations run on both: allocations from 1 byte to more than the
 * arena, now and then with an alignment from 32 to 4096 (in the aligned
 * mix, half of them at 1-4 KiB); frees of random live blocks; some frees that
 * must be refused; and, rarely, freeing everything. Growing and shrinking
 * phases alternate so the arena fills up and empties. Every placement (the
 * whole block, or the error) must match; ar_engine_check runs after every
 * operation; the full free set, the live blocks and the stats are compared
 * every CMP_EVERY operations and at the end. The engine gets real arena
 * memory, so its header writes run under the sanitizers too.
 *
 * Deterministic: the seed of each run derives from AR_DIFF_SEED (default
 * below) and the policy and size; a mismatch prints the seed, the operation
 * index and the last operations. AR_DIFF_OPS overrides the operations per
 * run; AR_DIFF_VERBOSE=1 prints what each run did.
 */
#include "harness.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_SEED UINT64_C(0x61726e656e643031)
#define DEFAULT_OPS 8000u
#define CMP_EVERY 64u
#define LOG_LEN 24u

typedef struct op_log_s {
  char kind; /* 'a', 'f' */
  uint64_t n, align, arg;
  int rc;
  uint64_t payload;
} op_log_t;

/* The request mixes: MIXED, sizes from 1 byte to beyond the arena;
 * SMALL, many small blocks and extents; ALIGNED, blocks of up to 16 KiB,
 * half of them aligned to 1-4 KiB, so that worst and best fit meet large
 * intervals that the alignment turns down. */
typedef enum workload_e { MIXED, SMALL, ALIGNED, WORKLOADS } workload_t;
static const char *const workload_names[WORKLOADS] = {"", " (small blocks)",
                                                      " (aligned blocks)"};

typedef struct run_s {
  ar_policy_t policy;
  uint64_t size;
  workload_t work;
  uint64_t seed;
  uint64_t rng;
  unsigned op;
  ar_engine_t *e;
  ar_ref_t *ref;
  void *mem;
  ar_ref_span_t *span_e, *span_r; /* scratch for the free sets */
  size_t span_cap;
  uint64_t freed[64]; /* recently freed payloads, for double frees */
  unsigned n_freed;
  op_log_t log[LOG_LEN];
} run_t;

/* splitmix64 */
static uint64_t rnd(run_t *r) {
  uint64_t z = (r->rng += UINT64_C(0x9e3779b97f4a7c15));
  z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
  return z ^ (z >> 31);
}

static uint64_t below(run_t *r, uint64_t n) { return rnd(r) % n; }

static uint64_t env_u64(const char *name, uint64_t dflt) {
  const char *v = getenv(name);
  return v && *v ? strtoull(v, NULL, 0) : dflt;
}

static void log_op(run_t *r, char kind, uint64_t n, uint64_t align,
                   uint64_t arg, int rc, uint64_t payload) {
  r->log[r->op % LOG_LEN] =
      (op_log_t){kind, n, align, arg, rc, payload};
}

static void report(const run_t *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void report(const run_t *r, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  print_error("MISMATCH policy %s size %" PRIu64 "%s seed 0x%016" PRIx64
              " (AR_DIFF_SEED base 0x%016" PRIx64 ") op %u: %s\n",
              ar_policy_name(r->policy), r->size, workload_names[r->work],
              r->seed, env_u64("AR_DIFF_SEED", DEFAULT_SEED), r->op, msg);
  print_error("last operations (reference results):\n");
  unsigned first = r->op + 1 > LOG_LEN ? r->op + 1 - LOG_LEN : 0;
  for (unsigned i = first; i <= r->op; i++) {
    const op_log_t *l = &r->log[i % LOG_LEN];
    if (l->kind == 'a')
      print_error("  #%u alloc(n=%" PRIu64 ", align=%" PRIu64 ") -> %s %" PRIu64
                  "\n",
                  i, l->n, l->align, ar_err_name(l->rc), l->payload);
    else if (l->kind == 'f')
      print_error("  #%u free(%" PRIu64 ") -> %s\n", i, l->arg,
                  ar_err_name(l->rc));
    else if (l->kind == 'F')
      print_error("  #%u free everything\n", i);
  }
  fail();
}

static bool block_eq(const ar_block_t *a, const ar_block_t *b) {
  return a->payload == b->payload && a->start == b->start &&
         a->size == b->size && a->n == b->n;
}

/* A request size: mostly small, sometimes large, now and then too large. */
static uint64_t pick_n(run_t *r) {
  uint64_t c = below(r, 100);
  if (r->work == ALIGNED && c < 99)
    return 1 + below(r, 16384);
  if (r->work == SMALL && c < 99)
    return c < 70 ? 1 + below(r, 64) : 1 + below(r, 512);
  if (r->work != MIXED)
    c = below(r, 100);
  if (c < 40)
    return 1 + below(r, 64);
  if (c < 70)
    return 1 + below(r, 1024);
  if (c < 88) { /* a limit from 64 doubling towards size / 4 */
    uint64_t lim = 64;
    while (lim < r->size / 4 && below(r, 3) != 0)
      lim *= 2;
    return 1 + below(r, lim);
  }
  if (c < 97) /* up to the arena, around its edge b(n) = size */
    return 1 + below(r, r->size);
  switch (below(r, 4)) {
  case 0:
    return r->size - 15 + below(r, 32); /* b(n) = size or just above */
  case 1:
    return (uint64_t)INT64_MAX - below(r, 16);
  case 2:
    return r->size + below(r, r->size);
  default:
    return UINT64_C(1) << (20 + below(r, 40));
  }
}

static uint64_t pick_align(run_t *r) {
  if (r->work == ALIGNED)
    return below(r, 2) ? 16 : UINT64_C(1024) << below(r, 3);
  if (below(r, 10) != 0)
    return 16;
  return UINT64_C(32) << below(r, 8); /* 32 .. 4096 */
}

static void do_alloc(run_t *r) {
  uint64_t n = pick_n(r), align = pick_align(r);
  ar_block_t be, br;
  memset(&be, 0, sizeof(be));
  memset(&br, 0, sizeof(br));
  int rc_e = ar_engine_alloc(r->e, n, align, &be);
  int rc_r = ar_ref_alloc(r->ref, n, align, &br);
  log_op(r, 'a', n, align, 0, rc_r, br.payload);
  if (rc_e != rc_r)
    report(r, "alloc(n=%" PRIu64 ", align=%" PRIu64 "): engine %s (payload "
              "%" PRIu64 "), reference %s (payload %" PRIu64 ")",
           n, align, ar_err_name(rc_e), rc_e ? 0 : be.payload,
           ar_err_name(rc_r), rc_r ? 0 : br.payload);
  if (rc_r == AR_OK && !block_eq(&be, &br))
    report(r, "alloc(n=%" PRIu64 ", align=%" PRIu64 "): engine block [%" PRIu64
              ", +%" PRIu64 ") payload %" PRIu64 ", reference [%" PRIu64
              ", +%" PRIu64 ") payload %" PRIu64,
           n, align, be.start, be.size, be.payload, br.start, br.size,
           br.payload);
}

static void free_one(run_t *r, uint64_t payload) {
  ar_block_t be, br;
  memset(&be, 0, sizeof(be));
  memset(&br, 0, sizeof(br));
  bool corrupt = true;
  int rc_e = ar_engine_free(r->e, payload, &be, &corrupt);
  int rc_r = ar_ref_free(r->ref, payload, &br);
  log_op(r, 'f', 0, 0, payload, rc_r, 0);
  if (rc_e != rc_r)
    report(r, "free(%" PRIu64 "): engine %s, reference %s", payload,
           ar_err_name(rc_e), ar_err_name(rc_r));
  if (rc_r == AR_OK && !block_eq(&be, &br))
    report(r, "free(%" PRIu64 "): engine freed [%" PRIu64 ", +%" PRIu64
              "), reference [%" PRIu64 ", +%" PRIu64 ")",
           payload, be.start, be.size, br.start, br.size);
  if (rc_r == AR_OK && corrupt)
    report(r, "free(%" PRIu64 "): engine reports an untouched header as "
              "corrupt",
           payload);
  if (rc_r == AR_OK)
    r->freed[r->n_freed++ % 64] = payload;
}

static void do_free(run_t *r) {
  size_t live = ar_ref_live_count(r->ref);
  if (live == 0) {
    do_alloc(r);
    return;
  }
  free_one(r, ar_ref_live_block(r->ref, below(r, live)).payload);
}

/* A free that the model refuses (unless the offset happens to be live). */
static void do_bad_free(run_t *r) {
  size_t live = ar_ref_live_count(r->ref);
  ar_block_t b = live ? ar_ref_live_block(r->ref, below(r, live))
                      : (ar_block_t){.payload = 16, .start = 0};
  uint64_t off;
  switch (below(r, 8)) {
  case 0: /* a double free, or a reused payload */
    off = r->n_freed ? r->freed[below(r, r->n_freed < 64 ? r->n_freed : 64)]
                     : b.payload + 16;
    break;
  case 1:
    off = b.start; /* the header, for a block with A = 16 */
    break;
  case 2:
    off = b.payload + 16 * (1 + below(r, 4));
    break;
  case 3:
    off = b.payload + 1 + below(r, 15); /* misaligned */
    break;
  case 4:
    off = below(r, r->size / 16) * 16;
    break;
  case 5:
    off = r->size + 16 * below(r, 4);
    break;
  case 6:
    off = rnd(r);
    break;
  default:
    off = UINT64_MAX - 16 - below(r, 64);
    break;
  }
  free_one(r, off);
}

static void do_free_all(run_t *r) {
  log_op(r, 'F', 0, 0, 0, 0, 0);
  while (ar_ref_live_count(r->ref) > 0) {
    uint64_t p = ar_ref_live_block(r->ref, 0).payload;
    bool corrupt;
    int rc = ar_engine_free(r->e, p, NULL, &corrupt);
    if (rc != AR_OK)
      report(r, "free everything: engine refused %" PRIu64 ": %s", p,
             ar_err_name(rc));
    assert_ar_ok(ar_ref_free(r->ref, p, NULL));
  }
}

static void check_engine(run_t *r) {
  ar_check_report_t rep;
  memset(&rep, 0, sizeof(rep));
  int rc = ar_engine_check(r->e, &rep);
  if (rc != AR_OK)
    report(r, "ar_engine_check: %s: %s at %" PRIu64 ": %s", ar_err_name(rc),
           rep.invariant ? rep.invariant : "?", rep.offset, rep.detail);
}

static void compare_all(run_t *r) {
  size_t ne = engine_free_set(r->e, r->span_e, r->span_cap);
  size_t nr = ar_ref_free_set(r->ref, r->span_r, r->span_cap);
  assert_true(ne <= r->span_cap && nr <= r->span_cap);
  for (size_t i = 0; i < ne || i < nr; i++) {
    if (i >= ne || i >= nr || r->span_e[i].start != r->span_r[i].start ||
        r->span_e[i].end != r->span_r[i].end)
      report(r, "free sets differ at span %zu (engine %zu spans, reference "
                "%zu): engine [%" PRIu64 ", %" PRIu64 "), reference [%" PRIu64
                ", %" PRIu64 ")",
             i, ne, nr, i < ne ? r->span_e[i].start : 0,
             i < ne ? r->span_e[i].end : 0, i < nr ? r->span_r[i].start : 0,
             i < nr ? r->span_r[i].end : 0);
  }
  size_t live = ar_ref_live_count(r->ref);
  for (size_t i = 0; i < live; i++) {
    ar_block_t br = ar_ref_live_block(r->ref, i), be;
    if (ar_engine_find(r->e, br.payload, &be) != AR_OK || !block_eq(&be, &br))
      report(r, "live block at payload %" PRIu64 " unknown to the engine",
             br.payload);
  }
  ar_engine_stats_t se, sr;
  ar_engine_stats(r->e, &se);
  ar_ref_stats(r->ref, &sr);
  if (se.corruptions != 0)
    report(r, "engine counted %" PRIu64 " corruptions", se.corruptions);
  assert_stats_equal(&se, &sr);
  engine_verify(r->e);
}

static void run_one(ar_policy_t policy, uint64_t size, workload_t work,
                    unsigned ops) {
  run_t *r = calloc(1, sizeof(*r));
  assert_non_null(r);
  r->policy = policy;
  r->size = size;
  r->work = work;
  uint64_t base = env_u64("AR_DIFF_SEED", DEFAULT_SEED);
  r->rng = base ^ ((uint64_t)policy << 56) ^ ((uint64_t)(work == SMALL) << 55) ^
           ((uint64_t)(work == ALIGNED) << 54) ^ size;
  r->seed = r->rng;
  rnd(r);
  r->mem = calloc(1, size);
  assert_non_null(r->mem);
  r->span_cap = size / 16 + 1;
  r->span_e = calloc(r->span_cap, sizeof(ar_ref_span_t));
  r->span_r = calloc(r->span_cap, sizeof(ar_ref_span_t));
  assert_true(r->span_e && r->span_r);
  assert_ar_ok(ar_engine_create(policy, size, r->mem, &r->e));
  assert_ar_ok(ar_ref_create(policy, size, &r->ref));

  unsigned phase_left = 0, p_alloc = 50;
  for (r->op = 0; r->op < ops; r->op++) {
    if (phase_left-- == 0) { /* alternate filling up and emptying */
      phase_left = 100 + (unsigned)below(r, 400);
      p_alloc = p_alloc > 50 ? 25 + (unsigned)below(r, 20)
                             : 60 + (unsigned)below(r, 25);
    }
    uint64_t c = below(r, 1000);
    if (c < 1 && below(r, 4) == 0)
      do_free_all(r);
    else if (c < 40)
      do_bad_free(r);
    else if (c < 40 + p_alloc * 96 / 10)
      do_alloc(r);
    else
      do_free(r);
    check_engine(r);
    if (r->op % CMP_EVERY == 0)
      compare_all(r);
  }
  compare_all(r);
  if (env_u64("AR_DIFF_VERBOSE", 0)) {
    ar_engine_stats_t st;
    ar_ref_stats(r->ref, &st);
    print_message("  %s %7" PRIu64 "%s: %u ops, %" PRIu64 " allocs, %" PRIu64
                  " failed, %" PRIu64 " frees, %" PRIu64 " refused, peak "
                  "used %" PRIu64 ", live %" PRIu64 ", free extents %" PRIu64
                  "\n",
                  ar_policy_name(r->policy), r->size, workload_names[r->work],
                  ops, st.allocs, st.failed_allocs, st.frees, st.bad_frees,
                  st.peak_used, st.live_blocks, st.free_extents);
  }
  do_free_all(r);
  compare_all(r);
  ar_engine_destroy(r->e);
  ar_ref_destroy(r->ref);
  free(r->span_e);
  free(r->span_r);
  free(r->mem);
  free(r);
}

static void test_diff(void **state) {
  const subject_kind_t *k = *state;
  unsigned ops = (unsigned)env_u64("AR_DIFF_OPS", DEFAULT_OPS);
  static const uint64_t sizes[] = {4096, 8192, 65536, 1048576};
  static const uint64_t list_only[] = {12288, 40960};
  for (workload_t w = MIXED; w < WORKLOADS; w++) {
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
      run_one(k->policy, sizes[i], w, ops);
    if (k->policy != AR_POLICY_BUDDY)
      for (size_t i = 0; i < sizeof(list_only) / sizeof(list_only[0]); i++)
        run_one(k->policy, list_only[i], w, ops);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      SUBJECT_TEST(test_diff, FIRST, ENGINE),
      SUBJECT_TEST(test_diff, NEXT, ENGINE),
      SUBJECT_TEST(test_diff, BEST, ENGINE),
      SUBJECT_TEST(test_diff, WORST, ENGINE),
      SUBJECT_TEST(test_diff, BUDDY, ENGINE),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
