/*
 * privdrop.c - privilege drop and pid file (privdrop.h).  Start-up only.
 */
#include "autoconf.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "privdrop.h"

int
privdrop_lookup(const char *user, unsigned *uid_r, unsigned *gid_r,
    char *why, size_t whylen)
{
	char name[256];
	const char *colon = strchr(user, ':');
	struct passwd *pw;
	struct group *gr;

	snprintf(name, sizeof(name), "%.*s", colon ? (int)(colon - user) :
	    (int)strlen(user), user);
	if ((pw = getpwnam(name)) == NULL) {
		snprintf(why, whylen, "unknown user '%s'", name);
		return -1;
	}
	*uid_r = pw->pw_uid;
	*gid_r = pw->pw_gid;
	if (colon != NULL) {
		if ((gr = getgrnam(colon + 1)) == NULL) {
			snprintf(why, whylen, "unknown group '%s'", colon + 1);
			return -1;
		}
		*gid_r = gr->gr_gid;
	}
	return 0;
}

int
privdrop_to(const char *user, char *why, size_t whylen)
{
	unsigned uid, gid;
	char name[256];

	if (user == NULL || *user == '\0')
		return 0;
	if (privdrop_lookup(user, &uid, &gid, why, whylen) < 0)
		return -1;
	if (getuid() == uid && geteuid() == uid)
		return 0;
	snprintf(name, sizeof(name), "%.*s", (int)strcspn(user, ":"), user);
	if (initgroups(name, (gid_t)gid) < 0 || setgid((gid_t)gid) < 0 ||
	    setuid((uid_t)uid) < 0) {
		snprintf(why, whylen, "cannot become %s: %s", user,
		    strerror(errno));
		return -1;
	}
	if (uid != 0 && (setuid(0) == 0 || geteuid() == 0)) {
		snprintf(why, whylen, "still able to regain root after "
		    "setuid(%u)", uid);
		return -1;
	}
	return 0;
}

int
privdrop_pidfile(const char *path, char *why, size_t whylen)
{
	char buf[32];
	int fd, n;

	(void)unlink(path);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC |
	    O_NOFOLLOW, 0644)) < 0) {
		snprintf(why, whylen, "%s: %s", path, strerror(errno));
		return -1;
	}
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (write(fd, buf, (size_t)n) != n) {
		snprintf(why, whylen, "%s: write: %s", path, strerror(errno));
		(void)close(fd);
		return -1;
	}
	return close(fd);
}
