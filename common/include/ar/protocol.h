/*
 * protocol.h: the constants both ends of arenad's wire protocol agree on,
 * outside the schema itself (proto/arenad.proto): the protocol version a
 * client sends in hello and the daemon checks, and the release version of
 * this build, which the daemon reports in hello and stats and the tools
 * print with --version. Like tmux-protocol.h, it belongs to neither side.
 *
 * The release version comes from the CMake project version through the
 * ar_protocol target (a compile definition), so a target that includes
 * this header links ar_protocol.
 */
#ifndef AR_PROTOCOL_H
#define AR_PROTOCOL_H

/* The version of the protocol described in proto/arenad.proto. It changes
 * only when an old peer would misread a new message (see the proto). */
#define AR_PROTOCOL_VERSION 1

/* The most bytes of a reply's message (Response.message) the daemon
 * sends: it cuts a longer one, and the client library keeps room for a
 * whole one in its error sentence. */
#define AR_MESSAGE_MAX 383

#ifndef AR__VERSION_STRING
#error "ar/protocol.h needs the ar_protocol target (AR__VERSION_STRING)"
#endif

/* The release version of this build, e.g. "0.1.0": a string literal. */
#define AR_VERSION AR__VERSION_STRING

#endif /* AR_PROTOCOL_H */
