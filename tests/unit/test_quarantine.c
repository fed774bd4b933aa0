/*
 * test_quarantine.c - the durable spool write, spool name validation and
 * the list of quarantine reasons.
 */
#include "autoconf.h"

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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_write),
		cmocka_unit_test(t_write_fails),
		cmocka_unit_test(t_names),
		cmocka_unit_test(t_reasons),
	};

	return HARNESS_RUN("quarantine", tests);
}
