/*
 * dispatch_conn.c: the requests about the connection and the daemon
 * themselves: hello (the version check, the limits, the connection's
 * identity), ping and stats.
 */
#include <string.h>

#include "ar/protocol.h"
#include "dispatch.h"
#include "log.h"

int ad_do_hello(ad_call_t *call, const Arenad__HelloRequest *m) {
  ad_conn_t *c = call->c;
  const ad_config_t *cfg = call->d->cfg;
  Arenad__HelloReply *rep;
  Arenad__Limits *lim;

  /* Refused rather than cut: a name is how operators tell clients apart.
   * A client of another protocol version learns that first, though: to
   * hello again with a shorter name would not help it. */
  bool version_ok = m->protocol_version == AR_PROTOCOL_VERSION;
  size_t len = strnlen(m->client_name, AD_CLIENT_NAME_MAX + 1);
  if (len > AD_CLIENT_NAME_MAX && version_ok) {
    call->d->stats.names_refused++;
    return ad_fail(call, AR_EINVAL,
                   "the client name is over %d bytes; hello again with a "
                   "shorter one",
                   AD_CLIENT_NAME_MAX);
  }
  if (!AD_NEW(call, rep, arenad__hello_reply__init) ||
      !AD_NEW(call, lim, arenad__limits__init))
    return AR_EINTERNAL;
  lim->max_frame_bytes = cfg->max_frame_bytes;
  lim->max_blocks_per_request = (uint32_t)cfg->max_blocks_per_request;
  lim->max_in_flight = (uint32_t)cfg->max_in_flight;
  lim->max_page = (uint32_t)cfg->max_page;
  rep->daemon_version = (char *)AR_VERSION;
  rep->protocol_version = AR_PROTOCOL_VERSION;
  rep->limits = lim;
  rep->token = c->token;
  rep->connection_id = c->id;
  rep->instance = call->d->instance;
  call->resp->body_case = ARENAD__RESPONSE__BODY_HELLO;
  call->resp->hello = rep;

  const char *name = ad_call_clean(call, m->client_name, AD_CLIENT_NAME_MAX);
  memcpy(c->name, name, strlen(name) + 1);
  c->hello_done = true;

  char buf[AD_CLIENT_NAME_MAX * 4 + 8];
  /* Debug only: the close line names the client, so that a health check
   * (a connection a few seconds) costs two info lines, not three. */
  ad_log(AD_LOG_DEBUG, "hello", "conn=%llu name=%s protocol=%u",
         (unsigned long long)c->id, ad_log_str(buf, sizeof(buf), c->name),
         m->protocol_version);

  if (!version_ok) {
    call->close_after = true;
    call->close_reason = "version";
    return ad_fail(call, AR_EVERSION,
                   "protocol version %u is not supported; this daemon speaks "
                   "version %d",
                   m->protocol_version, AR_PROTOCOL_VERSION);
  }
  return 0;
}

int ad_do_ping(ad_call_t *call, const Arenad__PingRequest *m) {
  (void)m;
  Arenad__PingReply *rep;
  if (!AD_NEW(call, rep, arenad__ping_reply__init))
    return AR_EINTERNAL;
  call->resp->body_case = ARENAD__RESPONSE__BODY_PING;
  call->resp->ping = rep;
  return 0;
}

int ad_do_stats(ad_call_t *call, const Arenad__StatsRequest *m) {
  (void)m;
  Arenad__StatsReply *rep = ad_stats_reply(call->d, call->s);
  if (rep == NULL)
    return AR_EINTERNAL;
  call->resp->body_case = ARENAD__RESPONSE__BODY_STATS;
  call->resp->stats = rep;
  return 0;
}
