/*
 * frame.c: the varint length prefix of arenad's frames, and the bounded
 * byte buffer they are read into and written from (see ar/frame.h). The
 * decoder is where the daemon decides whether a peer's bytes can be framed
 * at all, so it reads at most AR_FRAME_PREFIX_MAX bytes, never allocates,
 * and checks the declared length against the caller's limit before it
 * returns anything the caller could size an allocation by.
 */
#include "ar/frame.h"

#include <stdlib.h>
#include <string.h>

/* The smallest capacity a buffer grows to; it then doubles. */
#define BUF_MIN 512

_Static_assert(AR_FRAME_PREFIX_MAX * 7 >= 64, "a prefix holds 64 bits");
_Static_assert(AR_FRAME_MAX_DEFAULT == 1048576, "the default limit is 1 MiB");

size_t ar_frame_prefix_size(uint64_t len) {
  size_t n = 1;
  while (len >= 0x80) {
    len >>= 7;
    n++;
  }
  return n;
}

size_t ar_frame_encode(uint8_t *dst, uint64_t len) {
  size_t n = 0;
  while (len >= 0x80) {
    dst[n++] = (uint8_t)(len | 0x80);
    len >>= 7;
  }
  dst[n++] = (uint8_t)len;
  return n;
}

/*
 * Byte i (0-based) of a varint carries bits 7i..7i+6 of the value and, in
 * its top bit, whether another byte follows. So the tenth byte (i = 9)
 * carries bit 63 alone: any other bit in it, the continuation bit included,
 * is over 64 bits or over 10 bytes. A last byte of 0 after the first adds
 * nothing: the encoding was not minimal.
 */
int ar_frame_decode(const uint8_t *buf, size_t len, size_t max,
                    ar_frame_t *out) {
  uint64_t value = 0;
  size_t prefix = 0;

  for (size_t i = 0; i < len && i < AR_FRAME_PREFIX_MAX; i++) {
    uint8_t byte = buf[i];
    if (i == AR_FRAME_PREFIX_MAX - 1 && byte > 1)
      return AR_EPROTO;
    value |= (uint64_t)(byte & 0x7f) << (7 * i);
    if ((byte & 0x80) == 0) {
      if (byte == 0 && i > 0)
        return AR_EPROTO;
      prefix = i + 1;
      break;
    }
  }

  if (prefix == 0) {
    /* The prefix is not all there; the checks above bound it to 9 bytes. */
    out->start = 0;
    out->end = len + 1;
    return AR_FRAME_PARTIAL;
  }
  if (value > (uint64_t)max || value > (uint64_t)(SIZE_MAX - prefix))
    return AR_ELIMIT;

  out->start = prefix;
  out->end = prefix + (size_t)value;
  return out->end <= len ? AR_FRAME_COMPLETE : AR_FRAME_PARTIAL;
}

void ar_buf_init(ar_buf_t *b, size_t max) {
  b->data = NULL;
  b->cap = 0;
  b->head = 0;
  b->tail = 0;
  b->max = max;
}

void ar_buf_raise_max(ar_buf_t *b, size_t max) {
  if (max > b->max)
    b->max = max;
}

void ar_buf_destroy(ar_buf_t *b) {
  free(b->data);
  ar_buf_init(b, b->max);
}

/*
 * Invariant: head <= tail <= cap <= max, and data holds cap bytes (NULL when
 * cap is 0). Room is made first by moving the unconsumed bytes to the front,
 * which costs at most one copy of them per reserve; only when that is not
 * enough does the buffer get new memory, doubled up to max, and the old
 * memory is freed only after the copy succeeded, so a failure changes
 * nothing.
 */
int ar_buf_reserve(ar_buf_t *b, size_t n) {
  size_t len = b->tail - b->head;

  if (n <= b->cap - b->tail)
    return 0;
  if (n > b->max - len)
    return AR_ELIMIT;

  if (n <= b->cap - len) {
    memmove(b->data, b->data + b->head, len);
    b->head = 0;
    b->tail = len;
    return 0;
  }

  size_t need = len + n;
  size_t cap = b->cap < BUF_MIN ? BUF_MIN : b->cap;
  while (cap < need && cap <= b->max / 2)
    cap *= 2;
  if (cap < need || cap > b->max)
    cap = b->max; /* need <= max, checked above */

  uint8_t *data = malloc(cap);
  if (data == NULL)
    return AR_EINTERNAL;
  if (len > 0)
    memcpy(data, b->data + b->head, len);
  free(b->data);
  b->data = data;
  b->cap = cap;
  b->head = 0;
  b->tail = len;
  return 0;
}

void ar_buf_commit(ar_buf_t *b, size_t n) {
  b->tail += n;
}

void ar_buf_consume(ar_buf_t *b, size_t n) {
  if (n > b->tail - b->head)
    n = b->tail - b->head; /* clamped: head never passes tail */
  b->head += n;
  if (b->head == b->tail)
    b->head = b->tail = 0;
}

int ar_buf_append(ar_buf_t *b, const void *p, size_t n) {
  if (n == 0)
    return 0;
  int rc = ar_buf_reserve(b, n);
  if (rc < 0)
    return rc;
  memcpy(b->data + b->tail, p, n);
  b->tail += n;
  return 0;
}

void ar_buf_trim(ar_buf_t *b, size_t keep) {
  if (b->head == b->tail && b->cap > keep)
    ar_buf_destroy(b);
}

int ar_frame_append(ar_buf_t *b, size_t len, uint8_t **body) {
  size_t prefix = ar_frame_prefix_size(len);
  if (len > SIZE_MAX - prefix)
    return AR_ELIMIT;
  int rc = ar_buf_reserve(b, prefix + len);
  if (rc < 0)
    return rc;
  b->tail += ar_frame_encode(b->data + b->tail, len);
  *body = b->data + b->tail;
  b->tail += len;
  return 0;
}
