/*
 * mlfi.h - the libmilter callbacks (smfiDesc) of optin-milter.
 */
#ifndef OPTIN_MLFI_H
#define OPTIN_MLFI_H

#include <libmilter/mfapi.h>

/* The filter description to register; runtime_install() first
 * (runtime.h): every new connection takes a reference to the current
 * runtime. */
extern struct smfiDesc mlfi_desc;

#endif
