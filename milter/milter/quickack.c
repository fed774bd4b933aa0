/*
 * quickack.c - TCP_QUICKACK after every read (quickack.h).  The read(2)
 * interposer that calls quickack_note() is sockread.c.  Until
 * quickack_enable() is called quickack_note() does nothing.  Linux only
 * (TCP_QUICKACK); elsewhere both do nothing.
 */
#include "autoconf.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "quickack.h"

#ifdef TCP_QUICKACK
static bool enabled;			/* __atomic */

void
quickack_note(int fd)
{
	static const int on = 1;

	if (__atomic_load_n(&enabled, __ATOMIC_RELAXED))
		(void)setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &on,
		    sizeof(on));
}

void
quickack_enable(void)
{
	__atomic_store_n(&enabled, true, __ATOMIC_RELAXED);
}
#else
void
quickack_note(int fd)
{
	(void)fd;
}

void
quickack_enable(void)
{
}
#endif
