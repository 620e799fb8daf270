/*
 * frame.h: message framing for arenad's byte stream, and the bounded byte
 * buffer that the daemon and the client library read and write it through.
 *
 * A frame is the standard varint-delimited protobuf stream: a base-128
 * varint holding the body's length L, then L bytes of body. It is what
 * Java's writeDelimitedTo and parseDelimitedFrom, Go's protodelim and the
 * other languages' delimited readers and writers produce and accept, so any
 * protobuf library can talk to arenad. This is the one place where a
 * frame's bytes are trusted or not: the decoder checks the declared length
 * against a limit before the caller allocates anything for the body, and
 * rejects a malformed prefix. It deals in bytes only: no I/O, no protobuf
 * types, nothing printed.
 *
 * The prefix must be the minimal encoding of L (no 0x80 0x00 for 0): every
 * standard writer emits it, a stream with another is garbage or hostile, and
 * keeping one encoding per length lets a fuzzer check decode against encode
 * byte for byte. A prefix of more than 10 bytes, or one whose value does not
 * fit in 64 bits, is malformed too.
 *
 * Nothing here is thread-safe: a buffer belongs to one thread at a time.
 */
#ifndef AR_FRAME_H
#define AR_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "ar/error.h"

/* The default limit on a frame's body, in bytes (prefix excluded). */
#define AR_FRAME_MAX_DEFAULT ((size_t)1 << 20)

/* The longest length prefix: a 64-bit value takes 10 varint bytes. */
#define AR_FRAME_PREFIX_MAX 10

/* What ar_frame_decode found, besides errors (which are negative). */
enum {
  AR_FRAME_PARTIAL = 0, /* more bytes are needed */
  AR_FRAME_COMPLETE = 1 /* a whole frame is in the buffer */
};

/* Where a frame lies, in offsets from the start of the decoded bytes. */
typedef struct ar_frame_s {
  size_t start; /* the body's first byte: the prefix's length */
  size_t end;   /* one past the body's last byte; the next frame starts here */
} ar_frame_t;

/* The number of bytes (1 to AR_FRAME_PREFIX_MAX) of the prefix of a body of
 * `len` bytes. */
size_t ar_frame_prefix_size(uint64_t len);

/* Writes the prefix of a body of `len` bytes to dst, which has room for
 * ar_frame_prefix_size(len) bytes (AR_FRAME_PREFIX_MAX always suffices).
 * Returns the number of bytes written. */
size_t ar_frame_encode(uint8_t *dst, uint64_t len);

/*
 * Looks for the frame at the start of buf[0..len), accepting a body of at
 * most `max` bytes. Reads only buf; allocates nothing. Returns:
 *
 *   AR_FRAME_COMPLETE  the whole frame is there: the body is
 *                      buf[out->start .. out->end), and the next frame, if
 *                      any, starts at buf + out->end;
 *   AR_FRAME_PARTIAL   more bytes are needed: buf must hold at least
 *                      out->end bytes before a new call can say more (the
 *                      whole frame's size once the prefix is in, len + 1
 *                      before; out->start is the prefix's length, or 0);
 *   AR_ELIMIT          the prefix declares a body over `max` bytes (known as
 *                      soon as the prefix is in, before any body byte);
 *   AR_EPROTO          the prefix is malformed: over 10 bytes, a value over
 *                      64 bits, or not the minimal encoding.
 *
 * *out is filled on the first two results and untouched on an error. After
 * an error the stream cannot be resynchronised: the caller drops it.
 */
int ar_frame_decode(const uint8_t *buf, size_t len, size_t max,
                    ar_frame_t *out);

/*
 * A growable byte buffer with a hard cap. Bytes are appended at the tail and
 * consumed at the head: a read buffer (read(2) into the spare room, decode
 * and consume frames) or a write queue (append frames, write(2) from the
 * head and consume what was written).
 *
 * All fields are read-only for users; change them only through the
 * functions below. The buffer owns `data`. Pointers into it stay valid
 * until the next call to ar_buf_reserve, ar_buf_append, ar_frame_append,
 * ar_buf_trim or ar_buf_destroy on it; ar_buf_commit and ar_buf_consume
 * never move the bytes.
 */
typedef struct ar_buf_s {
  uint8_t *data; /* cap bytes from the heap, or NULL when cap is 0 */
  size_t cap;    /* bytes allocated; never more than max */
  size_t head;   /* the first byte not yet consumed */
  size_t tail;   /* one past the last byte filled */
  size_t max;    /* the hard cap: ar_buf_init's, or ar_buf_raise_max's */
} ar_buf_t;

/* Makes b an empty buffer that will never hold more than `max` bytes.
 * Allocates nothing and cannot fail. */
void ar_buf_init(ar_buf_t *b, size_t max);

/* Raises b's cap to max; a max at or below the current cap changes
 * nothing. For a reader that must, for a while, hold more than it
 * usually would. */
void ar_buf_raise_max(ar_buf_t *b, size_t max);

/* Frees b's memory and leaves it empty (ar_buf_init may be called again).
 * The ar_buf_t itself belongs to the caller. */
void ar_buf_destroy(ar_buf_t *b);

/* The unconsumed bytes: ar_buf_len(b) of them from ar_buf_data(b) (NULL
 * while the buffer has no memory). */
static inline uint8_t *ar_buf_data(const ar_buf_t *b) {
  return b->data == NULL ? NULL : b->data + b->head;
}
static inline size_t ar_buf_len(const ar_buf_t *b) {
  return b->tail - b->head;
}

/* The room after the tail: ar_buf_spare_len(b) bytes from ar_buf_spare(b),
 * to be filled and then committed. */
static inline uint8_t *ar_buf_spare(const ar_buf_t *b) {
  return b->data == NULL ? NULL : b->data + b->tail;
}
static inline size_t ar_buf_spare_len(const ar_buf_t *b) {
  return b->cap - b->tail;
}

/*
 * Makes room for at least n more bytes after the tail, moving the
 * unconsumed bytes to the front or growing the memory (to at most max).
 * Returns 0; AR_ELIMIT when ar_buf_len(b) + n would pass max; AR_EINTERNAL
 * when memory cannot be allocated (the arena's AR_ENOMEM is kept for "the
 * arena is full"). On an error b is unchanged.
 */
int ar_buf_reserve(ar_buf_t *b, size_t n);

/* Counts n bytes written into the spare room as filled. n must be at most
 * ar_buf_spare_len(b). */
void ar_buf_commit(ar_buf_t *b, size_t n);

/* Drops n bytes from the head. An n over ar_buf_len(b) is clamped to it:
 * the buffer is emptied, head and tail stay in order, and nothing reports
 * it, so a caller that must know compares n with ar_buf_len(b) first. The
 * memory is kept; when the buffer becomes empty the next bytes go to its
 * front. */
void ar_buf_consume(ar_buf_t *b, size_t n);

/* Copies n bytes from p to the tail. Returns 0, or what ar_buf_reserve
 * returns, b then unchanged. */
int ar_buf_append(ar_buf_t *b, const void *p, size_t n);

/* Frees the memory of an empty buffer whose capacity is over `keep` bytes,
 * so that one large frame does not pin a large buffer for good. Does
 * nothing to a buffer that holds bytes. */
void ar_buf_trim(ar_buf_t *b, size_t keep);

/*
 * Appends a frame with a body of `len` bytes to b: writes the prefix,
 * reserves the body and stores in *body where its len bytes go. The body
 * counts as filled at once, so the caller writes all len bytes (for
 * example with protobuf_c_message_pack, len being its packed size) before
 * anything reads b. Returns 0, or what ar_buf_reserve returns, b then
 * unchanged and *body untouched.
 */
int ar_frame_append(ar_buf_t *b, size_t len, uint8_t **body);

#endif /* AR_FRAME_H */
