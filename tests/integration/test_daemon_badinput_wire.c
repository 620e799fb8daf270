/*
 * test_daemon_badinput_wire.c: hostile and broken bytes on the wire. Each
 * case runs on a connection of its own to the group's daemon, while a
 * bystander connection holds blocks and carries on a conversation
 * (badinput_harness.h): a truncated frame (ended cleanly, or with a
 * reply left unread, which resets the connection), a declared length over
 * the limit, a malformed prefix, random bytes, a valid frame with garbage
 * inside. Each gets a clear error status or a clean disconnect, and a
 * frame sent one byte at a time is answered like any other; afterwards
 * the daemon still answers, the bystander (which has a reply unread and
 * half a request sent while each case runs) is unaffected, and every arena
 * passes its check. On daemons of their own: a frame left unfinished past
 * frame_timeout_ms (one reply, then the close), and a frame whose rest
 * comes while the daemon is busy for longer than frame_timeout_ms (no
 * stall).
 */
#include "badinput_harness.h"

#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "ar/frame.h"

/* Sends raw bytes on a fresh connection; expects exactly one Response with
 * id 0 and `status`, then the end of the stream. */
static void expect_protocol_error(const void *p, size_t n, int status) {
  it_conn_t *c = it_connect(it_group.sock);
  it_send_raw(c, p, n);
  Arenad__Response *r = it_recv(c, NULL);
  assert_non_null(r);
  assert_int_equal(r->id, 0);
  it_assert_status(r, status);
  assert_int_equal(r->body_case, ARENAD__RESPONSE__BODY__NOT_SET);
  assert_string_not_equal(r->message, "");
  it_resp_free(r);
  assert_int_equal(it_expect_eof(c), 0);
  it_close(c);
  all_is_well();
}

static void test_truncated_frame(void **state) {
  (void)state;
  bystander_end();
  uint64_t truncated = it_stat(bystander, "frames_truncated");
  bystander_begin();

  /* A prefix that promises 100 bytes, 10 of them, then the end. */
  uint8_t buf[11] = {100};
  memset(buf + 1, 0x08, 10);
  it_conn_t *c = it_connect(it_group.sock);
  it_send_raw(c, buf, sizeof(buf));
  shutdown(c->fd, SHUT_WR);
  assert_int_equal(it_expect_eof(c), 0); /* a clean disconnect */
  it_close(c);

  /* The same, the client staying: the daemon waits, then sees it go. */
  c = it_connect(it_group.sock);
  it_send_raw(c, buf, sizeof(buf));
  it_close(c);

  /* A ping and the cut frame in one write (so the daemon reads both at
   * once), the ping's reply left unread, then the end: the daemon finds
   * the connection reset (replies unread), the frame cut all the same. */
  c = it_connect(it_group.sock);
  uint8_t *both = NULL;
  size_t n = 0;
  it_frame_append(&both, &n, it_req_ping());
  both = realloc(both, n + sizeof(buf));
  assert_non_null(both);
  memcpy(both + n, buf, sizeof(buf));
  it_send_raw(c, both, n + sizeof(buf));
  free(both);
  struct pollfd p = {.fd = c->fd, .events = POLLIN};
  assert_int_equal(poll(&p, 1, IT_TIMEOUT_S * 1000), 1); /* the reply */
  it_close(c);
  all_is_well();
  /* All three counted, and logged as such. */
  bystander_end();
  it_barrier(bystander);
  assert_int_equal(it_stat(bystander, "frames_truncated") - truncated, 3);
  bystander_begin();
  assert_true(it_log_contains(&it_group, "reason=eof-mid-frame"));
  assert_true(it_log_contains(&it_group, "reason=reset"));
}

/* Sends the daemon at `sock` a frame begun and never finished, and expects
 * its one reply (id 0, LIMIT_EXCEEDED, naming frame_timeout_ms of `ms`) and
 * the end of the connection. */
static void expect_stalled_frame_refused(const char *sock, int ms) {
  uint8_t buf[11] = {100};
  memset(buf + 1, 0x08, 10);
  it_conn_t *c = it_connect(sock);
  it_send_raw(c, buf, sizeof(buf));
  Arenad__Response *r = it_recv(c, NULL);
  assert_non_null(r);
  assert_int_equal(r->id, 0);
  it_assert_status(r, ARENAD__STATUS__STATUS_LIMIT_EXCEEDED);
  char want[48];
  snprintf(want, sizeof want, "frame_timeout_ms (%d ms)", ms);
  assert_non_null(strstr(r->message, want));
  it_resp_free(r);
  assert_int_equal(it_expect_eof(c), 0);
  it_close(c);
}

/* A frame begun and left unfinished past frame_timeout_ms (300 ms, on a
 * daemon of its own: the group's bystander keeps a frame half sent) gets
 * one reply (id 0, LIMIT_EXCEEDED), is counted, and its connection closes;
 * a frame finished in two writes within the time is answered. */
static void test_stalled_frame(void **state) {
  (void)state;
  it_daemon_t d = {0};
  assert_int_equal(
      it_daemon_start(&d, "[daemon]\nframe_timeout_ms = 300\n", NULL), 0);
  expect_stalled_frame_refused(d.sock, 300);

  it_conn_t *c = it_connect(d.sock);
  uint8_t *frame = NULL;
  size_t len = 0;
  Arenad__Request *q = it_req_ping();
  it_frame_append_id(&frame, &len, q, 5);
  it_send_raw(c, frame, len / 2);
  usleep(100 * 1000);
  it_send_raw(c, frame + len / 2, len - len / 2);
  free(frame);
  Arenad__Response *r = it_recv(c, NULL);
  assert_non_null(r);
  assert_int_equal(r->id, 5);
  it_assert_status(r, ARENAD__STATUS__STATUS_OK);
  it_resp_free(r);
  r = it_call(c, it_req_stats(), NULL);
  assert_int_equal(r->stats->frames_timed_out, 1);
  it_resp_free(r);
  it_close(c);
  assert_int_equal(it_daemon_stop(&d, SIGTERM), 0);
  it_daemon_cleanup(&d);
}

/* The shortest timeouts are enforced too: with frame_timeout_ms = 2 the
 * daemon's sweep runs every 10 ms (a quarter of the timeout, at least
 * 10 ms), not never, and the stalled frame is refused and closed. */
static void test_stalled_frame_short_timeout(void **state) {
  (void)state;
  it_daemon_t d = {0};
  assert_int_equal(
      it_daemon_start(&d, "[daemon]\nframe_timeout_ms = 2\n", NULL), 0);
  expect_stalled_frame_refused(d.sock, 2);
  assert_int_equal(it_daemon_stop(&d, SIGTERM), 0);
  it_daemon_cleanup(&d);
}

/* A frame whose rest comes while the daemon's loop is busy with another
 * client's requests (checks of 256Ki blocks, pipelined, with no turns)
 * for longer than frame_timeout_ms is no stall: the rest waits in the
 * socket, and the sweep, which runs before the loop reads its sockets
 * again, must not close the connection for it. The daemon is stopped
 * while the checks are sent, so that it takes them alone; the rest
 * follows 200 ms later, the checks under way (a daemon that had not begun
 * them by then would read the rest with them: the test would show
 * nothing, but could not fail for it). How many checks make twice the
 * frame timeout is measured on one first: a fixed count took over the
 * receive timeout (30 s) in a sanitized build on a loaded machine, and
 * the group daemon's bystander, its frame cut for as long, was closed. */
static void test_frame_rest_while_busy(void **state) {
  (void)state;
  it_daemon_t d = {0};
  assert_int_equal(it_daemon_start(&d,
                                   "[daemon]\n"
                                   "frame_timeout_ms = 1500\n"
                                   "turn_budget_us = 0\n"
                                   "max_blocks_per_request = 4096\n"
                                   "[arena a]\n"
                                   "size = 16M\n",
                                   NULL),
                   0);
  it_conn_t *heavy = it_connect(d.sock);
  it_hello_ok(heavy);
  for (int i = 0; i < 64; i++) {
    Arenad__Response *r =
        it_call(heavy, it_req_alloc("a", 16, 0, 4096, false), NULL);
    it_assert_status(r, ARENAD__STATUS__STATUS_OK);
    it_resp_free(r);
  }
  double t0 = it_now_ms();
  it_check_ok(heavy, "a");
  double one = it_now_ms() - t0;
  int checks = one > 0.0 ? (int)(3000.0 / one) + 1 : 200;
  checks = checks < 2 ? 2 : checks > 200 ? 200 : checks;
  uint8_t *buf = NULL;
  size_t len = 0;
  for (int i = 0; i < checks; i++)
    it_frame_append_id(&buf, &len, it_req_check("a"), 100 + (uint64_t)i);

  it_conn_t *c = it_connect(d.sock);
  uint8_t *frame = NULL;
  size_t flen = 0;
  it_frame_append_id(&frame, &flen, it_req_ping(), 5);
  it_send_raw(c, frame, 1);
  it_barrier(heavy); /* the daemon has read c's first byte */
  it_daemon_signal(&d, SIGSTOP);
  it_send_raw(heavy, buf, len);
  it_daemon_signal(&d, SIGCONT);
  usleep(200 * 1000);
  it_send_raw(c, frame + 1, flen - 1);
  Arenad__Response *r = it_recv(c, NULL);
  assert_non_null(r);
  assert_int_equal(r->id, 5);
  it_assert_status(r, ARENAD__STATUS__STATUS_OK);
  it_resp_free(r);
  for (int i = 0; i < checks; i++)
    it_resp_free(
        it_recv_reply(heavy, 100 + (uint64_t)i, ARENAD__STATUS__STATUS_OK));
  assert_int_equal(it_stat(c, "frames_timed_out"), 0);
  free(frame);
  free(buf);
  it_close(c);
  it_close(heavy);
  assert_int_equal(it_daemon_stop(&d, SIGTERM), 0);
  it_daemon_cleanup(&d);
}

static void test_length_over_limit(void **state) {
  (void)state;
  uint8_t p[AR_FRAME_PREFIX_MAX];
  size_t n = ar_frame_encode(p, (uint64_t)64 * 1024 + 1);
  expect_protocol_error(p, n, ARENAD__STATUS__STATUS_LIMIT_EXCEEDED);
  n = ar_frame_encode(p, UINT64_MAX);
  expect_protocol_error(p, n, ARENAD__STATUS__STATUS_LIMIT_EXCEEDED);
}

static void test_malformed_prefix(void **state) {
  (void)state;
  static const uint8_t nonminimal[] = {0x80, 0x00};
  static const uint8_t eleven[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                   0xff, 0xff, 0xff, 0xff, 0x01};
  expect_protocol_error(nonminimal, sizeof(nonminimal),
                        ARENAD__STATUS__STATUS_INVALID_ARGUMENT);
  expect_protocol_error(eleven, sizeof(eleven),
                        ARENAD__STATUS__STATUS_INVALID_ARGUMENT);
}

static void test_garbage_protobuf(void **state) {
  (void)state;
  /* A whole frame whose body is not a Request: wire type 7 is invalid,
   * and a length-delimited field running past the end. */
  static const uint8_t bad_type[] = {4, 0x0f, 0x00, 0x00, 0x00};
  static const uint8_t overrun[] = {3, 0x82, 0x01, 0x7f};
  expect_protocol_error(bad_type, sizeof(bad_type),
                        ARENAD__STATUS__STATUS_INVALID_ARGUMENT);
  expect_protocol_error(overrun, sizeof(overrun),
                        ARENAD__STATUS__STATUS_INVALID_ARGUMENT);
}

/* Random bytes: whatever they frame as gets an answer or a disconnect. */
static void test_random_bytes(void **state) {
  (void)state;
  srand(12345);
  for (int round = 0; round < 20; round++) {
    uint8_t buf[4096];
    for (size_t i = 0; i < sizeof(buf); i++)
      buf[i] = (uint8_t)rand();
    it_conn_t *c = it_connect(it_group.sock);
    it_send_raw(c, buf, sizeof(buf));
    shutdown(c->fd, SHUT_WR);
    Arenad__Response *r;
    while ((r = it_recv(c, NULL)) != NULL) {
      assert_true(r->status >= 0 && r->status <= 8);
      it_resp_free(r);
    }
    it_close(c);
  }
  all_is_well();
}

/* A frame sent one byte per write is answered like any other. */
static void test_byte_by_byte(void **state) {
  (void)state;
  it_conn_t *c = it_connect(it_group.sock);
  uint8_t *buf = NULL;
  size_t len = 0;
  Arenad__Request *q = it_req_alloc("one", 4000, 256, 3, false);
  it_frame_append_id(&buf, &len, q, 77);
  for (size_t i = 0; i < len; i++)
    it_send_raw(c, buf + i, 1);
  free(buf);
  Arenad__Response *r = it_recv(c, NULL);
  assert_non_null(r);
  assert_int_equal(r->id, 77);
  it_assert_status(r, ARENAD__STATUS__STATUS_OK);
  assert_int_equal(r->alloc->n_offsets, 3);
  it_resp_free(r);
  it_close(c); /* its 3 blocks are reclaimed */
  all_is_well();
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_truncated_frame),
      cmocka_unit_test(test_stalled_frame),
      cmocka_unit_test(test_stalled_frame_short_timeout),
      cmocka_unit_test(test_frame_rest_while_busy),
      cmocka_unit_test(test_length_over_limit),
      cmocka_unit_test(test_malformed_prefix),
      cmocka_unit_test(test_garbage_protobuf),
      cmocka_unit_test(test_random_bytes),
      cmocka_unit_test(test_byte_by_byte),
      cmocka_unit_test(test_exits_cleanly),
  };
  it_group_config = config;
  return cmocka_run_group_tests(tests, setup, teardown);
}
