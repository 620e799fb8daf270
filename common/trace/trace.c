/*
 * trace.c: the trace object's accessors and destructor. The operations are
 * kept small for the replay's sake (no line number each): a trace line is
 * recovered from the short list of runs of blank and comment lines.
 */
#include <stdlib.h>
#include <string.h>

#include "trace_internal.h"

void ar_trace_info(const ar_trace_t *t, ar_trace_info_t *out) {
  *out = t->info;
}

const ar_trace_op_t *ar_trace_ops(const ar_trace_t *t) { return t->ops; }

uint64_t ar__gap_line(const ar__gap_t *gaps, size_t ngaps, size_t i) {
  /* the last gap whose op <= i */
  size_t lo = 0, hi = ngaps; /* gaps[lo..hi) to search */
  uint64_t skipped = 0;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (gaps[mid].op <= i) {
      skipped = gaps[mid].skipped;
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return (uint64_t)i + 1 + skipped;
}

uint64_t ar_trace_line(const ar_trace_t *t, size_t i) {
  if (t == NULL || i >= t->info.nops)
    return 0;
  return ar__gap_line(t->gaps, t->ngaps, i);
}

void ar_trace_destroy(ar_trace_t *t) {
  if (t == NULL)
    return;
  ar__big_free(t->ops, t->ops_bytes);
  free(t->gaps);
  free(t);
}
