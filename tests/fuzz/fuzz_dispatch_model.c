/*
 * fuzz_dispatch_model.c: the model with which fuzz_dispatch follows every
 * reply in order: which arenas exist, with which permissions; which blocks
 * are live, who holds how many references to each and which are detached;
 * which arenas each connection attached and which names are stale for it.
 * Here are its tables (each arena's live blocks in an open-addressing
 * table) and what reads and changes them, and the access rules; the
 * replies drive it (fuzz_dispatch_replies.c), and after every operation
 * fuzz_dispatch_invariants.c compares it with the daemon's records.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ar/engine.h"
#include "fuzz_dispatch_internal.h"

/* Whether c is closed, or to be, for a protocol error or a version: what
 * connections_closed_protocol counts. */
bool fzd_closed_for_protocol(const ad_conn_t *c) {
  return c->close_reason != NULL && (strcmp(c->close_reason, "protocol") == 0 ||
                                     strcmp(c->close_reason, "version") == 0);
}

static size_t mhash(uint64_t p, size_t cap) {
  return (size_t)(((p >> 4) * 0x9e3779b97f4a7c15u) >> 24) & (cap - 1);
}

mblock_t *fzd_mfind(const marena_t *m, uint64_t p) {
  if (m->cap == 0 || p == 0)
    return NULL;
  for (size_t i = mhash(p, m->cap);; i = (i + 1) & (m->cap - 1)) {
    if (m->t[i].payload == p)
      return &m->t[i];
    if (m->t[i].payload == 0)
      return NULL;
  }
}

static mblock_t *mslot(mblock_t *t, size_t cap, uint64_t p) {
  size_t i = mhash(p, cap);
  while (t[i].payload != 0)
    i = (i + 1) & (cap - 1);
  return &t[i];
}

mblock_t *fzd_madd(marena_t *m, uint64_t p) {
  ensure(p >= AR_HDR && p % AR_GRAIN == 0 && p < m->size,
         "arena %s: payload %llu is not a grain inside the arena", m->name,
         (unsigned long long)p);
  ensure(fzd_mfind(m, p) == NULL, "arena %s: a new block at %llu, live already",
         m->name, (unsigned long long)p);
  if ((m->n + 1) * 2 > m->cap) {
    size_t cap = m->cap ? 2 * m->cap : 64;
    mblock_t *t = calloc(cap, sizeof(*t));
    ensure(t != NULL, "out of memory");
    for (size_t i = 0; i < m->cap; i++)
      if (m->t[i].payload != 0)
        *mslot(t, cap, m->t[i].payload) = m->t[i];
    free(m->t);
    m->t = t;
    m->cap = cap;
  }
  mblock_t *b = mslot(m->t, m->cap, p);
  memset(b, 0, sizeof(*b));
  b->payload = p;
  m->n++;
  return b;
}

/* Removes b (pointers into the table are stale after). */
static void mremove(marena_t *m, mblock_t *b) {
  size_t mask = m->cap - 1, i = (size_t)(b - m->t), j = i;
  for (;;) {
    j = (j + 1) & mask;
    if (m->t[j].payload == 0)
      break;
    size_t k = mhash(m->t[j].payload, m->cap);
    if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
      continue; /* stays: its home is after the hole */
    m->t[i] = m->t[j];
    i = j;
  }
  memset(&m->t[i], 0, sizeof(m->t[i]));
  m->n--;
}

uint32_t fzd_mrefs(const mblock_t *b) {
  uint32_t r = b->detached;
  for (unsigned i = 0; i < b->nh; i++)
    r += b->h[i].refs;
  return r;
}

int fzd_mholder(const mblock_t *b, uint64_t conn) {
  for (unsigned i = 0; i < b->nh; i++)
    if (b->h[i].conn == conn)
      return (int)i;
  return -1;
}

/* The shared holds of every live arena: each block's holders but one. */
uint64_t fzd_mshared(const fz_t *z) {
  uint64_t n = 0;
  for (size_t i = 0; i < MAX_ARENAS; i++)
    for (size_t j = 0; z->m[i].live && j < z->m[i].cap; j++) {
      const mblock_t *b = &z->m[i].t[j];
      n += b->payload != 0 && b->nh > 1 ? b->nh - 1 : 0;
    }
  return n;
}

/* Whether conn taking a reference to b, from a holder with from_refs of
 * them (0: a retain), is refused for max_shared_holds: a new hold beside
 * another's, not replacing the sender's, when the daemon has no room. */
bool fzd_mshared_full(const fz_t *z, const mblock_t *b, uint64_t conn,
                      uint32_t from_refs) {
  return b->nh > 0 && fzd_mholder(b, conn) < 0 && from_refs != 1 &&
         fzd_mshared(z) >= MAX_SHARED;
}

void fzd_mhold(mblock_t *b, uint64_t conn) {
  int i = fzd_mholder(b, conn);
  if (i >= 0) {
    b->h[i].refs++;
    return;
  }
  ensure(b->nh < FZ_SLOTS, "more holders than connections");
  b->h[b->nh].conn = conn;
  b->h[b->nh].refs = 1;
  b->nh++;
}

/* Drops one of holder i's references, or the detached one when i < 0.
 * Returns whether that was the last (the block is then gone, and b with
 * it). */
bool fzd_mdrop(marena_t *m, mblock_t *b, int i) {
  if (i >= 0) {
    if (--b->h[i].refs == 0)
      b->h[i] = b->h[--b->nh];
  } else {
    b->detached = false;
  }
  if (fzd_mrefs(b) > 0)
    return false;
  mremove(m, b);
  return true;
}

bool fzd_mholds_in(const marena_t *m, uint64_t conn) {
  for (size_t i = 0; i < m->cap; i++)
    if (m->t[i].payload != 0 && fzd_mholder(&m->t[i], conn) >= 0)
      return true;
  return false;
}

/* Every reference conn holds in m goes. */
void fzd_mdrop_conn_in(marena_t *m, uint64_t conn) {
  for (;;) {
    mblock_t *b = NULL;
    for (size_t i = 0; i < m->cap && b == NULL; i++)
      if (m->t[i].payload != 0 && fzd_mholder(&m->t[i], conn) >= 0)
        b = &m->t[i];
    if (b == NULL)
      return;
    int h = fzd_mholder(b, conn);
    b->h[h].refs = 1;
    fzd_mdrop(m, b, h);
  }
}

uint64_t fzd_mdetached(const marena_t *m) {
  uint64_t n = 0;
  for (size_t i = 0; i < m->cap; i++)
    n += m->t[i].payload != 0 && m->t[i].detached;
  return n;
}

marena_t *fzd_mnamed(fz_t *z, const char *name) {
  for (size_t i = 0; i < MAX_ARENAS; i++)
    if (z->m[i].live && strcmp(z->m[i].name, name) == 0)
      return &z->m[i];
  return NULL;
}

/* Bytes [off, off + k) of daemon arena a were just written by a client:
 * the model notes, for each of its live blocks whose header they touched,
 * whether that header still holds what the engine wrote there (the
 * requested size, the magic and, for buddy, the block's order), which is
 * what a free that sends the block back finds. The engine's own record
 * gives the size and order (fzd_check_all keeps it and the model in step). */
void fzd_mark_overwritten(fz_t *z, const ad_arena_t *a, uint64_t off,
                          uint64_t k) {
  marena_t *m = fzd_mnamed(z, a->name);
  if (m == NULL || k == 0)
    return;
  bool buddy = ar_engine_policy(a->engine) == AR_POLICY_BUDDY;
  for (size_t i = 0; i < m->cap; i++) {
    mblock_t *b = &m->t[i];
    ar_block_t blk;
    if (b->payload == 0 || b->payload - AR_HDR >= off + k ||
        b->payload <= off || ar_engine_find(a->engine, b->payload, &blk) != 0)
      continue;
    ar_header_t want = {blk.n, AR_HDR_MAGIC,
                        buddy ? (uint32_t)__builtin_ctzll(blk.size) : 0};
    b->overwritten = memcmp((const uint8_t *)a->seg.base + b->payload - AR_HDR,
                            &want, sizeof(want)) != 0;
  }
}

marena_t *fzd_mnew(fz_t *z, const char *name, uint64_t size,
                   const ad_perm_t *perm, bool quota) {
  for (size_t i = 0; i < MAX_ARENAS; i++) {
    marena_t *m = &z->m[i];
    if (m->live)
      continue;
    free(m->t);
    memset(m, 0, sizeof(*m));
    m->live = true;
    m->id = ++z->next_mid;
    snprintf(m->name, sizeof(m->name), "%s", name);
    m->size = size;
    m->perm = *perm;
    m->quota = quota;
    return m;
  }
  return NULL; /* more arenas than the model keeps */
}

/* The access rules of access.h, from the proto's Access comment. */
bool fzd_may(const marena_t *m, const slot_t *s, unsigned need) {
  unsigned bits;
  if (s->uid == 0)
    return true;
  if (s->uid == m->perm.owner)
    bits = m->perm.mode >> 6;
  else if (s->uid == m->perm.group)
    bits = m->perm.mode >> 3;
  else
    bits = m->perm.mode;
  return (bits & need & 7u) == need;
}

bool fzd_stale_for(const slot_t *s, const char *name) {
  for (unsigned i = 0; i < s->nstale; i++)
    if (strcmp(s->stale[i], name) == 0)
      return true;
  return false;
}

bool fzd_used(const slot_t *s, uint64_t mid) {
  for (unsigned i = 0; i < s->nused; i++)
    if (s->used[i] == mid)
      return true;
  return false;
}

void fzd_note_use(slot_t *s, uint64_t mid) {
  if (fzd_used(s, mid))
    return;
  ensure(s->nused < MAX_ARENAS, "too many arenas used");
  s->used[s->nused++] = mid;
}

bool fzd_attached_to(const slot_t *s, uint64_t mid) {
  for (unsigned i = 0; i < s->nattached; i++)
    if (s->attached[i] == mid)
      return true;
  return false;
}
