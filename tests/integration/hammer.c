/*
 * hammer.c: the state and helpers that test_hammer's parent, children and
 * outsider share (hammer.h says what each is, and who owns what): the
 * arenas' names and sizes, the daemon, the pointer to the shared mapping,
 * and the seeded randomness (splitmix64) that makes each process's
 * requests the same for the same seed.
 */
#include "hammer.h"

#include <time.h>

const char *const arenas[NARENAS] = {"ham", "bud", "tmp"};
const uint64_t arena_size[NARENAS] = {2u << 20, 1u << 20, 256u << 10};

it_daemon_t daemon_;

shared_t *shared;

uint64_t next(rng_t *r) { /* splitmix64 */
  uint64_t z = (r->s += 0x9e3779b97f4a7c15u);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
  return z ^ (z >> 31);
}

uint64_t below(rng_t *r, uint64_t n) { return n ? next(r) % n : 0; }

bool chance(rng_t *r, unsigned percent) { return below(r, 100) < percent; }

uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}
