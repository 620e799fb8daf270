/*
 * bench_echo.c: the floor of `arenactl bench`: a bare Unix-socket echo
 * server, and a client that measures it the way cmd_bench.c measures the
 * daemon. The server is one epoll loop serving every connection, like the
 * daemon's single event loop, and does nothing but send back what it
 * reads; the client's messages have the size of the daemon's ping frames.
 * Whatever the daemon costs beyond these figures is protobuf, dispatch and
 * the allocator.
 *
 * The loop runs either in a thread of this process or in a child process.
 * The second is the daemon's situation: every round trip then switches
 * between two address spaces, which on a virtual machine can cost more
 * than the rest of the round trip, so both are measured.
 *
 * The server's socket has an abstract name that the kernel picks (Linux's
 * autobind): nothing in the file system, so a bench ended by a signal or
 * a crash leaves nothing behind, and the name goes with the last
 * descriptor of the socket.
 */
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "arenactl.h"
#include "bench.h"

struct ar__echo_s {
  pthread_t tid; /* the loop's thread, or 0 */
  pid_t pid;     /* the loop's process, or 0 */
  int listen_fd;
  int wake_fd; /* an eventfd: written to stop the loop */
  int epoll_fd;
  struct sockaddr_un addr; /* the listening socket's abstract name */
  socklen_t addrlen;
  /* The connections the loop accepted and has not closed: owned by the
   * loop, which closes them when it stops; the array is freed by
   * ar__echo_stop. */
  int *clients;
  size_t nclients, clients_cap;
};

/* Writes all n bytes (the socket is blocking). Returns 0 or -1. */
static int write_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return -1;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

/* Takes on a connection the listening socket has: watched and noted, or
 * closed when it cannot be. */
static void accept_client(ar__echo_t *e) {
  int c = accept4(e->listen_fd, NULL, NULL, SOCK_CLOEXEC);
  if (c < 0)
    return;
  if (e->nclients == e->clients_cap) {
    size_t cap = e->clients_cap ? 2 * e->clients_cap : 16;
    int *grown = realloc(e->clients, cap * sizeof *grown);
    if (grown == NULL) {
      close(c);
      return;
    }
    e->clients = grown;
    e->clients_cap = cap;
  }
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = c};
  if (epoll_ctl(e->epoll_fd, EPOLL_CTL_ADD, c, &ev) < 0) {
    close(c);
    return;
  }
  e->clients[e->nclients++] = c;
}

/* Closes connection fd (one the loop noted) and forgets it. */
static void close_client(ar__echo_t *e, int fd) {
  epoll_ctl(e->epoll_fd, EPOLL_CTL_DEL, fd, NULL);
  close(fd);
  for (size_t i = 0; i < e->nclients; i++)
    if (e->clients[i] == fd) {
      e->clients[i] = e->clients[--e->nclients];
      break;
    }
}

static void *echo_loop(void *arg) {
  ar__echo_t *e = arg;
  static char buf[1 << 16];
  struct epoll_event evs[64];
  for (;;) {
    int n = epoll_wait(e->epoll_fd, evs, 64, -1);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      break;
    for (int i = 0; i < n; i++) {
      int fd = evs[i].data.fd;
      if (fd == e->wake_fd)
        goto stop;
      if (fd == e->listen_fd) {
        accept_client(e);
        continue;
      }
      ssize_t r = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
      if (r < 0 && (errno == EAGAIN || errno == EINTR))
        continue;
      if (r <= 0 || write_all(fd, buf, (size_t)r) < 0)
        close_client(e, fd);
    }
  }
stop:
  /* Whatever the stop came with (hang-ups later in the same batch, peers
   * still connected), the loop's own sockets go with it. */
  while (e->nclients > 0)
    close_client(e, e->clients[e->nclients - 1]);
  return NULL;
}

int ar__echo_start(ar__echo_t **out, bool process, char *err, size_t len) {
  ar__echo_t *e = calloc(1, sizeof *e);
  if (e == NULL) {
    snprintf(err, len, "out of memory");
    return -1;
  }
  e->listen_fd = e->wake_fd = e->epoll_fd = -1;
  /* An address of the family alone: the kernel binds an abstract name. */
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  e->addrlen = sizeof e->addr;

  e->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  e->wake_fd = eventfd(0, EFD_CLOEXEC);
  e->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event l = {.events = EPOLLIN, .data.fd = e->listen_fd};
  struct epoll_event w = {.events = EPOLLIN, .data.fd = e->wake_fd};
  if (e->listen_fd < 0 || e->wake_fd < 0 || e->epoll_fd < 0 ||
      bind(e->listen_fd, (struct sockaddr *)&sa, sizeof(sa_family_t)) < 0 ||
      getsockname(e->listen_fd, (struct sockaddr *)&e->addr, &e->addrlen) < 0 ||
      listen(e->listen_fd, 64) < 0 ||
      epoll_ctl(e->epoll_fd, EPOLL_CTL_ADD, e->listen_fd, &l) < 0 ||
      epoll_ctl(e->epoll_fd, EPOLL_CTL_ADD, e->wake_fd, &w) < 0) {
    snprintf(err, len, "starting the echo server: %s", strerror(errno));
    ar__echo_stop(e);
    return -1;
  }
  if (process) {
    /* Called before the measures start threads: the child has only this
     * one, and it leaves with _exit, touching nothing of the parent's. It
     * dies with this thread, the one that runs the command, however that
     * ends (a signal, a crash): only ar__echo_stop stops it otherwise,
     * and an orphan would serve on for ever. */
    pid_t parent = getpid();
    e->pid = fork();
    if (e->pid == 0) {
      if (prctl(PR_SET_PDEATHSIG, SIGKILL) == 0 && getppid() == parent)
        echo_loop(e);
      _exit(0);
    }
    if (e->pid < 0) {
      e->pid = 0;
      snprintf(err, len, "fork: %s", strerror(errno));
      ar__echo_stop(e);
      return -1;
    }
  } else {
    int rc = pthread_create(&e->tid, NULL, echo_loop, e);
    if (rc != 0) {
      e->tid = 0;
      snprintf(err, len, "starting the echo thread: %s", strerror(rc));
      ar__echo_stop(e);
      return -1;
    }
  }
  *out = e;
  return 0;
}

void ar__echo_stop(ar__echo_t *e) {
  if (e == NULL)
    return;
  uint64_t one = 1;
  if (e->tid != 0 && write(e->wake_fd, &one, sizeof one) == sizeof one)
    pthread_join(e->tid, NULL);
  if (e->pid != 0) {
    if (write(e->wake_fd, &one, sizeof one) != sizeof one)
      kill(e->pid, SIGKILL);
    while (waitpid(e->pid, NULL, 0) < 0 && errno == EINTR)
      ;
  }
  /* The loop closed its client sockets as it stopped (in the child, its
   * exit would have anyway). */
  free(e->clients);
  if (e->listen_fd >= 0)
    close(e->listen_fd);
  if (e->wake_fd >= 0)
    close(e->wake_fd);
  if (e->epoll_fd >= 0)
    close(e->epoll_fd);
  free(e);
}

int ar__echo_dial(const ar__echo_t *e, char *err, size_t len) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 ||
      connect(fd, (const struct sockaddr *)&e->addr, e->addrlen) < 0) {
    snprintf(err, len, "connecting to the echo server: %s", strerror(errno));
    if (fd >= 0)
      close(fd);
    return -1;
  }
  return fd;
}

/* Reads exactly n bytes. Returns 0 or -1. */
static int read_all(int fd, char *p, size_t n) {
  while (n > 0) {
    ssize_t r = recv(fd, p, n, 0);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      return -1;
    p += r;
    n -= (size_t)r;
  }
  return 0;
}

int ar__echo_round_trips(int fd, size_t msg, size_t n, double *samples,
                         char *err, size_t len) {
  char out[256], in[256];
  if (msg > sizeof out)
    msg = sizeof out;
  memset(out, 0x5a, msg);
  for (size_t i = 0; i < n; i++) {
    double t0 = ar__ctl_now_ns();
    if (write_all(fd, out, msg) < 0 || read_all(fd, in, msg) < 0) {
      snprintf(err, len, "echo: %s", strerror(errno));
      return -1;
    }
    if (samples != NULL)
      samples[i] = ar__ctl_now_ns() - t0;
  }
  return 0;
}

/* A pipelined echo connection. */
typedef struct echo_conn_s {
  int fd;
  char *out; /* window messages' worth of bytes to send */
} echo_conn_t;

int ar__echo_setup(ar__bench_worker_t *w) {
  const ar__echo_params_t *p = w->run->arg;
  echo_conn_t *c = calloc(1, sizeof *c);
  if (c == NULL) {
    snprintf(w->err, sizeof w->err, "out of memory");
    return -1;
  }
  c->out = malloc(p->msg * p->window);
  c->fd = ar__echo_dial(p->echo, w->err, sizeof w->err);
  if (c->out == NULL || c->fd < 0) {
    if (c->fd >= 0)
      close(c->fd);
    free(c->out);
    free(c);
    if (w->err[0] == '\0')
      snprintf(w->err, sizeof w->err, "out of memory");
    return -1;
  }
  memset(c->out, 0x5a, p->msg * p->window);
  w->state = c;
  return 0;
}

/* Keeps `window` messages in flight: each time replies come back, as many
 * new messages go out in one write, as the client library batches. */
int ar__echo_work(ar__bench_worker_t *w) {
  const ar__echo_params_t *p = w->run->arg;
  echo_conn_t *c = w->state;
  static _Thread_local char in[1 << 16];
  size_t in_flight = p->window, partial = 0;
  int rc = 0;
  if (write_all(c->fd, c->out, p->msg * p->window) < 0)
    rc = -1;
  while (rc == 0 && in_flight > 0) {
    ssize_t r = recv(c->fd, in, sizeof in, 0);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0) {
      rc = -1;
      break;
    }
    partial += (size_t)r;
    size_t done = partial / p->msg;
    partial %= p->msg;
    in_flight -= done;
    if (atomic_load_explicit(w->stop, memory_order_relaxed))
      continue; /* drain what is in flight */
    w->ops += done;
    if (done > 0 && write_all(c->fd, c->out, done * p->msg) < 0)
      rc = -1;
    in_flight += done;
  }
  if (rc < 0)
    snprintf(w->err, sizeof w->err, "echo: %s", strerror(errno));
  close(c->fd);
  free(c->out);
  free(c);
  return rc;
}
