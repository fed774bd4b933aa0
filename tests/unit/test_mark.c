/*
 * test_mark.c - unit tests for mark.c: one subkey per purpose (a mark made
 * for one purpose verifies as no other), the erased forms (known answers,
 * independent of the token keys), the legacy form of the old scheme, and
 * release/split markers bound to one message and a time: every field
 * changed, expired, from the future, malformed values, key rotation.  Key
 * files live in a mkdtemp() directory removed at the end.
 */
#include "autoconf.h"

#include "harness.h"

#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mark.h"
#include "token.h"

/* fixed keys: bytes 1..32, and 101..132 */
#define KEY_A	"AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA="
#define KEY_B	"ZWZnaGlqa2xtbm9wcXJzdHV2d3h5ent8fX5/gIGCg4Q="
#define NOW	1767225600LL

static char tmpdir[64];
static unsigned nfiles;

/* ring_text - a ring from key file text (mode 0600) or fail */
static struct token_ring *
ring_text(const char *text)
{
	struct token_ring *r;
	char path[128], why[256];
	int fd;

	snprintf(path, sizeof(path), "%s/keys%u", tmpdir, nfiles++);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	if ((r = token_ring_load(path, why, sizeof(why))) == NULL)
		fail_msg("ring load: %s", why);
	return r;
}

static void
t_purposes(void **state)
{
	static const enum mark_purpose makers[] = { MARK_RELEASE, MARK_SPLIT,
	    MARK_LOG };
	struct token_ring *a, *ab, *b;
	const char *data = "release|news|bob@example.com";
	char mac[MARK_HEX_MAX], mac2[MARK_HEX_MAX];
	size_t i, j;

	(void)state;
	a = ring_text("1 " KEY_A "\n");
	ab = ring_text("1 " KEY_A "\n2 " KEY_B "\n");
	b = ring_text("2 " KEY_B "\n");
	for (i = 0; i < sizeof(makers) / sizeof(makers[0]); i++) {
		assert_int_equal(mark_make(a, makers[i], data, strlen(data),
		    mac), 0);
		assert_int_equal(strlen(mac), 64);
		assert_true(mark_check(a, makers[i], data, strlen(data), mac));
		/* an old key still verifies; another key does not */
		assert_true(mark_check(ab, makers[i], data, strlen(data),
		    mac));
		assert_false(mark_check(b, makers[i], data, strlen(data),
		    mac));
		assert_false(mark_check(a, makers[i], data, strlen(data) - 1,
		    mac));
		/* the newest key makes */
		assert_int_equal(mark_make(ab, makers[i], data, strlen(data),
		    mac2), 0);
		assert_false(mark_check(a, makers[i], data, strlen(data),
		    mac2));
		assert_true(mark_check(b, makers[i], data, strlen(data),
		    mac2));
		/* never valid for another purpose */
		for (j = 0; j < sizeof(makers) / sizeof(makers[0]); j++)
			if (j != i && mark_check(ab, makers[j], data,
			    strlen(data), mac))
				CASE_FAIL(mark_label(makers[i]), "verifies as "
				    "%s", mark_label(makers[j]));
	}
	/* the erased purposes have mark_erased() only */
	assert_int_equal(mark_make(a, MARK_ERASURE, data, 1, mac), -1);
	assert_int_equal(mark_make(a, MARK_LEGACY, data, 1, mac), -1);
	assert_false(mark_check(a, MARK_ERASURE, data, strlen(data), mac));
	assert_int_equal(mark_make(NULL, MARK_RELEASE, data, 1, mac), -1);
	assert_false(mark_check(a, MARK_RELEASE, data, strlen(data), ""));
	assert_false(mark_check(a, MARK_RELEASE, data, strlen(data), NULL));
	/* labels differ pairwise */
	for (i = 0; i < MARK_NPURPOSES; i++)
		for (j = i + 1; j < MARK_NPURPOSES; j++)
			assert_string_not_equal(mark_label(i), mark_label(j));
	token_ring_free(&a);
	token_ring_free(&ab);
	token_ring_free(&b);
}

static void
t_erased(void **state)
{
	/* known answers: HMAC-SHA256(HKDF-SHA256(KEY_A, label), address),
	 * computed independently with Python's hmac and hashlib */
	static const struct {
		const char *label;
		bool legacy;
		const char *addr, *want;
	} cases[] = {
		{ "current form", false, "ann@example.com", "erased:1:"
		  "5c726a684ca4898a603e96700c711de08bdfbef6c32695c3b27e59c3892d32b5" },
		{ "legacy form (old split-mark subkey)", true, "ann@example.com",
		  "hmac:"
		  "214162b066d060cf3cf680bbd430ee94df8c732dc5279dda8b71d4db82485b24" },
	};
	struct token_ring *a, *ab;
	char out[MARK_ERASED_MAX], again[MARK_ERASED_MAX];
	char value[MARK_VALUE_MAX];
	struct mark_msg m;
	size_t i;

	(void)state;
	a = ring_text("1 " KEY_A "\n");
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (mark_erased(a, 0, cases[i].legacy, cases[i].addr, out) < 0)
			CASE_FAIL(cases[i].label, "got -1, want %s",
			    cases[i].want);
		else if (strcmp(out, cases[i].want) != 0)
			CASE_FAIL(cases[i].label, "got %s, want %s", out,
			    cases[i].want);
	}
	/* a token key rotation does not touch an erasure ring: the form
	 * depends on its own key only, and names the key id */
	ab = ring_text("1 " KEY_A "\n2 " KEY_B "\n");
	assert_int_equal(mark_erased(ab, 0, false, "ann@example.com", again),
	    0);
	assert_string_equal(again, cases[0].want);
	assert_int_equal(mark_erased(ab, 1, false, "ann@example.com", again),
	    0);
	assert_memory_equal(again, "erased:2:", 9);
	assert_int_equal(mark_erased(ab, 2, false, "ann@example.com", again),
	    -1);
	assert_int_equal(mark_erased(NULL, 0, false, "a@b.c", again), -1);

	/* issue 10, 0c: the erased form of the crafted "address" is no
	 * release or split mark of that text, even with one key file for
	 * both (the worst configuration) */
	assert_int_equal(mark_erased(a, 0, false, "release|news|bob@example.com",
	    out), 0);
	assert_false(mark_check(a, MARK_RELEASE, "release|news|bob@example.com",
	    28, strrchr(out, ':') + 1));
	assert_false(mark_check(a, MARK_SPLIT, "release|news|bob@example.com",
	    28, strrchr(out, ':') + 1));
	/* nor a message marker with that MAC */
	memset(&m, 0, sizeof(m));
	snprintf(value, sizeof(value), "v=2; q=Q1; id=1; t=%lld; x=%lld; "
	    "list=news; mac=%s", NOW, NOW + 60, strrchr(out, ':') + 1);
	m.rcpt = "bob@example.com";
	assert_int_equal(mark_msg_verify(a, MARK_RELEASE, value, &m, NOW),
	    MARK_BAD);
	token_ring_free(&a);
	token_ring_free(&ab);
}

/* the message every marker case starts from */
static void
base_msg(struct mark_msg *m)
{
	memset(m, 0, sizeof(*m));
	snprintf(m->qid, sizeof(m->qid), "4XyZ1");
	snprintf(m->list, sizeof(m->list), "news");
	m->qrow = 42;
	m->issued = NOW;
	m->expires = NOW + MARK_RELEASE_LIFETIME;
	m->sender = "news@example.com";
	m->rcpt = "bob@example.com";
	m->message_id = "<held-1@example.com>";
	m->body = "held back\r\n";
	m->bodylen = 11;
}

static void
t_message(void **state)
{
	static const struct {
		const char *label;
		int change;		/* what differs at verification */
		long long now;
		enum mark_status want;
	} cases[] = {
		{ "same message", 0, NOW, MARK_OK },
		{ "same message, Message-ID folded", 1, NOW, MARK_OK },
		{ "just before expiry", 0, NOW + MARK_RELEASE_LIFETIME, MARK_OK },
		{ "expired", 0, NOW + MARK_RELEASE_LIFETIME + 1, MARK_EXPIRED },
		{ "issued in the future", 0, NOW - MARK_CLOCK_SKEW - 1,
		  MARK_BAD },
		{ "clock a little behind", 0, NOW - MARK_CLOCK_SKEW, MARK_OK },
		{ "another recipient", 2, NOW, MARK_BAD },
		{ "another Message-ID", 3, NOW, MARK_BAD },
		{ "no Message-ID", 4, NOW, MARK_BAD },
		{ "another body", 5, NOW, MARK_BAD },
		{ "another sender", 6, NOW, MARK_BAD },
		{ "checked as a split marker", 7, NOW, MARK_BAD },
		{ "another key", 8, NOW, MARK_BAD },
		{ "a newer key added", 9, NOW, MARK_OK },
	};
	struct token_ring *a, *b, *ab, *ring;
	char value[MARK_VALUE_MAX], why[128];
	struct mark_msg m, v;
	enum mark_status got;
	size_t i;

	(void)state;
	a = ring_text("1 " KEY_A "\n");
	b = ring_text("2 " KEY_B "\n");
	ab = ring_text("1 " KEY_A "\n2 " KEY_B "\n");
	base_msg(&m);
	assert_true(mark_msg_make(a, MARK_RELEASE, &m, value, sizeof(value),
	    why, sizeof(why)) > 0);
	assert_true(strlen(value) < MARK_VALUE_MAX);
	assert_memory_equal(value, "v=2; q=4XyZ1; id=42; t=1767225600; "
	    "x=1767229200; list=news; mac=", 63);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		base_msg(&v);
		v.qid[0] = v.list[0] = '\0';
		v.qrow = v.issued = v.expires = 0;
		ring = a;
		switch (cases[i].change) {
		case 1: v.message_id = " <held-1@example.com>\r\n "; break;
		case 2: v.rcpt = "carol@example.com"; break;
		case 3: v.message_id = "<held-2@example.com>"; break;
		case 4: v.message_id = NULL; break;
		case 5: v.body = "held back!\r\n"; v.bodylen = 12; break;
		case 6: v.sender = "crm@example.com"; break;
		case 8: ring = b; break;
		case 9: ring = ab; break;
		}
		got = mark_msg_verify(ring, cases[i].change == 7 ? MARK_SPLIT :
		    MARK_RELEASE, value, &v, cases[i].now);
		if (got != cases[i].want)
			CASE_FAIL(cases[i].label, "got %s, want %s",
			    mark_status_str(got),
			    mark_status_str(cases[i].want));
		if (got == MARK_OK && (strcmp(v.qid, "4XyZ1") != 0 ||
		    v.qrow != 42 || strcmp(v.list, "news") != 0))
			CASE_FAIL(cases[i].label, "carried fields not read "
			    "back: q=%s id=%lld list=%s", v.qid, v.qrow,
			    v.list);
	}
	/* making refuses what it cannot bind */
	base_msg(&m);
	snprintf(m.qid, sizeof(m.qid), "4X yZ");
	assert_int_equal(mark_msg_make(a, MARK_RELEASE, &m, value,
	    sizeof(value), why, sizeof(why)), -1);
	base_msg(&m);
	m.expires = m.issued + MARK_LIFETIME_MAX + 1;
	assert_int_equal(mark_msg_make(a, MARK_RELEASE, &m, value,
	    sizeof(value), why, sizeof(why)), -1);
	base_msg(&m);
	assert_int_equal(mark_msg_make(a, MARK_ERASURE, &m, value,
	    sizeof(value), why, sizeof(why)), -1);
	assert_int_equal(mark_msg_make(NULL, MARK_SPLIT, &m, value,
	    sizeof(value), why, sizeof(why)), -1);
	assert_int_equal(mark_msg_make(a, MARK_SPLIT, &m, value, 40, why,
	    sizeof(why)), -1);
	token_ring_free(&a);
	token_ring_free(&b);
	token_ring_free(&ab);
}

static void
t_malformed(void **state)
{
	static const struct {
		const char *label, *fmt;	/* %s: a valid MAC */
		enum mark_status want;
	} cases[] = {
		{ "valid, fields reordered", "mac=%s; list=news; x=1767229200; "
		  "t=1767225600; id=42; q=4XyZ1; v=2", MARK_OK },
		{ "valid, folded", "v=2; q=4XyZ1;\r\n id=42; t=1767225600; "
		  "x=1767229200; list=news;\r\n\tmac=%s", MARK_OK },
		{ "old format", "list=news; mac=%s", MARK_MALFORMED },
		{ "version 1", "v=1; q=4XyZ1; id=42; t=1767225600; "
		  "x=1767229200; list=news; mac=%s", MARK_MALFORMED },
		{ "field twice", "v=2; q=4XyZ1; id=42; id=42; t=1767225600; "
		  "x=1767229200; list=news; mac=%s", MARK_MALFORMED },
		{ "unknown field", "v=2; q=4XyZ1; id=42; t=1767225600; "
		  "x=1767229200; list=news; y=1; mac=%s", MARK_MALFORMED },
		{ "no expiry", "v=2; q=4XyZ1; id=42; t=1767225600; list=news; "
		  "mac=%s", MARK_MALFORMED },
		{ "MAC too long", "v=2; q=4XyZ1; id=42; t=1767225600; "
		  "x=1767229200; list=news; mac=%sAB", MARK_MALFORMED },
		{ "space in a value", "v=2; q=4XyZ1; id=4 2; t=1767225600; "
		  "x=1767229200; list=news; mac=%s", MARK_MALFORMED },
		{ "negative row", "v=2; q=4XyZ1; id=-42; t=1767225600; "
		  "x=1767229200; list=news; mac=%s", MARK_MALFORMED },
		{ "bad list", "v=2; q=4XyZ1; id=42; t=1767225600; "
		  "x=1767229200; list=ne/ws; mac=%s", MARK_MALFORMED },
		{ "expiry moved", "v=2; q=4XyZ1; id=42; t=1767225600; "
		  "x=1767229201; list=news; mac=%s", MARK_BAD },
		{ "row moved", "v=2; q=4XyZ1; id=43; t=1767225600; "
		  "x=1767229200; list=news; mac=%s", MARK_BAD },
		{ "list moved", "v=2; q=4XyZ1; id=42; t=1767225600; "
		  "x=1767229200; list=promo; mac=%s", MARK_BAD },
		{ "queue id moved", "v=2; q=4XyZ2; id=42; t=1767225600; "
		  "x=1767229200; list=news; mac=%s", MARK_BAD },
		{ "empty", "", MARK_MALFORMED },
	};
	struct token_ring *a;
	char value[MARK_VALUE_MAX], text[600], why[128];
	const char *p;
	struct mark_msg m, v;
	enum mark_status got;
	size_t i;

	(void)state;
	a = ring_text("1 " KEY_A "\n");
	base_msg(&m);
	assert_true(mark_msg_make(a, MARK_RELEASE, &m, value, sizeof(value),
	    why, sizeof(why)) > 0);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		/* cases[i].fmt with its "%s" replaced by the MAC */
		p = strstr(cases[i].fmt, "%s");
		snprintf(text, sizeof(text), "%.*s%s%s", p != NULL ?
		    (int)(p - cases[i].fmt) : (int)strlen(cases[i].fmt),
		    cases[i].fmt, p != NULL ? strstr(value, "mac=") + 4 : "",
		    p != NULL ? p + 2 : "");
		base_msg(&v);
		got = mark_msg_verify(a, MARK_RELEASE, text, &v, NOW);
		if (got != cases[i].want)
			CASE_FAIL(cases[i].label, "got %s, want %s",
			    mark_status_str(got),
			    mark_status_str(cases[i].want));
	}
	base_msg(&v);
	assert_int_equal(mark_msg_verify(a, MARK_RELEASE, NULL, &v, NOW),
	    MARK_MALFORMED);
	token_ring_free(&a);
}

static void
t_misc(void **state)
{
	(void)state;
	assert_string_equal(mark_status_str(MARK_OK), "ok");
	assert_string_equal(mark_status_str(MARK_MALFORMED), "malformed");
	assert_string_equal(mark_status_str(MARK_BAD), "bad");
	assert_string_equal(mark_status_str(MARK_EXPIRED), "expired");
	assert_null(mark_label(MARK_NPURPOSES));
}

/* setup_tmp / cleanup_tmp - the key file directory */
static int
setup_tmp(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_mark.XXXXXX");
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int
cleanup_tmp(void **state)
{
	char path[128];
	unsigned i;

	(void)state;
	for (i = 0; i < nfiles; i++) {
		snprintf(path, sizeof(path), "%s/keys%u", tmpdir, i);
		(void)unlink(path);
	}
	(void)rmdir(tmpdir);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_purposes),
		cmocka_unit_test(t_erased),
		cmocka_unit_test(t_message),
		cmocka_unit_test(t_malformed),
		cmocka_unit_test(t_misc),
	};
	int rc;

	if (setup_tmp(NULL) < 0)
		return 1;
	rc = HARNESS_RUN("mark", tests);
	(void)cleanup_tmp(NULL);
	return rc;
}
