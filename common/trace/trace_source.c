/*
 * trace_source.c: the text of a trace file, plain or gzip, from a path or
 * from standard input. The first two bytes decide: gzip's magic number
 * means gzip, anything else is read as it is, so the file's name does not
 * matter. This is the only file of the library that touches a file
 * descriptor, and it only reads the one it opens.
 *
 * Inflating is the costly part of loading a gzip trace, so it is done with
 * ISA-L's inflate (libisal), which decodes these traces about 2.5 times as
 * fast as zlib's: fast enough that loading a trace is bound by parsing it
 * (README, "Benchmarks"). A file of several gzip members, one after the
 * other, is read as their concatenation, as gzip(1) does; anything else
 * after the last member, or a member cut short, is an error.
 */
#include <errno.h>
#include <fcntl.h>
#include <isa-l/igzip_lib.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ar/error.h"
#include "trace_internal.h"

/* Bytes of the file read at a time: on huge pages (bigmem.c says why),
 * except for a small file, whose few pages come from malloc. */
#define IN_SIZE ((size_t)256 << 10)
#define SMALL_IN_SIZE ((size_t)32 << 10)
#define SMALL_FILE ((off_t)64 << 10) /* ar__source_small */

struct ar__source_s {
  int fd;            /* owned: a file opened here, or a duplicate of stdin */
  const char *path;  /* the caller's, or "standard input": for messages */
  bool small;        /* a regular file of at most SMALL_FILE bytes */
  bool live;         /* not a regular file: a pipe, socket or terminal */
  int stop_fd;       /* readable: stop waiting (ar__source_stop_on); or -1 */
  unsigned char *in; /* in_size(s) bytes of file; ar__big_alloc, owned */
  unsigned char *next_in; /* the part of in not consumed yet */
  size_t avail_in;
  bool eof;                /* read() said the file has ended */
  bool gzip;               /* the file starts with gzip's magic */
  bool done;               /* gzip: the last member has ended */
  struct inflate_state *z; /* gzip only; ar__big_alloc, owned */
};

static size_t in_size(const ar__source_t *s) {
  return s->small ? SMALL_IN_SIZE : IN_SIZE;
}

static int fail_read(ar__source_t *s, ar_trace_error_t *err, const char *why) {
  return ar__trace_fail(err, AR_EIO, 0, "cannot read %s: %s", s->path, why);
}

/* Waits until the source has something to read, or its stop_fd does.
 * Standard input can come non-blocking (O_NONBLOCK is shared with whoever
 * else holds the pipe, so it is not ours to clear): a read then fails with
 * EAGAIN whenever the writer is slower than the reader, which is no error.
 * Returns 0, 1 when told to stop, or -1 with errno set when poll fails. */
static int wait_readable(const ar__source_t *s) {
  struct pollfd p[2] = {{.fd = s->fd, .events = POLLIN},
                        {.fd = s->stop_fd, .events = POLLIN}};
  int rc;
  while ((rc = poll(p, s->stop_fd >= 0 ? 2 : 1, -1)) < 0 && errno == EINTR)
    ;
  if (rc < 0)
    return -1;
  return s->stop_fd >= 0 && (p[1].revents & POLLIN) != 0;
}

/* Reads more of the file after the avail_in bytes at next_in, which move
 * to the front of the buffer; sets eof at the end. Returns 0 or AR_EIO. */
static int refill(ar__source_t *s, ar_trace_error_t *err) {
  memmove(s->in, s->next_in, s->avail_in);
  s->next_in = s->in;
  /* A pipe's read waits for its writer: wait here instead, where a stop
   * can end the wait. */
  int w;
  if (s->stop_fd >= 0 && (w = wait_readable(s)) != 0)
    return fail_read(s, err, w > 0 ? "stopped" : strerror(errno));
  for (;;) {
    ssize_t got = read(s->fd, s->in + s->avail_in, in_size(s) - s->avail_in);
    if (got > 0) {
      s->avail_in += (size_t)got;
      return 0;
    }
    if (got == 0) {
      s->eof = true;
      return 0;
    }
    if (errno == EINTR)
      continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK)
      return fail_read(s, err, strerror(errno));
    if ((w = wait_readable(s)) != 0)
      return fail_read(s, err, w > 0 ? "stopped" : strerror(errno));
  }
}

/* Makes at least `want` bytes available, or all that is left. */
static int fill_to(ar__source_t *s, size_t want, ar_trace_error_t *err) {
  while (s->avail_in < want && !s->eof) {
    int rc = refill(s, err);
    if (rc < 0)
      return rc;
  }
  return 0;
}

static bool at_gzip_magic(const ar__source_t *s) {
  return s->avail_in >= 2 && s->next_in[0] == 0x1f && s->next_in[1] == 0x8b;
}

/* ISA-L's verdict on bad data, in words. */
static const char *inflate_error(int code) {
  switch (code) {
  case ISAL_INCORRECT_CHECKSUM:
    return "corrupt gzip data (wrong checksum)";
  case ISAL_INVALID_WRAPPER:
    return "corrupt gzip header or trailer";
  case ISAL_UNSUPPORTED_METHOD:
    return "unsupported gzip compression method";
  default:
    return "corrupt gzip data";
  }
}

/* Whether the buffer holds the whole header of the gzip member at next_in
 * (RFC 1952, 2.3: ten bytes, then the optional fields its FLG byte
 * announces). */
static bool header_whole(const ar__source_t *s) {
  const unsigned char *h = s->next_in;
  size_t n = s->avail_in, len = 10;
  if (n < len)
    return false;
  unsigned flg = h[3];
  if (flg & 0x04) { /* FEXTRA: two bytes of length, then the field */
    if (n < len + 2)
      return false;
    len += 2 + (h[len] | (size_t)h[len + 1] << 8);
  }
  for (unsigned bit = 0x08; bit <= 0x10; bit <<= 1) /* FNAME, FCOMMENT */
    if (flg & bit) {
      const unsigned char *nul = len < n ? memchr(h + len, 0, n - len) : NULL;
      if (nul == NULL)
        return false;
      len = (size_t)(nul - h) + 1;
    }
  if (flg & 0x02) /* FHCRC */
    len += 2;
  return n >= len;
}

/* Starts the gzip member at next_in. Its header must reach ISA-L in one
 * piece: version 2.30 checks a header's own CRC (the FHCRC field) wrongly
 * when the header arrives in pieces, as it does from a pipe. So a file's
 * buffer is filled first, and from a pipe, where more may be long in
 * coming, reads go on until the header is whole. (A header longer than the
 * buffer, which no tool writes, would still arrive in pieces.) A header
 * with a reserved flag bit set (FLG, its fourth byte) may hold a field
 * unknown here, which ISA-L would read as compressed data: RFC 1952
 * (2.3.1.2) makes it an error, as gzip and zlib do. */
static int start_member(ar__source_t *s, ar_trace_error_t *err) {
  int rc = 0;
  if (!s->live)
    rc = fill_to(s, in_size(s), err);
  while (rc == 0 && s->live && !header_whole(s) && !s->eof &&
         s->avail_in < in_size(s))
    rc = refill(s, err);
  if (rc < 0)
    return rc;
  if (s->avail_in >= 4 && (s->next_in[3] & 0xe0) != 0)
    return fail_read(s, err, "gzip header with a reserved flag set");
  isal_inflate_init(s->z);
  s->z->crc_flag = ISAL_GZIP;
  return 0;
}

int ar__source_open(const char *path, ar__source_t **out,
                    ar_trace_error_t *err) {
  *out = NULL;
  bool stdio = strcmp(path, "-") == 0;
  int fd = stdio ? fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 0)
                 : open(path, O_RDONLY | O_CLOEXEC);
  if (stdio) /* how messages name it, as arenactl's do */
    path = "standard input";
  if (fd < 0)
    return ar__trace_fail(err, AR_EIO, 0, "cannot open %s: %s", path,
                          strerror(errno));
  struct stat st;
  bool regular = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
  bool small = regular && st.st_size <= SMALL_FILE;
  ar__source_t *s = calloc(1, sizeof(*s));
  if (s == NULL ||
      (s->in = ar__big_alloc(small ? SMALL_IN_SIZE : IN_SIZE)) == NULL) {
    free(s);
    close(fd);
    return ar__trace_fail(err, AR_ENOMEM, 0, "out of memory for reading");
  }
  s->fd = fd;
  s->path = path;
  s->small = small;
  s->live = !regular;
  s->stop_fd = -1;
  s->next_in = s->in;
  int rc = fill_to(s, 2, err);
  if (rc == 0 && at_gzip_magic(s)) {
    s->gzip = true;
    s->z = ar__big_alloc(sizeof(*s->z));
    rc = s->z != NULL
             ? start_member(s, err)
             : ar__trace_fail(err, AR_ENOMEM, 0, "out of memory for reading");
  }
  if (rc < 0) {
    ar__source_close(s);
    return rc;
  }
  *out = s;
  return 0;
}

static int read_plain(ar__source_t *s, char *buf, size_t cap, size_t *got,
                      ar_trace_error_t *err) {
  int rc = fill_to(s, 1, err);
  if (rc < 0)
    return rc;
  size_t n = s->avail_in < cap ? s->avail_in : cap;
  memcpy(buf, s->next_in, n);
  s->next_in += n;
  s->avail_in -= n;
  *got = n;
  return 0;
}

/* Where one member ends: the end of the file, or another member. */
static int next_member(ar__source_t *s, ar_trace_error_t *err) {
  int rc = fill_to(s, 2, err);
  if (rc < 0)
    return rc;
  if (s->avail_in == 0) {
    s->done = true;
    return 0;
  }
  if (!at_gzip_magic(s))
    return fail_read(s, err, "data after the end of the gzip data");
  return start_member(s, err);
}

/* Inflates from the buffered input into out[0..*room), moving *out and
 * *room past what it wrote. ISA-L's own input and output pointers are set
 * for the call and read back after it; between calls the source's are the
 * ones that count. */
static int inflate_some(ar__source_t *s, uint8_t **out, size_t *room,
                        ar_trace_error_t *err) {
  struct inflate_state *z = s->z;
  z->next_in = s->next_in;
  z->avail_in = (uint32_t)s->avail_in; /* at most IN_SIZE */
  z->next_out = *out;
  z->avail_out = *room < UINT32_MAX ? (uint32_t)*room : UINT32_MAX;
  uint32_t before = z->avail_out;
  int zrc = isal_inflate(z);
  bool moved = z->next_in != s->next_in || z->avail_out != before;
  s->next_in = z->next_in;
  s->avail_in = z->avail_in;
  *room -= before - z->avail_out;
  *out = z->next_out;
  if (zrc < 0)
    return fail_read(s, err, inflate_error(zrc));
  if (!moved && z->block_state != ISAL_BLOCK_FINISH)
    return fail_read(s, err, "corrupt gzip data"); /* it is stuck */
  return 0;
}

static int read_gzip(ar__source_t *s, char *buf, size_t cap, size_t *got,
                     ar_trace_error_t *err) {
  uint8_t *out = (uint8_t *)buf;
  size_t room = cap;
  while (room > 0 && !s->done) {
    int rc;
    if (s->z->block_state == ISAL_BLOCK_FINISH) {
      /* A member has ended: hand over its text before waiting to learn
       * whether another one follows. */
      if (s->live && room < cap && s->avail_in < 2 && !s->eof)
        break;
      rc = next_member(s, err);
    } else if (s->avail_in == 0) {
      if (s->live && room < cap)
        break; /* hand over what there is before waiting for more */
      rc = refill(s, err);
      if (rc == 0 && s->eof)
        rc = fail_read(s, err, "truncated gzip data");
    } else {
      rc = inflate_some(s, &out, &room, err);
    }
    if (rc < 0)
      return rc;
  }
  *got = cap - room;
  return 0;
}

int ar__source_read(ar__source_t *s, char *buf, size_t cap, size_t *got,
                    ar_trace_error_t *err) {
  *got = 0;
  return s->gzip ? read_gzip(s, buf, cap, got, err)
                 : read_plain(s, buf, cap, got, err);
}

bool ar__source_small(const ar__source_t *s) { return s->small; }

bool ar__source_live(const ar__source_t *s) { return s->live; }

void ar__source_stop_on(ar__source_t *s, int fd) { s->stop_fd = fd; }

void ar__source_close(ar__source_t *s) {
  if (s == NULL)
    return;
  close(s->fd);
  ar__big_free(s->z, sizeof(*s->z));
  ar__big_free(s->in, in_size(s));
  free(s);
}
