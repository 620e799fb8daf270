/*
 * test_arenactl_client_daemon.c: arenactl's commands about the daemon and
 * its arenas' health against a real arenad, run as a program
 * (arenactl_harness.h): ping (the daemon's instance; a connection id past
 * INT64_MAX, from a fake daemon), check (ok, a header a client
 * overwrote, and a broken invariant from a fake daemon: exit 1), stats
 * (with a line and a JSON number for the counter of every limit, which
 * README.md's table of limits names, and no counter in that table that
 * stats lacks) and a short bench (whose echo server ends with it, also
 * when it is killed; a daemon gone between its measures is said to be),
 * with JSON that parses (jansson) with the figures
 * the daemon holds.
 */
#include "arenactl_harness.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void test_ping(void **state) {
  (void)state;
  run_t *r = RUN("ping");
  expect_status(r, 0);
  assert_non_null(strstr(r->out, "pong"));
  r = RUN("ping", "--json");
  expect_status(r, 0);
  json_t *j = parse(r);
  assert_int_equal(json_integer_value(json_object_get(j, "protocol_version")),
                   1);
  /* The daemon's instance: 16 hex digits, not all zero, the same in the
   * text form. */
  const char *instance = json_string_value(json_object_get(j, "instance"));
  assert_non_null(instance);
  assert_int_equal(strlen(instance), 16);
  assert_int_equal(strspn(instance, "0123456789abcdef"), 16);
  assert_true(strspn(instance, "0") < 16);
  char text[40];
  snprintf(text, sizeof text, "instance %s,", instance);
  json_decref(j);
  r = RUN("ping");
  assert_non_null(strstr(r->out, text));
}

static void test_check(void **state) {
  (void)state;
  run_t *r = RUN("check", "alpha");
  expect_status(r, 0);
  assert_string_equal(r->out, "alpha: ok\n");
  r = RUN("check", "beta", "--json");
  expect_status(r, 0);
  json_t *j = parse(r);
  assert_true(json_is_true(json_object_get(j, "ok")));
  json_decref(j);
  r = RUN("check", "nope");
  expect_status(r, 1);
  assert_non_null(strstr(r->err, "nope"));

  /* A live block whose header a client overwrote: still ok (exit 0), with
   * a line that says so; the count and the offset in the JSON. */
  it_conn_t *c = it_connect(daemon_.sock);
  it_hello_ok(c);
  size_t size;
  uint8_t *base = it_map_arena(c, "alpha", &size);
  uint64_t off = it_alloc_ok(c, "alpha", 100);
  it_smash_header(base, off, 100);
  r = RUN("check", "alpha");
  expect_status(r, 0);
  char want[200];
  snprintf(want, sizeof want,
           "alpha: ok\nalpha: 1 live block with a header overwritten by a "
           "client, the first at offset %llu (freed correctly all the "
           "same)\n",
           (unsigned long long)off);
  assert_string_equal(r->out, want);
  r = RUN("check", "alpha", "--json");
  expect_status(r, 0);
  j = parse(r);
  assert_true(json_is_true(json_object_get(j, "ok")));
  assert_int_equal(
      json_integer_value(json_object_get(j, "headers_overwritten")), 1);
  assert_int_equal(json_integer_value(json_object_get(j, "first_overwritten")),
                   off);
  json_decref(j);
  munmap(base, size);
  it_close(c);

  /* A broken invariant (from a fake daemon: a real one has none to show):
   * exit 1, the invariant, its offset and the sentence on standard error
   * and nothing on standard output; with --json, exit 1 too and the
   * report in the JSON, also when the daemon's detail is not UTF-8. */
  pid_t fake = fake_daemon(fake_path(), 2);
  r = arenactl(fake_path(), (const char *const[]){"check", "alpha", NULL});
  expect_status(r, 1);
  assert_string_equal(r->out, "");
  assert_string_equal(r->err, "arenactl check: alpha: invariant "
                              "'free-list-sorted' broken at offset 4096: "
                              "extent 4096 after 8192 (\xff)\n");
  r = arenactl(fake_path(),
               (const char *const[]){"check", "alpha", "--json", NULL});
  expect_status(r, 1);
  j = parse(r);
  assert_true(json_is_false(json_object_get(j, "ok")));
  assert_string_equal(json_string_value(json_object_get(j, "invariant")),
                      "free-list-sorted");
  assert_int_equal(json_integer_value(json_object_get(j, "offset")), 4096);
  /* The detail is not UTF-8: its stray byte becomes U+FFFD, and the JSON
   * is still made. */
  assert_string_equal(json_string_value(json_object_get(j, "detail")),
                      "extent 4096 after 8192 (\xef\xbf\xbd)");
  json_decref(j);
  fake_done(fake);
}

static void test_stats(void **state) {
  (void)state;
  expect_status(RUN("alloc", "alpha", "1000"), 0);
  run_t *r = RUN("stats");
  expect_status(r, 0);
  assert_non_null(strstr(r->out, "requests.alloc"));
  r = RUN("stats", "--json");
  expect_status(r, 0);
  json_t *j = parse(r);
  json_t *req = json_object_get(j, "requests");
  assert_true(json_is_object(req));
  assert_int_equal(json_integer_value(json_object_get(req, "alloc")), 1);
  assert_true(json_integer_value(json_object_get(req, "hello")) >= 2);
  assert_int_equal(json_integer_value(json_object_get(j, "arenas")), 2);
  assert_true(json_is_string(json_object_get(j, "daemon_version")));
  assert_true(json_is_object(json_object_get(j, "errors")));
  /* The daemon's memory: the engines' part is the sum of what inspect
   * reports for each arena; the records hold the block just made. */
  json_int_t engines = json_integer_value(json_object_get(j, "engine_bytes"));
  json_int_t records = json_integer_value(json_object_get(j, "record_bytes"));
  json_decref(j);
  json_int_t sum = 0;
  const char *names[] = {"alpha", "beta"};
  for (int i = 0; i < 2; i++) {
    r = RUN("inspect", names[i], "--json");
    expect_status(r, 0);
    j = parse(r);
    sum += json_integer_value(
        json_object_get(json_object_get(j, "summary"), "meta_bytes"));
    json_decref(j);
  }
  assert_true(sum > 0);
  assert_int_equal(engines, sum);
  assert_true(records > 0);
}

/* The counter of every limit the daemon enforces: each is a line of
 * `arenactl stats`, a number in its JSON, and named in README.md's table
 * of limits, whose every counter is such a line in turn. */
static const char *const limit_counters[] = {
    "frames_over_limit",
    "frames_malformed",
    "frames_unparsable",
    "frames_timed_out",
    "connections_closed_protocol",
    "connections_refused_limit",
    "connections_accept_failed",
    "connections_closed_send_timeout",
    "connections_closed_no_memory",
    "fds_exhausted",
    "fds_deferred",
    "in_flight_throttled",
    "output_throttled",
    "fd_queue_throttled",
    "turns_yielded",
    "reclaim_slices",
    "blocks_per_request_refused",
    "blocks_refused_limit",
    "pages_clamped",
    "pages_cut",
    "pages_short",
    "arenas_refused_limit",
    "stale_lists_dropped",
    "scratch_exhausted",
    "quota_refused",
    "references_refused_limit",
    "arenas_refused_memory",
    "holds_refused_limit",
    "names_refused",
};

/* The last cells (the counters) of the rows of README.md's table of
 * limits, one a line; the caller frees it. README.md is found from the
 * data directory the build compiles in (tests/data), so that the test
 * runs from any working directory. */
static char *readme_limit_cells(void) {
  FILE *f = fopen(AR_TEST_DATA_DIR "/../../README.md", "r");
  assert_non_null(f);
  char *cells = calloc(1, 1);
  size_t len = 0;
  char line[4096];
  bool in_limits = false, in_table = false;
  while (fgets(line, sizeof line, f) != NULL) {
    if (strncmp(line, "- **Limits**", 12) == 0) {
      in_limits = true;
      continue;
    }
    if (!in_limits)
      continue;
    if (strncmp(line, "  |", 3) != 0) {
      if (in_table)
        break; /* the table is over */
      continue;
    }
    in_table = true;
    char *end = strrchr(line, '|'); /* the row's closing bar */
    *end = '\0';
    char *cell = strrchr(line, '|') + 1;
    size_t n = strlen(cell);
    cells = realloc(cells, len + n + 2);
    memcpy(cells + len, cell, n);
    len += n;
    cells[len++] = '\n';
    cells[len] = '\0';
  }
  fclose(f);
  assert_true(in_table);
  return cells;
}

static void test_stats_limits(void **state) {
  (void)state;
  run_t *r = RUN("stats");
  expect_status(r, 0);
  char *text = strdup(r->out);
  char *cells = readme_limit_cells();
  /* Every counter the table names is one arenactl shows. */
  for (const char *p = strchr(cells, '`'); p != NULL;
       p = strchr(strchr(p + 1, '`') + 1, '`')) {
    const char *q = strchr(p + 1, '`');
    assert_non_null(q);
    char line[96];
    snprintf(line, sizeof line, "\n%.*s ", (int)(q - p - 1), p + 1);
    if (strstr(text, line) == NULL)
      fail_msg("README's limits name %.*s, which `arenactl stats` lacks",
               (int)(q - p - 1), p + 1);
  }
  r = RUN("stats", "--json");
  expect_status(r, 0);
  json_t *j = parse(r);
  for (size_t i = 0; i < sizeof limit_counters / sizeof *limit_counters; i++) {
    const char *name = limit_counters[i];
    char line[96];
    snprintf(line, sizeof line, "\n%s ", name);
    if (strstr(text, line) == NULL)
      fail_msg("`arenactl stats` has no line for %s:\n%s", name, text);
    if (!json_is_integer(json_object_get(j, name)))
      fail_msg("`arenactl stats --json` has no number %s", name);
    char quoted[96];
    snprintf(quoted, sizeof quoted, "`%s`", name);
    if (strstr(cells, quoted) == NULL)
      fail_msg("README's table of limits does not name %s", name);
  }
  json_decref(j);
  free(cells);
  free(text);
}

static void test_bench(void **state) {
  (void)state;
  run_t *r = RUN("bench", "--arena", "alpha", "--ops", "300", "--seconds",
                 "0.05", "--threads", "2", "--window", "16");
  expect_status(r, 0);
  assert_non_null(strstr(r->out, "| ping round trip p50 |"));
  assert_non_null(strstr(r->out, "| alloc round trip p99 |"));
  assert_non_null(strstr(r->out, "| goal | measured | met |"));
  assert_non_null(strstr(r->out, "| 2 connections >= 1 connection | "));
  /* With one thread, the connections' goal compares one connection with
   * itself: no verdict. */
  r = RUN("bench", "--arena", "alpha", "--ops", "100", "--seconds", "0.02",
          "--threads", "1");
  expect_status(r, 0);
  if (strstr(r->out, "| several connections >= 1 connection | ") == NULL ||
      strstr(r->out, "x | n/a (--threads 1) |\n") == NULL)
    fail_msg("bench --threads 1: %s", r->out);
  r = RUN("bench", "--arena", "alpha", "--ops", "100", "--seconds", "0.02",
          "--threads", "2", "--window", "8", "--count", "4", "--json");
  expect_status(r, 0);
  json_t *j = parse(r);
  assert_string_equal(json_string_value(json_object_get(j, "arena")), "alpha");
  json_t *ping = json_object_get(j, "ping");
  assert_true(json_real_value(json_object_get(ping, "p50_us")) > 0);
  json_t *pipe = json_object_get(j, "pipelined");
  assert_true(
      json_real_value(json_object_get(pipe, "one_connection_ops_per_s")) > 0);
  json_decref(j);
  /* A --window over the daemon's limit (max_in_flight, 1024) is reduced to
   * it, with a notice, as replay's is. */
  r = RUN("bench", "--arena", "alpha", "--ops", "10", "--seconds", "0.01",
          "--threads", "1", "--window", "5000", "--count", "1");
  expect_status(r, 0);
  assert_non_null(strstr(r->err, "arenactl bench: --window 5000 is over the "
                                 "daemon's limit of 1024 requests in flight; "
                                 "using 1024\n"));
  /* It freed what it allocated. */
  r = RUN("inspect", "alpha", "--json");
  j = parse(r);
  assert_int_equal(json_integer_value(json_object_get(
                       json_object_get(j, "summary"), "live_blocks")),
                   0);
  json_decref(j);
}

/* The first child of process pid's main thread, 0 when it has none, or
 * -1 when this kernel cannot tell (no /proc/PID/task/TID/children). */
static pid_t first_child(pid_t pid) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int)pid, (int)pid);
  FILE *f = fopen(path, "r");
  if (f == NULL)
    return -1;
  int child = 0;
  if (fscanf(f, "%d", &child) != 1)
    child = 0;
  fclose(f);
  return (pid_t)child;
}

/* Whether process pid has ended: gone, or a zombie not reaped yet. */
static bool ended(pid_t pid) {
  char path[64], stat[512];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  FILE *f = fopen(path, "r");
  if (f == NULL)
    return true;
  size_t n = fread(stat, 1, sizeof stat - 1, f);
  fclose(f);
  stat[n] = '\0';
  const char *paren = strrchr(stat, ')');
  return paren != NULL && paren[1] == ' ' && paren[2] == 'Z';
}

/* How many entries named like the directories bench's echo servers once
 * had (/tmp/arenactl-bench-*) were made in /tmp since `since`. */
static int bench_dirs_since(time_t since) {
  DIR *d = opendir("/tmp");
  assert_non_null(d);
  int n = 0;
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    char path[300];
    struct stat st;
    if (strncmp(de->d_name, "arenactl-bench-", 15) != 0)
      continue;
    snprintf(path, sizeof path, "/tmp/%s", de->d_name);
    if (lstat(path, &st) == 0 && st.st_ctime >= since)
      n++;
  }
  closedir(d);
  return n;
}

/* Starts `arenactl bench` on the test's daemon, in a child whose standard
 * output goes nowhere and whose standard error goes to the file err (or
 * nowhere when NULL), with measures of `seconds` each; returns its pid,
 * once its echo server's process is there, and that process in *echo
 * (-1 when this kernel cannot name a process's children). */
static pid_t start_bench(const char *seconds, const char *err, pid_t *echo) {
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    int null = open("/dev/null", O_WRONLY);
    int e = err != NULL ? open(err, O_WRONLY | O_CREAT | O_TRUNC, 0600) : null;
    if (null < 0 || e < 0 || dup2(null, 1) < 0 || dup2(e, 2) < 0)
      _exit(126);
    execl(ARENACTL, ARENACTL, "--socket", daemon_.sock, "bench", "--arena",
          "alpha", "--ops", "100", "--seconds", seconds, "--threads", "1",
          (char *)NULL);
    _exit(127);
  }
  *echo = 0;
  for (int i = 0; i < 1000 && *echo == 0; i++)
    if ((*echo = first_child(pid)) == 0)
      usleep(10000);
  return pid;
}

/* bench's echo server in a child process ends with arenactl however
 * arenactl ends: killed while it measures, it leaves no server serving
 * on for ever, and nothing in the file system (its sockets have abstract
 * names). */
static void test_bench_killed(void **state) {
  (void)state;
  time_t start = time(NULL);
  pid_t echo, pid = start_bench("30", NULL, &echo);
  kill(pid, SIGKILL);
  assert_int_equal(waitpid(pid, NULL, 0), pid);
  bool gone = echo <= 0;
  for (int i = 0; i < 1000 && !gone; i++)
    if (!(gone = ended(echo)))
      usleep(10000);
  if (!gone)
    kill(echo, SIGKILL); /* before failing: nothing left behind */
  assert_int_equal(bench_dirs_since(start), 0);
  if (echo < 0) {
    skip(); /* this kernel cannot name a process's children */
    return;
  }
  assert_true(echo > 0);
  assert_true(gone);
}

/* A bench whose daemon goes away between its measures says why the next
 * measure could not connect, and where: errno's reason, not "I/O error".
 * The daemon stops once the bench has closed the connection of its
 * latencies: the bench then measures the echo floor (4 x 1.5 s) and
 * connects again only after that. */
static void test_bench_daemon_gone(void **state) {
  (void)state;
  char err[160], text[1024], want[256];
  snprintf(err, sizeof err, "%s/bench.err", daemon_.dir);
  it_conn_t *c = it_connect(daemon_.sock);
  it_hello_ok(c);
  uint64_t closed = it_stat(c, "connections_closed");
  pid_t echo, pid = start_bench("1.5", err, &echo);
  for (int i = 0; i < 3000 && it_stat(c, "connections_closed") == closed; i++)
    usleep(10000);
  assert_true(it_stat(c, "connections_closed") > closed);
  it_close(c);
  it_daemon_stop(&daemon_, SIGTERM);
  int st;
  assert_int_equal(waitpid(pid, &st, 0), pid);
  FILE *f = fopen(err, "r");
  assert_non_null(f);
  size_t n = fread(text, 1, sizeof text - 1, f);
  fclose(f);
  unlink(err);
  text[n] = '\0';
  assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 1);
  snprintf(want, sizeof want,
           "arenactl bench: pipelined, 1 connection: cannot connect to %s: ",
           daemon_.sock);
  if (strncmp(text, want, strlen(want)) != 0 ||
      (strstr(text, strerror(ENOENT)) == NULL &&
       strstr(text, strerror(ECONNREFUSED)) == NULL))
    fail_msg("stderr: %s", text);
}

/* The connection id is unsigned in the protocol, and in ping's JSON and
 * text: one past INT64_MAX is not printed as a negative number. */
static void test_ping_large_connection_id(void **state) {
  (void)state;
  fake_connection_id = (uint64_t)INT64_MAX + 2;
  pid_t fake = fake_daemon(fake_path(), 2);
  fake_connection_id = 1;
  run_t *r = arenactl(fake_path(), (const char *const[]){"ping", NULL});
  expect_status(r, 0);
  assert_non_null(strstr(r->out, "connection 9223372036854775809)"));
  r = arenactl(fake_path(), (const char *const[]){"ping", "--json", NULL});
  expect_status(r, 0);
  json_t *j = parse(r);
  json_t *id = json_object_get(j, "connection_id");
  if (!json_is_number(id) || json_number_value(id) < 9.2e18)
    fail_msg("connection_id: %s", r->out);
  json_decref(j);
  fake_done(fake);
}

int main(void) {
  const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
      T(test_ping),
      T(test_check),
      T(test_stats),
      T(test_stats_limits),
      T(test_bench),
      T(test_bench_killed),
      T(test_bench_daemon_gone),
      T(test_ping_large_connection_id),
#undef T
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
