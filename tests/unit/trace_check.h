/*
 * trace_check.h: what the trace parser's, loader's and replay's tests
 * share: parsing a text that must be valid, a trace's counts, comparing
 * two traces op by op, and a fresh engine to replay on. Header only;
 * include after cmocka.h.
 */
#ifndef AR_TESTS_TRACE_CHECK_H
#define AR_TESTS_TRACE_CHECK_H

#include <string.h>

#include "ar/engine.h"
#include "ar/error.h"
#include "ar/trace.h"

/* A fresh engine without memory, which must be created; the caller
 * destroys it. */
static inline ar_engine_t *new_engine(ar_policy_t policy, uint64_t size) {
  ar_engine_t *e = NULL;
  int rc = ar_engine_create(policy, size, NULL, &e);
  if (rc != AR_OK)
    fail_msg("ar_engine_create(%s, %llu) = %s", ar_policy_name(policy),
             (unsigned long long)size, ar_strerror(rc));
  return e;
}

/* Parses a NUL-terminated text that must be valid; the caller destroys. */
static inline ar_trace_t *parse_ok(const char *text) {
  ar_trace_t *t = NULL;
  ar_trace_error_t err;
  int rc = ar_trace_parse(text, strlen(text), &t, &err);
  if (rc != AR_OK)
    fail_msg("parse failed with %s: %s\n--- text:\n%s", ar_err_name(rc),
             err.msg, text);
  assert_non_null(t);
  assert_int_equal(err.line, 0);
  assert_string_equal(err.msg, "");
  return t;
}

static inline ar_trace_info_t info_of(const ar_trace_t *t) {
  ar_trace_info_t info;
  ar_trace_info(t, &info);
  return info;
}

static inline void assert_same_trace(const ar_trace_t *a, const ar_trace_t *b) {
  assert_int_equal(info_of(a).nops, info_of(b).nops);
  assert_int_equal(info_of(a).nallocs, info_of(b).nallocs);
  assert_int_equal(info_of(a).nfrees, info_of(b).nfrees);
  assert_int_equal(info_of(a).nslots, info_of(b).nslots);
  assert_int_equal(info_of(a).nlines, info_of(b).nlines);
  for (size_t i = 0; i < info_of(a).nops; i++) {
    const ar_trace_op_t *x = &ar_trace_ops(a)[i], *y = &ar_trace_ops(b)[i];
    if (x->kind != y->kind || x->id != y->id || x->n != y->n ||
        x->slot != y->slot || ar_trace_line(a, i) != ar_trace_line(b, i))
      fail_msg("op %zu differs (line %llu vs %llu)", i,
               (unsigned long long)ar_trace_line(a, i),
               (unsigned long long)ar_trace_line(b, i));
  }
}

#endif /* AR_TESTS_TRACE_CHECK_H */
