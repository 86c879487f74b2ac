/* test_eval.c: registry map loading and per-registry verdicts from dependency states. */
#define _POSIX_C_SOURCE 200809L

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "prober.h"
#include "t.h"

/* Every section read, as the two programs together do. */
static const struct conf_ext *const exts[] = { &deps_conf, NULL };

static char dir[] = "/tmp/dh-eval-XXXXXX";
static char errs[32][512];
static int nerrs;

static void
collect(void *arg, const char *fmt, ...)
{
	va_list ap;

	(void)arg;
	if (nerrs >= 32)
		return;
	va_start(ap, fmt);
	vsnprintf(errs[nerrs++], sizeof(errs[0]), fmt, ap);
	va_end(ap);
}

static void
write_file(const char *name, const char *text)
{
	char path[300];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	T_CHECK(f != NULL);
	if (f != NULL) {
		fputs(text, f);
		fclose(f);
	}
}

static const char conf_text[] =
    "snapshot = { path = \"snapshot\"; };\n"
    "prober = { registries = \"registries.map\"; };\n"
    "dependencies = (\n"
    "  { name = \"sa1\"; kind = \"storage\"; type = \"http\"; url = \"http://127.0.0.1:1/\"; },\n"
    "  { name = \"sa2\"; kind = \"storage\"; type = \"http\"; url = \"http://127.0.0.1:1/\"; },\n"
    "  { name = \"auth\"; kind = \"auth\"; type = \"tcp\"; address = \"127.0.0.1:1\"; },\n"
    "  { name = \"cache\"; kind = \"cache\"; type = \"tcp\"; address = \"127.0.0.1:1\"; },\n"
    "  { name = \"meta\"; kind = \"metadata\"; type = \"exec\"; command = [\"/bin/true\"]; },\n"
    "  { name = \"hardcache\"; kind = \"cache\"; severity = \"critical\"; applies = \"feature:pinned\";\n"
    "    type = \"tcp\"; address = \"127.0.0.1:1\"; }\n"
    ");\n";

static const char map_text[] =
    "# name regions storage features\n"
    "contoso   westeurope,eastus  sa1  metadata-search\n"
    "fabrikam  westeurope,eastus  sa2  -\n"
    "northwind westeurope         sa2  -\n"
    "tailspin  westeurope,eastus  sa1,sa2  -\n"
    "pinned1   westeurope,eastus  sa1  pinned,unknown-feature\n"
    "\n";

struct fixture {
	struct conf *c;
	struct regmap *m;
	struct dep_state st[8];
	size_t users[8];
};

static int
setup(struct fixture *fx)
{
	char path[300];
	size_t bad = 0;

	memset(fx, 0, sizeof(*fx));
	write_file("dh.conf", conf_text);
	write_file("registries.map", map_text);
	snprintf(path, sizeof(path), "%s/dh.conf", dir);
	nerrs = 0;
	fx->c = conf_load(path, exts, collect, NULL);
	T_CHECK(fx->c != NULL);
	if (fx->c == NULL) {
		for (int i = 0; i < nerrs; i++)
			fprintf(stderr, "%s\n", errs[i]);
		return -1;
	}
	T_EQ_INT(fx->c->ndeps, 6);
	fx->m = regmap_load(fx->c->registries, fx->c, collect, NULL, &bad);
	T_CHECK(fx->m != NULL);
	T_EQ_INT(bad, 0);
	for (size_t i = 0; i < fx->c->ndeps; i++) {
		fx->st[i].last = VERDICT_PASS;
		fx->st[i].since = 100;
	}
	return fx->m != NULL ? 0 : -1;
}

static void
teardown(struct fixture *fx)
{
	regmap_free(fx->m);
	conf_free(fx->c);
}

/* Evaluate and return the parsed snapshot (caller frees). */
static struct snapshot *
evaluate(struct fixture *fx, const struct snapshot *prev, int64_t now, struct eval_stats *stats)
{
	struct snap_writer *w;
	struct snapshot *s = NULL;
	void *buf;
	size_t len;
	char err[256];

	stats->users = fx->users;
	w = eval_build(fx->c, fx->m, fx->st, prev, now, 0, stats);
	T_EQ_INT(snapw_build(w, &buf, &len, err, sizeof(err)), 0);
	T_EQ_INT(snap_parse(buf, len, (time_t)now, &s, NULL, 0), SNAP_OK);
	free(buf);
	snapw_free(w);
	return s;
}

static enum verdict
verdict_of(const struct snapshot *s, const char *name, const char **by, unsigned *flags)
{
	static char byname[64];
	struct snap_reg r;
	struct snap_dep d;

	if (!snap_find_reg(s, name, strlen(name), &r))
		return VERDICT_UNKNOWN;
	byname[0] = '\0';
	if (r.decided_by != SNAP_NO_DEP) {
		snap_dep_at(s, r.decided_by, &d);
		snprintf(byname, sizeof(byname), "%.*s", (int)d.name_len, d.name);
	}
	if (by)
		*by = byname;
	if (flags)
		*flags = r.flags;
	return r.verdict;
}

static void
test_defaults_from_kind(void)
{
	struct fixture fx;

	if (setup(&fx) != 0)
		return;
	T_EQ_INT(fx.c->deps[0].applies, APPLY_LISTED);
	T_EQ_INT(fx.c->deps[2].applies, APPLY_ALL);
	T_EQ_INT(fx.c->deps[3].severity, SEV_DEGRADED); /* cache */
	T_EQ_INT(fx.c->deps[2].severity, SEV_CRITICAL);
	T_EQ_INT(fx.c->deps[4].applies, APPLY_FEATURE);
	T_EQ_STR(fx.c->deps[4].feature, "metadata-search");
	T_EQ_INT(fx.c->deps[5].severity, SEV_CRITICAL);
	T_EQ_INT(fx.c->deps[0].fall, 3);
	T_EQ_INT(fx.c->deps[0].rise, 2);
	T_EQ_INT(fx.m->n, 5);
	teardown(&fx);
}

static void
test_all_pass(void)
{
	struct fixture fx;
	struct eval_stats stats = { 0 };
	struct snapshot *s;
	const char *by;
	unsigned fl;

	if (setup(&fx) != 0)
		return;
	s = evaluate(&fx, NULL, 1000, &stats);
	T_EQ_INT(snap_reg_count(s), 5);
	T_EQ_INT(verdict_of(s, "contoso", &by, &fl), VERDICT_PASS);
	T_EQ_STR(by, "");
	T_EQ_INT(fl, 0);
	T_EQ_INT(verdict_of(s, "northwind", NULL, &fl), VERDICT_PASS);
	T_EQ_INT(fl, SNAP_REG_SINGLE_REGION);
	T_EQ_INT(stats.pass, 5);
	T_EQ_INT(stats.single, 1);
	T_EQ_INT(fx.users[0], 3); /* sa1: contoso, tailspin, pinned1 */
	T_EQ_INT(fx.users[2], 5); /* auth: everyone */
	T_EQ_INT(fx.users[4], 1); /* meta: contoso only */
	snap_free(s);
	teardown(&fx);
}

static void
test_storage_isolation(void)
{
	struct fixture fx;
	struct eval_stats stats = { 0 };
	struct snapshot *s;
	const char *by;

	if (setup(&fx) != 0)
		return;
	fx.st[1].down = 1; /* sa2 */
	s = evaluate(&fx, NULL, 1000, &stats);
	T_EQ_INT(verdict_of(s, "contoso", NULL, NULL), VERDICT_PASS);
	T_EQ_INT(verdict_of(s, "fabrikam", &by, NULL), VERDICT_FAIL);
	T_EQ_STR(by, "sa2");
	T_EQ_INT(verdict_of(s, "tailspin", &by, NULL), VERDICT_FAIL);
	T_EQ_INT(verdict_of(s, "pinned1", NULL, NULL), VERDICT_PASS);
	T_EQ_INT(verdict_of(s, "northwind", NULL, NULL), VERDICT_FAIL); /* answered single-region */
	T_EQ_INT(stats.fail, 3);
	/* What the failover guard counts: the multi-region ones only (northwind answers 200). */
	T_EQ_INT(stats.multi, 4);
	T_EQ_INT(stats.multi_fail, 2);
	T_EQ_INT(snap_failing_multi(s, NULL), 2);
	snap_free(s);
	teardown(&fx);
}

static void
test_feature_gating_and_severity(void)
{
	struct fixture fx;
	struct eval_stats stats = { 0 };
	struct snapshot *s;
	const char *by;

	if (setup(&fx) != 0)
		return;
	fx.st[4].down = 1; /* metadata: only contoso has the feature */
	s = evaluate(&fx, NULL, 1000, &stats);
	T_EQ_INT(verdict_of(s, "contoso", &by, NULL), VERDICT_FAIL);
	T_EQ_STR(by, "meta");
	T_EQ_INT(verdict_of(s, "fabrikam", NULL, NULL), VERDICT_PASS);
	snap_free(s);

	fx.st[4].down = 0;
	fx.st[3].down = 1; /* cache, degraded: warn for everyone, no 503 */
	s = evaluate(&fx, NULL, 1000, &stats);
	T_EQ_INT(verdict_of(s, "fabrikam", &by, NULL), VERDICT_WARN);
	T_EQ_STR(by, "cache");
	T_EQ_INT(stats.warn, 5);
	snap_free(s);

	fx.st[5].down = 1; /* the critical cache of feature "pinned" */
	s = evaluate(&fx, NULL, 1000, &stats);
	T_EQ_INT(verdict_of(s, "pinned1", &by, NULL), VERDICT_FAIL);
	T_EQ_STR(by, "hardcache");
	T_EQ_INT(verdict_of(s, "contoso", NULL, NULL), VERDICT_WARN);
	snap_free(s);

	fx.st[3].down = 0;
	fx.st[5].down = 0;
	fx.st[0].last = VERDICT_WARN; /* an up dependency that warned */
	s = evaluate(&fx, NULL, 1000, &stats);
	T_EQ_INT(verdict_of(s, "contoso", &by, NULL), VERDICT_WARN);
	T_EQ_STR(by, "sa1");
	T_EQ_INT(verdict_of(s, "fabrikam", NULL, NULL), VERDICT_PASS);
	snap_free(s);
	teardown(&fx);
}

static void
test_worst_and_tie(void)
{
	struct fixture fx;
	struct eval_stats stats = { 0 };
	struct snapshot *s;
	const char *by;

	if (setup(&fx) != 0)
		return;
	fx.st[0].down = 1; /* sa1 */
	fx.st[1].down = 1; /* sa2 */
	fx.st[3].down = 1; /* cache (warn) */
	s = evaluate(&fx, NULL, 1000, &stats);
	/* tailspin uses both: the first in configuration order decides. */
	T_EQ_INT(verdict_of(s, "tailspin", &by, NULL), VERDICT_FAIL);
	T_EQ_STR(by, "sa1");
	snap_free(s);
	fx.st[0].down = 0;
	fx.st[1].down = 0;
	fx.st[2].down = 1; /* auth: region-wide critical */
	s = evaluate(&fx, NULL, 1000, &stats);
	T_EQ_INT(verdict_of(s, "fabrikam", &by, NULL), VERDICT_FAIL);
	T_EQ_STR(by, "auth");
	T_EQ_INT(stats.fail, 5);
	T_EQ_INT(stats.multi_fail, 4);
	snap_free(s);
	teardown(&fx);
}

static void
test_since_and_changes(void)
{
	struct fixture fx;
	struct eval_stats stats = { 0 };
	struct snapshot *s1, *s2, *s3;
	struct snap_reg r;

	if (setup(&fx) != 0)
		return;
	stats.changes_max = 2; /* the event log's bound, small: the changes past it are counted */
	s1 = evaluate(&fx, NULL, 1000, &stats);
	T_EQ_INT(stats.changed, 0);
	fx.st[1].down = 1;
	free(stats.changes);
	s2 = evaluate(&fx, s1, 1010, &stats);
	T_EQ_INT(stats.changed, 3); /* fabrikam, northwind, tailspin */
	/* The first changes_max (2) kept for the event log, in map order, with what decided. */
	T_EQ_INT(stats.nchanges, 2);
	if (stats.nchanges == 2) {
		T_EQ_STR(fx.m->regs[stats.changes[0].reg].name, "fabrikam");
		T_EQ_INT(stats.changes[0].from, VERDICT_PASS);
		T_EQ_INT(stats.changes[0].to, VERDICT_FAIL);
		T_CHECK(stats.changes[0].dep != NULL);
	}
	free(stats.changes);
	T_CHECK(snap_find_reg(s2, "fabrikam", 8, &r));
	T_EQ_INT(r.since, 1010);
	T_CHECK(snap_find_reg(s2, "contoso", 7, &r));
	T_EQ_INT(r.since, 1000);
	s3 = evaluate(&fx, s2, 1020, &stats);
	T_EQ_INT(stats.changed, 0);
	T_EQ_INT(stats.nchanges, 0);
	free(stats.changes);
	T_CHECK(snap_find_reg(s3, "fabrikam", 8, &r));
	T_EQ_INT(r.since, 1010);
	snap_free(s1);
	snap_free(s2);
	snap_free(s3);
	teardown(&fx);
}

/* Write text as the map file name in the test directory (its path into path) and load it,
 * the reports collected afresh. */
static struct regmap *
load_map_text(const struct fixture *fx, const char *name, const char *text, char *path,
              size_t pathlen, size_t *bad)
{
	write_file(name, text);
	snprintf(path, pathlen, "%s/%s", dir, name);
	nerrs = 0;
	return regmap_load(path, fx->c, collect, NULL, bad);
}

static void
test_bad_map_lines(void)
{
	struct fixture fx;
	struct regmap *m;
	size_t bad = 0;
	char path[300], want[400];

	if (setup(&fx) != 0)
		return;
	m = load_map_text(&fx, "bad.map", "contoso westeurope sa1 -\n"
	                                  "too few fields\n"
	                                  "bad/name westeurope sa1 -\n"
	                                  "fabrikam westeurope nosuch -\n"
	                                  "northwind westeurope auth -\n"
	                                  "contoso westeurope sa2 -\n"
	                                  "ok1 - - -\n", path, sizeof(path), &bad);
	T_CHECK(m != NULL);
	T_EQ_INT(bad, 5);
	T_EQ_INT(nerrs, 5);
	snprintf(want, sizeof(want),
	         "%s:2: expected \"name regions storage features\" (4 fields, - for none)", path);
	T_EQ_STR(errs[0], want);
	snprintf(want, sizeof(want), "%s:3: bad registry name \"bad/name\"", path);
	T_EQ_STR(errs[1], want);
	snprintf(want, sizeof(want),
	         "%s:4: registry fabrikam: \"nosuch\" is not a configured dependency with applies = "
	         "listed", path);
	T_EQ_STR(errs[2], want);
	snprintf(want, sizeof(want),
	         "%s:5: registry northwind: \"auth\" is not a configured dependency with applies = "
	         "listed", path);
	T_EQ_STR(errs[3], want);
	snprintf(want, sizeof(want), "%s:6: duplicate registry \"contoso\" (first at line 1)", path);
	T_EQ_STR(errs[4], want);
	if (m != NULL) {
		T_EQ_INT(m->n, 2); /* contoso (first), ok1 */
		T_EQ_STR(m->regs[0].name, "contoso");
		T_EQ_INT(m->regs[0].ndeps, 1);
		T_EQ_INT(m->regs[1].nregions, 0);
	}
	regmap_free(m);
	nerrs = 0;
	snprintf(path, sizeof(path), "%s/none.map", dir);
	T_CHECK(regmap_load(path, fx.c, collect, NULL, &bad) == NULL);
	T_EQ_INT(nerrs, 1);
	teardown(&fx);
}

/* tests/fixtures/registries/bad.map: every report, in the file's line order, as .expected. */
static void
test_bad_map_fixture(void)
{
	struct fixture fx;
	struct regmap *m;
	size_t bad = 0;
	char line[600];
	int n = 0;
	FILE *f;

	if (setup(&fx) != 0)
		return;
	nerrs = 0;
	m = regmap_load("tests/fixtures/registries/bad.map", fx.c, collect, NULL, &bad);
	T_CHECK(m != NULL);
	f = fopen("tests/fixtures/registries/bad.expected", "r");
	T_CHECK(f != NULL);
	while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		T_EQ_STR(n < nerrs ? errs[n] : "(none)", line);
		n++;
	}
	if (f != NULL)
		fclose(f);
	T_EQ_INT(nerrs, n);
	T_EQ_INT(bad, n);
	if (m != NULL) /* zeta, alpha (first lines), beta (line 9) */
		T_EQ_INT(m->n, 3);
	regmap_free(m);
	teardown(&fx);
}

/*
 * Past 20 bad lines: the first 20 in line order, duplicates (found after the
 * sort) among them, then one count of the rest.
 */
static void
test_bad_map_many(void)
{
	struct fixture fx;
	struct regmap *m;
	size_t bad = 0, used = 0;
	char path[300], want[400], text[1024];

	if (setup(&fx) != 0)
		return;
	/* Line 1 a registry, 2..13 its duplicates, 14..25 lines of too few fields. */
	for (int i = 0; i < 25; i++)
		used += (size_t)snprintf(text + used, sizeof(text) - used, "%s\n",
		                         i < 13 ? "zz westeurope sa1 -" : "short line");
	m = load_map_text(&fx, "many.map", text, path, sizeof(path), &bad);
	T_CHECK(m != NULL);
	T_EQ_INT(bad, 24);
	T_EQ_INT(nerrs, 21);
	snprintf(want, sizeof(want), "%s:2: duplicate registry \"zz\" (first at line 1)", path);
	T_EQ_STR(errs[0], want);
	snprintf(want, sizeof(want), "%s:13: duplicate registry \"zz\" (first at line 1)", path);
	T_EQ_STR(errs[11], want);
	snprintf(want, sizeof(want),
	         "%s:21: expected \"name regions storage features\" (4 fields, - for none)", path);
	T_EQ_STR(errs[19], want);
	snprintf(want, sizeof(want), "%s: 4 more bad lines not shown", path);
	T_EQ_STR(errs[20], want);
	regmap_free(m);
	teardown(&fx);
}

static void
test_big_map(void)
{
	struct fixture fx;
	struct regmap *m;
	struct eval_stats stats = { 0 };
	struct snap_writer *w;
	size_t bad = 0;
	char path[300];
	FILE *f;

	if (setup(&fx) != 0)
		return;
	snprintf(path, sizeof(path), "%s/big.map", dir);
	f = fopen(path, "w");
	T_CHECK(f != NULL);
	if (f == NULL)
		return;
	for (int i = 0; i < 100000; i++)
		fprintf(f, "reg%06d westeurope,eastus %s -\n", 99999 - i, i % 2 ? "sa1" : "sa2");
	fclose(f);
	m = regmap_load(path, fx.c, collect, NULL, &bad);
	T_CHECK(m != NULL);
	T_EQ_INT(bad, 0);
	if (m != NULL) {
		T_EQ_INT(m->n, 100000);
		T_EQ_STR(m->regs[0].name, "reg000000");
		T_EQ_STR(m->regs[99999].name, "reg099999");
		regmap_free(fx.m);
		fx.m = m;
		stats.users = fx.users;
		w = eval_build(fx.c, fx.m, fx.st, NULL, 1000, 0, &stats);
		T_EQ_INT(stats.pass, 100000);
		snapw_free(w);
	}
	teardown(&fx);
}

int
main(void)
{
	static const struct t_case cases[] = {
		T_CASE(test_defaults_from_kind), T_CASE(test_all_pass), T_CASE(test_storage_isolation),
		T_CASE(test_feature_gating_and_severity), T_CASE(test_worst_and_tie),
		T_CASE(test_since_and_changes), T_CASE(test_bad_map_lines), T_CASE(test_bad_map_fixture),
		T_CASE(test_bad_map_many), T_CASE(test_big_map),
	};
	char cmd[300];
	int rc;

	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	rc = t_run("eval", cases, sizeof(cases) / sizeof(cases[0]));
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	return rc;
}
