/*
 * quickack.c - read(2) interposed for TCP_QUICKACK (quickack.h).
 *
 * The executable's read() takes precedence over libc's for every shared
 * object, libmilter included; the real read is found with
 * dlsym(RTLD_NEXT).  Until quickack_enable() is called this is a plain
 * read.  Linux only (TCP_QUICKACK); elsewhere the interposer is not built.
 */
#include "autoconf.h"

#include <dlfcn.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include "quickack.h"

#ifdef TCP_QUICKACK
typedef ssize_t read_fn(int, void *, size_t);

static read_fn *real_read;
static pthread_once_t real_once = PTHREAD_ONCE_INIT;
static volatile bool enabled;

/* find_read - libc's read */
static void
find_read(void)
{
	real_read = (read_fn *)dlsym(RTLD_NEXT, "read");
}

ssize_t
read(int fd, void *buf, size_t len)
{
	static const int on = 1;
	ssize_t n;

	(void)pthread_once(&real_once, find_read);
	n = real_read(fd, buf, len);
	if (enabled && n > 0)
		(void)setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &on,
		    sizeof(on));
	return n;
}

void
quickack_enable(void)
{
	(void)pthread_once(&real_once, find_read);
	enabled = true;
}
#else
void
quickack_enable(void)
{
}
#endif
