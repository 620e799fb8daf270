/*
 * badinput_harness.h: what the test_daemon_badinput_* tests that share a
 * daemon have in common, compiled into each (badinput_harness.c): the
 * group's daemon (itest.h, with `config`), and a bystander connection on
 * it that holds four blocks and is mid-conversation while each hostile
 * case runs on a connection of its own (a ping sent and its reply unread,
 * and half of an alloc's frame sent). A case ends with all_is_well: the
 * daemon still answers, the bystander's conversation goes on unaffected,
 * its blocks intact, and every arena passes its check. Each file's group
 * ends with test_exits_cleanly, which frees the bystander's blocks and
 * checks that the daemon exits cleanly.
 *
 * Who owns what: setup opens the bystander and teardown closes it (unless
 * test_exits_cleanly has already); the bystander's blocks are its own, a
 * test may name them (as someone else's) but not free them, and
 * test_exits_cleanly frees them. The frame the bystander has half sent is
 * the harness's: bystander_end sends the rest and frees it, and teardown
 * frees what a failed test left. The group's daemon is itest's (it_group):
 * test_exits_cleanly stops it, and teardown kills it if it still runs and
 * removes its directory. Include this header first: it brings itest.h,
 * and with it cmocka.h and the standard headers cmocka needs before it.
 */
#ifndef AR_TESTS_BADINPUT_HARNESS_H
#define AR_TESTS_BADINPUT_HARNESS_H

#include "itest.h"

#include <stdint.h>

/* The group daemon's config (main sets it_group_config to it): a 64 KiB
 * frame limit, 100 blocks a request at the most, and two arenas of 1 MiB,
 * "one" (the default policy) and "two" (buddy). */
extern const char config[];

/* The bystander connection, and the four blocks it holds (of 100 to 103
 * bytes, in arenas one, two, one, two). */
extern it_conn_t *bystander;
extern uint64_t bystander_blocks[4];

/* Puts the bystander mid-conversation: a ping sent and not yet read, and
 * an alloc of which half the frame is sent. */
void bystander_begin(void);

/* The rest of the cut frame, and both answers, in order. Call it before
 * any other use of the bystander, as a statement of its own (the request
 * builders share one static request). */
void bystander_end(void);

/* The group's daemon (itest.h), and a bystander mid-conversation. */
int setup(void **state);

/* The bystander's conversation goes on (the request it had cut in half
 * is answered), with its blocks intact, and every arena passes its check;
 * then it cuts another in half for the next case. */
void all_is_well(void);

/* Only cleans up: cmocka 1.1.5 ignores a failure in a group teardown, so
 * the last test checks the end. */
int teardown(void **state);

/* Last: all is still well, the bystander frees its blocks, and the daemon
 * exits with status 0 on SIGTERM. */
void test_exits_cleanly(void **state);

#endif /* AR_TESTS_BADINPUT_HARNESS_H */
