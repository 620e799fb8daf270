/*
 * args.c: how arenactl's commands read their command lines. ar__ctl_getopt
 * is getopt_long in GNU's order (options and operands mixed, "--" ending
 * the options, the operands left together at the end in their order) with
 * two differences: an argument that looks like a negative number is an
 * operand, not an option, so that `alloc ARENA -1` is told that -1 is no
 * SIZE instead of that it is an unknown option; and -h or --help anywhere
 * among the options is the first option returned, so that the help is
 * printed whatever error comes before it.
 */
#include <ctype.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "arenactl.h"

/* getopt_long stops at the first operand ("+"), which is taken here; a
 * missing value is ':'; -h is --help (every command's 'h'). */
#define OPTSTRING "+:h"

/* The operands gathered so far: argv[first .. first + nops). */
static int first, nops;

/* Whether s looks like a negative number: "-1", "-0x10", "-16K". */
static bool negative(const char *s) {
  return s[0] == '-' && isdigit((unsigned char)s[1]);
}

/* Moves the option elements that getopt_long consumed after the operands
 * gathered so far, argv[first + nops .. optind), before them, so that the
 * operands stay together and in order just before optind. Done before the
 * next scan, not when an option is returned: the caller may still name the
 * option from argv[optind - 1]. */
static void options_first(char **argv) {
  while (first + nops < optind) {
    char *opt = argv[first + nops];
    memmove(argv + first + 1, argv + first, (size_t)nops * sizeof *argv);
    argv[first++] = opt;
  }
}

/* Starts a scan of argv afresh: optind 0 asks getopt_long to, which a
 * scan of no arguments does in OPTSTRING's mode before the real scan looks
 * at argv[1]. */
static void start(char **argv, const struct option *longopts) {
  char *none[] = {argv[0], NULL};
  optind = 0;
  getopt_long(1, none, OPTSTRING, longopts, NULL);
  first = 1;
  nops = 0;
}

/* The next option of the scan that start() began, or -1 at the end (the
 * operands then argv[optind..argc)). */
static int next_option(int argc, char **argv, const struct option *longopts) {
  for (;;) {
    options_first(argv);
    int at = optind;
    int c = -1;
    if (at < argc && !negative(argv[at]))
      c = getopt_long(argc, argv, OPTSTRING, longopts, NULL);
    if (c != -1)
      return c;
    if (optind == at && at < argc) { /* an operand */
      optind++;
      nops++;
      continue;
    }
    /* The end, or "--": the operands after it follow those gathered. */
    options_first(argv);
    optind = first;
    return -1;
  }
}

/* Whether -h or --help is among the options of argv, wherever it is: a
 * scan of a copy of argv (which the scan reorders; the copy is freed
 * here) that goes past unknown options, missing values and the values
 * the command would refuse. Counts as not asked when there is no memory
 * for the copy. */
static bool help_asked(int argc, char **argv, const struct option *longopts) {
  char **copy = malloc(((size_t)argc + 1) * sizeof *copy);
  if (copy == NULL)
    return false;
  memcpy(copy, argv, ((size_t)argc + 1) * sizeof *copy);
  bool help = false;
  int c;
  start(copy, longopts);
  while (!help && (c = next_option(argc, copy, longopts)) != -1)
    help = c == 'h';
  free(copy);
  return help;
}

int ar__ctl_getopt(int argc, char **argv, const struct option *longopts) {
  opterr = 0;
  if (optind == 0) {
    /* -h anywhere wins over what comes before it: an unknown option or a
     * bad value would otherwise end the scan with a usage error. */
    bool help = help_asked(argc, argv, longopts);
    start(argv, longopts);
    if (help)
      return 'h';
  }
  return next_option(argc, argv, longopts);
}
