/*
 * test_arenactl_client_arenas.c: arenactl's commands on arenas against a
 * real arenad, run as a program (arenactl_harness.h): list (its columns as
 * wide as the longest name), create (access, quotas, said in its text only
 * when set) and destroy (live blocks only with --force), a block's holders
 * (pid and uid in their places) and a buddy arena's summary in inspect's
 * output, the command lines they refuse, and uids past
 * INT_MAX unsigned in the JSON, which parses (jansson) with the figures
 * the daemon holds, and the JSON's two names for an arena ("name" for an
 * arena, "arena" for a command's result).
 */
#include "arenactl_harness.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void test_list(void **state) {
  (void)state;
  run_t *r = RUN("list");
  expect_status(r, 0);
  assert_non_null(strstr(r->out, "alpha"));
  assert_non_null(strstr(r->out, "buddy"));
  /* Sizes in the largest unit that divides them: 1M is "1 MiB". */
  assert_non_null(strstr(r->out, "alpha       1 MiB  first"));
  assert_non_null(strstr(r->out, "beta        2 MiB  buddy"));

  r = RUN("list", "--json");
  expect_status(r, 0);
  json_t *j = parse(r);
  assert_true(json_is_array(j));
  assert_int_equal(json_array_size(j), 2);
  json_t *a = json_array_get(j, 0);
  assert_string_equal(json_string_value(json_object_get(a, "name")), "alpha");
  assert_string_equal(json_string_value(json_object_get(a, "policy")), "first");
  assert_int_equal(json_integer_value(json_object_get(a, "size")), 1 << 20);
  json_decref(j);

  /* The NAME column is as wide as the longest name: a name longer than the
   * others widens it for every row and the header, so that the sizes stay
   * aligned under SIZE. Listed last (by name), so that every name counts. */
  static const char longer[] = "zeta-a-name-longer-than-alpha";
  int w = (int)strlen(longer);
  expect_status(RUN("create", longer, "4K", "first"), 0);
  r = RUN("list");
  expect_status(r, 0);
  char want[4][128];
  snprintf(want[0], sizeof want[0], "%-*s  %10s  POLICY", w, "NAME", "SIZE");
  snprintf(want[1], sizeof want[1], "\n%-*s  %10s  first ", w, "alpha",
           "1 MiB");
  snprintf(want[2], sizeof want[2], "\n%-*s  %10s  buddy ", w, "beta", "2 MiB");
  snprintf(want[3], sizeof want[3], "\n%s  %10s  first ", longer, "4 KiB");
  if (strncmp(r->out, want[0], strlen(want[0])) != 0 ||
      strstr(r->out, want[1]) == NULL || strstr(r->out, want[2]) == NULL ||
      strstr(r->out, want[3]) == NULL)
    fail_msg("list: %s", r->out);

  /* Names shorter than the header's keep it at its own width, 4. */
  expect_status(RUN("destroy", longer), 0);
  expect_status(RUN("destroy", "alpha"), 0);
  expect_status(RUN("destroy", "beta"), 0);
  expect_status(RUN("create", "xy", "4K", "first"), 0);
  r = RUN("list");
  expect_status(r, 0);
  if (strncmp(r->out, "NAME        SIZE  POLICY", 24) != 0 ||
      strstr(r->out, "\nxy         4 KiB  first ") == NULL)
    fail_msg("list: %s", r->out);
}

/* create and destroy, and the holders of a block in inspect's output. */
static void test_create_destroy(void **state) {
  (void)state;
  run_t *r = RUN("create", "gamma", "256K", "best", "--mode", "0640", "--owner",
                 "0", "--group", "root", "--quota-bytes", "64K",
                 "--quota-blocks", "10", "--json");
  expect_status(r, 0);
  json_t *j = parse(r);
  assert_string_equal(json_string_value(json_object_get(j, "name")), "gamma");
  assert_int_equal(json_integer_value(json_object_get(j, "size")), 256 << 10);
  assert_int_equal(json_integer_value(json_object_get(j, "quota_bytes")),
                   64 << 10);
  json_t *acc = json_object_get(j, "access");
  assert_int_equal(json_integer_value(json_object_get(acc, "mode")), 0640);
  assert_int_equal(json_integer_value(json_object_get(acc, "group_gid")), 0);
  json_decref(j);
  r = RUN("create", "delta", "64K", "first");
  expect_status(r, 0);
  assert_non_null(strstr(r->out, "created delta: 64 KiB, first, mode 0600"));
  assert_null(strstr(r->out, "quota"));
  /* The text names the quotas that were set, and only those. */
  static const struct {
    const char *bytes, *blocks, *want;
  } quotas[] = {
      {"64K", "10", ", quota 64 KiB and 10 blocks a connection\n"},
      {"1M", "0", ", quota 1 MiB a connection\n"},
      {"0", "1", ", quota 1 block a connection\n"},
  };
  for (size_t i = 0; i < sizeof quotas / sizeof quotas[0]; i++) {
    r = RUN("create", "eta", "64K", "first", "--quota-bytes", quotas[i].bytes,
            "--quota-blocks", quotas[i].blocks);
    expect_status(r, 0);
    if (strncmp(r->out, "created eta: 64 KiB, first, mode 0600", 37) != 0 ||
        strlen(r->out) < strlen(quotas[i].want) ||
        strcmp(r->out + strlen(r->out) - strlen(quotas[i].want),
               quotas[i].want) != 0)
      fail_msg("create with quotas %s and %s: %s", quotas[i].bytes,
               quotas[i].blocks, r->out);
    expect_status(RUN("destroy", "eta"), 0);
  }
  /* A next-fit arena's summary has its rover. */
  expect_status(RUN("create", "epsilon", "64K", "next"), 0);
  r = RUN("inspect", "epsilon");
  expect_status(r, 0);
  assert_non_null(strstr(r->out, "rover"));
  assert_null(strstr(r->out, "max_order"));
  expect_status(RUN("destroy", "epsilon"), 0);
  /* A buddy arena's has its order and its free blocks by order, the
   * orders that have none left out; and every size with its unit. */
  expect_status(RUN("create", "zeta", "64K", "buddy"), 0);
  r = RUN("inspect", "zeta");
  expect_status(r, 0);
  assert_non_null(strstr(r->out, "\nmax_order             16\n"));
  assert_non_null(strstr(r->out, "\nfree_by_order         16:1\n"));
  assert_non_null(strstr(r->out, "\nsize                  65536 (64 KiB)\n"));
  const char *meta = strstr(r->out, "\nmeta_bytes            ");
  assert_non_null(meta);
  char line[80];
  snprintf(line, sizeof line, "%.*s", (int)strcspn(meta + 1, "\n"), meta + 1);
  assert_non_null(strstr(line, " KiB)")); /* its own memory: over 1 KiB */
  expect_status(RUN("destroy", "zeta"), 0);
  r = RUN("list");
  expect_status(r, 0);
  assert_non_null(strstr(r->out, "QUOTA"));
  assert_non_null(strstr(r->out, "64 KiB/10"));

  /* A block held twice by one connection: its holder, with x2. */
  it_conn_t *c = it_connect(daemon_.sock);
  it_hello_ok(c);
  uint64_t off = it_alloc_ok(c, "gamma", 100);
  Arenad__Response *rr = it_call(c, it_req_retain("gamma", off), NULL);
  it_assert_status(rr, ARENAD__STATUS__STATUS_OK);
  it_resp_free(rr);
  r = RUN("inspect", "gamma", "--blocks");
  expect_status(r, 0);
  assert_non_null(strstr(r->out, "itest) x2"));
  /* The holder is this process's connection: its pid and uid. */
  char who[64];
  snprintf(who, sizeof who, "(pid %u uid %u itest) x2", (unsigned)getpid(),
           (unsigned)getuid());
  assert_non_null(strstr(r->out, who));
  r = RUN("inspect", "gamma", "--blocks", "--json");
  expect_status(r, 0);
  j = parse(r);
  json_t *b0 = json_array_get(json_object_get(j, "blocks"), 0);
  json_t *h0 = json_array_get(json_object_get(b0, "holders"), 0);
  assert_int_equal(json_integer_value(json_object_get(b0, "refcount")), 2);
  assert_int_equal(json_integer_value(json_object_get(h0, "references")), 2);
  assert_true(json_is_integer(json_object_get(b0, "holders_omitted")));
  assert_int_equal(json_integer_value(json_object_get(b0, "holders_omitted")),
                   0);
  assert_string_equal(json_string_value(json_object_get(h0, "client_name")),
                      "itest");
  assert_int_equal(json_integer_value(json_object_get(h0, "pid")), getpid());
  assert_int_equal(json_integer_value(json_object_get(h0, "uid")), getuid());
  json_int_t block_bytes = json_integer_value(json_object_get(b0, "size"));
  assert_true(block_bytes > 100);
  json_decref(j);

  /* Live blocks: only with --force. */
  r = RUN("destroy", "gamma");
  expect_status(r, 1);
  assert_non_null(strstr(r->err, "1 live block "));
  r = RUN("destroy", "gamma", "--force", "--json");
  expect_status(r, 0);
  j = parse(r);
  assert_int_equal(json_integer_value(json_object_get(j, "blocks_freed")), 1);
  assert_int_equal(json_integer_value(json_object_get(j, "bytes_freed")),
                   block_bytes);
  /* c held a block there without attaching the arena */
  assert_int_equal(
      json_integer_value(json_object_get(j, "attached_connections")), 0);
  json_decref(j);
  r = RUN("alloc", "delta", "10"); /* one detached block */
  expect_status(r, 0);
  r = RUN("destroy", "delta", "--force");
  expect_status(r, 0);
  assert_non_null(strstr(r->out, "destroyed delta: 1 block ("));
  assert_non_null(strstr(r->out, "; 0 connections had it"));
  /* One that had it attached: counted, in the singular, and in the JSON. */
  for (int json = 0; json < 2; json++) {
    expect_status(RUN("create", "theta", "64K", "first"), 0);
    int fd = -1;
    rr = it_call(c, it_req_attach("theta", false), &fd);
    it_assert_status(rr, ARENAD__STATUS__STATUS_OK);
    it_resp_free(rr);
    assert_true(fd >= 0);
    close(fd);
    if (json == 0) {
      r = RUN("destroy", "theta");
      expect_status(r, 0);
      assert_non_null(strstr(r->out, "destroyed theta: 0 blocks (0 B) freed; "
                                     "1 connection had it attached\n"));
    } else {
      r = RUN("destroy", "theta", "--json");
      expect_status(r, 0);
      j = parse(r);
      assert_int_equal(
          json_integer_value(json_object_get(j, "attached_connections")), 1);
      json_decref(j);
    }
  }
  r = RUN("create", "delta", "64K", "first");
  expect_status(r, 0);
  r = RUN("destroy", "delta");
  expect_status(r, 0);
  assert_non_null(strstr(r->out, "destroyed delta: 0 blocks"));
  r = RUN("destroy", "delta");
  expect_status(r, 1);
  it_close(c);

  /* Bad command lines. */
  expect_status(RUN("create", "x", "64K"), 2);
  expect_status(RUN("create", "x", "64K", "fastest"), 2);
  expect_status(RUN("create", "x", "64K", "first", "--mode", "0999"), 2);
  expect_status(
      RUN("create", "x", "64K", "first", "--owner", "no-such-user-here"), 2);
  expect_status(RUN("destroy"), 2);
  /* Refused by arenactl itself: ids that are no uid or gid (-1, and
   * one that 32 bits would cut to root's 0), a mode over 0777, and an
   * operand too many. */
  const char *const bad_ids[][7] = {
      {"create", "x", "64K", "first", "--owner", "4294967295"},
      {"create", "x", "64K", "first", "--owner", "4294967296"},
      {"create", "x", "64K", "first", "--group", "4294967296"},
      {"create", "x", "64K", "first", "--mode", "1777"},
  };
  for (size_t i = 0; i < sizeof bad_ids / sizeof bad_ids[0]; i++) {
    r = arenactl(daemon_.sock, bad_ids[i]);
    if (r->status != 2 || strstr(r->err, "arenactl create: invalid --") == NULL)
      fail_msg("create %s %s: status %d, stderr: %s", bad_ids[i][4],
               bad_ids[i][5], r->status, r->err);
  }
  r = RUN("create", "x", "64K", "first", "extra");
  expect_status(r, 2);
  assert_non_null(strstr(r->err, "expected ARENA, SIZE and POLICY"));
  r = RUN("create", "x", "5000", "first");
  expect_status(r, 1);
  assert_non_null(strstr(r->err, "multiple of 4096"));
}

/* uids past INT_MAX stay unsigned in the JSON. */
static void test_json_large_ids(void **state) {
  (void)state;
  expect_status(RUN("create", "big-owner", "4K", "first", "--owner",
                    "4000000000", "--group", "4000000001"),
                0);
  run_t *r = RUN("list", "--json");
  expect_status(r, 0);
  json_t *j = parse(r);
  bool seen = false;
  for (size_t i = 0; i < json_array_size(j); i++) {
    json_t *a = json_array_get(j, i);
    if (strcmp(json_string_value(json_object_get(a, "name")), "big-owner"))
      continue;
    json_t *acc = json_object_get(a, "access");
    assert_true(json_integer_value(json_object_get(acc, "owner_uid")) ==
                4000000000LL);
    assert_true(json_integer_value(json_object_get(acc, "group_gid")) ==
                4000000001LL);
    seen = true;
  }
  json_decref(j);
  assert_true(seen);
  r = RUN("inspect", "big-owner", "--json");
  expect_status(r, 0);
  j = parse(r);
  json_t *acc = json_object_get(json_object_get(j, "summary"), "access");
  assert_true(json_integer_value(json_object_get(acc, "owner_uid")) ==
              4000000000LL);
  json_decref(j);
  expect_status(RUN("destroy", "big-owner"), 0);
}

/* The string arena `j` names under `key`, or NULL; drops j. The
 * harness's run_t is overwritten by the next run, so the name is copied
 * into buf. */
static const char *named(json_t *j, const char *key, char *buf, size_t len) {
  const char *s = json_string_value(json_object_get(j, key));
  snprintf(buf, len, "%s", s != NULL ? s : "(none)");
  json_decref(j);
  return buf;
}

/* The JSON's names for an arena, as the README gives them: an object that
 * is an arena (create's, an entry of list, inspect's summary) has
 * "name"; the result of a command on one (alloc, check, destroy) has
 * "arena". */
static void test_json_arena_names(void **state) {
  (void)state;
  char buf[64];
  run_t *r = RUN("create", "delta", "64K", "next", "--json");
  expect_status(r, 0);
  assert_string_equal(named(parse(r), "name", buf, sizeof buf), "delta");
  r = RUN("list", "--json");
  expect_status(r, 0);
  json_t *j = parse(r);
  assert_true(json_array_size(j) > 0);
  size_t i;
  json_t *x;
  json_array_foreach(j, i, x) {
    assert_true(json_is_string(json_object_get(x, "name")));
    assert_null(json_object_get(x, "arena"));
  }
  json_decref(j);
  r = RUN("inspect", "delta", "--json");
  expect_status(r, 0);
  j = parse(r);
  assert_string_equal(named(json_incref(json_object_get(j, "summary")), "name",
                            buf, sizeof buf),
                      "delta");
  json_decref(j);
  r = RUN("alloc", "delta", "100", "--json");
  expect_status(r, 0);
  assert_string_equal(named(parse(r), "arena", buf, sizeof buf), "delta");
  r = RUN("check", "delta", "--json");
  expect_status(r, 0);
  assert_string_equal(named(parse(r), "arena", buf, sizeof buf), "delta");
  r = RUN("destroy", "delta", "--force", "--json");
  expect_status(r, 0);
  assert_string_equal(named(parse(r), "arena", buf, sizeof buf), "delta");
}

int main(void) {
  const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
      T(test_list),
      T(test_create_destroy),
      T(test_json_large_ids),
      T(test_json_arena_names),
#undef T
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
