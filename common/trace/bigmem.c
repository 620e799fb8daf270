/*
 * bigmem.c: memory for the large arrays of a trace. The reason is
 * measured, not assumed: on the project's virtual machines a 4 KiB page
 * fault costs about 17 microseconds and a 2 MiB transparent huge page
 * about 135, so filling a 40 MB array of operations through malloc spent
 * more time in page faults than in parsing. From 64 KiB on (16 small
 * pages cost more than one huge page), memory is an anonymous mapping in
 * 2 MiB units with huge pages requested; below that it comes from malloc,
 * so that a small trace touches a few small pages instead of zeroing a
 * huge one. Growing across the line copies once; growing a mapping remaps
 * without copying. Where huge pages are unavailable the advice is ignored
 * and everything still works.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "trace_internal.h"

#define BIG_UNIT ((size_t)2 << 20)

#define BIG_MIN ((size_t)64 << 10) /* smaller requests come from malloc */

static bool is_big(size_t size) { return size >= BIG_MIN; }

size_t ar__big_size(size_t bytes) {
  if (!is_big(bytes))
    return bytes ? bytes : 1;
  if (bytes > SIZE_MAX - BIG_UNIT)
    return 0;
  return (bytes + BIG_UNIT - 1) / BIG_UNIT * BIG_UNIT;
}

void *ar__big_alloc(size_t bytes) {
  size_t size = ar__big_size(bytes);
  if (size == 0)
    return NULL;
  if (!is_big(size))
    return malloc(size);
  void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED)
    return NULL;
  (void)madvise(p, size, MADV_HUGEPAGE); /* advice only */
  return p;
}

void *ar__big_grow(void *p, size_t old, size_t bytes) {
  if (p == NULL)
    return ar__big_alloc(bytes);
  size_t size = ar__big_size(bytes);
  old = ar__big_size(old);
  if (size == 0)
    return NULL;
  if (size <= old)
    return p;
  if (!is_big(size))
    return realloc(p, size);
  if (!is_big(old)) { /* from malloc to a mapping: the one copy */
    void *q = ar__big_alloc(size);
    if (q != NULL) {
      memcpy(q, p, old);
      free(p);
    }
    return q;
  }
  void *q = mremap(p, old, size, MREMAP_MAYMOVE);
  if (q == MAP_FAILED)
    return NULL;
  (void)madvise(q, size, MADV_HUGEPAGE);
  return q;
}

void ar__big_free(void *p, size_t bytes) {
  if (p == NULL)
    return;
  size_t size = ar__big_size(bytes);
  if (is_big(size))
    (void)munmap(p, size);
  else
    free(p);
}
