/*
 * unsubd_form.h - the POST bodies optin-unsubd takes (DESIGN "One-click
 * unsubscribe"), parsed apart from the server so that they can be fuzzed.
 *
 * RFC 8058 one-click arrives as "List-Unsubscribe=One-Click" urlencoded,
 * as multipart/form-data, as text/plain, or as an empty body (mail clients
 * send all of these); the pages' own forms send action, list and csrf
 * fields.  A field too long for its buffer, or holding a NUL, makes the
 * whole body bad.  Other fields are ignored.  No allocation, no global state:
 * thread-safe.
 */
#ifndef OPTIN_UNSUBD_FORM_H
#define OPTIN_UNSUBD_FORM_H

#include <stdbool.h>
#include <stddef.h>

/* How a POST body arrived (logged, and kept as evidence). */
enum unsubd_body {
	UNSUBD_BODY_EMPTY,
	UNSUBD_BODY_URLENCODED,
	UNSUBD_BODY_MULTIPART,
	UNSUBD_BODY_TEXT,
	UNSUBD_BODY_OTHER,		/* another Content-Type: read as
					   urlencoded */
};

/* The fields of a POST body that matter. */
struct unsubd_form {
	enum unsubd_body kind;
	bool one_click;			/* List-Unsubscribe=One-Click */
	bool bad;			/* a field too long or unparsable */
	char action[16];
	char list[130];
	char csrf[96];			/* the page's CSRF mark
					   (unsubd_guard.h) */
};

/*
 * Parse body (len bytes; need not be NUL-terminated; urlencoded bodies are
 * decoded in place) sent with Content-Type ctype (NULL: none) into *f.
 * Never fails: a body that cannot be read sets f->bad.
 */
void unsubd_form_parse(const char *ctype, char *body, size_t len,
	    struct unsubd_form *f);

/* The value of the hex digit c (RFC 3986 §2.1 percent-encoding), or -1. */
int unsubd_hexval(int c);

/* "empty", "urlencoded", "multipart", "text", "other".  Static strings. */
const char *unsubd_body_str(enum unsubd_body kind);

#endif
