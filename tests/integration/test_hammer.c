/*
 * test_hammer.c: several client processes hammer the arenas of one arenad
 * at once with valid and invalid requests, and the daemon must come out of
 * it whole. Each child (forked, with the client library) runs a random mix
 * for a bounded time and a bounded number of operations: allocations of
 * random sizes, alignments and counts (some invalid, some detached), frees
 * of its own blocks, of other clients' blocks, of bogus and of freed
 * offsets, retains and releases of other clients' blocks, transfers of its
 * blocks to other children, pipelined batches, inspections and checks,
 * header scribbles, raw connections that send garbage or half a frame and
 * go away, disconnects with requests in flight, and an arena ("tmp") that
 * the children make and destroy under each other. The parent SIGKILLs one
 * child on the way. Meanwhile an outsider, a child running as nobody
 * (uid 65534), which the arenas' mode 0600 keeps out, throws allocations,
 * frees, attaches, inspections, retains and arena creations at them: each
 * must be refused with permission denied and change nothing.
 *
 * What each child checks as it goes: every status is one its request can
 * get (it can always free its own blocks and release its own references;
 * nobody else can take them), every check passes, and the pattern written
 * into each block it holds is still there when it frees it (no other
 * client was given the same bytes), including blocks another child handed
 * it by transfer. What the parent checks at the end, once every client is
 * gone: every arena passes its check, the used bytes equal the sum of the
 * live blocks listed by inspection, the blocks left are all detached and
 * held by nobody (the test then frees them, and each arena must be one
 * free extent again), and the daemon still answers and exits cleanly on
 * SIGTERM.
 *
 * Random but seeded: child i runs from seed + i, so a child's sequence of
 * requests is the same on a rerun (the interleaving is not). The seed is
 * printed first; HAMMER_SEED=N reruns with it. HAMMER_MS and HAMMER_OPS
 * change the bounds; HAMMER_VERBOSE=1 prints each child's counts.
 *
 * One test in several sources (hammer.h says what they share): this file
 * is the parent and the cmocka test; hammer_child.c a child's random
 * requests, hammer_outsider.c the outsider's, hammer.c the shared state
 * and the randomness.
 */
#include "hammer.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "arenad.h"

#define DEFAULT_MS 3000  /* each child's time */
#define DEFAULT_OPS 4000 /* each child's operations at most */

static const char config[] = "[daemon]\n"
                             "socket_mode = 0666\n" /* the outsider too */
                             "max_blocks_per_request = 64\n"
                             "max_in_flight = 32\n"
                             "max_frame_bytes = 64K\n"
                             "default_page = 16\n"
                             "max_page = 64\n"
                             "\n"
                             "[arena ham]\n"
                             "size = 2M\n"
                             "policy = first\n"
                             "\n"
                             "[arena bud]\n"
                             "size = 1M\n"
                             "policy = buddy\n";

/* ---- The parent ---------------------------------------------------------- */

static uint64_t env_u64(const char *name, uint64_t def) {
  const char *s = getenv(name);
  return s != NULL && *s != '\0' ? strtoull(s, NULL, 0) : def;
}

static arenad_t *open_client(void) {
  arenad_t *h;
  if (arenad_connect(daemon_.sock, &h) < 0)
    fail_msg("connect: %s", strerror(errno));
  if (arenad_hello(h, "hammer-parent", NULL) < 0)
    fail_msg("hello: %s", arenad_error(h));
  return h;
}

static uint64_t stat_u(arenad_t *h, const char *name) {
  arenad_stat_t *st;
  size_t n;
  if (arenad_stats(h, &st, &n) < 0)
    fail_msg("stats: %s", arenad_error(h));
  uint64_t v = UINT64_MAX;
  for (size_t i = 0; i < n; i++)
    if (strcmp(st[i].name, name) == 0)
      v = st[i].u;
  arenad_stats_destroy(st);
  if (v == UINT64_MAX)
    fail_msg("no stat %s", name);
  return v;
}

/* Walks arena `name`'s blocks: the used bytes must be their sum; every
 * block left must be detached, held by nobody. Frees them; the arena must
 * then be one free extent. */
static void settle_arena(arenad_t *h, const char *name, uint64_t seed) {
  arenad_check_t chk;
  int rc = arenad_check(h, name, &chk);
  if (rc != 0 || !chk.ok)
    fail_msg("seed %llu: check of %s: %s at %llu: %s", (unsigned long long)seed,
             name, chk.invariant, (unsigned long long)chk.offset, chk.detail);

  uint64_t cursor = 0, used = 0, live = 0, requested = 0, size = 0;
  uint64_t *left = NULL;
  size_t nleft = 0, cap = 0;
  arenad_summary_t first;
  memset(&first, 0, sizeof(first));
  for (;;) {
    arenad_page_t *p;
    rc = arenad_inspect(h, name, ARENAD_INSPECT_BLOCKS, cursor, 64, &p);
    if (rc != 0)
      fail_msg("inspect %s: %s", name, arenad_error(h));
    if (cursor == 0)
      first = p->summary;
    for (size_t i = 0; i < p->n_extents; i++) {
      const arenad_extent_t *e = &p->extents[i];
      if (e->free)
        continue;
      used += e->size;
      requested += e->n;
      live++;
      if (!e->detached || e->n_holders != 0 || e->refcount != 1)
        fail_msg("seed %llu: arena %s: block %llu is left with %zu holders "
                 "(first: connection %llu), refcount %u, detached %d, once "
                 "every client is gone",
                 (unsigned long long)seed, name, (unsigned long long)e->payload,
                 e->n_holders,
                 e->n_holders ? (unsigned long long)e->holders[0].connection_id
                              : 0ull,
                 e->refcount, e->detached);
      if (nleft == cap) {
        cap = cap ? 2 * cap : 64;
        left = realloc(left, cap * sizeof(*left));
        assert_non_null(left);
      }
      left[nleft++] = e->payload;
    }
    cursor = p->next_cursor;
    size = p->summary.size;
    arenad_page_destroy(p);
    if (cursor == size)
      break;
  }
  if (used != first.used_bytes || live != first.live_blocks ||
      requested != first.live_requested ||
      first.detached_blocks != first.live_blocks)
    fail_msg("seed %llu: arena %s: the blocks listed add up to %llu bytes, "
             "%llu blocks, %llu requested; the summary says %llu, %llu, %llu "
             "(%llu detached)",
             (unsigned long long)seed, name, (unsigned long long)used,
             (unsigned long long)live, (unsigned long long)requested,
             (unsigned long long)first.used_bytes,
             (unsigned long long)first.live_blocks,
             (unsigned long long)first.live_requested,
             (unsigned long long)first.detached_blocks);
  print_message("hammer: arena %s: %llu detached blocks left (%llu bytes), "
                "freeing them\n",
                name, (unsigned long long)live, (unsigned long long)used);

  for (size_t i = 0; i < nleft; i += MAX_BLOCKS) {
    size_t n = nleft - i < MAX_BLOCKS ? nleft - i : MAX_BLOCKS;
    rc = arenad_free_n(h, name, left + i, n, NULL);
    if (rc != 0)
      fail_msg("free of the detached blocks of %s: %s", name, arenad_error(h));
  }
  free(left);

  arenad_page_t *p;
  assert_int_equal(arenad_inspect(h, name, ARENAD_INSPECT_SUMMARY, 0, 0, &p),
                   0);
  if (p->summary.live_blocks != 0 || p->summary.used_bytes != 0 ||
      p->summary.free_extents != 1 || p->summary.largest_free != size)
    fail_msg("seed %llu: arena %s is not empty at the end: %llu blocks, %llu "
             "bytes, %llu free extents",
             (unsigned long long)seed, name,
             (unsigned long long)p->summary.live_blocks,
             (unsigned long long)p->summary.used_bytes,
             (unsigned long long)p->summary.free_extents);
  arenad_page_destroy(p);
  assert_int_equal(arenad_check(h, name, &chk), 0);
}

static void test_hammer(void **state) {
  (void)state;
  uint64_t seed =
      env_u64("HAMMER_SEED", (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32));
  uint64_t ms = env_u64("HAMMER_MS", DEFAULT_MS);
  uint64_t ops = env_u64("HAMMER_OPS", DEFAULT_OPS);
  rng_t rng = {seed};
  print_message("hammer: seed %llu (HAMMER_SEED=%llu reruns it), %d "
                "children, %llu ms or %llu operations each\n",
                (unsigned long long)seed, (unsigned long long)seed, CHILDREN,
                (unsigned long long)ms, (unsigned long long)ops);

  shared = mmap(NULL, sizeof(*shared), PROT_READ | PROT_WRITE,
                MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  assert_true(shared != MAP_FAILED);
  memset(shared, 0, sizeof(*shared));
  assert_int_equal(it_daemon_start(&daemon_, config, NULL), 0);
  it_daemon_open_to_all(&daemon_);
  pid_t pids[CHILDREN];
  fflush(NULL);
  for (int i = 0; i < CHILDREN; i++) {
    pids[i] = fork();
    assert_true(pids[i] >= 0);
    if (pids[i] == 0)
      _exit(child_main(i, seed + (uint64_t)i, ms, ops));
  }
  pid_t outsider = fork();
  assert_true(outsider >= 0);
  if (outsider == 0)
    _exit(outsider_main(seed + CHILDREN, ms, ops));

  /* One child dies by SIGKILL, mid-conversation. */
  int victim = (int)below(&rng, CHILDREN);
  struct timespec ts = {0, (long)(50 + below(&rng, 300)) * 1000000L};
  nanosleep(&ts, NULL);
  kill(pids[victim], SIGKILL);

  int failed = 0;
  for (int i = 0; i < CHILDREN; i++) {
    int st;
    while (waitpid(pids[i], &st, 0) < 0)
      assert_int_equal(errno, EINTR);
    bool ok = (WIFEXITED(st) && WEXITSTATUS(st) == 0) ||
              (i == victim && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    if (!ok) {
      print_error("hammer: child %d (seed %llu) ended with status %d\n", i,
                  (unsigned long long)(seed + (uint64_t)i), st);
      failed++;
    }
  }
  int ost;
  while (waitpid(outsider, &ost, 0) < 0)
    assert_int_equal(errno, EINTR);
  if (!WIFEXITED(ost) || WEXITSTATUS(ost) != 0) {
    print_error("hammer: the outsider (seed %llu) ended with status %d\n",
                (unsigned long long)(seed + CHILDREN), ost);
    failed++;
  }
  uint64_t outsider_denied[NARENAS];
  memcpy(outsider_denied, shared->outsider_denied, sizeof outsider_denied);
  munmap(shared, sizeof(*shared));
  if (failed)
    fail_msg("seed %llu: %d children failed (their messages are above)",
             (unsigned long long)seed, failed);

  /* Every client gone: wait until the daemon has seen it (its connections
   * close as it reads their ends). */
  arenad_t *h = open_client();
  uint64_t deadline = now_ms() + IT_TIMEOUT_S * 1000;
  while (stat_u(h, "connections_open") != 1) {
    if (now_ms() > deadline)
      fail_msg("seed %llu: %llu connections still open",
               (unsigned long long)seed,
               (unsigned long long)stat_u(h, "connections_open"));
    usleep(10000);
  }
  arenad_arena_t *list;
  size_t n;
  assert_int_equal(arenad_list(h, &list, &n), 0);
  for (size_t i = 0; i < n; i++)
    settle_arena(h, list[i].name, seed);
  arenad_list_destroy(list);
  print_message("hammer: the outsider was refused %llu times on ham, %llu "
                "on bud\n",
                (unsigned long long)outsider_denied[0],
                (unsigned long long)outsider_denied[1]);
  /* Each refusal of the outsider's was counted on its arena (others'
   * frees of blocks they do not hold count there too). */
  for (int a = 0; a < 2; a++) {
    arenad_page_t *page;
    assert_int_equal(
        arenad_inspect(h, arenas[a], ARENAD_INSPECT_SUMMARY, 0, 0, &page), 0);
    if (outsider_denied[a] == 0 ||
        page->summary.permission_denied < outsider_denied[a])
      fail_msg("seed %llu: arena %s counts %llu refusals, the outsider had "
               "%llu",
               (unsigned long long)seed, arenas[a],
               (unsigned long long)page->summary.permission_denied,
               (unsigned long long)outsider_denied[a]);
    arenad_page_destroy(page);
  }
  assert_int_equal(arenad_ping(h), 0);
  print_message("hammer: %llu requests, %llu connections, %llu closed for a "
                "protocol error, %llu blocks reclaimed, %llu retains, %llu "
                "transfers, %llu arenas made and %llu destroyed, %llu "
                "corrupt headers seen\n",
                (unsigned long long)stat_u(h, "frames_in"),
                (unsigned long long)stat_u(h, "connections_accepted"),
                (unsigned long long)stat_u(h, "connections_closed_protocol"),
                (unsigned long long)stat_u(h, "reclaimed_blocks"),
                (unsigned long long)stat_u(h, "retains"),
                (unsigned long long)stat_u(h, "transfers"),
                (unsigned long long)stat_u(h, "arenas_created"),
                (unsigned long long)stat_u(h, "arenas_destroyed"),
                (unsigned long long)stat_u(h, "corruptions_detected"));
  arenad_close(h);

  int st = it_daemon_stop(&daemon_, SIGTERM);
  if (st != 0)
    fail_msg("seed %llu: arenad exited with %d (its log: %s)",
             (unsigned long long)seed, st, daemon_.log);
  it_daemon_cleanup(&daemon_);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_hammer),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
