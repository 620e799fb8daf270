/*
 * hammer_child.c: a child of test_hammer, forked by the parent with a
 * connection of its own through the client library. It runs a random mix
 * for a bounded time and a bounded number of operations: allocations of
 * random sizes, alignments and counts (some invalid, some detached), frees
 * of its own blocks, of other clients' blocks, of bogus and of freed
 * offsets, retains and releases of other clients' blocks, transfers of its
 * blocks to other children (through the mailboxes of the shared mapping),
 * pipelined batches, inspections and checks, header scribbles, raw
 * connections that send garbage or half a frame and go away, disconnects
 * with requests in flight, and an arena ("tmp") that the children make and
 * destroy under each other. It ends tidy, or gone with blocks held, or
 * gone without a word.
 *
 * What it checks as it goes: every status is one its request can get (it
 * can always free its own blocks and release its own references; nobody
 * else can take them), every check passes, and the pattern written into
 * each block it holds is still there when it frees it (no other client
 * was given the same bytes), including blocks another child handed it by
 * transfer. A failure is reported on stderr, with the child's seed and
 * operation, and the child exits with 1. Child i runs from seed + i.
 */
#include "hammer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "ar/frame.h"
#include "arenad.h"

#define MAX_OWNED 2048  /* blocks a child tracks per arena */
#define MAX_RETAINED 64 /* others' blocks a child holds references to */

/* A block this child holds: its payload, its size, and the tag whose
 * pattern was written into the block's first bytes. */
typedef struct owned_s {
  uint64_t off, size, tag;
} owned_t;

/* A reference this child took to someone else's block. */
typedef struct retained_s {
  uint64_t off;
  uint32_t refs;
} retained_t;

typedef struct child_s {
  int idx;
  uint64_t seed;
  rng_t rng;
  arenad_t *h;
  uint64_t token;
  uint32_t window;
  bool attached[NARENAS];
  owned_t owned[NARENAS][MAX_OWNED];
  size_t nowned[NARENAS];
  retained_t retained[NARENAS][MAX_RETAINED];
  size_t nretained[NARENAS];
  uint64_t detached[NARENAS][256]; /* allocated detached, maybe freed since */
  size_t ndetached[NARENAS];
  uint64_t freed[NARENAS][64]; /* recently freed by this child (a ring) */
  size_t nfreed[NARENAS];
  uint64_t foreign[NARENAS][64]; /* others' payloads seen by inspect */
  size_t nforeign[NARENAS];
  uint64_t ops, tags;
  uint64_t allocs_ok, allocs_full, allocs_refused, frees_other_ok, retains,
      transfers_out, transfers_in, tmp_made, tmp_gone;
  const char *what; /* the operation under way, for messages */
} child_t;

static void child_fail(child_t *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));
static void child_fail(child_t *c, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  fprintf(stderr, "hammer child %d (seed %llu, op %llu, %s): %s [daemon: %s]\n",
          c->idx, (unsigned long long)c->seed, (unsigned long long)c->ops,
          c->what, msg, c->h != NULL ? arenad_error(c->h) : "-");
  _exit(1);
}

static uint8_t pattern(uint64_t tag, size_t i) {
  return (uint8_t)((tag * 0x9e3779b97f4a7c15u) >> ((i % 8) * 8)) ^ (uint8_t)i;
}

/* Bytes of a block that carry the pattern. */
static size_t pattern_len(uint64_t size) { return size < 64 ? size : 64; }

static uint8_t *block_ptr(child_t *c, int a, uint64_t off) {
  uint8_t *p = arenad_ptr(c->h, arenas[a], off);
  if (p == NULL)
    child_fail(c, "no mapping for block %llu of %s", (unsigned long long)off,
               arenas[a]);
  return p;
}

static void verify(child_t *c, int a, const owned_t *o) {
  const uint8_t *p = block_ptr(c, a, o->off);
  for (size_t i = 0; i < pattern_len(o->size); i++)
    if (p[i] != pattern(o->tag, i))
      child_fail(c,
                 "arena %s: block %llu byte %zu was overwritten: another "
                 "client has the same bytes",
                 arenas[a], (unsigned long long)o->off, i);
}

static int find_owned(const child_t *c, int a, uint64_t off) {
  for (size_t i = 0; i < c->nowned[a]; i++)
    if (c->owned[a][i].off == off)
      return (int)i;
  return -1;
}

static int find_retained(const child_t *c, int a, uint64_t off) {
  for (size_t i = 0; i < c->nretained[a]; i++)
    if (c->retained[a][i].off == off)
      return (int)i;
  return -1;
}

/* Records a block this child now holds; `tag` 0: a new block, whose
 * pattern is written now. */
static void add_owned(child_t *c, int a, uint64_t off, uint64_t size,
                      uint64_t tag) {
  if (find_owned(c, a, off) >= 0)
    child_fail(c, "arena %s: offset %llu given twice", arenas[a],
               (unsigned long long)off);
  if (c->nowned[a] == MAX_OWNED)
    child_fail(c, "more blocks than the test tracks");
  owned_t *o = &c->owned[a][c->nowned[a]++];
  o->off = off;
  o->size = size;
  if (tag != 0) {
    o->tag = tag;
    return;
  }
  o->tag = ((uint64_t)(c->idx + 1) << 56) ^ (c->seed << 20) ^ ++c->tags;
  uint8_t *p = block_ptr(c, a, off);
  for (size_t i = 0; i < pattern_len(size); i++)
    p[i] = pattern(o->tag, i);
}

static void drop_owned(child_t *c, int a, int i) {
  uint64_t off = c->owned[a][i].off;
  c->owned[a][i] = c->owned[a][--c->nowned[a]];
  c->freed[a][c->nfreed[a]++ % 64] = off;
}

/* Forgets everything this child knew of arena a (destroyed, or the
 * connection gone). */
static void forget(child_t *c, int a) {
  for (size_t i = 0; i < c->nowned[a]; i++)
    c->freed[a][c->nfreed[a]++ % 64] = c->owned[a][i].off;
  c->nowned[a] = 0;
  c->nretained[a] = 0;
  c->nforeign[a] = 0;
  if (a == TMP) {
    c->ndetached[a] = 0;
    c->nfreed[a] = 0;
  }
}

/* tmp is gone (or stale for this connection): its blocks went with it;
 * attaching it again is how the connection learns the new one. */
static void tmp_gone(child_t *c) {
  forget(c, TMP);
  if (c->attached[TMP])
    arenad_detach(c->h, arenas[TMP]);
  c->attached[TMP] = false;
}

/* Whether arena a can be used now (tmp must exist and be attached). */
static bool usable(child_t *c, int a) {
  if (c->attached[a])
    return true;
  int rc = arenad_attach(c->h, arenas[a], 0, NULL);
  if (rc == AR_ENOENT && a == TMP)
    return false;
  if (rc != 0)
    child_fail(c, "attach %s: %s", arenas[a], ar_err_name(rc));
  c->attached[a] = true;
  return true;
}

/* rc from a request on arena a: AR_ENOENT on tmp means it is gone. */
static bool gone(child_t *c, int a, int rc) {
  if (rc != AR_ENOENT)
    return false;
  if (a != TMP)
    child_fail(c, "arena %s not found", arenas[a]);
  tmp_gone(c);
  return true;
}

static void connect_child(child_t *c) {
  char name[32];
  arenad_hello_t hi;
  snprintf(name, sizeof(name), "hammer-%d", c->idx);
  c->what = "connect";
  if (arenad_connect(daemon_.sock, &c->h) < 0)
    child_fail(c, "connect: %s", strerror(errno));
  if (arenad_hello(c->h, name, &hi) < 0)
    child_fail(c, "hello");
  c->window = hi.max_in_flight;
  c->token = hi.token;
  atomic_store(&shared->token[c->idx], hi.token);
  memset(c->attached, 0, sizeof(c->attached));
  for (int a = 0; a < NARENAS; a++)
    usable(c, a);
}

/* The connection goes, with whatever it holds: the daemon frees it. */
static void disconnect(child_t *c) {
  atomic_store(&shared->token[c->idx], 0);
  arenad_close(c->h);
  c->h = NULL;
  for (int a = 0; a < NARENAS; a++)
    forget(c, a);
}

/* Takes the blocks other children transferred to this connection. */
static void take_mail(child_t *c) {
  for (int from = 0; from < CHILDREN; from++) {
    box_t *b = &shared->box[from][c->idx];
    uint32_t head = atomic_load(&b->head);
    uint32_t tail = atomic_load_explicit(&b->tail, memory_order_acquire);
    for (; head != tail; head++) {
      const mail_t *m = &b->m[head % MAILBOX];
      if (m->token != c->token)
        continue; /* sent to a connection of this child that closed */
      add_owned(c, m->arena, m->off, m->size, m->tag);
      c->transfers_in++;
    }
    atomic_store_explicit(&b->head, head, memory_order_release);
  }
}

/* A size: mostly small, sometimes large, rarely invalid (0). */
static uint64_t random_size(rng_t *r) {
  switch (below(r, 20)) {
  case 0:
    return 0;
  case 1:
  case 2:
    return 1 + below(r, 64 * 1024);
  case 3:
    return 1 + below(r, 300 * 1024); /* often too large */
  default:
    return 1 + below(r, 1024);
  }
}

/* An alignment: 0 (16) or a power of two up to 4096, rarely invalid. */
static uint64_t random_align(rng_t *r) {
  if (chance(r, 3))
    return chance(r, 50) ? 24 : 8192;
  if (chance(r, 50))
    return 0;
  return (uint64_t)16 << below(r, 9);
}

static bool valid_alloc(uint64_t size, uint64_t align, uint32_t count) {
  return size >= 1 &&
         (align == 0 ||
          (align >= 16 && align <= 4096 && (align & (align - 1)) == 0)) &&
         count <= MAX_BLOCKS;
}

/* After an allocation of `count` blocks of `size` got rc. */
static void alloc_done(child_t *c, int a, uint64_t size, uint64_t align,
                       uint32_t count, bool detached, int rc,
                       const uint64_t *offs) {
  c->allocs_full += rc == AR_ENOMEM;
  c->allocs_refused += rc == AR_EINVAL || rc == AR_ELIMIT;
  c->allocs_ok += rc == 0;
  if (gone(c, a, rc))
    return;
  if (rc == AR_ENOMEM || rc == AR_EINVAL || rc == AR_ELIMIT) {
    if (rc == AR_ENOMEM && !valid_alloc(size, align, count))
      child_fail(c, "out of memory for an invalid allocation");
    if (rc != AR_ENOMEM && valid_alloc(size, align, count))
      child_fail(c, "alloc of %u x %llu aligned %llu: %s", count,
                 (unsigned long long)size, (unsigned long long)align,
                 ar_err_name(rc));
    return;
  }
  if (rc != 0)
    child_fail(c, "alloc of %u x %llu: %s", count, (unsigned long long)size,
               ar_err_name(rc));
  if (!valid_alloc(size, align, count))
    child_fail(c, "an invalid allocation succeeded");
  for (uint32_t i = 0; i < count; i++) {
    uint64_t al = align ? align : 16;
    if (offs[i] % al != 0 || offs[i] + size > arena_size[a])
      child_fail(c, "block %llu of %llu bytes aligned %llu",
                 (unsigned long long)offs[i], (unsigned long long)size,
                 (unsigned long long)al);
    if (detached) {
      if (c->ndetached[a] < 256)
        c->detached[a][c->ndetached[a]++] = offs[i];
    } else {
      add_owned(c, a, offs[i], size, 0);
    }
  }
}

static void op_alloc(child_t *c, int a) {
  uint64_t size = random_size(&c->rng), align = random_align(&c->rng);
  uint32_t count = chance(&c->rng, 70) ? 1 : 1 + (uint32_t)below(&c->rng, 12);
  if (chance(&c->rng, 2))
    count = MAX_BLOCKS + 1 + (uint32_t)below(&c->rng, 10);
  bool detached = chance(&c->rng, 3);
  uint64_t offs[MAX_BLOCKS + 16];
  c->what = "alloc";
  int rc = arenad_alloc_n(c->h, arenas[a], size, align, count,
                          detached ? ARENAD_ALLOC_DETACHED : 0, offs);
  alloc_done(c, a, size, align, count, detached, rc, offs);
}

/* Frees 1..k of its own blocks in one request: all must succeed. */
static void op_free_own(child_t *c, int a) {
  if (c->nowned[a] == 0)
    return;
  size_t n = 1 + below(&c->rng, c->nowned[a] < 8 ? c->nowned[a] : 8);
  uint64_t offs[8];
  int st[8];
  c->what = "free own";
  for (size_t i = 0; i < n; i++) {
    int k = (int)below(&c->rng, c->nowned[a]);
    verify(c, a, &c->owned[a][k]);
    offs[i] = c->owned[a][k].off;
    drop_owned(c, a, k);
  }
  int rc = arenad_free_n(c->h, arenas[a], offs, n, st);
  if (rc != 0 && !gone(c, a, rc))
    child_fail(c, "free of %zu own blocks: %s", n, ar_err_name(rc));
}

/* An offset that is not its own: someone else's, a detached one it made,
 * one it freed already, or a bogus one. Sets *odd for a misaligned one. */
static bool other_offset(child_t *c, int a, uint64_t *off, bool *odd) {
  *odd = false;
  switch (below(&c->rng, 5)) {
  case 0:
    if (c->nforeign[a] == 0)
      return false;
    *off = c->foreign[a][below(&c->rng, c->nforeign[a])];
    break;
  case 1:
  case 4:
    if (c->ndetached[a] == 0)
      return false;
    {
      size_t k = below(&c->rng, c->ndetached[a]);
      *off = c->detached[a][k];
      c->detached[a][k] = c->detached[a][--c->ndetached[a]];
    }
    break;
  case 2:
    if (c->nfreed[a] == 0)
      return false;
    *off = c->freed[a][below(&c->rng, c->nfreed[a] < 64 ? c->nfreed[a] : 64)];
    break;
  default:
    *off = below(&c->rng, arena_size[a] + 4096);
    *odd = *off % 16 != 0;
    break;
  }
  /* Not one it holds a reference to (it may have become one). */
  return find_owned(c, a, *off) < 0 && find_retained(c, a, *off) < 0;
}

static void op_free_other(child_t *c, int a) {
  uint64_t off;
  bool odd;
  c->what = "free other";
  if (!other_offset(c, a, &off, &odd))
    return;
  int rc = arenad_free(c->h, arenas[a], off);
  if (gone(c, a, rc))
    return;
  if (odd && rc != AR_EINVAL)
    child_fail(c, "free of misaligned %llu: %s", (unsigned long long)off,
               ar_err_name(rc));
  if (rc != 0 && rc != AR_EINVAL && rc != AR_EPERM)
    child_fail(c, "free of %llu: %s", (unsigned long long)off, ar_err_name(rc));
  c->frees_other_ok += rc == 0;
}

/* Takes a reference to a block that is not its own, or drops one it took
 * (which must work: nobody else can drop it). */
static void op_retain(child_t *c, int a) {
  uint32_t refs;
  if (c->nretained[a] > 0 && chance(&c->rng, 50)) {
    c->what = "release";
    size_t k = below(&c->rng, c->nretained[a]);
    retained_t *r = &c->retained[a][k];
    int rc = arenad_release(c->h, arenas[a], r->off, &refs);
    if (gone(c, a, rc))
      return;
    if (rc != 0)
      child_fail(c, "release of %llu (%u references): %s",
                 (unsigned long long)r->off, r->refs, ar_err_name(rc));
    if (--r->refs == 0)
      *r = c->retained[a][--c->nretained[a]];
    return;
  }
  uint64_t off;
  bool odd;
  c->what = "retain";
  if (!other_offset(c, a, &off, &odd) || c->nretained[a] == MAX_RETAINED)
    return;
  int rc = arenad_retain(c->h, arenas[a], off, &refs);
  if (gone(c, a, rc))
    return;
  if (rc == AR_EINVAL)
    return; /* not live (any more) */
  if (rc != 0 || odd || refs < 2)
    child_fail(c, "retain of %llu: %s, %u references", (unsigned long long)off,
               ar_err_name(rc), refs);
  c->retains++;
  retained_t *r = &c->retained[a][c->nretained[a]++];
  r->off = off;
  r->refs = 1;
}

/* Hands one of its blocks to another child, which takes it from its
 * mailbox; the other child may be gone or have a new connection. */
static void op_transfer(child_t *c, int a) {
  int to = (int)below(&c->rng, CHILDREN);
  box_t *b = &shared->box[c->idx][to];
  uint32_t tail = atomic_load(&b->tail);
  if (to == c->idx || c->nowned[a] == 0 ||
      tail - atomic_load_explicit(&b->head, memory_order_acquire) >= MAILBOX)
    return;
  uint64_t token = atomic_load(&shared->token[to]);
  if (token == 0)
    return;
  c->what = "transfer";
  int k = (int)below(&c->rng, c->nowned[a]);
  owned_t o = c->owned[a][k];
  verify(c, a, &o);
  arenad_transfer_t out;
  int rc = arenad_transfer(c->h, arenas[a], o.off, token, &out);
  if (rc == AR_ENOENT)
    return; /* that connection has closed */
  if (rc != 0)
    child_fail(c, "transfer of %llu to child %d: %s", (unsigned long long)o.off,
               to, ar_err_name(rc));
  c->transfers_out++;
  drop_owned(c, a, k);
  mail_t *m = &b->m[tail % MAILBOX];
  *m = (mail_t){token, o.off, o.size, o.tag, a};
  atomic_store_explicit(&b->tail, tail + 1, memory_order_release);
}

/* A batch on the pipeline; sometimes the connection goes with the batch
 * still in flight. */
static void op_pipeline(child_t *c, int a) {
  size_t n = 1 + below(&c->rng, c->window < 48 ? c->window : 48);
  struct {
    int kind; /* 0 ping, 1 alloc, 2 free own; -1 never sent */
    uint64_t size, align, off;
    uint32_t count;
    bool detached;
  } q[48];
  c->what = "pipeline";
  for (size_t i = 0; i < n; i++) {
    int kind = (int)below(&c->rng, 3);
    if (kind == 2 && c->nowned[a] == 0)
      kind = 1;
    q[i].kind = kind;
    int rc = 0;
    if (kind == 0) {
      rc = arenad_submit_ping(c->h, i);
    } else if (kind == 1) {
      q[i].size = random_size(&c->rng);
      q[i].align = random_align(&c->rng);
      q[i].count = 1 + (uint32_t)below(&c->rng, 4);
      q[i].detached = chance(&c->rng, 2);
      rc = arenad_submit_alloc(c->h, arenas[a], q[i].size, q[i].align,
                               q[i].count,
                               q[i].detached ? ARENAD_ALLOC_DETACHED : 0, i);
    } else {
      int k = (int)below(&c->rng, c->nowned[a]);
      verify(c, a, &c->owned[a][k]);
      q[i].off = c->owned[a][k].off;
      drop_owned(c, a, k);
      rc = arenad_submit_free(c->h, arenas[a], &q[i].off, 1, i);
    }
    if (rc == AR_EINVAL && kind == 1)
      q[i].kind = -1; /* refused by the library: never sent */
    else if (rc != 0)
      child_fail(c, "submit: %s", ar_err_name(rc));
  }
  if (chance(&c->rng, 10)) {
    /* Disconnect mid-conversation: the replies are never read. */
    c->what = "disconnect in flight";
    arenad_flush(c->h);
    disconnect(c);
    connect_child(c);
    return;
  }
  for (size_t i = 0; i < n; i++) {
    if (q[i].kind < 0)
      continue;
    arenad_result_t res;
    int rc = arenad_collect(c->h, &res);
    if (rc != 0)
      child_fail(c, "collect: %s", ar_err_name(rc));
    if (res.tag != i)
      child_fail(c, "reply %llu for request %zu", (unsigned long long)res.tag,
                 i);
    if (q[i].kind == 0 && res.status != 0)
      child_fail(c, "ping: %s", ar_err_name(res.status));
    if (q[i].kind == 2 && res.status != 0)
      child_fail(c, "free own %llu: %s", (unsigned long long)q[i].off,
                 ar_err_name(res.status));
    if (q[i].kind == 1)
      alloc_done(c, a, q[i].size, q[i].align, q[i].count, q[i].detached,
                 res.status, res.offsets);
  }
}

static void op_inspect(child_t *c, int a) {
  arenad_inspect_what_t what = (arenad_inspect_what_t)below(&c->rng, 4);
  uint64_t cursor = chance(&c->rng, 50) ? 0 : below(&c->rng, arena_size[a]);
  uint32_t limit = (uint32_t)below(&c->rng, 80);
  arenad_page_t *p;
  c->what = "inspect";
  int rc = arenad_inspect(c->h, arenas[a], what, cursor, limit, &p);
  if (gone(c, a, rc))
    return;
  if (rc != 0)
    child_fail(c, "inspect: %s", ar_err_name(rc));
  if (p->summary.used_bytes + p->summary.free_bytes != arena_size[a])
    child_fail(c, "inspect: used %llu + free %llu",
               (unsigned long long)p->summary.used_bytes,
               (unsigned long long)p->summary.free_bytes);
  c->nforeign[a] = 0;
  for (size_t i = 0; i < p->n_extents && c->nforeign[a] < 64; i++) {
    const arenad_extent_t *e = &p->extents[i];
    if (!e->free && find_owned(c, a, e->payload) < 0)
      c->foreign[a][c->nforeign[a]++] = e->payload;
  }
  arenad_page_destroy(p);
}

static void op_check(child_t *c, int a) {
  arenad_check_t chk;
  c->what = "check";
  int rc = arenad_check(c->h, arenas[a], &chk);
  if (gone(c, a, rc))
    return;
  if (rc != 0 || !chk.ok)
    child_fail(c, "check of %s: %s: %s at %llu: %s", arenas[a], ar_err_name(rc),
               chk.invariant, (unsigned long long)chk.offset, chk.detail);
}

/* Writes over the header of one of its blocks: the daemon counts the
 * corruption when it frees the block, and must not care otherwise. */
static void op_scribble(child_t *c, int a) {
  if (c->nowned[a] == 0)
    return;
  owned_t *o = &c->owned[a][below(&c->rng, c->nowned[a])];
  uint8_t *p = block_ptr(c, a, o->off - 16);
  c->what = "scribble";
  for (int i = 0; i < 16; i++)
    p[i] = (uint8_t)next(&c->rng);
}

/* tmp is made or destroyed (forced, with whatever blocks it has). */
static void op_churn(child_t *c) {
  int rc;
  if (chance(&c->rng, 50)) {
    c->what = "create tmp";
    arenad_arena_spec_t spec = {arena_size[TMP], ARENAD_POLICY_BEST, NULL, 0,
                                0};
    rc = arenad_create_arena(c->h, arenas[TMP], &spec, NULL);
    if (rc != 0 && rc != AR_EINVAL)
      child_fail(c, "create tmp: %s", ar_err_name(rc));
    c->tmp_made += rc == 0;
  } else {
    c->what = "destroy tmp";
    rc = arenad_destroy_arena(c->h, arenas[TMP], ARENAD_DESTROY_FORCE, NULL);
    if (rc != 0 && rc != AR_ENOENT)
      child_fail(c, "destroy tmp: %s", ar_err_name(rc));
    if (rc == 0) {
      c->tmp_gone++;
      tmp_gone(c);
    }
  }
}

/* A raw connection: a connect, then garbage, a cut frame, a frame over the
 * limit, or a valid frame with a body that is not a Request; then either
 * gone at once or waiting for the daemon to close. */
static void op_raw(child_t *c) {
  c->what = "raw";
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", daemon_.sock);
  if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
    child_fail(c, "raw connect: %s", strerror(errno));
  struct timeval tv = {.tv_sec = IT_TIMEOUT_S};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  uint8_t buf[512];
  size_t n = 0;
  switch (below(&c->rng, 4)) {
  case 0: /* garbage */
    n = 1 + below(&c->rng, sizeof(buf));
    for (size_t i = 0; i < n; i++)
      buf[i] = (uint8_t)next(&c->rng);
    break;
  case 1: /* a frame cut short */
    n = ar_frame_encode(buf, 200);
    for (size_t i = 0; i < 50; i++)
      buf[n++] = (uint8_t)next(&c->rng);
    break;
  case 2: /* a frame over the limit */
    n = ar_frame_encode(buf, (uint64_t)1 << 40);
    break;
  default: { /* a valid request, then bytes that are not a Request */
    Arenad__PingRequest ping = ARENAD__PING_REQUEST__INIT;
    Arenad__Request q = ARENAD__REQUEST__INIT;
    q.id = 1;
    q.body_case = ARENAD__REQUEST__BODY_PING;
    q.ping = &ping;
    size_t len = arenad__request__get_packed_size(&q);
    n = ar_frame_encode(buf, len);
    arenad__request__pack(&q, buf + n);
    n += len;
    size_t k = 1 + below(&c->rng, 32);
    n += ar_frame_encode(buf + n, k);
    for (size_t i = 0; i < k; i++)
      buf[n++] = 0xff;
    break;
  }
  }
  if (send(fd, buf, n, MSG_NOSIGNAL) < 0 && errno != EPIPE &&
      errno != ECONNRESET)
    child_fail(c, "raw send: %s", strerror(errno));
  if (chance(&c->rng, 50)) {
    /* Wait for the daemon to be done with us: it must close. */
    shutdown(fd, SHUT_WR);
    ssize_t r;
    while ((r = recv(fd, buf, sizeof(buf), 0)) > 0)
      ;
    if (r < 0 && errno != ECONNRESET)
      child_fail(c, "raw: the daemon did not close: %s", strerror(errno));
  }
  close(fd);
}

static void op_misc(child_t *c) {
  c->what = "misc";
  int rc = 0;
  switch (below(&c->rng, 3)) {
  case 0:
    rc = arenad_ping(c->h);
    break;
  case 1: {
    arenad_stat_t *st;
    size_t n;
    rc = arenad_stats(c->h, &st, &n);
    if (rc == 0)
      arenad_stats_destroy(st);
    break;
  }
  default: {
    arenad_arena_t *l;
    size_t n;
    rc = arenad_list(c->h, &l, &n);
    if (rc == 0) {
      if (n != NARENAS - 1 && n != NARENAS)
        child_fail(c, "list: %zu arenas", n);
      arenad_list_destroy(l);
    }
    break;
  }
  }
  if (rc != 0)
    child_fail(c, "%s", ar_err_name(rc));
}

int child_main(int idx, uint64_t seed, uint64_t ms, uint64_t max_ops) {
  static child_t c; /* one per process: after fork */
  memset(&c, 0, sizeof(c));
  c.idx = idx;
  c.seed = seed;
  c.rng.s = seed;
  c.what = "start";
  connect_child(&c);
  uint64_t end = now_ms() + ms;
  for (c.ops = 0; c.ops < max_ops && now_ms() < end; c.ops++) {
    int a = chance(&c.rng, 10) ? TMP : (int)below(&c.rng, 2);
    unsigned r = (unsigned)below(&c.rng, 100);
    take_mail(&c);
    if (!usable(&c, a))
      continue;
    if (r < 27)
      op_alloc(&c, a);
    else if (r < 46)
      op_free_own(&c, a);
    else if (r < 55)
      op_free_other(&c, a);
    else if (r < 61)
      op_retain(&c, a);
    else if (r < 64 && a != TMP)
      op_transfer(&c, a);
    else if (r < 71 && a != TMP)
      op_pipeline(&c, a);
    else if (r < 78)
      op_inspect(&c, a);
    else if (r < 82)
      op_check(&c, a);
    else if (r < 84)
      op_scribble(&c, a);
    else if (r < 87)
      op_raw(&c);
    else if (r < 89) {
      c.what = "disconnect";
      disconnect(&c);
      connect_child(&c);
    } else if (r < 91)
      op_churn(&c);
    else
      op_misc(&c);
  }
  if (getenv("HAMMER_VERBOSE") != NULL)
    fprintf(
        stderr,
        "hammer child %d: %llu operations; allocations: %llu ok, %llu "
        "out of memory, %llu refused; %llu frees of others' blocks ok; "
        "%llu retains; %llu transfers out, %llu in; tmp made %llu, "
        "destroyed %llu\n",
        c.idx, (unsigned long long)c.ops, (unsigned long long)c.allocs_ok,
        (unsigned long long)c.allocs_full, (unsigned long long)c.allocs_refused,
        (unsigned long long)c.frees_other_ok, (unsigned long long)c.retains,
        (unsigned long long)c.transfers_out, (unsigned long long)c.transfers_in,
        (unsigned long long)c.tmp_made, (unsigned long long)c.tmp_gone);
  /* The end: tidy, or gone with blocks held, or gone without a word. */
  switch (below(&c.rng, 3)) {
  case 0:
    take_mail(&c);
    for (int a = 0; a < NARENAS; a++) {
      while (c.nowned[a] > 0)
        op_free_own(&c, a);
      while (c.nretained[a] > 0)
        op_retain(&c, a);
    }
    arenad_close(c.h);
    break;
  case 1:
    arenad_close(c.h);
    break;
  default:
    _exit(0);
  }
  return 0;
}
