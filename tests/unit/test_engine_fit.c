/*
 * test_engine_fit.c: best and worst fit, their ties broken by the lowest
 * start, worked out by hand from the placement model.
 *
 * The holes are made by allocating blocks while the arena is one interval
 * (every policy then takes the low end) and freeing some. Each scenario
 * frees its holes once in ascending and once in descending address order,
 * so an engine that breaks ties by recency (a LIFO or FIFO bucket) instead
 * of by start fails one of the two. Each runs on the engine and on the
 * reference.
 */
#include "harness.h"

typedef struct fit_case_s {
  subject_kind_t kind;
  bool descending; /* free the holes from the highest down */
} fit_case_t;

#define FIT_TEST(fn, POL, IMPL, DESC)                                          \
  {#fn " " #POL " " #IMPL " " #DESC, fn, NULL, NULL,                           \
   &(fit_case_t){{IMPL_##IMPL, AR_POLICY_##POL}, DESC}}
#define FIT_TESTS(fn, POL)                                                     \
  FIT_TEST(fn, POL, ENGINE, false), FIT_TEST(fn, POL, ENGINE, true),           \
      FIT_TEST(fn, POL, REF, false), FIT_TEST(fn, POL, REF, true)

static void free_in_order(subject_t *s, const uint64_t *payloads, size_t n,
                          bool descending) {
  for (size_t i = 0; i < n; i++)
    assert_free(s, payloads[descending ? n - 1 - i : i]);
}

/*
 * Holes of 128, 64, 128, 64 bytes, then the tail:
 *   X1 [0,64) X2 [64,192) X3 [192,256) X4 [256,320) X5 [320,384)
 *   X6 [384,512) X7 [512,576) X8 [576,640) X9 [640,704), free [704,4096)
 * (b(48) = 64, b(112) = 128), then X2, X4, X6, X8 freed.
 */
static subject_t *open_x(void **state) {
  const fit_case_t *c = *state;
  subject_t *s = subject_open(&c->kind, 4096);
  static const uint64_t n[] = {48, 112, 48, 48, 48, 112, 48, 48, 48};
  static const uint64_t p[] = {16, 80, 208, 272, 336, 400, 528, 592, 656};
  for (size_t i = 0; i < 9; i++)
    assert_alloc(s, n[i], 16, p[i]);
  assert_free_set(s, {704, 4096});
  static const uint64_t holes[] = {80, 272, 400, 592};
  free_in_order(s, holes, 4, c->descending);
  assert_free_set(s, {64, 192}, {256, 320}, {384, 512}, {576, 640},
                  {704, 4096});
  return s;
}

/*
 * Three holes of 1024 bytes and a smaller tail:
 *   Y1 [0,1024) Y2 [1024,1088) Y3 [1088,2112) Y4 [2112,2176)
 *   Y5 [2176,3200) Y6 [3200,3264), free [3264,4096) (832 bytes)
 * (b(1008) = 1024, b(48) = 64), then Y1, Y3, Y5 freed.
 */
static subject_t *open_y(void **state) {
  const fit_case_t *c = *state;
  subject_t *s = subject_open(&c->kind, 4096);
  static const uint64_t n[] = {1008, 48, 1008, 48, 1008, 48};
  static const uint64_t p[] = {16, 1040, 1104, 2128, 2192, 3216};
  for (size_t i = 0; i < 6; i++)
    assert_alloc(s, n[i], 16, p[i]);
  assert_free_set(s, {3264, 4096});
  static const uint64_t holes[] = {16, 1104, 2192};
  free_in_order(s, holes, 3, c->descending);
  assert_free_set(s, {0, 1024}, {1088, 2112}, {2176, 3200}, {3264, 4096});
  return s;
}

static void test_best_x(void **state) {
  subject_t *s = open_x(state);
  /* b(48) = 64: the smallest fitting size is 64, [256,320) and [576,640)
   * tie: the lower, [256, 320), exactly (first fit would take [64, 128)) */
  assert_alloc(s, 48, 16, 272);
  assert_free_set(s, {64, 192}, {384, 512}, {576, 640}, {704, 4096});
  /* b(48) = 64: [576, 640) is now the only 64 */
  assert_alloc(s, 48, 16, 592);
  assert_free_set(s, {64, 192}, {384, 512}, {704, 4096});
  /* b(64) = 80: 128 is the smallest, [64,192) and [384,512) tie: [64, 192);
   * block [64, 144), rest [144, 192) */
  assert_alloc(s, 64, 16, 80);
  assert_free_set(s, {144, 192}, {384, 512}, {704, 4096});
  /* b(17) = 48: the exact fit [144, 192) */
  assert_alloc(s, 17, 16, 160);
  assert_free_set(s, {384, 512}, {704, 4096});
  /* b(200) = 224: [384, 512) is too small, only the tail fits */
  assert_alloc(s, 200, 16, 720);
  assert_free_set(s, {384, 512}, {928, 4096});
  subject_close(s);
}

static void test_best_y(void **state) {
  subject_t *s = open_y(state);
  /* b(900) = round_up(916, 16) = 928: the tail (832) does not fit; three
   * fitting 1024s tie: [0, 1024) */
  assert_alloc(s, 900, 16, 16);
  assert_free_set(s, {928, 1024}, {1088, 2112}, {2176, 3200}, {3264, 4096});
  /* again: [1088, 2112) */
  assert_alloc(s, 900, 16, 1104);
  assert_free_set(s, {928, 1024}, {2016, 2112}, {2176, 3200}, {3264, 4096});
  /* b(48) = 64: sizes 96, 96, 1024, 832: the 96s tie, [928, 1024) */
  assert_alloc(s, 48, 16, 944);
  assert_free_set(s, {992, 1024}, {2016, 2112}, {2176, 3200}, {3264, 4096});
  /* b(1) = 32: the exact fit [992, 1024) beats the 96 at 2016 */
  assert_alloc(s, 1, 16, 1008);
  assert_free_set(s, {2016, 2112}, {2176, 3200}, {3264, 4096});
  subject_close(s);
}

static void test_worst_y(void **state) {
  subject_t *s = open_y(state);
  /* b(48) = 64: the largest, 1024, three-way tie: [0, 1024) */
  assert_alloc(s, 48, 16, 16);
  assert_free_set(s, {64, 1024}, {1088, 2112}, {2176, 3200}, {3264, 4096});
  /* sizes 960, 1024, 1024, 832: tie of two 1024s: [1088, 2112) */
  assert_alloc(s, 48, 16, 1104);
  assert_free_set(s, {64, 1024}, {1152, 2112}, {2176, 3200}, {3264, 4096});
  /* sizes 960, 960, 1024, 832: [2176, 3200) */
  assert_alloc(s, 48, 16, 2192);
  assert_free_set(s, {64, 1024}, {1152, 2112}, {2240, 3200}, {3264, 4096});
  /* sizes 960, 960, 960, 832: three-way tie again: [64, 1024) */
  assert_alloc(s, 48, 16, 80);
  assert_free_set(s, {128, 1024}, {1152, 2112}, {2240, 3200}, {3264, 4096});
  /* sizes 896, 960, 960, 832: [1152, 2112) */
  assert_alloc(s, 48, 16, 1168);
  assert_free_set(s, {128, 1024}, {1216, 2112}, {2240, 3200}, {3264, 4096});
  /* b(944) = 960 fits only [2240, 3200), the one 960 left: exact fit */
  assert_alloc(s, 944, 16, 2256);
  assert_free_set(s, {128, 1024}, {1216, 2112}, {3264, 4096});
  /* b(897) = round_up(913, 16) = 928: sizes 896, 896, 832: none fits */
  assert_alloc_fails(s, 897, 16, AR_ENOMEM);
  subject_close(s);
}

static void test_worst_x(void **state) {
  subject_t *s = open_x(state);
  /* b(1) = 32: the tail [704, 4096) is the largest */
  assert_alloc(s, 1, 16, 720);
  assert_free_set(s, {64, 192}, {256, 320}, {384, 512}, {576, 640},
                  {736, 4096});
  /* b(3344) = 3360 = 4096 - 736: the tail exactly */
  assert_alloc(s, 3344, 16, 752);
  assert_free_set(s, {64, 192}, {256, 320}, {384, 512}, {576, 640});
  /* b(1) = 32: 128s tie, [64, 192): block [64, 96) */
  assert_alloc(s, 1, 16, 80);
  assert_free_set(s, {96, 192}, {256, 320}, {384, 512}, {576, 640});
  /* sizes 96, 64, 128, 64: [384, 512) */
  assert_alloc(s, 1, 16, 400);
  assert_free_set(s, {96, 192}, {256, 320}, {416, 512}, {576, 640});
  /* sizes 96, 64, 96, 64: tie, [96, 192) */
  assert_alloc(s, 1, 16, 112);
  assert_free_set(s, {128, 192}, {256, 320}, {416, 512}, {576, 640});
  /* sizes 64, 64, 96, 64: [416, 512) */
  assert_alloc(s, 1, 16, 432);
  /* sizes 64, 64, 64, 64: four-way tie, [128, 192) */
  assert_alloc(s, 1, 16, 144);
  assert_free_set(s, {160, 192}, {256, 320}, {448, 512}, {576, 640});
  subject_close(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      FIT_TESTS(test_best_x, BEST),
      FIT_TESTS(test_best_y, BEST),
      FIT_TESTS(test_worst_y, WORST),
      FIT_TESTS(test_worst_x, WORST),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
