/*
 * logaddr.c - addresses in log lines (logaddr.h).  No state; thread-safe.
 */
#include "autoconf.h"

#include <stdio.h>
#include <string.h>

#include "log.h"
#include "logaddr.h"
#include "token.h"

#define LOG_PREFIX	"log:"

const char *
logaddr(enum cfg_logaddr mode, const struct token_ring *ring,
    const char *addr, char out[LOGADDR_MAX])
{
	char norm[ADDR_MAX + 1], why[128], safe[ADDR_MAX + 1];
	char data[sizeof(LOG_PREFIX) + ADDR_MAX + 1], mac[65];
	int n;

	if (addr == NULL)
		addr = "";
	switch (mode) {
	case LOGADDR_YES:
		snprintf(out, LOGADDR_MAX, "<%s>", log_safe(addr, safe,
		    sizeof(safe)));
		return out;
	case LOGADDR_HASH:
		if (addr_normalize(addr, norm, sizeof(norm), why,
		    sizeof(why)) < 0)
			snprintf(norm, sizeof(norm), "%s", addr);
		n = snprintf(data, sizeof(data), "%s%s", LOG_PREFIX, norm);
		if (ring != NULL && n > 0 && (size_t)n < sizeof(data) &&
		    token_mark(ring, data, (size_t)n, mac) == 0) {
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
