/*
 * test_daemon_admin.c: arenas made and destroyed while arenad runs: only
 * root, the daemon's uid and the admin group may (another user is refused,
 * with a message naming the admin group by its gid,
 * counted daemon-wide and, for a destroy, in the arena it names; a member
 * of the group allowed); create_arena reserves the segment before
 * it answers and checks its arguments like the configuration does;
 * destroy_arena needs force for an arena with live blocks (detached ones
 * included), drops their records cleanly, gives back the segment's
 * descriptors and mapping, and the connections that had it
 * attached or held blocks in it get NOT_FOUND for its name, even once an
 * arena of that name exists again, until they attach again, while their
 * mappings stay valid, no block of the new one can be transferred to
 * them, and they cannot destroy the new one (past 256 such names, a
 * connection must attach an arena to use it); a create that would make the list
 * of the arenas pass max_frame_bytes is a limit, one of a taken name is not;
 * and the audit lines of both; a create refused by the memory check is
 * counted in arenas_refused_memory.
 */
#include "itest.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define NOBODY 65534u
#define ADMINS 4343u
#define KiB 1024u

static const char config[] = "[daemon]\n"
                             "socket_mode = 0666\n"
                             "admin_group = 4343\n"
                             "[arena base]\n"
                             "size = 1M\n"
                             "mode = 0666\n";

/* In a child: create and destroy must get `want`. */
static int admin_requests(void *arg) {
  int want = *(const int *)arg;
  it_conn_t *c = it_connect(it_group.sock);
  it_hello_ok(c);
  Arenad__Response *r = it_call(
      c,
      it_req_create("kid", 64 * KiB, ARENAD__POLICY__POLICY_FIRST, NULL, 0, 0),
      NULL);
  /* A refusal names who may, the admin group by its gid. */
  bool named = want == ARENAD__STATUS__STATUS_OK ||
               strstr(r->message,
                      "create_arena is allowed to root, the daemon's uid (0) "
                      "and the members of group 4343 (admin_group); this "
                      "connection is uid 65534") != NULL;
  bool got = (int)r->status == want;
  it_resp_free(r);
  if (!got)
    return 1;
  if (!named)
    return 4;
  if (want == ARENAD__STATUS__STATUS_OK) {
    /* Made with the default access: mode 0600, the caller's ids. */
    r = it_call(
        c, it_req_inspect("kid", ARENAD__INSPECT_WHAT__INSPECT_SUMMARY, 0, 0),
        NULL);
    const Arenad__Access *a = r->inspect->summary->access;
    bool ok = r->status == 0 && a->mode == 0600 && a->owner_uid == getuid() &&
              a->group_gid == getgid();
    it_resp_free(r);
    if (!ok)
      return 2;
  }
  if (it_status(c, it_req_destroy(want == 0 ? "kid" : "base", true)) != want)
    return 3;
  it_close(c);
  return 0;
}

static void test_who_may(void **state) {
  (void)state;
  int denied = ARENAD__STATUS__STATUS_PERMISSION_DENIED, ok = 0;
  it_conn_t *c = it_connect(it_group.sock);
  uint64_t base_before = it_summary_stat(c, "base", "permission_denied");
  uint64_t daemon_before = it_stat(c, "permission_denied");
  assert_int_equal(it_run_as(NOBODY, NOBODY, NULL, 0, admin_requests, &denied),
                   0);
  it_barrier(c);
  /* Two refusals daemon-wide (create "kid", destroy "base"); the destroy,
   * which names an arena, is counted in it too, as every refusal is. */
  assert_int_equal(it_stat(c, "permission_denied"), daemon_before + 2);
  assert_int_equal(it_summary_stat(c, "base", "permission_denied"),
                   base_before + 1);
  /* A gid apart from the uid: the arena's group is the caller's gid. */
  const uint32_t admins[] = {ADMINS};
  assert_int_equal(it_run_as(5000, 5001, admins, 1, admin_requests, &ok), 0);
  const char *refused[] = {" warn denied ",          " uid=65534 ",
                           " request=create_arena ", " arena=kid ",
                           " reason=not-admin ",     NULL};
  assert_true(it_log_line(&it_group, refused));
  const char *made[] = {" info arena-created ", " name=kid ",   " uid=5000 ",
                        " mode=0600 ",          " owner=5000 ", NULL};
  assert_true(it_log_line(&it_group, made));
  Arenad__Response *r = it_call(c, it_req_list(), NULL);
  assert_int_equal(r->list->n_arenas, 1); /* base is still there */
  it_resp_free(r);
  it_close(c);
}

static void test_create(void **state) {
  (void)state;
  it_conn_t *c = it_connect(it_group.sock);
  it_hello_ok(c);
  Arenad__Access acc = ARENAD__ACCESS__INIT;
  acc.mode = 0640;
  acc.owner_uid = 0;
  acc.group_gid = 4343;
  Arenad__Response *r =
      it_call(c,
              it_req_create("made", 256 * KiB, ARENAD__POLICY__POLICY_BEST,
                            &acc, 64 * KiB, 100),
              NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_OK);
  const Arenad__ArenaInfo *info = r->create_arena->arena;
  assert_string_equal(info->name, "made");
  assert_int_equal(info->size, 256 * KiB);
  assert_int_equal(info->policy, ARENAD__POLICY__POLICY_BEST);
  assert_int_equal(info->free_bytes, 256 * KiB);
  assert_int_equal(info->access->mode, 0640);
  assert_int_equal(info->access->group_gid, 4343);
  assert_int_equal(info->quota_bytes, 64 * KiB);
  assert_int_equal(info->quota_blocks, 100);
  it_resp_free(r);

  /* Listed in name order, and its memory reserved. */
  r = it_call(c, it_req_list(), NULL);
  assert_int_equal(r->list->n_arenas, 2);
  assert_string_equal(r->list->arenas[0]->name, "base");
  assert_string_equal(r->list->arenas[1]->name, "made");
  it_resp_free(r);
  int fd;
  r = it_call(c, it_req_attach("made", false), &fd);
  it_assert_status(r, ARENAD__STATUS__STATUS_OK);
  it_resp_free(r);
  struct stat st;
  assert_int_equal(fstat(fd, &st), 0);
  assert_int_equal(st.st_size, 256 * KiB);
  assert_true(st.st_blocks * 512 >= 256 * KiB);
  close(fd);
  it_free_ok(c, "made", it_alloc_ok(c, "made", 100));

  /* Refused arguments. */
  struct {
    const char *name;
    uint64_t size;
    Arenad__Policy policy;
    int want;
    const char *says;
    uint64_t quota_bytes, quota_blocks;
  } bad[] = {
      {"made", 64 * KiB, ARENAD__POLICY__POLICY_FIRST,
       ARENAD__STATUS__STATUS_INVALID_ARGUMENT, "exists", 0, 0},
      {"bad name", 64 * KiB, ARENAD__POLICY__POLICY_FIRST,
       ARENAD__STATUS__STATUS_INVALID_ARGUMENT, "not an arena name", 0, 0},
      {"", 64 * KiB, ARENAD__POLICY__POLICY_FIRST,
       ARENAD__STATUS__STATUS_INVALID_ARGUMENT, "not an arena name", 0, 0},
      {"odd", 5000, ARENAD__POLICY__POLICY_FIRST,
       ARENAD__STATUS__STATUS_INVALID_ARGUMENT, "multiple of 4096", 0, 0},
      {"odd", 12 * KiB, ARENAD__POLICY__POLICY_BUDDY,
       ARENAD__STATUS__STATUS_INVALID_ARGUMENT, "power of two", 0, 0},
      {"odd", 64 * KiB, ARENAD__POLICY__POLICY_UNSPECIFIED,
       ARENAD__STATUS__STATUS_INVALID_ARGUMENT, "policy", 0, 0},
      {"odd", 64 * KiB, (Arenad__Policy)(ARENAD__POLICY__POLICY_BUDDY + 1),
       ARENAD__STATUS__STATUS_INVALID_ARGUMENT, "policy 6 is not first", 0, 0},
      /* Quotas within the configuration file's bounds. */
      {"odd", 64 * KiB, ARENAD__POLICY__POLICY_FIRST,
       ARENAD__STATUS__STATUS_INVALID_ARGUMENT,
       "quota_bytes 18446744073709551615 is out of range", UINT64_MAX, 0},
      {"odd", 64 * KiB, ARENAD__POLICY__POLICY_FIRST,
       ARENAD__STATUS__STATUS_INVALID_ARGUMENT,
       "quota_blocks 4294967296 is out of range (0 to 4294967295)", 0,
       (uint64_t)1 << 32},
      /* Refused by the memory check before anything is reserved. */
      {"huge", (uint64_t)1 << 40, ARENAD__POLICY__POLICY_FIRST,
       ARENAD__STATUS__STATUS_OUT_OF_MEMORY, "does not fit", 0, 0},
  };
  uint64_t refused_memory = it_stat(c, "arenas_refused_memory");
  uint64_t refused_names = it_stat(c, "names_refused");
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    r = it_call(c,
                it_req_create(bad[i].name, bad[i].size, bad[i].policy, NULL,
                              bad[i].quota_bytes, bad[i].quota_blocks),
                NULL);
    it_assert_status(r, bad[i].want);
    if (strstr(r->message, bad[i].says) == NULL)
      fail_msg("create %s: '%s' does not say '%s'", bad[i].name, r->message,
               bad[i].says);
    it_resp_free(r);
  }
  /* The one refused for memory is counted as such, and the two names that
   * are not arena names as those (the others are neither). */
  assert_int_equal(it_stat(c, "arenas_refused_memory"), refused_memory + 1);
  assert_int_equal(it_stat(c, "names_refused"), refused_names + 2);
  /* A mode over 0777, and -1 as the owner or the group. */
  const uint32_t bad_access[][3] = {
      {01777, 0, 4343}, {0640, UINT32_MAX, 4343}, {0640, 0, UINT32_MAX}};
  for (size_t i = 0; i < sizeof(bad_access) / sizeof(bad_access[0]); i++) {
    acc.mode = bad_access[i][0];
    acc.owner_uid = bad_access[i][1];
    acc.group_gid = bad_access[i][2];
    r = it_call(c,
                it_req_create("odd", 64 * KiB, ARENAD__POLICY__POLICY_FIRST,
                              &acc, 0, 0),
                NULL);
    it_assert_status(r, ARENAD__STATUS__STATUS_INVALID_ARGUMENT);
    assert_non_null(strstr(r->message, "-1 is no uid or gid"));
    it_resp_free(r);
  }
  r = it_call(c, it_req_list(), NULL);
  assert_int_equal(r->list->n_arenas, 2);
  it_resp_free(r);
  const char *made[] = {" info arena-created ", " name=made ", " size=262144 ",
                        " policy=best ",        " mode=0640 ", " group=4343 ",
                        " quota_bytes=65536 ",  " uid=0 ",     NULL};
  assert_true(it_log_line(&it_group, made));
  it_close(c);
}

static void test_destroy(void **state) {
  (void)state;
  it_conn_t *admin = it_connect(it_group.sock),
            *user = it_connect(it_group.sock),
            *holder = it_connect(it_group.sock),
            *other = it_connect(it_group.sock);
  it_hello_ok(admin);
  it_hello_ok(user);
  uint64_t holder_token;
  it_hello_id(holder, &holder_token, NULL);
  it_hello_ok(other);
  Arenad__Response *r = it_call(admin, it_req_stats(), NULL);
  uint64_t freed = r->stats->blocks_freed, made = r->stats->arenas_created;
  it_resp_free(r);

  /* user maps "made" and writes; holder holds a block without attaching;
   * a detached block too. */
  int fd;
  r = it_call(user, it_req_attach("made", false), &fd);
  it_assert_status(r, ARENAD__STATUS__STATUS_OK);
  it_resp_free(r);
  uint8_t *map =
      mmap(NULL, 256 * KiB, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  assert_true(map != MAP_FAILED);
  close(fd);
  uint64_t off = it_alloc_ok(user, "made", 1000);
  memset(map + off, 0xab, 1000);
  /* One live block is enough to need force. */
  r = it_call(admin, it_req_destroy("made", false), NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_INVALID_ARGUMENT);
  assert_non_null(strstr(r->message, "has 1 live block (0 detached)"));
  it_resp_free(r);
  it_alloc_ok(holder, "made", 10);
  r = it_call(admin, it_req_alloc("made", 10, 0, 1, true), NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_OK);
  uint64_t detached_off = r->alloc->offsets[0];
  it_resp_free(r);

  /* Without force: refused, with the count. */
  r = it_call(admin, it_req_destroy("made", false), NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_INVALID_ARGUMENT);
  assert_non_null(strstr(r->message, "3 live blocks (1 detached)"));
  it_resp_free(r);
  r = it_call(admin, it_req_destroy("nosuch", true), NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_NOT_FOUND);
  it_resp_free(r);

  r = it_call(admin, it_req_destroy("made", true), NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_OK);
  assert_int_equal(r->destroy_arena->blocks_freed, 3);
  assert_true(r->destroy_arena->bytes_freed >= 1000 + 3 * 16);
  assert_int_equal(r->destroy_arena->attached_connections, 1);
  /* The audit line's bytes are the reply's. */
  char bytes[48];
  snprintf(bytes, sizeof bytes, " bytes=%llu ",
           (unsigned long long)r->destroy_arena->bytes_freed);
  it_resp_free(r);

  /* The mapping stays valid: the memory lives while it is mapped. */
  assert_int_equal(map[off + 999], 0xab);
  map[off] = 1;

  /* Told: not found, also once the name exists again. */
  uint64_t hoff = 16;
  r = it_call(user, it_req_alloc("made", 10, 0, 1, false), NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_NOT_FOUND);
  it_resp_free(r);
  r = it_call(
      admin,
      it_req_create("made", 64 * KiB, ARENAD__POLICY__POLICY_FIRST, NULL, 0, 0),
      NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_OK);
  it_resp_free(r);
  r = it_call(user, it_req_free("made", &off, 1), NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_NOT_FOUND);
  assert_non_null(strstr(r->message, "attach it again"));
  it_resp_free(r);
  r = it_call(holder, it_req_free("made", &hoff, 1), NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_NOT_FOUND);
  it_resp_free(r);
  r = it_call(
      user, it_req_inspect("made", ARENAD__INSPECT_WHAT__INSPECT_SUMMARY, 0, 0),
      NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_NOT_FOUND);
  it_resp_free(r);
  /* A connection that never used the old one: the new arena at once. */
  it_free_ok(other, "made", it_alloc_ok(other, "made", 10));
  /* But it may not hand a block to one for which the name is stale, which
   * could not free it. */
  uint64_t ooff = it_alloc_ok(other, "made", 10);
  r = it_call(other, it_req_transfer("made", ooff, holder_token), NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_INVALID_ARGUMENT);
  assert_non_null(strstr(r->message, "attaches it again"));
  it_resp_free(r);
  it_free_ok(other, "made", ooff);
  /* Attaching again ends it. */
  r = it_call(user, it_req_attach("made", false), &fd);
  it_assert_status(r, ARENAD__STATUS__STATUS_OK);
  assert_int_equal(r->attach->size, 64 * KiB);
  it_resp_free(r);
  close(fd);
  it_free_ok(user, "made", it_alloc_ok(user, "made", 10));
  munmap(map, 256 * KiB);

  /* admin only made a detached block in the old arena, without attaching
   * or holding anything: told all the same. The new arena's detached
   * block at that offset (made by the same sizes in the same order) is
   * out of its old offset's reach. */
  uint64_t again[3];
  static const uint64_t sizes[3] = {1000, 10, 10};
  for (int i = 0; i < 3; i++) {
    r = it_call(other, it_req_alloc("made", sizes[i], 0, 1, true), NULL);
    it_assert_status(r, ARENAD__STATUS__STATUS_OK);
    again[i] = r->alloc->offsets[0];
    it_resp_free(r);
  }
  assert_int_equal(again[2], detached_off);
  r = it_call(admin, it_req_free("made", &detached_off, 1), NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_NOT_FOUND);
  assert_non_null(strstr(r->message, "attach it again"));
  it_resp_free(r);
  for (int i = 0; i < 3; i++)
    it_free_ok(other, "made", again[i]);
  r = it_call(admin, it_req_attach("made", true), &fd);
  it_assert_status(r, ARENAD__STATUS__STATUS_OK);
  it_resp_free(r);
  close(fd);

  /* The records went cleanly: the holders close with nothing to reclaim,
   * and the counters agree. */
  it_close(holder);
  it_close(user);
  it_barrier(admin);
  r = it_call(admin, it_req_stats(), NULL);
  assert_true(r->stats->blocks_freed >= freed + 3);
  assert_int_equal(r->stats->blocks_allocated - r->stats->blocks_freed, 0);
  assert_int_equal(r->stats->arenas_created, made + 1);
  assert_true(r->stats->arenas_destroyed >= 2);
  assert_int_equal(r->stats->detached_blocks, 0);
  it_resp_free(r);
  it_check_ok(admin, "made");
  it_check_ok(admin, "base");
  r = it_call(admin, it_req_destroy("made", false), NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_OK);
  it_resp_free(r);
  const char *gone[] = {
      " info arena-destroyed ", " name=made ", " force=1 ", " blocks=3 ", bytes,
      " attached=1\n",          " uid=0 ",     NULL};
  assert_true(it_log_line(&it_group, gone));
  it_close(admin);
  it_close(other);
}

/* Attaches `name` on c and closes the descriptor it came with. */
static void attach_ok(it_conn_t *c, const char *name) {
  int fd = -1;
  Arenad__Response *r = it_call(c, it_req_attach(name, false), &fd);
  it_assert_status(r, ARENAD__STATUS__STATUS_OK);
  it_resp_free(r);
  close(fd);
}

/* destroy_arena names an arena like any other request: a connection for
 * which the name is stale (it had the arena attached when another
 * connection destroyed it) gets NOT_FOUND, and the arena made since
 * under that name is left alone, until it attaches that one. */
static void test_destroy_stale(void **state) {
  (void)state;
  it_conn_t *old = it_connect(it_group.sock),
            *admin = it_connect(it_group.sock);
  it_hello_ok(old);
  it_hello_ok(admin);
  assert_int_equal(
      it_status(admin, it_req_create("again", 64 * KiB,
                                     ARENAD__POLICY__POLICY_FIRST, NULL, 0, 0)),
      0);
  attach_ok(old, "again");
  assert_int_equal(it_status(admin, it_req_destroy("again", false)), 0);
  assert_int_equal(
      it_status(admin, it_req_create("again", 128 * KiB,
                                     ARENAD__POLICY__POLICY_FIRST, NULL, 0, 0)),
      0);
  uint64_t destroyed = it_stat(admin, "arenas_destroyed");

  /* old never saw the new arena: its destroy does not reach it. */
  Arenad__Response *r = it_call(old, it_req_destroy("again", true), NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_NOT_FOUND);
  assert_non_null(strstr(r->message, "attach it again"));
  it_resp_free(r);
  assert_int_equal(it_stat(admin, "arenas_destroyed"), destroyed);
  r = it_call(
      admin,
      it_req_inspect("again", ARENAD__INSPECT_WHAT__INSPECT_SUMMARY, 0, 0),
      NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_OK);
  assert_int_equal(r->inspect->summary->size, 128 * KiB);
  it_resp_free(r);

  /* Once it has attached the new one, it may destroy it. */
  attach_ok(old, "again");
  r = it_call(old, it_req_destroy("again", false), NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_OK);
  assert_int_equal(r->destroy_arena->attached_connections, 1);
  it_resp_free(r);
  assert_int_equal(it_stat(admin, "arenas_destroyed"), destroyed + 1);
  assert_int_equal(it_status(admin, it_req_destroy("again", false)),
                   ARENAD__STATUS__STATUS_NOT_FOUND);
  it_close(old);
  it_close(admin);
}

/* The daemon keeps 256 arenas at most: the next create is refused with
 * LIMIT_EXCEEDED and counted in arenas_refused_limit; once one goes, a
 * create succeeds again. */
static void test_arena_count_limit(void **state) {
  (void)state;
  it_conn_t *c = it_connect(it_group.sock);
  it_hello_ok(c);
  Arenad__Response *r = it_call(c, it_req_list(), NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_OK);
  size_t have = r->list->n_arenas;
  it_resp_free(r);
  assert_true(have < 256);
  char name[32];
  for (size_t i = have; i < 256; i++) {
    snprintf(name, sizeof name, "many-%zu", i);
    assert_int_equal(
        it_status(c, it_req_create(name, 4096, ARENAD__POLICY__POLICY_FIRST,
                                   NULL, 0, 0)),
        0);
  }
  r = it_call(c, it_req_stats(), NULL);
  uint64_t before = r->stats->arenas_refused_limit;
  it_resp_free(r);
  r = it_call(c,
              it_req_create("one-too-many", 4096, ARENAD__POLICY__POLICY_FIRST,
                            NULL, 0, 0),
              NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_LIMIT_EXCEEDED);
  assert_non_null(strstr(r->message, "256 arenas"));
  it_resp_free(r);
  r = it_call(c, it_req_stats(), NULL);
  assert_int_equal(r->stats->arenas_refused_limit, before + 1);
  it_resp_free(r);

  snprintf(name, sizeof name, "many-%zu", (size_t)255);
  assert_int_equal(it_status(c, it_req_destroy(name, false)), 0);
  assert_int_equal(
      it_status(c, it_req_create("one-too-many", 4096,
                                 ARENAD__POLICY__POLICY_FIRST, NULL, 0, 0)),
      0);
  assert_int_equal(it_status(c, it_req_destroy("one-too-many", false)), 0);
  for (size_t i = have; i < 255; i++) {
    snprintf(name, sizeof name, "many-%zu", i);
    assert_int_equal(it_status(c, it_req_destroy(name, false)), 0);
  }
  it_close(c);
}

/* The daemon's descriptors and mappings of arena `name`'s memfd (named
 * "memfd:arenad:NAME"), counted in /proc. */
static void segment_use(const char *name, int *fds, int *maps) {
  char want[64], path[64], target[256], line[512];
  snprintf(want, sizeof want, "/memfd:arenad:%s ", name);
  size_t n = strlen(want) - 1; /* a link ends in " (deleted)" */
  *fds = *maps = 0;
  for (int fd = 0; fd < 1024; fd++)
    if (it_fd_target(it_group.pid, fd, target, sizeof target))
      *fds += strncmp(target, want, n) == 0 && target[n] == ' ';
  snprintf(path, sizeof path, "/proc/%d/maps", (int)it_group.pid);
  FILE *f = fopen(path, "r");
  assert_non_null(f);
  while (fgets(line, sizeof line, f) != NULL)
    *maps += strstr(line, want) != NULL;
  fclose(f);
}

/* An arena made with create_arena holds a memfd, a read-only descriptor
 * of it, a mapping and a table of records (counted in record_bytes) in
 * the daemon; destroy_arena gives them all back, so that its memory
 * returns to the machine (no client has it mapped). */
static void test_destroy_releases_segment(void **state) {
  (void)state;
  it_conn_t *c = it_connect(it_group.sock);
  it_hello_ok(c);
  uint64_t records = it_stat(c, "record_bytes");
  assert_int_equal(
      it_status(c, it_req_create("released", 64 * KiB,
                                 ARENAD__POLICY__POLICY_FIRST, NULL, 0, 0)),
      0);
  int fds, maps;
  segment_use("released", &fds, &maps);
  assert_int_equal(fds, 2);
  assert_int_equal(maps, 1);
  /* Its table of block records, empty as it is, is in record_bytes. */
  assert_true(it_stat(c, "record_bytes") > records);
  assert_int_equal(it_status(c, it_req_destroy("released", false)), 0);
  segment_use("released", &fds, &maps);
  assert_int_equal(fds, 0);
  assert_int_equal(maps, 0);
  assert_int_equal(it_stat(c, "record_bytes"), records);
  it_close(c);
}

/* With a small frame limit, a create that would make the list of the
 * arenas pass max_frame_bytes is refused with LIMIT_EXCEEDED and counted
 * in arenas_refused_limit; a create of a name that is taken is
 * INVALID_ARGUMENT however long the list, and no limit's refusal. */
static void test_list_limit(void **state) {
  (void)state;
  it_daemon_t d = {0};
  assert_int_equal(it_daemon_start(&d,
                                   "[daemon]\n"
                                   "max_frame_bytes = 4K\n"
                                   "max_blocks_per_request = 16\n"
                                   "[arena base]\n"
                                   "size = 64K\n",
                                   NULL),
                   0);
  it_conn_t *c = it_connect(d.sock);
  it_hello_ok(c);
  char name[65]; /* the longest name: 64 bytes */
  int made = 0;
  for (;; made++) {
    assert_true(made < 256);
    snprintf(name, sizeof name, "%064d", made);
    Arenad__Response *r = it_call(
        c, it_req_create(name, 4096, ARENAD__POLICY__POLICY_FIRST, NULL, 0, 0),
        NULL);
    bool refused = r->status != ARENAD__STATUS__STATUS_OK;
    if (refused) {
      it_assert_status(r, ARENAD__STATUS__STATUS_LIMIT_EXCEEDED);
      assert_non_null(strstr(r->message, "the list of the arenas"));
    }
    it_resp_free(r);
    if (refused)
      break;
  }
  assert_true(made > 2);
  assert_int_equal(it_stat(c, "arenas_refused_limit"), 1);
  /* Every arena made is in a list that still fits in a frame. */
  Arenad__Response *l = it_call(c, it_req_list(), NULL);
  it_assert_status(l, ARENAD__STATUS__STATUS_OK);
  assert_int_equal(l->list->n_arenas, made + 1);
  it_resp_free(l);

  snprintf(name, sizeof name, "%064d", 0);
  Arenad__Response *r = it_call(
      c, it_req_create(name, 4096, ARENAD__POLICY__POLICY_FIRST, NULL, 0, 0),
      NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_INVALID_ARGUMENT);
  assert_non_null(strstr(r->message, "exists"));
  it_resp_free(r);
  assert_int_equal(it_stat(c, "arenas_refused_limit"), 1);
  it_close(c);
  assert_int_equal(it_daemon_stop(&d, SIGTERM), 0);
  it_daemon_cleanup(&d);
}

/* A connection that sees more than 256 arenas it attached destroyed keeps
 * no list of their names (that would grow without end): from then on
 * every arena is stale for it unless it attached that very arena or holds
 * blocks in it, so it never reaches an arena that took a gone one's name;
 * counted in stale_lists_dropped. Another connection is not affected. */
static void test_stale_list_dropped(void **state) {
  (void)state;
  it_conn_t *admin = it_connect(it_group.sock),
            *watcher = it_connect(it_group.sock),
            *other = it_connect(it_group.sock);
  it_hello_ok(admin);
  it_hello_ok(watcher);
  it_hello_ok(other);
  uint64_t dropped = it_stat(admin, "stale_lists_dropped");
  attach_ok(watcher, "base");
  assert_int_equal(
      it_status(admin, it_req_create("kept", 4096, ARENAD__POLICY__POLICY_FIRST,
                                     NULL, 0, 0)),
      0);
  uint64_t held = it_alloc_ok(watcher, "kept", 10); /* not attached */
  char name[32];
  for (int i = 0; i <= 256; i++) {
    snprintf(name, sizeof name, "short-%d", i);
    assert_int_equal(
        it_status(admin, it_req_create(name, 4096, ARENAD__POLICY__POLICY_FIRST,
                                       NULL, 0, 0)),
        0);
    attach_ok(watcher, name);
    assert_int_equal(it_status(admin, it_req_destroy(name, false)), 0);
    /* Up to 256 names are remembered one by one. */
    assert_int_equal(it_stat(admin, "stale_lists_dropped"),
                     dropped + (i == 256));
  }
  /* A name that came back is still stale, with the reason. */
  assert_int_equal(
      it_status(admin, it_req_create("short-3", 4096,
                                     ARENAD__POLICY__POLICY_FIRST, NULL, 0, 0)),
      0);
  Arenad__Response *r =
      it_call(watcher, it_req_alloc("short-3", 10, 0, 1, false), NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_NOT_FOUND);
  assert_non_null(strstr(r->message, "more than 256 arenas were destroyed"));
  assert_non_null(strstr(r->message, "attach arena 'short-3'"));
  it_resp_free(r);
  /* So is one it never used; the other connection uses both at once. */
  assert_int_equal(
      it_status(admin, it_req_create("fresh", 4096,
                                     ARENAD__POLICY__POLICY_FIRST, NULL, 0, 0)),
      0);
  assert_int_equal(it_status(watcher, it_req_alloc("fresh", 10, 0, 1, false)),
                   ARENAD__STATUS__STATUS_NOT_FOUND);
  it_free_ok(other, "fresh", it_alloc_ok(other, "fresh", 10));
  it_free_ok(other, "short-3", it_alloc_ok(other, "short-3", 10));
  /* An arena it attached, or holds blocks in, it uses as before. */
  it_free_ok(watcher, "base", it_alloc_ok(watcher, "base", 10));
  it_free_ok(watcher, "kept", held);
  assert_int_equal(it_status(admin, it_req_destroy("kept", false)), 0);
  attach_ok(watcher, "short-3");
  it_free_ok(watcher, "short-3", it_alloc_ok(watcher, "short-3", 10));
  assert_int_equal(it_status(admin, it_req_destroy("short-3", false)), 0);
  assert_int_equal(it_status(admin, it_req_destroy("fresh", false)), 0);
  it_close(watcher);
  it_close(other);
  it_close(admin);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_who_may),
      cmocka_unit_test(test_create),
      cmocka_unit_test(test_destroy),
      cmocka_unit_test(test_destroy_stale),
      cmocka_unit_test(test_destroy_releases_segment),
      cmocka_unit_test(test_arena_count_limit),
      cmocka_unit_test(test_stale_list_dropped),
      cmocka_unit_test(test_list_limit),
      cmocka_unit_test(it_test_exits_cleanly),
  };
  it_group_config = config;
  it_group_open = true; /* other users connect */
  return cmocka_run_group_tests(tests, it_group_setup, it_group_teardown);
}
