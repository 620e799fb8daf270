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

#include <string.h>

#include "ar/error.h"
#include "log.h"

static void test_values(void **state) {
  (void)state;
  char buf[32];
  assert_string_equal(ad_log_str(buf, sizeof(buf), "arenactl"), "arenactl");
  assert_string_equal(ad_log_str(buf, sizeof(buf), "/run/a.sock"),
                      "/run/a.sock");
  assert_string_equal(ad_log_str(buf, sizeof(buf), ""), "\"\"");
  assert_string_equal(ad_log_str(buf, sizeof(buf), "two words"),
                      "\"two words\"");
  assert_string_equal(ad_log_str(buf, sizeof(buf), "say \"hi\"\\"),
                      "\"say \\\"hi\\\"\\\\\"");
  assert_string_equal(ad_log_str(buf, sizeof(buf), "a\nb\x01\xff"),
                      "\"a\\x0ab\\x01\\xff\"");
  /* Too long: cut, still quoted, still within the buffer. */
  char big[100];
  memset(big, 'x', sizeof(big) - 1);
  big[sizeof(big) - 1] = '\0';
  const char *v = ad_log_str(buf, sizeof(buf), big);
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
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_values),
      cmocka_unit_test(test_hex),
      cmocka_unit_test(test_levels),
      cmocka_unit_test(test_ratelimit),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
