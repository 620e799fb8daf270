/*
 * trace_error.c: fills the caller's ar_trace_error_t, the one way the
 * trace library explains a failure: a line number and a sentence in a
 * buffer whose size is part of its type. The library never prints.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "trace_internal.h"

int ar__trace_fail(ar_trace_error_t *err, int code, uint64_t line,
                   const char *fmt, ...) {
  if (err == NULL)
    return code;
  err->line = line;
  size_t off = 0;
  if (line != 0) {
    int k = snprintf(err->msg, sizeof err->msg, "line %llu: ",
                     (unsigned long long)line);
    off = k > 0 ? (size_t)k : 0;
    if (off >= sizeof err->msg)
      off = sizeof err->msg - 1;
  }
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err->msg + off, sizeof err->msg - off, fmt, ap);
  va_end(ap);
  return code;
}

void ar__trace_ok(ar_trace_error_t *err) {
  if (err == NULL)
    return;
  err->line = 0;
  err->msg[0] = '\0';
}
