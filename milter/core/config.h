/*
 * config.h - the one configuration parser of optin-milter, optinctl and
 * optin-unsubd.
 *
 * Format as opendkim.conf(5): one "Key value" per line, '#' starts a comment,
 * keys are case-insensitive, lists are comma- or space-separated.  An unknown
 * key or a bad value is an error naming file, line and key; parsing goes on to
 * the end so that every error is reported at once.
 *
 * A loaded config is immutable and may be shared by threads read-only.
 * Memory: config_load() returns an owned struct; free it with config_free().
 */
#ifndef OPTIN_CONFIG_H
#define OPTIN_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define CONFIG_DEFAULT_FILE SYSCONFDIR "/optin-milter.conf"

enum cfg_mode { MODE_ENFORCE, MODE_MONITOR };
enum cfg_multi { MULTI_SPLIT, MULTI_DEFER, MULTI_REJECT };
enum cfg_ondberr { ONDBERR_TEMPFAIL, ONDBERR_ACCEPT, ONDBERR_REJECT };
enum cfg_onnokey { ONNOKEY_TEMPFAIL, ONNOKEY_QUARANTINE, ONNOKEY_ACCEPT };
enum cfg_logaddr { LOGADDR_YES, LOGADDR_HASH, LOGADDR_NO };
enum cfg_spf { SPF_OFF, SPF_WARN, SPF_REJECT };
/* bit set: which DKIM signatures to add */
enum cfg_sigalg { SIGALG_RSA = 1, SIGALG_ED25519 = 2, SIGALG_BOTH = 3 };

/* A NULL-terminated list of strings, all owned by the list. */
struct cfg_list {
	size_t n;
	char **v;		/* owned; v[n] == NULL */
};

struct config {
	char *file;		/* owned: the file it came from */

	char *socket;			/* Socket */
	char *consent_db;		/* ConsentDB */
	char *quarantine_dir;		/* QuarantineDir */
	char *user_id;			/* UserID; NULL: don't change user */
	char *pid_file;			/* PidFile; NULL: none */
	bool syslog;			/* Syslog */
	int log_level;			/* LogLevel: 0 err .. 3 debug */
	char *syslog_facility;		/* SyslogFacility */
	struct cfg_list campaign_senders;	/* CampaignSenders */
	struct cfg_list campaign_auth_users;	/* CampaignAuthUsers */
	char *campaign_header;		/* CampaignHeader */
	char *list_header;		/* ListHeader */
	char *default_list;		/* DefaultList; NULL: none */
	bool strip_internal_headers;	/* StripInternalHeaders */
	enum cfg_multi multi_recipient;	/* MultiRecipientCampaign */
	char *sendmail_command;		/* SendmailCommand */
	long split_handover_wait;	/* SplitHandoverWait, seconds */
	char *resubmit_address;		/* ResubmitAddress: the SMTP channel
					   for split copies (smtpc.h); NULL:
					   SendmailCommand */
	long resubmit_timeout;		/* ResubmitTimeout, seconds per reply
					   of the channel */
	char *list_id_domain;		/* ListIdDomain */
	char *domain;			/* Domain (signing domain) */
	char *selector;			/* Selector */
	char *key_file;			/* KeyFile */
	char *key_table;		/* KeyTable */
	char *signing_table;		/* SigningTable */
	enum cfg_sigalg signing_algorithm;	/* SigningAlgorithm */
	char *selector_ed25519;		/* SelectorEd25519 (for "both") */
	char *key_file_ed25519;		/* KeyFileEd25519 (for "both") */
	bool sign_all;			/* SignAll */
	enum cfg_onnokey on_no_signing_key;	/* OnNoSigningKey */
	char *unsubscribe_url;		/* UnsubscribeURL, %t = token */
	char *unsubscribe_mailto;	/* UnsubscribeMailto, %t = token */
	char *token_key_file;		/* TokenKeyFile */
	long token_lifetime;		/* TokenLifetime, seconds */
	char *erasure_key_file;		/* ErasureKeyFile */
	enum cfg_ondberr on_db_error;	/* OnDBError */
	long quarantine_retention;	/* QuarantineRetention, seconds */
	enum cfg_logaddr log_addresses;	/* LogAddresses */
	char *unsubscribe_listen;	/* UnsubscribeListen */
	struct cfg_list outbound_ip;	/* OutboundIP */
	enum cfg_spf spf_check;		/* SPFCheck */
	enum cfg_mode mode;		/* Mode */
	long db_busy_timeout;		/* DBBusyTimeout, milliseconds */
	char *organization;		/* Organization (shown on pages) */
	char *privacy_url;		/* PrivacyURL (shown on pages) */
	/* optin-feedback (DESIGN "Feedback: bounces and complaints") */
	char *bounce_address;		/* BounceAddress, %t = token */
	long soft_bounce_limit;		/* SoftBounceLimit */
	long soft_bounce_window;	/* SoftBounceWindow, seconds */
	long policy_bounce_limit;	/* PolicyBounceLimit */
	long policy_bounce_window;	/* PolicyBounceWindow, seconds */
	struct cfg_list feedback_trusted_domains; /* FeedbackTrustedDomains */
	long feedback_max_size;		/* FeedbackMaxSize, bytes */
	char *cfbl_address;		/* CFBLAddress (RFC 9477) */
	char *dkim_query_file;		/* DKIMQueryFile: keys from a file
					   instead of DNS (tests) */
	char *metrics_address;		/* MetricsAddress: optin-milter's
					   /metrics (metrics.h); NULL: off */
	char *unsubscribe_metrics_address; /* UnsubscribeMetricsAddress:
					   optin-unsubd's; NULL: off */
	long http_request_timeout;	/* HTTPRequestTimeout, seconds for a
					   whole HTTP request to arrive
					   (metrics, optin-unsubd) */
};

/*
 * Load the config file path (NULL: CONFIG_DEFAULT_FILE).  Every error is
 * written to err as "file:line: Key: why" and counted.  Returns an owned
 * config when there was no error, NULL otherwise (*nerrors_r says how many).
 * A missing file is one error.  Keys not in the file get their defaults.
 */
struct config *config_load(const char *path, FILE *err, int *nerrors_r);

/*
 * The same, with every error line logged at err level (log.h), prefixed by
 * prefix (e.g. "reload: "), instead of written to a stream: for a reload,
 * where stderr may lead nowhere.
 */
struct config *config_load_log(const char *path, const char *prefix,
	    int *nerrors_r);

/* Parse config text from memory (for tests); name appears in messages. */
struct config *config_parse(const char *name, const char *text, FILE *err,
	    int *nerrors_r);

/* Free a config; accepts NULL and *cfgp == NULL, sets *cfgp to NULL. */
void config_free(struct config **cfgp);

/* True when list contains s, compared case-insensitively. */
bool cfg_list_has(const struct cfg_list *list, const char *s);

/* Number of keys known to the parser, and the name of key i (for the
 * test that every key is documented in optin-milter.conf.5). */
size_t config_key_count(void);
const char *config_key_name(size_t i);

#endif
