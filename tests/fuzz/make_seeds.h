/*
 * make_seeds.h: what the sources of make_seeds (make_seeds.c) share: a
 * seed being built (out_t) and its bytes, the files it goes to, one
 * function per kind of Request (packed with protobuf-c and framed as the
 * daemon reads them), the operations of fuzz_dispatch's input format, and
 * the seed writers, one a group, that main calls in turn.
 *
 * Who owns what: everything here is static storage, the program's. A seed
 * is built in an out_t (the scratch a, b and c that each seed file keeps
 * for itself, or one of the caller's),
 * which the functions below only append to; write_file copies its bytes
 * to a file and keeps nothing. Each seed writer resets the scratch it uses
 * before it uses it; a, b and c hold nothing from one writer to the next.
 * die reports and exits: nothing is freed, the program ends.
 */
#ifndef AR_TESTS_MAKE_SEEDS_H
#define AR_TESTS_MAKE_SEEDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arenad.pb-c.h"

#define BUF_MAX 65536

typedef struct out_s {
  uint8_t p[BUF_MAX];
  size_t n;
} out_t;

/* The id the next framed Request gets (frame); reset sets it to 1, a seed
 * may set it otherwise. */
extern uint64_t next_id;

/* Writes "make_seeds: " and the message to stderr, and exits with 1. */
void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* Appends p[0..n) to o (dies past BUF_MAX). */
void put(out_t *o, const void *p, size_t n);

/* Appends q, framed, with the next id. */
void frame(out_t *o, Arenad__Request *q);

/* ---- Files --------------------------------------------------------------- */

/* The directory the seeds go to (main sets it from its argument). */
extern const char *seeds_dir;

/* Writes o's bytes to seeds_dir/sub/name, making seeds_dir/sub if need
 * be. */
void write_file(const char *sub, const char *name, const out_t *o);

/* Empties o, and the next Request framed gets id 1. */
void reset(out_t *o);

/* ---- Requests (seeds_requests.c) --------------------------------------- */

/* Each appends one Request of its kind, framed (frame), with these fields;
 * the strings and arrays are only read. */
void hello(out_t *o, uint32_t version);
void ping(out_t *o);
void list(out_t *o);
void stats(out_t *o);
void attach(out_t *o, const char *arena, bool ro);
void alloc(out_t *o, const char *arena, uint64_t size, uint64_t align,
           uint32_t count, bool detached);
void free_n(out_t *o, const char *arena, const uint64_t *offs, size_t n);
void free1(out_t *o, const char *arena, uint64_t off);
void inspect(out_t *o, const char *arena, Arenad__InspectWhat what,
             uint64_t cursor, uint32_t limit);
void check(out_t *o, const char *arena);
void retain(out_t *o, const char *arena, uint64_t off);
void release(out_t *o, const char *arena, uint64_t off);
/* fuzz_dispatch gives connection N the token N (see its getrandom). */
void transfer(out_t *o, const char *arena, uint64_t off, uint64_t token);
void create_arena(out_t *o, const char *name, uint64_t size,
                  Arenad__Policy policy);
void destroy_arena(out_t *o, const char *name, bool force);
/* A Request with no body. */
void empty_request(out_t *o);

/* ---- fuzz_dispatch operations (seeds_requests.c) ----------------------- */

/* A DATA operation: connection `slot` writes the bytes of `f`. */
void data(out_t *o, unsigned slot, const out_t *f);
/* An operation of one byte (RESET, SHUTDOWN, STALL | its connection). */
void op(out_t *o, uint8_t code);
/* A SCRIBBLE operation: n bytes of p written at `off` in arena `arena`. */
void scribble(out_t *o, unsigned arena, uint16_t off, const void *p, uint8_t n);
/* The setup byte: 1 to 4 connections, the policy of arena "a", and other
 * uids for connections 1 to 3. */
uint8_t setup(unsigned slots, unsigned policy, bool uids);

/* ---- The seeds, one function a group ----------------------------------- */

/* seeds_frame.c: frame streams for fuzz_frame, each also one connection's
 * bytes for fuzz_dispatch; and what breaks the protocol. */
void seeds_single(void);
void seeds_protocol(void);
/* seeds_dispatch.c: several connections at once, sharing and access, and
 * memory that runs out, for fuzz_dispatch. */
void seeds_multi(void);
void seeds_sharing(void);
void seeds_nomem(void);
void seeds_nomem_first(void);
/* seeds_client.c: scripts of client calls for fuzz_client. */
void seeds_client(void);

#endif
