/*
 * test_engine_traces.c: the four public traces of real programs
 * (tests/data/), replayed with every policy on the engine and on the
 * reference implementation of the placement model side by side, with the
 * arena at 256 MiB and again at 16 MiB (where some allocations fail). Every
 * placement, every failure and every free must agree, and so must the
 * final statistics; the engine's integrity check runs at the end of each
 * replay and at a few points on the way.
 *
 * The sanitizer build (AR_TRACES_MAX_OPS) replays only the start of each
 * trace: the whole replays check placement, which the sanitizers do not
 * change, and would take several minutes under them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "ar/engine.h"
#include "ar/error.h"
#include "ar/trace.h"
#include "reference.h"
#include "test_data.h"

#define CHECKPOINTS 8 /* integrity checks during a replay, besides the end */

#ifndef AR_TRACES_MAX_OPS
#define AR_TRACES_MAX_OPS SIZE_MAX
#endif

static ar_trace_t *load(const char *name) {
  char path[4096];
  snprintf(path, sizeof(path), "%s/%s.trace.gz", ar_test_data_dir(), name);
  ar_trace_t *t = NULL;
  ar_trace_error_t err;
  int rc = ar_trace_load(path, &t, &err);
  if (rc != 0)
    fail_msg("cannot load %s: %s", path, err.msg);
  return t;
}

static void assert_check(const ar_engine_t *e, const char *what) {
  ar_check_report_t report;
  if (ar_engine_check(e, &report) != 0)
    fail_msg("%s: integrity check failed: %s at %llu: %s", what,
             report.invariant, (unsigned long long)report.offset,
             report.detail);
}

/* Replays trace t on engine and reference at once; fails on the first
 * difference, naming the trace line. */
static void replay_both(const ar_trace_t *t, ar_policy_t policy,
                        uint64_t size, const char *name) {
  ar_engine_t *e;
  ar_ref_t *r;
  assert_int_equal(ar_engine_create(policy, size, NULL, &e), 0);
  assert_int_equal(ar_ref_create(policy, size, &r), 0);
  ar_trace_info_t info;
  ar_trace_info(t, &info);
  const ar_trace_op_t *ops = ar_trace_ops(t);
  /* The payload of each slot's live block, or UINT64_MAX. */
  uint64_t *live = malloc((info.nslots ? info.nslots : 1) * sizeof(*live));
  assert_non_null(live);
  for (uint32_t i = 0; i < info.nslots; i++)
    live[i] = UINT64_MAX;
  uint64_t failed = 0;
  size_t nops = info.nops < AR_TRACES_MAX_OPS ? info.nops : AR_TRACES_MAX_OPS;
  size_t every = nops / CHECKPOINTS + 1;
  for (size_t i = 0; i < nops; i++) {
    const ar_trace_op_t *op = &ops[i];
    if (op->kind == AR_TRACE_ALLOC) {
      ar_block_t be = {0}, br = {0};
      int rc_e = ar_engine_alloc(e, op->n, AR_ALIGN_MIN, &be);
      int rc_r = ar_ref_alloc(r, op->n, AR_ALIGN_MIN, &br);
      if (rc_e != rc_r || (rc_e == 0 && be.payload != br.payload))
        fail_msg("%s, %s, arena %llu, line %llu (a %lld %llu): engine %s "
                 "%llu, reference %s %llu",
                 name, ar_policy_name(policy), (unsigned long long)size,
                 (unsigned long long)ar_trace_line(t, i), (long long)op->id,
                 (unsigned long long)op->n, ar_err_name(rc_e),
                 (unsigned long long)be.payload, ar_err_name(rc_r),
                 (unsigned long long)br.payload);
      assert_true(live[op->slot] == UINT64_MAX); /* the traces are valid */
      if (rc_e == 0)
        live[op->slot] = be.payload;
      else
        failed++;
    } else if (op->slot != AR_TRACE_NO_SLOT && live[op->slot] != UINT64_MAX) {
      ar_block_t be, br;
      assert_int_equal(ar_engine_free(e, live[op->slot], &be, NULL), 0);
      assert_int_equal(ar_ref_free(r, live[op->slot], &br), 0);
      assert_true(be.start == br.start && be.size == br.size);
      live[op->slot] = UINT64_MAX;
    }
    if (i % every == every - 1)
      assert_check(e, name);
  }
  assert_check(e, name);
  ar_engine_stats_t se, sr;
  ar_engine_stats(e, &se);
  ar_ref_stats(r, &sr);
  assert_int_equal(se.failed_allocs, failed);
  assert_int_equal(se.failed_allocs, sr.failed_allocs);
  assert_int_equal(se.live_blocks, sr.live_blocks);
  assert_int_equal(se.used_bytes, sr.used_bytes);
  assert_int_equal(se.free_extents, sr.free_extents);
  assert_int_equal(se.largest_free, sr.largest_free);
  assert_int_equal(se.hwm, sr.hwm);
  assert_int_equal(se.peak_used, sr.peak_used);
  assert_int_equal(se.peak_requested, sr.peak_requested);
  free(live);
  ar_ref_destroy(r);
  ar_engine_destroy(e);
}

static void replay_trace(const char *name) {
  static const uint64_t sizes[] = {UINT64_C(256) << 20, UINT64_C(16) << 20};
  ar_trace_t *t = load(name);
  for (int p = 0; p < AR_POLICY_COUNT; p++)
    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++)
      replay_both(t, (ar_policy_t)p, sizes[s], name);
  ar_trace_destroy(t);
}

static void test_python3(void **state) {
  (void)state;
  replay_trace("python3-compileall-email");
}

static void test_git(void **state) {
  (void)state;
  replay_trace("git-gc-perllib");
}

static void test_sqlite3(void **state) {
  (void)state;
  replay_trace("sqlite3-shop");
}

static void test_troff(void **state) {
  (void)state;
  replay_trace("troff-bash-manpage");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_python3),
      cmocka_unit_test(test_git),
      cmocka_unit_test(test_sqlite3),
      cmocka_unit_test(test_troff),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
