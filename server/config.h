/*
 * config.h: arenad's configuration: the daemon's tunables and the arenas
 * to create, from built-in defaults, an INI file (parsed by inih) and the
 * command line, in that order of precedence, lowest first.
 *
 * The file has one [daemon] section and one [arena NAME] section per
 * arena:
 *
 *   [daemon]
 *   socket = /run/arenad/arenad.sock
 *   socket_mode = 0660
 *   log_level = info
 *   max_connections = 1024
 *
 *   admin_group = arenaadm
 *
 *   [arena default]
 *   size = 64M
 *   policy = first
 *   mode = 0640
 *   owner = alice
 *   group = arenausers
 *   quota_bytes = 16M
 *   quota_blocks = 1000
 *
 * Each key is declared once, in a table in config_keys.c, with its kind, its
 * bounds and its default (like redis's createSizeTConfig); `arenad --help`
 * prints the table. Sizes take K, M and G suffixes (ar_parse_size), modes
 * are octal, counts are plain decimal. An unknown section or key, a value
 * out of range or a key given twice is an error naming the file and line;
 * a section may come back with other keys, and lines may be indented.
 * Users and groups are names (looked up when the file is read) or numbers;
 * an arena's owner and group left out, and admin_group, are AD_ID_NONE
 * here: the daemon makes its own uid and gid of the first two.
 */
#ifndef AD_CONFIG_H
#define AD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "access.h"
#include "ar/engine.h"
#include "ar/util.h"

#define AD_ARENA_NAME_MAX 64 /* bytes of an arena name, NUL excluded */
#define AD_ARENAS_MAX                                                          \
  256                        /* arenas in a configuration, on the command      \
                                line and in the running daemon */
#define AD_ORIGIN_MAX                                                          \
  512 /* bytes of an origin ("FILE:LINE"; a longer path keeps its end) */

/* The built-in arena, made when neither the file nor the command line
 * names one. */
#define AD_DEFAULT_ARENA_NAME "default"
#define AD_DEFAULT_ARENA_SIZE ((uint64_t)64 << 20)
#define AD_DEFAULT_ARENA_POLICY AR_POLICY_FIRST

/* One arena to create. Numeric fields are uint64_t so that one table
 * describes them all (see config_keys.c). */
typedef struct ad_arena_conf_s {
  char name[AD_ARENA_NAME_MAX + 1];
  uint64_t size;         /* bytes: a multiple of 4096; a power of 2 for buddy */
  uint64_t policy;       /* an ar_policy_t */
  uint64_t mode;         /* permission bits, like a file's */
  uint64_t owner;        /* owner uid, or AD_ID_NONE: the daemon's */
  uint64_t group;        /* group gid, or AD_ID_NONE: the daemon's */
  uint64_t quota_bytes;  /* per connection; 0 means none */
  uint64_t quota_blocks; /* per connection; 0 means none */
  uint32_t set;          /* bit i: key i of the arena table was given */
  char origin[AD_ORIGIN_MAX]; /* where it was defined, for messages */
} ad_arena_conf_t;

typedef struct ad_config_s {
  char socket[AR_SOCKET_PATH_MAX]; /* "" until given or resolved */
  uint64_t socket_mode;            /* permission bits of the socket file */
  uint64_t log_level;              /* an ad_log_level_t */
  uint64_t max_connections;        /* open connections; more are refused */
  uint64_t max_frame_bytes;        /* largest frame body, both directions */
  uint64_t max_in_flight;          /* unanswered requests per connection */
  uint64_t output_pause_bytes;     /* unsent bytes that pause reading */
  uint64_t output_limit_bytes;     /* bound of the output buffers: at least
                                      output_pause_bytes and one reply */
  uint64_t max_blocks_per_request; /* alloc count, free offsets */
  uint64_t max_live_blocks;        /* in all arenas; 0: no limit */
  uint64_t max_shared_holds;       /* holds beside each block's first, in
                                      all arenas; 0: no limit */
  uint64_t default_page;           /* inspect page when the request says 0 */
  uint64_t max_page;               /* largest inspect page */
  uint64_t turn_budget_us;         /* a connection's time per turn; 0: none */
  uint64_t read_chunk;             /* bytes read per wake-up */
  uint64_t shutdown_timeout_ms;    /* time to flush replies on shutdown */
  uint64_t frame_timeout_ms;       /* time to finish a frame begun; 0: none */
  uint64_t send_timeout_ms;        /* time unsent replies may stand; 0: none */
  uint64_t admin_group;            /* gid of the admins, or AD_ID_NONE */
  uint64_t root_override;          /* 1: uid 0 passes every check */

  ad_arena_conf_t *arenas; /* owned: narenas of them, in order of definition */
  size_t narenas;
  size_t arenas_cap;
} ad_config_t;

/* Sets every tunable to its default, with no arena and no socket. */
void ad_config_init(ad_config_t *cfg);

/* Frees what cfg owns; ad_config_init may be called again. */
void ad_config_fini(ad_config_t *cfg);

/*
 * Reads an INI file into cfg, on top of what it holds. Returns 0; AR_EIO
 * when the file cannot be opened; AR_EINVAL for a bad file. On an error
 * err (errlen bytes) receives one line saying what and where:
 * "FILE:LINE: message". cfg may then be partly updated: the caller stops.
 */
int ad_config_load_file(ad_config_t *cfg, const char *path, char *err,
                        size_t errlen);

/* The same from an open stream; `name` stands for the file in messages.
 * The stream stays open. */
int ad_config_load_stream(ad_config_t *cfg, FILE *f, const char *name,
                          char *err, size_t errlen);

/* Sets the [daemon] key `key` to `value`, as if from a file, for the
 * command line and the environment; `origin` names where it came from in
 * messages. Returns 0 or AR_EINVAL (message in err). */
int ad_config_set(ad_config_t *cfg, const char *key, const char *value,
                  const char *origin, char *err, size_t errlen);

/* Adds an arena from "NAME:SIZE[:POLICY]" (policy first fit when left out).
 * Returns 0 or AR_EINVAL (message in err), also for a name already
 * defined. */
int ad_config_add_arena_spec(ad_config_t *cfg, const char *spec, char *err,
                             size_t errlen);

/*
 * Completes cfg after the file and the command line: every arena has a
 * size that suits its policy, the built-in arena is added when there is
 * none, and the tunables agree with each other (the output limit leaves
 * room for a whole frame past the pause point; the default page is within
 * the largest; every reply fits in a frame: reply_bound.h). Returns 0 or
 * AR_EINVAL (message in err).
 */
int ad_config_finish(ad_config_t *cfg, char *err, size_t errlen);

/* Whether s is a valid arena name: 1 to AD_ARENA_NAME_MAX of
 * [A-Za-z0-9._-], starting with a letter or digit. */
bool ad_config_arena_name_ok(const char *s);

/* Whether `size` suits an arena of `policy`: from 4096 to AR_ARENA_MAX, a
 * multiple of 4096, a power of two for buddy. Returns 0, or AR_EINVAL with
 * a sentence in msg (len bytes). */
int ad_config_check_size(uint64_t size, ar_policy_t policy, char *msg,
                         size_t len);

/* Whether `v` is within the bounds of the numeric [arena] key `key`
 * (quota_bytes, quota_blocks, ...), as the file's values are. Returns 0, or
 * AR_EINVAL with a sentence in msg (len bytes). */
int ad_config_check_arena_value(const char *key, uint64_t v, char *msg,
                                size_t len);

/* Prints every key of both sections with its bounds and default. */
void ad_config_usage(FILE *out);

#endif /* AD_CONFIG_H */
