/*
 * test_server_blocks.c: the daemon's records of who holds which block
 * (server/blocks.c) and the arena operations that keep them in step with
 * the engine (server/arena.c): the payload table against a plain list
 * under random inserts and removes, holds on two lists at once, detached
 * blocks, all-or-nothing allocation, frees refused to non-holders,
 * reclamation of everything a holder had across arenas, the check that
 * catches records out of step, references counted per holder (retain,
 * release, transfer), quota arithmetic on the records, and their memory
 * (the pools' chunks and the table) following them down as well as up.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include "ar/error.h"
#include "arena.h"
#include "asan.h"
#include "blocks.h"

/* What the allocations below could not give back when one failed: none,
 * with memory to spare (checked where an alloc is undone). */
static uint64_t kept;

#define assert_ok(rc)                                                          \
  do {                                                                         \
    int rc_ = (rc);                                                            \
    if (rc_ != 0)                                                              \
      fail_msg("%s = %s", #rc, ar_err_name(rc_));                             \
  } while (0)

static void test_table_random(void **state) {
  (void)state;
  enum { N = 5000 };
  ad_blocks_t pools;
  ad_blocktab_t t;
  ad_blocks_init(&pools);
  assert_ok(ad_blocktab_init(&t));

  static uint64_t keys[N];
  static ad_block_t *recs[N];
  size_t n = 0;
  srand(7);
  for (int step = 0; step < 100000; step++) {
    if (n < N && (n == 0 || rand() % 3 != 0)) {
      uint64_t k = (uint64_t)(rand() % 100000) * 16;
      if (ad_blocktab_find(&t, k) != NULL)
        continue;
      assert_ok(ad_blocktab_reserve(&t, 1));
      assert_ok(ad_blocks_reserve(&pools, 1, 0));
      ad_block_t *b = ad_block_new(&pools, k, NULL, true);
      ad_blocktab_insert(&t, b);
      keys[n] = k;
      recs[n++] = b;
    } else {
      size_t i = (size_t)rand() % n;
      ad_blocktab_remove(&t, recs[i]);
      assert_null(ad_blocktab_find(&t, keys[i]));
      ad_block_undetach(recs[i]);
      ad_block_delete(&pools, recs[i]);
      keys[i] = keys[--n];
      recs[i] = recs[n];
    }
    if (step % 997 == 0) /* every key still found, to the same record */
      for (size_t i = 0; i < n; i++)
        assert_ptr_equal(ad_blocktab_find(&t, keys[i]), recs[i]);
    assert_int_equal(ad_blocktab_count(&t), n);
  }
  size_t seen = 0;
  for (size_t i = 0; i < ad_blocktab_slots(&t); i++)
    seen += ad_blocktab_at(&t, i) != NULL;
  assert_int_equal(seen, n);
  while (n > 0) {
    ad_blocktab_remove(&t, recs[--n]);
    ad_block_delete(&pools, recs[n]);
  }
  assert_int_equal(pools.blocks.live, 0);
  ad_blocktab_fini(&t);
  ad_blocks_fini(&pools);
}

/* The records' memory follows them down as well as up: a hundred
 * thousand detached records in a table, removed and deleted in a random
 * order. The table never grows while records only go, is made smaller
 * several times, is never under 1/16 full until its first size, and is
 * that first size when empty; every record left is found after each time
 * it was made smaller. The pool's chunks go back to malloc as they empty
 * (its count of free and handed-out objects always fills its chunks), so
 * that with nothing left it holds a chunk or two, not its peak, also when
 * the chunks empty one after another while most records are still live.
 * Then the same again, from the emptied pool and table, in that order. */
static void test_memory_follows_records(void **state) {
  (void)state;
  enum { N = 100000 };
  ad_blocks_t pools;
  ad_blocktab_t t;
  ad_blocks_init(&pools);
  assert_ok(ad_blocktab_init(&t));
  size_t first = ad_blocktab_slots(&t);
  static ad_block_t *recs[N];
  for (int round = 0; round < 2; round++) {
    assert_ok(ad_blocktab_reserve(&t, N));
    assert_ok(ad_blocks_reserve(&pools, N, 0));
    for (size_t i = 0; i < N; i++) {
      recs[i] = ad_block_new(&pools, 16 + 32 * (uint64_t)i, NULL, true);
      ad_blocktab_insert(&t, recs[i]);
    }
    size_t peak = ad_blocks_bytes(&pools);
    assert_true(peak >= N * sizeof(ad_block_t));
    /* In a random order, then in the order made (recs[N - 1] first):
     * chunks then empty one by one while most records are still live. */
    srand(11);
    for (size_t i = N - 1; round == 0 && i > 0; i--) {
      size_t j = (size_t)rand() % (i + 1);
      ad_block_t *x = recs[i];
      recs[i] = recs[j];
      recs[j] = x;
    }
    size_t slots = ad_blocktab_slots(&t);
    unsigned shrinks = 0;
    for (size_t n = N; n > 0; n--) {
      ad_blocktab_remove(&t, recs[n - 1]);
      ad_block_undetach(recs[n - 1]);
      ad_block_delete(&pools, recs[n - 1]);
      size_t now = ad_blocktab_slots(&t);
      assert_true(now <= slots);
      assert_true(now == first || (n - 1) * 16 >= now);
      if (now < slots) {
        shrinks++;
        for (size_t i = 0; i + 1 < n; i++)
          assert_ptr_equal(ad_blocktab_find(&t, recs[i]->payload), recs[i]);
        slots = now;
      }
      assert_int_equal(pools.blocks.nfree + pools.blocks.live,
                       pools.blocks.chunks * pools.blocks.per_chunk);
    }
    assert_true(shrinks >= 5);
    assert_int_equal(ad_blocktab_slots(&t), first);
    assert_int_equal(pools.blocks.live, 0);
    assert_true(pools.blocks.chunks >= 1 && pools.blocks.chunks <= 2);
    assert_true(ad_blocks_bytes(&pools) * 50 < peak);
  }
  ad_blocktab_fini(&t);
  ad_blocks_fini(&pools);
}

/* Under AddressSanitizer malloc's own statistics are not glibc's. */
#define HEAP_STATS (!AR_TEST_UNDER_ASAN)

static size_t heap_in_use(void) { return mallinfo2().uordblks; }

/* What the pools and a table say they hold, against what the C library
 * handed out for them (its chunk headers aside). */
static void test_memory_figures(void **state) {
  (void)state;
  ad_blocks_t pools;
  ad_blocks_init(&pools);
  assert_int_equal(ad_blocks_bytes(&pools), 0);
  size_t before = heap_in_use();
  assert_ok(ad_blocks_reserve(&pools, 300, 10)); /* 2 + 1 chunks */
  size_t pool_bytes = ad_blocks_bytes(&pools);
  assert_true(pool_bytes >= 300 * sizeof(ad_block_t) + 10 * sizeof(ad_hold_t));
  if (HEAP_STATS) {
    size_t grown = heap_in_use() - before;
    assert_true(grown >= pool_bytes && grown <= pool_bytes + 3 * 32);
  }
  /* Handing objects out and back takes nothing from malloc. */
  ad_block_t *b = ad_block_new(&pools, 16, NULL, true);
  assert_int_equal(ad_blocks_bytes(&pools), pool_bytes);
  ad_block_undetach(b);
  ad_block_delete(&pools, b);
  assert_int_equal(ad_blocks_bytes(&pools), pool_bytes);

  ad_blocktab_t t;
  assert_ok(ad_blocktab_init(&t));
  size_t small = ad_blocktab_bytes(&t);
  before = heap_in_use();
  assert_ok(ad_blocktab_reserve(&t, 1000));
  size_t big = ad_blocktab_bytes(&t);
  assert_true(big >= 1000 * sizeof(ad_block_t *) && big > small);
  if (HEAP_STATS) { /* the new slots came; the old went back (glibc may
                      * still count them in use, in its thread cache) */
    size_t grown = heap_in_use() - before;
    assert_true(grown + small >= big && grown <= big + 32);
  }
  ad_blocktab_fini(&t);
  ad_blocks_fini(&pools);
}

static void test_holds(void **state) {
  (void)state;
  ad_blocks_t pools;
  ad_holder_t h1, h2, h3;
  ad_blocks_init(&pools);
  ad_holder_init(&h1, 1, 100, 1000, 1000, "one");
  ad_holder_init(&h2, 2, 200, 1000, 1000, "two");
  ad_holder_init(&h3, 3, 300, 0, 0, "three");
  assert_ok(ad_blocks_reserve(&pools, 2, 4));
  assert_ok(ad_holder_reserve(&h1));
  assert_ok(ad_holder_reserve(&h2));
  assert_ok(ad_holder_reserve(&h3));

  ad_block_t *a = ad_block_new(&pools, 16, NULL, false);
  ad_block_t *b = ad_block_new(&pools, 32, NULL, false);
  assert_int_equal(a->refcount, 0);
  ad_hold_t *a1 = ad_hold_add(&pools, a, &h1);
  ad_hold_t *a2 = ad_hold_add(&pools, a, &h2);
  ad_hold_t *a3 = ad_hold_add(&pools, a, &h3);
  ad_hold_add(&pools, b, &h1);
  assert_int_equal(a->refcount, 3);
  assert_int_equal(ad_block_nholds(a), 3);
  assert_ptr_equal(a->holds, a1); /* oldest first */
  assert_ptr_equal(ad_block_hold_of(a, &h2), a2);
  assert_null(ad_block_hold_of(b, &h2));
  assert_int_equal(h1.nholds, 2);
  assert_null(ad_blocks_check_block(a));
  assert_null(ad_blocks_check_block(a)); /* the marks of a check do not
                                            mislead the next */
  /* Two holds of one holder on a block (made by hand): found. */
  a3->holder = &h1;
  assert_string_equal(ad_blocks_check_block(a), "one-hold-per-holder");
  a3->holder = &h3;
  assert_null(ad_blocks_check_block(a));

  /* Dropping the middle hold keeps both lists whole. */
  assert_int_equal(ad_hold_drop(&pools, a2), 2);
  assert_ptr_equal(a->holds, a1);
  assert_ptr_equal(a1->block_next, a3);
  assert_int_equal(h2.nholds, 0);
  assert_null(ad_holder_first(&h2));
  assert_null(ad_blocks_check_block(a));

  /* A holder's list, most recent first, empties in any order. */
  assert_ptr_equal(ad_holder_first(&h1)->block, b);
  assert_int_equal(ad_hold_drop(&pools, ad_holder_first(&h1)), 0);
  assert_int_equal(ad_hold_drop(&pools, a1), 1);
  assert_int_equal(h1.nholds, 0);
  assert_int_equal(ad_hold_drop(&pools, a3), 0);
  assert_int_equal(pools.holds.live, 0);

  /* A record that lies about its count is caught. */
  a->refcount = 2;
  assert_string_equal(ad_blocks_check_block(a), "refcount-counts-holds");
  a->refcount = 0;
  assert_string_equal(ad_blocks_check_block(a), "live-record-is-referenced");

  /* Detached: one reference that belongs to nobody. */
  ad_block_t *d = ad_block_new(&pools, 48, NULL, true);
  assert_int_equal(d->refcount, 1);
  assert_null(ad_blocks_check_block(d));
  assert_int_equal(ad_block_undetach(d), 0);
  assert_int_equal(ad_block_undetach(d), 0); /* idempotent */

  ad_block_delete(&pools, a);
  ad_block_delete(&pools, b);
  ad_block_delete(&pools, d);
  assert_int_equal(pools.blocks.live, 0);
  ad_holder_fini(&h1);
  ad_holder_fini(&h2);
  ad_holder_fini(&h3);
  ad_blocks_fini(&pools);
}

/* ---- Arenas ------------------------------------------------------------- */

static ad_arena_t *arena(ad_blocks_t *pools, const char *name, uint64_t size,
                         ar_policy_t policy, uint64_t id) {
  ad_arena_conf_t conf;
  memset(&conf, 0, sizeof(conf));
  strcpy(conf.name, name);
  conf.size = size;
  conf.policy = policy;
  char err[256];
  ad_arena_t *a = NULL;
  int rc = ad_arena_create(&conf, id, pools, &a, err, sizeof(err));
  if (rc != 0)
    fail_msg("ad_arena_create: %s", err);
  return a;
}

static void test_arena_alloc_free(void **state) {
  (void)state;
  ad_blocks_t pools;
  ad_holder_t me, other;
  ad_blocks_init(&pools);
  ad_holder_init(&me, 1, 1, 0, 0, "me");
  ad_holder_init(&other, 2, 2, 0, 0, "other");
  ad_arena_t *a = arena(&pools, "a", 64 << 10, AR_POLICY_FIRST, 1);
  ar_check_report_t rep;

  uint64_t offs[8];
  assert_ok(ad_arena_alloc(a, &me, 100, 16, 8, offs, &kept));
  assert_int_equal(me.nholds, 8);
  assert_int_equal(ad_blocktab_count(&a->table), 8);
  assert_ok(ad_arena_check(a, &rep));

  /* All or nothing: 8 of 16K do not fit in 64K; nothing is left. */
  uint64_t big[8];
  assert_int_equal(ad_arena_alloc(a, &me, 16 << 10, 16, 8, big, &kept),
                   AR_ENOMEM);
  assert_int_equal(kept, 0);
  assert_int_equal(me.nholds, 8);
  assert_int_equal(ad_blocktab_count(&a->table), 8);
  assert_ok(ad_arena_check(a, &rep));
  assert_int_equal(ad_arena_alloc(a, &me, 0, 16, 1, big, &kept), AR_EINVAL);

  ad_freed_t freed = {0};
  assert_int_equal(ad_arena_free(a, &other, offs[0], &freed), AR_EPERM);
  assert_int_equal(ad_arena_free(a, &me, offs[0] + 16, &freed), AR_EINVAL);
  assert_int_equal(freed.blocks, 0);
  assert_ok(ad_arena_free(a, &me, offs[0], &freed));
  assert_int_equal(freed.blocks, 1);
  assert_true(freed.bytes >= 100 + AR_HDR);
  assert_int_equal(ad_arena_free(a, &me, offs[0], &freed), AR_EINVAL);
  assert_int_equal(me.nholds, 7);

  /* Detached blocks: anyone may free them. */
  uint64_t det[2];
  assert_ok(ad_arena_alloc(a, NULL, 50, 64, 2, det, &kept));
  assert_int_equal(det[0] % 64, 0);
  assert_int_equal(a->detached_blocks, 2);
  assert_ok(ad_arena_check(a, &rep));
  assert_ok(ad_arena_free(a, &other, det[0], &freed));
  assert_int_equal(a->detached_blocks, 1);

  /* Reclaim: every block the holder had goes back. */
  ad_freed_t r = {0};
  ad_holder_reclaim(&me, &r);
  assert_int_equal(r.blocks, 7);
  assert_int_equal(me.nholds, 0);
  assert_int_equal(ad_blocktab_count(&a->table), 1); /* the detached one */
  assert_ok(ad_arena_check(a, &rep));

  ad_arena_destroy(a); /* with a detached block still live */
  assert_int_equal(pools.blocks.live, 0);
  assert_int_equal(pools.holds.live, 0);
  ad_holder_fini(&me);
  ad_holder_fini(&other);
  ad_blocks_fini(&pools);
}

/* One holder, blocks in two arenas: reclaim finds them all. */
static void test_reclaim_across_arenas(void **state) {
  (void)state;
  ad_blocks_t pools;
  ad_holder_t h;
  ad_blocks_init(&pools);
  ad_holder_init(&h, 9, 9, 0, 0, "");
  ad_arena_t *a = arena(&pools, "a", 1 << 20, AR_POLICY_BEST, 1);
  ad_arena_t *b = arena(&pools, "b", 1 << 20, AR_POLICY_BUDDY, 2);
  uint64_t offs[100];
  assert_ok(ad_arena_alloc(a, &h, 10, 16, 100, offs, &kept));
  assert_ok(ad_arena_alloc(b, &h, 1000, 16, 50, offs, &kept));
  ad_freed_t r = {0};
  ad_holder_reclaim(&h, &r);
  assert_int_equal(r.blocks, 150);
  assert_int_equal(ad_blocktab_count(&a->table), 0);
  assert_int_equal(ad_blocktab_count(&b->table), 0);
  ar_engine_stats_t st;
  ar_engine_stats(b->engine, &st);
  assert_int_equal(st.live_blocks, 0);
  assert_int_equal(r.bytes, 50 * 1024 + 100 * 32);
  ar_check_report_t rep;
  assert_ok(ad_arena_check(a, &rep));
  assert_ok(ad_arena_check(b, &rep));
  ad_arena_destroy(a);
  ad_arena_destroy(b);
  ad_holder_fini(&h);
  ad_blocks_fini(&pools);
}

/* Reclaim in slices: each takes at most the holds it is given, the most
 * recent first, a shared block freed only with its last reference, and
 * says when the holder is empty; arenas stay sound in between. */
static void test_reclaim_in_slices(void **state) {
  (void)state;
  ad_blocks_t pools;
  ad_holder_t h, other;
  ad_blocks_init(&pools);
  ad_holder_init(&h, 9, 9, 0, 0, "");
  ad_holder_init(&other, 10, 10, 0, 0, "");
  ad_arena_t *a = arena(&pools, "a", 1 << 20, AR_POLICY_FIRST, 1);
  uint64_t offs[5];
  assert_ok(ad_arena_alloc(a, &h, 10, 16, 5, offs, &kept));
  uint32_t refs;
  assert_ok(ad_arena_retain(a, &h, offs[1], &refs)); /* 2 of h's */
  assert_ok(ad_arena_retain(a, &other, offs[0], &refs));

  ad_freed_t r = {0};
  ar_check_report_t rep;
  assert_false(ad_holder_reclaim_some(&h, 2, &r));
  assert_int_equal(r.blocks, 2);
  assert_null(ad_arena_block(a, offs[4])); /* the newest went first */
  assert_null(ad_arena_block(a, offs[3]));
  assert_int_equal(h.nholds, 4);
  assert_ok(ad_arena_check(a, &rep));
  assert_false(ad_holder_reclaim_some(&h, 1, &r));
  assert_int_equal(r.blocks, 3);
  assert_int_equal(h.nholds, 3);
  assert_false(ad_holder_reclaim_some(&h, 0, &r));
  assert_int_equal(r.blocks, 3);
  /* Two holds, three references: offs[1]'s hold goes with both of its,
   * and other still holds offs[0]. */
  assert_true(ad_holder_reclaim_some(&h, 2, &r));
  assert_int_equal(r.blocks, 4);
  assert_int_equal(h.nholds, 0);
  assert_true(ad_holder_reclaim_some(&h, 1, &r));
  assert_int_equal(r.blocks, 4);
  assert_non_null(ad_arena_block(a, offs[0]));
  assert_ok(ad_arena_check(a, &rep));

  ad_holder_reclaim(&other, &r);
  assert_int_equal(r.blocks, 5);
  ad_arena_destroy(a);
  ad_holder_fini(&h);
  ad_holder_fini(&other);
  ad_blocks_fini(&pools);
}

/* The daemon's check catches records out of step with the engine. */
static void test_check_catches(void **state) {
  (void)state;
  ad_blocks_t pools;
  ad_holder_t h;
  ad_blocks_init(&pools);
  ad_holder_init(&h, 1, 1, 0, 0, "");
  ad_arena_t *a = arena(&pools, "a", 64 << 10, AR_POLICY_NEXT, 1);
  uint64_t off;
  assert_ok(ad_arena_alloc(a, &h, 10, 16, 1, &off, &kept));
  ar_check_report_t rep;

  a->detached_blocks = 5;
  assert_int_equal(ad_arena_check(a, &rep), AR_ECORRUPT);
  assert_string_equal(rep.invariant, "daemon-detached-count");
  a->detached_blocks = 0;
  a->detached_bytes = 16; /* the count right, the bytes not */
  assert_int_equal(ad_arena_check(a, &rep), AR_ECORRUPT);
  assert_string_equal(rep.invariant, "daemon-detached-count");
  a->detached_bytes = 0;

  ad_block_t *blk = ad_arena_block(a, off);
  blk->refcount = 7;
  assert_int_equal(ad_arena_check(a, &rep), AR_ECORRUPT);
  assert_string_equal(rep.invariant, "refcount-counts-holds");
  assert_int_equal(rep.offset, off);
  blk->refcount = 1;

  /* A hold that its holder's list has lost (the holder would never drop
   * it), or that sits on another holder's list. */
  h.holds = NULL;
  assert_int_equal(ad_arena_check(a, &rep), AR_ECORRUPT);
  assert_string_equal(rep.invariant, "hold-on-its-holders-list");
  assert_int_equal(rep.offset, off);
  h.holds = blk->holds;
  ad_holder_t other;
  ad_holder_init(&other, 2, 2, 0, 0, "");
  blk->holds->holder = &other;
  assert_int_equal(ad_arena_check(a, &rep), AR_ECORRUPT);
  assert_string_equal(rep.invariant, "hold-on-its-holders-list");
  blk->holds->holder = &h;
  assert_ok(ad_arena_check(a, &rep));

  /* A block the engine has and the records do not. */
  ar_block_t extra;
  assert_ok(ar_engine_alloc(a->engine, 10, 16, &extra));
  assert_int_equal(ad_arena_check(a, &rep), AR_ECORRUPT);
  assert_string_equal(rep.invariant, "daemon-record-per-block");
  assert_ok(ar_engine_free(a->engine, extra.payload, NULL, NULL));
  assert_ok(ad_arena_check(a, &rep));

  ad_arena_destroy(a);
  ad_holder_fini(&h);
  ad_blocks_fini(&pools);
}

/* A client overwrote a header: the free succeeds and counts it. */
static void test_overwritten_header(void **state) {
  (void)state;
  ad_blocks_t pools;
  ad_holder_t h;
  ad_blocks_init(&pools);
  ad_holder_init(&h, 1, 1, 0, 0, "");
  ad_arena_t *a = arena(&pools, "a", 64 << 10, AR_POLICY_FIRST, 1);
  uint64_t off;
  assert_ok(ad_arena_alloc(a, &h, 10, 16, 1, &off, &kept));
  memset((char *)a->seg.base + off - AR_HDR, 0xee, AR_HDR);
  ad_freed_t freed = {0};
  assert_ok(ad_arena_free(a, &h, off, &freed));
  assert_int_equal(freed.corruptions, 1);
  ar_engine_stats_t st; /* the count ArenaSummary reports */
  ar_engine_stats(a->engine, &st);
  assert_int_equal(st.corruptions, 1);
  ar_check_report_t rep;
  assert_ok(ad_arena_check(a, &rep));
  ad_arena_destroy(a);
  ad_holder_fini(&h);
  ad_blocks_fini(&pools);
}

/* References counted per holder: retain, release, transfer, free and
 * reclaim move them, the block lives while any is left, and each holder's
 * use of the arena counts the block once; the pools count the holds
 * beside each block's first (shared). */
static void test_shared_references(void **state) {
  (void)state;
  ad_blocks_t pools;
  ad_holder_t me, other, third;
  ad_blocks_init(&pools);
  ad_holder_init(&me, 1, 1, 1000, 1000, "me");
  ad_holder_init(&other, 2, 2, 1001, 1001, "other");
  ad_holder_init(&third, 3, 3, 1002, 1002, "third");
  ad_arena_t *a = arena(&pools, "a", 64 << 10, AR_POLICY_BEST, 1);
  ar_check_report_t rep;
  ad_freed_t freed = {0};
  uint32_t refs;

  uint64_t off;
  assert_ok(ad_arena_alloc(a, &me, 100, 16, 1, &off, &kept));
  const ad_block_t *blk = ad_arena_block(a, off);
  assert_int_equal(blk->size, 128);
  assert_int_equal(pools.shared, 0);
  assert_ok(ad_arena_retain(a, &other, off, &refs));
  assert_int_equal(refs, 2);
  assert_int_equal(pools.shared, 1);
  assert_ok(ad_arena_retain(a, &me, off, &refs)); /* twice: counted */
  assert_int_equal(refs, 3);
  assert_int_equal(pools.shared, 1); /* no new hold */
  assert_int_equal(ad_block_nholds(blk), 2);
  assert_int_equal(ad_block_hold_of(blk, &me)->refs, 2);
  assert_int_equal(me.nholds, 2);
  assert_int_equal(ad_holder_usage(&me, a).blocks, 1); /* once */
  assert_int_equal(ad_holder_usage(&me, a).bytes, 128);
  assert_int_equal(ad_holder_usage(&other, a).blocks, 1);
  assert_ok(ad_arena_check(a, &rep));

  /* Retain and release of what is not a live block; release of a block
   * held by others only. */
  assert_int_equal(ad_arena_retain(a, &third, off + 16, &refs), AR_EINVAL);
  assert_int_equal(ad_arena_release(a, &third, off, &freed, &refs), AR_EPERM);
  assert_int_equal(ad_arena_release(a, &third, 4096, &freed, &refs),
                   AR_EINVAL);

  /* Transfer: the count does not move, the holders do. */
  assert_int_equal(ad_arena_transfer(a, &me, &me, off, &refs), AR_EINVAL);
  assert_int_equal(ad_arena_transfer(a, &third, &me, off, &refs), AR_EPERM);
  assert_ok(ad_arena_transfer(a, &me, &third, off, &refs));
  assert_int_equal(refs, 3);
  assert_int_equal(pools.shared, 2); /* me kept one */
  assert_int_equal(ad_block_hold_of(blk, &me)->refs, 1);
  assert_int_equal(ad_block_hold_of(blk, &third)->refs, 1);
  assert_int_equal(ad_holder_usage(&third, a).bytes, 128);
  assert_ok(ad_arena_transfer(a, &third, &other, off, &refs));
  assert_null(ad_block_hold_of(blk, &third));
  assert_int_equal(pools.shared, 1); /* third's last: to a holder */
  assert_int_equal(ad_holder_usage(&third, a).blocks, 0);
  assert_int_equal(ad_block_hold_of(blk, &other)->refs, 2);
  assert_ok(ad_arena_check(a, &rep));

  /* A count at its 32-bit limit takes no more references, by retain or
   * by transfer (which adds before it drops), and nothing changes. */
  ad_block_t *full = ad_arena_block(a, off);
  full->refcount = UINT32_MAX;
  assert_int_equal(ad_arena_retain(a, &third, off, &refs), AR_ELIMIT);
  assert_int_equal(ad_arena_transfer(a, &other, &third, off, &refs), AR_ELIMIT);
  assert_null(ad_block_hold_of(blk, &third));
  assert_int_equal(ad_block_hold_of(blk, &other)->refs, 2);
  assert_int_equal(third.nholds, 0);
  full->refcount = 3;
  assert_ok(ad_arena_check(a, &rep));

  /* The allocator's free drops its own reference only; other's hold is
   * now the block's first. */
  assert_ok(ad_arena_free(a, &me, off, &freed));
  assert_int_equal(freed.blocks, 0);
  assert_int_equal(ad_holder_usage(&me, a).blocks, 0);
  assert_int_equal(pools.shared, 0);
  assert_ok(ad_arena_release(a, &other, off, &freed, &refs));
  assert_int_equal(refs, 1);
  assert_ok(ad_arena_release(a, &other, off, &freed, &refs));
  assert_int_equal(refs, 0);
  assert_int_equal(freed.blocks, 1);
  assert_null(ad_arena_block(a, off));
  assert_int_equal(other.nholds, 0);

  /* A detached block retained: the detached reference goes with a free,
   * the block with the retainer's release. */
  assert_ok(ad_arena_alloc(a, NULL, 200, 16, 1, &off, &kept));
  assert_int_equal(a->detached_bytes, 224);
  assert_ok(ad_arena_retain(a, &other, off, &refs));
  assert_int_equal(refs, 2);
  assert_int_equal(pools.shared, 0); /* the first hold */
  assert_ok(ad_arena_free(a, &third, off, &freed));
  assert_int_equal(a->detached_blocks, 0);
  assert_int_equal(a->detached_bytes, 0);
  assert_non_null(ad_arena_block(a, off));
  assert_int_equal(ad_arena_free(a, &third, off, &freed), AR_EPERM);
  assert_ok(ad_arena_check(a, &rep));
  /* Reclaim drops every reference at once. */
  assert_ok(ad_arena_retain(a, &other, off, &refs));
  assert_ok(ad_arena_retain(a, &other, off, &refs));
  assert_int_equal(other.nholds, 3);
  freed = (ad_freed_t){0};
  ad_holder_reclaim(&other, &freed);
  assert_int_equal(freed.blocks, 1);
  assert_int_equal(other.nholds, 0);
  assert_int_equal(other.nuses, 0);
  assert_int_equal(ad_blocktab_count(&a->table), 0);
  assert_ok(ad_arena_check(a, &rep));

  /* Destroying an arena drops every holder's use of it. */
  assert_ok(ad_arena_alloc(a, &me, 10, 16, 1, &off, &kept));
  assert_ok(ad_arena_retain(a, &other, off, &refs));
  assert_int_equal(pools.shared, 1);
  ad_arena_destroy(a);
  assert_int_equal(pools.shared, 0);
  assert_int_equal(me.nuses, 0);
  assert_int_equal(other.nuses, 0);
  assert_int_equal(me.nholds + other.nholds, 0);
  assert_int_equal(pools.holds.live, 0);
  ad_holder_fini(&me);
  ad_holder_fini(&other);
  ad_holder_fini(&third);
  ad_blocks_fini(&pools);
}

/* Quotas: a holder's blocks and bytes, the detached blocks' together. */
static void test_quotas(void **state) {
  (void)state;
  ad_blocks_t pools;
  ad_holder_t me, other;
  ad_blocks_init(&pools);
  ad_holder_init(&me, 1, 1, 1000, 1000, "me");
  ad_holder_init(&other, 2, 2, 1000, 1000, "other");
  ad_arena_conf_t conf;
  memset(&conf, 0, sizeof(conf));
  strcpy(conf.name, "q");
  conf.size = 1 << 20;
  conf.policy = AR_POLICY_BUDDY;
  conf.quota_bytes = 4096; /* 100 bytes take 128 (buddy) */
  conf.quota_blocks = 3;
  char err[256];
  ad_arena_t *a = NULL;
  assert_ok(ad_arena_create(&conf, 1, &pools, &a, err, sizeof(err)));

  char msg[256];
  assert_ok(ad_arena_quota_alloc(a, &me, 100, 16, 3, msg, sizeof(msg)));
  assert_int_equal(ad_arena_quota_alloc(a, &me, 100, 16, 4, msg, sizeof(msg)),
                   AR_ELIMIT);
  assert_string_equal(msg, "quota_blocks is 3: 0 in use, the request needs "
                           "4 more");
  /* 2048 + 16 rounds up to a 4096-byte buddy block: one fits, two not. */
  assert_ok(ad_arena_quota_alloc(a, &me, 2048, 16, 1, msg, sizeof(msg)));
  assert_int_equal(ad_arena_quota_alloc(a, &me, 2048, 16, 2, msg, sizeof(msg)),
                   AR_ELIMIT);
  assert_string_equal(msg, "quota_bytes is 4096: 0 in use, the request "
                           "needs 8192 more");
  /* A block larger than the arena is left to the allocation (no room);
   * the bytes of many blocks are summed. */
  assert_ok(ad_arena_quota_alloc(a, &me, AR_N_MAX, 16, 3, msg, sizeof(msg)));
  conf.policy = AR_POLICY_FIRST;
  conf.quota_blocks = 0;
  ad_arena_t *big = NULL;
  assert_ok(ad_arena_create(&conf, 2, &pools, &big, err, sizeof(err)));
  assert_int_equal(ad_arena_quota_alloc(big, &me, 1 << 19, 16, UINT32_MAX,
                                        msg, sizeof(msg)),
                   AR_ELIMIT);
  ad_arena_destroy(big);

  uint64_t offs[3];
  assert_ok(ad_arena_alloc(a, &me, 100, 16, 3, offs, &kept));
  assert_int_equal(ad_arena_quota_alloc(a, &me, 1, 16, 1, msg, sizeof(msg)),
                   AR_ELIMIT);
  assert_string_equal(msg, "quota_blocks is 3: 3 in use, the request needs "
                           "1 more");
  /* Another holder has its own quota; a block it holds already is free. */
  const ad_block_t *blk = ad_arena_block(a, offs[0]);
  assert_ok(ad_arena_quota_hold(a, &me, blk, msg, sizeof(msg)));
  assert_ok(ad_arena_quota_hold(a, &other, blk, msg, sizeof(msg)));
  uint32_t refs;
  for (int i = 0; i < 3; i++)
    assert_ok(ad_arena_retain(a, &other, offs[i], &refs));
  assert_int_equal(ad_arena_quota_hold(a, &other, blk, msg, sizeof(msg)), 0);

  /* The detached blocks share one quota. */
  assert_ok(ad_arena_quota_alloc(a, NULL, 100, 16, 3, msg, sizeof(msg)));
  uint64_t det[2];
  assert_ok(ad_arena_alloc(a, NULL, 1000, 16, 2, det, &kept));
  assert_int_equal(a->detached_bytes, 2048);
  assert_int_equal(ad_arena_quota_alloc(a, NULL, 2100, 16, 1, msg,
                                        sizeof(msg)),
                   AR_ELIMIT);
  assert_string_equal(msg, "quota_bytes is 4096: 2048 in use, the request "
                           "needs 4096 more");

  ad_freed_t r = {0};
  ad_holder_reclaim(&me, &r);
  ad_holder_reclaim(&other, &r);
  assert_int_equal(r.blocks, 3);
  ar_check_report_t rep;
  assert_ok(ad_arena_check(a, &rep));
  ad_arena_destroy(a);
  ad_holder_fini(&me);
  ad_holder_fini(&other);
  ad_blocks_fini(&pools);
}

/* The quota's block size is the engine's: ar_engine_block_size predicts
 * every allocation's size, for every policy and alignment. */
static void test_block_size_prediction(void **state) {
  (void)state;
  srand(11);
  for (int p = 0; p < AR_POLICY_COUNT; p++) {
    ar_engine_t *e;
    assert_ok(ar_engine_create((ar_policy_t)p, 1 << 20, NULL, &e));
    for (int i = 0; i < 2000; i++) {
      uint64_t n = 1 + (uint64_t)(rand() % 5000);
      uint64_t align = (uint64_t)16 << (rand() % 9);
      uint64_t want = ar_engine_block_size(e, n, align);
      ar_block_t b;
      int rc = ar_engine_alloc(e, n, align, &b);
      if (rc == AR_ENOMEM)
        break;
      assert_ok(rc);
      assert_int_equal(b.size, want);
    }
    assert_int_equal(ar_engine_block_size(e, 0, 16), 0);
    assert_int_equal(ar_engine_block_size(e, 1, 24), 0);
    assert_int_equal(ar_engine_block_size(e, AR_N_MAX, 4096),
                     p == AR_POLICY_BUDDY ? UINT64_MAX
                                          : ((uint64_t)AR_N_MAX + 31) & ~15ull);
    ar_engine_destroy(e);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_table_random),
      cmocka_unit_test(test_memory_follows_records),
      cmocka_unit_test(test_memory_figures),
      cmocka_unit_test(test_holds),
      cmocka_unit_test(test_arena_alloc_free),
      cmocka_unit_test(test_reclaim_across_arenas),
      cmocka_unit_test(test_reclaim_in_slices),
      cmocka_unit_test(test_check_catches),
      cmocka_unit_test(test_overwritten_header),
      cmocka_unit_test(test_shared_references),
      cmocka_unit_test(test_quotas),
      cmocka_unit_test(test_block_size_prediction),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
