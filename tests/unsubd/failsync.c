/*
 * failsync.c - LD_PRELOAD shim for tests/unsubd/run.sh: fdatasync(2) of a
 * file whose name ends in "-wal" (SQLite's write-ahead log) fails with EIO
 * while the file named by $FAILSYNC_FLAG exists; everything else goes to
 * the C library.  Lets the suite show what optin-unsubd answers when its
 * sync to disk fails, without a failing disk.
 *
 *	cc -shared -fPIC -o failsync.so failsync.c -ldl
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int
fdatasync(int fd)
{
	static int (*real)(int);
	const char *flag = getenv("FAILSYNC_FLAG");
	char link[64], path[4096];
	ssize_t n;

	if (real == NULL)
		real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, path, sizeof(path) - 1);
	if (flag != NULL && n > 4) {
		path[n] = '\0';
		if (strcmp(path + n - 4, "-wal") == 0 &&
		    access(flag, F_OK) == 0) {
			errno = EIO;
			return -1;
		}
	}
	return real != NULL ? real(fd) : -1;
}
