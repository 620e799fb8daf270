/*
 * arenad_example.c: arenad-example, a small client of the arenad client
 * library that shows two processes sharing memory through the daemon, and
 * that the container test runs in separate containers. It uses only the
 * library's public header, arenad.h.
 *
 *   arenad-example write ARENA SIZE [--count N] [--seed S]
 *                  [--publish FILE] [--detach]
 *   arenad-example read ARENA OFFSET SIZE SEED [--free]
 *   arenad-example read --from FILE [--wait SECONDS] [--free]
 *
 * `write` attaches ARENA, allocates N blocks of SIZE bytes, fills block k
 * with a known pattern (seed S + k; S defaults to the daemon's number for
 * this connection, so each run writes different bytes), and publishes one
 * line per block, "ARENA OFFSET SIZE SEED", on standard output and, with
 * --publish, in FILE (written whole, then renamed into place, so a reader
 * never sees half of it). Its blocks belong to its connection: it then keeps
 * working on them (re-verifying them and allocating, writing and freeing a
 * scratch block every 100 ms) until SIGTERM or SIGINT, when it frees them and
 * exits 0; if it dies instead, the daemon reclaims them when the socket closes.
 * With --detach the blocks outlive the connection and `write` exits at once.
 *
 * `read` attaches the arena read-only (the daemon passes a read-only
 * descriptor of the segment over the socket; the library maps it), and
 * checks every byte of each block
 * against the pattern; --free then frees the (detached) blocks. It exits 0
 * when every byte matched, 1 otherwise, 2 for a bad command line.
 *
 * The socket is $ARENAD_SOCKET (or the library's default). Outside this
 * tree it builds with `cc -std=c11 arenad_example.c $(pkg-config --cflags
 * --libs arenad)`.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* sigaction, nanosleep */
#endif
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "arenad.h"

#define MAX_BLOCKS 256     /* blocks one write or one published file holds */
#define ARENA_NAME_MAX 128 /* bytes of an arena name, with the NUL */
#define WORK_PERIOD_MS 100 /* the holding writer's work period */
#define CLIENT_NAME "arenad-example"

enum { EXIT_MISMATCH = 1, EXIT_USAGE = 2 };

/* One published block. */
typedef struct block_s {
  char arena[ARENA_NAME_MAX];
  uint64_t offset; /* payload offset in the arena */
  uint64_t size;   /* bytes */
  uint64_t seed;   /* of its pattern */
} block_t;

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig) {
  (void)sig;
  stop_requested = 1;
}

static void usage(FILE *out) {
  fprintf(out,
          "usage: arenad-example write ARENA SIZE [--count N] [--seed S]\n"
          "                      [--publish FILE] [--detach]\n"
          "       arenad-example read ARENA OFFSET SIZE SEED [--free]\n"
          "       arenad-example read --from FILE [--wait SECONDS] [--free]\n"
          "\n"
          "write: allocates N (default 1) blocks of SIZE bytes (K or M\n"
          "suffix allowed) in ARENA, fills them with a known pattern and\n"
          "prints 'ARENA OFFSET SIZE SEED' for each (also into FILE with\n"
          "--publish); then keeps working on them until SIGTERM or SIGINT\n"
          "and frees them, or, with --detach, exits leaving them allocated.\n"
          "read: maps the arena and checks the bytes of the block given (a\n"
          "line write printed) or of each block in FILE; --free then frees\n"
          "them; --wait waits up to SECONDS for FILE to appear.\n"
          "The socket is $%s.\n",
          ARENAD_SOCKET_ENV);
}

/* ---- The pattern --------------------------------------------------------- */

/* The byte at position i of a block written with `seed`. */
static uint8_t pattern_byte(uint64_t seed, uint64_t i) {
  return (uint8_t)((i * 131 + seed * 7 + (i >> 8)) & 0xff);
}

static void pattern_fill(uint8_t *p, uint64_t size, uint64_t seed) {
  for (uint64_t i = 0; i < size; i++)
    p[i] = pattern_byte(seed, i);
}

/* The index of the first byte that differs, or size when all match. */
static uint64_t pattern_check(const uint8_t *p, uint64_t size, uint64_t seed) {
  for (uint64_t i = 0; i < size; i++)
    if (p[i] != pattern_byte(seed, i))
      return i;
  return size;
}

/* ---- Small helpers ------------------------------------------------------- */

/* Whether the block of size bytes at offset lies inside the mapping of
 * arena; says it on stderr (for command cmd) when it does not. */
static bool block_fits(const char *cmd, const char *arena,
                       const arenad_map_t *map, uint64_t offset,
                       uint64_t size) {
  if (offset <= map->size && size <= map->size - offset)
    return true;
  fprintf(stderr,
          "arenad-example %s: %s is %" PRIu64 " bytes: no block of %" PRIu64
          " at %" PRIu64 "\n",
          cmd, arena, map->size, size, offset);
  return false;
}

/* A decimal (or 0x hex) number with an optional K or M suffix. Base 0
 * would read a leading 0 as octal ("010" is 8), and strtoull alone would
 * take a sign or blanks: digits come first. */
static bool parse_u64(const char *s, bool suffix, uint64_t *out) {
  char *end;
  int base = s[0] == '0' && (s[1] == 'x' || s[1] == 'X') ? 16 : 10;
  if (!isdigit((unsigned char)s[0]))
    return false;
  errno = 0;
  unsigned long long v = strtoull(s, &end, base);
  if (errno != 0 || end == s)
    return false;
  uint64_t mul = 1;
  if (suffix && (*end == 'K' || *end == 'k'))
    mul = 1024, end++;
  else if (suffix && (*end == 'M' || *end == 'm'))
    mul = 1024 * 1024, end++;
  if (*end != '\0' || v > UINT64_MAX / mul)
    return false;
  *out = (uint64_t)v * mul;
  return true;
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL); /* a signal cuts it short: the caller looks */
}

/* Connects to the daemon and says hello (its answer in *hi). Returns the
 * handle, or NULL after printing why. */
static arenad_t *open_daemon(const char *role, arenad_hello_t *hi) {
  char path[256];
  arenad_t *h;
  if (arenad_socket_path(NULL, path, sizeof(path)) < 0)
    snprintf(path, sizeof(path), "(no socket path)");
  int rc = arenad_connect(NULL, &h);
  if (rc < 0) {
    fprintf(stderr, "arenad-example %s: cannot connect to %s: %s (%s)\n", role,
            path, ar_strerror(rc), strerror(errno));
    return NULL;
  }
  rc = arenad_hello(h, CLIENT_NAME, hi);
  if (rc < 0) {
    fprintf(stderr, "arenad-example %s: hello: %s\n", role, arenad_error(h));
    arenad_close(h);
    return NULL;
  }
  fprintf(stderr,
          "arenad-example %s: connected to %s (arenad %s), "
          "connection %" PRIu64 "\n",
          role, path, hi->daemon_version, hi->connection_id);
  return h;
}

/* ---- Publishing ---------------------------------------------------------- */

static void print_block(FILE *f, const block_t *b) {
  fprintf(f, "%s %" PRIu64 " %" PRIu64 " %" PRIu64 "\n", b->arena, b->offset,
          b->size, b->seed);
}

/* Writes the blocks to path through a temporary file renamed into place.
 * Returns 0, or -1 after printing why. */
static int publish(const char *path, const block_t *blocks, size_t n) {
  char tmp[4096];
  if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp)) {
    fprintf(stderr, "arenad-example: --publish path too long\n");
    return -1;
  }
  FILE *f = fopen(tmp, "w");
  if (f == NULL) {
    fprintf(stderr, "arenad-example: cannot write %s: %s\n", tmp,
            strerror(errno));
    return -1;
  }
  for (size_t i = 0; i < n; i++)
    print_block(f, &blocks[i]);
  if (fclose(f) != 0 || rename(tmp, path) != 0) {
    fprintf(stderr, "arenad-example: cannot publish %s: %s\n", path,
            strerror(errno));
    unlink(tmp);
    return -1;
  }
  return 0;
}

/* Reads up to max blocks from path into blocks; waits up to wait_s seconds
 * for the file to appear. Returns how many, or -1 after printing why. */
static int read_published(const char *path, unsigned wait_s, block_t *blocks,
                          size_t max) {
  FILE *f;
  for (unsigned waited_ms = 0;; waited_ms += WORK_PERIOD_MS) {
    f = fopen(path, "r");
    if (f != NULL || errno != ENOENT || waited_ms >= wait_s * 1000u ||
        stop_requested)
      break;
    sleep_ms(WORK_PERIOD_MS);
  }
  if (f == NULL) {
    fprintf(stderr, "arenad-example read: cannot open %s: %s\n", path,
            strerror(errno));
    return -1;
  }
  char line[512];
  size_t n = 0;
  int rc = 0;
  while (rc == 0 && fgets(line, sizeof(line), f) != NULL) {
    if (line[0] == '\n' || line[0] == '#')
      continue;
    block_t *b = &blocks[n];
    if (n == max || sscanf(line, "%127s %" SCNu64 " %" SCNu64 " %" SCNu64,
                           b->arena, &b->offset, &b->size, &b->seed) != 4) {
      fprintf(stderr,
              "arenad-example read: %s: bad line (or more than %d "
              "blocks): %s",
              path, MAX_BLOCKS, line);
      rc = -1;
      break;
    }
    n++;
  }
  fclose(f);
  if (rc == 0 && n == 0) {
    fprintf(stderr, "arenad-example read: %s lists no block\n", path);
    rc = -1;
  }
  return rc < 0 ? -1 : (int)n;
}

/* ---- write --------------------------------------------------------------- */

/* The holding writer's work, every WORK_PERIOD_MS until a signal: check
 * that its blocks still hold their pattern, and put a scratch block
 * through alloc, write, check and free. Returns 0 when stopped by a
 * signal, or 1 after printing what failed. */
static int keep_working(arenad_t *h, const block_t *blocks, size_t n) {
  const char *arena = blocks[0].arena;
  for (uint64_t round = 1; !stop_requested; round++) {
    for (size_t i = 0; i < n; i++) {
      const uint8_t *p = arenad_ptr(h, arena, blocks[i].offset);
      uint64_t bad = pattern_check(p, blocks[i].size, blocks[i].seed);
      if (bad != blocks[i].size) {
        fprintf(stderr,
                "arenad-example write: block at %" PRIu64
                " changed at byte %" PRIu64 "\n",
                blocks[i].offset, bad);
        return EXIT_MISMATCH;
      }
    }
    uint64_t off;
    void *p;
    int rc = arenad_alloc(h, arena, 512, 0, 0, &off, &p);
    if (rc == 0) {
      pattern_fill(p, 512, round);
      if (pattern_check(p, 512, round) != 512) {
        fprintf(stderr, "arenad-example write: scratch block misread\n");
        return EXIT_MISMATCH;
      }
      rc = arenad_free(h, arena, off);
    }
    if (rc < 0 && rc != AR_ENOMEM) {
      fprintf(stderr, "arenad-example write: %s\n", arenad_error(h));
      return EXIT_MISMATCH;
    }
    sleep_ms(WORK_PERIOD_MS);
  }
  return 0;
}

static int cmd_write(int argc, char **argv) {
  uint64_t size, count = 1, seed = 0;
  const char *publish_path = NULL;
  bool detach = false, seed_given = false;
  const char *pos[2];
  int npos = 0;
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    bool has_value = i + 1 < argc;
    if (strcmp(a, "--count") == 0 && has_value) {
      if (!parse_u64(argv[++i], false, &count) || count == 0 ||
          count > MAX_BLOCKS) {
        fprintf(stderr, "arenad-example write: --count is 1 to %d\n",
                MAX_BLOCKS);
        return EXIT_USAGE;
      }
    } else if (strcmp(a, "--seed") == 0 && has_value) {
      if (!parse_u64(argv[++i], false, &seed))
        return EXIT_USAGE;
      seed_given = true;
    } else if (strcmp(a, "--publish") == 0 && has_value) {
      publish_path = argv[++i];
    } else if (strcmp(a, "--detach") == 0) {
      detach = true;
    } else if (a[0] != '-' && npos < 2) {
      pos[npos++] = a;
    } else {
      usage(stderr);
      return EXIT_USAGE;
    }
  }
  if (npos != 2 || !parse_u64(pos[1], true, &size) || size == 0 ||
      strlen(pos[0]) >= ARENA_NAME_MAX) {
    usage(stderr);
    return EXIT_USAGE;
  }

  arenad_hello_t hi;
  arenad_t *h = open_daemon("write", &hi);
  if (h == NULL)
    return EXIT_MISMATCH;
  if (!seed_given)
    seed = hi.connection_id;
  int status = EXIT_MISMATCH;
  block_t blocks[MAX_BLOCKS];
  uint64_t offsets[MAX_BLOCKS];
  size_t n = 0;
  arenad_map_t map;
  int rc = arenad_attach(h, pos[0], 0, &map);
  if (rc == 0)
    rc = arenad_alloc_n(h, pos[0], size, 0, (uint32_t)count,
                        detach ? ARENAD_ALLOC_DETACHED : 0, offsets);
  if (rc != 0) {
    fprintf(stderr, "arenad-example write: %s: %s\n", pos[0], arenad_error(h));
    goto out;
  }
  for (n = 0; n < count; n++) {
    block_t *b = &blocks[n];
    snprintf(b->arena, sizeof(b->arena), "%s", pos[0]);
    b->offset = offsets[n];
    b->size = size;
    b->seed = seed + n;
    /* As the reader does: write nothing past the mapping (arenad_ptr is
     * then not NULL either). */
    if (!block_fits("write", pos[0], &map, b->offset, size))
      goto out;
    pattern_fill(arenad_ptr(h, pos[0], b->offset), size, b->seed);
  }
  if (publish_path != NULL && publish(publish_path, blocks, n) < 0)
    goto out;
  for (size_t i = 0; i < n; i++)
    print_block(stdout, &blocks[i]);
  fprintf(stderr,
          "arenad-example write: %zu block(s) of %" PRIu64 " bytes written%s\n",
          n, size, detach ? ", detached" : "; working on them until SIGTERM");
  if (detach) {
    status = 0;
    goto out;
  }
  status = keep_working(h, blocks, n);
  if (status == 0) {
    rc = arenad_free_n(h, pos[0], offsets, n, NULL);
    if (rc < 0) {
      fprintf(stderr, "arenad-example write: free: %s\n", arenad_error(h));
      status = EXIT_MISMATCH;
    } else {
      fprintf(stderr, "arenad-example write: stopped, %zu block(s) freed\n", n);
    }
  }
out:
  arenad_close(h);
  return status;
}

/* ---- read ---------------------------------------------------------------- */

static int cmd_read(int argc, char **argv) {
  uint64_t wait_s = 0;
  const char *from = NULL;
  bool do_free = false;
  const char *pos[4];
  int npos = 0;
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    bool has_value = i + 1 < argc;
    if (strcmp(a, "--from") == 0 && has_value) {
      from = argv[++i];
    } else if (strcmp(a, "--wait") == 0 && has_value) {
      if (!parse_u64(argv[++i], false, &wait_s) || wait_s > 3600)
        return EXIT_USAGE;
    } else if (strcmp(a, "--free") == 0) {
      do_free = true;
    } else if (a[0] != '-' && npos < 4) {
      pos[npos++] = a;
    } else {
      usage(stderr);
      return EXIT_USAGE;
    }
  }
  block_t blocks[MAX_BLOCKS];
  int n;
  if (from != NULL && npos == 0) {
    n = read_published(from, (unsigned)wait_s, blocks, MAX_BLOCKS);
    if (n < 0)
      return EXIT_MISMATCH;
  } else if (from == NULL && npos == 4 && strlen(pos[0]) < ARENA_NAME_MAX &&
             parse_u64(pos[1], false, &blocks[0].offset) &&
             parse_u64(pos[2], true, &blocks[0].size) && blocks[0].size > 0 &&
             parse_u64(pos[3], false, &blocks[0].seed)) {
    snprintf(blocks[0].arena, sizeof(blocks[0].arena), "%s", pos[0]);
    n = 1;
  } else {
    usage(stderr);
    return EXIT_USAGE;
  }

  arenad_hello_t hi;
  arenad_t *h = open_daemon("read", &hi);
  if (h == NULL)
    return EXIT_MISMATCH;
  int status = 0;
  for (int i = 0; i < n; i++) {
    const block_t *b = &blocks[i];
    arenad_map_t map;
    /* Read-only: a reader needs only read access to the arena, and
     * cannot scribble on the writer's blocks by mistake (--free needs
     * write access, but no writable mapping). A second block in the same
     * arena gets the same mapping back without asking the daemon. */
    int rc = arenad_attach(h, b->arena, ARENAD_ATTACH_READ_ONLY, &map);
    if (rc < 0) {
      fprintf(stderr, "arenad-example read: attach %s: %s\n", b->arena,
              arenad_error(h));
      status = EXIT_MISMATCH;
      break;
    }
    if (!block_fits("read", b->arena, &map, b->offset, b->size)) {
      status = EXIT_MISMATCH;
      continue;
    }
    const uint8_t *p = (const uint8_t *)map.base + b->offset;
    uint64_t bad = pattern_check(p, b->size, b->seed);
    if (bad != b->size) {
      fprintf(stderr,
              "arenad-example read: %s at %" PRIu64 ": byte %" PRIu64
              " is 0x%02x, expected 0x%02x\n",
              b->arena, b->offset, bad, p[bad], pattern_byte(b->seed, bad));
      status = EXIT_MISMATCH;
      continue;
    }
    printf("verified %s %" PRIu64 " %" PRIu64 " %" PRIu64 "\n", b->arena,
           b->offset, b->size, b->seed);
    if (do_free && arenad_free(h, b->arena, b->offset) < 0) {
      fprintf(stderr, "arenad-example read: free %s %" PRIu64 ": %s\n",
              b->arena, b->offset, arenad_error(h));
      status = EXIT_MISMATCH;
    }
  }
  arenad_close(h);
  return status;
}

int main(int argc, char **argv) {
  /* Line by line, also into a pipe or a container's log. */
  setvbuf(stdout, NULL, _IOLBF, 0);
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  /* As a container's PID 1 nothing else would act on these. */
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);

  if (argc >= 2 && strcmp(argv[1], "write") == 0)
    return cmd_write(argc - 2, argv + 2);
  if (argc >= 2 && strcmp(argv[1], "read") == 0)
    return cmd_read(argc - 2, argv + 2);
  if (argc >= 2 &&
      (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
    usage(stdout);
    return 0;
  }
  usage(stderr);
  return EXIT_USAGE;
}
