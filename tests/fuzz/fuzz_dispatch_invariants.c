/*
 * fuzz_dispatch_invariants.c: what fuzz_dispatch checks after every
 * operation. The model compares itself with the daemon's records, and what
 * needs no model is checked too: every arena passes ad_arena_check (the
 * engine's check and the daemon's), the engine's used bytes, live blocks
 * and requested bytes equal the sums over a full walk, every block the
 * walk finds is one that a reply queued for some connection told of (even
 * once the model has stopped: see "What the replies told", below, which
 * keeps that record through two wrapped functions), and the daemon's
 * counters agree with the arenas and the connections.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ar/engine.h"
#include "ar/error.h"
#include "arenad.pb-c.h"
#include "fuzz_dispatch_internal.h"

/* ---- What the replies told ---------------------------------------------- */

/* The blocks some queued reply told of, apart from the model, which stops
 * following the daemon once an allocation has failed: every block the
 * daemon places (ad_arena_alloc, wrapped) is untold until the reply that
 * carries its offset is packed into a connection's output (the Response
 * packer, wrapped). A live block that no reply told of is one no client
 * can know, lost for good if detached: check_walk finds it. A reply
 * packed and then dropped with its connection (the peer went, or the
 * daemon closed it) did tell, as a reply sent to a peer that dies does.
 * An open-addressing set of keys arena id << 32 | payload (arenas are
 * under 4 GiB here: MEMORY), each told or not. */
typedef struct told_s {
  uint64_t key; /* 0: an empty slot */
  bool told;
} told_t;

static told_t *told;
static size_t told_cap, told_n;
/* See "Memory that runs out" in fuzz_dispatch.c. */
void *__real_calloc(size_t k, size_t n);
/* The last alloc placed, its reply not packed yet: the offsets array it
 * filled, which becomes its reply's (scratch memory, valid until the
 * reply is packed). */
static struct {
  uint64_t arena;
  const uint64_t *offsets;
  uint32_t count;
} placed;

static told_t *told_slot(told_t *t, size_t cap, uint64_t key) {
  size_t i = (size_t)((key * 0x9e3779b97f4a7c15u) >> 20) & (cap - 1);
  while (t[i].key != 0 && t[i].key != key)
    i = (i + 1) & (cap - 1);
  return &t[i];
}

static void told_set(uint64_t arena, uint64_t payload, bool is_told) {
  uint64_t key = arena << 32 | payload;
  if ((told_n + 1) * 2 > told_cap) {
    size_t cap = told_cap ? 2 * told_cap : 1024;
    /* Not the wrapped calloc: this runs inside the daemon's call. */
    told_t *t = __real_calloc(cap, sizeof(*t));
    ensure(t != NULL, "out of memory");
    for (size_t i = 0; i < told_cap; i++)
      if (told[i].key != 0)
        *told_slot(t, cap, told[i].key) = told[i];
    free(told);
    told = t;
    told_cap = cap;
  }
  told_t *e = told_slot(told, told_cap, key);
  told_n += e->key == 0;
  e->key = key;
  e->told = is_told;
}

static bool told_of(uint64_t arena, uint64_t payload) {
  if (told_cap == 0)
    return false;
  const told_t *e = told_slot(told, told_cap, arena << 32 | payload);
  return e->key != 0 && e->told;
}

void fzd_told_reset(void) {
  free(told);
  told = NULL;
  told_cap = told_n = 0;
  placed.count = 0;
}

/* Linked with -Wl,--wrap=ad_arena_alloc: the blocks just placed are
 * untold, until their reply is packed. */
int __real_ad_arena_alloc(ad_arena_t *a, ad_holder_t *holder, uint64_t n,
                          uint64_t align, uint32_t count, uint64_t *offsets,
                          uint64_t *kept);
int __wrap_ad_arena_alloc(ad_arena_t *a, ad_holder_t *holder, uint64_t n,
                          uint64_t align, uint32_t count, uint64_t *offsets,
                          uint64_t *kept);
int __wrap_ad_arena_alloc(ad_arena_t *a, ad_holder_t *holder, uint64_t n,
                          uint64_t align, uint32_t count, uint64_t *offsets,
                          uint64_t *kept) {
  int rc = __real_ad_arena_alloc(a, holder, n, align, count, offsets, kept);
  if (rc < 0)
    return rc;
  for (uint32_t i = 0; i < count; i++)
    told_set(a->id, offsets[i], false);
  placed.arena = a->id;
  placed.offsets = offsets;
  placed.count = count;
  return rc;
}

/* Linked with -Wl,--wrap=arenad__response__pack: a reply going into an
 * output (conn.c's reply packs only into room it has), which tells of
 * the blocks just placed when it is their alloc's. */
size_t __real_arenad__response__pack(const Arenad__Response *m, uint8_t *out);
size_t __wrap_arenad__response__pack(const Arenad__Response *m, uint8_t *out);
size_t __wrap_arenad__response__pack(const Arenad__Response *m, uint8_t *out) {
  if (placed.count > 0 && m->status == ST(OK) &&
      m->body_case == ARENAD__RESPONSE__BODY_ALLOC &&
      m->alloc->offsets == placed.offsets &&
      m->alloc->n_offsets == placed.count)
    for (uint32_t i = 0; i < placed.count; i++)
      told_set(placed.arena, placed.offsets[i], true);
  placed.count = 0;
  return __real_arenad__response__pack(m, out);
}

/* ---- Invariants ---------------------------------------------------------- */

/* A full walk agrees with the engine's figures; the pieces tile the
 * arena; every block has a record, and a reply told of it. */
static void check_walk(const ad_arena_t *a) {
  static ar_extent_t x[256];
  ar_engine_stats_t st;
  ar_engine_stats(a->engine, &st);
  uint64_t cursor = 0, at = 0, used = 0, req = 0, blocks = 0, freeb = 0,
           freex = 0;
  while (cursor < a->size) {
    size_t n;
    uint64_t next;
    int rc = ar_engine_walk(a->engine, false, cursor, x, 256, &n, &next);
    ensure(rc == 0, "arena %s: walk at %llu: %s", a->name,
           (unsigned long long)cursor, ar_strerror(rc));
    ensure(next > cursor, "arena %s: the walk does not move on at %llu",
           a->name, (unsigned long long)cursor);
    for (size_t i = 0; i < n; i++) {
      ensure(x[i].start == at, "arena %s: a piece at %llu, expected at %llu",
             a->name, (unsigned long long)x[i].start, (unsigned long long)at);
      at += x[i].size;
      if (x[i].free) {
        freeb += x[i].size;
        freex++;
      } else {
        used += x[i].size;
        req += x[i].n;
        blocks++;
        const ad_block_t *r = ad_arena_block(a, x[i].payload);
        ensure(r != NULL && r->size == x[i].size,
               "arena %s: block at %llu (%llu bytes) has no record of its "
               "size",
               a->name, (unsigned long long)x[i].payload,
               (unsigned long long)x[i].size);
        ensure(told_of(a->id, x[i].payload),
               "arena %s: block %llu is live, and no reply told of it", a->name,
               (unsigned long long)x[i].payload);
      }
    }
    cursor = next;
  }
  ensure(at == a->size, "arena %s: the pieces end at %llu, not %llu", a->name,
         (unsigned long long)at, (unsigned long long)a->size);
  ensure(
      used == st.used_bytes && blocks == st.live_blocks &&
          req == st.live_requested && freeb == st.free_bytes &&
          freex == st.free_extents,
      "arena %s: the walk finds used=%llu blocks=%llu requested=%llu "
      "free=%llu extents=%llu, the engine says %llu %llu %llu %llu %llu",
      a->name, (unsigned long long)used, (unsigned long long)blocks,
      (unsigned long long)req, (unsigned long long)freeb,
      (unsigned long long)freex, (unsigned long long)st.used_bytes,
      (unsigned long long)st.live_blocks, (unsigned long long)st.live_requested,
      (unsigned long long)st.free_bytes, (unsigned long long)st.free_extents);
}

/* The daemon's records of arena a are the model's. */
static void check_model(const marena_t *m, const ad_arena_t *a) {
  ensure(ad_blocktab_count(&a->table) == m->n,
         "arena %s: %zu records, the model has %zu blocks", a->name,
         ad_blocktab_count(&a->table), m->n);
  ensure(a->size == m->size, "arena %s: %llu bytes, the model %llu", a->name,
         (unsigned long long)a->size, (unsigned long long)m->size);
  for (size_t j = 0; j < m->cap; j++) {
    const mblock_t *b = &m->t[j];
    if (b->payload == 0)
      continue;
    const ad_block_t *r = ad_arena_block(a, b->payload);
    ensure(r != NULL, "arena %s: block %llu is not live in the daemon", a->name,
           (unsigned long long)b->payload);
    ensure(r->refcount == fzd_mrefs(b) && r->detached == b->detached &&
               ad_block_nholds(r) == b->nh,
           "arena %s: block %llu has refcount %u detached %d holders %u, "
           "the model %u %d %u",
           a->name, (unsigned long long)b->payload, r->refcount, r->detached,
           ad_block_nholds(r), fzd_mrefs(b), b->detached, b->nh);
    for (const ad_hold_t *h = r->holds; h != NULL; h = h->block_next) {
      int i = fzd_mholder(b, h->holder->id);
      ensure(i >= 0 && h->refs == b->h[i].refs,
             "arena %s: block %llu: connection %llu holds %u references, "
             "the model %u",
             a->name, (unsigned long long)b->payload,
             (unsigned long long)h->holder->id, h->refs,
             i >= 0 ? b->h[i].refs : 0);
    }
  }
}

void fzd_check_all(fz_t *z) {
  ad_daemon_t *d = &z->d;
  uint64_t live = 0;
  size_t nlive = 0;
  for (size_t i = 0; i < d->narenas; i++) {
    const ad_arena_t *a = d->arenas[i];
    ar_check_report_t r;
    int rc = ad_arena_check(a, &r);
    ensure(rc == 0, "arena %s: check fails: %s at %llu: %s", a->name,
           r.invariant, (unsigned long long)r.offset, r.detail);
    check_walk(a);
    live += ad_blocktab_count(&a->table);
    if (z->model_ok) {
      const marena_t *m = fzd_mnamed(z, a->name);
      ensure(m != NULL, "arena %s exists, the model does not know it", a->name);
      check_model(m, a);
    }
  }
  for (size_t i = 0; i < MAX_ARENAS; i++)
    nlive += z->m[i].live;
  ensure(!z->model_ok || nlive == d->narenas, "%zu arenas, the model has %zu",
         d->narenas, nlive);
  ensure(!z->model_ok || d->pools.shared == fzd_mshared(z),
         "%llu shared holds, the model has %llu",
         (unsigned long long)d->pools.shared,
         (unsigned long long)fzd_mshared(z));
  ensure(d->pools.shared <= MAX_SHARED, "%llu shared holds, over %d",
         (unsigned long long)d->pools.shared, MAX_SHARED);
  ensure(d->stats.blocks_allocated - d->stats.blocks_freed == live,
         "allocated %llu - freed %llu blocks, but %llu are live",
         (unsigned long long)d->stats.blocks_allocated,
         (unsigned long long)d->stats.blocks_freed, (unsigned long long)live);

  uint64_t open = 0, inflight = 0, protocol = z->closed_protocol;
  for (unsigned k = 0; k < z->nslots; k++) {
    const ad_conn_t *c = z->s[k].c;
    if (c == NULL)
      continue;
    open++;
    inflight += c->inflight;
    protocol += fzd_closed_for_protocol(c);
    if (!z->model_ok)
      continue;
    uint64_t refs = 0;
    for (size_t i = 0; i < MAX_ARENAS; i++)
      for (size_t j = 0; z->m[i].live && j < z->m[i].cap; j++) {
        const mblock_t *b = &z->m[i].t[j];
        int h = b->payload != 0 ? fzd_mholder(b, c->id) : -1;
        refs += h >= 0 ? b->h[h].refs : 0;
      }
    ensure(c->holder.nholds == refs,
           "connection %llu holds %llu references, the model %llu",
           (unsigned long long)c->id, (unsigned long long)c->holder.nholds,
           (unsigned long long)refs);
  }
  ensure(d->stats.connections_open == open, "%llu connections open, not %llu",
         (unsigned long long)d->stats.connections_open,
         (unsigned long long)open);
  ensure(d->stats.requests_in_flight == inflight,
         "%llu requests in flight, the connections have %llu",
         (unsigned long long)d->stats.requests_in_flight,
         (unsigned long long)inflight);
  ensure(d->stats.connections_closed_protocol == protocol,
         "%llu connections closed for the protocol, %llu were",
         (unsigned long long)d->stats.connections_closed_protocol,
         (unsigned long long)protocol);
}
