/*
 * badinput_harness.c: what the test_daemon_badinput_* tests that share a
 * daemon have in common, see badinput_harness.h: the group's daemon and
 * its bystander, mid-conversation while each hostile case runs.
 */
#include "badinput_harness.h"

#include <stdbool.h>
#include <stdlib.h>

const char config[] = "[daemon]\n"
                      "max_frame_bytes = 64K\n"
                      "max_blocks_per_request = 100\n"
                      "\n"
                      "[arena one]\n"
                      "size = 1M\n"
                      "\n"
                      "[arena two]\n"
                      "size = 1M\n"
                      "policy = buddy\n";

it_conn_t *bystander;
uint64_t bystander_blocks[4];

/* The bystander is mid-conversation while each hostile case runs: a ping
 * sent and not yet read, and an alloc of which half the frame is sent. */
static bool mid;
static uint8_t *mid_buf;
static size_t mid_len, mid_sent;

void bystander_begin(void) {
  Arenad__Request *q = it_req_ping();
  it_frame_append_id(&mid_buf, &mid_len, q, 900001);
  size_t ping_len = mid_len;
  q = it_req_alloc("two", 200, 0, 1, false);
  it_frame_append_id(&mid_buf, &mid_len, q, 900002);
  mid_sent = ping_len + (mid_len - ping_len) / 2;
  it_send_raw(bystander, mid_buf, mid_sent);
  mid = true;
}

void bystander_end(void) {
  if (!mid)
    return;
  it_send_raw(bystander, mid_buf + mid_sent, mid_len - mid_sent);
  free(mid_buf);
  mid_buf = NULL;
  mid_len = mid_sent = 0;
  mid = false;
  it_resp_free(it_recv_reply(bystander, 900001, ARENAD__STATUS__STATUS_OK));
  Arenad__Response *r =
      it_recv_reply(bystander, 900002, ARENAD__STATUS__STATUS_OK);
  uint64_t off = r->alloc->offsets[0];
  it_resp_free(r);
  it_free_ok(bystander, "two", off);
}

int setup(void **state) {
  it_group_setup(state);
  bystander = it_connect(it_group.sock);
  it_hello_ok(bystander);
  for (int i = 0; i < 4; i++)
    bystander_blocks[i] =
        it_alloc_ok(bystander, i % 2 ? "two" : "one", 100 + (uint64_t)i);
  bystander_begin();
  return 0;
}

void all_is_well(void) {
  bystander_end();
  it_resp_free(it_call(bystander, it_req_ping(), NULL));
  uint64_t off = it_alloc_ok(bystander, "one", 64);
  it_free_ok(bystander, "one", off);
  Arenad__Response *r = it_call(
      bystander,
      it_req_inspect("one", ARENAD__INSPECT_WHAT__INSPECT_BLOCKS, 0, 0), NULL);
  bool found = false;
  for (size_t i = 0; i < r->inspect->n_extents; i++)
    found |= r->inspect->extents[i]->payload == bystander_blocks[0];
  assert_true(found);
  it_resp_free(r);
  it_check_ok(bystander, "one");
  it_check_ok(bystander, "two");
  bystander_begin();
}

int teardown(void **state) {
  it_close(bystander);
  bystander = NULL;
  free(mid_buf);
  mid_buf = NULL;
  return it_group_teardown(state);
}

void test_exits_cleanly(void **state) {
  all_is_well();
  bystander_end();
  for (int i = 0; i < 4; i++)
    it_free_ok(bystander, i % 2 ? "two" : "one", bystander_blocks[i]);
  it_check_ok(bystander, "one");
  it_check_ok(bystander, "two");
  assert_int_equal(it_live_blocks(bystander, "one"), 0);
  assert_int_equal(it_live_blocks(bystander, "two"), 0);
  it_close(bystander);
  bystander = NULL;
  it_test_exits_cleanly(state);
}
