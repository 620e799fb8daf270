/*
 * hammer_outsider.c: the outsider of test_hammer, a process the parent
 * forks, running as nobody (uid 65534), which the arenas' mode 0600 keeps
 * out. It throws allocations, frees, attaches, inspections, retains and
 * arena creations at ham and bud (tmp comes and goes): each must be
 * refused with permission denied and change nothing; listing the arenas
 * and pinging are allowed. It counts its refusals per arena in the shared
 * mapping, for the parent to compare with what the arenas counted.
 */
#include "hammer.h"

#include <grp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "arenad.h"

#define NOBODY 65534u

/* One refused request: anything but permission denied is a failure. */
static int expect_denied(int rc, int arena, const char *what,
                         uint64_t *denied) {
  if (rc != AR_EPERM) {
    fprintf(stderr, "hammer outsider: %s: %s, not EPERM\n", what,
            ar_err_name(rc));
    return 1;
  }
  if (arena >= 0)
    denied[arena]++;
  return 0;
}

/* Runs as nobody, on ham and bud only (tmp comes and goes). Returns 0 when
 * every request got the answer it must. */
int outsider_main(uint64_t seed, uint64_t ms, uint64_t max_ops) {
  if (setgroups(0, NULL) < 0 || setgid(NOBODY) < 0 || setuid(NOBODY) < 0)
    return 125;
  rng_t rng = {seed};
  arenad_t *h;
  if (arenad_connect(daemon_.sock, &h) < 0 ||
      arenad_hello(h, "hammer-outsider", NULL) < 0)
    return 2;
  uint64_t denied[NARENAS] = {0};
  int bad = 0;
  uint64_t end = now_ms() + ms;
  for (uint64_t op = 0; op < max_ops && now_ms() < end && !bad; op++) {
    int a = (int)below(&rng, 2);
    uint64_t off = below(&rng, arena_size[a] / 16) * 16;
    unsigned r = (unsigned)below(&rng, 8);
    if (r == 0) {
      uint64_t got;
      bad = expect_denied(
          arenad_alloc(h, arenas[a], 1 + below(&rng, 4096), 16, 0, &got, NULL),
          a, "alloc", denied);
    } else if (r == 1) {
      bad = expect_denied(arenad_free(h, arenas[a], off), a, "free", denied);
    } else if (r == 2) {
      arenad_map_t map;
      unsigned flags = chance(&rng, 50) ? ARENAD_ATTACH_READ_ONLY : 0;
      bad = expect_denied(arenad_attach(h, arenas[a], flags, &map), a, "attach",
                          denied);
    } else if (r == 3) {
      arenad_page_t *page = NULL;
      bad = expect_denied(
          arenad_inspect(h, arenas[a], ARENAD_INSPECT_BLOCKS, 0, 16, &page), a,
          "inspect", denied);
      arenad_page_destroy(page);
    } else if (r == 4) {
      bad = expect_denied(arenad_retain(h, arenas[a], off, NULL), a, "retain",
                          denied);
    } else if (r == 5) {
      arenad_arena_spec_t spec = {4096, ARENAD_POLICY_FIRST, NULL, 0, 0};
      bad = expect_denied(arenad_create_arena(h, "outsider", &spec, NULL), -1,
                          "create", denied);
    } else if (r == 6) {
      arenad_arena_t *list;
      size_t n;
      bad = arenad_list(h, &list, &n) != 0; /* like ls -l: allowed */
      if (!bad)
        arenad_list_destroy(list);
    } else {
      bad = arenad_ping(h) != 0;
    }
  }
  arenad_close(h);
  memcpy(shared->outsider_denied, denied, sizeof denied);
  return bad;
}
