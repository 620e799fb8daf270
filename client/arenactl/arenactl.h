/*
 * arenactl.h: what the files of arenactl share: the table of commands that
 * main.c dispatches on, one entry point per command (each in its own
 * file), the exit codes, and what the replay command's two files share
 * (its files and its renderers). Internal to arenactl.
 */
#ifndef ARENACTL_H
#define ARENACTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ar/trace.h"

/* The flags of every JSON output: two-space indents, and reals at 15
 * significant digits (jansson's default, 17, prints 0.1 as
 * 0.10000000000000001; 15 is what a double holds exactly in decimal). */
#define ARENACTL_JSON_FLAGS (JSON_INDENT(2) | JSON_REAL_PRECISION(15))

/* Exit codes of every command. */
enum {
  ARENACTL_OK = 0,    /* done */
  ARENACTL_FAIL = 1,  /* the work failed: a bad trace, a read error, ... */
  ARENACTL_USAGE = 2  /* the command line was wrong */
};

/* One command: `arenactl <name> [args]` calls run(argc, argv) with
 * argv[0] == name. run prints its own errors on standard error and returns
 * an exit code. */
typedef struct ar__cmd_s {
  const char *name;
  const char *summary; /* one line for `arenactl --help` */
  int (*run)(int argc, char **argv);
} ar__cmd_t;

/* cmd_replay.c */
int ar__cmd_replay(int argc, char **argv);

/* The commands against a running daemon, each file using only the client
 * library's arenad.h to reach it (ctl.h holds what they share). */
int ar__cmd_list(int argc, char **argv);    /* cmd_arena.c */
int ar__cmd_inspect(int argc, char **argv); /* cmd_arena.c */
int ar__cmd_check(int argc, char **argv);   /* cmd_arena.c */
int ar__cmd_ping(int argc, char **argv);    /* cmd_daemon.c */
int ar__cmd_stats(int argc, char **argv);   /* cmd_daemon.c */
int ar__cmd_alloc(int argc, char **argv);   /* cmd_block.c */
int ar__cmd_free(int argc, char **argv);    /* cmd_block.c */
int ar__cmd_create(int argc, char **argv);  /* cmd_admin.c */
int ar__cmd_destroy(int argc, char **argv); /* cmd_admin.c */
int ar__cmd_bench(int argc, char **argv);   /* cmd_bench.c */
/* `replay --via-daemon`, called by ar__cmd_replay (cmd_replay_daemon.c) */
int ar__cmd_replay_daemon(int argc, char **argv);

/* Every command's getopt_long (args.c): returns the next option as
 * getopt_long(argc, argv, ":h", longopts, NULL) does (-h being the 'h'
 * of every command's --help), with GNU's order (options and operands
 * mixed; at -1 the operands are argv[optind..argc), in their order, "--"
 * having ended the options), except that an argument that looks like a
 * negative number ("-1") is an operand, and that an 'h' anywhere among
 * the options comes first, before any error. Set optind to 0 before the
 * first call of a command line. */
struct option;
int ar__ctl_getopt(int argc, char **argv, const struct option *longopts);

/* What a command's getopt_long loop does with an error (main.c): for ':',
 * says which option needs a value; for a value given to an option that
 * takes none, says so; for anything else, names the unknown option; the
 * last two print the command's usage. Both on standard error, with the
 * command's name from argv[0]. Returns ARENACTL_USAGE. */
int ar__ctl_bad_option(int c, char **argv, void (*cmd_usage)(FILE *));

/* CLOCK_MONOTONIC in nanoseconds, for the timings the commands print
 * (main.c). */
double ar__ctl_now_ns(void);

/* The socket given with `arenactl --socket PATH`, or NULL (ctl.c). */
extern const char *ar__ctl_socket;

/* How long a connection waits for the daemon (arenad_set_timeout):
 * `arenactl --timeout SECONDS`, 0 for as long as it takes (-1 here), else
 * AR__CTL_TIMEOUT_MS (ctl.c). */
#define AR__CTL_TIMEOUT_MS 30000
extern int ar__ctl_timeout_ms;

/* Byte sizes for a person (bytes.c), written to buf (len bytes; 32 hold
 * any) and returned. ar__ctl_bytes: in the largest unit the size reaches,
 * to a tenth unless it is a whole number of it ("64 MiB", "1.5 KiB",
 * "100 B"). ar__ctl_bytes_exact: the bytes, then that in parentheses from
 * 1 KiB up ("268435456 (256 MiB)", "1000"). */
const char *ar__ctl_bytes(char *buf, size_t len, uint64_t bytes);
const char *ar__ctl_bytes_exact(char *buf, size_t len, uint64_t bytes);

/* Why ar_parse_size refused a size with rc, for a usage message's
 * parentheses: past 64 bits (AR_ELIMIT), or not of the form. */
const char *ar__ctl_size_why(int rc);

/* ---- replay_report.c: one producer, two renderers ---------------------- */

/* The replay of one policy; or, when not_run is not "", why it did not
 * run (sum.policy names it, the figures are 0). */
typedef struct ar__replay_result_s {
  ar_replay_summary_t sum;
  double replay_ns; /* the engine's time on the trace */
  char not_run[96];
} ar__replay_result_t;

/* What `arenactl replay` reports; everything is borrowed from the caller. */
typedef struct ar__replay_report_s {
  const char *trace;   /* the path as given */
  uint64_t arena_size; /* bytes */
  size_t nops;         /* operations in the trace */
  double parse_ns;     /* reading, inflating and parsing */
  int logged;          /* the replay time includes writing the placements */
  const ar__replay_result_t *results;
  size_t nresults; /* 1, or one per policy */
} ar__replay_report_t;

/* Writes the report as a table for a person (one policy: one figure a
 * line; several: one policy a row). Returns 0, or -1 when writing failed. */
int ar__replay_print_table(FILE *out, const ar__replay_report_t *r);

/* Writes the report as one JSON object (jansson). Returns 0 or -1. */
int ar__replay_print_json(FILE *out, const ar__replay_report_t *r);

/* ---- replay_io.c: the files of both replays --------------------------- */

/* Whether a file named on the command line is "-": standard input for the
 * trace, standard output for the placements. */
bool ar__replay_is_stdio(const char *name);

/* Takes the one TRACE operand, argv[first] when first == argc - 1 (first
 * being getopt's optind), into *trace. Returns ARENACTL_OK, or
 * ARENACTL_USAGE after saying that none or more than one was given and
 * printing `usage`. */
int ar__replay_take_trace(int first, int argc, char **argv,
                          void (*usage)(FILE *), const char **trace);

/* Returns ARENACTL_OK, or ARENACTL_USAGE after saying why, when the
 * placements (NULL: none) and a JSON summary would both go to standard
 * output. */
int ar__replay_check_stdout(const char *placements, bool json);

/* Prints "arenactl replay: TRACE: msg" on standard error, TRACE being
 * "standard input" for "-". */
void ar__replay_trace_fail(const char *trace, const char *msg);

/* Prints a failed load's or replay's message: as ar__replay_trace_fail
 * when it is about a line of the trace, else as it is. */
void ar__replay_error(const char *trace, const ar_trace_error_t *err);

/* Loads the trace at path `trace` ("-": standard input) into *out (the
 * caller's, freed with ar_trace_destroy) and fills report's trace (kept,
 * not copied), nops and parse_ns. Returns ARENACTL_OK, or ARENACTL_FAIL
 * after printing why (naming the trace when the message is about one of
 * its lines). */
int ar__replay_load(const char *trace, ar_trace_t **out,
                    ar__replay_report_t *report);

/* The replay log, "<id> <offset>" a line, buffered. Opaque. */
typedef struct ar__replay_log_s ar__replay_log_t;

/* Creates the log file `name` (kept, not copied; "-": standard output)
 * and stores the log in *out, to be closed with ar__replay_log_close.
 * Returns ARENACTL_OK, or after printing why (*out NULL) ARENACTL_USAGE
 * when `name` is the file of `trace` (the trace's name as given), else
 * ARENACTL_FAIL. */
int ar__replay_log_open(const char *name, const char *trace,
                        ar__replay_log_t **out);

/* Appends one line: an ar_replay_log_fn, `log` being the
 * ar__replay_log_t. Returns AR_OK, or AR_EIO when a write failed (the
 * close says why). */
int ar__replay_log_write(void *log, const ar_replay_line_t *ln);

/* Whether the trace (a path, or "-" for standard input) is a pipe, a
 * socket or a terminal rather than a file: its replay runs as it arrives. */
bool ar__replay_trace_live(const char *trace);

/* Makes the log follow a live trace's replay: what is logged is written
 * out within 100 ms (by a thread, until the close), so that a reader of
 * the log (`producer | arenactl replay --placements - -`) sees each
 * placement as the replay makes it, not 64 KiB at a time. */
void ar__replay_log_follow(ar__replay_log_t *log);

/* Whether a write to the log has failed. */
bool ar__replay_log_failed(ar__replay_log_t *log);

/* Writes out what is buffered, closes the file (not standard output) and
 * frees the log (NULL is allowed). Returns ARENACTL_OK, or ARENACTL_FAIL
 * after saying on standard error that writing the log failed. */
int ar__replay_log_close(ar__replay_log_t *log);

/* Prints the report, as JSON or as a table, and flushes it: on standard
 * output, or on standard error when the placements (the --placements
 * value, NULL when none) go to standard output, so that standard output
 * holds the log alone. Returns ARENACTL_OK, or ARENACTL_FAIL after saying
 * on standard error that writing failed. */
int ar__replay_print(const ar__replay_report_t *r, bool json,
                     const char *placements);

#endif /* ARENACTL_H */
