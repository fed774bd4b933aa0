/*
 * runtime.c - build, check, count and replace the runtime (runtime.h).
 *
 * Invariants: "current" is NULL before the first runtime_install() and
 * holds one reference while set; refs counts that one plus one per
 * connection whose message uses the runtime.  A runtime is freed outside
 * the mutex, by whoever drops its last reference.
 *
 * Threads: the mutex guards current, every refs field and the generation
 * counter; nothing else here is shared.  runtime_build(), runtime_check()
 * and runtime_reload() run in one thread at a time (main at start-up, then
 * the reload thread of optin-milter.c).
 */
#include "autoconf.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "dkimsign.h"
#include "log.h"
#include "privdrop.h"
#include "runtime.h"
#include "session.h"
#include "store.h"
#include "token.h"

static pthread_mutex_t runtime_lock = PTHREAD_MUTEX_INITIALIZER;
static struct runtime *current;		/* one reference; guarded */
static unsigned long generations;	/* guarded */

/* runtime_free - free a runtime nobody refers to any more */
static void
runtime_free(struct runtime *rt)
{
	storepool_free(&rt->pool);
	dkimsign_free(&rt->dkim);
	token_ring_free(&rt->ring);
	token_ring_free(&rt->erasure);
	config_free(&rt->cfg);
	free(rt);
}

bool
runtime_wants_spf(const struct config *cfg)
{
	return cfg->spf_check != SPF_OFF || cfg->unsubscribe_mailto != NULL;
}

/* load_keys - token ring and DKIM keys into rt (prev: the runtime in use,
 * on a reload); returns the number of errors, each logged */
static int
load_keys(struct runtime *rt, const struct runtime *prev, const char *pfx)
{
	const struct config *cfg = rt->cfg;
	char why[1024];
	int errors = 0;

	if (cfg->token_key_file != NULL && (rt->ring = token_ring_load(
	    cfg->token_key_file, why, sizeof(why))) == NULL) {
		log_err("%sTokenKeyFile: %s", pfx, why);
		errors++;
	}
	/* the keys of erased people: without them an erased address could
	 * not be recognised (optinctl init or forget creates the file) */
	if (cfg->erasure_key_file != NULL && (rt->erasure = token_ring_load(
	    cfg->erasure_key_file, why, sizeof(why))) == NULL) {
		log_err("%sErasureKeyFile: %s", pfx, why);
		errors++;
	}
	why[0] = '\0';
	if ((rt->dkim = dkimsign_reload(cfg, prev ? prev->dkim : NULL, why,
	    sizeof(why))) == NULL && why[0] != '\0') {
		log_err("%sDKIM: %s", pfx, why);
		errors++;
	}
	if (cfg->multi_recipient == MULTI_SPLIT && cfg->token_key_file == NULL
	    && (cfg->campaign_senders.n > 0 || cfg->campaign_auth_users.n > 0
	    || cfg->campaign_header != NULL)) {
		log_err("%sMultiRecipientCampaign split needs TokenKeyFile "
		    "(it authenticates the split copies)", pfx);
		errors++;
	}
	if (cfg->unsubscribe_url == NULL && cfg->unsubscribe_mailto == NULL)
		log_warnx("%sno UnsubscribeURL: campaign mail gets no "
		    "List-Unsubscribe header", pfx);
	return errors;
}

int
runtime_build(struct config *cfg, const struct runtime *prev,
    const char *prefix, struct runtime **rt_r)
{
	struct runtime *rt;
	int errors;

	*rt_r = NULL;
	if ((rt = calloc(1, sizeof(*rt))) == NULL) {
		log_err("%sout of memory", prefix);
		config_free(&cfg);
		return 1;
	}
	rt->cfg = cfg;
	rt->refs = 1;
	errors = load_keys(rt, prev, prefix);
	if (prev != NULL && runtime_wants_spf(cfg))
		rt->spf = prev->spf;
	if (errors == 0 && (rt->pool = storepool_new(cfg)) == NULL) {
		log_err("%sout of memory", prefix);
		errors++;
	}
	if (errors > 0) {
		runtime_free(rt);
		return errors;
	}
	*rt_r = rt;
	return 0;
}

int
runtime_check(const struct config *cfg, const char *prefix)
{
	enum store_status ss;
	struct store *st;
	char why[1024];
	unsigned uid, gid;
	int errors = 0;

	if ((st = store_open(cfg, STORE_READONLY, &ss, why, sizeof(why)))
	    == NULL) {
		log_err("%sConsentDB: %s", prefix, why);
		errors++;
	} else if (store_warning(st) != NULL)
		log_warnx("%s%s", prefix, store_warning(st));
	store_close(&st);
	if (cfg->user_id != NULL && privdrop_lookup(cfg->user_id, &uid, &gid,
	    why, sizeof(why)) < 0) {
		log_err("%sUserID: %s", prefix, why);
		errors++;
	}
	if (access(cfg->quarantine_dir, W_OK | X_OK) < 0) {
		log_err("%sQuarantineDir: %s: %s", prefix, cfg->quarantine_dir,
		    strerror(errno));
		errors++;
	}
	return errors;
}

int
runtime_check_erasure(const struct runtime *rt, const char *prefix)
{
	enum store_status ss;
	struct store *st;
	bool keyed = false, legacy = false;
	char why[1024];
	int errors = 0;

	if ((st = store_open(rt->cfg, STORE_READONLY, &ss, why, sizeof(why)))
	    == NULL)
		return 0;	/* runtime_check() says why */
	if (store_erased_kinds(st, &keyed, &legacy, why, sizeof(why)) !=
	    STORE_OK) {
		log_err("%sConsentDB: %s", prefix, why);
		errors++;
	} else if (keyed && rt->erasure == NULL) {
		log_err("%sErasureKeyFile: the database keeps erased addresses "
		    "keyed with it, but it is not set", prefix);
		errors++;
	} else if (legacy && rt->ring == NULL) {
		log_err("%sTokenKeyFile: the database keeps erased addresses "
		    "from before ErasureKeyFile, keyed with it, but it is not "
		    "set", prefix);
		errors++;
	}
	store_close(&st);
	return errors;
}

void
runtime_install(struct runtime *rt)
{
	struct runtime *old;

	(void)pthread_mutex_lock(&runtime_lock);
	old = current;
	current = rt;
	if (rt != NULL)
		rt->generation = ++generations;
	if (old != NULL && --old->refs > 0)
		old = NULL;		/* messages still use it */
	(void)pthread_mutex_unlock(&runtime_lock);
	if (old != NULL)
		runtime_free(old);
}

struct runtime *
runtime_acquire(void)
{
	struct runtime *rt;

	(void)pthread_mutex_lock(&runtime_lock);
	if ((rt = current) != NULL)
		rt->refs++;
	(void)pthread_mutex_unlock(&runtime_lock);
	return rt;
}

void
runtime_renew(struct runtime **rtp)
{
	struct runtime *old = *rtp;

	(void)pthread_mutex_lock(&runtime_lock);
	if (old == current || current == NULL) {
		(void)pthread_mutex_unlock(&runtime_lock);
		return;
	}
	current->refs++;
	*rtp = current;
	if (old != NULL && --old->refs > 0)
		old = NULL;
	(void)pthread_mutex_unlock(&runtime_lock);
	if (old != NULL)
		runtime_free(old);
}

void
runtime_release(struct runtime **rtp)
{
	struct runtime *rt;

	if (rtp == NULL || (rt = *rtp) == NULL)
		return;
	*rtp = NULL;
	(void)pthread_mutex_lock(&runtime_lock);
	if (--rt->refs > 0)
		rt = NULL;
	(void)pthread_mutex_unlock(&runtime_lock);
	if (rt != NULL)
		runtime_free(rt);
}

/* same_str - equal strings, NULL equal to NULL only */
static bool
same_str(const char *a, const char *b)
{
	return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* same_list - the same entries in the same order */
static bool
same_list(const struct cfg_list *a, const struct cfg_list *b)
{
	size_t i;

	if (a->n != b->n)
		return false;
	for (i = 0; i < a->n; i++)
		if (strcmp(a->v[i], b->v[i]) != 0)
			return false;
	return true;
}

/* restart_only - warn about changed settings a reload cannot apply: the
 * socket, the user and the log destination were set up before the
 * privilege drop, the SPF checker and its helper too */
static void
restart_only(const struct config *old, const struct runtime *rt)
{
	const struct config *new = rt->cfg;
	const char *changed[8];
	size_t n = 0, i;

	if (!same_str(old->socket, new->socket))
		changed[n++] = "Socket";
	if (!same_str(old->user_id, new->user_id))
		changed[n++] = "UserID";
	if (!same_str(old->pid_file, new->pid_file))
		changed[n++] = "PidFile";
	if (old->syslog != new->syslog)
		changed[n++] = "Syslog";
	if (!same_str(old->syslog_facility, new->syslog_facility))
		changed[n++] = "SyslogFacility";
	if (!same_list(&old->outbound_ip, &new->outbound_ip))
		changed[n++] = "OutboundIP";
	if (!same_str(old->metrics_address, new->metrics_address))
		changed[n++] = "MetricsAddress";
	for (i = 0; i < n; i++)
		log_warnx("reload: %s changed: the old value stays in use "
		    "until optin-milter is restarted", changed[i]);
	if (runtime_wants_spf(new) && rt->spf == NULL)
		log_warnx("reload: SPFCheck/UnsubscribeMailto want SPF, but no "
		    "SPF checker was started at start-up: restart optin-milter "
		    "to start it");
}

/* elapsed_ms - milliseconds since t0 (CLOCK_MONOTONIC) */
static long
elapsed_ms(const struct timespec *t0)
{
	struct timespec t;

	(void)clock_gettime(CLOCK_MONOTONIC, &t);
	return (long)(t.tv_sec - t0->tv_sec) * 1000L +
	    (t.tv_nsec - t0->tv_nsec) / 1000000L;
}

int
runtime_reload(const char *config_file)
{
	struct runtime *old, *rt = NULL;
	struct config *cfg;
	struct timespec t0;
	unsigned long gen;
	int nerr = 0;

	(void)clock_gettime(CLOCK_MONOTONIC, &t0);
	old = runtime_acquire();
	if (old == NULL)
		return -1;
	gen = old->generation;
	log_info("reload: SIGUSR1: reading %s", config_file != NULL ?
	    config_file : CONFIG_DEFAULT_FILE);
	if ((cfg = config_load_log(config_file, "reload: ", &nerr)) != NULL &&
	    (nerr = runtime_build(cfg, old, "reload: ", &rt)) == 0)
		nerr = runtime_check(rt->cfg, "reload: ") +
		    runtime_check_erasure(rt, "reload: ");
	if (nerr > 0) {
		log_err("reload: %d error%s, nothing changed: still serving "
		    "with generation %lu (%ld ms)", nerr, nerr == 1 ? "" : "s",
		    gen, elapsed_ms(&t0));
		runtime_release(&rt);
		runtime_release(&old);
		return -1;
	}
	restart_only(old->cfg, rt);
	log_set_level(rt->cfg->log_level);
	runtime_install(rt);
	log_info("reload: done in %ld ms: generation %lu replaces %lu (mode "
	    "%s); messages under way finish with the old one",
	    elapsed_ms(&t0), rt->generation, gen,
	    rt->cfg->mode == MODE_MONITOR ? "monitor" : "enforce");
	runtime_release(&old);
	return 0;
}
