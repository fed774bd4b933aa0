/*
 * test_csv.c - the RFC 4180 reader of optinctl import (milter/util/csv.c).
 *
 * Each case is an input and the records it must give, rendered one a line:
 * "LINE: field|field" for a record (CR and LF in a field shown as \r and
 * \n), "LINE-LAST BAD why" for a malformed one.  The same cases are read
 * from memory and from a file descriptor; one more test puts a CRLF and a
 * quoted field across the 256 KiB read boundary.
 */
#include "autoconf.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "csv.h"

static const struct {
	const char *label, *in, *want;
} cases[] = {
	{ "simple LF", "a,b,c\n1,2,3\n", "1: a|b|c\n2: 1|2|3\n" },
	{ "CRLF", "a,b\r\n1,2\r\n", "1: a|b\n2: 1|2\n" },
	{ "lone CR", "a,b\r1,2\r", "1: a|b\n2: 1|2\n" },
	{ "no final newline", "a,b\n1,2", "1: a|b\n2: 1|2\n" },
	{ "BOM skipped", "\xef\xbb\xbf" "address,list\nx,y\n",
	  "1: address|list\n2: x|y\n" },
	{ "empty fields", ",a,,\n", "1: |a||\n" },
	{ "blank lines skipped", "a\n\n\r\n\nb\n", "1: a\n5: b\n" },
	{ "quoted comma", "\"a,b\",c\n", "1: a,b|c\n" },
	{ "doubled quote", "\"say \"\"hi\"\"\",x\n", "1: say \"hi\"|x\n" },
	{ "quoted newline", "\"l1\nl2\",x\ny,z\n", "1: l1\\nl2|x\n3: y|z\n" },
	{ "quoted CRLF kept", "\"l1\r\nl2\"\r\nq\r\n", "1: l1\\r\\nl2\n3: q\n" },
	{ "empty quoted", "\"\",\"\"\n", "1: |\n" },
	{ "utf-8", "j\xc3\xb6ran@b\xc3\xbc" "cher.example,1\n",
	  "1: j\xc3\xb6ran@b\xc3\xbc" "cher.example|1\n" },
	{ "unterminated quote", "a,b\n\"open,x\nmore\nlast\n",
	  "1: a|b\n2-4 BAD quoted field opened on line 2 is never closed\n" },
	{ "unterminated quote, no final newline", "\"open\nx",
	  "1-2 BAD quoted field opened on line 1 is never closed\n" },
	{ "quote in unquoted field", "a\"b,c\nd,e\n",
	  "1-1 BAD quote inside an unquoted field\n2: d|e\n" },
	{ "text after closing quote", "\"a\"b,c\nd\n",
	  "1-1 BAD text after the closing quote of a field\n2: d\n" },
	{ "bad utf-8", "ok\n\xff\xfe,x\nz\n",
	  "1: ok\n2-2 BAD field 1 is not valid UTF-8\n3: z\n" },
	{ "overlong utf-8", "\xc0\xaf\n", "1-1 BAD field 1 is not valid UTF-8\n" },
	{ "surrogate", "\xed\xa0\x80\n", "1-1 BAD field 1 is not valid UTF-8\n" },
	{ "truncated utf-8 at end", "x\xe2\x82", "1-1 BAD field 1 is not valid UTF-8\n" },
	{ "empty input", "", "" },
	{ "only BOM", "\xef\xbb\xbf", "" },
	{ "neutralising quote removed", "'=x,''=y,'z,',\"'@a\",'\t\n",
	  "1: =x|'=y|'z|'|@a|\t\n" },
	{ "BOM at the start of a later line (files joined)",
	  "a,b\n\xef\xbb\xbf" "x,y\nz,w\n",
	  "1: a|b\n2-2 BAD byte order mark (U+FEFF) in field 1: allowed "
	  "only at the start of the file\n3: z|w\n" },
	{ "second BOM at the start", "\xef\xbb\xbf\xef\xbb\xbf" "a\n",
	  "1-1 BAD byte order mark (U+FEFF) in field 1: allowed only at "
	  "the start of the file\n" },
	{ "BOM inside a quoted field", "a,\"x\xef\xbb\xbfy\"\n",
	  "1-1 BAD byte order mark (U+FEFF) in field 2: allowed only at "
	  "the start of the file\n" },
	{ "error then CRLF", "a\"b\r\nc\r\n",
	  "1-1 BAD quote inside an unquoted field\n2: c\n" },
};

/* render - all records of c as the case table writes them */
static void
render(struct csv *c, char *out, size_t outlen)
{
	struct csv_record rec;
	enum csv_status st;
	char why[256];
	size_t n = 0, i, j;

	out[0] = '\0';
	while ((st = csv_read(c, &rec, why, sizeof(why))) != CSV_EOF) {
		if (st == CSV_BAD) {
			char *paren = strstr(why, " (the rest");

			if (paren != NULL)
				*paren = '\0';
			n += (size_t)snprintf(out + n, outlen - n, "%lu-%lu BAD %s\n",
			    rec.line, rec.last_line, why);
			continue;
		}
		if (st == CSV_IOERR) {
			n += (size_t)snprintf(out + n, outlen - n, "IOERR %s\n",
			    why);
			break;
		}
		n += (size_t)snprintf(out + n, outlen - n, "%lu: ", rec.line);
		for (i = 0; i < rec.nfields; i++) {
			if (i > 0)
				out[n++] = '|';
			for (j = 0; j < rec.len[i] && n + 4 < outlen; j++) {
				char ch = rec.field[i][j];

				if (ch == '\n' || ch == '\r') {
					out[n++] = '\\';
					out[n++] = ch == '\n' ? 'n' : 'r';
				} else
					out[n++] = ch;
			}
		}
		out[n++] = '\n';
		out[n] = '\0';
	}
}

static void
t_mem(void **state)
{
	char got[4096];
	struct csv *c;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		c = csv_open_mem(cases[i].in, strlen(cases[i].in));
		assert_non_null(c);
		render(c, got, sizeof(got));
		csv_free(&c);
		assert_null(c);
		if (strcmp(got, cases[i].want) != 0)
			CASE_FAIL(cases[i].label, "got\n%s\nwant\n%s", got,
			    cases[i].want);
	}
}

/* fd_of - a temporary file holding len bytes of s, at offset 0 */
static int
fd_of(const char *s, size_t len)
{
	char path[] = "/tmp/test_csv.XXXXXX";
	int fd;

	if ((fd = mkstemp(path)) < 0)
		return -1;
	(void)unlink(path);
	if (write(fd, s, len) != (ssize_t)len || lseek(fd, 0, SEEK_SET) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void
t_fd(void **state)
{
	char got[4096];
	struct csv *c;
	size_t i;
	int fd;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fd = fd_of(cases[i].in, strlen(cases[i].in));
		assert_true(fd >= 0);
		c = csv_open_fd(fd);
		assert_non_null(c);
		render(c, got, sizeof(got));
		csv_free(&c);
		close(fd);
		if (strcmp(got, cases[i].want) != 0)
			CASE_FAIL(cases[i].label, "got\n%s\nwant\n%s", got,
			    cases[i].want);
	}
}

/* records across the read boundary: a CR at its last byte and its LF
 * after it; a quoted field with a doubled quote split by it */
static void
t_boundary(void **state)
{
	static const size_t bsize = 256 * 1024;
	size_t shift, len, i, n;
	struct csv_record rec;
	char *buf, why[256];
	struct csv *c;
	int fd;

	(void)state;
	buf = malloc(bsize * 2);
	assert_non_null(buf);
	for (shift = 0; shift < 6; shift++) {
		/* line 1: "x" padded so that a chosen byte falls on the edge */
		len = bsize - 1 - shift;
		memset(buf, 'x', len);
		memcpy(buf + len, "\r\n\"a\"\"b\",c\r\nlast", 16);
		len += 16;
		fd = fd_of(buf, len);
		assert_true(fd >= 0);
		c = csv_open_fd(fd);
		assert_non_null(c);
		assert_int_equal(csv_read(c, &rec, why, sizeof(why)),
		    CSV_RECORD);
		assert_int_equal(rec.nfields, 1);
		assert_int_equal(rec.len[0], bsize - 1 - shift);
		assert_int_equal(csv_read(c, &rec, why, sizeof(why)),
		    CSV_RECORD);
		assert_int_equal(rec.line, 2);
		assert_int_equal(rec.nfields, 2);
		assert_string_equal(rec.field[0], "a\"b");
		assert_string_equal(rec.field[1], "c");
		assert_int_equal(csv_read(c, &rec, why, sizeof(why)),
		    CSV_RECORD);
		assert_int_equal(rec.line, 3);
		assert_string_equal(rec.field[0], "last");
		assert_int_equal(csv_read(c, &rec, why, sizeof(why)), CSV_EOF);
		csv_free(&c);
		close(fd);
	}
	/* a record over CSV_RECORD_MAX is refused and the next one read */
	n = CSV_RECORD_MAX + 10;
	free(buf);
	buf = malloc(n + 16);
	assert_non_null(buf);
	for (i = 0; i < n; i++)
		buf[i] = 'y';
	memcpy(buf + n, "\nok\n", 4);
	c = csv_open_mem(buf, n + 4);
	assert_int_equal(csv_read(c, &rec, why, sizeof(why)), CSV_BAD);
	assert_int_equal(rec.line, 1);
	assert_int_equal(csv_read(c, &rec, why, sizeof(why)), CSV_RECORD);
	assert_int_equal(rec.line, 2);
	assert_string_equal(rec.field[0], "ok");
	csv_free(&c);
	free(buf);
}

/* csv_put quotes only what needs it, neutralises formulas (OWASP); the
 * reader gets every value back */
static const struct {
	const char *label, *value, *want;
} puts_[] = {
	{ "plain", "plain", "plain" },
	{ "comma", "a,b", "\"a,b\"" },
	{ "quotes doubled", "say \"hi\"", "\"say \"\"hi\"\"\"" },
	{ "line break", "l1\nl2", "\"l1\nl2\"" },
	{ "empty", "", "" },
	{ "CR inside", "cr\r", "\"cr\r\"" },
	{ "= formula", "=x", "\"'=x\"" },
	{ "HYPERLINK", "=HYPERLINK(\"http://x.example\",\"y\")",
	  "\"'=HYPERLINK(\"\"http://x.example\"\",\"\"y\"\")\"" },
	{ "+ formula", "+1", "\"'+1\"" },
	{ "- formula", "-2+3", "\"'-2+3\"" },
	{ "@ formula", "@SUM(A1)", "\"'@SUM(A1)\"" },
	{ "tab first", "\tx", "\"'\tx\"" },
	{ "CR first", "\rx", "\"'\rx\"" },
	{ "neutralised text gets one more", "'=x", "\"''=x\"" },
	{ "twice", "''-1", "\"'''-1\"" },
	{ "quote, no formula", "'x", "'x" },
	{ "only a quote", "'", "'" },
	{ "= inside", "a=b", "a=b" },
	{ "address with +", "ann+news@example.com", "ann+news@example.com" },
	{ "address with - first", "-ann@example.com", "\"'-ann@example.com\"" },
};

static void
t_put(void **state)
{
	struct csv_record rec;
	char *text = NULL, why[128];
	size_t len = 0, i;
	struct csv *c;
	FILE *fp;

	(void)state;
	for (i = 0; i < sizeof(puts_) / sizeof(puts_[0]); i++) {
		fp = open_memstream(&text, &len);
		assert_non_null(fp);
		csv_put(fp, puts_[i].value);
		fclose(fp);
		if (strcmp(text, puts_[i].want) != 0)
			CASE_FAIL(puts_[i].label, "wrote [%s], want [%s]", text,
			    puts_[i].want);
		free(text);
		/* read back after a first field, as a record of two */
		fp = open_memstream(&text, &len);
		assert_non_null(fp);
		fputs("k,", fp);
		csv_put(fp, puts_[i].value);
		fputs("\r\n", fp);
		fclose(fp);
		c = csv_open_mem(text, len);
		assert_non_null(c);
		if (csv_read(c, &rec, why, sizeof(why)) != CSV_RECORD ||
		    rec.nfields != 2 || strcmp(rec.field[1], puts_[i].value)
		    != 0)
			CASE_FAIL(puts_[i].label, "read back [%s], want [%s]",
			    rec.nfields == 2 ? rec.field[1] : why,
			    puts_[i].value);
		csv_free(&c);
		free(text);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_mem),
		cmocka_unit_test(t_fd),
		cmocka_unit_test(t_boundary),
		cmocka_unit_test(t_put),
	};

	return HARNESS_RUN("csv", tests);
}
