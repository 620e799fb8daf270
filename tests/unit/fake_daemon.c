/*
 * fake_daemon.c: the fake daemon of the test_client_* tests, see
 * fake_daemon.h: the fixture, frames written and read on the daemon's end
 * of the socketpair, and the replies several of the tests send.
 */
#include "fake_daemon.h"

#include <stdlib.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ar/frame.h"
#include "arenad_assert.h"
#include "open_fds.h"
#include "send_fds.h"

int setup(void **state) {
  fixture_t *f = calloc(1, sizeof *f);
  assert_non_null(f);
  f->fds_before = open_fds();
  assert_true(f->fds_before >= 0);
  int sv[2];
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  assert_int_equal(arenad_open_fd(sv[0], &f->h), 0);
  f->cli = sv[0];
  f->srv = sv[1];
  *state = f;
  return 0;
}

int teardown(void **state) {
  fixture_t *f = *state;
  arenad_close(f->h);
  close(f->srv);
  assert_int_equal(open_fds(), f->fds_before);
  free(f);
  return 0;
}

void send_raw(int srv, const void *p, size_t n, const int *fds, size_t nfds) {
  assert_int_equal(send_with_fds(srv, p, n, fds, nfds, 0), (ssize_t)n);
}

void send_reply_fds(int srv, const Arenad__Response *r, const int *fds,
                    size_t nfds) {
  size_t len = arenad__response__get_packed_size(r);
  uint8_t *buf = malloc(len + AR_FRAME_PREFIX_MAX);
  assert_non_null(buf);
  size_t p = ar_frame_encode(buf, len);
  arenad__response__pack(r, buf + p);
  send_raw(srv, buf, p + len, fds, nfds);
  free(buf);
}

void send_reply(int srv, const Arenad__Response *r) {
  send_reply_fds(srv, r, NULL, 0);
}

pid_t act_later(int srv, int ms, const uint8_t *buf, size_t n) {
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

void wait_child(pid_t pid) {
  int st;
  assert_int_equal(waitpid(pid, &st, 0), pid);
  assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

Arenad__Request *read_request(int srv) {
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

void expect_request(int srv, uint64_t id, int kind) {
  Arenad__Request *req = read_request(srv);
  assert_int_equal(req->id, id);
  assert_int_equal(req->body_case, kind);
  arenad__request__free_unpacked(req, NULL);
}

/* The body of every ping_reply. */
static Arenad__PingReply ping_body = ARENAD__PING_REPLY__INIT;

Arenad__Response ping_reply(uint64_t id) {
  Arenad__Response r = ARENAD__RESPONSE__INIT;
  r.id = id;
  r.body_case = ARENAD__RESPONSE__BODY_PING;
  r.ping = &ping_body;
  return r;
}

void send_error_reply(int srv, uint64_t id, Arenad__Status status,
                      const char *message) {
  Arenad__Response r = ARENAD__RESPONSE__INIT;
  r.id = id;
  r.status = status;
  r.message = (char *)message;
  send_reply(srv, &r);
}

void send_alloc_reply(int srv, uint64_t id, const uint64_t *offs, size_t n) {
  Arenad__AllocReply ab = ARENAD__ALLOC_REPLY__INIT;
  ab.offsets = (uint64_t *)offs; /* only read by pack */
  ab.n_offsets = n;
  Arenad__Response r = ARENAD__RESPONSE__INIT;
  r.id = id;
  r.body_case = ARENAD__RESPONSE__BODY_ALLOC;
  r.alloc = &ab;
  send_reply(srv, &r);
}

void send_free_reply_ow(int srv, uint64_t id, Arenad__Status status,
                        const char *message, uint32_t freed, Arenad__Status *st,
                        size_t n, uint32_t *ow, size_t nw) {
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

void send_free_reply(int srv, uint64_t id, Arenad__Status status,
                     const char *message, uint32_t freed, Arenad__Status *st,
                     size_t n) {
  send_free_reply_ow(srv, id, status, message, freed, st, n, NULL, 0);
}

void send_last_word(int srv) {
  send_error_reply(srv, 0, ARENAD__STATUS__STATUS_LIMIT_EXCEEDED,
                   "no complete frame within frame_timeout_ms");
}

int make_segment(size_t size) {
  int fd = memfd_create("fake_daemon", MFD_CLOEXEC);
  assert_true(fd >= 0);
  assert_int_equal(ftruncate(fd, (off_t)size), 0);
  return fd;
}

void send_attach_reply_ro(int srv, uint64_t id, uint64_t size, const int *fds,
                          size_t nfds, bool read_only) {
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

void send_attach_reply(int srv, uint64_t id, uint64_t size, const int *fds,
                       size_t nfds) {
  send_attach_reply_ro(srv, id, size, fds, nfds, false);
}

arenad_map_t attach_4k(fixture_t *f) {
  int seg = make_segment(4096);
  send_attach_reply(f->srv, 1, 4096, &seg, 1);
  close(seg); /* the mapping keeps the segment */
  arenad_map_t map;
  assert_arenad_ok(f->h, arenad_attach(f->h, "a", 0, &map));
  expect_request(f->srv, 1, ARENAD__REQUEST__BODY_ATTACH);
  return map;
}

void empty_extents_init(empty_extents_t *x, uint64_t id, size_t n) {
  x->empty = (Arenad__Extent)ARENAD__EXTENT__INIT;
  x->all = malloc(n * sizeof *x->all);
  assert_non_null(x->all);
  for (size_t i = 0; i < n; i++)
    x->all[i] = &x->empty;
  x->ir = (Arenad__InspectReply)ARENAD__INSPECT_REPLY__INIT;
  x->ir.n_extents = n;
  x->ir.extents = x->all;
  x->r = (Arenad__Response)ARENAD__RESPONSE__INIT;
  x->r.id = id;
  x->r.body_case = ARENAD__RESPONSE__BODY_INSPECT;
  x->r.inspect = &x->ir;
}

void empty_extents_fini(empty_extents_t *x) { free(x->all); }
