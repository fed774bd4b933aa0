/*
 * session.h - per-process runtime, per-connection and per-message state of
 * the milter.
 *
 * struct runtime (runtime.h) is read-only and counted; a connection holds a
 * reference to the one its current message started with.  struct conn
 * lives from xxfi_connect to xxfi_close and belongs to one libmilter thread;
 * struct msg is embedded in it and reset at every MAIL FROM, end of message
 * and abort.  Per-message strings live in the msg arena (no per-field
 * frees).
 */
#ifndef OPTIN_SESSION_H
#define OPTIN_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/uio.h>

#include "buf.h"
#include "campaign.h"
#include "consent.h"
#include "runtime.h"

struct config;
struct store;
struct storepool;

struct rcpt {
	char *raw;			/* msg arena: as given at RCPT */
	char *del;			/* msg arena: what smfi_delrcpt must
					 * say to remove it; NULL: not known */
	char *addr;			/* msg arena: normalised; NULL if bad */
	enum consent_reason reason;	/* decided at end of message */
	bool unsub;			/* to the UnsubscribeMailto address */
	const char *held;		/* static: quarantine reason of an
					 * allowed recipient held anyway
					 * ("line_too_long", ...), or NULL */
};

struct hdr {
	char *name;			/* msg arena */
	char *value;			/* msg arena, as libmilter gave it:
					 * with msg.leadspc exactly the bytes
					 * after the colon */
};

struct msg {
	struct arena arena;		/* owned: everything below marked so */
	char qid[32];			/* MTA queue ID or "NOQUEUE" */
	char *sender_raw;		/* msg arena */
	/* the envelope sender as given, without <>, when addr_normalize
	 * refused it: a personal bounce address (BounceAddress) has a local
	 * part longer than the 64 octets it takes (RFC 5321 4.5.3.1.1);
	 * msg arena */
	char *sender_path;
	char *sender;			/* msg arena: normalised; NULL for <> */
	bool env_campaign;		/* campaign by envelope */
	struct rcpt *rcpt;		/* msg arena array */
	size_t nrcpt, rcpt_cap;
	struct hdr *hdr;		/* msg arena array */
	size_t nhdr, hdr_cap;
	struct buf body;		/* owned; kept across messages */
	size_t line_len;		/* length of the body line so far */
	size_t longest_line;		/* longest body line, octets */
	bool campaign;			/* decided at end of headers */
	bool leadspc;			/* header values exact (conn.leadspc) */
	bool body_cr;			/* body so far ends in CR */
	char *added_msgid;		/* msg arena: the Message-ID the
					   milter added (msgsafe), or NULL */
	char *added_hdrs;		/* msg arena: header lines the milter
					 * added to every copy (msgsafe.h),
					 * CRLF-ended, or NULL */
	char list[CAMPAIGN_LIST_MAX + 1];
	bool in_flight;			/* counted in metrics_in_flight */
	/* static text: a step the MTA does not wait for (SMFIP_NR_*,
	 * mlfi.c) failed; the next step that replies answers tempfail */
	const char *fail;
};

struct conn {
	struct runtime *rt;		/* counted reference (runtime.h): the
					 * runtime of the current message */
	struct store *st;		/* from the pool while a message needs it */
	char client[300];		/* "host[addr]" cleaned for logs */
	char client_addr[64];		/* IP address text */
	char helo[256];
	char auth_user[256];		/* SASL login, printable (logs), or "" */
	bool leadspc;			/* SMFIP_HDR_LEADSPC negotiated */
	struct msg msg;
};

/* A new connection with a reference to the current runtime; NULL when out
 * of memory. */
struct conn *conn_new(void);
/* Free a connection, returning its store handle and dropping its runtime
 * reference; accepts NULL, sets NULL. */
void conn_free(struct conn **connp);

/* Start a message (at MAIL FROM): forgets the previous one, and moves the
 * connection to the current runtime when a reload installed a new one (a
 * long SMTP session picks up a reload at its next message). */
void msg_begin(struct conn *c);
/* Forget the message (end of message, abort, close).  Returns the store
 * handle to the pool. */
void msg_reset(struct conn *c);

/*
 * Add a recipient / header; -1 when out of memory.  For a recipient the MTA
 * gave in angle brackets (Postfix's smtpd passes the client's text), the
 * string that removes it is "<mailbox>" with any source route dropped:
 * Postfix matches smfi_delrcpt against the recipient as its smtpd parsed
 * it, and smtpd drops the route.  Without brackets (Postfix's sendmail(1)
 * path, which passes the recipient after cleanup(8) rewrote it, while
 * smfi_delrcpt is matched against the form before rewriting) no string is
 * known to work: rcpt->del stays NULL.
 */
int msg_add_rcpt(struct msg *m, const char *raw);
int msg_add_header(struct msg *m, const char *name, const char *value);

/* Append a body chunk, tracking the longest line (RFC 5322 section 2.1.1:
 * at most 998 octets; Postfix folds longer ones after signing, which
 * breaks the signature).  -1 when out of memory. */
int msg_add_body(struct msg *m, const unsigned char *chunk, size_t len);

/* Value of the first header called name (case-insensitive), without the
 * white space (and fold) that may follow the colon, or NULL. */
const char *msg_header(const struct msg *m, const char *name);

/* Number of header fields called name (case-insensitive). */
size_t msg_header_count(const struct msg *m, const char *name);

/*
 * The message as bytes for the quarantine and for re-submission: the headers
 * (skipping those for which skip() is true, when skip is not NULL), extra
 * (pre-rendered header lines, may be NULL), a blank line and the body.  Lines
 * end in CRLF.  With m->leadspc each field is "name:" and its value exactly
 * as received (DESIGN "Message flow" item 5: a fold right after the colon,
 * tabs and empty values stay as they were); without, "name: value" as
 * libmilter's classic form suggests.  XXX white space between a field name
 * and its colon (obsolete syntax) is lost: the MTA never passes it on.
 * Fills *out (msg arena for header text); returns the number of iovecs
 * used, or -1 when out of memory.
 */
int msg_render(struct msg *m, const char *extra,
	    bool (*skip)(const char *name, const void *arg), const void *arg,
	    struct iovec out[3]);

/*
 * For each recipient i, dup[i]: is an earlier allowed recipient (reason
 * CONSENT_DELIVER, not an unsubscribe request) the same person (normalised
 * address)?  One split copy per person.  Sorted, O(n log n): a message to
 * thousands is split without a quadratic scan.  An array of m->nrcpt in
 * the msg arena, or NULL when out of memory.
 */
bool *msg_same_person(struct msg *m);

/* The store handle for this connection, taken from the pool when needed;
 * NULL with why[] and *tempfail_r when it cannot be opened. */
struct store *conn_store(struct conn *c, bool *tempfail_r, char *why,
	    size_t whylen);

/* Store pool: handles are reused across connections (opening SQLite and
 * preparing statements per message would cost more than the lookup).  One
 * per runtime; cfg is borrowed from it. */
struct storepool *storepool_new(const struct config *cfg);
void storepool_free(struct storepool **poolp);

#endif
