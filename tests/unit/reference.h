/*
 * reference.h: a deliberately simple reference implementation of the
 * placement model (shared/design/placement-model.md), for the tests only.
 *
 * It makes the same decisions the policy engines must make, with the
 * plainest data structures that can hold them: a sorted array of free
 * intervals (and the rover) for the list policies, one sorted array of free
 * block offsets per order for buddy, and an array of live blocks. Every
 * operation is a linear scan. It shares no code with common/engine/, only
 * the types and constants of the public header, so a test that compares the
 * two checks the engine against an independent reading of the model. It
 * tracks the same counters as ar_engine_stats_t, except corruptions (it has
 * no arena memory). It aborts when malloc fails: it is test code.
 */
#ifndef AR_TESTS_REFERENCE_H
#define AR_TESTS_REFERENCE_H

#include <stddef.h>
#include <stdint.h>

#include "ar/engine.h"

typedef struct ar_ref_s ar_ref_t;

/* A free interval [start, end), or for buddy one free block. */
typedef struct ar_ref_span_s {
  uint64_t start;
  uint64_t end;
} ar_ref_span_t;

/*
 * Creates a reference arena of `size` bytes for `policy`. Returns 0 and a
 * new arena in *out (freed with ar_ref_destroy), or AR_EINVAL when the size
 * is 0, not a multiple of 4096, above AR_ARENA_MAX or (buddy) not a power of
 * two, or the policy is unknown.
 */
int ar_ref_create(ar_policy_t policy, uint64_t size, ar_ref_t **out);

/* Frees the arena. NULL is allowed. */
void ar_ref_destroy(ar_ref_t *r);

/*
 * Places a block for `n` bytes with payload alignment `align`, as the model
 * says. Returns 0 and fills *out (when not NULL); AR_EINVAL for n == 0,
 * n > AR_N_MAX or an alignment that is not a power of two in 16..4096
 * (nothing counted); AR_ENOMEM when nothing fits (only failed_allocs
 * changes; the rover stays).
 */
int ar_ref_alloc(ar_ref_t *r, uint64_t n, uint64_t align, ar_block_t *out);

/*
 * Frees the live block whose payload is at `payload`, coalescing (list
 * policies) or merging buddies. Returns 0 and fills *out (when not NULL), or
 * AR_EINVAL when no live block has that payload (only bad_frees changes).
 */
int ar_ref_free(ar_ref_t *r, uint64_t payload, ar_block_t *out);

/* Looks up the live block whose payload is at `payload`: 0 or AR_EINVAL. */
int ar_ref_find(const ar_ref_t *r, uint64_t payload, ar_block_t *out);

/*
 * The free set in ascending address order: the maximal free intervals of a
 * list policy, or the free blocks of buddy (one span per block, adjacent
 * blocks listed apart). Fills out[0 .. min(count, max)) and returns count,
 * the number of spans, which may exceed max.
 */
size_t ar_ref_free_set(const ar_ref_t *r, ar_ref_span_t *out, size_t max);

/* The live blocks, in the order they were allocated: how many, and the
 * i-th (i < ar_ref_live_count). */
size_t ar_ref_live_count(const ar_ref_t *r);
ar_block_t ar_ref_live_block(const ar_ref_t *r, size_t i);

/* The counters and gauges, with the meaning ar_engine_stats_t gives them;
 * corruptions and last_corrupt are always 0. */
void ar_ref_stats(const ar_ref_t *r, ar_engine_stats_t *out);

#endif /* AR_TESTS_REFERENCE_H */
