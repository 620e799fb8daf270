/*
 * test_client_share.c: the client library against a real arenad, with
 * several client processes. One process writes a pattern into a block and
 * another, started with fork and exec (so that it inherits no mapping and
 * must attach on its own), reads the same bytes through its own mapping,
 * and the other way round; a detached block outlives the process that
 * made it; the blocks of a process that exits are reclaimed; pipelining,
 * also with the socket full both ways,
 * paged inspection, a block's size from its offset alone, statistics and
 * refused requests on a live daemon; and
 * the calls that share blocks and make and destroy arenas.
 *
 * The child processes are this program run again with "--child ...".
 */
#include "itest.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "arenad.h"
#include "arenad_assert.h"

static const char config[] = "[daemon]\n"
                             "max_page = 16\n"
                             "default_page = 4\n"
                             "\n"
                             "[arena shm]\n"
                             "size = 4M\n"
                             "policy = best\n";

static it_daemon_t daemon_;
static const char *self_exe;

static int setup(void **state) {
  (void)state;
  assert_int_equal(it_daemon_start(&daemon_, config, NULL), 0);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  int st = it_daemon_stop(&daemon_, SIGTERM);
  it_daemon_cleanup(&daemon_);
  assert_int_equal(st, 0);
  return 0;
}

/* The byte at position i of pattern `seed`. */
static uint8_t pattern(uint64_t seed, size_t i) {
  return (uint8_t)((i * 131 + seed * 7 + (i >> 8)) & 0xff);
}

static arenad_t *open_client(const char *name) {
  arenad_t *h;
  int rc = arenad_connect(daemon_.sock, &h);
  if (rc < 0)
    fail_msg("connect %s: %s", daemon_.sock, strerror(errno));
  assert_arenad_ok(h, arenad_hello(h, name, NULL));
  return h;
}

/* Runs this program with "--child" and args; returns its exit status and
 * stores its first output line in out (when not NULL). */
static int run_child(char *out, size_t len, const char *const *args) {
  const char *argv[16];
  int n = 0;
  argv[n++] = self_exe;
  argv[n++] = "--child";
  for (int i = 0; args[i] != NULL && n < 15; i++)
    argv[n++] = args[i];
  argv[n] = NULL;
  int pipefd[2];
  assert_int_equal(pipe(pipefd), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    dup2(pipefd[1], 1);
    close(pipefd[0]);
    close(pipefd[1]);
    execv(self_exe, (char *const *)argv);
    _exit(127);
  }
  close(pipefd[1]);
  char buf[256];
  size_t got = 0;
  ssize_t r;
  while ((r = read(pipefd[0], buf + got, sizeof buf - 1 - got)) > 0)
    got += (size_t)r;
  close(pipefd[0]);
  buf[got] = '\0';
  if (out != NULL)
    snprintf(out, len, "%.*s", (int)strcspn(buf, "\n"), buf);
  int st;
  while (waitpid(pid, &st, 0) < 0)
    assert_int_equal(errno, EINTR);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* ---- the child processes ------------------------------------------------- */

/* --child read|write SOCK ARENA OFFSET LEN SEED: attaches (read-only to
 * read) and checks or writes pattern SEED at OFFSET. --child detached SOCK
 * ARENA LEN SEED: allocates a detached block, writes the pattern, prints
 * the offset. --child owned SOCK ARENA N: allocates N blocks and exits
 * without freeing them. Exit status 0 when all went well. */
static int child_main(int argc, char **argv) {
  if (argc < 4)
    return 2;
  const char *mode = argv[2], *sock = argv[3], *arena = argv[4];
  arenad_t *h;
  if (arenad_connect(sock, &h) < 0 || arenad_hello(h, mode, NULL) < 0) {
    fprintf(stderr, "child: cannot connect\n");
    return 3;
  }
  int status = 0;
  if ((strcmp(mode, "read") == 0 || strcmp(mode, "write") == 0) &&
      argc == 8) {
    bool reading = mode[0] == 'r';
    uint64_t off = strtoull(argv[5], NULL, 0), len = strtoull(argv[6], NULL, 0);
    uint64_t seed = strtoull(argv[7], NULL, 0);
    arenad_map_t map;
    int rc = arenad_attach(h, arena, reading ? ARENAD_ATTACH_READ_ONLY : 0,
                           &map);
    if (rc < 0 || off + len > map.size || map.read_only != reading) {
      fprintf(stderr, "child: attach: %s\n", arenad_error(h));
      status = 4;
    } else {
      uint8_t *p = (uint8_t *)map.base + off;
      for (size_t i = 0; i < len; i++) {
        if (!reading) {
          p[i] = pattern(seed, i);
        } else if (p[i] != pattern(seed, i)) {
          fprintf(stderr, "child: byte %zu is %u, not %u\n", i, p[i],
                  pattern(seed, i));
          status = 5;
          break;
        }
      }
    }
  } else if (strcmp(mode, "detached") == 0 && argc == 7) {
    uint64_t len = strtoull(argv[5], NULL, 0), seed = strtoull(argv[6], NULL, 0);
    uint64_t off;
    void *p;
    if (arenad_attach(h, arena, 0, NULL) < 0 ||
        arenad_alloc(h, arena, len, 0, ARENAD_ALLOC_DETACHED, &off, &p) < 0 ||
        p == NULL) {
      fprintf(stderr, "child: %s\n", arenad_error(h));
      status = 4;
    } else {
      for (size_t i = 0; i < len; i++)
        ((uint8_t *)p)[i] = pattern(seed, i);
      printf("%llu\n", (unsigned long long)off);
    }
  } else if (strcmp(mode, "owned") == 0 && argc == 6) {
    uint32_t n = (uint32_t)strtoul(argv[5], NULL, 0);
    uint64_t offs[64];
    if (n > 64 || arenad_alloc_n(h, arena, 1000, 0, n, 0, offs) < 0) {
      fprintf(stderr, "child: %s\n", arenad_error(h));
      status = 4;
    }
    /* exits holding them: the daemon reclaims them */
  } else {
    status = 2;
  }
  arenad_close(h);
  return status;
}

/* ---- tests --------------------------------------------------------------- */

static void test_pattern_across_processes(void **state) {
  (void)state;
  arenad_t *h = open_client("writer");
  arenad_map_t map;
  assert_arenad_ok(h, arenad_attach(h, "shm", 0, &map));
  assert_int_equal(map.size, 4u << 20);
  assert_int_equal(map.policy, ARENAD_POLICY_BEST);

  const size_t len = 65536;
  uint64_t off;
  void *p;
  assert_arenad_ok(h, arenad_alloc(h, "shm", len, 4096, 0, &off, &p));
  assert_ptr_equal(p, (uint8_t *)map.base + off);
  assert_int_equal(off % 4096, 0);
  for (size_t i = 0; i < len; i++)
    ((uint8_t *)p)[i] = pattern(1, i);

  char offs[32], lens[32];
  snprintf(offs, sizeof offs, "%llu", (unsigned long long)off);
  snprintf(lens, sizeof lens, "%zu", len);
  /* Another process, its own mapping, the same bytes. */
  const char *reader[] = {"read", daemon_.sock, "shm", offs, lens, "1", NULL};
  assert_int_equal(run_child(NULL, 0, reader), 0);
  /* And the other way: it writes, this process sees it. */
  const char *writer[] = {"write", daemon_.sock, "shm", offs, lens, "2", NULL};
  assert_int_equal(run_child(NULL, 0, writer), 0);
  for (size_t i = 0; i < len; i++)
    if (((uint8_t *)p)[i] != pattern(2, i))
      fail_msg("byte %zu is %u after the child wrote %u", i,
               ((uint8_t *)p)[i], pattern(2, i));
  /* A wrong pattern is told apart (the reader does compare). */
  const char *wrong[] = {"read", daemon_.sock, "shm", offs, lens, "3", NULL};
  assert_int_equal(run_child(NULL, 0, wrong), 5);

  assert_arenad_ok(h, arenad_free(h, "shm", off));
  assert_arenad_ok(h, arenad_check(h, "shm", NULL));
  arenad_close(h);
}

/* The live blocks of arena shm. */
static uint64_t live_blocks(arenad_t *h) {
  arenad_page_t *page;
  assert_arenad_ok(h, arenad_inspect(h, "shm", ARENAD_INSPECT_SUMMARY, 0, 0,
                                     &page));
  uint64_t n = page->summary.live_blocks;
  arenad_page_destroy(page);
  return n;
}

static void test_detached_outlives_its_maker(void **state) {
  (void)state;
  char line[64];
  const char *args[] = {"detached", daemon_.sock, "shm", "3000", "9", NULL};
  assert_int_equal(run_child(line, sizeof line, args), 0);
  uint64_t off = strtoull(line, NULL, 10);
  assert_true(off > 0);

  arenad_t *h = open_client("finder");
  assert_int_equal(live_blocks(h), 1);
  arenad_page_t *page;
  assert_arenad_ok(h, arenad_inspect(h, "shm", ARENAD_INSPECT_DETACHED, 0, 0,
                                     &page));
  assert_int_equal(page->n_extents, 1);
  assert_int_equal(page->extents[0].payload, off);
  assert_true(page->extents[0].detached);
  arenad_page_destroy(page);

  arenad_map_t map;
  assert_arenad_ok(h, arenad_attach(h, "shm", 0, &map));
  const uint8_t *p = arenad_ptr(h, "shm", off);
  assert_non_null(p);
  for (size_t i = 0; i < 3000; i++)
    assert_int_equal(p[i], pattern(9, i));
  assert_arenad_ok(h, arenad_free(h, "shm", off));
  assert_int_equal(live_blocks(h), 0);
  arenad_close(h);
}

static void test_exited_owner_reclaimed(void **state) {
  (void)state;
  const char *args[] = {"owned", daemon_.sock, "shm", "20", NULL};
  assert_int_equal(run_child(NULL, 0, args), 0);
  arenad_t *h = open_client("watcher");
  /* The daemon reclaims when it reads the end of the child's stream,
   * which may come after our hello: wait for it, boundedly. */
  for (int i = 0; i < 3000 && live_blocks(h) != 0; i++)
    nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);
  assert_int_equal(live_blocks(h), 0);
  assert_arenad_ok(h, arenad_check(h, "shm", NULL));

  arenad_stat_t *st;
  size_t n;
  assert_arenad_ok(h, arenad_stats(h, &st, &n));
  bool seen = false;
  for (size_t i = 0; i < n; i++)
    if (strcmp(st[i].name, "reclaimed_blocks") == 0) {
      assert_true(st[i].u >= 20);
      seen = true;
    }
  assert_true(seen);
  arenad_stats_destroy(st);
  arenad_close(h);
}

static void test_pipeline(void **state) {
  (void)state;
  arenad_t *h = open_client("pipeline");
  enum { N = 2000 };
  static uint64_t offs[N];
  size_t submitted = 0, collected = 0;
  while (collected < N) {
    while (submitted < N &&
           arenad_in_flight(h) < arenad_window(h)) {
      assert_arenad_ok(h, arenad_submit_alloc(h, "shm", 100, 0, 1, 0,
                                              submitted));
      submitted++;
    }
    arenad_result_t res;
    assert_arenad_ok(h, arenad_collect(h, &res));
    assert_int_equal(res.op, ARENAD_OP_ALLOC);
    assert_int_equal(res.status, 0);
    assert_int_equal(res.tag, collected); /* in order */
    assert_int_equal(res.n_offsets, 1);
    offs[res.tag] = res.offsets[0];
    collected++;
  }
  /* Best fit from an empty arena: ascending, 128 bytes apart. */
  for (size_t i = 1; i < N; i++)
    assert_int_equal(offs[i], offs[i - 1] + 128);
  assert_int_equal(live_blocks(h), N);
  /* Frees in requests of 50, pipelined, and a ping among them. */
  for (size_t i = 0; i < N; i += 50)
    assert_arenad_ok(h, arenad_submit_free(h, "shm", offs + i, 50, i));
  assert_arenad_ok(h, arenad_submit_ping(h, 7));
  assert_int_equal(arenad_in_flight(h), N / 50 + 1);
  for (size_t i = 0; i < N / 50; i++) {
    arenad_result_t res;
    assert_arenad_ok(h, arenad_collect(h, &res));
    assert_int_equal(res.op, ARENAD_OP_FREE);
    assert_int_equal(res.status, 0);
    assert_int_equal(res.freed, 50);
  }
  arenad_result_t res;
  assert_arenad_ok(h, arenad_collect(h, &res));
  assert_int_equal(res.op, ARENAD_OP_PING);
  assert_int_equal(res.tag, 7);
  assert_int_equal(live_blocks(h), 0);
  arenad_close(h);
}

/* A full window of frees of 4096 offsets each (some 20 MB of requests,
 * 4 MB of replies): the daemon stops reading while its replies go unread,
 * so the library must read replies while it waits to send, or both sides
 * would wait for ever. None of the offsets is a live block: each reply
 * carries a status per offset. */
static void test_pipeline_both_ways_full(void **state) {
  (void)state;
  arenad_t *h = open_client("pipeline-full");
  enum { OFFSETS = 4096 };
  static uint64_t offs[OFFSETS];
  for (size_t i = 0; i < OFFSETS; i++)
    offs[i] = 16 + 32 * (uint64_t)i;
  size_t window = arenad_window(h);
  assert_true(window >= 256);
  alarm(IT_TIMEOUT_S); /* a deadlock kills the test instead of hanging it */
  for (size_t i = 0; i < window; i++)
    assert_arenad_ok(h, arenad_submit_free(h, "shm", offs, OFFSETS, i));
  for (size_t i = 0; i < window; i++) {
    arenad_result_t res;
    assert_arenad_ok(h, arenad_collect(h, &res));
    assert_int_equal(res.op, ARENAD_OP_FREE);
    assert_int_equal(res.tag, i);
    assert_int_not_equal(res.status, 0);
    assert_int_equal(res.freed, 0);
  }
  alarm(0);
  assert_int_equal(arenad_in_flight(h), 0);
  assert_int_equal(live_blocks(h), 0);
  arenad_close(h);
}

static void test_paged_inspect(void **state) {
  (void)state;
  arenad_t *h = open_client("pager");
  uint64_t offs[40];
  assert_arenad_ok(h, arenad_alloc_n(h, "shm", 500, 0, 40, 0, offs));
  /* Free every other one: 19 holes between live blocks, and the last
   * block joins the free tail, so 20 free extents and 40 in all. */
  uint64_t odd[20];
  for (int i = 0; i < 20; i++)
    odd[i] = offs[2 * i + 1];
  assert_arenad_ok(h, arenad_free_n(h, "shm", odd, 20, NULL));

  for (int what = ARENAD_INSPECT_FREE_LIST; what <= ARENAD_INSPECT_BLOCKS;
       what++) {
    uint64_t cursor = 0, bytes = 0, extents = 0, pages = 0;
    uint64_t size = 0;
    for (;;) {
      arenad_page_t *page;
      assert_arenad_ok(h, arenad_inspect(h, "shm", (arenad_inspect_what_t)what,
                                         cursor, 3, &page));
      assert_true(page->n_extents <= 3);
      for (size_t i = 0; i < page->n_extents; i++) {
        assert_true(page->extents[i].start >= cursor);
        bytes += page->extents[i].size;
        if (what == ARENAD_INSPECT_FREE_LIST)
          assert_true(page->extents[i].free);
      }
      extents += page->n_extents;
      pages++;
      size = page->summary.size;
      cursor = page->next_cursor;
      arenad_page_destroy(page);
      if (cursor == size)
        break;
    }
    if (what == ARENAD_INSPECT_FREE_LIST) {
      assert_int_equal(extents, 20);
    } else {
      assert_int_equal(extents, 40);
      assert_int_equal(bytes, size); /* the extents tile the arena */
    }
    assert_true(pages >= extents / 3);
  }
  arenad_close(h); /* the 20 live blocks go with the connection */
}

/* Refused requests leave the handle usable; only a broken connection
 * does not. */
static void test_refusals(void **state) {
  (void)state;
  arenad_t *h = open_client("refused");
  assert_arenad_ok(h, arenad_ping(h));
  assert_int_equal(arenad_attach(h, "nope", 0, NULL), AR_ENOENT);
  assert_non_null(strstr(arenad_error(h), "nope"));
  uint64_t off;
  assert_int_equal(arenad_alloc(h, "shm", 0, 0, 0, &off, NULL), AR_EINVAL);
  assert_int_equal(arenad_alloc(h, "shm", 1ull << 40, 0, 0, &off, NULL),
                   AR_ENOMEM);
  assert_int_equal(arenad_alloc(h, "shm", 64, 3, 0, &off, NULL), AR_EINVAL);
  assert_int_equal(arenad_free(h, "shm", 12345), AR_EINVAL);
  static uint64_t many[100000];
  assert_int_equal(arenad_alloc_n(h, "shm", 16, 0, 100000, 0, many),
                   AR_ELIMIT);
  assert_int_equal(arenad_check(h, "nope", NULL), AR_ENOENT);
  arenad_page_t *page;
  assert_int_equal(arenad_inspect(h, "nope", ARENAD_INSPECT_BLOCKS, 0, 0,
                                  &page),
                   AR_ENOENT);
  assert_null(page);
  assert_arenad_ok(h, arenad_ping(h));
  arenad_close(h);
}

/* What test_attach_out_of_descriptors takes from this process, which its
 * teardown gives back even when the test fails half way. */
static struct {
  struct rlimit saved;
  bool lowered;
  int fds[64];
  int n;
} starved;

static int starved_setup(void **state) {
  starved.lowered = false;
  starved.n = 0;
  if (getrlimit(RLIMIT_NOFILE, &starved.saved) < 0)
    return -1;
  return setup(state);
}

static int starved_teardown(void **state) {
  while (starved.n > 0)
    close(starved.fds[--starved.n]);
  if (starved.lowered && setrlimit(RLIMIT_NOFILE, &starved.saved) < 0)
    return -1;
  starved.lowered = false;
  return teardown(state);
}

/* A process out of file descriptors attaches: the segment's descriptor
 * cannot be installed (the kernel truncates the control message), which
 * is AR_ELIMIT on a handle that stays usable, its blocks kept; once a
 * descriptor is free, the attach succeeds and maps the same bytes. */
static void test_attach_out_of_descriptors(void **state) {
  (void)state;
  arenad_t *h = open_client("fd-starved");
  void *p;
  uint64_t off;
  assert_arenad_ok(h, arenad_attach(h, "shm", 0, NULL));
  assert_arenad_ok(h, arenad_alloc(h, "shm", 100, 0, 0, &off, &p));
  memset(p, 0x5a, 100);
  assert_arenad_ok(h, arenad_detach(h, "shm"));

  /* Every descriptor under a lowered soft limit taken (given back by
   * starved_teardown, whatever happens here). */
  struct rlimit low = starved.saved;
  low.rlim_cur = 64;
  assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
  starved.lowered = true;
  int *fds = starved.fds, n = 0;
  while (n < 64 && (fds[n] = dup(0)) >= 0)
    starved.n = ++n;
  assert_true(n < 64 && errno == EMFILE);

  int rc = arenad_attach(h, "shm", 0, NULL);
  if (rc != AR_ELIMIT)
    fail_msg("attach out of descriptors: %s (%s)", ar_err_name(rc),
             arenad_error(h));
  assert_non_null(strstr(arenad_error(h), "no file descriptor to spare"));
  assert_arenad_ok(h, arenad_ping(h));

  close(fds[--n]);
  starved.n = n;
  arenad_map_t map;
  assert_arenad_ok(h, arenad_attach(h, "shm", 0, &map));
  const unsigned char *q = (const unsigned char *)map.base + off;
  for (size_t i = 0; i < 100; i++)
    assert_int_equal(q[i], 0x5a);
  assert_arenad_ok(h, arenad_free(h, "shm", off));
  arenad_close(h);
}

/* Forks a child that closes its copy of h when `close_copy`, then waits
 * for a byte on *gate (a pipe made here) and exits. */
static pid_t fork_holder(arenad_t *h, bool close_copy, int gate[2]) {
  assert_int_equal(pipe(gate), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    close(gate[1]);
    if (close_copy)
      arenad_close(h);
    char c;
    _exit(read(gate[0], &c, 1) == 1 ? 0 : 1);
  }
  close(gate[0]);
  return pid;
}

static void release_holder(pid_t pid, int gate[2]) {
  int st;
  assert_int_equal(write(gate[1], "x", 1), 1);
  close(gate[1]);
  assert_int_equal(waitpid(pid, &st, 0), pid);
  assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* After fork without exec, the child holds a copy of the socket. Its
 * arenad_close of that copy leaves the parent's connection alone; the
 * parent's arenad_close ends the connection while the child lives, and
 * the daemon frees the parent's blocks at once. */
static void test_close_with_forked_child(void **state) {
  (void)state;
  arenad_t *h = open_client("forker"), *obs = open_client("observer");
  arenad_hello_t hi_h, hi_obs; /* one daemon: one instance */
  assert_arenad_ok(h, arenad_hello(h, "forker", &hi_h));
  assert_arenad_ok(obs, arenad_hello(obs, "observer", &hi_obs));
  assert_true(hi_h.instance != 0 && hi_h.instance == hi_obs.instance);
  uint64_t off;
  assert_arenad_ok(h, arenad_alloc(h, "shm", 100, 0, 0, &off, NULL));
  assert_int_equal(live_blocks(obs), 1);

  int gate[2];
  pid_t pid = fork_holder(h, true, gate);
  release_holder(pid, gate); /* it has closed its copy and exited */
  assert_arenad_ok(h, arenad_ping(h));
  assert_int_equal(live_blocks(obs), 1);

  pid = fork_holder(h, false, gate); /* keeps its copy open */
  arenad_close(h);
  uint64_t live = 1;
  for (int i = 0; i < 500 && (live = live_blocks(obs)) != 0; i++)
    usleep(10000);
  assert_int_equal(live, 0);
  release_holder(pid, gate);
  arenad_close(obs);
}

/* Retain, release and transfer through the library, and the holders
 * with their references in an inspect page. */
static void test_share_calls(void **state) {
  (void)state;
  arenad_t *a = open_client("giver"), *b;
  arenad_hello_t hb;
  if (arenad_connect(daemon_.sock, &b) < 0)
    fail_msg("connect: %s", strerror(errno));
  assert_arenad_ok(b, arenad_hello(b, "taker", &hb));
  uint64_t off;
  assert_arenad_ok(a, arenad_alloc(a, "shm", 500, 0, 0, &off, NULL));
  uint32_t refs = 0;
  assert_arenad_ok(b, arenad_retain(b, "shm", off, &refs));
  assert_int_equal(refs, 2);
  assert_arenad_ok(b, arenad_retain(b, "shm", off, NULL));
  arenad_page_t *page;
  assert_arenad_ok(a, arenad_inspect(a, "shm", ARENAD_INSPECT_BLOCKS, 0, 1,
                                     &page));
  assert_int_equal(page->extents[0].refcount, 3);
  assert_int_equal(page->extents[0].n_holders, 2);
  assert_string_equal(page->extents[0].holders[1].client_name, "taker");
  assert_int_equal(page->extents[0].holders[1].references, 2);
  assert_int_equal(page->extents[0].holders[0].references, 1);
  arenad_page_destroy(page);

  assert_arenad_ok(b, arenad_release(b, "shm", off, &refs));
  assert_int_equal(refs, 2);
  arenad_transfer_t tr;
  assert_arenad_ok(a, arenad_transfer(a, "shm", off, hb.token, &tr));
  assert_int_equal(tr.target_connection_id, hb.connection_id);
  assert_int_equal(tr.refcount, 2);
  /* a holds none now: refused, and the handle stays usable. */
  assert_int_equal(arenad_release(a, "shm", off, NULL), AR_EPERM);
  assert_int_equal(arenad_transfer(a, "shm", off, hb.token, NULL), AR_EPERM);
  assert_int_equal(arenad_transfer(b, "shm", off, hb.token + 1, NULL),
                   AR_ENOENT);
  assert_int_equal(arenad_retain(a, "shm", off + 16, NULL), AR_EINVAL);
  assert_arenad_ok(a, arenad_ping(a));
  assert_arenad_ok(b, arenad_release(b, "shm", off, &refs));
  assert_arenad_ok(b, arenad_release(b, "shm", off, &refs));
  assert_int_equal(refs, 0);
  assert_int_equal(live_blocks(a), 0);
  arenad_close(a);
  arenad_close(b);
}

/* arenad_block_size of `off` in `arena` fails with AR_EINVAL, *n 0, and
 * says that no live block is there, and why (`why`). */
static void assert_no_block_in(arenad_t *h, const char *arena, uint64_t off,
                               const char *why) {
  uint64_t n = 7;
  assert_int_equal(arenad_block_size(h, arena, off, &n), AR_EINVAL);
  assert_int_equal(n, 0);
  if (strstr(arenad_error(h), "no live block has payload") == NULL ||
      strstr(arenad_error(h), why) == NULL)
    fail_msg("offset %llu: %s", (unsigned long long)off, arenad_error(h));
}

static void assert_no_block(arenad_t *h, uint64_t off) {
  assert_no_block_in(h, "shm", off, "");
}

/* arenad_block_size: a process handed only an offset learns the block's
 * requested size from the daemon, also one that holds no reference to it
 * and is attached read-only, and after the block's header in the segment
 * was overwritten; an aligned block (a free gap before it) and a
 * detached one too, and buddy blocks of every alignment. An offset that
 * is no live block's payload (a freed block, inside a block, misaligned,
 * 0, the arena's end and past it) is AR_EINVAL and says so; an unknown
 * arena is the daemon's AR_ENOENT. */
static void test_block_size(void **state) {
  (void)state;
  arenad_t *w = open_client("writer"), *r = open_client("reader");
  arenad_map_t map;
  assert_arenad_ok(w, arenad_attach(w, "shm", 0, &map));
  uint64_t off[3];
  void *p;
  assert_arenad_ok(w, arenad_alloc(w, "shm", 1000, 0, 0, &off[0], &p));
  assert_arenad_ok(w, arenad_alloc(w, "shm", 3000, 4096, 0, &off[1], NULL));
  assert_arenad_ok(
      w, arenad_alloc(w, "shm", 17, 0, ARENAD_ALLOC_DETACHED, &off[2], NULL));
  assert_arenad_ok(r, arenad_attach(r, "shm", ARENAD_ATTACH_READ_ONLY, NULL));
  static const uint64_t want[] = {1000, 3000, 17};
  for (int i = 0; i < 3; i++) {
    uint64_t n = 0;
    assert_arenad_ok(r, arenad_block_size(r, "shm", off[i], &n));
    assert_int_equal(n, want[i]);
  }
  /* The header says otherwise now; the daemon does not. */
  memset((uint8_t *)p - 16, 0xAB, 16);
  uint64_t n = 0;
  assert_arenad_ok(r, arenad_block_size(r, "shm", off[0], &n));
  assert_int_equal(n, 1000);

  assert_no_block(r, off[0] + 16);
  assert_no_block(r, off[0] + 8);
  assert_no_block_in(r, "shm", 0, "no payload is there");
  assert_no_block_in(r, "shm", off[0] + 16, "inside a block");
  assert_no_block(r, map.size);
  assert_no_block_in(r, "shm", map.size + 16, "past the arena's end");
  assert_no_block_in(r, "shm", map.size + 4096, "past the arena's end");
  assert_arenad_ok(w, arenad_free(w, "shm", off[0]));
  assert_no_block(r, off[0]);
  assert_arenad_ok(r, arenad_ping(r)); /* still usable */
  assert_int_equal(arenad_block_size(r, "nonesuch", off[1], &n), AR_ENOENT);
  assert_int_equal(arenad_block_size(r, "shm", off[1], NULL), AR_EINVAL);
  assert_arenad_ok(w, arenad_free(w, "shm", off[1]));
  assert_arenad_ok(w, arenad_free(w, "shm", off[2]));

  /* Buddy: a block allocated with alignment A over 16 starts A bytes
   * before its payload, in a block aligned to a larger power of two. */
  arenad_arena_spec_t spec = {1 << 20, ARENAD_POLICY_BUDDY, NULL, 0, 0};
  assert_arenad_ok(w, arenad_create_arena(w, "bud", &spec, NULL));
  static const uint64_t aligns[] = {16, 32, 64, 1024, 4096};
  uint64_t boff[5];
  for (int i = 0; i < 5; i++) {
    assert_arenad_ok(w, arenad_alloc(w, "bud", 100 + (uint64_t)i, aligns[i], 0,
                                     &boff[i], NULL));
    assert_int_equal(boff[i] % aligns[i], 0);
  }
  for (int i = 0; i < 5; i++) {
    assert_arenad_ok(r, arenad_block_size(r, "bud", boff[i], &n));
    assert_int_equal(n, 100 + (uint64_t)i);
  }
  /* 32 bytes into the block aligned to 4096: its lowest bit is 32, and
   * 32 bytes back is that block's payload, not a block's start. */
  assert_no_block_in(r, "bud", boff[4] + 32, "inside a block");
  for (int i = 0; i < 5; i++)
    assert_arenad_ok(w, arenad_free(w, "bud", boff[i]));
  assert_no_block_in(r, "bud", boff[3], "freed");
  assert_arenad_ok(w, arenad_destroy_arena(w, "bud", 0, NULL));
  arenad_close(w);
  arenad_close(r);
}

/* create_arena and destroy_arena through the library; a handle that had
 * the arena attached is told until it attaches again. */
static void test_admin_calls(void **state) {
  (void)state;
  arenad_t *h = open_client("admin"), *user = open_client("user");
  arenad_access_t acc = {0640, (uint32_t)getuid(), (uint32_t)getgid()};
  arenad_arena_spec_t spec = {64 << 10, ARENAD_POLICY_NEXT, &acc, 0, 3};
  arenad_arena_t *a;
  assert_arenad_ok(h, arenad_create_arena(h, "fresh", &spec, &a));
  assert_string_equal(a->name, "fresh");
  assert_int_equal(a->size, 64 << 10);
  assert_int_equal(a->policy, ARENAD_POLICY_NEXT);
  assert_int_equal(a->access.mode, 0640);
  assert_int_equal(a->quota_blocks, 3);
  arenad_list_destroy(a);
  assert_int_equal(arenad_create_arena(h, "fresh", &spec, NULL), AR_EINVAL);
  spec.policy = ARENAD_POLICY_UNKNOWN;
  assert_int_equal(arenad_create_arena(h, "other", &spec, NULL), AR_EINVAL);

  arenad_map_t map;
  assert_arenad_ok(user, arenad_attach(user, "fresh", 0, &map));
  uint64_t off;
  void *p;
  assert_arenad_ok(user, arenad_alloc(user, "fresh", 100, 0, 0, &off, &p));
  memset(p, 7, 100);
  assert_int_equal(arenad_alloc_n(user, "fresh", 10, 0, 3, 0,
                                  (uint64_t[3]){0}),
                   AR_ELIMIT); /* quota_blocks 3, one held */

  arenad_destroyed_t gone;
  assert_int_equal(arenad_destroy_arena(h, "fresh", 0, &gone), AR_EINVAL);
  assert_non_null(strstr(arenad_error(h), "1 live block "));
  assert_arenad_ok(h, arenad_destroy_arena(h, "fresh", ARENAD_DESTROY_FORCE,
                                           &gone));
  assert_int_equal(gone.blocks_freed, 1);
  assert_int_equal(gone.attached_connections, 1);
  /* The mapping stays; requests on the name do not. */
  assert_int_equal(((uint8_t *)p)[99], 7);
  assert_int_equal(arenad_alloc(user, "fresh", 100, 0, 0, &off, NULL),
                   AR_ENOENT);
  spec.policy = ARENAD_POLICY_FIRST;
  spec.access = NULL;
  assert_arenad_ok(h, arenad_create_arena(h, "fresh", &spec, NULL));
  assert_int_equal(arenad_free(user, "fresh", off), AR_ENOENT);
  assert_arenad_ok(user, arenad_detach(user, "fresh"));
  assert_arenad_ok(user, arenad_attach(user, "fresh", 0, &map));
  assert_arenad_ok(user, arenad_alloc(user, "fresh", 100, 0, 0, &off, NULL));
  arenad_close(user);
  assert_arenad_ok(h, arenad_destroy_arena(h, "fresh", ARENAD_DESTROY_FORCE,
                                           NULL));
  assert_int_equal(arenad_destroy_arena(h, "fresh", 0, NULL), AR_ENOENT);
  arenad_close(h);
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "--child") == 0)
    return child_main(argc, argv);
  self_exe = "/proc/self/exe";
  static char exe[4096];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n > 0) {
    exe[n] = '\0';
    self_exe = exe;
  }
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_pattern_across_processes, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_detached_outlives_its_maker, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_exited_owner_reclaimed, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_pipeline, setup, teardown),
      cmocka_unit_test_setup_teardown(test_pipeline_both_ways_full, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_paged_inspect, setup, teardown),
      cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
      cmocka_unit_test_setup_teardown(test_attach_out_of_descriptors,
                                      starved_setup, starved_teardown),
      cmocka_unit_test_setup_teardown(test_close_with_forked_child, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_share_calls, setup, teardown),
      cmocka_unit_test_setup_teardown(test_block_size, setup, teardown),
      cmocka_unit_test_setup_teardown(test_admin_calls, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
