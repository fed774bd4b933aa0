/*
 * quarantine.c - durable quarantine spool (quarantine.h).
 *
 * Write order (DESIGN "Message flow" step 3): temp file in the spool
 * directory, write, fsync, rename to the final name, fsync the directory.
 * Only after that may the milter remove a recipient.  Thread-safe: names are
 * unique through a random part, and no state is kept.
 *
 * Erasure (optinctl forget) finds an address in a spool file and rewrites
 * the file without it in the same durable order; files are mapped
 * read-only (mmap), so their size costs address space, not memory.
 */
#include "autoconf.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
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
	"handover_unknown",		/* handover.h: a split copy an earlier
					   attempt claimed, never marked */
	"line_too_long",		/* a line the relay would break after
					   signing (msgsafe.c) */
	"no_signing_key",		/* OnNoSigningKey quarantine */
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
/* A spool file mapped for reading. */
struct spool_map {
	int fd;
	const unsigned char *p;		/* NULL for an empty file */
	size_t len;
	struct stat sb;
};

/* map_open - map the regular file name of dfd read-only; 0 or -1 */
static int
map_open(int dfd, const char *name, struct spool_map *m, char *why,
    size_t whylen)
{
	void *p;

	memset(m, 0, sizeof(*m));
	if ((m->fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) <
	    0) {
		snprintf(why, whylen, "%s: %s", name, strerror(errno));
		return -1;
	}
	if (fstat(m->fd, &m->sb) < 0 || !S_ISREG(m->sb.st_mode)) {
		snprintf(why, whylen, "%s: not a regular file", name);
		goto fail;
	}
	m->len = (size_t)m->sb.st_size;
	if (m->len == 0)
		return 0;
	p = mmap(NULL, m->len, PROT_READ, MAP_PRIVATE, m->fd, 0);
	if (p == MAP_FAILED) {
		snprintf(why, whylen, "%s: mmap: %s", name, strerror(errno));
		goto fail;
	}
	m->p = p;
	return 0;
fail:
	(void)close(m->fd);
	m->fd = -1;
	return -1;
}

/* map_close - unmap and close */
static void
map_close(struct spool_map *m)
{
	if (m->p != NULL)
		(void)munmap((void *)m->p, m->len);
	if (m->fd >= 0)
		(void)close(m->fd);
	m->p = NULL;
	m->fd = -1;
}

/* lower - ASCII lower case of c */
static unsigned char
lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

/* local_byte - may c stand in a local part (RFC 5322 atext, '.', UTF-8)? */
static bool
local_byte(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c >= 0x80 ||
	    (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~.", c) != NULL);
}

/* domain_byte - may c stand in a domain label (letters, digits, '-',
 * UTF-8)? */
static bool
domain_byte(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '-' || c >= 0x80;
}

/*
 * match_at - does form f (flen bytes, its last '@' at fat) stand as a whole
 * address in p[0..len) with that '@' at offset at?  *start_r its start.
 */
static bool
match_at(const unsigned char *p, size_t len, size_t at, const char *f,
    size_t flen, size_t fat, size_t *start_r)
{
	size_t s, e, i;

	if (at < fat || len - (at - fat) < flen)
		return false;
	s = at - fat;
	e = s + flen;
	for (i = 0; i < flen; i++)
		if (lower(p[s + i]) != lower((unsigned char)f[i]))
			return false;
	if (s > 0 && local_byte(p[s - 1]))
		return false;
	if (e < len && (domain_byte(p[e]) || (p[e] == '.' && e + 1 < len &&
	    domain_byte(p[e + 1]))))
		return false;
	*start_r = s;
	return true;
}

/* next_match - the first whole occurrence of one of forms starting at or
 * after from: [*start_r, *end_r); false when there is none */
static bool
next_match(const unsigned char *p, size_t len, size_t from,
    const char *const *forms, size_t nforms, size_t *start_r,
    size_t *end_r)
{
	const unsigned char *at;
	const char *fa;
	size_t i, a, s, pos = from;

	while (pos < len && (at = memchr(p + pos, '@', len - pos)) != NULL) {
		a = (size_t)(at - p);
		for (i = 0; i < nforms; i++) {
			if ((fa = strrchr(forms[i], '@')) == NULL)
				continue;
			if (match_at(p, len, a, forms[i], strlen(forms[i]),
			    (size_t)(fa - forms[i]), &s) && s >= from) {
				*start_r = s;
				*end_r = s + strlen(forms[i]);
				return true;
			}
		}
		pos = a + 1;
	}
	return false;
}

int
quarantine_holds(int dfd, const char *name, const char *const *forms,
    size_t nforms, char *why, size_t whylen)
{
	struct spool_map m;
	size_t s, e;
	bool found;

	if (map_open(dfd, name, &m, why, whylen) < 0)
		return -1;
	found = m.p != NULL && next_match(m.p, m.len, 0, forms, nforms, &s,
	    &e);
	map_close(&m);
	return found ? 1 : 0;
}

/* scrub_write - m's bytes with every occurrence of forms replaced, into
 * fd; 0 or -1 with errno */
static int
scrub_write(int fd, const struct spool_map *m, const char *const *forms,
    size_t nforms)
{
	struct iovec iov[2];
	size_t pos = 0, s, e;

	while (next_match(m->p, m->len, pos, forms, nforms, &s, &e)) {
		iov[0].iov_base = (void *)(m->p + pos);
		iov[0].iov_len = s - pos;
		iov[1].iov_base = (void *)QUARANTINE_ERASED;
		iov[1].iov_len = sizeof(QUARANTINE_ERASED) - 1;
		if (buf_write_iov(fd, iov, 2) < 0)
			return -1;
		pos = e;
	}
	iov[0].iov_base = (void *)(m->p + pos);
	iov[0].iov_len = m->len - pos;
	return buf_write_iov(fd, iov, 1);
}

int
quarantine_scrub(const char *dir, const char *name,
    const char *const *forms, size_t nforms, bool *changed_r, char *why,
    size_t whylen)
{
	struct spool_map m = { -1, NULL, 0, { 0 } };
	struct timespec times[2];
	char tmp[QUARANTINE_NAME_MAX + 32];
	size_t s, e;
	int dfd, fd = -1, rc = -1;

	*changed_r = false;
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		snprintf(why, whylen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	if (map_open(dfd, name, &m, why, whylen) < 0)
		goto out;
	if (m.p == NULL || !next_match(m.p, m.len, 0, forms, nforms, &s,
	    &e)) {
		rc = 0;
		goto out;
	}
	snprintf(tmp, sizeof(tmp), "%sscrub-%s", QUARANTINE_TMP_PREFIX, name);
	(void)unlinkat(dfd, tmp, 0);	/* left by a crash: ours to reuse */
	fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC |
	    O_NOFOLLOW, 0600);
	if (fd < 0) {
		snprintf(why, whylen, "%s/%s: %s", dir, tmp, strerror(errno));
		goto out;
	}
	times[0] = m.sb.st_atim;
	times[1] = m.sb.st_mtim;	/* purge ages orphans by it */
	if (scrub_write(fd, &m, forms, nforms) < 0 || fchmod(fd, 0600) < 0 ||
	    (geteuid() == 0 && fchown(fd, m.sb.st_uid, m.sb.st_gid) < 0) ||
	    futimens(fd, times) < 0 || fsync(fd) < 0) {
		snprintf(why, whylen, "%s/%s: %s", dir, tmp, strerror(errno));
		goto fail;
	}
	if (close(fd) < 0) {
		fd = -1;
		snprintf(why, whylen, "%s/%s: close: %s", dir, tmp,
		    strerror(errno));
		goto fail;
	}
	fd = -1;
	if (renameat(dfd, tmp, dfd, name) < 0) {
		snprintf(why, whylen, "rename to %s/%s: %s", dir, name,
		    strerror(errno));
		goto fail;
	}
	if (fsync(dfd) < 0) {
		snprintf(why, whylen, "%s: directory fsync: %s", dir,
		    strerror(errno));
		goto out;
	}
	*changed_r = true;
	rc = 0;
	goto out;
fail:
	if (fd >= 0)
		(void)close(fd);
	(void)unlinkat(dfd, tmp, 0);
out:
	map_close(&m);
	(void)close(dfd);
	return rc;
}

int
quarantine_remove(const char *dir, const char *name, char *why, size_t whylen)
{
	char path[PATH_MAX];

	if (!quarantine_name_ok(name) || (size_t)snprintf(path, sizeof(path),
	    "%s/%s", dir, name) >= sizeof(path)) {
		snprintf(why, whylen, "bad spool file name");
		return -1;
	}
	if (unlink(path) < 0 && errno != ENOENT) {
		snprintf(why, whylen, "%s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}
