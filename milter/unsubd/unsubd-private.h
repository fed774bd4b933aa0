/*
 * unsubd-private.h - what the files of optin-unsubd share behind
 * unsubd_http.h: the server, one request, the client's facts, the response
 * helpers of unsubd_http.c and the actions of unsubd_act.c.
 *
 * Threads: struct unsubd is read-only while the daemon runs; a struct req
 * belongs to the one handler call that has it.
 */
#ifndef OPTIN_UNSUBD_PRIVATE_H
#define OPTIN_UNSUBD_PRIVATE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include <microhttpd.h>

#include "store.h"
#include "token.h"
#include "unsubd_form.h"
#include "unsubd_guard.h"

struct config;
struct unsubd_pages;

struct unsubd {
	struct MHD_Daemon *mhd;
	const struct config *cfg;	/* borrowed */
	const struct token_ring *ring;	/* borrowed */
	struct unsubd_pages *pages;	/* owned */
	pthread_key_t store_key;	/* per-thread struct store * */
	bool key_made;
	long lifetime_days;		/* TokenLifetime in days */
	char site_origin[UNSUBD_ORIGIN_MAX];	/* of UnsubscribeURL; "": none,
						   the Host header decides */
};

enum route { ROUTE_UNSUB, ROUTE_PREFS };

/* One request, in *req_cls from the first handler call to completion. */
struct req {
	enum route route;
	char token[TOKEN_MAX];
	char *body;			/* owned, NUL-terminated */
	size_t len;
	size_t dropped;			/* body bytes over the limit */
	bool too_large;
};

/* Facts about the client of one request. */
struct client {
	char addr[64];			/* numeric address */
	char agent[256];		/* User-Agent, cleaned */
	char fwd[128];			/* X-Forwarded-For from a local proxy */
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

#endif
