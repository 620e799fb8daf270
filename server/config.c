/*
 * config.c: every configuration key, declared once in a table with its
 * kind, bounds and default, and the code that reads keys from an INI file
 * (through inih), the command line and the environment into an
 * ad_config_t (see config.h for the format).
 *
 * inih calls its handler without a line number (Debian builds it with
 * INI_HANDLER_LINENO 0), so the file is read through our own reader, which
 * counts lines as inih does (one call, one line), and the handler reports
 * errors against that count. inih's own return is the first line it found
 * wrong, ours or a syntax error: the message follows whichever came first.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <ini.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ar/error.h"
#include "ar/errorf.h"
#include "ar/frame.h"
#include "log.h"
#include "reply_bound.h"

#define KiB ((uint64_t)1 << 10)
#define MiB ((uint64_t)1 << 20)
#define GiB ((uint64_t)1 << 30)

typedef enum {
  K_PATH,   /* a socket path */
  K_MODE,   /* octal permission bits */
  K_LEVEL,  /* a log level name */
  K_COUNT,  /* a decimal integer */
  K_SIZE,   /* a byte size with an optional K, M or G suffix */
  K_POLICY, /* a policy name */
  K_USER,   /* a user name or uid */
  K_GROUP   /* a group name or gid */
} kind_t;

typedef struct key_s {
  const char *name;
  kind_t kind;
  uint64_t min, max, dflt; /* numeric kinds */
  size_t offset;           /* of the field in ad_config_t or ad_arena_conf_t */
  const char *help;
} cfgkey_t;

#define D(field) offsetof(ad_config_t, field)
#define A(field) offsetof(ad_arena_conf_t, field)

/* [daemon]: every tunable of the daemon. */
static const cfgkey_t daemon_keys[] = {
    {"socket", K_PATH, 0, 0, 0, D(socket),
     "socket path (default: $ARENAD_SOCKET, then the runtime directory)"},
    {"socket_mode", K_MODE, 0, 0777, 0600, D(socket_mode),
     "permission bits of the socket file"},
    {"log_level", K_LEVEL, 0, AD_LOG_ERROR, AD_LOG_INFO, D(log_level),
     "debug, info, warn or error"},
    {"max_connections", K_COUNT, 1, 1000000, 1024, D(max_connections),
     "open connections; more are refused"},
    {"max_frame_bytes", K_SIZE, 4 * KiB, 64 * MiB, AR_FRAME_MAX_DEFAULT,
     D(max_frame_bytes), "largest frame body, requests and replies"},
    {"max_in_flight", K_COUNT, 1, 65536, 1024, D(max_in_flight),
     "replies queued for a connection and not all sent (its socket full) "
     "before reading it pauses"},
    {"output_pause_bytes", K_SIZE, 4 * KiB, 1 * GiB, 1 * MiB,
     D(output_pause_bytes),
     "unsent reply bytes that pause reading a connection"},
    {"output_limit_bytes", K_SIZE, 64 * KiB, 4 * GiB, 8 * MiB,
     D(output_limit_bytes),
     "bound of a connection's unsent reply bytes: at least "
     "output_pause_bytes + max_frame_bytes + 10, so never reached"},
    {"max_blocks_per_request", K_COUNT, 1, 1 << 20, 4096,
     D(max_blocks_per_request), "alloc count and free offsets"},
    {"max_live_blocks", K_COUNT, 0, UINT64_C(1) << 40, 0, D(max_live_blocks),
     "live blocks in all arenas, which bound the daemon's own memory "
     "(about 100 bytes each; 0: no limit)"},
    {"max_shared_holds", K_COUNT, 0, UINT64_C(1) << 40, 0, D(max_shared_holds),
     "holds of a block beside its first holder's, in all arenas: the "
     "records retains and transfers add (48 bytes each; 0: no limit)"},
    {"default_page", K_COUNT, 1, 65536, 256, D(default_page),
     "inspect page when the request gives no limit; at most max_page"},
    {"max_page", K_COUNT, 1, 65536, 4096, D(max_page),
     "largest inspect page; larger requests are clamped"},
    {"turn_budget_us", K_COUNT, 0, 10000000, 5000, D(turn_budget_us),
     "time one connection's requests, or the freeing of a closed one's "
     "blocks, may hold the loop before the other connections get a turn "
     "(0: no limit)"},
    {"read_chunk", K_SIZE, 4 * KiB, 16 * MiB, 64 * KiB, D(read_chunk),
     "bytes read from a connection per wake-up"},
    {"shutdown_timeout_ms", K_COUNT, 0, 3600000, 5000, D(shutdown_timeout_ms),
     "time given to flush replies on SIGINT or SIGTERM"},
    {"send_timeout_ms", K_COUNT, 0, 3600000, 60000, D(send_timeout_ms),
     "time a connection's unsent replies may wait with none taken by the "
     "peer before it is closed (0: no limit)"},
    {"frame_timeout_ms", K_COUNT, 0, 3600000, 30000, D(frame_timeout_ms),
     "time a connection has to finish a frame it began (0: no limit)"},
    {"admin_group", K_GROUP, 0, UINT32_MAX - 1, AD_ID_NONE, D(admin_group),
     "a group (name or gid) whose members may create and destroy arenas, "
     "besides root and the daemon's user (default: none)"},
    {"root_override", K_COUNT, 0, 1, 1, D(root_override),
     "1: root (uid 0) may use every arena whatever its mode, and create and "
     "destroy arenas, as with files; 0: root is a uid like any other (a "
     "client container's root)"},
};

/* [arena NAME]: one arena. */
static const cfgkey_t arena_keys[] = {
    {"size", K_SIZE, AR_ARENA_UNIT, AR_ARENA_MAX, 0, A(size),
     "bytes, a multiple of 4096 (a power of two for buddy); required"},
    {"policy", K_POLICY, 0, AR_POLICY_COUNT - 1, AD_DEFAULT_ARENA_POLICY,
     A(policy), "first, next, best, worst or buddy"},
    {"mode", K_MODE, 0, 0777, 0600, A(mode),
     "permission bits: read to attach read-only, inspect, check and "
     "retain; write to alloc and free"},
    {"owner", K_USER, 0, UINT32_MAX - 1, AD_ID_NONE, A(owner),
     "owner, a user name or uid (default: the daemon's user)"},
    {"group", K_GROUP, 0, UINT32_MAX - 1, AD_ID_NONE, A(group),
     "group, a group name or gid (default: the daemon's group)"},
    {"quota_bytes", K_SIZE, 0, AR_ARENA_MAX, 0, A(quota_bytes),
     "block bytes a connection may hold, 0 for none"},
    {"quota_blocks", K_COUNT, 0, UINT32_MAX, 0, A(quota_blocks),
     "blocks a connection may hold, 0 for none"},
};

#define N_DAEMON_KEYS (sizeof(daemon_keys) / sizeof(daemon_keys[0]))
#define N_ARENA_KEYS (sizeof(arena_keys) / sizeof(arena_keys[0]))
_Static_assert(N_ARENA_KEYS <= 32, "ad_arena_conf_t.set has 32 bits");
_Static_assert(AD_ARENA_NAME_MAX < AD_ORIGIN_MAX, "origins name arenas");

static uint64_t *u64_field(void *base, const cfgkey_t *k) {
  return (uint64_t *)((char *)base + k->offset);
}

static void set_defaults(void *base, const cfgkey_t *keys, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (keys[i].kind != K_PATH)
      *u64_field(base, &keys[i]) = keys[i].dflt;
}

/* A size for humans: "64M", "4K", or plain bytes. */
static const char *human(char *buf, size_t len, uint64_t v) {
  if (v != 0 && v % GiB == 0)
    snprintf(buf, len, "%lluG", (unsigned long long)(v / GiB));
  else if (v != 0 && v % MiB == 0)
    snprintf(buf, len, "%lluM", (unsigned long long)(v / MiB));
  else if (v != 0 && v % KiB == 0)
    snprintf(buf, len, "%lluK", (unsigned long long)(v / KiB));
  else
    snprintf(buf, len, "%llu", (unsigned long long)v);
  return buf;
}

/* A numeric key's bounds as its messages give them, "LO to HI": sizes
 * for humans, counts in decimal. */
static const char *bounds(char *buf, size_t len, const cfgkey_t *k) {
  char lo[32], hi[32];
  if (k->kind == K_SIZE)
    snprintf(buf, len, "%s to %s", human(lo, sizeof(lo), k->min),
             human(hi, sizeof(hi), k->max));
  else
    snprintf(buf, len, "%llu to %llu", (unsigned long long)k->min,
             (unsigned long long)k->max);
  return buf;
}

/* Plain decimal digits, and nothing else, into *out. */
static bool parse_count(const char *s, uint64_t *out) {
  uint64_t v;
  if (!ar_parse_digits(&s, &v) || *s != '\0')
    return false;
  *out = v;
  return true;
}

static bool parse_octal(const char *s, uint64_t *out) {
  uint64_t v = 0;
  size_t n = strlen(s);
  if (n == 0 || n > 4)
    return false;
  for (; *s != '\0'; s++) {
    if (*s < '0' || *s > '7')
      return false;
    v = v * 8 + (uint64_t)(*s - '0');
  }
  *out = v;
  return true;
}

/* A user or group: a number, or a name looked up in the system's
 * databases. */
static bool parse_id(const char *s, bool group, uint64_t *out) {
  if (parse_count(s, out))
    return true;
  char buf[4096];
  if (group) {
    struct group gr, *res = NULL;
    if (getgrnam_r(s, &gr, buf, sizeof(buf), &res) != 0 || res == NULL)
      return false;
    *out = res->gr_gid;
  } else {
    struct passwd pw, *res = NULL;
    if (getpwnam_r(s, &pw, buf, sizeof(buf), &res) != 0 || res == NULL)
      return false;
    *out = res->pw_uid;
  }
  return true;
}

/*
 * Parses `value` for key k into base (an ad_config_t or ad_arena_conf_t).
 * Returns 0, or AR_EINVAL with a message (without the location) in msg.
 */
static int set_key(const cfgkey_t *k, void *base, const char *value, char *msg,
                   size_t msglen) {
  uint64_t v = 0;
  char range[80];
  ad_log_level_t level;
  ar_policy_t policy;

  switch (k->kind) {
  case K_PATH:
    if (value[0] == '\0')
      return ar_errorf(msg, msglen, AR_EINVAL, "%s: empty path", k->name);
    if (strlen(value) >= AR_SOCKET_PATH_MAX)
      return ar_errorf(msg, msglen, AR_EINVAL, "%s: path longer than %d bytes",
                       k->name, AR_SOCKET_PATH_MAX - 1);
    snprintf((char *)base + k->offset, AR_SOCKET_PATH_MAX, "%s", value);
    return 0;
  case K_LEVEL:
    if (ad_log_level_parse(value, &level) < 0)
      return ar_errorf(msg, msglen, AR_EINVAL,
                       "%s = %s: not debug, info, warn or error", k->name,
                       value);
    v = level;
    break;
  case K_POLICY:
    if (ar_policy_parse(value, &policy) < 0)
      return ar_errorf(msg, msglen, AR_EINVAL,
                       "%s = %s: not first, next, best, worst or buddy",
                       k->name, value);
    v = (uint64_t)policy;
    break;
  case K_MODE:
    if (!parse_octal(value, &v) || v > k->max)
      return ar_errorf(msg, msglen, AR_EINVAL,
                       "%s = %s: not an octal mode from 0 to %03llo", k->name,
                       value, (unsigned long long)k->max);
    break;
  case K_USER:
  case K_GROUP:
    if (!parse_id(value, k->kind == K_GROUP, &v) || v > k->max)
      return ar_errorf(msg, msglen, AR_EINVAL, "%s = %s: no such %s", k->name,
                       value, k->kind == K_GROUP ? "group" : "user");
    break;
  case K_COUNT:
    if (!parse_count(value, &v))
      return ar_errorf(msg, msglen, AR_EINVAL, "%s = %s: not a decimal number",
                       k->name, value);
    if (v < k->min || v > k->max)
      return ar_errorf(msg, msglen, AR_EINVAL, "%s = %s: out of range (%s)",
                       k->name, value, bounds(range, sizeof(range), k));
    break;
  case K_SIZE:
    if (ar_parse_size(value, &v) < 0)
      return ar_errorf(msg, msglen, AR_EINVAL,
                       "%s = %s: not a size (digits, then K, M or G)", k->name,
                       value);
    if (v < k->min || v > k->max)
      return ar_errorf(msg, msglen, AR_EINVAL, "%s = %s: out of range (%s)",
                       k->name, value, bounds(range, sizeof(range), k));
    break;
  }
  *u64_field(base, k) = v;
  return 0;
}

static const cfgkey_t *find_key(const cfgkey_t *keys, size_t n, const char *name) {
  for (size_t i = 0; i < n; i++)
    if (strcmp(keys[i].name, name) == 0)
      return &keys[i];
  return NULL;
}

bool ad_config_arena_name_ok(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n > AD_ARENA_NAME_MAX || !isalnum((unsigned char)s[0]))
    return false;
  for (size_t i = 0; i < n; i++)
    if (!isalnum((unsigned char)s[i]) && strchr("._-", s[i]) == NULL)
      return false;
  return true;
}

static ad_arena_conf_t *find_arena(ad_config_t *cfg, const char *name) {
  for (size_t i = 0; i < cfg->narenas; i++)
    if (strcmp(cfg->arenas[i].name, name) == 0)
      return &cfg->arenas[i];
  return NULL;
}

/* A new arena with its defaults, or NULL when there are too many or no
 * memory (message in msg). */
static ad_arena_conf_t *new_arena(ad_config_t *cfg, const char *name,
                                  const char *origin, char *msg,
                                  size_t msglen) {
  if (cfg->narenas == AD_ARENAS_MAX) {
    snprintf(msg, msglen, "more than %d arenas", AD_ARENAS_MAX);
    return NULL;
  }
  if (cfg->narenas == cfg->arenas_cap) {
    size_t cap = cfg->arenas_cap ? cfg->arenas_cap * 2 : 4;
    ad_arena_conf_t *a = realloc(cfg->arenas, cap * sizeof(*a));
    if (a == NULL) {
      snprintf(msg, msglen, "out of memory");
      return NULL;
    }
    cfg->arenas = a;
    cfg->arenas_cap = cap;
  }
  ad_arena_conf_t *a = &cfg->arenas[cfg->narenas++];
  memset(a, 0, sizeof(*a));
  set_defaults(a, arena_keys, N_ARENA_KEYS);
  snprintf(a->name, sizeof(a->name), "%s", name);
  snprintf(a->origin, sizeof(a->origin), "%s", origin);
  return a;
}

void ad_config_init(ad_config_t *cfg) {
  memset(cfg, 0, sizeof(*cfg));
  set_defaults(cfg, daemon_keys, N_DAEMON_KEYS);
}

void ad_config_fini(ad_config_t *cfg) {
  free(cfg->arenas);
  cfg->arenas = NULL;
  cfg->narenas = cfg->arenas_cap = 0;
}

/* ---- The file ----------------------------------------------------------- */

typedef struct parser_s {
  ad_config_t *cfg;
  const char *name; /* the file, for messages */
  FILE *f;
  int line;      /* the line inih is on: reader calls so far */
  int long_line; /* the first line too long for inih, or 0 */
  int long_section; /* the first [section] name too long for inih, or 0 */
  int err_line;  /* the line of the first error the handler found, or 0 */
  char msg[256]; /* that error, without its location */
  int section_err_line;           /* the first bad [section] header (seen by the
                                     reader: inih says nothing of an empty one) */
  char section_msg[200];          /* what is wrong with it */
  int bad_name_line;              /* an [arena NAME] header with a bad name
                                     that no key of its section has reported
                                     yet, or 0 */
  char bad_name_msg[200];         /* what is wrong with it */
  int daemon_line[N_DAEMON_KEYS]; /* where each [daemon] key was set */
} parser_t;

/* inih keeps this much of a [section] name and silently drops the rest
 * (INI_MAX_SECTION, 50 with the NUL, is compiled into libinih): an arena
 * name in a file is at most this minus "arena ". */
#define INIH_SECTION_MAX 49

/* The name of a [section] header line as inih takes it: everything
 * between the '[' (after leading blanks) and the first ']', not trimmed.
 * Returns its start and stores its length, or NULL for any other line. */
static const char *section_name(const char *line, size_t *len) {
  while (isspace((unsigned char)*line))
    line++;
  const char *end = *line == '[' ? strchr(line + 1, ']') : NULL;
  if (end == NULL)
    return NULL;
  *len = (size_t)(end - (line + 1));
  return line + 1;
}

/* The arena name of section `section` ("arena NAME"), or NULL when it is
 * no arena section. */
static const char *arena_section(const char *section) {
  if (strncmp(section, "arena", 5) != 0 || !isspace((unsigned char)section[5]))
    return NULL;
  const char *name = section + 5;
  while (isspace((unsigned char)*name))
    name++;
  return name;
}

/* The message of an arena section whose name is not one. */
static void bad_name(char *msg, size_t len, const char *name) {
  snprintf(msg, len,
           "[arena %s]: an arena name is 1 to %d letters, digits, '.', '_' "
           "or '-', starting with a letter or digit",
           name, AD_ARENA_NAME_MAX);
}

/* An arena section with a bad name is reported at its first key (as the
 * other errors of its keys are), or at its header when its section ends
 * with none: it must not vanish. Called at each header and at the end. */
static void end_bad_name(parser_t *p) {
  if (p->bad_name_line != 0 && p->section_err_line == 0) {
    p->section_err_line = p->bad_name_line;
    snprintf(p->section_msg, sizeof(p->section_msg), "%s", p->bad_name_msg);
  }
  p->bad_name_line = 0;
}

/* A [section] header, seen by the reader before inih goes on: an arena
 * section makes its arena at once, so that one without keys is reported
 * ("has no size") instead of vanishing; an unknown section is an error
 * even when empty, and so is an arena section with a bad name. */
static void on_section(parser_t *p, const char *section) {
  const char *name = arena_section(section);
  char msg[200];
  end_bad_name(p);
  if (name != NULL && !ad_config_arena_name_ok(name)) { /* see end_bad_name */
    p->bad_name_line = p->line;
    bad_name(p->bad_name_msg, sizeof(p->bad_name_msg), name);
    return;
  }
  if (strcmp(section, "daemon") == 0)
    return;
  if (name == NULL)
    snprintf(msg, sizeof(msg),
             "unknown section [%.60s] (expected [daemon] or [arena NAME])",
             section);
  else if (find_arena(p->cfg, name) != NULL)
    return;
  else {
    char origin[AD_ORIGIN_MAX];
    snprintf(origin, sizeof(origin), "%.60s:%d", p->name, p->line);
    if (new_arena(p->cfg, name, origin, msg, sizeof(msg)) != NULL)
      return;
  }
  if (p->section_err_line == 0) {
    p->section_err_line = p->line;
    snprintf(p->section_msg, sizeof(p->section_msg), "%s", msg);
  }
}

/* inih's reader: fgets, counting lines. A line longer than inih's buffer
 * comes in pieces, each of which inih also counts as a line. */
static char *count_lines(char *str, int num, void *stream) {
  parser_t *p = stream;
  char *r = fgets(str, num, p->f);
  if (r != NULL) {
    p->line++;
    size_t n = strlen(r);
    if (p->long_line == 0 && n == (size_t)num - 1 && r[n - 1] != '\n' &&
        !feof(p->f))
      p->long_line = p->line;
    /* inih takes an indented line for the continuation of the value
     * before it (Debian builds it with INI_ALLOW_MULTILINE), so that an
     * indented key reads as that key given again. No value of ours spans
     * lines: the blanks go, and the line is read as written. */
    size_t lead = strspn(r, " \t");
    if (lead > 0)
      memmove(r, r + lead, n - lead + 1);
    size_t len;
    const char *name = section_name(r, &len);
    if (name != NULL && len > INIH_SECTION_MAX) { /* inih would cut it */
      if (p->long_section == 0)
        p->long_section = p->line;
    } else if (name != NULL) {
      char section[INIH_SECTION_MAX + 1];
      memcpy(section, name, len);
      section[len] = '\0';
      on_section(p, section);
    }
  }
  return r;
}

static int handler_fail(parser_t *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int handler_fail(parser_t *p, const char *fmt, ...) {
  if (p->err_line == 0) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->msg, sizeof(p->msg), fmt, ap);
    va_end(ap);
    p->err_line = p->line;
  }
  return 0; /* inih: an error on this line */
}

static int on_daemon_key(parser_t *p, const char *key, const char *value) {
  const cfgkey_t *k = find_key(daemon_keys, N_DAEMON_KEYS, key);
  if (k == NULL)
    return handler_fail(p, "[daemon]: unknown key '%s'", key);
  size_t i = (size_t)(k - daemon_keys);
  if (p->daemon_line[i] != 0)
    return handler_fail(p, "[daemon]: %s is already set on line %d", key,
                        p->daemon_line[i]);
  char msg[200];
  if (set_key(k, p->cfg, value, msg, sizeof(msg)) < 0)
    return handler_fail(p, "[daemon] %s", msg);
  p->daemon_line[i] = p->line;
  return 1;
}

static int on_arena_key(parser_t *p, const char *name, const char *key,
                        const char *value) {
  if (!ad_config_arena_name_ok(name)) {
    char msg[200];
    p->bad_name_line = 0; /* said here */
    bad_name(msg, sizeof(msg), name);
    return handler_fail(p, "%s", msg);
  }
  const cfgkey_t *k = find_key(arena_keys, N_ARENA_KEYS, key);
  if (k == NULL)
    return handler_fail(p, "[arena %s]: unknown key '%s'", name, key);

  char msg[200];
  ad_arena_conf_t *a = find_arena(p->cfg, name);
  if (a == NULL) {
    char origin[AD_ORIGIN_MAX];
    snprintf(origin, sizeof(origin), "%.60s:%d", p->name, p->line);
    a = new_arena(p->cfg, name, origin, msg, sizeof(msg));
    if (a == NULL)
      return handler_fail(p, "[arena %s]: %s", name, msg);
  }
  uint32_t bit = (uint32_t)1 << (k - arena_keys);
  if (a->set & bit)
    return handler_fail(p, "[arena %s]: %s is given twice", name, key);
  if (set_key(k, a, value, msg, sizeof(msg)) < 0)
    return handler_fail(p, "[arena %s] %s", name, msg);
  a->set |= bit;
  if (k == &arena_keys[0]) /* the size: what the checks after the file
                              speak of, so point at its line */
    snprintf(a->origin, sizeof(a->origin), "%.60s:%d", p->name, p->line);
  return 1;
}

static int on_key(void *user, const char *section, const char *key,
                  const char *value) {
  parser_t *p = user;

  if (section[0] == '\0')
    return handler_fail(p, "'%s' is outside of a section ([daemon] or "
                           "[arena NAME])", key);
  if (strcmp(section, "daemon") == 0)
    return on_daemon_key(p, key, value);
  const char *name = arena_section(section);
  if (name != NULL)
    return on_arena_key(p, name, key, value);
  return handler_fail(p, "unknown section [%s] (expected [daemon] or "
                         "[arena NAME])", section);
}

int ad_config_load_stream(ad_config_t *cfg, FILE *f, const char *name,
                          char *err, size_t errlen) {
  parser_t p;
  memset(&p, 0, sizeof(p));
  p.cfg = cfg;
  p.name = name;
  p.f = f;

  int line = ini_parse_stream(count_lines, &p, on_key, &p);
  end_bad_name(&p);
  if (line < 0)
    return ar_errorf(err, errlen, AR_EINVAL, "%s: cannot parse (out of memory)",
                     name);
  /* A long line reaches the handler in pieces: the first may pass with a
   * cut value, so it is an error whatever inih says. */
  if (p.long_line != 0 && (line == 0 || p.long_line <= line))
    return ar_errorf(err, errlen, AR_EINVAL,
                     "%s:%d: line too long (at most %d characters)", name,
                     p.long_line, INI_MAX_LINE - 2);
  /* inih would go on with the name cut short: an arena of another name */
  if (p.long_section != 0 && (line == 0 || p.long_section <= line))
    return ar_errorf(err, errlen, AR_EINVAL,
                     "%s:%d: section name too long (at most %d characters "
                     "between the brackets, so an arena name in a file is at "
                     "most %d; longer names up to %d work with --arena and "
                     "create_arena)",
                     name, p.long_section, INIH_SECTION_MAX,
                     INIH_SECTION_MAX - 6, AD_ARENA_NAME_MAX);
  if (ferror(f))
    return ar_errorf(err, errlen, AR_EIO, "%s: cannot read: %s", name,
                     strerror(errno));
  if (p.section_err_line != 0 && (line == 0 || p.section_err_line < line))
    return ar_errorf(err, errlen, AR_EINVAL, "%s:%d: %s", name,
                     p.section_err_line, p.section_msg);
  if (line == 0)
    return 0;
  if (line == p.err_line)
    return ar_errorf(err, errlen, AR_EINVAL, "%s:%d: %s", name, line, p.msg);
  return ar_errorf(err, errlen, AR_EINVAL,
                   "%s:%d: syntax error (expected [section], key = value or a "
                   "comment)",
                   name, line);
}

int ad_config_load_file(ad_config_t *cfg, const char *path, char *err,
                        size_t errlen) {
  FILE *f = fopen(path, "re");
  if (f == NULL) {
    snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
    return AR_EIO;
  }
  struct stat st;
  if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
    fclose(f);
    snprintf(err, errlen, "%s: cannot open: it is a directory", path);
    return AR_EIO;
  }
  int rc = ad_config_load_stream(cfg, f, path, err, errlen);
  fclose(f);
  return rc;
}

/* ---- Command line ------------------------------------------------------- */

int ad_config_set(ad_config_t *cfg, const char *key, const char *value,
                  const char *origin, char *err, size_t errlen) {
  const cfgkey_t *k = find_key(daemon_keys, N_DAEMON_KEYS, key);
  char msg[200];
  if (k == NULL)
    return ar_errorf(err, errlen, AR_EINVAL, "%s: unknown key '%s'", origin,
                     key);
  if (set_key(k, cfg, value, msg, sizeof(msg)) < 0)
    return ar_errorf(err, errlen, AR_EINVAL, "%s: %s", origin, msg);
  return 0;
}

int ad_config_add_arena_spec(ad_config_t *cfg, const char *spec, char *err,
                             size_t errlen) {
  char buf[256], msg[200], origin[AD_ORIGIN_MAX];
  snprintf(origin, sizeof(origin), "--arena %.80s", spec);
  if (strlen(spec) >= sizeof(buf))
    return ar_errorf(err, errlen, AR_EINVAL, "%s: too long", origin);
  memcpy(buf, spec, strlen(spec) + 1);

  char *name = buf, *size = strchr(buf, ':'), *policy = NULL;
  if (size == NULL)
    return ar_errorf(err, errlen, AR_EINVAL, "%s: expected NAME:SIZE[:POLICY]",
                     origin);
  *size++ = '\0';
  policy = strchr(size, ':');
  if (policy != NULL)
    *policy++ = '\0';
  if (!ad_config_arena_name_ok(name))
    return ar_errorf(
        err, errlen, AR_EINVAL,
        "%s: an arena name is 1 to %d letters, digits, '.', '_' or "
        "'-', starting with a letter or digit",
        origin, AD_ARENA_NAME_MAX);
  ad_arena_conf_t *old = find_arena(cfg, name);
  if (old != NULL)
    return ar_errorf(err, errlen, AR_EINVAL,
                     "%s: arena '%s' is already defined (%s)", origin, name,
                     old->origin);

  ad_arena_conf_t a;
  memset(&a, 0, sizeof(a));
  set_defaults(&a, arena_keys, N_ARENA_KEYS);
  if (set_key(find_key(arena_keys, N_ARENA_KEYS, "size"), &a, size, msg,
              sizeof(msg)) < 0)
    return ar_errorf(err, errlen, AR_EINVAL, "%s: %s", origin, msg);
  if (policy != NULL &&
      set_key(find_key(arena_keys, N_ARENA_KEYS, "policy"), &a, policy, msg,
              sizeof(msg)) < 0)
    return ar_errorf(err, errlen, AR_EINVAL, "%s: %s", origin, msg);

  ad_arena_conf_t *n = new_arena(cfg, name, origin, msg, sizeof(msg));
  if (n == NULL)
    return ar_errorf(err, errlen, AR_EINVAL, "%s: %s", origin, msg);
  n->size = a.size;
  n->policy = a.policy;
  n->set = 3; /* size and policy: the first two keys */
  return 0;
}

/* ---- Completion --------------------------------------------------------- */

int ad_config_check_size(uint64_t size, ar_policy_t policy, char *msg,
                         size_t len) {
  if (size < AR_ARENA_UNIT || size > AR_ARENA_MAX)
    return ar_errorf(msg, len, AR_EINVAL,
                     "size %llu is not from %d to %llu bytes",
                     (unsigned long long)size, AR_ARENA_UNIT,
                     (unsigned long long)AR_ARENA_MAX);
  if (size % AR_ARENA_UNIT != 0)
    return ar_errorf(msg, len, AR_EINVAL, "size %llu is not a multiple of %d",
                     (unsigned long long)size, AR_ARENA_UNIT);
  if (policy == AR_POLICY_BUDDY && (size & (size - 1)) != 0)
    return ar_errorf(msg, len, AR_EINVAL,
                     "a buddy arena's size must be a power of two, "
                     "not %llu",
                     (unsigned long long)size);
  return 0;
}

int ad_config_check_arena_value(const char *key, uint64_t v, char *msg,
                                size_t len) {
  const cfgkey_t *k = find_key(arena_keys, N_ARENA_KEYS, key);
  if (k == NULL)
    return ar_errorf(msg, len, AR_EINVAL, "no arena key %s", key);
  if (v >= k->min && v <= k->max)
    return 0;
  char range[80];
  return ar_errorf(msg, len, AR_EINVAL, "%s %llu is out of range (%s)", k->name,
                   (unsigned long long)v, bounds(range, sizeof(range), k));
}

int ad_config_finish(ad_config_t *cfg, char *err, size_t errlen) {
  char msg[200];

  for (size_t i = 0; i < cfg->narenas; i++) {
    ad_arena_conf_t *a = &cfg->arenas[i];
    if ((a->set & 1) == 0)
      return ar_errorf(err, errlen, AR_EINVAL, "%s: [arena %s] has no size",
                       a->origin, a->name);
    if (ad_config_check_size(a->size, (ar_policy_t)a->policy, msg,
                             sizeof(msg)) < 0)
      return ar_errorf(err, errlen, AR_EINVAL, "%s: arena '%s': %s", a->origin,
                       a->name, msg);
  }
  if (cfg->narenas == 0) {
    ad_arena_conf_t *a = new_arena(cfg, AD_DEFAULT_ARENA_NAME,
                                   "built-in default", msg, sizeof(msg));
    if (a == NULL)
      return ar_errorf(err, errlen, AR_EINVAL, "%s", msg);
    a->size = AD_DEFAULT_ARENA_SIZE;
    a->policy = AD_DEFAULT_ARENA_POLICY;
    a->set = 3;
  }

  if (cfg->output_limit_bytes <
      cfg->output_pause_bytes + cfg->max_frame_bytes + AR_FRAME_PREFIX_MAX)
    return ar_errorf(
        err, errlen, AR_EINVAL,
        "output_limit_bytes (%llu) must be at least "
        "output_pause_bytes + max_frame_bytes + %d (%llu), so that "
        "a whole reply fits past the pause point",
        (unsigned long long)cfg->output_limit_bytes, AR_FRAME_PREFIX_MAX,
        (unsigned long long)(cfg->output_pause_bytes + cfg->max_frame_bytes +
                             AR_FRAME_PREFIX_MAX));
  if (cfg->default_page > cfg->max_page)
    return ar_errorf(err, errlen, AR_EINVAL,
                     "default_page (%llu) is over max_page (%llu)",
                     (unsigned long long)cfg->default_page,
                     (unsigned long long)cfg->max_page);
  return ad_reply_check_config(cfg, err, errlen);
}

static void usage_table(FILE *out, const cfgkey_t *keys, size_t n) {
  char range[80], d[32];
  for (size_t i = 0; i < n; i++) {
    const cfgkey_t *k = &keys[i];
    switch (k->kind) {
    case K_COUNT:
      fprintf(out, "  %-24s %s; %s, default %llu\n", k->name, k->help,
              bounds(range, sizeof(range), k), (unsigned long long)k->dflt);
      break;
    case K_SIZE:
      fprintf(out, "  %-24s %s; %s", k->name, k->help,
              bounds(range, sizeof(range), k));
      /* A default of 0 out of range (an arena's size) means required. */
      if (k->dflt != 0 || k->min == 0)
        fprintf(out, ", default %s", human(d, sizeof(d), k->dflt));
      fputc('\n', out);
      break;
    case K_MODE:
      fprintf(out, "  %-24s %s; octal, %04llo to %04llo, default %04llo\n",
              k->name, k->help, (unsigned long long)k->min,
              (unsigned long long)k->max, (unsigned long long)k->dflt);
      break;
    case K_LEVEL:
      fprintf(out, "  %-24s %s; default %s\n", k->name, k->help,
              ad_log_level_name((ad_log_level_t)k->dflt));
      break;
    case K_POLICY:
      fprintf(out, "  %-24s %s; default %s\n", k->name, k->help,
              ar_policy_name((ar_policy_t)k->dflt));
      break;
    default:
      fprintf(out, "  %-24s %s\n", k->name, k->help);
      break;
    }
  }
}

void ad_config_usage(FILE *out) {
  fprintf(out, "[daemon]\n");
  usage_table(out, daemon_keys, N_DAEMON_KEYS);
  fprintf(out, "[arena NAME]\n");
  usage_table(out, arena_keys, N_ARENA_KEYS);
}
