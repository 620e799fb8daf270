/*
 * asan.h: AR_TEST_UNDER_ASAN, 1 when the test is built with
 * AddressSanitizer and 0 otherwise, for the few tests that must skip or
 * measure differently under it (its allocator replaces glibc's, and it
 * reserves terabytes of address space for itself). gcc says so with
 * __SANITIZE_ADDRESS__, clang (before 16) only through __has_feature, so
 * both are asked here, once. Header only.
 */
#ifndef AR_TESTS_ASAN_H
#define AR_TESTS_ASAN_H

#if defined(__SANITIZE_ADDRESS__)
#define AR_TEST_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define AR_TEST_UNDER_ASAN 1
#endif
#endif
#ifndef AR_TEST_UNDER_ASAN
#define AR_TEST_UNDER_ASAN 0
#endif

#endif /* AR_TESTS_ASAN_H */
