/*
 * fuzz_client_internal.h: what the files of fuzz_client share, and no
 * other program includes: the harness's limits, the one way to fail, the
 * types of the run (the input, the requests in flight, the mappings, the
 * daemon's stream), of a built reply and of a decoded step, and the
 * functions and variables that one file defines and another uses, grouped
 * by the file that defines them. The input format is not here but in
 * fuzz_client.h, which the seed generator shares.
 */
#ifndef FUZZ_CLIENT_INTERNAL_H
#define FUZZ_CLIENT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arenad.h"
#include "arenad.pb-c.h"
#include "fuzz_client.h"
#include "send_fds.h"

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

extern const char *const fzc_names[NAMES]; /* fuzz_client.c */
/* FUZZ_CLIENT_TRACE=1: fuzz_client_calls.c's fzc_after() */
extern bool fzc_trace;

/* ---- Failing (fuzz_client.c) --------------------------------------------- */

void fzc_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), noreturn));

/* Aborts with the sentence, after the file and line of the check, when
 * cond does not hold. */
#define CHECK(cond, ...)                                                       \
  do {                                                                         \
    if (!(cond))                                                               \
      fzc_fail(__FILE_NAME__, __LINE__, __VA_ARGS__);                          \
  } while (0)

/* ---- The input (fuzz_client.c) ------------------------------------------- */

typedef struct in_s {
  const uint8_t *p;
  size_t n, at;
} in_t;

uint8_t fzc_take(in_t *in);
uint64_t fzc_take_u64(in_t *in);

/* ---- The run's state (fuzz_client.c) ------------------------------------- */

/* A pipelined request in flight, as the harness submitted it. */
typedef struct pend_s {
  uint64_t id, tag;
  arenad_op_t op;
  int name;          /* index into fzc_names[] */
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

void fzc_pool_add(run_t *r, uint64_t off);
uint64_t fzc_pool_pick(const run_t *r, unsigned k);
pend_t *fzc_fifo_at(run_t *r, size_t i);

/* ---- The daemon's side of the socket (fuzz_client.c) --------------------- */

void fzc_daemon_write(run_t *r, const uint8_t *p, size_t n, const int *fds,
                      size_t nfds);
void fzc_daemon_end(run_t *r, int how);
void fzc_took_reply(run_t *r, uint64_t limit);
int fzc_make_segment(uint64_t size);

/* ---- Building replies (fuzz_client_replies.c) ---------------------------- */

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

extern reply_t fzc_B;

char *fzc_text(in_t *in);
void fzc_make_body(in_t *in, const target_t *t, uint64_t seg);
void fzc_send_response(run_t *r, const int *fds, size_t nfds, int times);

/* ---- The script (fuzz_client_script.c) ----------------------------------- */

/* One step's call and its arguments, decoded from its three bytes. */
typedef struct call_s {
  int call;
  uint8_t a[3];
  int name;       /* index into fzc_names[] */
  uint32_t count; /* blocks of an alloc, offsets of a free */
  uint64_t size, align, cursor, tag;
  uint64_t offs[MAX_OFFSETS];
} call_t;

void fzc_decode_call(const run_t *r, in_t *in, call_t *c);
void fzc_write_reply(run_t *r, in_t *in, uint8_t spec, const call_t *c);

/* ---- Checks and calls (fuzz_client_calls.c) ------------------------------ */

bool fzc_unmapped(const void *p);
bool fzc_reads_reply(const run_t *r, const call_t *c);
void fzc_call(run_t *r, const call_t *c, int *rc);
void fzc_after(run_t *r, const call_t *c, int rc, size_t sent, uint64_t limit);

#endif /* FUZZ_CLIENT_INTERNAL_H */
