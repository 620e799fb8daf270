/*
 * reference.c: the placement model, read as literally as possible, for the
 * tests to compare the engines against (see reference.h).
 *
 * List policies keep the free intervals in one array sorted by start; an
 * allocation scans all of them and picks one as the model's table says, a
 * free inserts the block and merges it with the intervals that touch it.
 * Buddy keeps, for each order, a sorted array of the offsets of its free
 * blocks; an allocation takes the lowest offset of the smallest order that
 * is large enough and splits it down, a free merges with free buddies up
 * the orders. Nothing here is clever on purpose: when this file and an
 * engine disagree, this file should be the easy one to believe.
 */
#include "reference.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "ar/error.h"

/* The constants of the model, written out here rather than taken from the
 * engine's header, so that a wrong constant there is noticed. */
#define GRAIN UINT64_C(16)
#define HDR UINT64_C(16)
#define ARENA_UNIT UINT64_C(4096)
#define ALIGN_MIN UINT64_C(16)
#define ALIGN_MAX UINT64_C(4096)
#define MIN_ORDER 5u
#define N_ORDERS 64u

/* Invariants: free_iv is sorted by start, its spans are non-empty,
 * disjoint and never adjacent; each free_blk[k] is sorted and holds
 * multiples of 2^k; free and live blocks tile the arena exactly. */
struct ar_ref_s {
  ar_policy_t policy;
  uint64_t size;
  unsigned order_max; /* buddy: K with size = 2^K */
  uint64_t rover;     /* next fit */

  ar_ref_span_t *free_iv; /* list policies */
  size_t n_free_iv, cap_free_iv;

  uint64_t *free_blk[N_ORDERS]; /* buddy */
  size_t n_free_blk[N_ORDERS], cap_free_blk[N_ORDERS];

  ar_block_t *live; /* in allocation order */
  size_t n_live, cap_live;

  uint64_t used, requested;
  uint64_t allocs, frees, failed_allocs, bad_frees;
  uint64_t hwm, peak_used, peak_requested;
};

/* Makes room for `need` elements of `elem` bytes; aborts on failure. */
static void *grow(void *p, size_t *cap, size_t need, size_t elem) {
  if (need <= *cap)
    return p;
  size_t cap2 = *cap ? *cap * 2 : 16;
  while (cap2 < need)
    cap2 *= 2;
  void *q = realloc(p, cap2 * elem);
  if (!q)
    abort();
  *cap = cap2;
  return q;
}

static bool is_pow2(uint64_t x) { return x && (x & (x - 1)) == 0; }

/* The smallest k with 2^k >= x (64 when x > 2^63). */
static unsigned ceil_log2(uint64_t x) {
  unsigned k = 0;
  while (k < 64 && (UINT64_C(1) << k) < x)
    k++;
  return k;
}

static uint64_t round_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

/* b(n) = round_up(n + HDR, GRAIN); no overflow for n <= 2^63 - 1. */
static uint64_t block_bytes(uint64_t n) { return round_up(n + HDR, GRAIN); }

int ar_ref_create(ar_policy_t policy, uint64_t size, ar_ref_t **out) {
  if ((unsigned)policy >= AR_POLICY_COUNT || size == 0 ||
      size % ARENA_UNIT != 0 || size > AR_ARENA_MAX)
    return AR_EINVAL;
  if (policy == AR_POLICY_BUDDY && !is_pow2(size))
    return AR_EINVAL;
  ar_ref_t *r = calloc(1, sizeof(*r));
  if (!r)
    abort();
  r->policy = policy;
  r->size = size;
  if (policy == AR_POLICY_BUDDY) {
    r->order_max = ceil_log2(size);
    r->free_blk[r->order_max] = grow(NULL, &r->cap_free_blk[r->order_max], 1,
                                     sizeof(uint64_t));
    r->free_blk[r->order_max][0] = 0;
    r->n_free_blk[r->order_max] = 1;
  } else {
    r->free_iv = grow(NULL, &r->cap_free_iv, 1, sizeof(ar_ref_span_t));
    r->free_iv[0] = (ar_ref_span_t){0, size};
    r->n_free_iv = 1;
  }
  *out = r;
  return AR_OK;
}

void ar_ref_destroy(ar_ref_t *r) {
  if (!r)
    return;
  free(r->free_iv);
  for (unsigned k = 0; k < N_ORDERS; k++)
    free(r->free_blk[k]);
  free(r->live);
  free(r);
}

/* ---- list policies ---------------------------------------------------- */

static void iv_remove(ar_ref_t *r, size_t i) {
  memmove(&r->free_iv[i], &r->free_iv[i + 1],
          (r->n_free_iv - i - 1) * sizeof(r->free_iv[0]));
  r->n_free_iv--;
}

/* Inserts a span that touches no free span, keeping the order. */
static void iv_insert(ar_ref_t *r, ar_ref_span_t sp) {
  r->free_iv = grow(r->free_iv, &r->cap_free_iv, r->n_free_iv + 1,
                    sizeof(r->free_iv[0]));
  size_t i = 0;
  while (i < r->n_free_iv && r->free_iv[i].start < sp.start)
    i++;
  memmove(&r->free_iv[i + 1], &r->free_iv[i],
          (r->n_free_iv - i) * sizeof(r->free_iv[0]));
  r->free_iv[i] = sp;
  r->n_free_iv++;
}

/* Where a block of b bytes whose payload is aligned to `align` starts in
 * the interval: p - HDR for p the lowest multiple of align with
 * p - HDR >= s. False when [p - HDR, p - HDR + b) does not fit in it. */
static bool iv_fits(ar_ref_span_t iv, uint64_t b, uint64_t align,
                    uint64_t *start) {
  uint64_t st = round_up(iv.start + HDR, align) - HDR;
  if (st > iv.end || iv.end - st < b)
    return false;
  *start = st;
  return true;
}

/* The index of the interval the policy picks, or -1. */
static long list_pick(const ar_ref_t *r, uint64_t b, uint64_t align) {
  long pick = -1;
  uint64_t st;
  for (size_t i = 0; i < r->n_free_iv; i++) {
    ar_ref_span_t iv = r->free_iv[i];
    if (!iv_fits(iv, b, align, &st))
      continue;
    if (r->policy == AR_POLICY_FIRST)
      return (long)i;
    if (r->policy == AR_POLICY_NEXT && iv.end > r->rover)
      return (long)i; /* the first fitting one with e > r */
    if (r->policy == AR_POLICY_NEXT) {
      if (pick < 0)
        pick = (long)i; /* the first fitting one with e <= r, if need be */
      continue;
    }
    uint64_t len = iv.end - iv.start;
    uint64_t best = pick < 0 ? 0 : r->free_iv[pick].end - r->free_iv[pick].start;
    /* strict comparisons: on a tie the earlier, lower start stays */
    if (pick < 0 || (r->policy == AR_POLICY_BEST && len < best) ||
        (r->policy == AR_POLICY_WORST && len > best))
      pick = (long)i;
  }
  return pick;
}

static bool list_alloc(ar_ref_t *r, uint64_t n, uint64_t align,
                       ar_block_t *blk) {
  uint64_t b = block_bytes(n);
  if (b > r->size)
    return false;
  long i = list_pick(r, b, align);
  if (i < 0)
    return false;
  ar_ref_span_t iv = r->free_iv[i];
  uint64_t st = 0;
  iv_fits(iv, b, align, &st);
  iv_remove(r, (size_t)i);
  if (st > iv.start) /* the front gap stays free */
    iv_insert(r, (ar_ref_span_t){iv.start, st});
  if (st + b < iv.end) /* so does the rest, however small */
    iv_insert(r, (ar_ref_span_t){st + b, iv.end});
  if (r->policy == AR_POLICY_NEXT)
    r->rover = st + b;
  *blk = (ar_block_t){.payload = st + HDR, .start = st, .size = b, .n = n};
  return true;
}

static void list_free(ar_ref_t *r, const ar_block_t *blk) {
  ar_ref_span_t sp = {blk->start, blk->start + blk->size};
  for (size_t i = 0; i < r->n_free_iv; i++) {
    if (r->free_iv[i].end == sp.start) { /* on the left */
      sp.start = r->free_iv[i].start;
      iv_remove(r, i);
      break;
    }
  }
  for (size_t i = 0; i < r->n_free_iv; i++) {
    if (r->free_iv[i].start == sp.end) { /* on the right */
      sp.end = r->free_iv[i].end;
      iv_remove(r, i);
      break;
    }
  }
  iv_insert(r, sp);
}

/* ---- buddy ------------------------------------------------------------ */

static void blk_insert(ar_ref_t *r, unsigned k, uint64_t a) {
  r->free_blk[k] = grow(r->free_blk[k], &r->cap_free_blk[k],
                        r->n_free_blk[k] + 1, sizeof(uint64_t));
  size_t i = 0;
  while (i < r->n_free_blk[k] && r->free_blk[k][i] < a)
    i++;
  memmove(&r->free_blk[k][i + 1], &r->free_blk[k][i],
          (r->n_free_blk[k] - i) * sizeof(uint64_t));
  r->free_blk[k][i] = a;
  r->n_free_blk[k]++;
}

/* Removes the free block of order k at a; false when there is none. */
static bool blk_take(ar_ref_t *r, unsigned k, uint64_t a) {
  for (size_t i = 0; i < r->n_free_blk[k]; i++) {
    if (r->free_blk[k][i] == a) {
      memmove(&r->free_blk[k][i], &r->free_blk[k][i + 1],
              (r->n_free_blk[k] - i - 1) * sizeof(uint64_t));
      r->n_free_blk[k]--;
      return true;
    }
  }
  return false;
}

static bool buddy_alloc(ar_ref_t *r, uint64_t n, uint64_t align,
                        ar_block_t *blk) {
  /* k = max(5, ceil(log2(b(n)))), or with A > 16 max(5, ceil(log2(A + n))) */
  uint64_t need = align == ALIGN_MIN ? block_bytes(n) : align + n;
  unsigned k = ceil_log2(need);
  if (k < MIN_ORDER)
    k = MIN_ORDER;
  if (k > r->order_max)
    return false;
  unsigned j = k;
  while (j <= r->order_max && r->n_free_blk[j] == 0)
    j++;
  if (j > r->order_max)
    return false;
  uint64_t a = r->free_blk[j][0]; /* the lowest offset of that order */
  blk_take(r, j, a);
  while (j > k) { /* the upper half stays free, the lower half goes on */
    j--;
    blk_insert(r, j, a + (UINT64_C(1) << j));
  }
  *blk = (ar_block_t){
      .payload = a + align, .start = a, .size = UINT64_C(1) << k, .n = n};
  return true;
}

static void buddy_free(ar_ref_t *r, const ar_block_t *blk) {
  uint64_t a = blk->start;
  unsigned k = ceil_log2(blk->size);
  while (k < r->order_max && blk_take(r, k, a ^ (UINT64_C(1) << k))) {
    a &= ~(UINT64_C(1) << k); /* min(a, buddy) */
    k++;
  }
  blk_insert(r, k, a);
}

/* ---- the interface ---------------------------------------------------- */

int ar_ref_alloc(ar_ref_t *r, uint64_t n, uint64_t align, ar_block_t *out) {
  if (n == 0 || n > (uint64_t)AR_N_MAX || !is_pow2(align) ||
      align < ALIGN_MIN || align > ALIGN_MAX)
    return AR_EINVAL;
  ar_block_t blk;
  bool ok = r->policy == AR_POLICY_BUDDY ? buddy_alloc(r, n, align, &blk)
                                         : list_alloc(r, n, align, &blk);
  if (!ok) {
    r->failed_allocs++;
    return AR_ENOMEM;
  }
  r->live = grow(r->live, &r->cap_live, r->n_live + 1, sizeof(r->live[0]));
  r->live[r->n_live++] = blk;
  r->allocs++;
  r->used += blk.size;
  r->requested += n;
  if (blk.start + blk.size > r->hwm)
    r->hwm = blk.start + blk.size;
  if (r->used > r->peak_used)
    r->peak_used = r->used;
  if (r->requested > r->peak_requested)
    r->peak_requested = r->requested;
  if (out)
    *out = blk;
  return AR_OK;
}

/* A linear search from the newest block: programs mostly free what they
 * allocated last, which keeps trace replays fast enough. */
static long live_index(const ar_ref_t *r, uint64_t payload) {
  for (size_t i = r->n_live; i-- > 0;)
    if (r->live[i].payload == payload)
      return (long)i;
  return -1;
}

int ar_ref_free(ar_ref_t *r, uint64_t payload, ar_block_t *out) {
  long i = live_index(r, payload);
  if (i < 0) {
    r->bad_frees++;
    return AR_EINVAL;
  }
  ar_block_t blk = r->live[i];
  memmove(&r->live[i], &r->live[i + 1],
          (r->n_live - (size_t)i - 1) * sizeof(r->live[0]));
  r->n_live--;
  if (r->policy == AR_POLICY_BUDDY)
    buddy_free(r, &blk);
  else
    list_free(r, &blk);
  r->frees++;
  r->used -= blk.size;
  r->requested -= blk.n;
  if (out)
    *out = blk;
  return AR_OK;
}

int ar_ref_find(const ar_ref_t *r, uint64_t payload, ar_block_t *out) {
  long i = live_index(r, payload);
  if (i < 0)
    return AR_EINVAL;
  if (out)
    *out = r->live[i];
  return AR_OK;
}

size_t ar_ref_free_set(const ar_ref_t *r, ar_ref_span_t *out, size_t max) {
  if (r->policy != AR_POLICY_BUDDY) {
    for (size_t i = 0; i < r->n_free_iv && i < max; i++)
      out[i] = r->free_iv[i];
    return r->n_free_iv;
  }
  /* merge the sorted arrays of all orders by offset */
  size_t next[N_ORDERS] = {0};
  size_t count = 0;
  for (;;) {
    unsigned best = N_ORDERS;
    for (unsigned k = 0; k < N_ORDERS; k++)
      if (next[k] < r->n_free_blk[k] &&
          (best == N_ORDERS ||
           r->free_blk[k][next[k]] < r->free_blk[best][next[best]]))
        best = k;
    if (best == N_ORDERS)
      return count;
    uint64_t a = r->free_blk[best][next[best]++];
    if (count < max)
      out[count] = (ar_ref_span_t){a, a + (UINT64_C(1) << best)};
    count++;
  }
}

size_t ar_ref_live_count(const ar_ref_t *r) { return r->n_live; }

ar_block_t ar_ref_live_block(const ar_ref_t *r, size_t i) {
  return r->live[i];
}

void ar_ref_stats(const ar_ref_t *r, ar_engine_stats_t *out) {
  memset(out, 0, sizeof(*out));
  out->policy = r->policy;
  out->size = r->size;
  out->used_bytes = r->used;
  out->free_bytes = r->size - r->used;
  out->live_blocks = r->n_live;
  out->live_requested = r->requested;
  out->overhead_bytes = r->used - r->requested;
  if (r->policy == AR_POLICY_BUDDY) {
    out->max_order = r->order_max;
    for (unsigned k = 0; k <= r->order_max; k++) {
      out->free_by_order[k] = r->n_free_blk[k];
      out->free_extents += r->n_free_blk[k];
      if (r->n_free_blk[k])
        out->largest_free = UINT64_C(1) << k;
    }
  } else {
    out->free_extents = r->n_free_iv;
    for (size_t i = 0; i < r->n_free_iv; i++)
      if (r->free_iv[i].end - r->free_iv[i].start > out->largest_free)
        out->largest_free = r->free_iv[i].end - r->free_iv[i].start;
  }
  out->external_frag =
      out->free_bytes
          ? 1.0 - (double)out->largest_free / (double)out->free_bytes
          : 0.0;
  out->allocs = r->allocs;
  out->frees = r->frees;
  out->failed_allocs = r->failed_allocs;
  out->bad_frees = r->bad_frees;
  out->hwm = r->hwm;
  out->peak_used = r->peak_used;
  out->peak_requested = r->peak_requested;
  out->rover = r->policy == AR_POLICY_NEXT ? r->rover : 0;
}
