/*
 * conn.c: the life of a handle: finding the daemon's socket, connecting,
 * closing, and the handle's error state. A handle starts with the
 * protocol's default limits (1 MiB frames) until hello says otherwise;
 * once broken it only keeps its first error and its mappings.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ar/util.h"
#include "internal.h"

_Static_assert(sizeof(((struct sockaddr_un *)NULL)->sun_path) ==
                   AR_SOCKET_PATH_MAX,
               "AR_SOCKET_PATH_MAX is the room in a socket address");
/* arenad.h names the variable to its users, who have no ar/util.h; the
 * library reads AR_SOCKET_ENV (ar_socket_path). Another length fails
 * here, another spelling of the same length test_client_no_handle's
 * test_socket_path (it sets ARENAD_SOCKET_ENV and expects it read). */
_Static_assert(sizeof ARENAD_SOCKET_ENV == sizeof AR_SOCKET_ENV,
               "ARENAD_SOCKET_ENV is AR_SOCKET_ENV");

int arenad__fail(arenad_t *h, int code, const char *fmt, ...) {
  if (h == NULL || h->broken)
    return code; /* no handle to tell, or keep the reason it broke */
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(h->err, sizeof h->err, fmt, ap);
  va_end(ap);
  return code;
}

/* Closes h's socket. In the process that made the handle, it is shut down
 * first: a child forked since (without exec) holds a copy of it, which
 * would otherwise keep the connection, and the blocks it holds, alive in
 * the daemon until the child exits. A child's close leaves the parent's
 * connection alone. */
static void close_socket(arenad_t *h) {
  if (h->fd < 0)
    return;
  if (getpid() == h->pid)
    shutdown(h->fd, SHUT_RDWR);
  close(h->fd);
  h->fd = -1;
}

int arenad__break(arenad_t *h, int code, const char *fmt, ...) {
  if (!h->broken) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(h->err, sizeof h->err, fmt, ap);
    va_end(ap);
    h->broken = true;
  }
  close_socket(h);
  arenad__close_fds(h);
  /* The requests in flight will get no reply: drop them, so that
   * arenad_in_flight says 0 and a loop that collects until then ends. */
  h->pend_head = 0;
  h->pend_len = 0;
  h->unsent = 0;
  return code;
}

int arenad__usable(arenad_t *h) {
  if (h == NULL)
    return AR_EINVAL;
  if (h->broken)
    return AR_EIO; /* arenad_error keeps why it broke */
  h->err[0] = '\0';
  return 0;
}

void arenad__close_fds(arenad_t *h) {
  for (size_t i = 0; i < h->nfds; i++)
    close(h->fds[i]);
  h->nfds = 0;
  h->fds_lost = false;
}

void arenad__copy_str(char *dst, size_t size, const char *src) {
  if (size == 0)
    return;
  if (src == NULL)
    src = "";
  size_t n = strlen(src);
  if (n >= size)
    n = size - 1;
  memcpy(dst, src, n);
  dst[n] = '\0';
}

int arenad__check_name(arenad_t *h, const char *name) {
  if (name == NULL || name[0] == '\0')
    return arenad__fail(h, AR_EINVAL, "no arena name");
  return 0;
}

void arenad__set_limits(arenad_t *h, uint64_t max_frame, size_t window) {
  if (max_frame == 0)
    max_frame = AR_FRAME_MAX_DEFAULT;
  if (max_frame > ARENAD_FRAME_MAX_CLIENT)
    max_frame = ARENAD_FRAME_MAX_CLIENT;
  h->max_frame = max_frame;
  h->window = window < ARENAD__WINDOW_MAX ? window : ARENAD__WINDOW_MAX;
  /* The buffers' caps are fixed when they are made: remake the empty ones
   * (after a blocking call both are). A frame never needs more than its
   * prefix and body; the read chunk and the flush threshold are slack for
   * the bytes of the following frames. Input that came with the hello
   * reply stays where it is, under a cap raised to the new limit's (a cap
   * above that comes down once the buffer empties: arenad__read_reply). */
  if (ar_buf_len(&h->in) == 0) {
    ar_buf_destroy(&h->in);
    ar_buf_init(&h->in, arenad__input_cap(h));
  } else {
    ar_buf_raise_max(&h->in, arenad__input_cap(h));
  }
  if (ar_buf_len(&h->out) == 0) {
    ar_buf_destroy(&h->out);
    ar_buf_init(&h->out, (size_t)max_frame + AR_FRAME_PREFIX_MAX +
                             ARENAD__FLUSH_AT);
  }
}

int arenad_socket_path(const char *path, char *buf, size_t len) {
  if (buf == NULL || len == 0)
    return AR_EINVAL;
  if (path == NULL)
    return ar_socket_path(buf, len, 0); /* the rule shared with arenad */
  size_t n = strlen(path);
  if (n == 0) { /* in a socket address, "" would name an abstract socket */
    buf[0] = '\0';
    return AR_EINVAL;
  }
  if (n >= len || n >= AR_SOCKET_PATH_MAX) {
    buf[0] = '\0';
    return AR_ELIMIT;
  }
  memcpy(buf, path, n + 1);
  return 0;
}

/* Milliseconds since *t0 (CLOCK_MONOTONIC). */
static long ms_since(const struct timespec *t0) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (long)(now.tv_sec - t0->tv_sec) * 1000 +
         (now.tv_nsec - t0->tv_nsec) / 1000000;
}

/* Bounds the socket's blocking sends, and so its connect, to ms
 * milliseconds; 0 takes the bound away. */
static int send_timeout(int fd, long ms) {
  struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
  return setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

/* connect(2) to the path in sa, waiting at most ms milliseconds (ms < 0:
 * as long as it takes) for the listener to take it: a listener that does
 * not accept, or not fast enough, has a full backlog, and a connect then
 * waits for room. The kernel bounds that wait by SO_SNDTIMEO (unix(7)),
 * which is set for the connect alone. A Unix socket's connect that a
 * signal interrupts has queued nothing (it does not go on in the
 * background, as a TCP connect would): it is made again, for what is left
 * of the time. The address's length ends at the path's NUL, as unix(7)
 * says a pathname socket's does. Returns 0 or -1 with errno set (EAGAIN
 * when the time ran out). */
static int connect_unix(int fd, const struct sockaddr_un *sa, int ms) {
  socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
                              strlen(sa->sun_path) + 1);
  struct timespec t0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (;;) {
    if (ms >= 0) {
      long left = ms - ms_since(&t0);
      /* at least 1: a bound of 0 would mean none */
      if (send_timeout(fd, left > 0 ? left : 1) < 0)
        return -1;
    }
    if (connect(fd, (const struct sockaddr *)sa, len) == 0 || errno == EISCONN)
      break;
    if (errno != EINTR)
      return -1;
    if (ms >= 0 && ms_since(&t0) >= ms) {
      errno = EAGAIN;
      return -1;
    }
  }
  /* The handle's own timeout bounds its calls (arenad_set_timeout). */
  return ms < 0 ? 0 : send_timeout(fd, 0);
}

/* Whether the process listening at the other end of fd runs as this
 * process's uid. */
static bool peer_is_self(int fd) {
  struct ucred cred;
  socklen_t len = sizeof cred;
  return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 &&
         cred.uid == getuid();
}

int arenad_connect(const char *path, arenad_t **out) {
  return arenad_connect_timeout(path, -1, out);
}

int arenad_connect_timeout(const char *path, int ms, arenad_t **out) {
  if (out == NULL)
    return AR_EINVAL;
  *out = NULL;

  struct sockaddr_un sa;
  memset(&sa, 0, sizeof sa);
  sa.sun_family = AF_UNIX;
  int rc = arenad_socket_path(path, sa.sun_path, sizeof sa.sun_path);
  if (rc == AR_EPERM)
    errno = EPERM; /* the directory is not the user's alone */
  if (rc < 0)
    return rc == AR_EPERM ? AR_EIO : rc;

  /* Not 0-2, even when the caller closed a standard stream: what it prints
   * there would go into the connection. */
  int fd = ar_fd_above_stdio(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd < 0)
    return AR_EIO;
  if (connect_unix(fd, &sa, ms) < 0) {
    int saved = errno;
    close(fd);
    errno = saved;
    return AR_EIO;
  }
  /* In the /tmp fallback, found or given, however spelled, the daemon is
   * the user's own (ar/util.h): another uid there made the directory after
   * it was checked. A daemon of another uid elsewhere is fine. */
  if (!peer_is_self(fd) && ar_socket_path_may_be_tmp(sa.sun_path)) {
    close(fd);
    errno = EPERM;
    return AR_EIO;
  }
  rc = arenad_open_fd(fd, out);
  if (rc == 0)
    arenad_set_timeout(*out, ms);
  return rc;
}

int arenad_open_fd(int fd, arenad_t **out) {
  if (out == NULL) {
    if (fd >= 0)
      close(fd);
    return AR_EINVAL;
  }
  *out = NULL;
  if (fd < 0)
    return AR_EINVAL;
  arenad_t *h = calloc(1, sizeof *h);
  if (h == NULL) {
    close(fd);
    return AR_EINTERNAL;
  }
  h->fd = fd;
  h->pid = getpid();
  h->timeout_ms = -1;
  h->next_id = 1;
  ar_buf_init(&h->in, 0);
  ar_buf_init(&h->out, 0);
  arenad__set_limits(h, AR_FRAME_MAX_DEFAULT, ARENAD_WINDOW_DEFAULT);
  *out = h;
  return 0;
}

void arenad_close(arenad_t *h) {
  if (h == NULL)
    return;
  close_socket(h);
  arenad__close_fds(h);
  arenad__maps_destroy(h);
  ar_buf_destroy(&h->in);
  ar_buf_destroy(&h->out);
  free(h->pend);
  free(h->offsets);
  free(h->overwritten);
  free(h);
}

int arenad_set_timeout(arenad_t *h, int ms) {
  if (h == NULL)
    return AR_EINVAL;
  h->timeout_ms = ms < 0 ? -1 : ms;
  return 0;
}

const char *arenad_error(const arenad_t *h) {
  return h == NULL ? "no handle" : h->err;
}
