/*
 * test_trace_parse.c: the trace parser against every syntax rule of the
 * placement model (blanks, CR, comments, blank lines, nothing after the
 * last field, ids over the whole signed 64-bit range, 1 <= n <= 2^63 - 1),
 * the line named by each error, and the dense slots (reuse after a free,
 * the slot of an id that is live at parse time). Loading files is
 * test_trace_load.c's.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ar/error.h"
#include "ar/trace.h"
#include "trace_check.h"

/* ---- helpers ---------------------------------------------------------- */

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

  /* CRs anywhere around the fields, as a conversion may leave them */
  t = parse_ok("a 1 2\r \n"
               "a 2 3\r\r\n"
               "\ra 3 4\n"
               " \r\r\n"
               "\r\t# comment\n"
               "f 1 \r\t\r");
  assert_int_equal(info_of(t).nops, 4);
  assert_int_equal(info_of(t).nlines, 6);
  assert_op(t, 0, AR_TRACE_ALLOC, 1, 2, 1);
  assert_op(t, 1, AR_TRACE_ALLOC, 2, 3, 2);
  assert_op(t, 2, AR_TRACE_ALLOC, 3, 4, 3);
  assert_op(t, 3, AR_TRACE_FREE, 1, 0, 6);
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
  /* a CR is white space around the fields, never between them */
  parse_bad("a 1\r2\n", 1, "'\\x0d' in the id");
  parse_bad("a\r1 2\n", 1, "expected a space or tab after 'a'");
  /* DEL, bytes past ASCII and the quote that frames the character are
   * escaped too */
  parse_bad("a 1\x7f 2\n", 1, "unexpected character '\\x7f' in the id");
  parse_bad("a 1 \x80\n", 1, "size is not a decimal integer (found '\\x80')");
  parse_bad("a 1 2'\n", 1, "unexpected character '\\x27' in the size");
  parse_bad("~ 1 2\n", 1, "unknown operation '~'");
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

/*
 * An id of the array stays live while the hash table grows under it: 600
 * live ids far from the others make the table double (it starts at 1024
 * entries, at most half full), and the free of id 1 after them must still
 * find id 1's slot.
 */
static void test_array_survives_table_growth(void **state) {
  (void)state;
  enum { FAR = 600 };
  char text[FAR * 24 + 64];
  size_t len = (size_t)snprintf(text, sizeof text, "a 1 8\n");
  for (int i = 0; i < FAR; i++)
    len += (size_t)snprintf(text + len, sizeof text - len, "a %lld 8\n",
                            1000000000000LL + i);
  len += (size_t)snprintf(text + len, sizeof text - len, "f 1\na 1 8\n");
  ar_trace_t *t = parse_ok(text);
  const ar_trace_op_t *o = ar_trace_ops(t);
  assert_int_equal(info_of(t).nops, FAR + 3);
  assert_int_equal(o[FAR + 1].slot, o[0].slot); /* f 1: id 1 is live */
  assert_int_equal(o[FAR + 2].slot, o[0].slot); /* the slot f 1 released */
  assert_int_equal(info_of(t).nslots, FAR + 1);
  ar_trace_destroy(t);
}

/*
 * The parser has a fast path for plain lines ("a <id> <n>" and "f <id>"
 * with single spaces, ids in the id map's array) and a general path for
 * every line. A random trace that mixes plain lines with ones only the
 * general path takes (a leading blank, a sign, a far or negative id, a
 * comment) must parse exactly as the same trace with every line sent the
 * general way (a blank in front of each): the same operations, slots,
 * counts and line numbers. The trace frees often enough, and is long
 * enough, that the spare-slot stack and the operations array fill up
 * under the fast path many times.
 */
static void test_fast_path_matches_general(void **state) {
  (void)state;
  enum { NOPS = 300000, NIDS = 5000 };
  size_t cap = (size_t)NOPS * 40 + 64;
  char *mixed = malloc(cap), *general = malloc(cap);
  assert_non_null(mixed);
  assert_non_null(general);
  size_t lm = 0, lg = 0;
  uint64_t seed = 7;
  for (size_t i = 0; i < NOPS; i++) {
    uint64_t r = next_rand(&seed);
    long long id = (long long)(r % NIDS) + 1;
    switch ((r >> 20) % 32) {
    case 0:
      id = -id; /* a negative id: the hash part */
      break;
    case 1:
      id += 4000000000000LL; /* beyond the array: the hash part */
      break;
    default:
      break;
    }
    char line[64];
    if ((r >> 28) % 64 == 0)
      snprintf(line, sizeof line, "# a comment\n");
    else if ((r >> 34) % 100 < ((i / 40000) % 2 ? 35u : 65u))
      snprintf(line, sizeof line, "a %lld %u\n", id, (unsigned)(r >> 44) + 1);
    else
      snprintf(line, sizeof line, "f %lld\n", id);
    const char *lead = (r >> 40) % 16 == 0 ? "\t" : "";
    lm += (size_t)snprintf(mixed + lm, cap - lm, "%s%s", lead, line);
    lg += (size_t)snprintf(general + lg, cap - lg, " %s", line);
  }
  ar_trace_t *tm = NULL, *tg = NULL;
  ar_trace_error_t err;
  assert_int_equal(ar_trace_parse(mixed, lm, &tm, &err), AR_OK);
  assert_int_equal(ar_trace_parse(general, lg, &tg, &err), AR_OK);
  ar_trace_info_t im = info_of(tm), ig = info_of(tg);
  assert_int_equal(im.nops, ig.nops);
  assert_int_equal(im.nallocs, ig.nallocs);
  assert_int_equal(im.nfrees, ig.nfrees);
  assert_int_equal(im.nslots, ig.nslots);
  assert_int_equal(im.nlines, NOPS);
  assert_int_equal(ig.nlines, NOPS);
  assert_true(im.nslots > 1000); /* the spare stack was used in earnest */
  const ar_trace_op_t *om = ar_trace_ops(tm), *og = ar_trace_ops(tg);
  for (size_t i = 0; i < im.nops; i++) {
    if (om[i].kind != og[i].kind || om[i].id != og[i].id ||
        om[i].n != og[i].n || om[i].slot != og[i].slot)
      fail_msg("op %zu differs: %u %lld %llu slot %u, general %u %lld %llu "
               "slot %u",
               i, (unsigned)om[i].kind, (long long)om[i].id,
               (unsigned long long)om[i].n, (unsigned)om[i].slot,
               (unsigned)og[i].kind, (long long)og[i].id,
               (unsigned long long)og[i].n, (unsigned)og[i].slot);
    assert_int_equal(ar_trace_line(tm, i), ar_trace_line(tg, i));
  }
  ar_trace_destroy(tm);
  ar_trace_destroy(tg);
  free(mixed);
  free(general);
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
      cmocka_unit_test(test_array_survives_table_growth),
      cmocka_unit_test(test_fast_path_matches_general),
  };
  return cmocka_run_group_tests_name("trace_parse", tests, NULL, NULL);
}
