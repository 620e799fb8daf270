/*
 * stats.c: the one producer of StatsReply. The counters by request kind
 * and by status are copied through the schema's descriptors, field number
 * to array index, so that a new kind or status needs no code here.
 */
#include "stats.h"

#include "ar/protocol.h"
#include "daemon.h"

/* Sets every uint64 field of msg (a RequestCounts or StatusCounts) to
 * counts[its field number]. */
static void fill_by_number(ProtobufCMessage *msg, const uint64_t *counts,
                           size_t slots) {
  const ProtobufCMessageDescriptor *desc = msg->descriptor;
  for (unsigned i = 0; i < desc->n_fields; i++) {
    const ProtobufCFieldDescriptor *f = &desc->fields[i];
    if (f->type == PROTOBUF_C_TYPE_UINT64 && f->id < slots)
      *(uint64_t *)((char *)msg + f->offset) = counts[f->id];
  }
}

Arenad__StatsReply *ad_stats_reply(const ad_daemon_t *d, ad_scratch_t *s) {
  const ad_stats_t *st = &d->stats;
  Arenad__StatsReply *r = ad_scratch_alloc(s, sizeof(*r));
  Arenad__RequestCounts *rq = ad_scratch_alloc(s, sizeof(*rq));
  Arenad__StatusCounts *sc = ad_scratch_alloc(s, sizeof(*sc));
  if (r == NULL || rq == NULL || sc == NULL)
    return NULL;
  arenad__stats_reply__init(r);
  arenad__request_counts__init(rq);
  arenad__status_counts__init(sc);

  r->daemon_version = (char *)AR_VERSION;
  r->uptime_ms = ad_daemon_now_ms(d) - d->start_ms;
  r->arenas = (uint32_t)d->narenas;

  r->connections_accepted = st->connections_accepted;
  r->connections_open = st->connections_open;
  r->connections_refused_limit = st->connections_refused_limit;
  r->connections_closed = st->connections_closed;
  r->connections_closed_protocol = st->connections_closed_protocol;
  r->connections_closed_output = st->connections_closed_output;
  r->connections_accept_failed = st->connections_accept_failed;

  r->frames_in = st->frames_in;
  r->frames_out = st->frames_out;
  r->bytes_in = st->bytes_in;
  r->bytes_out = st->bytes_out;
  r->frames_over_limit = st->frames_over_limit;
  r->frames_malformed = st->frames_malformed;
  r->frames_unparsable = st->frames_unparsable;
  r->frames_timed_out = st->frames_timed_out;
  r->fds_exhausted = st->fds_exhausted;
  r->fds_sent = st->fds_sent;

  r->in_flight_throttled = st->in_flight_throttled;
  r->requests_in_flight = st->requests_in_flight;
  r->blocks_per_request_refused = st->blocks_per_request_refused;
  r->pages_clamped = st->pages_clamped;
  r->pages_cut = st->pages_cut;
  r->scratch_exhausted = st->scratch_exhausted;

  fill_by_number(&rq->base, st->requests, AD_KIND_SLOTS);
  fill_by_number(&sc->base, st->errors, AD_STATUS_SLOTS);
  r->requests = rq;
  r->errors = sc;

  r->blocks_allocated = st->blocks_allocated;
  r->blocks_freed = st->blocks_freed;
  for (size_t i = 0; i < d->narenas; i++)
    r->detached_blocks += d->arenas[i]->detached_blocks;
  r->reclaimed_connections = st->reclaimed_connections;
  r->reclaimed_blocks = st->reclaimed_blocks;
  r->reclaimed_bytes = st->reclaimed_bytes;

  r->retains = st->retains;
  r->releases = st->releases;
  r->transfers = st->transfers;
  r->permission_denied = st->permission_denied;
  r->quota_refused = st->quota_refused;
  r->arenas_created = st->arenas_created;
  r->arenas_destroyed = st->arenas_destroyed;
  r->corruptions_detected = st->corruptions_detected;
  r->arenas_refused_limit = st->arenas_refused_limit;

  r->record_bytes = ad_blocks_bytes(&d->pools);
  for (size_t i = 0; i < d->narenas; i++) {
    ar_engine_stats_t es;
    ar_engine_stats(d->arenas[i]->engine, &es);
    r->engine_bytes += es.meta_bytes;
    r->record_bytes += ad_blocktab_bytes(&d->arenas[i]->table);
  }
  return r;
}
