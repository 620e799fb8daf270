/*
 * fuzz_client.c: a libFuzzer target for libarenad against a broken or
 * hostile daemon. The library must survive any bytes the daemon sends
 * (arenad.h, "A broken connection"), so the input is a short script of
 * library calls, each preceded by what a fake daemon writes to its end of
 * a socketpair (fuzz_client_script.c, and fuzz_client_replies.c for the
 * replies it builds), and after each call the harness checks what
 * arenad.h promises (fuzz_client_calls.c). The input format is in
 * fuzz_client.h. This file holds the run's state, the daemon's side of
 * the socket and the target itself.
 *
 * Nothing may wait forever. The harness drains the requests the library
 * sends after every call, so a send never waits; and it mirrors the
 * daemon's byte stream: every reply the library reads takes one frame off
 * its front (the protocol answers each request with one frame). Before a
 * call that reads a reply, when the front of the stream is not a whole
 * frame (ar_frame_decode with the library's limit, which the harness
 * follows through hello), the daemon shuts its side down, so that the
 * library reads the end of the stream rather than waits.
 *
 * Every request the library writes must be a Request, byte for byte what
 * protobuf-c packs, with ids one after the other. At the end arenad_close
 * must unmap every mapping and close every descriptor (the count of this
 * process's descriptors comes back to where it was), and LeakSanitizer
 * checks the heap. A broken promise aborts with a sentence on stderr.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ar/frame.h"
#include "arenad.h"
#include "arenad.pb-c.h"
#include "fuzz_client_internal.h"
#include "open_fds.h"
#include "send_fds.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

const char *const fzc_names[NAMES] = {"a", "b", "c"};

bool fzc_trace;

/* ---- Failing ------------------------------------------------------------- */

void fzc_fail(const char *file, int line, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "%s:%d: ", file, line);
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  abort();
}

/* ---- The input ----------------------------------------------------------- */

/* The next byte; 0 past the end. */
uint8_t fzc_take(in_t *in) { return in->at < in->n ? in->p[in->at++] : 0; }

uint64_t fzc_take_u64(in_t *in) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++)
    v |= (uint64_t)fzc_take(in) << (8 * i);
  return v;
}

/* ---- The run's state ----------------------------------------------------- */

static void grow(uint8_t **p, size_t *cap, size_t need) {
  if (need <= *cap)
    return;
  size_t cap2 = *cap ? *cap : 4096;
  while (cap2 < need)
    cap2 *= 2;
  uint8_t *q = realloc(*p, cap2);
  CHECK(q != NULL, "no memory");
  *p = q;
  *cap = cap2;
}

void fzc_pool_add(run_t *r, uint64_t off) { r->pool[r->npool++ % POOL] = off; }

uint64_t fzc_pool_pick(const run_t *r, unsigned k) {
  size_t n = r->npool < POOL ? r->npool : POOL;
  return r->pool[k % n];
}

pend_t *fzc_fifo_at(run_t *r, size_t i) {
  return &r->fifo[(r->head + i) % FIFO];
}

/* ---- The daemon's side of the socket ------------------------------------- */

/* Writes what the socket takes of p[0..n), with descriptors fds[0..nfds)
 * on its first byte, and adds it to the stream. The harness keeps its
 * copies of fds. */
void fzc_daemon_write(run_t *r, const uint8_t *p, size_t n, const int *fds,
                      size_t nfds) {
  if (r->ended || r->broken || n == 0)
    return;
  ssize_t k =
      send_with_fds(r->peer, p, n, fds, nfds, MSG_DONTWAIT | MSG_NOSIGNAL);
  if (k <= 0)
    return; /* full: the daemon's bytes are lost, as a reset would */
  grow(&r->stream, &r->stream_cap, r->stream_len + (size_t)k);
  memcpy(r->stream + r->stream_len, p, (size_t)k);
  r->stream_len += (size_t)k;
}

/* The daemon's end of the stream: `how` SHUT_WR, the daemon reads on
 * (the library's sends go through), or SHUT_RDWR, as if it closed (they
 * fail: EPIPE). */
void fzc_daemon_end(run_t *r, int how) {
  if (!r->ended)
    shutdown(r->peer, how);
  r->ended = true;
}

/* The frame at the front of the unread stream, as the library decodes it
 * with a limit of `limit` bytes. */
static int stream_front(const run_t *r, uint64_t limit, ar_frame_t *fr) {
  return ar_frame_decode(r->stream + r->consumed, r->stream_len - r->consumed,
                         (size_t)limit, fr);
}

/* Before a call that reads a reply: a front that is not a whole frame
 * would have the library wait for the rest, so the stream ends there. */
static void guard(run_t *r) {
  ar_frame_t fr;
  if (!r->ended && stream_front(r, r->max_frame, &fr) == AR_FRAME_PARTIAL)
    fzc_daemon_end(r, SHUT_WR);
}

/* After a call that read a reply: it took the frame at the front, read
 * with the limit before the call (hello may have changed it since). */
void fzc_took_reply(run_t *r, uint64_t limit) {
  ar_frame_t fr;
  CHECK(stream_front(r, limit, &fr) == AR_FRAME_COMPLETE,
        "the library read a reply the daemon never sent whole (stream of "
        "%zu bytes, %zu taken)",
        r->stream_len, r->consumed);
  r->consumed += fr.end;
}

/* Reads the requests the library wrote since the last call. Each must be
 * a Request, exactly as protobuf-c packs it, its id the one after the
 * last. Returns how many there were. */
static size_t drain(run_t *r) {
  for (;;) {
    grow(&r->req, &r->req_cap, r->req_len + 65536);
    ssize_t n = recv(r->peer, r->req + r->req_len, 65536, MSG_DONTWAIT);
    if (n <= 0)
      break;
    r->req_len += (size_t)n;
  }
  size_t at = 0, count = 0;
  ar_frame_t fr;
  while (ar_frame_decode(r->req + at, r->req_len - at,
                         (size_t)ARENAD_FRAME_MAX_CLIENT,
                         &fr) == AR_FRAME_COMPLETE) {
    const uint8_t *body = r->req + at + fr.start;
    size_t len = fr.end - fr.start;
    Arenad__Request *q = arenad__request__unpack(NULL, len, body);
    CHECK(q != NULL, "the library sent %zu bytes that are not a Request", len);
    size_t again = arenad__request__get_packed_size(q);
    uint8_t *packed = malloc(again ? again : 1);
    CHECK(packed != NULL, "no memory");
    arenad__request__pack(q, packed);
    CHECK(again == len && memcmp(packed, body, len) == 0,
          "request %llu is not what protobuf-c packs",
          (unsigned long long)q->id);
    free(packed);
    CHECK(q->id == r->last_sent + 1, "request %llu follows request %llu",
          (unsigned long long)q->id, (unsigned long long)r->last_sent);
    r->last_sent = q->id;
    if (q->id >= r->next_id)
      r->next_id = q->id + 1;
    arenad__request__free_unpacked(q, NULL);
    at += fr.end;
    count++;
  }
  memmove(r->req, r->req + at, r->req_len - at);
  r->req_len -= at;
  return count;
}

/* A memfd of size bytes, or -1. */
int fzc_make_segment(uint64_t size) {
  int fd = memfd_create("fuzz_client", MFD_CLOEXEC);
  if (fd >= 0 && ftruncate(fd, (off_t)size) < 0) {
    close(fd);
    fd = -1;
  }
  return fd;
}

/* ---- The target ---------------------------------------------------------- */

/* Open descriptors of this process; aborts when they cannot be counted. */
static int count_fds(void) {
  int n = open_fds();
  CHECK(n >= 0, "/proc/self/fd");
  return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  in_t in = {.p = data, .n = size};
  fzc_trace = getenv("FUZZ_CLIENT_TRACE") != NULL;
  int fds_before = count_fds();
  int sv[2];
  CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0,
        "socketpair: %s", strerror(errno));
  int buf = PEER_BUF;
  setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
  if (fzc_take(&in) & FC_SETUP_NONBLOCK)
    fcntl(sv[0], F_SETFL, O_NONBLOCK);

  static run_t run;
  run_t *r = &run;
  memset(r, 0, sizeof *r);
  r->peer = sv[1];
  r->max_frame = AR_FRAME_MAX_DEFAULT;
  r->next_id = 1;
  r->pool[0] = 16;
  r->npool = 1;
  grow(&r->stream, &r->stream_cap, 1); /* never NULL, even when empty */
  CHECK(arenad_open_fd(sv[0], &r->h) == 0, "arenad_open_fd");

  while (in.at < in.n) {
    call_t c;
    fzc_decode_call(r, &in, &c);
    uint8_t spec = fzc_take(&in);
    for (int i = 0; i <= (spec >> 4 & 7); i++)
      fzc_write_reply(r, &in, spec, &c);
    if (fzc_reads_reply(r, &c))
      guard(r);
    uint64_t limit = r->max_frame;
    int rc;
    fzc_call(r, &c, &rc);
    fzc_after(r, &c, rc, drain(r), limit);
  }

  arenad_close(r->h);
  for (int i = 0; i < NAMES; i++)
    CHECK(!r->maps[i].on || fzc_unmapped(r->maps[i].base),
          "arenad_close left %s mapped", fzc_names[i]);
  close(r->peer);
  free(r->stream);
  free(r->req);
  CHECK(count_fds() == fds_before, "descriptors: %d before, %d after",
        fds_before, count_fds());
  return 0;
}
