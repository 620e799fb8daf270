/*
 * fuzz_config.c: a libFuzzer target for the daemon's configuration file
 * reader (server/config_file.c over inih). The input is a file's bytes; the
 * target reads it as `arenad --config` would, then completes the result as
 * start-up does, and checks what config.h promises: a bad file is
 * AR_EINVAL with a message that names the file, never another code; a
 * file that reads and completes gives at least one arena, each with a
 * valid name defined once and a size that suits its policy; and nothing
 * leaks either way (libFuzzer's leak check). Any broken promise aborts.
 * The seeds in corpus/config are the shipped example and small variants.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ar/error.h"
#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A refusal must be AR_EINVAL and say which file, first thing. */
static void check_refusal(int rc, const char *err) {
  if (rc != AR_EINVAL || strncmp(err, "fuzz.conf", 9) != 0)
    abort();
}

static void check_arenas(const ad_config_t *cfg) {
  if (cfg->narenas == 0 || cfg->narenas > AD_ARENAS_MAX)
    abort();
  char msg[256];
  for (size_t i = 0; i < cfg->narenas; i++) {
    const ad_arena_conf_t *a = &cfg->arenas[i];
    if (!ad_config_arena_name_ok(a->name) || a->policy >= AR_POLICY_COUNT ||
        ad_config_check_size(a->size, (ar_policy_t)a->policy, msg,
                             sizeof msg) != 0)
      abort();
    for (size_t j = 0; j < i; j++)
      if (strcmp(cfg->arenas[j].name, a->name) == 0)
        abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0) /* fmemopen wants a byte; an empty file is uninteresting */
    return 0;
  char *text = malloc(size); /* a copy: fmemopen wants a writable buffer */
  if (text == NULL)
    return 0;
  memcpy(text, data, size);
  FILE *f = fmemopen(text, size, "r");
  if (f == NULL) {
    free(text);
    return 0;
  }

  ad_config_t cfg;
  ad_config_init(&cfg);
  char err[512] = "";
  int rc = ad_config_load_stream(&cfg, f, "fuzz.conf", err, sizeof err);
  if (rc != 0) {
    check_refusal(rc, err);
  } else {
    err[0] = '\0';
    rc = ad_config_finish(&cfg, err, sizeof err);
    if (rc == 0)
      check_arenas(&cfg);
    else if (rc != AR_EINVAL || err[0] == '\0')
      abort();
  }
  ad_config_fini(&cfg);
  fclose(f);
  free(text);
  return 0;
}
