/*
 * bitset.h: a hierarchical bitset (internal to the buddy engine).
 *
 * Level 0 holds the bits; each bit of level l+1 says whether the matching
 * 64-bit word of level l has any bit set. Finding the lowest set bit, or the
 * lowest at or after a position, reads one word per level: O(log64 n), with
 * no walk over empty words. The buddy engine keeps one per order, so "the
 * free block of order j with the lowest offset" is a find_first.
 *
 * That search starts at a word of level 0 below which no bit is set (`low`,
 * lowered by every set, moved up to the word each search finds), and only
 * climbs the summaries when that word is empty: the buddy engine takes and
 * gives back its lowest blocks over and over, so the word usually still
 * holds the answer, one read instead of one a level.
 */
#ifndef AR_BITSET_H
#define AR_BITSET_H

#include <stdbool.h>
#include <stdint.h>

#include "memacct.h"

#define AR__BITSET_LEVELS 8 /* 64^8 = 2^48 bits, enough for any arena */

typedef struct ar__bitset_s {
  uint64_t *words;                      /* owned: every level, one block */
  uint64_t *level[AR__BITSET_LEVELS];   /* level[l] points into words */
  uint64_t nwords[AR__BITSET_LEVELS];   /* words in level l */
  int nlevels;                          /* the top level has one word */
  uint64_t nbits;
  uint64_t low;                         /* a word of level 0: none before it
                                           has a bit set */
  ar__mem_t *mem;                       /* the engine's count; not owned */
} ar__bitset_t;

/* All bits clear. Returns 0, or AR_EINTERNAL when memory runs out. The
 * memory comes from calloc, so untouched words cost no physical pages; it
 * is counted in *mem, which must outlive the bitset. */
int ar__bitset_init(ar__bitset_t *b, uint64_t nbits, ar__mem_t *mem);
void ar__bitset_fini(ar__bitset_t *b);

/* The hot operations are inline: the buddy engine calls them a few times
 * per request. */

static inline uint64_t ar__bitset_bit(uint64_t i) {
  return UINT64_C(1) << (i & 63);
}

static inline bool ar__bitset_test(const ar__bitset_t *b, uint64_t i) {
  return (b->level[0][i >> 6] & ar__bitset_bit(i)) != 0;
}

static inline void ar__bitset_set(ar__bitset_t *b, uint64_t i) {
  if ((i >> 6) < b->low)
    b->low = i >> 6;
  for (int l = 0; l < b->nlevels; l++, i >>= 6) {
    uint64_t *w = &b->level[l][i >> 6];
    bool was_empty = *w == 0;
    *w |= ar__bitset_bit(i);
    if (!was_empty)
      break;
  }
}

static inline void ar__bitset_clear(ar__bitset_t *b, uint64_t i) {
  for (int l = 0; l < b->nlevels; l++, i >>= 6) {
    uint64_t *w = &b->level[l][i >> 6];
    *w &= ~ar__bitset_bit(i);
    if (*w != 0)
      break;
  }
}

/* The lowest set bit at or after `from`, or UINT64_MAX when none. */
uint64_t ar__bitset_next(const ar__bitset_t *b, uint64_t from);

/* The lowest set bit, or UINT64_MAX when none: one word when word `low`
 * has a bit set, else a search from the next word, whose word becomes
 * `low`. */
static inline uint64_t ar__bitset_first(ar__bitset_t *b) {
  uint64_t w = b->level[0][b->low];
  if (w != 0)
    return (b->low << 6) | (uint64_t)__builtin_ctzll(w);
  uint64_t i = ar__bitset_next(b, (b->low + 1) << 6);
  if (i != UINT64_MAX)
    b->low = i >> 6;
  return i;
}

/* Checks that every summary bit matches its word (and that none is set
 * past the words of the level below), that no bit is set before word
 * `low`, and counts in *reached the set bits of level 0 (which the caller
 * compares with the bits it set). With `full`, every word is read.
 * Without, level 0, 64 times larger than the rest together, is read only
 * where level 1 has a bit set: a word set while its summary bit is clear
 * then goes unseen (and its bits uncounted), and the cost is the size of
 * the levels above 0 (1/4096 bit per bit of the set) plus the words in
 * use. Returns -1 when all match, the level whose summary is wrong, or 0
 * when `low` is past a set bit or past level 0. */
int ar__bitset_verify(const ar__bitset_t *b, bool full, uint64_t *reached);

/* The level-0 words up to which the buddy engine's check reads a bitset
 * in full (8 MiB; a buddy arena of up to 2 GiB has none larger). */
#define AR__BITSET_VERIFY_FULL_WORDS (UINT64_C(1) << 20)

#endif /* AR_BITSET_H */
