/*
 * test_daemon_access.c: per-arena access control on a real arenad, with
 * clients running as other users (children that setuid to nobody, 65534,
 * or to a uid of ours with or without a supplementary group): what read
 * and write allow, the owner's bits alone for the owner, groups from
 * SO_PEERGROUPS, root allowed everything (and, with root_override = 0,
 * only what the other class's bits allow, nor given a block by transfer
 * in an arena it may not read, but still an admin while the daemon runs
 * as root); a daemon running as another uid (6000), whose uid has its
 * owner's bits and no override but may create and destroy arenas, beside
 * root with and without root_override; what needs access and what needs a
 * reference to the block, apart (release and a transfer's sender need no
 * access, free of another's block is refused with write, a detached one's
 * allowed with write only, retain refused with write only; a reference
 * refusal's message names the block and how to get a reference, not the
 * arena's access); read-only attach (a
 * descriptor that refuses a writable mapping, mprotect and a reopen for
 * writing, and a write through the mapping that dies with SIGSEGV, raw and
 * through the client library); the refusals counted per arena and daemon-wide;
 * and their audit lines, with the accept and close lines of the other user.
 */
#include "itest.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "arenad.h"

#define NOBODY 65534u
#define USER 5000u  /* a uid of ours, no account needed */
#define GROUP 4242u /* the group of arena "team" */
#define MiB (1u << 20)

static const char config[] = "[daemon]\n"
                             "socket_mode = 0666\n"
                             "[arena private]\n" /* root's, 0600 */
                             "size = 1M\n"
                             "[arena readable]\n"
                             "size = 1M\n"
                             "mode = 0644\n"
                             "[arena team]\n"
                             "size = 1M\n"
                             "mode = 0660\n"
                             "group = 4242\n"
                             "[arena ownerless]\n" /* the owner may not */
                             "size = 1M\n"
                             "mode = 0070\n"
                             "owner = 5000\n"
                             "group = 4242\n"
                             "[arena open]\n"
                             "size = 1M\n"
                             "mode = 0666\n"
                             "[arena drop]\n" /* others may write only */
                             "size = 1M\n"
                             "mode = 0602\n";

static uint64_t private_off, readable_off; /* root's blocks */
static it_conn_t *root_;                   /* holds them */

#define OK ARENAD__STATUS__STATUS_OK
#define DENIED ARENAD__STATUS__STATUS_PERMISSION_DENIED

/* In a child: each step must get its status, else the step's number is the
 * child's exit status. */
#define EXPECT(c, req, want)                                                   \
  do {                                                                         \
    step++;                                                                    \
    if (it_status((c), (req)) != (int)(want))                                  \
      return step;                                                             \
  } while (0)

/* In a child: allocates a block of 10 bytes in `arena`, its offset stored
 * in `off`; else the step's number is the child's exit status. */
#define EXPECT_ALLOC(c, arena, off)                                            \
  do {                                                                         \
    step++;                                                                    \
    Arenad__Response *r_ =                                                     \
        it_call((c), it_req_alloc((arena), 10, 0, 1, false), NULL);            \
    bool ok_ = r_->status == OK;                                               \
    if (ok_)                                                                   \
      (off) = r_->alloc->offsets[0];                                           \
    it_resp_free(r_);                                                          \
    if (!ok_)                                                                  \
      return step;                                                             \
  } while (0)

/* Root allocates the blocks the other users will try. */
static void test_root_may_everything(void **state) {
  (void)state;
  it_conn_t *c = it_connect(it_group.sock);
  it_hello_ok(c);
  /* An arena whose configuration names no owner is the daemon's uid's, and
   * one that names no group its gid's (this process's, which started it):
   * never -1, an id nobody has. */
  Arenad__Response *l = it_call(c, it_req_list(), NULL);
  it_assert_status(l, OK);
  int seen = 0;
  for (size_t i = 0; i < l->list->n_arenas; i++) {
    const Arenad__ArenaInfo *a = l->list->arenas[i];
    if (strcmp(a->name, "private") == 0) {
      assert_int_equal(a->access->owner_uid, geteuid());
      assert_int_equal(a->access->group_gid, getegid());
      seen++;
    } else if (strcmp(a->name, "team") == 0) {
      assert_int_equal(a->access->owner_uid, geteuid());
      assert_int_equal(a->access->group_gid, GROUP);
      seen++;
    }
  }
  assert_int_equal(seen, 2);
  it_resp_free(l);
  private_off = it_alloc_ok(c, "private", 100);
  readable_off = it_alloc_ok(c, "readable", 4096);
  int fd;
  Arenad__Response *r = it_call(c, it_req_attach("readable", false), &fd);
  it_assert_status(r, OK);
  it_resp_free(r);
  uint8_t *p = mmap(NULL, MiB, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  assert_true(p != MAP_FAILED);
  close(fd);
  for (int i = 0; i < 4096; i++)
    p[readable_off + (uint64_t)i] = (uint8_t)(i ^ 0x5a);
  munmap(p, MiB);
  /* Even an arena whose mode gives its owner nothing. */
  uint64_t off = it_alloc_ok(c, "ownerless", 10);
  it_free_ok(c, "ownerless", off);
  it_check_ok(c, "private");
  root_ = c; /* stays open: the blocks are held until the daemon stops */
}

static int nobody_requests(void *arg) {
  (void)arg;
  int step = 0;
  it_conn_t *c = it_connect(it_group.sock);
  it_hello_ok(c);
  /* Like a directory listing: every arena, with its access, even those
   * nobody may not read. */
  step++;
  Arenad__Response *l = it_call(c, it_req_list(), NULL);
  if (l->status != OK || l->list->n_arenas != 6 ||
      strcmp(l->list->arenas[3]->name, "private") != 0 ||
      l->list->arenas[3]->access->mode != 0600)
    return step;
  it_resp_free(l);
  EXPECT(c, it_req_stats(), OK);
  /* private (0600, root's): nothing. */
  EXPECT(c, it_req_attach("private", true), DENIED);
  EXPECT(c,
         it_req_inspect("private", ARENAD__INSPECT_WHAT__INSPECT_SUMMARY, 0, 0),
         DENIED);
  EXPECT(c, it_req_check("private"), DENIED);
  EXPECT(c, it_req_alloc("private", 10, 0, 1, false), DENIED);
  EXPECT(c, it_req_free("private", &private_off, 1), DENIED);
  EXPECT(c, it_req_retain("private", private_off), DENIED);
  /* readable (0644): read, not write. */
  EXPECT(c, it_req_attach("readable", false), DENIED);
  EXPECT(c, it_req_alloc("readable", 10, 0, 1, true), DENIED);
  EXPECT(c, it_req_free("readable", &readable_off, 1), DENIED);
  EXPECT(c,
         it_req_inspect("readable", ARENAD__INSPECT_WHAT__INSPECT_BLOCKS, 0, 0),
         OK);
  EXPECT(c, it_req_check("readable"), OK);
  EXPECT(c, it_req_retain("readable", readable_off), OK); /* keeps it alive */
  EXPECT(c, it_req_release("readable", readable_off), OK);
  /* open (0666): everything. */
  EXPECT(c, it_req_attach("open", false), OK);
  uint64_t off;
  EXPECT_ALLOC(c, "open", off);
  EXPECT(c, it_req_free("open", &off, 1), OK);
  /* The message says what was needed. */
  Arenad__Response *r =
      it_call(c, it_req_alloc("readable", 10, 0, 1, false), NULL);
  step++;
  if (strstr(r->message, "needs write access") == NULL ||
      strstr(r->message, "mode 0644") == NULL)
    return step;
  it_resp_free(r);
  it_close(c);
  return 0;
}

static void test_other_user(void **state) {
  (void)state;
  it_conn_t *c = it_connect(it_group.sock);
  Arenad__Response *r = it_call(c, it_req_stats(), NULL);
  uint64_t denied = r->stats->permission_denied;
  uint64_t errors = r->stats->errors->permission_denied;
  it_resp_free(r);

  assert_int_equal(it_run_as(NOBODY, NOBODY, NULL, 0, nobody_requests, NULL),
                   0);
  it_barrier(c);

  /* Counted per arena and daemon-wide: 6 on private, 4 on readable. */
  r = it_call(
      c, it_req_inspect("private", ARENAD__INSPECT_WHAT__INSPECT_SUMMARY, 0, 0),
      NULL);
  assert_int_equal(r->inspect->summary->permission_denied, 6);
  assert_non_null(r->inspect->summary->access);
  assert_int_equal(r->inspect->summary->access->mode, 0600);
  assert_int_equal(r->inspect->summary->access->owner_uid, getuid());
  it_resp_free(r);
  r = it_call(
      c,
      it_req_inspect("readable", ARENAD__INSPECT_WHAT__INSPECT_SUMMARY, 0, 0),
      NULL);
  assert_int_equal(r->inspect->summary->permission_denied, 4);
  it_resp_free(r);
  r = it_call(c, it_req_stats(), NULL);
  assert_int_equal(r->stats->permission_denied, denied + 10);
  assert_int_equal(r->stats->errors->permission_denied, errors + 10);
  it_resp_free(r);

  /* The audit trail: the other user in, refused, out. */
  const char *accept[] = {" info accept ", " uid=65534 ", NULL};
  const char *deny[] = {" warn denied ",       " uid=65534 ",
                        " request=alloc ",     " arena=private ",
                        " reason=need-write ", NULL};
  const char *deny_ro[] = {" warn denied ", " request=attach ",
                           " arena=readable ", " reason=need-read-write ",
                           NULL};
  const char *closed[] = {" info close ", " uid=65534 ", NULL};
  assert_true(it_log_line(&it_group, accept));
  assert_true(it_log_line(&it_group, deny));
  assert_true(it_log_line(&it_group, deny_ro));
  assert_true(it_log_line(&it_group, closed));
  it_close(c);
}

/* ---- Groups ---------------------------------------------------------------
 */

static int team_member(void *arg) {
  bool member = *(const bool *)arg;
  int want = member ? OK : DENIED;
  int step = 0;
  it_conn_t *c = it_connect(it_group.sock);
  it_hello_ok(c);
  EXPECT(c, it_req_attach("team", false), want);
  EXPECT(c, it_req_alloc("team", 10, 0, 1, true), want);
  /* ownerless: uid 5000 is its owner, whose bits are 0; the group's
   * (rwx) do not apply to the owner. */
  EXPECT(c, it_req_attach("ownerless", true), DENIED);
  EXPECT(c, it_req_alloc("ownerless", 10, 0, 1, false), DENIED);
  it_close(c);
  return 0;
}

static int ownerless_group(void *arg) {
  (void)arg;
  int step = 0;
  it_conn_t *c = it_connect(it_group.sock);
  it_hello_ok(c);
  EXPECT(c, it_req_attach("ownerless", false), OK);
  uint64_t off;
  EXPECT_ALLOC(c, "ownerless", off);
  EXPECT(c, it_req_free("ownerless", &off, 1), OK);
  it_close(c);
  return 0;
}

static void test_groups(void **state) {
  (void)state;
  const uint32_t team[] = {27, GROUP};
  bool yes = true, no = false;
  /* A supplementary group: SO_PEERGROUPS. */
  assert_int_equal(it_run_as(USER, USER, team, 2, team_member, &yes), 0);
  /* The primary group. */
  assert_int_equal(it_run_as(USER, GROUP, NULL, 0, team_member, &yes), 0);
  assert_int_equal(it_run_as(USER, USER, NULL, 0, team_member, &no), 0);
  /* More than 64 supplementary groups, the team's among the last: the
   * daemon's first SO_PEERGROUPS read is too small and it reads again. */
  uint32_t many[100];
  for (uint32_t i = 0; i < 100; i++)
    many[i] = 20000 + i;
  many[89] = GROUP;
  assert_int_equal(it_run_as(USER, USER, many, 100, team_member, &yes), 0);
  many[89] = 20089;
  assert_int_equal(it_run_as(USER, USER, many, 100, team_member, &no), 0);
  /* Another user in the group gets the group's bits on ownerless. */
  assert_int_equal(
      it_run_as(USER + 1, USER + 1, team, 2, ownerless_group, NULL), 0);
  it_conn_t *c = it_connect(it_group.sock);
  it_hello_ok(c);
  it_check_ok(c, "team");
  it_close(c);
}

/* ---- Blocks: references and access, apart --------------------------------
 */

/* Root's blocks and token for drop_requests. */
typedef struct blocks_s {
  uint64_t held;        /* in drop, held by root's connection */
  uint64_t detached;    /* in drop */
  uint64_t ro_detached; /* in readable */
  uint64_t token;       /* of root's connection */
  uint64_t given;       /* set by the child: the block it transferred to root */
} blocks_t;

/* As nobody, on drop (mode 0602: write, no read) and readable (0644: read,
 * no write): what needs access and what needs a reference, one by one. */
static int drop_requests(void *arg) {
  blocks_t *b = arg;
  int step = 0;
  it_conn_t *c = it_connect(it_group.sock);
  it_hello_ok(c);
  EXPECT(c, it_req_ping(), OK); /* open to all */
  uint64_t own;
  EXPECT_ALLOC(c, "drop", own); /* write */
  /* Retain needs read, even of one's own block; so do inspect, check and
   * a read-only attach; a read-write attach needs both. */
  step++;
  Arenad__Response *r = it_call(c, it_req_retain("drop", own), NULL);
  if (r->status != DENIED ||
      strstr(r->message,
             "retain on arena 'drop' needs read access; the arena is mode "
             "0602, owner 0, group 0") == NULL)
    return step;
  it_resp_free(r);
  EXPECT(c, it_req_inspect("drop", ARENAD__INSPECT_WHAT__INSPECT_SUMMARY, 0, 0),
         DENIED);
  EXPECT(c, it_req_check("drop"), DENIED);
  EXPECT(c, it_req_attach("drop", true), DENIED);
  EXPECT(c, it_req_attach("drop", false), DENIED);
  /* Release needs a reference and no access: its own block goes. */
  EXPECT(c, it_req_release("drop", own), OK);
  /* Transfer too, for the sender: root's connection may read drop. */
  EXPECT_ALLOC(c, "drop", b->given);
  EXPECT(c, it_req_transfer("drop", b->given, b->token), OK);
  /* Write is not enough for another's block: free, release and transfer
   * need a reference. */
  EXPECT(c, it_req_free("drop", &b->held, 1), DENIED);
  EXPECT(c, it_req_release("drop", b->held), DENIED);
  EXPECT(c, it_req_transfer("drop", b->held, b->token), DENIED);
  /* Without read access, release and transfer of an offset it holds no
   * reference to get one answer whether a block lives there (held) or not
   * (inside it): probing tells nothing of drop's blocks. */
  const uint64_t probes[] = {b->held, b->held + 16};
  for (int i = 0; i < 4; i++) {
    step++;
    uint64_t off = probes[i % 2];
    r = it_call(c,
                i < 2 ? it_req_release("drop", off)
                      : it_req_transfer("drop", off, b->token),
                NULL);
    char want[160];
    snprintf(want, sizeof want,
             "%s of offset %llu in arena 'drop' needs a reference to a block "
             "there, and this connection holds none",
             i < 2 ? "release" : "transfer", (unsigned long long)off);
    if (r->status != DENIED || strcmp(r->message, want) != 0)
      return step;
    it_resp_free(r);
  }
  /* A detached block: write suffices to free it, read does not. */
  EXPECT(c, it_req_free("readable", &b->ro_detached, 1), DENIED);
  EXPECT(c, it_req_free("drop", &b->detached, 1), OK);
  /* A reader may keep the detached block alive, and let it go. */
  EXPECT(c, it_req_retain("readable", b->ro_detached), OK);
  EXPECT(c, it_req_release("readable", b->ro_detached), OK);
  it_close(c);
  return 0;
}

static void test_block_rules(void **state) {
  (void)state;
  /* blocks_t lives in shared memory: the child stores `given` there. */
  blocks_t *b = mmap(NULL, sizeof(*b), PROT_READ | PROT_WRITE,
                     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  assert_true(b != MAP_FAILED);
  it_conn_t *c = it_connect(it_group.sock);
  it_hello_id(c, &b->token, NULL);
  b->held = it_alloc_ok(c, "drop", 10);
  Arenad__Response *r = it_call(c, it_req_alloc("drop", 10, 0, 1, true), NULL);
  it_assert_status(r, OK);
  b->detached = r->alloc->offsets[0];
  it_resp_free(r);
  r = it_call(c, it_req_alloc("readable", 10, 0, 1, true), NULL);
  it_assert_status(r, OK);
  b->ro_detached = r->alloc->offsets[0];
  it_resp_free(r);
  uint64_t drop = it_summary_stat(c, "drop", "permission_denied"),
           readable = it_summary_stat(c, "readable", "permission_denied"),
           daemon = it_stat(c, "permission_denied");

  assert_int_equal(it_run_as(NOBODY, NOBODY, NULL, 0, drop_requests, b), 0);
  it_barrier(c);

  /* Refused in drop: retain, inspect, check, two attaches, the free,
   * release and transfer of root's block, and the four probes; in
   * readable: the free. */
  assert_int_equal(it_summary_stat(c, "drop", "permission_denied"), drop + 12);
  assert_int_equal(it_summary_stat(c, "readable", "permission_denied"),
                   readable + 1);
  assert_int_equal(it_stat(c, "permission_denied"), daemon + 13);
  /* (No log line is looked for: the group's earlier tests spent the
   * second's burst of 20 denied lines.) */
  /* Root passes every access check, but a reference is no access: the
   * block of another connection, root's too, is refused to it. */
  it_conn_t *other = it_connect(it_group.sock);
  uint64_t other_token;
  it_hello_id(other, &other_token, NULL);
  uint64_t theirs = it_alloc_ok(other, "drop", 10);
  /* The refusal is about a reference, and says so: the block, that the
   * connection holds none, and how to get one; not the arena's access. */
  const char *kinds[] = {"free", "release", "transfer"};
  for (size_t i = 0; i < 3; i++) {
    /* One request at a time: it_req_* builds in one static request. */
    Arenad__Request *req = i == 0 ? it_req_free("drop", &theirs, 1)
                           : i == 1
                               ? it_req_release("drop", theirs)
                               : it_req_transfer("drop", theirs, other_token);
    char want[256];
    snprintf(want, sizeof(want),
             "%s of the block at %llu in arena 'drop' needs a reference to "
             "it, and this connection holds none (other connections hold "
             "it); a connection gets one by alloc, by retain (read access) "
             "or by a transfer from a holder, not by access alone",
             kinds[i], (unsigned long long)theirs);
    r = it_call(c, req, NULL);
    it_assert_status(r, DENIED);
    if (strcmp(r->message, want) != 0)
      fail_msg("'%s' is not '%s'", r->message, want);
    it_resp_free(r);
  }
  assert_int_equal(it_summary_stat(c, "drop", "permission_denied"), drop + 15);
  /* A detached block no connection holds: the refusal says what frees it. */
  r = it_call(c, it_req_release("readable", b->ro_detached), NULL);
  it_assert_status(r, DENIED);
  if (strstr(r->message, "this connection holds none (it is detached: a "
                         "free with write access drops the detached "
                         "reference)") == NULL)
    fail_msg("'%s' does not say the block is detached", r->message);
  it_resp_free(r);
  it_free_ok(other, "drop", theirs);
  it_close(other);
  /* The transferred block is root's now, its own block still there, the
   * detached one of drop gone and that of readable still detached. */
  it_free_ok(c, "drop", b->given);
  it_free_ok(c, "drop", b->held);
  r = it_call(c, it_req_free("drop", &b->detached, 1), NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_INVALID_ARGUMENT);
  it_resp_free(r);
  it_free_ok(c, "readable", b->ro_detached);
  assert_int_equal(it_live_blocks(c, "drop"), 0);
  it_check_ok(c, "drop");
  it_close(c);
  munmap(b, sizeof(*b));
}

/* ---- Read-only attach ------------------------------------------------------
 */

/* Writes one byte at p in a grandchild; returns the signal that killed it,
 * or 0. */
static int write_kills(volatile uint8_t *p) {
  pid_t pid = fork();
  if (pid < 0)
    return -1;
  if (pid == 0) {
    signal(SIGSEGV, SIG_DFL); /* not a sanitizer's report: the signal */
    *p = 1;
    _exit(0);
  }
  int st;
  if (waitpid(pid, &st, 0) != pid)
    return -1;
  return WIFSIGNALED(st) ? WTERMSIG(st) : 0;
}

static int read_only_raw(void *arg) {
  (void)arg;
  it_conn_t *c = it_connect(it_group.sock);
  it_hello_ok(c);
  int fd;
  Arenad__Response *r = it_call(c, it_req_attach("readable", true), &fd);
  if (r->status != OK || !r->attach->read_only || fd < 0)
    return 1;
  it_resp_free(r);
  if ((fcntl(fd, F_GETFL) & O_ACCMODE) != O_RDONLY)
    return 2;
  /* A writable shared mapping of it fails. */
  errno = 0;
  if (mmap(NULL, MiB, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) !=
          MAP_FAILED ||
      (errno != EACCES && errno != EPERM))
    return 3;
  uint8_t *p = mmap(NULL, MiB, PROT_READ, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED)
    return 4;
  for (int i = 0; i < 4096; i++)
    if (p[readable_off + (uint64_t)i] != (uint8_t)(i ^ 0x5a))
      return 5;
  /* Nor can the mapping be made writable, or the file opened again for
   * writing through /proc (the memfd is the daemon's, mode 0600). */
  if (mprotect(p, MiB, PROT_READ | PROT_WRITE) == 0)
    return 6;
  char path[64];
  snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
  int rw = open(path, O_RDWR);
  if (getuid() != 0 && (rw >= 0 || errno != EACCES))
    return 7;
  if (rw >= 0)
    close(rw); /* root may: it could write the daemon's memory anyway */
  /* A write through the mapping: SIGSEGV. */
  if (write_kills(p + readable_off) != SIGSEGV)
    return 8;
  munmap(p, MiB);
  close(fd);
  it_close(c);
  return 0;
}

/* The same through the client library: ARENAD_ATTACH_READ_ONLY maps it
 * read-only; a writable attach is refused to a reader. */
static int read_only_library(void *arg) {
  (void)arg;
  arenad_t *h;
  if (arenad_connect(it_group.sock, &h) < 0 || arenad_hello(h, "ro", NULL) < 0)
    return 1;
  if (arenad_attach(h, "readable", 0, NULL) != AR_EPERM)
    return 2;
  arenad_map_t map;
  if (arenad_attach(h, "readable", ARENAD_ATTACH_READ_ONLY, &map) < 0 ||
      !map.read_only)
    return 3;
  const uint8_t *p = arenad_ptr(h, "readable", readable_off);
  if (p == NULL || p[7] != (7 ^ 0x5a))
    return 4;
  if (write_kills((volatile uint8_t *)p) != SIGSEGV)
    return 5;
  arenad_close(h);
  return 0;
}

static void test_read_only_attach(void **state) {
  (void)state;
  assert_int_equal(it_run_as(NOBODY, NOBODY, NULL, 0, read_only_raw, NULL), 0);
  assert_int_equal(it_run_as(NOBODY, NOBODY, NULL, 0, read_only_library, NULL),
                   0);
  /* Root too gets a descriptor that refuses writable mappings (root could
   * open the memfd again for writing: for it read-only is a guard against
   * mistakes). */
  assert_int_equal(read_only_raw(NULL), 0);
  it_close(root_); /* its blocks go */
}

/* Where test_root_without_override's child connects, and the token of
 * root's connection there. */
typedef struct handover_s {
  const char *sock;
  uint64_t token;
  uint64_t given; /* set by the child: the block of "shown" it gave root */
} handover_t;

/* As uid 5000, the owner of "theirs": allocates there and may not hand
 * the block to root's connection, which cannot read the arena; the block
 * stays its own. Root may read "shown" (as other, 04): a block of it may
 * be handed to root, whose write access does not matter. */
static int transfer_to_root(void *arg) {
  handover_t *h = arg;
  int step = 0;
  it_conn_t *c = it_connect(h->sock);
  it_hello_ok(c);
  uint64_t off;
  EXPECT_ALLOC(c, "theirs", off);
  Arenad__Response *r =
      it_call(c, it_req_transfer("theirs", off, h->token), NULL);
  step++;
  if (r->status != DENIED ||
      strstr(r->message, "may not read arena 'theirs'") == NULL)
    return step;
  it_resp_free(r);
  EXPECT(c, it_req_free("theirs", &off, 1), OK);
  EXPECT_ALLOC(c, "shown", h->given);
  EXPECT(c, it_req_transfer("shown", h->given, h->token), OK);
  it_close(c);
  return 0;
}

/* As uid 5000 again: no admin, and the refusal names who may create
 * arenas, which is not root when root_override is 0. */
static int create_refused(void *arg) {
  const handover_t *h = arg;
  it_conn_t *c = it_connect(h->sock);
  it_hello_ok(c);
  Arenad__Response *r = it_call(
      c,
      it_req_create("mine", 1 << 20, ARENAD__POLICY__POLICY_FIRST, NULL, 0, 0),
      NULL);
  bool ok = r->status == DENIED &&
            strstr(r->message, "create_arena is allowed to the daemon's uid "
                               "(0); this connection is uid 5000") != NULL;
  it_resp_free(r);
  it_close(c);
  return ok ? 0 : 1;
}

/* With root_override = 0 root is a uid like any other: another user's
 * arenas give it the other class's bits, refusals counted as any, and a
 * block of an arena it cannot read cannot be transferred to it. Only
 * root can see the difference. */
static void test_root_without_override(void **state) {
  (void)state;
  if (getuid() != 0)
    skip();
  it_daemon_t d = {0};
  it_daemon_prepare(&d);
  it_daemon_open_to_all(&d); /* for uid 5000 */
  assert_int_equal(it_daemon_start(&d,
                                   "[daemon]\nroot_override = 0\n"
                                   "socket_mode = 0666\n"
                                   "[arena theirs]\nsize = 1M\n"
                                   "owner = 5000\ngroup = 4242\n"
                                   "[arena shown]\nsize = 1M\n"
                                   "owner = 5000\ngroup = 4242\nmode = 0604\n",
                                   NULL),
                   0);
  it_conn_t *c = it_connect(d.sock);
  /* In shared memory: transfer_to_root stores `given` there. */
  handover_t *hp = mmap(NULL, sizeof(*hp), PROT_READ | PROT_WRITE,
                        MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  assert_true(hp != MAP_FAILED);
  handover_t h = {d.sock, 0, 0};
  it_hello_id(c, &h.token, NULL);
  *hp = h;
  assert_int_equal(it_status(c, it_req_alloc("theirs", 10, 0, 1, false)),
                   DENIED);
  assert_int_equal(it_status(c, it_req_attach("theirs", true)), DENIED);
  assert_int_equal(
      it_status(c, it_req_inspect("shown",
                                  ARENAD__INSPECT_WHAT__INSPECT_SUMMARY, 0, 0)),
      OK);
  assert_int_equal(it_status(c, it_req_attach("shown", true)), OK);
  assert_int_equal(it_status(c, it_req_alloc("shown", 10, 0, 1, false)),
                   DENIED);
  assert_int_equal(it_stat(c, "permission_denied"), 3);
  assert_int_equal(it_run_as(USER, USER, NULL, 0, transfer_to_root, hp), 0);
  assert_int_equal(it_stat(c, "permission_denied"), 4);
  /* Root holds the block of "shown" now: without write it may not free
   * it, but its reference is its own to release. */
  assert_int_equal(it_status(c, it_req_free("shown", &hp->given, 1)), DENIED);
  assert_int_equal(it_stat(c, "permission_denied"), 5);
  assert_int_equal(it_status(c, it_req_release("shown", hp->given)), OK);
  assert_int_equal(it_live_blocks(c, "shown"), 0);
  /* Root is no admin by itself here, but the daemon runs as root and its
   * own uid is always an admin. */
  assert_int_equal(getuid(), 0);
  assert_int_equal(
      it_status(c, it_req_create("roots", 1 << 20, ARENAD__POLICY__POLICY_FIRST,
                                 NULL, 0, 0)),
      OK);
  assert_int_equal(it_status(c, it_req_destroy("roots", false)), OK);
  assert_int_equal(it_run_as(USER, USER, NULL, 0, create_refused, hp), 0);
  const char *line[] = {" warn denied ",
                        " uid=5000 ",
                        " request=transfer ",
                        " arena=theirs ",
                        " reason=target-cannot-read ",
                        NULL};
  assert_true(it_log_line(&d, line));
  it_close(c);
  munmap(hp, sizeof(*hp));
  assert_int_equal(it_daemon_stop(&d, SIGTERM), 0);
  it_daemon_cleanup(&d);
}

/* ---- The daemon's own uid ---------------------------------------------------
 */

#define DAEMON_UID 6000u /* the daemon runs as this uid and gid */

/* What test_daemon_uid's children connect to and expect. */
typedef struct daemon_uid_s {
  const char *sock;
  const char *refusal; /* of create_arena to uid 5000 */
} daemon_uid_t;

/* As the daemon's uid: an owner like any other (no override over the
 * arenas), and an admin. */
static int as_daemon_uid(void *arg) {
  const daemon_uid_t *t = arg;
  int step = 0;
  it_conn_t *c = it_connect(t->sock);
  it_hello_ok(c);
  uint64_t off;
  EXPECT_ALLOC(c, "own", off); /* the daemon's by default, 0600 */
  EXPECT(c, it_req_free("own", &off, 1), OK);
  EXPECT(c, it_req_alloc("theirs", 10, 0, 1, false), DENIED);
  EXPECT(c, it_req_attach("theirs", true), DENIED);
  EXPECT(c,
         it_req_inspect("theirs", ARENAD__INSPECT_WHAT__INSPECT_SUMMARY, 0, 0),
         DENIED);
  /* Its own arena of mode 0066: the owner's bits alone. */
  EXPECT(c, it_req_attach("shut", true), DENIED);
  EXPECT(c,
         it_req_create("daemons", 1 << 20, ARENAD__POLICY__POLICY_FIRST, NULL,
                       0, 0),
         OK);
  EXPECT(c, it_req_destroy("daemons", false), OK);
  it_close(c);
  return 0;
}

/* As uid 5000, the owner of "theirs": no admin. */
static int as_owner(void *arg) {
  const daemon_uid_t *t = arg;
  int step = 0;
  it_conn_t *c = it_connect(t->sock);
  it_hello_ok(c);
  uint64_t off;
  EXPECT_ALLOC(c, "theirs", off);
  EXPECT(c, it_req_free("theirs", &off, 1), OK);
  step++;
  Arenad__Response *r = it_call(
      c,
      it_req_create("mine", 1 << 20, ARENAD__POLICY__POLICY_FIRST, NULL, 0, 0),
      NULL);
  if (r->status != DENIED || strstr(r->message, t->refusal) == NULL)
    return step;
  it_resp_free(r);
  it_close(c);
  return 0;
}

/* A daemon running as uid 6000, with root_override 1 and 0: its uid gets
 * the owner's bits of its arenas and no others, and may create and
 * destroy arenas; root may do everything with the override, and, without
 * it, has the other class's bits and is no admin (the daemon is not
 * root). */
static void test_daemon_uid(void **state) {
  (void)state;
  if (getuid() != 0)
    skip();
  static const struct {
    int root_override;
    int root_want;   /* root's alloc in "theirs", create and destroy */
    uint64_t denied; /* refusals counted daemon-wide in the end */
    const char *refusal;
    const char *root_refusal; /* of root's create, when refused */
  } cases[] = {
      {1, OK, 5,
       "create_arena is allowed to root, the daemon's uid (6000); this "
       "connection is uid 5000",
       NULL},
      {0, DENIED, 8,
       "create_arena is allowed to the daemon's uid (6000); this connection "
       "is uid 5000",
       "create_arena is allowed to the daemon's uid (6000); this connection "
       "is uid 0"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char conf[512];
    snprintf(conf, sizeof(conf),
             "[daemon]\nroot_override = %d\nsocket_mode = 0666\n"
             "[arena own]\nsize = 1M\n"
             "[arena shut]\nsize = 1M\nmode = 0066\n"
             "[arena theirs]\nsize = 1M\nowner = 5000\ngroup = 4242\n",
             cases[i].root_override);
    it_daemon_t d = {0};
    it_daemon_prepare(&d);
    d.run_uid = DAEMON_UID;
    d.run_gid = DAEMON_UID;
    it_daemon_open_to_all(&d);
    assert_int_equal(it_daemon_start(&d, conf, NULL), 0);
    daemon_uid_t t = {d.sock, cases[i].refusal};
    assert_int_equal(
        it_run_as(DAEMON_UID, DAEMON_UID, NULL, 0, as_daemon_uid, &t), 0);
    assert_int_equal(it_run_as(USER, USER, NULL, 0, as_owner, &t), 0);

    it_conn_t *c = it_connect(d.sock);
    it_hello_ok(c);
    Arenad__Response *r =
        it_call(c, it_req_alloc("theirs", 10, 0, 1, false), NULL);
    it_assert_status(r, cases[i].root_want);
    it_resp_free(r);
    r = it_call(c,
                it_req_create("roots", 1 << 20, ARENAD__POLICY__POLICY_FIRST,
                              NULL, 0, 0),
                NULL);
    it_assert_status(r, cases[i].root_want);
    if (cases[i].root_refusal != NULL &&
        strstr(r->message, cases[i].root_refusal) == NULL)
      fail_msg("'%s' does not say '%s'", r->message, cases[i].root_refusal);
    it_resp_free(r);
    /* Made by root (with the override), or by no one: "own" stands in. */
    assert_int_equal(
        it_status(c, it_req_destroy(cases[i].root_want == OK ? "roots" : "own",
                                    true)),
        cases[i].root_want);
    assert_int_equal(it_stat(c, "permission_denied"), cases[i].denied);
    it_close(c);
    assert_int_equal(it_daemon_stop(&d, SIGTERM), 0);
    it_daemon_cleanup(&d);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_root_may_everything),
      cmocka_unit_test(test_other_user),
      cmocka_unit_test(test_groups),
      cmocka_unit_test(test_block_rules),
      cmocka_unit_test(test_read_only_attach),
      cmocka_unit_test(test_root_without_override),
      cmocka_unit_test(test_daemon_uid),
      cmocka_unit_test(it_test_exits_cleanly),
  };
  it_group_config = config;
  it_group_open = true; /* other users connect */
  return cmocka_run_group_tests(tests, it_group_setup, it_group_teardown);
}
