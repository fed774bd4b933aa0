/*
 * edits.c - the header edit list of a message (edits.h).
 */
#include "autoconf.h"

#include <strings.h>

#include "edits.h"

int
edits_add(struct edits *e, const char *name, char *value)
{
	if (value == NULL || e->nadd >= EDITS_MAX_ADD)
		return -1;
	e->add[e->nadd].name = name;
	e->add[e->nadd++].value = value;
	return 0;
}

int
edits_del_all(struct msg *m, struct edits *e, const char *name)
{
	size_t i;
	int index = 0;

	for (i = 0; i < m->nhdr; i++) {
		if (strcasecmp(m->hdr[i].name, name) != 0)
			continue;
		if (e->del_hdr == NULL && (e->del_hdr = arena_alloc(&m->arena,
		    m->nhdr * sizeof(*e->del_hdr))) == NULL)
			return -1;
		e->del_hdr[e->ndel_hdr].name = m->hdr[i].name;
		e->del_hdr[e->ndel_hdr++].index = ++index;
	}
	return 0;
}

bool
edits_is_deleted(const struct edits *e, const char *name, int index)
{
	size_t i;

	for (i = 0; i < e->ndel_hdr; i++)
		if (e->del_hdr[i].index == index &&
		    strcasecmp(e->del_hdr[i].name, name) == 0)
			return true;
	return false;
}
