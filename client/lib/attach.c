/*
 * attach.c: attaching an arena, which is the one request whose reply
 * carries a descriptor (the arena's memfd, SCM_RIGHTS), and the handle's
 * table of mappings. The descriptor is checked before it is mapped: exactly
 * one must come, and the file must be at least as large as the size the
 * reply announces, since a mapping past the end of the file would turn a
 * later access into SIGBUS rather than an error here.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

arenad__map_t *arenad__map_find(const arenad_t *h, const char *name) {
  if (h == NULL || name == NULL)
    return NULL;
  for (size_t i = 0; i < h->nmaps; i++)
    if (strcmp(h->maps[i].name, name) == 0)
      return &h->maps[i];
  return NULL;
}

uint64_t arenad__map_size(const arenad_t *h, const char *name) {
  const arenad__map_t *m = arenad__map_find(h, name);
  return m != NULL ? m->size : 0;
}

static void map_release(arenad__map_t *m) {
  munmap(m->base, (size_t)m->size);
  close(m->fd);
  free(m->name);
}

void arenad__maps_destroy(arenad_t *h) {
  for (size_t i = 0; i < h->nmaps; i++)
    map_release(&h->maps[i]);
  free(h->maps);
  h->maps = NULL;
  h->nmaps = 0;
}

static void fill_map(const arenad__map_t *m, arenad_map_t *out) {
  if (out == NULL)
    return;
  out->base = m->base;
  out->size = m->size;
  out->policy = m->policy;
  out->read_only = m->read_only;
}

/* Maps fd (size bytes) and adds it to h's table. Takes fd in every case. */
static int add_map(arenad_t *h, const char *name, int fd, uint64_t size,
                   arenad_policy_t policy, bool read_only, arenad_map_t *out) {
  struct stat st;
  if (fstat(fd, &st) < 0) {
    close(fd);
    return arenad__fail(h, AR_EIO, "fstat of the segment of %s: %s", name,
                        strerror(errno));
  }
  if (size == 0 || size > SIZE_MAX || st.st_size < 0 ||
      (uint64_t)st.st_size < size) {
    close(fd);
    return arenad__break(h, AR_EPROTO,
                         "the segment of %s has %lld bytes, the reply "
                         "announces %llu",
                         name, (long long)st.st_size,
                         (unsigned long long)size);
  }

  arenad__map_t *maps = realloc(h->maps, (h->nmaps + 1) * sizeof *maps);
  char *copy = strdup(name);
  if (maps != NULL)
    h->maps = maps;
  if (maps == NULL || copy == NULL) {
    free(copy);
    close(fd);
    return arenad__fail(h, AR_EINTERNAL, "no memory to attach %s", name);
  }

  int prot = PROT_READ | (read_only ? 0 : PROT_WRITE);
  void *base = mmap(NULL, (size_t)size, prot, MAP_SHARED, fd, 0);
  if (base == MAP_FAILED) {
    int e = errno;
    free(copy);
    close(fd);
    return arenad__fail(h, AR_EIO, "mapping %llu bytes of %s%s: %s",
                        (unsigned long long)size, name,
                        read_only ? " read-only" : "", strerror(e));
  }
  arenad__map_t *m = &h->maps[h->nmaps++];
  m->name = copy;
  m->base = base;
  m->size = size;
  m->fd = fd;
  m->policy = policy;
  m->read_only = read_only;
  fill_map(m, out);
  return 0;
}

int arenad_attach(arenad_t *h, const char *name, unsigned flags,
                  arenad_map_t *out) {
  int rc = arenad__check_name(h, name);
  if (rc < 0)
    return rc;
  bool want_ro = (flags & ARENAD_ATTACH_READ_ONLY) != 0;
  rc = arenad__can_call(h); /* as arenad__call, also for a mapping kept */
  if (rc < 0)
    return rc;
  const arenad__map_t *m = arenad__map_find(h, name);
  if (m != NULL) {
    if (m->read_only && !want_ro)
      return arenad__fail(h, AR_EINVAL,
                          "%s is attached read-only: detach it first", name);
    fill_map(m, out);
    return 0;
  }

  Arenad__AttachRequest body = ARENAD__ATTACH_REQUEST__INIT;
  body.arena = (char *)name;
  body.read_only = want_ro;
  Arenad__Request req = ARENAD__REQUEST__INIT;
  req.body_case = ARENAD__REQUEST__BODY_ATTACH;
  req.attach = &body;

  Arenad__Response *r;
  rc = arenad__call(h, &req, true, &r);
  if (r == NULL)
    return rc;
  if (rc < 0) {
    arenad__response_free(h, r);
    if (h->nfds > 0 || h->fds_lost)
      return arenad__break(h, AR_EPROTO,
                           "the daemon passed a descriptor with an error "
                           "reply to attach");
    return rc;
  }
  if (h->nfds == 0 && h->fds_lost) {
    /* The whole reply came, so the connection is still in step: the
     * kernel could not install the descriptor, which (with none of the
     * others that a truncation would leave) means this process has no
     * descriptor to spare. The daemon keeps counting the arena as
     * attached; attaching again once one is free is the way on. */
    h->fds_lost = false;
    arenad__response_free(h, r);
    return arenad__fail(h, AR_ELIMIT,
                        "the descriptor of %s was lost on the way in: this "
                        "process has no file descriptor to spare (EMFILE "
                        "or ENFILE); close one and attach again",
                        name);
  }
  if (h->nfds != 1 || h->fds_lost) {
    size_t n = h->nfds;
    bool lost = h->fds_lost;
    arenad__response_free(h, r);
    if (n == 0 && !lost)
      return arenad__break(h, AR_EPROTO,
                           "the attach reply for %s came without a "
                           "descriptor",
                           name);
    return arenad__break(h, AR_EPROTO,
                         "the attach reply for %s came with %s%zu "
                         "descriptors, not one",
                         name, lost ? "more than " : "", n);
  }
  int fd = h->fds[0];
  h->nfds = 0;
  uint64_t size = r->attach->size;
  arenad_policy_t policy = arenad__policy(r->attach->policy);
  bool ro = want_ro || r->attach->read_only;
  arenad__response_free(h, r);
  return add_map(h, name, fd, size, policy, ro, out);
}

int arenad_detach(arenad_t *h, const char *name) {
  if (h == NULL) /* local only: no request to refuse it on the way */
    return AR_EINVAL;
  arenad__map_t *m = arenad__map_find(h, name);
  if (m == NULL)
    return arenad__fail(h, AR_ENOENT, "%s is not attached",
                        name != NULL ? name : "(null)");
  map_release(m);
  *m = h->maps[--h->nmaps];
  return 0;
}

void *arenad_ptr(const arenad_t *h, const char *name, uint64_t offset) {
  const arenad__map_t *m = arenad__map_find(h, name);
  if (m == NULL || offset >= m->size)
    return NULL;
  return (char *)m->base + offset;
}
