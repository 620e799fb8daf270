/*
 * itest.c: the integration tests' daemon launcher and raw protocol client
 * (see itest.h).
 */
#include "itest.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ar/engine.h"
#include "ar/frame.h"

#ifndef ARENAD_BIN
#error "ARENAD_BIN must name the arenad binary"
#endif

/* Frames from the daemon are at most this large (its default limit is far
 * smaller; tests that raise it stay below). */
#define IT_FRAME_MAX ((size_t)64 << 20)

/* The largest file, hence memfd, a daemon under test may make. */
#define IT_FSIZE_MAX ((rlim_t)1 << 30)

/* ---- What a failed test leaves ------------------------------------------ */

/*
 * A failing assertion longjmps out of the test body, past its
 * it_daemon_cleanup, and the it_daemon_t is often a local of that body,
 * gone with it. So the harness keeps its own record of the directories it
 * made and the daemons it started, each dropped once removed or reaped,
 * and an atexit handler (registered with the first entry) kills and reaps
 * the daemons still on it and removes the directories. Each entry names
 * the process that made it, and only that one cleans it up: a forked
 * child of a test that exits leaves its parent's alone. The record is
 * the harness's: an array on the heap, entries copied in (a dir string,
 * a pid), never pointers into a caller's it_daemon_t.
 */
typedef struct left_s {
  pid_t maker;  /* the process that made the directory or the daemon */
  pid_t daemon; /* a daemon not yet reaped; 0 for a directory */
  char dir[sizeof(((it_daemon_t *)NULL)->dir)]; /* or a directory */
} left_t;

static left_t *left;
static size_t left_len, left_cap;
static bool left_registered; /* left_clean is an atexit handler */

static int remove_entry(const char *path, const struct stat *st, int type,
                        struct FTW *ftw) {
  (void)st;
  (void)type;
  (void)ftw;
  remove(path);
  return 0; /* go on: leave what cannot be removed */
}

/* Prints the log at path (a shell pattern) for the reader of the test's
 * output, when IT_SHOW_LOG is set. */
static void show_log(const char *path) {
  if (getenv("IT_SHOW_LOG") == NULL)
    return;
  char cmd[256];
  snprintf(cmd, sizeof(cmd), "cat %s >&2", path);
  (void)system(cmd);
}

/* Whether pid is a child of this process not yet reaped (so its pid
 * cannot have gone to another process). */
static bool unreaped_child(pid_t pid) {
  siginfo_t si;
  return waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0;
}

/* At exit: the daemons first (SIGKILL, reaped), then the directories
 * they ran in, their logs shown first (a failed run's) with IT_SHOW_LOG. */
static void left_clean(void) {
  pid_t self = getpid();
  for (size_t i = 0; i < left_len; i++) {
    pid_t pid = left[i].daemon;
    if (left[i].maker != self || pid == 0 || !unreaped_child(pid))
      continue;
    kill(pid, SIGKILL);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
      ;
  }
  for (size_t i = 0; i < left_len; i++)
    if (left[i].maker == self && left[i].daemon == 0) {
      char logs[sizeof(left[i].dir) + 8];
      snprintf(logs, sizeof(logs), "%s/*.log", left[i].dir);
      show_log(logs);
      nftw(left[i].dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
    }
  free(left);
  left = NULL;
  left_len = left_cap = 0;
}

/* Records a daemon (pid, dir NULL) or a directory (pid 0). */
static void left_add(pid_t pid, const char *dir) {
  if (!left_registered) {
    if (atexit(left_clean) != 0)
      fail_msg("atexit failed");
    left_registered = true;
  }
  if (left_len == left_cap) {
    size_t cap = left_cap != 0 ? left_cap * 2 : 16;
    left_t *p = realloc(left, cap * sizeof(*p));
    if (p == NULL)
      fail_msg("out of memory");
    left = p;
    left_cap = cap;
  }
  left_t *e = &left[left_len++];
  e->maker = getpid();
  e->daemon = pid;
  snprintf(e->dir, sizeof(e->dir), "%s", dir != NULL ? dir : "");
}

/* Forgets the daemon pid (reaped) or, for pid 0, the directory dir
 * (removed). */
static void left_drop(pid_t pid, const char *dir) {
  for (size_t i = 0; i < left_len; i++)
    if (pid != 0 ? left[i].daemon == pid
                 : left[i].daemon == 0 && strcmp(left[i].dir, dir) == 0) {
      left[i] = left[--left_len];
      return;
    }
}

/* ---- The daemon ----------------------------------------------------------- */

void it_daemon_prepare(it_daemon_t *d) {
  memset(d, 0, sizeof(*d));
  snprintf(d->dir, sizeof(d->dir), "/tmp/arenad-it-XXXXXX");
  if (mkdtemp(d->dir) == NULL)
    fail_msg("mkdtemp: %s", strerror(errno));
  left_add(0, d->dir);
  snprintf(d->sock, sizeof(d->sock), "%s/arenad.sock", d->dir);
  snprintf(d->log, sizeof(d->log), "%s/arenad.log", d->dir);
  snprintf(d->conf, sizeof(d->conf), "%s/arenad.conf", d->dir);
}

static void write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  if (f == NULL)
    fail_msg("%s: %s", path, strerror(errno));
  fputs(text, f);
  fclose(f);
}

/* Waits for pid with a timeout, through a pidfd. Returns the exit status,
 * or -1 on timeout. */
static int wait_exit(pid_t pid, int timeout_ms) {
  int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
  if (pfd >= 0) {
    struct pollfd p = {.fd = pfd, .events = POLLIN};
    int rc;
    do
      rc = poll(&p, 1, timeout_ms);
    while (rc < 0 && errno == EINTR);
    close(pfd);
    if (rc == 0)
      return -1;
  }
  int st;
  while (waitpid(pid, &st, 0) < 0)
    if (errno != EINTR)
      fail_msg("waitpid: %s", strerror(errno));
  left_drop(pid, NULL); /* when it is a daemon: reaped */
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int it_daemon_start(it_daemon_t *d, const char *config,
                    const char *const *args) {
  if (d->dir[0] == '\0')
    it_daemon_prepare(d);
  if (config != NULL)
    write_file(d->conf, config);

  int ready[2];
  if (pipe2(ready, O_CLOEXEC) < 0)
    fail_msg("pipe2: %s", strerror(errno));

  /* IT_DAEMON_WRAPPER runs the daemon under another program, e.g.
   * "valgrind --leak-check=full --error-exitcode=99" (split on spaces). */
  const char *argv[64];
  char wrapper[512] = "";
  int n = 0;
  const char *w = getenv("IT_DAEMON_WRAPPER");
  if (w != NULL)
    snprintf(wrapper, sizeof(wrapper), "%s", w);
  for (char *save = NULL, *tok = strtok_r(wrapper, " ", &save);
       tok != NULL && n < 32; tok = strtok_r(NULL, " ", &save))
    argv[n++] = tok;
  argv[n++] = ARENAD_BIN;
  if (d->sock_via == IT_SOCK_ARG) {
    argv[n++] = "--socket";
    argv[n++] = d->sock;
  }
  argv[n++] = "--ready-fd";
  argv[n++] = "3";
  if (config != NULL) {
    argv[n++] = "--config";
    argv[n++] = d->conf;
  }
  for (int i = 0; args != NULL && args[i] != NULL && n < 62; i++)
    argv[n++] = args[i];
  argv[n] = NULL;

  if (d->run_uid != 0 && chown(d->dir, d->run_uid, d->run_gid) < 0)
    fail_msg("chown %s: %s", d->dir, strerror(errno));
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0)
    fail_msg("fork: %s", strerror(errno));
  if (pid == 0) {
    /* Another identity first: changing it clears the death signal. */
    if (d->run_uid != 0 &&
        (setgroups(0, NULL) < 0 || setgid((gid_t)d->run_gid) < 0 ||
         setuid((uid_t)d->run_uid) < 0))
      _exit(126);
    /* The daemon dies with the test, whatever ends it, and never holds
     * the test's standard output (ctest would wait for it). */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
      _exit(126);
    int log = open(d->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (log < 0 || dup2(log, 1) < 0 || dup2(log, 2) < 0)
      _exit(126);
    /* The ready pipe becomes fd 3, without close-on-exec. */
    if (ready[1] == 3)
      fcntl(3, F_SETFD, 0);
    else if (dup2(ready[1], 3) < 0)
      _exit(126);
    /* A safety net: ftruncate and fallocate on a memfd obey RLIMIT_FSIZE,
     * so no arena a test starts can reserve more than IT_FSIZE_MAX; a
     * mistake fails with EFBIG instead of driving the machine into the
     * OOM killer (SIGXFSZ ignored: an error, not a death). Too-large
     * arenas are tested through the daemon's memory check, which refuses
     * them before ftruncate. */
    struct rlimit fsize;
    if (getrlimit(RLIMIT_FSIZE, &fsize) == 0 &&
        (fsize.rlim_cur == RLIM_INFINITY || fsize.rlim_cur > IT_FSIZE_MAX)) {
      fsize.rlim_cur = IT_FSIZE_MAX;
      if (fsize.rlim_max != RLIM_INFINITY && fsize.rlim_max < IT_FSIZE_MAX)
        fsize.rlim_cur = fsize.rlim_max;
      if (setrlimit(RLIMIT_FSIZE, &fsize) < 0)
        _exit(126);
    }
    signal(SIGXFSZ, SIG_IGN);
    unsetenv("ARENAD_SOCKET");
    if (d->sock_via == IT_SOCK_ENV)
      setenv("ARENAD_SOCKET", d->sock, 1);
    if (d->sock_via == IT_SOCK_XDG)
      setenv("XDG_RUNTIME_DIR", d->dir, 1);
    if (d->pending_signal != 0) { /* pending signals survive execve */
      sigset_t set;
      sigemptyset(&set);
      sigaddset(&set, d->pending_signal);
      if (sigprocmask(SIG_BLOCK, &set, NULL) < 0 || raise(d->pending_signal))
        _exit(126);
    }
    execvp(argv[0], (char *const *)argv);
    _exit(127);
  }
  close(ready[1]);
  d->pid = pid;
  left_add(pid, NULL);

  char buf[16];
  struct pollfd p = {.fd = ready[0], .events = POLLIN};
  int rc;
  do
    rc = poll(&p, 1, IT_TIMEOUT_S * 1000);
  while (rc < 0 && errno == EINTR);
  ssize_t got = rc > 0 ? read(ready[0], buf, sizeof(buf)) : -1;
  close(ready[0]);
  if (got > 0)
    return 0;
  if (rc == 0) {
    kill(pid, SIGKILL);
    wait_exit(pid, -1);
    d->pid = 0;
    fail_msg("arenad did not become ready in %d s (log: %s)", IT_TIMEOUT_S,
             d->log);
  }
  /* The pipe closed without a word: the daemon exited. */
  d->status = wait_exit(pid, IT_TIMEOUT_S * 1000);
  d->pid = 0;
  if (d->status < 0 || (d->status == 0 && d->pending_signal == 0))
    fail_msg("arenad closed its ready pipe and exited with %d", d->status);
  return d->status;
}

int it_daemon_stop(it_daemon_t *d, int sig) {
  if (d->pid == 0)
    return d->status;
  if (sig != 0)
    kill(d->pid, sig);
  int st = wait_exit(d->pid, IT_TIMEOUT_S * 1000);
  if (st < 0) {
    kill(d->pid, SIGKILL);
    wait_exit(d->pid, -1);
    d->pid = 0;
    fail_msg("arenad did not exit within %d s of signal %d", IT_TIMEOUT_S,
             sig);
  }
  d->pid = 0;
  d->status = st;
  return st;
}

void it_daemon_signal(const it_daemon_t *d, int sig) {
  if (kill(d->pid, sig) < 0)
    fail_msg("kill: %s", strerror(errno));
  int st;
  while (sig == SIGSTOP && waitpid(d->pid, &st, WUNTRACED) < 0)
    if (errno != EINTR)
      fail_msg("waitpid: %s", strerror(errno));
}

void it_daemon_cleanup(it_daemon_t *d) {
  if (d->pid != 0) {
    kill(d->pid, SIGKILL);
    wait_exit(d->pid, -1);
    d->pid = 0;
  }
  if (d->dir[0] == '\0')
    return;
  /* Print the log of a failed run for the reader of the test's output. */
  show_log(d->log);
  /* The directory and everything the test put in it (outputs, logs). */
  nftw(d->dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
  left_drop(0, d->dir);
  d->dir[0] = '\0';
}

it_daemon_t it_group;
const char *it_group_config;
bool it_group_open;

int it_group_setup(void **state) {
  (void)state;
  it_daemon_prepare(&it_group);
  if (it_group_open)
    it_daemon_open_to_all(&it_group);
  assert_int_equal(it_daemon_start(&it_group, it_group_config, NULL), 0);
  return 0;
}

int it_group_teardown(void **state) {
  (void)state;
  it_daemon_cleanup(&it_group);
  return 0;
}

void it_test_exits_cleanly(void **state) {
  (void)state;
  assert_int_equal(it_daemon_stop(&it_group, SIGTERM), 0);
}

bool it_log_contains(const it_daemon_t *d, const char *needle) {
  FILE *f = fopen(d->log, "r");
  if (f == NULL)
    return false;
  char line[2048];
  bool found = false;
  while (!found && fgets(line, sizeof(line), f) != NULL)
    found = strstr(line, needle) != NULL;
  fclose(f);
  return found;
}

int it_log_line_no(const it_daemon_t *d, const char *const *needles) {
  FILE *f = fopen(d->log, "r");
  if (f == NULL)
    return 0;
  char line[2048];
  int no = 0;
  bool found = false;
  while (!found && fgets(line, sizeof(line), f) != NULL) {
    no++;
    found = true;
    for (size_t i = 0; found && needles[i] != NULL; i++)
      found = strstr(line, needles[i]) != NULL;
  }
  fclose(f);
  return found ? no : 0;
}

bool it_log_line(const it_daemon_t *d, const char *const *needles) {
  return it_log_line_no(d, needles) > 0;
}

/* ---- Connections ---------------------------------------------------------- */

int it_bind_unix(const char *path, struct sockaddr_un *sa) {
  struct sockaddr_un at = {.sun_family = AF_UNIX};
  snprintf(at.sun_path, sizeof(at.sun_path), "%s", path);
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  assert_true(fd >= 0);
  assert_int_equal(bind(fd, (struct sockaddr *)&at, sizeof(at)), 0);
  if (sa != NULL)
    *sa = at;
  return fd;
}

it_conn_t *it_try_connect(const char *path) {
  struct sockaddr_un sa;
  memset(&sa, 0, sizeof(sa));
  sa.sun_family = AF_UNIX;
  snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return NULL;
  if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
    int e = errno;
    close(fd);
    errno = e;
    return NULL;
  }
  struct timeval tv = {.tv_sec = IT_TIMEOUT_S};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  it_conn_t *c = calloc(1, sizeof(*c));
  if (c == NULL)
    fail_msg("out of memory");
  c->fd = fd;
  c->next_id = 1;
  return c;
}

it_conn_t *it_connect(const char *path) {
  it_conn_t *c = it_try_connect(path);
  if (c == NULL)
    fail_msg("connect %s: %s", path, strerror(errno));
  return c;
}

void it_close(it_conn_t *c) {
  if (c == NULL)
    return;
  for (int i = 0; i < c->nfds; i++)
    close(c->fds[i]);
  close(c->fd);
  free(c->buf);
  free(c);
}

void it_send_raw(it_conn_t *c, const void *p, size_t n) {
  const uint8_t *b = p;
  while (n > 0) {
    ssize_t k = send(c->fd, b, n, MSG_NOSIGNAL);
    if (k < 0 && errno == EINTR)
      continue;
    if (k < 0)
      fail_msg("send: %s", strerror(errno));
    b += k;
    n -= (size_t)k;
  }
}

void it_frame_append(uint8_t **buf, size_t *len, const Arenad__Request *req) {
  size_t n = arenad__request__get_packed_size(req);
  uint8_t *p = realloc(*buf, *len + AR_FRAME_PREFIX_MAX + n);
  if (p == NULL)
    fail_msg("out of memory");
  *buf = p;
  *len += ar_frame_encode(p + *len, n);
  arenad__request__pack(req, p + *len);
  *len += n;
}

void it_frame_append_id(uint8_t **buf, size_t *len, Arenad__Request *req,
                        uint64_t id) {
  req->id = id;
  it_frame_append(buf, len, req);
}

void it_send(it_conn_t *c, const Arenad__Request *req) {
  uint8_t *buf = NULL;
  size_t len = 0;
  it_frame_append(&buf, &len, req);
  it_send_raw(c, buf, len);
  free(buf);
}

/* Reads more bytes (and descriptors). Returns false at end of stream. */
static bool fill(it_conn_t *c) {
  if (c->cap - c->len < 65536) {
    size_t cap = c->cap ? c->cap * 2 : 131072;
    uint8_t *p = realloc(c->buf, cap);
    if (p == NULL)
      fail_msg("out of memory");
    c->buf = p;
    c->cap = cap;
  }
  struct iovec iov = {.iov_base = c->buf + c->len, .iov_len = c->cap - c->len};
  union {
    char buf[CMSG_SPACE(sizeof(int) * 8)];
    struct cmsghdr align;
  } ctl;
  struct msghdr msg;
  memset(&msg, 0, sizeof(msg));
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = ctl.buf;
  msg.msg_controllen = sizeof(ctl.buf);
  ssize_t n;
  do
    n = recvmsg(c->fd, &msg, MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno == ECONNRESET)
      return false;
    fail_msg("recvmsg: %s", errno == EAGAIN ? "timed out" : strerror(errno));
  }
  for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm != NULL;
       cm = CMSG_NXTHDR(&msg, cm)) {
    if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
      continue;
    size_t k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < k; i++) {
      if (c->nfds == 16)
        fail_msg("too many descriptors received");
      memcpy(&c->fds[c->nfds], CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
      c->fd_at[c->nfds] = c->consumed + c->len;
      c->fd_end[c->nfds++] = c->consumed + c->len + (size_t)n;
    }
  }
  if (msg.msg_flags & MSG_CTRUNC)
    fail_msg("control data truncated");
  c->len += (size_t)n;
  return n > 0;
}

Arenad__Response *it_recv(it_conn_t *c, int *fd) {
  if (fd != NULL)
    *fd = -1;
  for (;;) {
    ar_frame_t f;
    int rc = c->len > 0 ? ar_frame_decode(c->buf, c->len, IT_FRAME_MAX, &f)
                        : AR_FRAME_PARTIAL;
    if (rc < 0)
      fail_msg("the daemon sent a bad frame prefix (%s)", ar_err_name(rc));
    if (rc == AR_FRAME_COMPLETE) {
      Arenad__Response *r = arenad__response__unpack(
          NULL, f.end - f.start, c->buf + f.start);
      if (r == NULL)
        fail_msg("the daemon sent a frame that is not a Response");
      /* The daemon sends a descriptor with the first byte of a successful
       * attach's frame. The kernel may join the bytes of earlier replies
       * to that read, so the rule a client can check: a descriptor belongs
       * to the successful attach whose frame begins in the read that
       * brought it, and comes with no other frame. */
      bool wants = r->body_case == ARENAD__RESPONSE__BODY_ATTACH &&
                   r->status == ARENAD__STATUS__STATUS_OK;
      uint64_t at = c->consumed;
      if (c->nfds > 0 && c->fd_end[0] <= at)
        fail_msg("a descriptor came with bytes %llu..%llu, and no attach "
                 "reply begins there",
                 (unsigned long long)c->fd_at[0],
                 (unsigned long long)c->fd_end[0]);
      if (wants) {
        if (c->nfds == 0 || c->fd_at[0] > at)
          fail_msg("the attach reply at %llu came without a descriptor",
                   (unsigned long long)at);
        if (fd == NULL)
          close(c->fds[0]);
        else
          *fd = c->fds[0];
        c->nfds--;
        memmove(c->fds, c->fds + 1, (size_t)c->nfds * sizeof(int));
        memmove(c->fd_at, c->fd_at + 1, (size_t)c->nfds * sizeof(uint64_t));
        memmove(c->fd_end, c->fd_end + 1, (size_t)c->nfds * sizeof(uint64_t));
      }
      memmove(c->buf, c->buf + f.end, c->len - f.end);
      c->len -= f.end;
      c->consumed += f.end;
      return r;
    }
    if (!fill(c)) {
      if (c->len > 0)
        fail_msg("the stream ended inside a frame (%zu bytes)", c->len);
      return NULL;
    }
  }
}

void it_resp_free(Arenad__Response *r) {
  if (r != NULL)
    arenad__response__free_unpacked(r, NULL);
}

Arenad__Response *it_call(it_conn_t *c, Arenad__Request *req, int *fd) {
  req->id = c->next_id++;
  it_send(c, req);
  Arenad__Response *r = it_recv(c, fd);
  if (r == NULL)
    fail_msg("the daemon closed the connection instead of answering");
  if (r->id != req->id)
    fail_msg("reply id %llu, want %llu", (unsigned long long)r->id,
             (unsigned long long)req->id);
  if (r->body_case != ARENAD__RESPONSE__BODY__NOT_SET &&
      (int)r->body_case != (int)req->body_case)
    fail_msg("reply kind %d, want %d", (int)r->body_case, (int)req->body_case);
  return r;
}

Arenad__Response *it_recv_reply(it_conn_t *c, uint64_t id, int status) {
  Arenad__Response *r = it_recv(c, NULL);
  if (r == NULL)
    fail_msg("the stream ended before the reply to request %llu",
             (unsigned long long)id);
  if (r->id != id)
    fail_msg("reply id %llu, want %llu", (unsigned long long)r->id,
             (unsigned long long)id);
  it_assert_status(r, status);
  return r;
}

int it_expect_eof(it_conn_t *c) {
  int n = 0;
  Arenad__Response *r;
  while ((r = it_recv(c, NULL)) != NULL) {
    it_resp_free(r);
    n++;
  }
  return n;
}

/* ---- Builders ------------------------------------------------------------- */

static Arenad__Request req;
static union {
  Arenad__HelloRequest hello;
  Arenad__PingRequest ping;
  Arenad__ListRequest list;
  Arenad__StatsRequest stats;
  Arenad__AttachRequest attach;
  Arenad__AllocRequest alloc;
  Arenad__FreeRequest free;
  Arenad__InspectRequest inspect;
  Arenad__CheckRequest check;
  Arenad__RetainRequest retain;
  Arenad__ReleaseRequest release;
  Arenad__TransferRequest transfer;
  Arenad__CreateArenaRequest create;
  Arenad__DestroyArenaRequest destroy;
} body;
static Arenad__Access body_access;

static Arenad__Request *fresh(void) {
  arenad__request__init(&req);
  memset(&body, 0, sizeof(body));
  return &req;
}

Arenad__Request *it_req_hello(uint32_t version, const char *name) {
  fresh();
  arenad__hello_request__init(&body.hello);
  body.hello.protocol_version = version;
  body.hello.client_name = (char *)name;
  req.body_case = ARENAD__REQUEST__BODY_HELLO;
  req.hello = &body.hello;
  return &req;
}

Arenad__Request *it_req_ping(void) {
  fresh();
  arenad__ping_request__init(&body.ping);
  req.body_case = ARENAD__REQUEST__BODY_PING;
  req.ping = &body.ping;
  return &req;
}

Arenad__Request *it_req_list(void) {
  fresh();
  arenad__list_request__init(&body.list);
  req.body_case = ARENAD__REQUEST__BODY_LIST;
  req.list = &body.list;
  return &req;
}

Arenad__Request *it_req_stats(void) {
  fresh();
  arenad__stats_request__init(&body.stats);
  req.body_case = ARENAD__REQUEST__BODY_STATS;
  req.stats = &body.stats;
  return &req;
}

Arenad__Request *it_req_attach(const char *arena, bool read_only) {
  fresh();
  arenad__attach_request__init(&body.attach);
  body.attach.arena = (char *)arena;
  body.attach.read_only = read_only;
  req.body_case = ARENAD__REQUEST__BODY_ATTACH;
  req.attach = &body.attach;
  return &req;
}

Arenad__Request *it_req_alloc(const char *arena, uint64_t size,
                              uint64_t align, uint32_t count, bool detached) {
  fresh();
  arenad__alloc_request__init(&body.alloc);
  body.alloc.arena = (char *)arena;
  body.alloc.size = size;
  body.alloc.alignment = align;
  body.alloc.count = count;
  body.alloc.detached = detached;
  req.body_case = ARENAD__REQUEST__BODY_ALLOC;
  req.alloc = &body.alloc;
  return &req;
}

Arenad__Request *it_req_free(const char *arena, const uint64_t *offsets,
                             size_t n) {
  fresh();
  arenad__free_request__init(&body.free);
  body.free.arena = (char *)arena;
  body.free.offsets = (uint64_t *)offsets;
  body.free.n_offsets = n;
  req.body_case = ARENAD__REQUEST__BODY_FREE;
  req.free = &body.free;
  return &req;
}

Arenad__Request *it_req_inspect(const char *arena, Arenad__InspectWhat what,
                                uint64_t cursor, uint32_t limit) {
  fresh();
  arenad__inspect_request__init(&body.inspect);
  body.inspect.arena = (char *)arena;
  body.inspect.what = what;
  body.inspect.cursor = cursor;
  body.inspect.limit = limit;
  req.body_case = ARENAD__REQUEST__BODY_INSPECT;
  req.inspect = &body.inspect;
  return &req;
}

Arenad__Request *it_req_check(const char *arena) {
  fresh();
  arenad__check_request__init(&body.check);
  body.check.arena = (char *)arena;
  req.body_case = ARENAD__REQUEST__BODY_CHECK;
  req.check = &body.check;
  return &req;
}

Arenad__Request *it_req_retain(const char *arena, uint64_t offset) {
  fresh();
  arenad__retain_request__init(&body.retain);
  body.retain.arena = (char *)arena;
  body.retain.offset = offset;
  req.body_case = ARENAD__REQUEST__BODY_RETAIN;
  req.retain = &body.retain;
  return &req;
}

Arenad__Request *it_req_release(const char *arena, uint64_t offset) {
  fresh();
  arenad__release_request__init(&body.release);
  body.release.arena = (char *)arena;
  body.release.offset = offset;
  req.body_case = ARENAD__REQUEST__BODY_RELEASE;
  req.release = &body.release;
  return &req;
}

Arenad__Request *it_req_transfer(const char *arena, uint64_t offset,
                                 uint64_t token) {
  fresh();
  arenad__transfer_request__init(&body.transfer);
  body.transfer.arena = (char *)arena;
  body.transfer.offset = offset;
  body.transfer.target_token = token;
  req.body_case = ARENAD__REQUEST__BODY_TRANSFER;
  req.transfer = &body.transfer;
  return &req;
}

Arenad__Request *it_req_create(const char *name, uint64_t size,
                               Arenad__Policy policy,
                               const Arenad__Access *access,
                               uint64_t quota_bytes, uint64_t quota_blocks) {
  fresh();
  arenad__create_arena_request__init(&body.create);
  body.create.name = (char *)name;
  body.create.size = size;
  body.create.policy = policy;
  if (access != NULL) {
    body_access = *access;
    body.create.access = &body_access;
  }
  body.create.quota_bytes = quota_bytes;
  body.create.quota_blocks = quota_blocks;
  req.body_case = ARENAD__REQUEST__BODY_CREATE_ARENA;
  req.create_arena = &body.create;
  return &req;
}

Arenad__Request *it_req_destroy(const char *name, bool force) {
  fresh();
  arenad__destroy_arena_request__init(&body.destroy);
  body.destroy.name = (char *)name;
  body.destroy.force = force;
  req.body_case = ARENAD__REQUEST__BODY_DESTROY_ARENA;
  req.destroy_arena = &body.destroy;
  return &req;
}

/* ---- Shorthands ----------------------------------------------------------- */

void it_hello_ok(it_conn_t *c) {
  Arenad__Response *r = it_call(c, it_req_hello(1, "itest"), NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_OK);
  it_resp_free(r);
}

uint64_t it_alloc_ok(it_conn_t *c, const char *arena, uint64_t size) {
  Arenad__Response *r = it_call(c, it_req_alloc(arena, size, 0, 1, false),
                                NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_OK);
  assert_int_equal(r->alloc->n_offsets, 1);
  uint64_t off = r->alloc->offsets[0];
  it_resp_free(r);
  return off;
}

void it_free_ok(it_conn_t *c, const char *arena, uint64_t offset) {
  Arenad__Response *r = it_call(c, it_req_free(arena, &offset, 1), NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_OK);
  assert_int_equal(r->free->freed, 1);
  it_resp_free(r);
}

void it_check_ok(it_conn_t *c, const char *arena) {
  Arenad__Response *r = it_call(c, it_req_check(arena), NULL);
  if (r->status != ARENAD__STATUS__STATUS_OK)
    fail_msg("check of %s failed: %s (%s at %llu: %s)", arena, r->message,
             r->check ? r->check->invariant : "?",
             r->check ? (unsigned long long)r->check->offset : 0ULL,
             r->check ? r->check->detail : "");
  assert_non_null(r->check);
  assert_true(r->check->ok);
  it_resp_free(r);
}

uint64_t it_live_blocks(it_conn_t *c, const char *arena) {
  return it_summary_stat(c, arena, "live_blocks");
}

uint8_t *it_map_arena(it_conn_t *c, const char *arena, size_t *size) {
  int fd = -1;
  Arenad__Response *r = it_call(c, it_req_attach(arena, false), &fd);
  it_assert_status(r, ARENAD__STATUS__STATUS_OK);
  assert_false(r->attach->read_only);
  *size = (size_t)r->attach->size;
  it_resp_free(r);
  assert_true(fd >= 0);
  uint8_t *base = mmap(NULL, *size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  assert_true(base != MAP_FAILED);
  close(fd);
  return base;
}

void it_smash_header(uint8_t *base, uint64_t off, uint64_t n) {
  assert_true(off >= AR_HDR);
  ar_header_t h;
  memcpy(&h, base + off - AR_HDR, sizeof(h));
  assert_int_equal(h.magic, AR_HDR_MAGIC); /* it is the header */
  assert_int_equal(h.size, n);
  memset(base + off - AR_HDR, 0xa5, AR_HDR);
}

/* The uint64 field `name` of message m (a dotted name reaches into nested
 * messages); `what` names m's type in failures. */
static uint64_t counter_in(const ProtobufCMessage *m, const char *what,
                           const char *name) {
  const char *part = name;
  for (;;) {
    size_t n = strcspn(part, ".");
    char field[64];
    snprintf(field, sizeof(field), "%.*s", (int)n, part);
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field_by_name(m->descriptor, field);
    if (f == NULL)
      fail_msg("%s has no %s", what, name);
    const char *at = (const char *)m + f->offset;
    if (part[n] == '\0') {
      if (f->type != PROTOBUF_C_TYPE_UINT64)
        fail_msg("%s's %s is no counter", what, name);
      uint64_t v;
      memcpy(&v, at, sizeof(v));
      return v;
    }
    if (f->type != PROTOBUF_C_TYPE_MESSAGE)
      fail_msg("%s's %.*s holds no counters", what, (int)(part + n - name),
               name);
    memcpy(&m, at, sizeof(m));
    if (m == NULL)
      fail_msg("%s came without %.*s", what, (int)(part + n - name), name);
    part += n + 1;
  }
}

uint64_t it_stat(it_conn_t *c, const char *name) {
  Arenad__Response *r = it_call(c, it_req_stats(), NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_OK);
  uint64_t v = counter_in(&r->stats->base, "StatsReply", name);
  it_resp_free(r);
  return v;
}

uint64_t it_summary_stat(it_conn_t *c, const char *arena, const char *name) {
  Arenad__Response *r = it_call(
      c, it_req_inspect(arena, ARENAD__INSPECT_WHAT__INSPECT_SUMMARY, 0, 0),
      NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_OK);
  uint64_t v = counter_in(&r->inspect->summary->base, "ArenaSummary", name);
  it_resp_free(r);
  return v;
}

void it_hello_id(it_conn_t *c, uint64_t *token, uint64_t *conn_id) {
  Arenad__Response *r = it_call(c, it_req_hello(1, "itest"), NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_OK);
  if (token != NULL)
    *token = r->hello->token;
  if (conn_id != NULL)
    *conn_id = r->hello->connection_id;
  it_resp_free(r);
}

int it_status(it_conn_t *c, Arenad__Request *request) {
  Arenad__Response *r = it_call(c, request, NULL);
  int st = (int)r->status;
  it_resp_free(r);
  return st;
}

void it_barrier(it_conn_t *c) {
  for (int i = 0; i < 2; i++)
    it_resp_free(it_call(c, it_req_ping(), NULL));
}

/* ---- Other users ---------------------------------------------------------- */

void it_daemon_open_to_all(const it_daemon_t *d) {
  if (chmod(d->dir, 0711) < 0)
    fail_msg("chmod %s: %s", d->dir, strerror(errno));
}

int it_run_as(uint32_t uid, uint32_t gid, const uint32_t *groups,
              size_t ngroups, int (*fn)(void *), void *arg) {
  fflush(NULL); /* nothing buffered is written twice */
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0)
    fail_msg("fork: %s", strerror(errno));
  if (pid == 0) {
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
      _exit(125);
    gid_t g[IT_GROUPS_MAX];
    if (ngroups > IT_GROUPS_MAX)
      _exit(125);
    for (size_t i = 0; i < ngroups; i++)
      g[i] = (gid_t)groups[i];
    if (setgroups(ngroups, g) < 0 || setgid((gid_t)gid) < 0 ||
        setuid((uid_t)uid) < 0)
      _exit(125);
    _exit(fn(arg));
  }
  int st = wait_exit(pid, IT_TIMEOUT_S * 1000);
  if (st < 0) {
    kill(pid, SIGKILL);
    wait_exit(pid, -1);
    fail_msg("a child running as uid %u did not exit within %d s",
             (unsigned)uid, IT_TIMEOUT_S);
  }
  return st;
}
