/*
 * failrealloc.c - an LD_PRELOAD shim for tests/milter/t-noreply: every
 * realloc() of FAILREALLOC_AT bytes or more fails (NULL, ENOMEM), as when
 * memory runs out; smaller ones go to the C library.  Built by
 * t-noreply.setup; not part of any program.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>

static void *(*next_realloc)(void *, size_t);
static size_t fail_at;

__attribute__((constructor)) static void
failrealloc_init(void)
{
	const char *e = getenv("FAILREALLOC_AT");

	next_realloc = (void *(*)(void *, size_t))dlsym(RTLD_NEXT, "realloc");
	fail_at = e != NULL ? strtoul(e, NULL, 10) : 0;
}

void *
realloc(void *p, size_t n)
{
	if (fail_at > 0 && n >= fail_at) {
		errno = ENOMEM;
		return NULL;
	}
	return next_realloc(p, n);
}
