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

reply_t fzc_B;

/* A string of a length from the input: mostly short, sometimes past the
 * library's fixed arrays (64 and 256 bytes), or long enough that a reply
 * unpacks past the library's scratch memory (4 KiB). */
char *fzc_text(in_t *in) {
  uint8_t b = fzc_take(in);
  size_t len = b < 0xe0 ? b % 80 : (size_t)64 * (b - 0xdf);
  if (fzc_B.nstrings == STRINGS || len > STRING_MAX)
    return (char *)"";
  char *s = fzc_B.strings[fzc_B.nstrings++];
  for (size_t i = 0; i < len; i++)
    s[i] = (char)('a' + i % 26);
  s[len] = '\0';
  return s;
}

static Arenad__Access *access_of(in_t *in) {
  uint8_t b = fzc_take(in);
  if (!(b & 1) || fzc_B.naccess == 6)
    return NULL;
  Arenad__Access *a = &fzc_B.access[fzc_B.naccess++];
  *a = (Arenad__Access)ARENAD__ACCESS__INIT;
  a->mode = (uint32_t)b << 1;
  a->owner_uid = fzc_take(in);
  a->group_gid = fzc_take(in);
  return a;
}

/* An offset: a multiple of 16 in the first 4 KiB, further, or any. */
static uint64_t offset_of(in_t *in) {
  uint8_t b = fzc_take(in);
  if (b < 0xf8)
    return 16 * (uint64_t)b;
  if (b < 0xff)
    return 4096 * (uint64_t)(b - 0xf6);
  return fzc_take_u64(in);
}

/* hello's frame limit: none (the default), small, the usual, the
 * library's own limit and past it, or any. */
static uint64_t frame_limit_of(in_t *in) {
  switch (fzc_take(in) & 7) {
  case 0:
    return 0;
  case 1:
    return 16 + fzc_take(in);
  case 2:
    return 64 * (uint64_t)fzc_take(in);
  case 3:
    return 4096;
  case 4:
    return (uint64_t)1 << 20;
  case 5:
    return ARENAD_FRAME_MAX_CLIENT;
  case 6:
    return ARENAD_FRAME_MAX_CLIENT + 1;
  default:
    return fzc_take_u64(in);
  }
}

static void info_of(Arenad__ArenaInfo *a, in_t *in) {
  *a = (Arenad__ArenaInfo)ARENAD__ARENA_INFO__INIT;
  a->name = fzc_text(in);
  a->size = 4096 * (uint64_t)fzc_take(in);
  a->policy = (Arenad__Policy)(fzc_take(in) % 8);
  a->used_bytes = fzc_take(in);
  a->free_bytes = fzc_take(in);
  a->live_blocks = fzc_take(in);
  a->access = access_of(in);
  a->quota_bytes = fzc_take(in);
  a->quota_blocks = fzc_take(in);
}

static void body_hello(in_t *in) {
  fzc_B.hello = (Arenad__HelloReply)ARENAD__HELLO_REPLY__INIT;
  fzc_B.hello.daemon_version = fzc_text(in);
  uint8_t v = fzc_take(in);
  fzc_B.hello.protocol_version = v < 0xf0 ? ARENAD_PROTOCOL_VERSION : v & 0x0f;
  if (fzc_take(in) != 0xff) {
    fzc_B.limits = (Arenad__Limits)ARENAD__LIMITS__INIT;
    fzc_B.limits.max_frame_bytes = frame_limit_of(in);
    fzc_B.limits.max_blocks_per_request = fzc_take(in);
    fzc_B.limits.max_in_flight = fzc_take(in); /* 0: no limit */
    fzc_B.limits.max_page = fzc_take(in);
    fzc_B.hello.limits = &fzc_B.limits;
  }
  fzc_B.hello.token = fzc_take(in);
  fzc_B.hello.connection_id = fzc_take(in);
  fzc_B.hello.instance = fzc_take(in);
  fzc_B.r.hello = &fzc_B.hello;
}

static void body_list(in_t *in) {
  fzc_B.list = (Arenad__ListReply)ARENAD__LIST_REPLY__INIT;
  fzc_B.list.n_arenas = fzc_take(in) % 5;
  for (size_t i = 0; i < fzc_B.list.n_arenas; i++) {
    info_of(&fzc_B.infos[i], in);
    fzc_B.info_ptrs[i] = &fzc_B.infos[i];
  }
  fzc_B.list.arenas = fzc_B.info_ptrs;
  fzc_B.r.list = &fzc_B.list;
}

/* An attach reply for a segment of seg bytes: its size, mostly. */
static void body_attach(in_t *in, uint64_t seg) {
  fzc_B.attach = (Arenad__AttachReply)ARENAD__ATTACH_REPLY__INIT;
  uint8_t b = fzc_take(in);
  switch (b % 8) {
  case 4:
    fzc_B.attach.size = seg > 4096 ? seg - 4096 : seg;
    break;
  case 5:
    fzc_B.attach.size = seg + 1;
    break;
  case 6:
    fzc_B.attach.size = 0;
    break;
  case 7:
    fzc_B.attach.size = fzc_take_u64(in);
    break;
  default:
    fzc_B.attach.size = seg;
  }
  fzc_B.attach.policy = (Arenad__Policy)((b >> 3) % 8);
  fzc_B.attach.read_only = (b & 0x40) != 0;
  fzc_B.r.attach = &fzc_B.attach;
}

static void body_inspect(in_t *in, uint64_t cursor) {
  fzc_B.inspect = (Arenad__InspectReply)ARENAD__INSPECT_REPLY__INIT;
  Arenad__ArenaSummary *s = &fzc_B.summary;
  if (fzc_take(in) != 0xff) {
    *s = (Arenad__ArenaSummary)ARENAD__ARENA_SUMMARY__INIT;
    s->name = fzc_text(in);
    s->policy = (Arenad__Policy)(fzc_take(in) % 8);
    s->size = 4096 * (1 + (uint64_t)(fzc_take(in) % 16));
    s->used_bytes = fzc_take(in);
    s->live_blocks = fzc_take(in);
    s->external_frag = fzc_take(in) / 255.0;
    s->max_order = fzc_take(in);
    s->n_free_by_order = fzc_take(in) % 64; /* past ARENAD_ORDER_MAX + 1 too */
    for (size_t i = 0; i < s->n_free_by_order; i++)
      fzc_B.orders[i] = i;
    s->free_by_order = fzc_B.orders;
    s->access = access_of(in);
    s->detached_blocks = fzc_take(in);
    fzc_B.inspect.summary = s;
  }
  uint64_t size = fzc_B.inspect.summary != NULL ? s->size : 0;
  switch (fzc_take(in) % 4) {
  case 0:
    fzc_B.inspect.next_cursor = size;
    break;
  case 1:
    fzc_B.inspect.next_cursor = cursor + 16 * (1 + (uint64_t)fzc_take(in));
    break;
  case 2:
    fzc_B.inspect.next_cursor = cursor;
    break;
  default:
    fzc_B.inspect.next_cursor = fzc_take_u64(in);
  }
  fzc_B.inspect.n_extents = fzc_take(in) % 4;
  for (size_t i = 0; i < fzc_B.inspect.n_extents; i++) {
    Arenad__Extent *e = &fzc_B.ext[i];
    *e = (Arenad__Extent)ARENAD__EXTENT__INIT;
    e->start = offset_of(in);
    e->size = offset_of(in);
    uint8_t f = fzc_take(in);
    e->free = f & 1;
    e->detached = (f & 2) != 0;
    e->payload = e->start + 16;
    e->n = fzc_take(in);
    e->refcount = fzc_take(in);
    e->holders_omitted = fzc_take(in) % 4;
    e->n_holders = fzc_take(in) % 3;
    for (size_t j = 0; j < e->n_holders; j++) {
      Arenad__Holder *h = &fzc_B.holders[i][j];
      *h = (Arenad__Holder)ARENAD__HOLDER__INIT;
      h->connection_id = fzc_take(in);
      h->pid = fzc_take(in);
      h->client_name = fzc_text(in);
      h->references = fzc_take(in);
      fzc_B.holder_ptrs[i][j] = h;
    }
    e->holders = fzc_B.holder_ptrs[i];
    fzc_B.ext_ptrs[i] = e;
  }
  fzc_B.inspect.extents = fzc_B.ext_ptrs;
  fzc_B.r.inspect = &fzc_B.inspect;
}

static void body_check(in_t *in) {
  fzc_B.check = (Arenad__CheckReply)ARENAD__CHECK_REPLY__INIT;
  fzc_B.check.ok = !(fzc_take(in) & 1);
  fzc_B.check.invariant = fzc_text(in);
  fzc_B.check.offset = offset_of(in);
  fzc_B.check.detail = fzc_text(in);
  if (!fzc_B.check.ok)
    fzc_B.r.status = ARENAD__STATUS__STATUS_CORRUPTION_DETECTED;
  fzc_B.r.check = &fzc_B.check;
}

/* Mostly the count asked for, sometimes one or two off. */
static size_t count_of(in_t *in, uint32_t want, size_t max) {
  uint8_t b = fzc_take(in);
  size_t n = want;
  if (b >= 0xf0)
    n = (size_t)want + (b & 3) >= 2 ? (size_t)want + (b & 3) - 2 : 0;
  return n < max ? n : max;
}

static void body_alloc(in_t *in, uint32_t count) {
  fzc_B.alloc = (Arenad__AllocReply)ARENAD__ALLOC_REPLY__INIT;
  fzc_B.alloc.n_offsets = count_of(in, count, MAX_OFFSETS + 4);
  for (size_t i = 0; i < fzc_B.alloc.n_offsets; i++)
    fzc_B.offsets[i] = offset_of(in);
  fzc_B.alloc.offsets = fzc_B.offsets;
  fzc_B.r.alloc = &fzc_B.alloc;
}

/* A free reply: no statuses, or mostly one per offset; the overwritten
 * headers' indices, mostly increasing; the envelope's status the first
 * failure's, as the daemon sends it. */
static void body_free(in_t *in, uint32_t count) {
  fzc_B.free = (Arenad__FreeReply)ARENAD__FREE_REPLY__INIT;
  fzc_B.free.freed = fzc_take(in);
  fzc_B.free.reclaimed = fzc_take(in);
  if (fzc_take(in) & 1) {
    fzc_B.free.n_statuses = count_of(in, count, MAX_OFFSETS + 1);
    for (size_t i = 0; i < fzc_B.free.n_statuses; i++) {
      uint8_t s = fzc_take(in);
      fzc_B.statuses[i] = (s & 3) ? ARENAD__STATUS__STATUS_OK
                                  : (Arenad__Status)(1 + (s >> 2) % 8);
      if (fzc_B.r.status == ARENAD__STATUS__STATUS_OK)
        fzc_B.r.status = fzc_B.statuses[i];
    }
    fzc_B.free.statuses = fzc_B.statuses;
  }
  fzc_B.free.n_overwritten = fzc_take(in) % 5;
  uint32_t at = 0;
  for (size_t i = 0; i < fzc_B.free.n_overwritten; i++) {
    at += fzc_take(in) % 3;
    fzc_B.overwritten[i] = at++;
  }
  fzc_B.free.overwritten = fzc_B.overwritten;
  fzc_B.r.free = &fzc_B.free;
}

static void body_stats(in_t *in) {
  fzc_B.stats = (Arenad__StatsReply)ARENAD__STATS_REPLY__INIT;
  fzc_B.stats.daemon_version = fzc_text(in);
  fzc_B.stats.uptime_ms = fzc_take_u64(in);
  fzc_B.stats.arenas = fzc_take(in);
  fzc_B.stats.frames_in = fzc_take(in);
  uint8_t b = fzc_take(in);
  if (b & 1) {
    fzc_B.counts = (Arenad__RequestCounts)ARENAD__REQUEST_COUNTS__INIT;
    fzc_B.counts.alloc = fzc_take(in);
    fzc_B.stats.requests = &fzc_B.counts;
  }
  if (b & 2) {
    fzc_B.errors = (Arenad__StatusCounts)ARENAD__STATUS_COUNTS__INIT;
    fzc_B.errors.internal = fzc_take(in);
    fzc_B.stats.errors = &fzc_B.errors;
  }
  fzc_B.r.stats = &fzc_B.stats;
}

/* Sets fzc_B.r's body for a request of kind t->kind, its fields read from
 * the input; seg: the segment passed with an attach reply. */
void fzc_make_body(in_t *in, const target_t *t, uint64_t seg) {
  fzc_B.r.body_case = (Arenad__Response__BodyCase)t->kind;
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
    fzc_B.retain = (Arenad__RetainReply)ARENAD__RETAIN_REPLY__INIT;
    fzc_B.retain.refcount = fzc_take(in);
    fzc_B.r.retain = &fzc_B.retain;
    break;
  case ARENAD__RESPONSE__BODY_RELEASE:
    fzc_B.release = (Arenad__ReleaseReply)ARENAD__RELEASE_REPLY__INIT;
    fzc_B.release.refcount = fzc_take(in) % 4;
    fzc_B.release.overwritten = fzc_take(in) & 1;
    fzc_B.r.release = &fzc_B.release;
    break;
  case ARENAD__RESPONSE__BODY_TRANSFER:
    fzc_B.transfer = (Arenad__TransferReply)ARENAD__TRANSFER_REPLY__INIT;
    fzc_B.transfer.target_connection_id = fzc_take(in);
    fzc_B.transfer.refcount = fzc_take(in);
    fzc_B.r.transfer = &fzc_B.transfer;
    break;
  case ARENAD__RESPONSE__BODY_CREATE_ARENA:
    fzc_B.create = (Arenad__CreateArenaReply)ARENAD__CREATE_ARENA_REPLY__INIT;
    if (fzc_take(in) != 0xff) {
      info_of(&fzc_B.created, in);
      fzc_B.create.arena = &fzc_B.created;
    }
    fzc_B.r.create_arena = &fzc_B.create;
    break;
  case ARENAD__RESPONSE__BODY_DESTROY_ARENA:
    fzc_B.destroy =
        (Arenad__DestroyArenaReply)ARENAD__DESTROY_ARENA_REPLY__INIT;
    fzc_B.destroy.blocks_freed = fzc_take(in);
    fzc_B.destroy.bytes_freed = fzc_take(in);
    fzc_B.destroy.attached_connections = fzc_take(in);
    fzc_B.r.destroy_arena = &fzc_B.destroy;
    break;
  case ARENAD__RESPONSE__BODY_STATS:
    body_stats(in);
    break;
  default:
    fzc_B.ping = (Arenad__PingReply)ARENAD__PING_REPLY__INIT;
    fzc_B.r.body_case = ARENAD__RESPONSE__BODY_PING;
    fzc_B.r.ping = &fzc_B.ping;
  }
}

/* Packs fzc_B.r as one frame and writes it `times` times. */
void fzc_send_response(run_t *r, const int *fds, size_t nfds, int times) {
  size_t len = arenad__response__get_packed_size(&fzc_B.r);
  uint8_t *buf = malloc(len + AR_FRAME_PREFIX_MAX);
  CHECK(buf != NULL, "no memory");
  size_t p = ar_frame_encode(buf, len);
  arenad__response__pack(&fzc_B.r, buf + p);
  for (int i = 0; i < times; i++)
    fzc_daemon_write(r, buf, p + len, i == 0 ? fds : NULL, i == 0 ? nfds : 0);
  free(buf);
}
