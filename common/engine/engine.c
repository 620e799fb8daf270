/*
 * engine.c: the part of every policy engine that does not depend on the
 * policy. It checks arguments, keeps the map of live blocks (the engine's
 * only record of what is allocated), writes and verifies block headers in
 * the arena when it has the arena's memory, keeps the counters, and
 * implements the address-order walk and the tiling half of the integrity
 * check on top of the policy's free-space queries (engine_internal.h).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ar/error.h"
#include "engine_internal.h"

static const char *const policy_names[] = {
#define AR__POLICY_NAME(id, name) name,
    AR_POLICY_MAP(AR__POLICY_NAME)
#undef AR__POLICY_NAME
};

const char *ar_policy_name(ar_policy_t policy) {
  if ((unsigned)policy >= AR_POLICY_COUNT)
    return "unknown";
  return policy_names[policy];
}

int ar_policy_parse(const char *name, ar_policy_t *out) {
  for (int p = 0; p < AR_POLICY_COUNT; p++)
    if (strcmp(name, policy_names[p]) == 0) {
      *out = (ar_policy_t)p;
      return 0;
    }
  return AR_EINVAL;
}

int ar_check_fail(ar_check_report_t *report, const char *invariant,
                  uint64_t offset, const char *fmt, ...) {
  if (report) {
    va_list ap;
    report->invariant = invariant;
    report->offset = offset;
    va_start(ap, fmt);
    vsnprintf(report->detail, sizeof(report->detail), fmt, ap);
    va_end(ap);
  }
  return AR_ECORRUPT;
}

int ar_engine_create(ar_policy_t policy, uint64_t size, void *base,
                     ar_engine_t **out) {
  if ((unsigned)policy >= AR_POLICY_COUNT || size == 0 ||
      size % AR_ARENA_UNIT != 0 || size > AR_ARENA_MAX)
    return AR_EINVAL;
  ar_engine_t *e = calloc(1, sizeof(*e));
  if (!e)
    return AR_EINTERNAL;
  e->ops = policy == AR_POLICY_BUDDY ? &ar__buddy_ops : &ar__list_ops;
  e->policy = policy;
  e->size = size;
  e->base = base;
  e->mem.bytes = sizeof(*e);
  int rc = ar__blockmap_init(&e->blocks, &e->mem);
  if (rc == 0) {
    rc = e->ops->init(e);
    if (rc != 0)
      ar__blockmap_fini(&e->blocks);
  }
  if (rc != 0) {
    free(e);
    return rc;
  }
  e->peak_mem = e->mem.bytes;
  *out = e;
  return 0;
}

/* The engine's memory grows only while it allocates or frees a block (a
 * bigger map, more index nodes), so that is where its peak is taken. */
static void note_memory(ar_engine_t *e) {
  if (e->mem.bytes > e->peak_mem)
    e->peak_mem = e->mem.bytes;
}

void ar_engine_destroy(ar_engine_t *e) {
  if (!e)
    return;
  e->ops->fini(e);
  ar__blockmap_fini(&e->blocks);
  free(e);
}

ar_policy_t ar_engine_policy(const ar_engine_t *e) { return e->policy; }
uint64_t ar_engine_size(const ar_engine_t *e) { return e->size; }

/* The header's policy word: the order for buddy, 0 for the list policies. */
static uint32_t policy_word(const ar_engine_t *e, uint64_t block_size) {
  return e->policy == AR_POLICY_BUDDY ? (uint32_t)__builtin_ctzll(block_size)
                                      : 0;
}

static void write_header(ar_engine_t *e, const ar_block_t *blk) {
  ar_header_t h = {blk->n, AR_HDR_MAGIC, policy_word(e, blk->size)};
  memcpy(e->base + blk->payload - AR_HDR, &h, sizeof(h));
}

/* Whether the header of blk holds what write_header wrote there. */
static bool header_holds(const ar_engine_t *e, const ar_block_t *blk) {
  ar_header_t h;
  memcpy(&h, e->base + blk->payload - AR_HDR, sizeof(h));
  return h.size == blk->n && h.magic == AR_HDR_MAGIC &&
         h.policy == policy_word(e, blk->size);
}

/* Reads back the header of a block being freed and marks it freed (its
 * magic cleared). Returns whether it still held what write_header wrote. */
static bool header_intact(ar_engine_t *e, const ar_block_t *blk) {
  bool intact = header_holds(e, blk);
  const uint32_t cleared = 0;
  memcpy(e->base + blk->payload - AR_HDR + offsetof(ar_header_t, magic),
         &cleared, sizeof(cleared));
  return intact;
}

bool ar_engine_header_intact(const ar_engine_t *e, const ar_block_t *blk) {
  return e->base == NULL || header_holds(e, blk);
}

uint64_t ar_engine_block_size(const ar_engine_t *e, uint64_t n,
                              uint64_t align) {
  if (n == 0 || n > AR_N_MAX || !ar_align_valid(align))
    return 0;
  /* The payload sits `align` bytes into a buddy block, AR_HDR into a list
   * policy's (whose size does not depend on it). A buddy block of 2^64
   * bytes or more has no uint64_t size. */
  if (e->policy == AR_POLICY_BUDDY && ar__buddy_order(n, align) > 63)
    return UINT64_MAX;
  return ar__block_size(e->policy, n, align);
}

/* The policy's take and give, called by name, not through e->ops, so
 * that the link-time optimiser can inline them into ar_engine_alloc and
 * ar_engine_free (they are defined `inline` for that): the calls, their
 * register spills and the block passed through memory were a tenth of
 * buddy's instructions per request. */
static int policy_take(ar_engine_t *e, uint64_t n, uint64_t align,
                       ar_block_t *blk) {
  if (e->policy == AR_POLICY_BUDDY)
    return ar__buddy_take(e, n, align, blk);
  return ar__list_take(e, n, align, blk);
}

static int policy_give(ar_engine_t *e, uint64_t start, uint64_t size) {
  if (e->policy == AR_POLICY_BUDDY)
    return ar__buddy_give(e, start, size);
  return ar__list_give(e, start, size);
}

int ar_engine_alloc(ar_engine_t *e, uint64_t n, uint64_t align,
                    ar_block_t *out) {
  if (n == 0 || n > AR_N_MAX || !ar_align_valid(align))
    return AR_EINVAL;
  if (ar__blockmap_reserve(&e->blocks) != 0)
    return AR_EINTERNAL;
  ar_block_t blk = {.n = n};
  int rc = policy_take(e, n, align, &blk);
  note_memory(e);
  if (rc == AR_ENOMEM)
    e->failed++;
  if (rc != 0)
    return rc;
  ar__blockent_t ent = {blk.payload, n};
  ar__blockmap_insert(&e->blocks, &ent);
  e->allocs++;
  e->used += blk.size;
  e->requested += n;
  if (blk.start + blk.size > e->hwm)
    e->hwm = blk.start + blk.size;
  if (e->used > e->peak_used)
    e->peak_used = e->used;
  if (e->requested > e->peak_requested)
    e->peak_requested = e->requested;
  if (e->base)
    write_header(e, &blk);
  *out = blk;
  return 0;
}

/* The block a map entry describes. */
static inline ar_block_t block_of(const ar_engine_t *e,
                                  const ar__blockent_t *ent) {
  uint64_t start = ar__block_start(e->policy, ent->payload);
  return (ar_block_t){ent->payload, start,
                      ar__block_size(e->policy, ent->n, ent->payload - start),
                      ent->n};
}

bool ar__block_at(const ar_engine_t *e, uint64_t start, ar_block_t *out) {
  /* The payload is start + A for the alignment A the block was allocated
   * with; the list policies always put it at start + AR_HDR. */
  uint64_t max = e->policy == AR_POLICY_BUDDY ? AR_ALIGN_MAX : AR_HDR;
  for (uint64_t delta = AR_HDR; delta <= max; delta *= 2) {
    const ar__blockent_t *ent = ar__blockmap_find(&e->blocks, start + delta);
    if (ent && ar__block_start(e->policy, ent->payload) == start) {
      *out = block_of(e, ent);
      return true;
    }
  }
  return false;
}

int ar_engine_find(const ar_engine_t *e, uint64_t payload, ar_block_t *out) {
  const ar__blockent_t *ent = ar__blockmap_find(&e->blocks, payload);
  if (!ent)
    return AR_EINVAL;
  *out = block_of(e, ent);
  return 0;
}

int ar_engine_free(ar_engine_t *e, uint64_t payload, ar_block_t *out,
                   bool *corrupt) {
  ar__blockent_t *ent = ar__blockmap_find(&e->blocks, payload);
  if (!ent) {
    e->bad_frees++;
    return AR_EINVAL;
  }
  ar_block_t blk = block_of(e, ent);
  int rc = policy_give(e, blk.start, blk.size);
  note_memory(e);
  if (rc != 0)
    return AR_EINTERNAL;
  ar__blockmap_remove(&e->blocks, ent);
  bool bad_header = e->base && !header_intact(e, &blk);
  if (bad_header) {
    e->corruptions++;
    e->last_corrupt = payload;
  }
  e->frees++;
  e->used -= blk.size;
  e->requested -= blk.n;
  if (out)
    *out = blk;
  if (corrupt)
    *corrupt = bad_header;
  return 0;
}

void ar_engine_stats(const ar_engine_t *e, ar_engine_stats_t *out) {
  memset(out, 0, sizeof(*out));
  out->policy = e->policy;
  out->size = e->size;
  out->used_bytes = e->used;
  out->free_bytes = e->size - e->used;
  out->live_blocks = e->blocks.count;
  out->live_requested = e->requested;
  out->overhead_bytes = e->used - e->requested;
  out->allocs = e->allocs;
  out->frees = e->frees;
  out->failed_allocs = e->failed;
  out->bad_frees = e->bad_frees;
  out->corruptions = e->corruptions;
  out->last_corrupt = e->last_corrupt;
  out->hwm = e->hwm;
  out->peak_used = e->peak_used;
  out->peak_requested = e->peak_requested;
  out->meta_bytes = e->mem.bytes;
  out->peak_meta_bytes = e->peak_mem;
  e->ops->stats(e, out);
  out->external_frag =
      out->free_bytes
          ? 1.0 - (double)out->largest_free / (double)out->free_bytes
          : 0.0;
}

int ar_engine_walk(const ar_engine_t *e, bool free_only, uint64_t cursor,
                   ar_extent_t *out, size_t max, size_t *count,
                   uint64_t *next) {
  if (max == 0 || cursor > e->size)
    return AR_EINVAL;
  size_t k = 0;
  /* The free list needs no piece's start but the free ones'. */
  bool exact = true;
  uint64_t p = cursor >= e->size ? e->size
               : free_only       ? cursor
                           : e->ops->extent_at_or_after(e, cursor, &exact);
  if (!exact) { /* an empty page: the search goes on from p next time */
    *count = 0;
    *next = p;
    return 0;
  }
  uint64_t fs, fsz;
  bool have_free = p < e->size && e->ops->free_from(e, p, &fs, &fsz);
  while (p < e->size && k < max) {
    if (have_free && fs == p) {
      out[k++] = (ar_extent_t){.start = fs, .size = fsz, .free = true};
      p = fs + fsz;
      have_free = e->ops->free_from(e, p, &fs, &fsz);
    } else if (free_only) {
      p = have_free ? fs : e->size;
    } else {
      ar_block_t blk;
      if (!ar__block_at(e, p, &blk)) /* ar_engine_check says where */
        return AR_EINTERNAL;
      out[k++] = (ar_extent_t){.start = blk.start,
                               .size = blk.size,
                               .free = false,
                               .payload = blk.payload,
                               .n = blk.n};
      p += blk.size;
    }
  }
  /* Spare the caller an empty last page of the free list. */
  if (free_only && !have_free)
    p = e->size;
  *count = k;
  *next = p;
  return 0;
}

/* Checks one live block against the model and the arena's bounds. */
static int check_block(const ar_engine_t *e, const ar_block_t *blk,
                       ar_check_report_t *report) {
  uint64_t delta = blk->payload - blk->start;
  if (delta < AR_HDR || delta > AR_ALIGN_MAX || (delta & (delta - 1)) != 0 ||
      (e->policy != AR_POLICY_BUDDY && delta != AR_HDR))
    return ar_check_fail(
        report, "block payload", blk->start, "block at %llu has payload %llu",
        (unsigned long long)blk->start, (unsigned long long)blk->payload);
  uint64_t model = ar__block_size(e->policy, blk->n, delta);
  if (blk->n == 0 || blk->n > AR_N_MAX || blk->size != model)
    return ar_check_fail(report, "block size", blk->start,
                         "block at %llu: %llu bytes for a request of %llu",
                         (unsigned long long)blk->start,
                         (unsigned long long)blk->size,
                         (unsigned long long)blk->n);
  /* A buddy block of 2^k bytes starts at a multiple of 2^k. */
  if (e->policy == AR_POLICY_BUDDY && (blk->start & (blk->size - 1)) != 0)
    return ar_check_fail(report, "block alignment", blk->start,
                         "buddy block at %llu is not aligned to its %llu "
                         "bytes",
                         (unsigned long long)blk->start,
                         (unsigned long long)blk->size);
  if (blk->start + blk->size > e->size)
    return ar_check_fail(report, "block bounds", blk->start,
                         "block at %llu ends past the arena",
                         (unsigned long long)blk->start);
  return 0;
}

int ar_engine_check(const ar_engine_t *e, ar_check_report_t *report) {
  const char *broken = ar__blockmap_verify(&e->blocks);
  if (broken)
    return ar_check_fail(report, "block map", 0, "%s", broken);
  uint64_t extents = 0;
  int rc = e->ops->check(e, report, &extents);
  if (rc != 0)
    return rc;
  /* The free extents and the live blocks must tile the arena exactly. */
  uint64_t p = 0, fs = 0, fsz = 0, seen_free = 0, seen_blocks = 0;
  uint64_t used = 0, requested = 0;
  bool have_free = e->ops->free_from(e, 0, &fs, &fsz);
  while (p < e->size) {
    if (have_free && fs < p)
      return ar_check_fail(report, "free space disjoint from blocks", fs,
                           "free extent at %llu overlaps the block before",
                           (unsigned long long)fs);
    if (have_free && fs == p) {
      seen_free++;
      p = fs + fsz;
      have_free = e->ops->free_from(e, p, &fs, &fsz);
      continue;
    }
    ar_block_t blk;
    if (!ar__block_at(e, p, &blk))
      return ar_check_fail(report, "tiling", p,
                           "offset %llu is neither free nor the start of "
                           "a live block",
                           (unsigned long long)p);
    rc = check_block(e, &blk, report);
    if (rc != 0)
      return rc;
    seen_blocks++;
    used += blk.size;
    requested += blk.n;
    p += blk.size;
  }
  if (p != e->size || have_free)
    return ar_check_fail(report, "tiling", p,
                         "the pieces end at %llu, not at the arena's end",
                         (unsigned long long)p);
  if (seen_free != extents)
    return ar_check_fail(report, "free extent count", 0,
                         "walked %llu free extents, the index holds %llu",
                         (unsigned long long)seen_free,
                         (unsigned long long)extents);
  if (seen_blocks != e->blocks.count)
    return ar_check_fail(
        report, "block map", 0, "walked %llu blocks, the map holds %llu",
        (unsigned long long)seen_blocks, (unsigned long long)e->blocks.count);
  if (used != e->used || requested != e->requested)
    return ar_check_fail(
        report, "byte counts", 0,
        "blocks hold %llu bytes for %llu requested; the "
        "counters say %llu and %llu",
        (unsigned long long)used, (unsigned long long)requested,
        (unsigned long long)e->used, (unsigned long long)e->requested);
  return 0;
}
