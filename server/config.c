/*
 * config.c: the daemon's configuration as a whole (see config.h): its
 * lifetime, its list of arenas, the command line and the environment
 * applied on top of the file, and the checks once all are in
 * (ad_config_finish), which speak of several keys at once. The keys
 * themselves are config_keys.c's, the file config_file.c's. cfg owns its
 * array of arenas, grown here and freed by ad_config_fini.
 */
#include "config.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ar/error.h"
#include "ar/errorf.h"
#include "ar/frame.h"
#include "config_internal.h"
#include "reply_bound.h"

_Static_assert(AD_ARENA_NAME_MAX < AD_ORIGIN_MAX, "origins name arenas");

/* ---- The arena list ----------------------------------------------------- */

bool ad_config_arena_name_ok(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n > AD_ARENA_NAME_MAX || !isalnum((unsigned char)s[0]))
    return false;
  for (size_t i = 0; i < n; i++)
    if (!isalnum((unsigned char)s[i]) && strchr("._-", s[i]) == NULL)
      return false;
  return true;
}

ad_arena_conf_t *ad__config_find_arena(ad_config_t *cfg, const char *name) {
  for (size_t i = 0; i < cfg->narenas; i++)
    if (strcmp(cfg->arenas[i].name, name) == 0)
      return &cfg->arenas[i];
  return NULL;
}

ad_arena_conf_t *ad__config_new_arena(ad_config_t *cfg, const char *name,
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
  ad__config_arena_defaults(a);
  snprintf(a->name, sizeof(a->name), "%s", name);
  snprintf(a->origin, sizeof(a->origin), "%s", origin);
  return a;
}

void ad_config_init(ad_config_t *cfg) {
  memset(cfg, 0, sizeof(*cfg));
  ad__config_daemon_defaults(cfg);
}

void ad_config_fini(ad_config_t *cfg) {
  free(cfg->arenas);
  cfg->arenas = NULL;
  cfg->narenas = cfg->arenas_cap = 0;
}

/* ---- Command line ------------------------------------------------------- */

int ad_config_set(ad_config_t *cfg, const char *key, const char *value,
                  const char *origin, char *err, size_t errlen) {
  int i = ad__config_daemon_key(key);
  char msg[200];
  if (i < 0)
    return ar_errorf(err, errlen, AR_EINVAL, "%s: unknown key '%s'", origin,
                     key);
  if (ad__config_set_daemon(cfg, i, value, msg, sizeof(msg)) < 0)
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
  ad_arena_conf_t *old = ad__config_find_arena(cfg, name);
  if (old != NULL)
    return ar_errorf(err, errlen, AR_EINVAL,
                     "%s: arena '%s' is already defined (%s)", origin, name,
                     old->origin);

  ad_arena_conf_t a;
  memset(&a, 0, sizeof(a));
  ad__config_arena_defaults(&a);
  if (ad__config_set_arena(&a, AD__CONFIG_ARENA_SIZE, size, msg, sizeof(msg)) <
      0)
    return ar_errorf(err, errlen, AR_EINVAL, "%s: %s", origin, msg);
  if (policy != NULL && ad__config_set_arena(&a, AD__CONFIG_ARENA_POLICY,
                                             policy, msg, sizeof(msg)) < 0)
    return ar_errorf(err, errlen, AR_EINVAL, "%s: %s", origin, msg);

  ad_arena_conf_t *n =
      ad__config_new_arena(cfg, name, origin, msg, sizeof(msg));
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
    ad_arena_conf_t *a = ad__config_new_arena(
        cfg, AD_DEFAULT_ARENA_NAME, "built-in default", msg, sizeof(msg));
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
