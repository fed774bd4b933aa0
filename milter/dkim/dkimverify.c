/*
 * dkimverify.c - verify DKIM signatures of a whole message with
 * libopendkim (dkimverify.h).  One DKIM_LIB per call: a report is verified
 * once per process run.
 */
#include "autoconf.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dkim.h>

#include "dkimverify.h"

int
dkimverify_domains(const char *buf, size_t len, const char *query_file,
    char **domains, char *why, size_t whylen)
{
	DKIM_LIB *lib;
	DKIM *dkim = NULL;
	DKIM_STAT status;
	DKIM_SIGINFO **sigs = NULL;
	unsigned int flags = 0;
	int i, nsigs = 0, n = 0, qm = DKIM_QUERY_FILE;

	domains[0] = NULL;
	if ((lib = dkim_init(NULL, NULL)) == NULL) {
		snprintf(why, whylen, "libopendkim: dkim_init failed");
		return -1;
	}
	(void)dkim_options(lib, DKIM_OP_GETOPT, DKIM_OPTS_FLAGS, &flags,
	    sizeof(flags));
	flags |= DKIM_LIBFLAGS_FIXCRLF;
	(void)dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_FLAGS, &flags,
	    sizeof(flags));
	if (query_file != NULL &&
	    (dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_QUERYMETHOD, &qm,
	    sizeof(qm)) != DKIM_STAT_OK ||
	    dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_QUERYINFO,
	    (void *)query_file, strlen(query_file)) != DKIM_STAT_OK)) {
		snprintf(why, whylen, "libopendkim: cannot use query file %s",
		    query_file);
		dkim_close(lib);
		return -1;
	}
	dkim = dkim_verify(lib, (const unsigned char *)"report", NULL,
	    &status);
	if (dkim == NULL) {
		snprintf(why, whylen, "libopendkim: dkim_verify: %s",
		    dkim_getresultstr(status));
		dkim_close(lib);
		return -1;
	}
	status = dkim_chunk(dkim, (unsigned char *)buf, len);
	if (status == DKIM_STAT_OK)
		status = dkim_chunk(dkim, NULL, 0);
	if (status == DKIM_STAT_OK || status == DKIM_STAT_NOSIG)
		(void)dkim_eom(dkim, NULL);
	if (dkim_getsiglist(dkim, &sigs, &nsigs) != DKIM_STAT_OK)
		nsigs = 0;
	for (i = 0; i < nsigs && n < DKIMVERIFY_MAX; i++) {
		const char *d = (const char *)dkim_sig_getdomain(sigs[i]);
		char *copy, *p;

		if ((dkim_sig_getflags(sigs[i]) & DKIM_SIGFLAG_PASSED) == 0 ||
		    dkim_sig_getbh(sigs[i]) != DKIM_SIGBH_MATCH || d == NULL)
			continue;
		if ((copy = strdup(d)) == NULL)
			break;
		for (p = copy; *p != '\0'; p++)
			*p = (char)tolower((unsigned char)*p);
		domains[n++] = copy;
	}
	domains[n] = NULL;
	dkim_free(dkim);
	dkim_close(lib);
	return n;
}

void
dkimverify_free(char **domains)
{
	size_t i;

	for (i = 0; i < DKIMVERIFY_MAX && domains[i] != NULL; i++) {
		free(domains[i]);
		domains[i] = NULL;
	}
}
