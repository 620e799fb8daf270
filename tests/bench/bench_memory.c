/*
 * bench_memory.c: how much memory each policy needs to serve the public
 * traces, next to glibc malloc/free serving the same operations. It prints
 * markdown tables for the README, with the command that produced them.
 *
 * The baseline is the trace's own need, measured in the same run: its
 * peak of live requested bytes (peak_live). Each engine replays the trace
 * once (arena 256 MiB, offsets only) and reports, from its stats, the
 * arena it spread over (hwm: the highest block end, so fragmentation,
 * headers and rounding included) and its own memory at the peak
 * (peak_meta_bytes: block map and indexes, outside the arena). glibc's
 * figure is the peak size of its heap, fragmentation and chunk headers
 * included, for the same operations.
 *
 * glibc's heap is measured in a fresh process, so that no memory the
 * benchmark itself freed earlier can be reused and hidden: this program
 * runs itself with --glibc-child FILE, where FILE holds the trace's
 * operations. The child maps that file and its slot array with mmap (not
 * malloc), raises the mmap and trim thresholds so that every block lives
 * in the heap and the heap never shrinks, replays, and prints how much the
 * heap grew: with nothing else allocating, that is its peak.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ar/engine.h"
#include "ar/error.h"
#include "ar/trace.h"
#include "traces.h"

#ifndef AR_BENCH_DATA
#define AR_BENCH_DATA "tests/data"
#endif

#define TRACE_ARENA (UINT64_C(256) << 20)


static void die(const char *what, const char *detail) {
  fprintf(stderr, "bench-memory: %s: %s\n", what, detail);
  exit(1);
}

/* ---- the glibc child ------------------------------------------------------ */

/* The file the parent writes: this header, then nops ar_trace_op_t. */
typedef struct ops_file_s {
  uint64_t nops;
  uint64_t nslots;
} ops_file_t;

static uint64_t heap_bytes(void) {
  struct mallinfo2 mi = mallinfo2();
  return (uint64_t)mi.arena + (uint64_t)mi.hblkhd;
}

static int glibc_child(const char *path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) < 0)
    die(path, strerror(errno));
  const unsigned char *map =
      mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
  if (map == MAP_FAILED)
    die(path, strerror(errno));
  ops_file_t hdr;
  memcpy(&hdr, map, sizeof hdr);
  const ar_trace_op_t *ops = (const void *)(map + sizeof hdr);
  void **slot = mmap(NULL, (hdr.nslots + 1) * sizeof *slot,
                     PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
                     0);
  if (slot == MAP_FAILED)
    die("mmap", strerror(errno));
  mallopt(M_MMAP_THRESHOLD, 512 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  uint64_t before = heap_bytes();
  for (uint64_t i = 0; i < hdr.nops; i++) {
    const ar_trace_op_t *op = &ops[i];
    if (op->kind == AR_TRACE_ALLOC) {
      slot[op->slot] = malloc(op->n);
      if (slot[op->slot] == NULL)
        die("malloc", "failed");
    } else if (op->slot != AR_TRACE_NO_SLOT) {
      free(slot[op->slot]);
      slot[op->slot] = NULL;
    }
  }
  printf("%" PRIu64 "\n", heap_bytes() - before);
  return 0;
}

/* Writes the trace's operations for a child, runs it and returns the
 * growth of its heap. */
static uint64_t glibc_peak(const char *self, const ar_trace_t *t) {
  char path[] = "/tmp/bench-memory-XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0)
    die("mkstemp", strerror(errno));
  ar_trace_info_t info;
  ar_trace_info(t, &info);
  ops_file_t hdr = {info.nops, info.nslots};
  FILE *f = fdopen(fd, "w");
  if (f == NULL || fwrite(&hdr, sizeof hdr, 1, f) != 1 ||
      fwrite(ar_trace_ops(t), sizeof(ar_trace_op_t), info.nops, f) !=
          info.nops ||
      fclose(f) != 0)
    die(path, "cannot write the operations");

  int out[2];
  if (pipe(out) < 0)
    die("pipe", strerror(errno));
  pid_t pid = fork();
  if (pid < 0)
    die("fork", strerror(errno));
  if (pid == 0) {
    dup2(out[1], STDOUT_FILENO);
    close(out[0]);
    close(out[1]);
    execl(self, self, "--glibc-child", path, (char *)NULL);
    _exit(127);
  }
  close(out[1]);
  char buf[64] = "";
  ssize_t got = read(out[0], buf, sizeof buf - 1);
  close(out[0]);
  int status;
  waitpid(pid, &status, 0);
  unlink(path);
  if (got <= 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
    die("the glibc child", "failed");
  return strtoull(buf, NULL, 10);
}

/* ---- the engines ------------------------------------------------------------ */

typedef struct result_s {
  uint64_t peak_live;                 /* the baseline */
  uint64_t hwm[AR_POLICY_COUNT];      /* arena spread over */
  uint64_t meta[AR_POLICY_COUNT];     /* engine memory at its peak */
  uint64_t blocks;                    /* the most blocks live at once */
  uint64_t glibc;                     /* glibc's peak heap */
} result_t;

/* The most blocks live at once in the trace: the replay does not report
 * it, so count it from the operations (the allocations all succeed in 256
 * MiB). */
static uint64_t peak_blocks(const ar_trace_t *t) {
  ar_trace_info_t info;
  ar_trace_info(t, &info);
  const ar_trace_op_t *ops = ar_trace_ops(t);
  unsigned char *live = calloc(info.nslots ? info.nslots : 1, 1);
  if (live == NULL)
    die("out of memory", "slots");
  uint64_t now = 0, peak = 0;
  for (size_t i = 0; i < info.nops; i++) {
    const ar_trace_op_t *op = &ops[i];
    if (op->kind == AR_TRACE_ALLOC) {
      live[op->slot] = 1;
      if (++now > peak)
        peak = now;
    } else if (op->slot != AR_TRACE_NO_SLOT && live[op->slot]) {
      live[op->slot] = 0;
      now--;
    }
  }
  free(live);
  return peak;
}

static void measure(const char *self, const char *dir, const char *name,
                    result_t *res) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s.trace.gz", dir, name);
  ar_trace_error_t err;
  ar_trace_t *t = NULL;
  if (ar_trace_load(path, &t, &err) < 0)
    die(path, err.msg);
  res->blocks = peak_blocks(t);
  for (int p = 0; p < AR_POLICY_COUNT; p++) {
    ar_engine_t *e;
    if (ar_engine_create((ar_policy_t)p, TRACE_ARENA, NULL, &e) < 0)
      die("cannot create the engine", ar_policy_name((ar_policy_t)p));
    ar_replay_summary_t sum;
    if (ar_replay_run(t, e, NULL, NULL, &sum, &err) < 0)
      die("replay failed", err.msg);
    if (sum.failed_allocs != 0)
      die("an allocation failed in 256 MiB", ar_policy_name((ar_policy_t)p));
    ar_engine_stats_t st;
    ar_engine_stats(e, &st);
    res->peak_live = st.peak_requested;
    res->hwm[p] = st.hwm;
    res->meta[p] = st.peak_meta_bytes;
    ar_engine_destroy(e);
  }
  res->glibc = glibc_peak(self, t);
  ar_trace_destroy(t);
}

/* ---- output ----------------------------------------------------------------- */

static double kib(uint64_t bytes) { return (double)bytes / 1024.0; }

static void print_tables(const result_t *res, int argc, char **argv) {
  printf("## Memory benchmark\n\nProduced by `");
  for (int i = 0; i < argc; i++)
    printf("%s%s", i ? " " : "", argv[i]);
  printf("`.\n\n");

  printf("Memory to serve each public trace, as a multiple of the trace's "
         "peak of live requested bytes (*peak live*, the baseline). "
         "Engines: the arena spread over (hwm) plus the engine's own "
         "memory at its peak (block map and indexes, outside the arena). "
         "glibc: its heap at the peak, in a fresh process.\n\n");
  printf("| trace | peak live | first | next | best | worst | buddy | glibc "
         "|\n|---|---:|---:|---:|---:|---:|---:|---:|\n");
  for (size_t i = 0; i < NTRACES; i++) {
    const result_t *r = &res[i];
    printf("| %s | %.0f KiB |", trace_names[i], kib(r->peak_live));
    for (int p = 0; p < AR_POLICY_COUNT; p++)
      printf(" %.2f |",
             (double)(r->hwm[p] + r->meta[p]) / (double)r->peak_live);
    printf(" %.2f |\n", (double)r->glibc / (double)r->peak_live);
  }

  printf("\nThe engines' own memory at its peak, in KiB, and in brackets "
         "per block live at the trace's peak:\n\n");
  printf("| trace | peak blocks | first | next | best | worst | buddy |\n"
         "|---|---:|---:|---:|---:|---:|---:|\n");
  for (size_t i = 0; i < NTRACES; i++) {
    const result_t *r = &res[i];
    printf("| %s | %" PRIu64 " |", trace_names[i], r->blocks);
    for (int p = 0; p < AR_POLICY_COUNT; p++)
      printf(" %.0f (%.0f B) |", kib(r->meta[p]),
             (double)r->meta[p] / (double)r->blocks);
    printf("\n");
  }
}

int main(int argc, char **argv) {
  if (argc == 3 && strcmp(argv[1], "--glibc-child") == 0)
    return glibc_child(argv[2]);
  const char *dir = AR_BENCH_DATA;
  if (argc == 3 && strcmp(argv[1], "--data") == 0)
    dir = argv[2];
  else if (argc != 1) {
    fprintf(stderr, "usage: bench-memory [--data DIR]\n"
                    "  --data DIR  the public traces (default %s)\n",
            AR_BENCH_DATA);
    return 2;
  }
  static result_t res[NTRACES];
  for (size_t i = 0; i < NTRACES; i++) {
    fprintf(stderr, "bench-memory: %s\n", trace_names[i]);
    measure("/proc/self/exe", dir, trace_names[i], &res[i]);
  }
  print_tables(res, argc, argv);
  return 0;
}
