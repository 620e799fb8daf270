/*
 * conn.c: a connection's bytes in, replies out (see conn.h). For each
 * complete frame: check the prefix against the frame limit before anything
 * is allocated, unpack the body into the daemon's scratch memory (one
 * bump allocator, reset after each request: no malloc per request),
 * dispatch, pack the reply straight into the output buffer. A frame that
 * cannot be trusted (over the limit, a malformed prefix, bytes that are
 * not a Request) gets one Response with id 0, and the connection closes
 * once it is sent, like redis's setProtocolError: the stream cannot be
 * resynchronised.
 *
 * It also keeps what dispatch asks of a connection besides its bytes: the
 * ids of the arenas it attached (each counted once in the arena's
 * attached_connections), the names of arenas destroyed under it (stale
 * until it attaches them again), and its peer's supplementary groups and
 * credentials for access checks. The connection owns those lists; they are
 * freed with it (ad_conn_free).
 */
#include "conn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ar/error.h"
#include "arena.h"
#include "daemon.h"
#include "dispatch.h"
#include "log.h"
#include "reclaim.h"

/* Bytes of a peer's frame shown in a protocol error's log line. */
#define SAMPLE_BYTES 32

ad_conn_t *ad_conn_new(ad_daemon_t *d, int fd, uint32_t pid, uint32_t uid,
                       uint32_t gid) {
  ad_conn_t *c = calloc(1, sizeof(*c));
  if (c == NULL)
    return NULL;
  if (ad_daemon_random(&c->token) < 0) {
    free(c);
    return NULL;
  }
  const ad_config_t *cfg = d->cfg;
  c->d = d;
  c->fd = fd;
  c->id = ++d->next_conn_id;
  ad_holder_init(&c->holder, c->id, pid, uid, gid, c->name);
  /* Room for a whole frame that a read cut, and the next read after it. */
  ar_buf_init(&c->rbuf,
              cfg->max_frame_bytes + AR_FRAME_PREFIX_MAX + cfg->read_chunk);
  ar_buf_init(&c->wbuf, cfg->output_limit_bytes);
  c->started_ms = ad_daemon_now_ms();
  ad_daemon_conn_add(d, c);
  return c;
}

void ad_conn_free(ad_conn_t *c) {
  if (c == NULL)
    return;
  ad_reclaim_finish(c); /* the holder below must hold nothing */
  ar_buf_destroy(&c->rbuf);
  ar_buf_destroy(&c->wbuf);
  ad_holder_fini(&c->holder);
  free(c->groups);
  free(c->attached);
  free(c->stale);
  free(c);
}

static int stale_index(const ad_conn_t *c, const char *name) {
  for (uint32_t i = 0; i < c->nstale; i++)
    if (strcmp(c->stale[i], name) == 0)
      return (int)i;
  return -1;
}

static bool attached(const ad_conn_t *c, const ad_arena_t *a) {
  for (uint32_t i = 0; i < c->nattached; i++)
    if (c->attached[i] == a->id)
      return true;
  return false;
}

static bool used(const ad_conn_t *c, const ad_arena_t *a) {
  return (c->used[a->slot / 64] >> (a->slot % 64)) & 1;
}

bool ad_conn_stale(const ad_conn_t *c, const ad_arena_t *a) {
  if (c->stale_all) /* unless c has seen this very arena */
    return !attached(c, a) && !used(c, a) &&
           ad_holder_usage(&c->holder, a).blocks == 0;
  return c->nstale > 0 && stale_index(c, a->name) >= 0;
}

/* Drops c's list of stale names for stale_all (see `stale` in conn.h),
 * which is stricter and needs no memory. */
static void drop_stale_list(ad_conn_t *c) {
  free(c->stale);
  c->stale = NULL;
  c->nstale = c->stale_cap = 0;
  c->stale_all = true;
  c->d->stats.stale_lists_dropped++;
}

void ad_conn_used(ad_conn_t *c, const ad_arena_t *a) {
  c->used[a->slot / 64] |= UINT64_C(1) << (a->slot % 64);
}

void ad_conn_arena_gone(ad_conn_t *c, const ad_arena_t *a) {
  bool related = used(c, a) || ad_holder_usage(&c->holder, a).blocks > 0;
  /* The slot's next arena is another. */
  c->used[a->slot / 64] &= ~(UINT64_C(1) << (a->slot % 64));
  for (uint32_t i = 0; i < c->nattached; i++)
    if (c->attached[i] == a->id) {
      c->attached[i] = c->attached[--c->nattached];
      related = true;
      break;
    }
  if (!related || c->stale_all || stale_index(c, a->name) >= 0)
    return;
  if (c->nstale == AD_STALE_MAX) {
    drop_stale_list(c);
    return;
  }
  if (c->nstale == c->stale_cap) {
    uint32_t cap = c->stale_cap ? c->stale_cap * 2 : 2;
    char(*p)[AD_STALE_NAME] = realloc(c->stale, cap * sizeof(*p));
    if (p == NULL) { /* the name cannot be noted: no name is kept */
      drop_stale_list(c);
      return;
    }
    c->stale = p;
    c->stale_cap = cap;
  }
  memcpy(c->stale[c->nstale++], a->name, strlen(a->name) + 1);
}

int ad_conn_set_groups(ad_conn_t *c, const uint32_t *groups, size_t n) {
  uint32_t *g = n > 0 ? malloc(n * sizeof(*g)) : NULL;
  if (n > 0 && g == NULL)
    return AR_EINTERNAL;
  if (n > 0)
    memcpy(g, groups, n * sizeof(*g));
  free(c->groups);
  c->groups = g;
  c->ngroups = n;
  return 0;
}

ad_cred_t ad_conn_cred(const ad_conn_t *c) {
  return (ad_cred_t){
      .pid = c->holder.pid,
      .uid = c->holder.uid,
      .gid = c->holder.gid,
      .groups = c->groups,
      .ngroups = c->ngroups,
      .root = c->holder.uid == 0 && c->d->cfg->root_override,
  };
}

/* Ends a's name being stale for c. */
static void unstale(ad_conn_t *c, const ad_arena_t *a) {
  int s = c->nstale > 0 ? stale_index(c, a->name) : -1;
  if (s >= 0)
    memmove(c->stale[s], c->stale[--c->nstale], AD_STALE_NAME);
}

int ad_conn_attach(ad_conn_t *c, ad_arena_t *a) {
  if (attached(c, a)) {
    unstale(c, a);
    return 0;
  }
  if (c->nattached == c->attached_cap) {
    uint32_t cap = c->attached_cap ? c->attached_cap * 2 : 4;
    uint64_t *p = realloc(c->attached, cap * sizeof(*p));
    if (p == NULL)
      return AR_EINTERNAL;
    c->attached = p;
    c->attached_cap = cap;
  }
  c->attached[c->nattached++] = a->id;
  a->attached_connections++;
  unstale(c, a);
  return 0;
}

ar_buf_t *ad_conn_out(ad_conn_t *c) {
  return ar_buf_len(&c->wbuf) > 0 ? &c->wbuf : &c->d->staging;
}

uint64_t *ad_conn_pause_counter(const ad_conn_t *c) {
  const ad_config_t *cfg = c->d->cfg;
  ad_stats_t *st = &c->d->stats;
  if (c->inflight >= cfg->max_in_flight)
    return &st->in_flight_throttled;
  if (c->out_total - c->out_sent >= cfg->output_pause_bytes)
    return &st->output_throttled;
  if (c->fdq_len >= AD_FDQ_MAX)
    return &st->fd_queue_throttled;
  return NULL;
}

void ad_conn_fd_done(ad_conn_t *c) {
  close(c->fdq[c->fdq_head].fd);
  c->fdq_head = (c->fdq_head + 1) % AD_FDQ_MAX;
  c->fdq_len--;
}

bool ad_conn_can_decode(const ad_conn_t *c) {
  return !c->closing && !c->close_after_reply && !c->yielded &&
         ad_conn_pause_counter(c) == NULL;
}

bool ad_conn_ending(const ad_conn_t *c) {
  return c->eof || c->close_after_reply || c->closing;
}

bool ad_conn_has_frame(const ad_conn_t *c, const uint8_t *buf, size_t len) {
  ar_frame_t f;
  return len > 0 && ar_frame_decode(buf, len, c->d->cfg->max_frame_bytes,
                                    &f) != AR_FRAME_PARTIAL;
}

int ad_conn_reserve_reply(ad_conn_t *c, size_t len) {
  /* Nothing else is queued before the reply: reply() appends into this
   * room without growing the buffer. */
  return ar_buf_reserve(ad_conn_out(c), ar_frame_prefix_size(len) + len);
}

void ad_conn_sent(ad_conn_t *c, size_t n) {
  ad_daemon_t *d = c->d;
  if (n > 0) {
    c->out_moved_ms = ad_daemon_now_ms();
    c->outq_seen = 0; /* the socket holds more: the next look starts over */
  }
  ar_buf_consume(ad_conn_out(c), n);
  c->out_sent += n;
  c->bytes_out += n;
  d->stats.bytes_out += n;
  if (c->out_sent == c->out_total) {
    /* Drained: flow control starts over. */
    d->stats.requests_in_flight -= c->inflight;
    c->inflight = 0;
    ar_buf_trim(&c->wbuf, 0);
  }
}

void ad_conn_close_after_reply(ad_conn_t *c, const char *reason,
                               uint64_t *counter) {
  if (c->closing || c->close_after_reply)
    return;
  c->close_after_reply = true;
  c->close_reason = reason;
  (*counter)++;
  /* The input is not dropped here: this may run inside ad_conn_input on
   * rbuf's own bytes, whose caller then consumes what it returns (all of
   * them). Nothing decodes rbuf once close_after_reply is set, and it
   * goes with the connection. */
}

/*
 * Appends resp to the output, with `fd` (owned, or -1) to be passed on the
 * frame's first byte. A reply over the frame limit becomes an internal
 * error; one the daemon has no memory for closes the connection once
 * the replies before it are sent (ad_conn_close_no_memory).
 */
static void reply(ad_conn_t *c, Arenad__Response *resp, int fd) {
  ad_daemon_t *d = c->d;
  size_t n = arenad__response__get_packed_size(resp);
  Arenad__Response small = ARENAD__RESPONSE__INIT;

  if (n > d->cfg->max_frame_bytes) {
    ad_log(AD_LOG_ERROR, "reply-too-large", "conn=%llu id=%llu bytes=%zu",
           (unsigned long long)c->id, (unsigned long long)resp->id, n);
    small.id = resp->id;
    small.status = ARENAD__STATUS__STATUS_INTERNAL;
    small.message = (char *)"the reply is over the frame limit";
    d->stats.errors[small.status]++;
    resp = &small;
    n = arenad__response__get_packed_size(resp);
    if (fd >= 0)
      close(fd);
    fd = -1;
  }

  uint8_t *body;
  uint64_t at = c->out_total;
  if (c->out_total == c->out_sent)
    c->out_moved_ms = ad_daemon_now_ms();
  int rc = ar_frame_append(ad_conn_out(c), n, &body);
  if (rc < 0) {
    if (fd >= 0)
      close(fd);
    if (rc == AR_ELIMIT) {
      /* Cannot be: no frame is decoded once output_pause_bytes are
       * unsent, and output_limit_bytes leaves room past that for a whole
       * reply (config.c). Closed all the same, should it happen. */
      ad_conn_close(c, "output-limit");
    } else {
      ad_conn_close_no_memory(c);
    }
    return;
  }
  arenad__response__pack(resp, body);
  c->out_total += ar_frame_prefix_size(n) + n;
  c->inflight++;
  d->stats.requests_in_flight++;
  d->stats.frames_out++;
  if (fd >= 0) {
    /* can_decode keeps a free slot for every frame it lets in */
    unsigned tail = (c->fdq_head + c->fdq_len) % AD_FDQ_MAX;
    c->fdq[tail].at = at;
    c->fdq[tail].fd = fd;
    c->fdq_len++;
  }
}

static void protocol_error(ad_conn_t *c, int code, uint64_t *counter,
                           const char *reason, const char *message,
                           const uint8_t *p, size_t n) {
  ad_daemon_t *d = c->d;
  uint64_t suppressed = 0;
  (*counter)++;
  if (ad_ratelimit_allow(&d->rl_protocol, ad_daemon_now_ms(), &suppressed)) {
    char hex[SAMPLE_BYTES * 2 + 1];
    ad_log(AD_LOG_WARN, "protocol-error",
           "conn=%llu pid=%u uid=%u reason=%s bytes=%zu sample=%s "
           "suppressed=%llu",
           (unsigned long long)c->id, c->holder.pid, c->holder.uid, reason, n,
           ad_log_hex(hex, sizeof(hex), p, n < SAMPLE_BYTES ? n : SAMPLE_BYTES),
           (unsigned long long)suppressed);
  }
  Arenad__Response resp = ARENAD__RESPONSE__INIT;
  resp.id = 0;
  resp.status = ar_wire_status(code);
  resp.message = (char *)message;
  d->stats.errors[resp.status]++;
  reply(c, &resp, -1);
  ad_conn_close_after_reply(c, "protocol",
                            &d->stats.connections_closed_protocol);
}

/* Answers the frame whose body is p[0..n). */
static void frame(ad_conn_t *c, const uint8_t *p, size_t n) {
  ad_daemon_t *d = c->d;
  d->stats.frames_in++;
  c->requests++;

  Arenad__Request *req = arenad__request__unpack(&d->scratch.pb, n, p);
  if (req == NULL) {
    /* A frame within the limit can still unpack into more than the
     * scratch cap (thousands of unknown fields): a limit, not garbage.
     * One the daemon had no memory to unpack is neither: its connection
     * closes as when a reply cannot be queued, with no reply to it. */
    bool over = d->scratch.refused > 0;
    bool no_memory = d->scratch.failed > 0;
    ad_scratch_reset(&d->scratch);
    if (no_memory)
      ad_conn_close_no_memory(c);
    else if (over)
      protocol_error(c, AR_ELIMIT, &d->stats.scratch_exhausted, "scratch",
                     "the Request needs more working memory to unpack than "
                     "the daemon gives one request",
                     p, n);
    else
      protocol_error(c, AR_EINVAL, &d->stats.frames_unparsable, "unparsable",
                     "the frame's bytes are not a Request", p, n);
    return;
  }

  Arenad__Response resp = ARENAD__RESPONSE__INIT;
  ad_call_t call = {d, c, &d->scratch, &resp, -1, false, NULL, "unknown"};
  ad_dispatch(&call, req);

  int fd = call.pass_fd; /* owned: the attach's duplicate, or -1 */
  if (fd >= 0 && resp.status != ARENAD__STATUS__STATUS_OK) {
    close(fd);
    fd = -1;
  }
  reply(c, &resp, fd); /* fds_sent is counted once sent (conn_io.c) */
  if (call.close_after) /* only hello's version check asks for it */
    ad_conn_close_after_reply(c, call.close_reason,
                              &d->stats.connections_closed_protocol);
  ad_scratch_reset(&d->scratch);
}

void ad_conn_begin_turn(ad_conn_t *c, uint64_t now_ns) {
  c->turn_start_ns = now_ns;
}

void ad_conn_end_yield(ad_conn_t *c) {
  if (!c->yielded)
    return;
  c->yielded = false;
  c->d->nyielded--;
}

/* After a frame: whether c's turn has used up turn_budget_us while frames
 * wait in p[0..len), in which case c yields. */
static bool yield_turn(ad_conn_t *c, const uint8_t *p, size_t len) {
  ad_daemon_t *d = c->d;
  uint64_t budget_ns = d->cfg->turn_budget_us * 1000;
  /* The clock first: the next frame's prefix is decoded again by the
   * caller's loop, so look at it only when the turn is spent. */
  if (budget_ns == 0 || c->turn_start_ns == 0 || c->closing ||
      c->close_after_reply || uv_hrtime() - c->turn_start_ns < budget_ns ||
      !ad_conn_has_frame(c, p, len))
    return false;
  c->yielded = true;
  d->nyielded++;
  d->stats.turns_yielded++;
  ad_daemon_resume_later(d);
  return true;
}

size_t ad_conn_input(ad_conn_t *c, const uint8_t *p, size_t len) {
  const ad_config_t *cfg = c->d->cfg;
  ad_stats_t *st = &c->d->stats;
  size_t off = 0;

  while (off < len && ad_conn_can_decode(c)) {
    ar_frame_t f;
    int rc = ar_frame_decode(p + off, len - off, cfg->max_frame_bytes, &f);
    if (rc == AR_FRAME_PARTIAL)
      break;
    if (rc == AR_ELIMIT) {
      /* The prefix is whole: its length, against no limit, for the
       * message (one too large for a size_t is over any frame). */
      ar_frame_t whole;
      char msg[128];
      if (ar_frame_decode(p + off, len - off, SIZE_MAX, &whole) >= 0)
        snprintf(msg, sizeof(msg),
                 "a frame of %zu bytes is over the frame size limit, "
                 "max_frame_bytes (%llu)",
                 whole.end - whole.start,
                 (unsigned long long)cfg->max_frame_bytes);
      else
        snprintf(msg, sizeof(msg),
                 "a frame is over the frame size limit, max_frame_bytes "
                 "(%llu)",
                 (unsigned long long)cfg->max_frame_bytes);
      protocol_error(c, AR_ELIMIT, &st->frames_over_limit, "over-limit", msg,
                     p + off, len - off);
      break;
    }
    if (rc < 0) {
      protocol_error(c, AR_EINVAL, &st->frames_malformed, "malformed",
                     "a frame's length prefix is malformed", p + off,
                     len - off);
      break;
    }
    frame(c, p + off + f.start, f.end - f.start);
    off += f.end;
    if (yield_turn(c, p + off, len - off))
      break;
  }
  /* After a protocol error or a close the rest is dropped. */
  return c->close_after_reply || c->closing ? len : off;
}

bool ad_conn_stalled(const ad_conn_t *c, uint64_t now_ms) {
  uint64_t limit = c->d->cfg->frame_timeout_ms;
  size_t len = ar_buf_len(&c->rbuf);
  /* While flow control or a yield holds c, the daemon is not reading it:
   * the rest of the frame may be waiting in the socket. */
  return limit > 0 && len > 0 && ad_conn_can_decode(c) &&
         now_ms - c->partial_ms >= limit &&
         !ad_conn_has_frame(c, ar_buf_data(&c->rbuf), len);
}

bool ad_conn_send_stalled(const ad_conn_t *c, uint64_t now_ms) {
  uint64_t limit = c->d->cfg->send_timeout_ms;
  return limit > 0 && !c->closing && c->out_total != c->out_sent &&
         now_ms - c->out_moved_ms >= limit;
}

void ad_conn_frame_timeout(ad_conn_t *c) {
  char msg[96];
  snprintf(msg, sizeof(msg),
           "no complete frame within frame_timeout_ms "
           "(%llu ms)",
           (unsigned long long)c->d->cfg->frame_timeout_ms);
  protocol_error(c, AR_ELIMIT, &c->d->stats.frames_timed_out, "frame-timeout",
                 msg, ar_buf_data(&c->rbuf), ar_buf_len(&c->rbuf));
  ar_buf_consume(&c->rbuf, ar_buf_len(&c->rbuf)); /* the cut frame */
}
