/*
 * optin-unsubd.c - main() of optin-unsubd, the one-click unsubscribe and
 * preferences HTTP daemon (DESIGN "One-click unsubscribe (optin-unsubd)").
 *
 * Start-up order (STYLE 8): parse the config; as root load the token key
 * ring and bind UnsubscribeListen; go to the background (unless -f); write
 * PidFile; drop to UserID and confirm the change; only then open the
 * consent store (once, to fail early; the HTTP threads open their own) and
 * serve.  -n checks the config, the key file, the listen address and the
 * store, and exits 0 (silent) or 78.
 *
 * Signals: SIGTERM and SIGINT stop the daemon cleanly (requests in flight
 * finish); SIGHUP is logged and otherwise ignored (restart to apply a new
 * config or key file).  All three are blocked in every thread and taken by
 * sigwait() in the main thread, so no handler runs in signal context.
 *
 * Ownership: main() owns the config, the key ring and the server, and frees
 * them in reverse order on the way out.
 */
#include "autoconf.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <errno.h>
#include <malloc.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "privdrop.h"
#include "store.h"
#include "token.h"
#include "unsubd_guard.h"
#include "unsubd_http.h"

#define PROGNAME "optin-unsubd"

/* usage - print the synopsis and exit 64 */
static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: %s [-fnV] [-c config-file]\n", PROGNAME);
	exit(EX_USAGE);
}

/*
 * listen_split - split "host:port" or "[v6addr]:port" into host and port.
 * Returns false on a malformed value.
 */
static bool
listen_split(const char *spec, char *host, size_t hostlen, char *port,
    size_t portlen)
{
	const char *colon, *h;
	size_t hn;

	if (spec[0] == '[') {
		if ((colon = strstr(spec, "]:")) == NULL)
			return false;
		h = spec + 1;
		hn = (size_t)(colon - h);
		colon++;
	} else {
		if ((colon = strrchr(spec, ':')) == NULL ||
		    memchr(spec, ':', (size_t)(colon - spec)) != NULL)
			return false;	/* bare IPv6 needs brackets */
		h = spec;
		hn = (size_t)(colon - spec);
	}
	if (hn == 0 || hn >= hostlen || strlen(colon + 1) == 0 ||
	    strlen(colon + 1) >= portlen ||
	    strspn(colon + 1, "0123456789") != strlen(colon + 1))
		return false;
	memcpy(host, h, hn);
	host[hn] = '\0';
	snprintf(port, portlen, "%s", colon + 1);
	return true;
}

/*
 * listen_open - a listening, non-blocking TCP socket on spec (see
 * listen_split); -1 with why[] filled.  resolve_only: check, don't bind.
 */
static int
listen_open(const char *spec, bool resolve_only, char *why, size_t whylen)
{
	struct addrinfo hints, *res = NULL;
	char host[256], port[16];
	int fd = -1, on = 1, gai;

	if (!listen_split(spec, host, sizeof(host), port, sizeof(port))) {
		snprintf(why, whylen, "UnsubscribeListen: bad value '%s' "
		    "(expected host:port or [IPv6]:port)", spec);
		return -1;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if ((gai = getaddrinfo(host, port, &hints, &res)) != 0) {
		snprintf(why, whylen, "UnsubscribeListen: '%s': %s", spec,
		    gai_strerror(gai));
		return -1;
	}
	if (resolve_only) {
		freeaddrinfo(res);
		return 0;
	}
	fd = socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, res->ai_protocol);
	if (fd == -1) {
		snprintf(why, whylen, "socket: %s", strerror(errno));
		goto fail;
	}
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (res->ai_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on,
		    sizeof(on));
	if (bind(fd, res->ai_addr, res->ai_addrlen) == -1) {
		snprintf(why, whylen, "bind %s: %s", spec, strerror(errno));
		goto fail;
	}
	if (listen(fd, 128) == -1) {
		snprintf(why, whylen, "listen %s: %s", spec, strerror(errno));
		goto fail;
	}
	freeaddrinfo(res);
	return fd;
fail:
	if (fd != -1)
		(void)close(fd);
	freeaddrinfo(res);
	return -1;
}

/* store_check - open and close the store; false with why[] filled */
static bool
store_check(const struct config *cfg, enum store_status *ss_r, char *why,
    size_t whylen)
{
	struct store *st;

	if ((st = store_open(cfg, 0, ss_r, why, whylen)) == NULL)
		return false;
	store_close(&st);
	return true;
}

/* serve - block signals, run the server until SIGTERM or SIGINT */
static int
serve(const struct config *cfg, const struct token_ring *ring, int fd)
{
	struct unsubd *u;
	sigset_t set;
	char why[512];
	int sig = 0;

	/* Block before the server starts: its threads inherit the mask,
	 * so sigwait() here is the only taker. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0) {
		log_err("pthread_sigmask failed");
		(void)close(fd);
		return EX_OSERR;
	}
	(void)signal(SIGPIPE, SIG_IGN);
	if ((u = unsubd_http_start(cfg, ring, fd, why, sizeof(why))) ==
	    NULL) {
		log_err("%s", why);
		return EX_UNAVAILABLE;
	}
	log_info("started listen=%s", cfg->unsubscribe_listen);
	for (;;) {
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			log_info("SIGHUP: ignored; restart to apply a new "
			    "configuration or key file");
			continue;
		}
		break;
	}
	log_info("stopping on signal %d", sig);
	unsubd_http_stop(&u);
	return EX_OK;
}

int
main(int argc, char **argv)
{
	struct config *cfg = NULL;
	struct token_ring *ring = NULL;
	const char *cfg_file = NULL;
	bool foreground = false, check = false, pid_written = false;
	enum store_status ss = STORE_ERROR;
	char why[512], origin[UNSUBD_ORIGIN_MAX];
	int ch, nerr = 0, fd = -1, rc = EX_OK;

	while ((ch = getopt(argc, argv, "c:fnVh")) != -1) {
		switch (ch) {
		case 'c':
			cfg_file = optarg;
			break;
		case 'f':
			foreground = true;
			break;
		case 'n':
			check = true;
			break;
		case 'V':
			printf("%s %s\n", PROGNAME, PACKAGE_VERSION);
			return EX_OK;
		case 'h':
			printf("usage: %s [-fnV] [-c config-file]\n", PROGNAME);
			return EX_OK;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();

	/* glibc gives freed memory back after every request (heap_trim:
	 * madvise, a TLB shootdown on every CPU): measured at 4.3 times the
	 * one-click rate without it (BENCHMARKS.md).  Keep up to 64 MiB. */
	(void)mallopt(M_TRIM_THRESHOLD, 64 * 1024 * 1024);
	log_init(PROGNAME, false, true, LOG_LEVEL_INFO, NULL);
	if ((cfg = config_load(cfg_file, stderr, &nerr)) == NULL)
		return EX_CONFIG;
	log_init(PROGNAME, cfg->syslog && !check, foreground || check,
	    cfg->log_level, cfg->syslog_facility);
	if (cfg->token_key_file == NULL) {
		log_err("%s: TokenKeyFile: needed by %s", cfg->file,
		    PROGNAME);
		rc = EX_CONFIG;
		goto out;
	}
	if ((ring = token_ring_load(cfg->token_key_file, why,
	    sizeof(why))) == NULL) {
		log_err("TokenKeyFile: %s", why);
		rc = EX_CONFIG;
		goto out;
	}
	/* the pages' forms are checked against this origin (unsubd_guard.h) */
	if (!unsubd_site_origin(cfg->unsubscribe_url, origin, sizeof(origin),
	    why, sizeof(why))) {
		log_err("%s: %s", cfg->file, why);
		rc = EX_CONFIG;
		goto out;
	}
	if (check) {
		if (listen_open(cfg->unsubscribe_listen, true, why,
		    sizeof(why)) == -1) {
			log_err("%s: %s", cfg->file, why);
			rc = EX_CONFIG;
		} else if (!store_check(cfg, &ss, why, sizeof(why))) {
			log_err("ConsentDB: %s", why);
			rc = EX_CONFIG;
		}
		goto out;
	}
	if ((fd = listen_open(cfg->unsubscribe_listen, false, why,
	    sizeof(why))) == -1) {
		log_err("%s", why);
		rc = EX_UNAVAILABLE;
		goto out;
	}
	if (!foreground) {
		if (daemon(0, 0) == -1) {
			log_err("daemon: %s", strerror(errno));
			rc = EX_OSERR;
			goto out;
		}
		log_init(PROGNAME, cfg->syslog, false, cfg->log_level,
		    cfg->syslog_facility);
	}
	if (cfg->pid_file != NULL) {
		if (privdrop_pidfile(cfg->pid_file, why, sizeof(why)) == -1) {
			log_err("PidFile: %s", why);
			rc = EX_CANTCREAT;
			goto out;
		}
		pid_written = true;
	}
	if (privdrop_to(cfg->user_id, why, sizeof(why)) == -1) {
		log_err("UserID: %s", why);
		rc = EX_OSERR;
		goto out;
	}
	if (!store_check(cfg, &ss, why, sizeof(why))) {
		if (ss != STORE_TEMPFAIL) {
			log_err("ConsentDB: %s", why);
			rc = EX_UNAVAILABLE;
			goto out;
		}
		log_warnx("ConsentDB: %s (going on; requests get 503 until "
		    "it is back)", why);
	}
	rc = serve(cfg, ring, fd);
	fd = -1;		/* owned by the server since serve() */
out:
	if (fd != -1)
		(void)close(fd);
	/* May fail after the privilege drop; a stale pid file is harmless
	 * (the next start truncates it). */
	if (pid_written)
		(void)unlink(cfg->pid_file);
	token_ring_free(&ring);
	config_free(&cfg);
	return rc;
}
