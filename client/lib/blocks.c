/*
 * blocks.c: allocating and freeing blocks, one request at a time. The
 * reply to an alloc must carry exactly the offsets asked for, each block
 * inside the arena's mapping when it is attached, and the per-offset
 * statuses of a free one per offset (the envelope's status the first
 * failure's), or none, and the overwritten headers it names the indices
 * of offsets that succeeded, in increasing order;
 * anything else is a protocol error, never a short result, a pointer past
 * the mapping or an index past the caller's array passed on to the
 * caller.
 */
#include "internal.h"

int arenad__check_offsets(arenad_t *h, const uint64_t *offsets, size_t n,
                          uint64_t size, uint64_t map_size) {
  if (map_size == 0)
    return 0;
  for (size_t i = 0; i < n; i++)
    if (offsets[i] >= map_size || size > map_size - offsets[i])
      return arenad__break(h, AR_EPROTO,
                           "the daemon returned offset %llu for a block of "
                           "%llu bytes in an arena of %llu bytes",
                           (unsigned long long)offsets[i],
                           (unsigned long long)size,
                           (unsigned long long)map_size);
  return 0;
}

/* Sends an alloc and copies the count offsets of its reply to offsets. */
static int alloc_blocks(arenad_t *h, const char *name, uint64_t size,
                        uint64_t align, uint32_t count, unsigned flags,
                        uint64_t *offsets) {
  int rc = arenad__check_name(h, name);
  if (rc < 0)
    return rc;
  if (offsets == NULL || count == 0)
    return arenad__fail(h, AR_EINVAL, "no room for the offsets");

  Arenad__AllocRequest body;
  Arenad__Request req;
  arenad__alloc_request(&req, &body, name, size, align, count, flags);

  Arenad__Response *r;
  rc = arenad__call(h, &req, false, &r);
  if (r == NULL || rc < 0) {
    arenad__response_free(h, r);
    return rc;
  }
  const Arenad__AllocReply *ar = r->alloc;
  if (ar->n_offsets != count) {
    size_t got = ar->n_offsets;
    arenad__response_free(h, r);
    return arenad__break(h, AR_EPROTO,
                         "the daemon returned %zu offsets for %u blocks",
                         got, (unsigned)count);
  }
  rc = arenad__check_offsets(h, ar->offsets, count, size,
                             arenad__map_size(h, name));
  for (uint32_t i = 0; rc == 0 && i < count; i++)
    offsets[i] = ar->offsets[i];
  arenad__response_free(h, r);
  return rc;
}

int arenad_alloc(arenad_t *h, const char *name, uint64_t size, uint64_t align,
                 unsigned flags, uint64_t *offset, void **ptr) {
  uint64_t off = 0;
  if (ptr != NULL)
    *ptr = NULL;
  int rc = alloc_blocks(h, name, size, align, 1, flags, &off);
  if (rc < 0)
    return rc;
  if (offset != NULL)
    *offset = off;
  if (ptr != NULL)
    *ptr = arenad_ptr(h, name, off);
  return 0;
}

int arenad_alloc_n(arenad_t *h, const char *name, uint64_t size,
                   uint64_t align, uint32_t count, unsigned flags,
                   uint64_t *offsets) {
  return alloc_blocks(h, name, size, align, count, flags, offsets);
}

/* A request that failed as a whole fails every offset: stores rc in each
 * of statuses[0..n) (when given) and returns it. */
static int fail_every(int *statuses, size_t n, int rc) {
  for (size_t i = 0; statuses != NULL && i < n; i++)
    statuses[i] = rc;
  return rc;
}

int arenad__check_free_reply(arenad_t *h, const Arenad__FreeReply *fr,
                             size_t n, int status) {
  if (fr == NULL)
    return 0;
  if (fr->n_statuses != 0 && fr->n_statuses != n)
    return arenad__break(h, AR_EPROTO,
                         "the daemon returned %zu statuses for %zu offsets",
                         fr->n_statuses, n);
  for (size_t i = 0; i < fr->n_overwritten; i++) {
    uint32_t at = fr->overwritten[i];
    /* at is checked against n before it indexes the statuses */
    bool failed = at < n && (fr->n_statuses != 0
                                 ? fr->statuses[at] != ARENAD__STATUS__STATUS_OK
                                 : status != 0);
    if (at >= n || (i > 0 && at <= fr->overwritten[i - 1]) || failed)
      return arenad__break(h, AR_EPROTO,
                           "the daemon named offset %u of %zu as an "
                           "overwritten header, out of order or of an "
                           "offset that failed",
                           (unsigned)at, n);
  }
  /* With statuses, the envelope's is the first failure's (arenad_free_n
   * returns it as such). */
  int first = 0;
  for (size_t i = 0; first == 0 && i < fr->n_statuses; i++)
    first = ar_wire_code(fr->statuses[i]);
  if (fr->n_statuses != 0 && first != status)
    return arenad__break(h, AR_EPROTO,
                         "the daemon's status for a free, %s, is not its "
                         "first failure's, %s",
                         ar_err_name(status), ar_err_name(first));
  return 0;
}

/* arenad_free_report, storing in *each whether the daemon answered for
 * each offset (also when all succeeded), so that statuses are the offsets'
 * own, rather than the request failing as a whole. */
static int free_offsets(arenad_t *h, const char *name, const uint64_t *offsets,
                        size_t n, int *statuses, uint64_t *overwritten,
                        size_t *n_overwritten, bool *each) {
  *each = false;
  if (n_overwritten != NULL)
    *n_overwritten = 0;
  int rc = arenad__check_name(h, name);
  if (rc < 0)
    return fail_every(statuses, n, rc);
  if (offsets == NULL || n == 0)
    return fail_every(statuses, n,
                      arenad__fail(h, AR_EINVAL, "no offsets to free"));

  Arenad__FreeRequest body;
  Arenad__Request req;
  arenad__free_request(&req, &body, name, offsets, n);

  Arenad__Response *r;
  rc = arenad__call(h, &req, false, &r);
  if (r == NULL)
    return fail_every(statuses, n, rc);
  const Arenad__FreeReply *fr = r->free;
  size_t ns = fr != NULL ? fr->n_statuses : 0;
  if (arenad__check_free_reply(h, fr, n, rc) < 0) {
    arenad__response_free(h, r);
    return fail_every(statuses, n, AR_EPROTO);
  }
  if (statuses != NULL)
    for (size_t i = 0; i < n; i++)
      statuses[i] = ns != 0 ? ar_wire_code(fr->statuses[i]) : rc;
  size_t nw = fr != NULL ? fr->n_overwritten : 0;
  for (size_t i = 0; overwritten != NULL && i < nw; i++)
    overwritten[i] = offsets[fr->overwritten[i]];
  if (n_overwritten != NULL)
    *n_overwritten = nw;
  *each = rc == 0 || ns != 0;
  arenad__response_free(h, r);
  return rc;
}

int arenad_free_n(arenad_t *h, const char *name, const uint64_t *offsets,
                  size_t n, int *statuses) {
  bool each;
  return free_offsets(h, name, offsets, n, statuses, NULL, NULL, &each);
}

int arenad_free_report(arenad_t *h, const char *name, const uint64_t *offsets,
                       size_t n, int *statuses, uint64_t *overwritten,
                       size_t *n_overwritten) {
  bool each;
  int rc = free_offsets(h, name, offsets, n, statuses, overwritten,
                        n_overwritten, &each);
  return each ? 0 : rc;
}

int arenad_free_each(arenad_t *h, const char *name, const uint64_t *offsets,
                     size_t n, int *statuses) {
  return arenad_free_report(h, name, offsets, n, statuses, NULL, NULL);
}

void arenad__alloc_request(Arenad__Request *req, Arenad__AllocRequest *body,
                           const char *name, uint64_t size, uint64_t align,
                           uint32_t count, unsigned flags) {
  *body = (Arenad__AllocRequest)ARENAD__ALLOC_REQUEST__INIT;
  body->arena = (char *)name;
  body->size = size;
  body->alignment = align;
  body->count = count;
  body->detached = (flags & ARENAD_ALLOC_DETACHED) != 0;
  *req = (Arenad__Request)ARENAD__REQUEST__INIT;
  req->body_case = ARENAD__REQUEST__BODY_ALLOC;
  req->alloc = body;
}

void arenad__free_request(Arenad__Request *req, Arenad__FreeRequest *body,
                          const char *name, const uint64_t *offsets,
                          size_t n) {
  *body = (Arenad__FreeRequest)ARENAD__FREE_REQUEST__INIT;
  body->arena = (char *)name;
  body->offsets = (uint64_t *)offsets; /* only read by pack */
  body->n_offsets = n;
  *req = (Arenad__Request)ARENAD__REQUEST__INIT;
  req->body_case = ARENAD__REQUEST__BODY_FREE;
  req->free = body;
}

int arenad_free(arenad_t *h, const char *name, uint64_t offset) {
  return arenad_free_n(h, name, &offset, 1, NULL);
}
