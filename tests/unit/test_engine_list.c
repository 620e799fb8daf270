/*
 * test_engine_list.c: splitting and coalescing in the four list policies,
 * worked out by hand from the placement model.
 *
 * Every scenario here allocates only while the arena holds a single free
 * interval, or one that every policy would pick alike, so first, next, best
 * and worst fit must all give the same offsets; each runs on each of them,
 * on the engine and on the reference. b(n) = round_up(n + 16, 16); the
 * block is the low end of the picked interval and the payload its start+16.
 */
#include "harness.h"

/* Splits, down to an exact fit, then frees that coalesce back. */
static void test_split(void **state) {
  subject_t *s = subject_open(*state, 4096);
  assert_free_set(s, {0, 4096});
  /* b(1) = round_up(17, 16) = 32: block [0, 32) */
  assert_alloc(s, 1, 16, 16);
  assert_free_set(s, {32, 4096});
  /* b(16) = round_up(32, 16) = 32: block [32, 64) */
  assert_alloc(s, 16, 16, 48);
  assert_free_set(s, {64, 4096});
  /* b(17) = round_up(33, 16) = 48: block [64, 112) */
  assert_alloc(s, 17, 16, 80);
  assert_free_set(s, {112, 4096});
  /* b(100) = round_up(116, 16) = 128: block [112, 240) */
  assert_alloc(s, 100, 16, 128);
  assert_free_set(s, {240, 4096});
  /* b(3840) = 3856 = 4096 - 240: the exact fit [240, 4096), no rest */
  assert_alloc(s, 3840, 16, 256);
  assert_no_free(s);
  /* b(1) = 32, nothing is free */
  assert_alloc_fails(s, 1, 16, AR_ENOMEM);

  /* [240, 4096): its left neighbour [112, 240) is allocated: no merge */
  assert_free(s, 256);
  assert_free_set(s, {240, 4096});
  /* [112, 240): merges with [240, 4096) on its right */
  assert_free(s, 128);
  assert_free_set(s, {112, 4096});
  /* [0, 32): [32, 64) is allocated, nothing on its left */
  assert_free(s, 16);
  assert_free_set(s, {0, 32}, {112, 4096});
  /* [32, 64): merges with [0, 32) on its left; [64, 112) is allocated */
  assert_free(s, 48);
  assert_free_set(s, {0, 64}, {112, 4096});
  /* [64, 112): merges on both sides, back to the whole arena */
  assert_free(s, 80);
  assert_free_set(s, {0, 4096});
  subject_close(s);
}

/* Coalescing: none, on the left, on both sides, on the right. */
static void test_coalesce(void **state) {
  subject_t *s = subject_open(*state, 4096);
  /* six blocks of b(48) = 64: A [0,64) B [64,128) C [128,192) D [192,256)
   * E [256,320) F [320,384); payloads at start + 16 */
  assert_alloc(s, 48, 16, 16);
  assert_alloc(s, 48, 16, 80);
  assert_alloc(s, 48, 16, 144);
  assert_alloc(s, 48, 16, 208);
  assert_alloc(s, 48, 16, 272);
  assert_alloc(s, 48, 16, 336);
  assert_free_set(s, {384, 4096});

  /* B: A and C are allocated, no merge */
  assert_free(s, 80);
  assert_free_set(s, {64, 128}, {384, 4096});
  /* C: merges with [64, 128) on its left; D is allocated */
  assert_free(s, 144);
  assert_free_set(s, {64, 192}, {384, 4096});
  /* E: D and F are allocated, no merge */
  assert_free(s, 272);
  assert_free_set(s, {64, 192}, {256, 320}, {384, 4096});
  /* F: [256, 320) ends at 320 and [384, 4096) starts at 384: both sides */
  assert_free(s, 336);
  assert_free_set(s, {64, 192}, {256, 4096});
  /* A: nothing on its left (offset 0), [64, 192) on its right */
  assert_free(s, 16);
  assert_free_set(s, {0, 192}, {256, 4096});
  /* D: [0, 192) on the left, [256, 4096) on the right */
  assert_free(s, 208);
  assert_free_set(s, {0, 4096});
  subject_close(s);
}

/* The rest of a split stays free however small. */
static void test_small_rest(void **state) {
  subject_t *s = subject_open(*state, 4096);
  /* one block b(4000) = round_up(4016, 16) = 4016: [0, 4016) and the rest
   * [4016, 4096) is 80 bytes */
  assert_alloc(s, 4000, 16, 16);
  assert_free_set(s, {4016, 4096});
  /* b(49) = round_up(65, 16) = 80: the exact fit [4016, 4096) */
  assert_alloc(s, 49, 16, 4032);
  assert_no_free(s);
  assert_free(s, 4032);
  /* b(48) = 64 in [4016, 4096): block [4016, 4080), the rest [4080, 4096)
   * of 16 bytes stays free though no request can use it */
  assert_alloc(s, 48, 16, 4032);
  assert_free_set(s, {4080, 4096});
  /* b(1) = 32 > 16: out of memory with 16 bytes free */
  assert_alloc_fails(s, 1, 16, AR_ENOMEM);
  /* freeing [0, 4016): [4016, 4080) is allocated, no merge */
  assert_free(s, 16);
  assert_free_set(s, {0, 4016}, {4080, 4096});
  /* freeing [4016, 4080): merges on both sides */
  assert_free(s, 4032);
  assert_free_set(s, {0, 4096});
  subject_close(s);
}

/* A larger arena: a block in the middle of three, many intervals. */
static void test_many_holes(void **state) {
  subject_t *s = subject_open(*state, 8192);
  /* 16 blocks of b(240) = 256: block i at [256 i, 256 i + 256) */
  for (uint64_t i = 0; i < 16; i++)
    assert_alloc(s, 240, 16, 256 * i + 16);
  assert_free_set(s, {4096, 8192});
  /* free the even ones: 8 holes, none coalesce */
  for (uint64_t i = 0; i < 16; i += 2)
    assert_free(s, 256 * i + 16);
  assert_free_set(s, {0, 256}, {512, 768}, {1024, 1280}, {1536, 1792},
                  {2048, 2304}, {2560, 2816}, {3072, 3328}, {3584, 3840},
                  {4096, 8192});
  /* free block 15 [3840, 4096): merges with [3584, 3840) and [4096, 8192) */
  assert_free(s, 3856);
  assert_free_set(s, {0, 256}, {512, 768}, {1024, 1280}, {1536, 1792},
                  {2048, 2304}, {2560, 2816}, {3072, 3328}, {3584, 8192});
  /* free the odd ones from 13 down to 1: each merges on both sides */
  for (int i = 13; i >= 1; i -= 2)
    assert_free(s, 256 * (uint64_t)i + 16);
  assert_free_set(s, {0, 8192});
  subject_close(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      BOTH_TESTS(test_split, FIRST),       BOTH_TESTS(test_split, NEXT),
      BOTH_TESTS(test_split, BEST),        BOTH_TESTS(test_split, WORST),
      BOTH_TESTS(test_coalesce, FIRST),    BOTH_TESTS(test_coalesce, NEXT),
      BOTH_TESTS(test_coalesce, BEST),     BOTH_TESTS(test_coalesce, WORST),
      BOTH_TESTS(test_small_rest, FIRST),  BOTH_TESTS(test_small_rest, NEXT),
      BOTH_TESTS(test_small_rest, BEST),   BOTH_TESTS(test_small_rest, WORST),
      BOTH_TESTS(test_many_holes, FIRST),  BOTH_TESTS(test_many_holes, NEXT),
      BOTH_TESTS(test_many_holes, BEST),   BOTH_TESTS(test_many_holes, WORST),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
