/*
 * access.h: who may do what, as pure functions of credentials and an
 * arena's access triple (owner, group, mode), and the arithmetic of
 * quotas. Nothing here looks at a connection, an arena or the clock, so
 * that the unit tests can try every case; the dispatch code asks these
 * functions and does the counting, the replies and the log lines.
 *
 * The rules, like a file's (see Access in arenad.pb-c.h's proto):
 *   - uid 0 passes every check while root_override is 1 (cred->root);
 *     with 0 it is a uid like any other;
 *   - a peer whose uid is the owner gets the owner's bits, and only those
 *     (an owner with mode 0070 may do nothing, as with files);
 *   - else a peer with the group among its groups (its primary gid from
 *     SO_PEERCRED or a supplementary one from SO_PEERGROUPS) gets the
 *     group's bits;
 *   - else the others' bits.
 * The daemon's own uid gets no special treatment here: it is the default
 * owner of the arenas of the configuration, and has the owner's bits. It
 * may create and destroy arenas (ad_access_admin), and that is all.
 */
#ifndef AD_ACCESS_H
#define AD_ACCESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What a request needs, as the bits of a mode's class. */
#define AD_MAY_READ 4u
#define AD_MAY_WRITE 2u

/* No id: an unset owner, group or admin group. */
#define AD_ID_NONE UINT64_MAX

/* A peer's credentials, read at accept. The groups are borrowed. */
typedef struct ad_cred_s {
  uint32_t pid, uid, gid;
  const uint32_t *groups; /* supplementary groups (may include gid) */
  size_t ngroups;
  bool root; /* passes every check: uid 0 while root_override is 1 */
} ad_cred_t;

/* An arena's owner, group and permission bits (at most 0777). */
typedef struct ad_perm_s {
  uint32_t owner, group;
  uint32_t mode;
} ad_perm_t;

/* Whether cred is in group gid (its primary group or a supplementary one). */
bool ad_access_in_group(const ad_cred_t *cred, uint32_t gid);

/* Whether cred may do what `need` (AD_MAY_READ | AD_MAY_WRITE) asks on an
 * arena with permissions p. */
bool ad_access_allows(const ad_perm_t *p, const ad_cred_t *cred,
                      unsigned need);

/* Whether cred may create and destroy arenas: root (cred->root), the
 * daemon's own uid, or a member of admin_gid (AD_ID_NONE: no admin
 * group). */
bool ad_access_admin(const ad_cred_t *cred, uint32_t daemon_uid,
                     uint64_t admin_gid);

/* "read", "write" or "read and write", for messages. Static. */
const char *ad_access_need_name(unsigned need);

/* A quota on one arena, for one holder: 0 means none. */
typedef struct ad_quota_s {
  uint64_t bytes;
  uint64_t blocks;
} ad_quota_t;

/* What a holder has now and what a request adds. */
typedef struct ad_usage_s {
  uint64_t bytes;
  uint64_t blocks;
} ad_usage_t;

/*
 * Whether adding `add` to `used` stays within q (no overflow: a sum past
 * 2^64 is over any quota). Returns 0, or AR_ELIMIT with a sentence in msg
 * (len bytes) naming the quota passed, its value, the use now and what the
 * request asks, e.g. "quota_bytes is 65536: 61440 in use, the request
 * needs 8192 more" (the caller says whose quota it is: ad_call_over_quota).
 * The blocks quota is checked first.
 */
int ad_quota_check(const ad_quota_t *q, const ad_usage_t *used,
                   const ad_usage_t *add, char *msg, size_t len);

#endif /* AD_ACCESS_H */
