/*
 * bigmem.c: anonymous mappings for the large arrays of a trace, in 2 MiB
 * units with transparent huge pages requested. The reason is measured, not
 * assumed: on the project's virtual machines a 4 KiB page fault costs about
 * 25 microseconds, so filling a 40 MB array of operations through malloc
 * spent more time in page faults than in parsing. With huge pages the
 * same array takes twenty faults. Where huge pages are unavailable the
 * advice is ignored and everything still works.
 */
#include <stddef.h>
#include <sys/mman.h>

#include "trace_internal.h"

#define BIG_UNIT ((size_t)2 << 20)

size_t ar__big_size(size_t bytes) {
  if (bytes > SIZE_MAX - BIG_UNIT)
    return 0;
  return (bytes + BIG_UNIT - 1) / BIG_UNIT * BIG_UNIT;
}

void *ar__big_alloc(size_t bytes) {
  size_t size = ar__big_size(bytes);
  if (size == 0)
    return NULL;
  void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED)
    return NULL;
  (void)madvise(p, size, MADV_HUGEPAGE); /* advice only */
  return p;
}

void *ar__big_grow(void *p, size_t old, size_t bytes) {
  size_t size = ar__big_size(bytes);
  if (size == 0)
    return NULL;
  if (p == NULL)
    return ar__big_alloc(bytes);
  old = ar__big_size(old);
  if (size <= old)
    return p;
  void *q = mremap(p, old, size, MREMAP_MAYMOVE);
  if (q == MAP_FAILED)
    return NULL;
  (void)madvise(q, size, MADV_HUGEPAGE);
  return q;
}

void ar__big_free(void *p, size_t bytes) {
  if (p != NULL)
    (void)munmap(p, ar__big_size(bytes));
}
