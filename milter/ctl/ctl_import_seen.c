/*
 * ctl_import_seen.c - the duplicate-row table of optinctl import
 * (ctl_import.h): every (address, list) of an optin file with the line and
 * state of its first row, so that a later row for the same pair is known
 * as a repeat (skipped) or a conflict (a bad row).
 *
 * Open addressing with linear probing on the 64-bit key the parser thread
 * computed (import_key), at most 70% full; a slot is 16 bytes, four to a
 * cache line.  A million rows make a table of 2^21 slots (32 MiB), far
 * larger than the caches: the database thread prefetches the slot of a
 * row a few rows ahead (import_seen_prefetch), so that it does not stall
 * on a miss per row.  Used by the database thread alone.
 */
#include "autoconf.h"

#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "ctl_import.h"

#define SEEN_MIN	65536		/* slots of the first table */

/* One (address, list) seen. */
struct seen {
	uint64_t key;			/* import_key(); 0: empty slot */
	uint32_t line;			/* the first row's (UINT32_MAX: later) */
	uint32_t status;		/* enum sub_status */
};

/*
 * seen_alloc - an empty table of cap slots: mapped on its own (huge pages
 * where the kernel gives them) and written once, so that every page is
 * faulted in by a write; a page first read and then written faults twice
 * and makes the kernel flush the other thread's TLB on the way.  NULL when
 * out of memory.
 */
static struct seen *
seen_alloc(size_t cap)
{
	size_t len = cap * sizeof(struct seen);
	void *p;

	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE |
	    MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
#ifdef MADV_HUGEPAGE
	(void)madvise(p, len, MADV_HUGEPAGE);
#endif
	memset(p, 0, len);
	return p;
}

/* seen_slot - the slot of key in tab (found, or empty) */
static struct seen *
seen_slot(struct seen *tab, size_t cap, uint64_t key)
{
	size_t i = (size_t)key & (cap - 1);

	while (tab[i].key != 0 && tab[i].key != key)
		i = (i + 1) & (cap - 1);
	return &tab[i];
}

void
import_seen_free(struct import_seen *t)
{
	if (t->tab != NULL)
		(void)munmap(t->tab, t->cap * sizeof(struct seen));
	t->tab = NULL;
	t->cap = t->n = 0;
}

void
import_seen_prefetch(const struct import_seen *t, uint64_t key)
{
	if (t->tab != NULL)
		__builtin_prefetch(&t->tab[(size_t)key & (t->cap - 1)], 1);
}

int
import_seen_add(struct import_seen *t, const struct prow *r,
    unsigned long *line_r, enum sub_status *status_r)
{
	struct seen *tab, *s;
	size_t cap, i, n;

	if (t->n * 10 >= t->cap * 7) {
		cap = t->cap == 0 ? SEEN_MIN : t->cap * 2;
		if ((tab = seen_alloc(cap)) == NULL)
			return -2;
		for (i = 0; i < t->cap; i++)
			if (t->tab[i].key != 0)
				*seen_slot(tab, cap, t->tab[i].key) =
				    t->tab[i];
		n = t->n;
		import_seen_free(t);
		t->tab = tab;
		t->cap = cap;
		t->n = n;
	}
	s = seen_slot(t->tab, t->cap, r->key);
	if (s->key == 0) {
		s->key = r->key;
		s->line = r->line < UINT32_MAX ? (uint32_t)r->line :
		    UINT32_MAX;
		s->status = (uint32_t)r->status;
		t->n++;
		return 0;
	}
	if (s->status == (uint32_t)r->status)
		return 1;
	*line_r = s->line;
	*status_r = (enum sub_status)s->status;
	return -1;
}
