/*
 * bitset.c: the hierarchical bitset of bitset.h. Setting a bit in a word
 * that was empty sets its summary bit one level up (and so on); clearing the
 * last bit of a word clears it. Searches go up until a word has a candidate
 * bit, then straight down following the lowest set bits; the search for the
 * lowest set bit starts at word `low` (bitset.h).
 */
#include "bitset.h"

#include <stdlib.h>

#include "ar/error.h"

int ar__bitset_init(ar__bitset_t *b, uint64_t nbits, ar__mem_t *mem) {
  uint64_t total = 0, n = nbits ? nbits : 1;
  b->nlevels = 0;
  do {
    n = (n + 63) / 64;
    if (b->nlevels == AR__BITSET_LEVELS)
      return AR_EINTERNAL;
    b->nwords[b->nlevels++] = n;
    total += n;
  } while (n > 1);
  b->words = ar__mem_calloc(mem, total, sizeof(uint64_t));
  if (!b->words)
    return AR_EINTERNAL;
  b->mem = mem;
  uint64_t *p = b->words;
  for (int l = 0; l < b->nlevels; l++) {
    b->level[l] = p;
    p += b->nwords[l];
  }
  b->nbits = nbits;
  b->low = 0;
  return 0;
}

void ar__bitset_fini(ar__bitset_t *b) {
  if (b->words) {
    uint64_t total = 0; /* words in all levels, as init counted them */
    for (int l = 0; l < b->nlevels; l++)
      total += b->nwords[l];
    ar__mem_free(b->mem, b->words, total * sizeof(uint64_t));
  }
  b->words = NULL;
}

uint64_t ar__bitset_next(const ar__bitset_t *b, uint64_t from) {
  if (from >= b->nbits)
    return UINT64_MAX;
  /* Go up until some word has a set bit at or after the position. */
  int l = 0;
  uint64_t i = from;
  for (;;) {
    uint64_t w = b->level[l][i >> 6] & (~UINT64_C(0) << (i & 63));
    if (w) {
      i = (i & ~UINT64_C(63)) | (uint64_t)__builtin_ctzll(w);
      break;
    }
    /* Nothing left in this word: continue after it, one level up. */
    i = (i >> 6) + 1;
    if (++l == b->nlevels || (i >> 6) >= b->nwords[l])
      return UINT64_MAX;
  }
  /* Down: follow the lowest set bit of each word. */
  while (l-- > 0)
    i = (i << 6) | (uint64_t)__builtin_ctzll(b->level[l][i]);
  return i;
}

int ar__bitset_verify(const ar__bitset_t *b, bool full, uint64_t *reached) {
  *reached = 0;
  if (b->low >= b->nwords[0]) /* ar__bitset_first would read past it */
    return 0;
  /* The bits of a summary's last word past the words below it name none:
   * a search that followed one would read past the level below. */
  for (int l = 1; l < b->nlevels; l++) {
    uint64_t named = b->nwords[l - 1] - (b->nwords[l] - 1) * 64;
    if (named < 64 && (b->level[l][b->nwords[l] - 1] >> named) != 0)
      return l;
  }
  /* The summaries, word by word: from level 0 when full, else above it. */
  for (int l = full ? 0 : 1; l + 1 < b->nlevels; l++)
    for (uint64_t i = 0; i < b->nwords[l]; i++) {
      bool summary = (b->level[l + 1][i >> 6] & ar__bitset_bit(i)) != 0;
      if (summary != (b->level[l][i] != 0))
        return l + 1;
    }
  /* The bits of level 0: every word when full (or level 0 is all there
   * is), else only the words that level 1's set bits name. None of them
   * may be before word `low`, where ar__bitset_first starts. */
  if (full || b->nlevels == 1) {
    for (uint64_t i = 0; i < b->nwords[0]; i++) {
      if (i < b->low && b->level[0][i] != 0)
        return 0;
      *reached += (uint64_t)__builtin_popcountll(b->level[0][i]);
    }
    return -1;
  }
  for (uint64_t i = 0; i < b->nwords[1]; i++)
    for (uint64_t w = b->level[1][i]; w != 0; w &= w - 1) {
      uint64_t word = i * 64 + (uint64_t)__builtin_ctzll(w);
      if (word >= b->nwords[0] || b->level[0][word] == 0)
        return 1;
      if (word < b->low)
        return 0;
      *reached += (uint64_t)__builtin_popcountll(b->level[0][word]);
    }
  return -1;
}
