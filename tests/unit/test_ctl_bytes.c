/*
 * test_ctl_bytes.c: how arenactl prints a byte count for humans
 * (client/arenactl/bytes.c, compiled in): whole units without a decimal,
 * one decimal otherwise, the largest unit the count reaches once rounded
 * to a tenth (1048560 bytes is "1.0 MiB", not "1024.0 KiB"), up to PiB;
 * and the exact form, the count with the human one beside it from 1 KiB.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "arenactl.h"

static void test_bytes(void **state) {
  (void)state;
  static const struct {
    uint64_t bytes;
    const char *text;
  } cases[] = {
      {0, "0 B"},
      {1023, "1023 B"},
      {1024, "1 KiB"},
      {1536, "1.5 KiB"},
      {1048575, "1.0 MiB"},
      {1048560, "1.0 MiB"},
      {1048000, "1023.4 KiB"},
      {(uint64_t)64 << 20, "64 MiB"},
      {(uint64_t)3 << 30, "3 GiB"},
      {(uint64_t)1 << 40, "1 TiB"},
      {(uint64_t)256 << 40, "256 TiB"},
      {(uint64_t)1 << 50, "1 PiB"},
      {(uint64_t)3 << 49, "1.5 PiB"},
      {(uint64_t)4096 << 50, "4096 PiB"}, /* no unit past PiB */
  };
  char buf[64];
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    ar__ctl_bytes(buf, sizeof buf, cases[i].bytes);
    if (strcmp(buf, cases[i].text) != 0)
      fail_msg("%llu bytes: \"%s\", want \"%s\"",
               (unsigned long long)cases[i].bytes, buf, cases[i].text);
  }
}

static void test_bytes_exact(void **state) {
  (void)state;
  char buf[64];
  assert_string_equal(ar__ctl_bytes_exact(buf, sizeof buf, 1023), "1023");
  assert_string_equal(ar__ctl_bytes_exact(buf, sizeof buf, 1024),
                      "1024 (1 KiB)");
  assert_string_equal(ar__ctl_bytes_exact(buf, sizeof buf, 1 << 20),
                      "1048576 (1 MiB)");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_bytes),
      cmocka_unit_test(test_bytes_exact),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
