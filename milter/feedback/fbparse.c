/*
 * fbparse.c - bounce and complaint reports parsed with GMime 3 (fbparse.h).
 *
 * Every MIME structure goes through GMime: the message, its parts, their
 * transfer encodings, and the field blocks of message/delivery-status and
 * message/feedback-report (each block is handed to GMime's header parser
 * as a message of headers only, so folding and encoded words are its
 * job).  Only the block boundaries (blank lines, RFC 3464 section 2.1) are
 * found here.  Sizes are bounded: a part's decoded text is read up to
 * PART_MAX octets, the walk goes at most DEPTH_MAX levels down.
 */
#include "autoconf.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <gmime/gmime.h>

#include "fbparse.h"

#define PART_MAX	(256 * 1024)	/* decoded text read from one part */
#define DEPTH_MAX	4

void
fbparse_init(void)
{
	static bool done;

	if (!done) {
		g_mime_init();
		done = true;
	}
}

const char *
fbparse_type_str(enum fb_type t)
{
	switch (t) {
	case FB_DSN: return "dsn";
	case FB_ARF: return "arf";
	case FB_AUTO_REPLY: return "auto_reply";
	default: return "unusable";
	}
}

/* put - copy s into out (outlen bytes): trimmed, runs of white space
 * (unfolded lines) as one space, other control characters as '?', cut to
 * fit */
static void
put(char *out, size_t outlen, const char *s)
{
	size_t n = 0;

	if (s == NULL)
		s = "";
	for (; *s != '\0' && n + 1 < outlen; s++) {
		if (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n') {
			if (n > 0 && out[n - 1] != ' ')
				out[n++] = ' ';
			continue;
		}
		out[n++] = (unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s;
	}
	while (n > 0 && out[n - 1] == ' ')
		n--;
	out[n] = '\0';
}

/* part_text - the decoded content of leaf part obj as a NUL-terminated
 * GByteArray (at most PART_MAX octets); NULL when it has none.  The
 * caller frees it with g_byte_array_free(a, TRUE). */
static GByteArray *
part_text(GMimeObject *obj)
{
	GMimeDataWrapper *w;
	GMimeStream *mem;
	GByteArray *a, *copy;
	guint n;

	if (!GMIME_IS_PART(obj) ||
	    (w = g_mime_part_get_content(GMIME_PART(obj))) == NULL)
		return NULL;
	mem = g_mime_stream_mem_new();
	(void)g_mime_data_wrapper_write_to_stream(w, mem);
	a = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
	n = a->len < PART_MAX ? a->len : PART_MAX;
	copy = g_byte_array_sized_new(n + 1);
	g_byte_array_append(copy, a->data, n);
	g_byte_array_append(copy, (const guint8 *)"", 1);
	g_object_unref(mem);
	return copy;
}

/* headers_of - parse text (len octets) as a header block with GMime; the
 * returned message (unref it) holds the fields, NULL when none parse */
static GMimeMessage *
headers_of(const char *text, size_t len)
{
	GMimeStream *mem;
	GMimeParser *p;
	GMimeMessage *m;

	mem = g_mime_stream_mem_new();
	(void)g_mime_stream_write(mem, text, len);
	(void)g_mime_stream_write_string(mem, "\r\n\r\n");
	(void)g_mime_stream_seek(mem, 0, GMIME_STREAM_SEEK_SET);
	p = g_mime_parser_new_with_stream(mem);
	m = g_mime_parser_construct_message(p, NULL);
	g_object_unref(p);
	g_object_unref(mem);
	return m;
}

/* hdr - field name of obj, or NULL */
static const char *
hdr(GMimeObject *obj, const char *name)
{
	return g_mime_object_get_header(obj, name);
}

/* next_block - the next block of fields of a report part, from *pos; its
 * start and length; false at the end.  RFC 3464 section 2.1: blocks are
 * separated by blank lines. */
static bool
next_block(const char *text, size_t *pos, const char **b_r, size_t *len_r)
{
	size_t i = *pos, start;

	/* skip blank lines */
	for (;;) {
		size_t j = i;

		while (text[j] == ' ' || text[j] == '\t' || text[j] == '\r')
			j++;
		if (text[j] == '\n') {
			i = j + 1;
			continue;
		}
		if (text[j] == '\0')
			return false;
		break;
	}
	start = i;
	for (;;) {
		const char *nl = strchr(text + i, '\n');
		size_t j;

		if (nl == NULL) {
			i += strlen(text + i);
			break;
		}
		i = (size_t)(nl - text) + 1;
		for (j = i; text[j] == '\r' || text[j] == ' ' ||
		    text[j] == '\t'; j++)
			;
		if (text[j] == '\n' || text[j] == '\0')
			break;
	}
	*b_r = text + start;
	*len_r = i - start;
	*pos = i;
	return true;
}

/* type_value - "rfc822; x@y" -> "x@y" (the part after the type) */
static const char *
type_value(const char *v)
{
	const char *semi;

	if (v == NULL)
		return NULL;
	semi = strchr(v, ';');
	return semi != NULL ? semi + 1 : v;
}

/* status_ok - is s an RFC 3463 code "c.s.d" with class 2, 4 or 5? */
static bool
status_ok(const char *s)
{
	size_t n;

	if (s[0] != '2' && s[0] != '4' && s[0] != '5')
		return false;
	if (s[1] != '.')
		return false;
	s += 2;
	for (n = 0; isdigit((unsigned char)*s) && n < 3; s++, n++)
		;
	if (n == 0 || *s != '.')
		return false;
	s++;
	for (n = 0; isdigit((unsigned char)*s) && n < 3; s++, n++)
		;
	return n > 0 && (*s == '\0' || *s == ' ' || *s == '(');
}

/* read_dsn - the fields of a message/delivery-status part */
static void
read_dsn(GMimeObject *part, struct fb_report *r)
{
	GByteArray *a;
	GMimeMessage *m;
	const char *b, *v;
	size_t pos = 0, len;
	bool first = true, have_rcpt = false;

	if ((a = part_text(part)) == NULL)
		return;
	while (next_block((const char *)a->data, &pos, &b, &len)) {
		if ((m = headers_of(b, len)) == NULL)
			continue;
		if (first) {	/* per-message fields */
			put(r->reporting_mta, sizeof(r->reporting_mta),
			    hdr(GMIME_OBJECT(m), "Reporting-MTA"));
			put(r->arrival, sizeof(r->arrival),
			    hdr(GMIME_OBJECT(m), "Arrival-Date"));
			first = false;
			g_object_unref(m);
			continue;
		}
		v = hdr(GMIME_OBJECT(m), "Action");
		/* RFC 3464 2.3.3: a copy of ours has one recipient, so
		 * blocks for several mean the receiver expanded it (alias,
		 * forward); one that arrived means the person's mail does */
		if (v != NULL && (strncasecmp(v, "delivered", 9) == 0 ||
		    strncasecmp(v, "relayed", 7) == 0 ||
		    strncasecmp(v, "expanded", 8) == 0))
			r->delivered_too = true;
		/* the first failed recipient wins; else the first one */
		if (!have_rcpt || (v != NULL && strcasecmp(r->action, "failed")
		    != 0 && strncasecmp(v, "failed", 6) == 0)) {
			have_rcpt = true;
			put(r->action, sizeof(r->action), v);
			put(r->status, sizeof(r->status),
			    hdr(GMIME_OBJECT(m), "Status"));
			if (!status_ok(r->status))
				r->status[0] = '\0';
			else
				r->status[strcspn(r->status, " (")] = '\0';
			put(r->final_rcpt, sizeof(r->final_rcpt), type_value(
			    hdr(GMIME_OBJECT(m), "Final-Recipient")));
			put(r->remote_mta, sizeof(r->remote_mta),
			    hdr(GMIME_OBJECT(m), "Remote-MTA"));
			put(r->diagnostic, sizeof(r->diagnostic),
			    hdr(GMIME_OBJECT(m), "Diagnostic-Code"));
		}
		g_object_unref(m);
	}
	g_byte_array_free(a, TRUE);
}

/* add_cand - a token carrier of the reported copy */
static void
add_cand(struct fb_report *r, enum fb_cand_where where, const char *v)
{
	if (v == NULL || *v == '\0' || r->ncand >= FB_NCAND)
		return;
	r->cand[r->ncand].where = where;
	put(r->cand[r->ncand].text, sizeof(r->cand[0].text), v);
	r->ncand++;
}

/* read_copy_headers - token carriers of the reported copy's header: the
 * first Return-Path and List-Unsubscribe, and every Feedback-ID, last first
 * (the milter appends its own at the end; ones added above it, by a later
 * hop or forged, must not hide it; up to FB_NCAND carriers in all) */
static void
read_copy_headers(GMimeObject *copy, struct fb_report *r)
{
	GMimeHeaderList *hl = g_mime_object_get_header_list(copy);
	GMimeHeader *h;
	int i, n;

	add_cand(r, FB_CAND_RETURN_PATH, hdr(copy, "Return-Path"));
	add_cand(r, FB_CAND_LIST_UNSUB, hdr(copy, "List-Unsubscribe"));
	n = hl != NULL ? g_mime_header_list_get_count(hl) : 0;
	for (i = n - 1; i >= 0; i--) {
		h = g_mime_header_list_get_header_at(hl, i);
		if (h != NULL && g_ascii_strcasecmp(g_mime_header_get_name(h),
		    "Feedback-ID") == 0)
			add_cand(r, FB_CAND_FEEDBACK_ID,
			    g_mime_header_get_value(h));
	}
}

/* read_arf - the fields of a message/feedback-report part */
static void
read_arf(GMimeObject *part, struct fb_report *r)
{
	GByteArray *a;
	GMimeMessage *m;
	const char *b;
	size_t pos = 0, len;

	if ((a = part_text(part)) == NULL)
		return;
	if (next_block((const char *)a->data, &pos, &b, &len) &&
	    (m = headers_of(b, len)) != NULL) {
		put(r->feedback_type, sizeof(r->feedback_type),
		    hdr(GMIME_OBJECT(m), "Feedback-Type"));
		put(r->orig_rcpt, sizeof(r->orig_rcpt),
		    hdr(GMIME_OBJECT(m), "Original-Rcpt-To"));
		put(r->reporting_mta, sizeof(r->reporting_mta),
		    hdr(GMIME_OBJECT(m), "Reporting-MTA"));
		put(r->arrival, sizeof(r->arrival),
		    hdr(GMIME_OBJECT(m), "Arrival-Date"));
		add_cand(r, FB_CAND_MAIL_FROM,
		    hdr(GMIME_OBJECT(m), "Original-Mail-From"));
		g_object_unref(m);
	}
	g_byte_array_free(a, TRUE);
}

/* read_copy - the reported copy: message/rfc822 or text/rfc822-headers */
static void
read_copy(GMimeObject *part, struct fb_report *r)
{
	GMimeMessage *m;
	GByteArray *a;

	if (GMIME_IS_MESSAGE_PART(part)) {
		m = g_mime_message_part_get_message(GMIME_MESSAGE_PART(part));
		if (m != NULL)
			read_copy_headers(GMIME_OBJECT(m), r);
		return;
	}
	if ((a = part_text(part)) == NULL)
		return;
	if ((m = headers_of((const char *)a->data, a->len - 1)) != NULL) {
		read_copy_headers(GMIME_OBJECT(m), r);
		g_object_unref(m);
	}
	g_byte_array_free(a, TRUE);
}

/* after_data - does the human-readable part say the refusal came after
 * DATA (Postfix: "in reply to end of DATA command")? */
static bool
after_data(GMimeObject *part)
{
	GByteArray *a;
	bool yes;

	if ((a = part_text(part)) == NULL)
		return false;
	yes = strcasestr((const char *)a->data, "end of DATA command") !=
	    NULL || strcasestr((const char *)a->data, "after end of data") !=
	    NULL;
	g_byte_array_free(a, TRUE);
	return yes;
}

/* read_report - the parts of a multipart/report */
static void
read_report(GMimeMultipart *mp, struct fb_report *r)
{
	const char *rt;
	int i, n;

	rt = g_mime_object_get_content_type_parameter(GMIME_OBJECT(mp),
	    "report-type");
	n = g_mime_multipart_get_count(mp);
	for (i = 0; i < n; i++) {
		GMimeObject *p = g_mime_multipart_get_part(mp, i);
		GMimeContentType *ct = g_mime_object_get_content_type(p);

		if (g_mime_content_type_is_type(ct, "message",
		    "delivery-status") || g_mime_content_type_is_type(ct,
		    "message", "global-delivery-status")) {
			r->type = FB_DSN;
			read_dsn(p, r);
		} else if (g_mime_content_type_is_type(ct, "message",
		    "feedback-report")) {
			r->type = FB_ARF;
			read_arf(p, r);
		} else if (g_mime_content_type_is_type(ct, "message",
		    "rfc822") || g_mime_content_type_is_type(ct, "text",
		    "rfc822-headers") || g_mime_content_type_is_type(ct,
		    "message", "global")) {
			if (rt == NULL || strcasecmp(rt, "delivery-status")
			    != 0)
				read_copy(p, r);
		} else if (i == 0 && g_mime_content_type_is_type(ct, "text",
		    "*"))
			r->after_data = after_data(p);
	}
	if (r->type == FB_DSN && r->action[0] == '\0')
		snprintf(r->why, sizeof(r->why), "delivery-status without a "
		    "per-recipient block");
	if (r->type == FB_UNUSABLE)
		snprintf(r->why, sizeof(r->why), "multipart/report without a "
		    "delivery-status or feedback-report part");
}

/* find_report - the first multipart/report at most DEPTH_MAX down */
static GMimeMultipart *
find_report(GMimeObject *obj, int depth)
{
	GMimeMultipart *found;
	int i, n;

	if (obj == NULL || depth > DEPTH_MAX)
		return NULL;
	if (GMIME_IS_MESSAGE_PART(obj)) {
		GMimeMessage *m = g_mime_message_part_get_message(
		    GMIME_MESSAGE_PART(obj));

		return m == NULL ? NULL : find_report(
		    g_mime_message_get_mime_part(m), depth + 1);
	}
	if (!GMIME_IS_MULTIPART(obj))
		return NULL;
	if (g_mime_content_type_is_type(g_mime_object_get_content_type(obj),
	    "multipart", "report"))
		return GMIME_MULTIPART(obj);
	n = g_mime_multipart_get_count(GMIME_MULTIPART(obj));
	for (i = 0; i < n; i++) {
		found = find_report(g_mime_multipart_get_part(
		    GMIME_MULTIPART(obj), i), depth + 1);
		if (found != NULL)
			return found;
	}
	return NULL;
}

/* auto_reply - RFC 3834 and the common vacation shapes */
static bool
auto_reply(GMimeObject *top, const char *subject)
{
	static const char *const subj[] = { "out of office", "auto:",
	    "automatic reply", "autoreply", "auto-reply", "abwesenheit",
	    "vacation", "absence", NULL };
	const char *v;
	size_t i;

	if ((v = hdr(top, "Auto-Submitted")) != NULL &&
	    strncasecmp(v + strspn(v, " \t"), "no", 2) != 0)
		return true;
	if (hdr(top, "X-Autoreply") != NULL || hdr(top, "X-Autorespond") !=
	    NULL || hdr(top, "X-Autoresponse") != NULL)
		return true;
	if ((v = hdr(top, "Precedence")) != NULL &&
	    strcasestr(v, "auto_reply") != NULL)
		return true;
	for (i = 0; subj[i] != NULL; i++)
		if (strncasecmp(subject, subj[i], strlen(subj[i])) == 0)
			return true;
	return false;
}

void
fbparse_report(const char *buf, size_t len, struct fb_report *r)
{
	GMimeStream *mem;
	GMimeParser *p;
	GMimeMessage *m;
	GMimeMultipart *rep;

	memset(r, 0, sizeof(*r));
	fbparse_init();
	mem = g_mime_stream_mem_new_with_buffer(buf, len);
	p = g_mime_parser_new_with_stream(mem);
	m = g_mime_parser_construct_message(p, NULL);
	g_object_unref(p);
	g_object_unref(mem);
	if (m == NULL) {
		snprintf(r->why, sizeof(r->why), "not a MIME message");
		return;
	}
	put(r->subject, sizeof(r->subject), g_mime_message_get_subject(m));
	rep = find_report(g_mime_message_get_mime_part(m), 0);
	if (rep != NULL)
		read_report(rep, r);
	else if (auto_reply(GMIME_OBJECT(m), r->subject))
		r->type = FB_AUTO_REPLY;
	else
		snprintf(r->why, sizeof(r->why), "neither a report "
		    "(multipart/report) nor an auto-reply");
	/* a DSN is itself auto-submitted (RFC 3834): reports go first */
	g_object_unref(m);
}
