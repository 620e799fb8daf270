/*
 * test_engine_check.c: ar_engine_check returns 0, with or without a report,
 * on healthy engines of every policy in the states that matter (fresh,
 * fragmented, full, emptied again); and the small pieces of the interface:
 * the policy names and their parsing, the getters, destroy(NULL). The other
 * engine tests run the check after every operation too (harness.c); this
 * file states it on its own. Engine only.
 */
#include "harness.h"

#include <string.h>

#define ENGINE_TEST(fn, POL) SUBJECT_TEST(fn, POL, ENGINE)

static void assert_healthy(const ar_engine_t *e) {
  ar_check_report_t rep;
  memset(&rep, 0x5a, sizeof(rep));
  assert_ar_ok(ar_engine_check(e, NULL));
  assert_ar_ok(ar_engine_check(e, &rep));
  engine_verify(e);
}

static void test_check_healthy(void **state) {
  const subject_kind_t *k = *state;
  subject_t *s = subject_open(k, 65536);
  ar_engine_t *e = subject_engine(s);
  assert_int_equal(ar_engine_policy(e), k->policy);
  assert_int_equal(ar_engine_size(e), 65536);
  assert_healthy(e);
  /* every live payload; at most 65536 / 32 blocks */
  static uint64_t live[2048];
  size_t n = 0;
  /* fragmented: 64 blocks of growing sizes, every third freed */
  for (uint64_t i = 0; i < 64; i++) {
    ar_block_t b;
    assert_ar_ok(subject_alloc(s, 1 + 13 * i, 16, &b));
    live[n++] = b.payload;
  }
  for (size_t i = 0; i < 64; i += 3) {
    assert_free(s, live[i]);
    live[i] = UINT64_MAX; /* freed */
  }
  assert_healthy(e);
  /* full: blocks of b(16) = 32 until out of memory */
  ar_block_t b;
  int rc;
  while ((rc = subject_alloc(s, 16, 16, &b)) == AR_OK) {
    assert_true(n < 2048);
    live[n++] = b.payload;
  }
  assert_ar_rc(rc, AR_ENOMEM);
  assert_healthy(e);
  ar_engine_stats_t st;
  ar_engine_stats(e, &st);
  assert_true(st.largest_free < 32); /* 16-byte rests may stay free */
  /* emptied again */
  for (size_t i = 0; i < n; i++)
    if (live[i] != UINT64_MAX)
      assert_free(s, live[i]);
  assert_free_set(s, {0, 65536});
  assert_healthy(e);
  subject_close(s);
}

static void test_policy_names(void **state) {
  (void)state;
  static const char *names[] = {"first", "next", "best", "worst", "buddy"};
  assert_int_equal(AR_POLICY_COUNT, 5);
  for (int p = 0; p < AR_POLICY_COUNT; p++) {
    assert_string_equal(ar_policy_name((ar_policy_t)p), names[p]);
    ar_policy_t got = AR_POLICY_COUNT;
    assert_ar_ok(ar_policy_parse(names[p], &got));
    assert_int_equal(got, p);
  }
  assert_string_equal(ar_policy_name(AR_POLICY_COUNT), "unknown");
  assert_string_equal(ar_policy_name((ar_policy_t)-1), "unknown");
  static const char *bad[] = {"", "First", "firs", "firstt", "unknown",
                              " first", "buddy "};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    ar_policy_t got = AR_POLICY_BUDDY;
    assert_ar_rc(ar_policy_parse(bad[i], &got), AR_EINVAL);
  }
  ar_engine_destroy(NULL);
}

/* The model's constants, as the public header states them. */
static void test_constants(void **state) {
  (void)state;
  assert_int_equal(AR_GRAIN, 16);
  assert_int_equal(AR_HDR, 16);
  assert_int_equal(AR_ALIGN_MIN, 16);
  assert_int_equal(AR_ALIGN_MAX, 4096);
  assert_int_equal(AR_ARENA_UNIT, 4096);
  assert_int_equal(AR_BUDDY_MIN_ORDER, 5);
  assert_int_equal(AR_HDR_MAGIC, 0x4152454e);
  assert_int_equal(sizeof(ar_header_t), 16);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      ENGINE_TEST(test_check_healthy, FIRST),
      ENGINE_TEST(test_check_healthy, NEXT),
      ENGINE_TEST(test_check_healthy, BEST),
      ENGINE_TEST(test_check_healthy, WORST),
      ENGINE_TEST(test_check_healthy, BUDDY),
      cmocka_unit_test(test_policy_names),
      cmocka_unit_test(test_constants),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
