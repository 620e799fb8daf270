/*
 * test_hammer.c: several client processes hammer the arenas of one arenad
 * at once with valid and invalid requests, and the daemon must come out of
 * it whole. Each child (forked, with the client library) runs a random mix
 * for a bounded time and a bounded number of operations: allocations of
 * random sizes, alignments and counts (some invalid, some detached), frees
 * of its own blocks, of other clients' blocks, of bogus and of freed
 * offsets, retains and releases of other clients' blocks, transfers of its
 * blocks to other children, pipelined batches, inspections and checks,
 * header scribbles, raw connections that send garbage or half a frame and
 * go away, disconnects with requests in flight, and an arena ("tmp") that
 * the children make and destroy under each other. The parent SIGKILLs one
 * child on the way. Meanwhile an outsider, a child running as nobody
 * (uid 65534), which the arenas' mode 0600 keeps out, throws allocations,
 * frees, attaches, inspections, retains and arena creations at them: each
 * must be refused with permission denied and change nothing.
 *
 * What each child checks as it goes: every status is one its request can
 * get (it can always free its own blocks and release its own references;
 * nobody else can take them), every check passes, and the pattern written
 * into each block it holds is still there when it frees it (no other
 * client was given the same bytes), including blocks another child handed
 * it by transfer. What the parent checks at the end, once every client is
 * gone: every arena passes its check, the used bytes equal the sum of the
 * live blocks listed by inspection, the blocks left are all detached and
 * held by nobody (the test then frees them, and each arena must be one
 * free extent again), and the daemon still answers and exits cleanly on
 * SIGTERM.
 *
 * Random but seeded: child i runs from seed + i, so a child's sequence of
 * requests is the same on a rerun (the interleaving is not). The seed is
 * printed first; HAMMER_SEED=N reruns with it. HAMMER_MS and HAMMER_OPS
 * change the bounds; HAMMER_VERBOSE=1 prints each child's counts.
 */
#include "itest.h"

#include <errno.h>
#include <grp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ar/frame.h"
#include "arenad.h"

#define CHILDREN 6
#define DEFAULT_MS 3000  /* each child's time */
#define DEFAULT_OPS 4000 /* each child's operations at most */
#define MAX_BLOCKS 64    /* the daemon's max_blocks_per_request */
#define MAX_OWNED 2048   /* blocks a child tracks per arena */
#define MAX_RETAINED 64  /* others' blocks a child holds references to */
#define NARENAS 3        /* ham, bud and tmp (made and destroyed at will) */
#define TMP 2
#define MAILBOX 32 /* transfers in flight from one child to another */

static const char config[] = "[daemon]\n"
                             "socket_mode = 0666\n" /* the outsider too */
                             "max_blocks_per_request = 64\n"
                             "max_in_flight = 32\n"
                             "max_frame_bytes = 64K\n"
                             "default_page = 16\n"
                             "max_page = 64\n"
                             "\n"
                             "[arena ham]\n"
                             "size = 2M\n"
                             "policy = first\n"
                             "\n"
                             "[arena bud]\n"
                             "size = 1M\n"
                             "policy = buddy\n";

static const char *const arenas[NARENAS] = {"ham", "bud", "tmp"};
static const uint64_t arena_size[NARENAS] = {2u << 20, 1u << 20, 256u << 10};

static it_daemon_t daemon_;

/* ---- Shared between the children (an anonymous shared mapping) ---------- */

/* A block handed over by transfer: the receiver takes it when `token` is
 * still its connection's (a connection that closed lost it). */
typedef struct mail_s {
  uint64_t token, off, size, tag;
  int arena;
} mail_t;

/* One sender's ring to one receiver: the sender writes tail, the receiver
 * head. */
typedef struct box_s {
  _Atomic uint32_t head, tail;
  mail_t m[MAILBOX];
} box_t;

typedef struct shared_s {
  _Atomic uint64_t token[CHILDREN]; /* each child's connection's, or 0 */
  box_t box[CHILDREN][CHILDREN];    /* [sender][receiver] */
  uint64_t outsider_denied[NARENAS]; /* written by the outsider at its end */
} shared_t;

static shared_t *shared;

/* ---- Randomness ---------------------------------------------------------- */

typedef struct rng_s {
  uint64_t s;
} rng_t;

static uint64_t next(rng_t *r) { /* splitmix64 */
  uint64_t z = (r->s += 0x9e3779b97f4a7c15u);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
  return z ^ (z >> 31);
}

/* 0 .. n-1 */
static uint64_t below(rng_t *r, uint64_t n) { return n ? next(r) % n : 0; }

static bool chance(rng_t *r, unsigned percent) {
  return below(r, 100) < percent;
}

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- A child ------------------------------------------------------------- */

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

static int child_main(int idx, uint64_t seed, uint64_t ms, uint64_t max_ops) {
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

/* ---- The outsider --------------------------------------------------------- */

#define NOBODY 65534u

/* One refused request: anything but permission denied is a failure. */
static int expect_denied(int rc, int arena, const char *what,
                         uint64_t *denied) {
  if (rc != AR_EPERM) {
    fprintf(stderr, "hammer outsider: %s: %s, not EPERM\n", what,
            ar_err_name(rc));
    return 1;
  }
  if (arena >= 0)
    denied[arena]++;
  return 0;
}

/* Runs as nobody, on ham and bud only (tmp comes and goes). Returns 0 when
 * every request got the answer it must. */
static int outsider_main(uint64_t seed, uint64_t ms, uint64_t max_ops) {
  if (setgroups(0, NULL) < 0 || setgid(NOBODY) < 0 || setuid(NOBODY) < 0)
    return 125;
  rng_t rng = {seed};
  arenad_t *h;
  if (arenad_connect(daemon_.sock, &h) < 0 ||
      arenad_hello(h, "hammer-outsider", NULL) < 0)
    return 2;
  uint64_t denied[NARENAS] = {0};
  int bad = 0;
  uint64_t end = now_ms() + ms;
  for (uint64_t op = 0; op < max_ops && now_ms() < end && !bad; op++) {
    int a = (int)below(&rng, 2);
    uint64_t off = below(&rng, arena_size[a] / 16) * 16;
    unsigned r = (unsigned)below(&rng, 8);
    if (r == 0) {
      uint64_t got;
      bad = expect_denied(arenad_alloc(h, arenas[a], 1 + below(&rng, 4096),
                                       16, 0, &got, NULL),
                          a, "alloc", denied);
    } else if (r == 1) {
      bad = expect_denied(arenad_free(h, arenas[a], off), a, "free", denied);
    } else if (r == 2) {
      arenad_map_t map;
      unsigned flags = chance(&rng, 50) ? ARENAD_ATTACH_READ_ONLY : 0;
      bad = expect_denied(arenad_attach(h, arenas[a], flags, &map), a,
                          "attach", denied);
    } else if (r == 3) {
      arenad_page_t *page = NULL;
      bad = expect_denied(arenad_inspect(h, arenas[a], ARENAD_INSPECT_BLOCKS,
                                         0, 16, &page),
                          a, "inspect", denied);
      arenad_page_destroy(page);
    } else if (r == 4) {
      bad = expect_denied(arenad_retain(h, arenas[a], off, NULL), a,
                          "retain", denied);
    } else if (r == 5) {
      arenad_arena_spec_t spec = {4096, ARENAD_POLICY_FIRST, NULL, 0, 0};
      bad = expect_denied(arenad_create_arena(h, "outsider", &spec, NULL), -1,
                          "create", denied);
    } else if (r == 6) {
      arenad_arena_t *list;
      size_t n;
      bad = arenad_list(h, &list, &n) != 0; /* like ls -l: allowed */
      if (!bad)
        arenad_list_destroy(list);
    } else {
      bad = arenad_ping(h) != 0;
    }
  }
  arenad_close(h);
  memcpy(shared->outsider_denied, denied, sizeof denied);
  return bad;
}

/* ---- The parent ---------------------------------------------------------- */

static uint64_t env_u64(const char *name, uint64_t def) {
  const char *s = getenv(name);
  return s != NULL && *s != '\0' ? strtoull(s, NULL, 0) : def;
}

static arenad_t *open_client(void) {
  arenad_t *h;
  if (arenad_connect(daemon_.sock, &h) < 0)
    fail_msg("connect: %s", strerror(errno));
  if (arenad_hello(h, "hammer-parent", NULL) < 0)
    fail_msg("hello: %s", arenad_error(h));
  return h;
}

static uint64_t stat_u(arenad_t *h, const char *name) {
  arenad_stat_t *st;
  size_t n;
  if (arenad_stats(h, &st, &n) < 0)
    fail_msg("stats: %s", arenad_error(h));
  uint64_t v = UINT64_MAX;
  for (size_t i = 0; i < n; i++)
    if (strcmp(st[i].name, name) == 0)
      v = st[i].u;
  arenad_stats_destroy(st);
  if (v == UINT64_MAX)
    fail_msg("no stat %s", name);
  return v;
}

/* Walks arena `name`'s blocks: the used bytes must be their sum; every
 * block left must be detached, held by nobody. Frees them; the arena must
 * then be one free extent. */
static void settle_arena(arenad_t *h, const char *name, uint64_t seed) {
  arenad_check_t chk;
  int rc = arenad_check(h, name, &chk);
  if (rc != 0 || !chk.ok)
    fail_msg("seed %llu: check of %s: %s at %llu: %s", (unsigned long long)seed,
             name, chk.invariant, (unsigned long long)chk.offset, chk.detail);

  uint64_t cursor = 0, used = 0, live = 0, requested = 0, size = 0;
  uint64_t *left = NULL;
  size_t nleft = 0, cap = 0;
  arenad_summary_t first;
  memset(&first, 0, sizeof(first));
  for (;;) {
    arenad_page_t *p;
    rc = arenad_inspect(h, name, ARENAD_INSPECT_BLOCKS, cursor, 64, &p);
    if (rc != 0)
      fail_msg("inspect %s: %s", name, arenad_error(h));
    if (cursor == 0)
      first = p->summary;
    for (size_t i = 0; i < p->n_extents; i++) {
      const arenad_extent_t *e = &p->extents[i];
      if (e->free)
        continue;
      used += e->size;
      requested += e->n;
      live++;
      if (!e->detached || e->n_holders != 0 || e->refcount != 1)
        fail_msg("seed %llu: arena %s: block %llu is left with %zu holders "
                 "(first: connection %llu), refcount %u, detached %d, once "
                 "every client is gone",
                 (unsigned long long)seed, name, (unsigned long long)e->payload,
                 e->n_holders,
                 e->n_holders ? (unsigned long long)e->holders[0].connection_id
                              : 0ull,
                 e->refcount, e->detached);
      if (nleft == cap) {
        cap = cap ? 2 * cap : 64;
        left = realloc(left, cap * sizeof(*left));
        assert_non_null(left);
      }
      left[nleft++] = e->payload;
    }
    cursor = p->next_cursor;
    size = p->summary.size;
    arenad_page_destroy(p);
    if (cursor == size)
      break;
  }
  if (used != first.used_bytes || live != first.live_blocks ||
      requested != first.live_requested ||
      first.detached_blocks != first.live_blocks)
    fail_msg("seed %llu: arena %s: the blocks listed add up to %llu bytes, "
             "%llu blocks, %llu requested; the summary says %llu, %llu, %llu "
             "(%llu detached)",
             (unsigned long long)seed, name, (unsigned long long)used,
             (unsigned long long)live, (unsigned long long)requested,
             (unsigned long long)first.used_bytes,
             (unsigned long long)first.live_blocks,
             (unsigned long long)first.live_requested,
             (unsigned long long)first.detached_blocks);
  print_message("hammer: arena %s: %llu detached blocks left (%llu bytes), "
                "freeing them\n",
                name, (unsigned long long)live, (unsigned long long)used);

  for (size_t i = 0; i < nleft; i += MAX_BLOCKS) {
    size_t n = nleft - i < MAX_BLOCKS ? nleft - i : MAX_BLOCKS;
    rc = arenad_free_n(h, name, left + i, n, NULL);
    if (rc != 0)
      fail_msg("free of the detached blocks of %s: %s", name, arenad_error(h));
  }
  free(left);

  arenad_page_t *p;
  assert_int_equal(arenad_inspect(h, name, ARENAD_INSPECT_SUMMARY, 0, 0, &p),
                   0);
  if (p->summary.live_blocks != 0 || p->summary.used_bytes != 0 ||
      p->summary.free_extents != 1 || p->summary.largest_free != size)
    fail_msg("seed %llu: arena %s is not empty at the end: %llu blocks, %llu "
             "bytes, %llu free extents",
             (unsigned long long)seed, name,
             (unsigned long long)p->summary.live_blocks,
             (unsigned long long)p->summary.used_bytes,
             (unsigned long long)p->summary.free_extents);
  arenad_page_destroy(p);
  assert_int_equal(arenad_check(h, name, &chk), 0);
}

static void test_hammer(void **state) {
  (void)state;
  uint64_t seed =
      env_u64("HAMMER_SEED", (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32));
  uint64_t ms = env_u64("HAMMER_MS", DEFAULT_MS);
  uint64_t ops = env_u64("HAMMER_OPS", DEFAULT_OPS);
  rng_t rng = {seed};
  print_message("hammer: seed %llu (HAMMER_SEED=%llu reruns it), %d "
                "children, %llu ms or %llu operations each\n",
                (unsigned long long)seed, (unsigned long long)seed, CHILDREN,
                (unsigned long long)ms, (unsigned long long)ops);

  shared = mmap(NULL, sizeof(*shared), PROT_READ | PROT_WRITE,
                MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  assert_true(shared != MAP_FAILED);
  memset(shared, 0, sizeof(*shared));
  assert_int_equal(it_daemon_start(&daemon_, config, NULL), 0);
  it_daemon_open_to_all(&daemon_);
  pid_t pids[CHILDREN];
  fflush(NULL);
  for (int i = 0; i < CHILDREN; i++) {
    pids[i] = fork();
    assert_true(pids[i] >= 0);
    if (pids[i] == 0)
      _exit(child_main(i, seed + (uint64_t)i, ms, ops));
  }
  pid_t outsider = fork();
  assert_true(outsider >= 0);
  if (outsider == 0)
    _exit(outsider_main(seed + CHILDREN, ms, ops));

  /* One child dies by SIGKILL, mid-conversation. */
  int victim = (int)below(&rng, CHILDREN);
  struct timespec ts = {0, (long)(50 + below(&rng, 300)) * 1000000L};
  nanosleep(&ts, NULL);
  kill(pids[victim], SIGKILL);

  int failed = 0;
  for (int i = 0; i < CHILDREN; i++) {
    int st;
    while (waitpid(pids[i], &st, 0) < 0)
      assert_int_equal(errno, EINTR);
    bool ok = (WIFEXITED(st) && WEXITSTATUS(st) == 0) ||
              (i == victim && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    if (!ok) {
      print_error("hammer: child %d (seed %llu) ended with status %d\n", i,
                  (unsigned long long)(seed + (uint64_t)i), st);
      failed++;
    }
  }
  int ost;
  while (waitpid(outsider, &ost, 0) < 0)
    assert_int_equal(errno, EINTR);
  if (!WIFEXITED(ost) || WEXITSTATUS(ost) != 0) {
    print_error("hammer: the outsider (seed %llu) ended with status %d\n",
                (unsigned long long)(seed + CHILDREN), ost);
    failed++;
  }
  uint64_t outsider_denied[NARENAS];
  memcpy(outsider_denied, shared->outsider_denied, sizeof outsider_denied);
  munmap(shared, sizeof(*shared));
  if (failed)
    fail_msg("seed %llu: %d children failed (their messages are above)",
             (unsigned long long)seed, failed);

  /* Every client gone: wait until the daemon has seen it (its connections
   * close as it reads their ends). */
  arenad_t *h = open_client();
  uint64_t deadline = now_ms() + IT_TIMEOUT_S * 1000;
  while (stat_u(h, "connections_open") != 1) {
    if (now_ms() > deadline)
      fail_msg("seed %llu: %llu connections still open",
               (unsigned long long)seed,
               (unsigned long long)stat_u(h, "connections_open"));
    usleep(10000);
  }
  arenad_arena_t *list;
  size_t n;
  assert_int_equal(arenad_list(h, &list, &n), 0);
  for (size_t i = 0; i < n; i++)
    settle_arena(h, list[i].name, seed);
  arenad_list_destroy(list);
  print_message("hammer: the outsider was refused %llu times on ham, %llu "
                "on bud\n",
                (unsigned long long)outsider_denied[0],
                (unsigned long long)outsider_denied[1]);
  /* Each refusal of the outsider's was counted on its arena (others'
   * frees of blocks they do not hold count there too). */
  for (int a = 0; a < 2; a++) {
    arenad_page_t *page;
    assert_int_equal(
        arenad_inspect(h, arenas[a], ARENAD_INSPECT_SUMMARY, 0, 0, &page), 0);
    if (outsider_denied[a] == 0 ||
        page->summary.permission_denied < outsider_denied[a])
      fail_msg("seed %llu: arena %s counts %llu refusals, the outsider had "
               "%llu",
               (unsigned long long)seed, arenas[a],
               (unsigned long long)page->summary.permission_denied,
               (unsigned long long)outsider_denied[a]);
    arenad_page_destroy(page);
  }
  assert_int_equal(arenad_ping(h), 0);
  print_message("hammer: %llu requests, %llu connections, %llu closed for a "
                "protocol error, %llu blocks reclaimed, %llu retains, %llu "
                "transfers, %llu arenas made and %llu destroyed, %llu "
                "corrupt headers seen\n",
                (unsigned long long)stat_u(h, "frames_in"),
                (unsigned long long)stat_u(h, "connections_accepted"),
                (unsigned long long)stat_u(h, "connections_closed_protocol"),
                (unsigned long long)stat_u(h, "reclaimed_blocks"),
                (unsigned long long)stat_u(h, "retains"),
                (unsigned long long)stat_u(h, "transfers"),
                (unsigned long long)stat_u(h, "arenas_created"),
                (unsigned long long)stat_u(h, "arenas_destroyed"),
                (unsigned long long)stat_u(h, "corruptions_detected"));
  arenad_close(h);

  int st = it_daemon_stop(&daemon_, SIGTERM);
  if (st != 0)
    fail_msg("seed %llu: arenad exited with %d (its log: %s)",
             (unsigned long long)seed, st, daemon_.log);
  it_daemon_cleanup(&daemon_);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_hammer),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
