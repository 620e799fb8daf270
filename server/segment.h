/*
 * segment.h: the shared memory of one arena: a memfd, sized, reserved with
 * fallocate (so that a lack of memory or shm is an error at creation, never
 * a SIGBUS in a client later), sealed so that it can neither shrink nor
 * grow nor be sealed further by a client that receives it, and mapped
 * MAP_SHARED read-write in the daemon for the engine's block headers.
 *
 * Read-only attaches get a second descriptor of the same memory, opened
 * O_RDONLY through /proc/self/fd: a writable shared mapping of it fails
 * with EACCES, and so does mprotect to PROT_WRITE of a mapping made from
 * it. The memfd's own mode is set to 0600 first, so that a client of
 * another uid cannot open /proc/self/fd/N of its read-only descriptor
 * again for writing. (A client running as the daemon's uid, or as root,
 * can: it could read the daemon's memory anyway. Read-only is then a
 * guard against mistakes, not against that client.)
 *
 * The daemon never trusts the segment's bytes: any client that attached
 * may write them at any time. Only the engine reads them, to report
 * overwritten headers. A client with a writable descriptor may also give
 * pages back (fallocate with FALLOC_FL_PUNCH_HOLE; only the seals that
 * forbid writing, F_SEAL_WRITE and F_SEAL_FUTURE_WRITE, would forbid it):
 * they then read as zeros and are taken again, outside the reservation,
 * when someone writes them, the daemon included (a block's header). The
 * reservation makes a lack of memory an error at creation; it cannot hold
 * such a client to it.
 */
#ifndef AD_SEGMENT_H
#define AD_SEGMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The words of every message that says the daemon is out of descriptors
 * (ad_segment_create's err, the attach refusal in dispatch_arena.c): one
 * string, so that a client or a test can look for it in either. */
#define AD_SEGMENT_NO_FD "the daemon has no file descriptor to spare"

typedef struct ad_segment_s {
  int fd;         /* the memfd, close-on-exec; -1 when none */
  int ro_fd;      /* the same file opened read-only; -1 when none */
  void *base;     /* the daemon's mapping of `size` bytes, or NULL */
  uint64_t size;  /* bytes */
} ad_segment_t;

/*
 * Creates, reserves, seals and maps a segment of `size` bytes (a multiple
 * of the page size) named "arenad:NAME" (as /proc/PID/fd shows it), and
 * opens its read-only descriptor. The
 * memory check (memcheck.h) comes first: a size that does not fit in the
 * memory available is refused before anything is created or reserved.
 * Returns 0; AR_ENOMEM when the size does not fit, or when fallocate says
 * ENOSPC or ENOMEM all the same; AR_ELIMIT when the size is over the
 * process's file size limit (ad_segment_over_file_limit: checked after
 * the memory, before anything is created), or when it has no descriptor
 * to spare for the memfd or the read-only one (EMFILE, ENFILE);
 * AR_EINTERNAL for any other failure. On an
 * error err (errlen bytes) says what failed and why, with the size and the
 * memory figure (the caller names the arena), and nothing is left behind.
 */
int ad_segment_create(ad_segment_t *s, const char *name, uint64_t size,
                      char *err, size_t errlen);

/* Whether a segment of `size` bytes is over the process's file size limit
 * (RLIMIT_FSIZE, ulimit -f), which a memfd obeys like any file; the limit
 * in *limit then, unless limit is NULL. */
bool ad_segment_over_file_limit(uint64_t size, uint64_t *limit);

/* A duplicate of the segment's descriptor (the read-only one when
 * read_only), close-on-exec, for a client: owned by the caller. Returns
 * it; AR_ELIMIT when the process has no descriptor to spare (EMFILE,
 * ENFILE), as ad_segment_create; AR_EINTERNAL for any other failure. */
int ad_segment_dup(const ad_segment_t *s, bool read_only);

/* Unmaps and closes the segment (clients keep their own mappings and
 * descriptors). Safe on a segment that failed to be created. */
void ad_segment_destroy(ad_segment_t *s);

#endif /* AD_SEGMENT_H */
