/*
 * daemon.h: the server object: the event loop, the arenas, the open
 * connections, the counters, and the shutdown sequence. One per process,
 * owned by main.c, passed to everything that needs it (there is no global
 * server). Single-threaded: everything runs on its libuv loop.
 *
 * Shutdown (SIGINT or SIGTERM): stop accepting and remove the socket;
 * every connection answers the requests its peer had sent by then (read
 * already, or waiting in its socket), flushes its replies and closes (its
 * blocks reclaimed); once none is left, or when shutdown_timeout_ms
 * passes, the loop ends and main exits 0. A second signal closes what is
 * left at once.
 */
#ifndef AD_DAEMON_H
#define AD_DAEMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "ar/frame.h"
#include "arena.h"
#include "blocks.h"
#include "config.h"
#include "conn.h"
#include "listener.h"
#include "log.h"
#include "scratch.h"
#include "stats.h"

typedef struct ad_daemon_s {
  uv_loop_t loop;
  const ad_config_t *cfg; /* borrowed; outlives the daemon */
  uint32_t uid, gid;      /* the daemon's effective ids, read at init */

  ad_arena_t **arenas;    /* owned: narenas, sorted by name */
  size_t narenas, arenas_cap;
  uint64_t next_arena_id;
  uint64_t slots[AD_ARENAS_MAX / 64]; /* bit i: an arena has slot i */
  ad_blocks_t pools;      /* block records and holds, for every arena */

  ad_scratch_t scratch;   /* one request's memory; reset after each */
  ar_buf_t inbuf;         /* shared read buffer: empty between callbacks */
  ar_buf_t staging;       /* shared reply buffer: empty between callbacks */

  ad_listener_t listener;
  uv_signal_t sigint, sigterm, sighup;
  uv_timer_t shutdown_timer;
  uv_timer_t frame_timer; /* finds connections stalled mid-frame, or with
                             replies their peer does not take */
  uv_idle_t resume;       /* runs while connections have yielded */
  uv_timer_t fd_retry;    /* runs while descriptors wait (ETOOMANYREFS) */
  uv_idle_t reclaimer;    /* runs while closed connections' blocks are
                             freed (reclaim.h) */
  bool handles_init;      /* the signal, timer and idle handles above are
                             initialised */

  ad_conn_t *conns;       /* open connections, newest first */
  ad_conn_t *reclaim_head, *reclaim_tail; /* closed ones whose blocks are
                                             being freed (reclaim.c's) */
  size_t nyielded;        /* of them, those waiting for their next turn */
  uint64_t next_conn_id;
  ad_stats_t stats;
  uint64_t start_ms;      /* uv_hrtime at start, in ms */
  uint64_t instance;      /* this run: random, never 0 (HelloReply) */

  bool shutting_down;
  bool finished; /* the loop's handles are closing */

  ad_ratelimit_t rl_refused;  /* log lines for refused connections */
  ad_ratelimit_t rl_protocol; /* log lines for protocol errors */
  ad_ratelimit_t rl_accept;   /* log lines for accept(2) failures */
  ad_ratelimit_t rl_denied;   /* log lines for permission refusals */
  ad_ratelimit_t rl_quota;    /* log lines for quota refusals */
  ad_ratelimit_t rl_corrupt;  /* log lines for overwritten headers */
} ad_daemon_t;

/*
 * Makes d ready to serve cfg: the loop, the buffers, and every arena,
 * created and reserved. Opens no socket (ad_daemon_listen does), so tests
 * can drive connections without one. Returns 0, or an AR_E* code with a
 * sentence in err naming what failed; d is then cleaned up already.
 */
int ad_daemon_init(ad_daemon_t *d, const ad_config_t *cfg, char *err,
                   size_t errlen);

/* Opens the socket, installs the signal handlers and, when ready_fd >= 0,
 * writes "ready\n" to it and closes it. Returns 0 or AR_EIO (err says
 * why); on an error ready_fd is left open and still the caller's (main.c
 * exits then, which closes it: the reader gets end of file, no "ready"). */
int ad_daemon_listen(ad_daemon_t *d, int ready_fd, char *err, size_t errlen);

/* Runs the loop until shutdown is complete. Returns 0. */
int ad_daemon_run(ad_daemon_t *d);

/* Closes any connection left, destroys the arenas, closes the loop. */
void ad_daemon_fini(ad_daemon_t *d);

/* The arena named `name`, or NULL. */
ad_arena_t *ad_daemon_arena(const ad_daemon_t *d, const char *name);

/* The arena with this id, or NULL (it may have been destroyed). */
ad_arena_t *ad_daemon_arena_by_id(const ad_daemon_t *d, uint64_t id);

/*
 * Makes a new arena while the daemon runs, as `conf` says (owner and group
 * AD_ID_NONE: the daemon's), reserving its memory, and adds it to d's
 * list. Returns 0 and the arena in *out (owned by d); AR_EINVAL for a name
 * that is taken; AR_ELIMIT past AD_ARENAS_MAX arenas (counted in
 * arenas_refused_limit) or with no descriptor to spare (counted in
 * fds_exhausted); AR_ENOMEM when its memory is not there (counted in
 * arenas_refused_memory); or ad_arena_create's other errors. On an error
 * err says why.
 */
int ad_daemon_create_arena(ad_daemon_t *d, const ad_arena_conf_t *conf,
                           ad_arena_t **out, char *err, size_t errlen);

/* What went with a destroyed arena (DestroyArenaReply). */
typedef struct ad_destroyed_s {
  uint64_t blocks; /* live blocks, detached ones included */
  uint64_t bytes;  /* their block bytes */
  uint32_t attached_connections;
} ad_destroyed_t;

/*
 * Removes arena a from d and frees it, with every reference to its blocks
 * (counted as freed blocks). The connections that had it attached or held
 * blocks in it are told (ad_conn_arena_gone): their requests naming it get
 * not found until they attach it again. Fills *out.
 */
void ad_daemon_destroy_arena(ad_daemon_t *d, ad_arena_t *a,
                             ad_destroyed_t *out);

/* The open connection whose token is `token`, or NULL. O(connections). */
ad_conn_t *ad_daemon_conn_by_token(const ad_daemon_t *d, uint64_t token);

/* Milliseconds of the monotonic clock, read at the call (uv_hrtime / 10^6,
 * not the loop's cached uv_now, which a daemon driven by a test without
 * its loop never moves): for rate limits, uptime and the connections'
 * timeouts. */
uint64_t ad_daemon_now_ms(void);

/* A random number from getrandom, never 0 (connection tokens, the
 * instance). Returns 0, or AR_EINTERNAL when getrandom fails (errno says
 * why; EIO for a short read). */
int ad_daemon_random(uint64_t *out);

/* Starts the shutdown (see the top of this file); `why` is logged. */
void ad_daemon_shutdown(ad_daemon_t *d, const char *why);

/* A connection has yielded its turn (conn.c): the loop's next iteration
 * resumes it, and every other yielded one (once the daemon listens; until
 * then a test resumes them itself). */
void ad_daemon_resume_later(ad_daemon_t *d);

/* A connection's descriptor was refused by the kernel for now
 * (conn_io.c): a timer tries every such connection again, every
 * AD_FD_RETRY_MS. */
#define AD_FD_RETRY_MS 50
void ad_daemon_retry_fds_later(ad_daemon_t *d);

/* Links a new connection in / out of d's list (conn.c, conn_io.c). */
void ad_daemon_conn_add(ad_daemon_t *d, ad_conn_t *c);
void ad_daemon_conn_remove(ad_daemon_t *d, ad_conn_t *c);

#endif /* AD_DAEMON_H */
