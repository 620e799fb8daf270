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

int ar__blockmap_init(ar__blockmap_t *m, ar__mem_t *mem) {
  m->mem = mem;
  m->slots = alloc_slots(mem, INITIAL_CAPACITY);
  if (!m->slots)
    return AR_EINTERNAL;
  m->mask = INITIAL_CAPACITY - 1;
  m->count = 0;
  return 0;
}

void ar__blockmap_fini(ar__blockmap_t *m) {
  ar__mem_free(m->mem, m->slots, slots_bytes(m->mask + 1));
  m->slots = NULL;
  m->mask = 0;
  m->count = 0;
}

int ar__blockmap_grow(ar__blockmap_t *m) {
  size_t capacity = m->mask + 1;
  ar__blockmap_t bigger = {alloc_slots(m->mem, capacity * 2), capacity * 2 - 1,
                           m->count, m->mem};
  if (!bigger.slots)
    return AR_EINTERNAL;
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
