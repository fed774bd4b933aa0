/*
 * dkimverify.h - DKIM verification of received reports with libopendkim
 * (RFC 6376), for optin-feedback: a complaint that names a person only by
 * address acts only when signed by a FeedbackTrustedDomains domain.
 *
 * Keys come from DNS, or with query_file from a file of
 * "selector._domainkey.domain TXT-DATA" lines (libopendkim
 * DKIM_QUERY_FILE; tests stay off the network).  Not thread-safe: one call
 * at a time per process (optin-feedback is single-threaded).
 */
#ifndef OPTIN_DKIMVERIFY_H
#define OPTIN_DKIMVERIFY_H

#include <stddef.h>

/* At most this many passing domains are reported. */
#define DKIMVERIFY_MAX 8

/*
 * Verify every DKIM-Signature of the message buf (len octets, LF or CRLF
 * line ends).  domains[] (DKIMVERIFY_MAX + 1 entries, NULL-terminated on
 * return) gets the d= of each signature that passed with a matching body
 * hash, lower-cased, owned (free with dkimverify_free).  Returns how many,
 * or -1 with why[] filled (library failure; domains[] then empty).
 */
int dkimverify_domains(const char *buf, size_t len, const char *query_file,
	    char **domains, char *why, size_t whylen);

/* Free what dkimverify_domains() put in domains[]; sets them to NULL. */
void dkimverify_free(char **domains);

#endif
