/*
 * dispatch.h: from one unpacked Request to its Response. ad_dispatch picks
 * the handler for the request's kind, counts the request and its status,
 * and enforces the envelope's rules (the reply's body is the request's
 * kind; on an error it is cleared, but for hello, free and check, whose
 * replies say more). Each handler is one small function in a
 * dispatch_*.c file by family: it checks its arguments and the caller's
 * access (access.h, through ad_call_open), asks an arena or the daemon,
 * and fills its reply in scratch memory. Handlers do no
 * arithmetic on arenas (the engine's job) and no I/O (the connection's).
 *
 * A handler returns 0 or an AR_E* code; the wire status is the code
 * negated (checked below at compile time). It may set `pass_fd` to a
 * descriptor that travels with the reply (owned: the connection queues
 * it, and closes it once it is sent or dropped), and `close_after` to
 * close the connection once the reply is sent.
 */
#ifndef AD_DISPATCH_H
#define AD_DISPATCH_H

#include <stdbool.h>

#include "ar/error.h"
#include "ar/protocol.h"
#include "ar/wire.h"
#include "arenad.pb-c.h"
#include "daemon.h"

_Static_assert(-AR_EWIRE_LAST < AD_STATUS_SLOTS, "stats count every status");

/* The most bytes of a reply's message (ad_fail cuts longer ones). */
#define AD_MESSAGE_MAX AR_MESSAGE_MAX

/* One request being answered. */
typedef struct ad_call_s {
  ad_daemon_t *d;
  ad_conn_t *c;
  ad_scratch_t *s;         /* for the reply's memory */
  Arenad__Response *resp;  /* the envelope; the handler sets the body */
  int pass_fd;             /* -1, or a descriptor to send with the reply
                              (owned, see above) */
  bool close_after;        /* close the connection after this reply */
  const char *close_reason; /* static, when close_after */
  const char *kind;        /* static: the request kind's name ("alloc") */
} ad_call_t;

/* Answers req into call->resp (id, status, message, body). */
void ad_dispatch(ad_call_t *call, const Arenad__Request *req);

/* Sets the reply's message (printf-style, in scratch memory) and returns
 * code, for `return ad_fail(call, AR_E..., "...")`. */
int ad_fail(ad_call_t *call, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * The arena named `name` for a request that needs `need` (AD_MAY_READ,
 * AD_MAY_WRITE, both, or 0 for none) of the caller: returns 0 and stores
 * it in *out, noting that the connection used it (ad_conn_used); or, with
 * the reply's message set, AR_ENOENT when there is no such arena or the
 * connection's knowledge of the name is stale (an arena of that name that
 * it used was destroyed: ad_conn_stale), or AR_EPERM when the caller may
 * not (counted and logged as ad_call_deny does).
 */
int ad_call_open(ad_call_t *call, const char *name, unsigned need,
                 ad_arena_t **out);

/* The same without the access check and without noting a use: for
 * destroy_arena, whose caller's only permission is to administer. */
int ad_call_find(ad_call_t *call, const char *name, ad_arena_t **out);

/* Sets STATUS_NOT_FOUND's message for a missing arena and returns
 * AR_ENOENT. */
int ad_call_no_arena(ad_call_t *call, const char *name);

/* Whether the caller may do what `need` asks on a: 0, or AR_EPERM after
 * ad_call_deny (the message names the access needed and the arena's). */
int ad_call_may(ad_call_t *call, ad_arena_t *a, unsigned need);

/* Counts a refusal for want of permission (in a, when not NULL, and the
 * daemon's stats) and logs it (audit.h; `arena` names the arena, `reason`
 * is the log's token), without touching the reply. */
void ad_call_count_denied(ad_call_t *call, ad_arena_t *a, const char *arena,
                          const char *reason);

/* ad_call_count_denied, then the reply's message (printf-style); returns
 * AR_EPERM. */
int ad_call_deny(ad_call_t *call, ad_arena_t *a, const char *arena,
                 const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* A quota refusal: counted in a and the daemon's stats, logged (`target`:
 * a transfer's receiver, else NULL; `detached`: the detached blocks'
 * quota), and the message set to "arena 'NAME', its detached blocks:
 * <detail>" (detached), "arena 'NAME', the quota of connection ID:
 * <detail>" (a target), or "arena 'NAME': <detail>" (the caller's own
 * quota), <detail> being ad_quota_check's sentence. Returns AR_ELIMIT. */
int ad_call_over_quota(ad_call_t *call, ad_arena_t *a,
                       const ad_conn_t *target, bool detached,
                       const char *detail);

/* The message of a block request (free, retain, release, transfer) that
 * failed with rc on the block at `offset` of a; returns rc. AR_ELIMIT (a
 * retain or transfer to a block whose count is full) is counted in
 * references_refused_limit. AR_EPERM (no reference held) is a reference
 * refusal: its message names the block and arena and how to get a
 * reference, not the arena's access; the caller counts it. */
int ad_call_block_failed(ad_call_t *call, const ad_arena_t *a, int rc,
                    uint64_t offset);

/* The Access of a, in scratch memory; NULL when memory runs out. */
Arenad__Access *ad_call_access(ad_call_t *call, const ad_arena_t *a);

/* Initialises and fills the ArenaInfo of a (list, create_arena), in
 * scratch memory. Returns 0, or AR_EINTERNAL when memory runs out. */
int ad_call_arena_info(ad_call_t *call, const ad_arena_t *a,
                       Arenad__ArenaInfo *info);

/* The wire Policy of a policy (the proto's rule: ar_policy_t + 1). */
static inline Arenad__Policy ad_wire_policy(ar_policy_t p) {
  return (Arenad__Policy)(p + 1);
}

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
int ad_do_retain(ad_call_t *call, const Arenad__RetainRequest *m);
int ad_do_release(ad_call_t *call, const Arenad__ReleaseRequest *m);
int ad_do_transfer(ad_call_t *call, const Arenad__TransferRequest *m);
int ad_do_create_arena(ad_call_t *call,
                       const Arenad__CreateArenaRequest *m);
int ad_do_destroy_arena(ad_call_t *call,
                        const Arenad__DestroyArenaRequest *m);

#endif /* AD_DISPATCH_H */
