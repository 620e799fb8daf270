/*
 * lcg.h: the small pseudo-random generator the engine unit tests share (a
 * 64-bit linear congruential generator, its top 31 bits returned), so that
 * a test gives the same sizes and orders on every run. Header only.
 */
#ifndef AR_TESTS_LCG_H
#define AR_TESTS_LCG_H

#include <stdint.h>

/* Steps the state *x and returns 31 fresh bits. */
static inline uint64_t next_rand(uint64_t *x) {
  *x = *x * UINT64_C(6364136223846793005) + UINT64_C(1442695040888963407);
  return *x >> 33;
}

#endif /* AR_TESTS_LCG_H */
