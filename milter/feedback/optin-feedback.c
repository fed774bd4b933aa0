/*
 * optin-feedback.c - main() of optin-feedback: read one bounce or complaint
 * on standard input, as Postfix runs it from a pipe(8) transport
 * (argv=/usr/sbin/optin-feedback -f ${sender} -r ${recipient}), and turn it
 * into suppressions (DESIGN "Feedback: bounces and complaints").
 *
 * Exit codes are the ones pipe(8) understands (sysexits.h):
 *	0  (EX_OK)	consumed: acted on, or recorded as unusable; a report
 *			we cannot use is never bounced back (no loops)
 *	75 (EX_TEMPFAIL) keep it queued: database down or locked, config or
 *			key file unreadable, out of memory
 *	64 (EX_USAGE)	bad command line (a master.cf mistake)
 * Reading stops at FeedbackMaxSize; the rest is read and dropped, and the
 * report is recorded as unusable.  Single-threaded.
 */
#include "autoconf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "dkimverify.h"
#include "fbparse.h"
#include "fbrules.h"
#include "log.h"
#include "logaddr.h"
#include "store.h"
#include "token.h"

#define PROGNAME "optin-feedback"

/* usage - print the usage line; EX_USAGE */
static int
usage(void)
{
	fprintf(stderr, "usage: " PROGNAME " [-c FILE] [-f SENDER] "
	    "[-r RECIPIENT] < MESSAGE\n");
	return EX_USAGE;
}

/* read_all - standard input up to max octets into *buf_r (owned, NUL
 * after the data); the rest is read and dropped (*cut_r).  0 or -1. */
static int
read_all(size_t max, char **buf_r, size_t *len_r, bool *cut_r)
{
	size_t cap = 65536, len = 0;
	char *buf, drop[65536];
	ssize_t n;

	*cut_r = false;
	if ((buf = malloc(cap + 1)) == NULL)
		return -1;
	for (;;) {
		if (len == cap && cap < max) {
			char *nb;

			cap = cap * 2 < max ? cap * 2 : max;
			if ((nb = realloc(buf, cap + 1)) == NULL) {
				free(buf);
				return -1;
			}
			buf = nb;
		}
		if (len == cap) {
			n = read(STDIN_FILENO, drop, sizeof(drop));
			if (n > 0)
				*cut_r = true;
		} else
			n = read(STDIN_FILENO, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			free(buf);
			return -1;
		}
		if (n == 0)
			break;
		if (len < cap)
			len += (size_t)n;
	}
	buf[len] = '\0';
	*buf_r = buf;
	*len_r = len;
	return 0;
}

/* log_result - one line per report; never the token (the envelope
 * recipient holds one); the person as LogAddresses wants (logaddr.h, as
 * in every program), "-" when the report named nobody */
static void
log_result(const struct config *cfg, const struct token_ring *ring,
    const struct fb_report *r, const struct fbrules_result *res)
{
	char s1[160], s2[64], who[LOGADDR_MAX];

	if (res->addr[0] == '\0')
		snprintf(who, sizeof(who), "-");
	else
		(void)logaddr(cfg->log_addresses, ring, res->addr, who);
	log_info("feedback type=%s kind=%s action=%s identity=%s to=%s "
	    "list=%s campaign=%s status=%s count=%lld why=%s",
	    fbparse_type_str(r->type), res->kind, res->action,
	    res->identity, who, res->list[0] ? res->list : "-",
	    res->campaign[0] ? res->campaign : "-",
	    log_safe(r->status[0] ? r->status : "-", s2, sizeof(s2)),
	    res->count, log_safe(r->why[0] ? r->why : "-", s1, sizeof(s1)));
}

int
main(int argc, char **argv)
{
	const char *cfg_file = NULL, *sender = NULL, *rcpt = NULL;
	char why[512], *buf = NULL;
	char *domains[DKIMVERIFY_MAX + 1] = { NULL };
	struct config *cfg = NULL;
	struct token_ring *ring = NULL, *erasure = NULL;
	struct store_erasure er;
	struct store *st = NULL;
	struct fb_report *r = NULL;
	struct fbrules_result res;
	struct fbrules_env env;
	enum store_status ss;
	size_t len = 0;
	bool cut;
	int ch, nerr = 0, rc = EX_TEMPFAIL;

	log_init(PROGNAME, false, true, LOG_LEVEL_INFO, NULL);
	while ((ch = getopt(argc, argv, "c:f:r:h")) != -1) {
		switch (ch) {
		case 'c': cfg_file = optarg; break;
		case 'f': sender = optarg; break;
		case 'r': rcpt = optarg; break;
		default: return usage();
		}
	}
	if (optind != argc)
		return usage();
	if ((cfg = config_load(cfg_file, stderr, &nerr)) == NULL) {
		log_err("config has %d error(s): keeping the message queued",
		    nerr);
		return EX_TEMPFAIL;
	}
	log_init(PROGNAME, cfg->syslog, true, cfg->log_level,
	    cfg->syslog_facility);
	if (cfg->token_key_file != NULL &&
	    (ring = token_ring_load(cfg->token_key_file, why, sizeof(why)))
	    == NULL) {
		log_err("TokenKeyFile: %s: keeping the message queued", why);
		goto out;
	}
	if (cfg->erasure_key_file != NULL && (erasure = token_ring_load(
	    cfg->erasure_key_file, why, sizeof(why))) == NULL) {
		log_err("ErasureKeyFile: %s: keeping the message queued", why);
		goto out;
	}
	er = (struct store_erasure){ erasure, ring };
	if (read_all((size_t)cfg->feedback_max_size, &buf, &len, &cut) < 0) {
		log_warn("reading the message");
		goto out;
	}
	if ((r = calloc(1, sizeof(*r))) == NULL)
		goto out;
	if (cut) {
		snprintf(r->why, sizeof(r->why), "larger than FeedbackMaxSize "
		    "(%ld octets): not read", cfg->feedback_max_size);
	} else {
		fbparse_report(buf, len, r);
		if (r->type == FB_ARF && dkimverify_domains(buf, len,
		    cfg->dkim_query_file, domains, why, sizeof(why)) < 0)
			log_warnx("DKIM verification: %s", why);
	}
	st = store_open(cfg, 0, &ss, why, sizeof(why));
	if (st == NULL) {
		log_err("%s: keeping the message queued", why);
		goto out;
	}
	env = (struct fbrules_env){ .cfg = cfg, .ring = ring, .er = &er,
	    .rcpt = rcpt,
	    .sender = sender, .dkim_domains = (const char *const *)domains,
	    .now = time(NULL) };
	ss = fbrules_apply(st, &env, r, &res, why, sizeof(why));
	if (ss != STORE_OK) {
		log_err("%s: keeping the message queued", why);
		goto out;
	}
	log_result(cfg, ring, r, &res);
	rc = EX_OK;
out:
	dkimverify_free(domains);
	store_close(&st);
	free(r);
	free(buf);
	token_ring_free(&ring);
	token_ring_free(&erasure);
	config_free(&cfg);
	return rc;
}
