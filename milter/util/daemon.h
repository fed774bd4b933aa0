/*
 * daemon.h - going into the background so that start-up failures are
 * still seen: the parent stays until the child says it is ready, and exits
 * with the child's status when it dies first (as OpenSMTPD and systemd's
 * Type=forking expect).  Plus the files a daemon leaves behind: a pid
 * file or a unix socket is removed only while it is still ours, so that a
 * daemon stopping a few seconds after its successor started does not take
 * the successor's files with it.
 */
#ifndef OPTIN_DAEMON_H
#define OPTIN_DAEMON_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/*
 * Fork.  The parent waits on a pipe: when the child calls daemon_ready()
 * it exits 0; when the child exits (or dies) first it exits with the
 * child's exit status (70, EX_SOFTWARE, when that was 0 or a signal).
 * Returns 0 in the child, which is then a session leader in "/", with
 * standard input and output on /dev/null; standard error stays open until
 * daemon_ready(), so start-up errors still reach whoever started us.
 * Returns -1 with why[] filled when fork or pipe fail (no child).
 * Call before threads start.
 */
int daemon_start(char *why, size_t whylen);

/* Tell the waiting parent that start-up succeeded and put standard error
 * on /dev/null.  Does nothing without daemon_start(); call once. */
void daemon_ready(void);

/* The file system identity of a file we created (a socket, a pid file). */
struct daemon_file {
	char path[4096];
	dev_t dev;
	ino_t ino;
};

/* Record path's current dev/inode in *f; 0, or -1 (errno) if lstat fails. */
int daemon_file_note(struct daemon_file *f, const char *path);

/* Remove f->path if it is still the file noted (same dev and inode);
 * true if removed.  Accepts a never-noted f (path "": nothing). */
bool daemon_file_remove(const struct daemon_file *f);

/* Remove the pid file path only if it holds our own pid; true if removed.
 * A successor's pid file is left alone. */
bool daemon_pidfile_remove(const char *path);

/* Log a warning when we run as root and user_id (UserID) names nobody to
 * become: every connection would then be handled with root's rights. */
void daemon_root_warning(const char *user_id);

#endif
