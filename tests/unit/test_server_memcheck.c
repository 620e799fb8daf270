/*
 * test_server_memcheck.c: the memory check that runs before an arena is
 * reserved (server/memcheck.c, server/segment.c). The parsers and the
 * arithmetic on sample /proc/meminfo, /proc/self/cgroup, mountinfo and
 * cgroup files (strings, and trees of them in a temporary directory, never
 * the live machine's figures); the decision and its message; and the
 * segment's use of it, with fallocate wrapped (-Wl,--wrap=fallocate): an
 * arena that does not fit is refused before fallocate is called, and
 * fallocate's own ENOSPC and ENOMEM are clear errors. The wrapper lets
 * through only small reservations, so this test can never reserve much.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ar/error.h"
#include "config.h"
#include "daemon.h"
#include "log.h"
#include "memcheck.h"
#include "segment.h"

#define KiB ((uint64_t)1 << 10)
#define MiB ((uint64_t)1 << 20)
#define GiB ((uint64_t)1 << 30)
#define TiB ((uint64_t)1 << 40)

/* ---- fallocate, wrapped ------------------------------------------------- */

int __real_fallocate(int fd, int mode, off_t off, off_t len);
int __wrap_fallocate(int fd, int mode, off_t off, off_t len);

static int fallocate_calls;
static int fallocate_errno; /* fail with this when not 0 */

/* Only small reservations reach the kernel. */
#define REAL_FALLOCATE_MAX (4 * MiB)

int __wrap_fallocate(int fd, int mode, off_t off, off_t len) {
  fallocate_calls++;
  if (fallocate_errno != 0) {
    errno = fallocate_errno;
    return -1;
  }
  if ((uint64_t)off + (uint64_t)len > REAL_FALLOCATE_MAX) {
    errno = EFBIG;
    return -1;
  }
  return __real_fallocate(fd, mode, off, len);
}

/* ---- Parsers ------------------------------------------------------------ */

static const char meminfo[] = "MemTotal:       24683620 kB\n"
                              "MemFree:        23000000 kB\n"
                              "MemAvailable:   24146776 kB\n"
                              "Buffers:           12345 kB\n"
                              "SwapTotal:       2097148 kB\n"
                              "SwapFree:        1048576 kB\n"
                              "Shmem:             74488 kB\n"
                              "HugePages_Total:       0\n";

static void test_key(void **state) {
  (void)state;
  assert_int_equal(ad_mem_key(meminfo, "MemAvailable"), 24146776 * KiB);
  assert_int_equal(ad_mem_key(meminfo, "SwapFree"), GiB);
  assert_int_equal(ad_mem_key(meminfo, "HugePages_Total"), 0);
  /* The whole first word only: "Mem" is no key, nor is "MemAvail". */
  assert_int_equal(ad_mem_key(meminfo, "Mem"), AD_MEM_UNKNOWN);
  assert_int_equal(ad_mem_key(meminfo, "MemAvail"), AD_MEM_UNKNOWN);
  assert_int_equal(ad_mem_key(meminfo, "Cached"), AD_MEM_UNKNOWN);
  assert_int_equal(ad_mem_key(NULL, "MemAvailable"), AD_MEM_UNKNOWN);
  assert_int_equal(ad_mem_key("", "MemAvailable"), AD_MEM_UNKNOWN);
  assert_int_equal(ad_mem_key("MemAvailable: lots kB\n", "MemAvailable"),
                   AD_MEM_UNKNOWN);
  /* A value that overflows in bytes is no value. */
  assert_int_equal(ad_mem_key("MemAvailable: 18446744073709551615 kB\n",
                              "MemAvailable"),
                   AD_MEM_UNKNOWN);
  assert_int_equal(ad_mem_key("MemAvailable: 99999999999999999999 kB\n",
                              "MemAvailable"),
                   AD_MEM_UNKNOWN);
  /* memory.stat: "key value" in bytes; the last line may lack its \n. */
  static const char stat[] = "anon 1000\nfile 5000\nfile_mapped 7\nshmem 300";
  assert_int_equal(ad_mem_key(stat, "file"), 5000);
  assert_int_equal(ad_mem_key(stat, "shmem"), 300);
  assert_int_equal(ad_mem_key(stat, "anon"), 1000);
  /* A longer key that starts with this one, first: not this key. */
  assert_int_equal(ad_mem_key("file_mapped 7\nfile 5000\n", "file"), 5000);
}

static void test_limit(void **state) {
  (void)state;
  assert_int_equal(ad_mem_limit("536870912\n"), 512 * MiB);
  assert_int_equal(ad_mem_limit("max\n"), AD_MEM_UNKNOWN);
  assert_int_equal(ad_mem_limit(""), AD_MEM_UNKNOWN);
  assert_int_equal(ad_mem_limit(NULL), AD_MEM_UNKNOWN);
  assert_int_equal(ad_mem_limit("-1\n"), AD_MEM_UNKNOWN);
  /* cgroup v1's "no limit". */
  assert_int_equal(ad_mem_limit("9223372036854771712\n"), AD_MEM_UNKNOWN);
  assert_int_equal(ad_mem_limit("0\n"), 0);
  /* 2^62 and above is "no limit", below it a limit. */
  assert_int_equal(ad_mem_limit("4611686018427387904\n"), AD_MEM_UNKNOWN);
  assert_int_equal(ad_mem_limit("4611686018427387903\n"),
                   ((uint64_t)1 << 62) - 1);
}

static const char cgroup_hybrid[] =
    "9:name=systemd:/\n"
    "4:memory:/process_api/3ee5\n"
    "2:cpu,cpuacct:/x\n"
    "0::/\n";
static const char cgroup_v2[] = "0::/system.slice/arenad.service\n";

static void test_cgroup_path(void **state) {
  (void)state;
  char p[64];
  assert_true(ad_mem_cgroup_path(cgroup_hybrid, "memory", p, sizeof(p)));
  assert_string_equal(p, "/process_api/3ee5");
  assert_true(ad_mem_cgroup_path(cgroup_hybrid, "", p, sizeof(p)));
  assert_string_equal(p, "/");
  assert_true(ad_mem_cgroup_path(cgroup_hybrid, "cpuacct", p, sizeof(p)));
  assert_string_equal(p, "/x");
  assert_false(ad_mem_cgroup_path(cgroup_hybrid, "mem", p, sizeof(p)));
  assert_true(ad_mem_cgroup_path(cgroup_v2, "", p, sizeof(p)));
  assert_string_equal(p, "/system.slice/arenad.service");
  assert_false(ad_mem_cgroup_path(cgroup_v2, "memory", p, sizeof(p)));
  assert_false(ad_mem_cgroup_path(cgroup_v2, "", p, 8)); /* too long */
  /* "/x" and its NUL need 3 bytes */
  assert_false(ad_mem_cgroup_path(cgroup_hybrid, "cpuacct", p, 2));
  assert_true(ad_mem_cgroup_path(cgroup_hybrid, "cpuacct", p, 3));
  assert_string_equal(p, "/x");
  assert_false(ad_mem_cgroup_path(NULL, "", p, sizeof(p)));
  assert_false(ad_mem_cgroup_path("garbage\n", "", p, sizeof(p)));
}

static const char mountinfo_hybrid[] =
    "22 1 0:21 / /sys rw - sysfs sysfs rw\n"
    "30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "31 30 0:28 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
    "34 30 0:31 / /sys/fs/cgroup/memory rw,relatime shared:9 - cgroup "
    "cgroup rw,memory\n"
    "40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";

static void test_cgroup_mount(void **state) {
  (void)state;
  char m[64], r[64];
  assert_true(ad_mem_cgroup_mount(mountinfo_hybrid, "memory", m, sizeof(m),
                                  r, sizeof(r)));
  assert_string_equal(m, "/sys/fs/cgroup/memory");
  assert_string_equal(r, "/");
  assert_true(ad_mem_cgroup_mount(mountinfo_hybrid, "", m, sizeof(m), r,
                                  sizeof(r)));
  assert_string_equal(m, "/sys/fs/cgroup/unified");
  assert_false(ad_mem_cgroup_mount(mountinfo_hybrid, "pids", m, sizeof(m), r,
                                   sizeof(r)));
  /* A container's bind mount of its own cgroup, a space in the path. */
  static const char docker[] =
      "500 400 0:40 /docker/abc /sys/fs/cgroup\\040x ro,nosuid - cgroup2 "
      "cgroup2 rw,nsdelegate\n";
  assert_true(ad_mem_cgroup_mount(docker, "", m, sizeof(m), r, sizeof(r)));
  assert_string_equal(m, "/sys/fs/cgroup x");
  assert_string_equal(r, "/docker/abc");
  /* Lines cut short or without the separator are skipped. */
  assert_false(ad_mem_cgroup_mount("1 2 3\n4 5 6 / /x rw cgroup2\n", "", m,
                                   sizeof(m), r, sizeof(r)));
  assert_false(ad_mem_cgroup_mount(NULL, "", m, sizeof(m), r, sizeof(r)));

  /* A field is at most 511 bytes (PATH_BYTES with its NUL); a line with
   * a longer one is skipped. */
  char line[1024], big[1024], br[64];
  char point[513];
  memset(point, 'p', sizeof(point));
  point[0] = '/';
  for (size_t n = 511; n <= 512; n++) {
    point[n] = '\0';
    snprintf(line, sizeof(line), "40 30 0:37 / %s rw - cgroup2 cgroup2 rw\n",
             point);
    bool found =
        ad_mem_cgroup_mount(line, "", big, sizeof(big), br, sizeof(br));
    assert_int_equal(found, n == 511);
    if (found)
      assert_string_equal(big, point);
    point[n] = 'p';
  }
}

static void test_headroom(void **state) {
  (void)state;
  /* 1G limit, 600M used of which 200M file cache (50M of it shmem, which
   * cannot be dropped): 1G - (600M - 150M) = 574M. */
  assert_int_equal(ad_mem_headroom(GiB, 600 * MiB, 200 * MiB, 50 * MiB),
                   GiB - 450 * MiB);
  assert_int_equal(ad_mem_headroom(GiB, 600 * MiB, AD_MEM_UNKNOWN,
                                   AD_MEM_UNKNOWN),
                   GiB - 600 * MiB);
  /* file without shmem: not known to be reclaimable, not counted. */
  assert_int_equal(ad_mem_headroom(GiB, 600 * MiB, 200 * MiB, AD_MEM_UNKNOWN),
                   GiB - 600 * MiB);
  assert_int_equal(ad_mem_headroom(GiB, 2 * GiB, 0, 0), 0); /* over */
  assert_int_equal(ad_mem_headroom(GiB, 10, 100, 0), GiB);   /* cache > use */
  assert_int_equal(ad_mem_headroom(AD_MEM_UNKNOWN, 10, 0, 0), AD_MEM_UNKNOWN);
  assert_int_equal(ad_mem_headroom(GiB, AD_MEM_UNKNOWN, 0, 0), AD_MEM_UNKNOWN);
}

static void test_human_and_margin(void **state) {
  (void)state;
  char b[32];
  assert_string_equal(ad_mem_human(b, sizeof(b), 0), "0");
  assert_string_equal(ad_mem_human(b, sizeof(b), 1023), "1023");
  assert_string_equal(ad_mem_human(b, sizeof(b), 4 * KiB), "4K");
  assert_string_equal(ad_mem_human(b, sizeof(b), 64 * MiB), "64M");
  assert_string_equal(ad_mem_human(b, sizeof(b), 3 * GiB / 2), "1.5G");
  assert_string_equal(ad_mem_human(b, sizeof(b), TiB), "1T");
  assert_string_equal(ad_mem_human(b, sizeof(b), UINT64_MAX), "16.0E");

  assert_int_equal(ad_mem_margin(0), 0);
  assert_int_equal(ad_mem_margin(160 * MiB), 10 * MiB);
  assert_int_equal(ad_mem_margin(4 * GiB), 256 * MiB);
  assert_int_equal(ad_mem_margin(100 * GiB), AD_MEM_MARGIN_MAX);
}

static void test_fit(void **state) {
  (void)state;
  ad_memavail_t m = {.bytes = 16 * GiB};
  snprintf(m.source, sizeof(m.source), "MemAvailable 16G + SwapFree 0");
  char err[512] = "";
  /* 16G less a 256M margin: 15.75G. */
  assert_int_equal(ad_memcheck_fit(64 * MiB, &m, err, sizeof(err)), 0);
  assert_int_equal(ad_memcheck_fit(16 * GiB - 256 * MiB, &m, err,
                                   sizeof(err)),
                   0);
  assert_int_equal(ad_memcheck_fit(16 * GiB - 256 * MiB + 4096, &m, err,
                                   sizeof(err)),
                   AR_ENOMEM);
  assert_int_equal(ad_memcheck_fit(TiB, &m, err, sizeof(err)), AR_ENOMEM);
  /* The size, what is available, where that comes from. */
  assert_non_null(strstr(err, "1T (1099511627776 bytes) does not fit"));
  assert_non_null(strstr(err, "15.8G can be reserved"));
  assert_non_null(strstr(err, "MemAvailable 16G + SwapFree 0"));
  assert_non_null(strstr(err, "margin of 256M"));
  assert_non_null(strstr(err, "nothing was reserved"));

  /* A small cgroup: 100M, margin 6.25M. */
  m.bytes = 100 * MiB;
  assert_int_equal(ad_memcheck_fit(64 * MiB, &m, err, sizeof(err)), 0);
  assert_int_equal(ad_memcheck_fit(96 * MiB, &m, err, sizeof(err)),
                   AR_ENOMEM);
  m.bytes = 0;
  assert_int_equal(ad_memcheck_fit(4096, &m, err, sizeof(err)), AR_ENOMEM);
  m.bytes = AD_MEM_UNKNOWN; /* nothing known: nothing refused here */
  assert_int_equal(ad_memcheck_fit(TiB, &m, err, sizeof(err)), 0);
}

/* ---- Trees of sample files ---------------------------------------------- */

static char root[64];

static void put(const char *rel, const char *text) {
  char path[256];
  snprintf(path, sizeof(path), "%s%s", root, rel);
  /* mkdir -p of the parent */
  for (char *p = path + strlen(root) + 1; *p != '\0'; p++) {
    if (*p != '/')
      continue;
    *p = '\0';
    if (mkdir(path, 0700) < 0 && errno != EEXIST)
      fail_msg("mkdir %s: %s", path, strerror(errno));
    *p = '/';
  }
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

static int tree_setup(void **state) {
  (void)state;
  snprintf(root, sizeof(root), "/tmp/arenad-memcheck-XXXXXX");
  assert_non_null(mkdtemp(root));
  return 0;
}

static int tree_teardown(void **state) {
  (void)state;
  char cmd[128];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
  assert_int_equal(system(cmd), 0);
  return 0;
}

static void test_tree_nothing(void **state) {
  (void)state;
  ad_memavail_t m;
  ad_memory_available_at(root, &m);
  assert_int_equal(m.bytes, AD_MEM_UNKNOWN);
}

static void test_tree_meminfo_only(void **state) {
  (void)state;
  put("/proc/meminfo", meminfo);
  ad_memavail_t m;
  ad_memory_available_at(root, &m);
  assert_int_equal(m.bytes, 24146776 * KiB + GiB);
  assert_non_null(strstr(m.source, "MemAvailable 23.0G + SwapFree 1G"));
}

/* A meminfo without SwapFree: MemAvailable alone, no swap counted (not an
 * unknown figure added to it, which would bound nothing). */
static void test_tree_meminfo_no_swap(void **state) {
  (void)state;
  put("/proc/meminfo", "MemTotal:  2000000 kB\nMemAvailable:  1000000 kB\n");
  ad_memavail_t m;
  ad_memory_available_at(root, &m);
  assert_int_equal(m.bytes, 1000000 * KiB);
  assert_non_null(strstr(m.source, "+ SwapFree 0"));
}

/* cgroup v2, the parent's limit tighter than the cgroup's own. */
static void test_tree_cgroup2(void **state) {
  (void)state;
  put("/proc/meminfo", meminfo);
  put("/proc/self/cgroup", "0::/box/app\n");
  put("/proc/self/mountinfo",
      "40 30 0:37 / /sys/fs/cgroup rw,relatime - cgroup2 cgroup2 rw\n");
  put("/sys/fs/cgroup/box/app/memory.max", "max\n");
  put("/sys/fs/cgroup/box/app/memory.current", "1000\n");
  put("/sys/fs/cgroup/box/app/memory.stat", "file 0\nshmem 0\n");
  put("/sys/fs/cgroup/box/memory.max", "268435456\n"); /* 256M */
  put("/sys/fs/cgroup/box/memory.current", "167772160\n"); /* 160M */
  put("/sys/fs/cgroup/box/memory.stat", "anon 1\nfile 41943040\n"
                                        "shmem 8388608\n"); /* 40M, 8M */
  ad_memavail_t m;
  ad_memory_available_at(root, &m);
  /* 256M - (160M - 32M) = 128M */
  assert_int_equal(m.bytes, 128 * MiB);
  assert_non_null(strstr(m.source, "cgroup /box: memory.max 256M"));

  /* The cgroup's own limit tighter still. */
  put("/sys/fs/cgroup/box/app/memory.max", "67108864\n"); /* 64M */
  ad_memory_available_at(root, &m);
  assert_int_equal(m.bytes, 64 * MiB - 1000);
  assert_non_null(strstr(m.source, "cgroup /box/app"));

  /* A 64M arena no longer fits, a 32M one does. */
  char err[512];
  assert_int_equal(ad_memcheck_fit(64 * MiB, &m, err, sizeof(err)),
                   AR_ENOMEM);
  assert_non_null(strstr(err, "cgroup /box/app: memory.max 64M"));
  assert_int_equal(ad_memcheck_fit(32 * MiB, &m, err, sizeof(err)), 0);

  /* The cgroup's own limit known but looser than its parent's: the
   * smallest headroom on the way up wins, not the first one known. */
  put("/sys/fs/cgroup/box/app/memory.max", "536870912\n"); /* 512M */
  ad_memory_available_at(root, &m);
  assert_int_equal(m.bytes, 128 * MiB);
  assert_non_null(strstr(m.source, "cgroup /box: memory.max 256M"));
}

/* A container that sees its own cgroup as the root of the mount (cgroup
 * namespace): the mount's root directory holds the limit. */
static void test_tree_cgroup2_namespace(void **state) {
  (void)state;
  put("/proc/meminfo", meminfo);
  put("/proc/self/cgroup", "0::/\n");
  put("/proc/self/mountinfo",
      "40 30 0:37 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n");
  put("/sys/fs/cgroup/memory.max", "134217728\n"); /* 128M */
  put("/sys/fs/cgroup/memory.current", "33554432\n"); /* 32M */
  put("/sys/fs/cgroup/memory.stat", "file 0\nshmem 0\n");
  ad_memavail_t m;
  ad_memory_available_at(root, &m);
  assert_int_equal(m.bytes, 96 * MiB);
  assert_non_null(strstr(m.source, "cgroup /:"));
}

/* A bind mount of the container's cgroup (mount root /docker/abc), the
 * process in /docker/abc/init below it. */
static void test_tree_cgroup2_bind(void **state) {
  (void)state;
  put("/proc/meminfo", meminfo);
  put("/proc/self/cgroup", "0::/docker/abc/init\n");
  put("/proc/self/mountinfo",
      "40 30 0:37 /docker/abc /sys/fs/cgroup ro - cgroup2 cgroup2 rw\n");
  put("/sys/fs/cgroup/memory.max", "209715200\n"); /* 200M */
  put("/sys/fs/cgroup/memory.current", "0\n");
  put("/sys/fs/cgroup/init/memory.max", "max\n");
  put("/sys/fs/cgroup/init/memory.current", "0\n");
  ad_memavail_t m;
  ad_memory_available_at(root, &m);
  assert_int_equal(m.bytes, 200 * MiB);

  /* Our cgroup outside what is mounted: no cgroup figure. */
  put("/proc/self/cgroup", "0::/elsewhere\n");
  ad_memory_available_at(root, &m);
  assert_int_equal(m.bytes, 24146776 * KiB + GiB);
  /* Nor in a sibling whose name begins with the mount's root: it is not
   * below /docker/abc, and "/sys/fs/cgroup" + "def" is no directory of
   * its (a file planted there is not read). */
  put("/proc/self/cgroup", "0::/docker/abcdef\n");
  put("/sys/fs/cgroupdef/memory.max", "1048576\n");
  put("/sys/fs/cgroupdef/memory.current", "0\n");
  ad_memory_available_at(root, &m);
  assert_int_equal(m.bytes, 24146776 * KiB + GiB);
}

/* cgroup v1 next to a v2 mount without the memory controller (this
 * project's CI machines look like that). */
static void test_tree_cgroup1(void **state) {
  (void)state;
  put("/proc/meminfo", meminfo);
  put("/proc/self/cgroup", cgroup_hybrid);
  put("/proc/self/mountinfo", mountinfo_hybrid);
  put("/sys/fs/cgroup/memory/process_api/3ee5/memory.stat",
      "cache 1\nhierarchical_memory_limit 1073741824\n"
      "total_cache 104857600\ntotal_shmem 4194304\n");
  put("/sys/fs/cgroup/memory/process_api/3ee5/memory.usage_in_bytes",
      "314572800\n");
  ad_memavail_t m;
  ad_memory_available_at(root, &m);
  /* 1G - (300M - 96M) */
  assert_int_equal(m.bytes, GiB - 204 * MiB);
  assert_non_null(strstr(m.source, "cgroup /process_api/3ee5: memory limit 1G"));

  /* Unlimited: meminfo decides, */
  put("/sys/fs/cgroup/memory/process_api/3ee5/memory.stat",
      "hierarchical_memory_limit 9223372036854771712\n");
  ad_memory_available_at(root, &m);
  assert_int_equal(m.bytes, 24146776 * KiB + GiB);
  /* and without meminfo nothing is known: "no limit" is no figure. */
  char path[128];
  snprintf(path, sizeof(path), "%s/proc/meminfo", root);
  assert_int_equal(unlink(path), 0);
  ad_memory_available_at(root, &m);
  assert_int_equal(m.bytes, AD_MEM_UNKNOWN);
}

/* ---- The live system and the segment ------------------------------------ */

static void test_live_estimate(void **state) {
  (void)state;
  ad_memavail_t m;
  ad_memory_available(&m);
  /* Never unknown, never more than a machine could have, and a terabyte
   * never fits (this test is not meant for such machines). */
  assert_true(m.bytes != AD_MEM_UNKNOWN);
  assert_true(m.bytes > 0);
  assert_true(m.bytes < TiB);
  assert_string_not_equal(m.source, "");
  char err[512];
  assert_int_equal(ad_memcheck_fit(TiB, &m, err, sizeof(err)), AR_ENOMEM);
}

static void test_segment_refused_before_fallocate(void **state) {
  (void)state;
  ad_segment_t s;
  char err[512] = "";
  fallocate_calls = 0;
  fallocate_errno = 0;
  assert_int_equal(ad_segment_create(&s, "huge", TiB, err, sizeof(err)),
                   AR_ENOMEM);
  assert_int_equal(fallocate_calls, 0);
  assert_int_equal(s.fd, -1);
  assert_null(s.base);
  assert_non_null(strstr(err, "1T (1099511627776 bytes) does not fit"));
}

static void test_segment_fallocate_fails(void **state) {
  (void)state;
  int errs[] = {ENOSPC, ENOMEM};
  for (int i = 0; i < 2; i++) {
    ad_segment_t s;
    char err[512] = "";
    fallocate_calls = 0;
    fallocate_errno = errs[i];
    int before = fcntl(0, F_DUPFD, 0); /* the lowest free descriptor */
    close(before);
    assert_int_equal(ad_segment_create(&s, "small", MiB, err, sizeof(err)),
                     AR_ENOMEM);
    assert_int_equal(fallocate_calls, 1);
    assert_int_equal(s.fd, -1);
    int after = fcntl(0, F_DUPFD, 0); /* the memfd was closed */
    close(after);
    assert_int_equal(before, after);
    assert_non_null(strstr(err, "cannot reserve 1M (1048576 bytes)"));
    assert_non_null(strstr(err, strerror(errs[i])));
  }
  fallocate_errno = EIO; /* anything else: internal */
  ad_segment_t s;
  char err[512] = "";
  assert_int_equal(ad_segment_create(&s, "small", MiB, err, sizeof(err)),
                   AR_EINTERNAL);
  assert_non_null(strstr(err, strerror(EIO)));
  /* EFBIG is the file size limit's doing: the message says so, so that
   * an operator knows to look at ulimit -f. */
  fallocate_errno = EFBIG;
  assert_int_equal(ad_segment_create(&s, "small", MiB, err, sizeof(err)),
                   AR_EINTERNAL);
  assert_non_null(strstr(err, "(the file size limit, ulimit -f, is lower)"));
  fallocate_errno = 0;
}

/* Whether the mapping that holds addr has `flag` among its VmFlags in
 * /proc/self/smaps. */
static bool vm_flag(const void *addr, const char *flag) {
  FILE *f = fopen("/proc/self/smaps", "r");
  assert_non_null(f);
  char line[512], want[8];
  snprintf(want, sizeof want, " %s", flag);
  bool in = false, found = false;
  while (!found && fgets(line, sizeof line, f) != NULL) {
    unsigned long lo, hi;
    if (sscanf(line, "%lx-%lx", &lo, &hi) == 2) /* a mapping's first line */
      in = (uintptr_t)addr >= lo && (uintptr_t)addr < hi;
    else if (in && strncmp(line, "VmFlags:", 8) == 0) {
      const char *p = strstr(line, want);
      found = p != NULL && (p[strlen(want)] == ' ' || p[strlen(want)] == '\n');
    }
  }
  fclose(f);
  return found;
}

static void test_segment_ok(void **state) {
  (void)state;
  ad_segment_t s;
  char err[512] = "";
  fallocate_calls = 0;
  fallocate_errno = 0;
  assert_int_equal(ad_segment_create(&s, "ok", MiB, err, sizeof(err)), 0);
  assert_int_equal(fallocate_calls, 1);
  int seals = fcntl(s.fd, F_GET_SEALS);
  assert_true((seals & F_SEAL_SHRINK) && (seals & F_SEAL_GROW) &&
              (seals & F_SEAL_SEAL));
  struct stat st;
  assert_int_equal(fstat(s.fd, &st), 0);
  assert_int_equal(st.st_size, MiB);
  assert_true(st.st_blocks * 512 >= (off_t)MiB); /* reserved */
  ((volatile char *)s.base)[MiB - 1] = 1;
  /* Nobody else may open it again; the read-only descriptor refuses a
   * writable shared mapping and shows the daemon's byte. */
  assert_int_equal(st.st_mode & 07777, 0600);
  assert_true(s.ro_fd >= 0);
  assert_int_equal(fcntl(s.ro_fd, F_GETFL) & O_ACCMODE, O_RDONLY);
  errno = 0;
  assert_true(mmap(NULL, MiB, PROT_READ | PROT_WRITE, MAP_SHARED, s.ro_fd,
                   0) == MAP_FAILED);
  assert_int_equal(errno, EACCES);
  const volatile char *ro =
      mmap(NULL, MiB, PROT_READ, MAP_SHARED, s.ro_fd, 0);
  assert_true(ro != MAP_FAILED);
  assert_int_equal(ro[MiB - 1], 1);
  assert_int_equal(mprotect((void *)ro, MiB, PROT_READ | PROT_WRITE), -1);
  munmap((void *)ro, MiB);
  /* Client data has no business in the daemon's core dumps. */
  assert_true(vm_flag(s.base, "dd"));
  ad_segment_destroy(&s);
  assert_int_equal(s.fd, -1);
  assert_int_equal(s.ro_fd, -1);
}

/* An arena over the process's file size limit (ulimit -f), which a memfd
 * obeys: refused as a limit before anything is made (not INTERNAL from
 * ftruncate's EFBIG), and counted by the daemon in arenas_refused_limit,
 * not fds_exhausted. */
static void test_segment_over_file_limit(void **state) {
  (void)state;
  ad_config_t cfg, more;
  ad_daemon_t d;
  char err[1024] = "";
  ad_log_set_level(AD_LOG_ERROR);
  ad_config_init(&cfg);
  assert_int_equal(ad_config_add_arena_spec(&cfg, "small:1M", err, sizeof(err)),
                   0);
  assert_int_equal(ad_config_finish(&cfg, err, sizeof(err)), 0);
  ad_config_init(&more);
  assert_int_equal(ad_config_add_arena_spec(&more, "big:2M", err, sizeof(err)),
                   0);
  assert_int_equal(ad_config_finish(&more, err, sizeof(err)), 0);
  assert_int_equal(ad_daemon_init(&d, &cfg, err, sizeof(err)), 0);

  struct rlimit was, low;
  assert_int_equal(getrlimit(RLIMIT_FSIZE, &was), 0);
  low = was;
  low.rlim_cur = MiB;
  assert_int_equal(setrlimit(RLIMIT_FSIZE, &low), 0);
  signal(SIGXFSZ, SIG_IGN); /* were ftruncate tried: EFBIG, not a death */
  ad_segment_t s;
  fallocate_calls = 0;
  assert_int_equal(ad_segment_create(&s, "big", 2 * MiB, err, sizeof(err)),
                   AR_ELIMIT);
  assert_int_equal(s.fd, -1);
  assert_non_null(strstr(err, "2097152 bytes is over the daemon's file size "
                              "limit (ulimit -f: 1048576 bytes)"));
  /* The limit is the largest size allowed: a segment of just that size is
   * made. */
  assert_int_equal(ad_segment_create(&s, "edge", MiB, err, sizeof(err)), 0);
  ad_segment_destroy(&s);
  fallocate_calls = 0;
  ad_arena_t *a = NULL;
  assert_int_equal(
      ad_daemon_create_arena(&d, &more.arenas[0], &a, err, sizeof(err)),
      AR_ELIMIT);
  assert_int_equal(fallocate_calls, 0);
  assert_int_equal(d.stats.arenas_refused_limit, 1);
  assert_int_equal(d.stats.fds_exhausted, 0);
  assert_int_equal(setrlimit(RLIMIT_FSIZE, &was), 0);
  assert_int_equal(
      ad_daemon_create_arena(&d, &more.arenas[0], &a, err, sizeof(err)), 0);
  ad_daemon_fini(&d);
  ad_config_fini(&more);
  ad_config_fini(&cfg);
}

/* At start-up: the arena named, its size, what is available; and the sum
 * of several arenas checked before any is reserved. */
static void test_daemon_names_the_arena(void **state) {
  (void)state;
  ad_config_t cfg;
  ad_daemon_t d;
  char err[1024] = "";
  ad_log_set_level(AD_LOG_ERROR);

  ad_config_init(&cfg);
  assert_int_equal(ad_config_add_arena_spec(&cfg, "small:1M", err,
                                            sizeof(err)),
                   0);
  assert_int_equal(ad_config_add_arena_spec(&cfg, "big:1024G:best", err,
                                            sizeof(err)),
                   0);
  assert_int_equal(ad_config_finish(&cfg, err, sizeof(err)), 0);
  fallocate_calls = 0;
  assert_int_equal(ad_daemon_init(&d, &cfg, err, sizeof(err)), AR_ENOMEM);
  assert_int_equal(fallocate_calls, 0);
  assert_non_null(strstr(err, "the 2 arenas together"));
  ad_config_fini(&cfg);

  ad_config_init(&cfg);
  assert_int_equal(ad_config_add_arena_spec(&cfg, "big:1024G", err, sizeof(err)),
                   0);
  assert_int_equal(ad_config_finish(&cfg, err, sizeof(err)), 0);
  fallocate_calls = 0;
  assert_int_equal(ad_daemon_init(&d, &cfg, err, sizeof(err)), AR_ENOMEM);
  assert_int_equal(fallocate_calls, 0);
  assert_non_null(strstr(err, "arena 'big' (--arena big:1024G): 1T "
                              "(1099511627776 bytes) does not fit"));
  assert_non_null(strstr(err, "can be reserved"));
  ad_config_fini(&cfg);
}

int main(void) {
  const struct CMUnitTest parsers[] = {
      cmocka_unit_test(test_key),
      cmocka_unit_test(test_limit),
      cmocka_unit_test(test_cgroup_path),
      cmocka_unit_test(test_cgroup_mount),
      cmocka_unit_test(test_headroom),
      cmocka_unit_test(test_human_and_margin),
      cmocka_unit_test(test_fit),
  };
  const struct CMUnitTest trees[] = {
      cmocka_unit_test_setup_teardown(test_tree_nothing, tree_setup,
                                      tree_teardown),
      cmocka_unit_test_setup_teardown(test_tree_meminfo_only, tree_setup,
                                      tree_teardown),
      cmocka_unit_test_setup_teardown(test_tree_meminfo_no_swap, tree_setup,
                                      tree_teardown),
      cmocka_unit_test_setup_teardown(test_tree_cgroup2, tree_setup,
                                      tree_teardown),
      cmocka_unit_test_setup_teardown(test_tree_cgroup2_namespace, tree_setup,
                                      tree_teardown),
      cmocka_unit_test_setup_teardown(test_tree_cgroup2_bind, tree_setup,
                                      tree_teardown),
      cmocka_unit_test_setup_teardown(test_tree_cgroup1, tree_setup,
                                      tree_teardown),
  };
  const struct CMUnitTest live[] = {
      cmocka_unit_test(test_live_estimate),
      cmocka_unit_test(test_segment_refused_before_fallocate),
      cmocka_unit_test(test_segment_fallocate_fails),
      cmocka_unit_test(test_segment_ok),
      cmocka_unit_test(test_segment_over_file_limit),
      cmocka_unit_test(test_daemon_names_the_arena),
  };
  int failed = cmocka_run_group_tests_name("parsers", parsers, NULL, NULL);
  failed += cmocka_run_group_tests_name("trees", trees, NULL, NULL);
  failed += cmocka_run_group_tests_name("live", live, NULL, NULL);
  return failed;
}
