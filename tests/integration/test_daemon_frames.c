/*
 * test_daemon_frames.c: every reply fits in a frame, on a real arenad at
 * the smallest frame limit (4 KiB). The largest alloc its limits allow
 * (max_blocks_per_request blocks) is answered with every offset, and the
 * free of them all with every status, and so is a free that has both a
 * status for each offset and all but one of them named as overwritten
 * headers (FreeReply.overwritten). create_arena makes arenas with the
 * longest names until the list of the arenas could pass the frame limit
 * (exactly: the widest list of those made fits, and with one more would
 * not), then refuses with LIMIT_EXCEEDED (counted), and `list` still
 * answers with every arena. A block held by more connections than a page
 * can list is shown with the oldest holders that fit and a count of the
 * rest, on the wire, through libarenad and in arenactl's output; a reply
 * that fills the room the envelope leaves exactly keeps its last holder,
 * one a byte over does not. A configuration under which an alloc's reply
 * could pass the frame limit does not start.
 */
#include "itest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "arenad.h"
#include "reply_bound.h"

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

/* The widest free reply a request can get: a status for each of its
 * MAX_BLOCKS offsets (the first is no block) and the other offsets' blocks
 * all with their headers overwritten, each named in the reply. It fits:
 * the reply comes whole, not as an internal error. */
static void test_largest_free_with_overwritten_headers(void **state) {
  (void)state;
  it_conn_t *c = it_connect(it_group.sock);
  it_hello_ok(c);
  size_t size;
  uint8_t *base = it_map_arena(c, "a", &size);

  Arenad__Response *r =
      it_call(c, it_req_alloc("a", 16, 0, MAX_BLOCKS, false), NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_OK);
  uint64_t *offsets = malloc(MAX_BLOCKS * sizeof(*offsets));
  assert_non_null(offsets);
  memcpy(offsets, r->alloc->offsets, MAX_BLOCKS * sizeof(*offsets));
  it_resp_free(r);
  for (size_t i = 0; i < MAX_BLOCKS; i++)
    it_smash_header(base, offsets[i], 16);
  uint64_t first = offsets[0];
  offsets[0] = size - 8; /* no block's payload */

  r = it_call(c, it_req_free("a", offsets, MAX_BLOCKS), NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_INVALID_ARGUMENT);
  assert_int_equal(r->body_case, ARENAD__RESPONSE__BODY_FREE);
  assert_int_equal(r->free->n_statuses, MAX_BLOCKS);
  assert_int_equal(r->free->n_overwritten, MAX_BLOCKS - 1);
  for (size_t i = 1; i < MAX_BLOCKS; i++)
    assert_int_equal(r->free->overwritten[i - 1], i);
  it_resp_free(r);
  r = it_call(c, it_req_free("a", &first, 1), NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_OK);
  assert_int_equal(r->free->n_overwritten, 1);
  it_resp_free(r);
  free(offsets);
  munmap(base, size);
  assert_int_equal(it_live_blocks(c, "a"), 0);
  it_close(c);
}

/* name (65 bytes): the 64-character arena name number i (i < 1000). */
static void long_name(char *name, unsigned i) {
  snprintf(name, 65, "%03u", i % 1000u);
  memset(name + 3, 'n', 61);
  name[64] = '\0';
}

/* The packed size of a list reply naming the n arenas names[] at its
 * widest, as the daemon bounds it (reply_bound.h): every number at its
 * largest, the largest policy, the largest id, status OK and no message. */
static size_t widest_list(const char *const *names, size_t n) {
  Arenad__ArenaInfo *infos = calloc(n, sizeof(*infos));
  Arenad__ArenaInfo **ptrs = calloc(n, sizeof(*ptrs));
  assert_non_null(infos);
  assert_non_null(ptrs);
  Arenad__Access access = ARENAD__ACCESS__INIT;
  access.mode = access.owner_uid = access.group_gid = UINT32_MAX;
  int policy = 0;
  for (unsigned i = 0; i < arenad__policy__descriptor.n_values; i++)
    if (arenad__policy__descriptor.values[i].value > policy)
      policy = arenad__policy__descriptor.values[i].value;
  for (size_t i = 0; i < n; i++) {
    arenad__arena_info__init(&infos[i]);
    infos[i].name = (char *)names[i];
    infos[i].size = infos[i].used_bytes = infos[i].free_bytes = UINT64_MAX;
    infos[i].live_blocks = UINT64_MAX;
    infos[i].quota_bytes = infos[i].quota_blocks = UINT64_MAX;
    infos[i].policy = (Arenad__Policy)policy;
    infos[i].access = &access;
    ptrs[i] = &infos[i];
  }
  Arenad__ListReply list = ARENAD__LIST_REPLY__INIT;
  list.arenas = ptrs;
  list.n_arenas = n;
  Arenad__Response resp = ARENAD__RESPONSE__INIT;
  resp.id = UINT64_MAX;
  resp.body_case = ARENAD__RESPONSE__BODY_LIST;
  resp.list = &list;
  size_t bytes = arenad__response__get_packed_size(&resp);
  free(ptrs);
  free(infos);
  return bytes;
}

static void test_list_stays_within_the_frame(void **state) {
  (void)state;
  it_conn_t *c = it_connect(it_group.sock);
  it_hello_ok(c);
  uint64_t before = it_stat(c, "errors.limit_exceeded");
  char name[65];
  unsigned made = 0;
  unsigned long long refused_bytes = 0;
  for (;; made++) {
    long_name(name, made);
    Arenad__Response *r = it_call(
        c, it_req_create(name, 4096, ARENAD__POLICY__POLICY_FIRST, NULL, 0, 0),
        NULL);
    if (r->status != ARENAD__STATUS__STATUS_OK) {
      it_assert_status(r, ARENAD__STATUS__STATUS_LIMIT_EXCEEDED);
      assert_non_null(strstr(r->message, "over max_frame_bytes (4096)"));
      const char *up_to = strstr(r->message, "take up to ");
      assert_non_null(up_to);
      refused_bytes = strtoull(up_to + strlen("take up to "), NULL, 10);
      it_resp_free(r);
      break;
    }
    it_resp_free(r);
    assert_true(made < 256);
  }
  assert_int_equal(it_stat(c, "errors.limit_exceeded"), before + 1);
  Arenad__Response *st = it_call(c, it_req_stats(), NULL);
  assert_int_equal(st->stats->arenas_refused_limit, 1);
  it_resp_free(st);

  /* Exactly as many as fit: the widest list of the arenas there are fits
   * in the frame, and with the one refused (whose bound the refusal
   * gives) it would not. */
  Arenad__Response *r = it_call(c, it_req_list(), NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_OK);
  assert_int_equal(r->list->n_arenas, 1 + made);
  const char *names[258]; /* made <= 256 */
  for (size_t i = 0; i < r->list->n_arenas; i++)
    names[i] = r->list->arenas[i]->name;
  names[1 + made] = name;
  size_t fits = widest_list(names, 1 + made);
  size_t over = widest_list(names, 2 + made);
  it_resp_free(r);
  if (fits > 4096 || over <= 4096)
    fail_msg("%u arenas made: the widest list of them takes %zu bytes, "
             "with the one refused %zu; the frame holds 4096",
             made, fits, over);
  assert_int_equal(refused_bytes, over);

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

#define HOLDERS 60 /* more than a 4 KiB frame lists with 64-byte names */

/* The extent of the block at `payload`, walking arena `a`'s blocks page by
 * page from the start; *pages counts the pages. The reply is the caller's
 * (it_resp_free). */
static const Arenad__Extent *walk_to(it_conn_t *c, uint64_t payload,
                                     Arenad__Response **reply, int *pages) {
  uint64_t cursor = 0;
  for (*pages = 1;; (*pages)++) {
    Arenad__Response *r = it_call(
        c, it_req_inspect("a", ARENAD__INSPECT_WHAT__INSPECT_BLOCKS, cursor, 0),
        NULL);
    it_assert_status(r, ARENAD__STATUS__STATUS_OK);
    for (size_t i = 0; i < r->inspect->n_extents; i++)
      if (!r->inspect->extents[i]->free &&
          r->inspect->extents[i]->payload == payload) {
        *reply = r;
        return r->inspect->extents[i];
      }
    assert_true(r->inspect->next_cursor > cursor);
    cursor = r->inspect->next_cursor;
    bool done = cursor == r->inspect->summary->size;
    it_resp_free(r);
    if (done)
      return NULL;
  }
}

/* A new connection, named `name` by its hello, that holds a reference to
 * the block at `off` in arena a; its connection id in *id (may be NULL). */
static it_conn_t *new_holder(uint64_t off, const char *name, uint64_t *id) {
  it_conn_t *c = it_connect(it_group.sock);
  Arenad__Response *r = it_call(c, it_req_hello(1, name), NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_OK);
  if (id != NULL)
    *id = r->hello->connection_id;
  it_resp_free(r);
  r = it_call(c, it_req_retain("a", off), NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_OK);
  it_resp_free(r);
  return c;
}

static void test_more_holders_than_a_frame_lists(void **state) {
  (void)state;
  it_conn_t *owner = it_connect(it_group.sock);
  it_hello_ok(owner);
  uint64_t off = it_alloc_ok(owner, "a", 100);
  uint64_t after = it_alloc_ok(owner, "a", 100); /* the walk goes on to it */

  char name[65];
  memset(name, 'h', 64);
  name[64] = '\0';
  it_conn_t *holders[HOLDERS];
  for (int i = 0; i < HOLDERS; i++)
    holders[i] = new_holder(off, name, NULL);

  /* On the wire: the oldest holders that fit, the owner first, and how
   * many were left out; the page ends with that block. */
  Arenad__Response *r;
  int pages;
  const Arenad__Extent *e = walk_to(owner, off, &r, &pages);
  assert_non_null(e);
  assert_int_equal(e->refcount, 1 + HOLDERS);
  assert_true(e->holders_omitted > 0);
  assert_true(e->n_holders > 10);
  assert_int_equal(e->n_holders + e->holders_omitted, 1 + HOLDERS);
  assert_string_equal(e->holders[0]->client_name, "itest");
  for (size_t i = 1; i < e->n_holders; i++) {
    assert_string_equal(e->holders[i]->client_name, name);
    assert_true(e->holders[i]->connection_id >
                e->holders[i - 1]->connection_id);
  }
  assert_true(e == r->inspect->extents[r->inspect->n_extents - 1]);
  uint32_t omitted = e->holders_omitted;
  it_resp_free(r);
  e = walk_to(owner, after, &r, &pages);
  assert_non_null(e);
  assert_int_equal(e->holders_omitted, 0);
  it_resp_free(r);

  /* Through the client library, the same count. */
  arenad_t *h = NULL;
  assert_int_equal(arenad_connect(it_group.sock, &h), 0);
  arenad_page_t *page = NULL;
  bool seen = false;
  for (uint64_t cursor = 0; !seen;) {
    assert_int_equal(
        arenad_inspect(h, "a", ARENAD_INSPECT_BLOCKS, cursor, 0, &page), 0);
    for (size_t i = 0; i < page->n_extents; i++)
      if (page->extents[i].payload == off && !page->extents[i].free) {
        assert_int_equal(page->extents[i].holders_omitted, omitted);
        assert_int_equal(page->extents[i].n_holders + omitted, 1 + HOLDERS);
        seen = true;
      }
    assert_true(seen || page->next_cursor < page->summary.size);
    cursor = page->next_cursor;
    arenad_page_destroy(page);
  }
  arenad_close(h);

  /* With the block after it freed, the page that starts at the block has
   * two pieces, the block and the free rest: cut to the block alone all
   * the same, with the same holders left out. */
  it_free_ok(owner, "a", after);
  e = walk_to(owner, off, &r, &pages);
  assert_non_null(e);
  assert_int_equal(e->holders_omitted, omitted);
  it_resp_free(r);

  /* arenactl says how many it could not list. */
  char cmd[512], line[4096], want[64];
  snprintf(cmd, sizeof(cmd), "%s --socket %s inspect a --blocks", ARENACTL,
           it_group.sock);
  snprintf(want, sizeof(want), "and %u more holders", (unsigned)omitted);
  FILE *p = popen(cmd, "r");
  assert_non_null(p);
  bool said = false;
  while (fgets(line, sizeof(line), p) != NULL)
    said = said || strstr(line, want) != NULL;
  assert_int_equal(pclose(p), 0);
  assert_true(said);

  /* Once the holders are gone, every one left is listed. */
  for (int i = 0; i < HOLDERS; i++)
    it_close(holders[i]);
  for (int tries = 0;; tries++) {
    e = walk_to(owner, off, &r, &pages);
    assert_non_null(e);
    if (e->refcount == 1)
      break;
    it_resp_free(r);
    assert_true(tries < 1000); /* the daemon reads the closes soon */
    usleep(1000);
  }
  assert_int_equal(e->n_holders, 1);
  assert_int_equal(e->holders_omitted, 0);
  it_resp_free(r);
  it_free_ok(owner, "a", off);
  it_close(owner);
}

/* The page of arena a that starts at `start`, one piece long. The reply
 * is the caller's (it_resp_free). */
static Arenad__Response *page_at(it_conn_t *c, uint64_t start) {
  Arenad__Response *r = it_call(
      c, it_req_inspect("a", ARENAD__INSPECT_WHAT__INSPECT_BLOCKS, start, 1),
      NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_OK);
  assert_int_equal(r->inspect->n_extents, 1);
  return r;
}

/* The packed size of rep, a page of one block, with holders named
 * names[0..n) after those it lists (from this process, like its first,
 * with connection ids of two varint bytes as every new connection's here)
 * and `omitted` more counted in holders_omitted: what the daemon would
 * send with those holders listed. rep is left as it was. */
static size_t packed_with(Arenad__InspectReply *rep, const char *const *names,
                          size_t n, uint32_t omitted) {
  Arenad__Extent *e = rep->extents[0];
  size_t had = e->n_holders;
  Arenad__Holder **listed = e->holders;
  Arenad__Holder extra[4];
  Arenad__Holder *all[HOLDERS + 4];
  assert_true(n <= 4 && had <= HOLDERS && had > 0);
  memcpy(all, listed, had * sizeof(*all));
  for (size_t i = 0; i < n; i++) {
    extra[i] = *listed[0];
    extra[i].connection_id = 128;
    extra[i].client_name = (char *)names[i];
    extra[i].references = 1;
    all[had + i] = &extra[i];
  }
  uint32_t was_omitted = e->holders_omitted;
  e->holders = all;
  e->n_holders = had + n;
  e->holders_omitted = omitted;
  size_t bytes = arenad__inspect_reply__get_packed_size(rep);
  e->holders = listed;
  e->n_holders = had;
  e->holders_omitted = was_omitted;
  return bytes;
}

/* Holders of the block at off (whose extent starts at `start`) until two
 * more, a and b, and one after them would make the page's reply with a and
 * b listed and the last left out take room + excess bytes: 64-character
 * names while that leaves room for two more holders, then a and b's names
 * sized to make up the rest. The connections are stored in held[0..*n),
 * a, b and the last one last. */
static void hold_to_the_room(it_conn_t *owner, uint64_t off, uint64_t start,
                             size_t room, size_t excess, it_conn_t **held,
                             size_t *n, char a[65], char b[65]) {
  char full[65];
  memset(full, 'h', 64);
  full[64] = '\0';
  for (;;) {
    Arenad__Response *r = page_at(owner, start);
    assert_int_equal(r->inspect->extents[0]->holders_omitted, 0);
    const char *next[] = {full, "a", "b"};
    size_t more = packed_with(r->inspect, next, 3, 1);
    if (more > room) {
      /* a and b with names of 1 to 64 characters: the first lengths that
       * make it exactly room + excess bytes */
      bool found = false;
      for (size_t la = 1; !found && la <= 64; la++)
        for (size_t lb = 1; !found && lb <= 64; lb++) {
          memset(a, 'a', la);
          a[la] = '\0';
          memset(b, 'b', lb);
          b[lb] = '\0';
          const char *two[] = {a, b};
          found = packed_with(r->inspect, two, 2, 1) == room + excess;
        }
      it_resp_free(r);
      assert_true(found);
      break;
    }
    it_resp_free(r);
    assert_true(*n < HOLDERS);
    held[(*n)++] = new_holder(off, full, NULL);
  }
  uint64_t id;
  held[(*n)++] = new_holder(off, a, &id);
  assert_true(id >= 128 && id < 16384); /* two varint bytes, as packed_with */
  held[(*n)++] = new_holder(off, b, &id);
  held[(*n)++] = new_holder(off, full, &id);
  assert_true(id < 16384);
}

/* A block alone in its page keeps the holders whose reply fits the room
 * the envelope leaves in the frame (ad_reply_inspect_room) exactly, with
 * the count of the rest counted in: a reply of exactly that many bytes is
 * sent whole, and one a byte over loses its last holder. */
static void test_holders_fill_the_room_exactly(void **state) {
  (void)state;
  size_t room = ad_reply_inspect_room(4096);
  it_conn_t *owner = it_connect(it_group.sock);
  it_hello_ok(owner);
  uint64_t off = it_alloc_ok(owner, "a", 100);
  Arenad__Response *r;
  int pages;
  const Arenad__Extent *e = walk_to(owner, off, &r, &pages);
  assert_non_null(e);
  uint64_t start = e->start;
  it_resp_free(r);
  /* New connections from here on have ids of two varint bytes (128 to
   * 16383), which packed_with counts on. */
  for (uint64_t id = 0; id < 128;) {
    it_conn_t *c = it_connect(it_group.sock);
    it_hello_id(c, NULL, &id);
    it_close(c);
  }

  it_conn_t *held[HOLDERS];
  char a[65], b[65];
  for (size_t excess = 0; excess < 2; excess++) {
    size_t n = 0;
    hold_to_the_room(owner, off, start, room, excess, held, &n, a, b);
    r = page_at(owner, start);
    e = r->inspect->extents[0];
    assert_int_equal(e->refcount, 1 + n);
    /* listed up to b, or up to a when b would pass the room by a byte */
    assert_string_equal(e->holders[e->n_holders - 1]->client_name,
                        excess == 0 ? b : a);
    assert_int_equal(e->n_holders + e->holders_omitted, 1 + n);
    assert_int_equal(e->holders_omitted, excess == 0 ? 1 : 2);
    size_t bytes = arenad__inspect_reply__get_packed_size(r->inspect);
    if (excess == 0)
      assert_int_equal(bytes, room);
    else
      assert_true(bytes <= room);
    it_resp_free(r);
    for (size_t i = 0; i < n; i++)
      it_close(held[i]);
    it_barrier(owner); /* the daemon has dropped their references */
  }
  it_free_ok(owner, "a", off);
  it_close(owner);
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
      cmocka_unit_test(test_largest_free_with_overwritten_headers),
      cmocka_unit_test(test_list_stays_within_the_frame),
      cmocka_unit_test(test_more_holders_than_a_frame_lists),
      cmocka_unit_test(test_holders_fill_the_room_exactly),
      cmocka_unit_test(test_refused_configuration),
      cmocka_unit_test(it_test_exits_cleanly),
  };
  it_group_config = config;
  return cmocka_run_group_tests(tests, it_group_setup, it_group_teardown);
}
