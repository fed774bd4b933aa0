/*
 * msgsafe.h - what goes out is what came in (DESIGN "Message flow" item 5).
 *
 * The form of the header values handed to the MTA (SMFIP_HDR_LEADSPC,
 * mlfi.c).  Everything allocated comes from the msg arena.  Runs in the
 * connection's thread.
 */
#ifndef OPTIN_MSGSAFE_H
#define OPTIN_MSGSAFE_H

struct edits;
struct msg;

/*
 * Shape the values in e (headers to add, signatures to insert) for the MTA:
 * with SMFIP_HDR_LEADSPC negotiated the MTA writes "Name:" and the value as
 * given, so each value gets the single space in front that "Name: value"
 * has.  Call last, after signing (relaxed canonicalisation does not see
 * the difference).  Returns 0, or -1 when out of memory.
 */
int msgsafe_edit_values(struct msg *m, struct edits *e);

#endif
