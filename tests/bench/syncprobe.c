/*
 * syncprobe.c - how long fdatasync(2) takes on a file system while the
 * benchmark's load runs, for tests/bench/run.sh.
 *
 * optin-unsubd answers a one-click POST only after the opt-out is on disk
 * (store_sync: one fdatasync of the write-ahead log for every batch), so
 * the one-click p99 cannot be below the disk's own sync p99 at that
 * moment.  This tool measures that floor beside wrk: in a loop, it appends
 * 4 KiB to a file of its own in DIR, calls fdatasync() and times the
 * call, then sleeps INTERVAL_MS (so that it adds little load itself).
 *
 * usage: syncprobe DIR SECONDS INTERVAL_MS
 * Prints one line: "syncs=N p50_ms=.. p90_ms=.. p99_ms=.. max_ms=..".
 * The file is removed at the end.  Exit 0, or 1 on a usage or I/O error
 * (said on stderr).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "benchclock.h"

#define PROBE_MAX	200000	/* samples kept; the loop stops there */


int
main(int argc, char **argv)
{
	static uint32_t lat[PROBE_MAX];	/* µs */
	char path[4096], block[4096];
	struct timespec pause;
	uint64_t end, t0;
	long secs, ms;
	size_t n = 0;
	int fd;

	if (argc != 4 || (secs = strtol(argv[2], NULL, 10)) <= 0 ||
	    (ms = strtol(argv[3], NULL, 10)) < 0 || ms > 10000) {
		fprintf(stderr, "usage: syncprobe DIR SECONDS INTERVAL_MS\n");
		return 1;
	}
	snprintf(path, sizeof(path), "%s/syncprobe.%ld", argv[1],
	    (long)getpid());
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600)) < 0) {
		fprintf(stderr, "syncprobe: %s: %s\n", path, strerror(errno));
		return 1;
	}
	memset(block, 'x', sizeof(block));
	pause.tv_sec = ms / 1000;
	pause.tv_nsec = (ms % 1000) * 1000000L;
	end = now_ns() + (uint64_t)secs * 1000000000ULL;
	while (n < PROBE_MAX && now_ns() < end) {
		if (write(fd, block, sizeof(block)) != (ssize_t)sizeof(block)) {
			fprintf(stderr, "syncprobe: write %s: %s\n", path,
			    strerror(errno));
			break;
		}
		t0 = now_ns();
		if (fdatasync(fd) != 0) {
			fprintf(stderr, "syncprobe: fdatasync %s: %s\n", path,
			    strerror(errno));
			break;
		}
		lat[n++] = (uint32_t)((now_ns() - t0) / 1000);
		(void)nanosleep(&pause, NULL);
	}
	close(fd);
	(void)unlink(path);
	if (n == 0)
		return 1;
	qsort(lat, n, sizeof(lat[0]), cmp_u32);
	printf("syncs=%zu p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f\n",
	    n, lat[n / 2] / 1e3, lat[n * 9 / 10] / 1e3, lat[n * 99 / 100] / 1e3,
	    lat[n - 1] / 1e3);
	return 0;
}
