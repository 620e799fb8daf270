/*
 * sizeidx.c: the size-ordered index of sizeidx.h. A class tree holds
 * entries (start, size), all of one size, so its order is by start; the
 * large tree holds (size, start). Class trees are made on first use and
 * kept until the index goes; every tree takes and gives spare nodes
 * through the index's pool, which fini frees last.
 */
#include "sizeidx.h"

#include <stdlib.h>
#include <string.h>

#include "ar/error.h"

#define CLASSES AR__SIZEIDX_CLASSES
#define LARGE CLASSES /* the cls of a position in the large tree */

static const ar__bt_pos_t end_bt = {NULL, 0};

static unsigned class_of(uint64_t size) { return (unsigned)(size / 16 - 1); }

static bool is_small(uint64_t size) { return size <= AR__SIZEIDX_SMALL_MAX; }

static void set_class(ar__sizeidx_t *x, unsigned c, bool nonempty) {
  uint64_t bit = UINT64_C(1) << (c % 64);
  if (nonempty)
    x->nonempty[c / 64] |= bit;
  else
    x->nonempty[c / 64] &= ~bit;
}

/* The first class >= c that holds a span, or CLASSES. */
static unsigned next_class(const ar__sizeidx_t *x, unsigned c) {
  for (; c < CLASSES; c = (c | 63) + 1) {
    uint64_t w = x->nonempty[c / 64] & (~UINT64_C(0) << (c % 64));
    if (w)
      return (c & ~63u) + (unsigned)__builtin_ctzll(w);
  }
  return CLASSES;
}

/* The last class <= c (c < CLASSES) that holds a span, or CLASSES. */
static unsigned prev_class(const ar__sizeidx_t *x, unsigned c) {
  for (int i = (int)c;; i = (i & ~63) - 1) {
    if (i < 0)
      return CLASSES;
    uint64_t w = x->nonempty[i / 64] & (~UINT64_C(0) >> (63 - i % 64));
    if (w)
      return (unsigned)(i & ~63) + 63u - (unsigned)__builtin_clzll(w);
  }
}

int ar__sizeidx_init(ar__sizeidx_t *x, ar__mem_t *mem) {
  memset(x, 0, sizeof(*x));
  x->mem = mem;
  ar__bt_pool_init(&x->pool, mem, AR__SIZEIDX_POOL);
  x->classes = ar__mem_calloc(mem, CLASSES, sizeof(ar__bt_t));
  if (!x->classes)
    return AR_EINTERNAL;
  if (ar__bt_init_pooled(&x->large, &x->pool) != 0) {
    ar__mem_free(mem, x->classes, CLASSES * sizeof(ar__bt_t));
    x->classes = NULL;
    return AR_EINTERNAL;
  }
  return 0;
}

void ar__sizeidx_fini(ar__sizeidx_t *x) {
  if (x->classes) {
    for (unsigned c = 0; c < CLASSES; c++)
      ar__bt_fini(&x->classes[c]);
    ar__mem_free(x->mem, x->classes, CLASSES * sizeof(ar__bt_t));
  }
  ar__bt_fini(&x->large);
  ar__bt_pool_fini(&x->pool);
  memset(x, 0, sizeof(*x));
}

int ar__sizeidx_reserve(ar__sizeidx_t *x, uint64_t size) {
  if (!is_small(size))
    return ar__bt_reserve(&x->large, 2);
  ar__bt_t *t = &x->classes[class_of(size)];
  if (!t->root && ar__bt_init_pooled(t, &x->pool) != 0)
    return AR_EINTERNAL;
  return ar__bt_reserve(t, 2);
}

void ar__sizeidx_insert(ar__sizeidx_t *x, uint64_t start, uint64_t size) {
  if (is_small(size)) {
    unsigned c = class_of(size);
    ar__bt_insert(&x->classes[c], (ar__bt_key_t){start, size});
    set_class(x, c, true);
  } else {
    ar__bt_insert(&x->large, (ar__bt_key_t){size, start});
  }
  x->count++;
}

/* The tree a position is in. */
static ar__bt_t *tree_of(ar__sizeidx_t *x, ar__sizeidx_pos_t p) {
  return p.cls == LARGE ? &x->large : &x->classes[p.cls];
}

ar__sizeidx_pos_t ar__sizeidx_find(ar__sizeidx_t *x, uint64_t start,
                                   uint64_t size) {
  if (!is_small(size))
    return (ar__sizeidx_pos_t){
        LARGE, ar__bt_seek(&x->large, (ar__bt_key_t){size, start})};
  unsigned c = class_of(size);
  return (ar__sizeidx_pos_t){
      c, ar__bt_seek(&x->classes[c], (ar__bt_key_t){start, 0})};
}

void ar__sizeidx_erase_at(ar__sizeidx_t *x, ar__sizeidx_pos_t p) {
  ar__bt_t *t = tree_of(x, p);
  ar__bt_erase(t, p.pos);
  if (p.cls != LARGE && t->count == 0)
    set_class(x, p.cls, false);
  x->count--;
}

/* The tree that holds spans of `size` bytes, and the key of [start, start
 * + size) in it. */
static ar__bt_t *tree_for(ar__sizeidx_t *x, uint64_t start, uint64_t size,
                          ar__bt_key_t *key) {
  if (!is_small(size)) {
    *key = (ar__bt_key_t){size, start};
    return &x->large;
  }
  *key = (ar__bt_key_t){start, size};
  return &x->classes[class_of(size)];
}

static bool key_less(ar__bt_key_t p, ar__bt_key_t q) {
  return p.a < q.a || (p.a == q.a && p.b < q.b);
}

void ar__sizeidx_replace_at(ar__sizeidx_t *x, ar__sizeidx_pos_t p,
                            uint64_t to_start, uint64_t to_size) {
  ar__bt_key_t to;
  ar__bt_t *t = tree_of(x, p);
  if (tree_for(x, to_start, to_size, &to) == t) {
    ar__bt_pos_t prev = ar__bt_prev(p.pos), next = ar__bt_next(p.pos);
    if ((ar__bt_end(prev) || key_less(ar__bt_get(prev), to)) &&
        (ar__bt_end(next) || key_less(to, ar__bt_get(next)))) {
      ar__bt_set(t, p.pos, to);
      return;
    }
  }
  ar__sizeidx_erase_at(x, p);
  ar__sizeidx_insert(x, to_start, to_size);
}

/* The first span of class c or after, in (size, start) order. */
static ar__sizeidx_pos_t first_from_class(const ar__sizeidx_t *x, unsigned c) {
  c = c < CLASSES ? next_class(x, c) : CLASSES;
  if (c < CLASSES)
    return (ar__sizeidx_pos_t){c, ar__bt_first(&x->classes[c])};
  return (ar__sizeidx_pos_t){LARGE, ar__bt_first(&x->large)};
}

/* The last span of class c or before (c < CLASSES), or an end position. */
static ar__sizeidx_pos_t last_to_class(const ar__sizeidx_t *x, unsigned c) {
  c = prev_class(x, c);
  if (c < CLASSES)
    return (ar__sizeidx_pos_t){c, ar__bt_last(&x->classes[c])};
  return (ar__sizeidx_pos_t){LARGE, end_bt};
}

ar__sizeidx_pos_t ar__sizeidx_lower_bound(const ar__sizeidx_t *x,
                                          uint64_t size) {
  if (is_small(size)) {
    ar__sizeidx_pos_t p =
        first_from_class(x, size ? class_of((size + 15) & ~UINT64_C(15)) : 0);
    if (p.cls < CLASSES)
      return p;
    size = AR__SIZEIDX_SMALL_MAX + 1;
  }
  return (ar__sizeidx_pos_t){
      LARGE, ar__bt_lower_bound(&x->large, (ar__bt_key_t){size, 0})};
}

ar__sizeidx_pos_t ar__sizeidx_last(const ar__sizeidx_t *x) {
  if (x->large.count)
    return (ar__sizeidx_pos_t){LARGE, ar__bt_last(&x->large)};
  return last_to_class(x, CLASSES - 1);
}

ar__sizeidx_pos_t ar__sizeidx_next(const ar__sizeidx_t *x,
                                   ar__sizeidx_pos_t p) {
  ar__bt_pos_t q = ar__bt_next(p.pos);
  if (!ar__bt_end(q) || p.cls == LARGE)
    return (ar__sizeidx_pos_t){p.cls, q};
  return first_from_class(x, p.cls + 1);
}

ar__sizeidx_pos_t ar__sizeidx_prev(const ar__sizeidx_t *x,
                                   ar__sizeidx_pos_t p) {
  ar__bt_pos_t q = ar__bt_prev(p.pos);
  if (!ar__bt_end(q))
    return (ar__sizeidx_pos_t){p.cls, q};
  if (p.cls == 0)
    return (ar__sizeidx_pos_t){LARGE, end_bt};
  return last_to_class(x, p.cls - 1);
}

void ar__sizeidx_get(ar__sizeidx_pos_t p, uint64_t *start, uint64_t *size) {
  ar__bt_key_t k = ar__bt_get(p.pos);
  *start = p.cls == LARGE ? k.b : k.a;
  *size = p.cls == LARGE ? k.a : k.b;
}

const char *ar__sizeidx_verify(const ar__sizeidx_t *x, uint64_t *where) {
  uint64_t total = 0;
  ar__bt_key_t k;
  *where = 0;
  for (unsigned c = 0; c < CLASSES; c++) {
    const ar__bt_t *t = &x->classes[c];
    bool listed = (x->nonempty[c / 64] >> (c % 64)) & 1;
    size_t count = t->root ? t->count : 0;
    if (listed != (count > 0))
      return "class bitmap";
    if (!count)
      continue;
    const char *bad = ar__bt_verify(t, &k);
    if (bad) {
      *where = k.a;
      return bad;
    }
    for (ar__bt_pos_t p = ar__bt_first(t); !ar__bt_end(p); p = ar__bt_next(p))
      if (ar__bt_get(p).b != 16 * (uint64_t)(c + 1)) {
        *where = ar__bt_get(p).a;
        return "span in the wrong size class";
      }
    total += count;
  }
  const char *bad = ar__bt_verify(&x->large, &k);
  if (bad) {
    *where = k.b;
    return bad;
  }
  for (ar__bt_pos_t p = ar__bt_first(&x->large); !ar__bt_end(p);
       p = ar__bt_next(p))
    if (is_small(ar__bt_get(p).a)) {
      *where = ar__bt_get(p).b;
      return "small span in the large tree";
    }
  if (total + x->large.count != x->count)
    return "span count";
  return NULL;
}
