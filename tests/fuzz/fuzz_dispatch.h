/*
 * fuzz_dispatch.h: the input format of fuzz_dispatch, shared with the seed
 * generator (make_seeds: seeds_requests.c writes its operations,
 * seeds_frame.c and seeds_dispatch.c the inputs).
 *
 * An input is a setup byte, then operations. The setup byte chooses how
 * many pseudo-connections take part (bits 0-1, plus one: 1 to 4), the
 * policy of arena "a" (bits 2-3: first, next, best, worst; arena "c" gets
 * the next one in that order) and whether connections 1 to 3 have another
 * uid than connection 0 (bit 4; for access control), and whether every
 * turn of a connection is spent from its start (bit 5), so that it
 * answers one frame, yields, and is resumed the way the daemon's loop
 * resumes it. Arena "b" is always buddy. Then each operation is one byte `op`
 * and its operands:
 *
 *   0x00-0x7f  DATA: connection op & 3 writes bytes on its socket. When
 *              op & FZ_DATA_LONG, a two-byte little-endian length follows,
 *              else a one-byte length; then that many bytes (cut to what
 *              the input has left). Any bytes: frames, parts of frames,
 *              garbage.
 *   0x80-0x83  RESET: connection op & 3 goes away at once, replies unread
 *              (the next DATA on it opens a new connection).
 *   0x88-0x8b  SHUTDOWN: connection op & 3 ends its side of the stream;
 *              the daemon answers what it read and closes.
 *   0x90-0x93  STALL: connection op & 3 stops reading its replies (or
 *              starts again), so that flow control holds it back.
 *   0x98-0x9f  SCRIBBLE: a client writes into arena op & 7 (modulo the
 *              number of arenas): a two-byte little-endian offset, a length
 *              byte (modulo 64), then that many bytes, written at that
 *              offset (modulo the arena's size, cut at its end). Block
 *              headers included: the daemon must never trust them.
 *   0xa0-0xa7  NOMEM: a byte k follows; the daemon's (k + 1)-th memory
 *              allocation from now fails (malloc, calloc and realloc,
 *              while it runs a connection), once. From then on the target
 *              no longer predicts replies (internal errors may come, a
 *              connection may close), but every invariant must still hold.
 *   other      ignored.
 */
#ifndef FUZZ_DISPATCH_H
#define FUZZ_DISPATCH_H

#define FZ_SLOTS 4 /* pseudo-connections at most */

#define FZ_SETUP_SLOTS(b) (((b)&3) + 1)
#define FZ_SETUP_POLICY(b) (((b) >> 2) & 3)
#define FZ_SETUP_UIDS 0x10
#define FZ_SETUP_SHORT_TURNS 0x20

#define FZ_OP_DATA 0x00
#define FZ_DATA_LONG 0x04
#define FZ_OP_RESET 0x80
#define FZ_OP_SHUTDOWN 0x88
#define FZ_OP_STALL 0x90
#define FZ_OP_SCRIBBLE 0x98
#define FZ_OP_NOMEM 0xa0

/* The arenas: name, size and policy ("list" is the setup's choice). */
#define FZ_ARENA_A_SIZE (64 * 1024)
#define FZ_ARENA_B_SIZE (64 * 1024)
#define FZ_ARENA_C_SIZE (16 * 1024)

#endif /* FUZZ_DISPATCH_H */
