/*
 * unsubd_pages.c - HTML of optin-unsubd's pages (see unsubd_pages.h).
 *
 * Pages are small, English, readable on a phone (viewport meta, one column,
 * 44-pixel buttons), accessible (lang attribute, one h1, real buttons in
 * forms, visible focus, text contrast above 7:1) and self-contained: the CSS
 * below is the only resource and the CSP names it by hash, so any change to
 * PAGE_CSS changes the hash on the next start, never breaks it.
 *
 * Threads: struct unsubd_pages is immutable after unsubd_pages_new(); page
 * builders allocate their own buffer.  Ownership: returned pages are owned
 * by the caller.
 */
#include "autoconf.h"

#include "unsubd_pages.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "config.h"
#include "utf8.h"

/* Inline style; its sha256 goes into the CSP (style-src 'sha256-...'). */
static const char PAGE_CSS[] =
	"body{margin:0;background:#f3f4f6;color:#1b1b1b;"
	"font:1.0625rem/1.5 system-ui,-apple-system,\"Segoe UI\",Roboto,"
	"sans-serif}"
	"main{max-width:34rem;margin:2rem auto;padding:1.5rem;background:#fff;"
	"border:1px solid #c9ced6;border-radius:8px}"
	"h1{font-size:1.5rem;line-height:1.25;margin:0 0 1rem}"
	"p{margin:0 0 1rem}"
	"form{margin:0 0 .75rem}"
	"button{font:inherit;min-height:44px;padding:.55rem 1.1rem;"
	"border:2px solid #1545b8;border-radius:6px;background:#1545b8;"
	"color:#fff;cursor:pointer;margin:0 .5rem .5rem 0}"
	"button.alt{background:#fff;color:#1545b8}"
	"a{color:#1545b8}"
	"a:focus-visible,button:focus-visible{outline:3px solid #1b1b1b;"
	"outline-offset:3px}"
	"ul{list-style:none;margin:0 0 1rem;padding:0}"
	"li{border-top:1px solid #c9ced6;padding:.75rem 0 .25rem}"
	".list{font-weight:600;display:block}"
	".state{display:block;color:#3d434b;margin-bottom:.5rem}"
	".note{background:#eef2fb;border-left:4px solid #1545b8;"
	"padding:.5rem .75rem}"
	"footer{margin-top:1.5rem;font-size:.9375rem;color:#3d434b}"
	"@media (max-width:36rem){main{margin:0;border:0;border-radius:0}}";

struct unsubd_pages {
	char *organization;		/* owned, may be NULL */
	char *privacy_url;		/* owned, may be NULL */
	char *mailto;			/* owned: UnsubscribeMailto or NULL */
	char *csp;			/* owned */
};

/* A growable string; on allocation failure it stays failed. */
struct sbuf {
	char *p;
	size_t len, cap;
	bool failed;
};

/* sb_addn - append n bytes of s */
static void
sb_addn(struct sbuf *b, const char *s, size_t n)
{
	char *np;
	size_t ncap;

	if (b->failed)
		return;
	if (b->len + n + 1 > b->cap) {
		ncap = b->cap ? b->cap : 2048;
		while (ncap < b->len + n + 1)
			ncap *= 2;
		if ((np = realloc(b->p, ncap)) == NULL) {
			b->failed = true;
			return;
		}
		b->p = np;
		b->cap = ncap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

/* sb_add - append the string s */
static void
sb_add(struct sbuf *b, const char *s)
{
	sb_addn(b, s, strlen(s));
}

/*
 * sb_esc - append s escaped for HTML text and quoted attribute values: HTML's
 * five, and U+FFFD for what a page declared UTF-8 must not carry raw: a
 * control character other than tab, line feed and carriage return (C0, DEL,
 * C1: parse errors in HTML) and each maximal subpart of bytes that are not
 * UTF-8 (utf8_decode_fffd).  A list name written with SQL may hold either;
 * every text a page shows goes through here.
 */
static void
sb_esc(struct sbuf *b, const char *s)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t len = strlen(s), i, n, run = 0;
	const char *rep;
	unsigned cp;

	for (i = 0; i < len; i += n) {
		n = utf8_decode_fffd(u + i, len - i, &cp);
		switch (cp) {
		case '&': rep = "&amp;"; break;
		case '<': rep = "&lt;"; break;
		case '>': rep = "&gt;"; break;
		case '"': rep = "&quot;"; break;
		case '\'': rep = "&#39;"; break;
		case '\t': case '\n': case '\r': rep = NULL; break;
		default:
			/* a U+FFFD of the text itself comes out the same */
			rep = utf8_control(cp) || cp == UTF8_FFFD ?
			    UTF8_FFFD_STR : NULL;
			break;
		}
		if (rep == NULL) {
			run += n;
			continue;
		}
		sb_addn(b, s + i - run, run);
		sb_add(b, rep);
		run = 0;
	}
	sb_addn(b, s + i - run, run);
}

/* sb_finish - hand out the buffer, or NULL after a failure */
static char *
sb_finish(struct sbuf *b, size_t *len_r)
{
	if (b->failed || b->p == NULL) {
		free(b->p);
		b->p = NULL;
		return NULL;
	}
	*len_r = b->len;
	return b->p;
}

/* page_begin - doctype, head with the style, opening of main and h1 */
static void
page_begin(struct sbuf *b, const char *title)
{
	sb_add(b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n"
	    "<meta charset=\"utf-8\">\n"
	    "<meta name=\"viewport\" content=\"width=device-width, "
	    "initial-scale=1\">\n"
	    "<meta name=\"robots\" content=\"noindex, nofollow\">\n"
	    "<title>");
	sb_esc(b, title);
	sb_add(b, "</title>\n<style>");
	sb_add(b, PAGE_CSS);
	sb_add(b, "</style>\n</head>\n<body>\n<main>\n<h1>");
	sb_esc(b, title);
	sb_add(b, "</h1>\n");
}

/* page_end - footer with Organization and PrivacyURL, closing tags */
static void
page_end(const struct unsubd_pages *p, struct sbuf *b)
{
	if (p->organization != NULL || p->privacy_url != NULL) {
		sb_add(b, "<footer>");
		if (p->organization != NULL) {
			sb_add(b, "<p>Mailing lists of ");
			sb_esc(b, p->organization);
			sb_add(b, ".</p>");
		}
		if (p->privacy_url != NULL) {
			sb_add(b, "<p><a href=\"");
			sb_esc(b, p->privacy_url);
			sb_add(b, "\">Privacy notice</a></p>");
		}
		sb_add(b, "</footer>\n");
	}
	sb_add(b, "</main>\n</body>\n</html>\n");
}

/* list_label - the name to show for a list */
static const char *
list_label(const char *list, const char *name)
{
	return name != NULL && *name != '\0' ? name : list;
}

/* b64 - base64 (with padding) of n bytes into out (4*((n+2)/3)+1 bytes) */
static void
b64(const unsigned char *in, size_t n, char *out)
{
	(void)EVP_EncodeBlock((unsigned char *)out, in, (int)n);
}

/* xstrdup_opt - copy s (NULL stays NULL); false when out of memory */
static bool
xstrdup_opt(const char *s, char **out)
{
	*out = NULL;
	if (s == NULL || *s == '\0')
		return true;
	return (*out = strdup(s)) != NULL;
}

struct unsubd_pages *
unsubd_pages_new(const struct config *cfg, char *why, size_t whylen)
{
	struct unsubd_pages *p;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char hash[4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1];
	int n;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		goto nomem;
	if (!xstrdup_opt(cfg->organization, &p->organization) ||
	    !xstrdup_opt(cfg->privacy_url, &p->privacy_url) ||
	    !xstrdup_opt(cfg->unsubscribe_mailto, &p->mailto))
		goto nomem;
	if (EVP_Digest(PAGE_CSS, strlen(PAGE_CSS), md, &mdlen, EVP_sha256(),
	    NULL) != 1) {
		snprintf(why, whylen, "sha256 of the page style failed");
		unsubd_pages_free(&p);
		return NULL;
	}
	b64(md, mdlen, hash);
	n = asprintf(&p->csp, "default-src 'none'; style-src 'sha256-%s'; "
	    "img-src 'none'; form-action 'self'; frame-ancestors 'none'; "
	    "base-uri 'none'", hash);
	if (n < 0) {
		p->csp = NULL;
		goto nomem;
	}
	return p;
nomem:
	snprintf(why, whylen, "out of memory");
	unsubd_pages_free(&p);
	return NULL;
}

void
unsubd_pages_free(struct unsubd_pages **pp)
{
	struct unsubd_pages *p;

	if (pp == NULL || (p = *pp) == NULL)
		return;
	free(p->organization);
	free(p->privacy_url);
	free(p->mailto);
	free(p->csp);
	free(p);
	*pp = NULL;
}

const char *
unsubd_pages_csp(const struct unsubd_pages *p)
{
	return p->csp;
}

/* form_begin - <form> posting to /ROUTE/TOKEN with the page's CSRF mark */
static void
form_begin(struct sbuf *b, const char *route, const char *token,
    const char *csrf)
{
	sb_add(b, "<form method=\"post\" action=\"/");
	sb_add(b, route);
	sb_add(b, "/");
	sb_esc(b, token);
	sb_add(b, "\"><input type=\"hidden\" name=\"csrf\" value=\"");
	sb_esc(b, csrf);
	sb_add(b, "\">\n");
}

char *
unsubd_page_unsub(const struct unsubd_pages *p, const char *token,
    const char *csrf, const char *list, bool known, enum sub_status status,
    bool suppressed, size_t *len_r)
{
	struct sbuf b = { 0 };

	page_begin(&b, "Unsubscribe");
	sb_add(&b, "<p>This page is about the mailing list <strong>");
	sb_esc(&b, list);
	sb_add(&b, "</strong>.</p>\n");
	if (known && suppressed)
		sb_add(&b, "<p class=\"note\">You have unsubscribed from "
		    "everything: no list mail is sent to you.</p>\n");
	else if (known && status == SUB_OPTED_OUT)
		sb_add(&b, "<p class=\"note\">You are already unsubscribed "
		    "from this list.</p>\n");
	form_begin(&b, "u", token, csrf);
	sb_add(&b, "<p><button type=\"submit\" name=\"action\" "
	    "value=\"list\">Unsubscribe from ");
	sb_esc(&b, list);
	sb_add(&b, "</button></p>\n<p><button class=\"alt\" type=\"submit\" "
	    "name=\"action\" value=\"all\">Unsubscribe from everything"
	    "</button></p>\n</form>\n<p>Nothing changes until you press a "
	    "button.</p>\n<p><a href=\"/p/");
	sb_esc(&b, token);
	sb_add(&b, "\">See and change all your subscriptions</a></p>\n");
	page_end(p, &b);
	return sb_finish(&b, len_r);
}

char *
unsubd_page_done(const struct unsubd_pages *p, const char *token,
    const char *list, enum unsubd_done what, size_t *len_r)
{
	struct sbuf b = { 0 };

	page_begin(&b, "You are unsubscribed");
	if (what == UNSUBD_DONE_ALL) {
		sb_add(&b, "<p>You will receive no more list mail");
		if (p->organization != NULL) {
			sb_add(&b, " from ");
			sb_esc(&b, p->organization);
		}
		sb_add(&b, ". Messages you asked for, such as receipts, "
		    "still reach you.</p>\n");
	} else {
		sb_add(&b, "<p>You will receive no more mail from the list "
		    "<strong>");
		sb_esc(&b, list);
		sb_add(&b, "</strong>.</p>\n");
	}
	sb_add(&b, "<p><a href=\"/p/");
	sb_esc(&b, token);
	sb_add(&b, "\">See and change all your subscriptions</a></p>\n");
	page_end(p, &b);
	return sb_finish(&b, len_r);
}

/* state_text - what a subscription state means, in words for people */
static const char *
state_text(enum sub_status s)
{
	switch (s) {
	case SUB_OPTED_IN:
		return "Subscribed";
	case SUB_PENDING:
		return "Waiting for your confirmation";
	case SUB_OPTED_OUT:
		return "Unsubscribed";
	default:
		return "Not subscribed";
	}
}

/* prefs_button - one form posting list and action to /p/TOKEN */
static void
prefs_button(struct sbuf *b, const char *token, const char *csrf,
    const char *list, const char *label, const char *action,
    const char *verb)
{
	form_begin(b, "p", token, csrf);
	sb_add(b, "<input type=\"hidden\" name=\"list\" value=\"");
	sb_esc(b, list);
	sb_add(b, "\"><button type=\"submit\" name=\"action\" value=\"");
	sb_add(b, action);
	sb_add(b, "\">");
	sb_add(b, verb);
	sb_esc(b, label);
	sb_add(b, "</button></form>\n");
}

char *
unsubd_page_prefs(const struct unsubd_pages *p, const char *token,
    const char *csrf, const struct unsubd_page_sub *subs, size_t nsubs,
    bool suppressed, const char *notice, size_t *len_r)
{
	struct sbuf b = { 0 };
	const char *label;
	size_t i;

	page_begin(&b, "Your subscriptions");
	if (notice != NULL) {
		sb_add(&b, "<p class=\"note\" role=\"status\">");
		sb_esc(&b, notice);
		sb_add(&b, "</p>\n");
	}
	if (suppressed)
		sb_add(&b, "<p class=\"note\">You have unsubscribed from "
		    "everything: no list mail is sent to you, whatever the "
		    "states below say. This page cannot undo that.</p>\n");
	if (nsubs == 0)
		sb_add(&b, "<p>You are on no mailing list.</p>\n");
	else
		sb_add(&b, "<ul>\n");
	for (i = 0; i < nsubs; i++) {
		label = list_label(subs[i].list, subs[i].name);
		sb_add(&b, "<li><span class=\"list\">");
		sb_esc(&b, label);
		sb_add(&b, "</span><span class=\"state\">");
		sb_add(&b, state_text(subs[i].status));
		sb_add(&b, "</span>\n");
		switch (subs[i].status) {
		case SUB_OPTED_IN:
		case SUB_PENDING:
			prefs_button(&b, token, csrf, subs[i].list, label,
			    "opt_out", "Unsubscribe from ");
			break;
		case SUB_OPTED_OUT:
			if (subs[i].can_opt_in && !suppressed) {
				prefs_button(&b, token, csrf, subs[i].list,
				    label, "opt_in", "Subscribe again to ");
				if (subs[i].double_opt_in)
					sb_add(&b, "<p>This list sends mail "
					    "only after a confirmation.</p>\n");
			} else
				sb_add(&b, "<p>Subscribing again is not "
				    "available here.</p>\n");
			break;
		default:
			break;
		}
		sb_add(&b, "</li>\n");
	}
	if (nsubs != 0)
		sb_add(&b, "</ul>\n");
	page_end(p, &b);
	return sb_finish(&b, len_r);
}

char *
unsubd_page_expired(const struct unsubd_pages *p, const char *token,
    size_t *len_r)
{
	struct sbuf b = { 0 };
	const char *pct;

	page_begin(&b, "This link has expired");
	sb_add(&b, "<p>For your protection, unsubscribe links stop working "
	    "after a while. Nothing was changed.</p>\n");
	if (p->mailto != NULL && (pct = strstr(p->mailto, "%t")) != NULL) {
		/* DESIGN: expired tokens lead to a page that asks the person
		 * to confirm by mail; the mail proves the mailbox. */
		struct sbuf addr = { 0 };

		sb_addn(&addr, p->mailto, (size_t)(pct - p->mailto));
		sb_add(&addr, token);
		sb_add(&addr, pct + 2);
		if (addr.failed) {
			free(addr.p);
			free(b.p);
			return NULL;
		}
		sb_add(&b, "<p>To unsubscribe, please confirm by mail: send "
		    "a message from the address that receives our mail to "
		    "<a href=\"mailto:");
		sb_esc(&b, addr.p);
		sb_add(&b, "?subject=unsubscribe\">");
		sb_esc(&b, addr.p);
		sb_add(&b, "</a>. The subject and text do not matter.</p>\n");
		free(addr.p);
	} else {
		sb_add(&b, "<p>To unsubscribe, please use the link in a "
		    "recent message from us.</p>\n");
	}
	page_end(p, &b);
	return sb_finish(&b, len_r);
}

char *
unsubd_page_error(const struct unsubd_pages *p, int status, size_t *len_r)
{
	struct sbuf b = { 0 };
	const char *title, *text;

	switch (status) {
	case 400:
		title = "This link does not work";
		text = "The address of this page is not valid. Please use "
		    "the link in a recent message from us, copied in full.";
		break;
	case 403:
		title = "Not available";
		text = "This change cannot be made here. Nothing was changed. "
		    "If you pressed a button on one of our pages, please open "
		    "the page again from the link in our message and press it "
		    "once more.";
		break;
	case 404:
		title = "Page not found";
		text = "There is no page at this address.";
		break;
	case 405:
		title = "Not allowed";
		text = "This page cannot be used that way.";
		break;
	case 413:
		title = "Request too large";
		text = "The request sent to this page was too large.";
		break;
	case 503:
		title = "Please try again later";
		text = "We cannot record changes at the moment. Nothing was "
		    "changed; please try again in a few minutes.";
		break;
	default:
		title = "Something went wrong";
		text = "Nothing was changed. Please try again later.";
		break;
	}
	page_begin(&b, title);
	sb_add(&b, "<p>");
	sb_add(&b, text);
	sb_add(&b, "</p>\n");
	page_end(p, &b);
	return sb_finish(&b, len_r);
}
