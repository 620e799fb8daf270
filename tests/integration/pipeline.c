/*
 * pipeline.c: a quick measurement of a real arenad with the integration
 * helper (not a test: the numbers depend on the machine; `arenactl bench`
 * is the real benchmark). It prints round-trip latencies of a bare Unix
 * socket echo, of ping and of alloc+free, and the throughput of alloc and
 * free pipelined on one connection and on 8 at once.
 *
 *   itest_pipeline [SECONDS] [WINDOW]
 */
#include "itest.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ar/frame.h"

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU seconds (user + system) process pid has used so far. */
static double cpu_s(pid_t pid) {
  char path[64], buf[1024];
  snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
  FILE *f = fopen(path, "r");
  if (f == NULL || fgets(buf, sizeof(buf), f) == NULL)
    fail_msg("%s", path);
  fclose(f);
  /* Fields 14 and 15, counted after the ")" that ends the name. */
  char *p = strrchr(buf, ')') + 2;
  unsigned long long utime = 0, stime = 0;
  for (int field = 3; field < 14; field++)
    p = strchr(p, ' ') + 1;
  sscanf(p, "%llu %llu", &utime, &stime);
  return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static void report(const char *what, double *us, int n) {
  qsort(us, (size_t)n, sizeof(*us), cmp_double);
  printf("%-28s p50 %6.2f us   p99 %6.2f us\n", what, us[n / 2],
         us[(int)(n * 0.99)]);
}

/* Round trips of 16 bytes through a child that echoes them. */
static void bare_echo(int n) {
  int sv[2];
  socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
  pid_t pid = fork();
  if (pid == 0) {
    close(sv[0]);
    char b[16];
    ssize_t k;
    while ((k = read(sv[1], b, sizeof(b))) > 0)
      if (write(sv[1], b, (size_t)k) != k)
        break;
    _exit(0);
  }
  close(sv[1]);
  double *us = malloc(sizeof(double) * (size_t)n);
  char b[16] = {0};
  for (int i = 0; i < n; i++) {
    double t = now_s();
    if (write(sv[0], b, sizeof(b)) != sizeof(b) ||
        read(sv[0], b, sizeof(b)) != sizeof(b))
      fail_msg("echo failed");
    us[i] = (now_s() - t) * 1e6;
  }
  report("bare unix echo", us, n);
  free(us);
  close(sv[0]);
  waitpid(pid, NULL, 0);
}

static void round_trips(const char *sock, int n) {
  it_conn_t *c = it_connect(sock);
  double *ping = malloc(sizeof(double) * (size_t)n);
  double *af = malloc(sizeof(double) * (size_t)n);
  for (int i = 0; i < n; i++) {
    double t = now_s();
    it_resp_free(it_call(c, it_req_ping(), NULL));
    ping[i] = (now_s() - t) * 1e6;
    t = now_s();
    uint64_t off = it_alloc_ok(c, "default", 64);
    af[i] = (now_s() - t) * 1e6;
    it_free_ok(c, "default", off);
  }
  report("ping round trip", ping, n);
  report("alloc round trip", af, n);
  free(ping);
  free(af);
  it_close(c);
}

/* Windows of `w` allocs in one write, their replies, then `w` frees the
 * same way, for `secs` seconds. Returns operations (allocs + frees). */
static uint64_t pipelined(const char *sock, double secs, int w, int count) {
  it_conn_t *c = it_connect(sock);
  uint64_t *offs = malloc(sizeof(uint64_t) * (size_t)w * (size_t)count);
  uint8_t *abuf = NULL;
  size_t alen = 0;
  for (int i = 0; i < w; i++)
    it_frame_append(&abuf, &alen, it_req_alloc("default", 64, 0,
                                               (uint32_t)count, false));
  uint64_t ops = 0;
  double end = now_s() + secs;
  while (now_s() < end) {
    it_send_raw(c, abuf, alen);
    int n = 0;
    for (int i = 0; i < w; i++) {
      Arenad__Response *r = it_recv(c, NULL);
      it_assert_status(r, 0);
      for (size_t k = 0; k < r->alloc->n_offsets; k++)
        offs[n++] = r->alloc->offsets[k];
      it_resp_free(r);
    }
    uint8_t *fbuf = NULL;
    size_t flen = 0;
    for (int i = 0; i < w; i++)
      it_frame_append(&fbuf, &flen,
                      it_req_free("default", offs + (size_t)i * (size_t)count,
                                  (size_t)count));
    it_send_raw(c, fbuf, flen);
    free(fbuf);
    for (int i = 0; i < w; i++) {
      Arenad__Response *r = it_recv(c, NULL);
      it_assert_status(r, 0);
      it_resp_free(r);
    }
    ops += 2 * (uint64_t)w * (uint64_t)count;
  }
  free(abuf);
  free(offs);
  it_close(c);
  return ops;
}

/* The same on `n` connections from `n` processes at once. */
static double parallel(const char *sock, double secs, int w, int n) {
  int pipes[16][2];
  pid_t pids[16];
  for (int i = 0; i < n; i++) {
    if (pipe(pipes[i]) < 0)
      fail_msg("pipe");
    if ((pids[i] = fork()) == 0) {
      uint64_t ops = pipelined(sock, secs, w, 1);
      _exit(write(pipes[i][1], &ops, sizeof(ops)) == sizeof(ops) ? 0 : 1);
    }
    close(pipes[i][1]);
  }
  uint64_t total = 0;
  for (int i = 0; i < n; i++) {
    uint64_t ops = 0;
    if (read(pipes[i][0], &ops, sizeof(ops)) != sizeof(ops))
      fail_msg("a worker failed");
    total += ops;
    close(pipes[i][0]);
  }
  for (int i = 0; i < n; i++) /* not wait(): the daemon is a child too */
    waitpid(pids[i], NULL, 0);
  return (double)total / secs;
}

static void run(void **state) {
  (void)state;
  const char *s = getenv("SECONDS_PER_RUN");
  const char *wv = getenv("WINDOW");
  double secs = s ? atof(s) : 2.0;
  int w = wv ? atoi(wv) : 64;

  it_daemon_t d = {0};
  static const char *const args[] = {"--log-level", "warn", NULL};
  assert_int_equal(it_daemon_start(&d, NULL, args), 0);

  bare_echo(20000);
  round_trips(d.sock, 20000);
  double cpu = cpu_s(d.pid);
  uint64_t ops = pipelined(d.sock, secs, w, 1);
  cpu = cpu_s(d.pid) - cpu;
  printf("pipelined alloc+free, 1 conn, window %d: %.0f ops/s "
         "(daemon CPU %.2f us/op: %.0f ops per daemon CPU second)\n",
         w, (double)ops / secs, cpu * 1e6 / (double)ops, (double)ops / cpu);
  cpu = cpu_s(d.pid);
  double eight = parallel(d.sock, secs, w, 8);
  cpu = cpu_s(d.pid) - cpu;
  printf("pipelined alloc+free, 8 conns, window %d: %.0f ops/s "
         "(daemon CPU %.2f us/op)\n",
         w, eight, cpu * 1e6 / (eight * secs));
  double blocks = (double)pipelined(d.sock, secs, 16, 64) / secs;
  printf("alloc count 64 + free 64, window 16: %.0f blocks/s\n", blocks);

  assert_int_equal(it_daemon_stop(&d, SIGTERM), 0);
  it_daemon_cleanup(&d);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(run)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
