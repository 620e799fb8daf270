/*
 * conn_harness.c: what the test_server_conn_* tests share, see
 * conn_harness.h: the allocator's wrappers, the fixture (a daemon with one
 * small arena and a connection without a socket), request frames built,
 * and the replies taken out of a connection's output.
 */
#include "conn_harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

bool nomem;
size_t nomem_refused;
void *__real_malloc(size_t n);
void *__real_calloc(size_t k, size_t n);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t k, size_t n);
void *__wrap_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n) {
  return nomem ? (nomem_refused++, NULL) : __real_malloc(n);
}
void *__wrap_calloc(size_t k, size_t n) {
  return nomem ? (nomem_refused++, NULL) : __real_calloc(k, n);
}
void *__wrap_realloc(void *p, size_t n) {
  return nomem ? (nomem_refused++, NULL) : __real_realloc(p, n);
}

int setup(void **state) {
  static const char text[] = "[daemon]\n"
                             "max_frame_bytes = 4K\n"
                             "max_in_flight = 4\n"
                             "output_pause_bytes = 4K\n"
                             "output_limit_bytes = 64K\n"
                             "max_blocks_per_request = 8\n"
                             "[arena a]\n"
                             "size = 1M\n"
                             "mode = 0666\n";
  fixture_t *f = calloc(1, sizeof(*f));
  char err[256];
  ad_log_set_level(AD_LOG_ERROR);
  ad_config_init(&f->cfg);
  FILE *in = fmemopen((void *)text, strlen(text), "r");
  assert_int_equal(ad_config_load_stream(&f->cfg, in, "t", err, sizeof(err)),
                   0);
  fclose(in);
  assert_int_equal(ad_config_finish(&f->cfg, err, sizeof(err)), 0);
  assert_int_equal(ad_daemon_init(&f->d, &f->cfg, err, sizeof(err)), 0);
  f->c = ad_conn_new(&f->d, -1, 42, 1000, 1000);
  assert_non_null(f->c);
  *state = f;
  return 0;
}

int teardown(void **state) {
  fixture_t *f = *state;
  ad_daemon_fini(&f->d); /* closes and frees the connection if still open */
  ad_config_fini(&f->cfg);
  free(f);
  return 0;
}

void add(bytes_t *b, Arenad__Request *req, uint64_t id) {
  req->id = id;
  size_t n = arenad__request__get_packed_size(req);
  b->p = realloc(b->p, b->n + AR_FRAME_PREFIX_MAX + n);
  b->n += ar_frame_encode(b->p + b->n, n);
  arenad__request__pack(req, b->p + b->n);
  b->n += n;
}

void add_ping(bytes_t *b, uint64_t id) {
  Arenad__PingRequest ping = ARENAD__PING_REQUEST__INIT;
  Arenad__Request req = ARENAD__REQUEST__INIT;
  req.body_case = ARENAD__REQUEST__BODY_PING;
  req.ping = &ping;
  add(b, &req, id);
}

void add_alloc_detached(bytes_t *b, uint64_t id, uint64_t size, uint32_t n,
                        bool detached) {
  Arenad__AllocRequest m = ARENAD__ALLOC_REQUEST__INIT;
  Arenad__Request req = ARENAD__REQUEST__INIT;
  m.arena = (char *)"a";
  m.size = size;
  m.count = n;
  m.detached = detached;
  req.body_case = ARENAD__REQUEST__BODY_ALLOC;
  req.alloc = &m;
  add(b, &req, id);
}

void add_alloc(bytes_t *b, uint64_t id, uint64_t size, uint32_t n) {
  add_alloc_detached(b, id, size, n, false);
}

void add_free(bytes_t *b, uint64_t id, const uint64_t *offsets, size_t n) {
  Arenad__FreeRequest m = ARENAD__FREE_REQUEST__INIT;
  Arenad__Request req = ARENAD__REQUEST__INIT;
  m.arena = (char *)"a";
  m.offsets = (uint64_t *)offsets;
  m.n_offsets = n;
  req.body_case = ARENAD__REQUEST__BODY_FREE;
  req.free = &m;
  add(b, &req, id);
}

size_t take(ad_conn_t *c, Arenad__Response **out, size_t max) {
  ar_buf_t *o = ad_conn_out(c);
  const uint8_t *p = ar_buf_data(o);
  size_t len = ar_buf_len(o), off = 0, n = 0;
  while (off < len) {
    ar_frame_t f;
    assert_int_equal(ar_frame_decode(p + off, len - off, 1 << 20, &f),
                     AR_FRAME_COMPLETE);
    assert_true(f.end - f.start <= c->d->cfg->max_frame_bytes);
    Arenad__Response *r =
        arenad__response__unpack(NULL, f.end - f.start, p + off + f.start);
    assert_non_null(r);
    if (n < max)
      out[n] = r;
    else
      arenad__response__free_unpacked(r, NULL);
    n++;
    off += f.end;
  }
  ad_conn_sent(c, len);
  return n;
}

void free_all(Arenad__Response **r, size_t n) {
  for (size_t i = 0; i < n; i++)
    arenad__response__free_unpacked(r[i], NULL);
}

void fill_blocks(fixture_t *f) {
  bytes_t b = {NULL, 0};
  Arenad__HelloRequest m = ARENAD__HELLO_REQUEST__INIT;
  Arenad__Request req = ARENAD__REQUEST__INIT;
  m.protocol_version = 1;
  m.client_name =
      (char *)"a client with a name of sixty characters, for large pages";
  req.body_case = ARENAD__REQUEST__BODY_HELLO;
  req.hello = &m;
  add(&b, &req, 99);
  for (int i = 0; i < 8; i++)
    add_alloc(&b, (uint64_t)i + 1, 16, 8);
  size_t used = 0;
  while (used < b.n) {
    used += ad_conn_input(f->c, b.p + used, b.n - used);
    take(f->c, NULL, 0);
  }
  free(b.p);
  assert_int_equal(f->c->holder.nholds, 64);
}

void add_create_made(bytes_t *b, uint64_t id) {
  Arenad__CreateArenaRequest m = ARENAD__CREATE_ARENA_REQUEST__INIT;
  Arenad__Request req = ARENAD__REQUEST__INIT;
  m.name = (char *)"made";
  m.size = 4096;
  m.policy = ARENAD__POLICY__POLICY_FIRST;
  req.body_case = ARENAD__REQUEST__BODY_CREATE_ARENA;
  req.create_arena = &m;
  add(b, &req, id);
}

ad_conn_t *socket_conn(fixture_t *f, int *peer, bool start) {
  int sv[2];
  assert_int_equal(
      socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv),
      0);
  ad_conn_t *c = ad_conn_new(&f->d, sv[0], 43, 1000, 1000); /* owns sv[0] */
  assert_non_null(c);
  if (start)
    assert_int_equal(ad_conn_start(c), 0);
  *peer = sv[1];
  return c;
}

void become_admin(fixture_t *f) {
  ad_conn_close(f->c, "test");
  ad_conn_free(f->c);
  f->c = ad_conn_new(&f->d, -1, 42, f->d.uid, f->d.uid);
  assert_non_null(f->c);
}

void add_inspect(bytes_t *b, uint64_t id, uint64_t cursor) {
  Arenad__InspectRequest m = ARENAD__INSPECT_REQUEST__INIT;
  Arenad__Request req = ARENAD__REQUEST__INIT;
  m.arena = (char *)"a";
  m.what = ARENAD__INSPECT_WHAT__INSPECT_BLOCKS;
  m.cursor = cursor;
  m.limit = 1000;
  req.body_case = ARENAD__REQUEST__BODY_INSPECT;
  req.inspect = &m;
  add(b, &req, id);
}
