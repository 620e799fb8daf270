/*
 * arenad.h: the client library of arenad, the one header an application
 * includes to share memory through the daemon. It hides the socket, the
 * framing, the protobuf messages, the passing of the segment's descriptor
 * and the mapping: the caller sees a handle, blocking calls, and C structs.
 *
 *   arenad_t *h;
 *   arenad_hello_t hi;
 *   arenad_map_t map;
 *   uint64_t off;
 *   void *p;
 *   if (arenad_connect(NULL, &h) < 0) ...            (errno says why)
 *   if (arenad_hello(h, "myapp", &hi) < 0) ...
 *   if (arenad_attach(h, "default", 0, &map) < 0) ...
 *   if (arenad_alloc(h, "default", 4096, 0, 0, &off, &p) < 0)
 *     fprintf(stderr, "%s\n", arenad_error(h));
 *   memcpy(p, "hello", 6);     (another attached process reads base + off)
 *   arenad_free(h, "default", off);
 *   arenad_close(h);          (unmaps; the daemon frees what h still holds)
 *
 * Errors. Every function that can fail returns 0 or a negative code from
 * ar/error.h (AR_EINVAL, AR_ENOENT, ...; ar_strerror turns one into a static
 * string). Codes up to AR_EINTERNAL are the daemon's statuses; AR_EIO and
 * AR_EPROTO are the library's own. arenad_error(h) gives a sentence about
 * the handle's last error: the daemon's message when the daemon refused
 * the request, the library's otherwise. On a failure, the arrays a call
 * allocates for the caller (arenad_list, arenad_inspect, arenad_stats,
 * arenad_create_arena) are NULL, with counts 0, so there is nothing to
 * free; its other outputs are not to be read, unless its own comment says
 * what they hold then (arenad_free_each's statuses). A NULL handle
 * is a bad argument:
 * every call that takes one and returns a code returns AR_EINVAL for it,
 * sends nothing and sets its outputs as any failure does; the getters
 * give 0 or NULL, arenad_error "no handle", and arenad_close does nothing.
 *
 * A broken connection. When the socket fails or is closed (AR_EIO; also
 * when the daemon's last reply before closing gives a reason, which
 * arenad_error then quotes with its status, also when that reply came
 * between two calls and the next one's send found the socket closed), or
 * the daemon sends something the library cannot accept (AR_EPROTO: a
 * frame over the limit, bytes that are not a Response, a reply that would
 * unpack into more than 32 frames' worth of memory (at least 16 MiB), a
 * reply whose id or kind does not match its request, a descriptor where
 * none belongs, an alloc reply whose block does not lie inside the arena's
 * mapping), the call
 * that saw it returns that code, the library closes the socket, and the
 * handle is unusable: every later request fails with AR_EIO while
 * arenad_error keeps the first reason. Pipelined requests still in
 * flight are dropped (their replies can no longer come), so
 * arenad_in_flight is 0 from then on. Mappings stay valid until
 * arenad_detach or arenad_close. The daemon frees the blocks the
 * connection held (not the detached ones) when it sees the socket close.
 *
 * Threads. A handle belongs to one thread at a time; calls on one handle
 * must not overlap. Different handles are independent (the library keeps
 * no global state), so N threads can use N handles at once.
 *
 * fork. A handle belongs to the process that made it: a child forked
 * without exec must not make calls on an inherited handle (its replies
 * would mix with the parent's) but may arenad_close its copy, which
 * leaves the parent's connection alone; the child connects on its own.
 * arenad_connect's socket is close-on-exec (arenad_open_fd's is as the
 * caller made it).
 *
 * Memory in a mapping is shared with every attached process: synchronising
 * access to block contents is the application's business.
 *
 * Ownership. The caller owns what it passes in; the library keeps no
 * pointer to it after the call. What comes out:
 *   - arenad_t: from arenad_connect or arenad_open_fd, freed by
 *     arenad_close (also after an error);
 *   - mappings (arenad_map_t.base, the pointers arenad_alloc and
 *     arenad_ptr return): owned by the handle, valid until arenad_detach of
 *     that arena or arenad_close; the segment's descriptor too, which the
 *     caller never sees;
 *   - arrays from arenad_list, arenad_inspect, arenad_stats and
 *     arenad_create_arena: one heap block each, with all its strings
 *     inside, owned by the caller and freed with arenad_list_destroy (also
 *     for arenad_create_arena's), arenad_page_destroy and
 *     arenad_stats_destroy;
 *   - arenad_error's string and arenad_result_t.offsets: owned by the
 *     handle, valid until the next call on it;
 *   - strings in fixed arrays (arenad_hello_t, arenad_check_t): the
 *     caller's struct; truncated to fit, always NUL-terminated.
 *
 * Limits. The library bounds every frame it reads by the daemon's
 * max_frame_bytes from hello (1 MiB before hello, and never more than
 * ARENAD_FRAME_MAX_CLIENT), before allocating anything for it, and never
 * raises SIGPIPE.
 */
#ifndef ARENAD_H
#define ARENAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "ar/error.h"

#if defined(__GNUC__)
#define ARENAD_EXTERN __attribute__((visibility("default")))
#else
#define ARENAD_EXTERN
#endif

/* The wire protocol this library speaks (HelloRequest.protocol_version). */
#define ARENAD_PROTOCOL_VERSION 1

/* The largest frame the library accepts, whatever hello says: 64 MiB. */
#define ARENAD_FRAME_MAX_CLIENT ((uint64_t)64 << 20)

/* Requests in flight on the pipeline before hello, or when the daemon
 * announces no limit. */
#define ARENAD_WINDOW_DEFAULT 128

/* The environment variable naming the daemon's socket. */
#define ARENAD_SOCKET_ENV "ARENAD_SOCKET"

/* A connection to arenad. Opaque. */
typedef struct arenad_s arenad_t;

/* ---- Connecting ------------------------------------------------------- */

/*
 * Stores in buf (len bytes) the socket path that arenad_connect(path, ...)
 * would use: path itself when not NULL; otherwise the rule arenad uses
 * too: $ARENAD_SOCKET when set and not empty; else
 * $XDG_RUNTIME_DIR/arenad.sock (an absolute XDG_RUNTIME_DIR); else
 * /run/user/<uid>/arenad.sock when that directory exists; else
 * /tmp/arenad-<uid>/arenad.sock, in a directory that must be the user's
 * own, mode 0700. Returns 0; AR_EINVAL when buf is NULL or path is ""
 * (which would name no file, and in a socket address an abstract socket
 * that anyone could bind); AR_ELIMIT when the path does not fit in buf or
 * in a Unix socket address (107 bytes); AR_EPERM when the /tmp directory
 * is not safe, AR_EIO when it cannot be examined (errno says why): buf
 * then names the directory.
 */
ARENAD_EXTERN int arenad_socket_path(const char *path, char *buf, size_t len);

/*
 * Connects to the daemon at `path` (NULL: see arenad_socket_path). Returns 0
 * and stores a new handle in *out, to be closed with arenad_close. Sends
 * nothing: call arenad_hello next (the daemon serves requests before a
 * hello too, but hello is where the handle learns the daemon's limits, its
 * token and a protocol mismatch). On failure *out is NULL and the return
 * is AR_EINVAL (path is "", or out is NULL), AR_ELIMIT (path too long for
 * a socket address), AR_EINTERNAL (no memory) or AR_EIO (no safe socket
 * directory, or socket or connect failed; errno then holds the system's
 * reason, e.g. ENOENT or ECONNREFUSED when no daemon listens, EPERM for an
 * unsafe directory, or, at the /tmp fallback's path (found or given,
 * however spelled: extra slashes, . or .., relative, through a symlink;
 * or a path that no longer resolves once connected), for a socket whose
 * listener runs as another uid: a daemon there is the user's own, since
 * it made the directory, so another uid made it after it was checked).
 */
ARENAD_EXTERN int arenad_connect(const char *path, arenad_t **out);

/*
 * arenad_connect with a bound: waits at most `ms` milliseconds for the
 * daemon to take the connection (a daemon that is stopped, or too busy to
 * accept, leaves its listening socket's backlog full, and a connect then
 * waits for room), and sets the new handle's timeout to ms
 * (arenad_set_timeout). When the time runs out it fails with AR_EIO and
 * errno EAGAIN. ms < 0 waits as long as it takes, as arenad_connect does.
 * (Since 0.7.0.)
 */
ARENAD_EXTERN int arenad_connect_timeout(const char *path, int ms,
                                         arenad_t **out);

/*
 * Makes a handle of a connected stream socket `fd` (from socketpair,
 * socket activation, a test), blocking or not: the calls wait for the
 * socket either way (O_NONBLOCK is left as it is). Options that add a
 * control message to every message received (SO_PASSCRED, SO_PASSPIDFD,
 * SO_PASSSEC) may be set: the descriptor of an attach still comes
 * through, and the pidfds are closed as they come. The handle owns fd
 * from then on, also when this fails (fd is then closed); arenad_close
 * shuts the connection down, also for any duplicate of fd. Returns 0,
 * AR_EINVAL for fd < 0, or AR_EINTERNAL (no memory).
 */
ARENAD_EXTERN int arenad_open_fd(int fd, arenad_t **out);

/*
 * Sets how long a call on h waits for the daemon: when it sends nothing
 * (nor, while a request is being sent, takes anything) for `ms`
 * milliseconds, the call fails with AR_EIO, arenad_error says so, and the
 * connection is closed (a reply that came later would answer the wrong
 * request); the handle's mappings stay. 0 fails a call whose answer has
 * not come yet at once. ms < 0, the default: wait for as long as it
 * takes. Connecting is timed by arenad_connect_timeout. Returns 0, or
 * AR_EINVAL when h is NULL. (Since 0.6.0.)
 */
ARENAD_EXTERN int arenad_set_timeout(arenad_t *h, int ms);

/* Closes the connection, unmaps every mapping, closes every descriptor and
 * frees the handle. NULL is allowed. Blocks the connection held and did not
 * free are freed by the daemon (detached ones stay), also when a child
 * forked since still has the socket. In such a child it only frees the
 * child's copy: the parent's connection goes on. */
ARENAD_EXTERN void arenad_close(arenad_t *h);

/* A sentence about the last error on h: the daemon's message, or the
 * library's. Every call that talks to the daemon (blocking, or a submit,
 * flush or collect) clears it first, so it is "" after one that
 * succeeded; on a broken handle it keeps the reason the handle broke. A
 * call refused for a bad argument before that sets it too; calls that
 * cannot fail leave it as it was. The daemon's messages (up to 383 bytes)
 * come whole. Owned by h; valid until the next call on h. (Both since
 * 0.8.0: before, a message was cut at 255 bytes, and a success left the
 * last error in place.) */
ARENAD_EXTERN const char *arenad_error(const arenad_t *h);

/* ---- The connection --------------------------------------------------- */

/* What the daemon says in hello. */
typedef struct arenad_hello_s {
  char daemon_version[64];
  uint32_t protocol_version;       /* the daemon's */
  uint64_t max_frame_bytes;        /* largest frame body, either way */
  uint32_t max_blocks_per_request; /* alloc count, free offsets */
  uint32_t max_in_flight;          /* unanswered requests; 0: no limit */
  uint32_t max_page;               /* largest inspect page */
  uint64_t token;                  /* for transfers to this connection */
  uint64_t connection_id;          /* as inspection shows holders */
  uint64_t instance; /* this run of the daemon: another value after a
                        reconnect means a restarted daemon, whose arenas
                        are new (old offsets and mappings gone); never 0
                        but from a daemon older than 0.3.0, which cannot
                        say */
} arenad_hello_t;

/*
 * Opens the conversation: sends ARENAD_PROTOCOL_VERSION and `client_name`
 * (NULL: ""; at most 64 bytes, or the daemon refuses it with AR_EINVAL)
 * and fills *out (may be NULL). From then on the daemon's frame
 * limit and in-flight limit apply. Returns 0; AR_EVERSION when the daemon
 * does not speak this protocol (*out is filled all the same, and the
 * daemon then closes the connection: the handle is unusable); or another
 * code.
 */
ARENAD_EXTERN int arenad_hello(arenad_t *h, const char *client_name,
                               arenad_hello_t *out);

/* Asks the daemon to answer. Returns 0 or a code. */
ARENAD_EXTERN int arenad_ping(arenad_t *h);

/* ---- Arenas ----------------------------------------------------------- */

/* A placement policy. ARENAD_POLICY_UNKNOWN: one this library does not
 * know (a newer daemon). */
typedef enum {
  ARENAD_POLICY_FIRST = 0,
  ARENAD_POLICY_NEXT = 1,
  ARENAD_POLICY_BEST = 2,
  ARENAD_POLICY_WORST = 3,
  ARENAD_POLICY_BUDDY = 4,
  ARENAD_POLICY_UNKNOWN = 5
} arenad_policy_t;

/* "first", "next", "best", "worst", "buddy" or "unknown". Static. */
ARENAD_EXTERN const char *arenad_policy_name(arenad_policy_t policy);

/* Who may use an arena, like a file. */
typedef struct arenad_access_s {
  uint32_t mode; /* permission bits, e.g. 0640 */
  uint32_t owner_uid;
  uint32_t group_gid;
} arenad_access_t;

/* One arena, as arenad_list gives it. */
typedef struct arenad_arena_s {
  const char *name; /* inside the array's block */
  uint64_t size;    /* bytes */
  arenad_policy_t policy;
  uint64_t used_bytes;
  uint64_t free_bytes;
  uint64_t live_blocks;
  arenad_access_t access;
  uint64_t quota_bytes; /* per connection; 0: none */
  uint64_t quota_blocks;
} arenad_arena_t;

/* Lists the arenas, in name order. Returns 0 and stores in *out an array
 * of *n arenas (NULL when none), owned by the caller and freed with
 * arenad_list_destroy; or a code (*out NULL, *n 0). */
ARENAD_EXTERN int arenad_list(arenad_t *h, arenad_arena_t **out, size_t *n);
ARENAD_EXTERN void arenad_list_destroy(arenad_arena_t *arenas);

/* ---- Attaching -------------------------------------------------------- */

/* Flags of arenad_attach. */
#define ARENAD_ATTACH_READ_ONLY 1u /* map read-only; needs read access */

/* An arena's segment mapped in this process. */
typedef struct arenad_map_s {
  void *base;            /* offset 0 of the arena; owned by the handle */
  uint64_t size;         /* bytes mapped */
  arenad_policy_t policy;
  bool read_only;        /* mapped PROT_READ only */
} arenad_map_t;

/*
 * Attaches arena `name`: the daemon passes the segment's descriptor, which
 * the library maps MAP_SHARED (read-only with ARENAD_ATTACH_READ_ONLY, or
 * when the daemon says the descriptor is read-only) and fills *out (may be
 * NULL). The mapping and the descriptor belong to the handle until
 * arenad_detach or arenad_close. Attaching an arena that is already
 * attached returns its mapping again, without asking the daemon (but
 * AR_EIO once the handle is broken, as every request gets); asking
 * for a writable mapping of one attached read-only gets AR_EINVAL (detach
 * first). Not allowed while pipelined requests are in flight (AR_EINVAL).
 * A read-only attach needs read access to the arena, and the descriptor
 * the daemon passes then refuses writable mappings; a writable one needs
 * read and write access. How an arena is mapped is this process's
 * business only: what the daemon allows (alloc, free, retain...) follows
 * the arena's mode and the caller's uid and gid, so a client with write
 * access may allocate and free in an arena it mapped read-only (and
 * cannot write through the pointers). Returns 0 or a code: AR_ENOENT, AR_EPERM from the
 * daemon; AR_ELIMIT when this process has no file descriptor to spare for
 * the segment's (EMFILE: the handle stays usable, attach again once one
 * is free); AR_EPROTO for a reply with no descriptor, more than one, or one
 * smaller than the size announced (all are closed); AR_EIO when mmap
 * fails. An arena destroyed since this handle attached it is still mapped
 * here, so attaching it again returns that old mapping, and requests on it
 * get AR_ENOENT: arenad_detach it, then attach it again (see
 * arenad_destroy_arena).
 */
ARENAD_EXTERN int arenad_attach(arenad_t *h, const char *name, unsigned flags,
                                arenad_map_t *out);

/* Unmaps arena `name` and closes its descriptor. Pointers into it become
 * invalid. Local only: the daemon is not told. Returns 0, or AR_ENOENT when
 * it is not attached. */
ARENAD_EXTERN int arenad_detach(arenad_t *h, const char *name);

/* base + offset when `name` is attached and offset < its size, else NULL
 * (also for a NULL h). Owned by the handle (see arenad_attach). It knows
 * no block's size: the blocks this handle allocates are checked (see
 * arenad_alloc), an offset from elsewhere is the caller's to check against
 * arenad_map_t.size. */
ARENAD_EXTERN void *arenad_ptr(const arenad_t *h, const char *name,
                               uint64_t offset);

/* ---- Blocks ----------------------------------------------------------- */

/* Flags of arenad_alloc and arenad_alloc_n. */
#define ARENAD_ALLOC_DETACHED 1u /* the block outlives the connection */

/*
 * Allocates one block of `size` bytes in arena `name`, its payload aligned
 * to `align` (a power of two from 16 to 4096; 0 means 16). Stores the
 * payload's offset in *offset and, in *ptr (may be NULL), base + offset
 * when the arena is attached, else NULL (attached read-only, the pointer
 * is read-only too: writing through it faults). When the arena is
 * attached, the library checks that the block's size bytes lie inside the
 * mapping (for arenad_alloc_n and a collected alloc too: a reply that says
 * otherwise is AR_EPROTO, see "A broken connection"), so *ptr is then
 * never NULL. The block belongs to this connection (freed when it closes)
 * unless `flags` has ARENAD_ALLOC_DETACHED. Needs write access to the
 * arena. Returns 0 or a code: AR_ENOMEM when the arena has no room,
 * AR_EINVAL, AR_ENOENT, AR_EPERM, AR_ELIMIT (over a quota: the daemon's
 * message gives the quota and the use; or over the daemon's
 * max_live_blocks).
 */
ARENAD_EXTERN int arenad_alloc(arenad_t *h, const char *name, uint64_t size,
                               uint64_t align, unsigned flags,
                               uint64_t *offset, void **ptr);

/* Allocates `count` blocks of `size` bytes in one request, all or none,
 * and stores their offsets in offsets[0..count), in allocation order (the
 * caller's array). count is at most hello's max_blocks_per_request
 * (AR_ELIMIT). Returns 0 or a code, as arenad_alloc. */
ARENAD_EXTERN int arenad_alloc_n(arenad_t *h, const char *name, uint64_t size,
                                 uint64_t align, uint32_t count,
                                 unsigned flags, uint64_t *offsets);

/* Drops one of this connection's references to the block at payload
 * `offset` (see "Sharing blocks"); for a detached block it holds none of,
 * the detached reference. The block is freed with its last reference,
 * also when its 16-byte header in the segment had been overwritten (the
 * daemon frees it from its own record, counts the corruption and still
 * returns 0; arenad_free_report tells the caller). Needs write access to
 * the arena. Returns 0 or a code: AR_EINVAL for an offset that is not a
 * live block's, AR_EPERM for a block only other connections hold, or
 * without write access. */
ARENAD_EXTERN int arenad_free(arenad_t *h, const char *name, uint64_t offset);

/*
 * Frees n blocks (n at most max_blocks_per_request) in one request. Each
 * offset is handled on its own: one failure does not stop the others.
 * Stores in statuses[i] (the caller's array of n, or NULL) 0 or the code of
 * offset i. Returns 0 when all succeeded, else the first failure's code
 * (with the daemon's message), or a code for the request as a whole (a bad
 * name, a broken connection, AR_ELIMIT for a request over the frame limit,
 * refused before it is sent), which is then every offset's status too.
 */
ARENAD_EXTERN int arenad_free_n(arenad_t *h, const char *name,
                                const uint64_t *offsets, size_t n,
                                int *statuses);

/*
 * arenad_free_n for a caller that reports each offset, telling its two
 * kinds of failure apart. Returns 0 when the daemon answered for every
 * offset: statuses[i] then holds 0 or offset i's own code, as arenad_free
 * returns it (AR_EINVAL: not a live block's; AR_EPERM: a block only other
 * connections hold), and arenad_error(h) the daemon's message about the
 * first that failed. Otherwise returns the code of the request as a whole
 * (a bad name, an unknown arena, no write access, more offsets than
 * max_blocks_per_request, a broken connection), which is then every
 * statuses[i] too. statuses may be NULL, as for arenad_free_n.
 */
ARENAD_EXTERN int arenad_free_each(arenad_t *h, const char *name,
                                   const uint64_t *offsets, size_t n,
                                   int *statuses);

/*
 * arenad_free_each that also says which frees sent back a block whose
 * 16-byte header (just before its payload) had been overwritten, by any
 * process with the arena mapped read-write, before this free. Such a free
 * succeeded: its status is 0 (the block is gone; freeing it again would be
 * a double free). Stores those blocks' offsets in overwritten[0..k), in
 * the order of offsets[] (the caller's array of n, or NULL), and k in
 * *n_overwritten (may be NULL; 0 when the request failed as a whole). A
 * free that drops a reference but not the block's last frees nothing and
 * is not named. Returns as arenad_free_each; a reply that names an offset
 * past n, out of order or one that failed is AR_EPROTO (see "A broken
 * connection"). A daemon older than 0.4.0 names none.
 */
ARENAD_EXTERN int arenad_free_report(arenad_t *h, const char *name,
                                     const uint64_t *offsets, size_t n,
                                     int *statuses, uint64_t *overwritten,
                                     size_t *n_overwritten);

/* ---- Sharing blocks --------------------------------------------------- */

/*
 * References. A block lives while it has a reference: the one its
 * allocating connection holds (or, for a detached block, the one that
 * belongs to no connection), and those other connections take with
 * arenad_retain or receive with arenad_transfer. References are counted
 * per connection: each retain is one more, each release or free drops
 * one, and all of a connection's go when it closes. The daemon's access
 * rules (see the README): retain needs read access to the arena; release
 * and transfer need only a reference; the receiver of a transfer needs
 * read access. In an arena with quotas, a block a connection holds counts
 * against its quota once, however many references it has.
 */

/* Takes one more reference to the live block at payload `offset` of arena
 * `name` for this connection (it may hold the block already; the block may
 * be detached), and stores the block's references after in *refcount (may
 * be NULL). Returns 0 or a code: AR_EINVAL for an offset that is not a live
 * block's, AR_EPERM without read access, AR_ELIMIT over the quota (the
 * daemon's message gives it and the use) or, when the block is new to
 * this connection and held by another, over the daemon's
 * max_shared_holds, AR_ENOENT. */
ARENAD_EXTERN int arenad_retain(arenad_t *h, const char *name,
                                uint64_t offset, uint32_t *refcount);

/* Drops one of this connection's references to the block at `offset`
 * (however it got it), and stores the references left in *refcount (may
 * be NULL; 0: the block was freed). Never drops a detached block's own
 * reference (arenad_free does). Returns 0 or a code: AR_EINVAL for an
 * offset that is not a live block's, AR_EPERM when this connection holds
 * no reference to it, AR_ENOENT. */
ARENAD_EXTERN int arenad_release(arenad_t *h, const char *name,
                                 uint64_t offset, uint32_t *refcount);

/* arenad_release that also stores in *overwritten (may be NULL) whether it
 * freed the block (the last reference) and the block's 16-byte header had
 * been overwritten, as arenad_free_report tells for a free; the release
 * still succeeded. A reply that says so and leaves references is
 * AR_EPROTO. A daemon older than 0.4.0 never says so. */
ARENAD_EXTERN int arenad_release_report(arenad_t *h, const char *name,
                                        uint64_t offset, uint32_t *refcount,
                                        bool *overwritten);

/* What a transfer did. */
typedef struct arenad_transfer_s {
  uint64_t target_connection_id; /* the receiver, as inspection shows it */
  uint32_t refcount;             /* the block's references (unchanged) */
} arenad_transfer_t;

/*
 * Hands one of this connection's references to the block at `offset` to
 * the connection whose hello token is `token` (arenad_hello_t.token, which
 * its process passes to this one out of band), in one step: the block
 * never has fewer references in between. Fills *out (may be NULL).
 * Returns 0 or a code: AR_ENOENT for a token no open connection has, or
 * whose connection is closing (its peer shut down its side, or an error
 * ends it: it takes no more blocks), or for an unknown arena; AR_EINVAL
 * for this connection's own token, an offset that is not a live block's,
 * or a receiver that used an arena of this name destroyed since and has
 * not attached the new one (it could not free the block); AR_EPERM when this
 * connection holds no reference to the block or the receiver may not read the
 * arena; AR_ELIMIT over the receiver's quota or, when the block is new to the
 * receiver and this is not the sender's last reference, over the daemon's
 * max_shared_holds.
 */
ARENAD_EXTERN int arenad_transfer(arenad_t *h, const char *name,
                                  uint64_t offset, uint64_t token,
                                  arenad_transfer_t *out);

/* ---- Administration --------------------------------------------------- */

/* An arena to create. */
typedef struct arenad_arena_spec_s {
  uint64_t size; /* bytes: a multiple of 4096; a power of two for buddy */
  arenad_policy_t policy;
  /* NULL: mode 0600, owned by this connection's uid and gid. */
  const arenad_access_t *access;
  uint64_t quota_bytes;  /* per connection; 0: none */
  uint64_t quota_blocks; /* per connection; 0: none */
} arenad_arena_spec_t;

/*
 * Creates arena `name` in the daemon, its memory reserved before the reply.
 * Allowed to root, the daemon's own user and its admin group. Stores the
 * new arena in *out (may be NULL; one heap block, the caller's, freed with
 * arenad_list_destroy). Returns 0 or a code: AR_EPERM for a caller who may
 * not, AR_EINVAL for a bad name, size, policy or access or a name that is
 * taken, AR_ENOMEM when the memory is not there, AR_ELIMIT past the
 * daemon's number of arenas or when the daemon has no file descriptor to
 * spare for the segment (try again later).
 */
ARENAD_EXTERN int arenad_create_arena(arenad_t *h, const char *name,
                                      const arenad_arena_spec_t *spec,
                                      arenad_arena_t **out);

/* Flags of arenad_destroy_arena. */
#define ARENAD_DESTROY_FORCE 1u /* also with live blocks, which go with it */

/* What went with a destroyed arena. */
typedef struct arenad_destroyed_s {
  uint64_t blocks_freed;
  uint64_t bytes_freed;
  uint32_t attached_connections; /* connections that had it attached */
} arenad_destroyed_t;

/*
 * Destroys arena `name` in the daemon; allowed as arenad_create_arena. An
 * arena with live blocks (detached ones included) needs
 * ARENAD_DESTROY_FORCE (AR_EINVAL without it, the message counting them).
 * Mappings of it stay valid in every process (this handle's too: detach it
 * to unmap); a connection that had it attached gets AR_ENOENT for it, even
 * once an arena of the same name exists again, until it attaches again
 * (which, for a handle that has it mapped, means arenad_detach first).
 * Fills *out (may be NULL). Returns 0 or a code: AR_EPERM, AR_ENOENT,
 * AR_EINVAL.
 */
ARENAD_EXTERN int arenad_destroy_arena(arenad_t *h, const char *name,
                                       unsigned flags,
                                       arenad_destroyed_t *out);

/* ---- Inspecting ------------------------------------------------------- */

/* The largest buddy order in arenad_summary_t.free_by_order. */
#define ARENAD_ORDER_MAX 48

/* The state of one arena (the engine's figures and the daemon's). */
typedef struct arenad_summary_s {
  const char *name; /* inside the page's block */
  arenad_policy_t policy;
  uint64_t size;           /* arena bytes */
  uint64_t used_bytes;     /* sum of live block sizes */
  uint64_t free_bytes;     /* size - used_bytes */
  uint64_t live_blocks;    /* allocated blocks */
  uint64_t live_requested; /* sum of live requested sizes */
  uint64_t overhead_bytes; /* used_bytes - live_requested */
  uint64_t free_extents;   /* free intervals, or free buddy blocks */
  uint64_t largest_free;   /* largest free interval or buddy block */
  double external_frag;    /* 1 - largest_free / free_bytes */
  uint64_t allocs;         /* successful allocations */
  uint64_t frees;          /* successful frees */
  uint64_t failed_allocs;  /* allocations that found no room */
  uint64_t bad_frees;      /* frees refused by the engine */
  uint64_t corruptions;    /* overwritten headers found on free */
  uint64_t last_corrupt;   /* payload offset of the latest one */
  uint64_t hwm;            /* highest block end ever allocated */
  uint64_t peak_used;      /* largest used_bytes ever */
  uint64_t peak_requested; /* largest live_requested ever */
  uint64_t rover;          /* next fit's rover; 0 for the others */
  uint32_t max_order;      /* buddy: K with size = 2^K; 0 otherwise */
  uint32_t n_orders;       /* entries of free_by_order in use */
  uint64_t free_by_order[ARENAD_ORDER_MAX + 1]; /* buddy: free blocks */
  arenad_access_t access;
  uint64_t detached_blocks;      /* live blocks no connection holds */
  uint32_t attached_connections;
  uint64_t permission_denied;    /* requests on this arena refused */
  uint64_t quota_refused;        /* requests on this arena over quota */
  uint64_t meta_bytes;      /* the engine's own memory in the daemon: its */
  uint64_t peak_meta_bytes; /* indexes and block record, now and at most */
} arenad_summary_t;

/* A connection holding references to a block. */
typedef struct arenad_holder_s {
  uint64_t connection_id;
  uint32_t pid;
  uint32_t uid;
  const char *client_name; /* inside the page's block */
  uint32_t references;     /* this connection's, >= 1 */
} arenad_holder_t;

/* One piece of the arena, in address order. */
typedef struct arenad_extent_s {
  uint64_t start; /* first byte (a block's header) */
  uint64_t size;  /* bytes */
  bool free;
  /* Allocated blocks only: */
  uint64_t payload; /* the offset clients use */
  uint64_t n;       /* the requested size */
  uint32_t refcount; /* the holders' references, + 1 when detached */
  bool detached;
  const arenad_holder_t *holders; /* inside the page's block, oldest first */
  size_t n_holders;
  /* Holders the daemon left out: a block whose holders would not fit in a
   * frame lists the oldest that fit (refcount still counts them all). */
  size_t holders_omitted;
} arenad_extent_t;

/* What arenad_inspect lists besides the summary. */
typedef enum {
  ARENAD_INSPECT_SUMMARY = 0,   /* nothing */
  ARENAD_INSPECT_FREE_LIST = 1, /* the free extents */
  ARENAD_INSPECT_BLOCKS = 2,    /* every extent, allocated and free */
  ARENAD_INSPECT_DETACHED = 3   /* the detached blocks */
} arenad_inspect_what_t;

/* One page of an inspection: one heap block, freed with
 * arenad_page_destroy. */
typedef struct arenad_page_s {
  arenad_summary_t summary;
  const arenad_extent_t *extents; /* n_extents of them */
  size_t n_extents;
  uint64_t next_cursor; /* pass to the next call; == summary.size: done */
} arenad_page_t;

/*
 * Inspects arena `name`: the summary and, unless `what` is
 * ARENAD_INSPECT_SUMMARY, the extents starting at or after `cursor`, at
 * most `limit` of them (0: the daemon's default; hello's max_page at
 * most). Start with cursor 0 and pass each page's next_cursor until it
 * equals summary.size; a cursor stays valid while the arena changes.
 * Returns 0 and stores the page in *out (the caller's, freed with
 * arenad_page_destroy), or a code (*out NULL). A reply whose next_cursor
 * does not move forward (so a walk would never end) is AR_EPROTO.
 */
ARENAD_EXTERN int arenad_inspect(arenad_t *h, const char *name,
                                 arenad_inspect_what_t what, uint64_t cursor,
                                 uint32_t limit, arenad_page_t **out);
ARENAD_EXTERN void arenad_page_destroy(arenad_page_t *page);

/*
 * The requested size of the live block whose payload is `offset` in arena
 * `name`, as the daemon's records have it, into *n: what a process handed
 * only an offset may read from there. Not from the block's header in the
 * segment, which any process attached for writing can overwrite. Needs
 * read access to the arena, not a hold on the block. One inspect request,
 * two for a buddy block allocated with an alignment over 16 (so the
 * daemon's messages, counters and audit log name it inspect), with
 * arenad_inspect's codes. Returns 0; AR_EINVAL, *n 0, when no live block
 * has that payload (never given, freed, inside a block, past the arena).
 * (Since 0.9.0.)
 */
ARENAD_EXTERN int arenad_block_size(arenad_t *h, const char *name,
                                    uint64_t offset, uint64_t *n);

/* The result of an integrity check. */
typedef struct arenad_check_s {
  bool ok;
  char invariant[64]; /* the broken invariant's name; "" when ok */
  uint64_t offset;    /* where in the arena */
  char detail[256];   /* a sentence for a human */
  /* Live blocks whose header a client has overwritten, and the lowest
   * payload offset among them (0: none). Client memory, not the daemon's
   * index: they do not make the check fail. 0 from a daemon older than
   * 0.5.0. (Since 0.5.0.) */
  uint64_t headers_overwritten;
  uint64_t first_overwritten;
} arenad_check_t;

/* Runs the engine's integrity check of arena `name` in the daemon and
 * fills *out (may be NULL; zeroed first, so `ok` is false after any
 * error). Returns 0 when every invariant holds, AR_ECORRUPT when one does
 * not (*out says which), or another code. */
ARENAD_EXTERN int arenad_check(arenad_t *h, const char *name,
                               arenad_check_t *out);

/* ---- Daemon statistics ------------------------------------------------ */

/* The type of one statistic. */
typedef enum {
  ARENAD_STAT_UINT = 0,   /* u */
  ARENAD_STAT_DOUBLE = 1, /* d */
  ARENAD_STAT_STRING = 2  /* s */
} arenad_stat_type_t;

/* One named figure. Names are the protocol's field names, nested messages
 * joined with dots ("uptime_ms", "requests.alloc", "errors.not_found"), in
 * the protocol's field order. */
typedef struct arenad_stat_s {
  const char *name; /* inside the array's block */
  arenad_stat_type_t type;
  uint64_t u;
  double d;
  const char *s; /* inside the array's block */
} arenad_stat_t;

/* Fetches the daemon's counters as a list of (name, value): a renderer
 * needs no code per counter, and counters added to the protocol appear on
 * their own. Returns 0 and stores an array of *n in *out (the caller's,
 * freed with arenad_stats_destroy), or a code (*out NULL, *n 0). */
ARENAD_EXTERN int arenad_stats(arenad_t *h, arenad_stat_t **out, size_t *n);
ARENAD_EXTERN void arenad_stats_destroy(arenad_stat_t *stats);

/* ---- Pipelining ------------------------------------------------------- */

/*
 * For throughput: submit requests without waiting, then collect the
 * replies, which come in submission order. Only alloc, free and ping can be
 * pipelined; the blocking calls above refuse to run (AR_EINVAL) while
 * pipelined requests are in flight.
 *
 * A submit queues the request in the handle (sending it once enough are
 * queued; if the socket is full, it waits for room, holding the replies
 * that come meanwhile until they are collected) and returns: 0; AR_ELIMIT
 * in two cases, told apart by arenad_in_flight(h) < arenad_window(h) and
 * arenad_error(h): hello's max_in_flight requests (ARENAD_WINDOW_DEFAULT
 * without one) are already in flight, so collect first; or the request
 * alone is over the frame limit (a free of too many offsets), so nothing
 * was queued and collecting will not help: split it; AR_EINVAL for bad
 * arguments; AR_EINTERNAL without memory for the request; AR_EIO when the
 * handle is unusable. `tag` is the caller's, handed back with the reply.
 * The arguments are copied into the queued request: the name and the
 * offsets may be reused as soon as the submit returns. For alloc, count 0
 * or 1 mean one block.
 *
 * arenad_collect sends what is queued when it must wait, waits for the
 * oldest reply and fills *res. It returns 0 when a reply was collected,
 * whatever the daemon's status for it (res->status: 0 or a code, with
 * arenad_error(h) giving the daemon's message); AR_EINVAL when nothing is
 * in flight; AR_EIO or AR_EPROTO when the connection broke, by this call
 * or before; AR_EINTERNAL when no memory was left to read a reply or keep
 * its offsets (the reply is lost, so the handle breaks too). Once the
 * handle is broken the requests in flight are dropped and
 * arenad_in_flight is 0, so `while (arenad_in_flight(h))
 * arenad_collect(h, &res);` ends.
 */
typedef enum {
  ARENAD_OP_PING = 0,
  ARENAD_OP_ALLOC = 1,
  ARENAD_OP_FREE = 2
} arenad_op_t;

typedef struct arenad_result_s {
  arenad_op_t op;
  int status;   /* 0 or the daemon's code for this request */
  uint64_t tag; /* as submitted */
  /* ARENAD_OP_ALLOC with status 0: the new blocks' offsets, owned by the
   * handle, valid until the next call on it. */
  const uint64_t *offsets;
  size_t n_offsets;
  /* ARENAD_OP_FREE: references dropped. */
  uint32_t freed;
} arenad_result_t;

ARENAD_EXTERN int arenad_submit_ping(arenad_t *h, uint64_t tag);
ARENAD_EXTERN int arenad_submit_alloc(arenad_t *h, const char *name,
                                      uint64_t size, uint64_t align,
                                      uint32_t count, unsigned flags,
                                      uint64_t tag);
ARENAD_EXTERN int arenad_submit_free(arenad_t *h, const char *name,
                                     const uint64_t *offsets, size_t n,
                                     uint64_t tag);

/* Sends everything queued, without waiting for replies (but reading into
 * the handle the replies that come while the socket is full: the daemon
 * may be waiting for them to be read before it reads more). Returns 0;
 * AR_EIO when the connection broke; AR_EINTERNAL, the handle broken too,
 * when no memory was left to read those replies. */
ARENAD_EXTERN int arenad_flush(arenad_t *h);

ARENAD_EXTERN int arenad_collect(arenad_t *h, arenad_result_t *res);

/* After an arenad_collect that filled an ARENAD_OP_FREE result with any
 * status: how many of that free's blocks came back with a header a client
 * had overwritten (freed all the same, as arenad_free_report tells), and
 * in *indices (when not NULL) their positions among the offsets the free
 * was submitted with, in increasing order. The indices are owned by the
 * handle and valid until the next arenad_collect or arenad_close. 0, and
 * *indices NULL, after any other result, after a collect that failed, and
 * always from a daemon older than 0.4.0. A reply naming an index past the
 * request, out of order or of an offset that failed is AR_EPROTO from
 * arenad_collect. (Since 0.5.0.) */
ARENAD_EXTERN size_t arenad_collect_overwritten(const arenad_t *h,
                                                const uint32_t **indices);

/* Requests submitted and not yet collected; 0 once h is broken (see
 * arenad_collect), and for a NULL h. */
ARENAD_EXTERN size_t arenad_in_flight(const arenad_t *h);

/* How many requests may be in flight at once (see above); 0 for a NULL
 * h. */
ARENAD_EXTERN size_t arenad_window(const arenad_t *h);

#ifdef __cplusplus
}
#endif

#endif /* ARENAD_H */
