/*
 * test_engine_errors.c: invalid arguments and out of memory, for every
 * policy, on the engine and on the reference.
 *
 * engine.h: AR_EINVAL for a bad arena size or policy, for n == 0,
 * n > INT64_MAX or an alignment that is not a power of two in 16..4096
 * (nothing counted), and for a free of anything but the payload of a live
 * block (double free, foreign or misaligned offset), which changes nothing
 * but bad_frees. AR_ENOMEM when nothing fits: b(n) > size, or no interval
 * (buddy: no block) fits; only failed_allocs changes. The harness checks
 * "changes nothing" on the free set and on every stats field, and runs
 * ar_engine_check after each call.
 */
#include "harness.h"

#define TWO_POW(k) (UINT64_C(1) << (k))

static void test_create_sizes(void **state) {
  const subject_kind_t *k = *state;
  static const uint64_t bad[] = {0,
                                 1,
                                 16,
                                 2048,
                                 4095,
                                 4097,
                                 4096 + 16,
                                 8192 - 16,
                                 AR_ARENA_MAX + 4096,
                                 TWO_POW(49),
                                 UINT64_MAX,
                                 UINT64_MAX - 4095};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    int rc = subject_try_create(k->impl, k->policy, bad[i]);
    if (rc != AR_EINVAL) {
      print_error("create(%s, %llu): %s, want EINVAL\n",
                  ar_policy_name(k->policy), (unsigned long long)bad[i],
                  ar_err_name(rc));
      fail();
    }
  }
  /* multiples of 4096 that are not powers of two: fine for the list
   * policies, not for buddy */
  static const uint64_t three[] = {3 * 4096, 5 * 4096, 6 * 4096, 40960,
                                   1048576 + 4096};
  for (size_t i = 0; i < sizeof(three) / sizeof(three[0]); i++)
    assert_ar_rc(subject_try_create(k->impl, k->policy, three[i]),
                 k->policy == AR_POLICY_BUDDY ? AR_EINVAL : AR_OK);
  static const uint64_t good[] = {4096, 8192, 65536, 1048576};
  for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
    assert_ar_ok(subject_try_create(k->impl, k->policy, good[i]));
}

static void test_create_policy(void **state) {
  const subject_kind_t *k = *state;
  assert_ar_rc(subject_try_create(k->impl, AR_POLICY_COUNT, 4096), AR_EINVAL);
  assert_ar_rc(subject_try_create(k->impl, (ar_policy_t)(AR_POLICY_COUNT + 7),
                                  4096),
               AR_EINVAL);
  assert_ar_rc(subject_try_create(k->impl, (ar_policy_t)-1, 4096), AR_EINVAL);
}

static void test_alloc_args(void **state) {
  subject_t *s = subject_open(*state, 4096);
  ar_block_t b = assert_alloc(s, 100, 16, 16); /* something live */
  (void)b;
  /* n = 0, n > INT64_MAX */
  assert_alloc_fails(s, 0, 16, AR_EINVAL);
  assert_alloc_fails(s, (uint64_t)INT64_MAX + 1, 16, AR_EINVAL);
  assert_alloc_fails(s, UINT64_MAX, 16, AR_EINVAL);
  assert_alloc_fails(s, UINT64_MAX - 15, 16, AR_EINVAL);
  /* alignments: not a power of two, below 16, above 4096 */
  static const uint64_t bad_align[] = {0,    1,    2,     8,   24,
                                       48,   100,  4095,  4097, 8192,
                                       65536, TWO_POW(63), UINT64_MAX};
  for (size_t i = 0; i < sizeof(bad_align) / sizeof(bad_align[0]); i++)
    assert_alloc_fails(s, 1, bad_align[i], AR_EINVAL);
  /* n = 0 with a bad alignment is still EINVAL, not counted */
  assert_alloc_fails(s, 0, 8, AR_EINVAL);
  ar_engine_stats_t st;
  subject_stats(s, &st);
  assert_int_equal(st.failed_allocs, 0);
  assert_int_equal(st.allocs, 1);
  subject_close(s);
}

static void test_alloc_nomem(void **state) {
  const subject_kind_t *k = *state;
  subject_t *s = subject_open(k, 4096);
  /* b(n) > 4096: n = 4081 gives b = 4112; n = INT64_MAX must not overflow */
  assert_alloc_fails(s, 4081, 16, AR_ENOMEM);
  assert_alloc_fails(s, (uint64_t)INT64_MAX, 16, AR_ENOMEM);
  assert_alloc_fails(s, (uint64_t)INT64_MAX - 8, 16, AR_ENOMEM);
  assert_alloc_fails(s, (uint64_t)INT64_MAX, 4096, AR_ENOMEM);
  assert_alloc_fails(s, 1ull << 40, 16, AR_ENOMEM);
  /* b(4080) = 4096: the whole arena, every policy */
  assert_alloc(s, 4080, 16, 16);
  assert_no_free(s);
  /* nothing free */
  assert_alloc_fails(s, 1, 16, AR_ENOMEM);
  assert_alloc_fails(s, 1, 64, AR_ENOMEM);
  ar_engine_stats_t st;
  subject_stats(s, &st);
  assert_int_equal(st.failed_allocs, 7);
  assert_int_equal(st.allocs, 1);
  assert_free(s, 16);
  assert_free_set(s, {0, 4096});
  subject_close(s);
}

/* Frees of what is not a live payload, on a few live blocks. */
static void test_bad_frees(void **state) {
  const subject_kind_t *k = *state;
  subject_t *s = subject_open(k, 4096);
  bool buddy = k->policy == AR_POLICY_BUDDY;
  /* list: [0, 64) [64, 192) [192, 224); buddy: k = 6 [0, 64),
   * k = 7 [128, 256), k = 5 [64, 96) */
  assert_alloc(s, 48, 16, 16);
  uint64_t p2 = buddy ? 144 : 80;
  uint64_t p3 = buddy ? 80 : 208;
  assert_alloc(s, 112, 16, p2);
  assert_alloc(s, 1, 16, p3);
  /* a double free */
  assert_free(s, p2);
  assert_free_fails(s, p2);
  /* foreign offsets: free space, the arena's end and beyond */
  assert_free_fails(s, 1024);
  assert_free_fails(s, 4096);
  assert_free_fails(s, 4096 + 16);
  assert_free_fails(s, 1ull << 40);
  assert_free_fails(s, UINT64_MAX - 15);
  /* inside live blocks: the block start (header), payload + 16, 0 */
  assert_free_fails(s, 0);
  assert_free_fails(s, 32);
  assert_free_fails(s, p3 - 16);
  assert_free_fails(s, p3 + 16);
  /* misaligned */
  assert_free_fails(s, 17);
  assert_free_fails(s, 15);
  assert_free_fails(s, p3 + 1);
  assert_free_fails(s, p3 - 1);
  assert_free_fails(s, p3 + 8);
  /* the live ones still free fine, and only once */
  assert_free(s, 16);
  assert_free(s, p3);
  assert_free_fails(s, 16);
  assert_free_fails(s, p3);
  assert_free_set(s, {0, 4096});
  ar_engine_stats_t st;
  subject_stats(s, &st);
  assert_int_equal(st.bad_frees, 17);
  assert_int_equal(st.frees, 3);
  assert_int_equal(st.allocs, 3);
  subject_close(s);
}

/* The largest offsets: UINT64_MAX is no payload (an engine must not let a
 * sentinel value of its own index match it), also while no block is live
 * (the engine's record of the last block allocated then holds none). */
static void test_bad_free_top(void **state) {
  subject_t *s = subject_open(*state, 4096);
  assert_free_fails(s, UINT64_MAX);
  assert_alloc(s, 48, 16, 16);
  assert_free_fails(s, UINT64_MAX);
  assert_free_fails(s, UINT64_MAX - 1);
  assert_free_fails(s, UINT64_MAX - 15);
  assert_free_fails(s, UINT64_MAX - 16);
  assert_free_fails(s, (uint64_t)INT64_MAX);
  ar_engine_stats_t st;
  subject_stats(s, &st);
  assert_int_equal(st.bad_frees, 6);
  assert_free(s, 16);
  assert_free_fails(s, UINT64_MAX);
  subject_close(s);
}

/* A payload freed and then reused by a new block is live again. */
static void test_free_reuse(void **state) {
  subject_t *s = subject_open(*state, 4096);
  assert_alloc(s, 1, 16, 16);
  assert_free(s, 16);
  assert_free_fails(s, 16);
  assert_alloc(s, 1, 16, 16);
  assert_free(s, 16);
  assert_free_set(s, {0, 4096});
  subject_close(s);
}

#define ALL_POLICIES(fn)                                                       \
  BOTH_TESTS(fn, FIRST), BOTH_TESTS(fn, NEXT), BOTH_TESTS(fn, BEST),           \
      BOTH_TESTS(fn, WORST), BOTH_TESTS(fn, BUDDY)

int main(void) {
  const struct CMUnitTest tests[] = {
      ALL_POLICIES(test_create_sizes), BOTH_TESTS(test_create_policy, FIRST),
      ALL_POLICIES(test_alloc_args),   ALL_POLICIES(test_alloc_nomem),
      ALL_POLICIES(test_bad_frees),    ALL_POLICIES(test_bad_free_top),
      ALL_POLICIES(test_free_reuse),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
