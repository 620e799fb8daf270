/*
 * listener.c: the listening socket (see listener.h) and accepting on it.
 * Each wake-up accepts a batch; every accepted socket gets its peer's
 * credentials (SO_PEERCRED), is refused with a LIMIT_EXCEEDED reply when
 * max_connections are open, and otherwise becomes a connection. When
 * accept(2) runs out of descriptors, or the listening socket reports an
 * error, the listener pauses for a moment rather than spin on a socket
 * that stays readable (or stop for good). At shutdown it accepts what
 * waits in its backlog before it closes, so that those clients are
 * drained with the others.
 */
#include "listener.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "ar/error.h"
#include "ar/errorf.h"
#include "ar/frame.h"
#include "audit.h"
#include "daemon.h"
#include "log.h"

#define ACCEPT_BATCH 64    /* connections accepted per wake-up, at most */
#define ACCEPT_PAUSE_MS 100 /* pause after accept(2) ran out of resources */

/* Tells a peer beyond max_connections why, best effort, and hangs up:
 * takes fd, and closes it. */
static void refuse(ad_daemon_t *d, int fd, const struct ucred *cr) {
  uint64_t suppressed = 0;
  d->stats.connections_refused_limit++;
  if (ad_ratelimit_allow(&d->rl_refused, ad_daemon_now_ms(), &suppressed))
    ad_log(AD_LOG_WARN, "refuse",
           "pid=%d uid=%u reason=max-connections open=%llu suppressed=%llu",
           (int)cr->pid, (unsigned)cr->uid,
           (unsigned long long)d->stats.connections_open,
           (unsigned long long)suppressed);

  char msg[96];
  snprintf(msg, sizeof(msg), "too many connections (max_connections is %llu)",
           (unsigned long long)d->cfg->max_connections);
  Arenad__Response resp = ARENAD__RESPONSE__INIT;
  resp.status = ARENAD__STATUS__STATUS_LIMIT_EXCEEDED;
  resp.message = msg;
  uint8_t buf[256];
  size_t n = arenad__response__get_packed_size(&resp);
  if (n + AR_FRAME_PREFIX_MAX <= sizeof(buf)) {
    size_t k = ar_frame_encode(buf, n);
    arenad__response__pack(&resp, buf + k);
    (void)send(fd, buf, k + n, MSG_NOSIGNAL | MSG_DONTWAIT);
    d->stats.errors[resp.status]++;
  }
  close(fd);
}

/* The peer's supplementary groups (SO_PEERGROUPS), kept in c. Returns 0,
 * or AR_EINTERNAL when they cannot be read or kept: a connection whose
 * groups are unknown could be refused what its groups allow, so it is
 * refused instead. */
static int peer_groups(ad_conn_t *c, int fd) {
  uint32_t small[64];
  socklen_t len = sizeof(small);
  if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, small, &len) == 0)
    return ad_conn_set_groups(c, small, len / sizeof(uint32_t));
  if (errno != ERANGE)
    return AR_EINTERNAL;
  /* More than 64: len says how many bytes they take. */
  uint32_t *big = malloc(len);
  int rc = AR_EINTERNAL;
  if (big != NULL &&
      getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, big, &len) == 0)
    rc = ad_conn_set_groups(c, big, len / sizeof(uint32_t));
  free(big);
  return rc;
}

/* Makes the accepted socket fd a started connection, or drops it (its
 * credentials unreadable, max_connections open, ad_conn_new, its groups or
 * libuv failing). Takes fd on every path: the connection owns it, or it is
 * closed here (by ad_conn_close once the connection exists). */
static void accept_one(ad_daemon_t *d, int fd) {
  struct ucred cr;
  socklen_t len = sizeof(cr);
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0) {
    ad_log(AD_LOG_WARN, "accept-failed", "error=\"SO_PEERCRED: %s\"",
           strerror(errno));
    d->stats.connections_accept_failed++;
    close(fd);
    return;
  }
  if (d->stats.connections_open >= d->cfg->max_connections) {
    refuse(d, fd, &cr);
    return;
  }
  ad_conn_t *c = ad_conn_new(d, fd, (uint32_t)cr.pid, cr.uid, cr.gid);
  if (c == NULL) {
    ad_log(AD_LOG_ERROR, "accept-failed", "error=\"out of memory\"");
    d->stats.connections_accept_failed++;
    close(fd);
    return;
  }
  ad_audit_accept(c);
  int rc = peer_groups(c, fd);
  if (rc < 0) {
    ad_log(AD_LOG_ERROR, "accept-failed",
           "conn=%llu error=\"SO_PEERGROUPS: %s\"",
           (unsigned long long)c->id, strerror(errno));
    d->stats.connections_accept_failed++;
    ad_conn_close(c, "error");
    ad_conn_free(c);
    return;
  }
  rc = ad_conn_start(c);
  if (rc < 0) {
    /* e.g. ENOSPC: the kernel's epoll watches (max_user_watches) used up */
    ad_log(AD_LOG_ERROR, "accept-failed", "conn=%llu error=\"%s\"",
           (unsigned long long)c->id, uv_strerror(rc));
    d->stats.connections_accept_failed++;
    bool started = c->started;
    ad_conn_close(c, "error");
    if (!started)
      ad_conn_free(c);
  }
}

static void on_accept(uv_poll_t *h, int status, int events);

static void on_retry(uv_timer_t *t) {
  ad_daemon_t *d = t->data;
  if (d->listener.poll_init)
    uv_poll_start(&d->listener.poll, UV_READABLE, on_accept);
}

/* Accepts up to `max` connections waiting in the backlog. Stops early
 * when none is left, or at an error of accept(2) (counted; when it ran out
 * of resources, the listener pauses). */
static void accept_some(ad_daemon_t *d, int max) {
  for (int i = 0; i < max; i++) {
    int fd = accept4(d->listener.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      d->listener.starved = false;
      accept_one(d, fd);
      continue;
    }
    int e = errno;
    if (e == EAGAIN || e == EWOULDBLOCK) {
      d->listener.starved = false; /* nobody waits any more */
      return;
    }
    if (e == EINTR || e == ECONNABORTED)
      continue;
    bool starved = e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM;
    /* A client waiting while none is free is retried every pause: counted
     * (and logged) once, not once a retry, until a connection is taken. */
    if (!(starved && d->listener.starved)) {
      d->stats.connections_accept_failed++;
      uint64_t suppressed = 0;
      if (ad_ratelimit_allow(&d->rl_accept, ad_daemon_now_ms(), &suppressed))
        ad_log(AD_LOG_WARN, "accept-failed", "error=\"%s\" suppressed=%llu",
               strerror(e), (unsigned long long)suppressed);
    }
    if (starved) {
      d->listener.starved = true;
      uv_poll_stop(&d->listener.poll);
      uv_timer_start(&d->listener.retry, on_retry, ACCEPT_PAUSE_MS, 0);
    }
    return;
  }
}

static void on_accept(uv_poll_t *h, int status, int events) {
  ad_daemon_t *d = h->data;
  (void)events;
  if (status < 0) {
    /* An error on the listening socket: libuv has stopped watching it.
     * Counted, and watched again after the pause that accept(2) out of
     * resources gets, or the daemon would never accept again. */
    d->stats.connections_accept_failed++;
    ad_log(AD_LOG_ERROR, "accept-failed", "error=\"%s\"", uv_strerror(status));
    uv_poll_stop(h);
    uv_timer_start(&d->listener.retry, on_retry, ACCEPT_PAUSE_MS, 0);
    return;
  }
  accept_some(d, ACCEPT_BATCH);
}

/*
 * What is at the path now: nothing (fine), a stale socket (removed), or
 * something to leave alone (an error). A live daemon is one that accepts a
 * connection; a nonblocking connect never waits on a full backlog.
 */
static int clear_path(const char *path, const struct sockaddr_un *sa,
                      char *err, size_t errlen) {
  struct stat st;
  if (lstat(path, &st) < 0) {
    if (errno == ENOENT)
      return 0;
    return ar_errorf(err, errlen, AR_EIO, "cannot examine %s: %s", path,
                     strerror(errno));
  }
  if (!S_ISSOCK(st.st_mode))
    return ar_errorf(err, errlen, AR_EIO,
                     "%s exists and is not a socket; not replacing it", path);

  int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (probe < 0)
    return ar_errorf(err, errlen, AR_EIO, "socket: %s", strerror(errno));
  int rc = connect(probe, (const struct sockaddr *)sa, sizeof(*sa));
  int e = errno;
  close(probe);
  if (rc == 0 || e == EAGAIN || e == EINPROGRESS)
    return ar_errorf(err, errlen, AR_EIO,
                     "another daemon is answering on %s; not replacing it",
                     path);
  if (e != ECONNREFUSED)
    return ar_errorf(err, errlen, AR_EIO,
                     "cannot tell whether %s is in use: %s", path, strerror(e));
  if (unlink(path) < 0 && errno != ENOENT)
    return ar_errorf(err, errlen, AR_EIO,
                     "cannot remove the stale socket %s: %s", path,
                     strerror(errno));
  char shown[AD_LOG_PATH_MAX];
  ad_log(AD_LOG_INFO, "stale-socket", "path=%s removed=1",
         ad_log_str(shown, sizeof(shown), path));
  return 0;
}

/* The address of path; false when it does not fit. */
static bool make_addr(const char *path, struct sockaddr_un *sa) {
  memset(sa, 0, sizeof(*sa));
  sa->sun_family = AF_UNIX;
  if (path[0] == '\0' || strlen(path) >= sizeof(sa->sun_path))
    return false;
  memcpy(sa->sun_path, path, strlen(path) + 1);
  return true;
}

/* The directory that holds the socket at `path`, in dir (or "."). */
static const char *socket_dir(const char *path, char dir[AR_SOCKET_PATH_MAX]) {
  snprintf(dir, AR_SOCKET_PATH_MAX, "%s", path);
  char *slash = strrchr(dir, '/');
  if (slash == NULL)
    return ".";
  slash[slash == dir ? 1 : 0] = '\0'; /* "/x": the directory is "/" */
  return dir;
}

int ad_listener_claim(const char *path, int *lock_fd, char *err,
                      size_t errlen) {
  struct sockaddr_un sa;
  char lock[AR_SOCKET_PATH_MAX + 8];

  *lock_fd = -1;
  if (!make_addr(path, &sa))
    return ar_errorf(err, errlen, AR_EIO, "bad socket path '%s'", path);
  snprintf(lock, sizeof(lock), "%s.lock", path);
  int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  int open_errno = errno;
  if (fd < 0 && open_errno == ENOENT) {
    /* Mostly a missing directory; but some file systems (/proc) answer
     * ENOENT to a file they cannot create in a directory that exists. */
    char dir[AR_SOCKET_PATH_MAX];
    const char *where = socket_dir(path, dir);
    struct stat st;
    if (stat(where, &st) < 0 && errno == ENOENT)
      return ar_errorf(err, errlen, AR_EIO,
                       "the socket's directory %s does not exist (create it, "
                       "or choose another socket path)",
                       where);
  }
  if (fd < 0)
    return ar_errorf(err, errlen, AR_EIO, "cannot open the lock file %s: %s",
                     lock, strerror(open_errno));
  if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
    int e = errno;
    close(fd);
    if (e == EWOULDBLOCK)
      return ar_errorf(err, errlen, AR_EIO,
                       "another arenad is running on %s (it holds %s)", path,
                       lock);
    return ar_errorf(err, errlen, AR_EIO, "cannot lock %s: %s", lock,
                     strerror(e));
  }
  int rc = clear_path(path, &sa, err, errlen);
  if (rc < 0) {
    close(fd);
    return rc;
  }
  *lock_fd = fd;
  return 0;
}

/* Warns when anyone may write the directory that holds the socket at
 * `path`: while the daemon is down (or before it starts), another user
 * could then put a socket of their own at that name, and clients would
 * talk to it. Not refused: a shared directory may be what the operator
 * chose; the /tmp fallback's clients check theirs (ar_socket_path). */
static void check_socket_dir(const char *path) {
  char buf[AR_SOCKET_PATH_MAX];
  const char *dir = socket_dir(path, buf);
  struct stat st;
  char shown[AD_LOG_PATH_MAX];
  if (stat(dir, &st) == 0 && (st.st_mode & S_IWOTH))
    ad_log(AD_LOG_WARN, "socket-dir",
           "dir=%s mode=%04o error=\"writable by others: another user could "
           "take the socket's name while arenad is down\"",
           ad_log_str(shown, sizeof(shown), dir),
           (unsigned)(st.st_mode & 07777));
}

/* Warns when the socket's mode keeps clients out: connecting to a Unix
 * socket needs write permission on it, and the owner's bits are the ones
 * that apply to the daemon's own uid, whatever the group's and others'
 * say. Not refused: clients that run as root connect whatever the mode. */
static void check_socket_mode(uint64_t mode) {
  const char *who = NULL;
  if ((mode & 0222) == 0)
    who = "no client but root can connect";
  else if ((mode & 0200) == 0)
    who = "clients of arenad's own uid cannot connect";
  if (who != NULL)
    ad_log(AD_LOG_WARN, "socket-mode",
           "mode=%04llo error=\"%s: connecting needs write permission on "
           "the socket\"",
           (unsigned long long)mode, who);
}

int ad_listener_open(ad_daemon_t *d, char *err, size_t errlen) {
  ad_listener_t *l = &d->listener;
  const char *path = d->cfg->socket;
  struct sockaddr_un sa;

  if (!make_addr(path, &sa))
    return ar_errorf(err, errlen, AR_EIO, "bad socket path '%s'", path);
  int rc;
  if (l->lock_fd < 0) {
    rc = ad_listener_claim(path, &l->lock_fd, err, errlen);
    if (rc < 0)
      return rc;
  } else {
    /* Claimed already; whatever appeared since is looked at again. */
    rc = clear_path(path, &sa, err, errlen);
    if (rc < 0)
      return rc;
  }

  check_socket_dir(path);
  l->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (l->fd < 0)
    return ar_errorf(err, errlen, AR_EIO, "socket: %s", strerror(errno));
  /* The socket file is born with its final mode: no window in which it is
   * wider, no chmod to forget. The daemon is single-threaded here. */
  mode_t old = umask(~(mode_t)d->cfg->socket_mode & 0777);
  rc = bind(l->fd, (const struct sockaddr *)&sa, sizeof(sa));
  int e = errno;
  umask(old);
  if (rc < 0)
    return ar_errorf(err, errlen, AR_EIO, "cannot bind %s: %s", path,
                     strerror(e));

  struct stat st;
  if (lstat(path, &st) == 0) {
    l->bound = true;
    l->dev = st.st_dev;
    l->ino = st.st_ino;
  }
  if (listen(l->fd, SOMAXCONN) < 0)
    return ar_errorf(err, errlen, AR_EIO, "cannot listen on %s: %s", path,
                     strerror(errno));

  if (uv_poll_init(&d->loop, &l->poll, l->fd) < 0)
    return ar_errorf(err, errlen, AR_EIO, "cannot watch %s", path);
  l->poll.data = d;
  l->poll_init = true;
  uv_timer_init(&d->loop, &l->retry);
  l->retry.data = d;
  l->retry_init = true;
  uv_poll_start(&l->poll, UV_READABLE, on_accept);

  char shown[AD_LOG_PATH_MAX];
  ad_log(AD_LOG_INFO, "listen", "path=%s mode=%04llo max_connections=%llu",
         ad_log_str(shown, sizeof(shown), path),
         (unsigned long long)d->cfg->socket_mode,
         (unsigned long long)d->cfg->max_connections);
  check_socket_mode(d->cfg->socket_mode);
  return 0;
}

void ad_listener_take_backlog(ad_daemon_t *d) {
  if (d->listener.poll_init)
    accept_some(d, SOMAXCONN);
}

void ad_listener_close(ad_daemon_t *d) {
  ad_listener_t *l = &d->listener;
  if (l->poll_init) {
    uv_close((uv_handle_t *)&l->poll, NULL);
    l->poll_init = false;
  }
  if (l->retry_init) {
    uv_close((uv_handle_t *)&l->retry, NULL);
    l->retry_init = false;
  }
  if (l->fd >= 0) {
    close(l->fd);
    l->fd = -1;
  }
  if (l->bound) {
    /* Only the file we made: a later daemon may have replaced it. */
    struct stat st;
    if (lstat(d->cfg->socket, &st) == 0 && st.st_dev == l->dev &&
        st.st_ino == l->ino)
      unlink(d->cfg->socket);
    l->bound = false;
    char shown[AD_LOG_PATH_MAX];
    ad_log(AD_LOG_INFO, "unlisten", "path=%s",
           ad_log_str(shown, sizeof(shown), d->cfg->socket));
  }
}

void ad_listener_release(ad_daemon_t *d) {
  /* The lock file stays: removing it would let two later daemons lock two
   * different files. */
  if (d->listener.lock_fd >= 0) {
    close(d->listener.lock_fd);
    d->listener.lock_fd = -1;
  }
}
