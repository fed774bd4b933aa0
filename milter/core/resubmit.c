/*
 * resubmit.c - re-inject a message through the MTA's sendmail command
 * (resubmit.h).
 *
 * posix_spawn is used instead of fork so that a libmilter process with many
 * threads does not copy itself.
 *
 * The message is written whole into an anonymous in-memory file before the
 * command starts, and that file is the command's standard input.  With a
 * pipe, a milter killed in the middle of writing closed the pipe, and
 * sendmail(1) took the end of input for the end of the message: a copy cut
 * short (even empty, with only our headers) was queued and delivered.  Now
 * the command sees either the whole message or, when the milter dies
 * before it starts, nothing at all.
 */
#include "autoconf.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "resubmit.h"

extern char **environ;

#define ARGS_MAX 32

/* split_command - words of cmd into argv (cmd is modified) */
static int
split_command(char *cmd, char *argv[ARGS_MAX], int *argc_r)
{
	int argc = 0;
	char *w, *save = NULL;

	for (w = strtok_r(cmd, " \t", &save); w != NULL;
	    w = strtok_r(NULL, " \t", &save)) {
		if (argc >= ARGS_MAX - 5)
			return -1;
		argv[argc++] = w;
	}
	*argc_r = argc;
	return argc > 0 ? 0 : -1;
}

/* wait_child - wait for pid at most RESUBMIT_TIMEOUT seconds */
static int
wait_child(pid_t pid, int *status_r)
{
	struct timespec ts = { 0, 10 * 1000 * 1000 };
	int i;

	for (i = 0; i < RESUBMIT_TIMEOUT * 100; i++) {
		pid_t w = waitpid(pid, status_r, WNOHANG);

		if (w == pid)
			return 0;
		if (w < 0 && errno != EINTR)
			return -1;
		(void)nanosleep(&ts, NULL);
	}
	(void)kill(pid, SIGKILL);
	(void)waitpid(pid, status_r, 0);
	return -1;
}

int
resubmit_message(const char *command, const char *sender, const char *rcpt,
    const struct iovec *iov, int iovcnt, char *why, size_t whylen)
{
	posix_spawn_file_actions_t fa;
	char *argv[ARGS_MAX], *cmd;
	int argc, fd, status = 0, rc = -1;
	pid_t pid;

	if ((cmd = strdup(command)) == NULL || split_command(cmd, argv,
	    &argc) < 0) {
		snprintf(why, whylen, "SendmailCommand: cannot parse '%s'",
		    command);
		free(cmd);
		return -1;
	}
	argv[argc++] = "-f";
	argv[argc++] = (char *)(sender != NULL ? sender : "");
	argv[argc++] = "--";
	argv[argc++] = (char *)rcpt;
	argv[argc] = NULL;
	/* the whole message first: see the comment at the top */
	if ((fd = memfd_create("optin-resubmit", MFD_CLOEXEC)) < 0) {
		snprintf(why, whylen, "memfd_create: %s", strerror(errno));
		free(cmd);
		return -1;
	}
	if (buf_write_iov(fd, iov, iovcnt) < 0 || lseek(fd, 0, SEEK_SET) != 0) {
		snprintf(why, whylen, "message copy: %s", strerror(errno));
		(void)close(fd);
		free(cmd);
		return -1;
	}
	(void)posix_spawn_file_actions_init(&fa);
	(void)posix_spawn_file_actions_adddup2(&fa, fd, 0);
	errno = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
	(void)close(fd);
	if (errno != 0) {
		snprintf(why, whylen, "%s: %s", argv[0], strerror(errno));
		goto out;
	}
	if (wait_child(pid, &status) < 0)
		snprintf(why, whylen, "%s: killed after %d seconds", argv[0],
		    RESUBMIT_TIMEOUT);
	else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		snprintf(why, whylen, "%s: %s %d", argv[0],
		    WIFEXITED(status) ? "exit status" : "killed by signal",
		    WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
	else
		rc = 0;
out:
	posix_spawn_file_actions_destroy(&fa);
	free(cmd);
	return rc;
}
