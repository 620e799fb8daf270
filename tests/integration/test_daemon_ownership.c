/*
 * test_daemon_ownership.c: who may free what, and what happens to a
 * client's blocks when it goes: a free of another connection's block is
 * refused with permission denied (alone and among good offsets), detached
 * blocks outlive their maker and anyone may free them (a free by a
 * connection that also retained one drops its own reference first, not the
 * detached one), two processes see
 * the same bytes through their own mappings, and a client killed with
 * SIGKILL has every block reclaimed, counted to the byte (the engine's
 * block sizes) in the stats and on its reclaim line, with the integrity
 * check passing.
 */
#include "itest.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ar/engine.h"

#define ARENA_SIZE (4u << 20)

static const char config[] = "[arena shared]\n"
                             "size = 4M\n"
                             "policy = best\n";

/* A round trip on c after which the daemon has handled every event that
 * happened before it was sent (such as a peer's death): its loop takes
 * all ready sockets together, so the one after the next is surely later. */
static void barrier(it_conn_t *c) {
  for (int i = 0; i < 2; i++)
    it_resp_free(it_call(c, it_req_ping(), NULL));
}

static void test_foreign_free(void **state) {
  (void)state;
  it_conn_t *a = it_connect(it_group.sock), *b = it_connect(it_group.sock);
  uint64_t mine = it_alloc_ok(a, "shared", 128);
  uint64_t theirs = it_alloc_ok(b, "shared", 128);

  Arenad__Response *r = it_call(b, it_req_free("shared", &mine, 1), NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_PERMISSION_DENIED);
  assert_non_null(r->free);
  assert_int_equal(r->free->freed, 0);
  assert_int_equal(r->free->n_statuses, 1);
  assert_int_equal(r->free->statuses[0],
                   ARENAD__STATUS__STATUS_PERMISSION_DENIED);
  it_resp_free(r);

  /* Mixed: b's own block, a's, and nonsense; each on its own. */
  uint64_t offs[3] = {theirs, mine, 12345};
  r = it_call(b, it_req_free("shared", offs, 3), NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_PERMISSION_DENIED); /* first */
  assert_int_equal(r->free->freed, 1);
  assert_int_equal(r->free->reclaimed, 1);
  assert_int_equal(r->free->n_statuses, 3);
  assert_int_equal(r->free->statuses[0], ARENAD__STATUS__STATUS_OK);
  assert_int_equal(r->free->statuses[1],
                   ARENAD__STATUS__STATUS_PERMISSION_DENIED);
  assert_int_equal(r->free->statuses[2],
                   ARENAD__STATUS__STATUS_INVALID_ARGUMENT);
  it_resp_free(r);

  it_free_ok(a, "shared", mine); /* its owner may */
  r = it_call(a, it_req_stats(), NULL);
  assert_true(r->stats->permission_denied >= 2);
  it_resp_free(r);
  r = it_call(a, it_req_inspect("shared",
                                ARENAD__INSPECT_WHAT__INSPECT_SUMMARY, 0, 0),
              NULL);
  assert_true(r->inspect->summary->permission_denied >= 2);
  it_resp_free(r);
  it_check_ok(a, "shared");
  it_close(a);
  it_close(b);
}

static void test_detached(void **state) {
  (void)state;
  it_conn_t *a = it_connect(it_group.sock);
  uint64_t before = it_live_blocks(a, "shared");
  Arenad__Response *r = it_call(a, it_req_alloc("shared", 500, 0, 2, true),
                                NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_OK);
  uint64_t offs[2] = {r->alloc->offsets[0], r->alloc->offsets[1]};
  it_resp_free(r);
  it_close(a);

  it_conn_t *b = it_connect(it_group.sock);
  barrier(b);
  assert_int_equal(it_live_blocks(b, "shared"), before + 2);
  r = it_call(b, it_req_stats(), NULL);
  assert_true(r->stats->detached_blocks >= 2);
  it_resp_free(r);
  /* Nobody holds them: release is refused, and says that free is the way. */
  r = it_call(b, it_req_release("shared", offs[0]), NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_PERMISSION_DENIED);
  assert_non_null(strstr(r->message, "it is detached: a free with write "
                                     "access drops the detached reference"));
  it_resp_free(r);
  it_free_ok(b, "shared", offs[0]); /* anyone may free a detached block */

  /* A detached block the caller also holds: its free drops the caller's
   * own reference, not the detached one, so the block stays detached and
   * the caller holds none; a second free drops the detached reference. */
  uint64_t detached = it_summary_stat(b, "shared", "detached_blocks");
  r = it_call(b, it_req_retain("shared", offs[1]), NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_OK);
  assert_int_equal(r->retain->refcount, 2);
  it_resp_free(r);
  r = it_call(b, it_req_free("shared", &offs[1], 1), NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_OK);
  assert_int_equal(r->free->reclaimed, 0);
  it_resp_free(r);
  assert_int_equal(it_summary_stat(b, "shared", "detached_blocks"), detached);
  assert_int_equal(it_status(b, it_req_release("shared", offs[1])),
                   ARENAD__STATUS__STATUS_PERMISSION_DENIED);
  r = it_call(b, it_req_free("shared", &offs[1], 1), NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_OK);
  assert_int_equal(r->free->reclaimed, 1);
  it_resp_free(r);
  assert_int_equal(it_summary_stat(b, "shared", "detached_blocks"),
                   detached - 1);
  assert_int_equal(it_live_blocks(b, "shared"), before);
  it_check_ok(b, "shared");
  it_close(b);
}

/* The child writes, the parent reads, each through its own mapping. */
static void test_two_processes_share_bytes(void **state) {
  (void)state;
  int done[2];
  assert_int_equal(pipe(done), 0);
  it_conn_t *c = it_connect(it_group.sock);
  uint64_t off = it_alloc_ok(c, "shared", 4096);

  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    it_conn_t *k = it_connect(it_group.sock);
    int fd;
    Arenad__Response *r = it_call(k, it_req_attach("shared", false), &fd);
    unsigned char *base = mmap(NULL, ARENA_SIZE, PROT_READ | PROT_WRITE,
                               MAP_SHARED, fd, 0);
    if (r->status != 0 || base == MAP_FAILED)
      _exit(1);
    for (int i = 0; i < 4096; i++)
      base[off + (uint64_t)i] = (unsigned char)(i * 7 + 3);
    char one = 1;
    _exit(write(done[1], &one, 1) == 1 ? 0 : 1);
  }
  close(done[1]);
  char one;
  assert_int_equal(read(done[0], &one, 1), 1);
  close(done[0]);
  int st;
  assert_int_equal(waitpid(pid, &st, 0), pid);
  assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);

  int fd;
  Arenad__Response *r = it_call(c, it_req_attach("shared", false), &fd);
  it_assert_status(r, ARENAD__STATUS__STATUS_OK);
  it_resp_free(r);
  unsigned char *base =
      mmap(NULL, ARENA_SIZE, PROT_READ, MAP_SHARED, fd, 0);
  assert_true(base != MAP_FAILED);
  close(fd);
  for (int i = 0; i < 4096; i++)
    assert_int_equal(base[off + (uint64_t)i], (unsigned char)(i * 7 + 3));
  munmap(base, ARENA_SIZE);
  it_free_ok(c, "shared", off);
  it_close(c);
}

/* A client dies with SIGKILL holding blocks; they all come back. */
static void test_reclaim_after_sigkill(void **state) {
  (void)state;
  it_conn_t *c = it_connect(it_group.sock);
  uint64_t before = it_live_blocks(c, "shared");
  Arenad__Response *r = it_call(c, it_req_stats(), NULL);
  uint64_t reclaimed_before = r->stats->reclaimed_blocks;
  uint64_t conns_before = r->stats->reclaimed_connections;
  uint64_t bytes_before = r->stats->reclaimed_bytes;
  it_resp_free(r);
  /* The bytes of the blocks it will hold, as the arena's engine (best
   * fit, a list policy: round_up(n + 16, 16) whatever the alignment)
   * sizes them: 20 of 1000 bytes and one of 3 aligned to 64. */
  ar_engine_t *e;
  assert_int_equal(ar_engine_create(AR_POLICY_BEST, ARENA_SIZE, NULL, &e), 0);
  uint64_t bytes = 20 * ar_engine_block_size(e, 1000, AR_ALIGN_MIN) +
                   ar_engine_block_size(e, 3, 64);
  ar_engine_destroy(e);
  assert_int_equal(bytes, 20 * 1024 + 32);

  int ready[2];
  assert_int_equal(pipe(ready), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    close(ready[0]);
    it_conn_t *k = it_connect(it_group.sock);
    it_hello_ok(k);
    Arenad__Response *a =
        it_call(k, it_req_alloc("shared", 1000, 0, 20, false), NULL);
    Arenad__Response *b = it_call(k, it_req_alloc("shared", 3, 64, 1, false),
                                  NULL);
    char ok = a->status == 0 && b->status == 0 ? 1 : 0;
    if (write(ready[1], &ok, 1) != 1)
      _exit(1);
    for (;;)
      pause(); /* holding the blocks until killed */
  }
  close(ready[1]);
  char ok = 0;
  assert_int_equal(read(ready[0], &ok, 1), 1);
  close(ready[0]);
  assert_int_equal(ok, 1);
  assert_int_equal(it_live_blocks(c, "shared"), before + 21);

  assert_int_equal(kill(pid, SIGKILL), 0);
  int st;
  assert_int_equal(waitpid(pid, &st, 0), pid);
  assert_true(WIFSIGNALED(st));

  barrier(c);
  assert_int_equal(it_live_blocks(c, "shared"), before);
  it_check_ok(c, "shared");
  r = it_call(c, it_req_stats(), NULL);
  assert_int_equal(r->stats->reclaimed_blocks, reclaimed_before + 21);
  assert_int_equal(r->stats->reclaimed_connections, conns_before + 1);
  assert_int_equal(r->stats->reclaimed_bytes, bytes_before + bytes);
  it_resp_free(r);
  char bytes_field[40];
  snprintf(bytes_field, sizeof bytes_field, " bytes=%llu ",
           (unsigned long long)bytes);
  assert_true(it_log_line(
      &it_group, (const char *const[]){"info reclaim ", " refs=21 ",
                                       " blocks=21 ", bytes_field, NULL}));
  it_close(c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_foreign_free),
      cmocka_unit_test(test_detached),
      cmocka_unit_test(test_two_processes_share_bytes),
      cmocka_unit_test(test_reclaim_after_sigkill),
      cmocka_unit_test(it_test_exits_cleanly),
  };
  it_group_config = config;
  return cmocka_run_group_tests(tests, it_group_setup, it_group_teardown);
}
