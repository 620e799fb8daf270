/*
 * idmap.c: the parse-time map from a trace's ids to dense slots. It is
 * consulted once per trace line, so it is cheap in the common case: ids
 * that count up from 1, as every generated trace has them, index a plain
 * array (the dense part). Any other id goes to a flat open-addressing table
 * kept at most half full, with Robin Hood linear probing: an entry stores
 * how far it sits from its home bucket, an insertion lets the entry farther
 * from home stay and moves the other on, so a lookup stops as soon as it
 * meets an entry nearer its home than the key would be, and a deletion
 * shifts the following entries back only until one sits at its home. No
 * tombstones: a trace of any length that keeps few ids live keeps a small,
 * fast table.
 */
#include <stdlib.h>
#include <string.h>

#include "ar/error.h"
#include "trace_internal.h"

#define IDMAP_MIN_CAP 1024 /* hash entries; a power of two */
#define DENSE_MIN_CAP 4096 /* dense entries; a power of two */
/* The dense part may always cover ids below this; beyond, 4 ids per
 * insertion so far (4 bytes an id: less than the operations that made the
 * insertions take), so that one huge id cannot make it huge. */
#define DENSE_FREE ((size_t)1 << 20)
/*
 * The home bucket of id. Traces number their allocations 1, 2, 3, ..., so
 * the ids looked up one after the other are mostly close to each other:
 * runs of 16 consecutive ids share one run of 16 consecutive buckets (four
 * cache lines), and the runs are spread over the table by Fibonacci
 * hashing (the top bits of (id / 16) * 2^64/phi). Within its run an id's
 * bucket is its low 4 bits rotated by the next bits of that hash: ids that
 * are multiples of 16, as addresses are, would otherwise all start at the
 * first bucket of a run and leave the other 15 to probing. Ids that follow
 * no pattern are spread as well as by hashing each one.
 */
static size_t bucket(const ar__idmap_t *m, int64_t id) {
  uint64_t u = (uint64_t)id;
  uint64_t t = ((u >> 4) * UINT64_C(0x9E3779B97F4A7C15)) >> m->shift;
  return (size_t)((t & ~UINT64_C(15)) | ((t + u) & 15));
}

static unsigned log2_of(size_t cap) {
  unsigned k = 0;
  while (((size_t)1 << k) < cap)
    k++;
  return k;
}

/* Allocates an empty table of cap entries into *m (table only). */
static int alloc_table(ar__idmap_t *m, size_t cap) {
  ar__idmap_entry_t *tab = ar__big_alloc(cap * sizeof *tab);
  if (tab == NULL)
    return AR_ENOMEM;
  for (size_t i = 0; i < cap; i++)
    tab[i].slot = AR_TRACE_NO_SLOT;
  m->tab = tab;
  m->cap = cap;
  m->shift = 64 - log2_of(cap);
  return AR_OK;
}

int ar__idmap_init(ar__idmap_t *m) {
  memset(m, 0, sizeof *m);
  return alloc_table(m, IDMAP_MIN_CAP);
}

void ar__idmap_fini(ar__idmap_t *m) {
  ar__big_free(m->tab, m->cap * sizeof *m->tab);
  ar__big_free(m->dense, m->dense_cap * sizeof *m->dense);
  m->tab = NULL;
  m->dense = NULL;
  m->cap = m->count = m->dense_cap = m->inserts = 0;
}

/* Places en, which is not in the table, starting at bucket i with distance
 * en.dist: the Robin Hood insertion. */
static void place(ar__idmap_t *m, size_t i, ar__idmap_entry_t en) {
  size_t mask = m->cap - 1;
  for (;;) {
    ar__idmap_entry_t *at = &m->tab[i];
    if (at->slot == AR_TRACE_NO_SLOT) {
      *at = en;
      return;
    }
    if (at->dist < en.dist) { /* the richer entry moves on */
      ar__idmap_entry_t moved = *at;
      *at = en;
      en = moved;
    }
    i = (i + 1) & mask;
    en.dist++;
  }
}

/*
 * Moves every entry of the hash part into a new table of `cap` entries,
 * or, when its id is below dense_cap, into `dense` (the caller's new dense
 * part, which it installs itself), and frees the old table. Nothing
 * changes when memory runs out (AR_ENOMEM).
 */
static int rehash(ar__idmap_t *m, size_t cap, uint32_t *dense,
                  size_t dense_cap) {
  ar__idmap_t fresh = {.count = 0};
  int rc = alloc_table(&fresh, cap);
  if (rc < 0)
    return rc;
  for (size_t i = 0; i < m->cap; i++) {
    ar__idmap_entry_t en = m->tab[i];
    if (en.slot == AR_TRACE_NO_SLOT)
      continue;
    if (en.id >= 0 && (uint64_t)en.id < dense_cap) {
      dense[en.id] = en.slot + 1;
      continue;
    }
    en.dist = 0;
    place(&fresh, bucket(&fresh, en.id), en);
    fresh.count++;
  }
  ar__big_free(m->tab, m->cap * sizeof *m->tab);
  m->tab = fresh.tab;
  m->cap = fresh.cap;
  m->shift = fresh.shift;
  m->count = fresh.count;
  return AR_OK;
}

/* Doubles the hash part's table. */
static int grow(ar__idmap_t *m) {
  if (m->cap > SIZE_MAX / 2 / sizeof(ar__idmap_entry_t))
    return AR_ENOMEM;
  return rehash(m, m->cap * 2, NULL, 0);
}

/* ---- the dense part ------------------------------------------------ */

static size_t dense_limit(const ar__idmap_t *m) {
  size_t by_use = m->inserts > SIZE_MAX / 4 ? SIZE_MAX : m->inserts * 4;
  return by_use > DENSE_FREE ? by_use : DENSE_FREE;
}

/* Whether id may go to the dense part, growing it if need be. */
static bool dense_covers(const ar__idmap_t *m, int64_t id) {
  return id >= 0 && (uint64_t)id < dense_limit(m);
}

/*
 * Grows the dense part to cover ids 0..want-1, moving there the ids of
 * that range that the hash part holds (by rebuilding the hash part).
 * Nothing changes when memory runs out.
 */
static int grow_dense(ar__idmap_t *m, size_t want) {
  size_t cap = m->dense_cap ? m->dense_cap * 2 : DENSE_MIN_CAP;
  while (cap < want)
    cap *= 2;
  uint32_t *dense = ar__big_alloc(cap * sizeof *dense);
  if (dense == NULL)
    return AR_ENOMEM;
  if (m->dense_cap > 0)
    memcpy(dense, m->dense, m->dense_cap * sizeof *dense);
  memset(dense + m->dense_cap, 0, (cap - m->dense_cap) * sizeof *dense);
  int rc = rehash(m, m->cap, dense, cap);
  if (rc < 0) {
    ar__big_free(dense, cap * sizeof *dense);
    return rc;
  }
  ar__big_free(m->dense, m->dense_cap * sizeof *m->dense);
  m->dense = dense;
  m->dense_cap = cap;
  return AR_OK;
}

/* ---- both ------------------------------------------------------------ */

int ar__idmap_get_or_put(ar__idmap_t *m, int64_t id, uint32_t fresh,
                         uint32_t *slot) {
  if ((uint64_t)id >= m->dense_cap && dense_covers(m, id)) {
    int rc = grow_dense(m, (size_t)id + 1);
    if (rc < 0)
      return rc;
  }
  if ((uint64_t)id < m->dense_cap) {
    uint32_t *d = &m->dense[id];
    if (*d != 0) {
      *slot = *d - 1;
      return 0;
    }
    *d = fresh + 1; /* fresh < AR_TRACE_NO_SLOT: no overflow */
    m->inserts++;
    *slot = fresh;
    return 1;
  }

  if ((m->count + 1) * 2 > m->cap) {
    int rc = grow(m);
    if (rc < 0)
      return rc;
  }
  size_t mask = m->cap - 1;
  size_t i = bucket(m, id);
  for (uint32_t dist = 0;; dist++, i = (i + 1) & mask) {
    ar__idmap_entry_t *en = &m->tab[i];
    /* An empty bucket, or an entry nearer its home than id would be here:
     * id is not in the table, and goes here. */
    if (en->slot == AR_TRACE_NO_SLOT || en->dist < dist) {
      place(m, i, (ar__idmap_entry_t){.id = id, .slot = fresh, .dist = dist});
      m->count++;
      m->inserts++;
      *slot = fresh;
      return 1;
    }
    if (en->id == id) {
      *slot = en->slot;
      return 0;
    }
  }
}

uint32_t ar__idmap_take(ar__idmap_t *m, int64_t id) {
  if ((uint64_t)id < m->dense_cap) {
    uint32_t v = m->dense[id];
    m->dense[id] = 0;
    return v != 0 ? v - 1 : AR_TRACE_NO_SLOT;
  }
  if (m->count == 0)
    return AR_TRACE_NO_SLOT;
  size_t mask = m->cap - 1;
  size_t i = bucket(m, id);
  for (uint32_t dist = 0;; dist++, i = (i + 1) & mask) {
    const ar__idmap_entry_t *en = &m->tab[i];
    if (en->slot == AR_TRACE_NO_SLOT || en->dist < dist)
      return AR_TRACE_NO_SLOT;
    if (en->id == id)
      break;
  }
  uint32_t slot = m->tab[i].slot;
  m->count--;
  /* Backward shift: pull back the entries after it that are not at home. */
  for (;;) {
    size_t next = (i + 1) & mask;
    ar__idmap_entry_t *en = &m->tab[next];
    if (en->slot == AR_TRACE_NO_SLOT || en->dist == 0)
      break;
    m->tab[i] = *en;
    m->tab[i].dist--;
    i = next;
  }
  m->tab[i].slot = AR_TRACE_NO_SLOT;
  return slot;
}
