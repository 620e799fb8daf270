/*
 * test_server_conn_refusals.c: requests a connection refuses, what they
 * leave as it was and what the daemon counts of them (the daemon and the
 * frames of conn_harness.h): a client name over 64 bytes (the connection
 * may hello again); create_arena under every working-memory cap, all or
 * nothing; the check's failure side: a check request on an arena whose
 * records the test has broken (a detached count, a record's size) gets
 * CORRUPTION_DETECTED with the check's body (not ok, the invariant, the
 * offset), counted in corruptions_detected and logged as check-failed (the
 * daemon's standard error caught in a file); a retain or transfer of a
 * block whose reference count is full: LIMIT_EXCEEDED, counted in
 * references_refused_limit; and a free of several offsets refused for
 * want of a reference, counted once in permission_denied, while bad_frees
 * counts each offset that is no live block's payload.
 */
#include "conn_harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
  become_admin(f);
  int refused = 0;
  for (size_t cap = 64;; cap += 16) {
    assert_true(cap < 65536);
    f->d.scratch.max = cap;
    bytes_t b = {NULL, 0};
    add_create_made(&b, cap);
    size_t used = ad_conn_input(f->c, b.p, b.n);
    free(b.p);
    if (f->c->close_after_reply) { /* too small even to unpack */
      take(f->c, NULL, 0);
      assert_null(ad_daemon_arena(&f->d, "made"));
      become_admin(f); /* a new connection in its place */
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

/* A connection that will read no more requests takes no blocks: a
 * transfer to one whose frame was not a Request (due to close once its
 * error reply is out) gets NOT_FOUND and changes nothing, nor does one to a
 * connection whose peer shut down its side; the same transfer to an open
 * connection succeeds. */
static void test_transfer_to_ending(void **state) {
  fixture_t *f = *state;
  ad_conn_t *bad = ad_conn_new(&f->d, -1, 43, 1000, 1000);
  ad_conn_t *gone = ad_conn_new(&f->d, -1, 44, 1000, 1000);
  ad_conn_t *open = ad_conn_new(&f->d, -1, 45, 1000, 1000);
  assert_non_null(bad);
  assert_non_null(gone);
  assert_non_null(open);
  static const uint8_t garbage[] = {3, 0x0f, 0x01, 0x02};
  assert_int_equal(ad_conn_input(bad, garbage, sizeof(garbage)),
                   sizeof(garbage));
  assert_true(bad->close_after_reply);
  Arenad__Response *r;
  assert_int_equal(take(bad, &r, 1), 1); /* its error reply */
  assert_int_equal(r->status, ARENAD__STATUS__STATUS_INVALID_ARGUMENT);
  arenad__response__free_unpacked(r, NULL);
  gone->eof = true; /* as the read callback sets it at the peer's end */
  uint64_t payload = alloc_one(f, 1, false);
  ad_block_t *blk = ad_arena_block(f->d.arenas[0], payload);
  assert_non_null(blk);

  uint64_t id = 2;
  ad_conn_t *ending[] = {bad, gone};
  for (size_t i = 0; i < 2; i++) {
    ad_conn_t *to = ending[i];
    r = share_one(f, id++, payload, to->token);
    assert_int_equal(r->status, ARENAD__STATUS__STATUS_NOT_FOUND);
    assert_non_null(strstr(r->message, "is closing"));
    arenad__response__free_unpacked(r, NULL);
    assert_null(ad_block_hold_of(blk, &to->holder));
    assert_non_null(ad_block_hold_of(blk, &f->c->holder));
    assert_int_equal(f->d.stats.transfers, 0);
  }
  r = share_one(f, id++, payload, open->token);
  assert_int_equal(r->status, 0);
  arenad__response__free_unpacked(r, NULL);
  assert_non_null(ad_block_hold_of(blk, &open->holder));
  assert_int_equal(f->d.stats.transfers, 1);
  assert_check_passes(f, id);
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
  const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
      T(test_create_all_or_nothing), T(test_hello_name_limit),
      T(test_check_detached_count),  T(test_check_record_size),
      T(test_references_limit),      T(test_free_counts),
      T(test_transfer_to_ending),
#undef T
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
