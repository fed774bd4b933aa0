/*
 * fuzz_headers.c - libFuzzer target: arbitrary bytes as a message header
 * into the parsers the milter applies to header fields (milter/milter
 * mlfi.c, msgsafe.c, eom.c through milter/core): the author fields
 * (addr_list_count, addr_from_header: msgsafe_author's From and Sender
 * rules) and the campaign headers (campaign_list for ListHeader, the
 * internal-header names that StripInternalHeaders removes).
 *
 * The input is split into fields at LF; a line starting with a blank
 * continues the previous field (a fold, kept as in the MTA's value); a
 * field is "Name:value".  Invariants checked:
 * - memory safety only for the author fields: XXX addr_from_header()
 *   accepts "a@example.com, B <b@example.com>" (the last <...>) although
 *   addr.h says several mailboxes are an error; msgsafe_author() counts
 *   with addr_list_count() first and refuses such a From without Sender,
 *   so the milter is safe, but the two readers disagree (not fixed here);
 * - a list id campaign_list() returns passes campaign_list_ok() and is
 *   1 to CAMPAIGN_LIST_MAX bytes.
 *
 * Built and run by tests/fuzz/run.sh (clang, -fsanitize=fuzzer,address,
 * undefined).
 */
#include "autoconf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "campaign.h"
#include "config.h"

/* one_field - the checks for the field name: value */
static void
one_field(const struct config *cfg, const char *name, const char *value)
{
	char out[ADDR_MAX + 1], why[256], list[CAMPAIGN_LIST_MAX + 1];

	if (strcasecmp(name, "From") == 0 || strcasecmp(name, "Sender") == 0) {
		(void)addr_list_count(value);
		(void)addr_from_header(value, out, sizeof(out), why,
		    sizeof(why));
	}
	if (strcasecmp(name, cfg->list_header) == 0 &&
	    campaign_list(cfg, value, list, why, sizeof(why)) == 0 &&
	    (!campaign_list_ok(list) || list[0] == '\0' ||
	    strlen(list) > CAMPAIGN_LIST_MAX))
		abort();
	(void)campaign_internal_header(cfg, name);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct config cfg;
	char buf[4096], *line, *next, *field = NULL, *colon;
	size_t flen = 0;

	cfg.campaign_header = "X-Campaign-ID";
	cfg.list_header = "X-Campaign-List";
	cfg.default_list = NULL;
	if (size >= sizeof(buf))
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	/* unfold in place: a continuation line joins its field with LF */
	for (line = buf; line != NULL && *line != '\0'; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if ((line[0] == ' ' || line[0] == '\t') && field != NULL) {
			field[flen] = '\n';	/* restore the fold */
			flen += 1 + strlen(line);
			continue;
		}
		if (field != NULL && (colon = strchr(field, ':')) != NULL) {
			*colon = '\0';
			one_field(&cfg, field, colon + 1);
		}
		field = line;
		flen = strlen(line);
	}
	if (field != NULL && (colon = strchr(field, ':')) != NULL) {
		*colon = '\0';
		one_field(&cfg, field, colon + 1);
	}
	return 0;
}
