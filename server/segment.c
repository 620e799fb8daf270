/*
 * segment.c: one arena's memfd, from creation to mapping, and the
 * duplicates of its descriptors that attaches hand out (see segment.h).
 * First the memory is checked to be there (memcheck.h: a reservation too
 * large ends with the OOM killer, not an error). The order matters: the
 * size is set and reserved before the seals that forbid changing it, and
 * F_SEAL_SEAL comes last, in the same call, so that no client can add
 * F_SEAL_WRITE or F_SEAL_FUTURE_WRITE and lock the others out of writing.
 */
#include "segment.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ar/error.h"
#include "ar/errorf.h"
#include "memcheck.h"

/* memfd_create's flag for a segment that can never be made executable
 * (Linux 6.3; newer than Debian 12's headers). Without it a kernel with
 * vm.memfd_noexec = 2 refuses the memfd, and others log a warning. */
#ifdef MFD_NOEXEC_SEAL
#define AD_MFD_NOEXEC_SEAL MFD_NOEXEC_SEAL
#else
#define AD_MFD_NOEXEC_SEAL 0x0008U
#endif

/* Whether errno e says the process has no descriptor to spare: a limit of
 * the moment (AR_ELIMIT), not a failure, for a segment made and for a
 * duplicate of one. */
static bool no_fd_to_spare(int e) { return e == EMFILE || e == ENFILE; }

bool ad_segment_over_file_limit(uint64_t size, uint64_t *limit) {
  struct rlimit r;
  if (getrlimit(RLIMIT_FSIZE, &r) != 0 || r.rlim_cur == RLIM_INFINITY ||
      size <= r.rlim_cur)
    return false;
  if (limit != NULL)
    *limit = r.rlim_cur;
  return true;
}

/* Reserves every page of the file. shmem's fallocate stops early with
 * EINTR when a signal comes; it is simply asked again. */
static int reserve(int fd, uint64_t size) {
  int rc;
  do
    rc = fallocate(fd, 0, 0, (off_t)size);
  while (rc < 0 && errno == EINTR);
  return rc;
}

/* Says why reserving size bytes failed with errno e, against the estimate
 * in *avail that let it be tried. Returns AR_ENOMEM when memory ran out,
 * else AR_EINTERNAL. */
static int reserve_failed(int e, uint64_t size, const ad_memavail_t *avail,
                          char *err, size_t errlen) {
  char h[32];
  ad_mem_human(h, sizeof(h), size);
  if (e == ENOSPC || e == ENOMEM)
    return ar_errorf(err, errlen, AR_ENOMEM,
                     "cannot reserve %s (%llu bytes) of shared memory: "
                     "fallocate: %s; the machine (or the memory cgroup) has "
                     "less memory left than the estimate said (%s)",
                     h, (unsigned long long)size, strerror(e), avail->source);
  return ar_errorf(err, errlen, AR_EINTERNAL,
                   "cannot reserve %s (%llu bytes) of shared memory: "
                   "fallocate: %s%s",
                   h, (unsigned long long)size, strerror(e),
                   e == EFBIG ? " (the file size limit, ulimit -f, is lower)"
                              : "");
}

int ad_segment_create(ad_segment_t *s, const char *name, uint64_t size,
                      char *err, size_t errlen) {
  char memfd_name[96];
  const char *step;

  s->fd = -1;
  s->ro_fd = -1;
  s->base = NULL;
  s->size = size;

  /* Never ask fallocate for what is not there (see memcheck.h). */
  ad_memavail_t avail;
  ad_memory_available(&avail);
  int rc = ad_memcheck_fit(size, &avail, err, errlen);
  if (rc < 0)
    return rc;
  uint64_t limit;
  if (ad_segment_over_file_limit(size, &limit)) {
    snprintf(err, errlen,
             "%llu bytes is over the daemon's file size limit (ulimit -f: "
             "%llu bytes), which shared memory obeys too",
             (unsigned long long)size, (unsigned long long)limit);
    return AR_ELIMIT;
  }

  rc = AR_EINTERNAL;
  snprintf(memfd_name, sizeof(memfd_name), "arenad:%s", name);
  step = "memfd_create";
  s->fd = memfd_create(memfd_name, MFD_CLOEXEC | MFD_ALLOW_SEALING |
                                       AD_MFD_NOEXEC_SEAL);
  if (s->fd < 0 && errno == EINVAL) /* a kernel before 6.3 */
    s->fd = memfd_create(memfd_name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (s->fd < 0)
    goto fail;
  /* Before any descriptor leaves: no one else may reopen it (segment.h). */
  step = "fchmod";
  if (fchmod(s->fd, 0600) < 0)
    goto fail;
  step = "ftruncate";
  if (ftruncate(s->fd, (off_t)size) < 0)
    goto fail;
  if (reserve(s->fd, size) < 0) {
    rc = reserve_failed(errno, size, &avail, err, errlen);
    ad_segment_destroy(s);
    return rc;
  }
  step = "sealing";
  if (fcntl(s->fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
    goto fail;
  step = "mmap";
  s->base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, s->fd, 0);
  if (s->base == MAP_FAILED) {
    s->base = NULL;
    goto fail;
  }
  /* Client data has no business in the daemon's core dumps. */
  (void)madvise(s->base, size, MADV_DONTDUMP);

  /* A new open file description, read-only, of the same memory. */
  char path[64];
  snprintf(path, sizeof(path), "/proc/self/fd/%d", s->fd);
  step = "opening /proc/self/fd/N read-only";
  s->ro_fd = open(path, O_RDONLY | O_CLOEXEC);
  if (s->ro_fd < 0)
    goto fail;
  return 0;

fail:;
  int e = errno;
  /* Only memfd_create and the read-only open make descriptors. */
  if (no_fd_to_spare(e))
    rc = AR_ELIMIT;
  snprintf(err, errlen, "%s of %llu bytes failed: %s%s", step,
           (unsigned long long)size, strerror(e),
           e == EFBIG        ? " (the file size limit, ulimit -f, is lower)"
           : rc == AR_ELIMIT ? "; " AD_SEGMENT_NO_FD ": try again later"
                             : "");
  ad_segment_destroy(s);
  return rc;
}

void ad_segment_destroy(ad_segment_t *s) {
  if (s->base != NULL)
    munmap(s->base, s->size);
  if (s->fd >= 0)
    close(s->fd);
  if (s->ro_fd >= 0)
    close(s->ro_fd);
  s->base = NULL;
  s->fd = s->ro_fd = -1;
}

int ad_segment_dup(const ad_segment_t *s, bool read_only) {
  int fd = fcntl(read_only ? s->ro_fd : s->fd, F_DUPFD_CLOEXEC, 0);
  if (fd >= 0)
    return fd;
  return no_fd_to_spare(errno) ? AR_ELIMIT : AR_EINTERNAL;
}
