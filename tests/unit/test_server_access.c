/*
 * test_server_access.c: the permission rules and the quota arithmetic of
 * server/access.c, case by case: owner, group (primary and supplementary)
 * and other classes, the owner's bits alone for the owner, root with and
 * without root_override, the admin rule, and quota sums at their limits and
 * past 2^64.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "access.h"
#include "ar/error.h"

static const unsigned R = AD_MAY_READ, W = AD_MAY_WRITE;

/* Credentials as the daemon makes them with root_override = 1. */
static ad_cred_t cred(uint32_t uid, uint32_t gid) {
  return (ad_cred_t){1, uid, gid, NULL, 0, uid == 0};
}

static void test_classes(void **state) {
  (void)state;
  ad_perm_t p = {.owner = 1000, .group = 50, .mode = 0640};
  ad_cred_t owner = cred(1000, 1000), member = cred(2000, 50),
            other = cred(3000, 3000);
  assert_true(ad_access_allows(&p, &owner, R));
  assert_true(ad_access_allows(&p, &owner, W));
  assert_true(ad_access_allows(&p, &owner, R | W));
  assert_true(ad_access_allows(&p, &member, R));
  assert_false(ad_access_allows(&p, &member, W));
  assert_false(ad_access_allows(&p, &member, R | W));
  assert_false(ad_access_allows(&p, &other, R));
  /* Nothing needed: always. */
  assert_true(ad_access_allows(&p, &other, 0));

  p.mode = 0604;
  assert_true(ad_access_allows(&p, &other, R));
  assert_false(ad_access_allows(&p, &member, R)); /* the group's bits: 0 */

  /* The owner gets the owner's bits only, like a file. */
  p.mode = 0077;
  assert_false(ad_access_allows(&p, &owner, R));
  assert_true(ad_access_allows(&p, &member, R | W));
  assert_true(ad_access_allows(&p, &other, R | W));
  /* An owner in the group still gets the owner's bits. */
  ad_cred_t owner_in_group = cred(1000, 50);
  assert_false(ad_access_allows(&p, &owner_in_group, R));

  /* Write-only. */
  p.mode = 0200;
  assert_true(ad_access_allows(&p, &owner, W));
  assert_false(ad_access_allows(&p, &owner, R | W));
}

static void test_supplementary_groups(void **state) {
  (void)state;
  ad_perm_t p = {.owner = 0, .group = 10001, .mode = 0660};
  uint32_t groups[] = {27, 10001, 100};
  ad_cred_t c = {1, 4242, 4242, groups, 3, false};
  assert_true(ad_access_in_group(&c, 10001));
  assert_true(ad_access_in_group(&c, 27)); /* the first and the last */
  assert_true(ad_access_in_group(&c, 100));
  assert_true(ad_access_in_group(&c, 4242)); /* the primary one */
  assert_false(ad_access_in_group(&c, 5));
  assert_true(ad_access_allows(&p, &c, R | W));
  c.ngroups = 1; /* without 10001 */
  assert_false(ad_access_allows(&p, &c, R));
}

static void test_root(void **state) {
  (void)state;
  ad_perm_t p = {.owner = 1000, .group = 1000, .mode = 0};
  ad_cred_t root = cred(0, 0), owner = cred(1000, 1000);
  assert_true(ad_access_allows(&p, &root, R | W));
  assert_false(ad_access_allows(&p, &owner, R));
  assert_true(ad_access_admin(&root, 10001, AD_ID_NONE));

  /* With root_override = 0, uid 0 is a uid like any other: the classes
   * decide, and it is no admin. */
  root.root = false;
  assert_false(ad_access_allows(&p, &root, R));
  assert_false(ad_access_admin(&root, 10001, AD_ID_NONE));
  p.mode = 0004;
  assert_true(ad_access_allows(&p, &root, R)); /* as other */
  p.owner = 0;
  p.mode = 0600;
  assert_true(ad_access_allows(&p, &root, R | W));    /* as the owner */
  assert_true(ad_access_admin(&root, 0, AD_ID_NONE)); /* the daemon's uid */
}

static void test_admin(void **state) {
  (void)state;
  uint32_t groups[] = {7, 8};
  ad_cred_t root = cred(0, 0), daemon = cred(10001, 10001),
            member = {1, 4242, 4242, groups, 2, false},
            other = cred(5000, 5000);
  assert_true(ad_access_admin(&root, 10001, AD_ID_NONE));
  assert_true(ad_access_admin(&daemon, 10001, AD_ID_NONE));
  assert_false(ad_access_admin(&member, 10001, AD_ID_NONE));
  assert_true(ad_access_admin(&member, 10001, 8));
  assert_true(ad_access_admin(&member, 10001, 7));
  assert_false(ad_access_admin(&other, 10001, 8));
  /* A gid that is the admin group as the primary group. */
  ad_cred_t primary = cred(5000, 8);
  assert_true(ad_access_admin(&primary, 10001, 8));
  assert_string_equal(ad_access_need_name(R), "read");
  assert_string_equal(ad_access_need_name(W), "write");
  assert_string_equal(ad_access_need_name(R | W), "read and write");
}

static void test_quota(void **state) {
  (void)state;
  char msg[200];
  ad_quota_t none = {0, 0}, q = {1000, 3};
  ad_usage_t used = {900, 2}, add = {100, 1};
  assert_int_equal(ad_quota_check(&none, &used, &add, msg, sizeof(msg)), 0);
  /* Exactly at both limits: fits. */
  assert_int_equal(ad_quota_check(&q, &used, &add, msg, sizeof(msg)), 0);
  add.bytes = 101;
  assert_int_equal(ad_quota_check(&q, &used, &add, msg, sizeof(msg)),
                   AR_ELIMIT);
  assert_string_equal(msg, "quota_bytes is 1000: 900 in use, the request "
                           "needs 101 more");
  /* Blocks are checked first. */
  add = (ad_usage_t){5000, 2};
  assert_int_equal(ad_quota_check(&q, &used, &add, msg, sizeof(msg)),
                   AR_ELIMIT);
  assert_string_equal(msg, "quota_blocks is 3: 2 in use, the request needs "
                           "2 more");
  /* Only one of the two set. */
  ad_quota_t bytes_only = {1000, 0};
  add = (ad_usage_t){100, 1000000};
  assert_int_equal(ad_quota_check(&bytes_only, &used, &add, msg, sizeof(msg)),
                   0);
  /* No overflow: a sum past 2^64 is over any quota. */
  ad_quota_t big = {UINT64_MAX - 1, 0};
  used = (ad_usage_t){UINT64_MAX - 10, 0};
  add = (ad_usage_t){20, 0};
  assert_int_equal(ad_quota_check(&big, &used, &add, msg, sizeof(msg)),
                   AR_ELIMIT);
  add = (ad_usage_t){UINT64_MAX, 0};
  used = (ad_usage_t){0, 0};
  assert_int_equal(ad_quota_check(&q, &used, &add, msg, sizeof(msg)),
                   AR_ELIMIT);
  /* Use already over (a quota is never lowered, but still): refused. */
  used = (ad_usage_t){2000, 0};
  add = (ad_usage_t){0, 0};
  assert_int_equal(ad_quota_check(&q, &used, &add, msg, sizeof(msg)),
                   AR_ELIMIT);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_classes),
      cmocka_unit_test(test_supplementary_groups),
      cmocka_unit_test(test_root),
      cmocka_unit_test(test_admin),
      cmocka_unit_test(test_quota),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
