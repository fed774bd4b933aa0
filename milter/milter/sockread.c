/*
 * sockread.c - read(2), poll(2), close(2) and accept(2) interposed for
 * buffered reads on the milter's MTA connections (sockread.h), the
 * TCP_QUICKACK of quickack.h after every read(2) of such a connection
 * that returns data, and the shorter wait of libmilter's listener.
 */
#include "autoconf.h"

#include <dlfcn.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include "quickack.h"
#include "sockread.h"

#if defined(__linux__) && defined(__GLIBC__)
typedef ssize_t read_fn(int, void *, size_t);
typedef int poll_fn(struct pollfd *, nfds_t, int);
typedef int close_fn(int);
typedef int accept_fn(int, struct sockaddr *, socklen_t *);

static read_fn *real_read;
static poll_fn *real_poll;
static close_fn *real_close;
static accept_fn *real_accept;
static pthread_once_t real_once = PTHREAD_ONCE_INIT;
static bool enabled;			/* __atomic */
static int listen_fd = -1;		/* __atomic: the last listener seen */
static size_t n_syscalls, n_served;	/* __atomic, for tests */

struct rbuf {
	size_t off, len;		/* unread bytes: data[off .. off+len) */
	unsigned char data[SOCKREAD_BUF];
};

/* one slot per descriptor number; NULL: not buffered */
static struct rbuf *table[SOCKREAD_MAXFD];

/* find_real - libc's functions */
static void
find_real(void)
{
	real_read = (read_fn *)dlsym(RTLD_NEXT, "read");
	real_poll = (poll_fn *)dlsym(RTLD_NEXT, "poll");
	real_close = (close_fn *)dlsym(RTLD_NEXT, "close");
	real_accept = (accept_fn *)dlsym(RTLD_NEXT, "accept");
}

static struct rbuf *
slot(int fd)
{
	if (fd < 0 || fd >= SOCKREAD_MAXFD)
		return NULL;
	return __atomic_load_n(&table[fd], __ATOMIC_ACQUIRE);
}

/* pending - buffered bytes of fd (0 when not buffered) */
static size_t
pending(int fd)
{
	struct rbuf *b = slot(fd);

	return b == NULL ? 0 : __atomic_load_n(&b->len, __ATOMIC_RELAXED);
}

/* sys_read - one read(2), counted, followed by quickack */
static ssize_t
sys_read(int fd, void *buf, size_t len, bool count)
{
	ssize_t n = real_read(fd, buf, len);

	/* count: a buffered MTA connection; only those get TCP_QUICKACK
	 * (the SPF helper's pipe and other descriptors are not sockets of
	 * ours: no setsockopt(2) per read) */
	if (count) {
		__atomic_add_fetch(&n_syscalls, 1, __ATOMIC_RELAXED);
		if (n > 0)
			quickack_note(fd);
	}
	return n;
}

ssize_t
read(int fd, void *buf, size_t len)
{
	struct rbuf *b;
	ssize_t n;
	size_t k;

	(void)pthread_once(&real_once, find_real);
	if ((b = slot(fd)) == NULL || len == 0)
		return sys_read(fd, buf, len, false);
	if (b->len == 0) {
		if (len >= sizeof(b->data))
			return sys_read(fd, buf, len, true);
		if ((n = sys_read(fd, b->data, sizeof(b->data), true)) <= 0)
			return n;
		b->off = 0;
		__atomic_store_n(&b->len, (size_t)n, __ATOMIC_RELAXED);
	} else
		__atomic_add_fetch(&n_served, 1, __ATOMIC_RELAXED);
	k = len < b->len ? len : b->len;
	memcpy(buf, b->data + b->off, k);
	b->off += k;
	__atomic_store_n(&b->len, b->len - k, __ATOMIC_RELAXED);
	return (ssize_t)k;
}

/*
 * listener_wait - the timeout for a poll(2) of libmilter's listener:
 * SOCKREAD_LISTEN_MS at most (sockread.h says why).  Only a single
 * descriptor that is not an MTA connection and waits longer than that is
 * asked whether it listens (SO_ACCEPTCONN), once per descriptor number.
 */
static int
listener_wait(const struct pollfd *fds, nfds_t nfds, int timeout)
{
	int on = 0, fd;
	socklen_t len = sizeof(on);

	if (nfds != 1 || timeout <= SOCKREAD_LISTEN_MS ||
	    !__atomic_load_n(&enabled, __ATOMIC_ACQUIRE) ||
	    (fd = fds[0].fd) < 0 || slot(fd) != NULL)
		return timeout;
	if (__atomic_load_n(&listen_fd, __ATOMIC_RELAXED) != fd) {
		if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) != 0 ||
		    on == 0)
			return timeout;
		__atomic_store_n(&listen_fd, fd, __ATOMIC_RELAXED);
	}
	return SOCKREAD_LISTEN_MS;
}

int
poll(struct pollfd *fds, nfds_t nfds, int timeout)
{
	nfds_t i;
	int ready = 0, e;
	bool polled;

	(void)pthread_once(&real_once, find_real);
	e = errno;
	timeout = listener_wait(fds, nfds, timeout);
	errno = e;
	for (i = 0; i < nfds; i++)
		if ((fds[i].events & POLLIN) != 0 && pending(fds[i].fd) > 0)
			ready++;
	if (ready == 0)
		return real_poll(fds, nfds, timeout);
	/* the others without waiting; then ours on top */
	polled = nfds > (nfds_t)ready && real_poll(fds, nfds, 0) >= 0;
	ready = 0;
	for (i = 0; i < nfds; i++) {
		if (!polled)
			fds[i].revents = 0;
		/* a hang-up is news only once the buffer is read */
		if ((fds[i].events & POLLIN) != 0 && pending(fds[i].fd) > 0)
			fds[i].revents = (short)((fds[i].revents &
			    ~(POLLHUP | POLLERR)) | POLLIN);
		ready += fds[i].revents != 0;
	}
	return ready;
}

int
close(int fd)
{
	struct rbuf *b = NULL;
	int rc;

	(void)pthread_once(&real_once, find_real);
	if (fd >= 0 && fd < SOCKREAD_MAXFD)
		b = __atomic_exchange_n(&table[fd], NULL, __ATOMIC_ACQ_REL);
	/* the number may come back as something else: ask again then */
	(void)__atomic_compare_exchange_n(&listen_fd, &(int){ fd }, -1, false,
	    __ATOMIC_RELAXED, __ATOMIC_RELAXED);
	rc = real_close(fd);
	free(b);
	return rc;
}

int
accept(int s, struct sockaddr *addr, socklen_t *addrlen)
{
	struct rbuf *b, *old;
	int fd, e;

	(void)pthread_once(&real_once, find_real);
	fd = real_accept(s, addr, addrlen);
	if (fd < 0 || fd >= SOCKREAD_MAXFD ||
	    !__atomic_load_n(&enabled, __ATOMIC_ACQUIRE))
		return fd;
	e = errno;
	/* no buffer (out of memory): plain reads, nothing lost */
	if ((b = malloc(sizeof(*b))) != NULL) {
		b->off = b->len = 0;
	}
	old = __atomic_exchange_n(&table[fd], b, __ATOMIC_ACQ_REL);
	free(old);
	errno = e;
	return fd;
}

void
sockread_enable(void)
{
	(void)pthread_once(&real_once, find_real);
	__atomic_store_n(&enabled, true, __ATOMIC_RELEASE);
}

void
sockread_counts(size_t *syscalls, size_t *served)
{
	if (syscalls != NULL)
		*syscalls = __atomic_load_n(&n_syscalls, __ATOMIC_RELAXED);
	if (served != NULL)
		*served = __atomic_load_n(&n_served, __ATOMIC_RELAXED);
}
#else
void
sockread_enable(void)
{
}

void
sockread_counts(size_t *syscalls, size_t *served)
{
	if (syscalls != NULL)
		*syscalls = 0;
	if (served != NULL)
		*served = 0;
}
#endif
