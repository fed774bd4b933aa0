/*
 * marker.c - the internal markers of optin-milter's own copies (mark.h):
 * X-Optin-Split on the copies a split re-submits, X-Optin-Release on a copy
 * an admin released from quarantine.  Making the split marker at end of
 * message, and checking either when such a copy comes back through the
 * milter.  Thread use: per connection, as eom.c.
 */
#include "autoconf.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "campaign.h"
#include "log.h"
#include "mark.h"
#include "marker.h"
#include "session.h"

#define WHY 512

/* msg_mark - the fields of a marker (mark.h) this message gives, for its
 * recipient rcpt */
static void
msg_mark(const struct msg *m, const char *rcpt, struct mark_msg *mm)
{
	memset(mm, 0, sizeof(*mm));
	/* a split copy's personal bounce address comes back as sender_path
	 * (session.h): the address the marker was made for */
	mm->sender = m->sender != NULL ? m->sender : m->sender_path;
	mm->rcpt = rcpt;
	/* a split copy carries the Message-ID the milter added (msgsafe) */
	mm->message_id = msg_header(m, "Message-ID");
	if (mm->message_id == NULL)
		mm->message_id = m->added_msgid;
	mm->body = m->body.data;
	mm->bodylen = m->body.len;
}

/* marker_split - the marker header line for a copy to rcpt sent from
 * sender: bound to this message, that recipient and a short lifetime */
char *
marker_split(struct conn *c, const char *rcpt, const char *sender)
{
	struct msg *m = &c->msg;
	char value[MARK_VALUE_MAX], why[WHY];
	char line[MARK_VALUE_MAX + 40 + 1000];
	struct mark_msg mm;
	int n;

	msg_mark(m, rcpt, &mm);
	mm.sender = sender;
	snprintf(mm.qid, sizeof(mm.qid), "%s", m->qid);
	snprintf(mm.list, sizeof(mm.list), "%s", m->list);
	mm.issued = (long long)time(NULL);
	mm.expires = mm.issued + MARK_SPLIT_LIFETIME;
	if (mark_msg_make(c->rt->ring, MARK_SPLIT, &mm, value, sizeof(value),
	    why, sizeof(why)) < 0) {
		log_warnx("%s: split marker: %s", m->qid, why);
		return NULL;
	}
	/* the Message-ID and Date the kept copy got go out with every copy */
	n = snprintf(line, sizeof(line), "%s%s: %s\r\n",
	    m->added_hdrs != NULL ? m->added_hdrs : "", CAMPAIGN_SPLIT_HEADER,
	    value);
	if (n < 0 || (size_t)n >= sizeof(line))
		return NULL;
	return arena_strdup(&m->arena, line);
}

/*
 * marker_check - verify the marker header name of purpose p, if present,
 * against this message (its only recipient) and the clock; fills *mm.
 * A marker present but not valid here is logged and ignored: the message
 * is then checked like any other.
 */
static bool
marker_check(struct conn *c, const char *name, enum mark_purpose p,
    struct mark_msg *mm)
{
	struct msg *m = &c->msg;
	const char *v = msg_header(m, name);
	enum mark_status ms = MARK_BAD;

	if (v == NULL)
		return false;
	if (m->nrcpt == 1 && m->rcpt[0].addr != NULL) {
		msg_mark(m, m->rcpt[0].addr, mm);
		ms = mark_msg_verify(c->rt->ring, p, v, mm,
		    (long long)time(NULL));
		/* a release holds for the list it was quarantined from */
		if (ms == MARK_OK && p == MARK_RELEASE &&
		    strcmp(mm->list, m->list) != 0)
			ms = MARK_BAD;
	}
	if (ms == MARK_OK)
		return true;
	log_warnx("%s: %s header not valid here (%s): ignored", m->qid, name,
	    m->nrcpt != 1 ? "not one recipient" : mark_status_str(ms));
	return false;
}

/* marker_split_ok - does the message carry a valid split marker for its only
 * recipient?  Sets the list from it. */
bool
marker_split_ok(struct conn *c)
{
	struct mark_msg mm;

	if (!marker_check(c, CAMPAIGN_SPLIT_HEADER, MARK_SPLIT, &mm))
		return false;
	memcpy(c->msg.list, mm.list, sizeof(mm.list));
	/* the copy's own queue ID beside the original's (issue 13 item 6):
	 * sendmail(1) does not print it, so it is logged when the copy comes
	 * back through the milter */
	log_info("%s: split copy of %s", c->msg.qid, mm.qid);
	return true;
}

/* marker_release_ok - does the message carry a valid release marker for its only
 * recipient, list and content? */
bool
marker_release_ok(struct conn *c)
{
	struct mark_msg mm;

	if (!marker_check(c, CAMPAIGN_RELEASE_HEADER, MARK_RELEASE, &mm))
		return false;
	log_debug("%s: release of quarantine row %lld (queue id %s)",
	    c->msg.qid, mm.qrow, mm.qid);
	return true;
}

