/*
 * test_bench_goal.c: how `arenactl bench` prints a figure against its goal
 * (client/arenactl/bench_goal.c, compiled in): two decimals when they stay
 * on the figure's side of the bound, more when rounding to two would carry
 * it across (1.504 against <= 1.5 is "1.504", not "1.50", beside "no"),
 * and the verdict always that of the unrounded figure.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bench.h"

static void test_goals(void **state) {
  (void)state;
  static const struct {
    double value, bound;
    bool at_most;
    const char *text;
    bool met;
  } cases[] = {
      /* two decimals are enough */
      {1.02, 1.3, true, "1.02", true},
      {1.40, 1.5, true, "1.40", true},
      {1.5, 1.5, true, "1.50", true},
      {1.4951, 1.5, true, "1.50", true}, /* rounds up onto the bound: met */
      {1.61, 1.5, true, "1.61", false},
      {2.72, 1.0, false, "2.72", true},
      {1.0, 1.0, false, "1.00", true},
      {0.42, 1.0, false, "0.42", false},
      /* two decimals would cross the bound: as many more as it takes */
      {1.504, 1.5, true, "1.504", false},
      {1.5000001, 1.5, true, "1.5000001", false},
      {1.30049, 1.3, true, "1.3005", false}, /* the fewest that do */
      {0.996, 1.0, false, "0.996", false},
      {0.99999, 1.0, false, "0.99999", false},
      {1.5 + 1e-15, 1.5, true, "1.500000000000001", false},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char buf[32];
    bool met = ar__bench_goal(buf, sizeof buf, cases[i].value, cases[i].bound,
                              cases[i].at_most);
    if (strcmp(buf, cases[i].text) != 0 || met != cases[i].met)
      fail_msg("%.17g %s %g: \"%s\" %s, want \"%s\" %s", cases[i].value,
               cases[i].at_most ? "<=" : ">=", cases[i].bound, buf,
               met ? "met" : "not met", cases[i].text,
               cases[i].met ? "met" : "not met");
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_goals),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
