/*
 * mlfi.h - the libmilter callbacks (smfiDesc) of optin-milter.
 */
#ifndef OPTIN_MLFI_H
#define OPTIN_MLFI_H

#include <stdbool.h>
#include <libmilter/mfapi.h>

/* The filter description to register; runtime_install() first
 * (runtime.h): every new connection takes a reference to the current
 * runtime. */
extern struct smfiDesc mlfi_desc;

/* Stop: from now on every callback answers at once without touching
 * anything (a tempfail; a close leaves its connection to the process's
 * end), and wait up to secs seconds until no callback is running.  True
 * when none is: what they use may then be freed.  Call once, after
 * smfi_main returned. */
bool mlfi_stop(int secs);

#endif
