/*
 * test_arenactl_replay.c: runs the arenactl binary (its path comes from the
 * build, as ARENACTL) on small traces written into a temporary directory
 * and checks what a user sees: the replay log, the JSON summary (read back
 * with jansson), the comparison table, gzip on standard input, a log that
 * follows a trace still being written to a pipe, and the exit
 * codes and messages of a malformed trace and of usage errors.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <zlib.h>

#include "asan.h"
#include "tmpdir.h"

#ifndef ARENACTL
#error "ARENACTL must be the path of the arenactl binary"
#endif

static void write_file(tmpdir_t *d, const char *name, const char *text) {
  FILE *fp = fopen(tmpdir_file(d, name), "wb");
  assert_non_null(fp);
  assert_int_equal(fputs(text, fp) >= 0, 1);
  assert_int_equal(fclose(fp), 0);
}

/* The whole of a file, NUL-terminated; the caller frees it. */
static char *read_file(tmpdir_t *d, const char *name) {
  FILE *fp = fopen(tmpdir_file(d, name), "rb");
  assert_non_null(fp);
  size_t cap = 1 << 16, len = 0;
  char *buf = malloc(cap);
  assert_non_null(buf);
  len = fread(buf, 1, cap - 1, fp);
  buf[len] = '\0';
  fclose(fp);
  return buf;
}

/* Runs `arenactl <args>` in d with standard output and error to d/out and
 * d/err (and standard input from `in` when not NULL); returns the exit
 * status. */
static int run(tmpdir_t *d, const char *in, const char *args) {
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "cd '%s' && '%s' %s < %s > out 2> err", d->path,
           ARENACTL, args, in ? in : "/dev/null");
  int status = system(cmd);
  assert_true(status != -1 && WIFEXITED(status));
  return WEXITSTATUS(status);
}

/* The most significant digits of any number in a JSON text (leading
 * zeros, signs and exponents aside). */
static int max_significant_digits(const char *json) {
  int most = 0;
  for (const char *p = json; *p;) {
    if (*p == '"') { /* a string: skip it, escapes included */
      for (p++; *p && *p != '"'; p++)
        if (*p == '\\' && p[1])
          p++;
      p += *p == '"';
      continue;
    }
    if (!(*p >= '0' && *p <= '9')) {
      p++;
      continue;
    }
    int digits = 0;
    bool leading = true;
    for (; (*p >= '0' && *p <= '9') || *p == '.'; p++) {
      if (*p == '.' || (leading && *p == '0'))
        continue;
      leading = false;
      digits++;
    }
    while (*p && *p != ',' && *p != '\n' && *p != ' ' && *p != '}' && *p != ']')
      p++; /* an exponent */
    if (digits > most)
      most = digits;
  }
  return most;
}

/* The hand-worked trace of test_replay.c (first fit, arena 4096). */
static const char trace1[] = "# a hand-worked trace\n"
                             "a 1 10\na 2 100\na 3 20\nf 2\na 4 50\nf 9\n"
                             "a 5 5000\na 5 40\nf 5\nf 5\nf 1\n";

static void test_log_and_json(void **state) {
  tmpdir_t *d = *state;
  write_file(d, "t.trace", trace1);
  int rc = run(d, NULL,
               "replay --policy first --arena-size 4K --placements log "
               "--json t.trace");
  if (rc != 0) {
    char *err = read_file(d, "err");
    fail_msg("exit %d: %s", rc, err);
  }
  char *log = read_file(d, "log");
  assert_string_equal(log, "1 16\n2 48\n3 176\n4 48\n5 -1\n5 224\n");
  free(log);

  char *out = read_file(d, "out");
  /* Reals are printed as a person reads them: 1.0923076923076923 (272 /
   * 130 - 1) at 15 digits, not jansson's 17 (which also print 0.1 as
   * 0.10000000000000001). */
  assert_in_range(max_significant_digits(out), 1, 15);
  json_error_t jerr;
  json_t *root = json_loads(out, 0, &jerr);
  if (root == NULL)
    fail_msg("not JSON (%s): %s", jerr.text, out);
  free(out);
  assert_string_equal(json_string_value(json_object_get(root, "trace")),
                      "t.trace");
  assert_int_equal(json_integer_value(json_object_get(root, "arena_size")),
                   4096);
  assert_true(json_is_true(json_object_get(root, "placements_logged")));
  json_t *pols = json_object_get(root, "policies");
  assert_int_equal(json_array_size(pols), 1);
  json_t *p = json_array_get(pols, 0);
  static const struct {
    const char *key;
    json_int_t want;
  } ints[] = {
      {"operations", 11},    {"allocations", 6},     {"failed_allocations", 1},
      {"frees", 3},          {"skipped_frees", 2},   {"hwm", 272},
      {"peak_live", 130},    {"peak_blocks", 224},   {"live_blocks", 2},
      {"free_bytes", 3968},  {"free_intervals", 3},  {"largest_free", 3888},
  };
  assert_string_equal(json_string_value(json_object_get(p, "policy")),
                      "first");
  for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
    json_t *v = json_object_get(p, ints[i].key);
    if (!json_is_integer(v) || json_integer_value(v) != ints[i].want)
      fail_msg("%s: want %lld", ints[i].key, (long long)ints[i].want);
  }
  assert_int_equal(json_integer_value(json_object_get(root, "operations")), 11);
  static const struct {
    const char *key;
    double want;
  } reals[] = {{"frag_hwm_live", 272.0 / 130.0 - 1.0},
               {"frag_hwm_blocks", 272.0 / 224.0 - 1.0},
               {"frag_blocks_live", 224.0 / 130.0 - 1.0}};
  for (size_t i = 0; i < sizeof reals / sizeof reals[0]; i++) {
    double f = json_real_value(json_object_get(p, reals[i].key));
    if (!(f > reals[i].want - 1e-9 && f < reals[i].want + 1e-9))
      fail_msg("%s: %.12f, want %.12f", reals[i].key, f, reals[i].want);
  }
  /* The times per operation are the times over the 11 operations. */
  double parse = json_real_value(json_object_get(root, "parse_seconds"));
  double parse_op = json_real_value(json_object_get(root, "parse_ns_per_op"));
  double replay = json_real_value(json_object_get(p, "replay_seconds"));
  double replay_op = json_real_value(json_object_get(p, "ns_per_op"));
  assert_true(parse > 0 && replay > 0);
  assert_true(parse_op > parse * 1e9 / 11 * 0.999 &&
              parse_op < parse * 1e9 / 11 * 1.001);
  assert_true(replay_op > replay * 1e9 / 11 * 0.999 &&
              replay_op < replay * 1e9 / 11 * 1.001);
  json_int_t memory_peak =
      json_integer_value(json_object_get(p, "memory_peak"));
  json_decref(root);

  /* The comparison table's columns are the same figures: first fit's
   * row has its failures, hwm, three ratios and the memory peak. */
  assert_int_equal(run(d, NULL, "replay --policy all --arena-size 4K t.trace"),
                   0);
  out = read_file(d, "out");
  const char *first = strstr(out, "\nfirst ");
  assert_non_null(first);
  unsigned long long failed, hwm, peak;
  double r1, r2, r3;
  assert_int_equal(sscanf(first, " first %llu %llu %lf %lf %lf %llu", &failed,
                          &hwm, &r1, &r2, &r3, &peak),
                   6);
  assert_int_equal(hwm, 272);
  assert_true(r1 > 1.0922 && r1 < 1.0924); /* 272 / 130 - 1, to 4 places */
  assert_true(r2 > 0.2142 && r2 < 0.2144); /* 272 / 224 - 1 */
  assert_true(r3 > 0.7230 && r3 < 0.7232); /* 224 / 130 - 1 */
  assert_int_equal(peak, memory_peak);
  free(out);
}

/* With the log on standard output, standard output holds the log alone
 * and the summary goes to standard error. */
static void test_log_on_stdout(void **state) {
  tmpdir_t *d = *state;
  write_file(d, "t.trace", trace1);
  assert_int_equal(run(d, NULL,
                       "replay --policy first --arena-size 4K --placements - "
                       "t.trace"),
                   0);
  char *out = read_file(d, "out");
  assert_string_equal(out, "1 16\n2 48\n3 176\n4 48\n5 -1\n5 224\n");
  free(out);
  char *err = read_file(d, "err");
  const char *hwm = strstr(err, "\nhwm ");
  unsigned long long v = 0;
  if (hwm == NULL || sscanf(hwm, " hwm %llu", &v) != 1 || v != 272)
    fail_msg("the summary on standard error should say hwm 272: %s", err);
  free(err);
}

/* A trace from a pipe that its writer keeps open: the log follows the
 * replay. The first placement is in the log file while the writer still
 * holds the pipe (it used to wait in a 64 KiB buffer for the end). */
static void test_log_follows_a_pipe(void **state) {
  tmpdir_t *d = *state;
  char log[256];
  snprintf(log, sizeof log, "%s", tmpdir_file(d, "follow.log"));
  int p[2];
  assert_int_equal(pipe(p), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    if (dup2(p[0], 0) < 0 || freopen("/dev/null", "w", stdout) == NULL)
      _exit(126);
    close(p[0]);
    close(p[1]);
    execl(ARENACTL, ARENACTL, "replay", "--policy", "first", "--arena-size",
          "1M", "--placements", log, "-", (char *)NULL);
    _exit(127);
  }
  close(p[0]);
  assert_int_equal(write(p[1], "a 1 16\n", 7), 7);
  bool seen = false;
  for (int i = 0; i < 100 && !seen; i++) { /* 10 s at most */
    usleep(100000);
    char *text = read_file(d, "follow.log");
    seen = strcmp(text, "1 16\n") == 0;
    free(text);
  }
  assert_int_equal(write(p[1], "a 2 16\n", 7), 7);
  close(p[1]);
  int status;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  assert_true(seen);
  char *text = read_file(d, "follow.log");
  assert_string_equal(text, "1 16\n2 48\n");
  free(text);
}

static void test_table_all_gz_stdin(void **state) {
  tmpdir_t *d = *state;
  gzFile gz = gzopen(tmpdir_file(d, "t.trace.gz"), "wb");
  assert_non_null(gz);
  assert_int_equal(gzputs(gz, trace1), (int)strlen(trace1));
  assert_int_equal(gzclose(gz), Z_OK);

  int rc = run(d, "t.trace.gz", "replay --policy all --arena-size 4KiB -");
  assert_int_equal(rc, 0);
  char *out = read_file(d, "out");
  /* one row per policy; first fit's hwm and failures as worked out */
  const char *names[] = {"\nfirst ", "\nnext ", "\nbest ", "\nworst ",
                         "\nbuddy "};
  for (size_t i = 0; i < 5; i++)
    if (strstr(out, names[i]) == NULL)
      fail_msg("no row%s in:\n%s", names[i], out);
  const char *first = strstr(out, "\nfirst ");
  unsigned long long failed = 0, hwm = 0;
  assert_int_equal(sscanf(first, " first %llu %llu", &failed, &hwm), 2);
  assert_int_equal(failed, 1);
  assert_int_equal(hwm, 272);
  assert_non_null(strstr(out, "11 operations"));
  assert_non_null(strstr(out, "parse time"));
  free(out);
}

static void test_single_table(void **state) {
  tmpdir_t *d = *state;
  write_file(d, "t.trace", trace1);
  assert_int_equal(run(d, NULL, "replay --policy buddy --arena-size 4K "
                                "t.trace"),
                   0);
  char *out = read_file(d, "out");
  /* the buddy figures worked out in test_replay.c */
  const char *want[] = {"hwm                        320\n",
                        "skipped frees              2\n",
                        "peak_blocks                288\n",
                        "free blocks at end         5\n",
                        "largest free block at end  2048\n",
                        "hwm/peak_live-1            1.4615\n",
                        "hwm/peak_blocks-1          0.1111\n",
                        "peak_blocks/peak_live-1    1.2154\n"};
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
    if (strstr(out, want[i]) == NULL)
      fail_msg("no \"%s\" in:\n%s", want[i], out);
  free(out);
}

/* --policy all at a size that is not a power of two: the four list
 * policies run, and buddy's row says why it did not (in the JSON, in
 * not_run beside the policies that ran); at a power of two all five run,
 * each with its own replay time. --policy buddy alone at that size is a
 * usage error. */
static void test_all_without_buddy(void **state) {
  tmpdir_t *d = *state;
  write_file(d, "t.trace", "a 1 10\na 2 100\na 3 5000\nf 2\nf 1\nf 3\n");
  int rc = run(d, NULL, "replay --policy all --arena-size 12K t.trace");
  char *out = read_file(d, "out");
  if (rc != 0) {
    char *err = read_file(d, "err");
    fail_msg("exit %d: %s", rc, err);
  }
  const char *names[] = {"\nfirst ", "\nnext ", "\nbest ", "\nworst "};
  for (size_t i = 0; i < 4; i++)
    if (strstr(out, names[i]) == NULL)
      fail_msg("no row%s in:\n%s", names[i], out);
  unsigned long long failed = 9, hwm = 0;
  assert_int_equal(
      sscanf(strstr(out, "\nfirst "), " first %llu %llu", &failed, &hwm), 2);
  assert_int_equal(failed, 0);
  assert_int_equal(hwm, 5184); /* 32 + 128 + 5024 bytes */
  if (strstr(out, "\nbuddy  not run: 12K is not a power of two\n") == NULL)
    fail_msg("no buddy row saying why in:\n%s", out);
  free(out);

  assert_int_equal(
      run(d, NULL, "replay --policy all --arena-size 12K --json t.trace"), 0);
  out = read_file(d, "out");
  json_error_t jerr;
  json_t *root = json_loads(out, 0, &jerr);
  if (root == NULL)
    fail_msg("not JSON (%s): %s", jerr.text, out);
  free(out);
  json_t *pols = json_object_get(root, "policies");
  assert_int_equal(json_array_size(pols), 4);
  assert_string_equal(
      json_string_value(json_object_get(json_array_get(pols, 3), "policy")),
      "worst");
  json_t *not_run = json_object_get(root, "not_run");
  assert_int_equal(json_array_size(not_run), 1);
  json_t *b = json_array_get(not_run, 0);
  assert_string_equal(json_string_value(json_object_get(b, "policy")), "buddy");
  assert_string_equal(json_string_value(json_object_get(b, "reason")),
                      "12K is not a power of two");
  json_decref(root);

  /* at a power of two nothing is left out */
  assert_int_equal(
      run(d, NULL, "replay --policy all --arena-size 16K --json t.trace"), 0);
  out = read_file(d, "out");
  root = json_loads(out, 0, &jerr);
  free(out);
  assert_non_null(root);
  assert_int_equal(json_array_size(json_object_get(root, "policies")), 5);
  assert_null(json_object_get(root, "not_run"));
  /* each policy's own replay time (five equal to the nanosecond would be
   * one engine's time given to all) */
  double t0 = json_real_value(json_object_get(
      json_array_get(json_object_get(root, "policies"), 0), "replay_seconds"));
  bool differ = false;
  for (size_t i = 1; i < 5; i++)
    differ |= json_real_value(json_object_get(
                  json_array_get(json_object_get(root, "policies"), i),
                  "replay_seconds")) != t0;
  assert_true(differ);
  json_decref(root);

  /* buddy alone at that size: a usage error that names its own rule */
  assert_int_equal(
      run(d, NULL, "replay --policy buddy --arena-size 12K t.trace"), 2);
  char *err = read_file(d, "err");
  if (strstr(err, "arena size 12K is not valid for buddy: it must be a "
                  "non-zero multiple of 4096 up to 2^48, and a power of "
                  "two\n") == NULL)
    fail_msg("stderr: %s", err);
  free(err);
}

/* The arena's size in bytes and, as `arenactl inspect` gives a size, in
 * the largest unit it reaches: 1 GiB, not 1024 MiB; one that is not a
 * whole number of it to a tenth, as inspect and list print it. */
static void test_arena_size_unit(void **state) {
  tmpdir_t *d = *state;
  write_file(d, "t.trace", "a 1 10\nf 1\n");
  static const struct {
    const char *size, *want;
  } sizes[] = {
      {"1G", "arena size                 1073741824 (1 GiB)\n"},
      {"12K", "arena size                 12288 (12 KiB)\n"},
      {"1536K", "arena size                 1572864 (1.5 MiB)\n"},
      {"1028K", "arena size                 1052672 (1.0 MiB)\n"},
  };
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    char args[128];
    snprintf(args, sizeof args, "replay --policy first --arena-size %s t.trace",
             sizes[i].size);
    assert_int_equal(run(d, NULL, args), 0);
    char *out = read_file(d, "out");
    if (strstr(out, sizes[i].want) == NULL)
      fail_msg("--arena-size %s: %s", sizes[i].size, out);
    free(out);
  }
  /* the comparison table's heading too */
  assert_int_equal(
      run(d, NULL, "replay --policy all --arena-size 1536K t.trace"), 0);
  char *out = read_file(d, "out");
  if (strstr(out, "; arena 1572864 (1.5 MiB)\n") == NULL)
    fail_msg("--policy all: %s", out);
  free(out);
}

/* Runs `arenactl <args>` in d with standard output to /dev/full and
 * standard error to d/err; returns the exit status. */
static int run_to_full(tmpdir_t *d, const char *args) {
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "cd '%s' && '%s' %s < /dev/null > /dev/full 2> err",
           d->path, ARENACTL, args);
  int status = system(cmd);
  assert_true(status != -1 && WIFEXITED(status));
  return WEXITSTATUS(status);
}

/* Output that cannot be written, the placements or the summary (a table,
 * the comparison table or JSON): exit 1, said on standard error by replay
 * itself, once, naming what it could not write (not main's catch-all
 * "writing the output failed"). */
static void test_output_fails(void **state) {
  tmpdir_t *d = *state;
  write_file(d, "t.trace", trace1);
  assert_int_equal(run(d, NULL,
                       "replay --policy first --arena-size 4K "
                       "--placements /dev/full t.trace"),
                   1);
  char *err = read_file(d, "err");
  assert_string_equal(err, "arenactl replay: cannot write /dev/full: No "
                           "space left on device\n");
  free(err);
  static const struct {
    const char *args, *err;
  } full[] = {
      {"replay --policy first --arena-size 4K t.trace",
       "arenactl replay: cannot write the summary: No space left on device\n"},
      {"replay --policy first --arena-size 4K --json t.trace",
       "arenactl replay: cannot write the summary: No space left on device\n"},
      {"replay --policy all --arena-size 4K t.trace",
       "arenactl replay: cannot write the summary: No space left on device\n"},
      {"replay --policy all --arena-size 4K --json t.trace",
       "arenactl replay: cannot write the summary: No space left on device\n"},
      /* the log fails first, and the summary is not tried */
      {"replay --policy first --arena-size 4K --placements - t.trace",
       "arenactl replay: cannot write standard output: No space left on "
       "device\n"},
  };
  for (size_t i = 0; i < sizeof full / sizeof full[0]; i++) {
    int rc = run_to_full(d, full[i].args);
    err = read_file(d, "err");
    if (rc != 1 || strcmp(err, full[i].err) != 0)
      fail_msg("arenactl %s > /dev/full: exit %d, stderr: %s", full[i].args, rc,
               err);
    free(err);
  }
}

/* A trace whose file name is not UTF-8 is named by a placeholder in the
 * JSON, which stays valid. */
static void test_json_name_not_utf8(void **state) {
  tmpdir_t *d = *state;
  write_file(d, "t\xff.trace", trace1);
  assert_int_equal(run(d, NULL,
                       "replay --policy first --arena-size 4K "
                       "--json 't\xff.trace'"),
                   0);
  char *out = read_file(d, "out");
  json_error_t jerr;
  json_t *root = json_loads(out, 0, &jerr);
  if (root == NULL)
    fail_msg("not JSON (%s): %s", jerr.text, out);
  free(out);
  assert_string_equal(json_string_value(json_object_get(root, "trace")),
                      "(a file name that is not UTF-8)");
  json_decref(root);
}

static void test_malformed_trace(void **state) {
  tmpdir_t *d = *state;
  write_file(d, "bad.trace", "a 1 10\n\n# c\na 2 x\n");
  assert_int_equal(run(d, NULL, "replay --policy first --arena-size 4K "
                                "bad.trace"),
                   1);
  char *err = read_file(d, "err");
  if (strstr(err, "bad.trace: line 4: ") == NULL)
    fail_msg("stderr: %s", err);
  free(err);

  /* an `a` of a live id: the replay names both lines */
  write_file(d, "bad.trace", "a 1 10\na 2 10\nf 2\na 1 10\n");
  assert_int_equal(run(d, NULL, "replay --policy next --arena-size 4K "
                                "bad.trace"),
                   1);
  err = read_file(d, "err");
  if (strstr(err, "line 4: ") == NULL || strstr(err, "line 1") == NULL)
    fail_msg("stderr: %s", err);
  free(err);

  assert_int_equal(run(d, NULL, "replay --policy first --arena-size 4K "
                                "missing.trace"),
                   1);
  err = read_file(d, "err");
  assert_string_equal(err, "arenactl replay: cannot open missing.trace: No "
                           "such file or directory\n");
  free(err);
}

/* An engine whose index does not fit in memory (here an address space of
 * 1 GiB; a 1 TiB buddy arena needs 8 GiB of bitsets) says so, instead of
 * "internal error"; with --policy all the other four run. Not under
 * AddressSanitizer, which needs terabytes of address space for itself. */
static void test_engine_out_of_memory(void **state) {
#if AR_TEST_UNDER_ASAN
  (void)state;
  skip();
#else
  tmpdir_t *d = *state;
  write_file(d, "t.trace", trace1);
  char cmd[1024];
  snprintf(cmd, sizeof cmd,
           "cd '%s' && ulimit -v 1048576 && '%s' replay --policy buddy "
           "--arena-size 1024G t.trace > out 2> err",
           d->path, ARENACTL);
  int status = system(cmd);
  assert_true(status != -1 && WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 1);
  char *err = read_file(d, "err");
  assert_non_null(strstr(err, "no memory for the buddy engine's index of a "
                              "1024G arena"));
  free(err);

  /* With --policy all the list policies still run, and buddy's row says
   * why it did not. */
  write_file(d, "ok.trace", "a 1 10\na 2 100\nf 1\n");
  snprintf(cmd, sizeof cmd,
           "cd '%s' && ulimit -v 1048576 && '%s' replay --policy all "
           "--arena-size 1024G ok.trace > out 2> err",
           d->path, ARENACTL);
  status = system(cmd);
  assert_true(status != -1 && WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 0);
  char *out = read_file(d, "out");
  if (strstr(out, "\nfirst ") == NULL || strstr(out, "\nworst ") == NULL ||
      strstr(out, "\nbuddy  not run: no memory for the bitsets of a 1024G "
                  "arena (1/128 of its size)\n") == NULL)
    fail_msg("not four rows and buddy's reason:\n%s", out);
  free(out);
#endif
}

/* "--via-daemon" as a file's name, after "--" or as the value of
 * --placements, is a name, not the option of the replay through a
 * daemon. */
static void test_via_daemon_as_a_name(void **state) {
  tmpdir_t *d = *state;
  write_file(d, "--via-daemon", "a 1 10\nf 1\n");
  int rc =
      run(d, NULL, "replay --policy first --arena-size 4K -- --via-daemon");
  char *out = read_file(d, "out");
  if (rc != 0 || strstr(out, "operations                 2\n") == NULL)
    fail_msg("exit %d:\n%s", rc, out);
  free(out);
  write_file(d, "t.trace", "a 1 10\n");
  assert_int_equal(run(d, NULL,
                       "replay --policy first --arena-size 4K "
                       "--placements --via-daemon t.trace"),
                   0);
  char *log = read_file(d, "--via-daemon");
  assert_string_equal(log, "1 16\n");
  free(log);
}

/* --placements naming the trace itself, by its name or through a hard
 * link: a usage error, and the trace is left as it was (before, the log's
 * creation emptied it and the replay of nothing "succeeded"). */
static void test_log_is_the_trace(void **state) {
  tmpdir_t *d = *state;
  write_file(d, "t.trace", trace1);
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s", tmpdir_file(d, "t.trace"));
  assert_int_equal(link(path, tmpdir_file(d, "l.trace")), 0);
  static const char *const logs[] = {"t.trace", "./t.trace", "l.trace"};
  for (size_t i = 0; i < sizeof logs / sizeof logs[0]; i++) {
    char args[256], want[256];
    snprintf(args, sizeof args,
             "replay --policy first --arena-size 4K --placements %s t.trace",
             logs[i]);
    int rc = run(d, NULL, args);
    char *err = read_file(d, "err"), *text = read_file(d, "t.trace");
    snprintf(want, sizeof want,
             "arenactl replay: --placements %s is the trace itself, which "
             "writing the log would destroy\n",
             logs[i]);
    if (rc != 2 || strcmp(err, want) != 0 || strcmp(text, trace1) != 0)
      fail_msg("arenactl %s: exit %d, stderr: %s, the trace now: %s", args, rc,
               err, text);
    free(err);
    free(text);
  }
}

static void test_usage_errors(void **state) {
  tmpdir_t *d = *state;
  write_file(d, "t.trace", trace1);
  static const char *bad[] = {
      "",
      "nosuchcommand",
      "replay",
      "replay t.trace",
      "replay --policy first t.trace",
      "replay --policy fifo --arena-size 4K t.trace",
      "replay --policy first --arena-size 4X t.trace",
      "replay --policy first --arena-size 100 t.trace", /* not 4096-based */
      "replay --policy buddy --arena-size 12K t.trace", /* not a power of 2 */
      "replay --policy all --arena-size 100 t.trace",   /* not for any policy */
      "replay --policy all --arena-size 4K --placements log t.trace",
      "replay --policy first --arena-size 4K t.trace t.trace",
      "replay --policy first --arena-size 4K --bogus t.trace",
      /* both to standard output */
      "replay --policy first --arena-size 4K --placements - --json t.trace",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    int rc = run(d, NULL, bad[i]);
    if (rc != 2)
      fail_msg("'arenactl %s' exited %d, want 2", bad[i], rc);
    char *err = read_file(d, "err");
    if (err[0] == '\0')
      fail_msg("'arenactl %s' said nothing on standard error", bad[i]);
    free(err);
  }
  assert_int_equal(run(d, NULL, "replay --help"), 0);
  assert_int_equal(run(d, NULL, "--help"), 0);
  /* replay runs in process or, with --via-daemon, through the daemon:
   * the list of commands says both */
  char *out = read_file(d, "out");
  if (strstr(out, "\n  replay     replay a trace on the policy engines, or "
                  "through the daemon\n") == NULL)
    fail_msg("arenactl --help: %s", out);
  free(out);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_log_and_json, tmpdir_make,
                                      tmpdir_remove),
      cmocka_unit_test_setup_teardown(test_log_on_stdout, tmpdir_make,
                                      tmpdir_remove),
      cmocka_unit_test_setup_teardown(test_log_follows_a_pipe, tmpdir_make,
                                      tmpdir_remove),
      cmocka_unit_test_setup_teardown(test_table_all_gz_stdin, tmpdir_make,
                                      tmpdir_remove),
      cmocka_unit_test_setup_teardown(test_single_table, tmpdir_make,
                                      tmpdir_remove),
      cmocka_unit_test_setup_teardown(test_all_without_buddy, tmpdir_make,
                                      tmpdir_remove),
      cmocka_unit_test_setup_teardown(test_arena_size_unit, tmpdir_make,
                                      tmpdir_remove),
      cmocka_unit_test_setup_teardown(test_output_fails, tmpdir_make,
                                      tmpdir_remove),
      cmocka_unit_test_setup_teardown(test_json_name_not_utf8, tmpdir_make,
                                      tmpdir_remove),
      cmocka_unit_test_setup_teardown(test_malformed_trace, tmpdir_make,
                                      tmpdir_remove),
      cmocka_unit_test_setup_teardown(test_engine_out_of_memory, tmpdir_make,
                                      tmpdir_remove),
      cmocka_unit_test_setup_teardown(test_via_daemon_as_a_name, tmpdir_make,
                                      tmpdir_remove),
      cmocka_unit_test_setup_teardown(test_log_is_the_trace, tmpdir_make,
                                      tmpdir_remove),
      cmocka_unit_test_setup_teardown(test_usage_errors, tmpdir_make,
                                      tmpdir_remove),
  };
  return cmocka_run_group_tests_name("arenactl_replay", tests, NULL, NULL);
}
