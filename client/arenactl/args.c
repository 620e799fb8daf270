/*
 * args.c: how arenactl's commands read their command lines. ar__ctl_getopt
 * is getopt_long in GNU's order (options and operands mixed, "--" ending
 * the options, the operands left together at the end in their order) with
 * one difference: an argument that looks like a negative number is an
 * operand, not an option, so that `alloc ARENA -1` is told that -1 is no
 * SIZE instead of that it is an unknown option.
 */
#include <ctype.h>
#include <getopt.h>
#include <stdbool.h>
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

int ar__ctl_getopt(int argc, char **argv, const struct option *longopts) {
  opterr = 0;
  if (optind == 0) {
    /* A scan of no arguments starts getopt_long afresh (optind 0 asks it
     * to) in OPTSTRING's mode, before the real scan looks at argv[1]. */
    char *none[] = {argv[0], NULL};
    getopt_long(1, none, OPTSTRING, longopts, NULL);
    first = 1;
    nops = 0;
  }
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
