/*
 * audit.h: the log lines of security-relevant events, one function per
 * event, so that their format (log.h's: an event name, then key=value
 * fields) is written in one place and stays stable for the scripts that
 * read it. Every line names the connection and its peer's pid and uid.
 *
 *   accept           conn pid uid gid
 *   close            conn pid uid name reason requests bytes_in bytes_out
 *                    unsent ms
 *   reclaim          conn pid uid refs blocks bytes corrupt (a client's
 *                    blocks freed when it went: after its close line,
 *                    once the last is, reclaim.h)
 *   denied           conn pid uid request arena reason suppressed
 *   quota-refused    conn pid uid request arena holder detail suppressed
 *   arena-created    conn pid uid name size policy mode owner group quotas
 *   arena-destroyed  conn pid uid name force blocks bytes attached
 *   corrupt-header   conn pid uid arena blocks offset (a free, a release or
 *                    a reclamation found a header overwritten)
 *   check-failed     arena invariant offset detail conn pid uid
 *
 * The refusals are events a peer can cause at will: their lines are rate
 * limited (ad_ratelimit_t), each written line saying how many were
 * suppressed before it; the counters (StatsReply, ArenaSummary) count
 * every one.
 */
#ifndef AD_AUDIT_H
#define AD_AUDIT_H

#include <stdbool.h>

#include "arena.h"
#include "conn.h"

struct ad_daemon_s;

/* A connection accepted, its peer's credentials read. */
void ad_audit_accept(const ad_conn_t *c);

/* A connection closing (c->close_reason set), with its totals. */
void ad_audit_close(const ad_conn_t *c);

/* A closed connection's `refs` references dropped; *f: what that freed. */
void ad_audit_reclaim(const ad_conn_t *c, uint64_t refs, const ad_freed_t *f);

/* An integrity check of arena a, asked for by c, found `invariant` broken
 * at `offset`. */
void ad_audit_check_failed(const ad_conn_t *c, const ad_arena_t *a,
                           const char *invariant, uint64_t offset,
                           const char *detail);

/* A request refused for want of permission. `reason` is a token of
 * [a-z-] ("need-write", "not-a-holder", "not-admin", ...); `arena` is the
 * arena's name or a peer's string (escaped here). */
void ad_audit_denied(struct ad_daemon_s *d, const ad_conn_t *c,
                     const char *request, const char *arena,
                     const char *reason);

/* A request refused by a quota: `detached` when the quota of the arena's
 * detached blocks was passed, else the connection's (or a transfer's
 * target's, `target`); `detail` is ad_quota_check's sentence. */
void ad_audit_quota(struct ad_daemon_s *d, const ad_conn_t *c,
                    const char *request, const ad_arena_t *a,
                    const ad_conn_t *target, bool detached,
                    const char *detail);

/* An arena made by c (a create_arena request). */
void ad_audit_created(const ad_conn_t *c, const ad_arena_t *a);

/* An arena destroyed by c, with what went with it. */
void ad_audit_destroyed(const ad_conn_t *c, const char *name, bool force,
                        uint64_t blocks, uint64_t bytes, uint32_t attached);

/* Counts the overwritten headers in *f (d's corruptions_detected) and logs
 * them, when there are any, against c. */
void ad_audit_corrupt(struct ad_daemon_s *d, const ad_conn_t *c,
                      const ad_freed_t *f);

#endif /* AD_AUDIT_H */
