/*
 * eom.h - what to do with a message at end of message (DESIGN "Message
 * flow" steps 2-4).
 *
 * eom_decide() looks up every recipient, writes the quarantine, re-submits
 * split copies, builds the unsubscribe headers and the DKIM signatures, and
 * returns the verdict plus the list of edits for mlfi.c to apply through
 * libmilter.  It never calls libmilter itself, so it stays testable and
 * mlfi.c stays thin.  Runs in the connection's thread.
 */
#ifndef OPTIN_EOM_H
#define OPTIN_EOM_H

#include <stdbool.h>
#include <stddef.h>

struct conn;

enum verdict_kind {
	VERDICT_ACCEPT,		/* continue with the edits applied */
	VERDICT_DISCARD,	/* nobody left: the copy is in quarantine */
	VERDICT_TEMPFAIL,	/* 4xx: the MTA keeps the message */
	VERDICT_REJECT,		/* 5xx */
};

struct verdict {
	enum verdict_kind kind;
	const char *rcode;	/* static: "451", "452", "550", or NULL */
	const char *xcode;	/* static: "4.3.0", ... */
	char text[256];		/* reply text, when rcode is set */
};

/* Message-ID, Date, List-Unsubscribe, -Post, List-Id, CFBL-Address,
 * Feedback-ID, and one to spare */
#define EDITS_MAX_ADD 8
#define EDITS_MAX_SIG 2

struct hdr_del {
	const char *name;	/* msg arena */
	int index;		/* 1-based among headers of that name */
};

/* Changes to make through libmilter, in this order: delete headers, add
 * headers, insert signatures at the top, delete recipients, change the
 * envelope sender. */
struct edits {
	struct hdr_del *del_hdr;	/* msg arena */
	size_t ndel_hdr;
	struct { const char *name; char *value; } add[EDITS_MAX_ADD];
	size_t nadd;			/* values in the msg arena */
	char *sig[EDITS_MAX_SIG];	/* msg arena: DKIM-Signature values */
	size_t nsig;
	const char **del_rcpt;		/* msg arena: removal strings
					 * (struct rcpt del, session.h) */
	size_t ndel_rcpt;
	char *from;			/* msg arena: new envelope sender
					 * (smfi_chgfrom, the bounce address,
					 * feedbackhdr.h), or NULL */
};

/* Decide the message of c; fills *e and *v.  Logs the decision line. */
void eom_decide(struct conn *c, struct edits *e, struct verdict *v);

/* Set v to the OnDBError action, with a reply text; used at RCPT too. */
void eom_db_error(const struct conn *c, struct verdict *v);

#endif
