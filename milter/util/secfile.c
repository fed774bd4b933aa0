/*
 * secfile.c - read secret files (keys) safely (secfile.h).
 *
 * The check is made on the open descriptor (fstat), so the file cannot be
 * swapped between check and read.  Thread-safe.
 */
#include "autoconf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "secfile.h"

char *
secfile_read(const char *path, size_t maxlen, size_t *len_r, char *why,
    size_t whylen)
{
	struct stat sb;
	char *buf = NULL;
	size_t len = 0;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		snprintf(why, whylen, "%s: cannot open: %s", path,
		    strerror(errno));
		return NULL;
	}
	if (fstat(fd, &sb) < 0) {
		snprintf(why, whylen, "%s: fstat: %s", path, strerror(errno));
		goto fail;
	}
	if (!S_ISREG(sb.st_mode)) {
		snprintf(why, whylen, "%s: not a regular file", path);
		goto fail;
	}
	if ((sb.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
		snprintf(why, whylen, "%s: mode %04o gives access to group or "
		    "others: use chmod 600", path,
		    (unsigned)(sb.st_mode & 07777));
		goto fail;
	}
	if (sb.st_uid != 0 && sb.st_uid != geteuid()) {
		snprintf(why, whylen, "%s: owned by uid %u, neither root nor "
		    "us", path, (unsigned)sb.st_uid);
		goto fail;
	}
	if ((size_t)sb.st_size > maxlen) {
		snprintf(why, whylen, "%s: larger than %zu bytes", path, maxlen);
		goto fail;
	}
	if ((buf = malloc((size_t)sb.st_size + 1)) == NULL) {
		snprintf(why, whylen, "%s: out of memory", path);
		goto fail;
	}
	while (len < (size_t)sb.st_size) {
		n = read(fd, buf + len, (size_t)sb.st_size - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			snprintf(why, whylen, "%s: read: %s", path,
			    n < 0 ? strerror(errno) : "file shrank");
			goto fail;
		}
		len += (size_t)n;
	}
	buf[len] = '\0';
	(void)close(fd);
	*len_r = len;
	return buf;
fail:
	if (buf != NULL) {
		OPENSSL_cleanse(buf, len);
		free(buf);
	}
	(void)close(fd);
	return NULL;
}

void
secfile_free(char **bufp, size_t len)
{
	if (bufp == NULL || *bufp == NULL)
		return;
	OPENSSL_cleanse(*bufp, len);
	free(*bufp);
	*bufp = NULL;
}
