/*
 * blockmap.c: building, rebuilding and checking the table of blockmap.h;
 * the lookups, inserts and removals are inline there. One allocation
 * holds a table: its slots, then a control byte per slot.
 */
#include "blockmap.h"

#include <stdbool.h>
#include <stdlib.h>

#include "ar/error.h"

#define INITIAL_GROUPS 8 /* 64 slots */

static size_t table_bytes(size_t groups) {
  return groups * AR__BLOCKMAP_GROUP * (sizeof(ar__blockent_t) + 1);
}

/* The slots the table may have full or deleted at once: 3/4 of them, so
 * that most groups have an empty slot and a probe rarely goes on. With
 * 7/8, as Abseil allows, buddy's replay of sqlite3-shop mispredicted 1.53
 * branches an operation against 1.13 (callgrind's branch simulation). */
static size_t table_limit(size_t groups) {
  return groups * AR__BLOCKMAP_GROUP / 4 * 3;
}

/* The entries under which a table of `groups` groups is made smaller: 1/8
 * of what it may hold (3/32 of its slots); none at the first size. */
static size_t shrink_limit(size_t groups) {
  return groups > INITIAL_GROUPS ? table_limit(groups) / 8 : 0;
}

/* Gives *m an empty table of `groups` groups (a power of two, >= 8),
 * keeping its mem, count, cache and pending entry. Returns 0, or AR_EINTERNAL
 * with *m unchanged. */
static int make_table(ar__blockmap_t *m, size_t groups) {
  ar__blockent_t *slots = ar__mem_alloc(m->mem, table_bytes(groups));
  if (!slots)
    return AR_EINTERNAL;
  size_t capacity = groups * AR__BLOCKMAP_GROUP;
  m->slots = slots;
  m->ctrl = (uint8_t *)(slots + capacity);
  memset(m->ctrl, AR__BLOCKMAP_EMPTY, capacity);
  m->gmask = groups - 1;
  m->shift = (unsigned)__builtin_clzll(groups) + 1;
  m->growth_left = table_limit(groups);
  m->shrink_below = shrink_limit(groups);
  m->deleted = 0;
  return 0;
}

/* Empties the pending slot and the cache. */
static void clear_outside(ar__blockmap_t *m) {
  m->pending.payload = AR__BLOCKMAP_NONE;
  for (unsigned i = 0; i < AR__BLOCKMAP_CACHE; i++)
    m->cache[i].payload = AR__BLOCKMAP_NONE;
}

int ar__blockmap_init(ar__blockmap_t *m, ar__mem_t *mem) {
  m->mem = mem;
  m->count = 0;
  clear_outside(m);
  return make_table(m, INITIAL_GROUPS);
}

void ar__blockmap_fini(ar__blockmap_t *m) {
  ar__mem_free(m->mem, m->slots, table_bytes(m->gmask + 1));
  m->slots = NULL;
  m->ctrl = NULL;
  m->gmask = m->growth_left = m->deleted = m->count = 0;
  clear_outside(m);
}

/* The entries outside the table: the pending one and the cache's. */
static size_t outside_entries(const ar__blockmap_t *m) {
  size_t n = m->pending.payload != AR__BLOCKMAP_NONE;
  for (unsigned i = 0; i < AR__BLOCKMAP_CACHE; i++)
    n += m->cache[i].payload != AR__BLOCKMAP_NONE;
  return n;
}

/* The entries of the table. */
static size_t table_entries(const ar__blockmap_t *m) {
  return m->count - outside_entries(m);
}

/* Moves the table's entries into a fresh table of `groups` groups. Returns
 * 0, or AR_EINTERNAL (the map is unchanged). */
static int rebuild_at(ar__blockmap_t *m, size_t groups) {
  size_t old = m->gmask + 1;
  ar__blockmap_t fresh = *m;
  if (make_table(&fresh, groups) != 0)
    return AR_EINTERNAL;
  for (size_t i = 0; i < old * AR__BLOCKMAP_GROUP; i++)
    if (m->ctrl[i] < AR__BLOCKMAP_EMPTY)
      ar__blockmap_place(&fresh, &m->slots[i]);
  ar__mem_free(m->mem, m->slots, table_bytes(old));
  *m = fresh;
  return 0;
}

int ar__blockmap_rebuild(ar__blockmap_t *m) {
  size_t groups = m->gmask + 1;
  bool grow = table_entries(m) > table_limit(groups) / 2;
  return rebuild_at(m, grow ? groups * 2 : groups);
}

void ar__blockmap_shrink(ar__blockmap_t *m) {
  size_t groups = m->gmask + 1, full = table_entries(m);
  while (groups > INITIAL_GROUPS && full <= table_limit(groups / 2) / 2)
    groups /= 2;
  /* Out of memory: not again at every removal, but once half of the
   * entries left have gone too. */
  if (rebuild_at(m, groups) != 0)
    m->shrink_below = m->count / 2;
}

/* Whether the full slot i is where its key's probe finds it: every group
 * the probe passes on the way is without an empty slot, and no other slot
 * it looks at holds the same key. Returns NULL or what is wrong. */
static const char *check_probe(const ar__blockmap_t *m, size_t i) {
  uint64_t payload = m->slots[i].payload;
  uint64_t h = ar__blockmap_hash(payload);
  if (m->ctrl[i] != ar__blockmap_tag(m, h))
    return "a slot's control byte is not its key's tag";
  size_t g = ar__blockmap_home(m, h);
  for (size_t step = 1; step <= m->gmask + 1; step++) {
    for (size_t s = g * AR__BLOCKMAP_GROUP; s < (g + 1) * AR__BLOCKMAP_GROUP;
         s++)
      if (s != i && m->ctrl[s] < AR__BLOCKMAP_EMPTY &&
          m->slots[s].payload == payload)
        return "a payload is in the table twice";
    if (g == i / AR__BLOCKMAP_GROUP)
      return NULL;
    if (ar__blockmap_match_empty(ar__blockmap_group(m, g)))
      return "an entry is cut off from its home group";
    g = (g + step) & m->gmask;
  }
  return "an entry is off its key's probe";
}

const char *ar__blockmap_verify(const ar__blockmap_t *m) {
  size_t groups = m->gmask + 1, full = 0, deleted = 0;
  if (groups < INITIAL_GROUPS || (groups & (groups - 1)) != 0 ||
      m->shift != (unsigned)__builtin_clzll(groups) + 1)
    return "the table's size is broken";
  if (m->shrink_below > shrink_limit(groups) || m->count < m->shrink_below)
    return "the table was not made smaller";
  for (size_t i = 0; i < groups * AR__BLOCKMAP_GROUP; i++) {
    uint8_t c = m->ctrl[i];
    if (c == AR__BLOCKMAP_EMPTY)
      continue;
    if (c == AR__BLOCKMAP_DELETED) {
      deleted++;
      continue;
    }
    if (c > 0x7F)
      return "a control byte is neither empty, deleted nor a tag";
    full++;
    const char *bad = check_probe(m, i);
    if (bad)
      return bad;
  }
  ar__blockmap_t table = *m;
  clear_outside(&table);
  if (m->pending.payload != AR__BLOCKMAP_NONE &&
      ar__blockmap_find(&table, m->pending.payload))
    return "the pending payload is in the table too";
  for (unsigned i = 0; i < AR__BLOCKMAP_CACHE; i++) {
    uint64_t payload = m->cache[i].payload;
    if (payload == AR__BLOCKMAP_NONE)
      continue;
    if (ar__blockmap_cached(m, ar__blockmap_hash(payload)) != &m->cache[i])
      return "a cached entry is not in its key's cache slot";
    if (payload == m->pending.payload || ar__blockmap_find(&table, payload))
      return "a cached payload is in the table or pending too";
  }
  if (full + outside_entries(m) != m->count)
    return "the entries do not add up to the count";
  if (deleted != m->deleted)
    return "the deleted slots do not add up to their count";
  if (full + deleted + m->growth_left != table_limit(groups))
    return "the room left does not match the full and deleted slots";
  return NULL;
}
