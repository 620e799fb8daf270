/*
 * test_replay.c: the replay driver on small traces whose offsets and
 * summary figures are worked out by hand from the placement model (the
 * working is in the comments), and on the public traces, whose headers
 * give the counts and the peak of live bytes. Also: an `a` of a live id
 * stops the replay naming both lines, an `a` of an id whose allocation
 * failed is fine, skipped frees are counted, ids are logged canonically,
 * a log callback can stop the replay, and the memory peak is the
 * engine's.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ar/engine.h"
#include "ar/error.h"
#include "ar/trace.h"
#include "test_data.h"
#include "trace_check.h"

/* ---- helpers ---------------------------------------------------------- */

/* The replay log, collected in memory. */
typedef struct log_s {
  char text[4096];
  size_t len;
  size_t lines;
  size_t stop_at; /* return AR_EIO on this line (1-based); 0: never */
} log_t;

static int collect(void *arg, const ar_replay_line_t *ln) {
  log_t *lg = arg;
  lg->lines++;
  assert_int_equal(strlen(ln->text), ln->len);
  assert_true(lg->len + ln->len < sizeof lg->text);
  memcpy(lg->text + lg->len, ln->text, ln->len + 1);
  lg->len += ln->len;
  if (lg->stop_at != 0 && lg->lines == lg->stop_at)
    return AR_EIO;
  return AR_OK;
}

static ar_trace_t *parse(const char *text) {
  ar_trace_t *t = NULL;
  ar_trace_error_t err;
  int rc = ar_trace_parse(text, strlen(text), &t, &err);
  if (rc != AR_OK)
    fail_msg("parse: %s", err.msg);
  return t;
}

/* Replays text on a fresh engine; the replay must succeed. */
static void replay_ok(const char *text, ar_policy_t policy, uint64_t size,
                      log_t *lg, ar_replay_summary_t *sum) {
  ar_trace_t *t = parse(text);
  ar_engine_t *e = new_engine(policy, size);
  ar_trace_error_t err;
  memset(lg, 0, sizeof *lg);
  int rc = ar_replay_run(t, e, collect, lg, sum, &err);
  if (rc != AR_OK)
    fail_msg("replay on %s: %s (%s)", ar_policy_name(policy), err.msg,
             ar_err_name(rc));
  assert_int_equal(err.line, 0);
  ar_check_report_t report;
  if (ar_engine_check(e, &report) != AR_OK)
    fail_msg("engine check after replay: %s", report.detail);
  ar_engine_destroy(e);
  ar_trace_destroy(t);
}

static void assert_near(double got, double want) {
  if (!(got >= want - 1e-9 && got <= want + 1e-9)) /* NaN fails too */
    fail_msg("got %.12f, want %.12f", got, want);
}

/* ---- a hand-worked trace: counts and summary ---------------------------- */

/*
 * Arena 4096. b(n) = round_up(n + 16, 16); the payload is block start + 16.
 *
 * first fit:
 *   a 1 10    b 32   [0,32)      -> 16     free [32,4096)
 *   a 2 100   b 128  [32,160)    -> 48     free [160,4096)
 *   a 3 20    b 48   [160,208)   -> 176    free [208,4096)
 *   f 2                                    free [32,160) [208,4096)
 *   a 4 50    b 80   [32,112)    -> 48     free [112,160) [208,4096)
 *   f 9       never allocated: skipped
 *   a 5 5000  b 5024 > 4096      -> -1     (failed; changes nothing)
 *   a 5 40    b 64   [208,272)   -> 224    ([112,160) is only 48)
 *   f 5                                    free [112,160) [208,4096)
 *   f 5       already freed: skipped
 *   f 1                                    free [0,32) [112,160) [208,4096)
 * live sums of n:  10 110 130 | 30 80 | 120 | 80 | 70: peak_live 130
 * live sums of b:  32 160 208 | 80 160 | 224 | 160 | 128: peak_blocks 224
 * hwm 272 (the block of id 5). At the end: live 3 and 4 (48 + 80 bytes),
 * free 3968 bytes in 3 intervals, the largest [208,4096) = 3888.
 *
 * buddy (K = 12):
 *   a 1 10    b 32 k5   split 4096 down: free 32,64,128,...,2048 -> 16
 *   a 2 100   b 128 k7  the free order-7 block at 128             -> 144
 *   a 3 20    b 48 k6   the free order-6 block at 64              -> 80
 *   f 2       128 (k7): buddy 0 is not free; free k7 {128}
 *   a 4 50    b 80 k7   128 again                                 -> 144
 *   f 9       skipped
 *   a 5 5000  fails                                               -> -1
 *   a 5 40    b 64 k6   none of k6, k7; k8 {256}: split, free k7 {384},
 *                       k6 {320}; block [256,320)                 -> 272
 *   f 5       256 k6 + buddy 320 -> 256 k7 + buddy 384 -> 256 k8 (buddy
 *             0 is not free): free k8 {256}
 *   f 5       skipped
 *   f 1       0 k5 + buddy 32 -> 0 k6 (buddy 64 is live): free k6 {0}
 * live sums of 2^k: 32 160 224 | 96 224 | 288 | 224 | 192: peak_blocks 288
 * hwm 320. Free at the end: k6 {0}, k8 {256}, k9, k10, k11: 5 blocks,
 * 64 + 256 + 512 + 1024 + 2048 = 3904 bytes, the largest 2048.
 */
static const char trace1[] = "# a hand-worked trace\n"
                             "a 1 10\n"
                             "a 2 100\n"
                             "a 3 20\n"
                             "f 2\n"
                             "a 4 50\n"
                             "f 9\n"
                             "a 5 5000\n"
                             "a 5 40\n"
                             "f 5\n"
                             "f 5\n"
                             "f 1\n";

static void test_first_fit_summary(void **state) {
  (void)state;
  log_t lg;
  ar_replay_summary_t s;
  replay_ok(trace1, AR_POLICY_FIRST, 4096, &lg, &s);
  assert_string_equal(lg.text, "1 16\n2 48\n3 176\n4 48\n5 -1\n5 224\n");
  assert_int_equal(s.policy, AR_POLICY_FIRST);
  assert_int_equal(s.arena_size, 4096);
  assert_int_equal(s.operations, 11);
  assert_int_equal(s.allocations, 6);
  assert_int_equal(s.failed_allocs, 1);
  assert_int_equal(s.frees, 3);
  assert_int_equal(s.skipped_frees, 2);
  assert_int_equal(s.hwm, 272);
  assert_int_equal(s.peak_live, 130);
  assert_int_equal(s.peak_blocks, 224);
  assert_int_equal(s.live_blocks, 2);
  assert_int_equal(s.free_bytes, 3968);
  assert_int_equal(s.free_intervals, 3);
  assert_int_equal(s.largest_free, 3888);
  assert_near(s.frag_hwm_live, 272.0 / 130.0 - 1.0);
  assert_near(s.frag_hwm_blocks, 272.0 / 224.0 - 1.0);
  assert_near(s.frag_blocks_live, 224.0 / 130.0 - 1.0);
}

static void test_buddy_summary(void **state) {
  (void)state;
  log_t lg;
  ar_replay_summary_t s;
  replay_ok(trace1, AR_POLICY_BUDDY, 4096, &lg, &s);
  assert_string_equal(lg.text, "1 16\n2 144\n3 80\n4 144\n5 -1\n5 272\n");
  assert_int_equal(s.policy, AR_POLICY_BUDDY);
  assert_int_equal(s.operations, 11);
  assert_int_equal(s.allocations, 6);
  assert_int_equal(s.failed_allocs, 1);
  assert_int_equal(s.frees, 3);
  assert_int_equal(s.skipped_frees, 2);
  assert_int_equal(s.hwm, 320);
  assert_int_equal(s.peak_live, 130);
  assert_int_equal(s.peak_blocks, 288);
  assert_int_equal(s.live_blocks, 2);
  assert_int_equal(s.free_bytes, 3904);
  assert_int_equal(s.free_intervals, 5);
  assert_int_equal(s.largest_free, 2048);
  assert_near(s.frag_hwm_live, 320.0 / 130.0 - 1.0);
  assert_near(s.frag_hwm_blocks, 320.0 / 288.0 - 1.0);
  assert_near(s.frag_blocks_live, 288.0 / 130.0 - 1.0);
}

/* ---- a trace on which the policies part ways ----------------------------- */

/*
 * Arena 4096. The first five allocations go end to end for every list
 * policy: 1 [0,32) 2 [32,160) 3 [160,192) 4 [192,256) 5 [256,288), and the
 * next-fit rover ends at 288. Freeing 2 and 4 leaves free [32,160) (128),
 * [192,256) (64) and [288,4096) (3808).
 *
 *   a 6 30 (b 48):   first [32,80) 48; best [192,240) 208; worst and next
 *                    [288,336) 304 (next: the first interval with e > 288;
 *                    rover 336)
 *   a 7 100 (b 128): first: free [80,160) [192,256) [288,4096): 304.
 *                    best: [32,160) fits exactly: 48. worst and next:
 *                    [336,464) 352 (rover 464).
 *   f 1, then a 8 10 (b 32): first [0,32) 16; best [0,32), the smallest
 *                    that fits: 16; worst: [0,32) merged into [0,160), but
 *                    [464,4096) is larger: 480; next: 480 (rover 496).
 *   a 9 3580 (b 3600): first: free [80,160) [192,256) [416,4096): 432.
 *                    best: free [240,256) [288,4096): 304. worst: free
 *                    [0,160) [192,256) [496,4096) (3600 exactly): 512;
 *                    next: the same, and the rover reaches 4096.
 *   a 10 16 (b 32):  first [80,112) 96; best: free [240,256) [3888,4096):
 *                    3904; worst: [0,160) 16; next: no interval ends after
 *                    4096, so it wraps to the lowest that fits: 16.
 * hwm: first 4016, best 3920, worst and next 4096.
 *
 * buddy: 1 [0,32) 16 (free 32 64 128 256 ... 2048); 2 k7 [128,256) 144;
 * 3 k5 [32,64) 48; 4 k6 [64,128) 80; 5 k5: split 256 -> [256,288) 272,
 * free k5 {288} k6 {320} k7 {384}. f 2: free k7 {128, 384}; f 4: free k6
 * {64, 320}. 6 (b 48, k6) 64 -> 80; 7 (k7) 128 -> 144; f 1: free k5
 * {0, 288}; 8 (k5) 0 -> 16; 9 (b 3600, k12) nothing that large: -1;
 * 10 (k5) 288 -> 304. hwm 320.
 */
static const char trace2[] = "a 1 16\na 2 112\na 3 16\na 4 48\na 5 16\n"
                             "f 2\nf 4\n"
                             "a 6 30\na 7 100\nf 1\na 8 10\na 9 3580\n"
                             "a 10 16\n";

static void test_policies_part_ways(void **state) {
  (void)state;
  static const struct {
    ar_policy_t policy;
    const char *log;
    uint64_t hwm;
  } want[] = {
      {AR_POLICY_FIRST,
       "1 16\n2 48\n3 176\n4 208\n5 272\n6 48\n7 304\n8 16\n9 432\n10 96\n",
       4016},
      {AR_POLICY_BEST,
       "1 16\n2 48\n3 176\n4 208\n5 272\n6 208\n7 48\n8 16\n9 304\n10 3904\n",
       3920},
      {AR_POLICY_WORST,
       "1 16\n2 48\n3 176\n4 208\n5 272\n6 304\n7 352\n8 480\n9 512\n10 16\n",
       4096},
      {AR_POLICY_NEXT,
       "1 16\n2 48\n3 176\n4 208\n5 272\n6 304\n7 352\n8 480\n9 512\n10 16\n",
       4096},
      {AR_POLICY_BUDDY,
       "1 16\n2 144\n3 48\n4 80\n5 272\n6 80\n7 144\n8 16\n9 -1\n10 304\n",
       320},
  };
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
    log_t lg;
    ar_replay_summary_t s;
    replay_ok(trace2, want[i].policy, 4096, &lg, &s);
    if (strcmp(lg.text, want[i].log) != 0)
      fail_msg("%s: log\n%s\nwant\n%s", ar_policy_name(want[i].policy),
               lg.text, want[i].log);
    assert_int_equal(s.hwm, want[i].hwm);
    assert_int_equal(s.failed_allocs,
                     want[i].policy == AR_POLICY_BUDDY ? 1 : 0);
    assert_int_equal(s.skipped_frees, 0);
  }
}

/* ---- liveness ------------------------------------------------------------ */

static void test_live_id_rejected(void **state) {
  (void)state;
  ar_trace_t *t = parse("# header\n"
                        "a 1 10\n"   /* line 2 */
                        "a 2 10\n"   /* line 3 */
                        "\n"
                        "f 2\n"      /* line 5 */
                        "a 2 10\n"   /* line 6: fine, 2 was freed */
                        "a 1 20\n"); /* line 7: 1 is live */
  ar_engine_t *e = new_engine(AR_POLICY_FIRST, 4096);
  ar_trace_error_t err;
  log_t lg = {0};
  ar_replay_summary_t s;
  memset(&s, 0x5a, sizeof s);
  int rc = ar_replay_run(t, e, collect, &lg, &s, &err);
  assert_int_equal(rc, AR_EINVAL);
  assert_int_equal(err.line, 7);
  if (strncmp(err.msg, "line 7: ", 8) != 0 ||
      strstr(err.msg, "id 1") == NULL ||
      strstr(err.msg, "allocated at line 2") == NULL)
    fail_msg("message: %s", err.msg);
  /* it stopped there: three log lines, the engine holds 1 and 2 */
  assert_int_equal(lg.lines, 3);
  ar_engine_stats_t st;
  ar_engine_stats(e, &st);
  assert_int_equal(st.live_blocks, 2);
  ar_engine_destroy(e);
  ar_trace_destroy(t);

  /* the same id allocated twice in a row */
  t = parse("a -5 1\na -5 1\n");
  e = new_engine(AR_POLICY_BUDDY, 4096);
  rc = ar_replay_run(t, e, NULL, NULL, NULL, &err);
  assert_int_equal(rc, AR_EINVAL);
  assert_int_equal(err.line, 2);
  assert_non_null(strstr(err.msg, "id -5"));
  ar_engine_destroy(e);
  ar_trace_destroy(t);
}

/* An id whose allocation failed is not live: allocating it again is fine,
 * freeing it is a skipped free. */
static void test_failed_then_reused(void **state) {
  (void)state;
  log_t lg;
  ar_replay_summary_t s;
  replay_ok("a 7 5000\n" /* fails: b 5024 > 4096 */
            "f 7\n"      /* skipped: 7 is not live */
            "a 7 4000\n" /* b 4016 at 0: fine, 7 was not live */
            "a 8 100\n"  /* b 128, only [4016,4096) = 80 left: fails */
            "a 8 16\n"   /* b 32 at 4016: fine */
            "f 7\n"      /* frees [0,4016) */
            "f 7\n"      /* skipped */
            "f 8\n",     /* frees [4016,4048): all merges back */
            AR_POLICY_FIRST, 4096, &lg, &s);
  assert_string_equal(lg.text, "7 -1\n7 16\n8 -1\n8 4032\n");
  assert_int_equal(s.operations, 8);
  assert_int_equal(s.allocations, 4);
  assert_int_equal(s.failed_allocs, 2);
  assert_int_equal(s.frees, 2);
  assert_int_equal(s.skipped_frees, 2);
  assert_int_equal(s.hwm, 4048);
  assert_int_equal(s.peak_live, 4016);
  assert_int_equal(s.peak_blocks, 4048);
  assert_int_equal(s.live_blocks, 0);
  assert_int_equal(s.free_bytes, 4096);
  assert_int_equal(s.free_intervals, 1);
  assert_int_equal(s.largest_free, 4096);
}

static void test_skipped_frees(void **state) {
  (void)state;
  log_t lg;
  ar_replay_summary_t s;
  replay_ok("f 1\nf -1\na 1 1\nf 1\nf 1\nf 1\na 2 1\nf 3\n",
            AR_POLICY_NEXT, 4096, &lg, &s);
  assert_int_equal(s.operations, 8);
  assert_int_equal(s.allocations, 2);
  assert_int_equal(s.frees, 1);
  assert_int_equal(s.skipped_frees, 5);
  assert_int_equal(s.failed_allocs, 0);
  assert_int_equal(s.live_blocks, 1);
  /* next fit: 1 at [0,32), rover 32; freeing it merges everything back
   * into [0,4096), which ends after the rover: 2 goes to its low end */
  assert_string_equal(lg.text, "1 16\n2 16\n");
}

/* ---- the log ------------------------------------------------------------- */

static void test_canonical_ids(void **state) {
  (void)state;
  log_t lg;
  ar_replay_summary_t s;
  replay_ok("a -0 1\na +5 1\na 007 16\na -9223372036854775808 1\n"
            "a 9223372036854775807 1\na -000123 1\n",
            AR_POLICY_FIRST, 4096, &lg, &s);
  assert_string_equal(lg.text, "0 16\n5 48\n7 80\n-9223372036854775808 112\n"
                               "9223372036854775807 144\n-123 176\n");
}

static void test_log_can_stop(void **state) {
  (void)state;
  ar_trace_t *t = parse("a 1 1\na 2 1\na 3 1\na 4 1\n");
  ar_engine_t *e = new_engine(AR_POLICY_WORST, 8192);
  log_t lg = {.stop_at = 2};
  ar_trace_error_t err;
  int rc = ar_replay_run(t, e, collect, &lg, NULL, &err);
  assert_int_equal(rc, AR_EIO);
  assert_int_equal(lg.lines, 2);
  assert_int_equal(err.line, 2);
  ar_engine_destroy(e);
  ar_trace_destroy(t);
}

static void test_empty_trace(void **state) {
  (void)state;
  log_t lg;
  ar_replay_summary_t s;
  replay_ok("# nothing\n", AR_POLICY_BEST, 4096, &lg, &s);
  assert_int_equal(lg.lines, 0);
  assert_int_equal(s.operations, 0);
  assert_int_equal(s.hwm, 0);
  assert_int_equal(s.free_bytes, 4096);
  /* no allocation: the figures are 0, not NaN */
  assert_near(s.frag_hwm_live, 0.0);
  assert_near(s.frag_hwm_blocks, 0.0);
  assert_near(s.frag_blocks_live, 0.0);

  /* frees only, and allocations that all fail: peak_live is 0 too, and
   * so are the figures (README, "Replaying traces") */
  static const char *const none_placed[] = {"f 1\nf -2\n",
                                            "a 1 5000\nf 1\na 1 4081\n"};
  for (size_t i = 0; i < 2; i++) {
    replay_ok(none_placed[i], AR_POLICY_BUDDY, 4096, &lg, &s);
    assert_int_equal(s.peak_live, 0);
    assert_int_equal(s.peak_blocks, 0);
    assert_int_equal(s.hwm, 0);
    assert_near(s.frag_hwm_live, 0.0);
    assert_near(s.frag_hwm_blocks, 0.0);
    assert_near(s.frag_blocks_live, 0.0);
  }
}

/* The summary's engine memory peak is the engine's own: its indexes and
 * block record at their largest, outside the arena, for every policy. */
static void test_memory_peak(void **state) {
  (void)state;
  static const ar_policy_t policies[] = {AR_POLICY_FIRST, AR_POLICY_NEXT,
                                         AR_POLICY_BEST, AR_POLICY_WORST,
                                         AR_POLICY_BUDDY};
  ar_trace_t *t = parse(trace1);
  for (size_t i = 0; i < sizeof policies / sizeof policies[0]; i++) {
    ar_engine_t *e = new_engine(policies[i], 4096);
    ar_replay_summary_t s;
    ar_trace_error_t err;
    if (ar_replay_run(t, e, NULL, NULL, &s, &err) != AR_OK)
      fail_msg("replay on %s: %s", ar_policy_name(policies[i]), err.msg);
    ar_engine_stats_t st;
    ar_engine_stats(e, &st);
    assert_true(st.peak_meta_bytes > 0);
    assert_true(st.peak_meta_bytes >= st.meta_bytes);
    assert_int_equal(s.memory_peak, st.peak_meta_bytes);
    ar_engine_destroy(e);
  }
  ar_trace_destroy(t);
}

/* ---- the public traces ----------------------------------------------------- */

/* The counts each trace's header announces. */
static const struct {
  const char *name;
  uint64_t ops, allocs, peak_live, live_at_end;
} public_traces[] = {
    {"python3-compileall-email", 706568, 353541, 11351222, 514},
    {"git-gc-perllib", 496663, 248815, 32522082, 967},
    {"sqlite3-shop", 1039476, 519746, 5250893, 16},
    {"troff-bash-manpage", 1302562, 661261, 1609634, 19960},
};

static void test_public_traces(void **state) {
  (void)state;
  const char *dir = ar_test_data_dir();
  for (size_t i = 0; i < sizeof public_traces / sizeof public_traces[0];
       i++) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s.trace.gz", dir, public_traces[i].name);
    ar_trace_t *t = NULL;
    ar_trace_error_t err;
    if (ar_trace_load(path, &t, &err) != AR_OK)
      fail_msg("%s: %s", path, err.msg);
    for (int p = 0; p < AR_POLICY_COUNT; p++) {
      ar_engine_t *e = new_engine((ar_policy_t)p, UINT64_C(256) << 20);
      ar_replay_summary_t s;
      if (ar_replay_run(t, e, NULL, NULL, &s, &err) != AR_OK)
        fail_msg("%s on %s: %s", public_traces[i].name,
                 ar_policy_name((ar_policy_t)p), err.msg);
      assert_int_equal(s.operations, public_traces[i].ops);
      assert_int_equal(s.allocations, public_traces[i].allocs);
      assert_int_equal(s.failed_allocs, 0);
      assert_int_equal(s.skipped_frees, 0);
      assert_int_equal(s.frees, s.operations - s.allocations);
      assert_int_equal(s.peak_live, public_traces[i].peak_live);
      assert_int_equal(s.live_blocks, public_traces[i].live_at_end);
      assert_true(s.peak_blocks > s.peak_live);
      assert_true(s.hwm >= s.peak_blocks);
      ar_engine_destroy(e);
    }
    ar_trace_destroy(t);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_first_fit_summary),
      cmocka_unit_test(test_buddy_summary),
      cmocka_unit_test(test_policies_part_ways),
      cmocka_unit_test(test_live_id_rejected),
      cmocka_unit_test(test_failed_then_reused),
      cmocka_unit_test(test_skipped_frees),
      cmocka_unit_test(test_canonical_ids),
      cmocka_unit_test(test_log_can_stop),
      cmocka_unit_test(test_empty_trace),
      cmocka_unit_test(test_memory_peak),
      cmocka_unit_test(test_public_traces),
  };
  return cmocka_run_group_tests_name("replay", tests, NULL, NULL);
}
