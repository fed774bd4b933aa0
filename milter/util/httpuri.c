/*
 * httpuri.c - a request target cut short by a NUL (httpuri.h).
 */
#include "autoconf.h"

#include <string.h>

#include "httpuri.h"

bool
http_uri_cut(const char *uri)
{
	return strncmp(uri + strlen(uri) + 1, "HTTP/", 5) != 0;
}
