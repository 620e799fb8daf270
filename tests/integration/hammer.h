/*
 * hammer.h: what the sources of test_hammer share (hammer.c has the
 * definitions): the arenas the clients hammer, the daemon, the state the
 * children share in an anonymous shared mapping (the tokens of their
 * connections, the mailboxes of transfers, the outsider's refusals), the
 * seeded randomness that makes a child's requests the same on a rerun,
 * and the entry points of a child (hammer_child.c) and of the outsider
 * (hammer_outsider.c), which the parent (test_hammer.c) forks.
 *
 * Who owns what: the parent starts the daemon (daemon_, itest's) before
 * it forks and stops it at the end; it maps `shared` before it forks, so
 * that every process sees the same pages, and unmaps it once the
 * children and the outsider are gone. A child writes its own token and
 * the tail of its mailboxes to others, the receiver their heads; the
 * outsider writes outsider_denied once, at its end. Each process has its
 * own rng_t, seeded by the parent. Include this header first: it brings
 * itest.h, and with it cmocka.h and the standard headers cmocka needs
 * before it.
 */
#ifndef AR_TESTS_HAMMER_H
#define AR_TESTS_HAMMER_H

#include "itest.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define CHILDREN 6
#define MAX_BLOCKS 64 /* the daemon's max_blocks_per_request */
#define NARENAS 3     /* ham, bud and tmp (made and destroyed at will) */
#define TMP 2
#define MAILBOX 32 /* transfers in flight from one child to another */

/* The arenas' names and sizes: ham and bud from the daemon's config, tmp
 * as the children make it. */
extern const char *const arenas[NARENAS];
extern const uint64_t arena_size[NARENAS];

/* The daemon (itest.h), started by the parent before it forks. */
extern it_daemon_t daemon_;

/* ---- Shared between the children (an anonymous shared mapping) ---------- */

/* A block handed over by transfer: the receiver takes it when `token` is
 * still its connection's (a connection that closed lost it). */
typedef struct mail_s {
  uint64_t token, off, size, tag;
  int arena;
} mail_t;

/* One sender's ring to one receiver: the sender writes tail, the receiver
 * head. */
typedef struct box_s {
  _Atomic uint32_t head, tail;
  mail_t m[MAILBOX];
} box_t;

typedef struct shared_s {
  _Atomic uint64_t token[CHILDREN];  /* each child's connection's, or 0 */
  box_t box[CHILDREN][CHILDREN];     /* [sender][receiver] */
  uint64_t outsider_denied[NARENAS]; /* written by the outsider at its end */
} shared_t;

/* The shared mapping (the parent maps it before it forks). */
extern shared_t *shared;

/* ---- Randomness ---------------------------------------------------------- */

typedef struct rng_s {
  uint64_t s;
} rng_t;

/* The next number of r's sequence (splitmix64). */
uint64_t next(rng_t *r);

/* 0 .. n-1 */
uint64_t below(rng_t *r, uint64_t n);

/* True percent times out of 100. */
bool chance(rng_t *r, unsigned percent);

/* CLOCK_MONOTONIC, in milliseconds. */
uint64_t now_ms(void);

/* ---- The processes the parent forks -------------------------------------- */

/* Child idx (0 .. CHILDREN-1) runs its random requests from `seed` for
 * `ms` milliseconds or `max_ops` operations, whichever ends first; it
 * reports a failure on stderr and exits with 1 (child_fail), and may end
 * with _exit(0) without a word. Returns 0: the process's exit status. */
int child_main(int idx, uint64_t seed, uint64_t ms, uint64_t max_ops);

/* The outsider: as nobody (uid 65534), on ham and bud only. Returns 0 when
 * every request got the answer it must, 125 when it cannot become nobody,
 * 2 when it cannot connect; stores its refusals in
 * shared->outsider_denied. */
int outsider_main(uint64_t seed, uint64_t ms, uint64_t max_ops);

#endif
