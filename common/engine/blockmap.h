/*
 * blockmap.h: the engines' map of live blocks, keyed by payload offset
 * (internal to the engines).
 *
 * It is the engine's only record of what is allocated, in the engine's
 * private memory, never in the arena. An entry holds only what cannot be
 * derived: the payload offset and the requested size; the block's start
 * and size follow from them and the policy (engine_internal.h).
 *
 * Every allocation inserts and every free finds and removes, so the map is
 * built for branches that go the same way every time, which matters more
 * on a modern core than the instructions saved: a mispredicted branch
 * costs as much as some twenty instructions. It is an open-addressing
 * table in the style of Abseil's "Swiss tables": slots come in groups of
 * eight, and each slot has a control byte that says it is empty, deleted,
 * or full with seven more bits of its key's hash. A lookup reads the eight
 * control bytes of its key's group as one word and picks out, without a
 * branch per slot, the slots whose bits match; nearly always that is the
 * key's slot on the first try, and only a full group sends a probe on to
 * the next (triangular steps over the groups, which visit them all). A
 * removal leaves a deleted mark only where a probe may have passed the
 * group (it was full once), else the slot is empty again at once. The
 * table keeps at most 3/4 of its slots full or deleted and is rebuilt,
 * twice as large or at the same size to clear deleted marks, when it would
 * pass that. When removals leave it under 3/32 full it is rebuilt smaller,
 * 3/16 to 3/8 full, so that an engine's memory follows its live blocks
 * down as well as up; after a rebuild a table's entries must double, or
 * fall by at least half, before the next, so the rebuilds cost O(1) an
 * operation amortized.
 *
 * Most blocks die young: in sqlite3-shop and git-gc-perllib 96-99 % of the
 * frees hit one of the 16 latest allocations, in troff-bash-manpage a
 * third (97 % one of the 256 latest), in python3-compileall-email about
 * half. So an entry goes into the table only when it has lived a while. A
 * new entry takes its slot in a small cache in front of the table (256
 * slots, 4 KiB, direct-mapped: the slot is picked by eight bits of its
 * key's hash that the table does not use), and a lookup looks there first,
 * one compare; a block freed while its entry is still there never touches
 * the table. An insert whose cache slot is taken moves the older entry
 * out, into the pending slot, and the entry pending before it into the
 * table. The pending entry waits while its group is prefetched: with a
 * million live blocks the table outgrows the caches and that group is a
 * cache miss, which this way overlaps whatever the caller does next
 * instead of stalling the insert.
 */
#ifndef AR_BLOCKMAP_H
#define AR_BLOCKMAP_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "memacct.h"

#define AR__BLOCKMAP_CACHE 256 /* slots of the cache in front of the table */

typedef struct ar__blockent_s {
  uint64_t payload; /* the key: the offset the client was given */
  uint64_t n;       /* requested bytes */
} ar__blockent_t;

typedef struct ar__blockmap_s {
  ar__blockent_t *slots;  /* owned: the slots, then their control bytes, in
                             one allocation */
  uint8_t *ctrl;          /* a control byte per slot, inside that allocation */
  size_t gmask;           /* groups - 1; groups is a power of two, >= 8 */
  unsigned shift;         /* 64 - log2(groups): see ar__blockmap_hash */
  size_t growth_left;     /* slots that may still turn from empty to full */
  size_t deleted;         /* slots marked deleted */
  size_t count;           /* entries: the full slots, the cache's, the
                             pending one */
  size_t shrink_below;    /* a removal that leaves fewer entries makes the
                             table smaller; 0 at the smallest size */
  ar__blockent_t pending; /* payload AR__BLOCKMAP_NONE when it holds none */
  ar__mem_t *mem;         /* the engine's memory count; not owned */
  /* Young entries, outside the table, each in the slot its key's hash
   * picks (ar__blockmap_cached); payload AR__BLOCKMAP_NONE in a slot that
   * holds none. */
  ar__blockent_t cache[AR__BLOCKMAP_CACHE];
} ar__blockmap_t;

#define AR__BLOCKMAP_NONE UINT64_MAX /* the payload of no entry */
#define AR__BLOCKMAP_GROUP 8         /* slots a group, one control byte each */
#define AR__BLOCKMAP_EMPTY 0x80      /* control byte of an empty slot */
#define AR__BLOCKMAP_DELETED 0xFE    /* of a slot whose entry was removed */
/* A full slot's control byte is its key's tag, 0x00..0x7F: the high bit is
 * what tells full from empty and deleted. */

/* Returns 0, or AR_EINTERNAL when memory runs out. The table is counted in
 * *mem, which must outlive the map. */
int ar__blockmap_init(ar__blockmap_t *m, ar__mem_t *mem);
void ar__blockmap_fini(ar__blockmap_t *m);

/* Rebuilds the table: twice as large when more than half of what it may
 * hold is full slots, else at the same size without deleted marks. Returns
 * 0, or AR_EINTERNAL (the map is unchanged). */
int ar__blockmap_rebuild(ar__blockmap_t *m);

/* Rebuilds the table smaller, for entries that have fallen under
 * shrink_below: halved for as long as it would still be at most 3/8 full
 * (half of what it may hold), so that it ends 3/16 to 3/8 full, or at its
 * first size. When memory for it runs out the table stays as it is, to
 * be made smaller once half of the entries left are gone too. */
void ar__blockmap_shrink(ar__blockmap_t *m);

static inline size_t ar__blockmap_capacity(const ar__blockmap_t *m) {
  return (m->gmask + 1) * AR__BLOCKMAP_GROUP;
}

/* The lookups are inline: every allocation and free makes one. */

/* The key's hash: a Fibonacci multiply of its grain number, whose top bits
 * are the well mixed ones. They choose the home group; the seven below
 * them are the tag kept in the control byte. */
static inline uint64_t ar__blockmap_hash(uint64_t payload) {
  return (payload >> 4) * UINT64_C(0x9E3779B97F4A7C15);
}

static inline size_t ar__blockmap_home(const ar__blockmap_t *m, uint64_t h) {
  return (size_t)(h >> m->shift);
}

static inline uint8_t ar__blockmap_tag(const ar__blockmap_t *m, uint64_t h) {
  return (uint8_t)((h >> (m->shift - 7)) & 0x7F);
}

/* Eight control bytes at once: byte i of the word (counting from the
 * least significant) is slot i of the group. The masks below have a
 * byte's high bit set for each slot that matches. */
#define AR__BLOCKMAP_LSB UINT64_C(0x0101010101010101)
#define AR__BLOCKMAP_MSB UINT64_C(0x8080808080808080)

static inline uint64_t ar__blockmap_group(const ar__blockmap_t *m, size_t g) {
  uint64_t w;
  memcpy(&w, m->ctrl + g * AR__BLOCKMAP_GROUP, sizeof w);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  w = __builtin_bswap64(w);
#endif
  return w;
}

/* The full slots whose tag is `tag`. A byte right above a true match may
 * show up as a false one (the subtraction's borrow); the key comparison
 * that follows every match sorts those out. */
static inline uint64_t ar__blockmap_match(uint64_t w, uint8_t tag) {
  uint64_t x = w ^ (AR__BLOCKMAP_LSB * tag);
  return (x - AR__BLOCKMAP_LSB) & ~x & AR__BLOCKMAP_MSB;
}

/* The empty slots: high bit set, and bit 1 clear (0x80, not 0xFE). */
static inline uint64_t ar__blockmap_match_empty(uint64_t w) {
  return w & ~(w << 6) & AR__BLOCKMAP_MSB;
}

/* The slots an insert may take: empty or deleted (high bit set). */
static inline uint64_t ar__blockmap_match_free(uint64_t w) {
  return w & AR__BLOCKMAP_MSB;
}

/* The slot of group g that the lowest bit of a match mask stands for. */
static inline size_t ar__blockmap_slot(size_t g, uint64_t match) {
  return g * AR__BLOCKMAP_GROUP + ((unsigned)__builtin_ctzll(match) >> 3);
}

/* The cache slot of a key whose hash is h: bits 24-31 of the hash, below
 * the home group's and the tag's in any table of up to 2^28 slots (2^25
 * groups: 25 bits of home and 7 of tag), so that keys that share a cache
 * slot spread over the table's groups. */
static inline ar__blockent_t *ar__blockmap_cached(const ar__blockmap_t *m,
                                                  uint64_t h) {
  return (ar__blockent_t *)&m->cache[(h >> 24) % AR__BLOCKMAP_CACHE];
}

/* The entry for `payload`, or NULL. The pointer is valid until the next
 * insert, reserve or remove. */
static inline ar__blockent_t *ar__blockmap_find(const ar__blockmap_t *m,
                                                uint64_t payload) {
  /* The map is the caller's to change through the result. NONE, which an
   * empty cache or pending slot holds, is never a key. */
  if (payload == AR__BLOCKMAP_NONE)
    return NULL;
  uint64_t h = ar__blockmap_hash(payload);
  const ar__blockent_t *c = ar__blockmap_cached(m, h);
  if (c->payload == payload)
    return (ar__blockent_t *)c;
  if (m->pending.payload == payload)
    return (ar__blockent_t *)&m->pending;
  uint8_t tag = ar__blockmap_tag(m, h);
  size_t g = ar__blockmap_home(m, h);
  for (size_t step = 1;; step++) {
    uint64_t w = ar__blockmap_group(m, g);
    for (uint64_t hit = ar__blockmap_match(w, tag); hit; hit &= hit - 1) {
      ar__blockent_t *slot = &m->slots[ar__blockmap_slot(g, hit)];
      if (slot->payload == payload)
        return slot;
    }
    if (ar__blockmap_match_empty(w))
      return NULL; /* a probe for the key would have stopped here */
    g = (g + step) & m->gmask;
  }
}

/* Makes room for one more entry in the table (for the pending one, which
 * the next insert may put there), so that the next insert cannot fail.
 * Returns 0, or AR_EINTERNAL (the map is unchanged). */
static inline int ar__blockmap_reserve(ar__blockmap_t *m) {
  if (m->growth_left > 0)
    return 0;
  return ar__blockmap_rebuild(m);
}

/* Puts an entry whose payload is not in the table in the first empty or
 * deleted slot of its key's probe; needs a reserve first. */
static inline void ar__blockmap_place(ar__blockmap_t *m,
                                      const ar__blockent_t *ent) {
  uint64_t h = ar__blockmap_hash(ent->payload);
  size_t g = ar__blockmap_home(m, h);
  uint64_t free_slots;
  for (size_t step = 1;
       !(free_slots = ar__blockmap_match_free(ar__blockmap_group(m, g)));
       step++)
    g = (g + step) & m->gmask;
  size_t i = ar__blockmap_slot(g, free_slots);
  /* Without branches: either way is common, and a guess costs more. */
  size_t was_deleted = m->ctrl[i] == AR__BLOCKMAP_DELETED;
  m->deleted -= was_deleted;
  m->growth_left -= 1 - was_deleted;
  m->ctrl[i] = ar__blockmap_tag(m, h);
  m->slots[i] = *ent;
}

/* Adds an entry whose payload is not in the map; needs a reserve first. It
 * takes its cache slot. An older entry there becomes the pending one, its
 * group prefetched, and the one pending before takes its place in the
 * table. */
static inline void ar__blockmap_insert(ar__blockmap_t *m,
                                       const ar__blockent_t *ent) {
  ar__blockent_t *c = ar__blockmap_cached(m, ar__blockmap_hash(ent->payload));
  if (c->payload != AR__BLOCKMAP_NONE) {
    if (m->pending.payload != AR__BLOCKMAP_NONE)
      ar__blockmap_place(m, &m->pending);
    m->pending = *c;
    size_t g = ar__blockmap_home(m, ar__blockmap_hash(c->payload));
    __builtin_prefetch(m->ctrl + g * AR__BLOCKMAP_GROUP, 1);
    __builtin_prefetch(&m->slots[g * AR__BLOCKMAP_GROUP], 1);
  }
  *c = *ent;
  m->count++;
}

/* Removes the entry `ent` points to (from ar__blockmap_find), which is
 * then no longer valid (nor is any other entry pointer, should the table
 * be made smaller). A slot whose group has an empty slot was never in a
 * full group, so no probe went past it and it can be empty again;
 * otherwise it is marked deleted. */
static inline void ar__blockmap_remove(ar__blockmap_t *m, ar__blockent_t *ent) {
  m->count--;
  /* As integers: a table slot is no element of the cache, and C compares
   * pointers for order only within one array. */
  if (ent == &m->pending ||
      (uintptr_t)ent - (uintptr_t)m->cache < sizeof m->cache) {
    ent->payload = AR__BLOCKMAP_NONE;
  } else {
    size_t i = (size_t)(ent - m->slots);
    size_t empty = ar__blockmap_match_empty(
                       ar__blockmap_group(m, i / AR__BLOCKMAP_GROUP)) != 0;
    m->ctrl[i] = empty ? AR__BLOCKMAP_EMPTY : AR__BLOCKMAP_DELETED;
    m->growth_left += empty;
    m->deleted += 1 - empty;
  }
  if (m->count < m->shrink_below)
    ar__blockmap_shrink(m);
}

/* Checks the map: every control byte is empty, deleted or a tag; every
 * full slot's tag is its key's, and its key's probe reaches it without
 * passing a group with an empty slot or another slot with the same key;
 * every cached entry is in its key's cache slot, and no cached or pending
 * payload is also in the table (or both cached and pending); the full
 * slots, the cached and the pending entries add up to `count`, the deleted
 * slots to `deleted`, and with growth_left to what the table may still
 * take; the table is no larger than shrink_below allows (count is not
 * under it, which is at most what the table's size gives). Returns NULL
 * when all holds, or which of these failed. Linear in the table's size. */
const char *ar__blockmap_verify(const ar__blockmap_t *m);

#endif /* AR_BLOCKMAP_H */
