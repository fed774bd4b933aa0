/*
 * log.h - logging for all three programs (after OpenSMTPD's log.h).
 *
 * Output goes to syslog (when enabled) and to stderr (foreground or tools),
 * each line opening with its severity as Postfix's msg(3) writes it:
 * "error: " (LOG_ERR), "warning: " (LOG_WARNING), "fatal: " and "panic: "
 * (LOG_CRIT), "debug: "; info lines have no word.
 * The level check lives here, not at the call sites.  Thread-safe: syslog(3)
 * and stdio are.  Network-supplied text must pass through log_safe() first;
 * never log a token, a key or body text.
 */
#ifndef OPTIN_LOG_H
#define OPTIN_LOG_H

#include <stddef.h>
#include <stdbool.h>

enum log_level { LOG_LEVEL_ERR, LOG_LEVEL_WARNING, LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG };

/* Open the log: ident for syslog, use_syslog, to_stderr, level, facility
 * name ("mail" when NULL).  May be called again to change the settings. */
void log_init(const char *ident, bool use_syslog, bool to_stderr, int level,
	    const char *facility);

/* Change the level while other threads log (a reload's LogLevel). */
void log_set_level(int level);

void log_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* log_warn appends ": strerror(errno)"; log_warnx doesn't. */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Log "fatal: ..." at LOG_CRIT and exit(status): a daemon that cannot go
 * on (Postfix msg_fatal).  Never on the message path (STYLE.md 4). */
void log_fatal(int status, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3), noreturn));
/* Log "panic: ..." at LOG_CRIT and abort(): for impossible states only. */
void log_panic(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2), noreturn));

/*
 * Copy untrusted text s into out (outlen bytes, NUL-terminated) with every
 * byte outside printable ASCII replaced by '?', cut at outlen-1 bytes.
 * Returns out.  s may be NULL ("(null)").
 */
char *log_safe(const char *s, char *out, size_t outlen);

#endif
