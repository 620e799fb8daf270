/*
 * error.h: the error codes of arenad, shared by the engines, the daemon, the
 * wire protocol and the client library.
 *
 * Every code, its name and its message come from the one list below
 * (AR_ERRNO_MAP), so they cannot drift apart. A function that can fail
 * returns 0 (AR_OK) or one of these negative codes. The codes up to
 * AR_EINTERNAL travel on the wire: the protocol's Status value is the code
 * negated (the daemon checks this with static asserts); the codes after it
 * are produced locally by the client library.
 */
#ifndef AR_ERROR_H
#define AR_ERROR_H

/* XX(name, value, message) */
#define AR_ERRNO_MAP(XX)                                                       \
  XX(EINVAL, -1, "invalid argument")                                           \
  XX(ENOENT, -2, "not found")                                                  \
  XX(ENOMEM, -3, "out of memory")                                              \
  XX(EPERM, -4, "permission denied")                                           \
  XX(ECORRUPT, -5, "corruption detected")                                      \
  XX(ELIMIT, -6, "limit exceeded")                                             \
  XX(EVERSION, -7, "unsupported version")                                      \
  XX(EINTERNAL, -8, "internal error")                                          \
  XX(EIO, -9, "I/O error")                                                     \
  XX(EPROTO, -10, "protocol error")

enum {
  AR_OK = 0,
#define AR__ERR_ENUM(name, value, msg) AR_##name = (value),
  AR_ERRNO_MAP(AR__ERR_ENUM)
#undef AR__ERR_ENUM
};

/* The last code that travels on the wire; lower codes are local. */
#define AR_EWIRE_LAST AR_EINTERNAL

/* A static string describing code; "unknown error" for a code not in the
 * list. Never NULL, never to be freed. */
const char *ar_strerror(int code);

/* A static string with the code's name ("EINVAL", "OK"); "UNKNOWN" for a
 * code not in the list. Never NULL, never to be freed. */
const char *ar_err_name(int code);

#endif /* AR_ERROR_H */
