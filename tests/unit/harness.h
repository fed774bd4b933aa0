/*
 * harness.h - the common end of every unit test: run a cmocka group and
 * print "N passed, N failed" (the line CI reads).  Case tables report
 * "label: got X, want Y" through CASE_FAIL.
 */
#ifndef OPTIN_TEST_HARNESS_H
#define OPTIN_TEST_HARNESS_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#define CASE_FAIL(label, ...) do { \
	print_error("case '%s': ", (label)); \
	print_error(__VA_ARGS__); \
	print_error("\n"); \
	fail(); \
} while (0)

static inline int
harness_run(const char *name, const struct CMUnitTest *tests, size_t n)
{
	int failed;

	failed = _cmocka_run_group_tests(name, tests, n, NULL, NULL);
	printf("%s: %zu passed, %d failed\n", name, n - (size_t)failed, failed);
	return failed == 0 ? 0 : 1;
}

#define HARNESS_RUN(name, tests) \
	harness_run((name), (tests), sizeof(tests) / sizeof((tests)[0]))

#endif
