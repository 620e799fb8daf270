/*
 * conn_io.c: a connection's socket (see conn.h). libuv's streams cannot
 * pass an arbitrary descriptor such as a memfd (uv_write2 sends only libuv
 * handles), so connections are plain nonblocking sockets watched with
 * uv_poll_t: recv(2) into the shared input buffer, sendmsg(2) from the
 * output, with SCM_RIGHTS attached to exactly the first byte of an attach
 * reply's frame (each sendmsg stops short of the next such frame).
 *
 * One wake-up costs one recv and, most of the time, one sendmsg: every
 * complete frame read is answered before anything is written, and all the
 * replies go out together. The watched events change only when they must,
 * because each uv_poll_start is two epoll_ctl calls.
 */
#include <errno.h>
#include <linux/sockios.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "audit.h"
#include "conn.h"
#include "daemon.h"
#include "reclaim.h"

/* Memory a buffer keeps once it empties: a connection's input buffer, and
 * the shared staging buffer after a burst of large replies. */
#define RBUF_KEEP (16 * 1024)
#define STAGING_KEEP (256 * 1024)

static void on_poll(uv_poll_t *h, int status, int events);

/* The memory of a closed connection goes once libuv is done with its
 * handle and its blocks are all freed, whichever comes last (the other is
 * reclaim.c's). */
static void on_closed(uv_handle_t *h) {
  ad_conn_t *c = h->data;
  c->poll_closed = true;
  if (ad_reclaim_done(c)) {
    ad_conn_free(c);
    return;
  }
  /* Its buffers (up to output_limit_bytes of unsent replies) need not
   * wait for the reclamation; nothing reads them once the handle is
   * closed. */
  ar_buf_destroy(&c->rbuf);
  ar_buf_destroy(&c->wbuf);
}

int ad_conn_start(ad_conn_t *c) {
  int rc = uv_poll_init(&c->d->loop, &c->poll, c->fd);
  if (rc < 0)
    return rc;
  c->poll.data = c;
  c->started = true;
  c->events = UV_READABLE;
  return uv_poll_start(&c->poll, UV_READABLE, on_poll);
}

/* Whether c holds the start of a frame its peer has not finished, which
 * an end of the connection now would cut (rbuf keeps only such bytes;
 * after a protocol error nothing more of the input counts). */
static bool frame_begun(const ad_conn_t *c) {
  return !c->close_after_reply && ar_buf_len(&c->rbuf) > 0;
}

/* Where a peer's bytes stand against the frames they make, fed a piece
 * at a time: `skip` body bytes of the last frame still to come, or the
 * first `npre` bytes of its prefix; `bad` once they are not frames. */
typedef struct frame_walk_s {
  uint64_t skip;
  uint8_t pre[AR_FRAME_PREFIX_MAX];
  size_t npre;
  bool bad;
} frame_walk_t;

static void walk_frames(frame_walk_t *w, const uint8_t *p, size_t n,
                        size_t max) {
  while (n > 0 && !w->bad) {
    if (w->skip > 0) {
      size_t k = w->skip < n ? (size_t)w->skip : n;
      w->skip -= k;
      p += k;
      n -= k;
      continue;
    }
    w->pre[w->npre++] = *p++;
    n--;
    ar_frame_t f;
    int rc = ar_frame_decode(w->pre, w->npre, max, &f);
    if (rc < 0) {
      w->bad = true;
    } else if (rc == AR_FRAME_COMPLETE || f.start > 0) {
      w->skip = f.end - w->npre; /* the prefix is in */
      w->npre = 0;
    }
  }
}

/* Whether the bytes c's peer sent end inside a frame, c's connection
 * broken: those c holds (whole frames that flow control held back, and a
 * frame a read cut), then those still unread in its socket, read here and
 * dropped. A frame whose rest was waiting in the socket was not cut by
 * the peer. */
static bool peer_cut_frame(ad_conn_t *c) {
  if (!frame_begun(c))
    return false;
  size_t max = c->d->cfg->max_frame_bytes;
  frame_walk_t w = {0};
  walk_frames(&w, ar_buf_data(&c->rbuf), ar_buf_len(&c->rbuf), max);
  int pending = 0; /* at most what is there now: the peer may still send */
  if (c->fd < 0 || ioctl(c->fd, FIONREAD, &pending) != 0)
    pending = 0;
  uint8_t buf[4096];
  while (pending > 0 && !w.bad) {
    size_t want = (size_t)pending < sizeof(buf) ? (size_t)pending : sizeof(buf);
    ssize_t n = recv(c->fd, buf, want, MSG_DONTWAIT);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    walk_frames(&w, buf, (size_t)n, max);
    pending -= (int)n;
  }
  return !w.bad && (w.skip > 0 || w.npre > 0);
}

/* Closes c when its peer reset the connection or its socket failed. A
 * frame the peer had begun is cut short by that as by its end, and
 * counted the same (frames_truncated); the close reason stays the cause. */
static void close_broken(ad_conn_t *c, const char *reason) {
  if (peer_cut_frame(c))
    c->d->stats.frames_truncated++;
  ad_conn_close(c, reason);
}

/* How many of the first len unsent bytes of c the next sendmsg may take:
 * all of them, or up to the next frame that carries a descriptor; when the
 * output begins with such a frame, its descriptor goes in *pass (still the
 * queue's) and the send stops short of the frame after it. *pass is -1
 * when no descriptor goes. */
static size_t send_len(const ad_conn_t *c, size_t len, int *pass) {
  *pass = -1;
  if (c->fdq_len == 0)
    return len;
  uint64_t until = c->fdq[c->fdq_head].at - c->out_sent;
  if (until == 0) {
    *pass = c->fdq[c->fdq_head].fd;
    if (c->fdq_len == 1)
      return len;
    until = c->fdq[(c->fdq_head + 1) % AD_FDQ_MAX].at - c->out_sent;
  }
  return until < len ? (size_t)until : len;
}

/* One nonblocking sendmsg of p[0..len) on socket fd, with descriptor
 * `pass` (borrowed; -1 for none) attached to the first byte as SCM_RIGHTS.
 * Returns what sendmsg does: the bytes sent, or -1 with errno set. */
static ssize_t send_with_fd(int fd, void *p, size_t len, int pass) {
  struct iovec iov = {.iov_base = p, .iov_len = len};
  struct msghdr msg;
  union {
    char buf[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } ctl;
  memset(&msg, 0, sizeof(msg));
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  if (pass >= 0) {
    memset(&ctl, 0, sizeof(ctl));
    msg.msg_control = ctl.buf;
    msg.msg_controllen = sizeof(ctl.buf);
    struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cm), &pass, sizeof(int));
  }
  return sendmsg(fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
}

/* Sends what the socket takes, each descriptor with its frame's first
 * byte. Returns 0, or -1 when c was closed. */
static int flush(ad_conn_t *c) {
  if (c->fd < 0 || c->fd_deferred)
    return 0; /* a test's connection reads the output itself; a deferred
                 descriptor waits for ad_conn_retry_fd */

  for (;;) {
    ar_buf_t *out = ad_conn_out(c);
    if (ar_buf_len(out) == 0)
      return 0;
    int pass;
    size_t len = send_len(c, ar_buf_len(out), &pass);
    ssize_t n = send_with_fd(c->fd, ar_buf_data(out), len, pass);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK)
        return 0;
      if (errno == ETOOMANYREFS && pass >= 0) {
        /* The kernel holds too many of the daemon's descriptors sent and
         * not yet received (peers that do not read them count against
         * the daemon's RLIMIT_NOFILE): not this peer's fault. The reply
         * waits and is tried again, rather than the connection closed. */
        if (!c->fd_waiting)
          c->d->stats.fds_deferred++; /* once a descriptor */
        c->fd_waiting = c->fd_deferred = true;
        ad_daemon_retry_fds_later(c->d);
        return 0;
      }
      close_broken(c, errno == EPIPE || errno == ECONNRESET ? "reset"
                                                            : "write-error");
      return -1;
    }
    if (pass >= 0) {
      /* The descriptor (pass) went with the first byte; ours is done. */
      ad_conn_fd_done(c);
      c->fd_waiting = false;
      c->d->stats.fds_sent++;
    }
    ad_conn_sent(c, (size_t)n);
  }
}

/* Whether c's socket is still to be read: not after the peer's end or a
 * protocol error, and while shutting down only the bytes that had come
 * when the shutdown began. */
static bool reading(const ad_conn_t *c) {
  return !c->eof && !c->close_after_reply &&
         (!c->draining || c->drain_left > 0);
}

/* Reads once and answers what came. */
static void conn_read(ad_conn_t *c) {
  ad_daemon_t *d = c->d;
  if (!reading(c) || !ad_conn_can_decode(c))
    return;

  /* Bytes of a cut frame are in rbuf: read after them. Otherwise read into
   * the shared buffer and keep only what is left. */
  bool own = ar_buf_len(&c->rbuf) > 0;
  ar_buf_t *in = own ? &c->rbuf : &d->inbuf;
  size_t want = d->cfg->read_chunk;
  if (own && want > in->max - ar_buf_len(in))
    want = in->max - ar_buf_len(in);
  if (c->draining && want > c->drain_left)
    want = c->drain_left;
  /* want is 0 only with rbuf full, which cannot be: rbuf holds a cut
   * frame when c is read (ad_conn_run answers the rest first), and it
   * has room for a whole frame and a read. */
  if (want == 0 || ar_buf_reserve(in, want) < 0) {
    ad_conn_close_no_memory(c);
    return;
  }

  size_t room = ar_buf_spare_len(in) < want ? ar_buf_spare_len(in) : want;
  ssize_t n;
  do
    n = recv(c->fd, ar_buf_spare(in), room, 0);
  while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno != EAGAIN && errno != EWOULDBLOCK)
      close_broken(c, errno == ECONNRESET ? "reset" : "read-error");
    return;
  }
  if (n == 0) {
    c->eof = true;
    return;
  }
  ar_buf_commit(in, (size_t)n);
  if (c->draining)
    c->drain_left -= (size_t)n;
  c->bytes_in += (uint64_t)n;
  d->stats.bytes_in += (uint64_t)n;

  size_t used = ad_conn_input(c, ar_buf_data(in), ar_buf_len(in));
  ar_buf_consume(in, used);
  if (used > 0 || !own) /* a new frame begins where this one stopped */
    c->partial_ms = ad_daemon_now_ms();
  if (!own && ar_buf_len(in) > 0) {
    int rc = c->closing ? 0
                        : ar_buf_append(&c->rbuf, ar_buf_data(in),
                                        ar_buf_len(in));
    ar_buf_consume(in, ar_buf_len(in));
    if (rc < 0)
      ad_conn_close_no_memory(c);
  }
}

/* Watches for what c needs next: input while flow control allows it,
 * writability while replies wait. */
static void watch(ad_conn_t *c) {
  bool rd = reading(c);
  int want = 0;
  if (rd && ad_conn_can_decode(c)) {
    want |= UV_READABLE;
    c->throttled = false;
    /* Reading again after a pause (flow control, a yield): the rest of a
     * cut frame was waiting in the socket, not late, so the frame's time
     * starts now. */
    if (c->started && !(c->events & UV_READABLE))
      c->partial_ms = ad_daemon_now_ms();
  } else if (rd && !c->yielded && !c->throttled) {
    uint64_t *counter = ad_conn_pause_counter(c);
    c->throttled = true; /* counted once a pause */
    if (counter != NULL)
      (*counter)++;
  }
  if (ar_buf_len(&c->wbuf) > 0 && !c->fd_deferred)
    want |= UV_WRITABLE; /* a deferred descriptor waits for the timer */
  if (want == c->events || !c->started)
    return;
  c->events = want;
  if (want != 0)
    uv_poll_start(&c->poll, want, on_poll);
  else
    uv_poll_stop(&c->poll);
}

/* Moves the replies in the staging buffer, which the socket did not take,
 * to c's own wbuf (empty: replies go to staging only while it is). A copy
 * when there is memory for one; otherwise c takes the staging buffer's
 * memory and the staging buffer c's (none, or an empty wbuf's), which
 * needs none, so a reply once queued is never dropped for want of memory
 * (it may be an alloc's, the only word of its blocks). Both buffers have
 * the same bound, output_limit_bytes (daemon.c), so neither outgrows its
 * own. */
static void keep_unsent(ad_conn_t *c) {
  ar_buf_t *s = &c->d->staging;
  if (ar_buf_append(&c->wbuf, ar_buf_data(s), ar_buf_len(s)) == 0) {
    ar_buf_consume(s, ar_buf_len(s));
    return;
  }
  ar_buf_t empty = c->wbuf;
  size_t wmax = c->wbuf.max, smax = s->max;
  c->wbuf = *s;
  c->wbuf.max = wmax;
  *s = empty;
  s->max = smax;
}

void ad_conn_run(ad_conn_t *c) {
  ad_daemon_t *d = c->d;
  if (c->closing)
    return; /* its handle is closing: libuv aborts on a stop or a start */

  for (;;) {
    if (ar_buf_len(&c->rbuf) > 0 && ad_conn_can_decode(c)) {
      size_t used =
          ad_conn_input(c, ar_buf_data(&c->rbuf), ar_buf_len(&c->rbuf));
      if (c->closing)
        return;
      ar_buf_consume(&c->rbuf, used);
      if (used > 0)
        c->partial_ms = ad_daemon_now_ms();
    }
    if (flush(c) < 0)
      return;
    /* Draining the output may have let held-back frames in. */
    if (!ad_conn_can_decode(c) ||
        !ad_conn_has_frame(c, ar_buf_data(&c->rbuf), ar_buf_len(&c->rbuf)))
      break;
  }

  /* What the socket did not take moves out of the shared buffer. */
  if (ar_buf_len(&d->staging) > 0)
    keep_unsent(c);
  ar_buf_trim(&d->staging, STAGING_KEEP);
  ar_buf_trim(&c->rbuf, RBUF_KEEP);

  bool done = !reading(c);
  if (done && c->out_sent == c->out_total &&
      (c->close_after_reply ||
       !ad_conn_has_frame(c, ar_buf_data(&c->rbuf), ar_buf_len(&c->rbuf)))) {
    /* A frame cut by the peer's end is dropped with the connection, and
     * counted: nobody is left to tell. */
    bool cut = c->eof && frame_begun(c);
    if (cut)
      d->stats.frames_truncated++;
    ad_conn_close(c, c->close_reason != NULL ? c->close_reason
                     : cut                   ? "eof-mid-frame"
                     : c->draining           ? "shutdown"
                                             : "eof");
    return;
  }
  watch(c);
}

void ad_conn_retry_fd(ad_conn_t *c) {
  c->fd_deferred = false;
  ad_conn_begin_turn(c, uv_hrtime());
  ad_conn_run(c);
  ad_conn_peer_check(c); /* still refused? */
}

void ad_conn_peer_check(ad_conn_t *c) {
  /* The daemon writes again only once the socket has room (for a Unix
   * socket, once its peer has read three quarters of what it holds), so
   * a peer that reads slowly takes bytes for a while without the daemon
   * sending any: the socket's unread bytes going down are replies taken
   * all the same. They go down a message at a time, as each is read
   * whole. And if the peer has read every byte sent to it while a
   * refused descriptor holds the output, it waits on the kernel's count
   * of descriptors in flight (other peers'), not the other way round. */
  int unread;
  if (c->closing || c->out_sent == c->out_total ||
      ioctl(c->fd, SIOCOUTQ, &unread) != 0)
    return;
  if ((uint64_t)unread < c->outq_seen || (c->fd_deferred && unread == 0))
    c->out_moved_ms = ad_daemon_now_ms();
  c->outq_seen = (uint64_t)unread;
}

bool ad_conn_unread_input(const ad_conn_t *c) {
  int pending;
  return ioctl(c->fd, FIONREAD, &pending) == 0 && pending > 0;
}

void ad_conn_resume(ad_conn_t *c) {
  ad_conn_end_yield(c);
  ad_conn_begin_turn(c, uv_hrtime());
  ad_conn_run(c);
}

static void on_poll(uv_poll_t *h, int status, int events) {
  ad_conn_t *c = h->data;
  if (status < 0) {
    /* POLLERR: libuv has stopped the handle already. The socket's error
     * says why: mostly a peer that went with replies unread, which resets
     * the connection, as a read or a send would have found. */
    c->events = 0;
    int err = 0;
    socklen_t len = sizeof err;
    bool reset = getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 &&
                 (err == ECONNRESET || err == EPIPE);
    close_broken(c, reset ? "reset" : "error");
    return;
  }
  ad_conn_begin_turn(c, uv_hrtime());
  if (events & UV_READABLE)
    conn_read(c);
  if (!c->closing)
    ad_conn_run(c);
}

void ad_conn_drain(ad_conn_t *c) {
  if (c->closing)
    return;
  c->draining = true;
  ad_conn_begin_turn(c, uv_hrtime());
  /* What the peer had sent by now is answered too; nothing after it. */
  int pending = 0;
  if (c->fd >= 0 && !c->eof && ioctl(c->fd, FIONREAD, &pending) == 0 &&
      pending > 0)
    c->drain_left = (size_t)pending;
  ad_conn_run(c);
}

void ad_conn_close(ad_conn_t *c, const char *reason) {
  ad_daemon_t *d = c->d;
  if (c->closing)
    return;
  c->closing = true;
  if (c->close_reason == NULL)
    c->close_reason = reason;
  ad_conn_end_yield(c);

  /* Replies staged for c die with it (the staging buffer is only ever
   * c's while c runs). */
  if (ar_buf_len(&c->wbuf) == 0)
    ar_buf_consume(&d->staging, ar_buf_len(&d->staging));

  for (uint32_t i = 0; i < c->nattached; i++) {
    ad_arena_t *a = ad_daemon_arena_by_id(d, c->attached[i]);
    if (a != NULL)
      a->attached_connections--;
  }
  while (c->fdq_len > 0)
    ad_conn_fd_done(c);
  d->stats.requests_in_flight -= c->inflight;
  c->inflight = 0;
  d->stats.connections_closed++;

  ad_audit_close(c);
  /* After the close line, so that the reclaim line always follows it,
   * whether the blocks all go now or in later turns. */
  ad_reclaim_begin(c);

  /* uv_close takes the descriptor out of epoll, so it goes first; the
   * memory waits for the close callback. */
  if (c->started)
    uv_close((uv_handle_t *)&c->poll, on_closed);
  if (c->fd >= 0)
    close(c->fd);
  c->fd = -1;
  ad_daemon_conn_remove(d, c);
}

void ad_conn_close_no_memory(ad_conn_t *c) {
  uint64_t *counter = &c->d->stats.connections_closed_no_memory;
  if (c->closing)
    return;
  if (c->out_sent != c->out_total) {
    /* Queued replies are sent first: one may be an alloc's, the only
     * word of where its blocks are. */
    ad_conn_close_after_reply(c, "no-memory", counter);
    return;
  }
  (*counter)++;
  ad_conn_close(c, "no-memory");
}
