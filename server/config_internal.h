/*
 * config_internal.h: what the three files of the daemon's configuration
 * share, and nothing else includes (config.h is the public header).
 * config_keys.c owns the table of keys and turns a key's text into its
 * value; config_file.c reads an INI file into keys and arenas; config.c
 * holds the arena list, the command line and the checks after both. The
 * table itself stays private to config_keys.c: the others name a key by
 * its index, as ad_arena_conf_t.set does.
 */
#ifndef AD_CONFIG_INTERNAL_H
#define AD_CONFIG_INTERNAL_H

#include <stddef.h>

#include "config.h"

/* ---- config_keys.c: the keys -------------------------------------------- */

/* Keys in the [daemon] table (checked there at compile time). */
#define AD__CONFIG_DAEMON_KEYS 20

/* The first two [arena NAME] keys: their bits in ad_arena_conf_t.set say
 * whether they were given (the size is required). */
#define AD__CONFIG_ARENA_SIZE 0
#define AD__CONFIG_ARENA_POLICY 1

/* The index of the [daemon] or the [arena NAME] key `name`, or -1 when
 * there is none. */
int ad__config_daemon_key(const char *name);
int ad__config_arena_key(const char *name);

/* Parses `value` for the daemon key or the arena key of index i into cfg
 * or a. Returns 0, or AR_EINVAL with a message that names the key but not
 * where it came from in msg (msglen bytes). */
int ad__config_set_daemon(ad_config_t *cfg, int i, const char *value, char *msg,
                          size_t msglen);
int ad__config_set_arena(ad_arena_conf_t *a, int i, const char *value,
                         char *msg, size_t msglen);

/* Sets every numeric key of cfg or a to its default; the rest (the
 * socket; an arena's name, origin and set) is left as it is. */
void ad__config_daemon_defaults(ad_config_t *cfg);
void ad__config_arena_defaults(ad_arena_conf_t *a);

/* ---- config.c: the arena list ------------------------------------------- */

/* The arena of cfg called `name`, or NULL. The pointer is cfg's, valid
 * until the next ad__config_new_arena or ad_config_fini. */
ad_arena_conf_t *ad__config_find_arena(ad_config_t *cfg, const char *name);

/* Appends an arena with its defaults, called `name` (not checked here)
 * and defined at `origin`. Returns it (cfg's, as above), or NULL when
 * there are AD_ARENAS_MAX or no memory (message in msg). */
ad_arena_conf_t *ad__config_new_arena(ad_config_t *cfg, const char *name,
                                      const char *origin, char *msg,
                                      size_t msglen);

#endif /* AD_CONFIG_INTERNAL_H */
