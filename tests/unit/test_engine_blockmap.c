/*
 * test_engine_blockmap.c: the engines' map of live blocks (an internal
 * part of common/engine, blockmap.h) against a plain array.
 *
 * The engine tests reach the map only through allocations and frees, with
 * payloads the policies choose. This test drives it directly: random
 * inserts and removes over dense and sparse payloads, so that probe runs
 * form, wrap round the end of the table and are cut by removals
 * (backward-shift deletion), while the table doubles from its first size;
 * the pending entry found, removed before it ever reaches the table, and
 * moved when the table grows; lookups of offsets that are not live
 * payloads (never used, freed, misaligned, the empty-slot sentinel). The
 * map's own verification runs after every change, and its memory count
 * must come back to nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "blockmap.h"
#include "lcg.h"

#define GRANULES 20000 /* payloads are 16 + 32 g for g in [0, GRANULES) */

/* The map under test, its memory count, and the model: n for each granule
 * whose payload is live, 0 for the others. */
typedef struct subject_s {
  ar__blockmap_t m;
  ar__mem_t mem;
  uint64_t n[GRANULES];
  size_t count;
} subject_t;

static subject_t *subject_open(void) {
  static subject_t s;
  memset(&s, 0, sizeof s);
  assert_int_equal(ar__blockmap_init(&s.m, &s.mem), 0);
  return &s;
}

/* Destroys the map: everything it counted must be given back. */
static void subject_close(subject_t *s) {
  ar__blockmap_fini(&s->m);
  assert_int_equal(s->mem.bytes, 0);
}

static uint64_t payload_of(size_t g) { return 16 + (uint64_t)g * 32; }

static void verify(const subject_t *s) {
  const char *broken = ar__blockmap_verify(&s->m);
  if (broken)
    fail_msg("blockmap: %s", broken);
  assert_int_equal(s->m.count, s->count);
}

/* The map answers for `payload` what the model says. */
static void check_payload(const subject_t *s, uint64_t payload) {
  const ar__blockent_t *ent = ar__blockmap_find(&s->m, payload);
  bool live =
      payload % 32 == 16 && payload / 32 < GRANULES && s->n[payload / 32] != 0;
  assert_int_equal(ent != NULL, live);
  if (live) {
    assert_int_equal(ent->payload, payload);
    assert_int_equal(ent->n, s->n[payload / 32]);
  }
}

static void insert(subject_t *s, size_t g, uint64_t n) {
  assert_int_equal(ar__blockmap_reserve(&s->m), 0);
  ar__blockent_t ent = {payload_of(g), n};
  ar__blockmap_insert(&s->m, &ent);
  s->n[g] = n;
  s->count++;
}

static void remove_at(subject_t *s, size_t g) {
  ar__blockent_t *ent = ar__blockmap_find(&s->m, payload_of(g));
  assert_non_null(ent);
  ar__blockmap_remove(&s->m, ent);
  s->n[g] = 0;
  s->count--;
}

/* Random inserts and removes, most in a dense region and some over the
 * whole range, with lookups around every one of them. */
static void test_random(void **state) {
  (void)state;
  subject_t *s = subject_open();
  uint64_t x = 11;
  size_t capacity = s->m.mask + 1;
  unsigned doublings = 0;
  for (int step = 0; step < 200000; step++) {
    size_t g = next_rand(&x) % 10 < 7 ? next_rand(&x) % 3000
                                      : next_rand(&x) % GRANULES;
    /* Inserts outweigh removes in the first half, then the reverse, so
     * the table fills up and empties again. */
    unsigned insert_odds = step < 100000 ? 6 : 3;
    if (s->n[g] == 0 && next_rand(&x) % 8 < insert_odds)
      insert(s, g, 1 + (next_rand(&x) << 31 | next_rand(&x)));
    else if (s->n[g] != 0)
      remove_at(s, g);
    if (s->m.mask + 1 != capacity) {
      capacity = s->m.mask + 1;
      doublings++;
    }
    if (step % 32 == 0)
      verify(s);
    check_payload(s, payload_of(g));
    check_payload(s, payload_of(g) + 16); /* a grain off */
    check_payload(s, payload_of(g) + 8);  /* misaligned */
    check_payload(s, payload_of(next_rand(&x) % GRANULES));
  }
  assert_true(doublings >= 6); /* from 64 slots to thousands */
  verify(s);
  for (size_t g = 0; g < GRANULES; g++)
    check_payload(s, payload_of(g));
  assert_null(ar__blockmap_find(&s->m, AR__BLOCKMAP_EMPTY));
  assert_null(ar__blockmap_find(&s->m, 0));

  for (size_t g = 0; g < GRANULES; g++)
    if (s->n[g])
      remove_at(s, g);
  verify(s);
  for (size_t i = 0; i <= s->m.mask; i++)
    assert_int_equal(s->m.slots[i].payload, AR__BLOCKMAP_EMPTY);
  subject_close(s);
}

/* The entry inserted last is pending: it is found there, and removing it
 * leaves the table as it was; the next insert puts it in the table; a
 * table that grows takes it along. */
static void test_pending(void **state) {
  (void)state;
  subject_t *s = subject_open();
  insert(s, 5, 50);
  assert_int_equal(ar__blockmap_pending(&s->m)->payload, payload_of(5));
  check_payload(s, payload_of(5));
  verify(s);

  remove_at(s, 5); /* never reached the table */
  assert_int_equal(ar__blockmap_pending(&s->m)->payload, AR__BLOCKMAP_EMPTY);
  for (size_t i = 0; i <= s->m.mask; i++)
    assert_int_equal(s->m.slots[i].payload, AR__BLOCKMAP_EMPTY);
  verify(s);

  /* Fill until the table doubles: the reserve that doubles it moves the
   * entry pending then along with the table's. */
  size_t first = s->m.mask + 1;
  size_t g = 0;
  for (; s->m.mask + 1 == first; g++)
    insert(s, g, 1000 + g);
  verify(s);
  for (size_t i = 0; i < g; i++)
    check_payload(s, payload_of(i));
  /* The pending entry, freed, takes nothing else with it. */
  remove_at(s, g - 1);
  verify(s);
  for (size_t i = 0; i < GRANULES; i++)
    check_payload(s, payload_of(i));
  subject_close(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_random),
      cmocka_unit_test(test_pending),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
