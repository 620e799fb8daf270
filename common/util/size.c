/*
 * size.c: ar_parse_size, the one reader of human-written byte sizes
 * ("4096", "64K", "256MiB"), so that the command line of every tool and the
 * daemon's config accept the same forms and reject the same junk. Powers of
 * 1024 only: an arena is counted in pages, never in powers of 1000. And
 * ar_parse_digits, its decimal part, which the daemon's config and its
 * reading of cgroup and /proc files use too.
 */
#include "ar/util.h"

#include <stdbool.h>
#include <stddef.h>

#include "ar/error.h"

/* The shift of a suffix letter, or -1 when it is not one. */
static int suffix_shift(char c) {
  switch (c) {
  case 'K':
  case 'k':
    return 10;
  case 'M':
  case 'm':
    return 20;
  case 'G':
  case 'g':
    return 30;
  default:
    return -1;
  }
}

int ar_parse_digits(const char **s, uint64_t *out) {
  const char *p = *s;
  uint64_t v = 0;
  bool fits = true;
  for (; *p >= '0' && *p <= '9'; p++) {
    unsigned d = (unsigned)(*p - '0');
    fits = fits && v <= (UINT64_MAX - d) / 10;
    v = v * 10 + d;
  }
  if (p == *s)
    return AR_EINVAL;
  *s = p;
  if (!fits)
    return AR_ELIMIT;
  *out = v;
  return AR_OK;
}

int ar_parse_size(const char *s, uint64_t *out) {
  if (s == NULL || out == NULL)
    return AR_EINVAL;

  const char *p = s;
  uint64_t v = 0;
  int digits = ar_parse_digits(&p, &v);
  if (digits == AR_EINVAL)
    return AR_EINVAL;

  int shift = 0;
  if (*p != '\0') {
    shift = suffix_shift(*p);
    if (shift < 0)
      return AR_EINVAL;
    p++;
    if (p[0] == 'i' && p[1] == 'B')
      p += 2;
    if (*p != '\0')
      return AR_EINVAL;
  }
  if (digits == AR_ELIMIT || v > (UINT64_MAX >> shift))
    return AR_ELIMIT; /* of the form, but too large */
  *out = v << shift;
  return AR_OK;
}
