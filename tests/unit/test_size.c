/*
 * test_size.c: ar_parse_size, the reader of human-written byte sizes used
 * by every command line: the accepted forms, the exact values of the
 * suffixes, the 64-bit limit (AR_ELIMIT: a size, but too large), and the
 * junk it must refuse (AR_EINVAL), both without touching its output. And
 * ar_parse_digits, its decimal part: where it stops, and that a refusal moves
 * nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ar/error.h"
#include "ar/util.h"

/* Parses s, which must succeed, and returns the value. */
static uint64_t size_of(const char *s) {
  uint64_t v = UINT64_C(0xdeadbeef);
  int rc = ar_parse_size(s, &v);
  if (rc != AR_OK)
    fail_msg("ar_parse_size(\"%s\") = %s, want OK", s, ar_err_name(rc));
  return v;
}

/* s must be refused with `want`, leaving the output alone. */
static void refused_with(const char *s, int want) {
  uint64_t v = 12345;
  int rc = ar_parse_size(s, &v);
  if (rc != want)
    fail_msg("ar_parse_size(\"%s\") = %s, want %s", s ? s : "(null)",
             ar_err_name(rc), ar_err_name(want));
  assert_int_equal(v, 12345);
}

/* Not a size at all. */
static void refused(const char *s) { refused_with(s, AR_EINVAL); }

/* A size, but past 64 bits. */
static void too_large(const char *s) { refused_with(s, AR_ELIMIT); }

static void test_plain_decimal(void **state) {
  (void)state;
  assert_int_equal(size_of("0"), 0);
  assert_int_equal(size_of("4096"), 4096);
  assert_int_equal(size_of("0012"), 12);
  assert_int_equal(size_of("18446744073709551615"), UINT64_MAX);
}

static void test_suffixes(void **state) {
  (void)state;
  assert_int_equal(size_of("1K"), 1024);
  assert_int_equal(size_of("64k"), 64 * 1024);
  assert_int_equal(size_of("3KiB"), 3 * 1024);
  assert_int_equal(size_of("256M"), UINT64_C(256) << 20);
  assert_int_equal(size_of("256MiB"), UINT64_C(256) << 20);
  assert_int_equal(size_of("1m"), UINT64_C(1) << 20);
  assert_int_equal(size_of("4G"), UINT64_C(4) << 30);
  assert_int_equal(size_of("4GiB"), UINT64_C(4) << 30);
  assert_int_equal(size_of("0G"), 0);
  /* the largest that fits with each suffix */
  assert_int_equal(size_of("17179869183G"), UINT64_C(17179869183) << 30);
  assert_int_equal(size_of("18014398509481983K"),
                   UINT64_C(18014398509481983) << 10);
}

static void test_overflow(void **state) {
  (void)state;
  too_large("18446744073709551616");    /* 2^64 */
  too_large("99999999999999999999999"); /* far past */
  too_large("99999999999999999999999K");
  too_large("99999999999999999999999GiB");
  too_large("17179869184G");       /* 2^64 exactly */
  too_large("18014398509481984K"); /* 2^64 exactly */
  too_large("17592186044416M");    /* 2^64 exactly */
  /* too many digits does not make junk a size */
  refused("99999999999999999999999x");
  refused("99999999999999999999999KB");
  refused("99999999999999999999999 ");
}

static void test_junk(void **state) {
  (void)state;
  refused(NULL);
  refused("");
  refused("K");
  refused("-1");
  refused("+1");
  refused(" 1");
  refused("1 ");
  refused("1.5M");
  refused("1T");
  refused("1KB");
  refused("1Ki");
  refused("1kib");
  refused("1KiBx");
  refused("1MM");
  refused("0x10");
  refused("12abc");
  assert_int_equal(ar_parse_size("1", NULL), AR_EINVAL);
}

static void test_digits(void **state) {
  (void)state;
  const char *s = "0042 rest";
  uint64_t v = 7;
  assert_int_equal(ar_parse_digits(&s, &v), AR_OK);
  assert_int_equal(v, 42);
  assert_string_equal(s, " rest");

  s = "18446744073709551615x";
  assert_int_equal(ar_parse_digits(&s, &v), AR_OK);
  assert_true(v == UINT64_MAX);
  assert_string_equal(s, "x");

  /* No number: nothing moves. */
  static const char *const bad[] = {"", " 1", "-1", "+1", "x1"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    s = bad[i];
    v = 7;
    assert_int_equal(ar_parse_digits(&s, &v), AR_EINVAL);
    assert_ptr_equal(s, bad[i]);
    assert_int_equal(v, 7);
  }

  /* A number past 64 bits: told apart from none, read to its end, *out
   * unchanged. */
  static const char *const large[] = {"18446744073709551616",
                                      "99999999999999999999999K"};
  for (size_t i = 0; i < sizeof(large) / sizeof(large[0]); i++) {
    s = large[i];
    v = 7;
    assert_int_equal(ar_parse_digits(&s, &v), AR_ELIMIT);
    assert_ptr_equal(s, large[i] + strspn(large[i], "0123456789"));
    assert_int_equal(v, 7);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_plain_decimal), cmocka_unit_test(test_suffixes),
      cmocka_unit_test(test_overflow),      cmocka_unit_test(test_junk),
      cmocka_unit_test(test_digits),
  };
  return cmocka_run_group_tests_name("size", tests, NULL, NULL);
}
