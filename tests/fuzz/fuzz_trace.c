/*
 * fuzz_trace.c: a libFuzzer target for reading traces, the input that
 * `arenactl replay` takes from any file. The input is a file's bytes. The
 * target reads them four ways and checks what ar/trace.h promises:
 *
 * - whole, with ar_trace_parse: a trace whose counts and slots are
 *   consistent (below), or AR_EINVAL / AR_ELIMIT with a message that
 *   names the line it gives;
 * - in pieces cut where the input's own bytes say, through the parser the
 *   loader uses (ar__parser_feed_chunk, which carries a line split between
 *   pieces): exactly the same result, code, line and message, or trace;
 * - whole again with a blank in front of every line, which sends every
 *   line to the general path instead of the fast one for plain lines:
 *   exactly the same result again;
 * - streamed, as ar_replay_stream parses (ar__parser_stream), in windows
 *   of 1 to 8 operations as the input's first byte says: the same code
 *   and error, and the windows together the same operations, slots and
 *   lines;
 * - as a file, with ar_trace_load of a memfd: plain text gives exactly the
 *   same result again; gzip (the input starts with gzip's magic) is
 *   inflated by ISA-L on the loader's reader thread and gives a consistent
 *   trace or an error, AR_EIO for bad gzip data;
 * - through a pipe, which the loader reads as a live source, read by read:
 *   the same result as the memfd's (for gzip, the same code and line, but
 *   for a bad line found before a read error that the memfd's load, which
 *   drops the text of a chunk whose reading failed, reports instead).
 *
 * Nothing may leak either way (libFuzzer's leak check). Any broken promise
 * aborts. The seeds in corpus/trace are small traces, plain and gzip, and
 * table-growth.trace, whose 600 ids far beyond id 1 make the id map's hash
 * table grow while id 1 is live in its array (a bug that lost id 1 once).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ar/error.h"
#include "ar/trace.h"
#include "trace_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct result_s {
  int rc;
  ar_trace_t *t;
  ar_trace_error_t err;
} result_t;

/* The counts agree with the operations, and the slots are what trace.h
 * says, checked against the ids themselves with a plain list of the ids
 * live at parse time: an `a` of a live id gets that id's slot, any other
 * `a` a slot no live id holds; an `f` of a live id gets its slot and ends
 * it, any other `f` no slot. */
static void check_trace(const ar_trace_t *t) {
  ar_trace_info_t info;
  ar_trace_info(t, &info);
  const ar_trace_op_t *ops = ar_trace_ops(t);
  if (info.nallocs + info.nfrees != info.nops || info.nops > info.nlines)
    abort();
  /* live[0..nlive): the live ids and live_slot their slots; held[slot]:
   * whether a live id has it */
  int64_t *live = malloc((info.nallocs + 1) * sizeof *live);
  uint32_t *live_slot = malloc((info.nallocs + 1) * sizeof *live_slot);
  unsigned char *held = calloc(info.nslots + 1, 1);
  if (live == NULL || live_slot == NULL || held == NULL)
    abort();
  size_t nlive = 0, allocs = 0;
  uint64_t line = 0;
  for (size_t i = 0; i < info.nops; i++) {
    const ar_trace_op_t *op = &ops[i];
    uint64_t l = ar_trace_line(t, i);
    if (l <= line || l > info.nlines)
      abort();
    line = l;
    size_t at = 0;
    while (at < nlive && live[at] != op->id)
      at++;
    bool is_live = at < nlive;
    if (op->kind == AR_TRACE_ALLOC) {
      allocs++;
      if (op->n == 0 || op->n > AR_N_MAX || op->slot >= info.nslots ||
          (is_live ? op->slot != live_slot[at] : held[op->slot]))
        abort();
      if (!is_live) {
        held[op->slot] = 1;
        live[nlive] = op->id;
        live_slot[nlive++] = op->slot;
      }
    } else if (op->kind == AR_TRACE_FREE) {
      if (op->n != 0 || (op->slot == AR_TRACE_NO_SLOT) == is_live)
        abort();
      if (is_live) {
        if (op->slot != live_slot[at])
          abort();
        held[op->slot] = 0;
        nlive--;
        live[at] = live[nlive];
        live_slot[at] = live_slot[nlive];
      }
    } else {
      abort();
    }
  }
  if (allocs != info.nallocs)
    abort();
  free(held);
  free(live_slot);
  free(live);
}

static void check_result(const result_t *r) {
  if (r->rc == AR_OK) {
    if (r->t == NULL || r->err.line != 0 || r->err.msg[0] != '\0')
      abort();
    check_trace(r->t);
    return;
  }
  if (r->t != NULL || r->err.msg[0] == '\0')
    abort();
  if (r->err.line != 0) {
    char prefix[32];
    snprintf(prefix, sizeof prefix,
             "line %llu: ", (unsigned long long)r->err.line);
    if (strncmp(r->err.msg, prefix, strlen(prefix)) != 0)
      abort();
  }
}

/* Two readings of the same text: the same code, error and operations. */
static void check_same(const result_t *a, const result_t *b) {
  if (a->rc != b->rc || a->err.line != b->err.line ||
      strcmp(a->err.msg, b->err.msg) != 0)
    abort();
  if (a->rc != AR_OK)
    return;
  ar_trace_info_t x, y;
  ar_trace_info(a->t, &x);
  ar_trace_info(b->t, &y);
  if (x.nops != y.nops || x.nslots != y.nslots || x.nlines != y.nlines ||
      (x.nops && memcmp(ar_trace_ops(a->t), ar_trace_ops(b->t),
                        x.nops * sizeof(ar_trace_op_t)) != 0))
    abort();
  for (size_t i = 0; i < x.nops; i++)
    if (ar_trace_line(a->t, i) != ar_trace_line(b->t, i))
      abort();
}

/* Feeds the text in pieces whose lengths come from its own bytes. */
static result_t parse_in_pieces(const uint8_t *data, size_t size) {
  result_t r = {.rc = AR_OK};
  ar__parser_t ps;
  if (ar__parser_init(&ps) != 0)
    abort();
  size_t off = 0;
  do {
    size_t piece = size - off;
    if (piece > 0) {
      size_t cut = 1 + data[off] % 13u;
      piece = cut < piece ? cut : piece;
    }
    bool last = off + piece == size;
    r.rc = ar__parser_feed_chunk(&ps, (const char *)data + off, piece, last,
                                 &r.err);
    off += piece;
  } while (r.rc == AR_OK && off < size);
  if (r.rc == AR_OK) {
    r.t = ar__parser_finish(&ps);
    r.err.line = 0;
    r.err.msg[0] = '\0';
  }
  ar__parser_fini(&ps);
  return r;
}

/* The text with a blank in front of every line, which changes no line's
 * meaning but keeps every line off the parser's fast path for plain lines
 * (parse_plain_run), so that the general path answers for all of them. */
static result_t parse_spaced(const uint8_t *data, size_t size) {
  char *text = malloc(2 * size + 1);
  if (text == NULL)
    abort();
  size_t len = 0;
  for (size_t i = 0; i < size; i++) {
    if (i == 0 || data[i - 1] == '\n')
      text[len++] = ' ';
    text[len++] = (char)data[i];
  }
  result_t r;
  r.rc = ar_trace_parse(text, len, &r.t, &r.err);
  free(text);
  return r;
}

/* The operations a streaming parser handed on, gathered. */
typedef struct gathered_s {
  ar_trace_op_t *ops;
  size_t n, cap;
} gathered_t;

static int gather(void *arg, const ar_trace_op_t *ops, size_t n, size_t first,
                  ar_trace_error_t *err) {
  (void)err;
  gathered_t *g = arg;
  if (first != g->n || n == 0)
    abort(); /* windows come in order, none empty */
  if (g->cap - g->n < n) {
    g->cap = 2 * (g->n + n);
    g->ops = realloc(g->ops, g->cap * sizeof *g->ops);
    if (g->ops == NULL)
      abort();
  }
  memcpy(g->ops + g->n, ops, n * sizeof *ops);
  g->n += n;
  return AR_OK;
}

/* Parses the text streaming, in small windows, and checks it against
 * the whole parse. */
static void check_streamed(const result_t *whole, const uint8_t *data,
                           size_t size) {
  ar__parser_t ps;
  gathered_t g = {0};
  size_t window = 1 + (size ? data[0] % 8u : 0);
  if (ar__parser_init(&ps) != 0 ||
      ar__parser_stream(&ps, window, gather, &g) != 0)
    abort();
  ar_trace_error_t err;
  size_t used;
  int rc = ar__parser_feed(&ps, (const char *)data, size, true, &used, &err);
  if (rc == AR_OK)
    rc = ar__parser_flush(&ps, &err);
  if (rc != whole->rc)
    abort();
  if (rc != AR_OK) {
    if (err.line != whole->err.line || strcmp(err.msg, whole->err.msg) != 0)
      abort();
  } else {
    ar_trace_info_t info;
    ar_trace_info(whole->t, &info);
    if (g.n != info.nops || ar__parser_nops(&ps) != info.nops ||
        ps.t->info.nslots != info.nslots || ps.line != info.nlines ||
        (g.n && memcmp(g.ops, ar_trace_ops(whole->t), g.n * sizeof *g.ops)))
      abort();
    for (size_t i = 0; i < g.n; i++)
      if (ar__parser_line(&ps, i) != ar_trace_line(whole->t, i))
        abort();
  }
  free(g.ops);
  ar__parser_fini(&ps);
}

static result_t load_from_memfd(const uint8_t *data, size_t size) {
  int fd = memfd_create("fuzz.trace", MFD_CLOEXEC);
  if (fd < 0 || (size && write(fd, data, size) != (ssize_t)size))
    abort();
  char path[64];
  snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
  result_t r;
  r.rc = ar_trace_load(path, &r.t, &r.err);
  close(fd);
  return r;
}

/* The same through a pipe, which the loader reads as a live source (each
 * read a chunk of its own; a gzip inflate hands over what it has before
 * waiting for more). The whole input goes into the pipe first, so inputs
 * larger than its buffer are left out (*skipped). */
static result_t load_from_pipe(const uint8_t *data, size_t size,
                               bool *skipped) {
  result_t r = {.rc = AR_OK};
  int p[2];
  *skipped = size > 65536;
  if (*skipped)
    return r;
  if (pipe2(p, O_CLOEXEC) < 0 ||
      (size && write(p[1], data, size) != (ssize_t)size))
    abort();
  close(p[1]);
  char path[64];
  snprintf(path, sizeof path, "/proc/self/fd/%d", p[0]);
  r.rc = ar_trace_load(path, &r.t, &r.err);
  close(p[0]);
  return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  result_t whole;
  whole.rc = ar_trace_parse((const char *)data, size, &whole.t, &whole.err);
  if (whole.rc != AR_OK && whole.rc != AR_EINVAL && whole.rc != AR_ELIMIT)
    abort();
  check_result(&whole);

  result_t pieces = parse_in_pieces(data, size);
  check_same(&whole, &pieces);

  result_t spaced = parse_spaced(data, size);
  check_same(&whole, &spaced);

  check_streamed(&whole, data, size);

  result_t loaded = load_from_memfd(data, size);
  check_result(&loaded);
  bool gzip = size >= 2 && data[0] == 0x1f && data[1] == 0x8b;
  if (!gzip)
    check_same(&whole, &loaded);
  else if (loaded.rc != AR_OK && loaded.rc != AR_EIO &&
           loaded.rc != AR_EINVAL && loaded.rc != AR_ELIMIT)
    abort();

  bool skipped;
  result_t piped = load_from_pipe(data, size, &skipped);
  if (!skipped) {
    check_result(&piped);
    /* gzip data that breaks off: from a file, the loader drops the
     * text of the chunk the error is in, and reports the read error;
     * from a pipe, the text inflated before it reaches the parser first,
     * which may find a bad line in it. Otherwise the same code and line
     * (the messages name the paths, which differ). */
    bool bad_line_first =
        loaded.rc == AR_EIO && (piped.rc == AR_EINVAL || piped.rc == AR_ELIMIT);
    if (!gzip)
      check_same(&whole, &piped);
    else if (!bad_line_first &&
             (piped.rc != loaded.rc || piped.err.line != loaded.err.line))
      abort();
    else if (piped.rc == AR_OK)
      check_same(&loaded, &piped);
  }

  ar_trace_destroy(whole.t);
  ar_trace_destroy(pieces.t);
  ar_trace_destroy(spaced.t);
  ar_trace_destroy(loaded.t);
  ar_trace_destroy(piped.t);
  return 0;
}
