/*
 * dispatch.c: the envelope around every handler (see dispatch.h): which
 * handler answers which kind, the counters of requests by kind and of
 * errors by status, the body rule on errors, and the kinds this version
 * does not implement yet (retain, release, transfer, create_arena,
 * destroy_arena: issue 5), which get STATUS_INVALID_ARGUMENT as the proto
 * says for kinds a daemon does not know.
 */
#include "dispatch.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ar/protocol.h"
#include "log.h"

int ad_fail(ad_call_t *call, int code, const char *fmt, ...) {
  va_list ap;
  char buf[256];
  va_start(ap, fmt);
  vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  char *msg = ad_scratch_printf(call->s, "%s", buf);
  call->resp->message = msg != NULL ? msg : (char *)"";
  return code;
}

const char *ad_call_clean(ad_call_t *call, const char *s, size_t max) {
  size_t n = strnlen(s, max);
  char *out = ad_scratch_alloc(call->s, n + 1);
  if (out == NULL)
    return "";
  for (size_t i = 0; i < n; i++)
    out[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
  out[n] = '\0';
  return out;
}

ad_arena_t *ad_call_arena(ad_call_t *call, const char *name) {
  ad_arena_t *a = ad_daemon_arena(call->d, name);
  if (a == NULL)
    ad_fail(call, AR_ENOENT, "no arena named '%s'",
            ad_call_clean(call, name, AD_ARENA_NAME_MAX + 8));
  return a;
}

/* The name of a request kind, from the schema. */
static const char *kind_name(int kind) {
  const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field(
      &arenad__request__descriptor, (unsigned)kind);
  return f != NULL && kind != AD_KIND_UNKNOWN ? f->name : "unknown";
}

void ad_dispatch(ad_call_t *call, const Arenad__Request *req) {
  ad_daemon_t *d = call->d;
  Arenad__Response *resp = call->resp;
  int kind = (int)req->body_case;
  int rc;

  resp->id = req->id;
  switch (req->body_case) {
  case ARENAD__REQUEST__BODY_HELLO:
    rc = ad_do_hello(call, req->hello);
    break;
  case ARENAD__REQUEST__BODY_PING:
    rc = ad_do_ping(call, req->ping);
    break;
  case ARENAD__REQUEST__BODY_LIST:
    rc = ad_do_list(call, req->list);
    break;
  case ARENAD__REQUEST__BODY_ATTACH:
    rc = ad_do_attach(call, req->attach);
    break;
  case ARENAD__REQUEST__BODY_INSPECT:
    rc = ad_do_inspect(call, req->inspect);
    break;
  case ARENAD__REQUEST__BODY_CHECK:
    rc = ad_do_check(call, req->check);
    break;
  case ARENAD__REQUEST__BODY_ALLOC:
    rc = ad_do_alloc(call, req->alloc);
    break;
  case ARENAD__REQUEST__BODY_FREE:
    rc = ad_do_free(call, req->free);
    break;
  case ARENAD__REQUEST__BODY_STATS:
    rc = ad_do_stats(call, req->stats);
    break;
  case ARENAD__REQUEST__BODY_RETAIN:
  case ARENAD__REQUEST__BODY_RELEASE:
  case ARENAD__REQUEST__BODY_TRANSFER:
  case ARENAD__REQUEST__BODY_CREATE_ARENA:
  case ARENAD__REQUEST__BODY_DESTROY_ARENA:
    rc = ad_fail(call, AR_EINVAL, "%s is not supported by arenad %s",
                 kind_name(kind), AR_VERSION);
    break;
  default:
    kind = AD_KIND_UNKNOWN;
    rc = ad_fail(call, AR_EINVAL,
                 "the request has no body, or a kind arenad %s does not know",
                 AR_VERSION);
    break;
  }

  d->stats.requests[kind < AD_KIND_SLOTS ? kind : AD_KIND_UNKNOWN]++;
  resp->status = ad_wire_status(rc);
  if (rc != 0) {
    d->stats.errors[resp->status]++;
    if (resp->body_case != ARENAD__RESPONSE__BODY_HELLO &&
        resp->body_case != ARENAD__RESPONSE__BODY_FREE &&
        resp->body_case != ARENAD__RESPONSE__BODY_CHECK)
      resp->body_case = ARENAD__RESPONSE__BODY__NOT_SET;
  }
  if (ad_log_enabled(AD_LOG_DEBUG))
    ad_log(AD_LOG_DEBUG, "request", "conn=%llu id=%llu kind=%s status=%d",
           (unsigned long long)call->c->id, (unsigned long long)req->id,
           kind_name(kind), (int)resp->status);
}
