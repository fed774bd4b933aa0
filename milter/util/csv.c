/*
 * csv.c - RFC 4180 CSV reader (csv.h).
 *
 * A byte-at-a-time state machine over a 256 KiB input buffer (or the
 * caller's memory), so that a file of a million records is read in one
 * pass without holding it.  The fields of the current record are copied,
 * unquoted, into one growable buffer, each ending in NUL; rec->field points
 * into it.  Line numbers count LF, CRLF and a lone CR as one line break,
 * inside quoted fields as well, so that they match what an editor shows.
 *
 * After an error the rest of the record is skipped up to the next line
 * break outside quotes; an unterminated quoted field runs to the end of the
 * input.  Memory: the reader owns its buffers; csv_free() releases them.
 * Single-threaded per reader.
 */
#include "autoconf.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "csv.h"
#include "utf8.h"

#define INBUF_SIZE	(256 * 1024)
#define BOM		"\xef\xbb\xbf"	/* U+FEFF in UTF-8 */
#define FORMULA_START	"=+-@\t\r"	/* OWASP: a spreadsheet runs these */

enum state {
	ST_FIELD_START,		/* at the start of a field */
	ST_UNQUOTED,		/* in an unquoted field */
	ST_QUOTED,		/* in a quoted field */
	ST_QUOTE,		/* a quote inside a quoted field: end or "" */
	ST_SKIP,		/* after an error: up to the end of the line */
};

struct csv {
	int fd;				/* -1: memory input */
	const unsigned char *in;	/* input window */
	size_t inlen, inpos;
	unsigned char *inbuf;		/* owned, fd input */
	bool eof;			/* no more input after the window */
	bool started;			/* BOM check done */
	bool bom;
	bool prev_cr;			/* last byte was a CR (CRLF = 1 line) */
	bool bol;			/* last byte was a line break */
	unsigned long line;		/* current line (1-based) */

	char *data;			/* owned: fields of the record */
	size_t datalen, datasize;
	size_t fstart;			/* start of the current field */
	size_t *off;			/* owned: start of each field in data */
	char **field;			/* owned: pointers for csv_record */
	size_t *flen;			/* owned */
	size_t nfields, fieldsize;
};

/* reader_new - an empty reader */
static struct csv *
reader_new(void)
{
	struct csv *c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->fd = -1;
	c->line = 1;
	return c;
}

struct csv *
csv_open_fd(int fd)
{
	struct csv *c;

	if ((c = reader_new()) == NULL)
		return NULL;
	if ((c->inbuf = malloc(INBUF_SIZE)) == NULL) {
		free(c);
		return NULL;
	}
	c->fd = fd;
	c->in = c->inbuf;
	return c;
}

struct csv *
csv_open_mem(const void *data, size_t len)
{
	struct csv *c;

	if ((c = reader_new()) == NULL)
		return NULL;
	c->in = data;
	c->inlen = len;
	c->eof = true;
	return c;
}

void
csv_free(struct csv **cp)
{
	struct csv *c;

	if (cp == NULL || (c = *cp) == NULL)
		return;
	free(c->inbuf);
	free(c->data);
	free(c->off);
	free(c->field);
	free(c->flen);
	free(c);
	*cp = NULL;
}

int
csv_had_bom(const struct csv *c)
{
	return c->bom;
}

int
csv_ready(const struct csv *c)
{
	return c->fd < 0 || c->eof || memchr(c->in + c->inpos, '\n',
	    c->inlen - c->inpos) != NULL;
}

/* fill - read more input, keeping the unread bytes; 1 more, 0 EOF, -1 err */
static int
fill(struct csv *c, char *why, size_t whylen)
{
	size_t keep;
	ssize_t n;

	if (c->eof)
		return 0;
	keep = c->inlen - c->inpos;
	if (keep > 0 && c->inpos > 0)
		memmove(c->inbuf, c->inbuf + c->inpos, keep);
	c->inpos = 0;
	c->inlen = keep;
	for (;;) {
		n = read(c->fd, c->inbuf + keep, INBUF_SIZE - keep);
		if (n < 0 && errno == EINTR)
			continue;
		break;
	}
	if (n < 0) {
		snprintf(why, whylen, "read error: %s", strerror(errno));
		return -1;
	}
	if (n == 0) {
		c->eof = true;
		return 0;
	}
	c->inlen += (size_t)n;
	return 1;
}

/* put - append byte b to the record data; false when the record is too
 * long */
static bool
put(struct csv *c, unsigned char b)
{
	char *p;
	size_t size;

	if (c->datalen + 1 >= c->datasize) {
		/* field bytes plus one NUL per field */
		if (c->datalen >= CSV_RECORD_MAX)
			return false;
		size = c->datasize == 0 ? 4096 : c->datasize * 2;
		if (size > CSV_RECORD_MAX + 1)
			size = CSV_RECORD_MAX + 1;
		if ((p = realloc(c->data, size)) == NULL)
			return false;
		c->data = p;
		c->datasize = size;
	}
	c->data[c->datalen++] = (char)b;
	return true;
}

/* field_end - close the current field; false when there are too many */
static bool
field_end(struct csv *c)
{
	size_t size, *o, *l;
	char **f;

	if (!put(c, '\0'))
		return false;
	if (c->nfields >= c->fieldsize) {
		if (c->fieldsize >= CSV_FIELDS_MAX)
			return false;
		size = c->fieldsize == 0 ? 16 : c->fieldsize * 2;
		if ((o = realloc(c->off, size * sizeof(*o))) == NULL)
			return false;
		c->off = o;
		if ((f = realloc(c->field, size * sizeof(*f))) == NULL)
			return false;
		c->field = f;
		if ((l = realloc(c->flen, size * sizeof(*l))) == NULL)
			return false;
		c->flen = l;
		c->fieldsize = size;
	}
	c->off[c->nfields] = c->fstart;
	c->flen[c->nfields] = c->datalen - 1 - c->fstart;
	c->nfields++;
	c->fstart = c->datalen;
	return true;
}

/*
 * formula_like - would a spreadsheet run s as a formula (OWASP "CSV
 * injection": a cell that starts with = + - @ TAB or CR), or is it such a
 * text already neutralised, with one or more ' in front?  csv_put() adds
 * one ' to these and csv_read() removes one, so that every value reads
 * back as it was written.
 */
static bool
formula_like(const char *s)
{
	while (*s == '\'')
		s++;
	return *s != '\0' && strchr(FORMULA_START, *s) != NULL;
}

/* finish - make *rec from the collected fields and check their UTF-8 */
static enum csv_status
finish(struct csv *c, struct csv_record *rec, char *why, size_t whylen)
{
	size_t i;

	for (i = 0; i < c->nfields; i++) {
		c->field[i] = c->data + c->off[i];
		if (utf8_bad((const unsigned char *)c->field[i], c->flen[i]) !=
		    c->flen[i]) {
			snprintf(why, whylen, "field %zu is not valid UTF-8",
			    i + 1);
			return CSV_BAD;
		}
		/* undo csv_put()'s neutralising quote: '=x, ''=x, '-1 */
		if (c->field[i][0] == '\'' && formula_like(c->field[i])) {
			c->field[i]++;
			c->flen[i]--;
		}
		/* a BOM only opens the file: anywhere else it comes from
		 * files joined together, and would become part of a value
		 * (an address that looks like another) */
		if (memmem(c->field[i], c->flen[i], BOM, 3) != NULL) {
			snprintf(why, whylen, "byte order mark (U+FEFF) in "
			    "field %zu: allowed only at the start of the file",
			    i + 1);
			return CSV_BAD;
		}
	}
	rec->nfields = c->nfields;
	rec->field = c->field;
	rec->len = c->flen;
	return CSV_RECORD;
}

enum csv_status
csv_read(struct csv *c, struct csv_record *rec, char *why, size_t whylen)
{
	enum state st = ST_FIELD_START;
	const char *err = NULL;
	unsigned long qline = 0;	/* where an open quote began */
	unsigned char b;
	bool any = false;		/* the record has some byte */
	int r = 0;

	c->datalen = 0;
	c->fstart = 0;
	c->nfields = 0;
	rec->nfields = 0;
	rec->line = c->line;
	rec->last_line = c->line;
	if (!c->started) {
		while (c->inlen - c->inpos < 3 && (r = fill(c, why, whylen))
		    > 0)
			;
		if (c->fd >= 0 && r < 0 && c->inlen - c->inpos < 3)
			return CSV_IOERR;
		if (c->inlen - c->inpos >= 3 && memcmp(c->in + c->inpos,
		    BOM, 3) == 0) {
			c->inpos += 3;
			c->bom = true;
		}
		c->started = true;
	}
	for (;;) {
		if (c->inpos >= c->inlen) {
			if ((r = fill(c, why, whylen)) < 0)
				return CSV_IOERR;
			if (r == 0)
				break;
		}
		b = c->in[c->inpos++];
		/* line counting: LF, CRLF and lone CR are one break each */
		if (b == '\n' && c->prev_cr) {
			/* the LF of a CRLF: the CR did the work (ended the
			 * record, or went into the quoted field) */
			c->prev_cr = false;
			if (st == ST_QUOTED && !put(c, b))
				goto toolong;
			continue;
		}
		c->prev_cr = b == '\r';
		c->bol = b == '\n' || b == '\r';
		if (b == '\n' || b == '\r') {
			c->line++;
			if (st == ST_QUOTED) {
				if (!put(c, b))
					goto toolong;
				continue;
			}
			if (st == ST_SKIP) {
				rec->last_line = c->line - 1;
				snprintf(why, whylen, "%s", err);
				return CSV_BAD;
			}
			if (!any) {		/* empty line: skip */
				rec->line = c->line;
				rec->last_line = c->line;
				continue;
			}
			rec->last_line = c->line - 1;
			if (!field_end(c))
				goto toolong;
			return finish(c, rec, why, whylen);
		}
		any = true;
		if (b == '\0' && st != ST_SKIP) {
			err = "NUL byte in a field";
			st = ST_SKIP;
			continue;
		}
		switch (st) {
		case ST_FIELD_START:
			if (b == '"') {
				st = ST_QUOTED;
				qline = c->line;
				break;
			}
			if (b == ',') {
				if (!field_end(c))
					goto toolong;
				break;
			}
			st = ST_UNQUOTED;
			if (!put(c, b))
				goto toolong;
			break;
		case ST_UNQUOTED:
			if (b == ',') {
				if (!field_end(c))
					goto toolong;
				st = ST_FIELD_START;
			} else if (b == '"') {
				err = "quote inside an unquoted field";
				st = ST_SKIP;
			} else if (!put(c, b))
				goto toolong;
			break;
		case ST_QUOTED:
			if (b == '"')
				st = ST_QUOTE;
			else if (!put(c, b))
				goto toolong;
			break;
		case ST_QUOTE:
			if (b == '"') {
				st = ST_QUOTED;
				if (!put(c, b))
					goto toolong;
			} else if (b == ',') {
				if (!field_end(c))
					goto toolong;
				st = ST_FIELD_START;
			} else {
				err = "text after the closing quote of a "
				    "field";
				st = ST_SKIP;
			}
			break;
		case ST_SKIP:
			break;
		}
	}
	/* end of input: the last line is the one before a final break */
	rec->last_line = c->bol ? c->line - 1 : c->line;
	if (st == ST_QUOTED) {
		snprintf(why, whylen, "quoted field opened on line %lu is "
		    "never closed (the rest of the input, to line %lu, is "
		    "skipped)", qline, rec->last_line);
		return CSV_BAD;
	}
	if (st == ST_SKIP) {
		snprintf(why, whylen, "%s", err);
		return CSV_BAD;
	}
	if (!any)
		return CSV_EOF;
	if (!field_end(c))
		goto toolong;
	return finish(c, rec, why, whylen);

toolong:
	/* skip the rest of the record, quotes and all */
	snprintf(why, whylen, "record longer than %d bytes or %d fields",
	    CSV_RECORD_MAX, CSV_FIELDS_MAX);
	for (;;) {
		if (c->inpos >= c->inlen && fill(c, why, 0) <= 0)
			break;
		b = c->in[c->inpos++];
		if (b == '\n' && c->prev_cr) {
			c->prev_cr = false;
			continue;
		}
		c->prev_cr = b == '\r';
		if (st == ST_QUOTED && b == '"')
			st = ST_QUOTE;
		else if (st == ST_QUOTE)
			st = b == '"' ? ST_QUOTED : ST_UNQUOTED;
		if (b == '\n' || b == '\r') {
			c->line++;
			if (st != ST_QUOTED)
				break;
		}
	}
	rec->last_line = c->line - 1;
	return CSV_BAD;
}

void
csv_put(FILE *fp, const char *s)
{
	const char *p;
	bool formula;

	if (s == NULL)
		return;
	formula = formula_like(s);
	if (!formula && strpbrk(s, ",\"\r\n") == NULL) {
		fputs(s, fp);
		return;
	}
	fputc('"', fp);
	if (formula)
		fputc('\'', fp);
	for (p = s; *p != '\0'; p++) {
		if (*p == '"')
			fputc('"', fp);
		fputc(*p, fp);
	}
	fputc('"', fp);
}
