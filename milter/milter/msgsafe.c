/*
 * msgsafe.c - copies as they came in (msgsafe.h).
 *
 * Threads: no state; everything allocated is in the msg arena.
 */
#include "autoconf.h"

#include <string.h>

#include "eom.h"
#include "msgsafe.h"
#include "session.h"

/* lead - value with one space in front unless it starts with white space */
static char *
lead(struct msg *m, char *value)
{
	size_t len;
	char *v;

	if (value == NULL || *value == ' ' || *value == '\t')
		return value;
	len = strlen(value);
	if ((v = arena_alloc(&m->arena, len + 2)) == NULL)
		return NULL;
	v[0] = ' ';
	memcpy(v + 1, value, len + 1);
	return v;
}

int
msgsafe_edit_values(struct msg *m, struct edits *e)
{
	size_t i;

	if (!m->leadspc)
		return 0;
	for (i = 0; i < e->nadd; i++)
		if ((e->add[i].value = lead(m, e->add[i].value)) == NULL)
			return -1;
	for (i = 0; i < e->nsig; i++)
		if ((e->sig[i] = lead(m, e->sig[i])) == NULL)
			return -1;
	return 0;
}
