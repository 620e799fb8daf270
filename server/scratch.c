/*
 * scratch.c: the per-request bump allocator (see scratch.h). Chunks are
 * linked through a header; the first is allocated once, the others live
 * until the next reset. Every allocation is rounded up to the alignment of
 * max_align_t, so protobuf-c may store any field type in it.
 */
#include "scratch.h"

#include <stdalign.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ar/error.h"

#define ALIGN (alignof(max_align_t))

struct ad_scratch_chunk_s {
  ad_scratch_chunk_t *next;
  size_t size;
  alignas(max_align_t) unsigned char data[];
};

static void *pb_alloc(void *data, size_t size) {
  return ad_scratch_alloc(data, size);
}

static void pb_free(void *data, void *p) {
  (void)data;
  (void)p; /* freed all at once by ad_scratch_reset */
}

static ad_scratch_chunk_t *chunk_new(size_t size) {
  ad_scratch_chunk_t *c = malloc(sizeof(*c) + size);
  if (c != NULL) {
    c->next = NULL;
    c->size = size;
  }
  return c;
}

int ad_scratch_init(ad_scratch_t *s, size_t first, size_t max) {
  memset(s, 0, sizeof(*s));
  s->pb.alloc = pb_alloc;
  s->pb.free = pb_free;
  s->pb.allocator_data = s;
  s->max = max;
  s->first = chunk_new(first);
  if (s->first == NULL)
    return AR_EINTERNAL;
  ad_scratch_reset(s);
  return 0;
}

void ad_scratch_fini(ad_scratch_t *s) {
  ad_scratch_reset(s);
  free(s->first);
  s->first = NULL;
  s->ptr = s->end = NULL;
}

void *ad_scratch_alloc(ad_scratch_t *s, size_t n) {
  if (n == 0)
    n = 1;
  if (n > SIZE_MAX - ALIGN)
    return NULL;
  n = (n + ALIGN - 1) & ~(ALIGN - 1);
  if (n > s->max - s->used) {
    s->refused++;
    return NULL;
  }

  if (n > (size_t)(s->end - s->ptr)) {
    /* A new chunk: at least twice the first, or just this request. */
    size_t size = s->first->size * 2;
    if (size < n)
      size = n;
    ad_scratch_chunk_t *c = chunk_new(size);
    if (c == NULL) {
      s->failed++;
      return NULL;
    }
    c->next = s->extra;
    s->extra = c;
    s->ptr = c->data;
    s->end = c->data + size;
  }
  void *p = s->ptr;
  s->ptr += n;
  s->used += n;
  return p;
}

void *ad_scratch_calloc(ad_scratch_t *s, size_t n, size_t size) {
  if (size != 0 && n > SIZE_MAX / size)
    return NULL;
  void *p = ad_scratch_alloc(s, n * size);
  if (p != NULL)
    memset(p, 0, n * size);
  return p;
}

char *ad_scratch_printf(ad_scratch_t *s, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0)
    return NULL;
  char *p = ad_scratch_alloc(s, (size_t)n + 1);
  if (p == NULL)
    return NULL;
  va_start(ap, fmt);
  vsnprintf(p, (size_t)n + 1, fmt, ap);
  va_end(ap);
  return p;
}

void ad_scratch_reset(ad_scratch_t *s) {
  while (s->extra != NULL) {
    ad_scratch_chunk_t *next = s->extra->next;
    free(s->extra);
    s->extra = next;
  }
  if (s->first != NULL) {
    s->ptr = s->first->data;
    s->end = s->first->data + s->first->size;
  }
  s->used = 0;
  s->refused = 0;
  s->failed = 0;
}
