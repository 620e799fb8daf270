/*
 * test_daemon_reclaim.c: a closed connection's blocks are freed a turn at
 * a time, the other connections served in between. A client that holds
 * 256Ki blocks (in two arenas) goes, on a daemon whose turn_budget_us is
 * 1 us, which frees them in a thousand turns; another client, whose pipelined
 * stats are answered one per turn, sees the reclamation under way
 * (reclaims_pending, the references left going down) before it ends, and then
 * every block back, counted once. An arena destroyed with force meanwhile, and
 * a shutdown meanwhile, take the rest with them, and the daemon exits cleanly;
 * destroying both arenas ends the reclamation, its blocks still counted once.
 * With no budget (turn_budget_us = 0) the blocks all go at the close. Two
 * such reclamations one after the other both end.
 * The daemon is stopped (SIGSTOP) while the holder goes and the other
 * client's requests are sent, so that it finds them together and the
 * reclamation's some 30 ms cannot end before they come, however late this
 * process runs.
 */
#include "itest.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define BLOCKS_PER_ALLOC 4096
#define ALLOCS 32                            /* per arena */
#define HELD (2 * ALLOCS * BLOCKS_PER_ALLOC) /* 256Ki blocks of 32 bytes */
#define STATS 300                            /* pipelined by the watcher */

static const char config_short[] = "[daemon]\n"
                                   "turn_budget_us = 1\n"
                                   "shutdown_timeout_ms = 600000\n"
                                   "max_blocks_per_request = 4096\n"
                                   "[arena a]\n"
                                   "size = 16M\n"
                                   "[arena b]\n"
                                   "size = 16M\n";

static const char config_none[] = "[daemon]\n"
                                  "turn_budget_us = 0\n"
                                  "max_blocks_per_request = 4096\n"
                                  "[arena a]\n"
                                  "size = 16M\n"
                                  "[arena b]\n"
                                  "size = 16M\n";

/* A new connection holding HELD small blocks, half in each arena. */
static it_conn_t *holder(const it_daemon_t *d) {
  it_conn_t *c = it_connect(d->sock);
  it_hello_ok(c);
  for (int i = 0; i < 2 * ALLOCS; i++) {
    Arenad__Response *r = it_call(
        c, it_req_alloc(i % 2 ? "b" : "a", 16, 0, BLOCKS_PER_ALLOC, false),
        NULL);
    it_assert_status(r, ARENAD__STATUS__STATUS_OK);
    assert_int_equal(r->alloc->n_offsets, BLOCKS_PER_ALLOC);
    it_resp_free(r);
  }
  return c;
}

/* Starts d on `config` with a client holding HELD blocks and another one
 * (returned, its hello done); then the holder goes and the other sends
 * `frames` (len bytes, none when NULL), the daemon stopped meanwhile: it
 * wakes to both at once, so that however late this process runs, all but
 * the first of those requests are served while the blocks go. */
static it_conn_t *after_close(it_daemon_t *d, const char *config,
                              const uint8_t *frames, size_t len) {
  assert_int_equal(it_daemon_start(d, config, NULL), 0);
  it_conn_t *heavy = holder(d);
  it_conn_t *other = it_connect(d->sock);
  it_hello_ok(other);
  it_daemon_signal(d, SIGSTOP);
  it_close(heavy);
  if (frames != NULL)
    it_send_raw(other, frames, len);
  it_daemon_signal(d, SIGCONT);
  return other;
}

/* n stats requests, ids from 1000, framed in one buffer (the caller frees
 * *buf). */
static void stats_frames(int n, uint8_t **buf, size_t *len) {
  *buf = NULL;
  *len = 0;
  for (int i = 0; i < n; i++) {
    Arenad__Request *q = it_req_stats();
    it_frame_append_id(buf, len, q, 1000 + (uint64_t)i);
  }
}

/* What the watcher's replies showed. */
typedef struct seen_s {
  int pending;     /* replies during a reclamation */
  int refs_values; /* distinct counts of references left, while pending */
} seen_t;

/* Receives the replies to stats_frames' requests; the counters only grow, and
 * the references left only go down. */
static seen_t recv_stats(it_conn_t *c) {
  seen_t seen = {0, 0};
  uint64_t last_refs = UINT64_MAX, last_reclaimed = 0;
  for (int i = 0; i < STATS; i++) {
    Arenad__Response *r =
        it_recv_reply(c, 1000 + (uint64_t)i, ARENAD__STATUS__STATUS_OK);
    const Arenad__StatsReply *s = r->stats;
    assert_true(s->reclaimed_blocks >= last_reclaimed);
    last_reclaimed = s->reclaimed_blocks;
    if (s->reclaims_pending > 0) {
      assert_int_equal(s->reclaims_pending, 1);
      assert_true(s->reclaim_refs_pending > 0 &&
                  s->reclaim_refs_pending < HELD);
      assert_true(s->reclaim_refs_pending <= last_refs);
      assert_int_equal(s->reclaimed_blocks + s->reclaim_refs_pending, HELD);
      seen.pending++;
      seen.refs_values += s->reclaim_refs_pending != last_refs;
      last_refs = s->reclaim_refs_pending;
    }
    it_resp_free(r);
  }
  return seen;
}

/* Waits on c until no reclamation is pending. */
static void wait_reclaimed(it_conn_t *c) {
  while (it_stat(c, "reclaims_pending") > 0)
    ;
}

static void test_close_is_reclaimed_in_turns(void **state) {
  (void)state;
  it_daemon_t d = {0};
  /* The watcher's stats, answered one per turn, arrive with the close
   * and are served among the thousand turns of the reclamation. */
  uint8_t *frames;
  size_t len;
  stats_frames(STATS, &frames, &len);
  it_conn_t *watcher = after_close(&d, config_short, frames, len);
  free(frames);
  seen_t seen = recv_stats(watcher);
  /* The watcher was served while the blocks went, several times. */
  assert_true(seen.pending > 0);
  assert_true(seen.refs_values >= 2);

  wait_reclaimed(watcher);
  assert_int_equal(it_live_blocks(watcher, "a"), 0);
  assert_int_equal(it_live_blocks(watcher, "b"), 0);
  it_check_ok(watcher, "a");
  it_check_ok(watcher, "b");
  assert_int_equal(it_stat(watcher, "reclaimed_connections"), 1);
  assert_int_equal(it_stat(watcher, "reclaimed_blocks"), HELD);
  assert_int_equal(it_stat(watcher, "reclaimed_bytes"), (uint64_t)HELD * 32);
  assert_int_equal(it_stat(watcher, "blocks_freed"), HELD);
  assert_int_equal(it_stat(watcher, "reclaim_refs_pending"), 0);
  /* 256 holds a slice at least: the first at the close, then turns. */
  uint64_t slices = it_stat(watcher, "reclaim_slices");
  assert_true(slices >= 2 && slices <= HELD / 256);
  it_close(watcher);

  assert_int_equal(it_daemon_stop(&d, SIGTERM), 0);
  /* One line for the whole reclamation, once it ended. */
  assert_true(it_log_line(&d, (const char *const[]){"reclaim ", "refs=262144 ",
                                                    "blocks=262144 ",
                                                    "bytes=8388608 ", NULL}));
  it_daemon_cleanup(&d);
}

/* Receives the replies to the two stats requests that after_close sent
 * with the close: the second, at least, finds the reclamation under way
 * (it takes a thousand turns). */
static void wait_pending(it_conn_t *c) {
  uint64_t pending = 0;
  for (int i = 0; i < 2; i++) {
    Arenad__Response *r =
        it_recv_reply(c, 1000 + (uint64_t)i, ARENAD__STATUS__STATUS_OK);
    pending = r->stats->reclaims_pending;
    it_resp_free(r);
  }
  assert_int_equal(pending, 1);
}

/* An arena destroyed, with force, while a closed connection's blocks in
 * it are still being freed: they go with it, the rest are reclaimed. */
static void test_destroy_during_reclaim(void **state) {
  (void)state;
  it_daemon_t d = {0};
  /* Sent with the close, the destroys come a turn each after the stats,
   * well inside the reclamation. */
  uint8_t *frames;
  size_t len;
  stats_frames(2, &frames, &len);
  Arenad__Request *q = it_req_destroy("a", false);
  it_frame_append_id(&frames, &len, q, 1);
  q = it_req_destroy("a", true);
  it_frame_append_id(&frames, &len, q, 2);
  it_conn_t *admin = after_close(&d, config_short, frames, len);
  free(frames);
  wait_pending(admin);
  /* Without force, the blocks still there keep the arena. */
  it_resp_free(
      it_recv_reply(admin, 1, ARENAD__STATUS__STATUS_INVALID_ARGUMENT));
  Arenad__Response *r = it_recv_reply(admin, 2, ARENAD__STATUS__STATUS_OK);
  uint64_t gone = r->destroy_arena->blocks_freed;
  it_resp_free(r);
  assert_true(gone > 0 && gone <= HELD / 2);

  wait_reclaimed(admin);
  assert_int_equal(it_live_blocks(admin, "b"), 0);
  it_check_ok(admin, "b");
  assert_int_equal(it_stat(admin, "reclaimed_connections"), 1);
  assert_int_equal(it_stat(admin, "reclaimed_blocks") + gone, HELD);
  it_close(admin);
  assert_int_equal(it_daemon_stop(&d, SIGTERM), 0);
  it_daemon_cleanup(&d);
}

/* Both arenas destroyed, with force, while a closed connection's blocks
 * are still being freed: the destroys take its last blocks, and the
 * reclamation ends with them, counted once: the stats sent right after the
 * destroys see nothing pending, one reclaimed connection, and every block
 * freed either by the destroys or by the reclamation. */
static void test_destroys_end_reclaim(void **state) {
  (void)state;
  it_daemon_t d = {0};
  uint8_t *frames;
  size_t len;
  stats_frames(2, &frames, &len);
  static const char *const names[] = {"a", "b"};
  for (uint64_t i = 0; i < 2; i++) {
    Arenad__Request *q = it_req_destroy(names[i], true);
    it_frame_append_id(&frames, &len, q, 1 + i);
  }
  Arenad__Request *q = it_req_stats();
  it_frame_append_id(&frames, &len, q, 3);
  it_conn_t *admin = after_close(&d, config_short, frames, len);
  free(frames);
  wait_pending(admin);
  uint64_t gone = 0;
  for (uint64_t id = 1; id <= 2; id++) {
    Arenad__Response *r = it_recv_reply(admin, id, ARENAD__STATUS__STATUS_OK);
    gone += r->destroy_arena->blocks_freed;
    it_resp_free(r);
  }
  Arenad__Response *r = it_recv_reply(admin, 3, ARENAD__STATUS__STATUS_OK);
  const Arenad__StatsReply *s = r->stats;
  assert_int_equal(s->reclaims_pending, 0);
  assert_int_equal(s->reclaim_refs_pending, 0);
  assert_int_equal(s->reclaimed_connections, 1);
  assert_true(gone > 0);
  assert_int_equal(s->reclaimed_blocks + gone, HELD);
  it_resp_free(r);
  it_close(admin);
  assert_int_equal(it_daemon_stop(&d, SIGTERM), 0);
  /* Its reclaim line counts only what the reclamation itself freed. */
  char blocks[64];
  snprintf(blocks, sizeof(blocks), "blocks=%llu ",
           (unsigned long long)(HELD - gone));
  assert_true(it_log_line(
      &d, (const char *const[]){"reclaim ", "refs=262144 ", blocks, NULL}));
  it_daemon_cleanup(&d);
}

/* A shutdown while a closed connection's blocks are being freed: the
 * daemon frees the rest and exits cleanly. The signal goes once the
 * reclamation is seen under way; in a run so slow that the reclamation
 * ended before the signal came (the log says so: its reclaim line before
 * the shutdown line), the whole scenario is tried again, up to 5 times. */
static void test_shutdown_during_reclaim(void **state) {
  (void)state;
  for (int attempt = 0; attempt < 5; attempt++) {
    it_daemon_t d = {0};
    uint8_t *frames;
    size_t len;
    stats_frames(2, &frames, &len);
    it_conn_t *other = after_close(&d, config_short, frames, len);
    free(frames);
    wait_pending(other);
    it_close(other);
    assert_int_equal(it_daemon_stop(&d, SIGTERM), 0);
    assert_true(
        it_log_line(&d, (const char *const[]){"reclaim ", "refs=262144 ",
                                              "blocks=262144 ", NULL}));
    int shutdown = it_log_line_no(
        &d, (const char *const[]){" shutdown reason=SIGTERM", NULL});
    int reclaim =
        it_log_line_no(&d, (const char *const[]){" reclaim conn=", NULL});
    assert_true(shutdown > 0 && reclaim > 0);
    it_daemon_cleanup(&d);
    if (shutdown < reclaim)
      return;
  }
  fail_msg("the reclamation ended before SIGTERM came, 5 times");
}

/* With no budget the close frees every block before anything else. */
static void test_no_budget_reclaims_at_close(void **state) {
  (void)state;
  it_daemon_t d = {0};
  it_conn_t *watcher = after_close(&d, config_none, NULL, 0);
  it_barrier(watcher);
  assert_int_equal(it_stat(watcher, "reclaimed_blocks"), HELD);
  assert_int_equal(it_stat(watcher, "reclaim_slices"), 0);
  assert_int_equal(it_live_blocks(watcher, "a"), 0);
  it_close(watcher);
  assert_int_equal(it_daemon_stop(&d, SIGTERM), 0);
  it_daemon_cleanup(&d);
}

/* Waits on c, for 30 s at most, until `n` connections were reclaimed. */
static void wait_reclaimed_connections(it_conn_t *c, uint64_t n) {
  time_t until = time(NULL) + 30;
  while (it_stat(c, "reclaimed_connections") < n)
    assert_true(time(NULL) < until);
}

/* Two closed connections reclaimed in turns, one after the other: the
 * first reclamation, the queue's head and tail, ends in a turn and leaves
 * the queue; the second is then queued and sliced in its turn, and ends
 * too, every block back. */
static void test_reclaims_one_after_another(void **state) {
  (void)state;
  it_daemon_t d = {0};
  it_conn_t *watcher = after_close(&d, config_short, NULL, 0);
  wait_reclaimed_connections(watcher, 1);
  uint64_t slices = it_stat(watcher, "reclaim_slices");
  assert_true(slices > 0); /* it ended in a turn */
  assert_int_equal(it_stat(watcher, "reclaims_pending"), 0);

  it_close(holder(&d));
  wait_reclaimed_connections(watcher, 2);
  assert_true(it_stat(watcher, "reclaim_slices") > slices);
  assert_int_equal(it_stat(watcher, "reclaims_pending"), 0);
  assert_int_equal(it_stat(watcher, "reclaimed_blocks"), 2 * HELD);
  assert_int_equal(it_live_blocks(watcher, "a"), 0);
  assert_int_equal(it_live_blocks(watcher, "b"), 0);
  it_check_ok(watcher, "a");
  it_check_ok(watcher, "b");
  it_close(watcher);
  assert_int_equal(it_daemon_stop(&d, SIGTERM), 0);
  it_daemon_cleanup(&d);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_close_is_reclaimed_in_turns),
      cmocka_unit_test(test_destroy_during_reclaim),
      cmocka_unit_test(test_destroys_end_reclaim),
      cmocka_unit_test(test_shutdown_during_reclaim),
      cmocka_unit_test(test_no_budget_reclaims_at_close),
      cmocka_unit_test(test_reclaims_one_after_another),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
