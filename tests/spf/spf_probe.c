/*
 * spf_probe.c - drives the SPF checker (milter/spf.h) against the real DNS
 * server that tests/spf/run.sh starts in a private network namespace.
 *
 * usage: spf_probe HELPER DNS_PID
 * Prints one line per check, "ok LABEL" or "FAIL LABEL: got X, want Y",
 * and nothing else on stdout.  The caching check comes last: it kills the
 * DNS server (DNS_PID) and shows that a cached verdict survives it until
 * its TTL (3 s, dnsmasq --local-ttl) has passed.
 */
#include "autoconf.h"

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "spf.h"

static const char *helper;

/* check - print and count one verdict */
static void
check(const char *label, bool ok, const char *got, const char *want,
    const char *detail)
{
	if (ok)
		printf("ok %s\n", label);
	else
		printf("FAIL %s: got %s, want %s (%s)\n", label, got, want,
		    detail);
	fflush(stdout);
}

static void
check_result(const char *label, enum spf_result got, enum spf_result want,
    const char *explain)
{
	check(label, got == want, spf_result_str(got), spf_result_str(want),
	    explain);
}

/* checker - a checker for OutboundIP ips; hook for the helper's children */
static struct spf_checker *
checker(char **ips, size_t nip, const char *hook, unsigned int tmo_ms)
{
	struct spf_options o = { .helper_path = helper,
	    .inbound_timeout_ms = tmo_ms };
	struct config cfg;
	struct spf_checker *chk;
	char why[256];

	memset(&cfg, 0, sizeof(cfg));
	cfg.outbound_ip.n = nip;
	cfg.outbound_ip.v = ips;
	cfg.spf_check = SPF_REJECT;
	if (hook != NULL)
		setenv(SPF_HELPER_TEST_ENV, hook, 1);
	chk = spf_checker_new_opts(&cfg, &o, why, sizeof(why));
	unsetenv(SPF_HELPER_TEST_ENV);
	if (chk == NULL) {
		printf("FAIL checker: %s\n", why);
		exit(1);
	}
	return chk;
}

static double
now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void
outbound(struct spf_checker *chk)
{
	static const struct {
		const char *label, *domain;
		enum spf_result want;
		const char *want_in;
	} cases[] = {
		{ "out pass", "pass.example.test", SPFR_PASS, NULL },
		{ "out fail", "fail.example.test", SPFR_FAIL, "192.0.2.1" },
		{ "out softfail", "soft.example.test", SPFR_SOFTFAIL, NULL },
		{ "out neutral", "neutral.example.test", SPFR_NEUTRAL, NULL },
		{ "out none (not spf)", "none.example.test", SPFR_NONE, NULL },
		{ "out none (nxdomain)", "absent.example.test", SPFR_NONE,
		    NULL },
		{ "out permerror syntax", "syntax.example.test",
		    SPFR_PERMERROR, "frobnicate" },
		{ "out permerror 11 lookups", "many.example.test",
		    SPFR_PERMERROR, NULL },
		{ "out permerror two records", "multi.example.test",
		    SPFR_PERMERROR, NULL },
		{ "out temperror server down", "down.example.test",
		    SPFR_TEMPERROR, NULL },
		{ "out temperror in include", "tempinc.example.test",
		    SPFR_TEMPERROR, NULL },
		{ "out include", "inc.example.test", SPFR_PASS, NULL },
		{ "out redirect", "redir.example.test", SPFR_PASS, NULL },
		{ "out split txt", "split.example.test", SPFR_PASS, NULL },
		{ "out ip6 only: v4 fails", "v6.example.test", SPFR_FAIL,
		    "OutboundIP 192.0.2.1" },
		{ "out a mechanism", "amech.example.test", SPFR_PASS, NULL },
		{ "out mx mechanism", "mxmech.example.test", SPFR_PASS, NULL },
	};
	char explain[512];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum spf_result r = spf_check_outbound(chk, cases[i].domain,
		    explain, sizeof(explain));

		if (r == cases[i].want && cases[i].want_in != NULL &&
		    strstr(explain, cases[i].want_in) == NULL)
			check(cases[i].label, false, explain,
			    cases[i].want_in, "explain");
		else
			check_result(cases[i].label, r, cases[i].want,
			    explain);
	}
}

static void
inbound(struct spf_checker *chk)
{
	static const struct {
		const char *label, *ip, *helo, *from;
		enum spf_result want;
	} cases[] = {
		{ "in pass", "192.0.2.1", "mx.client.test", "a@pass.example.test",
		    SPFR_PASS },
		{ "in fail", "192.0.2.7", "mx.client.test", "a@fail.example.test",
		    SPFR_FAIL },
		{ "in softfail", "192.0.2.7", "mx.client.test",
		    "a@soft.example.test", SPFR_SOFTFAIL },
		{ "in neutral", "192.0.2.7", "mx", "a@neutral.example.test",
		    SPFR_NEUTRAL },
		{ "in none", "192.0.2.7", "mx", "a@absent.example.test",
		    SPFR_NONE },
		{ "in permerror", "192.0.2.1", "mx", "a@syntax.example.test",
		    SPFR_PERMERROR },
		{ "in temperror", "192.0.2.1", "mx", "a@down.example.test",
		    SPFR_TEMPERROR },
		{ "in ipv6 pass", "2001:db8::25", "mx", "<a@v6.example.test>",
		    SPFR_PASS },
		{ "in ipv6 fail", "IPv6:2001:db8:1::1", "mx",
		    "a@v6.example.test", SPFR_FAIL },
		{ "in null sender uses helo", "192.0.2.1", "pass.example.test",
		    "<>", SPFR_PASS },
		{ "in include", "192.0.2.1", "mx", "b@inc.example.test",
		    SPFR_PASS },
	};
	char explain[512];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check_result(cases[i].label, spf_check_inbound(chk,
		    cases[i].ip, cases[i].helo, cases[i].from, explain,
		    sizeof(explain)), cases[i].want, explain);
}

static void
dmarc(struct spf_checker *chk)
{
	static const struct {
		const char *label, *domain;
		enum spf_lookup want;
		const char *want_at;
	} cases[] = {
		{ "dmarc at domain", "example.test", SPF_LOOKUP_FOUND,
		    "example.test" },
		{ "dmarc org fallback", "news.example.test", SPF_LOOKUP_FOUND,
		    "example.test" },
		{ "dmarc none", "nodmarc.test", SPF_LOOKUP_NONE, NULL },
		{ "dmarc temperror", "x.down.example.test",
		    SPF_LOOKUP_TEMPERROR, NULL },
	};
	static const char *const words[] = { "found", "none", "temperror",
	    "permerror" };
	char rec[512], at[256], why[256];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum spf_lookup r;

		at[0] = '\0';
		r = spf_dmarc_lookup(chk, cases[i].domain, rec, sizeof(rec),
		    at, sizeof(at), why, sizeof(why));
		if (r == SPF_LOOKUP_FOUND && (strcmp(at, cases[i].want_at) !=
		    0 || strcmp(rec, "v=DMARC1; p=reject; "
		    "rua=mailto:dmarc@example.test") != 0))
			check(cases[i].label, false, rec, "the record", at);
		else
			check(cases[i].label, r == cases[i].want, words[r],
			    words[cases[i].want], why);
	}
}

static void
helper_faults(void)
{
	char explain[256], *ips[] = { "192.0.2.1", NULL };
	struct spf_checker *chk;
	double t0, dt;
	char det[300];

	chk = checker(ips, 1, "crash", 2000);
	t0 = now();
	check_result("helper crash: temperror", spf_check_inbound(chk,
	    "192.0.2.1", "mx", "a@pass.example.test", explain,
	    sizeof(explain)), SPFR_TEMPERROR, explain);
	dt = now() - t0;
	snprintf(det, sizeof(det), "%.2f s", dt);
	check("helper crash: at once", dt < 1.0, det, "< 1 s", explain);
	check_result("helper crash: caller goes on", spf_check_outbound(chk,
	    "pass.example.test", explain, sizeof(explain)), SPFR_PASS,
	    explain);
	spf_checker_free(&chk);

	chk = checker(ips, 1, "hang", 1000);
	t0 = now();
	check_result("helper hang: temperror", spf_check_inbound(chk,
	    "192.0.2.1", "mx", "a@pass.example.test", explain,
	    sizeof(explain)), SPFR_TEMPERROR, explain);
	dt = now() - t0;
	snprintf(det, sizeof(det), "%.2f s", dt);
	check("helper hang: within the limit", dt >= 0.9 && dt < 2.0, det,
	    "about 1 s", explain);
	spf_checker_free(&chk);
}

static void
caching(struct spf_checker *chk, pid_t dns)
{
	struct spf_stats a, b;
	char explain[512], det[64];
	double t0;
	int i;

	spf_checker_stats(chk, &a);
	t0 = now();
	check_result("cache: first", spf_check_outbound(chk,
	    "cache.example.test", explain, sizeof(explain)), SPFR_PASS,
	    explain);
	(void)kill(dns, SIGTERM);
	for (i = 0; i < 100 && kill(dns, 0) == 0; i++)
		usleep(20000);
	check_result("cache: hit while DNS is down", spf_check_outbound(chk,
	    "cache.example.test", explain, sizeof(explain)), SPFR_PASS,
	    explain);
	spf_checker_stats(chk, &b);
	snprintf(det, sizeof(det), "evals +%lu hits +%lu",
	    b.outbound_evals - a.outbound_evals,
	    b.outbound_cache_hits - a.outbound_cache_hits);
	check("cache: counters", b.outbound_evals - a.outbound_evals == 1 &&
	    b.outbound_cache_hits - a.outbound_cache_hits == 1, det,
	    "evals +1 hits +1", "");
	check_result("cache: uncached domain, DNS down", spf_check_outbound(
	    chk, "fresh.example.test", explain, sizeof(explain)),
	    SPFR_TEMPERROR, explain);
	while (now() - t0 < 4.2)	/* TTL 3 s */
		usleep(100000);
	check_result("cache: expired after TTL", spf_check_outbound(chk,
	    "cache.example.test", explain, sizeof(explain)), SPFR_TEMPERROR,
	    explain);
}

int
main(int argc, char **argv)
{
	char *ips[] = { "192.0.2.1", "2001:db8::1", NULL };
	char *v6[] = { "2001:db8::1", NULL };
	struct spf_checker *chk, *chk6;
	char explain[512];

	if (argc != 3) {
		fprintf(stderr, "usage: spf_probe HELPER DNS_PID\n");
		return 64;
	}
	helper = argv[1];
	chk = checker(ips, 2, NULL, 5000);
	outbound(chk);
	chk6 = checker(v6, 1, NULL, 5000);
	check_result("out ip6 only: OutboundIP v6 passes", spf_check_outbound(
	    chk6, "v6.example.test", explain, sizeof(explain)), SPFR_PASS,
	    explain);
	spf_checker_free(&chk6);
	inbound(chk);
	dmarc(chk);
	helper_faults();
	caching(chk, (pid_t)atol(argv[2]));
	spf_checker_free(&chk);
	return 0;
}
