/*
 * ctl.c: the plumbing of arenactl's daemon commands (see ctl.h):
 * connecting with hello, reporting errors the same way everywhere, and the
 * bits of rendering (JSON for programs) that more than one command needs;
 * sizes for people are bytes.c's, which replay shares.
 */
#include "ctl.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ar/util.h"
#include "arenactl.h"

const char *ar__ctl_socket = NULL;
int ar__ctl_timeout_ms = AR__CTL_TIMEOUT_MS;

/* Says on standard error that the socket path does not fit in a Unix
 * socket address, as arenad says it, naming where the path came from. */
static void socket_path_too_long(const char *cmd, const char *resolved) {
  const char *from = "--socket", *path = ar__ctl_socket;
  if (path == NULL) {
    path = getenv(AR_SOCKET_ENV);
    from = "$" AR_SOCKET_ENV;
  }
  if (path == NULL || path[0] == '\0') {
    path = resolved; /* the runtime directory's */
    from = "default socket";
  }
  fprintf(stderr,
          "arenactl %s: %s: path longer than %d bytes, the most a Unix "
          "socket address holds: %s (%zu bytes)\n",
          cmd, from, AR_SOCKET_PATH_MAX - 1, path, strlen(path));
}

const char *ar__ctl_why(int rc) {
  return rc == AR_EIO ? strerror(errno) : ar_strerror(rc);
}

const char *ar__ctl_connect_why(int rc) {
  if (rc == AR_EIO && errno == EAGAIN)
    return "the daemon did not take the connection within the --timeout";
  return ar__ctl_why(rc);
}

arenad_t *ar__ctl_connect(const char *cmd, arenad_hello_t *hello) {
  char path[256];
  arenad_t *h;
  int rc = arenad_socket_path(ar__ctl_socket, path, sizeof path);
  if (rc == AR_ELIMIT) {
    socket_path_too_long(cmd, path);
    return NULL;
  }
  if (rc == AR_EPERM) { /* path names the /tmp fallback's directory */
    fprintf(stderr,
            "arenactl %s: no usable socket path: %s is not a private "
            "directory of uid %u (it must be a directory owned by you with "
            "mode 0700, as arenad makes it; --socket or $ARENAD_SOCKET name "
            "a socket elsewhere)\n",
            cmd, path, (unsigned)getuid());
    return NULL;
  }
  if (rc < 0) { /* AR_EIO: the directory could not be examined (errno) */
    fprintf(stderr, "arenactl %s: no usable socket path%s%s%s: %s\n", cmd,
            path[0] != '\0' ? " (" : "", path[0] != '\0' ? path : "",
            path[0] != '\0' ? ")" : "", ar__ctl_why(rc));
    return NULL;
  }
  rc = arenad_connect_timeout(path, ar__ctl_timeout_ms, &h);
  struct stat st;
  if (rc < 0 && stat(path, &st) == 0 && !S_ISSOCK(st.st_mode)) {
    fprintf(stderr,
            "arenactl %s: cannot connect to %s: it is not a socket "
            "(--socket or $ARENAD_SOCKET name arenad's socket)\n",
            cmd, path);
    return NULL;
  }
  if (rc < 0) {
    const char *why = ar__ctl_connect_why(rc);
    fprintf(stderr, "arenactl %s: cannot connect to %s: %s%s\n", cmd, path, why,
            rc == AR_EIO && (errno == ENOENT || errno == ECONNREFUSED)
                ? " (is arenad running? --socket or $ARENAD_SOCKET name "
                  "its socket)"
                : "");
    return NULL;
  }
  arenad_hello_t hi;
  rc = arenad_hello(h, "arenactl", &hi);
  if (rc < 0) {
    ar__ctl_fail(cmd, h, rc, "hello");
    arenad_close(h);
    return NULL;
  }
  if (hello != NULL)
    *hello = hi;
  return h;
}

size_t ar__ctl_window(const char *cmd, arenad_t *h, uint64_t asked,
                      bool given) {
  size_t limit = arenad_window(h);
  if (asked <= limit)
    return (size_t)asked;
  if (given)
    fprintf(stderr,
            "arenactl %s: --window %llu is over the daemon's limit of %zu "
            "requests in flight; using %zu\n",
            cmd, (unsigned long long)asked, limit, limit);
  return limit;
}

int ar__ctl_fail(const char *cmd, arenad_t *h, int rc, const char *what) {
  const char *msg = h != NULL ? arenad_error(h) : "";
  if (msg[0] == '\0')
    msg = ar_strerror(rc);
  fprintf(stderr, "arenactl %s: %s: %s\n", cmd, what, msg);
  return ARENACTL_FAIL;
}

int ar__ctl_arena_arg(const char *cmd, const char *arena) {
  if (arena[0] != '\0')
    return ARENACTL_OK;
  fprintf(stderr, "arenactl %s: ARENA is empty\n", cmd);
  return ARENACTL_USAGE;
}

int ar__ctl_parse_u64(const char *s, uint64_t *out) {
  int base = 10;
  if (s != NULL && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    base = 16;
    s += 2;
  }
  /* Digits only: strtoull alone would take a sign, blanks, a leading 0 as
   * octal, and in base 16 a second 0x ("0x0x10"). */
  const char *digits = base == 16 ? "0123456789abcdefABCDEF" : "0123456789";
  if (s == NULL || s[0] == '\0' || s[strspn(s, digits)] != '\0')
    return AR_EINVAL;
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, base);
  if (errno != 0 || *end != '\0')
    return AR_EINVAL;
  *out = v;
  return 0;
}

int ar__ctl_print_json(const char *cmd, json_t *root) {
  if (root == NULL) {
    fprintf(stderr, "arenactl %s: out of memory for the JSON output\n", cmd);
    return ARENACTL_FAIL;
  }
  int rc = json_dumpf(root, stdout, ARENACTL_JSON_FLAGS);
  json_decref(root);
  if (rc == 0)
    fputc('\n', stdout);
  return ar__ctl_flush(cmd);
}

int ar__ctl_flush(const char *cmd) {
  /* ferror too: a write that failed while printing left the flag set, and
   * the buffer it emptied may let this fflush succeed. */
  if (fflush(stdout) == 0 && !ferror(stdout))
    return ARENACTL_OK;
  fprintf(stderr, "arenactl %s: writing the output failed\n", cmd);
  return ARENACTL_FAIL;
}

json_t *ar__ctl_json_u64(uint64_t v) {
  if (v > (uint64_t)INT64_MAX)
    return json_real((double)v);
  return json_integer((json_int_t)v);
}

int ar__ctl_json_set_path(json_t *obj, const char *name, json_t *value) {
  if (value == NULL)
    return -1;
  const char *dot;
  while ((dot = strchr(name, '.')) != NULL) {
    char key[128];
    size_t n = (size_t)(dot - name);
    if (n >= sizeof key) {
      json_decref(value);
      return -1;
    }
    memcpy(key, name, n);
    key[n] = '\0';
    json_t *sub = json_object_get(obj, key);
    if (sub == NULL) {
      sub = json_object();
      if (sub == NULL || json_object_set_new(obj, key, sub) < 0) {
        json_decref(value);
        return -1;
      }
    }
    if (!json_is_object(sub)) {
      json_decref(value);
      return -1;
    }
    obj = sub;
    name = dot + 1;
  }
  return json_object_set_new(obj, name, value);
}

json_t *ar__ctl_arena_json(const arenad_arena_t *a) {
  return json_pack(
      "{s:o, s:o, s:s, s:o, s:o, s:o, s:{s:i, s:o, s:o}, s:o, s:o}", "name",
      ar__ctl_json_text(a->name), "size", ar__ctl_json_u64(a->size), "policy",
      arenad_policy_name(a->policy), "used_bytes",
      ar__ctl_json_u64(a->used_bytes), "free_bytes",
      ar__ctl_json_u64(a->free_bytes), "live_blocks",
      ar__ctl_json_u64(a->live_blocks), "access", "mode", (int)a->access.mode,
      "owner_uid", ar__ctl_json_u64(a->access.owner_uid), "group_gid",
      ar__ctl_json_u64(a->access.group_gid), "quota_bytes",
      ar__ctl_json_u64(a->quota_bytes), "quota_blocks",
      ar__ctl_json_u64(a->quota_blocks));
}

int ar__ctl_parse_flags(int argc, char **argv, const struct option *longopts,
                        void (*usage)(FILE *), int *flags, int nargs_min,
                        int nargs_max) {
  optind = 0;
  int c;
  while ((c = ar__ctl_getopt(argc, argv, longopts)) != -1) {
    if (c == 'h') {
      usage(stdout);
      return -1;
    }
    if (c == '?' || c == ':')
      return ar__ctl_bad_option(c, argv, usage);
    *flags |= c;
  }
  return ar__ctl_check_args(argc, argv, usage, nargs_min, nargs_max);
}

int ar__ctl_check_args(int argc, char **argv, void (*usage)(FILE *),
                       int nargs_min, int nargs_max) {
  int nargs = argc - optind;
  if (nargs < nargs_min)
    fprintf(stderr, "arenactl %s: no ARENA given\n", argv[0]);
  else if (nargs > nargs_max)
    fprintf(stderr, "arenactl %s: unexpected argument '%s'\n", argv[0],
            argv[optind + nargs_max]);
  if (nargs < nargs_min || nargs > nargs_max) {
    usage(stderr);
    return ARENACTL_USAGE;
  }
  return ARENACTL_OK;
}
