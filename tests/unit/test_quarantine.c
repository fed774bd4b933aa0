/*
 * test_quarantine.c - the durable spool write, spool name validation and
 * the list of quarantine reasons.
 */
#include "autoconf.h"

#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "quarantine.h"

static void
t_write(void **state)
{
	char dir[] = "/tmp/optin-qt.XXXXXX", name[QUARANTINE_NAME_MAX];
	char path[300], why[300], got[100];
	struct iovec iov[2] = {
		{ "Subject: x\r\n\r\n", 14 }, { "body\r\n", 6 } };
	struct stat sb;
	FILE *fp;
	size_t n;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(quarantine_write(dir, "4XyZ1/../", iov, 2, name, why,
	    sizeof(why)), 0);
	assert_true(quarantine_name_ok(name));
	assert_non_null(strstr(name, "-4XyZ1-"));
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_non_null(fp = fopen(path, "r"));
	n = fread(got, 1, sizeof(got) - 1, fp);
	fclose(fp);
	got[n] = '\0';
	assert_string_equal(got, "Subject: x\r\n\r\nbody\r\n");
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0);	/* no temp file left */
}

static void
t_write_fails(void **state)
{
	char name[QUARANTINE_NAME_MAX], why[300] = "";
	struct iovec iov = { "x", 1 };

	(void)state;
	assert_int_equal(quarantine_write("/nonexistent/spool", "Q1", &iov, 1,
	    name, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "/nonexistent/spool"));
}

static const struct {
	const char *label, *name;
	bool want;
} names[] = {
	{ "spool name", "20261129-100000-4XyZ1-0a1b2c3d4e5f.eml", true },
	{ "empty", "", false },
	{ "slash", "a/b.eml", false },
	{ "dot dot", "..", false },
	{ "parent path", "../etc/passwd", false },
	{ "hidden temp file", ".tmp-x.eml", false },
	{ "embedded dot dot", "a..b", false },
	{ "space", "a b", false },
};

static void
t_names(void **state)
{
	size_t i;

	(void)state;
	assert_false(quarantine_name_ok(NULL));
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (quarantine_name_ok(names[i].name) != names[i].want)
			CASE_FAIL(names[i].label, "got %d, want %d",
			    !names[i].want, names[i].want);
}

/* the reasons a row can carry: DESIGN's words, nothing else */
static const struct {
	const char *label, *word;
	bool want;
} reasons[] = {
	{ "suppressed", "suppressed", true },
	{ "opted_out", "opted_out", true },
	{ "pending", "pending", true },
	{ "no_consent", "no_consent", true },
	{ "resubmit_failed", "resubmit_failed", true },
	{ "deliver is no quarantine reason", "deliver", false },
	{ "case matters", "No_Consent", false },
	{ "unknown word", "spam", false },
	{ "prefix", "no_", false },
	{ "empty", "", false },
};

static void
t_reasons(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (quarantine_reason_ok(reasons[i].word) != reasons[i].want)
			CASE_FAIL(reasons[i].label, "got %d, want %d",
			    !reasons[i].want, reasons[i].want);
	assert_string_equal(quarantine_reason(0), "suppressed");
	assert_string_equal(quarantine_reason(4), "resubmit_failed");
}

/* quarantine_scrub: the file before and after, for the forms of ann */
static const struct {
	const char *label, *in, *want;	/* want NULL: untouched */
} scrubs[] = {
	{ "To and body", "To: ann@xn--bcher-kva.example\r\n\r\nhi "
	    "ann@xn--bcher-kva.example.\r\n", "To: erased@invalid\r\n\r\n"
	    "hi erased@invalid.\r\n" },
	{ "angle brackets, other case", "To: Ann <ANN@XN--BCHER-KVA.Example>, "
	    "bob@example.com\r\n\r\nx", "To: Ann <erased@invalid>, "
	    "bob@example.com\r\n\r\nx" },
	{ "U-label", "Cc: ann@bücher.example\r\n\r\n",
	    "Cc: erased@invalid\r\n\r\n" },
	{ "longer local part", "To: joann@bücher.example\r\n\r\n", NULL },
	{ "dotted local part", "To: x.ann@bücher.example\r\n\r\n", NULL },
	{ "longer domain", "To: ann@bücher.example.org\r\n\r\n", NULL },
	{ "longer label", "To: ann@bücher.examples\r\n\r\n", NULL },
	{ "other person", "To: bob@example.com\r\n\r\n", NULL },
	{ "empty file", "", NULL },
};

static void
t_scrub(void **state)
{
	static const char *const forms[] = { "ann@xn--bcher-kva.example",
	    "ann@bücher.example" };
	char dir[] = "/tmp/optin-qs.XXXXXX", path[300], why[300], got[300];
	struct stat sb;
	bool changed;
	FILE *fp;
	size_t i, n;
	int dfd, held;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/20240101-000000-Q1-x.eml", dir);
	assert_true((dfd = open(dir, O_RDONLY | O_DIRECTORY)) >= 0);
	for (i = 0; i < sizeof(scrubs) / sizeof(scrubs[0]); i++) {
		assert_non_null(fp = fopen(path, "w"));
		fputs(scrubs[i].in, fp);
		fclose(fp);
		assert_int_equal(chmod(path, 0640), 0);
		held = quarantine_holds(dfd, "20240101-000000-Q1-x.eml", forms,
		    2, why, sizeof(why));
		if (held != (scrubs[i].want != NULL))
			CASE_FAIL(scrubs[i].label, "holds: got %d, want %d",
			    held, scrubs[i].want != NULL);
		if (quarantine_scrub(dir, "20240101-000000-Q1-x.eml", forms, 2,
		    &changed, why, sizeof(why)) < 0)
			CASE_FAIL(scrubs[i].label, "scrub: %s", why);
		assert_non_null(fp = fopen(path, "r"));
		n = fread(got, 1, sizeof(got) - 1, fp);
		fclose(fp);
		got[n] = '\0';
		assert_int_equal(stat(path, &sb), 0);
		if (changed != (scrubs[i].want != NULL) || strcmp(got,
		    scrubs[i].want != NULL ? scrubs[i].want : scrubs[i].in) !=
		    0)
			CASE_FAIL(scrubs[i].label, "got '%s' (changed %d)", got,
			    changed);
		if ((sb.st_mode & 0777) != (changed ? 0600u : 0640u))
			CASE_FAIL(scrubs[i].label, "mode %o", sb.st_mode & 0777);
	}
	(void)close(dfd);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0);	/* no temp file left */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_write),
		cmocka_unit_test(t_write_fails),
		cmocka_unit_test(t_names),
		cmocka_unit_test(t_reasons),
		cmocka_unit_test(t_scrub),
	};

	return HARNESS_RUN("quarantine", tests);
}
