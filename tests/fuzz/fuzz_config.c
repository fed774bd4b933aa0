/*
 * fuzz_config.c - libFuzzer target: arbitrary bytes as a configuration
 * file into config_parse().  Either a config comes back with no error
 * counted, or no config and at least one error.
 *
 * Built and run by tests/fuzz/run.sh.
 */
#include "autoconf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config *cfg;
	char *text;
	int nerr = 0;
	FILE *err;

	if ((text = malloc(size + 1)) == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if ((err = fopen("/dev/null", "w")) == NULL) {
		free(text);
		return 0;
	}
	cfg = config_parse("fuzz.conf", text, err, &nerr);
	if ((cfg == NULL) != (nerr > 0))
		abort();
	config_free(&cfg);
	fclose(err);
	free(text);
	return 0;
}
