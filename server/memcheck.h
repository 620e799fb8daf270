/*
 * memcheck.h: how much memory the daemon can still fill with shared pages,
 * asked before an arena is reserved. fallocate on a memfd reserves the
 * pages one by one; under the kernel's default overcommit policy nothing
 * refuses a reservation that is too large as a whole, and the pages run
 * out half way, which ends with the OOM killer (in a container, the
 * cgroup's) rather than an error. Checking first turns that into a clear
 * start-up error. The figure is an estimate: the kernel decides in the end,
 * so a margin is kept back (ad_mem_margin).
 *
 * Where the figure comes from:
 *   - /proc/meminfo: MemAvailable + SwapFree (shmem can be swapped out);
 *   - the memory cgroup of the process, found through /proc/self/cgroup
 *     and /proc/self/mountinfo (v2 wherever cgroup2 is mounted, v1 through
 *     the "memory" controller's mount): the smallest headroom
 *     (limit - usage + reclaimable file cache) of the cgroup and its
 *     ancestors (v2), or the hierarchical limit (v1);
 *   - sysinfo(2), for the live system only: MemTotal + SwapTotal bound the
 *     figure whatever the files say, and stand in when none can be read,
 *     so that the estimate is never "unknown" and an arena larger than the
 *     machine is always refused.
 *
 * The parsers work on text and are exposed for the unit tests, which feed
 * them sample files; ad_memory_available_at reads the files under another
 * root directory, for the same reason. Nothing here keeps state.
 */
#ifndef AD_MEMCHECK_H
#define AD_MEMCHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* "Nothing known": a figure that bounds nothing. */
#define AD_MEM_UNKNOWN UINT64_MAX

/* The margin kept back: 1/16 of the figure, at most this. */
#define AD_MEM_MARGIN_MAX ((uint64_t)256 << 20)

/* The estimate and where it comes from. */
typedef struct ad_memavail_s {
  uint64_t bytes;    /* memory new shared pages may take, before the margin;
                        AD_MEM_UNKNOWN only from ad_memory_available_at */
  char source[256];  /* what bounds `bytes`, for messages, e.g.
                        "MemAvailable 22.9G + SwapFree 0" */
} ad_memavail_t;

/* The live system's estimate (files under "/", then sysinfo). */
void ad_memory_available(ad_memavail_t *out);

/* The estimate from the files under `root` ("" for "/") alone: bytes is
 * AD_MEM_UNKNOWN when none of them can be read. */
void ad_memory_available_at(const char *root, ad_memavail_t *out);

/* The margin kept back from an estimate of `avail` bytes. */
uint64_t ad_mem_margin(uint64_t avail);

/*
 * Whether `size` bytes fit in m, margin kept. Returns 0; or AR_ENOMEM with
 * a sentence in err (errlen bytes) giving the size, what is available and
 * where that figure comes from (the caller names the arena).
 */
int ad_memcheck_fit(uint64_t size, const ad_memavail_t *m, char *err,
                    size_t errlen);

/* ---- Parsers (pure; for the unit tests) -------------------------------- */

/* The value of `key` in a "key value" or "key: value kB" text such as
 * memory.stat or /proc/meminfo, in bytes ("kB" multiplies by 1024). The
 * key must be the whole first word of its line. AD_MEM_UNKNOWN when it is
 * absent or its value is not a number. */
uint64_t ad_mem_key(const char *text, const char *key);

/* A cgroup limit file's value: the number on its first line, or
 * AD_MEM_UNKNOWN for "max", an empty or unreadable text, and for the
 * "no limit" values of v1 (anything at or above 2^62). */
uint64_t ad_mem_limit(const char *text);

/* The cgroup path of the process for `controller` in a /proc/self/cgroup
 * text: the "0::PATH" line for "" (cgroup v2), else the line whose
 * controller list holds it ("4:memory:/PATH"). Returns false when there is
 * none or it does not fit in len bytes. */
bool ad_mem_cgroup_path(const char *text, const char *controller, char *out,
                        size_t len);

/* Where the hierarchy of `controller` ("" for cgroup2) is mounted, from a
 * /proc/self/mountinfo text: the mount point (octal escapes decoded) and
 * the cgroup path its root shows. Returns false when it is not mounted. */
bool ad_mem_cgroup_mount(const char *mountinfo, const char *controller,
                         char *mnt, size_t mlen, char *root, size_t rlen);

/* Headroom under a cgroup limit: limit - (usage - reclaimable cache), the
 * cache being file - shmem (both from memory.stat; shmem is file cache
 * that cannot be dropped). AD_MEM_UNKNOWN when the limit or the usage is
 * unknown; 0 when the usage is over the limit. */
uint64_t ad_mem_headroom(uint64_t limit, uint64_t usage, uint64_t file,
                         uint64_t shmem);

/* A size for people: "64M", "1.5G", "4096" (plain bytes under 1K). Writes
 * to buf (len bytes) and returns it. */
const char *ad_mem_human(char *buf, size_t len, uint64_t bytes);

#endif /* AD_MEMCHECK_H */
