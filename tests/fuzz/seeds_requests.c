/*
 * seeds_requests.c: the bricks of make_seeds' frame and dispatch seeds:
 * one function per kind of Request, each filling it in and appending it
 * framed (frame, seeds_common.c), and the operations of fuzz_dispatch's
 * input format (fuzz_dispatch.h) that carry those bytes on a
 * pseudo-connection, cut a connection, stall it or scribble on an arena.
 * Their comments are in make_seeds.h.
 */
#include "fuzz_dispatch.h"
#include "make_seeds.h"

/* ---- Requests ------------------------------------------------------------ */

void hello(out_t *o, uint32_t version) {
  Arenad__HelloRequest m = ARENAD__HELLO_REQUEST__INIT;
  Arenad__Request q = ARENAD__REQUEST__INIT;
  m.protocol_version = version;
  m.client_name = (char *)"seed";
  q.body_case = ARENAD__REQUEST__BODY_HELLO;
  q.hello = &m;
  frame(o, &q);
}

void ping(out_t *o) {
  Arenad__PingRequest m = ARENAD__PING_REQUEST__INIT;
  Arenad__Request q = ARENAD__REQUEST__INIT;
  q.body_case = ARENAD__REQUEST__BODY_PING;
  q.ping = &m;
  frame(o, &q);
}

void list(out_t *o) {
  Arenad__ListRequest m = ARENAD__LIST_REQUEST__INIT;
  Arenad__Request q = ARENAD__REQUEST__INIT;
  q.body_case = ARENAD__REQUEST__BODY_LIST;
  q.list = &m;
  frame(o, &q);
}

void stats(out_t *o) {
  Arenad__StatsRequest m = ARENAD__STATS_REQUEST__INIT;
  Arenad__Request q = ARENAD__REQUEST__INIT;
  q.body_case = ARENAD__REQUEST__BODY_STATS;
  q.stats = &m;
  frame(o, &q);
}

void attach(out_t *o, const char *arena, bool ro) {
  Arenad__AttachRequest m = ARENAD__ATTACH_REQUEST__INIT;
  Arenad__Request q = ARENAD__REQUEST__INIT;
  m.arena = (char *)arena;
  m.read_only = ro;
  q.body_case = ARENAD__REQUEST__BODY_ATTACH;
  q.attach = &m;
  frame(o, &q);
}

void alloc(out_t *o, const char *arena, uint64_t size, uint64_t align,
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

void free_n(out_t *o, const char *arena, const uint64_t *offs, size_t n) {
  Arenad__FreeRequest m = ARENAD__FREE_REQUEST__INIT;
  Arenad__Request q = ARENAD__REQUEST__INIT;
  m.arena = (char *)arena;
  m.offsets = (uint64_t *)offs;
  m.n_offsets = n;
  q.body_case = ARENAD__REQUEST__BODY_FREE;
  q.free = &m;
  frame(o, &q);
}

void free1(out_t *o, const char *arena, uint64_t off) {
  free_n(o, arena, &off, 1);
}

void inspect(out_t *o, const char *arena, Arenad__InspectWhat what,
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

void check(out_t *o, const char *arena) {
  Arenad__CheckRequest m = ARENAD__CHECK_REQUEST__INIT;
  Arenad__Request q = ARENAD__REQUEST__INIT;
  m.arena = (char *)arena;
  q.body_case = ARENAD__REQUEST__BODY_CHECK;
  q.check = &m;
  frame(o, &q);
}

void retain(out_t *o, const char *arena, uint64_t off) {
  Arenad__RetainRequest m = ARENAD__RETAIN_REQUEST__INIT;
  Arenad__Request q = ARENAD__REQUEST__INIT;
  m.arena = (char *)arena;
  m.offset = off;
  q.body_case = ARENAD__REQUEST__BODY_RETAIN;
  q.retain = &m;
  frame(o, &q);
}

void release(out_t *o, const char *arena, uint64_t off) {
  Arenad__ReleaseRequest m = ARENAD__RELEASE_REQUEST__INIT;
  Arenad__Request q = ARENAD__REQUEST__INIT;
  m.arena = (char *)arena;
  m.offset = off;
  q.body_case = ARENAD__REQUEST__BODY_RELEASE;
  q.release = &m;
  frame(o, &q);
}

void transfer(out_t *o, const char *arena, uint64_t off, uint64_t token) {
  Arenad__TransferRequest m = ARENAD__TRANSFER_REQUEST__INIT;
  Arenad__Request q = ARENAD__REQUEST__INIT;
  m.arena = (char *)arena;
  m.offset = off;
  m.target_token = token;
  q.body_case = ARENAD__REQUEST__BODY_TRANSFER;
  q.transfer = &m;
  frame(o, &q);
}

void create_arena(out_t *o, const char *name, uint64_t size,
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

void destroy_arena(out_t *o, const char *name, bool force) {
  Arenad__DestroyArenaRequest m = ARENAD__DESTROY_ARENA_REQUEST__INIT;
  Arenad__Request q = ARENAD__REQUEST__INIT;
  m.name = (char *)name;
  m.force = force;
  q.body_case = ARENAD__REQUEST__BODY_DESTROY_ARENA;
  q.destroy_arena = &m;
  frame(o, &q);
}

void empty_request(out_t *o) {
  Arenad__Request q = ARENAD__REQUEST__INIT;
  frame(o, &q);
}

/* ---- fuzz_dispatch operations -------------------------------------------- */

void data(out_t *o, unsigned slot, const out_t *f) {
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

void op(out_t *o, uint8_t code) { put(o, &code, 1); }

void scribble(out_t *o, unsigned arena, uint16_t off, const void *p,
              uint8_t n) {
  uint8_t h[4] = {(uint8_t)(FZ_OP_SCRIBBLE | arena), (uint8_t)off,
                  (uint8_t)(off >> 8), n};
  put(o, h, 4);
  put(o, p, n);
}

uint8_t setup(unsigned slots, unsigned policy, bool uids) {
  return (uint8_t)((slots - 1) | (policy << 2) | (uids ? FZ_SETUP_UIDS : 0));
}
