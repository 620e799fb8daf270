/*
 * test_trace_idmap.c: the parser's map from trace ids to slots (an
 * internal part of common/trace, trace_internal.h) against a plain list.
 *
 * The parse tests reach the map only through trace lines. This test drives
 * it directly with the kinds of ids traces have: counting up from 1 (the
 * dense part), counting up far beyond the others, multiples of 16 and of
 * 4096 (a tracer that names blocks by their address), negative, and random
 * over the whole signed 64-bit range. Every answer is compared with the
 * list, while both parts grow and ids move from the hash part to the dense
 * one. Then the hash part's probe distances, for each kind of id: a bucket
 * function that sends such ids to a few home buckets makes long probe runs
 * and a slow parse, while every answer stays right.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lcg.h"
#include "trace_internal.h"

#define LIVE_MAX 4096 /* ids live at once in the model */

/* The model: the live ids in ascending order, and their slots. */
typedef struct model_s {
  int64_t id[LIVE_MAX];
  uint32_t slot[LIVE_MAX];
  size_t count;
} model_t;

/* The index of the first id in the model >= id (m->count if none): where
 * id is when it is live, and where it goes when it is not. */
static size_t model_lower_bound(const model_t *m, int64_t id) {
  size_t lo = 0, hi = m->count;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (m->id[mid] < id)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

/* Puts id with its slot at `at` (model_lower_bound's answer). */
static void model_insert(model_t *m, size_t at, int64_t id, uint32_t slot) {
  memmove(&m->id[at + 1], &m->id[at], (m->count - at) * sizeof m->id[0]);
  memmove(&m->slot[at + 1], &m->slot[at], (m->count - at) * sizeof m->slot[0]);
  m->id[at] = id;
  m->slot[at] = slot;
  m->count++;
}

/* Removes the id at `at`. */
static void model_remove(model_t *m, size_t at) {
  m->count--;
  memmove(&m->id[at], &m->id[at + 1], (m->count - at) * sizeof m->id[0]);
  memmove(&m->slot[at], &m->slot[at + 1], (m->count - at) * sizeof m->slot[0]);
}

/* The kinds of ids; id_of(kind, k) is the k-th id of a kind. */
enum { SEQUENTIAL, FAR, STRIDE16, STRIDE4096, NEGATIVE, RANDOM, KINDS };

static int64_t id_of(int kind, uint64_t k) {
  const int64_t base = INT64_C(0x55d4a0000000); /* a heap address */
  switch (kind) {
  case SEQUENTIAL:
    return (int64_t)k + 1;
  case FAR:
    return (INT64_C(1) << 40) + (int64_t)k;
  case STRIDE16:
    return base + 16 * (int64_t)k;
  case STRIDE4096:
    return base + 4096 * (int64_t)k;
  case NEGATIVE:
    return -1 - (int64_t)k;
  default: { /* a fixed scramble of k over all 64 bits, INT64_MIN and
                INT64_MAX among them */
    if (k < 2)
      return k == 0 ? INT64_MIN : INT64_MAX;
    uint64_t x = k * UINT64_C(0xD6E8FEB86659FD93);
    return (int64_t)(x ^ (x >> 32));
  }
  }
}

/* Random finds, inserts and removals of ids of the kinds in `kinds` (a
 * bit mask), each answer checked against the model. */
static void run_against_model(unsigned kinds, uint64_t seed) {
  static model_t model;
  model.count = 0;
  ar__idmap_t map;
  assert_int_equal(ar__idmap_init(&map), 0);
  uint32_t fresh = 0;
  uint64_t rng = seed;
  for (int step = 0; step < 200000; step++) {
    int kind;
    do
      kind = (int)(next_rand(&rng) % KINDS);
    while (!(kinds & (1u << kind)));
    /* ids from a window that moves on, so that some are new, some live
     * and some freed before */
    int64_t id = id_of(kind, (uint64_t)step / 8 + next_rand(&rng) % 6000);
    size_t at = model_lower_bound(&model, id);
    bool live = at < model.count && model.id[at] == id;
    if (next_rand(&rng) % 2 == 0 && (live || model.count < LIVE_MAX)) {
      uint32_t slot = UINT32_MAX;
      int rc = ar__idmap_get_or_put(&map, id, fresh, &slot);
      if (live) {
        assert_int_equal(rc, 0);
        assert_int_equal(slot, model.slot[at]);
      } else {
        assert_int_equal(rc, 1);
        assert_int_equal(slot, fresh);
        model_insert(&model, at, id, fresh++);
      }
    } else {
      uint32_t slot = ar__idmap_take(&map, id);
      if (live) {
        assert_int_equal(slot, model.slot[at]);
        model_remove(&model, at);
      } else {
        assert_int_equal(slot, AR_TRACE_NO_SLOT);
      }
    }
  }
  /* Everything still live is found, then removed, and then gone. */
  for (size_t i = 0; i < model.count; i++) {
    uint32_t slot;
    assert_int_equal(ar__idmap_get_or_put(&map, model.id[i], fresh, &slot), 0);
    assert_int_equal(slot, model.slot[i]);
    assert_int_equal(ar__idmap_take(&map, model.id[i]), model.slot[i]);
    assert_int_equal(ar__idmap_take(&map, model.id[i]), AR_TRACE_NO_SLOT);
  }
  assert_int_equal(map.count, 0);
  ar__idmap_fini(&map);
}

static void test_each_kind(void **state) {
  (void)state;
  for (int kind = 0; kind < KINDS; kind++)
    run_against_model(1u << kind, 11 + (uint64_t)kind);
}

static void test_kinds_mixed(void **state) {
  (void)state;
  run_against_model((1u << KINDS) - 1, 7);
  /* counting up from 1 among huge ids: the dense part grows over ids the
   * hash part held */
  run_against_model((1u << SEQUENTIAL) | (1u << FAR) | (1u << RANDOM), 8);
}

/* The mean distance of the hash part's entries from their home buckets,
 * with n ids of one kind live. */
static double mean_distance(int kind, size_t n) {
  ar__idmap_t map;
  assert_int_equal(ar__idmap_init(&map), 0);
  for (size_t k = 0; k < n; k++) {
    uint32_t slot;
    assert_int_equal(
        ar__idmap_get_or_put(&map, id_of(kind, k), (uint32_t)k, &slot), 1);
  }
  assert_int_equal(map.count, n); /* every one of them in the hash part */
  uint64_t sum = 0;
  for (size_t i = 0; i < map.cap; i++)
    if (map.tab[i].slot != AR_TRACE_NO_SLOT)
      sum += map.tab[i].dist;
  ar__idmap_fini(&map);
  return (double)sum / (double)n;
}

/* At most half full, a table whose ids spread over its buckets keeps its
 * entries within about half a bucket of home (Robin Hood linear probing);
 * ids sent to one bucket in 16 sit several buckets away. */
static void test_probe_distances(void **state) {
  (void)state;
  const int kinds[] = {FAR, STRIDE16, STRIDE4096, NEGATIVE, RANDOM};
  for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
    double d = mean_distance(kinds[i], 50000);
    print_message("kind %d: mean distance %.2f\n", kinds[i], d);
    assert_true(d < 1.0);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_each_kind),
      cmocka_unit_test(test_kinds_mixed),
      cmocka_unit_test(test_probe_distances),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
