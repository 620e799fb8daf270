/*
 * test_daemon_turns.c: one connection's long requests do not hold the
 * others back. A client pipelines many checks of an arena with 32Ki
 * blocks (each check walks them all) on a daemon whose turn_budget_us is
 * 1 us, so every check ends its connection's turn. Before the last check
 * is answered, another connection is served: its stats show checks still
 * to come, and turns_yielded counts one yield per request that had
 * another waiting behind it. The pipelined client still gets every reply, in
 * order, also when a shutdown begins while it waits for its turn. With no
 * budget (turn_budget_us = 0) the same pipeline never yields.
 */
#include "itest.h"

#include <signal.h>
#include <stdlib.h>

#define BLOCKS_PER_ALLOC 4096
#define ALLOCS 8 /* 32Ki blocks of 32 bytes */
#define CHECKS 40

/* The shutdown's deadline is far: under valgrind on a loaded machine the
 * checks left at a SIGTERM take longer than the default 5 s. */
static const char config_short[] = "[daemon]\n"
                                   "turn_budget_us = 1\n"
                                   "shutdown_timeout_ms = 600000\n"
                                   "max_blocks_per_request = 4096\n"
                                   "[arena a]\n"
                                   "size = 4M\n";

static const char config_none[] = "[daemon]\n"
                                  "turn_budget_us = 0\n"
                                  "max_blocks_per_request = 4096\n"
                                  "[arena a]\n"
                                  "size = 4M\n";

/* Fills arena "a" with small blocks on a new connection, which it returns
 * (the blocks are its own). */
static it_conn_t *filled(const it_daemon_t *d) {
  it_conn_t *c = it_connect(d->sock);
  it_hello_ok(c);
  for (int i = 0; i < ALLOCS; i++) {
    Arenad__Response *r =
        it_call(c, it_req_alloc("a", 16, 0, BLOCKS_PER_ALLOC, false), NULL);
    it_assert_status(r, ARENAD__STATUS__STATUS_OK);
    assert_int_equal(r->alloc->n_offsets, BLOCKS_PER_ALLOC);
    it_resp_free(r);
  }
  return c;
}

/* Sends CHECKS checks of "a" on c in one write, ids 1000, 1001, ... */
static void send_checks(it_conn_t *c) {
  uint8_t *buf = NULL;
  size_t len = 0;
  for (int i = 0; i < CHECKS; i++) {
    Arenad__Request *q = it_req_check("a");
    it_frame_append_id(&buf, &len, q, 1000 + (uint64_t)i);
  }
  it_send_raw(c, buf, len);
  free(buf);
}

/* Receives the reply of check number i: OK, the arena sound. */
static void recv_check(it_conn_t *c, int i) {
  Arenad__Response *r =
      it_recv_reply(c, 1000 + (uint64_t)i, ARENAD__STATUS__STATUS_OK);
  assert_true(r->check->ok);
  it_resp_free(r);
}

/* Pipelines the CHECKS checks on heavy and two stats requests on other
 * while the daemon is stopped, so that it finds both connections ready
 * when it resumes, whichever it serves first, however late this process
 * runs. A connection answers one request a turn: other's second stats
 * comes after at least one check and shows the checks waiting for their
 * turns: fewer than CHECKS run since `checks`, and yields since `yields`.
 * Without turns heavy's first turn would run every check, or other's
 * answer both its requests at once. (Sending the stats once the first
 * check was answered raced: a test process that ran 20 ms late found all
 * 40 done.) */
static void start_checks_watched(const it_daemon_t *d, it_conn_t *heavy,
                                 it_conn_t *other, uint64_t checks,
                                 uint64_t yields) {
  it_daemon_signal(d, SIGSTOP);
  send_checks(heavy);
  uint8_t *buf = NULL;
  size_t len = 0;
  it_frame_append_id(&buf, &len, it_req_stats(), 1);
  it_frame_append_id(&buf, &len, it_req_stats(), 2);
  it_send_raw(other, buf, len);
  free(buf);
  it_daemon_signal(d, SIGCONT);
  it_resp_free(it_recv_reply(other, 1, ARENAD__STATUS__STATUS_OK));
  Arenad__Response *r = it_recv_reply(other, 2, ARENAD__STATUS__STATUS_OK);
  assert_true(r->stats->requests->check - checks >= 1);
  assert_true(r->stats->requests->check - checks < CHECKS);
  assert_true(r->stats->turns_yielded > yields);
  it_resp_free(r);
}

static void test_long_requests_yield(void **state) {
  (void)state;
  it_daemon_t d = {0};
  assert_int_equal(it_daemon_start(&d, config_short, NULL), 0);
  it_conn_t *heavy = filled(&d);
  it_conn_t *other = it_connect(d.sock);
  it_hello_ok(other);
  uint64_t checks = it_stat(other, "requests.check");
  uint64_t yields = it_stat(other, "turns_yielded");

  start_checks_watched(&d, heavy, other, checks, yields);
  for (int i = 0; i < CHECKS; i++)
    recv_check(heavy, i);
  assert_int_equal(it_stat(other, "requests.check") - checks, CHECKS);
  /* The checks came in one read: each but the last had one behind it,
   * and so had other's first stats. */
  assert_int_equal(it_stat(other, "turns_yielded") - yields, CHECKS);

  it_close(heavy);
  it_close(other);
  assert_int_equal(it_daemon_stop(&d, SIGTERM), 0);
  it_daemon_cleanup(&d);
}

/* A shutdown while a connection waits for its turn: what it had sent is
 * answered, turn by turn, before the daemon exits cleanly. */
static void test_shutdown_answers_the_waiting(void **state) {
  (void)state;
  it_daemon_t d = {0};
  assert_int_equal(it_daemon_start(&d, config_short, NULL), 0);
  it_conn_t *heavy = filled(&d);
  it_conn_t *other = it_connect(d.sock);
  it_hello_ok(other);
  start_checks_watched(&d, heavy, other, 0, 0); /* a fresh daemon */
  it_close(other);
  assert_int_equal(kill(d.pid, SIGTERM), 0);
  for (int i = 0; i < CHECKS; i++)
    recv_check(heavy, i);
  assert_int_equal(it_expect_eof(heavy), 0);
  it_close(heavy);
  assert_int_equal(it_daemon_stop(&d, 0), 0);
  it_daemon_cleanup(&d);
}

static void test_no_budget_never_yields(void **state) {
  (void)state;
  it_daemon_t d = {0};
  assert_int_equal(it_daemon_start(&d, config_none, NULL), 0);
  it_conn_t *heavy = filled(&d);
  send_checks(heavy);
  for (int i = 0; i < CHECKS; i++)
    recv_check(heavy, i);
  assert_int_equal(it_stat(heavy, "requests.check"), CHECKS);
  assert_int_equal(it_stat(heavy, "turns_yielded"), 0);
  it_close(heavy);
  assert_int_equal(it_daemon_stop(&d, SIGTERM), 0);
  it_daemon_cleanup(&d);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_long_requests_yield),
      cmocka_unit_test(test_shutdown_answers_the_waiting),
      cmocka_unit_test(test_no_budget_never_yields),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
