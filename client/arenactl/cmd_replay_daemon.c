/*
 * cmd_replay_daemon.c: `arenactl replay --via-daemon ARENA TRACE`, the
 * trace replayed through a running daemon instead of an engine in this
 * process. The trace is parsed by the same code as the offline replay
 * (ar/trace.h), each `a` becomes one alloc request of one block with the
 * default alignment, each `f` of a live id one free request, and the log
 * has the offline replay's format ("<id> <offset>\n", -1 for a failed
 * allocation), so that on a fresh arena of the same size and policy the
 * two logs are identical byte for byte.
 *
 * Requests are pipelined: up to --window of them are in flight, and since
 * the daemon answers in order and places blocks in request order, the
 * placements are those of one request at a time. Only a free of a block
 * whose alloc is still in flight waits, for that reply, since its offset
 * is not known before; in traces where blocks die young that is most
 * frees, and the replay runs at one round trip per free.
 *
 * With --predict it does not wait: an engine of the arena's policy and
 * size runs here in step with the daemon (placement is deterministic), the
 * free goes out at once with the offset it predicts, and every alloc reply
 * is checked against the prediction; the first difference stops the
 * replay. That needs a fresh arena that nobody else uses meanwhile (a
 * wrong prediction would free some other block), so it is refused on an
 * arena that is not fresh, and it is not the default.
 *
 * The summary is read from the daemon's arena after the last reply and
 * printed by the offline replay's renderers.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ar/engine.h"
#include "ar/error.h"
#include "ar/trace.h"
#include "arenactl.h"
#include "ctl.h"

/* A slot whose alloc is in flight. Payload offsets are never this. */
#define PENDING UINT64_MAX

static void usage(FILE *out) {
  fprintf(out,
          "usage: arenactl [--socket PATH] replay --via-daemon ARENA\n"
          "                [--placements FILE] [--window N] [--predict]\n"
          "                [--json] TRACE\n"
          "\n"
          "Replays TRACE through the daemon on ARENA, one alloc or free\n"
          "request per operation (pipelined, N in flight, default 256),\n"
          "and prints the summary like the offline replay. On a fresh\n"
          "arena (no block ever allocated) the placements equal those of\n"
          "'arenactl replay --policy P --arena-size S' for the arena's\n"
          "policy P and size S.\n"
          "\n"
          "  --placements FILE   write the replay log, '<id> <offset>' per\n"
          "                      allocation (-1 when it failed), to FILE (-\n"
          "                      for standard output, and the summary to\n"
          "                      standard error)\n"
          "  --window N          requests in flight, from 1; a larger N than\n"
          "                      the daemon's limit is reduced to it, with\n"
          "                      a notice on standard error\n"
          "  --predict           do not wait for an alloc's reply to free its\n"
          "                      block: predict the offset with a local\n"
          "                      engine and check every reply against it\n"
          "                      (a fresh arena that nobody else uses only)\n"
          "  --json              print the summary as JSON\n");
}

typedef struct options_s {
  const char *arena;
  const char *placements;
  const char *trace;
  uint64_t window;
  bool window_given; /* --window, not the default */
  bool json;
  bool predict;
} options_t;

static int parse_options(int argc, char **argv, options_t *o) {
  static const struct option longopts[] = {
      {"via-daemon", required_argument, NULL, 'd'},
      {"placements", required_argument, NULL, 'o'},
      {"window", required_argument, NULL, 'w'},
      {"json", no_argument, NULL, 'j'},
      {"predict", no_argument, NULL, 'p'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  memset(o, 0, sizeof *o);
  o->window = 256;
  optind = 0;
  int c;
  while ((c = ar__ctl_getopt(argc, argv, longopts)) != -1) {
    switch (c) {
    case 'd':
      o->arena = optarg;
      if (ar__ctl_arena_arg("replay", o->arena) != ARENACTL_OK)
        return ARENACTL_USAGE;
      break;
    case 'o':
      o->placements = optarg;
      break;
    case 'w':
      if (ar__ctl_parse_u64(optarg, &o->window) < 0 || o->window == 0) {
        fprintf(stderr,
                "arenactl replay: invalid --window '%s' (a count, at least "
                "1)\n",
                optarg);
        return ARENACTL_USAGE;
      }
      o->window_given = true;
      break;
    case 'j':
      o->json = true;
      break;
    case 'p':
      o->predict = true;
      break;
    case 'h':
      usage(stdout);
      return -1;
    case ':':
      return ar__ctl_bad_option(c, argv, usage);
    default:
      /* An unknown letter (optind may still be on its cluster) or a value
       * given to an option that takes none: named as every command names
       * them. An unknown long option (optopt 0) may be the offline
       * replay's. */
      if (optopt != 0)
        return ar__ctl_bad_option(c, argv, usage);
      fprintf(stderr,
              "arenactl replay: unknown option '%s' with --via-daemon (the "
              "daemon's arena gives the policy and size)\n",
              argv[optind - 1]);
      usage(stderr);
      return ARENACTL_USAGE;
    }
  }
  if (ar__replay_take_trace(optind, argc, argv, usage, &o->trace) != 0)
    return ARENACTL_USAGE;
  return ar__replay_check_stdout(o->placements, o->json);
}

/* The state of one replay. */
typedef struct replay_s {
  arenad_t *h;
  const char *arena;
  size_t window; /* requests in flight at most */
  ar_trace_t *t; /* owned */
  const ar_trace_op_t *ops;
  /* Per slot: the live block's offset, 0, or PENDING. With a predicting
   * engine: the predicted offset of the live block, or 0 (never PENDING). */
  uint64_t *payload;
  ar_engine_t *engine; /* the predicting engine, or NULL */
  /* The predictions of the allocs in flight, oldest first (replies come
   * in order): a ring of `cap` entries, 0 for a predicted failure. */
  uint64_t *pred;
  size_t pred_cap, pred_head, pred_len;
  ar__replay_log_t *log; /* NULL: no log */
  uint64_t failed, frees, skipped;
  char msg[512]; /* why it stopped */
} replay_t;

/* Writes "<id> <offset>" of op i to the log, when there is one. Returns 0,
 * or -1 when writing failed (the log's close says why). */
static int log_line(replay_t *r, const ar_trace_op_t *op, size_t i,
                    int64_t offset) {
  if (r->log == NULL)
    return 0;
  char text[48];
  int len = snprintf(text, sizeof text, "%lld %lld\n", (long long)op->id,
                     (long long)offset);
  ar_replay_line_t ln = {.id = op->id,
                         .offset = offset,
                         .op = i,
                         .text = text,
                         .len = (size_t)len};
  if (ar__replay_log_write(r->log, &ln) < 0) {
    snprintf(r->msg, sizeof r->msg, "writing the placements failed");
    return -1;
  }
  return 0;
}

/* Collects the oldest reply and applies it. Returns 0, or -1 with r->msg
 * set. */
static int collect_one(replay_t *r) {
  arenad_result_t res;
  int rc = arenad_collect(r->h, &res);
  if (rc < 0) {
    snprintf(r->msg, sizeof r->msg, "%s", arenad_error(r->h));
    return -1;
  }
  const ar_trace_op_t *op = &r->ops[res.tag];
  uint64_t line = ar_trace_line(r->t, (size_t)res.tag);
  if (res.op == ARENAD_OP_FREE) {
    if (res.status == 0)
      return 0;
    snprintf(r->msg, sizeof r->msg,
             "line %llu: the daemon refused to free the block of id %lld: "
             "%s",
             (unsigned long long)line, (long long)op->id,
             arenad_error(r->h));
    return -1;
  }
  int64_t offset = -1;
  if (res.status == 0) {
    offset = (int64_t)res.offsets[0];
  } else if (res.status == AR_ENOMEM) {
    r->failed++;
  } else {
    snprintf(r->msg, sizeof r->msg,
             "line %llu: the daemon refused to allocate %llu bytes: %s",
             (unsigned long long)line, (unsigned long long)op->n,
             arenad_error(r->h));
    return -1;
  }
  if (r->engine != NULL) {
    uint64_t want = r->pred[r->pred_head];
    r->pred_head = (r->pred_head + 1) % r->pred_cap;
    r->pred_len--;
    if ((offset < 0 && want != 0) || (offset >= 0 && (uint64_t)offset != want)) {
      snprintf(r->msg, sizeof r->msg,
               "line %llu: the daemon placed id %lld at %lld, the local "
               "engine at %lld: the arena is not fresh or another client "
               "used it (replay without --predict)",
               (unsigned long long)line, (long long)op->id, (long long)offset,
               want != 0 ? (long long)want : -1LL);
      return -1;
    }
  } else {
    r->payload[op->slot] = offset >= 0 ? (uint64_t)offset : 0;
  }
  return log_line(r, op, (size_t)res.tag, offset);
}

/* Collects until slot's alloc is answered. */
static int resolve(replay_t *r, uint32_t slot) {
  while (r->payload[slot] == PENDING)
    if (collect_one(r) < 0)
      return -1;
  return 0;
}

/* Submits, collecting first while the pipeline is full. */
static int submit(replay_t *r, const ar_trace_op_t *op, size_t i) {
  for (;;) {
    if (arenad_in_flight(r->h) >= r->window && collect_one(r) < 0)
      return -1;
    int rc = op->kind == AR_TRACE_ALLOC
                 ? arenad_submit_alloc(r->h, r->arena, op->n, 0, 1, 0, i)
                 : arenad_submit_free(r->h, r->arena, &r->payload[op->slot],
                                      1, i);
    if (rc == 0)
      return 0;
    if (rc != AR_ELIMIT || arenad_in_flight(r->h) == 0) {
      snprintf(r->msg, sizeof r->msg, "%s", arenad_error(r->h));
      return -1;
    }
    if (collect_one(r) < 0)
      return -1;
  }
}

/* With the predicting engine: places the alloc of op i locally and
 * remembers the prediction for its reply. Returns 0 or -1 with r->msg. */
static int predict_alloc(replay_t *r, const ar_trace_op_t *op, size_t i) {
  ar_block_t blk;
  int rc = ar_engine_alloc(r->engine, op->n, AR_ALIGN_MIN, &blk);
  if (rc < 0 && rc != AR_ENOMEM) {
    snprintf(r->msg, sizeof r->msg, "line %llu: the local engine failed: %s",
             (unsigned long long)ar_trace_line(r->t, i), ar_strerror(rc));
    return -1;
  }
  uint64_t off = rc == 0 ? blk.payload : 0;
  r->pred[(r->pred_head + r->pred_len) % r->pred_cap] = off;
  r->pred_len++;
  r->payload[op->slot] = off;
  return 0;
}

/* Stops the replay at op i, an `a` of an id whose block is live: collects
 * the replies still in flight first, so that the log holds the line of
 * every `a` before it, as the offline replay's does, and says so in the
 * offline replay's words (ar_replay_live_id). Returns -1 with r->msg
 * set. */
static int live_id(replay_t *r, size_t i) {
  while (arenad_in_flight(r->h) > 0)
    if (collect_one(r) < 0)
      return -1;
  ar_trace_error_t err;
  ar_replay_live_id(r->t, i, &err);
  snprintf(r->msg, sizeof r->msg, "%s", err.msg);
  return -1;
}

/* Runs the whole trace. Returns 0 or -1 with r->msg set. */
static int run(replay_t *r) {
  ar_trace_info_t info;
  ar_trace_info(r->t, &info);
  for (size_t i = 0; i < info.nops; i++) {
    const ar_trace_op_t *op = &r->ops[i];
    if (op->kind == AR_TRACE_FREE) {
      if (op->slot == AR_TRACE_NO_SLOT) {
        r->skipped++;
        continue;
      }
      if (resolve(r, op->slot) < 0)
        return -1;
      if (r->payload[op->slot] == 0) {
        r->skipped++;
        continue;
      }
      if (submit(r, op, i) < 0)
        return -1;
      if (r->engine != NULL &&
          ar_engine_free(r->engine, r->payload[op->slot], NULL, NULL) < 0) {
        snprintf(r->msg, sizeof r->msg,
                 "line %llu: the local engine cannot free %llu",
                 (unsigned long long)ar_trace_line(r->t, i),
                 (unsigned long long)r->payload[op->slot]);
        return -1;
      }
      r->payload[op->slot] = 0;
      r->frees++;
      continue;
    }
    if (resolve(r, op->slot) < 0)
      return -1;
    if (r->payload[op->slot] != 0)
      return live_id(r, i);
    if (submit(r, op, i) < 0)
      return -1;
    if (r->engine == NULL)
      r->payload[op->slot] = PENDING;
    else if (predict_alloc(r, op, i) < 0)
      return -1;
  }
  while (arenad_in_flight(r->h) > 0)
    if (collect_one(r) < 0)
      return -1;
  return 0;
}

/* The offline replay's summary, from the daemon's figures for the arena
 * (the engine's stats, as the protocol carries them) and the replay's own
 * counts. */
static void fill_summary(const replay_t *r, const arenad_summary_t *s,
                         ar_replay_summary_t *sum) {
  ar_engine_stats_t st = {
      .policy = AR_POLICY_FIRST,
      .size = s->size,
      .hwm = s->hwm,
      .peak_requested = s->peak_requested,
      .peak_used = s->peak_used,
      .live_blocks = s->live_blocks,
      .free_bytes = s->free_bytes,
      .free_extents = s->free_extents,
      .largest_free = s->largest_free,
      .peak_meta_bytes = s->peak_meta_bytes,
  };
  (void)ar_policy_parse(arenad_policy_name(s->policy), &st.policy);
  ar_replay_summarize(r->t, &st, r->failed, r->frees, r->skipped, sum);
}

/* Reads the summary of arena `arena` into *out (its name left NULL: the
 * name belongs to the page). Returns 0 or a code. */
static int arena_summary(arenad_t *h, const char *arena,
                         arenad_summary_t *out) {
  arenad_page_t *page;
  int rc = arenad_inspect(h, arena, ARENAD_INSPECT_SUMMARY, 0, 0, &page);
  if (rc < 0)
    return rc;
  *out = page->summary;
  out->name = NULL; /* belongs to the page */
  arenad_page_destroy(page);
  return 0;
}

/* Connects, and takes the window: the daemon's, or --window when smaller;
 * a larger --window is reduced with a notice (ar__ctl_window). Returns an
 * exit code. */
static int connect_daemon(replay_t *r, const options_t *o) {
  r->h = ar__ctl_connect("replay", NULL);
  if (r->h == NULL)
    return ARENACTL_FAIL;
  r->window = ar__ctl_window("replay", r->h, o->window, o->window_given);
  return ARENACTL_OK;
}

/* Reads the arena's summary into *before and checks that the arena is
 * fresh (no block ever allocated): --predict refuses an arena that is
 * not, the default mode warns. Returns an exit code. */
static int check_fresh(const replay_t *r, const options_t *o,
                       arenad_summary_t *before) {
  int rc = arena_summary(r->h, o->arena, before);
  if (rc < 0)
    return ar__ctl_fail("replay", r->h, rc, o->arena);
  if (before->allocs == 0 && before->live_blocks == 0)
    return ARENACTL_OK;
  if (o->predict) {
    fprintf(stderr,
            "arenactl replay: --predict needs a fresh arena, and %s has had "
            "%llu allocation%s\n",
            o->arena, (unsigned long long)before->allocs,
            before->allocs == 1 ? "" : "s");
    return ARENACTL_FAIL;
  }
  fprintf(stderr,
          "arenactl replay: warning: arena %s is not fresh (%llu block%s "
          "allocated since the daemon started, %llu live): the "
          "placements may differ from an offline replay, and the hwm, "
          "peaks and fragmentation figures are the arena's since it was "
          "made\n",
          o->arena, (unsigned long long)before->allocs,
          before->allocs == 1 ? "" : "s",
          (unsigned long long)before->live_blocks);
  return ARENACTL_OK;
}

/* Makes the state of the trace's slots (its live ids). Returns an exit
 * code. */
static int alloc_slots(replay_t *r) {
  ar_trace_info_t info;
  ar_trace_info(r->t, &info);
  r->ops = ar_trace_ops(r->t);
  r->payload = calloc(info.nslots ? info.nslots : 1, sizeof *r->payload);
  if (r->payload == NULL) {
    fprintf(stderr, "arenactl replay: out of memory for %u slots\n",
            (unsigned)info.nslots);
    return ARENACTL_FAIL;
  }
  return ARENACTL_OK;
}

/* For --predict: an engine of the arena's policy and size, and the ring
 * of the predictions in flight. Returns an exit code. */
static int setup_predictor(replay_t *r, const arenad_summary_t *before) {
  ar_policy_t policy;
  int rc = ar_policy_parse(arenad_policy_name(before->policy), &policy);
  if (rc == 0)
    rc = ar_engine_create(policy, before->size, NULL, &r->engine);
  r->pred_cap = r->window + 1;
  r->pred = malloc(r->pred_cap * sizeof *r->pred);
  if (rc < 0 || r->pred == NULL) {
    fprintf(stderr,
            "arenactl replay: cannot make a %s engine of %llu "
            "bytes to predict with\n",
            arenad_policy_name(before->policy),
            (unsigned long long)before->size);
    return ARENACTL_FAIL;
  }
  return ARENACTL_OK;
}

/* Runs the replay, timed into *replay_ns, and closes the log. Returns an
 * exit code, after saying why it failed. */
static int replay(replay_t *r, const options_t *o, double *replay_ns) {
  double t0 = ar__ctl_now_ns();
  int rc = run(r);
  *replay_ns = ar__ctl_now_ns() - t0;
  bool log_failed = r->log != NULL && ar__replay_log_failed(r->log);
  int code = ar__replay_log_close(r->log);
  r->log = NULL;
  if (rc < 0) {
    if (!log_failed) /* else the close said why */
      ar__replay_trace_fail(o->trace, r->msg);
    code = ARENACTL_FAIL;
  }
  return code;
}

/* Reads the arena's summary after the replay into *result and prints the
 * report, whose loading figures are filled. The report borrows result, so
 * the caller keeps it as long as the report. Returns an exit code. */
static int print_report(const replay_t *r, const options_t *o, double replay_ns,
                        ar__replay_result_t *result,
                        ar__replay_report_t *report) {
  /* The summary before this connection goes, taking its blocks along. */
  arenad_summary_t after;
  int rc = arena_summary(r->h, o->arena, &after);
  if (rc < 0)
    return ar__ctl_fail("replay", r->h, rc, o->arena);
  *result = (ar__replay_result_t){.replay_ns = replay_ns};
  fill_summary(r, &after, &result->sum);
  report->arena_size = after.size;
  report->results = result;
  report->nresults = 1;
  return ar__replay_print(report, o->json, o->placements);
}

int ar__cmd_replay_daemon(int argc, char **argv) {
  options_t o;
  int code = parse_options(argc, argv, &o);
  if (code != ARENACTL_OK)
    return code < 0 ? ARENACTL_OK : code;

  replay_t r = {.arena = o.arena};
  ar__replay_report_t report = {.logged = o.placements != NULL};
  ar__replay_result_t result; /* report's one result, once it has one */
  arenad_summary_t before;
  double replay_ns = 0;
  code = ar__replay_load(o.trace, &r.t, &report);
  if (code == ARENACTL_OK)
    code = connect_daemon(&r, &o);
  if (code == ARENACTL_OK)
    code = check_fresh(&r, &o, &before);
  if (code == ARENACTL_OK)
    code = alloc_slots(&r);
  if (code == ARENACTL_OK && o.placements != NULL)
    code = ar__replay_log_open(o.placements, o.trace, &r.log);
  if (code == ARENACTL_OK && o.predict)
    code = setup_predictor(&r, &before);
  if (code == ARENACTL_OK)
    code = replay(&r, &o, &replay_ns);
  if (code == ARENACTL_OK)
    code = print_report(&r, &o, replay_ns, &result, &report);

  (void)ar__replay_log_close(r.log); /* after an early failure */
  ar_engine_destroy(r.engine);
  free(r.pred);
  free(r.payload);
  arenad_close(r.h);
  ar_trace_destroy(r.t);
  return code;
}
