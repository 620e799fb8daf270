/*
 * bench_engines.c: how fast the policy engines place blocks, next to glibc
 * malloc/free doing the same work in the same process, and how the cost
 * grows with the number of live blocks. It prints markdown tables, with the
 * command line that produced them, ready for the README, and says for each
 * of the project's performance goals whether these numbers meet it.
 *
 * Part 1, the public traces (tests/data/): each trace is loaded into memory
 * (timed), then replayed with ar_replay_run on a fresh engine (arena 256
 * MiB, no arena memory: offsets only; creating the engine is not timed),
 * and replayed with malloc(n)/free(p) on the same slot array. Parsing
 * against placing is measured the way `arenactl replay` works: the .gz
 * file streamed through one fresh engine (ar_replay_stream), which times
 * the engine's placing apart from the reading and parsing; and the parse
 * alone, streamed from text in memory. All of it runs in rounds; every
 * figure is the median of --reps rounds after one warm-up round.
 *
 * Memory is kept warm for both sides: on the VMs this project runs on, the
 * first touch of a 4 KiB page costs 2-25 microseconds, so a run that
 * gets fresh pages from the kernel measures page faults, not allocators.
 * main() raises glibc's mmap and trim thresholds, so that memory freed by
 * the warm-up run (glibc's heap, and the engines' own tables and nodes)
 * stays in the process and is reused by the timed runs, as it is in a
 * daemon that has been up for a while.
 *
 * Part 2, scaling: per policy (and glibc), fill an arena of 4 GiB to N live
 * blocks (N = 1 thousand, 100 thousand, 1 million) by allocating with
 * probability 2/3 and freeing a random live block with probability 1/3, so
 * that the free space is full of holes; then time a steady phase of
 * alloc/free pairs that keeps N live. In the main workload the block freed
 * is, 9 times in 10, one of the last 16 entries of the live array, and
 * otherwise any live block. A new block is appended to that array and the
 * last entry takes a freed block's place, so those 16 are the new block
 * and 15 that each came in as the newest and stay until picked: short
 * lifetimes, as in the traces, but not the 16 latest allocations (about
 * 55% of the frees hit one of those, 88% one of the 64 latest). A second
 * workload frees a uniformly random live block. Sizes: 60% 8..64 bytes,
 * 25% 65..256, 12% 257..1024, 3% 1025..8192. The sizes and victims are
 * drawn before the clock starts; the steady phase runs as --reps segments
 * and the median segment is reported.
 */
#include <getopt.h>
#include <malloc.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <isa-l/igzip_lib.h>

#include "ar/engine.h"
#include "ar/error.h"
#include "ar/trace.h"
#include "bench_floor.h"
#include "traces.h"

#ifndef AR_BENCH_DATA
#define AR_BENCH_DATA "tests/data"
#endif

#define TRACE_ARENA (UINT64_C(256) << 20)
#define SCALE_ARENA (UINT64_C(4) << 30)
#define NALLOCATORS (AR_POLICY_COUNT + 1) /* the policies, then glibc */
#define GLIBC AR_POLICY_COUNT
#define MAXREPS 25


static const size_t scale_sizes[] = {1000, 100000, 1000000};
#define NSCALES (sizeof scale_sizes / sizeof scale_sizes[0])

/* ---- small tools ------------------------------------------------------- */

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* The median of v[0..n) (sorts v). */
static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static const char *allocator_name(int a) {
  return a == GLIBC ? "glibc" : ar_policy_name((ar_policy_t)a);
}

static void die(const char *what, const char *detail) {
  fprintf(stderr, "bench-engines: %s: %s\n", what, detail);
  exit(1);
}

static void *xmalloc(size_t n) {
  void *p = malloc(n ? n : 1);
  if (p == NULL)
    die("out of memory", "malloc");
  return p;
}

/* splitmix64: small, fast, and the same sequence on every machine. */
static uint64_t rnd(uint64_t *s) {
  uint64_t z = (*s += UINT64_C(0x9E3779B97F4A7C15));
  z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
  z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
  return z ^ (z >> 31);
}

/* A uniform number in [0, n). */
static uint64_t below(uint64_t *s, uint64_t n) { return rnd(s) % n; }

/* A request size: mostly small (see the top of the file). */
static uint32_t draw_size(uint64_t *s) {
  uint64_t r = below(s, 100);
  if (r < 60)
    return (uint32_t)(8 + below(s, 57));
  if (r < 85)
    return (uint32_t)(65 + below(s, 192));
  if (r < 97)
    return (uint32_t)(257 + below(s, 768));
  return (uint32_t)(1025 + below(s, 7168));
}

/* ---- part 1: the public traces ---------------------------------------- */

typedef struct trace_result_s {
  size_t nops;
  double load_ns;    /* ar_trace_load: read + inflate + parse, whole */
  double parse_ns;   /* streamed parse of the text in memory, alone */
  double inflate_ns; /* inflating the whole file, nothing else */
  double op_ns[NALLOCATORS]; /* replay time per operation */
  double floor_ns;           /* the same for the floor (bench_floor.h) */
  /* ar_replay_stream of the file on one engine per policy: the time
   * outside the engine (reading, parsing) and in it, per operation */
  double stream_parse_ns[AR_POLICY_COUNT];
  double stream_place_ns[AR_POLICY_COUNT];
} trace_result_t;

/* Reads a whole gzip file (one member) into memory with ISA-L's inflate,
 * the one ar_trace_load uses; *len gets its size. Times the reading into
 * *ns. */
static char *inflate_file(const char *path, size_t *len, double *ns) {
  double t0 = now_ns();
  FILE *f = fopen(path, "rb");
  if (f == NULL)
    die("cannot open", path);
  size_t zcap = 4 << 20, zlen = 0;
  unsigned char *z = xmalloc(zcap);
  for (size_t got; (got = fread(z + zlen, 1, zcap - zlen, f)) > 0;) {
    zlen += got;
    if (zlen == zcap && (z = realloc(z, zcap *= 2)) == NULL)
      die("out of memory", path);
  }
  fclose(f);
  struct inflate_state st;
  isal_inflate_init(&st);
  st.crc_flag = ISAL_GZIP;
  st.next_in = z;
  st.avail_in = (uint32_t)zlen;
  size_t cap = 16 << 20, n = 0;
  char *buf = xmalloc(cap);
  while (st.block_state != ISAL_BLOCK_FINISH) {
    if (cap - n < (1 << 20) && (buf = realloc(buf, cap *= 2)) == NULL)
      die("out of memory", path);
    st.next_out = (uint8_t *)buf + n;
    st.avail_out = 1 << 20;
    if (isal_inflate(&st) != ISAL_DECOMP_OK ||
        (st.avail_in == 0 && st.block_state != ISAL_BLOCK_FINISH &&
         st.avail_out > 0))
      die("cannot inflate", path);
    n = st.total_out;
  }
  free(z);
  *ns = now_ns() - t0;
  *len = n;
  return buf;
}

/* One replay on a fresh engine; returns the ns of ar_replay_run, and the
 * summary's peak_live in *peak_live. */
static double replay_engine(const ar_trace_t *t, ar_policy_t p,
                            uint64_t *peak_live) {
  ar_engine_t *e;
  if (ar_engine_create(p, TRACE_ARENA, NULL, &e) < 0)
    die("cannot create the engine", ar_policy_name(p));
  ar_trace_error_t err;
  ar_replay_summary_t sum;
  double t0 = now_ns();
  int rc = ar_replay_run(t, e, NULL, NULL, &sum, &err);
  double ns = now_ns() - t0;
  if (rc < 0)
    die("replay failed", err.msg);
  if (sum.failed_allocs != 0)
    die("an allocation failed in a 256 MiB arena", ar_policy_name(p));
  *peak_live = sum.peak_live;
  ar_engine_destroy(e);
  return ns;
}

/* The streamed replay of the file at path on a fresh engine of policy p:
 * the ns outside the engine in *parse, in it in *place. */
static void stream_engine(const char *path, ar_policy_t p, double *parse,
                          double *place) {
  ar_replay_target_t tg = {0};
  if (ar_engine_create(p, TRACE_ARENA, NULL, &tg.engine) < 0)
    die("cannot create the engine", ar_policy_name(p));
  ar_trace_error_t err;
  uint64_t parse_ns;
  if (ar_replay_stream(path, &tg, 1, NULL, NULL, &parse_ns, &err) < 0)
    die(path, err.msg);
  *parse = (double)parse_ns;
  *place = (double)tg.replay_ns;
  ar_engine_destroy(tg.engine);
}

/* One replay with malloc/free on the same slots; returns its ns. The slot
 * array's calloc is timed, as ar_replay_run's is. */
static double replay_glibc(const ar_trace_t *t) {
  ar_trace_info_t info;
  ar_trace_info(t, &info);
  const ar_trace_op_t *ops = ar_trace_ops(t);
  size_t failed = 0;
  double t0 = now_ns();
  void **slot = calloc(info.nslots ? info.nslots : 1, sizeof *slot);
  if (slot == NULL)
    die("out of memory", "slots");
  for (size_t i = 0; i < info.nops; i++) {
    const ar_trace_op_t *op = &ops[i];
    if (op->kind == AR_TRACE_ALLOC) {
      void *p = malloc(op->n);
      failed += p == NULL;
      slot[op->slot] = p;
    } else if (op->slot != AR_TRACE_NO_SLOT) {
      free(slot[op->slot]); /* NULL when the id is not live */
      slot[op->slot] = NULL;
    }
  }
  double ns = now_ns() - t0;
  for (uint32_t i = 0; i < info.nslots; i++)
    free(slot[i]);
  free(slot);
  if (failed)
    die("malloc failed", "glibc replay");
  return ns;
}

static void bench_trace(const char *dir, const char *name, int reps,
                        trace_result_t *res) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s.trace.gz", dir, name);
  double v[MAXREPS + 1];
  ar_trace_error_t err;
  ar_trace_t *t = NULL;

  /* inflating alone, for the table (no goal compares it) */
  size_t len = 0;
  char *text = NULL;
  for (int r = 0; r <= reps; r++) {
    free(text);
    text = inflate_file(path, &len, &v[r]);
  }
  res->inflate_ns = median(v + 1, reps);

  /* Loading, parsing the text alone, streaming the file through each
   * engine, and the replays, in rounds: the goals compare them with each
   * other, and this host runs slow and fast in phases of seconds, which
   * must not land on one of them only. Each round replays the trace it
   * loaded. */
  double load_runs[MAXREPS + 1], parse_runs[MAXREPS + 1];
  double runs[NALLOCATORS][MAXREPS + 1], floor_runs[MAXREPS + 1];
  double sparse_runs[AR_POLICY_COUNT][MAXREPS + 1];
  double splace_runs[AR_POLICY_COUNT][MAXREPS + 1];
  uint64_t peak_live = 0, floor_peak = 0;
  for (int r = 0; r <= reps; r++) {
    ar_trace_destroy(t);
    t = NULL;
    double t0 = now_ns();
    if (ar_trace_load(path, &t, &err) < 0)
      die(path, err.msg);
    load_runs[r] = now_ns() - t0;

    uint64_t parse_ns;
    if (ar_replay_stream_text(text, len, NULL, 0, NULL, NULL, &parse_ns, &err) <
        0)
      die(path, err.msg);
    parse_runs[r] = (double)parse_ns;

    for (int a = 0; a < AR_POLICY_COUNT; a++)
      stream_engine(path, (ar_policy_t)a, &sparse_runs[a][r],
                    &splace_runs[a][r]);
    for (int a = 0; a < NALLOCATORS; a++)
      runs[a][r] = a == GLIBC ? replay_glibc(t)
                              : replay_engine(t, (ar_policy_t)a, &peak_live);
    floor_runs[r] = bench_floor_replay(t, &floor_peak);
    /* The peak of live requested bytes does not depend on placement: the
     * floor must have replayed the operations the engines did. */
    if (floor_runs[r] < 0 || floor_peak != peak_live)
      die("the floor's replay failed", path);
  }
  free(text);
  ar_trace_info_t info;
  ar_trace_info(t, &info);
  res->nops = info.nops;
  double nops = (double)res->nops;
  res->load_ns = median(load_runs + 1, reps);
  res->parse_ns = median(parse_runs + 1, reps);
  for (int a = 0; a < NALLOCATORS; a++)
    res->op_ns[a] = median(runs[a] + 1, reps) / nops;
  for (int a = 0; a < AR_POLICY_COUNT; a++) {
    res->stream_parse_ns[a] = median(sparse_runs[a] + 1, reps) / nops;
    res->stream_place_ns[a] = median(splace_runs[a] + 1, reps) / nops;
  }
  res->floor_ns = median(floor_runs + 1, reps) / nops;
  ar_trace_destroy(t);
}

/* ---- part 2: scaling ----------------------------------------------------- */

/* The pre-drawn steady phase: per pair, the size to allocate and the index
 * (into the live array, after the allocation appended its block) of the
 * block to free. */
typedef struct script_s {
  uint32_t *size;
  uint32_t *victim;
  size_t pairs;
} script_t;

#define RECENT_WINDOW 16

static void draw_script(script_t *sc, size_t n, size_t pairs, bool recent,
                        uint64_t seed) {
  sc->pairs = pairs;
  sc->size = xmalloc(pairs * sizeof *sc->size);
  sc->victim = xmalloc(pairs * sizeof *sc->victim);
  uint64_t s = seed;
  for (size_t i = 0; i < pairs; i++) {
    sc->size[i] = draw_size(&s);
    size_t count = n + 1; /* live blocks once the pair's block is in */
    if (recent && below(&s, 10) < 9) {
      size_t w = count < RECENT_WINDOW ? count : RECENT_WINDOW;
      sc->victim[i] = (uint32_t)(count - 1 - below(&s, w));
    } else {
      sc->victim[i] = (uint32_t)below(&s, count);
    }
  }
}

static void free_script(script_t *sc) {
  free(sc->size);
  free(sc->victim);
}

/* The allocator under test, behind one small interface: a handle is a
 * payload offset (engines) or a pointer (glibc); 0 means failed. */
typedef struct alloc_s {
  ar_engine_t *e; /* NULL: glibc */
} alloc_t;

static inline uint64_t do_alloc(alloc_t *al, uint32_t n) {
  if (al->e == NULL)
    return (uint64_t)(uintptr_t)malloc(n);
  ar_block_t b;
  return ar_engine_alloc(al->e, n, AR_ALIGN_MIN, &b) == AR_OK ? b.payload : 0;
}

static inline void do_free(alloc_t *al, uint64_t h) {
  if (h == 0)
    return;
  if (al->e == NULL)
    free((void *)(uintptr_t)h);
  else if (ar_engine_free(al->e, h, NULL, NULL) < 0)
    die("the engine refused a free", "scaling run");
}

/* Fills to n live blocks: alloc with probability 2/3, free a random live
 * block with 1/3. */
static void fill(alloc_t *al, uint64_t *live, size_t n, uint64_t seed) {
  uint64_t s = seed;
  size_t count = 0;
  while (count < n) {
    if (count > 0 && below(&s, 3) == 0) {
      size_t v = below(&s, count);
      do_free(al, live[v]);
      live[v] = live[--count];
    } else {
      uint64_t h = do_alloc(al, draw_size(&s));
      if (h == 0)
        die("an allocation failed while filling", "scaling run");
      live[count++] = h;
    }
  }
}

/* Runs pairs [from, to) of the script; returns the ns. */
static double steady(alloc_t *al, uint64_t *live, size_t n,
                     const script_t *sc, size_t from, size_t to,
                     size_t *failed) {
  size_t count = n;
  size_t nfail = 0;
  double t0 = now_ns();
  for (size_t i = from; i < to; i++) {
    uint64_t h = do_alloc(al, sc->size[i]);
    nfail += h == 0;
    live[count++] = h;
    uint32_t v = sc->victim[i];
    uint64_t x = live[v];
    live[v] = live[--count];
    do_free(al, x);
  }
  double ns = now_ns() - t0;
  *failed += nfail;
  return ns;
}

typedef struct scale_result_s {
  double recent_ns[NSCALES];  /* per op, median segment */
  double uniform_ns[NSCALES]; /* per op, median segment */
} scale_result_t;

static void bench_scale(int a, int reps, size_t pairs_per_rep,
                        scale_result_t *res) {
  for (size_t k = 0; k < NSCALES; k++) {
    size_t n = scale_sizes[k];
    alloc_t al = {NULL};
    if (a != GLIBC &&
        ar_engine_create((ar_policy_t)a, SCALE_ARENA, NULL, &al.e) < 0)
      die("cannot create a 4 GiB engine", allocator_name(a));
    uint64_t *live = xmalloc((n + 1) * sizeof *live);
    fill(&al, live, n, 1000 + k);

    size_t failed = 0;
    for (int w = 0; w < 2; w++) {
      script_t sc;
      draw_script(&sc, n, pairs_per_rep * (size_t)reps, w == 0, 77 + k);
      double v[MAXREPS];
      for (int r = 0; r < reps; r++)
        v[r] = steady(&al, live, n, &sc, pairs_per_rep * (size_t)r,
                      pairs_per_rep * (size_t)(r + 1), &failed) /
               (double)(2 * pairs_per_rep);
      (w == 0 ? res->recent_ns : res->uniform_ns)[k] = median(v, reps);
      free_script(&sc);
    }
    if (failed)
      fprintf(stderr, "bench-engines: %s at %zu live: %zu allocations "
                      "failed\n", allocator_name(a), n, failed);
    for (size_t i = 0; i < n; i++)
      do_free(&al, live[i]);
    free(live);
    ar_engine_destroy(al.e);
  }
}

/* ---- output ------------------------------------------------------------- */

static void print_command(int argc, char **argv) {
  printf("Produced by `");
  for (int i = 0; i < argc; i++)
    printf("%s%s", i ? " " : "", argv[i]);
  printf("`.\n\n");
}

/* The head of a table with a row per trace: a column per allocator
 * 0..n-1, each named with `suffix` after it, and one more named `last`
 * (NULL: none); numbers right-aligned. */
static void print_header(int n, const char *suffix, const char *last) {
  printf("| trace |");
  for (int a = 0; a < n; a++)
    printf(" %s%s |", allocator_name(a), suffix);
  if (last != NULL)
    printf(" %s |", last);
  printf("\n|---|");
  for (int a = 0; a < n + (last != NULL); a++)
    printf("---:|");
  printf("\n");
}

static void print_traces(const trace_result_t *res, int reps) {
  printf("### Parsing against placing\n\n");
  printf("Median of %d runs, ns per operation. `arenactl replay` streams "
         "a trace through its engines (`ar_replay_stream`): it parses a "
         "window of operations, the engine places them, and so on, the "
         ".gz file inflating on a reader thread meanwhile. Each cell is "
         "one such replay of the file on one fresh engine: *parse* is the "
         "time outside the engine (reading, parsing), *place* the time in "
         "it.\n\n",
         reps);
  print_header(AR_POLICY_COUNT, " parse / place", NULL);
  for (size_t i = 0; i < NTRACES; i++) {
    printf("| %s |", trace_names[i]);
    for (int a = 0; a < AR_POLICY_COUNT; a++)
      printf(" %.1f / %.1f |", res[i].stream_parse_ns[a],
             res[i].stream_place_ns[a]);
    printf("\n");
  }

  printf("\n### Loading the public traces\n\n");
  printf("Median of %d runs. *parse only*: the streamed parse of the text "
         "already in memory (`ar_replay_stream_text` with no engine); "
         "*inflate only*: ISA-L's inflate of the whole file and nothing "
         "else; *whole load*: `ar_trace_load` of the .gz file, every "
         "operation kept in memory, as the replays below use it.\n\n",
         reps);
  printf("| trace | ops | parse only ns/op | inflate only ns/op | whole "
         "load ns/op |\n|---|---:|---:|---:|---:|\n");
  for (size_t i = 0; i < NTRACES; i++)
    printf("| %s | %zu | %.1f | %.1f | %.1f |\n", trace_names[i], res[i].nops,
           res[i].parse_ns / (double)res[i].nops,
           res[i].inflate_ns / (double)res[i].nops,
           res[i].load_ns / (double)res[i].nops);

  printf("\n### Replaying the public traces\n\n");
  printf("Nanoseconds per operation (every `a` and `f`), median of %d runs; "
         "in brackets the ratio to glibc malloc/free replaying the same "
         "operations in the same process. Engines: arena 256 MiB, no arena "
         "memory (offsets only), a fresh engine per run. *floor*: the "
         "engines' path without their placement (replay loop, block map, "
         "counters; freed blocks reused per size, the way glibc's cache "
         "does): the least any engine can cost.\n\n",
         reps);
  print_header(NALLOCATORS, "", "floor");
  for (size_t i = 0; i < NTRACES; i++) {
    printf("| %s |", trace_names[i]);
    for (int a = 0; a < NALLOCATORS; a++) {
      if (a == GLIBC)
        printf(" %.1f |", res[i].op_ns[a]);
      else
        printf(" %.1f (%.2fx) |", res[i].op_ns[a],
               res[i].op_ns[a] / res[i].op_ns[GLIBC]);
    }
    printf(" %.1f (%.2fx) |\n", res[i].floor_ns,
           res[i].floor_ns / res[i].op_ns[GLIBC]);
  }
}

static void print_scale(const scale_result_t *res, int reps, size_t pairs) {
  printf("\n### Cost per operation as live blocks grow\n\n");
  printf("Nanoseconds per operation of a steady phase of alloc/free pairs at "
         "N live blocks, after filling an arena of 4 GiB to N with holes "
         "(allocate 2/3, free a random block 1/3). Sizes 60%% 8-64 B, 25%% "
         "65-256 B, 12%% 257-1024 B, 3%% 1-8 KiB. Median of %d segments of "
         "%zu pairs. *Recent*: 9 frees in 10 hit one of 16 recent blocks, "
         "the newest or one of 15 that each came in as the newest and stay "
         "until freed (short lifetimes, as in the traces: about 55%% of the "
         "frees hit one of the 16 latest allocations, 88%% one of the 64 "
         "latest); *uniform*: a random live block (extra information).\n\n",
         reps, pairs);
  printf("| allocator | recent 1K | recent 100K | recent 1M | 1M/1K | "
         "uniform 1K | uniform 100K | uniform 1M | 1M/1K |\n"
         "|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  for (int a = 0; a < NALLOCATORS; a++) {
    const scale_result_t *r = &res[a];
    printf("| %s | %.1f | %.1f | %.1f | %.2f | %.1f | %.1f | %.1f | %.2f |\n",
           allocator_name(a), r->recent_ns[0], r->recent_ns[1],
           r->recent_ns[2], r->recent_ns[2] / r->recent_ns[0],
           r->uniform_ns[0], r->uniform_ns[1], r->uniform_ns[2],
           r->uniform_ns[2] / r->uniform_ns[0]);
  }
}

/* The largest ratio to glibc over the traces of allocator a (FLOOR: the
 * floor), and in *where the trace it is on. */
#define FLOOR (-1)
static double worst_ratio(const trace_result_t *tr, int a, const char **where) {
  double worst = 0;
  *where = "";
  for (size_t i = 0; i < NTRACES; i++) {
    double ns = a == FLOOR ? tr[i].floor_ns : tr[i].op_ns[a];
    if (ns / tr[i].op_ns[GLIBC] > worst) {
      worst = ns / tr[i].op_ns[GLIBC];
      *where = trace_names[i];
    }
  }
  return worst;
}

/* The goals, met or not, with the numbers that decide. */
static void print_goals(const trace_result_t *tr, bool traces,
                        const scale_result_t *sr, bool scale) {
  printf("\n### Goals\n\n");
  if (traces) {
    for (int a = 0; a < AR_POLICY_COUNT; a++) {
      double limit = a == AR_POLICY_BUDDY ? 1.5 : 3.0;
      const char *where;
      double worst = worst_ratio(tr, a, &where);
      printf("- %s at most %.1fx glibc on every trace: %s (worst %.2fx, "
             "%s)\n", allocator_name(a), limit,
             worst <= limit ? "met" : "**not met**", worst, where);
    }
    const char *floor_where;
    double floor_worst = worst_ratio(tr, FLOOR, &floor_where);
    printf("- (the floor, the engines' path without placement: worst "
           "%.2fx glibc, %s)\n",
           floor_worst, floor_where);
    for (size_t i = 0; i < NTRACES; i++) {
      char slower[256] = "";
      size_t len = 0;
      double most = 0;
      for (int a = 0; a < AR_POLICY_COUNT; a++) {
        double parse = tr[i].stream_parse_ns[a];
        if (parse > most)
          most = parse;
        if (parse > tr[i].stream_place_ns[a])
          len += (size_t)snprintf(slower + len, sizeof slower - len,
                                  "%s%s (%.1f > %.1f)", len ? ", " : "",
                                  allocator_name(a), parse,
                                  tr[i].stream_place_ns[a]);
      }
      printf("- %s: parsing (at most %.1f ns/op) no slower than placing: "
             "%s%s\n",
             trace_names[i], most,
             len ? "**not met** for " : "met for every policy", slower);
    }
  }
  if (scale)
    for (int a = 0; a < AR_POLICY_COUNT; a++) {
      double ratio = sr[a].recent_ns[2] / sr[a].recent_ns[0];
      printf("- %s: cost at 1M live at most 3x the cost at 1K: %s (%.2fx; "
             "uniform victims %.2fx)\n", allocator_name(a),
             ratio <= 3.0 ? "met" : "**not met**", ratio,
             sr[a].uniform_ns[2] / sr[a].uniform_ns[0]);
    }
}

/* ---- main ------------------------------------------------------------- */

static void usage(FILE *out) {
  fprintf(out,
          "usage: bench-engines [--data DIR] [--reps N] [--pairs N]\n"
          "                     [--no-traces] [--no-scaling]\n"
          "  --data DIR    the public traces (default %s)\n"
          "  --reps N      measured runs per figure, median taken (default "
          "5, 1..%d)\n"
          "  --pairs N     alloc/free pairs per scaling segment (default "
          "100000)\n",
          AR_BENCH_DATA, MAXREPS);
}

int main(int argc, char **argv) {
  static const struct option longopts[] = {
      {"data", required_argument, NULL, 'd'},
      {"reps", required_argument, NULL, 'r'},
      {"pairs", required_argument, NULL, 'p'},
      {"no-traces", no_argument, NULL, 'T'},
      {"no-scaling", no_argument, NULL, 'S'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  /* Keep freed memory in the process (see the top of this file). */
  mallopt(M_MMAP_THRESHOLD, 512 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  const char *dir = AR_BENCH_DATA;
  int reps = 5;
  size_t pairs = 100000;
  bool traces = true, scale = true;
  int c;
  while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
    switch (c) {
    case 'd':
      dir = optarg;
      break;
    case 'r':
      reps = atoi(optarg);
      break;
    case 'p':
      pairs = (size_t)strtoull(optarg, NULL, 10);
      break;
    case 'T':
      traces = false;
      break;
    case 'S':
      scale = false;
      break;
    case 'h':
      usage(stdout);
      return 0;
    default:
      usage(stderr);
      return 2;
    }
  }
  if (optind != argc || reps < 1 || reps > MAXREPS || pairs < 1) {
    usage(stderr);
    return 2;
  }

  double t0 = now_ns();
  printf("## Engine benchmark\n\n");
  print_command(argc, argv);
  static trace_result_t tr[NTRACES];
  static scale_result_t sr[NALLOCATORS];
  if (traces) {
    for (size_t i = 0; i < NTRACES; i++) {
      fprintf(stderr, "bench-engines: %s\n", trace_names[i]);
      bench_trace(dir, trace_names[i], reps, &tr[i]);
    }
    print_traces(tr, reps);
    fflush(stdout);
  }
  if (scale) {
    for (int a = 0; a < NALLOCATORS; a++) {
      fprintf(stderr, "bench-engines: scaling, %s\n", allocator_name(a));
      bench_scale(a, reps, pairs, &sr[a]);
    }
    print_scale(sr, reps, pairs);
  }
  print_goals(tr, traces, sr, scale);
  printf("\n(%.0f s in all.)\n", (now_ns() - t0) / 1e9);
  return 0;
}
