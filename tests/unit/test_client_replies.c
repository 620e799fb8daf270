/*
 * test_client_replies.c: the client library's calls on replies it
 * accepts, sent by the fake daemon (fake_daemon.h) on a socketpair: hello
 * and the limits it sets (the frame limit binding replies and requests, a
 * raised one taking effect with bytes already read, the window and frame
 * limit clamped), a version mismatch
 * with a body and without, a refused request that leaves the handle
 * usable, an alloc and a partial free, and a transfer. Each test writes
 * the replies before the call and reads and checks the requests after it.
 */
#include "fake_daemon.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "ar/frame.h"
#include "ar/protocol.h"
#include "arenad_assert.h"

/* The reply to request 1, a hello, with the caller's body. */
static Arenad__Response hello_reply(Arenad__HelloReply *body) {
  Arenad__Response r = ARENAD__RESPONSE__INIT;
  r.id = 1;
  r.body_case = ARENAD__RESPONSE__BODY_HELLO;
  r.hello = body;
  return r;
}

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
  assert_int_equal(hi.max_page, 100);
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

/* Limits the library does not take as the daemon gives them: no
 * max_in_flight is the default window; more than the library keeps track
 * of (ARENAD__WINDOW_MAX, client/lib/internal.h) is that many; a frame
 * limit over ARENAD_FRAME_MAX_CLIENT is that, so a reply announcing one
 * byte more breaks the handle as soon as its prefix is read. */
static void test_hello_clamps_the_limits(void **state) {
  fixture_t *f = *state;
  Arenad__Limits lim = ARENAD__LIMITS__INIT;
  Arenad__HelloReply body = ARENAD__HELLO_REPLY__INIT;
  body.protocol_version = 1;
  body.limits = &lim;
  Arenad__Response r = hello_reply(&body);
  send_reply(f->srv, &r);
  assert_arenad_ok(f->h, arenad_hello(f->h, "test", NULL));
  assert_int_equal(arenad_window(f->h), ARENAD_WINDOW_DEFAULT);
  expect_request(f->srv, 1, ARENAD__REQUEST__BODY_HELLO);

  lim.max_in_flight = UINT32_MAX;
  lim.max_frame_bytes = UINT64_C(1) << 30;
  r.id = 2;
  send_reply(f->srv, &r);
  arenad_hello_t hi;
  assert_arenad_ok(f->h, arenad_hello(f->h, "test", &hi));
  assert_int_equal(hi.max_in_flight, UINT32_MAX); /* as the daemon said */
  assert_int_equal(arenad_window(f->h), 65536);
  expect_request(f->srv, 2, ARENAD__REQUEST__BODY_HELLO);

  /* The end of the stream follows the prefix: a library that waited for
   * the body would see it (AR_EIO) instead of refusing the length. */
  uint8_t prefix[AR_FRAME_PREFIX_MAX];
  send_raw(f->srv, prefix, ar_frame_encode(prefix, ARENAD_FRAME_MAX_CLIENT + 1),
           NULL, 0);
  assert_int_equal(shutdown(f->srv, SHUT_WR), 0);
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
 * the handle's error, whole however long the daemon makes it, and the
 * next request goes through and clears it. */
static void test_error_status(void **state) {
  fixture_t *f = *state;
  send_error_reply(f->srv, 1, ARENAD__STATUS__STATUS_NOT_FOUND,
                   "no arena called nope");
  uint64_t off;
  assert_int_equal(arenad_alloc(f->h, "nope", 16, 0, 0, &off, NULL), AR_ENOENT);
  assert_string_equal(arenad_error(f->h), "no arena called nope");
  expect_request(f->srv, 1, ARENAD__REQUEST__BODY_ALLOC);

  /* A status this library does not know is an internal error. */
  send_error_reply(f->srv, 2, (Arenad__Status)99, "");
  assert_int_equal(arenad_ping(f->h), AR_EINTERNAL);

  Arenad__Response ok = ping_reply(3);
  send_reply(f->srv, &ok);
  assert_arenad_ok(f->h, arenad_ping(f->h));
  assert_string_equal(arenad_error(f->h), "");

  /* The longest message the daemon sends, every byte of it. */
  char longest[AR_MESSAGE_MAX + 1];
  for (size_t i = 0; i < AR_MESSAGE_MAX; i++)
    longest[i] = (char)('a' + i % 26);
  longest[AR_MESSAGE_MAX] = '\0';
  send_error_reply(f->srv, 4, ARENAD__STATUS__STATUS_PERMISSION_DENIED,
                   longest);
  assert_int_equal(arenad_ping(f->h), AR_EPERM);
  assert_string_equal(arenad_error(f->h), longest);
  /* A failure before any request (a bad argument) is the error too. */
  assert_int_equal(arenad_alloc(f->h, "", 16, 0, 0, &off, NULL), AR_EINVAL);
  assert_string_not_equal(arenad_error(f->h), longest);
  assert_true(strlen(arenad_error(f->h)) > 0);
}

static void test_alloc_free(void **state) {
  fixture_t *f = *state;
  uint64_t offs[3] = {16, 4112, 8208};
  send_alloc_reply(f->srv, 1, offs, 3);

  uint64_t got[3];
  assert_arenad_ok(
      f->h, arenad_alloc_n(f->h, "a", 100, 64, 3, ARENAD_ALLOC_DETACHED, got));
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
  assert_string_equal(arenad_error(f->h),
                      "offset 4112 belongs to connection 7");
  expect_request(f->srv, 2, ARENAD__REQUEST__BODY_FREE);

  /* An alloc reply with fewer offsets than blocks asked for. */
  send_alloc_reply(f->srv, 3, offs, 2);
  assert_int_equal(arenad_alloc_n(f->h, "a", 100, 0, 3, 0, got), AR_EPROTO);
}

/* A transfer: the request names the arena, the offset and the token; the
 * reply's target connection and reference count reach the caller, each in
 * its own field. */
static void test_transfer(void **state) {
  fixture_t *f = *state;
  Arenad__TransferReply body = ARENAD__TRANSFER_REPLY__INIT;
  body.target_connection_id = 77;
  body.refcount = 3;
  Arenad__Response r = ARENAD__RESPONSE__INIT;
  r.id = 1;
  r.body_case = ARENAD__RESPONSE__BODY_TRANSFER;
  r.transfer = &body;
  send_reply(f->srv, &r);

  arenad_transfer_t tr;
  assert_arenad_ok(f->h, arenad_transfer(f->h, "a", 4112, 0xfeedULL, &tr));
  assert_int_equal(tr.target_connection_id, 77);
  assert_int_equal(tr.refcount, 3);
  Arenad__Request *req = read_request(f->srv);
  assert_int_equal(req->body_case, ARENAD__REQUEST__BODY_TRANSFER);
  assert_string_equal(req->transfer->arena, "a");
  assert_int_equal(req->transfer->offset, 4112);
  assert_int_equal(req->transfer->target_token, 0xfeedULL);
  arenad__request__free_unpacked(req, NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
      T(test_hello),
      T(test_hello_clamps_the_limits),
      T(test_hello_raises_the_limit_with_bytes_buffered),
      T(test_request_over_the_limit),
      T(test_version_mismatch),
      T(test_error_status),
      T(test_alloc_free),
      T(test_transfer),
      T(test_version_mismatch_no_body),
#undef T
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
