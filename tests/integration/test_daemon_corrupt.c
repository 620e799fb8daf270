/*
 * test_daemon_corrupt.c: a block header overwritten by a client, end to
 * end. A client attaches an arena read-write, maps it, allocates two
 * blocks and overwrites the second's 16-byte header (just before its
 * payload); then the blocks go back: by the client's frees (which still
 * succeed), or by the reclamation when the client's connection closes.
 * Either way the daemon counts exactly one more in
 * StatsReply.corruptions_detected, the arena's summary says corruptions 1
 * and last_corrupt the block's payload offset, the log has a
 * corrupt-header line naming the connection, the arena and the offset
 * (and for a close, a reclaim line with corrupt=1), and the arena still
 * passes its check: the damage is the client's memory, not the daemon's
 * index. A check while such a block lives passes and counts it
 * (CheckReply.headers_overwritten, the lowest at first_overwritten). On a
 * first-fit and a buddy arena, one arena per case so that each summary
 * starts at zero.
 *
 * The client whose request sent such a block back is told: its FreeReply
 * names the offset (FreeReply.overwritten: its index in the request), in
 * a batch only the overwritten ones and alongside the statuses of offsets
 * that failed; a free of an intact block, or one that drops a reference
 * but not the last, names none; a release that drops the last reference
 * says so in ReleaseReply.overwritten. The client library passes both on
 * (arenad_free_report, arenad_release_report, and for pipelined frees
 * arenad_collect_overwritten).
 */
#include "itest.h"

#include <stdio.h>
#include <sys/mman.h>

#include "arenad.h"
#include "arenad_assert.h"

#define ARENA_SIZE (1u << 20)

static const char config[] = "[arena list_free]\n"
                             "size = 1M\n"
                             "\n"
                             "[arena buddy_free]\n"
                             "size = 1M\n"
                             "policy = buddy\n"
                             "\n"
                             "[arena list_close]\n"
                             "size = 1M\n"
                             "\n"
                             "[arena buddy_close]\n"
                             "size = 1M\n"
                             "policy = buddy\n"
                             "\n"
                             "[arena list_batch]\n"
                             "size = 1M\n"
                             "\n"
                             "[arena buddy_batch]\n"
                             "size = 1M\n"
                             "policy = buddy\n"
                             "\n"
                             "[arena release]\n"
                             "size = 1M\n"
                             "\n"
                             "[arena client]\n"
                             "size = 1M\n";

/* The arena's summary must say `corruptions`, the latest at `last`. */
static void assert_summary(it_conn_t *c, const char *arena,
                           uint64_t corruptions, uint64_t last) {
  Arenad__Response *r = it_call(
      c, it_req_inspect(arena, ARENAD__INSPECT_WHAT__INSPECT_SUMMARY, 0, 0),
      NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_OK);
  assert_int_equal(r->inspect->summary->corruptions, corruptions);
  assert_int_equal(r->inspect->summary->last_corrupt, last);
  it_resp_free(r);
}

/* The arena's check must pass and count `count` live blocks with an
 * overwritten header, the lowest at `first`. */
static void assert_check_counts(it_conn_t *c, const char *arena, uint64_t count,
                                uint64_t first) {
  Arenad__Response *r = it_call(c, it_req_check(arena), NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_OK);
  assert_true(r->check->ok);
  assert_int_equal(r->check->headers_overwritten, count);
  assert_int_equal(r->check->first_overwritten, first);
  it_resp_free(r);
}

/* Attaches `arena` read-write on c and maps it (ARENA_SIZE bytes). */
static uint8_t *map_arena(it_conn_t *c, const char *arena) {
  size_t size;
  uint8_t *base = it_map_arena(c, arena, &size);
  assert_int_equal(size, ARENA_SIZE);
  return base;
}

/* Allocates two blocks of 100 bytes on c and overwrites the header of
 * the second through the mapping (so that its offset is not the arena's
 * first); returns its payload offset and the first's in *intact. */
static uint64_t alloc_and_smash(it_conn_t *c, const char *arena, uint8_t *base,
                                uint64_t *intact) {
  *intact = it_alloc_ok(c, arena, 100);
  uint64_t off = it_alloc_ok(c, arena, 100);
  assert_int_not_equal(off, *intact);
  it_smash_header(base, off, 100);
  return off;
}

/* Frees the n offsets on c in one request, which must get `status` and
 * free `freed` references, `reclaimed` blocks; returns the reply (to be
 * freed with it_resp_free). */
static Arenad__Response *free_batch(it_conn_t *c, const char *arena,
                                    const uint64_t *offsets, size_t n,
                                    Arenad__Status status, uint32_t freed,
                                    uint32_t reclaimed) {
  Arenad__Response *r = it_call(c, it_req_free(arena, offsets, n), NULL);
  it_assert_status(r, status);
  assert_int_equal(r->body_case, ARENAD__RESPONSE__BODY_FREE);
  assert_int_equal(r->free->freed, freed);
  assert_int_equal(r->free->reclaimed, reclaimed);
  return r;
}

/* A free of the one offset off on c that must name no overwritten
 * header. */
static void free_told_nothing(it_conn_t *c, const char *arena, uint64_t off,
                              uint32_t reclaimed) {
  Arenad__Response *r =
      free_batch(c, arena, &off, 1, ARENAD__STATUS__STATUS_OK, 1, reclaimed);
  assert_int_equal(r->free->n_overwritten, 0);
  it_resp_free(r);
}

/* The daemon's log has a corrupt-header line for conn, arena, the number
 * of blocks of one request and off (the last one's). */
static void assert_logged(uint64_t conn, const char *arena, unsigned blocks,
                          uint64_t off) {
  char who[40], where[80], at[40];
  snprintf(who, sizeof(who), " conn=%llu ", (unsigned long long)conn);
  snprintf(where, sizeof(where), " arena=%s blocks=%u ", arena, blocks);
  snprintf(at, sizeof(at), " offset=%llu ", (unsigned long long)off);
  const char *line[] = {" warn corrupt-header ", who, where, at, NULL};
  if (!it_log_line(&it_group, line))
    fail_msg("no corrupt-header line with [%s] [%s] [%s]", who, where, at);
}

/* The owner frees a block whose header it overwrote: the free succeeds,
 * and the daemon counts and logs it once; freeing its intact neighbour
 * counts and logs nothing. */
static void free_smashed(const char *arena) {
  it_conn_t *c = it_connect(it_group.sock);
  uint64_t conn;
  it_hello_id(c, NULL, &conn);
  uint8_t *base = map_arena(c, arena);
  uint64_t before = it_stat(c, "corruptions_detected");
  assert_summary(c, arena, 0, 0);
  uint64_t live = it_live_blocks(c, arena);

  uint64_t intact;
  assert_check_counts(c, arena, 0, 0);
  uint64_t off = alloc_and_smash(c, arena, base, &intact);
  /* a check sees it while the block lives, and counts no corruption */
  assert_check_counts(c, arena, 1, off);
  assert_int_equal(it_stat(c, "corruptions_detected"), before);
  /* the freeing client is told: index 0 of its request */
  Arenad__Response *r =
      free_batch(c, arena, &off, 1, ARENAD__STATUS__STATUS_OK, 1, 1);
  assert_int_equal(r->free->n_overwritten, 1);
  assert_int_equal(r->free->overwritten[0], 0);
  assert_int_equal(r->free->n_statuses, 0);
  it_resp_free(r);

  assert_int_equal(it_stat(c, "corruptions_detected"), before + 1);
  assert_summary(c, arena, 1, off);
  assert_logged(conn, arena, 1, off);
  assert_check_counts(c, arena, 0, 0);
  free_told_nothing(c, arena, intact, 1);
  assert_int_equal(it_stat(c, "corruptions_detected"), before + 1);
  assert_summary(c, arena, 1, off);
  /* The intact block's free logged nothing: one line, the overwritten
   * one's. */
  char who[40];
  snprintf(who, sizeof(who), " conn=%llu ", (unsigned long long)conn);
  assert_int_equal(
      it_log_count(&it_group,
                   (const char *const[]){" warn corrupt-header ", who, NULL}),
      1);
  assert_int_equal(it_live_blocks(c, arena), live);
  it_check_ok(c, arena);
  assert_int_equal(it_stat(c, "corruptions_detected"),
                   before + 1); /* check passed */
  munmap(base, ARENA_SIZE);
  it_close(c);
}

static void test_free_list(void **state) {
  (void)state;
  free_smashed("list_free");
}

static void test_free_buddy(void **state) {
  (void)state;
  free_smashed("buddy_free");
}

/* One free of five offsets: intact, overwritten, no block, overwritten,
 * intact. Every block is freed; the reply has the statuses (the third
 * failed) and names the second and fourth offsets, by their index in the
 * request, in order; the daemon counts two, and logs one line for both
 * with the fourth's offset (the last freed). */
static void batch_smashed(const char *arena) {
  it_conn_t *c = it_connect(it_group.sock);
  uint64_t conn;
  it_hello_id(c, NULL, &conn);
  uint8_t *base = map_arena(c, arena);
  uint64_t before = it_stat(c, "corruptions_detected");
  uint64_t live = it_live_blocks(c, arena);

  uint64_t offs[5];
  for (int i = 0; i < 5; i++)
    if (i != 2)
      offs[i] = it_alloc_ok(c, arena, 100);
  offs[2] = offs[4] + 8; /* inside a block: not a payload */
  it_smash_header(base, offs[1], 100);
  it_smash_header(base, offs[3], 100);
  assert_check_counts(c, arena, 2, offs[1] < offs[3] ? offs[1] : offs[3]);
  Arenad__Response *r = free_batch(
      c, arena, offs, 5, ARENAD__STATUS__STATUS_INVALID_ARGUMENT, 4, 4);
  assert_int_equal(r->free->n_statuses, 5);
  for (int i = 0; i < 5; i++)
    assert_int_equal(r->free->statuses[i],
                     i == 2 ? ARENAD__STATUS__STATUS_INVALID_ARGUMENT
                            : ARENAD__STATUS__STATUS_OK);
  assert_int_equal(r->free->n_overwritten, 2);
  assert_int_equal(r->free->overwritten[0], 1);
  assert_int_equal(r->free->overwritten[1], 3);
  it_resp_free(r);

  assert_int_equal(it_stat(c, "corruptions_detected"), before + 2);
  assert_summary(c, arena, 2, offs[3]);
  assert_logged(conn, arena, 2, offs[3]);
  assert_int_equal(it_live_blocks(c, arena), live);
  it_check_ok(c, arena);
  munmap(base, ARENA_SIZE);
  it_close(c);
}

static void test_batch_list(void **state) {
  (void)state;
  batch_smashed("list_batch");
}

static void test_batch_buddy(void **state) {
  (void)state;
  batch_smashed("buddy_batch");
}

/* A block whose header its owner overwrote, retained by a second
 * connection: the owner's free drops a reference but not the last, so it
 * is told nothing and nothing is counted; the second's release frees the
 * block and is told (ReleaseReply.overwritten), and counted once. A
 * release that frees an intact block is told nothing. */
static void test_release(void **state) {
  (void)state;
  const char *arena = "release";
  it_conn_t *owner = it_connect(it_group.sock);
  it_hello_ok(owner);
  it_conn_t *reader = it_connect(it_group.sock);
  it_hello_ok(reader);
  uint8_t *base = map_arena(owner, arena);
  uint64_t before = it_stat(owner, "corruptions_detected");
  uint64_t intact;
  uint64_t off = alloc_and_smash(owner, arena, base, &intact);
  for (int i = 0; i < 2; i++) {
    uint64_t at = i == 0 ? off : intact;
    Arenad__Response *r = it_call(reader, it_req_retain(arena, at), NULL);
    it_assert_status(r, ARENAD__STATUS__STATUS_OK);
    assert_int_equal(r->retain->refcount, 2);
    it_resp_free(r);
    free_told_nothing(owner, arena, at, 0); /* the reader still holds it */
  }
  assert_int_equal(it_stat(owner, "corruptions_detected"), before);
  assert_summary(owner, arena, 0, 0);

  for (int i = 0; i < 2; i++) {
    Arenad__Response *r =
        it_call(reader, it_req_release(arena, i == 0 ? off : intact), NULL);
    it_assert_status(r, ARENAD__STATUS__STATUS_OK);
    assert_int_equal(r->release->refcount, 0);
    assert_int_equal(r->release->overwritten, i == 0);
    it_resp_free(r);
  }
  assert_int_equal(it_stat(owner, "corruptions_detected"), before + 1);
  assert_summary(owner, arena, 1, off);
  assert_int_equal(it_live_blocks(owner, arena), 0);
  it_check_ok(owner, arena);
  munmap(base, ARENA_SIZE);
  it_close(reader);
  it_close(owner);
}

/* Through the client library: a free of three blocks, the first and the
 * third overwritten, returns 0 and their offsets, in order; a block
 * retained as well, then overwritten, is not named by the free that drops
 * one of its two references, and the release of the other says it; a
 * pipelined free names its overwritten block by index, the next none;
 * arenad_check counts the overwritten headers of live blocks. */
static void test_client_library(void **state) {
  (void)state;
  const char *arena = "client";
  it_conn_t *watch = it_connect(it_group.sock);
  it_hello_ok(watch);
  uint64_t before = it_stat(watch, "corruptions_detected");
  arenad_t *h;
  assert_int_equal(arenad_connect(it_group.sock, &h), 0);
  assert_arenad_ok(h, arenad_hello(h, "test_daemon_corrupt", NULL));
  arenad_map_t map;
  assert_arenad_ok(h, arenad_attach(h, arena, 0, &map));
  uint8_t *base = map.base;

  uint64_t offs[3], ow[3];
  int statuses[3];
  size_t now = 99;
  assert_arenad_ok(h, arenad_alloc_n(h, arena, 100, 0, 3, 0, offs));
  it_smash_header(base, offs[0], 100);
  it_smash_header(base, offs[2], 100);
  arenad_check_t chk;
  assert_arenad_ok(h, arenad_check(h, arena, &chk));
  assert_true(chk.ok);
  assert_int_equal(chk.headers_overwritten, 2);
  assert_int_equal(chk.first_overwritten,
                   offs[0] < offs[2] ? offs[0] : offs[2]);
  assert_arenad_ok(h,
                   arenad_free_report(h, arena, offs, 3, statuses, ow, &now));
  assert_int_equal(now, 2);
  assert_int_equal(ow[0], offs[0]);
  assert_int_equal(ow[1], offs[2]);
  for (int i = 0; i < 3; i++)
    assert_int_equal(statuses[i], 0);
  assert_int_equal(it_stat(watch, "corruptions_detected"), before + 2);

  uint64_t off;
  uint32_t refs;
  bool overwritten = true;
  assert_arenad_ok(h, arenad_alloc(h, arena, 100, 0, 0, &off, NULL));
  assert_arenad_ok(h, arenad_retain(h, arena, off, &refs));
  assert_int_equal(refs, 2);
  it_smash_header(base, off, 100);
  now = 99;
  assert_arenad_ok(h, arenad_free_report(h, arena, &off, 1, NULL, ow, &now));
  assert_int_equal(now, 0);
  assert_arenad_ok(h,
                   arenad_release_report(h, arena, off, &refs, &overwritten));
  assert_int_equal(refs, 0);
  assert_true(overwritten);
  assert_int_equal(it_stat(watch, "corruptions_detected"), before + 3);
  assert_summary(watch, arena, 3, off);
  assert_int_equal(it_live_blocks(watch, arena), 0);

  /* Pipelined: the second of three overwritten, then an intact free. */
  assert_arenad_ok(h, arenad_alloc_n(h, arena, 100, 0, 3, 0, offs));
  it_smash_header(base, offs[1], 100);
  assert_arenad_ok(h, arenad_submit_free(h, arena, offs, 2, 1));
  assert_arenad_ok(h, arenad_submit_free(h, arena, offs + 2, 1, 2));
  arenad_result_t res;
  const uint32_t *idx;
  assert_arenad_ok(h, arenad_collect(h, &res));
  assert_int_equal(res.status, 0);
  assert_int_equal(res.freed, 2);
  assert_int_equal(arenad_collect_overwritten(h, &idx), 1);
  assert_int_equal(idx[0], 1);
  assert_arenad_ok(h, arenad_collect(h, &res));
  assert_int_equal(res.freed, 1);
  assert_int_equal(arenad_collect_overwritten(h, &idx), 0);
  assert_int_equal(it_stat(watch, "corruptions_detected"), before + 4);
  assert_summary(watch, arena, 4, offs[1]);
  assert_int_equal(it_live_blocks(watch, arena), 0);
  arenad_close(h);
  it_close(watch);
}

/* A connection holding a block whose header it overwrote, and an intact
 * one, closes: once another connection has seen the daemon handle the
 * close, both are reclaimed, and the one counted and logged once. */
static void close_smashed(const char *arena) {
  it_conn_t *watch = it_connect(it_group.sock);
  it_hello_ok(watch);
  uint64_t before = it_stat(watch, "corruptions_detected");
  assert_summary(watch, arena, 0, 0);
  uint64_t live = it_live_blocks(watch, arena);
  Arenad__Response *r = it_call(watch, it_req_stats(), NULL);
  uint64_t reclaimed = r->stats->reclaimed_blocks;
  it_resp_free(r);

  it_conn_t *c = it_connect(it_group.sock);
  uint64_t conn;
  it_hello_id(c, NULL, &conn);
  uint8_t *base = map_arena(c, arena);
  uint64_t intact;
  uint64_t off = alloc_and_smash(c, arena, base, &intact);
  munmap(base, ARENA_SIZE);
  assert_int_equal(it_live_blocks(watch, arena), live + 2);
  assert_int_equal(it_stat(watch, "corruptions_detected"), before);
  it_close(c);
  it_barrier(watch);

  r = it_call(watch, it_req_stats(), NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_OK);
  assert_int_equal(r->stats->corruptions_detected, before + 1);
  assert_int_equal(r->stats->reclaimed_blocks, reclaimed + 2);
  it_resp_free(r);
  assert_summary(watch, arena, 1, off);
  assert_logged(conn, arena, 1, off);
  char who[40];
  snprintf(who, sizeof(who), " conn=%llu ", (unsigned long long)conn);
  const char *reclaim[] = {" info reclaim ", who,         " blocks=2 ",
                           " corrupt=1 ",    " kept=0\n", NULL};
  assert_true(it_log_line(&it_group, reclaim));
  assert_int_equal(it_live_blocks(watch, arena), live);
  it_check_ok(watch, arena);
  it_close(watch);
}

static void test_close_list(void **state) {
  (void)state;
  close_smashed("list_close");
}

static void test_close_buddy(void **state) {
  (void)state;
  close_smashed("buddy_close");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_free_list),
      cmocka_unit_test(test_free_buddy),
      cmocka_unit_test(test_close_list),
      cmocka_unit_test(test_close_buddy),
      cmocka_unit_test(test_batch_list),
      cmocka_unit_test(test_batch_buddy),
      cmocka_unit_test(test_release),
      cmocka_unit_test(test_client_library),
      cmocka_unit_test(it_test_exits_cleanly),
  };
  it_group_config = config;
  return cmocka_run_group_tests(tests, it_group_setup, it_group_teardown);
}
