/*
 * listener.h: the daemon's listening socket. It is created with its final
 * permissions (umask around bind, never chmod after), refuses to replace a
 * path that is not a socket or that a live daemon answers on, replaces a
 * stale one, and holds a lock file next to it (PATH.lock, flock) so that
 * two daemons starting at once cannot both decide the socket is stale.
 * Accepted connections get their credentials, a limit check and a
 * connection object.
 */
#ifndef AD_LISTENER_H
#define AD_LISTENER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <uv.h>

struct ad_daemon_s;

typedef struct ad_listener_s {
  int fd;             /* the listening socket, -1 when closed */
  int lock_fd;        /* holds the lock on PATH.lock, -1 when none */
  uv_poll_t poll;     /* watches fd */
  bool poll_init;
  uv_timer_t retry;   /* resumes accepting after accept(2) ran out of fds */
  bool retry_init;
  bool starved;       /* accept(2) ran out of descriptors or memory, and
                         has not taken a connection since: the retries
                         of this pause are not counted again */
  bool bound;         /* the socket file is ours to remove */
  dev_t dev;          /* the socket file we made, so that we never */
  ino_t ino;          /* remove one that another daemon put there */
} ad_listener_t;

/*
 * Claims the socket path before anything else is made (main.c calls it
 * before the arenas are reserved, so that a second daemon is refused at
 * once): takes the lock on PATH.lock, refuses a path that is not a socket
 * or that a live daemon answers on, and removes a stale socket. Stores the
 * lock's descriptor in *lock_fd, to be handed to the daemon
 * (d->listener.lock_fd) before ad_listener_open. Returns 0, or AR_EIO with
 * a sentence in err (errlen bytes); *lock_fd is then -1.
 */
int ad_listener_claim(const char *path, int *lock_fd, char *err,
                      size_t errlen);

/* Opens the socket at d->cfg->socket (claiming the path first unless
 * d->listener.lock_fd holds the lock already) and starts accepting.
 * Returns 0, or AR_EIO with a sentence in err (errlen bytes): a live
 * daemon on the path, a path that is not a socket, bind or listen
 * failing. */
int ad_listener_open(struct ad_daemon_s *d, char *err, size_t errlen);

/* Accepts every connection waiting in the backlog, as the listener would
 * when it next looked: at shutdown, so that clients that connected (and
 * may have sent requests) before it are drained, not dropped with the
 * listening socket. Does nothing once the listener is closed. */
void ad_listener_take_backlog(struct ad_daemon_s *d);

/* Stops accepting and removes the socket file if it is still ours. The
 * lock is kept until ad_listener_release. Idempotent. */
void ad_listener_close(struct ad_daemon_s *d);

/* Drops the lock; after the loop has ended. */
void ad_listener_release(struct ad_daemon_s *d);

#endif /* AD_LISTENER_H */
