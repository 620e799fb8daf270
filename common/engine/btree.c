/*
 * btree.c: the augmented B+tree of btree.h.
 *
 * Node layout: `key[i]` and `maxb[i]` describe slot i. In a leaf, slot i is
 * an entry and maxb[i] is its b; in an inner node, slot i is child[i],
 * key[i] is the smallest entry below it and maxb[i] the largest b below
 * it. Leaves are linked in order for iteration. After any change to a
 * node, fix_up rewrites its slot in the parent and climbs while that
 * changes something, so routing keys and the augmentation stay exact.
 * Each node also knows which slot holds its largest b and a bound on the
 * others (max2), so that shrinking the largest span, which every
 * allocation from it does, updates each level without rescanning it.
 *
 * Invariants (ar__bt_verify checks them): entries strictly increase along
 * the leaf chain; all leaves are at height 0 and every inner node is one
 * above its children; every node but the root holds MIN_FILL to FANOUT
 * slots; an inner root holds at least two; parent, slot and leaf links
 * agree; key[i] and maxb[i] of every inner slot match its child; max is
 * the largest maxb[i], argmax a slot that holds it, and max2 at least
 * every other slot's.
 *
 * Spare nodes (btree.h): ar__bt_reserve_more tops a tree's own list up,
 * from its pool first when it has one, and drop_node takes back what
 * merges free, releasing to the pool, or to free(), whatever the tree
 * does not keep. Only the tree itself takes from its own list.
 */
#include "btree.h"

#include <stdlib.h>
#include <string.h>

#include "ar/error.h"

#define FANOUT AR__BT_FANOUT
#define MIN_FILL (FANOUT / 4)
#define SPARE_KEEP 64 /* spares a tree without a pool keeps; more are freed */

_Static_assert(FANOUT >= 8 && FANOUT % 2 == 0, "fan-out too small");

struct ar__bt_node_s {
  ar__bt_node_t *parent;
  ar__bt_node_t *prev, *next; /* leaves only: neighbours in order */
  unsigned count;             /* slots in use */
  unsigned slot;              /* this node's slot in its parent */
  unsigned height;            /* 0 for a leaf */
  unsigned argmax;            /* a slot whose maxb is max */
  uint64_t max;               /* the largest maxb[i] */
  uint64_t max2;              /* at least every maxb[i] but argmax's */
  ar__bt_key_t key[FANOUT];
  uint64_t maxb[FANOUT];
  ar__bt_node_t *child[FANOUT]; /* inner nodes only */
};

static const ar__bt_pos_t end_pos = {NULL, 0};

/* Branch-free, so that the counting scans below compile to straight
 * lines. */
static bool key_less(ar__bt_key_t x, ar__bt_key_t y) {
  return (x.a < y.a) | ((x.a == y.a) & (x.b < y.b));
}

static bool key_eq(ar__bt_key_t x, ar__bt_key_t y) {
  return x.a == y.a && x.b == y.b;
}

static uint64_t node_max(const ar__bt_node_t *n) {
  uint64_t m = 0;
  for (unsigned i = 0; i < n->count; i++)
    if (n->maxb[i] > m)
      m = n->maxb[i];
  return m;
}

/* Sets max, argmax and max2 exactly from the slots. */
static void rescan(ar__bt_node_t *n) {
  uint64_t m = 0, m2 = 0;
  unsigned at = 0;
  for (unsigned i = 0; i < n->count; i++) {
    uint64_t v = n->maxb[i];
    if (v > m) {
      m2 = m;
      m = v;
      at = i;
    } else if (v > m2) {
      m2 = v;
    }
  }
  n->max = m;
  n->max2 = m2;
  n->argmax = at;
}

/* Slot i's maxb changed: bring max, argmax and max2 up to date. max2 is
 * only a bound on the other slots, so the common case, the largest span
 * shrinking a little (an allocation carving it), needs no rescan: it is
 * still the largest while it is at least max2. */
static void slot_changed(ar__bt_node_t *n, unsigned i) {
  uint64_t v = n->maxb[i];
  if (i == n->argmax) {
    if (v >= n->max2)
      n->max = v;
    else
      rescan(n);
  } else if (v > n->max) {
    n->max2 = n->max;
    n->max = v;
    n->argmax = i;
  } else if (v > n->max2) {
    n->max2 = v;
  }
}

/* ---- nodes ---- */

static ar__bt_node_t *new_node(ar__bt_t *t, unsigned height) {
  ar__bt_node_t *n = t->spare;
  t->spare = n->next;
  t->nspare--;
  n->parent = n->prev = n->next = NULL;
  n->count = n->slot = 0;
  n->height = height;
  n->argmax = 0;
  n->max = n->max2 = 0;
  return n;
}

static void push_spare(ar__bt_t *t, ar__bt_node_t *n) {
  n->next = t->spare;
  t->spare = n;
  t->nspare++;
}

/* Gives a node the tree does not keep to its pool while that has room,
 * else frees it. */
static void release_node(ar__bt_t *t, ar__bt_node_t *n) {
  ar__bt_pool_t *pool = t->pool;
  if (pool && pool->count < pool->cap) {
    n->next = pool->nodes;
    pool->nodes = n;
    pool->count++;
  } else {
    ar__mem_free(t->mem, n, sizeof(*n));
  }
}

/* A node the tree no longer uses becomes a spare, and the spares beyond
 * what the tree keeps are released. A tree in a pool keeps what a reserve
 * of the most inserts it was asked for needs at its height now, which is
 * enough for any inserts still to come of the last reserve (erasing only
 * lowers the height), so this frees none of what a reserve set aside. */
static void drop_node(ar__bt_t *t, ar__bt_node_t *n) {
  if (t->finger == n)
    t->finger = NULL;
  size_t keep = t->pool ? ar__bt_reserve_need(t, t->inserts) : SPARE_KEEP;
  push_spare(t, n);
  while (t->nspare > keep) {
    ar__bt_node_t *m = t->spare;
    t->spare = m->next;
    t->nspare--;
    release_node(t, m);
  }
}

/* A node for the tree's spares: the pool's when it has one, else a new
 * one. NULL when memory runs out. */
static ar__bt_node_t *get_node(ar__bt_t *t) {
  ar__bt_pool_t *pool = t->pool;
  if (!pool || !pool->nodes)
    return ar__mem_alloc(t->mem, sizeof(ar__bt_node_t));
  ar__bt_node_t *n = pool->nodes;
  pool->nodes = n->next;
  pool->count--;
  return n;
}

/* Out of line, so that ar__bt_reserve stays small enough that callers
 * inline it (the engine's own reserve, on every allocation and free). */
__attribute__((noinline)) int ar__bt_reserve_more(ar__bt_t *t,
                                                  unsigned inserts) {
  /* Only this tree takes its spares, so they stay set aside whatever is
   * done to other trees of the pool before the inserts. */
  while (t->nspare < ar__bt_reserve_need(t, inserts)) {
    ar__bt_node_t *n = get_node(t);
    if (!n)
      return AR_EINTERNAL;
    push_spare(t, n);
  }
  if (inserts > t->inserts)
    t->inserts = inserts;
  return 0;
}

static int init_tree(ar__bt_t *t, ar__mem_t *mem, ar__bt_pool_t *pool) {
  memset(t, 0, sizeof(*t));
  t->mem = mem;
  t->pool = pool;
  if (ar__bt_reserve(t, 1) != 0) {
    ar__bt_fini(t); /* the nodes reserve got before it failed */
    return AR_EINTERNAL;
  }
  t->root = new_node(t, 0);
  return 0;
}

int ar__bt_init(ar__bt_t *t, ar__mem_t *mem) { return init_tree(t, mem, NULL); }

int ar__bt_init_pooled(ar__bt_t *t, ar__bt_pool_t *pool) {
  return init_tree(t, pool->mem, pool);
}

void ar__bt_pool_init(ar__bt_pool_t *pool, ar__mem_t *mem, size_t cap) {
  *pool = (ar__bt_pool_t){NULL, 0, cap, mem};
}

void ar__bt_pool_fini(ar__bt_pool_t *pool) {
  while (pool->nodes) {
    ar__bt_node_t *n = pool->nodes;
    pool->nodes = n->next;
    ar__mem_free(pool->mem, n, sizeof(*n));
  }
  pool->count = 0;
}

static void free_subtree(ar__bt_t *t, ar__bt_node_t *n) {
  if (n->height)
    for (unsigned i = 0; i < n->count; i++)
      free_subtree(t, n->child[i]);
  ar__mem_free(t->mem, n, sizeof(*n));
}

void ar__bt_fini(ar__bt_t *t) {
  if (t->root)
    free_subtree(t, t->root);
  while (t->spare) {
    ar__bt_node_t *n = t->spare;
    t->spare = n->next;
    ar__mem_free(t->mem, n, sizeof(*n));
  }
  memset(t, 0, sizeof(*t));
}

/* Copies slot si of src to slot di of dst, field by field. */
static inline void copy_slot(ar__bt_node_t *dst, unsigned di,
                             const ar__bt_node_t *src, unsigned si) {
  dst->key[di] = src->key[si];
  dst->maxb[di] = src->maxb[si];
  if (dst->height)
    dst->child[di] = src->child[si];
  /* Keeps the compiler from turning the copy loops back into memmove
   * (see move_slots). */
  __asm__ volatile("" ::: "memory");
}

/* Moves `cnt` slots from src[si..] to dst[di..] (the ranges may overlap
 * within one node) and re-parents moved children.
 *
 * Slot by slot rather than with memmove. Measured: in bench-engines,
 * after its trace loading has left the heap fragmented, memmove's first
 * load took about a third of a list policy's time, and copying slot by
 * slot halved best, next and worst fit on sqlite3-shop (in a process that
 * only replays, the two are the same speed). Our reading, which this VM's
 * lack of hardware counters leaves unconfirmed: the slots moved were often
 * written a moment before, 8 bytes at a time, and a load of 16 to 64
 * bytes cannot take its bytes from several such stores still on their way
 * to the cache, so it waits for them.
 */
static void move_slots(ar__bt_node_t *dst, unsigned di, ar__bt_node_t *src,
                       unsigned si, unsigned cnt) {
  if (dst == src && di > si) /* overlapping: from the top down */
    for (unsigned k = cnt; k-- > 0;)
      copy_slot(dst, di + k, src, si + k);
  else
    for (unsigned k = 0; k < cnt; k++)
      copy_slot(dst, di + k, src, si + k);
  if (dst->height == 0)
    return;
  for (unsigned i = di; i < di + cnt; i++) {
    dst->child[i]->parent = dst;
    dst->child[i]->slot = i;
  }
}

/* Moves slots i.. of n up one, leaving slot i free (i <= n->count). A
 * leaf's, the common case, without move_slots' calling and setting up,
 * which on the few slots most inserts move costs more than the copying. */
static inline void open_slot(ar__bt_node_t *n, unsigned i) {
  if (n->height) {
    move_slots(n, i + 1, n, i, n->count - i);
    return;
  }
  ar__bt_key_t *key = n->key;
  uint64_t *maxb = n->maxb;
  for (size_t k = n->count; k > i; k--) {
    key[k] = key[k - 1];
    maxb[k] = maxb[k - 1];
    __asm__ volatile("" ::: "memory"); /* see move_slots */
  }
}

/* Moves slots i + 1.. of leaf n down one, over slot i. */
static inline void close_leaf_slot(ar__bt_node_t *n, unsigned i) {
  ar__bt_key_t *key = n->key;
  uint64_t *maxb = n->maxb;
  for (size_t k = i, last = n->count - 1; k < last; k++) {
    key[k] = key[k + 1];
    maxb[k] = maxb[k + 1];
    __asm__ volatile("" ::: "memory"); /* see move_slots */
  }
}

/* Rewrites n's slot in its parent, and so on up while anything changes.
 * n->max must be right. */
static void fix_up(ar__bt_node_t *n) {
  for (ar__bt_node_t *p = n->parent; p; n = p, p = p->parent) {
    unsigned s = n->slot;
    if (p->maxb[s] == n->max && key_eq(p->key[s], n->key[0]))
      return;
    p->key[s] = n->key[0];
    p->maxb[s] = n->max;
    slot_changed(p, s);
  }
}

/* ---- insertion ---- */

static void insert_slot(ar__bt_t *t, ar__bt_node_t *n, unsigned i,
                        ar__bt_key_t k, uint64_t maxb, ar__bt_node_t *child);

/* Splits the full node n: the upper half moves to a new right sibling,
 * which is linked into the parent (splitting it in turn if needed).
 * Returns the new sibling. */
static ar__bt_node_t *split(ar__bt_t *t, ar__bt_node_t *n) {
  ar__bt_node_t *r = new_node(t, n->height);
  move_slots(r, 0, n, FANOUT / 2, FANOUT - FANOUT / 2);
  r->count = FANOUT - FANOUT / 2;
  n->count = FANOUT / 2;
  rescan(r);
  rescan(n);
  if (n->height == 0) {
    r->next = n->next;
    r->prev = n;
    if (n->next)
      n->next->prev = r;
    n->next = r;
  }
  if (!n->parent) {
    ar__bt_node_t *root = new_node(t, n->height + 1);
    root->count = 1;
    root->key[0] = n->key[0];
    root->maxb[0] = n->max;
    rescan(root);
    root->child[0] = n;
    n->parent = root;
    n->slot = 0;
    t->root = root;
    t->height++;
  } else {
    /* n's slot keeps its key; its maxb may drop. The parent's max does
     * not change (r brings the rest back in just below), but which slot
     * holds it may. */
    n->parent->maxb[n->slot] = n->max;
    rescan(n->parent);
  }
  insert_slot(t, n->parent, n->slot + 1, r->key[0], r->max, r);
  return r;
}

/* Puts a slot at index i of n (i <= n->count), splitting n when full. */
static void insert_slot(ar__bt_t *t, ar__bt_node_t *n, unsigned i,
                        ar__bt_key_t k, uint64_t maxb, ar__bt_node_t *child) {
  if (n->count == FANOUT) {
    ar__bt_node_t *r = split(t, n);
    if (i > FANOUT / 2) {
      n = r;
      i -= FANOUT / 2;
    }
  }
  open_slot(n, i);
  n->key[i] = k;
  n->maxb[i] = maxb;
  if (n->height) {
    n->child[i] = child;
    child->parent = n;
    child->slot = i;
  }
  if (n->count++ == 0) {
    n->max = maxb;
    n->max2 = 0;
    n->argmax = i;
  } else {
    if (n->argmax >= i)
      n->argmax++; /* it moved up with the slots after i */
    slot_changed(n, i);
  }
  fix_up(n);
}

/* The child of inner node n whose subtree would hold k: the last slot
 * whose smallest entry is <= k, or the first. A binary search over the
 * slots after the first. */
static unsigned route(const ar__bt_node_t *n, ar__bt_key_t k) {
  unsigned lo = 0, len = n->count - 1; /* answer in [lo, lo + len] */
  while (len > 0) {
    unsigned half = (len + 1) / 2;
    bool at_most = !key_less(k, n->key[lo + half]);
    lo = at_most ? lo + half : lo;
    len = at_most ? len - half : half - 1;
  }
  return lo;
}

/* The first slot of leaf n whose entry is >= k, or n->count. */
static unsigned leaf_lower_bound(const ar__bt_node_t *n, ar__bt_key_t k) {
  unsigned lo = 0, len = n->count;
  while (len > 0) {
    unsigned half = len / 2;
    bool below = key_less(n->key[lo + half], k);
    lo = below ? lo + half + 1 : lo;
    len = below ? len - half - 1 : half;
  }
  return lo;
}

void ar__bt_insert(ar__bt_t *t, ar__bt_key_t k) {
  ar__bt_node_t *n = t->root;
  while (n->height)
    n = n->child[route(n, k)];
  insert_slot(t, n, leaf_lower_bound(n, k), k, k.b, NULL);
  t->count++;
}

void ar__bt_insert_before(ar__bt_t *t, ar__bt_pos_t pos, ar__bt_key_t k) {
  if (ar__bt_end(pos)) { /* after the last entry: the last leaf's end */
    ar__bt_node_t *n = t->root;
    while (n->height)
      n = n->child[n->count - 1];
    pos = (ar__bt_pos_t){n, n->count};
  }
  insert_slot(t, pos.leaf, pos.i, k, k.b, NULL);
  t->count++;
}

/* ---- erasure ---- */

static void shrunk(ar__bt_t *t, ar__bt_node_t *n);

/* Moves all of r's slots to the end of its left sibling l, and removes r
 * from their parent. */
static void merge(ar__bt_t *t, ar__bt_node_t *l, ar__bt_node_t *r) {
  ar__bt_node_t *p = l->parent;
  move_slots(l, l->count, r, 0, r->count);
  l->count += r->count;
  rescan(l);
  if (l->height == 0) {
    l->next = r->next;
    if (r->next)
      r->next->prev = l;
  }
  p->key[l->slot] = l->key[0];
  p->maxb[l->slot] = l->max;
  unsigned rs = r->slot;
  move_slots(p, rs, p, rs + 1, p->count - rs - 1);
  p->count--;
  rescan(p); /* its slot for n may still hold an erased b */
  drop_node(t, r);
  shrunk(t, p);
}

/* n, not the root, holds fewer than MIN_FILL slots: merge it with a
 * sibling when both fit in one node, else move slots over from the
 * fuller sibling until the two are even. */
static void rebalance(ar__bt_t *t, ar__bt_node_t *n) {
  ar__bt_node_t *p = n->parent;
  ar__bt_node_t *left = n->slot > 0 ? p->child[n->slot - 1] : NULL;
  ar__bt_node_t *right = n->slot + 1 < p->count ? p->child[n->slot + 1] : NULL;
  if (left && left->count + n->count <= FANOUT) {
    merge(t, left, n);
  } else if (right && n->count + right->count <= FANOUT) {
    merge(t, n, right);
  } else if (left) {
    unsigned cnt = (left->count - n->count) / 2;
    move_slots(n, cnt, n, 0, n->count);
    move_slots(n, 0, left, left->count - cnt, cnt);
    n->count += cnt;
    left->count -= cnt;
    rescan(n);
    rescan(left);
    fix_up(left);
    fix_up(n);
  } else {
    unsigned cnt = (right->count - n->count) / 2;
    move_slots(n, n->count, right, 0, cnt);
    move_slots(right, 0, right, cnt, right->count - cnt);
    n->count += cnt;
    right->count -= cnt;
    rescan(n);
    rescan(right);
    fix_up(n);
    fix_up(right);
  }
}

/* n just lost a slot: restore the fill invariant, or collapse a root
 * that is left with one child, or just bring the ancestors up to date. */
static void shrunk(ar__bt_t *t, ar__bt_node_t *n) {
  if (n == t->root) {
    if (n->height && n->count == 1) {
      t->root = n->child[0];
      t->root->parent = NULL;
      t->root->slot = 0;
      t->height--;
      drop_node(t, n);
    }
  } else if (n->count < MIN_FILL) {
    rebalance(t, n);
  } else {
    fix_up(n);
  }
}

void ar__bt_erase(ar__bt_t *t, ar__bt_pos_t pos) {
  ar__bt_node_t *n = pos.leaf;
  close_leaf_slot(n, pos.i);
  n->count--;
  if (pos.i == n->argmax)
    rescan(n);
  else if (n->argmax > pos.i)
    n->argmax--; /* it moved down with the slots after pos.i */
  t->count--;
  shrunk(t, n);
}

void ar__bt_set(ar__bt_t *t, ar__bt_pos_t pos, ar__bt_key_t k) {
  (void)t;
  pos.leaf->key[pos.i] = k;
  pos.leaf->maxb[pos.i] = k.b;
  slot_changed(pos.leaf, pos.i);
  fix_up(pos.leaf);
}

/* ---- navigation ---- */

ar__bt_key_t ar__bt_get(ar__bt_pos_t pos) { return pos.leaf->key[pos.i]; }

ar__bt_pos_t ar__bt_first(const ar__bt_t *t) {
  ar__bt_node_t *n = t->root;
  while (n->height)
    n = n->child[0];
  return n->count ? (ar__bt_pos_t){n, 0} : end_pos;
}

ar__bt_pos_t ar__bt_last(const ar__bt_t *t) {
  ar__bt_node_t *n = t->root;
  while (n->height)
    n = n->child[n->count - 1];
  return n->count ? (ar__bt_pos_t){n, n->count - 1} : end_pos;
}

ar__bt_pos_t ar__bt_next(ar__bt_pos_t pos) {
  if (!pos.leaf)
    return end_pos;
  if (pos.i + 1 < pos.leaf->count)
    return (ar__bt_pos_t){pos.leaf, pos.i + 1};
  return pos.leaf->next ? (ar__bt_pos_t){pos.leaf->next, 0} : end_pos;
}

ar__bt_pos_t ar__bt_prev(ar__bt_pos_t pos) {
  if (!pos.leaf)
    return end_pos;
  if (pos.i > 0)
    return (ar__bt_pos_t){pos.leaf, pos.i - 1};
  ar__bt_node_t *p = pos.leaf->prev;
  return p ? (ar__bt_pos_t){p, p->count - 1} : end_pos;
}

/* Whether k's lower bound is in leaf n (or just past its end): no entry
 * of an earlier leaf is >= k and no entry of a later one is < k. */
static bool leaf_holds(const ar__bt_node_t *n, ar__bt_key_t k) {
  return n->count && (!n->prev || !key_less(k, n->key[0])) &&
         (!n->next || key_less(k, n->next->key[0]));
}

/* The leaf that holds k's lower bound, from the finger when it does (a
 * tree that is one leaf has nothing to skip). */
static ar__bt_node_t *find_leaf(const ar__bt_t *t, ar__bt_key_t k) {
  if (t->height && t->finger && leaf_holds(t->finger, k))
    return t->finger;
  ar__bt_node_t *n = t->root;
  while (n->height)
    n = n->child[route(n, k)];
  return n;
}

/* Slot i of leaf n (i <= n->count): past its end, the next leaf's first
 * entry or the end. */
static ar__bt_pos_t slot_or_next(ar__bt_node_t *n, unsigned i) {
  if (i < n->count)
    return (ar__bt_pos_t){n, i};
  return n->next ? (ar__bt_pos_t){n->next, 0} : end_pos;
}

ar__bt_pos_t ar__bt_lower_bound(const ar__bt_t *t, ar__bt_key_t k) {
  ar__bt_node_t *n = find_leaf(t, k);
  return slot_or_next(n, leaf_lower_bound(n, k));
}

ar__bt_pos_t ar__bt_seek(ar__bt_t *t, ar__bt_key_t k) {
  ar__bt_node_t *n = find_leaf(t, k);
  unsigned i = t->finger_slot;
  /* The same slot as last time (nearby frees and allocations often ask
   * for it): two comparisons instead of a binary search. */
  if (n != t->finger || i > n->count ||
      (i > 0 && !key_less(n->key[i - 1], k)) ||
      (i < n->count && key_less(n->key[i], k)))
    i = leaf_lower_bound(n, k);
  t->finger = n;
  t->finger_slot = i;
  return slot_or_next(n, i);
}

void ar__bt_point(ar__bt_t *t, ar__bt_pos_t pos) {
  t->finger = pos.leaf;
  t->finger_slot = pos.i;
}

ar__bt_pos_t ar__bt_finger_slot(const ar__bt_t *t, unsigned i) {
  if (!t->finger || i >= t->finger->count)
    return end_pos;
  return (ar__bt_pos_t){t->finger, i};
}

/* The first slot of n whose maxb is at least min_b, from `from` on, or
 * n->count. */
static unsigned first_b(const ar__bt_node_t *n, unsigned from,
                        uint64_t min_b) {
  /* Above max2 only the largest slot can qualify: no scan. Worst fit asks
   * for the largest size itself, which a scan would find last. */
  if (min_b > n->max2) {
    unsigned i = n->argmax;
    return i >= from && i < n->count && n->maxb[i] >= min_b ? i : n->count;
  }
  while (from < n->count && n->maxb[from] < min_b)
    from++;
  return from;
}

/* The first entry with b >= min_b in the subtree at n, which has one. */
static ar__bt_pos_t descend_b(const ar__bt_node_t *n, uint64_t min_b) {
  while (n->height)
    n = n->child[first_b(n, 0, min_b)];
  return (ar__bt_pos_t){(ar__bt_node_t *)n, first_b(n, 0, min_b)};
}

ar__bt_pos_t ar__bt_search_b(const ar__bt_t *t, ar__bt_pos_t from,
                             uint64_t min_b) {
  (void)t;
  const ar__bt_node_t *n = from.leaf;
  if (!n)
    return end_pos;
  unsigned i = first_b(n, from.i, min_b);
  if (i < n->count)
    return (ar__bt_pos_t){(ar__bt_node_t *)n, i};
  /* Climb until a later sibling subtree has one, then go down into it. */
  for (; n->parent; n = n->parent) {
    const ar__bt_node_t *p = n->parent;
    unsigned j = first_b(p, n->slot + 1, min_b);
    if (j < p->count)
      return descend_b(p->child[j], min_b);
  }
  return end_pos;
}

ar__bt_pos_t ar__bt_leftmost_b(const ar__bt_t *t, uint64_t min_b) {
  return t->count && t->root->max >= min_b ? descend_b(t->root, min_b)
                                           : end_pos;
}

uint64_t ar__bt_max_b(const ar__bt_t *t) { return t->root->max; }

/* ---- verification ---- */

typedef struct verify_s {
  const ar__bt_t *t;
  const ar__bt_node_t *prev_leaf;
  size_t entries;
  ar__bt_key_t last; /* the last entry seen, when entries > 0 */
  ar__bt_key_t *where;
} verify_t;

static const char *verify_node(verify_t *v, const ar__bt_node_t *n,
                               unsigned height) {
  if (n->height != height)
    return "node height";
  if (n->count > FANOUT || (n != v->t->root && n->count < MIN_FILL))
    return "node fill";
  if (n == v->t->root && n->height && n->count < 2)
    return "inner root with one child";
  if (n->max != node_max(n))
    return "node maximum";
  if (n->count && (n->argmax >= n->count || n->maxb[n->argmax] != n->max))
    return "node maximum's slot";
  for (unsigned i = 0; i < n->count; i++)
    if (i != n->argmax && n->maxb[i] > n->max2)
      return "node second maximum";
  if (n->height == 0) {
    if (n->prev != v->prev_leaf || (v->prev_leaf && v->prev_leaf->next != n))
      return "leaf links";
    for (unsigned i = 0; i < n->count; i++) {
      *v->where = n->key[i];
      if (n->maxb[i] != n->key[i].b)
        return "leaf augmentation";
      if (v->entries > 0 && !key_less(v->last, n->key[i]))
        return "entry order";
      v->last = n->key[i];
      v->entries++;
    }
    v->prev_leaf = n;
    return NULL;
  }
  for (unsigned i = 0; i < n->count; i++) {
    const ar__bt_node_t *c = n->child[i];
    *v->where = n->key[i];
    if (c->parent != n || c->slot != i)
      return "parent links";
    const char *bad = verify_node(v, c, height - 1);
    if (bad)
      return bad;
    *v->where = n->key[i];
    if (!key_eq(n->key[i], c->key[0]))
      return "routing key";
    if (n->maxb[i] != node_max(c))
      return "inner augmentation";
  }
  return NULL;
}

const char *ar__bt_verify(const ar__bt_t *t, ar__bt_key_t *where) {
  verify_t v = {t, NULL, 0, {0, 0}, where};
  *where = (ar__bt_key_t){0, 0};
  if (t->root->parent)
    return "root has a parent";
  const char *bad = verify_node(&v, t->root, t->height);
  if (bad)
    return bad;
  if (v.prev_leaf && v.prev_leaf->next)
    return "leaf links";
  if (v.entries != t->count)
    return "entry count";
  return NULL;
}
