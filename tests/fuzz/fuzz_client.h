/*
 * fuzz_client.h: the input format of fuzz_client, shared with the seed
 * generator (make_seeds, its seeds_client.c), which writes inputs in it.
 *
 * An input is a setup byte, then steps until the input ends. The setup
 * byte's bit 0 makes the library's end of the socketpair non-blocking.
 * A step is a call byte (the call is its value modulo FC_CALLS), three
 * argument bytes, then a reply byte and, unless its mode is NONE or EOF,
 * a length byte and that many bytes: the reply's own. The fake daemon
 * writes the step's reply before the call is made.
 *
 * The reply byte: bits 0-2 are the mode; bit 3 (FC_REPLY_FDS) passes
 * descriptors with it (the reply's first byte b says how many: 1 + (b &
 * 3) memfds of 4096 * (1 + ((b >> 2) & 15)) bytes, 2 more when b & 0x40;
 * an attach reply always reads this byte, and without FC_REPLY_FDS sends
 * ((b & 3) + 1) % 4 of them, so one when b is 0); with FC_REPLY_EOF, it
 * closes the daemon's end both ways rather than its sending side (the
 * library's sends then fail); bits 4-6 are how many more replies the step
 * writes, each with its own length byte and bytes, in the same mode (a
 * built one to the next request). Modes:
 *
 *   FC_REPLY_NONE       nothing
 *   FC_REPLY_OK         a well-formed reply to the oldest request the
 *                       daemon has not answered (or the one the step is
 *                       about to send): its id, its kind, status OK (a
 *                       free's envelope takes its first failing status, a
 *                       failed check's CORRUPTION_DETECTED), the body's
 *                       fields read from the reply's bytes (bytes past
 *                       them read as 0, which gives plausible defaults)
 *   FC_REPLY_STATUS     the same with an error status: the reply's next
 *                       byte b (its first, or the one after the
 *                       descriptors') gives it (1 + (b & 0x7f) % 9, 9
 *                       being a status this library does not know; bit 7
 *                       keeps the body), then a message, then the body's
 *                       fields
 *   FC_REPLY_TWISTED    FC_REPLY_OK with one change, which the next byte
 *                       gives (modulo 6): id + 1, id - 1, id 0, another
 *                       kind's body, no body, sent twice
 *   FC_REPLY_RAW        the reply's bytes, written as they are
 *   FC_REPLY_FRAMED     the reply's bytes as the body of one frame
 *   FC_REPLY_LAST_WORD  the daemon's last word: id 0, an error status (a
 *                       byte), a message, no body
 *   FC_REPLY_EOF        the daemon shuts its side of the stream down (both
 *                       ways with FC_REPLY_FDS)
 *
 * Bytes past the end of the input read as 0.
 */
#ifndef FUZZ_CLIENT_H
#define FUZZ_CLIENT_H

#define FC_SETUP_NONBLOCK 0x01

/* The calls; each takes three argument bytes (see fuzz_client_script.c). */
enum {
  FC_HELLO,
  FC_PING,
  FC_LIST,
  FC_ATTACH,
  FC_DETACH,
  FC_ALLOC,
  FC_ALLOC_N,
  FC_FREE,
  FC_FREE_N,
  FC_FREE_EACH,
  FC_FREE_REPORT,
  FC_RETAIN,
  FC_RELEASE,
  FC_TRANSFER,
  FC_INSPECT,
  FC_CHECK,
  FC_STATS,
  FC_CREATE,
  FC_DESTROY,
  FC_SUBMIT_PING,
  FC_SUBMIT_ALLOC,
  FC_SUBMIT_FREE,
  FC_FLUSH,
  FC_COLLECT,
  FC_CALLS
};

enum {
  FC_REPLY_NONE,
  FC_REPLY_OK,
  FC_REPLY_STATUS,
  FC_REPLY_TWISTED,
  FC_REPLY_RAW,
  FC_REPLY_FRAMED,
  FC_REPLY_LAST_WORD,
  FC_REPLY_EOF
};
#define FC_REPLY_FDS 0x08
#define FC_REPLY_MORE(n) ((n) << 4) /* n more replies, 0 to 7 */

#endif /* FUZZ_CLIENT_H */
