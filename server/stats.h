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

/* Every plain counter, each named after the StatsReply field it fills:
 * X(name) makes the field here and its copy in ad_stats_reply, so a
 * counter added to the list and the proto needs no other code (and one
 * missing from the proto does not compile). Gauges say "now". */
#define AD_STATS_COUNTERS(X)                                                   \
  X(connections_accepted)                                                      \
  X(connections_open) /* now */                                                \
  X(connections_refused_limit)                                                 \
  X(connections_closed)                                                        \
  X(connections_closed_protocol)                                               \
  X(connections_closed_send_timeout)                                           \
  X(connections_closed_no_memory)                                              \
  X(connections_accept_failed)                                                 \
  X(frames_in)                                                                 \
  X(frames_out)                                                                \
  X(bytes_in)                                                                  \
  X(bytes_out)                                                                 \
  X(frames_over_limit)                                                         \
  X(frames_malformed)                                                          \
  X(frames_unparsable)                                                         \
  X(frames_timed_out)                                                          \
  X(frames_truncated)                                                          \
  X(fds_exhausted)                                                             \
  X(fds_sent)                                                                  \
  X(fds_deferred)                                                              \
  X(in_flight_throttled)                                                       \
  X(output_throttled)                                                          \
  X(fd_queue_throttled)                                                        \
  X(turns_yielded)                                                             \
  X(requests_in_flight) /* now */                                              \
  X(blocks_per_request_refused)                                                \
  X(pages_clamped)                                                             \
  X(pages_cut)                                                                 \
  X(pages_short)                                                               \
  X(scratch_exhausted)                                                         \
  X(blocks_allocated)                                                          \
  X(blocks_freed)                                                              \
  X(blocks_refused_limit)                                                      \
  X(reclaimed_connections)                                                     \
  X(reclaimed_blocks)                                                          \
  X(reclaimed_bytes)                                                           \
  X(reclaim_slices)                                                            \
  X(blocks_kept_no_memory)                                                     \
  X(retains)                                                                   \
  X(releases)                                                                  \
  X(transfers)                                                                 \
  X(permission_denied)                                                         \
  X(quota_refused)                                                             \
  X(arenas_created)                                                            \
  X(arenas_destroyed)                                                          \
  X(corruptions_detected)                                                      \
  X(arenas_refused_limit)                                                      \
  X(stale_lists_dropped)                                                       \
  X(references_refused_limit)                                                  \
  X(arenas_refused_memory)                                                     \
  X(holds_refused_limit)                                                       \
  X(names_refused)

typedef struct ad_stats_s {
#define AD_STATS_FIELD(name) uint64_t name;
  AD_STATS_COUNTERS(AD_STATS_FIELD)
#undef AD_STATS_FIELD
  uint64_t requests[AD_KIND_SLOTS]; /* by Request.body field number */
  uint64_t errors[AD_STATUS_SLOTS]; /* error replies by Status value */
} ad_stats_t;

struct ad_daemon_s;

/* Builds the StatsReply of daemon d in scratch memory s. Returns it, or
 * NULL when s runs out. */
Arenad__StatsReply *ad_stats_reply(const struct ad_daemon_s *d,
                                   ad_scratch_t *s);

#endif /* AD_STATS_H */
