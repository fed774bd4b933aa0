/*
 * unsubd_act.c - what optin-unsubd's routes do with a verified token: the
 * unsubscribe page, the opt-out (one-click or the page's form) and the
 * preferences (see unsubd_http.h for the routes).
 *
 * Callers have verified the token and, for a page's form, passed the
 * guard (unsubd_guard.h).  Rules kept here: a token may only ever reduce
 * mail without a confirmation (prefs_change); a GET or HEAD never writes
 * to the store (link scanners);
 * every change goes through store_set_status()/store_suppress(), which write
 * the consent event (source, remote address, user agent) in the same
 * transaction as the change; a refused change writes nothing; no page shows
 * the address.  A token is never logged.
 *
 * Threads: the pages and answers run in libmicrohttpd's pool, each thread
 * with its own store handle (unsubd_store()), and only read; the writes
 * (unsubs_apply, prefs_change) run in the writer thread (unsubd_writer.h)
 * inside its batch transaction, through unsubd_act_apply().
 * Ownership: collected rows are freed before returning; pages are handed
 * to unsubd_respond().
 */
#include "autoconf.h"

#include "unsubd-private.h"

#include <assert.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "consent.h"
#include "kv.h"
#include "log.h"
#include "store.h"
#include "token.h"
#include "unsubd_metrics.h"
#include "unsubd_pages.h"

/* evidence - the evidence text of a consent event; X-Forwarded-For is
 * the client's word, one value that cannot add fields (kv.h) */
static void
evidence(char *out, size_t outlen, const char *what,
    const struct token_info *ti, const struct client *cl)
{
	char fwd[sizeof(cl->fwd) * 4 + 3];

	snprintf(out, outlen, "%s token_key=%u token_day=%ld%s%s", what,
	    ti->key_id, ti->issue_day, cl->fwd[0] ? " forwarded_for=" : "",
	    cl->fwd[0] ? kv_value(cl->fwd, fwd, sizeof(fwd)) : "");
}

/* list_label - the display name of list, else its id, into name[] (at
 * least UNSUBD_LABEL_MAX bytes); returns name */
static const char *
list_label(struct store *st, const char *list, char *name)
{
	char why[256];

	name[0] = '\0';
	if (st != NULL && store_list_name(st, list, name, UNSUBD_LABEL_MAX,
	    why, sizeof(why)) != STORE_OK)
		name[0] = '\0';
	if (name[0] == '\0')
		snprintf(name, UNSUBD_LABEL_MAX, "%s", list);
	return name;
}

/* unsubd_act_unsubscribe - hand the opt-out to the writer (unsubs_apply) */
enum MHD_Result
unsubd_act_unsubscribe(struct unsubd *u, struct MHD_Connection *c,
    struct req *r, const struct token_info *ti, bool all, const char *source,
    const char *formword)
{
	struct job *j = &r->job;

	memset(j, 0, sizeof(*j));
	j->kind = JOB_UNSUB;
	j->ti = *ti;
	unsubd_client(c, &j->cl);
	j->all = all;
	j->source = source;
	j->formword = formword;
	return unsubd_submit(u, c, r);
}

/* Opt-outs whose state is read, and whose changes are written, together
 * (on PostgreSQL one round trip each way: store_optout_state_batch). */
#define UNSUB_RUN_MAX	STORE_PIPELINE_MAX

/* The consent event of one opt-out of a run, with its texts. */
struct unsub_event {
	struct consent_event ev;
	char evid[256];
};

/* unsub_event - the consent event of j's opt-out into e (e->ev points
 * into e and into j) */
static void
unsub_event(const struct job *j, struct unsub_event *e)
{
	char what[64];

	snprintf(what, sizeof(what), "%s%s%s", j->all ?
	    "scope=all reason=unsubscribed_all" : "scope=list",
	    j->formword != NULL ? " body=" : "", j->formword != NULL ?
	    j->formword : "");
	evidence(e->evid, sizeof(e->evid), what, &j->ti, &j->cl);
	memset(&e->ev, 0, sizeof(e->ev));
	e->ev.addr = j->ti.addr;
	e->ev.source = j->source;
	e->ev.evidence = e->evid;
	e->ev.remote_addr = j->cl.addr;
	e->ev.user_agent = j->cl.agent;
	e->ev.event = j->all ? "suppressed" : "opted_out";
	e->ev.list = j->all ? NULL : j->ti.list;
}

/*
 * unsubs_apply - writer thread, inside the batch's transaction: the
 * opt-outs of jobs[0 .. n-1] (n <= UNSUB_RUN_MAX, no address twice):
 * their state read at once; each token's address opted out of its list,
 * or of everything, from its row as read; idempotent: nothing is written
 * when the state is already there.  An erased person (optinctl forget)
 * stays erased: a late request with an old token writes nothing (it
 * wrote the address back into subscriptions and consent_events); the
 * person gets no campaign mail anyway (the erased suppression).  Sets
 * each job's ss (STORE_NOTFOUND: its list is gone, nothing written),
 * changed, erased and label; any other failure is the batch's.
 */
static enum store_status
unsubs_apply(struct store *st, struct job **jobs, size_t n, char *why,
    size_t whylen)
{
	struct store_optout o[UNSUB_RUN_MAX];
	struct store_status_change chg[UNSUB_RUN_MAX];
	struct unsub_event ev[UNSUB_RUN_MAX];
	size_t at[UNSUB_RUN_MAX], nchg = 0, k;
	enum store_status ss;
	struct job *j;

	assert(n > 0 && n <= UNSUB_RUN_MAX);
	/* erased?, the row, and the name the answer shows, read here where
	 * the writer's page cache is warm (an HTTP thread's read would start
	 * from an emptied cache after every commit) */
	memset(o, 0, n * sizeof(o[0]));
	for (k = 0; k < n; k++) {
		j = jobs[k];
		j->ss = STORE_OK;
		j->changed = j->erased = false;
		o[k].addr = j->ti.addr;
		o[k].list = j->ti.list;
		o[k].name_r = j->label;
		o[k].namelen = sizeof(j->label);
	}
	if ((ss = store_optout_state_batch(st, jobs[0]->er, o, n, why,
	    whylen)) != STORE_OK)
		return ss;
	for (k = 0; k < n; k++) {
		j = jobs[k];
		if (j->label[0] == '\0')
			snprintf(j->label, sizeof(j->label), "%s", j->ti.list);
		if ((j->erased = o[k].erased))
			continue;
		if (j->all ? o[k].row.suppressed :
		    o[k].row.status == SUB_OPTED_OUT)
			continue;
		j->changed = true;
		unsub_event(j, &ev[k]);
		if (j->all) {
			if ((ss = store_suppress(st, j->ti.addr,
			    "unsubscribed_all", &ev[k].ev, why, whylen)) !=
			    STORE_OK)
				return ss;
			continue;
		}
		chg[nchg].addr = j->ti.addr;
		chg[nchg].list = j->ti.list;
		chg[nchg].status = SUB_OPTED_OUT;
		chg[nchg].ev = &ev[k].ev;
		at[nchg++] = k;
	}
	if ((ss = store_set_status_batch(st, chg, nchg, why, whylen)) !=
	    STORE_OK)
		return ss;
	for (k = 0; k < nchg; k++)
		if ((jobs[at[k]]->ss = chg[k].rs) == STORE_NOTFOUND)
			jobs[at[k]]->changed = false;
	return STORE_OK;
}

/* unsub_answer - the page once the writer has applied the opt-out */
static enum MHD_Result
unsub_answer(struct unsubd *u, struct MHD_Connection *c, struct req *r)
{
	const struct job *j = &r->job;
	char laddr[340];
	size_t len = 0;
	char *html;

	if (j->ss == STORE_NOTFOUND) {
		/* the list is gone: say nothing more than for a bad link */
		log_warnx("unsubscribe list=%s: no such list client=%s",
		    j->ti.list, j->cl.addr);
		return unsubd_error(u, c, MHD_HTTP_BAD_REQUEST);
	}
	if (j->ss != STORE_OK)
		return unsubd_store_error(u, c, j->ss, "unsubscribe", j->why);
	log_info("unsubscribe scope=%s list=%s addr=%s source=%s body=%s "
	    "changed=%s client=%s", j->all ? "all" : "list", j->ti.list,
	    j->erased ? "(erased)" : unsubd_addr_log(u, j->ti.addr, laddr,
	    sizeof(laddr)), j->source,
	    j->formword != NULL ? j->formword : "-", j->changed ? "yes" :
	    "no", j->cl.addr);
	unsubd_metrics_unsubscribe(j->all, j->changed);
	/* the list's name came with the write (unsubd_act_apply): no read
	 * transaction here, whose page cache every commit empties */
	html = unsubd_page_done(u->pages, r->token, j->label, j->all ?
	    UNSUBD_DONE_ALL : UNSUBD_DONE_LIST, &len);
	return unsubd_respond(u, c, MHD_HTTP_OK, html, len);
}

/* Subscriptions collected for the preferences page. */
struct subs {
	struct unsubd_page_sub *v;	/* owned, strings owned */
	size_t n, cap;
	bool nomem;
};

/* subs_add - store_subscriptions() callback: copy one row */
static int
subs_add(const struct store_sub *s, void *arg)
{
	struct subs *ss = arg;
	struct unsubd_page_sub *nv, *e;

	if (ss->n == ss->cap) {
		size_t ncap = ss->cap ? ss->cap * 2 : 16;

		if (ncap > 10000 ||
		    (nv = realloc(ss->v, ncap * sizeof(*nv))) == NULL) {
			ss->nomem = true;
			return 1;
		}
		ss->v = nv;
		ss->cap = ncap;
	}
	e = &ss->v[ss->n];
	memset(e, 0, sizeof(*e));
	e->status = s->status;
	if ((e->list = strdup(s->list)) == NULL) {
		ss->nomem = true;
		return 1;
	}
	ss->n++;
	return 0;
}

/* subs_lists - the display name of each collected list and whether it is
 * double opt-in: one row each, not a scan of every list with its counts */
static enum store_status
subs_lists(struct store *st, struct subs *ss, char *why, size_t whylen)
{
	char name[256];
	enum store_status rs;
	size_t i;

	for (i = 0; i < ss->n; i++) {
		rs = store_list_exists(st, ss->v[i].list,
		    &ss->v[i].double_opt_in, why, whylen);
		if (rs == STORE_NOTFOUND)
			continue;
		if (rs == STORE_OK)
			rs = store_list_name(st, ss->v[i].list, name,
			    sizeof(name), why, whylen);
		if (rs == STORE_NOTFOUND || (rs == STORE_OK && name[0] == '\0'))
			continue;
		if (rs != STORE_OK)
			return rs;
		if ((ss->v[i].name = strdup(name)) == NULL) {
			ss->nomem = true;
			return STORE_OK;
		}
	}
	return STORE_OK;
}

/* subs_free - free the collected rows */
static void
subs_free(struct subs *ss)
{
	size_t i;

	for (i = 0; i < ss->n; i++) {
		free((char *)ss->v[i].list);
		free((char *)ss->v[i].name);
	}
	free(ss->v);
	memset(ss, 0, sizeof(*ss));
}

/* subs_load - every subscription of addr with list names, whether each
 * list is double opt-in and whether it may opt back in, and whether the
 * address is suppressed */
static enum store_status
subs_load(struct store *st, const struct token_info *ti, struct subs *subs,
    bool *suppressed_r, char *why, size_t whylen)
{
	struct consent_row row;
	enum store_status ss;
	size_t i;

	subs_free(subs);
	memset(&row, 0, sizeof(row));
	ss = store_lookup(st, ti->addr, ti->list, &row, why, whylen);
	if (ss != STORE_OK && ss != STORE_NOTFOUND)
		return ss;
	*suppressed_r = row.suppressed;
	ss = store_subscriptions(st, ti->addr, subs_add, subs, why, whylen);
	if (ss == STORE_NOTFOUND)
		ss = STORE_OK;
	if (ss == STORE_OK && subs->n > 0)
		ss = subs_lists(st, subs, why, whylen);
	for (i = 0; ss == STORE_OK && i < subs->n; i++) {
		if (subs->v[i].status != SUB_OPTED_OUT)
			continue;
		ss = store_ever_opted_in(st, ti->addr, subs->v[i].list,
		    &subs->v[i].can_opt_in, why, whylen);
		if (ss == STORE_NOTFOUND) {
			subs->v[i].can_opt_in = false;
			ss = STORE_OK;
		}
	}
	if (ss == STORE_OK && subs->nomem) {
		snprintf(why, whylen, "out of memory");
		ss = STORE_ERROR;
	}
	return ss;
}

/* subs_find - the row of list, or NULL */
static const struct unsubd_page_sub *
subs_find(const struct subs *ss, const char *list)
{
	size_t i;

	for (i = 0; i < ss->n; i++)
		if (strcmp(ss->v[i].list, list) == 0)
			return &ss->v[i];
	return NULL;
}

/*
 * prefs_change - apply list/action of a POST to /p/ (already past the
 * guard) inside the caller's transaction; *notice_r says what happened,
 * *status_r the HTTP status, *state_r the list's state afterwards.
 *
 * A token may only ever reduce mail without a confirmation: opting out
 * always works; opting back in only where the address was opted in to the
 * list before (never invent consent), never while it is suppressed (a
 * suppression is global and this page cannot lift it), and on a double
 * opt-in list it gives "pending", not "opted_in", until confirmed.
 */
static enum store_status
prefs_change(struct store *st, const struct token_info *ti,
    const struct unsubd_form *f, const struct client *cl,
    const char **notice_r, unsigned *status_r, enum sub_status *state_r,
    bool *changed_r, char *why, size_t whylen)
{
	const struct unsubd_page_sub *s;
	struct consent_event ev;
	struct subs subs = { 0 };
	enum store_status ss;
	enum sub_status to;
	char evid[256];
	bool suppressed = false, opt_in;

	*changed_r = false;
	*status_r = MHD_HTTP_OK;
	*state_r = SUB_NONE;
	opt_in = strcmp(f->action, "opt_in") == 0;
	if ((ss = subs_load(st, ti, &subs, &suppressed, why, whylen)) !=
	    STORE_OK)
		goto out;
	s = subs_find(&subs, f->list);
	if (s == NULL) {
		*notice_r = "That list is not one of your subscriptions.";
		*status_r = MHD_HTTP_FORBIDDEN;
		goto out;
	}
	*state_r = s->status;
	if (!opt_in) {
		*notice_r = "You are unsubscribed from that list.";
		to = SUB_OPTED_OUT;
	} else if (s->status == SUB_OPTED_IN) {
		*notice_r = "You are subscribed to that list.";
		goto out;
	} else if (s->status == SUB_PENDING) {
		*notice_r = "That list is waiting for your confirmation.";
		goto out;
	} else if (s->status != SUB_OPTED_OUT || !s->can_opt_in ||
	    suppressed) {
		*notice_r = "Subscribing again to that list is not available "
		    "here.";
		*status_r = MHD_HTTP_FORBIDDEN;
		goto out;
	} else if (s->double_opt_in) {
		*notice_r = "That list sends mail only after a confirmation. "
		    "Your request waits for it; until then you receive "
		    "nothing from that list.";
		to = SUB_PENDING;
	} else {
		*notice_r = "You are subscribed to that list again.";
		to = SUB_OPTED_IN;
	}
	if (s->status == to)
		goto out;
	evidence(evid, sizeof(evid), opt_in ? "preferences action=opt_in" :
	    "preferences action=opt_out", ti, cl);
	memset(&ev, 0, sizeof(ev));
	ev.addr = ti->addr;
	ev.list = f->list;
	ev.event = sub_status_str(to);
	ev.source = "web";
	ev.evidence = evid;
	ev.remote_addr = cl->addr;
	ev.user_agent = cl->agent;
	ss = store_set_status(st, ti->addr, f->list, to, &ev, why, whylen);
	*changed_r = true;
	*state_r = to;
out:
	subs_free(&subs);
	return ss;
}

/* page_csrf - a fresh CSRF mark of the page's token into out
 * (UNSUBD_CSRF_MAX bytes); false (logged) when the MAC fails */
static bool
page_csrf(const struct unsubd *u, const struct req *r, char *out)
{
	if (unsubd_csrf_make(u->ring, r->token, (long long)time(NULL), out,
	    UNSUBD_CSRF_MAX) == 0)
		return true;
	log_err("cannot make a CSRF mark");
	return false;
}

/* prefs_page - the preferences page, with notice (may be NULL) */
static enum MHD_Result
prefs_page(struct unsubd *u, struct MHD_Connection *c, struct req *r,
    const struct token_info *ti, const char *notice, unsigned status)
{
	struct subs subs = { 0 };
	struct store *st;
	enum store_status ss;
	bool suppressed = false;
	char why[256], csrf[UNSUBD_CSRF_MAX];
	enum MHD_Result ret;
	size_t len = 0;
	char *html;

	if ((st = unsubd_store(u, &ss, why, sizeof(why))) == NULL)
		return unsubd_store_error(u, c, ss, "open", why);
	if (!page_csrf(u, r, csrf))
		return unsubd_error(u, c, MHD_HTTP_INTERNAL_SERVER_ERROR);
	ss = subs_load(st, ti, &subs, &suppressed, why, sizeof(why));
	if (ss != STORE_OK) {
		subs_free(&subs);
		return unsubd_store_error(u, c, ss, "subscriptions", why);
	}
	html = unsubd_page_prefs(u->pages, r->token, csrf, subs.v, subs.n,
	    suppressed, notice, &len);
	ret = unsubd_respond(u, c, status, html, len);
	subs_free(&subs);
	return ret;
}

/* unsubd_act_prefs - GET (post == NULL) or POST /p/TOKEN (to the writer:
 * prefs_change) */
enum MHD_Result
unsubd_act_prefs(struct unsubd *u, struct MHD_Connection *c, struct req *r,
    const struct token_info *ti, const struct unsubd_form *post)
{
	struct job *j = &r->job;

	if (post == NULL)
		return prefs_page(u, c, r, ti, NULL, MHD_HTTP_OK);
	memset(j, 0, sizeof(*j));
	j->kind = JOB_PREFS;
	j->ti = *ti;
	unsubd_client(c, &j->cl);
	j->form = *post;
	return unsubd_submit(u, c, r);
}

/* prefs_answer - the page once the writer has applied the change */
static enum MHD_Result
prefs_answer(struct unsubd *u, struct MHD_Connection *c, struct req *r)
{
	const struct job *j = &r->job;
	char laddr[340], slist[140];

	if (j->ss == STORE_NOTFOUND) {
		log_warnx("preferences list=%s: no such list client=%s",
		    log_safe(j->form.list, slist, sizeof(slist)), j->cl.addr);
		return unsubd_error(u, c, MHD_HTTP_BAD_REQUEST);
	}
	if (j->ss != STORE_OK)
		return unsubd_store_error(u, c, j->ss, "preferences", j->why);
	log_info("preferences action=%s list=%s addr=%s source=web "
	    "changed=%s state=%s status=%u client=%s", j->form.action,
	    log_safe(j->form.list, slist, sizeof(slist)),
	    j->erased ? "(erased)" : unsubd_addr_log(u, j->ti.addr, laddr,
	    sizeof(laddr)),
	    j->changed ? "yes" : "no", sub_status_str(j->state_after),
	    j->status, j->cl.addr);
	return prefs_page(u, c, r, &j->ti, j->notice, j->status);
}

/* prefs_apply - writer thread: preference job j inside the batch */
static enum store_status
prefs_apply(struct store *st, struct job *j, char *why, size_t whylen)
{
	enum store_status ss;

	if (j->kind != JOB_PREFS)
		log_panic("write job of no kind");
	/* an erased person stays erased (unsubs_apply) */
	if ((ss = store_erased(st, j->er, j->ti.addr, NULL, why, whylen)) ==
	    STORE_OK) {
		j->changed = false;
		j->erased = true;
		j->notice = "That list is not one of your subscriptions.";
		j->status = MHD_HTTP_FORBIDDEN;
		j->state_after = SUB_NONE;
		return STORE_OK;
	}
	if (ss != STORE_NOTFOUND)
		return ss;
	return prefs_change(st, &j->ti, &j->form, &j->cl, &j->notice,
	    &j->status, &j->state_after, &j->changed, why, whylen);
}

/* run_has - is addr the address of one of the n jobs of run? */
static bool
run_has(struct job *const *run, size_t n, const char *addr)
{
	size_t k;

	for (k = 0; k < n; k++)
		if (strcmp(run[k]->ti.addr, addr) == 0)
			return true;
	return false;
}

/* unsubd_act_apply - writer thread: the jobs of the batch in order, the
 * opt-outs in runs (unsubs_apply) */
enum store_status
unsubd_act_apply(struct store *st, struct job *batch, char *why,
    size_t whylen)
{
	struct job *run[UNSUB_RUN_MAX], *j = batch;
	enum store_status ss;
	size_t n;

	while (j != NULL) {
		if (j->kind != JOB_UNSUB) {
			j->why[0] = '\0';
			j->ss = prefs_apply(st, j, j->why, sizeof(j->why));
			if (j->ss != STORE_OK && j->ss != STORE_NOTFOUND) {
				snprintf(why, whylen, "%s", j->why);
				return j->ss;
			}
			j = j->next;
			continue;
		}
		/* an address twice in a run would be read before its own
		 * first change: the second starts the next run */
		for (n = 0; j != NULL && j->kind == JOB_UNSUB &&
		    n < UNSUB_RUN_MAX && !run_has(run, n, j->ti.addr);
		    j = j->next)
			run[n++] = j;
		if ((ss = unsubs_apply(st, run, n, why, whylen)) != STORE_OK)
			return ss;
	}
	return STORE_OK;
}

/* unsubd_act_finish - answer a write the writer has done */
enum MHD_Result
unsubd_act_finish(struct unsubd *u, struct MHD_Connection *c, struct req *r)
{
	if (r->job.kind == JOB_PREFS)
		return prefs_answer(u, c, r);
	return unsub_answer(u, c, r);
}

/* unsubd_act_unsub_page - GET/HEAD /u/TOKEN: the page, read-only */
enum MHD_Result
unsubd_act_unsub_page(struct unsubd *u, struct MHD_Connection *c,
    struct req *r, const struct token_info *ti)
{
	struct consent_row row;
	struct store *st;
	enum store_status ss;
	bool known = false;
	char why[256], csrf[UNSUBD_CSRF_MAX], label[UNSUBD_LABEL_MAX];
	size_t len = 0;
	char *html;

	if (!page_csrf(u, r, csrf))
		return unsubd_error(u, c, MHD_HTTP_INTERNAL_SERVER_ERROR);
	/* The state is shown when the store answers; the buttons work
	 * either way, so a store failure does not hide the page. */
	memset(&row, 0, sizeof(row));
	if ((st = unsubd_store(u, &ss, why, sizeof(why))) != NULL) {
		ss = store_lookup(st, ti->addr, ti->list, &row, why,
		    sizeof(why));
		known = ss == STORE_OK;
	}
	html = unsubd_page_unsub(u->pages, r->token, csrf, list_label(st,
	    ti->list, label), known, row.status, row.suppressed, &len);
	return unsubd_respond(u, c, MHD_HTTP_OK, html, len);
}
