/*
 * open_fds.h: open_fds, the number of descriptors this process has open,
 * which the tests of code that opens and closes descriptors compare before
 * and after. Header only; usable outside cmocka (the fuzzers include it).
 */
#ifndef AR_TESTS_OPEN_FDS_H
#define AR_TESTS_OPEN_FDS_H

#include <dirent.h>

/* The descriptors open in this process (the one that reads them not
 * counted), or -1 when /proc/self/fd cannot be read. */
static inline int open_fds(void) {
  DIR *d = opendir("/proc/self/fd");
  if (d == NULL)
    return -1;
  int n = 0;
  while (readdir(d) != NULL)
    n++;
  closedir(d);
  return n - 3; /* ".", ".." and the directory's own descriptor */
}

#endif /* AR_TESTS_OPEN_FDS_H */
