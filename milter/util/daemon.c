/*
 * daemon.c - background start with a ready signal, and removal of the
 * files a daemon made only while they are still its own (daemon.h).
 *
 * The ready signal is one byte on a pipe from child to parent; the write
 * end is close-on-exec, so a helper program the child starts does not keep
 * the parent waiting.  Single process, before threads: the pipe's fd is a
 * plain static.
 */
#include "autoconf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"

static int ready_fd = -1;		/* write end, child only */

/* parent_wait - the parent's side: exit 0 on the ready byte, else with the
 * child's status */
static void
parent_wait(pid_t pid, int rfd)
{
	ssize_t n;
	char c;
	int status;

	do
		n = read(rfd, &c, 1);
	while (n < 0 && errno == EINTR);
	if (n == 1)
		_exit(0);
	/* EOF: the child is gone before it was ready */
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			_exit(EX_SOFTWARE);
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
		_exit(WEXITSTATUS(status));
	_exit(EX_SOFTWARE);
}

int
daemon_start(char *why, size_t whylen)
{
	int p[2], fd;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0) {
		snprintf(why, whylen, "pipe: %s", strerror(errno));
		return -1;
	}
	(void)fflush(NULL);
	if ((pid = fork()) < 0) {
		snprintf(why, whylen, "fork: %s", strerror(errno));
		(void)close(p[0]);
		(void)close(p[1]);
		return -1;
	}
	if (pid > 0) {
		(void)close(p[1]);
		parent_wait(pid, p[0]);		/* does not return */
	}
	(void)close(p[0]);
	ready_fd = p[1];
	(void)setsid();
	if (chdir("/") < 0)
		(void)0;		/* "/" is always there */
	if ((fd = open("/dev/null", O_RDWR)) >= 0) {
		(void)dup2(fd, STDIN_FILENO);
		(void)dup2(fd, STDOUT_FILENO);
		if (fd > STDERR_FILENO)
			(void)close(fd);
	}
	return 0;
}

void
daemon_ready(void)
{
	int fd;

	if (ready_fd < 0)
		return;
	if ((fd = open("/dev/null", O_RDWR)) >= 0) {
		(void)dup2(fd, STDERR_FILENO);
		if (fd > STDERR_FILENO)
			(void)close(fd);
	}
	while (write(ready_fd, "r", 1) < 0 && errno == EINTR)
		;
	(void)close(ready_fd);
	ready_fd = -1;
}

int
daemon_file_note(struct daemon_file *f, const char *path)
{
	struct stat sb;

	f->path[0] = '\0';
	if (lstat(path, &sb) < 0)
		return -1;
	snprintf(f->path, sizeof(f->path), "%s", path);
	f->dev = sb.st_dev;
	f->ino = sb.st_ino;
	return 0;
}

bool
daemon_file_remove(const struct daemon_file *f)
{
	struct stat sb;

	/* XXX a successor renaming its file into place between lstat and
	 * unlink loses it; the window is two system calls wide */
	if (f->path[0] == '\0' || lstat(f->path, &sb) < 0 ||
	    sb.st_dev != f->dev || sb.st_ino != f->ino)
		return false;
	return unlink(f->path) == 0;
}

bool
daemon_pidfile_remove(const char *path)
{
	char buf[32];
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	(void)close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	if (strtol(buf, NULL, 10) != (long)getpid())
		return false;
	return unlink(path) == 0;
}

void
daemon_root_warning(const char *user_id)
{
	if (geteuid() == 0 && (user_id == NULL || user_id[0] == '\0'))
		log_warnx("running as root: set UserID to an unprivileged "
		    "user, so that a fault while handling input from the "
		    "network is not a fault as root");
}
