/*
 * test_data.h: where the tests find the public traces (tests/data/).
 *
 * ctest passes the directory in $AR_TEST_DATA; a test binary run by hand
 * falls back to the path the build compiled in (AR_TEST_DATA_DIR, set by
 * ar_add_test in tests/CMakeLists.txt), so that it finds them from any
 * working directory. Header only.
 */
#ifndef AR_TESTS_TEST_DATA_H
#define AR_TESTS_TEST_DATA_H

#include <stdlib.h>

/* The directory of the public traces; not owned by the caller. */
static inline const char *ar_test_data_dir(void) {
  const char *dir = getenv("AR_TEST_DATA");
  return dir != NULL ? dir : AR_TEST_DATA_DIR;
}

#endif /* AR_TESTS_TEST_DATA_H */
