/*
 * test_error.c: the error codes' names and messages, and ar_errorf, which
 * formats a message into a caller's buffer and returns the code it was
 * given (ar/error.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "ar/error.h"
#include "ar/errorf.h"

static void test_names_and_messages(void **state) {
  (void)state;
  assert_string_equal(ar_err_name(AR_OK), "OK");
  assert_string_equal(ar_strerror(AR_OK), "ok");
  assert_string_equal(ar_err_name(AR_EPERM), "EPERM");
  assert_string_equal(ar_strerror(AR_EPERM), "permission denied");
  assert_string_equal(ar_err_name(AR_EPROTO), "EPROTO");
  assert_string_equal(ar_err_name(-1000), "UNKNOWN");
  assert_string_equal(ar_strerror(42), "unknown error");
}

static void test_errorf_formats_and_returns_the_code(void **state) {
  (void)state;
  char buf[64];
  assert_int_equal(ar_errorf(buf, sizeof buf, AR_EIO, "cannot bind %s: %d",
                             "/run/x.sock", 13),
                   AR_EIO);
  assert_string_equal(buf, "cannot bind /run/x.sock: 13");
  assert_int_equal(ar_errorf(buf, sizeof buf, AR_EINVAL, "%s", ""),
                   AR_EINVAL);
  assert_string_equal(buf, "");
}

static void test_errorf_truncates_within_the_buffer(void **state) {
  (void)state;
  char buf[8];
  memset(buf, 'x', sizeof buf);
  assert_int_equal(ar_errorf(buf, 6, AR_ELIMIT, "%s", "0123456789"),
                   AR_ELIMIT);
  assert_string_equal(buf, "01234");
  assert_int_equal(buf[6], 'x'); /* nothing written past len */
  /* A zero-length buffer is left alone; the code still comes back. */
  assert_int_equal(ar_errorf(buf, 0, AR_EINTERNAL, "%s", "ignored"),
                   AR_EINTERNAL);
  assert_string_equal(buf, "01234");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_names_and_messages),
      cmocka_unit_test(test_errorf_formats_and_returns_the_code),
      cmocka_unit_test(test_errorf_truncates_within_the_buffer),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
