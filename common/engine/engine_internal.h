/*
 * engine_internal.h: what engine.c shares with the policy files.
 *
 * engine.c owns everything policies have in common: argument checks, the
 * map of live blocks, block headers, counters, walks and the tiling part of
 * the integrity check. A policy family (engine_list.c, engine_buddy.c)
 * owns only its free space: it picks and removes a block for a request,
 * takes a block back (coalescing), and answers questions about free
 * extents. The split keeps each policy file about placement and nothing
 * else.
 */
#ifndef AR_ENGINE_INTERNAL_H
#define AR_ENGINE_INTERNAL_H

#include "ar/engine.h"
#include "bitset.h"
#include "blockmap.h"
#include "btree.h"
#include "memacct.h"
#include "sizeidx.h"

typedef struct ar__engine_ops_s {
  /* Sets up the free space as one free extent covering the arena.
   * Returns 0, AR_EINVAL (a size the policy cannot use) or AR_EINTERNAL. */
  int (*init)(ar_engine_t *e);
  void (*fini)(ar_engine_t *e);

  /* The free extent with the lowest start >= `from`: returns false when
   * there is none. */
  bool (*free_from)(const ar_engine_t *e, uint64_t from, uint64_t *start,
                    uint64_t *size);

  /* The start of the first extent (free or allocated) that starts at or
   * after `cursor` (< arena size), or the arena size; *exact true. Or, when
   * finding it would take more than a bounded amount of work (a cursor
   * inside a block that no index leads to quickly), a position past the
   * cursor before which no extent starts, with *exact false: the walk
   * resumes there. */
  uint64_t (*extent_at_or_after)(const ar_engine_t *e, uint64_t cursor,
                                 bool *exact);

  /* Fills the policy's part of the stats: free_extents, largest_free,
   * rover, max_order, free_by_order. */
  void (*stats)(const ar_engine_t *e, ar_engine_stats_t *out);

  /* Checks the policy's own indexes. Returns 0 or AR_ECORRUPT (report
   * filled). The free extents it counts go to *extents. */
  int (*check)(const ar_engine_t *e, ar_check_report_t *report,
               uint64_t *extents);
} ar__engine_ops_t;

extern const ar__engine_ops_t ar__list_ops;
extern const ar__engine_ops_t ar__buddy_ops;

/*
 * Each family's take and give, which every allocation and free calls:
 * by name, not through the ops, so that the link-time optimiser can put
 * them into ar_engine_alloc and ar_engine_free (see policy_take there).
 *
 * take picks the block for n bytes at payload alignment `align` (both
 * already valid) and removes it from the free space; fills start, size,
 * payload. Returns 0; AR_ENOMEM with nothing changed when nothing fits;
 * AR_EINTERNAL with nothing changed when the policy's own memory runs out.
 *
 * give returns a block that take produced to the free space, coalescing.
 * Returns 0, or AR_EINTERNAL with nothing changed.
 */
int ar__list_take(ar_engine_t *e, uint64_t n, uint64_t align, ar_block_t *blk);
int ar__list_give(ar_engine_t *e, uint64_t start, uint64_t size);
int ar__buddy_take(ar_engine_t *e, uint64_t n, uint64_t align, ar_block_t *blk);
int ar__buddy_give(ar_engine_t *e, uint64_t start, uint64_t size);

/* The policies' free space, each used only by its own file
 * (engine_list.c, engine_buddy.c), and defined here rather than there so
 * that tests can break them on purpose (tests/unit/test_engine_check.c). */
typedef struct ar__list_s {
  ar__bt_t by_addr;      /* (start, size) of every span but the tail */
  uint64_t tail;         /* the tail: the span [tail, arena size), none
                            when tail is the size; kept out of by_addr */
  ar__sizeidx_t by_size; /* every span by size, the tail too: best and
                            worst only */
  bool sized;            /* whether by_size is kept (built, for worst fit) */
  uint64_t rover;        /* next fit only */
  unsigned rover_slot;   /* next fit: the finger slot that held the rover */
} ar__list_t;

typedef struct ar__buddy_s {
  unsigned max_order;                  /* K: the arena is 2^K bytes */
  uint64_t nonempty;                   /* bit j: order j has a free block */
  uint64_t count[AR_ORDER_MAX + 1];    /* free blocks of each order */
  ar__bitset_t free[AR_ORDER_MAX + 1]; /* orders MIN..K: bit a >> j */
} ar__buddy_t;

struct ar_engine_s {
  const ar__engine_ops_t *ops;
  ar_policy_t policy;
  uint64_t size;
  unsigned char *base;   /* the arena's memory or NULL; not owned */
  ar__mem_t mem;         /* what the engine holds, this struct included */
  uint64_t peak_mem;     /* the largest mem.bytes after any call */
  ar__blockmap_t blocks; /* every live block */
  union {                /* the policy's free space; owned */
    ar__list_t *list;
    ar__buddy_t *buddy;
  } u;
  /* Gauges and counters, as in ar_engine_stats_t. */
  uint64_t used, requested, allocs, frees, failed, bad_frees;
  uint64_t corruptions, last_corrupt, hwm, peak_used, peak_requested;
};

/* b(n) of the model: round_up(n + AR_HDR, AR_GRAIN); n <= AR_N_MAX, so this
 * cannot overflow. */
static inline uint64_t ar__block_bytes(uint64_t n) {
  return (n + AR_HDR + AR_GRAIN - 1) & ~(uint64_t)(AR_GRAIN - 1);
}

static inline unsigned ar__ceil_log2(uint64_t x) {
  return x <= 1 ? 0 : 64u - (unsigned)__builtin_clzll(x - 1);
}

/* The order of the buddy block for n bytes at payload alignment `align`:
 * the model's max(5, ceil(log2(A + n))). For A = 16 this equals its
 * max(5, ceil(log2(b(n)))): a power of two of at least 16 + n is a
 * multiple of 16, so it is at least round_up(16 + n, 16). */
static inline unsigned ar__buddy_order(uint64_t n, uint64_t align) {
  unsigned k = ar__ceil_log2(align + n);
  return k < AR_BUDDY_MIN_ORDER ? AR_BUDDY_MIN_ORDER : k;
}

/* The start of the block whose payload is at `payload`, or UINT64_MAX when
 * no block of the policy can have it there. A list policy's payload is 16
 * bytes in; a buddy payload sits at block start + A, with the start a
 * multiple of a power of two larger than A, so A is its lowest set bit.
 * Inline, as the next function, because every free asks. */
static inline uint64_t ar__block_start(ar_policy_t policy, uint64_t payload) {
  if (policy != AR_POLICY_BUDDY)
    return payload < AR_HDR || payload % AR_GRAIN != 0 ? UINT64_MAX
                                                       : payload - AR_HDR;
  uint64_t align = payload & (~payload + 1);
  if (payload == 0 || align < AR_ALIGN_MIN || align > AR_ALIGN_MAX)
    return UINT64_MAX;
  return payload - align;
}

/* The size of the policy's block for n bytes whose payload is `delta`
 * bytes past the block's start (the alignment it was allocated with; the
 * list policies' size does not depend on it). */
static inline uint64_t ar__block_size(ar_policy_t policy, uint64_t n,
                                      uint64_t delta) {
  if (policy != AR_POLICY_BUDDY)
    return ar__block_bytes(n);
  return UINT64_C(1) << ar__buddy_order(n, delta);
}

/* The live block that starts at `start`: returns false when there is
 * none. */
bool ar__block_at(const ar_engine_t *e, uint64_t start, ar_block_t *out);

#endif /* AR_ENGINE_INTERNAL_H */
