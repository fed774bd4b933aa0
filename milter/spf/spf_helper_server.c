/*
 * spf_helper_server.c - the helper program's side of inbound SPF
 * (optin-spf-helper; spf_helper.c is its main): spf_helper_main() serves
 * requests from optin-milter's spf_inbound.c on the control socket
 * SPF_HELPER_FD (wire format in spf-private.h).
 *
 * Start-up: refuse to run without the control socket, close every other
 * descriptor, drop to "nobody" when root and confirm it, no new
 * privileges, no core files, no file writes.  Then one forked worker per
 * request, at most SPF_HELPER_MAXKIDS at once; each worker sets an alarm
 * and a CPU limit from the time limit, may not fork, evaluates with a
 * fresh libspf2 server (libspf2 has unfixed flaws with hostile records: a
 * fault costs that one child) and answers on the reply socket it was
 * given.  Workers past their deadline are killed; all are reaped.  EOF on
 * the control socket (optin-milter gone) ends the helper.
 *
 * Single-threaded; the environment variable SPF_HELPER_TEST_ENV makes the
 * workers crash, hang or answer garbage, for tests.
 */
#include "autoconf.h"

#include "spf-private.h"	/* first: the libspf2 prelude */

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "monotime.h"

/* One worker child: a verdict being evaluated. */
struct spf_kid {
	pid_t pid;
	time_t deadline;		/* monotonic: SIGKILL after */
};

/* spf_helper_privdrop - become SPF_HELPER_USER when root; 0 or -1 */
static int
spf_helper_privdrop(void)
{
	struct passwd *pw;

	if (getuid() != 0 && geteuid() != 0)
		return 0;
	if ((pw = getpwnam(SPF_HELPER_USER)) == NULL) {
		fprintf(stderr, "optin-spf-helper: no user %s\n",
		    SPF_HELPER_USER);
		return -1;
	}
	if (setgroups(1, &pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 ||
	    setuid(pw->pw_uid) < 0) {
		fprintf(stderr, "optin-spf-helper: cannot become %s: %s\n",
		    SPF_HELPER_USER, strerror(errno));
		return -1;
	}
	if (setuid(0) == 0 || getuid() == 0 || geteuid() == 0) {
		fprintf(stderr, "optin-spf-helper: still root\n");
		return -1;
	}
	return 0;
}

/* spf_helper_limit - set a resource limit, soft and hard */
static void
spf_helper_limit(int resource, rlim_t n)
{
	struct rlimit rl = { .rlim_cur = n, .rlim_max = n };

	(void)setrlimit(resource, &rl);
}

/* spf_helper_reply - send "WORD\0COMMENT\0" on fd */
static void
spf_helper_reply(int fd, enum spf_result r, const char *comment)
{
	char buf[SPF_MSG_MAX];
	size_t wl = strlen(spf_result_str(r)), cl;

	if (comment == NULL)
		comment = "";
	cl = strnlen(comment, sizeof(buf) - wl - 3);
	memcpy(buf, spf_result_str(r), wl + 1);
	memcpy(buf + wl + 1, comment, cl);
	buf[wl + 1 + cl] = '\0';
	(void)send(fd, buf, wl + cl + 2, MSG_NOSIGNAL);
}

/* spf_helper_worker - evaluate one request and answer on fd; never
 * returns.  Runs in a fresh child of the helper. */
static void __attribute__((noreturn))
spf_helper_worker(int fd, const char *req, size_t len, unsigned int tmo_ms)
{
	const char *ip, *helo, *from, *test, *comment = NULL;
	unsigned int secs = (tmo_ms + 999) / 1000 + 1;
	SPF_server_t *srv;
	SPF_request_t *rq;
	SPF_response_t *resp = NULL;
	SPF_errcode_t err;
	struct spf_addr a;
	enum spf_result r;
	size_t l1, l2, l3;

	(void)alarm(secs);
	spf_helper_limit(RLIMIT_CPU, secs);
	spf_helper_limit(RLIMIT_NPROC, 0);
	if ((test = getenv(SPF_HELPER_TEST_ENV)) != NULL) {
		if (strcmp(test, "crash") == 0) {
			(void)signal(SIGSEGV, SIG_DFL);
			(void)raise(SIGSEGV);
			_exit(70);
		}
		if (strcmp(test, "hang") == 0)
			for (;;)
				(void)pause();
		if (strcmp(test, "garbage") == 0) {
			(void)send(fd, "\377bogus", 6, MSG_NOSIGNAL);
			_exit(0);
		}
	}
	/* Three NUL-terminated strings, exactly. */
	ip = req;
	l1 = strnlen(ip, len);
	helo = ip + l1 + 1;
	l2 = l1 < len ? strnlen(helo, len - l1 - 1) : 0;
	from = helo + l2 + 1;
	l3 = l1 + l2 + 2 < len ? strnlen(from, len - l1 - l2 - 2) : 0;
	if (l1 + l2 + l3 + 3 != len || !spf_parse_ip(ip, &a)) {
		spf_helper_reply(fd, SPFR_TEMPERROR, "bad request");
		_exit(0);
	}
	if (*from == '\0')
		from = helo;	/* RFC 7208 §2.4: null sender, use HELO */
	if (*from == '\0') {
		spf_helper_reply(fd, SPFR_NONE, "no identity to check");
		_exit(0);
	}
	SPF_warning_handler = NULL;
	SPF_info_handler = NULL;
	SPF_debug_handler = NULL;
	if ((srv = SPF_server_new(SPF_DNS_RESOLV, 0)) == NULL ||
	    (rq = SPF_request_new(srv)) == NULL) {
		spf_helper_reply(fd, SPFR_TEMPERROR, "out of memory");
		_exit(0);
	}
	err = a.family == AF_INET ? SPF_request_set_ipv4(rq, a.v4) :
	    SPF_request_set_ipv6(rq, a.v6);
	if (err == SPF_E_SUCCESS && *helo != '\0')
		err = SPF_request_set_helo_dom(rq, helo);
	if (err == SPF_E_SUCCESS)
		err = SPF_request_set_env_from(rq, from);
	if (err != SPF_E_SUCCESS) {
		spf_helper_reply(fd, SPFR_NONE, SPF_strerror(err));
		_exit(0);
	}
	err = SPF_request_query_mailfrom(rq, &resp);
	r = spf_map(resp, err);
	if (resp != NULL)
		comment = SPF_response_get_header_comment(resp);
	spf_helper_reply(fd, r, comment);
	_exit(0);
}

/* spf_helper_reap - collect exited children; kill those past deadline */
static void
spf_helper_reap(struct spf_kid *kids, size_t *nkids, bool kill_all)
{
	time_t now = mono_s();
	size_t i;
	pid_t pid;
	int status;

	for (i = 0; i < *nkids; i++)
		if (kill_all || now > kids[i].deadline)
			(void)kill(kids[i].pid, SIGKILL);
	for (i = 0; i < *nkids;) {
		pid = waitpid(kids[i].pid, &status, kill_all ? 0 : WNOHANG);
		if (pid == 0) {
			i++;
			continue;
		}
		kids[i] = kids[--*nkids];
	}
}

int
spf_helper_main(int argc, char **argv)
{
	struct spf_kid kids[SPF_HELPER_MAXKIDS];
	size_t nkids = 0;
	unsigned int tmo_ms = SPF_INBOUND_TIMEOUT_MS;
	int c;

	while ((c = getopt(argc, argv, "t:")) != -1) {
		if (c != 't') {
			fprintf(stderr, "usage: optin-spf-helper [-t ms]\n");
			return 64;
		}
		tmo_ms = (unsigned int)strtoul(optarg, NULL, 10);
		if (tmo_ms == 0 || tmo_ms > 600000)
			tmo_ms = SPF_INBOUND_TIMEOUT_MS;
	}
	if (fcntl(SPF_HELPER_FD, F_GETFD) < 0) {
		fprintf(stderr, "optin-spf-helper: started by optin-milter "
		    "only (no socket on fd %d)\n", SPF_HELPER_FD);
		return 64;
	}
	(void)close_range(SPF_HELPER_FD + 1, ~0U, 0);
	if (spf_helper_privdrop() < 0)
		return 71;
	(void)prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	spf_helper_limit(RLIMIT_CORE, 0);
	spf_helper_limit(RLIMIT_FSIZE, 0);
	(void)signal(SIGPIPE, SIG_IGN);
	if (chdir("/") < 0)
		return 71;

	for (;;) {
		char buf[SPF_MSG_MAX];
		union {
			struct cmsghdr h;
			char space[CMSG_SPACE(sizeof(int))];
		} u;
		struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
		struct pollfd pfd = { .fd = SPF_HELPER_FD, .events = POLLIN };
		struct msghdr msg;
		struct cmsghdr *cm;
		ssize_t n;
		pid_t pid;
		int fd = -1;

		spf_helper_reap(kids, &nkids, false);
		if (poll(&pfd, 1, 200) <= 0)
			continue;
		memset(&msg, 0, sizeof(msg));
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		msg.msg_control = u.space;
		msg.msg_controllen = sizeof(u.space);
		n = recvmsg(SPF_HELPER_FD, &msg, MSG_CMSG_CLOEXEC);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;		/* the milter is gone */
		for (cm = CMSG_FIRSTHDR(&msg); cm != NULL;
		    cm = CMSG_NXTHDR(&msg, cm))
			if (cm->cmsg_level == SOL_SOCKET &&
			    cm->cmsg_type == SCM_RIGHTS &&
			    cm->cmsg_len == CMSG_LEN(sizeof(int)))
				memcpy(&fd, CMSG_DATA(cm), sizeof(int));
		if (fd < 0)
			continue;
		if (nkids == SPF_HELPER_MAXKIDS ||
		    (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0) {
			spf_helper_reply(fd, SPFR_TEMPERROR, nkids ==
			    SPF_HELPER_MAXKIDS ? "SPF helper busy" :
			    "bad request");
			(void)close(fd);
			continue;
		}
		pid = fork();
		if (pid == 0) {
			(void)close(SPF_HELPER_FD);
			spf_helper_worker(fd, buf, (size_t)n, tmo_ms);
		}
		if (pid < 0)
			spf_helper_reply(fd, SPFR_TEMPERROR, "fork failed");
		else {
			kids[nkids].pid = pid;
			kids[nkids].deadline = mono_s() + (tmo_ms + 999) /
			    1000 + 2;
			nkids++;
		}
		(void)close(fd);
	}
	spf_helper_reap(kids, &nkids, true);
	return 0;
}
