/*
 * test_daemon_badinput_peers.c: peers that go or never read. On the
 * group's daemon, while a bystander connection holds blocks and carries
 * on a conversation (badinput_harness.h): a peer that goes with a reply
 * unread (its close logged as a reset), and a client that sends and never
 * reads (paused once its unsent replies pass the bound, its blocks
 * reclaimed when it goes); afterwards the daemon still answers, the
 * bystander is unaffected, and every arena passes its check. On daemons
 * of their own: a client that stops reading is closed once its unsent
 * replies have waited send_timeout_ms, and one whose last frame was bad is
 * counted for that protocol error alone.
 */
#include "badinput_harness.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>

/* A peer that goes with a reply unread resets the connection: the daemon
 * logs its close as a reset, not as an unexplained error. */
static void test_gone_with_reply_unread(void **state) {
  (void)state;
  it_conn_t *c = it_connect(it_group.sock);
  Arenad__Response *r = it_call(c, it_req_hello(1, "leaver"), NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_OK);
  char conn[40];
  snprintf(conn, sizeof conn, " conn=%llu ",
           (unsigned long long)r->hello->connection_id);
  it_resp_free(r);
  it_send(c, it_req_ping());
  struct pollfd p = {.fd = c->fd, .events = POLLIN};
  assert_int_equal(poll(&p, 1, 10000), 1); /* the reply is there, unread */
  it_close(c);
  all_is_well(); /* round trips after the close: its line is written */
  assert_true(
      it_log_line(&it_group, (const char *const[]){" close ", conn,
                                                   " reason=reset ", NULL}));
}

/* Asks c for `pages` pages of arena one's blocks (of which c holds 100):
 * about 2.5 KB of replies each, which c will not read. */
static void send_pages_unread(it_conn_t *c, int pages) {
  uint8_t *buf = NULL;
  size_t len = 0;
  for (int i = 0; i < pages; i++) {
    Arenad__Request *q =
        it_req_inspect("one", ARENAD__INSPECT_WHAT__INSPECT_BLOCKS, 0, 200);
    it_frame_append_id(&buf, &len, q, 1 + (uint64_t)i);
  }
  it_send_raw(c, buf, len);
  free(buf);
}

/* A client that sends and never reads: the daemon stops reading it once
 * its unsent replies pass the bound (and counts that), its memory for the
 * client stays bounded, the others go on; when it goes, its blocks come
 * back. */
static void test_never_reads(void **state) {
  (void)state;
  it_conn_t *c = it_connect(it_group.sock);
  Arenad__Response *r =
      it_call(c, it_req_alloc("one", 16, 0, 100, false), NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_OK);
  it_resp_free(r);
  bystander_end();
  r = it_call(bystander, it_req_stats(), NULL);
  uint64_t throttled = r->stats->output_throttled;
  it_resp_free(r);

  send_pages_unread(c, 1000); /* 2.5 MB: past output_pause_bytes (1M) */

  /* Until the daemon has paused it (each look is a round trip). */
  bool paused = false;
  for (int i = 0; i < 1000 && !paused; i++) {
    r = it_call(bystander, it_req_stats(), NULL);
    paused = r->stats->output_throttled > throttled;
    it_resp_free(r);
  }
  assert_true(paused);
  all_is_well();
  bystander_end();

  uint64_t before = it_live_blocks(bystander, "one");
  it_close(c);
  /* Until the daemon has seen it go and reclaimed its 100 blocks. */
  uint64_t now = before;
  for (int i = 0; i < 1000 && now + 100 != before; i++)
    now = it_live_blocks(bystander, "one");
  assert_int_equal(now + 100, before);
  all_is_well();
}

/* The bytes a fresh Unix stream socket takes, in writes of `chunk`
 * bytes, before a write would block: what the daemon's end of a client's
 * socket holds of its replies, which the daemon writes in batches, when
 * the client does not read (with Debian's defaults about 230 KB in
 * writes of 64 KiB; the kernel's overhead per write makes it less in
 * small writes). */
static size_t socket_holds(size_t chunk) {
  int sv[2];
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  assert_int_equal(fcntl(sv[0], F_SETFL, O_NONBLOCK), 0);
  char *buf = calloc(1, chunk);
  assert_non_null(buf);
  size_t total = 0;
  ssize_t n;
  while ((n = write(sv[0], buf, chunk)) > 0)
    total += (size_t)n;
  assert_true(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
  free(buf);
  close(sv[0]);
  close(sv[1]);
  return total;
}

/* Starts a daemon whose connections time out after 1 s of unsent
 * replies (and pause only past 4 MiB of them), and a client c that
 * holds 100 blocks of its arena and has asked for pages it will not
 * read; `tail` (len bytes, or none) follows them on the socket. Waits
 * until the daemon's end of c's socket closes (seen without reading),
 * then checks that c's blocks came back. The daemon must have answered
 * every page and read the tail before the timeout, or the timeout closes
 * c first; its clock starts when the socket is full, so c asks for what
 * fills the socket (about 90 pages) and 60 more, a few ms of work after
 * the clock starts, some tens under the sanitizers on a busy machine.
 * (1000 pages, 900 after the clock, outlasted a 200 ms timeout there,
 * and the tail went unread.) */
static void stop_reading(it_daemon_t *d, it_conn_t **observer, it_conn_t **c,
                         const uint8_t *tail, size_t len) {
  assert_int_equal(it_daemon_start(d,
                                   "[daemon]\nsend_timeout_ms = 1000\n"
                                   "output_pause_bytes = 4M\n"
                                   "output_limit_bytes = 8M\n"
                                   "[arena one]\nsize = 1M\n",
                                   NULL),
                   0);
  *observer = it_connect(d->sock);
  *c = it_connect(d->sock);
  it_hello_ok(*c);
  Arenad__Response *r =
      it_call(*c, it_req_alloc("one", 16, 0, 100, false), NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_OK);
  it_resp_free(r);
  send_pages_unread(*c, (int)(socket_holds(64 * 1024) / 2500) + 60);
  if (len > 0)
    it_send_raw(*c, tail, len);

  struct pollfd p = {(*c)->fd, POLLRDHUP, 0};
  assert_int_equal(poll(&p, 1, IT_TIMEOUT_S * 1000), 1);
  assert_true(p.revents & POLLRDHUP);
  it_barrier(*observer);
  assert_int_equal(it_live_blocks(*observer, "one"), 0);
}

static void stop_reading_end(it_daemon_t *d, it_conn_t *observer,
                             it_conn_t *c) {
  it_close(c);
  it_close(observer);
  assert_int_equal(it_daemon_stop(d, SIGTERM), 0);
  it_daemon_cleanup(d);
}

/* A client that stops reading is closed once its unsent replies have
 * waited send_timeout_ms with none taken (no reply: it reads none),
 * counted, logged, and its blocks reclaimed. */
static void test_send_timeout(void **state) {
  (void)state;
  it_daemon_t d = {0};
  it_conn_t *observer, *c;
  stop_reading(&d, &observer, &c, NULL, 0);
  assert_int_equal(it_stat(observer, "connections_closed_send_timeout"), 1);
  assert_int_equal(it_stat(observer, "connections_closed_protocol"), 0);
  assert_true(it_log_line(
      &d, (const char *const[]){"close", "reason=send-timeout", NULL}));
  stop_reading_end(&d, observer, c);
}

/* The same client ends its requests with a bad frame: its connection was
 * to close after that error's reply, which waits behind the rest, so it
 * closes when the send timeout passes; it is counted (and logged) once,
 * for the protocol error that decided it. */
static void test_send_timeout_after_protocol_error(void **state) {
  (void)state;
  static const uint8_t bad_type[] = {4, 0x0f, 0x00, 0x00, 0x00};
  it_daemon_t d = {0};
  it_conn_t *observer, *c;
  stop_reading(&d, &observer, &c, bad_type, sizeof(bad_type));
  assert_int_equal(it_stat(observer, "connections_closed_protocol"), 1);
  assert_int_equal(it_stat(observer, "connections_closed_send_timeout"), 0);
  assert_int_equal(it_stat(observer, "frames_unparsable"), 1);
  assert_true(
      it_log_line(&d, (const char *const[]){"close", "reason=protocol", NULL}));
  assert_false(it_log_line(
      &d, (const char *const[]){"close", "reason=send-timeout", NULL}));
  stop_reading_end(&d, observer, c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_gone_with_reply_unread),
      cmocka_unit_test(test_never_reads),
      cmocka_unit_test(test_send_timeout),
      cmocka_unit_test(test_send_timeout_after_protocol_error),
      cmocka_unit_test(test_exits_cleanly),
  };
  it_group_config = config;
  return cmocka_run_group_tests(tests, setup, teardown);
}
