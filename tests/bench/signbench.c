/*
 * signbench.c - microseconds per DKIM signature with dkimsign_message(),
 * the key cache on and off (OPTIN_DKIM_KEYCACHE=off: libopendkim parses
 * the PEM key for every signature, as before the cache), for an RSA and an
 * Ed25519 key, on one message.  Built and run by tests/bench/run.sh
 * (section "sign"); message parsing is the unit tests' (dkimtest.c).
 *
 *	signbench RSA_KEY ED_KEY MESSAGE COUNT
 *
 * Prints one line per case: "sign ALG on|off US_PER_SIG" (median of three
 * runs of COUNT signatures each, runs of on and off interleaved).
 */
#include "autoconf.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "dkimsign.h"
#include "dkimtest.h"

/* open_one - a signer for one key, the key cache on or off. */
static struct dkimsign *
open_one(const char *key, enum cfg_sigalg alg, bool on)
{
	struct dkimsign *ds;
	struct config cfg;
	char why[512];

	cfg_single(&cfg, alg, key, "bench", NULL, NULL);
	if (on)
		(void)unsetenv("OPTIN_DKIM_KEYCACHE");
	else
		(void)setenv("OPTIN_DKIM_KEYCACHE", "off", 1);
	if ((ds = dkimsign_open(&cfg, why, sizeof why)) == NULL) {
		fprintf(stderr, "signbench: %s: %s\n", key, why);
		exit(1);
	}
	return ds;
}

/* run_us - microseconds per signature over n signatures of m. */
static double
run_us(const struct dkimsign *ds, const struct msg *m, long n)
{
	struct dkimsign_result res;
	struct timespec a, b;
	char why[256];
	long i;

	(void)clock_gettime(CLOCK_MONOTONIC, &a);
	for (i = 0; i < n; i++) {
		if (dkimsign_message(ds, m->from, m->h, m->nh, m->body,
		    m->bodylen, &res, why, sizeof why) != 1) {
			fprintf(stderr, "signbench: %s\n", why);
			exit(1);
		}
		dkimsign_result_free(&res);
	}
	(void)clock_gettime(CLOCK_MONOTONIC, &b);
	return ((double)(b.tv_sec - a.tv_sec) * 1e6 +
	    (double)(b.tv_nsec - a.tv_nsec) / 1e3) / (double)n;
}

/* mid - the median of three */
static double
mid(const double *v)
{
	double lo = v[0] < v[1] ? v[0] : v[1], hi = v[0] < v[1] ? v[1] : v[0];

	return v[2] < lo ? lo : v[2] > hi ? hi : v[2];
}

int
main(int argc, char **argv)
{
	static const enum cfg_sigalg alg[2] = { SIGALG_RSA, SIGALG_ED25519 };
	static const char *name[2] = { "rsa-sha256", "ed25519-sha256" };
	struct dkimsign *on, *off;
	double v_on[3], v_off[3];
	struct msg m;
	size_t len;
	char *raw;
	long n;
	int a, r;

	if (argc != 5 || (n = strtol(argv[4], NULL, 10)) <= 0) {
		fprintf(stderr, "usage: signbench RSA_KEY ED_KEY MESSAGE "
		    "COUNT\n");
		return 2;
	}
	if ((raw = file_read(argv[3], &len)) == NULL ||
	    !msg_parse(raw, len, &m)) {
		fprintf(stderr, "signbench: cannot read %s\n", argv[3]);
		return 1;
	}
	for (a = 0; a < 2; a++) {
		on = open_one(argv[1 + a], alg[a], true);
		off = open_one(argv[1 + a], alg[a], false);
		(void)run_us(on, &m, n / 10 + 1);	/* warm up */
		(void)run_us(off, &m, n / 10 + 1);
		for (r = 0; r < 3; r++) {
			v_off[r] = run_us(off, &m, n);
			v_on[r] = run_us(on, &m, n);
		}
		printf("sign %s off %.1f\n", name[a], mid(v_off));
		printf("sign %s on %.1f\n", name[a], mid(v_on));
		dkimsign_free(&on);
		dkimsign_free(&off);
	}
	msg_free(&m);
	free(raw);
	return 0;
}
