/*
 * fuzz_client_script.c: fuzz_client's script. Each step of the input is a
 * library call (hello, list, attach, alloc, the frees, sharing, inspect,
 * check, stats, arenas made and destroyed, and the pipelined submits and
 * collects) and its arguments, preceded by what the fake daemon writes to
 * its end of the socketpair: nothing, raw bytes, a framed body, the
 * daemon's last word, the end of the stream, or a real Response
 * (fuzz_client_replies.c) to the request it answers (its id and kind) or
 * with one thing wrong. An attach reply passes small memfds. Here a step
 * is decoded, and its reply written to the request the daemon answers
 * next.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ar/frame.h"
#include "arenad.h"
#include "arenad.pb-c.h"
#include "fuzz_client_internal.h"

/* ---- The script ---------------------------------------------------------- */

static uint64_t size_of(uint8_t b) {
  if (b == 0)
    return 0;
  if (b < 0xf8)
    return 8 * (uint64_t)b;
  return (uint64_t)4096 << (b - 0xf8);
}

static uint64_t align_of(uint8_t b) {
  static const uint64_t aligns[8] = {0, 16, 32, 64, 4096, 8, 24, 8192};
  return aligns[b & 7];
}

void fzc_decode_call(const run_t *r, in_t *in, call_t *c) {
  memset(c, 0, sizeof *c);
  c->call = fzc_take(in) % FC_CALLS;
  for (int i = 0; i < 3; i++)
    c->a[i] = fzc_take(in);
  c->name = (c->a[0] & 3) % NAMES; /* the other bits: a count, ... */
  c->size = size_of(c->a[1]);
  c->align = align_of(c->a[2]);
  c->tag = c->a[2];
  c->cursor = c->a[1] < 0xf0 ? 16 * (uint64_t)c->a[1] : UINT64_MAX - c->a[1];
  switch (c->call) {
  case FC_ALLOC:
  case FC_FREE:
  case FC_RETAIN:
  case FC_RELEASE:
  case FC_TRANSFER:
    c->count = 1;
    break;
  case FC_ALLOC_N:
    c->count = 1 + (c->a[0] >> 2) % MAX_OFFSETS;
    break;
  case FC_SUBMIT_ALLOC:
    c->count = (c->a[0] >> 2) % 5; /* 0 means one block */
    break;
  case FC_FREE_N:
  case FC_FREE_EACH:
  case FC_FREE_REPORT:
  case FC_SUBMIT_FREE:
    c->count = 1 + (c->a[0] >> 2) % MAX_OFFSETS;
    break;
  }
  /* Offsets to free or share: ones the daemon gave, or made up. */
  for (uint32_t i = 0; i < MAX_OFFSETS; i++)
    c->offs[i] = (c->a[1] & 0x80) ? 16 * (uint64_t)(c->a[1] + i)
                                  : fzc_pool_pick(r, c->a[1] + i);
}

/* The Response body case of the request a call sends. */
static int kind_of(int call) {
  switch (call) {
  case FC_HELLO:
    return ARENAD__RESPONSE__BODY_HELLO;
  case FC_LIST:
    return ARENAD__RESPONSE__BODY_LIST;
  case FC_ATTACH:
    return ARENAD__RESPONSE__BODY_ATTACH;
  case FC_ALLOC:
  case FC_ALLOC_N:
  case FC_SUBMIT_ALLOC:
    return ARENAD__RESPONSE__BODY_ALLOC;
  case FC_FREE:
  case FC_FREE_N:
  case FC_FREE_EACH:
  case FC_FREE_REPORT:
  case FC_SUBMIT_FREE:
    return ARENAD__RESPONSE__BODY_FREE;
  case FC_RETAIN:
    return ARENAD__RESPONSE__BODY_RETAIN;
  case FC_RELEASE:
    return ARENAD__RESPONSE__BODY_RELEASE;
  case FC_TRANSFER:
    return ARENAD__RESPONSE__BODY_TRANSFER;
  case FC_INSPECT:
    return ARENAD__RESPONSE__BODY_INSPECT;
  case FC_CHECK:
    return ARENAD__RESPONSE__BODY_CHECK;
  case FC_STATS:
    return ARENAD__RESPONSE__BODY_STATS;
  case FC_CREATE:
    return ARENAD__RESPONSE__BODY_CREATE_ARENA;
  case FC_DESTROY:
    return ARENAD__RESPONSE__BODY_DESTROY_ARENA;
  default:
    return ARENAD__RESPONSE__BODY_PING;
  }
}

static int kind_of_op(arenad_op_t op) {
  return op == ARENAD_OP_ALLOC  ? ARENAD__RESPONSE__BODY_ALLOC
         : op == ARENAD_OP_FREE ? ARENAD__RESPONSE__BODY_FREE
                                : ARENAD__RESPONSE__BODY_PING;
}

/* The request the daemon answers next: the oldest in flight it has not
 * answered, else the one this step is about to send (or a later one). */
static target_t next_target(run_t *r, const call_t *c) {
  uint64_t low = r->len > 0 ? fzc_fifo_at(r, 0)->id : r->next_id;
  if (r->reply_id < low)
    r->reply_id = low;
  target_t t = {.id = r->reply_id++,
                .kind = kind_of(c->call),
                .count = c->count ? c->count : 1,
                .cursor = c->cursor};
  if (r->len > 0 && t.id - low < r->len) {
    const pend_t *p = fzc_fifo_at(r, t.id - low);
    t.kind = kind_of_op(p->op);
    t.count = p->count;
  }
  return t;
}

/* Writes one reply of the mode in spec (see fuzz_client.h). */
void fzc_write_reply(run_t *r, in_t *in, uint8_t spec, const call_t *c) {
  int mode = spec & 7;
  if (mode == FC_REPLY_NONE)
    return;
  if (mode == FC_REPLY_EOF) {
    fzc_daemon_end(r, (spec & FC_REPLY_FDS) ? SHUT_RDWR : SHUT_WR);
    return;
  }
  /* The reply's own bytes: raw ones, or the fields of one built. */
  size_t n = fzc_take(in);
  if (n > in->n - in->at)
    n = in->n - in->at;
  in_t f = {.p = in->p + in->at, .n = n};
  in->at += n;

  target_t t = {0};
  bool built = mode == FC_REPLY_OK || mode == FC_REPLY_STATUS ||
               mode == FC_REPLY_TWISTED;
  if (built)
    t = next_target(r, c);

  /* Descriptors: the harness's copies are closed once sent. */
  int fds[SEGMENT_FDS];
  size_t nfds = 0;
  uint64_t seg = 4096;
  bool attach = built && t.kind == ARENAD__RESPONSE__BODY_ATTACH;
  if (attach || (spec & FC_REPLY_FDS)) {
    uint8_t b = fzc_take(&f);
    seg = 4096 * (1 + (uint64_t)((b >> 2) & 15));
    size_t want = attach && !(spec & FC_REPLY_FDS) ? ((b & 3) + 1) % 4
                                                   : 1 + (size_t)(b & 3);
    if (b & 0x40)
      want += 2;
    while (nfds < want && (fds[nfds] = fzc_make_segment(seg)) >= 0)
      nfds++;
  }

  memset(&fzc_B, 0, sizeof fzc_B);
  fzc_B.r = (Arenad__Response)ARENAD__RESPONSE__INIT;
  switch (mode) {
  case FC_REPLY_RAW:
  case FC_REPLY_FRAMED: {
    uint8_t buf[AR_FRAME_PREFIX_MAX + 256];
    size_t len = f.n - f.at;
    size_t p = mode == FC_REPLY_FRAMED ? ar_frame_encode(buf, len) : 0;
    memcpy(buf + p, f.p + f.at, len);
    fzc_daemon_write(r, buf, p + len, fds, nfds);
    break;
  }
  case FC_REPLY_LAST_WORD:
    fzc_B.r.status = (Arenad__Status)(1 + fzc_take(&f) % 9);
    fzc_B.r.message = fzc_text(&f);
    fzc_send_response(r, fds, nfds, 1);
    break;
  default: {
    /* The status or the twist comes first, at a fixed place. */
    uint8_t s = mode != FC_REPLY_OK ? fzc_take(&f) : 0;
    char *message = mode == FC_REPLY_STATUS ? fzc_text(&f) : NULL;
    fzc_B.r.id = t.id;
    fzc_make_body(&f, &t, seg);
    int times = 1;
    if (mode == FC_REPLY_STATUS) {
      fzc_B.r.status = (Arenad__Status)(1 + (s & 0x7f) % 9);
      fzc_B.r.message = message;
      if (!(s & 0x80))
        fzc_B.r.body_case = ARENAD__RESPONSE__BODY__NOT_SET;
    } else if (mode == FC_REPLY_TWISTED) {
      switch (s % 6) {
      case 0:
        fzc_B.r.id++;
        break;
      case 1:
        fzc_B.r.id--;
        break;
      case 2:
        fzc_B.r.id = 0;
        break;
      case 3: /* another kind's body */
        if (fzc_B.r.body_case != ARENAD__RESPONSE__BODY_PING) {
          fzc_B.ping = (Arenad__PingReply)ARENAD__PING_REPLY__INIT;
          fzc_B.r.body_case = ARENAD__RESPONSE__BODY_PING;
          fzc_B.r.ping = &fzc_B.ping;
        } else {
          fzc_B.alloc = (Arenad__AllocReply)ARENAD__ALLOC_REPLY__INIT;
          fzc_B.r.body_case = ARENAD__RESPONSE__BODY_ALLOC;
          fzc_B.r.alloc = &fzc_B.alloc;
        }
        break;
      case 4:
        fzc_B.r.body_case = ARENAD__RESPONSE__BODY__NOT_SET;
        break;
      default:
        times = 2;
      }
    }
    fzc_send_response(r, fds, nfds, times);
  }
  }
  for (size_t i = 0; i < nfds; i++)
    close(fds[i]);
}
