/*
 * marker.h - the split and release markers of a message (marker.c; the
 * MACs themselves are mark.h's).
 */
#ifndef OPTIN_MARKER_H
#define OPTIN_MARKER_H

#include <stdbool.h>

struct conn;

/* The header line(s) to put in front of a split copy to rcpt sent from
 * sender: the Message-ID and Date the milter added, if any, and an
 * X-Optin-Split marker bound to this message, that recipient and sender
 * and a short lifetime.  In the msg arena; NULL on failure (logged). */
char *marker_split(struct conn *c, const char *rcpt, const char *sender);

/* Does the message carry a valid split marker for its only recipient?
 * Then the message's list is set from it.  A marker that is present but
 * not valid here is logged and ignored. */
bool marker_split_ok(struct conn *c);

/* Does the message carry a valid release marker for its only recipient,
 * list and content?  Invalid ones are logged and ignored. */
bool marker_release_ok(struct conn *c);

#endif
