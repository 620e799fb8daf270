/*
 * reclaim.h: freeing a closed connection's blocks a slice at a time.
 *
 * A connection that goes takes its references with it, and the blocks
 * whose last reference that was go back to their arenas. A client that
 * held a million blocks would hold the loop for a third of a second if
 * they all went at once, and every other client would wait. So closing
 * only begins the reclamation: it drops references for up to one turn
 * (turn_budget_us, as a connection's turn); when some are left, the
 * connection's object outlives its socket on the daemon's queue of
 * reclamations, and an idle handle drops the rest one turn per loop
 * iteration, the other connections served in between. Until then its
 * blocks are live: they count in the arenas' summaries and against
 * max_live_blocks, destroy_arena without force refuses their arena, and
 * inspect lists the closed connection among their holders.
 *
 * Counters: reclaimed_blocks and reclaimed_bytes grow slice by slice,
 * reclaimed_connections when a reclamation ends (logged then as one
 * "reclaim" line); reclaims_pending is the queue's length now and
 * reclaim_slices the turns taken after a close.
 *
 * A daemon that is not listening yet (unit tests, the fuzzer) has no loop
 * to slice on and reclaims at once; so does shutdown.
 */
#ifndef AD_RECLAIM_H
#define AD_RECLAIM_H

#include <stdbool.h>

#include "conn.h"

struct ad_daemon_s;

/* Begins to reclaim the blocks of c, which is closing (ad_conn_close):
 * frees them all, or queues c, which then must not be freed before
 * ad_reclaim_done says so (or ad_reclaim_finish has run). */
void ad_reclaim_begin(ad_conn_t *c);

/* Finishes c's reclamation now, if it is queued (ad_conn_free: c is
 * about to go). */
void ad_reclaim_finish(ad_conn_t *c);

/* Finishes every queued reclamation now (shutdown), freeing the
 * connections whose close callback has run. */
void ad_reclaim_all(struct ad_daemon_s *d);

/* Whether c may be freed as far as reclamation goes: nothing of it is
 * left to drop. */
static inline bool ad_reclaim_done(const ad_conn_t *c) {
  return !c->reclaim.queued;
}

/* The closed connections still being reclaimed, and the references they
 * still hold (StatsReply's reclaims_pending and reclaim_refs_pending).
 * O(queued reclamations). */
void ad_reclaim_pending(const struct ad_daemon_s *d, uint64_t *conns,
                        uint64_t *refs);

#endif /* AD_RECLAIM_H */
