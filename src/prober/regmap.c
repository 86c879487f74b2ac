/*
 * regmap.c: the registry map as the prober needs it: which dependencies each registry
 * uses (its storage accounts and features) and whether it is single-region.  The file
 * is read by src/regfile.c, the one reader of its format.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prober.h"

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

/* One registry line's fields into a new entry; 0 on success. */
static int
parse_line(struct regfile *x, const struct conf *c, struct acc *a, char **f, unsigned lineno)
{
	size_t nlen = strlen(f[0]);
	struct reg_entry *e;
	size_t dstart = a->dlen;

	/* Listed dependencies (storage accounts). */
	if (strcmp(f[2], "-") != 0) {
		for (char *p = f[2], *q; *p != '\0'; p = *q ? q + 1 : q) {
			int di;

			q = p + strcspn(p, ",");
			di = conf_dep_find(c, p, (size_t)(q - p));
			if (di < 0 || c->deps[di].applies != APPLY_LISTED) {
				regfile_bad(x, lineno, "registry %s: \"%.*s\" is not a configured "
				            "dependency with applies = listed", f[0], (int)(q - p), p);
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
		regfile_bad(x, lineno, "registry %s: %zu dependencies, at most %d (the snapshot's "
		            "limit)", f[0], a->dlen - dstart, SNAP_USES_MAX);
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
	struct regfile *x = regfile_open(path, errfn, arg);
	struct acc a;
	struct regmap *m = NULL;
	size_t kept = 0;
	unsigned lineno;
	char *f[REGFILE_FIELDS];
	int rc;

	*bad = 0;
	if (x == NULL)
		return NULL;
	memset(&a, 0, sizeof(a));
	while ((rc = regfile_next(x, f, &lineno)) == 1)
		parse_line(x, c, &a, f, lineno);
	if (rc < 0) {
		regfile_close(x);
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
			regfile_dup(x, a.regs[i].line, a.regs[kept - 1].line, a.regs[i].name);
			continue;
		}
		a.regs[kept++] = a.regs[i];
	}
	*bad = regfile_close(x);
	m = xcalloc(1, sizeof(*m));
	m->regs = a.regs;
	m->n = kept;
	m->arena = a.arena;
	m->deparena = a.deps;
	a.regs = NULL;
	a.arena = NULL;
	a.deps = NULL;
out:
	free(a.regs);
	free(a.arena);
	free(a.deps);
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
