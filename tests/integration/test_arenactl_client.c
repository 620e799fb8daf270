/*
 * test_arenactl_client.c: arenactl's commands against a real arenad, run as
 * a program: list, inspect (paged: the daemon's pages are made small here,
 * so a listing of more than three extents takes several requests, which the
 * daemon's requests.inspect counts, and a block's holders), check, ping,
 * alloc (all or none, also across several requests), free, stats (with a
 * line and a JSON number for the counter of every limit, which README.md's
 * table of limits names, and no counter in that table that stats lacks),
 * create and destroy, and a short bench. Exit codes (0 success, 1 failure, 2
 * usage), messages on standard error (one for each bad offset of a free, a
 * warning for each block it freed whose header another process had
 * overwritten; a --socket that is empty or names no socket; --socket after
 * the command), -h and --help anywhere, --version, and JSON that parses
 * (jansson) with the figures the daemon holds.
 */
#include "itest.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "ar/engine.h"

static const char config[] = "[daemon]\n"
                             "max_page = 8\n"
                             "default_page = 3\n"
                             "\n"
                             "[arena alpha]\n"
                             "size = 1M\n"
                             "\n"
                             "[arena beta]\n"
                             "size = 2M\n"
                             "policy = buddy\n";

static it_daemon_t daemon_;

/* What one run of arenactl left. */
typedef struct run_s {
  int status;
  char out[1 << 16];
  char err[4096];
} run_t;

static run_t run_;

/* Where the next runs' standard output goes instead of a file (NULL: the
 * file, which run_.out then holds; closed_pipe: a pipe whose reader is
 * gone). */
static const char *out_to;
static const char closed_pipe[] = "a pipe with no reader";

/* In the child about to run arenactl: the write end of a pipe whose read
 * end is closed, with SIGPIPE's default action, as a shell leaves it for
 * `arenactl ... | true`. Returns it, or -1. */
static int pipe_without_reader(void) {
  int p[2];
  if (pipe(p) < 0)
    return -1;
  close(p[0]);
  signal(SIGPIPE, SIG_DFL);
  return p[1];
}

static void slurp(const char *path, char *buf, size_t len) {
  FILE *f = fopen(path, "r");
  assert_non_null(f);
  size_t n = fread(buf, 1, len - 1, f);
  buf[n] = '\0';
  fclose(f);
}

/* Runs `arenactl --socket SOCK args...` (or without --socket when sock is
 * NULL); fills run_. */
static run_t *arenactl(const char *sock, const char *const *args) {
  const char *argv[32];
  int n = 0;
  argv[n++] = ARENACTL;
  if (sock != NULL) {
    argv[n++] = "--socket";
    argv[n++] = sock;
  }
  for (int i = 0; args[i] != NULL && n < 31; i++)
    argv[n++] = args[i];
  argv[n] = NULL;
  char out[160], err[160];
  snprintf(out, sizeof out, "%s/out", daemon_.dir);
  snprintf(err, sizeof err, "%s/err", daemon_.dir);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    int o = out_to == closed_pipe ? pipe_without_reader()
                                  : open(out_to != NULL ? out_to : out,
                                         O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int e = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (o < 0 || e < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0)
      _exit(126);
    unsetenv("ARENAD_SOCKET");
    execv(ARENACTL, (char *const *)argv);
    _exit(127);
  }
  int st;
  assert_int_equal(waitpid(pid, &st, 0), pid);
  run_.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  if (out_to == NULL)
    slurp(out, run_.out, sizeof run_.out);
  else
    run_.out[0] = '\0';
  slurp(err, run_.err, sizeof run_.err);
  return &run_;
}

#define RUN(...) arenactl(daemon_.sock, (const char *const[]){__VA_ARGS__, NULL})

/* Fails unless the run exited with `want`; shows its standard error. */
static void expect_status(const run_t *r, int want) {
  if (r->status != want)
    fail_msg("exit status %d, want %d; stderr: %s", r->status, want, r->err);
}

static json_t *parse(const run_t *r) {
  json_error_t e;
  json_t *j = json_loads(r->out, 0, &e);
  if (j == NULL)
    fail_msg("not JSON (%s): %s", e.text, r->out);
  return j;
}

/* Starts the daemon with the configuration in *state, or `config` when
 * that is NULL. */
static int setup(void **state) {
  out_to = NULL;
  const char *cfg = *state != NULL ? *state : config;
  assert_int_equal(it_daemon_start(&daemon_, cfg, NULL), 0);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  int st = it_daemon_stop(&daemon_, SIGTERM);
  it_daemon_cleanup(&daemon_);
  assert_int_equal(st, 0);
  return 0;
}

static void test_list(void **state) {
  (void)state;
  run_t *r = RUN("list");
  expect_status(r, 0);
  assert_non_null(strstr(r->out, "alpha"));
  assert_non_null(strstr(r->out, "buddy"));
  /* Sizes in the largest unit that divides them: 1M is "1 MiB". */
  assert_non_null(strstr(r->out, "alpha       1 MiB  first"));
  assert_non_null(strstr(r->out, "beta        2 MiB  buddy"));

  r = RUN("list", "--json");
  expect_status(r, 0);
  json_t *j = parse(r);
  assert_true(json_is_array(j));
  assert_int_equal(json_array_size(j), 2);
  json_t *a = json_array_get(j, 0);
  assert_string_equal(json_string_value(json_object_get(a, "name")), "alpha");
  assert_string_equal(json_string_value(json_object_get(a, "policy")),
                      "first");
  assert_int_equal(json_integer_value(json_object_get(a, "size")), 1 << 20);
  json_decref(j);

  /* The NAME column is as wide as the longest name: a name longer than the
   * others widens it for every row and the header, so that the sizes stay
   * aligned under SIZE. Listed last (by name), so that every name counts. */
  static const char longer[] = "zeta-a-name-longer-than-alpha";
  int w = (int)strlen(longer);
  expect_status(RUN("create", longer, "4K", "first"), 0);
  r = RUN("list");
  expect_status(r, 0);
  char want[4][128];
  snprintf(want[0], sizeof want[0], "%-*s  %10s  POLICY", w, "NAME", "SIZE");
  snprintf(want[1], sizeof want[1], "\n%-*s  %10s  first ", w, "alpha",
           "1 MiB");
  snprintf(want[2], sizeof want[2], "\n%-*s  %10s  buddy ", w, "beta", "2 MiB");
  snprintf(want[3], sizeof want[3], "\n%s  %10s  first ", longer, "4 KiB");
  if (strncmp(r->out, want[0], strlen(want[0])) != 0 ||
      strstr(r->out, want[1]) == NULL || strstr(r->out, want[2]) == NULL ||
      strstr(r->out, want[3]) == NULL)
    fail_msg("list: %s", r->out);

  /* Names shorter than the header's keep it at its own width, 4. */
  expect_status(RUN("destroy", longer), 0);
  expect_status(RUN("destroy", "alpha"), 0);
  expect_status(RUN("destroy", "beta"), 0);
  expect_status(RUN("create", "xy", "4K", "first"), 0);
  r = RUN("list");
  expect_status(r, 0);
  if (strncmp(r->out, "NAME        SIZE  POLICY", 24) != 0 ||
      strstr(r->out, "\nxy         4 KiB  first ") == NULL)
    fail_msg("list: %s", r->out);
}

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

/* The daemon's count of inspect requests so far. */
static uint64_t inspects(void) {
  it_conn_t *c = it_connect(daemon_.sock);
  Arenad__Response *r = it_call(c, it_req_stats(), NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_OK);
  uint64_t n = r->stats->requests->inspect;
  it_resp_free(r);
  it_close(c);
  return n;
}

/* The payloads of the blocks an inspect --json listed under key. */
static size_t listed(json_t *j, const char *key, uint64_t *payloads,
                     size_t max) {
  json_t *arr = json_object_get(j, key);
  assert_true(json_is_array(arr));
  size_t n = 0, i;
  json_t *e;
  json_array_foreach(arr, i, e) {
    if (json_is_true(json_object_get(e, "free")))
      continue;
    assert_true(n < max);
    payloads[n++] = (uint64_t)json_integer_value(json_object_get(e, "payload"));
  }
  return n;
}

static void test_alloc_inspect_free(void **state) {
  (void)state;
  run_t *r = RUN("alloc", "alpha", "100", "--count", "7");
  expect_status(r, 0);
  uint64_t offs[7];
  char *p = r->out;
  for (int i = 0; i < 7; i++)
    offs[i] = strtoull(p, &p, 10);
  assert_int_equal(offs[0], 16);
  assert_int_equal(offs[6], 16 + 6 * 128);

  /* Seven blocks and the free tail: three pages of at most 3
   * (default_page), each a request; so are the seven detached ones; the
   * free list (the tail) takes one, and so does the summary. */
  uint64_t before = inspects();
  r = RUN("inspect", "alpha", "--blocks", "--free-list", "--detached",
          "--json");
  expect_status(r, 0);
  assert_int_equal(inspects() - before, 1 + 1 + 3 + 3);
  json_t *j = parse(r);
  json_t *sum = json_object_get(j, "summary");
  assert_int_equal(json_integer_value(json_object_get(sum, "live_blocks")), 7);
  assert_int_equal(json_integer_value(json_object_get(sum, "detached_blocks")),
                   7);
  assert_int_equal(json_array_size(json_object_get(j, "blocks")), 8);
  assert_int_equal(json_array_size(json_object_get(j, "free_list")), 1);
  uint64_t got[16];
  assert_int_equal(listed(j, "blocks", got, 16), 7);
  assert_memory_equal(got, offs, sizeof offs);
  assert_int_equal(listed(j, "detached", got, 16), 7);
  json_t *b0 = json_array_get(json_object_get(j, "blocks"), 0);
  assert_true(json_is_true(json_object_get(b0, "detached")));
  assert_int_equal(json_integer_value(json_object_get(b0, "n")), 100);
  /* The engine's memory, as the daemon counts it: the same as an engine
   * here that made the same seven blocks. */
  ar_engine_t *e;
  assert_int_equal(ar_engine_create(AR_POLICY_FIRST, 1 << 20, NULL, &e), 0);
  for (int i = 0; i < 7; i++) {
    ar_block_t blk;
    assert_int_equal(ar_engine_alloc(e, 100, AR_ALIGN_MIN, &blk), 0);
  }
  ar_engine_stats_t st;
  ar_engine_stats(e, &st);
  ar_engine_destroy(e);
  assert_int_equal(json_integer_value(json_object_get(sum, "meta_bytes")),
                   st.meta_bytes);
  assert_int_equal(
      json_integer_value(json_object_get(sum, "peak_meta_bytes")),
      st.peak_meta_bytes);
  json_decref(j);

  before = inspects();
  r = RUN("inspect", "alpha", "--blocks");
  expect_status(r, 0);
  assert_int_equal(inspects() - before, 1 + 3);
  assert_non_null(strstr(r->out, "detached"));
  assert_non_null(strstr(r->out, "live_blocks"));
  /* The next-fit rover and the buddy orders, only where they mean
   * something (JSON has them all). */
  assert_null(strstr(r->out, "rover"));
  assert_null(strstr(r->out, "max_order"));
  r = RUN("inspect", "beta");
  expect_status(r, 0);
  assert_null(strstr(r->out, "rover"));
  assert_non_null(strstr(r->out, "max_order"));
  r = RUN("inspect", "alpha", "--json");
  expect_status(r, 0);
  assert_non_null(strstr(r->out, "\"rover\""));
  assert_non_null(strstr(r->out, "\"max_order\""));
  /* The summary's every field, the daemon's own counts included. */
  json_t *all = parse(r);
  json_t *fig = json_object_get(all, "summary");
  static const char *const fields[] = {"size",
                                       "used_bytes",
                                       "free_bytes",
                                       "live_blocks",
                                       "live_requested",
                                       "overhead_bytes",
                                       "free_extents",
                                       "largest_free",
                                       "external_frag",
                                       "allocs",
                                       "frees",
                                       "failed_allocs",
                                       "bad_frees",
                                       "corruptions",
                                       "last_corrupt",
                                       "hwm",
                                       "peak_used",
                                       "peak_requested",
                                       "meta_bytes",
                                       "peak_meta_bytes",
                                       "detached_blocks",
                                       "attached_connections",
                                       "permission_denied",
                                       "quota_refused"};
  for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
    if (!json_is_number(json_object_get(fig, fields[i])))
      fail_msg("no \"%s\" in the summary: %s", fields[i], r->out);
  json_decref(all);

  /* A later invocation frees them; a second free of one fails. */
  char o[7][24];
  for (int i = 0; i < 7; i++)
    snprintf(o[i], sizeof o[i], "%llu", (unsigned long long)offs[i]);
  r = RUN("free", "alpha", o[0], o[1], o[2], o[3], o[4], o[5], o[6]);
  expect_status(r, 0);
  r = RUN("free", "alpha", o[3]);
  expect_status(r, 1);
  assert_non_null(strstr(r->err, o[3]));
  r = RUN("inspect", "alpha", "--json");
  expect_status(r, 0);
  j = parse(r);
  sum = json_object_get(j, "summary");
  assert_int_equal(json_integer_value(json_object_get(sum, "live_blocks")), 0);
  assert_int_equal(json_integer_value(json_object_get(sum, "frees")), 7);
  json_decref(j);

  /* Aligned, as JSON. */
  r = RUN("alloc", "beta", "64", "--align", "256", "--json");
  expect_status(r, 0);
  j = parse(r);
  json_t *offsets = json_object_get(j, "offsets");
  assert_int_equal(json_array_size(offsets), 1);
  uint64_t off = (uint64_t)json_integer_value(json_array_get(offsets, 0));
  assert_int_equal(off % 256, 0);
  json_decref(j);
  char os[24];
  snprintf(os, sizeof os, "0x%llx", (unsigned long long)off);
  r = RUN("free", "beta", os);
  expect_status(r, 0);
  /* With a K suffix, as sizes take. */
  r = RUN("alloc", "beta", "64", "--align", "4K", "--json");
  expect_status(r, 0);
  j = parse(r);
  assert_int_equal(json_integer_value(json_object_get(j, "align")), 4096);
  off = (uint64_t)json_integer_value(
      json_array_get(json_object_get(j, "offsets"), 0));
  assert_int_equal(off % 4096, 0);
  json_decref(j);
  snprintf(os, sizeof os, "%llu", (unsigned long long)off);
  expect_status(RUN("free", "beta", os), 0);
  /* Without --align, the JSON gives the alignment used: 16. */
  r = RUN("alloc", "beta", "64", "--json");
  expect_status(r, 0);
  j = parse(r);
  assert_int_equal(json_integer_value(json_object_get(j, "align")), 16);
  snprintf(
      os, sizeof os, "%lld",
      json_integer_value(json_array_get(json_object_get(j, "offsets"), 0)));
  json_decref(j);
  expect_status(RUN("free", "beta", os), 0);
}

/* inspect's text gives a size of 1024 bytes or more in its unit too, the
 * largest that divides it: a block of exactly 1 KiB (1008 bytes asked, and
 * the 16-byte header) is "1024 (1 KiB)", not "1024 (1024 B)" nor a bare
 * "1024"; its 1008 requested bytes, under 1 KiB, are the number alone. */
static void test_inspect_sizes(void **state) {
  (void)state;
  expect_status(RUN("alloc", "alpha", "1008"), 0);
  run_t *r = RUN("inspect", "alpha");
  expect_status(r, 0);
  if (strstr(r->out, "\nused_bytes            1024 (1 KiB)\n") == NULL ||
      strstr(r->out, "\nlive_requested        1008\n") == NULL)
    fail_msg("inspect alpha: %s", r->out);
  /* 1048560 bytes are 1023.98 KiB: one decimal rounds them to the next
   * unit up, not to "1024.0 KiB". */
  expect_status(RUN("create", "rounding", "4M", "first"), 0);
  expect_status(RUN("alloc", "rounding", "1048544"), 0);
  r = RUN("inspect", "rounding");
  expect_status(r, 0);
  if (strstr(r->out, "\nused_bytes            1048560 (1.0 MiB)\n") == NULL)
    fail_msg("inspect rounding: %s", r->out);
  expect_status(RUN("destroy", "rounding", "--force"), 0);
}

/* The live blocks and used bytes of arena `name`, from inspect --json. */
static void arena_use(const char *name, uint64_t *live, uint64_t *used) {
  run_t *r = RUN("inspect", name, "--json");
  expect_status(r, 0);
  json_t *j = parse(r);
  json_t *sum = json_object_get(j, "summary");
  *live = (uint64_t)json_integer_value(json_object_get(sum, "live_blocks"));
  *used = (uint64_t)json_integer_value(json_object_get(sum, "used_bytes"));
  json_decref(j);
}

/* alloc --count over max_blocks_per_request (4096) takes several requests;
 * all or none: when a later one fails (the 1 MiB arena fills), the blocks
 * of the earlier ones are given back. */
static void test_alloc_all_or_none(void **state) {
  (void)state;
  uint64_t live, used, live_after, used_after;
  arena_use("alpha", &live, &used);
  run_t *r = RUN("alloc", "alpha", "200", "--count", "5000"); /* 1.1 MB */
  expect_status(r, 1);
  assert_non_null(strstr(r->err, "alpha"));
  assert_string_equal(r->out, "");
  arena_use("alpha", &live_after, &used_after);
  assert_int_equal(live_after, live);
  assert_int_equal(used_after, used);
}

/* ---- a fake daemon ------------------------------------------------------ */

/* Reads one request frame from fd; NULL at the end or on an error. */
static Arenad__Request *fake_read(int fd) {
  uint64_t len = 0;
  uint8_t b;
  for (int shift = 0;; shift += 7) {
    if (shift > 63 || read(fd, &b, 1) != 1)
      return NULL;
    len |= (uint64_t)(b & 0x7f) << shift;
    if ((b & 0x80) == 0)
      break;
  }
  uint8_t buf[4096];
  if (len > sizeof buf)
    return NULL;
  for (size_t got = 0; got < len;) {
    ssize_t k = read(fd, buf + got, len - got);
    if (k <= 0)
      return NULL;
    got += (size_t)k;
  }
  return arenad__request__unpack(NULL, len, buf);
}

static bool fake_write(int fd, const Arenad__Response *resp) {
  static uint8_t buf[1 << 16];
  size_t len = arenad__response__get_packed_size(resp), n = 0;
  if (len + 10 > sizeof buf)
    return false;
  uint64_t v = len;
  for (; v >= 0x80; v >>= 7)
    buf[n++] = (uint8_t)(v | 0x80);
  buf[n++] = (uint8_t)v;
  arenad__response__pack(resp, buf + n);
  return write(fd, buf, n + len) == (ssize_t)(n + len);
}

/* Serves `conns` connections on a socket at path, in a child, and returns
 * its pid (which exits 0 when all went as expected): hello is answered as
 * arenad would, with requests of up to FAKE_STEP blocks, and every check
 * with a broken invariant. Allocs are granted FAKE_STEP blocks at a time
 * until the FAKE_GRANTED-th block, then refused; of the frees that give
 * them back, the first fails and the later ones succeed, each telling that
 * the header of its last block had been overwritten. A list has one
 * arena, named with FAKE_NAME_LEN characters, more than a stdio buffer
 * holds (a real daemon's names have at most 64). */
#define FAKE_STEP 2
#define FAKE_GRANTED 4
#define FAKE_NAME_LEN 40000

/* The connection id the fake daemon's hello gives; a ping is answered. */
static uint64_t fake_connection_id = 1;

static pid_t fake_daemon(const char *path, int conns) {
  int lfd = it_bind_unix(path, NULL);
  assert_int_equal(listen(lfd, 4), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid > 0) {
    close(lfd);
    return pid;
  }
  alarm(20); /* never outlives a test gone wrong */
  uint64_t granted = 0, frees = 0;
  for (int i = 0; i < conns; i++) {
    int fd = accept(lfd, NULL, NULL);
    if (fd < 0)
      _exit(1);
    Arenad__Request *req;
    while ((req = fake_read(fd)) != NULL) {
      Arenad__Response resp = ARENAD__RESPONSE__INIT;
      Arenad__HelloReply hello = ARENAD__HELLO_REPLY__INIT;
      Arenad__Limits limits = ARENAD__LIMITS__INIT;
      Arenad__CheckReply check = ARENAD__CHECK_REPLY__INIT;
      Arenad__AllocReply alloc = ARENAD__ALLOC_REPLY__INIT;
      Arenad__FreeReply freed = ARENAD__FREE_REPLY__INIT;
      Arenad__ListReply list = ARENAD__LIST_REPLY__INIT;
      Arenad__ArenaInfo info = ARENAD__ARENA_INFO__INIT;
      Arenad__ArenaInfo *infos[] = {&info};
      Arenad__PingReply ping = ARENAD__PING_REPLY__INIT;
      static char name[FAKE_NAME_LEN + 1];
      uint64_t offsets[FAKE_STEP];
      uint32_t last; /* the index of a free's last offset */
      resp.id = req->id;
      if (req->body_case == ARENAD__REQUEST__BODY_HELLO) {
        hello.daemon_version = (char *)"fake";
        hello.protocol_version = 1;
        hello.connection_id = fake_connection_id;
        limits.max_blocks_per_request = FAKE_STEP;
        hello.limits = &limits;
        resp.body_case = ARENAD__RESPONSE__BODY_HELLO;
        resp.hello = &hello;
      } else if (req->body_case == ARENAD__REQUEST__BODY_ALLOC &&
                 granted < FAKE_GRANTED) {
        if (req->alloc->count != FAKE_STEP)
          _exit(4);
        for (size_t k = 0; k < FAKE_STEP; k++)
          offsets[k] = 16 + 64 * granted++;
        alloc.offsets = offsets;
        alloc.n_offsets = FAKE_STEP;
        resp.body_case = ARENAD__RESPONSE__BODY_ALLOC;
        resp.alloc = &alloc;
      } else if (req->body_case == ARENAD__REQUEST__BODY_ALLOC) {
        resp.status = ARENAD__STATUS__STATUS_LIMIT_EXCEEDED;
        resp.message = (char *)"the arena is full";
      } else if (req->body_case == ARENAD__REQUEST__BODY_FREE && frees++ == 0) {
        resp.status = ARENAD__STATUS__STATUS_NOT_FOUND;
        resp.message = (char *)"no such block";
      } else if (req->body_case == ARENAD__REQUEST__BODY_FREE) {
        freed.freed = (uint32_t)req->free->n_offsets;
        freed.reclaimed = freed.freed;
        last = (uint32_t)req->free->n_offsets - 1;
        freed.overwritten = &last;
        freed.n_overwritten = 1;
        resp.body_case = ARENAD__RESPONSE__BODY_FREE;
        resp.free = &freed;
      } else if (req->body_case == ARENAD__REQUEST__BODY_LIST) {
        memset(name, 'n', FAKE_NAME_LEN);
        info.name = name;
        info.size = 4096;
        list.arenas = infos;
        list.n_arenas = 1;
        resp.body_case = ARENAD__RESPONSE__BODY_LIST;
        resp.list = &list;
      } else if (req->body_case == ARENAD__REQUEST__BODY_PING) {
        resp.body_case = ARENAD__RESPONSE__BODY_PING;
        resp.ping = &ping;
      } else if (req->body_case == ARENAD__REQUEST__BODY_CHECK) {
        check.ok = false;
        check.invariant = (char *)"free-list-sorted";
        check.offset = 4096;
        check.detail = (char *)"extent 4096 after 8192";
        resp.status = ARENAD__STATUS__STATUS_CORRUPTION_DETECTED;
        resp.message = (char *)"integrity check of arena 'alpha' failed";
        resp.body_case = ARENAD__RESPONSE__BODY_CHECK;
        resp.check = &check;
      } else {
        _exit(2);
      }
      arenad__request__free_unpacked(req, NULL);
      if (!fake_write(fd, &resp))
        _exit(3);
    }
    close(fd);
  }
  /* every block granted was offered back, FAKE_STEP a request */
  _exit(frees == granted / FAKE_STEP ? 0 : 5);
}

/* Where the tests put the fake daemon's socket: fake.sock in the real
 * daemon's directory. A static buffer. */
static const char *fake_path(void) {
  static char sock[160];
  snprintf(sock, sizeof sock, "%s/fake.sock", daemon_.dir);
  return sock;
}

/* Reaps the fake daemon `fake`, which must have exited 0 (all went as
 * expected), and removes its socket. */
static void fake_done(pid_t fake) {
  int st;
  assert_int_equal(waitpid(fake, &st, 0), fake);
  assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  unlink(fake_path());
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
   * report in the JSON. */
  pid_t fake = fake_daemon(fake_path(), 2);
  r = arenactl(fake_path(), (const char *const[]){"check", "alpha", NULL});
  expect_status(r, 1);
  assert_string_equal(r->out, "");
  assert_string_equal(r->err, "arenactl check: alpha: invariant "
                              "'free-list-sorted' broken at offset 4096: "
                              "extent 4096 after 8192\n");
  r = arenactl(fake_path(),
               (const char *const[]){"check", "alpha", "--json", NULL});
  expect_status(r, 1);
  j = parse(r);
  assert_true(json_is_false(json_object_get(j, "ok")));
  assert_string_equal(json_string_value(json_object_get(j, "invariant")),
                      "free-list-sorted");
  assert_int_equal(json_integer_value(json_object_get(j, "offset")), 4096);
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
    "arenas_refused_limit",
    "stale_lists_dropped",
    "scratch_exhausted",
    "quota_refused",
    "references_refused_limit",
    "arenas_refused_memory",
    "holds_refused_limit",
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
  r = RUN("free", "", "1", "2");
  expect_status(r, 1);
  assert_null(strstr(r->err, "is not a live block"));
  /* "--" before the command only ends the options. */
  r = arenactl(NULL, (const char *const[]){"--socket", daemon_.sock, "--",
                                           "list", NULL});
  expect_status(r, 0);
  r = RUN("bench", "--seconds", "0");
  expect_status(r, 2);
  assert_non_null(strstr(r->err, "invalid value '0' for --seconds"));
}

static void test_bench(void **state) {
  (void)state;
  run_t *r = RUN("bench", "--arena", "alpha", "--ops", "300", "--seconds",
                 "0.05", "--threads", "2", "--window", "16");
  expect_status(r, 0);
  assert_non_null(strstr(r->out, "| ping round trip p50 |"));
  assert_non_null(strstr(r->out, "| alloc round trip p99 |"));
  assert_non_null(strstr(r->out, "| goal | measured | met |"));
  r = RUN("bench", "--arena", "alpha", "--ops", "100", "--seconds", "0.02",
          "--threads", "2", "--window", "8", "--count", "4", "--json");
  expect_status(r, 0);
  json_t *j = parse(r);
  json_t *ping = json_object_get(j, "ping");
  assert_true(json_real_value(json_object_get(ping, "p50_us")) > 0);
  json_t *pipe = json_object_get(j, "pipelined");
  assert_true(json_real_value(json_object_get(pipe, "one_connection_ops_per_s")) >
              0);
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

/* create and destroy, and the holders of a block in inspect's output. */
static void test_create_destroy(void **state) {
  (void)state;
  run_t *r = RUN("create", "gamma", "256K", "best", "--mode", "0640",
                 "--owner", "0", "--group", "root", "--quota-bytes", "64K",
                 "--quota-blocks", "10", "--json");
  expect_status(r, 0);
  json_t *j = parse(r);
  assert_string_equal(json_string_value(json_object_get(j, "name")), "gamma");
  assert_int_equal(json_integer_value(json_object_get(j, "size")), 256 << 10);
  assert_int_equal(json_integer_value(json_object_get(j, "quota_bytes")),
                   64 << 10);
  json_t *acc = json_object_get(j, "access");
  assert_int_equal(json_integer_value(json_object_get(acc, "mode")), 0640);
  assert_int_equal(json_integer_value(json_object_get(acc, "group_gid")), 0);
  json_decref(j);
  r = RUN("create", "delta", "64K", "first");
  expect_status(r, 0);
  assert_non_null(strstr(r->out, "created delta: 64 KiB, first, mode 0600"));
  assert_null(strstr(r->out, "quota"));
  /* The text names the quotas that were set, and only those. */
  static const struct {
    const char *bytes, *blocks, *want;
  } quotas[] = {
      {"64K", "10", ", quota 64 KiB and 10 blocks a connection\n"},
      {"1M", "0", ", quota 1 MiB a connection\n"},
      {"0", "1", ", quota 1 block a connection\n"},
  };
  for (size_t i = 0; i < sizeof quotas / sizeof quotas[0]; i++) {
    r = RUN("create", "eta", "64K", "first", "--quota-bytes", quotas[i].bytes,
            "--quota-blocks", quotas[i].blocks);
    expect_status(r, 0);
    if (strncmp(r->out, "created eta: 64 KiB, first, mode 0600", 37) != 0 ||
        strlen(r->out) < strlen(quotas[i].want) ||
        strcmp(r->out + strlen(r->out) - strlen(quotas[i].want),
               quotas[i].want) != 0)
      fail_msg("create with quotas %s and %s: %s", quotas[i].bytes,
               quotas[i].blocks, r->out);
    expect_status(RUN("destroy", "eta"), 0);
  }
  /* A next-fit arena's summary has its rover. */
  expect_status(RUN("create", "epsilon", "64K", "next"), 0);
  r = RUN("inspect", "epsilon");
  expect_status(r, 0);
  assert_non_null(strstr(r->out, "rover"));
  assert_null(strstr(r->out, "max_order"));
  expect_status(RUN("destroy", "epsilon"), 0);
  r = RUN("list");
  expect_status(r, 0);
  assert_non_null(strstr(r->out, "QUOTA"));
  assert_non_null(strstr(r->out, "64 KiB/10"));

  /* A block held twice by one connection: its holder, with x2. */
  it_conn_t *c = it_connect(daemon_.sock);
  it_hello_ok(c);
  uint64_t off = it_alloc_ok(c, "gamma", 100);
  Arenad__Response *rr = it_call(c, it_req_retain("gamma", off), NULL);
  it_assert_status(rr, ARENAD__STATUS__STATUS_OK);
  it_resp_free(rr);
  r = RUN("inspect", "gamma", "--blocks");
  expect_status(r, 0);
  assert_non_null(strstr(r->out, "itest) x2"));
  r = RUN("inspect", "gamma", "--blocks", "--json");
  expect_status(r, 0);
  j = parse(r);
  json_t *b0 = json_array_get(json_object_get(j, "blocks"), 0);
  json_t *h0 = json_array_get(json_object_get(b0, "holders"), 0);
  assert_int_equal(json_integer_value(json_object_get(b0, "refcount")), 2);
  assert_int_equal(json_integer_value(json_object_get(h0, "references")), 2);
  assert_true(json_is_integer(json_object_get(b0, "holders_omitted")));
  assert_int_equal(json_integer_value(json_object_get(b0, "holders_omitted")),
                   0);
  assert_string_equal(json_string_value(json_object_get(h0, "client_name")),
                      "itest");
  json_decref(j);

  /* Live blocks: only with --force. */
  r = RUN("destroy", "gamma");
  expect_status(r, 1);
  assert_non_null(strstr(r->err, "1 live block "));
  r = RUN("destroy", "gamma", "--force", "--json");
  expect_status(r, 0);
  j = parse(r);
  assert_int_equal(json_integer_value(json_object_get(j, "blocks_freed")), 1);
  /* c held a block there without attaching the arena */
  assert_int_equal(
      json_integer_value(json_object_get(j, "attached_connections")), 0);
  json_decref(j);
  r = RUN("alloc", "delta", "10"); /* one detached block */
  expect_status(r, 0);
  r = RUN("destroy", "delta", "--force");
  expect_status(r, 0);
  assert_non_null(strstr(r->out, "destroyed delta: 1 block ("));
  assert_non_null(strstr(r->out, "; 0 connections had it"));
  r = RUN("create", "delta", "64K", "first");
  expect_status(r, 0);
  r = RUN("destroy", "delta");
  expect_status(r, 0);
  assert_non_null(strstr(r->out, "destroyed delta: 0 blocks"));
  r = RUN("destroy", "delta");
  expect_status(r, 1);
  it_close(c);

  /* Bad command lines. */
  expect_status(RUN("create", "x", "64K"), 2);
  expect_status(RUN("create", "x", "64K", "fastest"), 2);
  expect_status(RUN("create", "x", "64K", "first", "--mode", "0999"), 2);
  expect_status(RUN("create", "x", "64K", "first", "--owner",
                    "no-such-user-here"),
                2);
  expect_status(RUN("destroy"), 2);
  /* Refused by arenactl itself: ids that are no uid or gid (-1, and
   * one that 32 bits would cut to root's 0), a mode over 0777, and an
   * operand too many. */
  const char *const bad_ids[][7] = {
      {"create", "x", "64K", "first", "--owner", "4294967295"},
      {"create", "x", "64K", "first", "--owner", "4294967296"},
      {"create", "x", "64K", "first", "--group", "4294967296"},
      {"create", "x", "64K", "first", "--mode", "1777"},
  };
  for (size_t i = 0; i < sizeof bad_ids / sizeof bad_ids[0]; i++) {
    r = arenactl(daemon_.sock, bad_ids[i]);
    if (r->status != 2 || strstr(r->err, "arenactl create: invalid --") == NULL)
      fail_msg("create %s %s: status %d, stderr: %s", bad_ids[i][4],
               bad_ids[i][5], r->status, r->err);
  }
  r = RUN("create", "x", "64K", "first", "extra");
  expect_status(r, 2);
  assert_non_null(strstr(r->err, "expected ARENA, SIZE and POLICY"));
  r = RUN("create", "x", "5000", "first");
  expect_status(r, 1);
  assert_non_null(strstr(r->err, "multiple of 4096"));
}

/* The live blocks of arena `name`, as the daemon counts them. */
static uint64_t live_blocks(const char *name) {
  it_conn_t *c = it_connect(daemon_.sock);
  it_hello_ok(c);
  uint64_t n = it_live_blocks(c, name);
  it_close(c);
  return n;
}

/* Numbers are decimal, a leading 0 included, or 0x hex; nothing else. */
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
  snprintf(hex, sizeof hex, "0x%llX", (unsigned long long)off[1]);
  expect_status(RUN("free", "alpha", lead, hex), 0);
  assert_int_equal(live_blocks("alpha"), 8);
  const char *bad[] = {
      "-16", " 16", "+16",    "0x",     "0x-1",
      "1e3", "16 ", "0x0x10", "0X0x10", "18446744073709551616"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    r = RUN("free", "alpha", bad[i]);
    expect_status(r, 2);
    assert_non_null(strstr(r->err, "invalid OFFSET"));
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
  r = RUN("alloc", "alpha", "16", "--count", "4294967296");
  expect_status(r, 2);
  assert_non_null(strstr(r->err, "invalid --count '4294967296'"));
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
  r = RUN("alloc", "alpha", "-16");
  assert_string_equal(r->err, "arenactl alloc: invalid SIZE '-16' (bytes, "
                              "with an optional K, M or G suffix)\n");
}

/* A daemon that takes 3 blocks a request and holds 10 live blocks. */
static const char small_config[] = "[daemon]\n"
                                   "max_blocks_per_request = 3\n"
                                   "max_live_blocks = 10\n";

/* An alloc split into requests of 3 that the daemon refuses part way says
 * what was asked (11 blocks), how many had been made when the daemon
 * refused (9), that they were freed again, and the daemon's reason (which
 * is about the refused request: 2 more). */
static void test_alloc_split_refused(void **state) {
  (void)state;
  run_t *r = RUN("alloc", "default", "16", "--count", "11");
  expect_status(r, 1);
  assert_string_equal(r->out, "");
  if (strstr(r->err, "arenactl alloc: default: cannot allocate 11 blocks "
                     "(sent in requests of up to 3): 9 had been allocated "
                     "when the daemon refused more, and were freed again: "
                     "the daemon holds 9 live blocks") == NULL ||
      strstr(r->err, "(max_live_blocks)") == NULL)
    fail_msg("stderr: %s", r->err);
  assert_int_equal(live_blocks("default"), 0);
  /* Refused at the first request: nothing to free. */
  expect_status(RUN("alloc", "default", "16", "--count", "9"), 0);
  r = RUN("alloc", "default", "16", "--count", "4");
  expect_status(r, 1);
  assert_non_null(strstr(r->err, "cannot allocate 4 blocks (sent in requests "
                                 "of up to 3): the daemon refused the first "
                                 "request: "));
  assert_int_equal(live_blocks("default"), 9);
  /* A count that fits in one request: the daemon's reason alone. */
  r = RUN("alloc", "default", "16", "--count", "3");
  expect_status(r, 1);
  assert_non_null(strstr(r->err, "arenactl alloc: default: "));
  assert_null(strstr(r->err, "sent in requests"));
  assert_int_equal(live_blocks("default"), 9);
}

/* When an alloc split into requests is refused part way and giving the
 * blocks back fails for the first request of the give-back but not for
 * the later one (a fake daemon), the message says that freeing them again
 * failed: the give-back's result is its first failure, which a later
 * success must not hide. */
static void test_alloc_give_back_fails(void **state) {
  (void)state;
  pid_t fake = fake_daemon(fake_path(), 1);
  run_t *r = arenactl(fake_path(), (const char *const[]){"alloc", "alpha", "16",
                                                         "--count", "6", NULL});
  expect_status(r, 1);
  assert_string_equal(r->out, "");
  /* The give-back that succeeded freed a block whose header had been
   * overwritten (the fake's blocks are at 16 + 64 i): warned of as free
   * warns, and the give-back still counts as done for that block. */
  assert_string_equal(r->err,
                      "arenactl alloc: warning: the header of the block at "
                      "208 in arena alpha had been overwritten before it was "
                      "given back (the daemon counted it as a corruption)\n"
                      "arenactl alloc: alpha: cannot allocate 6 blocks (sent "
                      "in requests of up to 2): 4 had been allocated when the "
                      "daemon refused more, and freeing them again failed: "
                      "the arena is full\n");
  fake_done(fake);
}

/* A free that fails as a whole names every offset, and says why. */
static void test_free_without_arena_name(void **state) {
  (void)state;
  run_t *r = RUN("free", "", "16", "32");
  expect_status(r, 1);
  assert_non_null(strstr(r->err, "offset 16: no arena name"));
  assert_non_null(strstr(r->err, "offset 32: "));
}

/* The warning free gives for a block whose header was overwritten. */
static void warning_of(char *buf, size_t len, uint64_t off) {
  snprintf(buf, len,
           "arenactl free: warning: the header of the block at %llu in arena "
           "alpha had been overwritten before this free (the daemon counted "
           "it as a corruption)\n",
           (unsigned long long)off);
}

/* free frees blocks whose header another process overwrote, and says so
 * on standard error, one line a block: exit 0 when every free succeeded,
 * 1 when another offset failed (named as before); an intact block gets no
 * line. The daemon counts each once. */
static void test_free_overwritten(void **state) {
  (void)state;
  run_t *r = RUN("alloc", "alpha", "100", "--count", "4");
  expect_status(r, 0);
  uint64_t offs[4];
  char o[4][24];
  char *p = r->out;
  for (int i = 0; i < 4; i++) {
    offs[i] = strtoull(p, &p, 10);
    snprintf(o[i], sizeof o[i], "%llu", (unsigned long long)offs[i]);
  }
  it_conn_t *c = it_connect(daemon_.sock);
  it_hello_ok(c);
  uint64_t before = it_stat(c, "corruptions_detected");
  size_t size;
  uint8_t *base = it_map_arena(c, "alpha", &size);
  it_smash_header(base, offs[0], 100);
  it_smash_header(base, offs[2], 100);
  it_smash_header(base, offs[3], 100);

  char want[2][256];
  warning_of(want[0], sizeof want[0], offs[0]);
  warning_of(want[1], sizeof want[1], offs[2]);
  char both[512];
  snprintf(both, sizeof both, "%s%s", want[0], want[1]);
  r = RUN("free", "alpha", o[0], o[1], o[2]);
  expect_status(r, 0);
  assert_string_equal(r->err, both);
  assert_string_equal(r->out, "");
  assert_int_equal(it_stat(c, "corruptions_detected"), before + 2);

  /* Beside an offset that fails: both said, exit 1. */
  warning_of(want[0], sizeof want[0], offs[3]);
  r = RUN("free", "alpha", o[1], o[3]);
  expect_status(r, 1);
  assert_non_null(strstr(r->err, want[0]));
  char failed[64];
  snprintf(failed, sizeof failed, "arenactl free: alpha offset %s: ", o[1]);
  assert_non_null(strstr(r->err, failed));
  assert_non_null(strstr(r->err, "is not a live block"));
  assert_int_equal(it_stat(c, "corruptions_detected"), before + 3);
  assert_int_equal(it_live_blocks(c, "alpha"), 0);
  munmap(base, size);
  it_close(c);

  /* An intact block: no line. */
  r = RUN("alloc", "alpha", "100");
  expect_status(r, 0);
  char one[24];
  snprintf(one, sizeof one, "%llu", strtoull(r->out, NULL, 10));
  r = RUN("free", "alpha", one);
  expect_status(r, 0);
  assert_string_equal(r->err, "");

  /* The help says so. */
  r = RUN("free", "--help");
  expect_status(r, 0);
  assert_non_null(strstr(r->out, "freed all the same: a warning on standard "
                                 "error names it,\nand the exit status does "
                                 "not count it as a failure.\n"));
}

/* uids past INT_MAX stay unsigned in the JSON. */
static void test_json_large_ids(void **state) {
  (void)state;
  expect_status(RUN("create", "big-owner", "4K", "first", "--owner",
                    "4000000000", "--group", "4000000001"),
                0);
  run_t *r = RUN("list", "--json");
  expect_status(r, 0);
  json_t *j = parse(r);
  bool seen = false;
  for (size_t i = 0; i < json_array_size(j); i++) {
    json_t *a = json_array_get(j, i);
    if (strcmp(json_string_value(json_object_get(a, "name")), "big-owner"))
      continue;
    json_t *acc = json_object_get(a, "access");
    assert_true(json_integer_value(json_object_get(acc, "owner_uid")) ==
                4000000000LL);
    assert_true(json_integer_value(json_object_get(acc, "group_gid")) ==
                4000000001LL);
    seen = true;
  }
  json_decref(j);
  assert_true(seen);
  r = RUN("inspect", "big-owner", "--json");
  expect_status(r, 0);
  j = parse(r);
  json_t *acc = json_object_get(json_object_get(j, "summary"), "access");
  assert_true(json_integer_value(json_object_get(acc, "owner_uid")) ==
              4000000000LL);
  json_decref(j);
  expect_status(RUN("destroy", "big-owner"), 0);
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
  assert_non_null(strstr(r->err, "writing the output failed"));
  assert_int_equal(live_blocks("alpha"), 0);
}

/* Output to a pipe whose reader is gone fails as output to a full disk
 * does: exit status 1 with a message, and an alloc gives its blocks back
 * (rather than SIGPIPE killing arenactl with them left detached, their
 * offsets told to no one). */
static void test_output_to_a_closed_pipe(void **state) {
  (void)state;
  out_to = closed_pipe; /* setup sets it back for the next test */
  run_t *r = RUN("alloc", "alpha", "64", "--count", "5");
  expect_status(r, 1);
  assert_non_null(strstr(r->err, "writing the output failed"));
  assert_int_equal(live_blocks("alpha"), 0);
  r = RUN("list", "--json");
  expect_status(r, 1);
  assert_non_null(strstr(r->err, "writing the output failed"));
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
}

int main(void) {
  const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
      T(test_list),
      T(test_ping),
      T(test_alloc_inspect_free),
      T(test_inspect_sizes),
      T(test_alloc_all_or_none),
      cmocka_unit_test_prestate_setup_teardown(test_alloc_split_refused, setup,
                                               teardown, (void *)small_config),
      T(test_check),
      T(test_stats),
      T(test_stats_limits),
      T(test_errors),
      T(test_bench),
      T(test_create_destroy),
      T(test_numbers),
      T(test_alloc_give_back_fails),
      T(test_free_without_arena_name),
      T(test_free_overwritten),
      T(test_json_large_ids),
      T(test_ping_large_connection_id),
      T(test_output_fails),
      T(test_output_fails_before_the_end),
      T(test_output_to_a_closed_pipe),
      T(test_usage_messages),
#undef T
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
