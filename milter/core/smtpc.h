/*
 * smtpc.h - a small SMTP client for one long-lived re-injection channel
 * (ResubmitAddress): the split copies of one message go to the MTA over
 * ONE connection, EHLO once, one MAIL/RCPT/DATA transaction per copy
 * (RFC 5321 3.3), RSET after a refused one, QUIT at the end.
 *
 * Why not libcurl's SMTP: it has no way to give MAIL FROM the BODY=8BITMIME
 * parameter (RFC 6152) that a copy with 8-bit octets needs, it changes the
 * data it uploads (bare LF to CRLF with CURLOPT_CRLF, its own end-of-data
 * handling) where a copy must keep its exact bytes, and a refused RCPT
 * gives no reply text per transaction that the log could name.  What is
 * needed is small: one connection, replies with their text, dot-stuffing
 * on the wire only (RFC 5321 4.5.2).
 *
 * A copy counts as handed over only on the 2xx reply after the final dot:
 * SMTP's all-or-nothing.  Everything before that dot is sent leaves
 * nothing behind at the server when the connection is lost (SMTPC_LOST);
 * a loss after it is ambiguous (SMTPC_UNKNOWN): the caller must not send
 * that copy again.
 *
 * Every wait is bounded by the timeout given to smtpc_open (per command
 * reply, and per copy for the data).  One handle per thread; not shared.
 */
#ifndef OPTIN_SMTPC_H
#define OPTIN_SMTPC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/uio.h>

#include "buf.h"

struct smtpc;				/* opaque */

/* What became of one copy (smtpc_send). */
enum smtpc_status {
	SMTPC_OK = 0,		/* 2xx after the final dot: handed over */
	SMTPC_REFUSED,		/* a 4xx/5xx reply (MAIL, RCPT, DATA or the
				   dot): not taken; the channel is still up */
	SMTPC_LOST,		/* connection lost or timed out before the
				   final dot was written: not taken; the
				   handle is closed, reconnect to go on */
	SMTPC_UNKNOWN		/* lost or timed out after the final dot:
				   maybe taken; never send it again */
};

/*
 * Check spec, "inet:PORT@ADDR" (numeric IPv4), "inet6:PORT@ADDR" (numeric
 * IPv6) or "unix:/path" (also "local:/path"), as OpenDKIM's Socket.  0, or
 * -1 with why[] naming what is wrong.
 */
int smtpc_addr_check(const char *spec, char *why, size_t whylen);

/*
 * Connect to spec, read the greeting and say EHLO helo.  Every reply is
 * awaited at most timeout_s seconds.  Returns an owned handle, or NULL with
 * why[] (address, connection refused, greeting or EHLO refused: the text
 * of the reply, made printable).
 */
struct smtpc *smtpc_open(const char *spec, const char *helo, int timeout_s,
	    char *why, size_t whylen);

/*
 * One transaction: MAIL FROM:<sender> (sender "" or NULL: the null sender
 * <>; with BODY=8BITMIME when a byte of the message is 8-bit and SMTPUTF8
 * when the sender or rcpt is), RCPT TO:<rcpt>, DATA, then the bytes of
 * iov[0..iovcnt-1] (lines ending in CRLF) dot-stuffed, with a CRLF added
 * when the last line has none, and the final dot.  MAIL, RCPT and DATA go
 * in one write when the server offers PIPELINING (RFC 2920).  After
 * SMTPC_REFUSED an RSET was sent (a failed RSET turns it into a closed
 * handle: the next call returns SMTPC_LOST).  why[] gets the reply text or
 * the error for anything but SMTPC_OK.  An 8-bit message to a server that
 * does not offer 8BITMIME (or a UTF-8 address without SMTPUTF8) is
 * SMTPC_REFUSED without sending anything.
 */
enum smtpc_status smtpc_send(struct smtpc *s, const char *sender,
	    const char *rcpt, const struct iovec *iov, int iovcnt, char *why,
	    size_t whylen);

/* Is the connection still usable (no loss seen)? */
bool smtpc_alive(const struct smtpc *s);

/* The text of the last line of the last reply read (after its code),
 * made printable; "" before any.  Borrowed: valid until the next call on
 * s. */
const char *smtpc_last_reply(const struct smtpc *s);

/* Say QUIT (when still up), close, free; sets *sp to NULL; accepts NULL
 * and *sp == NULL. */
void smtpc_close(struct smtpc **sp);

/*
 * Append data[0..len-1] to out dot-stuffed (RFC 5321 4.5.2: a line that
 * starts with "." gets one more).  *bol says whether data starts at the
 * beginning of a line, and is updated for the next piece (a line begins
 * after LF).  0, or -1 when out of memory.  Exposed for the unit test.
 */
int smtpc_dot_stuff(struct buf *out, const void *data, size_t len,
	    bool *bol);

/*
 * Is there a complete reply at the start of data[0..len-1] (RFC 5321
 * 4.2: "NNN-text" lines ending with one "NNN text" line, each CRLF or LF
 * ended)?  Returns its length in bytes with *code_r set (200-599), 0 when
 * more is needed, -1 when it is malformed (no three-digit code, codes that
 * differ between its lines, or a line over 2048 octets).  Exposed for the
 * unit test.
 */
long smtpc_reply_len(const char *data, size_t len, int *code_r);

#endif
