/*
 * conn_harness.h: what the test_server_conn_* tests share, compiled into
 * each (conn_harness.c): a daemon with one small arena and a connection
 * driven without a socket (server/conn.c, from ad_core), request frames
 * built with the generated protobuf code and fed to the connection with
 * ad_conn_input, the replies taken out of its output as if sent, and the
 * allocator wrapped to fail on demand. Every test_server_conn_* binary is
 * linked with -Wl,--wrap=malloc, -Wl,--wrap=calloc and -Wl,--wrap=realloc
 * (tests/unit/CMakeLists.txt), whose wrappers are here.
 *
 * Who owns what: setup allocates the fixture and teardown frees it; the
 * daemon owns its connections (teardown closes and frees those still
 * open), but a test that closes one never started (ad_conn_close) frees it
 * itself (ad_conn_free) and, for the fixture's, sets f->c to NULL; a
 * bytes_t's buffer is its user's, to free; a reply take stores is the
 * caller's (free_all). Include this header first: it brings cmocka.h and
 * the standard headers cmocka needs before it.
 */
#ifndef AR_TESTS_CONN_HARNESS_H
#define AR_TESTS_CONN_HARNESS_H

/* cmocka.h needs these first */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ar/error.h"
#include "ar/frame.h"
#include "conn.h"
#include "daemon.h"

/* ---- Memory that runs out ------------------------------------------------ */

/* Linked with -Wl,--wrap=malloc (and calloc and realloc): while `nomem` is
 * set, every allocation of the daemon's code (and of the tests) fails, and
 * `nomem_refused` counts the failures. */
extern bool nomem;
extern size_t nomem_refused;

/* ---- The fixture ----------------------------------------------------------
 */

/* A test's state: the daemon, its configuration and one connection. */
typedef struct fixture_s {
  ad_config_t cfg;
  ad_daemon_t d;
  ad_conn_t *c;
} fixture_t;

/* cmocka setup and teardown of a fixture_t. setup allocates it, loads a
 * configuration with small limits (max_frame_bytes 4K, max_in_flight 4,
 * output_pause_bytes 4K, output_limit_bytes 64K, max_blocks_per_request 8)
 * and one arena, "a" of 1 MiB (mode 0666), starts the daemon without a
 * socket, and makes c, a connection without one (fd -1, pid 42, uid and
 * gid 1000). teardown finishes the daemon, which closes and frees every
 * connection still open, and frees the fixture. */
int setup(void **state);
int teardown(void **state);

/* ---- Frames in and out ----------------------------------------------------
 */

/* Request frames one after another: n bytes at p, which its user frees.
 * Starts empty: {NULL, 0}. */
typedef struct bytes_s {
  uint8_t *p;
  size_t n;
} bytes_t;

/* Appends req to b as one frame, with id `id` (set in req). */
void add(bytes_t *b, Arenad__Request *req, uint64_t id);

/* Appends a ping. */
void add_ping(bytes_t *b, uint64_t id);

/* Appends an alloc of n blocks of `size` bytes in arena a, detached or
 * not; add_alloc: not. */
void add_alloc_detached(bytes_t *b, uint64_t id, uint64_t size, uint32_t n,
                        bool detached);
void add_alloc(bytes_t *b, uint64_t id, uint64_t size, uint32_t n);

/* Appends a free of offsets[0..n) (the caller's) in arena a. */
void add_free(bytes_t *b, uint64_t id, const uint64_t *offsets, size_t n);

/* Appends an inspect of arena a's blocks from `cursor`, up to 1000
 * extents a page. */
void add_inspect(bytes_t *b, uint64_t id, uint64_t cursor);

/* Appends a create_arena of a first-fit arena "made" of 4096 bytes. */
void add_create_made(bytes_t *b, uint64_t id);

/* A connection (pid 43, uid and gid 1000) on one end of a socket pair,
 * started when `start`; the peer's end in *peer, which the caller closes.
 * One never started is closed and freed by the caller, not the daemon. */
ad_conn_t *socket_conn(fixture_t *f, int *peer, bool start);

/* Replaces f's connection by an administrator's (the daemon's uid), as
 * create_arena needs. */
void become_admin(fixture_t *f);

/* Takes every reply out of c's output (as if sent), each checked to fit
 * in max_frame_bytes. Returns how many, and stores up to max of them in
 * out (each freed by the caller with arenad__response__free_unpacked), the
 * others freed here. */
size_t take(ad_conn_t *c, Arenad__Response **out, size_t max);

/* Frees the n replies r[0..n) that take stored. */
void free_all(Arenad__Response **r, size_t n);

/* Says hello with a long name (so that every holder in a page is large),
 * then allocates 64 blocks (eight requests of 8, drained between), on
 * f's connection, which holds them. */
void fill_blocks(fixture_t *f);

#endif /* AR_TESTS_CONN_HARNESS_H */
