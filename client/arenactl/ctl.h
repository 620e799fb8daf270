/*
 * ctl.h: what arenactl's commands against a running daemon share
 * (ctl.c): the socket given with --socket, connecting with hello, the
 * way errors are reported, and small renderers for tables and JSON. Every
 * command here reaches the daemon through the client library's public
 * header, arenad.h, and nothing else. Internal to arenactl.
 */
#ifndef ARENACTL_CTL_H
#define ARENACTL_CTL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "arenactl.h" /* ar__ctl_socket: --socket, or NULL for the default */
#include "arenad.h"

/* Why a call of the library failed with rc: errno's message for AR_EIO
 * (a system call failed, and errno says how), else rc's own. Ask before
 * anything else can change errno. */
const char *ar__ctl_why(int rc);

/* ar__ctl_why for a failed arenad_connect_timeout: says that the daemon
 * did not take the connection within --timeout when that is why. */
const char *ar__ctl_connect_why(int rc);

/* Connects to the daemon and says hello as "arenactl". Returns the handle
 * (closed by the caller with arenad_close) and fills *hello when not NULL;
 * or NULL after printing why on standard error, prefixed by `cmd`. */
arenad_t *ar__ctl_connect(const char *cmd, arenad_hello_t *hello);

/* The requests a command keeps in flight on h: `asked` (its --window, or
 * its default), or the daemon's window when that is smaller; a --window
 * that was `given` and is cut so gets a notice on standard error. */
size_t ar__ctl_window(const char *cmd, arenad_t *h, uint64_t asked, bool given);

/* Prints "arenactl CMD: WHAT: <the handle's error or the code's message>"
 * on standard error and returns ARENACTL_FAIL. */
int ar__ctl_fail(const char *cmd, arenad_t *h, int rc, const char *what);

/* Parses a command's options, each a flag whose `val` is a bit ORed into
 * *flags ('h' is --help: prints usage to standard output), and checks that
 * nargs_min to nargs_max arguments follow. Returns ARENACTL_OK, -1 after
 * --help, or ARENACTL_USAGE (after printing why). Leaves optind at the
 * first argument. */
struct option;
int ar__ctl_parse_flags(int argc, char **argv, const struct option *longopts,
                        void (*usage)(FILE *), int *flags, int nargs_min,
                        int nargs_max);

/* The check of ar__ctl_parse_flags for a command that parses its options
 * itself: that nargs_min to nargs_max arguments follow, from optind. Returns
 * ARENACTL_OK or ARENACTL_USAGE (after saying why, and the usage). */
int ar__ctl_check_args(int argc, char **argv, void (*usage)(FILE *),
                       int nargs_min, int nargs_max);

/* An ARENA argument must name something: an empty one is a usage error,
 * said on standard error ("arenactl CMD: ARENA is empty"). Returns
 * ARENACTL_OK or ARENACTL_USAGE. */
int ar__ctl_arena_arg(const char *cmd, const char *arena);

/* Parses an unsigned decimal or 0x-hex number (an offset, a count): no
 * sign, no blanks, and a leading 0 is still decimal. Returns 0, or
 * AR_EINVAL. */
int ar__ctl_parse_u64(const char *s, uint64_t *out);

/* Prints a JSON value to standard output (indented, with a newline) and
 * drops the reference. Returns ARENACTL_OK, or ARENACTL_FAIL when root is
 * NULL (no memory) or writing failed. */
int ar__ctl_print_json(const char *cmd, json_t *root);

/* Flushes standard output: returns ARENACTL_OK, or ARENACTL_FAIL after
 * saying on standard error that writing the output failed. Every command
 * ends its output with it. */
int ar__ctl_flush(const char *cmd);

/* A JSON integer of a uint64 (jansson's integers are signed: values past
 * INT64_MAX, which no counter reaches, become reals). */
json_t *ar__ctl_json_u64(uint64_t v);

/* A JSON string of s, which need not be UTF-8 (json_text.c): each byte
 * that begins no well-formed UTF-8 sequence becomes U+FFFD. For text from
 * the daemon or the command line. NULL when s is NULL or memory runs
 * out. */
json_t *ar__ctl_json_text(const char *s);

/* One arena (arenad_list's, arenad_create_arena's) as a JSON object:
 * name, size, policy, use, access and quotas. NULL without memory. */
json_t *ar__ctl_arena_json(const arenad_arena_t *a);

/* Sets obj[name] = value, creating the nested objects of a dotted name
 * ("requests.alloc" sets obj.requests.alloc). Steals value. Returns 0 or
 * -1. */
int ar__ctl_json_set_path(json_t *obj, const char *name, json_t *value);

#endif /* ARENACTL_CTL_H */
