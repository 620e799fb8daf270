/*
 * blockmap.h: the engines' map of live blocks, keyed by payload offset
 * (internal to the engines).
 *
 * It is the engine's only record of what is allocated, in the engine's
 * private memory, never in the arena. An entry holds only what cannot be
 * derived: the payload offset and the requested size; the block's start
 * and size follow from them and the policy (engine_internal.h). Open
 * addressing with linear probing and backward-shift deletion (no
 * tombstones), 16-byte entries: a lookup is one or two cache lines whatever
 * the history of the table.
 *
 * The entry inserted last waits in a slot of its own after the table (the
 * pending slot) until the next insert puts it in its place, and its place
 * is prefetched meanwhile. With a million live blocks the table outgrows
 * the caches and that place is a cache miss; this way the miss overlaps
 * whatever the caller does next instead of stalling the insert, and a
 * block freed before the next allocation never enters the table at all.
 */
#ifndef AR_BLOCKMAP_H
#define AR_BLOCKMAP_H

#include <stddef.h>
#include <stdint.h>

#include "memacct.h"

#define AR__BLOCKMAP_EMPTY UINT64_MAX /* payload of an empty slot */

typedef struct ar__blockent_s {
  uint64_t payload; /* the key: the offset the client was given */
  uint64_t n;       /* requested bytes */
} ar__blockent_t;

typedef struct ar__blockmap_s {
  ar__blockent_t *slots; /* owned; the table's mask + 1 slots (a power of
                            two), then the pending slot */
  size_t mask;
  unsigned shift;          /* 64 - log2(mask + 1): see ar__blockmap_home */
  ar__blockent_t *pending; /* &slots[mask + 1], kept: every call asks */
  size_t limit;   /* 70 % of the table: a reserve below it cannot grow */
  size_t count;   /* entries, the pending one included */
  ar__mem_t *mem; /* the engine's memory count; not owned */
} ar__blockmap_t;

/* Returns 0, or AR_EINTERNAL when memory runs out. The slots are counted
 * in *mem, which must outlive the map. */
int ar__blockmap_init(ar__blockmap_t *m, ar__mem_t *mem);
void ar__blockmap_fini(ar__blockmap_t *m);

/* Doubles the table. Returns 0, or AR_EINTERNAL (the map is unchanged). */
int ar__blockmap_grow(ar__blockmap_t *m);

/* The lookups are inline: every allocation and free makes one. */

/* The slot a payload's probe starts at: the top bits of a Fibonacci
 * multiply of its grain number (the top bits are the well-mixed ones:
 * payloads a few grains apart land far apart). */
static inline size_t ar__blockmap_home(const ar__blockmap_t *m,
                                       uint64_t payload) {
  uint64_t h = (payload >> 4) * UINT64_C(0x9E3779B97F4A7C15);
  return (size_t)(h >> m->shift);
}

/* The pending slot: its payload is AR__BLOCKMAP_EMPTY when it holds none. */
static inline ar__blockent_t *ar__blockmap_pending(const ar__blockmap_t *m) {
  return m->pending;
}

/* Makes room for one more entry, so that the next insert cannot fail: the
 * table's load stays under 70 %. Returns 0, or AR_EINTERNAL (the map is
 * unchanged). */
static inline int ar__blockmap_reserve(ar__blockmap_t *m) {
  if (m->count < m->limit)
    return 0;
  return ar__blockmap_grow(m);
}

/* The table's entry for `payload` (not the sentinel), the pending slot
 * aside, or NULL. */
static inline ar__blockent_t *ar__blockmap_lookup(const ar__blockmap_t *m,
                                                  uint64_t payload) {
  for (size_t i = ar__blockmap_home(m, payload);; i = (i + 1) & m->mask) {
    ar__blockent_t *slot = &m->slots[i];
    if (slot->payload == payload)
      return slot;
    if (slot->payload == AR__BLOCKMAP_EMPTY)
      return NULL;
  }
}

/* The entry for `payload`, or NULL. The pointer is valid until the next
 * insert, reserve or remove. */
static inline ar__blockent_t *ar__blockmap_find(const ar__blockmap_t *m,
                                                uint64_t payload) {
  if (payload == AR__BLOCKMAP_EMPTY) /* the sentinel is never a key */
    return NULL;
  if (ar__blockmap_pending(m)->payload == payload)
    return ar__blockmap_pending(m);
  return ar__blockmap_lookup(m, payload);
}

/* Puts an entry in its place in the table (not counted here). */
static inline void ar__blockmap_place(ar__blockmap_t *m,
                                      const ar__blockent_t *ent) {
  size_t i = ar__blockmap_home(m, ent->payload);
  while (m->slots[i].payload != AR__BLOCKMAP_EMPTY)
    i = (i + 1) & m->mask;
  m->slots[i] = *ent;
}

/* Adds an entry whose payload is not in the map; needs a reserve first. It
 * becomes the pending entry; the one pending before takes its place in the
 * table. */
static inline void ar__blockmap_insert(ar__blockmap_t *m,
                                       const ar__blockent_t *ent) {
  ar__blockent_t *pending = ar__blockmap_pending(m);
  if (pending->payload != AR__BLOCKMAP_EMPTY)
    ar__blockmap_place(m, pending);
  *pending = *ent;
  m->count++;
  __builtin_prefetch(&m->slots[ar__blockmap_home(m, ent->payload)], 1);
}

/* Removes the entry `ent` points to (from ar__blockmap_find). */
void ar__blockmap_remove(ar__blockmap_t *m, ar__blockent_t *ent);

/* Checks the map: every entry in the table can be found from its home
 * slot (no empty slot on the way), no payload is there twice, and the
 * entries, the pending one included, add up to `count`. Returns NULL when
 * all holds, or which of these failed. Linear in the table's size. */
const char *ar__blockmap_verify(const ar__blockmap_t *m);

#endif /* AR_BLOCKMAP_H */
