/*
 * test_daemon_basic.c: a real arenad answering each request kind over a
 * raw socket: hello (and a wrong version), ping, list, attach (a memfd of
 * the arena's size that maps, sealed against resizing), alloc and free,
 * several blocks in one request (all or nothing), 100 requests pipelined
 * in one write, inspect paged with cursors (a page over max_page clamped
 * to exactly max_page extents, no limit giving exactly default_page, on an
 * arena with more free extents than either), stats (connections_closed
 * counting closes exactly) and check. The config sets every limit hello
 * reports to a distinct value, so that the reply shows each one in its
 * own field.
 */
#include "itest.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ar/engine.h"

#define MiB (1u << 20)

/* Limits hello reports, each distinct from the others and from its
 * default. */
#define MAX_PAGE 16
#define DEFAULT_PAGE 4
#define MAX_BLOCKS 200
#define MAX_IN_FLIGHT 300
#define MAX_FRAME (512u << 10)

static const char config[] = "[daemon]\n"
                             "max_page = 16\n"
                             "default_page = 4\n"
                             "max_blocks_per_request = 200\n"
                             "max_in_flight = 300\n"
                             "max_frame_bytes = 512K\n"
                             "\n"
                             "[arena beta]\n"
                             "size = 1M\n"
                             "policy = buddy\n"
                             "\n"
                             "[arena alpha]\n"
                             "size = 1M\n";

static void test_hello(void **state) {
  (void)state;
  it_conn_t *a = it_connect(it_group.sock), *b = it_connect(it_group.sock);
  Arenad__Response *ra = it_call(a, it_req_hello(1, "basic test"), NULL);
  Arenad__Response *rb = it_call(b, it_req_hello(1, "other"), NULL);
  it_assert_status(ra, ARENAD__STATUS__STATUS_OK);
  it_assert_status(rb, ARENAD__STATUS__STATUS_OK);
  assert_non_null(ra->hello);
  assert_string_not_equal(ra->hello->daemon_version, "");
  assert_int_equal(ra->hello->protocol_version, 1);
  assert_non_null(ra->hello->limits);
  assert_int_equal(ra->hello->limits->max_frame_bytes, MAX_FRAME);
  assert_int_equal(ra->hello->limits->max_page, MAX_PAGE);
  assert_int_equal(ra->hello->limits->max_blocks_per_request, MAX_BLOCKS);
  assert_int_equal(ra->hello->limits->max_in_flight, MAX_IN_FLIGHT);
  assert_true(ra->hello->token != 0 && rb->hello->token != 0);
  assert_true(ra->hello->token != rb->hello->token);
  assert_true(ra->hello->connection_id != rb->hello->connection_id);
  it_resp_free(ra);
  it_resp_free(rb);
  it_close(a);
  it_close(b);
}

/* Refused and closed, also when the name is too long (which alone would
 * be refused with the connection kept, for another hello). */
static void test_hello_wrong_version(void **state) {
  (void)state;
  char long_name[66];
  memset(long_name, 'n', 65);
  long_name[65] = '\0';
  const char *const names[] = {"future", long_name};
  for (size_t i = 0; i < 2; i++) {
    it_conn_t *c = it_connect(it_group.sock);
    Arenad__Response *r = it_call(c, it_req_hello(99, names[i]), NULL);
    it_assert_status(r, ARENAD__STATUS__STATUS_UNSUPPORTED_VERSION);
    assert_non_null(r->hello); /* the body still says what the daemon speaks */
    assert_int_equal(r->hello->protocol_version, 1);
    assert_non_null(strstr(r->message, "99"));
    it_resp_free(r);
    assert_int_equal(it_expect_eof(c), 0);
    it_close(c);
  }
}

static void test_ping(void **state) {
  (void)state;
  it_conn_t *c = it_connect(it_group.sock);
  Arenad__Response *r = it_call(c, it_req_ping(), NULL); /* no hello: fine */
  it_assert_status(r, ARENAD__STATUS__STATUS_OK);
  assert_int_equal(r->body_case, ARENAD__RESPONSE__BODY_PING);
  it_resp_free(r);
  it_close(c);
}

static void test_list(void **state) {
  (void)state;
  it_conn_t *c = it_connect(it_group.sock);
  Arenad__Response *r = it_call(c, it_req_list(), NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_OK);
  assert_int_equal(r->list->n_arenas, 2);
  assert_string_equal(r->list->arenas[0]->name, "alpha"); /* name order */
  assert_string_equal(r->list->arenas[1]->name, "beta");
  assert_int_equal(r->list->arenas[0]->size, MiB);
  assert_int_equal(r->list->arenas[0]->policy, ARENAD__POLICY__POLICY_FIRST);
  assert_int_equal(r->list->arenas[1]->policy, ARENAD__POLICY__POLICY_BUDDY);
  assert_int_equal(r->list->arenas[0]->free_bytes +
                       r->list->arenas[0]->used_bytes,
                   MiB);
  it_resp_free(r);
  it_close(c);
}

static void test_attach(void **state) {
  (void)state;
  it_conn_t *c = it_connect(it_group.sock);
  int fd;
  Arenad__Response *r = it_call(c, it_req_attach("alpha", false), &fd);
  it_assert_status(r, ARENAD__STATUS__STATUS_OK);
  assert_int_equal(r->attach->size, MiB);
  assert_int_equal(r->attach->policy, ARENAD__POLICY__POLICY_FIRST);
  assert_false(r->attach->read_only);
  it_resp_free(r);
  assert_true(fd >= 0);

  struct stat st;
  assert_int_equal(fstat(fd, &st), 0);
  assert_int_equal(st.st_size, MiB);
  int seals = fcntl(fd, F_GET_SEALS);
  assert_true(seals & F_SEAL_SHRINK);
  assert_true(seals & F_SEAL_GROW);
  assert_true(seals & F_SEAL_SEAL);
  assert_int_not_equal(ftruncate(fd, 4096), 0); /* sealed */
  void *p = mmap(NULL, MiB, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  assert_true(p != MAP_FAILED);
  munmap(p, MiB);
  close(fd);

  /* An unknown arena: an error and no descriptor. */
  r = it_call(c, it_req_attach("nosuch", false), &fd);
  it_assert_status(r, ARENAD__STATUS__STATUS_NOT_FOUND);
  assert_int_equal(fd, -1);
  it_resp_free(r);
  /* Read-only: a descriptor that refuses a writable shared mapping
   * (test_daemon_access has the rest). */
  r = it_call(c, it_req_attach("alpha", true), &fd);
  it_assert_status(r, ARENAD__STATUS__STATUS_OK);
  assert_true(r->attach->read_only);
  it_resp_free(r);
  assert_true(fd >= 0);
  assert_true(mmap(NULL, MiB, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) ==
              MAP_FAILED);
  close(fd);

  /* Two attaches pipelined: each descriptor comes with its own frame. */
  uint8_t *buf = NULL;
  size_t len = 0;
  Arenad__Request *q = it_req_attach("alpha", false);
  it_frame_append_id(&buf, &len, q, 101);
  q = it_req_attach("beta", false);
  it_frame_append_id(&buf, &len, q, 102);
  it_send_raw(c, buf, len);
  free(buf);
  int fa, fb;
  Arenad__Response *ra = it_recv(c, &fa), *rb = it_recv(c, &fb);
  assert_int_equal(ra->id, 101);
  assert_int_equal(rb->id, 102);
  assert_true(fa >= 0 && fb >= 0);
  close(fa);
  close(fb);
  it_resp_free(ra);
  it_resp_free(rb);

  /* Attaches between pings, pipelined: the daemon's send stops short of
   * each attach's frame, so that its descriptor comes with that frame's
   * first byte and no other; each is the segment of its own arena. */
  static const char *const order[] = {NULL, "beta", NULL, "alpha", NULL};
  buf = NULL;
  len = 0;
  for (int i = 0; i < 5; i++) {
    q = order[i] != NULL ? it_req_attach(order[i], false) : it_req_ping();
    it_frame_append_id(&buf, &len, q, 200 + (uint64_t)i);
  }
  it_send_raw(c, buf, len);
  free(buf);
  for (int i = 0; i < 5; i++) {
    int got;
    r = it_recv(c, &got);
    assert_int_equal(r->id, 200 + (uint64_t)i);
    it_assert_status(r, ARENAD__STATUS__STATUS_OK);
    if (order[i] == NULL) {
      assert_int_equal(r->body_case, ARENAD__RESPONSE__BODY_PING);
      if (got != -1)
        fail_msg("reply %d (a ping) came with descriptor %d", i, got);
    } else {
      assert_int_equal(r->body_case, ARENAD__RESPONSE__BODY_ATTACH);
      assert_true(got >= 0);
      /* the segment's memfd is named after its arena */
      char target[256];
      assert_true(it_fd_target(getpid(), got, target, sizeof target));
      if (strstr(target, order[i]) == NULL)
        fail_msg("attach %s came with %s", order[i], target);
      close(got);
    }
    it_resp_free(r);
  }
  it_close(c);
}

static void test_alloc_free_round_trip(void **state) {
  (void)state;
  it_conn_t *c = it_connect(it_group.sock);
  it_hello_ok(c);
  int fd;
  Arenad__Response *r = it_call(c, it_req_attach("alpha", false), &fd);
  it_assert_status(r, ARENAD__STATUS__STATUS_OK);
  it_resp_free(r);
  unsigned char *base =
      mmap(NULL, MiB, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  assert_true(base != MAP_FAILED);
  close(fd);

  uint64_t before = it_live_blocks(c, "alpha");
  uint64_t off = it_alloc_ok(c, "alpha", 100);
  assert_true(off >= AR_HDR && off + 100 <= MiB && off % 16 == 0);
  /* The engine's header is in the shared memory, in front of the payload. */
  ar_header_t h;
  memcpy(&h, base + off - AR_HDR, sizeof(h));
  assert_int_equal(h.magic, AR_HDR_MAGIC);
  assert_int_equal(h.size, 100);
  memset(base + off, 0x5a, 100);
  assert_int_equal(it_live_blocks(c, "alpha"), before + 1);

  /* An aligned one. */
  r = it_call(c, it_req_alloc("alpha", 10, 4096, 1, false), NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_OK);
  uint64_t aligned = r->alloc->offsets[0];
  assert_int_equal(aligned % 4096, 0);
  it_resp_free(r);

  it_free_ok(c, "alpha", off);
  it_free_ok(c, "alpha", aligned);
  r = it_call(c, it_req_free("alpha", &off, 1), NULL); /* again */
  it_assert_status(r, ARENAD__STATUS__STATUS_INVALID_ARGUMENT);
  assert_non_null(r->free);
  assert_int_equal(r->free->freed, 0);
  it_resp_free(r);
  assert_int_equal(it_live_blocks(c, "alpha"), before);
  it_check_ok(c, "alpha");
  munmap(base, MiB);
  it_close(c);
}

static void test_alloc_count(void **state) {
  (void)state;
  it_conn_t *c = it_connect(it_group.sock);
  uint64_t before = it_live_blocks(c, "beta");
  it_barrier(c); /* the closes of the tests before are handled */
  uint64_t allocated = it_stat(c, "blocks_allocated");
  uint64_t freed = it_stat(c, "blocks_freed");
  Arenad__Response *r = it_call(c, it_req_alloc("beta", 1000, 0, 8, false),
                                NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_OK);
  assert_int_equal(r->alloc->n_offsets, 8);
  uint64_t offs[8];
  memcpy(offs, r->alloc->offsets, sizeof(offs));
  it_resp_free(r);
  for (int i = 0; i < 8; i++)
    for (int j = i + 1; j < 8; j++)
      assert_true(offs[i] != offs[j]);
  assert_int_equal(it_live_blocks(c, "beta"), before + 8);

  /* All or nothing: 64 blocks of 64K do not fit in 1M; none stays. */
  uint64_t engine_allocs = it_summary_stat(c, "beta", "allocs");
  uint64_t engine_frees = it_summary_stat(c, "beta", "frees");
  r = it_call(c, it_req_alloc("beta", 65536, 0, 64, false), NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_OUT_OF_MEMORY);
  assert_int_equal(r->body_case, ARENAD__RESPONSE__BODY__NOT_SET);
  it_resp_free(r);
  assert_int_equal(it_live_blocks(c, "beta"), before + 8);
  /* The daemon counts blocks, not requests; the refused one, nothing.
   * The engine counts the blocks it placed and freed again (as the README
   * says), the same number of each. */
  assert_int_equal(it_stat(c, "blocks_allocated"), allocated + 8);
  assert_int_equal(it_stat(c, "blocks_freed"), freed);
  uint64_t placed = it_summary_stat(c, "beta", "allocs") - engine_allocs;
  assert_true(placed > 0 && placed < 64);
  assert_int_equal(it_summary_stat(c, "beta", "frees") - engine_frees, placed);

  r = it_call(c, it_req_free("beta", offs, 8), NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_OK);
  assert_int_equal(r->free->freed, 8);
  assert_int_equal(r->free->reclaimed, 8);
  assert_int_equal(r->free->n_statuses, 0);
  it_resp_free(r);
  assert_int_equal(it_live_blocks(c, "beta"), before);
  assert_int_equal(it_stat(c, "blocks_freed"), freed + 8);
  it_check_ok(c, "beta");
  it_close(c);
}

/* 100 requests in one write; 100 replies, in order. */
static void test_pipelining(void **state) {
  (void)state;
  it_conn_t *c = it_connect(it_group.sock);
  enum { N = 100 };
  uint8_t *buf = NULL;
  size_t len = 0;
  for (int i = 0; i < N; i++) {
    Arenad__Request *q = i % 10 == 9 ? it_req_ping()
                                     : it_req_alloc("alpha", 32, 0, 1, false);
    it_frame_append_id(&buf, &len, q, 1000 + (uint64_t)i);
  }
  it_send_raw(c, buf, len);
  free(buf);

  uint64_t offs[N];
  size_t n = 0;
  for (int i = 0; i < N; i++) {
    Arenad__Response *r =
        it_recv_reply(c, 1000 + (uint64_t)i, ARENAD__STATUS__STATUS_OK);
    if (i % 10 == 9) {
      assert_int_equal(r->body_case, ARENAD__RESPONSE__BODY_PING);
    } else {
      assert_int_equal(r->body_case, ARENAD__RESPONSE__BODY_ALLOC);
      offs[n++] = r->alloc->offsets[0];
    }
    it_resp_free(r);
  }

  /* And the frees, pipelined too. */
  buf = NULL;
  len = 0;
  for (size_t i = 0; i < n; i++) {
    Arenad__Request *q = it_req_free("alpha", &offs[i], 1);
    it_frame_append_id(&buf, &len, q, 5000 + i);
  }
  it_send_raw(c, buf, len);
  free(buf);
  for (size_t i = 0; i < n; i++) {
    Arenad__Response *r = it_recv_reply(c, 5000 + i, ARENAD__STATUS__STATUS_OK);
    it_resp_free(r);
  }
  it_check_ok(c, "alpha");
  it_close(c);
}

/* Every extent of a page walk, with holders and the detached flag. */
static void test_inspect_pages(void **state) {
  (void)state;
  it_conn_t *c = it_connect(it_group.sock);
  Arenad__Response *r = it_call(c, it_req_hello(1, "inspector"), NULL);
  uint64_t me = r->hello->connection_id;
  it_resp_free(r);

  uint64_t offs[10];
  for (int i = 0; i < 9; i++)
    offs[i] = it_alloc_ok(c, "alpha", 100 + (uint64_t)i);
  r = it_call(c, it_req_alloc("alpha", 64, 0, 1, true), NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_OK);
  offs[9] = r->alloc->offsets[0];
  it_resp_free(r);

  uint64_t cursor = 0;
  int pages = 0, blocks = 0, detached = 0, mine = 0;
  uint64_t covered = 0;
  do {
    r = it_call(c, it_req_inspect("alpha", ARENAD__INSPECT_WHAT__INSPECT_BLOCKS,
                                  cursor, 3),
                NULL);
    it_assert_status(r, ARENAD__STATUS__STATUS_OK);
    assert_non_null(r->inspect->summary);
    assert_string_equal(r->inspect->summary->name, "alpha");
    assert_true(r->inspect->n_extents <= 3);
    for (size_t i = 0; i < r->inspect->n_extents; i++) {
      const Arenad__Extent *e = r->inspect->extents[i];
      assert_int_equal(e->start, covered); /* the pages tile the arena */
      covered += e->size;
      if (e->free)
        continue;
      blocks++;
      if (e->detached) {
        detached++;
        assert_int_equal(e->payload, offs[9]);
        assert_int_equal(e->n_holders, 0);
        assert_int_equal(e->refcount, 1);
      } else if (e->n_holders == 1 && e->holders[0]->connection_id == me) {
        mine++;
        assert_int_equal(e->holders[0]->pid, getpid());
        assert_int_equal(e->holders[0]->uid, getuid());
        assert_string_equal(e->holders[0]->client_name, "inspector");
        assert_int_equal(e->refcount, 1);
      }
    }
    cursor = r->inspect->next_cursor;
    it_resp_free(r);
    pages++;
  } while (cursor < MiB);
  assert_int_equal(covered, MiB);
  assert_true(pages >= 4);
  /* The walk's end, the arena's size, is still a cursor: an empty page
   * (as a client that asks once more gets); past it, none. */
  r = it_call(
      c, it_req_inspect("alpha", ARENAD__INSPECT_WHAT__INSPECT_BLOCKS, MiB, 3),
      NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_OK);
  assert_int_equal(r->inspect->n_extents, 0);
  assert_int_equal(r->inspect->next_cursor, MiB);
  it_resp_free(r);
  r = it_call(
      c,
      it_req_inspect("alpha", ARENAD__INSPECT_WHAT__INSPECT_BLOCKS, MiB + 1, 3),
      NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_INVALID_ARGUMENT);
  assert_non_null(strstr(r->message, "beyond the arena's size"));
  it_resp_free(r);
  assert_int_equal(mine, 9);
  assert_true(detached >= 1);
  assert_true(blocks >= 10);

  /* The detached ones alone. */
  r = it_call(c, it_req_inspect("alpha",
                                ARENAD__INSPECT_WHAT__INSPECT_DETACHED, 0, 0),
              NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_OK);
  assert_true(r->inspect->n_extents >= 1);
  for (size_t i = 0; i < r->inspect->n_extents; i++)
    assert_true(r->inspect->extents[i]->detached);
  assert_true(r->inspect->summary->detached_blocks >= 1);
  it_resp_free(r);

  r = it_call(c, it_req_free("alpha", offs, 10), NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_OK);
  assert_int_equal(r->free->freed, 10);
  it_resp_free(r);
  it_check_ok(c, "alpha");
  it_close(c);
}

/* The detached blocks in pages of 2, when a walk finds more of them than a
 * page has room left for: each page goes on from the first one it left out, so
 * that every detached block is listed, once. */
static void test_inspect_detached_pages(void **state) {
  (void)state;
  it_conn_t *c = it_connect(it_group.sock);
  it_hello_ok(c);
  /* One block held first, so that a walk of 2 pieces finds the held one
   * and a detached one, the next walk two detached ones. */
  it_alloc_n_ok(c, "alpha", 16, 1, false, NULL);
  uint64_t offs[5];
  it_alloc_n_ok(c, "alpha", 16, 5, true, offs);
  size_t seen[5] = {0};
  uint64_t cursor = 0;
  for (int page = 0; cursor < MiB; page++) {
    assert_true(page < 8);
    Arenad__Response *r =
        it_call(c,
                it_req_inspect("alpha", ARENAD__INSPECT_WHAT__INSPECT_DETACHED,
                               cursor, 2),
                NULL);
    it_assert_status(r, ARENAD__STATUS__STATUS_OK);
    assert_true(r->inspect->n_extents <= 2);
    for (size_t i = 0; i < r->inspect->n_extents; i++)
      for (size_t j = 0; j < 5; j++)
        seen[j] += r->inspect->extents[i]->payload == offs[j];
    assert_true(r->inspect->next_cursor > cursor);
    cursor = r->inspect->next_cursor;
    it_resp_free(r);
  }
  for (size_t j = 0; j < 5; j++)
    assert_int_equal(seen[j], 1);
  Arenad__Response *r = it_call(c, it_req_free("alpha", offs, 5), NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_OK);
  assert_int_equal(r->free->freed, 5);
  it_resp_free(r);
  it_check_ok(c, "alpha");
  it_close(c);
}

/* A page of detached blocks looks at 8 pages' worth of pieces at most: with
 * 40 held blocks before the one detached block, pages of 2 come back empty
 * twice (16 pieces looked at each, counted in pages_short), then the third
 * lists the detached block and ends the walk (short too, but at the end:
 * not counted). */
static void test_inspect_short_pages(void **state) {
  (void)state;
  enum { HELD = 40 };
  it_conn_t *c = it_connect(it_group.sock);
  it_hello_ok(c);
  uint64_t held[HELD], detached;
  it_alloc_n_ok(c, "alpha", 16, HELD, false, held);
  it_alloc_n_ok(c, "alpha", 16, 1, true, &detached);
  assert_true(detached > held[HELD - 1]);

  uint64_t short_before = it_stat(c, "pages_short");
  uint64_t cursor = 0;
  size_t counts[3];
  Arenad__Response *r;
  for (int page = 0; page < 3; page++) {
    r = it_call(c,
                it_req_inspect("alpha", ARENAD__INSPECT_WHAT__INSPECT_DETACHED,
                               cursor, 2),
                NULL);
    it_assert_status(r, ARENAD__STATUS__STATUS_OK);
    counts[page] = r->inspect->n_extents;
    if (counts[page] == 1)
      assert_int_equal(r->inspect->extents[0]->payload, detached);
    assert_true(r->inspect->next_cursor > cursor);
    cursor = r->inspect->next_cursor;
    it_resp_free(r);
  }
  assert_int_equal(counts[0], 0);
  assert_int_equal(counts[1], 0);
  assert_int_equal(counts[2], 1);
  assert_int_equal(cursor, MiB);
  assert_int_equal(it_stat(c, "pages_short") - short_before, 2);

  r = it_call(c, it_req_free("alpha", &detached, 1), NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_OK);
  it_resp_free(r);
  r = it_call(c, it_req_free("alpha", held, HELD), NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_OK);
  assert_int_equal(r->free->freed, HELD);
  it_resp_free(r);
  it_check_ok(c, "alpha");
  it_close(c);
}

/* One free-list page from `cursor` with `limit`: checks that it has
 * exactly `want` extents, each free and a hole of the expected layout
 * (hole_size bytes at a multiple of 2 * hole_size, or the tail from
 * tail_start to the end), after `cursor`; returns its next_cursor. */
static uint64_t free_page(it_conn_t *c, uint64_t cursor, uint32_t limit,
                          size_t want, uint64_t hole_size,
                          uint64_t tail_start) {
  Arenad__Response *r =
      it_call(c,
              it_req_inspect("alpha", ARENAD__INSPECT_WHAT__INSPECT_FREE_LIST,
                             cursor, limit),
              NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_OK);
  if (r->inspect->n_extents != want)
    fail_msg("free-list page at %llu with limit %u: %zu extents, want %zu",
             (unsigned long long)cursor, limit, r->inspect->n_extents, want);
  for (size_t i = 0; i < r->inspect->n_extents; i++) {
    const Arenad__Extent *e = r->inspect->extents[i];
    assert_true(e->free);
    assert_true(e->start >= cursor);
    if (e->start == tail_start) {
      assert_int_equal(e->size, MiB - tail_start);
    } else {
      assert_int_equal(e->start % (2 * hole_size), 0);
      assert_int_equal(e->size, hole_size);
    }
  }
  uint64_t next = r->inspect->next_cursor;
  if (want > 0)
    assert_true(next > r->inspect->extents[want - 1]->start);
  it_resp_free(r);
  return next;
}

/*
 * More free extents than max_page: 2 * HOLES blocks placed back to back
 * (first fit, on an arena with no block), every other one freed, leave
 * HOLES holes and the tail. A limit over max_page gives exactly max_page
 * extents (counted in pages_clamped), and its cursor goes on with the
 * rest; no limit gives exactly default_page.
 */
static void test_inspect_page_size(void **state) {
  (void)state;
  enum { HOLES = 24, BLOCKS = 2 * HOLES, EXTENTS = HOLES + 1 };
  _Static_assert(EXTENTS > MAX_PAGE && EXTENTS - MAX_PAGE > DEFAULT_PAGE,
                 "the walk needs more than one page of each size");
  it_conn_t *c = it_connect(it_group.sock);
  it_hello_ok(c);
  assert_int_equal(it_live_blocks(c, "alpha"), 0);

  ar_engine_t *e;
  assert_int_equal(ar_engine_create(AR_POLICY_FIRST, MiB, NULL, &e), 0);
  uint64_t bsize = ar_engine_block_size(e, 48, AR_ALIGN_MIN);
  ar_engine_destroy(e);
  assert_int_equal(bsize, 64);

  Arenad__Response *r =
      it_call(c, it_req_alloc("alpha", 48, 0, BLOCKS, false), NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_OK);
  assert_int_equal(r->alloc->n_offsets, BLOCKS);
  uint64_t offs[BLOCKS], freed[HOLES], kept[HOLES];
  memcpy(offs, r->alloc->offsets, sizeof(offs));
  it_resp_free(r);
  for (int i = 0; i < BLOCKS; i++) /* back to back from 0 */
    assert_int_equal(offs[i], (uint64_t)i * bsize + AR_HDR);
  for (int i = 0; i < HOLES; i++) {
    freed[i] = offs[2 * i];
    kept[i] = offs[2 * i + 1];
  }
  r = it_call(c, it_req_free("alpha", freed, HOLES), NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_OK);
  assert_int_equal(r->free->freed, HOLES);
  it_resp_free(r);
  const uint64_t tail = BLOCKS * bsize;

  /* Over max_page: clamped to exactly max_page, twice. */
  uint64_t clamped = it_stat(c, "pages_clamped");
  uint64_t next = free_page(c, 0, 100000, MAX_PAGE, bsize, tail);
  /* the cursor is the end of the page's last hole */
  assert_int_equal(next, (2 * MAX_PAGE - 1) * bsize);
  next = free_page(c, next, MAX_PAGE + 1, EXTENTS - MAX_PAGE, bsize, tail);
  assert_int_equal(next, MiB);
  assert_int_equal(it_stat(c, "pages_clamped"), clamped + 2);
  /* Exactly max_page is not clamped. */
  assert_int_equal(free_page(c, 0, MAX_PAGE, MAX_PAGE, bsize, tail),
                   (2 * MAX_PAGE - 1) * bsize);
  assert_int_equal(it_stat(c, "pages_clamped"), clamped + 2);

  /* No limit: default_page, and the pages go on where each ended. */
  next = 0;
  size_t seen = 0;
  while (EXTENTS - seen > DEFAULT_PAGE) {
    uint64_t after = free_page(c, next, 0, DEFAULT_PAGE, bsize, tail);
    seen += DEFAULT_PAGE;
    assert_int_equal(after, (2 * seen - 1) * bsize);
    next = after;
  }
  assert_int_equal(free_page(c, next, 0, EXTENTS - seen, bsize, tail), MiB);
  assert_int_equal(it_stat(c, "pages_clamped"), clamped + 2);

  r = it_call(c, it_req_free("alpha", kept, HOLES), NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_OK);
  assert_int_equal(r->free->freed, HOLES);
  it_resp_free(r);
  assert_int_equal(it_live_blocks(c, "alpha"), 0);
  free_page(c, 0, 0, 1, bsize, 0); /* one extent again: the whole arena */
  it_check_ok(c, "alpha");
  it_close(c);
}

static void test_stats(void **state) {
  (void)state;
  it_conn_t *c = it_connect(it_group.sock);
  it_resp_free(it_call(c, it_req_ping(), NULL));
  Arenad__Response *r = it_call(c, it_req_stats(), NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_OK);
  const Arenad__StatsReply *s = r->stats;
  assert_string_not_equal(s->daemon_version, "");
  assert_int_equal(s->arenas, 2);
  assert_true(s->connections_accepted >= 1);
  assert_true(s->connections_open >= 1);
  assert_true(s->requests->ping >= 1);
  assert_true(s->frames_in >= 2);
  assert_true(s->frames_out >= 1);
  assert_true(s->bytes_in > 0 && s->bytes_out > 0);
  assert_true(s->fds_sent >= 1); /* test_attach ran first */
  assert_true(s->errors->not_found >= 1);
  it_resp_free(r);

  /* Five connections, each answered once, then closed: once the daemon
   * has handled the closes (it_barrier), exactly five more are closed and
   * open is back where it was. The barrier first, so that the closes of
   * the tests before are already counted. */
  it_barrier(c);
  r = it_call(c, it_req_stats(), NULL);
  uint64_t accepted = r->stats->connections_accepted;
  uint64_t open = r->stats->connections_open;
  uint64_t closed = r->stats->connections_closed;
  uint64_t protocol = r->stats->connections_closed_protocol;
  it_resp_free(r);
  it_conn_t *five[5];
  for (int i = 0; i < 5; i++) {
    five[i] = it_connect(it_group.sock);
    it_resp_free(it_call(five[i], it_req_ping(), NULL));
  }
  r = it_call(c, it_req_stats(), NULL);
  assert_int_equal(r->stats->connections_accepted, accepted + 5);
  assert_int_equal(r->stats->connections_open, open + 5);
  assert_int_equal(r->stats->connections_closed, closed);
  it_resp_free(r);
  for (int i = 0; i < 5; i++)
    it_close(five[i]);
  it_barrier(c);
  r = it_call(c, it_req_stats(), NULL);
  assert_int_equal(r->stats->connections_closed, closed + 5);
  assert_int_equal(r->stats->connections_open, open);
  assert_int_equal(r->stats->connections_closed_protocol, protocol);
  it_resp_free(r);
  it_close(c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_hello),
      cmocka_unit_test(test_hello_wrong_version),
      cmocka_unit_test(test_ping),
      cmocka_unit_test(test_list),
      cmocka_unit_test(test_attach),
      cmocka_unit_test(test_alloc_free_round_trip),
      cmocka_unit_test(test_alloc_count),
      cmocka_unit_test(test_pipelining),
      cmocka_unit_test(test_inspect_pages),
      cmocka_unit_test(test_inspect_detached_pages),
      cmocka_unit_test(test_inspect_short_pages),
      cmocka_unit_test(test_inspect_page_size),
      cmocka_unit_test(test_stats),
      cmocka_unit_test(it_test_exits_cleanly),
  };
  it_group_config = config;
  return cmocka_run_group_tests(tests, it_group_setup, it_group_teardown);
}
