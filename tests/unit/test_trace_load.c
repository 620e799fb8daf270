/*
 * test_trace_load.c: loading trace files (ar_trace_load). Plain and gzip
 * files written here into a temporary directory, with zlib, an
 * implementation independent of the loader's (ISA-L): lines that
 * straddle the loader's chunks, and lines longer than several chunks;
 * standard input; a pipe that delivers a
 * few bytes at a time, also as a non-blocking standard input; gzip members one
 * after another, split mid-line; gzip headers with every optional field; and
 * what must fail with a clear message: a missing file, gzip data cut short,
 * corrupt, with a wrong checksum, with a reserved header flag set or followed
 * by something else. Last, one of the public traces.
 */
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <zlib.h>

#include "ar/error.h"
#include "ar/trace.h"
#include "lcg.h"
#include "test_data.h"
#include "tmpdir.h"
#include "trace_check.h"

/* ---- files ------------------------------------------------------------ */

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
    unsigned part =
        len - done > (1u << 20) ? (1u << 20) : (unsigned)(len - done);
    assert_int_equal(gzwrite(gz, text + done, part), (int)part);
    done += part;
  }
  assert_int_equal(gzclose(gz), Z_OK);
}

/* A growing byte buffer. */
typedef struct bytes_s {
  unsigned char *p;
  size_t len, cap;
} bytes_t;

static void put(bytes_t *b, const void *data, size_t len) {
  if (b->len + len > b->cap) {
    b->cap = (b->len + len) * 2;
    b->p = realloc(b->p, b->cap);
    assert_non_null(b->p);
  }
  memcpy(b->p + b->len, data, len);
  b->len += len;
}

static void put_le32(bytes_t *b, uint32_t v) {
  unsigned char x[4] = {v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, v >> 24};
  put(b, x, 4);
}

/* Appends one gzip member holding text[0..len), built by hand around
 * zlib's raw deflate; with `fields`, its header has every optional field
 * (extra, name, comment and the header's own CRC). */
static void put_member(bytes_t *b, const char *text, size_t len, bool fields) {
  size_t start = b->len;
  unsigned char fixed[10] = {0x1f, 0x8b, 8, fields ? 0x1e : 0, 1, 2, 3,
                             4,    0,    3};
  put(b, fixed, sizeof fixed);
  if (fields) {
    put(b,
        "\x06\x00"
        "AB\x02\x00"
        "xy",
        8); /* XLEN 6: subfield AB, 2 bytes */
    put(b, "trace.txt", 10);
    put(b, "a comment", 10);
    uint32_t hcrc = (uint32_t)crc32(0, b->p + start, (uInt)(b->len - start));
    unsigned char h[2] = {hcrc & 0xff, (hcrc >> 8) & 0xff};
    put(b, h, 2);
  }
  z_stream z = {0};
  assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY),
                   Z_OK);
  unsigned char out[1 << 14];
  z.next_in = (unsigned char *)text;
  z.avail_in = (uInt)len;
  int zrc;
  do {
    z.next_out = out;
    z.avail_out = sizeof out;
    zrc = deflate(&z, Z_FINISH);
    put(b, out, sizeof out - z.avail_out);
  } while (zrc == Z_OK);
  assert_int_equal(zrc, Z_STREAM_END);
  deflateEnd(&z);
  put_le32(b, (uint32_t)crc32(0, (const unsigned char *)text, (uInt)len));
  put_le32(b, (uint32_t)len);
}

static ar_trace_t *load_ok(const char *path) {
  ar_trace_t *t = NULL;
  ar_trace_error_t err;
  int rc = ar_trace_load(path, &t, &err);
  if (rc != AR_OK)
    fail_msg("load %s: %s: %s", path, ar_err_name(rc), err.msg);
  assert_non_null(t);
  return t;
}

/* The load of path must fail with AR_EIO, naming the file and saying
 * `what`. */
static void load_fails(const char *path, const char *what) {
  ar_trace_t *t = (ar_trace_t *)(uintptr_t)1;
  ar_trace_error_t err;
  int rc = ar_trace_load(path, &t, &err);
  if (rc != AR_EIO)
    fail_msg("load %s: want EIO (%s), got %s: %s", path, what, ar_err_name(rc),
             rc == AR_OK ? "loaded" : err.msg);
  assert_null(t);
  assert_int_equal(err.line, 0);
  const char *base = strrchr(path, '/');
  if (strstr(err.msg, base ? base + 1 : path) == NULL ||
      strstr(err.msg, what) == NULL)
    fail_msg("message \"%s\" should name %s and say \"%s\"", err.msg, path,
             what);
}

/* ---- loading ---------------------------------------------------------- */

static const char small_text[] = "# small\r\na 1 10\r\na -2 20\nf 1\n\nf -2\n"
                                 "f 3\na 4 40";

static void test_load_plain_and_gz(void **state) {
  tmpdir_t *f = *state;
  ar_trace_t *want = parse_ok(small_text);
  assert_int_equal(info_of(want).nops, 6);

  const char *names[] = {"plain.trace", "t.trace.gz"};
  for (int k = 0; k < 2; k++) {
    const char *p = tmpdir_file(f, names[k]);
    if (k == 0)
      write_plain(p, small_text, strlen(small_text));
    else
      write_gz(p, small_text, strlen(small_text));
    ar_trace_t *t = load_ok(p);
    assert_same_trace(t, want);
    ar_trace_destroy(t);
  }
  ar_trace_destroy(want);
}

/* A trace of many loader chunks and input buffers: lines straddle their
 * boundaries, and the result must be what the in-memory parser gives. */
static void test_load_big_gz(void **state) {
  tmpdir_t *f = *state;
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
                              (unsigned long long)(r >> 18) % 4096 + 1);
    }
  }
  assert_true(len > (size_t)8 << 20); /* many chunk boundaries */
  ar_trace_t *want = NULL;
  ar_trace_error_t err;
  assert_int_equal(ar_trace_parse(text, len, &want, &err), AR_OK);

  const char *p = tmpdir_file(f, "big.trace.gz");
  write_gz(p, text, len);
  ar_trace_t *t = load_ok(p);
  assert_same_trace(t, want);
  assert_int_equal(info_of(t).nlines, LINES);
  ar_trace_destroy(t);

  /* An error late in the file names its line across the chunks. */
  memcpy(text + len - 2, "\nz", 2); /* the last line becomes "z" */
  write_gz(tmpdir_file(f, "bad.trace.gz"), text, len);
  assert_int_equal(ar_trace_load(f->buf, &t, &err), AR_EINVAL);
  assert_null(t);
  assert_int_equal(err.line, LINES + 1);
  assert_non_null(strstr(err.msg, "unknown operation 'z'"));

  ar_trace_destroy(want);
  free(text);
}

/* Lines longer than several of the loader's chunks (256 KiB): a comment,
 * an operation after a long run of blanks, and a last line without a
 * newline that also spans chunks. Plain and gzip, and the result must be
 * what the in-memory parser gives. */
static void test_load_long_lines(void **state) {
  tmpdir_t *f = *state;
  enum { LONG = 700 << 10 };
  size_t cap = 3 * (size_t)LONG + 64;
  char *text = malloc(cap);
  assert_non_null(text);
  size_t len = 0;
  text[len++] = '#';
  memset(text + len, 'x', LONG);
  len += LONG;
  len += (size_t)snprintf(text + len, cap - len, "\na 1 10\n");
  memset(text + len, ' ', LONG);
  len += LONG;
  len += (size_t)snprintf(text + len, cap - len, "a 2 20\n");
  memset(text + len, '\t', LONG);
  len += LONG;
  len += (size_t)snprintf(text + len, cap - len, "f 1"); /* no newline */

  ar_trace_t *want = NULL;
  ar_trace_error_t err;
  assert_int_equal(ar_trace_parse(text, len, &want, &err), AR_OK);
  assert_int_equal(info_of(want).nops, 3);
  assert_int_equal(ar_trace_line(want, 1), 3); /* a 2 20 */
  assert_int_equal(ar_trace_line(want, 2), 4); /* f 1 */
  const char *names[] = {"long.trace", "long.trace.gz"};
  for (int k = 0; k < 2; k++) {
    const char *p = tmpdir_file(f, names[k]);
    if (k == 0)
      write_plain(p, text, len);
    else
      write_gz(p, text, len);
    ar_trace_t *t = load_ok(p);
    assert_same_trace(t, want);
    ar_trace_destroy(t);
  }
  ar_trace_destroy(want);
  free(text);
}

/* ar_trace_load("-") with standard input read from the file at path;
 * standard input must still be open afterwards. */
static int load_stdin(const char *path, ar_trace_t **t, ar_trace_error_t *err) {
  int saved = dup(STDIN_FILENO);
  assert_true(saved >= 0);
  int fd = open(path, O_RDONLY);
  assert_true(fd >= 0);
  assert_int_equal(dup2(fd, STDIN_FILENO), STDIN_FILENO);
  close(fd);
  int rc = ar_trace_load("-", t, err);
  int still_open = fcntl(STDIN_FILENO, F_GETFD);
  assert_int_equal(dup2(saved, STDIN_FILENO), STDIN_FILENO);
  close(saved);
  assert_true(still_open >= 0);
  return rc;
}

static void test_load_stdin(void **state) {
  tmpdir_t *f = *state;
  const char *p = tmpdir_file(f, "t.trace.gz");
  write_gz(p, small_text, strlen(small_text));
  ar_trace_t *t = NULL;
  ar_trace_error_t err;
  assert_int_equal(load_stdin(p, &t, &err), AR_OK);
  ar_trace_t *want = parse_ok(small_text);
  assert_same_trace(t, want);
  ar_trace_destroy(want);
  ar_trace_destroy(t);

  /* Cut short: the message names standard input, not "-". */
  assert_int_equal(truncate(p, 20), 0);
  t = NULL;
  assert_int_equal(load_stdin(p, &t, &err), AR_EIO);
  assert_null(t);
  if (strstr(err.msg, "cannot read standard input: ") == NULL)
    fail_msg("message \"%s\" should name standard input", err.msg);
}

static void test_load_failures(void **state) {
  tmpdir_t *f = *state;
  ar_trace_t *t = (ar_trace_t *)(uintptr_t)1;
  ar_trace_error_t err;

  load_fails(tmpdir_file(f, "missing.trace"), "cannot open");

  /* A gzip file cut short: an error, not a shorter trace. */
  const char *p = tmpdir_file(f, "t.trace.gz");
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
  write_plain(tmpdir_file(f, "cut.trace.gz"), gzbuf, gzlen / 2);
  load_fails(f->buf, "truncated gzip data");

  /* A corrupt gzip body. */
  gzbuf[gzlen / 2] ^= 0x55;
  gzbuf[gzlen / 2 + 1] ^= 0x55;
  write_plain(f->buf, gzbuf, gzlen);
  int rc = ar_trace_load(f->buf, &t, &err);
  assert_true(rc == AR_EIO || rc == AR_EINVAL);
  assert_null(t);
  free(text);

  assert_int_equal(ar_trace_load(NULL, &t, &err), AR_EINVAL);
  assert_int_equal(ar_trace_parse("a 1 1", 5, NULL, &err), AR_EINVAL);
  /* a NULL error struct is allowed */
  assert_int_equal(ar_trace_parse("q", 1, &t, NULL), AR_EINVAL);
}

/* Files on both sides of the loader's small-file limit (64 KiB: read and
 * parsed in turn through a 32 KiB buffer and chunk; above it, the reader
 * thread and its ring): plain files of 40 and 70 KiB, and gzip files of a
 * few KiB that inflate to 600 KiB, and of over 64 KiB. Every line
 * straddles some boundary. */
static void test_load_small_files(void **state) {
  tmpdir_t *f = *state;
  size_t cap = 700 << 10;
  char *random = malloc(cap), *cyclic = malloc(cap);
  assert_non_null(random);
  assert_non_null(cyclic);
  size_t rlen = 0, clen = 0;
  uint64_t seed = 5;
  for (int i = 0; rlen < cap - 64; i++) {
    uint64_t r = next_rand(&seed);
    rlen += (size_t)snprintf(random + rlen, cap - rlen,
                             r % 3 ? "a %d %llu\n" : "f %d\n", i / 2 + 1,
                             (unsigned long long)(r >> 8) % 9000 + 1);
  }
  for (int i = 0; clen < cap - 64; i++) /* compresses about 50 times */
    clen += (size_t)snprintf(cyclic + clen, cap - clen, "a %d %d\nf %d\n",
                             i % 97 + 1, i % 13 * 8 + 1, i % 97 + 1);
  const struct {
    const char *text;
    size_t len;
    bool gz;
  } cases[] = {{random, 40 << 10, false},
               {random, 70 << 10, false},
               {cyclic, 600 << 10, true},
               {random, 600 << 10, true}};
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    const char *text = cases[k].text;
    size_t n = cases[k].len;
    while (text[n - 1] != '\n') /* whole lines */
      n--;
    ar_trace_t *want = NULL;
    ar_trace_error_t err;
    assert_int_equal(ar_trace_parse(text, n, &want, &err), AR_OK);
    if (cases[k].gz)
      write_gz(tmpdir_file(f, "s.trace.gz"), text, n);
    else
      write_plain(tmpdir_file(f, "s.trace"), text, n);
    ar_trace_t *t = load_ok(f->buf);
    assert_same_trace(t, want);
    ar_trace_destroy(t);
    ar_trace_destroy(want);
  }
  free(random);
  free(cyclic);
}

/* Several members in one file read as their concatenation, also when a
 * member ends in the middle of a line, and whatever optional fields their
 * headers carry. */
static void test_load_members(void **state) {
  tmpdir_t *f = *state;
  const char *text = small_text;
  size_t len = strlen(text);
  ar_trace_t *want = parse_ok(text);
  for (size_t cut = 0; cut <= len; cut += 3) { /* mid-line cuts included */
    bytes_t b = {0};
    put_member(&b, text, cut, cut % 2 == 0);
    put_member(&b, text + cut, len - cut, cut % 2 == 1);
    write_plain(tmpdir_file(f, "m.trace.gz"), (const char *)b.p, b.len);
    ar_trace_t *t = load_ok(f->buf);
    assert_same_trace(t, want);
    ar_trace_destroy(t);
    free(b.p);
  }
  ar_trace_destroy(want);

  /* An empty member, and an empty plain file: empty traces. */
  bytes_t b = {0};
  put_member(&b, "", 0, true);
  write_plain(tmpdir_file(f, "e.trace.gz"), (const char *)b.p, b.len);
  ar_trace_t *t = load_ok(f->buf);
  assert_int_equal(info_of(t).nops, 0);
  ar_trace_destroy(t);
  free(b.p);
  write_plain(tmpdir_file(f, "e.trace"), "", 0);
  t = load_ok(f->buf);
  assert_int_equal(info_of(t).nlines, 0);
  ar_trace_destroy(t);
}

/* Feeds a pipe a few bytes at a time, so that the loader's reads come back
 * short at every point of the gzip format: in the magic, the header, the
 * deflate data and the trailer. */
typedef struct dribble_s {
  int fd;
  const unsigned char *p;
  size_t len;
} dribble_t;

static void *dribble(void *arg) {
  dribble_t *d = arg;
  uint64_t seed = 11;
  for (size_t off = 0; off < d->len;) {
    size_t n = 1 + next_rand(&seed) % 5;
    if (n > d->len - off)
      n = d->len - off;
    ssize_t w = write(d->fd, d->p + off, n);
    if (w <= 0)
      break;
    off += (size_t)w;
    usleep(200);
  }
  close(d->fd);
  return NULL;
}

static ar_trace_t *load_through_pipe(const unsigned char *p, size_t len) {
  int fds[2];
  assert_int_equal(pipe(fds), 0);
  dribble_t d = {fds[1], p, len};
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, dribble, &d), 0);
  char path[32];
  snprintf(path, sizeof path, "/dev/fd/%d", fds[0]);
  ar_trace_t *t = load_ok(path);
  pthread_join(th, NULL);
  close(fds[0]);
  return t;
}

/* The same through standard input, a pipe whose reading end is
 * non-blocking (as a parent that shares it may leave it): the reads that
 * find it empty fail with EAGAIN, which must not end the load. */
static ar_trace_t *load_through_nonblocking_stdin(const unsigned char *p,
                                                  size_t len) {
  int fds[2];
  assert_int_equal(pipe(fds), 0);
  assert_int_equal(fcntl(fds[0], F_SETFL, O_NONBLOCK), 0);
  int saved = dup(STDIN_FILENO);
  assert_true(saved >= 0);
  assert_int_equal(dup2(fds[0], STDIN_FILENO), STDIN_FILENO);
  close(fds[0]);
  dribble_t d = {fds[1], p, len};
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, dribble, &d), 0);
  ar_trace_t *t = NULL;
  ar_trace_error_t err;
  int rc = ar_trace_load("-", &t, &err);
  pthread_join(th, NULL);
  assert_int_equal(dup2(saved, STDIN_FILENO), STDIN_FILENO);
  close(saved);
  if (rc != AR_OK)
    fail_msg("non-blocking standard input: %s", err.msg);
  return t;
}

static void test_load_dribbled_pipe(void **state) {
  (void)state;
  ar_trace_t *want = parse_ok(small_text);
  size_t len = strlen(small_text);
  bytes_t b = {0};
  put_member(&b, small_text, len / 2, true);
  put_member(&b, small_text + len / 2, len - len / 2, false);
  ar_trace_t *t = load_through_pipe(b.p, b.len);
  assert_same_trace(t, want);
  ar_trace_destroy(t);
  t = load_through_pipe((const unsigned char *)small_text, len);
  assert_same_trace(t, want);
  ar_trace_destroy(t);
  t = load_through_nonblocking_stdin(b.p, b.len);
  assert_same_trace(t, want);
  ar_trace_destroy(t);
  t = load_through_nonblocking_stdin((const unsigned char *)small_text, len);
  assert_same_trace(t, want);
  ar_trace_destroy(t);
  free(b.p);
  ar_trace_destroy(want);
}

/* Bad gzip data, each with its own message and nothing loaded. */
static void test_load_bad_gzip(void **state) {
  tmpdir_t *f = *state;
  const char *text = small_text;
  size_t len = strlen(text);
  bytes_t b = {0};
  put_member(&b, text, len, true);

  /* The magic number alone, and a member without its trailer. */
  write_plain(tmpdir_file(f, "magic.trace.gz"), "\x1f\x8b", 2);
  load_fails(f->buf, "truncated gzip data");
  write_plain(tmpdir_file(f, "short.trace.gz"), (const char *)b.p, b.len - 8);
  load_fails(f->buf, "truncated gzip data");

  /* A wrong CRC in the trailer. */
  b.p[b.len - 8] ^= 1;
  write_plain(tmpdir_file(f, "crc.trace.gz"), (const char *)b.p, b.len);
  load_fails(f->buf, "wrong checksum");
  b.p[b.len - 8] ^= 1;

  /* Something after the last member, even one byte. */
  put(&b, "a 9 9\n", 6);
  write_plain(tmpdir_file(f, "tail.trace.gz"), (const char *)b.p, b.len);
  load_fails(f->buf, "data after the end of the gzip data");
  b.len -= 5;
  write_plain(tmpdir_file(f, "tail1.trace.gz"), (const char *)b.p, b.len);
  load_fails(f->buf, "data after the end of the gzip data");

  /* A header with a reserved flag bit set: it may announce a field that
   * this reader does not know of, and RFC 1952 (2.3.1.2) requires an
   * error, as gzip and zlib give. The flag is checked in a second member
   * too, and in a member without optional fields, whose header has no CRC
   * of its own to catch the change. */
  for (int member = 0; member < 2; member++) {
    for (unsigned bit = 0x20; bit <= 0x80; bit <<= 1) {
      bytes_t r = {0};
      size_t cut = member == 1 ? 6 : 0; /* the second member: the rest */
      if (cut > 0)
        put_member(&r, text, cut, true);
      size_t at = r.len;
      put_member(&r, text + cut, len - cut, false);
      r.p[at + 3] |= (unsigned char)bit; /* FLG */
      write_plain(tmpdir_file(f, "flags.trace.gz"), (const char *)r.p, r.len);
      load_fails(f->buf, "reserved flag");
      free(r.p);
    }
  }

  /* A compression method other than deflate. */
  b.len -= 1;
  b.p[2] = 7;
  write_plain(tmpdir_file(f, "method.trace.gz"), (const char *)b.p, b.len);
  load_fails(f->buf, "gzip");
  free(b.p);
}

/* One of the public traces: the counts its header announces. */
static void test_public_trace(void **state) {
  (void)state;
  const char *dir = ar_test_data_dir();
  char p[512];
  snprintf(p, sizeof p, "%s/python3-compileall-email.trace.gz", dir);
  ar_trace_t *t = load_ok(p);
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
      cmocka_unit_test_setup_teardown(test_load_plain_and_gz, tmpdir_make,
                                      tmpdir_remove),
      cmocka_unit_test_setup_teardown(test_load_big_gz, tmpdir_make,
                                      tmpdir_remove),
      cmocka_unit_test_setup_teardown(test_load_long_lines, tmpdir_make,
                                      tmpdir_remove),
      cmocka_unit_test_setup_teardown(test_load_stdin, tmpdir_make,
                                      tmpdir_remove),
      cmocka_unit_test_setup_teardown(test_load_small_files, tmpdir_make,
                                      tmpdir_remove),
      cmocka_unit_test_setup_teardown(test_load_members, tmpdir_make,
                                      tmpdir_remove),
      cmocka_unit_test(test_load_dribbled_pipe),
      cmocka_unit_test_setup_teardown(test_load_failures, tmpdir_make,
                                      tmpdir_remove),
      cmocka_unit_test_setup_teardown(test_load_bad_gzip, tmpdir_make,
                                      tmpdir_remove),
      cmocka_unit_test(test_public_trace),
  };
  return cmocka_run_group_tests_name("trace_load", tests, NULL, NULL);
}
