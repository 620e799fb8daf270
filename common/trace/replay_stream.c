/*
 * replay_stream.c: a trace replayed window by window while it is parsed
 * (ar_replay_stream). The parser streams (ar__parser_stream): each time its
 * window of operations fills, it hands the window here, and every engine's
 * replayer (replay.c) runs it before the parser writes the next window
 * over it. So a trace of any length costs the memory of its live ids and
 * one window, and the operations are read while still in the caches,
 * where loading a whole trace first writes 24 bytes an operation to fresh
 * memory that the kernel must clear.
 *
 * The time spent in each engine's replay is measured around each window;
 * the rest of the call is reading and parsing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ar/error.h"
#include "trace_internal.h"

/* One streamed replay: the parser, and a replayer per target (owned). */
typedef struct stream_s {
  ar__parser_t ps;
  ar_replay_target_t *targets; /* the caller's */
  ar__replayer_t *rs;          /* count of them; malloc'd */
  size_t count;
} stream_t;

/* The gaps (trace_internal.h) kept at least, before lines are forgotten:
 * 64 KiB of them. */
#define GAPS_KEPT ((size_t)4096)

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t parser_line(const void *ps, size_t i) {
  return ar__parser_line(ps, i);
}

/* Whether an id is live depends on the policy (an allocation fails under
 * one and not another), so with several engines the message of an `a` of
 * a live id says under which one it is, and that all of them stop. */
static void name_the_policy(ar_trace_error_t *err, const ar__replayer_t *r) {
  size_t len = strlen(err->msg);
  snprintf(err->msg + len, sizeof err->msg - len,
           " under policy %s, where the other policies stop too",
           ar_policy_name(ar_engine_policy(r->e)));
}

/*
 * The parser's drain: ops[0..n) on every engine. The replay stops at the
 * earliest operation that stops any engine (an `a` of an id that is live
 * under one policy only, say), and the first engine, which writes the log,
 * must not log past it. So the others go first, each only as far as the
 * earliest stop found so far, and the first engine last, as far as that.
 * Of engines that stop at the same operation the error names the first in
 * the caller's order (a later one does not reach it; the first engine is
 * asked whether it would stop there too).
 */
static int replay_window(void *arg, const ar_trace_op_t *ops, size_t n,
                         size_t first, ar_trace_error_t *err) {
  stream_t *s = arg;
  size_t nslots = s->ps.t->info.nslots; /* every slot of the window < it */
  size_t upto = n; /* the operations before the earliest stop so far */
  ar__replayer_t *stopped = NULL;
  for (size_t k = 1; k <= s->count; k++) {
    size_t i = k % s->count; /* 1, ..., count - 1, then 0 */
    ar__replayer_t *r = &s->rs[i];
    if (ar__replayer_reserve(r, nslots) < 0)
      return ar__trace_fail(err, AR_ENOMEM, 0, "out of memory for %zu slots",
                            nslots);
    uint64_t t0 = now_ns();
    int rc = ar__replay_window(r, ops, upto, first);
    s->targets[i].replay_ns += now_ns() - t0;
    if (rc < 0) {
      upto = r->stop_op - first;
      stopped = r;
    } else if (i == 0 && stopped != NULL &&
               ar__replay_stops_at(r, &ops[upto], first + upto)) {
      stopped = r;
    }
  }
  if (stopped != NULL) {
    int rc = ar__replay_explain(stopped, &ops[upto], parser_line, &s->ps, err);
    if (s->count > 1 && stopped->stop == AR__STOP_LIVE_ID)
      name_the_policy(err, stopped);
    return rc;
  }
  /* The gaps that name the lines grow with the trace when comments or
   * blank lines come between its operations: once they outnumber the
   * slots, the lines of the live blocks' `a`s are noted (what an error
   * may still name of the operations before this window's end), and the
   * rest forgotten. So they stay in proportion to the ids live at once. */
  if (s->ps.t->ngaps > GAPS_KEPT && s->ps.t->ngaps > nslots) {
    for (size_t i = 0; i < s->count; i++)
      ar__replay_note_lines(&s->rs[i], parser_line, &s->ps);
    ar__parser_forget_lines(&s->ps, first + n);
  }
  return AR_OK;
}

/* Sets up s for targets[0..count). Returns 0 or AR_ENOMEM; stream_fini
 * frees what was set up in either case. */
static int stream_init(stream_t *s, ar_replay_target_t *targets, size_t count,
                       ar_replay_log_fn log, void *log_arg) {
  memset(s, 0, sizeof *s);
  s->targets = targets;
  if (ar__parser_init(&s->ps) < 0)
    return AR_ENOMEM;
  s->rs = calloc(count ? count : 1, sizeof *s->rs);
  if (s->rs == NULL ||
      ar__parser_stream(&s->ps, AR__WINDOW_OPS, replay_window, s) < 0)
    return AR_ENOMEM;
  for (; s->count < count; s->count++) {
    targets[s->count].replay_ns = 0;
    ar_replay_log_fn lf = s->count == 0 ? log : NULL;
    if (ar__replayer_init(&s->rs[s->count], targets[s->count].engine, 0, true,
                          lf, log_arg) < 0)
      return AR_ENOMEM;
  }
  return AR_OK;
}

static void stream_fini(stream_t *s) {
  for (size_t i = 0; i < s->count; i++)
    ar__replayer_fini(&s->rs[i]);
  free(s->rs);
  ar__parser_fini(&s->ps);
}

/* Replays what the parser holds of its window after reading ended with
 * `rc`. After an error too: the operations parsed before the bad line (or
 * the read error) are replayed, so that the log has every line before it,
 * and an error that the replay finds among them (an `a` of a live id) is
 * reported instead, as it comes first in the text. After an error that
 * the drain itself returned, the window is empty already. */
static int flush_after(ar__parser_t *ps, int rc, ar_trace_error_t *err) {
  if (rc == AR_OK)
    return ar__parser_flush(ps, err);
  ar_trace_error_t earlier;
  int frc = ar__parser_flush(ps, err != NULL ? &earlier : NULL);
  if (frc == AR_OK)
    return rc;
  if (err != NULL)
    *err = earlier;
  return frc;
}

/* The streamed replay of the file at path, or else of text[0..len). */
static int stream(const char *path, const char *text, size_t len,
                  ar_replay_target_t *targets, size_t count,
                  ar_replay_log_fn log, void *log_arg, uint64_t *parse_ns,
                  ar_trace_error_t *err) {
  if (count > 0 && targets == NULL)
    return ar__trace_fail(err, AR_EINVAL, 0, "no engines");
  for (size_t i = 0; i < count; i++)
    if (targets[i].engine == NULL)
      return ar__trace_fail(err, AR_EINVAL, 0, "no engine for target %zu", i);

  uint64_t t0 = now_ns();
  stream_t s;
  int rc = stream_init(&s, targets, count, log, log_arg);
  if (rc < 0) {
    stream_fini(&s);
    return ar__trace_fail(err, rc, 0, "out of memory");
  }
  if (path != NULL) {
    rc = ar__load_into(path, &s.ps, err);
  } else {
    size_t used;
    rc = ar__parser_feed(&s.ps, text, len, true, &used, err);
  }
  rc = flush_after(&s.ps, rc, err);
  if (rc == AR_OK) {
    ar_trace_info_t info = s.ps.t->info;
    info.nops = ar__parser_nops(&s.ps);
    info.nlines = s.ps.line;
    uint64_t replaying = 0;
    for (size_t i = 0; i < count; i++) {
      ar__replay_summary(&s.rs[i], &info, &targets[i].sum);
      replaying += targets[i].replay_ns;
    }
    if (parse_ns != NULL)
      *parse_ns = now_ns() - t0 - replaying;
    ar__trace_ok(err);
  }
  stream_fini(&s);
  return rc;
}

int ar_replay_stream(const char *path, ar_replay_target_t *targets,
                     size_t count, ar_replay_log_fn log, void *log_arg,
                     uint64_t *parse_ns, ar_trace_error_t *err) {
  if (path == NULL)
    return ar__trace_fail(err, AR_EINVAL, 0, "no path");
  return stream(path, NULL, 0, targets, count, log, log_arg, parse_ns, err);
}

int ar_replay_stream_text(const char *text, size_t len,
                          ar_replay_target_t *targets, size_t count,
                          ar_replay_log_fn log, void *log_arg,
                          uint64_t *parse_ns, ar_trace_error_t *err) {
  if (text == NULL && len > 0)
    return ar__trace_fail(err, AR_EINVAL, 0, "no text");
  return stream(NULL, text == NULL ? "" : text, len, targets, count, log,
                log_arg, parse_ns, err);
}
