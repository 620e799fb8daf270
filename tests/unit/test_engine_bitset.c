/*
 * test_engine_bitset.c: the buddy engine's hierarchical bitset (an
 * internal part of common/engine, bitset.h) against a plain array of bits.
 *
 * Random sets and clears over a bitset of three levels, after each of
 * which the lowest set bit, the next set bit after random positions and
 * the verification (with the count of bits it reaches) agree with the
 * array, read in full and along the summaries. Then the verification on
 * purpose-broken summaries: a summary bit over an empty word, or a word
 * set under a clear summary bit, names its level; a word of level 0 under
 * a clear summary bit only when read in full (along the summaries it goes
 * unseen, as bitset.h says); a summary bit past the words of the level
 * below, read either way. Then where the search for the lowest bit starts
 * (`low`): lowered by a set, moved up by a search, and a start past a set
 * bit or past level 0 found by the verification. Its memory count must
 * come back to nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "bitset.h"
#include "lcg.h"

#define NBITS 300000 /* 4 levels: 4688, 74, 2 and 1 (the top) words */

static bool model[NBITS];

/* The lowest bit of the model at or after `from`, or UINT64_MAX. */
static uint64_t model_next(uint64_t from) {
  for (uint64_t i = from; i < NBITS; i++)
    if (model[i])
      return i;
  return UINT64_MAX;
}

static void test_against_array(void **state) {
  (void)state;
  ar__mem_t mem = {0};
  ar__bitset_t b;
  assert_int_equal(ar__bitset_init(&b, NBITS, &mem), 0);
  assert_int_equal(b.nlevels, 4);
  uint64_t x = 7, count = 0, reached;
  for (int step = 0; step < 20000; step++) {
    /* Bits in a few clusters, so that words fill and empty again. */
    uint64_t i = (next_rand(&x) % 8) * (NBITS / 8) + next_rand(&x) % 2000;
    if (model[i]) {
      ar__bitset_clear(&b, i);
      count--;
    } else {
      ar__bitset_set(&b, i);
      count++;
    }
    model[i] = !model[i];
    assert_true(ar__bitset_test(&b, i) == model[i]);
    assert_int_equal(ar__bitset_first(&b), model_next(0));
    uint64_t from = next_rand(&x) % NBITS;
    assert_int_equal(ar__bitset_next(&b, from), model_next(from));
    if (step % 97 == 0) {
      assert_int_equal(ar__bitset_verify(&b, true, &reached), -1);
      assert_int_equal(reached, count);
      assert_int_equal(ar__bitset_verify(&b, false, &reached), -1);
      assert_int_equal(reached, count);
    }
  }
  ar__bitset_fini(&b);
  assert_int_equal(mem.bytes, 0);
}

static void test_verify_finds_broken_summaries(void **state) {
  (void)state;
  ar__mem_t mem = {0};
  ar__bitset_t b;
  uint64_t reached;
  assert_int_equal(ar__bitset_init(&b, NBITS, &mem), 0);
  ar__bitset_set(&b, 5);
  ar__bitset_set(&b, 200000);
  for (int full = 0; full <= 1; full++) {
    assert_int_equal(ar__bitset_verify(&b, full, &reached), -1);
    assert_int_equal(reached, 2);

    /* A summary bit of level 1 over word 10 of level 0, which is empty. */
    b.level[1][0] |= ar__bitset_bit(10);
    assert_int_equal(ar__bitset_verify(&b, full, &reached), 1);
    b.level[1][0] &= ~ar__bitset_bit(10);

    /* Word 1 of level 1 set, its summary bit in level 2 clear (read in
     * full, the set bit over empty word 64 of level 0 is seen first). */
    b.level[1][1] |= 1;
    assert_int_equal(ar__bitset_verify(&b, full, &reached), full ? 1 : 2);
    b.level[1][1] = 0;
  }

  /* A bit in word 1000 of level 0, its summary bit clear: found when the
   * check reads in full; not seen (nor counted) otherwise. */
  b.level[0][1000] |= 1;
  assert_int_equal(ar__bitset_verify(&b, true, &reached), 1);
  assert_int_equal(ar__bitset_verify(&b, false, &reached), -1);
  assert_int_equal(reached, 2);
  b.level[0][1000] = 0;

  ar__bitset_fini(&b);
  assert_int_equal(mem.bytes, 0);
}

/* Read either way, b verifies; with `bit` of the one word of `level` set
 * (past the words below it) it fails at that level; cleared, as before. */
static void expect_stray_bit_found(ar__bitset_t *b, int level, unsigned bit) {
  uint64_t reached;
  for (int full = 0; full <= 1; full++) {
    assert_int_equal(ar__bitset_verify(b, full, &reached), -1);
    b->level[level][0] |= ar__bitset_bit(bit);
    assert_int_equal(ar__bitset_verify(b, full, &reached), level);
    b->level[level][0] &= ~ar__bitset_bit(bit);
  }
}

/* A summary bit past the last word of the level below names no word at
 * all: in either way of reading, the summary is wrong (and a search that
 * followed it would read past the level). Level 1 of 2048 bits has 32
 * words to name, in one word of 64 bits; the top of NBITS has 2. */
static void test_verify_finds_summary_past_level(void **state) {
  (void)state;
  ar__mem_t mem = {0};
  ar__bitset_t b;
  assert_int_equal(ar__bitset_init(&b, 2048, &mem), 0);
  assert_int_equal(b.nlevels, 2);
  assert_int_equal(b.nwords[0], 32);
  ar__bitset_set(&b, 5);
  expect_stray_bit_found(&b, 1, 40);
  ar__bitset_fini(&b);

  assert_int_equal(ar__bitset_init(&b, NBITS, &mem), 0);
  assert_int_equal(b.nlevels, 4);
  assert_int_equal(b.nwords[2], 2);
  ar__bitset_set(&b, 200000);
  expect_stray_bit_found(&b, 3, 5);
  ar__bitset_fini(&b);
  assert_int_equal(mem.bytes, 0);
}

/* Bits 100 (word 1) and 200000 (word 3125): the search starts at word 0
 * and moves to each word it finds; a set below lowers the start again. A
 * start past a set bit, or past the words of level 0, is wrong either way
 * of reading (the lowest bit would be missed, or read past the level);
 * past level 0 also when no bit is set. */
static void test_search_start(void **state) {
  (void)state;
  ar__mem_t mem = {0};
  ar__bitset_t b;
  uint64_t reached;
  assert_int_equal(ar__bitset_init(&b, NBITS, &mem), 0);
  assert_int_equal(b.low, 0);
  ar__bitset_set(&b, 200000);
  ar__bitset_set(&b, 100);
  assert_int_equal(b.low, 0);
  assert_int_equal(ar__bitset_first(&b), 100);
  assert_int_equal(b.low, 1);
  ar__bitset_clear(&b, 100);
  assert_int_equal(ar__bitset_first(&b), 200000);
  assert_int_equal(b.low, 3125);
  ar__bitset_set(&b, 64);
  assert_int_equal(b.low, 1);
  assert_int_equal(ar__bitset_first(&b), 64);

  for (int full = 0; full <= 1; full++) {
    assert_int_equal(ar__bitset_verify(&b, full, &reached), -1);
    b.low = 2; /* past bit 64 */
    assert_int_equal(ar__bitset_verify(&b, full, &reached), 0);
    b.low = b.nwords[0];
    assert_int_equal(ar__bitset_verify(&b, full, &reached), 0);
    b.low = 0; /* before the lowest bit: allowed */
    assert_int_equal(ar__bitset_verify(&b, full, &reached), -1);
    assert_int_equal(reached, 2);
  }
  /* With no bit set, a start past the words of level 0 is still wrong:
   * there is no set bit for it to be past, but the search would read past
   * the level. */
  ar__bitset_clear(&b, 64);
  ar__bitset_clear(&b, 200000);
  assert_int_equal(ar__bitset_first(&b), UINT64_MAX);
  for (int full = 0; full <= 1; full++) {
    b.low = b.nwords[0];
    assert_int_equal(ar__bitset_verify(&b, full, &reached), 0);
    b.low = b.nwords[0] - 1; /* the last word: allowed */
    assert_int_equal(ar__bitset_verify(&b, full, &reached), -1);
    assert_int_equal(reached, 0);
  }
  ar__bitset_fini(&b);
  assert_int_equal(mem.bytes, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_against_array),
      cmocka_unit_test(test_verify_finds_broken_summaries),
      cmocka_unit_test(test_verify_finds_summary_past_level),
      cmocka_unit_test(test_search_start),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
