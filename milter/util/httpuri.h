/*
 * httpuri.h - what libmicrohttpd's URI log callback
 * (MHD_OPTION_URI_LOG_CALLBACK) can tell that its access handler cannot.
 */
#ifndef OPTIN_HTTPURI_H
#define OPTIN_HTTPURI_H

#include <stdbool.h>

/*
 * http_uri_cut - true when uri, as handed to the URI log callback, was cut
 * short by a NUL byte of the client's ("GET /metrics\0x HTTP/1.1"): the
 * access handler would see only "/metrics", so the request must be
 * answered 400 (RFC 9112 section 3: the request-target has no NUL).
 *
 * uri is libmicrohttpd's own buffer (0.9.x), read, not kept.  It parses
 * the request line in place and, when the callback runs, has put a NUL
 * only in place of the space before the HTTP version, so a sound URI's C
 * string is followed by "HTTP/"; strncmp() stops at the first difference,
 * within the request line or its line end.  XXX this relies on that
 * in-place parse (tests/unsubd and tests/e2e/t-metrics.sh check it).
 */
bool http_uri_cut(const char *uri);

#endif
