/*
 * cmd_daemon.c: `arenactl ping` and `arenactl stats`, the commands about
 * the daemon as a whole. stats renders the library's list of (name, value)
 * pairs, as a two-column table or as JSON (dotted names become nested
 * objects), with no code per counter: a counter added to the protocol
 * shows up here by itself.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "arenactl.h"
#include "ctl.h"

enum { OPT_JSON = 1 };

/* The options of ping and stats: [--json] (and --help). Returns what
 * ar__ctl_parse_flags does. */
static int parse_json_only(int argc, char **argv, bool *json,
                           void (*usage)(FILE *)) {
  static const struct option longopts[] = {
      {"json", no_argument, NULL, OPT_JSON},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  int flags = 0;
  int rc = ar__ctl_parse_flags(argc, argv, longopts, usage, &flags, 0, 0);
  *json = (flags & OPT_JSON) != 0;
  return rc;
}

/* ---- ping ---------------------------------------------------------------- */

static void ping_usage(FILE *out) {
  fprintf(out, "usage: arenactl [--socket PATH] ping [--json]\n"
               "\n"
               "Says hello to the daemon and times one ping round trip.\n");
}

int ar__cmd_ping(int argc, char **argv) {
  bool json;
  int rc = parse_json_only(argc, argv, &json, ping_usage);
  if (rc != ARENACTL_OK)
    return rc < 0 ? ARENACTL_OK : rc;

  arenad_hello_t hi;
  arenad_t *h = ar__ctl_connect("ping", &hi);
  if (h == NULL)
    return ARENACTL_FAIL;
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  rc = arenad_ping(h);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  if (rc < 0) {
    rc = ar__ctl_fail("ping", h, rc, "ping");
    arenad_close(h);
    return rc;
  }
  arenad_close(h);
  double us = (double)(t1.tv_sec - t0.tv_sec) * 1e6 +
              (double)(t1.tv_nsec - t0.tv_nsec) / 1e3;
  char instance[24] = "unknown"; /* a daemon older than 0.3.0 */
  if (hi.instance != 0)
    snprintf(instance, sizeof instance, "%016llx",
             (unsigned long long)hi.instance);
  if (json) {
    json_t *o = json_pack("{s:o, s:i, s:o, s:s, s:f}", "daemon_version",
                          ar__ctl_json_text(hi.daemon_version),
                          "protocol_version", (int)hi.protocol_version,
                          "connection_id", ar__ctl_json_u64(hi.connection_id),
                          "instance", instance, "round_trip_us", us);
    return ar__ctl_print_json("ping", o);
  }
  printf("pong from arenad %s (protocol %u, instance %s, connection %llu): "
         "%.1f us\n",
         hi.daemon_version, (unsigned)hi.protocol_version, instance,
         (unsigned long long)hi.connection_id, us);
  return ar__ctl_flush("ping");
}

/* ---- stats --------------------------------------------------------------- */

static void stats_usage(FILE *out) {
  fprintf(out,
          "usage: arenactl [--socket PATH] stats [--json]\n"
          "\n"
          "Prints the daemon's counters since it started: a table of\n"
          "name and value, or one JSON object with --json (requests.alloc\n"
          "becomes {\"requests\": {\"alloc\": ...}}).\n");
}

static void print_stats_table(const arenad_stat_t *st, size_t n) {
  int width = 0;
  for (size_t i = 0; i < n; i++) {
    int w = (int)strlen(st[i].name);
    if (w > width)
      width = w;
  }
  for (size_t i = 0; i < n; i++) {
    switch (st[i].type) {
    case ARENAD_STAT_STRING:
      printf("%-*s  %s\n", width, st[i].name, st[i].s);
      break;
    case ARENAD_STAT_DOUBLE:
      printf("%-*s  %g\n", width, st[i].name, st[i].d);
      break;
    default:
      printf("%-*s  %llu\n", width, st[i].name, (unsigned long long)st[i].u);
      break;
    }
  }
}

static json_t *stats_json(const arenad_stat_t *st, size_t n) {
  json_t *root = json_object();
  if (root == NULL)
    return NULL;
  for (size_t i = 0; i < n; i++) {
    json_t *v;
    switch (st[i].type) {
    case ARENAD_STAT_STRING:
      v = ar__ctl_json_text(st[i].s);
      break;
    case ARENAD_STAT_DOUBLE:
      v = json_real(st[i].d);
      break;
    default:
      v = ar__ctl_json_u64(st[i].u);
      break;
    }
    if (ar__ctl_json_set_path(root, st[i].name, v) < 0) {
      json_decref(root);
      return NULL;
    }
  }
  return root;
}

int ar__cmd_stats(int argc, char **argv) {
  bool json;
  int rc = parse_json_only(argc, argv, &json, stats_usage);
  if (rc != ARENACTL_OK)
    return rc < 0 ? ARENACTL_OK : rc;

  arenad_t *h = ar__ctl_connect("stats", NULL);
  if (h == NULL)
    return ARENACTL_FAIL;
  arenad_stat_t *st;
  size_t n;
  rc = arenad_stats(h, &st, &n);
  if (rc < 0) {
    rc = ar__ctl_fail("stats", h, rc, "stats");
    arenad_close(h);
    return rc;
  }
  arenad_close(h);
  if (json) {
    rc = ar__ctl_print_json("stats", stats_json(st, n));
  } else {
    print_stats_table(st, n);
    rc = ar__ctl_flush("stats");
  }
  arenad_stats_destroy(st);
  return rc;
}
