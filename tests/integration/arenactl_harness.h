/*
 * arenactl_harness.h: what the test_arenactl_client_* tests share,
 * compiled into each (arenactl_harness.c): a real arenad for each test,
 * started by setup and stopped by teardown (itest.h); arenactl (the
 * build's, ARENACTL) run as a program against it, its exit status,
 * standard output and standard error kept for the test to look at; and a
 * fake daemon, for what a real one never says.
 *
 * Who owns what: the run_t that arenactl returns is the harness's own, and
 * the next run overwrites it (a test copies what it needs longer); the
 * JSON parse returns is the caller's (json_decref); fake_path's string is
 * static; the fake daemon is a child process, which fake_done reaps. The
 * files a run leaves are in the daemon's directory, which teardown
 * removes. Include this header first: it brings itest.h, and with it
 * cmocka.h and the standard headers cmocka needs before it.
 */
#ifndef AR_TESTS_ARENACTL_HARNESS_H
#define AR_TESTS_ARENACTL_HARNESS_H

#include "itest.h"

#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

/* ---- A real daemon and arenactl ------------------------------------------ */

/* The daemon of the current test. */
extern it_daemon_t daemon_;

/* What one run of arenactl left. */
typedef struct run_s {
  int status;
  char out[1 << 16];
  char err[4096];
} run_t;

/* Where the next runs' standard output goes instead of a file (NULL: the
 * file, which run_t.out then holds; closed_pipe: a pipe whose reader is
 * gone; closed_stdout: nowhere, descriptor 1 closed as by `>&-`). setup
 * sets it back to NULL. */
extern const char *out_to;
extern const char closed_pipe[];
extern const char closed_stdout[];

/* The address space the next runs of arenactl get (RLIMIT_AS, bytes; 0:
 * the test's own). setup sets it back to 0. */
extern uint64_t run_address_space;

/* Runs `arenactl --socket SOCK args...` (or without --socket when sock is
 * NULL), args ending with NULL, and waits for it; returns what it left,
 * in the harness's run_t, which the next run overwrites. */
run_t *arenactl(const char *sock, const char *const *args);

/* arenactl on the current test's daemon, with the arguments given. */
#define RUN(...)                                                               \
  arenactl(daemon_.sock, (const char *const[]){__VA_ARGS__, NULL})

/* Fails unless the run exited with `want`; shows its standard error. */
void expect_status(const run_t *r, int want);

/* The run's standard output, parsed as JSON (the caller's, to
 * json_decref); fails the test when it is not JSON. */
json_t *parse(const run_t *r);

/* cmocka setup and teardown: setup starts the daemon with the
 * configuration in *state, or, when that is NULL, with two arenas: alpha
 * (1 MiB, first fit) and beta (2 MiB, buddy), and pages of 3 (at most 8);
 * teardown stops it, which must exit 0, and removes its directory. */
int setup(void **state);
int teardown(void **state);

/* The live blocks of arena `name`, as the daemon counts them. */
uint64_t live_blocks(const char *name);

/* ---- A fake daemon ------------------------------------------------------- */

/* Serves `conns` connections on a socket at path, in a child, and returns
 * its pid (which exits 0 when all went as expected): hello is answered as
 * arenad would, with requests of up to FAKE_STEP blocks, and every check
 * with a broken invariant (whose detail is not UTF-8). Allocs are granted
 * FAKE_STEP blocks at a time until the FAKE_GRANTED-th block, then refused; of
 * the frees that give them back, the one numbered fake_failed_free (from 0)
 * fails and the others succeed, each telling that the header of its last
 * block had been overwritten. A list
 * has one arena, named with FAKE_NAME_LEN characters, more than a stdio buffer
 * holds (a real daemon's names have at most 64). */
#define FAKE_STEP 2
#define FAKE_GRANTED 4
#define FAKE_NAME_LEN 40000

/* The connection id the fake daemon's hello gives; a ping is answered. */
extern uint64_t fake_connection_id;

/* The free request that the fake daemon refuses, from 0 (the default). */
extern uint64_t fake_failed_free;

pid_t fake_daemon(const char *path, int conns);

/* Where the tests put the fake daemon's socket: fake.sock in the real
 * daemon's directory. A static buffer. */
const char *fake_path(void);

/* Reaps the fake daemon `fake`, which must have exited 0 (all went as
 * expected), and removes its socket. */
void fake_done(pid_t fake);

#endif /* AR_TESTS_ARENACTL_HARNESS_H */
