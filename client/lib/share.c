/*
 * share.c: sharing blocks between connections: retain (one more reference
 * for this connection), release (one of its references goes) and transfer
 * (one of its references goes to the connection that owns a token). Each
 * is one blocking round trip; the reply's reference count is passed on,
 * and for a release whether it freed a block whose header had been
 * overwritten.
 */
#include "internal.h"

/* Sends req (its body set by the caller, naming arena `name`) and, on
 * success, stores the reply in *out, to be freed by the caller with
 * arenad__response_free. arenad__call returns 0 only with a reply in r,
 * so 0 here always comes with *out set. */
static int share_call(arenad_t *h, const char *name, Arenad__Request *req,
                      Arenad__Response **out) {
  *out = NULL;
  int rc = arenad__check_name(h, name);
  if (rc < 0)
    return rc;
  Arenad__Response *r;
  rc = arenad__call(h, req, false, &r);
  if (rc < 0) {
    arenad__response_free(h, r);
    return rc;
  }
  *out = r;
  return 0;
}

/* Retain and release: the same request shape (arena, offset) and reply
 * (the references after), of kind `kind`; for a release, whether it freed
 * a block whose header had been overwritten in *overwritten (may be NULL;
 * a reply that says so with references left is AR_EPROTO). */
static int count_call(arenad_t *h, const char *name, uint64_t offset, int kind,
                      uint32_t *refcount, bool *overwritten) {
  Arenad__RetainRequest retain = ARENAD__RETAIN_REQUEST__INIT;
  Arenad__ReleaseRequest release = ARENAD__RELEASE_REQUEST__INIT;
  Arenad__Request req = ARENAD__REQUEST__INIT;
  req.body_case = (Arenad__Request__BodyCase)kind;
  if (kind == ARENAD__REQUEST__BODY_RETAIN) {
    retain.arena = (char *)name;
    retain.offset = offset;
    req.retain = &retain;
  } else {
    release.arena = (char *)name;
    release.offset = offset;
    req.release = &release;
  }
  if (overwritten != NULL)
    *overwritten = false;
  Arenad__Response *r;
  int rc = share_call(h, name, &req, &r);
  if (rc < 0)
    return rc;
  bool retained = kind == ARENAD__REQUEST__BODY_RETAIN;
  uint32_t left = retained ? r->retain->refcount : r->release->refcount;
  bool smashed = !retained && r->release->overwritten;
  arenad__response_free(h, r);
  if (smashed && left != 0)
    return arenad__break(h, AR_EPROTO,
                         "the daemon said a release freed a block with an "
                         "overwritten header, and left it %u references",
                         (unsigned)left);
  if (refcount != NULL)
    *refcount = left;
  if (overwritten != NULL)
    *overwritten = smashed;
  return 0;
}

int arenad_retain(arenad_t *h, const char *name, uint64_t offset,
                  uint32_t *refcount) {
  return count_call(h, name, offset, ARENAD__REQUEST__BODY_RETAIN, refcount,
                    NULL);
}

int arenad_release(arenad_t *h, const char *name, uint64_t offset,
                   uint32_t *refcount) {
  return arenad_release_report(h, name, offset, refcount, NULL);
}

int arenad_release_report(arenad_t *h, const char *name, uint64_t offset,
                          uint32_t *refcount, bool *overwritten) {
  return count_call(h, name, offset, ARENAD__REQUEST__BODY_RELEASE, refcount,
                    overwritten);
}

int arenad_transfer(arenad_t *h, const char *name, uint64_t offset,
                    uint64_t token, arenad_transfer_t *out) {
  Arenad__TransferRequest body = ARENAD__TRANSFER_REQUEST__INIT;
  body.arena = (char *)name;
  body.offset = offset;
  body.target_token = token;
  Arenad__Request req = ARENAD__REQUEST__INIT;
  req.body_case = ARENAD__REQUEST__BODY_TRANSFER;
  req.transfer = &body;
  Arenad__Response *r;
  int rc = share_call(h, name, &req, &r);
  if (rc < 0)
    return rc;
  if (out != NULL) {
    out->target_connection_id = r->transfer->target_connection_id;
    out->refcount = r->transfer->refcount;
  }
  arenad__response_free(h, r);
  return 0;
}
