/*
 * fuzz_dispatch_replies.c: how fuzz_dispatch checks each reply, against
 * the request it answers and the model. For every request it works out the
 * statuses the request may get (any of the errors that apply, the
 * daemon's max_shared_holds among them; OK when none does; out of memory
 * for an allocation and limit exceeded on an arena with quotas, which it
 * does not predict) and checks the reply against them and against the
 * body's figures, then follows the reply in the model; and, model or not,
 * a descriptor travels with exactly the replies that carry one. The
 * replies come out of a connection's output (fzd_parse_replies), and its peer
 * reads them (fzd_take_replies).
 */
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "ar/engine.h"
#include "ar/frame.h"
#include "arenad.pb-c.h"
#include "fuzz_dispatch_internal.h"

/* ---- Requests and replies ------------------------------------------------ */

static const char *kind(int k) {
  const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field(
      &arenad__request__descriptor, (unsigned)k);
  return f != NULL ? f->name : "none";
}

/* How many descriptors c has queued at output offset `at`; the last in
 * *fd (when not NULL). */
static unsigned fds_at(const ad_conn_t *c, uint64_t at, int *fd) {
  unsigned n = 0;
  for (unsigned i = 0; i < c->fdq_len; i++)
    if (c->fdq[(c->fdq_head + i) % AD_FDQ_MAX].at == at) {
      n++;
      if (fd != NULL)
        *fd = c->fdq[(c->fdq_head + i) % AD_FDQ_MAX].fd;
    }
  return n;
}

/* The descriptor of an attach: the arena's segment, `size` bytes, opened
 * read-only (a writable shared mapping fails) when asked so. */
static void check_segment_fd(int fd, uint64_t size, bool read_only) {
  struct stat st;
  int fl = fcntl(fd, F_GETFL);
  ensure(fstat(fd, &st) == 0 && (uint64_t)st.st_size == size && fl >= 0,
         "attach: the descriptor is not a segment of %llu bytes",
         (unsigned long long)size);
  ensure((fl & O_ACCMODE) == (read_only ? O_RDONLY : O_RDWR),
         "attach: a %s descriptor opened %s",
         read_only ? "read-only" : "writable",
         (fl & O_ACCMODE) == O_RDONLY ? "read-only" : "for writing");
  if (read_only) {
    void *p =
        mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p != MAP_FAILED)
      munmap(p, (size_t)size);
    ensure(p == MAP_FAILED, "attach: a read-only descriptor maps writable");
  }
}

/* One request being checked: the statuses the model allows. */
typedef struct verdict_s {
  const char *kind;
  unsigned errs;     /* errors that apply: the status must be one */
  unsigned tolerate; /* when none applies: what may come besides OK */
} verdict_t;

/* The status must be one the model allows. Returns whether it is OK. */
static bool judge(const verdict_t *v, const Arenad__Response *r) {
  unsigned st = (unsigned)r->status;
  if (v->errs != 0)
    ensure(st < 32 && (v->errs & BIT(st)),
           "%s: status %u (%s), the model expects one of 0x%x", v->kind, st,
           r->message ? r->message : "", v->errs);
  else
    ensure(st == 0 || (st < 32 && (v->tolerate & BIT(st))),
           "%s: status %u (%s), the model expects OK", v->kind, st,
           r->message ? r->message : "");
  return st == 0;
}

/* The arena a request names: none (NOT_FOUND applies), a name stale for s
 * (NOT_FOUND, when the request checks that), or one s may not use as
 * `need` says (PERMISSION_DENIED); LIMIT_EXCEEDED is tolerated on an arena
 * with quotas. A request that checks staleness opens its arena as the
 * daemon's ad_call_open does, first thing: unless its reply r refuses it
 * as not found or not permitted, s has used the arena. */
static marena_t *resolve(fz_t *z, slot_t *s, const char *name,
                         bool check_stale, unsigned need,
                         const Arenad__Response *r, verdict_t *v) {
  marena_t *m = fzd_mnamed(z, name);
  if (m == NULL || (check_stale && fzd_stale_for(s, name))) {
    v->errs |= BIT(ST(NOT_FOUND));
    return NULL;
  }
  if (!fzd_may(m, s, need))
    v->errs |= BIT(ST(PERMISSION_DENIED));
  if (m->quota)
    v->tolerate |= BIT(ST(LIMIT_EXCEEDED));
  if (check_stale && r->status != ST(NOT_FOUND) &&
      r->status != ST(PERMISSION_DENIED))
    fzd_note_use(s, m->id);
  return m;
}

static void on_alloc(fz_t *z, slot_t *s, const Arenad__AllocRequest *q,
                     const Arenad__Response *r, verdict_t *v) {
  marena_t *m = resolve(z, s, q->arena, true, AD_MAY_WRITE, r, v);
  uint32_t count = q->count ? q->count : 1;
  uint64_t align = q->alignment ? q->alignment : AR_ALIGN_MIN;
  if (m != NULL) {
    if (count > MAX_BLOCKS)
      v->errs |= BIT(ST(LIMIT_EXCEEDED));
    if (q->size == 0 || q->size > AR_N_MAX || align < AR_ALIGN_MIN ||
        align > AR_ALIGN_MAX || (align & (align - 1)) != 0)
      v->errs |= BIT(ST(INVALID_ARGUMENT));
  }
  v->tolerate |= BIT(ST(OUT_OF_MEMORY));
  if (!judge(v, r))
    return;
  ensure(r->alloc->n_offsets == count, "alloc of %u blocks gave %zu offsets",
         count, r->alloc->n_offsets);
  for (uint32_t i = 0; i < count; i++) {
    uint64_t off = r->alloc->offsets[i];
    ensure(off % align == 0 && off + q->size <= m->size,
           "arena %s: block %llu of %llu bytes aligned %llu does not fit",
           m->name, (unsigned long long)off, (unsigned long long)q->size,
           (unsigned long long)align);
    mblock_t *b = fzd_madd(m, off);
    if (q->detached)
      b->detached = true;
    else
      fzd_mhold(b, s->c->id);
  }
}

static void on_free(fz_t *z, slot_t *s, const Arenad__FreeRequest *q,
                    const Arenad__Response *r, verdict_t *v) {
  marena_t *m = resolve(z, s, q->arena, true, AD_MAY_WRITE, r, v);
  if (m == NULL || v->errs != 0 || q->n_offsets > MAX_BLOCKS) {
    if (m != NULL && q->n_offsets > MAX_BLOCKS)
      v->errs |= BIT(ST(LIMIT_EXCEEDED));
    judge(v, r);
    ensure(r->body_case == ARENAD__RESPONSE__BODY__NOT_SET,
           "free refused as a whole, with a FreeReply");
    return;
  }
  /* Each offset on its own; the envelope has the first failure. */
  ensure(r->body_case == ARENAD__RESPONSE__BODY_FREE,
         "free: status %d and "
         "no FreeReply",
         (int)r->status);
  const Arenad__FreeReply *f = r->free;
  ensure(f->n_statuses == 0 || f->n_statuses == q->n_offsets,
         "free of %zu offsets has %zu statuses", q->n_offsets, f->n_statuses);
  ensure((f->n_statuses == 0) == (r->status == ST(OK)),
         "free: status %d with %zu statuses", (int)r->status, f->n_statuses);
  uint32_t ok = 0, reclaimed = 0, overwritten = 0;
  Arenad__Status first = ST(OK);
  for (size_t i = 0; i < q->n_offsets; i++) {
    Arenad__Status st = f->n_statuses ? f->statuses[i] : ST(OK);
    uint64_t off = q->offsets[i];
    mblock_t *b = fzd_mfind(m, off);
    Arenad__Status want;
    int h = -1;
    if (b == NULL)
      want = ST(INVALID_ARGUMENT);
    else if ((h = fzd_mholder(b, s->c->id)) >= 0 || b->detached)
      want = ST(OK);
    else
      want = ST(PERMISSION_DENIED);
    ensure(st == want,
           "arena %s: free of %llu by connection %llu: status "
           "%d, the model says %d",
           m->name, (unsigned long long)off, (unsigned long long)s->c->id,
           (int)st, (int)want);
    if (want == ST(OK)) {
      ok++;
      bool over = b->overwritten; /* b goes with its last reference */
      if (fzd_mdrop(m, b, h)) {
        reclaimed++;
        /* The reply names the index of each free that sent back a block
         * whose header a SCRIBBLE had changed, in order. */
        if (over) {
          ensure(overwritten < f->n_overwritten &&
                     f->overwritten[overwritten] == i,
                 "arena %s: free of %llu (offset %zu of the request) sent "
                 "back a block whose header was overwritten, and the reply "
                 "does not name it",
                 m->name, (unsigned long long)off, i);
          overwritten++;
        }
      }
    } else if (first == ST(OK)) {
      first = want;
    }
  }
  ensure(r->status == first && f->freed == ok && f->reclaimed == reclaimed,
         "free: status %d freed %u reclaimed %u, the model %d %u %u",
         (int)r->status, f->freed, f->reclaimed, (int)first, ok, reclaimed);
  ensure(f->n_overwritten == overwritten,
         "free: the reply names %zu overwritten headers, the model %u",
         f->n_overwritten, overwritten);
}

static void on_retain(fz_t *z, slot_t *s, const Arenad__RetainRequest *q,
                      const Arenad__Response *r, verdict_t *v) {
  marena_t *m = resolve(z, s, q->arena, true, AD_MAY_READ, r, v);
  mblock_t *b = m != NULL ? fzd_mfind(m, q->offset) : NULL;
  if (m != NULL && b == NULL)
    v->errs |= BIT(ST(INVALID_ARGUMENT));
  if (b != NULL && fzd_mshared_full(z, b, s->c->id, 0))
    v->errs |= BIT(ST(LIMIT_EXCEEDED));
  if (!judge(v, r))
    return;
  fzd_mhold(b, s->c->id);
  ensure(r->retain->refcount == fzd_mrefs(b),
         "retain: refcount %u, the model %u", r->retain->refcount,
         fzd_mrefs(b));
}

/* A release or transfer of an offset where no block lives: invalid to a
 * caller that may read the arena, and to one that may not the same
 * refusal as of another's block, which tells it nothing. */
static Arenad__Status no_block(const marena_t *m, const slot_t *s) {
  return fzd_may(m, s, AD_MAY_READ) ? ST(INVALID_ARGUMENT)
                                    : ST(PERMISSION_DENIED);
}

static void on_release(fz_t *z, slot_t *s, const Arenad__ReleaseRequest *q,
                       const Arenad__Response *r, verdict_t *v) {
  marena_t *m = resolve(z, s, q->arena, true, 0, r, v);
  mblock_t *b = m != NULL ? fzd_mfind(m, q->offset) : NULL;
  int h = b != NULL ? fzd_mholder(b, s->c->id) : -1;
  if (m != NULL && b == NULL)
    v->errs |= BIT(no_block(m, s));
  else if (b != NULL && h < 0)
    v->errs |= BIT(ST(PERMISSION_DENIED));
  if (!judge(v, r))
    return;
  uint32_t left = fzd_mrefs(b) - 1;
  bool over = b->overwritten && left == 0; /* b goes with its last reference */
  fzd_mdrop(m, b, h);
  ensure(r->release->refcount == left, "release: refcount %u, the model %u",
         r->release->refcount, left);
  ensure(r->release->overwritten == over,
         "release of %llu: overwritten %d, the model %d",
         (unsigned long long)q->offset, (int)r->release->overwritten,
         (int)over);
}

static void on_transfer(fz_t *z, slot_t *s, const Arenad__TransferRequest *q,
                        const Arenad__Response *r, verdict_t *v) {
  marena_t *m = resolve(z, s, q->arena, true, 0, r, v);
  const slot_t *to = NULL;
  for (unsigned k = 0; k < z->nslots; k++)
    if (z->s[k].c != NULL && z->s[k].c->token == q->target_token)
      to = &z->s[k];
  mblock_t *b = m != NULL ? fzd_mfind(m, q->offset) : NULL;
  int h = b != NULL ? fzd_mholder(b, s->c->id) : -1;
  if (m != NULL) {
    if (to == NULL)
      v->errs |= BIT(ST(NOT_FOUND));
    else if (to == s)
      v->errs |= BIT(ST(INVALID_ARGUMENT));
    else if (!fzd_reading(to->c)) /* ending: only its fzd_pump changes that */
      v->errs |= BIT(ST(NOT_FOUND));
    if (b == NULL)
      v->errs |= BIT(no_block(m, s));
    else if (h < 0)
      v->errs |= BIT(ST(PERMISSION_DENIED));
    if (to != NULL && !fzd_may(m, to, AD_MAY_READ))
      v->errs |= BIT(ST(PERMISSION_DENIED));
    if (to != NULL && to != s && h >= 0 &&
        fzd_mshared_full(z, b, to->c->id, b->h[h].refs))
      v->errs |= BIT(ST(LIMIT_EXCEEDED));
  }
  if (!judge(v, r))
    return;
  uint32_t refs = fzd_mrefs(b);
  fzd_mhold(b, to->c->id);
  fzd_mdrop(m, b, h);
  ensure(r->transfer->target_connection_id == to->c->id &&
             r->transfer->refcount == refs,
         "transfer: to %llu refcount %u, the model %llu %u",
         (unsigned long long)r->transfer->target_connection_id,
         r->transfer->refcount, (unsigned long long)to->c->id, refs);
}

static void on_attach(fz_t *z, slot_t *s, const Arenad__AttachRequest *q,
                      const Arenad__Response *r, verdict_t *v) {
  marena_t *m =
      resolve(z, s, q->arena, false,
              q->read_only ? AD_MAY_READ : AD_MAY_READ | AD_MAY_WRITE, r, v);
  v->tolerate &= ~BIT(ST(LIMIT_EXCEEDED));
  if (!judge(v, r))
    return;
  ensure(r->attach->size == m->size && r->attach->read_only == q->read_only,
         "attach %s: size %llu read-only %d", m->name,
         (unsigned long long)r->attach->size, r->attach->read_only);
  if (!fzd_attached_to(s, m->id)) {
    ensure(s->nattached < MAX_PER_SLOT, "too many attached arenas");
    s->attached[s->nattached++] = m->id;
  }
  for (unsigned i = 0; i < s->nstale; i++)
    if (strcmp(s->stale[i], m->name) == 0) {
      memcpy(s->stale[i], s->stale[--s->nstale], sizeof(s->stale[i]));
      break;
    }
}

static void on_inspect(fz_t *z, slot_t *s, const Arenad__InspectRequest *q,
                       const Arenad__Response *r, verdict_t *v) {
  marena_t *m = resolve(z, s, q->arena, true, AD_MAY_READ, r, v);
  v->tolerate &= ~BIT(ST(LIMIT_EXCEEDED));
  if (m != NULL && ((int)q->what < ARENAD__INSPECT_WHAT__INSPECT_SUMMARY ||
                    (int)q->what > ARENAD__INSPECT_WHAT__INSPECT_DETACHED ||
                    q->cursor > m->size))
    v->errs |= BIT(ST(INVALID_ARGUMENT));
  if (!judge(v, r))
    return;
  const Arenad__InspectReply *p = r->inspect;
  ensure(p->summary != NULL, "inspect without a summary");
  ensure(p->next_cursor <= m->size &&
             (p->next_cursor > q->cursor || p->next_cursor == m->size),
         "inspect from %llu: next cursor %llu", (unsigned long long)q->cursor,
         (unsigned long long)p->next_cursor);
  ensure(strcmp(p->summary->name, m->name) == 0 &&
             p->summary->live_blocks == m->n &&
             p->summary->detached_blocks == fzd_mdetached(m),
         "inspect %s: %llu blocks %llu detached, the model %zu %llu", m->name,
         (unsigned long long)p->summary->live_blocks,
         (unsigned long long)p->summary->detached_blocks, m->n,
         (unsigned long long)fzd_mdetached(m));
  for (size_t i = 0; i < p->n_extents; i++) {
    const Arenad__Extent *e = p->extents[i];
    ensure(e->start >= q->cursor && e->start < m->size,
           "inspect: an extent at %llu", (unsigned long long)e->start);
    if (q->what == ARENAD__INSPECT_WHAT__INSPECT_FREE_LIST)
      ensure(e->free, "inspect free list: an allocated extent");
    if (e->free)
      continue;
    const mblock_t *b = fzd_mfind(m, e->payload);
    ensure(b != NULL, "inspect %s: block %llu, which the model lacks", m->name,
           (unsigned long long)e->payload);
    ensure(e->refcount == fzd_mrefs(b) && e->detached == b->detached &&
               e->n_holders == b->nh,
           "inspect %s: block %llu refcount %u detached %d holders %zu, the "
           "model %u %d %u",
           m->name, (unsigned long long)e->payload, e->refcount, e->detached,
           e->n_holders, fzd_mrefs(b), b->detached, b->nh);
    if (q->what == ARENAD__INSPECT_WHAT__INSPECT_DETACHED)
      ensure(e->detached, "inspect detached: a block that is not");
    for (size_t k = 0; k < e->n_holders; k++) {
      int h = fzd_mholder(b, e->holders[k]->connection_id);
      ensure(h >= 0 && e->holders[k]->references == b->h[h].refs,
             "inspect %s: block %llu lists holder %llu with %u references",
             m->name, (unsigned long long)e->payload,
             (unsigned long long)e->holders[k]->connection_id,
             e->holders[k]->references);
    }
  }
}

/* A check that passes counts the model's live blocks whose header is
 * overwritten, and names the lowest. */
static void on_check(fz_t *z, slot_t *s, const Arenad__CheckRequest *q,
                     const Arenad__Response *r, verdict_t *v) {
  resolve(z, s, q->arena, true, AD_MAY_READ, r, v);
  v->tolerate &= ~BIT(ST(LIMIT_EXCEEDED));
  if (!judge(v, r))
    return;
  ensure(r->check->ok, "check: OK but not ok");
  const marena_t *m = fzd_mnamed(z, q->arena);
  uint64_t count = 0, first = 0;
  for (size_t i = 0; m != NULL && i < m->cap; i++) {
    const mblock_t *b = &m->t[i];
    if (b->payload != 0 && b->overwritten &&
        (count++ == 0 || b->payload < first))
      first = b->payload;
  }
  ensure(r->check->headers_overwritten == count &&
             r->check->first_overwritten == first,
         "check of %s: %llu overwritten headers, the first at %llu; the "
         "model %llu at %llu",
         q->arena, (unsigned long long)r->check->headers_overwritten,
         (unsigned long long)r->check->first_overwritten,
         (unsigned long long)count, (unsigned long long)first);
}

/* The proto's rules for a new arena's name and size. */
static bool name_ok(const char *s) {
  size_t n = strlen(s);
  if (n < 1 || n > AD_ARENA_NAME_MAX)
    return false;
  for (size_t i = 0; i < n; i++) {
    char ch = s[i];
    bool alnum = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                 (ch >= '0' && ch <= '9');
    if (!alnum && (i == 0 || (ch != '.' && ch != '_' && ch != '-')))
      return false;
  }
  return true;
}

static bool admin(const fz_t *z, const slot_t *s) {
  return s->uid == 0 || s->uid == z->d.uid;
}

static void on_create(fz_t *z, slot_t *s, const Arenad__CreateArenaRequest *q,
                      const Arenad__Response *r, verdict_t *v) {
  if (!admin(z, s))
    v->errs |= BIT(ST(PERMISSION_DENIED));
  bool pow2 = (q->size & (q->size - 1)) == 0;
  if (!name_ok(q->name) || fzd_mnamed(z, q->name) != NULL ||
      q->policy < ARENAD__POLICY__POLICY_FIRST ||
      q->policy > ARENAD__POLICY__POLICY_BUDDY || q->size < AR_ARENA_UNIT ||
      q->size > AR_ARENA_MAX || q->size % AR_ARENA_UNIT != 0 ||
      (q->policy == ARENAD__POLICY__POLICY_BUDDY && !pow2) ||
      (q->access != NULL &&
       (q->access->mode > 0777 || q->access->owner_uid == UINT32_MAX ||
        q->access->group_gid == UINT32_MAX)))
    v->errs |= BIT(ST(INVALID_ARGUMENT));
  /* Memory (the probe below) and the daemon's count of arenas. */
  v->tolerate |= BIT(ST(OUT_OF_MEMORY)) | BIT(ST(LIMIT_EXCEEDED));
  if (!judge(v, r))
    return;
  const Arenad__ArenaInfo *info = r->create_arena->arena;
  ensure(info != NULL && info->access != NULL &&
             strcmp(info->name, q->name) == 0 && info->size == q->size &&
             info->policy == q->policy && info->used_bytes == 0 &&
             info->quota_bytes == q->quota_bytes &&
             info->quota_blocks == q->quota_blocks,
         "create_arena: the ArenaInfo is not the arena asked for");
  ad_perm_t perm = {s->uid, s->uid, 0600};
  if (q->access != NULL)
    perm = (ad_perm_t){q->access->owner_uid, q->access->group_gid,
                       q->access->mode};
  ensure(info->access->mode == perm.mode &&
             info->access->owner_uid == perm.owner &&
             info->access->group_gid == perm.group,
         "create_arena: access %04o %u %u, the model %04o %u %u",
         info->access->mode, info->access->owner_uid, info->access->group_gid,
         perm.mode, perm.owner, perm.group);
  if (fzd_mnew(z, q->name, q->size, &perm,
               q->quota_bytes != 0 || q->quota_blocks != 0) == NULL)
    z->model_ok = false;
}

static void on_destroy(fz_t *z, slot_t *s, const Arenad__DestroyArenaRequest *q,
                       const Arenad__Response *r, verdict_t *v) {
  marena_t *m = fzd_mnamed(z, q->name);
  if (!admin(z, s))
    v->errs |= BIT(ST(PERMISSION_DENIED));
  if (m == NULL || fzd_stale_for(s, q->name)) /* the new arena is not reached */
    v->errs |= BIT(ST(NOT_FOUND));
  else if (m->n > 0 && !q->force)
    v->errs |= BIT(ST(INVALID_ARGUMENT));
  if (!judge(v, r))
    return;
  /* Every connection that attached it, held blocks in it or used it in a
   * request now gets not found for its name, until it attaches it again. */
  uint32_t attached = 0;
  for (unsigned k = 0; k < z->nslots; k++) {
    slot_t *t = &z->s[k];
    if (t->c == NULL)
      continue;
    bool was = fzd_attached_to(t, m->id);
    attached += was;
    bool used = fzd_used(t, m->id);
    for (unsigned i = 0; i < t->nused; i++)
      if (t->used[i] == m->id) {
        t->used[i] = t->used[--t->nused];
        break;
      }
    if ((was || used || fzd_mholds_in(m, t->c->id)) &&
        !fzd_stale_for(t, m->name)) {
      ensure(t->nstale < MAX_PER_SLOT, "too many stale names");
      memcpy(t->stale[t->nstale++], m->name, sizeof(m->name));
    }
  }
  ensure(r->destroy_arena->blocks_freed == m->n &&
             r->destroy_arena->attached_connections == attached,
         "destroy_arena %s: %llu blocks, %u attached; the model %zu, %u",
         m->name, (unsigned long long)r->destroy_arena->blocks_freed,
         r->destroy_arena->attached_connections, m->n, attached);
  m->live = false;
}

static void on_stats(fz_t *z, const Arenad__Response *r) {
  ensure(r->status == ST(OK), "stats failed");
  uint64_t live = 0, detached = 0, open = 0, narenas = 0;
  for (size_t i = 0; i < MAX_ARENAS; i++)
    if (z->m[i].live) {
      narenas++;
      live += z->m[i].n;
      detached += fzd_mdetached(&z->m[i]);
    }
  for (unsigned k = 0; k < z->nslots; k++)
    open += z->s[k].c != NULL;
  const Arenad__StatsReply *st = r->stats;
  ensure(st->blocks_allocated - st->blocks_freed == live &&
             st->detached_blocks == detached && st->connections_open == open &&
             st->arenas == narenas,
         "stats: %llu-%llu blocks, %llu detached, %llu open, %u arenas; the "
         "model %llu %llu %llu %llu",
         (unsigned long long)st->blocks_allocated,
         (unsigned long long)st->blocks_freed,
         (unsigned long long)st->detached_blocks,
         (unsigned long long)st->connections_open, st->arenas,
         (unsigned long long)live, (unsigned long long)detached,
         (unsigned long long)open, (unsigned long long)narenas);
}

static void on_list(fz_t *z, const Arenad__Response *r) {
  ensure(r->status == ST(OK), "list failed");
  size_t n = 0;
  for (size_t i = 0; i < MAX_ARENAS; i++)
    n += z->m[i].live;
  ensure(r->list->n_arenas == n, "list: %zu arenas, the model %zu",
         r->list->n_arenas, n);
  for (size_t i = 0; i < r->list->n_arenas; i++) {
    const Arenad__ArenaInfo *info = r->list->arenas[i];
    const marena_t *m = fzd_mnamed(z, info->name);
    ensure(m != NULL && info->live_blocks == m->n && info->size == m->size &&
               (i == 0 || strcmp(r->list->arenas[i - 1]->name, info->name) < 0),
           "list: arena %s", info->name);
  }
}

/* Checks reply r, which starts at output offset `at`, against the next
 * request s->c read, and follows it in the model. */
static void on_reply(fz_t *z, slot_t *s, const Arenad__Response *r,
                     uint64_t at) {
  ad_conn_t *c = s->c;
  ensure(!s->dead, "connection %llu: a reply after the last one",
         (unsigned long long)c->id);
  ar_frame_t f;
  int rc = ar_frame_decode(s->fed, s->fed_len, MAX_FRAME, &f);
  ensure(rc != AR_FRAME_PARTIAL, "connection %llu: a reply to no request",
         (unsigned long long)c->id);
  Arenad__Request *q =
      rc == AR_FRAME_COMPLETE
          ? arenad__request__unpack(NULL, f.end - f.start, s->fed + f.start)
          : NULL;
  if (q == NULL) {
    /* A protocol error: one reply with id 0 and no body, then the end. */
    Arenad__Status want =
        rc == AR_ELIMIT ? ST(LIMIT_EXCEEDED) : ST(INVALID_ARGUMENT);
    if (fzd_trace)
      fprintf(stderr, "conn %llu: protocol error -> status %d\n",
              (unsigned long long)c->id, (int)r->status);
    ensure(r->id == 0 && r->status == want &&
               r->body_case == ARENAD__RESPONSE__BODY__NOT_SET,
           "protocol error (%d): reply id %llu status %d body %d", rc,
           (unsigned long long)r->id, (int)r->status, (int)r->body_case);
    ensure(c->close_after_reply, "protocol error, the connection stays");
    ensure(fds_at(c, at, NULL) == 0, "a descriptor with a protocol error");
    s->dead = true;
    return;
  }
  memmove(s->fed, s->fed + f.end, s->fed_len - f.end);
  s->fed_len -= f.end;

  int k = (int)q->body_case;
  if (fzd_trace)
    fprintf(stderr, "conn %llu: %s id %llu -> status %d body %d %s\n",
            (unsigned long long)c->id, kind(k), (unsigned long long)q->id,
            (int)r->status, (int)r->body_case, r->message ? r->message : "");
  ensure(r->id == q->id, "%s: reply id %llu to request %llu", kind(k),
         (unsigned long long)r->id, (unsigned long long)q->id);
  ensure((r->status != ST(INTERNAL) || fzd_nomem_fired) &&
             r->status != ST(CORRUPTION_DETECTED),
         "%s: status %d: %s", kind(k), (int)r->status,
         r->message ? r->message : "");
  ensure(r->status == ST(OK) || (r->message != NULL && r->message[0] != '\0'),
         "%s: status %d without a message", kind(k), (int)r->status);
  if (r->status == ST(OK))
    ensure((int)r->body_case == k, "%s: OK with body %d", kind(k),
           (int)r->body_case);
  else
    ensure(r->body_case == ARENAD__RESPONSE__BODY__NOT_SET ||
               ((int)r->body_case == k && (k == ARENAD__REQUEST__BODY_HELLO ||
                                           k == ARENAD__REQUEST__BODY_FREE ||
                                           k == ARENAD__REQUEST__BODY_CHECK)),
           "%s: error %d with body %d", kind(k), (int)r->status,
           (int)r->body_case);
  unsigned want_fd = k == ARENAD__REQUEST__BODY_ATTACH && r->status == ST(OK);
  int fd = -1;
  ensure(fds_at(c, at, &fd) == want_fd, "%s (status %d): %u descriptors queued",
         kind(k), (int)r->status, fds_at(c, at, NULL));
  if (want_fd)
    check_segment_fd(fd, r->attach->size, q->attach->read_only);

  if (!z->model_ok) {
    /* Only what needs no model. */
    if (r->status == ST(UNSUPPORTED_VERSION))
      s->dead = true;
    arenad__request__free_unpacked(q, NULL);
    return;
  }
  verdict_t v = {kind(k), 0, 0};
  switch (q->body_case) {
  case ARENAD__REQUEST__BODY_HELLO:
    if (strlen(q->hello->client_name) > 64) { /* AD_CLIENT_NAME_MAX */
      ensure(r->status == ST(INVALID_ARGUMENT) &&
                 r->body_case == ARENAD__RESPONSE__BODY__NOT_SET,
             "hello with a %zu-byte name: status %d",
             strlen(q->hello->client_name), (int)r->status);
    } else if (q->hello->protocol_version == 1) {
      ensure(r->status == ST(OK) && r->hello->token == c->token &&
                 r->hello->connection_id == c->id &&
                 r->hello->instance == UINT64_MAX,
             "hello: status %d", (int)r->status);
    } else {
      ensure(r->status == ST(UNSUPPORTED_VERSION) &&
                 r->body_case == ARENAD__RESPONSE__BODY_HELLO &&
                 c->close_after_reply,
             "hello version %u: status %d", q->hello->protocol_version,
             (int)r->status);
      s->dead = true;
    }
    break;
  case ARENAD__REQUEST__BODY_PING:
    ensure(r->status == ST(OK), "ping failed");
    break;
  case ARENAD__REQUEST__BODY_LIST:
    on_list(z, r);
    break;
  case ARENAD__REQUEST__BODY_STATS:
    on_stats(z, r);
    break;
  case ARENAD__REQUEST__BODY_ATTACH:
    on_attach(z, s, q->attach, r, &v);
    break;
  case ARENAD__REQUEST__BODY_INSPECT:
    on_inspect(z, s, q->inspect, r, &v);
    break;
  case ARENAD__REQUEST__BODY_CHECK:
    on_check(z, s, q->check, r, &v);
    break;
  case ARENAD__REQUEST__BODY_ALLOC:
    on_alloc(z, s, q->alloc, r, &v);
    break;
  case ARENAD__REQUEST__BODY_FREE:
    on_free(z, s, q->free, r, &v);
    break;
  case ARENAD__REQUEST__BODY_RETAIN:
    on_retain(z, s, q->retain, r, &v);
    break;
  case ARENAD__REQUEST__BODY_RELEASE:
    on_release(z, s, q->release, r, &v);
    break;
  case ARENAD__REQUEST__BODY_TRANSFER:
    on_transfer(z, s, q->transfer, r, &v);
    break;
  case ARENAD__REQUEST__BODY_CREATE_ARENA:
    on_create(z, s, q->create_arena, r, &v);
    break;
  case ARENAD__REQUEST__BODY_DESTROY_ARENA:
    on_destroy(z, s, q->destroy_arena, r, &v);
    break;
  default:
    /* No body, or a kind this target does not know (a newer schema):
     * the daemon must refuse the first; a success of the other stops the
     * model, which cannot follow it. */
    if (q->body_case == ARENAD__REQUEST__BODY__NOT_SET)
      ensure(r->status == ST(INVALID_ARGUMENT),
             "a request with no body: status %d", (int)r->status);
    else if (r->status == ST(OK))
      z->model_ok = false;
    break;
  }
  arenad__request__free_unpacked(q, NULL);
}

/* Looks at the replies c queued since the last look. */
void fzd_parse_replies(fz_t *z, slot_t *s) {
  ad_conn_t *c = s->c;
  ar_buf_t *out = ad_conn_out(c);
  const uint8_t *p = ar_buf_data(out);
  size_t len = ar_buf_len(out);
  ensure(len == c->out_total - c->out_sent,
         "the output holds %zu bytes, "
         "the counters say %llu",
         len, (unsigned long long)(c->out_total - c->out_sent));
  size_t off = (size_t)(s->parsed - c->out_sent);
  while (off < len) {
    ar_frame_t f;
    int rc = ar_frame_decode(p + off, len - off, MAX_FRAME, &f);
    ensure(rc == AR_FRAME_COMPLETE, "a reply frame that does not decode: %d",
           rc);
    Arenad__Response *r =
        arenad__response__unpack(NULL, f.end - f.start, p + off + f.start);
    ensure(r != NULL, "a reply that is not a Response");
    on_reply(z, s, r, c->out_sent + off);
    arenad__response__free_unpacked(r, NULL);
    off += f.end;
  }
  s->parsed = c->out_total;
}

/* The peer reads every reply: the output is consumed and the descriptors
 * that came with it are closed, as conn_io.c's flush does. */
void fzd_take_replies(slot_t *s) {
  ad_conn_t *c = s->c;
  size_t len = ar_buf_len(ad_conn_out(c));
  while (c->fdq_len > 0 && c->fdq[c->fdq_head].at < c->out_sent + len)
    ad_conn_fd_done(c);
  ad_conn_sent(c, len);
}
