/*
 * campaign.c - campaign or transactional, and which list (campaign.h).
 */
#include "autoconf.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "campaign.h"
#include "config.h"

bool
campaign_by_envelope(const struct config *cfg, const char *sender,
    const char *auth_user)
{
	const char *domain;
	size_t i;

	if (auth_user != NULL && *auth_user != '\0' &&
	    cfg_list_has(&cfg->campaign_auth_users, auth_user))
		return true;
	if (sender == NULL)
		return false;
	domain = addr_domain(sender);
	for (i = 0; i < cfg->campaign_senders.n; i++) {
		const char *e = cfg->campaign_senders.v[i];

		if (e[0] == '@' ? (domain != NULL &&
		    strcasecmp(e + 1, domain) == 0) : strcasecmp(e, sender) == 0)
			return true;
	}
	return false;
}

bool
campaign_list_ok(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') ||
		    (i > 0 && (c == '.' || c == '_' || c == '-'))))
			return false;
	}
	return i > 0 && i <= CAMPAIGN_LIST_MAX;
}

int
campaign_list(const struct config *cfg, const char *list_header,
    char list_r[CAMPAIGN_LIST_MAX + 1], char *why, size_t whylen)
{
	const char *s = list_header;
	size_t len;

	if (s != NULL) {
		s += strspn(s, " \t\r\n");
		len = strlen(s);
		while (len > 0 && strchr(" \t\r\n", s[len - 1]) != NULL)
			len--;
		if (len > CAMPAIGN_LIST_MAX) {
			snprintf(why, whylen, "%s: list id longer than %d",
			    cfg->list_header, CAMPAIGN_LIST_MAX);
			return -1;
		}
		memcpy(list_r, s, len);
		list_r[len] = '\0';
		if (!campaign_list_ok(list_r)) {
			snprintf(why, whylen, "%s: not a valid list id "
			    "(letters, digits, '.', '_', '-')", cfg->list_header);
			return -1;
		}
		return 0;
	}
	if (cfg->default_list == NULL) {
		snprintf(why, whylen, "campaign without %s and no DefaultList",
		    cfg->list_header);
		return -1;
	}
	if (!campaign_list_ok(cfg->default_list)) {
		snprintf(why, whylen, "DefaultList is not a valid list id");
		return -1;
	}
	snprintf(list_r, CAMPAIGN_LIST_MAX + 1, "%s", cfg->default_list);
	return 0;
}

bool
campaign_internal_header(const struct config *cfg, const char *name)
{
	return strcasecmp(name, cfg->campaign_header) == 0 ||
	    strcasecmp(name, cfg->list_header) == 0 ||
	    strcasecmp(name, CAMPAIGN_SPLIT_HEADER) == 0 ||
	    strcasecmp(name, CAMPAIGN_RELEASE_HEADER) == 0;
}
