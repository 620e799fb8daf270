/*
 * dispatch_block.c: the requests that change blocks, with write access:
 * alloc (one or several blocks of one size, all or nothing, held by the
 * connection or detached, within the quota and the daemon's
 * max_live_blocks) and free (one or several offsets, each on its own,
 * the reply naming the ones whose block went back with its header
 * overwritten; a refusal counted once a request). These are the hot
 * path: on success they format nothing and allocate only scratch memory.
 */
#include "audit.h"
#include "dispatch.h"

int ad_do_alloc(ad_call_t *call, const Arenad__AllocRequest *m) {
  ad_daemon_t *d = call->d;
  ad_arena_t *a;
  int rc = ad_call_open(call, m->arena, AD_MAY_WRITE, &a);
  if (rc < 0)
    return rc;

  uint32_t count = m->count != 0 ? m->count : 1;
  uint64_t align = m->alignment != 0 ? m->alignment : AR_ALIGN_MIN;
  if (count > d->cfg->max_blocks_per_request) {
    d->stats.blocks_per_request_refused++;
    return ad_fail(call, AR_ELIMIT,
                   "count %u is over the limit of %llu blocks per request",
                   count, (unsigned long long)d->cfg->max_blocks_per_request);
  }
  if (m->size == 0 || m->size > AR_N_MAX)
    return ad_fail(call, AR_EINVAL, "size %llu is not from 1 to %llu bytes",
                   (unsigned long long)m->size, (unsigned long long)AR_N_MAX);
  if (!ar_align_valid(align))
    return ad_fail(call, AR_EINVAL,
                   "alignment %llu is not a power of two from %d to %d",
                   (unsigned long long)align, AR_ALIGN_MIN, AR_ALIGN_MAX);
  /* The quota before the daemon's limit: a request over both is the
   * connection's own doing, refused (and counted) as over its quota. */
  ad_holder_t *holder = m->detached ? NULL : &call->c->holder;
  char why[256];
  rc = ad_arena_quota_alloc(a, holder, m->size, align, count, why, sizeof(why));
  if (rc < 0)
    return ad_call_over_quota(call, a, NULL, m->detached, why);
  uint64_t live = d->pools.live; /* block records: never drifts from the
                                    engines, whatever a rollback kept */
  uint64_t max_live = d->cfg->max_live_blocks;
  if (max_live != 0 && (live > max_live || count > max_live - live)) {
    d->stats.blocks_refused_limit++;
    return ad_fail(call, AR_ELIMIT,
                   "the daemon holds %llu live blocks and allows %llu "
                   "(max_live_blocks): no room for %u more",
                   (unsigned long long)live, (unsigned long long)max_live,
                   count);
  }

  Arenad__AllocReply *rep;
  uint64_t *offsets = ad_scratch_alloc(call->s, count * sizeof(uint64_t));
  if (offsets == NULL || !AD_NEW(call, rep, arenad__alloc_reply__init))
    return AR_EINTERNAL;
  rep->offsets = offsets;
  rep->n_offsets = count;
  call->resp->body_case = ARENAD__RESPONSE__BODY_ALLOC;
  call->resp->alloc = rep;

  /* The reply's room in the output first: blocks placed and then not
   * reported would stay allocated with no one told where, a detached one
   * for good. Every offset is below the arena's size, which stands in for
   * each while the room is measured. */
  for (uint32_t i = 0; i < count; i++)
    offsets[i] = a->size;
  if (ad_conn_reserve_reply(call->c,
                            arenad__response__get_packed_size(call->resp)) < 0)
    return ad_fail(call, AR_EINTERNAL,
                   "the daemon has no memory for the reply: nothing was "
                   "allocated");

  rc = ad_arena_alloc(a, holder, m->size, align, count, offsets,
                      &d->stats.blocks_kept_no_memory);
  if (rc == AR_ENOMEM)
    return ad_fail(call, rc, "arena '%s' has no room for %u block%s of %llu "
                   "bytes", a->name, count, count == 1 ? "" : "s",
                   (unsigned long long)m->size);
  if (rc < 0)
    return ad_fail(call, rc, "cannot allocate: %s", ar_strerror(rc));

  d->stats.blocks_allocated += count;
  return 0;
}

int ad_do_free(ad_call_t *call, const Arenad__FreeRequest *m) {
  ad_daemon_t *d = call->d;
  ad_arena_t *a;
  int rc = ad_call_open(call, m->arena, AD_MAY_WRITE, &a);
  if (rc < 0)
    return rc;
  if (m->n_offsets > d->cfg->max_blocks_per_request) {
    d->stats.blocks_per_request_refused++;
    return ad_fail(call, AR_ELIMIT,
                   "%zu offsets are over the limit of %llu blocks per request",
                   m->n_offsets,
                   (unsigned long long)d->cfg->max_blocks_per_request);
  }

  Arenad__FreeReply *rep;
  Arenad__Status *statuses =
      ad_scratch_alloc(call->s, m->n_offsets * sizeof(*statuses));
  uint32_t *overwritten =
      ad_scratch_alloc(call->s, m->n_offsets * sizeof(*overwritten));
  if (statuses == NULL || overwritten == NULL ||
      !AD_NEW(call, rep, arenad__free_reply__init))
    return AR_EINTERNAL;
  call->resp->body_case = ARENAD__RESPONSE__BODY_FREE;
  call->resp->free = rep;
  rep->overwritten = overwritten; /* n_overwritten stays 0 until one is */

  ad_freed_t freed = {0};
  int first = 0;
  bool denied = false;
  for (size_t i = 0; i < m->n_offsets; i++) {
    uint64_t corruptions = freed.corruptions;
    rc = ad_arena_free(a, &call->c->holder, m->offsets[i], &freed);
    statuses[i] = ar_wire_status(rc);
    if (rc == 0) {
      rep->freed++;
      if (freed.corruptions != corruptions) /* this offset's block */
        overwritten[rep->n_overwritten++] = (uint32_t)i;
      continue;
    }
    denied |= rc == AR_EPERM;
    if (first == 0)
      first = ad_call_block_failed(call, a, rc, m->offsets[i]);
  }
  /* permission_denied counts requests, as the errors by status do: once,
   * however many offsets were refused (the engine counts each bad free). */
  if (denied)
    ad_call_count_denied(call, a, a->name, "not-a-holder");
  rep->reclaimed = (uint32_t)freed.blocks;
  d->stats.blocks_freed += freed.blocks;
  ad_audit_corrupt(d, call->c, &freed);
  if (first != 0) {
    rep->statuses = statuses;
    rep->n_statuses = m->n_offsets;
  }
  return first;
}
