/*
 * engine.h: the policy engines, one interface for the five placement
 * policies of arenad (first, next, best and worst fit, and the binary buddy
 * system).
 *
 * An engine manages the free space of one arena of `size` bytes and decides
 * where each block goes, exactly as ../shared/design/placement-model.md
 * defines: the same requests give the same offsets, byte for byte, whatever
 * the engine uses inside. All the metadata that decides placement lives in
 * the engine's own (private) memory; the arena's memory, when the engine is
 * given it, only receives the 16-byte header of each allocated block. A
 * client may write any byte of the arena: the engine reads a header only to
 * report that it was overwritten, and never lets it steer anything.
 *
 * Engines do no I/O, print nothing and are not thread-safe: one engine is
 * used by one thread at a time (the daemon's event loop, or a replay).
 */
#ifndef AR_ENGINE_H
#define AR_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Constants of the placement model. */
#define AR_GRAIN 16          /* every block starts and ends on a grain */
#define AR_HDR 16            /* header bytes in front of every payload */
#define AR_ALIGN_MIN 16      /* default payload alignment */
#define AR_ALIGN_MAX 4096    /* largest payload alignment */
#define AR_ARENA_UNIT 4096   /* arena sizes are multiples of this */
#define AR_N_MAX INT64_MAX   /* largest request, in bytes */
#define AR_ARENA_MAX (UINT64_C(1) << 48) /* largest arena, in bytes */
#define AR_BUDDY_MIN_ORDER 5 /* smallest buddy block: 32 bytes */
#define AR_ORDER_MAX 48      /* orders 0..AR_ORDER_MAX exist in stats */

/* The block header, as the model lays it out at payload - AR_HDR. */
#define AR_HDR_MAGIC UINT32_C(0x4152454e) /* "AREN" read as big-endian */
typedef struct ar_header_s {
  uint64_t size;   /* the requested size n */
  uint32_t magic;  /* AR_HDR_MAGIC while the block is live */
  uint32_t policy; /* buddy: the block's order; list policies: 0 */
} ar_header_t;
_Static_assert(sizeof(ar_header_t) == AR_HDR, "header is 16 bytes");

/* XX(enum suffix, name) */
#define AR_POLICY_MAP(XX)                                                      \
  XX(FIRST, "first")                                                           \
  XX(NEXT, "next")                                                             \
  XX(BEST, "best")                                                             \
  XX(WORST, "worst")                                                           \
  XX(BUDDY, "buddy")

typedef enum {
#define AR__POLICY_ENUM(id, name) AR_POLICY_##id,
  AR_POLICY_MAP(AR__POLICY_ENUM)
#undef AR__POLICY_ENUM
      AR_POLICY_COUNT
} ar_policy_t;

/* The policy's name ("first", ...); "unknown" when out of range. Static. */
const char *ar_policy_name(ar_policy_t policy);

/* Parses a policy name. Returns 0, or AR_EINVAL for an unknown name. */
int ar_policy_parse(const char *name, ar_policy_t *out);

typedef struct ar_engine_s ar_engine_t;

/* Whether `align` is a payload alignment the engines take: a power of two
 * from AR_ALIGN_MIN to AR_ALIGN_MAX. */
static inline bool ar_align_valid(uint64_t align) {
  return align >= AR_ALIGN_MIN && align <= AR_ALIGN_MAX &&
         (align & (align - 1)) == 0;
}

/* One allocated block, as the engine sees it. */
typedef struct ar_block_s {
  uint64_t payload; /* the offset the client uses */
  uint64_t start;   /* where the block (its header first) starts */
  uint64_t size;    /* block bytes: b(n), or 2^k for buddy */
  uint64_t n;       /* the requested size */
} ar_block_t;

/*
 * Creates an engine for an arena of `size` bytes (a multiple of 4096, at
 * most AR_ARENA_MAX; a power of two for buddy). `base` is the arena's
 * memory, where the engine writes block headers, or NULL to run on offsets
 * alone (replay). The engine never frees or unmaps `base`, which must stay
 * valid until ar_engine_destroy.
 *
 * Returns 0 and stores a new engine in *out, owned by the caller and freed
 * with ar_engine_destroy; AR_EINVAL for a bad size or policy; AR_EINTERNAL
 * when the engine's own memory cannot be allocated.
 */
int ar_engine_create(ar_policy_t policy, uint64_t size, void *base,
                     ar_engine_t **out);

/* Frees the engine and its metadata. NULL is allowed. */
void ar_engine_destroy(ar_engine_t *e);

ar_policy_t ar_engine_policy(const ar_engine_t *e);
uint64_t ar_engine_size(const ar_engine_t *e);

/*
 * Allocates a block for `n` bytes whose payload is aligned to `align` (a
 * power of two from 16 to 4096). On success returns 0 and fills *out.
 * Returns AR_EINVAL for n == 0, n > AR_N_MAX or a bad alignment (nothing is
 * counted); AR_ENOMEM when no free space fits (counted as a failed
 * allocation; nothing else changes, the next-fit rover included);
 * AR_EINTERNAL when the engine's own memory runs out (nothing changes).
 */
int ar_engine_alloc(ar_engine_t *e, uint64_t n, uint64_t align,
                    ar_block_t *out);

/* The size of the block (ar_block_t.size) that ar_engine_alloc would give
 * for n bytes at payload alignment `align`, wherever it lands: b(n) for the
 * list policies, 2^k for buddy (UINT64_MAX past 2^63). 0 for arguments
 * ar_engine_alloc refuses with AR_EINVAL. Changes nothing. */
uint64_t ar_engine_block_size(const ar_engine_t *e, uint64_t n,
                              uint64_t align);

/*
 * Frees the block whose payload is at `payload`, as the engine's own
 * metadata describes it. Returns 0 and, when out is not NULL, fills it with
 * the block that was freed; AR_EINVAL when `payload` is not the payload of a
 * live block (double free, a foreign or misaligned offset), changing
 * nothing; AR_EINTERNAL when the engine's own memory runs out (nothing
 * changes).
 *
 * When the engine has the arena's memory and the block's header no longer
 * holds what the engine wrote there, the free still succeeds, and the
 * corruption is counted, with its offset, in the stats; *corrupt (when not
 * NULL) says whether that happened.
 */
int ar_engine_free(ar_engine_t *e, uint64_t payload, ar_block_t *out,
                   bool *corrupt);

/* Looks up the live block whose payload is at `payload`. Returns 0 and
 * fills *out, or AR_EINVAL when there is none. Changes nothing. */
int ar_engine_find(const ar_engine_t *e, uint64_t payload, ar_block_t *out);

/* Whether the header of the live block blk (as ar_engine_find gives it)
 * still holds what the engine wrote there; always true without the arena's
 * memory. Reads the header and nothing more: what a client wrote there is
 * only compared. */
bool ar_engine_header_intact(const ar_engine_t *e, const ar_block_t *blk);

/* Counters and gauges of one engine; a snapshot, owned by the caller. */
typedef struct ar_engine_stats_s {
  ar_policy_t policy;
  uint64_t size;           /* arena bytes */
  uint64_t used_bytes;     /* sum of live block sizes */
  uint64_t free_bytes;     /* size - used_bytes */
  uint64_t live_blocks;    /* allocated blocks */
  uint64_t live_requested; /* sum of live requested sizes n */
  uint64_t overhead_bytes; /* used_bytes - live_requested: headers, rounding */
  uint64_t free_extents;   /* free intervals, or free buddy blocks */
  uint64_t largest_free;   /* largest free interval or buddy block */
  double external_frag;    /* 1 - largest_free / free_bytes (0 if no free) */
  uint64_t allocs;         /* successful allocations */
  uint64_t frees;          /* successful frees */
  uint64_t failed_allocs;  /* allocations that found no room */
  uint64_t bad_frees;      /* frees refused: not the payload of a block */
  uint64_t corruptions;    /* overwritten headers found on free */
  uint64_t last_corrupt;   /* payload offset of the latest one */
  uint64_t hwm;            /* highest block end ever allocated */
  uint64_t peak_used;      /* largest used_bytes ever */
  uint64_t peak_requested; /* largest live_requested ever */
  /* The engine's own memory, outside the arena: its indexes and its record
   * of live blocks, as allocated (calloc'd pages count before they are
   * touched), now and at the most after any call. */
  uint64_t meta_bytes;
  uint64_t peak_meta_bytes;
  uint64_t rover;          /* next fit: the rover; 0 for other policies */
  unsigned max_order;      /* buddy: K with size = 2^K; 0 otherwise */
  /* buddy: free blocks of each order (like /proc/buddyinfo); zero else */
  uint64_t free_by_order[AR_ORDER_MAX + 1];
} ar_engine_stats_t;

void ar_engine_stats(const ar_engine_t *e, ar_engine_stats_t *out);

/* One piece of the arena in address order: a free interval (or free buddy
 * block), or an allocated block. */
typedef struct ar_extent_s {
  uint64_t start;
  uint64_t size;
  bool free;
  uint64_t payload; /* allocated blocks only */
  uint64_t n;       /* allocated blocks only */
} ar_extent_t;

/*
 * Walks the arena in address order, one page at a time. Fills out[0..max)
 * with the pieces that start at or after `cursor`, stores how many in
 * *count and, in *next, the cursor of the following page (the arena's size
 * when the walk is over). `free_only` walks the free list only; otherwise
 * every piece, allocated and free, is listed. A cursor taken from an
 * earlier page stays valid while the arena changes: the page then holds the
 * pieces that start at or after it, so no piece is listed twice, and a
 * piece that now starts before it (free space merged into a free extent
 * that began before the cursor, say) is not listed, even where it covers
 * what no earlier page showed. A cursor inside a block (the arena changed
 * since it was handed out) makes the walk look for that block's end,
 * which no index leads to: for a list policy, a search of bounded work
 * (a few milliseconds), past which the page comes back empty with *next
 * past the cursor, where the next call goes on. Returns 0; AR_EINVAL for
 * max == 0 or a
 * cursor beyond the arena; AR_EINTERNAL when the engine's own records do
 * not tile the arena (ar_engine_check says where).
 */
int ar_engine_walk(const ar_engine_t *e, bool free_only, uint64_t cursor,
                   ar_extent_t *out, size_t max, size_t *count,
                   uint64_t *next);

/* What a failed integrity check found. */
typedef struct ar_check_report_s {
  const char *invariant; /* a static name of the broken invariant */
  uint64_t offset;       /* where in the arena */
  char detail[160];      /* a sentence for a human, NUL-terminated */
} ar_check_report_t;

/* Fills *report (when not NULL) with the invariant's static name, the
 * offset and a sentence formatted as by printf, and returns AR_ECORRUPT,
 * for `return ar_check_fail(...)`: the engines' checks and the daemon's
 * check of its own records report the same way. */
int ar_check_fail(ar_check_report_t *report, const char *invariant,
                  uint64_t offset, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/*
 * Verifies every invariant of the engine: the free space is disjoint,
 * coalesced (no two free buddies) and exactly the arena minus the live
 * blocks, each of the size the model gives its request (a buddy block
 * aligned to it); every index agrees with the free set; the map of live
 * blocks finds each of them. Returns 0 when all hold; AR_ECORRUPT and a filled
 * *report (when not NULL) naming the first that does not. Costs time
 * linear in the number of blocks (the most ever live, for the map), and
 * for buddy also in the arena's size: its index, about S / 16 bits, is read
 * whole up to 8 MiB an order (arenas up to 2 GiB). In larger arenas an
 * order's index larger than that is read only where its summaries point,
 * about S / 2^16 words in all (8 MiB for a 64 GiB arena), which misses
 * a free bit set under a clear summary bit.
 */
int ar_engine_check(const ar_engine_t *e, ar_check_report_t *report);

#endif /* AR_ENGINE_H */
