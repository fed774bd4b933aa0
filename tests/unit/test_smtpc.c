/*
 * test_smtpc.c - the re-injection channel's SMTP client (milter/core/smtpc.c):
 * dot-stuffing on the wire (RFC 5321 4.5.2), reply parsing (4.2), the
 * address syntax, and one conversation with a scripted server on a unix
 * socket that checks the exact bytes the client writes (null sender,
 * BODY=8BITMIME, SMTPUTF8, RSET after a refused RCPT, a dot-stuffed body,
 * QUIT) and what each outcome is; a server that closes before the final
 * dot leaves the copy not taken (SMTPC_LOST), after it ambiguous
 * (SMTPC_UNKNOWN).  The channel's one reconnect per message (reinject.c)
 * over a server that drops the connection before or after a final dot.
 */
#include "autoconf.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "config.h"
#include "harness.h"
#include "reinject.h"
#include "smtpc.h"

static const struct {
	const char *label;
	const char *in[3];		/* pieces, NULL-terminated */
	const char *want;
} stuff_cases[] = {
	{ "nothing to stuff", { "a\r\nb\r\n", NULL }, "a\r\nb\r\n" },
	{ "dot at the start", { ".x\r\n", NULL }, "..x\r\n" },
	{ "lone dot line", { "a\r\n.\r\nb\r\n", NULL }, "a\r\n..\r\nb\r\n" },
	{ "dot inside a line", { "a.b\r\n.\r\n", NULL }, "a.b\r\n..\r\n" },
	{ "two dots", { "..\r\n", NULL }, "...\r\n" },
	{ "bare LF starts a line", { "a\n.b\n", NULL }, "a\n..b\n" },
	{ "line across pieces", { "a\r\n", ".b", "\r\n.c" },
	  "a\r\n..b\r\n..c" },
	{ "dot after a cut mid-line", { "ab", ".c\r\n", NULL }, "ab.c\r\n" },
	{ "8-bit kept", { "\xc3\xa9\r\n.\xff\r\n", NULL },
	  "\xc3\xa9\r\n..\xff\r\n" },
	{ "empty", { "", NULL }, "" },
};

static void
test_dot_stuff(void **state)
{
	size_t i, k;

	(void)state;
	for (i = 0; i < sizeof(stuff_cases) / sizeof(stuff_cases[0]); i++) {
		struct buf out = { NULL, 0, 0 };
		bool bol = true;

		for (k = 0; k < 3 && stuff_cases[i].in[k] != NULL; k++)
			assert_int_equal(smtpc_dot_stuff(&out,
			    stuff_cases[i].in[k], strlen(stuff_cases[i].in[k]),
			    &bol), 0);
		if (out.len != strlen(stuff_cases[i].want) || (out.len > 0 &&
		    memcmp(out.data, stuff_cases[i].want, out.len) != 0))
			CASE_FAIL(stuff_cases[i].label, "got '%.*s', want '%s'",
			    (int)out.len, out.data ? (char *)out.data : "",
			    stuff_cases[i].want);
		buf_free(&out);
	}
}

static const struct {
	const char *label, *in;
	long want_len;
	int want_code;
} reply_cases[] = {
	{ "one line", "250 ok\r\n", 8, 250 },
	{ "LF only", "250 ok\n", 7, 250 },
	{ "code only", "354\r\n", 5, 354 },
	{ "multi-line", "250-a\r\n250-b\r\n250 c\r\nnext", 21, 250 },
	{ "incomplete line", "250 o", 0, 0 },
	{ "incomplete multi-line", "250-a\r\n250", 0, 0 },
	{ "empty", "", 0, 0 },
	{ "451 with text", "451 4.3.0 try later\r\n", 21, 451 },
	{ "codes differ", "250-a\r\n251 b\r\n", -1, 0 },
	{ "no code", "hello\r\n", -1, 0 },
	{ "code 1xx", "199 x\r\n", -1, 0 },
	{ "bad separator", "250xok\r\n", -1, 0 },
	{ "short line", "25\r\n", -1, 0 },
};

static void
test_reply_len(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(reply_cases) / sizeof(reply_cases[0]); i++) {
		int code = 0;
		long n = smtpc_reply_len(reply_cases[i].in,
		    strlen(reply_cases[i].in), &code);

		if (n != reply_cases[i].want_len || (n > 0 && code !=
		    reply_cases[i].want_code))
			CASE_FAIL(reply_cases[i].label, "got %ld/%d, want "
			    "%ld/%d", n, code, reply_cases[i].want_len,
			    reply_cases[i].want_code);
	}
}

static const struct {
	const char *label, *in;
	int want;
} addr_cases[] = {
	{ "inet", "inet:10025@127.0.0.1", 0 },
	{ "inet6", "inet6:10025@::1", 0 },
	{ "unix", "unix:/run/postfix-reinject.sock", 0 },
	{ "local", "local:/x", 0 },
	{ "a name", "inet:25@localhost", -1 },
	{ "no port", "inet:@127.0.0.1", -1 },
	{ "port 0", "inet:0@127.0.0.1", -1 },
	{ "port too big", "inet:65536@127.0.0.1", -1 },
	{ "relative path", "unix:run/x", -1 },
	{ "host:port", "127.0.0.1:25", -1 },
	{ "v6 under inet", "inet:25@::1", -1 },
};

static void
test_addr(void **state)
{
	char why[300];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(addr_cases) / sizeof(addr_cases[0]); i++)
		if (smtpc_addr_check(addr_cases[i].in, why, sizeof(why)) !=
		    addr_cases[i].want)
			CASE_FAIL(addr_cases[i].label, "got %d, want %d",
			    -1 - addr_cases[i].want, addr_cases[i].want);
}

/* The scripted server: for each line the client sends, the reply; the
 * lines of data are not answered until the final dot. */
struct server {
	int lfd;
	const char *close_on;		/* close, unanswered, at this line */
	int close_nth;			/* ... at its close_nth occurrence
					   (0: the first) on the first
					   connection, the first on later
					   ones */
	int close_conns;		/* on this many connections (0: 1) */
	int conns;			/* connections to serve (0: 1) */
	char log[8192];			/* everything the client wrote */
	size_t loglen;
	char taken[256];		/* recipients whose final dot got
					   250, space-separated */
};

static const char *
answer(const char *line, bool *in_data)
{
	if (*in_data) {
		if (strcmp(line, ".\r\n") != 0)
			return NULL;
		*in_data = false;
		return "250 2.0.0 queued\r\n";
	}
	if (strncmp(line, "EHLO", 4) == 0)
		return "250-sink\r\n250-PIPELINING\r\n250-8BITMIME\r\n"
		    "250 SMTPUTF8\r\n";
	if (strstr(line, "<refuse@x>") != NULL)
		return "451 4.7.1 not now\r\n";
	if (strncmp(line, "DATA", 4) == 0) {
		/* after a refused RCPT: Postfix says 554 */
		return NULL;
	}
	if (strncmp(line, "QUIT", 4) == 0)
		return "221 bye\r\n";
	return "250 ok\r\n";
}

/* serve_one - one SMTP connection; false when it was closed at close_on */
static bool
serve_one(struct server *sv, int fd, bool may_close, int nth)
{
	char line[1024], rcpt[128] = "";
	size_t ll = 0;
	bool in_data = false, refused = false;
	int seen = 0;
	char ch;

	(void)!write(fd, "220 test\r\n", 10);
	while (read(fd, &ch, 1) == 1) {
		const char *a;

		if (sv->loglen < sizeof(sv->log))
			sv->log[sv->loglen++] = ch;
		if (ll < sizeof(line) - 1)
			line[ll++] = ch;
		if (ch != '\n')
			continue;
		line[ll] = '\0';
		ll = 0;
		if (may_close && sv->close_on != NULL &&
		    strcmp(line, sv->close_on) == 0 && seen++ == nth)
			return false;
		if (strncmp(line, "RCPT", 4) == 0 && !in_data) {
			refused = strstr(line, "<refuse@x>") != NULL;
			snprintf(rcpt, sizeof(rcpt), "%.*s",
			    (int)strcspn(line + 9, ">"), line + 9);
		}
		if (!in_data && strncmp(line, "DATA", 4) == 0) {
			if (refused)
				a = "554 5.5.1 no valid recipients\r\n";
			else {
				a = "354 go\r\n";
				in_data = true;
			}
		} else {
			bool was_data = in_data;

			a = answer(line, &in_data);
			if (was_data && !in_data)
				snprintf(sv->taken + strlen(sv->taken),
				    sizeof(sv->taken) - strlen(sv->taken),
				    "%s%s", sv->taken[0] != '\0' ? " " : "",
				    rcpt);
		}
		if (a != NULL)
			(void)!write(fd, a, strlen(a));
		if (strncmp(line, "QUIT", 4) == 0 && !in_data)
			break;
	}
	return true;
}

static void *
serve(void *arg)
{
	struct server *sv = arg;
	int i, fd, closed = 0;

	for (i = 0; i < (sv->conns > 0 ? sv->conns : 1); i++) {
		if ((fd = accept(sv->lfd, NULL, NULL)) < 0)
			return NULL;
		if (!serve_one(sv, fd, closed <
		    (sv->close_conns > 0 ? sv->close_conns : 1),
		    closed == 0 ? sv->close_nth : 0))
			closed++;
		(void)close(fd);
	}
	return NULL;
}

static void
test_conversation(void **state)
{
	struct server sv;
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char spec[128], why[512];
	struct iovec iov[2];
	struct smtpc *s;
	pthread_t th;
	const char *want =
	    "EHLO localhost\r\n"
	    "MAIL FROM:<>\r\nRCPT TO:<ann@example.com>\r\nDATA\r\n"
	    "Subject: x\r\n\r\n..dot\r\nend\r\n.\r\n"
	    "MAIL FROM:<bounce+t@x> BODY=8BITMIME SMTPUTF8\r\n"
	    "RCPT TO:<j\xc3\xb6@x>\r\nDATA\r\n"
	    "\xc3\xa9\r\nno final newline\r\n.\r\n"
	    "MAIL FROM:<a@x> BODY=8BITMIME\r\nRCPT TO:<refuse@x>\r\nDATA\r\nRSET\r\n"
	    "QUIT\r\n";

	(void)state;
	memset(&sv, 0, sizeof(sv));
	snprintf(sun.sun_path, sizeof(sun.sun_path), "/tmp/test_smtpc.%d",
	    (int)getpid());
	(void)unlink(sun.sun_path);
	sv.lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(sv.lfd >= 0);
	assert_int_equal(bind(sv.lfd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(listen(sv.lfd, 1), 0);
	assert_int_equal(pthread_create(&th, NULL, serve, &sv), 0);
	snprintf(spec, sizeof(spec), "unix:%s", sun.sun_path);
	s = smtpc_open(spec, "localhost", 10, why, sizeof(why));
	assert_non_null(s);

	iov[0].iov_base = "Subject: x\r\n\r\n";
	iov[0].iov_len = strlen(iov[0].iov_base);
	iov[1].iov_base = ".dot\r\nend\r\n";
	iov[1].iov_len = strlen(iov[1].iov_base);
	assert_int_equal(smtpc_send(s, NULL, "ann@example.com", iov, 2, why,
	    sizeof(why)), SMTPC_OK);

	iov[0].iov_base = "\xc3\xa9\r\nno final newline";
	iov[0].iov_len = strlen(iov[0].iov_base);
	assert_int_equal(smtpc_send(s, "bounce+t@x", "j\xc3\xb6@x", iov, 1,
	    why, sizeof(why)), SMTPC_OK);

	assert_int_equal(smtpc_send(s, "a@x", "refuse@x", iov, 1, why,
	    sizeof(why)), SMTPC_REFUSED);
	if (strcmp(why, "RCPT: 451 4.7.1 not now") != 0)
		CASE_FAIL("refused RCPT", "got why '%s'", why);
	assert_true(smtpc_alive(s));
	smtpc_close(&s);
	assert_null(s);
	(void)pthread_join(th, NULL);
	(void)close(sv.lfd);
	(void)unlink(sun.sun_path);
	sv.log[sv.loglen < sizeof(sv.log) ? sv.loglen : sizeof(sv.log) - 1] =
	    '\0';
	if (strcmp(sv.log, want) != 0)
		CASE_FAIL("wire bytes", "got\n%s\nwant\n%s", sv.log, want);

	/* nothing listening: no handle, the reason names the address */
	s = smtpc_open(spec, "localhost", 2, why, sizeof(why));
	assert_null(s);
	if (strstr(why, spec) == NULL)
		CASE_FAIL("refused connect", "got why '%s'", why);
}

/* lost - the server closes at line close_on: the copy's outcome */
static enum smtpc_status
lost(const char *close_on)
{
	struct server sv;
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char spec[128], why[512];
	struct iovec iov;
	enum smtpc_status st;
	struct smtpc *s;
	pthread_t th;

	iov.iov_base = "Subject: x\r\n\r\nbody\r\n";
	iov.iov_len = strlen(iov.iov_base);
	memset(&sv, 0, sizeof(sv));
	sv.close_on = close_on;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "/tmp/test_smtpc_l.%d",
	    (int)getpid());
	(void)unlink(sun.sun_path);
	sv.lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(bind(sv.lfd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(listen(sv.lfd, 1), 0);
	assert_int_equal(pthread_create(&th, NULL, serve, &sv), 0);
	snprintf(spec, sizeof(spec), "unix:%s", sun.sun_path);
	s = smtpc_open(spec, "localhost", 10, why, sizeof(why));
	assert_non_null(s);
	st = smtpc_send(s, "a@x", "b@x", &iov, 1, why, sizeof(why));
	assert_false(smtpc_alive(s));
	smtpc_close(&s);
	(void)pthread_join(th, NULL);
	(void)close(sv.lfd);
	(void)unlink(sun.sun_path);
	return st;
}

static const struct {
	const char *label, *close_on;
	enum smtpc_status want;
} lost_cases[] = {
	{ "closed at MAIL", "MAIL FROM:<a@x>\r\n", SMTPC_LOST },
	{ "closed at DATA", "DATA\r\n", SMTPC_LOST },
	{ "closed after the final dot", ".\r\n", SMTPC_UNKNOWN },
};

static void
test_lost(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(lost_cases) / sizeof(lost_cases[0]); i++) {
		enum smtpc_status st = lost(lost_cases[i].close_on);

		if (st != lost_cases[i].want)
			CASE_FAIL(lost_cases[i].label, "got %d, want %d",
			    (int)st, (int)lost_cases[i].want);
	}
}

/* The channel's one reconnect (reinject.c): copies to a@x, b@x and c@x
 * over a server that closes the connection, unanswered, at the close_nth
 * occurrence of close_on, on the first close_conns connections. */
static const struct {
	const char *label, *close_on;
	int close_nth, close_conns, conns;
	enum reinject_status want[3];	/* a@x, b@x, c@x */
	const char *taken;		/* final dots the server took */
} reinject_cases[] = {
	{ "lost before b's dot: b again on a new connection", "DATA\r\n", 1, 1,
	  2, { REINJECT_OK, REINJECT_OK, REINJECT_OK }, "a@x b@x c@x" },
	{ "lost at b's MAIL: the same", "MAIL FROM:<s@x>\r\n", 1, 1, 2,
	  { REINJECT_OK, REINJECT_OK, REINJECT_OK }, "a@x b@x c@x" },
	{ "lost after b's dot: b unknown, c on the reconnect", ".\r\n", 1, 1,
	  2, { REINJECT_OK, REINJECT_UNKNOWN, REINJECT_OK }, "a@x c@x" },
	{ "lost again after the reconnect: b and c fail", "DATA\r\n", 1, 2, 2,
	  { REINJECT_OK, REINJECT_FAILED, REINJECT_FAILED }, "a@x" },
	{ "unknown, then unknown again: nothing sent twice", ".\r\n", 1, 2, 2,
	  { REINJECT_OK, REINJECT_UNKNOWN, REINJECT_UNKNOWN }, "a@x" },
};

static void
test_reinject(void **state)
{
	static const char *const rcpts[] = { "a@x", "b@x", "c@x" };
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct config cfg;
	struct reinject ri;
	struct server sv;
	char spec[128], why[512];
	struct iovec iov;
	pthread_t th;
	size_t i, j;

	(void)state;
	iov.iov_base = "Subject: x\r\n\r\nbody\r\n";
	iov.iov_len = strlen(iov.iov_base);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "/tmp/test_smtpc_r.%d",
	    (int)getpid());
	snprintf(spec, sizeof(spec), "unix:%s", sun.sun_path);
	for (i = 0; i < sizeof(reinject_cases) / sizeof(reinject_cases[0]);
	    i++) {
		memset(&sv, 0, sizeof(sv));
		sv.close_on = reinject_cases[i].close_on;
		sv.close_nth = reinject_cases[i].close_nth;
		sv.close_conns = reinject_cases[i].close_conns;
		sv.conns = reinject_cases[i].conns;
		(void)unlink(sun.sun_path);
		sv.lfd = socket(AF_UNIX, SOCK_STREAM, 0);
		assert_int_equal(bind(sv.lfd, (struct sockaddr *)&sun,
		    sizeof(sun)), 0);
		assert_int_equal(listen(sv.lfd, 2), 0);
		assert_int_equal(pthread_create(&th, NULL, serve, &sv), 0);
		memset(&cfg, 0, sizeof(cfg));
		cfg.resubmit_address = spec;
		cfg.resubmit_timeout = 10;
		assert_int_equal(reinject_open(&ri, &cfg, "TESTQID", why,
		    sizeof(why)), 0);
		for (j = 0; j < 3; j++) {
			enum reinject_status st = reinject_copy(&ri, "s@x",
			    rcpts[j], &iov, 1, why, sizeof(why));

			if (st != reinject_cases[i].want[j])
				CASE_FAIL(reinject_cases[i].label,
				    "copy to %s: got %d, want %d (%s)",
				    rcpts[j], (int)st,
				    (int)reinject_cases[i].want[j], why);
		}
		reinject_close(&ri);
		reinject_close(&ri);
		/* a connection the client never opened is not waited for */
		(void)shutdown(sv.lfd, SHUT_RDWR);
		(void)pthread_join(th, NULL);
		(void)close(sv.lfd);
		if (strcmp(sv.taken, reinject_cases[i].taken) != 0)
			CASE_FAIL(reinject_cases[i].label, "taken '%s', want '%s'",
			    sv.taken, reinject_cases[i].taken);
	}
	(void)unlink(sun.sun_path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dot_stuff),
		cmocka_unit_test(test_reply_len),
		cmocka_unit_test(test_addr),
		cmocka_unit_test(test_conversation),
		cmocka_unit_test(test_lost),
		cmocka_unit_test(test_reinject),
	};

	return HARNESS_RUN("test_smtpc", tests);
}
