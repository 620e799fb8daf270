/*
 * daemon.c: the server object (see daemon.h): start-up of the arenas and
 * the shared buffers, the signal handlers, the list of connections, and
 * the shutdown sequence with its deadline. It knows nothing of frames or
 * requests: connections and dispatch do.
 */
#include "daemon.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "ar/error.h"
#include "ar/errorf.h"
#include "memcheck.h"
#include "reclaim.h"
#include "segment.h"

/* The per-request scratch: a first chunk that fits any ordinary request,
 * and a cap well above what a frame at the limit can unpack into. */
#define SCRATCH_FIRST (64 * 1024)
#define SCRATCH_MIN_CAP ((size_t)16 << 20)
#define SCRATCH_FRAME_FACTOR 32

static int cmp_arena(const void *x, const void *y) {
  const ad_arena_t *a = *(ad_arena_t *const *)x;
  const ad_arena_t *b = *(ad_arena_t *const *)y;
  return strcmp(a->name, b->name);
}

/* Creates the arena conf describes with the next id and a free slot, its
 * owner and group made the daemon's when not given. The caller has
 * checked that there are fewer than AD_ARENAS_MAX arenas. */
static int make_arena(ad_daemon_t *d, const ad_arena_conf_t *conf,
                      ad_arena_t **out, char *err, size_t errlen) {
  ad_arena_conf_t c = *conf;
  if (c.owner == AD_ID_NONE)
    c.owner = d->uid;
  if (c.group == AD_ID_NONE)
    c.group = d->gid;
  int rc = ad_arena_create(&c, ++d->next_arena_id, &d->pools, out, err, errlen);
  if (rc < 0)
    return rc;
  unsigned w = 0;
  while (d->slots[w] == UINT64_MAX)
    w++;
  unsigned bit = (unsigned)__builtin_ctzll(~d->slots[w]);
  d->slots[w] |= UINT64_C(1) << bit;
  (*out)->slot = w * 64 + bit;
  return 0;
}

int ad_daemon_random(uint64_t *out) {
  uint64_t t = 0;
  while (t == 0) {
    ssize_t n = getrandom(&t, sizeof(t), 0);
    if (n < 0 && errno == EINTR)
      continue;
    if (n != (ssize_t)sizeof(t)) {
      if (n >= 0)
        errno = EIO; /* short: errno was left from before */
      return AR_EINTERNAL;
    }
  }
  *out = t;
  return 0;
}

uint64_t ad_daemon_now_ms(void) { return uv_hrtime() / 1000000; }

/* The fields that need no undoing: the configuration, the ids, the rate
 * limits, and the shared buffers (which hold no memory until used). */
static void init_fields(ad_daemon_t *d, const ad_config_t *cfg) {
  memset(d, 0, sizeof(*d));
  d->cfg = cfg;
  d->listener.fd = -1;
  d->listener.lock_fd = -1;
  d->start_ms = ad_daemon_now_ms();
  d->rl_refused = (ad_ratelimit_t){.window_ms = 1000, .burst = 10};
  d->rl_protocol = (ad_ratelimit_t){.window_ms = 1000, .burst = 10};
  d->rl_accept = (ad_ratelimit_t){.window_ms = 1000, .burst = 10};
  d->rl_denied = (ad_ratelimit_t){.window_ms = 1000, .burst = 20};
  d->rl_quota = (ad_ratelimit_t){.window_ms = 1000, .burst = 20};
  d->rl_corrupt = (ad_ratelimit_t){.window_ms = 1000, .burst = 20};
  d->uid = (uint32_t)geteuid();
  d->gid = (uint32_t)getegid();
  ar_buf_init(&d->inbuf, cfg->read_chunk);
  ar_buf_init(&d->staging, cfg->output_limit_bytes);
}

/* The per-request scratch, its cap set by the frame limit. Returns 0, or
 * AR_EINTERNAL with err set. */
static int init_scratch(ad_daemon_t *d, char *err, size_t errlen) {
  size_t cap = d->cfg->max_frame_bytes * SCRATCH_FRAME_FACTOR;
  if (cap < SCRATCH_MIN_CAP)
    cap = SCRATCH_MIN_CAP;
  if (ad_scratch_init(&d->scratch, SCRATCH_FIRST, cap) < 0)
    return ar_errorf(err, errlen, AR_EINTERNAL, "out of memory");
  return 0;
}

/* Logs the memory available and what cfg's arenas take, and checks that,
 * when there are several, they fit all together before any is reserved
 * (each one is checked again as it is made, against what the ones before
 * it left). Returns 0, or ad_memcheck_fit's error with err set. */
static int check_config_memory(const ad_config_t *cfg, char *err,
                               size_t errlen) {
  uint64_t total = 0;
  for (size_t i = 0; i < cfg->narenas; i++)
    total += cfg->arenas[i].size; /* at most 256 of at most 2^48 bytes */
  ad_memavail_t avail;
  char h1[32], h2[32], src[300];
  ad_memory_available(&avail);
  ad_log(AD_LOG_INFO, "memory", "available=%s arenas=%s source=%s",
         ad_mem_human(h1, sizeof(h1), avail.bytes),
         ad_mem_human(h2, sizeof(h2), total),
         ad_log_str(src, sizeof(src), avail.source));
  if (cfg->narenas <= 1)
    return 0;
  char msg[384];
  int rc = ad_memcheck_fit(total, &avail, msg, sizeof(msg));
  if (rc < 0)
    return ar_errorf(err, errlen, rc, "the %zu arenas together: %s",
                     cfg->narenas, msg);
  return 0;
}

/* Makes the configured arenas, each logged, into d's list (sorted by
 * name). Returns 0, or AR_EINTERNAL or make_arena's error with err naming
 * the arena; the arenas made by then are in d's list all the same, for
 * ad_daemon_fini. */
static int create_config_arenas(ad_daemon_t *d, char *err, size_t errlen) {
  const ad_config_t *cfg = d->cfg;
  d->arenas_cap = cfg->narenas > 0 ? cfg->narenas : 1;
  d->arenas = calloc(d->arenas_cap, sizeof(*d->arenas));
  if (d->arenas == NULL)
    return ar_errorf(err, errlen, AR_EINTERNAL, "out of memory");
  for (size_t i = 0; i < cfg->narenas; i++) {
    const ad_arena_conf_t *conf = &cfg->arenas[i];
    char msg[384];
    ad_arena_t *a;
    int rc = make_arena(d, conf, &a, msg, sizeof(msg));
    if (rc < 0)
      return ar_errorf(err, errlen, rc, "arena '%s' (%s): %s", conf->name,
                       conf->origin, msg);
    d->arenas[d->narenas++] = a;
    ad_log(AD_LOG_INFO, "arena",
           "name=%s size=%llu policy=%s fd=%d mode=%04o owner=%u group=%u",
           a->name, (unsigned long long)a->size, ar_policy_name(a->policy),
           a->seg.fd, (unsigned)a->perm.mode, (unsigned)a->perm.owner,
           (unsigned)a->perm.group);
  }
  qsort(d->arenas, d->narenas, sizeof(*d->arenas), cmp_arena);
  return 0;
}

int ad_daemon_init(ad_daemon_t *d, const ad_config_t *cfg, char *err,
                   size_t errlen) {
  init_fields(d, cfg);
  /* Nothing to undo yet when these fail. */
  if (ad_daemon_random(&d->instance) < 0)
    return ar_errorf(err, errlen, AR_EINTERNAL, "getrandom: %s",
                     strerror(errno));
  int rc = uv_loop_init(&d->loop);
  if (rc < 0)
    return ar_errorf(err, errlen, AR_EINTERNAL, "uv_loop_init: %s",
                     uv_strerror(rc));

  /* From here on, ad_daemon_fini undoes whatever was made. */
  ad_blocks_init(&d->pools);
  rc = init_scratch(d, err, errlen);
  if (rc == 0)
    rc = check_config_memory(cfg, err, errlen);
  if (rc == 0)
    rc = create_config_arenas(d, err, errlen);
  if (rc < 0)
    ad_daemon_fini(d);
  return rc;
}

int ad_daemon_create_arena(ad_daemon_t *d, const ad_arena_conf_t *conf,
                           ad_arena_t **out, char *err, size_t errlen) {
  if (ad_daemon_arena(d, conf->name) != NULL) {
    return ar_errorf(err, errlen, AR_EINVAL, "an arena named '%s' exists",
                     conf->name);
  }
  if (d->narenas >= AD_ARENAS_MAX) {
    d->stats.arenas_refused_limit++;
    return ar_errorf(err, errlen, AR_ELIMIT,
                     "the daemon has %d arenas, the most it keeps",
                     AD_ARENAS_MAX);
  }
  if (d->narenas == d->arenas_cap) {
    size_t cap = d->arenas_cap * 2;
    ad_arena_t **p = realloc(d->arenas, cap * sizeof(*p));
    if (p == NULL)
      return ar_errorf(err, errlen, AR_EINTERNAL, "out of memory");
    d->arenas = p;
    d->arenas_cap = cap;
  }
  ad_arena_t *a;
  int rc = make_arena(d, conf, &a, err, errlen);
  if (rc == AR_ELIMIT) { /* the segment's: the file size limit, or no fd */
    if (ad_segment_over_file_limit(conf->size, NULL))
      d->stats.arenas_refused_limit++;
    else
      d->stats.fds_exhausted++;
  }
  if (rc == AR_ENOMEM) /* the segment's: the memory check or fallocate */
    d->stats.arenas_refused_memory++;
  if (rc < 0)
    return rc;
  /* In name order: after the ones that sort before it. */
  size_t at = 0;
  while (at < d->narenas && strcmp(d->arenas[at]->name, a->name) < 0)
    at++;
  memmove(&d->arenas[at + 1], &d->arenas[at],
          (d->narenas - at) * sizeof(*d->arenas));
  d->arenas[at] = a;
  d->narenas++;
  d->stats.arenas_created++;
  *out = a;
  return 0;
}

void ad_daemon_destroy_arena(ad_daemon_t *d, ad_arena_t *a,
                             ad_destroyed_t *out) {
  ar_engine_stats_t st;
  ar_engine_stats(a->engine, &st);
  out->blocks = st.live_blocks;
  out->bytes = st.used_bytes;
  out->attached_connections = a->attached_connections;

  ad_conn_t *next;
  for (ad_conn_t *c = d->conns; c != NULL; c = next) {
    next = c->next;
    ad_conn_arena_gone(c, a);
  }
  size_t at = 0;
  while (d->arenas[at] != a)
    at++;
  memmove(&d->arenas[at], &d->arenas[at + 1],
          (d->narenas - at - 1) * sizeof(*d->arenas));
  d->narenas--;
  d->slots[a->slot / 64] &= ~(UINT64_C(1) << (a->slot % 64));
  d->stats.blocks_freed += st.live_blocks;
  d->stats.arenas_destroyed++;
  ad_arena_destroy(a); /* drops every hold, from whoever has it */
}

ad_conn_t *ad_daemon_conn_by_token(const ad_daemon_t *d, uint64_t token) {
  for (ad_conn_t *c = d->conns; c != NULL; c = c->next)
    if (c->token == token && !c->closing)
      return c;
  return NULL;
}

ad_arena_t *ad_daemon_arena(const ad_daemon_t *d, const char *name) {
  size_t lo = 0, hi = d->narenas;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = strcmp(name, d->arenas[mid]->name);
    if (c == 0)
      return d->arenas[mid];
    if (c < 0)
      hi = mid;
    else
      lo = mid + 1;
  }
  return NULL;
}

ad_arena_t *ad_daemon_arena_by_id(const ad_daemon_t *d, uint64_t id) {
  for (size_t i = 0; i < d->narenas; i++)
    if (d->arenas[i]->id == id)
      return d->arenas[i];
  return NULL;
}

void ad_daemon_conn_add(ad_daemon_t *d, ad_conn_t *c) {
  c->prev = NULL;
  c->next = d->conns;
  if (d->conns != NULL)
    d->conns->prev = c;
  d->conns = c;
  d->stats.connections_accepted++;
  d->stats.connections_open++;
}

/* Once shutting down and no connection is left, closes the last handles,
 * which ends the loop. */
static void maybe_finish(ad_daemon_t *d) {
  if (!d->shutting_down || d->conns != NULL || d->finished)
    return;
  d->finished = true;
  ad_reclaim_all(d);
  ad_listener_close(d);
  if (d->handles_init) {
    uv_close((uv_handle_t *)&d->shutdown_timer, NULL);
    uv_close((uv_handle_t *)&d->frame_timer, NULL);
    uv_close((uv_handle_t *)&d->resume, NULL);
    uv_close((uv_handle_t *)&d->fd_retry, NULL);
    uv_close((uv_handle_t *)&d->reclaimer, NULL);
    uv_close((uv_handle_t *)&d->sigint, NULL);
    uv_close((uv_handle_t *)&d->sigterm, NULL);
    uv_close((uv_handle_t *)&d->sighup, NULL);
    d->handles_init = false;
  }
}

void ad_daemon_conn_remove(ad_daemon_t *d, ad_conn_t *c) {
  if (c->prev != NULL)
    c->prev->next = c->next;
  else
    d->conns = c->next;
  if (c->next != NULL)
    c->next->prev = c->prev;
  c->prev = c->next = NULL;
  d->stats.connections_open--;
  maybe_finish(d);
}

/* Closes every connection now, for `reason`. */
static void close_all(ad_daemon_t *d, const char *reason) {
  while (d->conns != NULL)
    ad_conn_close(d->conns, reason);
}

static void on_deadline(uv_timer_t *t) {
  ad_daemon_t *d = t->data;
  size_t n = 0;
  for (ad_conn_t *c = d->conns; c != NULL; c = c->next)
    n++;
  ad_log(AD_LOG_WARN, "shutdown-timeout", "conns=%zu", n);
  close_all(d, "shutdown-timeout");
}

void ad_daemon_shutdown(ad_daemon_t *d, const char *why) {
  if (d->shutting_down) {
    ad_log(AD_LOG_WARN, "shutdown-forced", "reason=%s open=%llu", why,
           (unsigned long long)d->stats.connections_open);
    close_all(d, "shutdown-forced");
    return;
  }
  d->shutting_down = true;
  ad_log(AD_LOG_INFO, "shutdown", "reason=%s open=%llu", why,
         (unsigned long long)d->stats.connections_open);
  ad_listener_take_backlog(d); /* drained below with the others */
  ad_listener_close(d);
  if (d->handles_init)
    uv_timer_start(&d->shutdown_timer, on_deadline,
                   d->cfg->shutdown_timeout_ms, 0);

  /* Draining may close the connection at hand, never another one. */
  ad_conn_t *next;
  for (ad_conn_t *c = d->conns; c != NULL; c = next) {
    next = c->next;
    ad_conn_drain(c);
  }
  maybe_finish(d);
}

/* Closes the connections that began a frame and did not finish it within
 * frame_timeout_ms, and those whose peer took none of their unsent
 * replies within send_timeout_ms: each would hold its slot, and up to a
 * frame or output_pause_bytes of memory, for as long as its peer liked. */
static void on_sweep(uv_timer_t *t) {
  ad_daemon_t *d = t->data;
  ad_conn_t *next;
  for (ad_conn_t *c = d->conns; c != NULL; c = next) {
    next = c->next; /* ad_conn_run may close c, never another one */
    /* A peer that read some of its replies out of the socket since the
     * last look is not stalled, nor one that waits on a refused
     * descriptor having read all it was sent, even when the loop ran late
     * (a stopped or starved daemon) and this sweep comes before the retry
     * timer's look (they are due together, in either order). Then the
     * time: the check may have set c's to now. */
    ad_conn_peer_check(c);
    uint64_t now = ad_daemon_now_ms();
    if (ad_conn_send_stalled(c, now)) {
      /* No reply: the peer reads none. A connection already closing for
       * a protocol error or want of memory was counted for that, and
       * ad_conn_close keeps the reason it was given then: its replies are
       * what waited. */
      if (!c->close_after_reply)
        d->stats.connections_closed_send_timeout++;
      ad_conn_close(c, "send-timeout");
    } else if (ad_conn_stalled(c, now) && !ad_conn_unread_input(c)) {
      /* Bytes waiting in the socket came in time: the loop, busy with
       * long requests, has not read them yet, and this sweep runs first
       * when it comes round. Its clock goes on: a frame still cut once
       * they are read is judged at the next sweep. */
      ad_conn_frame_timeout(c);
      ad_conn_run(c);
    }
  }
}

/* The sweep's period: a quarter of the shorter timeout, so a stall is
 * closed within 1.25 of it (at most a second late); 0 when neither is
 * set. */
static uint64_t sweep_period(const ad_config_t *cfg) {
  uint64_t t = cfg->frame_timeout_ms;
  if (cfg->send_timeout_ms > 0 && (t == 0 || cfg->send_timeout_ms < t))
    t = cfg->send_timeout_ms;
  if (t == 0)
    return 0;
  t /= 4;
  return t > 1000 ? 1000 : t < 10 ? 10 : t;
}

/* The idle handle runs once an iteration of the loop, before its poll for
 * I/O (libuv's order: timers, idle, prepare, poll, check), and while it is
 * active that poll does not block. So a connection that yields in one poll
 * resumes after the other sockets ready in that poll were served, and
 * before the next poll serves them again. Each yielded connection gets one
 * turn here; one that yields again waits for the next iteration. */
static void on_resume(uv_idle_t *h) {
  ad_daemon_t *d = h->data;
  ad_conn_t *next;
  for (ad_conn_t *c = d->conns; c != NULL; c = next) {
    next = c->next; /* ad_conn_resume may close c, never another one */
    if (c->yielded)
      ad_conn_resume(c);
  }
  if (d->nyielded == 0)
    uv_idle_stop(&d->resume);
}

void ad_daemon_resume_later(ad_daemon_t *d) {
  if (d->handles_init)
    uv_idle_start(&d->resume, on_resume); /* no-op when active */
}

/* Descriptors in flight are released as peers read them, which no event
 * tells the daemon: so it looks again on a timer while any wait. */
static void on_fd_retry(uv_timer_t *t) {
  ad_daemon_t *d = t->data;
  bool waiting = false;
  ad_conn_t *next;
  for (ad_conn_t *c = d->conns; c != NULL; c = next) {
    next = c->next; /* ad_conn_retry_fd may close c, never another one */
    if (c->fd_deferred) {
      ad_conn_retry_fd(c);
      waiting |= !c->closing && c->fd_deferred;
    }
  }
  if (!waiting)
    uv_timer_stop(t);
}

void ad_daemon_retry_fds_later(ad_daemon_t *d) {
  if (d->handles_init && !uv_is_active((uv_handle_t *)&d->fd_retry))
    uv_timer_start(&d->fd_retry, on_fd_retry, AD_FD_RETRY_MS, AD_FD_RETRY_MS);
}

/* SIGHUP asks many daemons to reload; arenad cannot (its arenas are live
 * memory), and the default action would kill it without a flush or the
 * socket's removal. So it is logged and ignored. */
static void on_sighup(uv_signal_t *h, int signum) {
  (void)h;
  (void)signum;
  ad_log(AD_LOG_WARN, "signal-ignored",
         "signal=SIGHUP detail=\"arenad does not reload its configuration: "
         "restart it to change it\"");
}

static void on_signal(uv_signal_t *h, int signum) {
  ad_daemon_shutdown(h->data, signum == SIGINT ? "SIGINT" : "SIGTERM");
}

int ad_daemon_listen(ad_daemon_t *d, int ready_fd, char *err, size_t errlen) {
  int rc = ad_listener_open(d, err, errlen);
  if (rc < 0)
    return rc;

  uv_signal_init(&d->loop, &d->sigint);
  uv_signal_init(&d->loop, &d->sigterm);
  uv_signal_init(&d->loop, &d->sighup);
  uv_timer_init(&d->loop, &d->shutdown_timer);
  uv_timer_init(&d->loop, &d->frame_timer);
  uv_idle_init(&d->loop, &d->resume);
  uv_timer_init(&d->loop, &d->fd_retry);
  uv_idle_init(&d->loop, &d->reclaimer);
  d->sigint.data = d->sigterm.data = d->shutdown_timer.data = d;
  d->frame_timer.data = d->resume.data = d->fd_retry.data = d;
  d->reclaimer.data = d;
  d->handles_init = true;
  uint64_t every = sweep_period(d->cfg);
  if (every > 0)
    uv_timer_start(&d->frame_timer, on_sweep, every, every);
  if (uv_signal_start(&d->sigint, on_signal, SIGINT) < 0 ||
      uv_signal_start(&d->sigterm, on_signal, SIGTERM) < 0 ||
      uv_signal_start(&d->sighup, on_sighup, SIGHUP) < 0)
    return ar_errorf(err, errlen, AR_EIO,
                     "cannot handle SIGINT, SIGTERM and SIGHUP");

  if (ready_fd >= 0) {
    static const char ready[] = "ready\n";
    ssize_t n;
    do
      n = write(ready_fd, ready, sizeof(ready) - 1);
    while (n < 0 && errno == EINTR);
    close(ready_fd);
  }
  return 0;
}

int ad_daemon_run(ad_daemon_t *d) {
  uv_run(&d->loop, UV_RUN_DEFAULT);
  return 0;
}

void ad_daemon_fini(ad_daemon_t *d) {
  /* Whatever is still open (a failed start, a test): closed now. */
  d->shutting_down = true;
  ad_conn_t *c;
  while ((c = d->conns) != NULL) {
    bool started = c->started;
    ad_conn_close(c, "exit");
    if (!started)
      ad_conn_free(c);
  }
  maybe_finish(d);
  ad_listener_close(d);
  uv_run(&d->loop, UV_RUN_DEFAULT); /* the close callbacks */
  ad_listener_release(d);

  for (size_t i = 0; i < d->narenas; i++)
    ad_arena_destroy(d->arenas[i]);
  free(d->arenas);
  d->arenas = NULL;
  d->narenas = 0;

  ad_scratch_fini(&d->scratch);
  ar_buf_destroy(&d->inbuf);
  ar_buf_destroy(&d->staging);
  ad_blocks_fini(&d->pools);
  int rc = uv_loop_close(&d->loop);
  if (rc < 0)
    ad_log(AD_LOG_ERROR, "loop-close", "error=\"%s\"", uv_strerror(rc));
}
