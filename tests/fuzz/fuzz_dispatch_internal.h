/*
 * fuzz_dispatch_internal.h: what the files of fuzz_dispatch share, and no
 * other program includes: the daemon's limits as the target sets them, the
 * one way to fail, the model's types (a block, an arena, a
 * pseudo-connection and its peer, the whole run, with what owns what), and
 * the functions and variables that one file defines and another uses,
 * grouped by the file that defines them. The input format is not here but
 * in fuzz_dispatch.h, which the seed generator shares.
 */
#ifndef FUZZ_DISPATCH_INTERNAL_H
#define FUZZ_DISPATCH_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "conn.h"
#include "daemon.h"
#include "fuzz_dispatch.h"

/* The daemon's limits, small so that inputs reach them. */
#define MAX_FRAME 4096
#define MAX_BLOCKS 16
#define MAX_SHARED 2 /* max_shared_holds: 3 holders of one block */
/* Model arenas alive at once (the daemon allows more). */
#define MAX_ARENAS 16
#define MAX_PER_SLOT 16       /* arenas attached, stale names, per connection */
#define SOCK_MAX (256 * 1024) /* a peer's unread bytes: the socket buffer */
#define MEMORY (16u << 20)    /* what all the arenas may reserve together */

#define ST(x) ARENAD__STATUS__STATUS_##x
#define BIT(st) (1u << (st))

/* ---- Failing (fuzz_dispatch.c) ------------------------------------------- */

void fzd_fail(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));

#define ensure(cond, ...)                                                      \
  do {                                                                         \
    if (!(cond))                                                               \
      fzd_fail(__VA_ARGS__);                                                   \
  } while (0)

/* ---- The model (fuzz_dispatch_model.c) ----------------------------------- */

/* One live block as the replies so far say it is. */
typedef struct mblock_s {
  uint64_t payload; /* 0: an empty slot of the table (payloads are >= 16) */
  bool detached;
  bool overwritten; /* its header differs from what the engine wrote, as
                       the last SCRIBBLE over it left it */
  unsigned nh;      /* h[0..nh): the connections that hold it */
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
  uint64_t used[MAX_ARENAS]; /* model arena ids a request of it opened */
  unsigned nused;
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

bool fzd_closed_for_protocol(const ad_conn_t *c);
mblock_t *fzd_mfind(const marena_t *m, uint64_t p);
mblock_t *fzd_madd(marena_t *m, uint64_t p);
uint32_t fzd_mrefs(const mblock_t *b);
int fzd_mholder(const mblock_t *b, uint64_t conn);
uint64_t fzd_mshared(const fz_t *z);
bool fzd_mshared_full(const fz_t *z, const mblock_t *b, uint64_t conn,
                      uint32_t from_refs);
void fzd_mhold(mblock_t *b, uint64_t conn);
bool fzd_mdrop(marena_t *m, mblock_t *b, int i);
bool fzd_mholds_in(const marena_t *m, uint64_t conn);
void fzd_mdrop_conn_in(marena_t *m, uint64_t conn);
uint64_t fzd_mdetached(const marena_t *m);
marena_t *fzd_mnamed(fz_t *z, const char *name);
void fzd_mark_overwritten(fz_t *z, const ad_arena_t *a, uint64_t off,
                          uint64_t k);
marena_t *fzd_mnew(fz_t *z, const char *name, uint64_t size,
                   const ad_perm_t *perm, bool quota);
bool fzd_may(const marena_t *m, const slot_t *s, unsigned need);
bool fzd_stale_for(const slot_t *s, const char *name);
bool fzd_attached_to(const slot_t *s, uint64_t mid);
/* Whether a request of s opened arena mid, and noting that one did. */
bool fzd_used(const slot_t *s, uint64_t mid);
void fzd_note_use(slot_t *s, uint64_t mid);

/* ---- What the replies told; invariants (fuzz_dispatch_invariants.c) ------ */

void fzd_told_reset(void);
void fzd_check_all(fz_t *z);

/* ---- Requests and replies (fuzz_dispatch_replies.c) ---------------------- */

void fzd_parse_replies(fz_t *z, slot_t *s);
void fzd_take_replies(slot_t *s);

/* ---- Connections (fuzz_dispatch_conn.c) ---------------------------------- */

void fzd_slot_reset(slot_t *s);
void fzd_slot_open(fz_t *z, slot_t *s);
void fzd_slot_kill(fz_t *z, slot_t *s);
bool fzd_reading(const ad_conn_t *c);
void fzd_pump(fz_t *z, slot_t *s);

/* ---- Setup (fuzz_dispatch.c) --------------------------------------------- */

extern bool fzd_trace; /* FUZZ_DISPATCH_TRACE: print requests and replies */
/* Allocations that fail (fuzz_dispatch.c, "Memory that runs out"): whether
 * the daemon runs a connection, and whether an allocation has failed. */
extern bool fzd_in_daemon, fzd_nomem_fired;

#endif /* FUZZ_DISPATCH_INTERNAL_H */
