/*
 * itest_conn.c: the integration tests' raw protocol client (see itest.h).
 * It connects to a daemon's socket with a send and a receive timeout of
 * IT_TIMEOUT_S, so that a daemon that does not answer fails the test
 * instead of hanging it; frames requests with ar/frame.h and packs them
 * with protobuf-c; and reads replies into the connection's buffer, with
 * the descriptors that came by SCM_RIGHTS, unpacking one frame at a time
 * and checking that a descriptor comes only with the successful attach
 * reply it belongs to. What it hands out is the caller's: an it_conn_t,
 * with its buffer and the descriptors not yet taken, until it_close frees
 * and closes them; a Response from it_recv, it_call or it_recv_reply, to
 * free with it_resp_free; a descriptor stored in *fd, to close; and the
 * buffer it_frame_append reallocs, to free.
 */
#include "itest.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ar/frame.h"

/* Frames from the daemon are at most this large (its default limit is far
 * smaller; tests that raise it stay below). */
#define IT_FRAME_MAX ((size_t)64 << 20)

/* ---- Connections --------------------------------------------------------- */

int it_bind_unix(const char *path, struct sockaddr_un *sa) {
  struct sockaddr_un at = {.sun_family = AF_UNIX};
  snprintf(at.sun_path, sizeof(at.sun_path), "%s", path);
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  assert_true(fd >= 0);
  assert_int_equal(bind(fd, (struct sockaddr *)&at, sizeof(at)), 0);
  if (sa != NULL)
    *sa = at;
  return fd;
}

it_conn_t *it_try_connect(const char *path) {
  struct sockaddr_un sa;
  memset(&sa, 0, sizeof(sa));
  sa.sun_family = AF_UNIX;
  snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return NULL;
  if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
    int e = errno;
    close(fd);
    errno = e;
    return NULL;
  }
  struct timeval tv = {.tv_sec = IT_TIMEOUT_S};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  it_conn_t *c = calloc(1, sizeof(*c));
  if (c == NULL)
    fail_msg("out of memory");
  c->fd = fd;
  c->next_id = 1;
  return c;
}

it_conn_t *it_connect(const char *path) {
  it_conn_t *c = it_try_connect(path);
  if (c == NULL)
    fail_msg("connect %s: %s", path, strerror(errno));
  return c;
}

void it_close(it_conn_t *c) {
  if (c == NULL)
    return;
  for (int i = 0; i < c->nfds; i++)
    close(c->fds[i]);
  close(c->fd);
  free(c->buf);
  free(c);
}

void it_send_raw(it_conn_t *c, const void *p, size_t n) {
  const uint8_t *b = p;
  while (n > 0) {
    ssize_t k = send(c->fd, b, n, MSG_NOSIGNAL);
    if (k < 0 && errno == EINTR)
      continue;
    if (k < 0)
      fail_msg("send: %s", strerror(errno));
    b += k;
    n -= (size_t)k;
  }
}

void it_frame_append(uint8_t **buf, size_t *len, const Arenad__Request *req) {
  size_t n = arenad__request__get_packed_size(req);
  uint8_t *p = realloc(*buf, *len + AR_FRAME_PREFIX_MAX + n);
  if (p == NULL)
    fail_msg("out of memory");
  *buf = p;
  *len += ar_frame_encode(p + *len, n);
  arenad__request__pack(req, p + *len);
  *len += n;
}

void it_frame_append_id(uint8_t **buf, size_t *len, Arenad__Request *req,
                        uint64_t id) {
  req->id = id;
  it_frame_append(buf, len, req);
}

void it_send(it_conn_t *c, const Arenad__Request *req) {
  uint8_t *buf = NULL;
  size_t len = 0;
  it_frame_append(&buf, &len, req);
  it_send_raw(c, buf, len);
  free(buf);
}

/* Reads more bytes (and descriptors). Returns false at end of stream. */
static bool fill(it_conn_t *c) {
  if (c->cap - c->len < 65536) {
    size_t cap = c->cap ? c->cap * 2 : 131072;
    uint8_t *p = realloc(c->buf, cap);
    if (p == NULL)
      fail_msg("out of memory");
    c->buf = p;
    c->cap = cap;
  }
  struct iovec iov = {.iov_base = c->buf + c->len, .iov_len = c->cap - c->len};
  union {
    char buf[CMSG_SPACE(sizeof(int) * 8)];
    struct cmsghdr align;
  } ctl;
  struct msghdr msg;
  memset(&msg, 0, sizeof(msg));
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = ctl.buf;
  msg.msg_controllen = sizeof(ctl.buf);
  ssize_t n;
  do
    n = recvmsg(c->fd, &msg, MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno == ECONNRESET)
      return false;
    fail_msg("recvmsg: %s", errno == EAGAIN ? "timed out" : strerror(errno));
  }
  for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm != NULL;
       cm = CMSG_NXTHDR(&msg, cm)) {
    if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
      continue;
    size_t k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < k; i++) {
      if (c->nfds == 16)
        fail_msg("too many descriptors received");
      memcpy(&c->fds[c->nfds], CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
      c->fd_at[c->nfds] = c->consumed + c->len;
      c->fd_end[c->nfds++] = c->consumed + c->len + (size_t)n;
    }
  }
  if (msg.msg_flags & MSG_CTRUNC)
    fail_msg("control data truncated");
  c->len += (size_t)n;
  return n > 0;
}

Arenad__Response *it_recv(it_conn_t *c, int *fd) {
  if (fd != NULL)
    *fd = -1;
  for (;;) {
    ar_frame_t f;
    int rc = c->len > 0 ? ar_frame_decode(c->buf, c->len, IT_FRAME_MAX, &f)
                        : AR_FRAME_PARTIAL;
    if (rc < 0)
      fail_msg("the daemon sent a bad frame prefix (%s)", ar_err_name(rc));
    if (rc == AR_FRAME_COMPLETE) {
      Arenad__Response *r =
          arenad__response__unpack(NULL, f.end - f.start, c->buf + f.start);
      if (r == NULL)
        fail_msg("the daemon sent a frame that is not a Response");
      /* The daemon sends a descriptor with the first byte of a successful
       * attach's frame. The kernel may join the bytes of earlier replies
       * to that read, so the rule a client can check: a descriptor belongs
       * to the successful attach whose frame begins in the read that
       * brought it, and comes with no other frame. */
      bool wants = r->body_case == ARENAD__RESPONSE__BODY_ATTACH &&
                   r->status == ARENAD__STATUS__STATUS_OK;
      uint64_t at = c->consumed;
      if (c->nfds > 0 && c->fd_end[0] <= at)
        fail_msg("a descriptor came with bytes %llu..%llu, and no attach "
                 "reply begins there",
                 (unsigned long long)c->fd_at[0],
                 (unsigned long long)c->fd_end[0]);
      if (wants) {
        if (c->nfds == 0 || c->fd_at[0] > at)
          fail_msg("the attach reply at %llu came without a descriptor",
                   (unsigned long long)at);
        if (fd == NULL)
          close(c->fds[0]);
        else
          *fd = c->fds[0];
        c->nfds--;
        memmove(c->fds, c->fds + 1, (size_t)c->nfds * sizeof(int));
        memmove(c->fd_at, c->fd_at + 1, (size_t)c->nfds * sizeof(uint64_t));
        memmove(c->fd_end, c->fd_end + 1, (size_t)c->nfds * sizeof(uint64_t));
      }
      memmove(c->buf, c->buf + f.end, c->len - f.end);
      c->len -= f.end;
      c->consumed += f.end;
      return r;
    }
    if (!fill(c)) {
      if (c->len > 0)
        fail_msg("the stream ended inside a frame (%zu bytes)", c->len);
      return NULL;
    }
  }
}

void it_resp_free(Arenad__Response *r) {
  if (r != NULL)
    arenad__response__free_unpacked(r, NULL);
}

Arenad__Response *it_call(it_conn_t *c, Arenad__Request *req, int *fd) {
  req->id = c->next_id++;
  it_send(c, req);
  Arenad__Response *r = it_recv(c, fd);
  if (r == NULL)
    fail_msg("the daemon closed the connection instead of answering");
  if (r->id != req->id)
    fail_msg("reply id %llu, want %llu", (unsigned long long)r->id,
             (unsigned long long)req->id);
  if (r->body_case != ARENAD__RESPONSE__BODY__NOT_SET &&
      (int)r->body_case != (int)req->body_case)
    fail_msg("reply kind %d, want %d", (int)r->body_case, (int)req->body_case);
  return r;
}

Arenad__Response *it_recv_reply(it_conn_t *c, uint64_t id, int status) {
  Arenad__Response *r = it_recv(c, NULL);
  if (r == NULL)
    fail_msg("the stream ended before the reply to request %llu",
             (unsigned long long)id);
  if (r->id != id)
    fail_msg("reply id %llu, want %llu", (unsigned long long)r->id,
             (unsigned long long)id);
  it_assert_status(r, status);
  return r;
}

int it_expect_eof(it_conn_t *c) {
  int n = 0;
  Arenad__Response *r;
  while ((r = it_recv(c, NULL)) != NULL) {
    it_resp_free(r);
    n++;
  }
  return n;
}
