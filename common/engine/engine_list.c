/*
 * engine_list.c: the four list policies (first, next, best and worst fit)
 * over one free-space index; they differ only in how they pick.
 *
 * The index holds one span per maximal free interval, in two AVL trees:
 *  - by address, augmented with the largest span size in each subtree, so
 *    "the lowest-addressed span of at least b bytes at or after X" takes one
 *    descent and one climb: first fit and next fit, and the neighbour
 *    lookups that coalescing needs;
 *  - by (size, start), for best and worst fit only: the smallest span of at
 *    least b bytes is a lower bound, the largest is the last node.
 * A split keeps the span's place in the address order (its start moves up,
 * but never past its successor), so it only refreshes the augmented sizes
 * on its path; only spans that appear or disappear rebalance the tree.
 * Every decision follows ../shared/design/placement-model.md, section "List
 * policies", including alignment above 16.
 */
#include <stdlib.h>

#include "ar/error.h"
#include "avl.h"
#include "engine_internal.h"

/* One maximal free interval [start, start + size). */
typedef struct span_s {
  ar__avl_node_t by_addr;
  ar__avl_node_t by_size; /* linked only when the policy keeps by_size */
  uint64_t start;
  uint64_t size;
  uint64_t max_size; /* the largest size in this span's by_addr subtree */
} span_t;

/* Spans come from chunks that live as long as the engine; unused spans
 * wait on a spare list linked through their by_addr.right field. */
typedef struct chunk_s {
  struct chunk_s *next;
  span_t spans[];
} chunk_t;

#define CHUNK_SPANS 1024

struct ar__list_s {
  ar__avl_t by_addr;
  ar__avl_t by_size;  /* best and worst fit only */
  bool sized;         /* whether by_size is kept */
  uint64_t rover;     /* next fit only */
  span_t *spare;      /* unused spans */
  chunk_t *chunks;    /* owned; freed at fini */
};

static span_t *addr_span(const ar__avl_node_t *n) {
  return ar__avl_entry(n, span_t, by_addr);
}

static span_t *size_span(const ar__avl_node_t *n) {
  return ar__avl_entry(n, span_t, by_size);
}

static uint64_t subtree_max(const ar__avl_node_t *n) {
  return n ? addr_span(n)->max_size : 0;
}

static bool update_max(ar__avl_node_t *n) {
  span_t *s = addr_span(n);
  uint64_t m = s->size;
  uint64_t l = subtree_max(n->left), r = subtree_max(n->right);
  if (l > m)
    m = l;
  if (r > m)
    m = r;
  bool changed = m != s->max_size;
  s->max_size = m;
  return changed;
}

/* ---- the span pool ---- */

/* Makes sure one spare span exists. Returns 0 or AR_EINTERNAL. */
static int reserve_span(ar__list_t *l) {
  if (l->spare)
    return 0;
  chunk_t *c = malloc(sizeof(*c) + CHUNK_SPANS * sizeof(span_t));
  if (!c)
    return AR_EINTERNAL;
  c->next = l->chunks;
  l->chunks = c;
  for (size_t i = 0; i < CHUNK_SPANS; i++) {
    c->spans[i].by_addr.right = l->spare ? &l->spare->by_addr : NULL;
    l->spare = &c->spans[i];
  }
  return 0;
}

/* Takes the spare span; reserve_span must have succeeded. */
static span_t *new_span(ar__list_t *l, uint64_t start, uint64_t size) {
  span_t *s = l->spare;
  l->spare = s->by_addr.right ? addr_span(s->by_addr.right) : NULL;
  s->start = start;
  s->size = size;
  return s;
}

static void drop_span(ar__list_t *l, span_t *s) {
  s->by_addr.right = l->spare ? &l->spare->by_addr : NULL;
  l->spare = s;
}

/* ---- the two trees ---- */

/* The span with the largest start <= at, or NULL. */
static span_t *floor_span(const ar__list_t *l, uint64_t at) {
  span_t *best = NULL;
  for (ar__avl_node_t *n = l->by_addr.root; n;) {
    span_t *s = addr_span(n);
    if (s->start <= at) {
      best = s;
      n = n->right;
    } else {
      n = n->left;
    }
  }
  return best;
}

/* The span with the lowest start >= at, or NULL. */
static span_t *ceil_span(const ar__list_t *l, uint64_t at) {
  span_t *best = NULL;
  for (ar__avl_node_t *n = l->by_addr.root; n;) {
    span_t *s = addr_span(n);
    if (s->start >= at) {
      best = s;
      n = n->left;
    } else {
      n = n->right;
    }
  }
  return best;
}

static span_t *next_by_addr(const span_t *s) {
  ar__avl_node_t *n = ar__avl_next(&s->by_addr);
  return n ? addr_span(n) : NULL;
}

static bool size_less(const span_t *a, uint64_t size, uint64_t start) {
  return a->size < size || (a->size == size && a->start < start);
}

static void size_insert(ar__list_t *l, span_t *s) {
  ar__avl_node_t *parent = NULL, **link = &l->by_size.root;
  while (*link) {
    parent = *link;
    link = size_less(size_span(parent), s->size, s->start) ? &parent->right
                                                           : &parent->left;
  }
  ar__avl_link(&l->by_size, &s->by_size, parent, link);
}

/* The first span in (size, start) order that is >= (size, start). */
static span_t *size_lower_bound(const ar__list_t *l, uint64_t size,
                                uint64_t start) {
  span_t *best = NULL;
  for (ar__avl_node_t *n = l->by_size.root; n;) {
    span_t *s = size_span(n);
    if (size_less(s, size, start)) {
      n = n->right;
    } else {
      best = s;
      n = n->left;
    }
  }
  return best;
}

static void insert_span(ar__list_t *l, span_t *s) {
  ar__avl_node_t *parent = NULL, **link = &l->by_addr.root;
  while (*link) {
    parent = *link;
    link = s->start < addr_span(parent)->start ? &parent->left
                                               : &parent->right;
  }
  ar__avl_link(&l->by_addr, &s->by_addr, parent, link);
  if (l->sized)
    size_insert(l, s);
}

static void erase_span(ar__list_t *l, span_t *s) {
  ar__avl_erase(&l->by_addr, &s->by_addr);
  if (l->sized)
    ar__avl_erase(&l->by_size, &s->by_size);
  drop_span(l, s);
}

/* Sets a span's bounds without moving it past a neighbour in the address
 * order, and brings both indexes up to date. */
static void resize_span(ar__list_t *l, span_t *s, uint64_t start,
                        uint64_t size) {
  if (l->sized)
    ar__avl_erase(&l->by_size, &s->by_size);
  s->start = start;
  s->size = size;
  ar__avl_propagate(&l->by_addr, &s->by_addr);
  if (l->sized)
    size_insert(l, s);
}

/* ---- picking ---- */

/* Where the block for b bytes at payload alignment `align` would start in
 * span s: the lowest q >= start with q + AR_HDR a multiple of align. */
static uint64_t block_start(const span_t *s, uint64_t align) {
  uint64_t p = (s->start + AR_HDR + align - 1) & ~(align - 1);
  return p - AR_HDR;
}

static bool fits(const span_t *s, uint64_t b, uint64_t align) {
  return block_start(s, align) + b <= s->start + s->size;
}

/* The lowest-addressed span of at least b bytes in the subtree at n. */
static span_t *leftmost_fit(const ar__avl_node_t *n, uint64_t b) {
  while (n && subtree_max(n) >= b) {
    if (subtree_max(n->left) >= b)
      n = n->left;
    else if (addr_span(n)->size >= b)
      return addr_span(n);
    else
      n = n->right;
  }
  return NULL;
}

/* The lowest-addressed span of at least b bytes among `from` and the spans
 * after it, or NULL. */
static span_t *size_fit_from(const span_t *from, uint64_t b) {
  const ar__avl_node_t *n = &from->by_addr;
  if (from->size >= b)
    return (span_t *)from;
  span_t *s = leftmost_fit(n->right, b);
  for (; !s && n->parent; n = n->parent) {
    if (n->parent->left != n)
      continue; /* the parent comes before n */
    if (addr_span(n->parent)->size >= b)
      return addr_span(n->parent);
    s = leftmost_fit(n->parent->right, b);
  }
  return s;
}

/* The lowest-addressed span at or after `from` that fits, stopping before
 * `stop` (NULL: the end). Spans of at least b bytes are candidates; the
 * alignment check only rejects any for align > 16. */
static span_t *address_fit(span_t *from, const span_t *stop, uint64_t b,
                           uint64_t align) {
  span_t *s = from ? size_fit_from(from, b) : NULL;
  while (s && (!stop || s->start < stop->start) && !fits(s, b, align)) {
    span_t *after = next_by_addr(s);
    s = after ? size_fit_from(after, b) : NULL;
  }
  return s && (!stop || s->start < stop->start) ? s : NULL;
}

static span_t *first_span(const ar__list_t *l) {
  ar__avl_node_t *n = ar__avl_first(&l->by_addr);
  return n ? addr_span(n) : NULL;
}

static span_t *pick_first(const ar__list_t *l, uint64_t b, uint64_t align) {
  return address_fit(first_span(l), NULL, b, align);
}

/* Next fit: first the spans that end after the rover, in address order,
 * then the spans before those. */
static span_t *pick_next(const ar__list_t *l, uint64_t b, uint64_t align) {
  span_t *from = floor_span(l, l->rover);
  if (!from)
    from = first_span(l);
  else if (from->start + from->size <= l->rover)
    from = next_by_addr(from);
  span_t *s = address_fit(from, NULL, b, align);
  return s ? s : address_fit(first_span(l), from, b, align);
}

/* Best fit: the smallest span that fits, the lowest start on a tie. */
static span_t *pick_best(const ar__list_t *l, uint64_t b, uint64_t align) {
  span_t *s = size_lower_bound(l, b, 0);
  while (s && !fits(s, b, align)) {
    ar__avl_node_t *n = ar__avl_next(&s->by_size);
    s = n ? size_span(n) : NULL;
  }
  return s;
}

/* Worst fit: the largest span that fits, the lowest start on a tie. Sizes
 * are visited from the largest down, each size's spans by address. */
static span_t *pick_worst(const ar__list_t *l, uint64_t b, uint64_t align) {
  ar__avl_node_t *last = ar__avl_last(&l->by_size);
  while (last && size_span(last)->size >= b) {
    uint64_t size = size_span(last)->size;
    span_t *group = size_lower_bound(l, size, 0);
    for (span_t *s = group; s && s->size == size;) {
      if (fits(s, b, align))
        return s;
      ar__avl_node_t *n = ar__avl_next(&s->by_size);
      s = n ? size_span(n) : NULL;
    }
    last = ar__avl_prev(&group->by_size);
  }
  return NULL;
}

static int list_take(ar_engine_t *e, uint64_t n, uint64_t align,
                     ar_block_t *blk) {
  ar__list_t *l = e->u.list;
  uint64_t b = ar__block_bytes(n);
  if (b > e->size)
    return AR_ENOMEM;
  span_t *s;
  switch (e->policy) {
  case AR_POLICY_FIRST:
    s = pick_first(l, b, align);
    break;
  case AR_POLICY_NEXT:
    s = pick_next(l, b, align);
    break;
  case AR_POLICY_BEST:
    s = pick_best(l, b, align);
    break;
  default:
    s = pick_worst(l, b, align);
    break;
  }
  if (!s)
    return AR_ENOMEM;
  uint64_t q = block_start(s, align), end = s->start + s->size;
  if (q > s->start && q + b < end && reserve_span(l) != 0)
    return AR_EINTERNAL; /* a front gap and a tail: one more span */
  if (q > s->start) {
    resize_span(l, s, s->start, q - s->start); /* the front gap stays */
    if (q + b < end)
      insert_span(l, new_span(l, q + b, end - (q + b)));
  } else if (q + b < end) {
    resize_span(l, s, q + b, end - (q + b));
  } else {
    erase_span(l, s);
  }
  if (e->policy == AR_POLICY_NEXT)
    l->rover = q + b;
  blk->start = q;
  blk->size = b;
  blk->payload = q + AR_HDR;
  return 0;
}

static int list_give(ar_engine_t *e, uint64_t start, uint64_t size) {
  ar__list_t *l = e->u.list;
  span_t *left = floor_span(l, start);
  span_t *right = left ? next_by_addr(left) : first_span(l);
  if (left && left->start + left->size != start)
    left = NULL;
  if (right && right->start != start + size)
    right = NULL;
  if (left && right) {
    uint64_t merged = left->size + size + right->size;
    erase_span(l, right);
    resize_span(l, left, left->start, merged);
  } else if (left) {
    resize_span(l, left, left->start, left->size + size);
  } else if (right) {
    resize_span(l, right, start, size + right->size);
  } else {
    if (reserve_span(l) != 0)
      return AR_EINTERNAL;
    insert_span(l, new_span(l, start, size));
  }
  return 0;
}

static uint64_t list_start_of(uint64_t payload) {
  if (payload < AR_HDR || payload % AR_GRAIN != 0)
    return UINT64_MAX;
  return payload - AR_HDR;
}

static bool list_free_from(const ar_engine_t *e, uint64_t from,
                           uint64_t *start, uint64_t *size) {
  const span_t *s = ceil_span(e->u.list, from);
  if (!s)
    return false;
  *start = s->start;
  *size = s->size;
  return true;
}

static uint64_t list_extent_at_or_after(const ar_engine_t *e,
                                        uint64_t cursor) {
  const span_t *s = floor_span(e->u.list, cursor);
  if (s && cursor < s->start + s->size)
    return s->start == cursor ? cursor : s->start + s->size;
  if (ar__blockmap_find(&e->blocks, cursor))
    return cursor;
  /* The cursor fell inside a block (the arena changed since it was
   * handed out): walk the blocks from the free span before it. */
  uint64_t p = s ? s->start + s->size : 0;
  while (p < cursor) {
    const ar__blockent_t *ent = ar__blockmap_find(&e->blocks, p);
    if (!ent)
      return e->size; /* a broken tiling; ar_engine_check reports it */
    p += ent->size;
  }
  return p;
}

static void list_stats(const ar_engine_t *e, ar_engine_stats_t *out) {
  const ar__list_t *l = e->u.list;
  out->free_extents = l->by_addr.count;
  out->largest_free = subtree_max(l->by_addr.root);
  out->rover = l->rover;
}

static int list_check(const ar_engine_t *e, ar_check_report_t *report,
                      uint64_t *extents) {
  const ar__list_t *l = e->u.list;
  const char *what = NULL;
  const ar__avl_node_t *bad = ar__avl_verify(&l->by_addr, &what);
  if (bad)
    return ar__check_fail(report, "address index", addr_span(bad)->start,
                          "address tree: %s at the span at %llu", what,
                          (unsigned long long)addr_span(bad)->start);
  uint64_t prev_end = 0;
  bool first = true;
  for (ar__avl_node_t *n = ar__avl_first(&l->by_addr); n;
       n = ar__avl_next(n)) {
    const span_t *s = addr_span(n);
    if (s->size == 0 || s->start % AR_GRAIN || s->size % AR_GRAIN ||
        s->start + s->size > e->size)
      return ar__check_fail(report, "free interval bounds", s->start,
                            "free interval [%llu, +%llu) is empty, off the "
                            "grain or past the arena",
                            (unsigned long long)s->start,
                            (unsigned long long)s->size);
    if (!first && s->start < prev_end)
      return ar__check_fail(report, "free intervals disjoint", s->start,
                            "free interval at %llu starts before the "
                            "previous one ends at %llu",
                            (unsigned long long)s->start,
                            (unsigned long long)prev_end);
    if (!first && s->start == prev_end)
      return ar__check_fail(report, "free intervals coalesced", s->start,
                            "free interval at %llu touches the previous one",
                            (unsigned long long)s->start);
    uint64_t m = s->size;
    if (subtree_max(n->left) > m)
      m = subtree_max(n->left);
    if (subtree_max(n->right) > m)
      m = subtree_max(n->right);
    if (s->max_size != m)
      return ar__check_fail(report, "address index", s->start,
                            "span at %llu records a largest size of %llu "
                            "below it, not %llu",
                            (unsigned long long)s->start,
                            (unsigned long long)s->max_size,
                            (unsigned long long)m);
    prev_end = s->start + s->size;
    first = false;
  }
  if (l->rover > e->size)
    return ar__check_fail(report, "rover", l->rover,
                          "the next-fit rover %llu is past the arena",
                          (unsigned long long)l->rover);
  *extents = l->by_addr.count;
  if (!l->sized)
    return 0;
  bad = ar__avl_verify(&l->by_size, &what);
  if (bad)
    return ar__check_fail(report, "size index", size_span(bad)->start,
                          "size tree: %s at the span at %llu", what,
                          (unsigned long long)size_span(bad)->start);
  if (l->by_size.count != l->by_addr.count)
    return ar__check_fail(report, "size index", 0,
                          "size tree holds %zu spans, address tree %zu",
                          l->by_size.count, l->by_addr.count);
  const span_t *prev = NULL;
  for (ar__avl_node_t *n = ar__avl_first(&l->by_size); n;
       n = ar__avl_next(n)) {
    const span_t *s = size_span(n);
    if (prev && !size_less(prev, s->size, s->start))
      return ar__check_fail(report, "size index", s->start,
                            "size tree out of order at the span at %llu",
                            (unsigned long long)s->start);
    if (floor_span(l, s->start) != s)
      return ar__check_fail(report, "size index", s->start,
                            "the span at %llu is in the size tree only",
                            (unsigned long long)s->start);
    prev = s;
  }
  return 0;
}

static int list_init(ar_engine_t *e) {
  ar__list_t *l = calloc(1, sizeof(*l));
  if (!l)
    return AR_EINTERNAL;
  ar__avl_init(&l->by_addr, update_max);
  ar__avl_init(&l->by_size, NULL);
  l->sized = e->policy == AR_POLICY_BEST || e->policy == AR_POLICY_WORST;
  e->u.list = l;
  if (reserve_span(l) != 0) {
    free(l);
    return AR_EINTERNAL;
  }
  insert_span(l, new_span(l, 0, e->size));
  return 0;
}

static void list_fini(ar_engine_t *e) {
  ar__list_t *l = e->u.list;
  while (l->chunks) {
    chunk_t *c = l->chunks;
    l->chunks = c->next;
    free(c);
  }
  free(l);
}

const ar__engine_ops_t ar__list_ops = {
    .init = list_init,
    .fini = list_fini,
    .take = list_take,
    .give = list_give,
    .start_of = list_start_of,
    .free_from = list_free_from,
    .extent_at_or_after = list_extent_at_or_after,
    .stats = list_stats,
    .check = list_check,
};
