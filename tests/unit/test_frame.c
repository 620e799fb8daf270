/*
 * test_frame.c: the framing of arenad's byte stream (ar/frame.h): length
 * prefixes at every size boundary up to the limit and past it, frames
 * delivered byte by byte, garbage and non-minimal prefixes, many frames in
 * one buffer (pipelining), the bounded byte buffer, and a whole message
 * going through protobuf-c and the framing and back, garbage included.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "ar/error.h"
#include "ar/frame.h"
#include "arenad.pb-c.h"

/* rc must be want; prints both codes' names otherwise. */
#define assert_rc(rc, want)                                                    \
  do {                                                                         \
    int rc_ = (rc), want_ = (want);                                            \
    if (rc_ != want_)                                                          \
      fail_msg("%s = %d (%s), want %d (%s)", #rc, rc_, rc_ > 0 ? "COMPLETE"    \
               : rc_ == 0 ? "PARTIAL" : ar_err_name(rc_), want_,               \
               want_ > 0 ? "COMPLETE" : want_ == 0 ? "PARTIAL"                 \
               : ar_err_name(want_));                                          \
  } while (0)

#define LIMIT AR_FRAME_MAX_DEFAULT

/* Decodes buf, which must hold exactly one whole frame of `len` bytes. */
static void check_whole(const uint8_t *buf, size_t total, uint64_t len) {
  ar_frame_t f;
  assert_rc(ar_frame_decode(buf, total, LIMIT, &f), AR_FRAME_COMPLETE);
  assert_int_equal(f.start, ar_frame_prefix_size(len));
  assert_int_equal(f.end, total);
  assert_int_equal(f.end - f.start, len);
}

/* Prefix sizes at the 7-bit boundaries, and the encoding's bytes. */
static void test_prefix_sizes(void **state) {
  (void)state;
  static const struct {
    uint64_t len;
    size_t size;
    uint8_t bytes[AR_FRAME_PREFIX_MAX];
  } cases[] = {
      {0, 1, {0x00}},
      {1, 1, {0x01}},
      {127, 1, {0x7f}},
      {128, 2, {0x80, 0x01}},
      {300, 2, {0xac, 0x02}},
      {16383, 2, {0xff, 0x7f}},
      {16384, 3, {0x80, 0x80, 0x01}},
      {LIMIT, 3, {0x80, 0x80, 0x40}},
      {LIMIT + 1, 3, {0x81, 0x80, 0x40}},
      {UINT64_MAX, 10,
       {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    uint8_t out[AR_FRAME_PREFIX_MAX];
    memset(out, 0xee, sizeof(out));
    assert_int_equal(ar_frame_prefix_size(cases[i].len), cases[i].size);
    assert_int_equal(ar_frame_encode(out, cases[i].len), cases[i].size);
    assert_memory_equal(out, cases[i].bytes, cases[i].size);
  }
}

/* Whole frames of the boundary lengths, up to the limit, decode back; the
 * limit plus one is refused from its prefix alone. */
static void test_round_trip_lengths(void **state) {
  (void)state;
  static const uint64_t lens[] = {0, 1, 127, 128, 16383, 16384, LIMIT};
  uint8_t *buf = malloc(AR_FRAME_PREFIX_MAX + LIMIT + 1);
  assert_non_null(buf);

  for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
    uint64_t len = lens[i];
    size_t p = ar_frame_encode(buf, len);
    for (uint64_t j = 0; j < len; j++)
      buf[p + j] = (uint8_t)(j * 7 + i);
    check_whole(buf, p + len, len);

    /* One byte short is partial and says how much is needed. */
    ar_frame_t f;
    assert_rc(ar_frame_decode(buf, p + len - 1, LIMIT, &f), AR_FRAME_PARTIAL);
    assert_int_equal(f.start, len == 0 ? 0 : p); /* 0: prefix not in yet */
    assert_int_equal(f.end, p + len);

    /* The same frame against a limit one below its length. */
    if (len > 0)
      assert_rc(ar_frame_decode(buf, p + len, len - 1, &f), AR_ELIMIT);
  }

  /* limit + 1: refused with the prefix alone, and with the body there. */
  ar_frame_t f = {111, 222};
  size_t p = ar_frame_encode(buf, LIMIT + 1);
  assert_int_equal(p, 3);
  assert_rc(ar_frame_decode(buf, p, LIMIT, &f), AR_ELIMIT);
  assert_int_equal(f.start, 111); /* untouched on an error */
  assert_int_equal(f.end, 222);
  memset(buf + p, 0, LIMIT + 1);
  assert_rc(ar_frame_decode(buf, p + LIMIT + 1, LIMIT, &f), AR_ELIMIT);
  /* ...and accepted by a caller whose limit is larger. */
  assert_rc(ar_frame_decode(buf, p + LIMIT + 1, LIMIT + 1, &f),
            AR_FRAME_COMPLETE);
  assert_int_equal(f.end, p + LIMIT + 1);

  /* A limit of 0 lets through empty frames only. */
  buf[0] = 0x00;
  assert_rc(ar_frame_decode(buf, 1, 0, &f), AR_FRAME_COMPLETE);
  buf[0] = 0x01;
  assert_rc(ar_frame_decode(buf, 1, 0, &f), AR_ELIMIT);

  /* The largest 64-bit length is a valid prefix, and over any limit. */
  p = ar_frame_encode(buf, UINT64_MAX);
  assert_rc(ar_frame_decode(buf, p, SIZE_MAX, &f), AR_ELIMIT);
  free(buf);
}

/* An empty buffer, and every proper prefix of a prefix, need more bytes:
 * exactly one more each time, as out->end says. */
static void test_partial_prefix(void **state) {
  (void)state;
  uint8_t buf[AR_FRAME_PREFIX_MAX];
  ar_frame_t f;

  assert_rc(ar_frame_decode(NULL, 0, LIMIT, &f), AR_FRAME_PARTIAL);
  assert_int_equal(f.start, 0);
  assert_int_equal(f.end, 1);

  size_t p = ar_frame_encode(buf, UINT64_C(1) << 62);
  assert_int_equal(p, 9);
  for (size_t i = 0; i < p; i++) {
    assert_rc(ar_frame_decode(buf, i, SIZE_MAX, &f), AR_FRAME_PARTIAL);
    assert_int_equal(f.end, i + 1);
  }
}

/* Four frames (one empty, one with a 3-byte prefix) delivered one byte at
 * a time into a buffer: each completes at exactly its last byte. */
static void test_byte_by_byte(void **state) {
  (void)state;
  static const size_t lens[] = {200, 0, 16384, 5};
  uint8_t stream[4 * AR_FRAME_PREFIX_MAX + 200 + 16384 + 5];
  size_t ends[4], total = 0;

  for (size_t i = 0; i < 4; i++) {
    total += ar_frame_encode(stream + total, lens[i]);
    for (size_t j = 0; j < lens[i]; j++)
      stream[total++] = (uint8_t)(i + j);
    ends[i] = total;
  }

  ar_buf_t in;
  ar_buf_init(&in, 64 * 1024);
  size_t next = 0, consumed = 0;
  for (size_t k = 0; k < total; k++) {
    assert_rc(ar_buf_append(&in, &stream[k], 1), 0);
    ar_frame_t f;
    int rc;
    while ((rc = ar_frame_decode(ar_buf_data(&in), ar_buf_len(&in), LIMIT,
                                 &f)) == AR_FRAME_COMPLETE) {
      assert_true(next < 4);
      assert_int_equal(consumed + f.end, ends[next]);
      assert_int_equal(k + 1, ends[next]); /* completed by its last byte */
      assert_int_equal(f.end - f.start, lens[next]);
      const uint8_t *body = ar_buf_data(&in) + f.start;
      for (size_t j = 0; j < lens[next]; j++)
        assert_int_equal(body[j], (uint8_t)(next + j));
      ar_buf_consume(&in, f.end);
      consumed += f.end;
      next++;
    }
    assert_rc(rc, AR_FRAME_PARTIAL);
    /* What out->end asks for is never past the frame's true end. */
    if (next < 4)
      assert_true(consumed + f.end <= ends[next]);
  }
  assert_int_equal(next, 4);
  assert_int_equal(ar_buf_len(&in), 0);
  ar_buf_destroy(&in);
}

/* Malformed prefixes: too long, over 64 bits, not minimal. */
static void test_garbage_prefix(void **state) {
  (void)state;
  static const struct {
    size_t len;
    uint8_t bytes[12];
    int want;
  } cases[] = {
      /* eleven bytes: the tenth still continues */
      {11, {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x81, 0x00},
       AR_EPROTO},
      /* ten bytes of 0xff: refused at the tenth, whatever follows */
      {10, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
       AR_EPROTO},
      /* bit 64 set in the tenth byte */
      {10, {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02},
       AR_EPROTO},
      {10, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
       AR_EPROTO},
      /* non-minimal encodings of 0, 1 and 127 */
      {2, {0x80, 0x00}, AR_EPROTO},
      {2, {0x81, 0x00}, AR_EPROTO},
      {3, {0xff, 0x80, 0x00}, AR_EPROTO},
      {10, {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00},
       AR_EPROTO},
      /* minimal and valid, but over the limit */
      {10, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01},
       AR_ELIMIT},
      {4, {0x80, 0x80, 0x80, 0x01}, AR_ELIMIT},
      /* nine continuing bytes: not malformed yet */
      {9, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
       AR_FRAME_PARTIAL},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    ar_frame_t f = {0, 0};
    assert_rc(ar_frame_decode(cases[i].bytes, cases[i].len, LIMIT, &f),
              cases[i].want);
  }

  /* Every 1- and 2-byte input: decode agrees with encode. A valid prefix
   * re-encodes to the same bytes; nothing else is accepted. */
  for (unsigned a = 0; a < 256; a++) {
    for (unsigned b = 0; b < 256; b++) {
      uint8_t in[2] = {(uint8_t)a, (uint8_t)b}, re[AR_FRAME_PREFIX_MAX];
      ar_frame_t f;
      int rc = ar_frame_decode(in, 2, SIZE_MAX, &f);
      if (rc == AR_EPROTO) {
        assert_true(a & 0x80);
        assert_int_equal(b, 0);
        continue;
      }
      assert_true(rc == AR_FRAME_COMPLETE || rc == AR_FRAME_PARTIAL);
      if (f.start == 0) { /* both bytes continue: the prefix is not in */
        assert_true((a & 0x80) && (b & 0x80));
        assert_rc(rc, AR_FRAME_PARTIAL);
        continue;
      }
      uint64_t len = f.end - f.start;
      assert_int_equal(ar_frame_encode(re, len), f.start);
      assert_memory_equal(re, in, f.start);
    }
  }
}

/* Many frames in one buffer, as a pipelining client sends them, come out
 * in order with their bodies intact, whatever the read boundaries. */
static void test_pipelining(void **state) {
  (void)state;
  enum { N = 1000 };
  ar_buf_t out, in;
  ar_buf_init(&out, 4 * 1024 * 1024);
  ar_buf_init(&in, 4 * 1024 * 1024);
  srand(12345);

  size_t lens[N];
  for (size_t i = 0; i < N; i++) {
    lens[i] = (size_t)(i % 7 == 0 ? rand() % 20000 : rand() % 64);
    uint8_t *body = NULL;
    assert_rc(ar_frame_append(&out, lens[i], &body), 0);
    for (size_t j = 0; j < lens[i]; j++)
      body[j] = (uint8_t)(i ^ j);
  }

  /* Deliver the stream in reads of random sizes, as a socket might. */
  size_t off = 0, next = 0;
  while (next < N) {
    size_t left = ar_buf_len(&out) - off;
    size_t chunk = (size_t)rand() % 9000 + 1;
    if (chunk > left)
      chunk = left;
    assert_rc(ar_buf_reserve(&in, chunk), 0);
    assert_true(ar_buf_spare_len(&in) >= chunk);
    memcpy(ar_buf_spare(&in), ar_buf_data(&out) + off, chunk);
    ar_buf_commit(&in, chunk);
    off += chunk;

    ar_frame_t f;
    int rc;
    while ((rc = ar_frame_decode(ar_buf_data(&in), ar_buf_len(&in), LIMIT,
                                 &f)) == AR_FRAME_COMPLETE) {
      assert_int_equal(f.end - f.start, lens[next]);
      const uint8_t *body = ar_buf_data(&in) + f.start;
      for (size_t j = 0; j < lens[next]; j++)
        assert_int_equal(body[j], (uint8_t)(next ^ j));
      ar_buf_consume(&in, f.end);
      next++;
    }
    assert_rc(rc, AR_FRAME_PARTIAL);
  }
  assert_int_equal(off, ar_buf_len(&out));
  assert_int_equal(ar_buf_len(&in), 0);
  ar_buf_destroy(&out);
  ar_buf_destroy(&in);
}

/* The buffer: its hard cap (and raising it), compaction, consumption and
 * trimming. */
static void test_buffer(void **state) {
  (void)state;
  ar_buf_t b;
  ar_buf_init(&b, 1000);
  assert_null(ar_buf_data(&b));
  assert_int_equal(ar_buf_len(&b), 0);
  assert_rc(ar_buf_reserve(&b, 0), 0);
  assert_rc(ar_buf_append(&b, NULL, 0), 0);
  assert_null(b.data); /* nothing asked, nothing allocated */

  /* Over the cap: refused, unchanged. */
  assert_rc(ar_buf_reserve(&b, 1001), AR_ELIMIT);
  assert_rc(ar_buf_reserve(&b, SIZE_MAX), AR_ELIMIT);
  assert_null(b.data);

  uint8_t bytes[1000];
  for (size_t i = 0; i < sizeof(bytes); i++)
    bytes[i] = (uint8_t)i;
  assert_rc(ar_buf_append(&b, bytes, 600), 0);
  assert_true(b.cap >= 600 && b.cap <= 1000);
  assert_rc(ar_buf_append(&b, bytes + 600, 400), 0);
  assert_int_equal(b.cap, 1000);
  assert_int_equal(ar_buf_len(&b), 1000);
  assert_rc(ar_buf_append(&b, bytes, 1), AR_ELIMIT);
  assert_int_equal(ar_buf_len(&b), 1000);
  assert_memory_equal(ar_buf_data(&b), bytes, 1000);

  /* Consume some; the room comes back by moving the rest to the front. */
  uint8_t *mem = b.data;
  ar_buf_consume(&b, 300);
  assert_int_equal(ar_buf_len(&b), 700);
  assert_memory_equal(ar_buf_data(&b), bytes + 300, 700);
  assert_rc(ar_buf_reserve(&b, 301), AR_ELIMIT);
  assert_rc(ar_buf_reserve(&b, 300), 0);
  assert_ptr_equal(b.data, mem); /* compacted, not reallocated */
  assert_int_equal(b.head, 0);
  assert_memory_equal(ar_buf_data(&b), bytes + 300, 700);
  assert_int_equal(ar_buf_spare_len(&b), 300);

  /* Emptied: head and tail go back to the front, the memory stays. */
  ar_buf_consume(&b, 700);
  assert_int_equal(b.head, 0);
  assert_int_equal(b.tail, 0);
  assert_ptr_equal(b.data, mem);

  /* Trim keeps what is under `keep`, frees an empty buffer over it, and
   * never frees a buffer that holds bytes. */
  ar_buf_trim(&b, 1000);
  assert_ptr_equal(b.data, mem);
  assert_rc(ar_buf_append(&b, bytes, 1), 0);
  ar_buf_trim(&b, 0);
  assert_non_null(b.data);
  ar_buf_consume(&b, 1);
  ar_buf_trim(&b, 999);
  assert_null(b.data);
  assert_int_equal(b.cap, 0);
  assert_int_equal(b.max, 1000);

  /* A frame that does not fit leaves the buffer as it was. */
  uint8_t *body = NULL;
  assert_rc(ar_frame_append(&b, 998, &body), 0); /* 2-byte prefix */
  assert_int_equal(ar_buf_len(&b), 1000);
  body = (uint8_t *)&b;
  assert_rc(ar_frame_append(&b, 0, &body), AR_ELIMIT);
  assert_ptr_equal(body, (uint8_t *)&b);
  assert_int_equal(ar_buf_len(&b), 1000);
  assert_rc(ar_frame_append(&b, SIZE_MAX, &body), AR_ELIMIT);

  /* Raising the cap: full at 1000, it takes 500 more at 1500; a lower cap
   * changes nothing. */
  ar_buf_raise_max(&b, 1500);
  assert_int_equal(b.max, 1500);
  assert_rc(ar_buf_append(&b, bytes, 500), 0);
  assert_int_equal(ar_buf_len(&b), 1500);
  assert_rc(ar_buf_append(&b, bytes, 1), AR_ELIMIT);
  ar_buf_raise_max(&b, 1200);
  assert_int_equal(b.max, 1500);
  assert_memory_equal(ar_buf_data(&b) + 1000, bytes, 500);
  ar_buf_destroy(&b);
  ar_buf_destroy(&b); /* idempotent */
}

/* Consuming more than the buffer holds drops only what is there: head and
 * tail stay in order, the buffer is empty and still usable. */
static void test_buffer_consume_past_end(void **state) {
  (void)state;
  ar_buf_t b;
  ar_buf_init(&b, 100);
  const uint8_t bytes[10] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};

  /* Past the end of an empty buffer that has no memory yet. */
  ar_buf_consume(&b, 1);
  assert_int_equal(b.head, 0);
  assert_int_equal(b.tail, 0);
  assert_int_equal(ar_buf_len(&b), 0);

  /* Past the end of a buffer whose head is not at the front. */
  assert_rc(ar_buf_append(&b, bytes, 10), 0);
  ar_buf_consume(&b, 4);
  ar_buf_consume(&b, 7);
  assert_int_equal(b.head, 0);
  assert_int_equal(b.tail, 0);
  assert_int_equal(ar_buf_len(&b), 0);

  /* Far past it: no wrap-around either. */
  assert_rc(ar_buf_append(&b, bytes, 3), 0);
  ar_buf_consume(&b, SIZE_MAX);
  assert_int_equal(ar_buf_len(&b), 0);

  /* Still usable: the next bytes go to the front and read back whole. */
  assert_rc(ar_buf_append(&b, bytes, 10), 0);
  assert_int_equal(b.head, 0);
  assert_int_equal(ar_buf_len(&b), 10);
  assert_memory_equal(ar_buf_data(&b), bytes, 10);
  ar_buf_destroy(&b);
}

/* Packs msg as a frame into b. */
static void pack_frame(ar_buf_t *b, const ProtobufCMessage *msg) {
  size_t len = protobuf_c_message_get_packed_size(msg);
  uint8_t *body = NULL;
  assert_rc(ar_frame_append(b, len, &body), 0);
  assert_int_equal(protobuf_c_message_pack(msg, body), len);
}

/* Takes the next whole frame from b; returns its body, valid until b
 * changes, and its length in *len. */
static const uint8_t *take_frame(ar_buf_t *b, size_t *len) {
  ar_frame_t f;
  assert_rc(ar_frame_decode(ar_buf_data(b), ar_buf_len(b), LIMIT, &f),
            AR_FRAME_COMPLETE);
  const uint8_t *body = ar_buf_data(b) + f.start;
  *len = f.end - f.start;
  ar_buf_consume(b, f.end);
  return body;
}

/* A Request and a Response go through protobuf-c and the framing, back to
 * back in one buffer, and come out equal. */
static void test_protobuf_round_trip(void **state) {
  (void)state;
  ar_buf_t b;
  ar_buf_init(&b, 64 * 1024);

  Arenad__AllocRequest alloc = ARENAD__ALLOC_REQUEST__INIT;
  alloc.arena = "default";
  alloc.size = 100;
  alloc.alignment = 64;
  alloc.count = 3;
  alloc.detached = 1;
  Arenad__Request req = ARENAD__REQUEST__INIT;
  req.id = UINT64_MAX - 1;
  req.body_case = ARENAD__REQUEST__BODY_ALLOC;
  req.alloc = &alloc;
  pack_frame(&b, &req.base);

  uint64_t offsets[] = {16, 4112, UINT64_C(1) << 47};
  Arenad__AllocReply alloc_reply = ARENAD__ALLOC_REPLY__INIT;
  alloc_reply.n_offsets = 3;
  alloc_reply.offsets = offsets;
  Arenad__Response resp = ARENAD__RESPONSE__INIT;
  resp.id = req.id;
  resp.status = ARENAD__STATUS__STATUS_LIMIT_EXCEEDED;
  resp.message = "quota: 1024 bytes, 1000 in use";
  resp.body_case = ARENAD__RESPONSE__BODY_ALLOC;
  resp.alloc = &alloc_reply;
  pack_frame(&b, &resp.base);

  size_t len;
  const uint8_t *body = take_frame(&b, &len);
  Arenad__Request *r = arenad__request__unpack(NULL, len, body);
  assert_non_null(r);
  assert_int_equal(r->id, UINT64_MAX - 1);
  assert_int_equal(r->body_case, ARENAD__REQUEST__BODY_ALLOC);
  assert_string_equal(r->alloc->arena, "default");
  assert_int_equal(r->alloc->size, 100);
  assert_int_equal(r->alloc->alignment, 64);
  assert_int_equal(r->alloc->count, 3);
  assert_true(r->alloc->detached);
  arenad__request__free_unpacked(r, NULL);

  body = take_frame(&b, &len);
  Arenad__Response *p = arenad__response__unpack(NULL, len, body);
  assert_non_null(p);
  assert_int_equal(p->id, UINT64_MAX - 1);
  assert_int_equal(p->status, ARENAD__STATUS__STATUS_LIMIT_EXCEEDED);
  assert_string_equal(p->message, resp.message);
  assert_int_equal(p->body_case, ARENAD__RESPONSE__BODY_ALLOC);
  assert_int_equal(p->alloc->n_offsets, 3);
  assert_memory_equal(p->alloc->offsets, offsets, sizeof(offsets));
  arenad__response__free_unpacked(p, NULL);

  assert_int_equal(ar_buf_len(&b), 0);
  ar_buf_destroy(&b);
}

/* Bytes that frame fine but are not a Request unpack to NULL; a Request of
 * a kind this build does not know unpacks with no body. */
static void test_protobuf_garbage(void **state) {
  (void)state;
  static const struct {
    size_t len;
    uint8_t bytes[16];
  } bad[] = {
      {1, {0x08}},                   /* id: tag without its value */
      {2, {0x08, 0x80}},             /* id: truncated varint */
      {3, {0x82, 0x01, 0x05}},       /* hello: length 5, no bytes */
      {1, {0x00}},                   /* field number 0 */
      {2, {0x0f, 0x00}},             /* wire type 7 does not exist */
      {8, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
      {11, {0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
      /* alloc containing a size with a truncated varint */
      {5, {0x82, 0x03, 0x02, 0x10, 0x80}},
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    Arenad__Request *r = arenad__request__unpack(NULL, bad[i].len,
                                                 bad[i].bytes);
    if (r != NULL) {
      arenad__request__free_unpacked(r, NULL);
      fail_msg("garbage case %zu unpacked", i);
    }
  }

  /* id 7, then field 100 (unknown here), length-delimited and empty. */
  static const uint8_t newer[] = {0x08, 0x07, 0xa2, 0x06, 0x00};
  Arenad__Request *r = arenad__request__unpack(NULL, sizeof(newer), newer);
  assert_non_null(r);
  assert_int_equal(r->id, 7);
  assert_int_equal(r->body_case, ARENAD__REQUEST__BODY__NOT_SET);
  arenad__request__free_unpacked(r, NULL);

  /* Random bytes: unpack fails or succeeds, never misbehaves (the
   * sanitizers watch), and what succeeds is freed cleanly. */
  srand(777);
  uint8_t junk[64];
  for (int n = 0; n < 20000; n++) {
    size_t len = (size_t)rand() % sizeof(junk);
    for (size_t i = 0; i < len; i++)
      junk[i] = (uint8_t)rand();
    r = arenad__request__unpack(NULL, len, junk);
    if (r != NULL)
      arenad__request__free_unpacked(r, NULL);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_prefix_sizes),
      cmocka_unit_test(test_round_trip_lengths),
      cmocka_unit_test(test_partial_prefix),
      cmocka_unit_test(test_byte_by_byte),
      cmocka_unit_test(test_garbage_prefix),
      cmocka_unit_test(test_pipelining),
      cmocka_unit_test(test_buffer),
      cmocka_unit_test(test_buffer_consume_past_end),
      cmocka_unit_test(test_protobuf_round_trip),
      cmocka_unit_test(test_protobuf_garbage),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
