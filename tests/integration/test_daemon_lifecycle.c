/*
 * test_daemon_lifecycle.c: arenad's start and end. SIGTERM with clients
 * connected and requests in flight: every request already sent is
 * answered, the clients see the end of the stream, the socket goes and
 * the exit status is 0. A stale socket file is replaced; a second daemon
 * on a live socket is refused with a clear message, as is a path that is
 * not a socket; a bad config file stops the start with its file and line,
 * and a --ready-fd of a standard stream stops it too;
 * the socket is created with the configured mode; a full daemon refuses
 * connections beyond max_connections with a reply. Requests still in the
 * socket at the signal are answered, a frame cut by it is dropped; an
 * arena larger than the memory there is stops the start, refused by the
 * daemon's memory check before anything is reserved. A client that reads
 * none of its replies holds the shutdown up for shutdown_timeout_ms at
 * most, and a second signal does not wait for it.
 */
#include "itest.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "ar/engine.h"

/* A round trip on c after which the daemon has handled whatever other
 * sockets had ready before it was sent (its loop takes every ready socket
 * of an epoll batch: the second round trip surely comes after them). */
static void barrier(it_conn_t *c) {
  for (int i = 0; i < 2; i++)
    it_resp_free(it_call(c, it_req_ping(), NULL));
}

/* Here and in test_sigterm_answers_unread the shutdown's deadline is far:
 * under valgrind on a loaded machine the replies left at the signal take
 * seconds (4.6 s seen, of the default 5 s), and a deadline that passes
 * first closes the connection before its last replies. The deadline itself
 * is test_shutdown_timeout's. */
static void test_sigterm_answers_then_exits(void **state) {
  (void)state;
  it_daemon_t d = {0};
  assert_int_equal(
      it_daemon_start(&d, "[daemon]\nshutdown_timeout_ms = 600000\n", NULL), 0);
  it_conn_t *idle = it_connect(d.sock);
  it_conn_t *busy = it_connect(d.sock);
  it_hello_ok(busy);
  for (int i = 0; i < 4; i++) {
    Arenad__Response *r =
        it_call(busy, it_req_alloc("default", 16, 0, 4096, false), NULL);
    it_assert_status(r, ARENAD__STATUS__STATUS_OK);
    it_resp_free(r);
  }

  /* Ten large replies (a page of 4096 blocks each, some 1.8 MB in all)
   * asked for and not read: more than the socket holds, so the daemon
   * still has replies to send when the signal comes. */
  enum { N = 10 };
  uint8_t *buf = NULL;
  size_t len = 0;
  for (int i = 0; i < N; i++) {
    Arenad__Request *q = it_req_inspect(
        "default", ARENAD__INSPECT_WHAT__INSPECT_BLOCKS, 0, 4096);
    it_frame_append_id(&buf, &len, q, 100 + (uint64_t)i);
  }
  it_send_raw(busy, buf, len);
  free(buf);
  barrier(idle);
  Arenad__Response *r = it_call(idle, it_req_stats(), NULL);
  assert_true(r->stats->requests_in_flight >= 1);
  it_resp_free(r);

  assert_int_equal(kill(d.pid, SIGTERM), 0);
  for (int i = 0; i < N; i++) {
    r = it_recv_reply(busy, 100 + (uint64_t)i, ARENAD__STATUS__STATUS_OK);
    assert_int_equal(r->inspect->n_extents, 4096);
    it_resp_free(r);
  }
  assert_int_equal(it_expect_eof(busy), 0);
  assert_int_equal(it_expect_eof(idle), 0);

  assert_int_equal(it_daemon_stop(&d, 0), 0); /* already going */
  struct stat st;
  assert_int_equal(lstat(d.sock, &st), -1);
  assert_int_equal(errno, ENOENT);
  assert_true(it_log_contains(&d, "info shutdown reason=SIGTERM"));
  assert_true(it_log_contains(&d, "blocks=16384 "));
  /* Each close line names its client, "" for one that sent no hello;
   * the hello itself is a debug line. */
  const char *named[] = {" info close ", " name=itest ", NULL};
  const char *unnamed[] = {" info close ", " name=\"\" ", NULL};
  assert_true(it_log_line(&d, named));
  assert_true(it_log_line(&d, unnamed));
  assert_false(it_log_contains(&d, " hello "));
  it_close(idle);
  it_close(busy);
  it_daemon_cleanup(&d);
}

/* A ping padded with an unknown bytes field of `pad` (200 to 4000) bytes
 * (a newer client's field: skipped by the daemon), appended to buf as a
 * frame. protobuf-c packs an unknown field's data as it is: for a
 * length-prefixed one, the length comes first. */
static void append_padded_ping(uint8_t **buf, size_t *len, uint64_t id,
                               size_t pad) {
  static uint8_t junk[4096];
  size_t n = pad - 2; /* two varint bytes hold 128 to 16383 */
  junk[0] = (uint8_t)(0x80 | (n & 0x7f));
  junk[1] = (uint8_t)(n >> 7);
  ProtobufCMessageUnknownField uf = {
      .tag = 1000,
      .wire_type = PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED,
      .len = pad,
      .data = junk,
  };
  Arenad__Request *q = it_req_ping();
  q->id = id;
  q->base.n_unknown_fields = 1;
  q->base.unknown_fields = &uf;
  it_frame_append(buf, len, q);
  q->base.n_unknown_fields = 0;
  q->base.unknown_fields = NULL;
}

/* Requests still waiting in the socket when the signal comes (the daemon
 * had stopped reading them: flow control) are answered too; nothing the
 * client sent before the signal goes unanswered. */
static void test_sigterm_answers_unread(void **state) {
  (void)state;
  it_daemon_t d = {0};
  assert_int_equal(it_daemon_start(&d,
                                   "[daemon]\n"
                                   "read_chunk = 4K\n"
                                   "output_pause_bytes = 64K\n"
                                   "output_limit_bytes = 2M\n"
                                   "shutdown_timeout_ms = 600000\n"
                                   "[arena a]\n"
                                   "size = 4M\n",
                                   NULL),
                   0);
  it_conn_t *idle = it_connect(d.sock);
  it_conn_t *busy = it_connect(d.sock);
  it_hello_ok(busy);
  Arenad__Response *r =
      it_call(busy, it_req_alloc("a", 16, 0, 4096, false), NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_OK);
  it_resp_free(r);

  /* 8 pages of some 200 KB each, which the socket cannot hold unread,
   * then 200 pings of 400 bytes: the daemon reads 4K, answers a page or
   * two and stops reading, most pings still in its socket. */
  enum { PAGES = 8, PINGS = 200 };
  uint8_t *buf = NULL;
  size_t len = 0;
  for (int i = 0; i < PAGES; i++) {
    Arenad__Request *q =
        it_req_inspect("a", ARENAD__INSPECT_WHAT__INSPECT_BLOCKS, 0, 4096);
    it_frame_append_id(&buf, &len, q, 100 + (uint64_t)i);
  }
  for (int i = 0; i < PINGS; i++)
    append_padded_ping(&buf, &len, 1000 + (uint64_t)i, 400);
  r = it_call(idle, it_req_stats(), NULL);
  uint64_t bytes_in = r->stats->bytes_in;
  it_resp_free(r);
  it_send_raw(busy, buf, len);
  free(buf);
  /* Until the daemon has paused busy (it answers a page a turn while
   * pages take longer than turn_budget_us, as under valgrind). */
  bool paused = false;
  for (int i = 0; i < 1000 && !paused; i++) {
    barrier(idle);
    r = it_call(idle, it_req_stats(), NULL);
    paused = r->stats->output_throttled >= 1;
    /* Not everything was read: some is waiting in the socket. */
    assert_true(r->stats->bytes_in - bytes_in < len);
    it_resp_free(r);
  }
  assert_true(paused);

  assert_int_equal(kill(d.pid, SIGTERM), 0);
  for (int i = 0; i < PAGES + PINGS; i++) {
    r = it_recv(busy, NULL);
    if (r == NULL)
      fail_msg("the stream ended after %d of %d replies", i, PAGES + PINGS);
    it_assert_status(r, ARENAD__STATUS__STATUS_OK);
    if (i < PAGES) {
      assert_int_equal(r->id, 100 + (uint64_t)i);
      assert_int_equal(r->inspect->n_extents, 4096);
    } else {
      assert_int_equal(r->id, 1000 + (uint64_t)(i - PAGES));
      assert_int_equal(r->body_case, ARENAD__RESPONSE__BODY_PING);
    }
    it_resp_free(r);
  }
  assert_int_equal(it_expect_eof(busy), 0);
  assert_int_equal(it_expect_eof(idle), 0);
  assert_int_equal(it_daemon_stop(&d, 0), 0);
  assert_true(it_log_contains(&d, "reason=shutdown"));
  assert_true(it_log_contains(&d, "blocks=4096 "));
  it_close(idle);
  it_close(busy);
  it_daemon_cleanup(&d);
}

/* Starts a daemon with shutdown_timeout_ms = `timeout_ms` and a client
 * that holds 4096 blocks and has asked for 8 pages of them (some 1.6 MB of
 * replies, more than its socket holds) without reading any: at a signal,
 * the daemon cannot flush it. Returns the client. */
static it_conn_t *stalled_reader(it_daemon_t *d, unsigned timeout_ms) {
  char config[256];
  snprintf(config, sizeof(config),
           "[daemon]\nshutdown_timeout_ms = %u\n[arena a]\nsize = 4M\n",
           timeout_ms);
  assert_int_equal(it_daemon_start(d, config, NULL), 0);
  it_conn_t *c = it_connect(d->sock);
  it_hello_ok(c);
  Arenad__Response *r = it_call(c, it_req_alloc("a", 16, 0, 4096, false), NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_OK);
  it_resp_free(r);
  uint8_t *buf = NULL;
  size_t len = 0;
  for (int i = 0; i < 8; i++)
    it_frame_append(
        &buf, &len,
        it_req_inspect("a", ARENAD__INSPECT_WHAT__INSPECT_BLOCKS, 0, 4096));
  it_conn_t *other = it_connect(d->sock);
  it_send_raw(c, buf, len);
  free(buf);
  barrier(other); /* the daemon has read the pages' requests */
  it_close(other);
  return c;
}

/* A client that does not read its replies holds the shutdown up for
 * shutdown_timeout_ms at most; then it is closed and its blocks
 * reclaimed, and arenad exits 0. */
static void test_shutdown_timeout(void **state) {
  (void)state;
  it_daemon_t d = {0};
  it_conn_t *c = stalled_reader(&d, 300);
  assert_int_equal(it_daemon_stop(&d, SIGTERM), 0);
  assert_true(it_log_contains(&d, "warn shutdown-timeout conns=1"));
  assert_true(it_log_contains(&d, "blocks=4096 "));
  it_close(c);
  it_daemon_cleanup(&d);
}

/* A second signal does not wait for the timeout (an hour here): what is
 * left is closed at once. */
static void test_second_signal(void **state) {
  (void)state;
  it_daemon_t d = {0};
  it_conn_t *c = stalled_reader(&d, 3600000);
  assert_int_equal(kill(d.pid, SIGTERM), 0);
  for (int i = 0; i < IT_TIMEOUT_S * 100 &&
                  !it_log_contains(&d, "info shutdown reason=SIGTERM");
       i++)
    usleep(10000);
  assert_true(it_log_contains(&d, "info shutdown reason=SIGTERM"));
  assert_int_equal(it_daemon_stop(&d, SIGTERM), 0); /* fails after 30 s */
  assert_true(it_log_contains(&d, "warn shutdown-forced reason=SIGTERM"));
  assert_true(it_log_contains(&d, "blocks=4096 "));
  it_close(c);
  it_daemon_cleanup(&d);
}

/* Requests sent after the signal are not read: the client sees its
 * replies to what came before, then the end. A client mid-frame too. */
static void test_sigterm_mid_frame(void **state) {
  (void)state;
  it_daemon_t d = {0};
  assert_int_equal(it_daemon_start(&d, NULL, NULL), 0);
  it_conn_t *c = it_connect(d.sock);
  uint8_t *buf = NULL;
  size_t len = 0;
  Arenad__Request *q = it_req_ping();
  it_frame_append_id(&buf, &len, q, 7);
  size_t first = len;
  q = it_req_alloc("default", 64, 0, 1, false);
  it_frame_append_id(&buf, &len, q, 8);
  /* The ping and half the alloc, then the signal. */
  it_send_raw(c, buf, first + (len - first) / 2);
  it_conn_t *other = it_connect(d.sock);
  barrier(other);
  it_close(other);
  assert_int_equal(kill(d.pid, SIGTERM), 0);
  Arenad__Response *r = it_recv(c, NULL);
  assert_non_null(r);
  assert_int_equal(r->id, 7);
  it_resp_free(r);
  assert_int_equal(it_expect_eof(c), 0); /* the cut frame is dropped */
  free(buf);
  it_close(c);
  assert_int_equal(it_daemon_stop(&d, 0), 0);
  it_daemon_cleanup(&d);
}

/* An arena larger than the memory there is: refused by the daemon's own
 * check before anything is reserved, with the arena, its size and what is
 * available in the message. (Only the check is exercised: the launcher
 * also caps the daemon's files at 1 GiB, so even a broken check could not
 * reserve a terabyte.) */
static void test_too_large_arena_refused(void **state) {
  (void)state;
  it_daemon_t d = {0};
  static const char *const huge[] = {"--arena", "huge:1024G:best", NULL};
  assert_int_equal(it_daemon_start(&d, NULL, huge), 1);
  assert_true(it_log_contains(&d, "error start-failed"));
  assert_true(it_log_contains(&d, "arena 'huge' (--arena huge:1024G:best): "
                                  "1T (1099511627776 bytes) does not fit"));
  assert_true(it_log_contains(&d, "can be reserved"));
  assert_true(it_log_contains(&d, "nothing was reserved"));
  assert_false(it_log_contains(&d, "File too large")); /* not the rlimit */
  struct stat st;
  assert_int_equal(lstat(d.sock, &st), -1);
  it_daemon_cleanup(&d);

  /* From a file: its name and line. */
  memset(&d, 0, sizeof(d));
  assert_int_equal(it_daemon_start(&d, "[arena small]\n"
                                       "size = 1M\n"
                                       "[arena huge]\n"
                                       "size = 1024G\n",
                                   NULL),
                   1);
  assert_true(it_log_contains(&d, "the 2 arenas together"));
  assert_true(it_log_contains(&d, "does not fit"));
  it_daemon_cleanup(&d);

  memset(&d, 0, sizeof(d));
  assert_int_equal(it_daemon_start(&d, "[arena huge]\n"
                                       "size = 1024G\n",
                                   NULL),
                   1);
  assert_true(it_log_contains(&d, "arena 'huge' ("));
  assert_true(it_log_contains(&d, "arenad.conf:2): 1T"));
  it_daemon_cleanup(&d);
}

static void test_sigint(void **state) {
  (void)state;
  it_daemon_t d = {0};
  assert_int_equal(it_daemon_start(&d, NULL, NULL), 0);
  assert_int_equal(it_daemon_stop(&d, SIGINT), 0);
  assert_true(it_log_contains(&d, "reason=SIGINT"));
  it_daemon_cleanup(&d);
}

/* SIGHUP is logged and ignored: the daemon goes on answering, and a later
 * SIGTERM still ends it cleanly. */
static void test_sighup_ignored(void **state) {
  (void)state;
  it_daemon_t d = {0};
  assert_int_equal(it_daemon_start(&d, NULL, NULL), 0);
  it_conn_t *c = it_connect(d.sock);
  assert_int_equal(kill(d.pid, SIGHUP), 0);
  /* Up to IT_TIMEOUT_S: a busy machine may run the handler late. */
  for (int i = 0;
       i < IT_TIMEOUT_S * 1000 && !it_log_contains(&d, "signal-ignored"); i++)
    usleep(1000);
  assert_true(it_log_contains(&d, "warn signal-ignored signal=SIGHUP"));
  it_resp_free(it_call(c, it_req_ping(), NULL));
  it_close(c);
  assert_int_equal(it_daemon_stop(&d, SIGTERM), 0);
  it_daemon_cleanup(&d);
}

/* The exit line says what goes with the arenas: after the shutdown has
 * reclaimed the blocks of the connection still open (one), the live
 * blocks left are the detached ones (two). */
static void test_exit_line(void **state) {
  (void)state;
  it_daemon_t d = {0};
  assert_int_equal(it_daemon_start(&d, "[arena a]\nsize = 1M\n", NULL), 0);
  it_conn_t *c = it_connect(d.sock);
  it_hello_ok(c);
  it_alloc_n_ok(c, "a", 100, 2, true, NULL);
  it_alloc_ok(c, "a", 100);
  assert_int_equal(it_daemon_stop(&d, SIGTERM), 0);
  const char *line[] = {" info exit status=0 ",
                        " reclaimed_blocks=1 live_blocks=2 detached_blocks=2",
                        NULL};
  if (!it_log_line(&d, line))
    fail_msg("no exit line with the blocks left (log: %s)", d.log);
  it_close(c);
  it_daemon_cleanup(&d);
}

/* A SIGTERM that comes while the daemon starts (before its handlers are
 * in place) is held back and stops the daemon cleanly before it listens:
 * exit 0, never ready, no socket. Here it is pending from the exec on.
 * Before, it killed a daemon half started, was dropped when the daemon ran
 * as PID 1 of a container, and, as here, stayed blocked for ever while the
 * daemon served on. */
static void test_sigterm_during_start(void **state) {
  (void)state;
  it_daemon_t d;
  it_daemon_prepare(&d);
  d.pending_signal = SIGTERM;
  assert_int_equal(it_daemon_start(&d, NULL, NULL), 0);
  if (d.pid != 0)
    fail_msg("arenad became ready with SIGTERM pending (log: %s)", d.log);
  assert_true(
      it_log_contains(&d, "info shutdown reason=SIGTERM before=listen"));
  assert_true(it_log_contains(&d, "info exit status=0"));
  assert_int_equal(access(d.sock, F_OK), -1);
  it_daemon_cleanup(&d);
}

/* The instance hello gives: d's connection c's. */
static uint64_t hello_instance(it_daemon_t *d) {
  it_conn_t *c = it_connect(d->sock);
  Arenad__Response *r = it_call(c, it_req_hello(1, "instance"), NULL);
  it_assert_status(r, ARENAD__STATUS__STATUS_OK);
  uint64_t instance = r->hello->instance;
  it_resp_free(r);
  it_close(c);
  return instance;
}

/* Hello names the daemon's run: one value, never 0, for every connection;
 * another once the daemon has restarted (with new, empty arenas). */
static void test_instance_changes_on_restart(void **state) {
  (void)state;
  it_daemon_t d = {0};
  assert_int_equal(it_daemon_start(&d, NULL, NULL), 0);
  uint64_t first = hello_instance(&d);
  assert_true(first != 0);
  assert_true(hello_instance(&d) == first);
  assert_int_equal(it_daemon_stop(&d, SIGTERM), 0);
  assert_int_equal(it_daemon_start(&d, NULL, NULL), 0);
  uint64_t second = hello_instance(&d);
  assert_true(second != 0 && second != first);
  assert_int_equal(it_daemon_stop(&d, SIGTERM), 0);
  it_daemon_cleanup(&d);
}

/* The socket's path is logged as a value like any other: quoted, since
 * this one holds a space. */
static void test_stale_socket_replaced(void **state) {
  (void)state;
  it_daemon_t d;
  it_daemon_prepare(&d);
  snprintf(d.sock, sizeof(d.sock), "%s/a b.sock", d.dir);
  /* A socket file nobody listens on: bound, then closed. */
  int fd = it_bind_unix(d.sock, NULL);
  close(fd);

  assert_int_equal(it_daemon_start(&d, NULL, NULL), 0);
  char line[256];
  snprintf(line, sizeof(line), " info stale-socket path=\"%s\" removed=1\n",
           d.sock);
  assert_true(it_log_contains(&d, line));
  snprintf(line, sizeof(line), " info listen path=\"%s\" mode=", d.sock);
  assert_true(it_log_contains(&d, line));
  it_conn_t *c = it_connect(d.sock);
  it_resp_free(it_call(c, it_req_ping(), NULL));
  it_close(c);
  assert_int_equal(it_daemon_stop(&d, SIGTERM), 0);
  snprintf(line, sizeof(line), " info unlisten path=\"%s\"\n", d.sock);
  assert_true(it_log_contains(&d, line));
  it_daemon_cleanup(&d);
}

static void test_second_daemon_refused(void **state) {
  (void)state;
  it_daemon_t first = {0};
  assert_int_equal(it_daemon_start(&first, NULL, NULL), 0);
  it_conn_t *c = it_connect(first.sock);

  /* Same directory, same socket, its own log. */
  it_daemon_t second = first;
  second.pid = 0;
  snprintf(second.log, sizeof(second.log), "%s/second.log", first.dir);
  int st = it_daemon_start(&second, NULL, NULL);
  assert_int_equal(st, 1);
  assert_true(it_log_contains(&second, "another arenad is running on"));
  /* Refused before it reserved any memory. */
  assert_false(it_log_contains(&second, "info arena "));
  unlink(second.log);

  /* The first is untouched, its clients too. */
  it_resp_free(it_call(c, it_req_ping(), NULL));
  it_close(c);
  assert_int_equal(it_daemon_stop(&first, SIGTERM), 0);
  it_daemon_cleanup(&first);
}

static void test_live_socket_without_lock_refused(void **state) {
  (void)state;
  /* Something answers on the path but holds no lock (another program, an
   * older daemon): still not replaced. */
  it_daemon_t d;
  it_daemon_prepare(&d);
  int fd = it_bind_unix(d.sock, NULL);
  assert_int_equal(listen(fd, 4), 0);
  assert_int_equal(it_daemon_start(&d, NULL, NULL), 1);
  assert_true(it_log_contains(&d, "another daemon is answering on"));
  struct stat st;
  assert_int_equal(lstat(d.sock, &st), 0); /* left alone */
  close(fd);
  it_daemon_cleanup(&d);
}

/* A listener whose backlog is full answers a nonblocking connect with
 * EAGAIN: it is alive all the same, and not replaced. */
static void test_full_backlog_refused(void **state) {
  (void)state;
  it_daemon_t d;
  it_daemon_prepare(&d);
  struct sockaddr_un sa;
  int fd = it_bind_unix(d.sock, &sa);
  assert_int_equal(listen(fd, 0), 0);
  int pending[64], n = 0;
  for (; n < 64; n++) {
    pending[n] = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (connect(pending[n], (struct sockaddr *)&sa, sizeof(sa)) < 0) {
      assert_int_equal(errno, EAGAIN);
      break;
    }
  }
  assert_true(n < 64); /* full */
  assert_int_equal(it_daemon_start(&d, NULL, NULL), 1);
  assert_true(it_log_contains(&d, "another daemon is answering on"));
  struct stat st;
  assert_int_equal(lstat(d.sock, &st), 0); /* left alone */
  for (int i = 0; i <= n; i++)
    close(pending[i]);
  close(fd);
  it_daemon_cleanup(&d);
}

/* A daemon removes only the socket file it made: one put in its place
 * since (by hand, or by a later daemon) stays when it stops. */
static void test_replaced_socket_left(void **state) {
  (void)state;
  it_daemon_t d = {0};
  assert_int_equal(it_daemon_start(&d, NULL, NULL), 0);
  assert_int_equal(unlink(d.sock), 0);
  int fd = it_bind_unix(d.sock, NULL);
  struct stat before, after;
  assert_int_equal(lstat(d.sock, &before), 0);
  assert_int_equal(it_daemon_stop(&d, SIGTERM), 0);
  assert_int_equal(lstat(d.sock, &after), 0);
  assert_int_equal(after.st_ino, before.st_ino);
  close(fd);
  it_daemon_cleanup(&d);
}

static void test_not_a_socket_refused(void **state) {
  (void)state;
  it_daemon_t d;
  it_daemon_prepare(&d);
  FILE *f = fopen(d.sock, "w");
  fputs("precious", f);
  fclose(f);
  assert_int_equal(it_daemon_start(&d, NULL, NULL), 1);
  assert_true(it_log_contains(&d, "exists and is not a socket"));
  char buf[16] = {0};
  f = fopen(d.sock, "r");
  assert_non_null(fgets(buf, sizeof(buf), f));
  fclose(f);
  assert_string_equal(buf, "precious");
  it_daemon_cleanup(&d);
}

/* A socket whose lock file cannot be made: a missing directory is named
 * as such; a directory that exists but takes no new file (/proc answers
 * ENOENT too) gets open's own error. */
static void test_socket_directory(void **state) {
  (void)state;
  it_daemon_t d;
  it_daemon_prepare(&d);
  char missing[192];
  snprintf(missing, sizeof(missing), "%s/nowhere/arenad.sock", d.dir);
  const char *const in_missing[] = {"--socket", missing, NULL};
  assert_int_equal(it_daemon_start(&d, NULL, in_missing), 1);
  assert_true(it_log_contains(&d, "the socket's directory "));
  assert_true(it_log_contains(&d, "/nowhere does not exist"));
  it_daemon_cleanup(&d);

  it_daemon_prepare(&d);
  const char *const in_proc[] = {"--socket", "/proc/arenad-test.sock", NULL};
  assert_int_equal(it_daemon_start(&d, NULL, in_proc), 1);
  assert_true(it_log_contains(
      &d, "cannot open the lock file /proc/arenad-test.sock.lock: "));
  assert_false(it_log_contains(&d, "does not exist"));
  it_daemon_cleanup(&d);
}

static void test_bad_config(void **state) {
  (void)state;
  it_daemon_t d = {0};
  assert_int_equal(it_daemon_start(&d, "[daemon]\n"
                                       "max_connections = 10\n"
                                       "max_conections = 20\n",
                                   NULL),
                   2);
  assert_true(it_log_contains(&d, "arenad.conf:3:"));
  assert_true(it_log_contains(&d, "max_conections"));
  struct stat st;
  assert_int_equal(lstat(d.sock, &st), -1);
  it_daemon_cleanup(&d);

  memset(&d, 0, sizeof(d));
  static const char *const bad_arena[] = {"--arena", "x:12345", NULL};
  assert_int_equal(it_daemon_start(&d, NULL, bad_arena), 2);
  assert_true(it_log_contains(&d, "not a multiple of 4096"));
  it_daemon_cleanup(&d);
}

/* --ready-fd naming a standard stream is refused (exit 2, before the
 * socket is made): closed once written, its number would go to the next
 * client's socket, and the log would write into it. */
static void test_ready_fd_standard_stream(void **state) {
  (void)state;
  static const char *const to_stderr[] = {"--ready-fd", "2", NULL};
  it_daemon_t d = {0};
  assert_int_equal(it_daemon_start(&d, NULL, to_stderr), 2);
  assert_true(it_log_contains(&d, "--ready-fd 2: a standard stream"));
  struct stat st;
  assert_int_equal(lstat(d.sock, &st), -1);
  it_daemon_cleanup(&d);
}

/* Started with its standard streams closed (`<&- >&- 2>&-`), arenad puts
 * /dev/null there before it opens anything: otherwise its lock file,
 * socket or an arena's memfd would take their numbers, and what it logs
 * would be written into them (into the segment, at a memfd's offset 0). */
static void test_closed_standard_streams(void **state) {
  (void)state;
  /* A wrapper (valgrind) would start with them closed, not arenad, and
   * report nowhere. */
  if (getenv("IT_DAEMON_WRAPPER") != NULL)
    skip();
  it_daemon_t d = {0};
  it_daemon_prepare(&d);
  d.closed_stdio = true;
  static const char *const debug[] = {"--log-level", "debug", NULL};
  assert_int_equal(it_daemon_start(&d, NULL, debug), 0);
  it_conn_t *c = it_connect(d.sock);
  it_hello_ok(c);
  uint64_t off = it_alloc_ok(c, "default", 100);
  for (int fd = 0; fd <= 2; fd++) {
    char target[256];
    assert_true(it_fd_target(d.pid, fd, target, sizeof target));
    assert_string_equal(target, "/dev/null");
  }
  /* The segment's first bytes are the block's header, not a log line. */
  size_t size;
  uint8_t *base = it_map_arena(c, "default", &size);
  assert_int_equal(off, AR_HDR);
  ar_header_t h;
  memcpy(&h, base, sizeof h);
  assert_int_equal(h.magic, AR_HDR_MAGIC);
  assert_int_equal(h.size, 100);
  munmap(base, size);
  it_close(c);
  assert_int_equal(it_daemon_stop(&d, SIGTERM), 0);
  it_daemon_cleanup(&d);
}

/* The descriptor limit is checked at start-up against what the connections
 * and the arenas may need: one connection (a socket, 16 descriptors queued
 * for it), 256 arenas of two descriptors each, and 64 to spare make 593,
 * more than a limit of 200 gives and less than 1024 does. */
static void test_fd_limit_warning(void **state) {
  (void)state;
  /* prlimit in place of a wrapper (valgrind) the run may have set */
  const char *wrapper = getenv("IT_DAEMON_WRAPPER");
  char saved[512] = "";
  if (wrapper != NULL)
    snprintf(saved, sizeof saved, "%s", wrapper);
  const char *const limits[] = {"prlimit --nofile=200:200",
                                "prlimit --nofile=1024:1024"};
  for (int i = 0; i < 2; i++) {
    it_daemon_t d = {0};
    setenv("IT_DAEMON_WRAPPER", limits[i], 1);
    int rc = it_daemon_start(&d, "[daemon]\nmax_connections = 1\n", NULL);
    if (wrapper != NULL)
      setenv("IT_DAEMON_WRAPPER", saved, 1);
    else
      unsetenv("IT_DAEMON_WRAPPER");
    assert_int_equal(rc, 0);
    bool warned = it_log_contains(&d, "fd-limit limit=200 wanted=593");
    assert_int_equal(it_daemon_stop(&d, SIGTERM), 0);
    it_daemon_cleanup(&d);
    if (warned != (i == 0))
      fail_msg("%s: the fd-limit warning was%s logged", limits[i],
               warned ? "" : " not");
  }
}

/* A socket whose directory anyone may write gets a warning at start-up
 * (another user could take its name while the daemon is down), naming the
 * directory (quoted: it holds a space); one in a directory that only its
 * group may also write gets none, nor does one in a private directory, at
 * the default mode, about either. */
static void test_socket_dir_writable_by_others(void **state) {
  (void)state;
  it_daemon_t d = {0};
  it_daemon_prepare(&d);
  char open_dir[96], line[160];
  snprintf(open_dir, sizeof(open_dir), "%s/open dir", d.dir);
  assert_int_equal(mkdir(open_dir, 0700), 0);
  assert_int_equal(chmod(open_dir, 01777), 0);
  snprintf(d.sock, sizeof(d.sock), "%s/arenad.sock", open_dir);
  assert_int_equal(it_daemon_start(&d, NULL, NULL), 0);
  snprintf(line, sizeof(line), " warn socket-dir dir=\"%s\" mode=1777 ",
           open_dir);
  assert_true(it_log_contains(&d, line));
  assert_int_equal(it_daemon_stop(&d, SIGTERM), 0);
  it_daemon_cleanup(&d);

  it_daemon_t shared = {0};
  it_daemon_prepare(&shared);
  snprintf(open_dir, sizeof(open_dir), "%s/group dir", shared.dir);
  assert_int_equal(mkdir(open_dir, 0700), 0);
  assert_int_equal(chmod(open_dir, 02770), 0);
  snprintf(shared.sock, sizeof(shared.sock), "%s/arenad.sock", open_dir);
  assert_int_equal(it_daemon_start(&shared, NULL, NULL), 0);
  assert_int_equal(it_daemon_stop(&shared, SIGTERM), 0);
  assert_false(it_log_contains(&shared, "socket-dir"));
  it_daemon_cleanup(&shared);

  it_daemon_t quiet = {0};
  assert_int_equal(it_daemon_start(&quiet, NULL, NULL), 0);
  assert_int_equal(it_daemon_stop(&quiet, SIGTERM), 0);
  assert_false(it_log_contains(&quiet, "socket-dir"));
  assert_false(it_log_contains(&quiet, "socket-mode"));
  it_daemon_cleanup(&quiet);
}

/* A socket mode without the owner's write bit keeps clients of the
 * daemon's uid out (connecting needs write permission on the socket):
 * warned at start-up, not refused (root connects whatever the mode, as
 * this test does). The default mode gets no warning (checked in
 * test_socket_dir_writable_by_others). */
static void test_socket_mode_keeps_clients_out(void **state) {
  (void)state;
  static const struct {
    const char *mode, *warning;
  } cases[] = {
      {"0066", "mode=0066 error=\"clients of arenad's own uid cannot "
               "connect: connecting needs write permission on the socket\""},
      {"0444", "mode=0444 error=\"no client but root can connect"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char conf[64];
    snprintf(conf, sizeof conf, "[daemon]\nsocket_mode = %s\n", cases[i].mode);
    it_daemon_t d = {0};
    assert_int_equal(it_daemon_start(&d, conf, NULL), 0);
    it_conn_t *c = it_connect(d.sock);
    it_resp_free(it_call(c, it_req_ping(), NULL));
    it_close(c);
    assert_int_equal(it_daemon_stop(&d, SIGTERM), 0);
    if (!it_log_contains(&d, "warn socket-mode ") ||
        !it_log_contains(&d, cases[i].warning))
      fail_msg("socket_mode %s: no warning \"%s\"", cases[i].mode,
               cases[i].warning);
    it_daemon_cleanup(&d);
  }
}

static void test_socket_mode_and_limit(void **state) {
  (void)state;
  it_daemon_t d = {0};
  assert_int_equal(it_daemon_start(&d, "[daemon]\n"
                                       "socket_mode = 0660\n"
                                       "max_connections = 2\n",
                                   NULL),
                   0);
  struct stat st;
  assert_int_equal(lstat(d.sock, &st), 0);
  assert_true(S_ISSOCK(st.st_mode));
  assert_int_equal(st.st_mode & 0777, 0660);

  it_conn_t *a = it_connect(d.sock), *b = it_connect(d.sock);
  it_resp_free(it_call(a, it_req_ping(), NULL));
  it_resp_free(it_call(b, it_req_ping(), NULL));
  it_conn_t *c = it_connect(d.sock); /* the third: refused, with a reply */
  Arenad__Response *r = it_recv(c, NULL);
  assert_non_null(r);
  it_assert_status(r, ARENAD__STATUS__STATUS_LIMIT_EXCEEDED);
  it_resp_free(r);
  assert_int_equal(it_expect_eof(c), 0);
  it_close(c);
  r = it_call(a, it_req_stats(), NULL);
  assert_int_equal(r->stats->connections_refused_limit, 1);
  /* its reply counts among the errors, as every error reply does */
  assert_int_equal(r->stats->errors->limit_exceeded, 1);
  it_resp_free(r);
  it_close(a);
  it_close(b);
  assert_int_equal(it_daemon_stop(&d, SIGTERM), 0);
  it_daemon_cleanup(&d);
}

/* The socket from $ARENAD_SOCKET, and the default in $XDG_RUNTIME_DIR. */
static void test_socket_from_environment(void **state) {
  (void)state;
  for (int via = IT_SOCK_ENV; via <= IT_SOCK_XDG; via++) {
    it_daemon_t d;
    it_daemon_prepare(&d);
    d.sock_via = via;
    assert_int_equal(it_daemon_start(&d, NULL, NULL), 0);
    it_conn_t *c = it_connect(d.sock); /* dir/arenad.sock either way */
    Arenad__Response *r = it_call(c, it_req_list(), NULL);
    it_assert_status(r, ARENAD__STATUS__STATUS_OK);
    assert_int_equal(r->list->n_arenas, 1); /* the built-in default */
    assert_string_equal(r->list->arenas[0]->name, "default");
    assert_int_equal(r->list->arenas[0]->size, 64u << 20);
    it_resp_free(r);
    it_close(c);
    assert_int_equal(it_daemon_stop(&d, SIGTERM), 0);
    it_daemon_cleanup(&d);
  }
}

/* StatsReply.uptime_ms counts from the daemon's start: no more than the
 * time since it was launched, and it grows as time passes. */
static void test_uptime(void **state) {
  (void)state;
  it_daemon_t d = {0};
  it_daemon_prepare(&d);
  double t0 = it_now_ms();
  assert_int_equal(it_daemon_start(&d, NULL, NULL), 0);
  it_conn_t *c = it_connect(d.sock);
  it_hello_ok(c);
  uint64_t up = it_stat(c, "uptime_ms");
  int64_t since = (int64_t)(it_now_ms() - t0);
  assert_true((int64_t)up <= since + 1);
  usleep(200 * 1000);
  assert_true(it_stat(c, "uptime_ms") >= up + 200);
  it_close(c);
  assert_int_equal(it_daemon_stop(&d, SIGTERM), 0);
  it_daemon_cleanup(&d);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_uptime),
      cmocka_unit_test(test_sigterm_answers_then_exits),
      cmocka_unit_test(test_sigterm_answers_unread),
      cmocka_unit_test(test_sigterm_mid_frame),
      cmocka_unit_test(test_shutdown_timeout),
      cmocka_unit_test(test_second_signal),
      cmocka_unit_test(test_too_large_arena_refused),
      cmocka_unit_test(test_sigint),
      cmocka_unit_test(test_sigterm_during_start),
      cmocka_unit_test(test_instance_changes_on_restart),
      cmocka_unit_test(test_sighup_ignored),
      cmocka_unit_test(test_exit_line),
      cmocka_unit_test(test_stale_socket_replaced),
      cmocka_unit_test(test_full_backlog_refused),
      cmocka_unit_test(test_replaced_socket_left),
      cmocka_unit_test(test_second_daemon_refused),
      cmocka_unit_test(test_live_socket_without_lock_refused),
      cmocka_unit_test(test_not_a_socket_refused),
      cmocka_unit_test(test_socket_directory),
      cmocka_unit_test(test_bad_config),
      cmocka_unit_test(test_ready_fd_standard_stream),
      cmocka_unit_test(test_closed_standard_streams),
      cmocka_unit_test(test_fd_limit_warning),
      cmocka_unit_test(test_socket_dir_writable_by_others),
      cmocka_unit_test(test_socket_mode_keeps_clients_out),
      cmocka_unit_test(test_socket_mode_and_limit),
      cmocka_unit_test(test_socket_from_environment),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
