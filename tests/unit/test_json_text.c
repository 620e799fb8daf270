/*
 * test_json_text.c: arenactl's JSON strings of text that need not be
 * UTF-8 (client/arenactl/json_text.c, compiled in): well-formed UTF-8
 * goes through unchanged, up to four-byte sequences; every byte that
 * begins no well-formed sequence (a stray continuation, an overlong form,
 * a surrogate, past U+10FFFF, a sequence cut short) becomes U+FFFD, and
 * what follows it is read again from the next byte.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ctl.h"

#define FFFD "\xEF\xBF\xBD"

static void test_text(void **state) {
  (void)state;
  static const struct {
    const char *in, *out;
  } cases[] = {
      {"", ""},
      {"alpha", "alpha"},
      {"caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80", /* é € 😀 */
       "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"},
      {"\xEF\xBF\xBF\xF4\x8F\xBF\xBF", "\xEF\xBF\xBF\xF4\x8F\xBF\xBF"},
      {"a\xFF"
       "b",
       "a" FFFD "b"},
      {"\x80\xBF", FFFD FFFD},                   /* continuations alone */
      {"\xC0\xAF", FFFD FFFD},                   /* overlong '/' */
      {"\xE0\x80\xAF", FFFD FFFD FFFD},          /* overlong, 3 bytes */
      {"\xF0\x80\x80\xAF", FFFD FFFD FFFD FFFD}, /* overlong, 4 bytes */
      {"\xED\xA0\x80", FFFD FFFD FFFD},          /* a surrogate, U+D800 */
      {"\xF4\x90\x80\x80", FFFD FFFD FFFD FFFD}, /* U+110000 */
      {"\xF5\x80", FFFD FFFD},
      {"\xE2\x82", FFFD FFFD},      /* cut short at the end */
      {"\xE2\x82z", FFFD FFFD "z"}, /* cut short before an ASCII byte */
      {"\xC3\xC3\xA9", FFFD "\xC3\xA9"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    json_t *j = ar__ctl_json_text(cases[i].in);
    if (j == NULL || !json_is_string(j) ||
        strcmp(json_string_value(j), cases[i].out) != 0)
      fail_msg("case %zu: got \"%s\"", i, j ? json_string_value(j) : "NULL");
    char *dumped = json_dumps(j, JSON_ENCODE_ANY);
    assert_non_null(dumped); /* valid JSON text */
    free(dumped);
    json_decref(j);
  }
  assert_null(ar__ctl_json_text(NULL));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_text),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
