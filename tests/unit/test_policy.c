/* test_policy.c: every branch of policy_decide, each shown to beat everything below it. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "responder.h"
#include "t.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

#define CREATED ((int64_t)1700000000)

/* A healthy, a degraded, a failed and a failed single-region registry. */
static struct snapshot *
make_snap(int64_t created, unsigned flags)
{
	struct snap_writer *w = snapw_new(created, 30, flags);
	struct snapshot *s = NULL;
	void *b = NULL;
	size_t len = 0;
	char err[128] = "";

	T_EQ_INT(snapw_add_dep(w, "storage-1", VERDICT_FAIL, DEP_KIND_STORAGE, SEV_CRITICAL, 0,
	                       CREATED - 600, "disk"),
	         0);
	T_EQ_INT(snapw_add_reg(w, "healthy", VERDICT_PASS, 0, SNAP_NO_DEP, CREATED - 1000), 0);
	T_EQ_INT(snapw_add_reg(w, "warned", VERDICT_WARN, 0, SNAP_NO_DEP, CREATED - 1001), 0);
	T_EQ_INT(snapw_add_reg(w, "failed", VERDICT_FAIL, 0, 0, CREATED - 1002), 0);
	T_EQ_INT(snapw_add_reg(w, "single", VERDICT_FAIL, SNAP_REG_SINGLE_REGION, 0, CREATED - 1003),
	         0);
	T_EQ_INT(snapw_build(w, &b, &len, err, sizeof(err)), 0);
	/* Parsed at its own creation time: the future check is not what these tests are about. */
	T_EQ_INT(snap_parse(b, len, (time_t)(created > 0 ? created : 0), &s, NULL, 0), SNAP_OK);
	free(b);
	snapw_free(w);
	return s;
}

static struct snapshot *snap_ok, *snap_blind, *snap_guard, *snap_blind_guard;

/* The input that, left alone, ends in a 503: every test below overrides part of it. */
static struct policy_in
base_in(void)
{
	struct policy_in in = {
		.method_ok = 1,
		.config_ok = 1,
		.mode = MODE_ENFORCE,
		.kill_switch = 0,
		.snap_state = SNAP_OK,
		.snap = snap_ok,
		.now = (time_t)(CREATED + 10),
		.max_age = 180,
		.host = RESOLVE_FOUND,
		.registry = "failed",
		.unknown_host = UNKNOWN_REJECT,
	};

	return in;
}

static void
expect(const struct policy_in *in, int http, enum verdict st, enum reason why, int64_t age,
       int line)
{
	struct policy_out o;

	memset(&o, 0x5A, sizeof(o)); /* garbage in: the decision must set everything */
	policy_decide(in, &o);
	if (o.http != http || o.status != st || o.reason != why || o.age != age)
		fprintf(stderr, "  from line %d: got %d %s %s age %lld\n", line, o.http,
		        verdict_str(o.status), reason_str(o.reason), (long long)o.age);
	T_EQ_INT(o.http, http);
	T_EQ_INT(o.status, st);
	T_EQ_INT(o.reason, why);
	T_EQ_INT(o.age, age);
	if (in->mode != MODE_SHADOW)
		T_EQ_INT(o.shadow, 0);
}
#define EXPECT(in, http, st, why, age) expect((in), (http), (st), (why), (age), __LINE__)

static void
test_base_is_503(void)
{
	struct policy_in in = base_in();
	struct policy_out o;

	EXPECT(&in, 503, VERDICT_FAIL, R_DEPENDENCY_FAILED, 10);
	policy_decide(&in, &o);
	T_EQ_INT(o.have_reg, 1);
	T_CHECK(o.reg.name_len == 6 && memcmp(o.reg.name, "failed", 6) == 0);
	T_EQ_INT(o.reg.verdict, VERDICT_FAIL);
	T_EQ_INT(o.reg.decided_by, 0);
	T_EQ_INT(o.shadow, 0);
}

/* A configuration that did not load beats every other signal, shadow included. */
static void
test_config_error(void)
{
	struct policy_in in = base_in();
	struct policy_out o;

	in.config_ok = 0;
	EXPECT(&in, 200, VERDICT_WARN, R_CONFIG_ERROR, -1);
	in.kill_switch = 1;
	in.mode = MODE_PASSTHROUGH;
	in.snap_state = SNAP_MISSING;
	in.snap = NULL;
	in.host = RESOLVE_UNKNOWN;
	EXPECT(&in, 200, VERDICT_WARN, R_CONFIG_ERROR, -1);

	in = base_in();
	in.config_ok = 0;
	in.mode = MODE_SHADOW;
	policy_decide(&in, &o);
	T_EQ_INT(o.http, 200);
	T_EQ_INT(o.reason, R_CONFIG_ERROR);
	T_EQ_INT(o.shadow, 0);
	T_EQ_INT(o.have_reg, 0);
}

static void
test_passthrough(void)
{
	struct policy_in in = base_in();
	struct policy_out o;

	in.kill_switch = 1;
	EXPECT(&in, 200, VERDICT_PASS, R_PASSTHROUGH, -1);
	/* The kill switch beats everything after it. */
	in.snap_state = SNAP_BAD_CHECKSUM;
	in.snap = NULL;
	in.host = RESOLVE_UNKNOWN;
	EXPECT(&in, 200, VERDICT_PASS, R_PASSTHROUGH, -1);

	in = base_in();
	in.mode = MODE_PASSTHROUGH;
	EXPECT(&in, 200, VERDICT_PASS, R_PASSTHROUGH, -1);
	in.snap_state = SNAP_MISSING;
	in.snap = NULL;
	EXPECT(&in, 200, VERDICT_PASS, R_PASSTHROUGH, -1);

	/* Kill switch in shadow mode: a plain pass-through, no shadow report. */
	in = base_in();
	in.mode = MODE_SHADOW;
	in.kill_switch = 1;
	policy_decide(&in, &o);
	T_EQ_INT(o.http, 200);
	T_EQ_INT(o.reason, R_PASSTHROUGH);
	T_EQ_INT(o.shadow, 0);
}

static void
test_snapshot_unusable(void)
{
	struct policy_in in = base_in();

	in.snap_state = SNAP_MISSING;
	in.snap = NULL;
	EXPECT(&in, 200, VERDICT_WARN, R_SNAPSHOT_MISSING, -1);
	in.host = RESOLVE_UNKNOWN;
	EXPECT(&in, 200, VERDICT_WARN, R_SNAPSHOT_MISSING, -1);
	/* There but not readable (permissions, not a regular file): its own reason. */
	in.snap_state = SNAP_UNREADABLE;
	EXPECT(&in, 200, VERDICT_WARN, R_SNAPSHOT_UNREADABLE, -1);
	in.snap_state = SNAP_NOT_REGULAR;
	EXPECT(&in, 200, VERDICT_WARN, R_SNAPSHOT_UNREADABLE, -1);
	/* Every other reason a snapshot is unusable is "corrupt", and fails open. */
	for (int e = SNAP_TOO_SMALL; e <= SNAP_FUTURE; e++) {
		in.snap_state = (enum snap_err)e;
		EXPECT(&in, 200, VERDICT_WARN, R_SNAPSHOT_CORRUPT, -1);
	}
}

static void
test_stale(void)
{
	struct policy_in in = base_in();

	in.now = (time_t)(CREATED + 181);
	EXPECT(&in, 200, VERDICT_WARN, R_SNAPSHOT_STALE, 181);
	/* Stale beats blind and an unknown host. */
	in.snap = snap_blind;
	in.host = RESOLVE_UNKNOWN;
	EXPECT(&in, 200, VERDICT_WARN, R_SNAPSHOT_STALE, 181);

	/* Exactly max_age old is still fresh. */
	in = base_in();
	in.now = (time_t)(CREATED + 180);
	EXPECT(&in, 503, VERDICT_FAIL, R_DEPENDENCY_FAILED, 180);
	in.max_age = 179;
	EXPECT(&in, 200, VERDICT_WARN, R_SNAPSHOT_STALE, 180);

	/* Created a little in the future (clock skew): age 0, fresh. */
	in = base_in();
	in.now = (time_t)(CREATED - 3);
	EXPECT(&in, 503, VERDICT_FAIL, R_DEPENDENCY_FAILED, 0);
	in.now = (time_t)(CREATED - SNAP_FUTURE_SKEW);
	EXPECT(&in, 503, VERDICT_FAIL, R_DEPENDENCY_FAILED, 0);

	/* Loaded, then the clock stepped back by more than the skew (an hour): the snapshot
	 * in memory cannot be dated any more, as the reader would say on loading it. */
	in.now = (time_t)(CREATED - SNAP_FUTURE_SKEW - 1);
	EXPECT(&in, 200, VERDICT_WARN, R_SNAPSHOT_CORRUPT, -1);
	in.now = (time_t)(CREATED - 3600);
	EXPECT(&in, 200, VERDICT_WARN, R_SNAPSHOT_CORRUPT, -1);
}

/*
 * The oldest snapshot the reader accepts (created at the epoch) is stale at
 * any reasonable clock, and the age arithmetic must not overflow even at the
 * end of time_t.  Older (negative) creation times never reach the policy:
 * the reader refuses them (test_snap.c).
 */
static void
test_stale_extreme(void)
{
	struct snapshot *old = make_snap(0, 0);
	struct policy_in in = base_in();
	struct policy_out o;

	T_CHECK(old != NULL);
	if (old == NULL)
		return;
	in.snap = old;
	EXPECT(&in, 200, VERDICT_WARN, R_SNAPSHOT_STALE, CREATED + 10);
	in.now = (time_t)INT64_MAX;
	in.max_age = 86400;
	policy_decide(&in, &o);
	T_EQ_INT(o.reason, R_SNAPSHOT_STALE);
	T_EQ_INT(o.age, INT64_MAX);
	snap_free(old);
}

static void
test_blind(void)
{
	struct policy_in in = base_in();

	in.snap = snap_blind;
	EXPECT(&in, 200, VERDICT_WARN, R_PROBER_BLIND, 10);
	in.host = RESOLVE_UNKNOWN;
	EXPECT(&in, 200, VERDICT_WARN, R_PROBER_BLIND, 10);
	in.host = RESOLVE_FOUND;
	in.registry = "nope";
	EXPECT(&in, 200, VERDICT_WARN, R_PROBER_BLIND, 10);
}

/*
 * The prober's failover guard: after blind (which it never hides) and before the Host: every
 * registry answers 200 guard, the failed, the healthy, the single-region and the unknown ones.
 * An operator's forced answer and everything above the snapshot's flags still win.
 */
static void
test_guard(void)
{
	static const char *const regs[] = { "failed", "healthy", "warned", "single", "nope" };
	struct policy_in in = base_in();
	struct policy_out o;

	in.snap = snap_guard;
	for (size_t i = 0; i < NELEM(regs); i++) {
		in.registry = regs[i];
		EXPECT(&in, 200, VERDICT_WARN, R_GUARD, 10);
	}
	in.registry = "failed";
	policy_decide(&in, &o);
	T_EQ_INT(o.have_reg, 0); /* decided before the registry is looked up */
	/* Unknown Host, even with unknown_host = "reject": a region-wide answer, like blind. */
	in.host = RESOLVE_UNKNOWN;
	EXPECT(&in, 200, VERDICT_WARN, R_GUARD, 10);
	in.host = RESOLVE_FOUND;
	/* Blind beats the guard: a pass that could not see decides nothing. */
	in.snap = snap_blind_guard;
	EXPECT(&in, 200, VERDICT_WARN, R_PROBER_BLIND, 10);
	/* Stale beats it: the guard is only as good as the pass that set it. */
	in.snap = snap_guard;
	in.now = (time_t)(CREATED + 181);
	EXPECT(&in, 200, VERDICT_WARN, R_SNAPSHOT_STALE, 181);
	in.now = (time_t)(CREATED + 10);
	/* The operator's forced answers come first (rows 3 and 4). */
	in.force = FORCE_FAIL;
	EXPECT(&in, 503, VERDICT_FAIL, R_OVERRIDE_FAIL, -1);
	in.force = FORCE_PASS;
	EXPECT(&in, 200, VERDICT_PASS, R_OVERRIDE_PASS, -1);
	in.force = FORCE_NONE;
	/* Shadow: 200 either way, and it says so. */
	in.mode = MODE_SHADOW;
	policy_decide(&in, &o);
	T_EQ_INT(o.http, 200);
	T_EQ_INT(o.shadow, 1);
	T_EQ_INT(o.would_reason, R_GUARD);
	/* Without the flag, the same input is the 503 it was. */
	in = base_in();
	EXPECT(&in, 503, VERDICT_FAIL, R_DEPENDENCY_FAILED, 10);
	T_EQ_STR(reason_str(R_GUARD), "guard");
	T_CHECK(reason_is_regionwide(R_GUARD));
}

static void
test_unknown_host(void)
{
	struct policy_in in = base_in();
	struct policy_out o;

	in.registry = NULL; /* not read unless the host resolved */
	in.host = RESOLVE_UNKNOWN;
	in.unknown_host = UNKNOWN_PASS;
	EXPECT(&in, 200, VERDICT_WARN, R_UNKNOWN_HOST, 10);
	in.unknown_host = UNKNOWN_REJECT;
	EXPECT(&in, 404, VERDICT_FAIL, R_UNKNOWN_HOST, 10);
	in.host = RESOLVE_INVALID;
	EXPECT(&in, 404, VERDICT_FAIL, R_UNKNOWN_HOST, 10);
	in.unknown_host = UNKNOWN_PASS;
	EXPECT(&in, 200, VERDICT_WARN, R_UNKNOWN_HOST, 10);
	/* A resolver that could not decide never causes a 404. */
	in.host = RESOLVE_ERROR;
	EXPECT(&in, 200, VERDICT_WARN, R_UNKNOWN_HOST, 10);
	in.unknown_host = UNKNOWN_REJECT;
	EXPECT(&in, 200, VERDICT_WARN, R_UNKNOWN_HOST, 10);
	policy_decide(&in, &o);
	T_EQ_INT(o.have_reg, 0);
}

static void
test_unknown_registry(void)
{
	static const char *const names[] = { "nope", "fail", "failed2", "Failed", "" };
	struct policy_in in = base_in();
	struct policy_out o;

	for (size_t i = 0; i < NELEM(names); i++) {
		in.registry = names[i];
		EXPECT(&in, 200, VERDICT_WARN, R_UNKNOWN_REGISTRY, 10);
		policy_decide(&in, &o);
		T_EQ_INT(o.have_reg, 0);
	}
}

static void
test_verdicts(void)
{
	struct policy_in in = base_in();
	struct policy_out o;

	/* Single region beats its own fail verdict: there is nowhere else to go. */
	in.registry = "single";
	EXPECT(&in, 200, VERDICT_PASS, R_SINGLE_REGION, 10);
	policy_decide(&in, &o);
	T_EQ_INT(o.have_reg, 1);
	T_EQ_INT(o.reg.verdict, VERDICT_FAIL);
	T_EQ_INT(o.reg.flags, SNAP_REG_SINGLE_REGION);

	in.registry = "healthy";
	EXPECT(&in, 200, VERDICT_PASS, R_HEALTHY, 10);
	in.registry = "warned";
	EXPECT(&in, 200, VERDICT_WARN, R_DEGRADED, 10);
	in.registry = "failed";
	EXPECT(&in, 503, VERDICT_FAIL, R_DEPENDENCY_FAILED, 10);
	policy_decide(&in, &o);
	T_EQ_INT(o.have_reg, 1);
	T_EQ_INT(o.reg.since, CREATED - 1002);
}

static void
shadow_case(const char *registry, enum resolve_result host, int http, enum verdict st,
            enum reason why, int would_http, enum verdict would_st)
{
	struct policy_in in = base_in();
	struct policy_out o;

	in.mode = MODE_SHADOW;
	in.registry = registry;
	in.host = host;
	policy_decide(&in, &o);
	T_EQ_INT(o.shadow, 1);
	T_EQ_INT(o.http, http);
	T_EQ_INT(o.status, st);
	T_EQ_INT(o.reason, why);
	T_EQ_INT(o.would_http, would_http);
	T_EQ_INT(o.would_status, would_st);
	T_EQ_INT(o.would_reason, why);
	T_EQ_INT(o.age, 10);
}

/* Shadow answers 200 whatever enforce would say, and reports what that was. */
static void
test_shadow(void)
{
	struct policy_in in = base_in();
	struct policy_out o;

	shadow_case("failed", RESOLVE_FOUND, 200, VERDICT_PASS, R_DEPENDENCY_FAILED, 503,
	            VERDICT_FAIL);
	shadow_case(NULL, RESOLVE_UNKNOWN, 200, VERDICT_PASS, R_UNKNOWN_HOST, 404, VERDICT_FAIL);
	shadow_case("healthy", RESOLVE_FOUND, 200, VERDICT_PASS, R_HEALTHY, 200, VERDICT_PASS);
	shadow_case("warned", RESOLVE_FOUND, 200, VERDICT_WARN, R_DEGRADED, 200, VERDICT_WARN);

	/* Fail-open answers in shadow mode are reported the same way. */
	in.mode = MODE_SHADOW;
	in.snap_state = SNAP_MISSING;
	in.snap = NULL;
	policy_decide(&in, &o);
	T_EQ_INT(o.shadow, 1);
	T_EQ_INT(o.http, 200);
	T_EQ_INT(o.reason, R_SNAPSHOT_MISSING);
	T_EQ_INT(o.would_http, 200);
	T_EQ_INT(o.would_reason, R_SNAPSHOT_MISSING);
	T_EQ_INT(o.age, -1);
}

static void
test_reason_str(void)
{
	for (int r = 0; r < R_COUNT; r++) {
		const char *s = reason_str((enum reason)r);

		T_CHECK(s != NULL && strcmp(s, "?") != 0 && s[0] != '\0');
		for (int k = 0; k < r; k++)
			T_CHECK(strcmp(s, reason_str((enum reason)k)) != 0);
	}
	T_EQ_STR(reason_str(R_COUNT), "?");
	T_EQ_STR(reason_str((enum reason)-1), "?");
	T_EQ_STR(reason_str(R_DEPENDENCY_FAILED), "dependency-failed");
	T_EQ_STR(reason_str(R_HEALTHY), "healthy");
	T_EQ_STR(reason_str(R_DEGRADED), "degraded");
}

/* Not GET or HEAD: 405 before anything else, in every mode, never turned into a 200. */
static void
test_bad_method(void)
{
	struct policy_in in = base_in();

	in.method_ok = 0;
	EXPECT(&in, 405, VERDICT_FAIL, R_BAD_METHOD, -1);
	in.mode = MODE_SHADOW;
	EXPECT(&in, 405, VERDICT_FAIL, R_BAD_METHOD, -1);
	in.config_ok = 0;
	in.kill_switch = 1;
	EXPECT(&in, 405, VERDICT_FAIL, R_BAD_METHOD, -1);
}

/*
 * An operator's override comes after the configuration and the kill switch, and
 * before anything the snapshot says: a forced answer needs no snapshot.
 */
static void
test_override(void)
{
	struct policy_in in = base_in();
	struct policy_out o;

	in.force = FORCE_PASS;
	EXPECT(&in, 200, VERDICT_PASS, R_OVERRIDE_PASS, -1);
	in.force = FORCE_FAIL;
	in.registry = "healthy-one"; /* not even in the snapshot */
	EXPECT(&in, 503, VERDICT_FAIL, R_OVERRIDE_FAIL, -1);
	in.snap_state = SNAP_MISSING;
	in.snap = NULL;
	EXPECT(&in, 503, VERDICT_FAIL, R_OVERRIDE_FAIL, -1);
	in.kill_switch = 1;
	EXPECT(&in, 200, VERDICT_PASS, R_PASSTHROUGH, -1);
	in.kill_switch = 0;
	in.config_ok = 0;
	EXPECT(&in, 200, VERDICT_WARN, R_CONFIG_ERROR, -1);
	in.config_ok = 1;
	/* A ring in shadow: the forced 503 becomes 200, and says what it would have been. */
	in.mode = MODE_SHADOW;
	policy_decide(&in, &o);
	T_EQ_INT(o.http, 200);
	T_EQ_INT(o.shadow, 1);
	T_EQ_INT(o.would_http, 503);
	T_EQ_INT(o.would_reason, R_OVERRIDE_FAIL);
	T_EQ_STR(reason_str(R_OVERRIDE_PASS), "override-pass");
	T_EQ_STR(reason_str(R_OVERRIDE_FAIL), "override-fail");
	T_CHECK(!reason_is_regionwide(R_OVERRIDE_FAIL));
}

/*
 * Dependency overrides: the registry's verdict again, by the prober's rule, over
 * the region-wide dependencies and those it uses, with the forced states.
 */
static void
test_dependency_override(void)
{
	struct snap_writer *w = snapw_new(CREATED, 10, 0);
	struct snapshot *s = NULL;
	struct overrides *o = NULL;
	struct t_errs e = { .n = 0 };
	struct policy_in in = base_in();
	void *buf = NULL;
	size_t len = 0;
	char text[1024];
	const char *line = "dependency:%s %s until=2026-11-30T09:00:00Z set=2026-11-30T08:00:00Z "
	                   "by=t reason=\"t\"\n";

	/* 0 sa1 fail (listed), 1 sa2 pass (listed), 2 auth pass (region-wide), 3 cache warn (degraded) */
	snapw_add_dep(w, "sa1", VERDICT_FAIL, DEP_KIND_STORAGE, SEV_CRITICAL, 0, CREATED, "500");
	snapw_add_dep(w, "sa2", VERDICT_PASS, DEP_KIND_STORAGE, SEV_CRITICAL, 0, CREATED, "");
	snapw_add_dep(w, "auth", VERDICT_PASS, DEP_KIND_AUTH, SEV_CRITICAL, SNAP_DEP_ALL, CREATED, "");
	snapw_add_reg(w, "on-sa1", VERDICT_FAIL, 0, 0, CREATED);
	snapw_set_uses(w, (const uint32_t[]){ 0 }, 1);
	snapw_add_reg(w, "on-sa2", VERDICT_PASS, 0, SNAP_NO_DEP, CREATED);
	snapw_set_uses(w, (const uint32_t[]){ 1 }, 1);
	snapw_add_reg(w, "on-both", VERDICT_FAIL, 0, 0, CREATED);
	snapw_set_uses(w, (const uint32_t[]){ 0, 1 }, 2);
	snapw_add_reg(w, "hand-made", VERDICT_FAIL, 0, 0, CREATED); /* lists nothing */
	T_EQ_INT(snapw_build(w, &buf, &len, text, sizeof(text)), 0);
	T_EQ_INT(snap_parse(buf, len, CREATED + 10, &s, NULL, 0), SNAP_OK);
	free(buf);
	snapw_free(w);
	if (s == NULL)
		return;
	in.snap = s;
	in.now = (time_t)(CREATED + 10);
	len = (size_t)snprintf(text, sizeof(text), line, "sa1", "force-pass");
	len += (size_t)snprintf(text + len, sizeof(text) - len, line, "sa2", "force-fail");
	T_EQ_INT(ovr_parse("o", text, len, 86400 * 7, &o, t_collect, &e), 0);
	/* The overrides' times: in force at in.now? set 08:00, until 09:00 on 2026-11-30. */
	in.now = (time_t)(o ? o->v[0].set + 60 : 0);
	in.ovr = o;
	in.max_age = 1 << 30; /* the fixture is old; staleness is not what is tested */
	in.registry = "on-sa1";      /* its only failing dependency forced to pass */
	EXPECT(&in, 200, VERDICT_PASS, R_OVERRIDE_PASS, (int64_t)in.now - CREATED);
	in.registry = "on-sa2";      /* its healthy one forced to fail */
	EXPECT(&in, 503, VERDICT_FAIL, R_OVERRIDE_FAIL, (int64_t)in.now - CREATED);
	in.registry = "on-both";     /* sa1 passes now, sa2 fails: still out, by the override */
	EXPECT(&in, 503, VERDICT_FAIL, R_OVERRIDE_FAIL, (int64_t)in.now - CREATED);
	in.registry = "hand-made";   /* the snapshot does not say what it uses: left as it is */
	EXPECT(&in, 503, VERDICT_FAIL, R_DEPENDENCY_FAILED, (int64_t)in.now - CREATED);
	in.ovr = NULL;
	in.registry = "on-sa2";
	EXPECT(&in, 200, VERDICT_PASS, R_HEALTHY, (int64_t)in.now - CREATED);
	ovr_free(o);
	snap_free(s);
}

/* The reasons decided for the whole region, whatever the Host: the responder logs their changes. */
static void
test_regionwide(void)
{
	static const enum reason region[] = { R_CONFIG_ERROR, R_PASSTHROUGH, R_SNAPSHOT_MISSING,
		                                  R_SNAPSHOT_UNREADABLE, R_SNAPSHOT_CORRUPT,
		                                  R_SNAPSHOT_STALE, R_PROBER_BLIND, R_GUARD };
	int n = 0;

	for (int r = 0; r < R_COUNT; r++)
		n += reason_is_regionwide((enum reason)r);
	T_EQ_INT(n, (int)(sizeof(region) / sizeof(region[0])));
	for (size_t i = 0; i < sizeof(region) / sizeof(region[0]); i++)
		T_CHECK(reason_is_regionwide(region[i]));
	T_CHECK(!reason_is_regionwide(R_UNKNOWN_HOST));
	T_CHECK(!reason_is_regionwide(R_DEPENDENCY_FAILED));
	T_CHECK(!reason_is_regionwide(R_BAD_METHOD));
}

int
main(void)
{
	static const struct t_case cases[] = {
		T_CASE(test_bad_method),
		T_CASE(test_base_is_503),
		T_CASE(test_config_error),
		T_CASE(test_passthrough),
		T_CASE(test_snapshot_unusable),
		T_CASE(test_regionwide),
		T_CASE(test_override),
		T_CASE(test_dependency_override),
		T_CASE(test_stale),
		T_CASE(test_stale_extreme),
		T_CASE(test_blind),
		T_CASE(test_guard),
		T_CASE(test_unknown_host),
		T_CASE(test_unknown_registry),
		T_CASE(test_verdicts),
		T_CASE(test_shadow),
		T_CASE(test_reason_str),
	};
	int rc;

	snap_ok = make_snap(CREATED, 0);
	snap_blind = make_snap(CREATED, SNAP_FLAG_BLIND);
	snap_guard = make_snap(CREATED, SNAP_FLAG_GUARD);
	snap_blind_guard = make_snap(CREATED, SNAP_FLAG_BLIND | SNAP_FLAG_GUARD);
	if (snap_ok == NULL || snap_blind == NULL || snap_guard == NULL || snap_blind_guard == NULL) {
		fprintf(stderr, "cannot build the test snapshots\n");
		return 1;
	}
	rc = t_run("policy", cases, NELEM(cases));
	snap_free(snap_ok);
	snap_free(snap_blind);
	snap_free(snap_guard);
	snap_free(snap_blind_guard);
	return rc;
}
