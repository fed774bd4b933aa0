/*
 * session.c - connection and message state, and the store pool
 * (session.h).
 *
 * Threads: a conn belongs to one libmilter thread.  The pool is shared and
 * guarded by its mutex; a handle taken from it is used by one thread only.
 */
#include "autoconf.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "config.h"
#include "log.h"
#include "metrics.h"
#include "runtime.h"
#include "session.h"
#include "store.h"

#define POOL_MAX 32		/* idle handles kept */

struct storepool {
	const struct config *cfg;	/* borrowed from its runtime */
	pthread_mutex_t lock;
	struct store *idle[POOL_MAX];	/* owned */
	size_t nidle;
};

struct storepool *
storepool_new(const struct config *cfg)
{
	struct storepool *p;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	p->cfg = cfg;
	(void)pthread_mutex_init(&p->lock, NULL);
	return p;
}

void
storepool_free(struct storepool **poolp)
{
	struct storepool *p;

	if (poolp == NULL || (p = *poolp) == NULL)
		return;
	while (p->nidle > 0)
		store_close(&p->idle[--p->nidle]);
	(void)pthread_mutex_destroy(&p->lock);
	free(p);
	*poolp = NULL;
}

/* storepool_get - an idle handle, or a new one */
static struct store *
storepool_get(struct storepool *p, bool *tempfail_r, char *why, size_t whylen)
{
	enum store_status ss = STORE_OK;
	struct store *st = NULL;

	(void)pthread_mutex_lock(&p->lock);
	if (p->nidle > 0)
		st = p->idle[--p->nidle];
	(void)pthread_mutex_unlock(&p->lock);
	if (st != NULL)
		return st;
	st = store_open(p->cfg, 0, &ss, why, whylen);
	*tempfail_r = st == NULL && ss != STORE_ERROR;
	return st;
}

/* storepool_put - keep a handle for the next message, or close it */
static void
storepool_put(struct storepool *p, struct store **stp)
{
	if (*stp == NULL)
		return;
	(void)pthread_mutex_lock(&p->lock);
	if (p->nidle < POOL_MAX) {
		p->idle[p->nidle++] = *stp;
		*stp = NULL;
	}
	(void)pthread_mutex_unlock(&p->lock);
	store_close(stp);
}

struct store *
conn_store(struct conn *c, bool *tempfail_r, char *why, size_t whylen)
{
	*tempfail_r = false;
	if (c->st == NULL)
		c->st = storepool_get(c->rt->pool, tempfail_r, why, whylen);
	return c->st;
}

struct conn *
conn_new(void)
{
	struct conn *c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	if ((c->rt = runtime_acquire()) == NULL)
		log_panic("conn_new: no runtime installed");
	strcpy(c->msg.qid, "NOQUEUE");
	return c;
}

void
conn_free(struct conn **connp)
{
	struct conn *c;

	if (connp == NULL || (c = *connp) == NULL)
		return;
	msg_reset(c);
	runtime_release(&c->rt);
	arena_free(&c->msg.arena);
	buf_free(&c->msg.body);
	free(c);
	*connp = NULL;
}

void
msg_begin(struct conn *c)
{
	msg_reset(c);		/* the store handle goes back to its pool */
	runtime_renew(&c->rt);
	c->msg.leadspc = c->leadspc;
	c->msg.in_flight = true;
	metrics_in_flight(1);
}

void
msg_reset(struct conn *c)
{
	struct msg *m = &c->msg;
	struct arena a = m->arena;
	struct buf b = m->body;

	if (c->st != NULL)
		storepool_put(c->rt->pool, &c->st);
	if (m->in_flight)
		metrics_in_flight(-1);
	arena_reset(&a);
	buf_reset(&b);
	memset(m, 0, sizeof(*m));
	m->arena = a;
	m->body = b;
	strcpy(m->qid, "NOQUEUE");
}

/* grow - make room for one more element in an arena array */
static int
grow(struct arena *a, void **arr, size_t n, size_t *cap, size_t elsize)
{
	void *na;

	if (n < *cap)
		return 0;
	*cap = *cap ? *cap * 2 : 16;
	if ((na = arena_alloc(a, *cap * elsize)) == NULL)
		return -1;
	if (n > 0)
		memcpy(na, *arr, n * elsize);
	*arr = na;
	return 0;
}

int
msg_add_rcpt(struct msg *m, const char *raw)
{
	char box[ADDR_MAX * 2 + 3];
	struct rcpt *r;
	bool bracketed;

	if (grow(&m->arena, (void **)&m->rcpt, m->nrcpt, &m->rcpt_cap,
	    sizeof(*m->rcpt)) < 0)
		return -1;
	r = &m->rcpt[m->nrcpt];
	memset(r, 0, sizeof(*r));
	if ((r->raw = arena_strdup(&m->arena, raw)) == NULL)
		return -1;
	if (addr_path_mailbox(raw, box + 1, sizeof(box) - 2, &bracketed) > 0 &&
	    bracketed) {
		box[0] = '<';
		strcat(box, ">");
		if ((r->del = arena_strdup(&m->arena, box)) == NULL)
			return -1;
	}
	m->nrcpt++;
	return 0;
}

int
msg_add_header(struct msg *m, const char *name, const char *value)
{
	struct hdr *h;

	if (grow(&m->arena, (void **)&m->hdr, m->nhdr, &m->hdr_cap,
	    sizeof(*m->hdr)) < 0)
		return -1;
	h = &m->hdr[m->nhdr];
	if ((h->name = arena_strdup(&m->arena, name)) == NULL ||
	    (h->value = arena_strdup(&m->arena, value)) == NULL)
		return -1;
	m->nhdr++;
	return 0;
}

int
msg_add_body(struct msg *m, const unsigned char *chunk, size_t len)
{
	const unsigned char *p = chunk, *end = chunk + len, *nl;

	/* a CRLF may be split between two chunks: m->body_cr remembers a CR
	 * that ended the previous one */
	while (p < end) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL) {
			m->line_len += (size_t)(end - p);
			break;
		}
		m->line_len += (size_t)(nl - p);
		if (m->line_len > 0 && (nl > p ? nl[-1] == '\r' : m->body_cr))
			m->line_len--;	/* CR of CRLF */
		if (m->line_len > m->longest_line)
			m->longest_line = m->line_len;
		m->line_len = 0;
		m->body_cr = false;
		p = nl + 1;
	}
	if (len > 0)
		m->body_cr = m->line_len > 0 && chunk[len - 1] == '\r';
	/* the line so far, less a CR that may be the first half of CRLF (the
	 * MTA ends every body line in CRLF) */
	if (m->line_len - m->body_cr > m->longest_line)
		m->longest_line = m->line_len - m->body_cr;
	return buf_append(&m->body, chunk, len);
}

const char *
msg_header(const struct msg *m, const char *name)
{
	size_t i;

	for (i = 0; i < m->nhdr; i++)
		if (strcasecmp(m->hdr[i].name, name) == 0)
			return m->hdr[i].value + strspn(m->hdr[i].value,
			    " \t\r\n");
	return NULL;
}

size_t
msg_header_count(const struct msg *m, const char *name)
{
	size_t i, n = 0;

	for (i = 0; i < m->nhdr; i++)
		n += strcasecmp(m->hdr[i].name, name) == 0;
	return n;
}

/* put_value - a header value with every line end made CRLF */
static int
put_value(struct buf *b, const char *v)
{
	const char *p;

	for (p = v; *p != '\0'; p++) {
		if (*p == '\r')
			continue;
		if (*p == '\n' ? buf_append(b, "\r\n", 2) < 0 :
		    buf_append(b, p, 1) < 0)
			return -1;
	}
	return 0;
}

int
msg_render(struct msg *m, const char *extra,
    bool (*skip)(const char *name, const void *arg), const void *arg,
    struct iovec out[3])
{
	struct buf h = { 0 };
	char *copy;
	size_t i;
	int n = 0;

	for (i = 0; i < m->nhdr; i++) {
		const char *v = m->hdr[i].value;

		if (skip != NULL && skip(m->hdr[i].name, arg))
			continue;
		if (buf_puts(&h, m->hdr[i].name) < 0 ||
		    buf_puts(&h, m->leadspc || *v == ' ' || *v == '\t' ?
		    ":" : ": ") < 0 ||
		    put_value(&h, v) < 0 || buf_append(&h, "\r\n", 2) < 0)
			goto nomem;
	}
	if ((extra != NULL && put_value(&h, extra) < 0) ||
	    buf_append(&h, "\r\n", 2) < 0)
		goto nomem;
	if ((copy = arena_strndup(&m->arena, (char *)h.data, h.len)) == NULL)
		goto nomem;
	out[n].iov_base = copy;
	out[n++].iov_len = h.len;
	buf_free(&h);
	if (m->body.len > 0) {
		out[n].iov_base = m->body.data;
		out[n++].iov_len = m->body.len;
	}
	return n;
nomem:
	buf_free(&h);
	return -1;
}

/* by_addr - qsort order of recipient indices: address, then index */
static int
by_addr(const void *a, const void *b, void *arg)
{
	const struct msg *m = arg;
	size_t i = *(const size_t *)a, j = *(const size_t *)b;
	int d = strcmp(m->rcpt[i].addr, m->rcpt[j].addr);

	return d != 0 ? d : (i > j) - (i < j);
}

bool *
msg_same_person(struct msg *m)
{
	bool *dup = arena_alloc(&m->arena, (m->nrcpt + 1) * sizeof(bool));
	size_t *ix = arena_alloc(&m->arena, (m->nrcpt + 1) * sizeof(size_t));
	size_t i, n = 0;

	if (dup == NULL || ix == NULL)
		return NULL;
	for (i = 0; i < m->nrcpt; i++)
		if (!m->rcpt[i].unsub && m->rcpt[i].addr != NULL &&
		    m->rcpt[i].reason == CONSENT_DELIVER)
			ix[n++] = i;
	qsort_r(ix, n, sizeof(size_t), by_addr, m);
	for (i = 1; i < n; i++)
		dup[ix[i]] = strcmp(m->rcpt[ix[i]].addr,
		    m->rcpt[ix[i - 1]].addr) == 0;
	return dup;
}
