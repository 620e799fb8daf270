/*
 * main.c: arenactl's entry point. It only picks a command from the table
 * below and hands it the rest of the command line; each command lives in
 * its own file (cmd_<name>.c) and parses its own options. To add a
 * command, write its file and add one line to the table. Whatever ran, a
 * standard output that could not all be written fails it (exit 1).
 */
#include <ctype.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ar/protocol.h"
#include "ar/util.h"
#include "arenactl.h"
#include "ctl.h" /* ar__ctl_flush */

static const ar__cmd_t commands[] = {
    {"replay", "replay a trace on the policy engines, or through the daemon",
     ar__cmd_replay},
    /* Against a running daemon (through libarenad): */
    {"list", "list the daemon's arenas", ar__cmd_list},
    {"inspect", "print an arena's summary, free list or blocks",
     ar__cmd_inspect},
    {"check", "run an arena's integrity check in the daemon", ar__cmd_check},
    {"ping", "time a round trip to the daemon", ar__cmd_ping},
    {"alloc", "allocate detached blocks in an arena", ar__cmd_alloc},
    {"free", "free blocks by offset", ar__cmd_free},
    {"stats", "print the daemon's counters", ar__cmd_stats},
    {"create", "create an arena in the running daemon (admins)",
     ar__cmd_create},
    {"destroy", "destroy an arena in the running daemon (admins)",
     ar__cmd_destroy},
    {"bench", "benchmark the daemon against a bare socket echo", ar__cmd_bench},
};

#define NCOMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *out) {
  fprintf(out, "usage: arenactl [--socket PATH] [--timeout SECONDS] <command> "
               "[options]\n"
               "       arenactl --help | --version\n\n"
               "commands:\n");
  for (size_t i = 0; i < NCOMMANDS; i++)
    fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
  fprintf(out,
          "\n'arenactl <command> --help' (or -h, anywhere among the "
          "command's\narguments) describes a command. --version prints "
          "arenactl's version.\n"
          "--socket PATH (or $ARENAD_SOCKET) names the daemon's socket "
          "for the\ncommands that talk to it. --timeout SECONDS (default "
          "%d; 0: none) is how\nlong they wait for the daemon to answer "
          "before they give up.\n",
          AR__CTL_TIMEOUT_MS / 1000);
}

double ar__ctl_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

int ar__ctl_bad_option(int c, char **argv, void (*cmd_usage)(FILE *)) {
  if (c == ':') {
    fprintf(stderr, "arenactl %s: option '%s' needs a value\n", argv[0],
            argv[optind - 1]);
    return ARENACTL_USAGE;
  }
  /* getopt_long also answers '?' for a known long option that takes no
   * value given one (--json=1): optopt then holds the option's value. */
  const char *arg = argv[optind - 1];
  const char *eq = strchr(arg, '=');
  if (optopt != 0 && strncmp(arg, "--", 2) == 0 && eq != NULL)
    fprintf(stderr, "arenactl %s: option '%.*s' takes no value\n", argv[0],
            (int)(eq - arg), arg);
  else if (optopt != 0)
    /* An unknown short option (getopt_long sets optopt to 0 for an unknown
     * long one): optind may still be on its cluster (-xy), so
     * argv[optind - 1] can be the argument before; optopt is the letter. */
    fprintf(stderr, "arenactl %s: unknown option '-%c'\n", argv[0], optopt);
  else
    fprintf(stderr, "arenactl %s: unknown option '%s'\n", argv[0], arg);
  cmd_usage(stderr);
  return ARENACTL_USAGE;
}

/* Sets ar__ctl_timeout_ms from --timeout's SECONDS: a decimal number,
 * a fraction allowed, from 0 (no timeout) to about 24 days. Returns 0,
 * or -1 after saying what is wrong. */
static int set_timeout(const char *s) {
  char *end;
  double sec = strtod(s, &end);
  /* digits and one point ("2", "0.5", ".5", "2."), nothing else */
  bool digit_first = isdigit((unsigned char)s[0]) ||
                     (s[0] == '.' && isdigit((unsigned char)s[1]));
  if (!digit_first || s[strspn(s, "0123456789.")] != '\0' || *end != '\0' ||
      sec > INT_MAX / 1000) {
    fprintf(stderr,
            "arenactl: invalid --timeout '%s' (seconds, up to %d, or 0 to "
            "wait for as long as it takes)\n",
            s, INT_MAX / 1000);
    return -1;
  }
  int ms = (int)(sec * 1000 + 0.5);
  ar__ctl_timeout_ms = sec == 0 ? -1 : ms > 0 ? ms : 1;
  return 0;
}

/* The global option at argv[*i], --NAME VALUE or --NAME=VALUE: returns
 * its value (advancing *i past a separate one), NULL when argv[*i] is
 * not that option, or "" when it has no value. */
static const char *global_value(int argc, char **argv, int *i,
                                const char *name) {
  const char *a = argv[*i];
  size_t len = strlen(name);
  if (strncmp(a, name, len) != 0)
    return NULL;
  if (a[len] == '=')
    return a + len + 1;
  if (a[len] != '\0')
    return NULL;
  return *i + 1 < argc ? argv[++*i] : "";
}

/* Takes the global options, --socket PATH and --timeout SECONDS (each
 * also as --NAME=VALUE), out of the command line wherever they come
 * before a "--" (the last of each counts). Returns 0, or -1 after saying
 * what is wrong. */
static int take_globals(int *argc, char **argv) {
  int out = 1;
  bool options = true;
  for (int i = 1; i < *argc; i++) {
    const char *a = argv[i], *v;
    if (options && strcmp(a, "--") == 0) {
      options = false;
      if (out == 1)
        continue; /* before the command: it only ends the options */
    }
    if (options && (v = global_value(*argc, argv, &i, "--socket")) != NULL) {
      if (v[0] == '\0') {
        fprintf(stderr, "arenactl: --socket needs a PATH\n");
        return -1;
      }
      ar__ctl_socket = v;
      continue;
    }
    if (options && (v = global_value(*argc, argv, &i, "--timeout")) != NULL) {
      if (v[0] == '\0') {
        fprintf(stderr, "arenactl: --timeout needs SECONDS\n");
        return -1;
      }
      if (set_timeout(v) < 0)
        return -1;
      continue;
    }
    argv[out++] = argv[i];
  }
  *argc = out;
  argv[out] = NULL;
  return 0;
}

/* rc, or ARENACTL_FAIL after saying so when standard output could not all
 * be written. The commands check what they print as a result; this also
 * catches what is printed unchecked (usage, --help, --version). */
static int output_checked(const char *cmd, int rc) {
  return rc == ARENACTL_OK ? ar__ctl_flush(cmd) : rc;
}

int main(int argc, char **argv) {
  /* A closed standard stream is filled first: otherwise the connection to
   * the daemon would take its number, and what arenactl prints would go
   * into the connection (an alloc would report success with its offsets
   * sent to the daemon). Output to it now fails, as to a full disk. */
  if (ar_stdio_fill(false) < 0)
    return ARENACTL_FAIL;
  /* Output to a pipe whose reader is gone is a write error like any other
   * (exit status 1 with a message; an alloc gives its blocks back), not a
   * SIGPIPE that kills arenactl before it can say or undo anything. */
  signal(SIGPIPE, SIG_IGN);
  if (take_globals(&argc, argv) < 0)
    return ARENACTL_USAGE;
  if (argc < 2) {
    usage(stderr);
    return ARENACTL_USAGE;
  }
  if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
      strcmp(argv[1], "help") == 0) {
    usage(stdout);
    return output_checked(argv[1], ARENACTL_OK);
  }
  if (strcmp(argv[1], "--version") == 0) {
    printf("arenactl %s (protocol %d)\n", AR_VERSION, AR_PROTOCOL_VERSION);
    return output_checked(argv[1], ARENACTL_OK);
  }
  for (size_t i = 0; i < NCOMMANDS; i++)
    if (strcmp(argv[1], commands[i].name) == 0)
      return output_checked(commands[i].name,
                            commands[i].run(argc - 1, argv + 1));
  fprintf(stderr, "arenactl: unknown command '%s'\n", argv[1]);
  usage(stderr);
  return ARENACTL_USAGE;
}
