/*
 * spf-private.h - what the pieces of milter/spf share behind spf.h: the
 * checker struct, the outbound cache entry, the limits, the wire format of
 * the inbound helper, and the helpers more than one file calls (Dovecot's
 * -private.h habit, like store-private.h).
 *
 * Only the files of milter/spf include this (spf.c, spf_inbound.c,
 * dmarc.c, spf_helper_server.c); it brings in libspf2, which nothing
 * outside this folder may see.
 *
 * The pieces:
 *   spf.c              result words, the shared helpers below, outbound
 *                      evaluation and its TTL cache, checker new/free/stats,
 *                      the test zone loader;
 *   spf_inbound.c      the client side of the isolated helper: start and
 *                      stop the zygote, ask it, spf_check_inbound();
 *   spf_helper_server.c the helper program's side: privilege drop, limits,
 *                      one worker per verdict, reaping, spf_helper_main();
 *   dmarc.c            DMARC record lookup, TXT lookup, organisational
 *                      domain, identifier alignment.
 *
 * Helper wire format (spf_inbound.c to spf_helper_server.c): on the control
 * socket (SOCK_SEQPACKET, the helper's SPF_HELPER_FD) one message per
 * verdict, the request "IP\0HELO\0MAILFROM\0" with the reply socket as
 * SCM_RIGHTS; on the reply socket one message "WORD\0COMMENT\0", WORD an
 * RFC 7208 result word (spf_result_str).  Each message is at most
 * SPF_MSG_MAX bytes.
 */
#ifndef OPTIN_SPF_PRIVATE_H
#define OPTIN_SPF_PRIVATE_H

/* libspf2 needs exactly this prelude (STYLE.md section 2). */
#include <sys/types.h>
#include <netinet/in.h>
#include <arpa/nameser.h>
#include <spf2/spf.h>

#include <arpa/inet.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "spf.h"

#define SPF_HELPER_FD		3	/* control socket in the helper */
#define SPF_HELPER_MAXKIDS	16	/* verdicts evaluated at once */
#define SPF_ARG_MAX		512	/* longest ip/helo/mail_from sent */
#define SPF_MSG_MAX		2048	/* longest request or reply */
#define SPF_CACHE_SIZE		256	/* domains remembered */
#define SPF_EXPLAIN_MAX		512

/* An address parsed by spf_parse_ip(). */
struct spf_addr {
	int family;			/* AF_INET or AF_INET6 */
	struct in_addr v4;
	struct in6_addr v6;
	char text[INET6_ADDRSTRLEN];	/* canonical text form */
};

/* One outbound verdict remembered (spf.c). */
struct spf_cache_ent {
	char domain[256];
	enum spf_result result;
	char explain[SPF_EXPLAIN_MAX];
	time_t expires;			/* CLOCK_MONOTONIC seconds */
};

struct spf_checker {
	/* outbound (spf.c; dmarc.c borrows server->resolver) */
	struct spf_addr *ip;		/* owned: OutboundIP, nip entries */
	size_t nip;
	pthread_mutex_t eval_mtx;	/* guards server */
	SPF_server_t *server;		/* owned */
	SPF_dns_server_t *zone;		/* owned; NULL: real DNS */
	pthread_mutex_t cache_mtx;	/* guards cache, ncache, stats */
	struct spf_cache_ent *cache;	/* owned, SPF_CACHE_SIZE entries */
	size_t ncache;
	struct spf_stats stats;
	/* inbound helper (spf_inbound.c) */
	pthread_mutex_t helper_mtx;	/* guards ctrl, helper_pid */
	char *helper_path;		/* owned */
	unsigned int timeout_ms;
	bool no_helper;
	int ctrl;			/* control socket, -1: no helper */
	pid_t helper_pid;		/* 0: none */
	bool isolated;			/* a helper was started as root, so
					 * it became SPF_HELPER_USER */
};

/* Copy s into out[outlen] with bytes outside printable ASCII as '?' (via
 * log_safe, so length-capped); s and out may be the same buffer.  Does
 * nothing when out is NULL or outlen is 0.  (spf.c) */
void spf_clean(const char *s, char *out, size_t outlen);

/* Sender domain, or an address whose domain part is taken, to a
 * lower-case FQDN without trailing dot in out[outlen].  False when
 * malformed (empty, one label, a bad character, a label over 63 or a name
 * over 253 bytes, out too small): RFC 7208 §4.3 "none".  (spf.c) */
bool spf_norm_domain(const char *in, char *out, size_t outlen);

/* Parse IPv4 or IPv6 text into *a (an "IPv6:" prefix and brackets are
 * accepted); a->text gets the canonical form.  False when s is NULL or
 * not an address.  (spf.c) */
bool spf_parse_ip(const char *s, struct spf_addr *a);

/* Our result from a libspf2 response resp (NULL: none) and the error err
 * of the query.  RFC 7208 §4.4: any DNS error but NXDOMAIN is temperror,
 * also where libspf2 says permerror.  (spf.c) */
enum spf_result spf_map(SPF_response_t *resp, SPF_errcode_t err);

/* Spawn the helper program on a new control socket: sets chk->ctrl and
 * chk->helper_pid, counts a start.  0, or -1 with why[] filled.  Call with
 * helper_mtx held, or before the checker is shared.  (spf_inbound.c) */
int spf_helper_start(struct spf_checker *chk, char *why, size_t whylen);

/* Close the control socket (the helper exits on EOF) and reap the helper,
 * killing it after 2 s when we still may.  Safe when none is running.
 * helper_mtx held, or the checker not shared.  (spf_inbound.c) */
void spf_helper_stop(struct spf_checker *chk);

#endif
