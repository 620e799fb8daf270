/*
 * tmpdir.h: a temporary directory for one test, as cmocka setup and
 * teardown functions: tmpdir_make creates it and makes a tmpdir_t the
 * test's state; tmpdir_remove deletes every file in it, the directory and
 * the state. Header only; include after cmocka.h.
 */
#ifndef AR_TESTS_TMPDIR_H
#define AR_TESTS_TMPDIR_H

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

typedef struct tmpdir_s {
  char path[64]; /* the directory */
  char buf[256]; /* the last path tmpdir_file made */
} tmpdir_t;

static inline int tmpdir_make(void **state) {
  tmpdir_t *d = calloc(1, sizeof *d);
  if (d == NULL)
    return -1;
  snprintf(d->path, sizeof d->path, "/tmp/arenad_test.XXXXXX");
  if (mkdtemp(d->path) == NULL) {
    free(d);
    return -1;
  }
  *state = d;
  return 0;
}

static inline int tmpdir_remove(void **state) {
  tmpdir_t *d = *state;
  DIR *dir = opendir(d->path);
  if (dir != NULL) {
    for (struct dirent *e; (e = readdir(dir)) != NULL;)
      if (e->d_name[0] != '.')
        unlinkat(dirfd(dir), e->d_name, 0);
    closedir(dir);
  }
  int rc = rmdir(d->path);
  free(d);
  return rc;
}

/* The path of `name` in the directory, in d->buf until the next call. */
static inline const char *tmpdir_file(tmpdir_t *d, const char *name) {
  snprintf(d->buf, sizeof d->buf, "%s/%s", d->path, name);
  return d->buf;
}

#endif /* AR_TESTS_TMPDIR_H */
