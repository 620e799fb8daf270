/*
 * fuzz_client.c: a libFuzzer target for libarenad against a broken or
 * hostile daemon. The library must survive any bytes the daemon sends
 * (arenad.h, "A broken connection"), so the input is a short script of
 * library calls (hello, list, attach, alloc, the frees, sharing, inspect,
 * check, stats, arenas made and destroyed, and the pipelined submits and
 * collects), each preceded by what the fake daemon writes to its end of a
 * socketpair: nothing, raw bytes, a framed body, the daemon's last word,
 * the end of the stream, or a real Response packed with protobuf-c, to the
 * request it answers (its id and kind) or with one thing wrong, its fields
 * taken from the input, so that the fuzzer gets past the framing into
 * each reply's validation. An attach reply passes small memfds. The input
 * format is in fuzz_client.h.
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
 * After each call it checks what arenad.h promises: a handle broken by
 * AR_EPROTO or AR_EIO answers AR_EIO from then on, keeps its first error
 * and has nothing in flight; otherwise arenad_in_flight is the number of
 * requests submitted and not collected; a block's offset lies, with its
 * size, inside the arena's mapping when it is attached (the harness
 * touches both ends); counts, statuses and overwritten headers are what
 * was asked for (indices below the submitted count and increasing);
 * results are NULL or empty after an error; strings end inside their
 * arrays; every request the library writes is a Request, byte for byte
 * what protobuf-c packs, with ids one after the other. At the end
 * arenad_close must unmap every mapping and close every descriptor (the
 * count of this process's descriptors comes back to where it was), and
 * LeakSanitizer checks the heap. A broken promise aborts with a sentence
 * on stderr.
 */
#include <dirent.h>
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
#include "fuzz_client.h"
#include "send_fds.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NAMES 3            /* arenas "a", "b", "c" */
#define POOL 16            /* offsets remembered for frees and sharing */
#define FIFO 256           /* pipelined requests the harness follows */
#define MAX_OFFSETS 8      /* offsets in one free, blocks in one alloc */
#define STRINGS 16         /* strings in one built reply */
#define STRING_MAX 2048    /* bytes of one, past every fixed array */
#define PEER_BUF (1 << 20) /* the daemon's send buffer, asked for */
/* Memfds passed with one reply, at most: past the 4 the library makes
 * room for. */
#define SEGMENT_FDS 6
_Static_assert(SEGMENT_FDS <= SEND_FDS_MAX, "send_with_fds attaches them all");

static const char *const names[NAMES] = {"a", "b", "c"};

/* The calls' names, for the trace (FUZZ_CLIENT_TRACE=1 prints each call,
 * what it returned and arenad_error). */
static const char *const call_names[FC_CALLS] = {
    "hello",        "ping",         "list",          "attach",
    "detach",       "alloc",        "alloc_n",       "free",
    "free_n",       "free_each",    "free_report",   "retain",
    "release",      "transfer",     "inspect",       "check",
    "stats",        "create_arena", "destroy_arena", "submit_ping",
    "submit_alloc", "submit_free",  "flush",         "collect"};
static bool trace;

/* ---- Failing ------------------------------------------------------------- */

static void fail(int line, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));
static void fail(int line, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "fuzz_client.c:%d: ", line);
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  abort();
}

/* Aborts with the sentence when cond does not hold. */
#define CHECK(cond, ...)                                                       \
  do {                                                                         \
    if (!(cond))                                                               \
      fail(__LINE__, __VA_ARGS__);                                             \
  } while (0)

/* ---- The input ----------------------------------------------------------- */

typedef struct in_s {
  const uint8_t *p;
  size_t n, at;
} in_t;

/* The next byte; 0 past the end. */
static uint8_t take(in_t *in) { return in->at < in->n ? in->p[in->at++] : 0; }

static uint64_t take_u64(in_t *in) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++)
    v |= (uint64_t)take(in) << (8 * i);
  return v;
}

/* ---- The run's state ----------------------------------------------------- */

/* A pipelined request in flight, as the harness submitted it. */
typedef struct pend_s {
  uint64_t id, tag;
  arenad_op_t op;
  int name;          /* index into names[] */
  uint32_t count;    /* alloc: blocks (0 is 1); free: offsets */
  uint64_t size;     /* alloc: bytes per block */
  uint64_t map_size; /* alloc: the arena's mapping at submit; 0: none */
} pend_t;

/* An arena this handle attached, as arenad_attach gave it. */
typedef struct map_s {
  bool on;
  uint8_t *base;
  uint64_t size;
  bool read_only;
} map_t;

typedef struct run_s {
  arenad_t *h;
  int peer;      /* the fake daemon's end; the harness's */
  bool ended;    /* the daemon shut its side down: no more bytes */
  bool broken;   /* a call returned AR_EPROTO or AR_EIO */
  char err[512]; /* arenad_error when it broke */

  /* The daemon's byte stream, all of it, and how much of it the library
   * has taken as replies (a frame per reply). */
  uint8_t *stream;
  size_t stream_len, stream_cap, consumed;
  uint64_t max_frame; /* the library's limit on a reply's body */

  /* Requests the library wrote, not yet a whole frame. */
  uint8_t *req;
  size_t req_len, req_cap;
  uint64_t last_sent; /* the id of the last request seen */
  uint64_t next_id;   /* the id the library gives its next request */
  uint64_t reply_id;  /* the id the daemon answers next */

  pend_t fifo[FIFO]; /* pipelined requests in flight, oldest first */
  size_t head, len;

  map_t maps[NAMES];
  uint64_t pool[POOL];
  size_t npool;
} run_t;

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

static void pool_add(run_t *r, uint64_t off) {
  r->pool[r->npool++ % POOL] = off;
}

static uint64_t pool_pick(const run_t *r, unsigned k) {
  size_t n = r->npool < POOL ? r->npool : POOL;
  return r->pool[k % n];
}

static pend_t *fifo_at(run_t *r, size_t i) {
  return &r->fifo[(r->head + i) % FIFO];
}

/* ---- The daemon's side of the socket ------------------------------------- */

/* Writes what the socket takes of p[0..n), with descriptors fds[0..nfds)
 * on its first byte, and adds it to the stream. The harness keeps its
 * copies of fds. */
static void daemon_write(run_t *r, const uint8_t *p, size_t n, const int *fds,
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
static void daemon_end(run_t *r, int how) {
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
    daemon_end(r, SHUT_WR);
}

/* After a call that read a reply: it took the frame at the front, read
 * with the limit before the call (hello may have changed it since). */
static void took_reply(run_t *r, uint64_t limit) {
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
static int make_segment(uint64_t size) {
  int fd = memfd_create("fuzz_client", MFD_CLOEXEC);
  if (fd >= 0 && ftruncate(fd, (off_t)size) < 0) {
    close(fd);
    fd = -1;
  }
  return fd;
}

/* ---- Building replies ---------------------------------------------------- */

/* What a reply answers. */
typedef struct target_s {
  uint64_t id;
  int kind;        /* a Response body case */
  uint32_t count;  /* alloc: blocks; free: offsets */
  uint64_t cursor; /* inspect */
} target_t;

/* A Response and everything it points to: one, static, rebuilt for every
 * reply (the harness is single-threaded). */
typedef struct reply_s {
  Arenad__Response r;
  Arenad__HelloReply hello;
  Arenad__Limits limits;
  Arenad__PingReply ping;
  Arenad__ListReply list;
  Arenad__ArenaInfo infos[4];
  Arenad__ArenaInfo *info_ptrs[4];
  Arenad__Access access[6];
  size_t naccess;
  Arenad__AttachReply attach;
  Arenad__InspectReply inspect;
  Arenad__ArenaSummary summary;
  uint64_t orders[64];
  Arenad__Extent ext[3];
  Arenad__Extent *ext_ptrs[3];
  Arenad__Holder holders[3][2];
  Arenad__Holder *holder_ptrs[3][2];
  Arenad__CheckReply check;
  Arenad__AllocReply alloc;
  uint64_t offsets[MAX_OFFSETS + 4];
  Arenad__FreeReply free;
  Arenad__Status statuses[MAX_OFFSETS + 1];
  uint32_t overwritten[4];
  Arenad__RetainReply retain;
  Arenad__ReleaseReply release;
  Arenad__TransferReply transfer;
  Arenad__CreateArenaReply create;
  Arenad__ArenaInfo created;
  Arenad__DestroyArenaReply destroy;
  Arenad__StatsReply stats;
  Arenad__RequestCounts counts;
  Arenad__StatusCounts errors;
  char strings[STRINGS][STRING_MAX + 1];
  size_t nstrings;
} reply_t;

static reply_t B;

/* A string of a length from the input: mostly short, sometimes past the
 * library's fixed arrays (64 and 256 bytes), or long enough that a reply
 * unpacks past the library's scratch memory (4 KiB). */
static char *text(in_t *in) {
  uint8_t b = take(in);
  size_t len = b < 0xe0 ? b % 80 : (size_t)64 * (b - 0xdf);
  if (B.nstrings == STRINGS || len > STRING_MAX)
    return (char *)"";
  char *s = B.strings[B.nstrings++];
  for (size_t i = 0; i < len; i++)
    s[i] = (char)('a' + i % 26);
  s[len] = '\0';
  return s;
}

static Arenad__Access *access_of(in_t *in) {
  uint8_t b = take(in);
  if (!(b & 1) || B.naccess == 6)
    return NULL;
  Arenad__Access *a = &B.access[B.naccess++];
  *a = (Arenad__Access)ARENAD__ACCESS__INIT;
  a->mode = (uint32_t)b << 1;
  a->owner_uid = take(in);
  a->group_gid = take(in);
  return a;
}

/* An offset: a multiple of 16 in the first 4 KiB, further, or any. */
static uint64_t offset_of(in_t *in) {
  uint8_t b = take(in);
  if (b < 0xf8)
    return 16 * (uint64_t)b;
  if (b < 0xff)
    return 4096 * (uint64_t)(b - 0xf6);
  return take_u64(in);
}

/* hello's frame limit: none (the default), small, the usual, the
 * library's own limit and past it, or any. */
static uint64_t frame_limit_of(in_t *in) {
  switch (take(in) & 7) {
  case 0:
    return 0;
  case 1:
    return 16 + take(in);
  case 2:
    return 64 * (uint64_t)take(in);
  case 3:
    return 4096;
  case 4:
    return (uint64_t)1 << 20;
  case 5:
    return ARENAD_FRAME_MAX_CLIENT;
  case 6:
    return ARENAD_FRAME_MAX_CLIENT + 1;
  default:
    return take_u64(in);
  }
}

static void info_of(Arenad__ArenaInfo *a, in_t *in) {
  *a = (Arenad__ArenaInfo)ARENAD__ARENA_INFO__INIT;
  a->name = text(in);
  a->size = 4096 * (uint64_t)take(in);
  a->policy = (Arenad__Policy)(take(in) % 8);
  a->used_bytes = take(in);
  a->free_bytes = take(in);
  a->live_blocks = take(in);
  a->access = access_of(in);
  a->quota_bytes = take(in);
  a->quota_blocks = take(in);
}

static void body_hello(in_t *in) {
  B.hello = (Arenad__HelloReply)ARENAD__HELLO_REPLY__INIT;
  B.hello.daemon_version = text(in);
  uint8_t v = take(in);
  B.hello.protocol_version = v < 0xf0 ? ARENAD_PROTOCOL_VERSION : v & 0x0f;
  if (take(in) != 0xff) {
    B.limits = (Arenad__Limits)ARENAD__LIMITS__INIT;
    B.limits.max_frame_bytes = frame_limit_of(in);
    B.limits.max_blocks_per_request = take(in);
    B.limits.max_in_flight = take(in); /* 0: no limit */
    B.limits.max_page = take(in);
    B.hello.limits = &B.limits;
  }
  B.hello.token = take(in);
  B.hello.connection_id = take(in);
  B.hello.instance = take(in);
  B.r.hello = &B.hello;
}

static void body_list(in_t *in) {
  B.list = (Arenad__ListReply)ARENAD__LIST_REPLY__INIT;
  B.list.n_arenas = take(in) % 5;
  for (size_t i = 0; i < B.list.n_arenas; i++) {
    info_of(&B.infos[i], in);
    B.info_ptrs[i] = &B.infos[i];
  }
  B.list.arenas = B.info_ptrs;
  B.r.list = &B.list;
}

/* An attach reply for a segment of seg bytes: its size, mostly. */
static void body_attach(in_t *in, uint64_t seg) {
  B.attach = (Arenad__AttachReply)ARENAD__ATTACH_REPLY__INIT;
  uint8_t b = take(in);
  switch (b % 8) {
  case 4:
    B.attach.size = seg > 4096 ? seg - 4096 : seg;
    break;
  case 5:
    B.attach.size = seg + 1;
    break;
  case 6:
    B.attach.size = 0;
    break;
  case 7:
    B.attach.size = take_u64(in);
    break;
  default:
    B.attach.size = seg;
  }
  B.attach.policy = (Arenad__Policy)((b >> 3) % 8);
  B.attach.read_only = (b & 0x40) != 0;
  B.r.attach = &B.attach;
}

static void body_inspect(in_t *in, uint64_t cursor) {
  B.inspect = (Arenad__InspectReply)ARENAD__INSPECT_REPLY__INIT;
  Arenad__ArenaSummary *s = &B.summary;
  if (take(in) != 0xff) {
    *s = (Arenad__ArenaSummary)ARENAD__ARENA_SUMMARY__INIT;
    s->name = text(in);
    s->policy = (Arenad__Policy)(take(in) % 8);
    s->size = 4096 * (1 + (uint64_t)(take(in) % 16));
    s->used_bytes = take(in);
    s->live_blocks = take(in);
    s->external_frag = take(in) / 255.0;
    s->max_order = take(in);
    s->n_free_by_order = take(in) % 64; /* past ARENAD_ORDER_MAX + 1 too */
    for (size_t i = 0; i < s->n_free_by_order; i++)
      B.orders[i] = i;
    s->free_by_order = B.orders;
    s->access = access_of(in);
    s->detached_blocks = take(in);
    B.inspect.summary = s;
  }
  uint64_t size = B.inspect.summary != NULL ? s->size : 0;
  switch (take(in) % 4) {
  case 0:
    B.inspect.next_cursor = size;
    break;
  case 1:
    B.inspect.next_cursor = cursor + 16 * (1 + (uint64_t)take(in));
    break;
  case 2:
    B.inspect.next_cursor = cursor;
    break;
  default:
    B.inspect.next_cursor = take_u64(in);
  }
  B.inspect.n_extents = take(in) % 4;
  for (size_t i = 0; i < B.inspect.n_extents; i++) {
    Arenad__Extent *e = &B.ext[i];
    *e = (Arenad__Extent)ARENAD__EXTENT__INIT;
    e->start = offset_of(in);
    e->size = offset_of(in);
    uint8_t f = take(in);
    e->free = f & 1;
    e->detached = (f & 2) != 0;
    e->payload = e->start + 16;
    e->n = take(in);
    e->refcount = take(in);
    e->holders_omitted = take(in) % 4;
    e->n_holders = take(in) % 3;
    for (size_t j = 0; j < e->n_holders; j++) {
      Arenad__Holder *h = &B.holders[i][j];
      *h = (Arenad__Holder)ARENAD__HOLDER__INIT;
      h->connection_id = take(in);
      h->pid = take(in);
      h->client_name = text(in);
      h->references = take(in);
      B.holder_ptrs[i][j] = h;
    }
    e->holders = B.holder_ptrs[i];
    B.ext_ptrs[i] = e;
  }
  B.inspect.extents = B.ext_ptrs;
  B.r.inspect = &B.inspect;
}

static void body_check(in_t *in) {
  B.check = (Arenad__CheckReply)ARENAD__CHECK_REPLY__INIT;
  B.check.ok = !(take(in) & 1);
  B.check.invariant = text(in);
  B.check.offset = offset_of(in);
  B.check.detail = text(in);
  if (!B.check.ok)
    B.r.status = ARENAD__STATUS__STATUS_CORRUPTION_DETECTED;
  B.r.check = &B.check;
}

/* Mostly the count asked for, sometimes one or two off. */
static size_t count_of(in_t *in, uint32_t want, size_t max) {
  uint8_t b = take(in);
  size_t n = want;
  if (b >= 0xf0)
    n = (size_t)want + (b & 3) >= 2 ? (size_t)want + (b & 3) - 2 : 0;
  return n < max ? n : max;
}

static void body_alloc(in_t *in, uint32_t count) {
  B.alloc = (Arenad__AllocReply)ARENAD__ALLOC_REPLY__INIT;
  B.alloc.n_offsets = count_of(in, count, MAX_OFFSETS + 4);
  for (size_t i = 0; i < B.alloc.n_offsets; i++)
    B.offsets[i] = offset_of(in);
  B.alloc.offsets = B.offsets;
  B.r.alloc = &B.alloc;
}

/* A free reply: no statuses, or mostly one per offset; the overwritten
 * headers' indices, mostly increasing; the envelope's status the first
 * failure's, as the daemon sends it. */
static void body_free(in_t *in, uint32_t count) {
  B.free = (Arenad__FreeReply)ARENAD__FREE_REPLY__INIT;
  B.free.freed = take(in);
  B.free.reclaimed = take(in);
  if (take(in) & 1) {
    B.free.n_statuses = count_of(in, count, MAX_OFFSETS + 1);
    for (size_t i = 0; i < B.free.n_statuses; i++) {
      uint8_t s = take(in);
      B.statuses[i] = (s & 3) ? ARENAD__STATUS__STATUS_OK
                              : (Arenad__Status)(1 + (s >> 2) % 8);
      if (B.r.status == ARENAD__STATUS__STATUS_OK)
        B.r.status = B.statuses[i];
    }
    B.free.statuses = B.statuses;
  }
  B.free.n_overwritten = take(in) % 5;
  uint32_t at = 0;
  for (size_t i = 0; i < B.free.n_overwritten; i++) {
    at += take(in) % 3;
    B.overwritten[i] = at++;
  }
  B.free.overwritten = B.overwritten;
  B.r.free = &B.free;
}

static void body_stats(in_t *in) {
  B.stats = (Arenad__StatsReply)ARENAD__STATS_REPLY__INIT;
  B.stats.daemon_version = text(in);
  B.stats.uptime_ms = take_u64(in);
  B.stats.arenas = take(in);
  B.stats.frames_in = take(in);
  uint8_t b = take(in);
  if (b & 1) {
    B.counts = (Arenad__RequestCounts)ARENAD__REQUEST_COUNTS__INIT;
    B.counts.alloc = take(in);
    B.stats.requests = &B.counts;
  }
  if (b & 2) {
    B.errors = (Arenad__StatusCounts)ARENAD__STATUS_COUNTS__INIT;
    B.errors.internal = take(in);
    B.stats.errors = &B.errors;
  }
  B.r.stats = &B.stats;
}

/* Sets B.r's body for a request of kind t->kind, its fields read from
 * the input; seg: the segment passed with an attach reply. */
static void make_body(in_t *in, const target_t *t, uint64_t seg) {
  B.r.body_case = (Arenad__Response__BodyCase)t->kind;
  switch (t->kind) {
  case ARENAD__RESPONSE__BODY_HELLO:
    body_hello(in);
    break;
  case ARENAD__RESPONSE__BODY_LIST:
    body_list(in);
    break;
  case ARENAD__RESPONSE__BODY_ATTACH:
    body_attach(in, seg);
    break;
  case ARENAD__RESPONSE__BODY_INSPECT:
    body_inspect(in, t->cursor);
    break;
  case ARENAD__RESPONSE__BODY_CHECK:
    body_check(in);
    break;
  case ARENAD__RESPONSE__BODY_ALLOC:
    body_alloc(in, t->count);
    break;
  case ARENAD__RESPONSE__BODY_FREE:
    body_free(in, t->count);
    break;
  case ARENAD__RESPONSE__BODY_RETAIN:
    B.retain = (Arenad__RetainReply)ARENAD__RETAIN_REPLY__INIT;
    B.retain.refcount = take(in);
    B.r.retain = &B.retain;
    break;
  case ARENAD__RESPONSE__BODY_RELEASE:
    B.release = (Arenad__ReleaseReply)ARENAD__RELEASE_REPLY__INIT;
    B.release.refcount = take(in) % 4;
    B.release.overwritten = take(in) & 1;
    B.r.release = &B.release;
    break;
  case ARENAD__RESPONSE__BODY_TRANSFER:
    B.transfer = (Arenad__TransferReply)ARENAD__TRANSFER_REPLY__INIT;
    B.transfer.target_connection_id = take(in);
    B.transfer.refcount = take(in);
    B.r.transfer = &B.transfer;
    break;
  case ARENAD__RESPONSE__BODY_CREATE_ARENA:
    B.create = (Arenad__CreateArenaReply)ARENAD__CREATE_ARENA_REPLY__INIT;
    if (take(in) != 0xff) {
      info_of(&B.created, in);
      B.create.arena = &B.created;
    }
    B.r.create_arena = &B.create;
    break;
  case ARENAD__RESPONSE__BODY_DESTROY_ARENA:
    B.destroy = (Arenad__DestroyArenaReply)ARENAD__DESTROY_ARENA_REPLY__INIT;
    B.destroy.blocks_freed = take(in);
    B.destroy.bytes_freed = take(in);
    B.destroy.attached_connections = take(in);
    B.r.destroy_arena = &B.destroy;
    break;
  case ARENAD__RESPONSE__BODY_STATS:
    body_stats(in);
    break;
  default:
    B.ping = (Arenad__PingReply)ARENAD__PING_REPLY__INIT;
    B.r.body_case = ARENAD__RESPONSE__BODY_PING;
    B.r.ping = &B.ping;
  }
}

/* Packs B.r as one frame and writes it `times` times. */
static void send_response(run_t *r, const int *fds, size_t nfds, int times) {
  size_t len = arenad__response__get_packed_size(&B.r);
  uint8_t *buf = malloc(len + AR_FRAME_PREFIX_MAX);
  CHECK(buf != NULL, "no memory");
  size_t p = ar_frame_encode(buf, len);
  arenad__response__pack(&B.r, buf + p);
  for (int i = 0; i < times; i++)
    daemon_write(r, buf, p + len, i == 0 ? fds : NULL, i == 0 ? nfds : 0);
  free(buf);
}

/* ---- The script ---------------------------------------------------------- */

/* One step's call and its arguments, decoded from its three bytes. */
typedef struct call_s {
  int call;
  uint8_t a[3];
  int name;       /* index into names[] */
  uint32_t count; /* blocks of an alloc, offsets of a free */
  uint64_t size, align, cursor, tag;
  uint64_t offs[MAX_OFFSETS];
} call_t;

static uint64_t size_of(uint8_t b) {
  if (b == 0)
    return 0;
  if (b < 0xf8)
    return 8 * (uint64_t)b;
  return (uint64_t)4096 << (b - 0xf8);
}

static uint64_t align_of(uint8_t b) {
  static const uint64_t aligns[8] = {0, 16, 32, 64, 4096, 8, 24, 8192};
  return aligns[b & 7];
}

static void decode_call(const run_t *r, in_t *in, call_t *c) {
  memset(c, 0, sizeof *c);
  c->call = take(in) % FC_CALLS;
  for (int i = 0; i < 3; i++)
    c->a[i] = take(in);
  c->name = (c->a[0] & 3) % NAMES; /* the other bits: a count, ... */
  c->size = size_of(c->a[1]);
  c->align = align_of(c->a[2]);
  c->tag = c->a[2];
  c->cursor = c->a[1] < 0xf0 ? 16 * (uint64_t)c->a[1] : UINT64_MAX - c->a[1];
  switch (c->call) {
  case FC_ALLOC:
  case FC_FREE:
  case FC_RETAIN:
  case FC_RELEASE:
  case FC_TRANSFER:
    c->count = 1;
    break;
  case FC_ALLOC_N:
    c->count = 1 + (c->a[0] >> 2) % MAX_OFFSETS;
    break;
  case FC_SUBMIT_ALLOC:
    c->count = (c->a[0] >> 2) % 5; /* 0 means one block */
    break;
  case FC_FREE_N:
  case FC_FREE_EACH:
  case FC_FREE_REPORT:
  case FC_SUBMIT_FREE:
    c->count = 1 + (c->a[0] >> 2) % MAX_OFFSETS;
    break;
  }
  /* Offsets to free or share: ones the daemon gave, or made up. */
  for (uint32_t i = 0; i < MAX_OFFSETS; i++)
    c->offs[i] = (c->a[1] & 0x80) ? 16 * (uint64_t)(c->a[1] + i)
                                  : pool_pick(r, c->a[1] + i);
}

/* The Response body case of the request a call sends. */
static int kind_of(int call) {
  switch (call) {
  case FC_HELLO:
    return ARENAD__RESPONSE__BODY_HELLO;
  case FC_LIST:
    return ARENAD__RESPONSE__BODY_LIST;
  case FC_ATTACH:
    return ARENAD__RESPONSE__BODY_ATTACH;
  case FC_ALLOC:
  case FC_ALLOC_N:
  case FC_SUBMIT_ALLOC:
    return ARENAD__RESPONSE__BODY_ALLOC;
  case FC_FREE:
  case FC_FREE_N:
  case FC_FREE_EACH:
  case FC_FREE_REPORT:
  case FC_SUBMIT_FREE:
    return ARENAD__RESPONSE__BODY_FREE;
  case FC_RETAIN:
    return ARENAD__RESPONSE__BODY_RETAIN;
  case FC_RELEASE:
    return ARENAD__RESPONSE__BODY_RELEASE;
  case FC_TRANSFER:
    return ARENAD__RESPONSE__BODY_TRANSFER;
  case FC_INSPECT:
    return ARENAD__RESPONSE__BODY_INSPECT;
  case FC_CHECK:
    return ARENAD__RESPONSE__BODY_CHECK;
  case FC_STATS:
    return ARENAD__RESPONSE__BODY_STATS;
  case FC_CREATE:
    return ARENAD__RESPONSE__BODY_CREATE_ARENA;
  case FC_DESTROY:
    return ARENAD__RESPONSE__BODY_DESTROY_ARENA;
  default:
    return ARENAD__RESPONSE__BODY_PING;
  }
}

static int kind_of_op(arenad_op_t op) {
  return op == ARENAD_OP_ALLOC  ? ARENAD__RESPONSE__BODY_ALLOC
         : op == ARENAD_OP_FREE ? ARENAD__RESPONSE__BODY_FREE
                                : ARENAD__RESPONSE__BODY_PING;
}

/* The request the daemon answers next: the oldest in flight it has not
 * answered, else the one this step is about to send (or a later one). */
static target_t next_target(run_t *r, const call_t *c) {
  uint64_t low = r->len > 0 ? fifo_at(r, 0)->id : r->next_id;
  if (r->reply_id < low)
    r->reply_id = low;
  target_t t = {.id = r->reply_id++,
                .kind = kind_of(c->call),
                .count = c->count ? c->count : 1,
                .cursor = c->cursor};
  if (r->len > 0 && t.id - low < r->len) {
    const pend_t *p = fifo_at(r, t.id - low);
    t.kind = kind_of_op(p->op);
    t.count = p->count;
  }
  return t;
}

/* Writes one reply of the mode in spec (see fuzz_client.h). */
static void write_reply(run_t *r, in_t *in, uint8_t spec, const call_t *c) {
  int mode = spec & 7;
  if (mode == FC_REPLY_NONE)
    return;
  if (mode == FC_REPLY_EOF) {
    daemon_end(r, (spec & FC_REPLY_FDS) ? SHUT_RDWR : SHUT_WR);
    return;
  }
  /* The reply's own bytes: raw ones, or the fields of one built. */
  size_t n = take(in);
  if (n > in->n - in->at)
    n = in->n - in->at;
  in_t f = {.p = in->p + in->at, .n = n};
  in->at += n;

  target_t t = {0};
  bool built = mode == FC_REPLY_OK || mode == FC_REPLY_STATUS ||
               mode == FC_REPLY_TWISTED;
  if (built)
    t = next_target(r, c);

  /* Descriptors: the harness's copies are closed once sent. */
  int fds[SEGMENT_FDS];
  size_t nfds = 0;
  uint64_t seg = 4096;
  bool attach = built && t.kind == ARENAD__RESPONSE__BODY_ATTACH;
  if (attach || (spec & FC_REPLY_FDS)) {
    uint8_t b = take(&f);
    seg = 4096 * (1 + (uint64_t)((b >> 2) & 15));
    size_t want = attach && !(spec & FC_REPLY_FDS) ? ((b & 3) + 1) % 4
                                                   : 1 + (size_t)(b & 3);
    if (b & 0x40)
      want += 2;
    while (nfds < want && (fds[nfds] = make_segment(seg)) >= 0)
      nfds++;
  }

  memset(&B, 0, sizeof B);
  B.r = (Arenad__Response)ARENAD__RESPONSE__INIT;
  switch (mode) {
  case FC_REPLY_RAW:
  case FC_REPLY_FRAMED: {
    uint8_t buf[AR_FRAME_PREFIX_MAX + 256];
    size_t len = f.n - f.at;
    size_t p = mode == FC_REPLY_FRAMED ? ar_frame_encode(buf, len) : 0;
    memcpy(buf + p, f.p + f.at, len);
    daemon_write(r, buf, p + len, fds, nfds);
    break;
  }
  case FC_REPLY_LAST_WORD:
    B.r.status = (Arenad__Status)(1 + take(&f) % 9);
    B.r.message = text(&f);
    send_response(r, fds, nfds, 1);
    break;
  default: {
    /* The status or the twist comes first, at a fixed place. */
    uint8_t s = mode != FC_REPLY_OK ? take(&f) : 0;
    char *message = mode == FC_REPLY_STATUS ? text(&f) : NULL;
    B.r.id = t.id;
    make_body(&f, &t, seg);
    int times = 1;
    if (mode == FC_REPLY_STATUS) {
      B.r.status = (Arenad__Status)(1 + (s & 0x7f) % 9);
      B.r.message = message;
      if (!(s & 0x80))
        B.r.body_case = ARENAD__RESPONSE__BODY__NOT_SET;
    } else if (mode == FC_REPLY_TWISTED) {
      switch (s % 6) {
      case 0:
        B.r.id++;
        break;
      case 1:
        B.r.id--;
        break;
      case 2:
        B.r.id = 0;
        break;
      case 3: /* another kind's body */
        if (B.r.body_case != ARENAD__RESPONSE__BODY_PING) {
          B.ping = (Arenad__PingReply)ARENAD__PING_REPLY__INIT;
          B.r.body_case = ARENAD__RESPONSE__BODY_PING;
          B.r.ping = &B.ping;
        } else {
          B.alloc = (Arenad__AllocReply)ARENAD__ALLOC_REPLY__INIT;
          B.r.body_case = ARENAD__RESPONSE__BODY_ALLOC;
          B.r.alloc = &B.alloc;
        }
        break;
      case 4:
        B.r.body_case = ARENAD__RESPONSE__BODY__NOT_SET;
        break;
      default:
        times = 2;
      }
    }
    send_response(r, fds, nfds, times);
  }
  }
  for (size_t i = 0; i < nfds; i++)
    close(fds[i]);
}

/* ---- Checks -------------------------------------------------------------- */

/* Whether the page at p is no longer mapped. */
static bool unmapped(const void *p) {
  unsigned char v;
  return mincore((void *)p, 1, &v) < 0 && errno == ENOMEM;
}

/* Reads (and, when writable, writes back) the first and last byte of
 * [p, p + n): a pointer past what the caller may use faults here. */
static void touch(uint8_t *p, uint64_t n, bool read_only) {
  if (n == 0)
    return;
  volatile uint8_t *v = p;
  uint8_t first = v[0], last = v[n - 1];
  if (!read_only) {
    v[0] = first;
    v[n - 1] = last;
  }
}

/* A block the library handed out: inside the arena's mapping when it is
 * attached (map_size: the mapping's size then; 0: not attached). */
static void check_block(run_t *r, int name, uint64_t off, uint64_t size,
                        uint64_t map_size) {
  if (map_size != 0)
    CHECK(off < map_size && size <= map_size - off,
          "a block of %llu bytes at %llu in %s, mapped with %llu bytes",
          (unsigned long long)size, (unsigned long long)off, names[name],
          (unsigned long long)map_size);
  const map_t *m = &r->maps[name];
  if (m->on && m->size == map_size)
    touch(m->base + off, size, m->read_only);
  pool_add(r, off);
}

static bool ends_in(const char *s, size_t size) {
  return memchr(s, '\0', size) != NULL;
}

static bool is_policy(arenad_policy_t p) {
  return (unsigned)p <= ARENAD_POLICY_UNKNOWN;
}

/* A per-offset status: 0 or a code. */
static bool is_code(int st) { return st <= 0 && st >= AR_EPROTO; }

/* ---- The calls ----------------------------------------------------------- */

/* Whether the call waits for a reply (as far as the harness can tell:
 * one that may not is guarded all the same). */
static bool reads_reply(const run_t *r, const call_t *c) {
  if (r->broken)
    return false;
  switch (c->call) {
  case FC_DETACH:
  case FC_SUBMIT_PING:
  case FC_SUBMIT_ALLOC:
  case FC_SUBMIT_FREE:
  case FC_FLUSH:
    return false;
  case FC_COLLECT:
    return r->len > 0;
  case FC_ATTACH:
    if (r->maps[c->name].on)
      return false;
    return r->len == 0;
  default:
    return r->len == 0;
  }
}

static bool is_blocking(int call) {
  return call != FC_DETACH && call != FC_SUBMIT_PING &&
         call != FC_SUBMIT_ALLOC && call != FC_SUBMIT_FREE &&
         call != FC_FLUSH && call != FC_COLLECT;
}

static void submitted(run_t *r, int rc, arenad_op_t op, const call_t *c,
                      uint32_t count) {
  if (rc != 0)
    return;
  CHECK(r->len < FIFO, "more in flight than the harness follows");
  pend_t *p = fifo_at(r, r->len++);
  *p = (pend_t){.id = r->next_id++,
                .tag = c->tag,
                .op = op,
                .name = c->name,
                .count = count};
  if (op == ARENAD_OP_ALLOC) {
    p->size = c->size;
    p->map_size = r->maps[c->name].on ? r->maps[c->name].size : 0;
  }
  CHECK(arenad_in_flight(r->h) <= arenad_window(r->h),
        "%zu requests in flight, the window is %zu", arenad_in_flight(r->h),
        arenad_window(r->h));
}

static void do_hello(run_t *r, const call_t *c, int *rc) {
  static const char *const who[3] = {"fuzz", "", NULL};
  arenad_hello_t hi; /* always asked for: the harness needs the limit */
  memset(&hi, 'x', sizeof hi);
  *rc = arenad_hello(r->h, who[c->a[0] % 3], &hi);
  if (*rc == 0 || *rc == AR_EVERSION)
    CHECK(ends_in(hi.daemon_version, sizeof hi.daemon_version),
          "hello: daemon_version is not a string");
  if (*rc != 0)
    return;
  /* The limit the library reads replies by from now on (arenad.h). */
  r->max_frame = hi.max_frame_bytes == 0 ? AR_FRAME_MAX_DEFAULT
                 : hi.max_frame_bytes > ARENAD_FRAME_MAX_CLIENT
                     ? ARENAD_FRAME_MAX_CLIENT
                     : hi.max_frame_bytes;
  size_t want = hi.max_in_flight ? hi.max_in_flight : ARENAD_WINDOW_DEFAULT;
  size_t window = arenad_window(r->h);
  CHECK(window > 0 && (want <= 1024 ? window == want : window <= want),
        "hello: window %zu, max_in_flight %u", window, hi.max_in_flight);
}

static void do_list(run_t *r, int *rc) {
  arenad_arena_t *a = (arenad_arena_t *)&r; /* must be replaced */
  size_t n = 99;
  *rc = arenad_list(r->h, &a, &n);
  if (*rc < 0) {
    CHECK(a == NULL && n == 0, "list: a result after an error");
    return;
  }
  CHECK((a == NULL) == (n == 0), "list: %zu arenas in %p", n, (void *)a);
  for (size_t i = 0; i < n; i++)
    CHECK(strlen(a[i].name) < 4096 && is_policy(a[i].policy), "list: arena %zu",
          i);
  arenad_list_destroy(a);
}

static void do_attach(run_t *r, const call_t *c, int *rc) {
  map_t *m = &r->maps[c->name];
  unsigned flags = (c->a[1] & 1) ? ARENAD_ATTACH_READ_ONLY : 0;
  arenad_map_t out;
  memset(&out, 0, sizeof out);
  *rc = arenad_attach(r->h, names[c->name], flags, &out);
  if (*rc < 0)
    return;
  CHECK(out.base != NULL && out.size > 0 && is_policy(out.policy),
        "attach: a mapping of %llu bytes at %p", (unsigned long long)out.size,
        out.base);
  if (m->on) { /* the mapping it has, as it is (read-only asked or not) */
    CHECK(out.base == m->base && out.size == m->size &&
              out.read_only == m->read_only,
          "attach: another mapping of %s", names[c->name]);
    return;
  }
  CHECK(!flags || out.read_only, "attach: read-only asked, writable given");
  *m = (map_t){.on = true,
               .base = out.base,
               .size = out.size,
               .read_only = out.read_only};
  touch(m->base, m->size, m->read_only);
}

static void do_detach(run_t *r, const call_t *c, int *rc) {
  map_t *m = &r->maps[c->name];
  *rc = arenad_detach(r->h, names[c->name]);
  if (!m->on) {
    CHECK(*rc == AR_ENOENT, "detach of %s, not attached: %d", names[c->name],
          *rc);
    return;
  }
  CHECK(*rc == 0, "detach of %s: %d", names[c->name], *rc);
  CHECK(unmapped(m->base), "detach left %s mapped", names[c->name]);
  m->on = false;
}

static void do_alloc(run_t *r, const call_t *c, int *rc) {
  const map_t *m = &r->maps[c->name];
  uint64_t off = 0;
  void *p = &off; /* must be replaced */
  bool want_ptr = !(c->a[2] & 0x40);
  unsigned flags = (c->a[2] & 0x80) ? ARENAD_ALLOC_DETACHED : 0;
  *rc = arenad_alloc(r->h, names[c->name], c->size, c->align, flags, &off,
                     want_ptr ? &p : NULL);
  if (*rc < 0) {
    CHECK(!want_ptr || p == NULL, "alloc: a pointer after an error");
    return;
  }
  if (want_ptr)
    CHECK(p == (m->on ? m->base + off : NULL), "alloc: pointer %p for %llu", p,
          (unsigned long long)off);
  check_block(r, c->name, off, c->size, m->on ? m->size : 0);
}

static void do_alloc_n(run_t *r, const call_t *c, int *rc) {
  const map_t *m = &r->maps[c->name];
  uint64_t offs[MAX_OFFSETS];
  *rc = arenad_alloc_n(r->h, names[c->name], c->size, c->align, c->count, 0,
                       offs);
  for (uint32_t i = 0; *rc == 0 && i < c->count; i++)
    check_block(r, c->name, offs[i], c->size, m->on ? m->size : 0);
}

/* The frees of several offsets. Statuses start as 1, which no call may
 * leave. */
static void do_free_many(run_t *r, const call_t *c, int *rc) {
  size_t n = c->count;
  int st[MAX_OFFSETS];
  uint64_t ow[MAX_OFFSETS];
  size_t now = 99;
  for (size_t i = 0; i < n; i++)
    st[i] = 1;
  bool with_st = c->call == FC_FREE_REPORT || !(c->a[2] & 1);
  bool with_ow = !(c->a[2] & 2);
  const char *name = names[c->name];
  if (c->call == FC_FREE_N)
    *rc = arenad_free_n(r->h, name, c->offs, n, with_st ? st : NULL);
  else if (c->call == FC_FREE_EACH)
    *rc = arenad_free_each(r->h, name, c->offs, n, with_st ? st : NULL);
  else
    *rc = arenad_free_report(r->h, name, c->offs, n, st, with_ow ? ow : NULL,
                             &now);
  if (!with_st)
    return;
  bool all_rc = true;
  int first = 0;
  for (size_t i = 0; i < n; i++) {
    CHECK(is_code(st[i]), "free: status %d for offset %zu", st[i], i);
    all_rc = all_rc && st[i] == *rc;
    if (first == 0)
      first = st[i];
  }
  if (c->call == FC_FREE_N)
    /* 0 when all succeeded, else the first failure's code, or the
     * request's, which is then every offset's */
    CHECK(*rc == 0 ? first == 0 : all_rc || first == *rc,
          "free_n: returned %d, first failure %d", *rc, first);
  else if (*rc < 0)
    CHECK(all_rc, "free_each: returned %d, not every offset's status", *rc);
  if (c->call != FC_FREE_REPORT)
    return;
  if (*rc < 0) {
    CHECK(now == 0, "free_report: failed as a whole, %zu overwritten", now);
    return;
  }
  /* The overwritten offsets: among the offsets, in their order, each of
   * one whose free succeeded. */
  CHECK(now <= n, "free_report: %zu overwritten of %zu", now, n);
  size_t j = 0;
  for (size_t i = 0; with_ow && i < now; i++, j++) {
    while (j < n && (c->offs[j] != ow[i] || st[j] != 0))
      j++;
    CHECK(j < n,
          "free_report: overwritten %zu (offset %llu) is not one "
          "freed, in order",
          i, (unsigned long long)ow[i]);
  }
}

static void do_release(run_t *r, const call_t *c, int *rc) {
  uint32_t left = 12345;
  bool ow = true;
  if (c->a[2] & 1) {
    *rc = arenad_release(r->h, names[c->name], c->offs[0], &left);
    return;
  }
  *rc = arenad_release_report(r->h, names[c->name], c->offs[0], &left, &ow);
  if (*rc < 0)
    CHECK(!ow, "release_report: overwritten after an error");
  else
    CHECK(!ow || left == 0, "release_report: overwritten, %u references left",
          left);
}

static void do_inspect(run_t *r, const call_t *c, int *rc) {
  arenad_page_t *pg = (arenad_page_t *)&r; /* must be replaced */
  arenad_inspect_what_t what = (arenad_inspect_what_t)((c->a[0] >> 2) % 4);
  *rc = arenad_inspect(r->h, names[c->name], what, c->cursor, c->a[2], &pg);
  if (*rc < 0) {
    CHECK(pg == NULL, "inspect: a page after an error");
    return;
  }
  CHECK(pg != NULL, "inspect: no page");
  const arenad_summary_t *s = &pg->summary;
  CHECK(pg->next_cursor <= s->size &&
            (pg->next_cursor > c->cursor || pg->next_cursor == s->size),
        "inspect: cursor %llu leads to %llu of %llu",
        (unsigned long long)c->cursor, (unsigned long long)pg->next_cursor,
        (unsigned long long)s->size);
  CHECK(s->n_orders <= ARENAD_ORDER_MAX + 1 && is_policy(s->policy) &&
            strlen(s->name) < 4096,
        "inspect: the summary");
  CHECK(pg->n_extents == 0 || pg->extents != NULL, "inspect: no extents");
  for (size_t i = 0; i < pg->n_extents; i++) {
    const arenad_extent_t *e = &pg->extents[i];
    CHECK(e->n_holders == 0 || e->holders != NULL, "inspect: no holders");
    for (size_t j = 0; j < e->n_holders; j++)
      CHECK(strlen(e->holders[j].client_name) < 4096, "inspect: a holder");
  }
  arenad_page_destroy(pg);
}

static void do_check(run_t *r, const call_t *c, int *rc) {
  arenad_check_t out;
  memset(&out, 0, sizeof out);
  memset(out.invariant, 'x', sizeof out.invariant);
  memset(out.detail, 'x', sizeof out.detail);
  bool want = !(c->a[1] & 1);
  *rc = arenad_check(r->h, names[c->name], want ? &out : NULL);
  if (!want)
    return;
  CHECK(out.ok == (*rc == 0), "check: ok %d, returned %d", out.ok, *rc);
  CHECK(ends_in(out.invariant, sizeof out.invariant) &&
            ends_in(out.detail, sizeof out.detail),
        "check: a string without its end");
}

static void do_stats(run_t *r, int *rc) {
  arenad_stat_t *s = (arenad_stat_t *)&r; /* must be replaced */
  size_t n = 99;
  *rc = arenad_stats(r->h, &s, &n);
  if (*rc < 0) {
    CHECK(s == NULL && n == 0, "stats: a result after an error");
    return;
  }
  CHECK(n == 0 || s != NULL, "stats: %zu in NULL", n);
  for (size_t i = 0; i < n; i++) {
    CHECK(strlen(s[i].name) < 4096 && (unsigned)s[i].type <= 2,
          "stats: figure %zu", i);
    if (s[i].type == ARENAD_STAT_STRING)
      CHECK(strlen(s[i].s) < 4096, "stats: figure %zu", i);
  }
  arenad_stats_destroy(s);
}

static void do_create(run_t *r, const call_t *c, int *rc) {
  arenad_access_t acc = {.mode = 0640, .owner_uid = c->a[2]};
  arenad_arena_spec_t spec = {
      .size = 4096 * (uint64_t)(1 + c->a[1] % 16),
      .policy = (arenad_policy_t)((c->a[1] >> 4) % ARENAD_POLICY_UNKNOWN),
      .access = (c->a[2] & 1) ? &acc : NULL,
      .quota_bytes = c->a[2] & 2 ? 8192 : 0,
      .quota_blocks = c->a[2] & 4 ? 3 : 0};
  bool want = !(c->a[2] & 8);
  arenad_arena_t *a = (arenad_arena_t *)&r; /* must be replaced */
  *rc = arenad_create_arena(r->h, names[c->name], &spec, want ? &a : NULL);
  if (!want)
    return;
  if (*rc < 0) {
    CHECK(a == NULL, "create_arena: an arena after an error");
    return;
  }
  CHECK(a != NULL && strlen(a->name) < 4096 && is_policy(a->policy),
        "create_arena: the arena");
  arenad_list_destroy(a);
}

static void do_collect(run_t *r, int *rc) {
  arenad_result_t res;
  memset(&res, 0, sizeof res);
  *rc = arenad_collect(r->h, &res);
  const uint32_t *idx = (const uint32_t *)&res; /* must be replaced */
  size_t nidx = arenad_collect_overwritten(r->h, &idx);
  if (*rc < 0) {
    CHECK(nidx == 0 && idx == NULL,
          "collect_overwritten: %zu after a collect that failed (%d)", nidx,
          *rc);
    CHECK(*rc != AR_EINVAL || r->len == 0, "collect: EINVAL with %zu in flight",
          r->len);
    return;
  }
  CHECK(r->len > 0, "collect: a result with nothing in flight");
  pend_t p = *fifo_at(r, 0);
  r->head = (r->head + 1) % FIFO;
  r->len--;
  CHECK(res.op == p.op && res.tag == p.tag,
        "collect: op %d tag %llu for op %d tag %llu", res.op,
        (unsigned long long)res.tag, p.op, (unsigned long long)p.tag);
  CHECK(is_code(res.status) && res.status >= AR_EINTERNAL, "collect: status %d",
        res.status);
  if (p.op == ARENAD_OP_ALLOC && res.status == 0) {
    CHECK(res.n_offsets == p.count && res.offsets != NULL,
          "collect: %zu offsets for %u blocks", res.n_offsets, p.count);
    for (size_t i = 0; i < res.n_offsets; i++)
      check_block(r, p.name, res.offsets[i], p.size, p.map_size);
  } else {
    CHECK(res.n_offsets == 0, "collect: %zu offsets", res.n_offsets);
  }
  if (p.op != ARENAD_OP_FREE) {
    CHECK(nidx == 0 && idx == NULL, "collect_overwritten: %zu after op %d",
          nidx, p.op);
    return;
  }
  CHECK(nidx <= p.count && (nidx == 0) == (idx == NULL),
        "collect_overwritten: %zu of %u", nidx, p.count);
  for (size_t i = 0; i < nidx; i++)
    CHECK(idx[i] < p.count && (i == 0 || idx[i] > idx[i - 1]),
          "collect_overwritten: index %u of %u at %zu", idx[i], p.count, i);
}

/* Makes the call; *rc: what it returned. */
static void call(run_t *r, const call_t *c, int *rc) {
  arenad_t *h = r->h;
  const char *name = names[c->name];
  *rc = 0;
  switch (c->call) {
  case FC_HELLO:
    do_hello(r, c, rc);
    break;
  case FC_PING:
    *rc = arenad_ping(h);
    break;
  case FC_LIST:
    do_list(r, rc);
    break;
  case FC_ATTACH:
    do_attach(r, c, rc);
    break;
  case FC_DETACH:
    do_detach(r, c, rc);
    break;
  case FC_ALLOC:
    do_alloc(r, c, rc);
    break;
  case FC_ALLOC_N:
    do_alloc_n(r, c, rc);
    break;
  case FC_FREE:
    *rc = arenad_free(h, name, c->offs[0]);
    break;
  case FC_FREE_N:
  case FC_FREE_EACH:
  case FC_FREE_REPORT:
    do_free_many(r, c, rc);
    break;
  case FC_RETAIN: {
    uint32_t refs;
    *rc = arenad_retain(h, name, c->offs[0], (c->a[2] & 1) ? NULL : &refs);
    break;
  }
  case FC_RELEASE:
    do_release(r, c, rc);
    break;
  case FC_TRANSFER: {
    arenad_transfer_t out;
    *rc = arenad_transfer(h, name, c->offs[0], c->a[2],
                          (c->a[2] & 1) ? NULL : &out);
    break;
  }
  case FC_INSPECT:
    do_inspect(r, c, rc);
    break;
  case FC_CHECK:
    do_check(r, c, rc);
    break;
  case FC_STATS:
    do_stats(r, rc);
    break;
  case FC_CREATE:
    do_create(r, c, rc);
    break;
  case FC_DESTROY: {
    arenad_destroyed_t out;
    *rc =
        arenad_destroy_arena(h, name, c->a[1] & 1, (c->a[1] & 2) ? NULL : &out);
    break;
  }
  case FC_SUBMIT_PING:
    if (r->len == FIFO)
      return;
    *rc = arenad_submit_ping(h, c->tag);
    submitted(r, *rc, ARENAD_OP_PING, c, 0);
    break;
  case FC_SUBMIT_ALLOC:
    if (r->len == FIFO)
      return;
    *rc = arenad_submit_alloc(h, name, c->size, c->align, c->count, 0, c->tag);
    submitted(r, *rc, ARENAD_OP_ALLOC, c, c->count ? c->count : 1);
    break;
  case FC_SUBMIT_FREE:
    if (r->len == FIFO)
      return;
    *rc = arenad_submit_free(h, name, c->offs, c->count, c->tag);
    submitted(r, *rc, ARENAD_OP_FREE, c, c->count);
    break;
  case FC_FLUSH:
    *rc = arenad_flush(h);
    break;
  default:
    do_collect(r, rc);
  }
}

/* What holds after every call, whatever it was; limit: the library's limit
 * on a reply before the call. */
static void after(run_t *r, const call_t *c, int rc, size_t sent,
                  uint64_t limit) {
  arenad_t *h = r->h;
  if (trace)
    fprintf(stderr, "%s(%s) = %s (%s); %zu sent, stream %zu of %zu%s\n",
            call_names[c->call], names[c->name], ar_err_name(rc),
            arenad_error(h), sent, r->consumed, r->stream_len,
            r->ended ? ", ended" : "");
  if (c->call != FC_DETACH) {
    if (r->broken)
      CHECK(rc == AR_EIO, "call %d on a broken handle returned %d", c->call,
            rc);
    else if (rc == AR_EPROTO || rc == AR_EIO ||
             (c->call == FC_HELLO && rc == AR_EVERSION)) {
      r->broken = true;
      snprintf(r->err, sizeof r->err, "%s", arenad_error(h));
      r->len = 0;
    }
  }
  const char *err = arenad_error(h);
  CHECK(err != NULL && strlen(err) < sizeof r->err, "arenad_error");
  if (r->broken) {
    CHECK(arenad_in_flight(h) == 0, "%zu in flight on a broken handle",
          arenad_in_flight(h));
    CHECK(strcmp(err, r->err) == 0, "the first error \"%s\" became \"%s\"",
          r->err, err);
  } else {
    CHECK(arenad_in_flight(h) == r->len, "%zu in flight, %zu submitted",
          arenad_in_flight(h), r->len);
    if (c->call == FC_COLLECT ? rc == 0 : is_blocking(c->call) && sent > 0)
      took_reply(r, limit);
  }
  for (int i = 0; i < NAMES; i++) {
    const map_t *m = &r->maps[i];
    uint8_t *p0 = arenad_ptr(h, names[i], 0);
    uint8_t *pl = arenad_ptr(h, names[i], m->size - 1);
    uint8_t *pn = arenad_ptr(h, names[i], m->size);
    CHECK(m->on ? p0 == m->base && pl == m->base + m->size - 1 && pn == NULL
                : p0 == NULL,
          "arenad_ptr in %s", names[i]);
  }
}

/* Open descriptors of this process. */
static int count_fds(void) {
  DIR *d = opendir("/proc/self/fd");
  CHECK(d != NULL, "/proc/self/fd");
  int n = 0;
  while (readdir(d) != NULL)
    n++;
  closedir(d);
  return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  in_t in = {.p = data, .n = size};
  trace = getenv("FUZZ_CLIENT_TRACE") != NULL;
  int fds_before = count_fds();
  int sv[2];
  CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0,
        "socketpair: %s", strerror(errno));
  int buf = PEER_BUF;
  setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
  if (take(&in) & FC_SETUP_NONBLOCK)
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
    decode_call(r, &in, &c);
    uint8_t spec = take(&in);
    for (int i = 0; i <= (spec >> 4 & 7); i++)
      write_reply(r, &in, spec, &c);
    if (reads_reply(r, &c))
      guard(r);
    uint64_t limit = r->max_frame;
    int rc;
    call(r, &c, &rc);
    after(r, &c, rc, drain(r), limit);
  }

  arenad_close(r->h);
  for (int i = 0; i < NAMES; i++)
    CHECK(!r->maps[i].on || unmapped(r->maps[i].base),
          "arenad_close left %s mapped", names[i]);
  close(r->peer);
  free(r->stream);
  free(r->req);
  CHECK(count_fds() == fds_before, "descriptors: %d before, %d after",
        fds_before, count_fds());
  return 0;
}
