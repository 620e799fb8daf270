/*
 * inspect.c: the requests that read an arena's state: list, inspect (a
 * summary and a page of extents, or one block's size) and check. Each
 * turns its protobuf reply into the public C structs, packed into one
 * heap block with the strings they point to, so that the caller frees a
 * result with one call and no protobuf type leaks into the API.
 */
#include <stdlib.h>
#include <string.h>

#include "ar/engine.h" /* AR_HDR, AR_ALIGN_MAX: the model's constants */
#include "internal.h"

/* Strings are copied to the end of a result block through this cursor. */
static const char *put_str(char **at, const char *s) {
  if (s == NULL)
    s = "";
  size_t n = strlen(s) + 1;
  char *p = *at;
  memcpy(p, s, n);
  *at += n;
  return p;
}

static size_t str_size(const char *s) {
  return (s != NULL ? strlen(s) : 0) + 1;
}

static void fill_access(arenad_access_t *a, const Arenad__Access *w) {
  if (w == NULL) {
    memset(a, 0, sizeof *a);
    return;
  }
  a->mode = w->mode;
  a->owner_uid = w->owner_uid;
  a->group_gid = w->group_gid;
}

/* ---- list ---------------------------------------------------------------- */

int arenad_list(arenad_t *h, arenad_arena_t **out, size_t *n) {
  if (out == NULL || n == NULL)
    return arenad__fail(h, AR_EINVAL, "no place for the result");
  *out = NULL;
  *n = 0;
  Arenad__ListRequest body = ARENAD__LIST_REQUEST__INIT;
  Arenad__Request req = ARENAD__REQUEST__INIT;
  req.body_case = ARENAD__REQUEST__BODY_LIST;
  req.list = &body;

  Arenad__Response *r;
  int rc = arenad__call(h, &req, false, &r);
  if (r == NULL || rc < 0) {
    arenad__response_free(h, r);
    return rc;
  }
  const Arenad__ListReply *lr = r->list;
  size_t count = lr->n_arenas;
  if (count == 0) {
    arenad__response_free(h, r);
    return 0;
  }
  arenad_arena_t *arenas = arenad__arenas_make(lr->arenas, count);
  arenad__response_free(h, r);
  if (arenas == NULL)
    return arenad__fail(h, AR_EINTERNAL, "no memory for %zu arenas", count);
  *out = arenas;
  *n = count;
  return 0;
}

arenad_arena_t *arenad__arenas_make(Arenad__ArenaInfo *const *infos,
                                    size_t count) {
  size_t total = count * sizeof(arenad_arena_t);
  for (size_t i = 0; i < count; i++)
    total += str_size(infos[i]->name);
  arenad_arena_t *arenas = malloc(total);
  if (arenas == NULL)
    return NULL;
  char *strings = (char *)(arenas + count);
  for (size_t i = 0; i < count; i++) {
    const Arenad__ArenaInfo *w = infos[i];
    arenad_arena_t *a = &arenas[i];
    a->name = put_str(&strings, w->name);
    a->size = w->size;
    a->policy = arenad__policy(w->policy);
    a->used_bytes = w->used_bytes;
    a->free_bytes = w->free_bytes;
    a->live_blocks = w->live_blocks;
    fill_access(&a->access, w->access);
    a->quota_bytes = w->quota_bytes;
    a->quota_blocks = w->quota_blocks;
  }
  return arenas;
}

void arenad_list_destroy(arenad_arena_t *arenas) {
  free(arenas);
}

/* ---- inspect ------------------------------------------------------------- */

static void fill_summary(arenad_summary_t *s, const Arenad__ArenaSummary *w,
                         char **strings) {
  memset(s, 0, sizeof *s);
  s->name = put_str(strings, w->name);
  s->policy = arenad__policy(w->policy);
  s->size = w->size;
  s->used_bytes = w->used_bytes;
  s->free_bytes = w->free_bytes;
  s->live_blocks = w->live_blocks;
  s->live_requested = w->live_requested;
  s->overhead_bytes = w->overhead_bytes;
  s->free_extents = w->free_extents;
  s->largest_free = w->largest_free;
  s->external_frag = w->external_frag;
  s->allocs = w->allocs;
  s->frees = w->frees;
  s->failed_allocs = w->failed_allocs;
  s->bad_frees = w->bad_frees;
  s->corruptions = w->corruptions;
  s->last_corrupt = w->last_corrupt;
  s->hwm = w->hwm;
  s->peak_used = w->peak_used;
  s->peak_requested = w->peak_requested;
  s->meta_bytes = w->meta_bytes;
  s->peak_meta_bytes = w->peak_meta_bytes;
  s->rover = w->rover;
  s->max_order = w->max_order;
  size_t norders = w->n_free_by_order;
  if (norders > ARENAD_ORDER_MAX + 1)
    norders = ARENAD_ORDER_MAX + 1;
  s->n_orders = (uint32_t)norders;
  for (size_t i = 0; i < norders; i++)
    s->free_by_order[i] = w->free_by_order[i];
  fill_access(&s->access, w->access);
  s->detached_blocks = w->detached_blocks;
  s->attached_connections = w->attached_connections;
  s->permission_denied = w->permission_denied;
  s->quota_refused = w->quota_refused;
}

/* Packs a reply into one block: the page, its extents, their holders,
 * then the strings. Returns NULL without memory. */
static arenad_page_t *make_page(const Arenad__InspectReply *ir) {
  size_t next = ir->n_extents;
  size_t nholders = 0;
  size_t strings = str_size(ir->summary->name);
  for (size_t i = 0; i < next; i++) {
    const Arenad__Extent *e = ir->extents[i];
    nholders += e->n_holders;
    for (size_t j = 0; j < e->n_holders; j++)
      strings += str_size(e->holders[j]->client_name);
  }
  size_t total = sizeof(arenad_page_t) + next * sizeof(arenad_extent_t) +
                 nholders * sizeof(arenad_holder_t) + strings;
  arenad_page_t *page = malloc(total);
  if (page == NULL)
    return NULL;
  arenad_extent_t *ext = (arenad_extent_t *)(page + 1);
  arenad_holder_t *hold = (arenad_holder_t *)(ext + next);
  char *str = (char *)(hold + nholders);

  fill_summary(&page->summary, ir->summary, &str);
  page->extents = next > 0 ? ext : NULL;
  page->n_extents = next;
  page->next_cursor = ir->next_cursor;
  for (size_t i = 0; i < next; i++) {
    const Arenad__Extent *w = ir->extents[i];
    arenad_extent_t *x = &ext[i];
    x->start = w->start;
    x->size = w->size;
    x->free = w->free;
    x->payload = w->payload;
    x->n = w->n;
    x->refcount = w->refcount;
    x->detached = w->detached;
    x->holders = w->n_holders > 0 ? hold : NULL;
    x->n_holders = w->n_holders;
    x->holders_omitted = w->holders_omitted;
    for (size_t j = 0; j < w->n_holders; j++, hold++) {
      const Arenad__Holder *wh = w->holders[j];
      hold->connection_id = wh->connection_id;
      hold->pid = wh->pid;
      hold->uid = wh->uid;
      hold->client_name = put_str(&str, wh->client_name);
      hold->references = wh->references;
    }
  }
  return page;
}

int arenad_inspect(arenad_t *h, const char *name, arenad_inspect_what_t what,
                   uint64_t cursor, uint32_t limit, arenad_page_t **out) {
  if (out == NULL)
    return arenad__fail(h, AR_EINVAL, "no place for the page");
  *out = NULL;
  int rc = arenad__check_name(h, name);
  if (rc < 0)
    return rc;
  if ((int)what < ARENAD_INSPECT_SUMMARY || what > ARENAD_INSPECT_DETACHED)
    return arenad__fail(h, AR_EINVAL, "no such inspection: %d", (int)what);

  Arenad__InspectRequest body = ARENAD__INSPECT_REQUEST__INIT;
  body.arena = (char *)name;
  body.what = (Arenad__InspectWhat)what;
  body.cursor = cursor;
  body.limit = limit;
  Arenad__Request req = ARENAD__REQUEST__INIT;
  req.body_case = ARENAD__REQUEST__BODY_INSPECT;
  req.inspect = &body;

  Arenad__Response *r;
  rc = arenad__call(h, &req, false, &r);
  if (r == NULL || rc < 0) {
    arenad__response_free(h, r);
    return rc;
  }
  const Arenad__InspectReply *ir = r->inspect;
  if (ir->summary == NULL) {
    arenad__response_free(h, r);
    return arenad__break(h, AR_EPROTO, "an inspect reply without a summary");
  }
  uint64_t size = ir->summary->size, next = ir->next_cursor;
  if (next > size || (next <= cursor && next != size)) {
    arenad__response_free(h, r);
    return arenad__break(h, AR_EPROTO,
                         "inspect: cursor %llu leads to %llu in an arena of "
                         "%llu bytes",
                         (unsigned long long)cursor, (unsigned long long)next,
                         (unsigned long long)size);
  }
  arenad_page_t *page = make_page(ir);
  arenad__response_free(h, r);
  if (page == NULL)
    return arenad__fail(h, AR_EINTERNAL, "no memory for an inspect page");
  *out = page;
  return 0;
}

void arenad_page_destroy(arenad_page_t *page) {
  free(page);
}

/* ---- one block's size ---------------------------------------------------- */

/* Where the block whose payload is `offset` starts, if it is live, and
 * what one page of one extent from there said of it: *n its requested
 * bytes when it is there (0 otherwise), *policy and *size the arena's.
 * Returns 0, or arenad_inspect's code. */
static int block_at(arenad_t *h, const char *name, uint64_t start,
                    uint64_t offset, uint64_t *n, arenad_policy_t *policy,
                    uint64_t *size) {
  arenad_page_t *page;
  int rc = arenad_inspect(h, name, ARENAD_INSPECT_BLOCKS, start, 1, &page);
  if (rc < 0)
    return rc;
  const arenad_extent_t *e = page->n_extents == 1 ? &page->extents[0] : NULL;
  *n = e != NULL && !e->free && e->start == start && e->payload == offset ? e->n
                                                                          : 0;
  *policy = page->summary.policy;
  *size = page->summary.size;
  arenad_page_destroy(page);
  return 0;
}

/* A block starts AR_HDR before its payload, but for a buddy block
 * allocated with an alignment A over 16, whose payload is A bytes into a
 * block aligned to a larger power of two: A is then the payload's lowest
 * set bit. So one page from payload - 16 finds every block but those, and
 * for a buddy arena a second page from payload - A finds them. */
int arenad_block_size(arenad_t *h, const char *name, uint64_t offset,
                      uint64_t *n) {
  if (n == NULL)
    return arenad__fail(h, AR_EINVAL, "no place for the size");
  *n = 0;
  int rc = arenad__check_name(h, name);
  if (rc < 0)
    return rc;
  const char *why = "no payload is there";
  if (offset >= AR_HDR && offset % AR_HDR == 0) {
    arenad_policy_t policy;
    uint64_t size, lowest = offset & (~offset + 1);
    rc = block_at(h, name, offset - AR_HDR, offset, n, &policy, &size);
    if (rc == 0 && *n == 0 && policy == ARENAD_POLICY_BUDDY &&
        lowest > AR_HDR && lowest <= AR_ALIGN_MAX && lowest <= offset)
      rc = block_at(h, name, offset - lowest, offset, n, &policy, &size);
    if (rc == 0 && *n != 0)
      return 0;
    /* With a valid name and what, a refused walk is a cursor past the
     * arena's end. */
    if (rc == AR_EINVAL || (rc == 0 && offset - AR_HDR >= size))
      why = "past the arena's end";
    else if (rc < 0)
      return rc;
    else
      why = "freed, never given, or inside a block";
  }
  return arenad__fail(h, AR_EINVAL,
                      "no live block has payload %llu in arena '%s' (%s)",
                      (unsigned long long)offset, name, why);
}

/* ---- check --------------------------------------------------------------- */

int arenad_check(arenad_t *h, const char *name, arenad_check_t *out) {
  if (out != NULL)
    memset(out, 0, sizeof *out);
  int rc = arenad__check_name(h, name);
  if (rc < 0)
    return rc;
  Arenad__CheckRequest body = ARENAD__CHECK_REQUEST__INIT;
  body.arena = (char *)name;
  Arenad__Request req = ARENAD__REQUEST__INIT;
  req.body_case = ARENAD__REQUEST__BODY_CHECK;
  req.check = &body;

  Arenad__Response *r;
  rc = arenad__call(h, &req, false, &r);
  if (r == NULL)
    return rc;
  const Arenad__CheckReply *cr = r->check;
  if (cr == NULL) { /* an error before the check ran: not found, ... */
    arenad__response_free(h, r);
    return rc;
  }
  if (cr->ok != (rc == 0)) {
    arenad__response_free(h, r);
    return arenad__break(h, AR_EPROTO,
                         "a check reply says %s with status %s",
                         cr->ok ? "ok" : "not ok", ar_err_name(rc));
  }
  if ((cr->headers_overwritten == 0) != (cr->first_overwritten == 0)) {
    arenad__response_free(h, r);
    return arenad__break(h, AR_EPROTO,
                         "a check reply names %llu overwritten headers, the "
                         "first at %llu",
                         (unsigned long long)cr->headers_overwritten,
                         (unsigned long long)cr->first_overwritten);
  }
  if (out != NULL) {
    out->ok = cr->ok;
    arenad__copy_str(out->invariant, sizeof out->invariant, cr->invariant);
    out->offset = cr->offset;
    arenad__copy_str(out->detail, sizeof out->detail, cr->detail);
    out->headers_overwritten = cr->headers_overwritten;
    out->first_overwritten = cr->first_overwritten;
  }
  arenad__response_free(h, r);
  return rc;
}
