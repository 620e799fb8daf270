/*
 * test_engine_buddy.c: the binary buddy policy, worked out by hand from the
 * placement model: split chains, merge chains up to the whole arena, the
 * choice of the smallest order and, within it, the lowest offset, and the
 * limits (k > K, no block of order >= k though enough bytes are free).
 *
 * k = max(5, ceil(log2(b(n)))); the payload is the block start + 16. The
 * free set is listed block by block: adjacent free blocks that are not
 * buddies stay apart. Each scenario runs on the engine and on the
 * reference; free_by_order comes from the stats of either.
 */
#include "harness.h"

#include <string.h>

/* stats.free_by_order[5 .. 5 + n) must equal want[0 .. n), the rest 0. */
#define assert_orders(s, ...)                                                  \
  assert_orders_((s), (const uint64_t[]){__VA_ARGS__},                         \
                 sizeof((const uint64_t[]){__VA_ARGS__}) / sizeof(uint64_t),   \
                 __FILE__, __LINE__)
static void assert_orders_(const subject_t *s, const uint64_t *want, size_t n,
                           const char *file, int line) {
  ar_engine_stats_t st;
  subject_stats(s, &st);
  for (unsigned k = 0; k <= AR_ORDER_MAX; k++) {
    uint64_t w = k >= 5 && k - 5 < n ? want[k - 5] : 0;
    if (st.free_by_order[k] != w) {
      print_error("free_by_order[%u] = %llu, want %llu\n", k,
                  (unsigned long long)st.free_by_order[k],
                  (unsigned long long)w);
      _fail(file, line);
    }
  }
}

/* Splits down from the whole arena, then merges all the way back. */
static void test_split_merge_chain(void **state) {
  subject_t *s = subject_open(*state, 4096); /* K = 12 */
  ar_engine_stats_t st;
  subject_stats(s, &st);
  assert_int_equal(st.max_order, 12);
  assert_orders(s, 0, 0, 0, 0, 0, 0, 0, 1); /* one block of order 12 */

  /* b(1) = 32, k = 5: only order 12 is free; split 12 -> 5, each upper half
   * stays free: [2048,4096) o11, [1024,2048) o10, ... [32,64) o5 */
  assert_alloc(s, 1, 16, 16);
  assert_free_set(s, {32, 64}, {64, 128}, {128, 256}, {256, 512}, {512, 1024},
                  {1024, 2048}, {2048, 4096});
  assert_orders(s, 1, 1, 1, 1, 1, 1, 1); /* orders 5 .. 11 */
  /* b(16) = 32, k = 5: [32, 64) */
  assert_alloc(s, 16, 16, 48);
  /* b(17) = 48, k = 6: [64, 128) */
  assert_alloc(s, 17, 16, 80);
  /* b(100) = 128, k = 7: [128, 256) */
  assert_alloc(s, 100, 16, 144);
  /* b(1000) = 1024, k = 10: [1024, 2048); orders 8 and 9 stay free */
  assert_alloc(s, 1000, 16, 1040);
  assert_free_set(s, {256, 512}, {512, 1024}, {2048, 4096});
  /* b(200) = 224, k = 8: [256, 512) */
  assert_alloc(s, 200, 16, 272);
  /* b(300) = 320, k = 9: [512, 1024) */
  assert_alloc(s, 300, 16, 528);
  assert_free_set(s, {2048, 4096});
  /* b(33) = 64, k = 6: only [2048, 4096) o11: split 11 -> 6 */
  assert_alloc(s, 33, 16, 2064);
  assert_free_set(s, {2112, 2176}, {2176, 2304}, {2304, 2560}, {2560, 3072},
                  {3072, 4096});
  assert_orders(s, 0, 1, 1, 1, 1, 1); /* orders 6 .. 10 */

  /* free [2048, 2112) o6: buddies 2112 o6, 2176 o7, 2304 o8, 2560 o9,
   * 3072 o10 are all free: merges up to [2048, 4096) o11; its buddy [0,2048)
   * is not free */
  assert_free(s, 2064);
  assert_free_set(s, {2048, 4096});
  /* free [0, 32) o5: buddy [32, 64) allocated */
  assert_free(s, 16);
  assert_free_set(s, {0, 32}, {2048, 4096});
  /* free [64, 128) o6: buddy [0, 64) is not free as a whole block */
  assert_free(s, 80);
  assert_free_set(s, {0, 32}, {64, 128}, {2048, 4096});
  /* free [32, 64) o5: + [0,32) -> [0,64) o6, + [64,128) -> [0,128) o7;
   * buddy [128, 256) allocated */
  assert_free(s, 48);
  assert_free_set(s, {0, 128}, {2048, 4096});
  /* free [128, 256) o7: -> [0, 256) o8; [256, 512) allocated */
  assert_free(s, 144);
  assert_free_set(s, {0, 256}, {2048, 4096});
  /* free [512, 1024) o9: buddy [0, 512) not whole */
  assert_free(s, 528);
  assert_free_set(s, {0, 256}, {512, 1024}, {2048, 4096});
  /* free [256, 512) o8: -> [0,512) o9 -> [0,1024) o10; [1024,2048) allocated */
  assert_free(s, 272);
  assert_free_set(s, {0, 1024}, {2048, 4096});
  assert_orders(s, 0, 0, 0, 0, 0, 1, 1); /* orders 10, 11 */
  /* free [1024, 2048) o10: -> [0, 2048) o11 -> [0, 4096) o12, the arena */
  assert_free(s, 1040);
  assert_free_set(s, {0, 4096});
  assert_orders(s, 0, 0, 0, 0, 0, 0, 0, 1);
  subject_close(s);
}

/* Adjacent free blocks of one order that are not buddies do not merge. */
static void test_not_buddies(void **state) {
  subject_t *s = subject_open(*state, 4096);
  /* b(48) = 64, k = 6, four times: [0,64) [64,128) [128,192) [192,256);
   * the first splits 12 -> 6, the third splits [128, 256) o7 */
  assert_alloc(s, 48, 16, 16);
  assert_alloc(s, 48, 16, 80);
  assert_alloc(s, 48, 16, 144);
  assert_alloc(s, 48, 16, 208);
  assert_free_set(s, {256, 512}, {512, 1024}, {1024, 2048}, {2048, 4096});
  /* free [64, 128): buddy [0, 64) allocated; free [128, 192): buddy
   * [192, 256) allocated. [64,128) and [128,192) touch but 64 ^ 64 = 0 */
  assert_free(s, 80);
  assert_free(s, 144);
  assert_free_set(s, {64, 128}, {128, 192}, {256, 512}, {512, 1024},
                  {1024, 2048}, {2048, 4096});
  assert_orders(s, 0, 2, 0, 1, 1, 1, 1); /* two of order 6 */
  /* free [0, 64): + [64, 128) -> [0, 128) o7; buddy [128, 256) not whole */
  assert_free(s, 16);
  assert_free_set(s, {0, 128}, {128, 192}, {256, 512}, {512, 1024},
                  {1024, 2048}, {2048, 4096});
  /* free [192, 256): + [128,192) -> o7 + [0,128) -> o8 + [256,512) -> o9
   * + [512,1024) -> o10 + [1024,2048) -> o11 + [2048,4096) -> o12 */
  assert_free(s, 208);
  assert_free_set(s, {0, 4096});
  subject_close(s);
}

/* Of the smallest order with a free block, the lowest offset. */
static void test_lowest_offset(void **state) {
  subject_t *s = subject_open(*state, 4096);
  /* b(1000) = 1024, k = 10, four times: [0,1024) (splits 12 -> 10),
   * [1024,2048), [2048,3072) (splits [2048,4096) o11), [3072,4096) */
  assert_alloc(s, 1000, 16, 16);
  assert_alloc(s, 1000, 16, 1040);
  assert_alloc(s, 1000, 16, 2064);
  assert_alloc(s, 1000, 16, 3088);
  assert_no_free(s);
  /* free [2048, 3072), then [0, 1024): two free blocks of order 10, the
   * higher one freed first; their buddies are allocated */
  assert_free(s, 2064);
  assert_free(s, 16);
  assert_free_set(s, {0, 1024}, {2048, 3072});
  /* b(1) = 32, k = 5: order 10 is the smallest free, its lowest offset is
   * 0: split [0, 1024) down to [0, 32) */
  assert_alloc(s, 1, 16, 16);
  assert_free_set(s, {32, 64}, {64, 128}, {128, 256}, {256, 512}, {512, 1024},
                  {2048, 3072});
  /* b(500) = 528, k = 10: [2048, 3072), not a split of anything lower */
  assert_alloc(s, 500, 16, 2064);
  /* b(200) = 224, k = 8: [256, 512) */
  assert_alloc(s, 200, 16, 272);
  /* b(1) = 32, k = 5: [32, 64) */
  assert_alloc(s, 1, 16, 48);
  /* k = 5 again: no order 5; order 6 [64, 128) splits: [96, 128) o5 */
  assert_alloc(s, 1, 16, 80);
  assert_free_set(s, {96, 128}, {128, 256}, {512, 1024});
  /* k = 5: [96, 128) */
  assert_alloc(s, 1, 16, 112);
  assert_free_set(s, {128, 256}, {512, 1024});
  subject_close(s);
}

/* The smallest order first, even when a larger block lies lower. */
static void test_smallest_order(void **state) {
  subject_t *s = subject_open(*state, 4096);
  /* b(2000) = 2016, k = 11: [0, 2048), [2048, 4096) o11 free */
  assert_alloc(s, 2000, 16, 16);
  /* b(1) = 32, k = 5: split [2048, 4096) down to [2048, 2080) */
  assert_alloc(s, 1, 16, 2064);
  /* free [0, 2048): its buddy [2048, 4096) is not whole: stays o11 */
  assert_free(s, 16);
  assert_free_set(s, {0, 2048}, {2080, 2112}, {2112, 2176}, {2176, 2304},
                  {2304, 2560}, {2560, 3072}, {3072, 4096});
  /* k = 5: order 5 [2080, 2112) beats splitting [0, 2048) */
  assert_alloc(s, 1, 16, 2096);
  /* b(100) = 128, k = 7: [2176, 2304) */
  assert_alloc(s, 100, 16, 2192);
  /* b(1000) = 1024, k = 10: [3072, 4096) */
  assert_alloc(s, 1000, 16, 3088);
  /* k = 10 again: none of order 10; [0, 2048) o11 splits: [1024,2048) o10
   * stays free, block [0, 1024) */
  assert_alloc(s, 1000, 16, 16);
  assert_free_set(s, {1024, 2048}, {2112, 2176}, {2304, 2560}, {2560, 3072});
  subject_close(s);
}

/* Out of memory: k > K, and no block of order >= k. */
static void test_buddy_oom(void **state) {
  subject_t *s = subject_open(*state, 4096);
  /* b(4081) = 4112 > 4096 */
  assert_alloc_fails(s, 4081, 16, AR_ENOMEM);
  assert_alloc_fails(s, (uint64_t)INT64_MAX, 16, AR_ENOMEM);
  /* b(2033) = 2064, k = 12: the whole arena */
  assert_alloc(s, 2033, 16, 16);
  assert_no_free(s);
  assert_alloc_fails(s, 1, 16, AR_ENOMEM);
  assert_free(s, 16);
  /* b(4080) = 4096, k = 12: the whole arena again */
  assert_alloc(s, 4080, 16, 16);
  assert_free(s, 16);
  /* b(2032) = 2048, k = 11: [0, 2048) */
  assert_alloc(s, 2032, 16, 16);
  /* b(1) = 32: split [2048, 4096) down to [2048, 2080) */
  assert_alloc(s, 1, 16, 2064);
  assert_free(s, 16);
  /* free: [0, 2048) o11 and 2016 bytes in [2080, 4096) */
  /* b(2048) = 2064, k = 12: no order 12 */
  assert_alloc_fails(s, 2048, 16, AR_ENOMEM);
  /* b(1500) = 1520, k = 11: [0, 2048) */
  assert_alloc(s, 1500, 16, 16);
  /* 2016 bytes free but no block of order >= 11 for b(1500) */
  assert_alloc_fails(s, 1500, 16, AR_ENOMEM);
  /* b(1000) = 1024, k = 10: [3072, 4096) */
  assert_alloc(s, 1000, 16, 3088);
  assert_free_set(s, {2080, 2112}, {2112, 2176}, {2176, 2304}, {2304, 2560},
                  {2560, 3072});
  subject_close(s);
}

/* A larger arena: a chain of 15 splits and 15 merges. */
static void test_big_chain(void **state) {
  subject_t *s = subject_open(*state, UINT64_C(1) << 20); /* K = 20 */
  assert_alloc(s, 1, 16, 16);
  /* free blocks [2^j, 2^(j+1)) of order j for j = 5 .. 19 */
  assert_free_set(s, {32, 64}, {64, 128}, {128, 256}, {256, 512}, {512, 1024},
                  {1024, 2048}, {2048, 4096}, {4096, 8192}, {8192, 16384},
                  {16384, 32768}, {32768, 65536}, {65536, 131072},
                  {131072, 262144}, {262144, 524288}, {524288, 1048576});
  assert_orders(s, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1);
  /* b(262128) = 262144, k = 18: [262144, 524288) */
  assert_alloc(s, 262128, 16, 262160);
  /* b(262129) = 262160, k = 19: [524288, 1048576) */
  assert_alloc(s, 262129, 16, 524304);
  assert_alloc_fails(s, 262129, 16, AR_ENOMEM);
  assert_free(s, 262160);
  assert_free(s, 524304);
  assert_free(s, 16);
  assert_free_set(s, {0, 1048576});
  ar_engine_stats_t st;
  subject_stats(s, &st);
  assert_int_equal(st.max_order, 20);
  assert_int_equal(st.largest_free, 1048576);
  subject_close(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      BOTH_TESTS(test_split_merge_chain, BUDDY),
      BOTH_TESTS(test_not_buddies, BUDDY),
      BOTH_TESTS(test_lowest_offset, BUDDY),
      BOTH_TESTS(test_smallest_order, BUDDY),
      BOTH_TESTS(test_buddy_oom, BUDDY),
      BOTH_TESTS(test_big_chain, BUDDY),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
