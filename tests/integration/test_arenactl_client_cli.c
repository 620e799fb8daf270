/*
 * test_arenactl_client_cli.c: arenactl's command line and output, against
 * a real arenad, run as a program (arenactl_harness.h): exit codes (0
 * success, 1 failure, 2 usage) and the messages on standard error (a
 * --socket that is empty, too long, names no socket or a stale one;
 * --socket after the command; a /tmp fallback directory that is not
 * private; numbers that are decimal, a leading 0 included, or 0x or 0X
 * hex, and nothing else), -h and --help anywhere, --version, output that
 * cannot be written (a full disk, a pipe with no reader, an error before
 * the last write): a failure with a message, and an alloc gives its blocks
 * back; and --timeout, against a socket that takes connections and never
 * answers, and one whose backlog is full.
 */
#include "arenactl_harness.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static void test_errors(void **state) {
  (void)state;
  run_t *r = RUN("frobnicate");
  expect_status(r, 2);
  r = RUN("alloc", "alpha");
  expect_status(r, 2);
  r = RUN("alloc", "alpha", "12x");
  expect_status(r, 2);
  assert_non_null(strstr(r->err, "invalid SIZE '12x' (bytes, with an "
                                 "optional K, M or G suffix)"));
  r = RUN("free", "alpha", "zz");
  expect_status(r, 2);
  r = RUN("inspect", "alpha", "--bogus");
  expect_status(r, 2);
  assert_non_null(strstr(r->err, "arenactl inspect: unknown option '--bogus'"));
  /* In a cluster of short options, the letter that is unknown. */
  r = RUN("inspect", "alpha", "--json", "-xy");
  expect_status(r, 2);
  assert_non_null(strstr(r->err, "arenactl inspect: unknown option '-x'"));
  /* ... also after an argument with an '=' in it, which is no long option
   * given a value. */
  r = RUN("inspect", "a=b", "-xy");
  expect_status(r, 2);
  assert_non_null(strstr(r->err, "arenactl inspect: unknown option '-x'"));
  assert_null(strstr(r->err, "takes no value"));
  r = RUN("alloc", "alpha", "1", "--align");
  expect_status(r, 2);
  assert_non_null(
      strstr(r->err, "arenactl alloc: option '--align' needs a value"));
  /* An alignment is written as a size is; what it may be is said. */
  r = RUN("alloc", "alpha", "1", "--align", "0x10");
  expect_status(r, 2);
  assert_string_equal(r->err, "arenactl alloc: invalid --align '0x10' (a "
                              "power of two from 16 to 4096 bytes, with an "
                              "optional K suffix, or 0 for the default)\n");
  /* One that parses but the daemon refuses: its message, exit 1. */
  r = RUN("alloc", "alpha", "1", "--align", "8K");
  expect_status(r, 1);
  assert_non_null(
      strstr(r->err, "alignment 8192 is not a power of two from 16 to 4096"));
  r = RUN("alloc", "alpha", "2M");
  expect_status(r, 1);
  assert_true(strlen(r->err) > 0);
  r = RUN("inspect", "nope");
  expect_status(r, 1);
  assert_non_null(strstr(r->err, "nope"));

  char bad[160];
  snprintf(bad, sizeof bad, "%s/none.sock", daemon_.dir);
  r = arenactl(bad, (const char *const[]){"list", NULL});
  expect_status(r, 1);
  assert_non_null(strstr(r->err, "cannot connect"));
  /* No daemon there, or a stale socket that nobody listens on: both ask
   * whether arenad runs. */
  assert_non_null(strstr(r->err, ": No such file or directory (is arenad "
                                 "running? --socket or $ARENAD_SOCKET name "
                                 "its socket)"));
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  snprintf(bad, sizeof bad, "%s/stale.sock", daemon_.dir);
  assert_true(strlen(bad) < sizeof sa.sun_path);
  strcpy(sa.sun_path, bad);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  assert_true(fd >= 0);
  assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
  close(fd); /* the file stays, and refuses connections */
  r = arenactl(bad, (const char *const[]){"list", NULL});
  expect_status(r, 1);
  assert_non_null(strstr(r->err, ": Connection refused (is arenad running?"));
  unlink(bad);
  r = arenactl(NULL, (const char *const[]){"--socket", NULL});
  expect_status(r, 2);
  r = arenactl(NULL, (const char *const[]){"--socket=", "list", NULL});
  expect_status(r, 2);
  assert_non_null(strstr(r->err, "--socket needs a PATH"));
  r = arenactl("", (const char *const[]){"list", NULL}); /* --socket "" */
  expect_status(r, 2);
  assert_non_null(strstr(r->err, "--socket needs a PATH"));
  /* A path too long for a socket address is said to be, as arenad says
   * it. */
  char long_path[120];
  snprintf(long_path, sizeof long_path, "/tmp/%0105d", 0); /* 110 bytes */
  r = arenactl(long_path, (const char *const[]){"ping", NULL});
  expect_status(r, 1);
  assert_non_null(strstr(r->err, "arenactl ping: --socket: path longer than "
                                 "107 bytes, the most a Unix socket address "
                                 "holds: /tmp/000"));
  assert_non_null(strstr(r->err, " (110 bytes)\n"));
  /* A path that is no socket is named as such, not as a daemon down. */
  snprintf(bad, sizeof bad, "%s/arenad.log", daemon_.dir);
  r = arenactl(bad, (const char *const[]){"list", NULL});
  expect_status(r, 1);
  assert_non_null(strstr(r->err, "it is not a socket"));
  /* --socket may also come after the command and its arguments. */
  r = arenactl(NULL,
               (const char *const[]){"list", "--socket", daemon_.sock, NULL});
  expect_status(r, 0);
  assert_non_null(strstr(r->out, "alpha"));
  r = arenactl(NULL, (const char *const[]){"inspect", "alpha", "--socket=x",
                                           "--socket", daemon_.sock, NULL});
  expect_status(r, 0); /* the last one counts */

  /* Several bad offsets: each named with what is wrong. */
  r = RUN("free", "alpha", "150", "160", "4100");
  expect_status(r, 1);
  assert_non_null(strstr(r->err, "offset 150 is not a live block"));
  assert_non_null(strstr(r->err, "offset 160 is not a live block"));
  assert_non_null(strstr(r->err, "offset 4100 is not a live block"));
  /* A failure of the whole request is not blamed on the offsets. */
  r = RUN("free", "nosuch", "1", "2");
  expect_status(r, 1);
  assert_null(strstr(r->err, "is not a live block"));
  /* An empty ARENA is a usage error of every command that takes one,
   * said before anything is sent. */
  static const char *const empty[][6] = {
      {"alloc", "", "16"},
      {"free", "", "16"},
      {"inspect", ""},
      {"check", ""},
      {"create", "", "1M", "first"},
      {"destroy", ""},
      {"replay", "--via-daemon=", "t.trace"},
      {"bench", "--arena", ""},
  };
  for (size_t i = 0; i < sizeof empty / sizeof empty[0]; i++) {
    r = arenactl(daemon_.sock, empty[i]);
    char want[64];
    snprintf(want, sizeof want, "arenactl %s: ARENA is empty\n", empty[i][0]);
    if (r->status != 2 || strcmp(r->err, want) != 0)
      fail_msg("arenactl %s with an empty ARENA: status %d, stderr: %s",
               empty[i][0], r->status, r->err);
  }
  /* "--" before the command only ends the options. */
  r = arenactl(NULL, (const char *const[]){"--socket", daemon_.sock, "--",
                                           "list", NULL});
  expect_status(r, 0);
  r = RUN("bench", "--seconds", "0");
  expect_status(r, 2);
  assert_string_equal(r->err, "arenactl bench: invalid --seconds '0' "
                              "(seconds, more than 0 and at most 3600)\n");
  r = RUN("bench", "--window", "65537");
  expect_status(r, 2);
  assert_string_equal(r->err, "arenactl bench: invalid --window '65537' (a "
                              "count from 1 to 65536)\n");
}

/* What the child of test_unsafe_socket_directory runs as its uid:
 * `arenactl list` at the default socket path, its standard error on the
 * pipe whose write end is *arg. Returns arenactl's exit status. */
static int list_at_default_path(void *arg) {
  if (dup2(*(const int *)arg, 2) < 0)
    return 126;
  unsetenv("ARENAD_SOCKET");
  unsetenv("XDG_RUNTIME_DIR");
  execl(ARENACTL, ARENACTL, "list", (char *)NULL);
  return 127;
}

/* A /tmp fallback directory open to others is refused, and said why, as
 * arenad says it: not "permission denied", which reads as a permission
 * the user lacks rather than one that others have. Run as a uid of its
 * own, whose directory nobody else uses; needs root, and a uid without
 * /run/user/UID. */
static void test_unsafe_socket_directory(void **state) {
  (void)state;
  const uint32_t uid = 54329;
  char run[64], dir[64];
  struct stat st;
  snprintf(run, sizeof run, "/run/user/%u", (unsigned)uid);
  snprintf(dir, sizeof dir, "/tmp/arenad-%u", (unsigned)uid);
  if (getuid() != 0 || stat(run, &st) == 0 || mkdir(dir, 0700) < 0) {
    skip();
    return;
  }
  int p[2] = {-1, -1}, status = -1;
  bool made =
      chown(dir, uid, uid) == 0 && chmod(dir, 0755) == 0 && pipe(p) == 0;
  if (made)
    status = it_run_as(uid, uid, NULL, 0, list_at_default_path, &p[1]);
  rmdir(dir); /* before any assertion: nothing is left behind */
  assert_true(made);
  close(p[1]);
  char err[512], want[512];
  ssize_t n = read(p[0], err, sizeof err - 1);
  close(p[0]);
  err[n > 0 ? n : 0] = '\0';
  assert_int_equal(status, 1);
  snprintf(want, sizeof want,
           "arenactl list: no usable socket path: %s is not a private "
           "directory of uid %u (it must be a directory owned by you with "
           "mode 0700, as arenad makes it; --socket or $ARENAD_SOCKET name "
           "a socket elsewhere)\n",
           dir, (unsigned)uid);
  assert_string_equal(err, want);
}

/* Numbers are decimal, a leading 0 included, or 0x or 0X hex; nothing
 * else. */
static void test_numbers(void **state) {
  (void)state;
  run_t *r = RUN("alloc", "alpha", "16", "--count", "010");
  expect_status(r, 0);
  uint64_t off[10];
  int n = 0;
  for (char *line = strtok(r->out, "\n"); line != NULL && n < 10;
       line = strtok(NULL, "\n"))
    off[n++] = strtoull(line, NULL, 10);
  assert_int_equal(n, 10); /* ten, not octal's eight */
  assert_int_equal(live_blocks("alpha"), 10);

  char lead[32], hex[32];
  snprintf(lead, sizeof lead, "00%llu", (unsigned long long)off[0]);
  /* 0X as well as 0x (test_arenactl_client_blocks.c has the lower case) */
  snprintf(hex, sizeof hex, "0X%llX", (unsigned long long)off[1]);
  expect_status(RUN("free", "alpha", lead, hex), 0);
  assert_int_equal(live_blocks("alpha"), 8);
  const char *bad[] = {
      "-16", " 16", "+16",    "0x",     "0x-1",
      "1e3", "16 ", "0x0x10", "0X0x10", "18446744073709551616"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    r = RUN("free", "alpha", bad[i]);
    expect_status(r, 2);
    char want[128];
    snprintf(want, sizeof want,
             "arenactl free: invalid OFFSET '%s' (a payload offset, decimal "
             "or 0x hex, below 2^64)\n",
             bad[i]);
    assert_string_equal(r->err, want);
  }
  char rest[8][32];
  for (int i = 0; i < 8; i++)
    snprintf(rest[i], sizeof rest[i], "%llu", (unsigned long long)off[i + 2]);
  expect_status(RUN("free", "alpha", rest[0], rest[1], rest[2], rest[3],
                    rest[4], rest[5], rest[6], rest[7]),
                0);
  assert_int_equal(live_blocks("alpha"), 0);
  /* An arena and no offset; a count past 32 bits. */
  r = RUN("free", "alpha");
  expect_status(r, 2);
  assert_non_null(strstr(r->err, "expected ARENA and at least one OFFSET"));
  expect_status(RUN("create", "x", "4K", "first", "--mode", " 644"), 2);
  expect_status(RUN("create", "x", "4K", "first", "--mode", "-0"), 2);
  /* A negative SIZE is an invalid SIZE, not an unknown option, wherever it
   * stands among the options. */
  const char *const negative[][7] = {
      {"alloc", "alpha", "-1"},
      {"alloc", "--json", "alpha", "-16", "--count", "2"},
      {"create", "b7", "-1", "first"},
      {"create", "b7", "-0x1000", "first", "--json"},
  };
  for (size_t i = 0; i < sizeof negative / sizeof negative[0]; i++) {
    r = arenactl(daemon_.sock, negative[i]);
    if (r->status != 2 || strstr(r->err, "invalid SIZE '-") == NULL ||
        strstr(r->err, "unknown option") != NULL)
      fail_msg("arenactl %s ... %s: status %d, stderr: %s", negative[i][0],
               negative[i][2], r->status, r->err);
  }
  /* A refused value says what it should have been: a count's range, a
   * mode's, a user or group, and for a size its form, or that no 64 bits
   * hold it (usage errors, exit 2). */
  static const struct {
    const char *argv[8];
    const char *err;
  } refused[] = {
      {{"alloc", "alpha", "16", "--count", "4294967296"},
       "arenactl alloc: invalid --count '4294967296' (a count from 1 to "
       "4294967295)\n"},
      {{"create", "x", "4K", "first", "--mode", "1000"},
       "arenactl create: invalid --mode '1000' (permission bits in octal, 0 "
       "to 0777)\n"},
      {{"create", "x", "4K", "first", "--owner", "no such user"},
       "arenactl create: invalid --owner 'no such user' (a user's name, or "
       "a uid below 4294967295)\n"},
      {{"create", "x", "4K", "first", "--group", "4294967295"},
       "arenactl create: invalid --group '4294967295' (a group's name, or a "
       "gid below 4294967295)\n"},
      {{"create", "x", "4K", "first", "--quota-blocks", "1K"},
       "arenactl create: invalid --quota-blocks '1K' (a count, decimal or 0x "
       "hex)\n"},
      {{"alloc", "alpha", "-16"},
       "arenactl alloc: invalid SIZE '-16' (bytes, with an optional K, M or G "
       "suffix)\n"},
      {{"alloc", "alpha", "99999999999999999999G"},
       "arenactl alloc: invalid SIZE '99999999999999999999G' (more bytes "
       "than 64 bits hold)\n"},
      {{"create", "b7", "18446744073709551616", "first"},
       "arenactl create: invalid SIZE '18446744073709551616' (more bytes "
       "than 64 bits hold)\n"},
      {{"create", "b7", "64K", "first", "--quota-bytes",
        "18446744073709551616"},
       "arenactl create: invalid --quota-bytes '18446744073709551616' (more "
       "bytes than 64 bits hold)\n"},
      {{"create", "b7", "64K", "first", "--quota-bytes", "1X"},
       "arenactl create: invalid --quota-bytes '1X' (bytes, with an optional "
       "K, M or G suffix)\n"},
      {{"bench", "--size", "99999999999999999999G"},
       "arenactl bench: invalid --size '99999999999999999999G' (more bytes "
       "than 64 bits hold)\n"},
      {{"bench", "--size", "0"},
       "arenactl bench: invalid --size '0' (at least 1 byte)\n"},
  };
  for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
    r = arenactl(daemon_.sock, refused[i].argv);
    expect_status(r, 2);
    assert_string_equal(r->err, refused[i].err);
  }
}

/* Output that cannot be written is a failure with a message, and an alloc
 * whose offsets were not written gives its blocks back. */
static void test_output_fails(void **state) {
  (void)state;
  out_to = "/dev/full";
  const char *const cmds[][5] = {
      {"ping"},
      {"list"},
      {"stats"},
      {"inspect", "alpha", "--blocks"},
      {"check", "alpha"},
      {"list", "--json"},
      /* what is printed without asking the daemon too */
      {"--version"},
      {"--help"},
      {"list", "--help"},
      {"replay", "-h"},
  };
  for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
    run_t *r = arenactl(daemon_.sock, cmds[i]);
    if (r->status != 1 || strstr(r->err, "writing the output failed") == NULL)
      fail_msg("arenactl %s >/dev/full: status %d, stderr: %s", cmds[i][0],
               r->status, r->err);
  }
  /* create and destroy did their work, and say they could not say so */
  const char *const admin[][5] = {{"create", "zeta", "64K", "first"},
                                  {"destroy", "zeta"}};
  for (size_t i = 0; i < sizeof admin / sizeof admin[0]; i++) {
    run_t *r = arenactl(daemon_.sock, admin[i]);
    if (r->status != 1 || strstr(r->err, "writing the output failed") == NULL)
      fail_msg("arenactl %s >/dev/full: status %d, stderr: %s", admin[i][0],
               r->status, r->err);
  }
  /* bench's table and JSON, measured as briefly as bench allows: said
   * once (a bench that said it and returned success would have main's
   * catch-all say it again; one that never checked is caught by that
   * catch-all alone, in the same words) */
  const char *const bench[][16] = {
      {"bench", "--arena", "alpha", "--ops", "10", "--seconds", "0.01",
       "--threads", "1", "--window", "4", "--count", "1"},
      {"bench", "--arena", "alpha", "--ops", "10", "--seconds", "0.01",
       "--threads", "1", "--window", "4", "--count", "1", "--json"},
  };
  for (size_t i = 0; i < sizeof bench / sizeof bench[0]; i++) {
    run_t *r = arenactl(daemon_.sock, bench[i]);
    if (r->status != 1 ||
        strcmp(r->err, "arenactl bench: writing the output failed\n") != 0)
      fail_msg("arenactl bench%s >/dev/full: status %d, stderr: %s",
               i == 1 ? " --json" : "", r->status, r->err);
  }
  run_t *r = RUN("alloc", "alpha", "64", "--count", "5000");
  out_to = NULL;
  expect_status(r, 1);
  assert_string_equal(r->err,
                      "arenactl alloc: writing the output failed\n"
                      "arenactl alloc: alpha: the 5000 blocks allocated were "
                      "given back, their offsets not written\n");
  assert_int_equal(live_blocks("alpha"), 0);
}

/* Output to a pipe whose reader is gone fails as output to a full disk
 * does: exit status 1 with a message, and an alloc gives its blocks back
 * (rather than SIGPIPE killing arenactl with them left detached, their
 * offsets told to no one). With standard output closed (`>&-`) the same:
 * before, the connection to the daemon took descriptor 1, the offsets went
 * into it, and alloc exited 0 with its blocks left allocated. */
static void test_output_to_nowhere(void **state) {
  (void)state;
  const char *const nowhere[] = {closed_pipe, closed_stdout};
  for (size_t i = 0; i < 2; i++) {
    out_to = nowhere[i]; /* setup sets it back for the next test */
    run_t *r = RUN("alloc", "alpha", "64", "--count", "5");
    if (r->status != 1 || !strstr(r->err, "writing the output failed") ||
        !strstr(r->err, "the 5 blocks allocated were given back"))
      fail_msg("alloc to %s: status %d, stderr: %s", nowhere[i], r->status,
               r->err);
    assert_int_equal(live_blocks("alpha"), 0);
    r = RUN("inspect", "alpha", "--json");
    if (r->status != 1 || !strstr(r->err, "writing the output failed"))
      fail_msg("inspect to %s: status %d, stderr: %s", nowhere[i], r->status,
               r->err);
  }
}

/* An output error that comes before the last write fails the command too.
 * The fake daemon's arena name is longer than standard output's buffer, so
 * the write of the table's last row is the one that fails: glibc drops what
 * it could not write, and the final fflush, with nothing left to write,
 * succeeds; only the stream's error flag still tells. */
static void test_output_fails_before_the_end(void **state) {
  (void)state;
  pid_t fake = fake_daemon(fake_path(), 1);
  out_to = "/dev/full";
  run_t *r = arenactl(fake_path(), (const char *const[]){"list", NULL});
  out_to = NULL;
  expect_status(r, 1);
  assert_string_equal(r->err, "arenactl list: writing the output failed\n");
  fake_done(fake);
}

/* Usage errors say what was wrong; replay takes its options anywhere. */
static void test_usage_messages(void **state) {
  (void)state;
  run_t *r = RUN("inspect", "alpha", "--blocks=1");
  expect_status(r, 2);
  assert_non_null(strstr(r->err, "option '--blocks' takes no value"));
  r = RUN("inspect", "alpha", "--no-such");
  expect_status(r, 2);
  assert_non_null(strstr(r->err, "unknown option '--no-such'"));

  /* -h or --help anywhere among a command's arguments prints its usage on
   * standard output and exits 0; nothing else is checked or done, not even
   * an unknown option or a bad value before it. */
  const char *const helps[][6] = {
      {"free", "priv", "--help"},
      {"free", "priv", "16", "-h"},
      {"list", "-h"},
      {"alloc", "alpha", "-h", "16"},
      {"inspect", "alpha", "--blocks", "-h"},
      {"check", "-h"},
      {"ping", "--json", "-h"},
      {"stats", "-h"},
      {"create", "x", "-h"},
      {"destroy", "--force", "-h", "alpha"},
      {"replay", "-h"},
      {"replay", "--via-daemon", "x", "-h"},
      {"bench", "-h"},
      {"inspect", "alpha", "--no-such", "-h"},
      {"alloc", "alpha", "--count", "bad", "-h"},
      {"create", "x", "--mode", "999", "--help"},
      {"list", "--json=1", "-h"},
      {"replay", "--via-daemon", "x", "--no-such", "-h"},
  };
  for (size_t i = 0; i < sizeof helps / sizeof helps[0]; i++) {
    r = arenactl(daemon_.sock, helps[i]);
    char want[64];
    snprintf(want, sizeof want, " %s ", helps[i][0]);
    const char *nl = strchr(r->out, '\n');
    const char *cmd = strstr(r->out, want);
    if (r->status != 0 || r->err[0] != '\0' ||
        strncmp(r->out, "usage: arenactl ", 16) != 0 || cmd == NULL ||
        nl == NULL || cmd > nl)
      fail_msg("arenactl %s ... %s: status %d, stdout: %s, stderr: %s",
               helps[i][0], helps[i][1], r->status, r->out, r->err);
  }
  assert_int_equal(live_blocks("alpha"), 0);
  /* alloc's help says what --align 0 means, which alloc takes. */
  r = RUN("alloc", "--help");
  assert_non_null(strstr(r->out, "--align A   payload alignment, a power of "
                                 "two from 16 to 4096\n"
                                 "              (K suffix allowed: 4K), or 0 "
                                 "for the default, 16\n"));

  /* --version: the version of this build, which the daemon reports too. */
  r = RUN("ping", "--json");
  expect_status(r, 0);
  json_t *ping = parse(r);
  char version[128];
  snprintf(version, sizeof version, "arenactl %s (protocol 1)\n",
           json_string_value(json_object_get(ping, "daemon_version")));
  json_decref(ping);
  r = arenactl(NULL, (const char *const[]){"--version", NULL});
  expect_status(r, 0);
  assert_string_equal(r->out, version);

  char trace[200];
  snprintf(trace, sizeof trace, "%s/t.trace", daemon_.dir);
  FILE *f = fopen(trace, "w");
  assert_non_null(f);
  fputs("a 1 100\na 2 50\nf 1\n", f);
  fclose(f);
  r = RUN("replay", trace, "--policy", "first", "--arena-size", "1M", "--json");
  expect_status(r, 0);
  json_t *j = parse(r);
  json_decref(j);
  /* A --window over the daemon's limit (max_in_flight, 1024) is reduced to
   * it, with a notice. */
  r = RUN("replay", "--via-daemon", "alpha", "--window", "999999", trace);
  expect_status(r, 0);
  assert_non_null(strstr(r->err, "arenactl replay: --window 999999 is over "
                                 "the daemon's limit of 1024 requests in "
                                 "flight; using 1024\n"));
  r = RUN("replay", "--via-daemon", "alpha", "--window", "1024", trace);
  expect_status(r, 0);
  assert_null(strstr(r->err, "--window"));
  r = RUN("replay", "--via-daemon", "alpha", "--window", "0", trace);
  expect_status(r, 2);
  assert_string_equal(r->err, "arenactl replay: invalid --window '0' (a "
                              "count, at least 1)\n");

  /* With --via-daemon too, a bad option is named as it was written: the
   * unknown letter of a cluster (not the argument before it), and a value
   * given to an option that takes none (not an unknown option). */
  r = RUN("replay", "--via-daemon", "alpha", "-xy", trace);
  expect_status(r, 2);
  assert_non_null(strstr(r->err, "arenactl replay: unknown option '-x'"));
  assert_null(strstr(r->err, "'alpha'"));
  r = RUN("replay", "--via-daemon", "alpha", "--json=1", trace);
  expect_status(r, 2);
  assert_non_null(
      strstr(r->err, "arenactl replay: option '--json' takes no value"));
  /* An option of the offline replay only is still told apart. */
  r = RUN("replay", "--via-daemon", "alpha", "--policy", "first", trace);
  expect_status(r, 2);
  assert_non_null(strstr(r->err, "unknown option '--policy' with "
                                 "--via-daemon (the daemon's arena gives "
                                 "the policy and size)"));
}

/* --timeout SECONDS: against a socket whose listener never answers (the
 * kernel completes the connection; nobody accepts it), arenactl gives up
 * after the timeout and says so, exit 1. Bad values are usage errors;
 * the daemon's own answers are not cut short by a timeout. */
static void test_timeout(void **state) {
  (void)state;
  char silent[200];
  snprintf(silent, sizeof silent, "%s/silent.sock", daemon_.dir);
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  assert_true(strlen(silent) < sizeof sa.sun_path);
  strcpy(sa.sun_path, silent);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  assert_true(fd >= 0);
  assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
  assert_int_equal(listen(fd, 8), 0);

  run_t *r =
      arenactl(silent, (const char *const[]){"--timeout", "0.3", "ping", NULL});
  expect_status(r, 1);
  assert_non_null(strstr(r->err, "arenactl ping: "));
  assert_non_null(strstr(r->err, "sent nothing for 0.300 s"));
  r = arenactl(silent, (const char *const[]){"list", "--timeout=0.05", NULL});
  expect_status(r, 1);
  assert_non_null(strstr(r->err, "sent nothing for 0.050 s"));
  /* Rounded to the millisecond, and never to 0 (which would not wait at
   * all) unless 0 was asked. */
  r = arenactl(silent,
               (const char *const[]){"--timeout", "0.0015", "ping", NULL});
  expect_status(r, 1);
  assert_non_null(strstr(r->err, "sent nothing for 0.002 s"));
  r = arenactl(silent,
               (const char *const[]){"--timeout", "0.0001", "ping", NULL});
  expect_status(r, 1);
  assert_non_null(strstr(r->err, "sent nothing for 0.001 s"));
  close(fd);
  unlink(silent);

  /* A listener whose backlog is full: the connect itself is timed. */
  fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  assert_true(fd >= 0);
  assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
  assert_int_equal(listen(fd, 0), 0);
  int filler = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  assert_int_equal(connect(filler, (struct sockaddr *)&sa, sizeof sa), 0);
  r = arenactl(silent, (const char *const[]){"--timeout", "0.3", "ping", NULL});
  expect_status(r, 1);
  assert_non_null(strstr(r->err, "arenactl ping: cannot connect to "));
  assert_non_null(strstr(r->err, "did not take the connection within the "
                                 "--timeout"));
  close(filler);
  close(fd);
  unlink(silent);

  r = RUN("--timeout", "1.5", "list");
  expect_status(r, 0);
  assert_non_null(strstr(r->out, "alpha"));
  r = RUN("list", "--timeout", "0");
  expect_status(r, 0);
  r = RUN("list", "--timeout", ".5");
  expect_status(r, 0);
  /* The most seconds whose milliseconds fit in an int, and no more. */
  r = RUN("list", "--timeout", "2147483");
  expect_status(r, 0);
  r = RUN("list", "--timeout", "2147484");
  expect_status(r, 2);
  assert_non_null(strstr(r->err, "invalid --timeout '2147484' (seconds, up "
                                 "to 2147483,"));
  const char *const bad[] = {"x",  "-1", "",     "1e9", "1e2", "0x10",
                             " 2", "2s", "1..5", ".",   "-.5", ".e1"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    r = RUN("list", "--timeout", bad[i]);
    expect_status(r, 2);
    assert_non_null(strstr(r->err, bad[i][0] == '\0'
                                       ? "arenactl: --timeout needs SECONDS"
                                       : "arenactl: invalid --timeout"));
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
      T(test_errors),
      T(test_numbers),
      T(test_unsafe_socket_directory),
      T(test_output_fails),
      T(test_output_fails_before_the_end),
      T(test_output_to_nowhere),
      T(test_usage_messages),
      T(test_timeout),
#undef T
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
