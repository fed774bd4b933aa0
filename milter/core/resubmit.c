/*
 * resubmit.c - re-inject a message through the MTA's sendmail command
 * (resubmit.h).
 *
 * posix_spawn is used instead of fork so that a libmilter process with many
 * threads does not copy itself; the pipe is close-on-exec on our side.
 */
#include "autoconf.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
	int argc, pfd[2], status = 0, rc = -1, werr;
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
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		snprintf(why, whylen, "pipe: %s", strerror(errno));
		free(cmd);
		return -1;
	}
	(void)posix_spawn_file_actions_init(&fa);
	(void)posix_spawn_file_actions_adddup2(&fa, pfd[0], 0);
	if ((errno = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ))
	    != 0) {
		snprintf(why, whylen, "%s: %s", argv[0], strerror(errno));
		(void)close(pfd[0]);
		(void)close(pfd[1]);
		goto out;
	}
	(void)close(pfd[0]);
	werr = buf_write_iov(pfd[1], iov, iovcnt) < 0 ? errno : 0;
	(void)close(pfd[1]);
	if (wait_child(pid, &status) < 0)
		snprintf(why, whylen, "%s: killed after %d seconds", argv[0],
		    RESUBMIT_TIMEOUT);
	else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		snprintf(why, whylen, "%s: %s %d", argv[0],
		    WIFEXITED(status) ? "exit status" : "killed by signal",
		    WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
	else if (werr != 0)
		snprintf(why, whylen, "%s: write: %s", argv[0], strerror(werr));
	else
		rc = 0;
out:
	posix_spawn_file_actions_destroy(&fa);
	free(cmd);
	return rc;
}
