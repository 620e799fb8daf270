/*
 * test_server_conn_flow.c: a connection's replies and its flow control,
 * without a socket where none is needed (the daemon and the frames of
 * conn_harness.h): no more than max_in_flight replies wait, and unsent
 * bytes past output_pause_bytes stop decoding too, as a full queue of
 * descriptors does (each pause named by the counter it is counted in);
 * the descriptor of an attach queued at its frame's first byte, and
 * dropped at a close; a page cut to fit the frame limit, and one too
 * large for the working memory refused as a limit; a cut frame that is
 * not a stall while flow control pauses reading; and unsent replies that
 * stall after send_timeout_ms, but not while the peer reads them out of
 * the socket, slowly (a socket pair); a peer that goes while flow control
 * holds its whole frames back cut none (frames_truncated).
 */
#include "conn_harness.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

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

/* A peer that goes, its replies unread, while flow control holds back
 * whole frames it sent (the last one cut by the daemon's read, its rest
 * waiting in the socket) cut no frame short: frames_truncated does not
 * count it. The same peer whose last frame is cut short does count. */
static void test_reset_with_frames_held(void **state) {
  fixture_t *f = *state;
  for (uint64_t cut = 0; cut <= 1; cut++) {
    int peer;
    ad_conn_t *c = socket_conn(f, &peer, false);
    bytes_t b = {NULL, 0};
    for (uint64_t i = 1; i <= 8; i++)
      add_ping(&b, i);
    /* What a read took: all but the last two bytes. Four frames are
     * answered (max_in_flight), the rest kept, as conn_read keeps them. */
    size_t read = b.n - 2;
    size_t used = ad_conn_input(c, b.p, read);
    assert_int_equal(c->inflight, 4);
    assert_int_equal(ar_buf_append(&c->rbuf, b.p + used, read - used), 0);
    if (!cut) /* the last frame's rest, sent, not read by the daemon */
      assert_int_equal(send(peer, b.p + read, 2, 0), 2);
    close(peer);
    uint64_t before = f->d.stats.frames_truncated;
    ad_conn_run(c); /* its replies find the peer gone */
    assert_true(c->closing);
    assert_int_equal(f->d.stats.frames_truncated - before, cut);
    ad_conn_free(c); /* never started: closed, not freed by the daemon */
    free(b.p);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
      T(test_paused_frame_not_stalled), T(test_send_stalled),
      T(test_send_stalled_slow_reader), T(test_fd_queue_pause),
      T(test_in_flight_limit),          T(test_output_pause),
      T(test_page_fits_frame),          T(test_attach_queues_fd),
      T(test_reply_over_scratch),       T(test_reset_with_frames_held),
#undef T
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
