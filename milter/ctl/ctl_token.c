/*
 * ctl_token.c - optinctl verbs "token newkey|issue|check" (DESIGN
 * "optinctl", "Unsubscribe headers and tokens"); "dns" is in ctl_dns.c.
 *
 *	token newkey		append a fresh random 32-byte key with the next
 *				id to TokenKeyFile (created mode 0600); the
 *				same code creates ErasureKeyFile
 *				(ctl_keyfile_add)
 *	token issue ADDR LIST	print the token for ADDR (normalised) on LIST
 *	token bounce ADDR LIST [CAMPAIGN]  the personal bounce address
 *				(ctl_feedback.c)
 *	token check TOKEN	print recipient, list, key id, issue day and
 *				status; exit 0 ok, 65 otherwise
 *
 * Output: text, or one JSON object with --json.  A key is never printed.
 * Exit codes are sysexits.h (64 usage, 65 bad data, 66 no input, 73 cannot
 * create, 78 config).  Single-threaded tool; no global state.
 */
#include "autoconf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "addr.h"
#include "config.h"
#include "ctl.h"
#include "log.h"
#include "secfile.h"
#include "store.h"
#include "token.h"

#define KEYFILE_MAX	65536
#define KEYFILE_HEADER	"# optin-milter TokenKeyFile: \"ID BASE64KEY\" a line, " \
			"the last line issues, all verify\n"

/* day_str - "YYYY-MM-DD" of day (days since the epoch) into out[11] */
static const char *
day_str(long day, char out[16])
{
	struct tm tm;
	time_t t;

	t = (time_t)day * 86400;
	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(out, 16, "%Y-%m-%d", &tm) == 0)
		snprintf(out, 16, "day %ld", day);
	return out;
}

/* keyfile_path - TokenKeyFile or an error (EX_CONFIG) */
static const char *
keyfile_path(const struct ctl *c)
{
	if (c->cfg == NULL || c->cfg->token_key_file == NULL) {
		fprintf(stderr, "optinctl: TokenKeyFile is not set in %s\n",
		    c->cfg != NULL && c->cfg->file != NULL ? c->cfg->file :
		    "the configuration");
		return NULL;
	}
	return c->cfg->token_key_file;
}

/* ring_open - load the key ring or print why; *ex_r: the exit code */
static struct token_ring *
ring_open(const struct ctl *c, int *ex_r)
{
	struct token_ring *ring;
	const char *path;
	struct stat st;
	char why[512];

	if ((path = keyfile_path(c)) == NULL) {
		*ex_r = EX_CONFIG;
		return NULL;
	}
	if ((ring = token_ring_load(path, why, sizeof(why))) == NULL) {
		fprintf(stderr, "optinctl: %s\n", why);
		*ex_r = stat(path, &st) < 0 && errno == ENOENT ? EX_NOINPUT :
		    EX_CONFIG;
	}
	return ring;
}

/* next_id - the id for a new key: one more than the largest in buf (the
 * file, already validated), else the smallest free id; 0 when all are
 * used */
static unsigned
next_id(const char *buf)
{
	bool used[256];
	const char *p;
	unsigned long id;
	unsigned max, i;

	memset(used, 0, sizeof(used));
	max = 0;
	for (p = buf; p != NULL && *p != '\0'; p = strchr(p, '\n'),
	    p = p != NULL ? p + 1 : NULL) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p < '1' || *p > '9')
			continue;
		id = strtoul(p, NULL, 10);
		if (id >= 1 && id <= 255) {
			used[id] = true;
			if (id > max)
				max = (unsigned)id;
		}
	}
	if (max < 255)
		return max + 1;
	for (i = 1; i <= 255; i++)
		if (!used[i])
			return i;
	return 0;
}

/* write_all - write len bytes to fd; 0 / -1 */
static int
write_all(int fd, const char *s, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = write(fd, s, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		s += n;
		len -= (size_t)n;
	}
	return 0;
}

int
ctl_keyfile_add(const char *path, const char *header, bool only_create,
    unsigned *id_r, bool *created_r)
{
	unsigned char key[32];
	char line[256], why[512], b64[48], last;
	struct token_ring *ring;
	struct stat st;
	char *buf;
	size_t len, o;
	bool created;
	unsigned id;
	int fd, ex, n;

	*created_r = created = false;
	fd = only_create ? -1 : open(path, O_RDWR | O_APPEND | O_NOFOLLOW |
	    O_CLOEXEC);
	if (fd < 0 && (only_create || errno == ENOENT)) {
		fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_EXCL |
		    O_NOFOLLOW | O_CLOEXEC, 0600);
		created = fd >= 0;
		if (fd < 0 && only_create && errno == EEXIST)
			return EX_OK;
	}
	if (fd < 0) {
		fprintf(stderr, "optinctl: %s: %s\n", path, strerror(errno));
		return EX_CANTCREAT;
	}
	ex = EX_CANTCREAT;
	buf = NULL;
	len = 0;
	/* concurrent newkey runs must not pick the same id */
	if (flock(fd, LOCK_EX) < 0 || fstat(fd, &st) < 0) {
		fprintf(stderr, "optinctl: %s: %s\n", path, strerror(errno));
		goto out;
	}
	if (created && fchmod(fd, 0600) < 0) {
		fprintf(stderr, "optinctl: %s: chmod: %s\n", path,
		    strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode) || (st.st_mode & 077) != 0) {
		fprintf(stderr, "optinctl: %s: not a regular file of mode 0600 "
		    "(mode %04o); refusing to add a key\n", path,
		    (unsigned)(st.st_mode & 07777));
		ex = EX_CONFIG;
		goto out;
	}
	if (created || st.st_size == 0)
		id = 1;
	else {
		/* the file as it is must load: never append to a broken
		 * ring */
		if ((ring = token_ring_load(path, why, sizeof(why))) == NULL) {
			fprintf(stderr, "optinctl: %s\n", why);
			ex = EX_CONFIG;
			goto out;
		}
		token_ring_free(&ring);
		if ((buf = secfile_read(path, KEYFILE_MAX, &len, why,
		    sizeof(why))) == NULL) {
			fprintf(stderr, "optinctl: %s\n", why);
			ex = EX_CONFIG;
			goto out;
		}
		if ((id = next_id(buf)) == 0) {
			fprintf(stderr, "optinctl: %s: all 255 key ids are in "
			    "use; remove old keys first\n", path);
			goto out;
		}
	}
	if (RAND_priv_bytes(key, sizeof(key)) != 1) {
		fprintf(stderr, "optinctl: no random bytes for a key\n");
		ex = EX_SOFTWARE;
		goto out;
	}
	n = EVP_EncodeBlock((unsigned char *)b64, key, sizeof(key));
	OPENSSL_cleanse(key, sizeof(key));
	o = 0;
	if (created || st.st_size == 0)
		o = (size_t)snprintf(line, sizeof(line), "%s", header);
	else if (pread(fd, &last, 1, st.st_size - 1) == 1 && last != '\n')
		line[o++] = '\n';
	n = snprintf(line + o, sizeof(line) - o, "%u %.*s\n", id, n, b64);
	OPENSSL_cleanse(b64, sizeof(b64));
	if (n < 0 || (size_t)n >= sizeof(line) - o)
		log_panic("keyfile add: line buffer too small");
	o += (size_t)n;
	if (write_all(fd, line, o) < 0 || fsync(fd) < 0) {
		fprintf(stderr, "optinctl: %s: write: %s\n", path,
		    strerror(errno));
		OPENSSL_cleanse(line, sizeof(line));
		goto out;
	}
	OPENSSL_cleanse(line, sizeof(line));
	*id_r = id;
	*created_r = created;
	ex = EX_OK;
out:
	secfile_free(&buf, len);
	if (created && ex != EX_OK)
		(void)unlink(path);
	(void)close(fd);
	return ex;
}

/* token_newkey - "token newkey" */
static int
token_newkey(struct ctl *c)
{
	const char *path;
	unsigned id = 0;
	bool created;
	int ex;

	if ((path = keyfile_path(c)) == NULL)
		return EX_CONFIG;
	if ((ex = ctl_keyfile_add(path, KEYFILE_HEADER, false, &id,
	    &created)) != EX_OK)
		return ex;
	if (c->json) {
		printf("{\"key_id\":%u,\"file\":", id);
		ctl_json_str(stdout, path);
		printf(",\"created\":%s}\n", created ? "true" : "false");
	} else
		printf("added key %u to %s%s; it issues from now on\n", id,
		    path, created ? " (created)" : "");
	return EX_OK;
}

/* token_issue_verb - "token issue ADDR LIST" */
static int
token_issue_verb(struct ctl *c, const char *raw, const char *list)
{
	char addr[ADDR_MAX + 1], tok[TOKEN_MAX], why[256], safe[128], d[16];
	struct token_ring *ring;
	struct token_info info;
	long today;
	int ex;

	if (ctl_list_arg("token issue", "LIST", list) != EX_OK)
		return EX_USAGE;
	if (addr_normalize(raw, addr, sizeof(addr), why, sizeof(why)) < 0) {
		fprintf(stderr, "optinctl: bad address '%s': %s\n",
		    log_safe(raw, safe, sizeof(safe)), why);
		return EX_DATAERR;
	}
	/* a token for a list that does not exist would unsubscribe from
	 * nothing: refuse it as every other verb refuses an unknown list */
	if ((ex = ctl_need_list(c, list)) != EX_OK)
		return ex;
	if ((ex = ctl_refuse_erased(c, "token issue", addr,
	    "no token is issued for it")) != EX_OK)
		return ex;
	if ((ring = ring_open(c, &ex)) == NULL)
		return ex;
	today = token_day((long long)time(NULL));
	if (token_issue(ring, addr, list, today, tok, sizeof(tok), why,
	    sizeof(why)) < 0) {
		fprintf(stderr, "optinctl: cannot issue a token: %s\n", why);
		token_ring_free(&ring);
		return EX_DATAERR;
	}
	/* read back what the token holds, and which key made it */
	if (token_verify(ring, tok, today, 0, &info) != TOKEN_OK) {
		fprintf(stderr, "optinctl: issued token does not verify\n");
		token_ring_free(&ring);
		return EX_SOFTWARE;
	}
	token_ring_free(&ring);
	if (c->json) {
		printf("{\"token\":\"%s\",\"recipient\":", tok);
		ctl_json_str(stdout, info.addr);
		printf(",\"list\":");
		ctl_json_str(stdout, info.list);
		printf(",\"key_id\":%u,\"issued\":\"%s\"}\n", info.key_id,
		    day_str(info.issue_day, d));
	} else
		printf("%s\n", tok);
	return EX_OK;
}

/* token_check - "token check TOKEN" */
static int
token_check(struct ctl *c, const char *tok)
{
	struct token_ring *ring;
	struct token_info info;
	enum token_status st;
	long lifetime;
	char d1[16], d2[16];
	bool known;
	int ex;

	if ((ring = ring_open(c, &ex)) == NULL)
		return ex;
	lifetime = c->cfg->token_lifetime > 0 ?
	    c->cfg->token_lifetime / 86400 : 0;
	st = token_verify(ring, tok, token_day((long long)time(NULL)),
	    lifetime, &info);
	token_ring_free(&ring);
	known = st == TOKEN_OK || st == TOKEN_EXPIRED;
	if (c->json) {
		printf("{\"status\":\"%s\"", token_status_str(st));
		if (known) {
			printf(",\"recipient\":");
			ctl_json_str(stdout, info.addr);
			printf(",\"list\":");
			ctl_json_str(stdout, info.list);
			printf(",\"key_id\":%u,\"issued\":\"%s\"", info.key_id,
			    day_str(info.issue_day, d1));
			if (lifetime > 0)
				printf(",\"expires\":\"%s\"",
				    day_str(info.issue_day + lifetime, d2));
		}
		printf("}\n");
	} else {
		if (known) {
			printf("recipient: %s\nlist: %s\nkey: %u\nissued: %s\n",
			    info.addr, info.list, info.key_id,
			    day_str(info.issue_day, d1));
			if (lifetime > 0)
				printf("expires: %s\n",
				    day_str(info.issue_day + lifetime, d2));
		}
		printf("status: %s\n", token_status_str(st));
	}
	return st == TOKEN_OK ? EX_OK : EX_DATAERR;
}

int
ctl_token(struct ctl *c, int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "newkey") == 0 && argc == 2)
		return token_newkey(c);
	if (argc >= 2 && strcmp(argv[1], "issue") == 0 && argc == 4)
		return token_issue_verb(c, argv[2], argv[3]);
	if (argc >= 2 && strcmp(argv[1], "check") == 0 && argc == 3)
		return token_check(c, argv[2]);
	if (argc >= 2 && strcmp(argv[1], "bounce") == 0 &&
	    (argc == 4 || argc == 5))
		return ctl_token_bounce(c, argv[2], argv[3],
		    argc == 5 ? argv[4] : NULL);
	fprintf(stderr, "usage: optinctl token newkey\n"
	    "       optinctl token issue ADDR LIST\n"
	    "       optinctl token bounce ADDR LIST [CAMPAIGN]\n"
	    "       optinctl token check TOKEN\n");
	return EX_USAGE;
}
