/*
 * mlfi.h - the libmilter callbacks (smfiDesc) of optin-milter.
 */
#ifndef OPTIN_MLFI_H
#define OPTIN_MLFI_H

#include <libmilter/mfapi.h>

struct runtime;

/* The filter description to register; mlfi_set_runtime() first. */
extern struct smfiDesc mlfi_desc;

/* The runtime every new connection refers to (read-only, outlives
 * smfi_main). */
void mlfi_set_runtime(const struct runtime *rt);

#endif
