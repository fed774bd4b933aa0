/*
 * unsubd-private.h - what the files of optin-unsubd share behind
 * unsubd_http.h: the server, one request, the client's facts, the response
 * helpers of unsubd_http.c and the actions of unsubd_act.c.
 *
 * Threads: struct unsubd is read-only while the daemon runs, except the
 * writer's queue and the connection table (each under its own mutex); a
 * struct req belongs to the one handler call that has it, or, while its
 * connection is suspended, to the writer thread (unsubd_writer.c).
 */
#ifndef OPTIN_UNSUBD_PRIVATE_H
#define OPTIN_UNSUBD_PRIVATE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include <microhttpd.h>

#include "consent.h"
#include "store.h"
#include "token.h"
#include "unsubd_form.h"
#include "unsubd_guard.h"

struct config;
struct unsubd_pages;
struct unsubd_writer;
struct http_conns;

struct unsubd {
	struct MHD_Daemon *mhd;
	const struct config *cfg;	/* borrowed */
	const struct token_ring *ring;	/* borrowed */
	struct token_ring *erasure;	/* owned: ErasureKeyFile; NULL: unset */
	struct store_erasure er;	/* erasure and ring, for store_erased */
	struct unsubd_pages *pages;	/* owned */
	pthread_key_t store_key;	/* per-thread struct store * */
	bool key_made;
	struct unsubd_writer *writer;	/* owned: the one writing thread */
	struct http_conns *conns;	/* owned: deadlines (http_conns.c) */
	int draining;			/* __atomic: replaced by a reload */
	long lifetime_days;		/* TokenLifetime in days */
	char site_origin[UNSUBD_ORIGIN_MAX];	/* of UnsubscribeURL; "": none,
						   the Host header decides */
};

enum route { ROUTE_UNSUB, ROUTE_PREFS };

/* Facts about the client of one request. */
struct client {
	char addr[64];			/* numeric address */
	char agent[256];		/* User-Agent, cleaned */
	char fwd[128];			/* X-Forwarded-For from a local proxy */
};

enum job_kind { JOB_NONE, JOB_UNSUB, JOB_PREFS };
enum job_state { JOB_IDLE, JOB_QUEUED, JOB_DONE };

/*
 * One write, handed to the writer thread with its connection suspended
 * (unsubd_writer.h).  The inputs are copied in by the handler; the writer
 * fills the outputs, then resumes the connection, whose next handler call
 * answers from them.
 */
#define UNSUBD_LABEL_MAX	256	/* a list's display name, NUL included */

struct job {
	enum job_kind kind;
	enum job_state state;		/* written under the writer's mutex */
	struct MHD_Connection *conn;	/* borrowed: the suspended one */
	struct job *next;		/* the writer's queue */
	/* inputs */
	const struct store_erasure *er;	/* borrowed from struct unsubd */
	struct token_info ti;
	struct client cl;
	bool all;			/* JOB_UNSUB: of everything */
	const char *source;		/* static */
	const char *formword;		/* static or NULL */
	struct unsubd_form form;	/* JOB_PREFS: the posted form */
	/* outputs */
	enum store_status ss;		/* STORE_OK, NOTFOUND: no such list;
					   else the batch failed */
	char why[256];
	bool changed;
	bool erased;			/* the address is erased: not logged */
	char label[UNSUBD_LABEL_MAX];	/* JOB_UNSUB: the list's display
					   name, else its id */
	const char *notice;		/* JOB_PREFS: static */
	unsigned status;		/* JOB_PREFS: HTTP status */
	enum sub_status state_after;	/* JOB_PREFS */
};

/* One request, in *req_cls from the first handler call to completion. */
struct req {
	enum route route;
	char token[TOKEN_MAX];
	char *body;			/* owned, NUL-terminated */
	size_t len;
	size_t dropped;			/* body bytes over the limit */
	bool too_large;
	bool bad_path;			/* %00 in the path (http_unescape) */
	struct job job;			/* a write in the writer's hands */
};

/* unsubd_http.c */

/* This thread's store handle, opened on first use; NULL with *ss_r and
 * why[] filled.  Owned by the thread (closed when it ends). */
struct store *unsubd_store(struct unsubd *u, enum store_status *ss_r,
	    char *why, size_t whylen);

/* The numeric peer address, User-Agent and a local proxy's
 * X-Forwarded-For, cleaned for logs and evidence. */
void unsubd_client(struct MHD_Connection *c, struct client *cl);

/* addr as LogAddresses wants it in a log line, into out; returns out. */
const char *unsubd_addr_log(const struct unsubd *u, const char *addr,
	    char *out, size_t outlen);

/* Queue html (owned; freed by libmicrohttpd; NULL: out of memory, 500)
 * with status and the headers every response carries. */
enum MHD_Result unsubd_respond(struct unsubd *u, struct MHD_Connection *c,
	    unsigned status, char *html, size_t len);

/* Answer status with its generic page. */
enum MHD_Result unsubd_error(struct unsubd *u, struct MHD_Connection *c,
	    unsigned status);

/* Answer a failed store call (what names the operation, why its reason):
 * 503 when temporary, else 500; logged. */
enum MHD_Result unsubd_store_error(struct unsubd *u, struct MHD_Connection *c,
	    enum store_status ss, const char *what, const char *why);

/* Suspend c and hand r->job (filled) to the writer; its answer comes
 * from unsubd_act_finish() when the connection is resumed. */
enum MHD_Result unsubd_submit(struct unsubd *u, struct MHD_Connection *c,
	    struct req *r);

/* unsubd_act.c: ti is the verified token of r */

/* POST /u/TOKEN: opt out of the token's list (all: of everything, a global
 * suppression); idempotent.  source is the event's source ("one-click",
 * "web"), formword the body form for one-click (else NULL). */
enum MHD_Result unsubd_act_unsubscribe(struct unsubd *u,
	    struct MHD_Connection *c, struct req *r,
	    const struct token_info *ti, bool all, const char *source,
	    const char *formword);

/* GET or HEAD /u/TOKEN: the page, read-only. */
enum MHD_Result unsubd_act_unsub_page(struct unsubd *u,
	    struct MHD_Connection *c, struct req *r,
	    const struct token_info *ti);

/* GET or HEAD /p/TOKEN (post NULL), or POST /p/TOKEN with its form. */
enum MHD_Result unsubd_act_prefs(struct unsubd *u, struct MHD_Connection *c,
	    struct req *r, const struct token_info *ti,
	    const struct unsubd_form *post);

/* The answer to a write once the writer has done r->job. */
enum MHD_Result unsubd_act_finish(struct unsubd *u, struct MHD_Connection *c,
	    struct req *r);

/*
 * Writer thread only: apply the jobs of the list batch (linked by next),
 * in order, inside the batch's open transaction on st; each job's ss gets
 * STORE_OK, or STORE_NOTFOUND (its list is gone; nothing of it was
 * written).  Any other status fails the whole batch (returned, with why;
 * the caller rolls back, and the jobs' outputs are then undefined).
 */
enum store_status unsubd_act_apply(struct store *st, struct job *batch,
	    char *why, size_t whylen);

#endif
