/*
 * make_seeds.c: writes the seed corpora of the fuzz targets: real Requests
 * packed with protobuf-c and framed as the daemon reads them, and scripts
 * of client calls with the daemon's replies. Run
 *
 *     build-fuzz/fuzz/make_seeds tests/fuzz/corpus
 *
 * to write DIR/frame/req-* (frame streams, for fuzz_frame),
 * DIR/dispatch/NAME (inputs in fuzz_dispatch.h's format: pseudo-connections
 * that say hello, allocate, free, inspect, disconnect ...) and
 * DIR/client/NAME (inputs in fuzz_client.h's format: library calls, each
 * after the reply the fake daemon writes for it). The files are
 * checked in; .ci/dev also runs this into its temporary copy of the corpus
 * so that the fuzzers start from seeds of the current schema.
 *
 * Offsets in the seeds are where the first blocks of an empty arena land
 * (a 16-byte header first, blocks rounded to 16 bytes or to a power of
 * two): 16, then 16 + the first block's size, and so on. The fuzzer
 * mutates them from there.
 *
 * One program in several sources (make_seeds.h says what they share):
 * this file is main, which calls each group's seed writer in turn;
 * seeds_common.c builds a seed's bytes and writes its file;
 * seeds_requests.c has a function per kind of Request and the operations
 * of fuzz_dispatch's format; seeds_frame.c writes the frame streams (for
 * fuzz_frame and, as one connection, fuzz_dispatch), seeds_dispatch.c the
 * seeds of several connections for fuzz_dispatch, seeds_client.c the
 * scripts for fuzz_client.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "make_seeds.h"

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: make_seeds DIR\n");
    return 2;
  }
  seeds_dir = argv[1];
  if (mkdir(seeds_dir, 0755) < 0 && errno != EEXIST)
    die("mkdir %s: %s", seeds_dir, strerror(errno));
  seeds_single();
  seeds_protocol();
  seeds_multi();
  seeds_sharing();
  seeds_nomem();
  seeds_nomem_first();
  seeds_client();
  return 0;
}
