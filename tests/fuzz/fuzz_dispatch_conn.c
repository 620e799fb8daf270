/*
 * fuzz_dispatch_conn.c: fuzz_dispatch's pseudo-connections, driven the way
 * conn_io.c drives a socket: bytes the peer wrote go into the connection's
 * read buffer while flow control lets them in, ad_conn_run answers them,
 * and the replies are taken out of the output (with the descriptors queued
 * for them) unless the peer has stalled. A connection opens when the input
 * first uses its slot and goes when the daemon closes it or the peer
 * resets it; its references then leave the model, and slot_closed frees
 * it.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ar/frame.h"
#include "fuzz_dispatch_internal.h"

/* ---- Connections --------------------------------------------------------- */

void fzd_slot_reset(slot_t *s) {
  s->c = NULL;
  s->sock_len = 0;
  s->fed_len = 0;
  s->peer_eof = false;
  s->stalled = false;
  s->parsed = 0;
  s->dead = false;
  s->nattached = 0;
  s->nstale = 0;
  s->nused = 0;
}

void fzd_slot_open(fz_t *z, slot_t *s) {
  s->c = ad_conn_new(&z->d, -1, 1000 + (uint32_t)(s - z->s), s->uid, s->uid);
  ensure(s->c != NULL, "ad_conn_new failed");
}

/* The connection is closed (by the daemon or by the peer): its references
 * are gone; frees it. */
static void slot_closed(fz_t *z, slot_t *s) {
  ad_conn_t *c = s->c;
  ensure(c->holder.nholds == 0 && c->holder.holds == NULL,
         "connection %llu closed with %llu references",
         (unsigned long long)c->id, (unsigned long long)c->holder.nholds);
  ensure(c->close_reason == NULL ||
             strcmp(c->close_reason, "output-limit") != 0,
         "connection %llu passed the output limit, which flow control "
         "prevents",
         (unsigned long long)c->id);
  for (size_t i = 0; i < MAX_ARENAS; i++)
    if (z->m[i].live)
      fzd_mdrop_conn_in(&z->m[i], c->id);
  z->closed_protocol += fzd_closed_for_protocol(c);
  ad_conn_free(c);
  fzd_slot_reset(s);
}

void fzd_slot_kill(fz_t *z, slot_t *s) {
  if (s->c == NULL)
    return;
  fzd_in_daemon = true;
  ad_conn_close(s->c, "reset");
  fzd_in_daemon = false;
  if (fzd_nomem_fired)
    z->model_ok = false;
  slot_closed(z, s);
}

/* conn_io.c's reading(): whether the daemon still reads c. */
bool fzd_reading(const ad_conn_t *c) {
  return !c->eof && !c->close_after_reply && !c->closing;
}

/* The daemon's count of yielded connections is the slots' count, and a
 * connection yields only with a frame left to answer. */
static void check_yields(const fz_t *z) {
  size_t n = 0;
  for (unsigned k = 0; k < z->nslots; k++) {
    const ad_conn_t *c = z->s[k].c;
    if (c == NULL || !c->yielded)
      continue;
    n++;
    ensure(z->short_turns, "connection %llu yielded without short turns",
           (unsigned long long)c->id);
    ensure(ad_conn_has_frame(c, ar_buf_data(&c->rbuf), ar_buf_len(&c->rbuf)),
           "connection %llu yielded with no frame left",
           (unsigned long long)c->id);
  }
  ensure(z->d.nyielded == n, "nyielded %zu, yielded connections %zu",
         z->d.nyielded, n);
}

/* Runs s's connection until nothing moves: reads what flow control lets
 * in, answers it, looks at the replies and (unless stalled) takes them. */
void fzd_pump(fz_t *z, slot_t *s) {
  size_t chunk = z->cfg->read_chunk;
  for (;;) {
    ad_conn_t *c = s->c;
    bool moved = false;
    if (fzd_reading(c) && ad_conn_can_decode(c)) {
      size_t room = c->rbuf.max - ar_buf_len(&c->rbuf);
      size_t n = s->sock_len < room ? s->sock_len : room;
      if (n > chunk)
        n = chunk;
      if (n > 0) {
        ensure(ar_buf_append(&c->rbuf, s->sock, n) == 0, "rbuf refused");
        if (s->fed_len + n > s->fed_cap) {
          s->fed_cap = (s->fed_len + n) * 2;
          s->fed = realloc(s->fed, s->fed_cap);
          ensure(s->fed != NULL, "out of memory");
        }
        memcpy(s->fed + s->fed_len, s->sock, n);
        s->fed_len += n;
        memmove(s->sock, s->sock + n, s->sock_len - n);
        s->sock_len -= n;
        moved = true;
      } else if (s->sock_len == 0 && s->peer_eof) {
        c->eof = true;
        moved = true;
      }
    }
    if (z->short_turns) {
      /* ad_conn_resume's work, with a turn that began long ago. */
      moved |= c->yielded;
      ad_conn_end_yield(c);
      ad_conn_begin_turn(c, 1);
    }
    uint64_t yields = z->d.stats.turns_yielded;
    fzd_in_daemon = true;
    ad_conn_run(c);
    fzd_in_daemon = false;
    if (fzd_nomem_fired)
      z->model_ok = false; /* outcomes under no memory: not predicted */
    /* One yield a run at most, and it lasts unless the run then closed
     * the connection (out of memory, say). */
    uint64_t grew = z->d.stats.turns_yielded - yields;
    ensure(c->closing ? grew <= 1 : grew == (c->yielded ? 1u : 0u),
           "turns_yielded grew by %llu, connection yielded: %d, closing: %d",
           (unsigned long long)grew, c->yielded, c->closing);
    check_yields(z);
    if (c->closing) {
      slot_closed(z, s);
      return;
    }
    if (s->parsed != c->out_total) {
      fzd_parse_replies(z, s);
      moved = true;
    }
    if (!s->stalled && c->out_sent != c->out_total) {
      fzd_take_replies(s);
      moved = true;
    }
    if (!moved)
      return;
  }
}
