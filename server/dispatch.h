/*
 * dispatch.h: from one unpacked Request to its Response. ad_dispatch picks
 * the handler for the request's kind, counts the request and its status,
 * and enforces the envelope's rules (the reply's body is the request's
 * kind; on an error it is cleared, but for hello, free and check, whose
 * replies say more). Each handler is one small function in a
 * dispatch_*.c file by family: it checks its arguments, asks an arena or
 * the daemon, and fills its reply in scratch memory. Handlers do no
 * arithmetic on arenas (the engine's job) and no I/O (the connection's).
 *
 * A handler returns 0 or an AR_E* code; the wire status is the code
 * negated (checked below at compile time). It may set `pass_fd` to a
 * descriptor (borrowed) that travels with the reply, and `close_after` to
 * close the connection once the reply is sent.
 */
#ifndef AD_DISPATCH_H
#define AD_DISPATCH_H

#include <stdbool.h>

#include "ar/error.h"
#include "arenad.pb-c.h"
#include "daemon.h"

#define AD__STATUS_IS(status, code)                                            \
  _Static_assert((int)ARENAD__STATUS__STATUS_##status == -AR_##code,         \
                 "Status " #status " is -AR_" #code)
AD__STATUS_IS(INVALID_ARGUMENT, EINVAL);
AD__STATUS_IS(NOT_FOUND, ENOENT);
AD__STATUS_IS(OUT_OF_MEMORY, ENOMEM);
AD__STATUS_IS(PERMISSION_DENIED, EPERM);
AD__STATUS_IS(CORRUPTION_DETECTED, ECORRUPT);
AD__STATUS_IS(LIMIT_EXCEEDED, ELIMIT);
AD__STATUS_IS(UNSUPPORTED_VERSION, EVERSION);
AD__STATUS_IS(INTERNAL, EINTERNAL);
_Static_assert((int)ARENAD__STATUS__STATUS_OK == AR_OK, "Status OK is AR_OK");
_Static_assert(-AR_EWIRE_LAST < AD_STATUS_SLOTS, "stats count every status");
#undef AD__STATUS_IS

/* The wire status of a code that may travel (AR_EPROTO and other local
 * codes become STATUS_INTERNAL: they are never a request's outcome). */
static inline Arenad__Status ad_wire_status(int code) {
  if (code > 0 || code < AR_EWIRE_LAST)
    return ARENAD__STATUS__STATUS_INTERNAL;
  return (Arenad__Status)-code;
}

/* One request being answered. */
typedef struct ad_call_s {
  ad_daemon_t *d;
  ad_conn_t *c;
  ad_scratch_t *s;         /* for the reply's memory */
  Arenad__Response *resp;  /* the envelope; the handler sets the body */
  int pass_fd;             /* -1, or a descriptor to send with the reply */
  bool close_after;        /* close the connection after this reply */
  const char *close_reason; /* static, when close_after */
} ad_call_t;

/* Answers req into call->resp (id, status, message, body). */
void ad_dispatch(ad_call_t *call, const Arenad__Request *req);

/* Sets the reply's message (printf-style, in scratch memory) and returns
 * code, for `return ad_fail(call, AR_E..., "...")`. */
int ad_fail(ad_call_t *call, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The arena named `name`; NULL after setting STATUS_NOT_FOUND's message
 * (the caller returns AR_ENOENT). */
ad_arena_t *ad_call_arena(ad_call_t *call, const char *name);

/* A printable copy of a peer's string for messages and logs: printable
 * ASCII only, at most `max` bytes, in scratch memory (never NULL: "" when
 * memory runs out). Peer strings may hold anything. */
const char *ad_call_clean(ad_call_t *call, const char *s, size_t max);

/* Points ptr to a new message in scratch memory, initialised by `init`;
 * false when memory runs out:
 *   if (!AD_NEW(call, rep, arenad__ping_reply__init)) return AR_EINTERNAL; */
#define AD_NEW(call, ptr, init)                                                \
  (((ptr) = ad_scratch_alloc((call)->s, sizeof(*(ptr)))) != NULL &&            \
   (init(ptr), 1))

/* The handlers, one per request kind. */
int ad_do_hello(ad_call_t *call, const Arenad__HelloRequest *m);
int ad_do_ping(ad_call_t *call, const Arenad__PingRequest *m);
int ad_do_stats(ad_call_t *call, const Arenad__StatsRequest *m);
int ad_do_list(ad_call_t *call, const Arenad__ListRequest *m);
int ad_do_attach(ad_call_t *call, const Arenad__AttachRequest *m);
int ad_do_inspect(ad_call_t *call, const Arenad__InspectRequest *m);
int ad_do_check(ad_call_t *call, const Arenad__CheckRequest *m);
int ad_do_alloc(ad_call_t *call, const Arenad__AllocRequest *m);
int ad_do_free(ad_call_t *call, const Arenad__FreeRequest *m);

#endif /* AD_DISPATCH_H */
