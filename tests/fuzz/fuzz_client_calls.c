/*
 * fuzz_client_calls.c: fuzz_client's calls, and the checks of what
 * arenad.h promises after each: a handle broken by AR_EPROTO or AR_EIO
 * answers AR_EIO from then on, keeps its first error and has nothing in
 * flight; otherwise arenad_in_flight is the number of requests submitted
 * and not collected; a block's offset lies, with its size, inside the
 * arena's mapping when it is attached (the harness touches both ends);
 * counts, statuses and overwritten headers are what was asked for (indices
 * below the submitted count and increasing); results are NULL or empty
 * after an error; strings end inside their arrays.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "ar/frame.h"
#include "arenad.h"
#include "fuzz_client_internal.h"

/* The calls' names, for the trace (FUZZ_CLIENT_TRACE=1 prints each call,
 * what it returned and arenad_error). */
static const char *const call_names[FC_CALLS] = {
    "hello",        "ping",         "list",          "attach",
    "detach",       "alloc",        "alloc_n",       "free",
    "free_n",       "free_each",    "free_report",   "retain",
    "release",      "transfer",     "inspect",       "check",
    "stats",        "create_arena", "destroy_arena", "submit_ping",
    "submit_alloc", "submit_free",  "flush",         "collect"};

/* ---- Checks -------------------------------------------------------------- */

/* Whether the page at p is no longer mapped. */
bool fzc_unmapped(const void *p) {
  unsigned char v;
  return mincore((void *)p, 1, &v) < 0 && errno == ENOMEM;
}

/* Reads (and, when writable, writes back) the first and last byte of
 * [p, p + n): a pointer past what the caller may use faults here. */
static void touch(uint8_t *p, uint64_t n, bool read_only) {
  if (n == 0)
    return;
  volatile uint8_t *v = p;
  uint8_t first = v[0], last = v[n - 1];
  if (!read_only) {
    v[0] = first;
    v[n - 1] = last;
  }
}

/* A block the library handed out: inside the arena's mapping when it is
 * attached (map_size: the mapping's size then; 0: not attached). */
static void check_block(run_t *r, int name, uint64_t off, uint64_t size,
                        uint64_t map_size) {
  if (map_size != 0)
    CHECK(off < map_size && size <= map_size - off,
          "a block of %llu bytes at %llu in %s, mapped with %llu bytes",
          (unsigned long long)size, (unsigned long long)off, fzc_names[name],
          (unsigned long long)map_size);
  const map_t *m = &r->maps[name];
  if (m->on && m->size == map_size)
    touch(m->base + off, size, m->read_only);
  fzc_pool_add(r, off);
}

static bool ends_in(const char *s, size_t size) {
  return memchr(s, '\0', size) != NULL;
}

static bool is_policy(arenad_policy_t p) {
  return (unsigned)p <= ARENAD_POLICY_UNKNOWN;
}

/* A per-offset status: 0 or a code. */
static bool is_code(int st) { return st <= 0 && st >= AR_EPROTO; }

/* ---- The calls ----------------------------------------------------------- */

/* Whether the call waits for a reply (as far as the harness can tell:
 * one that may not is guarded all the same). */
bool fzc_reads_reply(const run_t *r, const call_t *c) {
  if (r->broken)
    return false;
  switch (c->call) {
  case FC_DETACH:
  case FC_SUBMIT_PING:
  case FC_SUBMIT_ALLOC:
  case FC_SUBMIT_FREE:
  case FC_FLUSH:
    return false;
  case FC_COLLECT:
    return r->len > 0;
  case FC_ATTACH:
    if (r->maps[c->name].on)
      return false;
    return r->len == 0;
  default:
    return r->len == 0;
  }
}

static bool is_blocking(int call) {
  return call != FC_DETACH && call != FC_SUBMIT_PING &&
         call != FC_SUBMIT_ALLOC && call != FC_SUBMIT_FREE &&
         call != FC_FLUSH && call != FC_COLLECT;
}

static void submitted(run_t *r, int rc, arenad_op_t op, const call_t *c,
                      uint32_t count) {
  if (rc != 0)
    return;
  CHECK(r->len < FIFO, "more in flight than the harness follows");
  pend_t *p = fzc_fifo_at(r, r->len++);
  *p = (pend_t){.id = r->next_id++,
                .tag = c->tag,
                .op = op,
                .name = c->name,
                .count = count};
  if (op == ARENAD_OP_ALLOC) {
    p->size = c->size;
    p->map_size = r->maps[c->name].on ? r->maps[c->name].size : 0;
  }
  CHECK(arenad_in_flight(r->h) <= arenad_window(r->h),
        "%zu requests in flight, the window is %zu", arenad_in_flight(r->h),
        arenad_window(r->h));
}

static void do_hello(run_t *r, const call_t *c, int *rc) {
  static const char *const who[3] = {"fuzz", "", NULL};
  arenad_hello_t hi; /* always asked for: the harness needs the limit */
  memset(&hi, 'x', sizeof hi);
  *rc = arenad_hello(r->h, who[c->a[0] % 3], &hi);
  if (*rc == 0 || *rc == AR_EVERSION)
    CHECK(ends_in(hi.daemon_version, sizeof hi.daemon_version),
          "hello: daemon_version is not a string");
  if (*rc != 0)
    return;
  /* The limit the library reads replies by from now on (arenad.h). */
  r->max_frame = hi.max_frame_bytes == 0 ? AR_FRAME_MAX_DEFAULT
                 : hi.max_frame_bytes > ARENAD_FRAME_MAX_CLIENT
                     ? ARENAD_FRAME_MAX_CLIENT
                     : hi.max_frame_bytes;
  size_t want = hi.max_in_flight ? hi.max_in_flight : ARENAD_WINDOW_DEFAULT;
  size_t window = arenad_window(r->h);
  CHECK(window > 0 && (want <= 1024 ? window == want : window <= want),
        "hello: window %zu, max_in_flight %u", window, hi.max_in_flight);
}

static void do_list(run_t *r, int *rc) {
  arenad_arena_t *a = (arenad_arena_t *)&r; /* must be replaced */
  size_t n = 99;
  *rc = arenad_list(r->h, &a, &n);
  if (*rc < 0) {
    CHECK(a == NULL && n == 0, "list: a result after an error");
    return;
  }
  CHECK((a == NULL) == (n == 0), "list: %zu arenas in %p", n, (void *)a);
  for (size_t i = 0; i < n; i++)
    CHECK(strlen(a[i].name) < 4096 && is_policy(a[i].policy), "list: arena %zu",
          i);
  arenad_list_destroy(a);
}

static void do_attach(run_t *r, const call_t *c, int *rc) {
  map_t *m = &r->maps[c->name];
  unsigned flags = (c->a[1] & 1) ? ARENAD_ATTACH_READ_ONLY : 0;
  arenad_map_t out;
  memset(&out, 0, sizeof out);
  *rc = arenad_attach(r->h, fzc_names[c->name], flags, &out);
  if (*rc < 0)
    return;
  CHECK(out.base != NULL && out.size > 0 && is_policy(out.policy),
        "attach: a mapping of %llu bytes at %p", (unsigned long long)out.size,
        out.base);
  if (m->on) { /* the mapping it has, as it is (read-only asked or not) */
    CHECK(out.base == m->base && out.size == m->size &&
              out.read_only == m->read_only,
          "attach: another mapping of %s", fzc_names[c->name]);
    return;
  }
  CHECK(!flags || out.read_only, "attach: read-only asked, writable given");
  *m = (map_t){.on = true,
               .base = out.base,
               .size = out.size,
               .read_only = out.read_only};
  touch(m->base, m->size, m->read_only);
}

static void do_detach(run_t *r, const call_t *c, int *rc) {
  map_t *m = &r->maps[c->name];
  *rc = arenad_detach(r->h, fzc_names[c->name]);
  if (!m->on) {
    CHECK(*rc == AR_ENOENT, "detach of %s, not attached: %d",
          fzc_names[c->name], *rc);
    return;
  }
  CHECK(*rc == 0, "detach of %s: %d", fzc_names[c->name], *rc);
  CHECK(fzc_unmapped(m->base), "detach left %s mapped", fzc_names[c->name]);
  m->on = false;
}

static void do_alloc(run_t *r, const call_t *c, int *rc) {
  const map_t *m = &r->maps[c->name];
  uint64_t off = 0;
  void *p = &off; /* must be replaced */
  bool want_ptr = !(c->a[2] & 0x40);
  unsigned flags = (c->a[2] & 0x80) ? ARENAD_ALLOC_DETACHED : 0;
  *rc = arenad_alloc(r->h, fzc_names[c->name], c->size, c->align, flags, &off,
                     want_ptr ? &p : NULL);
  if (*rc < 0) {
    CHECK(!want_ptr || p == NULL, "alloc: a pointer after an error");
    return;
  }
  if (want_ptr)
    CHECK(p == (m->on ? m->base + off : NULL), "alloc: pointer %p for %llu", p,
          (unsigned long long)off);
  check_block(r, c->name, off, c->size, m->on ? m->size : 0);
}

static void do_alloc_n(run_t *r, const call_t *c, int *rc) {
  const map_t *m = &r->maps[c->name];
  uint64_t offs[MAX_OFFSETS];
  *rc = arenad_alloc_n(r->h, fzc_names[c->name], c->size, c->align, c->count, 0,
                       offs);
  for (uint32_t i = 0; *rc == 0 && i < c->count; i++)
    check_block(r, c->name, offs[i], c->size, m->on ? m->size : 0);
}

/* The frees of several offsets. Statuses start as 1, which no call may
 * leave. */
static void do_free_many(run_t *r, const call_t *c, int *rc) {
  size_t n = c->count;
  int st[MAX_OFFSETS];
  uint64_t ow[MAX_OFFSETS];
  size_t now = 99;
  for (size_t i = 0; i < n; i++)
    st[i] = 1;
  bool with_st = c->call == FC_FREE_REPORT || !(c->a[2] & 1);
  bool with_ow = !(c->a[2] & 2);
  const char *name = fzc_names[c->name];
  if (c->call == FC_FREE_N)
    *rc = arenad_free_n(r->h, name, c->offs, n, with_st ? st : NULL);
  else if (c->call == FC_FREE_EACH)
    *rc = arenad_free_each(r->h, name, c->offs, n, with_st ? st : NULL);
  else
    *rc = arenad_free_report(r->h, name, c->offs, n, st, with_ow ? ow : NULL,
                             &now);
  if (!with_st)
    return;
  bool all_rc = true;
  int first = 0;
  for (size_t i = 0; i < n; i++) {
    CHECK(is_code(st[i]), "free: status %d for offset %zu", st[i], i);
    all_rc = all_rc && st[i] == *rc;
    if (first == 0)
      first = st[i];
  }
  if (c->call == FC_FREE_N)
    /* 0 when all succeeded, else the first failure's code, or the
     * request's, which is then every offset's */
    CHECK(*rc == 0 ? first == 0 : all_rc || first == *rc,
          "free_n: returned %d, first failure %d", *rc, first);
  else if (*rc < 0)
    CHECK(all_rc, "free_each: returned %d, not every offset's status", *rc);
  if (c->call != FC_FREE_REPORT)
    return;
  if (*rc < 0) {
    CHECK(now == 0, "free_report: failed as a whole, %zu overwritten", now);
    return;
  }
  /* The overwritten offsets: among the offsets, in their order, each of
   * one whose free succeeded. */
  CHECK(now <= n, "free_report: %zu overwritten of %zu", now, n);
  size_t j = 0;
  for (size_t i = 0; with_ow && i < now; i++, j++) {
    while (j < n && (c->offs[j] != ow[i] || st[j] != 0))
      j++;
    CHECK(j < n,
          "free_report: overwritten %zu (offset %llu) is not one "
          "freed, in order",
          i, (unsigned long long)ow[i]);
  }
}

static void do_release(run_t *r, const call_t *c, int *rc) {
  uint32_t left = 12345;
  bool ow = true;
  if (c->a[2] & 1) {
    *rc = arenad_release(r->h, fzc_names[c->name], c->offs[0], &left);
    return;
  }
  *rc = arenad_release_report(r->h, fzc_names[c->name], c->offs[0], &left, &ow);
  if (*rc < 0)
    CHECK(!ow, "release_report: overwritten after an error");
  else
    CHECK(!ow || left == 0, "release_report: overwritten, %u references left",
          left);
}

static void do_inspect(run_t *r, const call_t *c, int *rc) {
  arenad_page_t *pg = (arenad_page_t *)&r; /* must be replaced */
  arenad_inspect_what_t what = (arenad_inspect_what_t)((c->a[0] >> 2) % 4);
  *rc = arenad_inspect(r->h, fzc_names[c->name], what, c->cursor, c->a[2], &pg);
  if (*rc < 0) {
    CHECK(pg == NULL, "inspect: a page after an error");
    return;
  }
  CHECK(pg != NULL, "inspect: no page");
  const arenad_summary_t *s = &pg->summary;
  CHECK(pg->next_cursor <= s->size &&
            (pg->next_cursor > c->cursor || pg->next_cursor == s->size),
        "inspect: cursor %llu leads to %llu of %llu",
        (unsigned long long)c->cursor, (unsigned long long)pg->next_cursor,
        (unsigned long long)s->size);
  CHECK(s->n_orders <= ARENAD_ORDER_MAX + 1 && is_policy(s->policy) &&
            strlen(s->name) < 4096,
        "inspect: the summary");
  CHECK(pg->n_extents == 0 || pg->extents != NULL, "inspect: no extents");
  for (size_t i = 0; i < pg->n_extents; i++) {
    const arenad_extent_t *e = &pg->extents[i];
    CHECK(e->n_holders == 0 || e->holders != NULL, "inspect: no holders");
    for (size_t j = 0; j < e->n_holders; j++)
      CHECK(strlen(e->holders[j].client_name) < 4096, "inspect: a holder");
  }
  arenad_page_destroy(pg);
}

static void do_check(run_t *r, const call_t *c, int *rc) {
  arenad_check_t out;
  memset(&out, 0, sizeof out);
  memset(out.invariant, 'x', sizeof out.invariant);
  memset(out.detail, 'x', sizeof out.detail);
  bool want = !(c->a[1] & 1);
  *rc = arenad_check(r->h, fzc_names[c->name], want ? &out : NULL);
  if (!want)
    return;
  CHECK(out.ok == (*rc == 0), "check: ok %d, returned %d", out.ok, *rc);
  CHECK(ends_in(out.invariant, sizeof out.invariant) &&
            ends_in(out.detail, sizeof out.detail),
        "check: a string without its end");
}

static void do_stats(run_t *r, int *rc) {
  arenad_stat_t *s = (arenad_stat_t *)&r; /* must be replaced */
  size_t n = 99;
  *rc = arenad_stats(r->h, &s, &n);
  if (*rc < 0) {
    CHECK(s == NULL && n == 0, "stats: a result after an error");
    return;
  }
  CHECK(n == 0 || s != NULL, "stats: %zu in NULL", n);
  for (size_t i = 0; i < n; i++) {
    CHECK(strlen(s[i].name) < 4096 && (unsigned)s[i].type <= 2,
          "stats: figure %zu", i);
    if (s[i].type == ARENAD_STAT_STRING)
      CHECK(strlen(s[i].s) < 4096, "stats: figure %zu", i);
  }
  arenad_stats_destroy(s);
}

static void do_create(run_t *r, const call_t *c, int *rc) {
  arenad_access_t acc = {.mode = 0640, .owner_uid = c->a[2]};
  arenad_arena_spec_t spec = {
      .size = 4096 * (uint64_t)(1 + c->a[1] % 16),
      .policy = (arenad_policy_t)((c->a[1] >> 4) % ARENAD_POLICY_UNKNOWN),
      .access = (c->a[2] & 1) ? &acc : NULL,
      .quota_bytes = c->a[2] & 2 ? 8192 : 0,
      .quota_blocks = c->a[2] & 4 ? 3 : 0};
  bool want = !(c->a[2] & 8);
  arenad_arena_t *a = (arenad_arena_t *)&r; /* must be replaced */
  *rc = arenad_create_arena(r->h, fzc_names[c->name], &spec, want ? &a : NULL);
  if (!want)
    return;
  if (*rc < 0) {
    CHECK(a == NULL, "create_arena: an arena after an error");
    return;
  }
  CHECK(a != NULL && strlen(a->name) < 4096 && is_policy(a->policy),
        "create_arena: the arena");
  arenad_list_destroy(a);
}

static void do_collect(run_t *r, int *rc) {
  arenad_result_t res;
  memset(&res, 0, sizeof res);
  *rc = arenad_collect(r->h, &res);
  const uint32_t *idx = (const uint32_t *)&res; /* must be replaced */
  size_t nidx = arenad_collect_overwritten(r->h, &idx);
  if (*rc < 0) {
    CHECK(nidx == 0 && idx == NULL,
          "collect_overwritten: %zu after a collect that failed (%d)", nidx,
          *rc);
    CHECK(*rc != AR_EINVAL || r->len == 0, "collect: EINVAL with %zu in flight",
          r->len);
    return;
  }
  CHECK(r->len > 0, "collect: a result with nothing in flight");
  pend_t p = *fzc_fifo_at(r, 0);
  r->head = (r->head + 1) % FIFO;
  r->len--;
  CHECK(res.op == p.op && res.tag == p.tag,
        "collect: op %d tag %llu for op %d tag %llu", res.op,
        (unsigned long long)res.tag, p.op, (unsigned long long)p.tag);
  CHECK(is_code(res.status) && res.status >= AR_EINTERNAL, "collect: status %d",
        res.status);
  if (p.op == ARENAD_OP_ALLOC && res.status == 0) {
    CHECK(res.n_offsets == p.count && res.offsets != NULL,
          "collect: %zu offsets for %u blocks", res.n_offsets, p.count);
    for (size_t i = 0; i < res.n_offsets; i++)
      check_block(r, p.name, res.offsets[i], p.size, p.map_size);
  } else {
    CHECK(res.n_offsets == 0, "collect: %zu offsets", res.n_offsets);
  }
  if (p.op != ARENAD_OP_FREE) {
    CHECK(nidx == 0 && idx == NULL, "collect_overwritten: %zu after op %d",
          nidx, p.op);
    return;
  }
  CHECK(nidx <= p.count && (nidx == 0) == (idx == NULL),
        "collect_overwritten: %zu of %u", nidx, p.count);
  for (size_t i = 0; i < nidx; i++)
    CHECK(idx[i] < p.count && (i == 0 || idx[i] > idx[i - 1]),
          "collect_overwritten: index %u of %u at %zu", idx[i], p.count, i);
}

/* Makes the call; *rc: what it returned. */
void fzc_call(run_t *r, const call_t *c, int *rc) {
  arenad_t *h = r->h;
  const char *name = fzc_names[c->name];
  *rc = 0;
  switch (c->call) {
  case FC_HELLO:
    do_hello(r, c, rc);
    break;
  case FC_PING:
    *rc = arenad_ping(h);
    break;
  case FC_LIST:
    do_list(r, rc);
    break;
  case FC_ATTACH:
    do_attach(r, c, rc);
    break;
  case FC_DETACH:
    do_detach(r, c, rc);
    break;
  case FC_ALLOC:
    do_alloc(r, c, rc);
    break;
  case FC_ALLOC_N:
    do_alloc_n(r, c, rc);
    break;
  case FC_FREE:
    *rc = arenad_free(h, name, c->offs[0]);
    break;
  case FC_FREE_N:
  case FC_FREE_EACH:
  case FC_FREE_REPORT:
    do_free_many(r, c, rc);
    break;
  case FC_RETAIN: {
    uint32_t refs;
    *rc = arenad_retain(h, name, c->offs[0], (c->a[2] & 1) ? NULL : &refs);
    break;
  }
  case FC_RELEASE:
    do_release(r, c, rc);
    break;
  case FC_TRANSFER: {
    arenad_transfer_t out;
    *rc = arenad_transfer(h, name, c->offs[0], c->a[2],
                          (c->a[2] & 1) ? NULL : &out);
    break;
  }
  case FC_INSPECT:
    do_inspect(r, c, rc);
    break;
  case FC_CHECK:
    do_check(r, c, rc);
    break;
  case FC_STATS:
    do_stats(r, rc);
    break;
  case FC_CREATE:
    do_create(r, c, rc);
    break;
  case FC_DESTROY: {
    arenad_destroyed_t out;
    *rc =
        arenad_destroy_arena(h, name, c->a[1] & 1, (c->a[1] & 2) ? NULL : &out);
    break;
  }
  case FC_SUBMIT_PING:
    if (r->len == FIFO)
      return;
    *rc = arenad_submit_ping(h, c->tag);
    submitted(r, *rc, ARENAD_OP_PING, c, 0);
    break;
  case FC_SUBMIT_ALLOC:
    if (r->len == FIFO)
      return;
    *rc = arenad_submit_alloc(h, name, c->size, c->align, c->count, 0, c->tag);
    submitted(r, *rc, ARENAD_OP_ALLOC, c, c->count ? c->count : 1);
    break;
  case FC_SUBMIT_FREE:
    if (r->len == FIFO)
      return;
    *rc = arenad_submit_free(h, name, c->offs, c->count, c->tag);
    submitted(r, *rc, ARENAD_OP_FREE, c, c->count);
    break;
  case FC_FLUSH:
    *rc = arenad_flush(h);
    break;
  default:
    do_collect(r, rc);
  }
}

/* What holds after every call, whatever it was; limit: the library's limit
 * on a reply before the call. */
void fzc_after(run_t *r, const call_t *c, int rc, size_t sent, uint64_t limit) {
  arenad_t *h = r->h;
  if (fzc_trace)
    fprintf(stderr, "%s(%s) = %s (%s); %zu sent, stream %zu of %zu%s\n",
            call_names[c->call], fzc_names[c->name], ar_err_name(rc),
            arenad_error(h), sent, r->consumed, r->stream_len,
            r->ended ? ", ended" : "");
  if (c->call != FC_DETACH) {
    if (r->broken)
      CHECK(rc == AR_EIO, "call %d on a broken handle returned %d", c->call,
            rc);
    else if (rc == AR_EPROTO || rc == AR_EIO ||
             (c->call == FC_HELLO && rc == AR_EVERSION)) {
      r->broken = true;
      snprintf(r->err, sizeof r->err, "%s", arenad_error(h));
      r->len = 0;
    }
  }
  const char *err = arenad_error(h);
  CHECK(err != NULL && strlen(err) < sizeof r->err, "arenad_error");
  if (r->broken) {
    CHECK(arenad_in_flight(h) == 0, "%zu in flight on a broken handle",
          arenad_in_flight(h));
    CHECK(strcmp(err, r->err) == 0, "the first error \"%s\" became \"%s\"",
          r->err, err);
  } else {
    CHECK(arenad_in_flight(h) == r->len, "%zu in flight, %zu submitted",
          arenad_in_flight(h), r->len);
    if (c->call == FC_COLLECT ? rc == 0 : is_blocking(c->call) && sent > 0)
      fzc_took_reply(r, limit);
  }
  for (int i = 0; i < NAMES; i++) {
    const map_t *m = &r->maps[i];
    uint8_t *p0 = arenad_ptr(h, fzc_names[i], 0);
    uint8_t *pl = arenad_ptr(h, fzc_names[i], m->size - 1);
    uint8_t *pn = arenad_ptr(h, fzc_names[i], m->size);
    CHECK(m->on ? p0 == m->base && pl == m->base + m->size - 1 && pn == NULL
                : p0 == NULL,
          "arenad_ptr in %s", fzc_names[i]);
  }
}
