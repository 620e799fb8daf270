/*
 * cmd_replay.c: `arenactl replay`, the offline replay of an allocation
 * trace on one placement policy, or on all five for a comparison. It reads
 * the options, creates a fresh engine per policy (without arena memory:
 * offsets only), and streams the trace through all of them at once
 * (ar_replay_stream: a window of operations parsed, then placed by each
 * engine, and so on, so that no trace is ever held whole), writes the
 * replay log when asked, and hands the figures to replay_report.c to be
 * printed; the log, the messages and the printing go through replay_io.c,
 * which the replay through the daemon shares. Each engine's placing is
 * timed apart from the reading and parsing.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "ar/engine.h"
#include "ar/error.h"
#include "ar/trace.h"
#include "ar/util.h"
#include "arenactl.h"

static void usage(FILE *out) {
  fprintf(out,
          "usage: arenactl replay --policy POLICY --arena-size SIZE\n"
          "                       [--placements FILE] [--json] TRACE\n"
          "\n"
          "Replays TRACE (a trace file of the placement model, plain or\n"
          "gzip, or - for standard input) on a policy engine and prints the\n"
          "summary: a table, or JSON with --json.\n"
          "\n"
          "  --policy POLICY     first, next, best, worst, buddy, or all to\n"
          "                      compare the five in one table\n"
          "  --arena-size SIZE   arena bytes, with an optional K, M or G\n"
          "                      suffix (powers of 1024; KiB, MiB, GiB too);\n"
          "                      a multiple of 4096, and a power of two for\n"
          "                      buddy (with all, buddy's row then says it\n"
          "                      did not run)\n"
          "  --placements FILE   write the replay log, one '<id> <offset>'\n"
          "                      line per allocation (-1 when it failed), to\n"
          "                      FILE (- for standard output, and the\n"
          "                      summary to standard error); one policy\n"
          "                      only\n"
          "  --json              print the summary as JSON\n"
          "\n"
          "'arenactl replay --via-daemon ARENA TRACE' replays through a\n"
          "running daemon instead (see 'arenactl replay --via-daemon x\n"
          "--help').\n"
          "\n"
          "Exit status: 0 on success, 1 when the replay fails (an unreadable\n"
          "or invalid trace, the message naming the line; or no memory\n"
          "for the engine's index, which for buddy is 1/128 of the arena\n"
          "size), 2 on a usage error.\n");
}

/* ---- options ----------------------------------------------------------- */

typedef struct options_s {
  const char *policy; /* a name, or "all" */
  const char *arena;  /* as written */
  uint64_t arena_size;
  const char *placements; /* NULL: no log */
  bool json;
  const char *trace;
} options_t;

/* Parses the command line into *o. Returns ARENACTL_OK, or an exit code
 * (after printing why, or the help). */
static int parse_options(int argc, char **argv, options_t *o) {
  static const struct option longopts[] = {
      {"policy", required_argument, NULL, 'p'},
      {"arena-size", required_argument, NULL, 's'},
      {"placements", required_argument, NULL, 'o'},
      {"json", no_argument, NULL, 'j'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  memset(o, 0, sizeof *o);
  optind = 0;
  int c;
  while ((c = ar__ctl_getopt(argc, argv, longopts)) != -1) {
    switch (c) {
    case 'p':
      o->policy = optarg;
      break;
    case 's':
      o->arena = optarg;
      break;
    case 'o':
      o->placements = optarg;
      break;
    case 'j':
      o->json = true;
      break;
    case 'h':
      usage(stdout);
      return -1;
    default:
      return ar__ctl_bad_option(c, argv, usage);
    }
  }
  if (ar__replay_take_trace(optind, argc, argv, usage, &o->trace) != 0)
    return ARENACTL_USAGE;
  if (o->policy == NULL || o->arena == NULL) {
    fprintf(stderr, "arenactl replay: --policy and --arena-size are "
                    "required\n");
    usage(stderr);
    return ARENACTL_USAGE;
  }
  int rc = ar_parse_size(o->arena, &o->arena_size);
  if (rc < 0) {
    fprintf(stderr, "arenactl replay: invalid --arena-size '%s' (%s)\n",
            o->arena, ar__ctl_size_why(rc));
    return ARENACTL_USAGE;
  }
  ar_policy_t p;
  if (strcmp(o->policy, "all") != 0 && ar_policy_parse(o->policy, &p) < 0) {
    fprintf(stderr,
            "arenactl replay: unknown policy '%s' (first, next, best, "
            "worst, buddy or all)\n",
            o->policy);
    return ARENACTL_USAGE;
  }
  if (o->placements != NULL && strcmp(o->policy, "all") == 0) {
    fprintf(stderr, "arenactl replay: --placements needs one policy, not "
                    "all\n");
    return ARENACTL_USAGE;
  }
  return ar__replay_check_stdout(o->placements, o->json);
}

/* ---- running ------------------------------------------------------------- */

/* Creates the engines to run, in *engines[0..*count), one a policy. With
 * --policy all, a size buddy refuses, or bitsets too large for memory,
 * leave buddy's engine NULL and its result saying why, so that the list
 * policies still run. Returns an exit code. */
static int create_engines(const options_t *o, ar_engine_t **engines,
                          ar__replay_result_t *results, size_t *count) {
  ar_policy_t first = AR_POLICY_FIRST, last = AR_POLICY_BUDDY;
  bool all = strcmp(o->policy, "all") == 0;
  if (!all) {
    (void)ar_policy_parse(o->policy, &first);
    last = first;
  }
  *count = 0;
  for (int p = (int)first; p <= (int)last; p++) {
    int rc = ar_engine_create((ar_policy_t)p, o->arena_size, NULL,
                              &engines[*count]);
    /* The list engines took this size, so buddy refuses it for the one
     * rule that is its own: a power of two. */
    if ((rc == AR_EINVAL || rc == AR_EINTERNAL) && all &&
        p == AR_POLICY_BUDDY) {
      results[*count].sum.policy = AR_POLICY_BUDDY;
      snprintf(results[*count].not_run, sizeof results[*count].not_run,
               rc == AR_EINVAL ? "%s is not a power of two"
                               : "no memory for the bitsets of a %s arena "
                                 "(1/128 of its size)",
               o->arena);
      rc = 0;
    }
    if (rc < 0) {
      if (rc == AR_EINVAL)
        fprintf(stderr,
                "arenactl replay: arena size %s is not valid for %s: it "
                "must be a non-zero multiple of 4096 up to 2^48%s\n",
                o->arena, ar_policy_name((ar_policy_t)p),
                p == AR_POLICY_BUDDY ? ", and a power of two" : "");
      else if (rc == AR_EINTERNAL)
        fprintf(stderr,
                "arenactl replay: no memory for the %s engine's index of a "
                "%s arena%s\n",
                ar_policy_name((ar_policy_t)p), o->arena,
                p == AR_POLICY_BUDDY ? " (buddy reserves 1/128 of the arena "
                                       "size for its bitsets up front)"
                                     : "");
      else
        fprintf(stderr, "arenactl replay: cannot create the %s engine: %s\n",
                ar_policy_name((ar_policy_t)p), ar_strerror(rc));
      return rc == AR_EINVAL ? ARENACTL_USAGE : ARENACTL_FAIL;
    }
    (*count)++;
  }
  return ARENACTL_OK;
}

/* Reads and replays the trace on every engine at once, window by window
 * (ar_replay_stream), and fills the results and the report's timing and
 * counts. Returns an exit code. */
static int run_all(const options_t *o, ar_engine_t **engines, size_t count,
                   ar__replay_result_t *results, ar__replay_report_t *report) {
  ar_replay_target_t targets[AR_POLICY_COUNT];
  size_t which[AR_POLICY_COUNT]; /* targets[j] is results[which[j]] */
  size_t ntargets = 0;
  for (size_t i = 0; i < count; i++) {
    if (engines[i] == NULL)
      continue; /* not run: results[i] says why */
    targets[ntargets] = (ar_replay_target_t){.engine = engines[i]};
    which[ntargets++] = i;
  }
  ar__replay_log_t *lf = NULL;
  if (o->placements != NULL) {
    int code = ar__replay_log_open(o->placements, o->trace, &lf);
    if (code != ARENACTL_OK)
      return code;
    if (ar__replay_trace_live(o->trace))
      ar__replay_log_follow(lf);
  }
  ar_trace_error_t err;
  uint64_t parse_ns = 0;
  int rc =
      ar_replay_stream(o->trace, targets, ntargets,
                       lf ? ar__replay_log_write : NULL, lf, &parse_ns, &err);
  /* A failed write of the log is said by its close. */
  if (rc < 0 && (lf == NULL || !ar__replay_log_failed(lf)))
    ar__replay_error(o->trace, &err);
  int closed = ar__replay_log_close(lf);
  if (rc < 0)
    return ARENACTL_FAIL;
  for (size_t j = 0; j < ntargets; j++) {
    results[which[j]].sum = targets[j].sum;
    results[which[j]].replay_ns = (double)targets[j].replay_ns;
  }
  report->trace = o->trace;
  report->parse_ns = (double)parse_ns;
  report->nops = ntargets > 0 ? targets[0].sum.operations : 0;
  return closed;
}

/* Whether the command line asks for the replay through a daemon: an
 * option --via-daemon (or --via-daemon=ARENA) before any "--", which is
 * not the value of an option that takes one (so a trace or a log file
 * may be named "--via-daemon"). */
static bool via_daemon(int argc, char **argv) {
  static const char *const with_value[] = {"--policy", "--arena-size",
                                           "--placements", "--window"};
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--") == 0)
      return false;
    if (strncmp(a, "--via-daemon", 12) == 0 && (a[12] == '\0' || a[12] == '='))
      return true;
    for (size_t k = 0; k < sizeof with_value / sizeof with_value[0]; k++)
      if (strcmp(a, with_value[k]) == 0) {
        i++; /* its value */
        break;
      }
  }
  return false;
}

int ar__cmd_replay(int argc, char **argv) {
  /* Through a running daemon: cmd_replay_daemon.c. */
  if (via_daemon(argc, argv))
    return ar__cmd_replay_daemon(argc, argv);

  options_t o;
  int code = parse_options(argc, argv, &o);
  if (code != ARENACTL_OK)
    return code < 0 ? ARENACTL_OK : code; /* -1: the help was asked for */

  ar_engine_t *engines[AR_POLICY_COUNT] = {0};
  ar__replay_result_t results[AR_POLICY_COUNT];
  memset(results, 0, sizeof results);
  size_t count = 0;
  code = create_engines(&o, engines, results, &count);
  ar__replay_report_t report = {.logged = o.placements != NULL};
  if (code == ARENACTL_OK)
    code = run_all(&o, engines, count, results, &report);
  if (code == ARENACTL_OK) {
    report.arena_size = o.arena_size;
    report.results = results;
    report.nresults = count;
    code = ar__replay_print(&report, o.json, o.placements);
  }
  for (size_t i = 0; i < count; i++)
    ar_engine_destroy(engines[i]);
  return code;
}
