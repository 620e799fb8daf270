/*
 * test_trace_parse.c: the trace parser against every syntax rule of the
 * placement model (blanks, CR, comments, blank lines, nothing after the
 * last field, ids over the whole signed 64-bit range, 1 <= n <= 2^63 - 1),
 * the line named by each error, the dense slots (reuse after a free, the
 * slot of an id that is live at parse time), and the loader: plain and
 * gzip files written here into a temporary directory, standard input,
 * lines that straddle the loader's chunks, unreadable and truncated files,
 * and one of the public traces.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <fcntl.h>
#include <zlib.h>

#include "ar/error.h"
#include "ar/trace.h"

/* ---- helpers ---------------------------------------------------------- */

/* Parses a NUL-terminated text that must be valid; the caller destroys. */
static ar_trace_t *parse_ok(const char *text) {
  ar_trace_t *t = NULL;
  ar_trace_error_t err;
  int rc = ar_trace_parse(text, strlen(text), &t, &err);
  if (rc != AR_OK)
    fail_msg("parse failed with %s: %s\n--- text:\n%s", ar_err_name(rc),
             err.msg, text);
  assert_non_null(t);
  assert_int_equal(err.line, 0);
  assert_string_equal(err.msg, "");
  return t;
}

/* text[0..len) must be refused with AR_EINVAL at `line`, with a message
 * that starts with "line <line>: " and contains `what`. */
static void parse_bad_len(const char *text, size_t len, uint64_t line,
                          const char *what) {
  ar_trace_t *t = (ar_trace_t *)(uintptr_t)1; /* must be reset to NULL */
  ar_trace_error_t err;
  int rc = ar_trace_parse(text, len, &t, &err);
  if (rc != AR_EINVAL)
    fail_msg("want EINVAL at line %llu for \"%.*s\", got %s (%s)",
             (unsigned long long)line, (int)len, text, ar_err_name(rc),
             rc == AR_OK ? "accepted" : err.msg);
  assert_null(t);
  if (err.line != line)
    fail_msg("error at line %llu, want %llu: %s", (unsigned long long)err.line,
             (unsigned long long)line, err.msg);
  char prefix[40];
  snprintf(prefix, sizeof prefix, "line %llu: ", (unsigned long long)line);
  if (strncmp(err.msg, prefix, strlen(prefix)) != 0 ||
      strstr(err.msg, what) == NULL)
    fail_msg("message \"%s\" should start with \"%s\" and say \"%s\"",
             err.msg, prefix, what);
}

static void parse_bad(const char *text, uint64_t line, const char *what) {
  parse_bad_len(text, strlen(text), line, what);
}

static ar_trace_info_t info_of(const ar_trace_t *t) {
  ar_trace_info_t info;
  ar_trace_info(t, &info);
  return info;
}

static void assert_op(const ar_trace_t *t, size_t i, ar_trace_kind_t kind,
                      int64_t id, uint64_t n, uint64_t line) {
  assert_true(i < info_of(t).nops);
  const ar_trace_op_t *op = &ar_trace_ops(t)[i];
  assert_int_equal(op->kind, kind);
  assert_int_equal(op->id, id);
  assert_int_equal(op->n, n);
  assert_int_equal(ar_trace_line(t, i), line);
}

/* ---- syntax ----------------------------------------------------------- */

static void test_basic(void **state) {
  (void)state;
  ar_trace_t *t = parse_ok("a 1 5\na 2 100\nf 1\nf 2\n");
  assert_int_equal(info_of(t).nops, 4);
  assert_int_equal(info_of(t).nallocs, 2);
  assert_int_equal(info_of(t).nfrees, 2);
  assert_int_equal(info_of(t).nlines, 4);
  assert_op(t, 0, AR_TRACE_ALLOC, 1, 5, 1);
  assert_op(t, 1, AR_TRACE_ALLOC, 2, 100, 2);
  assert_op(t, 2, AR_TRACE_FREE, 1, 0, 3);
  assert_op(t, 3, AR_TRACE_FREE, 2, 0, 4);
  ar_trace_destroy(t);
}

static void test_empty_and_comments(void **state) {
  (void)state;
  ar_trace_t *t = parse_ok("");
  assert_int_equal(info_of(t).nops, 0);
  assert_int_equal(info_of(t).nslots, 0);
  ar_trace_destroy(t);

  t = parse_ok("# only a comment\n\n   \n\t\n  # indented comment a 1 2\n"
               "#a 1 x junk\n\r\n \t\r\n");
  assert_int_equal(info_of(t).nops, 0);
  assert_int_equal(info_of(t).nlines, 8);
  ar_trace_destroy(t);
}

static void test_blanks_cr_and_line_numbers(void **state) {
  (void)state;
  const char *text = "# header\n"             /* 1 */
                     "\n"                     /* 2 */
                     "  a\t7   \t 16  \n"     /* 3 */
                     "\ta 8 1\r\n"            /* 4 */
                     "a 9 2 \t\r\n"           /* 5 */
                     "   # a 10 10\n"         /* 6 */
                     "f\t\t7\n"               /* 7 */
                     "\r\n"                   /* 8 */
                     "f 8\r";                 /* 9: CR, then the end */
  ar_trace_t *t = parse_ok(text);
  assert_int_equal(info_of(t).nops, 5);
  assert_int_equal(info_of(t).nlines, 9);
  assert_op(t, 0, AR_TRACE_ALLOC, 7, 16, 3);
  assert_op(t, 1, AR_TRACE_ALLOC, 8, 1, 4);
  assert_op(t, 2, AR_TRACE_ALLOC, 9, 2, 5);
  assert_op(t, 3, AR_TRACE_FREE, 7, 0, 7);
  assert_op(t, 4, AR_TRACE_FREE, 8, 0, 9);
  ar_trace_destroy(t);

  /* no newline at the end, no CR either */
  t = parse_ok("a 1 1\nf 1");
  assert_int_equal(info_of(t).nops, 2);
  assert_op(t, 1, AR_TRACE_FREE, 1, 0, 2);
  ar_trace_destroy(t);
}

static void test_number_forms(void **state) {
  (void)state;
  ar_trace_t *t = parse_ok("a 007 0010\na +5 +3\na -0 1\na -12 1\n");
  assert_op(t, 0, AR_TRACE_ALLOC, 7, 10, 1);
  assert_op(t, 1, AR_TRACE_ALLOC, 5, 3, 2);
  assert_op(t, 2, AR_TRACE_ALLOC, 0, 1, 3);
  assert_op(t, 3, AR_TRACE_ALLOC, -12, 1, 4);
  ar_trace_destroy(t);
}

static void test_id_limits(void **state) {
  (void)state;
  ar_trace_t *t = parse_ok("a 9223372036854775807 1\n"
                           "a -9223372036854775808 2\n"
                           "a 000000000000000000000009223372036854775807 3\n"
                           "f -9223372036854775808\n");
  assert_op(t, 0, AR_TRACE_ALLOC, INT64_MAX, 1, 1);
  assert_op(t, 1, AR_TRACE_ALLOC, INT64_MIN, 2, 2);
  assert_op(t, 2, AR_TRACE_ALLOC, INT64_MAX, 3, 3);
  assert_op(t, 3, AR_TRACE_FREE, INT64_MIN, 0, 4);
  /* the same id twice is the same slot, the other one another */
  assert_int_equal(ar_trace_ops(t)[0].slot, ar_trace_ops(t)[2].slot);
  assert_int_equal(ar_trace_ops(t)[1].slot, ar_trace_ops(t)[3].slot);
  assert_int_not_equal(ar_trace_ops(t)[0].slot, ar_trace_ops(t)[1].slot);
  ar_trace_destroy(t);

  parse_bad("a 1 1\na 9223372036854775808 1\n", 2, "signed 64-bit range");
  parse_bad("f -9223372036854775809\n", 1, "signed 64-bit range");
  parse_bad("f 18446744073709551615\n", 1, "signed 64-bit range");
  parse_bad("f 18446744073709551616\n", 1, "signed 64-bit range");
  parse_bad("f -18446744073709551616\n", 1, "signed 64-bit range");
  parse_bad("\n\nf 123456789012345678901234567890\n", 3,
            "signed 64-bit range");
}

static void test_size_limits(void **state) {
  (void)state;
  ar_trace_t *t = parse_ok("a 1 9223372036854775807\na 2 1\n");
  assert_op(t, 0, AR_TRACE_ALLOC, 1, (uint64_t)INT64_MAX, 1);
  assert_op(t, 1, AR_TRACE_ALLOC, 2, 1, 2);
  ar_trace_destroy(t);

  parse_bad("a 1 0\n", 1, "at least 1");
  parse_bad("a 1 0000\n", 1, "at least 1");
  parse_bad("a 1 -0\n", 1, "at least 1");
  parse_bad("# c\na 1 -5\n", 2, "out of range");
  parse_bad("a 1 9223372036854775808\n", 1, "out of range");
  parse_bad("a 1 18446744073709551616\n", 1, "out of range");
  parse_bad("a 1 99999999999999999999999999\n", 1, "out of range");
}

static void test_syntax_errors_name_the_line(void **state) {
  (void)state;
  parse_bad("x 1 2\n", 1, "unknown operation 'x'");
  parse_bad("a 1 2\nA 1 2\n", 2, "unknown operation 'A'");
  parse_bad("a 1 2\n\n# c\nF 1\n", 4, "unknown operation 'F'");
  parse_bad("alloc 1 2\n", 1, "expected a space or tab after 'a'");
  parse_bad("a1 2\n", 1, "expected a space or tab after 'a'");
  parse_bad("f1\n", 1, "expected a space or tab after 'f'");
  parse_bad("a\n", 1, "missing id");
  parse_bad("f   \n", 1, "missing id");
  parse_bad("f \r\n", 1, "missing id");
  parse_bad("a 1\n", 1, "missing size");
  parse_bad("a 1 \t \r\n", 1, "missing size");
  parse_bad("a x 2\n", 1, "id is not a decimal integer");
  parse_bad("a - 2\n", 1, "id is not a decimal integer");
  parse_bad("f -\n", 1, "missing id after the sign");
  parse_bad("a 1 +\n", 1, "missing size after the sign");
  parse_bad("a 12x 2\n", 1, "unexpected character 'x' in the id");
  parse_bad("a 0x10 2\n", 1, "unexpected character 'x' in the id");
  parse_bad("a 1 2k\n", 1, "unexpected character 'k' in the size");
  parse_bad("a 1 1.5\n", 1, "unexpected character '.' in the size");
  parse_bad("a 1 x\n", 1, "size is not a decimal integer");
  parse_bad("a 1 2 3\n", 1, "after the last field");
  parse_bad("f 1 2\n", 1, "after the last field");
  parse_bad("a 1 2 # trailing comment\n", 1, "after the last field");
  /* white space other than spaces and tabs */
  parse_bad("a 1\v2\n", 1, "unexpected character '\\x0b' in the id");
  parse_bad("a 1 2\f\n", 1, "unexpected character '\\x0c' in the size");
  parse_bad("\fa 1 2\n", 1, "unknown operation '\\x0c'");
  /* a CR counts only right before the newline (or the end) */
  parse_bad("a 1 2\r \n", 1, "'\\x0d'");
  parse_bad("a 1 2\r\r\n", 1, "'\\x0d'");
  parse_bad("a 1\r2\n", 1, "'\\x0d' in the id");
  /* a NUL byte is junk like any other */
  parse_bad_len("a 1 2\nf 1\0\n", 11, 2, "'\\x00' in the id");
  /* the last line, without its newline, is checked too */
  parse_bad("a 1 2\nf", 2, "missing id");
}

/* ---- slots ------------------------------------------------------------ */

static void test_slot_reuse(void **state) {
  (void)state;
  ar_trace_t *t = parse_ok("a 1 8\n"  /* 0: slot A */
                           "a 2 8\n"  /* 1: slot B */
                           "f 1\n"    /* 2: releases A */
                           "a 3 8\n"  /* 3: takes A again */
                           "a 2 8\n"  /* 4: 2 is live at parse time: B */
                           "f 9\n"    /* 5: never allocated */
                           "f 3\n"    /* 6: A */
                           "f 3\n"    /* 7: already freed */
                           "f 2\n"    /* 8: B */
                           "a 1 8\n"  /* 9: a freed id: a released slot */
                           "a 4 8\n"); /* 10: the other released slot */
  const ar_trace_op_t *o = ar_trace_ops(t);
  assert_int_equal(info_of(t).nops, 11);
  assert_int_not_equal(o[0].slot, o[1].slot);
  assert_int_equal(o[2].slot, o[0].slot);
  assert_int_equal(o[3].slot, o[0].slot);
  assert_int_equal(o[4].slot, o[1].slot);
  assert_int_equal(o[5].slot, AR_TRACE_NO_SLOT);
  assert_int_equal(o[6].slot, o[0].slot);
  assert_int_equal(o[7].slot, AR_TRACE_NO_SLOT);
  assert_int_equal(o[8].slot, o[1].slot);
  assert_true(o[9].slot < 2 && o[10].slot < 2);
  assert_int_not_equal(o[9].slot, o[10].slot);
  assert_int_equal(info_of(t).nslots, 2);
  assert_int_equal(info_of(t).nfrees, 5);
  ar_trace_destroy(t);
}

/* A deterministic pseudo-random generator (splitmix64). */
static uint64_t next_rand(uint64_t *s) {
  uint64_t z = (*s += UINT64_C(0x9E3779B97F4A7C15));
  z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
  z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
  return z ^ (z >> 31);
}

/*
 * Random traces, checked against a plain model of parse-time liveness: a
 * live id keeps its slot, no two live ids share one, frees of ids not live
 * get no slot, and nslots is the peak number of live ids (slots are reused
 * before new ones are made). Ids are spread over the whole int64 range and
 * the id map has to grow and shrink many times.
 */
static void test_slots_random(void **state) {
  (void)state;
  enum { NIDS = 20000, NOPS = 400000 };
  int64_t *ids = malloc(NIDS * sizeof *ids);
  uint32_t *slot_of = malloc(NIDS * sizeof *slot_of); /* or NO_SLOT */
  int32_t *owner = malloc(NIDS * sizeof *owner);      /* by slot */
  size_t cap = (size_t)NOPS * 32 + 64;
  char *text = malloc(cap);
  assert_non_null(ids);
  assert_non_null(slot_of);
  assert_non_null(owner);
  assert_non_null(text);
  uint64_t seed = 42;
  for (size_t i = 0; i < NIDS; i++)
    ids[i] = (int64_t)next_rand(&seed); /* distinct with overwhelming odds */
  ids[0] = INT64_MIN;
  ids[1] = INT64_MAX;
  ids[2] = 0;

  size_t len = 0;
  int *which = malloc(NOPS * sizeof *which);
  assert_non_null(which);
  for (size_t i = 0; i < NOPS; i++) {
    /* phases: mostly allocations, then mostly frees, and so on */
    bool grow_phase = (i / 50000) % 2 == 0;
    uint64_t r = next_rand(&seed);
    int id = (int)(r % NIDS);
    bool alloc = (r >> 32) % 100 < (grow_phase ? 70u : 30u);
    which[i] = id;
    len += (size_t)snprintf(text + len, cap - len,
                            alloc ? "a %lld %u\n" : "f %lld\n",
                            (long long)ids[id], (unsigned)(r >> 48) + 1);
  }
  ar_trace_t *t = NULL;
  ar_trace_error_t err;
  assert_int_equal(ar_trace_parse(text, len, &t, &err), AR_OK);
  assert_int_equal(info_of(t).nops, NOPS);

  for (size_t i = 0; i < NIDS; i++) {
    slot_of[i] = AR_TRACE_NO_SLOT;
    owner[i] = -1;
  }
  size_t live = 0, peak = 0;
  for (size_t i = 0; i < NOPS; i++) {
    const ar_trace_op_t *op = &ar_trace_ops(t)[i];
    int id = which[i];
    assert_int_equal(op->id, ids[id]);
    assert_int_equal(ar_trace_line(t, i), i + 1);
    if (op->kind == AR_TRACE_ALLOC) {
      if (slot_of[id] != AR_TRACE_NO_SLOT) {
        assert_int_equal(op->slot, slot_of[id]);
        continue;
      }
      assert_true(op->slot < info_of(t).nslots);
      assert_int_equal(owner[op->slot], -1); /* no other live id has it */
      owner[op->slot] = id;
      slot_of[id] = op->slot;
      if (++live > peak)
        peak = live;
    } else if (slot_of[id] == AR_TRACE_NO_SLOT) {
      assert_int_equal(op->slot, AR_TRACE_NO_SLOT);
    } else {
      assert_int_equal(op->slot, slot_of[id]);
      owner[op->slot] = -1;
      slot_of[id] = AR_TRACE_NO_SLOT;
      live--;
    }
  }
  assert_int_equal(info_of(t).nslots, peak);
  ar_trace_destroy(t);
  free(which);
  free(text);
  free(owner);
  free(slot_of);
  free(ids);
}

/*
 * Ids that count up from 1 index a plain array; others go to a hash table,
 * and move into the array when it grows over them (it may reach 4 ids per
 * insertion, and at least 2^20). Id 5000000 comes first, while the array
 * may not reach it; after 1.3 million insertions it may, and the next
 * mention of 5000000 must still find its slot.
 */
static void test_slots_dense_and_hashed(void **state) {
  (void)state;
  enum { N = 1300000 };
  size_t cap = (size_t)N * 20 + 256;
  char *text = malloc(cap);
  assert_non_null(text);
  size_t len = (size_t)snprintf(text, cap, "a 5000000 8\na -7 8\n");
  for (int i = 1; i <= N; i++)
    len += (size_t)snprintf(text + len, cap - len, "a %d 8\n", i);
  len += (size_t)snprintf(text + len, cap - len,
                          "a 5000000 8\n" /* live: its own slot again */
                          "f 5000000\n"
                          "f -7\n"
                          "f 5000000\n"   /* not live any more */
                          "a 5000000 8\n" /* the slot -7 released last */
                          "f 77\n"        /* from the array */
                          "f 77\n"        /* not live */
                          "a 77 1\n");    /* the slot 77 released */
  ar_trace_t *t = NULL;
  ar_trace_error_t err;
  assert_int_equal(ar_trace_parse(text, len, &t, &err), AR_OK);
  free(text);
  const ar_trace_op_t *o = ar_trace_ops(t);
  size_t k = 2 + N; /* the first op after the counting */
  assert_int_equal(info_of(t).nops, k + 8);
  assert_int_equal(info_of(t).nslots, N + 2);
  uint32_t s5m = o[0].slot, s7 = o[1].slot;
  assert_int_not_equal(s5m, s7);
  assert_int_equal(o[k].slot, s5m);
  assert_int_equal(o[k + 1].slot, s5m);
  assert_int_equal(o[k + 2].slot, s7);
  assert_int_equal(o[k + 3].slot, AR_TRACE_NO_SLOT);
  assert_int_equal(o[k + 4].slot, s7);
  assert_int_equal(o[k + 5].slot, o[2 + 76].slot); /* id 77's */
  assert_int_equal(o[k + 6].slot, AR_TRACE_NO_SLOT);
  assert_int_equal(o[k + 7].slot, o[2 + 76].slot);
  /* every counted id has a slot of its own */
  uint8_t *seen = calloc(N + 2, 1);
  assert_non_null(seen);
  for (size_t i = 0; i < 2 + (size_t)N; i++) {
    assert_true(o[i].slot < N + 2);
    assert_int_equal(seen[o[i].slot], 0);
    seen[o[i].slot] = 1;
  }
  free(seen);
  ar_trace_destroy(t);
}

/* ---- loading files ---------------------------------------------------- */

typedef struct files_s {
  char dir[64];
  char path[128];
} files_t;

static int make_dir(void **state) {
  files_t *f = calloc(1, sizeof *f);
  if (f == NULL)
    return -1;
  snprintf(f->dir, sizeof f->dir, "/tmp/test_trace_parse.XXXXXX");
  if (mkdtemp(f->dir) == NULL) {
    free(f);
    return -1;
  }
  *state = f;
  return 0;
}

static int remove_dir(void **state) {
  files_t *f = *state;
  static const char *names[] = {"plain.trace", "t.trace.gz", "cut.trace.gz",
                                "big.trace.gz", "bad.trace.gz"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    char p[160];
    snprintf(p, sizeof p, "%s/%s", f->dir, names[i]);
    unlink(p);
  }
  int rc = rmdir(f->dir);
  free(f);
  return rc;
}

static const char *path_in(files_t *f, const char *name) {
  snprintf(f->path, sizeof f->path, "%s/%s", f->dir, name);
  return f->path;
}

static void write_plain(const char *path, const char *text, size_t len) {
  FILE *fp = fopen(path, "wb");
  assert_non_null(fp);
  assert_int_equal(fwrite(text, 1, len, fp), len);
  assert_int_equal(fclose(fp), 0);
}

static void write_gz(const char *path, const char *text, size_t len) {
  gzFile gz = gzopen(path, "wb6");
  assert_non_null(gz);
  size_t done = 0;
  while (done < len) {
    unsigned part = len - done > (1u << 20) ? (1u << 20) : (unsigned)(len - done);
    assert_int_equal(gzwrite(gz, text + done, part), (int)part);
    done += part;
  }
  assert_int_equal(gzclose(gz), Z_OK);
}

static void assert_same_trace(const ar_trace_t *a, const ar_trace_t *b) {
  assert_int_equal(info_of(a).nops, info_of(b).nops);
  assert_int_equal(info_of(a).nallocs, info_of(b).nallocs);
  assert_int_equal(info_of(a).nfrees, info_of(b).nfrees);
  assert_int_equal(info_of(a).nslots, info_of(b).nslots);
  assert_int_equal(info_of(a).nlines, info_of(b).nlines);
  for (size_t i = 0; i < info_of(a).nops; i++) {
    const ar_trace_op_t *x = &ar_trace_ops(a)[i], *y = &ar_trace_ops(b)[i];
    if (x->kind != y->kind || x->id != y->id || x->n != y->n ||
        x->slot != y->slot || ar_trace_line(a, i) != ar_trace_line(b, i))
      fail_msg("op %zu differs (line %llu vs %llu)", i,
               (unsigned long long)ar_trace_line(a, i),
               (unsigned long long)ar_trace_line(b, i));
  }
}

static const char small_text[] = "# small\r\na 1 10\r\na -2 20\nf 1\n\nf -2\n"
                                 "f 3\na 4 40";

static void test_load_plain_and_gz(void **state) {
  files_t *f = *state;
  ar_trace_t *want = parse_ok(small_text);
  assert_int_equal(info_of(want).nops, 6);

  const char *names[] = {"plain.trace", "t.trace.gz"};
  for (int k = 0; k < 2; k++) {
    const char *p = path_in(f, names[k]);
    if (k == 0)
      write_plain(p, small_text, strlen(small_text));
    else
      write_gz(p, small_text, strlen(small_text));
    ar_trace_t *t = NULL;
    ar_trace_error_t err;
    int rc = ar_trace_load(p, &t, &err);
    if (rc != AR_OK)
      fail_msg("load %s: %s", p, err.msg);
    assert_same_trace(t, want);
    ar_trace_destroy(t);
  }
  ar_trace_destroy(want);
}

/* A trace of several loader chunks (4 MiB each): lines straddle their
 * boundaries, and the result must be what the in-memory parser gives. */
static void test_load_big_gz(void **state) {
  files_t *f = *state;
  enum { LINES = 900000 };
  size_t cap = (size_t)LINES * 40;
  char *text = malloc(cap);
  assert_non_null(text);
  size_t len = 0;
  uint64_t seed = 7;
  for (size_t i = 0; i < LINES; i++) {
    uint64_t r = next_rand(&seed);
    switch (r % 8) {
    case 0:
      len += (size_t)snprintf(text + len, cap - len, "# comment %zu\n", i);
      break;
    case 1:
    case 2:
    case 3:
      len += (size_t)snprintf(text + len, cap - len, "f %llu\r\n",
                              (unsigned long long)(r >> 8) % 5000);
      break;
    default:
      len += (size_t)snprintf(text + len, cap - len, "a\t%llu %llu\n",
                              (unsigned long long)(r >> 8) % 5000,
                              (unsigned long long)(r >> 40) % 4096 + 1);
    }
  }
  assert_true(len > (size_t)8 << 20); /* at least two chunk boundaries */
  ar_trace_t *want = NULL;
  ar_trace_error_t err;
  assert_int_equal(ar_trace_parse(text, len, &want, &err), AR_OK);

  const char *p = path_in(f, "big.trace.gz");
  write_gz(p, text, len);
  ar_trace_t *t = NULL;
  assert_int_equal(ar_trace_load(p, &t, &err), AR_OK);
  assert_same_trace(t, want);
  assert_int_equal(info_of(t).nlines, LINES);
  ar_trace_destroy(t);

  /* An error late in the file names its line across the chunks. */
  memcpy(text + len - 2, "\nz", 2); /* the last line becomes "z" */
  write_gz(path_in(f, "bad.trace.gz"), text, len);
  assert_int_equal(ar_trace_load(f->path, &t, &err), AR_EINVAL);
  assert_null(t);
  assert_int_equal(err.line, LINES + 1);
  assert_non_null(strstr(err.msg, "unknown operation 'z'"));

  ar_trace_destroy(want);
  free(text);
}

static void test_load_stdin(void **state) {
  files_t *f = *state;
  const char *p = path_in(f, "t.trace.gz");
  write_gz(p, small_text, strlen(small_text));
  int saved = dup(STDIN_FILENO);
  assert_true(saved >= 0);
  int fd = open(p, O_RDONLY);
  assert_true(fd >= 0);
  assert_int_equal(dup2(fd, STDIN_FILENO), STDIN_FILENO);
  close(fd);

  ar_trace_t *t = NULL;
  ar_trace_error_t err;
  int rc = ar_trace_load("-", &t, &err);
  /* standard input must still be open after the load */
  int still_open = fcntl(STDIN_FILENO, F_GETFD);
  assert_int_equal(dup2(saved, STDIN_FILENO), STDIN_FILENO);
  close(saved);
  assert_int_equal(rc, AR_OK);
  assert_true(still_open >= 0);
  ar_trace_t *want = parse_ok(small_text);
  assert_same_trace(t, want);
  ar_trace_destroy(want);
  ar_trace_destroy(t);
}

static void test_load_failures(void **state) {
  files_t *f = *state;
  ar_trace_t *t = (ar_trace_t *)(uintptr_t)1;
  ar_trace_error_t err;

  assert_int_equal(ar_trace_load(path_in(f, "missing.trace"), &t, &err),
                   AR_EIO);
  assert_null(t);
  assert_int_equal(err.line, 0);
  assert_non_null(strstr(err.msg, "missing.trace"));

  /* A gzip file cut short: an error, not a shorter trace. */
  const char *p = path_in(f, "t.trace.gz");
  char *text = malloc(200000);
  assert_non_null(text);
  size_t len = 0;
  for (int i = 0; len < 190000; i++)
    len += (size_t)snprintf(text + len, 200000 - len, "a %d %d\nf %d\n", i,
                            i % 977 + 1, i);
  write_gz(p, text, len);
  FILE *fp = fopen(p, "rb");
  assert_non_null(fp);
  static char gzbuf[1 << 18];
  size_t gzlen = fread(gzbuf, 1, sizeof gzbuf, fp);
  fclose(fp);
  assert_true(gzlen > 200 && gzlen < sizeof gzbuf);
  write_plain(path_in(f, "cut.trace.gz"), gzbuf, gzlen / 2);
  t = (ar_trace_t *)(uintptr_t)1;
  assert_int_equal(ar_trace_load(f->path, &t, &err), AR_EIO);
  assert_null(t);
  assert_non_null(strstr(err.msg, "cut.trace.gz"));

  /* A corrupt gzip body. */
  gzbuf[gzlen / 2] ^= 0x55;
  gzbuf[gzlen / 2 + 1] ^= 0x55;
  write_plain(f->path, gzbuf, gzlen);
  int rc = ar_trace_load(f->path, &t, &err);
  assert_true(rc == AR_EIO || rc == AR_EINVAL);
  assert_null(t);
  free(text);

  assert_int_equal(ar_trace_load(NULL, &t, &err), AR_EINVAL);
  assert_int_equal(ar_trace_parse("a 1 1", 5, NULL, &err), AR_EINVAL);
  /* a NULL error struct is allowed */
  assert_int_equal(ar_trace_parse("q", 1, &t, NULL), AR_EINVAL);
}

/* One of the public traces: the counts its header announces. */
static void test_public_trace(void **state) {
  (void)state;
  const char *dir = getenv("AR_TEST_DATA");
  if (dir == NULL)
    dir = "data";
  char p[512];
  snprintf(p, sizeof p, "%s/python3-compileall-email.trace.gz", dir);
  ar_trace_t *t = NULL;
  ar_trace_error_t err;
  int rc = ar_trace_load(p, &t, &err);
  if (rc != AR_OK)
    fail_msg("%s: %s", p, err.msg);
  /* "# ops: 706568 (allocs 353541, frees 353027)",
   * "# peak live objects: 74846" */
  assert_int_equal(info_of(t).nops, 706568);
  assert_int_equal(info_of(t).nallocs, 353541);
  assert_int_equal(info_of(t).nfrees, 353027);
  assert_int_equal(info_of(t).nslots, 74846);
  for (size_t i = 0; i < info_of(t).nops; i++)
    if (ar_trace_ops(t)[i].kind == AR_TRACE_FREE &&
        ar_trace_ops(t)[i].slot == AR_TRACE_NO_SLOT)
      fail_msg("line %llu: a valid trace's free got no slot",
               (unsigned long long)ar_trace_line(t, i));
  ar_trace_destroy(t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_basic),
      cmocka_unit_test(test_empty_and_comments),
      cmocka_unit_test(test_blanks_cr_and_line_numbers),
      cmocka_unit_test(test_number_forms),
      cmocka_unit_test(test_id_limits),
      cmocka_unit_test(test_size_limits),
      cmocka_unit_test(test_syntax_errors_name_the_line),
      cmocka_unit_test(test_slot_reuse),
      cmocka_unit_test(test_slots_random),
      cmocka_unit_test(test_slots_dense_and_hashed),
      cmocka_unit_test_setup_teardown(test_load_plain_and_gz, make_dir,
                                      remove_dir),
      cmocka_unit_test_setup_teardown(test_load_big_gz, make_dir, remove_dir),
      cmocka_unit_test_setup_teardown(test_load_stdin, make_dir, remove_dir),
      cmocka_unit_test_setup_teardown(test_load_failures, make_dir,
                                      remove_dir),
      cmocka_unit_test(test_public_trace),
  };
  return cmocka_run_group_tests_name("trace_parse", tests, NULL, NULL);
}
