/*
 * test_arenactl_client_blocks.c: arenactl's commands on blocks against a
 * real arenad, run as a program (arenactl_harness.h): alloc (all or none,
 * also across several requests: split at max_blocks_per_request, what was
 * made given back when the daemon refuses part way or the offsets cannot
 * be written, and the blocks that giving back left named, from a fake
 * daemon), free (one message for each bad offset,
 * a warning for each block it freed whose header another process had
 * overwritten) and inspect (paged: the daemon's pages are made small
 * here, so a listing of more than three extents takes several requests,
 * which the daemon's requests.inspect counts; a piece of a listing with
 * --from and --limit; sizes in their unit), with
 * JSON that parses (jansson) with the figures the daemon holds.
 */
#include "arenactl_harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "ar/engine.h"
#include "asan.h"

/* One of the daemon's counters so far, by its StatsReply name. */
static uint64_t daemon_stat(const char *name) {
  it_conn_t *c = it_connect(daemon_.sock);
  uint64_t n = it_stat(c, name);
  it_close(c);
  return n;
}

/* The daemon's count of inspect requests so far. */
static uint64_t inspects(void) { return daemon_stat("requests.inspect"); }

/* The payloads of the blocks an inspect --json listed under key. */
static size_t listed(json_t *j, const char *key, uint64_t *payloads,
                     size_t max) {
  json_t *arr = json_object_get(j, key);
  assert_true(json_is_array(arr));
  size_t n = 0, i;
  json_t *e;
  json_array_foreach(arr, i, e) {
    if (json_is_true(json_object_get(e, "free")))
      continue;
    assert_true(n < max);
    payloads[n++] = (uint64_t)json_integer_value(json_object_get(e, "payload"));
  }
  return n;
}

static void test_alloc_inspect_free(void **state) {
  (void)state;
  run_t *r = RUN("alloc", "alpha", "100", "--count", "7");
  expect_status(r, 0);
  uint64_t offs[7];
  char *p = r->out;
  for (int i = 0; i < 7; i++)
    offs[i] = strtoull(p, &p, 10);
  assert_int_equal(offs[0], 16);
  assert_int_equal(offs[6], 16 + 6 * 128);

  /* Seven blocks and the free tail: three pages of at most 3
   * (default_page), each a request; so are the seven detached ones; the
   * free list (the tail) takes one, and so does the summary. */
  uint64_t before = inspects();
  r = RUN("inspect", "alpha", "--blocks", "--free-list", "--detached",
          "--json");
  expect_status(r, 0);
  assert_int_equal(inspects() - before, 1 + 1 + 3 + 3);
  json_t *j = parse(r);
  json_t *sum = json_object_get(j, "summary");
  assert_int_equal(json_integer_value(json_object_get(sum, "live_blocks")), 7);
  assert_int_equal(json_integer_value(json_object_get(sum, "detached_blocks")),
                   7);
  assert_int_equal(json_array_size(json_object_get(j, "blocks")), 8);
  assert_int_equal(json_array_size(json_object_get(j, "free_list")), 1);
  uint64_t got[16];
  assert_int_equal(listed(j, "blocks", got, 16), 7);
  assert_memory_equal(got, offs, sizeof offs);
  assert_int_equal(listed(j, "detached", got, 16), 7);
  json_t *b0 = json_array_get(json_object_get(j, "blocks"), 0);
  assert_true(json_is_true(json_object_get(b0, "detached")));
  assert_int_equal(json_integer_value(json_object_get(b0, "n")), 100);
  /* The engine's memory, as the daemon counts it: the same as an engine
   * here that made the same seven blocks. */
  ar_engine_t *e;
  assert_int_equal(ar_engine_create(AR_POLICY_FIRST, 1 << 20, NULL, &e), 0);
  for (int i = 0; i < 7; i++) {
    ar_block_t blk;
    assert_int_equal(ar_engine_alloc(e, 100, AR_ALIGN_MIN, &blk), 0);
  }
  ar_engine_stats_t st;
  ar_engine_stats(e, &st);
  ar_engine_destroy(e);
  assert_int_equal(json_integer_value(json_object_get(sum, "meta_bytes")),
                   st.meta_bytes);
  assert_int_equal(json_integer_value(json_object_get(sum, "peak_meta_bytes")),
                   st.peak_meta_bytes);
  json_decref(j);

  before = inspects();
  r = RUN("inspect", "alpha", "--blocks");
  expect_status(r, 0);
  assert_int_equal(inspects() - before, 1 + 3);
  assert_non_null(strstr(r->out, "detached"));
  assert_non_null(strstr(r->out, "live_blocks"));
  /* The next-fit rover and the buddy orders, only where they mean
   * something (JSON has them all). */
  assert_null(strstr(r->out, "rover"));
  assert_null(strstr(r->out, "max_order"));
  r = RUN("inspect", "beta");
  expect_status(r, 0);
  assert_null(strstr(r->out, "rover"));
  assert_non_null(strstr(r->out, "max_order"));
  r = RUN("inspect", "alpha", "--json");
  expect_status(r, 0);
  assert_non_null(strstr(r->out, "\"rover\""));
  assert_non_null(strstr(r->out, "\"max_order\""));
  /* The summary's every field, the daemon's own counts included. */
  json_t *all = parse(r);
  json_t *fig = json_object_get(all, "summary");
  static const char *const fields[] = {"size",
                                       "used_bytes",
                                       "free_bytes",
                                       "live_blocks",
                                       "live_requested",
                                       "overhead_bytes",
                                       "free_extents",
                                       "largest_free",
                                       "external_frag",
                                       "allocs",
                                       "frees",
                                       "failed_allocs",
                                       "bad_frees",
                                       "corruptions",
                                       "last_corrupt",
                                       "hwm",
                                       "peak_used",
                                       "peak_requested",
                                       "meta_bytes",
                                       "peak_meta_bytes",
                                       "detached_blocks",
                                       "attached_connections",
                                       "permission_denied",
                                       "quota_refused"};
  for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
    if (!json_is_number(json_object_get(fig, fields[i])))
      fail_msg("no \"%s\" in the summary: %s", fields[i], r->out);
  json_decref(all);

  /* A later invocation frees them; a second free of one fails. */
  char o[7][24];
  for (int i = 0; i < 7; i++)
    snprintf(o[i], sizeof o[i], "%llu", (unsigned long long)offs[i]);
  r = RUN("free", "alpha", o[0], o[1], o[2], o[3], o[4], o[5], o[6]);
  expect_status(r, 0);
  r = RUN("free", "alpha", o[3]);
  expect_status(r, 1);
  assert_non_null(strstr(r->err, o[3]));
  r = RUN("inspect", "alpha", "--json");
  expect_status(r, 0);
  j = parse(r);
  sum = json_object_get(j, "summary");
  assert_int_equal(json_integer_value(json_object_get(sum, "live_blocks")), 0);
  assert_int_equal(json_integer_value(json_object_get(sum, "frees")), 7);
  json_decref(j);

  /* Aligned, as JSON. */
  r = RUN("alloc", "beta", "64", "--align", "256", "--json");
  expect_status(r, 0);
  j = parse(r);
  json_t *offsets = json_object_get(j, "offsets");
  assert_int_equal(json_array_size(offsets), 1);
  uint64_t off = (uint64_t)json_integer_value(json_array_get(offsets, 0));
  assert_int_equal(off % 256, 0);
  json_decref(j);
  char os[24];
  snprintf(os, sizeof os, "0x%llx", (unsigned long long)off);
  r = RUN("free", "beta", os);
  expect_status(r, 0);
  /* With a K suffix, as sizes take. */
  r = RUN("alloc", "beta", "64", "--align", "4K", "--json");
  expect_status(r, 0);
  j = parse(r);
  assert_int_equal(json_integer_value(json_object_get(j, "align")), 4096);
  off = (uint64_t)json_integer_value(
      json_array_get(json_object_get(j, "offsets"), 0));
  assert_int_equal(off % 4096, 0);
  json_decref(j);
  snprintf(os, sizeof os, "%llu", (unsigned long long)off);
  expect_status(RUN("free", "beta", os), 0);
  /* Without --align, the JSON gives the alignment used: 16. */
  r = RUN("alloc", "beta", "64", "--json");
  expect_status(r, 0);
  j = parse(r);
  assert_int_equal(json_integer_value(json_object_get(j, "align")), 16);
  snprintf(
      os, sizeof os, "%lld",
      json_integer_value(json_array_get(json_object_get(j, "offsets"), 0)));
  json_decref(j);
  expect_status(RUN("free", "beta", os), 0);
}

/* inspect's text gives a size of 1024 bytes or more in its unit too, the
 * largest that divides it: a block of exactly 1 KiB (1008 bytes asked, and
 * the 16-byte header) is "1024 (1 KiB)", not "1024 (1024 B)" nor a bare
 * "1024"; its 1008 requested bytes, under 1 KiB, are the number alone. */
static void test_inspect_sizes(void **state) {
  (void)state;
  expect_status(RUN("alloc", "alpha", "1008"), 0);
  run_t *r = RUN("inspect", "alpha");
  expect_status(r, 0);
  if (strstr(r->out, "\nused_bytes            1024 (1 KiB)\n") == NULL ||
      strstr(r->out, "\nlive_requested        1008\n") == NULL)
    fail_msg("inspect alpha: %s", r->out);
  /* 1048560 bytes are 1023.98 KiB: one decimal rounds them to the next
   * unit up, not to "1024.0 KiB". */
  expect_status(RUN("create", "rounding", "4M", "first"), 0);
  expect_status(RUN("alloc", "rounding", "1048544"), 0);
  r = RUN("inspect", "rounding");
  expect_status(r, 0);
  if (strstr(r->out, "\nused_bytes            1048560 (1.0 MiB)\n") == NULL)
    fail_msg("inspect rounding: %s", r->out);
  expect_status(RUN("destroy", "rounding", "--force"), 0);
}

/* The live blocks and used bytes of arena `name`, from inspect --json. */
static void arena_use(const char *name, uint64_t *live, uint64_t *used) {
  run_t *r = RUN("inspect", name, "--json");
  expect_status(r, 0);
  json_t *j = parse(r);
  json_t *sum = json_object_get(j, "summary");
  *live = (uint64_t)json_integer_value(json_object_get(sum, "live_blocks"));
  *used = (uint64_t)json_integer_value(json_object_get(sum, "used_bytes"));
  json_decref(j);
}

/* alloc --count over max_blocks_per_request (4096) takes several requests;
 * all or none: when a later one fails (the 1 MiB arena fills), the blocks
 * of the earlier ones are given back. */
static void test_alloc_all_or_none(void **state) {
  (void)state;
  uint64_t live, used, live_after, used_after;
  arena_use("alpha", &live, &used);
  run_t *r = RUN("alloc", "alpha", "200", "--count", "5000"); /* 1.1 MB */
  expect_status(r, 1);
  assert_non_null(strstr(r->err, "alpha"));
  assert_string_equal(r->out, "");
  arena_use("alpha", &live_after, &used_after);
  assert_int_equal(live_after, live);
  assert_int_equal(used_after, used);
}

/* One arena for a hundred thousand blocks, walked in the daemon's default
 * pages. */
static const char many_config[] = "[arena many]\n"
                                  "size = 16M\n";

/* inspect --json prints each page as it comes: the listing of a hundred
 * thousand blocks (some 20 MB of JSON) is made in an address space of 48
 * MiB, where keeping the whole document as a tree took over 100 MiB. It
 * is the document a whole dump would print: it parses, its summary counts
 * the blocks, and its extents tile the arena in address order. Not under
 * AddressSanitizer, which reserves terabytes of address space. */
static void test_inspect_json_bounded(void **state) {
  (void)state;
  if (AR_TEST_UNDER_ASAN)
    skip();
  enum { BLOCKS = 100000 };
  out_to = "/dev/null";
  run_t *r = RUN("alloc", "many", "100", "--count", "100000");
  expect_status(r, 0);
  char path[160];
  snprintf(path, sizeof path, "%s/listing.json", daemon_.dir);
  out_to = path;
  run_address_space = UINT64_C(48) << 20;
  r = RUN("inspect", "many", "--blocks", "--json");
  expect_status(r, 0);
  json_error_t e;
  json_t *j = json_load_file(path, 0, &e);
  if (j == NULL)
    fail_msg("not JSON (%s, line %d)", e.text, e.line);
  json_t *sum = json_object_get(j, "summary");
  assert_int_equal(json_integer_value(json_object_get(sum, "live_blocks")),
                   BLOCKS);
  json_t *arr = json_object_get(j, "blocks");
  size_t i, blocks = 0;
  uint64_t end = 0;
  json_t *x;
  json_array_foreach(arr, i, x) {
    assert_int_equal(json_integer_value(json_object_get(x, "start")), end);
    end += (uint64_t)json_integer_value(json_object_get(x, "size"));
    blocks += !json_is_true(json_object_get(x, "free"));
  }
  assert_int_equal(blocks, BLOCKS);
  assert_int_equal(end, json_integer_value(json_object_get(sum, "size")));
  json_decref(j);
}

/* The lines of a text listing after its header, up to the end of out. */
static const char *rows(const run_t *r) {
  const char *h = strstr(r->out, "START ");
  assert_non_null(h);
  return strchr(h, '\n') + 1;
}

/* inspect --from and --limit: a listing that starts at an offset and
 * stops after N extents, saying where the next ones start (text: a line
 * when some remain; JSON: "<key>_next", the arena's size at the end).
 * Nineteen blocks of 128 bytes with a gap at 640, and the tail: paged by
 * fours from 0, the pages together are the whole listing. A limit over
 * the daemon's max_page (8 here) is asked for in pages of max_page,
 * which the daemon does not count as clamped. An offset past the arena,
 * and a limit of 0 or an offset that is no number, are refused. */
static void test_inspect_from_limit(void **state) {
  (void)state;
  run_t *r = RUN("alloc", "alpha", "100", "--count", "20");
  expect_status(r, 0);
  r = RUN("free", "alpha", "656");
  expect_status(r, 0);
  r = RUN("inspect", "alpha", "--blocks", "--json");
  expect_status(r, 0);
  json_t *whole = parse(r);
  json_t *all = json_object_get(whole, "blocks");
  uint64_t size = (uint64_t)json_integer_value(
      json_object_get(json_object_get(whole, "summary"), "size"));
  assert_int_equal(json_array_size(all), 21);
  assert_null(json_object_get(whole, "blocks_next"));

  size_t at = 0, pages = 0;
  char from[24] = "0";
  for (;;) {
    r = RUN("inspect", "alpha", "--blocks", "--json", "--from", from, "--limit",
            "4");
    expect_status(r, 0);
    json_t *j = parse(r);
    json_t *page = json_object_get(j, "blocks");
    assert_true(json_array_size(page) <= 4);
    size_t i;
    json_t *x;
    json_array_foreach(page, i, x) {
      assert_true(json_equal(x, json_array_get(all, at)));
      at++;
    }
    uint64_t next =
        (uint64_t)json_integer_value(json_object_get(j, "blocks_next"));
    json_decref(j);
    pages++;
    if (next == size)
      break;
    assert_true(pages < 10);
    snprintf(from, sizeof from, "%llu", (unsigned long long)next);
  }
  assert_int_equal(at, 21);
  assert_int_equal(pages, 6);
  json_decref(whole);

  /* Text: three rows, then where the next ones start. */
  r = RUN("inspect", "alpha", "--blocks", "--limit", "3");
  expect_status(r, 0);
  const char *p = rows(r);
  assert_int_equal(strncmp(p, "0 ", 2), 0);
  p = strchr(p, '\n') + 1;
  assert_int_equal(strncmp(p, "128 ", 4), 0);
  p = strchr(p, '\n') + 1;
  assert_int_equal(strncmp(p, "256 ", 4), 0);
  p = strchr(p, '\n') + 1;
  assert_string_equal(p,
                      "(stopped at --limit 3; the next extents: --from 384)\n");
  /* From the gap (a block starts 16 bytes before its payload, 656). */
  r = RUN("inspect", "alpha", "--blocks", "--free-list", "--from", "0x280",
          "--limit", "2");
  expect_status(r, 0);
  p = strstr(r->out, "blocks:");
  assert_non_null(p);
  assert_non_null(strstr(p, "\n640            128          free\n768 "));
  assert_non_null(strstr(p, "the next extents: --from 896)\n"));
  /* The free list from 640 has two extents, the gap and the tail: no
   * line says more remain. Its table has no columns for what only blocks
   * have. */
  p = strstr(r->out, "free list:");
  assert_non_null(strstr(p, "free list:\nSTART          SIZE         STATE\n"
                            "640            128          free\n"));
  assert_true(p != NULL && strstr(p, "stopped") > strstr(p, "blocks:"));

  /* 21 extents under a limit of 30: pages of 8, 8 and 5, none clamped. */
  uint64_t before = inspects(), clamped = daemon_stat("pages_clamped");
  r = RUN("inspect", "alpha", "--blocks", "--limit", "30");
  expect_status(r, 0);
  assert_null(strstr(r->out, "stopped"));
  assert_int_equal(inspects() - before, 1 + 3);
  assert_int_equal(daemon_stat("pages_clamped"), clamped);

  /* From the arena's end: nothing, and the end is next. */
  char end[24];
  snprintf(end, sizeof end, "%llu", (unsigned long long)size);
  r = RUN("inspect", "alpha", "--blocks", "--json", "--from", end, "--limit",
          "1");
  expect_status(r, 0);
  json_t *j = parse(r);
  assert_int_equal(json_array_size(json_object_get(j, "blocks")), 0);
  assert_int_equal(json_integer_value(json_object_get(j, "blocks_next")), size);
  json_decref(j);

  snprintf(end, sizeof end, "%llu", (unsigned long long)size + 1);
  r = RUN("inspect", "alpha", "--blocks", "--from", end);
  expect_status(r, 1);
  assert_string_equal(r->out, "");
  assert_non_null(strstr(r->err, "arenactl inspect: alpha: --from "));
  assert_non_null(strstr(r->err, "is past the arena's end"));
  /* The detached blocks (all 19 here): a listing that stops at the last
   * one cannot tell it was the last; the page from there is empty. */
  r = RUN("inspect", "alpha", "--detached", "--json", "--limit", "19");
  expect_status(r, 0);
  j = parse(r);
  assert_int_equal(json_array_size(json_object_get(j, "detached")), 19);
  uint64_t next =
      (uint64_t)json_integer_value(json_object_get(j, "detached_next"));
  json_decref(j);
  assert_true(next < size);
  snprintf(end, sizeof end, "%llu", (unsigned long long)next);
  r = RUN("inspect", "alpha", "--detached", "--json", "--from", end, "--limit",
          "19");
  expect_status(r, 0);
  j = parse(r);
  assert_int_equal(json_array_size(json_object_get(j, "detached")), 0);
  assert_int_equal(json_integer_value(json_object_get(j, "detached_next")),
                   size);
  json_decref(j);

  /* Refused: a limit of 0, an offset that is no number, either without a
   * listing. */
  r = RUN("inspect", "alpha", "--limit", "2");
  expect_status(r, 2);
  assert_non_null(strstr(r->err, "--from and --limit need a listing"));
  r = RUN("inspect", "alpha", "--blocks", "--limit", "0");
  expect_status(r, 2);
  assert_non_null(strstr(r->err, "invalid --limit '0'"));
  r = RUN("inspect", "alpha", "--blocks", "--from", "12x");
  expect_status(r, 2);
  assert_non_null(strstr(r->err, "invalid --from '12x'"));
}

/* A daemon that takes 3 blocks a request and holds 10 live blocks. */
static const char small_config[] = "[daemon]\n"
                                   "max_blocks_per_request = 3\n"
                                   "max_live_blocks = 10\n";

/* An alloc split into requests of 3 that the daemon refuses part way says
 * what was asked (11 blocks), how many had been made when the daemon
 * refused (9), that they were freed again, and the daemon's reason (which
 * is about the refused request: 2 more). A free of more offsets than a
 * request takes is split too. */
static void test_alloc_split_refused(void **state) {
  (void)state;
  run_t *r = RUN("alloc", "default", "16", "--count", "11");
  expect_status(r, 1);
  assert_string_equal(r->out, "");
  if (strstr(r->err, "arenactl alloc: default: cannot allocate 11 blocks "
                     "(sent in requests of up to 3): 9 had been allocated "
                     "when the daemon refused more, and were freed again: "
                     "the daemon holds 9 live blocks") == NULL ||
      strstr(r->err, "(max_live_blocks)") == NULL)
    fail_msg("stderr: %s", r->err);
  assert_int_equal(live_blocks("default"), 0);
  /* Refused at the first request: nothing to free. */
  r = RUN("alloc", "default", "16", "--count", "9");
  expect_status(r, 0);
  char off[9][24];
  int n = 0;
  for (char *line = strtok(r->out, "\n"); line != NULL && n < 9;
       line = strtok(NULL, "\n"))
    snprintf(off[n++], sizeof off[0], "%s", line);
  assert_int_equal(n, 9);
  r = RUN("alloc", "default", "16", "--count", "4");
  expect_status(r, 1);
  assert_non_null(strstr(r->err, "cannot allocate 4 blocks (sent in requests "
                                 "of up to 3): the daemon refused the first "
                                 "request: "));
  assert_int_equal(live_blocks("default"), 9);
  /* A count that fits in one request: the daemon's reason alone. */
  r = RUN("alloc", "default", "16", "--count", "3");
  expect_status(r, 1);
  assert_non_null(strstr(r->err, "arenactl alloc: default: "));
  assert_null(strstr(r->err, "sent in requests"));
  assert_int_equal(live_blocks("default"), 9);
  /* A free of 9 offsets goes in requests of 3 too, every offset in one. */
  expect_status(RUN("free", "default", off[0], off[1], off[2], off[3], off[4],
                    off[5], off[6], off[7], off[8]),
                0);
  assert_int_equal(live_blocks("default"), 0);
}

/* The stderr of `alloc alpha 16 --count 6` against the fake daemon: the
 * block at `warned` given back with its header overwritten, and the two at
 * `kept` (offsets separated by a space) not given back. */
static void expect_give_back_failed(const run_t *r, unsigned warned,
                                    const char *kept) {
  char want[1024];
  snprintf(want, sizeof want,
           "arenactl alloc: warning: the header of the block at %u in arena "
           "alpha had been overwritten before it was given back (the daemon "
           "counted it as a corruption)\n"
           "arenactl alloc: alpha: cannot allocate 6 blocks (sent in requests "
           "of up to 2): 4 had been allocated when the daemon refused more, "
           "and freeing them again failed: the arena is full\n"
           "arenactl alloc: alpha: 2 blocks could not be given back (no such "
           "block) and may still be allocated, detached; to free them: "
           "arenactl free alpha %s\n",
           warned, kept);
  assert_string_equal(r->err, want);
}

/* When an alloc split into requests is refused part way and giving the
 * blocks back fails for the first request of the give-back but not for
 * the later one (a fake daemon), the message says that freeing them again
 * failed: the give-back's result is its first failure, which a later
 * success must not hide. */
static void test_alloc_give_back_fails(void **state) {
  (void)state;
  pid_t fake = fake_daemon(fake_path(), 1);
  run_t *r = arenactl(fake_path(), (const char *const[]){"alloc", "alpha", "16",
                                                         "--count", "6", NULL});
  expect_status(r, 1);
  assert_string_equal(r->out, "");
  /* The give-back that succeeded freed a block whose header had been
   * overwritten (the fake's blocks are at 16 + 64 i): warned of as free
   * warns, and the give-back still counts as done for that block. */
  expect_give_back_failed(r, 208, "16 80");
  fake_done(fake);
}

/* The same when the give-back's later request fails: the blocks named
 * are that request's, not the first ones offered back. */
static void test_alloc_give_back_fails_later(void **state) {
  (void)state;
  fake_failed_free = 1;
  pid_t fake = fake_daemon(fake_path(), 1);
  fake_failed_free = 0;
  run_t *r = arenactl(fake_path(), (const char *const[]){"alloc", "alpha", "16",
                                                         "--count", "6", NULL});
  expect_status(r, 1);
  expect_give_back_failed(r, 80, "144 208");
  fake_done(fake);
}

/* An alloc whose offsets could not be written gives its blocks back; the
 * blocks it cannot give back are named on standard error, with why:
 * nobody else knows their offsets. */
static void test_alloc_unwritten_give_back_fails(void **state) {
  (void)state;
  pid_t fake = fake_daemon(fake_path(), 1);
  out_to = "/dev/full";
  run_t *r = arenactl(fake_path(), (const char *const[]){"alloc", "alpha", "16",
                                                         "--count", "4", NULL});
  out_to = NULL;
  expect_status(r, 1);
  assert_string_equal(r->err,
                      "arenactl alloc: writing the output failed\n"
                      "arenactl alloc: warning: the header of the block at "
                      "208 in arena alpha had been overwritten before it was "
                      "given back (the daemon counted it as a corruption)\n"
                      "arenactl alloc: alpha: 2 blocks could not be given "
                      "back (no such block) and may still be allocated, "
                      "detached; to free them: arenactl free alpha 16 80\n");
  fake_done(fake);
}

/* A free without an arena name is a usage error. A free that fails as a
 * whole names every offset, each with the request's reason: the arena's,
 * not a code's word that would read as the block's ("not found"). */
static void test_free_without_arena_name(void **state) {
  (void)state;
  run_t *r = RUN("free", "", "16", "32");
  expect_status(r, 2);
  assert_string_equal(r->err, "arenactl free: ARENA is empty\n");
  r = RUN("free", "nosuch", "16", "32");
  expect_status(r, 1);
  assert_string_equal(r->err, "arenactl free: nosuch offset 16: no arena named "
                              "'nosuch'\n"
                              "arenactl free: nosuch offset 32: no arena named "
                              "'nosuch'\n");
}

/* An offset refused on its own after another: named for what it is, as
 * the daemon names it, not by its code's word alone. A block only another
 * connection holds is a reference refusal, not an access one. */
static void test_free_offsets_refused(void **state) {
  (void)state;
  it_conn_t *c = it_connect(daemon_.sock);
  it_hello_ok(c);
  uint64_t held = it_alloc_ok(c, "alpha", 100);
  char o[24], want[512];
  snprintf(o, sizeof o, "%llu", (unsigned long long)held);
  run_t *r = RUN("free", "alpha", "8", o, "9");
  expect_status(r, 1);
  snprintf(want, sizeof want,
           "arenactl free: alpha offset 8: offset 8 is not a live block of "
           "arena 'alpha'\n"
           "arenactl free: alpha offset %s: other connections hold the "
           "block at %s, and this one holds no reference to it\n"
           "arenactl free: alpha offset 9: offset 9 is not a live block of "
           "arena 'alpha'\n",
           o, o);
  assert_string_equal(r->err, want);
  assert_int_equal(it_live_blocks(c, "alpha"), 1);
  it_free_ok(c, "alpha", held);
  it_close(c);
}

/* The warning free gives for a block whose header was overwritten. */
static void warning_of(char *buf, size_t len, uint64_t off) {
  snprintf(buf, len,
           "arenactl free: warning: the header of the block at %llu in arena "
           "alpha had been overwritten before this free (the daemon counted "
           "it as a corruption)\n",
           (unsigned long long)off);
}

/* free frees blocks whose header another process overwrote, and says so
 * on standard error, one line a block: exit 0 when every free succeeded,
 * 1 when another offset failed (named as before); an intact block gets no
 * line. The daemon counts each once. */
static void test_free_overwritten(void **state) {
  (void)state;
  run_t *r = RUN("alloc", "alpha", "100", "--count", "4");
  expect_status(r, 0);
  uint64_t offs[4];
  char o[4][24];
  char *p = r->out;
  for (int i = 0; i < 4; i++) {
    offs[i] = strtoull(p, &p, 10);
    snprintf(o[i], sizeof o[i], "%llu", (unsigned long long)offs[i]);
  }
  it_conn_t *c = it_connect(daemon_.sock);
  it_hello_ok(c);
  uint64_t before = it_stat(c, "corruptions_detected");
  size_t size;
  uint8_t *base = it_map_arena(c, "alpha", &size);
  it_smash_header(base, offs[0], 100);
  it_smash_header(base, offs[2], 100);
  it_smash_header(base, offs[3], 100);

  char want[2][256];
  warning_of(want[0], sizeof want[0], offs[0]);
  warning_of(want[1], sizeof want[1], offs[2]);
  char both[512];
  snprintf(both, sizeof both, "%s%s", want[0], want[1]);
  r = RUN("free", "alpha", o[0], o[1], o[2]);
  expect_status(r, 0);
  assert_string_equal(r->err, both);
  assert_string_equal(r->out, "");
  assert_int_equal(it_stat(c, "corruptions_detected"), before + 2);

  /* Beside an offset that fails: both said, exit 1. */
  warning_of(want[0], sizeof want[0], offs[3]);
  r = RUN("free", "alpha", o[1], o[3]);
  expect_status(r, 1);
  assert_non_null(strstr(r->err, want[0]));
  char failed[64];
  snprintf(failed, sizeof failed, "arenactl free: alpha offset %s: ", o[1]);
  assert_non_null(strstr(r->err, failed));
  assert_non_null(strstr(r->err, "is not a live block"));
  assert_int_equal(it_stat(c, "corruptions_detected"), before + 3);
  assert_int_equal(it_live_blocks(c, "alpha"), 0);
  munmap(base, size);
  it_close(c);

  /* An intact block: no line. */
  r = RUN("alloc", "alpha", "100");
  expect_status(r, 0);
  char one[24];
  snprintf(one, sizeof one, "%llu", strtoull(r->out, NULL, 10));
  r = RUN("free", "alpha", one);
  expect_status(r, 0);
  assert_string_equal(r->err, "");

  /* The help says so. */
  r = RUN("free", "--help");
  expect_status(r, 0);
  assert_non_null(strstr(r->out, "freed all the same: a warning on standard "
                                 "error names it,\nand the exit status does "
                                 "not count it as a failure.\n"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
      T(test_alloc_inspect_free),
      T(test_inspect_sizes),
      T(test_inspect_from_limit),
      T(test_alloc_all_or_none),
      cmocka_unit_test_prestate_setup_teardown(test_inspect_json_bounded, setup,
                                               teardown, (void *)many_config),
      cmocka_unit_test_prestate_setup_teardown(test_alloc_split_refused, setup,
                                               teardown, (void *)small_config),
      T(test_alloc_give_back_fails),
      T(test_alloc_give_back_fails_later),
      T(test_alloc_unwritten_give_back_fails),
      T(test_free_without_arena_name),
      T(test_free_offsets_refused),
      T(test_free_overwritten),
#undef T
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
