/*
 * wire.h: what the daemon and the client library agree on about the wire
 * beyond the generated code (arenad.pb-c.h): how a Status travels as an
 * AR_E* code and back, and a request kind's name. Both ends link it
 * (ar_wire), so the mapping and its compile-time checks exist once.
 */
#ifndef AR_WIRE_H
#define AR_WIRE_H

#include "ar/error.h"
#include "arenad.pb-c.h"

/* The Status a code travels as: AR_OK is STATUS_OK, each AR_E* code down
 * to AR_EWIRE_LAST its own Status; every other code (AR_EPROTO and the
 * other local ones, never a request's outcome) is STATUS_INTERNAL. */
Arenad__Status ar_wire_status(int code);

/* The code a Status stands for: 0 for STATUS_OK, AR_EINTERNAL for a value
 * this side does not know (a newer peer's). */
int ar_wire_code(int status);

/* The name of a request kind, a Request.body case ("alloc"), from the
 * schema; NULL when `kind` names no case of the body. A Response's body
 * case is its request's, so it names replies too. The string is static. */
const char *ar_wire_kind_name(int kind);

#endif /* AR_WIRE_H */
