/*
 * stats.c: the one producer of StatsReply. The plain counters are copied
 * by stats.h's list, and the counters by request kind and by status
 * through the schema's descriptors, field number to array index, so that
 * a new counter, kind or status needs no code here.
 */
#include "stats.h"

#include "ar/protocol.h"
#include "daemon.h"
#include "reclaim.h"

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
  r->uptime_ms = ad_daemon_now_ms() - d->start_ms;
  r->arenas = (uint32_t)d->narenas;
#define AD_STATS_COPY(name) r->name = st->name;
  AD_STATS_COUNTERS(AD_STATS_COPY)
#undef AD_STATS_COPY

  fill_by_number(&rq->base, st->requests, AD_KIND_SLOTS);
  fill_by_number(&sc->base, st->errors, AD_STATUS_SLOTS);
  r->requests = rq;
  r->errors = sc;

  ad_reclaim_pending(d, &r->reclaims_pending, &r->reclaim_refs_pending);

  /* The figures summed over the arenas. */
  r->record_bytes = ad_blocks_bytes(&d->pools);
  r->shared_holds = d->pools.shared;
  for (size_t i = 0; i < d->narenas; i++) {
    r->detached_blocks += d->arenas[i]->detached_blocks;
    ar_engine_stats_t es;
    ar_engine_stats(d->arenas[i]->engine, &es);
    r->engine_bytes += es.meta_bytes;
    r->record_bytes += ad_blocktab_bytes(&d->arenas[i]->table);
  }
  return r;
}
