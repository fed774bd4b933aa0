/*
 * runtime.h - what optin-milter serves with: the loaded configuration and
 * what is built from it (token keys, DKIM signer, store pool), and its
 * replacement on SIGUSR1 (DESIGN "Operations", STYLE.md section 6).
 *
 * A runtime is immutable once installed, and counted: this module holds one
 * reference to the current runtime, and every connection holds one to the
 * runtime its current message started with (conn->rt: taken at connect,
 * renewed at each MAIL FROM, dropped at close).  A reload builds a new
 * runtime beside the current one and installs it under the mutex only when
 * everything in it loaded; otherwise the current one stays and the log says
 * why.  The last reference to a replaced runtime frees it, so a message in
 * flight ends with the configuration and keys it started with, and no
 * connection is dropped.
 *
 * Threads: runtime_acquire(), runtime_renew(), runtime_release() and
 * runtime_install() are thread-safe; a runtime's fields are read-only.
 * runtime_build() and runtime_reload() run in one thread at a time (main,
 * then the reload thread).
 */
#ifndef OPTIN_RUNTIME_H
#define OPTIN_RUNTIME_H

#include <stdbool.h>

struct config;
struct dkimsign;
struct spf_checker;
struct storepool;
struct token_ring;

struct runtime {
	struct config *cfg;		/* owned */
	struct token_ring *ring;	/* owned; NULL: no TokenKeyFile */
	struct token_ring *erasure;	/* owned; ErasureKeyFile, NULL: not
					   set */
	struct dkimsign *dkim;		/* owned; NULL: no signing */
	struct spf_checker *spf;	/* borrowed from main() for the life of
					 * the process (its helper was started
					 * before the privilege drop); NULL:
					 * SPF not wanted or not running */
	struct storepool *pool;		/* owned */
	unsigned long generation;	/* 1 at start-up, +1 per reload */
	unsigned long refs;		/* guarded by the module's mutex */
};

/*
 * Build a runtime from cfg, which it takes over (freed on failure): read the
 * token keys and the DKIM keys, make the store pool.  prev is the runtime in
 * use (NULL at start-up): on a reload its DKIM keys stand in for key files
 * that can no longer be read after the privilege drop (dkimsign_reload);
 * prev->spf is carried over.  Every problem is logged, prefixed by prefix
 * (e.g. "reload: ").  Returns the number of errors; *rt_r (one reference,
 * the caller's) is set only when there are none.
 */
int runtime_build(struct config *cfg, const struct runtime *prev,
	    const char *prefix, struct runtime **rt_r);

/* What "optin-milter -n" checks besides the keys - the database, UserID
 * and QuarantineDir - each problem logged with prefix; returns their
 * number. */
int runtime_check(const struct config *cfg, const char *prefix);

/* Can rt's keys recognise every erased address the database keeps
 * (store_erased_kinds)?  Else campaign mail is handled as OnDBError says.
 * Each problem logged with prefix; returns their number. */
int runtime_check_erasure(const struct runtime *rt, const char *prefix);

/* Does cfg need the SPF checker (SPFCheck, or UnsubscribeMailto for the
 * inbound evidence)? */
bool runtime_wants_spf(const struct config *cfg);

/*
 * Make rt the current runtime, taking over the caller's reference to it;
 * the previous one loses the module's reference and is freed when nobody
 * else holds one.  rt NULL at exit: connections libmilter did not close
 * keep theirs (xxfi_close may not run at shutdown).
 */
void runtime_install(struct runtime *rt);

/* A new reference to the current runtime; NULL before the first
 * runtime_install(). */
struct runtime *runtime_acquire(void);

/* At the start of a message: if *rtp is not the current runtime, drop that
 * reference and take one to the current runtime instead. */
void runtime_renew(struct runtime **rtp);

/* Drop a reference; the last one frees the runtime.  Accepts NULL and
 * *rtp == NULL; sets *rtp to NULL. */
void runtime_release(struct runtime **rtp);

/*
 * Reload (SIGUSR1): load config_file, build a runtime from it on the
 * current one, check it as -n would, and install it when there was no
 * error.  Logs the outcome with its duration, and settings that take effect
 * only at a restart (Socket, UserID, PidFile, Syslog, SyslogFacility,
 * OutboundIP, MetricsAddress, starting the SPF helper).  Returns 0 (installed) or -1 (the
 * current runtime stays).
 */
int runtime_reload(const char *config_file);

#endif
