/*
 * test_engine_stats.c: the counters and gauges of ar_engine_stats, worked
 * out by hand: used and free bytes, live blocks and requested bytes,
 * overhead, free extents, the largest free extent, external fragmentation
 * (1 - largest / free), the high-water mark, the peaks, the rover and, for
 * buddy, max_order and free_by_order. Every check compares the whole
 * snapshot (a field not named must be 0). Runs on the engine and on the
 * reference, which keeps the same counters.
 */
#include "harness.h"

#define assert_stats(s, ...)                                                   \
  do {                                                                         \
    ar_engine_stats_t got_;                                                    \
    subject_stats((s), &got_);                                                 \
    assert_stats_equal_(&got_, &(const ar_engine_stats_t){__VA_ARGS__},        \
                        __FILE__, __LINE__);                                   \
  } while (0)

static void test_stats_fresh(void **state) {
  const subject_kind_t *k = *state;
  subject_t *s = subject_open(k, 8192);
  if (k->policy == AR_POLICY_BUDDY)
    assert_stats(s, .policy = AR_POLICY_BUDDY, .size = 8192,
                 .free_bytes = 8192, .free_extents = 1, .largest_free = 8192,
                 .max_order = 13, .free_by_order = {[13] = 1});
  else
    assert_stats(s, .policy = k->policy, .size = 8192, .free_bytes = 8192,
                 .free_extents = 1, .largest_free = 8192);
  subject_close(s);
}

static void test_stats_first(void **state) {
  subject_t *s = subject_open(*state, 4096);
  /* [0,32) n 1, [32,160) n 100, [160,208) n 17: used 32+128+48 = 208,
   * requested 118, overhead 90 */
  assert_alloc(s, 1, 16, 16);
  assert_alloc(s, 100, 16, 48);
  assert_alloc(s, 17, 16, 176);
  assert_stats(s, .policy = AR_POLICY_FIRST, .size = 4096, .used_bytes = 208,
               .free_bytes = 3888, .live_blocks = 3, .live_requested = 118,
               .overhead_bytes = 90, .free_extents = 1, .largest_free = 3888,
               .external_frag = 0.0, .allocs = 3, .hwm = 208,
               .peak_used = 208, .peak_requested = 118);
  /* free [32, 160): free [32,160) 128 and [208,4096) 3888 */
  assert_free(s, 48);
  assert_stats(s, .policy = AR_POLICY_FIRST, .size = 4096, .used_bytes = 80,
               .free_bytes = 4016, .live_blocks = 2, .live_requested = 18,
               .overhead_bytes = 62, .free_extents = 2, .largest_free = 3888,
               .external_frag = 128.0 / 4016.0, .allocs = 3, .frees = 1,
               .hwm = 208, .peak_used = 208, .peak_requested = 118);
  /* b(4000) = 4016 = free_bytes, but the largest interval is 3888 */
  assert_alloc_fails(s, 4000, 16, AR_ENOMEM);
  /* b(64) = 80 in [32, 160): [32, 112); free [112,160) 48, [208,4096) */
  assert_alloc(s, 64, 16, 48);
  assert_stats(s, .policy = AR_POLICY_FIRST, .size = 4096, .used_bytes = 160,
               .free_bytes = 3936, .live_blocks = 3, .live_requested = 82,
               .overhead_bytes = 78, .free_extents = 2, .largest_free = 3888,
               .external_frag = 48.0 / 3936.0, .allocs = 4, .frees = 1,
               .failed_allocs = 1, .hwm = 208, .peak_used = 208,
               .peak_requested = 118);
  /* b(3000) = 3024: [208, 3232); free [112,160) 48, [3232,4096) 864 */
  assert_alloc(s, 3000, 16, 224);
  assert_stats(s, .policy = AR_POLICY_FIRST, .size = 4096,
               .used_bytes = 3184, .free_bytes = 912, .live_blocks = 4,
               .live_requested = 3082, .overhead_bytes = 102,
               .free_extents = 2, .largest_free = 864,
               .external_frag = 48.0 / 912.0, .allocs = 5, .frees = 1,
               .failed_allocs = 1, .hwm = 3232, .peak_used = 3184,
               .peak_requested = 3082);
  /* free it again and refuse a bad free: hwm and the peaks stay */
  assert_free(s, 224);
  assert_free_fails(s, 12345);
  assert_stats(s, .policy = AR_POLICY_FIRST, .size = 4096, .used_bytes = 160,
               .free_bytes = 3936, .live_blocks = 3, .live_requested = 82,
               .overhead_bytes = 78, .free_extents = 2, .largest_free = 3888,
               .external_frag = 48.0 / 3936.0, .allocs = 5, .frees = 2,
               .failed_allocs = 1, .bad_frees = 1, .hwm = 3232,
               .peak_used = 3184, .peak_requested = 3082);
  /* free the rest: one interval, nothing live */
  assert_free(s, 16);
  assert_free(s, 48);
  assert_free(s, 176);
  assert_stats(s, .policy = AR_POLICY_FIRST, .size = 4096,
               .free_bytes = 4096, .free_extents = 1, .largest_free = 4096,
               .allocs = 5, .frees = 5, .failed_allocs = 1, .bad_frees = 1,
               .hwm = 3232, .peak_used = 3184, .peak_requested = 3082);
  subject_close(s);
}

/* peak_used and peak_requested are maxima taken apart, hwm a third. */
static void test_stats_peaks(void **state) {
  const subject_kind_t *k = *state;
  subject_t *s = subject_open(k, 4096);
  /* b(1000) = 1024: used 1024, requested 1000 */
  assert_alloc(s, 1000, 16, 16);
  assert_free(s, 16);
  /* 40 blocks of b(1) = 32 in [0, 1280): used 1280, requested 40 (every
   * list policy: one interval, whose start is 0, each time) */
  for (uint64_t i = 0; i < 40; i++)
    assert_alloc(s, 1, 16, 16 + 32 * i);
  for (uint64_t i = 0; i < 40; i++)
    assert_free(s, 16 + 32 * i);
  assert_free_set(s, {0, 4096});
  uint64_t rover = k->policy == AR_POLICY_NEXT ? 1280 : 0;
  assert_stats(s, .policy = k->policy, .size = 4096, .free_bytes = 4096,
               .free_extents = 1, .largest_free = 4096, .allocs = 41,
               .frees = 41, .hwm = 1280, .peak_used = 1280,
               .peak_requested = 1000, .rover = rover);
  /* b(2000) = 2016 at [0, 2016) (next: [0, 4096) contains the rover) */
  assert_alloc(s, 2000, 16, 16);
  rover = k->policy == AR_POLICY_NEXT ? 2016 : 0;
  assert_stats(s, .policy = k->policy, .size = 4096, .used_bytes = 2016,
               .free_bytes = 2080, .live_blocks = 1, .live_requested = 2000,
               .overhead_bytes = 16, .free_extents = 1, .largest_free = 2080,
               .allocs = 42, .frees = 41, .hwm = 2016, .peak_used = 2016,
               .peak_requested = 2000, .rover = rover);
  subject_close(s);
}

static void test_stats_buddy(void **state) {
  subject_t *s = subject_open(*state, 4096);
  /* k = 5: [0, 32); free orders 5 .. 11, one each */
  assert_alloc(s, 1, 16, 16);
  assert_stats(s, .policy = AR_POLICY_BUDDY, .size = 4096, .used_bytes = 32,
               .free_bytes = 4064, .live_blocks = 1, .live_requested = 1,
               .overhead_bytes = 31, .free_extents = 7, .largest_free = 2048,
               .external_frag = 2016.0 / 4064.0, .allocs = 1, .hwm = 32,
               .peak_used = 32, .peak_requested = 1, .max_order = 12,
               .free_by_order = {[5] = 1, [6] = 1, [7] = 1, [8] = 1, [9] = 1,
                                 [10] = 1, [11] = 1});
  /* b(100) = 128, k = 7: [128, 256); order 7 taken */
  assert_alloc(s, 100, 16, 144);
  assert_stats(s, .policy = AR_POLICY_BUDDY, .size = 4096, .used_bytes = 160,
               .free_bytes = 3936, .live_blocks = 2, .live_requested = 101,
               .overhead_bytes = 59, .free_extents = 6, .largest_free = 2048,
               .external_frag = 1888.0 / 3936.0, .allocs = 2, .hwm = 256,
               .peak_used = 160, .peak_requested = 101, .max_order = 12,
               .free_by_order = {[5] = 1, [6] = 1, [8] = 1, [9] = 1, [10] = 1,
                                 [11] = 1});
  /* free [0, 32): merges to [0, 128) o7 */
  assert_free(s, 16);
  assert_stats(s, .policy = AR_POLICY_BUDDY, .size = 4096, .used_bytes = 128,
               .free_bytes = 3968, .live_blocks = 1, .live_requested = 100,
               .overhead_bytes = 28, .free_extents = 5, .largest_free = 2048,
               .external_frag = 1920.0 / 3968.0, .allocs = 2, .frees = 1,
               .hwm = 256, .peak_used = 160, .peak_requested = 101,
               .max_order = 12,
               .free_by_order = {[7] = 1, [8] = 1, [9] = 1, [10] = 1,
                                 [11] = 1});
  /* b(2000) = 2016, k = 11: [2048, 4096); hwm = 4096 */
  assert_alloc(s, 2000, 16, 2064);
  assert_stats(s, .policy = AR_POLICY_BUDDY, .size = 4096,
               .used_bytes = 2176, .free_bytes = 1920, .live_blocks = 2,
               .live_requested = 2100, .overhead_bytes = 76,
               .free_extents = 4, .largest_free = 1024,
               .external_frag = 896.0 / 1920.0, .allocs = 3, .frees = 1,
               .hwm = 4096, .peak_used = 2176, .peak_requested = 2100,
               .max_order = 12,
               .free_by_order = {[7] = 1, [8] = 1, [9] = 1, [10] = 1});
  /* A = 64, n = 1: k = 7, [0, 128), payload 64; 127 bytes of overhead */
  assert_alloc(s, 1, 64, 64);
  assert_stats(s, .policy = AR_POLICY_BUDDY, .size = 4096,
               .used_bytes = 2304, .free_bytes = 1792, .live_blocks = 3,
               .live_requested = 2101, .overhead_bytes = 203,
               .free_extents = 3, .largest_free = 1024,
               .external_frag = 768.0 / 1792.0, .allocs = 4, .frees = 1,
               .hwm = 4096, .peak_used = 2304, .peak_requested = 2101,
               .max_order = 12,
               .free_by_order = {[8] = 1, [9] = 1, [10] = 1});
  /* a failed and a refused call */
  assert_alloc_fails(s, 2000, 16, AR_ENOMEM);
  assert_free_fails(s, 16);
  ar_engine_stats_t st;
  subject_stats(s, &st);
  assert_int_equal(st.failed_allocs, 1);
  assert_int_equal(st.bad_frees, 1);
  subject_close(s);
}

/* With nothing free, external fragmentation is 0, not a division by 0. */
static void test_stats_full(void **state) {
  const subject_kind_t *k = *state;
  subject_t *s = subject_open(k, 4096);
  assert_alloc(s, 4080, 16, 16);
  uint64_t rover = k->policy == AR_POLICY_NEXT ? 4096 : 0;
  ar_engine_stats_t st;
  subject_stats(s, &st);
  assert_int_equal(st.free_bytes, 0);
  assert_int_equal(st.free_extents, 0);
  assert_int_equal(st.largest_free, 0);
  assert_true(st.external_frag == 0.0);
  assert_int_equal(st.overhead_bytes, 16);
  assert_int_equal(st.hwm, 4096);
  assert_int_equal(st.rover, rover);
  subject_close(s);
}

#define ALL_POLICIES(fn)                                                       \
  BOTH_TESTS(fn, FIRST), BOTH_TESTS(fn, NEXT), BOTH_TESTS(fn, BEST),           \
      BOTH_TESTS(fn, WORST), BOTH_TESTS(fn, BUDDY)

int main(void) {
  const struct CMUnitTest tests[] = {
      ALL_POLICIES(test_stats_fresh),
      BOTH_TESTS(test_stats_first, FIRST),
      BOTH_TESTS(test_stats_peaks, FIRST),
      BOTH_TESTS(test_stats_peaks, NEXT),
      BOTH_TESTS(test_stats_peaks, BEST),
      BOTH_TESTS(test_stats_peaks, WORST),
      BOTH_TESTS(test_stats_buddy, BUDDY),
      ALL_POLICIES(test_stats_full),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
