/*
 * blocks.c: the records of who holds which block (see blocks.h): the pools
 * they come from, the payload-keyed hash table, and the two lists every
 * hold is on, and each holder's use of the arenas it holds blocks in. All
 * of it is O(1) per operation except a block's list of holds, which is
 * walked (a block has one holder but for shared blocks), and a holder's
 * uses, one per arena it holds blocks in.
 */
#include "blocks.h"

#include <stdlib.h>
#include <string.h>

#include "ar/error.h"

#define CHUNK_BYTES 16384 /* a pool chunk, aligned to its size */
#define TAB_MIN_SLOTS 64  /* a fresh table's capacity */

/* ---- Pools -------------------------------------------------------------- */

/* A chunk: this header, then the objects, in CHUNK_BYTES aligned to
 * CHUNK_BYTES, so that an object's chunk is its address rounded down. A
 * chunk is on the pool's avail list while some of its objects are free
 * and some handed out, on its empty list while all are free, and on
 * neither while none is free. */
typedef struct ad_chunk_s {
  struct ad_chunk_s *prev, *next; /* on the list it is on */
  void *free;   /* free objects, linked through their first word */
  size_t nfree; /* how many */
} ad_chunk_t;

/* Where a chunk's objects begin: past its header, 16-byte aligned. */
#define CHUNK_HEAD ((sizeof(ad_chunk_t) + 15) & ~(size_t)15)

static void pool_init(ad_pool_t *p, size_t obj_size) {
  memset(p, 0, sizeof(*p));
  if (obj_size < sizeof(void *))
    obj_size = sizeof(void *);
  p->obj_size = (obj_size + sizeof(void *) - 1) & ~(sizeof(void *) - 1);
  p->per_chunk = (CHUNK_BYTES - CHUNK_HEAD) / p->obj_size;
}

static ad_chunk_t *chunk_of(const void *obj) {
  return (ad_chunk_t *)((uintptr_t)obj & ~(uintptr_t)(CHUNK_BYTES - 1));
}

static void list_push(ad_chunk_t **head, ad_chunk_t *c) {
  c->prev = NULL;
  c->next = *head;
  if (*head != NULL)
    (*head)->prev = c;
  *head = c;
}

static void list_unlink(ad_chunk_t **head, ad_chunk_t *c) {
  if (c->prev != NULL)
    c->prev->next = c->next;
  else
    *head = c->next;
  if (c->next != NULL)
    c->next->prev = c->prev;
}

/* Gives the first empty chunk back to malloc. */
static void release_empty(ad_pool_t *p) {
  ad_chunk_t *c = p->empty;
  list_unlink(&p->empty, c);
  free(c);
  p->chunks--;
  p->nfree -= p->per_chunk;
}

/* Every object must be back: then every chunk is empty. */
static void pool_fini(ad_pool_t *p) {
  while (p->empty != NULL)
    release_empty(p);
}

/* Every chunk's objects are either free or handed out. */
static size_t pool_bytes(const ad_pool_t *p) { return p->chunks * CHUNK_BYTES; }

static int pool_grow(ad_pool_t *p) {
  ad_chunk_t *c = aligned_alloc(CHUNK_BYTES, CHUNK_BYTES);
  if (c == NULL)
    return AR_EINTERNAL;
  c->free = NULL;
  for (size_t i = 0; i < p->per_chunk; i++) {
    void *obj = (unsigned char *)c + CHUNK_HEAD + i * p->obj_size;
    *(void **)obj = c->free;
    c->free = obj;
  }
  c->nfree = p->per_chunk;
  list_push(&p->empty, c);
  p->chunks++;
  p->nfree += p->per_chunk;
  return 0;
}

static int pool_reserve(ad_pool_t *p, size_t n) {
  while (p->nfree < n)
    if (pool_grow(p) < 0)
      return AR_EINTERNAL;
  return 0;
}

/* An object from a reserved pool: from a chunk in use when there is one,
 * so that objects gather in few chunks and the empty ones can go. */
static void *pool_get(ad_pool_t *p) {
  ad_chunk_t *c = p->avail;
  if (c == NULL) {
    c = p->empty;
    list_unlink(&p->empty, c);
    list_push(&p->avail, c);
  }
  void *obj = c->free;
  c->free = *(void **)obj;
  if (--c->nfree == 0)
    list_unlink(&p->avail, c);
  p->nfree--;
  p->live++;
  return obj;
}

/* Gives obj back to its chunk. Empty chunks go back to malloc while the
 * pool keeps spare objects enough without them: a chunk's worth, and
 * half as many as are handed out. */
static void pool_put(ad_pool_t *p, void *obj) {
  ad_chunk_t *c = chunk_of(obj);
  *(void **)obj = c->free;
  c->free = obj;
  if (c->nfree++ == 0)
    list_push(&p->avail, c);
  if (c->nfree == p->per_chunk) {
    list_unlink(&p->avail, c);
    list_push(&p->empty, c);
  }
  p->nfree++;
  p->live--;
  size_t keep = p->live / 2 > p->per_chunk ? p->live / 2 : p->per_chunk;
  while (p->empty != NULL && p->nfree - p->per_chunk >= keep)
    release_empty(p);
}

void ad_blocks_init(ad_blocks_t *b) {
  pool_init(&b->blocks, sizeof(ad_block_t));
  pool_init(&b->holds, sizeof(ad_hold_t));
  b->live = 0;
  b->shared = 0;
}

void ad_blocks_fini(ad_blocks_t *b) {
  pool_fini(&b->blocks);
  pool_fini(&b->holds);
}

int ad_blocks_reserve(ad_blocks_t *b, size_t nblocks, size_t nholds) {
  if (pool_reserve(&b->blocks, nblocks) < 0 ||
      pool_reserve(&b->holds, nholds) < 0)
    return AR_EINTERNAL;
  return 0;
}

/* ---- Records and holds -------------------------------------------------- */

ad_block_t *ad_block_new(ad_blocks_t *b, uint64_t payload,
                         struct ad_arena_s *arena, bool detached) {
  ad_block_t *blk = pool_get(&b->blocks);
  blk->payload = payload;
  blk->size = 0;
  blk->arena = arena;
  blk->holds = NULL;
  blk->detached = detached;
  blk->refcount = detached ? 1 : 0;
  b->live++;
  return blk;
}

void ad_block_delete(ad_blocks_t *b, ad_block_t *blk) {
  pool_put(&b->blocks, blk);
  b->live--;
}

/* h's use of arena, or NULL. */
static ad_use_t *use_of(const ad_holder_t *h, const struct ad_arena_s *arena) {
  for (uint32_t i = 0; i < h->nuses; i++)
    if (h->uses[i].arena == arena)
      return &h->uses[i];
  return NULL;
}

/* Charges (sign 1) or refunds (-1) one block of `bytes` to h's use of
 * arena. A charge needs a reservation when the use is new; a use that
 * holds nothing any more goes. */
static void charge(ad_holder_t *h, const struct ad_arena_s *arena,
                   uint64_t bytes, int sign) {
  ad_use_t *u = use_of(h, arena);
  if (sign > 0) {
    if (u == NULL) {
      u = &h->uses[h->nuses++];
      u->arena = arena;
      u->u = (ad_usage_t){0, 0};
    }
    u->u.blocks++;
    u->u.bytes += bytes;
    return;
  }
  u->u.blocks--;
  u->u.bytes -= bytes;
  if (u->u.blocks == 0)
    *u = h->uses[--h->nuses];
}

ad_hold_t *ad_hold_add(ad_blocks_t *b, ad_block_t *blk, ad_holder_t *h) {
  ad_hold_t *hold = ad_block_hold_of(blk, h);
  blk->refcount++;
  h->nholds++;
  if (hold != NULL) {
    hold->refs++;
    return hold;
  }
  hold = pool_get(&b->holds);
  hold->block = blk;
  hold->holder = h;
  hold->refs = 1;
  charge(h, blk->arena, blk->size, 1);
  if (blk->holds != NULL)
    b->shared++; /* not the block's first */

  /* The block's list keeps the order references were taken. */
  hold->block_next = NULL;
  ad_hold_t **tail = &blk->holds;
  while (*tail != NULL)
    tail = &(*tail)->block_next;
  *tail = hold;

  hold->holder_prev = NULL;
  hold->holder_next = h->holds;
  if (h->holds != NULL)
    h->holds->holder_prev = hold;
  h->holds = hold;
  return hold;
}

/* Drops k of the hold's references (k <= refs), the hold itself with its
 * last one. */
static uint32_t drop_refs(ad_blocks_t *b, ad_hold_t *hold, uint32_t k) {
  ad_block_t *blk = hold->block;
  ad_holder_t *h = hold->holder;
  blk->refcount -= k;
  h->nholds -= k;
  hold->refs -= k;
  if (hold->refs > 0)
    return blk->refcount;

  ad_hold_t **pp = &blk->holds;
  while (*pp != hold)
    pp = &(*pp)->block_next;
  *pp = hold->block_next;
  if (blk->holds != NULL)
    b->shared--; /* another holds it still */

  if (hold->holder_prev != NULL)
    hold->holder_prev->holder_next = hold->holder_next;
  else
    h->holds = hold->holder_next;
  if (hold->holder_next != NULL)
    hold->holder_next->holder_prev = hold->holder_prev;

  charge(h, blk->arena, blk->size, -1);
  pool_put(&b->holds, hold);
  return blk->refcount;
}

uint32_t ad_hold_drop(ad_blocks_t *b, ad_hold_t *hold) {
  return drop_refs(b, hold, 1);
}

uint32_t ad_hold_drop_all(ad_blocks_t *b, ad_hold_t *hold) {
  return drop_refs(b, hold, hold->refs);
}

uint32_t ad_block_undetach(ad_block_t *blk) {
  if (blk->detached) {
    blk->detached = false;
    blk->refcount--;
  }
  return blk->refcount;
}

ad_hold_t *ad_block_hold_of(const ad_block_t *blk, const ad_holder_t *h) {
  for (ad_hold_t *hold = blk->holds; hold != NULL; hold = hold->block_next)
    if (hold->holder == h)
      return hold;
  return NULL;
}

uint32_t ad_block_nholds(const ad_block_t *blk) {
  uint32_t n = 0;
  for (const ad_hold_t *hold = blk->holds; hold != NULL;
       hold = hold->block_next)
    n++;
  return n;
}

const char *ad_blocks_check_block(const ad_block_t *blk) {
  /* Each call marks the holders it meets with a new number, so a holder
   * met twice is seen in one pass (the block may have thousands). */
  static uint64_t visit;
  visit++;
  uint64_t n = 0;
  for (const ad_hold_t *hold = blk->holds; hold != NULL;
       hold = hold->block_next) {
    if (hold->block != blk)
      return "hold-points-to-its-block";
    if (hold->holder == NULL)
      return "hold-has-a-holder";
    if (hold->refs == 0)
      return "hold-has-a-reference";
    if (hold->holder->check_mark == visit)
      return "one-hold-per-holder";
    hold->holder->check_mark = visit;
    /* On its holder's list: the head, or linked from the hold before it,
     * and its neighbours there are the same holder's. */
    const ad_hold_t *prev = hold->holder_prev, *next = hold->holder_next;
    if ((prev != NULL ? prev->holder_next : hold->holder->holds) != hold ||
        (prev != NULL && prev->holder != hold->holder) ||
        (next != NULL &&
         (next->holder_prev != hold || next->holder != hold->holder)))
      return "hold-on-its-holders-list";
    n += hold->refs;
  }
  if (blk->refcount != n + (blk->detached ? 1 : 0))
    return "refcount-counts-holds";
  if (blk->refcount == 0)
    return "live-record-is-referenced";
  return NULL;
}

void ad_holder_init(ad_holder_t *h, uint64_t id, uint32_t pid, uint32_t uid,
                    uint32_t gid, const char *name) {
  h->id = id;
  h->pid = pid;
  h->uid = uid;
  h->gid = gid;
  h->name = name;
  h->holds = NULL;
  h->nholds = 0;
  h->uses = NULL;
  h->nuses = h->uses_cap = 0;
  h->check_mark = 0;
}

void ad_holder_fini(ad_holder_t *h) {
  free(h->uses);
  h->uses = NULL;
  h->nuses = h->uses_cap = 0;
}

int ad_holder_reserve(ad_holder_t *h) {
  if (h->nuses < h->uses_cap)
    return 0;
  uint32_t cap = h->uses_cap ? h->uses_cap * 2 : 2;
  ad_use_t *u = realloc(h->uses, cap * sizeof(*u));
  if (u == NULL)
    return AR_EINTERNAL;
  h->uses = u;
  h->uses_cap = cap;
  return 0;
}

ad_usage_t ad_holder_usage(const ad_holder_t *h,
                           const struct ad_arena_s *arena) {
  const ad_use_t *u = use_of(h, arena);
  return u != NULL ? u->u : (ad_usage_t){0, 0};
}

/* ---- The table ---------------------------------------------------------- */

/* Fibonacci hashing: payloads are multiples of 16, whose low bits carry
 * nothing; the product's top bits mix them all. */
static size_t home_slot(const ad_blocktab_t *t, uint64_t payload) {
  return (size_t)((payload * UINT64_C(0x9e3779b97f4a7c15)) >> t->shift);
}

static unsigned log2_of(size_t pow2) {
  unsigned n = 0;
  while (((size_t)1 << n) < pow2)
    n++;
  return n;
}

static int tab_alloc(ad_blocktab_t *t, size_t slots) {
  ad_block_t **s = calloc(slots, sizeof(*s));
  if (s == NULL)
    return AR_EINTERNAL;
  t->slots = s;
  t->mask = slots - 1;
  t->shift = 64 - log2_of(slots);
  t->shrink_below = slots > TAB_MIN_SLOTS ? slots / 16 : 0;
  return 0;
}

int ad_blocktab_init(ad_blocktab_t *t) {
  t->count = 0;
  return tab_alloc(t, TAB_MIN_SLOTS);
}

void ad_blocktab_fini(ad_blocktab_t *t) {
  free(t->slots);
  t->slots = NULL;
  t->count = 0;
}

static void tab_put(ad_blocktab_t *t, ad_block_t *blk) {
  size_t i = home_slot(t, blk->payload);
  while (t->slots[i] != NULL)
    i = (i + 1) & t->mask;
  t->slots[i] = blk;
}

/* Moves the records into a fresh table of `slots` slots. Returns 0, or
 * AR_EINTERNAL (the table unchanged). */
static int tab_resize(ad_blocktab_t *t, size_t slots) {
  ad_blocktab_t old = *t;
  if (tab_alloc(t, slots) < 0) {
    *t = old;
    return AR_EINTERNAL;
  }
  for (size_t i = 0; i <= old.mask; i++)
    if (old.slots[i] != NULL)
      tab_put(t, old.slots[i]);
  free(old.slots);
  return 0;
}

int ad_blocktab_reserve(ad_blocktab_t *t, size_t n) {
  size_t slots = t->mask + 1;
  if (n > SIZE_MAX / 4 - t->count)
    return AR_EINTERNAL;
  if ((t->count + n) * 2 <= slots)
    return 0;
  while ((t->count + n) * 2 > slots)
    slots *= 2;
  return tab_resize(t, slots);
}

ad_block_t *ad_blocktab_find(const ad_blocktab_t *t, uint64_t payload) {
  size_t i = home_slot(t, payload);
  for (;;) {
    ad_block_t *blk = t->slots[i];
    if (blk == NULL || blk->payload == payload)
      return blk;
    i = (i + 1) & t->mask;
  }
}

void ad_blocktab_insert(ad_blocktab_t *t, ad_block_t *blk) {
  tab_put(t, blk);
  t->count++;
}

/* The table halved for as long as it would be at most 1/4 full. When
 * memory runs out it stays as it is, to be made smaller once half of the
 * records left are gone too (not again at every removal), as the engines'
 * block map does. */
static void tab_shrink(ad_blocktab_t *t) {
  size_t slots = t->mask + 1;
  while (slots > TAB_MIN_SLOTS && t->count * 4 <= slots / 2)
    slots /= 2;
  if (tab_resize(t, slots) < 0)
    t->shrink_below = t->count / 2;
}

/* Backward-shift deletion: the entries after the hole that may move into
 * it (their home is not cyclically within (hole, here]) do, so that no
 * probe sequence is ever cut and no tombstone is needed. */
void ad_blocktab_remove(ad_blocktab_t *t, const ad_block_t *blk) {
  size_t i = home_slot(t, blk->payload);
  while (t->slots[i] != blk)
    i = (i + 1) & t->mask;

  size_t j = i;
  for (;;) {
    j = (j + 1) & t->mask;
    ad_block_t *e = t->slots[j];
    if (e == NULL)
      break;
    size_t k = home_slot(t, e->payload);
    bool stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
    if (stays)
      continue;
    t->slots[i] = e;
    i = j;
  }
  t->slots[i] = NULL;
  t->count--;
  if (t->count < t->shrink_below)
    tab_shrink(t);
}

size_t ad_blocks_bytes(const ad_blocks_t *b) {
  return pool_bytes(&b->blocks) + pool_bytes(&b->holds);
}

size_t ad_blocktab_bytes(const ad_blocktab_t *t) {
  return (t->mask + 1) * sizeof(*t->slots);
}
