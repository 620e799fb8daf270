/*
 * dispatch_arena.c: the requests that read arenas: list (open to every
 * connection, like a directory listing), attach (a duplicate of the
 * segment's descriptor travels with the reply: a read-only one for a
 * read-only attach; the connection counts as attached only once it has
 * one), inspect (the summary and one page of extents, with each block's
 * holders) and check (the engine's integrity check plus the daemon's
 * own); all but list need read access.
 */
#include <string.h>
#include <unistd.h>

#include "audit.h"
#include "dispatch.h"
#include "reply_bound.h"
#include "segment.h"

int ad_do_list(ad_call_t *call, const Arenad__ListRequest *m) {
  (void)m;
  ad_daemon_t *d = call->d;
  Arenad__ListReply *rep;
  if (!AD_NEW(call, rep, arenad__list_reply__init))
    return AR_EINTERNAL;
  Arenad__ArenaInfo *infos =
      ad_scratch_calloc(call->s, d->narenas, sizeof(*infos));
  rep->arenas = ad_scratch_calloc(call->s, d->narenas, sizeof(*rep->arenas));
  if (d->narenas > 0 && (infos == NULL || rep->arenas == NULL))
    return AR_EINTERNAL;

  for (size_t i = 0; i < d->narenas; i++) {
    const ad_arena_t *a = d->arenas[i];
    if (ad_call_arena_info(call, a, &infos[i]) < 0)
      return AR_EINTERNAL;
    rep->arenas[i] = &infos[i];
  }
  rep->n_arenas = d->narenas;
  call->resp->body_case = ARENAD__RESPONSE__BODY_LIST;
  call->resp->list = rep;
  return 0;
}

int ad_do_attach(ad_call_t *call, const Arenad__AttachRequest *m) {
  /* No stale check: attaching is how a connection learns the arena that
   * has the name now. */
  ad_arena_t *a = ad_daemon_arena(call->d, m->arena);
  if (a == NULL)
    return ad_call_no_arena(call, m->arena);
  int rc = ad_call_may(call, a,
                       m->read_only ? AD_MAY_READ : AD_MAY_READ | AD_MAY_WRITE);
  if (rc < 0)
    return rc;

  Arenad__AttachReply *rep;
  if (!AD_NEW(call, rep, arenad__attach_reply__init))
    return AR_EINTERNAL;
  /* The reply's descriptor is a duplicate (the reply may wait in the
   * output while the arena goes), made before the connection counts as
   * attached: an attach refused for want of one attaches nothing. */
  int fd = ad_segment_dup(&a->seg, m->read_only);
  if (fd == AR_ELIMIT) {
    call->d->stats.fds_exhausted++;
    return ad_fail(call, AR_ELIMIT,
                   AD_SEGMENT_NO_FD " for the arena's: try again later");
  }
  if (fd < 0)
    return ad_fail(call, AR_EINTERNAL,
                   "cannot duplicate the arena's descriptor");
  if (ad_conn_attach(call->c, a) < 0) {
    close(fd);
    return AR_EINTERNAL;
  }
  rep->size = a->size;
  rep->policy = ad_wire_policy(a->policy);
  rep->read_only = m->read_only;
  call->resp->body_case = ARENAD__RESPONSE__BODY_ATTACH;
  call->resp->attach = rep;
  call->pass_fd = fd;
  return 0;
}

/* The summary of arena a: the engine's stats, field for field, then the
 * daemon's own. */
static Arenad__ArenaSummary *summary(ad_call_t *call, const ad_arena_t *a) {
  Arenad__ArenaSummary *s;
  ar_engine_stats_t st;
  if (!AD_NEW(call, s, arenad__arena_summary__init))
    return NULL;
  ar_engine_stats(a->engine, &st);
  s->policy = ad_wire_policy(st.policy);
  s->size = st.size;
  s->used_bytes = st.used_bytes;
  s->free_bytes = st.free_bytes;
  s->live_blocks = st.live_blocks;
  s->live_requested = st.live_requested;
  s->overhead_bytes = st.overhead_bytes;
  s->free_extents = st.free_extents;
  s->largest_free = st.largest_free;
  s->external_frag = st.external_frag;
  s->allocs = st.allocs;
  s->frees = st.frees;
  s->failed_allocs = st.failed_allocs;
  s->bad_frees = st.bad_frees;
  s->corruptions = st.corruptions;
  s->last_corrupt = st.last_corrupt;
  s->hwm = st.hwm;
  s->peak_used = st.peak_used;
  s->peak_requested = st.peak_requested;
  s->meta_bytes = st.meta_bytes;
  s->peak_meta_bytes = st.peak_meta_bytes;
  s->rover = st.rover;
  s->max_order = st.max_order;
  if (st.policy == AR_POLICY_BUDDY) {
    size_t n = (size_t)st.max_order + 1;
    s->free_by_order = ad_scratch_alloc(call->s, n * sizeof(uint64_t));
    if (s->free_by_order == NULL)
      return NULL;
    memcpy(s->free_by_order, st.free_by_order, n * sizeof(uint64_t));
    s->n_free_by_order = n;
  }
  s->name = (char *)a->name;
  if ((s->access = ad_call_access(call, a)) == NULL)
    return NULL;
  s->detached_blocks = a->detached_blocks;
  s->attached_connections = a->attached_connections;
  s->permission_denied = a->permission_denied;
  s->quota_refused = a->quota_refused;
  return s;
}

/* Fills e from extent x, with the block's record for an allocated one.
 * Returns 0 or AR_EINTERNAL. */
static int extent(ad_call_t *call, const ad_arena_t *a, const ar_extent_t *x,
                  Arenad__Extent *e) {
  arenad__extent__init(e);
  e->start = x->start;
  e->size = x->size;
  e->free = x->free;
  if (x->free)
    return 0;
  e->payload = x->payload;
  e->n = x->n;
  const ad_block_t *blk = ad_arena_block(a, x->payload);
  if (blk == NULL)
    return 0; /* check reports it; inspection shows what the engine has */
  e->refcount = blk->refcount;
  e->detached = blk->detached;
  uint32_t n = ad_block_nholds(blk);
  if (n == 0)
    return 0;
  Arenad__Holder *hs = ad_scratch_calloc(call->s, n, sizeof(*hs));
  e->holders = ad_scratch_calloc(call->s, n, sizeof(*e->holders));
  if (hs == NULL || e->holders == NULL)
    return AR_EINTERNAL;
  uint32_t i = 0;
  for (const ad_hold_t *h = blk->holds; h != NULL; h = h->block_next, i++) {
    arenad__holder__init(&hs[i]);
    hs[i].connection_id = h->holder->id;
    hs[i].pid = h->holder->pid;
    hs[i].uid = h->holder->uid;
    hs[i].client_name = (char *)h->holder->name;
    hs[i].references = h->refs;
    e->holders[i] = &hs[i];
  }
  e->n_holders = n;
  return 0;
}

/*
 * Collects into out[0..limit) the pieces of the page that starts at
 * `cursor`: free extents, every extent, or the detached blocks only (which
 * may take several walks; at most 8 pages' worth of pieces are examined,
 * and the page may come back short: fill_page counts it in pages_short).
 * Stores the count and the next cursor.
 */
static int collect(const ad_arena_t *a, Arenad__InspectWhat what,
                   uint64_t cursor, ar_extent_t *out, size_t limit,
                   ar_extent_t *tmp, size_t *count, uint64_t *next) {
  if (what != ARENAD__INSPECT_WHAT__INSPECT_DETACHED)
    return ar_engine_walk(a->engine,
                          what == ARENAD__INSPECT_WHAT__INSPECT_FREE_LIST,
                          cursor, out, limit, count, next);

  size_t n = 0, examined = 0;
  while (n < limit && cursor < a->size && examined < 8 * limit) {
    size_t k;
    uint64_t after;
    int rc = ar_engine_walk(a->engine, false, cursor, tmp, limit, &k, &after);
    if (rc < 0)
      return rc;
    examined += k;
    cursor = after;
    if (k == 0)
      break;
    for (size_t i = 0; i < k; i++) {
      const ad_block_t *blk =
          tmp[i].free ? NULL : ad_arena_block(a, tmp[i].payload);
      if (blk == NULL || !blk->detached)
        continue;
      out[n++] = tmp[i];
      if (n == limit) {
        if (i + 1 < k)
          cursor = tmp[i + 1].start;
        break;
      }
    }
  }
  *count = n;
  *next = cursor;
  return 0;
}

/*
 * A page cut down to one extent that still passes `room` bytes is a block
 * with more holders than a frame can list (up to max_connections of them,
 * each with a name): keeps the oldest holders that fit and counts the rest
 * in holders_omitted. Each try is measured with its holders_omitted set,
 * since the count takes bytes of its own (none when it is 0). Without
 * holders it fits: an extent takes a few dozen bytes and a summary (every
 * order of a buddy arena, the longest name) about 1.3 KiB, far below the
 * smallest frame (4 KiB).
 */
static void fit_holders(Arenad__InspectReply *rep, size_t room) {
  Arenad__Extent *e = rep->extents[0];
  size_t total = e->n_holders;
  size_t lo = 0, hi = total; /* lo holders fit; more than hi do not */
  while (lo < hi) {
    size_t mid = lo + (hi - lo + 1) / 2;
    e->n_holders = mid;
    e->holders_omitted = (uint32_t)(total - mid);
    if (arenad__inspect_reply__get_packed_size(rep) <= room)
      lo = mid;
    else
      hi = mid - 1;
  }
  e->n_holders = lo;
  e->holders_omitted = (uint32_t)(total - lo);
}

/*
 * Walks the page m asks for (at most m->limit pieces, default_page when it
 * is 0, clamped to max_page) and puts its extents in rep, with the cursor
 * after them. Stores the pieces walked in *walked (scratch memory, for
 * cut_to_frame). Returns 0, AR_EINTERNAL when memory runs out, or the
 * walk's error with the reply's message set.
 */
static int fill_page(ad_call_t *call, const ad_arena_t *a,
                     const Arenad__InspectRequest *m, Arenad__InspectReply *rep,
                     ar_extent_t **walked) {
  ad_daemon_t *d = call->d;
  size_t limit = m->limit != 0 ? m->limit : d->cfg->default_page;
  if (limit > d->cfg->max_page) {
    limit = d->cfg->max_page;
    d->stats.pages_clamped++;
  }
  ar_extent_t *x = ad_scratch_alloc(call->s, limit * sizeof(*x));
  ar_extent_t *tmp = m->what == ARENAD__INSPECT_WHAT__INSPECT_DETACHED
                         ? ad_scratch_alloc(call->s, limit * sizeof(*tmp))
                         : x;
  if (x == NULL || tmp == NULL)
    return AR_EINTERNAL;
  size_t count;
  uint64_t next;
  int rc = collect(a, m->what, m->cursor, x, limit, tmp, &count, &next);
  if (rc < 0)
    return ad_fail(call, rc, "cannot walk the arena: %s", ar_strerror(rc));
  if (count < limit && next < a->size)
    d->stats.pages_short++; /* a walk's bound: the client pages on */

  Arenad__Extent *es = ad_scratch_calloc(call->s, count, sizeof(*es));
  rep->extents = ad_scratch_calloc(call->s, count, sizeof(*rep->extents));
  if (count > 0 && (es == NULL || rep->extents == NULL))
    return AR_EINTERNAL;
  for (size_t i = 0; i < count; i++) {
    if (extent(call, a, &x[i], &es[i]) < 0)
      return AR_EINTERNAL;
    rep->extents[i] = &es[i];
  }
  rep->n_extents = count;
  rep->next_cursor = next;
  *walked = x;
  return 0;
}

/* The reply must fit in a frame, beside the envelope (reply_bound.h): a
 * page too large is halved until it fits, its cursor moved back to the
 * first piece of `walked` left out (the client goes on from there), and a
 * lone extent left too large loses holders (fit_holders). Counted in
 * pages_cut. */
static void cut_to_frame(ad_daemon_t *d, Arenad__InspectReply *rep,
                         const ar_extent_t *walked) {
  size_t room = ad_reply_inspect_room(d->cfg->max_frame_bytes);
  if (arenad__inspect_reply__get_packed_size(rep) <= room)
    return;
  d->stats.pages_cut++;
  while (arenad__inspect_reply__get_packed_size(rep) > room &&
         rep->n_extents > 1) {
    rep->n_extents /= 2;
    rep->next_cursor = walked[rep->n_extents].start;
  }
  if (rep->n_extents == 1)
    fit_holders(rep, room);
}

int ad_do_inspect(ad_call_t *call, const Arenad__InspectRequest *m) {
  ad_arena_t *a;
  int rc = ad_call_open(call, m->arena, AD_MAY_READ, &a);
  if (rc < 0)
    return rc;
  if (m->what < ARENAD__INSPECT_WHAT__INSPECT_SUMMARY ||
      m->what > ARENAD__INSPECT_WHAT__INSPECT_DETACHED)
    return ad_fail(call, AR_EINVAL, "unknown inspect kind %d", (int)m->what);
  if (m->cursor > a->size)
    return ad_fail(call, AR_EINVAL,
                   "cursor %llu is beyond the arena's size %llu",
                   (unsigned long long)m->cursor, (unsigned long long)a->size);

  Arenad__InspectReply *rep;
  if (!AD_NEW(call, rep, arenad__inspect_reply__init) ||
      (rep->summary = summary(call, a)) == NULL)
    return AR_EINTERNAL;
  call->resp->body_case = ARENAD__RESPONSE__BODY_INSPECT;
  call->resp->inspect = rep;
  rep->next_cursor = a->size;
  if (m->what == ARENAD__INSPECT_WHAT__INSPECT_SUMMARY)
    return 0;

  ar_extent_t *walked = NULL; /* set by fill_page when it succeeds */
  rc = fill_page(call, a, m, rep, &walked);
  if (rc < 0)
    return rc;
  cut_to_frame(call->d, rep, walked);
  return 0;
}

int ad_do_check(ad_call_t *call, const Arenad__CheckRequest *m) {
  ad_daemon_t *d = call->d;
  ad_arena_t *a;
  int rc = ad_call_open(call, m->arena, AD_MAY_READ, &a);
  if (rc < 0)
    return rc;

  Arenad__CheckReply *rep;
  if (!AD_NEW(call, rep, arenad__check_reply__init))
    return AR_EINTERNAL;
  call->resp->body_case = ARENAD__RESPONSE__BODY_CHECK;
  call->resp->check = rep;

  ar_check_report_t r;
  rc = ad_arena_check(a, &r);
  rep->ok = rc == 0;
  rep->headers_overwritten = ad_arena_overwritten(a, &rep->first_overwritten);
  if (rc == 0)
    return 0;

  rep->invariant = (char *)r.invariant;
  rep->offset = r.offset;
  rep->detail = ad_scratch_printf(call->s, "%s", r.detail);
  if (rep->detail == NULL)
    rep->detail = (char *)"";
  d->stats.corruptions_detected++;
  ad_audit_check_failed(call->c, a, r.invariant, r.offset, r.detail);
  return ad_fail(call, AR_ECORRUPT, "integrity check of arena '%s' failed: "
                 "%s", a->name, r.detail);
}
