/*
 * bitset.h: a hierarchical bitset (internal to the buddy engine).
 *
 * Level 0 holds the bits; each bit of level l+1 says whether the matching
 * 64-bit word of level l has any bit set. Finding the lowest set bit, or the
 * lowest at or after a position, reads one word per level: O(log64 n), with
 * no walk over empty words. The buddy engine keeps one per order, so "the
 * free block of order j with the lowest offset" is a find_first.
 */
#ifndef AR_BITSET_H
#define AR_BITSET_H

#include <stdbool.h>
#include <stdint.h>

#define AR__BITSET_LEVELS 8 /* 64^8 = 2^48 bits, enough for any arena */

typedef struct ar__bitset_s {
  uint64_t *words;                      /* owned: every level, one block */
  uint64_t *level[AR__BITSET_LEVELS];   /* level[l] points into words */
  uint64_t nwords[AR__BITSET_LEVELS];   /* words in level l */
  int nlevels;                          /* the top level has one word */
  uint64_t nbits;
} ar__bitset_t;

/* All bits clear. Returns 0, or AR_EINTERNAL when memory runs out. The
 * memory comes from calloc, so untouched words cost no physical pages. */
int ar__bitset_init(ar__bitset_t *b, uint64_t nbits);
void ar__bitset_fini(ar__bitset_t *b);

bool ar__bitset_test(const ar__bitset_t *b, uint64_t i);
void ar__bitset_set(ar__bitset_t *b, uint64_t i);
void ar__bitset_clear(ar__bitset_t *b, uint64_t i);

/* The lowest set bit, or UINT64_MAX when none: one word a level. */
uint64_t ar__bitset_first(const ar__bitset_t *b);

/* The lowest set bit at or after `from`, or UINT64_MAX when none. */
uint64_t ar__bitset_next(const ar__bitset_t *b, uint64_t from);

/* Checks that every summary bit matches its word. Returns -1 when all do,
 * or the level whose summary is wrong. */
int ar__bitset_verify(const ar__bitset_t *b);

#endif /* AR_BITSET_H */
