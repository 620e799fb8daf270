/*
 * test_client_no_handle.c: the client library's calls without a handle,
 * with no fake daemon: the calls given a NULL handle (getters that answer
 * nothing, requests refused with AR_EINVAL that set their outputs as any
 * failure does), the socket path (given, from the environment, under
 * XDG_RUNTIME_DIR; too long; empty) and a connect with no daemon there,
 * a bounded connect to a listener that takes no connection, a connect
 * with standard input closed (the socket is not put at 0), and the /tmp
 * fallback's check that the daemon listening there runs as
 * the user (as root, with children listening as another uid or as root;
 * skipped elsewhere).
 */
/* cmocka.h needs these first */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "arenad.h"
#include "tmpdir.h"

/* The getters that read a handle take NULL, as arenad_error and
 * arenad_collect_overwritten do: nothing in flight, no window, no
 * mapping. */
static void test_getters_of_no_handle(void **state) {
  (void)state;
  assert_int_equal(arenad_in_flight(NULL), 0);
  assert_int_equal(arenad_window(NULL), 0);
  assert_null(arenad_ptr(NULL, "a", 0));
  assert_string_equal(arenad_error(NULL), "no handle");
  assert_int_equal(arenad_collect_overwritten(NULL, NULL), 0);
}

/* Every call that takes a handle and returns a code refuses a NULL one
 * with AR_EINVAL, sending nothing, and sets its outputs as after any
 * other failure: a list, page or statistics NULL (and their counts 0), a
 * check not ok, every offset's status the code, no pointer, no
 * overwritten header. The outputs start as garbage, so a call that leaves
 * one unset fails here. A bad argument besides changes nothing. */
static void test_requests_of_no_handle(void **state) {
  (void)state;
  static max_align_t garbage; /* what the outputs point to before */
  arenad_hello_t hi;
  assert_int_equal(arenad_hello(NULL, "t", &hi), AR_EINVAL);
  assert_int_equal(arenad_ping(NULL), AR_EINVAL);

  arenad_arena_t *arenas = (void *)&garbage;
  size_t n = 7;
  assert_int_equal(arenad_list(NULL, &arenas, &n), AR_EINVAL);
  assert_null(arenas);
  assert_int_equal(n, 0);

  arenad_map_t map;
  assert_int_equal(arenad_attach(NULL, "a", 0, &map), AR_EINVAL);
  assert_int_equal(arenad_detach(NULL, "a"), AR_EINVAL);

  uint64_t off = 0, offs[2] = {16, 32};
  void *p = &off;
  assert_int_equal(arenad_alloc(NULL, "a", 64, 0, 0, &off, &p), AR_EINVAL);
  assert_null(p);
  assert_int_equal(arenad_alloc_n(NULL, "a", 64, 0, 2, 0, offs), AR_EINVAL);
  assert_int_equal(arenad_free(NULL, "a", 16), AR_EINVAL);
  int statuses[2] = {1, 1};
  assert_int_equal(arenad_free_n(NULL, "a", offs, 2, statuses), AR_EINVAL);
  assert_int_equal(statuses[0], AR_EINVAL);
  assert_int_equal(statuses[1], AR_EINVAL);
  statuses[0] = statuses[1] = 1;
  assert_int_equal(arenad_free_each(NULL, "a", offs, 2, statuses), AR_EINVAL);
  assert_int_equal(statuses[0], AR_EINVAL);
  assert_int_equal(statuses[1], AR_EINVAL);
  statuses[0] = statuses[1] = 1;
  uint64_t overwritten[2];
  size_t n_overwritten = 7;
  assert_int_equal(arenad_free_report(NULL, "a", offs, 2, statuses, overwritten,
                                      &n_overwritten),
                   AR_EINVAL);
  assert_int_equal(statuses[0], AR_EINVAL);
  assert_int_equal(statuses[1], AR_EINVAL);
  assert_int_equal(n_overwritten, 0);

  uint32_t refcount;
  bool smashed = true;
  arenad_transfer_t tr;
  assert_int_equal(arenad_retain(NULL, "a", 16, &refcount), AR_EINVAL);
  assert_int_equal(arenad_release(NULL, "a", 16, &refcount), AR_EINVAL);
  assert_int_equal(arenad_release_report(NULL, "a", 16, &refcount, &smashed),
                   AR_EINVAL);
  assert_false(smashed);
  assert_int_equal(arenad_transfer(NULL, "a", 16, 1, &tr), AR_EINVAL);

  arenad_arena_spec_t spec = {.size = 4096, .policy = ARENAD_POLICY_FIRST};
  arenad_arena_t *created = (void *)&garbage;
  arenad_destroyed_t destroyed;
  assert_int_equal(arenad_create_arena(NULL, "a", &spec, &created), AR_EINVAL);
  assert_null(created);
  assert_int_equal(arenad_destroy_arena(NULL, "a", 0, &destroyed), AR_EINVAL);

  arenad_page_t *page = (void *)&garbage;
  arenad_check_t check;
  memset(&check, 0xff, sizeof check);
  assert_int_equal(
      arenad_inspect(NULL, "a", ARENAD_INSPECT_BLOCKS, 0, 0, &page), AR_EINVAL);
  assert_null(page);
  uint64_t size = 7;
  assert_int_equal(arenad_block_size(NULL, "a", 16, &size), AR_EINVAL);
  assert_int_equal(size, 0);
  assert_int_equal(arenad_check(NULL, "a", &check), AR_EINVAL);
  assert_false(check.ok);
  assert_string_equal(check.invariant, "");

  arenad_stat_t *stats = (void *)&garbage;
  n = 7;
  assert_int_equal(arenad_stats(NULL, &stats, &n), AR_EINVAL);
  assert_null(stats);
  assert_int_equal(n, 0);

  arenad_result_t res;
  assert_int_equal(arenad_submit_ping(NULL, 1), AR_EINVAL);
  assert_int_equal(arenad_submit_alloc(NULL, "a", 64, 0, 1, 0, 2), AR_EINVAL);
  assert_int_equal(arenad_submit_free(NULL, "a", offs, 2, 3), AR_EINVAL);
  assert_int_equal(arenad_flush(NULL), AR_EINVAL);
  assert_int_equal(arenad_collect(NULL, &res), AR_EINVAL);

  assert_int_equal(arenad_list(NULL, NULL, &n), AR_EINVAL);
  assert_int_equal(arenad_attach(NULL, "", 0, &map), AR_EINVAL);
  assert_int_equal(arenad_submit_free(NULL, "a", NULL, 0, 4), AR_EINVAL);
  assert_int_equal(arenad_collect(NULL, NULL), AR_EINVAL);
  arenad_close(NULL); /* allowed, as arenad.h says */
}

static void test_socket_path(void **state) {
  (void)state;
  char buf[108];
  assert_int_equal(arenad_socket_path("/x/y.sock", buf, sizeof buf), 0);
  assert_string_equal(buf, "/x/y.sock");
  /* The variable arenad.h names is the one the library reads
   * (AR_SOCKET_ENV: conn.c checks that the two have the same length). */
  setenv(ARENAD_SOCKET_ENV, "/from/env.sock", 1);
  assert_int_equal(arenad_socket_path(NULL, buf, sizeof buf), 0);
  assert_string_equal(buf, "/from/env.sock");
  unsetenv(ARENAD_SOCKET_ENV);
  setenv("XDG_RUNTIME_DIR", "/xdg", 1);
  assert_int_equal(arenad_socket_path(NULL, buf, sizeof buf), 0);
  assert_string_equal(buf, "/xdg/arenad.sock");
  char longp[200];
  memset(longp, 'a', sizeof longp - 1);
  longp[sizeof longp - 1] = '\0';
  assert_int_equal(arenad_socket_path(longp, buf, sizeof buf), AR_ELIMIT);
  /* "" names no file: in a socket address it would be the abstract socket
   * of 107 NUL bytes, which any process may bind. */
  assert_int_equal(arenad_socket_path("", buf, sizeof buf), AR_EINVAL);
  assert_string_equal(buf, "");

  /* No daemon there: AR_EIO, errno says why. */
  arenad_t *h = (arenad_t *)1;
  assert_int_equal(arenad_connect("/nonexistent/arenad.sock", &h), AR_EIO);
  assert_null(h);
  assert_int_equal(arenad_connect(longp, &h), AR_ELIMIT);
  h = (arenad_t *)1;
  assert_int_equal(arenad_connect("", &h), AR_EINVAL);
  assert_null(h);
}

/* A child that listens on a new socket at `path`, bound as root, listening
 * as `uid` (the peer's credentials are the listener's at listen(2)). Kill
 * it with SIGKILL and reap it; the caller unlinks the socket. */
static pid_t listen_as(const char *path, uid_t uid) {
  int ready[2];
  assert_int_equal(pipe(ready), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    /* Gone with the test, whatever becomes of it; and holding none of its
     * output open, which ctest reads to the end. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    int null = open("/dev/null", O_WRONLY);
    dup2(null, STDOUT_FILENO);
    dup2(null, STDERR_FILENO);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
        setresgid(uid, uid, uid) < 0 || setresuid(uid, uid, uid) < 0 ||
        listen(fd, 4) < 0 || write(ready[1], "r", 1) != 1)
      _exit(1);
    for (;;)
      pause();
  }
  close(ready[1]);
  char c;
  assert_int_equal(read(ready[0], &c, 1), 1);
  close(ready[0]);
  return pid;
}

static void stop_listener(pid_t pid, const char *path) {
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
  unlink(path);
}

/* The /tmp fallback: a directory missing when checked could be made by
 * anyone before the connect, so a daemon there must run as the user,
 * whether the path was found (NULL) or given (as arenactl passes it),
 * however it is spelled.
 * Needs root, to listen as another uid, and a machine where the fallback
 * is the default (no /run/user/0). */
static void test_tmp_fallback_peer(void **state) {
  (void)state;
  struct stat st;
  const char *dir = "/tmp/arenad-0", *path = "/tmp/arenad-0/arenad.sock";
  /* Not root, another default, or the directory in use (a daemon's, or
   * test_socket_path's, which may run beside this one). */
  if (getuid() != 0 || stat("/run/user/0", &st) == 0 || mkdir(dir, 0700) < 0) {
    skip();
    return;
  }
  unsetenv(ARENAD_SOCKET_ENV);
  unsetenv("XDG_RUNTIME_DIR");
  arenad_t *h = (arenad_t *)1;

  pid_t pid = listen_as(path, 65534);
  errno = 0;
  assert_int_equal(arenad_connect(NULL, &h), AR_EIO);
  assert_int_equal(errno, EPERM);
  assert_null(h);
  errno = 0;
  assert_int_equal(arenad_connect(path, &h), AR_EIO);
  assert_int_equal(errno, EPERM);
  stop_listener(pid, path);

  /* Spelled otherwise, relative, or through a symlink: the same. */
  char tdir[] = "/tmp/arenad-test-XXXXXX", link[64], other[64], cwd[PATH_MAX];
  assert_non_null(mkdtemp(tdir));
  snprintf(link, sizeof link, "%s/link", tdir);
  assert_int_equal(symlink(path, link), 0);
  const char *const spelled[] = {"//tmp/arenad-0/arenad.sock",
                                 "/tmp/./arenad-0/arenad.sock",
                                 "/tmp/arenad-0//arenad.sock",
                                 "/tmp/../tmp/arenad-0/arenad.sock",
                                 "arenad-0/arenad.sock", /* from /tmp */
                                 link};
  assert_non_null(getcwd(cwd, sizeof cwd));
  assert_int_equal(chdir("/tmp"), 0);
  int refused = 0;
  for (size_t i = 0; i < sizeof spelled / sizeof spelled[0]; i++) {
    /* a listener each: one that never accepts fills its backlog */
    pid = listen_as(path, 65534);
    h = (arenad_t *)1;
    errno = 0;
    int rc = arenad_connect(spelled[i], &h);
    stop_listener(pid, path);
    if (rc == AR_EIO && errno == EPERM && h == NULL)
      refused++;
    else
      print_error("%s: connected (%d, %s)\n", spelled[i], rc, strerror(errno));
    arenad_close(rc == 0 ? h : NULL);
  }
  assert_int_equal(chdir(cwd), 0);
  unlink(link);

  /* Another uid's daemon elsewhere is not refused. */
  snprintf(other, sizeof other, "%s/other.sock", tdir);
  pid = listen_as(other, 65534);
  assert_int_equal(arenad_connect(other, &h), 0);
  arenad_close(h);
  stop_listener(pid, other);
  rmdir(tdir);

  pid = listen_as(path, 0);
  assert_int_equal(arenad_connect(NULL, &h), 0);
  arenad_close(h);
  stop_listener(pid, path);
  rmdir(dir);
  assert_int_equal(refused, sizeof spelled / sizeof spelled[0]);
}

static volatile sig_atomic_t alarms;
static void on_alarm(int sig) {
  (void)sig;
  alarms++;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A listener that never accepts, its backlog full: arenad_connect_timeout
 * gives up after its bound with EAGAIN (arenad_connect would wait for as
 * long as the listener lives); once there is room it connects. */
static void test_connect_timeout(void **state) {
  tmpdir_t *d = *state;
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  snprintf(sa.sun_path, sizeof sa.sun_path, "%s/full.sock", d->path);
  int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  assert_true(lfd >= 0);
  assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof sa), 0);
  assert_int_equal(listen(lfd, 0), 0);
  /* a backlog of 0 holds one connection: this one fills it */
  int first = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  assert_int_equal(connect(first, (struct sockaddr *)&sa, sizeof sa), 0);

  arenad_t *h = (arenad_t *)1;
  double t0 = now_s();
  errno = 0;
  assert_int_equal(arenad_connect_timeout(sa.sun_path, 200, &h), AR_EIO);
  double waited = now_s() - t0;
  assert_int_equal(errno, EAGAIN);
  assert_null(h);
  if (waited < 0.15 || waited > 10)
    fail_msg("gave up after %.3f s, not about 0.2 s", waited);
  h = (arenad_t *)1;
  errno = 0;
  assert_int_equal(arenad_connect_timeout(sa.sun_path, 0, &h), AR_EIO);
  assert_int_equal(errno, EAGAIN);
  assert_null(h);

  /* A signal (without SA_RESTART) 50 ms into the wait: the connect, which
   * queued nothing, is made again for the rest of the time, and does not
   * come back connected. */
  struct sigaction act = {.sa_handler = on_alarm}, old;
  sigemptyset(&act.sa_mask);
  assert_int_equal(sigaction(SIGALRM, &act, &old), 0);
  struct itimerval it = {.it_value = {.tv_sec = 0, .tv_usec = 50000}};
  assert_int_equal(setitimer(ITIMER_REAL, &it, NULL), 0);
  alarms = 0;
  h = (arenad_t *)1;
  t0 = now_s();
  errno = 0;
  assert_int_equal(arenad_connect_timeout(sa.sun_path, 300, &h), AR_EIO);
  waited = now_s() - t0;
  assert_int_equal(errno, EAGAIN);
  assert_null(h);
  assert_int_equal(alarms, 1);
  if (waited < 0.25 || waited > 10)
    fail_msg("gave up after %.3f s, not about 0.3 s", waited);
  assert_int_equal(sigaction(SIGALRM, &old, NULL), 0);

  int taken = accept(lfd, NULL, NULL); /* room for one again */
  assert_true(taken >= 0);
  assert_int_equal(arenad_connect_timeout(sa.sun_path, 200, &h), 0);
  assert_non_null(h);
  arenad_close(h);
  assert_int_equal(arenad_connect_timeout(NULL, 200, NULL), AR_EINVAL);
  close(taken);
  close(first);
  close(lfd);
  unlink(sa.sun_path);
}

/* With standard input closed, the connection's socket would get number 0;
 * it is moved above 2, where nothing the caller reads or prints goes. */
static void test_connect_with_stdin_closed(void **state) {
  tmpdir_t *d = *state;
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  snprintf(sa.sun_path, sizeof sa.sun_path, "%s/l.sock", d->path);
  int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  assert_true(lfd > 2);
  assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof sa), 0);
  assert_int_equal(listen(lfd, 4), 0);
  int saved = dup(0);
  assert_true(saved > 2);
  close(0);
  arenad_t *h = NULL;
  int rc = arenad_connect_timeout(sa.sun_path, 2000, &h);
  errno = 0;
  bool zero_free = fcntl(0, F_GETFD) < 0 && errno == EBADF;
  assert_int_equal(dup2(saved, 0), 0);
  close(saved);
  assert_int_equal(rc, 0);
  assert_true(zero_free);
  arenad_close(h);
  close(lfd);
  unlink(sa.sun_path);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_getters_of_no_handle),
      cmocka_unit_test(test_requests_of_no_handle),
      cmocka_unit_test(test_socket_path),
      cmocka_unit_test_setup_teardown(test_connect_timeout, tmpdir_make,
                                      tmpdir_remove),
      cmocka_unit_test(test_tmp_fallback_peer),
      cmocka_unit_test_setup_teardown(test_connect_with_stdin_closed,
                                      tmpdir_make, tmpdir_remove),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
