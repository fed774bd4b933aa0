/*
 * test_prom.c - the metrics address rule and the Prometheus text helpers
 * (milter/util/prom.c): which addresses MetricsAddress accepts, and what
 * optinctl stats reads back from a scrape.
 */
#include "autoconf.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "prom.h"

static const struct {
	const char *label, *in;
	const char *want;	/* "ADDR PORT", or the error text */
} addr_cases[] = {
	{ "IPv4 loopback", "127.0.0.1:9101", "127.0.0.1 9101" },
	{ "other 127/8", "127.1.2.3:80", "127.1.2.3 80" },
	{ "IPv6 loopback", "[::1]:9101", "::1 9101" },
	{ "any address", "0.0.0.0:9101", "'0.0.0.0:9101' is not a loopback "
	  "address (metrics are served on 127.0.0.0/8 or ::1 only)" },
	{ "public IPv4", "192.0.2.1:9101", "'192.0.2.1:9101' is not a "
	  "loopback address (metrics are served on 127.0.0.0/8 or ::1 only)" },
	{ "IPv6 any", "[::]:9101", "'[::]:9101' is not a loopback address "
	  "(metrics are served on 127.0.0.0/8 or ::1 only)" },
	{ "a name", "localhost:9101", "bad value 'localhost:9101' (expected "
	  "127.0.0.1:PORT or [::1]:PORT)" },
	{ "bare IPv6", "::1:9101", "bad value '::1:9101' (expected "
	  "127.0.0.1:PORT or [::1]:PORT)" },
	{ "IPv4 in brackets", "[127.0.0.1]:9101", "bad value "
	  "'[127.0.0.1]:9101' (expected 127.0.0.1:PORT or [::1]:PORT)" },
	{ "port 0", "127.0.0.1:0", "bad value '127.0.0.1:0' (expected "
	  "127.0.0.1:PORT or [::1]:PORT)" },
	{ "port too big", "127.0.0.1:65536", "bad value '127.0.0.1:65536' "
	  "(expected 127.0.0.1:PORT or [::1]:PORT)" },
	{ "no port", "127.0.0.1", "bad value '127.0.0.1' (expected "
	  "127.0.0.1:PORT or [::1]:PORT)" },
	{ "signed port", "127.0.0.1:+80", "bad value '127.0.0.1:+80' "
	  "(expected 127.0.0.1:PORT or [::1]:PORT)" },
};

static void
test_addr(void **state)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char got[256], host[64];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(addr_cases) / sizeof(addr_cases[0]); i++) {
		if (prom_addr_parse(addr_cases[i].in, &ss, &len, got,
		    sizeof(got)) == 0) {
			if (ss.ss_family == AF_INET)
				snprintf(got, sizeof(got), "%s %u", inet_ntop(
				    AF_INET, &((struct sockaddr_in *)&ss)->
				    sin_addr, host, sizeof(host)), ntohs(
				    ((struct sockaddr_in *)&ss)->sin_port));
			else
				snprintf(got, sizeof(got), "%s %u", inet_ntop(
				    AF_INET6, &((struct sockaddr_in6 *)&ss)->
				    sin6_addr, host, sizeof(host)), ntohs(
				    ((struct sockaddr_in6 *)&ss)->sin6_port));
		}
		if (strcmp(got, addr_cases[i].want) != 0)
			CASE_FAIL(addr_cases[i].label, "got %s, want %s", got,
			    addr_cases[i].want);
	}
}

/* collect - prom_parse callback: "name|labels|value;" */
static int
collect(const char *name, const char *labels, double v, void *arg)
{
	char *out = arg;

	snprintf(out + strlen(out), 1024 - strlen(out), "%s|%s|%g;", name,
	    labels, v);
	return 0;
}

static const struct {
	const char *label, *in, *want;
} parse_cases[] = {
	{ "one family", "# HELP a_total A.\n# TYPE a_total counter\n"
	  "a_total 3\n", "a_total||3;" },
	{ "labels", "x{k=\"v\",l=\"w\"} 2\ny 1.5\n",
	  "x|k=\"v\",l=\"w\"|2;y||1.5;" },
	{ "no final newline", "z 7", "z||7;" },
	{ "junk skipped", "nonsense\nq abc\n{x 1\n 1\nok 0\n", "ok||0;" },
	{ "empty", "", "" },
};

static void
test_parse(void **state)
{
	char got[1024];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
		got[0] = '\0';
		(void)prom_parse(parse_cases[i].in, collect, got);
		if (strcmp(got, parse_cases[i].want) != 0)
			CASE_FAIL(parse_cases[i].label, "got %s, want %s", got,
			    parse_cases[i].want);
	}
}

/* the rendering helpers give what prom_parse reads back */
static void
test_render(void **state)
{
	struct buf b = { NULL, 0, 0 };
	char got[1024] = "";

	(void)state;
	assert_int_equal(prom_family(&b, "m_total", "counter", "M."), 0);
	assert_int_equal(prom_sample(&b, "m_total", "r=\"a\"", 4), 0);
	assert_int_equal(prom_sample_f(&b, "t", NULL, 1.25), 0);
	assert_string_equal((char *)b.data, "# HELP m_total M.\n"
	    "# TYPE m_total counter\nm_total{r=\"a\"} 4\nt 1.250000\n");
	(void)prom_parse((char *)b.data, collect, got);
	assert_string_equal(got, "m_total|r=\"a\"|4;t||1.25;");
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_addr),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_render),
	};

	return HARNESS_RUN("test_prom", tests);
}
