/*
 * optin-milter.c - main(): options, config, keys, socket, privilege drop,
 * smfi_main (DESIGN "Parts"; STYLE.md section 8 for the order).
 *
 * Start-up order: parse the config; as root open the socket and read the
 * keys; drop privileges; only then open the database and serve.  libmilter
 * handles SIGTERM/SIGINT (smfi_main returns) in its own signal thread.
 */
#include "autoconf.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include <libmilter/mfapi.h>

#include "config.h"
#include "dkimsign.h"
#include "log.h"
#include "mlfi.h"
#include "privdrop.h"
#include "quickack.h"
#include "session.h"
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

/* load_keys - token and erasure rings, DKIM keys, read as root before the
 * drop;
 * returns the number of errors (each reported) */
static int
load_keys(const struct config *cfg, struct runtime *rt)
{
	char why[1024];
	int errors = 0;

	if (cfg->token_key_file != NULL && (rt->ring = token_ring_load(
	    cfg->token_key_file, why, sizeof(why))) == NULL) {
		log_err("TokenKeyFile: %s", why);
		errors++;
	}
	/* the keys of erased people: without them an erased address could
	 * not be recognised (optinctl init or forget creates the file) */
	if (cfg->erasure_key_file != NULL && (rt->erasure = token_ring_load(
	    cfg->erasure_key_file, why, sizeof(why))) == NULL) {
		log_err("ErasureKeyFile: %s", why);
		errors++;
	}
	why[0] = '\0';
	if ((rt->dkim = dkimsign_open(cfg, why, sizeof(why))) == NULL &&
	    why[0] != '\0') {
		log_err("DKIM: %s", why);
		errors++;
	}
	if (cfg->multi_recipient == MULTI_SPLIT && cfg->token_key_file == NULL
	    && (cfg->campaign_senders.n > 0 || cfg->campaign_auth_users.n > 0
	    || cfg->campaign_header != NULL)) {
		log_err("MultiRecipientCampaign split needs TokenKeyFile "
		    "(it authenticates the split copies)");
		errors++;
	}
	if (cfg->unsubscribe_url == NULL && cfg->unsubscribe_mailto == NULL)
		log_warnx("no UnsubscribeURL: campaign mail gets no "
		    "List-Unsubscribe header");
	return errors;
}

/* check_erasure - can the keys loaded recognise every erased address the
 * database keeps?  (Else campaign mail is handled as OnDBError says.) */
static int
check_erasure(const struct runtime *rt, struct store *st)
{
	bool keyed = false, legacy = false;
	char why[1024];

	if (store_erased_kinds(st, &keyed, &legacy, why, sizeof(why)) !=
	    STORE_OK) {
		log_err("ConsentDB: %s", why);
		return 1;
	}
	if (keyed && rt->erasure == NULL) {
		log_err("ErasureKeyFile: the database keeps erased addresses "
		    "keyed with it, but it is not set");
		return 1;
	}
	if (legacy && rt->ring == NULL) {
		log_err("TokenKeyFile: the database keeps erased addresses "
		    "from before ErasureKeyFile, keyed with it, but it is not "
		    "set");
		return 1;
	}
	return 0;
}

/* check_runtime - what -n checks beyond the keys: database (and that the
 * keys recognise its erased addresses) and spool */
static int
check_runtime(const struct config *cfg, const struct runtime *rt)
{
	enum store_status ss;
	struct store *st;
	char why[1024];
	unsigned uid, gid;
	int errors = 0;

	if ((st = store_open(cfg, STORE_READONLY, &ss, why, sizeof(why)))
	    == NULL) {
		log_err("ConsentDB: %s", why);
		errors++;
	} else
		errors += check_erasure(rt, st);
	store_close(&st);
	if (cfg->user_id != NULL && privdrop_lookup(cfg->user_id, &uid, &gid,
	    why, sizeof(why)) < 0) {
		log_err("UserID: %s", why);
		errors++;
	}
	if (access(cfg->quarantine_dir, W_OK | X_OK) < 0) {
		log_err("QuarantineDir: %s: %s", cfg->quarantine_dir,
		    strerror(errno));
		errors++;
	}
	return errors;
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

/* open_socket - create the milter socket as root; unix sockets get mode
 * 0660 and UserID's owner and group, so the MTA's group can connect */
static int
open_socket(const struct config *cfg, const char *sock)
{
	unsigned uid, gid;
	const char *path = NULL;
	char why[256];
	mode_t old;
	int rc;

	if (smfi_setconn((char *)sock) == MI_FAILURE) {
		log_err("Socket: cannot use '%s'", sock);
		return -1;
	}
	if (strncmp(sock, "local:", 6) == 0)
		path = sock + 6;
	else if (strncmp(sock, "unix:", 5) == 0)
		path = sock + 5;
	else if (sock[0] == '/')
		path = sock;
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
	if (path != NULL && cfg->user_id != NULL &&
	    privdrop_lookup(cfg->user_id, &uid, &gid, why, sizeof(why)) == 0 &&
	    chown(path, uid, gid) < 0)
		log_warn("Socket: chown %s", path);
	return 0;
}

/* start_spf - the SPF checker and its isolated helper, after daemon() and
 * before the privilege drop (spf.h).  The helper is looked for beside our
 * own binary first (a build tree), then where it is installed.  Failure is
 * fatal only under SPFCheck reject. */
static int
start_spf(const struct config *cfg, struct runtime *rt)
{
	struct spf_options opts = { 0 };
	char self[4096], helper[4200], why[512], *slash;
	ssize_t n;

	if (cfg->spf_check == SPF_OFF && cfg->unsubscribe_mailto == NULL)
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
	if ((rt->spf = spf_checker_new_opts(cfg, &opts, why, sizeof(why)))
	    != NULL)
		return 0;
	if (cfg->spf_check == SPF_REJECT) {
		log_err("SPF: %s", why);
		return -1;
	}
	log_warnx("SPF: %s: continuing without SPF checks", why);
	return 0;
}

int
main(int argc, char **argv)
{
	struct options o = { 0 };
	struct runtime rt = { 0 };
	struct config *cfg;
	char why[1024];
	int nerr, rc;

	parse_args(argc, argv, &o);
	log_init("optin-milter", false, true, LOG_LEVEL_INFO, NULL);
	if ((cfg = config_load(o.cfg_file, stderr, &nerr)) == NULL)
		return EX_CONFIG;
	log_init("optin-milter", cfg->syslog && !o.check,
	    o.foreground || o.check, cfg->log_level, cfg->syslog_facility);
	rt.cfg = cfg;
	nerr = load_keys(cfg, &rt);
	if (o.check) {
		nerr += check_runtime(cfg, &rt);
		rc = nerr > 0 ? EX_CONFIG : 0;
		goto out;
	}
	rc = EX_CONFIG;
	if (nerr > 0)
		goto out;
	(void)signal(SIGPIPE, SIG_IGN);
	rc = EX_UNAVAILABLE;
	if (smfi_register(mlfi_desc) == MI_FAILURE) {
		log_err("smfi_register failed");
		goto out;
	}
	if (open_socket(cfg, o.socket ? o.socket : cfg->socket) < 0)
		goto out;
	if (!o.foreground && daemon(0, 0) < 0) {
		log_warn("daemon");
		goto out;
	}
	if (cfg->pid_file != NULL && privdrop_pidfile(cfg->pid_file, why,
	    sizeof(why)) < 0)
		log_warnx("PidFile: %s", why);
	if (start_spf(cfg, &rt) < 0)
		goto out;
	if (privdrop_to(cfg->user_id, why, sizeof(why)) < 0) {
		log_err("UserID: %s", why);
		goto out;
	}
	umask(0077);
	if ((rt.pool = storepool_new(cfg)) == NULL)
		goto out;
	if (check_runtime(cfg, &rt) > 0)
		log_warnx("starting anyway: campaign mail is handled as "
		    "OnDBError says until the database is back");
	mlfi_set_runtime(&rt);
	log_info("optin-milter %s starting, socket %s, mode %s", VERSION,
	    o.socket ? o.socket : cfg->socket,
	    cfg->mode == MODE_MONITOR ? "monitor" : "enforce");
	rc = smfi_main() == MI_SUCCESS ? 0 : EX_SOFTWARE;
	log_info("optin-milter stopping");
	if (cfg->pid_file != NULL)
		(void)unlink(cfg->pid_file);
out:
	storepool_free(&rt.pool);
	spf_checker_free(&rt.spf);
	dkimsign_free(&rt.dkim);
	token_ring_free(&rt.ring);
	token_ring_free(&rt.erasure);
	config_free(&cfg);
	return rc;
}
