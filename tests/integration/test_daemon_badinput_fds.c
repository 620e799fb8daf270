/*
 * test_daemon_badinput_fds.c: a daemon short of file descriptors, each
 * case on a daemon of its own (no group daemon, no bystander). Out of
 * descriptors (RLIMIT_NOFILE 32, filled with connections), an attach or a
 * create_arena is refused as a limit (LIMIT_EXCEEDED, counted in
 * fds_exhausted), with nothing attached or made, and goes through once
 * descriptors are free. With its descriptors in flight to a peer that does
 * not read them (an unprivileged daemon's RLIMIT_NOFILE, ETOOMANYREFS),
 * another client's attach waits, counted in fds_deferred, instead of
 * losing its connection, also past send_timeout_ms.
 */
#include "itest.h"

#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

/* Sends a ping on c and waits up to 300 ms: whether the daemon answered
 * (it has not accepted c when it is out of descriptors). */
static bool answers(it_conn_t *c) {
  uint8_t *frame = NULL;
  size_t len = 0;
  it_frame_append(&frame, &len, it_req_ping());
  it_send_raw(c, frame, len);
  free(frame);
  struct pollfd p = {c->fd, POLLIN, 0};
  if (poll(&p, 1, 300) != 1)
    return false;
  it_resp_free(it_recv(c, NULL));
  return true;
}

/* Starts daemon d with RLIMIT_NOFILE 32 and one arena, "one" (64K), and
 * fills it with connections until it has no descriptor left: c[0] (asked
 * for the daemon's counters) and others, the last waiting in the backlog.
 * Returns how many are in c (at most 40), each for the caller to close. */
static int start_out_of_descriptors(it_daemon_t *d, it_conn_t **c) {
  setenv("IT_DAEMON_WRAPPER", "prlimit --nofile=32:32", 1);
  int rc = it_daemon_start(d, "[arena one]\nsize = 64K\n", NULL);
  unsetenv("IT_DAEMON_WRAPPER");
  assert_int_equal(rc, 0);
  /* The first connection finds descriptors to spare: its answer is
   * waited for however slow the daemon is, since the loop below asks the
   * daemon through it (and would read a late ping's reply instead). */
  c[0] = it_connect(d->sock);
  it_resp_free(it_call(c[0], it_req_ping(), NULL));
  int n = 1;
  while (n < 40) {
    c[n] = it_connect(d->sock);
    if (answers(c[n++]))
      continue;
    /* No answer yet: waiting in the backlog once an accept has failed for
     * want of a descriptor, else only slow (a loaded machine). */
    Arenad__Response *s = it_call(c[0], it_req_stats(), NULL);
    bool full = s->stats->connections_accept_failed > 0;
    it_resp_free(s);
    if (full)
      break;
    it_resp_free(it_recv(c[n - 1], NULL));
  }
  assert_true(n > 2 && n < 40);
  return n;
}

/* Attaches arena "one" on c, which must succeed with its descriptor
 * (closed here): the daemon had one to spare. */
static void attach_gets_fd(it_conn_t *c) {
  int fd = -1;
  Arenad__Response *r = it_call(c, it_req_attach("one", false), &fd);
  it_assert_status(r, ARENAD__STATUS__STATUS_OK);
  assert_true(fd >= 0);
  close(fd);
  it_resp_free(r);
}

/* A daemon out of descriptors (RLIMIT_NOFILE 32, filled with connections)
 * refuses an attach with LIMIT_EXCEEDED, counted in fds_exhausted, which
 * attaches nothing (the arena's attached_connections stays 0), and
 * attaches again once descriptors are free. */
static void test_out_of_descriptors(void **state) {
  (void)state;
  it_daemon_t d = {0};
  it_conn_t *c[40];
  int n = start_out_of_descriptors(&d, c);
  Arenad__Response *r = it_call(c[0], it_req_attach("one", false), NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_LIMIT_EXCEEDED);
  assert_non_null(strstr(r->message, "no file descriptor to spare"));
  it_resp_free(r);
  r = it_call(c[0], it_req_stats(), NULL);
  assert_int_equal(r->stats->fds_exhausted, 1);
  it_resp_free(r);
  /* A refused attach attached nothing: the arena counts no connection. */
  r = it_call(
      c[0], it_req_inspect("one", ARENAD__INSPECT_WHAT__INSPECT_SUMMARY, 0, 0),
      NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_OK);
  assert_int_equal(r->inspect->summary->attached_connections, 0);
  it_resp_free(r);

  /* Two connections go: the waiting one is taken, one descriptor stays. */
  it_close(c[1]);
  it_close(c[2]);
  r = it_recv(c[n - 1], NULL); /* its ping, answered once accepted */
  assert_non_null(r);
  it_resp_free(r);
  attach_gets_fd(c[0]);
  r = it_call(
      c[0], it_req_inspect("one", ARENAD__INSPECT_WHAT__INSPECT_SUMMARY, 0, 0),
      NULL);
  assert_int_equal(r->inspect->summary->attached_connections, 1);
  it_resp_free(r);
  for (int i = 0; i < n; i++)
    if (i != 1 && i != 2)
      it_close(c[i]);
  assert_int_equal(it_daemon_stop(&d, SIGTERM), 0);
  it_daemon_cleanup(&d);
}

/* Waits (up to 10 s) until the daemon c talks to has closed `want`
 * connections in all: a closed socket's descriptor is free only then. */
static void wait_closed(it_conn_t *c, uint64_t want) {
  for (int i = 0; i < 1000 && it_stat(c, "connections_closed") < want; i++)
    poll(NULL, 0, 10);
  assert_int_equal(it_stat(c, "connections_closed"), want);
}

/* Asks c's daemon, out of descriptors, to create arena "more": refused
 * with LIMIT_EXCEEDED, for want of a descriptor at `step` (the words the
 * message names it by). */
static void create_out_of_descriptors(it_conn_t *c, const char *step) {
  Arenad__Response *r = it_call(
      c, it_req_create("more", 65536, ARENAD__POLICY__POLICY_FIRST, NULL, 0, 0),
      NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_LIMIT_EXCEEDED);
  assert_non_null(strstr(r->message, "cannot create arena 'more'"));
  assert_non_null(strstr(r->message, step));
  assert_non_null(strstr(r->message, "no file descriptor to spare"));
  it_resp_free(r);
}

/* A daemon out of descriptors refuses a create_arena as it refuses an
 * attach: LIMIT_EXCEEDED, counted in fds_exhausted, with no arena made.
 * With none free memfd_create fails; with one free the segment's
 * read-only descriptor cannot be opened, and the memfd is let go again
 * (an attach takes that descriptor after). With two the arena is made. */
static void test_create_out_of_descriptors(void **state) {
  (void)state;
  it_daemon_t d = {0};
  it_conn_t *c[40];
  int n = start_out_of_descriptors(&d, c);
  create_out_of_descriptors(c[0], "memfd_create");
  assert_int_equal(it_stat(c[0], "fds_exhausted"), 1);
  assert_int_equal(it_stat(c[0], "arenas_created"), 0);
  assert_int_equal(it_stat(c[0], "arenas_refused_limit"), 0);

  /* Two connections go: the waiting one is taken, one descriptor stays,
   * which memfd_create takes, and then the read-only open finds none. */
  assert_true(n > 4);
  uint64_t closed = it_stat(c[0], "connections_closed");
  it_close(c[1]);
  it_close(c[2]);
  wait_closed(c[0], closed + 2);
  Arenad__Response *r =
      it_recv(c[n - 1], NULL); /* its ping, answered once accepted */
  assert_non_null(r);
  it_resp_free(r);
  create_out_of_descriptors(c[0], "read-only");
  assert_int_equal(it_stat(c[0], "fds_exhausted"), 2);
  assert_int_equal(it_stat(c[0], "arenas_created"), 0);
  assert_int_equal(it_status(c[0], it_req_attach("more", false)),
                   ARENAD__STATUS__STATUS_NOT_FOUND);
  /* The memfd went: its descriptor is free for an attach. */
  attach_gets_fd(c[0]);

  /* One more connection goes: two descriptors, and the arena is made. */
  it_close(c[3]);
  wait_closed(c[0], closed + 3);
  r = it_call(
      c[0],
      it_req_create("more", 65536, ARENAD__POLICY__POLICY_FIRST, NULL, 0, 0),
      NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_OK);
  it_resp_free(r);
  assert_int_equal(it_stat(c[0], "fds_exhausted"), 2);
  assert_int_equal(it_stat(c[0], "arenas_created"), 1);
  it_check_ok(c[0], "more");
  for (int i = 0; i < n; i++)
    if (i < 1 || i > 3)
      it_close(c[i]);
  assert_int_equal(it_daemon_stop(&d, SIGTERM), 0);
  it_daemon_cleanup(&d);
}

/* Descriptors the daemon sent and its peers have not received stay in
 * flight, and the kernel counts them against the daemon's RLIMIT_NOFILE
 * (an unprivileged daemon's: root's are not limited), refusing more with
 * ETOOMANYREFS. A hoarder that pipelines attaches and reads nothing fills
 * that; another client's attach then waits (fds_deferred, once a reply)
 * instead of losing its connection and blocks, also past send_timeout_ms
 * (it has read all it was sent: it waits on the daemon, while the hoarder,
 * which reads nothing, is closed for it), and goes through once the
 * hoarder's process lets its descriptors go. */
static void test_descriptors_in_flight(void **state) {
  (void)state;
  if (getuid() != 0)
    skip(); /* the daemon must run as another user */
  it_daemon_t d;
  it_daemon_prepare(&d);
  assert_int_equal(chown(d.dir, 65534, 65534), 0);
  setenv("IT_DAEMON_WRAPPER",
         "prlimit --nofile=64:64 setpriv --reuid=65534 --regid=65534 "
         "--clear-groups",
         1);
  int rc = it_daemon_start(
      &d, "[daemon]\nsend_timeout_ms = 300\n[arena one]\nsize = 64K\n", NULL);
  unsetenv("IT_DAEMON_WRAPPER");
  assert_int_equal(rc, 0);
  it_conn_t *victim = it_connect(d.sock);
  it_conn_t *observer = it_connect(d.sock);
  it_hello_ok(victim);
  uint64_t off = it_alloc_ok(victim, "one", 100);

  it_conn_t *hoarder = it_connect(d.sock);
  uint8_t *buf = NULL;
  size_t len = 0;
  for (int i = 0; i < 400; i++) {
    Arenad__Request *q = it_req_attach("one", true);
    it_frame_append_id(&buf, &len, q, 1 + (uint64_t)i);
  }
  it_send_raw(hoarder, buf, len);
  free(buf);
  uint64_t deferred = 0;
  for (int i = 0; i < 1000 && deferred == 0; i++)
    deferred = it_stat(observer, "fds_deferred");
  assert_int_equal(deferred, 1); /* the hoarder's next one, counted once */

  Arenad__Request *q = it_req_attach("one", false);
  q->id = 4242;
  it_send(victim, q);
  for (int i = 0; i < 1000 && deferred == 1; i++) {
    Arenad__Response *r = it_call(observer, it_req_stats(), NULL);
    deferred = r->stats->fds_deferred;
    assert_int_equal(r->stats->connections_closed, 0);
    it_resp_free(r);
  }
  assert_int_equal(deferred, 2);

  /* The daemon stopped past the send timeout, as one starved of the CPU
   * runs late: on waking, its sweep and its retry timer are both due,
   * and the victim, which has read all it was sent, must not be taken
   * for a peer that reads none, whichever runs first. That depends on
   * when the stop comes: the timers run every 75 ms (the sweep: a
   * quarter of the timeout) and 50 ms (the retry), both just after a
   * wake, so the stops come 0, 30 and 60 ms after one. */
  for (int i = 0; i < 3; i++) {
    usleep((useconds_t)i * 30 * 1000);
    it_daemon_signal(&d, SIGSTOP);
    usleep(400 * 1000);
    it_daemon_signal(&d, SIGCONT);
    it_barrier(observer); /* its timers have run */
  }

  /* Three send timeouts later: the hoarder was closed for not reading,
   * the victim kept. Its descriptors stay in flight in the hoarder's
   * socket, which this process still has open. */
  struct pollfd p = {victim->fd, POLLIN | POLLRDHUP, 0};
  assert_int_equal(poll(&p, 1, 900), 0);
  uint64_t timed_out = 0;
  for (int i = 0; i < 1000 && timed_out == 0; i++)
    timed_out = it_stat(observer, "connections_closed_send_timeout");
  assert_int_equal(timed_out, 1);
  assert_true(
      it_log_line(&d, (const char *const[]){"close", "conn=3 ",
                                            "reason=send-timeout", NULL}));

  it_close(hoarder); /* its descriptors in flight go with its socket */
  int fd = -1;
  Arenad__Response *r = it_recv(victim, &fd);
  assert_non_null(r);
  assert_int_equal(r->id, 4242);
  it_assert_status(r, ARENAD__STATUS__STATUS_OK);
  assert_true(fd >= 0);
  close(fd);
  it_resp_free(r);
  assert_int_equal(it_live_blocks(victim, "one"), 1);
  it_free_ok(victim, "one", off);
  it_close(victim);
  it_close(observer);
  assert_int_equal(it_daemon_stop(&d, SIGTERM), 0);
  it_daemon_cleanup(&d);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_out_of_descriptors),
      cmocka_unit_test(test_create_out_of_descriptors),
      cmocka_unit_test(test_descriptors_in_flight),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
