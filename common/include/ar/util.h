/*
 * util.h: small helpers shared by the daemon and the tools that belong to
 * no engine, frame or trace: reading a decimal number, and a byte size
 * written by a human ("256M", "4GiB") on a command line or in a config
 * file, and the default
 * socket path that the daemon and the clients agree on; and keeping the
 * standard descriptors 0-2 out of the way of sockets and memfds.
 *
 * Nothing here allocates, prints or keeps state; ar_stdio_fill alone
 * opens descriptors, which stay open for the life of the program.
 */
#ifndef AR_UTIL_H
#define AR_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Reads the run of decimal digits at *s into *out and moves *s past it.
 * Returns AR_OK; AR_EINVAL when *s does not begin with a digit (*s and
 * *out unchanged); AR_ELIMIT when the number does not fit in 64 bits (*s
 * moved past the digits all the same, *out unchanged), so that a caller
 * tells a number too large from no number without reading it again. No
 * sign, no blanks. */
int ar_parse_digits(const char **s, uint64_t *out);

/*
 * Parses a size in bytes: one or more decimal digits, optionally followed
 * by one suffix that multiplies by a power of 1024: K or KiB (2^10), M or
 * MiB (2^20), G or GiB (2^30). The suffix letter may be lower case ("64k");
 * "iB" must be written as shown. Nothing else is accepted: no sign, no
 * white space, no fraction, no other suffix.
 *
 * Returns 0 and stores the size in *out (0 is a valid result; the caller
 * checks its own bounds); AR_EINVAL when s is NULL, empty or not of that
 * form; AR_ELIMIT when it is of that form but the size does not fit in 64
 * bits. *out is unchanged on an error.
 */
int ar_parse_size(const char *s, uint64_t *out);

/* The socket path: the environment variable that names it, its file name
 * in a runtime directory, and the longest path a Unix socket address holds
 * (sizeof sun_path, the NUL included). */
#define AR_SOCKET_ENV "ARENAD_SOCKET"
#define AR_SOCKET_NAME "arenad.sock"
#define AR_SOCKET_PATH_MAX 108

/* Flags of ar_socket_path. */
#define AR_SOCKET_PATH_CREATE 1u /* create the /tmp directory (the daemon) */
#define AR_SOCKET_PATH_NO_ENV 2u /* ignore $ARENAD_SOCKET */

/*
 * The socket path arenad listens on and clients connect to when none is
 * given (common/util/socket_path.c): $ARENAD_SOCKET when set and not empty
 * (unless AR_SOCKET_PATH_NO_ENV); else $XDG_RUNTIME_DIR/arenad.sock when
 * that variable holds an absolute path; else /run/user/UID/arenad.sock when
 * that directory exists; else /tmp/arenad-UID/arenad.sock, in a directory
 * that must be a real directory (not a symlink) owned by the user with no
 * access for group or others. With AR_SOCKET_PATH_CREATE that directory is
 * created (0700) when missing; without it a missing one is not an error
 * (connecting will say so). UID is getuid().
 *
 * Writes the path, NUL-terminated, to buf (len bytes). Returns 0; AR_EINVAL
 * when buf is NULL or len 0; AR_ELIMIT when the path does not fit in len
 * bytes or in AR_SOCKET_PATH_MAX;
 * AR_EPERM when the /tmp directory is not safe (owner, mode or type);
 * AR_EIO when it cannot be created or examined (errno says why). On
 * AR_EPERM and AR_EIO buf holds the directory at fault, so that the caller
 * can name it.
 */
int ar_socket_path(char *buf, size_t len, unsigned flags);

/* Whether `path` is, or may be, the /tmp fallback of ar_socket_path for
 * this user. Its directory is checked before connecting, but a missing one
 * could be made by anyone between that check and the connect; a daemon
 * there runs as the user (it made the directory), so a client connected
 * there whose peer runs as another uid refuses it. True for the fallback
 * however it is spelled: extra slashes, "." and ".." (taken lexically,
 * which no one can change after the connect), relative to the working
 * directory, or resolved through symlinks (realpath); and true when path
 * cannot be resolved (a connected socket whose file the directory's owner
 * has since removed or replaced cannot be told apart from it). */
bool ar_socket_path_may_be_tmp(const char *path);

/*
 * Opens /dev/null on each of descriptors 0, 1 and 2 that is closed, so that
 * no socket or memfd the program opens later takes its number, where
 * printing would write into it (common/util/stdio_fds.c). Input is opened
 * read-only; output write-only when discard_output (a daemon: what it
 * prints there is dropped), else read-only, so that writing it fails with
 * EBADF (a tool: it reports output that could not be written, as for a
 * full disk). Call it first in main, before any descriptor is opened.
 * Returns 0, or -1 with errno set when /dev/null cannot be opened.
 */
int ar_stdio_fill(bool discard_output);

/* fd when it is not 0, 1 or 2 (or negative); else a duplicate of it at 3
 * or above, close-on-exec, with fd closed: a library's own descriptor
 * must not take the place of a standard stream that its caller closed.
 * Returns -1 with errno set (fd closed all the same) when it cannot be
 * duplicated. */
int ar_fd_above_stdio(int fd);

#endif /* AR_UTIL_H */
