/*
 * dkimtest.c - helpers of the DKIM unit tests (contract: dkimtest.h).
 *
 * Keys are made at test time in a mkdtemp(3) directory (mode 0600):
 * RSA-2048 and Ed25519 with openssl genpkey, a weak RSA-1024, an encrypted
 * key, a 0644 copy, and an RSA key made by opendkim-genkey; nothing secret
 * is committed.  Corpus: $OPTIN_CORPUS, else $top_srcdir/tests/data/corpus
 * (top_srcdir is set by "make check"; "." when run by hand from the top).
 */
#include "autoconf.h"

#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <dirent.h>
#include <ftw.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "harness.h"

#include "config.h"
#include "dkimsign.h"
#include "dkimtest.h"

#define PY		"/usr/bin/python3"
#define GEN_RSA		"openssl genpkey -algorithm RSA -pkeyopt " \
	"rsa_keygen_bits:%d -out '%s' 2>/dev/null"

char tmpdir[64];			/* mkdtemp; removed at the end */
char topsrc[1024];		/* $top_srcdir or "." */
char corpus[1200];		/* corpus directory */
char script[1200];		/* dkim_verify.py */
bool setup_ok;

/* key files made by setup_keys() */
char k_rsa[256], k_rsa2[256], k_ed[256], k_weak[256], k_open[256],
    k_enc[256], k_gk[256], k_gktxt[256], k_missing[256];

/* ------------------------------------------------------------------ */
/* helpers: files, commands */

/* run - system(3) with a formatted command; true when it exited 0. */
bool
run(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	int st;

	va_start(ap, fmt);
	(void)vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	st = system(cmd);
	return st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* file_read - whole file, NUL-terminated, malloc'd; NULL on error. */
char *
file_read(const char *path, size_t *len_r)
{
	FILE *fp;
	char *buf = NULL;
	long n;

	if ((fp = fopen(path, "rb")) == NULL)
		return NULL;
	if (fseek(fp, 0, SEEK_END) == 0 && (n = ftell(fp)) >= 0 &&
	    fseek(fp, 0, SEEK_SET) == 0 &&
	    (buf = malloc((size_t)n + 1)) != NULL) {
		if (fread(buf, 1, (size_t)n, fp) != (size_t)n) {
			free(buf);
			buf = NULL;
		} else {
			buf[n] = '\0';
			if (len_r != NULL)
				*len_r = (size_t)n;
		}
	}
	(void)fclose(fp);
	return buf;
}

/* file_write - write text to path; true on success. */
bool
file_write(const char *path, const char *text, size_t len)
{
	FILE *fp;
	bool ok;

	if ((fp = fopen(path, "wb")) == NULL)
		return false;
	ok = fwrite(text, 1, len, fp) == len;
	return fclose(fp) == 0 && ok;
}

/* rm_one - nftw callback removing one entry. */
static int
rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* setup_keys - make tmpdir and every key; true on success. */
static bool
setup_keys(void)
{
	char gkdir[128];

	(void)umask(077);
	(void)snprintf(tmpdir, sizeof tmpdir, "/tmp/test_dkimsign.XXXXXX");
	if (mkdtemp(tmpdir) == NULL) {
		fprintf(stderr, "mkdtemp: failed\n");
		return false;
	}
	(void)snprintf(k_rsa, sizeof k_rsa, "%s/rsa.pem", tmpdir);
	(void)snprintf(k_rsa2, sizeof k_rsa2, "%s/rsa2.pem", tmpdir);
	(void)snprintf(k_ed, sizeof k_ed, "%s/ed.pem", tmpdir);
	(void)snprintf(k_weak, sizeof k_weak, "%s/weak.pem", tmpdir);
	(void)snprintf(k_open, sizeof k_open, "%s/open.pem", tmpdir);
	(void)snprintf(k_enc, sizeof k_enc, "%s/enc.pem", tmpdir);
	(void)snprintf(k_missing, sizeof k_missing, "%s/nosuch.pem", tmpdir);
	(void)snprintf(gkdir, sizeof gkdir, "%s/gk", tmpdir);
	(void)snprintf(k_gk, sizeof k_gk, "%s/gk.private", gkdir);
	(void)snprintf(k_gktxt, sizeof k_gktxt, "%s/gk.txt", gkdir);
	if (!run(GEN_RSA, 2048, k_rsa) || !run(GEN_RSA, 2048, k_rsa2) ||
	    !run(GEN_RSA, 1024, k_weak) ||
	    !run("openssl genpkey -algorithm ED25519 -out '%s' 2>/dev/null",
	    k_ed) ||
	    !run("openssl genpkey -algorithm ED25519 -aes-128-cbc -pass "
	    "pass:secret -out '%s' 2>/dev/null", k_enc) ||
	    !run("cp '%s' '%s' && chmod 0644 '%s'", k_rsa, k_open, k_open)) {
		fprintf(stderr, "openssl genpkey failed\n");
		return false;
	}
	if (mkdir(gkdir, 0700) != 0 ||
	    !run("opendkim-genkey -b 2048 -D '%s' -d example.org -s gk "
	    ">/dev/null 2>&1", gkdir)) {
		fprintf(stderr, "opendkim-genkey failed (package "
		    "opendkim-tools)\n");
		return false;
	}
	if (chmod(k_rsa, 0600) != 0 || chmod(k_ed, 0600) != 0 ||
	    chmod(k_gk, 0600) != 0)
		return false;
	return true;
}

/* ------------------------------------------------------------------ */
/* helpers: config, signer, records */

/* cfg_single - a config with Domain example.com and the given keys. */
void
cfg_single(struct config *cfg, enum cfg_sigalg alg, const char *key,
    const char *sel, const char *edkey, const char *edsel)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->signing_algorithm = alg;
	cfg->domain = (char *)"example.com";
	cfg->key_file = (char *)key;
	cfg->selector = (char *)sel;
	cfg->key_file_ed25519 = (char *)edkey;
	cfg->selector_ed25519 = (char *)edsel;
}

/* rec_write - dkimsign_dns_records callback: one "name\ttxt" line. */
static void
rec_write(const char *name, const char *txt, void *arg)
{
	fprintf((FILE *)arg, "%s\t%s\n", name, txt);
}

/* records_path - where the current DNS records are. */
const char *
records_path(void)
{
	static char path[128];

	(void)snprintf(path, sizeof path, "%s/records.txt", tmpdir);
	return path;
}

/* records_save - write ds's DNS records as the zone dkimpy sees. */
bool
records_save(const struct dkimsign *ds)
{
	char why[256];
	FILE *fp;
	int rc;

	if ((fp = fopen(records_path(), "w")) == NULL)
		return false;
	rc = dkimsign_dns_records(ds, rec_write, fp, why, sizeof why);
	return fclose(fp) == 0 && rc == 0;
}

/* signer - open a signer and save its records; fails the test if not. */
struct dkimsign *
signer(const struct config *cfg)
{
	struct dkimsign *ds;
	char why[512];

	ds = dkimsign_open(cfg, why, sizeof why);
	if (ds == NULL)
		fail_msg("dkimsign_open: %s", why);
	assert_true(records_save(ds));
	return ds;
}

/* ------------------------------------------------------------------ */
/* helpers: messages */


/* msg_free - release what msg_parse() made. */
void
msg_free(struct msg *m)
{
	size_t i;

	for (i = 0; i < m->nstore; i++)
		free(m->store[i]);
	free(m->body);
	memset(m, 0, sizeof *m);
}

/* field_name_ok - is s[0..len) a header field name (RFC 5322 ftext)? */
static bool
field_name_ok(const char *s, size_t len)
{
	size_t i;

	if (len == 0)
		return false;
	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] <= 32 || (unsigned char)s[i] >= 127)
			return false;
	return true;
}

/* from_addr - the address in a From value: inside <...>, else the first
 * word. */
static void
from_addr(const char *v, char *out, size_t outlen)
{
	const char *lt, *gt, *e;

	if ((lt = strrchr(v, '<')) != NULL && (gt = strchr(lt, '>')) != NULL)
		(void)snprintf(out, outlen, "%.*s", (int)(gt - lt - 1), lt + 1);
	else {
		while (*v == ' ' || *v == '\t' || *v == '\n')
			v++;
		for (e = v; *e != '\0' && *e != ' ' && *e != '\t' && *e != '\n';
		    e++)
			;
		(void)snprintf(out, outlen, "%.*s", (int)(e - v), v);
	}
}

/*
 * msg_parse - split raw message text into headers and body as the MTA
 * hands them to the milter: folded lines stay in the value joined with
 * "\n" (libmilter's form), the value loses its leading space, the body
 * gets CRLF line ends.  A line that is not a header field ends the header
 * (cpython_msg_35 has no blank line).  Returns false on overflow.
 */
bool
msg_parse(const char *raw, size_t rawlen, struct msg *m)
{
	const char *p = raw, *end = raw + rawlen, *nl, *colon, *v;
	size_t llen, o;
	char *prev = NULL, *s;
	bool in_hdr = true;

	memset(m, 0, sizeof *m);
	if ((m->body = malloc(2 * rawlen + 3)) == NULL)
		return false;
	o = 0;
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		llen = (nl != NULL ? (size_t)(nl - p) : (size_t)(end - p));
		if (llen > 0 && p[llen - 1] == '\r')
			llen--;
		if (in_hdr && llen == 0) {
			in_hdr = false;
		} else if (in_hdr && prev != NULL &&
		    (*p == ' ' || *p == '\t')) {
			s = realloc(prev, strlen(prev) + llen + 2);
			if (s == NULL)
				return false;
			strcat(s, "\n");
			strncat(s, p, llen);
			m->store[m->nstore - 1] = s;
			m->h[m->nh - 1].value = s;
			prev = s;
		} else if (in_hdr && (colon = memchr(p, ':', llen)) != NULL &&
		    field_name_ok(p, (size_t)(colon - p))) {
			if (m->nh == MAXHDRS)
				return false;
			m->store[m->nstore] = strndup(p, (size_t)(colon - p));
			m->h[m->nh].name = m->store[m->nstore++];
			for (v = colon + 1; v < p + llen && (*v == ' ' ||
			    *v == '\t'); v++)
				;
			prev = strndup(v, (size_t)(p + llen - v));
			m->store[m->nstore++] = prev;
			m->h[m->nh++].value = prev;
			if (prev == NULL || m->h[m->nh - 1].name == NULL)
				return false;
		} else {
			in_hdr = false;		/* this line is body */
			memcpy(m->body + o, p, llen);
			o += llen;
			m->body[o++] = '\r';
			m->body[o++] = '\n';
		}
		p = nl != NULL ? nl + 1 : end;
	}
	m->bodylen = o;
	for (o = 0; o < m->nh; o++)
		if (strcasecmp(m->h[o].name, "From") == 0) {
			from_addr(m->h[o].value, m->from, sizeof m->from);
			break;
		}
	return true;
}

/* put_crlf - write s with every bare "\n" made "\r\n". */
static void
put_crlf(FILE *fp, const char *s)
{
	char last = '\0';

	for (; *s != '\0'; s++) {
		if (*s == '\n' && last != '\r')
			fputc('\r', fp);
		fputc(*s, fp);
		last = *s;
	}
}

/*
 * msg_assemble - write the signed message (signatures first, then h[],
 * blank line, body) to path.
 */
bool
msg_assemble(const char *path, const struct dkimsign_result *res,
    const struct dkimsign_hdr *h, size_t nh, const unsigned char *body,
    size_t bodylen)
{
	FILE *fp;
	size_t i;

	if ((fp = fopen(path, "wb")) == NULL)
		return false;
	for (i = 0; res != NULL && i < res->n; i++) {
		fputs("DKIM-Signature: ", fp);
		put_crlf(fp, res->sig[i].value);
		fputs("\r\n", fp);
	}
	for (i = 0; i < nh; i++) {
		fprintf(fp, "%s: ", h[i].name);
		put_crlf(fp, h[i].value);
		fputs("\r\n", fp);
	}
	fputs("\r\n", fp);
	if (bodylen > 0)
		(void)fwrite(body, 1, bodylen, fp);
	return fclose(fp) == 0;
}

/* msg_path - where batch message i is written. */
void
msg_path(size_t i, char *out, size_t outlen)
{
	(void)snprintf(out, outlen, "%s/m%zu.eml", tmpdir, i);
}

/*
 * verify_batch - verify the first nsig signatures of the messages
 * m0..m(n-1) with one dkimpy run (interpreter start-up is most of the
 * time); ok[i] tells each result.  *out is dkimpy's output (static).
 * Returns false when the verifier did not run.
 */
bool
verify_batch(size_t n, size_t nsig, bool *ok, const char **out)
{
	static char *text;
	char path[256], line[320], *cmd;
	size_t i, cap, o;

	cap = 2 * sizeof script + 2 * sizeof path + n * (sizeof path + 4);
	if ((cmd = malloc(cap)) == NULL)
		return false;
	o = (size_t)snprintf(cmd, cap, PY " '%s' '%s' %zu", script,
	    records_path(), nsig);
	for (i = 0; i < n; i++) {
		msg_path(i, path, sizeof path);
		o += (size_t)snprintf(cmd + o, cap - o, " '%s'", path);
	}
	(void)snprintf(cmd + o, cap - o, " > '%s/verify.out' 2>&1", tmpdir);
	(void)run("%s", cmd);
	free(cmd);
	(void)snprintf(path, sizeof path, "%s/verify.out", tmpdir);
	free(text);
	text = file_read(path, NULL);
	*out = text != NULL ? text : "(no output)";
	for (i = 0; i < n; i++) {
		msg_path(i, path, sizeof path);
		(void)snprintf(line, sizeof line, "RESULT %s ok\n", path);
		ok[i] = text != NULL && strstr(text, line) != NULL;
	}
	return text != NULL && strstr(text, "RESULT ") != NULL;
}

/*
 * detail - the part of verify_batch()'s output about message i (static
 * buffer).
 */
const char *
detail(const char *out, size_t i)
{
	static char buf[2048];
	char path[256], head[300];
	const char *p, *e;

	msg_path(i, path, sizeof path);
	(void)snprintf(head, sizeof head, "== %s\n", path);
	if ((p = strstr(out, head)) == NULL)
		return out;
	if ((e = strstr(p + strlen(head), "\n== ")) == NULL)
		e = p + strlen(p);
	(void)snprintf(buf, sizeof buf, "%.*s", (int)(e - p), p);
	return buf;
}

/*
 * verify - assemble one message and verify its first nsig signatures with
 * dkimpy.  Returns true when all verify; dkimpy's output goes to *out.
 */
bool
verify(const struct dkimsign_result *res, const struct dkimsign_hdr *h,
    size_t nh, const unsigned char *body, size_t bodylen, size_t nsig,
    const char **out)
{
	char mpath[256];
	bool ok = false;

	msg_path(0, mpath, sizeof mpath);
	if (!msg_assemble(mpath, res, h, nh, body, bodylen)) {
		*out = "cannot write the message";
		return false;
	}
	(void)verify_batch(1, nsig, &ok, out);
	return ok;
}

/* tag_value - copy tag's value from a signature, FWS removed. */
bool
tag_value(const char *sig, const char *tag, char *out, size_t outlen)
{
	const char *p = sig, *e, *t;
	size_t o, tl = strlen(tag);

	while (*p != '\0') {
		while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
			p++;
		e = strchr(p, ';');
		if (e == NULL)
			e = p + strlen(p);
		if (strncmp(p, tag, tl) == 0) {
			for (t = p + tl; *t == ' ' || *t == '\t' || *t == '\n';
			    t++)
				;
			if (*t == '=') {
				o = 0;
				for (t++; t < e && o + 1 < outlen; t++)
					if (*t != ' ' && *t != '\t' &&
					    *t != '\n' && *t != '\r')
						out[o++] = *t;
				out[o] = '\0';
				return true;
			}
		}
		p = *e == ';' ? e + 1 : e;
	}
	return false;
}

/* h_count - how often name is in the h= list (no FWS) hl. */
int
h_count(const char *hl, const char *name)
{
	size_t nl = strlen(name);
	const char *p = hl, *e;
	int n = 0;

	for (;;) {
		e = strchr(p, ':');
		if (e == NULL)
			e = p + strlen(p);
		if ((size_t)(e - p) == nl && strncasecmp(p, name, nl) == 0)
			n++;
		if (*e == '\0')
			return n;
		p = e + 1;
	}
}

/* corpus_list - the corpus messages (sorted names, NULL-terminated). */
char **
corpus_list(size_t *n_r)
{
	static const char *ext[] = { ".eml", ".msg", ".message", ".txt" };
	struct dirent **ents;
	char **list;
	size_t n = 0, i, e, l;
	int ne, k;

	if ((ne = scandir(corpus, &ents, NULL, alphasort)) < 0)
		return NULL;
	list = calloc((size_t)ne + 1, sizeof *list);
	for (k = 0; k < ne; k++) {
		l = strlen(ents[k]->d_name);
		for (e = 0; list != NULL && e < 4; e++) {
			i = strlen(ext[e]);
			if (l > i && strcmp(ents[k]->d_name + l - i, ext[e]) ==
			    0) {
				list[n++] = strdup(ents[k]->d_name);
				break;
			}
		}
		free(ents[k]);
	}
	free(ents);
	*n_r = n;
	return list;
}

/* corpus_free - free corpus_list()'s result. */
void
corpus_free(char **list)
{
	size_t i;

	for (i = 0; list != NULL && list[i] != NULL; i++)
		free(list[i]);
	free(list);
}

/* dkimtest_init - corpus, verifier and keys (dkimtest_run). */
static void
dkimtest_init(const char *name)
{
	const char *e;

	e = getenv("top_srcdir");
	(void)snprintf(topsrc, sizeof topsrc, "%s", e != NULL && *e != '\0' ?
	    e : ".");
	e = getenv("OPTIN_CORPUS");
	if (e != NULL && *e != '\0')
		(void)snprintf(corpus, sizeof corpus, "%s", e);
	else
		(void)snprintf(corpus, sizeof corpus, "%s/tests/data/corpus",
		    topsrc);
	if (access(corpus, R_OK | X_OK) != 0)
		fprintf(stderr, "%s: corpus %s not found (set OPTIN_CORPUS)\n",
		    name, corpus);
	(void)snprintf(script, sizeof script, "%s/tests/unit/dkim_verify.py",
	    topsrc);
	if (access(script, R_OK) != 0)
		fprintf(stderr, "%s: %s not found (set top_srcdir)\n", name,
		    script);
	setup_ok = setup_keys();
}

/* dkimtest_done - remove the keys (dkimtest_run). */
static void
dkimtest_done(const char *name)
{
	/* TEST_KEEP_TMP=1 keeps keys and the last message for a look */
	if (getenv("TEST_KEEP_TMP") != NULL)
		fprintf(stderr, "%s: kept %s\n", name, tmpdir);
	else if (tmpdir[0] != '\0' &&
	    strcmp(tmpdir, "/tmp/test_dkimsign.XXXXXX") != 0)
		(void)nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int
verify_cases(size_t nb, size_t nsig, char *const *names,
    const size_t *which)
{
	const char *out;
	size_t i;
	bool *ok;
	int failures = 0;

	if (nb == 0)
		return 0;
	if ((ok = calloc(nb, sizeof *ok)) == NULL)
		fail_msg("out of memory");
	if (!verify_batch(nb, nsig, ok, &out))
		fail_msg("dkimpy did not run: %s", out);
	for (i = 0; i < nb; i++)
		if (!ok[i]) {
			print_error("case '%s': dkimpy: got failure, want "
			    "pass:\n%s\n", names[which[i]], detail(out, i));
			failures++;
		}
	free(ok);
	return failures;
}

int
dkimtest_run(const char *name, const struct CMUnitTest *tests, size_t n)
{
	char prog[64];
	int rc;

	(void)snprintf(prog, sizeof prog, "test_%s", name);
	dkimtest_init(prog);
	rc = harness_run(name, tests, n);
	dkimtest_done(prog);
	return rc;
}

bool
corpus_msg(const char *name, struct msg *m)
{
	char path[1400], *raw;
	size_t len;
	bool ok;

	(void)snprintf(path, sizeof path, "%s/%s", corpus, name);
	if ((raw = file_read(path, &len)) == NULL) {
		memset(m, 0, sizeof *m);
		return false;
	}
	ok = msg_parse(raw, len, m);
	free(raw);
	return ok;
}
