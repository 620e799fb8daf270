/*
 * arena.c: an arena's segment, engine and records kept in step (see
 * arena.h). Every operation that changes the engine changes the records in
 * the same call, with the fallible steps (reservations, the engine's own
 * call) first, so that an error leaves both as they were.
 */
#include "arena.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ar/error.h"

int ad_arena_create(const ad_arena_conf_t *conf, uint64_t id,
                    ad_blocks_t *pools, ad_arena_t **out, char *err,
                    size_t errlen) {
  ad_arena_t *a = calloc(1, sizeof(*a));
  if (a == NULL) {
    snprintf(err, errlen, "out of memory");
    return AR_EINTERNAL;
  }
  a->id = id;
  snprintf(a->name, sizeof(a->name), "%s", conf->name);
  a->policy = (ar_policy_t)conf->policy;
  a->size = conf->size;
  a->pools = pools;
  a->perm = (ad_perm_t){(uint32_t)conf->owner, (uint32_t)conf->group,
                        (uint32_t)conf->mode};
  a->quota = (ad_quota_t){conf->quota_bytes, conf->quota_blocks};
  a->seg.fd = -1;
  a->seg.ro_fd = -1;

  int rc = ad_blocktab_init(&a->table);
  if (rc < 0) {
    snprintf(err, errlen, "out of memory");
    free(a);
    return rc;
  }
  rc = ad_segment_create(&a->seg, a->name, a->size, err, errlen);
  if (rc == 0) {
    rc = ar_engine_create(a->policy, a->size, a->seg.base, &a->engine);
    if (rc == AR_EINVAL)
      snprintf(err, errlen, "the %s engine refused a size of %llu bytes",
               ar_policy_name(a->policy), (unsigned long long)a->size);
    else if (rc < 0)
      snprintf(err, errlen, "cannot make the %s engine's index: %s",
               ar_policy_name(a->policy), ar_strerror(rc));
  }
  if (rc < 0) {
    ad_arena_destroy(a);
    return rc;
  }
  *out = a;
  return 0;
}

void ad_arena_destroy(ad_arena_t *a) {
  if (a == NULL)
    return;
  if (a->table.slots != NULL) {
    for (size_t i = 0; i < ad_blocktab_slots(&a->table); i++) {
      ad_block_t *blk = ad_blocktab_at(&a->table, i);
      if (blk == NULL)
        continue;
      while (blk->holds != NULL)
        ad_hold_drop_all(a->pools, blk->holds);
      ad_block_undetach(blk);
      ad_block_delete(a->pools, blk);
    }
    ad_blocktab_fini(&a->table);
  }
  ar_engine_destroy(a->engine);
  ad_segment_destroy(&a->seg);
  free(a);
}

/* Sets the block detached, so that it lives on with no holder. */
static void make_detached(ad_arena_t *a, ad_block_t *blk) {
  if (!blk->detached) {
    blk->detached = true;
    blk->refcount++;
    a->detached_blocks++;
    a->detached_bytes += blk->size;
  }
}

/* Drops the references `hold` stands for (one, or all of them), or the
 * detached one when hold is NULL, the engine freeing the block first when
 * they are the last. Returns 0 or the engine's error (nothing changed). */
static int drop_ref(ad_arena_t *a, ad_block_t *blk, ad_hold_t *hold,
                    bool all, ad_freed_t *freed) {
  uint32_t k = hold != NULL && all ? hold->refs : 1;
  if (blk->refcount == k) {
    ar_block_t out;
    bool corrupt = false;
    int rc = ar_engine_free(a->engine, blk->payload, &out, &corrupt);
    if (rc < 0)
      return rc;
    freed->blocks++;
    freed->bytes += out.size;
    if (corrupt) {
      freed->corruptions++;
      freed->corrupt_arena = a;
      freed->corrupt_offset = blk->payload;
    }
  }
  if (hold != NULL) {
    if (all)
      ad_hold_drop_all(a->pools, hold);
    else
      ad_hold_drop(a->pools, hold);
  } else {
    ad_block_undetach(blk);
    a->detached_blocks--;
    a->detached_bytes -= blk->size;
  }
  if (blk->refcount == 0) {
    ad_blocktab_remove(&a->table, blk);
    ad_block_delete(a->pools, blk);
  }
  return 0;
}

/* Drops every reference of `hold`; when the engine cannot take the block
 * back for want of memory, the block is kept, detached, rather than lost
 * (or left with no reference). */
static void drop_hold(ad_arena_t *a, ad_hold_t *hold, ad_freed_t *freed) {
  ad_block_t *blk = hold->block;
  if (drop_ref(a, blk, hold, true, freed) < 0) {
    make_detached(a, blk);
    ad_hold_drop_all(a->pools, hold);
    freed->kept++;
  }
}

/* Makes sure a new hold of holder in a, and n new records, cannot fail. */
static int reserve(ad_arena_t *a, ad_holder_t *holder, uint32_t n) {
  if (ad_blocktab_reserve(&a->table, n) < 0 ||
      ad_blocks_reserve(a->pools, n, holder != NULL ? (n ? n : 1) : 0) < 0 ||
      (holder != NULL && ad_holder_reserve(holder) < 0))
    return AR_EINTERNAL;
  return 0;
}

int ad_arena_alloc(ad_arena_t *a, ad_holder_t *holder, uint64_t n,
                   uint64_t align, uint32_t count, uint64_t *offsets,
                   uint64_t *kept) {
  if (reserve(a, holder, count) < 0)
    return AR_EINTERNAL;

  for (uint32_t i = 0; i < count; i++) {
    ar_block_t b;
    int rc = ar_engine_alloc(a->engine, n, align, &b);
    if (rc < 0) {
      /* All or nothing: give back the ones placed, newest first. */
      ad_freed_t back = {0};
      while (i-- > 0) {
        ad_block_t *blk = ad_blocktab_find(&a->table, offsets[i]);
        if (holder != NULL)
          drop_hold(a, blk->holds, &back);
        else if (drop_ref(a, blk, NULL, false, &back) < 0)
          back.kept++; /* it stays as it was: detached */
      }
      *kept += back.kept;
      return rc;
    }
    ad_block_t *blk = ad_block_new(a->pools, b.payload, a, false);
    blk->size = b.size;
    ad_blocktab_insert(&a->table, blk);
    if (holder != NULL)
      ad_hold_add(a->pools, blk, holder);
    else
      make_detached(a, blk);
    offsets[i] = b.payload;
  }
  return 0;
}

int ad_arena_free(ad_arena_t *a, ad_holder_t *holder, uint64_t payload,
                  ad_freed_t *freed) {
  ad_block_t *blk = ad_blocktab_find(&a->table, payload);
  if (blk == NULL) {
    /* Not ours, so not the engine's either: let it refuse and count the
     * bad free. Should it accept, the records had lost a block. */
    int rc = ar_engine_free(a->engine, payload, NULL, NULL);
    return rc == 0 ? AR_EINTERNAL : rc;
  }
  ad_hold_t *hold = ad_block_hold_of(blk, holder);
  if (hold == NULL && !blk->detached)
    return AR_EPERM;
  return drop_ref(a, blk, hold, false, freed);
}

int ad_arena_retain(ad_arena_t *a, ad_holder_t *holder, uint64_t payload,
                    uint32_t *refcount) {
  ad_block_t *blk = ad_blocktab_find(&a->table, payload);
  if (blk == NULL)
    return AR_EINVAL;
  if (blk->refcount == UINT32_MAX)
    return AR_ELIMIT;
  if (reserve(a, holder, 0) < 0)
    return AR_EINTERNAL;
  ad_hold_add(a->pools, blk, holder);
  *refcount = blk->refcount;
  return 0;
}

int ad_arena_release(ad_arena_t *a, ad_holder_t *holder, uint64_t payload,
                     ad_freed_t *freed, uint32_t *refcount) {
  ad_block_t *blk = ad_blocktab_find(&a->table, payload);
  if (blk == NULL)
    return AR_EINVAL;
  ad_hold_t *hold = ad_block_hold_of(blk, holder);
  if (hold == NULL)
    return AR_EPERM;
  uint32_t left = blk->refcount - 1; /* blk may go with the last one */
  int rc = drop_ref(a, blk, hold, false, freed);
  if (rc == 0)
    *refcount = left;
  return rc;
}

int ad_arena_transfer(ad_arena_t *a, ad_holder_t *from, ad_holder_t *to,
                      uint64_t payload, uint32_t *refcount) {
  ad_block_t *blk = ad_blocktab_find(&a->table, payload);
  if (blk == NULL)
    return AR_EINVAL;
  if (to == from)
    return AR_EINVAL;
  ad_hold_t *hold = ad_block_hold_of(blk, from);
  if (hold == NULL)
    return AR_EPERM;
  if (blk->refcount == UINT32_MAX) /* the one added before the drop */
    return AR_ELIMIT;
  if (reserve(a, to, 0) < 0)
    return AR_EINTERNAL;
  ad_hold_add(a->pools, blk, to); /* first: never fewer references */
  ad_hold_drop(a->pools, hold);   /* not the last: `to` holds one */
  *refcount = blk->refcount;
  return 0;
}

/* The quota check of a holder (NULL: the detached blocks) adding `add`. */
static int quota_check(const ad_arena_t *a, const ad_holder_t *holder,
                       const ad_usage_t *add, char *msg, size_t len) {
  if (a->quota.bytes == 0 && a->quota.blocks == 0)
    return 0;
  ad_usage_t used = holder != NULL
                        ? ad_holder_usage(holder, a)
                        : (ad_usage_t){a->detached_bytes, a->detached_blocks};
  return ad_quota_check(&a->quota, &used, add, msg, len);
}

int ad_arena_quota_alloc(const ad_arena_t *a, const ad_holder_t *holder,
                         uint64_t n, uint64_t align, uint32_t count,
                         char *msg, size_t len) {
  uint64_t size = ar_engine_block_size(a->engine, n, align);
  if (size > a->size)
    return 0; /* it cannot fit at all: the allocation says so */
  ad_usage_t add = {size, count};
  if (size != 0 && count > UINT64_MAX / size)
    add.bytes = UINT64_MAX; /* over any quota */
  else
    add.bytes = size * count;
  return quota_check(a, holder, &add, msg, len);
}

int ad_arena_quota_hold(const ad_arena_t *a, const ad_holder_t *holder,
                        const ad_block_t *blk, char *msg, size_t len) {
  if (ad_block_hold_of(blk, holder) != NULL)
    return 0;
  ad_usage_t add = {blk->size, 1};
  return quota_check(a, holder, &add, msg, len);
}

bool ad_holder_reclaim_some(ad_holder_t *holder, uint64_t max_holds,
                            ad_freed_t *freed) {
  ad_hold_t *hold;
  for (uint64_t i = 0; i < max_holds; i++) {
    if ((hold = ad_holder_first(holder)) == NULL)
      return true;
    drop_hold(hold->block->arena, hold, freed);
  }
  return ad_holder_first(holder) == NULL;
}

void ad_holder_reclaim(ad_holder_t *holder, ad_freed_t *freed) {
  (void)ad_holder_reclaim_some(holder, UINT64_MAX, freed);
}

uint64_t ad_arena_overwritten(const ad_arena_t *a, uint64_t *lowest) {
  uint64_t count = 0;
  *lowest = 0;
  for (size_t i = 0; i < ad_blocktab_slots(&a->table); i++) {
    const ad_block_t *blk = ad_blocktab_at(&a->table, i);
    ar_block_t b;
    if (blk == NULL || ar_engine_find(a->engine, blk->payload, &b) < 0 ||
        ar_engine_header_intact(a->engine, &b))
      continue;
    if (count++ == 0 || blk->payload < *lowest)
      *lowest = blk->payload;
  }
  return count;
}

int ad_arena_check(const ad_arena_t *a, ar_check_report_t *report) {
  int rc = ar_engine_check(a->engine, report);
  if (rc < 0)
    return rc;

  ar_engine_stats_t st;
  ar_engine_stats(a->engine, &st);
  if (st.live_blocks != ad_blocktab_count(&a->table))
    return ar_check_fail(report, "daemon-record-per-block", 0,
                         "the engine has %llu live blocks, the daemon %zu "
                         "records",
                         (unsigned long long)st.live_blocks,
                         ad_blocktab_count(&a->table));

  uint64_t detached = 0, detached_bytes = 0;
  for (size_t i = 0; i < ad_blocktab_slots(&a->table); i++) {
    const ad_block_t *blk = ad_blocktab_at(&a->table, i);
    if (blk == NULL)
      continue;
    ar_block_t b;
    if (ar_engine_find(a->engine, blk->payload, &b) < 0)
      return ar_check_fail(report, "daemon-record-is-live-block", blk->payload,
                           "a record names payload %llu, which the engine does "
                           "not have",
                           (unsigned long long)blk->payload);
    const char *broken = ad_blocks_check_block(blk);
    if (broken == NULL && blk->arena != a)
      broken = "record-in-its-arena";
    if (broken == NULL && blk->size != b.size)
      broken = "record-size-is-block-size";
    if (broken != NULL)
      return ar_check_fail(report, broken, blk->payload,
                           "the record of the block at %llu breaks %s",
                           (unsigned long long)blk->payload, broken);
    detached += blk->detached;
    detached_bytes += blk->detached ? blk->size : 0;
  }
  if (detached != a->detached_blocks || detached_bytes != a->detached_bytes)
    return ar_check_fail(report, "daemon-detached-count", 0,
                         "%llu records are detached (%llu bytes), the counts "
                         "say %llu (%llu bytes)",
                         (unsigned long long)detached,
                         (unsigned long long)detached_bytes,
                         (unsigned long long)a->detached_blocks,
                         (unsigned long long)a->detached_bytes);
  return 0;
}
