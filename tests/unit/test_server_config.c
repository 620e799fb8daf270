/*
 * test_server_config.c: arenad's configuration (server/config*.c): a full
 * good file, defaults (also as --help and the example file state them),
 * command-line arenas added to the file's, the built-in arena, every
 * numeric key at its bounds, and every kind of error, each of which must
 * name the file and the line (or the command-line argument) it comes
 * from.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ar/error.h"
#include "ar/frame.h"
#include "config.h"
#include "log.h"

/* getgrnam_r, wrapped (-Wl,--wrap, tests/unit/CMakeLists.txt): the group
 * "big-group" has an entry of 64 KiB (some thousands of members), which
 * needs a buffer of that size, and "nss-down" is in a database that
 * cannot be read (EIO); other names go to the real one. */
int __real_getgrnam_r(const char *name, struct group *gr, char *buf, size_t len,
                      struct group **res);
int __wrap_getgrnam_r(const char *name, struct group *gr, char *buf, size_t len,
                      struct group **res);
int __wrap_getgrnam_r(const char *name, struct group *gr, char *buf, size_t len,
                      struct group **res) {
  *res = NULL;
  if (strcmp(name, "nss-down") == 0)
    return EIO;
  if (strcmp(name, "big-group") != 0)
    return __real_getgrnam_r(name, gr, buf, len, res);
  if (len < 64 * 1024)
    return ERANGE;
  memset(gr, 0, sizeof(*gr));
  snprintf(buf, len, "%s", name);
  gr->gr_name = buf;
  gr->gr_gid = 4243;
  *res = gr;
  return 0;
}

/* Loads the n bytes of text as the file `name`; returns the result, err
 * filled on error. */
static int load_as(ad_config_t *cfg, const char *name, const char *text,
                   size_t n, char *err, size_t len) {
  FILE *f = fmemopen((void *)text, n, "r");
  assert_non_null(f);
  err[0] = '\0';
  int rc = ad_config_load_stream(cfg, f, name, err, len);
  fclose(f);
  return rc;
}

/* Loads text as "test.conf". */
static int load(ad_config_t *cfg, const char *text, char *err, size_t len) {
  return load_as(cfg, "test.conf", text, strlen(text), err, len);
}

/* Loads and finishes text in a configuration of its own; returns the
 * result, err (512 bytes) filled on error. */
static int load_and_finish(const char *text, char *err) {
  ad_config_t cfg;
  ad_config_init(&cfg);
  int rc = load(&cfg, text, err, 512);
  if (rc == 0)
    rc = ad_config_finish(&cfg, err, 512);
  ad_config_fini(&cfg);
  return rc;
}

static void accepted(const char *text);

/* text must be refused, with a message that starts with `where` and
 * contains `what`. */
static void refused(const char *text, const char *where, const char *what) {
  char err[512];
  int rc = load_and_finish(text, err);
  if (rc != AR_EINVAL)
    fail_msg("accepted, want an error at %s:\n%s", where, text);
  if (strncmp(err, where, strlen(where)) != 0 || strstr(err, what) == NULL)
    fail_msg("message \"%s\", want \"%s...%s...\"", err, where, what);
}

static void test_defaults(void **state) {
  (void)state;
  ad_config_t cfg;
  char err[256];
  ad_config_init(&cfg);
  assert_string_equal(cfg.socket, "");
  assert_int_equal(cfg.socket_mode, 0600);
  assert_int_equal(cfg.log_level, AD_LOG_INFO);
  assert_int_equal(cfg.max_frame_bytes, AR_FRAME_MAX_DEFAULT);
  assert_int_equal(cfg.max_connections, 1024);
  assert_int_equal(cfg.narenas, 0);
  assert_int_equal(ad_config_finish(&cfg, err, sizeof(err)), 0);
  /* No arena anywhere: the built-in one. */
  assert_int_equal(cfg.narenas, 1);
  assert_string_equal(cfg.arenas[0].name, "default");
  assert_int_equal(cfg.arenas[0].size, 64 << 20);
  assert_int_equal(cfg.arenas[0].policy, AR_POLICY_FIRST);
  ad_config_fini(&cfg);
}

static void test_good_file(void **state) {
  (void)state;
  static const char text[] =
      "; arenad's config\n"
      "# both comment styles\n"
      "[daemon]\n"
      "socket = /run/arenad/arenad.sock\n"
      "socket_mode = 0660\n"
      "log_level = debug\n"
      "max_connections = 10\n"
      "max_frame_bytes = 64K\n"
      "max_in_flight = 32\n"
      "output_pause_bytes = 256K ; inline comment\n"
      "output_limit_bytes = 1M\n"
      "max_blocks_per_request = 8\n"
      "default_page = 10\n"
      "max_page = 100\n"
      "read_chunk = 16K\n"
      "shutdown_timeout_ms = 0\n"
      "\n"
      "[arena small]\n"
      "size = 4096\n"
      "\n"
      "[arena big.one_2]\n"
      "size = 1G\n"
      "policy = buddy\n"
      "[arena small]\n" /* a section may come back, with other keys */
      "policy = worst\n";
  ad_config_t cfg;
  char err[256];
  ad_config_init(&cfg);
  assert_int_equal(load(&cfg, text, err, sizeof(err)), 0);
  assert_int_equal(ad_config_finish(&cfg, err, sizeof(err)), 0);
  assert_string_equal(cfg.socket, "/run/arenad/arenad.sock");
  assert_int_equal(cfg.socket_mode, 0660);
  assert_int_equal(cfg.log_level, AD_LOG_DEBUG);
  assert_int_equal(cfg.max_connections, 10);
  assert_int_equal(cfg.max_frame_bytes, 64 << 10);
  assert_int_equal(cfg.max_in_flight, 32);
  assert_int_equal(cfg.output_pause_bytes, 256 << 10);
  assert_int_equal(cfg.output_limit_bytes, 1 << 20);
  assert_int_equal(cfg.max_blocks_per_request, 8);
  assert_int_equal(cfg.default_page, 10);
  assert_int_equal(cfg.max_page, 100);
  assert_int_equal(cfg.read_chunk, 16 << 10);
  assert_int_equal(cfg.shutdown_timeout_ms, 0);
  assert_int_equal(cfg.narenas, 2);
  assert_string_equal(cfg.arenas[0].name, "small");
  assert_int_equal(cfg.arenas[0].size, 4096);
  assert_int_equal(cfg.arenas[0].policy, AR_POLICY_WORST);
  assert_string_equal(cfg.arenas[0].origin, "test.conf:19"); /* 1st key */
  assert_string_equal(cfg.arenas[1].name, "big.one_2");
  assert_int_equal(cfg.arenas[1].size, (uint64_t)1 << 30);
  assert_int_equal(cfg.arenas[1].policy, AR_POLICY_BUDDY);
  ad_config_fini(&cfg);
}

/* Indented lines are read as if they were not indented: inih alone would
 * take them for the previous value's continuation. */
static void test_indented_lines(void **state) {
  (void)state;
  static const char text[] = "[daemon]\n"
                             "  socket_mode = 0660\n"
                             "\tlog_level = debug\n"
                             "  [arena a]\n"
                             "    size = 8K\n"
                             "    policy = best\n"
                             "    ; an indented comment\n";
  ad_config_t cfg;
  char err[256];
  ad_config_init(&cfg);
  assert_int_equal(load(&cfg, text, err, sizeof(err)), 0);
  assert_int_equal(ad_config_finish(&cfg, err, sizeof(err)), 0);
  assert_int_equal(cfg.socket_mode, 0660);
  assert_int_equal(cfg.log_level, AD_LOG_DEBUG);
  assert_int_equal(cfg.narenas, 1);
  assert_string_equal(cfg.arenas[0].name, "a");
  assert_int_equal(cfg.arenas[0].size, 8 << 10);
  assert_int_equal(cfg.arenas[0].policy, AR_POLICY_BEST);
  ad_config_fini(&cfg);
  /* Still a key given twice, and still a line without a key. */
  refused("[daemon]\n  log_level = info\n  log_level = warn\n",
          "test.conf:3:", "already set on line 2");
  refused("[daemon]\nlog_level = info\n  no equals sign\n",
          "test.conf:3:", "syntax error");
}

static void test_command_line(void **state) {
  (void)state;
  ad_config_t cfg;
  char err[256];
  ad_config_init(&cfg);
  assert_int_equal(load(&cfg, "[arena a]\nsize = 8K\n", err, sizeof(err)), 0);
  assert_int_equal(ad_config_add_arena_spec(&cfg, "b:1M:next", err,
                                            sizeof(err)),
                   0);
  assert_int_equal(ad_config_add_arena_spec(&cfg, "c:64k", err, sizeof(err)),
                   0);
  assert_int_equal(ad_config_set(&cfg, "log_level", "warn", "--log-level",
                                 err, sizeof(err)),
                   0);
  assert_int_equal(ad_config_finish(&cfg, err, sizeof(err)), 0);
  assert_int_equal(cfg.narenas, 3); /* added to the file's; no default */
  assert_string_equal(cfg.arenas[1].name, "b");
  assert_int_equal(cfg.arenas[1].policy, AR_POLICY_NEXT);
  assert_int_equal(cfg.arenas[2].size, 64 << 10);
  assert_int_equal(cfg.arenas[2].policy, AR_POLICY_FIRST);
  assert_int_equal(cfg.log_level, AD_LOG_WARN);

  /* Errors name the argument. */
  static const struct {
    const char *spec, *what;
  } bad[] = {
      {"a:8K", "already defined (test.conf:2)"},
      {"x", "expected NAME:SIZE[:POLICY]"},
      {"x:", "not a size"},
      {"x:12K:fastest", "not first, next, best, worst or buddy"},
      {"x:1K", "out of range"},
      {"x:99999999999999999999999K", "out of range"},
      {":4K", "an arena name is"},
      {"bad/name:4K", "an arena name is"},
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    int rc = ad_config_add_arena_spec(&cfg, bad[i].spec, err, sizeof(err));
    assert_int_equal(rc, AR_EINVAL);
    if (strncmp(err, "--arena ", 8) != 0 || strstr(err, bad[i].what) == NULL)
      fail_msg("%s: \"%s\", want \"%s\"", bad[i].spec, err, bad[i].what);
  }
  assert_int_equal(ad_config_add_arena_spec(&cfg, "x:12345", err,
                                            sizeof(err)),
                   0); /* caught by finish: */
  assert_int_equal(ad_config_finish(&cfg, err, sizeof(err)), AR_EINVAL);
  assert_non_null(strstr(err, "not a multiple of 4096"));
  assert_int_equal(ad_config_set(&cfg, "nope", "1", "--x", err, sizeof(err)),
                   AR_EINVAL);
  /* A bad value is refused, named by its argument, and changes nothing. */
  assert_int_equal(
      ad_config_set(&cfg, "log_level", "loud", "--log-level", err, sizeof(err)),
      AR_EINVAL);
  assert_string_equal(err, "--log-level: log_level = loud: not debug, info, "
                           "warn or error");
  assert_int_equal(cfg.log_level, AD_LOG_WARN);
  assert_int_equal(
      ad_config_set(&cfg, "socket", "", "ARENAD_SOCKET", err, sizeof(err)),
      AR_EINVAL);
  assert_string_equal(err, "ARENAD_SOCKET: socket: empty path");
  ad_config_fini(&cfg);

  /* A spec of 256 bytes is too long as a whole (255 would go on to its
   * name, which is too long in turn). */
  char spec[300];
  memset(spec, 'n', sizeof(spec));
  memcpy(spec + 251, ":4K", 4); /* 254 bytes */
  ad_config_init(&cfg);
  assert_int_equal(ad_config_add_arena_spec(&cfg, spec, err, sizeof(err)),
                   AR_EINVAL);
  assert_non_null(strstr(err, "an arena name is"));
  memcpy(spec + 253, ":4K", 4); /* 256 bytes */
  assert_int_equal(ad_config_add_arena_spec(&cfg, spec, err, sizeof(err)),
                   AR_EINVAL);
  assert_non_null(strstr(err, ": too long"));

  /* AD_ARENAS_MAX arenas, and not one more. */
  for (int i = 0; i < AD_ARENAS_MAX; i++) {
    snprintf(spec, sizeof(spec), "a%d:4K", i);
    if (ad_config_add_arena_spec(&cfg, spec, err, sizeof(err)) != 0)
      fail_msg("%s: %s", spec, err);
  }
  assert_int_equal(
      ad_config_add_arena_spec(&cfg, "one-more:4K", err, sizeof(err)),
      AR_EINVAL);
  assert_non_null(strstr(err, "more than 256 arenas"));
  assert_int_equal(cfg.narenas, AD_ARENAS_MAX);
  ad_config_fini(&cfg);
}

static void test_errors_name_the_line(void **state) {
  (void)state;
  refused("[daemon]\nmax_conections = 5\n", "test.conf:2:",
          "unknown key 'max_conections'");
  refused("[daemon]\n\n\nmax_connections = 0\n", "test.conf:4:",
          "out of range (1 to 1000000)");
  refused("[daemon]\nmax_connections = 12x\n", "test.conf:2:",
          "not a decimal number");
  refused("[daemon]\nmax_frame_bytes = 2G\n", "test.conf:2:",
          "out of range (4K to 64M)");
  refused("[daemon]\nmax_frame_bytes = lots\n", "test.conf:2:",
          "not a size");
  /* Numbers past 64 bits are numbers all the same: out of range. */
  refused("[daemon]\nmax_connections = 99999999999999999999999\n",
          "test.conf:2:", "out of range (1 to 1000000)");
  refused("[daemon]\nmax_frame_bytes = 17179869184G\n",
          "test.conf:2:", "out of range (4K to 64M)");
  refused("[arena a]\nsize = 4K\nowner = 18446744073709551616\n",
          "test.conf:3:", "out of range (uid 0 to 4294967294)");
  refused("[daemon]\nsocket_mode = 0999\n", "test.conf:2:", "octal mode");
  refused("[daemon]\nsocket_mode = 1777\n", "test.conf:2:", "octal mode");
  refused("[daemon]\nlog_level = loud\n", "test.conf:2:",
          "not debug, info, warn or error");
  refused("[daemon]\nlog_level = info\nlog_level = warn\n", "test.conf:3:",
          "already set on line 2");
  refused("[daemon]\nsocket =\n", "test.conf:2:", "empty path");
  refused("size = 4K\n", "test.conf:1:", "outside of a section");
  refused("[deamon]\nx = 1\n", "test.conf:1:", "unknown section [deamon]");
  refused("[arena]\nsize = 4K\n", "test.conf:1:", "unknown section [arena]");
  /* sections without keys: inih says nothing of them */
  refused("[bogus]\n[daemon]\n", "test.conf:1:", "unknown section [bogus]");
  refused("[daemon]\n[arena a]\n", "test.conf:2:", "[arena a] has no size");
  /* inih keeps the blanks inside the brackets, keys or none */
  refused("[ arena b ]\n", "test.conf:1:", "unknown section [ arena b ]");
  refused("[ arena b ]\nsize = 4K\n",
          "test.conf:1:", "unknown section [ arena b ]");
  refused("[arena a/b]\nsize = 4K\n", "test.conf:2:", "an arena name is");
  /* ... and without keys, at its header: never an arena that vanishes */
  refused("[daemon]\n[arena a/b]\n", "test.conf:2:", "an arena name is");
  refused("[arena ]\n[arena a]\nsize = 4K\n",
          "test.conf:1:", "an arena name is");
  refused("[arena a]\nsize = 4K\nsize = 8K\n", "test.conf:3:",
          "size is given twice");
  refused("[arena a]\nsize = 5000\n", "test.conf:2:",
          "not a multiple of 4096");
  refused("[arena a]\nsize = 12K\npolicy = buddy\n", "test.conf:2:",
          "power of two");
  refused("[arena a]\nsize = 1K\n", "test.conf:2:", "out of range");
  refused("[arena a]\npolicy = best\n", "test.conf:1:", "has no size");
  /* a check after the file points at the size's line */
  refused("[arena a]\npolicy = first\n\n\nsize = 6K\n",
          "test.conf:5:", "not a multiple of 4096");
  refused("[arena a]\nsize = 4K\ncolour = red\n", "test.conf:3:",
          "unknown key 'colour'");
  refused("[daemon]\nthis line has no equals sign\n", "test.conf:2:",
          "syntax error");
  refused("[daemon\n", "test.conf:1:", "syntax error");
  /* inih takes " ;" for a comment, so this header has no ']' for it: its
   * syntax error is said, not the unknown section the reader saw. */
  refused("[daemon ;]\n", "test.conf:1:", "syntax error");
  /* Tunables that contradict each other. */
  refused("[daemon]\noutput_limit_bytes = 1M\n", "output_limit_bytes",
          "must be at least");
  refused("[daemon]\ndefault_page = 50\nmax_page = 10\n", "default_page",
          "over max_page");
  accepted("[daemon]\ndefault_page = 10\nmax_page = 10\n");
  /* The limit must hold the pause, a whole frame and its longest prefix
   * (AR_FRAME_PREFIX_MAX, 10 bytes): 1M + 1M + 10 is the least with the
   * defaults. */
  refused("[daemon]\noutput_limit_bytes = 2097161\n", "output_limit_bytes",
          "must be at least");
  accepted("[daemon]\noutput_limit_bytes = 2097162\n");
}

/* A socket path must fit in a socket address with its NUL: 107 bytes. */
static void test_socket_path_length(void **state) {
  (void)state;
  char path[AR_SOCKET_PATH_MAX + 1], text[256];
  memset(path, 'a', sizeof(path));
  path[0] = '/';
  path[AR_SOCKET_PATH_MAX - 1] = '\0';
  snprintf(text, sizeof(text), "[daemon]\nsocket = %s\n", path);
  ad_config_t cfg;
  char err[512];
  ad_config_init(&cfg);
  if (load(&cfg, text, err, sizeof(err)) != 0)
    fail_msg("%s", err);
  assert_string_equal(cfg.socket, path);
  ad_config_fini(&cfg);
  path[AR_SOCKET_PATH_MAX - 1] = 'a';
  path[AR_SOCKET_PATH_MAX] = '\0';
  snprintf(text, sizeof(text), "[daemon]\nsocket = %s\n", path);
  refused(text, "test.conf:2:", "path longer than 107 bytes");
}

/* A line too long for inih is an error, never a value cut short. */
static void test_long_line(void **state) {
  (void)state;
  char text[512];
  int n = snprintf(text, sizeof(text), "[daemon]\nsocket = /");
  memset(text + n, 'a', 250);
  snprintf(text + n + 250, sizeof(text) - (size_t)n - 250, "\n");
  refused(text, "test.conf:2:", "line too long");
}

/* A [section] name longer than inih keeps is an error, never an arena
 * of a name cut short. */
static void test_long_section(void **state) {
  (void)state;
  char name[64];
  memset(name, 'n', 44);
  name[44] = '\0';
  char text[256];
  snprintf(text, sizeof(text), "[daemon]\n[arena %s]\nsize = 4K\n", name);
  refused(text, "test.conf:2:", "section name too long");
  name[43] = '\0'; /* the longest that a file can name */
  snprintf(text, sizeof(text), "[arena %s]\nsize = 4K\n", name);
  ad_config_t cfg;
  char err[512];
  ad_config_init(&cfg);
  assert_int_equal(load(&cfg, text, err, sizeof(err)), 0);
  assert_int_equal(ad_config_finish(&cfg, err, sizeof(err)), 0);
  assert_string_equal(cfg.arenas[0].name, name);
  ad_config_fini(&cfg);
}

/* text must be accepted. */
static void accepted(const char *text) {
  char err[512];
  if (load_and_finish(text, err) != 0)
    fail_msg("refused: %s\n%s", err, text);
}

/* A file that begins with a UTF-8 byte order mark (inih skips it) is
 * read as without it: the first line's [section] header is checked all
 * the same, with keys or none. */
static void test_byte_order_mark(void **state) {
  (void)state;
  refused("\xEF\xBB\xBF[bogus]\n", "test.conf:1:", "unknown section [bogus]");
  refused("\xEF\xBB\xBF[arena a]\n", "test.conf:1:", "[arena a] has no size");
  refused("\xEF\xBB\xBF[arena a/b]\n", "test.conf:1:", "an arena name is");
  char name[64], text[256];
  memset(name, 'n', 44);
  name[44] = '\0';
  snprintf(text, sizeof(text), "\xEF\xBB\xBF[arena %s]\nsize = 4K\n", name);
  refused(text, "test.conf:1:", "section name too long");
  accepted("\xEF\xBB\xBF[arena a]\nsize = 4K\n");
  accepted("\xEF\xBB\xBF  [daemon]\nlog_level = warn\n");
}

/* Every reply must fit in max_frame_bytes (reply_bound.h): an alloc of
 * max_blocks_per_request blocks, and the list of the arenas. A free of as
 * many, with a status and the index of an overwritten header for each
 * offset, needs no more than the alloc: the configurations accepted here
 * stay accepted. */
static void test_replies_fit_in_a_frame(void **state) {
  (void)state;
  /* 4096 offsets of up to 7 bytes each do not fit in 4 KiB; 512 do */
  refused("[daemon]\nmax_frame_bytes = 4K\n", "max_frame_bytes (4096)",
          "alloc of max_blocks_per_request (4096) blocks");
  accepted("[daemon]\nmax_frame_bytes = 4K\nmax_blocks_per_request = 512\n");
  accepted("[daemon]\nmax_frame_bytes = 32K\n");

  /* arenas of 43-character names: 20 fit in a 4 KiB list, 60 do not */
  char *text = malloc(64 * 1024);
  assert_non_null(text);
  for (int narenas = 20; narenas <= 60; narenas += 40) {
    size_t len = (size_t)snprintf(text, 64 * 1024,
                                  "[daemon]\nmax_frame_bytes = 4K\n"
                                  "max_blocks_per_request = 16\n");
    for (int i = 0; i < narenas; i++)
      len += (size_t)snprintf(text + len, 64 * 1024 - len,
                              "[arena %03d%040d]\nsize = 4K\n", i, 0);
    if (narenas == 20)
      accepted(text);
    else
      refused(text, "max_frame_bytes (4096)", "list of the 60 arenas");
  }
  free(text);
}

/* Access, quotas and the admin group: names or numbers, bounds checked;
 * an owner or group left out is AD_ID_NONE (the daemon's, later). */
static void test_access_keys(void **state) {
  (void)state;
  static const char text[] = "[daemon]\n"
                             "admin_group = root\n"
                             "[arena a]\n"
                             "size = 4K\n"
                             "mode = 0640\n"
                             "owner = root\n"
                             "group = 4242\n"
                             "quota_bytes = 1M\n"
                             "quota_blocks = 10\n"
                             "[arena b]\n"
                             "size = 4K\n";
  ad_config_t cfg;
  char err[256];
  ad_config_init(&cfg);
  assert_int_equal(cfg.admin_group, AD_ID_NONE);
  if (load(&cfg, text, err, sizeof(err)) != 0)
    fail_msg("%s", err);
  assert_int_equal(ad_config_finish(&cfg, err, sizeof(err)), 0);
  assert_int_equal(cfg.admin_group, 0);
  const ad_arena_conf_t *a = &cfg.arenas[0], *b = &cfg.arenas[1];
  assert_int_equal(a->mode, 0640);
  assert_int_equal(a->owner, 0);
  assert_int_equal(a->group, 4242);
  assert_int_equal(a->quota_bytes, 1 << 20);
  assert_int_equal(a->quota_blocks, 10);
  assert_int_equal(b->mode, 0600);
  assert_int_equal(b->owner, AD_ID_NONE);
  assert_int_equal(b->group, AD_ID_NONE);
  assert_int_equal(b->quota_bytes, 0);
  assert_int_equal(b->quota_blocks, 0);
  ad_config_fini(&cfg);

  refused("[arena a]\nsize = 4K\nmode = 999\n", "test.conf:3:", "octal mode");
  refused("[arena a]\nsize = 4K\nmode = 01777\n", "test.conf:3:",
          "octal mode");
  refused("[arena a]\nsize = 4K\nmode = 0680\n", "test.conf:3:", "octal mode");
  refused("[arena a]\nsize = 4K\nowner = no-such-user-here\n", "test.conf:3:",
          "no such user");
  refused("[arena a]\nsize = 4K\ngroup = no-such-group-here\n",
          "test.conf:3:", "no such group");
  refused("[arena a]\nsize = 4K\nowner = 4294967295\n",
          "test.conf:3:", "out of range (uid 0 to 4294967294)");
  refused("[arena a]\nsize = 4K\ngroup = 99999999999\n",
          "test.conf:3:", "out of range (gid 0 to 4294967294)");
  refused("[daemon]\nadmin_group = 4294967295\n",
          "test.conf:2:", "out of range (gid 0 to 4294967294)");
  refused("[arena a]\nsize = 4K\nquota_blocks = -1\n", "test.conf:3:",
          "not a decimal number");
  refused("[daemon]\nadmin_group = no-such-group-here\n", "test.conf:2:",
          "no such group");
}

/* Every numeric key at its bounds: the least and the greatest value are
 * taken as written, one less and one more are refused, with the range in
 * the message (sizes for humans, counts in decimal). Loaded without
 * ad_config_finish, whose checks speak of several keys at once. */
static void test_key_bounds(void **state) {
  (void)state;
  static const char arena[] = "[arena a]\nsize = 4K\n";
  static const struct {
    bool daemon; /* else the key of [arena a] */
    const char *key;
    size_t offset;             /* in ad_config_t or ad_arena_conf_t */
    const char *lo, *hi;       /* accepted */
    uint64_t lo_v, hi_v;       /* what they are */
    const char *below, *above; /* refused (below: NULL when lo is 0) */
    const char *range;         /* in the message */
  } keys[] = {
#define D(f) true, #f, offsetof(ad_config_t, f)
#define A(f) false, #f, offsetof(ad_arena_conf_t, f)
      {D(max_connections), "1", "1000000", 1, 1000000, "0", "1000001",
       "(1 to 1000000)"},
      {D(max_frame_bytes), "4K", "64M", 4096, 64 << 20, "4095", "67108865",
       "(4K to 64M)"},
      {D(max_in_flight), "1", "65536", 1, 65536, "0", "65537", "(1 to 65536)"},
      {D(output_pause_bytes), "4096", "1G", 4096, 1 << 30, "4095", "1073741825",
       "(4K to 1G)"},
      {D(output_limit_bytes), "64K", "4G", 64 << 10, UINT64_C(4) << 30, "65535",
       "4294967297", "(64K to 4G)"},
      {D(max_blocks_per_request), "1", "1048576", 1, 1 << 20, "0", "1048577",
       "(1 to 1048576)"},
      {D(max_live_blocks), "0", "1099511627776", 0, UINT64_C(1) << 40, NULL,
       "1099511627777", "(0 to 1099511627776)"},
      {D(default_page), "1", "65536", 1, 65536, "0", "65537", "(1 to 65536)"},
      {D(max_page), "1", "65536", 1, 65536, "0", "65537", "(1 to 65536)"},
      {D(turn_budget_us), "0", "10000000", 0, 10000000, NULL, "10000001",
       "(0 to 10000000)"},
      {D(read_chunk), "4K", "16M", 4096, 16 << 20, "4095", "16777217",
       "(4K to 16M)"},
      {D(shutdown_timeout_ms), "0", "3600000", 0, 3600000, NULL, "3600001",
       "(0 to 3600000)"},
      {D(send_timeout_ms), "0", "3600000", 0, 3600000, NULL, "3600001",
       "(0 to 3600000)"},
      {D(frame_timeout_ms), "0", "3600000", 0, 3600000, NULL, "3600001",
       "(0 to 3600000)"},
      {D(root_override), "0", "1", 0, 1, NULL, "2", "(0 to 1)"},
      {A(quota_bytes), "0", "262144G", 0, AR_ARENA_MAX, NULL, "281474976710657",
       "(0 to 262144G)"},
      {A(quota_blocks), "0", "4294967295", 0, UINT32_MAX, NULL, "4294967296",
       "(0 to 4294967295)"},
#undef D
#undef A
  };
  char text[256], where[32], err[512];
  for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
    const char *head = keys[i].daemon ? "[daemon]\n" : arena;
    int line = keys[i].daemon ? 2 : 3;
    const char *vals[] = {keys[i].lo, keys[i].hi};
    uint64_t want[] = {keys[i].lo_v, keys[i].hi_v};
    for (int j = 0; j < 2; j++) {
      snprintf(text, sizeof(text), "%s%s = %s\n", head, keys[i].key, vals[j]);
      ad_config_t cfg;
      ad_config_init(&cfg);
      if (load(&cfg, text, err, sizeof(err)) != 0)
        fail_msg("%s = %s: %s", keys[i].key, vals[j], err);
      const char *base =
          keys[i].daemon ? (const char *)&cfg : (const char *)&cfg.arenas[0];
      uint64_t got;
      memcpy(&got, base + keys[i].offset, sizeof(got));
      if (got != want[j])
        fail_msg("%s = %s: got %llu", keys[i].key, vals[j],
                 (unsigned long long)got);
      ad_config_fini(&cfg);
    }
    const char *bad[] = {keys[i].below, keys[i].above};
    for (int j = 0; j < 2; j++) {
      if (bad[j] == NULL)
        continue;
      snprintf(text, sizeof(text), "%s%s = %s\n", head, keys[i].key, bad[j]);
      snprintf(where, sizeof(where), "test.conf:%d:", line);
      ad_config_t cfg;
      ad_config_init(&cfg);
      int rc = load(&cfg, text, err, sizeof(err));
      ad_config_fini(&cfg);
      if (rc != AR_EINVAL || strncmp(err, where, strlen(where)) != 0 ||
          strstr(err, "out of range ") == NULL ||
          strstr(err, keys[i].range) == NULL)
        fail_msg("%s = %s: \"%s\", want %s out of range %s", keys[i].key,
                 bad[j], err, where, keys[i].range);
    }
  }
  /* Modes: octal, 0 to 0777, as at most four digits as the usage writes
   * them. */
  accepted("[daemon]\nsocket_mode = 0\n");
  accepted("[daemon]\nsocket_mode = 777\n");
  accepted("[arena a]\nsize = 4K\nmode = 0777\n");
  refused("[daemon]\nsocket_mode = 1000\n", "test.conf:2:", "octal mode");
  refused("[daemon]\nsocket_mode = 00600\n", "test.conf:2:", "octal mode");
  refused("[arena a]\nsize = 4K\nmode = 00600\n", "test.conf:3:", "octal mode");
}

/* The size rules shared with create_arena. */
static void test_check_size(void **state) {
  (void)state;
  char msg[200];
  assert_int_equal(ad_config_check_size(4096, AR_POLICY_FIRST, msg,
                                        sizeof(msg)), 0);
  assert_int_equal(ad_config_check_size(12288, AR_POLICY_BEST, msg,
                                        sizeof(msg)), 0);
  assert_int_equal(ad_config_check_size(12288, AR_POLICY_BUDDY, msg,
                                        sizeof(msg)), AR_EINVAL);
  assert_non_null(strstr(msg, "power of two"));
  assert_int_equal(ad_config_check_size(5000, AR_POLICY_FIRST, msg,
                                        sizeof(msg)), AR_EINVAL);
  assert_non_null(strstr(msg, "multiple of 4096"));
  assert_int_equal(ad_config_check_size(0, AR_POLICY_FIRST, msg,
                                        sizeof(msg)), AR_EINVAL);
  assert_int_equal(ad_config_check_size(AR_ARENA_MAX * 2, AR_POLICY_FIRST,
                                        msg, sizeof(msg)), AR_EINVAL);
  /* The bounds themselves are sizes an arena may have. */
  assert_int_equal(
      ad_config_check_size(AR_ARENA_MAX, AR_POLICY_BUDDY, msg, sizeof(msg)), 0);
  assert_int_equal(ad_config_check_size(AR_ARENA_MAX + AR_ARENA_UNIT,
                                        AR_POLICY_FIRST, msg, sizeof(msg)),
                   AR_EINVAL);
  assert_non_null(strstr(msg, "is not from 4096 to"));
  assert_int_equal(
      ad_config_check_size(AR_ARENA_UNIT, AR_POLICY_BUDDY, msg, sizeof(msg)),
      0);
  assert_true(ad_config_arena_name_ok("a.b_c-1"));
  assert_false(ad_config_arena_name_ok(""));
  assert_false(ad_config_arena_name_ok("-a"));
  assert_false(ad_config_arena_name_ok("a b"));
  /* AD_ARENA_NAME_MAX bytes and no more: a longer one would be cut short
   * where it is copied, and name another arena. */
  char name[AD_ARENA_NAME_MAX + 2];
  memset(name, 'n', AD_ARENA_NAME_MAX + 1);
  name[AD_ARENA_NAME_MAX + 1] = '\0';
  assert_false(ad_config_arena_name_ok(name));
  name[AD_ARENA_NAME_MAX] = '\0';
  assert_true(ad_config_arena_name_ok(name));
}

static void test_file_errors(void **state) {
  (void)state;
  ad_config_t cfg;
  char err[256];
  ad_config_init(&cfg);
  assert_int_equal(ad_config_load_file(&cfg, "/nonexistent/arenad.conf", err,
                                       sizeof(err)),
                   AR_EIO);
  assert_non_null(strstr(err, "/nonexistent/arenad.conf: cannot open"));
  /* fopen takes a directory, whose reads then fail: refused at once */
  assert_int_equal(ad_config_load_file(&cfg, "/", err, sizeof(err)), AR_EIO);
  assert_non_null(strstr(err, "/: cannot open: it is a directory"));
  assert_int_equal(cfg.narenas, 0);
  ad_config_fini(&cfg);
}

/* The checks after the file (here a buddy size that is no power of two)
 * name the file by its whole path and the line of the arena's size: a
 * path of a few directories must not be cut to a prefix that hides the
 * file's own name. A path longer than an origin keeps its end. */
static void test_origin_names_the_file(void **state) {
  (void)state;
  const char *text = "[arena a]\nsize = 12K\npolicy = buddy\n";
  const char *tail = "/arenad.conf:2: arena 'a': a buddy arena's size";
  char path[700], err[1024];
  for (size_t dirs = 150; dirs < sizeof(path) - 20; dirs += 500) {
    memset(path, 'd', dirs);
    path[0] = '/';
    snprintf(path + dirs, sizeof(path) - dirs, "/arenad.conf");
    ad_config_t cfg;
    ad_config_init(&cfg);
    assert_int_equal(load_as(&cfg, path, text, strlen(text), err, sizeof(err)),
                     0);
    assert_int_equal(ad_config_finish(&cfg, err, sizeof(err)), AR_EINVAL);
    ad_config_fini(&cfg);
    if (strstr(err, tail) == NULL)
      fail_msg("message \"%s\" does not name the file and line", err);
    if (dirs < AD_ORIGIN_MAX - 32) /* whole */
      assert_int_equal(strncmp(err, path, strlen(path)), 0);
    else /* its end */
      assert_int_equal(strncmp(err, "...ddd", 6), 0);
  }
}

/* A NUL byte is an error that names its line: inih reads a line only up
 * to it, so "size = 64K\0G" would be 64K, and a key after it unseen. */
static void test_nul_byte(void **state) {
  (void)state;
  static const char value[] = "[arena a]\nsize = 64K\0G\npolicy = first\n";
  static const char key[] = "[arena a]\nsize = 64K\n\n; a\0\npolicy = x\n";
  static const char *const texts[] = {value, key};
  static const size_t lens[] = {sizeof(value) - 1, sizeof(key) - 1};
  static const char *const want[] = {
      "test.conf:2: a NUL byte (a configuration file is text)",
      "test.conf:4: a NUL byte (a configuration file is text)"};
  for (size_t i = 0; i < 2; i++) {
    ad_config_t cfg;
    char err[256];
    ad_config_init(&cfg);
    assert_int_equal(
        load_as(&cfg, "test.conf", texts[i], lens[i], err, sizeof(err)),
        AR_EINVAL);
    assert_string_equal(err, want[i]);
    ad_config_fini(&cfg);
  }
}

/* A group is looked up with a buffer that grows to fit its entry (a
 * large group's lists thousands of members), and a database that cannot
 * be read is said as such, not taken for a group that does not exist. */
static void test_group_lookup(void **state) {
  (void)state;
  ad_config_t cfg;
  char err[256];
  ad_config_init(&cfg);
  if (load(&cfg,
           "[daemon]\nadmin_group = big-group\n[arena a]\nsize = 4K\n"
           "group = big-group\n",
           err, sizeof(err)) != 0)
    fail_msg("%s", err);
  assert_int_equal(cfg.admin_group, 4243);
  assert_int_equal(cfg.arenas[0].group, 4243);
  ad_config_fini(&cfg);
  refused("[daemon]\nadmin_group = nss-down\n", "test.conf:2:",
          "admin_group = nss-down: cannot look the group up: Input/output "
          "error");
  refused("[arena a]\nsize = 4K\ngroup = no-such-group-here\n",
          "test.conf:3:", "no such group");
}

/* max_shared_holds: 0 (no limit) by default, a count from 0 to 2^40. */
static void test_max_shared_holds(void **state) {
  (void)state;
  ad_config_t cfg;
  char err[512];
  ad_config_init(&cfg);
  assert_int_equal(cfg.max_shared_holds, 0);
  ad_config_fini(&cfg);
  static const struct {
    const char *text;
    uint64_t want;
  } good[] = {
      {"[daemon]\nmax_shared_holds = 0\n", 0},
      {"[daemon]\nmax_shared_holds = 1\n", 1},
      {"[daemon]\nmax_shared_holds = 1099511627776\n", UINT64_C(1) << 40},
  };
  for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
    ad_config_init(&cfg);
    if (load(&cfg, good[i].text, err, sizeof(err)) != 0 ||
        ad_config_finish(&cfg, err, sizeof(err)) != 0)
      fail_msg("%s: %s", good[i].text, err);
    assert_int_equal(cfg.max_shared_holds, good[i].want);
    ad_config_fini(&cfg);
  }
  refused("[daemon]\nmax_shared_holds = 1099511627777\n",
          "test.conf:2:", "out of range");
  refused("[daemon]\nmax_shared_holds = -1\n",
          "test.conf:2:", "not a decimal number");
  refused("[daemon]\nmax_shared_holds = 1K\n",
          "test.conf:2:", "not a decimal number");
}

/* The example shipped in server/ stays valid (tests run in tests/). */
static void test_example_file(void **state) {
  (void)state;
  ad_config_t cfg;
  char err[256];
  ad_config_init(&cfg);
  /* Found from the source tree the build compiled in (tests/data/../../),
   * so that the test passes when run by hand from anywhere. */
  int rc = ad_config_load_file(
      &cfg, AR_TEST_DATA_DIR "/../../server/arenad.conf.example", err,
      sizeof(err));
  if (rc != 0)
    fail_msg("%s", err);
  assert_int_equal(ad_config_finish(&cfg, err, sizeof(err)), 0);
  assert_int_equal(cfg.narenas, 1);
  assert_string_equal(cfg.arenas[0].name, "default");
  /* It states the defaults. */
  ad_config_t dflt;
  ad_config_init(&dflt);
  assert_int_equal(cfg.output_pause_bytes, dflt.output_pause_bytes);
  assert_int_equal(cfg.output_limit_bytes, dflt.output_limit_bytes);
  assert_int_equal(cfg.max_connections, dflt.max_connections);
  assert_int_equal(cfg.max_page, dflt.max_page);
  assert_int_equal(cfg.turn_budget_us, dflt.turn_budget_us);
  assert_int_equal(cfg.send_timeout_ms, dflt.send_timeout_ms);
  assert_int_equal(cfg.frame_timeout_ms, dflt.frame_timeout_ms);
  assert_int_equal(cfg.max_live_blocks, dflt.max_live_blocks);
  assert_int_equal(cfg.max_shared_holds, dflt.max_shared_holds);
  ad_config_fini(&dflt);
  ad_config_fini(&cfg);
}

/* The line of `key` in the usage text (up to its newline). */
static const char *usage_line(const char *text, const char *key, char *buf,
                              size_t len) {
  char needle[64];
  snprintf(needle, sizeof(needle), "\n  %s ", key);
  const char *p = strstr(text, needle);
  if (p == NULL)
    fail_msg("no line for %s in the usage", key);
  p += 1;
  size_t n = strcspn(p, "\n");
  snprintf(buf, len, "%.*s", (int)(n < len ? n : len - 1), p);
  return buf;
}

/* arenad --help's table of keys: a default for every key that has one,
 * 0 included, and none for the arena size, which is required; the bounds
 * of a mode, a user and a group. */
static void test_usage(void **state) {
  (void)state;
  char *text = NULL;
  size_t len = 0;
  FILE *out = open_memstream(&text, &len);
  assert_non_null(out);
  ad_config_usage(out);
  assert_int_equal(fclose(out), 0);
  char line[512];
  assert_non_null(
      strstr(usage_line(text, "quota_bytes", line, sizeof(line)), "default 0"));
  assert_null(strstr(usage_line(text, "size", line, sizeof(line)), "default"));
  assert_non_null(strstr(usage_line(text, "turn_budget_us", line, sizeof(line)),
                         "default 5000"));
  assert_non_null(
      strstr(usage_line(text, "send_timeout_ms", line, sizeof(line)),
             "default 60000"));
  /* modes with their bounds too, in octal as they are written */
  assert_non_null(strstr(usage_line(text, "socket_mode", line, sizeof(line)),
                         "; octal, 0000 to 0777, default 0600"));
  assert_non_null(strstr(usage_line(text, "mode", line, sizeof(line)),
                         "; octal, 0000 to 0777, default 0600"));
  /* users and groups with theirs: a number up to (uid_t)-1, which means
   * none, excluded, or a name */
  const char *ids[] = {"owner", "group", "admin_group"};
  for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
    assert_non_null(strstr(usage_line(text, ids[i], line, sizeof(line)),
                           "; 0 to 4294967294, or a name"));
  free(text);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_defaults),
      cmocka_unit_test(test_usage),
      cmocka_unit_test(test_good_file),
      cmocka_unit_test(test_indented_lines),
      cmocka_unit_test(test_command_line),
      cmocka_unit_test(test_errors_name_the_line),
      cmocka_unit_test(test_long_line),
      cmocka_unit_test(test_socket_path_length),
      cmocka_unit_test(test_long_section),
      cmocka_unit_test(test_byte_order_mark),
      cmocka_unit_test(test_replies_fit_in_a_frame),
      cmocka_unit_test(test_access_keys),
      cmocka_unit_test(test_key_bounds),
      cmocka_unit_test(test_check_size),
      cmocka_unit_test(test_file_errors),
      cmocka_unit_test(test_origin_names_the_file),
      cmocka_unit_test(test_nul_byte),
      cmocka_unit_test(test_group_lookup),
      cmocka_unit_test(test_max_shared_holds),
      cmocka_unit_test(test_example_file),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
