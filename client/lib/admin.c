/*
 * admin.c: making and removing arenas in a running daemon (create_arena,
 * destroy_arena), for the daemon's administrators. The new arena comes
 * back in arenad_list's format.
 */
#include "internal.h"

int arenad_create_arena(arenad_t *h, const char *name,
                        const arenad_arena_spec_t *spec, arenad_arena_t **out) {
  if (out != NULL)
    *out = NULL;
  int rc = arenad__check_name(h, name);
  if (rc < 0)
    return rc;
  if (spec == NULL || (unsigned)spec->policy >= ARENAD_POLICY_UNKNOWN)
    return arenad__fail(h, AR_EINVAL, "no policy for arena %s", name);

  Arenad__Access access = ARENAD__ACCESS__INIT;
  Arenad__CreateArenaRequest body = ARENAD__CREATE_ARENA_REQUEST__INIT;
  body.name = (char *)name;
  body.size = spec->size;
  body.policy = (Arenad__Policy)(spec->policy + 1); /* the proto's rule */
  if (spec->access != NULL) {
    access.mode = spec->access->mode;
    access.owner_uid = spec->access->owner_uid;
    access.group_gid = spec->access->group_gid;
    body.access = &access;
  }
  body.quota_bytes = spec->quota_bytes;
  body.quota_blocks = spec->quota_blocks;
  Arenad__Request req = ARENAD__REQUEST__INIT;
  req.body_case = ARENAD__REQUEST__BODY_CREATE_ARENA;
  req.create_arena = &body;

  Arenad__Response *r;
  rc = arenad__call(h, &req, false, &r);
  if (r == NULL || rc < 0) {
    arenad__response_free(h, r);
    return rc;
  }
  const Arenad__CreateArenaReply *cr = r->create_arena;
  if (cr->arena == NULL) {
    arenad__response_free(h, r);
    return arenad__break(h, AR_EPROTO, "a create_arena reply without the "
                                       "arena");
  }
  arenad_arena_t *a = out != NULL ? arenad__arenas_make(&cr->arena, 1) : NULL;
  arenad__response_free(h, r);
  if (out == NULL)
    return 0;
  if (a == NULL)
    return arenad__fail(h, AR_EINTERNAL, "arena %s was created, but there "
                        "is no memory to describe it", name);
  *out = a;
  return 0;
}

int arenad_destroy_arena(arenad_t *h, const char *name, unsigned flags,
                         arenad_destroyed_t *out) {
  int rc = arenad__check_name(h, name);
  if (rc < 0)
    return rc;
  Arenad__DestroyArenaRequest body = ARENAD__DESTROY_ARENA_REQUEST__INIT;
  body.name = (char *)name;
  body.force = (flags & ARENAD_DESTROY_FORCE) != 0;
  Arenad__Request req = ARENAD__REQUEST__INIT;
  req.body_case = ARENAD__REQUEST__BODY_DESTROY_ARENA;
  req.destroy_arena = &body;

  Arenad__Response *r;
  rc = arenad__call(h, &req, false, &r);
  if (r == NULL || rc < 0) {
    arenad__response_free(h, r);
    return rc;
  }
  if (out != NULL) {
    out->blocks_freed = r->destroy_arena->blocks_freed;
    out->bytes_freed = r->destroy_arena->bytes_freed;
    out->attached_connections = r->destroy_arena->attached_connections;
  }
  arenad__response_free(h, r);
  return 0;
}
