/*
 * test_daemon_badinput_requests.c: well-framed requests that are wrong.
 * Each case runs on a connection of its own to the group's daemon, while
 * a bystander connection holds blocks and carries on a conversation
 * (badinput_harness.h): an empty request, a request of a kind the daemon
 * does not know (counted in requests.unknown), an unknown arena, size 0
 * and absurd sizes, bad alignments, absurd counts and too many offsets
 * (each counted once in blocks_per_request_refused), frees of foreign,
 * misaligned and freed offsets, bad inspect arguments, and a hello with a
 * hostile name (made printable, and quoted and escaped on its close line).
 * Each gets a clear error status and the connection stays; afterwards the
 * daemon still answers, the bystander (which has a reply unread and half
 * a request sent while each case runs) is unaffected, and every arena
 * passes its check.
 */
#include "badinput_harness.h"

#include <stdio.h>
#include <string.h>

/* Errors that leave the connection open, one after the other on it. */
static void test_bad_requests(void **state) {
  (void)state;
  it_conn_t *c = it_connect(it_group.sock);
  it_hello_ok(c);
  Arenad__Response *r;
#define EXPECT(req, status)                                                    \
  do {                                                                         \
    r = it_call(c, (req), NULL);                                               \
    it_assert_status(r, (status));                                             \
    assert_string_not_equal(r->message, "");                                   \
    it_resp_free(r);                                                           \
  } while (0)

  /* No body at all (an empty frame is an empty Request). */
  static const uint8_t empty[] = {0};
  it_send_raw(c, empty, 1);
  r = it_recv(c, NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_INVALID_ARGUMENT);
  it_resp_free(r);

  EXPECT(it_req_alloc("nosuch", 10, 0, 1, false),
         ARENAD__STATUS__STATUS_NOT_FOUND);
  EXPECT(it_req_alloc("", 10, 0, 1, false), ARENAD__STATUS__STATUS_NOT_FOUND);
  EXPECT(it_req_alloc("one", 0, 0, 1, false),
         ARENAD__STATUS__STATUS_INVALID_ARGUMENT);
  EXPECT(it_req_alloc("one", UINT64_MAX, 0, 1, false),
         ARENAD__STATUS__STATUS_INVALID_ARGUMENT);
  EXPECT(it_req_alloc("one", (uint64_t)1 << 40, 0, 1, false),
         ARENAD__STATUS__STATUS_OUT_OF_MEMORY);
  EXPECT(it_req_alloc("two", (1u << 20) + 1, 0, 1, false),
         ARENAD__STATUS__STATUS_OUT_OF_MEMORY);
  EXPECT(it_req_alloc("one", 10, 24, 1, false),
         ARENAD__STATUS__STATUS_INVALID_ARGUMENT);
  EXPECT(it_req_alloc("one", 10, 8192, 1, false),
         ARENAD__STATUS__STATUS_INVALID_ARGUMENT);

  /* Over max_blocks_per_request (100): two allocs and a free, each
   * counted once in blocks_per_request_refused; a count of exactly 100
   * is not over. */
  r = it_call(c, it_req_stats(), NULL);
  uint64_t refused = r->stats->blocks_per_request_refused;
  uint64_t limited = r->stats->errors->limit_exceeded;
  it_resp_free(r);
  EXPECT(it_req_alloc("one", 10, 0, 101, false),
         ARENAD__STATUS__STATUS_LIMIT_EXCEEDED);
  EXPECT(it_req_alloc("one", 10, 0, UINT32_MAX, false),
         ARENAD__STATUS__STATUS_LIMIT_EXCEEDED);
  EXPECT(it_req_alloc("one", 20000, 0, 100, false),
         ARENAD__STATUS__STATUS_OUT_OF_MEMORY); /* 2M do not fit in 1M */

  uint64_t many[101] = {0};
  EXPECT(it_req_free("one", many, 101), ARENAD__STATUS__STATUS_LIMIT_EXCEEDED);
  r = it_call(c, it_req_stats(), NULL);
  assert_int_equal(r->stats->blocks_per_request_refused, refused + 3);
  assert_int_equal(r->stats->errors->limit_exceeded, limited + 3);
  it_resp_free(r);
  uint64_t own = it_alloc_ok(c, "one", 256);
  uint64_t off = own + 1; /* misaligned */
  EXPECT(it_req_free("one", &off, 1), ARENAD__STATUS__STATUS_INVALID_ARGUMENT);
  off = own + 16; /* inside the block */
  EXPECT(it_req_free("one", &off, 1), ARENAD__STATUS__STATUS_INVALID_ARGUMENT);
  off = (uint64_t)1 << 50; /* beyond the arena */
  EXPECT(it_req_free("one", &off, 1), ARENAD__STATUS__STATUS_INVALID_ARGUMENT);
  off = bystander_blocks[0]; /* someone else's */
  EXPECT(it_req_free("one", &off, 1), ARENAD__STATUS__STATUS_PERMISSION_DENIED);
  EXPECT(it_req_free("two", &own, 1), ARENAD__STATUS__STATUS_INVALID_ARGUMENT);
  it_free_ok(c, "one", own);
  EXPECT(it_req_free("one", &own, 1), ARENAD__STATUS__STATUS_INVALID_ARGUMENT);
  EXPECT(it_req_free("nosuch", &own, 1), ARENAD__STATUS__STATUS_NOT_FOUND);

  EXPECT(it_req_inspect("one", (Arenad__InspectWhat)42, 0, 0),
         ARENAD__STATUS__STATUS_INVALID_ARGUMENT);
  EXPECT(it_req_inspect("one", ARENAD__INSPECT_WHAT__INSPECT_BLOCKS, UINT64_MAX,
                        0),
         ARENAD__STATUS__STATUS_INVALID_ARGUMENT);
  EXPECT(it_req_inspect("nosuch", ARENAD__INSPECT_WHAT__INSPECT_BLOCKS, 0, 0),
         ARENAD__STATUS__STATUS_NOT_FOUND);
  EXPECT(it_req_check("nosuch"), ARENAD__STATUS__STATUS_NOT_FOUND);
  EXPECT(it_req_attach("nosuch", false), ARENAD__STATUS__STATUS_NOT_FOUND);

  /* A name full of bytes that are not text comes back printable. */
  static const char binary_name[] = "\x01\xff\"\n";
  r = it_call(c, it_req_alloc(binary_name, 1, 0, 1, false), NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_NOT_FOUND);
  for (const char *p = r->message; *p != '\0'; p++)
    assert_true(*p >= 0x20 && *p < 0x7f);
  it_resp_free(r);

  /* Still fine after all that. */
  it_resp_free(it_call(c, it_req_ping(), NULL));
  it_close(c);
#undef EXPECT
  all_is_well();
}

/* A request of a kind this version does not know, as a newer client would
 * send it: its body is a field number no kind has (96, the first of the
 * range kept for later kinds), which protobuf-c unpacks as an unknown
 * field with no body set. It gets INVALID_ARGUMENT saying so, is counted
 * in requests.unknown, and the connection stays. (A hello with a hostile
 * name is test_hostile_name.) */
static void test_unsupported_kind(void **state) {
  (void)state;
  it_conn_t *c = it_connect(it_group.sock);
  uint64_t before = it_stat(c, "requests.unknown");
  /* protobuf-c packs an unknown field's data as it is after the tag: for a
   * length-prefixed one, the length first (2), then the bytes (a message
   * whose field 1 is 1). */
  static uint8_t later_body[] = {0x02, 0x08, 0x01};
  ProtobufCMessageUnknownField later = {
      .tag = 96,
      .wire_type = PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED,
      .len = sizeof later_body,
      .data = later_body,
  };
  Arenad__Request req = ARENAD__REQUEST__INIT;
  req.base.n_unknown_fields = 1;
  req.base.unknown_fields = &later;
  /* What the daemon gets: a well-formed Request with that one unknown
   * field and no body. */
  uint8_t packed[32];
  size_t n = arenad__request__get_packed_size(&req);
  assert_true(n <= sizeof packed);
  arenad__request__pack(&req, packed);
  Arenad__Request *back = arenad__request__unpack(NULL, n, packed);
  assert_non_null(back);
  assert_int_equal(back->body_case, ARENAD__REQUEST__BODY__NOT_SET);
  assert_int_equal(back->base.n_unknown_fields, 1);
  assert_int_equal(back->base.unknown_fields[0].tag, 96);
  arenad__request__free_unpacked(back, NULL);

  Arenad__Response *r = it_call(c, &req, NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_INVALID_ARGUMENT);
  assert_int_equal(r->body_case, ARENAD__RESPONSE__BODY__NOT_SET);
  assert_non_null(strstr(r->message, "does not know"));
  it_resp_free(r);
  assert_int_equal(it_stat(c, "requests.unknown"), before + 1);
  it_resp_free(it_call(c, it_req_ping(), NULL)); /* the connection stays */
  it_close(c);
  all_is_well();
}

/* A hello whose name is full of line breaks and escapes: over 64 bytes it
 * is refused, and the connection may hello again; at 64 bytes it is
 * accepted, its bytes that are not printable made '?', and the close line
 * names it quoted with its quote escaped, on one line that cannot be
 * mistaken for another event. */
static void test_hostile_name(void **state) {
  (void)state;
  static const char forged[] = "x\n2026-01-01T00:00:00.000Z error forged "
                               "\x1b\"";
  static char name[20000];
  for (size_t i = 0; i + 1 < sizeof(name); i++)
    name[i] = forged[i % (sizeof(forged) - 1)];
  it_conn_t *c = it_connect(it_group.sock);
  uint64_t refused = it_stat(c, "names_refused");
  Arenad__Response *r = it_call(c, it_req_hello(1, name), NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_INVALID_ARGUMENT);
  assert_non_null(strstr(r->message, "over 64 bytes"));
  it_resp_free(r);
  assert_int_equal(it_stat(c, "names_refused"), refused + 1);
  name[64] = '\0';
  r = it_call(c, it_req_hello(1, name), NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_OK);
  assert_int_equal(it_stat(c, "names_refused"), refused + 1);
  char conn[40];
  snprintf(conn, sizeof conn, " conn=%llu ",
           (unsigned long long)r->hello->connection_id);
  it_resp_free(r);
  it_close(c);
  all_is_well(); /* round trips after the close: its line is written */
  /* The 64 bytes are forged (42) and its first 22 again; the line break
   * and the escape became '?', and the quote is escaped. */
  static const char logged[] = " name=\"x?2026-01-01T00:00:00.000Z error "
                               "forged ?\\\"x?2026-01-01T00:00:00.\" ";
  /* Its replies were all taken: none was left unsent. */
  assert_true(it_log_line(
      &it_group, (const char *const[]){" close ", conn, logged, " reason=eof ",
                                       " unsent=0 ", NULL}));
  FILE *f = fopen(it_group.log, "r");
  assert_non_null(f);
  char line[4096];
  while (fgets(line, sizeof(line), f) != NULL)
    assert_true(strncmp(line, "2026-01-01T00:00:00.000Z", 24) != 0);
  fclose(f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_bad_requests),
      cmocka_unit_test(test_unsupported_kind),
      cmocka_unit_test(test_hostile_name),
      cmocka_unit_test(test_exits_cleanly),
  };
  it_group_config = config;
  return cmocka_run_group_tests(tests, setup, teardown);
}
