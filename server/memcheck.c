/*
 * memcheck.c: the memory left for new arenas (see memcheck.h): text
 * parsers for /proc/meminfo, /proc/self/cgroup, /proc/self/mountinfo and
 * the cgroup files, the estimate that combines them, and the check that
 * turns "too large" into a sentence before fallocate is ever called. Every
 * file is optional: what cannot be read does not bound, and for the live
 * system sysinfo(2) bounds and backs up the rest.
 */
#include "memcheck.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysinfo.h>

#include "ar/error.h"
#include "ar/util.h"

#define UNKNOWN AD_MEM_UNKNOWN
#define FILE_MAX ((size_t)4 << 20) /* mountinfo of a busy host fits */
#define PATH_BYTES 512

/* ---- Parsers ------------------------------------------------------------ */

/* The start of the line after p (or the NUL at the end). */
static const char *next_line(const char *p) {
  const char *nl = strchr(p, '\n');
  return nl != NULL ? nl + 1 : p + strlen(p);
}

/* A decimal number at *p (after blanks), advancing *p past it. */
static bool parse_u64(const char **p, uint64_t *out) {
  const char *s = *p + strspn(*p, " \t");
  if (ar_parse_digits(&s, out) != AR_OK)
    return false;
  *p = s;
  return true;
}

uint64_t ad_mem_key(const char *text, const char *key) {
  size_t n = strlen(key);
  if (text == NULL || n == 0)
    return UNKNOWN;
  for (const char *line = text; *line != '\0'; line = next_line(line)) {
    if (strncmp(line, key, n) != 0 ||
        (line[n] != ' ' && line[n] != ':' && line[n] != '\t'))
      continue;
    const char *p = line + n + (line[n] == ':');
    uint64_t v;
    if (!parse_u64(&p, &v))
      return UNKNOWN;
    while (*p == ' ' || *p == '\t')
      p++;
    if (strncmp(p, "kB", 2) == 0) {
      if (v > UINT64_MAX / 1024)
        return UNKNOWN;
      v *= 1024;
    }
    return v;
  }
  return UNKNOWN;
}

uint64_t ad_mem_limit(const char *text) {
  uint64_t v;
  if (text == NULL || !parse_u64(&text, &v))
    return UNKNOWN; /* "max", empty or garbage */
  /* v1 writes "no limit" as the largest page multiple below 2^63. */
  return v >= ((uint64_t)1 << 62) ? UNKNOWN : v;
}

/* Copies s[0..n) to out (len bytes) as a string; false when it does not
 * fit. */
static bool copy(char *out, size_t len, const char *s, size_t n) {
  if (n >= len)
    return false;
  memcpy(out, s, n);
  out[n] = '\0';
  return true;
}

/* Whether the comma-separated list l[0..n) holds `word`. */
static bool list_has(const char *l, size_t n, const char *word) {
  size_t w = strlen(word);
  const char *end = l + n;
  while (l < end) {
    const char *comma = memchr(l, ',', (size_t)(end - l));
    size_t k = (size_t)((comma != NULL ? comma : end) - l);
    if (k == w && memcmp(l, word, w) == 0)
      return true;
    l += k + 1;
  }
  return false;
}

bool ad_mem_cgroup_path(const char *text, const char *controller, char *out,
                        size_t len) {
  if (text == NULL)
    return false;
  for (const char *line = text; *line != '\0'; line = next_line(line)) {
    /* ID:CONTROLLERS:PATH */
    const char *eol = line + strcspn(line, "\n");
    const char *c1 = memchr(line, ':', (size_t)(eol - line));
    const char *c2 = c1 != NULL ? memchr(c1 + 1, ':', (size_t)(eol - c1 - 1))
                                : NULL;
    if (c2 == NULL)
      continue;
    bool match;
    if (controller[0] == '\0')
      match = c1 - line == 1 && line[0] == '0' && c2 == c1 + 1;
    else
      match = list_has(c1 + 1, (size_t)(c2 - c1 - 1), controller);
    if (match)
      return copy(out, len, c2 + 1, (size_t)(eol - c2 - 1));
  }
  return false;
}

/* The next space-separated field of a mountinfo line at *p, decoded
 * (\040 and friends), into out. */
static bool field(const char **p, const char *eol, char *out, size_t len) {
  const char *s = *p;
  size_t n = 0;
  while (s < eol && *s == ' ')
    s++;
  if (s == eol)
    return false;
  for (; s < eol && *s != ' '; s++) {
    char ch = *s;
    if (ch == '\\' && eol - s >= 4 && s[1] >= '0' && s[1] <= '3' &&
        s[2] >= '0' && s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
      ch = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
      s += 3;
    }
    if (n + 1 >= len)
      return false;
    out[n++] = ch;
  }
  out[n] = '\0';
  *p = s;
  return true;
}

bool ad_mem_cgroup_mount(const char *mountinfo, const char *controller,
                         char *mnt, size_t mlen, char *root, size_t rlen) {
  if (mountinfo == NULL)
    return false;
  for (const char *line = mountinfo; *line != '\0'; line = next_line(line)) {
    /* ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE
     * SOURCE SUPEROPTIONS */
    const char *eol = line + strcspn(line, "\n");
    const char *p = line;
    char f[PATH_BYTES], r[PATH_BYTES], m[PATH_BYTES];
    if (!field(&p, eol, f, sizeof(f)) || !field(&p, eol, f, sizeof(f)) ||
        !field(&p, eol, f, sizeof(f)) || !field(&p, eol, r, sizeof(r)) ||
        !field(&p, eol, m, sizeof(m)))
      continue;
    bool dash = false;
    while (!dash && field(&p, eol, f, sizeof(f)))
      dash = strcmp(f, "-") == 0;
    char type[32], src[PATH_BYTES], opts[PATH_BYTES];
    if (!dash || !field(&p, eol, type, sizeof(type)) ||
        !field(&p, eol, src, sizeof(src)) ||
        !field(&p, eol, opts, sizeof(opts)))
      continue;
    bool match = controller[0] == '\0'
                     ? strcmp(type, "cgroup2") == 0
                     : strcmp(type, "cgroup") == 0 &&
                           list_has(opts, strlen(opts), controller);
    if (match)
      return copy(mnt, mlen, m, strlen(m)) && copy(root, rlen, r, strlen(r));
  }
  return false;
}

uint64_t ad_mem_headroom(uint64_t limit, uint64_t usage, uint64_t file,
                         uint64_t shmem) {
  if (limit == UNKNOWN || usage == UNKNOWN)
    return UNKNOWN;
  uint64_t cache = 0;
  if (file != UNKNOWN)
    cache = shmem == UNKNOWN ? 0 : file > shmem ? file - shmem : 0;
  uint64_t used = usage > cache ? usage - cache : 0;
  return limit > used ? limit - used : 0;
}

const char *ad_mem_human(char *buf, size_t len, uint64_t bytes) {
  static const char units[] = "KMGTPE";
  if (bytes < 1024) {
    snprintf(buf, len, "%llu", (unsigned long long)bytes);
    return buf;
  }
  int u = 0;
  while (u < 5 && bytes >= (uint64_t)1 << (10 * (u + 2)))
    u++;
  uint64_t unit = (uint64_t)1 << (10 * (u + 1));
  if (bytes % unit == 0)
    snprintf(buf, len, "%llu%c", (unsigned long long)(bytes / unit),
             units[u]);
  else
    snprintf(buf, len, "%.1f%c", (double)bytes / (double)unit, units[u]);
  return buf;
}

uint64_t ad_mem_margin(uint64_t avail) {
  uint64_t m = avail / 16;
  return m < AD_MEM_MARGIN_MAX ? m : AD_MEM_MARGIN_MAX;
}

int ad_memcheck_fit(uint64_t size, const ad_memavail_t *m, char *err,
                    size_t errlen) {
  if (m->bytes == UNKNOWN)
    return 0;
  uint64_t margin = ad_mem_margin(m->bytes);
  uint64_t room = m->bytes - margin;
  if (size <= room)
    return 0;
  char s[32], r[32], g[32];
  snprintf(err, errlen,
           "%s (%llu bytes) does not fit in the memory available for shared "
           "pages: %s can be reserved (%s, less a margin of %s); nothing was "
           "reserved",
           ad_mem_human(s, sizeof(s), size), (unsigned long long)size,
           ad_mem_human(r, sizeof(r), room), m->source,
           ad_mem_human(g, sizeof(g), margin));
  return AR_ENOMEM;
}

/* ---- Reading the files -------------------------------------------------- */

/* The path a + b + c into out; false when it does not fit. */
static bool join(char *out, size_t len, const char *a, const char *b,
                 const char *c) {
  int n = snprintf(out, len, "%s%s%s", a, b, c);
  return n >= 0 && (size_t)n < len;
}

/* The whole file at root + path, NUL-terminated, from the heap (the caller
 * frees it), or NULL. */
static char *slurp(const char *root, const char *path) {
  char full[PATH_BYTES * 2];
  if (!join(full, sizeof(full), root, path, ""))
    return NULL;
  FILE *f = fopen(full, "re");
  if (f == NULL)
    return NULL;
  size_t cap = 4096, n = 0;
  char *buf = malloc(cap);
  while (buf != NULL) {
    size_t k = fread(buf + n, 1, cap - n - 1, f);
    n += k;
    if (n < cap - 1)
      break; /* end of file or an error: what was read counts */
    char *b = cap * 2 <= FILE_MAX ? realloc(buf, cap * 2) : NULL;
    if (b == NULL) {
      free(buf);
      buf = NULL;
      break;
    }
    buf = b;
    cap *= 2;
  }
  fclose(f);
  if (buf != NULL)
    buf[n] = '\0';
  return buf;
}

static uint64_t file_limit(const char *dir, const char *name) {
  char *t = slurp(dir, name);
  uint64_t v = ad_mem_limit(t);
  free(t);
  return v;
}

/* The directory of the process's cgroup for `controller` under root:
 * root + mount point + (cgroup path less the mount's root), and that path
 * relative to the mount (in rel). False when it cannot be found. */
static bool cgroup_dir(const char *root, const char *cgroups,
                       const char *mountinfo, const char *controller,
                       char *dir, size_t dlen, char *rel, size_t rlen) {
  char path[PATH_BYTES], mnt[PATH_BYTES], mroot[PATH_BYTES];
  if (!ad_mem_cgroup_path(cgroups, controller, path, sizeof(path)) ||
      !ad_mem_cgroup_mount(mountinfo, controller, mnt, sizeof(mnt), mroot,
                           sizeof(mroot)))
    return false;
  const char *r = path;
  if (strcmp(mroot, "/") != 0) {
    size_t n = strlen(mroot);
    if (strncmp(path, mroot, n) != 0 || (path[n] != '\0' && path[n] != '/'))
      return false; /* our cgroup is outside what is mounted */
    r = path + n;
  }
  if (strcmp(r, "/") == 0)
    r = "";
  return copy(rel, rlen, r, strlen(r)) && join(dir, dlen, root, mnt, "");
}

/* cgroup v2: the smallest headroom of the cgroup and its ancestors up to
 * the mount's root. */
static uint64_t cgroup2(const char *root, const char *cgroups,
                        const char *mountinfo, char *source, size_t len) {
  char base[PATH_BYTES * 2], rel[PATH_BYTES], dir[PATH_BYTES * 3];
  uint64_t best = UNKNOWN;
  if (!cgroup_dir(root, cgroups, mountinfo, "", base, sizeof(base), rel,
                  sizeof(rel)))
    return UNKNOWN;
  for (;;) {
    if (!join(dir, sizeof(dir), base, rel, ""))
      break;
    uint64_t limit = file_limit(dir, "/memory.max");
    uint64_t usage = file_limit(dir, "/memory.current");
    char *stat = slurp(dir, "/memory.stat");
    uint64_t room = ad_mem_headroom(limit, usage, ad_mem_key(stat, "file"),
                                    ad_mem_key(stat, "shmem"));
    free(stat);
    if (room < best) {
      char l[32], h[32];
      best = room;
      snprintf(source, len, "cgroup %.100s: memory.max %s, headroom %s",
               rel[0] != '\0' ? rel : "/", ad_mem_human(l, sizeof(l), limit),
               ad_mem_human(h, sizeof(h), room));
    }
    char *slash = strrchr(rel, '/');
    if (slash == NULL || rel[0] == '\0')
      break;
    *slash = '\0';
  }
  return best;
}

/* cgroup v1: memory.stat has the limit over the whole hierarchy. */
static uint64_t cgroup1(const char *root, const char *cgroups,
                        const char *mountinfo, char *source, size_t len) {
  char base[PATH_BYTES * 2], rel[PATH_BYTES], dir[PATH_BYTES * 3];
  if (!cgroup_dir(root, cgroups, mountinfo, "memory", base, sizeof(base),
                  rel, sizeof(rel)) ||
      !join(dir, sizeof(dir), base, rel, ""))
    return UNKNOWN;
  char *stat = slurp(dir, "/memory.stat");
  uint64_t limit = ad_mem_key(stat, "hierarchical_memory_limit");
  if (limit >= ((uint64_t)1 << 62))
    limit = UNKNOWN;
  uint64_t room =
      ad_mem_headroom(limit, file_limit(dir, "/memory.usage_in_bytes"),
                      ad_mem_key(stat, "total_cache"),
                      ad_mem_key(stat, "total_shmem"));
  free(stat);
  if (room != UNKNOWN) {
    char l[32], h[32];
    snprintf(source, len, "cgroup %.100s: memory limit %s, headroom %s",
             rel[0] != '\0' ? rel : "/", ad_mem_human(l, sizeof(l), limit),
             ad_mem_human(h, sizeof(h), room));
  }
  return room;
}

void ad_memory_available_at(const char *root, ad_memavail_t *out) {
  out->bytes = UNKNOWN;
  snprintf(out->source, sizeof(out->source), "no memory figure readable");

  char *meminfo = slurp(root, "/proc/meminfo");
  uint64_t avail = ad_mem_key(meminfo, "MemAvailable");
  uint64_t swap = ad_mem_key(meminfo, "SwapFree");
  free(meminfo);
  if (avail != UNKNOWN) {
    char a[32], s[32];
    if (swap == UNKNOWN)
      swap = 0;
    out->bytes = avail + swap < avail ? UNKNOWN - 1 : avail + swap;
    snprintf(out->source, sizeof(out->source), "MemAvailable %s + SwapFree %s",
             ad_mem_human(a, sizeof(a), avail),
             ad_mem_human(s, sizeof(s), swap));
  }

  char *cgroups = slurp(root, "/proc/self/cgroup");
  char *mountinfo = slurp(root, "/proc/self/mountinfo");
  char src[sizeof(out->source)];
  uint64_t cg = cgroup2(root, cgroups, mountinfo, src, sizeof(src));
  if (cg < out->bytes) {
    out->bytes = cg;
    memcpy(out->source, src, sizeof(src));
  }
  cg = cgroup1(root, cgroups, mountinfo, src, sizeof(src));
  if (cg < out->bytes) {
    out->bytes = cg;
    memcpy(out->source, src, sizeof(src));
  }
  free(cgroups);
  free(mountinfo);
}

void ad_memory_available(ad_memavail_t *out) {
  ad_memory_available_at("", out);

  struct sysinfo si;
  if (sysinfo(&si) < 0)
    return;
  uint64_t unit = si.mem_unit != 0 ? si.mem_unit : 1;
  uint64_t total = ((uint64_t)si.totalram + si.totalswap) * unit;
  char t[32];
  if (out->bytes == UNKNOWN) {
    /* No file could be read: what is free now, a lower bound. */
    out->bytes = ((uint64_t)si.freeram + si.bufferram + si.freeswap) * unit;
    snprintf(out->source, sizeof(out->source),
             "sysinfo: free RAM, buffers and free swap %s",
             ad_mem_human(t, sizeof(t), out->bytes));
  } else if (out->bytes > total) {
    out->bytes = total;
    snprintf(out->source, sizeof(out->source),
             "sysinfo: RAM and swap in all %s",
             ad_mem_human(t, sizeof(t), total));
  }
}
