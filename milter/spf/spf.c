/*
 * spf.c - SPF checks with libspf2, DMARC record lookup, alignment (spf.h).
 * The only file that includes libspf2.
 *
 * Outbound: one SPF_server per checker (libspf2's server is not safe to
 * share between threads), used under eval_mtx; verdicts are cached per
 * domain under cache_mtx, for the TTL of the domain's TXT record, which a
 * separate res_nquery() reads (libspf2's resolver layer drops TTLs).
 * A thread that misses the cache waits for eval_mtx and then looks again,
 * so a burst of campaign mail for one domain costs one evaluation.
 *
 * Inbound: the helper program optin-spf-helper (spf_helper_main below) runs
 * as a "zygote": started once with posix_spawn(), it drops to "nobody" when
 * root, then waits on a SOCK_SEQPACKET control socket (its fd 3).  For each
 * verdict the caller makes a socketpair, sends one end with the request
 * (SCM_RIGHTS) and waits on the other with a deadline; the zygote forks a
 * child that evaluates with a fresh libspf2 server, answers on that end and
 * exits.  The caller's end sees EOF when the child dies, so a crash costs
 * one verdict at once; a hang costs the time limit, after which the zygote
 * kills the child (alarm() in the child first).  When the zygote itself is
 * gone, the next call starts a new one.
 *
 * Wire format: request "IP\0HELO\0MAILFROM\0"; reply "WORD\0COMMENT\0".
 *
 * Threads: see spf.h.  Global state: libspf2's message handlers (set once
 * to route its warnings to log_debug) and nothing else.
 */
#include "autoconf.h"

/* libspf2 needs exactly this prelude (STYLE.md section 2). */
#include <sys/types.h>
#include <netinet/in.h>
#include <arpa/nameser.h>
#include <spf2/spf.h>
#include <spf2/spf_dns_zone.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <resolv.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "spf.h"

extern char **environ;

#define SPF_HELPER_FD		3	/* control socket in the helper */
#define SPF_HELPER_MAXKIDS	16	/* verdicts evaluated at once */
#define SPF_ARG_MAX		512	/* longest ip/helo/mail_from sent */
#define SPF_MSG_MAX		2048	/* longest request or reply */
#define SPF_CACHE_SIZE		256	/* domains remembered */
#define SPF_EXPLAIN_MAX		512

struct spf_addr {
	int family;			/* AF_INET or AF_INET6 */
	struct in_addr v4;
	struct in6_addr v6;
	char text[INET6_ADDRSTRLEN];
};

struct spf_cache_ent {
	char domain[256];
	enum spf_result result;
	char explain[SPF_EXPLAIN_MAX];
	time_t expires;			/* CLOCK_MONOTONIC seconds */
};

struct spf_checker {
	/* outbound */
	struct spf_addr *ip;		/* owned: OutboundIP, nip entries */
	size_t nip;
	pthread_mutex_t eval_mtx;	/* guards server */
	SPF_server_t *server;		/* owned */
	SPF_dns_server_t *zone;		/* owned; NULL: real DNS */
	pthread_mutex_t cache_mtx;	/* guards cache, ncache, stats */
	struct spf_cache_ent *cache;	/* owned, SPF_CACHE_SIZE entries */
	size_t ncache;
	struct spf_stats stats;
	/* inbound helper */
	pthread_mutex_t helper_mtx;	/* guards ctrl, helper_pid */
	char *helper_path;		/* owned */
	unsigned int timeout_ms;
	bool no_helper;
	int ctrl;			/* control socket, -1: no helper */
	pid_t helper_pid;		/* 0: none */
};

static const char *const spf_words[] = {
	[SPFR_NONE] = "none",
	[SPFR_NEUTRAL] = "neutral",
	[SPFR_PASS] = "pass",
	[SPFR_FAIL] = "fail",
	[SPFR_SOFTFAIL] = "softfail",
	[SPFR_TEMPERROR] = "temperror",
	[SPFR_PERMERROR] = "permerror",
};

const char *
spf_result_str(enum spf_result r)
{
	if ((size_t)r >= sizeof(spf_words) / sizeof(spf_words[0]))
		return "permerror";
	return spf_words[r];
}

bool
spf_result_parse(const char *s, enum spf_result *r_r)
{
	size_t i;

	for (i = 0; s != NULL && i < sizeof(spf_words) / sizeof(spf_words[0]);
	    i++)
		if (strcasecmp(s, spf_words[i]) == 0) {
			*r_r = (enum spf_result)i;
			return true;
		}
	return false;
}

/* spf_rank - badness for "the worst result wins" (see spf.h) */
static int
spf_rank(enum spf_result r)
{
	switch (r) {
	case SPFR_PASS:
		return 0;
	case SPFR_NEUTRAL:
		return 1;
	case SPFR_NONE:
		return 2;
	case SPFR_SOFTFAIL:
		return 3;
	case SPFR_TEMPERROR:
		return 4;
	case SPFR_PERMERROR:
		return 5;
	case SPFR_FAIL:
		return 6;
	}
	return 5;
}

/* spf_now - monotonic seconds */
static time_t
spf_now(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* spf_clean - copy s into out with bytes outside printable ASCII as '?' */
static void
spf_clean(const char *s, char *out, size_t outlen)
{
	if (out == NULL || outlen == 0)
		return;
	(void)log_safe(s, out, outlen);
}

/* spf_norm_domain - sender domain (or address) to a lower-case FQDN
 * without trailing dot; false when malformed (RFC 7208 §4.3: "none") */
static bool
spf_norm_domain(const char *in, char *out, size_t outlen)
{
	const char *at;
	size_t len, i, label = 0;
	bool dot = false;

	if (in == NULL)
		return false;
	if ((at = strrchr(in, '@')) != NULL)
		in = at + 1;
	len = strlen(in);
	if (len > 0 && in[len - 1] == '.')
		len--;
	if (len == 0 || len > 253 || len >= outlen)
		return false;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];

		if (c == '.') {
			if (label == 0)
				return false;
			label = 0;
			dot = true;
		} else if (isalnum(c) || c == '-' || c == '_') {
			if (++label > 63)
				return false;
		} else
			return false;
		out[i] = (char)tolower(c);
	}
	out[len] = '\0';
	return dot && label > 0;
}

/* spf_parse_ip - IPv4/IPv6 text (optional "IPv6:" prefix, brackets) */
static bool
spf_parse_ip(const char *s, struct spf_addr *a)
{
	char buf[INET6_ADDRSTRLEN + 8];
	size_t len;

	if (s == NULL)
		return false;
	if (*s == '[')
		s++;
	if (strncasecmp(s, "IPv6:", 5) == 0)
		s += 5;
	len = strlen(s);
	if (len >= sizeof(buf))
		return false;
	memcpy(buf, s, len + 1);
	if (len > 0 && buf[len - 1] == ']')
		buf[len - 1] = '\0';
	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET, buf, &a->v4) == 1)
		a->family = AF_INET;
	else if (inet_pton(AF_INET6, buf, &a->v6) == 1)
		a->family = AF_INET6;
	else
		return false;
	(void)inet_ntop(a->family, a->family == AF_INET ? (void *)&a->v4 :
	    (void *)&a->v6, a->text, sizeof(a->text));
	return true;
}

/* spf_log_msg - route libspf2's warnings and notes to log_debug */
static void
spf_log_msg(const char *file, int line, const char *msg)
{
	char safe[256];

	(void)file;
	(void)line;
	log_debug("libspf2: %s", log_safe(msg, safe, sizeof(safe)));
}

/* spf_map - our result from a libspf2 response.  RFC 7208 §4.4: any DNS
 * error but NXDOMAIN is temperror, also where libspf2 says permerror. */
static enum spf_result
spf_map(SPF_response_t *resp, SPF_errcode_t err)
{
	if (resp == NULL)
		return SPFR_TEMPERROR;
	if (err == SPF_E_DNS_ERROR ||
	    SPF_response_errcode(resp) == SPF_E_DNS_ERROR)
		return SPFR_TEMPERROR;
	switch (SPF_response_result(resp)) {
	case SPF_RESULT_PASS:
		return SPFR_PASS;
	case SPF_RESULT_FAIL:
		return SPFR_FAIL;
	case SPF_RESULT_SOFTFAIL:
		return SPFR_SOFTFAIL;
	case SPF_RESULT_NEUTRAL:
		return SPFR_NEUTRAL;
	case SPF_RESULT_NONE:
		return SPFR_NONE;
	case SPF_RESULT_TEMPERROR:
		return SPFR_TEMPERROR;
	case SPF_RESULT_PERMERROR:
	case SPF_RESULT_INVALID:
	default:
		return SPFR_PERMERROR;
	}
}

/* spf_first_error - the first error message of a response, cleaned */
static void
spf_first_error(SPF_response_t *resp, char *out, size_t outlen)
{
	int i;

	out[0] = '\0';
	if (resp == NULL)
		return;
	for (i = 0; i < resp->errors_length; i++) {
		SPF_error_t *e = SPF_response_message(resp, i);

		if (e != NULL && SPF_error_errorp(e) &&
		    SPF_error_message(e) != NULL) {
			spf_clean(SPF_error_message(e), out, outlen);
			return;
		}
	}
}

/* spf_eval - evaluate domain for one address with srv; reason[] gets
 * libspf2's first error, if any */
static enum spf_result
spf_eval(SPF_server_t *srv, const struct spf_addr *ip, const char *domain,
    char *reason, size_t reasonlen)
{
	SPF_request_t *req;
	SPF_response_t *resp = NULL;
	SPF_errcode_t err;
	enum spf_result r;

	reason[0] = '\0';
	if ((req = SPF_request_new(srv)) == NULL) {
		snprintf(reason, reasonlen, "out of memory");
		return SPFR_TEMPERROR;
	}
	if (ip->family == AF_INET)
		err = SPF_request_set_ipv4(req, ip->v4);
	else
		err = SPF_request_set_ipv6(req, ip->v6);
	if (err == SPF_E_SUCCESS)
		err = SPF_request_set_helo_dom(req, domain);
	if (err == SPF_E_SUCCESS)
		err = SPF_request_set_env_from(req, domain);
	if (err != SPF_E_SUCCESS) {
		snprintf(reason, reasonlen, "%s", SPF_strerror(err));
		SPF_request_free(req);
		return SPFR_TEMPERROR;
	}
	err = SPF_request_query_mailfrom(req, &resp);
	r = spf_map(resp, err);
	spf_first_error(resp, reason, reasonlen);
	if (resp != NULL)
		SPF_response_free(resp);
	SPF_request_free(req);
	return r;
}

/* spf_skip_name - offset after the (possibly compressed) name at p in a
 * DNS message of len bytes, or 0 when malformed */
static size_t
spf_skip_name(const unsigned char *m, size_t len, size_t p)
{
	while (p < len) {
		unsigned char c = m[p];

		if (c == 0)
			return p + 1;
		if ((c & 0xc0) == 0xc0)
			return p + 2 <= len ? p + 2 : 0;
		if ((c & 0xc0) != 0)
			return 0;
		p += 1 + (size_t)c;
	}
	return 0;
}

/* spf_ttl - TTL of domain's TXT records: >= 0 seconds, -1 when there is
 * none (NXDOMAIN, no data), -2 on DNS error */
static long
spf_ttl(struct spf_checker *chk, const char *domain)
{
	unsigned char ans[4096];
	struct __res_state rs;
	size_t len, p, i, qd, an;
	long ttl = -1;
	int n, herr;

	if (chk->zone != NULL) {
		SPF_dns_rr_t *rr = SPF_dns_lookup(chk->zone, domain, ns_t_txt,
		    0);

		if (rr->herrno == NETDB_SUCCESS && rr->num_rr > 0)
			ttl = (long)rr->ttl;
		else if (rr->herrno != HOST_NOT_FOUND && rr->herrno != NO_DATA)
			ttl = -2;
		SPF_dns_rr_free(rr);
		return ttl;
	}
	memset(&rs, 0, sizeof(rs));
	if (res_ninit(&rs) != 0)
		return -2;
	n = res_nquery(&rs, domain, ns_c_in, ns_t_txt, ans, sizeof(ans));
	herr = rs.res_h_errno;
	res_nclose(&rs);
	if (n < 0)
		return herr == HOST_NOT_FOUND || herr == NO_DATA ? -1 : -2;
	len = (size_t)n < sizeof(ans) ? (size_t)n : sizeof(ans);
	if (len < 12)
		return -2;
	qd = (size_t)ans[4] << 8 | ans[5];
	an = (size_t)ans[6] << 8 | ans[7];
	p = 12;
	for (i = 0; i < qd && p != 0; i++)
		if ((p = spf_skip_name(ans, len, p)) != 0)
			p = p + 4 <= len ? p + 4 : 0;
	for (i = 0; i < an && p != 0; i++) {
		unsigned int type, rdlen;
		unsigned long t;

		if ((p = spf_skip_name(ans, len, p)) == 0 || p + 10 > len)
			break;
		type = (unsigned int)ans[p] << 8 | ans[p + 1];
		t = (unsigned long)ans[p + 4] << 24 | (unsigned long)ans[p + 5]
		    << 16 | (unsigned long)ans[p + 6] << 8 | ans[p + 7];
		rdlen = (unsigned int)ans[p + 8] << 8 | ans[p + 9];
		if (t > 0x7fffffffUL)	/* RFC 2181 §8 */
			t = 0;
		if (type == ns_t_txt && (ttl < 0 || (long)t < ttl))
			ttl = (long)t;
		p += 10 + rdlen;
		if (p > len)
			break;
	}
	return ttl;
}

/* spf_cache_get - cached verdict for domain, if fresh; counts a hit */
static bool
spf_cache_get(struct spf_checker *chk, const char *domain,
    enum spf_result *r_r, char *explain, size_t explainlen)
{
	time_t now = spf_now();
	bool hit = false;
	size_t i;

	pthread_mutex_lock(&chk->cache_mtx);
	for (i = 0; i < chk->ncache; i++) {
		struct spf_cache_ent *e = &chk->cache[i];

		if (strcmp(e->domain, domain) != 0 || e->expires <= now)
			continue;
		*r_r = e->result;
		if (explain != NULL && explainlen > 0)
			snprintf(explain, explainlen, "%s", e->explain);
		chk->stats.outbound_cache_hits++;
		hit = true;
		break;
	}
	pthread_mutex_unlock(&chk->cache_mtx);
	return hit;
}

/* spf_cache_put - remember a verdict for ttl seconds (0: don't); replaces
 * the same domain, an expired entry, or the one expiring first */
static void
spf_cache_put(struct spf_checker *chk, const char *domain,
    enum spf_result r, const char *explain, long ttl)
{
	time_t now = spf_now();
	struct spf_cache_ent *e = NULL;
	size_t i;

	if (ttl <= 0)
		return;
	if (ttl > SPF_CACHE_MAX_TTL)
		ttl = SPF_CACHE_MAX_TTL;
	pthread_mutex_lock(&chk->cache_mtx);
	for (i = 0; i < chk->ncache; i++)
		if (strcmp(chk->cache[i].domain, domain) == 0) {
			e = &chk->cache[i];
			break;
		}
	if (e == NULL && chk->ncache < SPF_CACHE_SIZE)
		e = &chk->cache[chk->ncache++];
	if (e == NULL) {
		e = &chk->cache[0];
		for (i = 1; i < chk->ncache; i++)
			if (chk->cache[i].expires < e->expires)
				e = &chk->cache[i];
	}
	snprintf(e->domain, sizeof(e->domain), "%s", domain);
	e->result = r;
	snprintf(e->explain, sizeof(e->explain), "%s", explain);
	e->expires = now + ttl;
	pthread_mutex_unlock(&chk->cache_mtx);
}

enum spf_result
spf_check_outbound(struct spf_checker *chk, const char *sender_domain,
    char *explain, size_t explainlen)
{
	char dom[256], reason[160], worst_reason[160] = "";
	char text[SPF_EXPLAIN_MAX];
	enum spf_result r, worst = SPFR_PASS;
	size_t i, worst_i = 0;
	long ttl;

	if (explain != NULL && explainlen > 0)
		explain[0] = '\0';
	if (!spf_norm_domain(sender_domain, dom, sizeof(dom))) {
		char safe[128];

		snprintf(explain, explainlen, "malformed sender domain '%s'",
		    log_safe(sender_domain, safe, sizeof(safe)));
		return SPFR_NONE;
	}
	if (chk->nip == 0) {
		snprintf(explain, explainlen, "no OutboundIP configured");
		return SPFR_NONE;
	}
	if (spf_cache_get(chk, dom, &r, explain, explainlen))
		return r;

	pthread_mutex_lock(&chk->eval_mtx);
	/* Another thread may have filled the cache while we waited. */
	if (spf_cache_get(chk, dom, &r, explain, explainlen)) {
		pthread_mutex_unlock(&chk->eval_mtx);
		return r;
	}
	for (i = 0; i < chk->nip; i++) {
		r = spf_eval(chk->server, &chk->ip[i], dom, reason,
		    sizeof(reason));
		if (i == 0 || spf_rank(r) > spf_rank(worst)) {
			worst = r;
			worst_i = i;
			memcpy(worst_reason, reason, sizeof(worst_reason));
		}
		/* DNS trouble hits every address alike: don't wait for it
		 * once per OutboundIP. */
		if (r == SPFR_TEMPERROR)
			break;
	}
	ttl = worst == SPFR_TEMPERROR ? -2 : spf_ttl(chk, dom);
	pthread_mutex_unlock(&chk->eval_mtx);

	if (worst == SPFR_PASS)
		snprintf(text, sizeof(text), "%s: pass for all %zu OutboundIP",
		    dom, chk->nip);
	else
		snprintf(text, sizeof(text), "%s: %s for OutboundIP %s%s%s",
		    dom, spf_result_str(worst), chk->ip[worst_i].text,
		    worst_reason[0] != '\0' ? ": " : "", worst_reason);
	if (worst == SPFR_TEMPERROR || ttl == -2)
		ttl = SPF_CACHE_ERR_TTL;
	else if (worst == SPFR_NONE || ttl == -1)
		ttl = SPF_CACHE_NEG_TTL;
	pthread_mutex_lock(&chk->cache_mtx);
	chk->stats.outbound_evals++;
	pthread_mutex_unlock(&chk->cache_mtx);
	spf_cache_put(chk, dom, worst, text, ttl);
	if (explain != NULL && explainlen > 0)
		snprintf(explain, explainlen, "%s", text);
	return worst;
}

/* spf_zone_load - build libspf2's zone layer from "NAME TYPE [DATA]" */
static SPF_dns_server_t *
spf_zone_load(const char *const *lines, char *why, size_t whylen)
{
	static const struct {
		const char *word;
		ns_type type;
		SPF_dns_stat_t herrno;	/* NETDB_SUCCESS: needs data */
	} types[] = {
		{ "TXT", ns_t_txt, NETDB_SUCCESS },
		{ "A", ns_t_a, NETDB_SUCCESS },
		{ "AAAA", ns_t_aaaa, NETDB_SUCCESS },
		{ "MX", ns_t_mx, NETDB_SUCCESS },
		{ "PTR", ns_t_ptr, NETDB_SUCCESS },
		{ "NXDOMAIN", ns_t_any, HOST_NOT_FOUND },
		{ "NODATA", ns_t_any, NO_DATA },
		{ "SERVFAIL", ns_t_any, TRY_AGAIN },
	};
	SPF_dns_server_t *zone;
	size_t i, j;

	if ((zone = SPF_dns_zone_new(NULL, "optin-zone", 0)) == NULL) {
		snprintf(why, whylen, "out of memory");
		return NULL;
	}
	for (i = 0; lines[i] != NULL; i++) {
		char name[256], word[16];
		const char *data;
		int off = 0;

		if (sscanf(lines[i], "%255s %15s %n", name, word, &off) < 2 ||
		    off == 0)
			goto bad;
		data = lines[i] + off;
		for (j = 0; j < sizeof(types) / sizeof(types[0]); j++)
			if (strcasecmp(word, types[j].word) == 0)
				break;
		if (j == sizeof(types) / sizeof(types[0]))
			goto bad;
		/* libspf2 aborts on data with an error type: check first. */
		if ((types[j].herrno == NETDB_SUCCESS) != (*data != '\0'))
			goto bad;
		if (SPF_dns_zone_add_str(zone, name, types[j].type,
		    types[j].herrno, types[j].herrno == NETDB_SUCCESS ? data :
		    NULL) != SPF_E_SUCCESS)
			goto bad;
	}
	return zone;
bad:
	snprintf(why, whylen, "zone line %zu: bad record '%s'", i + 1,
	    lines[i]);
	SPF_dns_free(zone);
	return NULL;
}

/* spf_send_fd - send buf and descriptor fd as one message */
static int
spf_send_fd(int sock, const void *buf, size_t len, int fd)
{
	union {
		struct cmsghdr h;
		char space[CMSG_SPACE(sizeof(int))];
	} u;
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr msg;
	struct cmsghdr *c;
	ssize_t n;

	memset(&msg, 0, sizeof(msg));
	memset(&u, 0, sizeof(u));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = u.space;
	msg.msg_controllen = sizeof(u.space);
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	do
		n = sendmsg(sock, &msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return n == (ssize_t)len ? 0 : -1;
}

/* spf_helper_start - spawn the helper on a new control socket; call with
 * helper_mtx held (or before the checker is shared) */
static int
spf_helper_start(struct spf_checker *chk, char *why, size_t whylen)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, all;
	char ms[16];
	char *argv[4];
	int sv[2], rc;
	pid_t pid;

	/* posix_spawn() need not report a failed exec (under valgrind it
	 * doesn't): check first. */
	if (access(chk->helper_path, X_OK) != 0) {
		snprintf(why, whylen, "cannot start %s: %s", chk->helper_path,
		    strerror(errno));
		return -1;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		snprintf(why, whylen, "socketpair: %s", strerror(errno));
		return -1;
	}
	if (sv[1] == SPF_HELPER_FD) {	/* dup2 onto itself keeps CLOEXEC */
		int fd = fcntl(sv[1], F_DUPFD_CLOEXEC, SPF_HELPER_FD + 1);

		(void)close(sv[1]);
		sv[1] = fd;
		if (fd < 0) {
			snprintf(why, whylen, "fcntl: %s", strerror(errno));
			(void)close(sv[0]);
			return -1;
		}
	}
	snprintf(ms, sizeof(ms), "%u", chk->timeout_ms);
	argv[0] = chk->helper_path;
	argv[1] = (char *)"-t";
	argv[2] = ms;
	argv[3] = NULL;
	sigemptyset(&none);
	sigfillset(&all);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, sv[1], SPF_HELPER_FD);
	posix_spawnattr_init(&attr);
	/* libmilter threads block signals; the helper starts clean. */
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &all);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK |
	    POSIX_SPAWN_SETSIGDEF);
	rc = posix_spawn(&pid, chk->helper_path, &fa, &attr, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	(void)close(sv[1]);
	if (rc != 0) {
		snprintf(why, whylen, "cannot start %s: %s", chk->helper_path,
		    strerror(rc));
		(void)close(sv[0]);
		return -1;
	}
	chk->ctrl = sv[0];
	chk->helper_pid = pid;
	pthread_mutex_lock(&chk->cache_mtx);
	chk->stats.helper_starts++;
	pthread_mutex_unlock(&chk->cache_mtx);
	return 0;
}

/* spf_helper_stop - close the control socket (the helper exits on EOF)
 * and reap it; helper_mtx held or checker not shared */
static void
spf_helper_stop(struct spf_checker *chk)
{
	int i, status;
	pid_t pid;

	if (chk->ctrl >= 0)
		(void)close(chk->ctrl);
	chk->ctrl = -1;
	if (chk->helper_pid <= 0)
		return;
	for (i = 0; i < 200; i++) {	/* 2 s */
		pid = waitpid(chk->helper_pid, &status, WNOHANG);
		if (pid != 0)		/* reaped, or not our child */
			break;
		(void)usleep(10000);
	}
	if (i == 200) {
		/* Fails with EPERM once we dropped privileges and the helper
		 * is "nobody"; it then exits by itself on EOF. */
		if (kill(chk->helper_pid, SIGKILL) == 0)
			(void)waitpid(chk->helper_pid, &status, 0);
		else
			log_warnx("spf: helper pid %ld did not exit",
			    (long)chk->helper_pid);
	}
	chk->helper_pid = 0;
}

struct spf_checker *
spf_checker_new(const struct config *cfg, char *why, size_t whylen)
{
	return spf_checker_new_opts(cfg, NULL, why, whylen);
}

struct spf_checker *
spf_checker_new_opts(const struct config *cfg,
    const struct spf_options *opts, char *why, size_t whylen)
{
	static const struct spf_options defaults;
	struct spf_checker *chk;
	size_t i;

	if (opts == NULL)
		opts = &defaults;
	if ((chk = calloc(1, sizeof(*chk))) == NULL) {
		snprintf(why, whylen, "out of memory");
		return NULL;
	}
	chk->ctrl = -1;
	pthread_mutex_init(&chk->eval_mtx, NULL);
	pthread_mutex_init(&chk->cache_mtx, NULL);
	pthread_mutex_init(&chk->helper_mtx, NULL);
	chk->timeout_ms = opts->inbound_timeout_ms != 0 ?
	    opts->inbound_timeout_ms : SPF_INBOUND_TIMEOUT_MS;
	chk->no_helper = opts->no_helper;
	chk->helper_path = strdup(opts->helper_path != NULL ?
	    opts->helper_path : SPF_HELPER_PATH);
	chk->cache = calloc(SPF_CACHE_SIZE, sizeof(*chk->cache));
	if (chk->helper_path == NULL || chk->cache == NULL)
		goto oom;

	if (cfg != NULL && cfg->outbound_ip.n > 0) {
		chk->ip = calloc(cfg->outbound_ip.n, sizeof(*chk->ip));
		if (chk->ip == NULL)
			goto oom;
		for (i = 0; i < cfg->outbound_ip.n; i++) {
			char safe[64];

			if (!spf_parse_ip(cfg->outbound_ip.v[i], &chk->ip[i])) {
				snprintf(why, whylen, "OutboundIP: '%s' is not "
				    "an IPv4 or IPv6 address", log_safe(
				    cfg->outbound_ip.v[i], safe, sizeof(safe)));
				goto fail;
			}
		}
		chk->nip = cfg->outbound_ip.n;
	}

	SPF_warning_handler = spf_log_msg;
	SPF_info_handler = spf_log_msg;
	SPF_debug_handler = NULL;
	if (opts->zone != NULL) {
		if ((chk->zone = spf_zone_load(opts->zone, why, whylen)) ==
		    NULL)
			goto fail;
		chk->server = SPF_server_new_dns(chk->zone, 0);
	} else
		chk->server = SPF_server_new(SPF_DNS_RESOLV, 0);
	if (chk->server == NULL)
		goto oom;

	if (!chk->no_helper && spf_helper_start(chk, why, whylen) < 0)
		goto fail;
	return chk;
oom:
	snprintf(why, whylen, "out of memory");
fail:
	spf_checker_free(&chk);
	return NULL;
}

void
spf_checker_free(struct spf_checker **chkp)
{
	struct spf_checker *chk;

	if (chkp == NULL || (chk = *chkp) == NULL)
		return;
	spf_helper_stop(chk);
	if (chk->server != NULL)
		SPF_server_free(chk->server);
	if (chk->zone != NULL)
		SPF_dns_free(chk->zone);
	pthread_mutex_destroy(&chk->eval_mtx);
	pthread_mutex_destroy(&chk->cache_mtx);
	pthread_mutex_destroy(&chk->helper_mtx);
	free(chk->helper_path);
	free(chk->cache);
	free(chk->ip);
	free(chk);
	*chkp = NULL;
}

void
spf_checker_stats(struct spf_checker *chk, struct spf_stats *st_r)
{
	pthread_mutex_lock(&chk->cache_mtx);
	*st_r = chk->stats;
	pthread_mutex_unlock(&chk->cache_mtx);
	pthread_mutex_lock(&chk->helper_mtx);
	st_r->helper_pid = chk->helper_pid;
	pthread_mutex_unlock(&chk->helper_mtx);
}

/* spf_ask_helper - send req with a fresh reply socket; returns our end,
 * or -1 with why[] filled.  Starts a new helper when the old one is gone. */
static int
spf_ask_helper(struct spf_checker *chk, const char *req, size_t reqlen,
    char *why, size_t whylen)
{
	int sv[2], attempt, sent = -1;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		snprintf(why, whylen, "socketpair: %s", strerror(errno));
		return -1;
	}
	pthread_mutex_lock(&chk->helper_mtx);
	for (attempt = 0; attempt < 2 && sent < 0; attempt++) {
		if (chk->ctrl < 0) {
			if (spf_helper_start(chk, why, whylen) < 0)
				break;
			if (getuid() != 0)
				log_warnx("spf: SPF helper restarted as uid "
				    "%ld, not as nobody", (long)getuid());
		}
		sent = spf_send_fd(chk->ctrl, req, reqlen, sv[1]);
		if (sent < 0) {
			snprintf(why, whylen, "SPF helper gone: %s",
			    strerror(errno));
			spf_helper_stop(chk);
		}
	}
	pthread_mutex_unlock(&chk->helper_mtx);
	(void)close(sv[1]);
	if (sent < 0) {
		(void)close(sv[0]);
		return -1;
	}
	return sv[0];
}

/* spf_wait_reply - read one message from fd within timeout_ms; returns its
 * length, 0 on EOF, -1 on timeout (errno ETIMEDOUT) or error */
static ssize_t
spf_wait_reply(int fd, char *buf, size_t buflen, unsigned int timeout_ms)
{
	struct timespec t0, t;
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	long left;
	ssize_t n;
	int rc;

	(void)clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		(void)clock_gettime(CLOCK_MONOTONIC, &t);
		left = (long)timeout_ms - ((t.tv_sec - t0.tv_sec) * 1000L +
		    (t.tv_nsec - t0.tv_nsec) / 1000000L);
		if (left <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		rc = poll(&pfd, 1, (int)left);
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc < 0)
			return -1;
		if (rc == 0)
			continue;
		do
			n = recv(fd, buf, buflen, 0);
		while (n < 0 && errno == EINTR);
		return n;
	}
}

enum spf_result
spf_check_inbound(struct spf_checker *chk, const char *client_ip,
    const char *helo, const char *mail_from, char *explain,
    size_t explainlen)
{
	char req[SPF_MSG_MAX], rep[SPF_MSG_MAX + 1], from[SPF_ARG_MAX + 1];
	char why[160];
	struct spf_addr ip;
	enum spf_result r;
	size_t len, hlen, flen;
	ssize_t n;
	int fd;

	if (explain != NULL && explainlen > 0)
		explain[0] = '\0';
	pthread_mutex_lock(&chk->cache_mtx);
	chk->stats.inbound_calls++;
	pthread_mutex_unlock(&chk->cache_mtx);
	if (!spf_parse_ip(client_ip, &ip)) {
		snprintf(explain, explainlen, "no usable client address");
		return SPFR_NONE;
	}
	if (helo == NULL)
		helo = "";
	if (mail_from == NULL)
		mail_from = "";
	flen = strlen(mail_from);
	if (flen >= 2 && mail_from[0] == '<' && mail_from[flen - 1] == '>') {
		mail_from++;
		flen -= 2;
	}
	hlen = strlen(helo);
	if (flen > SPF_ARG_MAX || hlen > SPF_ARG_MAX) {
		snprintf(explain, explainlen, "identity too long");
		return SPFR_NONE;
	}
	memcpy(from, mail_from, flen);
	from[flen] = '\0';
	len = strlen(ip.text) + 1;
	memcpy(req, ip.text, len);
	memcpy(req + len, helo, hlen + 1);
	len += hlen + 1;
	memcpy(req + len, from, flen + 1);
	len += flen + 1;

	if (chk->no_helper) {
		snprintf(explain, explainlen, "SPF helper not running");
		return SPFR_TEMPERROR;
	}
	if ((fd = spf_ask_helper(chk, req, len, why, sizeof(why))) < 0) {
		log_warnx("spf: %s", why);
		snprintf(explain, explainlen, "%s", why);
		return SPFR_TEMPERROR;
	}
	n = spf_wait_reply(fd, rep, sizeof(rep) - 1, chk->timeout_ms);
	(void)close(fd);
	if (n < 0 && errno == ETIMEDOUT) {
		log_warnx("spf: SPF helper timed out after %u ms (client %s)",
		    chk->timeout_ms, ip.text);
		snprintf(explain, explainlen, "SPF evaluation timed out "
		    "after %u ms", chk->timeout_ms);
		return SPFR_TEMPERROR;
	}
	if (n <= 0) {
		log_warnx("spf: SPF helper died without an answer (client %s)",
		    ip.text);
		snprintf(explain, explainlen, "SPF evaluation failed: helper "
		    "died");
		return SPFR_TEMPERROR;
	}
	rep[n] = '\0';
	len = strlen(rep);
	if (!spf_result_parse(rep, &r)) {
		log_warnx("spf: SPF helper gave a malformed answer");
		snprintf(explain, explainlen, "SPF evaluation failed: "
		    "malformed answer");
		return SPFR_TEMPERROR;
	}
	if ((ssize_t)len + 1 < n)
		spf_clean(rep + len + 1, explain, explainlen);
	return r;
}

/* spf_dmarc_version - does txt start with the DMARC version tag?
 * RFC 7489 §6.4: "v" *WSP "=" *WSP "DMARC1", then ';', WSP or end */
static bool
spf_dmarc_version(const char *txt)
{
	if (*txt++ != 'v')
		return false;
	while (*txt == ' ' || *txt == '\t')
		txt++;
	if (*txt++ != '=')
		return false;
	while (*txt == ' ' || *txt == '\t')
		txt++;
	if (strncmp(txt, "DMARC1", 6) != 0)
		return false;
	txt += 6;
	return *txt == '\0' || *txt == ';' || *txt == ' ' || *txt == '\t';
}

/* spf_dmarc_at - the DMARC record at _dmarc.dom */
static enum spf_lookup
spf_dmarc_at(struct spf_checker *chk, const char *dom, char *record,
    size_t recordlen, char *why, size_t whylen)
{
	enum spf_lookup res = SPF_LOOKUP_NONE;
	SPF_dns_rr_t *rr;
	char name[300];
	int i, found = -1, count = 0;

	snprintf(name, sizeof(name), "_dmarc.%s", dom);
	rr = SPF_dns_lookup(chk->server->resolver, name, ns_t_txt, 0);
	switch (rr->herrno) {
	case NETDB_SUCCESS:
		for (i = 0; i < rr->num_rr; i++)
			if (spf_dmarc_version(rr->rr[i]->txt)) {
				found = i;
				count++;
			}
		if (count == 0)
			snprintf(why, whylen, "%s: no DMARC record", name);
		else if (count > 1) {
			snprintf(why, whylen, "%s: %d DMARC records", name,
			    count);
			res = SPF_LOOKUP_PERMERROR;
		} else if (strlen(rr->rr[found]->txt) >= recordlen) {
			snprintf(why, whylen, "%s: record longer than %zu "
			    "bytes", name, recordlen);
			res = SPF_LOOKUP_PERMERROR;
		} else {
			spf_clean(rr->rr[found]->txt, record, recordlen);
			res = SPF_LOOKUP_FOUND;
		}
		break;
	case HOST_NOT_FOUND:
	case NO_DATA:
		snprintf(why, whylen, "%s: no DMARC record", name);
		break;
	default:		/* RFC 7489 §6.6.3: DNS error, try later */
		snprintf(why, whylen, "%s: DNS error (%d)", name,
		    (int)rr->herrno);
		res = SPF_LOOKUP_TEMPERROR;
		break;
	}
	SPF_dns_rr_free(rr);
	return res;
}

enum spf_lookup
spf_dmarc_lookup(struct spf_checker *chk, const char *domain, char *record,
    size_t recordlen, char *found_at, size_t found_atlen, char *why,
    size_t whylen)
{
	char dom[256], org[256];
	enum spf_lookup res;
	const char *at = dom;

	if (record != NULL && recordlen > 0)
		record[0] = '\0';
	if (!spf_norm_domain(domain, dom, sizeof(dom))) {
		snprintf(why, whylen, "malformed domain");
		return SPF_LOOKUP_NONE;
	}
	res = spf_dmarc_at(chk, dom, record, recordlen, why, whylen);
	if (res == SPF_LOOKUP_NONE && spf_org_domain(dom, org, sizeof(org)) &&
	    strcmp(org, dom) != 0) {
		res = spf_dmarc_at(chk, org, record, recordlen, why, whylen);
		at = org;
	}
	if (res == SPF_LOOKUP_FOUND && found_at != NULL && found_atlen > 0)
		snprintf(found_at, found_atlen, "%s", at);
	return res;
}

enum spf_lookup
spf_txt_lookup(struct spf_checker *chk, const char *name,
    void (*fn)(const char *txt, void *arg), void *arg, char *why,
    size_t whylen)
{
	enum spf_lookup res = SPF_LOOKUP_NONE;
	SPF_dns_rr_t *rr;
	char dom[256], *txt, *p;
	size_t len;
	int i, n = 0;

	if (!spf_norm_domain(name, dom, sizeof(dom)) ||
	    strchr(name, '@') != NULL) {
		snprintf(why, whylen, "malformed DNS name");
		return SPF_LOOKUP_NONE;
	}
	rr = SPF_dns_lookup(chk->server->resolver, dom, ns_t_txt, 0);
	switch (rr->herrno) {
	case NETDB_SUCCESS:
		for (i = 0; i < rr->num_rr; i++) {
			len = strlen(rr->rr[i]->txt) + 1;
			if ((txt = malloc(len)) == NULL) {
				snprintf(why, whylen, "out of memory");
				res = SPF_LOOKUP_TEMPERROR;
				goto out;
			}
			/* keep whitespace whitespace (RFC 6376 §3.2 FWS)
			 * rather than '?' */
			memcpy(txt, rr->rr[i]->txt, len);
			for (p = txt; *p != '\0'; p++)
				if (*p == '\t' || *p == '\r' || *p == '\n')
					*p = ' ';
			spf_clean(txt, txt, len);
			fn(txt, arg);
			free(txt);
			n++;
		}
		if (n > 0)
			res = SPF_LOOKUP_FOUND;
		else
			snprintf(why, whylen, "%s: no TXT record", dom);
		break;
	case HOST_NOT_FOUND:
		snprintf(why, whylen, "%s: no such name", dom);
		break;
	case NO_DATA:
		snprintf(why, whylen, "%s: no TXT record", dom);
		break;
	default:
		snprintf(why, whylen, "%s: DNS error (%d)", dom,
		    (int)rr->herrno);
		res = SPF_LOOKUP_TEMPERROR;
		break;
	}
out:
	SPF_dns_rr_free(rr);
	return res;
}

bool
spf_org_domain(const char *domain, char *out, size_t outlen)
{
	char dom[256];
	const char *p;
	int dots = 0;

	if (!spf_norm_domain(domain, dom, sizeof(dom)) ||
	    strchr(domain, '@') != NULL)
		return false;
	for (p = dom + strlen(dom); p > dom; p--)
		if (p[-1] == '.' && ++dots == 2)
			break;
	if (strlen(p) >= outlen)
		return false;
	memcpy(out, p, strlen(p) + 1);
	return true;
}

bool
spf_aligned(const char *from_domain, const char *auth_domain, bool strict)
{
	char a[256], b[256];

	if (strict)
		return spf_norm_domain(from_domain, a, sizeof(a)) &&
		    spf_norm_domain(auth_domain, b, sizeof(b)) &&
		    strchr(from_domain, '@') == NULL &&
		    strchr(auth_domain, '@') == NULL && strcmp(a, b) == 0;
	return spf_org_domain(from_domain, a, sizeof(a)) &&
	    spf_org_domain(auth_domain, b, sizeof(b)) && strcmp(a, b) == 0;
}

/*
 * The helper program (optin-spf-helper).
 */

struct spf_kid {
	pid_t pid;
	time_t deadline;		/* monotonic: SIGKILL after */
};

/* spf_helper_privdrop - become "nobody" when root; 0 or -1 */
static int
spf_helper_privdrop(void)
{
	struct passwd *pw;

	if (getuid() != 0 && geteuid() != 0)
		return 0;
	if ((pw = getpwnam("nobody")) == NULL) {
		fprintf(stderr, "optin-spf-helper: no user nobody\n");
		return -1;
	}
	if (setgroups(1, &pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 ||
	    setuid(pw->pw_uid) < 0) {
		fprintf(stderr, "optin-spf-helper: cannot become nobody: %s\n",
		    strerror(errno));
		return -1;
	}
	if (setuid(0) == 0 || getuid() == 0 || geteuid() == 0) {
		fprintf(stderr, "optin-spf-helper: still root\n");
		return -1;
	}
	return 0;
}

/* spf_helper_limit - set a resource limit, soft and hard */
static void
spf_helper_limit(int resource, rlim_t n)
{
	struct rlimit rl = { .rlim_cur = n, .rlim_max = n };

	(void)setrlimit(resource, &rl);
}

/* spf_helper_reply - send "WORD\0COMMENT\0" on fd */
static void
spf_helper_reply(int fd, enum spf_result r, const char *comment)
{
	char buf[SPF_MSG_MAX];
	size_t wl = strlen(spf_result_str(r)), cl;

	if (comment == NULL)
		comment = "";
	cl = strnlen(comment, sizeof(buf) - wl - 3);
	memcpy(buf, spf_result_str(r), wl + 1);
	memcpy(buf + wl + 1, comment, cl);
	buf[wl + 1 + cl] = '\0';
	(void)send(fd, buf, wl + cl + 2, MSG_NOSIGNAL);
}

/* spf_helper_worker - evaluate one request and answer on fd; never
 * returns.  Runs in a fresh child of the helper. */
static void __attribute__((noreturn))
spf_helper_worker(int fd, const char *req, size_t len, unsigned int tmo_ms)
{
	const char *ip, *helo, *from, *test, *comment = NULL;
	unsigned int secs = (tmo_ms + 999) / 1000 + 1;
	SPF_server_t *srv;
	SPF_request_t *rq;
	SPF_response_t *resp = NULL;
	SPF_errcode_t err;
	struct spf_addr a;
	enum spf_result r;
	size_t l1, l2, l3;

	(void)alarm(secs);
	spf_helper_limit(RLIMIT_CPU, secs);
	spf_helper_limit(RLIMIT_NPROC, 0);
	if ((test = getenv(SPF_HELPER_TEST_ENV)) != NULL) {
		if (strcmp(test, "crash") == 0) {
			(void)signal(SIGSEGV, SIG_DFL);
			(void)raise(SIGSEGV);
			_exit(70);
		}
		if (strcmp(test, "hang") == 0)
			for (;;)
				(void)pause();
		if (strcmp(test, "garbage") == 0) {
			(void)send(fd, "\377bogus", 6, MSG_NOSIGNAL);
			_exit(0);
		}
	}
	/* Three NUL-terminated strings, exactly. */
	ip = req;
	l1 = strnlen(ip, len);
	helo = ip + l1 + 1;
	l2 = l1 < len ? strnlen(helo, len - l1 - 1) : 0;
	from = helo + l2 + 1;
	l3 = l1 + l2 + 2 < len ? strnlen(from, len - l1 - l2 - 2) : 0;
	if (l1 + l2 + l3 + 3 != len || !spf_parse_ip(ip, &a)) {
		spf_helper_reply(fd, SPFR_TEMPERROR, "bad request");
		_exit(0);
	}
	if (*from == '\0')
		from = helo;	/* RFC 7208 §2.4: null sender, use HELO */
	if (*from == '\0') {
		spf_helper_reply(fd, SPFR_NONE, "no identity to check");
		_exit(0);
	}
	SPF_warning_handler = NULL;
	SPF_info_handler = NULL;
	SPF_debug_handler = NULL;
	if ((srv = SPF_server_new(SPF_DNS_RESOLV, 0)) == NULL ||
	    (rq = SPF_request_new(srv)) == NULL) {
		spf_helper_reply(fd, SPFR_TEMPERROR, "out of memory");
		_exit(0);
	}
	err = a.family == AF_INET ? SPF_request_set_ipv4(rq, a.v4) :
	    SPF_request_set_ipv6(rq, a.v6);
	if (err == SPF_E_SUCCESS && *helo != '\0')
		err = SPF_request_set_helo_dom(rq, helo);
	if (err == SPF_E_SUCCESS)
		err = SPF_request_set_env_from(rq, from);
	if (err != SPF_E_SUCCESS) {
		spf_helper_reply(fd, SPFR_NONE, SPF_strerror(err));
		_exit(0);
	}
	err = SPF_request_query_mailfrom(rq, &resp);
	r = spf_map(resp, err);
	if (resp != NULL)
		comment = SPF_response_get_header_comment(resp);
	spf_helper_reply(fd, r, comment);
	_exit(0);
}

/* spf_helper_reap - collect exited children; kill those past deadline */
static void
spf_helper_reap(struct spf_kid *kids, size_t *nkids, bool kill_all)
{
	time_t now = spf_now();
	size_t i;
	pid_t pid;
	int status;

	for (i = 0; i < *nkids; i++)
		if (kill_all || now > kids[i].deadline)
			(void)kill(kids[i].pid, SIGKILL);
	for (i = 0; i < *nkids;) {
		pid = waitpid(kids[i].pid, &status, kill_all ? 0 : WNOHANG);
		if (pid == 0) {
			i++;
			continue;
		}
		kids[i] = kids[--*nkids];
	}
}

int
spf_helper_main(int argc, char **argv)
{
	struct spf_kid kids[SPF_HELPER_MAXKIDS];
	size_t nkids = 0;
	unsigned int tmo_ms = SPF_INBOUND_TIMEOUT_MS;
	int c;

	while ((c = getopt(argc, argv, "t:")) != -1) {
		if (c != 't') {
			fprintf(stderr, "usage: optin-spf-helper [-t ms]\n");
			return 64;
		}
		tmo_ms = (unsigned int)strtoul(optarg, NULL, 10);
		if (tmo_ms == 0 || tmo_ms > 600000)
			tmo_ms = SPF_INBOUND_TIMEOUT_MS;
	}
	if (fcntl(SPF_HELPER_FD, F_GETFD) < 0) {
		fprintf(stderr, "optin-spf-helper: started by optin-milter "
		    "only (no socket on fd %d)\n", SPF_HELPER_FD);
		return 64;
	}
	(void)close_range(SPF_HELPER_FD + 1, ~0U, 0);
	if (spf_helper_privdrop() < 0)
		return 71;
	(void)prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	spf_helper_limit(RLIMIT_CORE, 0);
	spf_helper_limit(RLIMIT_FSIZE, 0);
	(void)signal(SIGPIPE, SIG_IGN);
	if (chdir("/") < 0)
		return 71;

	for (;;) {
		char buf[SPF_MSG_MAX];
		union {
			struct cmsghdr h;
			char space[CMSG_SPACE(sizeof(int))];
		} u;
		struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
		struct pollfd pfd = { .fd = SPF_HELPER_FD, .events = POLLIN };
		struct msghdr msg;
		struct cmsghdr *cm;
		ssize_t n;
		pid_t pid;
		int fd = -1;

		spf_helper_reap(kids, &nkids, false);
		if (poll(&pfd, 1, 200) <= 0)
			continue;
		memset(&msg, 0, sizeof(msg));
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		msg.msg_control = u.space;
		msg.msg_controllen = sizeof(u.space);
		n = recvmsg(SPF_HELPER_FD, &msg, MSG_CMSG_CLOEXEC);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;		/* the milter is gone */
		for (cm = CMSG_FIRSTHDR(&msg); cm != NULL;
		    cm = CMSG_NXTHDR(&msg, cm))
			if (cm->cmsg_level == SOL_SOCKET &&
			    cm->cmsg_type == SCM_RIGHTS &&
			    cm->cmsg_len == CMSG_LEN(sizeof(int)))
				memcpy(&fd, CMSG_DATA(cm), sizeof(int));
		if (fd < 0)
			continue;
		if (nkids == SPF_HELPER_MAXKIDS ||
		    (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0) {
			spf_helper_reply(fd, SPFR_TEMPERROR, nkids ==
			    SPF_HELPER_MAXKIDS ? "SPF helper busy" :
			    "bad request");
			(void)close(fd);
			continue;
		}
		pid = fork();
		if (pid == 0) {
			(void)close(SPF_HELPER_FD);
			spf_helper_worker(fd, buf, (size_t)n, tmo_ms);
		}
		if (pid < 0)
			spf_helper_reply(fd, SPFR_TEMPERROR, "fork failed");
		else {
			kids[nkids].pid = pid;
			kids[nkids].deadline = spf_now() + (tmo_ms + 999) /
			    1000 + 2;
			nkids++;
		}
		(void)close(fd);
	}
	spf_helper_reap(kids, &nkids, true);
	return 0;
}
