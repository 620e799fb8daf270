/*
 * test_engine_blockmap.c: the engines' map of live blocks (an internal
 * part of common/engine, blockmap.h) against a plain array.
 *
 * The engine tests reach the map only through allocations and frees, with
 * payloads the policies choose. This test drives it directly: random
 * inserts and removes over dense and sparse payloads while the table
 * doubles from its first size; new entries found in the cache in front of
 * the table and removed before they ever reach the table, an older one
 * moved out by a new one with the same cache slot to the pending slot and
 * then into the table, and both kept when the table grows; keys put in the
 * table directly (past the cache) and chosen to share a home group, so
 * that groups fill up, probes go on to later groups, removals leave
 * deleted marks there (and empty slots elsewhere), inserts take deleted
 * slots again, and a table full of deleted marks is rebuilt at its own size;
 * lookups of offsets that are not live payloads (never used, freed,
 * misaligned); the table made smaller as entries go; and the map's
 * verification catching a broken table. The
 * verification runs after every change, and the memory count must come
 * back to nothing.
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

/* Every payload the test uses. */
static void check_all(const subject_t *s) {
  for (size_t g = 0; g < GRANULES; g++)
    check_payload(s, payload_of(g));
}

/* Inserts g's payload, which must not be live. */
static void insert(subject_t *s, size_t g, uint64_t n) {
  assert_int_equal(s->n[g], 0);
  assert_int_equal(ar__blockmap_reserve(&s->m), 0);
  ar__blockent_t ent = {payload_of(g), n};
  ar__blockmap_insert(&s->m, &ent);
  s->n[g] = n;
  s->count++;
}

/* Puts g's entry straight into the table, past the cache, as an entry that
 * has left the cache would be: for the tests of the table's own workings. */
static void insert_table(subject_t *s, size_t g, uint64_t n) {
  assert_int_equal(s->n[g], 0);
  assert_int_equal(ar__blockmap_reserve(&s->m), 0);
  ar__blockent_t ent = {payload_of(g), n};
  ar__blockmap_place(&s->m, &ent);
  s->m.count++;
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
  size_t capacity = ar__blockmap_capacity(&s->m);
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
    if (ar__blockmap_capacity(&s->m) != capacity) {
      capacity = ar__blockmap_capacity(&s->m);
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
  check_all(s);
  assert_null(ar__blockmap_find(&s->m, UINT64_MAX));
  assert_null(ar__blockmap_find(&s->m, 0));

  for (size_t g = 0; g < GRANULES; g++)
    if (s->n[g])
      remove_at(s, g);
  verify(s);
  for (size_t i = 0; i < ar__blockmap_capacity(&s->m); i++)
    assert_true(s->m.ctrl[i] == AR__BLOCKMAP_EMPTY ||
                s->m.ctrl[i] == AR__BLOCKMAP_DELETED);
  subject_close(s);
}

/* The cache slot of g's payload. */
static const ar__blockent_t *cache_slot(const subject_t *s, size_t g) {
  return ar__blockmap_cached(&s->m, ar__blockmap_hash(payload_of(g)));
}

/* Whether no slot of the table is full. */
static bool table_empty(const subject_t *s) {
  for (size_t i = 0; i < ar__blockmap_capacity(&s->m); i++)
    if (s->m.ctrl[i] < AR__BLOCKMAP_EMPTY)
      return false;
  return true;
}

/* A new entry is in its cache slot: found there, and removed from there
 * without touching the table (the empty slot's payload is then no key).
 * Another with the same cache slot moves it to the pending slot, and a
 * third moves it on into the table, each still found where it is; a
 * pending entry removed takes nothing else with it. A table that grows
 * keeps the cached and pending entries. */
static void test_cache(void **state) {
  (void)state;
  subject_t *s = subject_open();
  insert(s, 5, 50);
  assert_ptr_equal(ar__blockmap_find(&s->m, payload_of(5)), cache_slot(s, 5));
  check_payload(s, payload_of(5));
  verify(s);
  remove_at(s, 5); /* never reached the table */
  assert_int_equal(cache_slot(s, 5)->payload, AR__BLOCKMAP_NONE);
  assert_null(ar__blockmap_find(&s->m, AR__BLOCKMAP_NONE));
  assert_true(table_empty(s));
  verify(s);

  size_t same[3], found = 0;
  for (size_t g = 0; g < GRANULES && found < 3; g++)
    if (cache_slot(s, g) == cache_slot(s, 7))
      same[found++] = g;
  assert_int_equal(found, 3);
  insert(s, same[0], 10);
  insert(s, same[1], 11);
  assert_int_equal(s->m.pending.payload, payload_of(same[0]));
  assert_ptr_equal(ar__blockmap_find(&s->m, payload_of(same[1])),
                   cache_slot(s, same[1]));
  assert_true(table_empty(s));
  verify(s);
  insert(s, same[2], 12);
  assert_int_equal(s->m.pending.payload, payload_of(same[1]));
  assert_false(table_empty(s)); /* same[0] went on into the table */
  verify(s);
  check_all(s);
  remove_at(s, same[1]);
  assert_int_equal(s->m.pending.payload, AR__BLOCKMAP_NONE);
  verify(s);
  check_all(s);

  /* Fill until the table doubles: the reserve that doubles it keeps the
   * entries outside it. */
  size_t first = ar__blockmap_capacity(&s->m);
  for (size_t g = 0; ar__blockmap_capacity(&s->m) == first; g++)
    if (s->n[g] == 0) /* same[0] and same[2] are live */
      insert(s, g, 1000 + g);
  assert_int_not_equal(s->m.pending.payload, AR__BLOCKMAP_NONE);
  verify(s);
  check_all(s);
  subject_close(s);
}

/* The first `count` granules from `from` on whose payloads have home
 * group `home` in the map as it is now. */
static size_t same_home(const subject_t *s, size_t home, size_t from,
                        size_t *out, size_t count) {
  size_t found = 0;
  for (size_t g = from; g < GRANULES && found < count; g++)
    if (ar__blockmap_home(&s->m, ar__blockmap_hash(payload_of(g))) == home)
      out[found++] = g;
  return found;
}

/* The table slot of g's payload, which must be in the table. */
static size_t slot_of(const subject_t *s, size_t g) {
  const ar__blockent_t *ent = ar__blockmap_find(&s->m, payload_of(g));
  assert_non_null(ent);
  size_t i = (size_t)(ent - s->m.slots);
  assert_true(i < ar__blockmap_capacity(&s->m));
  return i;
}

/* Puts nine keys of home group `home` (into keys[]), the first ones there
 * are, in the table. */
static void fill_group(subject_t *s, size_t home, size_t keys[9]) {
  assert_int_equal(same_home(s, home, 0, keys, 9), 9);
  for (size_t k = 0; k < 9; k++)
    insert_table(s, keys[k], 100 + k);
  verify(s);
}

/* Nine keys of one home group: eight fill it, the ninth goes on to the
 * next group of its probe. A removal from the full group leaves a deleted
 * mark, since the ninth's probe passed it; the ninth is still found; the
 * next insert of that home takes the deleted slot again. A removal from a
 * group that has an empty slot empties its slot at once. */
static void test_full_group(void **state) {
  (void)state;
  subject_t *s = subject_open();
  size_t keys[9];
  fill_group(s, 3, keys);
  for (size_t k = 0; k < 8; k++)
    assert_int_equal(slot_of(s, keys[k]) / AR__BLOCKMAP_GROUP, 3);
  size_t spilled = slot_of(s, keys[8]);
  assert_int_not_equal(spilled / AR__BLOCKMAP_GROUP, 3);

  size_t hole = slot_of(s, keys[2]);
  remove_at(s, keys[2]);
  assert_int_equal(s->m.ctrl[hole], AR__BLOCKMAP_DELETED);
  assert_int_equal(s->m.deleted, 1);
  verify(s);
  check_payload(s, payload_of(keys[8])); /* found past the deleted mark */
  check_payload(s, payload_of(keys[2]));

  size_t again = 0; /* set by same_home */
  assert_int_equal(same_home(s, 3, keys[8] + 1, &again, 1), 1);
  insert_table(s, again, 7);
  assert_int_equal(slot_of(s, again), hole);
  assert_int_equal(s->m.deleted, 0);
  verify(s);

  /* The ninth key's group has empty slots: its slot is empty again. */
  size_t room = s->m.growth_left;
  remove_at(s, keys[8]);
  assert_int_equal(s->m.ctrl[spilled], AR__BLOCKMAP_EMPTY);
  assert_int_equal(s->m.growth_left, room + 1);
  verify(s);
  check_all(s);
  subject_close(s);
}

/* Deleted marks use up the room of a table that holds few entries: the
 * reserve that finds no room left rebuilds it at the same size, without
 * the marks, and keeps every entry. */
static void test_rebuild_in_place(void **state) {
  (void)state;
  subject_t *s = subject_open();
  size_t capacity = ar__blockmap_capacity(&s->m);
  /* Fill five groups (and spill past them), then empty them: their
   * slots are all marked deleted. */
  size_t keys[5][9], next = 0;
  for (size_t home = 0; home < 5; home++) {
    assert_int_equal(same_home(s, home, 0, keys[home], 9), 9);
    for (size_t k = 0; k < 9; k++)
      insert_table(s, keys[home][k], 1 + k);
  }
  for (size_t home = 0; home < 5; home++)
    for (size_t k = 0; k < 9; k++)
      remove_at(s, keys[home][k]);
  verify(s);
  assert_true(s->m.deleted >= 5 * AR__BLOCKMAP_GROUP);
  assert_int_equal(ar__blockmap_capacity(&s->m), capacity);

  /* Keys of other homes take the empty slots until none is left. */
  size_t live[64], nlive = 0;
  for (size_t g = 0; s->m.growth_left > 0; g++) {
    size_t home = ar__blockmap_home(&s->m, ar__blockmap_hash(payload_of(g)));
    if (home < 5 || s->n[g])
      continue;
    insert_table(s, g, 50 + g);
    live[nlive++] = g;
    next = g + 1;
  }
  assert_true(s->m.deleted > 0);
  assert_true(nlive <= ar__blockmap_capacity(&s->m) / 4 * 3 / 2);

  /* One more: the reserve rebuilds, at the same size. */
  insert(s, next + 1000, 9);
  live[nlive++] = next + 1000;
  assert_int_equal(ar__blockmap_capacity(&s->m), capacity);
  assert_int_equal(s->m.deleted, 0);
  verify(s);
  for (size_t k = 0; k < nlive; k++)
    check_payload(s, payload_of(live[k]));
  check_all(s);
  subject_close(s);
}

/* The verification says what is broken. */
static void test_verify_catches(void **state) {
  (void)state;
  subject_t *s = subject_open();
  size_t keys[9];
  fill_group(s, 5, keys);
  size_t i = slot_of(s, keys[0]), spilled = slot_of(s, keys[8]);
  uint8_t saved = s->m.ctrl[i];

  s->m.ctrl[i] = (uint8_t)((saved + 1) & 0x7F);
  assert_string_equal(ar__blockmap_verify(&s->m),
                      "a slot's control byte is not its key's tag");
  s->m.ctrl[i] = 0xC0;
  assert_string_equal(ar__blockmap_verify(&s->m),
                      "a control byte is neither empty, deleted nor a tag");
  /* An empty slot in the full group cuts the ninth key off. */
  s->m.ctrl[i] = AR__BLOCKMAP_EMPTY;
  s->m.count--;
  s->m.growth_left++;
  assert_string_equal(ar__blockmap_verify(&s->m),
                      "an entry is cut off from its home group");
  s->m.ctrl[i] = saved;
  s->m.count++;
  s->m.growth_left--;
  assert_null(ar__blockmap_verify(&s->m));

  ar__blockent_t copy = s->m.slots[spilled];
  uint8_t spilled_tag = s->m.ctrl[spilled];
  s->m.slots[spilled].payload = s->m.slots[i].payload;
  s->m.ctrl[spilled] = s->m.ctrl[i];
  assert_string_equal(ar__blockmap_verify(&s->m),
                      "a payload is in the table twice");
  s->m.slots[spilled] = copy;
  s->m.ctrl[spilled] = spilled_tag;
  s->m.count++;
  assert_string_equal(ar__blockmap_verify(&s->m),
                      "the entries do not add up to the count");
  s->m.count--;
  s->m.deleted++;
  assert_string_equal(ar__blockmap_verify(&s->m),
                      "the deleted slots do not add up to their count");
  s->m.deleted--;
  s->m.growth_left++;
  assert_string_equal(
      ar__blockmap_verify(&s->m),
      "the room left does not match the full and deleted slots");
  s->m.growth_left--;
  verify(s);

  /* The shift that picks a key's home group, off by one either way (the
   * home group would be looked up past the table, or only in its first
   * half); a group count that is no power of two. */
  s->m.shift++;
  assert_string_equal(ar__blockmap_verify(&s->m), "the table's size is broken");
  s->m.shift -= 2;
  assert_string_equal(ar__blockmap_verify(&s->m), "the table's size is broken");
  s->m.shift++;
  s->m.gmask--;
  assert_string_equal(ar__blockmap_verify(&s->m), "the table's size is broken");
  s->m.gmask++;
  verify(s);

  /* A table at its first size is never made smaller (test_shrink has a
   * table that should have been). */
  assert_int_equal(s->m.shrink_below, 0);
  s->m.shrink_below = 1;
  assert_string_equal(ar__blockmap_verify(&s->m),
                      "the table was not made smaller");
  s->m.shrink_below = 0;
  verify(s);

  s->m.pending.payload = payload_of(keys[3]);
  assert_string_equal(ar__blockmap_verify(&s->m),
                      "the pending payload is in the table too");
  s->m.pending.payload = AR__BLOCKMAP_NONE;
  verify(s);

  /* A cached entry also in the table, or also pending, or in another
   * key's cache slot. */
  ar__blockent_t *c = (ar__blockent_t *)cache_slot(s, keys[3]);
  c->payload = payload_of(keys[3]);
  assert_string_equal(ar__blockmap_verify(&s->m),
                      "a cached payload is in the table or pending too");
  c->payload = AR__BLOCKMAP_NONE;
  insert(s, 3000, 1);
  s->m.pending = *cache_slot(s, 3000);
  assert_string_equal(ar__blockmap_verify(&s->m),
                      "a cached payload is in the table or pending too");
  s->m.pending.payload = AR__BLOCKMAP_NONE;
  verify(s);
  size_t other = 3001;
  while (cache_slot(s, other) == cache_slot(s, 3000))
    other++;
  ar__blockent_t *to = (ar__blockent_t *)cache_slot(s, other);
  *to = *cache_slot(s, 3000);
  ((ar__blockent_t *)cache_slot(s, 3000))->payload = AR__BLOCKMAP_NONE;
  assert_string_equal(ar__blockmap_verify(&s->m),
                      "a cached entry is not in its key's cache slot");
  *(ar__blockent_t *)cache_slot(s, 3000) = *to;
  to->payload = AR__BLOCKMAP_NONE;
  verify(s);
  subject_close(s);
}

/* The bytes the map's table takes: a slot and a control byte each. */
static uint64_t table_bytes(const subject_t *s) {
  return ar__blockmap_capacity(&s->m) * (sizeof(ar__blockent_t) + 1);
}

/* Removals make the table smaller, so that the map's memory follows its
 * entries down: filled with every payload (20000) and emptied again in a
 * random order, the table never grows while entries only go, is made
 * smaller several times on the way (each time only once under 3/32 full,
 * and to at most 3/8 full, so never straight back), always at least 3/32
 * full until its first size, and that first size (64 slots) when empty;
 * the memory count follows. Filled again, it grows as before. */
static void test_shrink(void **state) {
  (void)state;
  subject_t *s = subject_open();
  size_t first = ar__blockmap_capacity(&s->m);
  static size_t order[GRANULES];
  for (size_t g = 0; g < GRANULES; g++) {
    insert(s, g, g + 1);
    order[g] = g;
  }
  verify(s);
  size_t peak = ar__blockmap_capacity(&s->m);
  assert_true(peak >= GRANULES);
  uint64_t x = 5;
  for (size_t i = GRANULES - 1; i > 0; i--) {
    size_t j = next_rand(&x) % (i + 1), t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  size_t capacity = peak;
  unsigned shrinks = 0;
  bool caught = false;
  for (size_t i = 0; i < GRANULES; i++) {
    if (!caught && s->count == s->m.shrink_below && s->count > 1) {
      /* One removal before the table is made smaller: with one entry
       * fewer than it may keep, the verification says it should be. */
      s->m.shrink_below++;
      assert_string_equal(ar__blockmap_verify(&s->m),
                          "the table was not made smaller");
      s->m.shrink_below--;
      verify(s);
      caught = true;
    }
    remove_at(s, order[i]);
    size_t now = ar__blockmap_capacity(&s->m);
    assert_true(now <= capacity);
    if (now < capacity) {
      shrinks++;
      /* Made smaller only once under 3/32 full, and to at most 3/8. */
      assert_true(s->count * 32 < capacity * 3);
      assert_true(now == first || s->count * 8 <= now * 3);
      capacity = now;
      verify(s);
      check_all(s);
    }
    assert_true(capacity == first || s->count * 32 >= capacity * 3);
    assert_int_equal(s->mem.bytes, table_bytes(s));
    if (i % 64 == 0)
      verify(s);
  }
  assert_true(shrinks >= 4);
  assert_true(caught);
  assert_int_equal(ar__blockmap_capacity(&s->m), first);
  verify(s);
  for (size_t g = 0; g < GRANULES; g++)
    insert(s, g, g + 1);
  assert_int_equal(ar__blockmap_capacity(&s->m), peak);
  verify(s);
  check_all(s);
  subject_close(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_random),
      cmocka_unit_test(test_cache),
      cmocka_unit_test(test_full_group),
      cmocka_unit_test(test_rebuild_in_place),
      cmocka_unit_test(test_shrink),
      cmocka_unit_test(test_verify_catches),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
