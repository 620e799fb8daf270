/*
 * engine_buddy.c: the binary buddy system, exactly as the "Buddy" section
 * of ../shared/design/placement-model.md defines it.
 *
 * The arena is 2^K bytes. Free blocks are kept per order, each order in a
 * hierarchical bitset indexed by offset >> order, so that "the free block of
 * this order with the lowest offset" and "is my buddy free" both cost a few
 * word reads, never a walk; a mask of the orders that have a free block
 * finds the smallest usable order in one instruction.
 */
#include <stdlib.h>

#include "ar/error.h"
#include "bitset.h"
#include "engine_internal.h"

static uint64_t order_bytes(unsigned j) { return UINT64_C(1) << j; }

static void add_free(ar__buddy_t *bd, unsigned j, uint64_t at) {
  ar__bitset_set(&bd->free[j], at >> j);
  bd->count[j]++;
  bd->nonempty |= UINT64_C(1) << j;
}

static void remove_free(ar__buddy_t *bd, unsigned j, uint64_t at) {
  ar__bitset_clear(&bd->free[j], at >> j);
  if (--bd->count[j] == 0)
    bd->nonempty &= ~(UINT64_C(1) << j);
}

static bool is_free(const ar__buddy_t *bd, unsigned j, uint64_t at) {
  return ar__bitset_test(&bd->free[j], at >> j);
}

/* Inline, with the external definition that engine_internal.h's
 * declaration makes of it: the hint lets the link-time optimiser put take
 * and give into ar_engine_alloc and ar_engine_free. */
inline int ar__buddy_take(ar_engine_t *e, uint64_t n, uint64_t align,
                          ar_block_t *blk) {
  ar__buddy_t *bd = e->u.buddy;
  unsigned k = ar__buddy_order(n, align);
  if (k > bd->max_order)
    return AR_ENOMEM;
  uint64_t usable = bd->nonempty >> k;
  if (!usable)
    return AR_ENOMEM;
  unsigned j = k + (unsigned)__builtin_ctzll(usable);
  uint64_t at = ar__bitset_first(&bd->free[j]) << j;
  remove_free(bd, j, at);
  while (j > k) { /* keep the lower half, free the upper */
    j--;
    add_free(bd, j, at + order_bytes(j));
  }
  blk->start = at;
  blk->size = order_bytes(k);
  blk->payload = at + align;
  return 0;
}

inline int ar__buddy_give(ar_engine_t *e, uint64_t start, uint64_t size) {
  ar__buddy_t *bd = e->u.buddy;
  unsigned k = (unsigned)__builtin_ctzll(size);
  uint64_t at = start;
  while (k < bd->max_order) {
    uint64_t buddy = at ^ order_bytes(k);
    if (!is_free(bd, k, buddy))
      break;
    remove_free(bd, k, buddy);
    if (buddy < at)
      at = buddy;
    k++;
  }
  add_free(bd, k, at);
  return 0;
}

static bool buddy_free_from(const ar_engine_t *e, uint64_t from,
                            uint64_t *start, uint64_t *size) {
  const ar__buddy_t *bd = e->u.buddy;
  bool found = false;
  for (unsigned j = AR_BUDDY_MIN_ORDER; j <= bd->max_order; j++) {
    if (!bd->count[j])
      continue;
    uint64_t idx =
        ar__bitset_next(&bd->free[j], (from + order_bytes(j) - 1) >> j);
    if (idx == UINT64_MAX)
      continue;
    if (!found || (idx << j) < *start) {
      *start = idx << j;
      *size = order_bytes(j);
      found = true;
    }
  }
  return found;
}

/* Every piece of a buddy arena is an aligned block of some order, so the
 * piece holding `cursor` starts at cursor rounded down to its order. */
static uint64_t buddy_extent_at_or_after(const ar_engine_t *e, uint64_t cursor,
                                         bool *exact) {
  const ar__buddy_t *bd = e->u.buddy;
  *exact = true; /* a block holding the cursor is aligned to its size */
  for (unsigned j = AR_BUDDY_MIN_ORDER; j <= bd->max_order; j++) {
    uint64_t at = cursor & ~(order_bytes(j) - 1);
    ar_block_t blk;
    if (is_free(bd, j, at) ||
        (ar__block_at(e, at, &blk) && blk.size == order_bytes(j)))
      return at == cursor ? cursor : at + order_bytes(j);
  }
  return e->size; /* a broken tiling; ar_engine_check reports it */
}

static void buddy_stats(const ar_engine_t *e, ar_engine_stats_t *out) {
  const ar__buddy_t *bd = e->u.buddy;
  out->max_order = bd->max_order;
  for (unsigned j = 0; j <= bd->max_order; j++) {
    out->free_by_order[j] = bd->count[j];
    out->free_extents += bd->count[j];
  }
  if (bd->nonempty)
    out->largest_free =
        order_bytes(63u - (unsigned)__builtin_clzll(bd->nonempty));
}

static int buddy_check(const ar_engine_t *e, ar_check_report_t *report,
                       uint64_t *extents) {
  const ar__buddy_t *bd = e->u.buddy;
  uint64_t total = 0;
  uint64_t beyond = bd->nonempty >> (AR_ORDER_MAX + 1); /* no such orders */
  if (beyond)
    return ar_check_fail(report, "order mask", 0,
                         "order %u: mask bit 1, past the largest order",
                         AR_ORDER_MAX + 1 + (unsigned)__builtin_ctzll(beyond));
  for (unsigned j = 0; j <= AR_ORDER_MAX; j++) {
    bool listed = (bd->nonempty >> j) & 1;
    if (listed != (bd->count[j] > 0))
      return ar_check_fail(report, "order mask", 0,
                           "order %u: mask bit %d, %llu free blocks", j,
                           (int)listed, (unsigned long long)bd->count[j]);
    if (j < AR_BUDDY_MIN_ORDER || j > bd->max_order) {
      if (bd->count[j])
        return ar_check_fail(report, "order range", 0,
                             "order %u has free blocks", j);
      continue;
    }
    uint64_t reached;
    const ar__bitset_t *set = &bd->free[j];
    int level = ar__bitset_verify(
        set, set->nwords[0] <= AR__BITSET_VERIFY_FULL_WORDS, &reached);
    if (level == 0)
      return ar_check_fail(report, "order index", 0,
                           "order %u: the search for the lowest free block "
                           "starts past one",
                           j);
    if (level > 0)
      return ar_check_fail(report, "order index", 0,
                           "order %u: summary level %d disagrees with the "
                           "level below",
                           j, level);
    uint64_t seen = 0;
    for (uint64_t i = ar__bitset_next(&bd->free[j], 0); i != UINT64_MAX;
         i = ar__bitset_next(&bd->free[j], i + 1)) {
      uint64_t at = i << j;
      seen++;
      if (j < bd->max_order && is_free(bd, j, at ^ order_bytes(j)))
        return ar_check_fail(report, "no two free buddies", at,
                             "the free blocks of order %u at %llu and "
                             "%llu are buddies",
                             j, (unsigned long long)at,
                             (unsigned long long)(at ^ order_bytes(j)));
    }
    if (seen != bd->count[j] || reached != bd->count[j])
      return ar_check_fail(report, "order count", 0,
                           "order %u: %llu free blocks indexed (%llu under "
                           "the summaries), %llu counted",
                           j, (unsigned long long)seen,
                           (unsigned long long)reached,
                           (unsigned long long)bd->count[j]);
    total += seen;
  }
  *extents = total;
  return 0;
}

static void buddy_fini(ar_engine_t *e) {
  ar__buddy_t *bd = e->u.buddy;
  for (unsigned j = AR_BUDDY_MIN_ORDER; j <= bd->max_order; j++)
    ar__bitset_fini(&bd->free[j]);
  ar__mem_free(&e->mem, bd, sizeof(*bd));
}

static int buddy_init(ar_engine_t *e) {
  if (e->size & (e->size - 1))
    return AR_EINVAL; /* buddy needs a power of two */
  ar__buddy_t *bd = ar__mem_calloc(&e->mem, 1, sizeof(*bd));
  if (!bd)
    return AR_EINTERNAL;
  bd->max_order = (unsigned)__builtin_ctzll(e->size);
  e->u.buddy = bd;
  for (unsigned j = AR_BUDDY_MIN_ORDER; j <= bd->max_order; j++) {
    if (ar__bitset_init(&bd->free[j], e->size >> j, &e->mem) != 0) {
      bd->max_order = j - 1; /* only the orders below j need freeing */
      buddy_fini(e);
      return AR_EINTERNAL;
    }
  }
  add_free(bd, bd->max_order, 0);
  return 0;
}

const ar__engine_ops_t ar__buddy_ops = {
    .init = buddy_init,
    .fini = buddy_fini,
    .free_from = buddy_free_from,
    .extent_at_or_after = buddy_extent_at_or_after,
    .stats = buddy_stats,
    .check = buddy_check,
};
