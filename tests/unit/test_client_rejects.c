/*
 * test_client_rejects.c: the client library against replies a real
 * daemon never sends, sent by the fake daemon (fake_daemon.h) on a
 * socketpair: the wrong id or kind, a success without a body, more
 * offsets or fewer statuses than the request has, an envelope that is not
 * the first failure's status, overwritten headers named past the request
 * or out of order (by a blocking free), frames over the limit, garbage, a
 * reply that would unpack too big, the end of the connection with the
 * daemon's last word or without, and a daemon that does not answer within
 * the handle's timeout; also the free and release calls that
 * report overwritten headers (whose bad replies these are), and a reply
 * awaited on a non-blocking socket. Replies are written before the call,
 * or by a child when they must come while the library waits; each test
 * checks the code, the message and whether the handle is still usable.
 */
#include "fake_daemon.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "ar/frame.h"
#include "arenad_assert.h"

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
  send_free_reply(f->srv, 1, ARENAD__STATUS__STATUS_INVALID_ARGUMENT, "", 1, st,
                  3);
  int statuses[3];
  assert_int_equal(arenad_free_n(f->h, "a", offs, 3, statuses), AR_EPROTO);
  assert_non_null(strstr(arenad_error(f->h), "first failure"));
}

static void test_pipeline_free_status_without_a_failure(void **state) {
  fixture_t *f = *state;
  uint64_t offs[2] = {16, 4112};
  /* An error, though no offset failed. */
  Arenad__Status st[2] = {ARENAD__STATUS__STATUS_OK, ARENAD__STATUS__STATUS_OK};
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
  empty_extents_t x;
  empty_extents_init(&x, 1, 500000);
  assert_true(arenad__response__get_packed_size(&x.r) < (1u << 20));
  /* From a child: the frame is larger than the socket holds. */
  pid_t pid = send_reply_later(f->srv, &x.r, 0);
  empty_extents_fini(&x);
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

/* A daemon that does not answer: with a timeout set, the call gives up
 * after it with AR_EIO and says so, the request having gone out; the
 * connection is closed (the daemon's end reads its end), and the handle
 * stays broken (the next call fails at once), so a reply that came late
 * cannot be taken for the answer to another request. */
static void test_timeout(void **state) {
  fixture_t *f = *state;
  assert_int_equal(arenad_set_timeout(f->h, 200), 0);
  assert_int_equal(arenad_ping(f->h), AR_EIO);
  assert_non_null(strstr(arenad_error(f->h), "sent nothing for 0.200 s"));
  expect_request(f->srv, 1, ARENAD__REQUEST__BODY_PING);
  char c;
  assert_int_equal(recv(f->srv, &c, 1, MSG_DONTWAIT), 0);
  assert_int_equal(arenad_ping(f->h), AR_EIO);
  assert_non_null(strstr(arenad_error(f->h), "sent nothing"));
  assert_int_equal(arenad_set_timeout(NULL, 1), AR_EINVAL);
}

/* The same for a pipelined request's collect. */
static void test_timeout_collect(void **state) {
  fixture_t *f = *state;
  assert_arenad_ok(f->h, arenad_submit_ping(f->h, 3));
  assert_int_equal(arenad_set_timeout(f->h, 50), 0);
  arenad_result_t res;
  assert_int_equal(arenad_collect(f->h, &res), AR_EIO);
  assert_non_null(strstr(arenad_error(f->h), "sent nothing for 0.050 s"));
}

/* A timeout bounds the silence, not the call: replies that come before it
 * passes are taken, on a blocking socket and a non-blocking one, and a
 * negative timeout waits as long as it takes again. */
static void test_timeout_not_reached(void **state) {
  fixture_t *f = *state;
  assert_int_equal(arenad_set_timeout(f->h, 5000), 0);
  Arenad__Response r = ping_reply(1);
  pid_t pid = send_reply_later(f->srv, &r, 100);
  assert_arenad_ok(f->h, arenad_ping(f->h));
  wait_child(pid);
  expect_request(f->srv, 1, ARENAD__REQUEST__BODY_PING);

  int fl = fcntl(f->cli, F_GETFL);
  assert_true(fl >= 0);
  assert_int_equal(fcntl(f->cli, F_SETFL, fl | O_NONBLOCK), 0);
  r = ping_reply(2);
  pid = send_reply_later(f->srv, &r, 100);
  assert_arenad_ok(f->h, arenad_ping(f->h));
  wait_child(pid);
  expect_request(f->srv, 2, ARENAD__REQUEST__BODY_PING);

  assert_int_equal(arenad_set_timeout(f->h, 0), 0);
  assert_int_equal(arenad_set_timeout(f->h, -7), 0);
  r = ping_reply(3);
  pid = send_reply_later(f->srv, &r, 300);
  assert_arenad_ok(f->h, arenad_ping(f->h));
  wait_child(pid);
}

int main(void) {
  const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
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
      T(test_timeout),
      T(test_timeout_collect),
      T(test_timeout_not_reached),
#undef T
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
