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
 */
#ifndef AR_BLOCKMAP_H
#define AR_BLOCKMAP_H

#include <stddef.h>
#include <stdint.h>

#define AR__BLOCKMAP_EMPTY UINT64_MAX /* payload of an empty slot */

typedef struct ar__blockent_s {
  uint64_t payload; /* the key: the offset the client was given */
  uint64_t n;       /* requested bytes */
} ar__blockent_t;

typedef struct ar__blockmap_s {
  ar__blockent_t *slots; /* owned; capacity = mask + 1, a power of two */
  size_t mask;
  size_t count;
} ar__blockmap_t;

/* Returns 0, or AR_EINTERNAL when memory runs out. */
int ar__blockmap_init(ar__blockmap_t *m);
void ar__blockmap_fini(ar__blockmap_t *m);

/* Makes room for one more entry, so that the next insert cannot fail.
 * Returns 0, or AR_EINTERNAL (the map is unchanged). */
int ar__blockmap_reserve(ar__blockmap_t *m);

/* The entry for `payload`, or NULL. The pointer is valid until the next
 * insert, reserve or remove. */
ar__blockent_t *ar__blockmap_find(const ar__blockmap_t *m, uint64_t payload);

/* Adds an entry whose payload is not in the map; needs a reserve first. */
void ar__blockmap_insert(ar__blockmap_t *m, const ar__blockent_t *ent);

/* Removes the entry `ent` points to (from ar__blockmap_find). */
void ar__blockmap_remove(ar__blockmap_t *m, ar__blockent_t *ent);

#endif /* AR_BLOCKMAP_H */
