/*
 * harness.c: the subjects (engine or reference) and the domain asserts of
 * the hand-worked engine tests, see harness.h. The engine's self-check
 * (engine_verify_) lives here too, because every engine test wants it after
 * every operation: it is the net that catches an engine whose walk, stats
 * or index drift from its own free set, even where a scenario does not look.
 */
#include "harness.h"

#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct subject_s {
  impl_t impl;
  ar_policy_t policy;
  uint64_t size;
  ar_engine_t *engine;
  ar_ref_t *ref;
};

/* A growable array of walk pieces or spans, owned by the caller. */
typedef struct pieces_s {
  ar_extent_t *v;
  size_t n, cap;
} pieces_t;

static const char *impl_name(impl_t impl) {
  return impl == IMPL_ENGINE ? "engine" : "reference";
}

static void push_piece(pieces_t *p, const ar_extent_t *x) {
  if (p->n == p->cap) {
    p->cap = p->cap ? p->cap * 2 : 64;
    p->v = realloc(p->v, p->cap * sizeof(p->v[0]));
    if (!p->v)
      abort();
  }
  p->v[p->n++] = *x;
}

void assert_ar_rc_(int rc, int want, const char *file, int line) {
  if (rc == want)
    return;
  print_error("got %s (%d), want %s (%d)\n", ar_err_name(rc), rc,
              ar_err_name(want), want);
  _fail(file, line);
}

/* ---- the engine's self-check ------------------------------------------ */

/* Walks the whole arena (or its free list) in pages of `page` pieces,
 * checking the paging contract on the way. */
static pieces_t walk_all(const ar_engine_t *e, bool free_only, size_t page,
                         const char *file, int line) {
  pieces_t p = {0};
  ar_extent_t buf[16];
  uint64_t size = ar_engine_size(e);
  uint64_t cursor = 0;
  assert_true(page <= 16);
  for (unsigned guard = 0;; guard++) {
    size_t count = 99;
    uint64_t next = 0;
    int rc = ar_engine_walk(e, free_only, cursor, buf, page, &count, &next);
    if (rc != AR_OK || count > page || guard > 1000000) {
      print_error("walk(free_only=%d, cursor=%" PRIu64 ", max=%zu): rc %s, "
                  "count %zu\n",
                  free_only, cursor, page, ar_err_name(rc), count);
      _fail(file, line);
    }
    for (size_t i = 0; i < count; i++) {
      if (buf[i].start < cursor || (p.n && buf[i].start <= p.v[p.n - 1].start)) {
        print_error("walk(cursor=%" PRIu64 ") returned a piece at %" PRIu64
                    " out of order\n",
                    cursor, buf[i].start);
        _fail(file, line);
      }
      push_piece(&p, &buf[i]);
    }
    if (next >= size) {
      if (next != size) {
        print_error("walk: next %" PRIu64 " beyond the arena (%" PRIu64 ")\n",
                    next, size);
        _fail(file, line);
      }
      return p;
    }
    if (count == 0 || next <= cursor || next <= buf[count - 1].start) {
      print_error("walk(cursor=%" PRIu64 "): no progress (count %zu, next "
                  "%" PRIu64 ")\n",
                  cursor, count, next);
      _fail(file, line);
    }
    cursor = next;
  }
}

static bool is_pow2(uint64_t x) { return x && (x & (x - 1)) == 0; }

#define VERIFY(cond, ...)                                                      \
  do {                                                                         \
    if (!(cond)) {                                                             \
      print_error("engine self-check: " __VA_ARGS__);                          \
      print_error("\n");                                                       \
      _fail(file, line);                                                       \
    }                                                                          \
  } while (0)

/* One allocated piece of the full walk: the block find() reports. */
static void verify_block(const ar_engine_t *e, const ar_extent_t *x,
                         const char *file, int line) {
  bool buddy = ar_engine_policy(e) == AR_POLICY_BUDDY;
  uint64_t a = x->payload - x->start; /* buddy: the payload alignment */
  VERIFY(x->n >= 1 && x->payload % 16 == 0 && x->payload >= x->start + 16 &&
             x->payload - x->start <= x->size &&
             x->n <= x->size - (x->payload - x->start),
         "block [%" PRIu64 ", +%" PRIu64 ") payload %" PRIu64 " n %" PRIu64
         " is malformed",
         x->start, x->size, x->payload, x->n);
  if (buddy)
    VERIFY(is_pow2(a) && a <= 4096 && x->payload % a == 0,
           "buddy payload %" PRIu64 " is not at start + A", x->payload);
  else
    VERIFY(a == 16, "list payload %" PRIu64 " is not at start + 16",
           x->payload);
  ar_block_t b;
  int rc = ar_engine_find(e, x->payload, &b);
  VERIFY(rc == AR_OK && b.payload == x->payload && b.start == x->start &&
             b.size == x->size && b.n == x->n,
         "find(%" PRIu64 ") disagrees with the walk (rc %s)", x->payload,
         ar_err_name(rc));
}

void engine_verify_(const ar_engine_t *e, const char *file, int line) {
  ar_check_report_t rep;
  memset(&rep, 0, sizeof(rep));
  int rc = ar_engine_check(e, &rep);
  VERIFY(rc == AR_OK, "ar_engine_check: %s: %s at %" PRIu64 ": %s",
         ar_err_name(rc), rep.invariant ? rep.invariant : "?", rep.offset,
         rep.detail);

  uint64_t size = ar_engine_size(e);
  bool buddy = ar_engine_policy(e) == AR_POLICY_BUDDY;
  pieces_t all = walk_all(e, false, 7, file, line);
  pieces_t fr = walk_all(e, true, 5, file, line);
  uint64_t end = 0, free_bytes = 0, largest = 0, live = 0, requested = 0;
  uint64_t by_order[AR_ORDER_MAX + 1] = {0};
  size_t n_free = 0;
  for (size_t i = 0; i < all.n; i++) {
    const ar_extent_t *x = &all.v[i];
    VERIFY(x->start == end && x->size > 0 && x->size <= size - x->start &&
               x->start % 16 == 0 && x->size % 16 == 0,
           "walk piece %zu [%" PRIu64 ", +%" PRIu64 ") does not tile the "
           "arena (expected start %" PRIu64 ")",
           i, x->start, x->size, end);
    end = x->start + x->size;
    if (!x->free) {
      verify_block(e, x, file, line);
      live++;
      requested += x->n;
      continue;
    }
    free_bytes += x->size;
    if (x->size > largest)
      largest = x->size;
    VERIFY(n_free < fr.n && fr.v[n_free].start == x->start &&
               fr.v[n_free].size == x->size && fr.v[n_free].free,
           "free-only walk differs from the full walk at %" PRIu64, x->start);
    n_free++;
    if (!buddy) {
      VERIFY(i == 0 || !all.v[i - 1].free,
             "free intervals at %" PRIu64 " and %" PRIu64 " not coalesced",
             all.v[i - 1].start, x->start);
      continue;
    }
    unsigned k = 0;
    while ((UINT64_C(1) << k) < x->size)
      k++;
    VERIFY(is_pow2(x->size) && x->size >= 32 && x->start % x->size == 0,
           "free buddy block [%" PRIu64 ", +%" PRIu64 ") is not a block",
           x->start, x->size);
    by_order[k]++;
    bool lower = (x->start & x->size) == 0;
    VERIFY(!(lower && x->size < size && i + 1 < all.n && all.v[i + 1].free &&
             all.v[i + 1].size == x->size),
           "free buddies at %" PRIu64 " and %" PRIu64 " not merged", x->start,
           x->start + x->size);
  }
  VERIFY(end == size, "walk ends at %" PRIu64 ", not %" PRIu64, end, size);
  VERIFY(n_free == fr.n, "free-only walk has %zu pieces, full walk %zu free",
         fr.n, n_free);

  ar_engine_stats_t st;
  ar_engine_stats(e, &st);
  VERIFY(st.size == size && st.free_bytes == free_bytes &&
             st.used_bytes == size - free_bytes && st.free_extents == n_free &&
             st.largest_free == largest && st.live_blocks == live &&
             st.live_requested == requested &&
             st.overhead_bytes == st.used_bytes - requested,
         "stats disagree with the walk: free %" PRIu64 "/%" PRIu64
         " extents %" PRIu64 "/%zu largest %" PRIu64 "/%" PRIu64
         " live %" PRIu64 "/%" PRIu64 " requested %" PRIu64 "/%" PRIu64,
         st.free_bytes, free_bytes, st.free_extents, n_free, st.largest_free,
         largest, st.live_blocks, live, st.live_requested, requested);
  double frag = free_bytes ? 1.0 - (double)largest / (double)free_bytes : 0.0;
  VERIFY(fabs(st.external_frag - frag) < 1e-9,
         "external_frag %.12f, expected %.12f", st.external_frag, frag);
  VERIFY(st.peak_used >= st.used_bytes &&
             st.peak_requested >= st.live_requested && st.hwm <= size &&
             st.peak_meta_bytes >= st.meta_bytes && st.meta_bytes > 0,
         "peaks below the current values or hwm beyond the arena");
  for (unsigned k = 0; k <= AR_ORDER_MAX; k++)
    VERIFY(st.free_by_order[k] == by_order[k],
           "free_by_order[%u] = %" PRIu64 ", walk says %" PRIu64, k,
           st.free_by_order[k], by_order[k]);
  free(all.v);
  free(fr.v);
}

size_t engine_free_set(const ar_engine_t *e, ar_ref_span_t *out, size_t max) {
  pieces_t fr = walk_all(e, true, 5, __FILE__, __LINE__);
  for (size_t i = 0; i < fr.n && i < max; i++)
    out[i] = (ar_ref_span_t){fr.v[i].start, fr.v[i].start + fr.v[i].size};
  size_t n = fr.n;
  free(fr.v);
  return n;
}

/* ---- subjects ---------------------------------------------------------- */

subject_t *subject_open_mem(const void *kind, uint64_t size, void *base) {
  const subject_kind_t *k = kind;
  subject_t *s = calloc(1, sizeof(*s));
  assert_non_null(s);
  s->impl = k->impl;
  s->policy = k->policy;
  s->size = size;
  if (s->impl == IMPL_ENGINE) {
    assert_ar_ok(ar_engine_create(k->policy, size, base, &s->engine));
    engine_verify(s->engine);
  } else {
    assert_ar_ok(ar_ref_create(k->policy, size, &s->ref));
  }
  return s;
}

subject_t *subject_open(const void *kind, uint64_t size) {
  return subject_open_mem(kind, size, NULL);
}

void subject_close(subject_t *s) {
  if (!s)
    return;
  ar_engine_destroy(s->engine);
  ar_ref_destroy(s->ref);
  free(s);
}

ar_engine_t *subject_engine(const subject_t *s) { return s->engine; }

int subject_try_create(impl_t impl, ar_policy_t policy, uint64_t size) {
  int rc;
  if (impl == IMPL_ENGINE) {
    ar_engine_t *e = NULL;
    rc = ar_engine_create(policy, size, NULL, &e);
    ar_engine_destroy(rc == AR_OK ? e : NULL);
  } else {
    ar_ref_t *r = NULL;
    rc = ar_ref_create(policy, size, &r);
    ar_ref_destroy(rc == AR_OK ? r : NULL);
  }
  return rc;
}

int subject_alloc(subject_t *s, uint64_t n, uint64_t align, ar_block_t *out) {
  if (s->impl == IMPL_REF)
    return ar_ref_alloc(s->ref, n, align, out);
  int rc = ar_engine_alloc(s->engine, n, align, out);
  engine_verify(s->engine);
  return rc;
}

int subject_free(subject_t *s, uint64_t payload, ar_block_t *out) {
  if (s->impl == IMPL_REF)
    return ar_ref_free(s->ref, payload, out);
  int rc = ar_engine_free(s->engine, payload, out, NULL);
  engine_verify(s->engine);
  return rc;
}

int subject_find(const subject_t *s, uint64_t payload, ar_block_t *out) {
  if (s->impl == IMPL_REF)
    return ar_ref_find(s->ref, payload, out);
  return ar_engine_find(s->engine, payload, out);
}

void subject_stats(const subject_t *s, ar_engine_stats_t *out) {
  if (s->impl == IMPL_REF)
    ar_ref_stats(s->ref, out);
  else
    ar_engine_stats(s->engine, out);
}

size_t subject_free_set(const subject_t *s, ar_ref_span_t *out, size_t max) {
  if (s->impl == IMPL_REF)
    return ar_ref_free_set(s->ref, out, max);
  return engine_free_set(s->engine, out, max);
}

/* ---- asserts ----------------------------------------------------------- */

enum { MAX_SPANS = 1024 }; /* enough for the hand-worked arenas */

typedef struct span_set_s {
  ar_ref_span_t v[MAX_SPANS];
  size_t n;
} span_set_t;

static void get_free_set(const subject_t *s, span_set_t *out) {
  out->n = subject_free_set(s, out->v, MAX_SPANS);
  assert_true(out->n <= MAX_SPANS);
}

static void print_spans(const char *what, const ar_ref_span_t *v, size_t n) {
  print_error("%s (%zu):", what, n);
  for (size_t i = 0; i < n; i++)
    print_error(" [%" PRIu64 ", %" PRIu64 ")", v[i].start, v[i].end);
  print_error("\n");
}

static bool spans_equal(const ar_ref_span_t *a, size_t na,
                        const ar_ref_span_t *b, size_t nb) {
  if (na != nb)
    return false;
  for (size_t i = 0; i < na; i++)
    if (a[i].start != b[i].start || a[i].end != b[i].end)
      return false;
  return true;
}

static const char *subject_name(const subject_t *s) {
  static char buf[64];
  snprintf(buf, sizeof(buf), "%s %s", ar_policy_name(s->policy),
           impl_name(s->impl));
  return buf;
}

ar_block_t assert_alloc_(subject_t *s, uint64_t n, uint64_t align,
                         uint64_t payload, const char *file, int line) {
  ar_block_t b;
  memset(&b, 0, sizeof(b));
  int rc = subject_alloc(s, n, align, &b);
  if (rc != AR_OK || b.payload != payload || b.n != n) {
    print_error("%s: alloc(n=%" PRIu64 ", align=%" PRIu64 "): got %s, payload "
                "%" PRIu64 " n %" PRIu64 "; want payload %" PRIu64 "\n",
                subject_name(s), n, align, ar_err_name(rc), b.payload, b.n,
                payload);
    _fail(file, line);
  }
  return b;
}

void assert_stats_equal_(const ar_engine_stats_t *a, const ar_engine_stats_t *b,
                         const char *file, int line) {
#define SAME(f)                                                                \
  if (a->f != b->f) {                                                          \
    print_error("stats." #f ": %" PRIu64 " != %" PRIu64 "\n",                  \
                (uint64_t)a->f, (uint64_t)b->f);                               \
    _fail(file, line);                                                         \
  }
  SAME(policy) SAME(size) SAME(used_bytes) SAME(free_bytes) SAME(live_blocks)
  SAME(live_requested) SAME(overhead_bytes) SAME(free_extents)
  SAME(largest_free) SAME(allocs) SAME(frees) SAME(failed_allocs)
  SAME(bad_frees) SAME(corruptions) SAME(last_corrupt) SAME(hwm)
  SAME(peak_used) SAME(peak_requested) SAME(rover) SAME(max_order)
  for (unsigned k = 0; k <= AR_ORDER_MAX; k++)
    SAME(free_by_order[k])
#undef SAME
  if (fabs(a->external_frag - b->external_frag) > 1e-9) {
    print_error("stats.external_frag: %.12f != %.12f\n", a->external_frag,
                b->external_frag);
    _fail(file, line);
  }
}

void assert_alloc_fails_(subject_t *s, uint64_t n, uint64_t align, int rc,
                         const char *file, int line) {
  static span_set_t before, after;
  ar_engine_stats_t st0, st1;
  get_free_set(s, &before);
  subject_stats(s, &st0);
  ar_block_t b;
  int got = subject_alloc(s, n, align, &b);
  if (got != rc) {
    print_error("%s: alloc(n=%" PRIu64 ", align=%" PRIu64 "): got %s, want "
                "%s\n",
                subject_name(s), n, align, ar_err_name(got), ar_err_name(rc));
    if (got == AR_OK)
      print_error("  (placed at payload %" PRIu64 ")\n", b.payload);
    _fail(file, line);
  }
  get_free_set(s, &after);
  if (!spans_equal(before.v, before.n, after.v, after.n)) {
    print_error("%s: a failed alloc changed the free set\n", subject_name(s));
    print_spans("before", before.v, before.n);
    print_spans("after", after.v, after.n);
    _fail(file, line);
  }
  subject_stats(s, &st1);
  if (rc == AR_ENOMEM)
    st0.failed_allocs++;
  assert_stats_equal_(&st1, &st0, file, line);
}

ar_block_t assert_free_(subject_t *s, uint64_t payload, const char *file,
                        int line) {
  ar_block_t b;
  memset(&b, 0, sizeof(b));
  int rc = subject_free(s, payload, &b);
  if (rc != AR_OK || b.payload != payload) {
    print_error("%s: free(%" PRIu64 "): got %s, block payload %" PRIu64 "\n",
                subject_name(s), payload, ar_err_name(rc), b.payload);
    _fail(file, line);
  }
  return b;
}

void assert_free_fails_(subject_t *s, uint64_t payload, const char *file,
                        int line) {
  static span_set_t before, after;
  ar_engine_stats_t st0, st1;
  get_free_set(s, &before);
  subject_stats(s, &st0);
  ar_block_t found;
  int rc = subject_find(s, payload, &found);
  if (rc != AR_EINVAL) {
    print_error("%s: find(%" PRIu64 "): got %s, want EINVAL\n",
                subject_name(s), payload, ar_err_name(rc));
    _fail(file, line);
  }
  rc = subject_free(s, payload, NULL);
  if (rc != AR_EINVAL) {
    print_error("%s: free(%" PRIu64 "): got %s, want EINVAL\n",
                subject_name(s), payload, ar_err_name(rc));
    _fail(file, line);
  }
  get_free_set(s, &after);
  if (!spans_equal(before.v, before.n, after.v, after.n)) {
    print_error("%s: a refused free changed the free set\n", subject_name(s));
    print_spans("before", before.v, before.n);
    print_spans("after", after.v, after.n);
    _fail(file, line);
  }
  subject_stats(s, &st1);
  st0.bad_frees++;
  assert_stats_equal_(&st1, &st0, file, line);
}

void assert_free_set_(const subject_t *s, const ar_ref_span_t *want,
                      size_t count, const char *file, int line) {
  static span_set_t got;
  get_free_set(s, &got);
  if (!spans_equal(got.v, got.n, want, count)) {
    print_error("%s: free set differs\n", subject_name(s));
    print_spans("want", want, count);
    print_spans("got ", got.v, got.n);
    _fail(file, line);
  }
}

void assert_rover_(const subject_t *s, uint64_t r, const char *file, int line) {
  ar_engine_stats_t st;
  subject_stats(s, &st);
  if (st.rover != r) {
    print_error("%s: rover at %" PRIu64 ", want %" PRIu64 "\n",
                subject_name(s), st.rover, r);
    _fail(file, line);
  }
}
