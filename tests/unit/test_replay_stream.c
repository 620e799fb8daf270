/*
 * test_replay_stream.c: the streamed replay (ar_replay_stream and
 * ar_replay_stream_text), which parses a window of operations at a time
 * and places it on every engine before parsing on. It must be the replay
 * of the whole trace in every respect: the same log, the same summaries,
 * the same errors naming the same lines, also when what an error names
 * (a line, the live allocation an `a` repeats) lies windows back. The
 * traces here run to many windows (a window is a few thousand
 * operations), with comments, blank lines, odd spacing, skipped frees and
 * failed allocations spread through them.
 */
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <zlib.h>

#include "ar/engine.h"
#include "ar/error.h"
#include "ar/trace.h"
#include "asan.h"
#include "lcg.h"
#include "test_data.h"
#include "trace_check.h"

/* ---- helpers ---------------------------------------------------------- */

/* Text that grows; owned by the test that made it. */
typedef struct buf_s {
  char *p;
  size_t len, cap;
} buf_t;

static void put(buf_t *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char line[128];
  int n = vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  assert_true(n > 0 && (size_t)n < sizeof line);
  if (b->cap - b->len < (size_t)n + 1) {
    b->cap = (b->cap + (size_t)n + 1) * 2;
    b->p = realloc(b->p, b->cap);
    assert_non_null(b->p);
  }
  memcpy(b->p + b->len, line, (size_t)n + 1);
  b->len += (size_t)n;
}

/*
 * A random valid trace of about `nops` operations: ids allocated and freed
 * with short and long lifetimes, some frees of ids not live (skipped),
 * some ids reallocated after being freed, sizes from 1 byte to 6 KiB (so
 * that a small arena fails some allocations), and now and then a comment,
 * a blank line or a line written with tabs, a sign and leading zeros.
 */
static buf_t random_trace(uint64_t seed, size_t nops) {
  buf_t b = {0};
  int64_t *live = calloc(nops + 1, sizeof *live);
  assert_non_null(live);
  size_t nlive = 0;
  int64_t next_id = 1;
  uint64_t s = seed;
  put(&b, "# a random trace, seed %llu\n", (unsigned long long)seed);
  for (size_t i = 0; i < nops; i++) {
    uint64_t r = next_rand(&s) % 100;
    if (r < 2)
      put(&b, r == 0 ? "\n" : "  # a comment\n");
    if (nlive > 0 && next_rand(&s) % 100 < 45) {
      /* free: mostly a recent block, sometimes an old one */
      size_t k = next_rand(&s) % 4
                     ? nlive - 1 - next_rand(&s) % (nlive < 8 ? nlive : 8)
                     : next_rand(&s) % nlive;
      put(&b, r == 3 ? "f\t%lld \r\n" : "f %lld\n", (long long)live[k]);
      live[k] = live[--nlive];
    } else if (r == 4) {
      put(&b, "f %lld\n", (long long)(next_id + 1000000)); /* not live */
    } else {
      uint64_t n = next_rand(&s) % 10 ? 1 + next_rand(&s) % 200
                                      : 1 + next_rand(&s) % 6144;
      int64_t id = r == 5 ? -next_id : next_id;
      next_id++;
      put(&b, r == 6 ? "a  %lld\t00%llu\n" : "a %lld %llu\n", (long long)id,
          (unsigned long long)n);
      live[nlive++] = id;
    }
  }
  free(live);
  return b;
}

/* The replay log, collected. */
static int collect(void *arg, const ar_replay_line_t *ln) {
  buf_t *b = arg;
  put(b, "%zu:%s", ln->op, ln->text);
  return AR_OK;
}

static void assert_same_summary(const ar_replay_summary_t *a,
                                const ar_replay_summary_t *b) {
  assert_int_equal(a->policy, b->policy);
  assert_int_equal(a->arena_size, b->arena_size);
  assert_int_equal(a->operations, b->operations);
  assert_int_equal(a->allocations, b->allocations);
  assert_int_equal(a->failed_allocs, b->failed_allocs);
  assert_int_equal(a->frees, b->frees);
  assert_int_equal(a->skipped_frees, b->skipped_frees);
  assert_int_equal(a->hwm, b->hwm);
  assert_int_equal(a->peak_live, b->peak_live);
  assert_int_equal(a->peak_blocks, b->peak_blocks);
  assert_int_equal(a->live_blocks, b->live_blocks);
  assert_int_equal(a->free_bytes, b->free_bytes);
  assert_int_equal(a->free_intervals, b->free_intervals);
  assert_int_equal(a->largest_free, b->largest_free);
  assert_int_equal(a->memory_peak, b->memory_peak);
}

/* Two replay logs, line for line. */
static void assert_same_log(const buf_t *got, const buf_t *want) {
  assert_int_equal(got->len, want->len);
  assert_memory_equal(got->p, want->p, want->len);
}

/* The whole-trace replay of text on a fresh engine: its log in *log, its
 * summary in *sum, its error in *err; returns its code. */
static int replay_whole(const buf_t *text, ar_policy_t p, uint64_t size,
                        buf_t *log, ar_replay_summary_t *sum,
                        ar_trace_error_t *err) {
  ar_trace_t *t = NULL;
  int rc = ar_trace_parse(text->p, text->len, &t, err);
  if (rc == AR_OK) {
    ar_engine_t *e = new_engine(p, size);
    rc = ar_replay_run(t, e, collect, log, sum, err);
    ar_engine_destroy(e);
  }
  ar_trace_destroy(t);
  return rc;
}

/* Streams text through one fresh engine per policy of `policies`
 * (AR_POLICY_COUNT: all five), the log taken from the first. */
static int replay_streamed(const buf_t *text, const ar_policy_t *policies,
                           size_t count, uint64_t size, buf_t *log,
                           ar_replay_target_t *targets, ar_trace_error_t *err) {
  for (size_t i = 0; i < count; i++)
    targets[i] = (ar_replay_target_t){.engine = new_engine(policies[i], size)};
  uint64_t parse_ns = 0;
  int rc = ar_replay_stream_text(text->p, text->len, targets, count, collect,
                                 log, &parse_ns, err);
  if (rc == AR_OK)
    assert_true(parse_ns > 0);
  for (size_t i = 0; i < count; i++)
    ar_engine_destroy(targets[i].engine);
  return rc;
}

static const ar_policy_t all[AR_POLICY_COUNT] = {
    AR_POLICY_FIRST, AR_POLICY_NEXT, AR_POLICY_BEST, AR_POLICY_WORST,
    AR_POLICY_BUDDY};

/* ---- tests ------------------------------------------------------------ */

/* Random traces of many windows, at a size where nothing fails and at one
 * where allocations fail: every policy, streamed all five at once, gives
 * the whole replay's summary, and the first its log, line for line. */
static void test_same_as_whole(void **state) {
  (void)state;
  const uint64_t sizes[] = {UINT64_C(64) << 20, UINT64_C(256) << 10};
  for (uint64_t seed = 1; seed <= 3; seed++) {
    buf_t text = random_trace(seed * 7919, 30000);
    for (size_t z = 0; z < 2; z++) {
      ar_replay_target_t targets[AR_POLICY_COUNT];
      buf_t slog = {0};
      ar_trace_error_t err;
      if (replay_streamed(&text, all, AR_POLICY_COUNT, sizes[z], &slog, targets,
                          &err) != AR_OK)
        fail_msg("streamed: %s", err.msg);
      for (int p = 0; p < AR_POLICY_COUNT; p++) {
        buf_t wlog = {0};
        ar_replay_summary_t want;
        if (replay_whole(&text, all[p], sizes[z], &wlog, &want, &err) != AR_OK)
          fail_msg("whole: %s", err.msg);
        assert_same_summary(&targets[p].sum, &want);
        if (p == 0) { /* the log is the first engine's */
          assert_same_log(&slog, &wlog);
        }
        free(wlog.p);
      }
      /* the small arena made some fail; the traces skip some frees */
      assert_true(z == 0 ? targets[0].sum.failed_allocs == 0
                         : targets[0].sum.failed_allocs > 0);
      assert_true(targets[0].sum.skipped_frees > 0);
      free(slog.p);
    }
    free(text.p);
  }
}

/* An id live under one policy and not another (its allocation failed
 * there): with several engines, the error names the policy under which it
 * is live, whichever engine replays first. */
static void test_live_id_names_the_policy(void **state) {
  (void)state;
  static const char text[] = "a 1 16\na 2 3000\na 2 16\n";
  ar_replay_target_t tg[2] = {
      {.engine = new_engine(AR_POLICY_BUDDY, 4096)}, /* 3000: fails */
      {.engine = new_engine(AR_POLICY_FIRST, 4096)},
  };
  ar_trace_error_t err;
  assert_int_equal(
      ar_replay_stream_text(text, strlen(text), tg, 2, NULL, NULL, NULL, &err),
      AR_EINVAL);
  assert_int_equal(err.line, 3);
  assert_string_equal(err.msg, "line 3: 'a' of id 2, which is still live "
                               "(allocated at line 2): invalid trace under "
                               "policy first, where the other policies stop "
                               "too");
  for (int i = 0; i < 2; i++)
    ar_engine_destroy(tg[i].engine);
  /* One engine: the message as it was. */
  ar_replay_target_t one = {.engine = new_engine(AR_POLICY_FIRST, 4096)};
  assert_int_equal(ar_replay_stream_text(text, strlen(text), &one, 1, NULL,
                                         NULL, NULL, &err),
                   AR_EINVAL);
  assert_string_equal(err.msg, "line 3: 'a' of id 2, which is still live "
                               "(allocated at line 2): invalid trace");
  ar_engine_destroy(one.engine);
}

/* Ids live under one engine only stop the replay at the earliest such `a`
 * of all engines, even when a later engine finds it: the error names that
 * line and engine, and the log (the first engine's) ends before it. Where
 * two engines stop at the same `a`, the first in the caller's order is
 * named. */
static void test_earliest_stop_of_all_engines(void **state) {
  (void)state;
  /* 6000 bytes fit the second arena only: id 1 is live there, so line 2
   * stops it; the first stops at line 4. */
  static const char text[] = "a 1 6000\na 1 16\na 2 16\na 2 16\n";
  ar_replay_target_t tg[2] = {
      {.engine = new_engine(AR_POLICY_BEST, 4096)},
      {.engine = new_engine(AR_POLICY_FIRST, 8192)},
  };
  buf_t log = {0};
  ar_trace_error_t err;
  assert_int_equal(ar_replay_stream_text(text, strlen(text), tg, 2, collect,
                                         &log, NULL, &err),
                   AR_EINVAL);
  assert_int_equal(err.line, 2);
  assert_string_equal(err.msg, "line 2: 'a' of id 1, which is still live "
                               "(allocated at line 1): invalid trace under "
                               "policy first, where the other policies stop "
                               "too");
  assert_int_equal(log.len, strlen("0:1 -1\n")); /* op 0's line alone */
  assert_memory_equal(log.p, "0:1 -1\n", log.len);
  for (int i = 0; i < 2; i++)
    ar_engine_destroy(tg[i].engine);

  /* Both stop at line 2: the first engine is named. */
  static const char tie[] = "a 1 16\na 1 16\n";
  ar_replay_target_t both[2] = {
      {.engine = new_engine(AR_POLICY_BUDDY, 4096)},
      {.engine = new_engine(AR_POLICY_FIRST, 4096)},
  };
  log.len = 0;
  assert_int_equal(ar_replay_stream_text(tie, strlen(tie), both, 2, collect,
                                         &log, NULL, &err),
                   AR_EINVAL);
  assert_string_equal(err.msg, "line 2: 'a' of id 1, which is still live "
                               "(allocated at line 1): invalid trace under "
                               "policy buddy, where the other policies stop "
                               "too");
  assert_int_equal(log.len, strlen("0:1 16\n"));
  assert_memory_equal(log.p, "0:1 16\n", log.len);
  for (int i = 0; i < 2; i++)
    ar_engine_destroy(both[i].engine);
  free(log.p);
}

/* An `a` of a live id whose allocation lies many windows back: the error
 * names both lines, exactly as the whole replay does, and the engine has
 * placed everything before it. */
static void test_live_id_far_back(void **state) {
  (void)state;
  buf_t text = {0};
  put(&text, "# header\n\n");
  uint64_t line = 2, alloc_line = 0;
  for (int i = 0; i < 10000; i++) {
    if (i == 5000) { /* windows in, with gaps before and after it */
      put(&text, "a 7 100\n");
      alloc_line = ++line;
    }
    put(&text, "a %d 32\n", 100 + i);
    if (i % 1000 == 0) {
      put(&text, "# comment\n");
      line++;
    }
    put(&text, "f %d\n", 100 + i);
    line += 2;
  }
  put(&text, "a 7 50\n");
  line++;
  ar_trace_error_t werr, serr;
  ar_replay_summary_t sum;
  buf_t wlog = {0}, slog = {0};
  for (int p = 0; p < AR_POLICY_COUNT; p++) {
    wlog.len = slog.len = 0;
    assert_int_equal(replay_whole(&text, all[p], 1 << 20, &wlog, &sum, &werr),
                     AR_EINVAL);
    ar_replay_target_t tg;
    assert_int_equal(
        replay_streamed(&text, &all[p], 1, 1 << 20, &slog, &tg, &serr),
        AR_EINVAL);
    char at[64];
    snprintf(at, sizeof at, "allocated at line %llu",
             (unsigned long long)alloc_line);
    assert_int_equal(serr.line, line);
    assert_int_equal(serr.line, werr.line);
    assert_string_equal(serr.msg, werr.msg);
    assert_non_null(strstr(serr.msg, at));
    assert_same_log(&slog, &wlog); /* every `a` before it logged */
  }
  free(wlog.p);
  free(slog.p);
  free(text.p);
}

/* The heap in use, mmap'd blocks included: glibc's count, or under
 * AddressSanitizer, whose allocator glibc's count does not see, its own. */
#if AR_TEST_UNDER_ASAN
size_t __sanitizer_get_current_allocated_bytes(void);
static size_t heap_in_use(void) {
  return __sanitizer_get_current_allocated_bytes();
}
#else
static size_t heap_in_use(void) {
  struct mallinfo2 mi = mallinfo2();
  return mi.uordblks + mi.hblkhd;
}
#endif

/* The heap in use when the first `a` from op 10000 on is logged, and the
 * most after that. */
typedef struct heap_watch_s {
  size_t at_start, most;
} heap_watch_t;

static int watch_heap(void *arg, const ar_replay_line_t *ln) {
  heap_watch_t *w = arg;
  size_t now = heap_in_use();
  if (ln->op >= 10000 && w->at_start == 0)
    w->at_start = now;
  if (ln->op >= 10000 && now > w->most)
    w->most = now;
  return AR_OK;
}

/* A comment before every operation, for many windows: what the replay
 * keeps to name lines does not grow with the trace (before, one gap an
 * operation), and an `a` of an id allocated windows back still names the
 * line of its live allocation. */
static void test_comments_between_ops(void **state) {
  (void)state;
  buf_t text = {0};
  put(&text, "# header\na 7 100\n"); /* line 2 */
  uint64_t line = 2;
  for (int i = 0; i < 200000; i++) {
    put(&text, "# c\na %d 32\n# c\nf %d\n", 100 + i, 100 + i);
    line += 4;
  }
  put(&text, "a 7 50\n");
  line++;
  heap_watch_t w = {0};
  ar_replay_target_t tg = {.engine = new_engine(AR_POLICY_FIRST, 1 << 20)};
  ar_trace_error_t err;
  assert_int_equal(ar_replay_stream_text(text.p, text.len, &tg, 1, watch_heap,
                                         &w, NULL, &err),
                   AR_EINVAL);
  ar_engine_destroy(tg.engine);
  assert_int_equal(err.line, line);
  assert_non_null(strstr(err.msg, "allocated at line 2)"));
  assert_true(w.at_start > 0);
  if (w.most > w.at_start + (64 << 10))
    fail_msg("the heap grew by %zu bytes from operation 10000 on",
             w.most - w.at_start);
  free(text.p);
}

/* The heap in use when the first line is logged. */
static int heap_at_log(void *arg, const ar_replay_line_t *ln) {
  (void)ln;
  size_t *at = arg;
  if (*at == 0)
    *at = heap_in_use();
  return AR_OK;
}

/* A comment line, and a blank one, far longer than the chunks a file is
 * read in: the parser keeps of each only what it needs (before, the whole
 * line, as long as it is). */
static void test_long_comment_line(void **state) {
  (void)state;
  const size_t len = (size_t)32 << 20;
  char *text = malloc(len + 32);
  assert_non_null(text);
  size_t n = 0;
  memset(text + n, ' ', len / 2);
  n += len / 2;
  text[n++] = '\n';
  text[n++] = '#';
  memset(text + n, 'x', len / 2);
  n += len / 2;
  memcpy(text + n, "\na 1 16\n", 8);
  n += 8;
  int fd = memfd_create("long-comment.trace", MFD_CLOEXEC);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, text, n), (ssize_t)n);
  free(text);
  char path[64];
  snprintf(path, sizeof path, "/proc/self/fd/%d", fd);

  size_t before = heap_in_use(), at = 0;
  ar_replay_target_t tg = {.engine = new_engine(AR_POLICY_FIRST, 1 << 20)};
  ar_trace_error_t err;
  if (ar_replay_stream(path, &tg, 1, heap_at_log, &at, NULL, &err) != AR_OK)
    fail_msg("%s", err.msg);
  ar_engine_destroy(tg.engine);
  close(fd);
  assert_int_equal(tg.sum.operations, 1);
  if (at > before + ((size_t)4 << 20))
    fail_msg("the heap grew by %zu bytes for two lines of 16 MiB", at - before);
}

/* A syntax error windows into the trace: the streamed replay reports the
 * parser's error for that line, after replaying everything before it, the
 * part of its own window included: its log is the whole replay's of the
 * lines before the error. */
static void test_syntax_error_late(void **state) {
  (void)state;
  buf_t text = random_trace(42, 9000); /* the last window partly full */
  ar_trace_error_t perr, serr;
  buf_t wlog = {0};
  ar_replay_summary_t wsum;
  assert_int_equal(
      replay_whole(&text, AR_POLICY_FIRST, 1 << 20, &wlog, &wsum, &perr),
      AR_OK);
  size_t lines = 0;
  for (size_t i = 0; i < text.len; i++)
    lines += text.p[i] == '\n';
  put(&text, "a 1 0\n"); /* n = 0 is invalid */
  ar_trace_t *t = NULL;
  assert_int_equal(ar_trace_parse(text.p, text.len, &t, &perr), AR_EINVAL);
  assert_int_equal(perr.line, lines + 1);
  ar_replay_target_t tg;
  buf_t slog = {0};
  assert_int_equal(replay_streamed(&text, all, 1, 1 << 20, &slog, &tg, &serr),
                   AR_EINVAL);
  assert_int_equal(serr.line, perr.line);
  assert_string_equal(serr.msg, perr.msg);
  assert_same_log(&slog, &wlog);
  free(wlog.p);
  free(slog.p);
  free(text.p);
}

/* Of two errors, the one earlier in the text is reported, also when the
 * later one is the parser's and the earlier one the replay's (an `a` of a
 * live id in the same window): what was parsed is replayed first. */
static void test_earlier_error_wins(void **state) {
  (void)state;
  buf_t text = {0};
  put(&text, "a 1 16\na 1 16\nbad\n");
  ar_replay_target_t tg;
  buf_t slog = {0};
  ar_trace_error_t err;
  assert_int_equal(replay_streamed(&text, all, 1, 1 << 20, &slog, &tg, &err),
                   AR_EINVAL);
  assert_int_equal(err.line, 2);
  assert_non_null(strstr(err.msg, "still live"));
  assert_string_equal(slog.p, "0:1 16\n");
  free(slog.p);
  free(text.p);
}

/* A log callback that stops the replay in a later window stops it there,
 * with its code and that operation's line. */
static int stop_at_5000(void *arg, const ar_replay_line_t *ln) {
  (void)arg;
  return ln->op == 5000 ? AR_EIO : AR_OK;
}

static void test_log_stops(void **state) {
  (void)state;
  buf_t text = {0};
  for (int i = 0; i < 6000; i++)
    put(&text, "a %d 10\n", i);
  ar_engine_t *e = new_engine(AR_POLICY_NEXT, 1 << 20);
  ar_replay_target_t tg = {.engine = e};
  ar_trace_error_t err;
  assert_int_equal(ar_replay_stream_text(text.p, text.len, &tg, 1, stop_at_5000,
                                         NULL, NULL, &err),
                   AR_EIO);
  assert_int_equal(err.line, 5001);
  ar_engine_stats_t st;
  ar_engine_stats(e, &st);
  assert_int_equal(st.live_blocks, 5001);
  ar_engine_destroy(e);
  free(text.p);
}

/* A trace still being written to a pipe: the replay keeps up with it. The
 * writer sends ten allocations and, holding the pipe open, waits until
 * the replay has logged all ten; then it sends a bad line, which the
 * replay must report, and return, while the pipe is still open. The text
 * goes as it is, or gzip'd: in one member flushed after each line (the
 * member never ends), or in a member per line. */
enum { LIVE_PLAIN, LIVE_GZIP_FLUSHED, LIVE_GZIP_MEMBERS };

typedef struct live_s {
  int mode;   /* LIVE_* */
  int fd;     /* the pipe's write end; the writer closes it */
  z_stream z; /* LIVE_GZIP_FLUSHED: the member being written */
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int logged;         /* lines the replay has logged */
  bool done;          /* the replay has returned */
  bool kept_up;       /* the writer saw all ten logged in time */
  bool stopped_early; /* the replay returned with the pipe still open */
} live_t;

static void write_all(int fd, const void *p, size_t len) {
  assert_int_equal(write(fd, p, len), (ssize_t)len);
}

/* Sends one line of the trace, in lv's mode; a gzip member's piece is
 * flushed, so that all of the line can be inflated from what is sent. */
static void send_line(live_t *lv, const char *text) {
  size_t len = strlen(text);
  if (lv->mode == LIVE_PLAIN) {
    write_all(lv->fd, text, len);
    return;
  }
  bool member = lv->mode == LIVE_GZIP_MEMBERS;
  if (member || lv->z.state == NULL) /* 31: a gzip wrapper */
    assert_int_equal(
        deflateInit2(&lv->z, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY), Z_OK);
  unsigned char out[256];
  lv->z.next_in = (unsigned char *)text;
  lv->z.avail_in = (unsigned)len;
  lv->z.next_out = out;
  lv->z.avail_out = sizeof out;
  int zrc = deflate(&lv->z, member ? Z_FINISH : Z_SYNC_FLUSH);
  assert_int_equal(zrc, member ? Z_STREAM_END : Z_OK);
  write_all(lv->fd, out, sizeof out - lv->z.avail_out);
  if (member)
    deflateEnd(&lv->z);
}

/* Waits (at most 10 s) until cond(lv) holds; returns whether it does. */
static bool wait_for(live_t *lv, bool (*cond)(const live_t *)) {
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += 10;
  pthread_mutex_lock(&lv->mu);
  while (!cond(lv) && pthread_cond_timedwait(&lv->cv, &lv->mu, &until) == 0)
    ;
  bool ok = cond(lv);
  pthread_mutex_unlock(&lv->mu);
  return ok;
}

static bool ten_logged(const live_t *lv) { return lv->logged >= 10; }
static bool replay_done(const live_t *lv) { return lv->done; }

static void *live_writer(void *arg) {
  live_t *lv = arg;
  for (int i = 1; i <= 10; i++) {
    char line[32];
    snprintf(line, sizeof line, "a %d 16\n", i);
    send_line(lv, line);
  }
  lv->kept_up = wait_for(lv, ten_logged);
  send_line(lv, "a 11 0\n");                     /* invalid: n = 0 */
  lv->stopped_early = wait_for(lv, replay_done); /* the pipe open */
  close(lv->fd);
  if (lv->mode == LIVE_GZIP_FLUSHED)
    deflateEnd(&lv->z);
  return NULL;
}

static int count_live(void *arg, const ar_replay_line_t *ln) {
  (void)ln;
  live_t *lv = arg;
  pthread_mutex_lock(&lv->mu);
  lv->logged++;
  pthread_cond_broadcast(&lv->cv);
  pthread_mutex_unlock(&lv->mu);
  return AR_OK;
}

/* Lowers the soft limit on descriptors so that the next one opened is the
 * last one allowed; *saved gets the limit to restore. */
static void leave_one_descriptor(struct rlimit *saved) {
  int next = fcntl(STDERR_FILENO, F_DUPFD, 0); /* the lowest number free */
  assert_true(next >= 0);
  close(next);
  assert_int_equal(getrlimit(RLIMIT_NOFILE, saved), 0);
  struct rlimit lim = {.rlim_cur = (rlim_t)next + 1,
                       .rlim_max = saved->rlim_max};
  assert_int_equal(setrlimit(RLIMIT_NOFILE, &lim), 0);
}

/* The replay of a pipe in `mode`; with `tight`, with room for the
 * trace's descriptor alone, so that the loader cannot make the pipe that
 * stops its reader. */
static void live_pipe(int mode, bool tight) {
  int p[2];
  assert_int_equal(pipe(p), 0);
  live_t lv = {.mode = mode, .fd = p[1]};
  pthread_mutex_init(&lv.mu, NULL);
  pthread_cond_init(&lv.cv, NULL);
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, live_writer, &lv), 0);

  char path[64];
  snprintf(path, sizeof path, "/proc/self/fd/%d", p[0]);
  ar_replay_target_t tg = {.engine = new_engine(AR_POLICY_FIRST, 1 << 20)};
  ar_trace_error_t err;
  struct rlimit saved;
  if (tight)
    leave_one_descriptor(&saved);
  int rc = ar_replay_stream(path, &tg, 1, count_live, &lv, NULL, &err);
  if (tight)
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &saved), 0);
  pthread_mutex_lock(&lv.mu);
  lv.done = true;
  pthread_cond_broadcast(&lv.cv);
  pthread_mutex_unlock(&lv.mu);
  pthread_join(th, NULL);
  close(p[0]);
  ar_engine_destroy(tg.engine);
  pthread_cond_destroy(&lv.cv);
  pthread_mutex_destroy(&lv.mu);

  if (!lv.kept_up || !lv.stopped_early)
    fail_msg("mode %d%s: the ten lines %s placed while the pipe was open, "
             "and the replay %s return before the writer closed it",
             mode, tight ? " (no descriptor to spare)" : "",
             lv.kept_up ? "were" : "were not",
             lv.stopped_early ? "did" : "did not");
  assert_int_equal(rc, AR_EINVAL);
  assert_int_equal(err.line, 11);
  assert_int_equal(lv.logged, 10);
}

static void test_live_pipe(void **state) {
  (void)state;
  live_pipe(LIVE_PLAIN, false);
  live_pipe(LIVE_GZIP_FLUSHED, false);
  live_pipe(LIVE_GZIP_MEMBERS, false);
}

/* The same when no descriptor is left for the pipe that tells the
 * loader's reader thread to stop: the replay must still return at the bad
 * line, not when the writer closes the pipe (before, a reader thread back
 * in read() by then blocked the join until the writer closed it; whether
 * it was back is a race, hence the rounds). */
static void test_live_pipe_no_descriptor_to_spare(void **state) {
  (void)state;
  for (int round = 0; round < 4; round++) {
    live_pipe(LIVE_PLAIN, true);
    live_pipe(LIVE_GZIP_FLUSHED, true);
    live_pipe(LIVE_GZIP_MEMBERS, true);
  }
}

/* The public traces, streamed from their .gz files through all five
 * engines at once: the whole replay's summaries, and parse and replay
 * times that add up to no more than the call took. */
static void test_public_traces(void **state) {
  (void)state;
  const char *names[] = {"python3-compileall-email", "git-gc-perllib",
                         "sqlite3-shop", "troff-bash-manpage"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s.trace.gz", ar_test_data_dir(), names[i]);
    ar_replay_target_t tg[AR_POLICY_COUNT];
    for (int p = 0; p < AR_POLICY_COUNT; p++)
      tg[p] = (ar_replay_target_t){.engine =
                                       new_engine(all[p], UINT64_C(256) << 20)};
    ar_trace_error_t err;
    uint64_t parse_ns = 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (ar_replay_stream(path, tg, AR_POLICY_COUNT, NULL, NULL, &parse_ns,
                         &err) != AR_OK)
      fail_msg("%s: %s", path, err.msg);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_true(parse_ns > 0);
    /* The parse time is the call's time less the engines' replay times:
     * the three fit in the call. */
    uint64_t wall = (uint64_t)(t1.tv_sec - t0.tv_sec) * 1000000000u +
                    (uint64_t)t1.tv_nsec - (uint64_t)t0.tv_nsec;
    uint64_t spent = parse_ns;
    for (int p = 0; p < AR_POLICY_COUNT; p++)
      spent += tg[p].replay_ns;
    if (spent > wall)
      fail_msg("%s: parse %llu ns and the replays add up to %llu ns, more "
               "than the call's %llu ns",
               path, (unsigned long long)parse_ns, (unsigned long long)spent,
               (unsigned long long)wall);

    ar_trace_t *t = NULL;
    if (ar_trace_load(path, &t, &err) != AR_OK)
      fail_msg("%s: %s", path, err.msg);
    for (int p = 0; p < AR_POLICY_COUNT; p++) {
      ar_engine_t *e = new_engine(all[p], UINT64_C(256) << 20);
      ar_replay_summary_t want;
      assert_int_equal(ar_replay_run(t, e, NULL, NULL, &want, &err), AR_OK);
      assert_same_summary(&tg[p].sum, &want);
      assert_true(tg[p].replay_ns > 0);
      ar_engine_destroy(e);
      ar_engine_destroy(tg[p].engine);
    }
    ar_trace_destroy(t);
  }
}

/* With no engine it only parses; bad arguments and files are errors. */
static void test_parse_only_and_errors(void **state) {
  (void)state;
  ar_trace_error_t err;
  uint64_t ns = 0;
  assert_int_equal(
      ar_replay_stream_text("a 1 1\nf 1\n", 10, NULL, 0, NULL, NULL, &ns, &err),
      AR_OK);
  assert_int_equal(
      ar_replay_stream_text("a 1 1\nf\n", 8, NULL, 0, NULL, NULL, NULL, &err),
      AR_EINVAL);
  assert_int_equal(err.line, 2);
  assert_int_equal(
      ar_replay_stream_text(NULL, 3, NULL, 0, NULL, NULL, NULL, &err),
      AR_EINVAL);
  assert_int_equal(
      ar_replay_stream_text(NULL, 0, NULL, 0, NULL, NULL, NULL, &err),
      AR_OK); /* an empty trace */
  assert_int_equal(ar_replay_stream(NULL, NULL, 0, NULL, NULL, NULL, &err),
                   AR_EINVAL);
  assert_int_equal(
      ar_replay_stream("/nonexistent/trace", NULL, 0, NULL, NULL, NULL, &err),
      AR_EIO);
  ar_replay_target_t tg = {.engine = NULL};
  assert_int_equal(
      ar_replay_stream_text("a 1 1\n", 6, &tg, 1, NULL, NULL, NULL, &err),
      AR_EINVAL);
  assert_int_equal(
      ar_replay_stream_text("a 1 1\n", 6, NULL, 1, NULL, NULL, NULL, &err),
      AR_EINVAL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_same_as_whole),
      cmocka_unit_test(test_live_id_far_back),
      cmocka_unit_test(test_live_id_names_the_policy),
      cmocka_unit_test(test_earliest_stop_of_all_engines),
      cmocka_unit_test(test_comments_between_ops),
      cmocka_unit_test(test_long_comment_line),
      cmocka_unit_test(test_syntax_error_late),
      cmocka_unit_test(test_earlier_error_wins),
      cmocka_unit_test(test_log_stops),
      cmocka_unit_test(test_live_pipe),
      cmocka_unit_test(test_live_pipe_no_descriptor_to_spare),
      cmocka_unit_test(test_public_traces),
      cmocka_unit_test(test_parse_only_and_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
