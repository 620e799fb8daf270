/*
 * seeds_frame.c: make_seeds' frame streams: Requests of every kind on one
 * connection, valid and not (seeds_single), and bytes that break the
 * protocol: a frame that is not a Request, a prefix over the limit, a
 * frame split across reads and a non-minimal prefix (seeds_protocol).
 * Each stream is written twice, as DIR/frame/req-NAME for fuzz_frame and
 * as one connection's bytes, DIR/dispatch/NAME, for fuzz_dispatch (both);
 * the split frame only for fuzz_dispatch.
 */
#include <stdio.h>
#include <string.h>

#include "make_seeds.h"

/* This file's scratch: a seed writer resets what it uses first. */
static out_t a, b, c;

/* A frame stream for fuzz_frame, and the same as one connection's bytes
 * for fuzz_dispatch. */
static void both(const char *name, const out_t *f) {
  char n[128];
  snprintf(n, sizeof(n), "req-%s", name);
  write_file("frame", n, f);
  out_t *d = &c;
  d->n = 0;
  uint8_t s = setup(1, 0, false);
  put(d, &s, 1);
  data(d, 0, f);
  write_file("dispatch", name, d);
}

void seeds_single(void) {
  reset(&a);
  hello(&a, 1);
  ping(&a);
  list(&a);
  stats(&a);
  both("hello-ping-list-stats", &a);

  reset(&a);
  hello(&a, 1);
  attach(&a, "a", false);
  attach(&a, "b", false);
  attach(&a, "c", true);
  attach(&a, "nope", false);
  both("attach", &a);

  reset(&a);
  alloc(&a, "a", 100, 0, 0, false);
  alloc(&a, "b", 100, 0, 0, false);
  alloc(&a, "c", 5000, 4096, 0, false);
  free1(&a, "a", 16);
  free1(&a, "b", 16);
  free1(&a, "c", 4096);
  check(&a, "a");
  both("alloc-free-single", &a);

  reset(&a);
  alloc(&a, "a", 64, 64, 4, false);
  alloc(&a, "b", 1000, 0, 3, false);
  uint64_t fa[] = {64, 192, 320, 448, 64, 17, 99999};
  free_n(&a, "a", fa, sizeof(fa) / sizeof(fa[0]));
  uint64_t fb[] = {16, 1040, 2064};
  free_n(&a, "b", fb, 3);
  check(&a, "b");
  both("alloc-free-count", &a);

  reset(&a);
  alloc(&a, "a", 1, 0, 16, false);
  alloc(&a, "a", 1, 0, 17, false);   /* over max_blocks_per_request */
  alloc(&a, "a", 0, 0, 0, false);    /* size 0 */
  alloc(&a, "a", 100, 24, 0, false); /* not a power of two */
  alloc(&a, "a", 100, 8192, 0, false);
  alloc(&a, "a", 1u << 20, 0, 0, false); /* no room */
  alloc(&a, "zz", 100, 0, 0, false);
  uint64_t many[17] = {0};
  free_n(&a, "a", many, 17);
  free_n(&a, "a", NULL, 0);
  free1(&a, "zz", 16);
  both("alloc-errors", &a);

  reset(&a);
  alloc(&a, "a", 200, 0, 3, true);
  alloc(&a, "b", 200, 0, 2, true);
  inspect(&a, "a", ARENAD__INSPECT_WHAT__INSPECT_DETACHED, 0, 0);
  free1(&a, "a", 16);
  both("detached", &a);

  reset(&a);
  alloc(&a, "a", 100, 0, 6, false);
  free1(&a, "a", 144);
  free1(&a, "a", 400);
  for (int w = 0; w <= 4; w++) {
    inspect(&a, "a", (Arenad__InspectWhat)w, 0, 2);
    inspect(&a, "a", (Arenad__InspectWhat)w, 272, 0);
  }
  inspect(&a, "a", ARENAD__INSPECT_WHAT__INSPECT_BLOCKS, 65536, 0);
  inspect(&a, "a", ARENAD__INSPECT_WHAT__INSPECT_BLOCKS, 65537, 0);
  inspect(&a, "b", ARENAD__INSPECT_WHAT__INSPECT_FREE_LIST, 0, 1000);
  inspect(&a, "c", ARENAD__INSPECT_WHAT__INSPECT_SUMMARY, 0, 0);
  both("inspect", &a);

  reset(&a);
  hello(&a, 1);
  alloc(&a, "a", 100, 0, 0, false);
  retain(&a, "a", 16);
  release(&a, "a", 16);
  transfer(&a, "a", 16, 2);
  create_arena(&a, "d", 8192, ARENAD__POLICY__POLICY_BEST);
  alloc(&a, "d", 100, 0, 0, false);
  destroy_arena(&a, "d", false);
  destroy_arena(&a, "d", true);
  empty_request(&a);
  both("sharing-admin", &a);

  reset(&a);
  hello(&a, 2);
  ping(&a);
  both("hello-version", &a);
}

void seeds_protocol(void) {
  /* A good frame, then bytes that are not a Request. */
  reset(&a);
  ping(&a);
  uint8_t bad[] = {0x05, 0xff, 0xff, 0xff, 0xff, 0xff};
  put(&a, bad, sizeof(bad));
  ping(&a);
  both("unparsable", &a);

  /* A prefix over the limit (4 KiB in fuzz_dispatch). */
  reset(&a);
  ping(&a);
  uint8_t big[] = {0x81, 0x40};
  put(&a, big, sizeof(big));
  both("over-limit", &a);

  /* A frame split across reads, and a non-minimal prefix. */
  reset(&a);
  reset(&b);
  alloc(&a, "a", 300, 0, 2, false);
  reset(&c);
  uint8_t s = setup(1, 1, false);
  put(&c, &s, 1);
  out_t half = a;
  half.n = a.n / 2;
  data(&c, 0, &half);
  memmove(half.p, a.p + a.n / 2, a.n - a.n / 2);
  half.n = a.n - a.n / 2;
  data(&c, 0, &half);
  reset(&b);
  uint8_t nonmin[] = {0x80, 0x00};
  put(&b, nonmin, sizeof(nonmin));
  data(&c, 0, &b);
  write_file("dispatch", "split-frame", &c);
}
