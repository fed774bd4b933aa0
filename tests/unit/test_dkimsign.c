/*
 * test_dkimsign.c - DKIM signing (milter/dkim/dkimsign.c) checked by an
 * independent verifier: every signature made here is verified by dkimpy
 * (tests/unit/dkim_verify.py, run with /usr/bin/python3) against the DNS
 * records dkimsign_dns_records() prints, never live DNS.
 *
 * Keys are made at test time in a mkdtemp(3) directory (mode 0600):
 * RSA-2048 and Ed25519 with openssl genpkey, a weak RSA-1024, an encrypted
 * key, a 0644 copy, and an RSA key made by opendkim-genkey; nothing secret
 * is committed.  Corpus: $OPTIN_CORPUS, else $top_srcdir/../shared/corpus
 * (top_srcdir is set by "make check"; "." when run by hand from the top).
 *
 * Single-threaded except t_threads, which signs from four threads at once.
 */
#include "autoconf.h"

#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <dirent.h>
#include <ftw.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "harness.h"

#include "config.h"
#include "dkimsign.h"

#define MAXHDRS		128
#define PY		"/usr/bin/python3"
#define GEN_RSA		"openssl genpkey -algorithm RSA -pkeyopt " \
	"rsa_keygen_bits:%d -out '%s' 2>/dev/null"

static char tmpdir[64];			/* mkdtemp; removed at the end */
static char topsrc[1024];		/* $top_srcdir or "." */
static char corpus[1200];		/* corpus directory */
static char script[1200];		/* dkim_verify.py */
static bool setup_ok;

/* key files made by setup_keys() */
static char k_rsa[256], k_rsa2[256], k_ed[256], k_weak[256], k_open[256],
    k_enc[256], k_gk[256], k_gktxt[256], k_missing[256];

/* ------------------------------------------------------------------ */
/* helpers: files, commands */

/* run - system(3) with a formatted command; true when it exited 0. */
static bool __attribute__((format(printf, 1, 2)))
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
static char *
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
static bool
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
static void
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
static const char *
records_path(void)
{
	static char path[128];

	(void)snprintf(path, sizeof path, "%s/records.txt", tmpdir);
	return path;
}

/* records_save - write ds's DNS records as the zone dkimpy sees. */
static bool
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
static struct dkimsign *
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

struct msg {
	struct dkimsign_hdr h[MAXHDRS];
	size_t nh;
	char *store[MAXHDRS * 2];	/* owned strings behind h[] */
	size_t nstore;
	unsigned char *body;		/* owned, CRLF line ends */
	size_t bodylen;
	char from[256];			/* address of the first From */
};

/* msg_free - release what msg_parse() made. */
static void
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
static bool
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
static bool
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
static void
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
static bool
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
static const char *
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
static bool
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
static bool
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
static int
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
static char **
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
static void
corpus_free(char **list)
{
	size_t i;

	for (i = 0; list != NULL && list[i] != NULL; i++)
		free(list[i]);
	free(list);
}

/* ------------------------------------------------------------------ */
/* tests */

/* corpus_sign - sign every corpus message with cfg and verify each
 * signature with dkimpy; a message without From must be refused. */
static void
corpus_sign(const struct config *cfg, size_t want_n, const char *want_alg0)
{
	struct dkimsign *ds;
	struct dkimsign_result res;
	struct msg m;
	char path[1400], why[512], **list, *raw;
	const char *out;
	size_t n = 0, i, rawlen, j, nb = 0, *which = NULL;
	int rc, failures = 0;
	bool has_from, *ok = NULL;

	assert_true(setup_ok);
	ds = signer(cfg);
	list = corpus_list(&n);
	if (list == NULL || n == 0)
		fail_msg("no corpus messages in %s (set OPTIN_CORPUS)", corpus);
	which = calloc(n, sizeof *which);
	ok = calloc(n, sizeof *ok);
	assert_true(which != NULL && ok != NULL);
	for (i = 0; i < n; i++) {
		(void)snprintf(path, sizeof path, "%s/%s", corpus, list[i]);
		raw = file_read(path, &rawlen);
		if (raw == NULL || !msg_parse(raw, rawlen, &m)) {
			print_error("case '%s': cannot read or parse\n",
			    list[i]);
			failures++;
			free(raw);
			continue;
		}
		has_from = false;
		for (j = 0; j < m.nh; j++)
			if (strcasecmp(m.h[j].name, "From") == 0)
				has_from = true;
		why[0] = '\0';
		rc = dkimsign_message(ds, has_from ? m.from : NULL, m.h, m.nh,
		    m.body, m.bodylen, &res, why, sizeof why);
		if (!has_from) {
			if (rc != -1 || res.n != 0) {
				print_error("case '%s': no From: got rc %d, "
				    "want -1\n", list[i], rc);
				failures++;
			}
		} else if (rc != 1 || res.n != want_n) {
			print_error("case '%s': got rc %d n %zu (%s), want rc "
			    "1 n %zu\n", list[i], rc, res.n, why, want_n);
			failures++;
		} else if (strcmp(res.sig[0].alg, want_alg0) != 0) {
			print_error("case '%s': got alg %s, want %s\n",
			    list[i], res.sig[0].alg, want_alg0);
			failures++;
		} else {
			msg_path(nb, path, sizeof path);
			if (msg_assemble(path, &res, m.h, m.nh, m.body,
			    m.bodylen))
				which[nb++] = i;
			else {
				print_error("case '%s': cannot write %s\n",
				    list[i], path);
				failures++;
			}
		}
		dkimsign_result_free(&res);
		msg_free(&m);
		free(raw);
	}
	/* one dkimpy run for all signed messages */
	if (nb > 0 && !verify_batch(nb, want_n, ok, &out))
		fail_msg("dkimpy did not run: %s", out);
	for (j = 0; j < nb; j++)
		if (!ok[j]) {
			print_error("case '%s': dkimpy: got failure, want "
			    "pass:\n%s\n", list[which[j]], detail(out, j));
			failures++;
		}
	free(which);
	free(ok);
	corpus_free(list);
	dkimsign_free(&ds);
	assert_null(ds);
	assert_int_equal(failures, 0);
}

/* the corpus signed with rsa-sha256 */
static void
t_corpus_rsa(void **state)
{
	struct config cfg;

	(void)state;
	cfg_single(&cfg, SIGALG_RSA, k_rsa, "rsa2026", NULL, NULL);
	corpus_sign(&cfg, 1, "rsa-sha256");
}

/* the corpus signed with ed25519-sha256 (RFC 8463) */
static void
t_corpus_ed25519(void **state)
{
	struct config cfg;

	(void)state;
	cfg_single(&cfg, SIGALG_ED25519, k_ed, "ed2026", NULL, NULL);
	corpus_sign(&cfg, 1, "ed25519-sha256");
}

/* the corpus signed twice ("both"); both signatures must verify */
static void
t_corpus_both(void **state)
{
	struct config cfg;

	(void)state;
	cfg_single(&cfg, SIGALG_BOTH, k_rsa, "rsa2026", k_ed, "ed2026");
	corpus_sign(&cfg, 2, "rsa-sha256");
}

/* a campaign as the milter leaves it: our headers added at the end */
static const struct dkimsign_hdr campaign_hdrs[] = {
	{ "Received", "from app.example.com by mx.example.com" },
	{ "From", "News <news@example.com>" },
	{ "To", "ann@example.net" },
	{ "Subject", "Our spring offers" },
	{ "Date", "Mon, 02 Mar 2026 10:00:00 +0000" },
	{ "Message-ID", "<c1@example.com>" },
	{ "MIME-Version", "1.0" },
	{ "Content-Type", "text/plain; charset=utf-8" },
	{ "X-Campaign-ID", "spring" },
	{ "Feedback-ID", "spring:news:example" },
	{ "List-Id", "News <news.example.com>" },
	{ "List-Unsubscribe", "<https://unsub.example.com/u/TOKEN>,\n\t"
	    "<mailto:unsub@example.com?subject=unsubscribe>" },
	{ "List-Unsubscribe-Post", "List-Unsubscribe=One-Click" },
};
#define NCAMP (sizeof campaign_hdrs / sizeof campaign_hdrs[0])
static const unsigned char campaign_body[] = "Hello Ann,\r\n\r\nOffers.\r\n";

/* sign_campaign - sign the campaign message with cfg into res. */
static struct dkimsign *
sign_campaign(const struct config *cfg, struct dkimsign_result *res)
{
	struct dkimsign *ds;
	char why[512];
	int rc;

	ds = signer(cfg);
	rc = dkimsign_message(ds, "news@example.com", campaign_hdrs, NCAMP,
	    campaign_body, sizeof campaign_body - 1, res, why, sizeof why);
	if (rc != 1)
		fail_msg("dkimsign_message: rc %d: %s", rc, why);
	return ds;
}

/* h= and the other tags of what we sign, for each algorithm */
static void
t_signed_headers(void **state)
{
	static const struct {
		const char *label, *name;
		int want;	/* times in h= */
	} cases[] = {
		{ "from oversigned", "from", 2 },
		{ "list-unsubscribe oversigned", "list-unsubscribe", 2 },
		{ "list-unsubscribe-post oversigned", "list-unsubscribe-post",
		    2 },
		{ "to signed", "to", 1 },
		{ "subject signed", "subject", 1 },
		{ "date signed", "date", 1 },
		{ "message-id signed", "message-id", 1 },
		{ "mime-version signed", "mime-version", 1 },
		{ "content-type signed", "content-type", 1 },
		{ "list-id signed", "list-id", 1 },
		{ "feedback-id signed", "feedback-id", 1 },
		{ "cc absent, not listed", "cc", 0 },
		{ "reply-to absent, not listed", "reply-to", 0 },
		{ "received not signed", "received", 0 },
		{ "x-campaign-id not signed", "x-campaign-id", 0 },
	};
	static const enum cfg_sigalg algs[] = { SIGALG_RSA, SIGALG_BOTH };
	struct dkimsign_result res;
	struct dkimsign *ds;
	struct config cfg;
	char hl[2048], v[256], label[128];
	const char *out;
	size_t a, i, s;
	int got;

	(void)state;
	assert_true(setup_ok);
	for (a = 0; a < 2; a++) {
		cfg_single(&cfg, algs[a], k_rsa, "rsa2026", k_ed, "ed2026");
		ds = sign_campaign(&cfg, &res);
		assert_int_equal(res.n, algs[a] == SIGALG_BOTH ? 2 : 1);
		for (s = 0; s < res.n; s++) {
			const char *sig = res.sig[s].value;

			(void)snprintf(label, sizeof label, "%s",
			    res.sig[s].alg);
			assert_true(tag_value(sig, "h", hl, sizeof hl));
			for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
				got = h_count(hl, cases[i].name);
				if (got != cases[i].want)
					CASE_FAIL(cases[i].label, "%s: got %d "
					    "in h=%s, want %d", label, got, hl,
					    cases[i].want);
				if (dkimsign_covers(sig, cases[i].name) !=
				    (cases[i].want > 0))
					CASE_FAIL(cases[i].label, "%s: "
					    "dkimsign_covers disagrees", label);
			}
			if (tag_value(sig, "l", v, sizeof v))
				CASE_FAIL("no l=", "%s: got l=%s, want none",
				    label, v);
			if (!tag_value(sig, "c", v, sizeof v) ||
			    strcmp(v, "relaxed/relaxed") != 0)
				CASE_FAIL("c=", "%s: got %s, want "
				    "relaxed/relaxed", label, v);
			if (!tag_value(sig, "a", v, sizeof v) ||
			    strcmp(v, res.sig[s].alg) != 0)
				CASE_FAIL("a=", "%s: got a=%s", label, v);
			if (!tag_value(sig, "d", v, sizeof v) ||
			    strcmp(v, "example.com") != 0 ||
			    strcmp(res.sig[s].domain, "example.com") != 0)
				CASE_FAIL("d=", "%s: got %s", label, v);
			if (!tag_value(sig, "s", v, sizeof v) ||
			    strcmp(v, res.sig[s].selector) != 0 ||
			    strcmp(v, strcmp(label, "rsa-sha256") == 0 ?
			    "rsa2026" : "ed2026") != 0)
				CASE_FAIL("s=", "%s: got %s", label, v);
			if (strchr(sig, '\r') != NULL ||
			    strstr(sig, "\n\t") == NULL)
				CASE_FAIL("folding", "%s: want \"\\n\\t\" "
				    "folds, no CR: %s", label, sig);
		}
		if (!verify(&res, campaign_hdrs, NCAMP, campaign_body,
		    sizeof campaign_body - 1, res.n, &out))
			CASE_FAIL("campaign verifies", "%s", out);
		dkimsign_result_free(&res);
		assert_int_equal(res.n, 0);
		dkimsign_free(&ds);
	}
}

/* tampering with the signed headers after signing */
static void
t_tamper(void **state)
{
	enum op { NONE, REPLACE, ADD_TOP, ADD_END, DROP, BODY };
	static const struct {
		const char *label;
		enum op op;
		const char *name, *value;
		bool want_ok;
	} cases[] = {
		{ "unchanged", NONE, NULL, NULL, true },
		{ "unsigned header added", ADD_END, "X-Mailer", "x", true },
		{ "List-Unsubscribe changed", REPLACE, "List-Unsubscribe",
		    "<https://evil.example/u/1>", false },
		{ "second List-Unsubscribe at top", ADD_TOP,
		    "List-Unsubscribe", "<https://evil.example/u/2>", false },
		{ "second List-Unsubscribe at end", ADD_END,
		    "List-Unsubscribe", "<https://evil.example/u/3>", false },
		{ "second List-Unsubscribe-Post", ADD_END,
		    "List-Unsubscribe-Post", "List-Unsubscribe=One-Click",
		    false },
		{ "List-Unsubscribe-Post removed", DROP,
		    "List-Unsubscribe-Post", NULL, false },
		{ "second From added", ADD_TOP, "From", "evil@example.org",
		    false },
		{ "Subject changed", REPLACE, "Subject", "Other", false },
		{ "body changed", BODY, NULL, NULL, false },
	};
	static const unsigned char other_body[] = "Hello Bob,\r\n";
	static const enum cfg_sigalg algs[] = { SIGALG_RSA, SIGALG_ED25519 };
	struct dkimsign_hdr h[NCAMP + 1];
	struct dkimsign_result res;
	struct dkimsign *ds;
	struct config cfg;
	const unsigned char *body;
	const char *out;
	char path[256];
	size_t a, i, j, nh, blen;
	bool ok[sizeof cases / sizeof cases[0]];

	(void)state;
	assert_true(setup_ok);
	for (a = 0; a < 2; a++) {
		cfg_single(&cfg, algs[a], algs[a] == SIGALG_RSA ? k_rsa : k_ed,
		    "t2026", NULL, NULL);
		ds = sign_campaign(&cfg, &res);
		for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
			nh = 0;
			body = campaign_body;
			blen = sizeof campaign_body - 1;
			if (cases[i].op == ADD_TOP) {
				h[nh].name = cases[i].name;
				h[nh++].value = cases[i].value;
			}
			for (j = 0; j < NCAMP; j++) {
				h[nh] = campaign_hdrs[j];
				if (cases[i].name != NULL &&
				    strcmp(h[nh].name, cases[i].name) == 0) {
					if (cases[i].op == DROP)
						continue;
					if (cases[i].op == REPLACE)
						h[nh].value = cases[i].value;
				}
				nh++;
			}
			if (cases[i].op == ADD_END) {
				h[nh].name = cases[i].name;
				h[nh++].value = cases[i].value;
			}
			if (cases[i].op == BODY) {
				body = other_body;
				blen = sizeof other_body - 1;
			}
			msg_path(i, path, sizeof path);
			assert_true(msg_assemble(path, &res, h, nh, body,
			    blen));
		}
		if (!verify_batch(i, 1, ok, &out))
			fail_msg("dkimpy did not run: %s", out);
		for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
			if (ok[i] != cases[i].want_ok)
				CASE_FAIL(cases[i].label, "%s: got %s, want "
				    "%s\n%s", res.sig[0].alg,
				    ok[i] ? "pass" : "fail",
				    cases[i].want_ok ? "pass" : "fail",
				    detail(out, i));
		dkimsign_result_free(&res);
		dkimsign_free(&ds);
	}
}

/* a message without From is refused */
static void
t_no_from(void **state)
{
	static const struct dkimsign_hdr h[] = {
		{ "To", "ann@example.net" }, { "Subject", "x" },
	};
	struct dkimsign_result res;
	struct dkimsign *ds;
	struct config cfg;
	char why[256] = "";
	int rc;

	(void)state;
	assert_true(setup_ok);
	cfg_single(&cfg, SIGALG_RSA, k_rsa, "rsa2026", NULL, NULL);
	ds = signer(&cfg);
	rc = dkimsign_message(ds, "news@example.com", h, 2,
	    (const unsigned char *)"x\r\n", 3, &res, why, sizeof why);
	if (rc != -1 || res.n != 0 || strstr(why, "From") == NULL)
		CASE_FAIL("no From", "got rc %d n %zu why '%s', want -1 and "
		    "a reason naming From", rc, res.n, why);
	dkimsign_free(&ds);
}

/* dkimsign_open errors: every reason names what is wrong */
static void
t_open_errors(void **state)
{
	enum kind { SINGLE, TABLES };
	struct {
		const char *label;
		enum kind kind;
		enum cfg_sigalg alg;
		const char *key, *edkey, *edsel;
		const char *keytable, *signtable;	/* texts */
		const char *want1, *want2;	/* substrings of why */
	} cases[] = {
		{ "weak 1024-bit RSA", SINGLE, SIGALG_RSA, k_weak, NULL, NULL,
		    NULL, NULL, k_weak, "1024" },
		{ "key mode 0644", SINGLE, SIGALG_RSA, k_open, NULL, NULL,
		    NULL, NULL, k_open, "0644" },
		{ "missing key", SINGLE, SIGALG_RSA, k_missing, NULL, NULL,
		    NULL, NULL, k_missing, NULL },
		{ "directory as key", SINGLE, SIGALG_RSA, tmpdir, NULL, NULL,
		    NULL, NULL, tmpdir, "regular" },
		{ "encrypted key", SINGLE, SIGALG_ED25519, k_enc, NULL, NULL,
		    NULL, NULL, k_enc, "unencrypted" },
		{ "ed25519 key for rsa-sha256", SINGLE, SIGALG_RSA, k_ed, NULL,
		    NULL, NULL, NULL, k_ed, "Ed25519" },
		{ "rsa key for ed25519-sha256", SINGLE, SIGALG_ED25519, k_rsa,
		    NULL, NULL, NULL, NULL, k_rsa, "RSA" },
		{ "both without KeyFileEd25519", SINGLE, SIGALG_BOTH, k_rsa,
		    NULL, NULL, NULL, NULL, "KeyFileEd25519", NULL },
		{ "both without SelectorEd25519", SINGLE, SIGALG_BOTH, k_rsa,
		    k_ed, NULL, NULL, NULL, "SelectorEd25519", NULL },
		{ "both with keys swapped", SINGLE, SIGALG_BOTH, k_ed, k_rsa,
		    "ed", NULL, NULL, k_ed, NULL },
		{ "KeyTable 0644 key", TABLES, SIGALG_RSA, NULL, NULL, NULL,
		    "k1 example.com:s1:%O\n", "*@example.com k1\n", k_open,
		    "0644" },
		{ "KeyTable weak key", TABLES, SIGALG_RSA, NULL, NULL, NULL,
		    "k1 example.com:s1:%W\n", "*@example.com k1\n", k_weak,
		    "1024" },
		{ "KeyTable inline key data", TABLES, SIGALG_RSA, NULL, NULL,
		    NULL, "k1 example.com:s1:MIIEvQIBADANBgkq\n",
		    "*@example.com k1\n", "inline", NULL },
		{ "KeyTable bad line", TABLES, SIGALG_RSA, NULL, NULL, NULL,
		    "k1 example.com\n", "*@example.com k1\n", "keytable:1",
		    NULL },
		{ "SigningTable unknown key", TABLES, SIGALG_RSA, NULL, NULL,
		    NULL, "k1 example.com:s1:%R\n", "*@example.com k2\n",
		    "'k2'", NULL },
		{ "file: wildcard needs refile:", TABLES, SIGALG_RSA, NULL,
		    NULL, NULL, "k1 example.com:s1:%R\n",
		    "news*@example.com k1\n", "refile:", NULL },
		{ "no key for the algorithm", TABLES, SIGALG_ED25519, NULL,
		    NULL, NULL, "k1 example.com:s1:%R\n", "example.com k1\n",
		    "ed25519-sha256", NULL },
	};
	struct dkimsign *ds;
	struct config cfg;
	char why[512], kt[128], st[128], ktext[512], *p;
	const char *sub;
	size_t i;

	(void)state;
	assert_true(setup_ok);
	(void)snprintf(kt, sizeof kt, "%s/keytable", tmpdir);
	(void)snprintf(st, sizeof st, "%s/signingtable", tmpdir);
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		if (cases[i].kind == SINGLE) {
			cfg_single(&cfg, cases[i].alg, cases[i].key, "s1",
			    cases[i].edkey, cases[i].edsel);
		} else {
			/* %R, %O, %W: good, 0644 and weak RSA key paths */
			ktext[0] = '\0';
			for (p = (char *)cases[i].keytable; *p != '\0'; p++) {
				if (*p == '%' && (p[1] == 'R' || p[1] == 'O' ||
				    p[1] == 'W')) {
					strcat(ktext, p[1] == 'R' ? k_rsa :
					    p[1] == 'O' ? k_open : k_weak);
					p++;
				} else
					strncat(ktext, p, 1);
			}
			assert_true(file_write(kt, ktext, strlen(ktext)));
			assert_true(file_write(st, cases[i].signtable,
			    strlen(cases[i].signtable)));
			memset(&cfg, 0, sizeof cfg);
			cfg.signing_algorithm = cases[i].alg;
			cfg.key_table = kt;
			cfg.signing_table = st;
		}
		why[0] = '\0';
		ds = dkimsign_open(&cfg, why, sizeof why);
		if (ds != NULL) {
			CASE_FAIL(cases[i].label, "got a signer, want NULL");
			dkimsign_free(&ds);
			continue;
		}
		sub = cases[i].want1;
		if (strstr(why, sub) == NULL && strcasestr(why, sub) == NULL)
			CASE_FAIL(cases[i].label, "got why '%s', want it to "
			    "name '%s'", why, sub);
		sub = cases[i].want2;
		if (sub != NULL && strstr(why, sub) == NULL)
			CASE_FAIL(cases[i].label, "got why '%s', want it to "
			    "name '%s'", why, sub);
		if (strstr(why, "MIIEvQ") != NULL)
			CASE_FAIL(cases[i].label, "key data in why: %s", why);
	}
	/* nothing configured: NULL and no error */
	memset(&cfg, 0, sizeof cfg);
	cfg.signing_algorithm = SIGALG_RSA;
	cfg.domain = (char *)"example.com";
	(void)snprintf(why, sizeof why, "junk");
	ds = dkimsign_open(&cfg, why, sizeof why);
	if (ds != NULL || why[0] != '\0')
		CASE_FAIL("not configured", "got %p why '%s', want NULL, ''",
		    (void *)ds, why);
	dkimsign_free(&ds);
	dkimsign_free(NULL);
}

/* KeyTable/SigningTable selection, including an opendkim-genkey key */
static void
t_tables(void **state)
{
	static const char *st_file =
	    "# OpenDKIM-style signing table\n"
	    "*@example.com      k-com\n"
	    "*@example.com      k-com-ed\n"
	    "ceo@example.com    k-ceo\n"
	    "example.org        k-org\n"
	    "Boss@Example.NET   k-boss\n";
	static const char *st_refile =
	    "news*@example.com  k-ceo\n"
	    "*@*.example.com    k-com\n"
	    "example.org        k-org\n";
	static const struct {
		const char *label;
		bool refile;
		enum cfg_sigalg alg;
		const char *from;
		int want_rc;
		const char *want_s0, *want_s1;	/* selectors */
	} cases[] = {
		{ "*@domain", false, SIGALG_RSA, "ann@example.com", 1, "kcom",
		    NULL },
		{ "*@domain, case", false, SIGALG_RSA, "Ann@EXAMPLE.com", 1,
		    "kcom", NULL },
		{ "*@domain both", false, SIGALG_BOTH, "ann@example.com", 1,
		    "kcom", "kcomed" },
		{ "*@domain ed25519", false, SIGALG_ED25519, "ann@example.com",
		    1, "kcomed", NULL },
		{ "address beats *@domain", false, SIGALG_RSA,
		    "ceo@example.com", 1, "kceo", NULL },
		{ "address + ed25519 from *@domain", false, SIGALG_BOTH,
		    "ceo@example.com", 1, "kceo", "kcomed" },
		{ "domain, opendkim-genkey key", false, SIGALG_RSA,
		    "x@example.org", 1, "gk", NULL },
		{ "exact address", false, SIGALG_RSA, "boss@example.net", 1,
		    "kboss", NULL },
		{ "other address in domain", false, SIGALG_RSA,
		    "other@example.net", 0, NULL, NULL },
		{ "subdomain not matched", false, SIGALG_RSA,
		    "ann@sub.example.com", 0, NULL, NULL },
		{ "no ed25519 key for domain", false, SIGALG_ED25519,
		    "x@example.org", 0, NULL, NULL },
		{ "no From address", false, SIGALG_RSA, NULL, 0, NULL, NULL },
		{ "angle brackets", false, SIGALG_RSA, "<x@example.org>", 1,
		    "gk", NULL },
		{ "refile prefix glob", true, SIGALG_RSA,
		    "news-letter@example.com", 1, "kceo", NULL },
		{ "refile subdomain glob", true, SIGALG_RSA,
		    "bob@a.b.example.com", 1, "kcom", NULL },
		{ "refile domain-only pattern", true, SIGALG_RSA,
		    "x@example.org", 1, "gk", NULL },
		{ "refile no match", true, SIGALG_RSA, "bob@example.com", 0,
		    NULL, NULL },
	};
	struct dkimsign_result res;
	struct dkimsign *ds = NULL;
	struct config cfg;
	char kt[128], st[128], ktext[2048], stpath[160], why[512];
	const char *out, *text;
	size_t i;
	int rc;
	bool cur_refile = false;

	(void)state;
	assert_true(setup_ok);
	(void)snprintf(kt, sizeof kt, "%s/keytable", tmpdir);
	(void)snprintf(st, sizeof st, "%s/signingtable", tmpdir);
	(void)snprintf(ktext, sizeof ktext,
	    "k-com     example.com:kcom:%s\n"
	    "k-com-ed  example.com:kcomed:%s\n"
	    "k-ceo     example.com:kceo:%s\n"
	    "k-org     example.org:gk:%s   # made by opendkim-genkey\n"
	    "k-boss    example.net:kboss:%s\n", k_rsa, k_ed, k_rsa2, k_gk,
	    k_rsa);
	assert_true(file_write(kt, ktext, strlen(ktext)));
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		if (ds == NULL || cfg.signing_algorithm != cases[i].alg ||
		    cur_refile != cases[i].refile) {
			dkimsign_free(&ds);
			cur_refile = cases[i].refile;
			text = cur_refile ? st_refile : st_file;
			assert_true(file_write(st, text, strlen(text)));
			(void)snprintf(stpath, sizeof stpath, "%s%s",
			    cur_refile ? "refile:" : "file:", st);
			memset(&cfg, 0, sizeof cfg);
			cfg.signing_algorithm = cases[i].alg;
			cfg.key_table = kt;
			cfg.signing_table = stpath;
			ds = signer(&cfg);
		}
		why[0] = '\0';
		rc = dkimsign_message(ds, cases[i].from, campaign_hdrs, NCAMP,
		    campaign_body, sizeof campaign_body - 1, &res, why,
		    sizeof why);
		if (rc != cases[i].want_rc) {
			CASE_FAIL(cases[i].label, "got rc %d (%s), want %d",
			    rc, why, cases[i].want_rc);
			continue;
		}
		if (rc != 1) {
			if (res.n != 0)
				CASE_FAIL(cases[i].label, "got n %zu, want 0",
				    res.n);
			continue;
		}
		if (res.n != (cases[i].want_s1 != NULL ? 2u : 1u) ||
		    strcmp(res.sig[0].selector, cases[i].want_s0) != 0 ||
		    (res.n == 2 && strcmp(res.sig[1].selector,
		    cases[i].want_s1) != 0))
			CASE_FAIL(cases[i].label, "got n %zu s=%s%s%s, want "
			    "s=%s%s%s", res.n, res.sig[0].selector,
			    res.n == 2 ? " s=" : "",
			    res.n == 2 ? res.sig[1].selector : "",
			    cases[i].want_s0, cases[i].want_s1 ? " s=" : "",
			    cases[i].want_s1 ? cases[i].want_s1 : "");
		else if (!verify(&res, campaign_hdrs, NCAMP, campaign_body,
		    sizeof campaign_body - 1, res.n, &out))
			CASE_FAIL(cases[i].label, "dkimpy: got failure, want "
			    "pass\n%s", out);
		dkimsign_result_free(&res);
	}
	dkimsign_free(&ds);
}

/* what rec_find() looks for and found */
struct rec_find {
	const char *name;
	char txt[2048];
	int n;
};

/* rec_find - dkimsign_dns_records callback: count the records and keep
 * the text of the one named rf->name. */
static void
rec_find(const char *name, const char *txt, void *arg)
{
	struct rec_find *rf = arg;

	rf->n++;
	if (strcmp(name, rf->name) == 0)
		(void)snprintf(rf->txt, sizeof rf->txt, "%s", txt);
}

/* genkey_p - the p= value of an opendkim-genkey .txt (quoted pieces). */
static bool
genkey_p(const char *path, char *out, size_t outlen)
{
	char *text, *p, *q, joined[4096];
	size_t o = 0;

	if ((text = file_read(path, NULL)) == NULL)
		return false;
	for (p = text; (p = strchr(p, '"')) != NULL; p = q + 1) {
		if ((q = strchr(p + 1, '"')) == NULL)
			break;
		if (o + (size_t)(q - p) >= sizeof joined)
			break;
		memcpy(joined + o, p + 1, (size_t)(q - p - 1));
		o += (size_t)(q - p - 1);
	}
	joined[o] = '\0';
	free(text);
	if ((p = strstr(joined, "p=")) == NULL)
		return false;
	(void)snprintf(out, outlen, "%.*s", (int)strcspn(p + 2, "; "), p + 2);
	return true;
}

/* the DNS records: format, and the same keys openssl/opendkim-genkey see */
static void
t_dns_records(void **state)
{
	struct {
		const char *label;
		enum cfg_sigalg alg;
		const char *key, *name, *want_prefix, *cmd;
	} cases[] = {
		{ "rsa", SIGALG_RSA, k_rsa, "rsa2026._domainkey.example.com",
		    "v=DKIM1; k=rsa; p=", "base64 -w0" },
		{ "ed25519", SIGALG_ED25519, k_ed,
		    "rsa2026._domainkey.example.com", "v=DKIM1; k=ed25519; p=",
		    "tail -c 32 | base64 -w0" },
		{ "opendkim-genkey", SIGALG_RSA, k_gk,
		    "rsa2026._domainkey.example.com", "v=DKIM1; k=rsa; p=",
		    NULL },
	};
	struct rec_find rf;
	struct dkimsign *ds;
	struct config cfg;
	char why[256], opath[128], want[1024], *got;
	size_t i;

	(void)state;
	assert_true(setup_ok);
	(void)snprintf(opath, sizeof opath, "%s/pub.b64", tmpdir);
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		cfg_single(&cfg, cases[i].alg, cases[i].key, "rsa2026", NULL,
		    NULL);
		ds = signer(&cfg);
		memset(&rf, 0, sizeof rf);
		rf.name = cases[i].name;
		assert_int_equal(dkimsign_dns_records(ds, rec_find, &rf, why,
		    sizeof why), 0);
		dkimsign_free(&ds);
		if (rf.n != 1 || strncmp(rf.txt, cases[i].want_prefix,
		    strlen(cases[i].want_prefix)) != 0) {
			CASE_FAIL(cases[i].label, "got %d records, '%s', want "
			    "1 starting '%s'", rf.n, rf.txt,
			    cases[i].want_prefix);
			continue;
		}
		if (cases[i].cmd != NULL) {
			/* the DER public key; Ed25519's raw key is its
			 * last 32 bytes */
			if (!run("openssl pkey -in '%s' -pubout -outform DER "
			    "2>/dev/null | %s > '%s'", cases[i].key,
			    cases[i].cmd, opath) ||
			    (got = file_read(opath, NULL)) == NULL) {
				CASE_FAIL(cases[i].label, "openssl failed");
				continue;
			}
			(void)snprintf(want, sizeof want, "%s", got);
			free(got);
		} else if (!genkey_p(k_gktxt, want, sizeof want)) {
			CASE_FAIL(cases[i].label, "cannot read %s", k_gktxt);
			continue;
		}
		if (strcmp(rf.txt + strlen(cases[i].want_prefix), want) != 0)
			CASE_FAIL(cases[i].label, "got p=%s, want p=%s",
			    rf.txt + strlen(cases[i].want_prefix), want);
	}
}

/* dkimsign_covers on signature texts as they come in */
static void
t_covers(void **state)
{
	static const struct {
		const char *label, *sig, *name;
		bool want;
	} cases[] = {
		{ "plain", "v=1; a=rsa-sha256; h=from:to:list-unsubscribe; "
		    "b=x", "list-unsubscribe", true },
		{ "case-insensitive", "h=From:List-Unsubscribe-Post",
		    "list-unsubscribe-post", true },
		{ "folded with spaces", "v=1; h = From : To :\n\t "
		    "List-Unsubscribe\r\n\t: Subject ; b=x",
		    "List-Unsubscribe", true },
		{ "last in h=, no ';'", "v=1; b=x; h=from:list-unsubscribe",
		    "LIST-UNSUBSCRIBE", true },
		{ "prefix is not a match", "h=from:list-unsubscribe-post",
		    "list-unsubscribe", false },
		{ "longer name is not a match", "h=from:list-unsubscribe",
		    "list-unsubscribe-post", false },
		{ "bh= is not h=", "bh=list-unsubscribe; h=from", 
		    "list-unsubscribe", false },
		{ "other tag value", "z=list-unsubscribe; h=from",
		    "list-unsubscribe", false },
		{ "absent", "v=1; h=from:to", "subject", false },
		{ "empty h=", "v=1; h=; b=x", "from", false },
		{ "no h=", "v=1; a=rsa-sha256", "from", false },
		{ "empty name", "h=from::to", "", false },
		{ "NULL sig", NULL, "from", false },
	};
	size_t i;
	bool got;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		got = dkimsign_covers(cases[i].sig, cases[i].name);
		if (got != cases[i].want)
			CASE_FAIL(cases[i].label, "got %d, want %d", got,
			    cases[i].want);
	}
}

/* one signer shared by threads */
struct thr {
	const struct dkimsign *ds;
	struct dkimsign_result last;
	int bad;
};

/* thr_sign - thread body: sign the campaign 25 times, keep the last. */
static void *
thr_sign(void *arg)
{
	struct thr *t = arg;
	struct dkimsign_result res;
	char why[256];
	int i;

	for (i = 0; i < 25; i++) {
		if (dkimsign_message(t->ds, "news@example.com", campaign_hdrs,
		    NCAMP, campaign_body, sizeof campaign_body - 1, &res, why,
		    sizeof why) != 1 || res.n != 2) {
			t->bad++;
			continue;
		}
		dkimsign_result_free(&t->last);
		t->last = res;
	}
	return NULL;
}

/* concurrent signing from four threads with one signer */
static void
t_threads(void **state)
{
	struct thr t[4];
	pthread_t tid[4];
	struct dkimsign *ds;
	struct config cfg;
	const char *out;
	size_t i;

	(void)state;
	assert_true(setup_ok);
	cfg_single(&cfg, SIGALG_BOTH, k_rsa, "rsa2026", k_ed, "ed2026");
	ds = signer(&cfg);
	memset(t, 0, sizeof t);
	for (i = 0; i < 4; i++) {
		t[i].ds = ds;
		assert_int_equal(pthread_create(&tid[i], NULL, thr_sign, &t[i]),
		    0);
	}
	for (i = 0; i < 4; i++)
		assert_int_equal(pthread_join(tid[i], NULL), 0);
	for (i = 0; i < 4; i++) {
		if (t[i].bad != 0)
			CASE_FAIL("threads", "thread %zu: %d failures", i,
			    t[i].bad);
		else if (!verify(&t[i].last, campaign_hdrs, NCAMP,
		    campaign_body, sizeof campaign_body - 1, 2, &out))
			CASE_FAIL("threads", "thread %zu: %s", i, out);
		dkimsign_result_free(&t[i].last);
	}
	dkimsign_free(&ds);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_corpus_rsa),
		cmocka_unit_test(t_corpus_ed25519),
		cmocka_unit_test(t_corpus_both),
		cmocka_unit_test(t_signed_headers),
		cmocka_unit_test(t_tamper),
		cmocka_unit_test(t_no_from),
		cmocka_unit_test(t_open_errors),
		cmocka_unit_test(t_tables),
		cmocka_unit_test(t_dns_records),
		cmocka_unit_test(t_covers),
		cmocka_unit_test(t_threads),
	};
	const char *e;
	int rc;

	e = getenv("top_srcdir");
	(void)snprintf(topsrc, sizeof topsrc, "%s", e != NULL && *e != '\0' ?
	    e : ".");
	e = getenv("OPTIN_CORPUS");
	if (e != NULL && *e != '\0')
		(void)snprintf(corpus, sizeof corpus, "%s", e);
	else
		(void)snprintf(corpus, sizeof corpus, "%s/../shared/corpus",
		    topsrc);
	if (access(corpus, R_OK | X_OK) != 0) {
		/* a release tarball has no shared/ beside it: the project's
		 * own messages, shipped in tests/data/demo, stand in */
		fprintf(stderr, "test_dkimsign: %s not found: using "
		    "tests/data/demo\n", corpus);
		(void)snprintf(corpus, sizeof corpus, "%s/tests/data/demo",
		    topsrc);
	}
	(void)snprintf(script, sizeof script, "%s/tests/unit/dkim_verify.py",
	    topsrc);
	if (access(script, R_OK) != 0)
		fprintf(stderr, "test_dkimsign: %s not found (set top_srcdir)\n",
		    script);
	setup_ok = setup_keys();
	rc = HARNESS_RUN("dkimsign", tests);
	/* TEST_KEEP_TMP=1 keeps keys and the last message for a look */
	if (getenv("TEST_KEEP_TMP") != NULL)
		fprintf(stderr, "test_dkimsign: kept %s\n", tmpdir);
	else if (tmpdir[0] != '\0' &&
	    strcmp(tmpdir, "/tmp/test_dkimsign.XXXXXX") != 0)
		(void)nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return rc;
}
