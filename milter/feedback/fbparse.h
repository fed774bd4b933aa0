/*
 * fbparse.h - read one bounce or complaint with GMime 3 (DESIGN "Feedback:
 * bounces and complaints").  The input faces the internet: this file only
 * parses, decides nothing, and is fuzzed (tests/fuzz/fuzz_fbparse.c).
 *
 * Shapes recognised:
 *   DSN (RFC 3464): multipart/report; report-type=delivery-status with a
 *	message/delivery-status part; the first per-recipient block whose
 *	Action is "failed" (else the first block) is reported.
 *   ARF (RFC 5965): multipart/report; report-type=feedback-report with a
 *	message/feedback-report part and the reported copy (message/rfc822 or
 *	text/rfc822-headers).  Complaints to CFBL-Address (RFC 9477) are ARF.
 *   Auto-replies (RFC 3834 Auto-Submitted other than "no", X-Autoreply,
 *	X-Autorespond, Precedence auto_reply, vacation subjects).
 * Anything else is FB_UNUSABLE with why[] saying what it lacked.
 *
 * All text fields are NUL-terminated copies cut to their size, with
 * control characters replaced by '?'.  Not thread-safe before
 * fbparse_init() returned; afterwards one report per thread.
 */
#ifndef OPTIN_FBPARSE_H
#define OPTIN_FBPARSE_H

#include <stdbool.h>
#include <stddef.h>

enum fb_type {
	FB_UNUSABLE = 0,
	FB_DSN,
	FB_ARF,
	FB_AUTO_REPLY,
};

#define FB_TEXT		512
#define FB_ADDR		330
#define FB_NCAND	8

/* Where a candidate token carrier came from (the reported copy of an ARF
 * report, or its Original-Mail-From). */
enum fb_cand_where {
	FB_CAND_MAIL_FROM,		/* ARF Original-Mail-From */
	FB_CAND_RETURN_PATH,		/* the copy's Return-Path */
	FB_CAND_LIST_UNSUB,		/* the copy's List-Unsubscribe */
	FB_CAND_FEEDBACK_ID,		/* the copy's Feedback-ID */
};

struct fb_cand {
	enum fb_cand_where where;
	char text[1024];
};

struct fb_report {
	enum fb_type type;
	char why[128];			/* FB_UNUSABLE: what was missing */
	/* DSN */
	char action[32];
	char status[16];		/* RFC 3463 "c.s.d", "" when none */
	char final_rcpt[FB_ADDR];	/* as reported: never trusted */
	char remote_mta[256];
	char reporting_mta[256];
	char diagnostic[FB_TEXT];
	char arrival[64];
	bool after_data;		/* the human part says the refusal
					   came after DATA, not at RCPT */
	bool delivered_too;		/* another recipient block says
					   delivered, relayed or expanded:
					   the copy reached a mailbox (a
					   forward or alias failed in part) */
	/* ARF */
	char feedback_type[32];
	char orig_rcpt[FB_ADDR];	/* Original-Rcpt-To, first */
	/* the reported copy's token carriers (ARF) */
	size_t ncand;
	struct fb_cand cand[FB_NCAND];
	char subject[256];		/* of the report itself */
};

/* Initialise GMime once per process (g_mime_init). */
void fbparse_init(void);

/* Parse len bytes of buf (one whole message) into *r (zeroed first).
 * Never fails: what it cannot use comes back as FB_UNUSABLE. */
void fbparse_report(const char *buf, size_t len, struct fb_report *r);

/* "dsn", "arf", "auto_reply", "unusable". */
const char *fbparse_type_str(enum fb_type t);

#endif
