/*
 * errorf.h: ar_errorf, the project's way of filling a caller's error
 * buffer. It lives in the ar_error library beside ar_strerror, but, unlike
 * ar/error.h, this header is not installed and libarenad does not export
 * the function: it is for the daemon and the tools, not a client's API.
 */
#ifndef AR_ERRORF_H
#define AR_ERRORF_H

#include <stddef.h>

#include "ar/error.h"

/* Writes a message, formatted as by printf, into the caller's buffer (len
 * bytes, truncated to fit, always NUL-terminated when len > 0) and returns
 * `code`, so that a function that reports through such a buffer can say
 * `return ar_errorf(err, errlen, AR_EINVAL, "...", ...)`. */
int ar_errorf(char *buf, size_t len, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif /* AR_ERRORF_H */
