/*
 * dispatch_share.c: the requests that share blocks between connections:
 * retain (one more reference for the caller; read access, and room in its
 * quota when the block is new to it), release (one of the caller's
 * references goes; no access needed beyond the reference; the reply says
 * when it was the last and the block's header had been overwritten) and
 * transfer (one of the caller's references goes to the connection that
 * owns a token, one that is not closing; the target needs read access and
 * room in its quota: never the last reference, so it frees nothing).
 * References are counted per connection (blocks.h); the arena does the
 * bookkeeping. A retain or a transfer that would add a hold beside the
 * block's first (a shared hold, 48 bytes of the daemon's memory) must also
 * find room under the daemon's max_shared_holds. The quota is checked
 * first: a request over both is the connection's own doing, refused (and
 * counted) as over its quota.
 */
#include "audit.h"
#include "dispatch.h"

/* Whether `to` taking a reference to blk adds a shared hold, when `from`
 * (NULL for a retain) gives one of its references up: only when `to` holds
 * none yet and someone else does, and not when the reference is from's
 * last, whose hold goes as to's comes. Then the daemon's max_shared_holds
 * must leave room for it: returns 0, or LIMIT_EXCEEDED, counted and with
 * the reply's message. Changes nothing else. */
static int shared_hold_room(ad_call_t *call, const ad_block_t *blk,
                            const ad_holder_t *to, const ad_hold_t *from) {
  ad_daemon_t *d = call->d;
  uint64_t max = d->cfg->max_shared_holds;
  if (max == 0 || blk->holds == NULL || ad_block_hold_of(blk, to) != NULL ||
      (from != NULL && from->refs == 1))
    return 0;
  if (d->pools.shared < max)
    return 0;
  d->stats.holds_refused_limit++;
  return ad_fail(call, AR_ELIMIT,
                 "the daemon keeps %llu holds of blocks beside their first "
                 "holder's and allows %llu (max_shared_holds): no room for "
                 "connection %llu to hold block %llu too",
                 (unsigned long long)d->pools.shared, (unsigned long long)max,
                 (unsigned long long)to->id, (unsigned long long)blk->payload);
}

int ad_do_retain(ad_call_t *call, const Arenad__RetainRequest *m) {
  ad_arena_t *a;
  int rc = ad_call_open(call, m->arena, AD_MAY_READ, &a);
  if (rc < 0)
    return rc;
  const ad_block_t *blk = ad_arena_block(a, m->offset);
  if (blk == NULL)
    return ad_call_block_failed(call, a, AR_EINVAL, m->offset);
  char why[256];
  if (ad_arena_quota_hold(a, &call->c->holder, blk, why, sizeof(why)) < 0)
    return ad_call_over_quota(call, a, NULL, false, why);
  rc = shared_hold_room(call, blk, &call->c->holder, NULL);
  if (rc < 0)
    return rc;

  Arenad__RetainReply *rep;
  if (!AD_NEW(call, rep, arenad__retain_reply__init))
    return AR_EINTERNAL;
  rc = ad_arena_retain(a, &call->c->holder, m->offset, &rep->refcount);
  if (rc < 0)
    return ad_call_block_failed(call, a, rc, m->offset);
  call->d->stats.retains++;
  call->resp->body_case = ARENAD__RESPONSE__BODY_RETAIN;
  call->resp->retain = rep;
  return 0;
}

/* A release or transfer of an offset this connection holds no reference
 * to: refused (rc is AR_EINVAL when no block lives there, AR_EPERM when
 * others' does). A caller that may not read the arena gets one answer for
 * both, so that probing offsets tells it nothing of the arena's blocks,
 * which only read access shows (inspect); one that may read is told which
 * it is. */
static int no_reference(ad_call_t *call, ad_arena_t *a, int rc,
                        uint64_t offset) {
  ad_cred_t cred = ad_conn_cred(call->c);
  if (ad_access_allows(&a->perm, &cred, AD_MAY_READ)) {
    if (rc == AR_EPERM)
      ad_call_count_denied(call, a, a->name, "not-a-holder");
    return ad_call_block_failed(call, a, rc, offset);
  }
  return ad_call_deny(call, a, a->name, "not-a-holder",
                      "%s of offset %llu in arena '%s' needs a reference to "
                      "a block there, and this connection holds none",
                      call->kind, (unsigned long long)offset, a->name);
}

int ad_do_release(ad_call_t *call, const Arenad__ReleaseRequest *m) {
  ad_daemon_t *d = call->d;
  ad_arena_t *a;
  int rc = ad_call_open(call, m->arena, 0, &a);
  if (rc < 0)
    return rc;
  Arenad__ReleaseReply *rep;
  if (!AD_NEW(call, rep, arenad__release_reply__init))
    return AR_EINTERNAL;
  ad_freed_t freed = {0};
  rc = ad_arena_release(a, &call->c->holder, m->offset, &freed,
                        &rep->refcount);
  if (rc == AR_EPERM || rc == AR_EINVAL)
    return no_reference(call, a, rc, m->offset);
  if (rc < 0)
    return ad_call_block_failed(call, a, rc, m->offset);
  d->stats.releases++;
  d->stats.blocks_freed += freed.blocks;
  ad_audit_corrupt(d, call->c, &freed);
  rep->overwritten = freed.corruptions != 0;
  call->resp->body_case = ARENAD__RESPONSE__BODY_RELEASE;
  call->resp->release = rep;
  return 0;
}

int ad_do_transfer(ad_call_t *call, const Arenad__TransferRequest *m) {
  ad_conn_t *c = call->c;
  ad_arena_t *a;
  int rc = ad_call_open(call, m->arena, 0, &a);
  if (rc < 0)
    return rc;
  ad_conn_t *to = ad_daemon_conn_by_token(call->d, m->target_token);
  if (to == NULL)
    return ad_fail(call, AR_ENOENT, "no connection has this token");
  if (to == c)
    return ad_fail(call, AR_EINVAL, "the token is this connection's own");
  if (ad_conn_ending(to))
    return ad_fail(call, AR_ENOENT,
                   "connection %llu is closing: it takes no more blocks",
                   (unsigned long long)to->id);
  if (ad_conn_stale(to, a))
    return ad_fail(call, AR_EINVAL,
                   "connection %llu used an arena '%s' destroyed since; it "
                   "cannot use this one (nor free the block) until it "
                   "attaches it again",
                   (unsigned long long)to->id, a->name);
  const ad_block_t *blk = ad_arena_block(a, m->offset);
  const ad_hold_t *from =
      blk != NULL ? ad_block_hold_of(blk, &c->holder) : NULL;
  if (from == NULL)
    return no_reference(call, a, blk == NULL ? AR_EINVAL : AR_EPERM, m->offset);
  ad_cred_t cred = ad_conn_cred(to);
  if (!ad_access_allows(&a->perm, &cred, AD_MAY_READ))
    return ad_call_deny(call, a, a->name, "target-cannot-read",
                        "connection %llu (uid %u) may not read arena '%s' "
                        "(mode %04o, owner %u, group %u)",
                        (unsigned long long)to->id, (unsigned)cred.uid, a->name,
                        (unsigned)a->perm.mode, (unsigned)a->perm.owner,
                        (unsigned)a->perm.group);
  char why[256];
  if (ad_arena_quota_hold(a, &to->holder, blk, why, sizeof(why)) < 0)
    return ad_call_over_quota(call, a, to, false, why);
  rc = shared_hold_room(call, blk, &to->holder, from);
  if (rc < 0)
    return rc;

  Arenad__TransferReply *rep;
  if (!AD_NEW(call, rep, arenad__transfer_reply__init))
    return AR_EINTERNAL;
  rc = ad_arena_transfer(a, &c->holder, &to->holder, m->offset,
                         &rep->refcount);
  if (rc < 0)
    return ad_call_block_failed(call, a, rc, m->offset);
  rep->target_connection_id = to->id;
  call->d->stats.transfers++;
  call->resp->body_case = ARENAD__RESPONSE__BODY_TRANSFER;
  call->resp->transfer = rep;
  return 0;
}
