/*
 * btree.h: an augmented B+tree of key pairs (internal to the list
 * engines).
 *
 * Entries are pairs (a, b), unique and ordered by a, then b. Every node
 * also knows, for each child, the smallest entry below it (to route
 * searches) and the largest b below it (the augmentation), so "the first
 * entry at or after a position whose b is at least x" reads one node per
 * level. The free-space index keeps free intervals as (start, size) in one
 * tree, which makes first fit and next fit such a search, and as
 * (size, start) in another for best and worst fit.
 *
 * Nodes hold up to AR__BT_FANOUT entries or children in arrays, so a
 * search touches a few cache lines per level instead of one pointer per
 * comparison, and the tree stays shallow: four levels hold over a million
 * entries. Every node but the root holds at least AR__BT_FANOUT / 4;
 * erasing merges or rebalances siblings to keep it so.
 *
 * Positions (ar__bt_pos_t) name one entry; any insert or erase invalidates
 * every position; ar__bt_set does not.
 *
 * The tree allocates its nodes itself. An insert never fails: the caller
 * first calls ar__bt_reserve, which sets aside the nodes the worst case
 * needs; that call is the only one that can fail.
 *
 * Nodes set aside ("spares") belong to one tree, so that a reserve for one
 * tree holds whatever is done to another. A tree on its own keeps up to a
 * fixed number of spares from the nodes that erasing frees. Many small
 * trees (the size classes of sizeidx.h) instead share a pool
 * (ar__bt_pool_t): each keeps only what its next reserve needs at its
 * height, passes the rest to the pool, and takes from the pool before
 * calling malloc; the pool frees what is over its cap. So their spare
 * memory stays bounded, and a tree that fills and empties in turn reuses
 * the nodes another one gave back instead of asking malloc each time.
 */
#ifndef AR_BTREE_H
#define AR_BTREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "memacct.h"

#define AR__BT_FANOUT 16

typedef struct ar__bt_key_s {
  uint64_t a;
  uint64_t b;
} ar__bt_key_t;

typedef struct ar__bt_node_s ar__bt_node_t;

typedef struct ar__bt_pos_s {
  ar__bt_node_t *leaf; /* NULL: past the last entry */
  unsigned i;
} ar__bt_pos_t;

/* Spare nodes shared by trees; owns them (ar__bt_pool_fini frees them). */
typedef struct ar__bt_pool_s {
  ar__bt_node_t *nodes; /* a list through the nodes' `next` */
  size_t count;
  size_t cap;     /* at most this many; more are freed */
  ar__mem_t *mem; /* the engine's memory count; not owned */
} ar__bt_pool_t;

typedef struct ar__bt_s {
  ar__bt_node_t *root;   /* a leaf while the tree is small */
  size_t count;          /* entries */
  unsigned height;       /* 0 when the root is a leaf */
  unsigned finger_slot;  /* the finger's slot; may be stale */
  ar__bt_node_t *finger; /* the leaf ar__bt_seek last found, or NULL */
  ar__bt_node_t *spare;  /* nodes set aside by ar__bt_reserve; owned */
  unsigned nspare;
  unsigned inserts;    /* the most inserts a reserve asked for */
  ar__bt_pool_t *pool; /* where surplus spares go, or NULL; not owned */
  ar__mem_t *mem;      /* the engine's memory count; not owned */
} ar__bt_t;

/* An empty tree whose nodes are counted in *mem, which must outlive it.
 * Returns 0, or AR_EINTERNAL when memory runs out. */
int ar__bt_init(ar__bt_t *t, ar__mem_t *mem);

/* The same, for a tree that shares the spares of `pool` (whose count it
 * uses), which must outlive it. */
int ar__bt_init_pooled(ar__bt_t *t, ar__bt_pool_t *pool);

/* Frees every node the tree owns: its own and its spares. */
void ar__bt_fini(ar__bt_t *t);

/* An empty pool that keeps at most `cap` nodes, counted in *mem. */
void ar__bt_pool_init(ar__bt_pool_t *pool, ar__mem_t *mem, size_t cap);

/* Frees the pool's nodes. */
void ar__bt_pool_fini(ar__bt_pool_t *pool);

/* The spares that `inserts` (at least 1) inserts in a row may need at the
 * tree's height: an insert splits at most one node a level and adds a
 * root, which makes the tree one level taller for the next insert. */
static inline size_t ar__bt_reserve_need(const ar__bt_t *t, unsigned inserts) {
  return (size_t)inserts * (t->height + 2) + (inserts - 1);
}

/* ar__bt_reserve's work when the tree's spares may fall short. */
int ar__bt_reserve_more(ar__bt_t *t, unsigned inserts);

/* Sets aside the nodes that `inserts` (at least 1) inserts in a row may
 * need. Returns 0, or AR_EINTERNAL with the tree's entries unchanged (the
 * spares it got before memory ran out, some perhaps from the pool, stay
 * the tree's). Inline: nearly every call finds the spares there already. */
static inline int ar__bt_reserve(ar__bt_t *t, unsigned inserts) {
  if (t->nspare >= ar__bt_reserve_need(t, inserts) && inserts <= t->inserts)
    return 0;
  return ar__bt_reserve_more(t, inserts);
}

/* Adds `k`, which must not be in the tree, after a successful reserve. */
void ar__bt_insert(ar__bt_t *t, ar__bt_key_t k);

/* Adds `k` just before the entry at `pos` (at the end when pos is the
 * end), after a successful reserve: the same as ar__bt_insert when `pos`
 * is k's lower bound, without searching for it again. */
void ar__bt_insert_before(ar__bt_t *t, ar__bt_pos_t pos, ar__bt_key_t k);

/* Removes the entry at `pos`. */
void ar__bt_erase(ar__bt_t *t, ar__bt_pos_t pos);

/* Replaces the entry at `pos` by `k`, which must sort between the entries
 * before and after it. Positions stay valid. */
void ar__bt_set(ar__bt_t *t, ar__bt_pos_t pos, ar__bt_key_t k);

ar__bt_key_t ar__bt_get(ar__bt_pos_t pos);
static inline bool ar__bt_end(ar__bt_pos_t pos) { return pos.leaf == NULL; }

ar__bt_pos_t ar__bt_first(const ar__bt_t *t);
ar__bt_pos_t ar__bt_last(const ar__bt_t *t);
ar__bt_pos_t ar__bt_next(ar__bt_pos_t pos); /* from the end: the end */
ar__bt_pos_t ar__bt_prev(ar__bt_pos_t pos); /* from the first: the end */

/* The first entry >= k, or the end. */
ar__bt_pos_t ar__bt_lower_bound(const ar__bt_t *t, ar__bt_key_t k);

/* The same, and remembers the leaf and slot it ends in (the finger): a
 * search whose answer lies in that leaf reads it alone instead of
 * descending from the root, and one whose answer is that slot again makes
 * two comparisons. Frees and allocations mostly land near the ones before
 * them, so the engines' own searches use this one. */
ar__bt_pos_t ar__bt_seek(ar__bt_t *t, ar__bt_key_t k);

/* Makes pos (its leaf and slot) the finger. */
void ar__bt_point(ar__bt_t *t, ar__bt_pos_t pos);

/* Slot i of the finger's leaf, or the end when there is no such slot: a
 * guess, cheap and safe to make, that the caller must verify. */
ar__bt_pos_t ar__bt_finger_slot(const ar__bt_t *t, unsigned i);

/* The first entry at or after `from` whose b is at least `min_b`, or the
 * end. */
ar__bt_pos_t ar__bt_search_b(const ar__bt_t *t, ar__bt_pos_t from,
                             uint64_t min_b);

/* The first entry whose b is at least `min_b`, or the end. */
ar__bt_pos_t ar__bt_leftmost_b(const ar__bt_t *t, uint64_t min_b);

/* The largest b in the tree; 0 when it is empty. */
uint64_t ar__bt_max_b(const ar__bt_t *t);

/* Checks order, fill, routing keys, the augmentation, links and counts.
 * Returns NULL when all hold, or a static description of the first
 * failure, with the entry nearest to it in *where. */
const char *ar__bt_verify(const ar__bt_t *t, ar__bt_key_t *where);

#endif /* AR_BTREE_H */
