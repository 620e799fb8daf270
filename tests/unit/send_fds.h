/*
 * send_fds.h: one write to a Unix socket with descriptors attached
 * (SCM_RIGHTS), for the tests that play the daemon to the client library:
 * the test_client_* tests' fake_daemon.c (which asserts on the result) and
 * fuzz_client (which cannot link cmocka and takes a short or failed send
 * as the stream's loss).
 * Header only.
 */
#ifndef AR_TESTS_SEND_FDS_H
#define AR_TESTS_SEND_FDS_H

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>

#define SEND_FDS_MAX 8 /* descriptors one call may attach */

/* Sends p[0..n) on sock, with fds[0..nfds) (none when nfds is 0) on its
 * first byte; flags as sendmsg's. Returns sendmsg's result, or -1 with
 * errno EINVAL for more than SEND_FDS_MAX descriptors. The caller keeps
 * its copies of fds. */
static inline ssize_t send_with_fds(int sock, const void *p, size_t n,
                                    const int *fds, size_t nfds, int flags) {
  if (nfds > SEND_FDS_MAX) {
    errno = EINVAL;
    return -1;
  }
  struct iovec iov = {.iov_base = (void *)p, .iov_len = n};
  union {
    struct cmsghdr align;
    char buf[CMSG_SPACE(sizeof(int) * SEND_FDS_MAX)];
  } cm;
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
  if (nfds > 0) {
    memset(&cm, 0, sizeof cm);
    msg.msg_control = cm.buf;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
    memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
  }
  return sendmsg(sock, &msg, flags);
}

#endif /* AR_TESTS_SEND_FDS_H */
