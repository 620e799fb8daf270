/*
 * replay.c: runs a parsed trace on a policy engine and computes the
 * summary of the placement model. This is where the liveness of ids is
 * decided, because only here is it known whether an allocation succeeded:
 * a slot holds the payload offset of its live block, or 0 when it holds
 * none (a payload is never at 0: it follows a 16-byte header). The replay
 * prints nothing; each log line goes to the caller's callback.
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

int ar_replay_live_id(const ar_trace_t *t, size_t i, ar_trace_error_t *err) {
  return ar__trace_fail(err, AR_EINVAL, ar_trace_line(t, i),
                        "'a' of id %lld, which is still live (allocated "
                        "at line %llu): invalid trace",
                        (long long)ar_trace_ops(t)[i].id,
                        (unsigned long long)live_alloc_line(t, i));
}

static double ratio_minus_one(uint64_t num, uint64_t den) {
  return den == 0 ? 0.0 : (double)num / (double)den - 1.0;
}

void ar_replay_summarize(const ar_trace_t *t, const ar_engine_stats_t *st,
                         uint64_t failed, uint64_t frees, uint64_t skipped,
                         ar_replay_summary_t *sum) {
  memset(sum, 0, sizeof *sum);
  sum->policy = st->policy;
  sum->arena_size = st->size;
  sum->operations = t->info.nops;
  sum->allocations = t->info.nallocs;
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

int ar_replay_run(const ar_trace_t *t, ar_engine_t *e, ar_replay_log_fn log,
                  void *log_arg, ar_replay_summary_t *sum,
                  ar_trace_error_t *err) {
  if (t == NULL || e == NULL)
    return ar__trace_fail(err, AR_EINVAL, 0, "no trace or no engine");

  /* payload[slot]: the live block's payload offset, 0 for none. Owned
   * here, freed before returning. */
  uint32_t nslots = t->info.nslots;
  uint64_t *payload = calloc(nslots ? nslots : 1, sizeof *payload);
  if (payload == NULL)
    return ar__trace_fail(err, AR_ENOMEM, 0, "out of memory for %u slots",
                          (unsigned)nslots);

  uint64_t failed = 0, frees = 0, skipped = 0;
  int rc = AR_OK;
  const ar_trace_op_t *ops = t->ops;
  size_t nops = t->info.nops;
  for (size_t i = 0; i < nops; i++) {
    const ar_trace_op_t *op = &ops[i];
    if (op->kind == AR_TRACE_FREE) {
      if (op->slot == AR_TRACE_NO_SLOT || payload[op->slot] == 0) {
        skipped++;
        continue;
      }
      rc = ar_engine_free(e, payload[op->slot], NULL, NULL);
      if (rc < 0) {
        rc = ar__trace_fail(err, AR_EINTERNAL, ar_trace_line(t, i),
                            "the %s engine refused to free its block at %llu"
                            " (%s)",
                            ar_policy_name(ar_engine_policy(e)),
                            (unsigned long long)payload[op->slot],
                            ar_strerror(rc));
        break;
      }
      payload[op->slot] = 0;
      frees++;
      continue;
    }

    if (payload[op->slot] != 0) {
      rc = ar_replay_live_id(t, i, err);
      break;
    }
    ar_block_t blk;
    int64_t offset = -1;
    rc = ar_engine_alloc(e, op->n, AR_ALIGN_MIN, &blk);
    if (rc == AR_OK) {
      payload[op->slot] = blk.payload;
      offset = (int64_t)blk.payload;
    } else if (rc == AR_ENOMEM) {
      failed++;
      rc = AR_OK;
    } else {
      rc = ar__trace_fail(err, AR_EINTERNAL, ar_trace_line(t, i),
                          "the %s engine failed to allocate %llu bytes (%s)",
                          ar_policy_name(ar_engine_policy(e)),
                          (unsigned long long)op->n, ar_strerror(rc));
      break;
    }
    if (log != NULL) {
      rc = log_line(log, log_arg, op, i, offset);
      if (rc < 0) {
        ar__trace_fail(err, rc, ar_trace_line(t, i), "the replay log stopped (%s)",
                       ar_strerror(rc));
        break;
      }
    }
  }
  free(payload);
  if (rc < 0)
    return rc;
  if (sum != NULL) {
    ar_engine_stats_t st;
    ar_engine_stats(e, &st);
    ar_replay_summarize(t, &st, failed, frees, skipped, sum);
  }
  ar__trace_ok(err);
  return AR_OK;
}
