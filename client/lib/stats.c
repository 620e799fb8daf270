/*
 * stats.c: the daemon's counters as a flat list of (name, value) pairs,
 * made by walking StatsReply through protobuf-c's field descriptors. This
 * is the one producer of statistics: renderers (arenactl's table and JSON)
 * need no code per counter, and a counter added to the protocol shows up
 * without a change here. Nested messages (requests, errors) become dotted
 * names; an absent nested message is walked as its defaults, so that the
 * list always has the same shape.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* The longest dotted prefix of a nested message's names, NUL included. */
#define PREFIX_MAX 128

/* The walk is run twice: once to count (out == NULL), once to fill. */
typedef struct walk_s {
  arenad_stat_t *out; /* NULL while counting */
  char *strings;      /* where the next string goes (filling) */
  size_t count;       /* pairs */
  size_t bytes;       /* string bytes, NULs included */
  /* The nested message whose prefix is over PREFIX_MAX, when that stopped
   * the walk (its descriptor's, static); NULL when no memory did. */
  const ProtobufCFieldDescriptor *too_long;
} walk_t;

static const char *add_str(walk_t *w, const char *a, const char *b) {
  size_t la = strlen(a), lb = b != NULL ? strlen(b) : 0;
  if (w->out == NULL) {
    w->bytes += la + lb + 1;
    return NULL;
  }
  char *p = w->strings;
  memcpy(p, a, la);
  if (lb > 0)
    memcpy(p + la, b, lb);
  p[la + lb] = '\0';
  w->strings += la + lb + 1;
  return p;
}

/* Adds one pair; the name is prefix + field name. */
static arenad_stat_t *add_stat(walk_t *w, const char *prefix,
                               const ProtobufCFieldDescriptor *f) {
  const char *name = add_str(w, prefix, f->name);
  w->count++;
  if (w->out == NULL)
    return NULL;
  arenad_stat_t *s = &w->out[w->count - 1];
  memset(s, 0, sizeof *s);
  s->name = name;
  return s;
}

static void set_uint(arenad_stat_t *s, uint64_t v) {
  s->type = ARENAD_STAT_UINT;
  s->u = v;
}

static void set_double(arenad_stat_t *s, double v) {
  s->type = ARENAD_STAT_DOUBLE;
  s->d = v;
}

/* A signed value: a count when not negative, else a double. */
static void set_signed(arenad_stat_t *s, int64_t v) {
  if (v >= 0)
    set_uint(s, (uint64_t)v);
  else
    set_double(s, (double)v);
}

static void set_bool(arenad_stat_t *s, protobuf_c_boolean v) {
  set_uint(s, v ? 1 : 0);
}

/* Sets s's type and value from the scalar of protobuf type `type` at p
 * (a field of a message); a type that is no number reads as 0. */
static void read_scalar(arenad_stat_t *s, ProtobufCType type, const char *p) {
  /* Reads a T at p (which may be unaligned) and stores it with set. */
#define READ_AS(T, set)                                                        \
  do {                                                                         \
    T v_;                                                                      \
    memcpy(&v_, p, sizeof v_);                                                 \
    set(s, v_);                                                                \
  } while (0)
  switch (type) {
  case PROTOBUF_C_TYPE_UINT64:
  case PROTOBUF_C_TYPE_FIXED64:
    READ_AS(uint64_t, set_uint);
    break;
  case PROTOBUF_C_TYPE_UINT32:
  case PROTOBUF_C_TYPE_FIXED32:
    READ_AS(uint32_t, set_uint);
    break;
  case PROTOBUF_C_TYPE_INT64:
  case PROTOBUF_C_TYPE_SINT64:
  case PROTOBUF_C_TYPE_SFIXED64:
    READ_AS(int64_t, set_signed);
    break;
  case PROTOBUF_C_TYPE_INT32:
  case PROTOBUF_C_TYPE_SINT32:
  case PROTOBUF_C_TYPE_SFIXED32:
  case PROTOBUF_C_TYPE_ENUM:
    READ_AS(int32_t, set_signed);
    break;
  case PROTOBUF_C_TYPE_BOOL:
    READ_AS(protobuf_c_boolean, set_bool);
    break;
  case PROTOBUF_C_TYPE_FLOAT:
    READ_AS(float, set_double);
    break;
  case PROTOBUF_C_TYPE_DOUBLE:
    READ_AS(double, set_double);
    break;
  default:
    s->type = ARENAD_STAT_UINT;
    break;
  }
#undef READ_AS
}

static int walk(walk_t *w, const ProtobufCMessageDescriptor *d,
                const ProtobufCMessage *m, const char *prefix);

/* Walks nested message field f of m, named prefix.f.*. */
static int walk_nested(walk_t *w, const ProtobufCFieldDescriptor *f,
                       const ProtobufCMessage *sub, const char *prefix) {
  const ProtobufCMessageDescriptor *sd = f->descriptor;
  char name[PREFIX_MAX];
  size_t lp = strlen(prefix), lf = strlen(f->name);
  if (lp + lf + 2 > sizeof name) {
    w->too_long = f;
    return AR_EINTERNAL;
  }
  memcpy(name, prefix, lp);
  memcpy(name + lp, f->name, lf);
  name[lp + lf] = '.';
  name[lp + lf + 1] = '\0';

  ProtobufCMessage *defaults = NULL;
  if (sub == NULL) {
    defaults = calloc(1, sd->sizeof_message);
    if (defaults == NULL)
      return AR_EINTERNAL;
    protobuf_c_message_init(sd, defaults);
    sub = defaults;
  }
  int rc = walk(w, sd, sub, name);
  free(defaults);
  return rc;
}

static int walk(walk_t *w, const ProtobufCMessageDescriptor *d,
                const ProtobufCMessage *m, const char *prefix) {
  for (unsigned i = 0; i < d->n_fields; i++) {
    const ProtobufCFieldDescriptor *f = &d->fields[i];
    if (f->label == PROTOBUF_C_LABEL_REPEATED)
      continue; /* no lists among the counters */
    const char *p = (const char *)m + f->offset;
    if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
      const ProtobufCMessage *sub;
      memcpy(&sub, p, sizeof sub);
      int rc = walk_nested(w, f, sub, prefix);
      if (rc < 0)
        return rc;
      continue;
    }
    if (f->type == PROTOBUF_C_TYPE_BYTES)
      continue;
    arenad_stat_t *s = add_stat(w, prefix, f);
    if (f->type == PROTOBUF_C_TYPE_STRING) {
      const char *str;
      memcpy(&str, p, sizeof str);
      const char *copy = add_str(w, str != NULL ? str : "", NULL);
      if (s != NULL) {
        s->type = ARENAD_STAT_STRING;
        s->s = copy;
      }
      continue;
    }
    if (s != NULL)
      read_scalar(s, f->type, p);
  }
  return 0;
}

int arenad_stats(arenad_t *h, arenad_stat_t **out, size_t *n) {
  if (out == NULL || n == NULL)
    return arenad__fail(h, AR_EINVAL, "no place for the result");
  *out = NULL;
  *n = 0;
  Arenad__StatsRequest body = ARENAD__STATS_REQUEST__INIT;
  Arenad__Request req = ARENAD__REQUEST__INIT;
  req.body_case = ARENAD__REQUEST__BODY_STATS;
  req.stats = &body;

  Arenad__Response *r;
  int rc = arenad__call(h, &req, false, &r);
  if (r == NULL || rc < 0) {
    arenad__response_free(h, r);
    return rc;
  }
  const ProtobufCMessage *m = &r->stats->base;
  const ProtobufCMessageDescriptor *d = &arenad__stats_reply__descriptor;
  walk_t w = {0};
  rc = walk(&w, d, m, "");
  arenad_stat_t *stats = NULL;
  if (rc == 0 && w.count > 0) {
    stats = malloc(w.count * sizeof *stats + w.bytes);
    if (stats == NULL) {
      rc = AR_EINTERNAL;
    } else {
      size_t count = w.count;
      w = (walk_t){.out = stats, .strings = (char *)(stats + count)};
      rc = walk(&w, d, m, "");
    }
  }
  arenad__response_free(h, r);
  if (rc < 0) {
    free(stats);
    if (w.too_long != NULL)
      return arenad__fail(h, rc,
                          "the statistics in '%s' have a dotted prefix "
                          "longer than the library's %d bytes",
                          w.too_long->name, PREFIX_MAX - 1);
    return arenad__fail(h, rc, "no memory for the statistics");
  }
  *out = stats;
  *n = w.count;
  return 0;
}

void arenad_stats_destroy(arenad_stat_t *stats) {
  free(stats);
}
