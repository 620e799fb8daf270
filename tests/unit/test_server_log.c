/*
 * test_server_log.c: the pieces of arenad's log lines that must keep them
 * parseable (server/log.c): field values quoted and escaped when they hold
 * anything unusual, cut when too long, peer bytes in hex, level names, and
 * the rate limit for events a peer can trigger at will.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ar/error.h"
#include "log.h"

static void test_values(void **state) {
  (void)state;
  char buf[32];
  assert_string_equal(ad_log_str(buf, sizeof(buf), "arenactl"), "arenactl");
  assert_string_equal(ad_log_str(buf, sizeof(buf), "/run/a.sock"),
                      "/run/a.sock");
  assert_string_equal(ad_log_str(buf, sizeof(buf), ""), "\"\"");
  /* An '=' would read as the start of another key=value field. */
  assert_string_equal(ad_log_str(buf, sizeof(buf), "x=1"), "\"x=1\"");
  assert_string_equal(ad_log_str(buf, sizeof(buf), "two words"),
                      "\"two words\"");
  assert_string_equal(ad_log_str(buf, sizeof(buf), "say \"hi\"\\"),
                      "\"say \\\"hi\\\"\\\\\"");
  assert_string_equal(ad_log_str(buf, sizeof(buf), "a\nb\x01\xff"),
                      "\"a\\x0ab\\x01\\xff\"");
  /* DEL is a control character too, and 0x80 the first byte past ASCII. */
  assert_string_equal(ad_log_str(buf, sizeof(buf), "a\x7f\x80"),
                      "\"a\\x7f\\x80\"");
  /* Too long: cut, still quoted, still within the buffer. */
  char big[100];
  memset(big, 'x', sizeof(big) - 1);
  big[sizeof(big) - 1] = '\0';
  const char *v = ad_log_str(buf, sizeof(buf), big);
  assert_true(strlen(v) < sizeof(buf));
  assert_int_equal(v[0], '"');
  assert_non_null(strstr(v, "...\""));
  /* A plain value fits with its NUL, or is cut like any other. */
  memset(big, 'x', sizeof(buf) - 1);
  big[sizeof(buf) - 1] = '\0';
  assert_string_equal(ad_log_str(buf, sizeof(buf), big), big);
  big[sizeof(buf) - 1] = 'x';
  big[sizeof(buf)] = '\0';
  v = ad_log_str(buf, sizeof(buf), big);
  assert_true(strlen(v) < sizeof(buf));
  assert_int_equal(v[0], '"');
  assert_non_null(strstr(v, "...\""));
}

static void test_hex(void **state) {
  (void)state;
  char buf[9];
  static const unsigned char b[] = {0x00, 0xab, 0x10, 0xff, 0x7f};
  assert_string_equal(ad_log_hex(buf, sizeof(buf), b, 2), "00ab");
  assert_string_equal(ad_log_hex(buf, sizeof(buf), b, 5), "00ab10ff");
  assert_string_equal(ad_log_hex(buf, sizeof(buf), b, 0), "-");
  /* Whole bytes only, and the NUL within len. */
  memset(buf, 'Z', sizeof(buf));
  assert_string_equal(ad_log_hex(buf, 6, b, 5), "00ab");
  assert_int_equal(buf[6], 'Z');
}

static void test_levels(void **state) {
  (void)state;
  ad_log_level_t l;
  assert_int_equal(ad_log_level_parse("warn", &l), 0);
  assert_int_equal(l, AD_LOG_WARN);
  assert_int_equal(ad_log_level_parse("verbose", &l), AR_EINVAL);
  assert_string_equal(ad_log_level_name(AD_LOG_ERROR), "error");
  ad_log_set_level(AD_LOG_WARN);
  assert_false(ad_log_enabled(AD_LOG_INFO));
  assert_true(ad_log_enabled(AD_LOG_WARN)); /* the level itself */
  assert_true(ad_log_enabled(AD_LOG_ERROR));
  ad_log_set_level(AD_LOG_INFO);
}

static void test_ratelimit(void **state) {
  (void)state;
  ad_ratelimit_t rl = {.window_ms = 1000, .burst = 3};
  uint64_t sup = 99;
  for (int i = 0; i < 3; i++)
    assert_true(ad_ratelimit_allow(&rl, 5000, &sup));
  assert_int_equal(sup, 0);
  assert_false(ad_ratelimit_allow(&rl, 5100, &sup));
  assert_false(ad_ratelimit_allow(&rl, 5999, &sup));
  assert_true(ad_ratelimit_allow(&rl, 6000, &sup)); /* a new window */
  assert_int_equal(sup, 2);
  assert_true(ad_ratelimit_allow(&rl, 6001, &sup)); /* said once only */
  assert_int_equal(sup, 0);
}

/* The line ad_log writes for an event with a field of `n` x's, read back
 * from standard error (a temporary file meanwhile) into line. */
static void logged(size_t n, char *line, size_t len) {
  char field[2048];
  assert_true(n < sizeof(field));
  memset(field, 'x', n);
  field[n] = '\0';
  FILE *f = tmpfile();
  assert_non_null(f);
  int saved = dup(STDERR_FILENO);
  assert_true(saved >= 0);
  assert_true(dup2(fileno(f), STDERR_FILENO) >= 0);
  ad_log(AD_LOG_INFO, "ev", "v=%s", field);
  assert_true(dup2(saved, STDERR_FILENO) >= 0);
  close(saved);
  rewind(f);
  size_t k = fread(line, 1, len - 1, f);
  line[k] = '\0';
  fclose(f);
}

/* A line is at most 1023 bytes and its newline; a longer one is cut and
 * ends in "...", one that fits is written whole. */
static void test_line_length(void **state) {
  (void)state;
  char line[4096];
  logged(10, line, sizeof(line));
  /* "2026-11-26T16:00:00.123Z info ev v=", the value, a newline */
  assert_non_null(strstr(line, " info ev v=xxxxxxxxxx\n"));
  size_t head = strlen(line) - 1 - 10;
  logged(1023 - head, line, sizeof(line)); /* exactly 1023 bytes */
  assert_int_equal(strlen(line), 1024);
  assert_string_equal(line + 1019, "xxxx\n");
  logged(1024 - head, line, sizeof(line));
  assert_int_equal(strlen(line), 1024);
  assert_string_equal(line + 1019, "x...\n");
  logged(2000, line, sizeof(line));
  assert_int_equal(strlen(line), 1024);
  assert_string_equal(line + 1019, "x...\n");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_values),      cmocka_unit_test(test_hex),
      cmocka_unit_test(test_levels),      cmocka_unit_test(test_ratelimit),
      cmocka_unit_test(test_line_length),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
