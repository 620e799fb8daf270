/*
 * arenad_assert.h: assert_arenad_ok, the tests' assertion on a libarenad
 * call, which fails with the library's own words (the code's name and
 * arenad_error's sentence) when the call does not return 0. Header only;
 * include after cmocka.h.
 */
#ifndef AR_TESTS_ARENAD_ASSERT_H
#define AR_TESTS_ARENAD_ASSERT_H

#include "arenad.h"

/* Fails with the library's own words when rc is not 0. */
#define assert_arenad_ok(h, rc)                                                \
  do {                                                                         \
    int rc_ = (rc);                                                            \
    if (rc_ != 0)                                                              \
      fail_msg("%s: %s (%s)", #rc, ar_err_name(rc_), arenad_error(h));         \
  } while (0)

#endif /* AR_TESTS_ARENAD_ASSERT_H */
