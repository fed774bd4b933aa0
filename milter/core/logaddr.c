/*
 * logaddr.c - addresses in log lines (logaddr.h).  No state; thread-safe.
 */
#include "autoconf.h"

#include <stdio.h>
#include <string.h>

#include "log.h"
#include "logaddr.h"
#include "mark.h"

const char *
logaddr(enum cfg_logaddr mode, const struct token_ring *ring,
    const char *addr, char out[LOGADDR_MAX])
{
	char norm[ADDR_MAX + 1], why[128], safe[ADDR_MAX + 1];
	char mac[MARK_HEX_MAX];

	/* the null sender (RFC 5321 section 4.5.5) is nobody: "<>" in every
	 * mode, not the hash of an empty address */
	if (addr == NULL || *addr == '\0') {
		snprintf(out, LOGADDR_MAX, "<>");
		return out;
	}
	switch (mode) {
	case LOGADDR_YES:
		snprintf(out, LOGADDR_MAX, "<%s>", log_safe(addr, safe,
		    sizeof(safe)));
		return out;
	case LOGADDR_HASH:
		if (addr_normalize(addr, norm, sizeof(norm), why,
		    sizeof(why)) < 0)
			snprintf(norm, sizeof(norm), "%s", addr);
		/* its own subkey (mark.h MARK_LOG): never an erased form
		 * or a marker */
		if (ring != NULL && mark_make(ring, MARK_LOG, norm,
		    strlen(norm), mac) == 0) {
			snprintf(out, LOGADDR_MAX, "<hash:%.16s>", mac);
			return out;
		}
		break;
	case LOGADDR_NO:
		break;
	}
	snprintf(out, LOGADDR_MAX, "<hidden>");
	return out;
}
