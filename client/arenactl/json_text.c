/*
 * json_text.c: JSON strings of text that need not be UTF-8. jansson
 * refuses such a string (json_string returns NULL), and arenactl would
 * then have no JSON to print at all. The text comes from the daemon
 * (arena and client names, the version, a check's detail), which a client
 * cannot vouch for, or from the command line. Each byte that does not
 * begin a well-formed UTF-8 sequence becomes U+FFFD, the replacement
 * character, so the output stays valid JSON and still shows where
 * something was.
 */
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

/* The length of the well-formed UTF-8 sequence at p (RFC 3629: no
 * overlong forms, no surrogates, nothing past U+10FFFF), or 0. */
static size_t utf8_len(const unsigned char *p) {
  unsigned char c = p[0];
  if (c < 0x80)
    return 1;
  /* The lead byte's length and the range of its first continuation. */
  size_t n;
  unsigned char lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF)
    n = 2;
  else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    lo = c == 0xE0 ? 0xA0 : 0x80;
    hi = c == 0xED ? 0x9F : 0xBF;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    lo = c == 0xF0 ? 0x90 : 0x80;
    hi = c == 0xF4 ? 0x8F : 0xBF;
  } else
    return 0;
  if (p[1] < lo || p[1] > hi)
    return 0;
  for (size_t i = 2; i < n; i++)
    if (p[i] < 0x80 || p[i] > 0xBF) /* a NUL ends the check here too */
      return 0;
  return n;
}

json_t *ar__ctl_json_text(const char *s) {
  json_t *j = json_string(s);
  if (j != NULL || s == NULL)
    return j;
  /* Not UTF-8 (or no memory): at most 3 bytes out for each byte in. */
  size_t len = strlen(s);
  char *buf = malloc(3 * len + 1); /* freed below */
  if (buf == NULL)
    return NULL;
  const unsigned char *p = (const unsigned char *)s;
  char *o = buf;
  while (*p != '\0') {
    size_t n = utf8_len(p);
    if (n == 0) {
      memcpy(o, "\xEF\xBF\xBD", 3);
      o += 3;
      p++;
      continue;
    }
    memcpy(o, p, n);
    o += n;
    p += n;
  }
  *o = '\0';
  j = json_string(buf);
  free(buf);
  return j;
}
