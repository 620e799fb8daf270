/*
 * fuzz_dispatch.c: a libFuzzer target for the daemon's request path, from
 * a connection's bytes to its replies, against real engines. Each input
 * gets a fresh daemon (server/'s ad_core, no socket) with three small
 * arenas (two list policies the input chooses, and buddy; different modes,
 * one with quotas) and up to four pseudo-connections
 * (fuzz_dispatch_conn.c). A model (fuzz_dispatch_model.c) follows every
 * reply, which is checked against it (fuzz_dispatch_replies.c), and after
 * every operation the daemon is checked against the model and against
 * what needs no model (fuzz_dispatch_invariants.c). This file holds the
 * target itself: the setup of an input, with the functions it wraps, the
 * loop over its operations (the input format is in fuzz_dispatch.h) and
 * its end. At the end every connection goes; the arenas must then hold
 * detached blocks only, which a new connection frees, after which every
 * arena must be one free extent. Anything else aborts with a sentence on
 * stderr (FUZZ_DISPATCH_TRACE=1 also prints every request and reply).
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "ar/engine.h"
#include "ar/frame.h"
#include "arenad.pb-c.h"
#include "fuzz_dispatch_internal.h"
#include "memcheck.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static const char *const list_policies[4] = {"first", "next", "best", "worst"};

bool fzd_trace;      /* FUZZ_DISPATCH_TRACE: print requests and replies */
static fz_t *the_fz; /* for the memory probe */
bool fzd_in_daemon, fzd_nomem_fired; /* allocations that fail: see below */
static long nomem_after = -1;

/* ---- Failing ------------------------------------------------------------- */

void fzd_fail(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "fuzz_dispatch: ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  abort();
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
 * While `fzd_in_daemon` (the daemon runs a connection), the allocation that
 * brings `nomem_after` to 0 fails; `fzd_nomem_fired` then says so. */
void *__real_malloc(size_t n);
void *__real_calloc(size_t k, size_t n);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t k, size_t n);
void *__wrap_realloc(void *p, size_t n);

static bool nomem_now(void) {
  if (!fzd_in_daemon || nomem_after < 0 || nomem_after-- > 0)
    return false;
  fzd_nomem_fired = true;
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
  fzd_nomem_fired = false;
  fzd_told_reset();
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
    ensure(fzd_mnew(z, a->name, a->size, &a->perm,
                    a->quota.bytes != 0 || a->quota.blocks != 0) != NULL,
           "too many arenas");
  }
  z->nslots = FZ_SETUP_SLOTS(b);
  z->short_turns = (b & FZ_SETUP_SHORT_TURNS) != 0;
  uint32_t uid = (uint32_t)getuid();
  for (unsigned k = 0; k < z->nslots; k++) {
    fzd_slot_reset(&z->s[k]);
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
  fzd_told_reset();
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
    fzd_slot_kill(z, &z->s[k]);
  nomem_after = -1; /* the rest must work */
  fzd_check_all(z);

  slot_t *s = &z->s[0];
  s->uid = 0; /* may write to any arena */
  fzd_slot_open(z, s);
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
      fzd_pump(z, s);
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
  fzd_check_all(z);
  fzd_slot_kill(z, s);
  fzd_check_all(z);
}

/* ---- The target ---------------------------------------------------------- */

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  fzd_trace = getenv("FUZZ_DISPATCH_TRACE") != NULL;
  ad_log_set_level(fzd_trace ? AD_LOG_INFO : AD_LOG_ERROR);
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
        fzd_slot_open(&z, s);
      if (!s->peer_eof) {
        size_t room = SOCK_MAX - s->sock_len;
        size_t k = n < room ? n : room;
        memcpy(s->sock + s->sock_len, data + at, k);
        s->sock_len += k;
      }
      at += n;
      fzd_pump(&z, s);
    } else if ((op & 0xf8) == FZ_OP_RESET) {
      fzd_slot_kill(&z, s);
    } else if ((op & 0xf8) == FZ_OP_SHUTDOWN) {
      if (s->c == NULL)
        fzd_slot_open(&z, s);
      s->peer_eof = true;
      fzd_pump(&z, s);
    } else if ((op & 0xf8) == FZ_OP_STALL) {
      if (s->c == NULL)
        fzd_slot_open(&z, s);
      s->stalled = !s->stalled;
      fzd_pump(&z, s);
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
      fzd_mark_overwritten(&z, a, off, k);
    }
    fzd_check_all(&z);
  }
  finish(&z);
  teardown(&z);
  return 0;
}
