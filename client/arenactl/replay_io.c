/*
 * replay_io.c: the files of `arenactl replay` that the offline replay
 * (cmd_replay.c) and the replay through the daemon (cmd_replay_daemon.c)
 * both read and write, so that the two name them, report their errors and
 * print their summary the same way: loading the trace (timed), the replay
 * log of placements (buffered, to a file or standard output; written out
 * every 100 ms too while the trace comes from a pipe, so that whoever reads
 * the log follows the replay), and the summary through replay_report.c's
 * renderers. Messages go to standard
 * error, prefixed "arenactl replay: ".
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ar/error.h"
#include "arenactl.h"

bool ar__replay_is_stdio(const char *name) { return strcmp(name, "-") == 0; }

/* How messages name a file: as given, or the standard stream "-" means. */
static const char *file_name(const char *name, const char *stdio_name) {
  return ar__replay_is_stdio(name) ? stdio_name : name;
}

int ar__replay_take_trace(int first, int argc, char **argv,
                          void (*usage)(FILE *), const char **trace) {
  if (first != argc - 1) {
    fprintf(stderr, first == argc ? "arenactl replay: no TRACE given\n"
                                  : "arenactl replay: more than one TRACE\n");
    usage(stderr);
    return ARENACTL_USAGE;
  }
  *trace = argv[first];
  return ARENACTL_OK;
}

int ar__replay_check_stdout(const char *placements, bool json) {
  if (placements != NULL && ar__replay_is_stdio(placements) && json) {
    fprintf(stderr, "arenactl replay: --placements - and --json would both "
                    "write to standard output\n");
    return ARENACTL_USAGE;
  }
  return ARENACTL_OK;
}

void ar__replay_trace_fail(const char *trace, const char *msg) {
  fprintf(stderr, "arenactl replay: %s: %s\n",
          file_name(trace, "standard input"), msg);
}

int ar__replay_load(const char *trace, ar_trace_t **out,
                    ar__replay_report_t *report) {
  ar_trace_error_t err;
  double t0 = ar__ctl_now_ns();
  int rc = ar_trace_load(trace, out, &err);
  report->parse_ns = ar__ctl_now_ns() - t0;
  report->trace = trace;
  if (rc == 0) {
    ar_trace_info_t info;
    ar_trace_info(*out, &info);
    report->nops = info.nops;
    return ARENACTL_OK;
  }
  ar__replay_error(trace, &err);
  return ARENACTL_FAIL;
}

void ar__replay_error(const char *trace, const ar_trace_error_t *err) {
  /* A message about no line (the file cannot be opened or read, no
   * memory) names the file itself when it is about it. */
  if (err->line != 0)
    ar__replay_trace_fail(trace, err->msg);
  else
    fprintf(stderr, "arenactl replay: %s\n", err->msg);
}

/* ---- the replay log -------------------------------------------------------
 */

/* Buffered writing of the log: one fwrite per 64 KiB, not per line. When
 * it follows a live trace (ar__replay_log_follow), a thread of its own
 * also writes out what is waiting every FOLLOW_MS, under mu. */
struct ar__replay_log_s {
  FILE *fp;         /* opened here, or stdout (not closed) */
  const char *name; /* the caller's, for messages */
  int err;          /* errno of the first failed write, or 0 */
  bool following;   /* the thread runs: buf, len, err and fp under mu */
  bool stop;        /* tells the thread to end */
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t cv; /* signalled with stop */
  size_t len;        /* bytes waiting in buf */
  char buf[1 << 16];
};

#define FOLLOW_MS 100

/* Whether the log file `name` is the trace file itself, under this name or
 * another: creating the log would empty the trace. */
static bool is_the_trace(const char *name, const char *trace) {
  struct stat a, b;
  if (ar__replay_is_stdio(name) || ar__replay_is_stdio(trace))
    return false;
  return stat(name, &a) == 0 && stat(trace, &b) == 0 && a.st_dev == b.st_dev &&
         a.st_ino == b.st_ino;
}

int ar__replay_log_open(const char *name, const char *trace,
                        ar__replay_log_t **out) {
  *out = NULL;
  if (is_the_trace(name, trace)) {
    fprintf(stderr,
            "arenactl replay: --placements %s is the trace itself, which "
            "writing the log would destroy\n",
            name);
    return ARENACTL_USAGE;
  }
  ar__replay_log_t *lf = malloc(sizeof *lf);
  if (lf == NULL) {
    fprintf(stderr, "arenactl replay: out of memory\n");
    return ARENACTL_FAIL;
  }
  memset(lf, 0, offsetof(ar__replay_log_t, buf));
  lf->name = name;
  lf->fp = ar__replay_is_stdio(name) ? stdout : fopen(name, "w");
  if (lf->fp == NULL) {
    fprintf(stderr, "arenactl replay: cannot create %s: %s\n", name,
            strerror(errno));
    free(lf);
    return ARENACTL_FAIL;
  }
  pthread_mutex_init(&lf->mu, NULL);
  /* The follower's waits are timed on the monotonic clock, so that setting
   * the wall clock back does not hold the log up. */
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&lf->cv, &ca);
  pthread_condattr_destroy(&ca);
  *out = lf;
  return ARENACTL_OK;
}

/* Writes out what is buffered. Returns AR_OK, or AR_EIO once a write has
 * failed (lf->err says why). */
static int flush_log(ar__replay_log_t *lf) {
  if (lf->len > 0 && lf->err == 0 &&
      fwrite(lf->buf, 1, lf->len, lf->fp) != lf->len)
    lf->err = errno ? errno : EIO;
  lf->len = 0;
  return lf->err ? AR_EIO : AR_OK;
}

/* Adds a line to buf, writing buf out first when it is full. Returns
 * AR_OK, or AR_EIO once a write has failed (the thread's too). */
static int append(ar__replay_log_t *lf, const ar_replay_line_t *ln) {
  if ((sizeof lf->buf - lf->len < ln->len && flush_log(lf) < 0) || lf->err)
    return AR_EIO;
  memcpy(lf->buf + lf->len, ln->text, ln->len);
  lf->len += ln->len;
  return AR_OK;
}

int ar__replay_log_write(void *log, const ar_replay_line_t *ln) {
  ar__replay_log_t *lf = log;
  if (!lf->following)
    return append(lf, ln);
  pthread_mutex_lock(&lf->mu);
  int rc = append(lf, ln);
  pthread_mutex_unlock(&lf->mu);
  return rc;
}

/* The follower: every FOLLOW_MS, what is waiting goes out to the file,
 * through stdio's buffer too, until told to stop. */
static void *follow(void *arg) {
  ar__replay_log_t *lf = arg;
  pthread_mutex_lock(&lf->mu);
  while (!lf->stop) {
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_nsec += FOLLOW_MS * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
      until.tv_sec++;
      until.tv_nsec -= 1000000000L;
    }
    while (!lf->stop &&
           pthread_cond_timedwait(&lf->cv, &lf->mu, &until) != ETIMEDOUT)
      ;
    if (!lf->stop && flush_log(lf) == AR_OK && fflush(lf->fp) != 0)
      lf->err = errno ? errno : EIO;
  }
  pthread_mutex_unlock(&lf->mu);
  return NULL;
}

bool ar__replay_trace_live(const char *trace) {
  struct stat st;
  int rc =
      ar__replay_is_stdio(trace) ? fstat(STDIN_FILENO, &st) : stat(trace, &st);
  return rc == 0 && !S_ISREG(st.st_mode);
}

void ar__replay_log_follow(ar__replay_log_t *lf) {
  /* Without the thread the log is written at the end, as for a file. */
  lf->following = pthread_create(&lf->thread, NULL, follow, lf) == 0;
}

bool ar__replay_log_failed(ar__replay_log_t *lf) {
  if (!lf->following)
    return lf->err != 0;
  pthread_mutex_lock(&lf->mu);
  bool failed = lf->err != 0;
  pthread_mutex_unlock(&lf->mu);
  return failed;
}

int ar__replay_log_close(ar__replay_log_t *lf) {
  if (lf == NULL)
    return ARENACTL_OK;
  if (lf->following) {
    pthread_mutex_lock(&lf->mu);
    lf->stop = true;
    pthread_cond_signal(&lf->cv);
    pthread_mutex_unlock(&lf->mu);
    pthread_join(lf->thread, NULL);
  }
  pthread_cond_destroy(&lf->cv);
  pthread_mutex_destroy(&lf->mu);
  (void)flush_log(lf);
  if (lf->err == 0 && fflush(lf->fp) != 0)
    lf->err = errno ? errno : EIO;
  if (lf->fp != stdout && fclose(lf->fp) != 0 && lf->err == 0)
    lf->err = errno ? errno : EIO;
  int code = ARENACTL_OK;
  if (lf->err != 0) {
    fprintf(stderr, "arenactl replay: cannot write %s: %s\n",
            file_name(lf->name, "standard output"), strerror(lf->err));
    code = ARENACTL_FAIL;
  }
  free(lf);
  return code;
}

/* ---- the summary ----------------------------------------------------------
 */

int ar__replay_print(const ar__replay_report_t *r, bool json,
                     const char *placements) {
  /* JSON and a log on standard output are refused before the replay. */
  FILE *out =
      placements != NULL && ar__replay_is_stdio(placements) ? stderr : stdout;
  int w = json ? ar__replay_print_json(out, r) : ar__replay_print_table(out, r);
  if (w < 0 || fflush(out) != 0) {
    fprintf(stderr, "arenactl replay: cannot write the summary: %s\n",
            strerror(errno));
    return ARENACTL_FAIL;
  }
  return ARENACTL_OK;
}
