/*
 * test_engine_memory.c: the engine's count of its own memory
 * (ar_engine_stats' meta_bytes and peak_meta_bytes) against what it really
 * asks of the C library.
 *
 * malloc, calloc and free are wrapped (-Wl,--wrap): while `tracking` is
 * on, which the test turns on around engine calls only, every allocation
 * is tagged and its size added to `live`, and freeing a tagged block takes
 * its size off again. After every call the engine's figure must equal
 * `live`, its peak must equal the largest `live` seen after a call, and
 * destroying the engine must bring `live` back to zero: the count is exact
 * and nothing leaks. Every policy, through growth (the block map doubling,
 * index nodes added), shrinking (nodes given back) and failed
 * allocations. The wrapper can also refuse one allocation (`fail_in`),
 * which tests that running out of memory half-way through building worst
 * fit's size index changes nothing and gives back what it took. And churn
 * through best fit's size classes must not leave the engine holding more
 * than a bounded number of spare index nodes (sizeidx.h's shared pool).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ar/engine.h"
#include "ar/error.h"
#include "lcg.h"

/* ---- the wrapped allocator ------------------------------------------ */

void *__real_malloc(size_t size);
void *__real_calloc(size_t count, size_t size);
void __real_free(void *p);
void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t count, size_t size);
void __wrap_free(void *p);

#define TAG UINT64_C(0x6d656d6163637421) /* marks a block made while tracking */

/* Each block carries a 16-byte prefix: its size and whether it counts. */
typedef struct prefix_s {
  uint64_t size;
  uint64_t tag;
} prefix_t;

static bool tracking;
static uint64_t live; /* tagged bytes allocated and not yet freed */
static long fail_in = -1; /* refuse the allocation after this many; -1 none */

/* Whether to refuse this allocation: once, after fail_in granted ones. */
static bool refuse(void) {
  if (!tracking || fail_in < 0)
    return false;
  return fail_in-- == 0;
}

static void *tagged(prefix_t *p, size_t size) {
  if (p == NULL)
    return NULL;
  p->size = size;
  p->tag = tracking ? TAG : 0;
  if (tracking)
    live += size;
  return p + 1;
}

void *__wrap_malloc(size_t size) {
  if (refuse())
    return NULL;
  return tagged(__real_malloc(sizeof(prefix_t) + size), size);
}

void *__wrap_calloc(size_t count, size_t size) {
  if (size != 0 && count > (SIZE_MAX - sizeof(prefix_t)) / size)
    return NULL;
  if (refuse())
    return NULL;
  return tagged(__real_calloc(1, sizeof(prefix_t) + count * size),
                count * size);
}

void __wrap_free(void *q) {
  if (q == NULL)
    return;
  prefix_t *p = (prefix_t *)q - 1;
  if (p->tag == TAG)
    live -= p->size;
  __real_free(p);
}

/* ---- the checks --------------------------------------------------------- */

typedef struct subject_s {
  ar_engine_t *e;
  uint64_t peak; /* the largest `live` after a call */
} subject_t;

/* After each call: the engine's figures against the wrapper's. */
static void check_counts(subject_t *s) {
  if (live > s->peak)
    s->peak = live;
  ar_engine_stats_t st;
  ar_engine_stats(s->e, &st);
  assert_int_equal(st.meta_bytes, live);
  assert_int_equal(st.peak_meta_bytes, s->peak);
}

static int alloc_aligned(subject_t *s, uint64_t n, uint64_t align,
                         uint64_t *payload) {
  ar_block_t blk;
  tracking = true;
  int rc = ar_engine_alloc(s->e, n, align, &blk);
  tracking = false;
  check_counts(s);
  if (rc == AR_OK)
    *payload = blk.payload;
  return rc;
}

static int alloc(subject_t *s, uint64_t n, uint64_t *payload) {
  return alloc_aligned(s, n, AR_ALIGN_MIN, payload);
}

static void release(subject_t *s, uint64_t payload) {
  tracking = true;
  int rc = ar_engine_free(s->e, payload, NULL, NULL);
  tracking = false;
  assert_int_equal(rc, AR_OK);
  check_counts(s);
}

/* A fresh engine, its creation counted from zero. */
static subject_t subject_open(ar_policy_t policy, uint64_t size) {
  subject_t s = {NULL, 0};
  live = 0;
  tracking = true;
  assert_int_equal(ar_engine_create(policy, size, NULL, &s.e), AR_OK);
  tracking = false;
  check_counts(&s);
  return s;
}

/* Destroys the engine: everything counted must be given back. */
static void subject_close(subject_t *s) {
  tracking = true;
  ar_engine_destroy(s->e);
  tracking = false;
  assert_int_equal(live, 0);
}

static void run_policy(ar_policy_t policy) {
  enum { N = 6000 };
  static uint64_t payload[N];
  subject_t s = subject_open(policy, UINT64_C(1) << 24);
  uint64_t created = live;
  assert_true(created > 0);

  /* Growth: thousands of blocks double the map many times and add index
   * nodes; every other free leaves a hole, which the list policies index. */
  uint64_t x = 42 + (uint64_t)policy;
  size_t count = 0;
  for (size_t i = 0; i < N; i++)
    if (alloc(&s, 1 + next_rand(&x) % 700, &payload[count]) == AR_OK)
      count++;
  assert_true(count > N / 2);
  for (size_t i = 0; i < count; i += 2)
    release(&s, payload[i]);
  ar_engine_stats_t st;
  ar_engine_stats(s.e, &st);
  assert_true(st.meta_bytes > created);

  /* A request that cannot fit fails and may still have grown the map. */
  uint64_t none;
  assert_int_equal(alloc(&s, UINT64_C(1) << 30, &none), AR_ENOMEM);

  /* Shrinking: freeing the rest merges the holes away and gives index
   * nodes back; the peak stays where it was. */
  for (size_t i = 1; i < count; i += 2)
    release(&s, payload[i]);
  ar_engine_stats(s.e, &st);
  assert_int_equal(st.live_blocks, 0);
  assert_true(st.peak_meta_bytes >= st.meta_bytes);
  /* The block map is back at its first size: buddy, whose bitsets are
   * made whole at the start, holds what it did when created (the list
   * policies keep a few spare index nodes too). */
  if (policy == AR_POLICY_BUDDY)
    assert_int_equal(st.meta_bytes, created);
  subject_close(&s);
}

/* A free that would make the block map smaller when memory runs out for
 * the smaller table: the free succeeds all the same, the map keeps its
 * table (the count stays exact) and the engine's check passes. The map
 * does not ask again at every free after (only once half of the blocks
 * left are gone too: a few times from 6000 blocks down to 300), and is
 * made smaller once memory is there again, before a third of those 300
 * blocks are left. On buddy, whose free asks for memory only to make the
 * map smaller. */
static void test_free_shrink_out_of_memory(void **state) {
  (void)state;
  enum { N = 6000, LEFT = 300 };
  static uint64_t payload[N];
  subject_t s = subject_open(AR_POLICY_BUDDY, UINT64_C(1) << 24);
  uint64_t created = live;
  for (size_t i = 0; i < N; i++)
    assert_int_equal(alloc(&s, 100, &payload[i]), AR_OK);
  ar_engine_stats_t st;
  ar_engine_stats(s.e, &st);
  uint64_t full = st.meta_bytes;
  /* Each free's first request for memory refused (fail_in goes from 0 to
   * -1 when one was made), down to LEFT blocks. */
  unsigned asked = 0;
  for (size_t i = 0; i < N - LEFT; i++) {
    fail_in = 0;
    release(&s, payload[i]);
    asked += fail_in < 0;
    fail_in = -1;
  }
  ar_engine_stats(s.e, &st);
  assert_int_equal(st.live_blocks, LEFT);
  assert_int_equal(st.meta_bytes, full);
  assert_int_equal(ar_engine_check(s.e, NULL), AR_OK);
  assert_true(asked >= 1 && asked <= 4);
  /* With memory again. */
  size_t i = N - LEFT;
  for (; st.meta_bytes == full; i++) {
    assert_true(i < N);
    release(&s, payload[i]);
    ar_engine_stats(s.e, &st);
  }
  assert_true(i > N - LEFT + 1);
  assert_true(st.live_blocks >= LEFT / 3);
  for (; i < N; i++)
    release(&s, payload[i]);
  ar_engine_stats(s.e, &st);
  assert_int_equal(st.meta_bytes, created);
  assert_int_equal(ar_engine_check(s.e, NULL), AR_OK);
  subject_close(&s);
}

/* Worst fit builds its size index on the first request whose alignment
 * may turn the largest spans down. Out of memory at any point of that
 * build: the request fails with AR_EINTERNAL, the arena is as it was and
 * what the build took is given back; once memory suffices the same
 * request gets the model's answer and the index stays. */
static void test_worst_index_build(void **state) {
  (void)state;
  subject_t s = subject_open(AR_POLICY_WORST, 4096);
  /* Free [0,1024) [1088,2112) [2176,3200) [3264,4096), as in
   * test_engine_align.c's worst-fit case. */
  static const uint64_t n[] = {1008, 48, 1008, 48, 1008, 48};
  uint64_t p[6];
  for (size_t i = 0; i < 6; i++)
    assert_int_equal(alloc(&s, n[i], &p[i]), AR_OK);
  for (size_t i = 0; i < 6; i += 2)
    release(&s, p[i]);
  ar_engine_stats_t before, st;
  ar_engine_stats(s.e, &before);
  assert_int_equal(before.free_extents, 4);

  /* A = 1024, b = 32: the 1024-byte spans are the largest, but only
   * [1088, 2112) and [2176, 3200) hold the block: by size, then address. */
  /* Refusing the k-th allocation of the request, k = 0, 1, ...: while the
   * build is what fails, the engine holds what it held before; once the
   * build got through and something after it failed, it holds the index
   * too, and nothing else changes. */
  uint64_t got = 0, built = 0;
  long refused = 0, in_build = 0;
  for (;; refused++) {
    fail_in = refused;
    int rc = alloc_aligned(&s, 1, 1024, &got);
    fail_in = -1;
    if (rc == AR_OK)
      break;
    assert_int_equal(rc, AR_EINTERNAL);
    ar_engine_stats(s.e, &st);
    assert_int_equal(st.live_blocks, 3);
    assert_int_equal(st.free_extents, 4);
    assert_int_equal(ar_engine_check(s.e, NULL), AR_OK);
    if (built == 0 && st.meta_bytes == before.meta_bytes)
      in_build++;
    else if (built == 0)
      built = st.meta_bytes;
    else
      assert_int_equal(st.meta_bytes, built);
  }
  assert_true(in_build >= 2); /* the classes array, then the large tree */
  assert_int_equal(got, 2048);
  ar_engine_stats(s.e, &st);
  assert_true(st.meta_bytes > before.meta_bytes); /* the index is kept */
  assert_int_equal(ar_engine_check(s.e, NULL), AR_OK);
  /* The kept index answers the next aligned request: [2176, 3200). */
  assert_int_equal(alloc_aligned(&s, 1, 1024, &got), AR_OK);
  assert_int_equal(got, 3072);
  assert_int_equal(ar_engine_check(s.e, NULL), AR_OK);
  subject_close(&s);
}

/* Best fit's size classes each grow tall in turn and empty again: what the
 * engine then holds must not grow with the classes churned through. First
 * every class gets a span, and the block map its full size, so that the
 * memory measured after that (`warm`) holds each class tree and what the
 * map will need; then 20 rounds of 30000 allocations, each round in 12
 * classes, every other block freed (1250 spans per class, a tree of some
 * hundred nodes), then the rest. Keeping 64 spares in every class that
 * once was tall comes to about 9 MB more; sharing the spares leaves the
 * classes what one reserve needs, as after the first pass, and at most the
 * pool's 128 nodes and by_addr's 64 spares (some 0.6 KB each) more. */
static void test_best_churn_bounded(void **state) {
  (void)state;
  enum { ROUNDS = 20, PER_ROUND = 12, N = 30000, CLASSES = 256 };
  static uint64_t payload[N];
  subject_t s = subject_open(AR_POLICY_BEST, UINT64_C(1) << 28);
  for (size_t i = 0; i < N; i++)
    assert_int_equal(alloc(&s, 16, &payload[i]), AR_OK);
  for (size_t i = 0; i < N; i++)
    release(&s, payload[i]);
  /* A block of n = 16c bytes is 16(c + 1) bytes: class c's span when
   * freed between two live blocks. */
  for (size_t c = 1; c < CLASSES; c++) {
    assert_int_equal(alloc(&s, 16 * c, &payload[2 * c]), AR_OK);
    assert_int_equal(alloc(&s, 16, &payload[2 * c + 1]), AR_OK);
  }
  for (size_t c = 1; c < CLASSES; c++)
    release(&s, payload[2 * c]);
  for (size_t c = 1; c < CLASSES; c++)
    release(&s, payload[2 * c + 1]);
  ar_engine_stats_t st;
  ar_engine_stats(s.e, &st);
  uint64_t warm = st.meta_bytes;

  uint64_t x = 7;
  for (unsigned r = 0; r < ROUNDS; r++) {
    uint64_t lo = 1 + (uint64_t)r * PER_ROUND;
    for (size_t i = 0; i < N; i++)
      assert_int_equal(
          alloc(&s, 16 * (lo + next_rand(&x) % PER_ROUND), &payload[i]), AR_OK);
    for (size_t i = 0; i < N; i += 2)
      release(&s, payload[i]);
    for (size_t i = 1; i < N; i += 2)
      release(&s, payload[i]);
  }
  ar_engine_stats(s.e, &st);
  assert_int_equal(st.live_blocks, 0);
  assert_true(st.peak_meta_bytes > warm + 1024 * 1024); /* the trees grew */
  assert_true(st.meta_bytes < warm + 256 * 1024);
  assert_int_equal(ar_engine_check(s.e, NULL), AR_OK);
  subject_close(&s);
}

/* The policy comes as the test's state. */
static void test_policy(void **state) {
  run_policy(*(const ar_policy_t *)*state);
}

static const ar_policy_t policies[] = {AR_POLICY_FIRST, AR_POLICY_NEXT,
                                       AR_POLICY_BEST, AR_POLICY_WORST,
                                       AR_POLICY_BUDDY};
/* One test per policy, named after it. */
#define POLICY_TEST(name, i)                                                   \
  { name, test_policy, NULL, NULL, (void *)&policies[i] }

int main(void) {
  const struct CMUnitTest tests[] = {
      POLICY_TEST("first", 0),
      POLICY_TEST("next", 1),
      POLICY_TEST("best", 2),
      POLICY_TEST("worst", 3),
      POLICY_TEST("buddy", 4),
      cmocka_unit_test(test_free_shrink_out_of_memory),
      cmocka_unit_test(test_worst_index_build),
      cmocka_unit_test(test_best_churn_bounded),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
