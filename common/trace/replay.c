/*
 * replay.c: runs trace operations on a policy engine and computes the
 * summary of the placement model: a whole parsed trace (ar_replay_run),
 * or window after window of one being parsed (ar__replay_window, for
 * replay_stream.c), through the same loop. This is where the liveness of
 * ids is decided, because only here is it known whether an allocation
 * succeeded: a slot holds the payload offset of its live block, or 0 when
 * it holds none (a payload is never at 0: it follows a 16-byte header).
 * The replay prints nothing; each log line goes to the caller's callback.
 */
#include <stdlib.h>
#include <string.h>

#include "ar/error.h"
#include "trace_internal.h"

/* Writes v in canonical decimal at buf (room for 20 characters), returns
 * the number of characters. */
static size_t put_i64(char *buf, int64_t v) {
  char tmp[20];
  size_t k = 0;
  /* The magnitude as unsigned, so that INT64_MIN does not overflow. */
  uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
  do {
    tmp[k++] = (char)('0' + u % 10);
    u /= 10;
  } while (u != 0);
  size_t len = 0;
  if (v < 0)
    buf[len++] = '-';
  while (k > 0)
    buf[len++] = tmp[--k];
  return len;
}

/* Hands one log line to the callback. */
static int log_line(ar_replay_log_fn log, void *arg, const ar_trace_op_t *op,
                    size_t i, int64_t offset) {
  char text[2 * 20 + 3]; /* id, space, offset, newline, NUL */
  size_t len = put_i64(text, op->id);
  text[len++] = ' ';
  len += put_i64(text + len, offset);
  text[len++] = '\n';
  text[len] = '\0';
  ar_replay_line_t ln = {
      .id = op->id, .offset = offset, .op = i, .text = text,
      .len = len};
  return log(arg, &ln);
}

/* The line of the `a` whose block is live in op's slot: the latest `a` of
 * that slot before op (a slot changes hands only when its block is freed).
 * Only used to explain an error. */
static uint64_t live_alloc_line(const ar_trace_t *t, size_t i) {
  const ar_trace_op_t *ops = ar_trace_ops(t);
  uint32_t slot = ops[i].slot;
  while (i-- > 0)
    if (ops[i].kind == AR_TRACE_ALLOC && ops[i].slot == slot)
      return ar_trace_line(t, i);
  return 0;
}

static int live_id_fail(ar_trace_error_t *err, uint64_t line, int64_t id,
                        uint64_t live_line) {
  return ar__trace_fail(err, AR_EINVAL, line,
                        "'a' of id %lld, which is still live (allocated "
                        "at line %llu): invalid trace",
                        (long long)id, (unsigned long long)live_line);
}

int ar_replay_live_id(const ar_trace_t *t, size_t i, ar_trace_error_t *err) {
  return live_id_fail(err, ar_trace_line(t, i), ar_trace_ops(t)[i].id,
                      live_alloc_line(t, i));
}

static double ratio_minus_one(uint64_t num, uint64_t den) {
  return den == 0 ? 0.0 : (double)num / (double)den - 1.0;
}

static void summarize(const ar_trace_info_t *info, const ar_engine_stats_t *st,
                      uint64_t failed, uint64_t frees, uint64_t skipped,
                      ar_replay_summary_t *sum) {
  memset(sum, 0, sizeof *sum);
  sum->policy = st->policy;
  sum->arena_size = st->size;
  sum->operations = info->nops;
  sum->allocations = info->nallocs;
  sum->failed_allocs = failed;
  sum->frees = frees;
  sum->skipped_frees = skipped;
  sum->hwm = st->hwm;
  sum->peak_live = st->peak_requested;
  sum->peak_blocks = st->peak_used;
  sum->live_blocks = st->live_blocks;
  sum->free_bytes = st->free_bytes;
  sum->free_intervals = st->free_extents;
  sum->largest_free = st->largest_free;
  sum->memory_peak = st->peak_meta_bytes;
  sum->frag_hwm_live = ratio_minus_one(st->hwm, st->peak_requested);
  sum->frag_hwm_blocks = ratio_minus_one(st->hwm, st->peak_used);
  sum->frag_blocks_live = ratio_minus_one(st->peak_used, st->peak_requested);
}

void ar_replay_summarize(const ar_trace_t *t, const ar_engine_stats_t *st,
                         uint64_t failed, uint64_t frees, uint64_t skipped,
                         ar_replay_summary_t *sum) {
  summarize(&t->info, st, failed, frees, skipped, sum);
}

void ar__replay_summary(const ar__replayer_t *r, const ar_trace_info_t *info,
                        ar_replay_summary_t *sum) {
  ar_engine_stats_t st;
  ar_engine_stats(r->e, &st);
  summarize(info, &st, r->failed, r->frees, r->skipped, sum);
}

/* ---- the replayer ------------------------------------------------- */

int ar__replayer_init(ar__replayer_t *r, ar_engine_t *e, size_t nslots,
                      bool track, ar_replay_log_fn log, void *log_arg) {
  memset(r, 0, sizeof *r);
  r->e = e;
  r->log = log;
  r->log_arg = log_arg;
  size_t n = nslots ? nslots : 1;
  r->payload = calloc(n, sizeof *r->payload);
  r->alloc_op = track ? calloc(n, sizeof *r->alloc_op) : NULL;
  r->alloc_line = track ? calloc(n, sizeof *r->alloc_line) : NULL;
  if (r->payload == NULL ||
      (track && (r->alloc_op == NULL || r->alloc_line == NULL))) {
    ar__replayer_fini(r);
    return AR_ENOMEM;
  }
  r->nslots = n;
  return AR_OK;
}

void ar__replayer_fini(ar__replayer_t *r) {
  free(r->payload);
  free(r->alloc_op);
  free(r->alloc_line);
  r->payload = NULL;
  r->alloc_op = NULL;
  r->alloc_line = NULL;
  r->nslots = 0;
}

/* arr (`old` entries of `size` bytes) grown to `cap` entries, the new
 * ones zeroed; NULL when memory ran out (arr is then unchanged). */
static void *grow_zeroed(void *arr, size_t old, size_t cap, size_t size) {
  char *grown = realloc(arr, cap * size);
  if (grown != NULL)
    memset(grown + old * size, 0, (cap - old) * size);
  return grown;
}

int ar__replayer_reserve(ar__replayer_t *r, size_t nslots) {
  if (nslots <= r->nslots)
    return AR_OK;
  size_t cap = r->nslots;
  while (cap < nslots)
    cap = cap > SIZE_MAX / 32 ? nslots : cap * 2;
  uint64_t *payload = grow_zeroed(r->payload, r->nslots, cap, sizeof *payload);
  if (payload == NULL)
    return AR_ENOMEM;
  r->payload = payload; /* longer than nslots says until both have grown */
  if (r->alloc_op != NULL) {
    size_t *alloc_op =
        grow_zeroed(r->alloc_op, r->nslots, cap, sizeof *alloc_op);
    if (alloc_op == NULL)
      return AR_ENOMEM;
    r->alloc_op = alloc_op;
    uint64_t *alloc_line =
        grow_zeroed(r->alloc_line, r->nslots, cap, sizeof *alloc_line);
    if (alloc_line == NULL)
      return AR_ENOMEM;
    r->alloc_line = alloc_line;
  }
  r->nslots = cap;
  return AR_OK;
}

/* The loop: ops[0..n) are operations first..first+n-1. `track` is a
 * constant in each caller, so each gets its own copy of the loop. The
 * counts are kept in locals while it runs. */
static inline __attribute__((always_inline)) int
replay_ops(ar__replayer_t *r, const ar_trace_op_t *ops, size_t n, size_t first,
           bool track) {
  ar_engine_t *e = r->e;
  uint64_t *payload = r->payload;
  uint64_t failed = 0, frees = 0, skipped = 0;
  ar__stop_t why = AR__STOP_NONE;
  int rc = AR_OK;
  size_t k;
  for (k = 0; k < n; k++) {
    const ar_trace_op_t *op = &ops[k];
    if (op->kind == AR_TRACE_FREE) {
      if (op->slot == AR_TRACE_NO_SLOT || payload[op->slot] == 0) {
        skipped++;
        continue;
      }
      if ((rc = ar_engine_free(e, payload[op->slot], NULL, NULL)) < 0) {
        why = AR__STOP_FREE;
        break;
      }
      payload[op->slot] = 0;
      frees++;
      continue;
    }

    if (payload[op->slot] != 0) {
      why = AR__STOP_LIVE_ID;
      break;
    }
    ar_block_t blk;
    int64_t offset = -1;
    rc = ar_engine_alloc(e, op->n, AR_ALIGN_MIN, &blk);
    if (rc == AR_OK) {
      payload[op->slot] = blk.payload;
      if (track)
        r->alloc_op[op->slot] = first + k;
      offset = (int64_t)blk.payload;
    } else if (rc == AR_ENOMEM) {
      failed++;
    } else {
      why = AR__STOP_ALLOC;
      break;
    }
    if (r->log != NULL &&
        (rc = log_line(r->log, r->log_arg, op, first + k, offset)) < 0) {
      why = AR__STOP_LOG;
      break;
    }
  }
  r->failed += failed;
  r->frees += frees;
  r->skipped += skipped;
  if (why == AR__STOP_NONE)
    return AR_OK;
  r->stop = why;
  r->stop_op = first + k;
  r->stop_rc = rc;
  return why == AR__STOP_LIVE_ID ? AR_EINVAL
         : why == AR__STOP_LOG   ? rc
                                 : AR_EINTERNAL;
}

int ar__replay_window(ar__replayer_t *r, const ar_trace_op_t *ops, size_t n,
                      size_t first) {
  return replay_ops(r, ops, n, first, true);
}

bool ar__replay_stops_at(ar__replayer_t *r, const ar_trace_op_t *op, size_t i) {
  if (op->kind != AR_TRACE_ALLOC || r->payload[op->slot] == 0)
    return false;
  r->stop = AR__STOP_LIVE_ID;
  r->stop_op = i;
  r->stop_rc = AR_EINVAL;
  return true;
}

void ar__replay_note_lines(ar__replayer_t *r,
                           uint64_t (*line)(const void *src, size_t i),
                           const void *src) {
  for (size_t s = 0; s < r->nslots; s++)
    if (r->payload[s] != 0 && r->alloc_op[s] != AR__OP_NOTED) {
      r->alloc_line[s] = line(src, r->alloc_op[s]);
      r->alloc_op[s] = AR__OP_NOTED;
    }
}

int ar__replay_explain(const ar__replayer_t *r, const ar_trace_op_t *op,
                       uint64_t (*line)(const void *src, size_t i),
                       const void *src, ar_trace_error_t *err) {
  uint64_t at = line(src, r->stop_op);
  const char *policy = ar_policy_name(ar_engine_policy(r->e));
  switch (r->stop) {
  case AR__STOP_LIVE_ID: { /* without alloc_op, ar_replay_live_id searches */
    uint64_t live = 0;
    if (r->alloc_op != NULL)
      live = r->alloc_op[op->slot] == AR__OP_NOTED
                 ? r->alloc_line[op->slot]
                 : line(src, r->alloc_op[op->slot]);
    return live_id_fail(err, at, op->id, live);
  }
  case AR__STOP_FREE:
    return ar__trace_fail(err, AR_EINTERNAL, at,
                          "the %s engine refused to free its block at %llu"
                          " (%s)",
                          policy, (unsigned long long)r->payload[op->slot],
                          ar_strerror(r->stop_rc));
  case AR__STOP_ALLOC:
    return ar__trace_fail(err, AR_EINTERNAL, at,
                          "the %s engine failed to allocate %llu bytes (%s)",
                          policy, (unsigned long long)op->n,
                          ar_strerror(r->stop_rc));
  case AR__STOP_LOG:
    ar__trace_fail(err, r->stop_rc, at, "the replay log stopped (%s)",
                   ar_strerror(r->stop_rc));
    return r->stop_rc;
  case AR__STOP_NONE:
    break;
  }
  return ar__trace_fail(err, AR_EINTERNAL, at, "the replay stopped");
}

/* ---- a whole trace ------------------------------------------------ */

static uint64_t trace_line(const void *t, size_t i) {
  return ar_trace_line(t, i);
}

int ar_replay_run(const ar_trace_t *t, ar_engine_t *e, ar_replay_log_fn log,
                  void *log_arg, ar_replay_summary_t *sum,
                  ar_trace_error_t *err) {
  if (t == NULL || e == NULL)
    return ar__trace_fail(err, AR_EINVAL, 0, "no trace or no engine");

  ar__replayer_t r;
  if (ar__replayer_init(&r, e, t->info.nslots, false, log, log_arg) < 0)
    return ar__trace_fail(err, AR_ENOMEM, 0, "out of memory for %u slots",
                          (unsigned)t->info.nslots);
  int rc = replay_ops(&r, t->ops, t->info.nops, 0, false);
  if (rc < 0) {
    const ar_trace_op_t *op = &t->ops[r.stop_op];
    rc = r.stop == AR__STOP_LIVE_ID
             ? ar_replay_live_id(t, r.stop_op, err)
             : ar__replay_explain(&r, op, trace_line, t, err);
  } else {
    if (sum != NULL)
      ar__replay_summary(&r, &t->info, sum);
    ar__trace_ok(err);
  }
  ar__replayer_fini(&r);
  return rc;
}
