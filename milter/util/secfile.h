/*
 * secfile.h - reading secret files safely (keys).
 *
 * open(), then fstat() the descriptor: a regular file, not readable or
 * writable by group or others, owned by the caller or root - or by anyone
 * when the caller is root (keys read before the privilege drop, such as
 * OpenDKIM's in /etc/dkimkeys) - below directories that nobody but root,
 * the caller or the file's owner can write (sticky directories such as
 * /tmp excepted).  OpenSMTPD check_file_secrecy, OpenDKIM
 * dkimf_securefile; secfile.c says where and why we differ.
 */
#ifndef OPTIN_SECFILE_H
#define OPTIN_SECFILE_H

#include <stddef.h>

/*
 * Read the secret file path (at most maxlen bytes) into a malloc'd
 * NUL-terminated buffer (*len_r bytes without the NUL).  Returns the buffer,
 * owned by the caller, to be wiped with secfile_free(); NULL with why[]
 * filled when the file is missing, unreadable, too big, not a regular file,
 * has group/other permission bits, a wrong owner or an unsafe directory
 * above it.  On failure errno is that of open(2) when the file could not be
 * opened (EACCES: no permission, e.g. after the privilege drop), else 0.
 */
char *secfile_read(const char *path, size_t maxlen, size_t *len_r, char *why,
	    size_t whylen);

/* Wipe and free a buffer from secfile_read(); accepts NULL, sets *bufp NULL. */
void secfile_free(char **bufp, size_t len);

#endif
