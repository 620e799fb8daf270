/*
 * cmd_block.c: `arenactl alloc` and `arenactl free`, blocks made and freed
 * from the command line. alloc makes detached blocks (a block of an
 * ordinary connection would be freed as soon as arenactl exits), so that a
 * later `arenactl free`, from any process with write access, frees them.
 * Counts past the daemon's blocks-per-request limit are split into several
 * requests. free warns of each block whose header the daemon found
 * overwritten (the free still succeeded), and so does an alloc that gives
 * its blocks back when it cannot finish; the blocks it cannot give back it
 * names, since nobody else knows their offsets.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "ar/util.h"
#include "arenactl.h"
#include "ctl.h"

/* The blocks one request may carry: hello's limit, or 1 without one. */
static size_t per_request(const arenad_hello_t *hi) {
  return hi->max_blocks_per_request > 0 ? hi->max_blocks_per_request : 1;
}

/* Warns on standard error, as `arenactl CMD`, of each of the k blocks at
 * offsets[0..k) that the daemon freed with its header overwritten
 * "before <freed>" (this free, or it was given back). Such a free
 * succeeded: the block is gone. */
static void warn_overwritten(const char *cmd, const char *freed,
                             const char *arena, const uint64_t *offsets,
                             size_t k) {
  for (size_t i = 0; i < k; i++)
    fprintf(stderr,
            "arenactl %s: warning: the header of the block at %llu in "
            "arena %s had been overwritten before %s (the daemon counted "
            "it as a corruption)\n",
            cmd, (unsigned long long)offsets[i], arena, freed);
}

/* ---- alloc --------------------------------------------------------------- */

static void alloc_usage(FILE *out) {
  fprintf(out,
          "usage: arenactl [--socket PATH] alloc ARENA SIZE [--align A]\n"
          "                [--count N] [--json]\n"
          "\n"
          "Allocates N (default 1) detached blocks of SIZE bytes (K, M, G\n"
          "suffixes allowed) in ARENA and prints their payload offsets, one\n"
          "a line. Detached blocks outlive this command: free them with\n"
          "'arenactl free ARENA OFFSET...'.\n"
          "\n"
          "  --align A   payload alignment, a power of two from 16 to 4096\n"
          "              (K suffix allowed: 4K), or 0 for the default, 16\n"
          "  --count N   blocks to allocate, all or none\n"
          "  --json      print {\"arena\":..., \"size\":..., \"align\":...,\n"
          "              \"offsets\":[...]}\n");
}

/* Prints the offsets of an alloc; returns ARENACTL_OK, or ARENACTL_FAIL
 * (said on standard error) when they could not all be written. */
static int print_offsets(const char *arena, uint64_t size, uint64_t align,
                         const uint64_t *offsets, size_t count, bool json) {
  if (json) {
    json_t *list = json_array();
    for (size_t i = 0; list != NULL && i < count; i++)
      if (json_array_append_new(list, ar__ctl_json_u64(offsets[i])) < 0) {
        json_decref(list);
        list = NULL;
      }
    json_t *o =
        list == NULL
            ? NULL
            : json_pack("{s:s, s:o, s:o, s:o}", "arena", arena, "size",
                        ar__ctl_json_u64(size), "align",
                        ar__ctl_json_u64(align ? align : 16), "offsets", list);
    return ar__ctl_print_json("alloc", o);
  }
  for (size_t i = 0; i < count; i++)
    printf("%llu\n", (unsigned long long)offsets[i]);
  return ar__ctl_flush("alloc");
}

/* Room for what one request of a give-back reports: the status of each
 * of its offsets and the offsets of the blocks whose header had been
 * overwritten, `step` of each. Made with the offsets, so that giving the
 * blocks back never waits on memory. */
typedef struct give_back_s {
  int *statuses;
  uint64_t *overwritten;
} give_back_t;

/* Frees the blocks at offsets[0..n) again, `step` a request, warning of
 * each whose header another process had overwritten meanwhile (its free
 * succeeded: the block is gone all the same, as free's warning says).
 * Moves the offsets of the blocks it could not give back to the front,
 * offsets[0..k) in their order, and returns k (0: all given back), with
 * the first failure's reason in why (len bytes) when k > 0. */
static size_t give_back(arenad_t *h, const char *arena, uint64_t *offsets,
                        size_t n, size_t step, const give_back_t *gb, char *why,
                        size_t len) {
  size_t kept = 0;
  for (size_t i = 0; i < n; i += step) {
    size_t k = n - i < step ? n - i : step, nw = 0;
    arenad_free_report(h, arena, offsets + i, k, gb->statuses, gb->overwritten,
                       &nw);
    warn_overwritten("alloc", "it was given back", arena, gb->overwritten, nw);
    /* Each offset's status: its own, or the request's as a whole; the
     * handle's error is about the first that failed. */
    for (size_t j = 0; j < k; j++) {
      if (gb->statuses[j] == 0)
        continue;
      if (kept == 0)
        snprintf(why, len, "%s",
                 arenad_error(h)[0] != '\0' ? arenad_error(h)
                                            : ar_strerror(gb->statuses[j]));
      offsets[kept++] = offsets[i + j]; /* kept <= i + j: not yet read */
    }
  }
  return kept;
}

/* Names on standard error the k blocks at offsets[0..k) that an alloc
 * could not give back, and why: they may still be allocated, detached,
 * and nobody else knows their offsets. */
static void say_kept(const char *arena, const uint64_t *offsets, size_t k,
                     const char *why) {
  fprintf(stderr,
          "arenactl alloc: %s: %zu block%s could not be given back (%s) and "
          "may still be allocated, detached; to free %s: arenactl free %s",
          arena, k, k == 1 ? "" : "s", why, k == 1 ? "it" : "them", arena);
  for (size_t i = 0; i < k; i++)
    fprintf(stderr, " %llu", (unsigned long long)offsets[i]);
  fputc('\n', stderr);
}

/* The daemon refused (rc) an alloc request after `done` of the `count`
 * blocks asked for had been made, `step` a request. Gives those back (all
 * or none) and says so with the daemon's reason: when the count was split,
 * that reason is about the one request it refused, so the message says
 * what was asked and what became of the blocks made before (and names
 * those that could not be given back). Returns ARENACTL_FAIL. */
static int alloc_refused(arenad_t *h, int rc, const char *arena, uint64_t count,
                         size_t step, uint64_t *offsets, size_t done,
                         const give_back_t *gb) {
  if (count <= step)
    return ar__ctl_fail("alloc", h, rc, arena);
  char why[512], kept_why[512]; /* the daemon's messages, whole */
  snprintf(why, sizeof why, "%s",
           arenad_error(h)[0] != '\0' ? arenad_error(h) : ar_strerror(rc));
  size_t kept =
      give_back(h, arena, offsets, done, step, gb, kept_why, sizeof kept_why);
  char after[160] = "the daemon refused the first request";
  if (done > 0)
    snprintf(after, sizeof after,
             "%zu had been allocated when the daemon refused more, %s", done,
             kept == 0 ? "and were freed again"
                       : "and freeing them again failed");
  fprintf(stderr,
          "arenactl alloc: %s: cannot allocate %llu blocks (sent in requests "
          "of up to %zu): %s: %s\n",
          arena, (unsigned long long)count, step, after, why);
  if (kept > 0)
    say_kept(arena, offsets, kept, kept_why);
  return ARENACTL_FAIL;
}

/* alloc's options into *align (0: the default), *count (1 to UINT32_MAX)
 * and *json. Returns ARENACTL_OK, -1 after --help, or ARENACTL_USAGE
 * (after saying why). */
static int alloc_options(int argc, char **argv, uint64_t *align,
                         uint64_t *count, bool *json) {
  static const struct option longopts[] = {
      {"align", required_argument, NULL, 'a'},
      {"count", required_argument, NULL, 'c'},
      {"json", no_argument, NULL, 'j'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  *align = 0;
  *count = 1;
  *json = false;
  optind = 0;
  int c;
  while ((c = ar__ctl_getopt(argc, argv, longopts)) != -1) {
    switch (c) {
    case 'a':
      /* Written as a size is (4K is 4096); the daemon checks that it is
       * one it takes, and says so. */
      if (ar_parse_size(optarg, align) < 0) {
        fprintf(stderr,
                "arenactl alloc: invalid --align '%s' (a power of two from "
                "16 to 4096 bytes, with an optional K suffix, or 0 for the "
                "default)\n",
                optarg);
        return ARENACTL_USAGE;
      }
      break;
    case 'c':
      if (ar__ctl_parse_u64(optarg, count) < 0 || *count == 0 ||
          *count > UINT32_MAX) {
        fprintf(stderr,
                "arenactl alloc: invalid --count '%s' (a count from 1 to "
                "4294967295)\n",
                optarg);
        return ARENACTL_USAGE;
      }
      break;
    case 'j':
      *json = true;
      break;
    case 'h':
      alloc_usage(stdout);
      return -1;
    default:
      return ar__ctl_bad_option(c, argv, alloc_usage);
    }
  }
  return ARENACTL_OK;
}

int ar__cmd_alloc(int argc, char **argv) {
  uint64_t align, count, size;
  bool json;
  int rc = alloc_options(argc, argv, &align, &count, &json);
  if (rc != ARENACTL_OK)
    return rc < 0 ? ARENACTL_OK : rc;
  if (argc - optind != 2) {
    fprintf(stderr, "arenactl alloc: expected ARENA and SIZE\n");
    alloc_usage(stderr);
    return ARENACTL_USAGE;
  }
  const char *arena = argv[optind];
  if (ar__ctl_arena_arg("alloc", arena) != ARENACTL_OK)
    return ARENACTL_USAGE;
  rc = ar_parse_size(argv[optind + 1], &size);
  if (rc < 0) {
    fprintf(stderr, "arenactl alloc: invalid SIZE '%s' (%s)\n",
            argv[optind + 1], ar__ctl_size_why(rc));
    return ARENACTL_USAGE;
  }

  arenad_hello_t hi;
  arenad_t *h = ar__ctl_connect("alloc", &hi);
  if (h == NULL)
    return ARENACTL_FAIL;
  size_t step = per_request(&hi);
  /* The offsets, then give_back's room for a request's report: its
   * overwritten offsets and its statuses. */
  size_t room = count < step ? (size_t)count : step;
  uint64_t *offsets = malloc((count + room) * sizeof *offsets);
  give_back_t gb = {.statuses = malloc(room * sizeof *gb.statuses),
                    .overwritten = offsets + count};
  if (offsets == NULL || gb.statuses == NULL) {
    free(offsets);
    free(gb.statuses);
    arenad_close(h);
    fprintf(stderr, "arenactl alloc: out of memory\n");
    return ARENACTL_FAIL;
  }
  size_t done = 0;
  rc = 0;
  while (done < count) {
    size_t n = count - done < step ? count - done : step;
    rc = arenad_alloc_n(h, arena, size, align, (uint32_t)n,
                        ARENAD_ALLOC_DETACHED, offsets + done);
    if (rc < 0)
      break;
    done += n;
  }
  int status =
      rc < 0 ? alloc_refused(h, rc, arena, count, step, offsets, done, &gb)
             : print_offsets(arena, size, align, offsets, count, json);
  /* All or none: blocks nobody learned the offsets of are given back when
   * the offsets could not be written (alloc_refused gave back its own);
   * those that cannot be are named on standard error, which may still
   * work. */
  if (rc == 0 && status != ARENACTL_OK) {
    char why[512];
    size_t kept =
        give_back(h, arena, offsets, done, step, &gb, why, sizeof why);
    if (kept > 0)
      say_kept(arena, offsets, kept, why);
    else
      fprintf(stderr,
              "arenactl alloc: %s: the %zu block%s allocated %s given back, "
              "%s not written\n",
              arena, done, done == 1 ? "" : "s", done == 1 ? "was" : "were",
              done == 1 ? "its offset" : "their offsets");
  }
  free(offsets);
  free(gb.statuses);
  arenad_close(h);
  return status;
}

/* ---- free ---------------------------------------------------------------- */

static void free_usage(FILE *out) {
  fprintf(out, "usage: arenactl [--socket PATH] free ARENA OFFSET...\n"
               "\n"
               "Frees the blocks at the given payload offsets (as alloc\n"
               "printed them; decimal or 0x hex). Each offset is freed on its\n"
               "own: the exit status is 1 when any of them failed, and each\n"
               "failure is named on standard error. A block whose header\n"
               "(the 16 bytes before its payload) had been overwritten is\n"
               "freed all the same: a warning on standard error names it,\n"
               "and the exit status does not count it as a failure.\n");
}

/* Names on standard error each of a free request's k offsets whose status
 * is not 0, after the request's rc. arenad_error's sentence is about the
 * first failure: of the request as a whole (rc, which every offset then
 * has too: each is named with it, since "not found" alone would read as
 * the block's fault when the arena is what is missing) or of one offset.
 * When the daemon answered for each offset (rc 0), the other offsets' own
 * failures, as arenad_free documents them, are named as the daemon names
 * them; the rest get their code's message. Returns whether any failed. */
static bool name_failures(arenad_t *h, const char *arena, int rc,
                          const uint64_t *offsets, const int *statuses,
                          size_t k) {
  bool first = true;
  for (size_t j = 0; j < k; j++) {
    if (statuses[j] == 0)
      continue;
    unsigned long long off = (unsigned long long)offsets[j];
    if (first || rc != 0)
      fprintf(stderr, "arenactl free: %s offset %llu: %s\n", arena, off,
              arenad_error(h));
    else if (statuses[j] == AR_EINVAL)
      fprintf(stderr,
              "arenactl free: %s offset %llu: offset %llu is not a live "
              "block of arena '%s'\n",
              arena, off, off, arena);
    else if (statuses[j] == AR_EPERM)
      fprintf(stderr,
              "arenactl free: %s offset %llu: other connections hold the "
              "block at %llu, and this one holds no reference to it\n",
              arena, off, off);
    else
      fprintf(stderr, "arenactl free: %s offset %llu: %s\n", arena, off,
              ar_strerror(statuses[j]));
    first = false;
  }
  return !first;
}

int ar__cmd_free(int argc, char **argv) {
  static const struct option longopts[] = {
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  int flags = 0;
  int rc =
      ar__ctl_parse_flags(argc, argv, longopts, free_usage, &flags, 0, argc);
  if (rc != ARENACTL_OK)
    return rc < 0 ? ARENACTL_OK : rc;
  if (argc - optind < 2) {
    fprintf(stderr, "arenactl free: expected ARENA and at least one "
                    "OFFSET\n");
    free_usage(stderr);
    return ARENACTL_USAGE;
  }
  const char *arena = argv[optind];
  if (ar__ctl_arena_arg("free", arena) != ARENACTL_OK)
    return ARENACTL_USAGE;
  char **args = argv + optind + 1; /* the offsets */
  size_t n = (size_t)(argc - optind) - 1;
  /* offsets, then the overwritten ones among them (as many at most) */
  uint64_t *offsets = malloc(2 * n * sizeof *offsets);
  int *statuses = malloc(n * sizeof *statuses);
  if (offsets == NULL || statuses == NULL) {
    free(offsets);
    free(statuses);
    fprintf(stderr, "arenactl free: out of memory\n");
    return ARENACTL_FAIL;
  }
  uint64_t *overwritten = offsets + n;
  for (size_t i = 0; i < n; i++) {
    if (ar__ctl_parse_u64(args[i], &offsets[i]) < 0) {
      fprintf(stderr,
              "arenactl free: invalid OFFSET '%s' (a payload offset, "
              "decimal or 0x hex, below 2^64)\n",
              args[i]);
      free(offsets);
      free(statuses);
      return ARENACTL_USAGE;
    }
  }

  arenad_hello_t hi;
  arenad_t *h = ar__ctl_connect("free", &hi);
  if (h == NULL) {
    free(offsets);
    free(statuses);
    return ARENACTL_FAIL;
  }
  int status = ARENACTL_OK;
  size_t step = per_request(&hi);
  for (size_t i = 0; i < n; i += step) {
    size_t k = n - i < step ? n - i : step, nw;
    rc = arenad_free_report(h, arena, offsets + i, k, statuses + i, overwritten,
                            &nw);
    if (rc == AR_EIO || rc == AR_EPROTO) {
      status = ARENACTL_FAIL;
      ar__ctl_fail("free", h, rc, arena);
      break;
    }
    warn_overwritten("free", "this free", arena, overwritten, nw);
    if (name_failures(h, arena, rc, offsets + i, statuses + i, k))
      status = ARENACTL_FAIL;
  }
  arenad_close(h);
  free(offsets);
  free(statuses);
  return status;
}
