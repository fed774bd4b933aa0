/*
 * optin-milter.c - main(): options, config, keys, socket, privilege drop,
 * smfi_main (DESIGN "Parts"; STYLE.md section 8 for the order).
 *
 * Start-up order: parse the config; as root read the keys and open the
 * socket; start the SPF helper (it becomes SPF_HELPER_USER); drop
 * privileges to UserID; only then open the database and serve.
 *
 * Signals (DESIGN "Operations"): SIGUSR1 is blocked first thing, so every
 * thread started later (libmilter's included) inherits the mask, and the
 * reload thread takes it with sigwait(): it rebuilds the runtime and swaps
 * it in when valid (runtime.h), without dropping a connection.  libmilter
 * takes SIGTERM, SIGINT and SIGHUP in its own signal thread: all three make
 * smfi_main() return and us exit 0 (the systemd unit restarts on any exit).
 */
#include "autoconf.h"

#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <netinet/tcp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <libmilter/mfapi.h>

#include "config.h"
#include "daemon.h"
#include "dkimsign.h"
#include "log.h"
#include "malloctune.h"
#include "metrics.h"
#include "mlfi.h"
#include "privdrop.h"
#include "quickack.h"
#include "runtime.h"
#include "session.h"
#include "sockread.h"
#include "spf.h"
#include "store.h"
#include "token.h"

struct options {
	const char *cfg_file;
	const char *socket;
	bool check, foreground;
};

static void
usage(FILE *fp)
{
	fprintf(fp, "usage: optin-milter [-fnV] [-c config] [-p socket]\n"
	    "  -c FILE  configuration file (default %s)\n"
	    "  -f       stay in the foreground, log to stderr too\n"
	    "  -n       check the configuration, database and keys, then exit\n"
	    "  -p SOCK  milter socket (overrides Socket)\n"
	    "  -V       print the version and exit\n", CONFIG_DEFAULT_FILE);
}

/* parse_args - options into *o; exits on -V, -h and usage errors */
static void
parse_args(int argc, char **argv, struct options *o)
{
	int ch;

	while ((ch = getopt(argc, argv, "c:fnp:Vh")) != -1) {
		switch (ch) {
		case 'c': o->cfg_file = optarg; break;
		case 'f': o->foreground = true; break;
		case 'n': o->check = true; break;
		case 'p': o->socket = optarg; break;
		case 'V': printf("optin-milter %s\n", VERSION); exit(0);
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); exit(EX_USAGE);
		}
	}
	if (optind != argc) {
		usage(stderr);
		exit(EX_USAGE);
	}
}

/*
 * nodelay_listeners - set TCP_NODELAY on the TCP socket libmilter listens
 * on (accepted connections inherit it).  libmilter writes each reply and
 * each modification as its own small packet; with Nagle's algorithm the
 * second one waits for the MTA's delayed ACK, about 40 ms per message on
 * loopback (DESIGN "Postfix settings").  libmilter does not expose the
 * descriptor, so it is found among ours: the only listening TCP socket.
 */
static void
nodelay_listeners(void)
{
	int fd, on = 1, val;
	socklen_t len;

	for (fd = 3; fd < 1024; fd++) {
		len = sizeof(val);
		if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &val, &len) < 0 ||
		    val == 0)
			continue;
		len = sizeof(val);
		if (getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &val, &len) < 0 ||
		    val != IPPROTO_TCP)
			continue;
		if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on,
		    sizeof(on)) < 0)
			log_warn("Socket: TCP_NODELAY");
	}
}

/* The unix socket we put in place (open_socket), removed at exit only
 * while it is still ours (daemon_file_remove). */
static struct daemon_file our_socket;

/*
 * open_socket - create the milter socket as root; unix sockets get mode
 * 0660 and UserID's owner and group, so the MTA's group can connect.
 *
 * A unix socket is bound under a private name beside its path and then
 * renamed onto it: the path always names a live socket (the old daemon's,
 * then ours), and libmilter, which at exit unlinks whatever socket is at
 * the name it bound (listener.c, mi_closener: any S_ISSOCK, once not
 * root), finds nothing there.  At exit we remove the path ourselves, and
 * only if it is still our socket: a milter started while this one stops
 * keeps its socket.
 */
static int
open_socket(const struct config *cfg, const char *sock)
{
	unsigned uid, gid;
	const char *path = NULL;
	char why[256], conn[sizeof(our_socket.path) + 64];
	struct sockaddr_un sun;
	mode_t old;
	int rc;

	if (strncmp(sock, "local:", 6) == 0)
		path = sock + 6;
	else if (strncmp(sock, "unix:", 5) == 0)
		path = sock + 5;
	else if (sock[0] == '/')
		path = sock;
	if (path != NULL)
		snprintf(conn, sizeof(conn), "local:%s.new.%ld", path,
		    (long)getpid());
	/* a path too long for the private name (sun_path) is bound as it
	 * is: libmilter then removes it at exit, successor's or not (XXX) */
	if (path != NULL && strlen(conn + 6) >= sizeof(sun.sun_path))
		path = NULL;
	if (path == NULL)
		snprintf(conn, sizeof(conn), "%s", sock);
	if (smfi_setconn(conn) == MI_FAILURE) {
		log_err("Socket: cannot use '%s'", sock);
		return -1;
	}
	old = umask(0117);
	rc = smfi_opensocket(true);
	(void)umask(old);
	if (rc == MI_FAILURE) {
		log_err("Socket: cannot open '%s'", sock);
		return -1;
	}
	if (strncmp(sock, "inet", 4) == 0) {
		nodelay_listeners();
		quickack_enable();
	}
	/* the MTA's commands in as few read(2) calls as it sent them */
	sockread_enable();
	if (path == NULL)
		return 0;
	if (cfg->user_id != NULL &&
	    privdrop_lookup(cfg->user_id, &uid, &gid, why, sizeof(why)) == 0 &&
	    chown(conn + 6, uid, gid) < 0)
		log_warn("Socket: chown %s", conn + 6);
	if (rename(conn + 6, path) < 0) {
		log_warn("Socket: rename %s to %s", conn + 6, path);
		(void)unlink(conn + 6);
		return -1;
	}
	if (daemon_file_note(&our_socket, path) < 0)
		log_warn("Socket: %s", path);
	return 0;
}

/*
 * spf_isolation_check - the SPF helper must never be able to read the
 * database or the keys (DESIGN "SPF"): it cannot when it was started as
 * root (it became SPF_HELPER_USER) and UserID is another user.  Warn
 * otherwise, at start-up.
 */
static void
spf_isolation_check(const struct config *cfg)
{
	unsigned uid, gid;
	struct passwd *pw;
	char why[256];

	if (geteuid() != 0) {
		log_warnx("SPF: the helper runs as uid %u, as optin-milter "
		    "does: it is not isolated from the consent database and the "
		    "keys (start optin-milter as root, with UserID)",
		    (unsigned)geteuid());
		return;
	}
	if (cfg->user_id != NULL && privdrop_lookup(cfg->user_id, &uid, &gid,
	    why, sizeof(why)) == 0 && (pw = getpwnam(SPF_HELPER_USER)) !=
	    NULL && pw->pw_uid == uid)
		log_warnx("SPF: UserID %s is the SPF helper's user %s: the "
		    "helper is not isolated from the consent database and the "
		    "keys (give optin-milter a user of its own)", cfg->user_id,
		    SPF_HELPER_USER);
}

/* start_spf - the SPF checker and its isolated helper, after daemon() and
 * before the privilege drop (spf.h).  The helper is looked for beside our
 * own binary first (a build tree), then where it is installed.  Failure is
 * fatal only under SPFCheck reject. */
static int
start_spf(const struct config *cfg, struct spf_checker **spf_r)
{
	struct spf_options opts = { 0 };
	char self[4096], helper[4200], why[512], *slash;
	ssize_t n;

	if (!runtime_wants_spf(cfg))
		return 0;
	if ((n = readlink("/proc/self/exe", self, sizeof(self) - 1)) > 0) {
		self[n] = '\0';
		if ((slash = strrchr(self, '/')) != NULL) {
			*slash = '\0';
			snprintf(helper, sizeof(helper), "%s/optin-spf-helper",
			    self);
			if (access(helper, X_OK) == 0)
				opts.helper_path = helper;
		}
	}
	if ((*spf_r = spf_checker_new_opts(cfg, &opts, why, sizeof(why)))
	    != NULL) {
		spf_isolation_check(cfg);
		return 0;
	}
	if (cfg->spf_check == SPF_REJECT) {
		log_err("SPF: %s", why);
		return -1;
	}
	log_warnx("SPF: %s: continuing without SPF checks", why);
	return 0;
}

/*
 * reload_main - the reload thread: every SIGUSR1 reloads (runtime_reload);
 * a SIGUSR1 sent by main() after setting reload_stop ends it.  The signal
 * is blocked in every thread, so sigwait() here is its only taker.
 */
static int reload_stop;			/* __atomic */

static void *
reload_main(void *arg)
{
	const char *cfg_file = arg;
	struct timespec t0, t1;
	sigset_t set;
	bool ok;
	int sig;

	(void)sigemptyset(&set);
	(void)sigaddset(&set, SIGUSR1);
	for (;;) {
		if (sigwait(&set, &sig) != 0)
			continue;
		if (__atomic_load_n(&reload_stop, __ATOMIC_ACQUIRE))
			break;
		(void)clock_gettime(CLOCK_MONOTONIC, &t0);
		ok = runtime_reload(cfg_file) == 0;
		(void)clock_gettime(CLOCK_MONOTONIC, &t1);
		metrics_reload(ok, (double)time(NULL), (double)(t1.tv_sec -
		    t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	}
	return NULL;
}

/* seconds a stop waits for the callbacks in progress (below systemd's
 * default TimeoutStopSec of 90 s) */
#define STOP_WAIT 60

int
main(int argc, char **argv)
{
	struct options o = { 0 };
	struct runtime *rt = NULL;
	struct spf_checker *spf = NULL;
	const struct config *cfg;
	struct config *loaded;
	char why[1024], cfg_path[PATH_MAX], pid_file[PATH_MAX] = "";
	const char *cfg_file;
	pthread_t reloader;
	sigset_t usr1, all, old;
	int nerr, rc;

	/* First of all: SIGUSR1's default action would kill us, and every
	 * thread started from here on (libmilter's too) inherits the mask,
	 * so the reload thread is the signal's only taker. */
	(void)sigemptyset(&usr1);
	(void)sigaddset(&usr1, SIGUSR1);
	(void)pthread_sigmask(SIG_BLOCK, &usr1, NULL);
	store_global_init();	/* before any store call and any thread */
	/* libmilter's thread per MTA connection fills and empties a malloc
	 * arena per message: keep the memory (malloctune.h) */
	malloc_tune();
	/* and its worker threads come and go: keep their stacks cached */
	thread_stack_tune();
	parse_args(argc, argv, &o);
	log_init("optin-milter", false, true, LOG_LEVEL_INFO, NULL);
	if ((loaded = config_load(o.cfg_file, stderr, &nerr)) == NULL)
		return EX_CONFIG;
	/* standard error too until start-up is done: a daemon's parent
	 * waits for it (daemon_start), so its errors are seen */
	log_init("optin-milter", loaded->syslog && !o.check, true,
	    loaded->log_level, loaded->syslog_facility);
	/* a reload reads the same file after daemon() made / our cwd */
	cfg_file = o.cfg_file;
	if (cfg_file != NULL && realpath(cfg_file, cfg_path) != NULL)
		cfg_file = cfg_path;
	nerr = o.check ? runtime_check(loaded, "") : 0;
	nerr += runtime_build(loaded, NULL, "", &rt);	/* takes loaded */
	if (o.check && rt != NULL)
		nerr += runtime_check_erasure(rt, "");
	if (o.check || rt == NULL) {
		rc = nerr > 0 ? EX_CONFIG : 0;
		goto out;
	}
	cfg = rt->cfg;
	(void)signal(SIGPIPE, SIG_IGN);
	rc = EX_UNAVAILABLE;
	if (smfi_register(mlfi_desc) == MI_FAILURE) {
		log_err("smfi_register failed");
		goto out;
	}
	if (open_socket(cfg, o.socket ? o.socket : cfg->socket) < 0)
		goto out;
	/* daemon mode: the parent waits until daemon_ready() below, or
	 * exits with our status when start-up fails (daemon.h) */
	if (!o.foreground && daemon_start(why, sizeof(why)) < 0) {
		log_err("daemon: %s", why);
		goto out;
	}
	if (cfg->pid_file != NULL) {
		if (privdrop_pidfile(cfg->pid_file, why, sizeof(why)) < 0) {
			log_err("PidFile: %s", why);
			rc = EX_CANTCREAT;
			goto out;
		}
		snprintf(pid_file, sizeof(pid_file), "%s", cfg->pid_file);
	}
	if (start_spf(cfg, &spf) < 0)
		goto out;
	rt->spf = spf;
	daemon_root_warning(cfg->user_id);
	if (privdrop_to(cfg->user_id, why, sizeof(why)) < 0) {
		log_err("UserID: %s", why);
		goto out;
	}
	umask(0077);
	if (runtime_check(cfg, "") + runtime_check_erasure(rt, "") > 0)
		log_warnx("starting anyway: campaign mail is handled as "
		    "OnDBError says until the database is back");
	(void)metrics_serve(cfg);	/* logged; mail goes on without */
	log_info("optin-milter %s starting, socket %s, mode %s", VERSION,
	    o.socket ? o.socket : cfg->socket,
	    cfg->mode == MODE_MONITOR ? "monitor" : "enforce");
	/* from here on, the log goes where the configuration says */
	log_init("optin-milter", cfg->syslog, o.foreground, cfg->log_level,
	    cfg->syslog_facility);
	/* from here on a reload may free cfg */
	runtime_install(rt);		/* takes our reference */
	rt = NULL;
	cfg = NULL;
	/* the reload thread blocks every signal: SIGTERM, SIGINT and SIGHUP
	 * are for libmilter's signal thread (smfi_main) */
	(void)sigfillset(&all);
	(void)pthread_sigmask(SIG_SETMASK, &all, &old);
	errno = pthread_create(&reloader, NULL, reload_main, (void *)cfg_file);
	(void)pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (errno != 0) {
		log_warn("cannot start the reload thread");
		rc = EX_OSERR;
		goto out;
	}
	daemon_ready();
	rc = smfi_main() == MI_SUCCESS ? 0 : EX_SOFTWARE;
	log_info("optin-milter stopping (SIGTERM, SIGINT and SIGHUP stop it; "
	    "SIGUSR1 reloads)");
	/* no callback may run under the clean-up below (mlfi.h) */
	if (!mlfi_stop(STOP_WAIT)) {
		log_warnx("messages still in progress after %d s: stopping "
		    "without clean-up", STOP_WAIT);
		(void)daemon_file_remove(&our_socket);
		if (pid_file[0] != '\0')
			(void)daemon_pidfile_remove(pid_file);
		_exit(EX_SOFTWARE);
	}
	__atomic_store_n(&reload_stop, 1, __ATOMIC_RELEASE);
	(void)pthread_kill(reloader, SIGUSR1);
	(void)pthread_join(reloader, NULL);
out:
	metrics_shutdown();
	runtime_install(NULL);
	runtime_release(&rt);
	spf_checker_free(&spf);
	/* only what is still ours: a successor may have taken both */
	(void)daemon_file_remove(&our_socket);
	if (pid_file[0] != '\0')
		(void)daemon_pidfile_remove(pid_file);
	return rc;
}
