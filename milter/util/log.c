/*
 * log.c - syslog and stderr output with levels (see log.h).
 *
 * Settings are written by log_init() before threads start and read
 * afterwards; only the level changes later (log_set_level, an atomic
 * store).  syslog(3) and stdio lock internally.
 *
 * Every line says its severity the way Postfix's msg(3) does, in syslog
 * and on stderr alike: "warning: " (LOG_WARNING), "error: " (LOG_ERR),
 * "fatal: " and "panic: " (LOG_CRIT), nothing at info.  The word comes
 * first, so a per-message line reads "warning: QUEUEID: ..." and
 * egrep '(warning|error|fatal|panic):' finds every problem (postfix(1)).
 */
#include "autoconf.h"

#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>

static bool log_syslog;
static bool log_stderr = true;
static int log_level = LOG_LEVEL_INFO;

static const struct {
	const char *name;
	int facility;
} facilities[] = {
	{ "mail", LOG_MAIL }, { "daemon", LOG_DAEMON }, { "user", LOG_USER },
	{ "local0", LOG_LOCAL0 }, { "local1", LOG_LOCAL1 },
	{ "local2", LOG_LOCAL2 }, { "local3", LOG_LOCAL3 },
	{ "local4", LOG_LOCAL4 }, { "local5", LOG_LOCAL5 },
	{ "local6", LOG_LOCAL6 }, { "local7", LOG_LOCAL7 },
};

void
log_init(const char *ident, bool use_syslog, bool to_stderr, int level,
    const char *facility)
{
	int fac = LOG_MAIL;
	size_t i;

	for (i = 0; facility != NULL && i < sizeof(facilities) /
	    sizeof(facilities[0]); i++)
		if (strcasecmp(facility, facilities[i].name) == 0)
			fac = facilities[i].facility;
	if (log_syslog)
		closelog();
	log_syslog = use_syslog;
	log_stderr = to_stderr;
	log_set_level(level);
	if (use_syslog)
		openlog(ident, LOG_PID | LOG_NDELAY, fac);
}

void
log_set_level(int level)
{
	__atomic_store_n(&log_level, level, __ATOMIC_RELAXED);
}

/* The severities: level filters (LogLevel), prio goes to syslog(3),
 * word starts the line (Postfix msg(3)). */
enum log_sev { SEV_PANIC, SEV_FATAL, SEV_ERR, SEV_WARNING, SEV_INFO,
	SEV_DEBUG };
static const struct {
	int level, prio;
	const char *word;
} sev[] = {
	[SEV_PANIC] = { LOG_LEVEL_ERR, LOG_CRIT, "panic: " },
	[SEV_FATAL] = { LOG_LEVEL_ERR, LOG_CRIT, "fatal: " },
	[SEV_ERR] = { LOG_LEVEL_ERR, LOG_ERR, "error: " },
	[SEV_WARNING] = { LOG_LEVEL_WARNING, LOG_WARNING, "warning: " },
	[SEV_INFO] = { LOG_LEVEL_INFO, LOG_INFO, "" },
	[SEV_DEBUG] = { LOG_LEVEL_DEBUG, LOG_DEBUG, "debug: " },
};

/* log_vwrite - write one line at severity s, with an optional errno text;
 * err and worse are never filtered */
static void
log_vwrite(enum log_sev s, int errnum, const char *fmt, va_list ap)
{
	char line[2048];
	int n;

	if (sev[s].level > __atomic_load_n(&log_level, __ATOMIC_RELAXED) &&
	    sev[s].level != LOG_LEVEL_ERR)
		return;
	n = vsnprintf(line, sizeof(line), fmt, ap);
	if (n < 0)
		return;
	if (errnum != 0 && (size_t)n < sizeof(line))
		snprintf(line + n, sizeof(line) - (size_t)n, ": %s",
		    strerror(errnum));
	if (log_syslog)
		syslog(sev[s].prio, "%s%s", sev[s].word, line);
	if (log_stderr)
		fprintf(stderr, "%s%s\n", sev[s].word, line);
}

#define LOG_FN(fn, s, errnum) \
void fn(const char *fmt, ...) \
{ \
	int saved = errno; \
	va_list ap; \
	va_start(ap, fmt); \
	log_vwrite((s), (errnum), fmt, ap); \
	va_end(ap); \
	errno = saved; \
}

LOG_FN(log_err, SEV_ERR, 0)
LOG_FN(log_warn, SEV_WARNING, saved)
LOG_FN(log_warnx, SEV_WARNING, 0)
LOG_FN(log_info, SEV_INFO, 0)
LOG_FN(log_debug, SEV_DEBUG, 0)

void
log_fatal(int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(SEV_FATAL, 0, fmt, ap);
	va_end(ap);
	exit(status);
}

void
log_panic(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(SEV_PANIC, 0, fmt, ap);
	va_end(ap);
	abort();
}

char *
log_safe(const char *s, char *out, size_t outlen)
{
	size_t i;

	if (outlen == 0)
		return out;
	if (s == NULL)
		s = "(null)";
	for (i = 0; s[i] != '\0' && i + 1 < outlen; i++) {
		unsigned char c = (unsigned char)s[i];

		out[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	out[i] = '\0';
	return out;
}
