/*
 * session.c: the requests about the connection itself: hello, which
 * agrees on the protocol version and sets the handle's limits from the
 * daemon's, and ping.
 */
#include <string.h>

#include "ar/protocol.h"
#include "internal.h"

_Static_assert(ARENAD_PROTOCOL_VERSION == AR_PROTOCOL_VERSION,
               "arenad.h states the protocol version of ar/protocol.h");

int arenad_hello(arenad_t *h, const char *client_name, arenad_hello_t *out) {
  Arenad__HelloRequest body = ARENAD__HELLO_REQUEST__INIT;
  body.protocol_version = ARENAD_PROTOCOL_VERSION;
  body.client_name = (char *)(client_name != NULL ? client_name : "");
  Arenad__Request req = ARENAD__REQUEST__INIT;
  req.body_case = ARENAD__REQUEST__BODY_HELLO;
  req.hello = &body;

  Arenad__Response *r;
  int rc = arenad__call(h, &req, false, &r);
  if (r == NULL)
    return rc;
  const Arenad__HelloReply *hr = r->hello;
  if (hr == NULL) { /* an error without a body: nothing to fill in */
    arenad__response_free(h, r);
    if (out != NULL)
      memset(out, 0, sizeof *out);
    if (rc == AR_EVERSION) /* the daemon closes the connection after it */
      return arenad__break(h, rc,
                           "the daemon does not speak protocol version %u",
                           (unsigned)ARENAD_PROTOCOL_VERSION);
    return rc;
  }

  arenad_hello_t hi = {0};
  arenad__copy_str(hi.daemon_version, sizeof hi.daemon_version,
                   hr->daemon_version);
  hi.protocol_version = hr->protocol_version;
  hi.token = hr->token;
  hi.connection_id = hr->connection_id;
  hi.instance = hr->instance;
  if (hr->limits != NULL) {
    hi.max_frame_bytes = hr->limits->max_frame_bytes;
    hi.max_blocks_per_request = hr->limits->max_blocks_per_request;
    hi.max_in_flight = hr->limits->max_in_flight;
    hi.max_page = hr->limits->max_page;
  }
  arenad__response_free(h, r);
  if (out != NULL)
    *out = hi;

  if (rc == AR_EVERSION)
    return arenad__break(h, rc,
                         "the daemon speaks protocol version %u, this "
                         "library %u",
                         (unsigned)hi.protocol_version,
                         (unsigned)ARENAD_PROTOCOL_VERSION);
  if (rc < 0)
    return rc;
  size_t window = hi.max_in_flight != 0 ? hi.max_in_flight
                                        : ARENAD_WINDOW_DEFAULT;
  arenad__set_limits(h, hi.max_frame_bytes, window);
  return 0;
}

int arenad_ping(arenad_t *h) {
  Arenad__PingRequest body = ARENAD__PING_REQUEST__INIT;
  Arenad__Request req = ARENAD__REQUEST__INIT;
  req.body_case = ARENAD__REQUEST__BODY_PING;
  req.ping = &body;

  Arenad__Response *r;
  int rc = arenad__call(h, &req, false, &r);
  arenad__response_free(h, r);
  return rc;
}
