/*
 * secfile.c - read secret files (keys) safely (secfile.h).
 *
 * The file itself is checked on the open descriptor (fstat), so it cannot
 * be swapped between check and read.  The directories above it are checked
 * by path afterwards (realpath, then stat of each), as OpenDKIM's
 * dkimf_securefile() does.  Thread-safe.
 *
 * Ownership rule (OpenDKIM dkimf_securefile, and why we differ): OpenDKIM
 * accepts a key owned by root or by the user that reads it.  optin-milter
 * reads its keys as root before the privilege drop, and an admin reuses
 * OpenDKIM's own keys (Debian: /etc/dkimkeys, owner opendkim, mode 0600):
 * so a reader that is root also accepts a file owned by any other user,
 * provided nobody but that owner (and root) can read or replace it - no
 * group or other bits on the file, no directory above it writable by
 * anyone but root, the reader or the file's owner.  A reader that is not
 * root keeps OpenDKIM's rule.  A directory with the sticky bit (/tmp) is
 * accepted although world-writable (OpenDKIM refuses it): there nobody
 * can rename or remove an entry he does not own.
 */
#include "autoconf.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "secfile.h"

/*
 * secfile_dirs_ok - no directory above path can be written by anyone but
 * root, us or owner (the file's owner), unless it has the sticky bit.
 * Returns 0, or -1 with why[] filled.
 */
static int
secfile_dirs_ok(const char *path, uid_t owner, char *why, size_t whylen)
{
	char real[PATH_MAX], *slash;
	struct stat sb;
	uid_t me = geteuid();

	if (realpath(path, real) == NULL) {
		snprintf(why, whylen, "%s: realpath: %s", path,
		    strerror(errno));
		return -1;
	}
	while ((slash = strrchr(real, '/')) != NULL) {
		if (slash == real)
			slash[1] = '\0';	/* the root directory */
		else
			*slash = '\0';
		if (stat(real, &sb) < 0) {
			snprintf(why, whylen, "%s: stat %s: %s", path, real,
			    strerror(errno));
			return -1;
		}
		if (sb.st_uid != 0 && sb.st_uid != me && sb.st_uid != owner) {
			snprintf(why, whylen, "%s: directory %s belongs to uid "
			    "%u, neither root, the key's owner nor us", path,
			    real, (unsigned)sb.st_uid);
			return -1;
		}
		if ((sb.st_mode & (S_IWGRP | S_IWOTH)) != 0 &&
		    (sb.st_mode & S_ISVTX) == 0) {
			snprintf(why, whylen, "%s: directory %s is writable by "
			    "group or others (mode %04o): someone else could "
			    "replace the key", path, real,
			    (unsigned)(sb.st_mode & 07777));
			return -1;
		}
		if (slash == real)
			break;
	}
	return 0;
}

char *
secfile_read(const char *path, size_t maxlen, size_t *len_r, char *why,
    size_t whylen)
{
	struct stat sb;
	char *buf = NULL;
	size_t len = 0;
	ssize_t n;
	int fd, saved;

	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		saved = errno;
		snprintf(why, whylen, "%s: cannot open: %s", path,
		    strerror(saved));
		errno = saved;
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
	if (sb.st_uid != 0 && sb.st_uid != geteuid() && geteuid() != 0) {
		snprintf(why, whylen, "%s: owned by uid %u, neither root nor "
		    "us (uid %u)", path, (unsigned)sb.st_uid,
		    (unsigned)geteuid());
		goto fail;
	}
	if (secfile_dirs_ok(path, sb.st_uid, why, whylen) < 0)
		goto fail;
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
	errno = 0;
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
