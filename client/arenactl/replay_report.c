/*
 * replay_report.c: prints what `arenactl replay` measured, as a table for a
 * person or as JSON for a program. Both renderers read the same report
 * (the offline replay, cmd_replay.c, and the one through the daemon,
 * cmd_replay_daemon.c, produce it) so they cannot disagree; the JSON is
 * built with jansson, never by hand.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>

#include <jansson.h>

#include "arenactl.h"

/* ---- table ----------------------------------------------------------- */

static double per_op(double ns, size_t nops) {
  return nops ? ns / (double)nops : 0.0;
}

static const char *trace_name(const ar__replay_report_t *r) {
  return ar__replay_is_stdio(r->trace) ? "(standard input)" : r->trace;
}

/* One policy: one figure a line. */
static void table_one(FILE *out, const ar__replay_report_t *r) {
  const ar__replay_result_t *res = &r->results[0];
  const ar_replay_summary_t *s = &res->sum;
  bool buddy = s->policy == AR_POLICY_BUDDY;
  char arena[64];
  ar__ctl_bytes_exact(arena, sizeof arena, r->arena_size);

#define ROW_S(label, v) fprintf(out, "%-26s %s\n", label, v)
#define ROW_U(label, v) fprintf(out, "%-26s %" PRIu64 "\n", label, (uint64_t)(v))
#define ROW_F(label, v) fprintf(out, "%-26s %.4f\n", label, v)
  ROW_S("trace", trace_name(r));
  ROW_S("policy", ar_policy_name(s->policy));
  ROW_S("arena size", arena);
  ROW_U("operations", s->operations);
  ROW_U("allocations", s->allocations);
  ROW_U("failed allocations", s->failed_allocs);
  ROW_U("frees", s->frees);
  ROW_U("skipped frees", s->skipped_frees);
  ROW_U("hwm", s->hwm);
  ROW_U("peak_live", s->peak_live);
  ROW_U("peak_blocks", s->peak_blocks);
  ROW_U("live blocks at end", s->live_blocks);
  ROW_U("free bytes at end", s->free_bytes);
  ROW_U(buddy ? "free blocks at end" : "free intervals at end",
        s->free_intervals);
  ROW_U(buddy ? "largest free block at end" : "largest free at end",
        s->largest_free);
  ROW_F("hwm/peak_live-1", s->frag_hwm_live);
  ROW_F("hwm/peak_blocks-1", s->frag_hwm_blocks);
  ROW_F("peak_blocks/peak_live-1", s->frag_blocks_live);
  ROW_U("engine memory peak", s->memory_peak);
#undef ROW_S
#undef ROW_U
#undef ROW_F
  fprintf(out, "%-26s %.1f ms (%.1f ns/op)\n", "parse time",
          r->parse_ns / 1e6, per_op(r->parse_ns, r->nops));
  fprintf(out, "%-26s %.1f ms (%.1f ns/op)%s\n", "replay time",
          res->replay_ns / 1e6, per_op(res->replay_ns, r->nops),
          r->logged ? ", writing the placements included" : "");
}

/* Several policies: one a row. */
static void table_many(FILE *out, const ar__replay_report_t *r) {
  char arena[64];
  ar__ctl_bytes_exact(arena, sizeof arena, r->arena_size);
  fprintf(out, "trace %s: %zu operations; arena %s\n", trace_name(r),
          r->nops, arena);
  fprintf(out, "parse time %.1f ms (%.1f ns/op)\n\n", r->parse_ns / 1e6,
          per_op(r->parse_ns, r->nops));
  fprintf(out, "%-6s %8s %14s %16s %18s %24s %12s %8s\n", "policy",
          "failed", "hwm", "hwm/peak_live-1", "hwm/peak_blocks-1",
          "peak_blocks/peak_live-1", "memory peak", "ns/op");
  for (size_t i = 0; i < r->nresults; i++) {
    const ar_replay_summary_t *s = &r->results[i].sum;
    if (r->results[i].not_run[0] != '\0') {
      fprintf(out, "%-6s not run: %s\n", ar_policy_name(s->policy),
              r->results[i].not_run);
      continue;
    }
    fprintf(out,
            "%-6s %8" PRIu64 " %14" PRIu64 " %16.4f %18.4f %24.4f %12" PRIu64
            " %8.1f\n",
            ar_policy_name(s->policy), s->failed_allocs, s->hwm,
            s->frag_hwm_live, s->frag_hwm_blocks, s->frag_blocks_live,
            s->memory_peak, per_op(r->results[i].replay_ns, r->nops));
  }
}

int ar__replay_print_table(FILE *out, const ar__replay_report_t *r) {
  if (r->nresults == 1)
    table_one(out, r);
  else
    table_many(out, r);
  return ferror(out) ? -1 : 0;
}

/* ---- JSON -------------------------------------------------------------- */

/* Adds key = value to obj, taking the value's reference. Returns -1 when
 * the value could not be made or added. */
static int add(json_t *obj, const char *key, json_t *value) {
  return value != NULL && json_object_set_new(obj, key, value) == 0 ? 0 : -1;
}

static json_t *policy_json(const ar__replay_result_t *res, size_t nops) {
  const ar_replay_summary_t *s = &res->sum;
  json_t *o = json_object();
  if (o == NULL)
    return NULL;
  int bad = 0;
  bad |= add(o, "policy", json_string(ar_policy_name(s->policy)));
  bad |= add(o, "operations", json_integer((json_int_t)s->operations));
  bad |= add(o, "allocations", json_integer((json_int_t)s->allocations));
  bad |= add(o, "failed_allocations",
             json_integer((json_int_t)s->failed_allocs));
  bad |= add(o, "frees", json_integer((json_int_t)s->frees));
  bad |= add(o, "skipped_frees", json_integer((json_int_t)s->skipped_frees));
  bad |= add(o, "hwm", json_integer((json_int_t)s->hwm));
  bad |= add(o, "peak_live", json_integer((json_int_t)s->peak_live));
  bad |= add(o, "peak_blocks", json_integer((json_int_t)s->peak_blocks));
  bad |= add(o, "live_blocks", json_integer((json_int_t)s->live_blocks));
  bad |= add(o, "free_bytes", json_integer((json_int_t)s->free_bytes));
  /* for buddy: free blocks, and the largest free block */
  bad |= add(o, "free_intervals", json_integer((json_int_t)s->free_intervals));
  bad |= add(o, "largest_free", json_integer((json_int_t)s->largest_free));
  bad |= add(o, "frag_hwm_live", json_real(s->frag_hwm_live));
  bad |= add(o, "frag_hwm_blocks", json_real(s->frag_hwm_blocks));
  bad |= add(o, "frag_blocks_live", json_real(s->frag_blocks_live));
  bad |= add(o, "memory_peak", json_integer((json_int_t)s->memory_peak));
  bad |= add(o, "replay_seconds", json_real(res->replay_ns / 1e9));
  bad |= add(o, "ns_per_op", json_real(per_op(res->replay_ns, nops)));
  if (bad) {
    json_decref(o);
    return NULL;
  }
  return o;
}

/* The policies that did not run, [{"policy": ..., "reason": ...}], or
 * NULL without memory. */
static json_t *not_run_json(const ar__replay_report_t *r) {
  json_t *a = json_array();
  for (size_t i = 0; a != NULL && i < r->nresults; i++) {
    const ar__replay_result_t *res = &r->results[i];
    if (res->not_run[0] != '\0' &&
        json_array_append_new(a, json_pack("{s:s, s:s}", "policy",
                                           ar_policy_name(res->sum.policy),
                                           "reason", res->not_run)) != 0) {
      json_decref(a);
      a = NULL;
    }
  }
  return a;
}

int ar__replay_print_json(FILE *out, const ar__replay_report_t *r) {
  json_t *root = json_object();
  json_t *policies = json_array();
  int bad = root == NULL || policies == NULL;
  if (!bad) {
    json_t *name = json_string(r->trace);
    if (name == NULL) /* a path that is not UTF-8 */
      name = json_string("(a file name that is not UTF-8)");
    bad |= add(root, "trace", name);
    bad |= add(root, "arena_size", json_integer((json_int_t)r->arena_size));
    bad |= add(root, "operations", json_integer((json_int_t)r->nops));
    bad |= add(root, "parse_seconds", json_real(r->parse_ns / 1e9));
    bad |= add(root, "parse_ns_per_op",
               json_real(per_op(r->parse_ns, r->nops)));
    bad |= add(root, "placements_logged", json_boolean(r->logged));
    for (size_t i = 0; i < r->nresults && !bad; i++)
      if (r->results[i].not_run[0] == '\0')
        bad |= json_array_append_new(policies,
                                     policy_json(&r->results[i], r->nops)) != 0;
    bad |= add(root, "policies", policies);
    policies = NULL; /* root holds it now, or add() freed it */
    json_t *not_run = not_run_json(r);
    if (not_run != NULL && json_array_size(not_run) == 0)
      json_decref(not_run); /* every policy ran: no key */
    else
      bad |= add(root, "not_run", not_run);
  }
  if (!bad)
    bad = json_dumpf(root, out, ARENACTL_JSON_FLAGS) != 0 ||
          fputc('\n', out) == EOF;
  json_decref(policies);
  json_decref(root);
  return bad || ferror(out) ? -1 : 0;
}
