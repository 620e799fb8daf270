/*
 * test_server_conn_frames.c: frames into a connection without a socket
 * (server/conn.c, on the daemon of conn_harness.h, whose requests the test
 * writes and whose replies it takes out of the connection's output): many
 * requests in one buffer answered in order, a frame delivered byte by
 * byte, a connection that yields when its turn is spent (and none without
 * a budget); the three protocol errors (one reply with id 0, then nothing
 * more is read), also in frames the connection kept in its own input
 * buffer, decoded there (ad_conn_run) or read in behind a cut frame from a
 * socket pair (the buffer is left empty, not consumed twice), and a frame
 * that unpacks past the working-memory cap (refused as a limit); a version
 * mismatch, which closes the connection once its reply is out; and what a
 * close takes back: the connection's blocks (reclaimed), and its unsent
 * replies (no longer counted in flight).
 */
#include "conn_harness.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void test_pipelined_in_order(void **state) {
  fixture_t *f = *state;
  bytes_t b = {NULL, 0};
  add_ping(&b, 1);
  add_alloc(&b, 2, 100, 2);
  add_ping(&b, 3);
  assert_int_equal(ad_conn_input(f->c, b.p, b.n), b.n);
  Arenad__Response *r[3];
  assert_int_equal(take(f->c, r, 3), 3);
  for (int i = 0; i < 3; i++) {
    assert_int_equal(r[i]->id, (uint64_t)i + 1);
    assert_int_equal(r[i]->status, 0);
  }
  assert_int_equal(r[1]->body_case, ARENAD__RESPONSE__BODY_ALLOC);
  assert_int_equal(r[1]->alloc->n_offsets, 2);
  assert_int_equal(f->c->holder.nholds, 2);
  free_all(r, 3);
  assert_int_equal(f->d.stats.frames_in, 3);
  assert_int_equal(f->d.stats.requests[ARENAD__REQUEST__BODY_PING], 2);
  assert_int_equal(f->d.stats.requests_in_flight, 0);
  free(b.p);
}

/* A turn that began long ago is spent: the connection answers the frame
 * at hand, yields with the rest unread, decodes nothing until its next
 * turn, and then goes on in order. */
static void test_turn_spent_yields(void **state) {
  fixture_t *f = *state;
  bytes_t b = {NULL, 0};
  add_ping(&b, 1);
  size_t first = b.n;
  add_alloc(&b, 2, 100, 1);
  size_t second = b.n;
  add_ping(&b, 3);

  ad_conn_begin_turn(f->c, 1); /* uv_hrtime is far past 1 ns */
  assert_int_equal(ad_conn_input(f->c, b.p, b.n), first);
  assert_true(f->c->yielded);
  assert_false(ad_conn_can_decode(f->c));
  assert_int_equal(f->d.nyielded, 1);
  assert_int_equal(f->d.stats.turns_yielded, 1);
  assert_int_equal(ad_conn_input(f->c, b.p + first, b.n - first), 0);
  Arenad__Response *r[3];
  assert_int_equal(take(f->c, r, 3), 1);
  assert_int_equal(r[0]->id, 1);
  free_all(r, 1);

  /* The next turn is spent too: one more frame. */
  ad_conn_end_yield(f->c);
  assert_int_equal(f->d.nyielded, 0);
  ad_conn_begin_turn(f->c, 1);
  assert_int_equal(ad_conn_input(f->c, b.p + first, b.n - first),
                   second - first);
  assert_true(f->c->yielded);
  assert_int_equal(f->d.stats.turns_yielded, 2);

  /* A turn with its budget: the rest. The last frame does not yield, as
   * nothing waits after it. */
  ad_conn_end_yield(f->c);
  ad_conn_begin_turn(f->c, uv_hrtime());
  assert_int_equal(ad_conn_input(f->c, b.p + second, b.n - second),
                   b.n - second);
  assert_false(f->c->yielded);
  assert_int_equal(f->d.stats.turns_yielded, 2);
  assert_int_equal(take(f->c, r, 3), 2);
  assert_int_equal(r[0]->id, 2);
  assert_int_equal(r[0]->alloc->n_offsets, 1);
  assert_int_equal(r[1]->id, 3);
  free_all(r, 2);

  /* A close ends a yield. */
  ad_conn_begin_turn(f->c, 1);
  bytes_t two = {NULL, 0};
  add_ping(&two, 4);
  add_ping(&two, 5);
  assert_true(ad_conn_input(f->c, two.p, two.n) < two.n);
  assert_int_equal(f->d.nyielded, 1);
  ad_conn_close(f->c, "test");
  assert_false(f->c->yielded);
  assert_int_equal(f->d.nyielded, 0);
  ad_conn_free(f->c); /* never started: the test frees it */
  free(two.p);
  free(b.p);
}

/* turn_budget_us = 0 is no budget, and a connection no one began a turn
 * for (a test's) has none either. */
static void test_no_budget_no_yield(void **state) {
  fixture_t *f = *state;
  bytes_t b = {NULL, 0};
  add_ping(&b, 1);
  add_ping(&b, 2);
  assert_int_equal(ad_conn_input(f->c, b.p, b.n), b.n);
  f->cfg.turn_budget_us = 0;
  ad_conn_begin_turn(f->c, 1);
  assert_int_equal(ad_conn_input(f->c, b.p, b.n), b.n);
  assert_false(f->c->yielded);
  assert_int_equal(f->d.stats.turns_yielded, 0);
  Arenad__Response *r[4];
  assert_int_equal(take(f->c, r, 4), 4);
  free_all(r, 4);
  free(b.p);
}

static void test_byte_by_byte(void **state) {
  fixture_t *f = *state;
  bytes_t b = {NULL, 0};
  add_alloc(&b, 7, 64, 1);
  /* The caller keeps what was not used and offers it again with more. */
  for (size_t i = 1; i < b.n; i++)
    assert_int_equal(ad_conn_input(f->c, b.p, i), 0);
  assert_int_equal(ad_conn_input(f->c, b.p, b.n), b.n);
  Arenad__Response *r;
  assert_int_equal(take(f->c, &r, 1), 1);
  assert_int_equal(r->id, 7);
  assert_int_equal(r->status, 0);
  arenad__response__free_unpacked(r, NULL);
  free(b.p);
}

/* bytes after a good ping: one reply to the ping, one error reply with id
 * 0 and `status`, every byte used, nothing more decoded. */
static void protocol_error_says(fixture_t *f, const uint8_t *bad, size_t n,
                                int status, const char *says) {
  bytes_t b = {NULL, 0};
  add_ping(&b, 1);
  b.p = realloc(b.p, b.n + n);
  memcpy(b.p + b.n, bad, n);
  b.n += n;
  size_t good = b.n;
  add_ping(&b, 2); /* never answered */
  assert_int_equal(ad_conn_input(f->c, b.p, b.n), b.n);
  assert_true(f->c->close_after_reply);
  assert_false(ad_conn_can_decode(f->c));
  Arenad__Response *r[3];
  assert_int_equal(take(f->c, r, 3), 2);
  assert_int_equal(r[0]->id, 1);
  assert_int_equal(r[1]->id, 0);
  assert_int_equal(r[1]->status, status);
  assert_int_equal(r[1]->body_case, ARENAD__RESPONSE__BODY__NOT_SET);
  if (says != NULL && strstr(r[1]->message, says) == NULL)
    fail_msg("'%s' does not say '%s'", r[1]->message, says);
  free_all(r, 2);
  assert_int_equal(f->d.stats.connections_closed_protocol, 1);
  (void)good;
  free(b.p);
}

static void protocol_error(fixture_t *f, const uint8_t *bad, size_t n,
                           int status) {
  protocol_error_says(f, bad, n, status, NULL);
}

static void test_frame_over_limit(void **state) {
  fixture_t *f = *state;
  uint8_t p[AR_FRAME_PREFIX_MAX];
  size_t n = ar_frame_encode(p, 4097);
  /* The message says what was sent and what is allowed. */
  protocol_error_says(f, p, n, ARENAD__STATUS__STATUS_LIMIT_EXCEEDED,
                      "a frame of 4097 bytes is over the frame size limit, "
                      "max_frame_bytes (4096)");
  assert_int_equal(f->d.stats.frames_over_limit, 1);
}

static void test_malformed_prefix(void **state) {
  fixture_t *f = *state;
  static const uint8_t p[] = {0x80, 0x00};
  protocol_error(f, p, sizeof(p), ARENAD__STATUS__STATUS_INVALID_ARGUMENT);
  assert_int_equal(f->d.stats.frames_malformed, 1);
}

static void test_not_a_request(void **state) {
  fixture_t *f = *state;
  static const uint8_t p[] = {3, 0x0f, 0x01, 0x02};
  protocol_error(f, p, sizeof(p), ARENAD__STATUS__STATUS_INVALID_ARGUMENT);
  assert_int_equal(f->d.stats.frames_unparsable, 1);
}

/* A ping, a malformed prefix and a ping that is never answered. */
static void add_ping_bad_ping(bytes_t *b) {
  static const uint8_t bad[] = {0x80, 0x00};
  add_ping(b, 1);
  b->p = realloc(b->p, b->n + sizeof(bad));
  memcpy(b->p + b->n, bad, sizeof(bad));
  b->n += sizeof(bad);
  add_ping(b, 2);
}

/* The ping's reply and the protocol error's, in c's output. */
static void assert_ping_then_error(ad_conn_t *c) {
  Arenad__Response *r[3];
  assert_int_equal(take(c, r, 3), 2);
  assert_int_equal(r[0]->id, 1);
  assert_int_equal(r[1]->id, 0);
  assert_int_equal(r[1]->status, ARENAD__STATUS__STATUS_INVALID_ARGUMENT);
  free_all(r, 2);
}

/* A protocol error in frames the connection kept in its own input buffer
 * (held back by flow control or a yield): ad_conn_run answers them from
 * rbuf, and rbuf is dropped once, not twice (its head past its tail, its
 * length near SIZE_MAX). */
static void test_error_in_rbuf(void **state) {
  fixture_t *f = *state;
  bytes_t b = {NULL, 0};
  add_ping_bad_ping(&b);
  assert_int_equal(ar_buf_append(&f->c->rbuf, b.p, b.n), 0);
  ad_conn_run(f->c); /* fd -1: nothing is sent, nothing closes */
  assert_true(f->c->close_after_reply);
  assert_false(f->c->closing);
  assert_int_equal(ar_buf_len(&f->c->rbuf), 0);
  assert_ping_then_error(f->c);
  assert_int_equal(f->d.stats.frames_malformed, 1);
  free(b.p);
}

/* The same when the bytes are read from a socket after the beginning of a
 * cut frame (conn_io.c reads them into rbuf, behind it). The socket's
 * sending side is full, so that the replies stay and the connection stays
 * open to be looked at. */
static void test_error_read_into_rbuf(void **state) {
  fixture_t *f = *state;
  int sv[2];
  assert_int_equal(
      socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv),
      0);
  static const uint8_t fill[4096];
  while (send(sv[0], fill, sizeof(fill), MSG_DONTWAIT) > 0)
    ;
  assert_true(errno == EAGAIN || errno == EWOULDBLOCK);

  ad_conn_t *c = ad_conn_new(&f->d, sv[0], 43, 1000, 1000); /* owns sv[0] */
  assert_non_null(c);
  assert_int_equal(ad_conn_start(c), 0);
  bytes_t b = {NULL, 0};
  add_ping_bad_ping(&b);
  assert_int_equal(ar_buf_append(&c->rbuf, b.p, 1), 0); /* the cut frame */
  assert_int_equal(send(sv[1], b.p + 1, b.n - 1, 0), (ssize_t)(b.n - 1));
  uv_run(&f->d.loop, UV_RUN_NOWAIT); /* one read, and the answers */
  assert_true(c->close_after_reply);
  assert_false(c->closing);
  assert_int_equal(c->bytes_in, b.n - 1);
  assert_int_equal(ar_buf_len(&c->rbuf), 0);
  assert_ping_then_error(c);
  close(sv[1]);
  free(b.p); /* the fixture's teardown closes c */
}

/* The per-request working memory is capped (32 x max_frame_bytes, at
 * least 16 MiB); the tests lower the cap of their daemon so that a small
 * frame reaches it. A frame that unpacks into more than the cap (here a
 * ping followed by a thousand unknown fields) is refused as a limit, not
 * as garbage, and counted. */
static void test_unpack_over_scratch(void **state) {
  fixture_t *f = *state;
  f->d.scratch.max = 4096;
  uint8_t bad[AR_FRAME_PREFIX_MAX + 3000];
  uint8_t *body = bad + AR_FRAME_PREFIX_MAX;
  size_t n = 0;
  while (n + 3 <= 3000) { /* field 1000, varint 1: bytes c0 3e 01 */
    body[n++] = 0xc0;
    body[n++] = 0x3e;
    body[n++] = 0x01;
  }
  uint8_t prefix[AR_FRAME_PREFIX_MAX];
  size_t k = ar_frame_encode(prefix, n);
  memmove(bad + k, body, n);
  memcpy(bad, prefix, k);
  protocol_error(f, bad, k + n, ARENAD__STATUS__STATUS_LIMIT_EXCEEDED);
  assert_int_equal(f->d.stats.scratch_exhausted, 1);
  assert_int_equal(f->d.stats.frames_unparsable, 0);
}

static void test_wrong_version_closes(void **state) {
  fixture_t *f = *state;
  bytes_t b = {NULL, 0};
  Arenad__HelloRequest m = ARENAD__HELLO_REQUEST__INIT;
  Arenad__Request req = ARENAD__REQUEST__INIT;
  m.protocol_version = 2;
  m.client_name = (char *)"new\x01"
                          "client";
  req.body_case = ARENAD__REQUEST__BODY_HELLO;
  req.hello = &m;
  add(&b, &req, 1);
  add_ping(&b, 2);
  assert_int_equal(ad_conn_input(f->c, b.p, b.n), b.n);
  assert_true(f->c->close_after_reply);
  assert_string_equal(f->c->name, "new?client"); /* sanitised */
  Arenad__Response *r[2];
  assert_int_equal(take(f->c, r, 2), 1);
  assert_int_equal(r[0]->status, ARENAD__STATUS__STATUS_UNSUPPORTED_VERSION);
  assert_non_null(r[0]->hello);
  assert_int_equal(r[0]->hello->protocol_version, 1);
  free_all(r, 1);
  free(b.p);
}

static void test_close_reclaims(void **state) {
  fixture_t *f = *state;
  bytes_t b = {NULL, 0};
  add_alloc(&b, 1, 1000, 3);
  assert_int_equal(ad_conn_input(f->c, b.p, b.n), b.n);
  take(f->c, NULL, 0);
  assert_int_equal(ad_blocktab_count(&f->d.arenas[0]->table), 3);
  ad_conn_close(f->c, "test");
  assert_int_equal(ad_blocktab_count(&f->d.arenas[0]->table), 0);
  assert_int_equal(f->d.stats.reclaimed_blocks, 3);
  assert_int_equal(f->d.stats.reclaimed_connections, 1);
  assert_int_equal(f->d.stats.connections_open, 0);
  ar_check_report_t rep;
  assert_int_equal(ad_arena_check(f->d.arenas[0], &rep), 0);
  ad_conn_free(f->c);
  f->c = NULL;
  free(b.p);
}

/* A connection closed with its replies unsent takes them out of the
 * daemon's requests_in_flight. */
static void test_close_drops_in_flight(void **state) {
  fixture_t *f = *state;
  bytes_t b = {NULL, 0};
  for (int i = 1; i <= 3; i++)
    add_ping(&b, (uint64_t)i);
  assert_int_equal(ad_conn_input(f->c, b.p, b.n), b.n);
  assert_int_equal(f->d.stats.requests_in_flight, 3);
  ad_conn_close(f->c, "test");
  assert_int_equal(f->d.stats.requests_in_flight, 0);
  ad_conn_free(f->c);
  f->c = NULL;
  free(b.p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
      T(test_pipelined_in_order),   T(test_turn_spent_yields),
      T(test_no_budget_no_yield),   T(test_byte_by_byte),
      T(test_frame_over_limit),     T(test_malformed_prefix),
      T(test_not_a_request),        T(test_wrong_version_closes),
      T(test_close_reclaims),       T(test_close_drops_in_flight),
      T(test_unpack_over_scratch),  T(test_error_in_rbuf),
      T(test_error_read_into_rbuf),
#undef T
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
