/*
 * csv.h - RFC 4180 CSV: the reader of optinctl import, the writer of its
 * exports.
 *
 * Fields are separated by ',' and records by CRLF, LF or a lone CR; a field
 * in double quotes may hold commas, quotes (doubled: "") and line breaks.
 * A UTF-8 byte order mark at the start is skipped; anywhere else U+FEFF
 * makes its record bad.  Every field must be valid UTF-8 without NUL
 * bytes.  Empty lines are skipped.  A field that starts with one or more '
 * and then = + - @ TAB or CR loses its first ': csv_put() added it to keep
 * a spreadsheet from running the value as a formula, and the round trip of
 * an export through import is exact.
 *
 * Errors are per record: csv_read() reports CSV_BAD with the line number and
 * the reason, and the next call goes on with the record after it (a quoted
 * field that is never closed takes the rest of the input with it, as in
 * every CSV reader).  A reader is used by one thread at a time.
 */
#ifndef OPTIN_CSV_H
#define OPTIN_CSV_H

#include <stddef.h>
#include <stdio.h>

/* Longest record accepted (field bytes plus one per field) and most
 * fields. */
#define CSV_RECORD_MAX	(1024 * 1024)
#define CSV_FIELDS_MAX	1024

struct csv;			/* opaque */

enum csv_status {
	CSV_RECORD = 0,		/* *rec filled */
	CSV_EOF,		/* no more records */
	CSV_BAD,		/* malformed record, skipped; why[] says what */
	CSV_IOERR,		/* read error; why[] says what; stop */
};

/* One record; valid until the next csv_read() or csv_free(). */
struct csv_record {
	size_t nfields;
	char **field;		/* field[0..nfields-1], NUL-terminated */
	size_t *len;		/* their lengths */
	unsigned long line;	/* line on which the record starts (1-based) */
	unsigned long last_line; /* line on which it ends */
};

/* A reader of the file descriptor fd (not closed by csv_free); or of the
 * len bytes at data (borrowed until csv_free).  NULL when out of memory. */
struct csv *csv_open_fd(int fd);
struct csv *csv_open_mem(const void *data, size_t len);

/* Free a reader; accepts NULL, sets *cp to NULL. */
void csv_free(struct csv **cp);

/*
 * Read the next record into *rec.  CSV_BAD and CSV_IOERR fill why[] (the
 * reason without the line number: rec->line and rec->last_line say where).
 */
enum csv_status csv_read(struct csv *c, struct csv_record *rec, char *why,
	    size_t whylen);

/* Did the input start with a UTF-8 byte order mark (after a first read)? */
int csv_had_bom(const struct csv *c);

/*
 * Can the next csv_read() return without reading the descriptor again:
 * the input ended, or the bytes read but not yet parsed hold a line break?
 * 1 or 0; memory input: always 1.  A reader of a pipe hands on what it
 * has when this says 0, before csv_read() may block.
 */
int csv_ready(const struct csv *c);

/*
 * Write s as one CSV field to fp, in double quotes (quotes doubled) when
 * it holds a comma, quote, CR or LF; NULL writes an empty field.  A value
 * a spreadsheet would run as a formula (OWASP "CSV injection": it starts
 * with = + - @ TAB or CR) is neutralised: written quoted with a ' in front
 * ("'=SUM(A1)"); so is a value that is already such a text with ' in
 * front, which gets one more, so that csv_read() gives every value back.
 */
void csv_put(FILE *fp, const char *s);

#endif
