/*
 * spf.h - SPF (RFC 7208) with libspf2, the DMARC record lookup and the
 * identifier alignment test (RFC 7489).
 *
 * Two kinds of check (DESIGN "SPF"):
 * - outbound preflight, spf_check_outbound(): does the envelope sender
 *   domain of campaign mail authorise every OutboundIP?  Evaluated in this
 *   process (the domains are our own), one libspf2 server per checker behind
 *   a mutex, results cached per domain for the TTL of its SPF record;
 * - inbound evidence, spf_check_inbound(): the SPF result of a mail to the
 *   unsubscribe mailbox.  The records belong to strangers and libspf2 has
 *   unfixed flaws with hostile records, so every verdict is computed in a
 *   child of the helper program optin-spf-helper, which spf_checker_new()
 *   starts once and which drops to SPF_HELPER_USER ("nobody") when started
 *   as root.  Each verdict has a time limit; a crash or a hang of the child
 *   costs that one verdict (SPFR_TEMPERROR), never the caller.  A helper
 *   that is gone is started again on the next verdict - unless the first
 *   one was started as root and we no longer are (after the privilege
 *   drop): it would then run as our own user, with access to the database
 *   and the keys, so inbound verdicts are SPFR_TEMPERROR until a restart
 *   (logged).
 *
 * Threads: a checker is created once (in optin-milter before privileges are
 * dropped, so that the helper can become "nobody") and then shared by all
 * threads: spf_check_outbound(), spf_check_inbound(), spf_dmarc_lookup()
 * and spf_checker_stats() are thread-safe.  spf_checker_free() only when
 * no other thread uses the checker.
 * Children: the checker reaps its helper with waitpid() on that pid only
 * (a waitpid(-1) elsewhere or SIGCHLD set to SIG_IGN does no harm).  Create
 * the checker after daemonising: the helper is a child of that process.
 * Memory: results go to caller buffers; nothing returned needs freeing.
 * Files: spf.c (result words, outbound, the checker), spf_inbound.c and
 * spf_helper_server.c (the two sides of the helper), dmarc.c (DMARC, TXT,
 * alignment); their shared internals are in spf-private.h.
 */
#ifndef OPTIN_SPF_H
#define OPTIN_SPF_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct config;
struct spf_checker;		/* opaque */

/* RFC 7208 §2.6 results; printed by spf_result_str(). */
enum spf_result {
	SPFR_NONE,
	SPFR_NEUTRAL,
	SPFR_PASS,
	SPFR_FAIL,
	SPFR_SOFTFAIL,
	SPFR_TEMPERROR,
	SPFR_PERMERROR
};

/* Outcome of a DNS record lookup (spf_dmarc_lookup, spf_txt_lookup). */
enum spf_lookup {
	SPF_LOOKUP_FOUND,	/* record copied out */
	SPF_LOOKUP_NONE,	/* no record (NXDOMAIN, no data, no DMARC) */
	SPF_LOOKUP_TEMPERROR,	/* DNS failure: try again later */
	SPF_LOOKUP_PERMERROR	/* several records, or too long to copy */
};

/* Where the helper program is installed. */
#ifndef SPF_HELPER_PATH
#ifdef PKGLIBEXECDIR
#define SPF_HELPER_PATH PKGLIBEXECDIR "/optin-spf-helper"
#else
#define SPF_HELPER_PATH "/usr/local/libexec/optin-milter/optin-spf-helper"
#endif
#endif
/* The user the helper becomes when started as root.  It must not be
 * optin-milter's UserID: the helper may never read the database or the
 * keys. */
#define SPF_HELPER_USER "nobody"
/* Default time limit of one inbound verdict, milliseconds. */
#define SPF_INBOUND_TIMEOUT_MS 10000
/* Cache lifetimes (seconds) where the record gives none: no SPF record,
 * and temporary errors; every lifetime is capped at SPF_CACHE_MAX_TTL. */
#define SPF_CACHE_NEG_TTL 300
#define SPF_CACHE_ERR_TTL 30
#define SPF_CACHE_MAX_TTL 3600
/* Environment variable read by the helper's children only, for tests:
 * "crash" (die by SIGSEGV), "hang" (never answer), "garbage" (answer
 * nonsense).  Harmless in production: whoever sets our environment also
 * chooses our binary. */
#define SPF_HELPER_TEST_ENV "OPTIN_SPF_HELPER_TEST"

/* Options for spf_checker_new_opts(); zero-initialise and set what you need. */
struct spf_options {
	/* Helper program; NULL: SPF_HELPER_PATH. */
	const char *helper_path;
	/* Time limit of one inbound verdict; 0: SPF_INBOUND_TIMEOUT_MS. */
	unsigned int inbound_timeout_ms;
	/* Don't start the helper (optinctl): spf_check_inbound() then returns
	 * SPFR_TEMPERROR. */
	bool no_helper;
	/*
	 * Tests: serve the in-process lookups (outbound, DMARC) from these
	 * lines instead of DNS (libspf2's zone layer), NULL-terminated.  Each
	 * line is "NAME TYPE [DATA]": TYPE is TXT, A, AAAA, MX or PTR with
	 * DATA, or NXDOMAIN, NODATA, SERVFAIL without.  Every name not listed
	 * is NXDOMAIN; TTLs are one day.  Borrowed during the call only.
	 */
	const char *const *zone;
};

/* RFC 7208 word of r ("pass", "fail", "softfail", "neutral", "none",
 * "temperror", "permerror"); static string. */
const char *spf_result_str(enum spf_result r);

/* Parse an RFC 7208 word (case-insensitive) into *r_r; false if unknown. */
bool spf_result_parse(const char *s, enum spf_result *r_r);

/*
 * Create a checker for cfg (cfg->outbound_ip is copied; cfg may be freed
 * afterwards) and start the inbound helper.  NULL with why[] filled when an
 * OutboundIP entry is not an IPv4/IPv6 address, the zone is bad, or the
 * helper can't be started.  Owned; free with spf_checker_free().
 */
struct spf_checker *spf_checker_new(const struct config *cfg, char *why,
	    size_t whylen);

/* Same, with options; opts NULL means all defaults. */
struct spf_checker *spf_checker_new_opts(const struct config *cfg,
	    const struct spf_options *opts, char *why, size_t whylen);

/* Stop the helper (and its children), free; accepts NULL and *chkp ==
 * NULL, sets *chkp to NULL. */
void spf_checker_free(struct spf_checker **chkp);

/*
 * Outbound preflight: evaluate the SPF policy of sender_domain (a domain,
 * or an address whose domain part is used) for every OutboundIP, as
 * MAIL FROM:<postmaster@sender_domain> (XXX records using the %{l} macro
 * are judged for "postmaster").  The worst result wins, in the order
 * pass < neutral < none < softfail < temperror < permerror < fail; explain[]
 * says which address got it and why, e.g.
 * "example.com: fail for OutboundIP 192.0.2.9".  No OutboundIP configured:
 * SPFR_NONE ("no OutboundIP configured").  A malformed domain: SPFR_NONE.
 * DNS errors: SPFR_TEMPERROR (evaluation stops at the first, as DNS
 * trouble hits every address alike).  Results are cached per domain for the TTL of
 * its SPF TXT record (capped, see SPF_CACHE_*), so a cached verdict may lag
 * behind a record change by at most that TTL.  SPFCheck is not consulted:
 * the caller decides (suggested: with SPFCheck reject, anything but
 * SPFR_PASS refuses and SPFR_TEMPERROR tempfails; with warn, log it).
 * Thread-safe; may block for DNS on a cache miss (one evaluation at a time).
 */
enum spf_result spf_check_outbound(struct spf_checker *chk,
	    const char *sender_domain, char *explain, size_t explainlen);

/*
 * Inbound evidence: the SPF result (RFC 7208 "mfrom" identity, "helo" when
 * mail_from is empty or "<>") for a message from client_ip (IPv4 or IPv6
 * text, an "IPv6:" prefix and brackets are accepted) that said HELO helo.
 * Evaluated in the helper (see top); blocks the calling thread at most the
 * time limit.  explain[] gets libspf2's comment, cleaned to printable ASCII,
 * fit for storing as evidence.  No usable client_ip: SPFR_NONE.  Helper
 * crashed, hung, busy or not running: SPFR_TEMPERROR with the reason.
 * Loopback clients get "pass" (libspf2 gives localhost a free ride).
 * Thread-safe.
 */
enum spf_result spf_check_inbound(struct spf_checker *chk,
	    const char *client_ip, const char *helo, const char *mail_from,
	    char *explain, size_t explainlen);

/*
 * DMARC record lookup (RFC 7489 §6.6.3): the TXT record beginning
 * "v=DMARC1" at _dmarc.DOMAIN, else at _dmarc.ORGDOMAIN (see
 * spf_org_domain).  On SPF_LOOKUP_FOUND record[] holds it and, when
 * found_at is not NULL, found_at[] the domain it was found for.  More than
 * one DMARC record is SPF_LOOKUP_PERMERROR (RFC: no policy).  why[] says
 * what happened otherwise.  Thread-safe.
 */
enum spf_lookup spf_dmarc_lookup(struct spf_checker *chk, const char *domain,
	    char *record, size_t recordlen, char *found_at, size_t found_atlen,
	    char *why, size_t whylen);

/*
 * TXT records at name (a DNS name, trailing dot allowed; for optinctl's
 * DKIM check), through the resolver of the outbound checks (the test zone
 * when one is set): fn(txt, arg) is called once per record, its
 * character-strings concatenated (RFC 6376 §3.6.2.2), tab, CR and LF as
 * space, other bytes outside printable ASCII as '?'; txt is borrowed
 * during the call.
 * SPF_LOOKUP_FOUND when fn was called, SPF_LOOKUP_NONE for NXDOMAIN, no TXT
 * data or a malformed name, SPF_LOOKUP_TEMPERROR on DNS failure; why[] says
 * what happened otherwise.  Thread-safe.
 */
enum spf_lookup spf_txt_lookup(struct spf_checker *chk, const char *name,
	    void (*fn)(const char *txt, void *arg), void *arg, char *why,
	    size_t whylen);

/*
 * Organisational domain, approximated by the last two labels, lower-cased,
 * trailing dot removed: "a.b.Example.COM." -> "example.com".  XXX No Public
 * Suffix List: under multi-label suffixes this is wrong ("x.example.co.uk"
 * -> "co.uk"), so relaxed alignment there says yes too often.  False when
 * domain is empty, has a single label, or out[] is too small.
 */
bool spf_org_domain(const char *domain, char *out, size_t outlen);

/*
 * Identifier alignment (RFC 7489 §3.1): strict means the same domain
 * (case-insensitive, trailing dot ignored); relaxed means the same
 * organisational domain as spf_org_domain() computes it (same XXX).
 */
bool spf_aligned(const char *from_domain, const char *auth_domain,
	    bool strict);

/* Counters, for logs and tests. */
struct spf_stats {
	unsigned long outbound_evals;	/* outbound evaluations done */
	unsigned long outbound_cache_hits;	/* answered from the cache */
	unsigned long inbound_calls;	/* spf_check_inbound() calls */
	unsigned long helper_starts;	/* helper program started */
	pid_t helper_pid;		/* running helper, or 0 */
};

/* Copy the counters into *st_r.  Thread-safe. */
void spf_checker_stats(struct spf_checker *chk, struct spf_stats *st_r);

/* The helper program's main (optin-spf-helper): serve requests on fd 3
 * until it closes.  Not for other callers. */
int spf_helper_main(int argc, char **argv);

#endif
