/*
 * encode.c: the requests of the hot path (ping, alloc, free) written
 * straight into the output queue, without protobuf-c's two generic passes
 * over the message descriptors (sizing, then packing), which cost about as
 * much as everything else the client does per request. The bytes are
 * exactly what protobuf_c_message_pack writes for the same message (fields
 * in number order, proto3 zero values left out, repeated scalars packed);
 * the unit tests' fake daemon (tests/unit/fake_daemon.c) re-packs every
 * request it receives and compares.
 * Every other request kind goes through protobuf-c (wire.c).
 */
#include <string.h>

#include "internal.h"

/* Wire types. */
#define WT_VARINT 0
#define WT_LEN 2

#define TAG(field, wt) (((uint64_t)(field) << 3) | (wt))

static size_t varint_size(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    n++;
  }
  return n;
}

static uint8_t *put_varint(uint8_t *p, uint64_t v) {
  while (v >= 0x80) {
    *p++ = (uint8_t)(v | 0x80);
    v >>= 7;
  }
  *p++ = (uint8_t)v;
  return p;
}

/* A varint field, left out when zero (proto3). */
static size_t uint_size(unsigned field, uint64_t v) {
  return v == 0 ? 0 : varint_size(TAG(field, WT_VARINT)) + varint_size(v);
}

static uint8_t *put_uint(uint8_t *p, unsigned field, uint64_t v) {
  if (v == 0)
    return p;
  p = put_varint(p, TAG(field, WT_VARINT));
  return put_varint(p, v);
}

/* A length-delimited field of `len` bytes, tag and length included. */
static size_t len_size(unsigned field, size_t len) {
  return varint_size(TAG(field, WT_LEN)) + varint_size(len) + len;
}

static uint8_t *put_len(uint8_t *p, unsigned field, size_t len) {
  p = put_varint(p, TAG(field, WT_LEN));
  return put_varint(p, len);
}

/* A string field, left out when empty (proto3). */
static size_t str_size(unsigned field, const char *s, size_t len) {
  (void)s;
  return len == 0 ? 0 : len_size(field, len);
}

static uint8_t *put_str(uint8_t *p, unsigned field, const char *s,
                        size_t len) {
  if (len == 0)
    return p;
  p = put_len(p, field, len);
  memcpy(p, s, len);
  return p + len;
}

/* The body of an AllocRequest. */
static size_t alloc_size(const Arenad__AllocRequest *m, size_t alen) {
  return str_size(1, m->arena, alen) + uint_size(2, m->size) +
         uint_size(3, m->alignment) + uint_size(4, m->count) +
         uint_size(5, m->detached ? 1 : 0);
}

static uint8_t *put_alloc(uint8_t *p, const Arenad__AllocRequest *m,
                          size_t alen) {
  p = put_str(p, 1, m->arena, alen);
  p = put_uint(p, 2, m->size);
  p = put_uint(p, 3, m->alignment);
  p = put_uint(p, 4, m->count);
  return put_uint(p, 5, m->detached ? 1 : 0);
}

/* The packed offsets of a FreeRequest, without tag and length. */
static size_t offsets_size(const Arenad__FreeRequest *m) {
  size_t n = 0;
  for (size_t i = 0; i < m->n_offsets; i++)
    n += varint_size(m->offsets[i]);
  return n;
}

static size_t free_size(const Arenad__FreeRequest *m, size_t alen,
                        size_t olen) {
  return str_size(1, m->arena, alen) +
         (m->n_offsets == 0 ? 0 : len_size(2, olen));
}

static uint8_t *put_free(uint8_t *p, const Arenad__FreeRequest *m,
                         size_t alen, size_t olen) {
  p = put_str(p, 1, m->arena, alen);
  if (m->n_offsets == 0)
    return p;
  p = put_len(p, 2, olen);
  for (size_t i = 0; i < m->n_offsets; i++)
    p = put_varint(p, m->offsets[i]);
  return p;
}

int arenad__encode(arenad_t *h, const Arenad__Request *req, uint8_t **body,
                   size_t *len) {
  size_t alen = 0, olen = 0, inner;
  unsigned field = (unsigned)req->body_case;
  switch (req->body_case) {
  case ARENAD__REQUEST__BODY_PING:
    inner = 0;
    break;
  case ARENAD__REQUEST__BODY_ALLOC:
    alen = req->alloc->arena != NULL ? strlen(req->alloc->arena) : 0;
    inner = alloc_size(req->alloc, alen);
    break;
  case ARENAD__REQUEST__BODY_FREE:
    alen = req->free->arena != NULL ? strlen(req->free->arena) : 0;
    olen = offsets_size(req->free);
    inner = free_size(req->free, alen, olen);
    break;
  default:
    return 1; /* not ours: protobuf-c packs it */
  }
  size_t total = uint_size(1, req->id) + len_size(field, inner);
  if (total > h->max_frame) {
    *len = total;
    return AR_ELIMIT;
  }
  uint8_t *p;
  int rc = ar_frame_append(&h->out, total, &p);
  if (rc < 0) {
    *len = total;
    return rc;
  }
  uint8_t *start = p;
  p = put_uint(p, 1, req->id);
  p = put_len(p, field, inner);
  if (req->body_case == ARENAD__REQUEST__BODY_ALLOC)
    p = put_alloc(p, req->alloc, alen);
  else if (req->body_case == ARENAD__REQUEST__BODY_FREE)
    p = put_free(p, req->free, alen, olen);
  *body = start;
  *len = (size_t)(p - start);
  return 0;
}
