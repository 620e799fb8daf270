/*
 * test_engine_align.c: payload alignment above 16, worked out by hand from
 * the placement model.
 *
 * List policies: in [s, e) the block starts at p - 16 for p the lowest
 * multiple of A with p - 16 >= s, and fits when it ends by e; the front gap
 * [s, p - 16) stays free; the policies still rank intervals by s and e - s,
 * and next fit's rover becomes block start + b(n). Buddy: k = max(5,
 * ceil(log2(A + n))) and the payload is block start + A. Each scenario runs
 * on the engine and on the reference.
 */
#include "harness.h"

static void test_align_first(void **state) {
  subject_t *s = subject_open(*state, 4096);
  /* [0, 32) */
  assert_alloc(s, 1, 16, 16);
  /* A = 64 in [32, 4096): p = 64 (p - 16 = 48 >= 32), block [48, 80); the
   * front gap [32, 48) stays free */
  assert_alloc(s, 1, 64, 64);
  assert_free_set(s, {32, 48}, {80, 4096});
  /* A = 256, b(100) = 128: [32, 48) would need p = 256; in [80, 4096)
   * p = 256, block [240, 368), gap [80, 240) */
  assert_alloc(s, 100, 256, 256);
  assert_free_set(s, {32, 48}, {80, 240}, {368, 4096});
  /* A = 4096: in [368, 4096) p = 4096, block [4080, 4112) ends past 4096;
   * nothing fits */
  assert_alloc_fails(s, 1, 4096, AR_ENOMEM);
  /* A = 2048: in [368, 4096) p = 2048, block [2032, 2064) */
  assert_alloc(s, 1, 2048, 2048);
  assert_free_set(s, {32, 48}, {80, 240}, {368, 2032}, {2064, 4096});
  /* A = 32: [32, 48) needs p = 64, block [48, 80) past 48; in [80, 240)
   * p = 96, block [80, 112): no gap */
  assert_alloc(s, 1, 32, 96);
  assert_free_set(s, {32, 48}, {112, 240}, {368, 2032}, {2064, 4096});
  /* free [240, 368): merges with [112, 240) and [368, 2032) */
  assert_free(s, 256);
  assert_free_set(s, {32, 48}, {112, 2032}, {2064, 4096});
  /* free [48, 80): merges with the gap [32, 48); [80, 112) is allocated */
  assert_free(s, 64);
  assert_free_set(s, {32, 80}, {112, 2032}, {2064, 4096});
  /* free [2032, 2064): merges on both sides */
  assert_free(s, 2048);
  assert_free_set(s, {32, 80}, {112, 4096});
  /* an impossible request stays impossible with any alignment */
  assert_alloc_fails(s, (uint64_t)INT64_MAX, 4096, AR_ENOMEM);
  subject_close(s);
}

static void test_align_4096(void **state) {
  subject_t *s = subject_open(*state, 8192);
  /* A = 4096 in [0, 8192): p = 4096, block [4080, 4112), gap [0, 4080) */
  assert_alloc(s, 1, 4096, 4096);
  assert_free_set(s, {0, 4080}, {4112, 8192});
  /* b(4000) = 4016 in the gap: [0, 4016) */
  assert_alloc(s, 4000, 16, 16);
  assert_free_set(s, {4016, 4080}, {4112, 8192});
  /* A = 4096: [4016, 4080) no; [4112, 8192): p = 8192, block [8176, 8208)
   * ends past 8192: out of memory */
  assert_alloc_fails(s, 1, 4096, AR_ENOMEM);
  /* A = 2048: [4016, 4080) needs p = 4096 (block [4080, 4112)), no;
   * [4112, 8192): p = 6144, block [6128, 6160) */
  assert_alloc(s, 1, 2048, 6144);
  assert_free_set(s, {4016, 4080}, {4112, 6128}, {6160, 8192});
  subject_close(s);
}

static void test_align_next(void **state) {
  subject_t *s = subject_open(*state, 4096);
  /* [0, 32), r = 32 */
  assert_alloc(s, 1, 16, 16);
  /* A = 256: p = 256, block [240, 272): r = 240 + b = 272, not p + n */
  assert_alloc(s, 1, 256, 256);
  assert_rover(s, 272);
  assert_free_set(s, {32, 240}, {272, 4096});
  /* [32, 240) has e <= 272: group one is [272, 4096): [272, 304) */
  assert_alloc(s, 1, 16, 288);
  assert_rover(s, 304);
  /* A = 128 in [304, 4096): p = 384, block [368, 400), r = 400 */
  assert_alloc(s, 1, 128, 384);
  assert_rover(s, 400);
  assert_free_set(s, {32, 240}, {304, 368}, {400, 4096});
  /* a failed aligned request leaves r alone */
  assert_alloc_fails(s, 1, 4096, AR_ENOMEM);
  assert_rover(s, 400);
  subject_close(s);
}

/* The holes of test_engine_fit.c's X layout, freed in ascending order:
 * free [64,192) [256,320) [384,512) [576,640) [704,4096). */
static subject_t *open_x(void **state) {
  subject_t *s = subject_open(*state, 4096);
  static const uint64_t n[] = {48, 112, 48, 48, 48, 112, 48, 48, 48};
  static const uint64_t p[] = {16, 80, 208, 272, 336, 400, 528, 592, 656};
  for (size_t i = 0; i < 9; i++)
    assert_alloc(s, n[i], 16, p[i]);
  assert_free(s, 80);
  assert_free(s, 272);
  assert_free(s, 400);
  assert_free(s, 592);
  assert_free_set(s, {64, 192}, {256, 320}, {384, 512}, {576, 640},
                  {704, 4096});
  return s;
}

static void test_align_best(void **state) {
  subject_t *s = open_x(state);
  /* A = 64, b = 32: [64,192): p = 128, block [112,144) fits; [256,320):
   * p = 320, [304,336) no; [384,512): p = 448, [432,464) fits; [576,640):
   * p = 640, [624,656) no; the tail fits. Smallest fitting: the 128s tie,
   * [64, 192): block [112, 144), gap [64, 112) and rest [144, 192) */
  assert_alloc(s, 1, 64, 128);
  assert_free_set(s, {64, 112}, {144, 192}, {256, 320}, {384, 512},
                  {576, 640}, {704, 4096});
  /* A = 64: [64,112): p = 128, [112,144) no; [144,192): p = 192, [176,208)
   * no; [384,512) fits at [432,464): the smallest that fits */
  assert_alloc(s, 1, 64, 448);
  assert_free_set(s, {64, 112}, {144, 192}, {256, 320}, {384, 432},
                  {464, 512}, {576, 640}, {704, 4096});
  /* A = 16, b = 32: sizes 48 48 64 48 48 64 3392: the 48s tie, [64, 112) */
  assert_alloc(s, 1, 16, 80);
  assert_free_set(s, {96, 112}, {144, 192}, {256, 320}, {384, 432},
                  {464, 512}, {576, 640}, {704, 4096});
  subject_close(s);
}

static void test_align_worst(void **state) {
  subject_t *s = subject_open(*state, 4096);
  /* the Y layout of test_engine_fit.c: free [0,1024) [1088,2112)
   * [2176,3200) [3264,4096) */
  static const uint64_t n[] = {1008, 48, 1008, 48, 1008, 48};
  static const uint64_t p[] = {16, 1040, 1104, 2128, 2192, 3216};
  for (size_t i = 0; i < 6; i++)
    assert_alloc(s, n[i], 16, p[i]);
  assert_free(s, 16);
  assert_free(s, 1104);
  assert_free(s, 2192);
  assert_free_set(s, {0, 1024}, {1088, 2112}, {2176, 3200}, {3264, 4096});
  /* A = 1024, b = 32: [0,1024): p = 1024, [1008,1040) no; [1088,2112):
   * p = 2048, [2032,2064) fits; [2176,3200): p = 3072, [3056,3088) fits;
   * [3264,4096): p = 4096 no. The largest fitting: 1024s tie, [1088,2112)
   * though [0, 1024) is as large and lower */
  assert_alloc(s, 1, 1024, 2048);
  assert_free_set(s, {0, 1024}, {1088, 2032}, {2064, 2112}, {2176, 3200},
                  {3264, 4096});
  /* A = 1024 again: only [2176, 3200) fits: [3056, 3088) */
  assert_alloc(s, 1, 1024, 3072);
  assert_free_set(s, {0, 1024}, {1088, 2032}, {2064, 2112}, {2176, 3056},
                  {3088, 3200}, {3264, 4096});
  /* A = 16: the largest, [0, 1024) */
  assert_alloc(s, 1, 16, 16);
  subject_close(s);
}

static void test_align_buddy(void **state) {
  subject_t *s = subject_open(*state, 4096);
  /* A = 64, n = 1: k = ceil(log2(65)) = 7: split 12 -> 7, block [0, 128),
   * payload 0 + 64 */
  assert_alloc(s, 1, 64, 64);
  assert_free_set(s, {128, 256}, {256, 512}, {512, 1024}, {1024, 2048},
                  {2048, 4096});
  /* A = 32, n = 16: k = ceil(log2(48)) = 6: split [128, 256), block
   * [128, 192), payload 160 */
  assert_alloc(s, 16, 32, 160);
  /* A = 32, n = 4000: k = ceil(log2(4032)) = 12: no order 12 */
  assert_alloc_fails(s, 4000, 32, AR_ENOMEM);
  /* A = 2048, n = 1: k = ceil(log2(2049)) = 12 */
  assert_alloc_fails(s, 1, 2048, AR_ENOMEM);
  /* A = 1024, n = 1000: k = ceil(log2(2024)) = 11: [2048, 4096), payload
   * 2048 + 1024 */
  assert_alloc(s, 1000, 1024, 3072);
  /* A = 16, b(48) = 64, k = 6: [192, 256) */
  assert_alloc(s, 48, 16, 208);
  assert_free_set(s, {256, 512}, {512, 1024}, {1024, 2048});
  /* the block [0, 128) has its payload at 64: 16 (start + 16), 48 (its
   * header) and 0 are not payloads */
  assert_free_fails(s, 16);
  assert_free_fails(s, 48);
  assert_free_fails(s, 0);
  assert_free_fails(s, 2064);
  /* free [0, 128) o7: buddy [128, 256) is not whole */
  assert_free(s, 64);
  assert_free_set(s, {0, 128}, {256, 512}, {512, 1024}, {1024, 2048});
  /* free [128, 192) o6: buddy [192, 256) allocated */
  assert_free(s, 160);
  /* free [192, 256): merges 6 -> 11, [0, 2048); [2048, 4096) allocated */
  assert_free(s, 208);
  assert_free_set(s, {0, 2048});
  assert_free(s, 3072);
  assert_free_set(s, {0, 4096});
  /* A = 2048, n = 2048: k = ceil(log2(4096)) = 12: the whole arena,
   * payload 2048 */
  assert_alloc(s, 2048, 2048, 2048);
  assert_no_free(s);
  subject_close(s);
}

/* The order of a buddy block depends on A + n, not on b(n). */
static void test_align_buddy_order(void **state) {
  subject_t *s = subject_open(*state, 4096);
  /* A = 16, n = 16: b = 32, k = 5: [0, 32) */
  assert_alloc(s, 16, 16, 16);
  /* A = 32, n = 16: 48, k = 6: [64, 128), payload 96 */
  assert_alloc(s, 16, 32, 96);
  assert_free_set(s, {32, 64}, {128, 256}, {256, 512}, {512, 1024},
                  {1024, 2048}, {2048, 4096});
  /* A = 32, n = 4080: b(4080) = 4096 would fit, but 4112 > 4096: k = 13 */
  assert_alloc_fails(s, 4080, 32, AR_ENOMEM);
  /* A = 4096, n = 16: k = 13 */
  assert_alloc_fails(s, 16, 4096, AR_ENOMEM);
  /* A = 32, n = 1: 33, k = 6: no order 6 free, [128, 256) splits:
   * block [128, 192), payload 160, [192, 256) free */
  assert_alloc(s, 1, 32, 160);
  /* A = 1024, n = 1: 1025, k = 11: [2048, 4096), payload 3072 */
  assert_alloc(s, 1, 1024, 3072);
  /* A = 512, n = 512: 1024, k = 10: [1024, 2048), payload 1536 */
  assert_alloc(s, 512, 512, 1536);
  assert_free_set(s, {32, 64}, {192, 256}, {256, 512}, {512, 1024});
  subject_close(s);
}

/* The free set after n blocks at A = 64 from [0, end): the gaps the
 * blocks left, [0, 48) and [80 + 64i, 112 + 64i), and the rest
 * [16 + 64n, end); then [after, 65536) when `after` is not 0. */
static void assert_gaps(subject_t *s, unsigned n, uint64_t end,
                        uint64_t after) {
  ar_ref_span_t got[64];
  size_t want = n + 1 + (after != 0);
  assert_true(want <= 64);
  assert_int_equal(subject_free_set(s, got, 64), want);
  assert_int_equal(got[0].start, 0);
  assert_int_equal(got[0].end, 48);
  for (unsigned i = 1; i < n; i++) {
    assert_int_equal(got[i].start, 80 + 64 * (uint64_t)(i - 1));
    assert_int_equal(got[i].end, 112 + 64 * (uint64_t)(i - 1));
  }
  assert_int_equal(got[n].start, 16 + 64 * (uint64_t)n);
  assert_int_equal(got[n].end, end);
  if (after) {
    assert_int_equal(got[n + 1].start, after);
    assert_int_equal(got[n + 1].end, 65536);
  }
}

/* Blocks in a row at A = 64, each leaving a front gap of its own that no
 * later one fits in: b(16) = 32, and in [s, e) with s = 16 (mod 64) past
 * the first, p = s + 48, the block [s + 32, s + 64), the gap [s, s + 32).
 * So every allocation adds a free interval and frees none: 40 of them in
 * address order, more than one node of the address index holds, which
 * the allocations alone must make room for. First from the rest of the
 * arena, then in a fresh arena from a free interval [0, 8192) below a
 * live block, which each allocation splits in three. */
static void test_align_many_gaps(void **state) {
  enum { N = 40 };
  subject_t *s = subject_open(*state, 65536);
  /* [0, 48) stays free, block [48, 80), then one every 64 bytes */
  for (unsigned i = 0; i < N; i++)
    assert_alloc(s, 16, 64, 64 * (uint64_t)(i + 1));
  assert_gaps(s, N, 65536, 0);
  subject_close(s);

  s = subject_open(*state, 65536);
  /* b(8176) = 8192: [0, 8192); b(16) = 32: [8192, 8224); the first freed */
  assert_alloc(s, 8176, 16, 16);
  assert_alloc(s, 16, 16, 8208);
  assert_free(s, 16);
  for (unsigned i = 0; i < N; i++)
    assert_alloc(s, 16, 64, 64 * (uint64_t)(i + 1));
  assert_gaps(s, N, 8192, 8224);
  subject_close(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      BOTH_TESTS(test_align_first, FIRST),
      BOTH_TESTS(test_align_4096, FIRST),
      BOTH_TESTS(test_align_next, NEXT),
      BOTH_TESTS(test_align_best, BEST),
      BOTH_TESTS(test_align_worst, WORST),
      BOTH_TESTS(test_align_many_gaps, FIRST),
      BOTH_TESTS(test_align_many_gaps, BEST),
      BOTH_TESTS(test_align_buddy, BUDDY),
      BOTH_TESTS(test_align_buddy_order, BUDDY),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
