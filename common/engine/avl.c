/*
 * avl.c: the AVL tree of avl.h. After every structural change the tree is
 * retraced from the lowest changed node up to the root: each node on the
 * way gets its height and augmented data recomputed and, when its children
 * differ in height by two, one or two rotations. That keeps the depth under
 * 1.44 log2(n) and every subtree's augmented data exact, in O(log n).
 */
#include "avl.h"

static int height(const ar__avl_node_t *n) { return n ? n->height : 0; }

/* Recomputes n's height and augmented data from its children. */
static void refresh(const ar__avl_t *t, ar__avl_node_t *n) {
  int hl = height(n->left);
  int hr = height(n->right);
  n->height = 1 + (hl > hr ? hl : hr);
  if (t->update)
    t->update(n);
}

/* Makes `child` take `old`'s place under `parent` (or at the root). */
static void replace_child(ar__avl_t *t, ar__avl_node_t *parent,
                          ar__avl_node_t *old, ar__avl_node_t *child) {
  if (!parent)
    t->root = child;
  else if (parent->left == old)
    parent->left = child;
  else
    parent->right = child;
  if (child)
    child->parent = parent;
}

/*    x              y
 *   / \            / \
 *  a   y    =>    x   c
 *     / \        / \
 *    b   c      a   b      Returns y, the subtree's new root. */
static ar__avl_node_t *rotate_left(ar__avl_t *t, ar__avl_node_t *x) {
  ar__avl_node_t *y = x->right;
  replace_child(t, x->parent, x, y);
  x->right = y->left;
  if (x->right)
    x->right->parent = x;
  y->left = x;
  x->parent = y;
  refresh(t, x);
  refresh(t, y);
  return y;
}

/* The mirror image of rotate_left. */
static ar__avl_node_t *rotate_right(ar__avl_t *t, ar__avl_node_t *x) {
  ar__avl_node_t *y = x->left;
  replace_child(t, x->parent, x, y);
  x->left = y->right;
  if (x->left)
    x->left->parent = x;
  y->right = x;
  x->parent = y;
  refresh(t, x);
  refresh(t, y);
  return y;
}

/* Restores balance at n, whose subtrees are balanced; returns the node now
 * at n's place. */
static ar__avl_node_t *rebalance(ar__avl_t *t, ar__avl_node_t *n) {
  int balance = height(n->left) - height(n->right);
  if (balance > 1) {
    if (height(n->left->left) < height(n->left->right))
      rotate_left(t, n->left);
    return rotate_right(t, n);
  }
  if (balance < -1) {
    if (height(n->right->right) < height(n->right->left))
      rotate_right(t, n->right);
    return rotate_left(t, n);
  }
  refresh(t, n);
  return n;
}

static void retrace(ar__avl_t *t, ar__avl_node_t *n) {
  while (n) {
    n = rebalance(t, n);
    n = n->parent;
  }
}

void ar__avl_init(ar__avl_t *t, ar__avl_update_fn update) {
  t->root = NULL;
  t->update = update;
  t->count = 0;
}

void ar__avl_link(ar__avl_t *t, ar__avl_node_t *node, ar__avl_node_t *parent,
                  ar__avl_node_t **link) {
  node->left = node->right = NULL;
  node->parent = parent;
  node->height = 1;
  *link = node;
  t->count++;
  if (t->update)
    t->update(node);
  retrace(t, parent);
}

void ar__avl_erase(ar__avl_t *t, ar__avl_node_t *node) {
  ar__avl_node_t *from; /* the lowest node whose subtree changed */
  if (!node->left || !node->right) {
    ar__avl_node_t *child = node->left ? node->left : node->right;
    from = node->parent;
    replace_child(t, from, node, child);
  } else {
    /* Put the successor s (leftmost of the right subtree, no left child)
     * in node's place. */
    ar__avl_node_t *s = node->right;
    while (s->left)
      s = s->left;
    if (s->parent == node) {
      from = s;
    } else {
      from = s->parent;
      from->left = s->right;
      if (s->right)
        s->right->parent = from;
      s->right = node->right;
      s->right->parent = s;
    }
    s->left = node->left;
    s->left->parent = s;
    s->height = node->height;
    replace_child(t, node->parent, node, s);
  }
  t->count--;
  node->left = node->right = node->parent = NULL;
  retrace(t, from);
}

void ar__avl_propagate(ar__avl_t *t, ar__avl_node_t *node) {
  if (!t->update)
    return;
  while (node && t->update(node))
    node = node->parent;
}

ar__avl_node_t *ar__avl_first(const ar__avl_t *t) {
  ar__avl_node_t *n = t->root;
  while (n && n->left)
    n = n->left;
  return n;
}

ar__avl_node_t *ar__avl_last(const ar__avl_t *t) {
  ar__avl_node_t *n = t->root;
  while (n && n->right)
    n = n->right;
  return n;
}

ar__avl_node_t *ar__avl_next(const ar__avl_node_t *node) {
  if (node->right) {
    node = node->right;
    while (node->left)
      node = node->left;
    return (ar__avl_node_t *)node;
  }
  while (node->parent && node->parent->right == node)
    node = node->parent;
  return node->parent;
}

ar__avl_node_t *ar__avl_prev(const ar__avl_node_t *node) {
  if (node->left) {
    node = node->left;
    while (node->right)
      node = node->right;
    return (ar__avl_node_t *)node;
  }
  while (node->parent && node->parent->left == node)
    node = node->parent;
  return node->parent;
}

/* Verifies the subtree at n; returns the offending node or NULL, and adds
 * the subtree's nodes to *count. */
static const ar__avl_node_t *verify(const ar__avl_node_t *n,
                                    const char **what, size_t *count) {
  if (!n)
    return NULL;
  ++*count;
  if (n->left && n->left->parent != n) {
    *what = "left child's parent link";
    return n;
  }
  if (n->right && n->right->parent != n) {
    *what = "right child's parent link";
    return n;
  }
  const ar__avl_node_t *bad = verify(n->left, what, count);
  if (!bad)
    bad = verify(n->right, what, count);
  if (bad)
    return bad;
  int hl = height(n->left), hr = height(n->right);
  if (n->height != 1 + (hl > hr ? hl : hr)) {
    *what = "stored height";
    return n;
  }
  if (hl - hr > 1 || hr - hl > 1) {
    *what = "AVL balance";
    return n;
  }
  return NULL;
}

const ar__avl_node_t *ar__avl_verify(const ar__avl_t *t, const char **what) {
  size_t count = 0;
  if (t->root && t->root->parent) {
    *what = "root has a parent";
    return t->root;
  }
  const ar__avl_node_t *bad = verify(t->root, what, &count);
  if (!bad && count != t->count) {
    *what = "node count";
    return t->root;
  }
  return bad;
}
