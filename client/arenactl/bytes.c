/*
 * bytes.c: how arenactl writes a byte size for a person, the one printer
 * of every command: "64 MiB" in the largest unit the size reaches, to a
 * tenth when it is not a whole number of it (list, create, destroy, a
 * quota), and "268435456 (256 MiB)", the exact count first, where the
 * bytes themselves matter (inspect's summary, replay's arena). The daemon
 * writes sizes only in its configuration's own spelling ("64M",
 * server/config_keys.c), which this is not. And the reason a size given
 * to arenactl was refused.
 */
#include <inttypes.h>
#include <stdio.h>

#include "ar/error.h"
#include "arenactl.h"

const char *ar__ctl_size_why(int rc) {
  return rc == AR_ELIMIT ? "more bytes than 64 bits hold"
                         : "bytes, with an optional K, M or G suffix";
}

const char *ar__ctl_bytes(char *buf, size_t len, uint64_t bytes) {
  static const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  /* The largest unit the size reaches, counting one that it reaches once
   * rounded to a tenth (1048560 bytes: "1.0 MiB", not "1024.0 KiB"). */
  unsigned u = 0;
  while (u + 1 < sizeof units / sizeof units[0] &&
         (double)bytes >= 1023.95 * (double)((uint64_t)1 << (10 * u)))
    u++;
  if (u == 0 || bytes % ((uint64_t)1 << (10 * u)) == 0)
    snprintf(buf, len, "%llu %s", (unsigned long long)(bytes >> (10 * u)),
             units[u]);
  else
    snprintf(buf, len, "%.1f %s",
             (double)bytes / (double)((uint64_t)1 << (10 * u)), units[u]);
  return buf;
}

const char *ar__ctl_bytes_exact(char *buf, size_t len, uint64_t bytes) {
  char unit[32];
  if (bytes >= 1024)
    snprintf(buf, len, "%" PRIu64 " (%s)", bytes,
             ar__ctl_bytes(unit, sizeof unit, bytes));
  else
    snprintf(buf, len, "%" PRIu64, bytes);
  return buf;
}
