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
 * one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "lcg.h"
#include "trace_internal.h"

#define LIVE_MAX 4096 /* ids live at once in the model */

/* The model: the live ids and their slots, in no order. */
typedef struct model_s {
  int64_t id[LIVE_MAX];
  uint32_t slot[LIVE_MAX];
  size_t count;
} model_t;

/* The index of id in the model, or m->count. */
static size_t model_find(const model_t *m, int64_t id) {
  size_t i = 0;
  while (i < m->count && m->id[i] != id)
    i++;
  return i;
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
    size_t at = model_find(&model, id);
    bool live = at < model.count;
    if (next_rand(&rng) % 2 == 0 && (live || model.count < LIVE_MAX)) {
      uint32_t slot = UINT32_MAX;
      int rc = ar__idmap_get_or_put(&map, id, fresh, &slot);
      if (live) {
        assert_int_equal(rc, 0);
        assert_int_equal(slot, model.slot[at]);
      } else {
        assert_int_equal(rc, 1);
        assert_int_equal(slot, fresh);
        model.id[model.count] = id;
        model.slot[model.count++] = fresh++;
      }
    } else {
      uint32_t slot = ar__idmap_take(&map, id);
      if (live) {
        assert_int_equal(slot, model.slot[at]);
        model.count--;
        model.id[at] = model.id[model.count];
        model.slot[at] = model.slot[model.count];
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

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_each_kind),
      cmocka_unit_test(test_kinds_mixed),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
