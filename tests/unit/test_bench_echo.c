/*
 * test_bench_echo.c: the echo server that `arenactl bench` measures as its
 * floor (client/arenactl/bench_echo.c, compiled in): it echoes in a
 * thread and in a child process, and stopping it closes every connection
 * it took on, so that a bench run leaves no socket of its own behind
 * whatever order its hang-ups and its stop came in (a connection whose
 * hang-up the loop has not seen is one still open when it stops).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "arenactl.h"
#include "bench.h"
#include "open_fds.h"

/* arenactl's clock lives in main.c, which is not compiled in. */
double ar__ctl_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* Starts a server (in a thread, or in a child process), makes `nconn`
 * connections that each echo a few messages, then stops the server with
 * the connections still open on this side: each must then read the end
 * of its stream, the server's side closed. */
static void stop_closes_connections(bool process) {
  enum { nconn = 5 };
  int before = open_fds();
  assert_true(before >= 0);
  char err[256] = "";
  ar__echo_t *e = NULL;
  if (ar__echo_start(&e, process, err, sizeof err) < 0)
    fail_msg("ar__echo_start: %s", err);
  int fds[nconn];
  for (int i = 0; i < nconn; i++) {
    fds[i] = ar__echo_dial(e, err, sizeof err);
    if (fds[i] < 0)
      fail_msg("ar__echo_dial: %s", err);
    double samples[3];
    if (ar__echo_round_trips(fds[i], 48, 3, samples, err, sizeof err) < 0)
      fail_msg("ar__echo_round_trips: %s", err);
    for (int k = 0; k < 3; k++)
      assert_true(samples[k] > 0);
  }
  ar__echo_stop(e);
  for (int i = 0; i < nconn; i++) {
    char c;
    ssize_t r = recv(fds[i], &c, 1, MSG_DONTWAIT);
    if (r != 0)
      fail_msg("connection %d after the stop: recv %zd (%s), not the end", i, r,
               r < 0 ? strerror(errno) : "data");
    close(fds[i]);
  }
  assert_int_equal(open_fds(), before);
}

static void test_thread_stop_closes(void **state) {
  (void)state;
  stop_closes_connections(false);
}

static void test_process_stop_closes(void **state) {
  (void)state;
  stop_closes_connections(true);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_thread_stop_closes),
      cmocka_unit_test(test_process_stop_closes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
