/*
 * test_engine_check.c: ar_engine_check returns 0, with or without a report,
 * on healthy engines of every policy in the states that matter (fresh,
 * fragmented, full, emptied again); and returns AR_ECORRUPT naming the
 * broken invariant and where, once the test has broken a policy's own
 * index through the engine's private headers (engine_internal.h, btree.h,
 * bitset.h): the list policies' address index (its entry count, a span
 * off the grain, two spans touching, two overlapping, a span whose end
 * wraps past 2^64) and the buddy engine's free bitsets and counts (two
 * free buddies, of the smallest order and of the largest, a count, the mask of
 * orders (an order missing, one past the largest), a summary level, a summary
 * bit past its level, a search for the lowest free block starting past it, an
 * order out of range), each put back after (the check passes again); and, for
 * every policy, the tiling half that walks the pieces in address order (the
 * byte counters, a block the walk does not meet, an offset that starts nothing,
 * a block over free space, of 0 bytes or past the arena) and the list policies'
 * rover and size index; and the size index's own invariants (a span in the
 * wrong size class, the class bitmap, a small span in the large tree, its span
 * count, a class tree's count). And the small pieces of the interface: the
 * policy names and their parsing, the getters, destroy(NULL). The other engine
 * tests run the check after every operation too (harness.c); this file states
 * it on its own. Engine only.
 */
#include "harness.h"

#include <string.h>

#include "bitset.h"
#include "btree.h"
#include "engine_internal.h"

#define ENGINE_TEST(fn, POL) SUBJECT_TEST(fn, POL, ENGINE)

static void assert_healthy(const ar_engine_t *e) {
  ar_check_report_t rep;
  memset(&rep, 0x5a, sizeof(rep));
  assert_ar_ok(ar_engine_check(e, NULL));
  assert_ar_ok(ar_engine_check(e, &rep));
  engine_verify(e);
}

static void test_check_healthy(void **state) {
  const subject_kind_t *k = *state;
  subject_t *s = subject_open(k, 65536);
  ar_engine_t *e = subject_engine(s);
  assert_int_equal(ar_engine_policy(e), k->policy);
  assert_int_equal(ar_engine_size(e), 65536);
  assert_healthy(e);
  /* every live payload; at most 65536 / 32 blocks */
  static uint64_t live[2048];
  size_t n = 0;
  /* fragmented: 64 blocks of growing sizes, every third freed */
  for (uint64_t i = 0; i < 64; i++) {
    ar_block_t b;
    assert_ar_ok(subject_alloc(s, 1 + 13 * i, 16, &b));
    live[n++] = b.payload;
  }
  for (size_t i = 0; i < 64; i += 3) {
    assert_free(s, live[i]);
    live[i] = UINT64_MAX; /* freed */
  }
  assert_healthy(e);
  /* full: blocks of b(16) = 32 until out of memory */
  ar_block_t b;
  int rc;
  while ((rc = subject_alloc(s, 16, 16, &b)) == AR_OK) {
    assert_true(n < 2048);
    live[n++] = b.payload;
  }
  assert_ar_rc(rc, AR_ENOMEM);
  assert_healthy(e);
  ar_engine_stats_t st;
  ar_engine_stats(e, &st);
  assert_true(st.largest_free < 32); /* 16-byte rests may stay free */
  /* emptied again */
  for (size_t i = 0; i < n; i++)
    if (live[i] != UINT64_MAX)
      assert_free(s, live[i]);
  assert_free_set(s, {0, 65536});
  assert_healthy(e);
  subject_close(s);
}

static void test_policy_names(void **state) {
  (void)state;
  static const char *names[] = {"first", "next", "best", "worst", "buddy"};
  assert_int_equal(AR_POLICY_COUNT, 5);
  for (int p = 0; p < AR_POLICY_COUNT; p++) {
    assert_string_equal(ar_policy_name((ar_policy_t)p), names[p]);
    ar_policy_t got = AR_POLICY_COUNT;
    assert_ar_ok(ar_policy_parse(names[p], &got));
    assert_int_equal(got, p);
  }
  assert_string_equal(ar_policy_name(AR_POLICY_COUNT), "unknown");
  assert_string_equal(ar_policy_name((ar_policy_t)-1), "unknown");
  static const char *bad[] = {"", "First", "firs", "firstt", "unknown",
                              " first", "buddy "};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    ar_policy_t got = AR_POLICY_BUDDY;
    assert_ar_rc(ar_policy_parse(bad[i], &got), AR_EINVAL);
  }
  ar_engine_destroy(NULL);
}

/* ---- Broken indexes ------------------------------------------------------ */

/* ar_engine_check on e must fail on `invariant` at `offset`, its detail
 * holding `detail` (when not NULL). */
#define assert_corrupt(e, invariant, offset, detail)                           \
  assert_corrupt_at((e), (invariant), (offset), (detail), __FILE__, __LINE__)

static void assert_corrupt_at(const ar_engine_t *e, const char *invariant,
                              uint64_t offset, const char *detail,
                              const char *file, int line) {
  ar_check_report_t rep;
  memset(&rep, 0, sizeof(rep));
  int rc = ar_engine_check(e, &rep);
  if (rc != AR_ECORRUPT)
    _fail(file, line); /* the check missed it */
  if (rep.invariant == NULL || strcmp(rep.invariant, invariant) != 0 ||
      rep.offset != offset ||
      (detail != NULL && strstr(rep.detail, detail) == NULL)) {
    print_error("check: '%s' at %llu (%s), want '%s' at %llu (%s)\n",
                rep.invariant ? rep.invariant : "(null)",
                (unsigned long long)rep.offset, rep.detail, invariant,
                (unsigned long long)offset, detail ? detail : "any detail");
    _fail(file, line);
  }
  assert_ar_rc(ar_engine_check(e, NULL), AR_ECORRUPT); /* without a report */
}

/* The list engines' address index (engine_internal.h), which holds every
 * free span but the tail, checked against the stats before any use. */
static ar__bt_t *list_by_addr(ar_engine_t *e) {
  ar__list_t *l = e->u.list;
  ar__bt_t *t = &l->by_addr;
  ar_engine_stats_t st;
  ar_engine_stats(e, &st);
  assert_ptr_equal(t->mem, &e->mem);
  assert_true(l->tail < st.size);
  assert_int_equal(t->count + 1, st.free_extents);
  uint64_t tail = st.size - l->tail;
  assert_int_equal(ar__bt_max_b(t) > tail ? ar__bt_max_b(t) : tail,
                   st.largest_free);
  return t;
}

/* Three blocks at the start, the middle one freed: two free spans, the
 * hole (in the address index) and the rest of the arena (the tail); then
 * each corruption of the address index and of the tail in turn, caught and
 * put back. */
static void test_check_list_corrupt(void **state) {
  const subject_kind_t *k = *state;
  ar_engine_t *e;
  assert_ar_ok(ar_engine_create(k->policy, 65536, NULL, &e));
  ar_block_t b[3];
  for (int i = 0; i < 3; i++)
    assert_ar_ok(ar_engine_alloc(e, 16, 16, &b[i]));
  assert_ar_ok(ar_engine_free(e, b[1].payload, NULL, NULL));
  assert_healthy(e);
  ar__bt_t *t = list_by_addr(e);
  ar__list_t *l = e->u.list;
  assert_int_equal(t->count, 1);
  ar__bt_pos_t hole = ar__bt_first(t);
  ar__bt_key_t was = ar__bt_get(hole);
  assert_int_equal(was.a, b[1].start);
  assert_int_equal(was.b, b[1].size);
  uint64_t rest = b[2].start + b[2].size;
  assert_int_equal(l->tail, rest);

  /* The tree counts an entry it does not have. */
  t->count++;
  assert_corrupt(e, "address index", was.a, "entry count");
  t->count--;
  assert_healthy(e);

  /* The hole 8 bytes longer: off the grain. */
  ar__bt_set(t, hole, (ar__bt_key_t){was.a, was.b + 8});
  assert_corrupt(e, "free interval bounds", was.a, "off the grain");
  ar__bt_set(t, hole, was);
  assert_healthy(e);

  /* The hole reaching the rest: two free spans that should be one. */
  ar__bt_set(t, hole, (ar__bt_key_t){was.a, rest - was.a});
  assert_corrupt(e, "free intervals coalesced", rest, "touches");
  ar__bt_set(t, hole, was);
  assert_healthy(e);

  /* The hole reaching into the rest. */
  ar__bt_set(t, hole, (ar__bt_key_t){was.a, rest - was.a + 16});
  assert_corrupt(e, "free intervals disjoint", rest, "before the previous");
  ar__bt_set(t, hole, was);
  assert_healthy(e);

  /* The hole so long that its end wraps past 2^64: to 16, the middle of
   * the block before it, then to 0, that block's start (from where a walk
   * of the pieces would come back to the hole for ever). It reaches past
   * the arena all the same. */
  ar__bt_set(t, hole, (ar__bt_key_t){was.a, 0 - was.a + 16});
  assert_corrupt(e, "free interval bounds", was.a, "past the arena");
  ar__bt_set(t, hole, (ar__bt_key_t){was.a, 0 - was.a});
  assert_corrupt(e, "free interval bounds", was.a, "past the arena");
  ar__bt_set(t, hole, was);
  assert_healthy(e);

  /* The tail off the grain. */
  l->tail = rest + 8;
  assert_corrupt(e, "free interval bounds", rest + 8, "off the grain");
  /* Past the arena. */
  l->tail = e->size + 16;
  assert_corrupt(e, "tail", e->size + 16, "starts at");
  l->tail = rest;
  assert_healthy(e);

  /* The span that ends the arena in the address index instead. */
  assert_ar_ok(ar__bt_reserve(t, 1));
  ar__bt_insert(t, (ar__bt_key_t){rest, e->size - rest});
  l->tail = e->size;
  assert_corrupt(e, "tail", e->size, "in the address index");
  ar__bt_erase(t, ar__bt_next(ar__bt_first(t)));
  l->tail = rest;
  assert_healthy(e);

  ar_engine_destroy(e);
}

/* The buddy engine's free space (engine_internal.h), checked against the
 * stats before any use. */
static ar__buddy_t *buddy_view(ar_engine_t *e) {
  ar__buddy_t *bd = e->u.buddy;
  ar_engine_stats_t st;
  ar_engine_stats(e, &st);
  assert_int_equal(bd->max_order, st.max_order);
  assert_int_equal(UINT64_C(1) << bd->max_order, e->size);
  for (unsigned j = 0; j <= AR_ORDER_MAX; j++) {
    assert_int_equal(bd->count[j], j <= st.max_order ? st.free_by_order[j] : 0);
    assert_int_equal((bd->nonempty >> j) & 1, bd->count[j] > 0);
    if (j >= AR_BUDDY_MIN_ORDER && j <= bd->max_order) {
      assert_ptr_equal(bd->free[j].mem, &e->mem);
      assert_int_equal(bd->free[j].nbits, e->size >> j);
    }
  }
  return bd;
}

/* One block of order 5 at 0 in 64 KiB: its buddy at 32 is free, and one
 * block of every order from 6 to 15 (at 2^j). Each corruption of the
 * free-space index in turn, caught and put back; last, with everything
 * freed, two free buddies of the largest order that has buddies. */
static void test_check_buddy_corrupt(void **state) {
  (void)state;
  ar_engine_t *e;
  assert_ar_ok(ar_engine_create(AR_POLICY_BUDDY, 65536, NULL, &e));
  ar_block_t b;
  assert_ar_ok(ar_engine_alloc(e, 16, 16, &b));
  assert_int_equal(b.start, 0);
  assert_int_equal(b.size, 32);
  assert_healthy(e);
  ar__buddy_t *bd = buddy_view(e);
  for (unsigned j = 5; j < 16; j++) {
    assert_int_equal(bd->count[j], 1);
    assert_true(ar__bitset_test(&bd->free[j], 1));
  }

  /* The allocated block marked free too (and counted): it and its buddy
   * at 32 are both free. */
  ar__bitset_set(&bd->free[5], 0);
  bd->count[5]++;
  assert_corrupt(e, "no two free buddies", 0, "are buddies");
  ar__bitset_clear(&bd->free[5], 0);
  bd->count[5]--;
  assert_healthy(e);

  /* A count with no block behind it. */
  bd->count[6]++;
  assert_corrupt(e, "order count", 0, "order 6:");
  bd->count[6]--;
  assert_healthy(e);

  /* The mask without an order that has a free block. */
  bd->nonempty &= ~(UINT64_C(1) << 7);
  assert_corrupt(e, "order mask", 0, "order 7:");
  bd->nonempty |= UINT64_C(1) << 7;
  assert_healthy(e);

  /* A free bit set in a word of level 0 whose summary bit stays clear
   * (order 8, bit 64: the block at 16384, inside the free block of order
   * 14 there): level 1 disagrees with level 0. */
  ar__bitset_t *set = &bd->free[8];
  assert_true(set->nlevels >= 2);
  assert_int_equal(set->level[0][1], 0);
  assert_int_equal(set->level[1][0], 1); /* word 0 only: the block at 256 */
  set->level[0][1] |= ar__bitset_bit(64);
  assert_corrupt(e, "order index", 0, "summary level 1");
  set->level[0][1] = 0;
  assert_healthy(e);

  /* The mask naming an order past AR_ORDER_MAX, which has no count, no
   * index and no place in the stats. */
  bd->nonempty |= UINT64_C(1) << 50;
  assert_corrupt(e, "order mask", 0, "order 50:");
  bd->nonempty &= ~(UINT64_C(1) << 50);
  assert_healthy(e);

  /* A summary bit of order 5's level 1 past the 32 words of its level 0
   * (one word of level 1 names them all): it names no block at all. */
  set = &bd->free[5];
  assert_int_equal(set->nlevels, 2);
  assert_int_equal(set->nwords[0], 32);
  set->level[1][0] |= ar__bitset_bit(40);
  assert_corrupt(e, "order index", 0, "order 5: summary level 1");
  set->level[1][0] &= ~ar__bitset_bit(40);
  assert_healthy(e);

  /* Order 6's search for its lowest free block starting at word 1, past
   * the free block at 64 (bit 1 of word 0): take would miss it. */
  set = &bd->free[6];
  assert_int_equal(set->low, 0);
  set->low = 1;
  assert_corrupt(e, "order index", 0,
                 "order 6: the search for the lowest free block starts "
                 "past one");
  set->low = 0;
  assert_healthy(e);

  /* A free block counted in an order the arena cannot have. */
  bd->count[4] = 1;
  bd->nonempty |= UINT64_C(1) << 4;
  assert_corrupt(e, "order range", 0, "order 4 has free blocks");
  bd->count[4] = 0;
  bd->nonempty &= ~(UINT64_C(1) << 4);
  assert_healthy(e);

  /* Two live blocks of 32 bytes at 32 and 64 recorded instead as one of
   * 64 bytes at 32: the pieces still tile the arena and the byte counts
   * agree, but a block of order 6 cannot start at 32. */
  ar_block_t at32, at64, at96;
  assert_ar_ok(ar_engine_alloc(e, 16, 16, &at32));
  assert_ar_ok(ar_engine_alloc(e, 16, 16, &at64));
  assert_ar_ok(ar_engine_alloc(e, 16, 16, &at96));
  assert_int_equal(at32.start, 32);
  assert_int_equal(at64.start, 64);
  assert_int_equal(at96.start, 96);
  assert_healthy(e);
  ar__blockmap_remove(&e->blocks, ar__blockmap_find(&e->blocks, at32.payload));
  ar__blockmap_remove(&e->blocks, ar__blockmap_find(&e->blocks, at64.payload));
  assert_ar_ok(ar__blockmap_reserve(&e->blocks));
  ar__blockmap_insert(&e->blocks, &(ar__blockent_t){at32.payload, 48});
  e->requested += 48 - 2 * 16;
  assert_corrupt(e, "block alignment", 32, "not aligned to its 64 bytes");
  ar__blockmap_remove(&e->blocks, ar__blockmap_find(&e->blocks, at32.payload));
  assert_ar_ok(ar__blockmap_reserve(&e->blocks));
  ar__blockmap_insert(&e->blocks, &(ar__blockent_t){at32.payload, 16});
  assert_ar_ok(ar__blockmap_reserve(&e->blocks));
  ar__blockmap_insert(&e->blocks, &(ar__blockent_t){at64.payload, 16});
  e->requested -= 48 - 2 * 16;
  assert_healthy(e);
  assert_ar_ok(ar_engine_free(e, at32.payload, NULL, NULL));
  assert_ar_ok(ar_engine_free(e, at64.payload, NULL, NULL));
  assert_ar_ok(ar_engine_free(e, at96.payload, NULL, NULL));

  assert_ar_ok(ar_engine_free(e, b.payload, NULL, NULL));
  assert_healthy(e);

  /* The arena, one free block of order 16, recorded instead as its two
   * halves of order 15, both free: the largest order whose blocks have
   * buddies. */
  assert_int_equal(bd->nonempty, UINT64_C(1) << 16);
  ar__bitset_clear(&bd->free[16], 0);
  bd->count[16] = 0;
  ar__bitset_set(&bd->free[15], 0);
  ar__bitset_set(&bd->free[15], 1);
  bd->count[15] = 2;
  bd->nonempty = UINT64_C(1) << 15;
  assert_corrupt(e, "no two free buddies", 0, "order 15 at 0 and 32768");
  ar__bitset_clear(&bd->free[15], 0);
  ar__bitset_clear(&bd->free[15], 1);
  bd->count[15] = 0;
  ar__bitset_set(&bd->free[16], 0);
  bd->count[16] = 1;
  bd->nonempty = UINT64_C(1) << 16;
  assert_healthy(e);
  ar_engine_destroy(e);
}

/* ---- Broken records: the tiling half ------------------------------------- */

/* Three blocks of 16 bytes at 0, 32 and 64, the middle one freed; then
 * each break of what the engine itself keeps (engine.c: the block map,
 * the counters) and of what only the list policies keep besides their
 * address index (the rover, the size index), caught and put back. These
 * are the checks that walk the pieces in address order, the same for
 * every policy. */
static void test_check_tiling_corrupt(void **state) {
  const subject_kind_t *k = *state;
  ar_engine_t *e;
  assert_ar_ok(ar_engine_create(k->policy, 65536, NULL, &e));
  ar_block_t b[3];
  for (int i = 0; i < 3; i++) {
    assert_ar_ok(ar_engine_alloc(e, 16, 16, &b[i]));
    assert_int_equal(b[i].start, 32 * (uint64_t)i);
    assert_int_equal(b[i].size, 32);
  }
  assert_ar_ok(ar_engine_free(e, b[1].payload, NULL, NULL));
  assert_healthy(e);

  /* The counters: a byte requested, or a block's bytes used, that no
   * block holds. */
  e->requested++;
  assert_corrupt(e, "byte counts", 0, "for 32 requested");
  e->requested--;
  e->used += 32;
  assert_corrupt(e, "byte counts", 0, "counters say 96 and 32");
  e->used -= 32;
  assert_healthy(e);

  /* A block in the map that lies in the free space at 32: the walk does
   * not meet it. */
  assert_ar_ok(ar__blockmap_reserve(&e->blocks));
  ar__blockmap_insert(&e->blocks, &(ar__blockent_t){b[1].payload, 16});
  assert_corrupt(e, "block map", 0, "walked 2 blocks, the map holds 3");
  ar__blockmap_remove(&e->blocks, ar__blockmap_find(&e->blocks, b[1].payload));
  assert_healthy(e);

  /* The block at 64 gone from the map: nothing starts there. */
  ar__blockmap_remove(&e->blocks, ar__blockmap_find(&e->blocks, b[2].payload));
  assert_corrupt(e, "tiling", 64, "neither free nor the start");
  assert_ar_ok(ar__blockmap_reserve(&e->blocks));
  ar__blockmap_insert(&e->blocks, &(ar__blockent_t){b[2].payload, 16});
  assert_healthy(e);

  /* The block at 0 grown to 64 bytes, over the free space at 32. */
  ar__blockent_t *ent = ar__blockmap_find(&e->blocks, b[0].payload);
  ent->n = 40;
  assert_corrupt(e, "free space disjoint from blocks", 32, "overlaps");
  /* A request of 0 bytes. */
  ent->n = 0;
  assert_corrupt(e, "block size", 0, "for a request of 0");
  /* A block that ends past the arena. */
  ent->n = 65536;
  assert_corrupt(e, "block bounds", 0, "ends past the arena");
  ent->n = 16;
  assert_healthy(e);

  if (k->policy != AR_POLICY_BUDDY) {
    ar__list_t *l = e->u.list;
    /* The next-fit rover past the arena (every list policy keeps it). */
    uint64_t rover = l->rover;
    l->rover = e->size + 16;
    assert_corrupt(e, "rover", e->size + 16, "past the arena");
    l->rover = rover;
    assert_healthy(e);
  }
  if (k->policy == AR_POLICY_BEST) {
    /* A span in the size index that the free space does not have. */
    ar__list_t *l = e->u.list;
    assert_true(l->sized);
    assert_ar_ok(ar__sizeidx_reserve(&l->by_size, 32));
    ar__sizeidx_insert(&l->by_size, b[0].start, 32);
    assert_corrupt(e, "size index", 0, "holds 3 spans, the free space 2");
    ar__sizeidx_erase_at(&l->by_size,
                         ar__sizeidx_find(&l->by_size, b[0].start, 32));
    assert_healthy(e);
  }
  ar_engine_destroy(e);
}

/* Best fit's size index (sizeidx.h), which holds every free span by size:
 * spans of up to 4096 bytes in a tree per size class, with a bitmap of the
 * classes that hold any, the larger ones in one tree by (size, start).
 * Three blocks of 16 bytes at 0, 32 and 64, the middle one freed: the
 * span [32, 64) in the class of 32 bytes, the rest of the arena in the
 * large tree. Then each break caught and put back. Of the index's own
 * invariants, which the comparison with the address index would not all
 * see, each named by the index's check: a span in the wrong class, the
 * bitmap without a class that holds a span or with one that holds none, a
 * small span in the large tree, a count of spans the trees do not hold,
 * and a class tree's own count. And a sound index that holds as many spans
 * as the free space but one that is not free, which only that comparison
 * sees. */
static void test_check_size_index_corrupt(void **state) {
  (void)state;
  ar_engine_t *e;
  assert_ar_ok(ar_engine_create(AR_POLICY_BEST, 65536, NULL, &e));
  ar_block_t b[3];
  for (int i = 0; i < 3; i++)
    assert_ar_ok(ar_engine_alloc(e, 16, 16, &b[i]));
  assert_ar_ok(ar_engine_free(e, b[1].payload, NULL, NULL));
  assert_healthy(e);
  ar__list_t *l = e->u.list;
  ar__sizeidx_t *x = &l->by_size;
  assert_true(l->sized);
  assert_int_equal(x->count, 2);
  ar__bt_t *c32 = &x->classes[1]; /* the class of 32-byte spans */
  assert_int_equal(c32->count, 1);
  assert_int_equal(x->large.count, 1);
  assert_int_equal(x->nonempty[0], UINT64_C(1) << 1);
  ar__bt_pos_t hole = ar__bt_first(c32);
  ar__bt_key_t was = ar__bt_get(hole); /* (start, size) */
  assert_int_equal(was.a, 32);
  assert_int_equal(was.b, 32);

  /* The span of 32 bytes recorded as 48 in the class of 32. */
  ar__bt_set(c32, hole, (ar__bt_key_t){32, 48});
  assert_corrupt(e, "size index", 32, "wrong size class");
  ar__bt_set(c32, hole, was);
  assert_healthy(e);

  /* The span [32, 64) recorded as [0, 32), where a block is: the index
   * is sound and holds as many spans as the free space, but not the same
   * ones. */
  ar__bt_set(c32, hole, (ar__bt_key_t){0, 32});
  assert_corrupt(e, "size index", 0,
                 "the span [0, +32) is in the size index only");
  ar__bt_set(c32, hole, was);
  assert_healthy(e);

  /* The bitmap without the class of 32, then with the empty class of 48
   * too. */
  x->nonempty[0] = 0;
  assert_corrupt(e, "size index", 0, "class bitmap");
  x->nonempty[0] = UINT64_C(1) << 1 | UINT64_C(1) << 2;
  assert_corrupt(e, "size index", 0, "class bitmap");
  x->nonempty[0] = UINT64_C(1) << 1;
  assert_healthy(e);

  /* The span of 32 bytes moved to the large tree, as (size, start). */
  ar__bt_erase(c32, hole);
  x->nonempty[0] = 0;
  assert_ar_ok(ar__bt_reserve(&x->large, 1));
  ar__bt_insert(&x->large, (ar__bt_key_t){32, 32});
  assert_corrupt(e, "size index", 32, "small span in the large tree");
  ar__bt_erase(&x->large, ar__bt_first(&x->large));
  assert_ar_ok(ar__bt_reserve(c32, 1));
  ar__bt_insert(c32, was);
  x->nonempty[0] = UINT64_C(1) << 1;
  assert_healthy(e);

  /* The index counts a span that no tree holds. */
  x->count++;
  assert_corrupt(e, "size index", 0, "span count");
  x->count--;
  assert_healthy(e);

  /* A class tree counts an entry it does not have. */
  c32->count++;
  assert_corrupt(e, "size index", 32, "entry count");
  c32->count--;
  assert_healthy(e);

  ar_engine_destroy(e);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      ENGINE_TEST(test_check_healthy, FIRST),
      ENGINE_TEST(test_check_healthy, NEXT),
      ENGINE_TEST(test_check_healthy, BEST),
      ENGINE_TEST(test_check_healthy, WORST),
      ENGINE_TEST(test_check_healthy, BUDDY),
      ENGINE_TEST(test_check_list_corrupt, FIRST),
      ENGINE_TEST(test_check_list_corrupt, NEXT),
      ENGINE_TEST(test_check_list_corrupt, BEST),
      ENGINE_TEST(test_check_list_corrupt, WORST),
      ENGINE_TEST(test_check_buddy_corrupt, BUDDY),
      cmocka_unit_test(test_check_size_index_corrupt),
      ENGINE_TEST(test_check_tiling_corrupt, FIRST),
      ENGINE_TEST(test_check_tiling_corrupt, NEXT),
      ENGINE_TEST(test_check_tiling_corrupt, BEST),
      ENGINE_TEST(test_check_tiling_corrupt, WORST),
      ENGINE_TEST(test_check_tiling_corrupt, BUDDY),
      cmocka_unit_test(test_policy_names),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
