/*
 * test_replay_daemon.c: `arenactl replay --via-daemon` against the
 * in-process replay. Each public trace (tests/data/NAME.trace.gz) is replayed
 * on a fresh arena of a real arenad and offline on an engine of the same
 * size and policy, every policy at least once: the placement logs must be
 * identical byte for byte, and so must the summaries (timings aside). The
 * public traces go through with --predict (frees sent without waiting for
 * their alloc's reply, every reply checked against a local engine), so the
 * five take seconds, not minutes; a generated trace, small enough for one
 * round trip per dependent free, covers the default mode, with allocations
 * that fail (-1) in a small arena. --predict refuses an arena that is
 * not fresh, saying why; without it the replay warns. A log that cannot be
 * written (/dev/full) fails the replay with one message. An `a` of a live id
 * stops the replay with the offline replay's log and message, allocations in
 * flight or not.
 */
#include "itest.h"
#include "test_data.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

/* One fresh arena per replay, named after what it replays. */
static const char config[] = "[arena first-git]\n"
                             "size = 64M\n"
                             "policy = first\n"
                             "[arena next-python]\n"
                             "size = 16M\n"
                             "policy = next\n"
                             "[arena best-sqlite]\n"
                             "size = 8M\n"
                             "policy = best\n"
                             "[arena worst-troff]\n"
                             "size = 4M\n"
                             "policy = worst\n"
                             "[arena buddy-python]\n"
                             "size = 16M\n"
                             "policy = buddy\n"
                             "[arena next-small]\n"
                             "size = 64K\n"
                             "policy = next\n"
                             "[arena buddy-small]\n"
                             "size = 64K\n"
                             "policy = buddy\n";

static it_daemon_t daemon_;

static int setup(void **state) {
  (void)state;
  assert_int_equal(it_daemon_start(&daemon_, config, NULL), 0);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  int st = it_daemon_stop(&daemon_, SIGTERM);
  it_daemon_cleanup(&daemon_);
  assert_int_equal(st, 0);
  return 0;
}

/* Runs arenactl with args, standard output to `out`, standard error to
 * `err` (160 bytes: its file's path). Returns the wait status. */
static int arenactl_run(const char *out, const char *const *args, char *err) {
  const char *argv[32];
  int n = 0;
  argv[n++] = ARENACTL;
  for (int i = 0; args[i] != NULL && n < 31; i++)
    argv[n++] = args[i];
  argv[n] = NULL;
  snprintf(err, 160, "%s/stderr", daemon_.dir);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int e = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (o < 0 || e < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0)
      _exit(126);
    execv(ARENACTL, (char *const *)argv);
    _exit(127);
  }
  int st;
  assert_int_equal(waitpid(pid, &st, 0), pid);
  return st;
}

/* The same; fails the test unless arenactl exits 0 (showing its standard
 * error). */
static void arenactl(const char *out, const char *const *args) {
  char err[160];
  int st = arenactl_run(out, args, err);
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
    char msg[1024] = "";
    FILE *f = fopen(err, "r");
    if (f != NULL) {
      msg[fread(msg, 1, sizeof msg - 1, f)] = '\0';
      fclose(f);
    }
    fail_msg("arenactl %s %s ... failed (status %d): %s", args[0], args[1],
             st, msg);
  }
}

/* Fails unless the two files hold the same bytes; names the first line
 * that differs. */
static void assert_same_file(const char *a, const char *b) {
  FILE *fa = fopen(a, "r"), *fb = fopen(b, "r");
  assert_non_null(fa);
  assert_non_null(fb);
  char la[128], lb[128];
  unsigned long line = 0;
  for (;;) {
    char *ra = fgets(la, sizeof la, fa), *rb = fgets(lb, sizeof lb, fb);
    line++;
    if (ra == NULL && rb == NULL)
      break;
    if (ra == NULL || rb == NULL || strcmp(la, lb) != 0)
      fail_msg("%s and %s differ at line %lu: '%s' vs '%s'", a, b, line,
               ra ? la : "(end)", rb ? lb : "(end)");
  }
  fclose(fa);
  fclose(fb);
  assert_true(line > 1); /* there was something to compare */
}

static json_t *load_json(const char *path) {
  json_error_t e;
  json_t *j = json_load_file(path, 0, &e);
  if (j == NULL)
    fail_msg("%s: not JSON (%s)", path, e.text);
  return j;
}

/* The summaries agree, everything but the timings. */
static void assert_same_summary(const char *a, const char *b) {
  static const char *const keys[] = {
      "policy",        "operations",  "allocations", "failed_allocations",
      "frees",         "skipped_frees", "hwm",       "peak_live",
      "peak_blocks",   "live_blocks", "free_bytes",  "free_intervals",
      "largest_free",  "frag_hwm_live", "frag_hwm_blocks",
      "frag_blocks_live", "memory_peak"};
  json_t *ja = load_json(a), *jb = load_json(b);
  assert_true(json_equal(json_object_get(ja, "arena_size"),
                         json_object_get(jb, "arena_size")));
  json_t *pa = json_array_get(json_object_get(ja, "policies"), 0);
  json_t *pb = json_array_get(json_object_get(jb, "policies"), 0);
  assert_non_null(pa);
  assert_non_null(pb);
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
    json_t *va = json_object_get(pa, keys[i]), *vb = json_object_get(pb, keys[i]);
    if (va == NULL || !json_equal(va, vb)) {
      char *sa = va ? json_dumps(va, JSON_ENCODE_ANY) : NULL;
      char *sb = vb ? json_dumps(vb, JSON_ENCODE_ANY) : NULL;
      fail_msg("summary %s: %s offline, %s through the daemon", keys[i],
               sa ? sa : "(none)", sb ? sb : "(none)");
    }
  }
  json_decref(ja);
  json_decref(jb);
}

/* Replays `trace` offline and through arena `arena` (policy, size), and
 * compares logs and summaries. */
static void compare(const char *arena, const char *policy, const char *size,
                    const char *trace, bool predict) {
  char off_log[160], dmn_log[160], off_sum[160], dmn_sum[160];
  snprintf(off_log, sizeof off_log, "%s/%s.offline.log", daemon_.dir, arena);
  snprintf(dmn_log, sizeof dmn_log, "%s/%s.daemon.log", daemon_.dir, arena);
  snprintf(off_sum, sizeof off_sum, "%s/%s.offline.json", daemon_.dir, arena);
  snprintf(dmn_sum, sizeof dmn_sum, "%s/%s.daemon.json", daemon_.dir, arena);

  arenactl(off_sum, (const char *const[]){"replay", "--policy", policy,
                                          "--arena-size", size, "--placements",
                                          off_log, "--json", trace, NULL});
  if (predict)
    arenactl(dmn_sum,
             (const char *const[]){"--socket", daemon_.sock, "replay",
                                   "--via-daemon", arena, "--predict",
                                   "--placements", dmn_log, "--json", trace,
                                   NULL});
  else
    arenactl(dmn_sum, (const char *const[]){"--socket", daemon_.sock,
                                            "replay", "--via-daemon", arena,
                                            "--placements", dmn_log, "--json",
                                            trace, NULL});
  assert_same_file(off_log, dmn_log);
  assert_same_summary(off_sum, dmn_sum);
}

static const char *data_path(char *buf, size_t len, const char *name) {
  snprintf(buf, len, "%s/%s", ar_test_data_dir(), name);
  return buf;
}

static void test_public_traces(void **state) {
  (void)state;
  static const struct {
    const char *arena, *policy, *size, *trace;
  } runs[] = {
      {"first-git", "first", "64M", "git-gc-perllib.trace.gz"},
      {"next-python", "next", "16M", "python3-compileall-email.trace.gz"},
      {"best-sqlite", "best", "8M", "sqlite3-shop.trace.gz"},
      {"worst-troff", "worst", "4M", "troff-bash-manpage.trace.gz"},
      {"buddy-python", "buddy", "16M", "python3-compileall-email.trace.gz"},
  };
  for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++) {
    char path[512];
    compare(runs[i].arena, runs[i].policy, runs[i].size,
            data_path(path, sizeof path, runs[i].trace), true);
  }
}

/* Writes a trace of `nops` operations with short-lived and long-lived
 * blocks, some frees of ids that are not live, and sizes up to 8 KiB so
 * that a 64 KiB arena fills up and allocations fail. */
static void write_trace(const char *path, int nops) {
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  enum { IDS = 128 };
  bool live[IDS] = {false};
  uint32_t x = 12345;
  fprintf(f, "# generated by test_replay_daemon\n");
  for (int i = 0; i < nops; i++) {
    x = x * 1103515245u + 12345u;
    int id = (int)((x >> 8) % IDS);
    if (live[id] || (x & 0x7) == 0) {
      fprintf(f, "f %d\n", id); /* sometimes of an id that is not live */
      live[id] = false;
    } else {
      uint32_t n = 1 + (x >> 12) % ((x & 0x30) == 0 ? 8192u : 200u);
      fprintf(f, "a %d %u\n", id, n);
      live[id] = true;
    }
  }
  fclose(f);
}

static void test_default_mode(void **state) {
  (void)state;
  char trace[160];
  snprintf(trace, sizeof trace, "%s/generated.trace", daemon_.dir);
  write_trace(trace, 20000);
  compare("next-small", "next", "64K", trace, false);
  compare("buddy-small", "buddy", "64K", trace, false);
  /* The replays failed some allocations, or this proved less. */
  char sum[160];
  snprintf(sum, sizeof sum, "%s/next-small.daemon.json", daemon_.dir);
  json_t *j = load_json(sum);
  json_t *p = json_array_get(json_object_get(j, "policies"), 0);
  assert_true(json_integer_value(json_object_get(p, "failed_allocations")) > 0);
  assert_true(json_integer_value(json_object_get(p, "skipped_frees")) > 0);
  json_decref(j);
}

/* --predict on an arena that is not fresh (one block was allocated and
 * freed there) would see the daemon's placements differ from the local
 * engine's: the replay refuses to start, saying why (exit 1). Without
 * --predict the replay runs and warns. */
static void test_predict_needs_a_fresh_arena(void **state) {
  (void)state;
  char trace[160], out[160], err[160];
  snprintf(trace, sizeof trace, "%s/generated.trace", daemon_.dir);
  snprintf(out, sizeof out, "%s/out", daemon_.dir);
  write_trace(trace, 2000);
  arenactl(out, (const char *const[]){"--socket", daemon_.sock, "alloc",
                                      "next-small", "100", NULL});
  char off[32] = "";
  FILE *f = fopen(out, "r");
  assert_non_null(f);
  assert_non_null(fgets(off, sizeof off, f));
  fclose(f);
  off[strcspn(off, "\n")] = '\0';
  arenactl(out, (const char *const[]){"--socket", daemon_.sock, "free",
                                      "next-small", off, NULL});
  int st = arenactl_run(
      out,
      (const char *const[]){"--socket", daemon_.sock, "replay", "--via-daemon",
                            "next-small", "--predict", trace, NULL},
      err);
  assert_true(WIFEXITED(st));
  assert_int_equal(WEXITSTATUS(st), 1);
  char msg[1024];
  f = fopen(err, "r");
  assert_non_null(f);
  msg[fread(msg, 1, sizeof msg - 1, f)] = '\0';
  fclose(f);
  if (strstr(msg, "--predict needs a fresh arena") == NULL ||
      strstr(msg, "next-small has had 1 allocation\n") == NULL)
    fail_msg("unexpected message: %s", msg);

  /* Without --predict it runs, warning that both its placements and its
   * summary's history-wide figures may not be the trace's own. */
  st = arenactl_run(out,
                    (const char *const[]){"--socket", daemon_.sock, "replay",
                                          "--via-daemon", "next-small", trace,
                                          NULL},
                    err);
  assert_true(WIFEXITED(st));
  assert_int_equal(WEXITSTATUS(st), 0);
  f = fopen(err, "r");
  assert_non_null(f);
  msg[fread(msg, 1, sizeof msg - 1, f)] = '\0';
  fclose(f);
  if (strstr(msg, "warning: arena next-small is not fresh (1 block "
                  "allocated since the daemon started, 0 live)") == NULL ||
      strstr(msg, "the hwm, peaks and fragmentation figures are the "
                  "arena's since it was made\n") == NULL)
    fail_msg("unexpected warning: %s", msg);
}

/* The whole of file `path`, NUL-terminated, into buf (len bytes). */
static void slurp(const char *path, char *buf, size_t len) {
  FILE *f = fopen(path, "r");
  assert_non_null(f);
  buf[fread(buf, 1, len - 1, f)] = '\0';
  fclose(f);
}

/* A log that cannot be written: exit 1, said once on standard error,
 * whether the write fails when the log is closed (a short log, all in
 * the buffer) or during the replay (a log longer than the buffer, which
 * then stops), and no summary is printed. */
static void test_placements_unwritable(void **state) {
  (void)state;
  /* a fresh arena each, or a warning says it is not */
  static const char *const arenas[] = {"next-small", "buddy-small"};
  static const int nops[] = {100, 20000};
  for (size_t i = 0; i < sizeof nops / sizeof nops[0]; i++) {
    char trace[160], out[160], err[160], msg[1024], sum[256];
    snprintf(trace, sizeof trace, "%s/generated.trace", daemon_.dir);
    snprintf(out, sizeof out, "%s/out", daemon_.dir);
    write_trace(trace, nops[i]);
    int st = arenactl_run(out,
                          (const char *const[]){"--socket", daemon_.sock,
                                                "replay", "--via-daemon",
                                                arenas[i], "--placements",
                                                "/dev/full", trace, NULL},
                          err);
    slurp(err, msg, sizeof msg);
    slurp(out, sum, sizeof sum);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 1 ||
        strcmp(msg, "arenactl replay: cannot write /dev/full: No space left "
                    "on device\n") != 0 ||
        sum[0] != '\0')
      fail_msg("%d operations: status %d, stderr: %s, stdout: %s", nops[i], st,
               msg, sum);
  }
}

/* --placements naming the trace file itself: a usage error before any
 * block is allocated, and the trace is left as it was. */
static void test_placements_is_the_trace(void **state) {
  (void)state;
  char trace[160], out[160], err[160], msg[1024], before[4096], after[4096];
  snprintf(trace, sizeof trace, "%s/self.trace", daemon_.dir);
  snprintf(out, sizeof out, "%s/out", daemon_.dir);
  write_trace(trace, 100);
  slurp(trace, before, sizeof before);
  int st = arenactl_run(
      out,
      (const char *const[]){"--socket", daemon_.sock, "replay", "--via-daemon",
                            "next-small", "--placements", trace, trace, NULL},
      err);
  slurp(err, msg, sizeof msg);
  slurp(trace, after, sizeof after);
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 2 ||
      strstr(msg, "is the trace itself") == NULL || strcmp(before, after) != 0)
    fail_msg("status %d, stderr: %s", st, msg);
}

/* An `a` of a live id, found while allocations before it are still in
 * flight: through the daemon the replay stops as the offline one does,
 * with the same log (every `a` before the bad line, ids 2 and 3 included,
 * whose replies had not come yet) and the same message naming both
 * lines; in the default mode and with --predict. */
static void test_live_id_rejected(void **state) {
  (void)state;
  char trace[160], off_log[160], dmn_log[160], out[160], err[160];
  char off_msg[1024], dmn_msg[1024], off_text[256], dmn_text[256];
  snprintf(trace, sizeof trace, "%s/live.trace", daemon_.dir);
  snprintf(off_log, sizeof off_log, "%s/live.offline.log", daemon_.dir);
  snprintf(dmn_log, sizeof dmn_log, "%s/live.daemon.log", daemon_.dir);
  snprintf(out, sizeof out, "%s/out", daemon_.dir);
  FILE *f = fopen(trace, "w");
  assert_non_null(f);
  fputs("a 1 10\na 2 10\na 3 10\na 1 10\na 4 10\n", f);
  fclose(f);
  int st = arenactl_run(
      out,
      (const char *const[]){"replay", "--policy", "next", "--arena-size", "64K",
                            "--placements", off_log, trace, NULL},
      err);
  assert_true(WIFEXITED(st));
  assert_int_equal(WEXITSTATUS(st), 1);
  slurp(err, off_msg, sizeof off_msg);
  slurp(off_log, off_text, sizeof off_text);
  assert_string_equal(off_text, "1 16\n2 48\n3 80\n");
  /* a fresh arena each: next-small, then buddy-small for --predict (whose
   * offsets for these blocks are next fit's too) */
  static const char *const arenas[] = {"next-small", "buddy-small"};
  for (int predict = 0; predict < 2; predict++) {
    const char *args[] = {
        "--socket",     daemon_.sock, "replay", "--via-daemon", arenas[predict],
        "--placements", dmn_log,      trace,    NULL,           NULL};
    if (predict) {
      args[7] = "--predict";
      args[8] = trace;
    }
    st = arenactl_run(out, args, err);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 1);
    slurp(err, dmn_msg, sizeof dmn_msg);
    slurp(dmn_log, dmn_text, sizeof dmn_text);
    if (strcmp(dmn_text, off_text) != 0 || strcmp(dmn_msg, off_msg) != 0)
      fail_msg("%s: log \"%s\", stderr \"%s\"; offline: log \"%s\", "
               "stderr \"%s\"",
               predict ? "--predict" : "default mode", dmn_text, dmn_msg,
               off_text, off_msg);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_default_mode, setup, teardown),
      cmocka_unit_test_setup_teardown(test_public_traces, setup, teardown),
      cmocka_unit_test_setup_teardown(test_predict_needs_a_fresh_arena, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_placements_unwritable, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_placements_is_the_trace, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_live_id_rejected, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
