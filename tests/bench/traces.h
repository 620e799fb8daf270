/*
 * traces.h: the public traces the benchmark programs replay (in
 * tests/data/, as NAME.trace.gz), in the order their tables list them.
 */
#ifndef AR_BENCH_TRACES_H
#define AR_BENCH_TRACES_H

static const char *const trace_names[] = {
    "python3-compileall-email",
    "git-gc-perllib",
    "sqlite3-shop",
    "troff-bash-manpage",
};
#define NTRACES (sizeof trace_names / sizeof trace_names[0])

#endif /* AR_BENCH_TRACES_H */
