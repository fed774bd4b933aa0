/*
 * dkimtest.h - what the DKIM unit tests (test_dkimsign.c, test_dkimkey.c)
 * share: test keys made at run time, corpus messages parsed as the MTA
 * hands them to the milter, and verification by dkimpy
 * (tests/unit/dkim_verify.py) against the records the signer prints.
 * Definitions and details: dkimtest.c.
 */
#ifndef OPTIN_TEST_DKIMTEST_H
#define OPTIN_TEST_DKIMTEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "config.h"
#include "dkimsign.h"

#define MAXHDRS		128

extern char tmpdir[64];			/* mkdtemp; removed at the end */
extern char topsrc[1024];		/* $top_srcdir or "." */
extern char corpus[1200];		/* corpus directory */
extern char script[1200];		/* dkim_verify.py */
extern bool setup_ok;			/* dkimtest_init() made every key */

/* key files made by dkimtest_init() */
extern char k_rsa[256], k_rsa2[256], k_ed[256], k_weak[256], k_open[256],
    k_enc[256], k_gk[256], k_gktxt[256], k_missing[256];

/* One message as the milter sees it (msg_parse). */
struct msg {
	struct dkimsign_hdr h[MAXHDRS];
	size_t nh;
	char *store[MAXHDRS * 2];	/* owned strings behind h[] */
	size_t nstore;
	unsigned char *body;		/* owned, CRLF line ends */
	size_t bodylen;
	char from[256];			/* address of the first From */
};

struct CMUnitTest;

/* The main of a DKIM unit test: find the corpus and the verifier, make
 * the keys (sets setup_ok), run tests[0..n-1] as group name (harness.h),
 * remove the key directory (TEST_KEEP_TMP=1 keeps it).  Returns the exit
 * status. */
int dkimtest_run(const char *name, const struct CMUnitTest *tests,
    size_t n);

/* system(3) of a formatted command: true when it exited 0 */
bool run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* files: whole file NUL-terminated (malloc'd, NULL on error); write */
char *file_read(const char *path, size_t *len_r);

bool file_write(const char *path, const char *text, size_t len);

/* a config with Domain example.com and the given keys */
void cfg_single(struct config *cfg, enum cfg_sigalg alg, const char *key,
    const char *sel, const char *edkey, const char *edsel);

/* the DNS records dkimpy sees: their file; save ds's; open a signer
 * and save its records (fails the test when it cannot) */
const char *records_path(void);

bool records_save(const struct dkimsign *ds);

struct dkimsign *signer(const struct config *cfg);

/* messages: parse as libmilter hands them over, free, write signed
 * (signatures first) to a path, batch message i's path */
void msg_free(struct msg *m);

bool msg_parse(const char *raw, size_t rawlen, struct msg *m);

bool msg_assemble(const char *path, const struct dkimsign_result *res,
    const struct dkimsign_hdr *h, size_t nh, const unsigned char *body,
    size_t bodylen);

void msg_path(size_t i, char *out, size_t outlen);

/* dkimpy: verify nsig signatures of batch messages 0..n-1 in one run
 * (ok[i] each), the output about message i, assemble and verify one */
bool verify_batch(size_t n, size_t nsig, bool *ok, const char **out);

const char *detail(const char *out, size_t i);

/* verify_batch() of messages 0..nb-1, message i being corpus case
 * names[which[i]]: prints each failure, returns how many (fails the test
 * when dkimpy does not run) */
int verify_cases(size_t nb, size_t nsig, char *const *names,
    const size_t *which);

bool verify(const struct dkimsign_result *res, const struct dkimsign_hdr *h,
    size_t nh, const unsigned char *body, size_t bodylen, size_t nsig,
    const char **out);

/* a tag's value without FWS; how often name is in an h= list */
bool tag_value(const char *sig, const char *tag, char *out, size_t outlen);

int h_count(const char *hl, const char *name);

/* the corpus messages, sorted, NULL-terminated; free them */
char **corpus_list(size_t *n_r);

void corpus_free(char **list);

/* corpus message name (a corpus_list() entry) read and msg_parse()d into
 * *m (msg_free() it either way); false when it cannot be */
bool corpus_msg(const char *name, struct msg *m);

#endif
