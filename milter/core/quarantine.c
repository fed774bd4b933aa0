/*
 * quarantine.c - durable quarantine spool (quarantine.h).
 *
 * Write order (DESIGN "Message flow" step 3): temp file in the spool
 * directory, write, fsync, rename to the final name, fsync the directory.
 * Only after that may the milter remove a recipient.  Thread-safe: names are
 * unique through a random part, and no state is kept.
 */
#include "autoconf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "buf.h"
#include "consent.h"
#include "quarantine.h"

/* spool_name - "YYYYMMDD-HHMMSS-QUEUEID-RANDOM.eml" with the queue ID
 * reduced to [A-Za-z0-9] */
static int
spool_name(const char *queue_id, char name[QUARANTINE_NAME_MAX])
{
	unsigned char rnd[6];
	char qid[24];
	struct tm tm;
	time_t now = time(NULL);
	size_t i, j;

	for (i = j = 0; queue_id != NULL && queue_id[i] != '\0' &&
	    j + 1 < sizeof(qid); i++)
		if ((queue_id[i] >= 'A' && queue_id[i] <= 'Z') ||
		    (queue_id[i] >= 'a' && queue_id[i] <= 'z') ||
		    (queue_id[i] >= '0' && queue_id[i] <= '9'))
			qid[j++] = queue_id[i];
	if (j == 0)
		qid[j++] = 'X';
	qid[j] = '\0';
	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return -1;
	(void)gmtime_r(&now, &tm);
	snprintf(name, QUARANTINE_NAME_MAX,
	    "%04d%02d%02d-%02d%02d%02d-%s-%02x%02x%02x%02x%02x%02x.eml",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, qid, rnd[0], rnd[1], rnd[2], rnd[3], rnd[4],
	    rnd[5]);
	return 0;
}

int
quarantine_write(const char *dir, const char *queue_id,
    const struct iovec *iov, int iovcnt, char name_r[QUARANTINE_NAME_MAX],
    char *why, size_t whylen)
{
	char tmp[4096], final[4096];
	int fd, dfd = -1;

	if (spool_name(queue_id, name_r) < 0) {
		snprintf(why, whylen, "no random bytes for a spool name");
		return -1;
	}
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s/.tmp-%s", dir, name_r) >=
	    sizeof(tmp) || (size_t)snprintf(final, sizeof(final), "%s/%s",
	    dir, name_r) >= sizeof(final)) {
		snprintf(why, whylen, "quarantine path too long");
		return -1;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
	    0600);
	if (fd < 0) {
		snprintf(why, whylen, "%s: %s", tmp, strerror(errno));
		return -1;
	}
	if (buf_write_iov(fd, iov, iovcnt) < 0 || fsync(fd) < 0) {
		snprintf(why, whylen, "%s: %s", tmp, strerror(errno));
		goto fail;
	}
	if (close(fd) < 0) {
		fd = -1;
		snprintf(why, whylen, "%s: close: %s", tmp, strerror(errno));
		goto fail;
	}
	fd = -1;
	if (rename(tmp, final) < 0) {
		snprintf(why, whylen, "rename to %s: %s", final,
		    strerror(errno));
		goto fail;
	}
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    fsync(dfd) < 0) {
		snprintf(why, whylen, "%s: directory fsync: %s", dir,
		    strerror(errno));
		(void)unlink(final);
		if (dfd >= 0)
			(void)close(dfd);
		return -1;
	}
	(void)close(dfd);
	return 0;
fail:
	if (fd >= 0)
		(void)close(fd);
	(void)unlink(tmp);
	return -1;
}

bool
quarantine_name_ok(const char *name)
{
	size_t i;

	if (name == NULL || name[0] == '\0' || name[0] == '.' ||
	    strlen(name) >= QUARANTINE_NAME_MAX)
		return false;
	for (i = 0; name[i] != '\0'; i++) {
		char c = name[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.'))
			return false;
	}
	return strstr(name, "..") == NULL;
}

/*
 * The milter's own reasons, beside the consent decision: a new one is added
 * here (and to optinctl(8)), and "quarantine list --reason" knows it.
 */
static const char *const own_reasons[] = {
	"resubmit_failed",		/* eom.c: a split copy not re-sent */
};

const char *
quarantine_reason(size_t i)
{
	/* the consent reasons but CONSENT_DELIVER, which is 0 */
	if (i < CONSENT_NREASONS - 1)
		return consent_reason_str((enum consent_reason)(i + 1));
	i -= CONSENT_NREASONS - 1;
	return i < sizeof(own_reasons) / sizeof(own_reasons[0]) ?
	    own_reasons[i] : NULL;
}

bool
quarantine_reason_ok(const char *word)
{
	const char *r;
	size_t i;

	for (i = 0; (r = quarantine_reason(i)) != NULL; i++)
		if (strcmp(word, r) == 0)
			return true;
	return false;
}
