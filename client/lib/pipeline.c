/*
 * pipeline.c: requests submitted without waiting, replies collected in
 * order. A ring of pending entries remembers, for each request in flight,
 * its id, kind and the caller's tag, so each reply is checked against the
 * request it answers exactly as a blocking call's is. Requests are sent in
 * batches: when ARENAD__FLUSH_BATCH of them (or ARENAD__FLUSH_AT bytes)
 * are queued, or when collect has no whole reply buffered and must wait; a
 * collect that finds one buffered returns it without a system call.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static int op_kind(arenad_op_t op) {
  switch (op) {
  case ARENAD_OP_ALLOC:
    return ARENAD__REQUEST__BODY_ALLOC;
  case ARENAD_OP_FREE:
    return ARENAD__REQUEST__BODY_FREE;
  default:
    return ARENAD__REQUEST__BODY_PING;
  }
}

/* Queues req and remembers it as in flight, as *want says (its id
 * aside). */
static int submit(arenad_t *h, Arenad__Request *req,
                  const arenad__pending_t *want) {
  int rc = arenad__usable(h);
  if (rc < 0)
    return rc;
  if (h->pend_len >= h->window)
    return arenad__fail(h, AR_ELIMIT,
                        "%zu requests are in flight: collect a reply first",
                        h->pend_len);
  if (h->pend_cap < h->window) {
    /* The window only grows at hello, which runs with nothing in flight. */
    arenad__pending_t *p = realloc(h->pend, h->window * sizeof *p);
    if (p == NULL)
      return arenad__fail(h, AR_EINTERNAL, "no memory for the pipeline");
    h->pend = p;
    h->pend_cap = h->window;
    h->pend_head = 0;
  }
  if (ar_buf_len(&h->out) >= ARENAD__FLUSH_AT ||
      h->unsent >= ARENAD__FLUSH_BATCH) {
    rc = arenad__flush(h);
    if (rc < 0)
      return rc;
  }
  uint64_t id;
  rc = arenad__queue(h, req, &id);
  if (rc < 0)
    return rc;
  h->unsent++;
  arenad__pending_t *p = &h->pend[(h->pend_head + h->pend_len) % h->pend_cap];
  *p = *want;
  p->id = id;
  h->pend_len++;
  return 0;
}

int arenad_submit_ping(arenad_t *h, uint64_t tag) {
  Arenad__PingRequest body = ARENAD__PING_REQUEST__INIT;
  Arenad__Request req = ARENAD__REQUEST__INIT;
  req.body_case = ARENAD__REQUEST__BODY_PING;
  req.ping = &body;
  return submit(h, &req,
                &(arenad__pending_t){.op = ARENAD_OP_PING, .tag = tag});
}

int arenad_submit_alloc(arenad_t *h, const char *name, uint64_t size,
                        uint64_t align, uint32_t count, unsigned flags,
                        uint64_t tag) {
  int rc = arenad__check_name(h, name);
  if (rc < 0)
    return rc;
  Arenad__AllocRequest body;
  Arenad__Request req;
  arenad__alloc_request(&req, &body, name, size, align, count, flags);
  /* The reply's offsets are checked against the mapping as it is now: no
   * attach can come before the reply is collected (attach needs an idle
   * handle), and after a detach they still speak of the arena that was
   * mapped. */
  arenad__pending_t want = {.op = ARENAD_OP_ALLOC,
                            .tag = tag,
                            .count = count != 0 ? count : 1,
                            .size = size,
                            .map_size = arenad__map_size(h, name)};
  return submit(h, &req, &want);
}

int arenad_submit_free(arenad_t *h, const char *name, const uint64_t *offsets,
                       size_t n, uint64_t tag) {
  int rc = arenad__check_name(h, name);
  if (rc < 0)
    return rc;
  if (offsets == NULL || n == 0)
    return arenad__fail(h, AR_EINVAL, "no offsets to free");
  Arenad__FreeRequest body;
  Arenad__Request req;
  arenad__free_request(&req, &body, name, offsets, n);
  /* A free of more than UINT32_MAX offsets is far over any frame: the
   * queue refuses it before the count matters. */
  return submit(h, &req,
                &(arenad__pending_t){
                    .op = ARENAD_OP_FREE, .tag = tag, .count = (uint32_t)n});
}

int arenad_flush(arenad_t *h) {
  int rc = arenad__usable(h);
  return rc < 0 ? rc : arenad__flush(h);
}

/* Checks an alloc reply against its request p and copies its offsets to
 * the handle's result array. */
static int keep_offsets(arenad_t *h, const Arenad__AllocReply *ar,
                        const arenad__pending_t *p) {
  uint32_t count = p->count;
  if (ar->n_offsets != count)
    return arenad__break(h, AR_EPROTO,
                         "the daemon returned %zu offsets for %u blocks",
                         ar->n_offsets, (unsigned)count);
  int rc = arenad__check_offsets(h, ar->offsets, count, p->size, p->map_size);
  if (rc < 0)
    return rc;
  if (h->offsets_cap < count) {
    uint64_t *o = realloc(h->offsets, count * sizeof *o);
    if (o == NULL)
      return arenad__break(h, AR_EINTERNAL,
                           "no memory for %u offsets (the reply is lost)",
                           (unsigned)count);
    h->offsets = o;
    h->offsets_cap = count;
  }
  memcpy(h->offsets, ar->offsets, count * sizeof *h->offsets);
  return 0;
}

/* Checks a free reply (its envelope's status `status`) against its
 * request p and copies the indices of its overwritten headers to the
 * handle's array. */
static int keep_overwritten(arenad_t *h, const Arenad__FreeReply *fr,
                            int status, const arenad__pending_t *p) {
  if (arenad__check_free_reply(h, fr, p->count, status) < 0)
    return AR_EPROTO;
  size_t nw = fr != NULL ? fr->n_overwritten : 0;
  if (h->overwritten_cap < nw) {
    uint32_t *o = realloc(h->overwritten, nw * sizeof *o);
    if (o == NULL)
      return arenad__break(h, AR_EINTERNAL,
                           "no memory for %zu indices (the reply is lost)", nw);
    h->overwritten = o;
    h->overwritten_cap = nw;
  }
  if (nw != 0)
    memcpy(h->overwritten, fr->overwritten, nw * sizeof *h->overwritten);
  h->n_overwritten = nw;
  return 0;
}

int arenad_collect(arenad_t *h, arenad_result_t *res) {
  /* The last collect's indices go first: none after a collect that fails,
   * however early it does (but a NULL h has none to forget). */
  if (h == NULL)
    return AR_EINVAL;
  h->n_overwritten = 0;
  int rc = arenad__usable(h);
  if (rc < 0)
    return rc;
  if (res == NULL || h->pend_len == 0)
    return arenad__fail(h, AR_EINVAL, res == NULL ? "no place for the result"
                                                  : "nothing is in flight");
  if (!arenad__reply_ready(h)) {
    rc = arenad__flush(h);
    if (rc < 0)
      return rc;
  }
  Arenad__Response *r;
  rc = arenad__read_reply(h, &r);
  if (rc < 0)
    return rc;
  arenad__pending_t p = h->pend[h->pend_head];
  h->pend_head = (h->pend_head + 1) % h->pend_cap;
  h->pend_len--;

  /* fatal: the code of a broken connection, 0 while it is fine. */
  int status = arenad__check_reply(h, r, p.id, op_kind(p.op));
  int fatal = h->broken ? status : 0;
  if (fatal == 0 && (h->nfds > 0 || h->fds_lost))
    fatal = arenad__break(h, AR_EPROTO, "the daemon passed a descriptor "
                                        "with a pipelined reply");
  memset(res, 0, sizeof *res);
  res->op = p.op;
  res->tag = p.tag;
  res->status = status;
  if (fatal == 0 && status == 0 && p.op == ARENAD_OP_ALLOC) {
    fatal = keep_offsets(h, r->alloc, &p);
    res->offsets = h->offsets;
    res->n_offsets = p.count;
  }
  if (fatal == 0 && p.op == ARENAD_OP_FREE) {
    fatal = keep_overwritten(h, r->free, status, &p);
    if (r->free != NULL)
      res->freed = r->free->freed;
  }
  arenad__response_free(h, r);
  if (fatal < 0) {
    memset(res, 0, sizeof *res);
    return fatal;
  }
  return 0;
}

size_t arenad_collect_overwritten(const arenad_t *h, const uint32_t **indices) {
  size_t n = h != NULL ? h->n_overwritten : 0;
  if (indices != NULL)
    *indices = n != 0 ? h->overwritten : NULL;
  return n;
}

size_t arenad_in_flight(const arenad_t *h) {
  return h != NULL ? h->pend_len : 0;
}

size_t arenad_window(const arenad_t *h) { return h != NULL ? h->window : 0; }
