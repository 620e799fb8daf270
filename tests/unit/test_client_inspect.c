/*
 * test_client_inspect.c: the calls that read the daemon's state, against
 * the fake daemon (fake_daemon.h) on a socketpair: arenad_inspect (a page
 * of extents and their holders, every field of it in its own place; a
 * cursor that does not move forward),
 * arenad_check (a failed check, a refused one, one passed with
 * overwritten headers, and replies whose count and first offset
 * disagree), arenad_stats (every scalar field of the statistics) and
 * arenad_list (a policy from the future).
 */
#include "fake_daemon.h"

#include <string.h>

#include "arenad_assert.h"

/* Sends the reply to inspect request `id`: the summary, n extents and the
 * next cursor. */
static void send_inspect_reply(int srv, uint64_t id, Arenad__ArenaSummary *sum,
                               Arenad__Extent **ext, size_t n,
                               uint64_t next_cursor) {
  Arenad__InspectReply body = ARENAD__INSPECT_REPLY__INIT;
  body.summary = sum;
  body.extents = ext;
  body.n_extents = n;
  body.next_cursor = next_cursor;
  Arenad__Response r = ARENAD__RESPONSE__INIT;
  r.id = id;
  r.body_case = ARENAD__RESPONSE__BODY_INSPECT;
  r.inspect = &body;
  send_reply(srv, &r);
}

static void test_inspect(void **state) {
  fixture_t *f = *state;
  Arenad__ArenaSummary sum = ARENAD__ARENA_SUMMARY__INIT;
  sum.name = "pool";
  sum.policy = ARENAD__POLICY__POLICY_BUDDY;
  sum.size = 1 << 20;
  sum.live_blocks = 1;
  uint64_t orders[3] = {0, 1, 2};
  sum.free_by_order = orders;
  sum.n_free_by_order = 3;
  Arenad__Holder holder = ARENAD__HOLDER__INIT;
  holder.connection_id = 5;
  holder.pid = 1234;
  holder.client_name = "writer";
  Arenad__Holder *holders[1] = {&holder};
  Arenad__Extent e1 = ARENAD__EXTENT__INIT;
  e1.start = 0;
  e1.size = 64;
  e1.payload = 16;
  e1.n = 40;
  e1.refcount = 1;
  e1.holders = holders;
  e1.n_holders = 1;
  Arenad__Extent e2 = ARENAD__EXTENT__INIT;
  e2.start = 64;
  e2.size = 64;
  e2.free = true;
  Arenad__Extent *ext[2] = {&e1, &e2};
  send_inspect_reply(f->srv, 1, &sum, ext, 2, 128);

  arenad_page_t *page;
  assert_arenad_ok(
      f->h, arenad_inspect(f->h, "pool", ARENAD_INSPECT_BLOCKS, 0, 2, &page));
  assert_string_equal(page->summary.name, "pool");
  assert_int_equal(page->summary.policy, ARENAD_POLICY_BUDDY);
  assert_int_equal(page->summary.n_orders, 3);
  assert_int_equal(page->summary.free_by_order[2], 2);
  assert_int_equal(page->n_extents, 2);
  assert_int_equal(page->extents[0].payload, 16);
  assert_int_equal(page->extents[0].n_holders, 1);
  assert_string_equal(page->extents[0].holders[0].client_name, "writer");
  assert_int_equal(page->extents[0].holders[0].pid, 1234);
  assert_true(page->extents[1].free);
  assert_int_equal(page->next_cursor, 128);
  arenad_page_destroy(page);
  Arenad__Request *req = read_request(f->srv);
  assert_int_equal(req->inspect->what, ARENAD__INSPECT_WHAT__INSPECT_BLOCKS);
  assert_int_equal(req->inspect->limit, 2);
  arenad__request__free_unpacked(req, NULL);

  /* A cursor that does not move forward would loop forever. */
  send_inspect_reply(f->srv, 2, &sum, ext, 2, 128);
  assert_int_equal(
      arenad_inspect(f->h, "pool", ARENAD_INSPECT_BLOCKS, 128, 2, &page),
      AR_EPROTO);
  assert_null(page);
}

/* Every field of a page reaches the caller, each in its own place: the
 * summary's numbers (all different), the access, the free blocks by order
 * (more than ARENAD_ORDER_MAX + 1 are cut to that many), an extent's
 * counts and flags, and a holder's. */
static void test_inspect_fields(void **state) {
  fixture_t *f = *state;
  Arenad__ArenaSummary sum = ARENAD__ARENA_SUMMARY__INIT;
  sum.name = "all";
  sum.policy = ARENAD__POLICY__POLICY_BUDDY;
  sum.size = 1001;
  sum.used_bytes = 1002;
  sum.free_bytes = 1003;
  sum.live_blocks = 1004;
  sum.live_requested = 1005;
  sum.overhead_bytes = 1006;
  sum.free_extents = 1007;
  sum.largest_free = 1008;
  sum.allocs = 1009;
  sum.frees = 1010;
  sum.failed_allocs = 1011;
  sum.bad_frees = 1012;
  sum.corruptions = 1013;
  sum.last_corrupt = 1014;
  sum.hwm = 1015;
  sum.peak_used = 1016;
  sum.peak_requested = 1017;
  sum.rover = 1018;
  sum.meta_bytes = 1019;
  sum.peak_meta_bytes = 1020;
  sum.detached_blocks = 1021;
  sum.permission_denied = 1022;
  sum.quota_refused = 1023;
  sum.external_frag = 0.25;
  sum.max_order = 20;
  sum.attached_connections = 7;
  Arenad__Access acc = ARENAD__ACCESS__INIT;
  acc.mode = 0640;
  acc.owner_uid = 501;
  acc.group_gid = 502;
  sum.access = &acc;
  uint64_t orders[ARENAD_ORDER_MAX + 5];
  for (size_t i = 0; i < sizeof orders / sizeof orders[0]; i++)
    orders[i] = 100 + i;
  sum.free_by_order = orders;
  sum.n_free_by_order = sizeof orders / sizeof orders[0];
  Arenad__Holder holder = ARENAD__HOLDER__INIT;
  holder.connection_id = 11;
  holder.pid = 12;
  holder.uid = 13;
  holder.client_name = "h";
  holder.references = 14;
  Arenad__Holder *holders[1] = {&holder};
  Arenad__Extent e = ARENAD__EXTENT__INIT;
  e.start = 4096;
  e.size = 128;
  e.payload = 4112;
  e.n = 100;
  e.refcount = 15;
  e.detached = true;
  e.holders = holders;
  e.n_holders = 1;
  e.holders_omitted = 16;
  Arenad__Extent *ext[1] = {&e};
  send_inspect_reply(f->srv, 1, &sum, ext, 1, sum.size);

  arenad_page_t *p;
  assert_arenad_ok(
      f->h, arenad_inspect(f->h, "all", ARENAD_INSPECT_BLOCKS, 0, 1, &p));
  expect_request(f->srv, 1, ARENAD__REQUEST__BODY_INSPECT);
  assert_int_equal(p->summary.size, 1001);
  assert_int_equal(p->summary.used_bytes, 1002);
  assert_int_equal(p->summary.free_bytes, 1003);
  assert_int_equal(p->summary.live_blocks, 1004);
  assert_int_equal(p->summary.live_requested, 1005);
  assert_int_equal(p->summary.overhead_bytes, 1006);
  assert_int_equal(p->summary.free_extents, 1007);
  assert_int_equal(p->summary.largest_free, 1008);
  assert_int_equal(p->summary.allocs, 1009);
  assert_int_equal(p->summary.frees, 1010);
  assert_int_equal(p->summary.failed_allocs, 1011);
  assert_int_equal(p->summary.bad_frees, 1012);
  assert_int_equal(p->summary.corruptions, 1013);
  assert_int_equal(p->summary.last_corrupt, 1014);
  assert_int_equal(p->summary.hwm, 1015);
  assert_int_equal(p->summary.peak_used, 1016);
  assert_int_equal(p->summary.peak_requested, 1017);
  assert_int_equal(p->summary.rover, 1018);
  assert_int_equal(p->summary.meta_bytes, 1019);
  assert_int_equal(p->summary.peak_meta_bytes, 1020);
  assert_int_equal(p->summary.detached_blocks, 1021);
  assert_int_equal(p->summary.permission_denied, 1022);
  assert_int_equal(p->summary.quota_refused, 1023);
  assert_true(p->summary.external_frag == 0.25);
  assert_int_equal(p->summary.max_order, 20);
  assert_int_equal(p->summary.attached_connections, 7);
  assert_int_equal(p->summary.access.mode, 0640);
  assert_int_equal(p->summary.access.owner_uid, 501);
  assert_int_equal(p->summary.access.group_gid, 502);
  assert_int_equal(p->summary.n_orders, ARENAD_ORDER_MAX + 1);
  for (size_t i = 0; i <= ARENAD_ORDER_MAX; i++)
    assert_int_equal(p->summary.free_by_order[i], 100 + i);
  assert_int_equal(p->n_extents, 1);
  const arenad_extent_t *x = &p->extents[0];
  assert_int_equal(x->start, 4096);
  assert_int_equal(x->size, 128);
  assert_false(x->free);
  assert_int_equal(x->payload, 4112);
  assert_int_equal(x->n, 100);
  assert_int_equal(x->refcount, 15);
  assert_true(x->detached);
  assert_int_equal(x->holders_omitted, 16);
  assert_int_equal(x->n_holders, 1);
  assert_int_equal(x->holders[0].connection_id, 11);
  assert_int_equal(x->holders[0].pid, 12);
  assert_int_equal(x->holders[0].uid, 13);
  assert_string_equal(x->holders[0].client_name, "h");
  assert_int_equal(x->holders[0].references, 14);
  arenad_page_destroy(p);
}

static void test_check(void **state) {
  fixture_t *f = *state;
  Arenad__CheckReply body = ARENAD__CHECK_REPLY__INIT;
  body.invariant = "free-disjoint";
  body.offset = 4096;
  body.detail = "two free extents overlap";
  Arenad__Response r = ARENAD__RESPONSE__INIT;
  r.id = 1;
  r.status = ARENAD__STATUS__STATUS_CORRUPTION_DETECTED;
  r.body_case = ARENAD__RESPONSE__BODY_CHECK;
  r.check = &body;
  send_reply(f->srv, &r);
  arenad_check_t c;
  assert_int_equal(arenad_check(f->h, "a", &c), AR_ECORRUPT);
  assert_false(c.ok);
  assert_string_equal(c.invariant, "free-disjoint");
  assert_int_equal(c.offset, 4096);
  assert_string_equal(c.detail, "two free extents overlap");

  /* An error before the check ran: *out is zeroed, never left stale. */
  send_error_reply(f->srv, 2, ARENAD__STATUS__STATUS_NOT_FOUND,
                   "no arena named 'b'");
  memset(&c, 0xff, sizeof c);
  assert_int_equal(arenad_check(f->h, "b", &c), AR_ENOENT);
  assert_false(c.ok);
  assert_string_equal(c.invariant, "");
  assert_int_equal(c.offset, 0);
  assert_int_equal(c.headers_overwritten, 0);
  assert_int_equal(c.first_overwritten, 0);
}

/* Sends the reply to check request 1: passed, with `count` overwritten
 * headers of live blocks, the first at `first`. */
static void send_check_passed(int srv, uint64_t count, uint64_t first) {
  Arenad__CheckReply body = ARENAD__CHECK_REPLY__INIT;
  body.ok = true;
  body.headers_overwritten = count;
  body.first_overwritten = first;
  Arenad__Response r = ARENAD__RESPONSE__INIT;
  r.id = 1;
  r.body_case = ARENAD__RESPONSE__BODY_CHECK;
  r.check = &body;
  send_reply(srv, &r);
}

/* A check that passes with overwritten headers of live blocks: the count
 * and the first offset are passed on, the check still OK. */
static void test_check_overwritten(void **state) {
  fixture_t *f = *state;
  send_check_passed(f->srv, 3, 4112);
  arenad_check_t c;
  assert_arenad_ok(f->h, arenad_check(f->h, "a", &c));
  assert_true(c.ok);
  assert_int_equal(c.headers_overwritten, 3);
  assert_int_equal(c.first_overwritten, 4112);
  expect_request(f->srv, 1, ARENAD__REQUEST__BODY_CHECK);
}

/* A check reply that passes with `count` overwritten headers, the first at
 * `first`, one of them 0 and not the other: a protocol error. */
static void bad_check_reply(fixture_t *f, uint64_t count, uint64_t first,
                            const char *why) {
  send_check_passed(f->srv, count, first);
  arenad_check_t c;
  assert_int_equal(arenad_check(f->h, "a", &c), AR_EPROTO);
  assert_non_null(strstr(arenad_error(f->h), why));
  assert_int_equal(c.headers_overwritten, 0);
  assert_int_equal(arenad_ping(f->h), AR_EIO);
}

static void test_check_overwritten_without_first(void **state) {
  bad_check_reply(*state, 2, 0, "2 overwritten headers");
}

static void test_check_first_without_count(void **state) {
  bad_check_reply(*state, 0, 16, "the first at 16");
}

static void test_stats(void **state) {
  fixture_t *f = *state;
  Arenad__RequestCounts rq = ARENAD__REQUEST_COUNTS__INIT;
  rq.alloc = 77;
  Arenad__StatsReply body = ARENAD__STATS_REPLY__INIT;
  body.daemon_version = "1.2.3";
  body.uptime_ms = 5000;
  body.arenas = 3;
  body.requests = &rq; /* errors left unset: walked as zeros */
  Arenad__Response r = ARENAD__RESPONSE__INIT;
  r.id = 1;
  r.body_case = ARENAD__RESPONSE__BODY_STATS;
  r.stats = &body;
  send_reply(f->srv, &r);

  arenad_stat_t *st;
  size_t n;
  assert_arenad_ok(f->h, arenad_stats(f->h, &st, &n));
  /* Every scalar field of StatsReply, RequestCounts and StatusCounts. */
  size_t expect = 0;
  const ProtobufCMessageDescriptor *ds[3] = {
      &arenad__stats_reply__descriptor, &arenad__request_counts__descriptor,
      &arenad__status_counts__descriptor};
  for (int i = 0; i < 3; i++)
    for (unsigned j = 0; j < ds[i]->n_fields; j++)
      if (ds[i]->fields[j].type != PROTOBUF_C_TYPE_MESSAGE)
        expect++;
  assert_int_equal(n, expect);
  int seen = 0;
  for (size_t i = 0; i < n; i++) {
    if (strcmp(st[i].name, "daemon_version") == 0) {
      assert_int_equal(st[i].type, ARENAD_STAT_STRING);
      assert_string_equal(st[i].s, "1.2.3");
      seen++;
    } else if (strcmp(st[i].name, "uptime_ms") == 0) {
      assert_int_equal(st[i].u, 5000);
      seen++;
    } else if (strcmp(st[i].name, "requests.alloc") == 0) {
      assert_int_equal(st[i].type, ARENAD_STAT_UINT);
      assert_int_equal(st[i].u, 77);
      seen++;
    } else if (strcmp(st[i].name, "errors.not_found") == 0) {
      assert_int_equal(st[i].u, 0);
      seen++;
    }
  }
  assert_int_equal(seen, 4);
  arenad_stats_destroy(st);
}

static void test_list(void **state) {
  fixture_t *f = *state;
  Arenad__ArenaInfo a = ARENAD__ARENA_INFO__INIT;
  a.name = "alpha";
  a.size = 1 << 20;
  a.policy = ARENAD__POLICY__POLICY_NEXT;
  Arenad__ArenaInfo b = ARENAD__ARENA_INFO__INIT;
  b.name = "beta";
  b.policy = 42; /* a policy from the future */
  Arenad__ArenaInfo *arenas[2] = {&a, &b};
  Arenad__ListReply body = ARENAD__LIST_REPLY__INIT;
  body.arenas = arenas;
  body.n_arenas = 2;
  Arenad__Response r = ARENAD__RESPONSE__INIT;
  r.id = 1;
  r.body_case = ARENAD__RESPONSE__BODY_LIST;
  r.list = &body;
  send_reply(f->srv, &r);
  arenad_arena_t *list;
  size_t n;
  assert_arenad_ok(f->h, arenad_list(f->h, &list, &n));
  assert_int_equal(n, 2);
  assert_string_equal(list[0].name, "alpha");
  assert_int_equal(list[0].policy, ARENAD_POLICY_NEXT);
  assert_string_equal(list[1].name, "beta");
  assert_int_equal(list[1].policy, ARENAD_POLICY_UNKNOWN);
  assert_string_equal(arenad_policy_name(list[1].policy), "unknown");
  arenad_list_destroy(list);
}

int main(void) {
  const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
      T(test_inspect),
      T(test_inspect_fields),
      T(test_check),
      T(test_check_overwritten),
      T(test_check_overwritten_without_first),
      T(test_check_first_without_count),
      T(test_stats),
      T(test_list),
#undef T
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
