/*
 * fuzz_frame.c: a libFuzzer target for the frame decoder, the one place
 * where a frame's bytes are trusted or not (common/frame). The input is a
 * byte stream as a peer might send it; the target decodes frame after
 * frame, as the daemon's read loop does, and checks what the decoder
 * promises: a complete frame lies inside the input, its prefix is the
 * minimal encoding of its length (re-encoding gives the same bytes), its
 * length is within the limit, and a partial result asks for more bytes
 * than there are. It also feeds the same stream through a bounded buffer
 * in small pieces, which must find the same frames. Any broken promise
 * aborts, and the sanitizers catch any read outside the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ar/frame.h"

#define LIMIT 4096 /* a small limit, so the fuzzer reaches it */
#define MAX_FRAMES 1024

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Decodes frames from data[0..size); stores their ends in ends[] and
 * returns how many, and in *tail the decoder's last result. */
static size_t decode_all(const uint8_t *data, size_t size, size_t *ends,
                         int *tail) {
  size_t at = 0, count = 0;
  for (;;) {
    ar_frame_t f;
    int rc = ar_frame_decode(data + at, size - at, LIMIT, &f);
    *tail = rc;
    if (rc != AR_FRAME_COMPLETE) {
      if (rc == AR_FRAME_PARTIAL && f.end <= size - at)
        abort(); /* asked for no more bytes than it has */
      return count;
    }
    uint64_t len = f.end - f.start;
    uint8_t prefix[AR_FRAME_PREFIX_MAX];
    if (f.end > size - at || len > LIMIT ||
        ar_frame_encode(prefix, len) != f.start ||
        memcmp(prefix, data + at, f.start) != 0)
      abort();
    at += f.end;
    if (count == MAX_FRAMES)
      return count;
    ends[count++] = at;
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static size_t ends[MAX_FRAMES];
  int tail;
  size_t n = decode_all(data, size, ends, &tail);

  /* The same stream through a read buffer, a few bytes at a time. */
  ar_buf_t buf;
  ar_buf_init(&buf, LIMIT + AR_FRAME_PREFIX_MAX + 8); /* a frame + a piece */
  size_t fed = 0, seen = 0, consumed = 0;
  int rc = AR_FRAME_PARTIAL;
  while (fed < size && seen < n) {
    size_t piece = 1 + (data[fed] % 7);
    if (piece > size - fed)
      piece = size - fed;
    if (ar_buf_append(&buf, data + fed, piece) != 0)
      abort(); /* a frame within the limit and a piece always fit */
    fed += piece;
    ar_frame_t f;
    while (seen < n && (rc = ar_frame_decode(ar_buf_data(&buf),
                                             ar_buf_len(&buf), LIMIT, &f)) ==
                           AR_FRAME_COMPLETE) {
      consumed += f.end;
      if (consumed != ends[seen++])
        abort(); /* pieces must not change where frames end */
      ar_buf_consume(&buf, f.end);
    }
    if (rc < 0)
      abort(); /* the whole stream had a good frame here */
  }
  ar_buf_destroy(&buf);
  return 0;
}
