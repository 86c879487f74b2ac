/*
 * test_status_metrics.c: the responders' metrics the alerting rules read
 * (conf/deephealth-alerts.yml), from status_metrics's document: registries
 * failing over split by deciding dependency and by override, the overrides in
 * force by scope and action (one series per pair, at most 100), and whether each
 * admin input can be read.  The rest of the document: test_metrics.sh.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "admin.h"
#include "t.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define CREATED ((int64_t)1700000000)
#define MAX_SPAN (86400 * 7)

static struct snapshot *snap;
static struct counters_shm ctr;

/*
 * 0 sa1 fails (storage), 1 sa2 passes (storage), 2 auth passes (region-wide).
 * on-sa1, on-sa1-b: fail, decided by sa1; on-sa2: passes; hand-made: fails by sa1
 * but lists nothing it uses; no-dep: fails and names no deciding dependency.
 */
static struct snapshot *
make_snap(void)
{
	struct snap_writer *w = snapw_new(CREATED, 10, 0);
	struct snapshot *s = NULL;
	void *buf = NULL;
	size_t len = 0;
	char err[256] = "";

	snapw_add_dep(w, "sa1", VERDICT_FAIL, DEP_KIND_STORAGE, SEV_CRITICAL, 0, CREATED, "500");
	snapw_add_dep(w, "sa2", VERDICT_PASS, DEP_KIND_STORAGE, SEV_CRITICAL, 0, CREATED, "");
	snapw_add_dep(w, "auth", VERDICT_PASS, DEP_KIND_AUTH, SEV_CRITICAL, SNAP_DEP_ALL, CREATED, "");
	snapw_add_reg(w, "hand-made", VERDICT_FAIL, 0, 0, CREATED);
	snapw_add_reg(w, "no-dep", VERDICT_FAIL, 0, SNAP_NO_DEP, CREATED);
	snapw_add_reg(w, "on-sa1", VERDICT_FAIL, 0, 0, CREATED);
	snapw_set_uses(w, (const uint32_t[]){ 0 }, 1);
	snapw_add_reg(w, "on-sa1-b", VERDICT_FAIL, 0, 0, CREATED);
	snapw_set_uses(w, (const uint32_t[]){ 0 }, 1);
	snapw_add_reg(w, "on-sa2", VERDICT_PASS, 0, SNAP_NO_DEP, CREATED);
	snapw_set_uses(w, (const uint32_t[]){ 1 }, 1);
	T_EQ_INT(snapw_build(w, &buf, &len, err, sizeof(err)), 0);
	T_EQ_INT(snap_parse(buf, len, (time_t)CREATED, &s, NULL, 0), SNAP_OK);
	free(buf);
	snapw_free(w);
	return s;
}

/* The strings a configuration points to (struct conf's are not const). */
static char s_path[] = "t.conf", s_snapshot[] = "/nonexistent/snapshot",
            s_kill[] = "/nonexistent/disable", s_none[] = "", s_region[] = "westeurope",
            s_counters[] = "/dev/shm/x";

/* A configuration as the responder would have it, for what status_metrics reads. */
static struct conf
make_conf(void)
{
	struct conf c;

	memset(&c, 0, sizeof(c));
	c.path = s_path;
	c.snapshot_path = s_snapshot;
	c.max_age = 1 << 30; /* the fixture is old; staleness is not what is tested */
	c.mode = MODE_ENFORCE;
	c.kill_switch = s_kill;
	c.overrides = s_none;
	c.override_max = MAX_SPAN;
	c.counters = s_none;
	c.event_log = s_none;
	c.region = s_region;
	return c;
}

/* The metrics document of st at now, as a string (free it). */
static char *
document(const struct answer_state *st, time_t now, int shared)
{
	struct status_in in;
	char *doc = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&doc, &len);

	memset(&in, 0, sizeof(in));
	in.st = st;
	in.conf_path = "t.conf";
	in.now = now;
	in.ctr = &ctr;
	in.ctr_shared = shared;
	status_metrics(f, &in);
	fclose(f);
	return doc;
}

/* The value of the series whose name and labels are exactly series in doc, or -1 if absent. */
static long long
value(const char *doc, const char *series)
{
	size_t n = strlen(series);

	for (const char *p = doc; p != NULL && *p != '\0'; p = strchr(p, '\n'), p = p ? p + 1 : p)
		if (strncmp(p, series, n) == 0 && p[n] == ' ')
			return strtoll(p + n + 1, NULL, 10);
	return -1;
}

/* How many lines of doc start with prefix. */
static int
lines(const char *doc, const char *prefix)
{
	int k = 0;

	for (const char *p = doc; p != NULL && *p != '\0'; p = strchr(p, '\n'), p = p ? p + 1 : p)
		k += strncmp(p, prefix, strlen(prefix)) == 0;
	return k;
}

static struct overrides *
parse(const char *text)
{
	struct overrides *o = NULL;
	struct t_errs e = { .n = 0 };

	T_EQ_INT(ovr_parse("o", text, strlen(text), MAX_SPAN, &o, t_collect, &e), 0);
	return o;
}

#define FO "deephealth_responder_registries_failing_over"
#define BY(dep, kind) FO "_by_dependency{dependency=\"" dep "\",kind=\"" kind "\"}"

/* Without overrides: every failing registry by the dependency that decides it. */
static void
test_failing_over_by_dependency(void)
{
	struct conf c = make_conf();
	struct answer_state st = { &c, snap, SNAP_OK, 0, NULL, NULL };
	char *doc = document(&st, (time_t)CREATED + 10, 1);

	T_EQ_INT(value(doc, FO), 4);
	T_EQ_INT(value(doc, BY("sa1", "storage")), 3); /* on-sa1, on-sa1-b, hand-made */
	T_EQ_INT(value(doc, BY("sa2", "storage")), 0);
	T_EQ_INT(value(doc, BY("auth", "auth")), 0);
	T_EQ_INT(lines(doc, FO "_by_dependency{"), 3); /* one per dependency */
	T_EQ_INT(value(doc, FO "_forced"), 0);         /* no-dep: in the total only */
	free(doc);
	/* Shadow mode answers 200: nothing fails over, by any cause. */
	c.mode = MODE_SHADOW;
	doc = document(&st, (time_t)CREATED + 10, 1);
	T_EQ_INT(value(doc, FO), 0);
	T_EQ_INT(value(doc, BY("sa1", "storage")), 0);
	free(doc);
	/* Fail-open: nothing either. */
	c.mode = MODE_ENFORCE;
	st.snap_err = SNAP_BAD_MAGIC;
	st.snap = NULL;
	doc = document(&st, (time_t)CREATED + 10, 1);
	T_EQ_INT(value(doc, FO), 0);
	T_EQ_INT(lines(doc, FO "_by_dependency{"), 0); /* no snapshot, no dependencies */
	T_EQ_INT(value(doc, FO "_forced"), 0);
	free(doc);
}

/* An operator's overrides: a forced fail is forced, a dependency forced to pass decides none. */
static void
test_failing_over_forced(void)
{
	struct conf c = make_conf();
	struct overrides *o = parse(
		"registry:on-sa2 force-fail until=2026-11-30T09:00:00Z set=2026-11-30T08:00:00Z by=t reason=\"t\"\n"
		"dependency:sa1 force-pass until=2026-11-30T09:00:00Z set=2026-11-30T08:00:00Z by=t reason=\"t\"\n");
	struct answer_state st = { &c, snap, SNAP_OK, 0, o, NULL };
	char *doc;

	if (o == NULL)
		return;
	doc = document(&st, (time_t)(o->v[0].set + 60), 1);
	/* on-sa2 forced out; on-sa1, on-sa1-b back; hand-made (its decider not among what it
	 * lists) stays as it is; no-dep (names no decider) is decided again over what it uses,
	 * the region-wide auth, and passes (policy.c's reverdict): as their answers say */
	T_EQ_INT(value(doc, FO), 2);
	T_EQ_INT(value(doc, FO "_forced"), 1);
	T_EQ_INT(value(doc, BY("sa1", "storage")), 1);
	T_EQ_INT(value(doc, BY("sa2", "storage")), 0);
	free(doc);
	ovr_free(o);
}

#define SET "deephealth_responder_override_set_timestamp_seconds"
#define EXPIRY "deephealth_responder_override_expiry_timestamp_seconds"

/* One series per scope and action in force: the earliest set, the latest expiry; at most 100. */
static void
test_override_series(void)
{
	struct conf c = make_conf();
	struct answer_state st = { &c, snap, SNAP_OK, 0, NULL, NULL };
	const char *line = "%s %s until=2026-11-30T%s set=2026-11-30T%s by=t reason=\"t\"\n";
	size_t cap = 64 * 1024, len = 0;
	char *text = malloc(cap), *doc, name[32];
	struct overrides *o;
	time_t now;

	len += (size_t)snprintf(text + len, cap - len, line, "registry:a*", "force-fail", "09:00:00Z", "08:00:00Z");
	len += (size_t)snprintf(text + len, cap - len, line, "registry:a*", "force-fail", "10:00:00Z", "08:30:00Z");
	len += (size_t)snprintf(text + len, cap - len, line, "registry:a*", "force-pass", "09:30:00Z", "08:10:00Z");
	len += (size_t)snprintf(text + len, cap - len, line, "region", "shadow", "11:00:00Z", "08:00:00Z");
	len += (size_t)snprintf(text + len, cap - len, line, "registry:gone", "force-pass", "08:15:00Z", "08:00:00Z");
	for (int i = 0; i < 150; i++) {
		snprintf(name, sizeof(name), "registry:r%03d", i);
		len += (size_t)snprintf(text + len, cap - len, line, name, "force-fail", "12:00:00Z", "08:00:00Z");
	}
	o = parse(text);
	free(text);
	if (o == NULL)
		return;
	st.ovr = o;
	now = (time_t)(o->v[0].set + 1800); /* 08:30: registry:gone has expired */
	doc = document(&st, now, 1);
	T_EQ_INT(value(doc, SET "{scope=\"registry:a*\",action=\"force-fail\"}"), o->v[0].set);
	T_EQ_INT(value(doc, EXPIRY "{scope=\"registry:a*\",action=\"force-fail\"}"), o->v[1].until);
	T_EQ_INT(value(doc, SET "{scope=\"registry:a*\",action=\"force-pass\"}"), o->v[2].set);
	T_EQ_INT(value(doc, EXPIRY "{scope=\"region\",action=\"shadow\"}"), o->v[3].until);
	T_EQ_INT(value(doc, SET "{scope=\"registry:gone\",action=\"force-pass\"}"), -1);
	T_EQ_INT(value(doc, SET "{scope=\"registry:r096\",action=\"force-fail\"}"), o->v[5].set);
	T_EQ_INT(value(doc, SET "{scope=\"registry:r097\",action=\"force-fail\"}"), -1);
	T_EQ_INT(lines(doc, SET "{"), 100);
	T_EQ_INT(lines(doc, EXPIRY "{"), 100);
	/* 153 in force (2 + 1 + 1 + 150 minus the line merged), 100 pairs listed: 53 lines beyond */
	T_EQ_INT(value(doc, "deephealth_responder_overrides_unlisted"), 53);
	free(doc);
	ovr_free(o);
}

#define INPUT(input, state) \
	"deephealth_responder_admin_input_state{input=\"" input "\",state=\"" state "\"}"

/* Each admin input in one state: none (not configured or not there), ok, unreadable. */
static void
test_admin_inputs(void)
{
	struct conf c = make_conf();
	struct answer_state st = { &c, snap, SNAP_OK, 0, NULL, NULL };
	char dir[] = "/tmp/dh-status-XXXXXX", events[64], snapshot[64], fleet[80], *doc;
	FILE *f;

	if (mkdtemp(dir) == NULL) {
		T_CHECK(!"mkdtemp");
		return;
	}
	snprintf(events, sizeof(events), "%s/events.log", dir);
	snprintf(snapshot, sizeof(snapshot), "%s/snapshot", dir);
	snprintf(fleet, sizeof(fleet), "%s.fleet", snapshot);
	doc = document(&st, (time_t)CREATED, 0);
	T_EQ_INT(value(doc, INPUT("event_log", "none")), 1); /* not configured */
	T_EQ_INT(value(doc, INPUT("counters", "none")), 1);  /* not configured: private */
	T_EQ_INT(value(doc, INPUT("fleet", "none")), 1);
	T_EQ_INT(lines(doc, "deephealth_responder_admin_input_state{"), 9);
	free(doc);
	c.event_log = events;
	c.counters = s_counters;
	c.snapshot_path = snapshot;
	doc = document(&st, (time_t)CREATED, 1);
	T_EQ_INT(value(doc, INPUT("event_log", "none")), 1); /* not written yet */
	T_EQ_INT(value(doc, INPUT("counters", "ok")), 1);
	T_EQ_INT(value(doc, INPUT("fleet", "none")), 1);
	free(doc);
	f = fopen(events, "w");
	fclose(f);
	f = fopen(fleet, "w");
	fputs("deephealth-fleet 1\ndecided freshest p1:80\nsource p1:80 fresh 1700000000\n", f);
	fclose(f);
	doc = document(&st, (time_t)CREATED, 1);
	T_EQ_INT(value(doc, INPUT("event_log", "ok")), 1);
	T_EQ_INT(value(doc, INPUT("fleet", "ok")), 1); /* read from the file: st has no copy */
	T_EQ_INT(value(doc, INPUT("fleet", "unreadable")), 0);
	free(doc);
	unlink(events);
	T_EQ_INT(mkdir(events, 0755), 0); /* opens, reads nothing */
	f = fopen(fleet, "w");
	fputs("not a fleet file\n", f);
	fclose(f);
	doc = document(&st, (time_t)CREATED, 0);
	T_EQ_INT(value(doc, INPUT("event_log", "unreadable")), 1);
	T_EQ_INT(value(doc, INPUT("counters", "unreadable")), 1); /* configured, not shared */
	T_EQ_INT(value(doc, INPUT("fleet", "unreadable")), 1);
	T_EQ_INT(value(doc, INPUT("fleet", "ok")), 0);
	free(doc);
	rmdir(events);
	unlink(fleet);
	rmdir(dir);
}

int
main(void)
{
	static const struct t_case cases[] = {
		T_CASE(test_failing_over_by_dependency),
		T_CASE(test_failing_over_forced),
		T_CASE(test_override_series),
		T_CASE(test_admin_inputs),
	};
	int rc;

	snap = make_snap();
	ctr.created = CREATED;
	rc = t_run("status_metrics", cases, NELEM(cases));
	snap_free(snap);
	return rc;
}
