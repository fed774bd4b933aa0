/*
 * test_resubmit.c - unit tests for resubmit.c: the command gets the whole
 * message, its arguments (-f sender -- recipient), its exit status and a
 * start failure are reported; and a caller killed while the command has
 * not yet read its input never hands over a message cut short (the chaos
 * run's empty copies: sendmail(1) took the end of a pipe for the end of
 * the message).  The command is a shell script in a mkdtemp() directory.
 */
#include "autoconf.h"

#include "harness.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "resubmit.h"

#define BIG	(4 * 1024 * 1024)	/* far more than a pipe holds */

static char dir[64], script[128], out[128], args[128];

/* slurp - the bytes of path (n in *n_r), or NULL */
static char *
slurp(const char *path, size_t *n_r)
{
	struct stat st;
	char *b;
	int fd;

	if ((fd = open(path, O_RDONLY)) < 0)
		return NULL;
	if (fstat(fd, &st) < 0 || (b = malloc((size_t)st.st_size + 1)) == NULL) {
		close(fd);
		return NULL;
	}
	*n_r = (size_t)read(fd, b, (size_t)st.st_size);
	close(fd);
	return b;
}

/* write_script - the command: sleep SECS, then copy stdin to out, args */
static void
write_script(const char *secs, int status)
{
	FILE *f = fopen(script, "w");

	assert_non_null(f);
	fprintf(f, "#!/bin/sh\nsleep %s\necho \"$*\" > %s\ncat > %s.part && "
	    "mv %s.part %s\nexit %d\n", secs, args, out, out, out, status);
	fclose(f);
	assert_int_equal(chmod(script, 0700), 0);
	unlink(out);
}

/* wait_for - wait up to 20 s until path exists */
static int
wait_for(const char *path)
{
	struct timespec ts = { 0, 50 * 1000 * 1000 };
	int i;

	for (i = 0; i < 400; i++) {
		if (access(path, F_OK) == 0)
			return 0;
		nanosleep(&ts, NULL);
	}
	return -1;
}

static void
t_whole_message(void **state)
{
	struct iovec iov[2];
	char why[256], *got, a[256];
	size_t n;
	FILE *f;

	(void)state;
	write_script("0", 0);
	iov[0].iov_base = "Subject: x\r\n\r\n";
	iov[0].iov_len = 14;
	iov[1].iov_base = "body\r\n";
	iov[1].iov_len = 6;
	assert_int_equal(resubmit_message(script, "b+t@example.com",
	    "ann@example.com", iov, 2, why, sizeof(why)), 0);
	got = slurp(out, &n);
	assert_non_null(got);
	assert_int_equal(n, 20);
	assert_memory_equal(got, "Subject: x\r\n\r\nbody\r\n", 20);
	free(got);
	f = fopen(args, "r");
	assert_non_null(f);
	assert_non_null(fgets(a, sizeof(a), f));
	fclose(f);
	assert_string_equal(a, "-f b+t@example.com -- ann@example.com\n");
}

static void
t_exit_status(void **state)
{
	struct iovec iov = { "x\r\n", 3 };
	char why[256];

	(void)state;
	write_script("0", 75);
	assert_int_equal(resubmit_message(script, "", "ann@example.com", &iov,
	    1, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "exit status 75"));
	assert_int_equal(resubmit_message("/nonexistent/sendmail -i", "",
	    "ann@example.com", &iov, 1, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "/nonexistent/sendmail"));
}

/* the caller dies while the command sleeps before reading: the command
 * still reads the whole message, never a part of it */
static void
t_caller_killed(void **state)
{
	struct timespec ts = { 0, 300 * 1000 * 1000 };
	char *msg, *got;
	size_t n = 0;
	pid_t pid;
	int st;

	(void)state;
	write_script("1", 0);
	msg = malloc(BIG);
	assert_non_null(msg);
	memset(msg, 'a', BIG);
	memcpy(msg + BIG - 2, "\r\n", 2);
	if ((pid = fork()) == 0) {
		struct iovec iov = { msg, BIG };
		char why[256];

		_exit(resubmit_message(script, "", "ann@example.com", &iov, 1,
		    why, sizeof(why)) == 0 ? 0 : 1);
	}
	assert_true(pid > 0);
	nanosleep(&ts, NULL);	/* the command is asleep, stdin unread */
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	assert_int_equal(wait_for(out), 0);
	got = slurp(out, &n);
	assert_non_null(got);
	assert_int_equal(n, BIG);
	assert_memory_equal(got, msg, BIG);
	free(got);
	free(msg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_whole_message),
		cmocka_unit_test(t_exit_status),
		cmocka_unit_test(t_caller_killed),
	};
	int rc;

	strcpy(dir, "/tmp/optin-resubmit.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(script, sizeof(script), "%s/sendmail", dir);
	snprintf(out, sizeof(out), "%s/out", dir);
	snprintf(args, sizeof(args), "%s/args", dir);
	rc = HARNESS_RUN("resubmit", tests);
	unlink(script);
	unlink(out);
	unlink(args);
	rmdir(dir);
	return rc;
}
