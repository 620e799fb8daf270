/*
 * test_daemon_sharing.c: block references shared between connections, on
 * a real arenad: three processes hold one block (the allocator frees its
 * reference, the others keep the block alive, the bytes stay, and the
 * block goes with the last reference, whether released or dropped by a
 * process that exits); references counted per connection; transfer to the
 * connection that owns a token (and to an unknown token, or its own), with
 * an observer that never sees a block without a reference, and the
 * daemon's count of transfers, the ones that succeeded, and none to a
 * connection that is closing; detached blocks
 * listed apart and retained; and each block's holders with their pid, uid,
 * name and references.
 */
#include "itest.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define ARENA "shared"
#define ARENA_SIZE (4u << 20)

static const char config[] = "[daemon]\n"
                             "max_page = 64\n"
                             "default_page = 64\n"
                             "[arena shared]\n"
                             "size = 4M\n"
                             "policy = first\n";

/* The inspect entry of the block at payload (a copy the caller frees with
 * it_resp_free(*resp)), or NULL when it is not live. */
static const Arenad__Extent *find_block(it_conn_t *c, uint64_t payload,
                                        Arenad__Response **resp) {
  *resp = it_call(c,
                  it_req_inspect(ARENA, ARENAD__INSPECT_WHAT__INSPECT_BLOCKS,
                                 payload - 16, 1),
                  NULL);
  it_assert_status(*resp, ARENAD__STATUS__STATUS_OK);
  const Arenad__InspectReply *ir = (*resp)->inspect;
  if (ir->n_extents == 1 && !ir->extents[0]->free &&
      ir->extents[0]->payload == payload)
    return ir->extents[0];
  return NULL;
}

/* The block's refcount as inspection shows it; 0 when it is gone. */
static uint32_t refcount_of(it_conn_t *c, uint64_t payload) {
  Arenad__Response *r;
  const Arenad__Extent *e = find_block(c, payload, &r);
  uint32_t n = e != NULL ? e->refcount : 0;
  it_resp_free(r);
  return n;
}

/* Every live block of the arena has a reference, and its refcount is its
 * holders' references plus its detached one. */
static void assert_no_orphans(it_conn_t *c) {
  uint64_t cursor = 0;
  for (;;) {
    Arenad__Response *r = it_call(
        c,
        it_req_inspect(ARENA, ARENAD__INSPECT_WHAT__INSPECT_BLOCKS, cursor, 0),
        NULL);
    it_assert_status(r, ARENAD__STATUS__STATUS_OK);
    const Arenad__InspectReply *ir = r->inspect;
    for (size_t i = 0; i < ir->n_extents; i++) {
      const Arenad__Extent *e = ir->extents[i];
      if (e->free)
        continue;
      uint32_t sum = e->detached ? 1 : 0;
      for (size_t j = 0; j < e->n_holders; j++) {
        assert_true(e->holders[j]->references >= 1);
        sum += e->holders[j]->references;
      }
      if (e->refcount == 0 || e->refcount != sum)
        fail_msg("block %llu: refcount %u, holders and detached say %u",
                 (unsigned long long)e->payload, e->refcount, sum);
    }
    cursor = ir->next_cursor;
    bool done = cursor == ir->summary->size;
    it_resp_free(r);
    if (done)
      break;
  }
}

static uint32_t retain_ok(it_conn_t *c, uint64_t off) {
  Arenad__Response *r = it_call(c, it_req_retain(ARENA, off), NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_OK);
  uint32_t n = r->retain->refcount;
  it_resp_free(r);
  return n;
}

static uint32_t release_ok(it_conn_t *c, uint64_t off) {
  Arenad__Response *r = it_call(c, it_req_release(ARENA, off), NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_OK);
  uint32_t n = r->release->refcount;
  it_resp_free(r);
  return n;
}

/* ---- Three processes --------------------------------------------------- */

/* A child that retains the block at `off`, reports the refcount it got,
 * waits for a byte on `go`, then (as `mode` says) checks the pattern
 * through its own read-only mapping and releases the block, reporting the
 * references left, or exits holding it. Reports 0xff on a failure. */
static void holder_child(uint64_t off, int report, int go, bool release) {
  it_conn_t *k = it_connect(it_group.sock);
  it_hello_ok(k);
  Arenad__Response *r = it_call(k, it_req_retain(ARENA, off), NULL);
  uint8_t byte = r->status == 0 ? (uint8_t)r->retain->refcount : 0xff;
  it_resp_free(r);
  if (write(report, &byte, 1) != 1 || read(go, &byte, 1) != 1)
    _exit(1);
  if (!release)
    _exit(0); /* holding it: the daemon drops it when the socket closes */
  int fd;
  r = it_call(k, it_req_attach(ARENA, true), &fd);
  const uint8_t *base =
      r->status == 0 ? mmap(NULL, ARENA_SIZE, PROT_READ, MAP_SHARED, fd, 0)
                     : MAP_FAILED;
  it_resp_free(r);
  byte = 0xff;
  if (base != MAP_FAILED) {
    bool same = true;
    for (uint64_t i = 0; i < 1000; i++)
      same = same && base[off + i] == (uint8_t)(i * 13 + 1);
    r = it_call(k, it_req_release(ARENA, off), NULL);
    if (same && r->status == 0)
      byte = (uint8_t)r->release->refcount;
    it_resp_free(r);
  }
  _exit(write(report, &byte, 1) == 1 ? 0 : 1);
}

typedef struct kid_s {
  pid_t pid;
  int report, go; /* our ends */
} kid_t;

static kid_t spawn_holder(uint64_t off, bool release) {
  int rep[2], go[2];
  assert_int_equal(pipe(rep), 0);
  assert_int_equal(pipe(go), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    close(rep[0]);
    close(go[1]);
    holder_child(off, rep[1], go[0], release);
  }
  close(rep[1]);
  close(go[0]);
  return (kid_t){pid, rep[0], go[1]};
}

static uint8_t kid_report(const kid_t *k) {
  uint8_t b = 0;
  assert_int_equal(read(k->report, &b, 1), 1);
  return b;
}

static void kid_go(const kid_t *k) {
  uint8_t b = 1;
  assert_int_equal(write(k->go, &b, 1), 1);
}

static void kid_wait(kid_t *k) {
  int st;
  assert_int_equal(waitpid(k->pid, &st, 0), k->pid);
  assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  close(k->report);
  close(k->go);
}

static void test_three_processes(void **state) {
  (void)state;
  it_conn_t *a = it_connect(it_group.sock);
  it_hello_ok(a);
  uint64_t before = it_live_blocks(a, ARENA);
  uint64_t off = it_alloc_ok(a, ARENA, 1000);
  int fd;
  Arenad__Response *r = it_call(a, it_req_attach(ARENA, false), &fd);
  it_assert_status(r, ARENAD__STATUS__STATUS_OK);
  it_resp_free(r);
  uint8_t *base =
      mmap(NULL, ARENA_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  assert_true(base != MAP_FAILED);
  close(fd);
  for (uint64_t i = 0; i < 1000; i++)
    base[off + i] = (uint8_t)(i * 13 + 1);

  /* B keeps its reference until it exits; C releases its own. */
  kid_t b = spawn_holder(off, false);
  assert_int_equal(kid_report(&b), 2);
  kid_t c = spawn_holder(off, true);
  assert_int_equal(kid_report(&c), 3);

  Arenad__Response *ir;
  const Arenad__Extent *e = find_block(a, off, &ir);
  assert_non_null(e);
  assert_int_equal(e->refcount, 3);
  assert_int_equal(e->n_holders, 3);
  assert_int_equal(e->holders[1]->pid, (uint32_t)b.pid); /* oldest first */
  assert_int_equal(e->holders[2]->pid, (uint32_t)c.pid);
  assert_int_equal(e->holders[1]->uid, getuid());
  assert_string_equal(e->holders[1]->client_name, "itest");
  it_resp_free(ir);

  /* The allocator's free drops its reference only; once it holds none,
   * the block is the others' and its free is refused. */
  it_free_ok(a, ARENA, off);
  assert_int_equal(refcount_of(a, off), 2);
  r = it_call(a, it_req_free(ARENA, &off, 1), NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_PERMISSION_DENIED);
  it_resp_free(r);

  /* B exits holding its reference: the daemon drops it. */
  kid_go(&b);
  kid_wait(&b);
  it_barrier(a);
  assert_int_equal(refcount_of(a, off), 1);
  assert_no_orphans(a);

  /* C sees the bytes through its own mapping, then releases the last
   * reference: the block is freed. */
  kid_go(&c);
  assert_int_equal(kid_report(&c), 0);
  kid_wait(&c);
  assert_int_equal(refcount_of(a, off), 0);
  assert_int_equal(it_live_blocks(a, ARENA), before);
  r = it_call(a, it_req_free(ARENA, &off, 1), NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_INVALID_ARGUMENT);
  it_resp_free(r);
  it_check_ok(a, ARENA);
  munmap(base, ARENA_SIZE);
  it_close(a);
}

/* ---- References counted per connection ---------------------------------- */

static void test_counted_references(void **state) {
  (void)state;
  it_conn_t *a = it_connect(it_group.sock), *b = it_connect(it_group.sock);
  it_hello_ok(a);
  it_hello_ok(b);
  Arenad__Response *r = it_call(a, it_req_stats(), NULL);
  uint64_t retains = r->stats->retains, releases = r->stats->releases;
  uint64_t denied = r->stats->permission_denied;
  uint64_t freed = r->stats->blocks_freed;
  it_resp_free(r);

  uint64_t off = it_alloc_ok(a, ARENA, 64);
  assert_int_equal(retain_ok(a, off), 2); /* its own block, again */
  assert_int_equal(retain_ok(a, off), 3);
  Arenad__Response *ir;
  const Arenad__Extent *e = find_block(b, off, &ir);
  assert_int_equal(e->n_holders, 1);
  assert_int_equal(e->holders[0]->references, 3);
  it_resp_free(ir);

  /* Releases and frees drop one each; b has none to drop. */
  r = it_call(b, it_req_release(ARENA, off), NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_PERMISSION_DENIED);
  assert_null(r->release);
  it_resp_free(r);
  assert_int_equal(release_ok(a, off), 2);
  it_free_ok(a, ARENA, off);
  assert_int_equal(release_ok(a, off), 0); /* the last: freed */
  assert_int_equal(refcount_of(b, off), 0);

  /* Not a live block. */
  r = it_call(a, it_req_retain(ARENA, off), NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_INVALID_ARGUMENT);
  assert_non_null(strstr(r->message, "not a live block"));
  it_resp_free(r);
  r = it_call(a, it_req_release(ARENA, off), NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_INVALID_ARGUMENT);
  it_resp_free(r);
  r = it_call(a, it_req_retain("nosuch", off), NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_NOT_FOUND);
  it_resp_free(r);

  r = it_call(a, it_req_stats(), NULL);
  assert_int_equal(r->stats->retains, retains + 2);
  assert_int_equal(r->stats->releases, releases + 2);
  /* The block went with the last release, and is counted freed once. */
  assert_int_equal(r->stats->blocks_freed, freed + 1);
  /* b's release of a reference it did not have is a refusal like any. */
  assert_int_equal(r->stats->permission_denied, denied + 1);
  it_resp_free(r);
  const char *refused[] = {" warn denied ", " request=release ",
                           " arena=" ARENA " ", " reason=not-a-holder ", NULL};
  assert_true(it_log_line(&it_group, refused));
  it_check_ok(a, ARENA);
  it_close(a);
  it_close(b);
}

/* ---- Transfer ----------------------------------------------------------- */

static void test_transfer(void **state) {
  (void)state;
  it_conn_t *a = it_connect(it_group.sock), *b = it_connect(it_group.sock),
            *watch = it_connect(it_group.sock);
  uint64_t ta, tb, ida, idb;
  it_hello_id(a, &ta, &ida);
  it_hello_id(b, &tb, &idb);
  it_hello_ok(watch);
  uint64_t before = it_live_blocks(watch, ARENA);
  Arenad__Response *st = it_call(watch, it_req_stats(), NULL);
  it_assert_status(st, ARENAD__STATUS__STATUS_OK);
  uint64_t transfers = st->stats->transfers;
  it_resp_free(st);
  uint64_t off = it_alloc_ok(a, ARENA, 300);

  Arenad__Response *r = it_call(a, it_req_transfer(ARENA, off, tb), NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_OK);
  assert_int_equal(r->transfer->target_connection_id, idb);
  assert_int_equal(r->transfer->refcount, 1);
  it_resp_free(r);
  Arenad__Response *ir;
  const Arenad__Extent *e = find_block(watch, off, &ir);
  assert_int_equal(e->refcount, 1);
  assert_int_equal(e->n_holders, 1);
  assert_int_equal(e->holders[0]->connection_id, idb);
  it_resp_free(ir);

  /* a holds nothing any more; tokens that name no one, or a itself. */
  r = it_call(a, it_req_transfer(ARENA, off, tb), NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_PERMISSION_DENIED);
  it_resp_free(r);
  r = it_call(b, it_req_transfer(ARENA, off, tb ^ 0x5a5a5a5a5a5a5a5aull), NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_NOT_FOUND);
  assert_null(r->transfer);
  it_resp_free(r);
  r = it_call(b, it_req_transfer(ARENA, off, 0), NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_NOT_FOUND);
  it_resp_free(r);
  r = it_call(b, it_req_transfer(ARENA, off, tb), NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_INVALID_ARGUMENT);
  assert_non_null(strstr(r->message, "the token is this connection's own"));
  it_resp_free(r);
  r = it_call(b, it_req_transfer(ARENA, off + 16, ta), NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_INVALID_ARGUMENT);
  it_resp_free(r);

  /* Back and forth, with an observer between every step: the block
   * always has its one reference. */
  it_conn_t *hold[2] = {b, a};
  uint64_t token[2] = {ta, tb};
  for (int i = 0; i < 100; i++) {
    r = it_call(hold[i % 2], it_req_transfer(ARENA, off, token[i % 2]), NULL);
    it_assert_status(r, ARENAD__STATUS__STATUS_OK);
    assert_int_equal(r->transfer->refcount, 1);
    it_resp_free(r);
    assert_int_equal(refcount_of(watch, off), 1);
  }
  assert_no_orphans(watch);

  /* b holds it now: a goes, the block stays; b goes, it is reclaimed. */
  it_close(a);
  it_barrier(watch);
  assert_int_equal(refcount_of(watch, off), 1);
  /* A transfer to a connection that went: its token is unknown. */
  r = it_call(b, it_req_transfer(ARENA, off, ta), NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_NOT_FOUND);
  it_resp_free(r);
  it_close(b);
  it_barrier(watch);
  assert_int_equal(it_live_blocks(watch, ARENA), before);
  /* The transfers that succeeded, the first and the hundred back and
   * forth; the six refused are not counted. */
  r = it_call(watch, it_req_stats(), NULL);
  assert_int_equal(r->stats->transfers - transfers, 1 + 100);
  it_resp_free(r);
  it_check_ok(watch, ARENA);
  it_close(watch);
}

/* A connection whose peer has shut down its side takes no more blocks,
 * though the daemon keeps it open to send the replies it still owes: a
 * transfer to it gets NOT_FOUND ("closing"), since what it held would be
 * reclaimed at its close. b pipelines more inspect pages than the socket
 * holds, does not read them, and shuts down its side; once the daemon has
 * read that, a's transfers to b are refused. */
static void test_transfer_to_closing(void **state) {
  (void)state;
  enum { PAGES = 400, TRIES = 300 };
  it_conn_t *a = it_connect(it_group.sock), *b = it_connect(it_group.sock);
  uint64_t tb;
  it_hello_ok(a);
  it_hello_id(b, &tb, NULL);
  uint64_t filler[64]; /* full pages */
  it_alloc_n_ok(a, ARENA, 16, 64, true, filler);

  uint8_t *buf = NULL;
  size_t len = 0;
  for (int i = 0; i < PAGES; i++) /* about 2 KiB a reply */
    it_frame_append_id(
        &buf, &len,
        it_req_inspect(ARENA, ARENAD__INSPECT_WHAT__INSPECT_BLOCKS, 0, 64),
        1000 + (uint64_t)i);
  it_send_raw(b, buf, len);
  free(buf);
  assert_int_equal(shutdown(b->fd, SHUT_WR), 0);

  const char *why = NULL;
  for (int i = 0; i < TRIES && why == NULL; i++) {
    uint64_t off = it_alloc_ok(a, ARENA, 16);
    Arenad__Response *r = it_call(a, it_req_transfer(ARENA, off, tb), NULL);
    if (r->status == ARENAD__STATUS__STATUS_OK) { /* not read yet: b's now */
      it_resp_free(r);
      usleep(10 * 1000);
      continue;
    }
    it_assert_status(r, ARENAD__STATUS__STATUS_NOT_FOUND);
    why = strstr(r->message, "is closing: it takes no more blocks");
    assert_non_null(why);
    it_resp_free(r);
    it_free_ok(a, ARENA, off);
  }
  if (why == NULL)
    fail_msg("%d transfers to a connection that shut down its side were all "
             "taken",
             TRIES);
  it_close(b); /* its blocks, the ones transferred to it, are reclaimed */
  Arenad__Response *r = it_call(a, it_req_free(ARENA, filler, 64), NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_OK);
  it_resp_free(r);
  it_check_ok(a, ARENA);
  it_close(a);
}

/* ---- Detached blocks ---------------------------------------------------- */

static void test_detached_apart(void **state) {
  (void)state;
  it_conn_t *a = it_connect(it_group.sock), *b = it_connect(it_group.sock);
  it_hello_ok(a);
  it_hello_ok(b);
  uint64_t held[3], det[2];
  Arenad__Response *r = it_call(a, it_req_alloc(ARENA, 100, 0, 3, false), NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_OK);
  memcpy(held, r->alloc->offsets, sizeof(held));
  it_resp_free(r);
  r = it_call(a, it_req_alloc(ARENA, 200, 0, 2, true), NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_OK);
  memcpy(det, r->alloc->offsets, sizeof(det));
  it_resp_free(r);

  r = it_call(
      b, it_req_inspect(ARENA, ARENAD__INSPECT_WHAT__INSPECT_DETACHED, 0, 0),
      NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_OK);
  assert_int_equal(r->inspect->summary->detached_blocks, 2);
  assert_int_equal(r->inspect->n_extents, 2);
  for (size_t i = 0; i < 2; i++) {
    const Arenad__Extent *e = r->inspect->extents[i];
    assert_int_equal(e->payload, det[i]);
    assert_true(e->detached);
    assert_int_equal(e->refcount, 1);
    assert_int_equal(e->n_holders, 0);
  }
  it_resp_free(r);
  /* The full listing has all five, each marked. */
  for (int i = 0; i < 3; i++) {
    Arenad__Response *ir;
    const Arenad__Extent *e = find_block(b, held[i], &ir);
    assert_false(e->detached);
    it_resp_free(ir);
  }

  /* A detached block retained: still detached (and listed so), two
   * references; a free drops the detached one, the retainer's close the
   * last. */
  assert_int_equal(retain_ok(b, det[0]), 2);
  Arenad__Response *ir;
  const Arenad__Extent *e = find_block(a, det[0], &ir);
  assert_true(e->detached);
  assert_int_equal(e->n_holders, 1);
  it_resp_free(ir);
  it_free_ok(a, ARENA, det[0]);
  e = find_block(a, det[0], &ir);
  assert_false(e->detached);
  assert_int_equal(e->refcount, 1);
  it_resp_free(ir);
  r = it_call(
      a, it_req_inspect(ARENA, ARENAD__INSPECT_WHAT__INSPECT_DETACHED, 0, 0),
      NULL);
  assert_int_equal(r->inspect->n_extents, 1);
  assert_int_equal(r->inspect->extents[0]->payload, det[1]);
  it_resp_free(r);
  it_close(b);
  it_barrier(a);
  assert_int_equal(refcount_of(a, det[0]), 0);
  it_free_ok(a, ARENA, det[1]);
  it_check_ok(a, ARENA);
  it_close(a); /* the three held blocks go with it */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_three_processes),
      cmocka_unit_test(test_counted_references),
      cmocka_unit_test(test_transfer),
      cmocka_unit_test(test_transfer_to_closing),
      cmocka_unit_test(test_detached_apart),
      cmocka_unit_test(it_test_exits_cleanly),
  };
  it_group_config = config;
  return cmocka_run_group_tests(tests, it_group_setup, it_group_teardown);
}
