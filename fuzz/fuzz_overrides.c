/*
 * fuzz_overrides.c: ovr_parse (the operator's override file) on the input,
 * then ovr_lookup and ovr_dep_lookup, each compared with a plain scan of the
 * overrides written here from the contract in docs/overrides.md (a registry's
 * own override, exact or glob, beats the region's; then the one set later;
 * then, set in the same second, the node's file's, then the later line; in
 * force while now < until), over a few names and the instants around each
 * override's expiry.  Every override also goes through ovr_write_line and back
 * through ovr_parse: the same values.  Then the region-wide file: the input
 * through ovr_parse_region (never a crash; accepted only with a true header),
 * the accepted overrides rendered as one (ovr_render_region) and read back
 * whole, and the node's and that region-wide set together (ovr_union) held to
 * the same contract.
 */
#define _GNU_SOURCE /* open_memstream */

#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deephealth.h"
#include "fuzz.h"

#define MAX_SPAN 604800 /* responder.override_max's default */
#define T0 1796000000   /* an instant inside the seeds' overrides */

static const char *const names[] = {
	"contoso", "fabrikam", "fabrikam-eu", "northwind", "a", "storage-sa001", "cache",
	"Contoso", "x.y_z", "fab",
};
#define NNAMES (sizeof(names) / sizeof(names[0]))

/* Does v beat w (NULL: nothing yet) at the same scope level?  The contract's order. */
static int
beats(const struct override *v, const struct override *w)
{
	if (w == NULL)
		return 1;
	if (v->set != w->set)
		return v->set > w->set;
	if (v->origin != w->origin)
		return v->origin == OVR_NODE;
	return v->line > w->line;
}

/* The contract, by brute force. */
static void
scan_lookup(const struct overrides *o, const char *reg, int64_t now,
            const struct override **force, const struct override **mode)
{
	const struct override *rf = NULL, *rm = NULL, *gf = NULL, *gm = NULL;

	for (size_t i = 0; i < o->n; i++) {
		const struct override *v = &o->v[i];
		const struct override **f, **m;

		if (v->until <= now || v->kind == OVR_DEPENDENCY || v->action == OVR_ALLOW_FAILOVER)
			continue;
		if (v->kind == OVR_REGION) {
			f = &gf, m = &gm;
		} else if (reg != NULL && fnmatch(v->glob, reg, 0) == 0) {
			f = &rf, m = &rm;
		} else {
			continue;
		}
		if (v->action == OVR_FORCE_PASS || v->action == OVR_FORCE_FAIL) {
			if (beats(v, *f))
				*f = v;
		} else if (beats(v, *m)) {
			*m = v;
		}
	}
	*force = rf ? rf : gf;
	*mode = rm ? rm : gm;
}

static const struct override *
scan_dep(const struct overrides *o, const char *dep, int64_t now)
{
	const struct override *best = NULL;

	for (size_t i = 0; i < o->n; i++) {
		const struct override *v = &o->v[i];

		if (v->kind == OVR_DEPENDENCY && v->until > now && fnmatch(v->glob, dep, 0) == 0 &&
		    beats(v, best))
			best = v;
	}
	return best;
}

static void
check_name(const struct overrides *o, const char *name, int64_t now)
{
	const struct override *f, *m, *wf, *wm, *d;

	ovr_lookup(o, name, now, &f, &m);
	scan_lookup(o, name, now, &wf, &wm);
	FZ_CHECK(f == wf && m == wm, "ovr_lookup(%s, %lld): force line %u mode line %u, the "
	         "contract says %u and %u", name ? name : "(null)", (long long)now,
	         f ? f->line : 0, m ? m->line : 0, wf ? wf->line : 0, wm ? wm->line : 0);
	FZ_CHECK(f == NULL || f->action == OVR_FORCE_PASS || f->action == OVR_FORCE_FAIL,
	         "a force that does not force");
	FZ_CHECK(m == NULL || m->action == OVR_ENFORCE || m->action == OVR_SHADOW,
	         "a mode that is not a mode");
	if (name == NULL)
		return;
	d = ovr_dep_lookup(o, name, strlen(name), now);
	FZ_CHECK(d == scan_dep(o, name, now), "ovr_dep_lookup(%s, %lld): line %u", name,
	         (long long)now, d ? d->line : 0);
}

/* Write v as a line, parse it back: the same override. */
static void
round_trip(const struct override *v)
{
	struct overrides *back = NULL;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int errors = 0, rc;

	if (f == NULL)
		abort();
	FZ_CHECK(ovr_write_line(f, v) == 0, "ovr_write_line failed");
	fclose(f);
	FZ_CHECK(len > 0 && buf[len - 1] == '\n' && memchr(buf, '\n', len) == buf + len - 1,
	         "ovr_write_line wrote not one line: \"%s\"", buf);
	rc = ovr_parse("round-trip", buf, len, MAX_SPAN, &back, fz_errfn, &errors);
	FZ_CHECK(rc == 0 && back != NULL && back->n == 1, "its own line is refused: %s", buf);
	FZ_CHECK(strcmp(back->v[0].scope, v->scope) == 0 && back->v[0].kind == v->kind &&
	         back->v[0].action == v->action && back->v[0].until == v->until &&
	         back->v[0].set == v->set && strcmp(back->v[0].by, v->by) == 0 &&
	         strcmp(back->v[0].reason, v->reason) == 0, "round trip changed line %u: %s",
	         v->line, buf);
	ovr_free(back);
	free(buf);
}

/*
 * The region-wide file: o written as one and read back whole, then the node's o and that
 * set as the responders merge them, against the contract.
 */
static void
region_wide(const struct overrides *o)
{
	struct overrides *r = NULL, *u;
	const struct overrides *sets[2];
	size_t len = 0;
	char *buf = ovr_render_region(o, NULL, NULL, -((int64_t)1 << 40), &len); /* drop none */
	int errors = 0;

	FZ_CHECK(ovr_parse_region("region", buf, len, MAX_SPAN, &r, fz_errfn, &errors) == 0 &&
	         r != NULL && r->n == o->n, "a region-wide file as written is refused");
	/* One byte changed anywhere after the header: refused whole. */
	if (len > 0) {
		size_t at = strcspn(buf, "\n") + 1 + (size_t)(o->n ? o->v[0].until : 0) % 97;
		struct overrides *x = NULL;

		if (at < len) {
			buf[at] ^= 0x20;
			FZ_CHECK(ovr_parse_region("bent", buf, len, MAX_SPAN, &x, fz_errfn, &errors) != 0 &&
			         x == NULL, "a changed byte at %zu is not refused", at);
		}
	}
	free(buf);
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->n; i++)
		FZ_CHECK(r->v[i].origin == OVR_REGIONWIDE, "a region-wide override read as the node's");
	sets[0] = o;
	sets[1] = r;
	u = ovr_union(sets, NULL, 2);
	FZ_CHECK(u->n == 2 * o->n, "the union has %zu of %zu", u->n, 2 * o->n);
	check_name(u, NULL, T0);
	for (size_t k = 0; k < NNAMES; k++)
		check_name(u, names[k], T0);
	ovr_free(u);
	ovr_free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct overrides *o = NULL;
	int errors = 0, rc;
	int64_t times[3];

	/* As a region-wide file: refused unless its header holds; then the same rules. */
	rc = ovr_parse_region("as-region", (const char *)data, size, MAX_SPAN, &o, fz_errfn, &errors);
	FZ_CHECK((rc == 0) == (o != NULL) && (rc == 0 || errors > 0), "region-wide: rc %d", rc);
	FZ_CHECK(rc != 0 || (size >= strlen(OVR_REGION_MAGIC) &&
	                     memcmp(data, OVR_REGION_MAGIC, strlen(OVR_REGION_MAGIC)) == 0),
	         "a region-wide file without its header accepted");
	ovr_free(o);
	o = NULL;
	errors = 0;
	rc = ovr_parse("overrides", (const char *)data, size, MAX_SPAN, &o, fz_errfn, &errors);
	FZ_CHECK(rc == errors, "ovr_parse returned %d, reported %d", rc, errors);
	if (rc != 0) {
		FZ_CHECK(o == NULL, "refused, but overrides given");
		return 0;
	}
	FZ_CHECK(o != NULL, "accepted, no overrides");
	FZ_CHECK(o->nglobs + o->nregion + o->ndepov <= o->n, "index counts");
	for (size_t i = 0; i < o->n; i++) {
		const struct override *v = &o->v[i];

		FZ_CHECK(ovr_scope_ok(v->scope) && v->until > v->set && v->until - v->set <= MAX_SPAN &&
		         v->by[0] != '\0' && v->reason[0] != '\0' && (unsigned)v->action <= OVR_ALLOW_FAILOVER &&
		         (v->action != OVR_ALLOW_FAILOVER || v->kind == OVR_REGION),
		         "override %zu breaks the file's rules", i);
		FZ_CHECK(i == 0 || v->line > o->v[i - 1].line, "lines out of order");
		FZ_CHECK((v->kind == OVR_REGION) == (v->glob == NULL), "region without a glob");
		round_trip(v);
	}
	check_name(o, NULL, T0);
	for (size_t k = 0; k < NNAMES; k++)
		check_name(o, names[k], T0);
	/* Around each expiry, for the names it may be about. */
	for (size_t i = 0; i < o->n && i < 16; i++) {
		const struct override *v = &o->v[i];

		times[0] = v->set;
		times[1] = v->until - 1;
		times[2] = v->until;
		for (size_t t = 0; t < 3; t++) {
			check_name(o, NULL, times[t]);
			for (size_t k = 0; k < NNAMES; k++)
				check_name(o, names[k], times[t]);
			if (v->glob != NULL && util_name_ok(v->glob, strlen(v->glob)))
				check_name(o, v->glob, times[t]);
		}
	}
	{
		int any = 0;

		for (size_t i = 0; i < o->n; i++)
			any |= o->v[i].kind == OVR_DEPENDENCY && o->v[i].until > T0;
		FZ_CHECK(ovr_deps_in_force(o, T0) == any, "ovr_deps_in_force says %d", !any);
	}
	{
		const struct override *want = NULL;

		/* The region's allow-failover in force that the contract puts first, by a scan. */
		for (size_t i = 0; i < o->n; i++)
			if (o->v[i].action == OVR_ALLOW_FAILOVER && o->v[i].until > T0 &&
			    beats(&o->v[i], want))
				want = &o->v[i];
		FZ_CHECK(ovr_allow_failover(o, T0) == want, "ovr_allow_failover: line %u",
		         want ? want->line : 0);
	}
	region_wide(o);
	ovr_free(o);
	return 0;
}
