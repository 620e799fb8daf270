/*
 * wire.c: the library's side of the wire. Requests are packed into the
 * output queue as varint-delimited frames and sent; replies are read into a
 * bounded input buffer, framed with ar_frame_decode (which checks the
 * declared length against the daemon's limit before a byte of the body is
 * kept), unpacked, and checked against the request they must answer. Every
 * read is a recvmsg, so a descriptor the daemon passes (attach) is caught
 * wherever it arrives, and one that comes with any other reply is closed
 * and counted as a protocol error rather than leaked. A connection found
 * closed, by a read or by a send, is searched for the daemon's last word
 * (its reason for closing) in what it sent before.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ar/util.h"
#include "internal.h"

/* The name of a request kind ("alloc"), for messages. */
static const char *kind_name(int kind) {
  const char *name = ar_wire_kind_name(kind);
  return name != NULL ? name : "none";
}

/* Frames req at the end of the output queue: by hand (encode.c) for the
 * kinds it knows, else through protobuf-c. Returns 0, or AR_ELIMIT or
 * AR_EINTERNAL as ar_frame_append, with *len the body's size. */
static int frame_request(arenad_t *h, const Arenad__Request *req, size_t *len) {
  uint8_t *body;
  int rc = arenad__encode(h, req, &body, len);
  if (rc != 1)
    return rc;
  *len = arenad__request__get_packed_size(req);
  rc = *len > h->max_frame ? AR_ELIMIT : ar_frame_append(&h->out, *len, &body);
  if (rc == 0)
    arenad__request__pack(req, body);
  return rc;
}

int arenad__queue(arenad_t *h, Arenad__Request *req, uint64_t *id) {
  req->id = h->next_id;
  size_t len;
  int rc = frame_request(h, req, &len);
  if (rc == AR_ELIMIT && len <= h->max_frame) {
    /* Only a queue that holds other requests can be this full. */
    rc = arenad__flush(h);
    if (rc < 0)
      return rc;
    rc = frame_request(h, req, &len);
  }
  if (rc == AR_ELIMIT && len > h->max_frame)
    return arenad__fail(h, AR_ELIMIT,
                        "a %s request of %zu bytes is over the frame limit "
                        "of %llu bytes",
                        kind_name((int)req->body_case), len,
                        (unsigned long long)h->max_frame);
  if (rc < 0)
    return arenad__fail(h, rc, "no memory for a request of %zu bytes", len);
  *id = h->next_id++;
  return 0;
}

/* The control message of SO_PASSPIDFD (Linux 6.5), which older headers
 * lack: the sender's pidfd, installed in this process. */
#ifndef SCM_PIDFD
#define SCM_PIDFD 0x04
#endif

/* Room for the control messages of one read: the descriptors the daemon
 * passes (ARENAD__FDS_MAX), and what the options of a socket that the
 * caller made (arenad_open_fd) add to every message before them: the
 * sender's credentials (SO_PASSCRED), its pidfd (SO_PASSPIDFD) and its
 * security label (SO_PASSSEC; some tens of bytes). Without that room the
 * kernel would cut the descriptors off. */
#define CMSG_ROOM                                                              \
  (CMSG_SPACE(sizeof(int) * ARENAD__FDS_MAX) +                                 \
   CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(sizeof(int)) +                \
   CMSG_SPACE(256))

/* Keeps the descriptors that came with a message in h->fds, and closes
 * the pidfd that SO_PASSPIDFD brings with each, which nobody asked the
 * library for. */
static void take_fds(arenad_t *h, struct msghdr *msg) {
  if (msg->msg_flags & MSG_CTRUNC)
    h->fds_lost = true;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c != NULL;
       c = CMSG_NXTHDR(msg, c)) {
    if (c->cmsg_level != SOL_SOCKET ||
        (c->cmsg_type != SCM_RIGHTS && c->cmsg_type != SCM_PIDFD))
      continue;
    size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    const unsigned char *data = CMSG_DATA(c);
    for (size_t i = 0; i < n; i++) {
      int fd;
      memcpy(&fd, data + i * sizeof fd, sizeof fd);
      if (c->cmsg_type != SCM_RIGHTS || h->nfds == ARENAD__FDS_MAX) {
        close(fd);
        h->fds_lost |= c->cmsg_type == SCM_RIGHTS;
        continue;
      }
      /* A segment's memfd kept at the number of a standard stream that
       * the caller closed would take what it prints, at offset 0. */
      fd = ar_fd_above_stdio(fd);
      if (fd >= 0)
        h->fds[h->nfds++] = fd;
      else
        h->fds_lost = true;
    }
  }
}

/* Waits until h's socket has one of `events` (poll, carried on after a
 * signal), for at most h's timeout, and stores those it has in *revents
 * (none when it fails). Returns 0 or AR_EIO (broken, also when the timeout
 * passed: a reply that came later would answer the wrong request). */
static int wait_for(arenad_t *h, short events, short *revents) {
  *revents = 0;
  struct pollfd p = {.fd = h->fd, .events = events};
  int n;
  while ((n = poll(&p, 1, h->timeout_ms)) < 0)
    if (errno != EINTR)
      return arenad__break(h, AR_EIO, "poll: %s", strerror(errno));
  if (n == 0)
    return arenad__break(h, AR_EIO,
                         "the daemon %s for %d.%03d s (the timeout): the "
                         "connection is closed",
                         events & POLLOUT ? "took and sent nothing"
                                          : "sent nothing",
                         h->timeout_ms / 1000, h->timeout_ms % 1000);
  *revents = p.revents;
  return 0;
}

/* Whether r is the daemon's last word before it closes the connection:
 * id 0, an error, no body. */
static bool is_last_word(const Arenad__Response *r) {
  return r->id == 0 && ar_wire_code(r->status) < 0 &&
         r->body_case == ARENAD__RESPONSE__BODY__NOT_SET;
}

/* Breaks h with the daemon's last word r as the reason: AR_EIO, whatever
 * the status (a status code here would read as the pipelined API's
 * "nothing in flight" or "window full"), the status quoted in the
 * message. */
static int break_last_word(arenad_t *h, const Arenad__Response *r) {
  int code = ar_wire_code(r->status);
  const char *msg = r->message != NULL ? r->message : "";
  return arenad__break(h, AR_EIO, "the daemon closed the connection: %s (%s)",
                       msg[0] != '\0' ? msg : ar_strerror(code),
                       ar_err_name(code));
}

static int connection_lost(arenad_t *h, const char *what, int err);
static Arenad__Response *unpack(arenad_t *h, const uint8_t *body, size_t len);

/* Reads what the socket has into the input buffer, never past its cap.
 * With `wait`, waits until something comes (also when the socket is
 * non-blocking), and returns 1, or AR_EIO / AR_EPROTO / AR_EINTERNAL with
 * h broken (also when the daemon closed the connection). Without, reads
 * only what is already there, and returns 1 when it read bytes, 0 when
 * there were none (or the connection's end or an error came instead), or
 * a code as above. */
static int read_more(arenad_t *h, bool wait) {
  size_t room = h->in.max - ar_buf_len(&h->in);
  size_t want = room < ARENAD__READ_CHUNK ? room : ARENAD__READ_CHUNK;
  if (want == 0) /* a frame within the limit always fits: cannot happen */
    return arenad__break(h, AR_EPROTO, "the reply buffer is full");
  int rc = ar_buf_reserve(&h->in, want);
  if (rc < 0)
    return arenad__break(h, rc, "no memory to read a reply");

  union {
    struct cmsghdr align;
    char buf[CMSG_ROOM];
  } cm;
  size_t spare = ar_buf_spare_len(&h->in);
  struct iovec iov = {.iov_base = ar_buf_spare(&h->in),
                      .iov_len = spare < room ? spare : room};
  struct msghdr msg = {.msg_iov = &iov,
                       .msg_iovlen = 1,
                       .msg_control = cm.buf,
                       .msg_controllen = sizeof cm.buf};
  /* With a timeout, a wait is wait_for's poll, never a blocking read. */
  bool block = wait && h->timeout_ms < 0;
  int flags = MSG_CMSG_CLOEXEC | (block ? 0 : MSG_DONTWAIT);
  ssize_t n;
  while ((n = recvmsg(h->fd, &msg, flags)) < 0) {
    if (errno == EINTR)
      continue;
    if (!wait)
      return 0;
    if (errno == ECONNRESET)
      return connection_lost(h, "reading from the daemon", errno);
    if (errno != EAGAIN && errno != EWOULDBLOCK)
      return arenad__break(h, AR_EIO, "reading from the daemon: %s",
                           strerror(errno));
    /* A timeout, or a non-blocking socket (arenad_open_fd takes the
     * caller's as it is): wait for the reply as a blocking one would. */
    short revents;
    rc = wait_for(h, POLLIN, &revents);
    if (rc < 0)
      return rc;
  }
  take_fds(h, &msg);
  if (n == 0)
    return wait ? connection_lost(h, "the daemon closed the connection", 0) : 0;
  ar_buf_commit(&h->in, (size_t)n);
  return 1;
}

/*
 * The daemon closed or reset the connection. Before it did, it may have
 * said why: a last word (see is_last_word) that is already in the input
 * buffer, or still in the socket when a send is what failed. Reads what
 * is there without waiting, passing over the replies before it (their
 * requests are dropped with the connection), and breaks h with the
 * daemon's reason when it is there, else with `what` (and strerror(err)
 * unless err is 0). Returns AR_EIO.
 */
static int connection_lost(arenad_t *h, const char *what, int err) {
  for (;;) {
    ar_frame_t fr;
    int rc;
    while ((rc = ar_frame_decode(ar_buf_data(&h->in), ar_buf_len(&h->in),
                                 (size_t)h->max_frame, &fr)) ==
           AR_FRAME_COMPLETE) {
      Arenad__Response *r =
          unpack(h, ar_buf_data(&h->in) + fr.start, fr.end - fr.start);
      ar_buf_consume(&h->in, fr.end);
      bool last = r != NULL && is_last_word(r);
      if (last)
        break_last_word(h, r);
      arenad__response_free(h, r);
      if (last)
        return AR_EIO;
    }
    if (rc < 0 || read_more(h, false) <= 0)
      return arenad__break(h, AR_EIO, "%s%s%s", what, err != 0 ? ": " : "",
                           err != 0 ? strerror(err) : "");
  }
}

/*
 * Called when the input buffer is full while we wait to send: the daemon
 * may be waiting for us to read before it reads more (its unsent replies
 * over output_pause_bytes), and nobody collects until the submit that
 * waits returns. Raises the buffer's cap by one frame, as far as the
 * replies of the requests in flight can take (the daemon sends nothing
 * else), so that those replies wait here until they are collected; the cap
 * comes back down once they are (arenad__read_reply). Returns whether it
 * was raised.
 */
static bool grow_input(arenad_t *h) {
  size_t frame = (size_t)h->max_frame + AR_FRAME_PREFIX_MAX;
  size_t bound = (h->pend_len + 1) * frame + ARENAD__READ_CHUNK;
  if (h->in.max >= bound)
    return false;
  size_t max = h->in.max + frame;
  ar_buf_raise_max(&h->in, max < bound ? max : bound);
  return true;
}

/* Waits until the socket takes more bytes, reading replies meanwhile (the
 * daemon may be waiting for us to read before it reads more). */
static int wait_writable(arenad_t *h) {
  for (;;) {
    bool can_read = ar_buf_len(&h->in) < h->in.max || grow_input(h);
    short revents;
    int rc = wait_for(h, (short)(POLLOUT | (can_read ? POLLIN : 0)), &revents);
    if (rc < 0)
      return rc;
    if (revents & POLLIN) {
      rc = read_more(h, true);
      if (rc < 0)
        return rc;
    }
    /* POLLOUT, or POLLHUP / POLLERR, which the next send reports. */
    if (revents & (POLLOUT | POLLHUP | POLLERR | POLLNVAL))
      return 0;
  }
}

int arenad__flush(arenad_t *h) {
  while (ar_buf_len(&h->out) > 0) {
    ssize_t n = send(h->fd, ar_buf_data(&h->out), ar_buf_len(&h->out),
                     MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      ar_buf_consume(&h->out, (size_t)n);
      continue;
    }
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      int rc = wait_writable(h);
      if (rc < 0)
        return rc;
      continue;
    }
    if (n < 0 && (errno == EPIPE || errno == ECONNRESET))
      return connection_lost(h, "writing to the daemon", errno);
    return arenad__break(h, AR_EIO, "writing to the daemon: %s",
                         n < 0 ? strerror(errno) : "nothing written");
  }
  h->unsent = 0;
  return 0;
}

/* The reply allocator (see struct arenad_s): most replies fit in the
 * handle's scratch memory, so unpacking one costs no malloc and freeing it
 * no walk over its fields. */
static void *scratch_alloc(void *data, size_t size) {
  arenad_t *h = data;
  size_t at = (h->scratch_used + 15) & ~(size_t)15;
  if (size <= ARENAD__SCRATCH && at <= ARENAD__SCRATCH - size) {
    h->scratch_used = at + size;
    return h->scratch + at;
  }
  if (size > h->spill_left) {
    h->spill_refused = true;
    return NULL;
  }
  void *p = malloc(size);
  if (p == NULL) {
    h->spill_failed = true;
    return NULL;
  }
  h->spill_left -= size;
  h->spilled++;
  return p;
}

/* What one reply may unpack into beyond the scratch memory: as the daemon
 * allows a request, 32 frames and at least 16 MiB. */
static size_t unpack_max(const arenad_t *h) {
  size_t frames = 32 * (size_t)h->max_frame;
  return frames > ((size_t)16 << 20) ? frames : (size_t)16 << 20;
}

static void scratch_free(void *data, void *p) {
  arenad_t *h = data;
  if ((unsigned char *)p >= h->scratch &&
      (unsigned char *)p < h->scratch + ARENAD__SCRATCH)
    return; /* reset at the next unpack */
  free(p);
}

/* Unpacks one frame's body with the reply allocator, within unpack_max;
 * NULL when it is not a Response, needs more (spill_refused) or malloc
 * failed (spill_failed). Free the result with arenad__response_free
 * before the next. */
static Arenad__Response *unpack(arenad_t *h, const uint8_t *body, size_t len) {
  h->allocator = (ProtobufCAllocator){
      .alloc = scratch_alloc, .free = scratch_free, .allocator_data = h};
  h->scratch_used = 0;
  h->spilled = 0;
  h->spill_left = unpack_max(h);
  h->spill_refused = false;
  h->spill_failed = false;
  return arenad__response__unpack(&h->allocator, len, body);
}

bool arenad__reply_ready(const arenad_t *h) {
  ar_frame_t fr;
  return ar_frame_decode(ar_buf_data(&h->in), ar_buf_len(&h->in),
                         (size_t)h->max_frame, &fr) == AR_FRAME_COMPLETE;
}

int arenad__read_reply(arenad_t *h, Arenad__Response **out) {
  *out = NULL;
  for (;;) {
    ar_frame_t fr;
    const uint8_t *data = ar_buf_data(&h->in);
    int rc = ar_frame_decode(data, ar_buf_len(&h->in), (size_t)h->max_frame,
                             &fr);
    if (rc == AR_FRAME_COMPLETE) {
      size_t len = fr.end - fr.start;
      Arenad__Response *r = unpack(h, data + fr.start, len);
      ar_buf_consume(&h->in, fr.end);
      if (ar_buf_len(&h->in) == 0 && h->in.max > arenad__input_cap(h)) {
        /* grow_input's replies are all collected: back to one frame */
        ar_buf_destroy(&h->in);
        ar_buf_init(&h->in, arenad__input_cap(h));
      }
      if (r == NULL && h->spill_failed)
        return arenad__break(h, AR_EINTERNAL,
                             "no memory to unpack the daemon's reply of %zu "
                             "bytes",
                             len);
      if (r == NULL && h->spill_refused)
        return arenad__break(h, AR_EPROTO,
                             "the daemon's reply of %zu bytes would unpack "
                             "into more than %zu bytes of memory",
                             len, unpack_max(h));
      if (r == NULL)
        return arenad__break(h, AR_EPROTO,
                             "the daemon sent %zu bytes that are not a "
                             "Response",
                             len);
      *out = r;
      return 0;
    }
    if (rc == AR_ELIMIT)
      return arenad__break(h, AR_EPROTO,
                           "the daemon sent a frame over the limit of %llu "
                           "bytes",
                           (unsigned long long)h->max_frame);
    if (rc < 0)
      return arenad__break(h, AR_EPROTO,
                           "the daemon sent a malformed frame length");
    rc = read_more(h, true);
    if (rc < 0)
      return rc;
  }
}

void arenad__response_free(arenad_t *h, Arenad__Response *r) {
  if (h == NULL) /* a call refused for want of a handle: no reply */
    return;
  /* All in scratch: nothing to free one by one. */
  if (r != NULL && h->spilled > 0)
    arenad__response__free_unpacked(r, &h->allocator);
  h->scratch_used = 0;
  h->spilled = 0;
}

int arenad__check_reply(arenad_t *h, const Arenad__Response *r, uint64_t id,
                        int kind) {
  int code = ar_wire_code(r->status);
  const char *msg = r->message != NULL ? r->message : "";

  /* The daemon's last word before it closes: the connection is gone. */
  if (is_last_word(r))
    return break_last_word(h, r);
  if (r->id != id)
    return arenad__break(h, AR_EPROTO,
                         "reply id %llu does not answer request %llu (%s)",
                         (unsigned long long)r->id, (unsigned long long)id,
                         kind_name(kind));
  if (r->body_case != ARENAD__RESPONSE__BODY__NOT_SET &&
      (int)r->body_case != kind)
    return arenad__break(h, AR_EPROTO, "a %s reply answers a %s request",
                         kind_name((int)r->body_case), kind_name(kind));
  if (code == 0 && r->body_case == ARENAD__RESPONSE__BODY__NOT_SET)
    return arenad__break(h, AR_EPROTO,
                         "the reply to a %s request has no body",
                         kind_name(kind));
  if (code < 0)
    return arenad__fail(h, code, "%s", msg[0] != '\0' ? msg : ar_strerror(code));
  return 0;
}

int arenad__can_call(arenad_t *h) {
  int rc = arenad__usable(h);
  if (rc < 0)
    return rc;
  if (h->pend_len > 0)
    return arenad__fail(h, AR_EINVAL,
                        "%zu pipelined requests are in flight: collect them "
                        "first",
                        h->pend_len);
  return 0;
}

int arenad__call(arenad_t *h, Arenad__Request *req, bool fds_ok,
                 Arenad__Response **out) {
  *out = NULL;
  int rc = arenad__can_call(h);
  if (rc < 0)
    return rc;
  uint64_t id;
  rc = arenad__queue(h, req, &id);
  if (rc < 0)
    return rc;
  rc = arenad__flush(h);
  if (rc < 0)
    return rc;
  Arenad__Response *r;
  rc = arenad__read_reply(h, &r);
  if (rc < 0)
    return rc;
  rc = arenad__check_reply(h, r, id, (int)req->body_case);
  if (!h->broken && !fds_ok && (h->nfds > 0 || h->fds_lost))
    rc = arenad__break(h, AR_EPROTO,
                       "the daemon passed a descriptor with a %s reply",
                       kind_name((int)req->body_case));
  if (h->broken) {
    arenad__response_free(h, r);
    return rc;
  }
  *out = r;
  return rc;
}
