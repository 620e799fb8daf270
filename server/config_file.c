/*
 * config_file.c: the INI file reader of the daemon's configuration (see
 * config.h for the format): each [daemon] key and each [arena NAME] section
 * and key read through inih into an ad_config_t, with errors that name the
 * file and the line. The keys' values are parsed by config_keys.c and the
 * arenas kept by config.c (config_internal.h).
 *
 * inih calls its handler without a line number (Debian builds it with
 * INI_HANDLER_LINENO 0), so the file is read through our own reader, which
 * counts lines as inih does (one call, one line), and the handler reports
 * errors against that count. inih's own return is the first line it found
 * wrong, ours or a syntax error: the message follows whichever came first.
 */
#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "ar/error.h"
#include "ar/errorf.h"
#include "config_internal.h"

typedef struct parser_s {
  ad_config_t *cfg;
  const char *name; /* the file, for messages */
  FILE *f;
  int line;         /* the line inih is on: reader calls so far */
  int long_line;    /* the first line too long for inih, or 0 */
  int nul_line;     /* the first line with a NUL byte, or 0 */
  int long_section; /* the first [section] name too long for inih, or 0 */
  int err_line;     /* the line of the first error the handler found, or 0 */
  char msg[256];    /* that error, without its location */
  int section_err_line;   /* the first bad [section] header (seen by the
                             reader: inih says nothing of an empty one) */
  char section_msg[200];  /* what is wrong with it */
  int bad_name_line;      /* an [arena NAME] header with a bad name
                             that no key of its section has reported
                             yet, or 0 */
  char bad_name_msg[200]; /* what is wrong with it */
  int daemon_line[AD__CONFIG_DAEMON_KEYS]; /* where each [daemon] key was set */
} parser_t;

/* inih keeps this much of a [section] name and silently drops the rest
 * (INI_MAX_SECTION, 50 with the NUL, is compiled into libinih): an arena
 * name in a file is at most this minus "arena ". */
#define INIH_SECTION_MAX 49

/* The name of a [section] header line as inih takes it: everything
 * between the '[' (after leading blanks) and the first ']', not trimmed.
 * Returns its start and stores its length, or NULL for any other line. */
static const char *section_name(const char *line, size_t *len) {
  while (isspace((unsigned char)*line))
    line++;
  const char *end = *line == '[' ? strchr(line + 1, ']') : NULL;
  if (end == NULL)
    return NULL;
  *len = (size_t)(end - (line + 1));
  return line + 1;
}

/* The arena name of section `section` ("arena NAME"), or NULL when it is
 * no arena section. */
static const char *arena_section(const char *section) {
  if (strncmp(section, "arena", 5) != 0 || !isspace((unsigned char)section[5]))
    return NULL;
  const char *name = section + 5;
  while (isspace((unsigned char)*name))
    name++;
  return name;
}

/* Stores "FILE:LINE" for the line p is on in origin (AD_ORIGIN_MAX
 * bytes), for the checks after the file (config.c) and the daemon's
 * start-up to name. A path too long for it keeps its end, after "...":
 * the file's own name and the line are what a reader looks for. */
static void set_origin(char *origin, const parser_t *p) {
  char line[16];
  int n = snprintf(line, sizeof(line), ":%d", p->line);
  size_t room = AD_ORIGIN_MAX - 1 - (size_t)n, len = strlen(p->name);
  if (len <= room)
    snprintf(origin, AD_ORIGIN_MAX, "%s%s", p->name, line);
  else
    snprintf(origin, AD_ORIGIN_MAX, "...%s%s", p->name + len - (room - 3),
             line);
}

/* The message of an arena section whose name is not one. */
static void bad_name(char *msg, size_t len, const char *name) {
  snprintf(msg, len,
           "[arena %s]: an arena name is 1 to %d letters, digits, '.', '_' "
           "or '-', starting with a letter or digit",
           name, AD_ARENA_NAME_MAX);
}

/* An arena section with a bad name is reported at its first key (as the
 * other errors of its keys are), or at its header when its section ends
 * with none: it must not vanish. Called at each header and at the end. */
static void end_bad_name(parser_t *p) {
  if (p->bad_name_line != 0 && p->section_err_line == 0) {
    p->section_err_line = p->bad_name_line;
    snprintf(p->section_msg, sizeof(p->section_msg), "%s", p->bad_name_msg);
  }
  p->bad_name_line = 0;
}

/* A [section] header, seen by the reader before inih goes on: an arena
 * section makes its arena at once, so that one without keys is reported
 * ("has no size") instead of vanishing; an unknown section is an error
 * even when empty, and so is an arena section with a bad name. */
static void on_section(parser_t *p, const char *section) {
  const char *name = arena_section(section);
  char msg[200];
  end_bad_name(p);
  if (name != NULL && !ad_config_arena_name_ok(name)) { /* see end_bad_name */
    p->bad_name_line = p->line;
    bad_name(p->bad_name_msg, sizeof(p->bad_name_msg), name);
    return;
  }
  if (strcmp(section, "daemon") == 0)
    return;
  if (name == NULL)
    snprintf(msg, sizeof(msg),
             "unknown section [%.60s] (expected [daemon] or [arena NAME])",
             section);
  else if (ad__config_find_arena(p->cfg, name) != NULL)
    return;
  else {
    char origin[AD_ORIGIN_MAX];
    set_origin(origin, p);
    if (ad__config_new_arena(p->cfg, name, origin, msg, sizeof(msg)) != NULL)
      return;
  }
  if (p->section_err_line == 0) {
    p->section_err_line = p->line;
    snprintf(p->section_msg, sizeof(p->section_msg), "%s", msg);
  }
}

/* fgets that also stores how many bytes it read in *len, so that a NUL
 * byte in a line is seen: fgets hides it, and inih would read the line
 * only up to it ("size = 64K\0G" as 64K) and say nothing. */
static char *read_line(char *str, int num, FILE *f, size_t *len) {
  size_t n = 0;
  int ch;
  while (n + 1 < (size_t)num && (ch = getc(f)) != EOF) {
    str[n++] = (char)ch;
    if (ch == '\n')
      break;
  }
  str[n] = '\0';
  *len = n;
  return n > 0 ? str : NULL;
}

/* inih's reader: read_line, counting lines. A line longer than inih's
 * buffer comes in pieces, each of which inih also counts as a line. */
static char *count_lines(char *str, int num, void *stream) {
  parser_t *p = stream;
  size_t n;
  char *r = read_line(str, num, p->f, &n);
  if (r != NULL) {
    p->line++;
    if (p->nul_line == 0 && memchr(r, '\0', n) != NULL)
      p->nul_line = p->line;
    if (p->long_line == 0 && n == (size_t)num - 1 && r[n - 1] != '\n' &&
        !feof(p->f))
      p->long_line = p->line;
    /* inih skips a UTF-8 byte order mark that begins the file
     * (INI_ALLOW_BOM): so does the reader, or it would not see the
     * [section] header behind it. */
    if (p->line == 1 && strncmp(r, "\xEF\xBB\xBF", 3) == 0) {
      memmove(r, r + 3, n - 3 + 1);
      n -= 3;
    }
    /* inih takes an indented line for the continuation of the value
     * before it (Debian builds it with INI_ALLOW_MULTILINE), so that an
     * indented key reads as that key given again. No value of ours spans
     * lines: the blanks go, and the line is read as written. */
    size_t lead = strspn(r, " \t");
    if (lead > 0)
      memmove(r, r + lead, n - lead + 1);
    size_t len;
    const char *name = section_name(r, &len);
    if (name != NULL && len > INIH_SECTION_MAX) { /* inih would cut it */
      if (p->long_section == 0)
        p->long_section = p->line;
    } else if (name != NULL) {
      char section[INIH_SECTION_MAX + 1];
      memcpy(section, name, len);
      section[len] = '\0';
      on_section(p, section);
    }
  }
  return r;
}

static int handler_fail(parser_t *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int handler_fail(parser_t *p, const char *fmt, ...) {
  if (p->err_line == 0) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->msg, sizeof(p->msg), fmt, ap);
    va_end(ap);
    p->err_line = p->line;
  }
  return 0; /* inih: an error on this line */
}

static int on_daemon_key(parser_t *p, const char *key, const char *value) {
  int i = ad__config_daemon_key(key);
  if (i < 0)
    return handler_fail(p, "[daemon]: unknown key '%s'", key);
  if (p->daemon_line[i] != 0)
    return handler_fail(p, "[daemon]: %s is already set on line %d", key,
                        p->daemon_line[i]);
  char msg[200];
  if (ad__config_set_daemon(p->cfg, i, value, msg, sizeof(msg)) < 0)
    return handler_fail(p, "[daemon] %s", msg);
  p->daemon_line[i] = p->line;
  return 1;
}

static int on_arena_key(parser_t *p, const char *name, const char *key,
                        const char *value) {
  if (!ad_config_arena_name_ok(name)) {
    char msg[200];
    p->bad_name_line = 0; /* said here */
    bad_name(msg, sizeof(msg), name);
    return handler_fail(p, "%s", msg);
  }
  int i = ad__config_arena_key(key);
  if (i < 0)
    return handler_fail(p, "[arena %s]: unknown key '%s'", name, key);

  char msg[200];
  ad_arena_conf_t *a = ad__config_find_arena(p->cfg, name);
  if (a == NULL) {
    char origin[AD_ORIGIN_MAX];
    set_origin(origin, p);
    a = ad__config_new_arena(p->cfg, name, origin, msg, sizeof(msg));
    if (a == NULL)
      return handler_fail(p, "[arena %s]: %s", name, msg);
  }
  uint32_t bit = (uint32_t)1 << i;
  if (a->set & bit)
    return handler_fail(p, "[arena %s]: %s is given twice", name, key);
  if (ad__config_set_arena(a, i, value, msg, sizeof(msg)) < 0)
    return handler_fail(p, "[arena %s] %s", name, msg);
  a->set |= bit;
  if (i == AD__CONFIG_ARENA_SIZE) /* the size: what the checks after the file
                              speak of, so point at its line */
    set_origin(a->origin, p);
  return 1;
}

static int on_key(void *user, const char *section, const char *key,
                  const char *value) {
  parser_t *p = user;

  if (section[0] == '\0')
    return handler_fail(p,
                        "'%s' is outside of a section ([daemon] or "
                        "[arena NAME])",
                        key);
  if (strcmp(section, "daemon") == 0)
    return on_daemon_key(p, key, value);
  const char *name = arena_section(section);
  if (name != NULL)
    return on_arena_key(p, name, key, value);
  return handler_fail(p,
                      "unknown section [%s] (expected [daemon] or "
                      "[arena NAME])",
                      section);
}

int ad_config_load_stream(ad_config_t *cfg, FILE *f, const char *name,
                          char *err, size_t errlen) {
  parser_t p;
  memset(&p, 0, sizeof(p));
  p.cfg = cfg;
  p.name = name;
  p.f = f;

  int line = ini_parse_stream(count_lines, &p, on_key, &p);
  end_bad_name(&p);
  if (line < 0)
    return ar_errorf(err, errlen, AR_EINVAL, "%s: cannot parse (out of memory)",
                     name);
  /* inih reads a line up to its first NUL byte, so what follows it is
   * never seen: an error whatever inih says of the rest. */
  if (p.nul_line != 0 && (line == 0 || p.nul_line <= line) &&
      (p.long_line == 0 || p.nul_line < p.long_line))
    return ar_errorf(err, errlen, AR_EINVAL,
                     "%s:%d: a NUL byte (a configuration file is text)", name,
                     p.nul_line);
  /* A long line reaches the handler in pieces: the first may pass with a
   * cut value, so it is an error whatever inih says. */
  if (p.long_line != 0 && (line == 0 || p.long_line <= line))
    return ar_errorf(err, errlen, AR_EINVAL,
                     "%s:%d: line too long (at most %d characters)", name,
                     p.long_line, INI_MAX_LINE - 2);
  /* inih would go on with the name cut short: an arena of another name */
  if (p.long_section != 0 && (line == 0 || p.long_section <= line))
    return ar_errorf(err, errlen, AR_EINVAL,
                     "%s:%d: section name too long (at most %d characters "
                     "between the brackets, so an arena name in a file is at "
                     "most %d; longer names up to %d work with --arena and "
                     "create_arena)",
                     name, p.long_section, INIH_SECTION_MAX,
                     INIH_SECTION_MAX - 6, AD_ARENA_NAME_MAX);
  if (ferror(f))
    return ar_errorf(err, errlen, AR_EIO, "%s: cannot read: %s", name,
                     strerror(errno));
  if (p.section_err_line != 0 && (line == 0 || p.section_err_line < line))
    return ar_errorf(err, errlen, AR_EINVAL, "%s:%d: %s", name,
                     p.section_err_line, p.section_msg);
  if (line == 0)
    return 0;
  if (line == p.err_line)
    return ar_errorf(err, errlen, AR_EINVAL, "%s:%d: %s", name, line, p.msg);
  return ar_errorf(err, errlen, AR_EINVAL,
                   "%s:%d: syntax error (expected [section], key = value or a "
                   "comment)",
                   name, line);
}

int ad_config_load_file(ad_config_t *cfg, const char *path, char *err,
                        size_t errlen) {
  FILE *f = fopen(path, "re");
  if (f == NULL) {
    snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
    return AR_EIO;
  }
  struct stat st;
  if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
    fclose(f);
    snprintf(err, errlen, "%s: cannot open: it is a directory", path);
    return AR_EIO;
  }
  int rc = ad_config_load_stream(cfg, f, path, err, errlen);
  fclose(f);
  return rc;
}
