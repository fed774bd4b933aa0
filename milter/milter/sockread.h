/*
 * sockread.h - buffered reads on the milter's MTA connections.
 *
 * libmilter reads every command of the milter protocol with two read(2)
 * calls (the 5-byte length and command, then the data), each after a
 * poll(2) of its own, although the MTA sends many commands at once:
 * through Postfix a message is about 36 commands (each header comes with
 * a macro command of its own), written in a few writes, and the milter
 * made about 73 reads and 123 polls per message, one system call each.
 *
 * Once sockread_enable() is called, every descriptor that accept(2)
 * returns in this process (only libmilter calls accept(); libmicrohttpd
 * uses accept4) gets a read buffer of SOCKREAD_BUF bytes:
 *   - read() on it hands out buffered bytes first; when the buffer is
 *     empty it reads what the socket has, up to the buffer's size, with
 *     one read(2) (a request as large as the buffer goes straight to the
 *     caller's memory);
 *   - poll() reports POLLIN at once for such a descriptor while its
 *     buffer holds bytes (the other descriptors of the same call are
 *     polled without waiting), and goes to the kernel otherwise;
 *   - close() drops the buffer before the descriptor is closed, so a
 *     number reused by a later accept() starts empty.
 * Every other descriptor, and every descriptor before sockread_enable(),
 * goes straight to the C library.
 *
 * After sockread_enable(), a poll() of one listening socket (libmilter's
 * listener) waits SOCKREAD_LISTEN_MS at most instead of libmilter's
 * MI_CHK_TIME (5 s); libmilter takes its timeout as "look at the stop
 * flag again".  Why: the listener holds its lock while it polls, and the
 * signal thread needs that lock to close the socket on SIGTERM, so every
 * stop used to take up to 5 s.  Now it takes up to SOCKREAD_LISTEN_MS; an
 * idle milter wakes 4 times a second.  The bytes and their order are those of
 * the socket: only the number of system calls changes.
 *
 * The functions are interposed (the executable's read, poll, close and
 * accept take precedence over libc's for every shared object, libmilter
 * included; the real ones are found with dlsym(RTLD_NEXT)).  A descriptor
 * is read by one thread at a time, as libmilter hands a connection from
 * thread to thread under its own lock; the table of buffers is read and
 * written with atomic operations.  Descriptors at or above SOCKREAD_MAXFD
 * are not buffered.  Linux and glibc; elsewhere nothing is interposed.
 * Built into optin-milter only, never into a library: any program that
 * linked it would have its read, poll, close and accept replaced.
 */
#ifndef OPTIN_SOCKREAD_H
#define OPTIN_SOCKREAD_H

#include <stddef.h>

#define SOCKREAD_BUF 8192
#define SOCKREAD_MAXFD 65536
#define SOCKREAD_LISTEN_MS 250	/* longest poll(2) of the listener, ms */

/* Buffer the descriptors accept() returns from now on.  Call before
 * serving (before smfi_main). */
void sockread_enable(void);

/*
 * Counters for tests: the read(2) system calls made on buffered
 * descriptors and the read() calls answered from a buffer, since the
 * start.  Either pointer may be NULL.
 */
void sockread_counts(size_t *syscalls, size_t *served);

#endif
