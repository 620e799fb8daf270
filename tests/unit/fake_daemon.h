/*
 * fake_daemon.h: the daemon that the test_client_* tests play to the
 * client library on a socketpair, so that what a real daemon never sends
 * can be sent. The library is driven through its public header only
 * (setup makes a handle of one end with arenad_open_fd); the test plays
 * the daemon on the other end with the generated protobuf code. Replies
 * are written before the call that reads them (the socket buffers them),
 * and the request is read and checked after it, so no thread is needed; a
 * reply that must come while the library waits (a non-blocking socket) is
 * written by a child process (act_later).
 *
 * What the send_* functions are given (the response, offsets, statuses,
 * indices, descriptors) stays the caller's: it is only read, to pack it or
 * to send a copy. Include this header first: it brings cmocka.h and the
 * standard headers cmocka needs before it.
 */
#ifndef AR_TESTS_FAKE_DAEMON_H
#define AR_TESTS_FAKE_DAEMON_H

/* cmocka.h needs these first */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <sys/types.h>

#include "arenad.h"
#include "arenad.pb-c.h"

/* A test's state: a handle on one end of a socketpair, the fake daemon on
 * the other. */
typedef struct fixture_s {
  arenad_t *h;
  int cli; /* the library's end, owned by h */
  int srv; /* the fake daemon's end */
  int fds_before;
} fixture_t;

/* cmocka setup and teardown of a fixture_t, which setup allocates and
 * teardown closes and frees. Every test ends with no descriptor left
 * behind: the library closes what it received and did not keep, and
 * closes the socket. */
int setup(void **state);
int teardown(void **state);

/* Writes raw bytes p[0..n), with the descriptors fds[0..nfds) (none when
 * nfds is 0) attached. */
void send_raw(int srv, const void *p, size_t n, const int *fds, size_t nfds);

/* Sends r as one frame, with nfds descriptors. */
void send_reply_fds(int srv, const Arenad__Response *r, const int *fds,
                    size_t nfds);
void send_reply(int srv, const Arenad__Response *r);

/* Writes buf[0..n) to srv ms milliseconds from now, from a child process,
 * or shuts srv down (both ways) when buf is NULL, so that it comes while
 * the library waits. Returns the child, to be reaped with wait_child. The
 * child only sleeps, acts and exits: no cmocka. */
pid_t act_later(int srv, int ms, const uint8_t *buf, size_t n);

/* Reaps a child of act_later: it must have done what it was to do. */
void wait_child(pid_t pid);

/* Reads one request frame; the caller frees it
 * (arenad__request__free_unpacked). The library writes some kinds by
 * hand: each request is re-packed with protobuf-c and must be the same
 * bytes. */
Arenad__Request *read_request(int srv);

/* Reads one request and checks its id and kind. */
void expect_request(int srv, uint64_t id, int kind);

/* A reply to request id, status OK, with the ping body set (a static one:
 * nothing to free). */
Arenad__Response ping_reply(uint64_t id);

/* Sends the reply to request id (0: about the connection, not a request)
 * that failed as a whole: its status and message, no body. */
void send_error_reply(int srv, uint64_t id, Arenad__Status status,
                      const char *message);

/* Sends the reply to alloc request id: the n offsets (the caller's). */
void send_alloc_reply(int srv, uint64_t id, const uint64_t *offs, size_t n);

/* Sends the reply to free request id: status and message, `freed`, the
 * offsets' statuses st[0..n) (none when n is 0), and the indices ow[0..nw)
 * of the offsets named as overwritten headers. */
void send_free_reply_ow(int srv, uint64_t id, Arenad__Status status,
                        const char *message, uint32_t freed, Arenad__Status *st,
                        size_t n, uint32_t *ow, size_t nw);

/* send_free_reply_ow naming no overwritten header. */
void send_free_reply(int srv, uint64_t id, Arenad__Status status,
                     const char *message, uint32_t freed, Arenad__Status *st,
                     size_t n);

/* Sends the daemon's last word before it closes the connection: id 0, an
 * error (the one a client too slow to send a whole frame gets), no body. */
void send_last_word(int srv);

/* A memfd of `size` bytes; the caller closes it. */
int make_segment(size_t size);

/* Sends the reply to attach request id, for a segment of `size` bytes
 * passed as fds[0..nfds), which the daemon says is read-only or not. */
void send_attach_reply_ro(int srv, uint64_t id, uint64_t size, const int *fds,
                          size_t nfds, bool read_only);

/* send_attach_reply_ro of a writable segment. */
void send_attach_reply(int srv, uint64_t id, uint64_t size, const int *fds,
                       size_t nfds);

/* Attaches arena "a" on a segment of 4096 bytes (request 1) and returns
 * its mapping, which the handle owns. */
arenad_map_t attach_4k(fixture_t *f);

/* An inspect reply of n empty extents (request id): a frame of about 2n
 * bytes that unpacks into some forty times that, for the tests of what
 * unpacking may cost. empty_extents_init fills *x, which must not move
 * while r is used (r points into it); empty_extents_fini frees what it
 * allocated. */
typedef struct empty_extents_s {
  Arenad__Response r;
  Arenad__InspectReply ir;
  Arenad__Extent empty;
  Arenad__Extent **all; /* n pointers to `empty`; owned */
} empty_extents_t;

void empty_extents_init(empty_extents_t *x, uint64_t id, size_t n);
void empty_extents_fini(empty_extents_t *x);

#endif /* AR_TESTS_FAKE_DAEMON_H */
