/*
 * engine_list.c: the four list policies (first, next, best and worst fit)
 * over one free-space index; they differ only in how they pick.
 *
 * The index holds every maximal free interval ("span") in an augmented
 * B+tree (btree.h):
 *  - by_addr, entries (start, size): the tree's augmentation finds the
 *    lowest-addressed span of at least b bytes at or after any position in
 *    one descent, which is first fit and next fit, and its order gives the
 *    neighbours that coalescing needs;
 *  - by_size (sizeidx.h), in (size, start) order, for best fit, and for
 *    worst fit from its first request that needs it: the smallest span of
 *    at least b bytes is a lower bound, the largest is the last entry.
 *    Worst fit answers a request whose alignment cannot turn the largest
 *    spans down from by_addr's augmentation alone, which is every request
 *    at alignment 16; only an aligned request that the largest spans may
 *    not hold needs the spans by size, and the first such request builds
 *    by_size from by_addr (kept from then on). A worst-fit arena that never
 *    sees one keeps one index, like first fit.
 * A split or a merge moves a span's bounds without moving it past a
 * neighbour in address order, so by_addr is updated in place; only spans
 * that appear or disappear insert or erase.
 *
 * The tail, the span that ends at the arena's end, is kept out of by_addr
 * (by_size has it like any span): it is always the last span in address
 * order, and in a heap that grows into it (next and worst fit always,
 * every policy while nothing fits lower) an allocation only moves its
 * start, without the tree's search, update and climb to the root. The
 * searches look at it after by_addr's spans, where address order puts it.
 * Every decision follows ../shared/design/placement-model.md, section "List
 * policies", including alignment above 16.
 */
#include <stdlib.h>

#include "ar/error.h"
#include "btree.h"
#include "engine_internal.h"
#include "sizeidx.h"

typedef struct span_s {
  uint64_t start;
  uint64_t size;
} span_t;

static span_t addr_span(ar__bt_pos_t pos) {
  ar__bt_key_t k = ar__bt_get(pos);
  return (span_t){k.a, k.b};
}

static span_t size_span(ar__sizeidx_pos_t pos) {
  span_t s;
  ar__sizeidx_get(pos, &s.start, &s.size);
  return s;
}

static ar__bt_key_t addr_key(span_t s) {
  return (ar__bt_key_t){s.start, s.size};
}

/* The tail, [tail, the arena's end): empty when there is none. */
static span_t tail_span(const ar_engine_t *e) {
  return (span_t){e->u.list->tail, e->size - e->u.list->tail};
}

/* Where a picked span is: the tail, or by_addr's position `pos`; neither
 * when nothing fits (pos at its end and not the tail). */
typedef struct where_s {
  bool tail;
  ar__bt_pos_t pos;
} where_t;

static const where_t nowhere = {false, {NULL, 0}};
static const where_t at_tail = {true, {NULL, 0}};

static bool found(where_t w) { return w.tail || !ar__bt_end(w.pos); }

static where_t in_tree(ar__bt_pos_t pos) { return (where_t){false, pos}; }

/* ---- keeping by_size in step with by_addr ---- */

/* No by_size position: the span is looked up when it is needed. */
static const ar__sizeidx_pos_t no_size_pos = {0, {NULL, 0}};

/* Replaces span `old` by span `new` in by_size (either may be NULL: an
 * insert or an erase), after a reserve for new's size. `at` is old's
 * by_size position when the caller has it (the pick found it), else
 * no_size_pos. */
static inline void size_update_at(ar__list_t *l, ar__sizeidx_pos_t at,
                                  const span_t *old, const span_t *new) {
  if (!l->sized)
    return;
  if (!old) {
    if (new)
      ar__sizeidx_insert(&l->by_size, new->start, new->size);
    return;
  }
  if (ar__sizeidx_end(at))
    at = ar__sizeidx_find(&l->by_size, old->start, old->size);
  if (new)
    ar__sizeidx_replace_at(&l->by_size, at, new->start, new->size);
  else
    ar__sizeidx_erase_at(&l->by_size, at);
}

static inline void size_update(ar__list_t *l, const span_t *old,
                               const span_t *new) {
  size_update_at(l, no_size_pos, old, new);
}

/* Sets aside what the coming changes may allocate: one by_addr insert when
 * `addr_insert`, and by_size inserts of spans of size_a and size_b bytes
 * (0: none). Returns 0 or AR_EINTERNAL. */
static int reserve(ar__list_t *l, bool addr_insert, uint64_t size_a,
                   uint64_t size_b) {
  if (addr_insert && ar__bt_reserve(&l->by_addr, 1) != 0)
    return AR_EINTERNAL;
  if (!l->sized)
    return 0;
  if (size_a && ar__sizeidx_reserve(&l->by_size, size_a) != 0)
    return AR_EINTERNAL;
  if (size_b && ar__sizeidx_reserve(&l->by_size, size_b) != 0)
    return AR_EINTERNAL;
  return 0;
}

/* ---- picking ---- */

/* Where the block for b bytes at payload alignment `align` would start in
 * span s: the lowest q >= start with q + AR_HDR a multiple of align. */
static uint64_t block_start(span_t s, uint64_t align) {
  uint64_t p = (s.start + AR_HDR + align - 1) & ~(align - 1);
  return p - AR_HDR;
}

static bool fits(span_t s, uint64_t b, uint64_t align) {
  return block_start(s, align) + b <= s.start + s.size;
}

/* The first span at or after `from`, starting below `stop`, that holds the
 * block. Spans of at least b bytes are the candidates; only an alignment
 * above 16 can turn one down. */
static ar__bt_pos_t address_fit(const ar__list_t *l, ar__bt_pos_t from,
                                uint64_t stop, uint64_t b, uint64_t align) {
  ar__bt_pos_t p = ar__bt_search_b(&l->by_addr, from, b);
  while (!ar__bt_end(p)) {
    span_t s = addr_span(p);
    if (s.start >= stop)
      break;
    if (fits(s, b, align))
      return p;
    p = ar__bt_search_b(&l->by_addr, ar__bt_next(p), b);
  }
  return (ar__bt_pos_t){NULL, 0};
}

/* The tail when it holds the block, else nowhere. */
static where_t tail_fit(const ar_engine_t *e, uint64_t b, uint64_t align) {
  span_t t = tail_span(e);
  return t.size && fits(t, b, align) ? at_tail : nowhere;
}

static where_t pick_first(const ar_engine_t *e, uint64_t b, uint64_t align) {
  const ar__list_t *l = e->u.list;
  ar__bt_pos_t p =
      address_fit(l, ar__bt_leftmost_b(&l->by_addr, b), UINT64_MAX, b, align);
  return ar__bt_end(p) ? tail_fit(e, b, align) : in_tree(p);
}

/* Next fit: first the spans that end after the rover, in address order,
 * then the ones before them. The tail comes after all of by_addr's spans,
 * in the first group unless the rover is at the arena's end. */
static where_t pick_next(ar_engine_t *e, uint64_t b, uint64_t align) {
  ar__list_t *l = e->u.list;
  bool tail_first_group = tail_span(e).size && l->rover < e->size;
  /* The rover in the tail: the tail is the first span to try, then all of
   * by_addr's, which end at or before it. */
  if (tail_first_group && l->rover >= l->tail) {
    where_t w = tail_fit(e, b, align);
    return w.tail ? w
                  : in_tree(address_fit(l, ar__bt_first(&l->by_addr),
                                        UINT64_MAX, b, align));
  }
  /* The span that holds the rover comes first. The last allocation left
   * the rover at the start of what remained of its span, and the finger
   * on that span's leaf: when that slot still holds the rover, no search
   * is needed. */
  ar__bt_pos_t from = ar__bt_finger_slot(&l->by_addr, l->rover_slot);
  span_t held = ar__bt_end(from) ? (span_t){0, 0} : addr_span(from);
  if (!(held.start <= l->rover && l->rover < held.start + held.size)) {
    from = ar__bt_seek(&l->by_addr, (ar__bt_key_t){l->rover + 1, 0});
    ar__bt_pos_t before =
        ar__bt_end(from) ? ar__bt_last(&l->by_addr) : ar__bt_prev(from);
    if (!ar__bt_end(before)) {
      span_t s = addr_span(before);
      if (s.start + s.size > l->rover)
        from = before;
    }
  }
  ar__bt_pos_t p = address_fit(l, from, UINT64_MAX, b, align);
  if (!ar__bt_end(p))
    return in_tree(p);
  if (tail_first_group && tail_fit(e, b, align).tail)
    return at_tail;
  uint64_t stop = ar__bt_end(from) ? UINT64_MAX : addr_span(from).start;
  p = address_fit(l, ar__bt_first(&l->by_addr), stop, b, align);
  if (!ar__bt_end(p))
    return in_tree(p);
  return tail_first_group ? nowhere : tail_fit(e, b, align);
}

/* by_addr's position of the span that by_size has at `pos`; *at gets pos,
 * so that the take need not look the span up in by_size again. */
static where_t addr_pos_of(ar__list_t *l, ar__sizeidx_pos_t pos,
                           ar__sizeidx_pos_t *at) {
  *at = pos;
  if (ar__sizeidx_end(pos))
    return nowhere;
  uint64_t start = size_span(pos).start;
  if (start == l->tail)
    return at_tail;
  return in_tree(ar__bt_seek(&l->by_addr, (ar__bt_key_t){start, 0}));
}

/* Best fit: the smallest span that fits, the lowest start on a tie. */
static where_t pick_best(ar__list_t *l, uint64_t b, uint64_t align,
                         ar__sizeidx_pos_t *at) {
  ar__sizeidx_pos_t p = ar__sizeidx_lower_bound(&l->by_size, b);
  while (!ar__sizeidx_end(p) && !fits(size_span(p), b, align))
    p = ar__sizeidx_next(&l->by_size, p);
  return addr_pos_of(l, p, at);
}

/* The size of the largest span: by_addr's largest or the tail. */
static uint64_t largest_span(const ar_engine_t *e) {
  uint64_t in_tree = ar__bt_max_b(&e->u.list->by_addr);
  uint64_t tail = tail_span(e).size;
  return in_tree > tail ? in_tree : tail;
}

/* Whether worst fit can answer without by_size, given the size of the
 * largest span (largest_span): the largest spans are sure to hold the
 * block whatever their alignment, or none holds b bytes. Always so at
 * alignment 16. */
static bool worst_by_addr(uint64_t largest, uint64_t b, uint64_t align) {
  return largest >= b + align - AR_GRAIN || largest < b;
}

/* Builds by_size from by_addr, for worst fit's first request that needs
 * it. Returns 0, or AR_EINTERNAL with by_size not kept (and its memory
 * given back). */
static int build_by_size(ar_engine_t *e) {
  ar__list_t *l = e->u.list;
  if (ar__sizeidx_init(&l->by_size, &e->mem) != 0)
    return AR_EINTERNAL;
  ar__bt_pos_t p = ar__bt_first(&l->by_addr);
  for (;;) {
    /* by_addr's spans, then the tail */
    span_t s = ar__bt_end(p) ? tail_span(e) : addr_span(p);
    if (s.size == 0)
      break;
    if (ar__sizeidx_reserve(&l->by_size, s.size) != 0) {
      ar__sizeidx_fini(&l->by_size);
      return AR_EINTERNAL;
    }
    ar__sizeidx_insert(&l->by_size, s.start, s.size);
    if (ar__bt_end(p))
      break;
    p = ar__bt_next(p);
  }
  l->sized = true;
  return 0;
}

/* Worst fit: the largest span that fits, the lowest start on a tie. Sizes
 * are visited from the largest down, each size's spans by address (by_size
 * is kept whenever worst_by_addr is false). */
static where_t pick_worst(ar_engine_t *e, uint64_t b, uint64_t align,
                          ar__sizeidx_pos_t *at) {
  ar__list_t *l = e->u.list;
  /* When the largest spans are sure to fit, whatever their alignment, the
   * answer is the lowest-addressed of them: one descent of by_addr, or the
   * tail, which comes after all of by_addr's. */
  uint64_t largest = largest_span(e);
  if (worst_by_addr(largest, b, align)) {
    if (largest < b)
      return nowhere;
    if (ar__bt_max_b(&l->by_addr) == largest)
      return in_tree(ar__bt_leftmost_b(&l->by_addr, largest));
    return at_tail;
  }
  ar__sizeidx_pos_t last = ar__sizeidx_last(&l->by_size);
  while (!ar__sizeidx_end(last) && size_span(last).size >= b) {
    uint64_t size = size_span(last).size;
    ar__sizeidx_pos_t group = ar__sizeidx_lower_bound(&l->by_size, size);
    for (ar__sizeidx_pos_t p = group;
         !ar__sizeidx_end(p) && size_span(p).size == size;
         p = ar__sizeidx_next(&l->by_size, p))
      if (fits(size_span(p), b, align))
        return addr_pos_of(l, p, at);
    last = ar__sizeidx_prev(&l->by_size, group);
  }
  return nowhere;
}

/* The span for the block; *at gets its by_size position when it was picked
 * from by_size, else an end position. */
static where_t pick(ar_engine_t *e, uint64_t b, uint64_t align,
                    ar__sizeidx_pos_t *at) {
  ar__list_t *l = e->u.list;
  *at = no_size_pos;
  switch (e->policy) {
  case AR_POLICY_FIRST:
    return pick_first(e, b, align);
  case AR_POLICY_NEXT:
    return pick_next(e, b, align);
  case AR_POLICY_BEST:
    return pick_best(l, b, align, at);
  default:
    return pick_worst(e, b, align, at);
  }
}

/* Takes the block [q, q + b) from the tail, whose by_size position is
 * `at` when the pick found it there. The front gap, if any, becomes a span
 * of by_addr; the rest stays the tail. */
static int take_tail(ar_engine_t *e, ar__sizeidx_pos_t at, uint64_t q,
                     uint64_t b) {
  ar__list_t *l = e->u.list;
  span_t t = tail_span(e);
  span_t gap = {t.start, q - t.start};
  span_t rest = {q + b, e->size - (q + b)};
  if (reserve(l, gap.size != 0, gap.size, rest.size) != 0)
    return AR_EINTERNAL;
  size_update_at(l, at, &t, rest.size ? &rest : NULL);
  if (gap.size) {
    ar__bt_insert(&l->by_addr, addr_key(gap));
    size_update(l, NULL, &gap);
  }
  l->tail = rest.start;
  return 0;
}

/* Takes the block [q, q + b) from by_addr's span at pos (by_size position
 * `at`, or an end position). */
static int take_span(ar__list_t *l, ar__bt_pos_t pos, ar__sizeidx_pos_t at,
                     uint64_t q, uint64_t b, bool next) {
  span_t s = addr_span(pos);
  uint64_t end = s.start + s.size;
  span_t gap = {s.start, q - s.start};  /* stays free, however small */
  span_t tail = {q + b, end - (q + b)}; /* stays free, however small */
  if (reserve(l, gap.size && tail.size, gap.size, tail.size) != 0)
    return AR_EINTERNAL;
  if (gap.size) {
    ar__bt_set(&l->by_addr, pos, addr_key(gap));
    size_update_at(l, at, &s, &gap);
    if (tail.size) {
      ar__bt_insert(&l->by_addr, addr_key(tail));
      size_update(l, NULL, &tail);
    }
  } else if (tail.size) {
    ar__bt_set(&l->by_addr, pos, addr_key(tail));
    size_update_at(l, at, &s, &tail);
  } else {
    ar__bt_erase(&l->by_addr, pos);
    size_update_at(l, at, &s, NULL);
  }
  if (next && tail.size && !gap.size) { /* the rest, at pos, holds the rover */
    ar__bt_point(&l->by_addr, pos);
    l->rover_slot = pos.i;
  }
  return 0;
}

/* Inline, with the external definition that engine_internal.h's
 * declaration makes of it, as buddy's take and give: the link-time
 * optimiser may put it into ar_engine_alloc (and ar__list_give into
 * ar_engine_free). */
inline int ar__list_take(ar_engine_t *e, uint64_t n, uint64_t align,
                         ar_block_t *blk) {
  ar__list_t *l = e->u.list;
  uint64_t b = ar__block_bytes(n);
  if (b > e->size)
    return AR_ENOMEM;
  if (e->policy == AR_POLICY_WORST && !l->sized &&
      !worst_by_addr(largest_span(e), b, align) && build_by_size(e) != 0)
    return AR_EINTERNAL;
  ar__sizeidx_pos_t at;
  where_t w = pick(e, b, align, &at);
  if (!found(w))
    return AR_ENOMEM;
  span_t s = w.tail ? tail_span(e) : addr_span(w.pos);
  uint64_t q = block_start(s, align);
  int rc = w.tail ? take_tail(e, at, q, b)
                  : take_span(l, w.pos, at, q, b, e->policy == AR_POLICY_NEXT);
  if (rc != 0)
    return rc;
  if (e->policy == AR_POLICY_NEXT)
    l->rover = q + b;
  blk->start = q;
  blk->size = b;
  blk->payload = q + AR_HDR;
  return 0;
}

/* Frees [start, end) into the tail, which starts at `end` (or is empty,
 * with end the arena's end): the tail grows down over the block, and over
 * by_addr's last span when that ends at start. */
static int give_to_tail(ar_engine_t *e, uint64_t start) {
  ar__list_t *l = e->u.list;
  ar__bt_pos_t lp = ar__bt_last(&l->by_addr);
  span_t ls = ar__bt_end(lp) ? (span_t){0, 0} : addr_span(lp);
  bool left = !ar__bt_end(lp) && ls.start + ls.size == start;
  span_t old = tail_span(e);
  span_t merged = {left ? ls.start : start,
                   e->size - (left ? ls.start : start)};
  if (reserve(l, false, merged.size, 0) != 0)
    return AR_EINTERNAL;
  if (left) {
    ar__bt_erase(&l->by_addr, lp);
    size_update(l, &ls, NULL);
  }
  size_update(l, old.size ? &old : NULL, &merged);
  l->tail = merged.start;
  return 0;
}

inline int ar__list_give(ar_engine_t *e, uint64_t start, uint64_t size) {
  ar__list_t *l = e->u.list;
  if (start + size == l->tail)
    return give_to_tail(e, start);
  ar__bt_pos_t rp = ar__bt_seek(&l->by_addr, (ar__bt_key_t){start, 0});
  ar__bt_pos_t lp = ar__bt_end(rp) ? ar__bt_last(&l->by_addr) : ar__bt_prev(rp);
  bool left = !ar__bt_end(lp), right = !ar__bt_end(rp);
  span_t ls = left ? addr_span(lp) : (span_t){0, 0};
  span_t rs = right ? addr_span(rp) : (span_t){0, 0};
  left = left && ls.start + ls.size == start;
  right = right && rs.start == start + size;
  uint64_t merged_size = size + (left ? ls.size : 0) + (right ? rs.size : 0);
  if (reserve(l, !left && !right, merged_size, 0) != 0)
    return AR_EINTERNAL;
  if (left && right) {
    span_t merged = {ls.start, ls.size + size + rs.size};
    ar__bt_set(&l->by_addr, lp, addr_key(merged));
    ar__bt_erase(&l->by_addr, rp);
    size_update(l, &rs, NULL);
    size_update(l, &ls, &merged);
  } else if (left) {
    span_t merged = {ls.start, ls.size + size};
    ar__bt_set(&l->by_addr, lp, addr_key(merged));
    size_update(l, &ls, &merged);
  } else if (right) {
    span_t merged = {start, size + rs.size};
    ar__bt_set(&l->by_addr, rp, addr_key(merged));
    size_update(l, &rs, &merged);
  } else {
    span_t fresh = {start, size};
    ar__bt_insert_before(&l->by_addr, rp, addr_key(fresh));
    size_update(l, NULL, &fresh);
  }
  return 0;
}

static bool list_free_from(const ar_engine_t *e, uint64_t from, uint64_t *start,
                           uint64_t *size) {
  const ar__list_t *l = e->u.list;
  ar__bt_pos_t p = ar__bt_lower_bound(&l->by_addr, (ar__bt_key_t){from, 0});
  span_t s = ar__bt_end(p) ? tail_span(e) : addr_span(p);
  if (s.size == 0 || s.start < from)
    return false;
  *start = s.start;
  *size = s.size;
  return true;
}

/* Turns of the search for the end of a block that holds a walk's cursor
 * (list_extent_at_or_after): at most three lookups of the block map each,
 * some 50,000 in all (1-3 ms with a million blocks and more), before the
 * walk gives an empty page, to go on from where the search got. */
#define WALK_SEARCH_TURNS 16384

static uint64_t list_extent_at_or_after(const ar_engine_t *e, uint64_t cursor,
                                        bool *exact) {
  const ar__list_t *l = e->u.list;
  const ar__bt_t *t = &l->by_addr;
  *exact = true;
  ar__bt_pos_t after = ar__bt_lower_bound(t, (ar__bt_key_t){cursor + 1, 0});
  ar__bt_pos_t pos = ar__bt_end(after) ? ar__bt_last(t) : ar__bt_prev(after);
  span_t s = ar__bt_end(pos) ? (span_t){0, 0} : addr_span(pos);
  if (l->tail <= cursor) /* cursor < the arena's size: in the tail */
    s = tail_span(e);
  if (cursor < s.start + s.size)
    return s.start == cursor ? cursor : s.start + s.size;
  ar_block_t blk;
  if (ar__block_at(e, cursor, &blk))
    return cursor;
  /* The cursor fell inside a block (the arena changed since it was
   * handed out); that block's end is the answer. No index leads to it, so
   * three searches take turns, and the cost is the smallest of theirs:
   *  - the blocks walked forward from the free span before the cursor;
   *  - the grains looked at backward from the cursor for the block's
   *    start (the first block found that way holds the cursor, which is no
   *    piece's start);
   *  - the grains looked at forward from the cursor for the next piece's
   *    start: the block's end, at the latest the next free span's start.
   * A block of millions of grains after millions of blocks would still
   * hold the daemon's loop for seconds, so the turns are bounded; past
   * them, no piece starts before the third search's grain, where the walk
   * goes on. */
  uint64_t run = s.start + s.size; /* the run of blocks begins here */
  uint64_t fwd = run;
  uint64_t grain = cursor & ~(uint64_t)(AR_GRAIN - 1);
  uint64_t back = grain + AR_GRAIN; /* the first looked at: the cursor's */
  uint64_t up = grain + AR_GRAIN;   /* the first looked at: the next one */
  uint64_t next_free = !ar__bt_end(after) ? addr_span(after).start
                       : tail_span(e).size && l->tail > cursor ? l->tail
                                                               : e->size;
  for (unsigned turn = 0; turn < WALK_SEARCH_TURNS; turn++) {
    if (!ar__block_at(e, fwd, &blk))
      return e->size; /* a broken tiling; ar_engine_check reports it */
    fwd += blk.size;
    if (fwd > cursor)
      return fwd;
    if (back > run) {
      back -= AR_GRAIN;
      if (ar__block_at(e, back, &blk) && back + blk.size > cursor)
        return back + blk.size;
    }
    if (up >= next_free || ar__block_at(e, up, &blk))
      return up < next_free ? up : next_free;
    up += AR_GRAIN;
  }
  *exact = false;
  return up;
}

static void list_stats(const ar_engine_t *e, ar_engine_stats_t *out) {
  const ar__list_t *l = e->u.list;
  out->free_extents = l->by_addr.count + (tail_span(e).size != 0);
  out->largest_free = largest_span(e);
  out->rover = l->rover;
}

static int check_tree(const ar__bt_t *t, const char *invariant,
                      ar_check_report_t *report) {
  ar__bt_key_t where;
  const char *bad = ar__bt_verify(t, &where);
  if (!bad)
    return 0;
  return ar_check_fail(
      report, invariant, where.a, "%s: %s near the entry (%llu, %llu)",
      invariant, bad, (unsigned long long)where.a, (unsigned long long)where.b);
}

/* One span of the walk in address order: within the arena and the grain,
 * after the one before (*prev_end, 0 before the first) and not touching
 * it. */
static int check_span(const ar_engine_t *e, span_t s, uint64_t *prev_end,
                      bool first, ar_check_report_t *report) {
  /* The end compared without adding: a corrupted size may wrap it. */
  if (s.size == 0 || s.start % AR_GRAIN || s.size % AR_GRAIN ||
      s.start > e->size || s.size > e->size - s.start)
    return ar_check_fail(report, "free interval bounds", s.start,
                         "free interval [%llu, +%llu) is empty, off the "
                         "grain or past the arena",
                         (unsigned long long)s.start,
                         (unsigned long long)s.size);
  if (!first && s.start < *prev_end)
    return ar_check_fail(report, "free intervals disjoint", s.start,
                         "free interval at %llu starts before the "
                         "previous one ends at %llu",
                         (unsigned long long)s.start,
                         (unsigned long long)*prev_end);
  if (!first && s.start == *prev_end)
    return ar_check_fail(report, "free intervals coalesced", s.start,
                         "free interval at %llu touches the previous one",
                         (unsigned long long)s.start);
  *prev_end = s.start + s.size;
  return 0;
}

static int list_check(const ar_engine_t *e, ar_check_report_t *report,
                      uint64_t *extents) {
  const ar__list_t *l = e->u.list;
  int rc = check_tree(&l->by_addr, "address index", report);
  if (rc != 0)
    return rc;
  if (l->tail > e->size)
    return ar_check_fail(
        report, "tail", l->tail, "the tail starts at %llu of an arena of %llu",
        (unsigned long long)l->tail, (unsigned long long)e->size);
  uint64_t prev_end = 0;
  bool first = true;
  for (ar__bt_pos_t p = ar__bt_first(&l->by_addr); !ar__bt_end(p);
       p = ar__bt_next(p), first = false)
    if ((rc = check_span(e, addr_span(p), &prev_end, first, report)) != 0)
      return rc;
  if (!first && prev_end == e->size)
    return ar_check_fail(report, "tail", l->tail,
                         "the free interval that ends the arena is in the "
                         "address index, not the tail");
  span_t tail = tail_span(e);
  bool has_tail = tail.size != 0;
  if (has_tail && (rc = check_span(e, tail, &prev_end, first, report)) != 0)
    return rc;
  if (l->rover > e->size)
    return ar_check_fail(report, "rover", l->rover,
                         "the next-fit rover %llu is past the arena",
                         (unsigned long long)l->rover);
  *extents = l->by_addr.count + has_tail;
  if (!l->sized)
    return 0;
  uint64_t where;
  const char *bad = ar__sizeidx_verify(&l->by_size, &where);
  if (bad)
    return ar_check_fail(report, "size index", where,
                         "size index: %s near the span at %llu", bad,
                         (unsigned long long)where);
  if (l->by_size.count != *extents)
    return ar_check_fail(report, "size index", 0,
                         "size index holds %llu spans, the free space %llu",
                         (unsigned long long)l->by_size.count,
                         (unsigned long long)*extents);
  /* Same count, and every by_size span is in by_addr or the tail: the
   * same set. */
  for (ar__sizeidx_pos_t p = ar__sizeidx_lower_bound(&l->by_size, 0);
       !ar__sizeidx_end(p); p = ar__sizeidx_next(&l->by_size, p)) {
    span_t s = size_span(p);
    ar__bt_pos_t a =
        ar__bt_lower_bound(&l->by_addr, (ar__bt_key_t){s.start, 0});
    span_t in_addr = ar__bt_end(a) ? (span_t){0, 0} : addr_span(a);
    bool is_tail = has_tail && s.start == tail.start && s.size == tail.size;
    if (!is_tail && (in_addr.start != s.start || in_addr.size != s.size))
      return ar_check_fail(report, "size index", s.start,
                           "the span [%llu, +%llu) is in the size index "
                           "only",
                           (unsigned long long)s.start,
                           (unsigned long long)s.size);
  }
  return 0;
}

static void list_fini(ar_engine_t *e) {
  ar__list_t *l = e->u.list;
  ar__bt_fini(&l->by_addr);
  ar__sizeidx_fini(&l->by_size);
  ar__mem_free(&e->mem, l, sizeof(*l));
}

static int list_init(ar_engine_t *e) {
  ar__list_t *l = ar__mem_calloc(&e->mem, 1, sizeof(*l));
  if (!l)
    return AR_EINTERNAL;
  e->u.list = l;
  l->sized = e->policy == AR_POLICY_BEST;
  span_t all = {0, e->size}; /* the tail */
  l->tail = 0;
  if (ar__bt_init(&l->by_addr, &e->mem) != 0 ||
      (l->sized && ar__sizeidx_init(&l->by_size, &e->mem) != 0) ||
      reserve(l, true, all.size, 0) != 0) {
    list_fini(e);
    return AR_EINTERNAL;
  }
  size_update(l, NULL, &all);
  return 0;
}

const ar__engine_ops_t ar__list_ops = {
    .init = list_init,
    .fini = list_fini,
    .free_from = list_free_from,
    .extent_at_or_after = list_extent_at_or_after,
    .stats = list_stats,
    .check = list_check,
};
