/*
 * test_engine_walk.c: ar_engine_walk, page by page: small pages, the cursor
 * each page returns, free_only against the full walk, a cursor in the
 * middle of a piece (for buddy too), a cursor from an earlier page used
 * after the arena has changed, and the errors (max == 0, a cursor beyond the
 * arena).
 *
 * The contract (engine.h): a page holds the pieces that start at or after
 * the cursor, in address order, at most max of them; *next is the cursor of
 * the following page, the arena's size when the walk is over (or, for a
 * cursor inside a block whose end is far to find, an empty page whose
 * *next lies past the cursor, where the search goes on). So after a
 * full page, next lies after the last piece's start and at or before the
 * following piece's start; after a short page, next is the size. Engine
 * only: the reference has no walk.
 */
#include "harness.h"

#include <inttypes.h>
#include <string.h>

#define ENGINE_TEST(fn, POL) SUBJECT_TEST(fn, POL, ENGINE)

/* A piece as expected: free ones compare on start and size only. */
#define FREE(s, e)                                                             \
  { .start = (s), .size = (e) - (s), .free = true }
#define USED(s, e, p, nn)                                                      \
  { .start = (s), .size = (e) - (s), .free = false, .payload = (p), .n = (nn) }

/* One call: the page must be exactly want[], and next within
 * [next_lo, next_hi]. Returns next. */
#define assert_page(e, fo, cur, max, lo, hi, ...)                              \
  assert_page_((e), (fo), (cur), (max), (lo), (hi),                            \
               (const ar_extent_t[]){__VA_ARGS__},                             \
               sizeof((const ar_extent_t[]){__VA_ARGS__}) /                    \
                   sizeof(ar_extent_t),                                        \
               __FILE__, __LINE__)
#define assert_empty_page(e, fo, cur, max)                                     \
  assert_page_((e), (fo), (cur), (max), ar_engine_size(e),                     \
               ar_engine_size(e), NULL, 0, __FILE__, __LINE__)
static uint64_t assert_page_(const ar_engine_t *e, bool free_only,
                             uint64_t cursor, size_t max, uint64_t next_lo,
                             uint64_t next_hi, const ar_extent_t *want,
                             size_t nwant, const char *file, int line) {
  ar_extent_t got[32];
  size_t count = 12345;
  uint64_t next = 777;
  assert_true(max <= 32);
  int rc = ar_engine_walk(e, free_only, cursor, got, max, &count, &next);
  bool ok = rc == AR_OK && count == nwant && next >= next_lo &&
            next <= next_hi;
  for (size_t i = 0; ok && i < nwant; i++) {
    ok = got[i].start == want[i].start && got[i].size == want[i].size &&
         got[i].free == want[i].free;
    if (ok && !want[i].free)
      ok = got[i].payload == want[i].payload && got[i].n == want[i].n;
  }
  if (ok)
    return next;
  print_error("walk(free_only=%d, cursor=%" PRIu64 ", max=%zu): rc %s, "
              "count %zu, next %" PRIu64 " (want %zu pieces, next in [%" PRIu64
              ", %" PRIu64 "])\n",
              free_only, cursor, max, ar_err_name(rc), count, next, nwant,
              next_lo, next_hi);
  for (size_t i = 0; rc == AR_OK && i < count && i < max; i++)
    print_error("  got  [%" PRIu64 ", +%" PRIu64 ") %s payload %" PRIu64
                " n %" PRIu64 "\n",
                got[i].start, got[i].size, got[i].free ? "free" : "used",
                got[i].payload, got[i].n);
  for (size_t i = 0; i < nwant; i++)
    print_error("  want [%" PRIu64 ", +%" PRIu64 ") %s\n", want[i].start,
                want[i].size, want[i].free ? "free" : "used");
  _fail(file, line);
  return 0;
}

/*
 * [0,32) n 1, [32,160) free, [160,208) n 17, [208,272) n 48, [272,4096)
 * free: b(1) = 32, b(100) = 128 (freed), b(17) = 48, b(48) = 64. Every list
 * policy places these alike (one interval each time).
 */
static subject_t *open_layout(void **state) {
  subject_t *s = subject_open(*state, 4096);
  assert_alloc(s, 1, 16, 16);
  assert_alloc(s, 100, 16, 48);
  assert_alloc(s, 17, 16, 176);
  assert_alloc(s, 48, 16, 224);
  assert_free(s, 48);
  return s;
}

static void test_walk_pages(void **state) {
  subject_t *s = open_layout(state);
  const ar_engine_t *e = subject_engine(s);
  /* one page holds everything: a short page, next = size */
  assert_page(e, false, 0, 8, 4096, 4096, USED(0, 32, 16, 1), FREE(32, 160),
              USED(160, 208, 176, 17), USED(208, 272, 224, 48),
              FREE(272, 4096));
  /* pages of 2: after [32, 160), next in (32, 160] */
  uint64_t c = assert_page(e, false, 0, 2, 33, 160, USED(0, 32, 16, 1),
                           FREE(32, 160));
  c = assert_page(e, false, c, 2, 209, 272, USED(160, 208, 176, 17),
                  USED(208, 272, 224, 48));
  assert_page(e, false, c, 2, 4096, 4096, FREE(272, 4096));
  /* pages of 1 */
  c = assert_page(e, false, 0, 1, 1, 32, USED(0, 32, 16, 1));
  c = assert_page(e, false, c, 1, 33, 160, FREE(32, 160));
  c = assert_page(e, false, c, 1, 161, 208, USED(160, 208, 176, 17));
  c = assert_page(e, false, c, 1, 209, 272, USED(208, 272, 224, 48));
  /* the last piece: a full page of 1, next may be its end or the size */
  c = assert_page(e, false, c, 1, 273, 4096, FREE(272, 4096));
  if (c < 4096)
    assert_empty_page(e, false, c, 1);
  /* exactly 5 in a page of 5 */
  c = assert_page(e, false, 0, 5, 273, 4096, USED(0, 32, 16, 1),
                  FREE(32, 160), USED(160, 208, 176, 17),
                  USED(208, 272, 224, 48), FREE(272, 4096));
  if (c < 4096)
    assert_empty_page(e, false, c, 5);
  subject_close(s);
}

static void test_walk_free_only(void **state) {
  subject_t *s = open_layout(state);
  const ar_engine_t *e = subject_engine(s);
  assert_page(e, true, 0, 8, 4096, 4096, FREE(32, 160), FREE(272, 4096));
  /* pages of 1: after [32, 160) the next free piece is at 272 */
  uint64_t c = assert_page(e, true, 0, 1, 33, 272, FREE(32, 160));
  c = assert_page(e, true, c, 1, 273, 4096, FREE(272, 4096));
  if (c < 4096)
    assert_empty_page(e, true, c, 1);
  /* a cursor inside a piece: only the pieces that start at or after it */
  assert_page(e, true, 100, 8, 4096, 4096, FREE(272, 4096));
  assert_page(e, true, 272, 8, 4096, 4096, FREE(272, 4096));
  assert_empty_page(e, true, 273, 8);
  assert_page(e, false, 33, 8, 4096, 4096, USED(160, 208, 176, 17),
              USED(208, 272, 224, 48), FREE(272, 4096));
  assert_page(e, false, 160, 8, 4096, 4096, USED(160, 208, 176, 17),
              USED(208, 272, 224, 48), FREE(272, 4096));
  /* inside a block, on a grain and off one: from the block's end */
  assert_page(e, false, 176, 8, 4096, 4096, USED(208, 272, 224, 48),
              FREE(272, 4096));
  assert_page(e, false, 215, 8, 4096, 4096, FREE(272, 4096));
  assert_page(e, true, 215, 8, 4096, 4096, FREE(272, 4096));
  assert_empty_page(e, false, 4000, 8);
  subject_close(s);
}

/* A cursor inside the last of a run of blocks, off a grain: the page
 * starts at that block's end (the search backward from the cursor, which
 * finds it long before the walk from the run's start, must look at the
 * cursor's own grain first). */
static void test_walk_cursor_in_long_run(void **state) {
  subject_t *s = subject_open(*state, 4096);
  const ar_engine_t *e = subject_engine(s);
  ar_block_t b[40];
  for (int i = 0; i < 40; i++) /* b(16) = 32: [32 i, 32 i + 32) */
    assert_ar_ok(subject_alloc(s, 16, 16, &b[i]));
  assert_int_equal(b[39].start, 39 * 32);
  assert_page(e, false, b[39].start + 5, 1, 4096, 4096, FREE(40 * 32, 4096));
  assert_page(e, false, b[38].start + 21, 1, 40 * 32, 40 * 32,
              USED(39 * 32, 40 * 32, 39 * 32 + 16, 16));
  assert_page(e, false, b[20].start + 16, 1, 22 * 32, 22 * 32,
              USED(21 * 32, 22 * 32, 21 * 32 + 16, 16));
  subject_close(s);
}

/* A cursor in the middle of a block of 8 MiB that comes after 40,000
 * small blocks: no search finds the block's end within the walk's bound
 * (the blocks from the run's start, the grains back to the block's start,
 * the grains on to its end), so each page comes back empty, its cursor on
 * past the one given, until the page that starts at the block's end. A
 * single walk used to search the whole way (for seconds, in a daemon's
 * loop, with millions of blocks). Near the block's end the grains on find
 * it at once. */
static void test_walk_cursor_in_far_block(void **state) {
  const uint64_t size = UINT64_C(64) << 20, big = UINT64_C(8) << 20;
  subject_t *s = subject_open(*state, size);
  ar_engine_t *e = subject_engine(s);
  ar_block_t b; /* on the engine itself: no self-check after each */
  for (int i = 0; i < 40000; i++)
    assert_ar_ok(ar_engine_alloc(e, 16, 16, &b));
  assert_ar_ok(ar_engine_alloc(e, big - AR_HDR, 16, &b));
  assert_int_equal(b.start, 40000 * 32);
  uint64_t end = b.start + big;
  assert_page(e, false, end - 40, 4, size, size, FREE(end, size));

  uint64_t c = b.start + big / 2 + 5;
  int empty = 0;
  for (;;) {
    ar_extent_t got[4];
    size_t count;
    uint64_t next;
    assert_ar_ok(ar_engine_walk(e, false, c, got, 4, &count, &next));
    if (count > 0) {
      assert_int_equal(count, 1);
      assert_int_equal(got[0].start, end);
      assert_true(got[0].free);
      break;
    }
    if (next <= c || next > end)
      fail_msg("an empty page from %" PRIu64 " leads to %" PRIu64
               ", not into (cursor, %" PRIu64 "]",
               c, next, end);
    c = next;
    empty++;
  }
  assert_true(empty > 0);
  subject_close(s);
}

static void test_walk_errors(void **state) {
  subject_t *s = open_layout(state);
  const ar_engine_t *e = subject_engine(s);
  ar_extent_t buf[4];
  size_t count;
  uint64_t next;
  /* max == 0 */
  assert_ar_rc(ar_engine_walk(e, false, 0, buf, 0, &count, &next), AR_EINVAL);
  assert_ar_rc(ar_engine_walk(e, true, 0, buf, 0, &count, &next), AR_EINVAL);
  /* cursors beyond the arena */
  assert_ar_rc(ar_engine_walk(e, false, 4097, buf, 4, &count, &next),
               AR_EINVAL);
  assert_ar_rc(ar_engine_walk(e, true, 4112, buf, 4, &count, &next),
               AR_EINVAL);
  assert_ar_rc(ar_engine_walk(e, false, UINT64_MAX, buf, 4, &count, &next),
               AR_EINVAL);
  /* the cursor a finished walk returns, the size, is not beyond it */
  assert_empty_page(e, false, 4096, 4);
  assert_empty_page(e, true, 4096, 4);
  engine_verify(e);
  subject_close(s);
}

/* A cursor from an earlier page stays valid while the arena changes. */
static void test_walk_cursor_survives(void **state) {
  subject_t *s = open_layout(state);
  const ar_engine_t *e = subject_engine(s);
  uint64_t c = assert_page(e, false, 0, 2, 33, 160, USED(0, 32, 16, 1),
                           FREE(32, 160));
  uint64_t f = assert_page(e, true, 0, 1, 33, 272, FREE(32, 160));
  /* free [160, 208): [32, 208) now starts before both cursors */
  assert_free(s, 176);
  /* b(1000) = 1024: [32, 208) is too small for every policy; the block is
   * [272, 1296) (next fit: the rover 272 is the start of [272, 4096)) */
  assert_alloc(s, 1000, 16, 288);
  assert_free_set(s, {32, 208}, {1296, 4096});
  assert_page(e, false, c, 8, 4096, 4096, USED(208, 272, 224, 48),
              USED(272, 1296, 288, 1000), FREE(1296, 4096));
  assert_page(e, true, f, 8, 4096, 4096, FREE(1296, 4096));
  /* free [0, 32): merges into [0, 208), still before the cursors */
  assert_free(s, 16);
  assert_page(e, true, f, 8, 4096, 4096, FREE(1296, 4096));
  assert_page(e, true, 0, 8, 4096, 4096, FREE(0, 208), FREE(1296, 4096));
  /* free everything: one piece at 0, nothing at or after the cursors */
  assert_free(s, 224);
  assert_free(s, 288);
  assert_empty_page(e, false, c, 8);
  assert_empty_page(e, true, f, 8);
  assert_page(e, false, 0, 8, 4096, 4096, FREE(0, 4096));
  subject_close(s);
}

static void test_walk_buddy(void **state) {
  subject_t *s = subject_open(*state, 4096);
  const ar_engine_t *e = subject_engine(s);
  /* k = 5 [0, 32); b(100) = 128, k = 7 [128, 256); A = 64, n = 1: k = 7,
   * no order 7 left: [256, 512) splits, block [256, 384), payload 320 */
  assert_alloc(s, 1, 16, 16);
  assert_alloc(s, 100, 16, 144);
  assert_alloc(s, 1, 64, 320);
  assert_page(e, false, 0, 16, 4096, 4096, USED(0, 32, 16, 1), FREE(32, 64),
              FREE(64, 128), USED(128, 256, 144, 100), USED(256, 384, 320, 1),
              FREE(384, 512), FREE(512, 1024), FREE(1024, 2048),
              FREE(2048, 4096));
  /* pages of 4: adjacent free blocks are separate pieces */
  uint64_t c = assert_page(e, false, 0, 4, 129, 256, USED(0, 32, 16, 1),
                           FREE(32, 64), FREE(64, 128),
                           USED(128, 256, 144, 100));
  c = assert_page(e, false, c, 4, 1025, 2048, USED(256, 384, 320, 1),
                  FREE(384, 512), FREE(512, 1024), FREE(1024, 2048));
  assert_page(e, false, c, 4, 4096, 4096, FREE(2048, 4096));
  /* free only, pages of 3 */
  c = assert_page(e, true, 0, 3, 385, 512, FREE(32, 64), FREE(64, 128),
                  FREE(384, 512));
  assert_page(e, true, c, 3, 2049, 4096, FREE(512, 1024), FREE(1024, 2048),
              FREE(2048, 4096));
  /* free [0, 32): merges to [0, 128); the cursor c (after 384) holds */
  assert_free(s, 16);
  assert_page(e, true, c, 8, 4096, 4096, FREE(512, 1024), FREE(1024, 2048),
              FREE(2048, 4096));
  assert_page(e, true, 0, 2, 385, 512, FREE(0, 128), FREE(384, 512));
  subject_close(s);
}

/* Buddy, a cursor in the middle of a piece (the blocks are aligned to
 * their size, so the piece that holds a cursor starts at the cursor
 * rounded down to some order): in the free block [128, 256), the free list
 * goes on from the next free block at or after the cursor, not the one
 * that holds it; in the block [256, 512), of order 8, the full walk goes
 * on from the block's end, although the cursor rounded down to order 7 is
 * a block's start too (that of the block itself, not a block of order 7). */
static void test_walk_buddy_cursor_inside(void **state) {
  subject_t *s = subject_open(*state, 4096);
  const ar_engine_t *e = subject_engine(s);
  /* b(100) = 128, k = 7: [0, 128); b(200) = 216, k = 8: [256, 512) */
  assert_alloc(s, 100, 16, 16);
  assert_alloc(s, 200, 16, 272);
  assert_page(e, false, 0, 16, 4096, 4096, USED(0, 128, 16, 100),
              FREE(128, 256), USED(256, 512, 272, 200), FREE(512, 1024),
              FREE(1024, 2048), FREE(2048, 4096));
  /* in the free block [128, 256) */
  assert_page(e, true, 192, 8, 4096, 4096, FREE(512, 1024), FREE(1024, 2048),
              FREE(2048, 4096));
  assert_page(e, false, 192, 8, 4096, 4096, USED(256, 512, 272, 200),
              FREE(512, 1024), FREE(1024, 2048), FREE(2048, 4096));
  /* in the block [256, 512) */
  assert_page(e, false, 320, 8, 4096, 4096, FREE(512, 1024), FREE(1024, 2048),
              FREE(2048, 4096));
  assert_page(e, true, 320, 8, 4096, 4096, FREE(512, 1024), FREE(1024, 2048),
              FREE(2048, 4096));
  subject_close(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      ENGINE_TEST(test_walk_pages, FIRST),
      ENGINE_TEST(test_walk_pages, NEXT),
      ENGINE_TEST(test_walk_pages, BEST),
      ENGINE_TEST(test_walk_pages, WORST),
      ENGINE_TEST(test_walk_free_only, FIRST),
      ENGINE_TEST(test_walk_free_only, BEST),
      ENGINE_TEST(test_walk_cursor_in_long_run, FIRST),
      ENGINE_TEST(test_walk_cursor_in_long_run, WORST),
      ENGINE_TEST(test_walk_cursor_in_far_block, FIRST),
      ENGINE_TEST(test_walk_cursor_in_far_block, BEST),
      ENGINE_TEST(test_walk_errors, FIRST),
      ENGINE_TEST(test_walk_errors, WORST),
      ENGINE_TEST(test_walk_cursor_survives, FIRST),
      ENGINE_TEST(test_walk_cursor_survives, NEXT),
      ENGINE_TEST(test_walk_cursor_survives, BEST),
      ENGINE_TEST(test_walk_cursor_survives, WORST),
      ENGINE_TEST(test_walk_buddy, BUDDY),
      ENGINE_TEST(test_walk_buddy_cursor_inside, BUDDY),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
