/*
 * cmd_admin.c: `arenactl create` and `arenactl destroy`, arenas made and
 * removed in a running daemon by its administrators (root, the daemon's
 * user, its admin group). create takes the arena's access like chmod and
 * chown do (an octal mode, a user and a group by name or number) and its
 * per-connection quotas; destroy refuses an arena with live blocks unless
 * --force.
 */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ar/engine.h"
#include "ar/util.h"
#include "arenactl.h"
#include "ctl.h"

/* ---- create -------------------------------------------------------------- */

static void create_usage(FILE *out) {
  fprintf(out,
          "usage: arenactl [--socket PATH] create ARENA SIZE POLICY\n"
          "                [--mode MODE] [--owner USER] [--group GROUP]\n"
          "                [--quota-bytes BYTES] [--quota-blocks N] [--json]\n"
          "\n"
          "Creates ARENA in the running daemon: SIZE bytes (K, M, G\n"
          "suffixes; a multiple of 4096, a power of two for buddy), placed\n"
          "by POLICY (first, next, best, worst or buddy). Its memory is\n"
          "reserved before the daemon answers. Allowed to root, the\n"
          "daemon's user and its admin_group.\n"
          "\n"
          "  --mode MODE          permission bits, octal (default 0600)\n"
          "  --owner USER         owner, a name or uid (default: you)\n"
          "  --group GROUP        group, a name or gid (default: yours)\n"
          "  --quota-bytes BYTES  block bytes one connection may hold\n"
          "  --quota-blocks N     blocks one connection may hold\n"
          "  --json               print the arena as `arenactl list --json`\n"
          "                       does\n");
}

/* A user or group by name or number; false when there is none. */
static bool parse_id(const char *s, bool group, uint32_t *out) {
  uint64_t v;
  if (ar__ctl_parse_u64(s, &v) == 0) {
    if (v >= UINT32_MAX)
      return false;
    *out = (uint32_t)v;
    return true;
  }
  if (group) {
    const struct group *g = getgrnam(s);
    if (g == NULL)
      return false;
    *out = (uint32_t)g->gr_gid;
  } else {
    const struct passwd *p = getpwnam(s);
    if (p == NULL)
      return false;
    *out = (uint32_t)p->pw_uid;
  }
  return true;
}

static bool parse_mode(const char *s, uint32_t *out) {
  if (s[0] < '0' || s[0] > '7') /* strtoul would take blanks and a sign */
    return false;
  char *end;
  errno = 0;
  unsigned long v = strtoul(s, &end, 8);
  if (errno != 0 || end == s || *end != '\0' || v > 0777)
    return false;
  *out = (uint32_t)v;
  return true;
}

/* The options of create; returns ARENACTL_OK, -1 after --help, or
 * ARENACTL_USAGE. */
static int create_options(int argc, char **argv, arenad_access_t *access,
                          bool *has_access, arenad_arena_spec_t *spec,
                          bool *json) {
  static const struct option longopts[] = {
      {"mode", required_argument, NULL, 'm'},
      {"owner", required_argument, NULL, 'o'},
      {"group", required_argument, NULL, 'g'},
      {"quota-bytes", required_argument, NULL, 'b'},
      {"quota-blocks", required_argument, NULL, 'n'},
      {"json", no_argument, NULL, 'j'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  *access = (arenad_access_t){0600, (uint32_t)getuid(), (uint32_t)getgid()};
  optind = 0;
  int c;
  while ((c = ar__ctl_getopt(argc, argv, longopts)) != -1) {
    const char *want = NULL; /* set when optarg is refused: what is allowed */
    switch (c) {
    case 'm':
      if (!parse_mode(optarg, &access->mode))
        want = "permission bits in octal, 0 to 0777";
      *has_access = true;
      break;
    case 'o':
      if (!parse_id(optarg, false, &access->owner_uid))
        want = "a user's name, or a uid below 4294967295";
      *has_access = true;
      break;
    case 'g':
      if (!parse_id(optarg, true, &access->group_gid))
        want = "a group's name, or a gid below 4294967295";
      *has_access = true;
      break;
    case 'b': {
      int rc = ar_parse_size(optarg, &spec->quota_bytes);
      if (rc < 0)
        want = ar__ctl_size_why(rc);
      break;
    }
    case 'n':
      if (ar__ctl_parse_u64(optarg, &spec->quota_blocks) < 0)
        want = "a count, decimal or 0x hex";
      break;
    case 'j':
      *json = true;
      break;
    case 'h':
      create_usage(stdout);
      return -1;
    default:
      return ar__ctl_bad_option(c, argv, create_usage);
    }
    if (want != NULL) {
      const char *opt = "?";
      for (const struct option *o = longopts; o->name != NULL; o++)
        if (o->val == c)
          opt = o->name;
      fprintf(stderr, "arenactl create: invalid --%s '%s' (%s)\n", opt, optarg,
              want);
      return ARENACTL_USAGE;
    }
  }
  if (argc - optind != 3) {
    fprintf(stderr, "arenactl create: expected ARENA, SIZE and POLICY\n");
    create_usage(stderr);
    return ARENACTL_USAGE;
  }
  ar_policy_t policy;
  int rc = ar_parse_size(argv[optind + 1], &spec->size);
  if (rc < 0) {
    fprintf(stderr, "arenactl create: invalid SIZE '%s' (%s)\n",
            argv[optind + 1], ar__ctl_size_why(rc));
    return ARENACTL_USAGE;
  }
  if (ar_policy_parse(argv[optind + 2], &policy) < 0) {
    fprintf(stderr, "arenactl create: invalid POLICY '%s' (first, next, "
                    "best, worst or buddy)\n", argv[optind + 2]);
    return ARENACTL_USAGE;
  }
  spec->policy = (arenad_policy_t)policy; /* the same numbering */
  return ARENACTL_OK;
}

int ar__cmd_create(int argc, char **argv) {
  arenad_access_t access;
  arenad_arena_spec_t spec = {0};
  bool has_access = false, json = false;
  int rc = create_options(argc, argv, &access, &has_access, &spec, &json);
  if (rc != ARENACTL_OK)
    return rc < 0 ? ARENACTL_OK : rc;
  const char *arena = argv[optind];
  if (ar__ctl_arena_arg("create", arena) != ARENACTL_OK)
    return ARENACTL_USAGE;
  spec.access = has_access ? &access : NULL;

  arenad_t *h = ar__ctl_connect("create", NULL);
  if (h == NULL)
    return ARENACTL_FAIL;
  arenad_arena_t *a;
  rc = arenad_create_arena(h, arena, &spec, &a);
  if (rc < 0) {
    rc = ar__ctl_fail("create", h, rc, arena);
    arenad_close(h);
    return rc;
  }
  arenad_close(h);
  if (json) {
    json_t *o = ar__ctl_arena_json(a);
    arenad_list_destroy(a);
    return ar__ctl_print_json("create", o);
  }
  /* The quotas the daemon answered with, those that are set: ", quota
   * 64 KiB and 10 blocks a connection". */
  char sz[32], qb[32] = "", qn[48] = "", quota[128] = "";
  if (a->quota_bytes != 0)
    ar__ctl_bytes(qb, sizeof qb, a->quota_bytes);
  if (a->quota_blocks != 0)
    snprintf(qn, sizeof qn, "%llu block%s", (unsigned long long)a->quota_blocks,
             a->quota_blocks == 1 ? "" : "s");
  if (qb[0] != '\0' || qn[0] != '\0')
    snprintf(quota, sizeof quota, ", quota %s%s%s a connection", qb,
             qb[0] != '\0' && qn[0] != '\0' ? " and " : "", qn);
  printf("created %s: %s, %s, mode %04o, owner %u, group %u%s\n", a->name,
         ar__ctl_bytes(sz, sizeof sz, a->size), arenad_policy_name(a->policy),
         (unsigned)a->access.mode, (unsigned)a->access.owner_uid,
         (unsigned)a->access.group_gid, quota);
  arenad_list_destroy(a);
  return ar__ctl_flush("create");
}

/* ---- destroy ------------------------------------------------------------- */

static void destroy_usage(FILE *out) {
  fprintf(out,
          "usage: arenactl [--socket PATH] destroy ARENA [--force] [--json]\n"
          "\n"
          "Destroys ARENA in the running daemon. An arena with live blocks\n"
          "(detached ones included) is destroyed only with --force, which\n"
          "frees them. Processes that mapped it keep their mappings; their\n"
          "connections get 'not found' for it until they attach again.\n"
          "Allowed to root, the daemon's user and its admin_group.\n");
}

int ar__cmd_destroy(int argc, char **argv) {
  enum { OPT_FORCE = 1, OPT_JSON = 2 };
  static const struct option longopts[] = {
      {"force", no_argument, NULL, OPT_FORCE},
      {"json", no_argument, NULL, OPT_JSON},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  int flags = 0;
  int rc = ar__ctl_parse_flags(argc, argv, longopts, destroy_usage, &flags, 1,
                               1);
  if (rc != ARENACTL_OK)
    return rc < 0 ? ARENACTL_OK : rc;
  const char *arena = argv[optind];
  if (ar__ctl_arena_arg("destroy", arena) != ARENACTL_OK)
    return ARENACTL_USAGE;
  bool force = (flags & OPT_FORCE) != 0, json = (flags & OPT_JSON) != 0;

  arenad_t *h = ar__ctl_connect("destroy", NULL);
  if (h == NULL)
    return ARENACTL_FAIL;
  arenad_destroyed_t gone;
  rc = arenad_destroy_arena(h, arena, force ? ARENAD_DESTROY_FORCE : 0,
                                &gone);
  if (rc < 0) {
    rc = ar__ctl_fail("destroy", h, rc, arena);
    arenad_close(h);
    return rc;
  }
  arenad_close(h);
  if (json)
    return ar__ctl_print_json(
        "destroy",
        json_pack("{s:s, s:o, s:o, s:i}", "arena", arena, "blocks_freed",
                  ar__ctl_json_u64(gone.blocks_freed), "bytes_freed",
                  ar__ctl_json_u64(gone.bytes_freed), "attached_connections",
                  (int)gone.attached_connections));
  char b[32];
  printf("destroyed %s: %llu block%s (%s) freed; %u connection%s had it "
         "attached\n",
         arena, (unsigned long long)gone.blocks_freed,
         gone.blocks_freed == 1 ? "" : "s",
         ar__ctl_bytes(b, sizeof b, gone.bytes_freed),
         (unsigned)gone.attached_connections,
         gone.attached_connections == 1 ? "" : "s");
  return ar__ctl_flush("destroy");
}
