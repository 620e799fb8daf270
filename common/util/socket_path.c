/*
 * socket_path.c: ar_socket_path, the one place that decides where arenad's
 * socket lives when nobody says, so that the daemon and every client find
 * each other with no configuration. A per-user runtime directory is
 * preferred (it is private to the user already); the /tmp fallback is a
 * directory of the user's own with mode 0700, checked rather than trusted,
 * because anyone can create a name in /tmp before us; and
 * ar_socket_path_may_be_tmp, which tells a client whether a path it
 * connected to, however spelled, may be that directory's socket.
 */
#include "ar/util.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ar/error.h"

/* Writes "dir/name" (or "dir" when name is NULL) to buf. Returns 0, or
 * AR_ELIMIT when it does not fit in len or in a socket address. */
static int put_path(char *buf, size_t len, const char *dir, const char *name) {
  size_t max = len < AR_SOCKET_PATH_MAX ? len : AR_SOCKET_PATH_MAX;
  int n = name ? snprintf(buf, len, "%s/%s", dir, name)
               : snprintf(buf, len, "%s", dir);
  if (n < 0 || (size_t)n >= max)
    return AR_ELIMIT;
  return 0;
}

/* Makes sure `dir` is a directory of ours that nobody else can enter,
 * creating it when `create`. A missing directory without `create` is
 * fine: there is simply no daemon there. */
static int private_dir(const char *dir, bool create) {
  struct stat st;

  if (create && mkdir(dir, 0700) < 0 && errno != EEXIST)
    return AR_EIO;
  if (lstat(dir, &st) < 0) {
    if (errno == ENOENT && !create)
      return 0;
    return AR_EIO;
  }
  if (!S_ISDIR(st.st_mode) || st.st_uid != getuid() ||
      (st.st_mode & 077) != 0)
    return AR_EPERM;
  return 0;
}

/* The user's /tmp fallback directory, "/tmp/arenad-UID", in dir (64
 * bytes hold it). */
static void tmp_dir(char dir[64]) {
  snprintf(dir, 64, "/tmp/arenad-%lu", (unsigned long)getuid());
}

/* Writes to out (len bytes) `path` made absolute (from the working
 * directory) and lexically normal: no empty or "." components, and each
 * ".." takes the one before it off. Reads no file but the working
 * directory's name, so what a directory's owner does to it cannot change
 * the answer. Returns false when the result does not fit or the working
 * directory cannot be told. */
static bool normal_path(const char *path, char *out, size_t len) {
  size_t n = 0;
  if (path[0] != '/') {
    if (getcwd(out, len) == NULL)
      return false;
    n = strlen(out);
    if (n == 1)
      n = 0; /* "/": the components below add their own slashes */
  }
  for (const char *p = path; *p != '\0';) {
    p += strspn(p, "/");
    size_t k = strcspn(p, "/");
    if (k == 2 && p[0] == '.' && p[1] == '.') {
      while (n > 0 && out[--n] != '/')
        ;
    } else if (k > 0 && !(k == 1 && p[0] == '.')) {
      if (n + 1 + k >= len)
        return false;
      out[n++] = '/';
      memcpy(out + n, p, k);
      n += k;
    }
    p += k;
  }
  if (n == 0)
    out[n++] = '/';
  out[n] = '\0';
  return true;
}

bool ar_socket_path_may_be_tmp(const char *path) {
  char dir[64], tmp[64 + sizeof(AR_SOCKET_NAME)], buf[PATH_MAX],
      real_tmp[PATH_MAX];
  tmp_dir(dir);
  snprintf(tmp, sizeof(tmp), "%s/" AR_SOCKET_NAME, dir);
  if (normal_path(path, buf, sizeof buf) && strcmp(buf, tmp) == 0)
    return true;
  if (realpath(path, buf) == NULL)
    return true; /* gone or changed since: cannot be told apart */
  return strcmp(buf, tmp) == 0 ||
         (realpath(tmp, real_tmp) != NULL && strcmp(buf, real_tmp) == 0);
}

int ar_socket_path(char *buf, size_t len, unsigned flags) {
  if (buf == NULL || len == 0)
    return AR_EINVAL;

  if ((flags & AR_SOCKET_PATH_NO_ENV) == 0) {
    const char *env = getenv(AR_SOCKET_ENV);
    if (env != NULL && env[0] != '\0')
      return put_path(buf, len, env, NULL);
  }

  /* The XDG base directory spec: a relative value is to be ignored. */
  const char *xdg = getenv("XDG_RUNTIME_DIR");
  if (xdg != NULL && xdg[0] == '/')
    return put_path(buf, len, xdg, AR_SOCKET_NAME);

  char dir[64];
  struct stat st;
  snprintf(dir, sizeof(dir), "/run/user/%lu", (unsigned long)getuid());
  if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
    return put_path(buf, len, dir, AR_SOCKET_NAME);

  tmp_dir(dir);
  int rc = private_dir(dir, (flags & AR_SOCKET_PATH_CREATE) != 0);
  if (rc < 0) {
    int saved = errno;
    if (put_path(buf, len, dir, NULL) < 0)
      buf[0] = '\0';
    errno = saved;
    return rc;
  }
  return put_path(buf, len, dir, AR_SOCKET_NAME);
}
