/*
 * arenactl_harness.c: what the test_arenactl_client_* tests share, see
 * arenactl_harness.h: a real daemon a test, arenactl run as a program
 * against it, and a fake daemon.
 */
#include "arenactl_harness.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

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

it_daemon_t daemon_;

static run_t run_;

const char *out_to;

uint64_t run_address_space;

const char closed_pipe[] = "a pipe with no reader";
const char closed_stdout[] = "a closed standard output";

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

run_t *arenactl(const char *sock, const char *const *args) {
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
    bool closed = out_to == closed_stdout;
    int o = closed                  ? -1
            : out_to == closed_pipe ? pipe_without_reader()
                                    : open(out_to != NULL ? out_to : out,
                                           O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int e = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if ((!closed && (o < 0 || dup2(o, 1) < 0)) || e < 0 || dup2(e, 2) < 0)
      _exit(126);
    if (closed)
      close(1);
    struct rlimit as = {run_address_space, run_address_space};
    if (run_address_space != 0 && setrlimit(RLIMIT_AS, &as) < 0)
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

void expect_status(const run_t *r, int want) {
  if (r->status != want)
    fail_msg("exit status %d, want %d; stderr: %s", r->status, want, r->err);
}

json_t *parse(const run_t *r) {
  json_error_t e;
  json_t *j = json_loads(r->out, 0, &e);
  if (j == NULL)
    fail_msg("not JSON (%s): %s", e.text, r->out);
  return j;
}

int setup(void **state) {
  out_to = NULL;
  run_address_space = 0;
  const char *cfg = *state != NULL ? *state : config;
  assert_int_equal(it_daemon_start(&daemon_, cfg, NULL), 0);
  return 0;
}

int teardown(void **state) {
  (void)state;
  int st = it_daemon_stop(&daemon_, SIGTERM);
  it_daemon_cleanup(&daemon_);
  assert_int_equal(st, 0);
  return 0;
}

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

uint64_t fake_connection_id = 1;
uint64_t fake_failed_free = 0;

pid_t fake_daemon(const char *path, int conns) {
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
      } else if (req->body_case == ARENAD__REQUEST__BODY_FREE &&
                 frees++ == fake_failed_free) {
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
        check.detail = (char *)"extent 4096 after 8192 (\xff)"; /* not UTF-8 */
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

const char *fake_path(void) {
  static char sock[160];
  snprintf(sock, sizeof sock, "%s/fake.sock", daemon_.dir);
  return sock;
}

void fake_done(pid_t fake) {
  int st;
  assert_int_equal(waitpid(fake, &st, 0), fake);
  assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  unlink(fake_path());
}

uint64_t live_blocks(const char *name) {
  it_conn_t *c = it_connect(daemon_.sock);
  it_hello_ok(c);
  uint64_t n = it_live_blocks(c, name);
  it_close(c);
  return n;
}
