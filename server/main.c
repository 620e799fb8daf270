/*
 * main.c: arenad's start-up and nothing else: the command line, the
 * configuration (built-in defaults, then the file, then the environment's
 * socket, then the command line), the daemon, and the exit status: 0 after
 * a clean shutdown, 1 when the daemon cannot start, 2 for a bad command
 * line or configuration.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "ar/error.h"
#include "ar/protocol.h"
#include "ar/util.h"
#include "config.h"
#include "daemon.h"
#include "log.h"

#define MAX_CLI_ARENAS AD_ARENAS_MAX

static void usage(FILE *out) {
  fprintf(out,
          "usage: arenad [--socket PATH] [--arena NAME:SIZE[:POLICY]]...\n"
          "              [--config FILE] [--log-level LEVEL] [--ready-fd FD]\n"
          "              [--help] [--version]\n"
          "\n"
          "Serves named shared-memory arenas over a Unix socket.\n"
          "\n"
          "  --socket PATH      the socket (default: $%s, then the config\n"
          "                     file, then $XDG_RUNTIME_DIR/%s,\n"
          "                     /run/user/UID/%s or /tmp/arenad-UID/%s)\n"
          "  --arena SPEC       an arena, added to the config file's: SIZE\n"
          "                     takes K, M or G; POLICY is first (default),\n"
          "                     next, best, worst or buddy\n"
          "  --config FILE      an INI file with [daemon] and [arena NAME]\n"
          "  --log-level LEVEL  debug, info (default), warn or error\n"
          "  --ready-fd FD      write \"ready\" to FD (3 or more) and close\n"
          "                     it once the socket accepts connections\n"
          "\n"
          "With no arena anywhere, one named '%s' of 64M with first fit is\n"
          "made. SIGINT or SIGTERM shut down gracefully.\n"
          "\n"
          "Configuration keys:\n",
          AR_SOCKET_ENV, AR_SOCKET_NAME, AR_SOCKET_NAME, AR_SOCKET_NAME,
          AD_DEFAULT_ARENA_NAME);
  ad_config_usage(out);
}

/* A start-up error: one log line, then the exit status. */
static int die(int status, const char *event, const char *msg) {
  char buf[1024];
  ad_log(AD_LOG_ERROR, event, "error=%s", ad_log_str(buf, sizeof(buf), msg));
  return status;
}

/* More descriptors for more connections and arenas, as far as the hard
 * limit goes.
 * The same limit also bounds, for an unprivileged daemon, the descriptors
 * it has sent that peers have not yet received (see fds_deferred). */
static void raise_fd_limit(uint64_t want) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
    return;
  if (rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    (void)setrlimit(RLIMIT_NOFILE, &rl);
    (void)getrlimit(RLIMIT_NOFILE, &rl);
  }
  if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want)
    ad_log(AD_LOG_WARN, "fd-limit",
           "limit=%llu wanted=%llu note=\"max_connections or %d arenas may "
           "not be reached\"",
           (unsigned long long)rl.rlim_cur, (unsigned long long)want,
           AD_ARENAS_MAX);
}

/* The socket: --socket, else $ARENAD_SOCKET, else the file's, else the
 * runtime directory's default (its /tmp fallback created if need be). */
static int resolve_socket(ad_config_t *cfg, const char *opt, char *err,
                          size_t errlen) {
  const char *env = getenv(AR_SOCKET_ENV);
  if (opt != NULL)
    return ad_config_set(cfg, "socket", opt, "--socket", err, errlen);
  if (env != NULL && env[0] != '\0')
    return ad_config_set(cfg, "socket", env, AR_SOCKET_ENV, err, errlen);
  if (cfg->socket[0] != '\0')
    return 0;
  int rc = ar_socket_path(cfg->socket, sizeof(cfg->socket),
                          AR_SOCKET_PATH_CREATE | AR_SOCKET_PATH_NO_ENV);
  if (rc == AR_EPERM)
    snprintf(err, errlen, "%s is not a private directory of uid %u (it must "
             "be a directory owned by us with mode 0700)", cfg->socket,
             (unsigned)getuid());
  else if (rc == AR_EIO)
    snprintf(err, errlen, "cannot create %s: %s", cfg->socket,
             strerror(errno));
  else if (rc < 0)
    snprintf(err, errlen, "the default socket path is too long");
  return rc;
}

/* The signals the running daemon handles (SIGINT and SIGTERM shut it
 * down, SIGHUP is ignored) are blocked from the start until its handlers
 * are in place (SIG_BLOCK), then let through (SIG_UNBLOCK): one that comes
 * while the arenas are reserved waits (and stops the daemon before it
 * listens) instead of killing it half started, or being dropped when it
 * runs as PID 1 of a container. */
static void hold_signals(int how) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  sigprocmask(how, &set, NULL);
}

/* What the command line asked for. */
typedef struct cli_s {
  const char *socket, *config, *level; /* NULL when not given */
  const char *arenas[MAX_CLI_ARENAS];  /* --arena specs, in order */
  size_t narenas;
  int ready_fd; /* -1 when not given */
} cli_t;

/* Reads the options into *cli. Returns -1 to go on, or the exit status
 * (0 after --help or --version, 2 for a bad command line). */
static int parse_cli(int argc, char **argv, cli_t *cli) {
  static const struct option opts[] = {
      {"socket", required_argument, NULL, 's'},
      {"arena", required_argument, NULL, 'a'},
      {"config", required_argument, NULL, 'c'},
      {"log-level", required_argument, NULL, 'l'},
      {"ready-fd", required_argument, NULL, 'r'},
      {"help", no_argument, NULL, 'h'},
      {"version", no_argument, NULL, 'V'},
      {NULL, 0, NULL, 0},
  };
  int ch;
  *cli = (cli_t){.ready_fd = -1};
  while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (ch) {
    case 's':
      cli->socket = optarg;
      break;
    case 'a':
      if (cli->narenas == MAX_CLI_ARENAS) {
        fprintf(stderr, "arenad: more than %d --arena\n", MAX_CLI_ARENAS);
        return 2;
      }
      cli->arenas[cli->narenas++] = optarg;
      break;
    case 'c':
      if (cli->config != NULL) {
        fprintf(stderr, "arenad: --config is given twice\n");
        return 2;
      }
      cli->config = optarg;
      break;
    case 'l':
      cli->level = optarg;
      break;
    case 'r': {
      char *end;
      errno = 0;
      long fd = strtol(optarg, &end, 10);
      if (errno != 0 || *end != '\0' || end == optarg || fd < 0 ||
          fd > 65535 || fcntl((int)fd, F_GETFD) < 0) {
        fprintf(stderr,
                "arenad: --ready-fd %s: not the number of an open "
                "descriptor\n",
                optarg);
        return 2;
      }
      if (fd <= STDERR_FILENO) {
        /* Closed once written, a standard stream's number would go to the
         * next descriptor opened: a client's socket, which the log (or
         * anything written to standard output) would then write into. */
        fprintf(stderr,
                "arenad: --ready-fd %s: a standard stream; give a descriptor "
                "of 3 or more (it is closed once written)\n",
                optarg);
        return 2;
      }
      cli->ready_fd = (int)fd;
      break;
    }
    case 'h':
      usage(stdout);
      return 0;
    case 'V':
      printf("arenad %s (protocol %d)\n", AR_VERSION, AR_PROTOCOL_VERSION);
      return 0;
    default:
      fprintf(stderr, "try 'arenad --help'\n");
      return 2;
    }
  }
  if (optind < argc) {
    fprintf(stderr, "arenad: unexpected argument '%s'; try 'arenad --help'\n",
            argv[optind]);
    return 2;
  }
  return -1;
}

/* The configuration: built-in defaults, then the file, then the command
 * line's log level and arenas, then the socket (resolve_socket), then the
 * checks across keys. Returns 0, or AR_EINVAL with err set (*cfg then to
 * be freed with ad_config_fini all the same). */
static int build_config(const cli_t *cli, ad_config_t *cfg, char *err,
                        size_t errlen) {
  int rc = 0;
  ad_config_init(cfg);
  if (cli->config != NULL)
    rc = ad_config_load_file(cfg, cli->config, err, errlen);
  if (rc == 0 && cli->level != NULL)
    rc =
        ad_config_set(cfg, "log_level", cli->level, "--log-level", err, errlen);
  for (size_t i = 0; rc == 0 && i < cli->narenas; i++)
    rc = ad_config_add_arena_spec(cfg, cli->arenas[i], err, errlen);
  if (rc == 0)
    rc = resolve_socket(cfg, cli->socket, err, errlen);
  if (rc == 0)
    rc = ad_config_finish(cfg, err, errlen);
  return rc;
}

/* SIGTERM or SIGINT when one of them is pending (held back by
 * hold_signals), else 0. */
static int pending_stop_signal(void) {
  sigset_t set;
  if (sigpending(&set) < 0)
    return 0;
  return sigismember(&set, SIGTERM)  ? SIGTERM
         : sigismember(&set, SIGINT) ? SIGINT
                                     : 0;
}

int main(int argc, char **argv) {
  /* Before any descriptor is opened: a memfd or socket that took the number
   * of a closed standard stream would receive what arenad logs there. */
  if (ar_stdio_fill(true) < 0)
    return 1;
  hold_signals(SIG_BLOCK);
  cli_t cli;
  int status = parse_cli(argc, argv, &cli);
  if (status >= 0)
    return status;

  /* Writes to a peer that has gone fail with EPIPE (and MSG_NOSIGNAL is
   * used anyway): never a signal. */
  signal(SIGPIPE, SIG_IGN);
  /* A segment over the file size limit (ulimit -f) is then an error that
   * says so (EFBIG), not a death by SIGXFSZ. */
  signal(SIGXFSZ, SIG_IGN);
  /* arenad starts no process, but as PID 1 of a container it inherits
   * every orphan there (what `docker exec` left running in the
   * background): with SIGCHLD ignored the kernel reaps them, and none
   * stays a zombie. */
  signal(SIGCHLD, SIG_IGN);

  ad_config_t cfg;
  char err[1024];
  if (build_config(&cli, &cfg, err, sizeof(err)) < 0) {
    ad_config_fini(&cfg);
    return die(2, "config", err);
  }
  ad_log_set_level((ad_log_level_t)cfg.log_level);
  /* Each connection's socket and the descriptors queued for it; each
   * arena's two (its segment, and the read-only one that attaches send),
   * for as many arenas as may be created. */
  raise_fd_limit(cfg.max_connections * (1 + AD_FDQ_MAX) + 2 * AD_ARENAS_MAX +
                 64);

  /* The socket path first: a second daemon is refused before it reserves
   * any memory. */
  int lock_fd;
  int rc = ad_listener_claim(cfg.socket, &lock_fd, err, sizeof(err));
  if (rc < 0) {
    ad_config_fini(&cfg);
    return die(1, "start-failed", err);
  }

  ad_daemon_t d;
  rc = ad_daemon_init(&d, &cfg, err, sizeof(err));
  if (rc < 0) {
    close(lock_fd);
    ad_config_fini(&cfg);
    return die(1, "start-failed", err);
  }
  d.listener.lock_fd = lock_fd; /* the daemon's from now on */
  /* Asked to stop while the arenas were reserved: stop before listening,
   * so that nobody connects and --ready-fd never says ready. */
  int sig = pending_stop_signal();
  if (sig != 0) {
    ad_log(AD_LOG_INFO, "shutdown", "reason=%s before=listen",
           sig == SIGTERM ? "SIGTERM" : "SIGINT");
  } else {
    rc = ad_daemon_listen(&d, cli.ready_fd, err, sizeof(err));
    if (rc < 0) {
      ad_daemon_fini(&d);
      ad_config_fini(&cfg);
      return die(1, "start-failed", err);
    }
    ad_log(AD_LOG_INFO, "start", "version=%s protocol=%d pid=%d arenas=%zu",
           AR_VERSION, AR_PROTOCOL_VERSION, (int)getpid(), cfg.narenas);
    hold_signals(SIG_UNBLOCK); /* a signal held back is handled now */
    ad_daemon_run(&d);
  }
  /* What goes with the arenas: after the clients' blocks were reclaimed,
   * the detached ones. */
  uint64_t detached = 0;
  for (size_t i = 0; i < d.narenas; i++)
    detached += d.arenas[i]->detached_blocks;
  ad_log(AD_LOG_INFO, "exit",
         "status=0 accepted=%llu reclaimed_blocks=%llu live_blocks=%llu "
         "detached_blocks=%llu",
         (unsigned long long)d.stats.connections_accepted,
         (unsigned long long)d.stats.reclaimed_blocks,
         (unsigned long long)d.pools.live, (unsigned long long)detached);
  ad_daemon_fini(&d);
  ad_config_fini(&cfg);
  return 0;
}
