/*
 * trace_load.c: loads a trace file (trace_source.c reads it, plain or
 * gzip) through the line parser.
 *
 * Reading a gzip trace means inflating it, which costs a good part of
 * what parsing it does, so the two run side by side: a reader thread fills
 * a ring of 256 KiB chunks (one huge page in all) while the calling thread
 * parses the chunks already filled. The parser keeps a line that straddles two
 * chunks in its own carry buffer. From a pipe (ar__source_live) each read
 * is a chunk of its own, handed over as it arrives. A small file
 * (ar__source_small), or one for which no thread can be started (or, from
 * a pipe, no pipe made to stop it), is read and parsed in turn through one
 * chunk.
 */
#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#include "ar/error.h"
#include "trace_internal.h"

#define CHUNK ((size_t)256 << 10) /* bytes of text a chunk holds */
#define NCHUNKS 8                 /* the ring */
#define SMALL_CHUNK ((size_t)32 << 10) /* the one chunk of a small file */

/* One chunk of the ring: text[0..len), whether it ends the trace, and
 * whether it ends it because reading failed (it then holds nothing). */
typedef struct chunk_s {
  char *text; /* reader_t.chunk bytes inside reader_t.mem */
  size_t len;
  bool last;
  bool failed;
} chunk_t;

/*
 * The reader and the ring it shares with the parser. Chunks [tail, tail +
 * count) (mod NCHUNKS) are filled and wait for the parser; the others are
 * the reader's. `mu` guards count and stop; a chunk's contents belong
 * to whichever side holds it.
 */
typedef struct reader_s {
  ar__source_t *src; /* ar_trace_load's, which closes it */
  char *mem;         /* the chunks' text, ar__big_alloc; owned */
  size_t chunk;      /* bytes of text a chunk holds */
  chunk_t ring[NCHUNKS];
  size_t head, tail, count;
  bool stop; /* the parser gave up: the reader ends */
  int rc;    /* the reader's error, AR_OK or AR_EIO; read after join */
  ar_trace_error_t err;
  pthread_mutex_t mu;
  pthread_cond_t cv;
} reader_t;

/* Fills chunk c with the next text. On an error sets r->rc and r->err and
 * makes c an empty, failed last chunk. */
static void fill(reader_t *r, chunk_t *c) {
  c->len = 0;
  c->last = c->failed = false;
  while (c->len < r->chunk) {
    size_t got;
    int rc = ar__source_read(r->src, c->text + c->len, r->chunk - c->len, &got,
                             &r->err);
    if (rc < 0) {
      r->rc = rc;
      c->len = 0;
      c->last = c->failed = true;
      return;
    }
    if (got == 0) {
      c->last = true;
      return;
    }
    c->len += got;
    if (ar__source_live(r->src))
      return; /* what has arrived goes to the parser now */
  }
}

static void *reader_main(void *arg) {
  reader_t *r = arg;
  for (;;) {
    pthread_mutex_lock(&r->mu);
    while (r->count == NCHUNKS && !r->stop)
      pthread_cond_wait(&r->cv, &r->mu);
    bool stop = r->stop;
    pthread_mutex_unlock(&r->mu);
    if (stop)
      break;

    chunk_t *c = &r->ring[r->head];
    fill(r, c);
    bool last = c->last; /* c is the parser's once published */
    r->head = (r->head + 1) % NCHUNKS;
    pthread_mutex_lock(&r->mu);
    r->count++;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    if (last)
      break;
  }
  return NULL;
}

/* Parses chunk c. A streaming parser hands on the operations of a chunk
 * from a live source at once, without waiting for its window to fill. */
static int feed(reader_t *r, ar__parser_t *ps, const chunk_t *c,
                ar_trace_error_t *err) {
  int rc = ar__parser_feed_chunk(ps, c->text, c->len, c->last, err);
  if (rc == AR_OK && ar__source_live(r->src))
    rc = ar__parser_flush(ps, err);
  return rc;
}

/* Parses chunks as the reader thread fills them. */
static int parse_threaded(reader_t *r, ar__parser_t *ps,
                          ar_trace_error_t *err) {
  int rc = AR_OK;
  for (;;) {
    pthread_mutex_lock(&r->mu);
    while (r->count == 0)
      pthread_cond_wait(&r->cv, &r->mu);
    pthread_mutex_unlock(&r->mu);

    chunk_t *c = &r->ring[r->tail];
    bool last = c->last;
    if (!c->failed) /* a failed chunk holds nothing; pump reports it */
      rc = feed(r, ps, c, err);
    r->tail = (r->tail + 1) % NCHUNKS;
    pthread_mutex_lock(&r->mu);
    r->count--;
    if (rc < 0)
      r->stop = true;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    if (rc < 0 || last)
      return rc;
  }
}

/* Reads and parses in turn, when no thread could be started. */
static int parse_inline(reader_t *r, ar__parser_t *ps, ar_trace_error_t *err) {
  chunk_t *c = &r->ring[0];
  for (;;) {
    fill(r, c);
    if (c->failed)
      return AR_OK; /* pump reports r->err */
    int rc = feed(r, ps, c, err);
    if (rc < 0 || c->last)
      return rc;
  }
}

/* Reads and parses all of r->src into ps. */
static int pump(reader_t *r, ar__parser_t *ps, ar_trace_error_t *err) {
  bool small = ar__source_small(r->src);
  size_t nchunks = small ? 1 : NCHUNKS;
  r->chunk = small ? SMALL_CHUNK : CHUNK;
  size_t bytes = nchunks * r->chunk;
  r->mem = ar__big_alloc(bytes);
  if (r->mem == NULL)
    return ar__trace_fail(err, AR_ENOMEM, 0, "out of memory for reading");
  for (size_t i = 0; i < nchunks; i++)
    r->ring[i].text = r->mem + i * r->chunk;

  /* A live source's reader also waits on stop[0] (see below). Without
   * that pipe (no descriptor left for it) nothing could stop a reader
   * thread that waits for more of a pipe whose writer keeps it open, and
   * joining it after a parse error would wait for that writer: the
   * source is then read and parsed in turn, which stops at once. */
  int stop[2] = {-1, -1};
  bool stoppable = true;
  if (ar__source_live(r->src)) {
    stoppable = pipe2(stop, O_CLOEXEC) == 0;
    if (stoppable)
      ar__source_stop_on(r->src, stop[0]);
  }
  int rc;
  pthread_t th;
  pthread_mutex_init(&r->mu, NULL);
  pthread_cond_init(&r->cv, NULL);
  if (!small && stoppable && pthread_create(&th, NULL, reader_main, r) == 0) {
    rc = parse_threaded(r, ps, err);
    /* The parser stopped early: a reader waiting for more of a pipe
     * would wait for as long as its writer keeps it open. */
    if (rc < 0 && stop[1] >= 0)
      (void)!write(stop[1], "", 1);
    pthread_join(th, NULL);
  } else {
    rc = parse_inline(r, ps, err);
  }
  pthread_cond_destroy(&r->cv);
  pthread_mutex_destroy(&r->mu);
  if (stop[0] >= 0) {
    ar__source_stop_on(r->src, -1);
    close(stop[0]);
    close(stop[1]);
  }
  ar__big_free(r->mem, bytes);
  r->mem = NULL;

  /* A read error that came before any parse error is the one to report. */
  if (rc == AR_OK && r->rc < 0) {
    if (err != NULL)
      *err = r->err;
    rc = r->rc;
  }
  return rc;
}

int ar__load_into(const char *path, ar__parser_t *ps, ar_trace_error_t *err) {
  reader_t r = {.rc = AR_OK};
  int rc = ar__source_open(path, &r.src, err);
  if (rc < 0)
    return rc;
  rc = pump(&r, ps, err);
  ar__source_close(r.src);
  return rc;
}

int ar_trace_load(const char *path, ar_trace_t **out, ar_trace_error_t *err) {
  if (out == NULL || path == NULL)
    return ar__trace_fail(err, AR_EINVAL, 0, "no path or no place for it");
  *out = NULL;

  ar__parser_t ps;
  int rc = ar__parser_init(&ps);
  if (rc < 0)
    rc = ar__trace_fail(err, rc, 0, "out of memory");
  else
    rc = ar__load_into(path, &ps, err);
  if (rc == AR_OK) {
    *out = ar__parser_finish(&ps);
    ar__trace_ok(err);
  }
  ar__parser_fini(&ps);
  return rc;
}
