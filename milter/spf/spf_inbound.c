/*
 * spf_inbound.c - inbound SPF evidence, the client side of the isolated
 * helper (spf.h: spf_check_inbound; spf-private.h: spf_helper_start,
 * spf_helper_stop).
 *
 * The helper program optin-spf-helper (spf_helper_server.c) runs as a
 * "zygote": started once with posix_spawn(), it drops to SPF_HELPER_USER
 * when root, then waits on a SOCK_SEQPACKET control socket (its fd 3).  For
 * each verdict the caller makes a socketpair, sends one end with the request
 * (SCM_RIGHTS, wire format in spf-private.h) and waits on the other with a
 * deadline; the zygote forks a child that evaluates with a fresh libspf2
 * server, answers on that end and exits.  The caller's end sees EOF when
 * the child dies, so a crash costs one verdict at once; a hang costs the
 * time limit, after which the zygote kills the child (alarm() in the child
 * first).  When the zygote itself is gone, the next call starts a new one.
 *
 * Threads: the control socket and helper pid are guarded by helper_mtx;
 * each verdict has its own reply socket, so callers wait in parallel.
 * Children: only the helper's pid is ever waited for.
 */
#include "autoconf.h"

#include "spf-private.h"	/* first: the libspf2 prelude */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"

extern char **environ;

/* spf_send_fd - send buf and descriptor fd as one message */
static int
spf_send_fd(int sock, const void *buf, size_t len, int fd)
{
	union {
		struct cmsghdr h;
		char space[CMSG_SPACE(sizeof(int))];
	} u;
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr msg;
	struct cmsghdr *c;
	ssize_t n;

	memset(&msg, 0, sizeof(msg));
	memset(&u, 0, sizeof(u));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = u.space;
	msg.msg_controllen = sizeof(u.space);
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	do
		n = sendmsg(sock, &msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return n == (ssize_t)len ? 0 : -1;
}

/* spf_helper_start - spawn the helper on a new control socket; call with
 * helper_mtx held (or before the checker is shared) */
int
spf_helper_start(struct spf_checker *chk, char *why, size_t whylen)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, all;
	char ms[16];
	char *argv[4];
	int sv[2], rc;
	pid_t pid;

	/* posix_spawn() need not report a failed exec (under valgrind it
	 * doesn't): check first. */
	if (access(chk->helper_path, X_OK) != 0) {
		snprintf(why, whylen, "cannot start %s: %s", chk->helper_path,
		    strerror(errno));
		return -1;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		snprintf(why, whylen, "socketpair: %s", strerror(errno));
		return -1;
	}
	if (sv[1] == SPF_HELPER_FD) {	/* dup2 onto itself keeps CLOEXEC */
		int fd = fcntl(sv[1], F_DUPFD_CLOEXEC, SPF_HELPER_FD + 1);

		(void)close(sv[1]);
		sv[1] = fd;
		if (fd < 0) {
			snprintf(why, whylen, "fcntl: %s", strerror(errno));
			(void)close(sv[0]);
			return -1;
		}
	}
	snprintf(ms, sizeof(ms), "%u", chk->timeout_ms);
	argv[0] = chk->helper_path;
	argv[1] = (char *)"-t";
	argv[2] = ms;
	argv[3] = NULL;
	sigemptyset(&none);
	sigfillset(&all);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, sv[1], SPF_HELPER_FD);
	posix_spawnattr_init(&attr);
	/* libmilter threads block signals; the helper starts clean. */
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &all);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK |
	    POSIX_SPAWN_SETSIGDEF);
	rc = posix_spawn(&pid, chk->helper_path, &fa, &attr, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	(void)close(sv[1]);
	if (rc != 0) {
		snprintf(why, whylen, "cannot start %s: %s", chk->helper_path,
		    strerror(rc));
		(void)close(sv[0]);
		return -1;
	}
	chk->ctrl = sv[0];
	chk->helper_pid = pid;
	if (geteuid() == 0)
		chk->isolated = true;
	pthread_mutex_lock(&chk->cache_mtx);
	chk->stats.helper_starts++;
	pthread_mutex_unlock(&chk->cache_mtx);
	return 0;
}

/* spf_helper_stop - close the control socket (the helper exits on EOF)
 * and reap it; helper_mtx held or checker not shared */
void
spf_helper_stop(struct spf_checker *chk)
{
	int i, status;
	pid_t pid;

	if (chk->ctrl >= 0)
		(void)close(chk->ctrl);
	chk->ctrl = -1;
	if (chk->helper_pid <= 0)
		return;
	for (i = 0; i < 200; i++) {	/* 2 s */
		pid = waitpid(chk->helper_pid, &status, WNOHANG);
		if (pid != 0)		/* reaped, or not our child */
			break;
		(void)usleep(10000);
	}
	if (i == 200) {
		/* Fails with EPERM once we dropped privileges and the helper
		 * is "nobody"; it then exits by itself on EOF. */
		if (kill(chk->helper_pid, SIGKILL) == 0)
			(void)waitpid(chk->helper_pid, &status, 0);
		else
			log_warnx("spf: helper pid %ld did not exit",
			    (long)chk->helper_pid);
	}
	chk->helper_pid = 0;
}

/* spf_ask_helper - send req with a fresh reply socket; returns our end,
 * or -1 with why[] filled.  Starts a new helper when the old one is gone. */
static int
spf_ask_helper(struct spf_checker *chk, const char *req, size_t reqlen,
    char *why, size_t whylen)
{
	int sv[2], attempt, sent = -1;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		snprintf(why, whylen, "socketpair: %s", strerror(errno));
		return -1;
	}
	pthread_mutex_lock(&chk->helper_mtx);
	for (attempt = 0; attempt < 2 && sent < 0; attempt++) {
		if (chk->ctrl < 0) {
			if (chk->isolated && geteuid() != 0) {
				/* it would run as our user, able to read the
				 * database and the keys (spf.h) */
				snprintf(why, whylen, "SPF helper gone; not "
				    "started again as uid %ld, where it would "
				    "not be isolated: restart optin-milter",
				    (long)geteuid());
				break;
			}
			if (spf_helper_start(chk, why, whylen) < 0)
				break;
			if (geteuid() != 0)
				log_warnx("spf: SPF helper restarted as uid "
				    "%ld, not as %s", (long)geteuid(),
				    SPF_HELPER_USER);
		}
		sent = spf_send_fd(chk->ctrl, req, reqlen, sv[1]);
		if (sent < 0) {
			snprintf(why, whylen, "SPF helper gone: %s",
			    strerror(errno));
			spf_helper_stop(chk);
		}
	}
	pthread_mutex_unlock(&chk->helper_mtx);
	(void)close(sv[1]);
	if (sent < 0) {
		(void)close(sv[0]);
		return -1;
	}
	return sv[0];
}

/* spf_wait_reply - read one message from fd within timeout_ms; returns its
 * length, 0 on EOF, -1 on timeout (errno ETIMEDOUT) or error */
static ssize_t
spf_wait_reply(int fd, char *buf, size_t buflen, unsigned int timeout_ms)
{
	struct timespec t0, t;
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	long left;
	ssize_t n;
	int rc;

	(void)clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		(void)clock_gettime(CLOCK_MONOTONIC, &t);
		left = (long)timeout_ms - ((t.tv_sec - t0.tv_sec) * 1000L +
		    (t.tv_nsec - t0.tv_nsec) / 1000000L);
		if (left <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		rc = poll(&pfd, 1, (int)left);
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc < 0)
			return -1;
		if (rc == 0)
			continue;
		do
			n = recv(fd, buf, buflen, 0);
		while (n < 0 && errno == EINTR);
		return n;
	}
}

enum spf_result
spf_check_inbound(struct spf_checker *chk, const char *client_ip,
    const char *helo, const char *mail_from, char *explain,
    size_t explainlen)
{
	char req[SPF_MSG_MAX], rep[SPF_MSG_MAX + 1], from[SPF_ARG_MAX + 1];
	char why[160], dom[SPF_ARG_MAX + 1];
	struct spf_addr ip;
	enum spf_result r;
	size_t len, hlen, flen;
	ssize_t n;
	int fd;

	if (explain != NULL && explainlen > 0)
		explain[0] = '\0';
	pthread_mutex_lock(&chk->cache_mtx);
	chk->stats.inbound_calls++;
	pthread_mutex_unlock(&chk->cache_mtx);
	if (!spf_parse_ip(client_ip, &ip)) {
		snprintf(explain, explainlen, "no usable client address");
		return SPFR_NONE;
	}
	if (helo == NULL)
		helo = "";
	if (mail_from == NULL)
		mail_from = "";
	flen = strlen(mail_from);
	if (flen >= 2 && mail_from[0] == '<' && mail_from[flen - 1] == '>') {
		mail_from++;
		flen -= 2;
	}
	hlen = strlen(helo);
	if (flen > SPF_ARG_MAX || hlen > SPF_ARG_MAX) {
		snprintf(explain, explainlen, "identity too long");
		return SPFR_NONE;
	}
	memcpy(from, mail_from, flen);
	from[flen] = '\0';
	/*
	 * RFC 7208 section 4.3: a malformed domain (or one of a single label)
	 * is "none" at once, without a DNS query.  The identity checked is
	 * the MAIL FROM domain, or the HELO name for the null sender (section
	 * 2.4); a malformed HELO next to a good MAIL FROM is not sent to the
	 * helper at all (libspf2 would put it in %{h} macros and queries).
	 */
	if (!spf_norm_domain(flen > 0 ? from : helo, dom, sizeof(dom))) {
		snprintf(explain, explainlen, "%s is not a valid domain name, "
		    "RFC 7208 section 4.3: no DNS query", flen > 0 ?
		    "the MAIL FROM domain" : "the HELO name");
		return SPFR_NONE;
	}
	if (flen > 0 && !spf_norm_domain(helo, dom, sizeof(dom))) {
		helo = "";
		hlen = 0;
	}
	len = strlen(ip.text) + 1;
	memcpy(req, ip.text, len);
	memcpy(req + len, helo, hlen + 1);
	len += hlen + 1;
	memcpy(req + len, from, flen + 1);
	len += flen + 1;

	if (chk->no_helper) {
		snprintf(explain, explainlen, "SPF helper not running");
		return SPFR_TEMPERROR;
	}
	if ((fd = spf_ask_helper(chk, req, len, why, sizeof(why))) < 0) {
		log_err("spf: %s", why);	/* an admin must act */
		snprintf(explain, explainlen, "%s", why);
		return SPFR_TEMPERROR;
	}
	n = spf_wait_reply(fd, rep, sizeof(rep) - 1, chk->timeout_ms);
	(void)close(fd);
	if (n < 0 && errno == ETIMEDOUT) {
		log_warnx("spf: SPF helper timed out after %u ms (client %s)",
		    chk->timeout_ms, ip.text);
		snprintf(explain, explainlen, "SPF evaluation timed out "
		    "after %u ms", chk->timeout_ms);
		return SPFR_TEMPERROR;
	}
	if (n <= 0) {
		log_warnx("spf: SPF helper died without an answer (client %s)",
		    ip.text);
		snprintf(explain, explainlen, "SPF evaluation failed: helper "
		    "died");
		return SPFR_TEMPERROR;
	}
	rep[n] = '\0';
	len = strlen(rep);
	if (!spf_result_parse(rep, &r)) {
		log_warnx("spf: SPF helper gave a malformed answer");
		snprintf(explain, explainlen, "SPF evaluation failed: "
		    "malformed answer");
		return SPFR_TEMPERROR;
	}
	if ((ssize_t)len + 1 < n)
		spf_clean(rep + len + 1, explain, explainlen);
	return r;
}
