/*
 * bench_goal.c: how `arenactl bench` shows a figure against one of its
 * goals ("alloc p50 <= 1.3x ping p50"), so that the figure printed and the
 * verdict printed beside it agree. The figure is judged unrounded, and
 * printed to two decimals unless those would put it on the other side of
 * the bound: 1.5000001 against <= 1.5 prints 1.5000001, not 1.50, beside
 * its "no". Kept apart from cmd_bench.c so that a unit test can check it
 * without a daemon.
 */
#include <stdio.h>
#include <stdlib.h>

#include "bench.h"

/* Whether v meets the bound. */
static bool meets(double v, double bound, bool at_most) {
  return at_most ? v <= bound : v >= bound;
}

bool ar__bench_goal(char *buf, size_t len, double value, double bound,
                    bool at_most) {
  bool met = meets(value, bound, at_most);
  /* 17 decimals of a figure near a bound of 1 or more are 18 significant
   * digits, enough for the printed text to read back as the double
   * itself; the loop ends there at the latest. */
  for (int decimals = 2; decimals <= 17; decimals++) {
    snprintf(buf, len, "%.*f", decimals, value);
    if (meets(strtod(buf, NULL), bound, at_most) == met)
      break;
  }
  return met;
}
