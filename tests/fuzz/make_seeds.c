/*
 * make_seeds.c: writes the seed corpora of the fuzz targets: real Requests
 * packed with protobuf-c and framed as the daemon reads them, and scripts
 * of client calls with the daemon's replies. Run
 *
 *     build-fuzz/fuzz/make_seeds tests/fuzz/corpus
 *
 * to write DIR/frame/req-* (frame streams, for fuzz_frame),
 * DIR/dispatch/NAME (inputs in fuzz_dispatch.h's format: pseudo-connections
 * that say hello, allocate, free, inspect, disconnect ...) and
 * DIR/client/NAME (inputs in fuzz_client.h's format: library calls, each
 * after the reply the fake daemon writes for it). The files are
 * checked in; .ci/dev also runs this into its temporary copy of the corpus
 * so that the fuzzers start from seeds of the current schema.
 *
 * Offsets in the seeds are where the first blocks of an empty arena land
 * (a 16-byte header first, blocks rounded to 16 bytes or to a power of
 * two): 16, then 16 + the first block's size, and so on. The fuzzer
 * mutates them from there.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ar/frame.h"
#include "arenad.pb-c.h"
#include "fuzz_client.h"
#include "fuzz_dispatch.h"

#define BUF_MAX 65536

typedef struct out_s {
  uint8_t p[BUF_MAX];
  size_t n;
} out_t;

static uint64_t next_id = 1;

static void die(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "make_seeds: ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  exit(1);
}

static void put(out_t *o, const void *p, size_t n) {
  if (o->n + n > BUF_MAX)
    die("a seed over %d bytes", BUF_MAX);
  memcpy(o->p + o->n, p, n);
  o->n += n;
}

/* Appends q, framed, with the next id. */
static void frame(out_t *o, Arenad__Request *q) {
  q->id = next_id++;
  size_t n = arenad__request__get_packed_size(q);
  uint8_t prefix[AR_FRAME_PREFIX_MAX];
  put(o, prefix, ar_frame_encode(prefix, n));
  if (o->n + n > BUF_MAX)
    die("a seed over %d bytes", BUF_MAX);
  arenad__request__pack(q, o->p + o->n);
  o->n += n;
}

/* ---- Requests ------------------------------------------------------------ */

static void hello(out_t *o, uint32_t version) {
  Arenad__HelloRequest m = ARENAD__HELLO_REQUEST__INIT;
  Arenad__Request q = ARENAD__REQUEST__INIT;
  m.protocol_version = version;
  m.client_name = (char *)"seed";
  q.body_case = ARENAD__REQUEST__BODY_HELLO;
  q.hello = &m;
  frame(o, &q);
}

static void ping(out_t *o) {
  Arenad__PingRequest m = ARENAD__PING_REQUEST__INIT;
  Arenad__Request q = ARENAD__REQUEST__INIT;
  q.body_case = ARENAD__REQUEST__BODY_PING;
  q.ping = &m;
  frame(o, &q);
}

static void list(out_t *o) {
  Arenad__ListRequest m = ARENAD__LIST_REQUEST__INIT;
  Arenad__Request q = ARENAD__REQUEST__INIT;
  q.body_case = ARENAD__REQUEST__BODY_LIST;
  q.list = &m;
  frame(o, &q);
}

static void stats(out_t *o) {
  Arenad__StatsRequest m = ARENAD__STATS_REQUEST__INIT;
  Arenad__Request q = ARENAD__REQUEST__INIT;
  q.body_case = ARENAD__REQUEST__BODY_STATS;
  q.stats = &m;
  frame(o, &q);
}

static void attach(out_t *o, const char *arena, bool ro) {
  Arenad__AttachRequest m = ARENAD__ATTACH_REQUEST__INIT;
  Arenad__Request q = ARENAD__REQUEST__INIT;
  m.arena = (char *)arena;
  m.read_only = ro;
  q.body_case = ARENAD__REQUEST__BODY_ATTACH;
  q.attach = &m;
  frame(o, &q);
}

static void alloc(out_t *o, const char *arena, uint64_t size, uint64_t align,
                  uint32_t count, bool detached) {
  Arenad__AllocRequest m = ARENAD__ALLOC_REQUEST__INIT;
  Arenad__Request q = ARENAD__REQUEST__INIT;
  m.arena = (char *)arena;
  m.size = size;
  m.alignment = align;
  m.count = count;
  m.detached = detached;
  q.body_case = ARENAD__REQUEST__BODY_ALLOC;
  q.alloc = &m;
  frame(o, &q);
}

static void free_n(out_t *o, const char *arena, const uint64_t *offs,
                   size_t n) {
  Arenad__FreeRequest m = ARENAD__FREE_REQUEST__INIT;
  Arenad__Request q = ARENAD__REQUEST__INIT;
  m.arena = (char *)arena;
  m.offsets = (uint64_t *)offs;
  m.n_offsets = n;
  q.body_case = ARENAD__REQUEST__BODY_FREE;
  q.free = &m;
  frame(o, &q);
}

static void free1(out_t *o, const char *arena, uint64_t off) {
  free_n(o, arena, &off, 1);
}

static void inspect(out_t *o, const char *arena, Arenad__InspectWhat what,
                    uint64_t cursor, uint32_t limit) {
  Arenad__InspectRequest m = ARENAD__INSPECT_REQUEST__INIT;
  Arenad__Request q = ARENAD__REQUEST__INIT;
  m.arena = (char *)arena;
  m.what = what;
  m.cursor = cursor;
  m.limit = limit;
  q.body_case = ARENAD__REQUEST__BODY_INSPECT;
  q.inspect = &m;
  frame(o, &q);
}

static void check(out_t *o, const char *arena) {
  Arenad__CheckRequest m = ARENAD__CHECK_REQUEST__INIT;
  Arenad__Request q = ARENAD__REQUEST__INIT;
  m.arena = (char *)arena;
  q.body_case = ARENAD__REQUEST__BODY_CHECK;
  q.check = &m;
  frame(o, &q);
}

static void retain(out_t *o, const char *arena, uint64_t off) {
  Arenad__RetainRequest m = ARENAD__RETAIN_REQUEST__INIT;
  Arenad__Request q = ARENAD__REQUEST__INIT;
  m.arena = (char *)arena;
  m.offset = off;
  q.body_case = ARENAD__REQUEST__BODY_RETAIN;
  q.retain = &m;
  frame(o, &q);
}

static void release(out_t *o, const char *arena, uint64_t off) {
  Arenad__ReleaseRequest m = ARENAD__RELEASE_REQUEST__INIT;
  Arenad__Request q = ARENAD__REQUEST__INIT;
  m.arena = (char *)arena;
  m.offset = off;
  q.body_case = ARENAD__REQUEST__BODY_RELEASE;
  q.release = &m;
  frame(o, &q);
}

/* fuzz_dispatch gives connection N the token N (see its getrandom). */
static void transfer(out_t *o, const char *arena, uint64_t off,
                     uint64_t token) {
  Arenad__TransferRequest m = ARENAD__TRANSFER_REQUEST__INIT;
  Arenad__Request q = ARENAD__REQUEST__INIT;
  m.arena = (char *)arena;
  m.offset = off;
  m.target_token = token;
  q.body_case = ARENAD__REQUEST__BODY_TRANSFER;
  q.transfer = &m;
  frame(o, &q);
}

static void create_arena(out_t *o, const char *name, uint64_t size,
                         Arenad__Policy policy) {
  Arenad__CreateArenaRequest m = ARENAD__CREATE_ARENA_REQUEST__INIT;
  Arenad__Request q = ARENAD__REQUEST__INIT;
  m.name = (char *)name;
  m.size = size;
  m.policy = policy;
  q.body_case = ARENAD__REQUEST__BODY_CREATE_ARENA;
  q.create_arena = &m;
  frame(o, &q);
}

static void destroy_arena(out_t *o, const char *name, bool force) {
  Arenad__DestroyArenaRequest m = ARENAD__DESTROY_ARENA_REQUEST__INIT;
  Arenad__Request q = ARENAD__REQUEST__INIT;
  m.name = (char *)name;
  m.force = force;
  q.body_case = ARENAD__REQUEST__BODY_DESTROY_ARENA;
  q.destroy_arena = &m;
  frame(o, &q);
}

static void empty_request(out_t *o) {
  Arenad__Request q = ARENAD__REQUEST__INIT;
  frame(o, &q);
}

/* ---- fuzz_dispatch operations -------------------------------------------- */

/* A DATA operation: connection `slot` writes the bytes of `f`. */
static void data(out_t *o, unsigned slot, const out_t *f) {
  size_t at = 0;
  do {
    size_t n = f->n - at < 0xffff ? f->n - at : 0xffff;
    uint8_t op = (uint8_t)(FZ_OP_DATA | slot);
    if (n < 256) {
      uint8_t h[2] = {op, (uint8_t)n};
      put(o, h, 2);
    } else {
      uint8_t h[3] = {(uint8_t)(op | FZ_DATA_LONG), (uint8_t)n,
                      (uint8_t)(n >> 8)};
      put(o, h, 3);
    }
    put(o, f->p + at, n);
    at += n;
  } while (at < f->n);
}

static void op(out_t *o, uint8_t code) { put(o, &code, 1); }

static void scribble(out_t *o, unsigned arena, uint16_t off, const void *p,
                     uint8_t n) {
  uint8_t h[4] = {(uint8_t)(FZ_OP_SCRIBBLE | arena), (uint8_t)off,
                  (uint8_t)(off >> 8), n};
  put(o, h, 4);
  put(o, p, n);
}

static uint8_t setup(unsigned slots, unsigned policy, bool uids) {
  return (uint8_t)((slots - 1) | (policy << 2) | (uids ? FZ_SETUP_UIDS : 0));
}

/* ---- Files --------------------------------------------------------------- */

static const char *dir;

static void write_file(const char *sub, const char *name, const out_t *o) {
  char path[4096];
  snprintf(path, sizeof(path), "%s/%s", dir, sub);
  if (mkdir(path, 0755) < 0 && errno != EEXIST)
    die("mkdir %s: %s", path, strerror(errno));
  snprintf(path, sizeof(path), "%s/%s/%s", dir, sub, name);
  FILE *f = fopen(path, "wb");
  if (f == NULL || fwrite(o->p, 1, o->n, f) != o->n || fclose(f) != 0)
    die("write %s: %s", path, strerror(errno));
}

static out_t a, b, c; /* scratch for the seeds below */

static void reset(out_t *o) {
  o->n = 0;
  next_id = 1;
}

/* A frame stream for fuzz_frame, and the same as one connection's bytes
 * for fuzz_dispatch. */
static void both(const char *name, const out_t *f) {
  char n[128];
  snprintf(n, sizeof(n), "req-%s", name);
  write_file("frame", n, f);
  out_t *d = &c;
  d->n = 0;
  uint8_t s = setup(1, 0, false);
  put(d, &s, 1);
  data(d, 0, f);
  write_file("dispatch", name, d);
}

static void seeds_single(void) {
  reset(&a);
  hello(&a, 1);
  ping(&a);
  list(&a);
  stats(&a);
  both("hello-ping-list-stats", &a);

  reset(&a);
  hello(&a, 1);
  attach(&a, "a", false);
  attach(&a, "b", false);
  attach(&a, "c", true);
  attach(&a, "nope", false);
  both("attach", &a);

  reset(&a);
  alloc(&a, "a", 100, 0, 0, false);
  alloc(&a, "b", 100, 0, 0, false);
  alloc(&a, "c", 5000, 4096, 0, false);
  free1(&a, "a", 16);
  free1(&a, "b", 16);
  free1(&a, "c", 4096);
  check(&a, "a");
  both("alloc-free-single", &a);

  reset(&a);
  alloc(&a, "a", 64, 64, 4, false);
  alloc(&a, "b", 1000, 0, 3, false);
  uint64_t fa[] = {64, 192, 320, 448, 64, 17, 99999};
  free_n(&a, "a", fa, sizeof(fa) / sizeof(fa[0]));
  uint64_t fb[] = {16, 1040, 2064};
  free_n(&a, "b", fb, 3);
  check(&a, "b");
  both("alloc-free-count", &a);

  reset(&a);
  alloc(&a, "a", 1, 0, 16, false);
  alloc(&a, "a", 1, 0, 17, false);   /* over max_blocks_per_request */
  alloc(&a, "a", 0, 0, 0, false);    /* size 0 */
  alloc(&a, "a", 100, 24, 0, false); /* not a power of two */
  alloc(&a, "a", 100, 8192, 0, false);
  alloc(&a, "a", 1u << 20, 0, 0, false); /* no room */
  alloc(&a, "zz", 100, 0, 0, false);
  uint64_t many[17] = {0};
  free_n(&a, "a", many, 17);
  free_n(&a, "a", NULL, 0);
  free1(&a, "zz", 16);
  both("alloc-errors", &a);

  reset(&a);
  alloc(&a, "a", 200, 0, 3, true);
  alloc(&a, "b", 200, 0, 2, true);
  inspect(&a, "a", ARENAD__INSPECT_WHAT__INSPECT_DETACHED, 0, 0);
  free1(&a, "a", 16);
  both("detached", &a);

  reset(&a);
  alloc(&a, "a", 100, 0, 6, false);
  free1(&a, "a", 144);
  free1(&a, "a", 400);
  for (int w = 0; w <= 4; w++) {
    inspect(&a, "a", (Arenad__InspectWhat)w, 0, 2);
    inspect(&a, "a", (Arenad__InspectWhat)w, 272, 0);
  }
  inspect(&a, "a", ARENAD__INSPECT_WHAT__INSPECT_BLOCKS, 65536, 0);
  inspect(&a, "a", ARENAD__INSPECT_WHAT__INSPECT_BLOCKS, 65537, 0);
  inspect(&a, "b", ARENAD__INSPECT_WHAT__INSPECT_FREE_LIST, 0, 1000);
  inspect(&a, "c", ARENAD__INSPECT_WHAT__INSPECT_SUMMARY, 0, 0);
  both("inspect", &a);

  reset(&a);
  hello(&a, 1);
  alloc(&a, "a", 100, 0, 0, false);
  retain(&a, "a", 16);
  release(&a, "a", 16);
  transfer(&a, "a", 16, 2);
  create_arena(&a, "d", 8192, ARENAD__POLICY__POLICY_BEST);
  alloc(&a, "d", 100, 0, 0, false);
  destroy_arena(&a, "d", false);
  destroy_arena(&a, "d", true);
  empty_request(&a);
  both("sharing-admin", &a);

  reset(&a);
  hello(&a, 2);
  ping(&a);
  both("hello-version", &a);
}

static void seeds_protocol(void) {
  /* A good frame, then bytes that are not a Request. */
  reset(&a);
  ping(&a);
  uint8_t bad[] = {0x05, 0xff, 0xff, 0xff, 0xff, 0xff};
  put(&a, bad, sizeof(bad));
  ping(&a);
  both("unparsable", &a);

  /* A prefix over the limit (4 KiB in fuzz_dispatch). */
  reset(&a);
  ping(&a);
  uint8_t big[] = {0x81, 0x40};
  put(&a, big, sizeof(big));
  both("over-limit", &a);

  /* A frame split across reads, and a non-minimal prefix. */
  reset(&a);
  reset(&b);
  alloc(&a, "a", 300, 0, 2, false);
  reset(&c);
  uint8_t s = setup(1, 1, false);
  put(&c, &s, 1);
  out_t half = a;
  half.n = a.n / 2;
  data(&c, 0, &half);
  memmove(half.p, a.p + a.n / 2, a.n - a.n / 2);
  half.n = a.n - a.n / 2;
  data(&c, 0, &half);
  reset(&b);
  uint8_t nonmin[] = {0x80, 0x00};
  put(&b, nonmin, sizeof(nonmin));
  data(&c, 0, &b);
  write_file("dispatch", "split-frame", &c);
}

/* Several connections. */
static void seeds_multi(void) {
  reset(&c);
  uint8_t s = setup(3, 2, false);
  put(&c, &s, 1);
  reset(&a);
  hello(&a, 1);
  alloc(&a, "a", 100, 0, 3, false);
  alloc(&a, "b", 100, 0, 1, false);
  data(&c, 0, &a);
  reset(&b);
  hello(&b, 1);
  free1(&b, "a", 16); /* another connection's: refused */
  alloc(&b, "a", 50, 0, 0, false);
  retain(&b, "a", 144);
  data(&c, 1, &b);
  op(&c, FZ_OP_RESET | 0); /* its blocks are reclaimed */
  reset(&a);
  inspect(&a, "a", ARENAD__INSPECT_WHAT__INSPECT_BLOCKS, 0, 0);
  stats(&a);
  check(&a, "a");
  data(&c, 2, &a);
  write_file("dispatch", "multi-reclaim", &c);
  c.p[0] |= FZ_SETUP_SHORT_TURNS; /* the same, one frame a turn */
  write_file("dispatch", "multi-reclaim-short-turns", &c);

  /* A stalled reader pipelining past max_in_flight, then a shutdown. */
  reset(&c);
  s = setup(2, 3, true);
  put(&c, &s, 1);
  op(&c, FZ_OP_STALL | 0);
  reset(&a);
  for (int i = 0; i < 12; i++)
    alloc(&a, "a", 64, 0, 0, i % 3 == 0);
  ping(&a);
  data(&c, 0, &a);
  reset(&b);
  alloc(&b, "b", 2000, 0, 0, false);
  inspect(&b, "b", ARENAD__INSPECT_WHAT__INSPECT_BLOCKS, 0, 0);
  data(&c, 1, &b);
  op(&c, FZ_OP_SHUTDOWN | 0);
  op(&c, FZ_OP_STALL | 0);
  op(&c, FZ_OP_SHUTDOWN | 1);
  write_file("dispatch", "stall-shutdown", &c);
  c.p[0] |= FZ_SETUP_SHORT_TURNS;
  write_file("dispatch", "stall-shutdown-short-turns", &c);

  /* A client scribbles over block headers, then frees the blocks; then
   * over the header of a new block, which it releases. */
  reset(&c);
  s = setup(2, 0, false);
  put(&c, &s, 1);
  reset(&a);
  alloc(&a, "a", 100, 0, 2, false);
  alloc(&a, "b", 100, 0, 2, false);
  data(&c, 0, &a);
  static const uint8_t junk[16] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                   0xff, 0x7f, 0x4e, 0x45, 0x52, 0x41,
                                   0x30, 0,    0,    0};
  scribble(&c, 0, 0, junk, 16);
  scribble(&c, 1, 128, junk, 16);
  reset(&a);
  uint64_t two[] = {16, 144};
  free_n(&a, "a", two, 2);
  free_n(&a, "b", two, 2);
  check(&a, "a");
  check(&a, "b");
  data(&c, 0, &a);
  reset(&a);
  alloc(&a, "a", 100, 0, 1, false); /* at 16 again */
  data(&c, 0, &a);
  scribble(&c, 0, 0, junk, 16);
  reset(&a);
  release(&a, "a", 16);
  data(&c, 0, &a);
  reset(&b);
  alloc(&b, "c", 10, 0, 0, false);
  data(&c, 1, &b);
  op(&c, FZ_OP_RESET | 1);
  write_file("dispatch", "scribble", &c);

  /* Four connections, detached blocks freed by another one. */
  reset(&c);
  s = setup(4, 1, false);
  put(&c, &s, 1);
  for (unsigned k = 0; k < 4; k++) {
    reset(&a);
    next_id = 100 * (k + 1);
    alloc(&a, k % 2 ? "b" : "a", 256, 0, 2, k == 1);
    inspect(&a, "a", ARENAD__INSPECT_WHAT__INSPECT_DETACHED, 0, 0);
    data(&c, k, &a);
  }
  reset(&a);
  uint64_t det[] = {16, 528}; /* 256 bytes + a header: 512-byte blocks */
  free_n(&a, "b", det, 2);
  data(&c, 3, &a);
  op(&c, FZ_OP_RESET | 2);
  op(&c, FZ_OP_RESET | 0);
  write_file("dispatch", "four-detached", &c);
}

/* Sharing, access and arenas made at run time, across connections. */
static void seeds_sharing(void) {
  /* Connection 1 allocates; 2 retains, 1 frees (the block lives on), 1
   * transfers another block to 2 (token 2), 2 releases both. */
  reset(&c);
  uint8_t s = setup(2, 0, false);
  put(&c, &s, 1);
  reset(&a);
  hello(&a, 1);
  alloc(&a, "a", 100, 0, 2, false);
  data(&c, 0, &a);
  reset(&b);
  hello(&b, 1);
  retain(&b, "a", 16);
  retain(&b, "a", 16);
  inspect(&b, "a", ARENAD__INSPECT_WHAT__INSPECT_BLOCKS, 0, 0);
  data(&c, 1, &b);
  reset(&a);
  free1(&a, "a", 16);
  transfer(&a, "a", 144, 2);
  transfer(&a, "a", 144, 1); /* its own token */
  transfer(&a, "a", 144, 9); /* nobody's */
  release(&a, "a", 144);     /* not its reference any more */
  data(&c, 0, &a);
  reset(&b);
  release(&b, "a", 16);
  release(&b, "a", 16);
  release(&b, "a", 144);
  release(&b, "a", 144);
  check(&b, "a");
  data(&c, 1, &b);
  write_file("dispatch", "retain-release-transfer", &c);

  /* Another uid: no access to a, read access to b, read and write to c
   * (whose quota is 6 blocks, 8 KiB); no administration. */
  reset(&c);
  s = setup(2, 2, true);
  put(&c, &s, 1);
  reset(&a);
  alloc(&a, "b", 64, 0, 1, false);
  alloc(&a, "a", 64, 0, 1, true);
  data(&c, 0, &a);
  reset(&b);
  hello(&b, 1);
  alloc(&b, "a", 64, 0, 0, false);
  alloc(&b, "b", 64, 0, 0, false);
  attach(&b, "b", false);
  attach(&b, "b", true);
  retain(&b, "b", 16);
  inspect(&b, "a", ARENAD__INSPECT_WHAT__INSPECT_SUMMARY, 0, 0);
  free1(&b, "a", 16);
  alloc(&b, "c", 1000, 0, 4, false);
  alloc(&b, "c", 1000, 0, 4, false); /* over the quota */
  alloc(&b, "c", 100, 0, 3, true);
  create_arena(&b, "e", 4096, ARENAD__POLICY__POLICY_FIRST);
  destroy_arena(&b, "c", true);
  data(&c, 1, &b);
  reset(&a);
  transfer(&a, "b", 16, 2);
  release(&a, "b", 16);
  data(&c, 0, &a);
  write_file("dispatch", "access-quota", &c);

  /* An arena made, used by two connections, destroyed under them, made
   * again: their requests on the name get not found until they attach,
   * a destroy of it too. */
  reset(&c);
  s = setup(2, 1, false);
  put(&c, &s, 1);
  reset(&a);
  create_arena(&a, "d", 8192, ARENAD__POLICY__POLICY_WORST);
  create_arena(&a, "d", 8192, ARENAD__POLICY__POLICY_WORST); /* taken */
  create_arena(&a, "-x", 8192, ARENAD__POLICY__POLICY_FIRST);
  create_arena(&a, "y", 12288, ARENAD__POLICY__POLICY_BUDDY);
  create_arena(&a, "z", 1u << 30, ARENAD__POLICY__POLICY_NEXT);
  attach(&a, "d", false);
  data(&c, 0, &a);
  reset(&b);
  alloc(&b, "d", 300, 0, 2, false);
  alloc(&b, "d", 300, 0, 1, true);
  data(&c, 1, &b);
  reset(&a);
  destroy_arena(&a, "d", false);
  destroy_arena(&a, "d", true);
  create_arena(&a, "d", 4096, ARENAD__POLICY__POLICY_BEST);
  alloc(&a, "d", 10, 0, 0, false);
  attach(&a, "d", true);
  alloc(&a, "d", 10, 0, 0, false);
  list(&a);
  stats(&a);
  data(&c, 0, &a);
  reset(&b);
  free1(&b, "d", 16);
  inspect(&b, "d", ARENAD__INSPECT_WHAT__INSPECT_BLOCKS, 0, 0);
  destroy_arena(&b, "d", true);
  attach(&b, "d", false);
  free1(&b, "d", 16);
  data(&c, 1, &b);
  write_file("dispatch", "create-destroy-stale", &c);

  /* max_shared_holds (2 in fuzz_dispatch): connection 1 allocates two
   * blocks, 2 and 3 retain the first (2 shared holds), 4's retains are
   * refused, and so is 1's transfer of one of its two references to 4;
   * the transfer of 1's last reference to the second block goes through
   * (a hold moves); 2's release makes room for 4. */
  reset(&c);
  s = setup(4, 0, false);
  put(&c, &s, 1);
  reset(&a);
  hello(&a, 1);
  alloc(&a, "a", 100, 0, 2, false);
  data(&c, 0, &a);
  for (unsigned k = 1; k <= 2; k++) {
    reset(&b);
    hello(&b, 1);
    retain(&b, "a", 16);
    data(&c, k, &b);
  }
  reset(&b);
  hello(&b, 1);
  retain(&b, "a", 16);
  retain(&b, "a", 144);
  data(&c, 3, &b);
  reset(&a);
  retain(&a, "a", 16);
  transfer(&a, "a", 16, 4);
  transfer(&a, "a", 144, 4);
  stats(&a);
  data(&c, 0, &a);
  reset(&b);
  release(&b, "a", 16);
  data(&c, 1, &b);
  reset(&b);
  retain(&b, "a", 16);
  check(&b, "a");
  data(&c, 3, &b);
  write_file("dispatch", "shared-holds-limit", &c);
}

/* Memory that runs out under a request: allocations of several blocks
 * (rolled back), a retain and a transfer, an arena made and destroyed, and
 * a connection closing with blocks held. */
static void seeds_nomem(void) {
  for (uint8_t k = 0; k < 4; k++) {
    char name[64];
    reset(&c);
    uint8_t s = setup(2, k, false);
    put(&c, &s, 1);
    reset(&a);
    hello(&a, 1);
    alloc(&a, "a", 100, 0, 3, false);
    data(&c, 0, &a);
    uint8_t nomem[2] = {FZ_OP_NOMEM, (uint8_t)(k * 2)};
    put(&c, nomem, 2);
    reset(&a);
    alloc(&a, "b", 3000, 0, 12, false);
    alloc(&a, "a", 100, 0, 8, true);
    retain(&a, "a", 16);
    transfer(&a, "a", 144, 2);
    create_arena(&a, "n", 8192, ARENAD__POLICY__POLICY_FIRST);
    attach(&a, "n", false);
    alloc(&a, "n", 100, 0, 2, false);
    destroy_arena(&a, "n", true);
    data(&c, 0, &a);
    reset(&b);
    hello(&b, 1);
    alloc(&b, "c", 200, 0, 4, false);
    data(&c, 1, &b);
    put(&c, nomem, 2);
    op(&c, FZ_OP_RESET | 1);
    snprintf(name, sizeof(name), "nomem-%u", k);
    write_file("dispatch", name, &c);
  }
}

/* Memory that runs out under the first request of a daemon, an alloc of
 * detached blocks: the engine, the records and the output buffer all need
 * memory then, so one k or another fails each (the alloc's reply among
 * them, which must not leave blocks that no reply told of). */
static void seeds_nomem_first(void) {
  for (uint8_t k = 0; k < 4; k++) {
    char name[64];
    reset(&c);
    uint8_t s = setup(1, k % 4, false);
    put(&c, &s, 1);
    uint8_t nomem[2] = {FZ_OP_NOMEM, k};
    put(&c, nomem, 2);
    reset(&a);
    alloc(&a, "a", 100, 0, 2, true);
    data(&c, 0, &a);
    snprintf(name, sizeof(name), "nomem-first-%u", k);
    write_file("dispatch", name, &c);
  }
}

/* ---- fuzz_client scripts ------------------------------------------------- */

/* A step: the call and its three argument bytes (see fuzz_client.c's
 * decode_call), then a reply of mode `reply` (fuzz_client.h), 1 + `more`
 * times with the bytes p[0..n): the raw reply, or the fields of a built
 * one in the order fuzz_client.c reads them (fewer read as 0, the
 * harness's defaults). */
static void step_more(out_t *o, uint8_t call, uint8_t a0, uint8_t a1,
                      uint8_t a2, uint8_t reply, unsigned more, const void *p,
                      size_t n) {
  uint8_t h[5] = {call, a0, a1, a2,
                  (uint8_t)(reply | FC_REPLY_MORE(more))};
  put(o, h, 5);
  if ((reply & 7) == FC_REPLY_NONE || (reply & 7) == FC_REPLY_EOF)
    return;
  uint8_t len = (uint8_t)n;
  if (n > 255)
    die("a client reply of %zu bytes", n);
  for (unsigned i = 0; i <= more; i++) {
    put(o, &len, 1);
    if (n > 0)
      put(o, p, n);
  }
}

static void step(out_t *o, uint8_t call, uint8_t a0, uint8_t a1, uint8_t a2,
                 uint8_t reply, const void *p, size_t n) {
  step_more(o, call, a0, a1, a2, reply, 0, p, n);
}

/* A step with a well-formed reply of the harness's defaults. */
static void ok(out_t *o, uint8_t call, uint8_t a0, uint8_t a1, uint8_t a2) {
  step(o, call, a0, a1, a2, FC_REPLY_OK, NULL, 0);
}

/* A step whose reply is r, packed and framed here, written raw. */
static void raw_reply(out_t *o, uint8_t call, uint8_t a0, uint8_t a1,
                      uint8_t a2, const Arenad__Response *r) {
  uint8_t buf[256];
  size_t n = arenad__response__get_packed_size(r);
  if (n + AR_FRAME_PREFIX_MAX > sizeof(buf))
    die("a client reply of %zu bytes", n);
  size_t p = ar_frame_encode(buf, n);
  arenad__response__pack(r, buf + p);
  step(o, call, a0, a1, a2, FC_REPLY_RAW, buf, p + n);
}

/* a0 of a call on arena `name` ("a", "b", "c": 0 to 2) with k in its
 * other bits (a count, an inspection). */
static uint8_t on(unsigned name, unsigned k) {
  return (uint8_t)(name | k << 2);
}

static void seeds_client(void) {
  uint8_t setup0 = 0;

  /* Every call once, each answered as a daemon would. */
  reset(&a);
  put(&a, &setup0, 1);
  ok(&a, FC_HELLO, 0, 0, 0);
  ok(&a, FC_PING, 0, 0, 0);
  step(&a, FC_LIST, 0, 0, 0, FC_REPLY_OK, (uint8_t[]){2}, 1);
  ok(&a, FC_ATTACH, on(0, 0), 0, 0); /* one memfd of 4 KiB */
  /* 64 bytes at 64; three blocks of 64 at 16, 32, 48 (one offset byte
   * each, after the count's) */
  step(&a, FC_ALLOC, on(0, 0), 8, 0, FC_REPLY_OK, (uint8_t[]){0, 4}, 2);
  step(&a, FC_ALLOC_N, on(0, 2), 8, 0, FC_REPLY_OK, (uint8_t[]){0, 1, 2, 3},
       4);
  /* three freed, the second's header overwritten */
  step(&a, FC_FREE_REPORT, on(0, 2), 0, 0, FC_REPLY_OK,
       (uint8_t[]){3, 3, 0, 1, 1}, 5);
  ok(&a, FC_FREE, on(0, 0), 0, 0);
  ok(&a, FC_FREE_N, on(1, 1), 0x81, 0);
  ok(&a, FC_FREE_EACH, on(1, 1), 0, 0);
  ok(&a, FC_RETAIN, on(0, 0), 1, 0);
  ok(&a, FC_RELEASE, on(0, 0), 1, 0);
  ok(&a, FC_TRANSFER, on(0, 0), 1, 7);
  ok(&a, FC_INSPECT, on(0, ARENAD__INSPECT_WHAT__INSPECT_BLOCKS), 0, 0);
  ok(&a, FC_CHECK, on(0, 0), 0, 0);
  ok(&a, FC_STATS, 0, 0, 0);
  ok(&a, FC_CREATE, on(2, 0), 0x12, 0);
  ok(&a, FC_DESTROY, on(2, 0), 1, 0);
  step(&a, FC_DETACH, on(0, 0), 0, 0, FC_REPLY_NONE, NULL, 0);
  write_file("client", "calls", &a);

  /* A pipeline within hello's window of 4: allocations, frees and pings
   * submitted, one past the window, replies collected in order. */
  reset(&a);
  put(&a, &setup0, 1);
  /* version 1, limits: 4 KiB frames, 16 blocks, 4 in flight */
  step(&a, FC_HELLO, 0, 0, 0, FC_REPLY_OK, (uint8_t[]){0, 0, 0, 3, 16, 4},
       6);
  ok(&a, FC_ATTACH, on(1, 0), 0, 0);
  step(&a, FC_SUBMIT_ALLOC, on(1, 2), 16, 1, FC_REPLY_NONE, NULL, 0);
  step(&a, FC_SUBMIT_PING, 0, 0, 2, FC_REPLY_NONE, NULL, 0);
  step(&a, FC_SUBMIT_FREE, on(1, 1), 0x81, 3, FC_REPLY_NONE, NULL, 0);
  step(&a, FC_SUBMIT_ALLOC, on(1, 0), 16, 4, FC_REPLY_NONE, NULL, 0);
  step(&a, FC_SUBMIT_PING, 0, 0, 5, FC_REPLY_NONE, NULL, 0);
  step_more(&a, FC_COLLECT, 0, 0, 0, FC_REPLY_OK, 3, NULL, 0);
  for (int i = 0; i < 3; i++)
    step(&a, FC_COLLECT, 0, 0, 0, FC_REPLY_NONE, NULL, 0);
  step(&a, FC_COLLECT, 0, 0, 0, FC_REPLY_NONE, NULL, 0); /* none left */
  step(&a, FC_SUBMIT_FREE, on(1, 2), 0, 6, FC_REPLY_NONE, NULL, 0);
  step(&a, FC_FLUSH, 0, 0, 0, FC_REPLY_NONE, NULL, 0);
  /* freed beside a failure, the first named overwritten */
  step(&a, FC_COLLECT, 0, 0, 0, FC_REPLY_OK,
       (uint8_t[]){2, 2, 1, 0, 1, 4, 1, 1, 0}, 9);
  write_file("client", "pipeline", &a);

  /* Errors from the daemon: a refused free with a status per offset, a
   * failed check, an unknown status, then hello's version mismatch. */
  reset(&a);
  put(&a, &setup0, 1);
  step(&a, FC_FREE_N, on(0, 2), 0, 0, FC_REPLY_STATUS,
       (uint8_t[]){0x81, 5, 1, 0, 1, 0, 4, 5, 5}, 9);
  step(&a, FC_CHECK, on(0, 0), 0, 0, FC_REPLY_OK, (uint8_t[]){1, 9, 0, 40},
       4);
  step(&a, FC_PING, 0, 0, 0, FC_REPLY_STATUS, (uint8_t[]){8}, 1);
  step(&a, FC_ALLOC, on(1, 0), 8, 0, FC_REPLY_STATUS, (uint8_t[]){2, 3}, 2);
  step(&a, FC_HELLO, 0, 0, 0, FC_REPLY_STATUS, (uint8_t[]){6, 10}, 2);
  ok(&a, FC_PING, 0, 0, 0);
  write_file("client", "status", &a);

  /* Replies that break the handle, one seed each: a wrong id, another
   * kind's body, no body; then calls on the broken handle. */
  static const char *const twists[] = {"twisted-id", "twisted-kind",
                                       "twisted-no-body"};
  static const uint8_t twist[] = {0, 3, 4};
  for (int i = 0; i < 3; i++) {
    reset(&a);
    put(&a, &setup0, 1);
    ok(&a, FC_PING, 0, 0, 0);
    step(&a, FC_LIST, 0, 0, 0, FC_REPLY_TWISTED, &twist[i], 1);
    ok(&a, FC_PING, 0, 0, 0);
    step(&a, FC_SUBMIT_PING, 0, 0, 0, FC_REPLY_NONE, NULL, 0);
    step(&a, FC_COLLECT, 0, 0, 0, FC_REPLY_NONE, NULL, 0);
    write_file("client", twists[i], &a);
  }

  /* The daemon's last word, then it closes both ways: the next send
   * fails, and the library finds the reason in what it has. */
  reset(&a);
  put(&a, &setup0, 1);
  ok(&a, FC_PING, 0, 0, 0);
  step(&a, FC_PING, 0, 0, 0, FC_REPLY_NONE, NULL, 0);
  /* (the ping waited for nothing: the stream ended there) */
  write_file("client", "eof", &a);
  reset(&a);
  put(&a, &setup0, 1);
  ok(&a, FC_PING, 0, 0, 0);
  step(&a, FC_SUBMIT_PING, 0, 0, 1, FC_REPLY_LAST_WORD, (uint8_t[]){5, 20},
       2);
  step(&a, FC_FLUSH, 0, 0, 0, FC_REPLY_EOF | FC_REPLY_FDS, NULL, 0);
  step(&a, FC_COLLECT, 0, 0, 0, FC_REPLY_NONE, NULL, 0);
  write_file("client", "last-word", &a);

  /* Replies packed here and written raw, on a non-blocking socket: hello
   * with a 4 KiB frame limit, an alloc of two blocks, then a frame over
   * that limit. */
  reset(&a);
  uint8_t nonblock = FC_SETUP_NONBLOCK;
  put(&a, &nonblock, 1);
  Arenad__Limits lim = ARENAD__LIMITS__INIT;
  lim.max_frame_bytes = 4096;
  lim.max_blocks_per_request = 16;
  lim.max_in_flight = 8;
  Arenad__HelloReply hb = ARENAD__HELLO_REPLY__INIT;
  hb.daemon_version = (char *)"0.5.0";
  hb.protocol_version = 1;
  hb.limits = &lim;
  hb.token = 0x1234;
  hb.connection_id = 3;
  hb.instance = 99;
  Arenad__Response r = ARENAD__RESPONSE__INIT;
  r.id = 1;
  r.body_case = ARENAD__RESPONSE__BODY_HELLO;
  r.hello = &hb;
  raw_reply(&a, FC_HELLO, 0, 0, 0, &r);
  uint64_t offs[2] = {16, 4112};
  Arenad__AllocReply ab = ARENAD__ALLOC_REPLY__INIT;
  ab.offsets = offs;
  ab.n_offsets = 2;
  r = (Arenad__Response)ARENAD__RESPONSE__INIT;
  r.id = 2;
  r.body_case = ARENAD__RESPONSE__BODY_ALLOC;
  r.alloc = &ab;
  raw_reply(&a, FC_ALLOC_N, on(0, 1), 8, 0, &r);
  uint8_t big[] = {0x81, 0x40}; /* 8193 bytes */
  step(&a, FC_PING, 0, 0, 0, FC_REPLY_RAW, big, sizeof(big));
  write_file("client", "raw", &a);

  /* Garbage in a frame, and descriptors with a ping's reply. */
  reset(&a);
  put(&a, &setup0, 1);
  uint8_t junk[] = {0x08, 0x01, 0xff, 0xff, 0xff};
  step(&a, FC_PING, 0, 0, 0, FC_REPLY_FRAMED, junk, sizeof(junk));
  write_file("client", "garbage", &a);
  reset(&a);
  put(&a, &setup0, 1);
  step(&a, FC_PING, 0, 0, 0, FC_REPLY_OK | FC_REPLY_FDS, (uint8_t[]){0}, 1);
  write_file("client", "fd-with-ping", &a);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: make_seeds DIR\n");
    return 2;
  }
  dir = argv[1];
  if (mkdir(dir, 0755) < 0 && errno != EEXIST)
    die("mkdir %s: %s", dir, strerror(errno));
  seeds_single();
  seeds_protocol();
  seeds_multi();
  seeds_sharing();
  seeds_nomem();
  seeds_nomem_first();
  seeds_client();
  return 0;
}
