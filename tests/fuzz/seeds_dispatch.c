/*
 * seeds_dispatch.c: make_seeds' seeds for fuzz_dispatch with several
 * pseudo-connections (fuzz_dispatch.h): blocks reclaimed from a connection
 * that goes, a stalled reader pipelining past max_in_flight and a
 * shutdown, scribbled headers, detached blocks freed by another
 * connection (seeds_multi); retains, releases and transfers between
 * connections, another uid's access and quota, arenas made and destroyed
 * under their users, and the limit on shared holds (seeds_sharing); and
 * memory that runs out under a request (seeds_nomem) or under a daemon's
 * first request (seeds_nomem_first). Each writes DIR/dispatch/NAME.
 */
#include <stdio.h>

#include "fuzz_dispatch.h"
#include "make_seeds.h"

/* This file's scratch: a seed writer resets what it uses first. */
static out_t a, b, c;

/* Several connections. */
void seeds_multi(void) {
  reset(&c);
  uint8_t s = setup(3, 2, false);
  put(&c, &s, 1);
  reset(&a);
  hello(&a, 1);
  alloc(&a, "a", 100, 0, 3, false);
  alloc(&a, "b", 100, 0, 1, false);
  data(&c, 0, &a);
  reset(&b);
  hello(&b, 1);
  free1(&b, "a", 16); /* another connection's: refused */
  alloc(&b, "a", 50, 0, 0, false);
  retain(&b, "a", 144);
  data(&c, 1, &b);
  op(&c, FZ_OP_RESET | 0); /* its blocks are reclaimed */
  reset(&a);
  inspect(&a, "a", ARENAD__INSPECT_WHAT__INSPECT_BLOCKS, 0, 0);
  stats(&a);
  check(&a, "a");
  data(&c, 2, &a);
  write_file("dispatch", "multi-reclaim", &c);
  c.p[0] |= FZ_SETUP_SHORT_TURNS; /* the same, one frame a turn */
  write_file("dispatch", "multi-reclaim-short-turns", &c);

  /* A stalled reader pipelining past max_in_flight, then a shutdown. */
  reset(&c);
  s = setup(2, 3, true);
  put(&c, &s, 1);
  op(&c, FZ_OP_STALL | 0);
  reset(&a);
  for (int i = 0; i < 12; i++)
    alloc(&a, "a", 64, 0, 0, i % 3 == 0);
  ping(&a);
  data(&c, 0, &a);
  reset(&b);
  alloc(&b, "b", 2000, 0, 0, false);
  inspect(&b, "b", ARENAD__INSPECT_WHAT__INSPECT_BLOCKS, 0, 0);
  data(&c, 1, &b);
  op(&c, FZ_OP_SHUTDOWN | 0);
  op(&c, FZ_OP_STALL | 0);
  op(&c, FZ_OP_SHUTDOWN | 1);
  write_file("dispatch", "stall-shutdown", &c);
  c.p[0] |= FZ_SETUP_SHORT_TURNS;
  write_file("dispatch", "stall-shutdown-short-turns", &c);

  /* A client scribbles over block headers, then frees the blocks; then
   * over the header of a new block, which it releases. */
  reset(&c);
  s = setup(2, 0, false);
  put(&c, &s, 1);
  reset(&a);
  alloc(&a, "a", 100, 0, 2, false);
  alloc(&a, "b", 100, 0, 2, false);
  data(&c, 0, &a);
  static const uint8_t junk[16] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                   0xff, 0x7f, 0x4e, 0x45, 0x52, 0x41,
                                   0x30, 0,    0,    0};
  scribble(&c, 0, 0, junk, 16);
  scribble(&c, 1, 128, junk, 16);
  reset(&a);
  uint64_t two[] = {16, 144};
  free_n(&a, "a", two, 2);
  free_n(&a, "b", two, 2);
  check(&a, "a");
  check(&a, "b");
  data(&c, 0, &a);
  reset(&a);
  alloc(&a, "a", 100, 0, 1, false); /* at 16 again */
  data(&c, 0, &a);
  scribble(&c, 0, 0, junk, 16);
  reset(&a);
  release(&a, "a", 16);
  data(&c, 0, &a);
  reset(&b);
  alloc(&b, "c", 10, 0, 0, false);
  data(&c, 1, &b);
  op(&c, FZ_OP_RESET | 1);
  write_file("dispatch", "scribble", &c);

  /* Four connections, detached blocks freed by another one. */
  reset(&c);
  s = setup(4, 1, false);
  put(&c, &s, 1);
  for (unsigned k = 0; k < 4; k++) {
    reset(&a);
    next_id = 100 * (k + 1);
    alloc(&a, k % 2 ? "b" : "a", 256, 0, 2, k == 1);
    inspect(&a, "a", ARENAD__INSPECT_WHAT__INSPECT_DETACHED, 0, 0);
    data(&c, k, &a);
  }
  reset(&a);
  uint64_t det[] = {16, 528}; /* 256 bytes + a header: 512-byte blocks */
  free_n(&a, "b", det, 2);
  data(&c, 3, &a);
  op(&c, FZ_OP_RESET | 2);
  op(&c, FZ_OP_RESET | 0);
  write_file("dispatch", "four-detached", &c);
}

/* Sharing, access and arenas made at run time, across connections. */
void seeds_sharing(void) {
  /* Connection 1 allocates; 2 retains, 1 frees (the block lives on), 1
   * transfers another block to 2 (token 2), 2 releases both. */
  reset(&c);
  uint8_t s = setup(2, 0, false);
  put(&c, &s, 1);
  reset(&a);
  hello(&a, 1);
  alloc(&a, "a", 100, 0, 2, false);
  data(&c, 0, &a);
  reset(&b);
  hello(&b, 1);
  retain(&b, "a", 16);
  retain(&b, "a", 16);
  inspect(&b, "a", ARENAD__INSPECT_WHAT__INSPECT_BLOCKS, 0, 0);
  data(&c, 1, &b);
  reset(&a);
  free1(&a, "a", 16);
  transfer(&a, "a", 144, 2);
  transfer(&a, "a", 144, 1); /* its own token */
  transfer(&a, "a", 144, 9); /* nobody's */
  release(&a, "a", 144);     /* not its reference any more */
  data(&c, 0, &a);
  reset(&b);
  release(&b, "a", 16);
  release(&b, "a", 16);
  release(&b, "a", 144);
  release(&b, "a", 144);
  check(&b, "a");
  data(&c, 1, &b);
  write_file("dispatch", "retain-release-transfer", &c);

  /* Another uid: no access to a, read access to b, read and write to c
   * (whose quota is 6 blocks, 8 KiB); no administration. */
  reset(&c);
  s = setup(2, 2, true);
  put(&c, &s, 1);
  reset(&a);
  alloc(&a, "b", 64, 0, 1, false);
  alloc(&a, "a", 64, 0, 1, true);
  data(&c, 0, &a);
  reset(&b);
  hello(&b, 1);
  alloc(&b, "a", 64, 0, 0, false);
  alloc(&b, "b", 64, 0, 0, false);
  attach(&b, "b", false);
  attach(&b, "b", true);
  retain(&b, "b", 16);
  inspect(&b, "a", ARENAD__INSPECT_WHAT__INSPECT_SUMMARY, 0, 0);
  free1(&b, "a", 16);
  alloc(&b, "c", 1000, 0, 4, false);
  alloc(&b, "c", 1000, 0, 4, false); /* over the quota */
  alloc(&b, "c", 100, 0, 3, true);
  create_arena(&b, "e", 4096, ARENAD__POLICY__POLICY_FIRST);
  destroy_arena(&b, "c", true);
  data(&c, 1, &b);
  reset(&a);
  transfer(&a, "b", 16, 2);
  release(&a, "b", 16);
  data(&c, 0, &a);
  write_file("dispatch", "access-quota", &c);

  /* An arena made, used by two connections, destroyed under them, made
   * again: their requests on the name get not found until they attach,
   * a destroy of it too. */
  reset(&c);
  s = setup(2, 1, false);
  put(&c, &s, 1);
  reset(&a);
  create_arena(&a, "d", 8192, ARENAD__POLICY__POLICY_WORST);
  create_arena(&a, "d", 8192, ARENAD__POLICY__POLICY_WORST); /* taken */
  create_arena(&a, "-x", 8192, ARENAD__POLICY__POLICY_FIRST);
  create_arena(&a, "y", 12288, ARENAD__POLICY__POLICY_BUDDY);
  create_arena(&a, "z", 1u << 30, ARENAD__POLICY__POLICY_NEXT);
  attach(&a, "d", false);
  data(&c, 0, &a);
  reset(&b);
  alloc(&b, "d", 300, 0, 2, false);
  alloc(&b, "d", 300, 0, 1, true);
  data(&c, 1, &b);
  reset(&a);
  destroy_arena(&a, "d", false);
  destroy_arena(&a, "d", true);
  create_arena(&a, "d", 4096, ARENAD__POLICY__POLICY_BEST);
  alloc(&a, "d", 10, 0, 0, false);
  attach(&a, "d", true);
  alloc(&a, "d", 10, 0, 0, false);
  list(&a);
  stats(&a);
  data(&c, 0, &a);
  reset(&b);
  free1(&b, "d", 16);
  inspect(&b, "d", ARENAD__INSPECT_WHAT__INSPECT_BLOCKS, 0, 0);
  destroy_arena(&b, "d", true);
  attach(&b, "d", false);
  free1(&b, "d", 16);
  data(&c, 1, &b);
  write_file("dispatch", "create-destroy-stale", &c);

  /* max_shared_holds (2 in fuzz_dispatch): connection 1 allocates two
   * blocks, 2 and 3 retain the first (2 shared holds), 4's retains are
   * refused, and so is 1's transfer of one of its two references to 4;
   * the transfer of 1's last reference to the second block goes through
   * (a hold moves); 2's release makes room for 4. */
  reset(&c);
  s = setup(4, 0, false);
  put(&c, &s, 1);
  reset(&a);
  hello(&a, 1);
  alloc(&a, "a", 100, 0, 2, false);
  data(&c, 0, &a);
  for (unsigned k = 1; k <= 2; k++) {
    reset(&b);
    hello(&b, 1);
    retain(&b, "a", 16);
    data(&c, k, &b);
  }
  reset(&b);
  hello(&b, 1);
  retain(&b, "a", 16);
  retain(&b, "a", 144);
  data(&c, 3, &b);
  reset(&a);
  retain(&a, "a", 16);
  transfer(&a, "a", 16, 4);
  transfer(&a, "a", 144, 4);
  stats(&a);
  data(&c, 0, &a);
  reset(&b);
  release(&b, "a", 16);
  data(&c, 1, &b);
  reset(&b);
  retain(&b, "a", 16);
  check(&b, "a");
  data(&c, 3, &b);
  write_file("dispatch", "shared-holds-limit", &c);
}

/* Memory that runs out under a request: allocations of several blocks
 * (rolled back), a retain and a transfer, an arena made and destroyed, and
 * a connection closing with blocks held. */
void seeds_nomem(void) {
  for (uint8_t k = 0; k < 4; k++) {
    char name[64];
    reset(&c);
    uint8_t s = setup(2, k, false);
    put(&c, &s, 1);
    reset(&a);
    hello(&a, 1);
    alloc(&a, "a", 100, 0, 3, false);
    data(&c, 0, &a);
    uint8_t nomem[2] = {FZ_OP_NOMEM, (uint8_t)(k * 2)};
    put(&c, nomem, 2);
    reset(&a);
    alloc(&a, "b", 3000, 0, 12, false);
    alloc(&a, "a", 100, 0, 8, true);
    retain(&a, "a", 16);
    transfer(&a, "a", 144, 2);
    create_arena(&a, "n", 8192, ARENAD__POLICY__POLICY_FIRST);
    attach(&a, "n", false);
    alloc(&a, "n", 100, 0, 2, false);
    destroy_arena(&a, "n", true);
    data(&c, 0, &a);
    reset(&b);
    hello(&b, 1);
    alloc(&b, "c", 200, 0, 4, false);
    data(&c, 1, &b);
    put(&c, nomem, 2);
    op(&c, FZ_OP_RESET | 1);
    snprintf(name, sizeof(name), "nomem-%u", k);
    write_file("dispatch", name, &c);
  }
}

/* Memory that runs out under the first request of a daemon, an alloc of
 * detached blocks: the engine, the records and the output buffer all need
 * memory then, so one k or another fails each (the alloc's reply among
 * them, which must not leave blocks that no reply told of). */
void seeds_nomem_first(void) {
  for (uint8_t k = 0; k < 4; k++) {
    char name[64];
    reset(&c);
    uint8_t s = setup(1, k % 4, false);
    put(&c, &s, 1);
    uint8_t nomem[2] = {FZ_OP_NOMEM, k};
    put(&c, nomem, 2);
    reset(&a);
    alloc(&a, "a", 100, 0, 2, true);
    data(&c, 0, &a);
    snprintf(name, sizeof(name), "nomem-first-%u", k);
    write_file("dispatch", name, &c);
  }
}
