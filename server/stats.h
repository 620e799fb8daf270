/*
 * stats.h: the daemon-wide counters, one producer for the StatsReply that
 * `arenactl stats` renders (as a table or JSON) and for the log. Every
 * limit the daemon enforces has a counter here, named after the StatsReply
 * field it fills. Plain integers bumped by the one loop thread; gauges
 * ("now") are kept up to date where they change.
 */
#ifndef AD_STATS_H
#define AD_STATS_H

#include <stdint.h>

#include "arenad.pb-c.h"
#include "scratch.h"

/* Requests are counted by their kind's field number in Request.body (which
 * RequestCounts reuses); a request with no body or an unknown kind counts
 * under AD_KIND_UNKNOWN, RequestCounts.unknown's number. */
#define AD_KIND_SLOTS 128
#define AD_KIND_UNKNOWN 1

/* Error replies by Status value (StatusCounts reuses the numbers). */
#define AD_STATUS_SLOTS 16

typedef struct ad_stats_s {
  uint64_t connections_accepted;
  uint64_t connections_open; /* now */
  uint64_t connections_refused_limit;
  uint64_t connections_closed;
  uint64_t connections_closed_protocol;
  uint64_t connections_closed_output;
  uint64_t connections_accept_failed;

  uint64_t frames_in;
  uint64_t frames_out;
  uint64_t bytes_in;
  uint64_t bytes_out;
  uint64_t frames_over_limit;
  uint64_t frames_malformed;
  uint64_t frames_unparsable;
  uint64_t frames_timed_out;
  uint64_t fds_exhausted;
  uint64_t fds_sent;

  uint64_t in_flight_throttled;
  uint64_t requests_in_flight; /* now */
  uint64_t blocks_per_request_refused;
  uint64_t pages_clamped;
  uint64_t pages_cut;
  uint64_t scratch_exhausted;

  uint64_t requests[AD_KIND_SLOTS];
  uint64_t errors[AD_STATUS_SLOTS];

  uint64_t blocks_allocated;
  uint64_t blocks_freed;
  uint64_t reclaimed_connections;
  uint64_t reclaimed_blocks;
  uint64_t reclaimed_bytes;

  uint64_t retains;
  uint64_t releases;
  uint64_t transfers;
  uint64_t permission_denied;
  uint64_t quota_refused;
  uint64_t arenas_created;
  uint64_t arenas_destroyed;
  uint64_t corruptions_detected;
  uint64_t arenas_refused_limit;
} ad_stats_t;

struct ad_daemon_s;

/* Builds the StatsReply of daemon d in scratch memory s. Returns it, or
 * NULL when s runs out. */
Arenad__StatsReply *ad_stats_reply(const struct ad_daemon_s *d,
                                   ad_scratch_t *s);

#endif /* AD_STATS_H */
