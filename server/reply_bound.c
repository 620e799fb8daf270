/*
 * reply_bound.c: the reply sizes of reply_bound.h. Each function builds
 * the widest reply of its kind in memory of its own (freed before it
 * returns) and asks protobuf-c for its packed size: numbers at their
 * largest values, statuses at the largest code, the message at the most
 * ad_fail writes.
 */
#include "reply_bound.h"

#include <stdlib.h>
#include <string.h>

#include "ar/engine.h"
#include "ar/error.h"
#include "ar/errorf.h"
#include "ar/frame.h"
#include "dispatch.h"

/* The largest value of an enum on the wire. */
static int enum_max(const ProtobufCEnumDescriptor *e) {
  int max = 0;
  for (unsigned i = 0; i < e->n_values; i++)
    if (e->values[i].value > max)
      max = e->values[i].value;
  return max;
}

/* The envelope at its widest: the largest id and status, and a message of
 * the most bytes a handler's message can have (`text`, AD_MESSAGE_MAX + 1
 * bytes of the caller's). */
static void widest_envelope(Arenad__Response *resp, char *text) {
  memset(text, 'x', AD_MESSAGE_MAX);
  text[AD_MESSAGE_MAX] = '\0';
  resp->id = UINT64_MAX;
  resp->status = (Arenad__Status)enum_max(&arenad__status__descriptor);
  resp->message = text;
}

size_t ad_reply_inspect_room(size_t max_frame) {
  char text[AD_MESSAGE_MAX + 1];
  Arenad__InspectReply empty = ARENAD__INSPECT_REPLY__INIT;
  Arenad__Response resp = ARENAD__RESPONSE__INIT;
  widest_envelope(&resp, text);
  resp.body_case = ARENAD__RESPONSE__BODY_INSPECT;
  resp.inspect = &empty;
  /* Everything but the body and its length: the envelope, the body's tag.
   * A field's length is the same varint as a frame's prefix. */
  size_t body = arenad__inspect_reply__get_packed_size(&empty);
  size_t around = arenad__response__get_packed_size(&resp) - body -
                  ar_frame_prefix_size(body);
  /* The largest body whose length, in k bytes, fits beside it. */
  for (size_t k = 1; k <= 10 && around + k <= max_frame; k++)
    if (ar_frame_prefix_size(max_frame - around - k) <= k)
      return max_frame - around - k;
  return 0;
}

size_t ad_reply_max_list(const char *const *names, size_t n) {
  Arenad__ArenaInfo *infos = calloc(n ? n : 1, sizeof(*infos));
  Arenad__ArenaInfo **ptrs = calloc(n ? n : 1, sizeof(*ptrs));
  if (infos == NULL || ptrs == NULL) {
    free(infos);
    free(ptrs);
    return SIZE_MAX; /* too large to promise anything */
  }
  Arenad__Access access = ARENAD__ACCESS__INIT;
  access.mode = UINT32_MAX;
  access.owner_uid = UINT32_MAX;
  access.group_gid = UINT32_MAX;
  Arenad__Policy policy = (Arenad__Policy)enum_max(&arenad__policy__descriptor);
  for (size_t i = 0; i < n; i++) {
    Arenad__ArenaInfo *info = &infos[i];
    arenad__arena_info__init(info);
    info->name = (char *)names[i];
    info->size = UINT64_MAX;
    info->policy = policy;
    info->used_bytes = info->free_bytes = info->live_blocks = UINT64_MAX;
    info->quota_bytes = info->quota_blocks = UINT64_MAX;
    info->access = &access;
    ptrs[i] = info;
  }
  Arenad__ListReply list = ARENAD__LIST_REPLY__INIT;
  list.arenas = ptrs;
  list.n_arenas = n;
  /* A list is only sent with status OK, so no message. */
  Arenad__Response resp = ARENAD__RESPONSE__INIT;
  resp.id = UINT64_MAX;
  resp.body_case = ARENAD__RESPONSE__BODY_LIST;
  resp.list = &list;
  size_t bytes = arenad__response__get_packed_size(&resp);
  free(ptrs);
  free(infos);
  return bytes;
}

size_t ad_reply_max_list_plus(const ad_daemon_t *d, const char *name) {
  const char **names = calloc(d->narenas + 1, sizeof(*names));
  if (names == NULL)
    return SIZE_MAX;
  for (size_t i = 0; i < d->narenas; i++)
    names[i] = d->arenas[i]->name;
  names[d->narenas] = name;
  size_t bytes = ad_reply_max_list(names, d->narenas + 1);
  free(names);
  return bytes;
}

size_t ad_reply_max_blocks(uint64_t count) {
  if (count > SIZE_MAX / sizeof(uint64_t))
    return SIZE_MAX;
  size_t k = (size_t)count;
  uint64_t *offsets = malloc((k ? k : 1) * sizeof(*offsets));
  Arenad__Status *statuses = malloc((k ? k : 1) * sizeof(*statuses));
  uint32_t *indices = malloc((k ? k : 1) * sizeof(*indices));
  if (offsets == NULL || statuses == NULL || indices == NULL) {
    free(offsets);
    free(statuses);
    free(indices);
    return SIZE_MAX;
  }
  Arenad__Status status = (Arenad__Status)enum_max(&arenad__status__descriptor);
  for (size_t i = 0; i < k; i++) {
    offsets[i] = AR_ARENA_MAX - 1; /* the largest offset in any arena */
    statuses[i] = status;
    indices[i] = (uint32_t)i;
  }
  char text[AD_MESSAGE_MAX + 1];

  /* alloc: offsets only with status OK */
  Arenad__AllocReply alloc = ARENAD__ALLOC_REPLY__INIT;
  alloc.offsets = offsets;
  alloc.n_offsets = k;
  Arenad__Response resp = ARENAD__RESPONSE__INIT;
  resp.id = UINT64_MAX;
  resp.body_case = ARENAD__RESPONSE__BODY_ALLOC;
  resp.alloc = &alloc;
  size_t bytes = arenad__response__get_packed_size(&resp);

  /* free: its reply stays on an error, with the message; every offset
   * with a status and named as overwritten (more than a reply can have:
   * an overwritten one succeeded, so not all failed) */
  Arenad__FreeReply fr = ARENAD__FREE_REPLY__INIT;
  fr.freed = fr.reclaimed = UINT32_MAX;
  fr.statuses = statuses;
  fr.n_statuses = k;
  fr.overwritten = indices;
  fr.n_overwritten = k;
  resp = (Arenad__Response)ARENAD__RESPONSE__INIT;
  widest_envelope(&resp, text);
  resp.body_case = ARENAD__RESPONSE__BODY_FREE;
  resp.free = &fr;
  size_t free_bytes = arenad__response__get_packed_size(&resp);

  free(offsets);
  free(statuses);
  free(indices);
  return bytes > free_bytes ? bytes : free_bytes;
}

int ad_reply_check_config(const ad_config_t *cfg, char *err, size_t errlen) {
  size_t blocks = ad_reply_max_blocks(cfg->max_blocks_per_request);
  if (blocks > cfg->max_frame_bytes)
    return ar_errorf(err, errlen, AR_EINVAL,
                     "max_frame_bytes (%llu) cannot hold the reply to an "
                     "alloc of max_blocks_per_request (%llu) blocks, up to "
                     "%zu bytes: raise the one or lower the other",
                     (unsigned long long)cfg->max_frame_bytes,
                     (unsigned long long)cfg->max_blocks_per_request, blocks);
  const char **names = calloc(cfg->narenas ? cfg->narenas : 1, sizeof(*names));
  if (names == NULL)
    return ar_errorf(err, errlen, AR_EINTERNAL, "out of memory");
  for (size_t i = 0; i < cfg->narenas; i++)
    names[i] = cfg->arenas[i].name;
  size_t list = ad_reply_max_list(names, cfg->narenas);
  free(names);
  if (list > cfg->max_frame_bytes)
    return ar_errorf(err, errlen, AR_EINVAL,
                     "max_frame_bytes (%llu) cannot hold the list of the "
                     "%zu arenas configured, up to %zu bytes: raise it or "
                     "configure fewer arenas",
                     (unsigned long long)cfg->max_frame_bytes, cfg->narenas,
                     list);
  return 0;
}
