/*
 * error.c: names and messages of the error codes, generated from the single
 * list in ar/error.h. Both functions return static strings, also for codes
 * they do not know, so a caller never has anything to free.
 */
#include "ar/error.h"
#include "ar/errorf.h"

#include <stdarg.h>
#include <stdio.h>

const char *ar_strerror(int code) {
  switch (code) {
  case AR_OK:
    return "ok";
#define AR__ERR_MSG(name, value, msg)                                          \
  case AR_##name:                                                              \
    return msg;
    AR_ERRNO_MAP(AR__ERR_MSG)
#undef AR__ERR_MSG
  default:
    return "unknown error";
  }
}

const char *ar_err_name(int code) {
  switch (code) {
  case AR_OK:
    return "OK";
#define AR__ERR_NAME(name, value, msg)                                         \
  case AR_##name:                                                              \
    return #name;
    AR_ERRNO_MAP(AR__ERR_NAME)
#undef AR__ERR_NAME
  default:
    return "UNKNOWN";
  }
}

int ar_errorf(char *buf, size_t len, int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, len, fmt, ap);
  va_end(ap);
  return code;
}
