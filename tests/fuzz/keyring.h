/*
 * keyring.h - the key ring of the fuzz targets that need one: their
 * LLVMFuzzerInitialize writes two fixed keys (test only) to a temp file of
 * mode 0600, loads them into ring and removes the file; it aborts when
 * that fails.  Included by one target each (it defines what it declares).
 */
#ifndef OPTIN_FUZZ_KEYRING_H
#define OPTIN_FUZZ_KEYRING_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "token.h"

static struct token_ring *ring;

int LLVMFuzzerInitialize(int *argc, char ***argv);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char keys[] =
	    "# fuzz keys (test only)\n"
	    "1 AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n"
	    "2 ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=\n";
	char path[] = "/tmp/fuzz_ring.XXXXXX", why[256];
	int fd;

	(void)argc;
	(void)argv;
	if ((fd = mkstemp(path)) < 0 ||
	    write(fd, keys, sizeof(keys) - 1) != (ssize_t)(sizeof(keys) - 1)) {
		perror("fuzz: key file");
		abort();
	}
	(void)close(fd);
	ring = token_ring_load(path, why, sizeof(why));
	(void)unlink(path);
	if (ring == NULL) {
		fprintf(stderr, "fuzz: %s\n", why);
		abort();
	}
	return 0;
}

#endif
