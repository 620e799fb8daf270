/*
 * seeds_client.c: make_seeds' scripts for fuzz_client (DIR/client/NAME,
 * in fuzz_client.h's format): library calls, each after the reply the
 * fake daemon writes for it. Every call once, a pipeline, errors from the
 * daemon, replies that break the handle, the daemon's last word and end
 * of stream, replies packed here and written raw, garbage in a frame and
 * descriptors with a reply.
 */
#include <stddef.h>
#include <stdint.h>

#include "ar/frame.h"
#include "fuzz_client.h"
#include "make_seeds.h"

/* This file's scratch: a seed writer resets it first. */
static out_t a;

/* A step: the call and its three argument bytes (see
 * fuzz_client_script.c's decode_call), then a reply of mode `reply`
 * (fuzz_client.h), 1 + `more` times with the bytes p[0..n): the raw reply,
 * or the fields of a built one in the order fuzz_client_script.c and
 * fuzz_client_replies.c read them (fewer read as 0, the harness's
 * defaults). */
static void step_more(out_t *o, uint8_t call, uint8_t a0, uint8_t a1,
                      uint8_t a2, uint8_t reply, unsigned more, const void *p,
                      size_t n) {
  uint8_t h[5] = {call, a0, a1, a2, (uint8_t)(reply | FC_REPLY_MORE(more))};
  put(o, h, 5);
  if ((reply & 7) == FC_REPLY_NONE || (reply & 7) == FC_REPLY_EOF)
    return;
  uint8_t len = (uint8_t)n;
  if (n > 255)
    die("a client reply of %zu bytes", n);
  for (unsigned i = 0; i <= more; i++) {
    put(o, &len, 1);
    if (n > 0)
      put(o, p, n);
  }
}

static void step(out_t *o, uint8_t call, uint8_t a0, uint8_t a1, uint8_t a2,
                 uint8_t reply, const void *p, size_t n) {
  step_more(o, call, a0, a1, a2, reply, 0, p, n);
}

/* A step with a well-formed reply of the harness's defaults. */
static void ok(out_t *o, uint8_t call, uint8_t a0, uint8_t a1, uint8_t a2) {
  step(o, call, a0, a1, a2, FC_REPLY_OK, NULL, 0);
}

/* A step whose reply is r, packed and framed here, written raw. */
static void raw_reply(out_t *o, uint8_t call, uint8_t a0, uint8_t a1,
                      uint8_t a2, const Arenad__Response *r) {
  uint8_t buf[256];
  size_t n = arenad__response__get_packed_size(r);
  if (n + AR_FRAME_PREFIX_MAX > sizeof(buf))
    die("a client reply of %zu bytes", n);
  size_t p = ar_frame_encode(buf, n);
  arenad__response__pack(r, buf + p);
  step(o, call, a0, a1, a2, FC_REPLY_RAW, buf, p + n);
}

/* a0 of a call on arena `name` ("a", "b", "c": 0 to 2) with k in its
 * other bits (a count, an inspection). */
static uint8_t on(unsigned name, unsigned k) {
  return (uint8_t)(name | k << 2);
}

void seeds_client(void) {
  uint8_t setup0 = 0;

  /* Every call once, each answered as a daemon would. */
  reset(&a);
  put(&a, &setup0, 1);
  ok(&a, FC_HELLO, 0, 0, 0);
  ok(&a, FC_PING, 0, 0, 0);
  step(&a, FC_LIST, 0, 0, 0, FC_REPLY_OK, (uint8_t[]){2}, 1);
  ok(&a, FC_ATTACH, on(0, 0), 0, 0); /* one memfd of 4 KiB */
  /* 64 bytes at 64; three blocks of 64 at 16, 32, 48 (one offset byte
   * each, after the count's) */
  step(&a, FC_ALLOC, on(0, 0), 8, 0, FC_REPLY_OK, (uint8_t[]){0, 4}, 2);
  step(&a, FC_ALLOC_N, on(0, 2), 8, 0, FC_REPLY_OK, (uint8_t[]){0, 1, 2, 3}, 4);
  /* three freed, the second's header overwritten */
  step(&a, FC_FREE_REPORT, on(0, 2), 0, 0, FC_REPLY_OK,
       (uint8_t[]){3, 3, 0, 1, 1}, 5);
  ok(&a, FC_FREE, on(0, 0), 0, 0);
  ok(&a, FC_FREE_N, on(1, 1), 0x81, 0);
  ok(&a, FC_FREE_EACH, on(1, 1), 0, 0);
  ok(&a, FC_RETAIN, on(0, 0), 1, 0);
  ok(&a, FC_RELEASE, on(0, 0), 1, 0);
  ok(&a, FC_TRANSFER, on(0, 0), 1, 7);
  ok(&a, FC_INSPECT, on(0, ARENAD__INSPECT_WHAT__INSPECT_BLOCKS), 0, 0);
  ok(&a, FC_CHECK, on(0, 0), 0, 0);
  ok(&a, FC_STATS, 0, 0, 0);
  ok(&a, FC_CREATE, on(2, 0), 0x12, 0);
  ok(&a, FC_DESTROY, on(2, 0), 1, 0);
  step(&a, FC_DETACH, on(0, 0), 0, 0, FC_REPLY_NONE, NULL, 0);
  write_file("client", "calls", &a);

  /* A pipeline within hello's window of 4: allocations, frees and pings
   * submitted, one past the window, replies collected in order. */
  reset(&a);
  put(&a, &setup0, 1);
  /* version 1, limits: 4 KiB frames, 16 blocks, 4 in flight */
  step(&a, FC_HELLO, 0, 0, 0, FC_REPLY_OK, (uint8_t[]){0, 0, 0, 3, 16, 4}, 6);
  ok(&a, FC_ATTACH, on(1, 0), 0, 0);
  step(&a, FC_SUBMIT_ALLOC, on(1, 2), 16, 1, FC_REPLY_NONE, NULL, 0);
  step(&a, FC_SUBMIT_PING, 0, 0, 2, FC_REPLY_NONE, NULL, 0);
  step(&a, FC_SUBMIT_FREE, on(1, 1), 0x81, 3, FC_REPLY_NONE, NULL, 0);
  step(&a, FC_SUBMIT_ALLOC, on(1, 0), 16, 4, FC_REPLY_NONE, NULL, 0);
  step(&a, FC_SUBMIT_PING, 0, 0, 5, FC_REPLY_NONE, NULL, 0);
  step_more(&a, FC_COLLECT, 0, 0, 0, FC_REPLY_OK, 3, NULL, 0);
  for (int i = 0; i < 3; i++)
    step(&a, FC_COLLECT, 0, 0, 0, FC_REPLY_NONE, NULL, 0);
  step(&a, FC_COLLECT, 0, 0, 0, FC_REPLY_NONE, NULL, 0); /* none left */
  step(&a, FC_SUBMIT_FREE, on(1, 2), 0, 6, FC_REPLY_NONE, NULL, 0);
  step(&a, FC_FLUSH, 0, 0, 0, FC_REPLY_NONE, NULL, 0);
  /* freed beside a failure, the first named overwritten */
  step(&a, FC_COLLECT, 0, 0, 0, FC_REPLY_OK,
       (uint8_t[]){2, 2, 1, 0, 1, 4, 1, 1, 0}, 9);
  write_file("client", "pipeline", &a);

  /* Errors from the daemon: a refused free with a status per offset, a
   * failed check, an unknown status, then hello's version mismatch. */
  reset(&a);
  put(&a, &setup0, 1);
  step(&a, FC_FREE_N, on(0, 2), 0, 0, FC_REPLY_STATUS,
       (uint8_t[]){0x81, 5, 1, 0, 1, 0, 4, 5, 5}, 9);
  step(&a, FC_CHECK, on(0, 0), 0, 0, FC_REPLY_OK, (uint8_t[]){1, 9, 0, 40}, 4);
  step(&a, FC_PING, 0, 0, 0, FC_REPLY_STATUS, (uint8_t[]){8}, 1);
  step(&a, FC_ALLOC, on(1, 0), 8, 0, FC_REPLY_STATUS, (uint8_t[]){2, 3}, 2);
  step(&a, FC_HELLO, 0, 0, 0, FC_REPLY_STATUS, (uint8_t[]){6, 10}, 2);
  ok(&a, FC_PING, 0, 0, 0);
  write_file("client", "status", &a);

  /* Replies that break the handle, one seed each: a wrong id, another
   * kind's body, no body; then calls on the broken handle. */
  static const char *const twists[] = {"twisted-id", "twisted-kind",
                                       "twisted-no-body"};
  static const uint8_t twist[] = {0, 3, 4};
  for (int i = 0; i < 3; i++) {
    reset(&a);
    put(&a, &setup0, 1);
    ok(&a, FC_PING, 0, 0, 0);
    step(&a, FC_LIST, 0, 0, 0, FC_REPLY_TWISTED, &twist[i], 1);
    ok(&a, FC_PING, 0, 0, 0);
    step(&a, FC_SUBMIT_PING, 0, 0, 0, FC_REPLY_NONE, NULL, 0);
    step(&a, FC_COLLECT, 0, 0, 0, FC_REPLY_NONE, NULL, 0);
    write_file("client", twists[i], &a);
  }

  /* The daemon's last word, then it closes both ways: the next send
   * fails, and the library finds the reason in what it has. */
  reset(&a);
  put(&a, &setup0, 1);
  ok(&a, FC_PING, 0, 0, 0);
  step(&a, FC_PING, 0, 0, 0, FC_REPLY_NONE, NULL, 0);
  /* (the ping waited for nothing: the stream ended there) */
  write_file("client", "eof", &a);
  reset(&a);
  put(&a, &setup0, 1);
  ok(&a, FC_PING, 0, 0, 0);
  step(&a, FC_SUBMIT_PING, 0, 0, 1, FC_REPLY_LAST_WORD, (uint8_t[]){5, 20}, 2);
  step(&a, FC_FLUSH, 0, 0, 0, FC_REPLY_EOF | FC_REPLY_FDS, NULL, 0);
  step(&a, FC_COLLECT, 0, 0, 0, FC_REPLY_NONE, NULL, 0);
  write_file("client", "last-word", &a);

  /* Replies packed here and written raw, on a non-blocking socket: hello
   * with a 4 KiB frame limit, an alloc of two blocks, then a frame over
   * that limit. */
  reset(&a);
  uint8_t nonblock = FC_SETUP_NONBLOCK;
  put(&a, &nonblock, 1);
  Arenad__Limits lim = ARENAD__LIMITS__INIT;
  lim.max_frame_bytes = 4096;
  lim.max_blocks_per_request = 16;
  lim.max_in_flight = 8;
  Arenad__HelloReply hb = ARENAD__HELLO_REPLY__INIT;
  hb.daemon_version = (char *)"0.5.0";
  hb.protocol_version = 1;
  hb.limits = &lim;
  hb.token = 0x1234;
  hb.connection_id = 3;
  hb.instance = 99;
  Arenad__Response r = ARENAD__RESPONSE__INIT;
  r.id = 1;
  r.body_case = ARENAD__RESPONSE__BODY_HELLO;
  r.hello = &hb;
  raw_reply(&a, FC_HELLO, 0, 0, 0, &r);
  uint64_t offs[2] = {16, 4112};
  Arenad__AllocReply ab = ARENAD__ALLOC_REPLY__INIT;
  ab.offsets = offs;
  ab.n_offsets = 2;
  r = (Arenad__Response)ARENAD__RESPONSE__INIT;
  r.id = 2;
  r.body_case = ARENAD__RESPONSE__BODY_ALLOC;
  r.alloc = &ab;
  raw_reply(&a, FC_ALLOC_N, on(0, 1), 8, 0, &r);
  uint8_t big[] = {0x81, 0x40}; /* 8193 bytes */
  step(&a, FC_PING, 0, 0, 0, FC_REPLY_RAW, big, sizeof(big));
  write_file("client", "raw", &a);

  /* Garbage in a frame, and descriptors with a ping's reply. */
  reset(&a);
  put(&a, &setup0, 1);
  uint8_t junk[] = {0x08, 0x01, 0xff, 0xff, 0xff};
  step(&a, FC_PING, 0, 0, 0, FC_REPLY_FRAMED, junk, sizeof(junk));
  write_file("client", "garbage", &a);
  reset(&a);
  put(&a, &setup0, 1);
  step(&a, FC_PING, 0, 0, 0, FC_REPLY_OK | FC_REPLY_FDS, (uint8_t[]){0}, 1);
  write_file("client", "fd-with-ping", &a);
}
