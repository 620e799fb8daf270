/*
 * trace_parse.c: the trace syntax of the placement model, line by line,
 * into an array of operations with ids resolved to dense slots.
 *
 * The rules (model, "Traces and the replay log"): `a <id> <n>` or `f <id>`;
 * fields separated by spaces or tabs; leading and trailing white space
 * (spaces, tabs and CRs: a CRLF line's CR, or more that a conversion
 * left) ignored; empty lines and lines whose first non-blank character is `#`
 * ignored; nothing after the last field; id a decimal integer in the
 * signed 64-bit range; 1 <= n <= 2^63 - 1. Numbers may carry leading zeros
 * and a sign ("+7", "-0", "007"): the replay log prints them canonically.
 *
 * Parsing is one hand-written pass, since a trace has millions of lines.
 * Plain lines, the form generated traces use throughout, go through a
 * fast loop that keeps the parser's state in locals; any other line, and
 * any line that needs something grown, goes through the general path.
 * It only ever looks at text that ends in a newline (the last line of a
 * trace, when it has none, is copied and given one), so the newline stops
 * every loop and no character is compared with the end of the buffer. An
 * id costs one probe of a hash map. The slots: see ar_trace_t in
 * ar/trace.h.
 */
#include <stdlib.h>
#include <string.h>

#include "ar/error.h"
#include "trace_internal.h"

/* The operations array starts at 1024 operations (from malloc); it
 * doubles, onto huge pages from 64 KiB (bigmem.c). */
#define OPS_FIRST_BYTES ((size_t)16 << 10)

int ar__parser_init(ar__parser_t *ps) {
  memset(ps, 0, sizeof *ps);
  ps->t = calloc(1, sizeof *ps->t);
  if (ps->t == NULL)
    return AR_ENOMEM;
  ps->t->ops_bytes = OPS_FIRST_BYTES;
  ps->t->ops = ar__big_alloc(ps->t->ops_bytes);
  ps->cap = ps->t->ops_bytes / sizeof(ar_trace_op_t);
  if (ps->t->ops == NULL || ar__idmap_init(&ps->ids) < 0) {
    ar__parser_fini(ps);
    return AR_ENOMEM;
  }
  return AR_OK;
}

void ar__parser_fini(ar__parser_t *ps) {
  ar_trace_destroy(ps->t);
  ps->t = NULL;
  if (ps->ids.tab != NULL)
    ar__idmap_fini(&ps->ids);
  free(ps->spare);
  ps->spare = NULL;
  ps->nspare = ps->spare_cap = 0;
  free(ps->carry);
  ps->carry = NULL;
  ps->carry_len = ps->carry_cap = 0;
}

int ar__parser_stream(ar__parser_t *ps, size_t window, ar__drain_fn drain,
                      void *arg) {
  size_t bytes = window * sizeof(ar_trace_op_t);
  ar_trace_op_t *ops = ar__big_alloc(bytes);
  if (ops == NULL)
    return AR_ENOMEM;
  ar_trace_t *t = ps->t;
  ar__big_free(t->ops, t->ops_bytes);
  t->ops = ops;
  t->ops_bytes = bytes;
  ps->cap = window;
  ps->drain = drain;
  ps->drain_arg = arg;
  return AR_OK;
}

int ar__parser_flush(ar__parser_t *ps, ar_trace_error_t *err) {
  ar_trace_t *t = ps->t;
  size_t n = t->info.nops;
  if (ps->drain == NULL || n == 0)
    return AR_OK;
  int rc = ps->drain(ps->drain_arg, t->ops, n, ps->done, err);
  t->info.nops = 0;
  ps->done += n;
  return rc;
}

size_t ar__parser_nops(const ar__parser_t *ps) {
  return ps->done + ps->t->info.nops;
}

uint64_t ar__parser_line(const ar__parser_t *ps, size_t i) {
  return ar__gap_line(ps->t->gaps, ps->t->ngaps, i);
}

void ar__parser_forget_lines(ar__parser_t *ps, size_t before) {
  ar_trace_t *t = ps->t;
  size_t j = 0; /* the gaps of operations before `before` */
  while (j < t->ngaps && t->gaps[j].op < before)
    j++;
  if (j <= 1)
    return;
  /* The last of them still holds for the operations from its own on. */
  memmove(t->gaps, t->gaps + j - 1, (t->ngaps - j + 1) * sizeof *t->gaps);
  t->ngaps -= j - 1;
}

ar_trace_t *ar__parser_finish(ar__parser_t *ps) {
  ar_trace_t *t = ps->t;
  t->info.nlines = ps->line;
  ps->t = NULL;
  return t;
}

/* ---- characters -------------------------------------------------------- */

static inline bool is_blank(char c) { return c == ' ' || c == '\t'; }

/* White space around a line's fields: blanks, and CRs (a CRLF file's
 * line ends, and any others a conversion left). Between fields only blanks
 * separate. */
static inline bool is_space(char c) { return is_blank(c) || c == '\r'; }

/* Whether only white space is left before the newline: the end of a
 * line's content. The text always holds a newline at or after p, so the
 * scan stops there. */
static inline bool at_eol(const char *p) {
  while (is_space(*p))
    p++;
  return *p == '\n';
}

/* Where a field may end: a blank or the end of the line. */
static inline bool field_end(const char *p) {
  return is_blank(*p) || at_eol(p);
}

/* A character for an error message: itself when printable ASCII, else a
 * "\xNN" escape (a trace line is untrusted input). buf holds 5 bytes. */
static const char *show(char c, char buf[5]) {
  unsigned char u = (unsigned char)c;
  if (u >= 0x20 && u < 0x7f && u != '\'') {
    buf[0] = c;
    buf[1] = '\0';
  } else {
    static const char hex[] = "0123456789abcdef";
    buf[0] = '\\';
    buf[1] = 'x';
    buf[2] = hex[u >> 4];
    buf[3] = hex[u & 15];
    buf[4] = '\0';
  }
  return buf;
}

/* ---- fields ------------------------------------------------------------ */

enum { NUM_OK = 0, NUM_NONE, NUM_JUNK, NUM_BIG };

/*
 * Reads [+-]?[0-9]+ at *pp, which must end where a field may end. Stores
 * the sign in *neg and the magnitude in *mag, and advances *pp past it.
 * NUM_NONE: no digits; NUM_JUNK: the number runs into another character
 * (*pp then points at it); NUM_BIG: more than 2^64 - 1 (all digits are
 * still consumed, so the caller reports the range rather than junk).
 */
static inline int scan_number(const char **pp, bool *neg, uint64_t *mag) {
  const char *p = *pp;
  *neg = false;
  if (*p == '-' || *p == '+') {
    *neg = *p == '-';
    p++;
  }
  const char *digits = p;
  uint64_t v = 0;
  bool big = false;
  for (;;) {
    unsigned d = (unsigned)(unsigned char)*p - '0';
    if (d > 9)
      break;
    if (v > (UINT64_MAX - 9) / 10 && v > (UINT64_MAX - d) / 10)
      big = true;
    v = v * 10 + d;
    p++;
  }
  *pp = p;
  *mag = v;
  if (p == digits)
    return NUM_NONE;
  if (!field_end(p))
    return NUM_JUNK;
  return big ? NUM_BIG : NUM_OK;
}

/* Reads the number field `what` ("id" or "size") at *pp (past the blanks
 * before it, not at the end of the line) into its sign and magnitude.
 * Returns AR_OK, NUM_BIG as a positive result when the magnitude passes
 * 2^64 - 1 (the caller names its own range), or an error naming the line. */
static int read_number(const char **pp, uint64_t line, const char *what,
                       bool *neg, uint64_t *mag, ar_trace_error_t *err) {
  char cb[5];
  switch (scan_number(pp, neg, mag)) {
  case NUM_OK:
    return AR_OK;
  case NUM_NONE:
    if (at_eol(*pp))
      return ar__trace_fail(err, AR_EINVAL, line, "missing %s after the sign",
                            what);
    return ar__trace_fail(err, AR_EINVAL, line,
                          "%s is not a decimal integer (found '%s')", what,
                          show(**pp, cb));
  case NUM_JUNK:
    return ar__trace_fail(err, AR_EINVAL, line,
                          "unexpected character '%s' in the %s",
                          show(**pp, cb), what);
  default:
    return NUM_BIG;
  }
}

/* Reads the id field at *pp: a signed 64-bit decimal. */
static int read_id(const char **pp, uint64_t line, int64_t *id,
                   ar_trace_error_t *err) {
  bool neg;
  uint64_t mag;
  const char *start = *pp;
  int rc = read_number(pp, line, "id", &neg, &mag, err);
  if (rc < 0)
    return rc;
  if (rc == AR_OK && !neg && mag <= (uint64_t)INT64_MAX) {
    *id = (int64_t)mag;
    return AR_OK;
  }
  if (rc == AR_OK && neg && mag <= (uint64_t)INT64_MAX + 1) {
    /* -mag without overflow: -(mag - 1) - 1 */
    *id = mag == 0 ? 0 : -(int64_t)(mag - 1) - 1;
    return AR_OK;
  }
  return ar__trace_fail(err, AR_EINVAL, line,
                        "id %.*s is out of the signed 64-bit range",
                        (int)(*pp - start > 40 ? 40 : *pp - start), start);
}

/* Reads the size field at *pp: 1 to AR_N_MAX. */
static int read_size(const char **pp, uint64_t line, uint64_t *n,
                     ar_trace_error_t *err) {
  bool neg;
  uint64_t mag;
  int rc = read_number(pp, line, "size", &neg, &mag, err);
  if (rc < 0)
    return rc;
  if (rc == AR_OK && mag == 0)
    return ar__trace_fail(err, AR_EINVAL, line, "size must be at least 1");
  if (rc != AR_OK || neg || mag > (uint64_t)AR_N_MAX)
    return ar__trace_fail(err, AR_EINVAL, line,
                          "size out of range (1 to 9223372036854775807)");
  *n = mag;
  return AR_OK;
}

/* ---- slots ------------------------------------------------------------- */

/* A slot for an `a` of id: the id's own when it is live at parse time,
 * else the latest released one, else a new one. */
static int slot_for_alloc(ar__parser_t *ps, int64_t id, uint64_t line,
                          uint32_t *slot, ar_trace_error_t *err) {
  uint32_t fresh;
  if (ps->nspare > 0) {
    fresh = ps->spare[ps->nspare - 1];
  } else {
    if (ps->t->info.nslots >= AR_TRACE_NO_SLOT)
      return ar__trace_fail(err, AR_ELIMIT, line,
                            "more than %u ids live at once",
                            (unsigned)AR_TRACE_NO_SLOT);
    fresh = ps->t->info.nslots;
  }
  int rc = ar__idmap_get_or_put(&ps->ids, id, fresh, slot);
  if (rc < 0)
    return ar__trace_fail(err, rc, line, "out of memory for the id map");
  if (rc == 1) { /* the fresh slot was taken */
    if (ps->nspare > 0)
      ps->nspare--;
    else
      ps->t->info.nslots++;
  }
  return AR_OK;
}

/* The slot an `f` of id frees, released for reuse; AR_TRACE_NO_SLOT when
 * the id is not live at parse time. */
static int slot_for_free(ar__parser_t *ps, int64_t id, uint64_t line,
                         uint32_t *slot, ar_trace_error_t *err) {
  uint32_t s = ar__idmap_take(&ps->ids, id);
  *slot = s;
  if (s == AR_TRACE_NO_SLOT)
    return AR_OK;
  if (ps->nspare == ps->spare_cap) {
    size_t cap = ps->spare_cap ? ps->spare_cap * 2 : 1024;
    uint32_t *grown = realloc(ps->spare, cap * sizeof *grown);
    if (grown == NULL)
      return ar__trace_fail(err, AR_ENOMEM, line, "out of memory");
    ps->spare = grown;
    ps->spare_cap = cap;
  }
  ps->spare[ps->nspare++] = s;
  return AR_OK;
}

/* ---- operations -------------------------------------------------------- */

/* Room for one more op: the array grown, or the window handed on. */
static int grow_ops(ar__parser_t *ps, uint64_t line, ar_trace_error_t *err) {
  ar_trace_t *t = ps->t;
  if (ps->drain != NULL)
    return ar__parser_flush(ps, err);
  if (t->ops_bytes > SIZE_MAX / 2)
    return ar__trace_fail(err, AR_ENOMEM, line, "trace too large");
  size_t bytes = ar__big_size(t->ops_bytes * 2);
  ar_trace_op_t *grown = ar__big_grow(t->ops, t->ops_bytes, bytes);
  if (grown == NULL)
    return ar__trace_fail(err, AR_ENOMEM, line, "out of memory for the trace");
  t->ops = grown;
  t->ops_bytes = bytes;
  ps->cap = bytes / sizeof *grown;
  return AR_OK;
}

/* Notes that the next op follows ps->skipped non-op lines (which changed
 * since the last note). */
static int note_gap(ar__parser_t *ps, uint64_t line, ar_trace_error_t *err) {
  ar_trace_t *t = ps->t;
  if (t->ngaps == t->gaps_cap) {
    size_t cap = t->gaps_cap ? t->gaps_cap * 2 : 16;
    ar__gap_t *grown = realloc(t->gaps, cap * sizeof *grown);
    if (grown == NULL)
      return ar__trace_fail(err, AR_ENOMEM, line, "out of memory");
    t->gaps = grown;
    t->gaps_cap = cap;
  }
  t->gaps[t->ngaps++] =
      (ar__gap_t){.op = ps->done + t->info.nops, .skipped = ps->skipped};
  ps->noted = ps->skipped;
  return AR_OK;
}

/* Records one operation of the current line. */
static inline int emit(ar__parser_t *ps, char kind, int64_t id, uint64_t n,
                       ar_trace_error_t *err) {
  uint64_t line = ps->line + 1;
  int rc;
  if (ps->t->info.nops == ps->cap && (rc = grow_ops(ps, line, err)) < 0)
    return rc;
  if (ps->skipped != ps->noted && (rc = note_gap(ps, line, err)) < 0)
    return rc;
  uint32_t slot;
  rc = kind == 'a' ? slot_for_alloc(ps, id, line, &slot, err)
                   : slot_for_free(ps, id, line, &slot, err);
  if (rc < 0)
    return rc;

  ar_trace_t *t = ps->t;
  ar_trace_op_t *op = &t->ops[t->info.nops++];
  op->n = n;
  op->id = id;
  op->slot = slot;
  if (kind == 'a') {
    op->kind = AR_TRACE_ALLOC;
    t->info.nallocs++;
  } else {
    op->kind = AR_TRACE_FREE;
    t->info.nfrees++;
  }
  return AR_OK;
}

/* ---- lines ------------------------------------------------------------- */

/* Reads 1 to 18 decimal digits at *pp (no overflow possible, and the
 * value fits in int64) into *v; false when there are none or more. */
static inline bool short_number(const char **pp, uint64_t *v) {
  const char *p = *pp;
  uint64_t x = 0;
  unsigned d;
  while ((d = (unsigned)(unsigned char)*p - '0') <= 9) {
    x = x * 10 + d;
    p++;
  }
  size_t k = (size_t)(p - *pp);
  *pp = p;
  *v = x;
  return k >= 1 && k <= 18;
}

/*
 * The form every generated trace uses, checked first because it is
 * cheaper: "a <id> <n>\n" or "f <id>\n" with single spaces, unsigned
 * numbers of at most 18 digits and n >= 1. Returns true and fills the
 * fields when the line at p has exactly that form (*next: past its
 * newline); false sends the line to the general parser.
 */
static inline bool plain_line(const char *p, char *kind, int64_t *id,
                              uint64_t *n, const char **next) {
  char k = p[0];
  if ((k != 'a' && k != 'f') || p[1] != ' ')
    return false;
  p += 2;
  uint64_t v;
  if (!short_number(&p, &v))
    return false;
  *id = (int64_t)v;
  *n = 0;
  if (k == 'a') {
    if (*p != ' ')
      return false;
    p++;
    if (!short_number(&p, n) || *n == 0)
      return false;
  }
  if (*p != '\n')
    return false;
  *kind = k;
  *next = p + 1;
  return true;
}

/*
 * Parses the line at *pp, which ends with a newline before `end`, and
 * advances *pp past that newline.
 */
static int parse_line(ar__parser_t *ps, const char **pp, const char *end,
                      ar_trace_error_t *err) {
  uint64_t line = ps->line + 1;
  const char *p = *pp;
  char cb[5];
  char kind;
  int64_t id = 0;
  uint64_t n = 0;
  if (plain_line(p, &kind, &id, &n, pp))
    return emit(ps, kind, id, n, err);

  while (is_space(*p))
    p++;
  kind = *p;
  if (kind == '#' || at_eol(p)) { /* a comment or an empty line */
    p = memchr(p, '\n', (size_t)(end - p));
    *pp = p + 1;
    ps->skipped++;
    return AR_OK;
  }
  if (kind != 'a' && kind != 'f')
    return ar__trace_fail(err, AR_EINVAL, line,
                          "unknown operation '%s' (expected 'a' or 'f')",
                          show(kind, cb));
  p++;
  if (!is_blank(*p)) {
    if (at_eol(p))
      return ar__trace_fail(err, AR_EINVAL, line, "missing id after '%c'",
                            kind);
    return ar__trace_fail(err, AR_EINVAL, line,
                          "expected a space or tab after '%c', found '%s'",
                          kind, show(*p, cb));
  }
  while (is_blank(*p))
    p++;
  if (at_eol(p))
    return ar__trace_fail(err, AR_EINVAL, line, "missing id after '%c'",
                          kind);

  int rc = read_id(&p, line, &id, err);
  if (rc < 0)
    return rc;
  while (is_blank(*p))
    p++;

  if (kind == 'a') {
    if (at_eol(p))
      return ar__trace_fail(err, AR_EINVAL, line, "missing size after the id");
    rc = read_size(&p, line, &n, err);
    if (rc < 0)
      return rc;
    while (is_blank(*p))
      p++;
  }
  if (!at_eol(p))
    return ar__trace_fail(err, AR_EINVAL, line,
                          "unexpected '%s' after the last field of '%c'",
                          show(*p, cb), kind);
  *pp = (const char *)memchr(p, '\n', (size_t)(end - p)) + 1;
  return emit(ps, kind, id, n, err);
}

/*
 * The fast path, for the lines nearly every trace is made of: parses
 * plain lines (plain_line) from p on, doing what emit does with the
 * parser's state held in locals, for as long as each id is in the id
 * map's dense part and the operations array and the spare stack have
 * room. Returns where it stopped: at end, or at the start of a line it
 * left untouched, which parse_line then takes the general way (it parses
 * any line, grows what is full, and reports errors).
 */
static const char *parse_plain_run(ar__parser_t *ps, const char *p,
                                   const char *end) {
  if (ps->skipped != ps->noted) /* emit notes the gap first */
    return p;
  ar_trace_t *t = ps->t;
  ar_trace_op_t *ops = t->ops;
  size_t nops = t->info.nops, first = nops, nallocs = 0;
  const size_t cap = ps->cap;
  uint32_t *const dense = ps->ids.dense;
  const size_t dense_cap = ps->ids.dense_cap;
  size_t inserts = 0;
  uint32_t *const spare = ps->spare;
  size_t nspare = ps->nspare;
  const size_t spare_cap = ps->spare_cap;
  uint32_t nslots = t->info.nslots;

  while (p < end && nops < cap) {
    char kind;
    int64_t id;
    uint64_t n;
    const char *next;
    if (!plain_line(p, &kind, &id, &n, &next) || (uint64_t)id >= dense_cap)
      break;
    uint32_t *d = &dense[id];
    uint32_t slot;
    if (kind == 'a') {
      if (nspare == 0 && nslots >= AR_TRACE_NO_SLOT)
        break; /* slot_for_alloc reports it */
      if (*d != 0) {
        slot = *d - 1;
      } else {
        slot = nspare > 0 ? spare[--nspare] : nslots++;
        *d = slot + 1;
        inserts++;
      }
      nallocs++;
      ops[nops++] = (ar_trace_op_t){
          .n = n, .id = id, .slot = slot, .kind = AR_TRACE_ALLOC};
    } else {
      slot = AR_TRACE_NO_SLOT;
      if (*d != 0) {
        if (nspare == spare_cap)
          break; /* slot_for_free grows the stack */
        slot = *d - 1;
        *d = 0;
        spare[nspare++] = slot;
      }
      ops[nops++] = (ar_trace_op_t){
          .n = 0, .id = id, .slot = slot, .kind = AR_TRACE_FREE};
    }
    p = next;
  }

  size_t lines = nops - first;
  t->info.nops = nops;
  t->info.nallocs += nallocs;
  t->info.nfrees += lines - nallocs;
  t->info.nslots = nslots;
  ps->ids.inserts += inserts;
  ps->nspare = nspare;
  ps->line += lines;
  return p;
}

/* Parses [p, end), where end[-1] is a newline. */
static int parse_lines(ar__parser_t *ps, const char *p, const char *end,
                       ar_trace_error_t *err) {
  while (p < end) {
    p = parse_plain_run(ps, p, end);
    if (p == end)
      break;
    int rc = parse_line(ps, &p, end, err);
    if (rc < 0)
      return rc;
    ps->line++;
  }
  return AR_OK;
}

/* Appends text[0..len) to the carry buffer. */
static int carry_add(ar__parser_t *ps, const char *text, size_t len,
                     ar_trace_error_t *err) {
  if (ps->carry_cap - ps->carry_len < len + 1) {
    size_t cap = ps->carry_cap ? ps->carry_cap : 256;
    while (cap - ps->carry_len < len + 1) {
      if (cap > SIZE_MAX / 2)
        return ar__trace_fail(err, AR_ENOMEM, ps->line + 1, "line too long");
      cap *= 2;
    }
    char *grown = realloc(ps->carry, cap);
    if (grown == NULL)
      return ar__trace_fail(err, AR_ENOMEM, ps->line + 1,
                            "out of memory for a line");
    ps->carry = grown;
    ps->carry_cap = cap;
  }
  memcpy(ps->carry + ps->carry_len, text, len);
  ps->carry_len += len;
  return AR_OK;
}

/* Cuts the line in the carry buffer, which runs past its chunk, to what
 * parsing it needs: of a comment, its '#'; of white space alone, one
 * character of it. So a comment or blank line of any length costs no
 * more memory than a chunk. */
static void carry_trim(ar__parser_t *ps) {
  size_t i = 0;
  while (i < ps->carry_len && is_space(ps->carry[i]))
    i++;
  if (i == ps->carry_len) {
    if (ps->carry_len > 1)
      ps->carry_len = 1;
  } else if (ps->carry[i] == '#') {
    ps->carry[0] = '#';
    ps->carry_len = 1;
  }
}

/* Parses the carry buffer as the last line of the trace (no newline). */
static int parse_carry_as_last(ar__parser_t *ps, ar_trace_error_t *err) {
  if (ps->carry_len == 0)
    return AR_OK;
  int rc = carry_add(ps, "\n", 1, err);
  if (rc == AR_OK)
    rc = parse_lines(ps, ps->carry, ps->carry + ps->carry_len, err);
  ps->carry_len = 0;
  return rc;
}

int ar__parser_feed(ar__parser_t *ps, const char *text, size_t len, bool last,
                    size_t *used, ar_trace_error_t *err) {
  *used = 0;
  const char *nl = len ? memrchr(text, '\n', len) : NULL;
  size_t whole = nl != NULL ? (size_t)(nl + 1 - text) : 0;
  int rc = parse_lines(ps, text, text + whole, err);
  if (rc < 0)
    return rc;
  if (last && whole < len) {
    ps->carry_len = 0;
    if ((rc = carry_add(ps, text + whole, len - whole, err)) < 0)
      return rc;
    if ((rc = parse_carry_as_last(ps, err)) < 0)
      return rc;
    whole = len;
  }
  *used = whole;
  return AR_OK;
}

int ar__parser_feed_chunk(ar__parser_t *ps, const char *text, size_t len,
                          bool last, ar_trace_error_t *err) {
  int rc;
  if (ps->carry_len > 0) { /* complete the line the last chunk began */
    const char *nl = len ? memchr(text, '\n', len) : NULL;
    if (nl == NULL) {
      if ((rc = carry_add(ps, text, len, err)) < 0)
        return rc;
      carry_trim(ps);
      return last ? parse_carry_as_last(ps, err) : AR_OK;
    }
    size_t head = (size_t)(nl + 1 - text);
    if ((rc = carry_add(ps, text, head, err)) < 0)
      return rc;
    rc = parse_lines(ps, ps->carry, ps->carry + ps->carry_len, err);
    ps->carry_len = 0;
    if (rc < 0)
      return rc;
    text += head;
    len -= head;
  }
  size_t used;
  if ((rc = ar__parser_feed(ps, text, len, last, &used, err)) < 0)
    return rc;
  if (used == len)
    return AR_OK;
  if ((rc = carry_add(ps, text + used, len - used, err)) < 0)
    return rc;
  carry_trim(ps);
  return AR_OK;
}

int ar_trace_parse(const char *text, size_t len, ar_trace_t **out,
                   ar_trace_error_t *err) {
  if (out == NULL)
    return ar__trace_fail(err, AR_EINVAL, 0, "no place for the trace");
  *out = NULL;
  if (text == NULL && len > 0)
    return ar__trace_fail(err, AR_EINVAL, 0, "no text");
  ar__parser_t ps;
  int rc = ar__parser_init(&ps);
  if (rc < 0)
    return ar__trace_fail(err, rc, 0, "out of memory");
  size_t used;
  rc = ar__parser_feed(&ps, text, len, true, &used, err);
  if (rc == AR_OK) {
    *out = ar__parser_finish(&ps);
    ar__trace_ok(err);
  }
  ar__parser_fini(&ps);
  return rc;
}
