/*
 * test_client_fds.c: the descriptors that come with replies, sent by the
 * fake daemon (fake_daemon.h) on a socketpair: attach maps the memfd sent
 * with its reply (writable, or read-only as asked or as the daemon gives
 * it), and blocks' pointers lie inside that mapping; a block past its end,
 * an attach reply with no descriptor or two, a segment smaller than
 * announced, and a descriptor with a reply that takes none break the
 * handle; what a caller's socket options add to each message (the
 * sender's credentials and pidfd) leaves the descriptor alone and
 * nothing open; a descriptor that arrives at the number of a closed
 * standard stream is moved above 2. teardown checks that every descriptor
 * received and not kept was closed.
 */
#include "fake_daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "arenad_assert.h"

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
  assert_arenad_ok(f->h,
                   arenad_attach(f->h, "shm", ARENAD_ATTACH_READ_ONLY, &again));
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
  assert_arenad_ok(f->h,
                   arenad_attach(f->h, "ro", ARENAD_ATTACH_READ_ONLY, &map));
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

/* A socket handed to arenad_open_fd may have SO_PASSCRED set (its maker's
 * choice): every message then brings the sender's credentials too, in a
 * control message before the descriptor's, and the descriptor must still
 * come through, not be cut off by the kernel as if this process had none
 * to spare; three at once are still seen, and closed, as without. */
static void test_attach_with_credentials(void **state) {
  fixture_t *f = *state;
  int on = 1;
  assert_int_equal(setsockopt(f->cli, SOL_SOCKET, SO_PASSCRED, &on, sizeof on),
                   0);
  arenad_map_t map = attach_4k(f);
  assert_int_equal(map.size, 4096);
  assert_arenad_ok(f->h, arenad_detach(f->h, "a"));

  int segs[3] = {make_segment(4096), make_segment(4096), make_segment(4096)};
  send_attach_reply(f->srv, 2, 4096, segs, 3);
  for (int i = 0; i < 3; i++)
    close(segs[i]);
  assert_int_equal(arenad_attach(f->h, "a", 0, NULL), AR_EPROTO);
  assert_non_null(strstr(arenad_error(f->h), "came with 3 descriptors"));
  /* teardown checks that every received copy was closed */
}

/* SO_PASSPIDFD (Linux 6.5; 76 where the headers lack it, as on x86 and
 * arm64) on the caller's socket brings the sender's pidfd with every
 * message, installed in this process: the library closes each (teardown
 * counts the descriptors) and the replies still go through, also with
 * SO_PASSCRED's credentials beside it. Skipped on a kernel without it. */
#ifndef SO_PASSPIDFD
#define SO_PASSPIDFD 76
#endif
static void test_replies_with_pidfds(void **state) {
  fixture_t *f = *state;
  int on = 1;
  if (setsockopt(f->cli, SOL_SOCKET, SO_PASSPIDFD, &on, sizeof on) < 0) {
    skip();
    return;
  }
  for (uint64_t id = 1; id < 4; id++) {
    Arenad__Response r = ping_reply(id);
    send_reply(f->srv, &r);
    assert_arenad_ok(f->h, arenad_ping(f->h));
    expect_request(f->srv, id, ARENAD__REQUEST__BODY_PING);
  }
  /* credentials too, before each pidfd and the segment's descriptor */
  assert_int_equal(setsockopt(f->cli, SOL_SOCKET, SO_PASSCRED, &on, sizeof on),
                   0);
  Arenad__Response r = ping_reply(4);
  send_reply(f->srv, &r);
  assert_arenad_ok(f->h, arenad_ping(f->h));
  expect_request(f->srv, 4, ARENAD__REQUEST__BODY_PING);
  int seg = make_segment(4096);
  send_attach_reply(f->srv, 5, 4096, &seg, 1);
  close(seg);
  arenad_map_t map;
  assert_arenad_ok(f->h, arenad_attach(f->h, "a", 0, &map));
  assert_int_equal(map.size, 4096);
  expect_request(f->srv, 5, ARENAD__REQUEST__BODY_ATTACH);
}

/* With standard input closed, the segment's descriptor arrives at 0 (the
 * lowest free number) and is moved above 2: kept there, it would take
 * what the caller later reads, and for output, what it prints. */
static void test_attach_with_stdin_closed(void **state) {
  fixture_t *f = *state;
  int seg = make_segment(8192);
  send_attach_reply(f->srv, 1, 8192, &seg, 1);
  close(seg);
  int saved = dup(0);
  assert_true(saved > 2);
  close(0);
  arenad_map_t map;
  int rc = arenad_attach(f->h, "a", 0, &map);
  errno = 0;
  bool zero_free = fcntl(0, F_GETFD) < 0 && errno == EBADF;
  assert_int_equal(dup2(saved, 0), 0);
  close(saved);
  assert_arenad_ok(f->h, rc);
  assert_true(zero_free);
  memcpy(map.base, "kept", 4); /* the mapping works */
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

/* One byte short is short: the last page would be past the file's end. */
static void test_attach_segment_one_byte_short(void **state) {
  fixture_t *f = *state;
  int seg = make_segment(8191);
  send_attach_reply(f->srv, 1, 8192, &seg, 1);
  close(seg);
  assert_int_equal(arenad_attach(f->h, "a", 0, NULL), AR_EPROTO);
  assert_non_null(strstr(arenad_error(f->h), "8191 bytes"));
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

int main(void) {
  const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
      T(test_attach),
      T(test_alloc_past_the_mapping),
      T(test_alloc_at_the_end),
      T(test_alloc_past_the_mapping_pipelined),
      T(test_attach_read_only),
      T(test_attach_read_only_by_daemon),
      T(test_attach_with_credentials),
      T(test_replies_with_pidfds),
      T(test_attach_with_stdin_closed),
      T(test_attach_no_fd),
      T(test_attach_two_fds),
      T(test_attach_short_segment),
      T(test_attach_segment_one_byte_short),
      T(test_fd_with_other_reply),
      T(test_fd_with_attach_error),
#undef T
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
