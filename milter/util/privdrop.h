/*
 * privdrop.h - dropping root privileges (STYLE.md section 8) and pid files.
 */
#ifndef OPTIN_PRIVDROP_H
#define OPTIN_PRIVDROP_H

#include <stddef.h>

/*
 * Become user (a name or "user:group"; NULL or "": stay as we are):
 * initgroups (the user's groups in /etc/group are kept as supplementary
 * groups, as Postfix and OpenDKIM do: e.g. postdrop, which Postfix's
 * sendmail(1) needs when NoNewPrivileges disables postdrop's setgid bit),
 * setgid, setuid, then confirm that root cannot be regained.
 * Returns 0, or -1 with why[] filled.  Call before threads start.
 */
int privdrop_to(const char *user, char *why, size_t whylen);

/* Look up user ("name" or "name:group") into *uid_r, *gid_r; 0 or -1. */
int privdrop_lookup(const char *user, unsigned *uid_r, unsigned *gid_r,
	    char *why, size_t whylen);

/* Write our pid to path (mode 0644, replacing a stale file); 0 or -1. */
int privdrop_pidfile(const char *path, char *why, size_t whylen);

#endif
