/*
 * test_daemon_quota.c: per-connection quotas on a real arenad: bytes (the
 * blocks' bytes, header and rounding included) and blocks, each refusal a
 * LIMIT_EXCEEDED with the quota and the use in its message; retained and
 * received references charged to their holder (once per block); the
 * detached blocks held to one quota together; use given back by frees
 * and by a connection's end; the refusals counted per arena and
 * daemon-wide, and logged, the lines rate limited. And the daemon-wide
 * max_live_blocks and max_shared_holds, and which refusal a request over both a
 * quota and one of them gets (the quota's).
 */
#include "itest.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define ARENA "q"

/* First fit: 1008 bytes take a block of 1024, 16 bytes one of 32. */
static const char config[] = "[arena q]\n"
                             "size = 1M\n"
                             "policy = first\n"
                             "quota_bytes = 4K\n"
                             "quota_blocks = 4\n"
                             "[arena unlimited]\n"
                             "size = 1M\n";

/* Allocates count blocks of n bytes; returns the first offset (offsets
 * follow in outs when not NULL). */
static void alloc_ok(it_conn_t *c, uint64_t n, uint32_t count, bool detached,
                     uint64_t *outs) {
  it_alloc_n_ok(c, ARENA, n, count, detached, outs);
}

/* The request must be refused over quota with exactly `message`. */
static void refused(it_conn_t *c, Arenad__Request *req, const char *message) {
  Arenad__Response *r = it_call(c, req, NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_LIMIT_EXCEEDED);
  assert_int_equal(r->body_case, ARENAD__RESPONSE__BODY__NOT_SET);
  assert_string_equal(r->message, message);
  it_resp_free(r);
}

static void test_list_shows_quotas(void **state) {
  (void)state;
  it_conn_t *c = it_connect(it_group.sock);
  Arenad__Response *r = it_call(c, it_req_list(), NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_OK);
  assert_int_equal(r->list->n_arenas, 2);
  assert_string_equal(r->list->arenas[0]->name, "q");
  assert_int_equal(r->list->arenas[0]->quota_bytes, 4096);
  assert_int_equal(r->list->arenas[0]->quota_blocks, 4);
  assert_int_equal(r->list->arenas[1]->quota_bytes, 0);
  it_resp_free(r);
  it_close(c);
}

static void test_bytes_and_blocks(void **state) {
  (void)state;
  it_conn_t *a = it_connect(it_group.sock), *b = it_connect(it_group.sock);
  uint64_t ida;
  it_hello_id(a, NULL, &ida);
  it_hello_ok(b);

  /* A block of the arena's whole size could fit, so the quota refuses it
   * like any other. */
  refused(a, it_req_alloc(ARENA, (1u << 20) - 16, 0, 1, false),
          "arena 'q': quota_bytes is 4096: 0 in use, the request needs "
          "1048576 more");
  uint64_t offs[4];
  alloc_ok(a, 1008, 3, false, offs);
  refused(a, it_req_alloc(ARENA, 2000, 0, 1, false),
          "arena 'q': quota_bytes is 4096: 3072 in use, the request needs "
          "2016 more");
  alloc_ok(a, 1008, 1, false, offs + 3); /* exactly at the quota */
  refused(a, it_req_alloc(ARENA, 1, 0, 1, false),
          "arena 'q': quota_blocks is 4: 4 in use, the request needs 1 more");
  /* Another arena, another connection: their own use. */
  it_free_ok(a, "unlimited", it_alloc_ok(a, "unlimited", 100000));
  alloc_ok(b, 16, 4, false, NULL);
  refused(b, it_req_alloc(ARENA, 16, 0, 1, false),
          "arena 'q': quota_blocks is 4: 4 in use, the request needs 1 more");

  /* A free gives the use back. */
  it_free_ok(a, ARENA, offs[0]);
  alloc_ok(a, 1008, 1, false, offs);

  /* The log says who, where and why. */
  char holder[64];
  snprintf(holder, sizeof(holder), " holder=conn:%llu ",
           (unsigned long long)ida);
  const char *line[] = {" warn quota-refused ",
                        " request=alloc ",
                        " arena=q ",
                        holder,
                        "quota_bytes is 4096: 3072 in use",
                        NULL};
  assert_true(it_log_line(&it_group, line));
  it_close(a);
  it_close(b);
}

/* Retained and received references count against their holder's quota,
 * once per block. */
static void test_retain_and_transfer_charged(void **state) {
  (void)state;
  it_conn_t *a = it_connect(it_group.sock), *c = it_connect(it_group.sock);
  uint64_t ta, ida, tc, idc;
  it_hello_id(a, &ta, &ida);
  it_hello_id(c, &tc, &idc);
  uint64_t offs[4];
  alloc_ok(a, 1008, 4, false, offs);
  for (int i = 0; i < 3; i++) {
    Arenad__Response *r = it_call(c, it_req_retain(ARENA, offs[i]), NULL);
    it_assert_status(r, ARENAD__STATUS__STATUS_OK);
    it_resp_free(r);
  }
  /* c holds 3 blocks (3072 bytes) and may take one more: a second
   * reference to a block it holds costs nothing. */
  Arenad__Response *r = it_call(c, it_req_retain(ARENA, offs[0]), NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_OK);
  it_resp_free(r);
  uint64_t mine;
  alloc_ok(c, 16, 1, false, &mine); /* 4 blocks now */
  refused(c, it_req_retain(ARENA, offs[3]),
          "arena 'q': quota_blocks is 4: 4 in use, the request needs 1 more");

  /* A transfer to c is refused for c's quota; to a holder of the block,
   * it costs nothing. */
  char msg[160];
  snprintf(msg, sizeof(msg),
           "arena 'q', the quota of connection %llu: quota_blocks is 4: 4 "
           "in use, the request needs 1 more",
           (unsigned long long)idc);
  refused(a, it_req_transfer(ARENA, offs[3], tc), msg);
  /* The log names the sender and, as the holder, the target. */
  char who[64], target[64];
  snprintf(who, sizeof(who), " conn=%llu ", (unsigned long long)ida);
  snprintf(target, sizeof(target), " holder=conn:%llu ",
           (unsigned long long)idc);
  assert_true(it_log_line(
      &it_group, (const char *const[]){" warn quota-refused ", who,
                                       " request=transfer ", target, NULL}));
  r = it_call(a, it_req_transfer(ARENA, offs[1], tc), NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_OK);
  assert_int_equal(r->transfer->refcount, 2);
  it_resp_free(r);
  /* c makes room: now the transfer goes through. */
  it_free_ok(c, ARENA, mine);
  r = it_call(a, it_req_transfer(ARENA, offs[3], tc), NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_OK);
  it_resp_free(r);
  it_close(a); /* c holds what a had: nothing freed */
  it_barrier(c);
  assert_int_equal(it_live_blocks(c, ARENA), 4);
  it_close(c);
}

/* The detached blocks share one quota, whoever makes them. */
static void test_detached_quota(void **state) {
  (void)state;
  it_conn_t *a = it_connect(it_group.sock), *b = it_connect(it_group.sock);
  it_hello_ok(a);
  it_hello_ok(b);
  it_barrier(a);
  assert_int_equal(it_live_blocks(a, ARENA), 0);
  uint64_t det[4];
  alloc_ok(a, 1008, 2, true, det);
  alloc_ok(b, 1008, 2, true, det + 2);
  refused(b, it_req_alloc(ARENA, 16, 0, 1, true),
          "arena 'q', its detached blocks: quota_blocks is 4: 4 in use, the "
          "request needs 1 more");
  alloc_ok(b, 16, 1, false, NULL); /* b's own quota is another */
  /* The daemon's detached_blocks sums the arenas'. */
  Arenad__Response *u =
      it_call(a, it_req_alloc("unlimited", 16, 0, 1, true), NULL);
  it_assert_status(u, ARENAD__STATUS__STATUS_OK);
  uint64_t elsewhere = u->alloc->offsets[0];
  it_resp_free(u);
  assert_int_equal(it_stat(a, "detached_blocks"), 5);
  it_free_ok(a, "unlimited", elsewhere);
  const char *line[] = {" warn quota-refused ", " holder=detached ", NULL};
  assert_true(it_log_line(&it_group, line));

  Arenad__Response *r = it_call(
      a, it_req_inspect(ARENA, ARENAD__INSPECT_WHAT__INSPECT_SUMMARY, 0, 0),
      NULL);
  assert_int_equal(r->inspect->summary->quota_refused, 7);
  it_resp_free(r);
  r = it_call(a, it_req_stats(), NULL);
  assert_int_equal(r->stats->quota_refused, 7);
  assert_true(r->stats->errors->limit_exceeded >= 7);
  it_resp_free(r);
  it_free_ok(a, ARENA, det[0]);
  alloc_ok(a, 16, 1, true, det);
  for (int i = 0; i < 4; i++)
    it_free_ok(a, ARENA, det[i]);
  it_check_ok(a, ARENA);
  it_close(a);
  it_close(b);
}

/* max_live_blocks: all arenas and connections together, detached blocks
 * included; an alloc that would pass it is refused whole, counted, and
 * leaves nothing; a free makes room again. A daemon of its own. */
static void test_max_live_blocks(void **state) {
  (void)state;
  it_daemon_t d = {0};
  assert_int_equal(it_daemon_start(&d,
                                   "[daemon]\nmax_live_blocks = 10\n"
                                   "[arena a]\nsize = 1M\n"
                                   "[arena b]\nsize = 1M\npolicy = buddy\n",
                                   NULL),
                   0);
  it_conn_t *c = it_connect(d.sock), *e = it_connect(d.sock);
  uint64_t first = it_alloc_ok(c, "a", 100);
  Arenad__Response *r = it_call(c, it_req_alloc("a", 16, 0, 5, false), NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_OK);
  it_resp_free(r);
  r = it_call(e, it_req_alloc("b", 16, 0, 3, true), NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_OK);
  it_resp_free(r);
  /* 9 live: 2 more would pass 10, from either connection or arena. */
  r = it_call(e, it_req_alloc("b", 16, 0, 2, false), NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_LIMIT_EXCEEDED);
  assert_non_null(strstr(r->message, "holds 9 live blocks and allows 10 "
                                     "(max_live_blocks)"));
  it_resp_free(r);
  assert_int_equal(it_live_blocks(c, "a") + it_live_blocks(c, "b"), 9);
  it_alloc_ok(e, "b", 16); /* the tenth */
  r = it_call(c, it_req_alloc("a", 16, 0, 1, false), NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_LIMIT_EXCEEDED);
  it_resp_free(r);
  it_free_ok(c, "a", first);
  it_alloc_ok(c, "a", 16);
  /* e's end frees its held block (its 3 detached blocks stay): room for
   * one more, then none. */
  it_close(e);
  uint64_t refused = 2;
  for (int i = 0; i < 500; i++) {
    r = it_call(c, it_req_alloc("a", 16, 0, 1, false), NULL);
    int status = r->status;
    it_resp_free(r);
    if (status != ARENAD__STATUS__STATUS_LIMIT_EXCEEDED)
      break;
    refused++;
    usleep(10000); /* the daemon may see e's end after this request */
  }
  r = it_call(c, it_req_alloc("a", 16, 0, 1, false), NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_LIMIT_EXCEEDED);
  it_resp_free(r);
  refused++;
  r = it_call(c, it_req_stats(), NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_OK);
  assert_int_equal(r->stats->blocks_refused_limit, refused);
  it_resp_free(r);
  it_close(c);
  assert_int_equal(it_daemon_stop(&d, SIGTERM), 0);
  it_daemon_cleanup(&d);
}

/* One request on c that must get `status`; returns the reply's refcount
 * for a retain, a release or a transfer that succeeds. */
static uint32_t share_call(it_conn_t *c, Arenad__Request *req, int status) {
  Arenad__Response *r = it_call(c, req, NULL);
  it_assert_status(r, status);
  uint32_t refs = 0;
  if (r->body_case == ARENAD__RESPONSE__BODY_RETAIN)
    refs = r->retain->refcount;
  else if (r->body_case == ARENAD__RESPONSE__BODY_RELEASE)
    refs = r->release->refcount;
  else if (r->body_case == ARENAD__RESPONSE__BODY_TRANSFER)
    refs = r->transfer->refcount;
  it_resp_free(r);
  return refs;
}

/* max_shared_holds: the holds of blocks beside their first holder's, in
 * all arenas. A retain or a transfer that would add one past it is
 * refused, counted, and changes nothing; more references of a holder,
 * the first hold of a detached block, and a transfer of the sender's last
 * reference (its hold goes as the target's comes) add none; a release
 * makes room again. A daemon of its own. */
static void test_max_shared_holds(void **state) {
  (void)state;
  it_daemon_t d = {0};
  assert_int_equal(it_daemon_start(&d,
                                   "[daemon]\nmax_shared_holds = 3\n"
                                   "[arena a]\nsize = 1M\n"
                                   "[arena b]\nsize = 1M\npolicy = buddy\n",
                                   NULL),
                   0);
  it_conn_t *a = it_connect(d.sock), *b = it_connect(d.sock),
            *c = it_connect(d.sock), *e = it_connect(d.sock);
  uint64_t tc, te, ide;
  it_hello_ok(a);
  it_hello_ok(b);
  it_hello_id(c, &tc, NULL);
  it_hello_id(e, &te, &ide);
  const int ok = ARENAD__STATUS__STATUS_OK;
  const int over = ARENAD__STATUS__STATUS_LIMIT_EXCEEDED;
  uint64_t x = it_alloc_ok(a, "a", 16), y = it_alloc_ok(a, "a", 16), z;
  Arenad__Response *r = it_call(a, it_req_alloc("b", 16, 0, 1, true), NULL);
  it_assert_status(r, ok);
  z = r->alloc->offsets[0];
  it_resp_free(r);
  assert_int_equal(it_stat(a, "shared_holds"), 0);

  assert_int_equal(share_call(b, it_req_retain("a", x), ok), 2); /* 1 */
  assert_int_equal(share_call(a, it_req_retain("a", x), ok), 3); /* a's */
  assert_int_equal(share_call(b, it_req_retain("a", x), ok), 4); /* b's */
  assert_int_equal(share_call(b, it_req_retain("b", z), ok), 2); /* first */
  assert_int_equal(it_stat(a, "shared_holds"), 1);
  /* a gives c one of its 2: c's hold is new, a's stays. */
  assert_int_equal(share_call(a, it_req_transfer("a", x, tc), ok), 4); /* 2 */
  assert_int_equal(share_call(c, it_req_retain("b", z), ok), 3);       /* 3 */
  assert_int_equal(it_stat(a, "shared_holds"), 3);

  /* Full: a new holder of x, by retain or by transfer, is refused. */
  r = it_call(e, it_req_retain("a", x), NULL);
  it_assert_status(r, over);
  char msg[256];
  snprintf(msg, sizeof(msg),
           "the daemon keeps 3 holds of blocks beside their first holder's "
           "and allows 3 (max_shared_holds): no room for connection %llu to "
           "hold block %llu too",
           (unsigned long long)ide, (unsigned long long)x);
  assert_string_equal(r->message, msg);
  it_resp_free(r);
  share_call(b, it_req_transfer("a", x, te), over); /* b has 2 of x */
  /* Nothing changed: x has a's 1, b's 2 and c's 1; b still has its 2. */
  assert_int_equal(share_call(b, it_req_release("a", x), ok), 3);
  assert_int_equal(share_call(b, it_req_retain("a", x), ok), 4);
  assert_int_equal(it_stat(a, "shared_holds"), 3);
  assert_int_equal(it_stat(a, "holds_refused_limit"), 2);

  /* a's last reference to y goes to e: a hold moves, none is added. */
  assert_int_equal(share_call(a, it_req_transfer("a", y, te), ok), 1);
  assert_int_equal(share_call(e, it_req_retain("a", y), ok), 2);
  assert_int_equal(it_stat(a, "shared_holds"), 3);

  /* c lets x go: room for one, e's; then none again. */
  assert_int_equal(share_call(c, it_req_release("a", x), ok), 3);
  assert_int_equal(it_stat(a, "shared_holds"), 2);
  assert_int_equal(share_call(e, it_req_retain("a", x), ok), 4);
  share_call(a, it_req_retain("a", y), over);
  assert_int_equal(it_stat(a, "shared_holds"), 3);
  assert_int_equal(it_stat(a, "holds_refused_limit"), 3);
  it_check_ok(a, "a");
  it_check_ok(a, "b");

  it_close(a);
  it_close(b);
  it_close(c);
  it_close(e);
  assert_int_equal(it_daemon_stop(&d, SIGTERM), 0);
  it_daemon_cleanup(&d);
}

/* A request over both its arena's quota and a daemon-wide limit
 * (max_shared_holds for a retain or a transfer, max_live_blocks for an
 * alloc) is refused by the quota: the reply names the quota, and it is
 * counted in quota_refused, not in the daemon's limit. A connection
 * within its quota meets the daemon's limit as before. A daemon of its
 * own. */
static void test_quota_before_daemon_limits(void **state) {
  (void)state;
  it_daemon_t d = {0};
  assert_int_equal(it_daemon_start(&d,
                                   "[daemon]\nmax_shared_holds = 1\n"
                                   "max_live_blocks = 3\n"
                                   "[arena q]\nsize = 1M\n"
                                   "quota_blocks = 2\n",
                                   NULL),
                   0);
  it_conn_t *a = it_connect(d.sock), *b = it_connect(d.sock),
            *e = it_connect(d.sock);
  uint64_t tb, idb;
  it_hello_ok(a);
  it_hello_id(b, &tb, &idb);
  it_hello_ok(e);
  uint64_t x = it_alloc_ok(a, ARENA, 16), y = it_alloc_ok(a, ARENA, 16);
  assert_int_equal(share_call(b, it_req_retain(ARENA, x), 0), 2); /* shared */
  it_alloc_ok(b, ARENA, 16); /* b: 2 blocks, its quota; 3 live, the most */
  assert_int_equal(share_call(a, it_req_retain(ARENA, y), 0), 2);

  const char *quota = "quota_blocks is 2: 2 in use, the request needs 1 more";
  char msg[160];
  snprintf(msg, sizeof(msg), "arena 'q': %s", quota);
  refused(b, it_req_retain(ARENA, y), msg);
  snprintf(msg, sizeof(msg), "arena 'q', the quota of connection %llu: %s",
           (unsigned long long)idb, quota);
  refused(a, it_req_transfer(ARENA, y, tb), msg);
  snprintf(msg, sizeof(msg), "arena 'q': %s", quota);
  refused(b, it_req_alloc(ARENA, 16, 0, 1, false), msg);
  assert_int_equal(it_stat(a, "quota_refused"), 3);
  assert_int_equal(it_summary_stat(a, ARENA, "quota_refused"), 3);
  assert_int_equal(it_stat(a, "holds_refused_limit"), 0);
  assert_int_equal(it_stat(a, "blocks_refused_limit"), 0);

  /* e is within its quota: the daemon's limits refuse it. */
  share_call(e, it_req_retain(ARENA, x), ARENAD__STATUS__STATUS_LIMIT_EXCEEDED);
  Arenad__Response *r = it_call(e, it_req_alloc(ARENA, 16, 0, 1, false), NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_LIMIT_EXCEEDED);
  assert_non_null(strstr(r->message, "(max_live_blocks)"));
  it_resp_free(r);
  assert_int_equal(it_stat(a, "holds_refused_limit"), 1);
  assert_int_equal(it_stat(a, "blocks_refused_limit"), 1);
  assert_int_equal(it_stat(a, "quota_refused"), 3);
  it_check_ok(a, ARENA);

  it_close(a);
  it_close(b);
  it_close(e);
  assert_int_equal(it_daemon_stop(&d, SIGTERM), 0);
  it_daemon_cleanup(&d);
}

/* A peer can cause refusals at will, so their lines are rate limited, 20
 * a second for each kind (README, "Audit log"), with a count of the ones
 * suppressed on the next line written: 25 quota refusals and 25 denied
 * releases in a burst leave 20 lines of each, the one kind's burst not
 * taking the other's room, and the next of each, a second later, says 5
 * were suppressed. The counters count every one. */
static void test_refusal_lines_rate_limited(void **state) {
  (void)state;
  it_conn_t *a = it_connect(it_group.sock), *b = it_connect(it_group.sock);
  uint64_t ida, idb;
  it_hello_id(a, NULL, &ida);
  it_hello_id(b, NULL, &idb);
  char who_a[48], who_b[48];
  snprintf(who_a, sizeof who_a, " conn=%llu ", (unsigned long long)ida);
  snprintf(who_b, sizeof who_b, " conn=%llu ", (unsigned long long)idb);
  uint64_t offs[4];
  alloc_ok(a, 16, 4, false, offs);
  Arenad__Response *r = it_call(a, it_req_stats(), NULL);
  uint64_t quota = r->stats->quota_refused;
  uint64_t denied = r->stats->permission_denied;
  it_resp_free(r);
  usleep(1100 * 1000); /* a new window for both kinds */

  /* The burst must fall in one window, which opens at its first line: a
   * machine that cannot make 50 round trips in 0.9 s (they take some
   * milliseconds) cannot tell here what the limit allows. */
  double t0 = it_now_ms();
  for (int i = 0; i < 25; i++) {
    refused(a, it_req_alloc(ARENA, 16, 0, 1, false),
            "arena 'q': quota_blocks is 4: 4 in use, the request needs 1 "
            "more");
    assert_int_equal(it_status(b, it_req_release(ARENA, offs[0])),
                     ARENAD__STATUS__STATUS_PERMISSION_DENIED);
  }
  it_barrier(a);
  it_barrier(b);
  long burst_ms = (long)(it_now_ms() - t0);
  if (burst_ms > 900) {
    for (int i = 0; i < 4; i++)
      it_free_ok(a, ARENA, offs[i]);
    it_close(a);
    it_close(b);
    print_message("the burst took %ld ms: too slow to check the limit\n",
                  burst_ms);
    skip();
  }
  assert_int_equal(
      it_log_count(&it_group,
                   (const char *const[]){" warn quota-refused ", who_a, NULL}),
      20);
  assert_int_equal(
      it_log_count(&it_group,
                   (const char *const[]){" warn denied ", who_b, NULL}),
      20);
  r = it_call(a, it_req_stats(), NULL);
  assert_int_equal(r->stats->quota_refused, quota + 25);
  assert_int_equal(r->stats->permission_denied, denied + 25);
  it_resp_free(r);

  usleep(1100 * 1000);
  refused(a, it_req_alloc(ARENA, 16, 0, 1, false),
          "arena 'q': quota_blocks is 4: 4 in use, the request needs 1 more");
  assert_int_equal(it_status(b, it_req_release(ARENA, offs[0])),
                   ARENAD__STATUS__STATUS_PERMISSION_DENIED);
  it_barrier(a);
  it_barrier(b);
  assert_true(it_log_line(&it_group,
                          (const char *const[]){" warn quota-refused ", who_a,
                                                " suppressed=5\n", NULL}));
  assert_true(
      it_log_line(&it_group, (const char *const[]){" warn denied ", who_b,
                                                   " suppressed=5\n", NULL}));
  for (int i = 0; i < 4; i++)
    it_free_ok(a, ARENA, offs[i]);
  it_close(a);
  it_close(b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_list_shows_quotas),
      cmocka_unit_test(test_bytes_and_blocks),
      cmocka_unit_test(test_retain_and_transfer_charged),
      cmocka_unit_test(test_detached_quota),
      cmocka_unit_test(test_max_live_blocks),
      cmocka_unit_test(test_max_shared_holds),
      cmocka_unit_test(test_quota_before_daemon_limits),
      cmocka_unit_test(test_refusal_lines_rate_limited),
      cmocka_unit_test(it_test_exits_cleanly),
  };
  it_group_config = config;
  return cmocka_run_group_tests(tests, it_group_setup, it_group_teardown);
}
