/*
 * itest.h: the test-only helper of the integration tests. It starts a real
 * arenad on a socket in a fresh temporary directory and waits until it is
 * ready (arenad's --ready-fd, a pipe: no sleeping), and speaks the wire
 * protocol over raw sockets: it frames with ar/frame.h and packs and
 * unpacks with protobuf-c, so that the tests depend on the protocol only,
 * not on the client library. Every socket has a receive timeout, so a
 * daemon that does not answer fails the test instead of hanging it.
 *
 * The helpers fail the current cmocka test on anything unexpected (a
 * system call failing, a reply whose id or kind does not match). A test
 * that fails part way skips its it_daemon_cleanup: the harness keeps its
 * own record of the directories it made and the daemons it started, and
 * when the test program exits it kills the daemons still running and
 * removes the directories still there (itest_daemon.c, left_clean).
 */
#ifndef ITEST_H
#define ITEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/un.h>

#include <cmocka.h>

#include "ar/error.h"
#include "arenad.pb-c.h"

/* Seconds any single wait may take. */
#define IT_TIMEOUT_S 30

/* How it_daemon_start tells the daemon its socket (it_daemon_t.sock_via):
 * --socket, $ARENAD_SOCKET, or $XDG_RUNTIME_DIR set to the directory (the
 * default path, arenad.sock in it). */
enum { IT_SOCK_ARG = 0, IT_SOCK_ENV = 1, IT_SOCK_XDG = 2 };

/* A daemon under test. */
typedef struct it_daemon_s {
  char dir[64];    /* its temporary directory */
  char sock[108];  /* dir/arenad.sock */
  char log[128];   /* dir/arenad.log: its standard error */
  char conf[128];  /* dir/arenad.conf, when a config was given */
  int sock_via;    /* how the daemon learns the socket: IT_SOCK_* */
  int pending_signal; /* if not 0 (set after prepare), the daemon starts
                         with this signal blocked and pending, as one
                         that came during its start-up would be; it may
                         then exit before it is ready (pid 0, status) */
  uint32_t run_uid, run_gid; /* if run_uid is not 0 (set after prepare,
                                by root), the daemon runs as this uid and
                                gid, with no supplementary groups, and its
                                directory is theirs */
  bool closed_stdio;         /* if set (after prepare), the daemon starts with
                                its standard input, output and error closed, and
                                logs nowhere */
  pid_t pid;       /* 0 once reaped */
  int status;      /* exit status once reaped (128 + signal if killed) */
} it_daemon_t;

/* Makes a fresh temporary directory for a daemon, without starting it. */
void it_daemon_prepare(it_daemon_t *d);

/*
 * Starts arenad on d's socket (prepared first when d->dir is empty) with
 * `config` written to d->conf and passed with --config (unless NULL) and
 * the NULL-terminated extra arguments `args` (may be NULL). Returns 0 once
 * the daemon is ready; or the daemon's exit status (> 0) when it exited
 * instead (its log says why).
 */
int it_daemon_start(it_daemon_t *d, const char *config,
                    const char *const *args);

/* Sends `sig` (none when 0) and waits for the exit; returns the exit
 * status (128 + the signal for a death by signal). Fails the test after
 * IT_TIMEOUT_S. */
int it_daemon_stop(it_daemon_t *d, int sig);

/* Sends the running daemon `sig`; SIGSTOP waits until it has stopped
 * (SIGCONT resumes it): so that it finds what is done meanwhile together,
 * or runs late, however this process is scheduled. */
void it_daemon_signal(const it_daemon_t *d, int sig);

/* Stops the daemon if it runs (SIGKILL) and removes its directory. */
void it_daemon_cleanup(it_daemon_t *d);

/*
 * One daemon for a whole cmocka group of tests: set it_group_config (and
 * it_group_open, for clients running as other users), pass
 * it_group_setup and it_group_teardown to cmocka_run_group_tests, and end
 * the group with it_test_exits_cleanly (cmocka 1.1.5 ignores a failure
 * in a group teardown, so the daemon's clean exit is a test of its own).
 */
extern it_daemon_t it_group;
extern const char *it_group_config;
extern bool it_group_open; /* it_daemon_open_to_all before the start */
int it_group_setup(void **state);
int it_group_teardown(void **state); /* only cleans up */
void it_test_exits_cleanly(void **state); /* SIGTERM, exit status 0 */

/* Whether the daemon's log contains `needle`. */
bool it_log_contains(const it_daemon_t *d, const char *needle);

/* Whether one line of the daemon's log contains all of the NULL-terminated
 * needles (an event and its fields, in any order). */
bool it_log_line(const it_daemon_t *d, const char *const *needles);

/* The number (from 1) of the first such line, or 0 when there is none: for
 * the order of two events. */
int it_log_line_no(const it_daemon_t *d, const char *const *needles);

/* The number of such lines (0 too when the log cannot be read): for an
 * event that must be logged so many times. */
int it_log_count(const it_daemon_t *d, const char *const *needles);

/* A client connection with its own read buffer and the descriptors that
 * came with SCM_RIGHTS, each with the stream offset of its first byte. */
typedef struct it_conn_s {
  int fd;
  uint64_t next_id;      /* the id of the next request sent with it_call */
  uint8_t *buf;          /* bytes received, not yet decoded */
  size_t len, cap;
  uint64_t consumed;     /* stream offset of buf[0] */
  int fds[16];           /* descriptors received, not yet taken */
  uint64_t fd_at[16];    /* each one's read: the stream offsets of its */
  uint64_t fd_end[16];   /* first byte and one past its last */
  int nfds;
} it_conn_t;

/* A new stream socket bound at path (not listening), its address in *sa
 * when sa is not NULL; fails the test when it cannot. For tests that put
 * something other than a daemon on a socket path. */
int it_bind_unix(const char *path, struct sockaddr_un *sa);

/* Connects to path; fails the test when it cannot. */
it_conn_t *it_connect(const char *path);
/* Connects; returns NULL with errno set when it cannot. */
it_conn_t *it_try_connect(const char *path);
void it_close(it_conn_t *c);

/* Sends bytes as they are. */
void it_send_raw(it_conn_t *c, const void *p, size_t n);

/* Appends req as a frame to buf (for pipelining many in one write). */
void it_frame_append(uint8_t **buf, size_t *len, const Arenad__Request *req);
/* The same, with the request's id set to `id` first. */
void it_frame_append_id(uint8_t **buf, size_t *len, Arenad__Request *req,
                        uint64_t id);

/* Sends one request (its id as set). */
void it_send(it_conn_t *c, const Arenad__Request *req);

/*
 * Receives the next Response, or NULL at end of stream. A descriptor that
 * came with the first byte of its frame is stored in *fd (when fd is not
 * NULL; -1 when none). Fails the test on a timeout or undecodable bytes.
 * Free the result with it_resp_free.
 */
Arenad__Response *it_recv(it_conn_t *c, int *fd);
void it_resp_free(Arenad__Response *r);

/* Sends req with the next id, receives the answer, checks its id and, when
 * it has a body, its kind. Returns it (to be freed). */
Arenad__Response *it_call(it_conn_t *c, Arenad__Request *req, int *fd);

/* Receives the next reply of a pipeline (no descriptor), which must answer
 * request `id` with `status` (an Arenad__Status). Returns it (to be
 * freed). */
Arenad__Response *it_recv_reply(it_conn_t *c, uint64_t id, int status);

/* Reads until the end of stream, failing on a timeout; returns how many
 * Responses came first (they are checked to decode and then dropped). */
int it_expect_eof(it_conn_t *c);

/* Request builders: a Request with its body, in static storage of the
 * helper valid until the next builder call. */
Arenad__Request *it_req_hello(uint32_t version, const char *name);
Arenad__Request *it_req_ping(void);
Arenad__Request *it_req_list(void);
Arenad__Request *it_req_stats(void);
Arenad__Request *it_req_attach(const char *arena, bool read_only);
Arenad__Request *it_req_alloc(const char *arena, uint64_t size,
                              uint64_t align, uint32_t count, bool detached);
Arenad__Request *it_req_free(const char *arena, const uint64_t *offsets,
                             size_t n);
Arenad__Request *it_req_inspect(const char *arena, Arenad__InspectWhat what,
                                uint64_t cursor, uint32_t limit);
Arenad__Request *it_req_check(const char *arena);
Arenad__Request *it_req_retain(const char *arena, uint64_t offset);
Arenad__Request *it_req_release(const char *arena, uint64_t offset);
Arenad__Request *it_req_transfer(const char *arena, uint64_t offset,
                                 uint64_t token);
/* access: NULL leaves it unset (the daemon's default for the caller). */
Arenad__Request *it_req_create(const char *name, uint64_t size,
                               Arenad__Policy policy,
                               const Arenad__Access *access,
                               uint64_t quota_bytes, uint64_t quota_blocks);
Arenad__Request *it_req_destroy(const char *name, bool force);

/* Shorthands that must succeed (STATUS_OK, else the test fails with the
 * reply's message). */
void it_hello_ok(it_conn_t *c);
uint64_t it_alloc_ok(it_conn_t *c, const char *arena, uint64_t size);
/* Allocates `count` blocks of `size` bytes (detached or not), which must
 * all be made; their offsets go to outs[0..count) when outs is not NULL. */
void it_alloc_n_ok(it_conn_t *c, const char *arena, uint64_t size,
                   uint32_t count, bool detached, uint64_t *outs);
void it_free_ok(it_conn_t *c, const char *arena, uint64_t offset);
void it_check_ok(it_conn_t *c, const char *arena);
/* The status of one request (a descriptor that came with it closed). */
int it_status(it_conn_t *c, Arenad__Request *req);
/* The arena's live block count, from inspect. */
uint64_t it_live_blocks(it_conn_t *c, const char *arena);
/* One counter of the daemon's stats, by its StatsReply field name; a
 * counter of a nested message by a dotted name ("requests.check"). Fails
 * the test for a name StatsReply has no counter for. */
uint64_t it_stat(it_conn_t *c, const char *name);
/* The same for one uint64 field of arena's summary (inspect), by its
 * ArenaSummary field name ("permission_denied"). */
uint64_t it_summary_stat(it_conn_t *c, const char *arena, const char *name);
/* Hello as "itest"; stores the connection's token and id (either may be
 * NULL). */
void it_hello_id(it_conn_t *c, uint64_t *token, uint64_t *conn_id);
/* Attaches `arena` read-write on c and maps its whole segment, shared and
 * writable; stores its size in *size. The mapping is the caller's, to be
 * unmapped with munmap(base, *size); the descriptor is closed. */
uint8_t *it_map_arena(it_conn_t *c, const char *arena, size_t *size);
/* Overwrites the 16-byte header of the block at payload `off` in the
 * mapping at base, as a misbehaving client would; fails the test when
 * those bytes are not the header of a block of n requested bytes. */
void it_smash_header(uint8_t *base, uint64_t off, uint64_t n);
/* Two round trips on c, after which the daemon has handled every event
 * that happened before (such as a peer's close): its loop takes all ready
 * sockets together, so the second is surely later. */
void it_barrier(it_conn_t *c);

/* What descriptor fd of process pid names (/proc/PID/fd/FD's link),
 * NUL-terminated in buf[0..len); false when it is not open (or the link
 * cannot be read). */
bool it_fd_target(pid_t pid, int fd, char *buf, size_t len);

/* The monotonic clock, in milliseconds (with their fractions). */
double it_now_ms(void);

/* ---- Other users ---------------------------------------------------------- */

/* Lets every user reach d's socket: its directory becomes 0711 (the
 * daemon's socket_mode must allow them too, e.g. 0666). */
void it_daemon_open_to_all(const it_daemon_t *d);

/*
 * Runs fn(arg) in a child process that has become uid and gid, with the
 * supplementary groups groups[0..ngroups) (none when ngroups is 0; at
 * most IT_GROUPS_MAX), and
 * returns its exit status: fn's return value, or 128 + the signal that
 * killed it, 125 when it could not change its identity. The child must not
 * use cmocka's asserts (they belong to the parent's test): fn checks with
 * plain code and returns 0 for success or a number naming the failure.
 * Fails the test after IT_TIMEOUT_S.
 */
#define IT_GROUPS_MAX 256
int it_run_as(uint32_t uid, uint32_t gid, const uint32_t *groups,
              size_t ngroups, int (*fn)(void *), void *arg);

/* The status of a reply must be `want`; prints its message otherwise. */
#define it_assert_status(resp, want)                                           \
  do {                                                                         \
    const Arenad__Response *r_ = (resp);                                       \
    if (r_ == NULL)                                                            \
      fail_msg("no reply (end of stream), want status %d", (int)(want));     \
    if ((int)r_->status != (int)(want))                                        \
      fail_msg("status %d (%s), want %d", (int)r_->status,                    \
               r_->message ? r_->message : "", (int)(want));                  \
  } while (0)

#endif /* ITEST_H */
