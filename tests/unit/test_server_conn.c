/*
 * test_server_conn.c: a connection's frame handling without a socket
 * (server/conn.c), on a daemon with one small arena: many requests in one
 * buffer answered in order, a frame delivered byte by byte, the three
 * protocol errors (one reply with id 0, then nothing more is read), flow
 * control by replies in flight and by unsent bytes, a page cut to fit the
 * frame limit, the descriptor of an attach queued at its frame's first
 * byte, a connection that yields when its turn is spent, a cut frame
 * that is not a stall while flow control pauses reading, unsent replies
 * that stall after send_timeout_ms (but not while the peer reads them out
 * of the socket, slowly), a version mismatch, the blocks of a
 * closed connection reclaimed (and its unsent replies no longer counted
 * in flight), requests over the working-memory cap refused as a limit,
 * and a check request on an arena whose records the test has broken (a
 * detached count, a record's size): CORRUPTION_DETECTED with the check's
 * body (not ok, the invariant, the offset), counted in
 * corruptions_detected and logged as check-failed (the daemon's standard
 * error caught in a file). Also a protocol error in frames the connection
 * kept in its own input buffer, decoded there (ad_conn_run) or read in
 * behind a cut frame from a socket pair: the buffer is left empty, not
 * consumed twice. And a retain or transfer of a block whose reference
 * count is full: LIMIT_EXCEEDED, counted in references_refused_limit.
 * With malloc, calloc and realloc wrapped to fail on demand: an arena
 * destroyed under a connection when there is no memory to note its name
 * as stale (the connection drops its list and stays open), an alloc
 * of detached blocks whose reply cannot be queued (nothing is allocated),
 * a connection closed for want of memory to queue a reply, read its input
 * or keep a cut frame (each counted in connections_closed_no_memory), but
 * only once the replies queued before are out (a detached alloc's among
 * them), and the replies its socket did not take kept without memory for
 * a copy (the connection takes over the staging buffer and stays open).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ar/error.h"
#include "ar/frame.h"
#include "conn.h"
#include "daemon.h"

/* ---- Memory that runs out ------------------------------------------------ */

/* Linked with -Wl,--wrap=malloc (and calloc and realloc): while `nomem` is
 * set, every allocation of the daemon's code (and of this file) fails. */
static bool nomem;
void *__real_malloc(size_t n);
void *__real_calloc(size_t k, size_t n);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t k, size_t n);
void *__wrap_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n) { return nomem ? NULL : __real_malloc(n); }
void *__wrap_calloc(size_t k, size_t n) {
  return nomem ? NULL : __real_calloc(k, n);
}
void *__wrap_realloc(void *p, size_t n) {
  return nomem ? NULL : __real_realloc(p, n);
}

typedef struct fixture_s {
  ad_config_t cfg;
  ad_daemon_t d;
  ad_conn_t *c;
} fixture_t;

static int setup(void **state) {
  static const char text[] = "[daemon]\n"
                             "max_frame_bytes = 4K\n"
                             "max_in_flight = 4\n"
                             "output_pause_bytes = 4K\n"
                             "output_limit_bytes = 64K\n"
                             "max_blocks_per_request = 8\n"
                             "[arena a]\n"
                             "size = 1M\n"
                             "mode = 0666\n";
  fixture_t *f = calloc(1, sizeof(*f));
  char err[256];
  ad_log_set_level(AD_LOG_ERROR);
  ad_config_init(&f->cfg);
  FILE *in = fmemopen((void *)text, strlen(text), "r");
  assert_int_equal(ad_config_load_stream(&f->cfg, in, "t", err, sizeof(err)),
                   0);
  fclose(in);
  assert_int_equal(ad_config_finish(&f->cfg, err, sizeof(err)), 0);
  assert_int_equal(ad_daemon_init(&f->d, &f->cfg, err, sizeof(err)), 0);
  f->c = ad_conn_new(&f->d, -1, 42, 1000, 1000);
  assert_non_null(f->c);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture_t *f = *state;
  ad_daemon_fini(&f->d); /* closes and frees the connection if still open */
  ad_config_fini(&f->cfg);
  free(f);
  return 0;
}

/* ---- Frames in and out ---------------------------------------------------- */

typedef struct bytes_s {
  uint8_t *p;
  size_t n;
} bytes_t;

static void add(bytes_t *b, Arenad__Request *req, uint64_t id) {
  req->id = id;
  size_t n = arenad__request__get_packed_size(req);
  b->p = realloc(b->p, b->n + AR_FRAME_PREFIX_MAX + n);
  b->n += ar_frame_encode(b->p + b->n, n);
  arenad__request__pack(req, b->p + b->n);
  b->n += n;
}

static void add_ping(bytes_t *b, uint64_t id) {
  Arenad__PingRequest ping = ARENAD__PING_REQUEST__INIT;
  Arenad__Request req = ARENAD__REQUEST__INIT;
  req.body_case = ARENAD__REQUEST__BODY_PING;
  req.ping = &ping;
  add(b, &req, id);
}

static void add_alloc_detached(bytes_t *b, uint64_t id, uint64_t size,
                               uint32_t n, bool detached) {
  Arenad__AllocRequest m = ARENAD__ALLOC_REQUEST__INIT;
  Arenad__Request req = ARENAD__REQUEST__INIT;
  m.arena = (char *)"a";
  m.size = size;
  m.count = n;
  m.detached = detached;
  req.body_case = ARENAD__REQUEST__BODY_ALLOC;
  req.alloc = &m;
  add(b, &req, id);
}

static void add_alloc(bytes_t *b, uint64_t id, uint64_t size, uint32_t n) {
  add_alloc_detached(b, id, size, n, false);
}

static void add_free(bytes_t *b, uint64_t id, const uint64_t *offsets,
                     size_t n) {
  Arenad__FreeRequest m = ARENAD__FREE_REQUEST__INIT;
  Arenad__Request req = ARENAD__REQUEST__INIT;
  m.arena = (char *)"a";
  m.offsets = (uint64_t *)offsets;
  m.n_offsets = n;
  req.body_case = ARENAD__REQUEST__BODY_FREE;
  req.free = &m;
  add(b, &req, id);
}

/* Takes every reply out of c's output (as if sent). Returns how many, and
 * stores up to max of them in out (each freed by the caller with
 * arenad__response__free_unpacked), the others freed here. */
static size_t take(ad_conn_t *c, Arenad__Response **out, size_t max) {
  ar_buf_t *o = ad_conn_out(c);
  const uint8_t *p = ar_buf_data(o);
  size_t len = ar_buf_len(o), off = 0, n = 0;
  while (off < len) {
    ar_frame_t f;
    assert_int_equal(ar_frame_decode(p + off, len - off, 1 << 20, &f),
                     AR_FRAME_COMPLETE);
    assert_true(f.end - f.start <= c->d->cfg->max_frame_bytes);
    Arenad__Response *r =
        arenad__response__unpack(NULL, f.end - f.start, p + off + f.start);
    assert_non_null(r);
    if (n < max)
      out[n] = r;
    else
      arenad__response__free_unpacked(r, NULL);
    n++;
    off += f.end;
  }
  ad_conn_sent(c, len);
  return n;
}

static void free_all(Arenad__Response **r, size_t n) {
  for (size_t i = 0; i < n; i++)
    arenad__response__free_unpacked(r[i], NULL);
}

/* ---- Tests ---------------------------------------------------------------- */

static void test_pipelined_in_order(void **state) {
  fixture_t *f = *state;
  bytes_t b = {NULL, 0};
  add_ping(&b, 1);
  add_alloc(&b, 2, 100, 2);
  add_ping(&b, 3);
  assert_int_equal(ad_conn_input(f->c, b.p, b.n), b.n);
  Arenad__Response *r[3];
  assert_int_equal(take(f->c, r, 3), 3);
  for (int i = 0; i < 3; i++) {
    assert_int_equal(r[i]->id, (uint64_t)i + 1);
    assert_int_equal(r[i]->status, 0);
  }
  assert_int_equal(r[1]->body_case, ARENAD__RESPONSE__BODY_ALLOC);
  assert_int_equal(r[1]->alloc->n_offsets, 2);
  assert_int_equal(f->c->holder.nholds, 2);
  free_all(r, 3);
  assert_int_equal(f->d.stats.frames_in, 3);
  assert_int_equal(f->d.stats.requests[ARENAD__REQUEST__BODY_PING], 2);
  assert_int_equal(f->d.stats.requests_in_flight, 0);
  free(b.p);
}

/* A turn that began long ago is spent: the connection answers the frame
 * at hand, yields with the rest unread, decodes nothing until its next
 * turn, and then goes on in order. */
static void test_turn_spent_yields(void **state) {
  fixture_t *f = *state;
  bytes_t b = {NULL, 0};
  add_ping(&b, 1);
  size_t first = b.n;
  add_alloc(&b, 2, 100, 1);
  size_t second = b.n;
  add_ping(&b, 3);

  ad_conn_begin_turn(f->c, 1); /* uv_hrtime is far past 1 ns */
  assert_int_equal(ad_conn_input(f->c, b.p, b.n), first);
  assert_true(f->c->yielded);
  assert_false(ad_conn_can_decode(f->c));
  assert_int_equal(f->d.nyielded, 1);
  assert_int_equal(f->d.stats.turns_yielded, 1);
  assert_int_equal(ad_conn_input(f->c, b.p + first, b.n - first), 0);
  Arenad__Response *r[3];
  assert_int_equal(take(f->c, r, 3), 1);
  assert_int_equal(r[0]->id, 1);
  free_all(r, 1);

  /* The next turn is spent too: one more frame. */
  ad_conn_end_yield(f->c);
  assert_int_equal(f->d.nyielded, 0);
  ad_conn_begin_turn(f->c, 1);
  assert_int_equal(ad_conn_input(f->c, b.p + first, b.n - first),
                   second - first);
  assert_true(f->c->yielded);
  assert_int_equal(f->d.stats.turns_yielded, 2);

  /* A turn with its budget: the rest. The last frame does not yield, as
   * nothing waits after it. */
  ad_conn_end_yield(f->c);
  ad_conn_begin_turn(f->c, uv_hrtime());
  assert_int_equal(ad_conn_input(f->c, b.p + second, b.n - second),
                   b.n - second);
  assert_false(f->c->yielded);
  assert_int_equal(f->d.stats.turns_yielded, 2);
  assert_int_equal(take(f->c, r, 3), 2);
  assert_int_equal(r[0]->id, 2);
  assert_int_equal(r[0]->alloc->n_offsets, 1);
  assert_int_equal(r[1]->id, 3);
  free_all(r, 2);

  /* A close ends a yield. */
  ad_conn_begin_turn(f->c, 1);
  bytes_t two = {NULL, 0};
  add_ping(&two, 4);
  add_ping(&two, 5);
  assert_true(ad_conn_input(f->c, two.p, two.n) < two.n);
  assert_int_equal(f->d.nyielded, 1);
  ad_conn_close(f->c, "test");
  assert_false(f->c->yielded);
  assert_int_equal(f->d.nyielded, 0);
  ad_conn_free(f->c); /* never started: the test frees it */
  free(two.p);
  free(b.p);
}

/* turn_budget_us = 0 is no budget, and a connection no one began a turn
 * for (a test's) has none either. */
static void test_no_budget_no_yield(void **state) {
  fixture_t *f = *state;
  bytes_t b = {NULL, 0};
  add_ping(&b, 1);
  add_ping(&b, 2);
  assert_int_equal(ad_conn_input(f->c, b.p, b.n), b.n);
  f->cfg.turn_budget_us = 0;
  ad_conn_begin_turn(f->c, 1);
  assert_int_equal(ad_conn_input(f->c, b.p, b.n), b.n);
  assert_false(f->c->yielded);
  assert_int_equal(f->d.stats.turns_yielded, 0);
  Arenad__Response *r[4];
  assert_int_equal(take(f->c, r, 4), 4);
  free_all(r, 4);
  free(b.p);
}

/* A cut frame is not a stall while flow control stops the daemon reading
 * the connection (the rest may wait in the socket), and is one once it
 * reads again. */
static void test_paused_frame_not_stalled(void **state) {
  fixture_t *f = *state;
  bytes_t b = {NULL, 0};
  for (uint64_t i = 1; i <= 4; i++) /* max_in_flight replies, unread */
    add_ping(&b, i);
  assert_int_equal(ad_conn_input(f->c, b.p, b.n), b.n);
  assert_false(ad_conn_can_decode(f->c));
  bytes_t cut = {NULL, 0};
  add_alloc(&cut, 5, 100, 1);
  assert_int_equal(ar_buf_append(&f->c->rbuf, cut.p, cut.n - 1), 0);
  f->c->partial_ms = 0;
  uint64_t late = f->cfg.frame_timeout_ms;
  assert_false(ad_conn_stalled(f->c, late));

  Arenad__Response *r[4];
  assert_int_equal(take(f->c, r, 4), 4); /* the output drains */
  free_all(r, 4);
  assert_true(ad_conn_can_decode(f->c));
  assert_true(ad_conn_stalled(f->c, late));
  assert_false(ad_conn_stalled(f->c, late - 1));
  free(cut.p);
  free(b.p);
}

/* Unsent replies stall once send_timeout_ms passes with none taken;
 * bytes taken start the time over, and no output is no stall. */
static void test_send_stalled(void **state) {
  fixture_t *f = *state;
  uint64_t limit = f->cfg.send_timeout_ms;
  bytes_t b = {NULL, 0};
  add_ping(&b, 1);
  assert_int_equal(ad_conn_input(f->c, b.p, b.n), b.n);
  uint64_t t0 = f->c->out_moved_ms;
  assert_false(ad_conn_send_stalled(f->c, t0 + limit - 1));
  assert_true(ad_conn_send_stalled(f->c, t0 + limit));
  f->c->out_moved_ms = 0; /* as if nothing moved since the clock's start */
  assert_true(ad_conn_send_stalled(f->c, t0 + limit - 1));
  ad_conn_sent(f->c, 1); /* one byte taken, now: the time starts over */
  assert_false(ad_conn_send_stalled(f->c, t0 + limit - 1));
  ad_conn_sent(f->c, ar_buf_len(ad_conn_out(f->c))); /* the rest */
  assert_int_equal(f->c->out_sent, f->c->out_total);
  assert_false(ad_conn_send_stalled(f->c, UINT64_MAX));
  free(b.p);
}

/* A peer that reads its replies slowly takes them out of the socket
 * while the daemon, which writes again only once the socket has room for
 * more, sends none: those reads start the time over too, as the sweep
 * sees them (ad_conn_peer_check). A peer that reads nothing stays
 * stalled. */
static void test_send_stalled_slow_reader(void **state) {
  fixture_t *f = *state;
  uint64_t limit = f->cfg.send_timeout_ms;
  int sv[2];
  assert_int_equal(
      socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv),
      0);
  static uint8_t fill[4096]; /* earlier replies, in the socket, unread */
  while (send(sv[0], fill, sizeof(fill), MSG_DONTWAIT) > 0)
    ;
  assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
  ad_conn_t *c = ad_conn_new(&f->d, sv[0], 43, 1000, 1000); /* owns sv[0] */
  assert_non_null(c);
  bytes_t b = {NULL, 0};
  add_ping(&b, 1);
  assert_int_equal(ad_conn_input(c, b.p, b.n), b.n);
  ad_conn_run(c); /* the socket takes none of the reply */
  assert_true(c->out_sent < c->out_total);

  uint64_t t0 = ad_daemon_now_ms();
  c->out_moved_ms = t0 - limit;
  ad_conn_peer_check(c);
  ad_conn_peer_check(c);
  assert_true(ad_conn_send_stalled(c, t0)); /* nothing read */
  assert_int_equal(recv(sv[1], fill, sizeof(fill), 0), (ssize_t)sizeof(fill));
  ad_conn_peer_check(c);
  uint64_t t1 = ad_daemon_now_ms();
  assert_false(ad_conn_send_stalled(c, t1));
  assert_true(ad_conn_send_stalled(c, t1 + limit));
  assert_true(c->out_sent < c->out_total); /* the daemon still sent none */
  close(sv[1]);
  free(b.p); /* the fixture's teardown closes c */
}

static void test_byte_by_byte(void **state) {
  fixture_t *f = *state;
  bytes_t b = {NULL, 0};
  add_alloc(&b, 7, 64, 1);
  /* The caller keeps what was not used and offers it again with more. */
  for (size_t i = 1; i < b.n; i++)
    assert_int_equal(ad_conn_input(f->c, b.p, i), 0);
  assert_int_equal(ad_conn_input(f->c, b.p, b.n), b.n);
  Arenad__Response *r;
  assert_int_equal(take(f->c, &r, 1), 1);
  assert_int_equal(r->id, 7);
  assert_int_equal(r->status, 0);
  arenad__response__free_unpacked(r, NULL);
  free(b.p);
}

/* bytes after a good ping: one reply to the ping, one error reply with id
 * 0 and `status`, every byte used, nothing more decoded. */
static void protocol_error(fixture_t *f, const uint8_t *bad, size_t n,
                           int status) {
  bytes_t b = {NULL, 0};
  add_ping(&b, 1);
  b.p = realloc(b.p, b.n + n);
  memcpy(b.p + b.n, bad, n);
  b.n += n;
  size_t good = b.n;
  add_ping(&b, 2); /* never answered */
  assert_int_equal(ad_conn_input(f->c, b.p, b.n), b.n);
  assert_true(f->c->close_after_reply);
  assert_false(ad_conn_can_decode(f->c));
  Arenad__Response *r[3];
  assert_int_equal(take(f->c, r, 3), 2);
  assert_int_equal(r[0]->id, 1);
  assert_int_equal(r[1]->id, 0);
  assert_int_equal(r[1]->status, status);
  assert_int_equal(r[1]->body_case, ARENAD__RESPONSE__BODY__NOT_SET);
  free_all(r, 2);
  assert_int_equal(f->d.stats.connections_closed_protocol, 1);
  (void)good;
  free(b.p);
}

static void test_frame_over_limit(void **state) {
  fixture_t *f = *state;
  uint8_t p[AR_FRAME_PREFIX_MAX];
  size_t n = ar_frame_encode(p, 4097);
  protocol_error(f, p, n, ARENAD__STATUS__STATUS_LIMIT_EXCEEDED);
  assert_int_equal(f->d.stats.frames_over_limit, 1);
}

static void test_malformed_prefix(void **state) {
  fixture_t *f = *state;
  static const uint8_t p[] = {0x80, 0x00};
  protocol_error(f, p, sizeof(p), ARENAD__STATUS__STATUS_INVALID_ARGUMENT);
  assert_int_equal(f->d.stats.frames_malformed, 1);
}

static void test_not_a_request(void **state) {
  fixture_t *f = *state;
  static const uint8_t p[] = {3, 0x0f, 0x01, 0x02};
  protocol_error(f, p, sizeof(p), ARENAD__STATUS__STATUS_INVALID_ARGUMENT);
  assert_int_equal(f->d.stats.frames_unparsable, 1);
}

/* A ping, a malformed prefix and a ping that is never answered. */
static void add_ping_bad_ping(bytes_t *b) {
  static const uint8_t bad[] = {0x80, 0x00};
  add_ping(b, 1);
  b->p = realloc(b->p, b->n + sizeof(bad));
  memcpy(b->p + b->n, bad, sizeof(bad));
  b->n += sizeof(bad);
  add_ping(b, 2);
}

/* The ping's reply and the protocol error's, in c's output. */
static void assert_ping_then_error(ad_conn_t *c) {
  Arenad__Response *r[3];
  assert_int_equal(take(c, r, 3), 2);
  assert_int_equal(r[0]->id, 1);
  assert_int_equal(r[1]->id, 0);
  assert_int_equal(r[1]->status, ARENAD__STATUS__STATUS_INVALID_ARGUMENT);
  free_all(r, 2);
}

/* A protocol error in frames the connection kept in its own input buffer
 * (held back by flow control or a yield): ad_conn_run answers them from
 * rbuf, and rbuf is dropped once, not twice (its head past its tail, its
 * length near SIZE_MAX). */
static void test_error_in_rbuf(void **state) {
  fixture_t *f = *state;
  bytes_t b = {NULL, 0};
  add_ping_bad_ping(&b);
  assert_int_equal(ar_buf_append(&f->c->rbuf, b.p, b.n), 0);
  ad_conn_run(f->c); /* fd -1: nothing is sent, nothing closes */
  assert_true(f->c->close_after_reply);
  assert_false(f->c->closing);
  assert_int_equal(ar_buf_len(&f->c->rbuf), 0);
  assert_ping_then_error(f->c);
  assert_int_equal(f->d.stats.frames_malformed, 1);
  free(b.p);
}

/* The same when the bytes are read from a socket after the beginning of a
 * cut frame (conn_io.c reads them into rbuf, behind it). The socket's
 * sending side is full, so that the replies stay and the connection stays
 * open to be looked at. */
static void test_error_read_into_rbuf(void **state) {
  fixture_t *f = *state;
  int sv[2];
  assert_int_equal(
      socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv),
      0);
  static const uint8_t fill[4096];
  while (send(sv[0], fill, sizeof(fill), MSG_DONTWAIT) > 0)
    ;
  assert_true(errno == EAGAIN || errno == EWOULDBLOCK);

  ad_conn_t *c = ad_conn_new(&f->d, sv[0], 43, 1000, 1000); /* owns sv[0] */
  assert_non_null(c);
  assert_int_equal(ad_conn_start(c), 0);
  bytes_t b = {NULL, 0};
  add_ping_bad_ping(&b);
  assert_int_equal(ar_buf_append(&c->rbuf, b.p, 1), 0); /* the cut frame */
  assert_int_equal(send(sv[1], b.p + 1, b.n - 1, 0), (ssize_t)(b.n - 1));
  uv_run(&f->d.loop, UV_RUN_NOWAIT); /* one read, and the answers */
  assert_true(c->close_after_reply);
  assert_false(c->closing);
  assert_int_equal(c->bytes_in, b.n - 1);
  assert_int_equal(ar_buf_len(&c->rbuf), 0);
  assert_ping_then_error(c);
  close(sv[1]);
  free(b.p); /* the fixture's teardown closes c */
}

/* No more than max_in_flight (4) replies wait; the rest waits for them. */
static void test_in_flight_limit(void **state) {
  fixture_t *f = *state;
  bytes_t b = {NULL, 0};
  for (int i = 1; i <= 10; i++)
    add_ping(&b, (uint64_t)i);
  size_t used = ad_conn_input(f->c, b.p, b.n);
  assert_true(used < b.n);
  assert_false(ad_conn_can_decode(f->c));
  assert_ptr_equal(ad_conn_pause_counter(f->c),
                   &f->d.stats.in_flight_throttled);
  assert_int_equal(f->c->inflight, 4);
  assert_int_equal(f->d.stats.requests_in_flight, 4);
  Arenad__Response *r[10];
  assert_int_equal(take(f->c, r, 10), 4);
  free_all(r, 4);
  assert_true(ad_conn_can_decode(f->c)); /* drained: go on */
  used += ad_conn_input(f->c, b.p + used, b.n - used);
  assert_int_equal(take(f->c, r, 10), 4);
  assert_int_equal(r[0]->id, 5);
  free_all(r, 4);
  used += ad_conn_input(f->c, b.p + used, b.n - used);
  assert_int_equal(used, b.n);
  assert_int_equal(take(f->c, r, 10), 2);
  assert_int_equal(r[1]->id, 10);
  free_all(r, 2);
  free(b.p);
}

/* Says hello with a long name (so that every holder in a page is large),
 * then allocates 64 blocks (eight requests of 8, drained between). */
static void fill_blocks(fixture_t *f) {
  bytes_t b = {NULL, 0};
  Arenad__HelloRequest m = ARENAD__HELLO_REQUEST__INIT;
  Arenad__Request req = ARENAD__REQUEST__INIT;
  m.protocol_version = 1;
  m.client_name =
      (char *)"a client with a name of sixty characters, for large pages";
  req.body_case = ARENAD__REQUEST__BODY_HELLO;
  req.hello = &m;
  add(&b, &req, 99);
  for (int i = 0; i < 8; i++)
    add_alloc(&b, (uint64_t)i + 1, 16, 8);
  size_t used = 0;
  while (used < b.n) {
    used += ad_conn_input(f->c, b.p + used, b.n - used);
    take(f->c, NULL, 0);
  }
  free(b.p);
  assert_int_equal(f->c->holder.nholds, 64);
}

static void add_inspect(bytes_t *b, uint64_t id, uint64_t cursor) {
  Arenad__InspectRequest m = ARENAD__INSPECT_REQUEST__INIT;
  Arenad__Request req = ARENAD__REQUEST__INIT;
  m.arena = (char *)"a";
  m.what = ARENAD__INSPECT_WHAT__INSPECT_BLOCKS;
  m.cursor = cursor;
  m.limit = 1000;
  req.body_case = ARENAD__REQUEST__BODY_INSPECT;
  req.inspect = &m;
  add(b, &req, id);
}

/* Unsent bytes past output_pause_bytes (4K) stop decoding too, before the
 * in-flight limit (4) is reached. */
static void test_output_pause(void **state) {
  fixture_t *f = *state;
  fill_blocks(f);
  bytes_t b = {NULL, 0};
  for (int i = 0; i < 3; i++)
    add_inspect(&b, 10 + (uint64_t)i, 0); /* each reply near 4K */
  size_t used = ad_conn_input(f->c, b.p, b.n);
  assert_true(used < b.n);
  assert_false(ad_conn_can_decode(f->c));
  assert_ptr_equal(ad_conn_pause_counter(f->c), &f->d.stats.output_throttled);
  assert_true(f->c->inflight < 4);
  assert_true(f->c->out_total - f->c->out_sent >= 4096);
  Arenad__Response *r[4];
  size_t first = take(f->c, r, 4);
  assert_true(first >= 1 && first < 3);
  assert_int_equal(r[0]->id, 10);
  free_all(r, first);
  used += ad_conn_input(f->c, b.p + used, b.n - used); /* drained: go on */
  assert_int_equal(used, b.n);
  size_t rest = take(f->c, r, 4);
  assert_int_equal(first + rest, 3);
  assert_int_equal(r[rest - 1]->id, 12);
  free_all(r, rest);
  free(b.p);
}

/* A page larger than the frame limit is cut, and the cursor says where
 * the next one starts. */
static void test_page_fits_frame(void **state) {
  fixture_t *f = *state;
  fill_blocks(f);
  uint64_t cursor = 0, covered = 0;
  int pages = 0;
  while (cursor < (1u << 20)) {
    bytes_t b = {NULL, 0};
    add_inspect(&b, 100, cursor);
    assert_int_equal(ad_conn_input(f->c, b.p, b.n), b.n);
    Arenad__Response *r;
    assert_int_equal(take(f->c, &r, 1), 1); /* take checks the frame size */
    assert_int_equal(r->status, 0);
    for (size_t i = 0; i < r->inspect->n_extents; i++) {
      assert_int_equal(r->inspect->extents[i]->start, covered);
      covered += r->inspect->extents[i]->size;
    }
    cursor = r->inspect->next_cursor;
    arenad__response__free_unpacked(r, NULL);
    free(b.p);
    pages++;
  }
  assert_int_equal(covered, 1u << 20);
  assert_true(pages >= 2); /* 65 extents with holders do not fit in 4K */
  assert_true(f->d.stats.pages_cut >= 1);
  assert_true(f->d.stats.pages_cut < (uint64_t)pages);
}

/* The per-request working memory is capped (32 x max_frame_bytes, at
 * least 16 MiB); the tests lower the cap of their daemon so that a small
 * frame reaches it. A frame that unpacks into more than the cap (here a
 * ping followed by a thousand unknown fields) is refused as a limit, not
 * as garbage, and counted. */
static void test_unpack_over_scratch(void **state) {
  fixture_t *f = *state;
  f->d.scratch.max = 4096;
  uint8_t bad[AR_FRAME_PREFIX_MAX + 3000];
  uint8_t *body = bad + AR_FRAME_PREFIX_MAX;
  size_t n = 0;
  while (n + 3 <= 3000) { /* field 1000, varint 1: bytes c0 3e 01 */
    body[n++] = 0xc0;
    body[n++] = 0x3e;
    body[n++] = 0x01;
  }
  uint8_t prefix[AR_FRAME_PREFIX_MAX];
  size_t k = ar_frame_encode(prefix, n);
  memmove(bad + k, body, n);
  memcpy(bad, prefix, k);
  protocol_error(f, bad, k + n, ARENAD__STATUS__STATUS_LIMIT_EXCEEDED);
  assert_int_equal(f->d.stats.scratch_exhausted, 1);
  assert_int_equal(f->d.stats.frames_unparsable, 0);
}

/* A request whose reply does not fit in the working memory (a page of 65
 * extents with holders, under a cap of 2 KiB) gets LIMIT_EXCEEDED with a
 * sentence, counted; the connection goes on. */
static void test_reply_over_scratch(void **state) {
  fixture_t *f = *state;
  fill_blocks(f);
  f->d.scratch.max = 2048;
  bytes_t b = {NULL, 0};
  add_inspect(&b, 7, 0);
  add_ping(&b, 8);
  assert_int_equal(ad_conn_input(f->c, b.p, b.n), b.n);
  Arenad__Response *r[2];
  assert_int_equal(take(f->c, r, 2), 2);
  assert_int_equal(r[0]->id, 7);
  assert_int_equal(r[0]->status, ARENAD__STATUS__STATUS_LIMIT_EXCEEDED);
  assert_non_null(strstr(r[0]->message, "working memory"));
  assert_int_equal(r[0]->body_case, ARENAD__RESPONSE__BODY__NOT_SET);
  assert_int_equal(r[1]->id, 8);
  assert_int_equal(r[1]->status, 0);
  free_all(r, 2);
  assert_int_equal(f->d.stats.scratch_exhausted, 1);
  assert_int_equal(f->d.stats.errors[ARENAD__STATUS__STATUS_INTERNAL], 0);
  free(b.p);
}

/* A client name of 64 bytes is kept whole; a longer one is refused, with
 * nothing changed, and the connection may hello again. */
static void test_hello_name_limit(void **state) {
  fixture_t *f = *state;
  char name[66];
  memset(name, 'n', 65);
  name[65] = '\0';
  Arenad__HelloRequest m = ARENAD__HELLO_REQUEST__INIT;
  Arenad__Request req = ARENAD__REQUEST__INIT;
  m.protocol_version = 1;
  m.client_name = name;
  req.body_case = ARENAD__REQUEST__BODY_HELLO;
  req.hello = &m;
  bytes_t b = {NULL, 0};
  add(&b, &req, 1);
  name[64] = '\0';
  add(&b, &req, 2);
  assert_int_equal(ad_conn_input(f->c, b.p, b.n), b.n);
  free(b.p);
  Arenad__Response *r[2];
  assert_int_equal(take(f->c, r, 2), 2);
  assert_int_equal(r[0]->status, ARENAD__STATUS__STATUS_INVALID_ARGUMENT);
  assert_non_null(strstr(r[0]->message, "over 64 bytes"));
  assert_int_equal(r[0]->body_case, ARENAD__RESPONSE__BODY__NOT_SET);
  assert_int_equal(r[1]->status, 0);
  free_all(r, 2);
  assert_string_equal(f->c->name, name);
  assert_true(f->c->hello_done);
}

/* create_arena under every cap from too small to unpack to enough: each
 * attempt either creates the arena and says so, or refuses and leaves no
 * arena behind (none half made). */
static void test_create_all_or_nothing(void **state) {
  fixture_t *f = *state;
  Arenad__CreateArenaRequest m = ARENAD__CREATE_ARENA_REQUEST__INIT;
  Arenad__Request req = ARENAD__REQUEST__INIT;
  m.name = (char *)"made";
  m.size = 4096;
  m.policy = ARENAD__POLICY__POLICY_FIRST;
  req.body_case = ARENAD__REQUEST__BODY_CREATE_ARENA;
  req.create_arena = &m;
  ad_conn_close(f->c, "test"); /* an admin's connection: the daemon's uid */
  ad_conn_free(f->c);
  f->c = ad_conn_new(&f->d, -1, 42, f->d.uid, f->d.uid);
  assert_non_null(f->c);
  int refused = 0;
  for (size_t cap = 64;; cap += 16) {
    assert_true(cap < 65536);
    f->d.scratch.max = cap;
    bytes_t b = {NULL, 0};
    add(&b, &req, cap);
    size_t used = ad_conn_input(f->c, b.p, b.n);
    free(b.p);
    if (f->c->close_after_reply) { /* too small even to unpack */
      take(f->c, NULL, 0);
      assert_null(ad_daemon_arena(&f->d, "made"));
      ad_conn_close(f->c, "test");
      ad_conn_free(f->c);
      f->c = ad_conn_new(&f->d, -1, 42, f->d.uid, f->d.uid);
      assert_non_null(f->c);
      refused++;
      continue;
    }
    assert_int_equal(used, b.n);
    Arenad__Response *r;
    assert_int_equal(take(f->c, &r, 1), 1);
    bool made = ad_daemon_arena(&f->d, "made") != NULL;
    if (r->status != 0) {
      assert_int_equal(r->status, ARENAD__STATUS__STATUS_LIMIT_EXCEEDED);
      assert_false(made);
      refused++;
    } else {
      assert_true(made);
      assert_string_equal(r->create_arena->arena->name, "made");
    }
    arenad__response__free_unpacked(r, NULL);
    if (made)
      break;
  }
  assert_true(refused > 3);
}

static void add_attach(bytes_t *b, uint64_t id) {
  Arenad__AttachRequest m = ARENAD__ATTACH_REQUEST__INIT;
  Arenad__Request req = ARENAD__REQUEST__INIT;
  m.arena = (char *)"a";
  req.body_case = ARENAD__REQUEST__BODY_ATTACH;
  req.attach = &m;
  add(b, &req, id);
}

static void test_attach_queues_fd(void **state) {
  fixture_t *f = *state;
  bytes_t b = {NULL, 0};
  add_ping(&b, 1);
  add_attach(&b, 2);
  assert_int_equal(ad_conn_input(f->c, b.p, b.n), b.n);

  ar_buf_t *o = ad_conn_out(f->c);
  ar_frame_t fr;
  assert_int_equal(ar_frame_decode(ar_buf_data(o), ar_buf_len(o), 4096, &fr),
                   AR_FRAME_COMPLETE);
  assert_int_equal(f->c->fdq_len, 1);
  assert_int_equal(f->c->fdq[f->c->fdq_head].at, fr.end); /* 2nd frame */
  int fd = f->c->fdq[f->c->fdq_head].fd;
  assert_true(fd >= 0 && fd != f->d.arenas[0]->seg.fd); /* a duplicate */
  assert_int_equal(f->d.arenas[0]->attached_connections, 1);
  Arenad__Response *r[2];
  assert_int_equal(take(f->c, r, 2), 2);
  assert_int_equal(r[1]->attach->size, 1u << 20);
  free_all(r, 2);
  free(b.p);
  /* Closing drops the queued descriptor and the attachment. */
  ad_conn_close(f->c, "test");
  assert_int_equal(f->d.arenas[0]->attached_connections, 0);
  assert_int_equal(f->c->fdq_len, 0);
  ad_conn_free(f->c);
  f->c = NULL;
}

/* With room for more replies in flight, a full queue of descriptors
 * (AD_FDQ_MAX attach replies not yet sent) stops decoding, named as its
 * own cause; sending the replies (and their descriptors) lets the rest
 * in. */
static void test_fd_queue_pause(void **state) {
  fixture_t *f = *state;
  f->cfg.max_in_flight = 64;
  bytes_t b = {NULL, 0};
  for (int i = 1; i <= AD_FDQ_MAX + 4; i++)
    add_attach(&b, (uint64_t)i);
  size_t used = ad_conn_input(f->c, b.p, b.n);
  assert_true(used < b.n);
  assert_int_equal(f->c->fdq_len, AD_FDQ_MAX);
  assert_false(ad_conn_can_decode(f->c));
  assert_ptr_equal(ad_conn_pause_counter(f->c), &f->d.stats.fd_queue_throttled);
  Arenad__Response *r[AD_FDQ_MAX];
  assert_int_equal(take(f->c, r, AD_FDQ_MAX), AD_FDQ_MAX);
  free_all(r, AD_FDQ_MAX);
  assert_ptr_equal(ad_conn_pause_counter(f->c), &f->d.stats.fd_queue_throttled);
  while (f->c->fdq_len > 0) /* passed on, as flush does once sent */
    ad_conn_fd_done(f->c);
  assert_null(ad_conn_pause_counter(f->c));
  used += ad_conn_input(f->c, b.p + used, b.n - used);
  assert_int_equal(used, b.n);
  assert_int_equal(take(f->c, r, 4), 4);
  assert_int_equal(r[3]->id, AD_FDQ_MAX + 4);
  free_all(r, 4);
  free(b.p);
}

static void test_wrong_version_closes(void **state) {
  fixture_t *f = *state;
  bytes_t b = {NULL, 0};
  Arenad__HelloRequest m = ARENAD__HELLO_REQUEST__INIT;
  Arenad__Request req = ARENAD__REQUEST__INIT;
  m.protocol_version = 2;
  m.client_name = (char *)"new\x01" "client";
  req.body_case = ARENAD__REQUEST__BODY_HELLO;
  req.hello = &m;
  add(&b, &req, 1);
  add_ping(&b, 2);
  assert_int_equal(ad_conn_input(f->c, b.p, b.n), b.n);
  assert_true(f->c->close_after_reply);
  assert_string_equal(f->c->name, "new?client"); /* sanitised */
  Arenad__Response *r[2];
  assert_int_equal(take(f->c, r, 2), 1);
  assert_int_equal(r[0]->status, ARENAD__STATUS__STATUS_UNSUPPORTED_VERSION);
  assert_non_null(r[0]->hello);
  assert_int_equal(r[0]->hello->protocol_version, 1);
  free_all(r, 1);
  free(b.p);
}

static void test_close_reclaims(void **state) {
  fixture_t *f = *state;
  bytes_t b = {NULL, 0};
  add_alloc(&b, 1, 1000, 3);
  assert_int_equal(ad_conn_input(f->c, b.p, b.n), b.n);
  take(f->c, NULL, 0);
  assert_int_equal(ad_blocktab_count(&f->d.arenas[0]->table), 3);
  ad_conn_close(f->c, "test");
  assert_int_equal(ad_blocktab_count(&f->d.arenas[0]->table), 0);
  assert_int_equal(f->d.stats.reclaimed_blocks, 3);
  assert_int_equal(f->d.stats.reclaimed_connections, 1);
  assert_int_equal(f->d.stats.connections_open, 0);
  ar_check_report_t rep;
  assert_int_equal(ad_arena_check(f->d.arenas[0], &rep), 0);
  ad_conn_free(f->c);
  f->c = NULL;
  free(b.p);
}

/* A connection closed with its replies unsent takes them out of the
 * daemon's requests_in_flight. */
static void test_close_drops_in_flight(void **state) {
  fixture_t *f = *state;
  bytes_t b = {NULL, 0};
  for (int i = 1; i <= 3; i++)
    add_ping(&b, (uint64_t)i);
  assert_int_equal(ad_conn_input(f->c, b.p, b.n), b.n);
  assert_int_equal(f->d.stats.requests_in_flight, 3);
  ad_conn_close(f->c, "test");
  assert_int_equal(f->d.stats.requests_in_flight, 0);
  ad_conn_free(f->c);
  f->c = NULL;
  free(b.p);
}

/* ---- The check's failure side ------------------------------------------ */

static void add_check(bytes_t *b, uint64_t id) {
  Arenad__CheckRequest m = ARENAD__CHECK_REQUEST__INIT;
  Arenad__Request req = ARENAD__REQUEST__INIT;
  m.arena = (char *)"a";
  req.body_case = ARENAD__REQUEST__BODY_CHECK;
  req.check = &m;
  add(b, &req, id);
}

/* Feeds the whole of b to f's connection with the daemon's standard error
 * going to a temporary file, and returns what it logged meanwhile (a
 * string for the caller to free). No assert while stderr is away. */
static char *input_logged(fixture_t *f, const bytes_t *b) {
  FILE *tmp = tmpfile();
  assert_non_null(tmp);
  fflush(stderr);
  int saved = dup(STDERR_FILENO);
  assert_true(saved >= 0);
  assert_true(dup2(fileno(tmp), STDERR_FILENO) >= 0);
  size_t used = ad_conn_input(f->c, b->p, b->n);
  int restored = dup2(saved, STDERR_FILENO);
  close(saved);
  assert_true(restored >= 0);
  assert_int_equal(used, b->n);
  off_t n = lseek(fileno(tmp), 0, SEEK_END);
  assert_true(n >= 0);
  char *text = calloc(1, (size_t)n + 1);
  assert_non_null(text);
  assert_int_equal(pread(fileno(tmp), text, (size_t)n, 0), n);
  fclose(tmp);
  return text;
}

/* One check of arena a; returns its reply (freed by the caller) and
 * stores what the daemon logged for it in *log (freed by the caller). */
static Arenad__Response *check_logged(fixture_t *f, uint64_t id, char **log) {
  bytes_t b = {NULL, 0};
  add_check(&b, id);
  *log = input_logged(f, &b);
  free(b.p);
  Arenad__Response *r;
  assert_int_equal(take(f->c, &r, 1), 1);
  assert_int_equal(r->id, id);
  assert_int_equal(r->body_case, ARENAD__RESPONSE__BODY_CHECK);
  assert_non_null(r->check);
  return r;
}

/* A check that passes: STATUS_OK, ok, nothing logged, nothing counted. */
static void assert_check_passes(fixture_t *f, uint64_t id) {
  uint64_t before = f->d.stats.corruptions_detected;
  char *log;
  Arenad__Response *r = check_logged(f, id, &log);
  assert_int_equal(r->status, ARENAD__STATUS__STATUS_OK);
  assert_true(r->check->ok);
  assert_string_equal(r->check->invariant, "");
  assert_null(strstr(log, "check-failed"));
  assert_int_equal(f->d.stats.corruptions_detected, before);
  arenad__response__free_unpacked(r, NULL);
  free(log);
}

/* A check that fails on `invariant` at `offset`: the reply, the counters
 * and the log line. Returns the reply's detail (to be freed). */
static char *assert_check_fails(fixture_t *f, uint64_t id,
                                const char *invariant, uint64_t offset) {
  uint64_t before = f->d.stats.corruptions_detected;
  uint64_t errors =
      f->d.stats.errors[ARENAD__STATUS__STATUS_CORRUPTION_DETECTED];
  char *log;
  Arenad__Response *r = check_logged(f, id, &log);
  assert_int_equal(r->status, ARENAD__STATUS__STATUS_CORRUPTION_DETECTED);
  assert_false(r->check->ok);
  assert_string_equal(r->check->invariant, invariant);
  assert_int_equal(r->check->offset, offset);
  assert_string_not_equal(r->check->detail, "");
  assert_non_null(strstr(r->message, "integrity check of arena 'a' failed"));
  assert_int_equal(f->d.stats.corruptions_detected, before + 1);
  assert_int_equal(
      f->d.stats.errors[ARENAD__STATUS__STATUS_CORRUPTION_DETECTED],
      errors + 1);
  char want[160];
  snprintf(want, sizeof(want),
           " error check-failed arena=a invariant=%s offset=%llu detail=",
           invariant, (unsigned long long)offset);
  if (strstr(log, want) == NULL)
    fail_msg("no '%s' in the log:\n%s", want, log);
  assert_non_null(strstr(log, " pid=42 uid=1000\n"));
  char *detail = strdup(r->check->detail);
  arenad__response__free_unpacked(r, NULL);
  free(log);
  return detail;
}

/* Allocates one block of 100 bytes in arena a (request `id`), which must
 * succeed; returns its payload offset. */
static uint64_t alloc_one(fixture_t *f, uint64_t id, bool detached) {
  bytes_t b = {NULL, 0};
  add_alloc_detached(&b, id, 100, 1, detached);
  assert_int_equal(ad_conn_input(f->c, b.p, b.n), b.n);
  free(b.p);
  Arenad__Response *r;
  assert_int_equal(take(f->c, &r, 1), 1);
  assert_int_equal(r->status, 0);
  uint64_t payload = r->alloc->offsets[0];
  arenad__response__free_unpacked(r, NULL);
  return payload;
}

/* The arena's detached count one more than its detached records: the
 * check says so (daemon-detached-count, offset 0), and passes again once
 * the count is put back. */
static void test_check_detached_count(void **state) {
  fixture_t *f = *state;
  alloc_one(f, 1, true);
  ad_arena_t *a = f->d.arenas[0];
  assert_int_equal(a->detached_blocks, 1);
  assert_check_passes(f, 2);
  assert_int_equal(f->d.stats.corruptions_detected, 0);

  a->detached_blocks++;
  char *detail = assert_check_fails(f, 3, "daemon-detached-count", 0);
  assert_non_null(strstr(detail, "1 records are detached"));
  assert_non_null(strstr(detail, "the counts say 2"));
  free(detail);
  assert_int_equal(f->d.stats.corruptions_detected, 1);
  a->detached_blocks--;
  assert_check_passes(f, 4);
  assert_int_equal(f->d.stats.corruptions_detected, 1);
}

/* A record whose size is not its block's: the check names the invariant
 * and the block's payload offset. */
static void test_check_record_size(void **state) {
  fixture_t *f = *state;
  uint64_t payload = alloc_one(f, 1, false);
  ad_block_t *blk = ad_arena_block(f->d.arenas[0], payload);
  assert_non_null(blk);

  blk->size += 16;
  char *detail = assert_check_fails(f, 2, "record-size-is-block-size", payload);
  free(detail);
  blk->size -= 16; /* before the holder's use is taken back at the close */
  assert_check_passes(f, 3);
  assert_int_equal(f->d.stats.corruptions_detected, 1);
}

/* Sends one retain, or one transfer to the connection whose token is
 * `token` (0: a retain), of the block at `offset` of arena a, as request
 * `id`; returns the reply (freed by the caller). */
static Arenad__Response *share_one(fixture_t *f, uint64_t id, uint64_t offset,
                                   uint64_t token) {
  Arenad__RetainRequest rm = ARENAD__RETAIN_REQUEST__INIT;
  Arenad__TransferRequest tm = ARENAD__TRANSFER_REQUEST__INIT;
  Arenad__Request req = ARENAD__REQUEST__INIT;
  if (token == 0) {
    rm.arena = (char *)"a";
    rm.offset = offset;
    req.body_case = ARENAD__REQUEST__BODY_RETAIN;
    req.retain = &rm;
  } else {
    tm.arena = (char *)"a";
    tm.offset = offset;
    tm.target_token = token;
    req.body_case = ARENAD__REQUEST__BODY_TRANSFER;
    req.transfer = &tm;
  }
  bytes_t b = {NULL, 0};
  add(&b, &req, id);
  assert_int_equal(ad_conn_input(f->c, b.p, b.n), b.n);
  free(b.p);
  Arenad__Response *r;
  assert_int_equal(take(f->c, &r, 1), 1);
  return r;
}

/* A block whose reference count is full (4294967295) takes no more, by
 * retain or by transfer: LIMIT_EXCEEDED, each refusal counted in
 * references_refused_limit (and with the errors by status); a retain
 * that fits is not counted. */
static void test_references_limit(void **state) {
  fixture_t *f = *state;
  ad_conn_t *other = ad_conn_new(&f->d, -1, 43, 1000, 1000);
  assert_non_null(other);
  uint64_t payload = alloc_one(f, 1, false);
  Arenad__Response *r = share_one(f, 2, payload, 0);
  assert_int_equal(r->status, 0);
  assert_int_equal(r->retain->refcount, 2);
  arenad__response__free_unpacked(r, NULL);
  assert_int_equal(f->d.stats.references_refused_limit, 0);

  ad_block_t *blk = ad_arena_block(f->d.arenas[0], payload);
  assert_non_null(blk);
  uint32_t real = blk->refcount;
  blk->refcount = UINT32_MAX;
  uint64_t limits = f->d.stats.errors[ARENAD__STATUS__STATUS_LIMIT_EXCEEDED];
  r = share_one(f, 3, payload, 0);
  assert_int_equal(r->status, ARENAD__STATUS__STATUS_LIMIT_EXCEEDED);
  assert_non_null(strstr(r->message, "the most it can have"));
  arenad__response__free_unpacked(r, NULL);
  assert_int_equal(f->d.stats.references_refused_limit, 1);
  r = share_one(f, 4, payload, other->token);
  assert_int_equal(r->status, ARENAD__STATUS__STATUS_LIMIT_EXCEEDED);
  arenad__response__free_unpacked(r, NULL);
  assert_int_equal(f->d.stats.references_refused_limit, 2);
  assert_int_equal(f->d.stats.errors[ARENAD__STATUS__STATUS_LIMIT_EXCEEDED],
                   limits + 2);
  blk->refcount = real; /* nothing was added */
  assert_int_equal(ad_block_nholds(blk), 1);
  assert_check_passes(f, 5);

  /* The counter is a StatsReply field. */
  ad_scratch_reset(&f->d.scratch);
  Arenad__StatsReply *st = ad_stats_reply(&f->d, &f->d.scratch);
  assert_non_null(st);
  assert_int_equal(st->references_refused_limit, 2);
  ad_scratch_reset(&f->d.scratch);
}

/* An arena destroyed under a connection that had it attached, when the
 * daemon has no memory to note its name as stale for the connection: the
 * connection drops its list of stale names, as past AD_STALE_MAX (counted
 * in stale_lists_dropped), and stays open; an arena that takes the name
 * is stale for it (NOT_FOUND) until it attaches it. */
static void test_arena_gone_without_memory(void **state) {
  fixture_t *f = *state;
  ad_arena_t *a = f->d.arenas[0];
  assert_int_equal(ad_conn_attach(f->c, a), 0);
  ad_destroyed_t gone;
  nomem = true;
  ad_daemon_destroy_arena(&f->d, a, &gone);
  nomem = false;
  assert_false(f->c->close_after_reply);
  assert_false(f->c->closing);
  assert_true(f->c->stale_all);
  assert_int_equal(f->d.stats.stale_lists_dropped, 1);

  char err[256];
  assert_int_equal(
      ad_daemon_create_arena(&f->d, &f->cfg.arenas[0], &a, err, sizeof(err)),
      0);
  bytes_t b = {NULL, 0};
  add_alloc(&b, 1, 100, 1);
  assert_int_equal(ad_conn_input(f->c, b.p, b.n), b.n);
  Arenad__Response *r;
  assert_int_equal(take(f->c, &r, 1), 1);
  assert_int_equal(r->status, ARENAD__STATUS__STATUS_NOT_FOUND);
  assert_non_null(strstr(r->message, "attach arena 'a'"));
  arenad__response__free_unpacked(r, NULL);
  assert_int_equal(ad_conn_attach(f->c, a), 0);
  assert_int_equal(ad_conn_input(f->c, b.p, b.n), b.n);
  assert_int_equal(take(f->c, &r, 1), 1);
  assert_int_equal(r->status, ARENAD__STATUS__STATUS_OK);
  arenad__response__free_unpacked(r, NULL);
  free(b.p);
}

/* An alloc of detached blocks when the daemon has no memory left to queue
 * its reply: blocks placed first would stay in the arena for good, no one
 * told where. The engine, the records and the block table have room
 * already (two blocks came and went), so the reply is what needs memory.
 * Nothing may stay: no record, no detached block, and as many blocks
 * counted freed as allocated. */
static void test_alloc_reply_without_memory(void **state) {
  fixture_t *f = *state;
  ad_arena_t *a = f->d.arenas[0];
  bytes_t b = {NULL, 0};
  add_alloc_detached(&b, 1, 100, 2, true);
  assert_int_equal(ad_conn_input(f->c, b.p, b.n), b.n);
  Arenad__Response *r;
  assert_int_equal(take(f->c, &r, 1), 1);
  assert_int_equal(r->status, ARENAD__STATUS__STATUS_OK);
  bytes_t fr = {NULL, 0};
  add_free(&fr, 2, r->alloc->offsets, r->alloc->n_offsets);
  arenad__response__free_unpacked(r, NULL);
  assert_int_equal(ad_conn_input(f->c, fr.p, fr.n), fr.n);
  assert_int_equal(take(f->c, &r, 1), 1);
  assert_int_equal(r->status, ARENAD__STATUS__STATUS_OK);
  arenad__response__free_unpacked(r, NULL);
  free(fr.p);
  ar_buf_destroy(&f->d.staging); /* empty: the next reply needs memory */

  nomem = true;
  ad_conn_input(f->c, b.p, b.n);
  nomem = false;
  free(b.p);
  assert_int_equal(ad_blocktab_count(&a->table), 0);
  assert_int_equal(a->detached_blocks, 0);
  assert_int_equal(f->d.stats.blocks_allocated, f->d.stats.blocks_freed);
  ar_check_report_t rep;
  assert_int_equal(ad_arena_check(a, &rep), 0);
  ar_engine_stats_t st;
  ar_engine_stats(a->engine, &st);
  assert_int_equal(st.live_blocks, 0);
  if (f->c->closing) { /* no memory for the error reply either */
    ad_conn_free(f->c);
    f->c = NULL;
  }
}

/* A connection closed for want of memory for its bytes: counted in
 * connections_closed_no_memory (and the StatsReply field), once, beside
 * connections_closed. */
static void assert_closed_no_memory(fixture_t *f) {
  assert_int_equal(f->d.stats.connections_closed_no_memory, 1);
  assert_int_equal(f->d.stats.connections_closed, 1);
  ad_scratch_reset(&f->d.scratch);
  Arenad__StatsReply *st = ad_stats_reply(&f->d, &f->d.scratch);
  assert_non_null(st);
  assert_int_equal(st->connections_closed_no_memory, 1);
  ad_scratch_reset(&f->d.scratch);
}

/* A reply the daemon has no memory to queue (its staging buffer holds
 * none) closes the connection, counted. The request was refused all the
 * same, and its error reply counts in errors by status although it was
 * never sent, as its refusal's own counter (here the engine's bad_frees)
 * counts it. */
static void test_reply_without_memory_counted(void **state) {
  fixture_t *f = *state;
  static const uint64_t off = 8; /* not a payload: INVALID_ARGUMENT */
  bytes_t b = {NULL, 0};
  add_free(&b, 1, &off, 1);
  ar_buf_destroy(&f->d.staging);
  nomem = true;
  assert_int_equal(ad_conn_input(f->c, b.p, b.n), b.n);
  nomem = false;
  free(b.p);
  assert_true(f->c->closing);
  assert_string_equal(f->c->close_reason, "no-memory");
  assert_closed_no_memory(f);
  assert_int_equal(f->d.stats.frames_out, 0);
  assert_int_equal(f->d.stats.errors[ARENAD__STATUS__STATUS_INVALID_ARGUMENT],
                   1);
  ar_engine_stats_t st;
  ar_engine_stats(f->d.arenas[0]->engine, &st);
  assert_int_equal(st.bad_frees, 1);
  ad_conn_free(f->c);
  f->c = NULL;
}

/* A batch whose second reply finds no memory: the connection is to close,
 * but only once the first reply, already queued, is out. That reply is
 * an alloc of a detached block, which only it tells of: dropped with the
 * connection, it would leave the block in the arena for good. The staging
 * buffer has room for the alloc's reply and not for the page of blocks
 * after it (the records, the block table and the scratch memory have room
 * already: the same requests came before). */
static void test_queued_reply_kept_without_memory(void **state) {
  fixture_t *f = *state;
  ad_arena_t *a = f->d.arenas[0];
  fill_blocks(f);
  bytes_t w = {NULL, 0};
  add_inspect(&w, 1, 0);
  assert_int_equal(ad_conn_input(f->c, w.p, w.n), w.n);
  assert_int_equal(take(f->c, NULL, 0), 1);
  free(w.p);
  w = (bytes_t){NULL, 0};
  add_alloc_detached(&w, 1, 100, 1, true);
  assert_int_equal(ad_conn_input(f->c, w.p, w.n), w.n);
  Arenad__Response *r[3];
  assert_int_equal(take(f->c, r, 1), 1);
  bytes_t fr = {NULL, 0};
  add_free(&fr, 2, r[0]->alloc->offsets, r[0]->alloc->n_offsets);
  arenad__response__free_unpacked(r[0], NULL);
  assert_int_equal(ad_conn_input(f->c, fr.p, fr.n), fr.n);
  assert_int_equal(take(f->c, r, 1), 1);
  arenad__response__free_unpacked(r[0], NULL);
  free(fr.p);
  free(w.p);
  ar_buf_destroy(&f->d.staging);
  assert_int_equal(ar_buf_reserve(&f->d.staging, 1), 0); /* 512 bytes */

  bytes_t b = {NULL, 0};
  add_alloc_detached(&b, 3, 100, 1, true);
  add_inspect(&b, 4, 0);
  add_ping(&b, 5);
  nomem = true;
  assert_int_equal(ad_conn_input(f->c, b.p, b.n), b.n);
  nomem = false;
  free(b.p);
  assert_int_equal(a->detached_blocks, 1);
  assert_false(f->c->closing);
  assert_true(f->c->close_after_reply);
  assert_string_equal(f->c->close_reason, "no-memory");
  assert_int_equal(f->d.stats.requests[ARENAD__REQUEST__BODY_PING], 0);

  /* The alloc's reply, alone, tells where the block is. */
  assert_int_equal(take(f->c, r, 3), 1);
  assert_int_equal(r[0]->id, 3);
  assert_int_equal(r[0]->status, ARENAD__STATUS__STATUS_OK);
  assert_int_equal(r[0]->alloc->n_offsets, 1);
  assert_true(ad_blocktab_find(&a->table, r[0]->alloc->offsets[0]) != NULL);
  arenad__response__free_unpacked(r[0], NULL);

  ad_conn_run(f->c); /* all sent: now it closes */
  assert_true(f->c->closing);
  assert_string_equal(f->c->close_reason, "no-memory");
  assert_closed_no_memory(f);
  ad_conn_free(f->c);
  f->c = NULL;
}

/* A started connection on a socket pair; the peer's end in *peer. */
static ad_conn_t *socket_conn(fixture_t *f, int *peer) {
  int sv[2];
  assert_int_equal(
      socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv),
      0);
  ad_conn_t *c = ad_conn_new(&f->d, sv[0], 43, 1000, 1000); /* owns sv[0] */
  assert_non_null(c);
  assert_int_equal(ad_conn_start(c), 0);
  *peer = sv[1];
  return c;
}

/* The peer sends a ping and reads its reply: the daemon's shared input
 * and staging buffers hold memory from then on. */
static void ping_pong(fixture_t *f, int peer) {
  bytes_t b = {NULL, 0};
  add_ping(&b, 1);
  assert_int_equal(send(peer, b.p, b.n, 0), (ssize_t)b.n);
  uv_run(&f->d.loop, UV_RUN_NOWAIT);
  uint8_t buf[256];
  assert_true(recv(peer, buf, sizeof(buf), 0) > 0);
  free(b.p);
}

/* The peer's bytes, read while the daemon has no memory: the connection
 * (not the daemon) goes, counted. Then its close callback runs. */
static void read_without_memory(fixture_t *f, int peer, const uint8_t *p,
                                size_t n) {
  uint64_t closed = f->d.stats.connections_closed;
  assert_int_equal(send(peer, p, n, 0), (ssize_t)n);
  nomem = true;
  uv_run(&f->d.loop, UV_RUN_NOWAIT);
  nomem = false;
  assert_int_equal(f->d.stats.connections_closed, closed + 1);
  assert_closed_no_memory(f);
  uv_run(&f->d.loop, UV_RUN_NOWAIT); /* the close callback frees it */
  close(peer);
}

/* No memory for the shared input buffer, to read into. */
static void test_read_without_memory(void **state) {
  fixture_t *f = *state;
  int peer;
  socket_conn(f, &peer);
  bytes_t b = {NULL, 0};
  add_ping(&b, 1);
  read_without_memory(f, peer, b.p, b.n);
  free(b.p);
}

/* No memory for the connection's own input buffer, to keep a frame the
 * read cut. */
static void test_cut_frame_without_memory(void **state) {
  fixture_t *f = *state;
  int peer;
  socket_conn(f, &peer);
  ping_pong(f, peer);
  bytes_t b = {NULL, 0};
  add_ping(&b, 2);
  read_without_memory(f, peer, b.p, b.n - 1);
  free(b.p);
}

/* No memory for the connection's own output buffer, to keep the reply
 * its socket did not take (the socket is full): the connection takes
 * over the staging buffer that holds the reply, and stays open. Once its
 * peer reads what filled the socket, the reply follows. */
static void test_unsent_kept_without_memory(void **state) {
  fixture_t *f = *state;
  int peer;
  ad_conn_t *c = socket_conn(f, &peer);
  ping_pong(f, peer);
  static uint8_t fill[4096];
  size_t filled = 0;
  ssize_t k;
  while ((k = send(c->fd, fill, sizeof(fill), MSG_DONTWAIT)) > 0)
    filled += (size_t)k;
  assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
  bytes_t b = {NULL, 0};
  add_ping(&b, 2);
  assert_int_equal(send(peer, b.p, b.n, 0), (ssize_t)b.n);
  free(b.p);
  nomem = true;
  uv_run(&f->d.loop, UV_RUN_NOWAIT);
  nomem = false;
  assert_false(c->closing);
  assert_int_equal(f->d.stats.connections_closed_no_memory, 0);
  assert_true(ar_buf_len(&c->wbuf) > 0);

  uint8_t buf[4096];
  size_t got = 0, len = 0;
  uint8_t reply[256];
  ar_frame_t fr;
  for (int spins = 0; spins < 100000; spins++) {
    uv_run(&f->d.loop, UV_RUN_NOWAIT);
    if (got < filled) {
      size_t want = filled - got < sizeof(buf) ? filled - got : sizeof(buf);
      k = recv(peer, buf, want, MSG_DONTWAIT);
      if (k > 0)
        got += (size_t)k;
      continue;
    }
    k = recv(peer, reply + len, sizeof(reply) - len, MSG_DONTWAIT);
    if (k > 0)
      len += (size_t)k;
    if (len > 0 &&
        ar_frame_decode(reply, len, 1 << 20, &fr) == AR_FRAME_COMPLETE)
      break;
  }
  assert_int_equal(got, filled);
  assert_int_equal(ar_frame_decode(reply, len, 1 << 20, &fr),
                   AR_FRAME_COMPLETE);
  Arenad__Response *r =
      arenad__response__unpack(NULL, fr.end - fr.start, reply + fr.start);
  assert_non_null(r);
  assert_int_equal(r->id, 2);
  assert_int_equal(r->body_case, ARENAD__RESPONSE__BODY_PING);
  arenad__response__free_unpacked(r, NULL);
  assert_false(c->closing);
  ad_conn_close(c, "test");
  uv_run(&f->d.loop, UV_RUN_NOWAIT); /* the close callback frees it */
  close(peer);
}

/* A free naming several offsets is one request: refused for want of a
 * reference, however many of its offsets were, it counts once in
 * permission_denied (the daemon's and the arena's, as the error reply
 * counts once by status), while bad_frees, the engine's count of frees,
 * counts each offset that is not a live block's payload. */
static void test_free_counts(void **state) {
  fixture_t *f = *state;
  ad_arena_t *a = f->d.arenas[0];
  ad_conn_t *other = ad_conn_new(&f->d, -1, 43, 1000, 1000);
  assert_non_null(other);
  uint64_t offs[5] = {alloc_one(f, 1, false), alloc_one(f, 2, false),
                      alloc_one(f, 3, false), 8, 24}; /* not payloads */
  bytes_t b = {NULL, 0};
  add_free(&b, 4, offs, 4);
  assert_int_equal(ad_conn_input(other, b.p, b.n), b.n);
  free(b.p);
  Arenad__Response *r;
  assert_int_equal(take(other, &r, 1), 1);
  assert_int_equal(r->status, ARENAD__STATUS__STATUS_PERMISSION_DENIED);
  assert_int_equal(r->free->n_statuses, 4);
  assert_int_equal(r->free->statuses[2],
                   ARENAD__STATUS__STATUS_PERMISSION_DENIED);
  assert_int_equal(r->free->statuses[3],
                   ARENAD__STATUS__STATUS_INVALID_ARGUMENT);
  arenad__response__free_unpacked(r, NULL);
  assert_int_equal(f->d.stats.permission_denied, 1);
  assert_int_equal(a->permission_denied, 1);
  assert_int_equal(f->d.stats.errors[ARENAD__STATUS__STATUS_PERMISSION_DENIED],
                   1);

  b = (bytes_t){NULL, 0};
  add_free(&b, 5, offs + 3, 2);
  assert_int_equal(ad_conn_input(other, b.p, b.n), b.n);
  free(b.p);
  assert_int_equal(take(other, &r, 1), 1);
  assert_int_equal(r->status, ARENAD__STATUS__STATUS_INVALID_ARGUMENT);
  arenad__response__free_unpacked(r, NULL);
  ar_engine_stats_t st;
  ar_engine_stats(a->engine, &st);
  assert_int_equal(st.bad_frees, 3);
  assert_int_equal(f->d.stats.permission_denied, 1);
  assert_int_equal(f->d.stats.errors[ARENAD__STATUS__STATUS_INVALID_ARGUMENT],
                   1);
}

int main(void) {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
  const struct CMUnitTest tests[] = {
      T(test_pipelined_in_order),
      T(test_turn_spent_yields),
      T(test_no_budget_no_yield),
      T(test_paused_frame_not_stalled),
      T(test_send_stalled),
      T(test_send_stalled_slow_reader),
      T(test_fd_queue_pause),
      T(test_byte_by_byte),
      T(test_frame_over_limit),
      T(test_malformed_prefix),
      T(test_not_a_request),
      T(test_in_flight_limit),
      T(test_output_pause),
      T(test_page_fits_frame),
      T(test_attach_queues_fd),
      T(test_wrong_version_closes),
      T(test_close_reclaims),
      T(test_close_drops_in_flight),
      T(test_unpack_over_scratch),
      T(test_reply_over_scratch),
      T(test_create_all_or_nothing),
      T(test_hello_name_limit),
      T(test_check_detached_count),
      T(test_check_record_size),
      T(test_error_in_rbuf),
      T(test_error_read_into_rbuf),
      T(test_references_limit),
      T(test_arena_gone_without_memory),
      T(test_alloc_reply_without_memory),
      T(test_reply_without_memory_counted),
      T(test_queued_reply_kept_without_memory),
      T(test_read_without_memory),
      T(test_cut_frame_without_memory),
      T(test_unsent_kept_without_memory),
      T(test_free_counts),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
