/*
 * pgpause.c - an LD_PRELOAD shim for the race tests (tests/ctl/
 * t-erase-race.sh): the first time the program runs the prepared
 * statement $PGPAUSE_STMT, it creates $PGPAUSE_FILE.ready and waits (10 s
 * at most) until $PGPAUSE_FILE.go exists, then runs it.  So a test stops
 * a writer at a chosen point of its transaction, runs another program
 * (optinctl forget) there, and lets it go on; no lock needed, so none
 * that the other program would wait for.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

typedef PGresult *exec_fn(PGconn *, const char *, int, const char *const *,
    const int *, const int *, int);
typedef PGresult *prepare_fn(PGconn *, const char *, const char *, int,
    const Oid *);

/* pause - at the first PQprepare or PQexecPrepared of the statement
 * (preparing it inside a transaction takes its table locks already) */
static void
pause_at(const char *name)
{
	static int done;
	const char *stmt = getenv("PGPAUSE_STMT");
	const char *file = getenv("PGPAUSE_FILE");
	struct timespec nap = { 0, 20 * 1000000L };
	char path[4096];
	FILE *fp;
	int i;

	if (done || stmt == NULL || file == NULL || name == NULL ||
	    strcmp(name, stmt) != 0)
		return;
	done = 1;
	snprintf(path, sizeof(path), "%s.ready", file);
	if ((fp = fopen(path, "w")) != NULL)
		fclose(fp);
	snprintf(path, sizeof(path), "%s.go", file);
	for (i = 0; i < 500 && access(path, F_OK) != 0; i++)
		nanosleep(&nap, NULL);
}

PGresult *
PQprepare(PGconn *conn, const char *name, const char *sql, int n,
    const Oid *types)
{
	static prepare_fn *real;

	if (real == NULL)
		real = (prepare_fn *)dlsym(RTLD_NEXT, "PQprepare");
	pause_at(name);
	return real(conn, name, sql, n, types);
}

PGresult *
PQexecPrepared(PGconn *conn, const char *name, int n,
    const char *const *vals, const int *lens, const int *fmts, int rfmt)
{
	static exec_fn *real;

	if (real == NULL)
		real = (exec_fn *)dlsym(RTLD_NEXT, "PQexecPrepared");
	pause_at(name);
	return real(conn, name, n, vals, lens, fmts, rfmt);
}
