/*
 * edits.h - the header changes of struct edits (eom.h), made through
 * libmilter at end of message (mlfi.c): one home for queueing a header to
 * add and for deleting every occurrence of one.
 */
#ifndef OPTIN_EDITS_H
#define OPTIN_EDITS_H

#include <stdbool.h>

#include "eom.h"
#include "session.h"

/* Queue header name: value to add (value in the msg arena, kept as given;
 * name a static string).  0, or -1 when value is NULL (out of memory
 * before) or EDITS_MAX_ADD headers are queued already. */
int edits_add(struct edits *e, const char *name, char *value);

/* Queue the deletion of every header of m called name (case-insensitive,
 * RFC 5322 section 1.2.2), each by its 1-based index among that name's
 * occurrences.  0, or -1 out of memory (msg arena). */
int edits_del_all(struct msg *m, struct edits *e, const char *name);

/* Is occurrence index (1-based) of header name queued for deletion? */
bool edits_is_deleted(const struct edits *e, const char *name, int index);

#endif
