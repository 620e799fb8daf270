/*
 * itest_daemon.c: the integration tests' daemon launcher (see itest.h). It
 * makes a daemon's temporary directory, starts arenad in it (with its
 * config, under IT_DAEMON_WRAPPER, as another user or with a signal
 * pending, as the test asks) and waits on --ready-fd until it is ready;
 * stops, signals and reaps it; reads its log; runs the one daemon of a
 * cmocka group; and runs code in a child as another user. A failing
 * assertion longjmps past the test's it_daemon_cleanup, so this file keeps
 * its own record of the directories it made and the daemons it started:
 * the record is its own, on its heap, entries copied in, and left_clean
 * frees it at exit, after killing and reaping the daemons still running
 * and removing the directories still there. An it_daemon_t holds no
 * memory: it_daemon_cleanup stops its daemon and removes its directory.
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
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef ARENAD_BIN
#error "ARENAD_BIN must name the arenad binary"
#endif

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

/* ---- The daemon ---------------------------------------------------------- */

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
    if (d->closed_stdio && (close(0) < 0 || close(1) < 0 || close(2) < 0))
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
    fail_msg("arenad did not exit within %d s of signal %d", IT_TIMEOUT_S, sig);
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

/* Whether `line` contains every one of the NULL-terminated needles. */
static bool has_all(const char *line, const char *const *needles) {
  for (size_t i = 0; needles[i] != NULL; i++)
    if (strstr(line, needles[i]) == NULL)
      return false;
  return true;
}

/* Reads d's log for the lines that hold every needle, up to the first
 * such line when `first`. Returns how many it found, with the 1-based
 * number of the last line read in *no (the match's, when `first` found
 * one). 0 when the log cannot be read. */
static int scan_log(const it_daemon_t *d, const char *const *needles,
                    bool first, int *no) {
  *no = 0;
  FILE *f = fopen(d->log, "r");
  if (f == NULL)
    return 0;
  char line[2048];
  int n = 0;
  while (!(first && n > 0) && fgets(line, sizeof(line), f) != NULL) {
    ++*no;
    n += has_all(line, needles);
  }
  fclose(f);
  return n;
}

bool it_log_contains(const it_daemon_t *d, const char *needle) {
  const char *const needles[] = {needle, NULL};
  int no;
  return scan_log(d, needles, true, &no) > 0;
}

int it_log_line_no(const it_daemon_t *d, const char *const *needles) {
  int no;
  return scan_log(d, needles, true, &no) > 0 ? no : 0;
}

int it_log_count(const it_daemon_t *d, const char *const *needles) {
  int no;
  return scan_log(d, needles, false, &no);
}

bool it_log_line(const it_daemon_t *d, const char *const *needles) {
  return it_log_line_no(d, needles) > 0;
}

bool it_fd_target(pid_t pid, int fd, char *buf, size_t len) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/fd/%d", (int)pid, fd);
  ssize_t n = readlink(path, buf, len - 1);
  if (n <= 0)
    return false;
  buf[n] = '\0';
  return true;
}

double it_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* ---- Other users --------------------------------------------------------- */

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
