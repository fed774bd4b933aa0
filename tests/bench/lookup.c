/*
 * lookup.c - consent-store point-lookup latency, through the milter's own
 * store_lookup() (milter/store.h), for tests/bench/run.sh.
 *
 * The database is the one tests/bench/run.sh generates: address i is
 * printf("u%08ld@example%03ld.com", i, i % 1000) and is on the four lists
 * "list%02d" i%5, i%5+5, i%5+10, i%5+15.  Lookups pick i at random (fixed
 * seed); 80% ask for one of the address's lists, 20% for any of the 20
 * lists (mostly "no_consent"), as a relay that mostly sends to subscribers.
 *
 * usage: lookup CONF NADDR warm COUNT	COUNT lookups after 10,000 warm-up
 *        lookup CONF NADDR cold COUNT	drop the file's pages (posix_fadvise
 *					DONTNEED) first, then COUNT lookups
 *        lookup CONF NADDR for SECONDS	as many lookups as fit in SECONDS
 * Prints one line: "lookups=N p50_us=.. p90_us=.. p99_us=.. max_us=..
 * found=N tempfail=N error=N".  Exit 0, or 1 when the store cannot be
 * opened.  Single-threaded; one store handle, as one milter thread has.
 */
#include "autoconf.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "benchclock.h"
#include "config.h"
#include "consent.h"
#include "log.h"
#include "store.h"

/* rng_next - xorshift64*, fixed seed: the same lookups every run */
static uint64_t
rng_next(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ULL;
}


/* drop_file - ask the kernel to forget the cached pages of path */
static void
drop_file(const char *path)
{
	int fd;

	if ((fd = open(path, O_RDONLY)) < 0)
		return;
	(void)fdatasync(fd);
	(void)posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	(void)close(fd);
}

/* pick - the address and list of one lookup */
static void
pick(uint64_t *seed, long naddr, char *addr, size_t addrlen, char *list,
    size_t listlen)
{
	long i = (long)(rng_next(seed) % (uint64_t)naddr);
	unsigned l;

	if (rng_next(seed) % 10 < 8)
		l = (unsigned)(i % 5 + 5 * (long)(rng_next(seed) % 4));
	else
		l = (unsigned)(rng_next(seed) % 20);
	snprintf(addr, addrlen, "u%08ld@example%03ld.com", i, i % 1000);
	snprintf(list, listlen, "list%02u", l);
}

int
main(int argc, char **argv)
{
	struct config *cfg;
	struct store *st;
	enum store_status ss;
	struct consent_row row;
	char addr[80], list[16], why[300], path[4200];
	uint64_t seed = 0x9e3779b97f4a7c15ULL, t0, t1, deadline = 0;
	uint32_t *lat;
	size_t n = 0, cap, i;
	long naddr, count;
	unsigned long found = 0, tempfail = 0, error = 0;
	int nerr = 0;
	bool timed;

	store_global_init();	/* as the milter does */
	if (argc != 5) {
		fprintf(stderr, "usage: lookup CONF NADDR warm|cold|for "
		    "COUNT|SECONDS\n");
		return 64;
	}
	log_init("bench-lookup", false, true, 0, NULL);
	if ((cfg = config_load(argv[1], stderr, &nerr)) == NULL)
		return 78;
	naddr = atol(argv[2]);
	count = atol(argv[4]);
	timed = strcmp(argv[3], "for") == 0;
	if (naddr <= 0 || count <= 0)
		return 64;
	if (strcmp(argv[3], "cold") == 0) {
		snprintf(path, sizeof(path), "%s", cfg->consent_db);
		drop_file(path);
		snprintf(path, sizeof(path), "%s-wal", cfg->consent_db);
		drop_file(path);
	}
	if ((st = store_open(cfg, 0, &ss, why, sizeof(why))) == NULL) {
		fprintf(stderr, "lookup: %s\n", why);
		return 1;
	}
	if (strcmp(argv[3], "warm") == 0) {
		for (i = 0; i < 10000; i++) {
			pick(&seed, naddr, addr, sizeof(addr), list,
			    sizeof(list));
			(void)store_lookup(st, addr, list, &row, why,
			    sizeof(why));
		}
	}
	cap = timed ? 1000000 : (size_t)count;
	if ((lat = calloc(cap, sizeof(*lat))) == NULL)
		return 1;
	if (timed)
		deadline = now_ns() + (uint64_t)count * 1000000000ULL;
	while (n < cap) {
		pick(&seed, naddr, addr, sizeof(addr), list, sizeof(list));
		t0 = now_ns();
		ss = store_lookup(st, addr, list, &row, why, sizeof(why));
		t1 = now_ns();
		lat[n++] = (uint32_t)((t1 - t0) > UINT32_MAX ? UINT32_MAX :
		    t1 - t0);
		if (ss == STORE_OK && row.status != SUB_NONE)
			found++;
		else if (ss == STORE_TEMPFAIL)
			tempfail++;
		else if (ss == STORE_ERROR)
			error++;
		if (timed && t1 >= deadline)
			break;
		if (timed && (n & 1023) == 0)
			usleep(0);
	}
	qsort(lat, n, sizeof(*lat), cmp_u32);
	printf("lookups=%zu p50_us=%.1f p90_us=%.1f p99_us=%.1f max_us=%.1f "
	    "found=%lu tempfail=%lu error=%lu\n", n, lat[n / 2] / 1000.0,
	    lat[n * 90 / 100] / 1000.0, lat[n * 99 / 100] / 1000.0,
	    lat[n - 1] / 1000.0, found, tempfail, error);
	free(lat);
	store_close(&st);
	config_free(&cfg);
	return 0;
}
