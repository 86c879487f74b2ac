/*
 * test_fleet.c: the follower's quorum merge (votes per registry and per
 * dependency, the deciding dependency across snapshots, the probers named in
 * a cause) and the .fleet file reader (every bad line refused whole, with its
 * file:line).
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "follow.h"
#include "t.h"

/* A snapshot where the registries on the failing dependency fail; "" for none. */
static struct snapshot *
mkf(const char *failing, int64_t created, unsigned flags)
{
	static const char *const deps[] = { "sa1", "sa2", "auth" };
	struct snap_writer *w = snapw_new(created, 10, flags);
	struct snapshot *s = NULL;
	void *buf;
	size_t len;
	char err[256];

	for (int i = 0; i < 3; i++) {
		int bad = strcmp(deps[i], failing) == 0;

		snapw_add_dep(w, deps[i], bad ? VERDICT_FAIL : VERDICT_PASS,
		              i < 2 ? DEP_KIND_STORAGE : DEP_KIND_AUTH, SEV_CRITICAL,
		              i == 2 ? SNAP_DEP_ALL : 0, 1796000000, bad ? "HTTP 500" : "HTTP 200");
	}
	for (int r = 0; r < 4; r++) {
		char name[16];
		uint32_t use = (uint32_t)(r % 2);
		int bad = strcmp(deps[use], failing) == 0;

		snprintf(name, sizeof(name), "reg%d", r);
		snapw_add_reg(w, name, bad ? VERDICT_FAIL : VERDICT_PASS, 0, bad ? use : SNAP_NO_DEP,
		              1796000000);
		snapw_set_uses(w, &use, 1);
	}
	if (snapw_build(w, &buf, &len, err, sizeof(err)) == 0)
		(void)snap_parse(buf, len, created, &s, NULL, 0);
	free(buf);
	snapw_free(w);
	return s;
}

static struct snapshot *
mk(const char *failing, int64_t created)
{
	return mkf(failing, created, 0);
}

static struct snapshot *
built(struct snap_writer *w)
{
	struct snapshot *s = NULL;
	void *buf = NULL;
	size_t len;
	char err[256];

	if (w != NULL && snapw_build(w, &buf, &len, err, sizeof(err)) == 0)
		(void)snap_parse(buf, len, 1796000100, &s, NULL, 0);
	free(buf);
	snapw_free(w);
	return s;
}

static enum verdict
reg(const struct snapshot *s, const char *name)
{
	struct snap_reg g;

	return s != NULL && snap_find_reg(s, name, strlen(name), &g) ? g.verdict : VERDICT_UNKNOWN;
}

static void
test_quorum(void)
{
	const char *names[] = { "p1:80", "p2:80", "p3:80" };
	struct snapshot *v[3] = { mk("sa1", 1796000003), mk("", 1796000002), mk("", 1796000001) };
	const struct snapshot *const *s = (const struct snapshot *const *)v;
	struct snapshot *m;
	struct snap_dep d;
	struct snap_reg g;

	/* One prober failing sa1: quorum 2 fails nothing, quorum 1 fails its registries. */
	m = built(quorum_merge(s, names, 3, 2, 1796000002));
	T_CHECK(m != NULL);
	T_EQ_INT(reg(m, "reg0"), VERDICT_PASS);
	T_EQ_INT(snap_created(m), 1796000002);
	snap_free(m);
	m = built(quorum_merge(s, names, 3, 1, 1796000003));
	T_EQ_INT(reg(m, "reg0"), VERDICT_FAIL);
	T_EQ_INT(reg(m, "reg1"), VERDICT_PASS);
	snap_free(m);

	/* Two of three: fails, decided by sa1, and sa1's cause names the two probers. */
	snap_free(v[1]);
	v[1] = mk("sa1", 1796000002);
	m = built(quorum_merge(s, names, 3, 2, 1796000002));
	T_EQ_INT(reg(m, "reg0"), VERDICT_FAIL);
	T_EQ_INT(reg(m, "reg2"), VERDICT_FAIL);
	T_EQ_INT(reg(m, "reg1"), VERDICT_PASS);
	T_CHECK(snap_find_reg(m, "reg0", 4, &g) && g.decided_by == 0 && g.nuses == 1);
	snap_dep_at(m, 0, &d);
	T_EQ_INT(d.state, VERDICT_FAIL);
	T_CHECK(d.cause_len == strlen("HTTP 500 [2 of 3: p1:80 p2:80]") &&
	        memcmp(d.cause, "HTTP 500 [2 of 3: p1:80 p2:80]", d.cause_len) == 0);
	snap_dep_at(m, 2, &d);
	T_CHECK(d.flags & SNAP_DEP_ALL);
	snap_free(m);
	for (int i = 0; i < 3; i++)
		snap_free(v[i]);
}

/*
 * The failover guard under a quorum: one more vote.  Guarded when k of the merged snapshots
 * are (each prober decides it for itself); the verdicts merge as always underneath.
 */
static void
test_quorum_guard(void)
{
	const char *names[] = { "p1:80", "p2:80", "p3:80" };
	struct snapshot *v[3] = { mkf("sa1", 1796000003, SNAP_FLAG_GUARD), mk("sa1", 1796000002),
		                      mk("sa1", 1796000001) };
	const struct snapshot *const *s = (const struct snapshot *const *)v;
	struct snapshot *m;

	/* One prober guarded of three: quorum 2 does not hold; its failures are real ones. */
	m = built(quorum_merge(s, names, 3, 2, 1796000002));
	T_CHECK(m != NULL && !(snap_flags(m) & SNAP_FLAG_GUARD));
	T_EQ_INT(reg(m, "reg0"), VERDICT_FAIL);
	snap_free(m);
	/* Quorum 1 (any one prober's word): that one's guard holds the region. */
	m = built(quorum_merge(s, names, 3, 1, 1796000003));
	T_CHECK(m != NULL && (snap_flags(m) & SNAP_FLAG_GUARD));
	snap_free(m);
	/* Two of three guarded: held, with the verdicts still merged (what status shows). */
	snap_free(v[1]);
	v[1] = mkf("sa1", 1796000002, SNAP_FLAG_GUARD);
	m = built(quorum_merge(s, names, 3, 2, 1796000002));
	T_CHECK(m != NULL && snap_flags(m) == SNAP_FLAG_GUARD);
	T_EQ_INT(reg(m, "reg0"), VERDICT_FAIL);
	T_EQ_INT(reg(m, "reg1"), VERDICT_PASS);
	snap_free(m);
	/* Two guarded of three, quorum 3: not every prober holds: not held. */
	m = built(quorum_merge(s, names, 3, 3, 1796000001));
	T_CHECK(m != NULL && !(snap_flags(m) & SNAP_FLAG_GUARD));
	snap_free(m);
	for (int i = 0; i < 3; i++)
		snap_free(v[i]);
}

static void
test_fleet_file(void)
{
	char dir[] = "/tmp/dh-fleet.XXXXXX", snap[64], path[80], err[256], want[160];
	struct fleet fl;
	FILE *f;

	T_CHECK(mkdtemp(dir) != NULL);
	snprintf(snap, sizeof(snap), "%s/snapshot", dir);
	snprintf(path, sizeof(path), "%s.fleet", snap);
	T_EQ_INT(fleet_load(snap, &fl, err, sizeof(err)), 0);
	T_CHECK(!fl.present);
	f = fopen(path, "w");
	fputs("deephealth-fleet 1\ndecided quorum 2 of 3\nsource p1:80 fresh 1796000000\n"
	      "source p2:80 unreachable 0\n", f);
	fclose(f);
	T_EQ_INT(fleet_load(snap, &fl, err, sizeof(err)), 1);
	T_EQ_STR(fl.decided, "quorum 2 of 3");
	T_EQ_INT(fl.n, 2);
	T_EQ_INT(fl.src[1].state, SRC_UNREACHABLE);
	/* A header-breaking or unknown line: the whole file is refused, with its line. */
	f = fopen(path, "w");
	fputs("deephealth-fleet 1\ndecided x\r\nInjected: 1\n", f);
	fclose(f);
	T_EQ_INT(fleet_load(snap, &fl, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s:2: not a line of a .fleet file", path);
	T_EQ_STR(err, want);
	T_CHECK(!fl.present && fl.decided[0] == '\0');
	f = fopen(path, "w");
	fputs("deephealth-fleet 1\ndecided ok\nsource p1 lost 1\n", f);
	fclose(f);
	T_EQ_INT(fleet_load(snap, &fl, err, sizeof(err)), -1);
	f = fopen(path, "w");
	fputs("deephealth-fleet 2\n", f);
	fclose(f);
	T_EQ_INT(fleet_load(snap, &fl, err, sizeof(err)), -1);
	unlink(path);
	rmdir(dir);
}

/*
 * A pass that replaced nothing: the decided line names the snapshot the
 * answers still come from (its source and time) and why it is not refreshed,
 * never "none" while there is one; the reader takes the line, and the source
 * is recovered from it (a follower's next run starts from it).
 */
static void
test_unrefreshed(void)
{
	char dir[] = "/tmp/dh-fleet.XXXXXX", snap[64], path[80], err[256], d[FLEET_DECIDED_MAX],
	     src[FLEET_DECIDED_MAX], name[FLEET_NAME_MAX + 1];
	struct fleet fl;
	FILE *f;

	fleet_unrefreshed(d, sizeof(d), "freshest p1:80", 1796000000, "no source has a fresh snapshot");
	T_EQ_STR(d, "freshest p1:80, snapshot 2026-11-30T00:53:20Z, not refreshed: no source has a "
	         "fresh snapshot");
	fleet_decided_source(d, src, sizeof(src));
	T_EQ_STR(src, "freshest p1:80");
	fleet_unrefreshed(d, sizeof(d), "", 1796000000, "no source has a newer snapshot");
	T_EQ_STR(d, "unknown source, snapshot 2026-11-30T00:53:20Z, not refreshed: no source has a "
	         "newer snapshot");
	fleet_decided_source(d, src, sizeof(src));
	T_EQ_STR(src, "");
	fleet_unrefreshed(d, sizeof(d), "quorum 2 of 3", -1, "no source has a fresh snapshot");
	T_EQ_STR(d, "none: no source has a fresh snapshot");
	fleet_decided_source(d, src, sizeof(src));
	T_EQ_STR(src, "");
	fleet_decided_source("quorum 2 of 3", src, sizeof(src));
	T_EQ_STR(src, "quorum 2 of 3");
	fleet_decided_source("freshest p1:80 (blind)", src, sizeof(src));
	T_EQ_STR(src, "freshest p1:80 (blind)");
	/* The longest source name, blind, still fits whole, and the reader takes it. */
	memset(name, 'p', FLEET_NAME_MAX);
	name[FLEET_NAME_MAX] = '\0';
	snprintf(src, sizeof(src), "freshest %s (blind)", name);
	fleet_unrefreshed(d, sizeof(d), src, 1796000000, "a newer snapshot could not be published");
	T_CHECK(strstr(d, ", not refreshed: a newer snapshot could not be published") != NULL);
	T_CHECK(mkdtemp(dir) != NULL);
	snprintf(snap, sizeof(snap), "%s/snapshot", dir);
	snprintf(path, sizeof(path), "%s.fleet", snap);
	f = fopen(path, "w");
	fprintf(f, "deephealth-fleet 1\ndecided %s\nsource %s unreachable 1796000000\n", d, name);
	fclose(f);
	T_EQ_INT(fleet_load(snap, &fl, err, sizeof(err)), 1);
	T_EQ_STR(fl.decided, d);
	fleet_decided_source(fl.decided, d, sizeof(d));
	T_EQ_STR(d, src);
	unlink(path);
	rmdir(dir);
}

int
main(void)
{
	static const struct t_case cases[] = {
		T_CASE(test_quorum),
		T_CASE(test_quorum_guard),
		T_CASE(test_fleet_file),
		T_CASE(test_unrefreshed),
	};

	return t_run("fleet", cases, sizeof(cases) / sizeof(cases[0]));
}
