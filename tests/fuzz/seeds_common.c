/*
 * seeds_common.c: the part of make_seeds that every seed writer uses: a
 * seed's bytes (put, and frame, which packs a Request with protobuf-c and
 * frames it as the daemon reads it, with the next id), die, the scratch
 * buffers, and the files the seeds go to (write_file, under the directory
 * main was given). Their comments, and who owns what, are in
 * make_seeds.h.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ar/frame.h"
#include "make_seeds.h"

uint64_t next_id = 1;

void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "make_seeds: ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  exit(1);
}

void put(out_t *o, const void *p, size_t n) {
  if (o->n + n > BUF_MAX)
    die("a seed over %d bytes", BUF_MAX);
  memcpy(o->p + o->n, p, n);
  o->n += n;
}

void frame(out_t *o, Arenad__Request *q) {
  q->id = next_id++;
  size_t n = arenad__request__get_packed_size(q);
  uint8_t prefix[AR_FRAME_PREFIX_MAX];
  put(o, prefix, ar_frame_encode(prefix, n));
  if (o->n + n > BUF_MAX)
    die("a seed over %d bytes", BUF_MAX);
  arenad__request__pack(q, o->p + o->n);
  o->n += n;
}

/* ---- Files --------------------------------------------------------------- */

const char *seeds_dir;

void write_file(const char *sub, const char *name, const out_t *o) {
  char path[4096];
  snprintf(path, sizeof(path), "%s/%s", seeds_dir, sub);
  if (mkdir(path, 0755) < 0 && errno != EEXIST)
    die("mkdir %s: %s", path, strerror(errno));
  snprintf(path, sizeof(path), "%s/%s/%s", seeds_dir, sub, name);
  FILE *f = fopen(path, "wb");
  if (f == NULL || fwrite(o->p, 1, o->n, f) != o->n || fclose(f) != 0)
    die("write %s: %s", path, strerror(errno));
}

void reset(out_t *o) {
  o->n = 0;
  next_id = 1;
}
