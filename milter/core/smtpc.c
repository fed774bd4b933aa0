/*
 * smtpc.c - the re-injection channel's SMTP client (smtpc.h).
 *
 * The socket is non-blocking; every read and write waits in poll() until
 * a deadline (timeout_s per reply, and per copy for its data), so a server
 * that stops answering costs at most that.  Replies are read into rbuf and
 * taken off one at a time (smtpc_reply_len).  A copy's data is stuffed
 * into wbuf and written with the final dot in one go.
 */
#include "autoconf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "smtpc.h"

#define REPLY_LINE_MAX	2048	/* longer than RFC 5321 4.5.3.1.5's 512 */
#define REPLY_MAX	(64 * 1024)

struct smtpc {
	int fd;				/* -1 once lost */
	int timeout_ms;
	bool pipelining, eightbit, utf8;	/* EHLO keywords */
	struct buf rbuf;		/* owned: bytes read, not yet used */
	struct buf wbuf;		/* owned: the copy being sent */
	char text[512];			/* last reply, printable */
};

int
smtpc_addr_check(const char *spec, char *why, size_t whylen)
{
	struct sockaddr_storage ss;
	const char *at, *host;
	char *end;
	long port;
	int fam;

	if (strncmp(spec, "unix:", 5) == 0 || strncmp(spec, "local:", 6) == 0) {
		const char *p = strchr(spec, ':') + 1;

		if (*p != '/' || strlen(p) >= sizeof(((struct sockaddr_un *)
		    NULL)->sun_path)) {
			snprintf(why, whylen, "bad value '%.200s' (expected "
			    "unix:/absolute/path, under %zu octets)", spec,
			    sizeof(((struct sockaddr_un *)NULL)->sun_path));
			return -1;
		}
		return 0;
	}
	fam = strncmp(spec, "inet:", 5) == 0 ? AF_INET :
	    strncmp(spec, "inet6:", 6) == 0 ? AF_INET6 : AF_UNSPEC;
	if (fam == AF_UNSPEC)
		goto syntax;
	host = spec + (fam == AF_INET ? 5 : 6);
	errno = 0;
	port = strtol(host, &end, 10);
	if (end == host || *end != '@' || errno != 0 || port < 1 ||
	    port > 65535)
		goto syntax;
	at = end + 1;
	if (inet_pton(fam, at, fam == AF_INET ? (void *)&((struct sockaddr_in *)
	    &ss)->sin_addr : (void *)&((struct sockaddr_in6 *)&ss)->sin6_addr)
	    != 1)
		goto syntax;
	return 0;
syntax:
	snprintf(why, whylen, "bad value '%.200s' (expected inet:PORT@IPv4, "
	    "inet6:PORT@IPv6 or unix:/path; numeric addresses only)", spec);
	return -1;
}

/* sockaddr_of - spec (checked) as a socket address */
static int
sockaddr_of(const char *spec, struct sockaddr_storage *ss, socklen_t *len_r)
{
	memset(ss, 0, sizeof(*ss));
	if (spec[0] == 'u' || spec[0] == 'l') {
		struct sockaddr_un *sun = (struct sockaddr_un *)ss;

		sun->sun_family = AF_UNIX;
		snprintf(sun->sun_path, sizeof(sun->sun_path), "%s",
		    strchr(spec, ':') + 1);
		*len_r = sizeof(*sun);
	} else if (strncmp(spec, "inet6:", 6) == 0) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((unsigned short)atoi(spec + 6));
		if (inet_pton(AF_INET6, strchr(spec, '@') + 1,
		    &s6->sin6_addr) != 1)
			return -1;
		*len_r = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons((unsigned short)atoi(spec + 5));
		if (inet_pton(AF_INET, strchr(spec, '@') + 1,
		    &s4->sin_addr) != 1)
			return -1;
		*len_r = sizeof(*s4);
	}
	return 0;
}

/* now_ms - monotonic milliseconds */
static long long
now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* wait_fd - poll fd for events until deadline; 1 ready, 0 timeout, -1 */
static int
wait_fd(int fd, short events, long long deadline)
{
	struct pollfd p = { fd, events, 0 };
	long long left;
	int n;

	for (;;) {
		if ((left = deadline - now_ms()) <= 0)
			return 0;
		n = poll(&p, 1, left > 60000 ? 60000 : (int)left);
		if (n > 0)
			return 1;
		if (n < 0 && errno != EINTR)
			return -1;
	}
}

/* lose - the connection is gone: close it, why[] says how */
static void
lose(struct smtpc *s, const char *what, char *why, size_t whylen)
{
	snprintf(why, whylen, "%s", what);
	if (s->fd >= 0)
		(void)close(s->fd);
	s->fd = -1;
}

/* write_all - write len bytes of p before deadline; 0 or -1 (lost) */
static int
write_all(struct smtpc *s, const void *p, size_t len, long long deadline,
    char *why, size_t whylen)
{
	const char *c = p;
	ssize_t n;
	char tmp[160];

	while (len > 0) {
		n = send(s->fd, c, len, MSG_NOSIGNAL);
		if (n > 0) {
			c += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (wait_fd(s->fd, POLLOUT, deadline) <= 0) {
				lose(s, "timed out writing", why, whylen);
				return -1;
			}
			continue;
		}
		snprintf(tmp, sizeof(tmp), "write: %s", strerror(errno));
		lose(s, tmp, why, whylen);
		return -1;
	}
	return 0;
}

/* read_reply - the next reply's code (text in s->text); -1 lost, timed
 * out or malformed (why filled, connection closed) */
static int
read_reply(struct smtpc *s, char *why, size_t whylen)
{
	long long deadline = now_ms() + s->timeout_ms;
	char chunk[4096], raw[sizeof(s->text)];
	long rl;
	ssize_t n;
	int code;

	for (;;) {
		rl = smtpc_reply_len((const char *)s->rbuf.data, s->rbuf.len,
		    &code);
		if (rl < 0 || s->rbuf.len > REPLY_MAX) {
			lose(s, "malformed reply", why, whylen);
			return -1;
		}
		if (rl > 0)
			break;
		if (s->fd < 0) {
			snprintf(why, whylen, "connection lost");
			return -1;
		}
		if (wait_fd(s->fd, POLLIN, deadline) <= 0) {
			lose(s, "timed out waiting for a reply", why, whylen);
			return -1;
		}
		n = recv(s->fd, chunk, sizeof(chunk), 0);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0) {
			lose(s, n == 0 ? "connection closed by the server" :
			    "read error", why, whylen);
			return -1;
		}
		if (buf_append(&s->rbuf, chunk, (size_t)n) < 0) {
			lose(s, "out of memory", why, whylen);
			return -1;
		}
	}
	/* the text of its last line, for logs */
	{
		const char *d = (const char *)s->rbuf.data, *last = d, *p;
		size_t k;

		for (p = d; p < d + rl - 1; p++)
			if (*p == '\n')
				last = p + 1;
		k = (size_t)(d + rl - last);
		while (k > 0 && (last[k - 1] == '\n' || last[k - 1] == '\r'))
			k--;
		if (k >= sizeof(raw))
			k = sizeof(raw) - 1;
		memcpy(raw, last, k);
		raw[k] = '\0';
		(void)log_safe(raw, s->text, sizeof(s->text));
	}
	memmove(s->rbuf.data, s->rbuf.data + rl, s->rbuf.len - (size_t)rl);
	s->rbuf.len -= (size_t)rl;
	return code;
}

long
smtpc_reply_len(const char *data, size_t len, int *code_r)
{
	size_t off = 0;
	int code = -1;

	for (;;) {
		const char *line, *nl;
		size_t avail = len - off;
		int c;

		if (avail == 0)		/* data may be NULL: nothing read yet */
			return 0;
		line = data + off;
		nl = memchr(line, '\n', avail);
		if (nl == NULL)
			return avail > REPLY_LINE_MAX ? -1 : 0;
		if ((size_t)(nl - line) > REPLY_LINE_MAX)
			return -1;
		if (nl - line < 3 || line[0] < '2' || line[0] > '5' ||
		    line[1] < '0' || line[1] > '9' || line[2] < '0' ||
		    line[2] > '9')
			return -1;
		c = (line[0] - '0') * 100 + (line[1] - '0') * 10 +
		    (line[2] - '0');
		if (code >= 0 && c != code)
			return -1;
		code = c;
		off = (size_t)(nl - data) + 1;
		/* "NNN-" goes on; "NNN ", "NNN\r\n" or "NNN\n" ends */
		if (nl - line == 3 || line[3] != '-') {
			if (nl - line > 3 && line[3] != ' ' && line[3] != '\r')
				return -1;
			*code_r = code;
			return (long)off;
		}
	}
}

/* command - send line (CRLF added) and read its reply; the code or -1 */
static int
command(struct smtpc *s, const char *line, char *why, size_t whylen)
{
	char out[1100];
	int n = snprintf(out, sizeof(out), "%s\r\n", line);

	if (n < 0 || (size_t)n >= sizeof(out)) {
		snprintf(why, whylen, "command too long");
		return -1;
	}
	if (write_all(s, out, (size_t)n, now_ms() + s->timeout_ms, why,
	    whylen) < 0)
		return -1;
	return read_reply(s, why, whylen);
}

/* ehlo - say EHLO and note the extensions it offers (read_reply keeps
 * only a reply's last line, so the whole reply is looked at here first);
 * the code, or -1 */
static int
ehlo(struct smtpc *s, const char *helo, char *why, size_t whylen)
{
	long long deadline;
	char out[300], chunk[4096];
	long rl;
	int code;
	ssize_t n;

	snprintf(out, sizeof(out), "EHLO %s\r\n", helo);
	deadline = now_ms() + s->timeout_ms;
	if (write_all(s, out, strlen(out), deadline, why, whylen) < 0)
		return -1;
	while ((rl = smtpc_reply_len((const char *)s->rbuf.data, s->rbuf.len,
	    &code)) == 0) {
		if (s->rbuf.len > REPLY_MAX || wait_fd(s->fd, POLLIN,
		    deadline) <= 0 || (n = recv(s->fd, chunk, sizeof(chunk),
		    0)) <= 0 || buf_append(&s->rbuf, chunk, (size_t)n) < 0) {
			lose(s, "no answer to EHLO", why, whylen);
			return -1;
		}
	}
	if (rl < 0) {
		lose(s, "malformed EHLO reply", why, whylen);
		return -1;
	}
	if (code == 250) {
		const char *d = (const char *)s->rbuf.data, *p = d;

		while (p < d + rl) {
			const char *kw = p + 4;
			const char *nl = memchr(p, '\n', (size_t)(d + rl - p));

			if (strncasecmp(kw, "PIPELINING", 10) == 0)
				s->pipelining = true;
			else if (strncasecmp(kw, "8BITMIME", 8) == 0)
				s->eightbit = true;
			else if (strncasecmp(kw, "SMTPUTF8", 8) == 0)
				s->utf8 = true;
			p = nl + 1;
		}
	}
	/* read_reply takes it off and keeps its text */
	return read_reply(s, why, whylen);
}

struct smtpc *
smtpc_open(const char *spec, const char *helo, int timeout_s, char *why,
    size_t whylen)
{
	struct sockaddr_storage ss;
	socklen_t sslen;
	struct smtpc *s;
	int err = 0, one = 1, code;
	socklen_t errlen = sizeof(err);
	long long deadline;
	char tmp[300];

	if (smtpc_addr_check(spec, why, whylen) < 0 ||
	    sockaddr_of(spec, &ss, &sslen) < 0)
		return NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		snprintf(why, whylen, "out of memory");
		return NULL;
	}
	s->timeout_ms = (timeout_s > 0 ? timeout_s : 1) * 1000;
	deadline = now_ms() + s->timeout_ms;
	if ((s->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, 0)) < 0) {
		snprintf(why, whylen, "%s: socket: %s", spec, strerror(errno));
		goto fail;
	}
	/* a command and its data are each one write: no Nagle stall */
	if (ss.ss_family != AF_UNIX)
		(void)setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one,
		    sizeof(one));
	if (connect(s->fd, (struct sockaddr *)&ss, sslen) < 0) {
		if (errno != EINPROGRESS) {
			snprintf(why, whylen, "%s: connect: %s", spec,
			    strerror(errno));
			goto fail;
		}
		if (wait_fd(s->fd, POLLOUT, deadline) <= 0) {
			snprintf(why, whylen, "%s: connect: timed out", spec);
			goto fail;
		}
		if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &errlen) < 0
		    || err != 0) {
			snprintf(why, whylen, "%s: connect: %s", spec,
			    strerror(err ? err : errno));
			goto fail;
		}
	}
	if ((code = read_reply(s, tmp, sizeof(tmp))) != 220) {
		snprintf(why, whylen, "%s: greeting: %s", spec, code < 0 ? tmp :
		    s->text);
		goto fail;
	}
	if ((code = ehlo(s, helo, tmp, sizeof(tmp))) != 250) {
		snprintf(why, whylen, "%s: EHLO: %s", spec, code < 0 ? tmp :
		    s->text);
		goto fail;
	}
	return s;
fail:
	smtpc_close(&s);
	return NULL;
}

int
smtpc_dot_stuff(struct buf *out, const void *data, size_t len, bool *bol)
{
	const char *p = data, *end = p + len, *nl;

	while (p < end) {
		if (*bol && *p == '.' && buf_append(out, ".", 1) < 0)
			return -1;
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL) {
			*bol = false;
			return buf_append(out, p, (size_t)(end - p));
		}
		if (buf_append(out, p, (size_t)(nl + 1 - p)) < 0)
			return -1;
		*bol = true;
		p = nl + 1;
	}
	return 0;
}

/* has_8bit - any octet over 127 in s (NULL: none) */
static bool
has_8bit(const void *s, size_t len)
{
	const unsigned char *p = s;
	size_t i;

	for (i = 0; p != NULL && i < len; i++)
		if (p[i] & 0x80)
			return true;
	return false;
}

/* refused - the server said no: note its text, RSET for the next copy */
static enum smtpc_status
refused(struct smtpc *s, const char *stage, char *why, size_t whylen)
{
	char tmp[300];

	snprintf(why, whylen, "%s: %.400s", stage, s->text);
	if (s->fd >= 0 && command(s, "RSET", tmp, sizeof(tmp)) != 250)
		lose(s, "RSET refused", tmp, sizeof(tmp));
	return SMTPC_REFUSED;
}

enum smtpc_status
smtpc_send(struct smtpc *s, const char *sender, const char *rcpt,
    const struct iovec *iov, int iovcnt, char *why, size_t whylen)
{
	char cmds[1100], tmp[300];
	bool eight = false, bol = true, utf8;
	long long deadline;
	int i, code[3], n;
	const char *stage[3] = { "MAIL", "RCPT", "DATA" };

	if (s == NULL || s->fd < 0) {
		snprintf(why, whylen, "connection lost");
		return SMTPC_LOST;
	}
	if (sender == NULL)
		sender = "";
	utf8 = has_8bit(sender, strlen(sender)) || has_8bit(rcpt, strlen(rcpt));
	for (i = 0; i < iovcnt && !eight; i++)
		eight = has_8bit(iov[i].iov_base, iov[i].iov_len);
	if ((eight && !s->eightbit) || (utf8 && !s->utf8)) {
		snprintf(why, whylen, "the server does not offer %s",
		    utf8 && !s->utf8 ? "SMTPUTF8" : "8BITMIME");
		return SMTPC_REFUSED;
	}
	n = snprintf(cmds, sizeof(cmds), "MAIL FROM:<%s>%s%s\r\n"
	    "RCPT TO:<%s>\r\nDATA\r\n", sender, eight ? " BODY=8BITMIME" : "",
	    utf8 ? " SMTPUTF8" : "", rcpt);
	if (n < 0 || (size_t)n >= sizeof(cmds)) {
		snprintf(why, whylen, "address too long");
		return SMTPC_REFUSED;
	}
	/* the data first, so that an allocation failure sends nothing */
	buf_reset(&s->wbuf);
	for (i = 0; i < iovcnt; i++)
		if (smtpc_dot_stuff(&s->wbuf, iov[i].iov_base, iov[i].iov_len,
		    &bol) < 0)
			goto nomem;
	if (!bol && buf_append(&s->wbuf, "\r\n", 2) < 0)
		goto nomem;
	if (buf_append(&s->wbuf, ".\r\n", 3) < 0)
		goto nomem;
	deadline = now_ms() + s->timeout_ms;
	if (s->pipelining) {
		if (write_all(s, cmds, (size_t)n, deadline, why, whylen) < 0)
			return SMTPC_LOST;
		tmp[0] = '\0';
		for (i = 0; i < 3; i++) {
			if ((code[i] = read_reply(s, why, whylen)) < 0)
				return SMTPC_LOST;
			if (i < 2 && code[i] / 100 != 2 && tmp[0] == '\0')
				snprintf(tmp, sizeof(tmp), "%s: %.250s",
				    stage[i], s->text);
		}
		if (tmp[0] != '\0') {
			if (code[2] == 354) {
				/* RFC 2920 3.1: end the empty data */
				(void)write_all(s, ".\r\n", 3, deadline, why,
				    whylen);
				(void)read_reply(s, why, whylen);
			}
			(void)refused(s, "", why, whylen);
			snprintf(why, whylen, "%s", tmp);
			return SMTPC_REFUSED;
		}
		if (code[2] != 354)
			return refused(s, stage[2], why, whylen);
	} else {
		char *line = cmds, *end;

		for (i = 0; i < 3; i++, line = end + 2) {
			end = strstr(line, "\r\n");
			*end = '\0';
			if ((code[i] = command(s, line, why, whylen)) < 0)
				return SMTPC_LOST;
			if (code[i] != (i < 2 ? 250 : 354) && code[i] / 100 !=
			    (i < 2 ? 2 : 3))
				return refused(s, stage[i], why, whylen);
		}
	}
	if (write_all(s, s->wbuf.data, s->wbuf.len, now_ms() + s->timeout_ms,
	    why, whylen) < 0)
		return SMTPC_LOST;
	/* the final dot is out: from here on a loss is ambiguous */
	if ((code[0] = read_reply(s, why, whylen)) < 0)
		return SMTPC_UNKNOWN;
	if (code[0] / 100 != 2)
		return refused(s, "end of data", why, whylen);
	if (s->wbuf.cap > 4 * 1024 * 1024)
		buf_free(&s->wbuf);	/* don't keep a huge one */
	return SMTPC_OK;
nomem:
	snprintf(why, whylen, "out of memory");
	return SMTPC_REFUSED;
}

bool
smtpc_alive(const struct smtpc *s)
{
	return s != NULL && s->fd >= 0;
}

const char *
smtpc_last_reply(const struct smtpc *s)
{
	return s->text;
}

void
smtpc_close(struct smtpc **sp)
{
	struct smtpc *s = *sp;
	char tmp[300];

	if (s == NULL)
		return;
	if (s->fd >= 0 && s->timeout_ms > 0 && s->rbuf.data != NULL)
		(void)command(s, "QUIT", tmp, sizeof(tmp));
	if (s->fd >= 0)
		(void)close(s->fd);
	buf_free(&s->rbuf);
	buf_free(&s->wbuf);
	free(s);
	*sp = NULL;
}
