/*
 * test_server_conn_nomem.c: a connection when the daemon's memory runs
 * out, with malloc, calloc and realloc wrapped to fail on demand (nomem,
 * conn_harness.h): an arena destroyed under a connection when there is no
 * memory to note its name as stale (the connection drops its list and
 * stays open), an alloc of detached blocks whose reply cannot be queued
 * (nothing is allocated), a create_arena that cannot size the arena list
 * (refused for want of memory, not as over the frame limit), a connection
 * closed for want of memory to queue a reply, unpack a request (not taken
 * for garbage), read its input or keep a cut frame (each counted in
 * connections_closed_no_memory), but only once the
 * replies queued before are out (a detached alloc's among them), and the
 * replies its socket did not take kept without memory for a copy (the
 * connection takes over the staging buffer and stays open), and a frame
 * timeout whose error reply finds no memory (the connection closes at
 * once, and the run after it leaves it alone), and a closed connection's
 * blocks that the engine has no memory to take back (kept, detached, and
 * counted in blocks_kept_no_memory), and an arena's table of records that
 * has no memory to be made smaller (it tries again once half of its
 * records are gone, not at every removal). The tests that read
 * and write do it on a socket pair, through the daemon's loop.
 */
#include "conn_harness.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

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

/* create_arena when the daemon has no memory to size the list of the
 * arenas with the new one: refused for want of memory (INTERNAL), not as
 * if the list would pass max_frame_bytes (LIMIT_EXCEEDED, counted in
 * arenas_refused_limit), and no arena is made. */
static void test_create_arena_without_memory(void **state) {
  fixture_t *f = *state;
  become_admin(f);
  bytes_t b = {NULL, 0};
  add_create_made(&b, 1);
  nomem = true;
  ad_conn_input(f->c, b.p, b.n);
  nomem = false;
  free(b.p);
  assert_int_equal(f->d.stats.arenas_refused_limit, 0);
  assert_null(ad_daemon_arena(&f->d, "made"));
  assert_int_equal(f->d.narenas, 1);
  /* The refusal counts by its status even though there was no memory to
   * queue it either (the connection closed for that). */
  assert_int_equal(f->d.stats.errors[ARENAD__STATUS__STATUS_INTERNAL], 1);
  assert_int_equal(f->d.stats.errors[ARENAD__STATUS__STATUS_LIMIT_EXCEEDED], 0);
  assert_true(f->c->closing);
  assert_int_equal(f->d.stats.connections_closed_no_memory, 1);
  ad_conn_free(f->c);
  f->c = NULL;
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

/* A frame the daemon has no memory to unpack (its working memory needs a
 * chunk more than the first, and malloc fails): the bytes are a good
 * Request, so the client must not be told they are garbage (an
 * INVALID_ARGUMENT "not a Request", counted in frames_unparsable and
 * connections_closed_protocol). The connection is closed for want of
 * memory, as when a reply cannot be queued: counted in
 * connections_closed_no_memory, with no reply to the request at hand. */
static void test_unpack_without_memory(void **state) {
  fixture_t *f = *state;
  /* A first chunk too small for a free of eight offsets, so that its
   * unpack needs another: the one that fails. */
  size_t cap = f->d.scratch.max;
  ad_scratch_fini(&f->d.scratch);
  assert_int_equal(ad_scratch_init(&f->d.scratch, 64, cap), 0);
  /* The staging buffer has memory, for a reply if one were sent. */
  bytes_t p = {NULL, 0};
  add_ping(&p, 1);
  assert_int_equal(ad_conn_input(f->c, p.p, p.n), p.n);
  free(p.p);
  assert_int_equal(take(f->c, NULL, 0), 1);
  uint64_t frames_out = f->d.stats.frames_out;

  static const uint64_t offs[8] = {16, 32, 48, 64, 80, 96, 112, 128};
  bytes_t b = {NULL, 0};
  add_free(&b, 2, offs, 8);
  nomem = true;
  assert_int_equal(ad_conn_input(f->c, b.p, b.n), b.n);
  nomem = false;
  free(b.p);
  assert_int_equal(f->d.stats.frames_unparsable, 0);
  assert_int_equal(f->d.stats.connections_closed_protocol, 0);
  assert_int_equal(f->d.stats.errors[ARENAD__STATUS__STATUS_INVALID_ARGUMENT],
                   0);
  assert_int_equal(f->d.stats.frames_out, frames_out);
  assert_true(f->c->closing);
  assert_string_equal(f->c->close_reason, "no-memory");
  assert_closed_no_memory(f);
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
  socket_conn(f, &peer, true);
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
  socket_conn(f, &peer, true);
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
  ad_conn_t *c = socket_conn(f, &peer, true);
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

/* A frame timeout whose error reply finds no memory (the staging buffer
 * holds none) and nothing else unsent: the connection is closed at once,
 * counted, as the sweep does it (ad_conn_frame_timeout, then ad_conn_run).
 * The run that follows must leave the closed connection alone: libuv
 * aborts the process when a closing handle is stopped or started. */
static void test_frame_timeout_without_memory(void **state) {
  fixture_t *f = *state;
  int peer;
  ad_conn_t *c = socket_conn(f, &peer, true);
  bytes_t b = {NULL, 0};
  add_ping(&b, 1);
  assert_int_equal(send(peer, b.p, b.n - 1, 0), (ssize_t)(b.n - 1));
  free(b.p);
  uv_run(&f->d.loop, UV_RUN_NOWAIT);
  assert_int_equal(ar_buf_len(&c->rbuf), b.n - 1); /* the cut frame */
  assert_int_equal(f->d.staging.cap, 0);
  nomem = true;
  ad_conn_frame_timeout(c);
  ad_conn_run(c);
  nomem = false;
  assert_true(c->closing);
  assert_int_equal(f->d.stats.frames_timed_out, 1);
  assert_closed_no_memory(f);
  uv_run(&f->d.loop, UV_RUN_NOWAIT); /* the close callback frees it */
  close(peer);
}

/* A closed connection's blocks reclaimed when the engine has no memory to
 * take them back: the connection's blocks lie between detached ones, so
 * each it gives back is a free interval of its own, and the engine's index
 * needs nodes for them. Those it cannot take are kept, detached, and
 * counted; nothing is lost: every block is either free or detached, the
 * arena checks, and the kept ones can be freed once memory is back. */
static void test_reclaim_without_memory(void **state) {
  enum { N = 300 };
  fixture_t *f = *state;
  ad_arena_t *a = f->d.arenas[0];
  uint64_t kept = 0, off;
  for (int i = 0; i < N; i++) {
    assert_int_equal(ad_arena_alloc(a, &f->c->holder, 100, 16, 1, &off, &kept),
                     0);
    assert_int_equal(ad_arena_alloc(a, NULL, 100, 16, 1, &off, &kept), 0);
  }
  assert_int_equal(kept, 0);

  nomem = true;
  ad_conn_close(f->c, "test");
  nomem = false;
  ad_conn_free(f->c);
  f->c = NULL;
  uint64_t k = f->d.stats.blocks_kept_no_memory;
  assert_true(k > 0);
  assert_int_equal(f->d.stats.reclaimed_blocks + k, N);
  assert_int_equal(a->detached_blocks, N + k);
  assert_int_equal(ad_blocktab_count(&a->table), N + k);
  ar_check_report_t rep;
  assert_int_equal(ad_arena_check(a, &rep), 0);

  /* Every block left is detached: anyone may free it, kept ones too. */
  ad_holder_t anyone;
  ad_holder_init(&anyone, 99, 1000, 1000, 0, "anyone");
  static uint64_t left[2 * N];
  size_t n = 0;
  for (size_t i = 0; i < ad_blocktab_slots(&a->table); i++)
    if (ad_blocktab_at(&a->table, i) != NULL)
      left[n++] = ad_blocktab_at(&a->table, i)->payload;
  assert_int_equal(n, N + k);
  ad_freed_t freed = {0};
  for (size_t i = 0; i < n; i++)
    assert_int_equal(ad_arena_free(a, &anyone, left[i], &freed), 0);
  ad_holder_fini(&anyone);
  assert_int_equal(freed.blocks, N + k);
  assert_int_equal(freed.kept, 0);
  assert_int_equal(a->detached_blocks, 0);
  assert_int_equal(ad_arena_check(a, &rep), 0);
  ar_engine_stats_t st;
  ar_engine_stats(a->engine, &st);
  assert_int_equal(st.live_blocks, 0);
}

/* An arena's table of records whose shrinking finds no memory: it stays
 * as it is and tries again only once half of the records left are gone,
 * not at every removal; with memory back, that next try makes it smaller. */
static void test_table_shrink_without_memory(void **state) {
  (void)state;
  enum { N = 4096 };
  static ad_block_t recs[N];
  ad_blocktab_t t;
  assert_int_equal(ad_blocktab_init(&t), 0);
  assert_int_equal(ad_blocktab_reserve(&t, N), 0);
  for (size_t i = 0; i < N; i++) {
    recs[i].payload = 16 * (i + 1);
    ad_blocktab_insert(&t, &recs[i]);
  }
  size_t full = ad_blocktab_bytes(&t), n = N, tries = 0;
  nomem = true;
  nomem_refused = 0;
  while (n > 0 && ad_blocktab_bytes(&t) == full) {
    size_t before = nomem_refused;
    ad_blocktab_remove(&t, &recs[--n]);
    tries += nomem_refused != before;
    if (n == N / 64) /* once memory is back, the next try works */
      nomem = false;
  }
  nomem = false;
  /* Tried at 511 records left (under 1/16 full), then at 254 and 126 (half
   * of what was left at the try before); made smaller at 62, with memory
   * back. */
  assert_int_equal(tries, 3);
  assert_int_equal(n, 62);
  assert_true(ad_blocktab_bytes(&t) < full);
  for (size_t i = 0; i < n; i++)
    assert_ptr_equal(ad_blocktab_find(&t, recs[i].payload), &recs[i]);
  ad_blocktab_fini(&t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
      T(test_arena_gone_without_memory),
      T(test_alloc_reply_without_memory),
      T(test_create_arena_without_memory),
      T(test_reply_without_memory_counted),
      T(test_unpack_without_memory),
      T(test_queued_reply_kept_without_memory),
      T(test_read_without_memory),
      T(test_cut_frame_without_memory),
      T(test_unsent_kept_without_memory),
      T(test_frame_timeout_without_memory),
      T(test_reclaim_without_memory),
      T(test_table_shrink_without_memory),
#undef T
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
