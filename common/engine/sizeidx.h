/*
 * sizeidx.h: the size-ordered index of free spans that best and worst fit
 * pick from (internal to the list engines).
 *
 * It orders spans by (size, start). Small sizes, which most programs ask
 * for, each get an exact class: one small B+tree per size, ordered by
 * start, and a bitmap of the classes that hold a span, so "the smallest
 * span of at least b bytes" is a bit scan and the first entry of one short
 * tree. Larger sizes share one B+tree keyed by (size, start). A split moves
 * a span from one class to another, which costs two updates of short trees
 * instead of two of one long tree.
 *
 * All the trees share one pool of spare nodes (btree.h): each keeps the
 * few its next reserve needs, and what the others give back serves a
 * class that fills up, so churn through many classes reuses nodes instead
 * of leaving up to a tree's fixed keep in every class ever used.
 */
#ifndef AR_SIZEIDX_H
#define AR_SIZEIDX_H

#include <stdbool.h>
#include <stdint.h>

#include "btree.h"

#define AR__SIZEIDX_CLASSES 256 /* exact classes: 16, 32, ... 4096 bytes */
#define AR__SIZEIDX_SMALL_MAX (AR__SIZEIDX_CLASSES * 16)
#define AR__SIZEIDX_POOL 128 /* spare nodes the trees' pool keeps at most */

typedef struct ar__sizeidx_s {
  ar__bt_t *classes;                            /* owned; [c]: size 16(c+1) */
  uint64_t nonempty[AR__SIZEIDX_CLASSES / 64];  /* bit c: classes[c] holds */
  ar__bt_t large;                               /* (size, start) above that */
  ar__bt_pool_t pool; /* the trees' shared spares; owned; trees point here */
  uint64_t count;
  ar__mem_t *mem;                               /* the engine's; not owned */
} ar__sizeidx_t;

/* A place in (size, start) order: class `cls`, or the large tree when
 * cls == AR__SIZEIDX_CLASSES; an end position has pos at its end. */
typedef struct ar__sizeidx_pos_s {
  unsigned cls;
  ar__bt_pos_t pos;
} ar__sizeidx_pos_t;

/* Returns 0, or AR_EINTERNAL when memory runs out. Memory is counted in
 * *mem, which must outlive the index. The index must not move while in
 * use (its trees point to its pool). */
int ar__sizeidx_init(ar__sizeidx_t *x, ar__mem_t *mem);
void ar__sizeidx_fini(ar__sizeidx_t *x);

/* Sets aside what two inserts of spans of `size` bytes into the same tree
 * need (a list engine's take may add two spans, a front gap and the rest,
 * after one reserve for each size: of one size, both go into one tree).
 * Returns 0 or AR_EINTERNAL, the index unchanged. */
int ar__sizeidx_reserve(ar__sizeidx_t *x, uint64_t size);

/* Adds the span [start, start + size) (after a reserve for its size). */
void ar__sizeidx_insert(ar__sizeidx_t *x, uint64_t start, uint64_t size);

/* The position of the span [start, start + size), which must be there. */
ar__sizeidx_pos_t ar__sizeidx_find(ar__sizeidx_t *x, uint64_t start,
                                   uint64_t size);

/* The span at p (a position from a lookup or ar__sizeidx_find, with no
 * insert or erase since) is removed, or replaced by [to_start, to_start +
 * to_size): in place when the new span sorts where the old one was (a
 * reserve for to_size first). */
void ar__sizeidx_erase_at(ar__sizeidx_t *x, ar__sizeidx_pos_t p);
void ar__sizeidx_replace_at(ar__sizeidx_t *x, ar__sizeidx_pos_t p,
                            uint64_t to_start, uint64_t to_size);

/* The first span of at least `size` bytes (the lowest start among the
 * smallest), or an end position. */
ar__sizeidx_pos_t ar__sizeidx_lower_bound(const ar__sizeidx_t *x,
                                          uint64_t size);
ar__sizeidx_pos_t ar__sizeidx_last(const ar__sizeidx_t *x);
ar__sizeidx_pos_t ar__sizeidx_next(const ar__sizeidx_t *x,
                                   ar__sizeidx_pos_t p);
ar__sizeidx_pos_t ar__sizeidx_prev(const ar__sizeidx_t *x,
                                   ar__sizeidx_pos_t p);

static inline bool ar__sizeidx_end(ar__sizeidx_pos_t p) {
  return ar__bt_end(p.pos);
}

/* The span at p: its start and size. */
void ar__sizeidx_get(ar__sizeidx_pos_t p, uint64_t *start, uint64_t *size);

/* Checks every tree, the class of every span and the bitmap. Returns NULL
 * or a static description, with the start of the offending span. */
const char *ar__sizeidx_verify(const ar__sizeidx_t *x, uint64_t *where);

#endif /* AR_SIZEIDX_H */
