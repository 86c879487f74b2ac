/* regmap.c: the registry map: which storage accounts, features and regions each registry has. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prober.h"

#define MAX_REPORTED 20

/*
 * Bad lines are reported in the file's order: those found while reading are
 * held (the first MAX_REPORTED are all that can be shown), the duplicates
 * found after the sort are put back in line order, and the two are merged.
 */
struct loadctx {
	const char *path;
	errfn_t errfn;
	void *arg;
	size_t bad;
	struct {
		unsigned line;
		char msg[512];
	} held[MAX_REPORTED];
	size_t nheld;
};

/* A duplicate registry: its line and the first line that named it. */
struct dup {
	unsigned line, first;
	const char *name;
};

static void lbad(struct loadctx *x, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
lbad(struct loadctx *x, unsigned line, const char *fmt, ...)
{
	va_list ap;

	x->bad++;
	if (x->nheld == MAX_REPORTED)
		return;
	x->held[x->nheld].line = line;
	va_start(ap, fmt);
	vsnprintf(x->held[x->nheld].msg, sizeof(x->held[x->nheld].msg), fmt, ap);
	va_end(ap);
	x->nheld++;
}

static int
dup_cmp(const void *a, const void *b)
{
	const struct dup *x = a, *y = b;

	return (x->line > y->line) - (x->line < y->line);
}

/* The held reports and the duplicates, merged in line order, at most MAX_REPORTED. */
static void
report(struct loadctx *x, struct dup *d, size_t nd)
{
	size_t i = 0, j = 0;

	if (nd > 1)
		qsort(d, nd, sizeof(*d), dup_cmp);
	for (size_t shown = 0; shown < MAX_REPORTED && (i < x->nheld || j < nd); shown++) {
		if (d == NULL || j == nd || (i < x->nheld && x->held[i].line < d[j].line)) {
			x->errfn(x->arg, "%s:%u: %s", x->path, x->held[i].line, x->held[i].msg);
			i++;
		} else {
			x->errfn(x->arg, "%s:%u: duplicate registry \"%s\" (first at line %u)", x->path,
			         d[j].line, d[j].name, d[j].first);
			j++;
		}
	}
	x->bad += nd;
	if (x->bad > MAX_REPORTED)
		x->errfn(x->arg, "%s: %zu more bad %s not shown", x->path, x->bad - MAX_REPORTED,
		         util_plural((long long)(x->bad - MAX_REPORTED), "line", "lines"));
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

static int
reg_cmp(const void *a, const void *b)
{
	const struct reg_entry *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c != 0 ? c : (x->line > y->line) - (x->line < y->line);
}

/* Growable arrays of the loader; the arenas are rebased once loading is done. */
struct acc {
	char *arena;
	size_t alen, acap;
	uint32_t *deps;
	size_t dlen, dcap;
	struct reg_entry *regs;
	size_t n, cap;
};

/* Parse one non-comment line into a new entry; 0 on success. */
static int
parse_line(struct loadctx *x, const struct conf *c, struct acc *a,
           char *line, unsigned lineno)
{
	char *f[5];
	size_t nf = split(line, f, 4), nlen = 0;
	struct reg_entry *e;
	size_t dstart = a->dlen;

	if (nf == 0)
		return 0;
	if (nf != 4) {
		lbad(x, lineno, "expected \"name regions storage features\" (4 fields, - for none)");
		return -1;
	}
	nlen = strlen(f[0]);
	if (!util_name_ok(f[0], nlen)) {
		lbad(x, lineno, "bad registry name \"%.80s\"", f[0]);
		return -1;
	}
	/* Listed dependencies (storage accounts). */
	if (strcmp(f[2], "-") != 0) {
		for (char *p = f[2], *q; *p != '\0'; p = *q ? q + 1 : q) {
			int di;

			q = p + strcspn(p, ",");
			di = conf_dep_find(c, p, (size_t)(q - p));
			if (di < 0 || c->deps[di].applies != APPLY_LISTED) {
				lbad(x, lineno, "registry %s: \"%.*s\" is not a configured dependency with "
				     "applies = listed", f[0], (int)(q - p), p);
				a->dlen = dstart;
				return -1;
			}
			a->deps = util_grow(a->deps, &a->dcap, a->dlen + 1, sizeof(*a->deps));
			a->deps[a->dlen++] = (uint32_t)di;
		}
	}
	/* Features bring in the dependencies configured for them; others are not ours. */
	if (strcmp(f[3], "-") != 0) {
		for (char *p = f[3], *q; *p != '\0'; p = *q ? q + 1 : q) {
			q = p + strcspn(p, ",");
			for (size_t di = 0; di < c->ndeps; di++) {
				const char *feat = c->deps[di].feature;

				if (c->deps[di].applies == APPLY_FEATURE &&
				    strncmp(feat, p, (size_t)(q - p)) == 0 && feat[q - p] == '\0') {
					a->deps = util_grow(a->deps, &a->dcap, a->dlen + 1, sizeof(*a->deps));
					a->deps[a->dlen++] = (uint32_t)di;
				}
			}
		}
	}
	if (a->dlen - dstart > SNAP_USES_MAX) {
		lbad(x, lineno, "registry %s: %zu dependencies, at most %d (the snapshot's limit)",
		     f[0], a->dlen - dstart, SNAP_USES_MAX);
		a->dlen = dstart;
		return -1;
	}
	a->regs = util_grow(a->regs, &a->cap, a->n + 1, sizeof(*a->regs));
	e = &a->regs[a->n++];
	e->nregions = strcmp(f[1], "-") == 0 ? 0 : 1;
	for (const char *p = f[1]; *p != '\0'; p++)
		e->nregions += *p == ',';
	/* Offsets for now: the arenas may still move. */
	a->arena = util_grow(a->arena, &a->acap, a->alen + nlen + 1, 1);
	memcpy(a->arena + a->alen, f[0], nlen + 1);
	e->name = (char *)(uintptr_t)a->alen;
	a->alen += nlen + 1;
	e->deps = (uint32_t *)(uintptr_t)dstart;
	e->ndeps = (uint32_t)(a->dlen - dstart);
	e->line = lineno;
	return 0;
}

struct regmap *
regmap_load(const char *path, const struct conf *c, errfn_t errfn, void *arg, size_t *bad)
{
	struct loadctx x;
	struct acc a;
	struct regmap *m = NULL;
	struct dup *dups = NULL;
	FILE *f;
	char *line = NULL;
	size_t cap = 0, kept = 0, ndups = 0, dupcap = 0;
	unsigned lineno = 0;

	*bad = 0;
	memset(&x, 0, sizeof(x));
	x.path = path;
	x.errfn = errfn;
	x.arg = arg;
	memset(&a, 0, sizeof(a));
	f = fopen(path, "r");
	if (f == NULL) {
		errfn(arg, "%s: cannot open registry map: %s", path, strerror(errno));
		return NULL;
	}
	while (getline(&line, &cap, f) != -1) {
		lineno++;
		parse_line(&x, c, &a, line, lineno);
	}
	if (ferror(f)) {
		int e = errno;

		report(&x, NULL, 0);
		errfn(arg, "%s: read error: %s", path, strerror(e));
		goto out;
	}
	for (size_t i = 0; i < a.n; i++) {
		a.regs[i].name = a.arena + (uintptr_t)a.regs[i].name;
		/* No line named a dependency: no array to point into (NULL + 0 is undefined). */
		a.regs[i].deps = a.deps != NULL ? a.deps + (uintptr_t)a.regs[i].deps : NULL;
	}
	if (a.n > 1)
		qsort(a.regs, a.n, sizeof(*a.regs), reg_cmp);
	/* Duplicates: keep the first line, report the others (in line order, with the rest). */
	for (size_t i = 0; i < a.n; i++) {
		if (kept > 0 && strcmp(a.regs[kept - 1].name, a.regs[i].name) == 0) {
			dups = util_grow(dups, &dupcap, ndups + 1, sizeof(*dups));
			dups[ndups++] = (struct dup){ a.regs[i].line, a.regs[kept - 1].line,
			                              a.regs[i].name };
			continue;
		}
		a.regs[kept++] = a.regs[i];
	}
	report(&x, dups, ndups);
	m = xcalloc(1, sizeof(*m));
	m->regs = a.regs;
	m->n = kept;
	m->arena = a.arena;
	m->deparena = a.deps;
	a.regs = NULL;
	a.arena = NULL;
	a.deps = NULL;
	*bad = x.bad;
out:
	free(dups);
	free(a.regs);
	free(a.arena);
	free(a.deps);
	free(line);
	fclose(f);
	return m;
}

void
regmap_free(struct regmap *m)
{
	if (m == NULL)
		return;
	free(m->regs);
	free(m->arena);
	free(m->deparena);
	free(m);
}
