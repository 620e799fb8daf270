/*
 * fuzz_client_replies.c: the replies fuzz_client's fake daemon builds: a
 * real Response packed with protobuf-c, of the kind of the request it
 * answers, its fields taken from the input, so that the fuzzer gets past
 * the framing into each reply's validation. Its figures are mostly
 * plausible and sometimes not (strings past the library's fixed arrays,
 * counts one or two off, any offset, frame limits past the library's);
 * the script (fuzz_client_script.c) chooses the request answered, the
 * status and the one thing wrong.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "ar/frame.h"
#include "arenad.h"
#include "arenad.pb-c.h"
#include "fuzz_client_internal.h"

/* ---- Building replies ---------------------------------------------------- */

reply_t B;

/* A string of a length from the input: mostly short, sometimes past the
 * library's fixed arrays (64 and 256 bytes), or long enough that a reply
 * unpacks past the library's scratch memory (4 KiB). */
char *text(in_t *in) {
  uint8_t b = take(in);
  size_t len = b < 0xe0 ? b % 80 : (size_t)64 * (b - 0xdf);
  if (B.nstrings == STRINGS || len > STRING_MAX)
    return (char *)"";
  char *s = B.strings[B.nstrings++];
  for (size_t i = 0; i < len; i++)
    s[i] = (char)('a' + i % 26);
  s[len] = '\0';
  return s;
}

static Arenad__Access *access_of(in_t *in) {
  uint8_t b = take(in);
  if (!(b & 1) || B.naccess == 6)
    return NULL;
  Arenad__Access *a = &B.access[B.naccess++];
  *a = (Arenad__Access)ARENAD__ACCESS__INIT;
  a->mode = (uint32_t)b << 1;
  a->owner_uid = take(in);
  a->group_gid = take(in);
  return a;
}

/* An offset: a multiple of 16 in the first 4 KiB, further, or any. */
static uint64_t offset_of(in_t *in) {
  uint8_t b = take(in);
  if (b < 0xf8)
    return 16 * (uint64_t)b;
  if (b < 0xff)
    return 4096 * (uint64_t)(b - 0xf6);
  return take_u64(in);
}

/* hello's frame limit: none (the default), small, the usual, the
 * library's own limit and past it, or any. */
static uint64_t frame_limit_of(in_t *in) {
  switch (take(in) & 7) {
  case 0:
    return 0;
  case 1:
    return 16 + take(in);
  case 2:
    return 64 * (uint64_t)take(in);
  case 3:
    return 4096;
  case 4:
    return (uint64_t)1 << 20;
  case 5:
    return ARENAD_FRAME_MAX_CLIENT;
  case 6:
    return ARENAD_FRAME_MAX_CLIENT + 1;
  default:
    return take_u64(in);
  }
}

static void info_of(Arenad__ArenaInfo *a, in_t *in) {
  *a = (Arenad__ArenaInfo)ARENAD__ARENA_INFO__INIT;
  a->name = text(in);
  a->size = 4096 * (uint64_t)take(in);
  a->policy = (Arenad__Policy)(take(in) % 8);
  a->used_bytes = take(in);
  a->free_bytes = take(in);
  a->live_blocks = take(in);
  a->access = access_of(in);
  a->quota_bytes = take(in);
  a->quota_blocks = take(in);
}

static void body_hello(in_t *in) {
  B.hello = (Arenad__HelloReply)ARENAD__HELLO_REPLY__INIT;
  B.hello.daemon_version = text(in);
  uint8_t v = take(in);
  B.hello.protocol_version = v < 0xf0 ? ARENAD_PROTOCOL_VERSION : v & 0x0f;
  if (take(in) != 0xff) {
    B.limits = (Arenad__Limits)ARENAD__LIMITS__INIT;
    B.limits.max_frame_bytes = frame_limit_of(in);
    B.limits.max_blocks_per_request = take(in);
    B.limits.max_in_flight = take(in); /* 0: no limit */
    B.limits.max_page = take(in);
    B.hello.limits = &B.limits;
  }
  B.hello.token = take(in);
  B.hello.connection_id = take(in);
  B.hello.instance = take(in);
  B.r.hello = &B.hello;
}

static void body_list(in_t *in) {
  B.list = (Arenad__ListReply)ARENAD__LIST_REPLY__INIT;
  B.list.n_arenas = take(in) % 5;
  for (size_t i = 0; i < B.list.n_arenas; i++) {
    info_of(&B.infos[i], in);
    B.info_ptrs[i] = &B.infos[i];
  }
  B.list.arenas = B.info_ptrs;
  B.r.list = &B.list;
}

/* An attach reply for a segment of seg bytes: its size, mostly. */
static void body_attach(in_t *in, uint64_t seg) {
  B.attach = (Arenad__AttachReply)ARENAD__ATTACH_REPLY__INIT;
  uint8_t b = take(in);
  switch (b % 8) {
  case 4:
    B.attach.size = seg > 4096 ? seg - 4096 : seg;
    break;
  case 5:
    B.attach.size = seg + 1;
    break;
  case 6:
    B.attach.size = 0;
    break;
  case 7:
    B.attach.size = take_u64(in);
    break;
  default:
    B.attach.size = seg;
  }
  B.attach.policy = (Arenad__Policy)((b >> 3) % 8);
  B.attach.read_only = (b & 0x40) != 0;
  B.r.attach = &B.attach;
}

static void body_inspect(in_t *in, uint64_t cursor) {
  B.inspect = (Arenad__InspectReply)ARENAD__INSPECT_REPLY__INIT;
  Arenad__ArenaSummary *s = &B.summary;
  if (take(in) != 0xff) {
    *s = (Arenad__ArenaSummary)ARENAD__ARENA_SUMMARY__INIT;
    s->name = text(in);
    s->policy = (Arenad__Policy)(take(in) % 8);
    s->size = 4096 * (1 + (uint64_t)(take(in) % 16));
    s->used_bytes = take(in);
    s->live_blocks = take(in);
    s->external_frag = take(in) / 255.0;
    s->max_order = take(in);
    s->n_free_by_order = take(in) % 64; /* past ARENAD_ORDER_MAX + 1 too */
    for (size_t i = 0; i < s->n_free_by_order; i++)
      B.orders[i] = i;
    s->free_by_order = B.orders;
    s->access = access_of(in);
    s->detached_blocks = take(in);
    B.inspect.summary = s;
  }
  uint64_t size = B.inspect.summary != NULL ? s->size : 0;
  switch (take(in) % 4) {
  case 0:
    B.inspect.next_cursor = size;
    break;
  case 1:
    B.inspect.next_cursor = cursor + 16 * (1 + (uint64_t)take(in));
    break;
  case 2:
    B.inspect.next_cursor = cursor;
    break;
  default:
    B.inspect.next_cursor = take_u64(in);
  }
  B.inspect.n_extents = take(in) % 4;
  for (size_t i = 0; i < B.inspect.n_extents; i++) {
    Arenad__Extent *e = &B.ext[i];
    *e = (Arenad__Extent)ARENAD__EXTENT__INIT;
    e->start = offset_of(in);
    e->size = offset_of(in);
    uint8_t f = take(in);
    e->free = f & 1;
    e->detached = (f & 2) != 0;
    e->payload = e->start + 16;
    e->n = take(in);
    e->refcount = take(in);
    e->holders_omitted = take(in) % 4;
    e->n_holders = take(in) % 3;
    for (size_t j = 0; j < e->n_holders; j++) {
      Arenad__Holder *h = &B.holders[i][j];
      *h = (Arenad__Holder)ARENAD__HOLDER__INIT;
      h->connection_id = take(in);
      h->pid = take(in);
      h->client_name = text(in);
      h->references = take(in);
      B.holder_ptrs[i][j] = h;
    }
    e->holders = B.holder_ptrs[i];
    B.ext_ptrs[i] = e;
  }
  B.inspect.extents = B.ext_ptrs;
  B.r.inspect = &B.inspect;
}

static void body_check(in_t *in) {
  B.check = (Arenad__CheckReply)ARENAD__CHECK_REPLY__INIT;
  B.check.ok = !(take(in) & 1);
  B.check.invariant = text(in);
  B.check.offset = offset_of(in);
  B.check.detail = text(in);
  if (!B.check.ok)
    B.r.status = ARENAD__STATUS__STATUS_CORRUPTION_DETECTED;
  B.r.check = &B.check;
}

/* Mostly the count asked for, sometimes one or two off. */
static size_t count_of(in_t *in, uint32_t want, size_t max) {
  uint8_t b = take(in);
  size_t n = want;
  if (b >= 0xf0)
    n = (size_t)want + (b & 3) >= 2 ? (size_t)want + (b & 3) - 2 : 0;
  return n < max ? n : max;
}

static void body_alloc(in_t *in, uint32_t count) {
  B.alloc = (Arenad__AllocReply)ARENAD__ALLOC_REPLY__INIT;
  B.alloc.n_offsets = count_of(in, count, MAX_OFFSETS + 4);
  for (size_t i = 0; i < B.alloc.n_offsets; i++)
    B.offsets[i] = offset_of(in);
  B.alloc.offsets = B.offsets;
  B.r.alloc = &B.alloc;
}

/* A free reply: no statuses, or mostly one per offset; the overwritten
 * headers' indices, mostly increasing; the envelope's status the first
 * failure's, as the daemon sends it. */
static void body_free(in_t *in, uint32_t count) {
  B.free = (Arenad__FreeReply)ARENAD__FREE_REPLY__INIT;
  B.free.freed = take(in);
  B.free.reclaimed = take(in);
  if (take(in) & 1) {
    B.free.n_statuses = count_of(in, count, MAX_OFFSETS + 1);
    for (size_t i = 0; i < B.free.n_statuses; i++) {
      uint8_t s = take(in);
      B.statuses[i] = (s & 3) ? ARENAD__STATUS__STATUS_OK
                              : (Arenad__Status)(1 + (s >> 2) % 8);
      if (B.r.status == ARENAD__STATUS__STATUS_OK)
        B.r.status = B.statuses[i];
    }
    B.free.statuses = B.statuses;
  }
  B.free.n_overwritten = take(in) % 5;
  uint32_t at = 0;
  for (size_t i = 0; i < B.free.n_overwritten; i++) {
    at += take(in) % 3;
    B.overwritten[i] = at++;
  }
  B.free.overwritten = B.overwritten;
  B.r.free = &B.free;
}

static void body_stats(in_t *in) {
  B.stats = (Arenad__StatsReply)ARENAD__STATS_REPLY__INIT;
  B.stats.daemon_version = text(in);
  B.stats.uptime_ms = take_u64(in);
  B.stats.arenas = take(in);
  B.stats.frames_in = take(in);
  uint8_t b = take(in);
  if (b & 1) {
    B.counts = (Arenad__RequestCounts)ARENAD__REQUEST_COUNTS__INIT;
    B.counts.alloc = take(in);
    B.stats.requests = &B.counts;
  }
  if (b & 2) {
    B.errors = (Arenad__StatusCounts)ARENAD__STATUS_COUNTS__INIT;
    B.errors.internal = take(in);
    B.stats.errors = &B.errors;
  }
  B.r.stats = &B.stats;
}

/* Sets B.r's body for a request of kind t->kind, its fields read from
 * the input; seg: the segment passed with an attach reply. */
void make_body(in_t *in, const target_t *t, uint64_t seg) {
  B.r.body_case = (Arenad__Response__BodyCase)t->kind;
  switch (t->kind) {
  case ARENAD__RESPONSE__BODY_HELLO:
    body_hello(in);
    break;
  case ARENAD__RESPONSE__BODY_LIST:
    body_list(in);
    break;
  case ARENAD__RESPONSE__BODY_ATTACH:
    body_attach(in, seg);
    break;
  case ARENAD__RESPONSE__BODY_INSPECT:
    body_inspect(in, t->cursor);
    break;
  case ARENAD__RESPONSE__BODY_CHECK:
    body_check(in);
    break;
  case ARENAD__RESPONSE__BODY_ALLOC:
    body_alloc(in, t->count);
    break;
  case ARENAD__RESPONSE__BODY_FREE:
    body_free(in, t->count);
    break;
  case ARENAD__RESPONSE__BODY_RETAIN:
    B.retain = (Arenad__RetainReply)ARENAD__RETAIN_REPLY__INIT;
    B.retain.refcount = take(in);
    B.r.retain = &B.retain;
    break;
  case ARENAD__RESPONSE__BODY_RELEASE:
    B.release = (Arenad__ReleaseReply)ARENAD__RELEASE_REPLY__INIT;
    B.release.refcount = take(in) % 4;
    B.release.overwritten = take(in) & 1;
    B.r.release = &B.release;
    break;
  case ARENAD__RESPONSE__BODY_TRANSFER:
    B.transfer = (Arenad__TransferReply)ARENAD__TRANSFER_REPLY__INIT;
    B.transfer.target_connection_id = take(in);
    B.transfer.refcount = take(in);
    B.r.transfer = &B.transfer;
    break;
  case ARENAD__RESPONSE__BODY_CREATE_ARENA:
    B.create = (Arenad__CreateArenaReply)ARENAD__CREATE_ARENA_REPLY__INIT;
    if (take(in) != 0xff) {
      info_of(&B.created, in);
      B.create.arena = &B.created;
    }
    B.r.create_arena = &B.create;
    break;
  case ARENAD__RESPONSE__BODY_DESTROY_ARENA:
    B.destroy = (Arenad__DestroyArenaReply)ARENAD__DESTROY_ARENA_REPLY__INIT;
    B.destroy.blocks_freed = take(in);
    B.destroy.bytes_freed = take(in);
    B.destroy.attached_connections = take(in);
    B.r.destroy_arena = &B.destroy;
    break;
  case ARENAD__RESPONSE__BODY_STATS:
    body_stats(in);
    break;
  default:
    B.ping = (Arenad__PingReply)ARENAD__PING_REPLY__INIT;
    B.r.body_case = ARENAD__RESPONSE__BODY_PING;
    B.r.ping = &B.ping;
  }
}

/* Packs B.r as one frame and writes it `times` times. */
void send_response(run_t *r, const int *fds, size_t nfds, int times) {
  size_t len = arenad__response__get_packed_size(&B.r);
  uint8_t *buf = malloc(len + AR_FRAME_PREFIX_MAX);
  CHECK(buf != NULL, "no memory");
  size_t p = ar_frame_encode(buf, len);
  arenad__response__pack(&B.r, buf + p);
  for (int i = 0; i < times; i++)
    daemon_write(r, buf, p + len, i == 0 ? fds : NULL, i == 0 ? nfds : 0);
  free(buf);
}
