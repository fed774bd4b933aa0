/*
 * prom.c - Prometheus text exposition helpers, the loopback address
 * rule and the scrape client of optinctl (prom.h).  No libmicrohttpd
 * here (that is prom_http.c), so optinctl links without it.
 * Thread-safe: no state.
 */
#include "autoconf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "prom.h"

int
prom_addr_parse(const char *spec, struct sockaddr_storage *ss,
    socklen_t *sslen, char *why, size_t whylen)
{
	struct sockaddr_storage tmp;
	struct sockaddr_in *sin = (struct sockaddr_in *)&tmp;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&tmp;
	char host[INET6_ADDRSTRLEN + 1];
	const char *colon, *h, *port;
	size_t hn;
	char *end;
	long p;

	memset(&tmp, 0, sizeof(tmp));
	if (spec[0] == '[') {
		if ((colon = strstr(spec, "]:")) == NULL)
			goto syntax;
		h = spec + 1;
		hn = (size_t)(colon - h);
		port = colon + 2;
	} else {
		if ((colon = strrchr(spec, ':')) == NULL ||
		    memchr(spec, ':', (size_t)(colon - spec)) != NULL)
			goto syntax;	/* bare IPv6 needs brackets */
		h = spec;
		hn = (size_t)(colon - spec);
		port = colon + 1;
	}
	if (hn == 0 || hn >= sizeof(host))
		goto syntax;
	memcpy(host, h, hn);
	host[hn] = '\0';
	errno = 0;
	p = strtol(port, &end, 10);
	if (*port < '0' || *port > '9' || *end != '\0' || errno != 0 ||
	    p < 1 || p > 65535)
		goto syntax;
	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1 && spec[0] != '[') {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((unsigned short)p);
		if ((ntohl(sin->sin_addr.s_addr) >> 24) != 127)
			goto remote;
		if (sslen != NULL)
			*sslen = sizeof(*sin);
	} else if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1 &&
	    spec[0] == '[') {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((unsigned short)p);
		if (!IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr))
			goto remote;
		if (sslen != NULL)
			*sslen = sizeof(*sin6);
	} else
		goto syntax;
	if (ss != NULL)
		*ss = tmp;
	return 0;
syntax:
	snprintf(why, whylen, "bad value '%s' (expected 127.0.0.1:PORT or "
	    "[::1]:PORT)", spec);
	return -1;
remote:
	snprintf(why, whylen, "'%s' is not a loopback address (metrics are "
	    "served on 127.0.0.0/8 or ::1 only)", spec);
	return -1;
}

int
prom_family(struct buf *out, const char *name, const char *type,
    const char *help)
{
	char line[512];

	snprintf(line, sizeof(line), "# HELP %s %s\n# TYPE %s %s\n", name,
	    help, name, type);
	return buf_puts(out, line);
}

int
prom_sample(struct buf *out, const char *name, const char *labels,
    unsigned long long value)
{
	char line[512];

	snprintf(line, sizeof(line), "%s%s%s%s %llu\n", name,
	    labels ? "{" : "", labels ? labels : "", labels ? "}" : "", value);
	return buf_puts(out, line);
}

int
prom_sample_f(struct buf *out, const char *name, const char *labels,
    double value)
{
	char line[512];

	snprintf(line, sizeof(line), "%s%s%s%s %.6f\n", name,
	    labels ? "{" : "", labels ? labels : "", labels ? "}" : "", value);
	return buf_puts(out, line);
}

/* elapsed_ms - milliseconds since t0 (CLOCK_MONOTONIC) */
static long
elapsed_ms(const struct timespec *t0)
{
	struct timespec t;

	(void)clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000L + (t.tv_nsec - t0->tv_nsec) /
	    1000000L;
}

/* wait_fd - poll fd for events within what is left of timeout_ms; 1 ready,
 * 0 timed out, -1 error */
static int
wait_fd(int fd, short events, const struct timespec *t0, int timeout_ms)
{
	struct pollfd pfd = { fd, events, 0 };
	long left;
	int n;

	for (;;) {
		if ((left = timeout_ms - elapsed_ms(t0)) <= 0)
			return 0;
		n = poll(&pfd, 1, (int)left);
		if (n >= 0 || errno != EINTR)
			return n > 0 ? 1 : n;
	}
}

int
prom_fetch(const char *spec, int timeout_ms, struct buf *out, char *why,
    size_t whylen)
{
	struct sockaddr_storage ss;
	struct timespec t0;
	socklen_t sslen = 0;
	char req[256], chunk[4096], *body;
	size_t off = 0, reqlen;
	ssize_t n;
	int fd, err = 0, rc = -1, status;
	socklen_t errlen = sizeof(err);

	if (prom_addr_parse(spec, &ss, &sslen, why, whylen) < 0)
		return -1;
	(void)clock_gettime(CLOCK_MONOTONIC, &t0);
	if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, 0)) < 0) {
		snprintf(why, whylen, "socket: %s", strerror(errno));
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&ss, sslen) < 0 &&
	    errno != EINPROGRESS)
		goto syserr;
	if (wait_fd(fd, POLLOUT, &t0, timeout_ms) <= 0)
		goto timeout;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &errlen) < 0 ||
	    err != 0) {
		errno = err;
		goto syserr;
	}
	reqlen = (size_t)snprintf(req, sizeof(req), "GET " PROM_PATH
	    " HTTP/1.0\r\nHost: %s\r\nConnection: close\r\n\r\n", spec);
	while (off < reqlen) {
		if (wait_fd(fd, POLLOUT, &t0, timeout_ms) <= 0)
			goto timeout;
		if ((n = write(fd, req + off, reqlen - off)) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			goto syserr;
		}
		off += (size_t)n;
	}
	buf_reset(out);
	for (;;) {
		if (wait_fd(fd, POLLIN, &t0, timeout_ms) <= 0)
			goto timeout;
		if ((n = read(fd, chunk, sizeof(chunk))) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			goto syserr;
		}
		if (n == 0)
			break;
		if (buf_append(out, chunk, (size_t)n) < 0) {
			snprintf(why, whylen, "out of memory");
			goto out;
		}
	}
	if (out->len == 0 || sscanf((char *)out->data, "HTTP/%*d.%*d %d",
	    &status) != 1 || (body = strstr((char *)out->data,
	    "\r\n\r\n")) == NULL) {
		snprintf(why, whylen, "%s: not an HTTP answer", spec);
		goto out;
	}
	if (status != 200) {
		snprintf(why, whylen, "%s: HTTP status %d", spec, status);
		goto out;
	}
	body += 4;
	off = (size_t)(body - (char *)out->data);
	memmove(out->data, body, out->len - off + 1);
	out->len -= off;
	rc = 0;
	goto out;
timeout:
	snprintf(why, whylen, "%s: no answer within %d ms", spec, timeout_ms);
	goto out;
syserr:
	snprintf(why, whylen, "%s: %s", spec, strerror(errno));
out:
	(void)close(fd);
	return rc;
}

int
prom_parse(const char *text, prom_sample_fn *fn, void *arg)
{
	char line[1024], *sp, *brace, *labels, *end;
	const char *p = text, *nl;
	size_t len;
	double v;
	int rc;

	for (; p != NULL && *p != '\0'; p = nl ? nl + 1 : NULL) {
		nl = strchr(p, '\n');
		len = nl ? (size_t)(nl - p) : strlen(p);
		if (len == 0 || len >= sizeof(line) || *p == '#')
			continue;
		memcpy(line, p, len);
		line[len] = '\0';
		if ((sp = strrchr(line, ' ')) == NULL || sp == line)
			continue;
		*sp = '\0';
		v = strtod(sp + 1, &end);
		if (end == sp + 1 || *end != '\0')
			continue;
		labels = "";
		if ((brace = strchr(line, '{')) != NULL) {
			if (sp[-1] != '}')
				continue;
			*brace = '\0';
			sp[-1] = '\0';
			labels = brace + 1;
		}
		if ((rc = fn(line, labels, v, arg)) != 0)
			return rc;
	}
	return 0;
}
