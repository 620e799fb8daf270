/*
 * audit.c: the security-relevant log lines (see audit.h). Each function
 * formats one event; the refusals go through the daemon's rate limits.
 */
#include "audit.h"

#include <stdio.h>

#include "daemon.h"
#include "log.h"

#define WHO "conn=%llu pid=%u uid=%u"
#define WHO_ARGS(c)                                                            \
  (unsigned long long)(c)->id, (c)->holder.pid, (c)->holder.uid

void ad_audit_accept(const ad_conn_t *c) {
  ad_log(AD_LOG_INFO, "accept", WHO " gid=%u", WHO_ARGS(c), c->holder.gid);
}

void ad_audit_close(const ad_conn_t *c) {
  char name[AD_CLIENT_NAME_MAX * 4 + 8];
  ad_log(AD_LOG_INFO, "close",
         WHO " name=%s reason=%s requests=%llu bytes_in=%llu bytes_out=%llu "
             "unsent=%llu ms=%llu",
         WHO_ARGS(c), ad_log_str(name, sizeof(name), c->name), c->close_reason,
         (unsigned long long)c->requests, (unsigned long long)c->bytes_in,
         (unsigned long long)c->bytes_out,
         (unsigned long long)(c->out_total - c->out_sent),
         (unsigned long long)(ad_daemon_now_ms() - c->started_ms));
}

void ad_audit_reclaim(const ad_conn_t *c, uint64_t refs, const ad_freed_t *f) {
  ad_log(AD_LOG_INFO, "reclaim",
         WHO " refs=%llu blocks=%llu bytes=%llu corrupt=%llu kept=%llu",
         WHO_ARGS(c), (unsigned long long)refs, (unsigned long long)f->blocks,
         (unsigned long long)f->bytes, (unsigned long long)f->corruptions,
         (unsigned long long)f->kept);
}

void ad_audit_check_failed(const ad_conn_t *c, const ad_arena_t *a,
                           const char *invariant, uint64_t offset,
                           const char *detail) {
  char buf[400];
  ad_log(AD_LOG_ERROR, "check-failed",
         "arena=%s invariant=%s offset=%llu detail=%s " WHO, a->name, invariant,
         (unsigned long long)offset, ad_log_str(buf, sizeof(buf), detail),
         WHO_ARGS(c));
}

void ad_audit_denied(ad_daemon_t *d, const ad_conn_t *c, const char *request,
                     const char *arena, const char *reason) {
  uint64_t suppressed = 0;
  if (!ad_ratelimit_allow(&d->rl_denied, ad_daemon_now_ms(), &suppressed))
    return;
  char name[AD_ARENA_NAME_MAX * 4 + 8];
  ad_log(AD_LOG_WARN, "denied",
         WHO " request=%s arena=%s reason=%s suppressed=%llu", WHO_ARGS(c),
         request, ad_log_str(name, sizeof(name), arena), reason,
         (unsigned long long)suppressed);
}

void ad_audit_quota(ad_daemon_t *d, const ad_conn_t *c, const char *request,
                    const ad_arena_t *a, const ad_conn_t *target,
                    bool detached, const char *detail) {
  uint64_t suppressed = 0;
  if (!ad_ratelimit_allow(&d->rl_quota, ad_daemon_now_ms(), &suppressed))
    return;
  char holder[32], buf[300];
  if (detached)
    snprintf(holder, sizeof(holder), "detached");
  else
    snprintf(holder, sizeof(holder), "conn:%llu",
             (unsigned long long)(target != NULL ? target : c)->id);
  ad_log(AD_LOG_WARN, "quota-refused",
         WHO " request=%s arena=%s holder=%s detail=%s suppressed=%llu",
         WHO_ARGS(c), request, a->name, holder,
         ad_log_str(buf, sizeof(buf), detail),
         (unsigned long long)suppressed);
}

void ad_audit_created(const ad_conn_t *c, const ad_arena_t *a) {
  ad_log(AD_LOG_INFO, "arena-created",
         WHO " name=%s size=%llu policy=%s mode=%04o owner=%u group=%u "
             "quota_bytes=%llu quota_blocks=%llu",
         WHO_ARGS(c), a->name, (unsigned long long)a->size,
         ar_policy_name(a->policy), (unsigned)a->perm.mode,
         (unsigned)a->perm.owner, (unsigned)a->perm.group,
         (unsigned long long)a->quota.bytes,
         (unsigned long long)a->quota.blocks);
}

void ad_audit_destroyed(const ad_conn_t *c, const char *name, bool force,
                        uint64_t blocks, uint64_t bytes, uint32_t attached) {
  ad_log(AD_LOG_INFO, "arena-destroyed",
         WHO " name=%s force=%d blocks=%llu bytes=%llu attached=%u",
         WHO_ARGS(c), name, force ? 1 : 0, (unsigned long long)blocks,
         (unsigned long long)bytes, (unsigned)attached);
}

void ad_audit_corrupt(ad_daemon_t *d, const ad_conn_t *c,
                      const ad_freed_t *f) {
  if (f->corruptions == 0)
    return;
  d->stats.corruptions_detected += f->corruptions;
  /* A client that scribbles over headers and frees block by block would
   * otherwise write a line a request. */
  uint64_t suppressed = 0;
  if (!ad_ratelimit_allow(&d->rl_corrupt, ad_daemon_now_ms(), &suppressed))
    return;
  ad_log(AD_LOG_WARN, "corrupt-header",
         WHO " arena=%s blocks=%llu offset=%llu suppressed=%llu", WHO_ARGS(c),
         f->corrupt_arena != NULL ? f->corrupt_arena->name : "-",
         (unsigned long long)f->corruptions,
         (unsigned long long)f->corrupt_offset, (unsigned long long)suppressed);
}
