/*
 * test_engine_btree.c: the list engines' augmented B+tree (an internal
 * part of common/engine, btree.h) against a sorted array.
 *
 * The engine tests reach the tree only through placements; this test
 * drives it directly, so that every search can be compared with the
 * answer a plain sorted array gives. Random inserts, erases and in-place
 * updates, in a key range small enough that leaves split, merge and lend
 * slots to each other all the time, interleaved with searches: ar__bt_seek
 * (which keeps a finger on the leaf it found, so a stale finger after a
 * merge would answer wrongly), ar__bt_lower_bound, and the augmented
 * ar__bt_leftmost_b and ar__bt_search_b (the first entry of at least a
 * size, from the start or from a position). The tree's own verification runs
 * after every change. And trees that share a pool of spare nodes: the pool
 * keeps no more than its cap, and another tree grows from its nodes. And
 * the size index built on the trees (sizeidx.h): two reserves, then two
 * inserts into one full tree, as a list engine's take does.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "btree.h"
#include "lcg.h"
#include "sizeidx.h"

#define KEYS 4096 /* keys a are drawn from [0, KEYS) */

typedef struct model_s {
  ar__bt_key_t e[KEYS]; /* the entries, sorted by a (all a distinct) */
  size_t n;
} model_t;

/* The index of the first entry with a >= a. */
static size_t model_lower(const model_t *m, uint64_t a) {
  size_t i = 0;
  while (i < m->n && m->e[i].a < a)
    i++;
  return i;
}

/* The index of the first entry from index i on with b >= min_b, or m->n. */
static size_t model_search_b(const model_t *m, size_t i, uint64_t min_b) {
  while (i < m->n && m->e[i].b < min_b)
    i++;
  return i;
}

/* A tree position and a model index name the same entry. */
static void assert_same(const model_t *m, ar__bt_pos_t p, size_t i) {
  if (i == m->n) {
    assert_true(ar__bt_end(p));
    return;
  }
  assert_false(ar__bt_end(p));
  ar__bt_key_t k = ar__bt_get(p);
  assert_int_equal(k.a, m->e[i].a);
  assert_int_equal(k.b, m->e[i].b);
}

static void verify(const ar__bt_t *t, const model_t *m) {
  ar__bt_key_t where;
  const char *bad = ar__bt_verify(t, &where);
  if (bad)
    fail_msg("%s near (%llu, %llu)", bad, (unsigned long long)where.a,
             (unsigned long long)where.b);
  assert_int_equal(t->count, m->n);
  uint64_t max = 0;
  for (size_t i = 0; i < m->n; i++)
    max = m->e[i].b > max ? m->e[i].b : max;
  assert_int_equal(ar__bt_max_b(t), max);
}

static void test_random_against_array(void **state) {
  (void)state;
  static model_t m;
  memset(&m, 0, sizeof m);
  ar__mem_t mem = {0};
  ar__bt_t t;
  assert_int_equal(ar__bt_init(&t, &mem), 0);
  uint64_t x = 7;
  unsigned long grew = 0, shrank = 0;
  unsigned tallest = 0;
  for (int step = 0; step < 60000; step++) {
    /* Phases that fill towards KEYS and drain towards empty, so that the
     * tree grows and loses levels many times. */
    bool filling = (step / 5000) % 2 == 0;
    uint64_t r = next_rand(&x) % 100;
    uint64_t a = next_rand(&x) % KEYS;
    size_t i = model_lower(&m, a);
    bool present = i < m.n && m.e[i].a == a;
    if (r < (filling ? 40u : 15u) && !present) {
      ar__bt_key_t k = {a, 1 + next_rand(&x) % 1000};
      assert_int_equal(ar__bt_reserve(&t, 1), 0);
      ar__bt_insert(&t, k);
      memmove(&m.e[i + 1], &m.e[i], (m.n - i) * sizeof m.e[0]);
      m.e[i] = k;
      m.n++;
      grew++;
      tallest = t.height > tallest ? t.height : tallest;
      verify(&t, &m);
    } else if (r < 55 && i < m.n) {
      /* Erase the lower bound, found by a seek (moves the finger). */
      ar__bt_pos_t p = ar__bt_seek(&t, (ar__bt_key_t){a, 0});
      assert_same(&m, p, i);
      ar__bt_erase(&t, p);
      memmove(&m.e[i], &m.e[i + 1], (m.n - i - 1) * sizeof m.e[0]);
      m.n--;
      shrank++;
      verify(&t, &m);
    } else if (r < 65 && i < m.n) {
      /* A new b in place, as a split or merge of a free span does. */
      ar__bt_pos_t p = ar__bt_seek(&t, (ar__bt_key_t){a, 0});
      m.e[i].b = 1 + next_rand(&x) % 1000;
      ar__bt_set(&t, p, m.e[i]);
      verify(&t, &m);
    } else if (r < 80) {
      assert_same(&m, ar__bt_seek(&t, (ar__bt_key_t){a, 0}), i);
    } else if (r < 90) {
      assert_same(&m, ar__bt_lower_bound(&t, (ar__bt_key_t){a, 0}), i);
    } else if (r < 95) {
      uint64_t min_b = 1 + next_rand(&x) % 1000;
      assert_same(&m, ar__bt_leftmost_b(&t, min_b),
                  model_search_b(&m, 0, min_b));
    } else {
      /* From a position on, as next fit and aligned requests search. */
      uint64_t min_b = 1 + next_rand(&x) % 1000;
      ar__bt_pos_t from = ar__bt_lower_bound(&t, (ar__bt_key_t){a, 0});
      assert_same(&m, ar__bt_search_b(&t, from, min_b),
                  model_search_b(&m, i, min_b));
    }
  }
  assert_true(grew > 10000 && shrank > 10000);
  assert_true(tallest >= 2); /* inner nodes split and merged too */
  ar__bt_fini(&t);
  assert_int_equal(mem.bytes, 0);
}

/* Trees that share a pool of spare nodes (btree.h), as the size classes of
 * sizeidx.h do. A tree filled to three levels and emptied again gives the
 * nodes its merges free to the pool, which keeps at most its cap (it
 * fills up to it: far more nodes are freed) and frees the rest; another
 * tree of the pool then grows from those nodes before asking malloc, so
 * the memory count does not move while the pool has any. After both trees
 * and the pool are gone the memory count is back to nothing. */
static void test_pool(void **state) {
  (void)state;
  enum { CAP = 5, N = 3000 };
  ar__mem_t mem = {0};
  ar__bt_pool_t pool;
  ar__bt_pool_init(&pool, &mem, CAP);
  ar__bt_t a, b;
  assert_int_equal(ar__bt_init_pooled(&a, &pool), 0);
  assert_int_equal(ar__bt_init_pooled(&b, &pool), 0);
  for (uint64_t i = 0; i < N; i++) {
    assert_int_equal(ar__bt_reserve(&a, 1), 0);
    ar__bt_insert(&a, (ar__bt_key_t){i, 1 + i % 7});
  }
  assert_true(a.height >= 2);
  assert_int_equal(pool.count, 0);
  while (a.count > 0) {
    ar__bt_erase(&a, ar__bt_first(&a));
    assert_true(pool.count <= CAP);
  }
  assert_int_equal(pool.count, CAP);
  uint64_t before = mem.bytes;
  for (uint64_t i = 0; pool.count > 0; i++) {
    assert_true(i < N);
    assert_int_equal(ar__bt_reserve(&b, 1), 0);
    ar__bt_insert(&b, (ar__bt_key_t){i, 1});
    assert_int_equal(mem.bytes, before);
  }
  ar__bt_key_t where;
  assert_null(ar__bt_verify(&a, &where));
  assert_null(ar__bt_verify(&b, &where));
  ar__bt_fini(&a);
  ar__bt_fini(&b);
  ar__bt_pool_fini(&pool);
  assert_int_equal(mem.bytes, 0);
}

/* Fills the size index's tree for spans of `size` bytes (a size class, or
 * the large tree) with 256 spans at starts 64k: the even k from 0 to 270,
 * in order, which leaves 15 leaves of 8 and one of 16, then the odd k up
 * to 239, which fills the 15. Returns that tree: height 1 with 256
 * entries, so every leaf and the root are full. */
static const ar__bt_t *fill_size_tree(ar__sizeidx_t *x, uint64_t size) {
  for (uint64_t pass = 0; pass < 2; pass++)
    for (uint64_t k = pass; k <= (pass ? 239 : 270); k += 2) {
      assert_int_equal(ar__sizeidx_reserve(x, size), 0);
      ar__sizeidx_insert(x, 64 * k, size);
    }
  const ar__bt_t *t =
      size > AR__SIZEIDX_SMALL_MAX ? &x->large : &x->classes[size / 16 - 1];
  assert_int_equal(t->count, 256);
  assert_int_equal(t->height, 1);
  return t;
}

/* The size index as a list engine's take uses it when a block leaves two
 * free spans (an aligned block's front gap and what follows it): one
 * reserve for each span's size, then the two inserts, into one tree when
 * the sizes share it. The tree is full first (fill_size_tree), so the
 * first insert splits a leaf and the root and adds a new root, and the
 * second, into another full leaf, splits that one: four new nodes, more
 * than one insert at that height can need. An insert cannot fail, so the
 * reserves must have set them all aside. In the large tree and in a size
 * class. */
static void test_size_index_two_inserts(void **state) {
  (void)state;
  static const uint64_t sizes[] = {8192, 32};
  for (size_t i = 0; i < 2; i++) {
    ar__mem_t mem = {0};
    ar__sizeidx_t x;
    assert_int_equal(ar__sizeidx_init(&x, &mem), 0);
    const ar__bt_t *t = fill_size_tree(&x, sizes[i]);
    assert_int_equal(ar__sizeidx_reserve(&x, sizes[i]), 0);
    assert_int_equal(ar__sizeidx_reserve(&x, sizes[i]), 0);
    ar__sizeidx_insert(&x, 64 * 50 + 16, sizes[i]);
    ar__sizeidx_insert(&x, 64 * 170 + 16, sizes[i]);
    assert_int_equal(t->height, 2);
    uint64_t where;
    const char *bad = ar__sizeidx_verify(&x, &where);
    if (bad)
      fail_msg("%s near %llu", bad, (unsigned long long)where);
    assert_int_equal(x.count, 258);
    ar__sizeidx_fini(&x);
    assert_int_equal(mem.bytes, 0);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_random_against_array),
      cmocka_unit_test(test_pool),
      cmocka_unit_test(test_size_index_two_inserts),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
