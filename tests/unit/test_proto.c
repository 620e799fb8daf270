/*
 * test_proto.c: the promises arenad.proto makes in its comments, checked
 * against the generated code so that they cannot drift (wire.c asserts at
 * compile time that Status values are the negated AR_E* codes and Policy
 * values ar_policy_t + 1), and, through protobuf-c's descriptors, a
 * Response answers each request kind with the field number of its
 * Request, and the stats' RequestCounts and StatusCounts are numbered
 * after the kinds and statuses. And the mapping both ends share (ar/wire.h):
 * every code that travels comes back as itself, a local one travels as
 * STATUS_INTERNAL, an unknown Status is AR_EINTERNAL, and only the
 * Request's body cases have kind names.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "ar/error.h"
#include "ar/wire.h"
#include "arenad.pb-c.h"

/* The field of the message named `name`; fails the test when missing. */
static const ProtobufCFieldDescriptor *
field_named(const ProtobufCMessageDescriptor *d, const char *name) {
  const ProtobufCFieldDescriptor *f =
      protobuf_c_message_descriptor_get_field_by_name(d, name);
  if (f == NULL)
    fail_msg("%s has no field %s", d->name, name);
  return f;
}

/* Request and Response have the same kinds, with the same numbers, and
 * RequestCounts counts each under that number. */
static void test_kinds_match(void **state) {
  (void)state;
  const ProtobufCMessageDescriptor *req = &arenad__request__descriptor;
  const ProtobufCMessageDescriptor *resp = &arenad__response__descriptor;
  const ProtobufCMessageDescriptor *counts =
      &arenad__request_counts__descriptor;
  unsigned kinds = 0;

  for (unsigned i = 0; i < req->n_fields; i++) {
    const ProtobufCFieldDescriptor *f = &req->fields[i];
    if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) == 0) {
      assert_true(f->id < 16); /* envelope fields stay in 1..15 */
      continue;
    }
    kinds++;
    assert_true(f->id >= 16);
    const ProtobufCFieldDescriptor *r = field_named(resp, f->name);
    assert_int_equal(r->id, f->id);
    assert_true(r->flags & PROTOBUF_C_FIELD_FLAG_ONEOF);
    assert_int_equal(field_named(counts, f->name)->id, f->id);

    /* The reply's message is named after the request's. */
    const ProtobufCMessageDescriptor *rq = f->descriptor;
    const ProtobufCMessageDescriptor *rp = r->descriptor;
    size_t stem = strlen(rq->name) - strlen("Request");
    assert_string_equal(rq->name + stem, "Request");
    assert_int_equal(strlen(rp->name), stem + strlen("Reply"));
    assert_memory_equal(rp->name, rq->name, stem);
    assert_string_equal(rp->name + stem, "Reply");
  }
  assert_int_equal(kinds, 14);

  unsigned resp_kinds = 0;
  for (unsigned i = 0; i < resp->n_fields; i++)
    resp_kinds += (resp->fields[i].flags & PROTOBUF_C_FIELD_FLAG_ONEOF) != 0;
  assert_int_equal(resp_kinds, kinds);
  /* Every kind, and "unknown" = 1. */
  assert_int_equal(counts->n_fields, kinds + 1);
  assert_int_equal(field_named(counts, "unknown")->id, 1);
}

/* StatusCounts has one field per error Status, named after it (lower
 * case, without STATUS_) and numbered by its value. */
static void test_status_counts_match(void **state) {
  (void)state;
  const ProtobufCEnumDescriptor *st = &arenad__status__descriptor;
  const ProtobufCMessageDescriptor *counts = &arenad__status_counts__descriptor;

  assert_int_equal(counts->n_fields, st->n_values - 1);
  for (unsigned i = 0; i < st->n_values; i++) {
    const ProtobufCEnumValue *v = &st->values[i];
    if (v->value == ARENAD__STATUS__STATUS_OK)
      continue;
    char name[64];
    const char *src = v->name + strlen("STATUS_");
    size_t n = 0;
    for (; src[n] != '\0' && n + 1 < sizeof(name); n++)
      name[n] = (char)tolower((unsigned char)src[n]);
    name[n] = '\0';
    assert_int_equal(field_named(counts, name)->id, v->value);
  }
}

static void test_wire_mapping(void **state) {
  (void)state;
  for (int code = AR_OK; code >= AR_EWIRE_LAST; code--) {
    Arenad__Status st = ar_wire_status(code);
    assert_int_equal(st, -code);
    assert_int_equal(ar_wire_code(st), code);
  }
  assert_int_equal(ar_wire_status(AR_EPROTO), ARENAD__STATUS__STATUS_INTERNAL);
  assert_int_equal(ar_wire_status(AR_EIO), ARENAD__STATUS__STATUS_INTERNAL);
  assert_int_equal(ar_wire_status(1), ARENAD__STATUS__STATUS_INTERNAL);
  assert_int_equal(ar_wire_code(-AR_EWIRE_LAST + 1), AR_EINTERNAL);
  assert_int_equal(ar_wire_code(-1), AR_EINTERNAL);
}

static void test_kind_names(void **state) {
  (void)state;
  assert_string_equal(ar_wire_kind_name(ARENAD__REQUEST__BODY_ALLOC), "alloc");
  assert_string_equal(ar_wire_kind_name(ARENAD__REQUEST__BODY_STATS), "stats");
  assert_null(ar_wire_kind_name(ARENAD__REQUEST__BODY__NOT_SET));
  assert_null(ar_wire_kind_name(-1));
  /* Field 1 is the request's id, not a kind; 536870911 the largest
   * field number there is. */
  assert_string_equal(
      protobuf_c_message_descriptor_get_field(&arenad__request__descriptor, 1)
          ->name,
      "id");
  assert_null(ar_wire_kind_name(1));
  assert_null(ar_wire_kind_name(536870911));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_kinds_match),
      cmocka_unit_test(test_status_counts_match),
      cmocka_unit_test(test_wire_mapping),
      cmocka_unit_test(test_kind_names),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
