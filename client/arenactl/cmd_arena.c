/*
 * cmd_arena.c: the commands that read arenas: `arenactl list`, `inspect`
 * and `check`. inspect walks the free list or every block page by page,
 * passing each page's cursor to the next request until the walk reaches
 * the arena's end (or from --from for --limit extents: a piece of a large
 * arena), so an arena of any size is listed in bounded replies;
 * each page is printed as it comes (JSON too), so arenactl's memory stays
 * bounded as well.
 * The summary's figures are rendered from one table of fields (name,
 * place, kind, policy), used by the text and the JSON renderers alike.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arenactl.h"
#include "ctl.h"

/* ---- the summary's fields ------------------------------------------------ */

typedef enum { F_U64, F_U32, F_DOUBLE } field_kind_t;

/* A field that means something for one policy only is shown in the text
 * table for that policy alone; JSON always has every field, for a schema
 * that does not depend on the policy. */
#define ANY_POLICY (-1)

typedef struct field_s {
  const char *name;
  size_t off;
  field_kind_t kind;
  bool bytes; /* a size, shown with its unit in tables */
  int policy; /* the arenad_policy_t it belongs to, or ANY_POLICY */
} field_t;

#define FIELD_OF(name, kind, bytes, policy)                                    \
  { #name, offsetof(arenad_summary_t, name), kind, bytes, policy }
#define FIELD(name, kind, bytes) FIELD_OF(name, kind, bytes, ANY_POLICY)
static const field_t summary_fields[] = {
    FIELD(size, F_U64, true),
    FIELD(used_bytes, F_U64, true),
    FIELD(free_bytes, F_U64, true),
    FIELD(live_blocks, F_U64, false),
    FIELD(live_requested, F_U64, true),
    FIELD(overhead_bytes, F_U64, true),
    FIELD(free_extents, F_U64, false),
    FIELD(largest_free, F_U64, true),
    FIELD(external_frag, F_DOUBLE, false),
    FIELD(allocs, F_U64, false),
    FIELD(frees, F_U64, false),
    FIELD(failed_allocs, F_U64, false),
    FIELD(bad_frees, F_U64, false),
    FIELD(corruptions, F_U64, false),
    FIELD(last_corrupt, F_U64, false),
    FIELD(hwm, F_U64, true),
    FIELD(peak_used, F_U64, true),
    FIELD(peak_requested, F_U64, true),
    FIELD(meta_bytes, F_U64, true),
    FIELD(peak_meta_bytes, F_U64, true),
    FIELD_OF(rover, F_U64, false, ARENAD_POLICY_NEXT),
    FIELD_OF(max_order, F_U32, false, ARENAD_POLICY_BUDDY),
    FIELD(detached_blocks, F_U64, false),
    FIELD(attached_connections, F_U32, false),
    FIELD(permission_denied, F_U64, false),
    FIELD(quota_refused, F_U64, false),
};
#undef FIELD
#undef FIELD_OF
#define NFIELDS (sizeof summary_fields / sizeof summary_fields[0])

static uint64_t field_u64(const arenad_summary_t *s, const field_t *f) {
  const char *p = (const char *)s + f->off;
  if (f->kind == F_U32) {
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
  }
  uint64_t v;
  memcpy(&v, p, sizeof v);
  return v;
}

static double field_double(const arenad_summary_t *s, const field_t *f) {
  double v;
  memcpy(&v, (const char *)s + f->off, sizeof v);
  return v;
}

static void print_summary(const arenad_summary_t *s) {
  printf("%-20s  %s\n", "arena", s->name);
  printf("%-20s  %s\n", "policy", arenad_policy_name(s->policy));
  printf("%-20s  %04o uid %u gid %u\n", "access", (unsigned)s->access.mode,
         (unsigned)s->access.owner_uid, (unsigned)s->access.group_gid);
  for (size_t i = 0; i < NFIELDS; i++) {
    const field_t *f = &summary_fields[i];
    if (f->policy != ANY_POLICY && f->policy != (int)s->policy)
      continue;
    if (f->kind == F_DOUBLE) {
      printf("%-20s  %.4f\n", f->name, field_double(s, f));
      continue;
    }
    uint64_t v = field_u64(s, f);
    char b[64];
    if (f->bytes)
      printf("%-20s  %s\n", f->name, ar__ctl_bytes_exact(b, sizeof b, v));
    else
      printf("%-20s  %llu\n", f->name, (unsigned long long)v);
  }
  if (s->policy == ARENAD_POLICY_BUDDY && s->n_orders > 0) {
    printf("%-20s ", "free_by_order");
    for (uint32_t k = 0; k < s->n_orders; k++)
      if (s->free_by_order[k] != 0)
        printf(" %u:%llu", (unsigned)k,
               (unsigned long long)s->free_by_order[k]);
    printf("\n");
  }
}

static json_t *summary_json(const arenad_summary_t *s) {
  json_t *o = json_pack(
      "{s:o, s:s, s:{s:i, s:o, s:o}}", "name", ar__ctl_json_text(s->name),
      "policy", arenad_policy_name(s->policy), "access", "mode",
      (int)s->access.mode, "owner_uid", ar__ctl_json_u64(s->access.owner_uid),
      "group_gid", ar__ctl_json_u64(s->access.group_gid));
  for (size_t i = 0; o != NULL && i < NFIELDS; i++) {
    const field_t *f = &summary_fields[i];
    json_t *v = f->kind == F_DOUBLE ? json_real(field_double(s, f))
                                    : ar__ctl_json_u64(field_u64(s, f));
    if (json_object_set_new(o, f->name, v) < 0) {
      json_decref(o);
      o = NULL;
    }
  }
  if (o != NULL && s->policy == ARENAD_POLICY_BUDDY) {
    json_t *orders = json_array();
    for (uint32_t k = 0; orders != NULL && k < s->n_orders; k++)
      json_array_append_new(orders, ar__ctl_json_u64(s->free_by_order[k]));
    json_object_set_new(o, "free_by_order", orders);
  }
  return o;
}

/* ---- extents ------------------------------------------------------------- */

/* The columns of a listing: a block's all, or for the free list, whose
 * extents have no payload, count or holders, the first three. */
static void print_extent_header(bool free_only) {
  if (free_only)
    printf("%-14s %-12s %s\n", "START", "SIZE", "STATE");
  else
    printf("%-14s %-12s %-9s %-14s %-12s %4s  %s\n", "START", "SIZE", "STATE",
           "PAYLOAD", "N", "REFS", "HOLDERS");
}

static void print_extent(const arenad_extent_t *e) {
  if (e->free) {
    printf("%-14llu %-12llu free\n", (unsigned long long)e->start,
           (unsigned long long)e->size);
    return;
  }
  printf("%-14llu %-12llu %-9s %-14llu %-12llu %4u",
         (unsigned long long)e->start, (unsigned long long)e->size,
         e->detached ? "detached" : "allocated",
         (unsigned long long)e->payload, (unsigned long long)e->n,
         (unsigned)e->refcount);
  for (size_t i = 0; i < e->n_holders; i++) {
    const arenad_holder_t *h = &e->holders[i];
    printf("  conn %llu (pid %u uid %u%s%s)",
           (unsigned long long)h->connection_id, (unsigned)h->pid,
           (unsigned)h->uid, h->client_name[0] != '\0' ? " " : "",
           h->client_name);
    if (h->references > 1)
      printf(" x%u", (unsigned)h->references);
  }
  if (e->holders_omitted > 0)
    printf("  and %zu more holders (not listed: over the frame limit)",
           e->holders_omitted);
  printf("\n");
}

static json_t *extent_json(const arenad_extent_t *e) {
  json_t *o = json_pack("{s:o, s:o, s:b}", "start", ar__ctl_json_u64(e->start),
                        "size", ar__ctl_json_u64(e->size), "free", e->free);
  if (o == NULL || e->free)
    return o;
  json_t *holders = json_array();
  for (size_t i = 0; holders != NULL && i < e->n_holders; i++) {
    const arenad_holder_t *h = &e->holders[i];
    json_array_append_new(
        holders,
        json_pack("{s:o, s:o, s:o, s:o, s:o}", "connection_id",
                  ar__ctl_json_u64(h->connection_id), "pid",
                  ar__ctl_json_u64(h->pid), "uid", ar__ctl_json_u64(h->uid),
                  "client_name", ar__ctl_json_text(h->client_name),
                  "references", ar__ctl_json_u64(h->references)));
  }
  json_object_set_new(o, "payload", ar__ctl_json_u64(e->payload));
  json_object_set_new(o, "n", ar__ctl_json_u64(e->n));
  json_object_set_new(o, "refcount", json_integer(e->refcount));
  json_object_set_new(o, "detached", json_boolean(e->detached));
  json_object_set_new(o, "holders", holders != NULL ? holders : json_array());
  json_object_set_new(o, "holders_omitted",
                      ar__ctl_json_u64(e->holders_omitted));
  return o;
}

/* ---- list ---------------------------------------------------------------- */

static void list_usage(FILE *out) {
  fprintf(out, "usage: arenactl [--socket PATH] list [--json]\n"
               "\n"
               "Lists the daemon's arenas: name, size, policy, use, access\n"
               "and per-connection quotas.\n");
}

enum { OPT_JSON = 1, OPT_FREE_LIST = 2, OPT_BLOCKS = 4, OPT_DETACHED = 8 };

int ar__cmd_list(int argc, char **argv) {
  static const struct option longopts[] = {
      {"json", no_argument, NULL, OPT_JSON},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  int flags = 0;
  int rc = ar__ctl_parse_flags(argc, argv, longopts, list_usage, &flags, 0, 0);
  if (rc != ARENACTL_OK)
    return rc < 0 ? ARENACTL_OK : rc;

  arenad_t *h = ar__ctl_connect("list", NULL);
  if (h == NULL)
    return ARENACTL_FAIL;
  arenad_arena_t *a;
  size_t n;
  rc = arenad_list(h, &a, &n);
  if (rc < 0) {
    rc = ar__ctl_fail("list", h, rc, "list");
    arenad_close(h);
    return rc;
  }
  arenad_close(h);

  if (flags & OPT_JSON) {
    json_t *arr = json_array();
    for (size_t i = 0; arr != NULL && i < n; i++) {
      json_t *o = ar__ctl_arena_json(&a[i]);
      if (o == NULL || json_array_append_new(arr, o) < 0) {
        json_decref(arr);
        arr = NULL;
      }
    }
    arenad_list_destroy(a);
    return ar__ctl_print_json("list", arr);
  }

  int width = 4;
  for (size_t i = 0; i < n; i++)
    if ((int)strlen(a[i].name) > width)
      width = (int)strlen(a[i].name);
  printf("%-*s  %10s  %-6s  %10s  %10s  %8s  %-5s %6s %6s  %s\n", width,
         "NAME", "SIZE", "POLICY", "USED", "FREE", "BLOCKS", "MODE", "UID",
         "GID", "QUOTA");
  for (size_t i = 0; i < n; i++) {
    /* QUOTA: bytes/blocks per connection, "-" where there is none. */
    char sz[32], used[32], fr[32], qb[32] = "-", qn[32] = "-", quota[80];
    if (a[i].quota_bytes != 0)
      ar__ctl_bytes(qb, sizeof qb, a[i].quota_bytes);
    if (a[i].quota_blocks != 0)
      snprintf(qn, sizeof qn, "%llu", (unsigned long long)a[i].quota_blocks);
    snprintf(quota, sizeof quota, "%s/%s", qb, qn);
    printf("%-*s  %10s  %-6s  %10s  %10s  %8llu  %04o  %6u %6u  %s\n", width,
           a[i].name, ar__ctl_bytes(sz, sizeof sz, a[i].size),
           arenad_policy_name(a[i].policy),
           ar__ctl_bytes(used, sizeof used, a[i].used_bytes),
           ar__ctl_bytes(fr, sizeof fr, a[i].free_bytes),
           (unsigned long long)a[i].live_blocks, (unsigned)a[i].access.mode,
           (unsigned)a[i].access.owner_uid, (unsigned)a[i].access.group_gid,
           quota);
  }
  arenad_list_destroy(a);
  return ar__ctl_flush("list");
}

/* ---- inspect ------------------------------------------------------------- */

static void inspect_usage(FILE *out) {
  fprintf(out,
          "usage: arenactl [--socket PATH] inspect ARENA [--free-list]\n"
          "                [--blocks] [--detached] [--from OFFSET]\n"
          "                [--limit N] [--json]\n"
          "\n"
          "Prints ARENA's summary and, when asked, its free extents, all\n"
          "its extents (allocated and free) or its detached blocks, in\n"
          "address order, fetched page by page.\n"
          "\n"
          "  --from OFFSET  list the extents that start at or after OFFSET\n"
          "                 (a block starts 16 bytes before its payload,\n"
          "                 or A bytes in a buddy arena for an alignment A)\n"
          "  --limit N      list at most N extents in each listing, and say\n"
          "                 where the next ones start\n"
          "  --json         print one JSON document instead of tables\n");
}

/* Where inspect's listings begin and end: the extents that start at or
 * after `from`, at most `limit` of them (0: all), in pages of at most
 * `max_page` (the daemon's, from hello). */
typedef struct range_s {
  uint64_t from;
  uint64_t limit;
  uint32_t max_page;
} range_t;

/* The page size to ask for when `listed` extents of a listing limited to
 * r->limit are out: what is left, within the daemon's max_page (so that
 * no request passes it and counts as clamped), or 0 for the daemon's
 * default when there is no limit. */
static uint32_t page_limit(const range_t *r, uint64_t listed) {
  if (r->limit == 0)
    return 0;
  uint64_t left = r->limit - listed;
  uint64_t most = r->max_page ? r->max_page : UINT32_MAX;
  return (uint32_t)(left < most ? left : most);
}

/* Prints v (stolen) as the value at `depth` of a document that
 * ar__ctl_print_json would print whole (ARENACTL_JSON_FLAGS): each of its
 * lines after the first is indented 2 * depth spaces further. No JSON
 * string holds a raw newline, so every newline of the dump ends a line.
 * Returns 0, or -1 when v is NULL or memory runs out. */
static int print_json_at(json_t *v, int depth) {
  char *text = v != NULL ? json_dumps(v, ARENACTL_JSON_FLAGS) : NULL;
  json_decref(v);
  if (text == NULL)
    return -1;
  const char *p = text;
  for (const char *nl; (nl = strchr(p, '\n')) != NULL; p = nl + 1)
    printf("%.*s%*s", (int)(nl + 1 - p), p, 2 * depth, "");
  fputs(p, stdout);
  free(text);
  return 0;
}

/* walk's return when memory for the JSON runs out (library codes are
 * negative). */
#define NO_JSON_MEMORY 1

/* With --limit, says where the listing goes on: in text, a line after it
 * unless it reached the arena's end; in JSON, always, as the key
 * "<key>_next" (the arena's size at the end), so that a script pages with
 * --from until that equals the summary's size. */
static void print_next(const range_t *r, bool json, const char *key,
                       uint64_t next, bool done) {
  if (r->limit == 0)
    return;
  if (json)
    printf(",\n  \"%s_next\": %llu", key, (unsigned long long)next);
  else if (!done)
    printf("(stopped at --limit %llu; the next extents: --from %llu)\n",
           (unsigned long long)r->limit, (unsigned long long)next);
}

/* Walks one listing of the arena from r->from to its end, or to r->limit
 * extents, a page a request, printing each page's extents as it comes:
 * under `title` (text), or as the array that is the value of `key` in
 * the document inspect prints (JSON; the key is printed with the first
 * page, as the title is). Returns 0, a library code, or NO_JSON_MEMORY. */
static int walk(arenad_t *h, const char *arena, arenad_inspect_what_t what,
                const range_t *r, bool json, const char *key,
                const char *title) {
  uint64_t cursor = r->from;
  bool first = true;
  size_t listed = 0;
  for (;;) {
    arenad_page_t *page;
    int rc =
        arenad_inspect(h, arena, what, cursor, page_limit(r, listed), &page);
    if (rc < 0)
      return rc;
    if (first && json) {
      printf(",\n  \"%s\": [", key);
    } else if (first) {
      printf("\n%s\n", title);
      print_extent_header(what == ARENAD_INSPECT_FREE_LIST);
    }
    first = false;
    for (size_t i = 0; i < page->n_extents; i++, listed++) {
      if (!json) {
        print_extent(&page->extents[i]);
        continue;
      }
      fputs(listed ? ",\n    " : "\n    ", stdout);
      if (print_json_at(extent_json(&page->extents[i]), 2) < 0) {
        arenad_page_destroy(page);
        return NO_JSON_MEMORY;
      }
    }
    bool done = page->next_cursor == page->summary.size;
    cursor = page->next_cursor;
    arenad_page_destroy(page);
    if (done || (r->limit != 0 && listed == r->limit)) {
      if (json)
        fputs(listed ? "\n  ]" : "]", stdout);
      print_next(r, json, key, cursor, done);
      return 0;
    }
  }
}

enum { OPT_FROM = 'f', OPT_LIMIT = 'l' };

/* inspect's options: the listings asked for into *flags (OPT_*), and
 * --from and --limit into *r. Returns ARENACTL_OK, -1 after --help, or
 * ARENACTL_USAGE (after saying why). */
static int inspect_options(int argc, char **argv, int *flags, range_t *r) {
  static const struct option longopts[] = {
      {"json", no_argument, NULL, OPT_JSON},
      {"free-list", no_argument, NULL, OPT_FREE_LIST},
      {"blocks", no_argument, NULL, OPT_BLOCKS},
      {"detached", no_argument, NULL, OPT_DETACHED},
      {"from", required_argument, NULL, OPT_FROM},
      {"limit", required_argument, NULL, OPT_LIMIT},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  *flags = 0;
  *r = (range_t){0};
  optind = 0;
  int c;
  while ((c = ar__ctl_getopt(argc, argv, longopts)) != -1) {
    switch (c) {
    case OPT_FROM:
      if (ar__ctl_parse_u64(optarg, &r->from) < 0) {
        fprintf(stderr,
                "arenactl inspect: invalid --from '%s' (an offset in the "
                "arena)\n",
                optarg);
        return ARENACTL_USAGE;
      }
      break;
    case OPT_LIMIT:
      if (ar__ctl_parse_u64(optarg, &r->limit) < 0 || r->limit == 0) {
        fprintf(stderr,
                "arenactl inspect: invalid --limit '%s' (a count of "
                "extents, at least 1)\n",
                optarg);
        return ARENACTL_USAGE;
      }
      break;
    case OPT_JSON:
    case OPT_FREE_LIST:
    case OPT_BLOCKS:
    case OPT_DETACHED:
      *flags |= c;
      break;
    case 'h':
      inspect_usage(stdout);
      return -1;
    default:
      return ar__ctl_bad_option(c, argv, inspect_usage);
    }
  }
  bool listing = (*flags & (OPT_FREE_LIST | OPT_BLOCKS | OPT_DETACHED)) != 0;
  if (!listing && (r->from != 0 || r->limit != 0)) {
    fprintf(stderr, "arenactl inspect: --from and --limit need a listing "
                    "(--free-list, --blocks or --detached)\n");
    return ARENACTL_USAGE;
  }
  return ar__ctl_check_args(argc, argv, inspect_usage, 1, 1);
}

int ar__cmd_inspect(int argc, char **argv) {
  int flags;
  range_t range;
  int rc = inspect_options(argc, argv, &flags, &range);
  if (rc != ARENACTL_OK)
    return rc < 0 ? ARENACTL_OK : rc;
  const char *arena = argv[optind];
  if (ar__ctl_arena_arg("inspect", arena) != ARENACTL_OK)
    return ARENACTL_USAGE;
  bool json = (flags & OPT_JSON) != 0;

  arenad_hello_t hi;
  arenad_t *h = ar__ctl_connect("inspect", &hi);
  if (h == NULL)
    return ARENACTL_FAIL;
  range.max_page = hi.max_page;

  /* The summary first, then each listing asked for. The JSON document is
   * {"summary": {...}, "free_list": [...], ...}, printed piece by piece:
   * a walk that fails part way leaves what it printed, and the exit
   * status and the message on standard error say it failed. */
  arenad_page_t *page;
  rc = arenad_inspect(h, arena, ARENAD_INSPECT_SUMMARY, 0, 0, &page);
  if (rc < 0) {
    rc = ar__ctl_fail("inspect", h, rc, arena);
    arenad_close(h);
    return rc;
  }
  if (range.from > page->summary.size) { /* only with a listing */
    fprintf(stderr,
            "arenactl inspect: %s: --from %llu is past the arena's end "
            "(%llu bytes)\n",
            arena, (unsigned long long)range.from,
            (unsigned long long)page->summary.size);
    arenad_page_destroy(page);
    arenad_close(h);
    return ARENACTL_FAIL;
  }
  if (json) {
    fputs("{\n  \"summary\": ", stdout);
    rc =
        print_json_at(summary_json(&page->summary), 1) < 0 ? NO_JSON_MEMORY : 0;
  } else {
    print_summary(&page->summary);
  }
  arenad_page_destroy(page);

  static const struct {
    int flag;
    arenad_inspect_what_t what;
    const char *key;
    const char *title;
  } lists[] = {
      {OPT_FREE_LIST, ARENAD_INSPECT_FREE_LIST, "free_list", "free list:"},
      {OPT_BLOCKS, ARENAD_INSPECT_BLOCKS, "blocks", "blocks:"},
      {OPT_DETACHED, ARENAD_INSPECT_DETACHED, "detached", "detached blocks:"},
  };
  for (size_t i = 0; i < sizeof lists / sizeof lists[0] && rc == 0; i++)
    if ((flags & lists[i].flag) != 0)
      rc = walk(h, arena, lists[i].what, &range, json, lists[i].key,
                lists[i].title);
  if (rc != 0 && json)
    fputc('\n', stdout); /* ends the partial document's last line */
  if (rc == NO_JSON_MEMORY) {
    fprintf(stderr, "arenactl inspect: out of memory for the JSON output\n");
    arenad_close(h);
    return ARENACTL_FAIL;
  }
  if (rc < 0) {
    rc = ar__ctl_fail("inspect", h, rc, arena);
    arenad_close(h);
    return rc;
  }
  arenad_close(h);
  if (json)
    fputs("\n}\n", stdout);
  return ar__ctl_flush("inspect");
}

/* ---- check --------------------------------------------------------------- */

static void check_usage(FILE *out) {
  fprintf(out,
          "usage: arenactl [--socket PATH] check ARENA [--json]\n"
          "\n"
          "Runs the engine's integrity check on ARENA inside the daemon.\n"
          "Exit status 0 when every invariant holds; 1, with the broken\n"
          "invariant, its offset and a sentence on standard error, when one\n"
          "does not (or when the check could not run).\n"
          "\n"
          "It also counts the live blocks whose header (the 16 bytes before\n"
          "the payload) a client has overwritten, and prints a line when\n"
          "there are any: that is client memory, not the daemon's index, so\n"
          "it does not change the exit status (the blocks are still freed\n"
          "correctly).\n");
}

int ar__cmd_check(int argc, char **argv) {
  static const struct option longopts[] = {
      {"json", no_argument, NULL, OPT_JSON},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  int flags = 0;
  int rc = ar__ctl_parse_flags(argc, argv, longopts, check_usage, &flags, 1, 1);
  if (rc != ARENACTL_OK)
    return rc < 0 ? ARENACTL_OK : rc;
  const char *arena = argv[optind];
  if (ar__ctl_arena_arg("check", arena) != ARENACTL_OK)
    return ARENACTL_USAGE;

  arenad_t *h = ar__ctl_connect("check", NULL);
  if (h == NULL)
    return ARENACTL_FAIL;
  arenad_check_t c;
  rc = arenad_check(h, arena, &c);
  if (rc < 0 && rc != AR_ECORRUPT) {
    rc = ar__ctl_fail("check", h, rc, arena);
    arenad_close(h);
    return rc;
  }
  arenad_close(h);

  int status = rc == 0 ? ARENACTL_OK : ARENACTL_FAIL;
  if (rc == AR_ECORRUPT)
    fprintf(stderr,
            "arenactl check: %s: invariant '%s' broken at offset %llu: %s\n",
            arena, c.invariant, (unsigned long long)c.offset, c.detail);
  if (flags & OPT_JSON) {
    json_t *o = json_pack(
        "{s:s, s:b, s:o, s:o, s:o, s:o, s:o}", "arena", arena, "ok", rc == 0,
        "invariant", ar__ctl_json_text(c.invariant), "offset",
        ar__ctl_json_u64(c.offset), "detail", ar__ctl_json_text(c.detail),
        "headers_overwritten", ar__ctl_json_u64(c.headers_overwritten),
        "first_overwritten", ar__ctl_json_u64(c.first_overwritten));
    int prc = ar__ctl_print_json("check", o);
    return status != ARENACTL_OK ? status : prc;
  }
  if (rc == 0)
    printf("%s: ok\n", arena);
  if (c.headers_overwritten > 0)
    printf("%s: %llu live block%s with a header overwritten by a client, "
           "the first at offset %llu (freed correctly all the same)\n",
           arena, (unsigned long long)c.headers_overwritten,
           c.headers_overwritten == 1 ? "" : "s",
           (unsigned long long)c.first_overwritten);
  int frc = ar__ctl_flush("check");
  return status != ARENACTL_OK ? status : frc;
}
