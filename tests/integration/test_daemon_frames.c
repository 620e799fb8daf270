/*
 * test_daemon_frames.c: every reply fits in a frame, on a real arenad at
 * the smallest frame limit (4 KiB). The largest alloc its limits allow
 * (max_blocks_per_request blocks) is answered with every offset, and the
 * free of them all with every status. create_arena makes arenas with the
 * longest names until the list of the arenas could pass the frame limit,
 * then refuses with LIMIT_EXCEEDED (counted), and `list` still answers
 * with every arena. A configuration under which an alloc's reply could
 * pass the frame limit does not start.
 */
#include "itest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_BLOCKS 512

static const char config[] = "[daemon]\n"
                             "max_frame_bytes = 4K\n"
                             "max_blocks_per_request = 512\n"
                             "[arena a]\n"
                             "size = 4M\n";

static void test_largest_alloc_and_free(void **state) {
  (void)state;
  it_conn_t *c = it_connect(it_group.sock);
  it_hello_ok(c);
  Arenad__Response *r =
      it_call(c, it_req_alloc("a", 16, 0, MAX_BLOCKS, false), NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_OK);
  assert_int_equal(r->alloc->n_offsets, MAX_BLOCKS);
  uint64_t *offsets = malloc(MAX_BLOCKS * sizeof(*offsets));
  assert_non_null(offsets);
  memcpy(offsets, r->alloc->offsets, MAX_BLOCKS * sizeof(*offsets));
  it_resp_free(r);

  /* every block freed (no statuses: all succeeded); a second free of
   * them all fails block by block, with a status each */
  for (int round = 0; round < 2; round++) {
    r = it_call(c, it_req_free("a", offsets, MAX_BLOCKS), NULL);
    assert_int_equal(r->body_case, ARENAD__RESPONSE__BODY_FREE);
    assert_int_equal(r->free->n_statuses, round == 0 ? 0 : MAX_BLOCKS);
    assert_int_equal(r->free->freed, round == 0 ? MAX_BLOCKS : 0);
    if (round == 1)
      assert_int_not_equal(r->status, ARENAD__STATUS__STATUS_OK);
    it_resp_free(r);
  }
  free(offsets);
  assert_int_equal(it_live_blocks(c, "a"), 0);
  it_close(c);
}

/* name (65 bytes): the 64-character arena name number i (i < 1000). */
static void long_name(char *name, unsigned i) {
  snprintf(name, 65, "%03u", i % 1000u);
  memset(name + 3, 'n', 61);
  name[64] = '\0';
}

/* The limit_exceeded count of the daemon's error counters. */
static uint64_t limit_errors(it_conn_t *c) {
  Arenad__Response *r = it_call(c, it_req_stats(), NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_OK);
  uint64_t n = r->stats->errors->limit_exceeded;
  it_resp_free(r);
  return n;
}

static void test_list_stays_within_the_frame(void **state) {
  (void)state;
  it_conn_t *c = it_connect(it_group.sock);
  it_hello_ok(c);
  uint64_t before = limit_errors(c);
  char name[65];
  unsigned made = 0;
  for (;; made++) {
    long_name(name, made);
    Arenad__Response *r = it_call(
        c, it_req_create(name, 4096, ARENAD__POLICY__POLICY_FIRST, NULL, 0, 0),
        NULL);
    if (r->status != ARENAD__STATUS__STATUS_OK) {
      it_assert_status(r, ARENAD__STATUS__STATUS_LIMIT_EXCEEDED);
      assert_non_null(strstr(r->message, "over max_frame_bytes (4096)"));
      it_resp_free(r);
      break;
    }
    it_resp_free(r);
    assert_true(made < 256);
  }
  assert_true(made >= 10); /* a 4 KiB frame holds a few dozen */
  assert_int_equal(limit_errors(c), before + 1);

  Arenad__Response *r = it_call(c, it_req_list(), NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_OK);
  assert_int_equal(r->list->n_arenas, 1 + made);
  it_resp_free(r);

  /* destroying one makes room for one again */
  assert_int_equal(it_status(c, it_req_destroy(name, true)),
                   ARENAD__STATUS__STATUS_NOT_FOUND); /* never made */
  long_name(name, 0);
  assert_int_equal(it_status(c, it_req_destroy(name, true)), 0);
  assert_int_equal(
      it_status(c, it_req_create(name, 4096, ARENAD__POLICY__POLICY_FIRST, NULL,
                                 0, 0)),
      0);
  it_close(c);
}

static void test_refused_configuration(void **state) {
  (void)state;
  it_daemon_t d = {0};
  /* max_blocks_per_request stays at its default, 4096 */
  assert_int_equal(
      it_daemon_start(&d, "[daemon]\nmax_frame_bytes = 4K\n", NULL), 2);
  assert_true(it_log_contains(&d, "cannot hold the reply to an alloc of "
                                  "max_blocks_per_request (4096) blocks"));
  it_daemon_cleanup(&d);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_largest_alloc_and_free),
      cmocka_unit_test(test_list_stays_within_the_frame),
      cmocka_unit_test(test_refused_configuration),
      cmocka_unit_test(it_test_exits_cleanly),
  };
  it_group_config = config;
  return cmocka_run_group_tests(tests, it_group_setup, it_group_teardown);
}
