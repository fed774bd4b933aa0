/*
 * buf.h - growable byte buffer and a per-message arena.
 *
 * Allocation failures are reported (-1 / NULL), never fatal: in the milter
 * a failed allocation on the message path is a tempfail (STYLE.md 5).
 * Not thread-safe: each belongs to one message.
 */
#ifndef OPTIN_BUF_H
#define OPTIN_BUF_H

#include <stddef.h>
#include <sys/uio.h>

struct buf {
	unsigned char *data;	/* owned; NUL-terminated for convenience */
	size_t len;
	size_t cap;
};

/* Append len bytes; 0 or -1 (out of memory, buffer unchanged). */
int buf_append(struct buf *b, const void *p, size_t len);
/* Append a NUL-terminated string. */
int buf_puts(struct buf *b, const char *s);
/* Forget the contents but keep the memory (when small). */
void buf_reset(struct buf *b);
/* Free the memory; b is empty afterwards. */
void buf_free(struct buf *b);

/* Write every byte of iov[0..iovcnt-1] to fd, restarting after short
 * writes and EINTR.  0, or -1 with errno set. */
int buf_write_iov(int fd, const struct iovec *iov, int iovcnt);

/* Arena: many small allocations, released at once. */
struct arena_chunk;
struct arena {
	struct arena_chunk *head;	/* owned list of chunks */
};

/* size bytes, 16-aligned, zeroed; NULL when out of memory. */
void *arena_alloc(struct arena *a, size_t size);
/* Copy of s (NULL gives NULL) or of the first len bytes of s. */
char *arena_strdup(struct arena *a, const char *s);
char *arena_strndup(struct arena *a, const char *s, size_t len);
/* Release everything but the first chunk, which is kept for reuse. */
void arena_reset(struct arena *a);
/* Release everything. */
void arena_free(struct arena *a);

#endif
