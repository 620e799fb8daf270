/*
 * blocks.h: who holds which block. The engine knows where blocks are; this
 * module knows who keeps them alive, so that a connection's blocks can be
 * freed when it goes, a free of someone else's block can be refused, and
 * references can be retained, released and transferred.
 *
 * Three records, in the daemon's memory only (never in the segment):
 *
 *   ad_block_t   one live block of an arena, found by its payload offset
 *                in the arena's ad_blocktab_t;
 *   ad_holder_t  one party that can hold references: a connection;
 *   ad_hold_t    the references one holder has to one block (a count),
 *                linked into both the block's list of holds and the
 *                holder's list, so that a block lists its holders
 *                (inspection, transfer) and a holder's blocks are dropped
 *                in O(blocks held) when it goes.
 *
 * A holder also keeps its use of each arena it holds blocks in (blocks
 * and their bytes, each block counted once however many references), kept
 * up to date as holds come and go, so that a quota check costs no walk.
 *
 * Invariants (the first three, a block's own, are checked by
 * ad_blocks_check_block in every check of an arena; nothing in the daemon
 * checks the last two: tests/fuzz/fuzz_dispatch_invariants.c compares
 * each holder's nholds, and the pools' shared count, with its model after
 * every request, and the quota tests its uses):
 *   - block->refcount == the sum of its holds' refs + block->detached;
 *   - a live record has refcount >= 1; when it drops to 0 the arena frees
 *     the block and deletes the record;
 *   - every hold has refs >= 1, is on exactly one block's list and one
 *     holder's list, and points back to both; a block has at most one hold
 *     per holder;
 *   - a holder's nholds is the sum of the refs on its list, and its use of
 *     an arena is the count and the bytes of its holds there;
 *   - the pools' `shared` is the number of holds, less one for every block
 *     that has any: the holds a block's first holder does not account for.
 *
 * Records and holds come from pools (ad_blocks_t) that keep freed objects
 * for reuse, so the hot path of alloc and free costs no malloc, and give
 * chunks of them back once many more are free than in use. A pool can
 * be reserved ahead, so that a multi-block allocation never fails half way
 * for want of a record. Nothing here touches an engine or does I/O.
 */
#ifndef AD_BLOCKS_H
#define AD_BLOCKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "access.h"

struct ad_arena_s;
typedef struct ad_block_s ad_block_t;
typedef struct ad_hold_s ad_hold_t;
typedef struct ad_holder_s ad_holder_t;

/* One holder's references to one block. Read-only outside blocks.c. */
struct ad_hold_s {
  ad_block_t *block;
  ad_holder_t *holder;
  ad_hold_t *block_next;  /* next hold on the same block, oldest first */
  ad_hold_t *holder_prev; /* the holder's list: doubly linked */
  ad_hold_t *holder_next;
  uint32_t refs;          /* references, >= 1 */
};

/* One live block. Read-only outside blocks.c, except `arena` and `size`,
 * which the arena sets before the first hold is added. */
struct ad_block_s {
  uint64_t payload;          /* the key: the offset clients use */
  uint64_t size;             /* block bytes, charged to its holders' use */
  struct ad_arena_s *arena;  /* the arena it lives in (a use's key here) */
  ad_hold_t *holds;          /* the holders' references, oldest first */
  uint32_t refcount;         /* sum of the holds' refs + detached */
  bool detached;             /* a reference held by no connection */
};

/* A holder's use of one arena. */
typedef struct ad_use_s {
  const struct ad_arena_s *arena;
  ad_usage_t u; /* blocks held there, and their bytes */
} ad_use_t;

/* A party that holds references: embedded in a connection, whose identity
 * it carries for inspection (Holder in the proto). The identity fields are
 * set by the owner; the rest is private to blocks.c but where marked. */
struct ad_holder_s {
  uint64_t id;       /* the connection id */
  uint32_t pid, uid, gid;
  const char *name;  /* the client's name from hello; borrowed, never NULL */
  ad_hold_t *holds;  /* private: most recent first */
  uint64_t nholds;   /* read-only: references held, all blocks counted */
  ad_use_t *uses;    /* private, owned: one per arena with a hold */
  uint32_t nuses, uses_cap;
  uint64_t check_mark; /* private: ad_blocks_check_block's last visit */
};

/* A pool of fixed-size objects in chunks (blocks.c): each chunk keeps its
 * own free objects, and chunks whose objects have all come back are given
 * back to malloc while the pool has spare objects enough without them (a
 * chunk's worth, and half as many as are handed out), so that the pool
 * follows its objects down as well as up. */
struct ad_chunk_s;
typedef struct ad_pool_s {
  struct ad_chunk_s *avail; /* private: chunks some of whose objects are
                               free, some handed out */
  struct ad_chunk_s *empty; /* private: chunks all of whose are free */
  size_t chunks;            /* read-only: chunks allocated */
  size_t obj_size;  /* read-only */
  size_t per_chunk; /* read-only: objects a chunk holds */
  size_t nfree;     /* read-only: free objects, in all chunks */
  size_t live;      /* read-only: objects handed out */
} ad_pool_t;

/* The pools of records and holds, one set per daemon. */
typedef struct ad_blocks_s {
  ad_pool_t blocks;
  ad_pool_t holds;
  uint64_t live; /* read-only: records in use, the live blocks of every
                    arena that shares these pools */
  uint64_t shared; /* read-only: holds beyond the first on their block,
                      summed over the blocks (max_shared_holds bounds it) */
} ad_blocks_t;

void ad_blocks_init(ad_blocks_t *b);
void ad_blocks_fini(ad_blocks_t *b); /* every object must be back */

/* The bytes both pools hold from malloc, objects in use and free alike. */
size_t ad_blocks_bytes(const ad_blocks_t *b);

/* Makes sure the next nblocks ad_block_new and nholds ad_hold_add calls
 * cannot fail, as long as no record or hold is given back between (which
 * may give a chunk back to malloc). Returns 0, or AR_EINTERNAL when memory
 * runs out. */
int ad_blocks_reserve(ad_blocks_t *b, size_t nblocks, size_t nholds);

/* A new record for the block at `payload` with no holds and refcount 0,
 * detached when `detached` (refcount 1). Needs a reservation. The caller
 * inserts it into its table and adds a hold (or made it detached). */
ad_block_t *ad_block_new(ad_blocks_t *b, uint64_t payload,
                         struct ad_arena_s *arena, bool detached);

/* Gives back a record with refcount 0; the caller has removed it from its
 * table. */
void ad_block_delete(ad_blocks_t *b, ad_block_t *blk);

/* Adds a reference to blk held by h (refcount + 1) and returns h's hold on
 * it: the one h had, its count raised, or a new one, charged to h's use of
 * blk->arena. A new hold needs a reservation of a hold (ad_blocks_reserve)
 * and of a use (ad_holder_reserve); the caller keeps the counts below
 * UINT32_MAX. */
ad_hold_t *ad_hold_add(ad_blocks_t *b, ad_block_t *blk, ad_holder_t *h);

/* Drops one reference of the hold (refcount - 1); the hold goes, and its
 * charge with it, when its last one does. Returns the block's refcount
 * after: at 0 the caller frees the block and deletes the record. */
uint32_t ad_hold_drop(ad_blocks_t *b, ad_hold_t *hold);

/* Drops every reference of the hold, as many ad_hold_drop calls. Returns
 * the block's refcount after. */
uint32_t ad_hold_drop_all(ad_blocks_t *b, ad_hold_t *hold);

/* Drops the detached reference of a detached block. Returns the refcount
 * after, as ad_hold_drop. */
uint32_t ad_block_undetach(ad_block_t *blk);

/* h's hold on blk, or NULL. O(holders of blk). */
ad_hold_t *ad_block_hold_of(const ad_block_t *blk, const ad_holder_t *h);

/* The number of holds on blk. */
uint32_t ad_block_nholds(const ad_block_t *blk);

/* Checks the invariants above on one record. Returns NULL when they hold,
 * or a static name of the first broken one. */
const char *ad_blocks_check_block(const ad_block_t *blk);

/* Makes h an empty holder with the given identity. */
void ad_holder_init(ad_holder_t *h, uint64_t id, uint32_t pid, uint32_t uid,
                    uint32_t gid, const char *name);

/* Frees what h owns; it must hold nothing. ad_holder_init may follow. */
void ad_holder_fini(ad_holder_t *h);

/* Makes sure h can take a hold in one more arena without failing. Returns
 * 0, or AR_EINTERNAL when memory runs out. */
int ad_holder_reserve(ad_holder_t *h);

/* h's use of `arena`: the blocks it holds there and their bytes (zero when
 * none). */
ad_usage_t ad_holder_usage(const ad_holder_t *h,
                           const struct ad_arena_s *arena);

/* The hold h took most recently, or NULL when h holds nothing. */
static inline ad_hold_t *ad_holder_first(const ad_holder_t *h) {
  return h->holds;
}

/*
 * A hash table of records keyed by payload offset: open addressing with
 * linear probing and backward-shift deletion, pointers in the slots (the
 * records themselves stay put, so holds may point to them). Fields are
 * private; iterate with ad_blocktab_at.
 */
typedef struct ad_blocktab_s {
  ad_block_t **slots; /* capacity = mask + 1, a power of two */
  size_t mask;
  size_t count;
  size_t shrink_below; /* a removal that leaves fewer records makes the
                          table smaller; 0 at the smallest size */
  unsigned shift;      /* 64 - log2(capacity) */
} ad_blocktab_t;

/* Returns 0, or AR_EINTERNAL. */
int ad_blocktab_init(ad_blocktab_t *t);
void ad_blocktab_fini(ad_blocktab_t *t); /* frees the slots, not records */

/* Makes sure n more inserts cannot fail (the load stays at most 1/2), as
 * long as no removal comes between (which may make the table smaller).
 * Returns 0, or AR_EINTERNAL (the table is unchanged). */
int ad_blocktab_reserve(ad_blocktab_t *t, size_t n);

/* The bytes of the table's slots. */
size_t ad_blocktab_bytes(const ad_blocktab_t *t);

ad_block_t *ad_blocktab_find(const ad_blocktab_t *t, uint64_t payload);

/* Inserts a record whose payload is not in the table; needs a reserve. */
void ad_blocktab_insert(ad_blocktab_t *t, ad_block_t *blk);

/* Removes a record that is in the table. A removal that leaves the table
 * under 1/16 full makes it smaller, 1/8 to 1/4 full, so that it follows
 * its records down. When memory for that runs out it stays as it is, and
 * tries again once half of the records left are gone too. */
void ad_blocktab_remove(ad_blocktab_t *t, const ad_block_t *blk);

static inline size_t ad_blocktab_count(const ad_blocktab_t *t) {
  return t->count;
}

/* Slot i (0 <= i <= mask): a record or NULL. For walking the whole table,
 * which must not change meanwhile. */
static inline ad_block_t *ad_blocktab_at(const ad_blocktab_t *t, size_t i) {
  return t->slots[i];
}
static inline size_t ad_blocktab_slots(const ad_blocktab_t *t) {
  return t->mask + 1;
}

#endif /* AD_BLOCKS_H */
