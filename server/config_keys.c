/*
 * config_keys.c: every configuration key, declared once in a table with
 * its kind, bounds and default (like redis's createSizeTConfig), and what
 * is done with a key's text: parsing and range checks, defaults, and the
 * table `arenad --help` prints. The file reader (config_file.c) and the
 * command line (config.c) reach the table only by key index, through
 * config_internal.h, so a key's kind, bounds and messages live here alone.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ar/error.h"
#include "ar/errorf.h"
#include "ar/frame.h"
#include "config_internal.h"
#include "log.h"

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
     "socket path; $ARENAD_SOCKET and --socket override it (default: the "
     "runtime directory)"},
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

/* [arena NAME]: one arena. The size and the policy come first, at
 * AD__CONFIG_ARENA_SIZE and AD__CONFIG_ARENA_POLICY (config_internal.h). */
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
_Static_assert(N_DAEMON_KEYS == AD__CONFIG_DAEMON_KEYS,
               "config_internal.h counts the [daemon] keys");
_Static_assert(N_ARENA_KEYS <= 32, "ad_arena_conf_t.set has 32 bits");

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

/* Plain decimal digits, and nothing else, into *out. Returns 0; AR_EINVAL
 * for anything else; AR_ELIMIT for digits alone that pass 64 bits. *out
 * is left alone unless it returns 0. */
static int parse_count(const char *s, uint64_t *out) {
  const char *p = s;
  uint64_t v;
  int rc = ar_parse_digits(&p, &v);
  if (rc == AR_EINVAL || *p != '\0')
    return AR_EINVAL;
  if (rc == AR_OK)
    *out = v;
  return rc;
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

/* The most bytes an entry of the user or group databases may take: a
 * group's lists its members, and a large one takes far more than a page. */
#define ID_ENTRY_MAX ((size_t)1 << 24)

/* Looks the user or group name s up in the system's databases into *out,
 * with a buffer of len bytes (malloc'd and freed here). Returns 0, ENOENT
 * when there is no such name, or getpwnam_r's or getgrnam_r's error
 * (ERANGE: the entry does not fit in len bytes). */
static int lookup_id(const char *s, bool group, size_t len, uint64_t *out) {
  char *buf = malloc(len);
  if (buf == NULL)
    return ENOMEM;
  int rc;
  if (group) {
    struct group gr, *res = NULL;
    rc = getgrnam_r(s, &gr, buf, len, &res);
    if (rc == 0 && res != NULL)
      *out = res->gr_gid;
    else if (rc == 0)
      rc = ENOENT;
  } else {
    struct passwd pw, *res = NULL;
    rc = getpwnam_r(s, &pw, buf, len, &res);
    if (rc == 0 && res != NULL)
      *out = res->pw_uid;
    else if (rc == 0)
      rc = ENOENT;
  }
  free(buf);
  return rc;
}

/*
 * A user or group: a number, or a name looked up in the system's
 * databases, with a buffer that grows while the entry does not fit in it
 * (ERANGE). Returns 0; AR_ELIMIT for a number past 64 bits; AR_ENOENT
 * when there is no such name (getpwnam_r and getgrnam_r may also say so
 * with ENOENT, ESRCH, EBADF or EPERM); AR_EIO, with errno set, when the
 * lookup itself fails.
 */
static int parse_id(const char *s, bool group, uint64_t *out) {
  int rc = parse_count(s, out);
  if (rc != AR_EINVAL) /* a number, or one past 64 bits (AR_ELIMIT) */
    return rc;
  size_t len = 4096;
  while ((rc = lookup_id(s, group, len, out)) == ERANGE && len < ID_ENTRY_MAX)
    len *= 2;
  if (rc == 0)
    return 0;
  if (rc == ENOENT || rc == ESRCH || rc == EBADF || rc == EPERM)
    return AR_ENOENT;
  errno = rc;
  return AR_EIO;
}

/*
 * Parses `value` for key k into base (an ad_config_t or ad_arena_conf_t).
 * Returns 0, or AR_EINVAL with a message (without the location) in msg.
 */
static int set_key(const cfgkey_t *k, void *base, const char *value, char *msg,
                   size_t msglen) {
  uint64_t v = 0;
  int rc;
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
    rc = parse_id(value, k->kind == K_GROUP, &v);
    if (rc == AR_ENOENT)
      return ar_errorf(msg, msglen, AR_EINVAL, "%s = %s: no such %s", k->name,
                       value, k->kind == K_GROUP ? "group" : "user");
    if (rc == AR_EIO)
      return ar_errorf(msg, msglen, AR_EINVAL,
                       "%s = %s: cannot look the %s up: %s", k->name, value,
                       k->kind == K_GROUP ? "group" : "user", strerror(errno));
    /* (uid_t)-1 and (gid_t)-1 mean "unchanged" to chown */
    if (rc == AR_ELIMIT || v > k->max)
      return ar_errorf(msg, msglen, AR_EINVAL,
                       "%s = %s: out of range (%s 0 to %llu)", k->name, value,
                       k->kind == K_GROUP ? "gid" : "uid",
                       (unsigned long long)k->max);
    break;
  case K_COUNT:
    rc = parse_count(value, &v);
    if (rc == AR_EINVAL)
      return ar_errorf(msg, msglen, AR_EINVAL, "%s = %s: not a decimal number",
                       k->name, value);
    if (rc == AR_ELIMIT || v < k->min || v > k->max)
      return ar_errorf(msg, msglen, AR_EINVAL, "%s = %s: out of range (%s)",
                       k->name, value, bounds(range, sizeof(range), k));
    break;
  case K_SIZE:
    rc = ar_parse_size(value, &v);
    if (rc == AR_EINVAL)
      return ar_errorf(msg, msglen, AR_EINVAL,
                       "%s = %s: not a size (digits, then K, M or G)", k->name,
                       value);
    if (rc == AR_ELIMIT || v < k->min || v > k->max)
      return ar_errorf(msg, msglen, AR_EINVAL, "%s = %s: out of range (%s)",
                       k->name, value, bounds(range, sizeof(range), k));
    break;
  }
  *u64_field(base, k) = v;
  return 0;
}

static const cfgkey_t *find_key(const cfgkey_t *keys, size_t n,
                                const char *name) {
  for (size_t i = 0; i < n; i++)
    if (strcmp(keys[i].name, name) == 0)
      return &keys[i];
  return NULL;
}

static int key_index(const cfgkey_t *keys, size_t n, const char *name) {
  const cfgkey_t *k = find_key(keys, n, name);
  return k == NULL ? -1 : (int)(k - keys);
}

int ad__config_daemon_key(const char *name) {
  return key_index(daemon_keys, N_DAEMON_KEYS, name);
}

int ad__config_arena_key(const char *name) {
  return key_index(arena_keys, N_ARENA_KEYS, name);
}

int ad__config_set_daemon(ad_config_t *cfg, int i, const char *value, char *msg,
                          size_t msglen) {
  return set_key(&daemon_keys[i], cfg, value, msg, msglen);
}

int ad__config_set_arena(ad_arena_conf_t *a, int i, const char *value,
                         char *msg, size_t msglen) {
  return set_key(&arena_keys[i], a, value, msg, msglen);
}

void ad__config_daemon_defaults(ad_config_t *cfg) {
  set_defaults(cfg, daemon_keys, N_DAEMON_KEYS);
}

void ad__config_arena_defaults(ad_arena_conf_t *a) {
  set_defaults(a, arena_keys, N_ARENA_KEYS);
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

/* ---- arenad --help ----------------------------------------------------- */

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
    case K_USER:
    case K_GROUP: /* the default, AD_ID_NONE, is in words in the help */
      fprintf(out, "  %-24s %s; %s, or a name\n", k->name, k->help,
              bounds(range, sizeof(range), k));
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
