/*
 * test_client_nomem.c: the client library when its own memory runs out,
 * against the fake daemon (fake_daemon.h). Linked with the static library
 * and malloc wrapped (tests/unit/CMakeLists.txt), so that the test decides
 * which of the library's allocations fail: a reply the library has no
 * memory to unpack must say so, not call the daemon's bytes garbage.
 */
#include "fake_daemon.h"

#include <stdlib.h>
#include <string.h>

void *__real_malloc(size_t n);
void *__wrap_malloc(size_t n);

/* While set, every malloc below this size fails: the allocations of one
 * unpacked submessage, not the read buffer's (which is larger). */
static size_t fail_below;

void *__wrap_malloc(size_t n) {
  return n < fail_below ? NULL : __real_malloc(n);
}

/* A ping answered by a reply whose unpacking spills past the library's
 * scratch memory (two thousand empty extents: a few KiB of frame, some
 * 80 KiB unpacked) while malloc fails: the handle breaks with
 * AR_EINTERNAL and says it had no memory, where "not a Response" would
 * blame the daemon. */
static void test_reply_without_memory(void **state) {
  fixture_t *f = *state;
  empty_extents_t x;
  empty_extents_init(&x, 1, 2000);
  send_reply(f->srv, &x.r);
  empty_extents_fini(&x);

  /* The request goes out first: only the reading runs out of memory. */
  assert_int_equal(arenad_submit_ping(f->h, 7), 0);
  assert_int_equal(arenad_flush(f->h), 0);
  arenad_result_t res;
  fail_below = 1024;
  int rc = arenad_collect(f->h, &res);
  fail_below = 0;
  assert_int_equal(rc, AR_EINTERNAL);
  assert_non_null(strstr(arenad_error(f->h), "no memory to unpack"));
  /* The handle is broken, and keeps the reason. */
  assert_int_equal(arenad_ping(f->h), AR_EIO);
  assert_non_null(strstr(arenad_error(f->h), "no memory to unpack"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_reply_without_memory, setup,
                                      teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
