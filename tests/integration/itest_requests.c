/*
 * itest_requests.c: the requests of the integration tests, built for them,
 * and the shorthands for the calls they make again and again (see
 * itest.h). A builder fills one Request and its body in this file's static
 * storage (req, body, body_access) and returns it: valid until the next
 * builder call, not to be freed; the strings and arrays it is given are
 * pointed to, not copied, and must live until the request is sent. A
 * shorthand runs one request on a connection with it_call, fails the test
 * unless it succeeded, frees the reply and returns what the test wants of
 * it: an offset, a status, a counter read by name from the stats or from
 * an arena's summary, or an arena's segment mapped (the mapping is the
 * caller's, to munmap; the descriptor is closed here).
 */
#include "itest.h"

#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ar/engine.h"

/* ---- Builders ------------------------------------------------------------ */

static Arenad__Request req;
static union {
  Arenad__HelloRequest hello;
  Arenad__PingRequest ping;
  Arenad__ListRequest list;
  Arenad__StatsRequest stats;
  Arenad__AttachRequest attach;
  Arenad__AllocRequest alloc;
  Arenad__FreeRequest free;
  Arenad__InspectRequest inspect;
  Arenad__CheckRequest check;
  Arenad__RetainRequest retain;
  Arenad__ReleaseRequest release;
  Arenad__TransferRequest transfer;
  Arenad__CreateArenaRequest create;
  Arenad__DestroyArenaRequest destroy;
} body;
static Arenad__Access body_access;

static Arenad__Request *fresh(void) {
  arenad__request__init(&req);
  memset(&body, 0, sizeof(body));
  return &req;
}

Arenad__Request *it_req_hello(uint32_t version, const char *name) {
  fresh();
  arenad__hello_request__init(&body.hello);
  body.hello.protocol_version = version;
  body.hello.client_name = (char *)name;
  req.body_case = ARENAD__REQUEST__BODY_HELLO;
  req.hello = &body.hello;
  return &req;
}

Arenad__Request *it_req_ping(void) {
  fresh();
  arenad__ping_request__init(&body.ping);
  req.body_case = ARENAD__REQUEST__BODY_PING;
  req.ping = &body.ping;
  return &req;
}

Arenad__Request *it_req_list(void) {
  fresh();
  arenad__list_request__init(&body.list);
  req.body_case = ARENAD__REQUEST__BODY_LIST;
  req.list = &body.list;
  return &req;
}

Arenad__Request *it_req_stats(void) {
  fresh();
  arenad__stats_request__init(&body.stats);
  req.body_case = ARENAD__REQUEST__BODY_STATS;
  req.stats = &body.stats;
  return &req;
}

Arenad__Request *it_req_attach(const char *arena, bool read_only) {
  fresh();
  arenad__attach_request__init(&body.attach);
  body.attach.arena = (char *)arena;
  body.attach.read_only = read_only;
  req.body_case = ARENAD__REQUEST__BODY_ATTACH;
  req.attach = &body.attach;
  return &req;
}

Arenad__Request *it_req_alloc(const char *arena, uint64_t size, uint64_t align,
                              uint32_t count, bool detached) {
  fresh();
  arenad__alloc_request__init(&body.alloc);
  body.alloc.arena = (char *)arena;
  body.alloc.size = size;
  body.alloc.alignment = align;
  body.alloc.count = count;
  body.alloc.detached = detached;
  req.body_case = ARENAD__REQUEST__BODY_ALLOC;
  req.alloc = &body.alloc;
  return &req;
}

Arenad__Request *it_req_free(const char *arena, const uint64_t *offsets,
                             size_t n) {
  fresh();
  arenad__free_request__init(&body.free);
  body.free.arena = (char *)arena;
  body.free.offsets = (uint64_t *)offsets;
  body.free.n_offsets = n;
  req.body_case = ARENAD__REQUEST__BODY_FREE;
  req.free = &body.free;
  return &req;
}

Arenad__Request *it_req_inspect(const char *arena, Arenad__InspectWhat what,
                                uint64_t cursor, uint32_t limit) {
  fresh();
  arenad__inspect_request__init(&body.inspect);
  body.inspect.arena = (char *)arena;
  body.inspect.what = what;
  body.inspect.cursor = cursor;
  body.inspect.limit = limit;
  req.body_case = ARENAD__REQUEST__BODY_INSPECT;
  req.inspect = &body.inspect;
  return &req;
}

Arenad__Request *it_req_check(const char *arena) {
  fresh();
  arenad__check_request__init(&body.check);
  body.check.arena = (char *)arena;
  req.body_case = ARENAD__REQUEST__BODY_CHECK;
  req.check = &body.check;
  return &req;
}

Arenad__Request *it_req_retain(const char *arena, uint64_t offset) {
  fresh();
  arenad__retain_request__init(&body.retain);
  body.retain.arena = (char *)arena;
  body.retain.offset = offset;
  req.body_case = ARENAD__REQUEST__BODY_RETAIN;
  req.retain = &body.retain;
  return &req;
}

Arenad__Request *it_req_release(const char *arena, uint64_t offset) {
  fresh();
  arenad__release_request__init(&body.release);
  body.release.arena = (char *)arena;
  body.release.offset = offset;
  req.body_case = ARENAD__REQUEST__BODY_RELEASE;
  req.release = &body.release;
  return &req;
}

Arenad__Request *it_req_transfer(const char *arena, uint64_t offset,
                                 uint64_t token) {
  fresh();
  arenad__transfer_request__init(&body.transfer);
  body.transfer.arena = (char *)arena;
  body.transfer.offset = offset;
  body.transfer.target_token = token;
  req.body_case = ARENAD__REQUEST__BODY_TRANSFER;
  req.transfer = &body.transfer;
  return &req;
}

Arenad__Request *it_req_create(const char *name, uint64_t size,
                               Arenad__Policy policy,
                               const Arenad__Access *access,
                               uint64_t quota_bytes, uint64_t quota_blocks) {
  fresh();
  arenad__create_arena_request__init(&body.create);
  body.create.name = (char *)name;
  body.create.size = size;
  body.create.policy = policy;
  if (access != NULL) {
    body_access = *access;
    body.create.access = &body_access;
  }
  body.create.quota_bytes = quota_bytes;
  body.create.quota_blocks = quota_blocks;
  req.body_case = ARENAD__REQUEST__BODY_CREATE_ARENA;
  req.create_arena = &body.create;
  return &req;
}

Arenad__Request *it_req_destroy(const char *name, bool force) {
  fresh();
  arenad__destroy_arena_request__init(&body.destroy);
  body.destroy.name = (char *)name;
  body.destroy.force = force;
  req.body_case = ARENAD__REQUEST__BODY_DESTROY_ARENA;
  req.destroy_arena = &body.destroy;
  return &req;
}

/* ---- Shorthands ---------------------------------------------------------- */

void it_hello_ok(it_conn_t *c) {
  Arenad__Response *r = it_call(c, it_req_hello(1, "itest"), NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_OK);
  it_resp_free(r);
}

uint64_t it_alloc_ok(it_conn_t *c, const char *arena, uint64_t size) {
  Arenad__Response *r =
      it_call(c, it_req_alloc(arena, size, 0, 1, false), NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_OK);
  assert_int_equal(r->alloc->n_offsets, 1);
  uint64_t off = r->alloc->offsets[0];
  it_resp_free(r);
  return off;
}

void it_alloc_n_ok(it_conn_t *c, const char *arena, uint64_t size,
                   uint32_t count, bool detached, uint64_t *outs) {
  Arenad__Response *r =
      it_call(c, it_req_alloc(arena, size, 0, count, detached), NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_OK);
  assert_int_equal(r->alloc->n_offsets, count);
  if (outs != NULL)
    memcpy(outs, r->alloc->offsets, count * sizeof *outs);
  it_resp_free(r);
}

void it_free_ok(it_conn_t *c, const char *arena, uint64_t offset) {
  Arenad__Response *r = it_call(c, it_req_free(arena, &offset, 1), NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_OK);
  assert_int_equal(r->free->freed, 1);
  it_resp_free(r);
}

void it_check_ok(it_conn_t *c, const char *arena) {
  Arenad__Response *r = it_call(c, it_req_check(arena), NULL);
  if (r->status != ARENAD__STATUS__STATUS_OK)
    fail_msg("check of %s failed: %s (%s at %llu: %s)", arena, r->message,
             r->check ? r->check->invariant : "?",
             r->check ? (unsigned long long)r->check->offset : 0ULL,
             r->check ? r->check->detail : "");
  assert_non_null(r->check);
  assert_true(r->check->ok);
  it_resp_free(r);
}

uint64_t it_live_blocks(it_conn_t *c, const char *arena) {
  return it_summary_stat(c, arena, "live_blocks");
}

uint8_t *it_map_arena(it_conn_t *c, const char *arena, size_t *size) {
  int fd = -1;
  Arenad__Response *r = it_call(c, it_req_attach(arena, false), &fd);
  it_assert_status(r, ARENAD__STATUS__STATUS_OK);
  assert_false(r->attach->read_only);
  *size = (size_t)r->attach->size;
  it_resp_free(r);
  assert_true(fd >= 0);
  uint8_t *base = mmap(NULL, *size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  assert_true(base != MAP_FAILED);
  close(fd);
  return base;
}

void it_smash_header(uint8_t *base, uint64_t off, uint64_t n) {
  assert_true(off >= AR_HDR);
  ar_header_t h;
  memcpy(&h, base + off - AR_HDR, sizeof(h));
  assert_int_equal(h.magic, AR_HDR_MAGIC); /* it is the header */
  assert_int_equal(h.size, n);
  memset(base + off - AR_HDR, 0xa5, AR_HDR);
}

/* The uint64 field `name` of message m (a dotted name reaches into nested
 * messages); `what` names m's type in failures. */
static uint64_t counter_in(const ProtobufCMessage *m, const char *what,
                           const char *name) {
  const char *part = name;
  for (;;) {
    size_t n = strcspn(part, ".");
    char field[64];
    snprintf(field, sizeof(field), "%.*s", (int)n, part);
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field_by_name(m->descriptor, field);
    if (f == NULL)
      fail_msg("%s has no %s", what, name);
    const char *at = (const char *)m + f->offset;
    if (part[n] == '\0') {
      if (f->type != PROTOBUF_C_TYPE_UINT64)
        fail_msg("%s's %s is no counter", what, name);
      uint64_t v;
      memcpy(&v, at, sizeof(v));
      return v;
    }
    if (f->type != PROTOBUF_C_TYPE_MESSAGE)
      fail_msg("%s's %.*s holds no counters", what, (int)(part + n - name),
               name);
    memcpy(&m, at, sizeof(m));
    if (m == NULL)
      fail_msg("%s came without %.*s", what, (int)(part + n - name), name);
    part += n + 1;
  }
}

uint64_t it_stat(it_conn_t *c, const char *name) {
  Arenad__Response *r = it_call(c, it_req_stats(), NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_OK);
  uint64_t v = counter_in(&r->stats->base, "StatsReply", name);
  it_resp_free(r);
  return v;
}

uint64_t it_summary_stat(it_conn_t *c, const char *arena, const char *name) {
  Arenad__Response *r = it_call(
      c, it_req_inspect(arena, ARENAD__INSPECT_WHAT__INSPECT_SUMMARY, 0, 0),
      NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_OK);
  uint64_t v = counter_in(&r->inspect->summary->base, "ArenaSummary", name);
  it_resp_free(r);
  return v;
}

void it_hello_id(it_conn_t *c, uint64_t *token, uint64_t *conn_id) {
  Arenad__Response *r = it_call(c, it_req_hello(1, "itest"), NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_OK);
  if (token != NULL)
    *token = r->hello->token;
  if (conn_id != NULL)
    *conn_id = r->hello->connection_id;
  it_resp_free(r);
}

int it_status(it_conn_t *c, Arenad__Request *request) {
  Arenad__Response *r = it_call(c, request, NULL);
  int st = (int)r->status;
  it_resp_free(r);
  return st;
}

void it_barrier(it_conn_t *c) {
  for (int i = 0; i < 2; i++)
    it_resp_free(it_call(c, it_req_ping(), NULL));
}
