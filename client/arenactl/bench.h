/*
 * bench.h: what the files of `arenactl bench` share: cmd_bench.c
 * measures the daemon through the client library and prints the table;
 * bench_echo.c runs the floor, a bare Unix-socket echo server started on a
 * temporary socket, and measures it the same way with raw reads and
 * writes; bench_goal.c prints a figure against its goal. Internal to
 * arenactl.
 */
#ifndef ARENACTL_BENCH_H
#define ARENACTL_BENCH_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * A throughput run: `threads` workers each set up (connect), wait for the
 * others, then work until `stop` while counting operations, then drain.
 * cmd_bench.c starts them, lets them work `seconds`, stops them, and
 * takes the operations per second of all of them together (or, when one
 * failed, its message from err).
 */
typedef struct ar__bench_worker_s ar__bench_worker_t;
typedef struct ar__bench_run_s {
  int threads;
  double seconds;
  /* Set up (connect) worker w; returns 0 or -1 with w->err set. */
  int (*setup)(ar__bench_worker_t *w);
  /* Works until *w->stop, counting w->ops; then drains and cleans up.
   * Returns 0 or -1 with w->err set. Called only when setup succeeded. */
  int (*work)(ar__bench_worker_t *w);
  void *arg; /* the measure's parameters */
  char err[512]; /* room for the daemon's longest message, quoted */
} ar__bench_run_t;

struct ar__bench_worker_s {
  const ar__bench_run_t *run;
  const atomic_bool *stop;
  void *state;    /* the worker's connection */
  uint64_t ops;   /* operations done before the stop */
  uint64_t units; /* what else the measure counts (blocks) */
  char err[512];  /* room for the daemon's longest message, quoted */
};

/* ---- the echo floor (bench_echo.c) ------------------------------------- */

typedef struct ar__echo_s ar__echo_t;

/* Starts an echo server on a socket with an abstract name (nothing in the
 * file system), in a thread of this process or, with `process`, in a
 * child process (to be called while this process has one thread). Returns
 * 0 or -1 with a message in err (len bytes). */
int ar__echo_start(ar__echo_t **out, bool process, char *err, size_t len);

/* Stops the server and frees e (NULL is allowed). */
void ar__echo_stop(ar__echo_t *e);

/* A connection to the echo server e, or -1 with err set. */
int ar__echo_dial(const ar__echo_t *e, char *err, size_t len);

/* n round trips of `msg` bytes on connection fd; samples[0..n) (when not
 * NULL) gets each in nanoseconds. Returns 0 or -1 with err set. */
int ar__echo_round_trips(int fd, size_t msg, size_t n, double *samples,
                         char *err, size_t len);

/* Parameters of an echo throughput run (ar__bench_run_t.arg). */
typedef struct ar__echo_params_s {
  const ar__echo_t *echo; /* the server; not owned */
  size_t msg;    /* bytes a message */
  size_t window; /* messages in flight a connection */
} ar__echo_params_t;

int ar__echo_setup(ar__bench_worker_t *w);
int ar__echo_work(ar__bench_worker_t *w);

/* ---- the goals (bench_goal.c) ------------------------------------------ */

/* Writes `value`, a figure in the unit the table shows it in, to buf (len
 * bytes) with two decimals, or with as many more as it takes for the text
 * to be on the same side of `bound` as the value itself; returns whether
 * the value meets the goal (value <= bound when at_most, else value >=
 * bound). */
bool ar__bench_goal(char *buf, size_t len, double value, double bound,
                    bool at_most);

#endif /* ARENACTL_BENCH_H */
