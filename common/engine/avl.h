/*
 * avl.h: an intrusive, augmentable AVL tree (internal to the engines).
 *
 * The tree never allocates: the caller embeds an ar__avl_node_t in its own
 * structure, finds where a new node goes with its own comparison (descending
 * from t->root and remembering the parent and the child link), and calls
 * ar__avl_link. This keeps keys, comparison and augmented data with the
 * caller, and lets one node take part in two trees (the free-space index
 * orders the same interval by address and by size).
 *
 * Augmentation: `update`, when not NULL, recomputes a node's augmented data
 * from its own fields and its children's; the tree calls it bottom-up for
 * every node whose subtree changed, so each node's augmented data always
 * describes its whole subtree. It returns whether the data changed, which
 * lets ar__avl_propagate stop early.
 *
 * Invariants: every node's height is 1 + the larger height of its children
 * (an empty child has height 0), the two differ by at most 1, and child and
 * parent links agree. ar__avl_verify checks them.
 */
#ifndef AR_AVL_H
#define AR_AVL_H

#include <stdbool.h>
#include <stddef.h>

typedef struct ar__avl_node_s {
  struct ar__avl_node_s *left;
  struct ar__avl_node_s *right;
  struct ar__avl_node_s *parent;
  int height; /* 1 for a leaf */
} ar__avl_node_t;

typedef bool (*ar__avl_update_fn)(ar__avl_node_t *node);

typedef struct ar__avl_s {
  ar__avl_node_t *root;
  ar__avl_update_fn update; /* may be NULL */
  size_t count;
} ar__avl_t;

#define ar__avl_entry(ptr, type, member)                                       \
  ((type *)(void *)((char *)(ptr) - offsetof(type, member)))

void ar__avl_init(ar__avl_t *t, ar__avl_update_fn update);

/* Links `node` as the child of `parent` at `*link` (which must be NULL and
 * be parent->left, parent->right, or &t->root for an empty tree), then
 * rebalances. */
void ar__avl_link(ar__avl_t *t, ar__avl_node_t *node, ar__avl_node_t *parent,
                  ar__avl_node_t **link);

/* Unlinks `node` from the tree and rebalances. The node's memory stays the
 * caller's. */
void ar__avl_erase(ar__avl_t *t, ar__avl_node_t *node);

/* The caller changed data of `node` that feeds the augmentation but not its
 * position in the order: recompute upwards. */
void ar__avl_propagate(ar__avl_t *t, ar__avl_node_t *node);

ar__avl_node_t *ar__avl_first(const ar__avl_t *t);
ar__avl_node_t *ar__avl_last(const ar__avl_t *t);
ar__avl_node_t *ar__avl_next(const ar__avl_node_t *node);
ar__avl_node_t *ar__avl_prev(const ar__avl_node_t *node);

/* Checks heights, balance, links and the node count. Returns NULL when all
 * hold, or the first offending node (a static description in *what). */
const ar__avl_node_t *ar__avl_verify(const ar__avl_t *t, const char **what);

#endif /* AR_AVL_H */
