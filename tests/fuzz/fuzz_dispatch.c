/*
 * fuzz_dispatch.c: a libFuzzer target for the daemon's request path, from
 * a connection's bytes to its replies, against real engines. Each input
 * gets a fresh daemon (server/'s ad_core, no socket) with three small
 * arenas (two list policies the input chooses, and buddy; different modes,
 * one with quotas) and up to four pseudo-connections, driven the way
 * conn_io.c drives a socket: bytes the peer wrote go into the connection's
 * read buffer while flow control lets them in, ad_conn_run answers them,
 * and the replies are taken out of the output (with the descriptors queued
 * for them) unless the peer has stalled. The input format is in
 * fuzz_dispatch.h.
 *
 * A model follows every reply in order: which arenas exist, with which
 * permissions; which blocks are live, who holds how many references to
 * each and which are detached; which arenas each connection attached and
 * which names are stale for it. For every request it works out the
 * statuses the request may get (any of the errors that apply, the
 * daemon's max_shared_holds among them; OK when none does; out of memory
 * for an allocation and limit exceeded on an arena with quotas, which it
 * does not predict) and checks the reply against
 * them and against the body's figures. After every operation it compares
 * itself with the daemon's records, and checks what needs no model: every
 * arena passes ad_arena_check (the engine's check and the daemon's), the
 * engine's used bytes, live blocks and requested bytes equal the sums over
 * a full walk, every block the walk finds is one that a reply queued
 * for some connection told of (even once the model has stopped: see
 * "What the replies told"), the daemon's counters agree with the arenas
 * and the connections, and a descriptor travels with exactly the replies
 * that carry one. At the end every connection goes; the arenas must then hold
 * detached blocks only, which a new connection frees, after which every
 * arena must be one free extent. Anything else aborts with a sentence on
 * stderr (FUZZ_DISPATCH_TRACE=1 also prints every request and reply).
 */
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ar/engine.h"
#include "ar/error.h"
#include "ar/frame.h"
#include "arena.h"
#include "arenad.pb-c.h"
#include "conn.h"
#include "daemon.h"
#include "fuzz_dispatch.h"
#include "memcheck.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* The daemon's limits, small so that inputs reach them. */
#define MAX_FRAME 4096
#define MAX_BLOCKS 16
#define MAX_SHARED 2    /* max_shared_holds: 3 holders of one block */
#define MAX_ARENAS 16   /* model arenas alive at once (the daemon allows more) \
                         */
#define MAX_PER_SLOT 16 /* arenas attached, stale names, per connection */
#define SOCK_MAX (256 * 1024) /* a peer's unread bytes: the socket buffer */
#define MEMORY (16u << 20)    /* what all the arenas may reserve together */

#define ST(x) ARENAD__STATUS__STATUS_##x
#define BIT(st) (1u << (st))

static const char *const list_policies[4] = {"first", "next", "best", "worst"};

static bool trace; /* FUZZ_DISPATCH_TRACE: print requests and replies */

/* ---- Failing ------------------------------------------------------------- */

static void fail(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));
static void fail(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "fuzz_dispatch: ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  abort();
}

#define ensure(cond, ...)                                                      \
  do {                                                                         \
    if (!(cond))                                                               \
      fail(__VA_ARGS__);                                                       \
  } while (0)

/* ---- The model ----------------------------------------------------------- */

/* One live block as the replies so far say it is. */
typedef struct mblock_s {
  uint64_t payload; /* 0: an empty slot of the table (payloads are >= 16) */
  bool detached;
  bool overwritten; /* its header differs from what the engine wrote, as
                       the last SCRIBBLE over it left it */
  unsigned nh; /* h[0..nh): the connections that hold it */
  struct {
    uint64_t conn; /* connection id */
    uint32_t refs;
  } h[FZ_SLOTS];
} mblock_t;

/* One arena: an open-addressing table of its live blocks. */
typedef struct marena_s {
  bool live;
  uint64_t id; /* the model's, never reused within an input */
  char name[AD_ARENA_NAME_MAX + 1];
  uint64_t size;
  ad_perm_t perm;
  bool quota;  /* has a quota: limit exceeded may come, unpredicted */
  mblock_t *t; /* cap slots, a power of two, at most half full */
  size_t cap, n;
} marena_t;

/* One pseudo-connection and its peer. */
typedef struct slot_s {
  ad_conn_t *c;  /* NULL while the slot has no connection */
  uint32_t uid;  /* also its gid */
  uint8_t *sock; /* bytes the peer wrote that the daemon has not read */
  size_t sock_len;
  bool peer_eof; /* the peer shut its side down */
  bool stalled;  /* the peer does not read its replies */
  uint8_t *fed;  /* bytes the daemon read that no reply answers yet */
  size_t fed_len, fed_cap;
  uint64_t parsed;                 /* output bytes looked at (absolute) */
  bool dead;                       /* its last reply ended the conversation */
  uint64_t attached[MAX_PER_SLOT]; /* model arena ids */
  unsigned nattached;
  char stale[MAX_PER_SLOT][AD_ARENA_NAME_MAX + 1];
  unsigned nstale;
} slot_t;

typedef struct fz_s {
  ad_config_t *cfg;
  ad_daemon_t d;
  marena_t m[MAX_ARENAS];
  uint64_t next_mid;
  bool model_ok; /* the model still follows the daemon */
  slot_t s[FZ_SLOTS];
  bool short_turns; /* every turn begins spent: one frame, then a yield */
  unsigned nslots;
  uint64_t closed_protocol; /* connections freed that the daemon closed
                               for a protocol error or a version */
} fz_t;

/* Whether c is closed, or to be, for a protocol error or a version: what
 * connections_closed_protocol counts. */
static bool closed_for_protocol(const ad_conn_t *c) {
  return c->close_reason != NULL && (strcmp(c->close_reason, "protocol") == 0 ||
                                     strcmp(c->close_reason, "version") == 0);
}

static fz_t *the_fz;                /* for the memory probe */
static bool in_daemon, nomem_fired; /* allocations that fail: see below */
static long nomem_after = -1;

static size_t mhash(uint64_t p, size_t cap) {
  return (size_t)(((p >> 4) * 0x9e3779b97f4a7c15u) >> 24) & (cap - 1);
}

static mblock_t *mfind(const marena_t *m, uint64_t p) {
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

static mblock_t *madd(marena_t *m, uint64_t p) {
  ensure(p >= AR_HDR && p % AR_GRAIN == 0 && p < m->size,
         "arena %s: payload %llu is not a grain inside the arena", m->name,
         (unsigned long long)p);
  ensure(mfind(m, p) == NULL, "arena %s: a new block at %llu, live already",
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

static uint32_t mrefs(const mblock_t *b) {
  uint32_t r = b->detached;
  for (unsigned i = 0; i < b->nh; i++)
    r += b->h[i].refs;
  return r;
}

static int mholder(const mblock_t *b, uint64_t conn) {
  for (unsigned i = 0; i < b->nh; i++)
    if (b->h[i].conn == conn)
      return (int)i;
  return -1;
}

/* The shared holds of every live arena: each block's holders but one. */
static uint64_t mshared(const fz_t *z) {
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
static bool mshared_full(const fz_t *z, const mblock_t *b, uint64_t conn,
                         uint32_t from_refs) {
  return b->nh > 0 && mholder(b, conn) < 0 && from_refs != 1 &&
         mshared(z) >= MAX_SHARED;
}

static void mhold(mblock_t *b, uint64_t conn) {
  int i = mholder(b, conn);
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
static bool mdrop(marena_t *m, mblock_t *b, int i) {
  if (i >= 0) {
    if (--b->h[i].refs == 0)
      b->h[i] = b->h[--b->nh];
  } else {
    b->detached = false;
  }
  if (mrefs(b) > 0)
    return false;
  mremove(m, b);
  return true;
}

static bool mholds_in(const marena_t *m, uint64_t conn) {
  for (size_t i = 0; i < m->cap; i++)
    if (m->t[i].payload != 0 && mholder(&m->t[i], conn) >= 0)
      return true;
  return false;
}

/* Every reference conn holds in m goes. */
static void mdrop_conn_in(marena_t *m, uint64_t conn) {
  for (;;) {
    mblock_t *b = NULL;
    for (size_t i = 0; i < m->cap && b == NULL; i++)
      if (m->t[i].payload != 0 && mholder(&m->t[i], conn) >= 0)
        b = &m->t[i];
    if (b == NULL)
      return;
    int h = mholder(b, conn);
    b->h[h].refs = 1;
    mdrop(m, b, h);
  }
}

static uint64_t mdetached(const marena_t *m) {
  uint64_t n = 0;
  for (size_t i = 0; i < m->cap; i++)
    n += m->t[i].payload != 0 && m->t[i].detached;
  return n;
}

static marena_t *mnamed(fz_t *z, const char *name) {
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
 * gives the size and order (check_all keeps it and the model in step). */
static void mark_overwritten(fz_t *z, const ad_arena_t *a, uint64_t off,
                             uint64_t k) {
  marena_t *m = mnamed(z, a->name);
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

static marena_t *mnew(fz_t *z, const char *name, uint64_t size,
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
static bool may(const marena_t *m, const slot_t *s, unsigned need) {
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

static bool stale_for(const slot_t *s, const char *name) {
  for (unsigned i = 0; i < s->nstale; i++)
    if (strcmp(s->stale[i], name) == 0)
      return true;
  return false;
}

static bool attached_to(const slot_t *s, uint64_t mid) {
  for (unsigned i = 0; i < s->nattached; i++)
    if (s->attached[i] == mid)
      return true;
  return false;
}

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
void *__real_calloc(size_t k, size_t n); /* see "Memory that runs out" */
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

static void told_reset(void) {
  free(told);
  told = NULL;
  told_cap = told_n = 0;
  placed.count = 0;
}

/* Linked with -Wl,--wrap=ad_arena_alloc: the blocks just placed are
 * untold, until their reply is packed. */
int __real_ad_arena_alloc(ad_arena_t *a, ad_holder_t *holder, uint64_t n,
                          uint64_t align, uint32_t count, uint64_t *offsets);
int __wrap_ad_arena_alloc(ad_arena_t *a, ad_holder_t *holder, uint64_t n,
                          uint64_t align, uint32_t count, uint64_t *offsets);
int __wrap_ad_arena_alloc(ad_arena_t *a, ad_holder_t *holder, uint64_t n,
                          uint64_t align, uint32_t count, uint64_t *offsets) {
  int rc = __real_ad_arena_alloc(a, holder, n, align, count, offsets);
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
    ensure(r->refcount == mrefs(b) && r->detached == b->detached &&
               ad_block_nholds(r) == b->nh,
           "arena %s: block %llu has refcount %u detached %d holders %u, "
           "the model %u %d %u",
           a->name, (unsigned long long)b->payload, r->refcount, r->detached,
           ad_block_nholds(r), mrefs(b), b->detached, b->nh);
    for (const ad_hold_t *h = r->holds; h != NULL; h = h->block_next) {
      int i = mholder(b, h->holder->id);
      ensure(i >= 0 && h->refs == b->h[i].refs,
             "arena %s: block %llu: connection %llu holds %u references, "
             "the model %u",
             a->name, (unsigned long long)b->payload,
             (unsigned long long)h->holder->id, h->refs,
             i >= 0 ? b->h[i].refs : 0);
    }
  }
}

static void check_all(fz_t *z) {
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
      const marena_t *m = mnamed(z, a->name);
      ensure(m != NULL, "arena %s exists, the model does not know it", a->name);
      check_model(m, a);
    }
  }
  for (size_t i = 0; i < MAX_ARENAS; i++)
    nlive += z->m[i].live;
  ensure(!z->model_ok || nlive == d->narenas, "%zu arenas, the model has %zu",
         d->narenas, nlive);
  ensure(!z->model_ok || d->pools.shared == mshared(z),
         "%llu shared holds, the model has %llu",
         (unsigned long long)d->pools.shared, (unsigned long long)mshared(z));
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
    protocol += closed_for_protocol(c);
    if (!z->model_ok)
      continue;
    uint64_t refs = 0;
    for (size_t i = 0; i < MAX_ARENAS; i++)
      for (size_t j = 0; z->m[i].live && j < z->m[i].cap; j++) {
        const mblock_t *b = &z->m[i].t[j];
        int h = b->payload != 0 ? mholder(b, c->id) : -1;
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
 * with quotas. */
static marena_t *resolve(fz_t *z, const slot_t *s, const char *name,
                         bool check_stale, unsigned need, verdict_t *v) {
  marena_t *m = mnamed(z, name);
  if (m == NULL || (check_stale && stale_for(s, name))) {
    v->errs |= BIT(ST(NOT_FOUND));
    return NULL;
  }
  if (!may(m, s, need))
    v->errs |= BIT(ST(PERMISSION_DENIED));
  if (m->quota)
    v->tolerate |= BIT(ST(LIMIT_EXCEEDED));
  return m;
}

static void on_alloc(fz_t *z, slot_t *s, const Arenad__AllocRequest *q,
                     const Arenad__Response *r, verdict_t *v) {
  marena_t *m = resolve(z, s, q->arena, true, AD_MAY_WRITE, v);
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
    mblock_t *b = madd(m, off);
    if (q->detached)
      b->detached = true;
    else
      mhold(b, s->c->id);
  }
}

static void on_free(fz_t *z, slot_t *s, const Arenad__FreeRequest *q,
                    const Arenad__Response *r, verdict_t *v) {
  marena_t *m = resolve(z, s, q->arena, true, AD_MAY_WRITE, v);
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
    mblock_t *b = mfind(m, off);
    Arenad__Status want;
    int h = -1;
    if (b == NULL)
      want = ST(INVALID_ARGUMENT);
    else if ((h = mholder(b, s->c->id)) >= 0 || b->detached)
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
      if (mdrop(m, b, h)) {
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
  marena_t *m = resolve(z, s, q->arena, true, AD_MAY_READ, v);
  mblock_t *b = m != NULL ? mfind(m, q->offset) : NULL;
  if (m != NULL && b == NULL)
    v->errs |= BIT(ST(INVALID_ARGUMENT));
  if (b != NULL && mshared_full(z, b, s->c->id, 0))
    v->errs |= BIT(ST(LIMIT_EXCEEDED));
  if (!judge(v, r))
    return;
  mhold(b, s->c->id);
  ensure(r->retain->refcount == mrefs(b), "retain: refcount %u, the model %u",
         r->retain->refcount, mrefs(b));
}

static void on_release(fz_t *z, slot_t *s, const Arenad__ReleaseRequest *q,
                       const Arenad__Response *r, verdict_t *v) {
  marena_t *m = resolve(z, s, q->arena, true, 0, v);
  mblock_t *b = m != NULL ? mfind(m, q->offset) : NULL;
  int h = b != NULL ? mholder(b, s->c->id) : -1;
  if (m != NULL && b == NULL)
    v->errs |= BIT(ST(INVALID_ARGUMENT));
  else if (b != NULL && h < 0)
    v->errs |= BIT(ST(PERMISSION_DENIED));
  if (!judge(v, r))
    return;
  uint32_t left = mrefs(b) - 1;
  bool over = b->overwritten && left == 0; /* b goes with its last reference */
  mdrop(m, b, h);
  ensure(r->release->refcount == left, "release: refcount %u, the model %u",
         r->release->refcount, left);
  ensure(r->release->overwritten == over,
         "release of %llu: overwritten %d, the model %d",
         (unsigned long long)q->offset, (int)r->release->overwritten,
         (int)over);
}

static bool reading(const ad_conn_t *c);

static void on_transfer(fz_t *z, slot_t *s, const Arenad__TransferRequest *q,
                        const Arenad__Response *r, verdict_t *v) {
  marena_t *m = resolve(z, s, q->arena, true, 0, v);
  const slot_t *to = NULL;
  for (unsigned k = 0; k < z->nslots; k++)
    if (z->s[k].c != NULL && z->s[k].c->token == q->target_token)
      to = &z->s[k];
  mblock_t *b = m != NULL ? mfind(m, q->offset) : NULL;
  int h = b != NULL ? mholder(b, s->c->id) : -1;
  if (m != NULL) {
    if (to == NULL)
      v->errs |= BIT(ST(NOT_FOUND));
    else if (to == s)
      v->errs |= BIT(ST(INVALID_ARGUMENT));
    else if (!reading(to->c)) /* ending: only its own pump changes that */
      v->errs |= BIT(ST(NOT_FOUND));
    if (b == NULL)
      v->errs |= BIT(ST(INVALID_ARGUMENT));
    else if (h < 0)
      v->errs |= BIT(ST(PERMISSION_DENIED));
    if (to != NULL && !may(m, to, AD_MAY_READ))
      v->errs |= BIT(ST(PERMISSION_DENIED));
    if (to != NULL && to != s && h >= 0 &&
        mshared_full(z, b, to->c->id, b->h[h].refs))
      v->errs |= BIT(ST(LIMIT_EXCEEDED));
  }
  if (!judge(v, r))
    return;
  uint32_t refs = mrefs(b);
  mhold(b, to->c->id);
  mdrop(m, b, h);
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
              q->read_only ? AD_MAY_READ : AD_MAY_READ | AD_MAY_WRITE, v);
  v->tolerate &= ~BIT(ST(LIMIT_EXCEEDED));
  if (!judge(v, r))
    return;
  ensure(r->attach->size == m->size && r->attach->read_only == q->read_only,
         "attach %s: size %llu read-only %d", m->name,
         (unsigned long long)r->attach->size, r->attach->read_only);
  if (!attached_to(s, m->id)) {
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
  marena_t *m = resolve(z, s, q->arena, true, AD_MAY_READ, v);
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
             p->summary->detached_blocks == mdetached(m),
         "inspect %s: %llu blocks %llu detached, the model %zu %llu", m->name,
         (unsigned long long)p->summary->live_blocks,
         (unsigned long long)p->summary->detached_blocks, m->n,
         (unsigned long long)mdetached(m));
  for (size_t i = 0; i < p->n_extents; i++) {
    const Arenad__Extent *e = p->extents[i];
    ensure(e->start >= q->cursor && e->start < m->size,
           "inspect: an extent at %llu", (unsigned long long)e->start);
    if (q->what == ARENAD__INSPECT_WHAT__INSPECT_FREE_LIST)
      ensure(e->free, "inspect free list: an allocated extent");
    if (e->free)
      continue;
    const mblock_t *b = mfind(m, e->payload);
    ensure(b != NULL, "inspect %s: block %llu, which the model lacks", m->name,
           (unsigned long long)e->payload);
    ensure(e->refcount == mrefs(b) && e->detached == b->detached &&
               e->n_holders == b->nh,
           "inspect %s: block %llu refcount %u detached %d holders %zu, the "
           "model %u %d %u",
           m->name, (unsigned long long)e->payload, e->refcount, e->detached,
           e->n_holders, mrefs(b), b->detached, b->nh);
    if (q->what == ARENAD__INSPECT_WHAT__INSPECT_DETACHED)
      ensure(e->detached, "inspect detached: a block that is not");
    for (size_t k = 0; k < e->n_holders; k++) {
      int h = mholder(b, e->holders[k]->connection_id);
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
  resolve(z, s, q->arena, true, AD_MAY_READ, v);
  v->tolerate &= ~BIT(ST(LIMIT_EXCEEDED));
  if (!judge(v, r))
    return;
  ensure(r->check->ok, "check: OK but not ok");
  const marena_t *m = mnamed(z, q->arena);
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
  if (!name_ok(q->name) || mnamed(z, q->name) != NULL ||
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
  if (mnew(z, q->name, q->size, &perm,
           q->quota_bytes != 0 || q->quota_blocks != 0) == NULL)
    z->model_ok = false;
}

static void on_destroy(fz_t *z, slot_t *s, const Arenad__DestroyArenaRequest *q,
                       const Arenad__Response *r, verdict_t *v) {
  marena_t *m = mnamed(z, q->name);
  if (!admin(z, s))
    v->errs |= BIT(ST(PERMISSION_DENIED));
  if (m == NULL || stale_for(s, q->name)) /* the new arena is not reached */
    v->errs |= BIT(ST(NOT_FOUND));
  else if (m->n > 0 && !q->force)
    v->errs |= BIT(ST(INVALID_ARGUMENT));
  if (!judge(v, r))
    return;
  /* Every connection that attached it or held blocks in it now gets not
   * found for its name, until it attaches it again. */
  uint32_t attached = 0;
  for (unsigned k = 0; k < z->nslots; k++) {
    slot_t *t = &z->s[k];
    if (t->c == NULL)
      continue;
    bool was = attached_to(t, m->id);
    attached += was;
    if ((was || mholds_in(m, t->c->id)) && !stale_for(t, m->name)) {
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
      detached += mdetached(&z->m[i]);
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
    const marena_t *m = mnamed(z, info->name);
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
    if (trace)
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
  if (trace)
    fprintf(stderr, "conn %llu: %s id %llu -> status %d body %d %s\n",
            (unsigned long long)c->id, kind(k), (unsigned long long)q->id,
            (int)r->status, (int)r->body_case, r->message ? r->message : "");
  ensure(r->id == q->id, "%s: reply id %llu to request %llu", kind(k),
         (unsigned long long)r->id, (unsigned long long)q->id);
  ensure((r->status != ST(INTERNAL) || nomem_fired) &&
             r->status != ST(CORRUPTION_DETECTED),
         "%s: status %d: %s", kind(k), (int)r->status,
         r->message ? r->message : "");
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
static void parse_replies(fz_t *z, slot_t *s) {
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
static void take_replies(slot_t *s) {
  ad_conn_t *c = s->c;
  size_t len = ar_buf_len(ad_conn_out(c));
  while (c->fdq_len > 0 && c->fdq[c->fdq_head].at < c->out_sent + len)
    ad_conn_fd_done(c);
  ad_conn_sent(c, len);
}

/* ---- Connections --------------------------------------------------------- */

static void slot_reset(slot_t *s) {
  s->c = NULL;
  s->sock_len = 0;
  s->fed_len = 0;
  s->peer_eof = false;
  s->stalled = false;
  s->parsed = 0;
  s->dead = false;
  s->nattached = 0;
  s->nstale = 0;
}

static void slot_open(fz_t *z, slot_t *s) {
  s->c = ad_conn_new(&z->d, -1, 1000 + (uint32_t)(s - z->s), s->uid, s->uid);
  ensure(s->c != NULL, "ad_conn_new failed");
}

/* The connection is closed (by the daemon or by the peer): its references
 * are gone; frees it. */
static void slot_closed(fz_t *z, slot_t *s) {
  ad_conn_t *c = s->c;
  ensure(c->holder.nholds == 0 && c->holder.holds == NULL,
         "connection %llu closed with %llu references",
         (unsigned long long)c->id, (unsigned long long)c->holder.nholds);
  ensure(c->close_reason == NULL ||
             strcmp(c->close_reason, "output-limit") != 0,
         "connection %llu passed the output limit, which flow control "
         "prevents",
         (unsigned long long)c->id);
  for (size_t i = 0; i < MAX_ARENAS; i++)
    if (z->m[i].live)
      mdrop_conn_in(&z->m[i], c->id);
  z->closed_protocol += closed_for_protocol(c);
  ad_conn_free(c);
  slot_reset(s);
}

static void slot_kill(fz_t *z, slot_t *s) {
  if (s->c == NULL)
    return;
  in_daemon = true;
  ad_conn_close(s->c, "reset");
  in_daemon = false;
  if (nomem_fired)
    z->model_ok = false;
  slot_closed(z, s);
}

/* conn_io.c's reading(): whether the daemon still reads c. */
static bool reading(const ad_conn_t *c) {
  return !c->eof && !c->close_after_reply && !c->closing;
}

/* The daemon's count of yielded connections is the slots' count, and a
 * connection yields only with a frame left to answer. */
static void check_yields(const fz_t *z) {
  size_t n = 0;
  for (unsigned k = 0; k < z->nslots; k++) {
    const ad_conn_t *c = z->s[k].c;
    if (c == NULL || !c->yielded)
      continue;
    n++;
    ensure(z->short_turns, "connection %llu yielded without short turns",
           (unsigned long long)c->id);
    ensure(ad_conn_has_frame(c, ar_buf_data(&c->rbuf), ar_buf_len(&c->rbuf)),
           "connection %llu yielded with no frame left",
           (unsigned long long)c->id);
  }
  ensure(z->d.nyielded == n, "nyielded %zu, yielded connections %zu",
         z->d.nyielded, n);
}

/* Runs s's connection until nothing moves: reads what flow control lets
 * in, answers it, looks at the replies and (unless stalled) takes them. */
static void pump(fz_t *z, slot_t *s) {
  size_t chunk = z->cfg->read_chunk;
  for (;;) {
    ad_conn_t *c = s->c;
    bool moved = false;
    if (reading(c) && ad_conn_can_decode(c)) {
      size_t room = c->rbuf.max - ar_buf_len(&c->rbuf);
      size_t n = s->sock_len < room ? s->sock_len : room;
      if (n > chunk)
        n = chunk;
      if (n > 0) {
        ensure(ar_buf_append(&c->rbuf, s->sock, n) == 0, "rbuf refused");
        if (s->fed_len + n > s->fed_cap) {
          s->fed_cap = (s->fed_len + n) * 2;
          s->fed = realloc(s->fed, s->fed_cap);
          ensure(s->fed != NULL, "out of memory");
        }
        memcpy(s->fed + s->fed_len, s->sock, n);
        s->fed_len += n;
        memmove(s->sock, s->sock + n, s->sock_len - n);
        s->sock_len -= n;
        moved = true;
      } else if (s->sock_len == 0 && s->peer_eof) {
        c->eof = true;
        moved = true;
      }
    }
    if (z->short_turns) {
      /* ad_conn_resume's work, with a turn that began long ago. */
      moved |= c->yielded;
      ad_conn_end_yield(c);
      ad_conn_begin_turn(c, 1);
    }
    uint64_t yields = z->d.stats.turns_yielded;
    in_daemon = true;
    ad_conn_run(c);
    in_daemon = false;
    if (nomem_fired)
      z->model_ok = false; /* outcomes under no memory: not predicted */
    /* One yield a run at most, and it lasts unless the run then closed
     * the connection (out of memory, say). */
    uint64_t grew = z->d.stats.turns_yielded - yields;
    ensure(c->closing ? grew <= 1 : grew == (c->yielded ? 1u : 0u),
           "turns_yielded grew by %llu, connection yielded: %d, closing: %d",
           (unsigned long long)grew, c->yielded, c->closing);
    check_yields(z);
    if (c->closing) {
      slot_closed(z, s);
      return;
    }
    if (s->parsed != c->out_total) {
      parse_replies(z, s);
      moved = true;
    }
    if (!s->stalled && c->out_sent != c->out_total) {
      take_replies(s);
      moved = true;
    }
    if (!moved)
      return;
  }
}

/* ---- Setup --------------------------------------------------------------- */

/* The memory probe reads /proc and the cgroup files for every arena, which
 * would cost most of an input's time. Linked with
 * -Wl,--wrap=ad_memory_available, the daemon gets MEMORY less what its
 * arenas hold, so that arenas made at run time stay small. */
void __wrap_ad_memory_available(ad_memavail_t *out);
void __wrap_ad_memory_available(ad_memavail_t *out) {
  uint64_t used = 0;
  if (the_fz != NULL && the_fz->d.arenas != NULL)
    for (size_t i = 0; i < the_fz->d.narenas; i++)
      used += the_fz->d.arenas[i]->size;
  out->bytes = used < MEMORY ? MEMORY - used : 0;
  snprintf(out->source, sizeof(out->source), "fuzz_dispatch");
}

/* Connection tokens come from getrandom. Linked with -Wl,--wrap=getrandom,
 * the n-th connection of an input gets token n (its id), so that an input
 * can name another connection in a transfer, and runs the same way twice. */
static uint64_t tokens_given;
ssize_t __wrap_getrandom(void *buf, size_t len, unsigned flags);
ssize_t __wrap_getrandom(void *buf, size_t len, unsigned flags) {
  (void)flags;
  uint64_t t = ++tokens_given;
  memset(buf, 0, len);
  memcpy(buf, &t, len < sizeof(t) ? len : sizeof(t));
  return (ssize_t)len;
}

/* Memory that runs out: linked with -Wl,--wrap=malloc (and calloc and
 * realloc), every allocation of the objects linked in goes through these.
 * While `in_daemon` (the daemon runs a connection), the allocation that
 * brings `nomem_after` to 0 fails; `nomem_fired` then says so. */
void *__real_malloc(size_t n);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t k, size_t n);
void *__wrap_realloc(void *p, size_t n);

static bool nomem_now(void) {
  if (!in_daemon || nomem_after < 0 || nomem_after-- > 0)
    return false;
  nomem_fired = true;
  return true;
}

void *__wrap_malloc(size_t n) { return nomem_now() ? NULL : __real_malloc(n); }
void *__wrap_calloc(size_t k, size_t n) {
  return nomem_now() ? NULL : __real_calloc(k, n);
}
void *__wrap_realloc(void *p, size_t n) {
  return nomem_now() ? NULL : __real_realloc(p, n);
}

/* Arena a: owner only (0600). b: others may read (0644). c: others may
 * read and write (0666), with quotas. */
static ad_config_t *config_for(unsigned policy) {
  static ad_config_t cfgs[4];
  static bool ready[4];
  if (ready[policy])
    return &cfgs[policy];
  char text[1024], err[256];
  snprintf(text, sizeof(text),
           "[daemon]\n"
           "max_frame_bytes = %d\n"
           "max_in_flight = 8\n"
           "output_pause_bytes = 4K\n"
           "output_limit_bytes = 64K\n"
           "max_blocks_per_request = %d\n"
           "max_shared_holds = %d\n"
           "default_page = 4\n"
           "max_page = 16\n"
           "read_chunk = 4K\n"
           "[arena a]\nsize = %d\npolicy = %s\nmode = 0600\n"
           "[arena b]\nsize = %d\npolicy = buddy\nmode = 0644\n"
           "[arena c]\nsize = %d\npolicy = %s\nmode = 0666\n"
           "quota_blocks = 6\nquota_bytes = 8K\n",
           MAX_FRAME, MAX_BLOCKS, MAX_SHARED, FZ_ARENA_A_SIZE,
           list_policies[policy], FZ_ARENA_B_SIZE, FZ_ARENA_C_SIZE,
           list_policies[(policy + 1) % 4]);
  ad_config_init(&cfgs[policy]);
  FILE *in = fmemopen(text, strlen(text), "r");
  ensure(in != NULL, "fmemopen");
  ensure(ad_config_load_stream(&cfgs[policy], in, "fuzz", err, sizeof(err)) ==
                 0 &&
             ad_config_finish(&cfgs[policy], err, sizeof(err)) == 0,
         "config: %s", err);
  fclose(in);
  ready[policy] = true;
  return &cfgs[policy];
}

/* The peers' socket buffers, allocated once (an input costs no large
 * allocation). */
static uint8_t sock_mem[FZ_SLOTS][SOCK_MAX];

static void setup(fz_t *z, uint8_t b) {
  char err[256];
  nomem_after = -1;
  nomem_fired = false;
  told_reset();
  the_fz = z;
  z->cfg = config_for(FZ_SETUP_POLICY(b));
  /* The instance takes the first getrandom: UINT64_MAX in every input;
   * then connection n gets token n. */
  tokens_given = UINT64_MAX - 1;
  ensure(ad_daemon_init(&z->d, z->cfg, err, sizeof(err)) == 0,
         "ad_daemon_init: %s", err);
  ensure(z->d.instance == UINT64_MAX, "instance %llx",
         (unsigned long long)z->d.instance);
  tokens_given = 0;
  z->model_ok = true;
  z->closed_protocol = 0;
  z->next_mid = 0;
  for (size_t i = 0; i < z->d.narenas; i++) {
    const ad_arena_t *a = z->d.arenas[i];
    ensure(mnew(z, a->name, a->size, &a->perm,
                a->quota.bytes != 0 || a->quota.blocks != 0) != NULL,
           "too many arenas");
  }
  z->nslots = FZ_SETUP_SLOTS(b);
  z->short_turns = (b & FZ_SETUP_SHORT_TURNS) != 0;
  uint32_t uid = (uint32_t)getuid();
  for (unsigned k = 0; k < z->nslots; k++) {
    slot_reset(&z->s[k]);
    z->s[k].uid = k > 0 && (b & FZ_SETUP_UIDS) ? uid + 4242 : uid;
    z->s[k].sock = sock_mem[k];
  }
}

static void teardown(fz_t *z) {
  for (size_t i = 0; i < MAX_ARENAS; i++) {
    free(z->m[i].t);
    memset(&z->m[i], 0, sizeof(z->m[i]));
  }
  ad_daemon_fini(&z->d);
  told_reset();
  the_fz = NULL;
}

/* ---- The end of an input ------------------------------------------------- */

static void add_frame(slot_t *s, const Arenad__Request *q) {
  size_t n = arenad__request__get_packed_size(q);
  ensure(s->sock_len + AR_FRAME_PREFIX_MAX + n <= SOCK_MAX, "socket full");
  s->sock_len += ar_frame_encode(s->sock + s->sock_len, n);
  arenad__request__pack(q, s->sock + s->sock_len);
  s->sock_len += n;
}

/* Every connection goes; what is left must be the detached blocks, which a
 * new connection (uid 0's or the daemon's: it may write everywhere it
 * owns) frees; every arena is then empty. */
static void finish(fz_t *z) {
  ad_daemon_t *d = &z->d;
  for (unsigned k = 0; k < z->nslots; k++)
    slot_kill(z, &z->s[k]);
  nomem_after = -1; /* the rest must work */
  check_all(z);

  slot_t *s = &z->s[0];
  s->uid = 0; /* may write to any arena */
  slot_open(z, s);
  uint64_t offs[MAX_BLOCKS];
  for (size_t i = 0; i < d->narenas; i++) {
    ad_arena_t *a = d->arenas[i];
    ensure(ad_blocktab_count(&a->table) == a->detached_blocks,
           "arena %s: %zu blocks left when every connection is gone, %llu "
           "detached",
           a->name, ad_blocktab_count(&a->table),
           (unsigned long long)a->detached_blocks);
    /* Free them a page at a time (the table changes as they go). */
    while (ad_blocktab_count(&a->table) > 0) {
      size_t n = 0;
      for (size_t j = 0; j < ad_blocktab_slots(&a->table) && n < MAX_BLOCKS;
           j++) {
        const ad_block_t *b = ad_blocktab_at(&a->table, j);
        if (b != NULL)
          offs[n++] = b->payload;
      }
      Arenad__FreeRequest fr = ARENAD__FREE_REQUEST__INIT;
      Arenad__Request q = ARENAD__REQUEST__INIT;
      fr.arena = a->name;
      fr.offsets = offs;
      fr.n_offsets = n;
      q.id = 1;
      q.body_case = ARENAD__REQUEST__BODY_FREE;
      q.free = &fr;
      add_frame(s, &q);
      size_t before = ad_blocktab_count(&a->table);
      pump(z, s);
      ensure(s->c != NULL && ad_blocktab_count(&a->table) == before - n,
             "arena %s: freeing %zu detached blocks left %zu of %zu", a->name,
             n, ad_blocktab_count(&a->table), before);
    }
    ar_engine_stats_t st;
    ar_engine_stats(a->engine, &st);
    ensure(st.live_blocks == 0 && st.used_bytes == 0 &&
               st.largest_free == a->size && st.free_extents == 1,
           "arena %s is not one free extent at the end: %llu blocks, %llu "
           "used, %llu free extents",
           a->name, (unsigned long long)st.live_blocks,
           (unsigned long long)st.used_bytes,
           (unsigned long long)st.free_extents);
  }
  check_all(z);
  slot_kill(z, s);
  check_all(z);
}

/* ---- The target ---------------------------------------------------------- */

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  trace = getenv("FUZZ_DISPATCH_TRACE") != NULL;
  ad_log_set_level(trace ? AD_LOG_INFO : AD_LOG_ERROR);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static fz_t z;
  if (size == 0)
    return 0;
  setup(&z, data[0]);
  size_t at = 1;
  while (at < size) {
    uint8_t op = data[at++];
    slot_t *s = &z.s[(op & 3) % z.nslots];
    if (op < 0x80) {
      size_t n = 0;
      if (op & FZ_DATA_LONG) {
        n = at < size ? data[at++] : 0;
        n |= (size_t)(at < size ? data[at++] : 0) << 8;
      } else if (at < size) {
        n = data[at++];
      }
      if (n > size - at)
        n = size - at;
      if (s->c == NULL)
        slot_open(&z, s);
      if (!s->peer_eof) {
        size_t room = SOCK_MAX - s->sock_len;
        size_t k = n < room ? n : room;
        memcpy(s->sock + s->sock_len, data + at, k);
        s->sock_len += k;
      }
      at += n;
      pump(&z, s);
    } else if ((op & 0xf8) == FZ_OP_RESET) {
      slot_kill(&z, s);
    } else if ((op & 0xf8) == FZ_OP_SHUTDOWN) {
      if (s->c == NULL)
        slot_open(&z, s);
      s->peer_eof = true;
      pump(&z, s);
    } else if ((op & 0xf8) == FZ_OP_STALL) {
      if (s->c == NULL)
        slot_open(&z, s);
      s->stalled = !s->stalled;
      pump(&z, s);
    } else if ((op & 0xf8) == FZ_OP_NOMEM) {
      nomem_after = at < size ? data[at++] : 0;
    } else if ((op & 0xf8) == FZ_OP_SCRIBBLE && z.d.narenas > 0) {
      ad_arena_t *a = z.d.arenas[(op & 7) % z.d.narenas];
      size_t off = at < size ? data[at++] : 0;
      off |= (size_t)(at < size ? data[at++] : 0) << 8;
      size_t n = at < size ? data[at++] % 64 : 0;
      if (n > size - at)
        n = size - at;
      off %= a->size;
      size_t k = n < a->size - off ? n : a->size - off;
      memcpy((uint8_t *)a->seg.base + off, data + at, k);
      at += n;
      mark_overwritten(&z, a, off, k);
    }
    check_all(&z);
  }
  finish(&z);
  teardown(&z);
  return 0;
}
