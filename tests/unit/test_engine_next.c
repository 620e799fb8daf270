/*
 * test_engine_next.c: the next-fit rover, worked out by hand from the
 * placement model.
 *
 * With rover r, next fit tries first the free intervals with e > r in
 * ascending start, then those with e <= r in ascending start, and takes the
 * low end of the first that fits; after a success r = block start + b. An
 * interval that contains r is in the first group and the block goes at its
 * start, below r; one that ends exactly at r is in the second group. A
 * failed request leaves r alone; frees never move it. Each scenario runs on
 * the engine and on the reference.
 */
#include "harness.h"

/* The rover follows the allocations and frees do not move it. */
static void test_rover_follows(void **state) {
  subject_t *s = subject_open(*state, 4096);
  assert_rover(s, 0);
  /* b(48) = 64: [0, 64), r = 64 */
  assert_alloc(s, 48, 16, 16);
  assert_rover(s, 64);
  /* [64, 128), r = 128 */
  assert_alloc(s, 48, 16, 80);
  assert_rover(s, 128);
  /* [128, 192), r = 192 */
  assert_alloc(s, 48, 16, 144);
  assert_rover(s, 192);
  /* freeing [0, 64) leaves r at 192 */
  assert_free(s, 16);
  assert_free_set(s, {0, 64}, {192, 4096});
  assert_rover(s, 192);
  /* b(1) = 32: [192, 4096) is the only interval with e > 192, so [192, 224)
   * though [0, 64) fits and is lower; r = 224 */
  assert_alloc(s, 1, 16, 208);
  assert_free_set(s, {0, 64}, {224, 4096});
  assert_rover(s, 224);
  subject_close(s);
}

/* An interval that contains the rover: the block goes at its start. */
static void test_rover_inside(void **state) {
  subject_t *s = subject_open(*state, 4096);
  /* [0, 64), [64, 128), [128, 192); r = 192 */
  assert_alloc(s, 48, 16, 16);
  assert_alloc(s, 48, 16, 80);
  assert_alloc(s, 48, 16, 144);
  assert_rover(s, 192);
  /* free [64, 128), then [128, 192): [64, 4096) with 64 < r = 192 < 4096 */
  assert_free(s, 80);
  assert_free(s, 144);
  assert_free_set(s, {64, 4096});
  assert_rover(s, 192);
  /* b(16) = 32: group one is [64, 4096) (e > 192); the block is its low
   * end [64, 96), below the old rover; r = 96 */
  assert_alloc(s, 16, 16, 80);
  assert_free_set(s, {96, 4096});
  assert_rover(s, 96);
  /* free [0, 64): [0, 64) has e = 64 <= 96, group two */
  assert_free(s, 16);
  assert_free_set(s, {0, 64}, {96, 4096});
  /* b(16) = 32: group one is [96, 4096): block [96, 128), r = 128 (first
   * fit would have taken [0, 32)) */
  assert_alloc(s, 16, 16, 112);
  assert_free_set(s, {0, 64}, {128, 4096});
  assert_rover(s, 128);
  subject_close(s);
}

/* An interval that ends exactly at the rover is tried last. */
static void test_rover_end(void **state) {
  subject_t *s = subject_open(*state, 4096);
  /* four blocks of b(48) = 64: [0,64) [64,128) [128,192) [192,256) */
  assert_alloc(s, 48, 16, 16);
  assert_alloc(s, 48, 16, 80);
  assert_alloc(s, 48, 16, 144);
  assert_alloc(s, 48, 16, 208);
  /* b(3824) = 3840 = 4096 - 256: [256, 4096), r = 4096 */
  assert_alloc(s, 3824, 16, 272);
  assert_rover(s, 4096);
  assert_no_free(s);
  /* free [64, 128) and [128, 192): one interval [64, 192) */
  assert_free(s, 80);
  assert_free(s, 144);
  assert_free_set(s, {64, 192});
  /* b(48) = 64: no interval has e > 4096, wrap: [64, 128), r = 128 */
  assert_alloc(s, 48, 16, 80);
  assert_rover(s, 128);
  /* [128, 192) has e = 192 > 128: [128, 192), r = 192 */
  assert_alloc(s, 48, 16, 144);
  assert_rover(s, 192);
  assert_no_free(s);
  /* free [64, 128), [128, 192) and [256, 4096): [64, 192) ends exactly at
   * r = 192, [256, 4096) lies beyond it */
  assert_free(s, 80);
  assert_free(s, 144);
  assert_free(s, 272);
  assert_free_set(s, {64, 192}, {256, 4096});
  assert_rover(s, 192);
  /* b(48) = 64: group one is [256, 4096) only; [64, 192) has e = r and
   * waits: block [256, 320), r = 320 */
  assert_alloc(s, 48, 16, 272);
  assert_free_set(s, {64, 192}, {320, 4096});
  assert_rover(s, 320);
  subject_close(s);
}

/* The rover at the arena's end, and the last block freed: the interval
 * that ends the arena has e = r, so it waits behind every lower one. */
static void test_rover_end_of_arena(void **state) {
  subject_t *s = subject_open(*state, 4096);
  /* [0,64) [64,128), then b(3952) = 3968: [128, 4096), r = 4096 */
  assert_alloc(s, 48, 16, 16);
  assert_alloc(s, 48, 16, 80);
  assert_alloc(s, 3952, 16, 144);
  assert_rover(s, 4096);
  /* free [128, 4096), then [0, 64) */
  assert_free(s, 144);
  assert_free(s, 16);
  assert_free_set(s, {0, 64}, {128, 4096});
  assert_rover(s, 4096);
  /* b(48) = 64: no interval has e > 4096; in ascending start [0, 64) comes
   * first: r = 64 */
  assert_alloc(s, 48, 16, 16);
  assert_rover(s, 64);
  /* [128, 4096) has e > 64 now: [128, 192), r = 192 */
  assert_alloc(s, 48, 16, 144);
  assert_rover(s, 192);
  assert_free_set(s, {192, 4096});
  subject_close(s);
}

/* The wrap-around, and a failed request leaving the rover alone. */
static void test_rover_wrap(void **state) {
  subject_t *s = subject_open(*state, 4096);
  /* [0,64) [64,128) [128,192) [192,256), r = 256 */
  assert_alloc(s, 48, 16, 16);
  assert_alloc(s, 48, 16, 80);
  assert_alloc(s, 48, 16, 144);
  assert_alloc(s, 48, 16, 208);
  /* b(3760) = 3776: [256, 4032), r = 4032; [4032, 4096) stays free */
  assert_alloc(s, 3760, 16, 272);
  assert_free_set(s, {4032, 4096});
  assert_rover(s, 4032);
  /* free [64, 128) */
  assert_free(s, 80);
  assert_free_set(s, {64, 128}, {4032, 4096});
  /* b(100) = 128: [4032, 4096) (64 bytes, e > r) and [64, 128) (64 bytes)
   * both too small: out of memory, r stays 4032 */
  assert_alloc_fails(s, 100, 16, AR_ENOMEM);
  assert_rover(s, 4032);
  /* free [128, 192): [64, 192) */
  assert_free(s, 144);
  assert_free_set(s, {64, 192}, {4032, 4096});
  assert_rover(s, 4032);
  /* b(100) = 128: group one [4032, 4096) is too small; wrap to group two,
   * [64, 192) fits exactly: block [64, 192), r = 192 */
  assert_alloc(s, 100, 16, 80);
  assert_free_set(s, {4032, 4096});
  assert_rover(s, 192);
  /* b(48) = 64: [4032, 4096) has e > 192 and fits: r = 4096 */
  assert_alloc(s, 48, 16, 4048);
  assert_no_free(s);
  assert_rover(s, 4096);
  /* nothing free: out of memory, r stays 4096 */
  assert_alloc_fails(s, 1, 16, AR_ENOMEM);
  assert_rover(s, 4096);
  /* free [0, 64) and [4032, 4096); r = 4096: both have e <= r, group two in
   * ascending start: b(1) = 32 goes to [0, 32), r = 32 */
  assert_free(s, 16);
  assert_free(s, 4048);
  assert_free_set(s, {0, 64}, {4032, 4096});
  assert_alloc(s, 1, 16, 16);
  assert_rover(s, 32);
  assert_free_set(s, {32, 64}, {4032, 4096});
  /* b(40) = 64: [32, 64) (e > 32) is 32 bytes, too small; then [4032, 4096)
   * (e > 32 too): block [4032, 4096), r = 4096 */
  assert_alloc(s, 40, 16, 4048);
  assert_rover(s, 4096);
  subject_close(s);
}

/* A failed request between two group-one intervals that do not fit and a
 * group-two interval that does not fit either: r unchanged, and the next
 * success still starts from it. */
static void test_rover_fail_keeps(void **state) {
  subject_t *s = subject_open(*state, 8192);
  /* b(2032) = 2048: [0, 2048), [2048, 4096), [4096, 6144); r = 6144 */
  assert_alloc(s, 2032, 16, 16);
  assert_alloc(s, 2032, 16, 2064);
  assert_alloc(s, 2032, 16, 4112);
  assert_rover(s, 6144);
  /* free [2048, 4096): intervals [2048, 4096) (e <= r), [6144, 8192) */
  assert_free(s, 2064);
  assert_free_set(s, {2048, 4096}, {6144, 8192});
  /* b(2048) = 2064 fits neither 2048-byte interval: out of memory */
  assert_alloc_fails(s, 2048, 16, AR_ENOMEM);
  assert_rover(s, 6144);
  /* b(1) = 32: [6144, 8192) is in group one: [6144, 6176), r = 6176 */
  assert_alloc(s, 1, 16, 6160);
  assert_rover(s, 6176);
  assert_free_set(s, {2048, 4096}, {6176, 8192});
  subject_close(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      BOTH_TESTS(test_rover_follows, NEXT),
      BOTH_TESTS(test_rover_inside, NEXT),
      BOTH_TESTS(test_rover_end, NEXT),
      BOTH_TESTS(test_rover_end_of_arena, NEXT),
      BOTH_TESTS(test_rover_wrap, NEXT),
      BOTH_TESTS(test_rover_fail_keeps, NEXT),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
