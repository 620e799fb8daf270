/*
 * test_client.c: the client library against a fake daemon on a socketpair,
 * so that what a real daemon never sends can be sent: replies with the
 * wrong id or kind, a success without a body, frames over the limit,
 * garbage, descriptors where none belongs or too many of them, a segment
 * smaller than announced, blocks past the end of the arena's mapping,
 * overwritten headers named past the request or out of order (by a
 * blocking free or a pipelined one). The
 * library is driven through its public header only (arenad_open_fd makes
 * a handle of one end); the test plays the daemon on the other end with
 * the generated protobuf code. Replies are written before the call that
 * reads them (the socket buffers them), and the request is read and
 * checked after it, so no thread is needed; a reply that must come while
 * the library waits (a non-blocking socket) is written by a child process.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ar/frame.h"
#include "arenad.h"
#include "arenad.pb-c.h"
#include "arenad_assert.h"
#include "send_fds.h"

typedef struct fixture_s {
  arenad_t *h;
  int cli; /* the library's end, owned by h */
  int srv; /* the fake daemon's end */
  int fds_before;
} fixture_t;

/* Open descriptors of this process. */
static int count_fds(void) {
  DIR *d = opendir("/proc/self/fd");
  assert_non_null(d);
  int n = 0;
  while (readdir(d) != NULL)
    n++;
  closedir(d);
  return n;
}

static int setup(void **state) {
  fixture_t *f = calloc(1, sizeof *f);
  assert_non_null(f);
  f->fds_before = count_fds();
  int sv[2];
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  assert_int_equal(arenad_open_fd(sv[0], &f->h), 0);
  f->cli = sv[0];
  f->srv = sv[1];
  *state = f;
  return 0;
}

/* Every test ends with no descriptor left behind: the library closes what
 * it received and did not keep, and closes the socket. */
static int teardown(void **state) {
  fixture_t *f = *state;
  arenad_close(f->h);
  close(f->srv);
  assert_int_equal(count_fds(), f->fds_before);
  free(f);
  return 0;
}

/* ---- the fake daemon ----------------------------------------------------- */

/* Writes raw bytes, with descriptor fd (when >= 0) attached, nfd times. */
static void send_raw(int srv, const void *p, size_t n, const int *fds,
                     size_t nfds) {
  assert_int_equal(send_with_fds(srv, p, n, fds, nfds, 0), (ssize_t)n);
}

/* Sends r as one frame, with nfds descriptors. */
static void send_reply_fds(int srv, const Arenad__Response *r, const int *fds,
                           size_t nfds) {
  size_t len = arenad__response__get_packed_size(r);
  uint8_t *buf = malloc(len + AR_FRAME_PREFIX_MAX);
  assert_non_null(buf);
  size_t p = ar_frame_encode(buf, len);
  arenad__response__pack(r, buf + p);
  send_raw(srv, buf, p + len, fds, nfds);
  free(buf);
}

static void send_reply(int srv, const Arenad__Response *r) {
  send_reply_fds(srv, r, NULL, 0);
}

/* Writes buf[0..n) to srv ms milliseconds from now, from a child process,
 * or shuts srv down (both ways) when buf is NULL, so that it comes while
 * the library waits. Returns the child, to be reaped with wait_child. The
 * child only sleeps, acts and exits: no cmocka. */
static pid_t act_later(int srv, int ms, const uint8_t *buf, size_t n) {
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    usleep((useconds_t)ms * 1000);
    if (buf == NULL)
      _exit(shutdown(srv, SHUT_RDWR) == 0 ? 0 : 1);
    _exit(write(srv, buf, n) == (ssize_t)n ? 0 : 1);
  }
  return pid;
}

/* Sends r as one frame ms milliseconds from now (see act_later). */
static pid_t send_reply_later(int srv, const Arenad__Response *r, int ms) {
  size_t len = arenad__response__get_packed_size(r);
  uint8_t *buf = malloc(len + AR_FRAME_PREFIX_MAX);
  assert_non_null(buf);
  size_t p = ar_frame_encode(buf, len);
  arenad__response__pack(r, buf + p);
  pid_t pid = act_later(srv, ms, buf, p + len);
  free(buf);
  return pid;
}

/* Reaps a child of act_later: it must have done what it was to do. */
static void wait_child(pid_t pid) {
  int st;
  assert_int_equal(waitpid(pid, &st, 0), pid);
  assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* Reads one request frame; the caller frees it. */
static Arenad__Request *read_request(int srv) {
  uint8_t buf[4096];
  size_t len = 0;
  ar_frame_t fr;
  for (;;) {
    int rc = ar_frame_decode(buf, len, sizeof buf, &fr);
    assert_true(rc >= 0);
    if (rc == AR_FRAME_COMPLETE)
      break;
    ssize_t n = read(srv, buf + len, fr.end - len);
    assert_true(n > 0);
    len += (size_t)n;
  }
  Arenad__Request *req =
      arenad__request__unpack(NULL, fr.end - fr.start, buf + fr.start);
  assert_non_null(req);
  /* The library writes some kinds by hand: byte for byte what protobuf-c
   * packs. */
  uint8_t again[4096];
  assert_int_equal(arenad__request__get_packed_size(req), fr.end - fr.start);
  assert_int_equal(arenad__request__pack(req, again), fr.end - fr.start);
  assert_memory_equal(again, buf + fr.start, fr.end - fr.start);
  return req;
}

/* Reads one request and checks its id and kind. */
static void expect_request(int srv, uint64_t id, int kind) {
  Arenad__Request *req = read_request(srv);
  assert_int_equal(req->id, id);
  assert_int_equal(req->body_case, kind);
  arenad__request__free_unpacked(req, NULL);
}

/* A reply to request id, status OK, with the ping body set. */
static Arenad__PingReply ping_body = ARENAD__PING_REPLY__INIT;
static Arenad__Response ping_reply(uint64_t id) {
  Arenad__Response r = ARENAD__RESPONSE__INIT;
  r.id = id;
  r.body_case = ARENAD__RESPONSE__BODY_PING;
  r.ping = &ping_body;
  return r;
}

/* The reply to request 1, a hello, with the caller's body. */
static Arenad__Response hello_reply(Arenad__HelloReply *body) {
  Arenad__Response r = ARENAD__RESPONSE__INIT;
  r.id = 1;
  r.body_case = ARENAD__RESPONSE__BODY_HELLO;
  r.hello = body;
  return r;
}

/* Sends the reply to request id (0: about the connection, not a request)
 * that failed as a whole: its status and message, no body. */
static void send_error_reply(int srv, uint64_t id, Arenad__Status status,
                             const char *message) {
  Arenad__Response r = ARENAD__RESPONSE__INIT;
  r.id = id;
  r.status = status;
  r.message = (char *)message;
  send_reply(srv, &r);
}

/* Sends the reply to alloc request id: the n offsets (the caller's). */
static void send_alloc_reply(int srv, uint64_t id, const uint64_t *offs,
                             size_t n) {
  Arenad__AllocReply ab = ARENAD__ALLOC_REPLY__INIT;
  ab.offsets = (uint64_t *)offs; /* only read by pack */
  ab.n_offsets = n;
  Arenad__Response r = ARENAD__RESPONSE__INIT;
  r.id = id;
  r.body_case = ARENAD__RESPONSE__BODY_ALLOC;
  r.alloc = &ab;
  send_reply(srv, &r);
}

/* Sends the reply to free request id: status and message, `freed`, the
 * offsets' statuses st[0..n) (none when n is 0), and the indices ow[0..nw)
 * of the offsets named as overwritten headers. */
static void send_free_reply_ow(int srv, uint64_t id, Arenad__Status status,
                               const char *message, uint32_t freed,
                               Arenad__Status *st, size_t n, uint32_t *ow,
                               size_t nw) {
  Arenad__FreeReply fb = ARENAD__FREE_REPLY__INIT;
  fb.freed = freed;
  fb.statuses = st;
  fb.n_statuses = n;
  fb.overwritten = ow;
  fb.n_overwritten = nw;
  Arenad__Response r = ARENAD__RESPONSE__INIT;
  r.id = id;
  r.status = status;
  r.message = (char *)message;
  r.body_case = ARENAD__RESPONSE__BODY_FREE;
  r.free = &fb;
  send_reply(srv, &r);
}

/* send_free_reply_ow naming no overwritten header. */
static void send_free_reply(int srv, uint64_t id, Arenad__Status status,
                            const char *message, uint32_t freed,
                            Arenad__Status *st, size_t n) {
  send_free_reply_ow(srv, id, status, message, freed, st, n, NULL, 0);
}

/* Sends the reply to release request id: `refcount` references left, and
 * `overwritten`. */
static void send_release_reply(int srv, uint64_t id, uint32_t refcount,
                               bool overwritten) {
  Arenad__ReleaseReply rb = ARENAD__RELEASE_REPLY__INIT;
  rb.refcount = refcount;
  rb.overwritten = overwritten;
  Arenad__Response r = ARENAD__RESPONSE__INIT;
  r.id = id;
  r.body_case = ARENAD__RESPONSE__BODY_RELEASE;
  r.release = &rb;
  send_reply(srv, &r);
}

/* ---- replies the library accepts ----------------------------------------- */

static void test_hello(void **state) {
  fixture_t *f = *state;
  Arenad__Limits lim = ARENAD__LIMITS__INIT;
  lim.max_frame_bytes = 4096;
  lim.max_blocks_per_request = 64;
  lim.max_in_flight = 2;
  lim.max_page = 100;
  Arenad__HelloReply body = ARENAD__HELLO_REPLY__INIT;
  body.daemon_version = "9.8.7";
  body.protocol_version = 1;
  body.limits = &lim;
  body.token = 0x1234567890abcdefULL;
  body.connection_id = 42;
  Arenad__Response r = hello_reply(&body);
  send_reply(f->srv, &r);

  arenad_hello_t hi;
  assert_arenad_ok(f->h, arenad_hello(f->h, "test", &hi));
  assert_string_equal(hi.daemon_version, "9.8.7");
  assert_int_equal(hi.max_frame_bytes, 4096);
  assert_int_equal(hi.max_blocks_per_request, 64);
  assert_int_equal(hi.max_in_flight, 2);
  assert_int_equal(hi.token, 0x1234567890abcdefULL);
  assert_int_equal(hi.connection_id, 42);
  assert_int_equal(arenad_window(f->h), 2);

  Arenad__Request *req = read_request(f->srv);
  assert_int_equal(req->body_case, ARENAD__REQUEST__BODY_HELLO);
  assert_int_equal(req->hello->protocol_version, ARENAD_PROTOCOL_VERSION);
  assert_string_equal(req->hello->client_name, "test");
  arenad__request__free_unpacked(req, NULL);

  /* The frame limit now binds: a reply over 4096 bytes breaks the handle
   * as soon as its prefix is read. */
  uint8_t prefix[AR_FRAME_PREFIX_MAX];
  send_raw(f->srv, prefix, ar_frame_encode(prefix, 4097), NULL, 0);
  assert_int_equal(arenad_ping(f->h), AR_EPROTO);
  assert_non_null(strstr(arenad_error(f->h), "limit"));
}

/* A hello reply that raises the frame limit and arrives in one read with
 * the start of the next reply: the bytes already read keep their place,
 * and the input buffer takes a reply up to the new limit (here 2 MiB,
 * over the 1 MiB default) instead of breaking the handle as full. The
 * bytes come from a child, as the socket holds less than they are. */
static void test_hello_raises_the_limit_with_bytes_buffered(void **state) {
  fixture_t *f = *state;
  Arenad__Limits lim = ARENAD__LIMITS__INIT;
  lim.max_frame_bytes = 4u << 20;
  Arenad__HelloReply body = ARENAD__HELLO_REPLY__INIT;
  body.protocol_version = 1;
  body.limits = &lim;
  Arenad__Response hello = hello_reply(&body);

  size_t msg_len = 2u << 20;
  char *msg = malloc(msg_len + 1);
  assert_non_null(msg);
  memset(msg, 'm', msg_len);
  msg[msg_len] = '\0';
  Arenad__Response refused = ARENAD__RESPONSE__INIT;
  refused.id = 2;
  refused.status = ARENAD__STATUS__STATUS_NOT_FOUND;
  refused.message = msg;

  size_t len1 = arenad__response__get_packed_size(&hello);
  size_t len2 = arenad__response__get_packed_size(&refused);
  uint8_t *buf = malloc(len1 + len2 + 2 * AR_FRAME_PREFIX_MAX);
  assert_non_null(buf);
  size_t n = ar_frame_encode(buf, len1);
  n += arenad__response__pack(&hello, buf + n);
  n += ar_frame_encode(buf + n, len2);
  n += arenad__response__pack(&refused, buf + n);
  pid_t pid = act_later(f->srv, 50, buf, n);
  free(buf);
  free(msg);

  arenad_hello_t hi;
  assert_arenad_ok(f->h, arenad_hello(f->h, "test", &hi));
  assert_int_equal(hi.max_frame_bytes, 4u << 20);
  assert_int_equal(arenad_ping(f->h), AR_ENOENT);
  assert_true(strlen(arenad_error(f->h)) > 0);
  assert_int_equal(strspn(arenad_error(f->h), "m"), strlen(arenad_error(f->h)));
  wait_child(pid);
  expect_request(f->srv, 1, ARENAD__REQUEST__BODY_HELLO);
  expect_request(f->srv, 2, ARENAD__REQUEST__BODY_PING);
}

/* A request over the daemon's frame limit (4 KiB after hello) is refused
 * by the library before a byte is sent, with a message, blocking or
 * pipelined, and the handle stays usable. */
static void test_request_over_the_limit(void **state) {
  fixture_t *f = *state;
  Arenad__Limits lim = ARENAD__LIMITS__INIT;
  lim.max_frame_bytes = 4096;
  Arenad__HelloReply body = ARENAD__HELLO_REPLY__INIT;
  body.protocol_version = 1;
  body.limits = &lim;
  Arenad__Response r = hello_reply(&body);
  send_reply(f->srv, &r);
  assert_arenad_ok(f->h, arenad_hello(f->h, "test", NULL));
  expect_request(f->srv, 1, ARENAD__REQUEST__BODY_HELLO);

  static uint64_t offs[2000]; /* some 6 KB of offsets */
  for (size_t i = 0; i < 2000; i++)
    offs[i] = 1000000 + 32 * i;
  int statuses[2000];
  assert_int_equal(arenad_free_n(f->h, "a", offs, 2000, statuses), AR_ELIMIT);
  assert_non_null(strstr(arenad_error(f->h), "over the frame limit of 4096"));
  /* Not the full window's AR_ELIMIT: told apart as arenad.h says. */
  assert_int_equal(arenad_submit_free(f->h, "a", offs, 2000, 7), AR_ELIMIT);
  assert_int_equal(arenad_in_flight(f->h), 0);
  assert_true(arenad_in_flight(f->h) < arenad_window(f->h));
  assert_non_null(strstr(arenad_error(f->h), "over the frame limit"));
  /* Refused before sending, for want of offsets or of a name: every
   * status says so too. */
  for (int i = 0; i < 3; i++)
    statuses[i] = 111;
  assert_int_equal(arenad_free_n(f->h, "a", NULL, 3, statuses), AR_EINVAL);
  for (int i = 0; i < 3; i++)
    assert_int_equal(statuses[i], AR_EINVAL);
  assert_int_equal(arenad_free_n(f->h, "", offs, 3, statuses), AR_EINVAL);
  for (int i = 0; i < 3; i++)
    assert_int_equal(statuses[i], AR_EINVAL);
  /* A kind that protobuf-c frames (not encode.c): the same limit, for a
   * request that the output queue could still take. The ping's reply is
   * there first, so that a request sent by mistake would take it. */
  Arenad__Response pong = ping_reply(2);
  send_reply(f->srv, &pong);
  static char name[6000];
  memset(name, 'n', sizeof name - 1);
  assert_int_equal(arenad_retain(f->h, name, 16, NULL), AR_ELIMIT);
  assert_non_null(strstr(arenad_error(f->h), "a retain request of 60"));
  assert_non_null(strstr(arenad_error(f->h), "over the frame limit of 4096"));
  char byte;
  assert_int_equal(recv(f->srv, &byte, 1, MSG_DONTWAIT), -1); /* nothing */

  assert_arenad_ok(f->h, arenad_ping(f->h));
  expect_request(f->srv, 2, ARENAD__REQUEST__BODY_PING);
}

static void test_version_mismatch(void **state) {
  fixture_t *f = *state;
  Arenad__HelloReply body = ARENAD__HELLO_REPLY__INIT;
  body.daemon_version = "2.0.0";
  body.protocol_version = 2;
  Arenad__Response r = hello_reply(&body);
  r.status = ARENAD__STATUS__STATUS_UNSUPPORTED_VERSION;
  r.message = "protocol 1 is not spoken here";
  send_reply(f->srv, &r);

  arenad_hello_t hi;
  assert_int_equal(arenad_hello(f->h, NULL, &hi), AR_EVERSION);
  assert_int_equal(hi.protocol_version, 2); /* filled all the same */
  assert_string_equal(hi.daemon_version, "2.0.0");
  assert_int_equal(arenad_ping(f->h), AR_EIO); /* unusable */
}

/* The same refusal without a body: *out is zeroed, not left as it was, and
 * the handle is unusable all the same. */
static void test_version_mismatch_no_body(void **state) {
  fixture_t *f = *state;
  send_error_reply(f->srv, 1, ARENAD__STATUS__STATUS_UNSUPPORTED_VERSION,
                   "old");
  arenad_hello_t hi;
  memset(&hi, 0xaa, sizeof hi);
  assert_int_equal(arenad_hello(f->h, NULL, &hi), AR_EVERSION);
  assert_int_equal(hi.protocol_version, 0);
  assert_int_equal(hi.max_frame_bytes, 0);
  assert_string_equal(hi.daemon_version, "");
  assert_int_equal(arenad_ping(f->h), AR_EIO);
  assert_non_null(strstr(arenad_error(f->h), "protocol version"));
}

/* A refused request is not a broken connection: the daemon's message is
 * the handle's error, and the next request goes through. */
static void test_error_status(void **state) {
  fixture_t *f = *state;
  send_error_reply(f->srv, 1, ARENAD__STATUS__STATUS_NOT_FOUND,
                   "no arena called nope");
  uint64_t off;
  assert_int_equal(arenad_alloc(f->h, "nope", 16, 0, 0, &off, NULL),
                   AR_ENOENT);
  assert_string_equal(arenad_error(f->h), "no arena called nope");
  expect_request(f->srv, 1, ARENAD__REQUEST__BODY_ALLOC);

  /* A status this library does not know is an internal error. */
  send_error_reply(f->srv, 2, (Arenad__Status)99, "");
  assert_int_equal(arenad_ping(f->h), AR_EINTERNAL);

  Arenad__Response ok = ping_reply(3);
  send_reply(f->srv, &ok);
  assert_arenad_ok(f->h, arenad_ping(f->h));
}

static void test_alloc_free(void **state) {
  fixture_t *f = *state;
  uint64_t offs[3] = {16, 4112, 8208};
  send_alloc_reply(f->srv, 1, offs, 3);

  uint64_t got[3];
  assert_arenad_ok(f->h, arenad_alloc_n(f->h, "a", 100, 64, 3,
                                        ARENAD_ALLOC_DETACHED, got));
  assert_memory_equal(got, offs, sizeof offs);
  Arenad__Request *req = read_request(f->srv);
  assert_int_equal(req->body_case, ARENAD__REQUEST__BODY_ALLOC);
  assert_string_equal(req->alloc->arena, "a");
  assert_int_equal(req->alloc->size, 100);
  assert_int_equal(req->alloc->alignment, 64);
  assert_int_equal(req->alloc->count, 3);
  assert_true(req->alloc->detached);
  arenad__request__free_unpacked(req, NULL);

  /* A partial free: the first failure's status, one status per offset. */
  Arenad__Status st[3] = {ARENAD__STATUS__STATUS_OK,
                          ARENAD__STATUS__STATUS_PERMISSION_DENIED,
                          ARENAD__STATUS__STATUS_INVALID_ARGUMENT};
  send_free_reply(f->srv, 2, ARENAD__STATUS__STATUS_PERMISSION_DENIED,
                  "offset 4112 belongs to connection 7", 1, st, 3);
  int statuses[3];
  assert_int_equal(arenad_free_n(f->h, "a", got, 3, statuses), AR_EPERM);
  assert_int_equal(statuses[0], 0);
  assert_int_equal(statuses[1], AR_EPERM);
  assert_int_equal(statuses[2], AR_EINVAL);
  assert_string_equal(arenad_error(f->h), "offset 4112 belongs to connection 7");
  expect_request(f->srv, 2, ARENAD__REQUEST__BODY_FREE);

  /* An alloc reply with fewer offsets than blocks asked for. */
  send_alloc_reply(f->srv, 3, offs, 2);
  assert_int_equal(arenad_alloc_n(f->h, "a", 100, 0, 3, 0, got), AR_EPROTO);
}

/* ---- replies the library rejects ----------------------------------------- */

/* arenad_free_each: 0 when the daemon answered for each offset (the
 * statuses are the offsets' own, also when every one failed alike), the
 * code of the request when it failed as a whole (every status that code
 * too), which arenad_free_n cannot tell apart. */
static void test_free_each(void **state) {
  fixture_t *f = *state;
  uint64_t offs[2] = {16, 4112};
  int statuses[2];

  /* Both offsets no live block, one status each. */
  Arenad__Status st[2] = {ARENAD__STATUS__STATUS_INVALID_ARGUMENT,
                          ARENAD__STATUS__STATUS_INVALID_ARGUMENT};
  const char *not_live = "offset 16 is not a live block of arena 'a'";
  send_free_reply(f->srv, 1, ARENAD__STATUS__STATUS_INVALID_ARGUMENT, not_live,
                  0, st, 2);
  assert_arenad_ok(f->h, arenad_free_each(f->h, "a", offs, 2, statuses));
  assert_int_equal(statuses[0], AR_EINVAL);
  assert_int_equal(statuses[1], AR_EINVAL);
  assert_string_equal(arenad_error(f->h), not_live);
  expect_request(f->srv, 1, ARENAD__REQUEST__BODY_FREE);

  /* The same code for the request as a whole: no statuses. */
  send_error_reply(f->srv, 2, ARENAD__STATUS__STATUS_INVALID_ARGUMENT,
                   "bad arena name");
  assert_int_equal(arenad_free_each(f->h, "a", offs, 2, statuses), AR_EINVAL);
  assert_int_equal(statuses[0], AR_EINVAL);
  assert_int_equal(statuses[1], AR_EINVAL);
  expect_request(f->srv, 2, ARENAD__REQUEST__BODY_FREE);
  /* Refused before sending, for want of a name. */
  assert_int_equal(arenad_free_each(f->h, "", offs, 2, statuses), AR_EINVAL);
  assert_int_equal(statuses[1], AR_EINVAL);

  /* All freed. */
  send_free_reply(f->srv, 3, ARENAD__STATUS__STATUS_OK, "", 2, NULL, 0);
  assert_arenad_ok(f->h, arenad_free_each(f->h, "a", offs, 2, statuses));
  assert_int_equal(statuses[0], 0);
  assert_int_equal(statuses[1], 0);
  expect_request(f->srv, 3, ARENAD__REQUEST__BODY_FREE);
}

/* arenad_free_report: the offsets the daemon names as overwritten
 * headers, by their index in the request, come back as offsets, in order,
 * beside the statuses; the frees succeeded (0). The other free calls
 * ignore them and return as before. */
static void test_free_report(void **state) {
  fixture_t *f = *state;
  uint64_t offs[4] = {16, 4112, 8208, 12304};
  int statuses[4];
  uint64_t ow[4] = {0, 0, 0, 0};
  size_t now = 99;

  /* All freed, the first and third overwritten. */
  uint32_t idx[2] = {0, 2};
  send_free_reply_ow(f->srv, 1, ARENAD__STATUS__STATUS_OK, "", 4, NULL, 0, idx,
                     2);
  assert_arenad_ok(f->h,
                   arenad_free_report(f->h, "a", offs, 4, statuses, ow, &now));
  assert_int_equal(now, 2);
  assert_int_equal(ow[0], 16);
  assert_int_equal(ow[1], 8208);
  for (int i = 0; i < 4; i++)
    assert_int_equal(statuses[i], 0);
  expect_request(f->srv, 1, ARENAD__REQUEST__BODY_FREE);

  /* Beside a failure: the second overwritten, the fourth not a block. */
  Arenad__Status st[4] = {ARENAD__STATUS__STATUS_OK, ARENAD__STATUS__STATUS_OK,
                          ARENAD__STATUS__STATUS_OK,
                          ARENAD__STATUS__STATUS_INVALID_ARGUMENT};
  idx[0] = 1;
  send_free_reply_ow(f->srv, 2, ARENAD__STATUS__STATUS_INVALID_ARGUMENT,
                     "offset 12304 is not a live block", 3, st, 4, idx, 1);
  assert_arenad_ok(f->h,
                   arenad_free_report(f->h, "a", offs, 4, statuses, ow, &now));
  assert_int_equal(now, 1);
  assert_int_equal(ow[0], 4112);
  assert_int_equal(statuses[1], 0);
  assert_int_equal(statuses[3], AR_EINVAL);
  expect_request(f->srv, 2, ARENAD__REQUEST__BODY_FREE);

  /* None overwritten: 0 of them; the count alone, without the array. */
  send_free_reply(f->srv, 3, ARENAD__STATUS__STATUS_OK, "", 4, NULL, 0);
  assert_arenad_ok(f->h,
                   arenad_free_report(f->h, "a", offs, 4, NULL, NULL, &now));
  assert_int_equal(now, 0);
  expect_request(f->srv, 3, ARENAD__REQUEST__BODY_FREE);

  /* Refused as a whole: none named, the request's code. */
  send_error_reply(f->srv, 4, ARENAD__STATUS__STATUS_NOT_FOUND,
                   "no arena called a");
  now = 99;
  assert_int_equal(arenad_free_report(f->h, "a", offs, 4, NULL, ow, &now),
                   AR_ENOENT);
  assert_int_equal(now, 0);
  expect_request(f->srv, 4, ARENAD__REQUEST__BODY_FREE);

  /* The calls that do not report: 0, as for any successful free. */
  idx[0] = 0;
  send_free_reply_ow(f->srv, 5, ARENAD__STATUS__STATUS_OK, "", 1, NULL, 0, idx,
                     1);
  assert_arenad_ok(f->h, arenad_free(f->h, "a", offs[1]));
  expect_request(f->srv, 5, ARENAD__REQUEST__BODY_FREE);
  send_free_reply_ow(f->srv, 6, ARENAD__STATUS__STATUS_OK, "", 1, NULL, 0, idx,
                     1);
  assert_arenad_ok(f->h, arenad_free_each(f->h, "a", offs, 1, statuses));
  expect_request(f->srv, 6, ARENAD__REQUEST__BODY_FREE);
}

/* A free of three offsets whose reply (already sent) names overwritten
 * headers wrongly: a protocol error, the handle breaks and nothing is
 * passed on as overwritten. */
static void expect_bad_overwritten(fixture_t *f) {
  uint64_t offs[3] = {16, 4112, 8208};
  uint64_t ow[3] = {0, 0, 0};
  size_t now = 99;
  assert_int_equal(arenad_free_report(f->h, "a", offs, 3, NULL, ow, &now),
                   AR_EPROTO);
  assert_non_null(strstr(arenad_error(f->h), "overwritten header"));
  assert_int_equal(now, 0);
  assert_int_equal(ow[0], 0);
  assert_int_equal(arenad_ping(f->h), AR_EIO);
}

/* A free reply that names as overwritten idx[0..n) of three offsets, with
 * the statuses st (NULL: all succeeded), is a protocol error. */
static void bad_overwritten(fixture_t *f, uint32_t *idx, size_t n,
                            Arenad__Status *st) {
  send_free_reply_ow(f->srv, 1,
                     st != NULL ? ARENAD__STATUS__STATUS_INVALID_ARGUMENT
                                : ARENAD__STATUS__STATUS_OK,
                     "", 2, st, st != NULL ? 3 : 0, idx, n);
  expect_bad_overwritten(f);
}

static void test_overwritten_past_the_request(void **state) {
  bad_overwritten(*state, (uint32_t[]){1, 3}, 2, NULL);
}

static void test_overwritten_out_of_order(void **state) {
  bad_overwritten(*state, (uint32_t[]){2, 1}, 2, NULL);
}

static void test_overwritten_twice(void **state) {
  bad_overwritten(*state, (uint32_t[]){1, 1}, 2, NULL);
}

static void test_overwritten_of_a_failure(void **state) {
  Arenad__Status st[3] = {ARENAD__STATUS__STATUS_OK,
                          ARENAD__STATUS__STATUS_PERMISSION_DENIED,
                          ARENAD__STATUS__STATUS_OK};
  bad_overwritten(*state, (uint32_t[]){1}, 1, st);
}

/* An index far past the request, in a reply with a status for each
 * offset: refused before it is used (it was once used to read its
 * offset's status first, far past the reply's statuses). */
static void test_overwritten_far_past_the_request(void **state) {
  Arenad__Status st[3] = {ARENAD__STATUS__STATUS_OK,
                          ARENAD__STATUS__STATUS_INVALID_ARGUMENT,
                          ARENAD__STATUS__STATUS_OK};
  bad_overwritten(*state, (uint32_t[]){UINT32_MAX}, 1, st);
}

/* A free refused as a whole (an error status, no statuses: every offset
 * failed) that names an overwritten header names a failure too: a
 * protocol error, not a header passed on beside AR_ELIMIT. (Found by
 * fuzz_client.) */
static void test_overwritten_of_a_refused_free(void **state) {
  fixture_t *f = *state;
  send_free_reply_ow(f->srv, 1, ARENAD__STATUS__STATUS_LIMIT_EXCEEDED,
                     "too many offsets", 0, NULL, 0, (uint32_t[]){1}, 1);
  expect_bad_overwritten(f);
}

/* arenad_release_report: whether the release freed a block whose header
 * had been overwritten; arenad_release ignores it. A reply that says so
 * and leaves references breaks the handle. */
static void test_release_report(void **state) {
  fixture_t *f = *state;
  uint32_t refs = 99;
  bool ow = false;
  send_release_reply(f->srv, 1, 0, true);
  assert_arenad_ok(f->h, arenad_release_report(f->h, "a", 16, &refs, &ow));
  assert_int_equal(refs, 0);
  assert_true(ow);
  expect_request(f->srv, 1, ARENAD__REQUEST__BODY_RELEASE);

  send_release_reply(f->srv, 2, 1, false);
  assert_arenad_ok(f->h, arenad_release_report(f->h, "a", 16, &refs, &ow));
  assert_int_equal(refs, 1);
  assert_false(ow);
  expect_request(f->srv, 2, ARENAD__REQUEST__BODY_RELEASE);

  send_release_reply(f->srv, 3, 0, true);
  assert_arenad_ok(f->h, arenad_release(f->h, "a", 16, &refs));
  assert_int_equal(refs, 0);
  expect_request(f->srv, 3, ARENAD__REQUEST__BODY_RELEASE);

  send_release_reply(f->srv, 4, 2, true);
  ow = true;
  assert_int_equal(arenad_release_report(f->h, "a", 16, &refs, &ow), AR_EPROTO);
  assert_false(ow);
  assert_non_null(strstr(arenad_error(f->h), "overwritten header"));
  assert_int_equal(arenad_ping(f->h), AR_EIO);
}

/* An alloc reply with more offsets than blocks asked for: the daemon is
 * not in step, and the caller's array has no room for them. */
static void test_alloc_more_offsets(void **state) {
  fixture_t *f = *state;
  uint64_t offs[3] = {16, 4112, 8208};
  send_alloc_reply(f->srv, 1, offs, 3);
  uint64_t got[2] = {0, 0};
  assert_int_equal(arenad_alloc_n(f->h, "a", 100, 0, 2, 0, got), AR_EPROTO);
  assert_non_null(strstr(arenad_error(f->h), "3 offsets for 2 blocks"));
  assert_int_equal(got[0], 0);
}

/* A free reply with statuses, but fewer than offsets: which offset each
 * one is for cannot be told, and none is passed on. */
static void test_free_fewer_statuses(void **state) {
  fixture_t *f = *state;
  uint64_t offs[3] = {16, 4112, 8208};
  Arenad__Status st[2] = {ARENAD__STATUS__STATUS_OK,
                          ARENAD__STATUS__STATUS_INVALID_ARGUMENT};
  send_free_reply(f->srv, 1, ARENAD__STATUS__STATUS_INVALID_ARGUMENT,
                  "offset 4112 is not a live block", 1, st, 2);
  int statuses[3];
  assert_int_equal(arenad_free_n(f->h, "a", offs, 3, statuses), AR_EPROTO);
  assert_non_null(strstr(arenad_error(f->h), "2 statuses for 3 offsets"));
  for (int i = 0; i < 3; i++)
    assert_int_equal(statuses[i], AR_EPROTO);
}

/* A free reply with a status per offset whose envelope is not the first
 * failure's status (the protocol's rule, which arenad_free_n passes on as
 * its return): a protocol error, not a return of 0 beside a failed
 * offset, nor of a code that is not the first failure's. Blocking and
 * pipelined. (Found by fuzz_client.) */
static void test_free_ok_beside_a_failure(void **state) {
  fixture_t *f = *state;
  uint64_t offs[3] = {16, 4112, 8208};
  Arenad__Status st[3] = {ARENAD__STATUS__STATUS_OK,
                          ARENAD__STATUS__STATUS_PERMISSION_DENIED,
                          ARENAD__STATUS__STATUS_INVALID_ARGUMENT};
  int statuses[3];

  /* OK, with a failure among the statuses. */
  send_free_reply(f->srv, 1, ARENAD__STATUS__STATUS_OK, "", 1, st, 3);
  assert_int_equal(arenad_free_n(f->h, "a", offs, 3, statuses), AR_EPROTO);
  assert_non_null(strstr(arenad_error(f->h), "first failure"));
  for (int i = 0; i < 3; i++)
    assert_int_equal(statuses[i], AR_EPROTO);
  assert_int_equal(arenad_ping(f->h), AR_EIO);
}

static void test_free_status_of_a_later_failure(void **state) {
  fixture_t *f = *state;
  uint64_t offs[3] = {16, 4112, 8208};
  Arenad__Status st[3] = {ARENAD__STATUS__STATUS_OK,
                          ARENAD__STATUS__STATUS_PERMISSION_DENIED,
                          ARENAD__STATUS__STATUS_INVALID_ARGUMENT};
  /* The second failure's status. */
  send_free_reply(f->srv, 1, ARENAD__STATUS__STATUS_INVALID_ARGUMENT, "", 1,
                  st, 3);
  int statuses[3];
  assert_int_equal(arenad_free_n(f->h, "a", offs, 3, statuses), AR_EPROTO);
  assert_non_null(strstr(arenad_error(f->h), "first failure"));
}

static void test_pipeline_free_status_without_a_failure(void **state) {
  fixture_t *f = *state;
  uint64_t offs[2] = {16, 4112};
  /* An error, though no offset failed. */
  Arenad__Status st[2] = {ARENAD__STATUS__STATUS_OK,
                          ARENAD__STATUS__STATUS_OK};
  send_free_reply(f->srv, 1, ARENAD__STATUS__STATUS_LIMIT_EXCEEDED, "", 2, st,
                  2);
  assert_arenad_ok(f->h, arenad_submit_free(f->h, "a", offs, 2, 0));
  arenad_result_t res;
  assert_int_equal(arenad_collect(f->h, &res), AR_EPROTO);
  assert_non_null(strstr(arenad_error(f->h), "first failure"));
  assert_int_equal(arenad_in_flight(f->h), 0);
}

static void test_wrong_id(void **state) {
  fixture_t *f = *state;
  Arenad__Response r = ping_reply(7);
  send_reply(f->srv, &r);
  assert_int_equal(arenad_ping(f->h), AR_EPROTO);
  assert_non_null(strstr(arenad_error(f->h), "does not answer request 1"));
  /* Unusable from now on, and the first reason stays. */
  assert_int_equal(arenad_ping(f->h), AR_EIO);
  assert_non_null(strstr(arenad_error(f->h), "does not answer request 1"));
}

static void test_wrong_kind(void **state) {
  fixture_t *f = *state;
  Arenad__Response r = ping_reply(1);
  send_reply(f->srv, &r);
  assert_int_equal(arenad_check(f->h, "a", NULL), AR_EPROTO);
  assert_non_null(strstr(arenad_error(f->h), "ping reply answers a check"));
}

static void test_ok_without_body(void **state) {
  fixture_t *f = *state;
  Arenad__Response r = ARENAD__RESPONSE__INIT;
  r.id = 1;
  send_reply(f->srv, &r);
  assert_int_equal(arenad_ping(f->h), AR_EPROTO);
}

/* The daemon's last word before closing: id 0, an error, no body. */
static void test_connection_error(void **state) {
  fixture_t *f = *state;
  send_error_reply(f->srv, 0, ARENAD__STATUS__STATUS_LIMIT_EXCEEDED,
                   "frame of 2000000 bytes over the limit");
  assert_int_equal(arenad_ping(f->h), AR_EIO);
  assert_non_null(strstr(arenad_error(f->h), "2000000"));
  assert_non_null(strstr(arenad_error(f->h), "(ELIMIT)"));
  assert_int_equal(arenad_ping(f->h), AR_EIO);
}

/* The same in the middle of a pipeline: collect says the connection broke
 * (AR_EIO), not a status it uses for "nothing in flight" (AR_EINVAL). */
static void test_connection_error_pipelined(void **state) {
  fixture_t *f = *state;
  assert_arenad_ok(f->h, arenad_submit_ping(f->h, 1));
  assert_arenad_ok(f->h, arenad_submit_ping(f->h, 2));
  Arenad__Response pong = ping_reply(1);
  send_reply(f->srv, &pong);
  send_error_reply(f->srv, 0, ARENAD__STATUS__STATUS_INVALID_ARGUMENT,
                   "the frame's bytes are not a Request");
  arenad_result_t res;
  assert_arenad_ok(f->h, arenad_collect(f->h, &res));
  assert_int_equal(res.tag, 1);
  assert_int_equal(arenad_collect(f->h, &res), AR_EIO);
  assert_non_null(strstr(arenad_error(f->h), "not a Request"));
}

/* Sends the daemon's last word before it closes the connection: id 0, an
 * error (the one a client too slow to send a whole frame gets), no body. */
static void send_last_word(int srv) {
  send_error_reply(srv, 0, ARENAD__STATUS__STATUS_LIMIT_EXCEEDED,
                   "no complete frame within frame_timeout_ms");
}

/* The last word when it comes between calls (the daemon gave up on the
 * connection while the handle was idle) and the daemon's end is closed
 * after it: the next call's send fails (EPIPE), and the library reports
 * the reason the daemon left in the socket, not "Broken pipe". SIGPIPE is
 * at its default, which would end this test: the library must not raise
 * it. */
static void test_last_word_between_calls(void **state) {
  fixture_t *f = *state;
  void (*old)(int) = signal(SIGPIPE, SIG_DFL);
  send_last_word(f->srv);
  assert_int_equal(shutdown(f->srv, SHUT_RDWR), 0);
  assert_int_equal(arenad_ping(f->h), AR_EIO);
  assert_non_null(strstr(arenad_error(f->h), "frame_timeout_ms"));
  assert_non_null(strstr(arenad_error(f->h), "(ELIMIT)"));
  signal(SIGPIPE, old);
}

/* The same when a collect sends the queued requests, after a reply to one
 * sent earlier: that reply is passed over, the reason found behind it. */
static void test_last_word_between_calls_pipelined(void **state) {
  fixture_t *f = *state;
  void (*old)(int) = signal(SIGPIPE, SIG_DFL);
  assert_arenad_ok(f->h, arenad_submit_ping(f->h, 1));
  assert_arenad_ok(f->h, arenad_flush(f->h));
  Arenad__Response pong = ping_reply(1);
  send_reply(f->srv, &pong);
  send_last_word(f->srv);
  assert_int_equal(shutdown(f->srv, SHUT_RDWR), 0);
  assert_arenad_ok(f->h, arenad_submit_ping(f->h, 2));
  arenad_result_t res;
  assert_int_equal(arenad_collect(f->h, &res), AR_EIO);
  assert_non_null(strstr(arenad_error(f->h), "frame_timeout_ms"));
  assert_int_equal(arenad_in_flight(f->h), 0);
  signal(SIGPIPE, old);
}

/* The same when the daemon gives up while a large request is being sent:
 * the socket is full, the library reads while it waits for room and so
 * takes in the last word, then sees the connection's end (here 100 ms
 * later) before a send fails: the reason is still the daemon's. */
static void test_last_word_while_sending(void **state) {
  fixture_t *f = *state;
  void (*old)(int) = signal(SIGPIPE, SIG_DFL);
  enum { N = 150000 }; /* some 900 KB of offsets: more than a socket holds */
  uint64_t *offs = malloc(N * sizeof *offs);
  assert_non_null(offs);
  for (size_t i = 0; i < N; i++)
    offs[i] = ((uint64_t)1 << 40) + 32 * i;
  send_last_word(f->srv);
  pid_t pid = act_later(f->srv, 100, NULL, 0);
  assert_int_equal(arenad_free_n(f->h, "a", offs, N, NULL), AR_EIO);
  wait_child(pid);
  assert_non_null(strstr(arenad_error(f->h), "frame_timeout_ms"));
  free(offs);
  signal(SIGPIPE, old);
}

static void test_oversize_frame(void **state) {
  fixture_t *f = *state;
  /* Only the prefix comes: the library must not wait for 2 MiB. */
  uint8_t prefix[AR_FRAME_PREFIX_MAX];
  send_raw(f->srv, prefix, ar_frame_encode(prefix, 2u << 20), NULL, 0);
  assert_int_equal(arenad_ping(f->h), AR_EPROTO);
}

static void test_garbage(void **state) {
  fixture_t *f = *state;
  /* A non-minimal prefix (0x80 0x00) is malformed. */
  static const uint8_t bad_prefix[] = {0x80, 0x00};
  send_raw(f->srv, bad_prefix, sizeof bad_prefix, NULL, 0);
  assert_int_equal(arenad_ping(f->h), AR_EPROTO);
}

static void test_unparsable_body(void **state) {
  fixture_t *f = *state;
  /* A whole frame whose body is not a Response (a truncated varint). */
  static const uint8_t frame[] = {0x03, 0x08, 0xff, 0xff};
  send_raw(f->srv, frame, sizeof frame, NULL, 0);
  assert_int_equal(arenad_ping(f->h), AR_EPROTO);
  assert_non_null(strstr(arenad_error(f->h), "not a Response"));
}

/* A reply that would unpack into far more memory than its bytes (half a
 * million empty extents in under a MiB: some 50 MB) breaks the handle
 * instead of being unpacked. */
static void test_reply_unpacks_too_big(void **state) {
  fixture_t *f = *state;
  enum { N = 500000 };
  Arenad__Extent empty = ARENAD__EXTENT__INIT;
  Arenad__Extent **all = malloc(N * sizeof *all); /* freed below */
  assert_non_null(all);
  for (size_t i = 0; i < N; i++)
    all[i] = &empty;
  Arenad__InspectReply ir = ARENAD__INSPECT_REPLY__INIT;
  ir.n_extents = N;
  ir.extents = all;
  Arenad__Response r = ARENAD__RESPONSE__INIT;
  r.id = 1;
  r.body_case = ARENAD__RESPONSE__BODY_INSPECT;
  r.inspect = &ir;
  assert_true(arenad__response__get_packed_size(&r) < (1u << 20));
  /* From a child: the frame is larger than the socket holds. */
  pid_t pid = send_reply_later(f->srv, &r, 0);
  free(all);
  assert_int_equal(arenad_ping(f->h), AR_EPROTO);
  assert_non_null(strstr(arenad_error(f->h), "would unpack into more than"));
  wait_child(pid);
}

static void test_eof(void **state) {
  fixture_t *f = *state;
  static const uint8_t half[] = {0x05, 0x08};
  send_raw(f->srv, half, sizeof half, NULL, 0);
  shutdown(f->srv, SHUT_WR);
  assert_int_equal(arenad_ping(f->h), AR_EIO);
  assert_non_null(strstr(arenad_error(f->h), "closed"));
}

/* A socket the caller made non-blocking (arenad_open_fd takes it as it
 * is): a reply that is not there yet is waited for, as on a blocking one,
 * not taken for a broken connection (EAGAIN). Here it comes 100 ms after
 * the request, well after the library's first read. */
static void test_nonblocking_socket(void **state) {
  fixture_t *f = *state;
  int fl = fcntl(f->cli, F_GETFL);
  assert_true(fl >= 0);
  assert_int_equal(fcntl(f->cli, F_SETFL, fl | O_NONBLOCK), 0);

  Arenad__Response r = ping_reply(1);
  pid_t pid = send_reply_later(f->srv, &r, 100);
  assert_arenad_ok(f->h, arenad_ping(f->h));
  wait_child(pid);
  expect_request(f->srv, 1, ARENAD__REQUEST__BODY_PING);

  /* The same for a collect. */
  assert_arenad_ok(f->h, arenad_submit_ping(f->h, 7));
  r = ping_reply(2);
  pid = send_reply_later(f->srv, &r, 100);
  arenad_result_t res;
  assert_arenad_ok(f->h, arenad_collect(f->h, &res));
  assert_int_equal(res.tag, 7);
  wait_child(pid);
  expect_request(f->srv, 2, ARENAD__REQUEST__BODY_PING);
}

/* ---- descriptors --------------------------------------------------------- */

/* A memfd of `size` bytes. */
static int make_segment(size_t size) {
  int fd = memfd_create("test_client", MFD_CLOEXEC);
  assert_true(fd >= 0);
  assert_int_equal(ftruncate(fd, (off_t)size), 0);
  return fd;
}

/* Sends the reply to attach request id, for a segment of `size` bytes
 * passed as fds[0..nfds), which the daemon says is read-only or not. */
static void send_attach_reply_ro(int srv, uint64_t id, uint64_t size,
                                 const int *fds, size_t nfds, bool read_only) {
  Arenad__AttachReply body = ARENAD__ATTACH_REPLY__INIT;
  body.size = size;
  body.policy = ARENAD__POLICY__POLICY_BEST;
  body.read_only = read_only;
  Arenad__Response r = ARENAD__RESPONSE__INIT;
  r.id = id;
  r.body_case = ARENAD__RESPONSE__BODY_ATTACH;
  r.attach = &body;
  send_reply_fds(srv, &r, fds, nfds);
}

/* send_attach_reply_ro of a writable segment. */
static void send_attach_reply(int srv, uint64_t id, uint64_t size,
                              const int *fds, size_t nfds) {
  send_attach_reply_ro(srv, id, size, fds, nfds, false);
}

static void test_attach(void **state) {
  fixture_t *f = *state;
  int seg = make_segment(65536);
  send_attach_reply(f->srv, 1, 65536, &seg, 1);

  arenad_map_t map;
  assert_arenad_ok(f->h, arenad_attach(f->h, "shm", 0, &map));
  assert_int_equal(map.size, 65536);
  assert_int_equal(map.policy, ARENAD_POLICY_BEST);
  assert_false(map.read_only);
  expect_request(f->srv, 1, ARENAD__REQUEST__BODY_ATTACH);

  /* The mapping is the segment: a write through it is in the file. */
  memcpy((char *)map.base + 100, "pattern", 8);
  char back[8];
  assert_int_equal(pread(seg, back, 8, 100), 8);
  assert_string_equal(back, "pattern");
  assert_ptr_equal(arenad_ptr(f->h, "shm", 100), (char *)map.base + 100);
  assert_null(arenad_ptr(f->h, "shm", 65536));
  assert_null(arenad_ptr(f->h, "other", 0));

  /* Attaching again asks nothing and gives the same mapping. */
  arenad_map_t again;
  assert_arenad_ok(f->h, arenad_attach(f->h, "shm", ARENAD_ATTACH_READ_ONLY,
                                       &again));
  assert_ptr_equal(again.base, map.base);

  /* Not with pipelined requests in flight, though it would ask nothing. */
  assert_arenad_ok(f->h, arenad_submit_ping(f->h, 9));
  assert_int_equal(arenad_attach(f->h, "shm", 0, &again), AR_EINVAL);
  assert_non_null(strstr(arenad_error(f->h), "in flight"));
  Arenad__Response pr = ping_reply(2);
  send_reply(f->srv, &pr);
  arenad_result_t res;
  assert_arenad_ok(f->h, arenad_collect(f->h, &res));
  assert_int_equal(res.tag, 9);
  expect_request(f->srv, 2, ARENAD__REQUEST__BODY_PING);

  /* An alloc reply gives the pointer into it. */
  uint64_t off = 4096;
  send_alloc_reply(f->srv, 3, &off, 1);
  void *p;
  uint64_t got;
  assert_arenad_ok(f->h, arenad_alloc(f->h, "shm", 10, 0, 0, &got, &p));
  assert_ptr_equal(p, (char *)map.base + 4096);

  assert_arenad_ok(f->h, arenad_detach(f->h, "shm"));
  assert_int_equal(arenad_detach(f->h, "shm"), AR_ENOENT);
  close(seg);
}

/* Attaches arena "a" on a segment of 4096 bytes (request 1) and returns
 * its mapping, which the handle owns. */
static arenad_map_t attach_4k(fixture_t *f) {
  int seg = make_segment(4096);
  send_attach_reply(f->srv, 1, 4096, &seg, 1);
  close(seg); /* the mapping keeps the segment */
  arenad_map_t map;
  assert_arenad_ok(f->h, arenad_attach(f->h, "a", 0, &map));
  expect_request(f->srv, 1, ARENAD__REQUEST__BODY_ATTACH);
  return map;
}

/* An attached arena's blocks lie inside its mapping: a reply that puts a
 * block past its end (here the last 16 bytes and 4080 more) breaks the
 * handle rather than hand out a pointer the caller cannot write through. */
static void test_alloc_past_the_mapping(void **state) {
  fixture_t *f = *state;
  arenad_map_t map = attach_4k(f);
  uint64_t off = 4032; /* the last 64 bytes: fits */
  send_alloc_reply(f->srv, 2, &off, 1);
  uint64_t got;
  void *p;
  assert_arenad_ok(f->h, arenad_alloc(f->h, "a", 64, 0, 0, &got, &p));
  assert_ptr_equal(p, (char *)map.base + 4032);
  expect_request(f->srv, 2, ARENAD__REQUEST__BODY_ALLOC);

  off = 4080;
  send_alloc_reply(f->srv, 3, &off, 1);
  assert_int_equal(arenad_alloc(f->h, "a", 4096, 0, 0, &got, &p), AR_EPROTO);
  assert_null(p);
  assert_non_null(strstr(arenad_error(f->h), "offset 4080"));
  assert_non_null(strstr(arenad_error(f->h), "arena of 4096 bytes"));
  assert_int_equal(arenad_ping(f->h), AR_EIO);
  /* The mapping stays until the handle is closed. */
  assert_ptr_equal(arenad_ptr(f->h, "a", 0), map.base);
}

/* An offset at or after the mapping's end, for which arenad_ptr has no
 * pointer: never a success with a NULL pointer. */
static void test_alloc_at_the_end(void **state) {
  fixture_t *f = *state;
  attach_4k(f);
  uint64_t offs[2] = {16, 4096};
  send_alloc_reply(f->srv, 2, offs, 2);
  uint64_t got[2];
  assert_int_equal(arenad_alloc_n(f->h, "a", 16, 0, 2, 0, got), AR_EPROTO);
  assert_non_null(strstr(arenad_error(f->h), "offset 4096"));
}

/* The same check on a pipelined alloc, here at an offset near 2^64 (where
 * offset + size would wrap). */
static void test_alloc_past_the_mapping_pipelined(void **state) {
  fixture_t *f = *state;
  attach_4k(f);
  uint64_t off = UINT64_MAX - 8;
  send_alloc_reply(f->srv, 2, &off, 1);
  assert_arenad_ok(f->h, arenad_submit_alloc(f->h, "a", 64, 0, 1, 0, 5));
  arenad_result_t res;
  assert_int_equal(arenad_collect(f->h, &res), AR_EPROTO);
  assert_null(res.offsets);
  assert_non_null(strstr(arenad_error(f->h), "arena of 4096 bytes"));
}

static void test_attach_read_only(void **state) {
  fixture_t *f = *state;
  int seg = make_segment(8192);
  send_attach_reply(f->srv, 1, 8192, &seg, 1);
  close(seg);
  arenad_map_t map;
  assert_arenad_ok(f->h, arenad_attach(f->h, "ro", ARENAD_ATTACH_READ_ONLY,
                                       &map));
  assert_true(map.read_only);
  Arenad__Request *req = read_request(f->srv);
  assert_true(req->attach->read_only);
  arenad__request__free_unpacked(req, NULL);
  /* A writable mapping of it needs a detach first. */
  assert_int_equal(arenad_attach(f->h, "ro", 0, NULL), AR_EINVAL);
}

/* A read-write attach that the daemon answers with a read-only segment
 * (its descriptor opened for reading only): mapped read-only, and said
 * so, rather than failing to map it writable. */
static void test_attach_read_only_by_daemon(void **state) {
  fixture_t *f = *state;
  int seg = make_segment(8192);
  char path[64];
  snprintf(path, sizeof(path), "/proc/self/fd/%d", seg);
  int ro = open(path, O_RDONLY | O_CLOEXEC);
  assert_true(ro >= 0);
  close(seg);
  send_attach_reply_ro(f->srv, 1, 8192, &ro, 1, true);
  close(ro);
  arenad_map_t map;
  assert_arenad_ok(f->h, arenad_attach(f->h, "ro", 0, &map));
  assert_true(map.read_only);
  expect_request(f->srv, 1, ARENAD__REQUEST__BODY_ATTACH);
}

static void test_attach_no_fd(void **state) {
  fixture_t *f = *state;
  send_attach_reply(f->srv, 1, 8192, NULL, 0);
  assert_int_equal(arenad_attach(f->h, "a", 0, NULL), AR_EPROTO);
  assert_non_null(strstr(arenad_error(f->h), "without a descriptor"));
}

static void test_attach_two_fds(void **state) {
  fixture_t *f = *state;
  int segs[2] = {make_segment(8192), make_segment(8192)};
  send_attach_reply(f->srv, 1, 8192, segs, 2);
  close(segs[0]);
  close(segs[1]);
  assert_int_equal(arenad_attach(f->h, "a", 0, NULL), AR_EPROTO);
  assert_non_null(strstr(arenad_error(f->h), "2 descriptors"));
  /* teardown checks that both received copies were closed */
}

static void test_attach_short_segment(void **state) {
  fixture_t *f = *state;
  int seg = make_segment(4096);
  send_attach_reply(f->srv, 1, 1 << 20, &seg, 1);
  close(seg);
  assert_int_equal(arenad_attach(f->h, "a", 0, NULL), AR_EPROTO);
  assert_non_null(strstr(arenad_error(f->h), "4096 bytes"));
}

static void test_fd_with_other_reply(void **state) {
  fixture_t *f = *state;
  int seg = make_segment(4096);
  Arenad__Response r = ping_reply(1);
  send_reply_fds(f->srv, &r, &seg, 1);
  close(seg);
  assert_int_equal(arenad_ping(f->h), AR_EPROTO);
  assert_non_null(strstr(arenad_error(f->h), "descriptor"));
}

static void test_fd_with_attach_error(void **state) {
  fixture_t *f = *state;
  int seg = make_segment(4096);
  Arenad__Response r = ARENAD__RESPONSE__INIT;
  r.id = 1;
  r.status = ARENAD__STATUS__STATUS_PERMISSION_DENIED;
  send_reply_fds(f->srv, &r, &seg, 1);
  close(seg);
  assert_int_equal(arenad_attach(f->h, "a", 0, NULL), AR_EPROTO);
}

/* ---- pipelining ---------------------------------------------------------- */

static void test_pipeline(void **state) {
  fixture_t *f = *state;
  uint64_t offs[2] = {32, 64};
  send_alloc_reply(f->srv, 1, offs, 2);
  send_error_reply(f->srv, 2, ARENAD__STATUS__STATUS_OUT_OF_MEMORY, "no room");
  send_free_reply(f->srv, 3, ARENAD__STATUS__STATUS_OK, "", 2, NULL, 0);
  Arenad__Response r4 = ping_reply(4);
  send_reply(f->srv, &r4);

  assert_arenad_ok(f->h, arenad_submit_alloc(f->h, "a", 8, 0, 2, 0, 100));
  assert_arenad_ok(f->h, arenad_submit_alloc(f->h, "a", 1 << 30, 0, 1, 0, 101));
  assert_arenad_ok(f->h, arenad_submit_free(f->h, "a", offs, 2, 102));
  assert_arenad_ok(f->h, arenad_submit_ping(f->h, 103));
  assert_int_equal(arenad_in_flight(f->h), 4);
  /* No blocking call while requests are in flight. */
  assert_int_equal(arenad_ping(f->h), AR_EINVAL);

  arenad_result_t res;
  assert_arenad_ok(f->h, arenad_collect(f->h, &res));
  assert_int_equal(res.op, ARENAD_OP_ALLOC);
  assert_int_equal(res.tag, 100);
  assert_int_equal(res.status, 0);
  assert_int_equal(res.n_offsets, 2);
  assert_int_equal(res.offsets[1], 64);
  assert_arenad_ok(f->h, arenad_collect(f->h, &res));
  assert_int_equal(res.tag, 101);
  assert_int_equal(res.status, AR_ENOMEM);
  assert_string_equal(arenad_error(f->h), "no room");
  assert_arenad_ok(f->h, arenad_collect(f->h, &res));
  assert_int_equal(res.op, ARENAD_OP_FREE);
  assert_int_equal(res.freed, 2);
  assert_arenad_ok(f->h, arenad_collect(f->h, &res));
  assert_int_equal(res.op, ARENAD_OP_PING);
  assert_int_equal(res.tag, 103);
  assert_int_equal(arenad_in_flight(f->h), 0);
  assert_int_equal(arenad_collect(f->h, &res), AR_EINVAL);

  for (uint64_t id = 1; id <= 4; id++)
    expect_request(f->srv, id,
                   id <= 2   ? ARENAD__REQUEST__BODY_ALLOC
                   : id == 3 ? ARENAD__REQUEST__BODY_FREE
                             : ARENAD__REQUEST__BODY_PING);
}

static void test_pipeline_window(void **state) {
  fixture_t *f = *state;
  size_t w = arenad_window(f->h);
  assert_int_equal(w, ARENAD_WINDOW_DEFAULT);
  for (size_t i = 0; i < w; i++)
    assert_arenad_ok(f->h, arenad_submit_ping(f->h, i));
  assert_int_equal(arenad_submit_ping(f->h, w), AR_ELIMIT);
  assert_int_equal(arenad_in_flight(f->h), w); /* collect first */
  assert_arenad_ok(f->h, arenad_flush(f->h));
  for (size_t i = 0; i < w; i++)
    expect_request(f->srv, i + 1, ARENAD__REQUEST__BODY_PING);
}

/* The getters that read a handle take NULL, as arenad_error and
 * arenad_collect_overwritten do: nothing in flight, no window, no
 * mapping. */
static void test_getters_of_no_handle(void **state) {
  (void)state;
  assert_int_equal(arenad_in_flight(NULL), 0);
  assert_int_equal(arenad_window(NULL), 0);
  assert_null(arenad_ptr(NULL, "a", 0));
  assert_string_equal(arenad_error(NULL), "no handle");
  assert_int_equal(arenad_collect_overwritten(NULL, NULL), 0);
}

/* Every call that takes a handle and returns a code refuses a NULL one
 * with AR_EINVAL, sending nothing, and sets its outputs as after any
 * other failure: a list, page or statistics NULL (and their counts 0), a
 * check not ok, every offset's status the code, no pointer, no
 * overwritten header. The outputs start as garbage, so a call that leaves
 * one unset fails here. A bad argument besides changes nothing. */
static void test_requests_of_no_handle(void **state) {
  (void)state;
  static max_align_t garbage; /* what the outputs point to before */
  arenad_hello_t hi;
  assert_int_equal(arenad_hello(NULL, "t", &hi), AR_EINVAL);
  assert_int_equal(arenad_ping(NULL), AR_EINVAL);

  arenad_arena_t *arenas = (void *)&garbage;
  size_t n = 7;
  assert_int_equal(arenad_list(NULL, &arenas, &n), AR_EINVAL);
  assert_null(arenas);
  assert_int_equal(n, 0);

  arenad_map_t map;
  assert_int_equal(arenad_attach(NULL, "a", 0, &map), AR_EINVAL);
  assert_int_equal(arenad_detach(NULL, "a"), AR_EINVAL);

  uint64_t off = 0, offs[2] = {16, 32};
  void *p = &off;
  assert_int_equal(arenad_alloc(NULL, "a", 64, 0, 0, &off, &p), AR_EINVAL);
  assert_null(p);
  assert_int_equal(arenad_alloc_n(NULL, "a", 64, 0, 2, 0, offs), AR_EINVAL);
  assert_int_equal(arenad_free(NULL, "a", 16), AR_EINVAL);
  int statuses[2] = {1, 1};
  assert_int_equal(arenad_free_n(NULL, "a", offs, 2, statuses), AR_EINVAL);
  assert_int_equal(statuses[0], AR_EINVAL);
  assert_int_equal(statuses[1], AR_EINVAL);
  statuses[0] = statuses[1] = 1;
  assert_int_equal(arenad_free_each(NULL, "a", offs, 2, statuses), AR_EINVAL);
  assert_int_equal(statuses[0], AR_EINVAL);
  assert_int_equal(statuses[1], AR_EINVAL);
  statuses[0] = statuses[1] = 1;
  uint64_t overwritten[2];
  size_t n_overwritten = 7;
  assert_int_equal(arenad_free_report(NULL, "a", offs, 2, statuses, overwritten,
                                      &n_overwritten),
                   AR_EINVAL);
  assert_int_equal(statuses[0], AR_EINVAL);
  assert_int_equal(statuses[1], AR_EINVAL);
  assert_int_equal(n_overwritten, 0);

  uint32_t refcount;
  bool smashed = true;
  arenad_transfer_t tr;
  assert_int_equal(arenad_retain(NULL, "a", 16, &refcount), AR_EINVAL);
  assert_int_equal(arenad_release(NULL, "a", 16, &refcount), AR_EINVAL);
  assert_int_equal(arenad_release_report(NULL, "a", 16, &refcount, &smashed),
                   AR_EINVAL);
  assert_false(smashed);
  assert_int_equal(arenad_transfer(NULL, "a", 16, 1, &tr), AR_EINVAL);

  arenad_arena_spec_t spec = {.size = 4096, .policy = ARENAD_POLICY_FIRST};
  arenad_arena_t *created = (void *)&garbage;
  arenad_destroyed_t destroyed;
  assert_int_equal(arenad_create_arena(NULL, "a", &spec, &created), AR_EINVAL);
  assert_null(created);
  assert_int_equal(arenad_destroy_arena(NULL, "a", 0, &destroyed), AR_EINVAL);

  arenad_page_t *page = (void *)&garbage;
  arenad_check_t check;
  memset(&check, 0xff, sizeof check);
  assert_int_equal(
      arenad_inspect(NULL, "a", ARENAD_INSPECT_BLOCKS, 0, 0, &page), AR_EINVAL);
  assert_null(page);
  assert_int_equal(arenad_check(NULL, "a", &check), AR_EINVAL);
  assert_false(check.ok);
  assert_string_equal(check.invariant, "");

  arenad_stat_t *stats = (void *)&garbage;
  n = 7;
  assert_int_equal(arenad_stats(NULL, &stats, &n), AR_EINVAL);
  assert_null(stats);
  assert_int_equal(n, 0);

  arenad_result_t res;
  assert_int_equal(arenad_submit_ping(NULL, 1), AR_EINVAL);
  assert_int_equal(arenad_submit_alloc(NULL, "a", 64, 0, 1, 0, 2), AR_EINVAL);
  assert_int_equal(arenad_submit_free(NULL, "a", offs, 2, 3), AR_EINVAL);
  assert_int_equal(arenad_flush(NULL), AR_EINVAL);
  assert_int_equal(arenad_collect(NULL, &res), AR_EINVAL);

  assert_int_equal(arenad_list(NULL, NULL, &n), AR_EINVAL);
  assert_int_equal(arenad_attach(NULL, "", 0, &map), AR_EINVAL);
  assert_int_equal(arenad_submit_free(NULL, "a", NULL, 0, 4), AR_EINVAL);
  assert_int_equal(arenad_collect(NULL, NULL), AR_EINVAL);
  arenad_close(NULL); /* allowed, as arenad.h says */
}

/* The hand-written requests, at varint boundaries: read_request re-packs
 * each with protobuf-c and compares the bytes. */
static void test_encoding(void **state) {
  fixture_t *f = *state;
  static const uint64_t offs[] = {0,     1,          127,       128,
                                  16383, 16384,      1ull << 35, INT64_MAX,
                                  UINT64_MAX};
  static const uint64_t sizes[] = {1, 127, 128, 1ull << 40, UINT64_MAX};
  char name[300];
  memset(name, 'n', sizeof name - 1);
  name[sizeof name - 1] = '\0'; /* a name whose length takes 2 bytes */
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
    assert_arenad_ok(f->h, arenad_submit_alloc(f->h, i % 2 ? "a" : name,
                                               sizes[i], sizes[i] & 4096,
                                               (uint32_t)i * 1000,
                                               i % 2 ? ARENAD_ALLOC_DETACHED : 0,
                                               0));
  assert_arenad_ok(f->h, arenad_submit_free(f->h, "a", offs,
                                            sizeof offs / sizeof offs[0], 0));
  assert_arenad_ok(f->h, arenad_submit_free(f->h, name, offs + 8, 1, 0));
  assert_arenad_ok(f->h, arenad_submit_ping(f->h, 0));
  assert_arenad_ok(f->h, arenad_flush(f->h));
  for (uint64_t id = 1; id <= 8; id++) {
    Arenad__Request *req = read_request(f->srv);
    assert_int_equal(req->id, id);
    if (id == 6) {
      assert_int_equal(req->free->n_offsets, sizeof offs / sizeof offs[0]);
      assert_int_equal(req->free->offsets[8], UINT64_MAX);
    }
    arenad__request__free_unpacked(req, NULL);
  }
}

static void test_pipeline_mismatch(void **state) {
  fixture_t *f = *state;
  Arenad__Response r = ping_reply(1); /* answers an alloc with a ping */
  send_reply(f->srv, &r);
  assert_arenad_ok(f->h, arenad_submit_alloc(f->h, "a", 8, 0, 1, 0, 0));
  arenad_result_t res;
  assert_int_equal(arenad_collect(f->h, &res), AR_EPROTO);
  assert_int_equal(arenad_submit_ping(f->h, 0), AR_EIO);
}

/* Submits an alloc of `count` blocks, which the fake daemon answers with
 * the one offset 48, and collects the reply in *res; returns what
 * arenad_collect does. */
static int collect_one_offset(fixture_t *f, uint32_t count,
                              arenad_result_t *res) {
  uint64_t off = 48;
  send_alloc_reply(f->srv, 1, &off, 1);
  assert_arenad_ok(f->h, arenad_submit_alloc(f->h, "a", 8, 0, count, 0, 0));
  return arenad_collect(f->h, res);
}

/* A pipelined alloc of count 0 is of one block, as arenad.h says: the
 * reply's one offset is the answer, not a mismatch. */
static void test_pipeline_count_zero(void **state) {
  fixture_t *f = *state;
  arenad_result_t res;
  assert_arenad_ok(f->h, collect_one_offset(f, 0, &res));
  assert_int_equal(res.status, 0);
  assert_int_equal(res.n_offsets, 1);
  assert_int_equal(res.offsets[0], 48);
  expect_request(f->srv, 1, ARENAD__REQUEST__BODY_ALLOC);
}

/* A pipelined alloc's reply with other than the blocks asked for, and a
 * pipelined reply that comes with a descriptor, break the handle as a
 * blocking call's do. */
static void test_pipeline_wrong_count(void **state) {
  fixture_t *f = *state;
  arenad_result_t res;
  assert_int_equal(collect_one_offset(f, 2, &res), AR_EPROTO);
  assert_non_null(strstr(arenad_error(f->h), "1 offsets for 2 blocks"));
  assert_int_equal(res.n_offsets, 0);
}

/* arenad_collect_overwritten: after a pipelined free, the indices the
 * daemon named, as it named them; after any other result, and after a
 * free that named none, nothing. */
static void test_pipeline_overwritten(void **state) {
  fixture_t *f = *state;
  uint64_t offs[4] = {16, 4112, 8208, 12304};
  uint32_t idx[2] = {1, 3};
  Arenad__Status st[4] = {ARENAD__STATUS__STATUS_INVALID_ARGUMENT,
                          ARENAD__STATUS__STATUS_OK, ARENAD__STATUS__STATUS_OK,
                          ARENAD__STATUS__STATUS_OK};
  send_free_reply_ow(f->srv, 1, ARENAD__STATUS__STATUS_INVALID_ARGUMENT,
                     "offset 16 is not a live block", 3, st, 4, idx, 2);
  Arenad__Response r2 = ping_reply(2);
  send_reply(f->srv, &r2);
  send_free_reply(f->srv, 3, ARENAD__STATUS__STATUS_OK, "", 4, NULL, 0);

  const uint32_t *got = (const uint32_t *)offs; /* must be replaced */
  assert_int_equal(arenad_collect_overwritten(f->h, &got), 0);
  assert_null(got);
  assert_arenad_ok(f->h, arenad_submit_free(f->h, "a", offs, 4, 1));
  assert_arenad_ok(f->h, arenad_submit_ping(f->h, 2));
  assert_arenad_ok(f->h, arenad_submit_free(f->h, "a", offs, 4, 3));

  arenad_result_t res;
  assert_arenad_ok(f->h, arenad_collect(f->h, &res));
  assert_int_equal(res.status, AR_EINVAL);
  assert_int_equal(res.freed, 3);
  assert_int_equal(arenad_collect_overwritten(f->h, &got), 2);
  assert_int_equal(got[0], 1);
  assert_int_equal(got[1], 3);
  assert_int_equal(arenad_collect_overwritten(f->h, NULL), 2);
  assert_arenad_ok(f->h, arenad_collect(f->h, &res)); /* the ping */
  assert_int_equal(arenad_collect_overwritten(f->h, &got), 0);
  assert_null(got);
  assert_arenad_ok(f->h, arenad_collect(f->h, &res));
  assert_int_equal(res.freed, 4);
  assert_int_equal(arenad_collect_overwritten(f->h, &got), 0);
  assert_null(got);
  assert_int_equal(arenad_collect_overwritten(NULL, &got), 0);
  for (uint64_t id = 1; id <= 3; id++)
    expect_request(f->srv, id,
                   id == 2 ? ARENAD__REQUEST__BODY_PING
                           : ARENAD__REQUEST__BODY_FREE);
}

/* arenad_collect_overwritten gives nothing after a collect that failed,
 * whether it failed at once (nothing in flight, a broken handle) or on
 * the reply, however many the collect before it gave. (Found by
 * fuzz_client: a collect that returned before reading kept the indices of
 * the one before.) */
static void test_pipeline_overwritten_after_a_failed_collect(void **state) {
  fixture_t *f = *state;
  uint64_t offs[2] = {16, 4112};
  uint32_t idx[2] = {0, 1};
  arenad_result_t res;
  const uint32_t *got;
  for (uint64_t id = 1; id <= 2; id++) {
    send_free_reply_ow(f->srv, id, ARENAD__STATUS__STATUS_OK, "", 2, NULL, 0,
                       idx, 2);
    assert_arenad_ok(f->h, arenad_submit_free(f->h, "a", offs, 2, id));
    assert_arenad_ok(f->h, arenad_collect(f->h, &res));
    assert_int_equal(arenad_collect_overwritten(f->h, NULL), 2);
    expect_request(f->srv, id, ARENAD__REQUEST__BODY_FREE);
    if (id == 1) { /* nothing in flight */
      assert_int_equal(arenad_collect(f->h, &res), AR_EINVAL);
    } else { /* broken: the daemon closed, then a collect on it */
      send_last_word(f->srv);
      assert_int_equal(arenad_ping(f->h), AR_EIO);
      assert_int_equal(arenad_collect(f->h, &res), AR_EIO);
    }
    got = idx;
    assert_int_equal(arenad_collect_overwritten(f->h, &got), 0);
    assert_null(got);
  }
}

/* A pipelined free's reply naming idx[0..n) of three offsets, with the
 * statuses st[0..ns), is a protocol error, as for a blocking free: the
 * handle breaks and nothing is passed on. */
static void bad_pipelined_free(fixture_t *f, uint32_t *idx, size_t n,
                               Arenad__Status *st, size_t ns, const char *why) {
  uint64_t offs[3] = {16, 4112, 8208};
  send_free_reply_ow(f->srv, 1,
                     st != NULL ? ARENAD__STATUS__STATUS_INVALID_ARGUMENT
                                : ARENAD__STATUS__STATUS_OK,
                     "", 2, st, ns, idx, n);
  assert_arenad_ok(f->h, arenad_submit_free(f->h, "a", offs, 3, 0));
  arenad_result_t res;
  assert_int_equal(arenad_collect(f->h, &res), AR_EPROTO);
  assert_non_null(strstr(arenad_error(f->h), why));
  assert_int_equal(res.freed, 0);
  assert_int_equal(arenad_collect_overwritten(f->h, NULL), 0);
  assert_int_equal(arenad_submit_ping(f->h, 0), AR_EIO);
}

static void test_pipeline_overwritten_past_the_request(void **state) {
  bad_pipelined_free(*state, (uint32_t[]){1, 3}, 2, NULL, 0,
                     "overwritten header");
}

static void test_pipeline_overwritten_out_of_order(void **state) {
  bad_pipelined_free(*state, (uint32_t[]){2, 1}, 2, NULL, 0,
                     "overwritten header");
}

static void test_pipeline_overwritten_of_a_failure(void **state) {
  Arenad__Status st[3] = {ARENAD__STATUS__STATUS_OK,
                          ARENAD__STATUS__STATUS_PERMISSION_DENIED,
                          ARENAD__STATUS__STATUS_OK};
  bad_pipelined_free(*state, (uint32_t[]){1}, 1, st, 3, "overwritten header");
}

/* As test_overwritten_of_a_refused_free, pipelined. */
static void test_pipeline_overwritten_of_a_refused_free(void **state) {
  fixture_t *f = *state;
  uint64_t offs[3] = {16, 4112, 8208};
  send_free_reply_ow(f->srv, 1, ARENAD__STATUS__STATUS_NOT_FOUND,
                     "no arena called a", 0, NULL, 0, (uint32_t[]){0}, 1);
  assert_arenad_ok(f->h, arenad_submit_free(f->h, "a", offs, 3, 0));
  arenad_result_t res;
  assert_int_equal(arenad_collect(f->h, &res), AR_EPROTO);
  assert_non_null(strstr(arenad_error(f->h), "overwritten header"));
  assert_int_equal(arenad_collect_overwritten(f->h, NULL), 0);
  assert_int_equal(arenad_submit_ping(f->h, 0), AR_EIO);
}

static void test_pipeline_free_fewer_statuses(void **state) {
  Arenad__Status st[2] = {ARENAD__STATUS__STATUS_OK,
                          ARENAD__STATUS__STATUS_PERMISSION_DENIED};
  bad_pipelined_free(*state, NULL, 0, st, 2, "2 statuses for 3 offsets");
}

static void test_pipeline_fd(void **state) {
  fixture_t *f = *state;
  int seg = make_segment(4096);
  Arenad__Response r = ping_reply(1);
  send_reply_fds(f->srv, &r, &seg, 1);
  close(seg);
  assert_arenad_ok(f->h, arenad_submit_ping(f->h, 0));
  arenad_result_t res;
  assert_int_equal(arenad_collect(f->h, &res), AR_EPROTO);
  assert_non_null(
      strstr(arenad_error(f->h), "descriptor with a pipelined reply"));
  /* teardown checks that the descriptor received was closed */
}

/* A handle broken with pipelined requests in flight: attach says that the
 * connection is gone (AR_EIO), as every blocking call does, not that
 * requests are in flight (AR_EINVAL), also for an arena it has mapped
 * (which it would give back without asking), and the first reason stays. */
static void test_attach_after_break(void **state) {
  fixture_t *f = *state;
  arenad_map_t map = attach_4k(f);
  assert_arenad_ok(f->h, arenad_submit_ping(f->h, 1));
  assert_arenad_ok(f->h, arenad_submit_ping(f->h, 2));
  Arenad__Response r = ping_reply(77); /* answers neither */
  send_reply(f->srv, &r);
  arenad_result_t res;
  assert_int_equal(arenad_collect(f->h, &res), AR_EPROTO);
  assert_int_equal(arenad_attach(f->h, "a", 0, NULL), AR_EIO);
  assert_int_equal(arenad_attach(f->h, "b", 0, NULL), AR_EIO);
  assert_int_equal(arenad_ping(f->h), AR_EIO);
  assert_non_null(strstr(arenad_error(f->h), "does not answer request 2"));
  /* The mapping stays until it is detached. */
  assert_ptr_equal(arenad_ptr(f->h, "a", 0), map.base);
}

/* When the handle breaks, the requests still in flight are dropped (no
 * reply can come for them): arenad_in_flight is 0, so a loop that
 * collects while it is not ends, whether the break came with a reply
 * (here garbage after the first) or with a send (the daemon's end shut). */
static void test_break_drops_pipeline(void **state) {
  fixture_t *f = *state;
  for (uint64_t tag = 1; tag <= 3; tag++)
    assert_arenad_ok(f->h, arenad_submit_ping(f->h, tag));
  Arenad__Response r = ping_reply(1);
  send_reply(f->srv, &r);
  static const uint8_t garbage[] = {0x80, 0x00}; /* a malformed prefix */
  send_raw(f->srv, garbage, sizeof garbage, NULL, 0);
  arenad_result_t res;
  int n = 0, rc = 0;
  while (arenad_in_flight(f->h) > 0 && n < 10) {
    rc = arenad_collect(f->h, &res);
    n++;
  }
  assert_int_equal(n, 2); /* the first reply, then the garbage */
  assert_int_equal(rc, AR_EPROTO);
  assert_int_equal(arenad_collect(f->h, &res), AR_EIO);
  assert_int_equal(arenad_in_flight(f->h), 0);
  assert_int_equal(arenad_submit_ping(f->h, 4), AR_EIO);
  assert_int_equal(arenad_in_flight(f->h), 0);
}

/* The same when the send breaks it: the daemon's end is shut. */
static void test_break_on_send_drops_pipeline(void **state) {
  fixture_t *f = *state;
  for (uint64_t tag = 1; tag <= 3; tag++)
    assert_arenad_ok(f->h, arenad_submit_ping(f->h, tag));
  assert_int_equal(shutdown(f->srv, SHUT_RDWR), 0);
  assert_int_equal(arenad_flush(f->h), AR_EIO);
  assert_int_equal(arenad_in_flight(f->h), 0);
}

/* ---- inspection and statistics ------------------------------------------- */

static void test_inspect(void **state) {
  fixture_t *f = *state;
  Arenad__ArenaSummary sum = ARENAD__ARENA_SUMMARY__INIT;
  sum.name = "pool";
  sum.policy = ARENAD__POLICY__POLICY_BUDDY;
  sum.size = 1 << 20;
  sum.live_blocks = 1;
  uint64_t orders[3] = {0, 1, 2};
  sum.free_by_order = orders;
  sum.n_free_by_order = 3;
  Arenad__Holder holder = ARENAD__HOLDER__INIT;
  holder.connection_id = 5;
  holder.pid = 1234;
  holder.client_name = "writer";
  Arenad__Holder *holders[1] = {&holder};
  Arenad__Extent e1 = ARENAD__EXTENT__INIT;
  e1.start = 0;
  e1.size = 64;
  e1.payload = 16;
  e1.n = 40;
  e1.refcount = 1;
  e1.holders = holders;
  e1.n_holders = 1;
  Arenad__Extent e2 = ARENAD__EXTENT__INIT;
  e2.start = 64;
  e2.size = 64;
  e2.free = true;
  Arenad__Extent *ext[2] = {&e1, &e2};
  Arenad__InspectReply body = ARENAD__INSPECT_REPLY__INIT;
  body.summary = &sum;
  body.extents = ext;
  body.n_extents = 2;
  body.next_cursor = 128;
  Arenad__Response r = ARENAD__RESPONSE__INIT;
  r.id = 1;
  r.body_case = ARENAD__RESPONSE__BODY_INSPECT;
  r.inspect = &body;
  send_reply(f->srv, &r);

  arenad_page_t *page;
  assert_arenad_ok(f->h, arenad_inspect(f->h, "pool", ARENAD_INSPECT_BLOCKS,
                                        0, 2, &page));
  assert_string_equal(page->summary.name, "pool");
  assert_int_equal(page->summary.policy, ARENAD_POLICY_BUDDY);
  assert_int_equal(page->summary.n_orders, 3);
  assert_int_equal(page->summary.free_by_order[2], 2);
  assert_int_equal(page->n_extents, 2);
  assert_int_equal(page->extents[0].payload, 16);
  assert_int_equal(page->extents[0].n_holders, 1);
  assert_string_equal(page->extents[0].holders[0].client_name, "writer");
  assert_int_equal(page->extents[0].holders[0].pid, 1234);
  assert_true(page->extents[1].free);
  assert_int_equal(page->next_cursor, 128);
  arenad_page_destroy(page);
  Arenad__Request *req = read_request(f->srv);
  assert_int_equal(req->inspect->what, ARENAD__INSPECT_WHAT__INSPECT_BLOCKS);
  assert_int_equal(req->inspect->limit, 2);
  arenad__request__free_unpacked(req, NULL);

  /* A cursor that does not move forward would loop forever. */
  r.id = 2;
  body.next_cursor = 128;
  send_reply(f->srv, &r);
  assert_int_equal(arenad_inspect(f->h, "pool", ARENAD_INSPECT_BLOCKS, 128,
                                  2, &page),
                   AR_EPROTO);
  assert_null(page);
}

static void test_check(void **state) {
  fixture_t *f = *state;
  Arenad__CheckReply body = ARENAD__CHECK_REPLY__INIT;
  body.invariant = "free-disjoint";
  body.offset = 4096;
  body.detail = "two free extents overlap";
  Arenad__Response r = ARENAD__RESPONSE__INIT;
  r.id = 1;
  r.status = ARENAD__STATUS__STATUS_CORRUPTION_DETECTED;
  r.body_case = ARENAD__RESPONSE__BODY_CHECK;
  r.check = &body;
  send_reply(f->srv, &r);
  arenad_check_t c;
  assert_int_equal(arenad_check(f->h, "a", &c), AR_ECORRUPT);
  assert_false(c.ok);
  assert_string_equal(c.invariant, "free-disjoint");
  assert_int_equal(c.offset, 4096);
  assert_string_equal(c.detail, "two free extents overlap");

  /* An error before the check ran: *out is zeroed, never left stale. */
  send_error_reply(f->srv, 2, ARENAD__STATUS__STATUS_NOT_FOUND,
                   "no arena named 'b'");
  memset(&c, 0xff, sizeof c);
  assert_int_equal(arenad_check(f->h, "b", &c), AR_ENOENT);
  assert_false(c.ok);
  assert_string_equal(c.invariant, "");
  assert_int_equal(c.offset, 0);
  assert_int_equal(c.headers_overwritten, 0);
  assert_int_equal(c.first_overwritten, 0);
}

/* Sends the reply to check request 1: passed, with `count` overwritten
 * headers of live blocks, the first at `first`. */
static void send_check_passed(int srv, uint64_t count, uint64_t first) {
  Arenad__CheckReply body = ARENAD__CHECK_REPLY__INIT;
  body.ok = true;
  body.headers_overwritten = count;
  body.first_overwritten = first;
  Arenad__Response r = ARENAD__RESPONSE__INIT;
  r.id = 1;
  r.body_case = ARENAD__RESPONSE__BODY_CHECK;
  r.check = &body;
  send_reply(srv, &r);
}

/* A check that passes with overwritten headers of live blocks: the count
 * and the first offset are passed on, the check still OK. */
static void test_check_overwritten(void **state) {
  fixture_t *f = *state;
  send_check_passed(f->srv, 3, 4112);
  arenad_check_t c;
  assert_arenad_ok(f->h, arenad_check(f->h, "a", &c));
  assert_true(c.ok);
  assert_int_equal(c.headers_overwritten, 3);
  assert_int_equal(c.first_overwritten, 4112);
  expect_request(f->srv, 1, ARENAD__REQUEST__BODY_CHECK);
}

/* A check reply that passes with `count` overwritten headers, the first at
 * `first`, one of them 0 and not the other: a protocol error. */
static void bad_check_reply(fixture_t *f, uint64_t count, uint64_t first,
                            const char *why) {
  send_check_passed(f->srv, count, first);
  arenad_check_t c;
  assert_int_equal(arenad_check(f->h, "a", &c), AR_EPROTO);
  assert_non_null(strstr(arenad_error(f->h), why));
  assert_int_equal(c.headers_overwritten, 0);
  assert_int_equal(arenad_ping(f->h), AR_EIO);
}

static void test_check_overwritten_without_first(void **state) {
  bad_check_reply(*state, 2, 0, "2 overwritten headers");
}

static void test_check_first_without_count(void **state) {
  bad_check_reply(*state, 0, 16, "the first at 16");
}

static void test_stats(void **state) {
  fixture_t *f = *state;
  Arenad__RequestCounts rq = ARENAD__REQUEST_COUNTS__INIT;
  rq.alloc = 77;
  Arenad__StatsReply body = ARENAD__STATS_REPLY__INIT;
  body.daemon_version = "1.2.3";
  body.uptime_ms = 5000;
  body.arenas = 3;
  body.requests = &rq; /* errors left unset: walked as zeros */
  Arenad__Response r = ARENAD__RESPONSE__INIT;
  r.id = 1;
  r.body_case = ARENAD__RESPONSE__BODY_STATS;
  r.stats = &body;
  send_reply(f->srv, &r);

  arenad_stat_t *st;
  size_t n;
  assert_arenad_ok(f->h, arenad_stats(f->h, &st, &n));
  /* Every scalar field of StatsReply, RequestCounts and StatusCounts. */
  size_t expect = 0;
  const ProtobufCMessageDescriptor *ds[3] = {&arenad__stats_reply__descriptor,
                                             &arenad__request_counts__descriptor,
                                             &arenad__status_counts__descriptor};
  for (int i = 0; i < 3; i++)
    for (unsigned j = 0; j < ds[i]->n_fields; j++)
      if (ds[i]->fields[j].type != PROTOBUF_C_TYPE_MESSAGE)
        expect++;
  assert_int_equal(n, expect);
  int seen = 0;
  for (size_t i = 0; i < n; i++) {
    if (strcmp(st[i].name, "daemon_version") == 0) {
      assert_int_equal(st[i].type, ARENAD_STAT_STRING);
      assert_string_equal(st[i].s, "1.2.3");
      seen++;
    } else if (strcmp(st[i].name, "uptime_ms") == 0) {
      assert_int_equal(st[i].u, 5000);
      seen++;
    } else if (strcmp(st[i].name, "requests.alloc") == 0) {
      assert_int_equal(st[i].type, ARENAD_STAT_UINT);
      assert_int_equal(st[i].u, 77);
      seen++;
    } else if (strcmp(st[i].name, "errors.not_found") == 0) {
      assert_int_equal(st[i].u, 0);
      seen++;
    }
  }
  assert_int_equal(seen, 4);
  arenad_stats_destroy(st);
}

static void test_list(void **state) {
  fixture_t *f = *state;
  Arenad__ArenaInfo a = ARENAD__ARENA_INFO__INIT;
  a.name = "alpha";
  a.size = 1 << 20;
  a.policy = ARENAD__POLICY__POLICY_NEXT;
  Arenad__ArenaInfo b = ARENAD__ARENA_INFO__INIT;
  b.name = "beta";
  b.policy = 42; /* a policy from the future */
  Arenad__ArenaInfo *arenas[2] = {&a, &b};
  Arenad__ListReply body = ARENAD__LIST_REPLY__INIT;
  body.arenas = arenas;
  body.n_arenas = 2;
  Arenad__Response r = ARENAD__RESPONSE__INIT;
  r.id = 1;
  r.body_case = ARENAD__RESPONSE__BODY_LIST;
  r.list = &body;
  send_reply(f->srv, &r);
  arenad_arena_t *list;
  size_t n;
  assert_arenad_ok(f->h, arenad_list(f->h, &list, &n));
  assert_int_equal(n, 2);
  assert_string_equal(list[0].name, "alpha");
  assert_int_equal(list[0].policy, ARENAD_POLICY_NEXT);
  assert_string_equal(list[1].name, "beta");
  assert_int_equal(list[1].policy, ARENAD_POLICY_UNKNOWN);
  assert_string_equal(arenad_policy_name(list[1].policy), "unknown");
  arenad_list_destroy(list);
}

/* ---- without a handle ---------------------------------------------------- */

static void test_socket_path(void **state) {
  (void)state;
  char buf[108];
  assert_int_equal(arenad_socket_path("/x/y.sock", buf, sizeof buf), 0);
  assert_string_equal(buf, "/x/y.sock");
  /* The variable arenad.h names is the one the library reads
   * (AR_SOCKET_ENV: conn.c checks that the two have the same length). */
  setenv(ARENAD_SOCKET_ENV, "/from/env.sock", 1);
  assert_int_equal(arenad_socket_path(NULL, buf, sizeof buf), 0);
  assert_string_equal(buf, "/from/env.sock");
  unsetenv(ARENAD_SOCKET_ENV);
  setenv("XDG_RUNTIME_DIR", "/xdg", 1);
  assert_int_equal(arenad_socket_path(NULL, buf, sizeof buf), 0);
  assert_string_equal(buf, "/xdg/arenad.sock");
  char longp[200];
  memset(longp, 'a', sizeof longp - 1);
  longp[sizeof longp - 1] = '\0';
  assert_int_equal(arenad_socket_path(longp, buf, sizeof buf), AR_ELIMIT);
  /* "" names no file: in a socket address it would be the abstract socket
   * of 107 NUL bytes, which any process may bind. */
  assert_int_equal(arenad_socket_path("", buf, sizeof buf), AR_EINVAL);
  assert_string_equal(buf, "");

  /* No daemon there: AR_EIO, errno says why. */
  arenad_t *h = (arenad_t *)1;
  assert_int_equal(arenad_connect("/nonexistent/arenad.sock", &h), AR_EIO);
  assert_null(h);
  assert_int_equal(arenad_connect(longp, &h), AR_ELIMIT);
  h = (arenad_t *)1;
  assert_int_equal(arenad_connect("", &h), AR_EINVAL);
  assert_null(h);
}

/* A child that listens on a new socket at `path`, bound as root, listening
 * as `uid` (the peer's credentials are the listener's at listen(2)). Kill
 * it with SIGKILL and reap it; the caller unlinks the socket. */
static pid_t listen_as(const char *path, uid_t uid) {
  int ready[2];
  assert_int_equal(pipe(ready), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    /* Gone with the test, whatever becomes of it; and holding none of its
     * output open, which ctest reads to the end. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    int null = open("/dev/null", O_WRONLY);
    dup2(null, STDOUT_FILENO);
    dup2(null, STDERR_FILENO);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
        setresgid(uid, uid, uid) < 0 || setresuid(uid, uid, uid) < 0 ||
        listen(fd, 4) < 0 || write(ready[1], "r", 1) != 1)
      _exit(1);
    for (;;)
      pause();
  }
  close(ready[1]);
  char c;
  assert_int_equal(read(ready[0], &c, 1), 1);
  close(ready[0]);
  return pid;
}

static void stop_listener(pid_t pid, const char *path) {
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
  unlink(path);
}

/* The /tmp fallback: a directory missing when checked could be made by
 * anyone before the connect, so a daemon there must run as the user,
 * whether the path was found (NULL) or given (as arenactl passes it),
 * however it is spelled.
 * Needs root, to listen as another uid, and a machine where the fallback
 * is the default (no /run/user/0). */
static void test_tmp_fallback_peer(void **state) {
  (void)state;
  struct stat st;
  const char *dir = "/tmp/arenad-0", *path = "/tmp/arenad-0/arenad.sock";
  /* Not root, another default, or the directory in use (a daemon's, or
   * test_socket_path's, which may run beside this one). */
  if (getuid() != 0 || stat("/run/user/0", &st) == 0 || mkdir(dir, 0700) < 0) {
    skip();
    return;
  }
  unsetenv(ARENAD_SOCKET_ENV);
  unsetenv("XDG_RUNTIME_DIR");
  arenad_t *h = (arenad_t *)1;

  pid_t pid = listen_as(path, 65534);
  errno = 0;
  assert_int_equal(arenad_connect(NULL, &h), AR_EIO);
  assert_int_equal(errno, EPERM);
  assert_null(h);
  errno = 0;
  assert_int_equal(arenad_connect(path, &h), AR_EIO);
  assert_int_equal(errno, EPERM);
  stop_listener(pid, path);

  /* Spelled otherwise, relative, or through a symlink: the same. */
  char tdir[] = "/tmp/arenad-test-XXXXXX", link[64], other[64], cwd[PATH_MAX];
  assert_non_null(mkdtemp(tdir));
  snprintf(link, sizeof link, "%s/link", tdir);
  assert_int_equal(symlink(path, link), 0);
  const char *const spelled[] = {"//tmp/arenad-0/arenad.sock",
                                 "/tmp/./arenad-0/arenad.sock",
                                 "/tmp/arenad-0//arenad.sock",
                                 "/tmp/../tmp/arenad-0/arenad.sock",
                                 "arenad-0/arenad.sock", /* from /tmp */
                                 link};
  assert_non_null(getcwd(cwd, sizeof cwd));
  assert_int_equal(chdir("/tmp"), 0);
  int refused = 0;
  for (size_t i = 0; i < sizeof spelled / sizeof spelled[0]; i++) {
    /* a listener each: one that never accepts fills its backlog */
    pid = listen_as(path, 65534);
    h = (arenad_t *)1;
    errno = 0;
    int rc = arenad_connect(spelled[i], &h);
    stop_listener(pid, path);
    if (rc == AR_EIO && errno == EPERM && h == NULL)
      refused++;
    else
      print_error("%s: connected (%d, %s)\n", spelled[i], rc, strerror(errno));
    arenad_close(rc == 0 ? h : NULL);
  }
  assert_int_equal(chdir(cwd), 0);
  unlink(link);

  /* Another uid's daemon elsewhere is not refused. */
  snprintf(other, sizeof other, "%s/other.sock", tdir);
  pid = listen_as(other, 65534);
  assert_int_equal(arenad_connect(other, &h), 0);
  arenad_close(h);
  stop_listener(pid, other);
  rmdir(tdir);

  pid = listen_as(path, 0);
  assert_int_equal(arenad_connect(NULL, &h), 0);
  arenad_close(h);
  stop_listener(pid, path);
  rmdir(dir);
  assert_int_equal(refused, sizeof spelled / sizeof spelled[0]);
}

int main(void) {
  const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
      T(test_hello),
      T(test_hello_raises_the_limit_with_bytes_buffered),
      T(test_request_over_the_limit),
      T(test_version_mismatch),
      T(test_error_status),
      T(test_alloc_free),
      T(test_free_each),
      T(test_free_report),
      T(test_overwritten_past_the_request),
      T(test_overwritten_out_of_order),
      T(test_overwritten_twice),
      T(test_overwritten_of_a_failure),
      T(test_overwritten_far_past_the_request),
      T(test_overwritten_of_a_refused_free),
      T(test_release_report),
      T(test_alloc_more_offsets),
      T(test_free_fewer_statuses),
      T(test_free_ok_beside_a_failure),
      T(test_free_status_of_a_later_failure),
      T(test_pipeline_free_status_without_a_failure),
      T(test_wrong_id),
      T(test_wrong_kind),
      T(test_ok_without_body),
      T(test_version_mismatch_no_body),
      T(test_connection_error),
      T(test_connection_error_pipelined),
      T(test_last_word_between_calls),
      T(test_last_word_between_calls_pipelined),
      T(test_last_word_while_sending),
      T(test_oversize_frame),
      T(test_garbage),
      T(test_unparsable_body),
      T(test_reply_unpacks_too_big),
      T(test_eof),
      T(test_nonblocking_socket),
      T(test_attach),
      T(test_alloc_past_the_mapping),
      T(test_alloc_at_the_end),
      T(test_alloc_past_the_mapping_pipelined),
      T(test_attach_read_only),
      T(test_attach_read_only_by_daemon),
      T(test_attach_no_fd),
      T(test_attach_two_fds),
      T(test_attach_short_segment),
      T(test_fd_with_other_reply),
      T(test_fd_with_attach_error),
      T(test_pipeline),
      T(test_pipeline_window),
      T(test_encoding),
      T(test_pipeline_mismatch),
      T(test_pipeline_count_zero),
      T(test_pipeline_wrong_count),
      T(test_pipeline_overwritten),
      T(test_pipeline_overwritten_past_the_request),
      T(test_pipeline_overwritten_out_of_order),
      T(test_pipeline_overwritten_of_a_failure),
      T(test_pipeline_overwritten_of_a_refused_free),
      T(test_pipeline_overwritten_after_a_failed_collect),
      T(test_pipeline_free_fewer_statuses),
      T(test_pipeline_fd),
      T(test_attach_after_break),
      T(test_break_drops_pipeline),
      T(test_break_on_send_drops_pipeline),
      T(test_inspect),
      T(test_check),
      T(test_check_overwritten),
      T(test_check_overwritten_without_first),
      T(test_check_first_without_count),
      T(test_stats),
      T(test_list),
#undef T
      cmocka_unit_test(test_getters_of_no_handle),
      cmocka_unit_test(test_requests_of_no_handle),
      cmocka_unit_test(test_socket_path),
      cmocka_unit_test(test_tmp_fallback_peer),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
