/*
 * wire.c: the Status/code mapping and request kind names of wire.h. The
 * Status enum of arenad.proto is defined as the negated AR_E* codes, which
 * the asserts below hold it to, so the mapping is a sign change within
 * the range both know. They also hold Policy to ar_policy_t + 1, which
 * both ends convert by.
 */
#include "ar/wire.h"

#include "ar/engine.h"

#define AR__STATUS_IS(status, code)                                            \
  _Static_assert((int)ARENAD__STATUS__STATUS_##status == -AR_##code,           \
                 "Status " #status " is -AR_" #code)
AR__STATUS_IS(INVALID_ARGUMENT, EINVAL);
AR__STATUS_IS(NOT_FOUND, ENOENT);
AR__STATUS_IS(OUT_OF_MEMORY, ENOMEM);
AR__STATUS_IS(PERMISSION_DENIED, EPERM);
AR__STATUS_IS(CORRUPTION_DETECTED, ECORRUPT);
AR__STATUS_IS(LIMIT_EXCEEDED, ELIMIT);
AR__STATUS_IS(UNSUPPORTED_VERSION, EVERSION);
AR__STATUS_IS(INTERNAL, EINTERNAL);
#undef AR__STATUS_IS
_Static_assert((int)ARENAD__STATUS__STATUS_OK == AR_OK, "Status OK is AR_OK");
_Static_assert((int)ARENAD__STATUS__STATUS_INTERNAL == -AR_EWIRE_LAST,
               "every wire status has an AR_E* code");
/* Policy is ar_policy_t + 1 (0 is POLICY_UNSPECIFIED): the daemon and the
 * library both convert by that. */
#define AR__POLICY_IS(id, name)                                                \
  _Static_assert(ARENAD__POLICY__POLICY_##id == AR_POLICY_##id + 1,            \
                 "Policy " name " is ar_policy_t + 1");
AR_POLICY_MAP(AR__POLICY_IS)
#undef AR__POLICY_IS
_Static_assert((int)ARENAD__POLICY__POLICY_BUDDY == (int)AR_POLICY_COUNT,
               "every policy is on the wire");
_Static_assert((int)ARENAD__REQUEST__BODY_ALLOC ==
                       (int)ARENAD__RESPONSE__BODY_ALLOC &&
                   (int)ARENAD__REQUEST__BODY_STATS ==
                       (int)ARENAD__RESPONSE__BODY_STATS,
               "a reply's body case is its request's");

Arenad__Status ar_wire_status(int code) {
  if (code > 0 || code < AR_EWIRE_LAST)
    return ARENAD__STATUS__STATUS_INTERNAL;
  return (Arenad__Status)-code;
}

int ar_wire_code(int status) {
  if (status == ARENAD__STATUS__STATUS_OK)
    return AR_OK;
  if (status > 0 && status <= -AR_EWIRE_LAST)
    return -status;
  return AR_EINTERNAL;
}

const char *ar_wire_kind_name(int kind) {
  if (kind <= 0)
    return NULL;
  const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field(
      &arenad__request__descriptor, (unsigned)kind);
  return f != NULL && (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) ? f->name : NULL;
}
