/*
 * trace_internal.h: what the files of the ar_trace library share and no one
 * else sees: the map from ids to slots, the incremental line parser that
 * both the file loader and the in-memory parser feed, and the error
 * formatter. Not installed, not included outside common/trace/.
 */
#ifndef AR_TRACE_INTERNAL_H
#define AR_TRACE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ar/trace.h"

/* ---- idmap.c: ids that are live at parse time, and their slots --------- */

/*
 * The ids that are live at parse time, and their slots; its size follows
 * the live ids, not the trace's length. Two parts:
 *
 * - dense: a plain array indexed by id, for ids from 0 up to a bound that
 *   grows with the number of insertions (so one huge id cannot make it
 *   huge). Traces number their allocations 1, 2, 3, ..., so nearly every
 *   id lands here, for one load or store.
 * - hash: every other id (negative, or far beyond the others), in an
 *   open-addressing table with Robin Hood linear probing, at most half
 *   full, deletion by backward shift (no tombstones, so a long trace never
 *   degrades it).
 *
 * An id is in exactly one part: when the dense part grows over ids held in
 * the hash part, they move. Owns both tables; ar__idmap_fini frees them.
 *
 * The parser's fast path (parse_plain_run in trace_parse.c) reads and
 * writes the dense part itself, counting its insertions in `inserts`; it
 * leaves every id outside the dense part, and every growth, to the
 * functions below.
 */
typedef struct ar__idmap_entry_s {
  int64_t id;
  uint32_t slot; /* AR_TRACE_NO_SLOT: the entry is empty */
  uint32_t dist; /* how far the entry sits from its home bucket */
} ar__idmap_entry_t;

typedef struct ar__idmap_s {
  uint32_t *dense;        /* dense_cap entries: slot + 1, or 0 for none */
  size_t dense_cap;       /* 0, or a power of two */
  size_t inserts;         /* insertions ever: bounds dense_cap */
  ar__idmap_entry_t *tab; /* cap entries */
  size_t cap;             /* a power of two */
  size_t count;           /* entries in use, at most cap / 2 */
  unsigned shift;         /* 64 - log2(cap), for the hash */
} ar__idmap_t;

/* Returns 0, or AR_ENOMEM. */
int ar__idmap_init(ar__idmap_t *m);
void ar__idmap_fini(ar__idmap_t *m);

/* Finds id. When it is there, stores its slot in *slot and returns 0;
 * otherwise inserts it with slot `fresh` and returns 1. Returns AR_ENOMEM
 * when the table cannot grow (nothing changes). */
int ar__idmap_get_or_put(ar__idmap_t *m, int64_t id, uint32_t fresh,
                         uint32_t *slot);

/* Removes id and returns its slot, or AR_TRACE_NO_SLOT when absent. */
uint32_t ar__idmap_take(ar__idmap_t *m, int64_t id);

/* ---- bigmem.c: memory for large arrays -------------------------------- */

/*
 * Memory for the arrays of a trace (operations, id tables, read buffers):
 * from 64 KiB on, anonymous mappings in whole 2 MiB units advised to use
 * transparent huge pages (a trace's arrays run to tens of megabytes, and
 * on some machines a 4 KiB page fault costs tens of microseconds, which
 * would make loading cost more than replaying); below that, malloc. Growing
 * a mapping remaps without copying. The caller keeps the size it asked for
 * and passes it back: ar__big_size says how much it really got.
 */
size_t ar__big_size(size_t bytes); /* the usable size */
void *ar__big_alloc(size_t bytes); /* not zeroed; NULL on failure */
void *ar__big_grow(void *p, size_t old, size_t bytes); /* NULL: p intact */
void ar__big_free(void *p, size_t bytes);            /* NULL is allowed */

/* ---- trace_source.c: the text of a trace file --------------------------- */

/*
 * A trace file opened for reading: plain text or gzip (by its first two
 * bytes), a path or "-" for standard input (read through a duplicate, so
 * that closing leaves descriptor 0 open). Owns its descriptor and buffers;
 * ar__source_close frees them. Messages name the path, which must outlive
 * the source.
 */
typedef struct ar__source_s ar__source_t;

/* Returns 0, or AR_EIO or AR_ENOMEM with *err filled. */
int ar__source_open(const char *path, ar__source_t **out,
                    ar_trace_error_t *err);

/* Puts up to cap bytes of text in buf and their count in *got, which is 0
 * only at the end of the trace (a live source may give fewer than cap
 * before its end). Returns 0, or AR_EIO with *err filled
 * (a read error, or gzip data that is corrupt, cut short or followed by
 * something else). */
int ar__source_read(ar__source_t *s, char *buf, size_t cap, size_t *got,
                    ar_trace_error_t *err);

/* Whether the source is a regular file of at most 64 KiB: one whose load
 * would cost less than starting a reader thread and mapping its buffers,
 * so ar_trace_load reads and parses it in turn, in small memory. */
bool ar__source_small(const ar__source_t *s);

/* Whether the source is not a regular file (a pipe, a socket, a
 * terminal), whose writer may still be producing: ar__source_read then
 * hands over what has arrived rather than wait to fill the buffer, and
 * the loader hands each read to the parser at once, so that a replay of a
 * trace being written keeps up with it, and an error in it is told when
 * its line arrives. */
bool ar__source_live(const ar__source_t *s);

/* From now on a wait of ar__source_read for more input also ends, with
 * AR_EIO ("stopped"), when fd becomes readable: how a reader thread is
 * told to give up a pipe whose writer is still there. fd stays the
 * caller's; -1 takes it back. */
void ar__source_stop_on(ar__source_t *s, int fd);

void ar__source_close(ar__source_t *s); /* NULL is allowed */

/* ---- trace.c: the trace object ------------------------------------------ */

/* From operation `op` on, `skipped` lines that are not operations (blank
 * or comment lines) come before each operation: its line is
 * op index + 1 + skipped. */
typedef struct ar__gap_s {
  size_t op;
  uint64_t skipped;
} ar__gap_t;

/* The line of operation i (any i) from the runs gaps[0..ngaps), which are
 * in order of op. */
uint64_t ar__gap_line(const ar__gap_t *gaps, size_t ngaps, size_t i);

struct ar_trace_s {
  ar_trace_op_t *ops;  /* info.nops used; ar__big_alloc memory */
  size_t ops_bytes;    /* the mapping's size */
  ar__gap_t *gaps;     /* ngaps runs, by op; malloc'd */
  size_t ngaps, gaps_cap;
  ar_trace_info_t info;
};

/* ---- trace_parse.c: the line parser ------------------------------------ */

/*
 * A window's worth of operations handed on by a parser that streams (see
 * ar__parser_stream): ops[0..n), which are operations first .. first+n-1
 * of the trace, valid only during the call. Returns 0, or a negative code
 * with *err filled to stop the parse (which then returns that code).
 */
typedef int (*ar__drain_fn)(void *arg, const ar_trace_op_t *ops, size_t n,
                            size_t first, ar_trace_error_t *err);

/*
 * Builds an ar_trace_t from text handed over in pieces of any size. Owns
 * the trace it builds until ar__parser_finish hands it over;
 * ar__parser_fini frees whatever it still owns (call it in every case).
 *
 * A streaming parser (ar__parser_stream) keeps only a window of
 * operations instead: t->ops holds the ones not yet handed to the drain
 * (t->info.nops of them), and `done` counts those handed on before. Its
 * gaps, slots and counts are those of the whole trace so far.
 */
typedef struct ar__parser_s {
  ar_trace_t *t;         /* the trace being built */
  size_t cap;            /* capacity of t->ops, in ops */
  ar__drain_fn drain;    /* streaming: takes each full window; else NULL */
  void *drain_arg;       /* the drain's; not owned */
  size_t done;           /* streaming: operations handed to the drain */
  ar__idmap_t ids;       /* ids live at parse time */
  uint32_t *spare;       /* released slots, a stack */
  size_t nspare, spare_cap;
  uint64_t line;         /* lines completed so far */
  uint64_t skipped;      /* of which not operations */
  uint64_t noted;        /* `skipped` as of the last gap noted */
  char *carry;           /* ar__parser_feed_chunk: a line split by chunks */
  size_t carry_len, carry_cap;
} ar__parser_t;

/* Returns 0 or AR_ENOMEM. */
int ar__parser_init(ar__parser_t *ps);

/* Makes a freshly initialised parser stream: whenever its window of
 * `window` operations (at least 1) is full, and at ar__parser_flush, it
 * hands the operations to drain(arg, ...) and starts the window again.
 * Returns 0, or AR_ENOMEM with the parser as it was. */
#define AR__WINDOW_OPS ((size_t)2048) /* 48 KiB: stays in the caches */
int ar__parser_stream(ar__parser_t *ps, size_t window, ar__drain_fn drain,
                      void *arg);

/* A streaming parser hands what its window holds to the drain (after the
 * last feed). Returns 0 or the drain's code. */
int ar__parser_flush(ar__parser_t *ps, ar_trace_error_t *err);

/* Every operation parsed so far, handed on or not, and the line of
 * operation i (i < that count; after ar__parser_forget_lines, i at or
 * after its `before`). */
size_t ar__parser_nops(const ar__parser_t *ps);
uint64_t ar__parser_line(const ar__parser_t *ps, size_t i);

/* Drops what the parser keeps to name the lines of operations before
 * `before`: a streaming parser's gaps would otherwise grow with the trace
 * (one for every operation that follows a comment or a blank line). */
void ar__parser_forget_lines(ar__parser_t *ps, size_t before);

/*
 * Parses the complete lines (those ending in '\n') of text[0..len) and
 * stores in *used how many bytes they took; the caller hands the rest
 * again, with more text after it. With `last`, the text is the end of the
 * trace: a final line without a newline is parsed too, and *used == len.
 * Returns 0 or the codes of ar_trace_parse, with *err filled.
 */
int ar__parser_feed(ar__parser_t *ps, const char *text, size_t len, bool last,
                    size_t *used, ar_trace_error_t *err);

/*
 * The same, for a caller that cannot keep the unparsed rest: parses all of
 * text[0..len), keeping a line that runs past its end in the parser's own
 * carry buffer until the next chunk completes it. An empty chunk with
 * `last` ends the trace.
 */
int ar__parser_feed_chunk(ar__parser_t *ps, const char *text, size_t len,
                          bool last, ar_trace_error_t *err);

/* Hands the finished trace over to the caller. */
ar_trace_t *ar__parser_finish(ar__parser_t *ps);

void ar__parser_fini(ar__parser_t *ps);

/* ---- trace_load.c: a trace file through the parser --------------------- */

/* Reads the trace at path (plain, gzip, or "-": see ar_trace_load) and
 * feeds all of it to ps, the last piece marked last. Returns 0, or the
 * codes of ar_trace_load (and a streaming parser's drain's) with *err
 * filled. */
int ar__load_into(const char *path, ar__parser_t *ps, ar_trace_error_t *err);

/* ---- replay.c: the replay loop, over a whole trace or window by window -- */

/* Why a replay stopped short. */
typedef enum {
  AR__STOP_NONE = 0,
  AR__STOP_LIVE_ID, /* an `a` of an id whose block is live: invalid trace */
  AR__STOP_ALLOC,   /* the engine failed other than by finding no room */
  AR__STOP_FREE,    /* the engine refused to free a block it placed */
  AR__STOP_LOG      /* the log callback stopped the replay */
} ar__stop_t;

/*
 * The state of one engine's replay: what lives in each slot, and the
 * counts. A slot holds the payload offset of its live block, or 0 when it
 * holds none (a payload is never at 0: it follows a 16-byte header).
 * Owns its arrays; ar__replayer_fini frees them.
 */
typedef struct ar__replayer_s {
  ar_engine_t *e;       /* the caller's */
  ar_replay_log_fn log; /* NULL: no log */
  void *log_arg;
  uint64_t *payload; /* [slot] */
  size_t *alloc_op;  /* streaming: [slot] the op of the live block's `a`,
                        to name its line (a whole trace is searched for
                        it instead), or AR__OP_NOTED: its line is in
                        alloc_line; NULL otherwise */
  uint64_t *alloc_line; /* streaming: [slot] see alloc_op */
  size_t nslots;     /* entries in the arrays */
  uint64_t failed, frees, skipped;
  ar__stop_t stop; /* why it stopped, at op stop_op, with stop_rc */
  size_t stop_op;
  int stop_rc;
} ar__replayer_t;

#define AR__OP_NOTED SIZE_MAX

/* Returns 0 or AR_ENOMEM (nothing to free then). `track`: keep alloc_op,
 * for a replay that does not keep the operations it has done. */
int ar__replayer_init(ar__replayer_t *r, ar_engine_t *e, size_t nslots,
                      bool track, ar_replay_log_fn log, void *log_arg);
void ar__replayer_fini(ar__replayer_t *r);

/* Makes room for slots 0..nslots-1 (new ones empty). 0 or AR_ENOMEM. */
int ar__replayer_reserve(ar__replayer_t *r, size_t nslots);

/* Replays ops[0..n), operations first..first+n-1 of the trace, on a
 * replayer made with `track`. Returns 0, or a negative code with r->stop,
 * r->stop_op and r->stop_rc saying where and why (ar__replay_explain says
 * it in words). */
int ar__replay_window(ar__replayer_t *r, const ar_trace_op_t *ops, size_t n,
                      size_t first);

/* Whether `op`, operation i, would stop r as an `a` of a live id (the
 * next operation r would replay); if so, r stops there as
 * ar__replay_window would have. */
bool ar__replay_stops_at(ar__replayer_t *r, const ar_trace_op_t *op, size_t i);

/* For a replayer made with `track`: notes the line of every live block's
 * `a` (line(src, i) names them) in alloc_line, so that the lines of the
 * operations replayed so far may be forgotten. */
void ar__replay_note_lines(ar__replayer_t *r,
                           uint64_t (*line)(const void *src, size_t i),
                           const void *src);

/* Fills *err for a replay that stopped at `op` (operation r->stop_op),
 * naming lines with line(src, i), and returns the code the replay
 * returns. */
int ar__replay_explain(const ar__replayer_t *r, const ar_trace_op_t *op,
                       uint64_t (*line)(const void *src, size_t i),
                       const void *src, ar_trace_error_t *err);

/* Fills the summary of r's replay of a trace with the counts in *info. */
void ar__replay_summary(const ar__replayer_t *r, const ar_trace_info_t *info,
                        ar_replay_summary_t *sum);

/* ---- trace_error.c ----------------------------------------------------- */

/* Fills *err (when not NULL) with `line` and a message, prefixed with
 * "line N: " when line != 0. Returns code, for `return ar__trace_fail(..)`.*/
int ar__trace_fail(ar_trace_error_t *err, int code, uint64_t line,
                   const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Clears *err (when not NULL) to line 0 and an empty message. */
void ar__trace_ok(ar_trace_error_t *err);

#endif /* AR_TRACE_INTERNAL_H */
