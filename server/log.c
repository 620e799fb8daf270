/*
 * log.c: the daemon's log lines (see log.h): a timestamp from the real-time
 * clock, the level, the event and the caller's fields, built in a stack
 * buffer and written with one write(2) to standard error. A failed or short
 * write is not retried beyond EINTR: logging must never stop the daemon.
 */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ar/error.h"

#define LINE_MAX_BYTES 1024

static ad_log_level_t min_level = AD_LOG_INFO;

static const char *const level_names[] = {
#define AD__LOG_NAME(id, name) name,
    AD_LOG_LEVEL_MAP(AD__LOG_NAME)
#undef AD__LOG_NAME
};

const char *ad_log_level_name(ad_log_level_t level) {
  if ((unsigned)level >= AD_LOG_LEVEL_COUNT)
    return "unknown";
  return level_names[level];
}

int ad_log_level_parse(const char *name, ad_log_level_t *out) {
  for (int i = 0; i < AD_LOG_LEVEL_COUNT; i++)
    if (strcmp(name, level_names[i]) == 0) {
      *out = (ad_log_level_t)i;
      return 0;
    }
  return AR_EINVAL;
}

void ad_log_set_level(ad_log_level_t level) { min_level = level; }

bool ad_log_enabled(ad_log_level_t level) { return level >= min_level; }

/* "2026-11-26T16:00:00.123Z" into buf (at least 25 bytes). */
static size_t timestamp(char *buf, size_t len) {
  struct timespec ts;
  struct tm tm;
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  int n = snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ",
                   tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                   tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
  return n < 0 ? 0 : (size_t)n;
}

void ad_log(ad_log_level_t level, const char *event, const char *fmt, ...) {
  if (!ad_log_enabled(level))
    return;

  char line[LINE_MAX_BYTES];
  size_t n = timestamp(line, sizeof(line));
  int k = snprintf(line + n, sizeof(line) - n, " %s %s",
                   ad_log_level_name(level), event);
  if (k > 0)
    n += (size_t)k;
  if (fmt != NULL && n < sizeof(line) - 1) {
    line[n++] = ' ';
    va_list ap;
    va_start(ap, fmt);
    k = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
    va_end(ap);
    if (k > 0)
      n += (size_t)k;
  } else if (fmt != NULL) {
    n = sizeof(line); /* no room left for the fields */
  }
  /* Cut when it did not fit: a line of exactly sizeof(line) - 1 bytes
   * did, and is written whole. */
  if (n > sizeof(line) - 1) {
    n = sizeof(line) - 1;
    memcpy(line + n - 3, "...", 3);
  }
  line[n++] = '\n';

  while (write(STDERR_FILENO, line, n) < 0 && errno == EINTR)
    ;
}

static int safe_char(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || strchr("._:/@+,-", c) != NULL;
}

const char *ad_log_str(char *buf, size_t len, const char *s) {
  size_t i, n = 0;
  bool plain = s[0] != '\0';

  for (i = 0; s[i] != '\0' && plain; i++)
    plain = safe_char((unsigned char)s[i]) != 0;
  if (plain && i < len) {
    memcpy(buf, s, i + 1);
    return buf;
  }

  /* Quoted: room for the closing quote, "..." and the NUL is kept. */
  buf[n++] = '"';
  for (i = 0; s[i] != '\0'; i++) {
    unsigned char c = (unsigned char)s[i];
    char esc[5];
    size_t e;
    if (c == '"' || c == '\\') {
      esc[0] = '\\';
      esc[1] = (char)c;
      e = 2;
    } else if (c < 0x20 || c >= 0x7f) {
      snprintf(esc, sizeof(esc), "\\x%02x", c);
      e = 4;
    } else {
      esc[0] = (char)c;
      e = 1;
    }
    if (n + e + 5 > len) {
      memcpy(buf + n, "...", 3);
      n += 3;
      break;
    }
    memcpy(buf + n, esc, e);
    n += e;
  }
  buf[n++] = '"';
  buf[n] = '\0';
  return buf;
}

const char *ad_log_hex(char *buf, size_t len, const void *p, size_t n) {
  static const char digits[] = "0123456789abcdef";
  const unsigned char *b = p;
  size_t i, o = 0;

  if (n == 0 || len < 3) {
    snprintf(buf, len, "-");
    return buf;
  }
  for (i = 0; i < n && o + 3 <= len; i++) {
    buf[o++] = digits[b[i] >> 4];
    buf[o++] = digits[b[i] & 15];
  }
  buf[o] = '\0';
  return buf;
}

bool ad_ratelimit_allow(ad_ratelimit_t *rl, uint64_t now_ms,
                        uint64_t *suppressed) {
  if (now_ms - rl->start >= rl->window_ms) {
    rl->start = now_ms;
    rl->count = 0;
  }
  if (rl->count >= rl->burst) {
    rl->suppressed++;
    return false;
  }
  rl->count++;
  if (suppressed != NULL)
    *suppressed = rl->suppressed;
  rl->suppressed = 0;
  return true;
}
