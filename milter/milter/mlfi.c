/*
 * mlfi.c - libmilter callbacks.  Thin: get the context, call the modules,
 * and map the verdict to SMFIS_* plus a reply in one function (mlfi_reply).
 *
 * Threads: libmilter calls each connection's callbacks in one thread at a
 * time; the runtime is shared read-only (each connection holds a reference
 * to its own, runtime.h).  xxfi_close may be the only callback with a NULL
 * private pointer.
 *
 * Header values: xxfi_negotiate asks for SMFIP_HDR_LEADSPC whenever the MTA
 * offers it (Postfix 2.6+, Sendmail 8.14+), so that a value arrives exactly
 * as it follows the colon (a fold right after "Name:" included) and header
 * values we add are taken exactly as given (session.h, msgsafe.h).  Without
 * it the MTA eats one space after the colon and the copies we re-render are
 * only close to what came in.
 *
 * No reply (milter protocol 6, SMFIP_NR_*): the MTA does not wait for our
 * answer to connect, HELO, MAIL, each header and each body chunk, because
 * those callbacks never decide anything: one round trip (two context
 * switches on each side) less per step, about 25 per message.  libmilter
 * answers "continue" for us when the MTA does not know a flag.  What can
 * still go wrong there (out of memory, no connection context) is kept in
 * msg.fail and answered with a tempfail by the next step that replies
 * (RCPT, end of headers, end of message): never lost.
 */
#include "autoconf.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "addr.h"
#include "campaign.h"
#include "config.h"
#include "eom.h"
#include "log.h"
#include "metrics.h"
#include "mlfi.h"
#include "preflight.h"
#include "session.h"
#include "unsubmail.h"

/*
 * Between xxfi_negotiate and xxfi_connect there is no struct conn yet: the
 * private pointer holds the address of one of these marks, which say what
 * was negotiated (no allocation, so nothing leaks when the MTA goes away
 * before connect).  Only mlfi_connect and mlfi_close see a mark.
 */
static char mark_leadspc, mark_plain;
static bool warned_leadspc;		/* said once per process */

#define IS_MARK(p) ((p) == &mark_leadspc || (p) == &mark_plain)
/* the connection, or NULL before (or after a failed) xxfi_connect */
#define CONN(ctx) conn_of(smfi_getpriv(ctx))

/*
 * The macros the callbacks read, per stage (fetch_qid: "i" at MAIL, end of
 * headers and end of message; mlfi_connect; mlfi_envfrom): an MTA that
 * offers SMFIF_SETSYMLIST then sends only these instead of its defaults
 * (Postfix milter_*_macros: 5 at connect, 5 TLS ones at HELO, 7 at MAIL, 4
 * at RCPT).  Every stage names one at least: Postfix takes an empty list
 * for "the defaults", and sends a macro command per header and per stage
 * whatever the list.  Not const: smfi_setsymlist() takes char *.
 */
static char sym_conn[] = "{client_addr}", sym_mail[] = "i {auth_authen}",
    sym_qid[] = "i";
static const struct { int where; char *names; } symlists[] = {
	{ SMFIM_CONNECT, sym_conn }, { SMFIM_HELO, sym_qid },
	{ SMFIM_ENVFROM, sym_mail }, { SMFIM_ENVRCPT, sym_qid },
	{ SMFIM_EOH, sym_qid }, { SMFIM_EOM, sym_qid },
};
static bool warned_symlist;		/* said once per process */

/* the steps the MTA need not wait for (file comment) */
#define NOREPLY_STEPS (SMFIP_NR_CONN | SMFIP_NR_HELO | SMFIP_NR_MAIL | \
	SMFIP_NR_HDR | SMFIP_NR_BODY)

static struct conn *
conn_of(void *p)
{
	return IS_MARK(p) ? NULL : p;
}

/* mlfi_reply - the one place a verdict becomes SMFIS_* and a reply */
static sfsistat
mlfi_reply(SMFICTX *ctx, const struct verdict *v)
{
	if (v->rcode != NULL)
		(void)smfi_setreply(ctx, (char *)v->rcode, (char *)v->xcode,
		    (char *)v->text);
	switch (v->kind) {
	case VERDICT_ACCEPT:
		return SMFIS_CONTINUE;
	case VERDICT_DISCARD:
		return SMFIS_DISCARD;
	case VERDICT_REJECT:
		return SMFIS_REJECT;
	case VERDICT_TEMPFAIL:
		break;
	}
	return SMFIS_TEMPFAIL;
}

static sfsistat
mlfi_tempfail(SMFICTX *ctx, const char *text)
{
	struct verdict v = { VERDICT_TEMPFAIL, "451", "4.3.0", "" };

	snprintf(v.text, sizeof(v.text), "%s", text);
	return mlfi_reply(ctx, &v);
}

/*
 * noreply_fail - a step without a reply failed: remember why for the next
 * step that replies (c may be NULL: then that step finds no connection
 * context and tempfails on its own); the first reason is kept.
 */
static sfsistat
noreply_fail(struct conn *c, const char *why)
{
	if (c != NULL && c->msg.fail == NULL)
		c->msg.fail = why;
	log_err("%s: %s; the message is refused at its next step",
	    c != NULL ? c->msg.qid : "NOQUEUE", why);
	return SMFIS_NOREPLY;
}

/*
 * replying_check - at a step that replies: the connection, or NULL with
 * *rc set to the tempfail owed for a failure before it (no context, or an
 * earlier step without a reply failed)
 */
static struct conn *
replying_check(SMFICTX *ctx, sfsistat *rc)
{
	struct conn *c = CONN(ctx);

	if (c == NULL)
		*rc = mlfi_tempfail(ctx, "no connection context");
	else if (c->msg.fail != NULL)
		*rc = mlfi_tempfail(ctx, c->msg.fail);
	else
		return c;
	return NULL;
}

/* fetch_qid - the MTA queue ID, once it is known */
static void
fetch_qid(SMFICTX *ctx, struct conn *c)
{
	char *qid = smfi_getsymval(ctx, "i");

	if (qid != NULL && *qid != '\0')
		(void)log_safe(qid, c->msg.qid, sizeof(c->msg.qid));
}

/* sa_text - the client address as text; -1 when not IPv4/IPv6 */
static int
sa_text(const _SOCK_ADDR *sa, char *out, size_t outlen)
{
	if (sa == NULL)
		return -1;
	if (sa->sa_family == AF_INET && inet_ntop(AF_INET,
	    &((const struct sockaddr_in *)sa)->sin_addr, out,
	    (socklen_t)outlen) != NULL)
		return 0;
	if (sa->sa_family == AF_INET6 && inet_ntop(AF_INET6,
	    &((const struct sockaddr_in6 *)sa)->sin6_addr, out,
	    (socklen_t)outlen) != NULL)
		return 0;
	return -1;
}

/*
 * mlfi_negotiate - take the actions we need and the protocol steps
 * libmilter chose from our callbacks, plus SMFIP_HDR_LEADSPC when offered
 * (exact header values, see the file comment).
 */
static sfsistat
mlfi_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1,
    unsigned long f2, unsigned long f3, unsigned long *pf0,
    unsigned long *pf1, unsigned long *pf2, unsigned long *pf3)
{
	size_t i;

	(void)f2;
	(void)f3;
	/* libmilter checks the MTA has them; SETSYMLIST only if offered */
	*pf0 = mlfi_desc.xxfi_flags | (f0 & SMFIF_SETSYMLIST);
	for (i = 0; (f0 & SMFIF_SETSYMLIST) != 0 && i < sizeof(symlists) /
	    sizeof(symlists[0]); i++)
		if (smfi_setsymlist(ctx, symlists[i].where,
		    symlists[i].names) != MI_SUCCESS &&
		    !__atomic_exchange_n(&warned_symlist, true,
		    __ATOMIC_RELAXED))
			log_warnx("smfi_setsymlist failed: the MTA sends its "
			    "default macros");
	*pf1 |= f1 & SMFIP_HDR_LEADSPC;	/* *pf1: libmilter's choice */
	/* f1 always has them: libmilter fakes what the MTA lacks */
	*pf1 |= f1 & NOREPLY_STEPS;
	*pf2 = *pf3 = 0;
	if ((f1 & SMFIP_HDR_LEADSPC) == 0 &&
	    !__atomic_exchange_n(&warned_leadspc, true, __ATOMIC_RELAXED))
		log_warnx("the MTA does not offer SMFIP_HDR_LEADSPC (milter "
		    "protocol 6): split and quarantined copies may differ "
		    "from the submitted message in the space after a colon");
	(void)smfi_setpriv(ctx, (f1 & SMFIP_HDR_LEADSPC) != 0 ?
	    &mark_leadspc : &mark_plain);
	return SMFIS_CONTINUE;
}

static sfsistat
mlfi_connect(SMFICTX *ctx, char *host, _SOCK_ADDR *sa)
{
	void *p = smfi_getpriv(ctx);
	struct conn *c;
	char *addr;

	/* the mark stays: the next step finds no context and tempfails */
	if ((c = conn_new()) == NULL)
		return noreply_fail(NULL, "out of memory at connect");
	/* no mark: a new SMTP session on the same milter connection
	 * (SMFIC_QUIT_NC, protocol 6 only, so SMFIP_HDR_LEADSPC was
	 * offered and taken at the negotiation before the first one) */
	c->leadspc = p != &mark_plain;
	addr = smfi_getsymval(ctx, "{client_addr}");
	if (sa_text(sa, c->client_addr, sizeof(c->client_addr)) < 0)
		(void)log_safe(addr ? addr : "unknown", c->client_addr,
		    sizeof(c->client_addr));
	snprintf(c->client, sizeof(c->client), "%.255s[%.40s]",
	    host ? host : "unknown", c->client_addr);
	(void)log_safe(c->client, c->client, sizeof(c->client));
	(void)smfi_setpriv(ctx, c);
	return SMFIS_NOREPLY;
}

static sfsistat
mlfi_helo(SMFICTX *ctx, char *helo)
{
	struct conn *c = CONN(ctx);

	if (c != NULL)
		(void)log_safe(helo, c->helo, sizeof(c->helo));
	return SMFIS_NOREPLY;
}

/* path_strip - path (with or without <>; Postfix gives mail from
 * sendmail(1) without) into out without them; its length, 0 when empty or
 * too long */
static size_t
path_strip(const char *path, char *out, size_t outlen)
{
	size_t n = strlen(path);

	if (n >= 2 && path[0] == '<' && path[n - 1] == '>') {
		path++;
		n -= 2;
	}
	if (n == 0 || n >= outlen)
		return 0;
	memcpy(out, path, n);
	out[n] = '\0';
	return n;
}

static sfsistat
mlfi_envfrom(SMFICTX *ctx, char **argv)
{
	struct conn *c = CONN(ctx);
	struct msg *m;
	char addr[ADDR_MAX + 1], why[200];
	char *auth;
	size_t n;

	if (c == NULL)
		return noreply_fail(c, "no connection context");
	msg_begin(c);
	m = &c->msg;
	fetch_qid(ctx, c);
	if ((m->sender_raw = arena_strdup(&m->arena, argv[0])) == NULL)
		return noreply_fail(c, "out of memory");
	if (strcmp(argv[0], "<>") != 0 && addr_normalize(argv[0], addr,
	    sizeof(addr), why, sizeof(why)) == 0)
		m->sender = arena_strdup(&m->arena, addr);
	else if ((n = path_strip(argv[0], addr, sizeof(addr))) > 0)
		m->sender_path = arena_strdup(&m->arena, addr);
	auth = smfi_getsymval(ctx, "{auth_authen}");
	(void)log_safe(auth ? auth : "", c->auth_user, sizeof(c->auth_user));
	/* the login as the MTA sent it, not the printable copy for logs
	 * (a UTF-8 login is "j??rgen" there and would match no entry of
	 * CampaignAuthUsers: its campaign would pass as transactional) */
	m->env_campaign = campaign_by_envelope(c->rt->cfg, m->sender, auth);
	return SMFIS_NOREPLY;
}

/* count_campaign_rcpts - recipients that would each need their own copy */
static size_t
count_campaign_rcpts(const struct msg *m)
{
	size_t i, n = 0;

	for (i = 0; i < m->nrcpt; i++)
		n += !m->rcpt[i].unsub;
	return n;
}

/* rcpt_reply_possible - did the RCPT come from an SMTP client that takes a
 * reply?  Postfix's sendmail(1) path passes it without angle brackets and
 * turns a RCPT reject into "try again later" for the whole message. */
static bool
rcpt_reply_possible(const char *raw)
{
	char box[ADDR_MAX * 2 + 1];
	bool bracketed = false;

	return addr_path_mailbox(raw, box, sizeof(box), &bracketed) >= 0 &&
	    bracketed;
}

static sfsistat
mlfi_envrcpt(SMFICTX *ctx, char **argv)
{
	const struct config *cfg;
	struct conn *c;
	struct verdict v = { VERDICT_ACCEPT, NULL, NULL, "" };
	char addr[ADDR_MAX + 1], why[200];
	struct rcpt *r;
	struct msg *m;
	sfsistat rc;

	if ((c = replying_check(ctx, &rc)) == NULL)
		return rc;
	cfg = c->rt->cfg;
	m = &c->msg;
	if (unsubmail_rcpt(c, argv[0], &v) && v.kind != VERDICT_ACCEPT)
		return mlfi_reply(ctx, &v);
	if (v.rcode == NULL && m->env_campaign && cfg->mode == MODE_ENFORCE &&
	    cfg->multi_recipient != MULTI_SPLIT && count_campaign_rcpts(m) >= 1
	    && !unsubmail_is_unsub(c, argv[0]) && rcpt_reply_possible(argv[0])) {
		/* DESIGN: defer 452 / reject 550 from the second recipient;
		 * without a RCPT reply, eom.c refuses the whole message */
		if (cfg->multi_recipient == MULTI_DEFER) {
			v = (struct verdict){ VERDICT_TEMPFAIL, "452", "4.5.3",
			    "one recipient per campaign message" };
		} else {
			v = (struct verdict){ VERDICT_REJECT, "550", "5.5.3",
			    "one recipient per campaign message" };
		}
		log_info("%s: %s stage=rcpt reason=multi_recipient client=%s",
		    m->qid, v.kind == VERDICT_REJECT ? "reject" : "defer",
		    c->client);
		return mlfi_reply(ctx, &v);
	}
	if (msg_add_rcpt(m, argv[0]) < 0)
		return mlfi_tempfail(ctx, "out of memory");
	r = &m->rcpt[m->nrcpt - 1];
	if (addr_normalize(argv[0], addr, sizeof(addr), why, sizeof(why)) == 0)
		r->addr = arena_strdup(&m->arena, addr);
	r->unsub = unsubmail_is_unsub(c, argv[0]);
	return SMFIS_CONTINUE;
}

static sfsistat
mlfi_header(SMFICTX *ctx, char *name, char *value)
{
	struct conn *c = CONN(ctx);

	if (c == NULL)
		return noreply_fail(c, "no connection context");
	if (c->msg.fail == NULL && msg_add_header(&c->msg, name, value) < 0)
		return noreply_fail(c, "out of memory");
	return SMFIS_NOREPLY;
}

static sfsistat
mlfi_eoh(SMFICTX *ctx)
{
	const struct config *cfg;
	struct conn *c;
	struct msg *m;
	char why[200];
	sfsistat rc;

	if ((c = replying_check(ctx, &rc)) == NULL)
		return rc;
	cfg = c->rt->cfg;
	m = &c->msg;
	fetch_qid(ctx, c);
	m->campaign = m->env_campaign ||
	    msg_header(m, cfg->campaign_header) != NULL ||
	    msg_header(m, CAMPAIGN_SPLIT_HEADER) != NULL ||
	    msg_header(m, CAMPAIGN_RELEASE_HEADER) != NULL;
	if (m->campaign && campaign_list(cfg, msg_header(m, cfg->list_header),
	    m->list, why, sizeof(why)) < 0 &&
	    msg_header(m, CAMPAIGN_SPLIT_HEADER) == NULL) {
		log_warnx("%s: campaign from client=%s: %s", m->qid, c->client,
		    why);
		metrics_message("campaign", VERDICT_TEMPFAIL);
		return mlfi_tempfail(ctx, "campaign message names no valid list");
	}
	if (m->campaign) {
		struct verdict v = { VERDICT_ACCEPT, NULL, NULL, "" };

		if (preflight_spf(c, &v)) {
			metrics_message("campaign", v.kind);
			return mlfi_reply(ctx, &v);
		}
	}
	if (!m->campaign && !cfg->sign_all && !unsubmail_pending(c)) {
		log_debug("%s: transactional, passed", m->qid);
		metrics_message("transactional", VERDICT_ACCEPT);
		msg_reset(c);
		return SMFIS_ACCEPT;
	}
	return SMFIS_CONTINUE;
}

static sfsistat
mlfi_body(SMFICTX *ctx, unsigned char *chunk, size_t len)
{
	struct conn *c = CONN(ctx);

	if (c == NULL)
		return noreply_fail(c, "no connection context");
	if (c->msg.fail == NULL && msg_add_body(&c->msg, chunk, len) < 0)
		return noreply_fail(c, "out of memory");
	return SMFIS_NOREPLY;
}

/* apply_edits - make the changes through libmilter; 0 or -1 */
static int
apply_edits(SMFICTX *ctx, struct conn *c, const struct edits *e)
{
	size_t i;

	/* delete from the highest index down so indexes stay valid */
	for (i = e->ndel_hdr; i-- > 0;)
		if (smfi_chgheader(ctx, (char *)e->del_hdr[i].name,
		    e->del_hdr[i].index, NULL) != MI_SUCCESS)
			return -1;
	for (i = 0; i < e->nadd; i++)
		if (smfi_addheader(ctx, (char *)e->add[i].name,
		    e->add[i].value) != MI_SUCCESS)
			return -1;
	for (i = e->nsig; i-- > 0;)
		if (smfi_insheader(ctx, 0, "DKIM-Signature", e->sig[i])
		    != MI_SUCCESS)
			return -1;
	for (i = 0; i < e->ndel_rcpt; i++)
		if (smfi_delrcpt(ctx, (char *)e->del_rcpt[i]) != MI_SUCCESS)
			return -1;
	if (e->from != NULL) {
		if (smfi_chgfrom(ctx, e->from, NULL) != MI_SUCCESS)
			return -1;
		/* not the address: it carries a token */
		log_debug("%s: envelope sender changed to the bounce address",
		    c->msg.qid);
	}
	return 0;
}

static sfsistat
mlfi_eom(SMFICTX *ctx)
{
	struct conn *c;
	struct verdict v;
	struct edits e;
	sfsistat rc;

	if ((c = replying_check(ctx, &rc)) == NULL) {
		if ((c = CONN(ctx)) != NULL)
			msg_reset(c);
		return rc;
	}
	fetch_qid(ctx, c);
	if (unsubmail_eom(c, &v)) {
		metrics_message("unsubscribe", v.kind);
		rc = mlfi_reply(ctx, &v);
		msg_reset(c);
		return rc;
	}
	eom_decide(c, &e, &v);
	if (v.kind == VERDICT_ACCEPT && apply_edits(ctx, c, &e) < 0) {
		log_err("%s: the MTA refused a header or recipient change",
		    c->msg.qid);
		v = (struct verdict){ VERDICT_TEMPFAIL, "451", "4.3.0",
		    "local error in consent processing, try again later" };
	}
	metrics_message(c->msg.campaign ? "campaign" : "transactional", v.kind);
	rc = mlfi_reply(ctx, &v);
	msg_reset(c);
	return rc;
}

static sfsistat
mlfi_abort(SMFICTX *ctx)
{
	struct conn *c = CONN(ctx);

	if (c != NULL)
		msg_reset(c);
	return SMFIS_CONTINUE;
}

static sfsistat
mlfi_close(SMFICTX *ctx)
{
	struct conn *c = CONN(ctx);

	(void)smfi_setpriv(ctx, NULL);
	conn_free(&c);
	return SMFIS_CONTINUE;
}

/*
 * Stopping.  libmilter stops listening when smfi_main returns, but it does
 * not wait for its session threads, and a session may still get a command
 * after that.  Every callback is counted in (busy) and checks stopping
 * first; mlfi_stop sets stopping and waits until no callback runs, so the
 * clean-up in main() (and exit()'s clean-up of OpenSSL) never runs under a
 * callback: that crashed the milter on SIGTERM in the chaos run.  Both are
 * sequentially consistent: a callback that counted itself in after
 * mlfi_stop saw busy == 0 sees stopping set, and touches nothing.
 */
static int busy, stopping;		/* __atomic */

/* enter - count a callback in; false (counted out again) when stopping */
static bool
enter(void)
{
	__atomic_add_fetch(&busy, 1, __ATOMIC_SEQ_CST);
	if (!__atomic_load_n(&stopping, __ATOMIC_SEQ_CST))
		return true;
	__atomic_sub_fetch(&busy, 1, __ATOMIC_SEQ_CST);
	return false;
}

static void
leave(void)
{
	__atomic_sub_fetch(&busy, 1, __ATOMIC_SEQ_CST);
}

bool
mlfi_stop(int secs)
{
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	int i;

	__atomic_store_n(&stopping, 1, __ATOMIC_SEQ_CST);
	for (i = 0; i < secs * 50; i++) {
		if (__atomic_load_n(&busy, __ATOMIC_SEQ_CST) == 0)
			return true;
		if (i == 0)
			log_info("waiting for the messages in progress");
		(void)nanosleep(&ts, NULL);
	}
	return __atomic_load_n(&busy, __ATOMIC_SEQ_CST) == 0;
}

/* GUARD(name, when stopping, parameters, arguments) - name_g: name counted
 * in, or the given answer when the milter is stopping */
#define GUARD(name, stopped, params, args) \
static sfsistat \
name##_g params \
{ \
	sfsistat r; \
\
	if (!enter()) \
		return (stopped); \
	r = name args; \
	leave(); \
	return r; \
}

GUARD(mlfi_negotiate, SMFIS_REJECT, (SMFICTX *ctx, unsigned long f0,
    unsigned long f1, unsigned long f2, unsigned long f3, unsigned long *pf0,
    unsigned long *pf1, unsigned long *pf2, unsigned long *pf3),
    (ctx, f0, f1, f2, f3, pf0, pf1, pf2, pf3))
/* steps without a reply (NOREPLY_STEPS) answer nothing when stopping:
 * libmilter would not send a reply anyway; RCPT tempfails */
GUARD(mlfi_connect, SMFIS_NOREPLY, (SMFICTX *ctx, char *host,
    _SOCK_ADDR *sa), (ctx, host, sa))
GUARD(mlfi_helo, SMFIS_NOREPLY, (SMFICTX *ctx, char *helo), (ctx, helo))
GUARD(mlfi_envfrom, SMFIS_NOREPLY, (SMFICTX *ctx, char **argv), (ctx, argv))
GUARD(mlfi_envrcpt, SMFIS_TEMPFAIL, (SMFICTX *ctx, char **argv), (ctx, argv))
GUARD(mlfi_header, SMFIS_NOREPLY, (SMFICTX *ctx, char *name, char *value),
    (ctx, name, value))
GUARD(mlfi_eoh, SMFIS_TEMPFAIL, (SMFICTX *ctx), (ctx))
GUARD(mlfi_body, SMFIS_NOREPLY, (SMFICTX *ctx, unsigned char *chunk,
    size_t len), (ctx, chunk, len))
GUARD(mlfi_eom, SMFIS_TEMPFAIL, (SMFICTX *ctx), (ctx))
GUARD(mlfi_abort, SMFIS_CONTINUE, (SMFICTX *ctx), (ctx))
/* stopping: the connection is left to the process's end */
GUARD(mlfi_close, SMFIS_CONTINUE, (SMFICTX *ctx), (ctx))

struct smfiDesc mlfi_desc = {
	.xxfi_name = "optin-milter",
	.xxfi_version = SMFI_VERSION,
	.xxfi_flags = SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_DELRCPT |
	    SMFIF_CHGFROM,
	.xxfi_connect = mlfi_connect_g,
	.xxfi_helo = mlfi_helo_g,
	.xxfi_envfrom = mlfi_envfrom_g,
	.xxfi_envrcpt = mlfi_envrcpt_g,
	.xxfi_header = mlfi_header_g,
	.xxfi_eoh = mlfi_eoh_g,
	.xxfi_body = mlfi_body_g,
	.xxfi_eom = mlfi_eom_g,
	.xxfi_abort = mlfi_abort_g,
	.xxfi_close = mlfi_close_g,
	.xxfi_negotiate = mlfi_negotiate_g,
};
