/*
 * test_client_pipeline.c: pipelined requests (arenad_submit_*,
 * arenad_flush, arenad_collect) against the fake daemon (fake_daemon.h)
 * on a socketpair: results collected in order, the window, requests sent
 * in batches, the hand-written encoding of the hot path's requests at varint
 * boundaries, a reply of another kind or count or with a descriptor, the
 * overwritten headers a pipelined free reports and the replies that name them
 * wrongly, and a handle that breaks with requests in flight, which drops them.
 */
#include "fake_daemon.h"

#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "arenad_assert.h"

static void test_pipeline(void **state) {
  fixture_t *f = *state;
  uint64_t offs[2] = {32, 64};
  send_alloc_reply(f->srv, 1, offs, 2);
  send_error_reply(f->srv, 2, ARENAD__STATUS__STATUS_OUT_OF_MEMORY, "no room");
  send_free_reply(f->srv, 3, ARENAD__STATUS__STATUS_OK, "", 2, NULL, 0);
  Arenad__Response r4 = ping_reply(4);
  send_reply(f->srv, &r4);

  assert_arenad_ok(f->h, arenad_submit_alloc(f->h, "a", 8, 0, 2, 0, 100));
  assert_arenad_ok(f->h, arenad_submit_alloc(f->h, "a", 1 << 30, 0, 1, 0, 101));
  assert_arenad_ok(f->h, arenad_submit_free(f->h, "a", offs, 2, 102));
  assert_arenad_ok(f->h, arenad_submit_ping(f->h, 103));
  assert_int_equal(arenad_in_flight(f->h), 4);
  /* No blocking call while requests are in flight. */
  assert_int_equal(arenad_ping(f->h), AR_EINVAL);

  arenad_result_t res;
  assert_arenad_ok(f->h, arenad_collect(f->h, &res));
  assert_int_equal(res.op, ARENAD_OP_ALLOC);
  assert_int_equal(res.tag, 100);
  assert_int_equal(res.status, 0);
  assert_int_equal(res.n_offsets, 2);
  assert_int_equal(res.offsets[1], 64);
  assert_arenad_ok(f->h, arenad_collect(f->h, &res));
  assert_int_equal(res.tag, 101);
  assert_int_equal(res.status, AR_ENOMEM);
  assert_string_equal(arenad_error(f->h), "no room");
  assert_arenad_ok(f->h, arenad_collect(f->h, &res));
  assert_int_equal(res.op, ARENAD_OP_FREE);
  assert_int_equal(res.freed, 2);
  assert_arenad_ok(f->h, arenad_collect(f->h, &res));
  assert_int_equal(res.op, ARENAD_OP_PING);
  assert_int_equal(res.tag, 103);
  assert_int_equal(arenad_in_flight(f->h), 0);
  assert_int_equal(arenad_collect(f->h, &res), AR_EINVAL);

  for (uint64_t id = 1; id <= 4; id++)
    expect_request(f->srv, id,
                   id <= 2   ? ARENAD__REQUEST__BODY_ALLOC
                   : id == 3 ? ARENAD__REQUEST__BODY_FREE
                             : ARENAD__REQUEST__BODY_PING);
}

static void test_pipeline_window(void **state) {
  fixture_t *f = *state;
  size_t w = arenad_window(f->h);
  assert_int_equal(w, ARENAD_WINDOW_DEFAULT);
  for (size_t i = 0; i < w; i++)
    assert_arenad_ok(f->h, arenad_submit_ping(f->h, i));
  assert_int_equal(arenad_submit_ping(f->h, w), AR_ELIMIT);
  assert_int_equal(arenad_in_flight(f->h), w); /* collect first */
  assert_arenad_ok(f->h, arenad_flush(f->h));
  for (size_t i = 0; i < w; i++)
    expect_request(f->srv, i + 1, ARENAD__REQUEST__BODY_PING);
}

/* Whether the fake daemon has bytes to read now (without waiting). */
static bool readable(int srv) {
  struct pollfd pfd = {.fd = srv, .events = POLLIN};
  return poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLIN) != 0;
}

/* Submitted requests are sent in batches of 32 (ARENAD__FLUSH_BATCH), so
 * that the daemon starts on them while the caller still queues more: the
 * 33rd submit sends the 32 before it, and keeps itself until the next
 * batch or a flush. */
static void test_pipeline_batches(void **state) {
  fixture_t *f = *state;
  for (uint64_t i = 0; i < 32; i++)
    assert_arenad_ok(f->h, arenad_submit_ping(f->h, i));
  assert_false(readable(f->srv)); /* 32 queued, none sent yet */
  assert_arenad_ok(f->h, arenad_submit_ping(f->h, 32));
  assert_true(readable(f->srv));
  for (uint64_t id = 1; id <= 32; id++)
    expect_request(f->srv, id, ARENAD__REQUEST__BODY_PING);
  assert_false(readable(f->srv));
  assert_arenad_ok(f->h, arenad_flush(f->h));
  expect_request(f->srv, 33, ARENAD__REQUEST__BODY_PING);
}

/* The hand-written requests, at varint boundaries: read_request re-packs
 * each with protobuf-c and compares the bytes. */
static void test_encoding(void **state) {
  fixture_t *f = *state;
  static const uint64_t offs[] = {
      0, 1, 127, 128, 16383, 16384, 1ull << 35, INT64_MAX, UINT64_MAX};
  static const uint64_t sizes[] = {1, 127, 128, 1ull << 40, UINT64_MAX};
  char name[300];
  memset(name, 'n', sizeof name - 1);
  name[sizeof name - 1] = '\0'; /* a name whose length takes 2 bytes */
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
    assert_arenad_ok(f->h,
                     arenad_submit_alloc(f->h, i % 2 ? "a" : name, sizes[i],
                                         sizes[i] & 4096, (uint32_t)i * 1000,
                                         i % 2 ? ARENAD_ALLOC_DETACHED : 0, 0));
  assert_arenad_ok(f->h, arenad_submit_free(f->h, "a", offs,
                                            sizeof offs / sizeof offs[0], 0));
  assert_arenad_ok(f->h, arenad_submit_free(f->h, name, offs + 8, 1, 0));
  assert_arenad_ok(f->h, arenad_submit_ping(f->h, 0));
  assert_arenad_ok(f->h, arenad_flush(f->h));
  for (uint64_t id = 1; id <= 8; id++) {
    Arenad__Request *req = read_request(f->srv);
    assert_int_equal(req->id, id);
    if (id == 6) {
      assert_int_equal(req->free->n_offsets, sizeof offs / sizeof offs[0]);
      assert_int_equal(req->free->offsets[8], UINT64_MAX);
    }
    arenad__request__free_unpacked(req, NULL);
  }
}

static void test_pipeline_mismatch(void **state) {
  fixture_t *f = *state;
  Arenad__Response r = ping_reply(1); /* answers an alloc with a ping */
  send_reply(f->srv, &r);
  assert_arenad_ok(f->h, arenad_submit_alloc(f->h, "a", 8, 0, 1, 0, 0));
  arenad_result_t res;
  assert_int_equal(arenad_collect(f->h, &res), AR_EPROTO);
  assert_int_equal(arenad_submit_ping(f->h, 0), AR_EIO);
}

/* Submits an alloc of `count` blocks, which the fake daemon answers with
 * the one offset 48, and collects the reply in *res; returns what
 * arenad_collect does. */
static int collect_one_offset(fixture_t *f, uint32_t count,
                              arenad_result_t *res) {
  uint64_t off = 48;
  send_alloc_reply(f->srv, 1, &off, 1);
  assert_arenad_ok(f->h, arenad_submit_alloc(f->h, "a", 8, 0, count, 0, 0));
  return arenad_collect(f->h, res);
}

/* A pipelined alloc of count 0 is of one block, as arenad.h says: the
 * reply's one offset is the answer, not a mismatch. */
static void test_pipeline_count_zero(void **state) {
  fixture_t *f = *state;
  arenad_result_t res;
  assert_arenad_ok(f->h, collect_one_offset(f, 0, &res));
  assert_int_equal(res.status, 0);
  assert_int_equal(res.n_offsets, 1);
  assert_int_equal(res.offsets[0], 48);
  expect_request(f->srv, 1, ARENAD__REQUEST__BODY_ALLOC);
}

/* A pipelined alloc's reply with other than the blocks asked for, and a
 * pipelined reply that comes with a descriptor, break the handle as a
 * blocking call's do. */
static void test_pipeline_wrong_count(void **state) {
  fixture_t *f = *state;
  arenad_result_t res;
  assert_int_equal(collect_one_offset(f, 2, &res), AR_EPROTO);
  assert_non_null(strstr(arenad_error(f->h), "1 offsets for 2 blocks"));
  assert_int_equal(res.n_offsets, 0);
}

/* arenad_collect_overwritten: after a pipelined free, the indices the
 * daemon named, as it named them; after any other result, and after a
 * free that named none, nothing. */
static void test_pipeline_overwritten(void **state) {
  fixture_t *f = *state;
  uint64_t offs[4] = {16, 4112, 8208, 12304};
  uint32_t idx[2] = {1, 3};
  Arenad__Status st[4] = {ARENAD__STATUS__STATUS_INVALID_ARGUMENT,
                          ARENAD__STATUS__STATUS_OK, ARENAD__STATUS__STATUS_OK,
                          ARENAD__STATUS__STATUS_OK};
  send_free_reply_ow(f->srv, 1, ARENAD__STATUS__STATUS_INVALID_ARGUMENT,
                     "offset 16 is not a live block", 3, st, 4, idx, 2);
  Arenad__Response r2 = ping_reply(2);
  send_reply(f->srv, &r2);
  send_free_reply(f->srv, 3, ARENAD__STATUS__STATUS_OK, "", 4, NULL, 0);

  const uint32_t *got = (const uint32_t *)offs; /* must be replaced */
  assert_int_equal(arenad_collect_overwritten(f->h, &got), 0);
  assert_null(got);
  assert_arenad_ok(f->h, arenad_submit_free(f->h, "a", offs, 4, 1));
  assert_arenad_ok(f->h, arenad_submit_ping(f->h, 2));
  assert_arenad_ok(f->h, arenad_submit_free(f->h, "a", offs, 4, 3));

  arenad_result_t res;
  assert_arenad_ok(f->h, arenad_collect(f->h, &res));
  assert_int_equal(res.status, AR_EINVAL);
  assert_int_equal(res.freed, 3);
  assert_int_equal(arenad_collect_overwritten(f->h, &got), 2);
  assert_int_equal(got[0], 1);
  assert_int_equal(got[1], 3);
  assert_int_equal(arenad_collect_overwritten(f->h, NULL), 2);
  assert_arenad_ok(f->h, arenad_collect(f->h, &res)); /* the ping */
  assert_int_equal(arenad_collect_overwritten(f->h, &got), 0);
  assert_null(got);
  assert_arenad_ok(f->h, arenad_collect(f->h, &res));
  assert_int_equal(res.freed, 4);
  assert_int_equal(arenad_collect_overwritten(f->h, &got), 0);
  assert_null(got);
  assert_int_equal(arenad_collect_overwritten(NULL, &got), 0);
  for (uint64_t id = 1; id <= 3; id++)
    expect_request(f->srv, id,
                   id == 2 ? ARENAD__REQUEST__BODY_PING
                           : ARENAD__REQUEST__BODY_FREE);
}

/* arenad_collect_overwritten gives nothing after a collect that failed,
 * whether it failed at once (nothing in flight, a broken handle) or on
 * the reply, however many the collect before it gave. (Found by
 * fuzz_client: a collect that returned before reading kept the indices of
 * the one before.) */
static void test_pipeline_overwritten_after_a_failed_collect(void **state) {
  fixture_t *f = *state;
  uint64_t offs[2] = {16, 4112};
  uint32_t idx[2] = {0, 1};
  arenad_result_t res;
  const uint32_t *got;
  for (uint64_t id = 1; id <= 2; id++) {
    send_free_reply_ow(f->srv, id, ARENAD__STATUS__STATUS_OK, "", 2, NULL, 0,
                       idx, 2);
    assert_arenad_ok(f->h, arenad_submit_free(f->h, "a", offs, 2, id));
    assert_arenad_ok(f->h, arenad_collect(f->h, &res));
    assert_int_equal(arenad_collect_overwritten(f->h, NULL), 2);
    expect_request(f->srv, id, ARENAD__REQUEST__BODY_FREE);
    if (id == 1) { /* nothing in flight */
      assert_int_equal(arenad_collect(f->h, &res), AR_EINVAL);
    } else { /* broken: the daemon closed, then a collect on it */
      send_last_word(f->srv);
      assert_int_equal(arenad_ping(f->h), AR_EIO);
      assert_int_equal(arenad_collect(f->h, &res), AR_EIO);
    }
    got = idx;
    assert_int_equal(arenad_collect_overwritten(f->h, &got), 0);
    assert_null(got);
  }
}

/* A pipelined free's reply naming idx[0..n) of three offsets, with the
 * statuses st[0..ns), is a protocol error, as for a blocking free: the
 * handle breaks and nothing is passed on. */
static void bad_pipelined_free(fixture_t *f, uint32_t *idx, size_t n,
                               Arenad__Status *st, size_t ns, const char *why) {
  uint64_t offs[3] = {16, 4112, 8208};
  send_free_reply_ow(f->srv, 1,
                     st != NULL ? ARENAD__STATUS__STATUS_INVALID_ARGUMENT
                                : ARENAD__STATUS__STATUS_OK,
                     "", 2, st, ns, idx, n);
  assert_arenad_ok(f->h, arenad_submit_free(f->h, "a", offs, 3, 0));
  arenad_result_t res;
  assert_int_equal(arenad_collect(f->h, &res), AR_EPROTO);
  assert_non_null(strstr(arenad_error(f->h), why));
  assert_int_equal(res.freed, 0);
  assert_int_equal(arenad_collect_overwritten(f->h, NULL), 0);
  assert_int_equal(arenad_submit_ping(f->h, 0), AR_EIO);
}

static void test_pipeline_overwritten_past_the_request(void **state) {
  bad_pipelined_free(*state, (uint32_t[]){1, 3}, 2, NULL, 0,
                     "overwritten header");
}

static void test_pipeline_overwritten_out_of_order(void **state) {
  bad_pipelined_free(*state, (uint32_t[]){2, 1}, 2, NULL, 0,
                     "overwritten header");
}

static void test_pipeline_overwritten_of_a_failure(void **state) {
  Arenad__Status st[3] = {ARENAD__STATUS__STATUS_OK,
                          ARENAD__STATUS__STATUS_PERMISSION_DENIED,
                          ARENAD__STATUS__STATUS_OK};
  bad_pipelined_free(*state, (uint32_t[]){1}, 1, st, 3, "overwritten header");
}

/* As test_overwritten_of_a_refused_free (test_client_rejects.c), pipelined. */
static void test_pipeline_overwritten_of_a_refused_free(void **state) {
  fixture_t *f = *state;
  uint64_t offs[3] = {16, 4112, 8208};
  send_free_reply_ow(f->srv, 1, ARENAD__STATUS__STATUS_NOT_FOUND,
                     "no arena called a", 0, NULL, 0, (uint32_t[]){0}, 1);
  assert_arenad_ok(f->h, arenad_submit_free(f->h, "a", offs, 3, 0));
  arenad_result_t res;
  assert_int_equal(arenad_collect(f->h, &res), AR_EPROTO);
  assert_non_null(strstr(arenad_error(f->h), "overwritten header"));
  assert_int_equal(arenad_collect_overwritten(f->h, NULL), 0);
  assert_int_equal(arenad_submit_ping(f->h, 0), AR_EIO);
}

static void test_pipeline_free_fewer_statuses(void **state) {
  Arenad__Status st[2] = {ARENAD__STATUS__STATUS_OK,
                          ARENAD__STATUS__STATUS_PERMISSION_DENIED};
  bad_pipelined_free(*state, NULL, 0, st, 2, "2 statuses for 3 offsets");
}

static void test_pipeline_fd(void **state) {
  fixture_t *f = *state;
  int seg = make_segment(4096);
  Arenad__Response r = ping_reply(1);
  send_reply_fds(f->srv, &r, &seg, 1);
  close(seg);
  assert_arenad_ok(f->h, arenad_submit_ping(f->h, 0));
  arenad_result_t res;
  assert_int_equal(arenad_collect(f->h, &res), AR_EPROTO);
  assert_non_null(
      strstr(arenad_error(f->h), "descriptor with a pipelined reply"));
  /* teardown checks that the descriptor received was closed */
}

/* A handle broken with pipelined requests in flight: attach says that the
 * connection is gone (AR_EIO), as every blocking call does, not that
 * requests are in flight (AR_EINVAL), also for an arena it has mapped
 * (which it would give back without asking), and the first reason stays. */
static void test_attach_after_break(void **state) {
  fixture_t *f = *state;
  arenad_map_t map = attach_4k(f);
  assert_arenad_ok(f->h, arenad_submit_ping(f->h, 1));
  assert_arenad_ok(f->h, arenad_submit_ping(f->h, 2));
  Arenad__Response r = ping_reply(77); /* answers neither */
  send_reply(f->srv, &r);
  arenad_result_t res;
  assert_int_equal(arenad_collect(f->h, &res), AR_EPROTO);
  assert_int_equal(arenad_attach(f->h, "a", 0, NULL), AR_EIO);
  assert_int_equal(arenad_attach(f->h, "b", 0, NULL), AR_EIO);
  assert_int_equal(arenad_ping(f->h), AR_EIO);
  assert_non_null(strstr(arenad_error(f->h), "does not answer request 2"));
  /* The mapping stays until it is detached. */
  assert_ptr_equal(arenad_ptr(f->h, "a", 0), map.base);
}

/* When the handle breaks, the requests still in flight are dropped (no
 * reply can come for them): arenad_in_flight is 0, so a loop that
 * collects while it is not ends, whether the break came with a reply
 * (here garbage after the first) or with a send (the daemon's end shut). */
static void test_break_drops_pipeline(void **state) {
  fixture_t *f = *state;
  for (uint64_t tag = 1; tag <= 3; tag++)
    assert_arenad_ok(f->h, arenad_submit_ping(f->h, tag));
  Arenad__Response r = ping_reply(1);
  send_reply(f->srv, &r);
  static const uint8_t garbage[] = {0x80, 0x00}; /* a malformed prefix */
  send_raw(f->srv, garbage, sizeof garbage, NULL, 0);
  arenad_result_t res;
  int n = 0, rc = 0;
  while (arenad_in_flight(f->h) > 0 && n < 10) {
    rc = arenad_collect(f->h, &res);
    n++;
  }
  assert_int_equal(n, 2); /* the first reply, then the garbage */
  assert_int_equal(rc, AR_EPROTO);
  assert_int_equal(arenad_collect(f->h, &res), AR_EIO);
  assert_int_equal(arenad_in_flight(f->h), 0);
  assert_int_equal(arenad_submit_ping(f->h, 4), AR_EIO);
  assert_int_equal(arenad_in_flight(f->h), 0);
}

/* The same when the send breaks it: the daemon's end is shut. */
static void test_break_on_send_drops_pipeline(void **state) {
  fixture_t *f = *state;
  for (uint64_t tag = 1; tag <= 3; tag++)
    assert_arenad_ok(f->h, arenad_submit_ping(f->h, tag));
  assert_int_equal(shutdown(f->srv, SHUT_RDWR), 0);
  assert_int_equal(arenad_flush(f->h), AR_EIO);
  assert_int_equal(arenad_in_flight(f->h), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
      T(test_pipeline),
      T(test_pipeline_window),
      T(test_pipeline_batches),
      T(test_encoding),
      T(test_pipeline_mismatch),
      T(test_pipeline_count_zero),
      T(test_pipeline_wrong_count),
      T(test_pipeline_overwritten),
      T(test_pipeline_overwritten_past_the_request),
      T(test_pipeline_overwritten_out_of_order),
      T(test_pipeline_overwritten_of_a_failure),
      T(test_pipeline_overwritten_of_a_refused_free),
      T(test_pipeline_overwritten_after_a_failed_collect),
      T(test_pipeline_free_fewer_statuses),
      T(test_pipeline_fd),
      T(test_attach_after_break),
      T(test_break_drops_pipeline),
      T(test_break_on_send_drops_pipeline),
#undef T
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
