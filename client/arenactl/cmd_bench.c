/*
 * cmd_bench.c: `arenactl bench`, the benchmark of a running daemon, and
 * the floor it is judged against, measured in the same run:
 *
 *   - round-trip latency (p50, p99) of ping, alloc and free, one request
 *     at a time on one connection, and of an 8-byte echo (the size of a
 *     ping frame) on a bare Unix socket, the echo server running in a
 *     child process (as the daemon does) and in a thread of this one; the
 *     measures take turns in rounds, so that a change in the machine's
 *     load touches them alike;
 *   - throughput of alloc+free pipelined on one connection (each alloc's
 *     reply sends the free of its block, each free's reply a new alloc,
 *     --window requests in flight) and over --threads connections, one
 *     thread and one handle each; the echoes the same way;
 *   - blocks per second with alloc counts of 64 (and frees of 64).
 *
 * It prints a markdown table for the README, with the command line and the
 * goals of issue 3 checked against the figures (bench_goal.c prints each
 * so that it agrees with its verdict), or JSON with --json.
 * Everything against the daemon goes through the client library.
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ar/util.h"
#include "arenactl.h"
#include "bench.h"
#include "ctl.h"

/* The size of a ping frame, the echo's message. */
#define PING_FRAME_BYTES 8

/* Round trips made before a latency measure's samples are kept. */
#define WARMUP(ops) ((size_t)(ops) / 10 + 100)

typedef struct options_s {
  const char *arena;
  uint64_t size;    /* bytes an alloc */
  uint64_t ops;     /* round trips a latency measure */
  double seconds;   /* a throughput measure */
  uint64_t window;  /* requests in flight a connection */
  bool window_given; /* --window was on the command line */
  uint64_t threads; /* connections of the multi-connection measure */
  uint64_t count;   /* blocks an alloc in the blocks/s measure */
  bool json;
} options_t;

static void usage(FILE *out) {
  fprintf(out,
          "usage: arenactl [--socket PATH] bench [--arena NAME] [--size N]\n"
          "           [--ops N] [--seconds S] [--window N] [--threads N]\n"
          "           [--count N] [--json]\n"
          "\n"
          "Measures the daemon: round-trip latency of ping, alloc and free;\n"
          "pipelined alloc+free throughput on one connection and on\n"
          "several; blocks per second with multi-block allocs. A bare\n"
          "Unix-socket echo server, started on a temporary socket, is\n"
          "measured the same way as the floor. Prints a markdown table.\n"
          "\n"
          "  --arena NAME   arena to allocate in (default: default)\n"
          "  --size N       bytes an alloc (default 64)\n"
          "  --ops N        round trips a latency figure (default 20000)\n"
          "  --seconds S    seconds a throughput figure (default 1)\n"
          "  --window N     requests in flight a connection (default 128;\n"
          "                 one over the daemon's limit is reduced to it,\n"
          "                 with a notice on standard error)\n"
          "  --threads N    connections of the parallel figure (default 8)\n"
          "  --count N      blocks an alloc for blocks/s (default 64)\n"
          "  --json         print the figures as JSON\n");
}

static int parse_options(int argc, char **argv, options_t *o) {
  static const struct option longopts[] = {
      {"arena", required_argument, NULL, 'a'},
      {"size", required_argument, NULL, 's'},
      {"ops", required_argument, NULL, 'n'},
      {"seconds", required_argument, NULL, 'S'},
      {"window", required_argument, NULL, 'w'},
      {"threads", required_argument, NULL, 't'},
      {"count", required_argument, NULL, 'c'},
      {"json", no_argument, NULL, 'j'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  *o = (options_t){.arena = "default",
                   .size = 64,
                   .ops = 20000,
                   .seconds = 1.0,
                   .window = 128,
                   .threads = 8,
                   .count = 64};
  optind = 0;
  int c;
  while ((c = ar__ctl_getopt(argc, argv, longopts)) != -1) {
    const char *want = NULL; /* set when optarg is refused: what is allowed */
    char *end;
    switch (c) {
    case 'a':
      o->arena = optarg;
      if (ar__ctl_arena_arg("bench", o->arena) != ARENACTL_OK)
        return ARENACTL_USAGE;
      break;
    case 's': {
      int rc = ar_parse_size(optarg, &o->size);
      if (rc < 0)
        want = ar__ctl_size_why(rc);
      else if (o->size == 0)
        want = "at least 1 byte";
      break;
    }
    case 'n':
      if (ar__ctl_parse_u64(optarg, &o->ops) < 0 || o->ops == 0 ||
          o->ops > 100000000)
        want = "a count from 1 to 100000000";
      break;
    case 'S':
      o->seconds = strtod(optarg, &end);
      if (*end != '\0' || !(o->seconds > 0.0 && o->seconds <= 3600.0))
        want = "seconds, more than 0 and at most 3600";
      break;
    case 'w':
      if (ar__ctl_parse_u64(optarg, &o->window) < 0 || o->window == 0 ||
          o->window > 65536)
        want = "a count from 1 to 65536";
      o->window_given = true;
      break;
    case 't':
      if (ar__ctl_parse_u64(optarg, &o->threads) < 0 || o->threads == 0 ||
          o->threads > 256)
        want = "a count from 1 to 256";
      break;
    case 'c':
      if (ar__ctl_parse_u64(optarg, &o->count) < 0 || o->count == 0 ||
          o->count > UINT32_MAX)
        want = "a count from 1 to 4294967295";
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
    if (want != NULL) {
      const char *name = "?";
      for (const struct option *l = longopts; l->name != NULL; l++)
        if (l->val == c)
          name = l->name;
      fprintf(stderr, "arenactl bench: invalid --%s '%s' (%s)\n", name, optarg,
              want);
      return ARENACTL_USAGE;
    }
  }
  if (optind != argc) {
    fprintf(stderr, "arenactl bench: unexpected argument '%s'\n",
            argv[optind]);
    return ARENACTL_USAGE;
  }
  return ARENACTL_OK;
}

/* ---- measuring ------------------------------------------------------------ */

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Round-trip latency, from samples in nanoseconds. */
typedef struct lat_s {
  double p50_ns;
  double p99_ns;
} lat_t;

/* Sorts samples[0..n) and takes the nearest-rank percentiles. */
static void percentiles(double *samples, size_t n, lat_t *out) {
  qsort(samples, n, sizeof *samples, cmp_double);
  /* Nearest rank: the smallest sample with at least p of them at or
   * below it. */
  size_t r50 = (size_t)ceil(0.50 * (double)n), r99 = (size_t)ceil(0.99 * (double)n);
  out->p50_ns = samples[r50 > 0 ? r50 - 1 : 0];
  out->p99_ns = samples[r99 > 0 ? r99 - 1 : 0];
}

/* The state shared by run_workers and its threads. */
typedef struct shared_s {
  atomic_int ready; /* workers set up (or failed to) */
  atomic_bool go;   /* the measure starts */
  atomic_bool stop; /* the measure ends */
} shared_t;

typedef struct thread_arg_s {
  ar__bench_worker_t w;
  shared_t *shared;
  int rc;
} thread_arg_t;

static void *worker_main(void *p) {
  thread_arg_t *a = p;
  a->rc = a->w.run->setup(&a->w);
  atomic_fetch_add(&a->shared->ready, 1);
  struct timespec tick = {.tv_nsec = 100000};
  while (!atomic_load(&a->shared->go))
    nanosleep(&tick, NULL);
  if (a->rc == 0)
    a->rc = a->w.run->work(&a->w);
  return NULL;
}

/* Sleeps `seconds`, signals or not. */
static void sleep_for(double seconds) {
  struct timespec d = {.tv_sec = (time_t)seconds};
  d.tv_nsec = (long)((seconds - (double)d.tv_sec) * 1e9);
  while (nanosleep(&d, &d) < 0)
    ;
}

/* Runs `run` (see bench.h). Returns the operations per second, and stores
 * the units' in *units_per_s (may be NULL); or -1 with run->err set. */
static double run_workers(ar__bench_run_t *run, double *units_per_s) {
  int n = run->threads;
  thread_arg_t *args = calloc((size_t)n, sizeof *args);
  pthread_t *tids = calloc((size_t)n, sizeof *tids);
  shared_t shared;
  atomic_init(&shared.ready, 0);
  atomic_init(&shared.go, false);
  atomic_init(&shared.stop, false);
  if (args == NULL || tids == NULL) {
    free(args);
    free(tids);
    snprintf(run->err, sizeof run->err, "out of memory");
    return -1;
  }
  /* Every worker sets up (connects) before any starts working, so that
   * connecting is not measured. */
  int started = 0;
  for (; started < n; started++) {
    args[started].w.run = run;
    args[started].w.stop = &shared.stop;
    args[started].shared = &shared;
    if (pthread_create(&tids[started], NULL, worker_main, &args[started]) != 0)
      break;
  }
  while (atomic_load(&shared.ready) < started)
    sleep_for(0.0001);
  double t0 = ar__ctl_now_ns();
  atomic_store(&shared.go, true);
  if (started == n)
    sleep_for(run->seconds);
  atomic_store(&shared.stop, true);
  double t1 = ar__ctl_now_ns();

  uint64_t ops = 0, units = 0;
  int failed = started < n;
  if (failed)
    snprintf(run->err, sizeof run->err, "cannot start %d threads", n);
  for (int i = 0; i < started; i++) {
    pthread_join(tids[i], NULL);
    if (args[i].rc < 0 && !failed) {
      failed = 1;
      snprintf(run->err, sizeof run->err, "%s", args[i].w.err);
    }
    ops += args[i].w.ops;
    units += args[i].w.units;
  }
  free(args);
  free(tids);
  if (failed)
    return -1;
  double secs = (t1 - t0) / 1e9;
  if (units_per_s != NULL)
    *units_per_s = (double)units / secs;
  return (double)ops / secs;
}

/* ---- the daemon's measures ---------------------------------------------- */

typedef struct daemon_params_s {
  const char *arena;
  uint64_t size;
  uint32_t count;  /* blocks an alloc */
  size_t window;   /* requests in flight */
} daemon_params_t;

static int daemon_setup(ar__bench_worker_t *w) {
  /* The socket resolved once, for the connect and for its message, which
   * says it as ar__ctl_connect does. */
  char path[AR_SOCKET_PATH_MAX] = "";
  arenad_t *h;
  int rc = arenad_socket_path(ar__ctl_socket, path, sizeof path);
  if (rc == 0)
    rc = arenad_connect_timeout(path, ar__ctl_timeout_ms, &h);
  if (rc != 0) {
    snprintf(w->err, sizeof w->err, "cannot connect to %s: %s",
             path[0] != '\0' ? path : "the daemon", ar__ctl_connect_why(rc));
    return -1;
  }
  rc = arenad_hello(h, "arenactl-bench", NULL);
  if (rc < 0) {
    snprintf(w->err, sizeof w->err, "hello: %s", arenad_error(h));
    arenad_close(h);
    return -1;
  }
  w->state = h;
  return 0;
}

/* Stores "what: the handle's error" as w's error. Returns -1. */
static int bench_fail(ar__bench_worker_t *w, arenad_t *h, const char *what) {
  snprintf(w->err, sizeof w->err, "%s: %s", what, arenad_error(h));
  return -1;
}

/* Pipelined alloc+free: each alloc reply sends the free of its blocks,
 * each free reply a new alloc, so `window` requests stay in flight. */
static int daemon_work(ar__bench_worker_t *w) {
  const daemon_params_t *p = w->run->arg;
  arenad_t *h = w->state;
  size_t window = ar__ctl_window("bench", h, p->window, false);
  int rc = 0;
  for (size_t i = 0; i < window && rc == 0; i++)
    if (arenad_submit_alloc(h, p->arena, p->size, 0, p->count, 0, 0) < 0)
      rc = bench_fail(w, h, "alloc");
  bool stopping = false;
  while (rc == 0 && arenad_in_flight(h) > 0) {
    arenad_result_t res;
    if (arenad_collect(h, &res) < 0) {
      rc = bench_fail(w, h, "collect");
      break;
    }
    if (res.status < 0) {
      rc = bench_fail(w, h, res.op == ARENAD_OP_ALLOC ? "alloc" : "free");
      break;
    }
    if (!stopping)
      stopping = atomic_load_explicit(w->stop, memory_order_relaxed);
    if (!stopping) {
      w->ops++;
      if (res.op == ARENAD_OP_ALLOC)
        w->units += res.n_offsets;
    }
    if (res.op == ARENAD_OP_ALLOC) {
      /* Always freed, also while stopping. */
      if (arenad_submit_free(h, p->arena, res.offsets, res.n_offsets, 0) < 0)
        rc = bench_fail(w, h, "free");
    } else if (!stopping) {
      if (arenad_submit_alloc(h, p->arena, p->size, 0, p->count, 0, 0) < 0)
        rc = bench_fail(w, h, "alloc");
    }
  }
  arenad_close(h);
  return rc;
}

/* The latency figures on one connection. */
typedef struct latencies_s {
  lat_t ping, alloc, free;
} latencies_t;

/* n pings, then n allocs each followed by the free of its block, one at a
 * time; the samples (when not NULL) of each in nanoseconds. Returns an
 * exit code. */
static int daemon_round_trips(arenad_t *h, const options_t *o, size_t n,
                              double *ping, double *alloc, double *free_) {
  for (size_t i = 0; i < n; i++) {
    double t0 = ar__ctl_now_ns();
    int rc = arenad_ping(h);
    if (rc < 0)
      return ar__ctl_fail("bench", h, rc, "ping");
    if (ping != NULL)
      ping[i] = ar__ctl_now_ns() - t0;
  }
  for (size_t i = 0; i < n; i++) {
    uint64_t off;
    double t0 = ar__ctl_now_ns();
    int rc = arenad_alloc(h, o->arena, o->size, 0, 0, &off, NULL);
    double t1 = ar__ctl_now_ns();
    if (rc < 0)
      return ar__ctl_fail("bench", h, rc, "alloc");
    rc = arenad_free(h, o->arena, off);
    double t2 = ar__ctl_now_ns();
    if (rc < 0)
      return ar__ctl_fail("bench", h, rc, "free");
    if (alloc != NULL) {
      alloc[i] = t1 - t0;
      free_[i] = t2 - t1;
    }
  }
  return ARENACTL_OK;
}

/* ---- the report ------------------------------------------------------------ */

/* Where the echo server of the floor runs. */
enum { ECHO_PROCESS, ECHO_THREAD, ECHO_KINDS };
static const char *const echo_keys[ECHO_KINDS] = {"echo_process",
                                                  "echo_thread"};

/* The floor's figures for one place of the echo server. */
typedef struct floor_s {
  lat_t lat;
  double one, many; /* messages/s on 1 and on --threads connections */
} floor_t;

typedef struct report_s {
  arenad_hello_t hello;
  latencies_t lat;
  floor_t echo[ECHO_KINDS];
  double pipe1, pipeN;         /* ops/s of alloc+free */
  double blocks_ops, blocks_s; /* the count measure: requests/s, blocks/s */
  size_t window1;              /* window used on the daemon */
  size_t window_count;         /* window of the count measure */
  uint32_t count;              /* blocks an alloc used */
} report_t;

static double us(double ns) {
  return ns / 1e3;
}

static void print_command(const options_t *o) {
  printf("arenactl%s%s bench --arena %s --size %llu --ops %llu --seconds %g "
         "--window %llu --threads %llu --count %llu\n",
         ar__ctl_socket ? " --socket " : "", ar__ctl_socket ? ar__ctl_socket : "",
         o->arena, (unsigned long long)o->size, (unsigned long long)o->ops,
         o->seconds, (unsigned long long)o->window,
         (unsigned long long)o->threads, (unsigned long long)o->count);
}

static const char *yes(bool ok) {
  return ok ? "yes" : "**no**";
}

static void print_markdown(const options_t *o, const report_t *r) {
  const floor_t *ep = &r->echo[ECHO_PROCESS], *et = &r->echo[ECHO_THREAD];
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  printf("arenad %s, %ld cores, arena '%s', %llu-byte blocks:\n\n    ",
         r->hello.daemon_version, cores, o->arena,
         (unsigned long long)o->size);
  print_command(o);
  printf("\n| measure | arenad | echo, server process | echo, server thread "
         "|\n|---|---:|---:|---:|\n");
  printf("| ping round trip p50 | %.1f us | %.1f us | %.1f us |\n",
         us(r->lat.ping.p50_ns), us(ep->lat.p50_ns), us(et->lat.p50_ns));
  printf("| ping round trip p99 | %.1f us | %.1f us | %.1f us |\n",
         us(r->lat.ping.p99_ns), us(ep->lat.p99_ns), us(et->lat.p99_ns));
  printf("| alloc round trip p50 | %.1f us | | |\n", us(r->lat.alloc.p50_ns));
  printf("| alloc round trip p99 | %.1f us | | |\n", us(r->lat.alloc.p99_ns));
  printf("| free round trip p50 | %.1f us | | |\n", us(r->lat.free.p50_ns));
  printf("| free round trip p99 | %.1f us | | |\n", us(r->lat.free.p99_ns));
  printf("| alloc+free pipelined, 1 connection, %zu in flight | %.2f M "
         "ops/s | %.2f M msgs/s | %.2f M msgs/s |\n",
         r->window1, r->pipe1 / 1e6, ep->one / 1e6, et->one / 1e6);
  printf("| alloc+free pipelined, %llu connections, %zu in flight each | "
         "%.2f M ops/s | %.2f M msgs/s | %.2f M msgs/s |\n",
         (unsigned long long)o->threads, r->window1, r->pipeN / 1e6,
         ep->many / 1e6, et->many / 1e6);
  printf("| blocks/s: alloc of %u and free of %u blocks, pipelined, %zu in "
         "flight | %.2f M blocks/s (%.0f k requests/s) | | |\n",
         (unsigned)r->count, (unsigned)r->count, r->window_count,
         r->blocks_s / 1e6, r->blocks_ops / 1e3);

  double alloc_ping = r->lat.alloc.p50_ns / r->lat.ping.p50_ns;
  double ping_ep = r->lat.ping.p50_ns / ep->lat.p50_ns;
  double ping_et = r->lat.ping.p50_ns / et->lat.p50_ns;
  char f[32];
  printf("\n| goal | measured | met |\n|---|---:|---|\n");
  bool met = ar__bench_goal(f, sizeof f, alloc_ping, 1.3, true);
  printf("| alloc p50 <= 1.3x ping p50 | %sx | %s |\n", f, yes(met));
  met = ar__bench_goal(f, sizeof f, ping_ep, 1.5, true);
  printf("| ping p50 <= 1.5x echo p50, server process | %sx | %s |\n", f,
         yes(met));
  met = ar__bench_goal(f, sizeof f, ping_et, 1.5, true);
  printf("| ping p50 <= 1.5x echo p50, server thread | %sx | %s |\n", f,
         yes(met));
  met = ar__bench_goal(f, sizeof f, r->pipe1 / 1e6, 1.0, false);
  printf("| pipelined, 1 connection >= 1 M ops/s | %s M | %s |\n", f, yes(met));
  met = ar__bench_goal(f, sizeof f, r->pipeN / r->pipe1, 1.0, false);
  if (o->threads > 1)
    printf("| %llu connections >= 1 connection | %sx | %s |\n",
           (unsigned long long)o->threads, f, yes(met));
  else /* the same measure twice: the ratio is noise, not a verdict */
    printf("| several connections >= 1 connection | %sx | n/a "
           "(--threads 1) |\n",
           f);
}

static json_t *lat_json(const lat_t *l) {
  return json_pack("{s:f, s:f}", "p50_us", us(l->p50_ns), "p99_us",
                   us(l->p99_ns));
}

static json_t *report_json(const options_t *o, const report_t *r) {
  json_t *root = json_pack(
      "{s:s, s:s, s:{s:I, s:I, s:f, s:I, s:I, s:I}, s:o, s:o, s:o, "
      "s:{s:f, s:f, s:I}, s:{s:I, s:I, s:f, s:f}}",
      "daemon_version", r->hello.daemon_version, "arena", o->arena,
      "options", "size", (json_int_t)o->size, "ops", (json_int_t)o->ops,
      "seconds", o->seconds, "window", (json_int_t)r->window1, "threads",
      (json_int_t)o->threads, "count", (json_int_t)r->count, "ping",
      lat_json(&r->lat.ping), "alloc", lat_json(&r->lat.alloc), "free",
      lat_json(&r->lat.free), "pipelined", "one_connection_ops_per_s",
      r->pipe1, "connections_ops_per_s", r->pipeN, "connections",
      (json_int_t)o->threads, "blocks", "count", (json_int_t)r->count,
      "window", (json_int_t)r->window_count, "blocks_per_s", r->blocks_s,
      "requests_per_s", r->blocks_ops);
  for (int k = 0; root != NULL && k < ECHO_KINDS; k++)
    json_object_set_new(
        root, echo_keys[k],
        json_pack("{s:o, s:f, s:f}", "round_trip", lat_json(&r->echo[k].lat),
                  "one_connection_msgs_per_s", r->echo[k].one,
                  "connections_msgs_per_s", r->echo[k].many));
  return root;
}

/* ---- the command ------------------------------------------------------------ */

/* Runs one throughput measure; prints why it failed. */
static int throughput(ar__bench_run_t *run, const char *what, double *ops,
                      double *units) {
  *ops = run_workers(run, units);
  if (*ops < 0) {
    fprintf(stderr, "arenactl bench: %s: %s\n", what, run->err);
    return ARENACTL_FAIL;
  }
  return ARENACTL_OK;
}

/* Latency rounds: the daemon's ping, alloc and free and the echo round
 * trips of both servers take turns, LAT_ROUNDS times, so that a change in
 * the machine's load during the run touches them all alike. */
#define LAT_ROUNDS 20

/* Measures every round-trip latency (see LAT_ROUNDS) on one connection
 * each. Returns an exit code. */
static int measure_latency(arenad_t *h, const options_t *o,
                           ar__echo_t *const echo[ECHO_KINDS], report_t *r) {
  size_t n = (size_t)o->ops;
  double *s[3 + ECHO_KINDS] = {NULL};
  int fds[ECHO_KINDS] = {-1, -1};
  char err[256] = "";
  int code = ARENACTL_OK;
  for (int i = 0; i < 3 + ECHO_KINDS; i++)
    if ((s[i] = malloc(n * sizeof *s[i])) == NULL)
      code = ARENACTL_FAIL;
  for (int k = 0; k < ECHO_KINDS && code == ARENACTL_OK; k++)
    if ((fds[k] = ar__echo_dial(echo[k], err, sizeof err)) < 0)
      code = ARENACTL_FAIL;
  if (code != ARENACTL_OK) {
    fprintf(stderr, "arenactl bench: %s\n", err[0] ? err : "out of memory");
    goto out;
  }
  /* Warm up, then the rounds: each measure takes its turn. */
  code = daemon_round_trips(h, o, WARMUP(n), NULL, NULL, NULL);
  for (int k = 0; k < ECHO_KINDS && code == ARENACTL_OK; k++)
    if (ar__echo_round_trips(fds[k], PING_FRAME_BYTES, WARMUP(n), NULL, err,
                             sizeof err) < 0)
      code = ARENACTL_FAIL;
  for (size_t done = 0, round = 0; code == ARENACTL_OK && done < n; round++) {
    size_t m = round + 1 < LAT_ROUNDS ? n / LAT_ROUNDS : n - done;
    if (m == 0)
      m = n - done;
    code = daemon_round_trips(h, o, m, s[0] + done, s[1] + done, s[2] + done);
    for (int k = 0; k < ECHO_KINDS && code == ARENACTL_OK; k++)
      if (ar__echo_round_trips(fds[k], PING_FRAME_BYTES, m, s[3 + k] + done,
                               err, sizeof err) < 0)
        code = ARENACTL_FAIL;
    done += m;
  }
  if (code != ARENACTL_OK) {
    if (err[0] != '\0')
      fprintf(stderr, "arenactl bench: %s\n", err);
    goto out;
  }
  percentiles(s[0], n, &r->lat.ping);
  percentiles(s[1], n, &r->lat.alloc);
  percentiles(s[2], n, &r->lat.free);
  for (int k = 0; k < ECHO_KINDS; k++)
    percentiles(s[3 + k], n, &r->echo[k].lat);
out:
  for (int k = 0; k < ECHO_KINDS; k++)
    if (fds[k] >= 0)
      close(fds[k]);
  for (int i = 0; i < 3 + ECHO_KINDS; i++)
    free(s[i]);
  return code;
}

/* The pipelined throughput of an echo server, on one connection and on
 * --threads, with `window` messages in flight (the daemon's, so that both
 * sides of a row run alike). Returns an exit code. */
static int echo_throughput(const options_t *o, size_t window,
                           const ar__echo_t *echo, floor_t *out) {
  ar__echo_params_t ep = {
      .echo = echo, .msg = PING_FRAME_BYTES, .window = window};
  ar__bench_run_t run = {.threads = 1, .seconds = o->seconds,
                         .setup = ar__echo_setup, .work = ar__echo_work,
                         .arg = &ep};
  int code = throughput(&run, "echo, 1 connection", &out->one, NULL);
  run.threads = (int)o->threads;
  if (code == ARENACTL_OK)
    code = throughput(&run, "echo, several connections", &out->many, NULL);
  return code;
}

int ar__cmd_bench(int argc, char **argv) {
  options_t o;
  int code = parse_options(argc, argv, &o);
  if (code != ARENACTL_OK)
    return code < 0 ? ARENACTL_OK : code;

  report_t r;
  memset(&r, 0, sizeof r);
  arenad_t *h = ar__ctl_connect("bench", &r.hello);
  if (h == NULL)
    return ARENACTL_FAIL;
  r.count = (uint32_t)o.count;
  if (r.hello.max_blocks_per_request != 0 &&
      r.count > r.hello.max_blocks_per_request) {
    fprintf(stderr, "arenactl bench: --count %u is over the daemon's limit "
                    "of %u blocks a request; using %u\n",
            (unsigned)r.count, (unsigned)r.hello.max_blocks_per_request,
            (unsigned)r.hello.max_blocks_per_request);
    r.count = r.hello.max_blocks_per_request;
  }
  r.window1 = ar__ctl_window("bench", h, o.window, o.window_given);

  /* Both echo servers run from here on (idle when not measured): the
   * process first, forked while this process has one thread. */
  ar__echo_t *echo[ECHO_KINDS] = {NULL, NULL};
  char err[256];
  for (int k = 0; k < ECHO_KINDS; k++) {
    if (ar__echo_start(&echo[k], k == ECHO_PROCESS, err, sizeof err) < 0) {
      fprintf(stderr, "arenactl bench: %s\n", err);
      code = ARENACTL_FAIL;
      goto out;
    }
  }

  /* Latency, one request at a time, all measures taking turns. */
  code = measure_latency(h, &o, echo, &r);
  arenad_close(h);
  h = NULL;
  if (code != ARENACTL_OK)
    goto out;

  /* Throughput: the floor, then the daemon. */
  for (int k = 0; k < ECHO_KINDS && code == ARENACTL_OK; k++)
    code = echo_throughput(&o, r.window1, echo[k], &r.echo[k]);
  if (code != ARENACTL_OK)
    goto out;

  /* Throughput: pipelined, one connection and several. */
  daemon_params_t dp = {.arena = o.arena, .size = o.size, .count = 1,
                        .window = (size_t)o.window};
  ar__bench_run_t run = {.threads = 1, .seconds = o.seconds,
                         .setup = daemon_setup, .work = daemon_work,
                         .arg = &dp};
  if ((code = throughput(&run, "pipelined, 1 connection", &r.pipe1, NULL)) !=
      ARENACTL_OK)
    goto out;
  run.threads = (int)o.threads;
  if ((code = throughput(&run, "pipelined, several connections", &r.pipeN,
                         NULL)) != ARENACTL_OK)
    goto out;

  /* Blocks per second: allocs of `count` blocks, frees of as many. A
   * request carries count blocks, so fewer of them are kept in flight. */
  dp.count = r.count;
  dp.window = r.window_count = r.window1 / 8 > 0 ? r.window1 / 8 : 1;
  run.threads = 1;
  if ((code = throughput(&run, "blocks per second", &r.blocks_ops,
                         &r.blocks_s)) != ARENACTL_OK)
    goto out;

  if (o.json) {
    code = ar__ctl_print_json("bench", report_json(&o, &r));
  } else {
    print_markdown(&o, &r);
    code = ar__ctl_flush("bench");
  }

out:
  for (int k = 0; k < ECHO_KINDS; k++)
    ar__echo_stop(echo[k]);
  arenad_close(h);
  return code;
}
