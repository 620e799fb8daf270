/*
 * trace.h: allocation traces (the format of the placement model, section
 * "Traces and the replay log") read into memory, and the replay of a trace
 * on a policy engine. Shared by `arenactl replay`, the tests and the
 * benchmarks.
 *
 * Loading reads the file it is given (plain text or gzip, or standard
 * input) and nothing else; parsing checks every syntax rule of the model
 * and turns each id into a dense slot number, so that a replay indexes an
 * array instead of looking ids up. Whether an `a` names a live id depends on
 * whether the earlier allocation of that id succeeded, which only a replay
 * knows: parsing gives such an `a` the slot of the id, and the replay
 * rejects it when that slot holds a live block. The replay does no I/O: it
 * hands each log line to a callback. A trace can also be replayed while it
 * is read (ar_replay_stream), a window of operations at a time, without
 * ever holding it whole: that is how `arenactl replay` runs.
 *
 * Errors are negative codes from ar/error.h, with a sentence in a
 * caller-provided ar_trace_error_t. Nothing here prints or keeps global
 * state. ar_trace_load reads (and inflates) on a thread of its own,
 * joined before it returns, unless the file is a regular one of at most
 * 64 KiB; a loaded trace may be replayed by several threads at once (it
 * is only read), each on its own engine.
 */
#ifndef AR_TRACE_H
#define AR_TRACE_H

#include <stddef.h>
#include <stdint.h>

#include "ar/engine.h"

/* What went wrong, for a human. Filled by the functions below when they
 * fail (and cleared to line 0, "" when they succeed). */
typedef struct ar_trace_error_s {
  uint64_t line; /* 1-based trace line at fault; 0 when not about a line */
  char msg[256]; /* NUL-terminated; starts with "line N: " when line != 0 */
} ar_trace_error_t;

typedef enum {
  AR_TRACE_ALLOC = 0, /* a <id> <n> */
  AR_TRACE_FREE = 1   /* f <id> */
} ar_trace_kind_t;

/* The slot of an `f` whose id is not live at parse time (never allocated,
 * or freed already): a replay skips it without looking at any slot. */
#define AR_TRACE_NO_SLOT UINT32_MAX

/* One operation. */
typedef struct ar_trace_op_s {
  uint64_t n;    /* AR_TRACE_ALLOC: bytes, 1..AR_N_MAX; AR_TRACE_FREE: 0 */
  int64_t id;    /* the id as written */
  uint32_t slot; /* 0..nslots-1, or AR_TRACE_NO_SLOT (frees only) */
  uint32_t kind; /* an ar_trace_kind_t */
} ar_trace_op_t;

/*
 * A parsed trace: opaque, owned by whoever loaded it, freed with
 * ar_trace_destroy, never changed after loading (so any number of threads
 * may read it at once).
 *
 * Slots: an `a` of an id that is not live at parse time (never seen, or
 * freed since) takes the most recently released slot, or a new one; an `a`
 * of an id that is live at parse time gets that id's slot again; an `f` of
 * a live id gets its slot and releases it. So at any point of a replay at
 * most one allocation lives in each slot, and an array of nslots entries
 * indexes them all. "Live at parse time" means allocated and not freed by
 * the lines above, whether or not the allocation will succeed.
 */
typedef struct ar_trace_s ar_trace_t;

/* Counts of a trace; a snapshot owned by the caller. */
typedef struct ar_trace_info_s {
  size_t nops;     /* every `a` and `f` line */
  size_t nallocs;  /* `a` lines */
  size_t nfrees;   /* `f` lines, skipped ones included */
  uint32_t nslots; /* slots: 0..nslots-1; the peak of parse-time live ids */
  uint64_t nlines; /* lines read, blank and comment lines included */
} ar_trace_info_t;

void ar_trace_info(const ar_trace_t *t, ar_trace_info_t *out);

/* The operations, in trace order: nops of them. Owned by the trace, valid
 * until ar_trace_destroy; read-only. */
const ar_trace_op_t *ar_trace_ops(const ar_trace_t *t);

/* The 1-based trace line of operation i (i < nops); 0 when i is out of
 * range. Costs a binary search over the runs of comment and blank lines
 * (lines are not stored per operation, to keep operations small). */
uint64_t ar_trace_line(const ar_trace_t *t, size_t i);

/*
 * Reads and parses the trace at `path`: a plain text file or a gzip file
 * (told apart by its content, not its name; several gzip members in a row
 * read as one text), or standard input when path is "-" (standard input
 * stays open).
 *
 * Returns 0 and stores in *out a new trace, owned by the caller and freed
 * with ar_trace_destroy. Otherwise *out is NULL, err (when not NULL) says
 * why, and the return is:
 *   AR_EINVAL  the trace breaks a rule of the model (err->line says where)
 *              or path is NULL;
 *   AR_EIO     the file cannot be opened or read, or a gzip file is
 *              corrupt, truncated or followed by something else;
 *   AR_ENOMEM  memory for the trace ran out;
 *   AR_ELIMIT  more than 2^32 - 1 ids would be live at once.
 */
int ar_trace_load(const char *path, ar_trace_t **out, ar_trace_error_t *err);

/*
 * Parses a trace held in memory: `len` bytes at `text` (no NUL needed; a
 * NUL byte is a syntax error like any other junk). The same rules, results
 * and return codes as ar_trace_load, without AR_EIO. `text` is only read,
 * and not kept.
 */
int ar_trace_parse(const char *text, size_t len, ar_trace_t **out,
                   ar_trace_error_t *err);

/* Frees a trace and everything in it. NULL is allowed. */
void ar_trace_destroy(ar_trace_t *t);

/* ---- Replay ----------------------------------------------------------- */

/* One line of the replay log, handed to the log callback. Everything in it,
 * text included, is valid only during the call. */
typedef struct ar_replay_line_s {
  int64_t id;       /* the id of the `a` */
  int64_t offset;   /* payload offset, or -1 when the allocation failed */
  size_t op;        /* index of the `a` among the operations */
  const char *text; /* "<id> <offset>\n" in canonical decimal, NUL-ended */
  size_t len;       /* strlen(text), newline included */
} ar_replay_line_t;

/* Called once per `a`, in trace order. Returns 0 to go on; a negative code
 * stops the replay, which then returns that code (the callback may put a
 * message in its own state; the replay's err says only that it stopped). */
typedef int (*ar_replay_log_fn)(void *arg, const ar_replay_line_t *line);

/* What a replay reports: the summary of the model, filled by ar_replay_run.
 * Owned by the caller. */
typedef struct ar_replay_summary_s {
  ar_policy_t policy;
  uint64_t arena_size;
  uint64_t operations;     /* every `a` and `f` line */
  uint64_t allocations;    /* every `a` line */
  uint64_t failed_allocs;  /* `a` that found no room (offset -1) */
  uint64_t frees;          /* `f` that freed a live block */
  uint64_t skipped_frees;  /* `f` of an id not live */
  uint64_t hwm;            /* highest block end ever allocated */
  uint64_t peak_live;      /* largest sum of live requested sizes n */
  uint64_t peak_blocks;    /* largest sum of live block sizes */
  uint64_t live_blocks;    /* at the end */
  uint64_t free_bytes;     /* at the end */
  uint64_t free_intervals; /* at the end; buddy: free blocks */
  uint64_t largest_free;   /* at the end; buddy: largest free block */
  uint64_t memory_peak;    /* the engine's own memory at its peak (bytes) */
  /* The three fragmentation figures; 0 when the divisor is 0 (no
   * allocation ever succeeded). */
  double frag_hwm_live;    /* hwm / peak_live - 1 (Johnstone and Wilson) */
  double frag_hwm_blocks;  /* hwm / peak_blocks - 1: due to the policy */
  double frag_blocks_live; /* peak_blocks / peak_live - 1: headers, rounding */
} ar_replay_summary_t;

/*
 * Fills *sum for a replay of trace t: the trace's counts, the replay's own
 * (failed allocations, frees done and skipped) and, from `st`, the
 * engine's figures after it (a fresh engine's counters are the trace's),
 * with the fragmentation figures computed from them. ar_replay_run calls
 * it; a replay through the daemon calls it with the arena's figures.
 */
void ar_replay_summarize(const ar_trace_t *t, const ar_engine_stats_t *st,
                         uint64_t failed, uint64_t frees, uint64_t skipped,
                         ar_replay_summary_t *sum);

/*
 * Replays trace `t` on engine `e`, which the caller created (with base
 * NULL, or with memory) and still owns; it should hold no live block, so
 * that its stats are the trace's. Each allocation asks for the default
 * alignment of 16. The blocks still live at the end stay allocated in `e`.
 *
 * Calls log (when not NULL) once per `a`. Returns 0 and fills *sum (when
 * not NULL) when the whole trace was replayed. Otherwise it stops at the
 * first problem and returns:
 *   AR_EINVAL    an `a` names an id whose allocation is still live: the
 *                trace is invalid; err->line is that `a`'s line and the
 *                message names the line of the live allocation;
 *   AR_ENOMEM    the replay's own memory ran out;
 *   AR_EINTERNAL the engine failed other than by finding no room, or
 *                refused to free a block it had placed;
 *   the callback's negative code, when it stopped the replay.
 * The summary is not filled then; `e` keeps whatever was done so far.
 */
int ar_replay_run(const ar_trace_t *t, ar_engine_t *e, ar_replay_log_fn log,
                  void *log_arg, ar_replay_summary_t *sum,
                  ar_trace_error_t *err);

/* ---- Streamed replay --------------------------------------------------- */

/* One engine of a streamed replay: the caller's engine (fresh, as for
 * ar_replay_run, and still the caller's after it), and what the replay
 * reports of it. */
typedef struct ar_replay_target_s {
  ar_engine_t *engine;     /* in */
  ar_replay_summary_t sum; /* out: as ar_replay_run fills it */
  uint64_t replay_ns;      /* out: time spent replaying on this engine */
} ar_replay_target_t;

/*
 * Reads the trace at `path` (as ar_trace_load does) and replays it on
 * every engine of targets[0..count), window by window: it parses a few
 * thousand operations, replays them on each engine in turn, and goes on.
 * So it never holds the whole trace: its memory follows the ids live at
 * once, not the trace's length, and each window is still in the caches
 * when the engines read it. count may be 0, to time parsing alone.
 *
 * Each engine ends as ar_replay_run would leave it, targets[i].sum is
 * what ar_replay_run would report, and log (when not NULL) gets the log
 * lines of targets[0]. *parse_ns (when not NULL) is the time spent outside
 * the engines' replays: reading, parsing and setting up (a gzip file is
 * inflated alongside, on a thread of its own).
 *
 * Returns 0, or the codes of ar_trace_load and of ar_replay_run (an
 * invalid trace is found at the line at fault, whether by the parser or
 * by the first engine to replay it). The results are filled only on
 * success.
 */
int ar_replay_stream(const char *path, ar_replay_target_t *targets,
                     size_t count, ar_replay_log_fn log, void *log_arg,
                     uint64_t *parse_ns, ar_trace_error_t *err);

/* The same for a trace held in memory, as ar_trace_parse reads it. */
int ar_replay_stream_text(const char *text, size_t len,
                          ar_replay_target_t *targets, size_t count,
                          ar_replay_log_fn log, void *log_arg,
                          uint64_t *parse_ns, ar_trace_error_t *err);

/* Fills *err for operation i of `t`, an `a` whose id is still live, as
 * ar_replay_run reports it (the line of i, and that of the live `a`), and
 * returns AR_EINVAL: for replays that run a trace their own way. */
int ar_replay_live_id(const ar_trace_t *t, size_t i, ar_trace_error_t *err);

#endif /* AR_TRACE_H */
