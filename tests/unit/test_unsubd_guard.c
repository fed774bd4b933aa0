/*
 * test_unsubd_guard.c - optin-unsubd's guards for its pages' forms
 * (unsubd_guard.h): origins, the same-origin decision with and without a
 * site origin, CSRF marks (fresh, stale, forged, another token's, from the
 * future, after key rotation); and the body parser's fields
 * (unsubd_form.h) that the guard reads.
 */
#include "autoconf.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

#include "token.h"
#include "unsubd_form.h"
#include "unsubd_guard.h"

#define KEY1 "1 AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n"
#define KEY2 "2 ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=\n"
#define SITE "https://unsub.example.com"
#define NOW 1767225600LL

static const struct {
	const char *label, *url, *want;	/* want NULL: not an origin */
} origins[] = {
	{ "https", "https://unsub.example.com/u/x", SITE },
	{ "upper case", "HTTPS://Unsub.Example.COM", SITE },
	{ "default port dropped", "https://unsub.example.com:443/", SITE },
	{ "leading zeros", "https://unsub.example.com:0443", SITE },
	{ "other port kept", "https://unsub.example.com:8443/p",
	    "https://unsub.example.com:8443" },
	{ "http default", "http://127.0.0.1:80/u/t", "http://127.0.0.1" },
	{ "http port", "http://127.0.0.1:8025?x", "http://127.0.0.1:8025" },
	{ "ipv6", "http://[::1]:8025/u/t", "http://[::1]:8025" },
	{ "empty port", "https://unsub.example.com:/", SITE },
	{ "fragment", "https://unsub.example.com#top", SITE },
	{ "other scheme", "ftp://unsub.example.com/", NULL },
	{ "no scheme", "unsub.example.com", NULL },
	{ "user info", "https://evil.example@unsub.example.com/", NULL },
	{ "empty host", "https:///u/x", NULL },
	{ "port zero", "https://unsub.example.com:0/", NULL },
	{ "port too big", "https://unsub.example.com:65536/", NULL },
	{ "port not a number", "https://unsub.example.com:44a/", NULL },
	{ "space in host", "https://unsub example.com/", NULL },
	{ "unclosed ipv6", "http://[::1:8025/", NULL },
	{ "opaque", "null", NULL },
};

static void
t_origin_of(void **state)
{
	char out[UNSUBD_ORIGIN_MAX], tiny[12];
	size_t i;
	bool ok;

	(void)state;
	for (i = 0; i < sizeof(origins) / sizeof(origins[0]); i++) {
		ok = unsubd_origin_of(origins[i].url, out, sizeof(out));
		if (origins[i].want == NULL && ok)
			CASE_FAIL(origins[i].label, "got '%s', want no origin",
			    out);
		else if (origins[i].want != NULL && !ok)
			CASE_FAIL(origins[i].label, "got no origin, want '%s'",
			    origins[i].want);
		else if (ok && strcmp(out, origins[i].want) != 0)
			CASE_FAIL(origins[i].label, "got '%s', want '%s'", out,
			    origins[i].want);
	}
	assert_false(unsubd_origin_of(SITE, tiny, sizeof(tiny)));
	assert_false(unsubd_origin_of(NULL, out, sizeof(out)));
}

static const struct {
	const char *label;
	const char *site;		/* NULL: compare with Host */
	struct unsubd_origin_hdrs h;
	enum unsubd_guard want;
} guards[] = {
	{ "browser: fetch same-origin, Origin null (no-referrer page)", SITE,
	    { "same-origin", "null", NULL, NULL }, UNSUBD_GUARD_OK },
	{ "Origin names the site", SITE,
	    { NULL, "https://unsub.example.com", NULL, NULL },
	    UNSUBD_GUARD_OK },
	{ "Origin with default port", SITE,
	    { NULL, "https://unsub.example.com:443", NULL, NULL },
	    UNSUBD_GUARD_OK },
	{ "fetch same-origin and Origin agree", SITE,
	    { "same-origin", SITE, NULL, NULL }, UNSUBD_GUARD_OK },
	{ "Referer on the site", SITE,
	    { NULL, NULL, "https://unsub.example.com/p/TOKEN", NULL },
	    UNSUBD_GUARD_OK },
	{ "fetch cross-site", SITE,
	    { "cross-site", SITE, NULL, NULL }, UNSUBD_GUARD_CROSS_SITE },
	{ "fetch same-site", SITE,
	    { "same-site", NULL, NULL, NULL }, UNSUBD_GUARD_CROSS_SITE },
	{ "fetch none (typed URL)", SITE,
	    { "none", NULL, NULL, NULL }, UNSUBD_GUARD_CROSS_SITE },
	{ "fetch same-origin but Origin elsewhere", SITE,
	    { "same-origin", "https://evil.example", NULL, NULL },
	    UNSUBD_GUARD_CROSS_ORIGIN },
	{ "Origin elsewhere", SITE,
	    { NULL, "https://evil.example", NULL, NULL },
	    UNSUBD_GUARD_CROSS_ORIGIN },
	{ "Origin http instead of https", SITE,
	    { NULL, "http://unsub.example.com", NULL, NULL },
	    UNSUBD_GUARD_CROSS_ORIGIN },
	{ "Origin on a sub-domain", SITE,
	    { NULL, "https://a.unsub.example.com", NULL, NULL },
	    UNSUBD_GUARD_CROSS_ORIGIN },
	{ "Origin null without fetch metadata", SITE,
	    { NULL, "null", "https://unsub.example.com/p/T", NULL },
	    UNSUBD_GUARD_CROSS_ORIGIN },
	{ "Origin garbage", SITE,
	    { NULL, "unsub.example.com", NULL, NULL },
	    UNSUBD_GUARD_CROSS_ORIGIN },
	{ "Referer elsewhere", SITE,
	    { NULL, NULL, "https://evil.example/?u=unsub.example.com", NULL },
	    UNSUBD_GUARD_CROSS_ORIGIN },
	{ "nothing at all", SITE,
	    { NULL, NULL, NULL, "unsub.example.com" },
	    UNSUBD_GUARD_NO_ORIGIN },
	{ "no site: Origin and Host agree", NULL,
	    { NULL, "https://unsub.example.com", NULL, "unsub.example.com" },
	    UNSUBD_GUARD_OK },
	{ "no site: Host with the default port", NULL,
	    { NULL, "http://127.0.0.1", NULL, "127.0.0.1:80" },
	    UNSUBD_GUARD_OK },
	{ "no site: Host names another port", NULL,
	    { NULL, "http://127.0.0.1:8025", NULL, "127.0.0.1:8026" },
	    UNSUBD_GUARD_CROSS_ORIGIN },
	{ "no site: Host differs", NULL,
	    { NULL, "https://evil.example", NULL, "unsub.example.com" },
	    UNSUBD_GUARD_CROSS_ORIGIN },
	{ "no site: no Host", NULL,
	    { NULL, "https://unsub.example.com", NULL, NULL },
	    UNSUBD_GUARD_CROSS_ORIGIN },
	{ "no site: Host with user info", NULL,
	    { NULL, "https://unsub.example.com", NULL,
	    "evil@unsub.example.com" }, UNSUBD_GUARD_CROSS_ORIGIN },
	{ "no site: Referer and Host agree", "",
	    { NULL, NULL, "http://[::1]:8025/p/T", "[::1]:8025" },
	    UNSUBD_GUARD_OK },
};

static void
t_guard_origin(void **state)
{
	enum unsubd_guard got;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(guards) / sizeof(guards[0]); i++) {
		got = unsubd_guard_origin(&guards[i].h, guards[i].site);
		if (got != guards[i].want)
			CASE_FAIL(guards[i].label, "got %s, want %s",
			    unsubd_guard_str(got),
			    unsubd_guard_str(guards[i].want));
	}
}

static void
t_site_origin(void **state)
{
	char out[UNSUBD_ORIGIN_MAX], why[256];

	(void)state;
	assert_true(unsubd_site_origin("https://unsub.example.com/u/%t", out,
	    sizeof(out), why, sizeof(why)));
	assert_string_equal(out, SITE);
	assert_true(unsubd_site_origin(NULL, out, sizeof(out), why,
	    sizeof(why)));
	assert_string_equal(out, "");
	assert_false(unsubd_site_origin("https://%t.example.com/", out,
	    sizeof(out), why, sizeof(why)));
	assert_string_equal(out, "");
	assert_non_null(strstr(why, "UnsubscribeURL"));
}

/* ring - a ring from key file text (a private temporary file) */
static struct token_ring *
ring(const char *text)
{
	char path[] = "/tmp/test_unsubd_guard.XXXXXX", why[256];
	struct token_ring *r;
	int fd;

	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	r = token_ring_load(path, why, sizeof(why));
	unlink(path);
	if (r == NULL)
		fail_msg("ring: %s", why);
	return r;
}

static void
t_csrf(void **state)
{
	struct token_ring *r1, *r2, *r12;
	char c[UNSUBD_CSRF_MAX], c2[UNSUBD_CSRF_MAX], bad[UNSUBD_CSRF_MAX];
	const char *tok = "AQEAAAAAtokenA", *other = "AQEAAAAAtokenB";
	static const struct {
		const char *label;
		long long at;		/* check at NOW + at */
		enum unsubd_guard want;
	} ages[] = {
		{ "just made", 0, UNSUBD_GUARD_OK },
		{ "one hour", 3600, UNSUBD_GUARD_OK },
		{ "at the lifetime", UNSUBD_CSRF_LIFETIME, UNSUBD_GUARD_OK },
		{ "past the lifetime", UNSUBD_CSRF_LIFETIME + 1,
		    UNSUBD_GUARD_CSRF_STALE },
		{ "clock a little behind", -UNSUBD_CSRF_SKEW, UNSUBD_GUARD_OK },
		{ "from the future", -UNSUBD_CSRF_SKEW - 1,
		    UNSUBD_GUARD_CSRF_BAD },
	};
	enum unsubd_guard got;
	size_t i;

	(void)state;
	r1 = ring(KEY1);
	r2 = ring(KEY2);
	r12 = ring(KEY1 KEY2);
	assert_int_equal(unsubd_csrf_make(r1, tok, NOW, c, sizeof(c)), 0);
	assert_true(strlen(c) == 11 + 64 && c[10] == '.');
	assert_int_equal(strncmp(c, "1767225600.", 11), 0);
	for (i = 0; i < sizeof(ages) / sizeof(ages[0]); i++) {
		got = unsubd_csrf_check(r1, tok, c, NOW + ages[i].at);
		if (got != ages[i].want)
			CASE_FAIL(ages[i].label, "got %s, want %s",
			    unsubd_guard_str(got),
			    unsubd_guard_str(ages[i].want));
	}
	assert_int_equal(unsubd_csrf_check(r1, tok, NULL, NOW),
	    UNSUBD_GUARD_CSRF_MISSING);
	assert_int_equal(unsubd_csrf_check(r1, tok, "", NOW),
	    UNSUBD_GUARD_CSRF_MISSING);
	assert_int_equal(unsubd_csrf_check(r1, other, c, NOW),
	    UNSUBD_GUARD_CSRF_BAD);
	assert_int_equal(unsubd_csrf_check(r2, tok, c, NOW),
	    UNSUBD_GUARD_CSRF_BAD);
	/* rotation: a mark of the old key holds; the new key marks */
	assert_int_equal(unsubd_csrf_check(r12, tok, c, NOW), UNSUBD_GUARD_OK);
	assert_int_equal(unsubd_csrf_make(r12, tok, NOW, c2, sizeof(c2)), 0);
	assert_int_equal(unsubd_csrf_check(r2, tok, c2, NOW), UNSUBD_GUARD_OK);
	/* a changed time, a changed MAC, odd shapes */
	snprintf(bad, sizeof(bad), "1767225601%s", c + 10);
	assert_int_equal(unsubd_csrf_check(r1, tok, bad, NOW),
	    UNSUBD_GUARD_CSRF_BAD);
	snprintf(bad, sizeof(bad), "0%s", c);
	assert_int_equal(unsubd_csrf_check(r1, tok, bad, NOW),
	    UNSUBD_GUARD_CSRF_BAD);
	snprintf(bad, sizeof(bad), "%s", c);
	bad[20] = bad[20] == 'a' ? 'b' : 'a';
	assert_int_equal(unsubd_csrf_check(r1, tok, bad, NOW),
	    UNSUBD_GUARD_CSRF_BAD);
	snprintf(bad, sizeof(bad), "%s", c);
	bad[strlen(bad) - 1] = '\0';
	assert_int_equal(unsubd_csrf_check(r1, tok, bad, NOW),
	    UNSUBD_GUARD_CSRF_BAD);
	assert_int_equal(unsubd_csrf_check(r1, tok, "x.y", NOW),
	    UNSUBD_GUARD_CSRF_BAD);
	assert_int_equal(unsubd_csrf_check(r1, tok, c + 11, NOW),
	    UNSUBD_GUARD_CSRF_BAD);
	assert_int_equal(unsubd_csrf_make(r1, tok, NOW, bad, 20), -1);
	token_ring_free(&r1);
	token_ring_free(&r2);
	token_ring_free(&r12);
}

static const struct {
	const char *label, *ctype, *body;
	bool one_click, bad;
	const char *action, *list, *csrf;
} forms[] = {
	{ "page form", "application/x-www-form-urlencoded",
	    "csrf=1.ab&list=news&action=opt_in", false, false, "opt_in",
	    "news", "1.ab" },
	{ "one-click", "application/x-www-form-urlencoded",
	    "List-Unsubscribe=One-Click", true, false, "", "", "" },
	{ "multipart csrf", "multipart/form-data; boundary=XY",
	    "--XY\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n"
	    "9.cd\r\n--XY\r\nContent-Disposition: form-data; "
	    "name=\"action\"\r\n\r\nall\r\n--XY--\r\n", false, false, "all",
	    "", "9.cd" },
	{ "text/plain csrf", "text/plain", "action=list\r\ncsrf=5.ef\r\n",
	    false, false, "list", "", "5.ef" },
	{ "csrf too long", "application/x-www-form-urlencoded",
	    "action=list&csrf=0123456789012345678901234567890123456789"
	    "01234567890123456789012345678901234567890123456789012345",
	    false, true, "list", "", "" },
	{ "csrf with a NUL", "application/x-www-form-urlencoded",
	    "action=list&csrf=1%00.ab", false, true, "list", "", "" },
	{ "action with a NUL", "application/x-www-form-urlencoded",
	    "action=opt_in%00x&list=news", false, true, "", "news", "" },
	{ "empty", NULL, "", false, false, "", "", "" },
};

static void
t_form(void **state)
{
	struct unsubd_form f;
	char buf[512];
	size_t i, n;

	(void)state;
	for (i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		n = strlen(forms[i].body);
		memcpy(buf, forms[i].body, n + 1);
		unsubd_form_parse(forms[i].ctype, buf, n, &f);
		if (f.one_click != forms[i].one_click || f.bad != forms[i].bad)
			CASE_FAIL(forms[i].label, "got one_click=%d bad=%d, "
			    "want %d %d", f.one_click, f.bad,
			    forms[i].one_click, forms[i].bad);
		if (strcmp(f.action, forms[i].action) != 0 ||
		    strcmp(f.list, forms[i].list) != 0 ||
		    strcmp(f.csrf, forms[i].csrf) != 0)
			CASE_FAIL(forms[i].label, "got action='%s' list='%s' "
			    "csrf='%s', want '%s' '%s' '%s'", f.action, f.list,
			    f.csrf, forms[i].action, forms[i].list,
			    forms[i].csrf);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_origin_of),
		cmocka_unit_test(t_guard_origin),
		cmocka_unit_test(t_site_origin),
		cmocka_unit_test(t_csrf),
		cmocka_unit_test(t_form),
	};

	return HARNESS_RUN("unsubd_guard", tests);
}
