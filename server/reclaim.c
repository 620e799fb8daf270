/*
 * reclaim.c: freeing a closed connection's blocks a slice at a time (see
 * reclaim.h). The queue is a singly linked list through each connection's
 * ad_reclaim_t, oldest first; the idle handle gives its head one turn per
 * loop iteration and stops when the queue is empty. A queued connection is
 * owned by the queue until its last reference is dropped: libuv's close
 * callback (conn_io.c) frees it only when it is done, and the end of its
 * reclamation frees it when the callback has run.
 */
#include "reclaim.h"

#include "audit.h"
#include "daemon.h"

/* Holds dropped between two looks at the clock. */
#define CLOCK_EVERY 256

/* Drops c's references until none is left or a turn has passed (the whole
 * lot when `all`, or when turns are off), counting what that freed.
 * Returns whether none is left. */
static bool drop_slice(ad_conn_t *c, bool all) {
  ad_daemon_t *d = c->d;
  uint64_t budget_ns = all ? 0 : d->cfg->turn_budget_us * 1000;
  uint64_t start = uv_hrtime();
  ad_freed_t f = {0};
  bool done;
  while (!(done = ad_holder_reclaim_some(&c->holder, CLOCK_EVERY, &f)))
    if (budget_ns > 0 && uv_hrtime() - start >= budget_ns)
      break;
  d->stats.reclaimed_blocks += f.blocks;
  d->stats.reclaimed_bytes += f.bytes;
  d->stats.blocks_freed += f.blocks;
  d->stats.blocks_kept_no_memory += f.kept;
  /* Logged now: f names the arena of an overwritten header, which may be
   * destroyed before the next slice. */
  ad_audit_corrupt(d, c, &f);
  c->reclaim.blocks += f.blocks;
  c->reclaim.bytes += f.bytes;
  c->reclaim.corruptions += f.corruptions;
  c->reclaim.kept += f.kept;
  return done;
}

/* Counts and logs a reclamation that has dropped every reference. */
static void end(ad_conn_t *c) {
  ad_freed_t total = {.blocks = c->reclaim.blocks,
                      .bytes = c->reclaim.bytes,
                      .corruptions = c->reclaim.corruptions,
                      .kept = c->reclaim.kept};
  c->d->stats.reclaimed_connections++;
  ad_audit_reclaim(c, c->reclaim.refs, &total);
}

/* Takes c off the queue (the head, mostly: O(its place)). */
static void unqueue(ad_daemon_t *d, ad_conn_t *c) {
  ad_conn_t **at = &d->reclaim_head, *prev = NULL;
  while (*at != c) {
    prev = *at;
    at = &prev->reclaim.next;
  }
  *at = c->reclaim.next;
  if (d->reclaim_tail == c)
    d->reclaim_tail = prev;
  c->reclaim.next = NULL;
  c->reclaim.queued = false;
}

/* Ends the reclamation of c, taken off the queue: drops the rest now. */
static void finish_now(ad_conn_t *c) {
  (void)drop_slice(c, true);
  end(c);
}

static void on_reclaim(uv_idle_t *h) {
  ad_daemon_t *d = h->data;
  ad_conn_t *c = d->reclaim_head;
  if (c != NULL) {
    d->stats.reclaim_slices++;
    if (drop_slice(c, false)) {
      unqueue(d, c);
      end(c);
      if (c->poll_closed)
        ad_conn_free(c);
    }
  }
  if (d->reclaim_head == NULL)
    uv_idle_stop(h);
}

void ad_reclaim_begin(ad_conn_t *c) {
  ad_daemon_t *d = c->d;
  c->reclaim.refs = c->holder.nholds;
  if (c->reclaim.refs == 0)
    return;
  /* Without a loop to slice on (not listening yet, or shutting down), all
   * at once. */
  bool sliced = d->handles_init && !d->shutting_down;
  if (drop_slice(c, !sliced)) {
    end(c);
    return;
  }
  c->reclaim.queued = true;
  if (d->reclaim_tail != NULL)
    d->reclaim_tail->reclaim.next = c;
  else
    d->reclaim_head = c;
  d->reclaim_tail = c;
  uv_idle_start(&d->reclaimer, on_reclaim); /* no-op when active */
}

void ad_reclaim_finish(ad_conn_t *c) {
  if (!c->reclaim.queued)
    return;
  unqueue(c->d, c);
  finish_now(c);
}

void ad_reclaim_all(ad_daemon_t *d) {
  ad_conn_t *c;
  while ((c = d->reclaim_head) != NULL) {
    unqueue(d, c);
    finish_now(c);
    if (c->poll_closed)
      ad_conn_free(c);
  }
}

void ad_reclaim_pending(const ad_daemon_t *d, uint64_t *conns, uint64_t *refs) {
  *conns = *refs = 0;
  for (const ad_conn_t *c = d->reclaim_head; c != NULL; c = c->reclaim.next) {
    (*conns)++;
    *refs += c->holder.nholds;
  }
}
