/*
 * regfile.c: the registry map file (docs/registries.md) as lines of four
 * fields, for every reader of it: the prober (src/prober/regmap.c: what each
 * registry uses) and deephealthctl lb (which regions serve it).  One reader of
 * the format, one way its errors are told: file:line, in the file's order, the
 * first REGFILE_REPORTED, then a count.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deephealth.h"

/*
 * Bad lines are told in the file's order: those found while reading are held
 * (the first REGFILE_REPORTED are all that can be shown), the duplicates a
 * reader finds after its sort are put back in line order, and the two merged.
 */
struct regfile {
	const char *path;
	FILE *f;
	char *line;
	size_t cap;
	unsigned lineno;
	errfn_t errfn;
	void *arg;
	size_t bad;
	int read_errno;     /* the file could not be read to its end */
	struct {
		unsigned line;
		char msg[512];
	} held[REGFILE_REPORTED];
	size_t nheld;
	struct regfile_dup {
		unsigned line, first;
		char *name;
	} *dups;
	size_t ndups, dupcap;
};

struct regfile *
regfile_open(const char *path, errfn_t errfn, void *arg)
{
	struct regfile *rf;
	FILE *f = fopen(path, "re");

	if (f == NULL) {
		errfn(arg, "%s: cannot open registry map: %s", path, strerror(errno));
		return NULL;
	}
	rf = xcalloc(1, sizeof(*rf));
	rf->path = path;
	rf->f = f;
	rf->errfn = errfn;
	rf->arg = arg;
	return rf;
}

/* Split p at runs of blanks into at most max fields; returns the count (max + 1 = too many). */
static size_t
split(char *p, char **f, size_t max)
{
	size_t n = 0;

	for (;;) {
		p += strspn(p, " \t\r\n");
		if (*p == '\0' || *p == '#')
			return n;
		if (n == max)
			return max + 1;
		f[n++] = p;
		p += strcspn(p, " \t\r\n");
		if (*p == '\0')
			return n;
		*p++ = '\0';
	}
}

int
regfile_next(struct regfile *rf, char *f[REGFILE_FIELDS], unsigned *line)
{
	while (getline(&rf->line, &rf->cap, rf->f) != -1) {
		size_t nf;

		rf->lineno++;
		nf = split(rf->line, f, REGFILE_FIELDS);
		if (nf == 0)
			continue;
		*line = rf->lineno;
		if (nf != REGFILE_FIELDS) {
			regfile_bad(rf, rf->lineno, "expected \"name regions storage features\" (4 "
			            "fields, - for none)");
			continue;
		}
		if (!util_name_ok(f[0], strlen(f[0]))) {
			regfile_bad(rf, rf->lineno, "bad registry name \"%.80s\"", f[0]);
			continue;
		}
		return 1;
	}
	if (ferror(rf->f)) {
		rf->read_errno = errno;
		return -1;
	}
	return 0;
}

void
regfile_bad(struct regfile *rf, unsigned line, const char *fmt, ...)
{
	va_list ap;

	rf->bad++;
	if (rf->nheld == REGFILE_REPORTED)
		return;
	rf->held[rf->nheld].line = line;
	va_start(ap, fmt);
	vsnprintf(rf->held[rf->nheld].msg, sizeof(rf->held[rf->nheld].msg), fmt, ap);
	va_end(ap);
	rf->nheld++;
}

void
regfile_dup(struct regfile *rf, unsigned line, unsigned first, const char *name)
{
	rf->dups = util_grow(rf->dups, &rf->dupcap, rf->ndups + 1, sizeof(*rf->dups));
	rf->dups[rf->ndups++] = (struct regfile_dup){ line, first, xstrdup(name) };
}

static int
dup_cmp(const void *a, const void *b)
{
	const struct regfile_dup *x = a, *y = b;

	return (x->line > y->line) - (x->line < y->line);
}

size_t
regfile_close(struct regfile *rf)
{
	size_t i = 0, j = 0, bad;

	if (rf == NULL)
		return 0;
	if (rf->ndups > 1)
		qsort(rf->dups, rf->ndups, sizeof(*rf->dups), dup_cmp);
	for (size_t shown = 0; shown < REGFILE_REPORTED && (i < rf->nheld || j < rf->ndups);
	     shown++) {
		if (j == rf->ndups || (i < rf->nheld && rf->held[i].line < rf->dups[j].line)) {
			rf->errfn(rf->arg, "%s:%u: %s", rf->path, rf->held[i].line, rf->held[i].msg);
			i++;
		} else {
			rf->errfn(rf->arg, "%s:%u: duplicate registry \"%s\" (first at line %u)",
			          rf->path, rf->dups[j].line, rf->dups[j].name, rf->dups[j].first);
			j++;
		}
	}
	if (rf->read_errno != 0)
		rf->errfn(rf->arg, "%s: read error: %s", rf->path, strerror(rf->read_errno));
	bad = rf->bad + rf->ndups;
	if (bad > REGFILE_REPORTED)
		rf->errfn(rf->arg, "%s: %zu more bad %s not shown", rf->path, bad - REGFILE_REPORTED,
		          util_plural((long long)(bad - REGFILE_REPORTED), "line", "lines"));
	for (size_t k = 0; k < rf->ndups; k++)
		free(rf->dups[k].name);
	free(rf->dups);
	free(rf->line);
	fclose(rf->f);
	free(rf);
	return bad;
}
