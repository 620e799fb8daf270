/*
 * conn.h: one client connection: its socket, the peer's credentials (uid,
 * gid and supplementary groups, read at accept), its identity (id and
 * token), the bounded bytes it has in and out, the blocks it holds, the
 * arenas it attached, and its counters.
 *
 * Two halves. conn.c turns bytes into replies and does no socket I/O (its
 * only system calls: reading the clock, and closing the descriptors that
 * replies carry, which attach duplicates in dispatch_arena.c; the token's
 * getrandom is ad_daemon_random's, in daemon.c): it decodes every complete
 * frame it is given (against the frame limit, before anything is
 * allocated), unpacks each into scratch memory, dispatches it and appends
 * the reply to the output; protocol errors, limits and flow control live
 * there, and unit tests drive it without a socket. It also keeps the
 * connection's bookkeeping for dispatch: the arenas it attached, the
 * names gone stale, the peer's groups. conn_io.c moves the bytes: it
 * reads and writes the socket when libuv says it is ready, passes
 * descriptors with SCM_RIGHTS, and closes.
 *
 * Buffers. Most of the time a connection has no buffer of its own: bytes
 * are read into the daemon's shared input buffer and replies are built in
 * its shared staging buffer, both emptied before the callback returns.
 * Only what is left over (a frame cut by the read, replies the socket did
 * not take) is copied into the connection's rbuf and wbuf, which are
 * bounded (a frame plus a read; output_limit_bytes) and trimmed when they
 * empty. Replies go to wbuf when it holds anything, else to staging, so
 * their order is kept. With no memory for that copy, wbuf takes over the
 * staging buffer's memory instead (conn_io.c keep_unsent).
 *
 * Flow control. `inflight` counts replies queued since the output was last
 * empty. While it reaches max_in_flight, or the unsent bytes reach
 * output_pause_bytes, or the descriptor queue is full, no further frame is
 * decoded and the socket is not read; all resume once the output has
 * drained. So the unsent bytes stay under output_pause_bytes and one
 * reply, which output_limit_bytes, the bound of the output buffers, must
 * leave room for (config.c): it is never reached.
 *
 * Turns. Each wake-up of a connection is a turn, which may hold the loop
 * for turn_budget_us. Past it, after the frame at hand, the connection
 * yields: its other frames stay in rbuf, its socket is not read, and the
 * daemon resumes it once the loop has served the other connections (a
 * frame that is itself longer than the budget, such as a check of a huge
 * arena, still runs whole). Connections driven by a test have no turn
 * unless the test begins one.
 *
 * Lifetime: created by the listener (ad_conn_new, ad_conn_start), closed
 * by ad_conn_close, which reclaims its blocks (reclaim.h: at once, or a
 * slice at a time when there are many) and frees the object in libuv's
 * close callback once they are all freed (or, for a connection never
 * started, leaves that to the caller's ad_conn_free).
 */
#ifndef AD_CONN_H
#define AD_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "access.h"
#include "ar/frame.h"
#include "blocks.h"
#include "config.h"

#define AD_CLIENT_NAME_MAX 64 /* bytes of a client's name, NUL excluded */
#define AD_FDQ_MAX 16         /* descriptors queued per connection */
#define AD_STALE_NAME (AD_ARENA_NAME_MAX + 1) /* an arena name and its NUL */
#define AD_STALE_MAX 256      /* stale names a connection keeps (see `stale`) */

struct ad_daemon_s;
typedef struct ad_conn_s ad_conn_t;

/* The reclamation of a closed connection's blocks (reclaim.c's). */
typedef struct ad_reclaim_s {
  ad_conn_t *next; /* the daemon's queue of reclamations, oldest first */
  bool queued;     /* on that queue: references are left to drop */
  uint64_t refs;   /* references the connection held when it closed */
  uint64_t blocks, bytes, corruptions; /* what dropping them freed so far */
  uint64_t kept; /* the blocks it could not free for want of memory */
} ad_reclaim_t;

/* A descriptor to pass with the byte at stream offset `at` of the output. */
typedef struct ad_fdq_entry_s {
  uint64_t at; /* absolute: counted from the connection's first reply byte */
  int fd;      /* owned: a duplicate, closed once sent or at close */
} ad_fdq_entry_t;

struct ad_conn_s {
  /* Private to the daemon: the list of open connections. */
  ad_conn_t *prev, *next;
  struct ad_daemon_s *d;

  /* The socket. */
  uv_poll_t poll;  /* private; poll.data is this connection */
  int fd;          /* owned; -1 for a connection driven by a test */
  int events;      /* private: the UV_READABLE | UV_WRITABLE watched */
  bool started;    /* private: poll is initialised */
  bool poll_closed; /* private: libuv's close callback of poll has run */

  /* Identity. */
  uint64_t id;           /* 1, 2, ... in accept order */
  uint64_t token;        /* random, never 0; told only to this peer */
  ad_holder_t holder;    /* pid, uid, gid, name, and the blocks it holds */
  char name[AD_CLIENT_NAME_MAX + 1]; /* from hello, sanitised; "" before */
  bool hello_done;

  /* Input: a frame cut by a read, or frames held back by flow control. */
  ar_buf_t rbuf;

  /* Output: replies not yet sent (see the top of this file). */
  ar_buf_t wbuf;
  uint64_t out_total;  /* reply bytes ever queued */
  uint64_t out_sent;   /* reply bytes ever sent */
  uint32_t inflight;   /* replies queued since the output was last empty */
  ad_fdq_entry_t fdq[AD_FDQ_MAX]; /* a ring, in stream order */
  unsigned fdq_head, fdq_len;

  /* Supplementary groups of the peer (SO_PEERGROUPS), for access checks;
   * the primary gid is holder.gid. */
  uint32_t *groups; /* owned; may be NULL */
  size_t ngroups;

  /* Arenas this connection attached, by id (ArenaSummary's
   * attached_connections). */
  uint64_t *attached; /* owned */
  uint32_t nattached, attached_cap;

  /* Names of arenas destroyed while this connection had them attached,
   * held blocks in them or had used them (`used`): requests naming one get not
   * found, whatever arena has the name now, until the connection attaches it
   * again. A connection that lives beside many short-lived arenas would collect
   * names without end, each request scanning them all; past AD_STALE_MAX the
   * list goes and stale_all takes its place: from then on every arena is stale
   * for the connection unless it has attached that very arena, holds blocks in
   * it or used it before the list went. Stricter (an arena it merely named
   * before may need an attach), never looser: it never reaches an arena that
   * took a gone one's name. The same happens when the list cannot grow for want
   * of memory. */
  char (*stale)[AD_STALE_NAME]; /* owned */
  uint32_t nstale, stale_cap;
  bool stale_all;
  /* Bit a->slot: this connection opened arena a in a request (dispatch's
   * ad_call_open), so it may hold offsets into it (of detached blocks, of
   * blocks it held, of a walk's): it is told when a goes, like one that
   * attached a or holds blocks in it. */
  uint64_t used[AD_ARENAS_MAX / 64];

  /* State. */
  bool eof;               /* the peer shut down its side */
  bool draining;          /* the daemon is shutting down */
  size_t drain_left;      /* while draining: bytes still to be read, those
                             the socket held when the shutdown began */
  bool close_after_reply; /* close once the replies are out (a protocol
                             error, a version, no memory) */
  bool closing;           /* ad_conn_close was called */
  const char *close_reason; /* static: why it closes, for the log */
  uint64_t turn_start_ns;   /* uv_hrtime when its turn began; 0: none yet */
  bool yielded;             /* its turn ended with frames left: the daemon
                               resumes it (ad_conn_resume) */
  bool throttled;           /* flow control has paused its reading */
  bool fd_deferred;         /* the kernel refused to pass a descriptor for
                               now (ETOOMANYREFS): output waits for the
                               daemon's retry timer */
  bool fd_waiting;          /* the next descriptor has been refused at
                               least once (counted once in fds_deferred) */

  ad_reclaim_t reclaim; /* once closed, while its blocks are freed */

  /* Counters, logged at close. */
  uint64_t requests;
  uint64_t bytes_in;
  uint64_t bytes_out;
  uint64_t started_ms;
  uint64_t partial_ms; /* since when rbuf begins with a cut frame (when it
                          does: see ad_conn_stalled) */
  uint64_t out_moved_ms; /* when the output last began or moved: a reply
                            queued into an empty output, bytes sent, or
                            bytes the peer read out of its socket */
  uint64_t outq_seen;    /* the socket's unread bytes (SIOCOUTQ) at the
                            last look since bytes were sent; 0: none yet */
};

/* ---- conn.c: bytes to replies (no socket I/O) ------------------------- */

/*
 * A new connection on socket fd (-1 for a test) whose peer has these
 * credentials, with the next id and a fresh token, linked into d's list.
 * Returns NULL when memory runs out or getrandom fails (the caller still
 * owns fd then). The connection owns fd from then on.
 */
ad_conn_t *ad_conn_new(struct ad_daemon_s *d, int fd, uint32_t pid,
                       uint32_t uid, uint32_t gid);

/* Frees a closed connection's memory (conn_io.c does it for started ones,
 * in libuv's close callback). */
void ad_conn_free(ad_conn_t *c);

/*
 * Answers the frames at p[0..len): every complete one, in order, until
 * flow control says stop or a protocol error closes the connection (whose
 * remaining bytes are then dropped). Returns how many bytes were used, all
 * len of them once c is closing or to close after its reply; the rest (a
 * partial frame, or frames held back) is the caller's to keep. p may be
 * c's own rbuf: nothing here consumes it, the caller does.
 */
size_t ad_conn_input(ad_conn_t *c, const uint8_t *p, size_t len);

/* Whether flow control lets another frame be decoded, and c has not
 * yielded its turn. */
bool ad_conn_can_decode(const ad_conn_t *c);

/* The first queued descriptor is done with (passed with its frame's first
 * byte, or dropped with the connection): closes it and takes it off the
 * queue, which must not be empty. */
void ad_conn_fd_done(ad_conn_t *c);

/* The counter of the flow-control limit that stops c's decoding: replies
 * in flight (max_in_flight), unsent bytes (output_pause_bytes) or queued
 * descriptors (AD_FDQ_MAX), the first that holds; NULL when none does.
 * Each pause of reading is counted once, in it (conn_io.c). */
uint64_t *ad_conn_pause_counter(const ad_conn_t *c);

/* Begins a turn of c at now_ns (uv_hrtime's clock): ad_conn_input answers
 * frames until turn_budget_us has passed since then, then yields. */
void ad_conn_begin_turn(ad_conn_t *c, uint64_t now_ns);

/* Ends c's yield, if it yielded (ad_conn_resume and ad_conn_close). */
void ad_conn_end_yield(ad_conn_t *c);

/* Whether buf[0..len) starts with something ad_conn_input would act on: a
 * complete frame, or a prefix it would reject. */
bool ad_conn_has_frame(const ad_conn_t *c, const uint8_t *buf, size_t len);

/* Whether c has held the beginning of a frame it has not finished for
 * frame_timeout_ms (0: never) at `now_ms`. A frame held back by flow
 * control is complete, so it does not count; nor does a cut frame while
 * flow control or a yield stops the daemon reading c (its rest may be
 * waiting in the socket), and its time starts over when reading resumes
 * (conn_io.c). */
bool ad_conn_stalled(const ad_conn_t *c, uint64_t now_ms);

/* Whether c's unsent replies have waited send_timeout_ms (0: never) at
 * `now_ms` with no byte of them taken by the peer. */
bool ad_conn_send_stalled(const ad_conn_t *c, uint64_t now_ms);

/* Answers a stalled connection with one reply (id 0, LIMIT_EXCEEDED),
 * counted in frames_timed_out, and closes it once the reply is out. */
void ad_conn_frame_timeout(ad_conn_t *c);

/* The buffer that holds c's unsent replies: wbuf, or the daemon's staging
 * buffer when wbuf is empty. */
ar_buf_t *ad_conn_out(ad_conn_t *c);

/* Makes room for a reply of `len` packed bytes in c's output, so that
 * queueing it needs no memory: a handler that changes what only its reply
 * reports (an alloc's offsets) calls it first. Returns 0, AR_ELIMIT past
 * output_limit_bytes or AR_EINTERNAL when memory runs out (then nothing
 * should change: the reply could be lost). */
int ad_conn_reserve_reply(ad_conn_t *c, size_t len);

/* Records that the first n unsent bytes went out: consumes them and, when
 * the output is empty, resets flow control. Descriptors are the caller's
 * (conn_io.c pops them as it sends them). */
void ad_conn_sent(ad_conn_t *c, size_t n);

/* Marks c to be closed once its replies are sent, for `reason`, and
 * counts the close in *counter, which must not be NULL: every such close
 * is counted. Does nothing when c was already closing or to close. No
 * more of its input is read or decoded: ad_conn_input returns the rest
 * as used, for its caller to drop; what is left in rbuf otherwise is
 * freed with c. */
void ad_conn_close_after_reply(ad_conn_t *c, const char *reason,
                               uint64_t *counter);

/* Notes that c attached arena a (counted once per connection in the
 * arena's attached_connections), which also ends a's name being stale for
 * c. Returns 0 or AR_EINTERNAL. */
struct ad_arena_s;
int ad_conn_attach(ad_conn_t *c, struct ad_arena_s *a);

/* Notes that a request of c opened arena a (see `used`). */
void ad_conn_used(ad_conn_t *c, const struct ad_arena_s *a);

/* Tells c that arena a is being destroyed: when c had it attached, holds
 * blocks in it or used it, a's name becomes stale for c (see `stale`). Past
 * AD_STALE_MAX names, or without memory to note one more, c keeps none
 * and every arena it has neither attached nor used, and holds no blocks
 * in, is stale for it (stale_all, counted in stale_lists_dropped): c need
 * not be closed, nor woken, and never reaches another arena of the same
 * name. */
void ad_conn_arena_gone(ad_conn_t *c, const struct ad_arena_s *a);

/* Whether requests of c naming arena a must get not found (see
 * `stale`). */
bool ad_conn_stale(const ad_conn_t *c, const struct ad_arena_s *a);

/* Keeps a copy of the peer's n supplementary groups. Returns 0 or
 * AR_EINTERNAL. */
int ad_conn_set_groups(ad_conn_t *c, const uint32_t *groups, size_t n);

/* c's peer credentials, for access.h (borrowing c's groups). */
ad_cred_t ad_conn_cred(const ad_conn_t *c);

/* ---- conn_io.c: the socket --------------------------------------------- */

/* Starts watching c's socket. Returns 0 or a libuv error. */
int ad_conn_start(ad_conn_t *c);

/* Decodes what flow control now allows, writes what the socket takes,
 * keeps the rest, closes the connection when it is done, and watches the
 * socket for what is needed next. Called after every event on c; does
 * nothing once c is closing (a frame timeout's reply may close it). */
void ad_conn_run(ad_conn_t *c);

/* Tries again to send c's output, whose descriptor the kernel refused
 * (the daemon's retry timer). */
void ad_conn_retry_fd(ad_conn_t *c);

/* While c has unsent replies, counts its output as moving now (see
 * send_timeout_ms) when its peer has read bytes out of the socket since
 * the last look, or, when the output waits on a descriptor the kernel
 * refused, has read every byte sent to it. The sweep looks at every
 * connection, and the retry timer at those it retries, so that a daemon
 * running late does not sweep c before the retry has looked. */
void ad_conn_peer_check(ad_conn_t *c);

/* Whether c's socket holds bytes the daemon has not read yet. */
bool ad_conn_unread_input(const ad_conn_t *c);

/* Whether c reads no more requests and closes once its replies are out
 * (its peer shut down its side, or a protocol error, version or want of
 * memory ends it), or is closed already: a connection that takes no more
 * blocks, since whatever it held would be reclaimed at its close. */
bool ad_conn_ending(const ad_conn_t *c);

/* Gives a yielded c its next turn: answers the frames it left, then as
 * ad_conn_run. */
void ad_conn_resume(ad_conn_t *c);

/* Closes c now: reclaims its blocks (or begins to, reclaim.h), logs,
 * drops its descriptors, stops watching and closes the socket.
 * Idempotent. c stays valid until libuv's close callback has run and its
 * blocks are all freed (for a started connection), or until
 * ad_conn_free. */
void ad_conn_close(ad_conn_t *c, const char *reason);

/* Closes c for want of the daemon's memory for its bytes (reading its
 * input, keeping a cut frame, queueing a reply), and counts it in
 * connections_closed_no_memory unless c was already closing or to close.
 * Replies already queued are not dropped (one may be an alloc's, the only
 * word of its blocks): with any unsent, c is closed once they are sent,
 * as ad_conn_close_after_reply does, and nothing more of its input is
 * read or answered; with none, it is closed now, as ad_conn_close does. */
void ad_conn_close_no_memory(ad_conn_t *c);

/* Shutdown: answers every request the peer had sent when it began (the
 * frames already read, and the bytes its socket held then), then closes
 * once the replies are out (or when the daemon's deadline passes). */
void ad_conn_drain(ad_conn_t *c);

#endif /* AD_CONN_H */
