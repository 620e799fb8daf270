/*
 * bench_floor.h: the floor under the engines' cost, for bench-engines.
 *
 * bench_floor_replay replays a trace doing what every engine does besides
 * placing: the replay loop of ar_replay_run, the engines' own map of live
 * blocks (blockmap.h: an allocation is recorded there, a free is checked
 * against it and removed) and the counters of ar_engine_alloc and
 * ar_engine_free. It places blocks the cheapest way that reuses memory: a
 * stack of freed blocks for each block size up to 4 KiB, which is how
 * glibc answers most requests (its per-thread cache), and a bump pointer
 * for the rest. Every engine does all of this and places its blocks
 * besides, so the floor's ratio to glibc is a bound that no policy's ratio
 * can go below while its frees are checked in this map.
 */
#ifndef AR_BENCH_FLOOR_H
#define AR_BENCH_FLOOR_H

#include <stdint.h>

#include "ar/trace.h"

/* One replay of `t`; returns its nanoseconds, or a negative number when
 * memory ran out or the trace is invalid. *peak_live: the largest sum of
 * live requested bytes, as in ar_replay_summary_t. */
double bench_floor_replay(const ar_trace_t *t, uint64_t *peak_live);

#endif /* AR_BENCH_FLOOR_H */
