/*
 * arena.h: one named arena as the daemon runs it: a segment (the memfd and
 * its mapping), the policy engine that places blocks in it, the records of
 * who holds each live block (blocks.h), and who may use it (its
 * permissions and quotas, access.h). Requests reach an arena through the
 * functions below, which keep the engine and the records in step: a block
 * is in the engine exactly when it has a record. Who may call them is the
 * caller's business (dispatch asks access.h first); the quota functions
 * only say whether a request would fit. The arena does no arithmetic on
 * free space (the engine's job) and no I/O besides creating its segment.
 */
#ifndef AD_ARENA_H
#define AD_ARENA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "access.h"
#include "ar/engine.h"
#include "blocks.h"
#include "config.h"
#include "segment.h"

typedef struct ad_arena_s {
  uint64_t id; /* unique for the daemon's life, never reused: a
                  connection's attachment names an arena by id */
  unsigned slot; /* below AD_ARENAS_MAX, no other live arena's: its bit
                    in a connection's `used` (conn.h); set by the daemon */
  char name[AD_ARENA_NAME_MAX + 1];
  ar_policy_t policy;
  uint64_t size;
  ad_segment_t seg;
  ar_engine_t *engine;  /* owned; writes block headers in seg */
  ad_blocktab_t table;  /* payload -> record, one per live block */
  ad_blocks_t *pools;   /* the daemon's; borrowed */

  ad_perm_t perm;        /* owner, group and mode, from its conf */
  ad_quota_t quota;      /* per holder, and for the detached blocks */

  /* Counters and gauges (ArenaSummary's daemon fields). */
  uint64_t detached_blocks;      /* now */
  uint64_t detached_bytes;       /* now: their block bytes (the quota's) */
  uint32_t attached_connections; /* now: connections that attached */
  uint64_t permission_denied;    /* requests on it refused (dispatch) */
  uint64_t quota_refused;        /* requests on it over quota (dispatch) */
} ad_arena_t;

/*
 * Creates the arena `conf` describes: segment, engine and an empty table,
 * with conf's mode, owner and group (which must be ids, not AD_ID_NONE)
 * and quotas. Returns 0 and stores it in *out (freed with
 * ad_arena_destroy); AR_ENOMEM
 * when the segment's memory cannot be reserved; AR_ELIMIT when the process
 * has no descriptor to spare for it; AR_EINVAL for a size the engine
 * refuses; AR_EINTERNAL otherwise. On an error err says why.
 */
int ad_arena_create(const ad_arena_conf_t *conf, uint64_t id,
                    ad_blocks_t *pools, ad_arena_t **out, char *err,
                    size_t errlen);

/* Drops every record (and its holds, from whatever holder has them), then
 * frees the engine and the segment. NULL is allowed. */
void ad_arena_destroy(ad_arena_t *a);

/*
 * Allocates `count` blocks of n bytes aligned to `align`, all or nothing,
 * held by `holder`, or detached when holder is NULL. Stores the payload
 * offsets in offsets[0..count). Returns 0; AR_EINVAL for a bad n or align;
 * AR_ENOMEM when they do not all fit (the ones placed are freed again);
 * AR_EINTERNAL when the daemon's own memory runs out. Nothing changes on
 * an error (but the next-fit rover, see AllocRequest in the proto), except
 * that a block placed before the error that the engine cannot take back
 * for want of memory is kept, detached, and counted in *kept.
 */
int ad_arena_alloc(ad_arena_t *a, ad_holder_t *holder, uint64_t n,
                   uint64_t align, uint32_t count, uint64_t *offsets,
                   uint64_t *kept);

/* What a free or a reclamation did. Zero-initialise ({0}) before the
 * first call; calls add to it. */
typedef struct ad_freed_s {
  uint64_t blocks;      /* blocks that went back to the free space */
  uint64_t bytes;       /* their block bytes */
  uint64_t corruptions; /* of those, blocks whose header was overwritten */
  const struct ad_arena_s *corrupt_arena; /* the latest such block's, */
  uint64_t corrupt_offset;                /* and its payload offset */
  /* blocks whose last reference went but which the engine could not take
   * back for want of memory: kept, detached */
  uint64_t kept;
} ad_freed_t;

/*
 * Drops one of holder's references to the block at `payload`; when holder
 * holds none and the block is detached, drops the detached reference
 * instead. When the last reference goes, the engine frees the block
 * (adding it to *freed). Returns 0; AR_EINVAL when payload is not a live
 * block's (unknown, misaligned, already freed; the engine counts it as a
 * bad free); AR_EPERM when others hold it and holder does not;
 * AR_EINTERNAL when the engine's memory runs out (nothing changes).
 */
int ad_arena_free(ad_arena_t *a, ad_holder_t *holder, uint64_t payload,
                  ad_freed_t *freed);

/*
 * Takes one more reference to the live block at `payload` for holder
 * (which may hold it already, or not; the block may be detached) and
 * stores the block's references after in *refcount. Returns 0; AR_EINVAL
 * when payload is not a live block's; AR_ELIMIT when the block has
 * UINT32_MAX references; AR_EINTERNAL when memory runs out. The quota is
 * the caller's to check first (ad_arena_quota_hold).
 */
int ad_arena_retain(ad_arena_t *a, ad_holder_t *holder, uint64_t payload,
                    uint32_t *refcount);

/*
 * Drops one of holder's references to the block at `payload` (never the
 * detached one), freeing the block when it was the last (added to
 * *freed), and stores the references left in *refcount. Returns 0;
 * AR_EINVAL when payload is not a live block's; AR_EPERM when holder holds
 * no reference to it; AR_EINTERNAL as ad_arena_free.
 */
int ad_arena_release(ad_arena_t *a, ad_holder_t *holder, uint64_t payload,
                     ad_freed_t *freed, uint32_t *refcount);

/*
 * Moves one of from's references to the block at `payload` to `to` (not
 * from): to's is added before from's is dropped, so the block never has
 * fewer references, and its refcount (stored in *refcount) does not
 * change. Returns 0; AR_EINVAL when payload is not a live block's or to is
 * from; AR_EPERM when from holds no reference to it; AR_EINTERNAL when
 * memory runs out (nothing changes). The quota of `to` is the caller's to
 * check first (ad_arena_quota_hold).
 */
int ad_arena_transfer(ad_arena_t *a, ad_holder_t *from, ad_holder_t *to,
                      uint64_t payload, uint32_t *refcount);

/*
 * Whether `count` new blocks of n bytes at alignment `align` fit in the
 * quota of holder, or of the arena's detached blocks when holder is NULL.
 * Returns 0, or AR_ELIMIT with a sentence in msg (len bytes) giving the
 * quota, the use and the request (access.h's ad_quota_check). Arguments
 * the engine would refuse pass here: the allocation reports them.
 */
int ad_arena_quota_alloc(const ad_arena_t *a, const ad_holder_t *holder,
                         uint64_t n, uint64_t align, uint32_t count,
                         char *msg, size_t len);

/* Whether holder may take a hold on blk (a live block of a) within its
 * quota: always when it holds blk already. Returns 0 or AR_ELIMIT, as
 * ad_arena_quota_alloc. */
int ad_arena_quota_hold(const ad_arena_t *a, const ad_holder_t *holder,
                        const ad_block_t *blk, char *msg, size_t len);

/*
 * Drops every reference `holder` holds, in every arena (its holds say
 * which), freeing the blocks whose last reference that was. Adds what was
 * freed to *freed. A block the engine cannot free for want of memory is
 * kept, detached, rather than lost.
 */
void ad_holder_reclaim(ad_holder_t *holder, ad_freed_t *freed);

/* The same for up to max_holds of holder's holds (each with all its
 * references), the most recent first, so that a large holder can be
 * reclaimed a slice at a time (reclaim.h). Returns whether holder holds
 * nothing now. */
bool ad_holder_reclaim_some(ad_holder_t *holder, uint64_t max_holds,
                            ad_freed_t *freed);

/* The record of the live block at payload, or NULL. */
static inline ad_block_t *ad_arena_block(const ad_arena_t *a,
                                         uint64_t payload) {
  return ad_blocktab_find(&a->table, payload);
}

/*
 * The engine's integrity check, then the daemon's own: every record is a
 * live block of the engine and keeps the invariants of blocks.h, there is
 * one record per live block, and the detached count is right. Returns 0,
 * or AR_ECORRUPT with *report filled. O(blocks).
 */
int ad_arena_check(const ad_arena_t *a, ar_check_report_t *report);

/* The live blocks of a whose header a client has overwritten (client
 * memory, which the check above does not judge): how many, and the lowest
 * payload among them in *lowest (0 when none). Reads each header in the
 * segment, once. O(blocks). */
uint64_t ad_arena_overwritten(const ad_arena_t *a, uint64_t *lowest);

#endif /* AD_ARENA_H */
