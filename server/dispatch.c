/*
 * dispatch.c: the envelope around every handler (see dispatch.h): which
 * handler answers which kind, the counters of requests by kind and of
 * errors by status, the body rule on errors; and the helpers every
 * handler uses to find its arena and refuse what the caller may not do,
 * so that each refusal is counted and logged the same way.
 */
#include "dispatch.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ar/protocol.h"
#include "audit.h"
#include "log.h"

/* Sets the reply's message from fmt and ap; returns code. */
static int vfail(ad_call_t *call, int code, const char *fmt, va_list ap) {
  char buf[AD_MESSAGE_MAX + 1];
  vsnprintf(buf, sizeof(buf), fmt, ap);
  char *msg = ad_scratch_printf(call->s, "%s", buf);
  call->resp->message = msg != NULL ? msg : (char *)"";
  return code;
}

int ad_fail(ad_call_t *call, int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vfail(call, code, fmt, ap);
  va_end(ap);
  return code;
}

const char *ad_call_clean(ad_call_t *call, const char *s, size_t max) {
  size_t n = strnlen(s, max);
  char *out = ad_scratch_alloc(call->s, n + 1);
  if (out == NULL)
    return "";
  for (size_t i = 0; i < n; i++)
    out[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
  out[n] = '\0';
  return out;
}

int ad_call_no_arena(ad_call_t *call, const char *name) {
  return ad_fail(call, AR_ENOENT, "no arena named '%s'",
                 ad_call_clean(call, name, AD_ARENA_NAME_MAX + 8));
}

void ad_call_count_denied(ad_call_t *call, ad_arena_t *a, const char *arena,
                          const char *reason) {
  if (a != NULL)
    a->permission_denied++;
  call->d->stats.permission_denied++;
  ad_audit_denied(call->d, call->c, call->kind, arena, reason);
}

int ad_call_deny(ad_call_t *call, ad_arena_t *a, const char *arena,
                 const char *reason, const char *fmt, ...) {
  ad_call_count_denied(call, a, arena, reason);
  va_list ap;
  va_start(ap, fmt);
  vfail(call, AR_EPERM, fmt, ap);
  va_end(ap);
  return AR_EPERM;
}

int ad_call_may(ad_call_t *call, ad_arena_t *a, unsigned need) {
  ad_cred_t cred = ad_conn_cred(call->c);
  if (need == 0 || ad_access_allows(&a->perm, &cred, need))
    return 0;
  const char *reason = need == AD_MAY_READ    ? "need-read"
                       : need == AD_MAY_WRITE ? "need-write"
                                              : "need-read-write";
  return ad_call_deny(call, a, a->name, reason,
                      "%s on arena '%s' needs %s access; the arena is mode "
                      "%04o, owner %u, group %u, and this connection is "
                      "uid %u",
                      call->kind, a->name, ad_access_need_name(need),
                      (unsigned)a->perm.mode, (unsigned)a->perm.owner,
                      (unsigned)a->perm.group, (unsigned)cred.uid);
}

int ad_call_find(ad_call_t *call, const char *name, ad_arena_t **out) {
  ad_arena_t *a = ad_daemon_arena(call->d, name);
  if (a == NULL)
    return ad_call_no_arena(call, name);
  if (ad_conn_stale(call->c, a)) {
    if (call->c->stale_all)
      return ad_fail(call, AR_ENOENT,
                     "more than %d arenas were destroyed after this "
                     "connection used them (or the daemon had no memory to "
                     "note one), so it cannot "
                     "tell which names are stale: attach arena '%s' to use "
                     "it (a client that still maps an arena of that name "
                     "detaches first)",
                     AD_STALE_MAX, a->name);
    return ad_fail(call, AR_ENOENT,
                   "arena '%s' was destroyed after this connection used it "
                   "(attached it, held blocks in it or named it in a "
                   "request); attach it again (a client that still maps it "
                   "detaches first)",
                   a->name);
  }
  *out = a;
  return 0;
}

int ad_call_open(ad_call_t *call, const char *name, unsigned need,
                 ad_arena_t **out) {
  ad_arena_t *a;
  int rc = ad_call_find(call, name, &a);
  if (rc < 0)
    return rc;
  rc = ad_call_may(call, a, need);
  if (rc < 0)
    return rc;
  ad_conn_used(call->c, a);
  *out = a;
  return 0;
}

int ad_call_over_quota(ad_call_t *call, ad_arena_t *a,
                       const ad_conn_t *target, bool detached,
                       const char *detail) {
  a->quota_refused++;
  call->d->stats.quota_refused++;
  ad_audit_quota(call->d, call->c, call->kind, a, target, detached, detail);
  if (detached)
    return ad_fail(call, AR_ELIMIT, "arena '%s', its detached blocks: %s",
                   a->name, detail);
  if (target != NULL)
    return ad_fail(call, AR_ELIMIT,
                   "arena '%s', the quota of connection %llu: %s", a->name,
                   (unsigned long long)target->id, detail);
  return ad_fail(call, AR_ELIMIT, "arena '%s': %s", a->name, detail);
}

int ad_call_block_failed(ad_call_t *call, const ad_arena_t *a, int rc,
                         uint64_t offset) {
  unsigned long long off = (unsigned long long)offset;
  switch (rc) {
  case AR_EINVAL:
    return ad_fail(call, rc, "offset %llu is not a live block of arena '%s'",
                   off, a->name);
  case AR_EPERM: {
    /* A reference refusal, not an access one: no access bits give a
     * reference, so the arena's mode, owner and group would mislead. Says
     * where the block's references are and how a connection gets one. */
    const ad_block_t *blk = ad_arena_block(a, offset);
    bool held = blk != NULL && blk->holds != NULL;
    bool detached = blk != NULL && blk->detached;
    const char *where =
        held && detached ? "other connections hold it, and it is detached: "
                           "a free with write access drops the detached "
                           "reference"
        : detached       ? "it is detached: a free with write access drops "
                           "the detached reference"
                         : "other connections hold it";
    return ad_fail(call, rc,
                   "%s of the block at %llu in arena '%s' needs a reference "
                   "to it, and this connection holds none (%s); a "
                   "connection gets one by alloc, by retain (read access) "
                   "or by a transfer from a holder, not by access alone",
                   call->kind, off, a->name, where);
  }
  case AR_ELIMIT: /* retain and transfer: the block's count is full */
    call->d->stats.references_refused_limit++;
    return ad_fail(call, rc,
                   "the block at %llu has %u references, the most "
                   "it can have",
                   off, (unsigned)UINT32_MAX);
  default:
    return ad_fail(call, rc, "cannot %s %llu: %s", call->kind, off,
                   ar_strerror(rc));
  }
}

Arenad__Access *ad_call_access(ad_call_t *call, const ad_arena_t *a) {
  Arenad__Access *acc;
  if (!AD_NEW(call, acc, arenad__access__init))
    return NULL;
  acc->mode = a->perm.mode;
  acc->owner_uid = a->perm.owner;
  acc->group_gid = a->perm.group;
  return acc;
}

int ad_call_arena_info(ad_call_t *call, const ad_arena_t *a,
                       Arenad__ArenaInfo *info) {
  ar_engine_stats_t st;
  ar_engine_stats(a->engine, &st);
  arenad__arena_info__init(info);
  info->name = (char *)a->name;
  info->size = a->size;
  info->policy = ad_wire_policy(a->policy);
  info->used_bytes = st.used_bytes;
  info->free_bytes = st.free_bytes;
  info->live_blocks = st.live_blocks;
  info->quota_bytes = a->quota.bytes;
  info->quota_blocks = a->quota.blocks;
  info->access = ad_call_access(call, a);
  return info->access != NULL ? 0 : AR_EINTERNAL;
}

/* The name of a request kind, from the schema. */
static const char *kind_name(int kind) {
  const char *name = ar_wire_kind_name(kind);
  return name != NULL ? name : "unknown";
}

void ad_dispatch(ad_call_t *call, const Arenad__Request *req) {
  ad_daemon_t *d = call->d;
  Arenad__Response *resp = call->resp;
  int kind = (int)req->body_case;
  int rc;

  resp->id = req->id;
  call->kind = kind_name(kind);
  switch (req->body_case) {
  case ARENAD__REQUEST__BODY_HELLO:
    rc = ad_do_hello(call, req->hello);
    break;
  case ARENAD__REQUEST__BODY_PING:
    rc = ad_do_ping(call, req->ping);
    break;
  case ARENAD__REQUEST__BODY_LIST:
    rc = ad_do_list(call, req->list);
    break;
  case ARENAD__REQUEST__BODY_ATTACH:
    rc = ad_do_attach(call, req->attach);
    break;
  case ARENAD__REQUEST__BODY_INSPECT:
    rc = ad_do_inspect(call, req->inspect);
    break;
  case ARENAD__REQUEST__BODY_CHECK:
    rc = ad_do_check(call, req->check);
    break;
  case ARENAD__REQUEST__BODY_ALLOC:
    rc = ad_do_alloc(call, req->alloc);
    break;
  case ARENAD__REQUEST__BODY_FREE:
    rc = ad_do_free(call, req->free);
    break;
  case ARENAD__REQUEST__BODY_STATS:
    rc = ad_do_stats(call, req->stats);
    break;
  case ARENAD__REQUEST__BODY_RETAIN:
    rc = ad_do_retain(call, req->retain);
    break;
  case ARENAD__REQUEST__BODY_RELEASE:
    rc = ad_do_release(call, req->release);
    break;
  case ARENAD__REQUEST__BODY_TRANSFER:
    rc = ad_do_transfer(call, req->transfer);
    break;
  case ARENAD__REQUEST__BODY_CREATE_ARENA:
    rc = ad_do_create_arena(call, req->create_arena);
    break;
  case ARENAD__REQUEST__BODY_DESTROY_ARENA:
    rc = ad_do_destroy_arena(call, req->destroy_arena);
    break;
  default:
    kind = AD_KIND_UNKNOWN;
    call->kind = "unknown";
    rc = ad_fail(call, AR_EINVAL,
                 "the request has no body, or a kind arenad %s does not know",
                 AR_VERSION);
    break;
  }

  /* A handler whose reply did not fit in the scratch cap failed with
   * AR_EINTERNAL and no sentence (there was no memory left for one); the
   * handlers allocate their reply before they change anything. */
  if (rc == AR_EINTERNAL && call->s->refused > 0) {
    d->stats.scratch_exhausted++;
    rc = AR_ELIMIT;
    resp->message = (char *)"the reply needs more working memory than the "
                            "daemon gives one request";
  }
  /* Every other AR_EINTERNAL is a malloc that failed (an engine's index,
   * a hold, the arena list's bound), most with no memory left to say so:
   * the client still learns why. */
  if (rc == AR_EINTERNAL && (resp->message == NULL || resp->message[0] == '\0'))
    resp->message = (char *)"the daemon is out of memory for this request; "
                            "it may succeed later";
  d->stats.requests[kind < AD_KIND_SLOTS ? kind : AD_KIND_UNKNOWN]++;
  resp->status = ar_wire_status(rc);
  if (rc != 0) {
    d->stats.errors[resp->status]++;
    if (resp->body_case != ARENAD__RESPONSE__BODY_HELLO &&
        resp->body_case != ARENAD__RESPONSE__BODY_FREE &&
        resp->body_case != ARENAD__RESPONSE__BODY_CHECK)
      resp->body_case = ARENAD__RESPONSE__BODY__NOT_SET;
  }
  if (ad_log_enabled(AD_LOG_DEBUG))
    ad_log(AD_LOG_DEBUG, "request", "conn=%llu id=%llu kind=%s status=%d",
           (unsigned long long)call->c->id, (unsigned long long)req->id,
           kind_name(kind), (int)resp->status);
}
