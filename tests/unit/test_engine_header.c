/*
 * test_engine_header.c: the block headers an engine writes into arena
 * memory it is given, and what it does when a client overwrites one.
 *
 * The model lays a header out at payload - 16 as u64 n, u32 magic
 * (AR_HDR_MAGIC) and u32 policy word (buddy: the order; list: 0); the test
 * checks the bytes. A free clears the magic of the block's header, marking
 * it freed. The engine writes nothing else into the arena. When a
 * header no longer holds what the engine wrote (any of its 16 bytes), the
 * free still succeeds and frees the block as the engine's own metadata
 * describes it, reports the corruption through *corrupt and counts it in
 * stats.corruptions, with the payload in stats.last_corrupt; and
 * ar_engine_header_intact tells whether a live block's header still holds
 * what the engine wrote, without changing anything. Engine only.
 */
#include "harness.h"

#include <stdlib.h>
#include <string.h>

#define ENGINE_TEST(fn, POL) SUBJECT_TEST(fn, POL, ENGINE)
#define ARENA 4096
#define FILL 0xA5

typedef struct arena_s {
  uint8_t *mem;
  subject_t *s;
  bool written[ARENA]; /* bytes that were ever part of a header */
} arena_t;

static arena_t *arena_open(void **state, uint8_t fill) {
  arena_t *a = calloc(1, sizeof(*a));
  assert_non_null(a);
  a->mem = calloc(1, ARENA);
  assert_non_null(a->mem);
  memset(a->mem, fill, ARENA);
  a->s = subject_open_mem(*state, ARENA, a->mem);
  return a;
}

static void arena_close(arena_t *a) {
  subject_close(a->s);
  free(a->mem);
  free(a);
}

/* The 16 bytes at payload - 16 must be n, the magic and `word`,
 * little-endian, as the model lays them out. */
#define assert_header(a, payload, n, word)                                     \
  assert_header_((a), (payload), (n), (word), __FILE__, __LINE__)
static void assert_header_(const arena_t *a, uint64_t payload, uint64_t n,
                           uint32_t word, const char *file, int line) {
  uint8_t want[16];
  for (int i = 0; i < 8; i++)
    want[i] = (uint8_t)(n >> (8 * i));
  /* AR_HDR_MAGIC 0x4152454e: "AREN" read as a big-endian u32, so in memory
   * (little-endian) the bytes are 'N' 'E' 'R' 'A' */
  want[8] = 0x4e;
  want[9] = 0x45;
  want[10] = 0x52;
  want[11] = 0x41;
  for (int i = 0; i < 4; i++)
    want[12 + i] = (uint8_t)(word >> (8 * i));
  const uint8_t *got = a->mem + payload - 16;
  if (memcmp(got, want, 16) != 0) {
    print_error("header at %llu:\n  got ", (unsigned long long)payload - 16);
    for (int i = 0; i < 16; i++)
      print_error(" %02x", got[i]);
    print_error("\n  want");
    for (int i = 0; i < 16; i++)
      print_error(" %02x", want[i]);
    print_error("\n");
    _fail(file, line);
  }
  /* and through the public struct */
  ar_header_t h;
  memcpy(&h, got, sizeof(h));
  _assert_int_equal(h.size, n, file, line);
  _assert_int_equal(h.magic, AR_HDR_MAGIC, file, line);
  _assert_int_equal(h.policy, word, file, line);
}

static ar_block_t alloc_hdr(arena_t *a, uint64_t n, uint64_t align,
                            uint64_t payload) {
  ar_block_t b = assert_alloc(a->s, n, align, payload);
  for (uint64_t i = payload - 16; i < payload; i++)
    a->written[i] = true;
  return b;
}

/* Every byte that was never part of a header still holds the fill. */
static void assert_untouched(const arena_t *a, uint8_t fill) {
  for (size_t i = 0; i < ARENA; i++)
    if (!a->written[i] && a->mem[i] != fill) {
      print_error("arena byte %zu changed: %02x\n", i, a->mem[i]);
      fail();
    }
}

static void test_header_list(void **state) {
  arena_t *a = arena_open(state, FILL);
  /* [0,32) n 1; [32,160) n 100; [160,3184) n 3000 (b = 3024) */
  alloc_hdr(a, 1, 16, 16);
  alloc_hdr(a, 100, 16, 48);
  alloc_hdr(a, 3000, 16, 176);
  assert_header(a, 16, 1, 0);
  assert_header(a, 48, 100, 0);
  assert_header(a, 176, 3000, 0);
  /* A = 256 in [3184, 4096): p = 3328, block [3312, 3344) */
  alloc_hdr(a, 1, 256, 3328);
  assert_header(a, 3328, 1, 0);
  /* free all but [0, 32): one interval [32, 4096), which every policy
   * (next: it holds the rover) splits at its start */
  assert_free(a->s, 48);
  assert_free(a->s, 3328);
  assert_free(a->s, 176);
  assert_free_set(a->s, {32, 4096});
  /* a freed block's header is marked freed: its magic is gone, so that a
   * stale look at it does not find a live block */
  ar_header_t h;
  memcpy(&h, a->mem + 48 - 16, sizeof(h));
  assert_int_equal(h.magic, 0);
  assert_int_equal(h.size, 100);
  /* b(60) = 80 at [32, 112): a new header where the old block was */
  alloc_hdr(a, 60, 16, 48);
  assert_header(a, 48, 60, 0);
  assert_header(a, 16, 1, 0);
  assert_untouched(a, FILL);
  arena_close(a);
}

static void test_header_buddy(void **state) {
  arena_t *a = arena_open(state, FILL);
  /* k = 5 [0, 32); b(100) = 128, k = 7 [128, 256); A = 64, n = 1, k = 7:
   * [256, 384) with payload 320, header at 304; b(2000), k = 11 */
  alloc_hdr(a, 1, 16, 16);
  alloc_hdr(a, 100, 16, 144);
  alloc_hdr(a, 1, 64, 320);
  alloc_hdr(a, 2000, 16, 2064);
  assert_header(a, 16, 1, 5);
  assert_header(a, 144, 100, 7);
  assert_header(a, 320, 1, 7);
  assert_header(a, 2064, 2000, 11);
  assert_free(a->s, 144);
  /* b(1000) = 1024, k = 10: [1024, 2048) */
  alloc_hdr(a, 1000, 16, 1040);
  assert_header(a, 1040, 1000, 10);
  assert_header(a, 320, 1, 7);
  assert_untouched(a, FILL);
  arena_close(a);
}

/* Without arena memory nothing is written and nothing is corrupt. */
static void test_header_no_memory(void **state) {
  subject_t *s = subject_open(*state, ARENA);
  ar_engine_t *e = subject_engine(s);
  ar_block_t b;
  bool corrupt = true;
  assert_ar_ok(ar_engine_alloc(e, 100, 16, &b));
  assert_ar_ok(ar_engine_free(e, b.payload, NULL, &corrupt));
  assert_false(corrupt);
  engine_verify(e);
  subject_close(s);
}

/* Frees directly, so the corrupt flag can be read; checks the block. */
static void free_expect(arena_t *a, uint64_t payload, uint64_t start,
                        uint64_t size, uint64_t n, bool want_corrupt) {
  ar_engine_t *e = subject_engine(a->s);
  ar_block_t b;
  memset(&b, 0, sizeof(b));
  bool corrupt = !want_corrupt;
  assert_ar_ok(ar_engine_free(e, payload, &b, &corrupt));
  engine_verify(e);
  assert_int_equal(b.payload, payload);
  assert_int_equal(b.start, start);
  assert_int_equal(b.size, size);
  assert_int_equal(b.n, n);
  if (corrupt != want_corrupt) {
    print_error("free(%llu): corrupt = %d, want %d\n",
                (unsigned long long)payload, corrupt, want_corrupt);
    fail();
  }
}

static void assert_corruptions(arena_t *a, uint64_t count, uint64_t last) {
  ar_engine_stats_t st;
  ar_engine_stats(subject_engine(a->s), &st);
  assert_int_equal(st.corruptions, count);
  assert_int_equal(st.last_corrupt, last);
}

static void test_corrupt_list(void **state) {
  arena_t *a = arena_open(state, 0);
  /* five blocks of b(100) = 128: [128 i, 128 i + 128), payload + 16 */
  for (uint64_t i = 0; i < 5; i++)
    alloc_hdr(a, 100, 16, 128 * i + 16);
  /* garbage over the whole header of block 1 */
  memset(a->mem + 128, 0xff, 16);
  engine_verify(subject_engine(a->s)); /* the engine's own state is fine */
  free_expect(a, 144, 128, 128, 100, true);
  assert_corruptions(a, 1, 144);
  assert_free_set(a->s, {128, 256}, {640, 4096});
  /* the payload bytes (not the header) belong to the client */
  memset(a->mem + 16, 0xee, 112);
  free_expect(a, 16, 0, 128, 100, false);
  assert_corruptions(a, 1, 144);
  assert_free_set(a->s, {0, 256}, {640, 4096});
  /* only n changed: the header claims 2^40 bytes; the block is freed as
   * the engine knows it, [256, 384) */
  ar_header_t h = {.size = UINT64_C(1) << 40, .magic = AR_HDR_MAGIC};
  memcpy(a->mem + 256, &h, sizeof(h));
  free_expect(a, 272, 256, 128, 100, true);
  assert_corruptions(a, 2, 272);
  assert_free_set(a->s, {0, 384}, {640, 4096});
  /* one byte of the magic */
  a->mem[384 + 8] ^= 0x01;
  free_expect(a, 400, 384, 128, 100, true);
  assert_corruptions(a, 3, 400);
  /* only the policy word */
  a->mem[512 + 12] = 7;
  free_expect(a, 528, 512, 128, 100, true);
  assert_corruptions(a, 4, 528);
  assert_free_set(a->s, {0, 4096});
  /* a double free of a corrupted block is a bad free, not a corruption */
  assert_free_fails(a->s, 144);
  assert_corruptions(a, 4, 528);
  /* allocating again writes a good header over the garbage */
  alloc_hdr(a, 100, 16, 16);
  alloc_hdr(a, 100, 16, 144);
  assert_header(a, 144, 100, 0);
  free_expect(a, 144, 128, 128, 100, false);
  assert_corruptions(a, 4, 528);
  arena_close(a);
}

static void test_corrupt_buddy(void **state) {
  arena_t *a = arena_open(state, 0);
  /* b(100) = 128, k = 7, twice: [0, 128) and [128, 256) */
  alloc_hdr(a, 100, 16, 16);
  alloc_hdr(a, 100, 16, 144);
  /* the order word rewritten to 12 (the whole arena): freed as order 7,
   * merging only with its free buddy */
  a->mem[128 + 12] = 12;
  free_expect(a, 144, 128, 128, 100, true);
  assert_corruptions(a, 1, 144);
  assert_free_set(a->s, {128, 256}, {256, 512}, {512, 1024}, {1024, 2048},
                  {2048, 4096});
  /* A = 64, n = 1: k = 7, [128, 256), payload 192, header at 176 */
  alloc_hdr(a, 1, 64, 192);
  assert_header(a, 192, 1, 7);
  memset(a->mem + 176, 0, 16);
  free_expect(a, 192, 128, 128, 1, true);
  assert_corruptions(a, 2, 192);
  /* a header overwritten with a copy of a valid one from elsewhere */
  alloc_hdr(a, 1000, 16, 1040); /* k = 10, [1024, 2048) */
  memcpy(a->mem + 1024, a->mem + 0, 16);
  free_expect(a, 1040, 1024, 1024, 1000, true);
  assert_corruptions(a, 3, 1040);
  free_expect(a, 16, 0, 128, 100, false);
  assert_corruptions(a, 3, 1040);
  assert_free_set(a->s, {0, 4096});
  arena_close(a);
}

/* ar_engine_header_intact: true for a header as written, false once any
 * of its 16 bytes differs, true again once it is put back; it only reads
 * (a free afterwards finds what the bytes say, and the arena is
 * unchanged). Without memory every header is intact. */
static void test_intact_query(void **state) {
  arena_t *a = arena_open(state, FILL);
  ar_engine_t *e = subject_engine(a->s);
  ar_block_t b = alloc_hdr(a, 100, 16, 16);
  ar_block_t other = alloc_hdr(a, 100, 16, b.start + b.size + 16);
  assert_true(ar_engine_header_intact(e, &b));
  uint8_t copy[ARENA];
  for (int i = 0; i < 16; i++) {
    a->mem[i] ^= 0x01;
    memcpy(copy, a->mem, ARENA);
    assert_false(ar_engine_header_intact(e, &b));
    assert_true(ar_engine_header_intact(e, &other));
    assert_memory_equal(copy, a->mem, ARENA);
    a->mem[i] ^= 0x01;
    assert_true(ar_engine_header_intact(e, &b));
  }
  a->mem[3] = 0x77; /* n's fourth byte */
  free_expect(a, 16, 0, b.size, 100, true);
  free_expect(a, other.payload, other.start, other.size, 100, false);
  arena_close(a);

  subject_t *s = subject_open(*state, ARENA);
  e = subject_engine(s);
  assert_ar_ok(ar_engine_alloc(e, 100, 16, &b));
  assert_true(ar_engine_header_intact(e, &b));
  subject_close(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      ENGINE_TEST(test_header_list, FIRST),
      ENGINE_TEST(test_header_list, NEXT),
      ENGINE_TEST(test_header_list, BEST),
      ENGINE_TEST(test_header_list, WORST),
      ENGINE_TEST(test_header_buddy, BUDDY),
      ENGINE_TEST(test_header_no_memory, FIRST),
      ENGINE_TEST(test_header_no_memory, BUDDY),
      ENGINE_TEST(test_corrupt_list, FIRST),
      ENGINE_TEST(test_corrupt_list, NEXT),
      ENGINE_TEST(test_corrupt_list, BEST),
      ENGINE_TEST(test_corrupt_list, WORST),
      ENGINE_TEST(test_corrupt_buddy, BUDDY),
      ENGINE_TEST(test_intact_query, FIRST),
      ENGINE_TEST(test_intact_query, BUDDY),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
