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
 * finish); SIGUSR1 reloads the config and the token keys (DESIGN
 * "Operations"): a new server starts on a duplicate of the listening
 * socket with the new config and key ring, and the old one stops accepting
 * and finishes the requests under way with its own (unsubd_http_quiesce),
 * then is stopped once idle, or after DRAIN_MAX seconds.  A config or key
 * file that fails to load is logged and changes nothing.  SIGHUP is logged
 * and otherwise ignored.  All four are blocked in every thread and taken by
 * sigtimedwait() in the main thread, so no handler runs in signal context.
 *
 * Ownership: main() owns the generation in use (config, key ring, server)
 * and serve() the replaced ones still draining; each is freed in reverse
 * order once its server has stopped.
 */
#include "autoconf.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <fcntl.h>
#include <limits.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "daemon.h"
#include "log.h"
#include "malloctune.h"
#include "monotime.h"
#include "privdrop.h"
#include "store.h"
#include "token.h"
#include "unsubd_guard.h"
#include "unsubd_http.h"
#include "unsubd_metrics.h"

#define PROGNAME "optin-unsubd"
#define DRAIN_MAX	(3 * UNSUBD_TIMEOUT)	/* seconds a replaced server
						 * may finish its requests */
#define OLD_MAX		4			/* replaced servers draining */

/* One configuration with its key ring and server: what SIGUSR1 replaces. */
struct gen {
	struct config *cfg;		/* owned */
	struct token_ring *ring;	/* owned */
	struct unsubd *u;		/* owned; serves with cfg and ring */
	int listen_fd;			/* owned by u; a reload dups it */
	int quiesced_fd;		/* once replaced: u's listening socket,
					 * closed after u stops; else -1 */
	time_t retired;			/* monotonic seconds, once replaced */
	unsigned long generation;	/* 1 at start-up, +1 per reload */
};

/* usage - print the synopsis and exit 64 */
static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: %s [-fnV] [-c config-file]\n", PROGNAME);
	exit(EX_USAGE);
}

/* same_opt - two optional strings are equal (both NULL too) */
static bool
same_opt(const char *a, const char *b)
{
	return a == NULL ? b == NULL : b != NULL && strcmp(a, b) == 0;
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
	if (store_warning(st) != NULL)
		log_warnx("%s", store_warning(st));
	store_close(&st);
	return true;
}

/*
 * gen_keys - what the start-up and a reload check in a loaded config before
 * serving with it: TokenKeyFile is set and its key ring loads into *ring_r.
 * Each problem is logged with prefix; 0 or -1.
 */
static int
gen_keys(const struct config *cfg, const char *prefix,
    struct token_ring **ring_r)
{
	char why[512];

	if (cfg->token_key_file == NULL) {
		log_err("%s%s: TokenKeyFile: needed by %s", prefix, cfg->file,
		    PROGNAME);
		return -1;
	}
	if ((*ring_r = token_ring_load(cfg->token_key_file, why,
	    sizeof(why))) == NULL) {
		log_err("%sTokenKeyFile: %s", prefix, why);
		return -1;
	}
	return 0;
}

/* gen_free - stop the server of g (waits for its threads), then free its
 * config and key ring */
static void
gen_free(struct gen *g)
{
	unsubd_http_stop(&g->u);
	if (g->quiesced_fd != -1)
		(void)close(g->quiesced_fd);
	g->quiesced_fd = -1;
	token_ring_free(&g->ring);
	config_free(&g->cfg);
}

/* drain - stop replaced servers that are idle, or all (force), or past
 * DRAIN_MAX seconds (their last connections are cut) */
static void
drain(struct gen *old, size_t *nold, bool force)
{
	size_t i = 0;
	unsigned int n;

	while (i < *nold) {
		n = unsubd_http_connections(old[i].u);
		if (!force && n > 0 && mono_s() - old[i].retired < DRAIN_MAX) {
			i++;
			continue;
		}
		if (n > 0)
			log_warnx("reload: generation %lu stopped with %u "
			    "connection%s open", old[i].generation, n,
			    n == 1 ? "" : "s");
		else
			log_debug("reload: generation %lu stopped",
			    old[i].generation);
		gen_free(&old[i]);
		memmove(&old[i], &old[i + 1], (*nold - i - 1) * sizeof(*old));
		(*nold)--;
	}
}

/*
 * reload - SIGUSR1: load cfg_file and its key ring, check the store, start
 * a server with them on a duplicate of the listening socket, then retire
 * the current one into old[] (it finishes its requests).  Anything that
 * fails is logged and the current generation stays.
 */
static void
reload(struct gen *cur, struct gen *old, size_t *nold, const char *cfg_file)
{
	struct gen next = { .listen_fd = -1, .quiesced_fd = -1 };
	enum store_status ss = STORE_ERROR;
	struct timespec t0, t1;
	char why[512];
	int nerr = 0;

	(void)clock_gettime(CLOCK_MONOTONIC, &t0);
	log_info("reload: SIGUSR1: reading %s", cfg_file != NULL ? cfg_file :
	    CONFIG_DEFAULT_FILE);
	if ((next.cfg = config_load_log(cfg_file, "reload: ", &nerr)) == NULL ||
	    gen_keys(next.cfg, "reload: ", &next.ring) < 0)
		goto fail;
	if (!store_check(next.cfg, &ss, why, sizeof(why))) {
		log_err("reload: ConsentDB: %s", why);
		goto fail;
	}
	if ((next.listen_fd = fcntl(cur->listen_fd, F_DUPFD_CLOEXEC, 0)) ==
	    -1) {
		log_err("reload: dup of the listening socket: %s",
		    strerror(errno));
		goto fail;
	}
	if ((next.u = unsubd_http_start(next.cfg, next.ring, next.listen_fd,
	    why, sizeof(why))) == NULL) {
		log_err("reload: %s", why);	/* it closed listen_fd */
		goto fail;
	}
	if (strcmp(next.cfg->unsubscribe_listen,
	    cur->cfg->unsubscribe_listen) != 0)
		log_warnx("reload: UnsubscribeListen changed: still listening "
		    "on %s until %s is restarted", cur->cfg->unsubscribe_listen,
		    PROGNAME);
	if (!same_opt(next.cfg->unsubscribe_metrics_address,
	    cur->cfg->unsubscribe_metrics_address))
		log_warnx("reload: UnsubscribeMetricsAddress changed: the old "
		    "value stays in use until %s is restarted", PROGNAME);
	if (*nold == OLD_MAX)
		drain(old, nold, true);
	cur->quiesced_fd = unsubd_http_quiesce(cur->u);
	cur->retired = mono_s();
	next.generation = cur->generation + 1;
	old[(*nold)++] = *cur;
	*cur = next;
	log_set_level(cur->cfg->log_level);
	(void)clock_gettime(CLOCK_MONOTONIC, &t1);
	log_info("reload: done in %ld ms: generation %lu replaces %lu; "
	    "requests under way finish with the old one",
	    (long)(t1.tv_sec - t0.tv_sec) * 1000L +
	    (t1.tv_nsec - t0.tv_nsec) / 1000000L, cur->generation,
	    cur->generation - 1);
	return;
fail:
	log_err("reload: nothing changed: still serving with generation %lu",
	    cur->generation);
	token_ring_free(&next.ring);
	config_free(&next.cfg);
}

/* serve - block signals, run the server of *cur until SIGTERM or SIGINT,
 * reloading on SIGUSR1 */
static int
serve(struct gen *cur, const char *cfg_file, bool foreground)
{
	struct gen old[OLD_MAX];
	struct timespec tick = { 0, 200 * 1000 * 1000 };
	size_t nold = 0;
	sigset_t set;
	char why[512];
	int sig = 0;

	/* Block before the server starts: its threads inherit the mask,
	 * so sigtimedwait() here is the only taker. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0) {
		log_err("pthread_sigmask failed");
		(void)close(cur->listen_fd);
		return EX_OSERR;
	}
	(void)signal(SIGPIPE, SIG_IGN);
	if ((cur->u = unsubd_http_start(cur->cfg, cur->ring, cur->listen_fd,
	    why, sizeof(why))) == NULL) {
		log_err("%s", why);
		return EX_UNAVAILABLE;
	}
	log_info("started listen=%s", cur->cfg->unsubscribe_listen);
	/* from here on, the log goes where the configuration says; a
	 * waiting parent (daemon_start) exits 0 now */
	log_init(PROGNAME, cur->cfg->syslog, foreground, cur->cfg->log_level,
	    cur->cfg->syslog_facility);
	daemon_ready();
	for (;;) {
		sig = sigtimedwait(&set, NULL, &tick);
		drain(old, &nold, false);
		if (sig == -1)
			continue;	/* tick, or EINTR */
		if (sig == SIGUSR1) {
			reload(cur, old, &nold, cfg_file);
			continue;
		}
		if (sig == SIGHUP) {
			log_info("SIGHUP: ignored; SIGUSR1 reloads the "
			    "configuration and the key file");
			continue;
		}
		break;
	}
	log_info("stopping on signal %d", sig);
	unsubd_http_stop(&cur->u);
	drain(old, &nold, true);
	return EX_OK;
}

int
main(int argc, char **argv)
{
	struct gen g = { .listen_fd = -1, .quiesced_fd = -1, .generation = 1 };
	struct config *cfg;
	const char *cfg_file = NULL;
	bool foreground = false, check = false;
	enum store_status ss = STORE_ERROR;
	char why[512], cfg_path[PATH_MAX], pid_file[PATH_MAX] = "";
	char origin[UNSUBD_ORIGIN_MAX];
	sigset_t usr1;
	int ch, nerr = 0, rc = EX_OK;

	/* a SIGUSR1 before serve() takes it must not kill us */
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	(void)pthread_sigmask(SIG_BLOCK, &usr1, NULL);
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
	 * one-click rate without it (BENCHMARKS.md, malloctune.h) */
	malloc_tune();
	store_global_init();	/* before any store call and any thread */
	log_init(PROGNAME, false, true, LOG_LEVEL_INFO, NULL);
	if ((cfg = g.cfg = config_load(cfg_file, stderr, &nerr)) == NULL)
		return EX_CONFIG;
	/* standard error too until start-up is done: a daemon's parent
	 * waits for it (daemon_start), so its errors are seen */
	log_init(PROGNAME, cfg->syslog && !check, true, cfg->log_level,
	    cfg->syslog_facility);
	/* a reload reads the same file after daemon() made / our cwd */
	if (cfg_file != NULL && realpath(cfg_file, cfg_path) != NULL)
		cfg_file = cfg_path;
	if (gen_keys(cfg, "", &g.ring) < 0) {
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
	if ((g.listen_fd = listen_open(cfg->unsubscribe_listen, false, why,
	    sizeof(why))) == -1) {
		log_err("%s", why);
		rc = EX_UNAVAILABLE;
		goto out;
	}
	/* the parent waits for daemon_ready() in serve(), or exits with
	 * our status when start-up fails */
	if (!foreground && daemon_start(why, sizeof(why)) == -1) {
		log_err("daemon: %s", why);
		rc = EX_OSERR;
		goto out;
	}
	if (cfg->pid_file != NULL) {
		if (privdrop_pidfile(cfg->pid_file, why, sizeof(why)) == -1) {
			log_err("PidFile: %s", why);
			rc = EX_CANTCREAT;
			goto out;
		}
		snprintf(pid_file, sizeof(pid_file), "%s", cfg->pid_file);
	}
	daemon_root_warning(cfg->user_id);
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
	(void)unsubd_metrics_serve(cfg);	/* logged; pages go on */
	rc = serve(&g, cfg_file, foreground);
	unsubd_metrics_shutdown();
	g.listen_fd = -1;	/* owned by the server since serve() */
out:
	if (g.listen_fd != -1)
		(void)close(g.listen_fd);
	/* May fail after the privilege drop; a stale pid file is harmless
	 * (the next start truncates it).  A successor's is left alone. */
	if (pid_file[0] != '\0')
		(void)daemon_pidfile_remove(pid_file);
	gen_free(&g);
	return rc;
}
