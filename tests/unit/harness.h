/*
 * harness.h: what the hand-worked engine tests share. A "subject" is either
 * the real engine or the reference implementation (reference.h), behind one
 * small interface, so that every hand-worked scenario runs on both: on the
 * engine it is the test, on the reference it checks the hand-worked numbers
 * themselves. The assert_* helpers take the caller's file and line, so a
 * failure points into the scenario, not into this file.
 *
 * After every operation on an engine subject, the harness verifies the
 * engine against itself (engine_verify): ar_engine_check is 0, the full walk
 * tiles the arena, the free-only walk, the stats and ar_engine_find agree
 * with it. Include this header first: it brings cmocka.h and the standard
 * headers cmocka needs before it.
 */
#ifndef AR_TESTS_HARNESS_H
#define AR_TESTS_HARNESS_H

/* cmocka.h needs these first */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ar/engine.h"
#include "ar/error.h"
#include "reference.h"

typedef enum { IMPL_ENGINE, IMPL_REF } impl_t;

/* What a parameterised test runs on; its cmocka initial state. */
typedef struct subject_kind_s {
  impl_t impl;
  ar_policy_t policy;
} subject_kind_t;

/* One cmocka test entry running fn on (policy, impl). */
#define SUBJECT_TEST(fn, POL, IMPL)                                            \
  {#fn " " #POL " " #IMPL, fn, NULL, NULL,                                     \
   &(subject_kind_t){IMPL_##IMPL, AR_POLICY_##POL}}
/* The same test on the engine and on the reference. */
#define BOTH_TESTS(fn, POL)                                                    \
  SUBJECT_TEST(fn, POL, ENGINE), SUBJECT_TEST(fn, POL, REF)

typedef struct subject_s subject_t;

/* Opens a fresh arena of `size` bytes; fails the test if creation fails.
 * `base` is the arena's memory for an engine (ignored by the reference),
 * or NULL. Closed with subject_close. */
subject_t *subject_open(const void *kind, uint64_t size);
subject_t *subject_open_mem(const void *kind, uint64_t size, void *base);
void subject_close(subject_t *s);

/* The engine or NULL for a reference subject. */
ar_engine_t *subject_engine(const subject_t *s);

/* The raw operations, with the return code of the implementation; an
 * engine subject is verified after each. */
int subject_alloc(subject_t *s, uint64_t n, uint64_t align, ar_block_t *out);
int subject_free(subject_t *s, uint64_t payload, ar_block_t *out);
int subject_find(const subject_t *s, uint64_t payload, ar_block_t *out);
void subject_stats(const subject_t *s, ar_engine_stats_t *out);
/* The free set in address order, as reference.h defines it; returns how
 * many spans there are (fills at most max). */
size_t subject_free_set(const subject_t *s, ar_ref_span_t *out, size_t max);

/* Creates and destroys an engine or reference arena; returns the rc. */
int subject_try_create(impl_t impl, ar_policy_t policy, uint64_t size);

/* The engine's free set through ar_engine_walk(free_only), paged; returns
 * the count of spans (fills at most max). Fails the test on a bad walk. */
size_t engine_free_set(const ar_engine_t *e, ar_ref_span_t *out, size_t max);

/* Checks the engine against itself, see the top of this file. */
#define engine_verify(e) engine_verify_((e), __FILE__, __LINE__)
void engine_verify_(const ar_engine_t *e, const char *file, int line);

/* rc must be 0; prints the error's name otherwise. */
#define assert_ar_ok(rc) assert_ar_rc((rc), AR_OK)
#define assert_ar_rc(rc, want) assert_ar_rc_((rc), (want), __FILE__, __LINE__)
void assert_ar_rc_(int rc, int want, const char *file, int line);

/* The allocation succeeds with its payload at `payload`; returns the block. */
#define assert_alloc(s, n, align, payload)                                     \
  assert_alloc_((s), (n), (align), (payload), __FILE__, __LINE__)
ar_block_t assert_alloc_(subject_t *s, uint64_t n, uint64_t align,
                         uint64_t payload, const char *file, int line);

/* The allocation fails with rc (AR_ENOMEM or AR_EINVAL) and changes
 * nothing: same free set, same stats but failed_allocs, which grows by one
 * for AR_ENOMEM only. */
#define assert_alloc_fails(s, n, align, rc)                                    \
  assert_alloc_fails_((s), (n), (align), (rc), __FILE__, __LINE__)
void assert_alloc_fails_(subject_t *s, uint64_t n, uint64_t align, int rc,
                         const char *file, int line);

/* The free succeeds; returns the block freed. */
#define assert_free(s, payload) assert_free_((s), (payload), __FILE__, __LINE__)
ar_block_t assert_free_(subject_t *s, uint64_t payload, const char *file,
                        int line);

/* The free is refused with AR_EINVAL and changes nothing but bad_frees;
 * find must not know the offset either. */
#define assert_free_fails(s, payload)                                          \
  assert_free_fails_((s), (payload), __FILE__, __LINE__)
void assert_free_fails_(subject_t *s, uint64_t payload, const char *file,
                        int line);

/* The free set is exactly the listed [start, end) spans, in order. */
#define assert_free_set(s, ...)                                                \
  assert_free_set_((s), (const ar_ref_span_t[]){__VA_ARGS__},                  \
                   sizeof((const ar_ref_span_t[]){__VA_ARGS__}) /              \
                       sizeof(ar_ref_span_t),                                  \
                   __FILE__, __LINE__)
#define assert_no_free(s) assert_free_set_((s), NULL, 0, __FILE__, __LINE__)
void assert_free_set_(const subject_t *s, const ar_ref_span_t *want,
                      size_t count, const char *file, int line);

/* The next-fit rover is at r. */
#define assert_rover(s, r) assert_rover_((s), (r), __FILE__, __LINE__)
void assert_rover_(const subject_t *s, uint64_t r, const char *file, int line);

/* Asserts two stats snapshots are equal in every field. */
#define assert_stats_equal(a, b) assert_stats_equal_((a), (b), __FILE__, __LINE__)
void assert_stats_equal_(const ar_engine_stats_t *a, const ar_engine_stats_t *b,
                         const char *file, int line);

#endif /* AR_TESTS_HARNESS_H */
