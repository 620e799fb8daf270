/*
 * memacct.h: the engines' count of their own memory (internal to the
 * engines).
 *
 * Every byte an engine allocates, for its indexes and its record of live
 * blocks, goes through these wrappers, which add it to one counter per
 * engine and take it off again when it is freed; ar_engine_stats reports
 * the counter and its peak, so that inspection and the benchmark show
 * what an arena costs besides its segment. The figure is what was asked
 * of malloc: pages of a calloc that nothing has touched yet count,
 * although the kernel has not backed them.
 */
#ifndef AR_MEMACCT_H
#define AR_MEMACCT_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

typedef struct ar__mem_s {
  uint64_t bytes; /* allocated through the wrappers, not yet freed */
} ar__mem_t;

/* malloc(size), counted. NULL when memory runs out (nothing counted). */
static inline void *ar__mem_alloc(ar__mem_t *m, size_t size) {
  void *p = malloc(size);
  if (p)
    m->bytes += size;
  return p;
}

/* calloc(count, size), counted. */
static inline void *ar__mem_calloc(ar__mem_t *m, size_t count, size_t size) {
  void *p = calloc(count, size);
  if (p)
    m->bytes += count * size; /* calloc refuses a product that overflows */
  return p;
}

/* Frees p (NULL is fine), which was allocated through `m` with `size`
 * bytes. */
static inline void ar__mem_free(ar__mem_t *m, void *p, size_t size) {
  if (p) {
    m->bytes -= size;
    free(p);
  }
}

#endif /* AR_MEMACCT_H */
