/*
 * stdio_fds.c: keeping descriptors 0, 1 and 2 for standard input, output
 * and error. A program started with one of them closed (`>&-`) would get
 * that number back from its next socket() or recvmsg(), and whatever it
 * then prints would go into that descriptor: into the daemon's connection,
 * or into a shared segment's memfd, at its start. So the programs fill the
 * closed ones with /dev/null first (ar_stdio_fill), and the client library,
 * which does not own its caller's standard streams, moves a descriptor it
 * is given below 3 out of their way (ar_fd_above_stdio).
 */
#include "ar/util.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

int ar_stdio_fill(bool discard_output) {
  for (int fd = 0; fd <= 2; fd++) {
    if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
      continue;
    /* Output opened read-only fails on the first write (EBADF), so that a
     * program that checks its output says it could not write it. */
    int got = open("/dev/null", fd > 0 && discard_output ? O_WRONLY : O_RDONLY);
    if (got < 0)
      return -1;
    /* got is fd, the lowest number free, the lower ones being open by
     * now, unless another thread took fd meanwhile: then fd is not free
     * any more either. */
    if (got != fd)
      close(got);
  }
  return 0;
}

int ar_fd_above_stdio(int fd) {
  if (fd < 0 || fd > 2)
    return fd;
  int moved = fcntl(fd, F_DUPFD_CLOEXEC, 3);
  int saved = errno;
  close(fd);
  errno = saved;
  return moved;
}
