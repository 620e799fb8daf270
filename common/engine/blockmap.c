/*
 * blockmap.c: the open-addressing hash map of blockmap.h. Keys are payload
 * offsets, multiples of 16, mixed by a Fibonacci multiply; the table keeps
 * its load under 70 % and doubles when it would pass that. Every slot
 * array has one slot more than its table: the pending slot.
 */
#include "blockmap.h"

#include <stdlib.h>

#include "ar/error.h"

#define INITIAL_CAPACITY 64

/* The bytes of a slot array for a table of `capacity` slots. */
static size_t slots_bytes(size_t capacity) {
  return (capacity + 1) * sizeof(ar__blockent_t);
}

/* A table of `capacity` empty slots and an empty pending slot. */
static ar__blockent_t *alloc_slots(ar__mem_t *mem, size_t capacity) {
  ar__blockent_t *slots = ar__mem_alloc(mem, slots_bytes(capacity));
  if (!slots)
    return NULL;
  for (size_t i = 0; i <= capacity; i++)
    slots[i].payload = AR__BLOCKMAP_EMPTY;
  return slots;
}

/* Makes `slots` (from alloc_slots) m's table of `capacity` slots. */
static void set_table(ar__blockmap_t *m, ar__blockent_t *slots,
                      size_t capacity) {
  m->slots = slots;
  m->mask = capacity - 1;
  m->shift = (unsigned)__builtin_clzll(capacity) + 1;
  m->pending = &slots[capacity];
  m->limit = capacity * 7 / 10;
}

int ar__blockmap_init(ar__blockmap_t *m, ar__mem_t *mem) {
  ar__blockent_t *slots = alloc_slots(mem, INITIAL_CAPACITY);
  if (!slots)
    return AR_EINTERNAL;
  m->mem = mem;
  m->count = 0;
  set_table(m, slots, INITIAL_CAPACITY);
  return 0;
}

void ar__blockmap_fini(ar__blockmap_t *m) {
  ar__mem_free(m->mem, m->slots, slots_bytes(m->mask + 1));
  m->slots = m->pending = NULL;
  m->mask = m->limit = m->count = 0;
}

int ar__blockmap_grow(ar__blockmap_t *m) {
  size_t capacity = m->mask + 1;
  ar__blockent_t *slots = alloc_slots(m->mem, capacity * 2);
  if (!slots)
    return AR_EINTERNAL;
  ar__blockmap_t bigger = {.count = m->count, .mem = m->mem};
  set_table(&bigger, slots, capacity * 2);
  /* The table's entries and the pending one (slot `capacity`) all go to
   * their places in the bigger table. */
  for (size_t i = 0; i <= capacity; i++)
    if (m->slots[i].payload != AR__BLOCKMAP_EMPTY)
      ar__blockmap_place(&bigger, &m->slots[i]);
  ar__mem_free(m->mem, m->slots, slots_bytes(capacity));
  *m = bigger;
  return 0;
}

void ar__blockmap_remove(ar__blockmap_t *m, ar__blockent_t *ent) {
  m->count--;
  if (ent == ar__blockmap_pending(m)) {
    ent->payload = AR__BLOCKMAP_EMPTY;
    return;
  }
  /* Backward shift: move later entries of the same probe run into the
   * hole whenever the hole lies between their home and their slot. */
  size_t hole = (size_t)(ent - m->slots);
  for (size_t i = (hole + 1) & m->mask;; i = (i + 1) & m->mask) {
    ar__blockent_t *slot = &m->slots[i];
    if (slot->payload == AR__BLOCKMAP_EMPTY)
      break;
    size_t h = ar__blockmap_home(m, slot->payload);
    /* Distance from home to i vs from home to hole, in probe order. */
    if (((i - h) & m->mask) >= ((i - hole) & m->mask)) {
      m->slots[hole] = *slot;
      hole = i;
    }
  }
  m->slots[hole].payload = AR__BLOCKMAP_EMPTY;
}

const char *ar__blockmap_verify(const ar__blockmap_t *m) {
  size_t entries = 0;
  for (size_t i = 0; i <= m->mask; i++) {
    uint64_t payload = m->slots[i].payload;
    if (payload == AR__BLOCKMAP_EMPTY)
      continue;
    entries++;
    /* The probe from its home must reach slot i before any empty slot,
     * and meet no other entry with the same payload. */
    for (size_t j = ar__blockmap_home(m, payload); j != i;
         j = (j + 1) & m->mask) {
      if (m->slots[j].payload == AR__BLOCKMAP_EMPTY)
        return "an entry is cut off from its home slot";
      if (m->slots[j].payload == payload)
        return "a payload is in the table twice";
    }
  }
  const ar__blockent_t *pending = ar__blockmap_pending(m);
  if (pending->payload != AR__BLOCKMAP_EMPTY) {
    entries++;
    if (ar__blockmap_lookup(m, pending->payload))
      return "the pending payload is in the table too";
  }
  if (entries != m->count)
    return "the entries do not add up to the count";
  return NULL;
}
