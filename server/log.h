/*
 * log.h: the daemon's log, one line per event on standard error, in a
 * format meant to stay stable for the people and scripts that read it:
 *
 *   2026-11-26T16:00:00.123Z info accept conn=3 pid=123 uid=1000 gid=1000
 *
 * an RFC 3339 UTC timestamp with milliseconds, the level, the event name
 * (a lower-case word, hyphenated), then key=value fields. A value that
 * holds anything but [A-Za-z0-9._:/@+,=-] is quoted, with \" \\ and \xNN
 * escapes (ad_log_str), so that a line always splits on spaces; peer bytes
 * appear only as hex (ad_log_hex). Each line is one write(2), so lines
 * never interleave. Lines under the minimum level are dropped.
 *
 * The level is the only state, set once at start-up; the daemon has one
 * thread.
 */
#ifndef AD_LOG_H
#define AD_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ar/util.h"

/* XX(enum suffix, name) */
#define AD_LOG_LEVEL_MAP(XX)                                                   \
  XX(DEBUG, "debug")                                                           \
  XX(INFO, "info")                                                             \
  XX(WARN, "warn")                                                             \
  XX(ERROR, "error")

typedef enum {
#define AD__LOG_ENUM(id, name) AD_LOG_##id,
  AD_LOG_LEVEL_MAP(AD__LOG_ENUM)
#undef AD__LOG_ENUM
      AD_LOG_LEVEL_COUNT
} ad_log_level_t;

/* The level's name ("info"); "unknown" when out of range. Static. */
const char *ad_log_level_name(ad_log_level_t level);

/* Parses a level name. Returns 0, or AR_EINVAL for an unknown name. */
int ad_log_level_parse(const char *name, ad_log_level_t *out);

/* Sets the minimum level written (AD_LOG_INFO until set). */
void ad_log_set_level(ad_log_level_t level);

/* Whether a line at `level` would be written. */
bool ad_log_enabled(ad_log_level_t level);

/*
 * Writes one line: timestamp, level, `event`, then the fields that `fmt`
 * (printf-style, may be NULL) formats, separated from the event by a
 * space. The caller formats each field as key=value, passing any value
 * that may hold other characters through ad_log_str or ad_log_hex. A line
 * longer than 1 KiB is cut and ends with "...".
 */
void ad_log(ad_log_level_t level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* `s` as a field value, written to buf (len bytes, at least 8) and
 * returned: as is when it is not empty and holds only safe characters
 * (letters, digits and "._:/@+,-"; not '=', which would start a field),
 * quoted and escaped otherwise, cut with "..." when it does not fit. */
const char *ad_log_str(char *buf, size_t len, const char *s);

/* Room for a socket path (AR_SOCKET_PATH_MAX bytes) as ad_log_str writes
 * it: every byte escaped as \xNN, the quotes and the NUL. */
#define AD_LOG_PATH_MAX (4 * AR_SOCKET_PATH_MAX + 3)

/* The first bytes of p[0..n) in hex, as many as fit in buf (len bytes),
 * "-" when n is 0. For samples of a peer's bytes. */
const char *ad_log_hex(char *buf, size_t len, const void *p, size_t n);

/*
 * A rate limit for events a peer can trigger at will (refused connections,
 * protocol errors), so that a flood costs a few lines a second: at most
 * `burst` lines per `window_ms`. Zero-initialise with the two limits set.
 */
typedef struct ad_ratelimit_s {
  uint64_t window_ms;  /* public: the window */
  unsigned burst;      /* public: lines allowed per window */
  uint64_t start;      /* private: start of the current window */
  unsigned count;      /* private: lines in the current window */
  uint64_t suppressed; /* private: lines dropped since the last one written */
} ad_ratelimit_t;

/* Whether a line may be written at `now_ms`. When it may, *suppressed (if
 * not NULL) receives the number of lines dropped since the last allowed
 * one, to be logged with it, and the count restarts. */
bool ad_ratelimit_allow(ad_ratelimit_t *rl, uint64_t now_ms,
                        uint64_t *suppressed);

#endif /* AD_LOG_H */
