/*
 * fuzz_csv.c - libFuzzer target: arbitrary bytes into the CSV reader of
 * optinctl import (milter/util/csv.c).
 *
 * Every record must hold 1 to CSV_FIELDS_MAX fields of valid UTF-8 without
 * NUL bytes (len == strlen) and without U+FEFF (a BOM only opens the
 * file), line numbers must not go backwards, and the reader must end.
 * Each good record is written back with csv_put(), after a header line,
 * and read again: it must give the same fields (the round trip export-list
 * relies on, formula neutralisation included), and no cell written may
 * start like a spreadsheet formula.
 *
 * Build by hand (not part of make check):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I. -Imilter/util \
 *	tests/fuzz/fuzz_csv.c milter/util/csv.c milter/util/utf8.c -o fuzz_csv
 *   ./fuzz_csv -max_total_time=60 -max_len=4096
 */
#include "autoconf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"
#include "utf8.h"

/* cell_safe - the text csv_put wrote for one value: a spreadsheet must
 * not take it for a formula (OWASP: no = + - @ TAB CR first, inside the
 * quotes if any) */
static void
cell_safe(const char *value)
{
	char *text = NULL;
	size_t len = 0;
	const char *p;
	FILE *fp;

	if ((fp = open_memstream(&text, &len)) == NULL)
		abort();
	csv_put(fp, value);
	fclose(fp);
	p = text[0] == '"' ? text + 1 : text;
	if (*p != '\0' && strchr("=+-@\t\r", *p) != NULL)
		abort();
	free(text);
}

/* roundtrip - write rec with csv_put and read it back: same fields */
static void
roundtrip(const struct csv_record *rec)
{
	struct csv_record back;
	struct csv *c;
	char *text = NULL, why[256];
	size_t len = 0, i;
	FILE *fp;

	/* one empty field is an empty line, which the reader skips */
	if (rec->nfields == 1 && rec->len[0] == 0)
		return;
	if ((fp = open_memstream(&text, &len)) == NULL)
		abort();
	/* a header first, as export-list writes */
	fputs("h\r\n", fp);
	for (i = 0; i < rec->nfields; i++) {
		if (i > 0)
			fputc(',', fp);
		csv_put(fp, rec->field[i]);
		cell_safe(rec->field[i]);
	}
	fputs("\r\n", fp);
	fclose(fp);
	if ((c = csv_open_mem(text, len)) == NULL)
		abort();
	if (csv_read(c, &back, why, sizeof(why)) != CSV_RECORD ||
	    csv_read(c, &back, why, sizeof(why)) != CSV_RECORD ||
	    back.nfields != rec->nfields)
		abort();
	for (i = 0; i < rec->nfields; i++)
		if (back.len[i] != rec->len[i] ||
		    memcmp(back.field[i], rec->field[i], rec->len[i]) != 0)
			abort();
	if (csv_read(c, &back, why, sizeof(why)) != CSV_EOF)
		abort();
	csv_free(&c);
	free(text);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct csv_record rec;
	enum csv_status st;
	struct csv *c;
	unsigned long last = 0, n = 0;
	char why[256];
	size_t i;

	if ((c = csv_open_mem(data, size)) == NULL)
		return 0;
	while ((st = csv_read(c, &rec, why, sizeof(why))) != CSV_EOF) {
		if (st == CSV_IOERR || ++n > size + 1)
			abort();	/* no I/O on memory; must end */
		if (rec.line < last || rec.last_line < rec.line)
			abort();
		last = rec.last_line;
		if (st == CSV_BAD) {
			if (why[0] == '\0')
				abort();
			continue;
		}
		if (rec.nfields < 1 || rec.nfields > CSV_FIELDS_MAX)
			abort();
		for (i = 0; i < rec.nfields; i++)
			if (strlen(rec.field[i]) != rec.len[i] ||
			    utf8_bad((const unsigned char *)rec.field[i],
			    rec.len[i]) != rec.len[i] ||
			    memmem(rec.field[i], rec.len[i], "\xef\xbb\xbf", 3)
			    != NULL)
				abort();
		roundtrip(&rec);
	}
	csv_free(&c);
	return 0;
}
