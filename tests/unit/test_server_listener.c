/*
 * test_server_listener.c: accepting connections (server/listener.c) on a
 * real socket in a temporary directory, with the daemon's loop run by the
 * test. uv_poll_init is wrapped (-Wl,--wrap) so that the test can make
 * the registration of an accepted connection with the event loop fail, as
 * the kernel's limit on epoll watches (max_user_watches, ENOSPC) makes it
 * fail: the peer is hung up on, the daemon goes on, and the refusal is
 * counted in connections_accept_failed like every other connection that
 * could not be taken on. A connection accepted normally is not counted.
 * An error on the listening socket itself is counted too, and accepting
 * resumes after a pause. Out of descriptors, a waiting client is counted
 * once, not once each time the paused listener tries it again. At shutdown, a
 * client still in the backlog is accepted and its request answered before the
 * end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ar/frame.h"
#include "arenad.pb-c.h"
#include "daemon.h"
#include "listener.h"
#include "log.h"
#include "tmpdir.h"

/* The error the next uv_poll_init of a connection returns (0: the real
 * one runs). The listener's own socket always gets the real one. */
static int fail_next;
static int listen_fd = -1;

int __real_uv_poll_init(uv_loop_t *loop, uv_poll_t *handle, int fd);
int __wrap_uv_poll_init(uv_loop_t *loop, uv_poll_t *handle, int fd);
int __wrap_uv_poll_init(uv_loop_t *loop, uv_poll_t *handle, int fd) {
  if (fd != listen_fd && fail_next != 0) {
    int rc = fail_next;
    fail_next = 0;
    return rc;
  }
  return __real_uv_poll_init(loop, handle, fd);
}

typedef struct fixture_s {
  tmpdir_t *dir;
  ad_config_t cfg;
  ad_daemon_t d;
} fixture_t;

static int setup(void **state) {
  void *dir;
  if (tmpdir_make(&dir) < 0)
    return -1;
  fixture_t *f = calloc(1, sizeof(*f));
  f->dir = dir;
  char text[256], err[256];
  snprintf(text, sizeof(text),
           "[daemon]\nsocket = %s/s.sock\n[arena a]\nsize = 64K\n",
           f->dir->path);
  ad_log_set_level(AD_LOG_ERROR);
  ad_config_init(&f->cfg);
  FILE *in = fmemopen(text, strlen(text), "r");
  assert_int_equal(ad_config_load_stream(&f->cfg, in, "t", err, sizeof(err)),
                   0);
  fclose(in);
  assert_int_equal(ad_config_finish(&f->cfg, err, sizeof(err)), 0);
  assert_int_equal(ad_daemon_init(&f->d, &f->cfg, err, sizeof(err)), 0);
  if (ad_listener_open(&f->d, err, sizeof(err)) != 0)
    fail_msg("ad_listener_open: %s", err);
  listen_fd = f->d.listener.fd;
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture_t *f = *state;
  ad_daemon_fini(&f->d); /* closes the listener and every connection */
  ad_config_fini(&f->cfg);
  void *dir = f->dir;
  free(f);
  listen_fd = -1;
  fail_next = 0;
  return tmpdir_remove(&dir);
}

/* A client socket connected to the daemon's. */
static int connect_client(fixture_t *f) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  assert_true(fd >= 0);
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", f->cfg.socket);
  assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
  return fd;
}

/* Runs the daemon's loop until *counter passes `from` (at most 5 s). */
static void run_until(fixture_t *f, const uint64_t *counter, uint64_t from) {
  for (int i = 0; i < 500 && *counter == from; i++) {
    uv_run(&f->d.loop, UV_RUN_NOWAIT);
    if (*counter == from)
      nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
  }
  assert_true(*counter > from);
}

/* Whether the peer has hung up on fd: EOF within 5 s. */
static bool hung_up(int fd) {
  struct pollfd p = {fd, POLLIN, 0};
  if (poll(&p, 1, 5000) != 1)
    return false;
  char b;
  return recv(fd, &b, 1, MSG_DONTWAIT) == 0;
}

static void test_accept_counted(void **state) {
  fixture_t *f = *state;
  ad_stats_t *st = &f->d.stats;

  int ok = connect_client(f);
  run_until(f, &st->connections_accepted, 0);
  assert_int_equal(st->connections_open, 1);
  assert_int_equal(st->connections_accept_failed, 0);

  /* The loop cannot watch the next one: it is dropped, and counted. */
  fail_next = UV_ENOSPC;
  int refused = connect_client(f);
  run_until(f, &st->connections_closed, 0);
  assert_int_equal(fail_next, 0); /* the wrap ran for it */
  assert_int_equal(st->connections_accept_failed, 1);
  assert_int_equal(st->connections_open, 1);
  assert_true(hung_up(refused));
  close(refused);

  /* The daemon goes on accepting. */
  int again = connect_client(f);
  run_until(f, &st->connections_open, 1);
  assert_int_equal(st->connections_accept_failed, 1);
  close(ok);
  close(again);
}

/* An error on the listening socket, which libuv reports by stopping the
 * watch and calling back with a status (as it does for POLLERR): counted
 * in connections_accept_failed, and accepting resumes after a pause
 * instead of never again. */
static void test_listen_error_resumes(void **state) {
  fixture_t *f = *state;
  ad_stats_t *st = &f->d.stats;
  uv_poll_t *h = &f->d.listener.poll;
  uv_poll_stop(h);
  h->poll_cb(h, UV_EBADF, 0);
  assert_int_equal(st->connections_accept_failed, 1);
  int fd = connect_client(f);
  run_until(f, &st->connections_accepted, 0);
  assert_int_equal(st->connections_open, 1);
  close(fd);
}

/* A client that connected, and sent a request, before the shutdown but
 * was not accepted yet (it waits in the listening socket's backlog) is
 * accepted by the shutdown and drained like the others: its request is
 * answered, then the connection ends; closing the listening socket would
 * have dropped it unanswered. */
static void test_shutdown_takes_backlog(void **state) {
  fixture_t *f = *state;
  ad_stats_t *st = &f->d.stats;
  int fd = connect_client(f);
  Arenad__PingRequest ping = ARENAD__PING_REQUEST__INIT;
  Arenad__Request req = ARENAD__REQUEST__INIT;
  req.id = 7;
  req.body_case = ARENAD__REQUEST__BODY_PING;
  req.ping = &ping;
  uint8_t out[64];
  size_t len = arenad__request__get_packed_size(&req);
  size_t k = ar_frame_encode(out, len);
  arenad__request__pack(&req, out + k);
  assert_int_equal(send(fd, out, k + len, 0), (ssize_t)(k + len));
  assert_int_equal(st->connections_accepted, 0); /* the loop has not run */

  ad_daemon_shutdown(&f->d, "test");
  assert_int_equal(st->connections_accepted, 1);
  uint8_t in[256];
  size_t got = 0;
  ar_frame_t fr;
  for (int i = 0; i < 500; i++) {
    uv_run(&f->d.loop, UV_RUN_NOWAIT);
    ssize_t n = recv(fd, in + got, sizeof(in) - got, MSG_DONTWAIT);
    if (n > 0)
      got += (size_t)n;
    if (got > 0 &&
        ar_frame_decode(in, got, sizeof(in), &fr) == AR_FRAME_COMPLETE)
      break;
    nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
  }
  assert_int_equal(ar_frame_decode(in, got, sizeof(in), &fr),
                   AR_FRAME_COMPLETE);
  Arenad__Response *r =
      arenad__response__unpack(NULL, fr.end - fr.start, in + fr.start);
  assert_non_null(r);
  assert_int_equal(r->id, 7);
  assert_int_equal(r->status, ARENAD__STATUS__STATUS_OK);
  assert_int_equal(r->body_case, ARENAD__RESPONSE__BODY_PING);
  arenad__response__free_unpacked(r, NULL);
  for (int i = 0; i < 500 && st->connections_closed == 0; i++) {
    uv_run(&f->d.loop, UV_RUN_NOWAIT);
    nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
  }
  assert_true(hung_up(fd)); /* drained: the end after the reply */
  close(fd);
}

/* Runs the daemon's loop for about ms milliseconds. */
static void run_for(fixture_t *f, int ms) {
  for (int i = 0; i < ms / 10; i++) {
    uv_run(&f->d.loop, UV_RUN_NOWAIT);
    nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
  }
}

/* Lowers the soft RLIMIT_NOFILE to the lowest free descriptor, so that
 * the process has none to spare (those above it stay open). */
static void use_up_descriptors(void) {
  int lowest = dup(0);
  assert_true(lowest >= 0);
  close(lowest);
  struct rlimit rl;
  assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
  rl.rlim_cur = (rlim_t)lowest;
  assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
}

/* With no descriptor to spare, accept(2) fails (EMFILE) and the listener
 * tries again every 100 ms while the client waits in the backlog: that is
 * one connection not taken on, counted once however many times it is
 * tried, and taken once a descriptor is free. The next time descriptors
 * run out counts again. */
static void test_out_of_descriptors_counted_once(void **state) {
  fixture_t *f = *state;
  ad_stats_t *st = &f->d.stats;
  struct rlimit saved;
  assert_int_equal(getrlimit(RLIMIT_NOFILE, &saved), 0);

  int fd[2];
  for (uint64_t round = 1; round <= 2; round++) {
    fd[round - 1] = connect_client(f);
    use_up_descriptors();
    run_for(f, 450); /* the first try and four retries */
    assert_int_equal(st->connections_accept_failed, round);
    assert_int_equal(st->connections_accepted, round - 1);
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &saved), 0);
    run_until(f, &st->connections_accepted, round - 1);
    assert_int_equal(st->connections_accept_failed, round);
  }
  close(fd[0]);
  close(fd[1]);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_accept_counted, setup, teardown),
      cmocka_unit_test_setup_teardown(test_listen_error_resumes, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_shutdown_takes_backlog, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_out_of_descriptors_counted_once,
                                      setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
