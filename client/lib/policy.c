/*
 * policy.c: the placement policies as the library shows them: their names
 * and the public arenad_policy_t of a wire Policy. Both are generated from
 * AR_POLICY_MAP (ar/engine.h, header only), the list the engines and the
 * daemon use, so that the library cannot name or number a policy
 * differently: a policy added there without its ARENAD_POLICY_ value does
 * not compile here.
 */
#include "ar/engine.h"
#include "internal.h"

/* arenad_policy_t is ar_policy_t, so the wire's Policy is one more
 * (ar/wire.h's wire.c asserts that), which arenad_create_arena relies on. */
#define CHECK_POLICY(id, name)                                                 \
  _Static_assert(ARENAD_POLICY_##id == (int)AR_POLICY_##id,                    \
                 "the numbers of policy " name);
AR_POLICY_MAP(CHECK_POLICY)
#undef CHECK_POLICY
_Static_assert(ARENAD_POLICY_UNKNOWN == (int)AR_POLICY_COUNT,
               "ARENAD_POLICY_UNKNOWN follows the known policies");

const char *arenad_policy_name(arenad_policy_t policy) {
  switch (policy) {
#define POLICY_NAME(id, name)                                                  \
  case ARENAD_POLICY_##id:                                                     \
    return name;
    AR_POLICY_MAP(POLICY_NAME)
#undef POLICY_NAME
  default:
    return "unknown";
  }
}

arenad_policy_t arenad__policy(int wire) {
  switch (wire) {
#define POLICY_OF_WIRE(id, name)                                               \
  case ARENAD__POLICY__POLICY_##id:                                            \
    return ARENAD_POLICY_##id;
    AR_POLICY_MAP(POLICY_OF_WIRE)
#undef POLICY_OF_WIRE
  default:
    return ARENAD_POLICY_UNKNOWN;
  }
}
