/*
 * dispatch_admin.c: the requests that make and remove arenas while the
 * daemon runs, allowed to root, the daemon's own uid and the members of
 * [daemon] admin_group (access.h's ad_access_admin). create_arena checks
 * its arguments as the configuration file's arenas are checked, then
 * reserves the segment before it answers (a lack of memory is an error
 * now, not a SIGBUS in a client later; the loop waits meanwhile).
 * destroy_arena refuses an arena with live blocks unless forced, and tells
 * the connections that used it (daemon.h's ad_daemon_destroy_arena); for
 * them its name is stale, and so is a destroy naming it, until they
 * attach again.
 */
#include <stdio.h>
#include <string.h>

#include "audit.h"
#include "dispatch.h"
#include "reply_bound.h"

/* 0 when the caller may administer arenas, else AR_EPERM (counted, logged,
 * the message set). `name` is the arena the request names; `a` is that
 * arena for a destroy_arena (its permission_denied counts the refusal, as
 * every refusal naming an arena is counted in it), NULL for a create. */
static int admin_only(ad_call_t *call, ad_arena_t *a, const char *name) {
  ad_cred_t cred = ad_conn_cred(call->c);
  const ad_daemon_t *d = call->d;
  if (ad_access_admin(&cred, d->uid, d->cfg->admin_group))
    return 0;
  /* Root is named only while it may: with root_override = 0, uid 0 is
   * refused like any other uid. The admin group is named by its gid, so
   * that an operator can tell which group to add the client's user to. */
  char group[64] = "";
  if (d->cfg->admin_group != AD_ID_NONE)
    snprintf(group, sizeof(group), " and the members of group %u (admin_group)",
             (unsigned)d->cfg->admin_group);
  return ad_call_deny(call, a, name, "not-admin",
                      "%s is allowed to %sthe daemon's uid (%u)%s; this "
                      "connection is uid %u",
                      call->kind, d->cfg->root_override ? "root, " : "",
                      (unsigned)d->uid, group, (unsigned)cred.uid);
}

/* The configuration of the arena m asks for, checked; 0 or AR_EINVAL
 * (message set). */
static int arena_conf(ad_call_t *call, const Arenad__CreateArenaRequest *m,
                      ad_arena_conf_t *conf) {
  const ad_conn_t *c = call->c;
  memset(conf, 0, sizeof(*conf));
  if (!ad_config_arena_name_ok(m->name)) {
    call->d->stats.names_refused++;
    return ad_fail(call, AR_EINVAL,
                   "'%s' is not an arena name: 1 to %d letters, digits, "
                   "'.', '_' or '-', starting with a letter or digit",
                   ad_call_clean(call, m->name, AD_ARENA_NAME_MAX + 8),
                   AD_ARENA_NAME_MAX);
  }
  if (m->policy < ARENAD__POLICY__POLICY_FIRST ||
      m->policy > ARENAD__POLICY__POLICY_BUDDY)
    return ad_fail(call, AR_EINVAL, "policy %d is not first, next, best, "
                   "worst or buddy", (int)m->policy);
  ar_policy_t policy = (ar_policy_t)(m->policy - 1);
  char why[200];
  if (ad_config_check_size(m->size, policy, why, sizeof(why)) < 0)
    return ad_fail(call, AR_EINVAL, "%s", why);

  snprintf(conf->name, sizeof(conf->name), "%s", m->name);
  conf->size = m->size;
  conf->policy = (uint64_t)policy;
  if (ad_config_check_arena_value("quota_bytes", m->quota_bytes, why,
                                  sizeof(why)) < 0 ||
      ad_config_check_arena_value("quota_blocks", m->quota_blocks, why,
                                  sizeof(why)) < 0)
    return ad_fail(call, AR_EINVAL, "%s", why);
  conf->quota_bytes = m->quota_bytes;
  conf->quota_blocks = m->quota_blocks;
  if (m->access == NULL) {
    conf->mode = 0600;
    conf->owner = c->holder.uid;
    conf->group = c->holder.gid;
  } else {
    const Arenad__Access *acc = m->access;
    if (acc->mode > 0777 || acc->owner_uid == UINT32_MAX ||
        acc->group_gid == UINT32_MAX)
      return ad_fail(call, AR_EINVAL,
                     "access: mode %04o owner %u group %u: the mode is at "
                     "most 0777, and -1 is no uid or gid",
                     (unsigned)acc->mode, (unsigned)acc->owner_uid,
                     (unsigned)acc->group_gid);
    conf->mode = acc->mode;
    conf->owner = acc->owner_uid;
    conf->group = acc->group_gid;
  }
  snprintf(conf->origin, sizeof(conf->origin), "create_arena of conn %llu",
           (unsigned long long)c->id);
  return 0;
}

int ad_do_create_arena(ad_call_t *call,
                       const Arenad__CreateArenaRequest *m) {
  int rc = admin_only(call, NULL, m->name);
  if (rc < 0)
    return rc;
  ad_arena_conf_t conf;
  rc = arena_conf(call, m, &conf);
  if (rc < 0)
    return rc;

  Arenad__CreateArenaReply *rep;
  Arenad__ArenaInfo *info;
  if (!AD_NEW(call, rep, arenad__create_arena_reply__init) ||
      !AD_NEW(call, info, arenad__arena_info__init))
    return AR_EINTERNAL;
  /* A name that is taken adds nothing to the list: refused as such, not
   * as the limit below. */
  if (ad_daemon_arena(call->d, conf.name) != NULL)
    return ad_fail(call, AR_EINVAL,
                   "cannot create arena '%s': an arena named '%s' exists",
                   conf.name, conf.name);
  /* `list` must still fit in a frame with the new arena (reply_bound.h) */
  size_t list = ad_reply_max_list_plus(call->d, conf.name);
  if (list == SIZE_MAX) /* no memory to size it: not the limit's doing */
    return AR_EINTERNAL;
  if (list > call->d->cfg->max_frame_bytes) {
    call->d->stats.arenas_refused_limit++;
    return ad_fail(call, AR_ELIMIT,
                   "cannot create arena '%s': the list of the arenas would "
                   "take up to %zu bytes, over max_frame_bytes (%llu)",
                   conf.name, list,
                   (unsigned long long)call->d->cfg->max_frame_bytes);
  }
  char err[512];
  ad_arena_t *a;
  rc = ad_daemon_create_arena(call->d, &conf, &a, err, sizeof(err));
  if (rc < 0) /* a limit is counted there */
    return ad_fail(call, rc, "cannot create arena '%s': %s", conf.name, err);
  if (ad_call_arena_info(call, a, info) < 0) {
    /* No reply, no arena: nobody can have used it yet. */
    ad_destroyed_t gone;
    ad_daemon_destroy_arena(call->d, a, &gone);
    return AR_EINTERNAL;
  }
  ad_audit_created(call->c, a);
  rep->arena = info;
  call->resp->body_case = ARENAD__RESPONSE__BODY_CREATE_ARENA;
  call->resp->create_arena = rep;
  return 0;
}

int ad_do_destroy_arena(ad_call_t *call,
                        const Arenad__DestroyArenaRequest *m) {
  /* A refusal is counted in the arena of that name when there is one,
   * even when the name is stale for the caller (the refusal comes first,
   * whatever the name stands for). */
  int rc = admin_only(call, ad_daemon_arena(call->d, m->name), m->name);
  if (rc < 0)
    return rc;
  /* Not found too when the name is stale for the caller, as for every
   * request naming an arena but attach: a connection that saw an arena of
   * this name destroyed must not remove the one made since unseen. The
   * admin check above is the only permission needed (0 here). */
  ad_arena_t *a;
  rc = ad_call_find(call, m->name, &a);
  if (rc < 0)
    return rc;
  ar_engine_stats_t st;
  ar_engine_stats(a->engine, &st);
  if (st.live_blocks > 0 && !m->force)
    return ad_fail(call, AR_EINVAL,
                   "arena '%s' has %llu live block%s (%llu detached); "
                   "destroy it with force (arenactl destroy --force) to free "
                   "them",
                   a->name, (unsigned long long)st.live_blocks,
                   st.live_blocks == 1 ? "" : "s",
                   (unsigned long long)a->detached_blocks);

  Arenad__DestroyArenaReply *rep;
  char name[AD_ARENA_NAME_MAX + 1];
  if (!AD_NEW(call, rep, arenad__destroy_arena_reply__init))
    return AR_EINTERNAL;
  memcpy(name, a->name, sizeof(name));
  ad_destroyed_t gone;
  ad_daemon_destroy_arena(call->d, a, &gone);
  ad_audit_destroyed(call->c, name, m->force, gone.blocks, gone.bytes,
                     gone.attached_connections);
  rep->blocks_freed = gone.blocks;
  rep->bytes_freed = gone.bytes;
  rep->attached_connections = gone.attached_connections;
  call->resp->body_case = ARENAD__RESPONSE__BODY_DESTROY_ARENA;
  call->resp->destroy_arena = rep;
  return 0;
}
