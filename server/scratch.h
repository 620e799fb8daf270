/*
 * scratch.h: a bump allocator for the memory that one request needs and
 * that dies with it: the unpacked Request (through protobuf-c's
 * ProtobufCAllocator), the reply's submessages, repeated fields and
 * message strings. The daemon resets it after each request, so in the
 * steady state a request costs no malloc at all: the first chunk is kept,
 * and only a request that needs more (a large free list, an inspect page)
 * takes extra chunks, which the reset gives back.
 *
 * What it hands out is never freed one by one (protobuf-c's free callback
 * is a no-op; never call protobuf_c_message_free_unpacked on a message
 * unpacked with it). Total use is capped: a frame that would unpack into
 * more, or a reply that would need more, is refused as over a limit
 * (LIMIT_EXCEEDED, counted in scratch_exhausted) instead of taking the
 * daemon's memory; `refused` tells the caller that the cap, not garbage,
 * made the unpack fail, and `failed` that the daemon's memory did.
 */
#ifndef AD_SCRATCH_H
#define AD_SCRATCH_H

#include <stddef.h>

#include <protobuf-c/protobuf-c.h>

typedef struct ad_scratch_chunk_s ad_scratch_chunk_t;

typedef struct ad_scratch_s {
  ProtobufCAllocator pb;      /* public: pass &s->pb to ..._unpack */
  ad_scratch_chunk_t *first;  /* private: kept across resets */
  ad_scratch_chunk_t *extra;  /* private: more chunks, freed by reset */
  unsigned char *ptr, *end;   /* private: free room in the current chunk */
  size_t used;                /* read-only: bytes taken since the reset */
  size_t max;                 /* read-only: cap on `used` */
  size_t refused;             /* read-only: allocations the cap refused
                                 since the reset */
  size_t failed;              /* read-only: allocations malloc refused
                                 (no memory for a chunk) since the reset */
} ad_scratch_t;

/* Makes s ready, with a first chunk of `first` bytes and a cap of `max`.
 * Returns 0, or AR_EINTERNAL when the first chunk cannot be allocated. */
int ad_scratch_init(ad_scratch_t *s, size_t first, size_t max);

/* Frees all of s's memory. */
void ad_scratch_fini(ad_scratch_t *s);

/* n bytes aligned for any type, valid until the next reset; NULL when the
 * cap would be passed (counted in `refused`) or memory runs out (counted
 * in `failed`). Not zeroed. */
void *ad_scratch_alloc(ad_scratch_t *s, size_t n);

/* An array of n elements of `size` bytes, zeroed; NULL on overflow or as
 * ad_scratch_alloc. */
void *ad_scratch_calloc(ad_scratch_t *s, size_t n, size_t size);

/* A formatted string in scratch memory; NULL as ad_scratch_alloc. */
char *ad_scratch_printf(ad_scratch_t *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Forgets everything handed out since the last reset and frees the extra
 * chunks. */
void ad_scratch_reset(ad_scratch_t *s);

#endif /* AD_SCRATCH_H */
