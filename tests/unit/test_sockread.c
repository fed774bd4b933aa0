/*
 * test_sockread.c - buffered reads on accepted sockets (milter/util/sockread.c).
 *
 * A unix socket is listened on, connected to and accepted (after
 * sockread_enable(), so the accepted end is buffered); the peer writes,
 * the accepted end is read the way libmilter reads a command (poll, then
 * read of the 5-byte length and command, poll, read of the data).  Each
 * case checks the exact bytes, what poll() reports and how many read(2)
 * system calls were made (sockread_counts).
 */
#include "autoconf.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "harness.h"
#include "sockread.h"

struct pair {
	int lfd, peer, fd;		/* listener, MTA end, milter end */
	char dir[64];
};

static void
pair_open(struct pair *p)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };

	snprintf(p->dir, sizeof(p->dir), "/tmp/test_sockread.XXXXXX");
	assert_non_null(mkdtemp(p->dir));
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/s", p->dir);
	p->lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(p->lfd >= 0);
	assert_int_equal(bind(p->lfd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(listen(p->lfd, 4), 0);
	p->peer = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(connect(p->peer, (struct sockaddr *)&sun,
	    sizeof(sun)), 0);
	p->fd = accept(p->lfd, NULL, NULL);
	assert_true(p->fd >= 0);
}

static void
pair_close(struct pair *p)
{
	char path[80];

	if (p->fd >= 0)
		close(p->fd);
	if (p->peer >= 0)
		close(p->peer);
	close(p->lfd);
	snprintf(path, sizeof(path), "%s/s", p->dir);
	unlink(path);
	rmdir(p->dir);
}

/* readiness - poll's revents for fd, without waiting */
static short
readiness(int fd)
{
	struct pollfd pf = { fd, POLLIN, 0 };

	if (poll(&pf, 1, 0) <= 0)
		return 0;
	return pf.revents;
}

/* cmd - a milter command: length (4 bytes, network order), code, data */
static size_t
cmd(unsigned char *out, char code, const char *data)
{
	size_t n = strlen(data) + 1;
	unsigned long len = n + 1;

	out[0] = (unsigned char)(len >> 24);
	out[1] = (unsigned char)(len >> 16);
	out[2] = (unsigned char)(len >> 8);
	out[3] = (unsigned char)len;
	out[4] = (unsigned char)code;
	memcpy(out + 5, data, n);
	return 5 + n;
}

static size_t
syscalls(void)
{
	size_t n;

	sockread_counts(&n, NULL);
	return n;
}

/* commands sent in one write: read back with one read(2) */
static void
test_commands(void **state)
{
	static const struct {
		char code;
		const char *data;
	} c[] = {
		{ 'D', "Li\0" }, { 'L', "From\0 a@example.com" },
		{ 'D', "Li\0" }, { 'L', "Subject\0 hi" }, { 'N', "" },
	};
	unsigned char wire[512], got[512];
	struct pair p;
	size_t i, n = 0, at = 0, s0;

	(void)state;
	pair_open(&p);
	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++)
		n += cmd(wire + n, c[i].code, c[i].data);
	assert_int_equal(write(p.peer, wire, n), (ssize_t)n);
	s0 = syscalls();
	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		size_t len;

		if ((readiness(p.fd) & POLLIN) == 0)
			CASE_FAIL(c[i].data, "command %zu: poll does not say "
			    "readable", i);
		assert_int_equal(read(p.fd, got + at, 5), 5);
		len = ((size_t)got[at] << 24 | (size_t)got[at + 1] << 16 |
		    (size_t)got[at + 2] << 8 | got[at + 3]) - 1;
		at += 5;
		assert_true(readiness(p.fd) & POLLIN);
		assert_int_equal(read(p.fd, got + at, len), (ssize_t)len);
		at += len;
	}
	assert_int_equal(at, n);
	assert_memory_equal(got, wire, n);
	if (syscalls() - s0 != 1)
		CASE_FAIL("5 commands in one write", "got %zu read(2) calls, "
		    "want 1", syscalls() - s0);
	/* nothing left: poll waits for the socket again */
	assert_int_equal(readiness(p.fd), 0);
	pair_close(&p);
}

/* a read as large as the buffer goes straight to the caller */
static void
test_large(void **state)
{
	unsigned char *wire = malloc(3 * SOCKREAD_BUF), *got =
	    malloc(3 * SOCKREAD_BUF);
	size_t i, at = 0, s0, n = 3 * SOCKREAD_BUF;
	struct pair p;
	ssize_t k;

	(void)state;
	assert_non_null(wire);
	assert_non_null(got);
	for (i = 0; i < n; i++)
		wire[i] = (unsigned char)(i * 7 + 3);
	pair_open(&p);
	assert_int_equal(write(p.peer, wire, 5), 5);
	assert_int_equal(write(p.peer, wire + 5, n - 5), (ssize_t)(n - 5));
	s0 = syscalls();
	assert_int_equal(read(p.fd, got, 1), 1);
	at = 1;
	while (at < n && (k = read(p.fd, got + at, n - at)) > 0)
		at += (size_t)k;
	assert_int_equal(at, n);
	assert_memory_equal(got, wire, n);
	/* one buffered read, then at most a few direct ones */
	assert_true(syscalls() - s0 <= 4);
	pair_close(&p);
	free(wire);
	free(got);
}

/* the peer's hang-up is reported once the buffered bytes are read */
static void
test_hangup(void **state)
{
	char got[16];
	struct pair p;
	short r;

	(void)state;
	pair_open(&p);
	assert_int_equal(write(p.peer, "0123456789", 10), 10);
	close(p.peer);
	p.peer = -1;
	assert_int_equal(read(p.fd, got, 4), 4);
	r = readiness(p.fd);
	if (r != POLLIN)
		CASE_FAIL("hang-up with 6 bytes buffered", "revents %#x, want "
		    "POLLIN alone", (unsigned)r);
	assert_int_equal(read(p.fd, got + 4, sizeof(got) - 4), 6);
	assert_memory_equal(got, "0123456789", 10);
	assert_true(readiness(p.fd) & (POLLIN | POLLHUP));
	assert_int_equal(read(p.fd, got, sizeof(got)), 0);
	pair_close(&p);
}

/* close drops the buffer: the next connection on the same number starts
 * empty */
static void
test_reuse(void **state)
{
	struct pair p, q;
	char got[8];
	int fd;

	(void)state;
	pair_open(&p);
	assert_int_equal(write(p.peer, "stale bytes", 11), 11);
	assert_int_equal(read(p.fd, got, 2), 2);
	fd = p.fd;
	close(p.fd);
	close(p.peer);
	p.fd = p.peer = -1;
	pair_close(&p);
	pair_open(&q);
	if (q.fd != fd)
		skip();
	assert_int_equal(readiness(q.fd), 0);
	assert_int_equal(write(q.peer, "new", 3), 3);
	assert_int_equal(read(q.fd, got, sizeof(got)), 3);
	assert_memory_equal(got, "new", 3);
	pair_close(&q);
}

/* poll of several descriptors: buffered ones ready at once, others as the
 * kernel says; descriptors not accepted are not buffered */
static void
test_poll_many(void **state)
{
	struct pollfd pf[2];
	int pipefd[2];
	struct pair p;
	char got[4];
	size_t s0;

	(void)state;
	pair_open(&p);
	assert_int_equal(pipe(pipefd), 0);
	assert_int_equal(write(p.peer, "abcd", 4), 4);
	assert_int_equal(read(p.fd, got, 1), 1);
	pf[0] = (struct pollfd){ pipefd[0], POLLIN, 0x7f };
	pf[1] = (struct pollfd){ p.fd, POLLIN, 0 };
	assert_int_equal(poll(pf, 2, 1000), 1);
	assert_int_equal(pf[0].revents, 0);
	assert_int_equal(pf[1].revents, POLLIN);
	assert_int_equal(write(pipefd[1], "x", 1), 1);
	assert_int_equal(poll(pf, 2, 1000), 2);
	assert_int_equal(pf[0].revents, POLLIN);
	s0 = syscalls();
	assert_int_equal(read(pipefd[0], got, 4), 1);
	assert_int_equal(syscalls(), s0);	/* not buffered, not counted */
	close(pipefd[0]);
	close(pipefd[1]);
	pair_close(&p);
}

/* libmilter's listener: a poll of a listening socket comes back within
 * SOCKREAD_LISTEN_MS (0, "look at the stop flag again") however long the
 * caller asked to wait; a waiting connection is reported as before.  The
 * alarm turns a wait of the full hour (the code before) into a failure. */
static void
test_listener_wait(void **state)
{
	struct pollfd pf;
	struct pair p;

	(void)state;
	pair_open(&p);
	alarm(60);
	pf = (struct pollfd){ p.lfd, POLLIN | POLLPRI, 0 };
	assert_int_equal(poll(&pf, 1, 3600 * 1000), 0);
	assert_int_equal(poll(&pf, 1, 3600 * 1000), 0);	/* cached */
	close(p.peer);
	p.peer = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(p.peer >= 0);
	{
		struct sockaddr_un sun = { .sun_family = AF_UNIX };

		snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/s", p.dir);
		assert_int_equal(connect(p.peer, (struct sockaddr *)&sun,
		    sizeof(sun)), 0);
	}
	assert_int_equal(poll(&pf, 1, 3600 * 1000), 1);
	assert_int_equal(pf.revents & POLLIN, POLLIN);
	alarm(0);
	pair_close(&p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_commands),
		cmocka_unit_test(test_large),
		cmocka_unit_test(test_hangup),
		cmocka_unit_test(test_reuse),
		cmocka_unit_test(test_poll_many),
		cmocka_unit_test(test_listener_wait),
	};

	sockread_enable();
	return HARNESS_RUN("test_sockread", tests);
}
