/*
 * access.c: the permission rules and the quota arithmetic (see access.h).
 * Small on purpose: every decision about who may do what is in this file,
 * and every branch of it has a unit test (test_server_access).
 */
#include "access.h"

#include <stdio.h>

#include "ar/error.h"

bool ad_access_in_group(const ad_cred_t *cred, uint32_t gid) {
  if (cred->gid == gid)
    return true;
  for (size_t i = 0; i < cred->ngroups; i++)
    if (cred->groups[i] == gid)
      return true;
  return false;
}

bool ad_access_allows(const ad_perm_t *p, const ad_cred_t *cred,
                      unsigned need) {
  if (cred->root)
    return true;
  unsigned bits;
  if (cred->uid == p->owner)
    bits = (p->mode >> 6) & 7u;
  else if (ad_access_in_group(cred, p->group))
    bits = (p->mode >> 3) & 7u;
  else
    bits = p->mode & 7u;
  return (bits & need) == need;
}

bool ad_access_admin(const ad_cred_t *cred, uint32_t daemon_uid,
                     uint64_t admin_gid) {
  if (cred->root || cred->uid == daemon_uid)
    return true;
  return admin_gid <= UINT32_MAX &&
         ad_access_in_group(cred, (uint32_t)admin_gid);
}

const char *ad_access_need_name(unsigned need) {
  switch (need & (AD_MAY_READ | AD_MAY_WRITE)) {
  case AD_MAY_READ:
    return "read";
  case AD_MAY_WRITE:
    return "write";
  case AD_MAY_READ | AD_MAY_WRITE:
    return "read and write";
  default:
    return "no";
  }
}

/* Whether used + add passes limit (0: no limit), without overflowing. */
static bool over(uint64_t limit, uint64_t used, uint64_t add) {
  return limit != 0 && (used > limit || add > limit - used);
}

int ad_quota_check(const ad_quota_t *q, const ad_usage_t *used,
                   const ad_usage_t *add, char *msg, size_t len) {
  const char *name;
  uint64_t limit, now, more;
  if (over(q->blocks, used->blocks, add->blocks)) {
    name = "quota_blocks";
    limit = q->blocks;
    now = used->blocks;
    more = add->blocks;
  } else if (over(q->bytes, used->bytes, add->bytes)) {
    name = "quota_bytes";
    limit = q->bytes;
    now = used->bytes;
    more = add->bytes;
  } else {
    return 0;
  }
  snprintf(msg, len, "%s is %llu: %llu in use, the request needs %llu more",
           name, (unsigned long long)limit, (unsigned long long)now,
           (unsigned long long)more);
  return AR_ELIMIT;
}
