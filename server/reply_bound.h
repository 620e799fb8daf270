/*
 * reply_bound.h: the largest replies whose size grows with a limit, so
 * that the daemon never has to send a reply that does not fit in a frame.
 *
 * Three replies grow with a limit: the arena list with the number of
 * arenas and their names, and alloc and free with max_blocks_per_request
 * (an offset, or a status and the index of an overwritten header, per
 * block). A reply over max_frame_bytes cannot be sent: the caller would
 * get an internal error instead, and for an alloc that means blocks
 * allocated whose offsets nobody learns. So the configuration is refused
 * at start-up when one of these could pass the frame limit, and
 * create_arena refuses an arena that would make the list pass it. The
 * sizes are protobuf-c's own packed sizes of the replies with every
 * number at its widest and the longest message, not estimates.
 *
 * An inspect page grows with its extents and their holders instead: the
 * daemon cuts it to the room the envelope leaves in a frame
 * (ad_reply_inspect_room).
 */
#ifndef AD_REPLY_BOUND_H
#define AD_REPLY_BOUND_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "daemon.h"

/* The largest Response that carries a list of arenas of these n names;
 * SIZE_MAX when memory runs out (too large to promise anything). */
size_t ad_reply_max_list(const char *const *names, size_t n);

/* The same for the daemon's arenas and one more named `name`; SIZE_MAX
 * when memory runs out. */
size_t ad_reply_max_list_plus(const ad_daemon_t *d, const char *name);

/* The largest Response to an alloc or a free of `count` blocks; SIZE_MAX
 * when memory runs out. */
size_t ad_reply_max_blocks(uint64_t count);

/* The most bytes an InspectReply may pack into so that its Response, with
 * the envelope at its widest (the largest id and status, the longest
 * message), still fits in max_frame bytes; 0 when none does. */
size_t ad_reply_inspect_room(size_t max_frame);

/* Checks that cfg's arenas and max_blocks_per_request leave every reply
 * within max_frame_bytes. Returns 0, AR_EINVAL with a message in err that
 * names the limits and the size needed, or AR_EINTERNAL when memory runs
 * out. */
int ad_reply_check_config(const ad_config_t *cfg, char *err, size_t errlen);

#endif /* AD_REPLY_BOUND_H */
