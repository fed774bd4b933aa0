/*
 * resubmit.h - hand a message back to the MTA through SendmailCommand
 * (default "/usr/sbin/sendmail -i"): used by MultiRecipientCampaign split
 * and by "optinctl quarantine release".
 */
#ifndef OPTIN_RESUBMIT_H
#define OPTIN_RESUBMIT_H

#include <stddef.h>
#include <sys/uio.h>

#define RESUBMIT_TIMEOUT 60	/* seconds before the command is killed */

/*
 * Run command (split on white space, no shell) with "-f sender -- rcpt"
 * appended (sender "" for the null sender), give it iov[0..iovcnt-1] as its
 * standard input, and wait for it.  The message is copied whole into an
 * anonymous memory file (memfd_create) before the command starts, so a
 * caller that dies midway never hands over a message cut short.  Returns 0
 * when it exited 0, -1 with why[] (no memory file, could not start, killed
 * after RESUBMIT_TIMEOUT, exit status).  Thread-safe (posix_spawn).
 */
int resubmit_message(const char *command, const char *sender,
	    const char *rcpt, const struct iovec *iov, int iovcnt, char *why,
	    size_t whylen);

#endif
