/*
 * test_socket_path.c: ar_socket_path, the default socket path that arenad
 * and its clients agree on (common/util/socket_path.c): $ARENAD_SOCKET
 * first, then $XDG_RUNTIME_DIR (absolute only), then /run/user/UID, then a
 * private directory in /tmp, created on request and refused when it is
 * not the user's own with mode 0700; and ar_socket_path_may_be_tmp, which
 * tells that directory's socket however a given path spells it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ar/error.h"
#include "ar/util.h"

static void test_env_first(void **state) {
  (void)state;
  char buf[AR_SOCKET_PATH_MAX];
  setenv("ARENAD_SOCKET", "/somewhere/s.sock", 1);
  setenv("XDG_RUNTIME_DIR", "/run/xdg", 1);
  assert_int_equal(ar_socket_path(buf, sizeof(buf), 0), 0);
  assert_string_equal(buf, "/somewhere/s.sock");
  /* The daemon reads the variable itself, in its own order. */
  assert_int_equal(ar_socket_path(buf, sizeof(buf), AR_SOCKET_PATH_NO_ENV), 0);
  assert_string_equal(buf, "/run/xdg/arenad.sock");
  setenv("ARENAD_SOCKET", "", 1); /* empty: as if unset */
  assert_int_equal(ar_socket_path(buf, sizeof(buf), 0), 0);
  assert_string_equal(buf, "/run/xdg/arenad.sock");
  unsetenv("ARENAD_SOCKET");
  unsetenv("XDG_RUNTIME_DIR");
}

static void test_too_long(void **state) {
  (void)state;
  char buf[AR_SOCKET_PATH_MAX], small[8], env[200];
  memset(env, 'a', sizeof(env) - 1);
  env[0] = '/';
  env[sizeof(env) - 1] = '\0';
  setenv("ARENAD_SOCKET", env, 1);
  assert_int_equal(ar_socket_path(buf, sizeof(buf), 0), AR_ELIMIT);
  setenv("ARENAD_SOCKET", "/a/b/c/d/e", 1);
  assert_int_equal(ar_socket_path(small, sizeof(small), 0), AR_ELIMIT);
  assert_int_equal(ar_socket_path(NULL, 10, 0), AR_EINVAL);
  /* The bound is the socket address's, not the buffer's: 107 bytes and
   * the NUL fit in sun_path, 108 do not, however large the buffer. */
  char big[256];
  memset(env, 'a', sizeof(env));
  env[0] = '/';
  env[AR_SOCKET_PATH_MAX - 1] = '\0';
  setenv("ARENAD_SOCKET", env, 1);
  assert_int_equal(ar_socket_path(big, sizeof(big), 0), 0);
  assert_string_equal(big, env);
  env[AR_SOCKET_PATH_MAX - 1] = 'a';
  env[AR_SOCKET_PATH_MAX] = '\0';
  setenv("ARENAD_SOCKET", env, 1);
  assert_int_equal(ar_socket_path(big, sizeof(big), 0), AR_ELIMIT);
  unsetenv("ARENAD_SOCKET");
}

/* The /tmp fallback, when this machine has no /run/user/UID. */
static void test_tmp_fallback(void **state) {
  (void)state;
  char run[64], dir[64], buf[AR_SOCKET_PATH_MAX];
  struct stat st;
  snprintf(run, sizeof(run), "/run/user/%u", (unsigned)getuid());
  if (stat(run, &st) == 0) {
    skip(); /* the runtime directory wins here */
    return;
  }
  unsetenv("ARENAD_SOCKET");
  setenv("XDG_RUNTIME_DIR", "relative/dir", 1); /* ignored: not absolute */
  snprintf(dir, sizeof(dir), "/tmp/arenad-%u", (unsigned)getuid());
  bool existed = stat(dir, &st) == 0;

  assert_int_equal(ar_socket_path(buf, sizeof(buf), AR_SOCKET_PATH_CREATE),
                   0);
  char want[96];
  snprintf(want, sizeof(want), "%s/arenad.sock", dir);
  assert_string_equal(buf, want);
  assert_int_equal(lstat(dir, &st), 0);
  assert_true(S_ISDIR(st.st_mode));
  assert_int_equal(st.st_mode & 077, 0);

  /* Opened up to others: refused, and named. */
  if (!existed) {
    assert_int_equal(chmod(dir, 0755), 0);
    assert_int_equal(ar_socket_path(buf, sizeof(buf), 0), AR_EPERM);
    assert_string_equal(buf, dir);
    assert_int_equal(chmod(dir, 0700), 0);
    rmdir(dir);
    /* Missing without CREATE: the path anyway (no daemon there yet). */
    assert_int_equal(ar_socket_path(buf, sizeof(buf), 0), 0);
    assert_string_equal(buf, want);
    assert_int_equal(lstat(dir, &st), -1);
  }
  unsetenv("XDG_RUNTIME_DIR");
}

/* Whether test_tmp_fallback_refusals made things in /tmp for its
 * teardown to remove, even after a failed assertion. */
static bool refusals_made;

static int refusals_teardown(void **state) {
  (void)state;
  if (refusals_made) {
    char dir[64], target[80];
    snprintf(dir, sizeof(dir), "/tmp/arenad-%u", (unsigned)getuid());
    snprintf(target, sizeof(target), "%s.target", dir);
    if (rmdir(dir) < 0)
      unlink(dir);
    rmdir(target);
    refusals_made = false;
  }
  return 0;
}

/* The /tmp fallback refused whatever is there but a directory of ours
 * that nobody else may enter: open to others alone, a file, a symlink to a
 * private directory, another user's directory. Only when the directory is
 * not there already (it is made here, and removed by the teardown). */
static void test_tmp_fallback_refusals(void **state) {
  (void)state;
  char run[64], dir[64], target[80], buf[AR_SOCKET_PATH_MAX];
  struct stat st;
  snprintf(run, sizeof(run), "/run/user/%u", (unsigned)getuid());
  snprintf(dir, sizeof(dir), "/tmp/arenad-%u", (unsigned)getuid());
  snprintf(target, sizeof(target), "%s.target", dir);
  if (stat(run, &st) == 0 || lstat(dir, &st) == 0 || lstat(target, &st) == 0) {
    skip(); /* the runtime directory wins, or the directory is in use */
    return;
  }
  refusals_made = true;
  unsetenv("ARENAD_SOCKET");
  unsetenv("XDG_RUNTIME_DIR");

  /* Searchable by others only: still refused. */
  assert_int_equal(mkdir(dir, 0700), 0);
  assert_int_equal(chmod(dir, 0701), 0);
  assert_int_equal(ar_socket_path(buf, sizeof(buf), AR_SOCKET_PATH_CREATE),
                   AR_EPERM);
  assert_string_equal(buf, dir);
  assert_int_equal(chmod(dir, 0700), 0);
  /* Another user's, mode 0700: refused (only root can give it away). */
  if (chown(dir, 65534, (gid_t)-1) == 0) {
    assert_int_equal(ar_socket_path(buf, sizeof(buf), 0), AR_EPERM);
    assert_int_equal(chown(dir, getuid(), (gid_t)-1), 0);
  }
  assert_int_equal(ar_socket_path(buf, sizeof(buf), 0), 0);
  assert_int_equal(rmdir(dir), 0);

  /* A file of ours, mode 0600, in its place: refused, not used. */
  FILE *f = fopen(dir, "w");
  assert_non_null(f);
  fclose(f);
  assert_int_equal(chmod(dir, 0600), 0);
  assert_int_equal(ar_socket_path(buf, sizeof(buf), AR_SOCKET_PATH_CREATE),
                   AR_EPERM);
  assert_int_equal(ar_socket_path(buf, sizeof(buf), 0), AR_EPERM);
  assert_int_equal(unlink(dir), 0);

  /* A symlink to a private directory of ours: refused, not followed. */
  assert_int_equal(mkdir(target, 0700), 0);
  assert_int_equal(symlink(target, dir), 0);
  assert_int_equal(ar_socket_path(buf, sizeof(buf), AR_SOCKET_PATH_CREATE),
                   AR_EPERM);
  assert_int_equal(unlink(dir), 0);
  assert_int_equal(rmdir(target), 0);
}

/* The /tmp fallback's socket however it is spelled, as a client given a
 * path checks it: extra slashes, "." and "..", relative to the working
 * directory, or through a symlink. A path that cannot be resolved may be
 * it too (its directory's owner could have removed it since the
 * connect); other paths that exist are not. */
static void test_may_be_tmp(void **state) {
  (void)state;
  char fb[64], path[PATH_MAX];
  unsigned uid = (unsigned)getuid();
  snprintf(fb, sizeof fb, "/tmp/arenad-%u/arenad.sock", uid);
  static const char *const spelled[] = {
      "%s",
      "/%s",
      "/tmp/./arenad-%u/arenad.sock",
      "/tmp//arenad-%u//arenad.sock",
      "/tmp/arenad-%u/./arenad.sock",
      "/tmp/arenad-%u/../arenad-%u/arenad.sock",
      "/no-such-dir/../tmp/arenad-%u/arenad.sock",
      "/../tmp/arenad-%u/arenad.sock",
  };
  for (size_t i = 0; i < sizeof spelled / sizeof spelled[0]; i++) {
    if (i == 0 || i == 1)
      snprintf(path, sizeof path, spelled[i], fb);
    else
      snprintf(path, sizeof path, spelled[i], uid, uid);
    if (!ar_socket_path_may_be_tmp(path))
      fail_msg("%s: not the /tmp fallback", path);
  }

  char cwd[PATH_MAX], rel[64];
  assert_non_null(getcwd(cwd, sizeof cwd));
  assert_int_equal(chdir("/tmp"), 0);
  snprintf(rel, sizeof rel, "arenad-%u/arenad.sock", uid);
  bool relative = ar_socket_path_may_be_tmp(rel);
  assert_int_equal(chdir("/"), 0);
  snprintf(rel, sizeof rel, "tmp/arenad-%u/arenad.sock", uid);
  relative = relative && ar_socket_path_may_be_tmp(rel);
  assert_int_equal(chdir(cwd), 0);
  assert_true(relative);

  /* a symlink to it, and to a file elsewhere */
  char dir[] = "/tmp/arenad-spell-XXXXXX", link[64], file[64];
  assert_non_null(mkdtemp(dir));
  snprintf(link, sizeof link, "%s/link", dir);
  snprintf(file, sizeof file, "%s/file", dir);
  assert_int_equal(symlink(fb, link), 0);
  bool via_link = ar_socket_path_may_be_tmp(link);
  FILE *f = fopen(file, "w");
  assert_non_null(f);
  fclose(f);
  bool elsewhere = ar_socket_path_may_be_tmp(file);
  unlink(link);
  assert_int_equal(symlink(file, link), 0);
  bool link_elsewhere = ar_socket_path_may_be_tmp(link);
  unlink(link);
  unlink(file);
  rmdir(dir);
  assert_true(via_link);
  assert_false(elsewhere);
  assert_false(link_elsewhere);
  assert_false(ar_socket_path_may_be_tmp("/"));
  /* gone since the connect, or never there: cannot be told apart */
  assert_true(ar_socket_path_may_be_tmp("/no-such-dir/arenad.sock"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_env_first),
      cmocka_unit_test(test_too_long),
      cmocka_unit_test(test_tmp_fallback),
      cmocka_unit_test_teardown(test_tmp_fallback_refusals, refusals_teardown),
      cmocka_unit_test(test_may_be_tmp),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
