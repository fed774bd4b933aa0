/*
 * test_malloctune.c - unit test for malloctune.c: malloc_tune() is in
 * effect.  Until the fix, the file tested __GLIBC__ before including any
 * C library header, so mallopt() was compiled out and both daemons gave
 * freed memory back after every request (an madvise and a TLB shootdown
 * each; BENCHMARKS.md, branch unsub).
 *
 * What is observable: setting M_TRIM_THRESHOLD also ends glibc's sliding
 * mmap threshold.  Without it, freeing a 1 MiB mmapped block raises the
 * threshold, and the next 1 MiB block comes from a heap (no mmapped
 * block); with it, the next one is mmapped again.  glibc's allocator
 * only: elsewhere, and under AddressSanitizer (tests/sanitize), whose
 * allocator replaces glibc's and answers mallinfo2() with zeros, the test
 * passes trivially.
 */
#include "autoconf.h"

#include <stdlib.h>

#include "harness.h"

#if defined(__SANITIZE_ADDRESS__)
#define GLIBC_MALLOC 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define GLIBC_MALLOC 0
#endif
#endif
#if !defined(GLIBC_MALLOC) && defined(__GLIBC__)
#define GLIBC_MALLOC 1
#endif
#ifndef GLIBC_MALLOC
#define GLIBC_MALLOC 0
#endif
#if GLIBC_MALLOC
#include <malloc.h>
#endif

#include "malloctune.h"

#define BIG	(1024 * 1024)

/* the threshold does not slide: a freed 1 MiB block leaves the next one
 * mmapped */
static void
test_no_sliding(void **state)
{
#if GLIBC_MALLOC
	void *volatile p;	/* volatile: no malloc/free pair elided */
	size_t mmapped;

	(void)state;
	p = malloc(BIG);
	assert_non_null(p);
	free(p);
	p = malloc(BIG);
	assert_non_null(p);
	mmapped = mallinfo2().hblks;
	free(p);
	if (mmapped != 1)
		fail_msg("mmapped blocks after free + malloc of 1 MiB: %zu, "
		    "want 1 (mallopt(M_TRIM_THRESHOLD) not in effect)",
		    mmapped);
#else
	(void)state;
#endif
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_sliding),
	};

	malloc_tune();
	return HARNESS_RUN("test_malloctune", tests);
}
