/*
 * internal.h: what the files of libarenad share and nothing outside sees:
 * the handle's layout, the wire layer (wire.c: framing, descriptors, reply
 * validation), and the error helpers. Names are arenad__ (internal, not
 * exported: the library is built with -fvisibility=hidden and a version
 * script that lists the public API only).
 */
#ifndef ARENAD_INTERNAL_H
#define ARENAD_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ar/frame.h"
#include "ar/protocol.h"
#include "ar/wire.h"
#include "arenad.h"
#include "arenad.pb-c.h"

/* Room for one error sentence: the daemon's longest message whole, also
 * quoted in the library's own words ("the daemon closed the connection:
 * MESSAGE (ELIMIT)"). */
#define ARENAD__ERR_LEN 512
_Static_assert(ARENAD__ERR_LEN >= AR_MESSAGE_MAX + 100,
               "a daemon's message fits in the error sentence");

/* Descriptors received and not yet claimed by an attach reply. Only one is
 * ever expected; a few more are room to see (and close) a misbehaving
 * daemon's extras rather than have the kernel drop them silently. */
#define ARENAD__FDS_MAX 4

/* Bytes read from the socket at a time, at most. */
#define ARENAD__READ_CHUNK ((size_t)64 << 10)

/* Queued request bytes past which a submit sends them. */
#define ARENAD__FLUSH_AT ((size_t)16 << 10)

/* Bytes of the handle's scratch memory for unpacking a reply: enough for
 * the reply to a ping, an alloc of 64 blocks or a free, so that the hot
 * path allocates nothing. Larger replies take the rest from malloc. */
#define ARENAD__SCRATCH 4096

/* Queued pipelined requests past which a submit sends them: enough to
 * make a send cheap per request, few enough that the daemon starts on them
 * while the caller is still reading replies and queueing more. */
#define ARENAD__FLUSH_BATCH 32

/* The most pipelined requests the library keeps track of, whatever the
 * daemon allows. */
#define ARENAD__WINDOW_MAX ((size_t)1 << 16)

/* An attached arena. The handle owns name, the mapping and fd. */
typedef struct arenad__map_s {
  char *name;
  void *base;
  uint64_t size;
  int fd;
  arenad_policy_t policy;
  bool read_only;
} arenad__map_t;

/* A pipelined request waiting for its reply. */
typedef struct arenad__pending_s {
  uint64_t id;
  uint64_t tag;
  arenad_op_t op;
  uint32_t count;    /* alloc: blocks asked for; free: offsets sent */
  uint64_t size;     /* alloc: bytes per block */
  uint64_t map_size; /* alloc: the arena's mapping at submit; 0: none */
} arenad__pending_t;

/*
 * The handle. Invariants: fd >= 0 unless broken; ids are handed out from 1
 * upwards (a Response with id 0 is the daemon's connection-level error);
 * requests are answered in order, so pend[pend_head..] lists the pipelined
 * requests oldest first (none once broken), and while pend_len > 0 no
 * blocking call runs;
 * nfds descriptors sit in fds[] only between a read and the validation of
 * the reply they came with.
 */
struct arenad_s {
  int fd;          /* the socket; -1 once broken */
  pid_t pid;       /* the process that made the handle */
  bool broken;     /* unusable: err keeps the first reason */
  int timeout_ms;  /* arenad_set_timeout's; -1: wait forever */
  uint64_t next_id;
  uint64_t max_frame; /* largest frame body accepted or sent */
  size_t window;      /* most requests in flight on the pipeline */
  ar_buf_t in;        /* bytes read, not yet decoded */
  ar_buf_t out;       /* requests framed, not yet sent */
  size_t unsent;      /* pipelined requests in out */

  int fds[ARENAD__FDS_MAX];
  size_t nfds;
  bool fds_lost; /* more than fds[] holds, or a truncated control message */

  arenad__pending_t *pend; /* ring of pend_cap entries */
  size_t pend_cap, pend_head, pend_len;
  uint64_t *offsets; /* arenad_result_t.offsets of the last collect */
  size_t offsets_cap;
  uint32_t *overwritten; /* arenad_collect_overwritten's indices: the last
                            collect's, n_overwritten of overwritten_cap */
  size_t n_overwritten, overwritten_cap;

  arenad__map_t *maps;
  size_t nmaps;

  /* protobuf-c unpacks replies with this allocator: bump allocation in
   * scratch, malloc past its end (counted in spilled), reset at each
   * unpack. A reply is freed before the next is unpacked. What one reply
   * may malloc is bounded (spill_left, from wire.c's unpack_max), as the
   * daemon bounds a request's: a frame of empty submessages unpacks into
   * some fifty times its size. */
  ProtobufCAllocator allocator;
  size_t scratch_used;
  size_t spilled;
  size_t spill_left;
  bool spill_refused; /* the last unpack asked for more than spill_left */
  bool spill_failed;  /* the last unpack found malloc out of memory */
  _Alignas(16) unsigned char scratch[ARENAD__SCRATCH];

  char err[ARENAD__ERR_LEN];
};

/* Stores a message (printf-style) as h's last error and returns code; for
 * a NULL h only returns code (arenad_error(NULL) says "no handle"). */
int arenad__fail(arenad_t *h, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Like arenad__fail, and makes h unusable: closes the socket and any
 * received descriptor, and drops the pipelined requests in flight. The
 * first reason is kept; a later one is ignored. */
int arenad__break(arenad_t *h, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* 0 when h can send a request, its error sentence cleared (the last
 * call's error is over); AR_EIO (message unchanged) when broken;
 * AR_EINVAL for a NULL h. Every request, blocking or pipelined, passes
 * here before it is queued (through arenad__can_call, submit, flush and
 * collect): this is where a NULL handle is refused. What a call may do
 * with h before (arenad__fail, arenad__map_find, arenad__response_free)
 * takes a NULL h too. */
int arenad__usable(arenad_t *h);

/* Closes the received descriptors not yet claimed. */
void arenad__close_fds(arenad_t *h);

/* The handle's frame limits, after hello. */
void arenad__set_limits(arenad_t *h, uint64_t max_frame, size_t window);

/* The input buffer's usual cap: one frame of the largest, and a read
 * chunk of slack for the bytes of the frames after it. */
static inline size_t arenad__input_cap(const arenad_t *h) {
  return (size_t)h->max_frame + AR_FRAME_PREFIX_MAX + ARENAD__READ_CHUNK;
}

/* Frames req (with the next id, stored in *id) at the end of the output
 * queue. Returns 0; AR_ELIMIT for a request over the frame limit;
 * AR_EINTERNAL without memory. Sends nothing. */
int arenad__queue(arenad_t *h, Arenad__Request *req, uint64_t *id);

/* Frames a ping, alloc or free request at the end of the output queue by
 * hand (encode.c), with req->id as set. Returns 0 (*body and *len: where
 * and how long the body is); 1 when req is of another kind (nothing done);
 * AR_ELIMIT or AR_EINTERNAL as ar_frame_append (*len: the body's size). */
int arenad__encode(arenad_t *h, const Arenad__Request *req, uint8_t **body,
                   size_t *len);

/* Sends the output queue, reading replies into the input buffer while the
 * socket is full so that neither side can wait on the other forever (the
 * buffer grows past its usual cap for the replies of the requests in
 * flight, if it must). Returns 0 or AR_EIO (broken). */
int arenad__flush(arenad_t *h);

/* Whether a whole reply frame is already in the input buffer. */
bool arenad__reply_ready(const arenad_t *h);

/* Reads and unpacks the next reply (blocking). Returns 0 and a Response
 * to be freed with arenad__response_free before the next read; or AR_EIO,
 * AR_EPROTO or AR_EINTERNAL (no memory for the input buffer), h then
 * broken. Descriptors that arrive on the way are kept in h->fds. */
int arenad__read_reply(arenad_t *h, Arenad__Response **out);

/* Frees a reply of arenad__read_reply (NULL is allowed, and so is a NULL
 * h, from a call arenad__usable refused). */
void arenad__response_free(arenad_t *h, Arenad__Response *r);

/*
 * Checks that r answers request `id` of kind `kind` (a Request body case).
 * Returns the request's status: 0, or the daemon's code with its message
 * as h's error; or, with h then broken, AR_EIO when r is the daemon's last
 * word before it closes the connection (id 0, an error, no body; its
 * status and reason quoted in h's error), AR_EPROTO when r does not belong
 * to the request (wrong id, wrong body, no body on success). The caller
 * tells a request's failure from a broken connection with h->broken.
 */
int arenad__check_reply(arenad_t *h, const Arenad__Response *r, uint64_t id,
                        int kind);

/* Returns 0 when h can make a blocking call; else, as arenad__usable,
 * AR_EINVAL for a NULL h or AR_EIO (message unchanged) when it is broken,
 * or AR_EINVAL (with a message) while pipelined requests are in flight:
 * blocking calls wait for their own reply only. Every blocking call checks
 * this, in this order. */
int arenad__can_call(arenad_t *h);

/*
 * One blocking round trip: checks arenad__can_call, sends req, reads and
 * checks the reply. `fds_ok`: whether a descriptor may come with it
 * (attach); otherwise one breaks h.
 *
 * Returns what arenad__check_reply returns. *out is the Response (to be
 * freed with arenad__response_free) whenever a valid reply came, whatever
 * its status, so that a caller can read a body set on errors; NULL
 * otherwise.
 */
int arenad__call(arenad_t *h, Arenad__Request *req, bool fds_ok,
                 Arenad__Response **out);

/* count ArenaInfos as one heap block of arenad_arena_t (arenad_list's
 * format, freed with arenad_list_destroy), or NULL without memory. */
arenad_arena_t *arenad__arenas_make(Arenad__ArenaInfo *const *infos,
                                    size_t count);

/* The public policy of a wire Policy. */
arenad_policy_t arenad__policy(int wire);

/* The attached arena called name, or NULL (also for a NULL h). */
arenad__map_t *arenad__map_find(const arenad_t *h, const char *name);

/* Unmaps and forgets every attached arena. */
void arenad__maps_destroy(arenad_t *h);

/* Copies src (NULL: "") into dst[size], truncating, NUL-terminated. */
void arenad__copy_str(char *dst, size_t size, const char *src);

/* AR_EINVAL with a message when name is NULL or empty, else 0. */
int arenad__check_name(arenad_t *h, const char *name);

/* The request envelopes of alloc and free, shared by the blocking calls
 * (blocks.c) and the pipelined ones (pipeline.c). Each fills *body and
 * *req, which point at the caller's name and offsets (only read by pack):
 * both live on the caller's stack for the duration of the send. */
void arenad__alloc_request(Arenad__Request *req, Arenad__AllocRequest *body,
                           const char *name, uint64_t size, uint64_t align,
                           uint32_t count, unsigned flags);
void arenad__free_request(Arenad__Request *req, Arenad__FreeRequest *body,
                          const char *name, const uint64_t *offsets,
                          size_t n);

/* The bytes mapped of arena name; 0 when it is not attached. */
uint64_t arenad__map_size(const arenad_t *h, const char *name);

/* Checks the n offsets of an alloc reply for blocks of size bytes against
 * the arena's mapping of map_size bytes (0: not attached, nothing to
 * check): each block must lie inside it, so that base + offset is the
 * caller's to use for size bytes. Returns 0, or AR_EPROTO with h broken. */
int arenad__check_offsets(arenad_t *h, const uint64_t *offsets, size_t n,
                          uint64_t size, uint64_t map_size);

/* Checks the reply fr (NULL: none, nothing to check) to a free of n
 * offsets, its envelope's status `status` (a code): a status for each
 * offset, `status` being the first failure's (0 when none failed), or
 * none, and the overwritten headers it names the indices of offsets that
 * succeeded, in increasing order. Without statuses, every
 * offset succeeded when status is 0, and none did otherwise (the request
 * was refused as a whole). Returns 0, or AR_EPROTO with h broken. */
int arenad__check_free_reply(arenad_t *h, const Arenad__FreeReply *fr,
                             size_t n, int status);

#endif /* ARENAD_INTERNAL_H */
