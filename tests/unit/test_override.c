/* test_override.c: the override file: every line error with its file:line, precedence, expiry. */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deephealth.h"
#include "t.h"

#define T0 1796000000 /* 2026-11-29T...: "set" of the lines below */
#define DAY 86400

static const char good[] =
	"# a comment, then a blank line\n"
	"\n"
	"registry:fabrikam force-pass until=2026-11-30T09:00:00Z set=2026-11-30T08:00:00Z by=alice reason=\"keep: INC-1\"\n"
	"registry:ring0-* enforce until=2026-11-30T10:00:00Z set=2026-11-30T08:00:00Z by=bob reason=\"ring 0\"\n"
	"region shadow until=2026-11-30T10:00:00Z set=2026-11-30T08:00:00Z by=bob reason=\"rings: the rest in shadow\"\n"
	"registry:fab* force-fail until=2026-11-30T09:30:00Z set=2026-11-30T08:00:00Z by=carol reason=\"a \\\"quoted\\\" \\\\ reason\"\n"
	"registry:fabrikam shadow until=2026-11-30T08:30:00Z set=2026-11-30T08:00:00Z by=alice reason=\"later line, other dimension\"\n";

static int64_t
at(const char *iso)
{
	struct overrides *o = NULL;
	char line[256];
	struct t_errs e = { .n = 0 };
	int64_t t;

	snprintf(line, sizeof(line), "region enforce until=%s set=1970-01-01T00:00:00Z by=x reason=\"t\"\n", iso);
	if (ovr_parse("t", line, strlen(line), INT64_MAX, &o, t_collect, &e) != 0 || o == NULL)
		return -1;
	t = o->v[0].until;
	ovr_free(o);
	return t;
}

static void
test_parse_and_lookup(void)
{
	struct t_errs e = { .n = 0 };
	struct overrides *o = NULL;
	const struct override *f, *m;
	int64_t t8 = at("2026-11-30T08:00:00Z");

	T_EQ_INT(ovr_parse("ov", good, strlen(good), 7 * DAY, &o, t_collect, &e), 0);
	T_EQ_INT(e.n, 0);
	if (o == NULL)
		return;
	T_EQ_INT((int)o->n, 5);
	T_EQ_STR(o->v[3].reason, "a \"quoted\" \\ reason");
	T_EQ_INT((int)o->v[0].line, 3);
	/* fabrikam at 08:10: its own exact force-pass (line 3) against the glob's force-fail
	 * (line 6): the later line wins, both being the registry's own. */
	ovr_lookup(o, "fabrikam", t8 + 600, &f, &m);
	T_CHECK(f != NULL && f->action == OVR_FORCE_FAIL && f->line == 6);
	T_CHECK(m != NULL && m->action == OVR_SHADOW && m->line == 7);
	/* At 09:45 the force-fail and the exact shadow are over; the force-pass too (09:00). */
	ovr_lookup(o, "fabrikam", t8 + 6300, &f, &m);
	T_CHECK(f == NULL);
	T_CHECK(m != NULL && m->action == OVR_SHADOW && m->line == 5); /* the region's */
	/* ring0-a: its glob's enforce beats the region's shadow, whatever the order. */
	ovr_lookup(o, "ring0-a", t8 + 600, &f, &m);
	T_CHECK(f == NULL && m != NULL && m->action == OVR_ENFORCE);
	/* Unknown Host: the region's only. */
	ovr_lookup(o, NULL, t8 + 600, &f, &m);
	T_CHECK(f == NULL && m != NULL && m->line == 5);
	/* Everything expired at 10:00 exactly (in force while now < until). */
	ovr_lookup(o, "ring0-a", t8 + 7200, &f, &m);
	T_CHECK(f == NULL && m == NULL);
	/* The file format round-trips. */
	{
		char *buf = NULL;
		size_t len = 0;
		FILE *w = open_memstream(&buf, &len);
		struct overrides *o2 = NULL;

		for (size_t i = 0; w != NULL && i < o->n; i++)
			T_EQ_INT(ovr_write_line(w, &o->v[i]), 0);
		if (w != NULL)
			fclose(w);
		T_EQ_INT(ovr_parse("ov2", buf, len, 7 * DAY, &o2, t_collect, &e), 0);
		T_CHECK(o2 != NULL && o2->n == o->n);
		for (size_t i = 0; o2 != NULL && i < o->n; i++) {
			T_EQ_STR(o2->v[i].scope, o->v[i].scope);
			T_EQ_STR(o2->v[i].reason, o->v[i].reason);
			T_CHECK(o2->v[i].until == o->v[i].until && o2->v[i].action == o->v[i].action);
		}
		ovr_free(o2);
		free(buf);
	}
	ovr_free(o);
	{
		static const char deps[] =
			"dependency:sa0* force-fail until=2026-11-30T09:00:00Z set=2026-11-30T08:00:00Z by=a reason=\"x\"\n"
			"dependency:sa017 force-pass until=2026-11-30T08:30:00Z set=2026-11-30T08:00:00Z by=a reason=\"y\"\n"
			"registry:sa017 force-fail until=2026-11-30T09:00:00Z set=2026-11-30T08:00:00Z by=a reason=\"z\"\n";
		const struct override *d;

		T_EQ_INT(ovr_parse("d", deps, strlen(deps), 7 * DAY, &o, t_collect, &e), 0);
		T_CHECK(o != NULL && ovr_deps_in_force(o, t8 + 60) && !ovr_deps_in_force(o, t8 + 3600));
		d = ovr_dep_lookup(o, "sa017xyz", 5, t8 + 60);     /* the length decides */
		T_CHECK(d != NULL && d->action == OVR_FORCE_PASS); /* the later line */
		d = ovr_dep_lookup(o, "sa017", 5, t8 + 1900);      /* after 08:30: the glob's */
		T_CHECK(d != NULL && d->action == OVR_FORCE_FAIL);
		T_CHECK(ovr_dep_lookup(o, "sa1", 3, t8 + 60) == NULL);
		/* A dependency override is not a registry's, even of the same name. */
		ovr_lookup(o, "sa017", t8 + 60, &f, &m);
		T_CHECK(f != NULL && f->kind == OVR_REGISTRY);
		ovr_free(o);
	}
	T_CHECK(ovr_scope_ok("region") && ovr_scope_ok("registry:a-b.c_d") && ovr_scope_ok("registry:[ab]*"));
	T_CHECK(ovr_scope_ok("dependency:sa0*"));
	T_CHECK(!ovr_scope_ok("registry:") && !ovr_scope_ok("dependency:") && !ovr_scope_ok("registry:a b"));
}

/*
 * The region's allow-failover: found by ovr_allow_failover (the latest line in force), and
 * never by ovr_lookup, which sets answers: the responders do not act on it, the prober does.
 */
static void
test_allow_failover(void)
{
	static const char text[] =
		"region allow-failover until=2026-11-30T09:00:00Z set=2026-11-30T08:00:00Z by=alice reason=\"INC-7: region down\"\n"
		"region force-pass until=2026-11-30T10:00:00Z set=2026-11-30T08:00:00Z by=bob reason=\"drill\"\n"
		"region allow-failover until=2026-11-30T08:30:00Z set=2026-11-30T08:00:00Z by=carol reason=\"later line\"\n";
	struct t_errs e = { .n = 0 };
	struct overrides *o = NULL;
	const struct override *f, *m, *a;
	int64_t t8 = at("2026-11-30T08:00:00Z");

	T_EQ_INT(ovr_parse("a", text, strlen(text), 7 * DAY, &o, t_collect, &e), 0);
	if (o == NULL)
		return;
	T_EQ_STR(ovr_action_names[OVR_ALLOW_FAILOVER], "allow-failover");
	a = ovr_allow_failover(o, t8 + 60);
	T_CHECK(a != NULL && a->line == 3 && strcmp(a->by, "carol") == 0); /* the later line */
	a = ovr_allow_failover(o, t8 + 1800);                              /* carol's ended */
	T_CHECK(a != NULL && a->line == 1);
	T_CHECK(ovr_allow_failover(o, t8 + 3600) == NULL);                 /* both ended */
	T_CHECK(ovr_allow_failover(NULL, t8) == NULL);
	/* Not an answer, nor a mode: the region's force-pass is what a lookup sees. */
	ovr_lookup(o, "fabrikam", t8 + 60, &f, &m);
	T_CHECK(f != NULL && f->action == OVR_FORCE_PASS && m == NULL);
	ovr_lookup(o, NULL, t8 + 60, &f, &m);
	T_CHECK(f != NULL && f->action == OVR_FORCE_PASS && m == NULL);
	ovr_free(o);
}

/* Every bad line is named with its line; a file with any is refused whole. */
static void
test_errors(void)
{
	static const struct {
		const char *line, *msg;
	} bad[] = {
		{ "registry:x force-pass", "until, set, by and a non-empty reason are all required" },
		{ "registry:x force-pass until=2026-11-30T09:00:00Z set=2026-11-30T08:00:00Z by=a reason=\"\"",
		  "until, set, by and a non-empty reason are all required" },
		{ "registry:x explode until=2026-11-30T09:00:00Z set=2026-11-30T08:00:00Z by=a reason=\"r\"",
		  "action must be force-pass, force-fail, enforce, shadow or allow-failover" },
		{ "registry:x allow-failover until=2026-11-30T09:00:00Z set=2026-11-30T08:00:00Z by=a reason=\"r\"",
		  "allow-failover is for the region only: the failover guard holds the whole region" },
		{ "dependency:sa1 allow-failover until=2026-11-30T09:00:00Z set=2026-11-30T08:00:00Z by=a reason=\"r\"",
		  "allow-failover is for the region only: the failover guard holds the whole region" },
		{ "cluster:eu force-fail until=2026-11-30T09:00:00Z set=2026-11-30T08:00:00Z by=a reason=\"r\"",
		  "scope must be \"region\", \"registry:NAME\" or \"dependency:NAME\" (a name, or a glob of names: * ? and closed [sets])" },
		{ "dependency:sa1 shadow until=2026-11-30T09:00:00Z set=2026-11-30T08:00:00Z by=a reason=\"r\"",
		  "a dependency can be forced to pass or fail, not given a mode" },
		{ "registry:x force-pass until=2026-11-30T07:00:00Z set=2026-11-30T08:00:00Z by=a reason=\"r\"",
		  "until must be after set" },
		{ "registry:x force-pass until=2026-12-30T09:00:00Z set=2026-11-30T08:00:00Z by=a reason=\"r\"",
		  "expires too far after it was set (responder.override_max)" },
		{ "registry:x force-pass until=tomorrow set=2026-11-30T08:00:00Z by=a reason=\"r\"",
		  "unknown or bad field (until=TIME set=TIME by=NAME reason=\"...\"; times as 2026-11-30T09:00:00Z)" },
		{ "registry:x force-pass until=2026-11-30T09:00:00Z set=2026-11-30T08:00:00Z by=a reason=\"unterminated",
		  "reason: a quoted string of printable ASCII, at most 500 bytes" },
		{ "registry:x force-pass until=2026-11-30T09:00:00Z set=2026-11-30T08:00:00Z by=a reason=\"r\" extra=1",
		  "unknown or bad field (until=TIME set=TIME by=NAME reason=\"...\"; times as 2026-11-30T09:00:00Z)" },
		{ "lonely", "expected \"SCOPE ACTION until=... set=... by=... reason=\\\"...\\\"\"" },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char buf[1024], want[600];
		struct t_errs e = { .n = 0 };
		struct overrides *o = NULL;

		/* a good line first: a bad one anywhere refuses the whole file */
		snprintf(buf, sizeof(buf), "registry:ok force-pass until=2026-11-30T09:00:00Z "
		         "set=2026-11-30T08:00:00Z by=a reason=\"fine\"\n%s\n", bad[i].line);
		snprintf(want, sizeof(want), "f:2: %s", bad[i].msg);
		T_EQ_INT(ovr_parse("f", buf, strlen(buf), 7 * DAY, &o, t_collect, &e), 1);
		T_CHECK(o == NULL);
		if (e.n == 1)
			T_EQ_STR(e.line[0], want);
		else
			T_EQ_INT(e.n, 1);
	}
	{
		struct t_errs e = { .n = 0 };
		struct overrides *o = NULL;

		T_EQ_INT(ovr_load("/nonexistent/overrides", DAY, &o, t_collect, &e), -1);
		T_CHECK(o == NULL && e.n == 0);
	}
	(void)T0;
}

/* The region-wide file: written whole, read whole; any damage refuses all of it. */
static void
test_region_file(void)
{
	struct t_errs e = { .n = 0 };
	struct overrides *o = NULL, *back = NULL;
	char *buf, *bad;
	size_t len;

	T_EQ_INT(ovr_parse("ov", good, strlen(good), 7 * DAY, &o, t_collect, &e), 0);
	if (o == NULL)
		return;
	buf = ovr_render_region(o, NULL, NULL, at("2026-11-30T08:00:00Z"), &len);
	T_CHECK(strncmp(buf, OVR_REGION_MAGIC " length=", strlen(OVR_REGION_MAGIC) + 8) == 0);
	T_EQ_INT(ovr_parse_region("r", buf, len, 7 * DAY, &back, t_collect, &e), 0);
	T_EQ_INT(e.n, 0);
	if (back != NULL) {
		T_EQ_INT((int)back->n, 5);
		T_CHECK(back->v[0].origin == OVR_REGIONWIDE && back->v[0].from == NULL);
		T_EQ_STR(back->v[3].reason, o->v[3].reason);
	}
	ovr_free(back);
	/* The node's parser takes no region-wide file (its header is no override line) ... */
	T_EQ_INT(ovr_parse("n", buf, len, 7 * DAY, &back, t_collect, &e), 1);
	/* ... and the region-wide parser no node file. */
	e.n = 0;
	T_EQ_INT(ovr_parse_region("r", good, strlen(good), 7 * DAY, &back, t_collect, &e), 1);
	T_CHECK(back == NULL && e.n == 1 && strstr(e.line[0], "r:1: ") == e.line[0]);
	/* Empty (a 200 with no body): refused, not read. */
	e.n = 0;
	T_EQ_INT(ovr_parse_region("r", NULL, 0, 7 * DAY, &back, t_collect, &e), 1);
	T_CHECK(back == NULL && e.n == 1 && strstr(e.line[0], "no header line") != NULL);
	/* One byte changed (force-pass made force-fail by hand): the checksum refuses it. */
	bad = xmalloc(len);
	memcpy(bad, buf, len);
	memcpy(strstr(bad, "force-pass"), "force-fail", 10);
	e.n = 0;
	T_EQ_INT(ovr_parse_region("r", bad, len, 7 * DAY, &back, t_collect, &e), 1);
	T_CHECK(back == NULL && e.n == 1 && strstr(e.line[0], "checksum mismatch") != NULL);
	/* Truncated (a copy cut short), and longer than written: refused, saying which. */
	e.n = 0;
	T_EQ_INT(ovr_parse_region("r", buf, len - 40, 7 * DAY, &back, t_collect, &e), 1);
	T_CHECK(e.n == 1 && strstr(e.line[0], "truncated") != NULL);
	free(bad);
	bad = xmalloc(len + 1);
	memcpy(bad, buf, len);
	bad[len] = '\n';
	e.n = 0;
	T_EQ_INT(ovr_parse_region("r", bad, len + 1, 7 * DAY, &back, t_collect, &e), 1);
	T_CHECK(e.n == 1 && strstr(e.line[0], "longer than written") != NULL);
	free(bad);
	free(buf);
	ovr_free(o);
}

/*
 * The node's and the region-wide overrides together: the most specific scope,
 * then the one set latest, then (same second) the node's own; from= says where.
 */
static void
test_precedence(void)
{
	static const char node[] =
		"registry:fabrikam force-pass until=2026-11-30T12:00:00Z set=2026-11-30T08:00:00Z by=door reason=\"old local\"\n"
		"registry:contoso force-pass until=2026-11-30T12:00:00Z set=2026-11-30T09:00:00Z by=door reason=\"same second\"\n"
		"registry:tailspin force-pass until=2026-11-30T12:00:00Z set=2026-11-30T10:00:00Z by=door reason=\"newer local\"\n";
	static const char region[] =
		"registry:fabrikam force-fail until=2026-11-30T12:00:00Z set=2026-11-30T09:00:00Z by=sre reason=\"incident\"\n"
		"registry:contoso force-fail until=2026-11-30T12:00:00Z set=2026-11-30T09:00:00Z by=sre reason=\"incident\"\n"
		"registry:tailspin force-fail until=2026-11-30T12:00:00Z set=2026-11-30T09:00:00Z by=sre reason=\"incident\"\n"
		"region force-pass until=2026-11-30T12:00:00Z set=2026-11-30T11:00:00Z by=sre reason=\"the region\"\n";
	struct t_errs e = { .n = 0 };
	struct overrides *n = NULL, *r0 = NULL, *r = NULL, *u, *d;
	const struct overrides *sets[2];
	char p1[] = "prober-1:8080", *from[2] = { NULL, p1 }, *buf, where[256];
	const struct override *f, *m;
	int64_t t = at("2026-11-30T11:30:00Z");
	size_t len;

	T_EQ_INT(ovr_parse("n", node, strlen(node), 7 * DAY, &n, t_collect, &e), 0);
	T_EQ_INT(ovr_parse("r0", region, strlen(region), 7 * DAY, &r0, t_collect, &e), 0);
	if (n == NULL || r0 == NULL)
		return;
	/* As a door holds it: the follower's union, one line per source's override. */
	sets[0] = NULL;
	sets[1] = r0;
	d = ovr_union(sets, from, 2);
	buf = ovr_render_region(d, NULL, NULL, t, &len);
	T_CHECK(strstr(buf, " from=prober-1:8080 reason=") != NULL);
	T_EQ_INT(ovr_parse_region("r", buf, len, 7 * DAY, &r, t_collect, &e), 0);
	T_EQ_INT(e.n, 0);
	free(buf);
	ovr_free(d);
	if (r == NULL)
		return;
	T_EQ_STR(r->v[0].from, "prober-1:8080");
	sets[0] = n;
	sets[1] = r;
	u = ovr_union(sets, NULL, 2);
	/* The region-wide force-fail, set later, beats a forgotten local force-pass. */
	ovr_lookup(u, "fabrikam", t, &f, &m);
	T_CHECK(f != NULL && f->origin == OVR_REGIONWIDE && f->action == OVR_FORCE_FAIL);
	if (f != NULL)
		T_EQ_STR(ovr_where(f, "/n", "/r", where, sizeof(where)),
		         "region-wide /r:4 from prober-1:8080");
	/* Set in the same second: the node's own wins. */
	ovr_lookup(u, "contoso", t, &f, &m);
	T_CHECK(f != NULL && f->origin == OVR_NODE && f->action == OVR_FORCE_PASS);
	/* A local override set after the region-wide one wins: this door's exception. */
	ovr_lookup(u, "tailspin", t, &f, &m);
	T_CHECK(f != NULL && f->origin == OVR_NODE);
	if (f != NULL)
		T_EQ_STR(ovr_where(f, "/n", "/r", where, sizeof(where)), "node /n:3");
	/* The region scope, however late, never beats a registry's own. */
	ovr_lookup(u, "fabrikam", t, &f, &m);
	T_CHECK(f != NULL && f->glob != NULL);
	ovr_lookup(u, "another", t, &f, &m);
	T_CHECK(f != NULL && f->glob == NULL && f->origin == OVR_REGIONWIDE);
	/* from= is the region-wide file's alone. */
	{
		static const char fromline[] = "region enforce until=2026-11-30T12:00:00Z "
		                               "set=2026-11-30T08:00:00Z by=a from=x reason=\"r\"\n";

		e.n = 0;
		T_EQ_INT(ovr_parse("n", fromline, strlen(fromline), 7 * DAY, &d, t_collect, &e), 1);
	}
	ovr_free(u);
	ovr_free(r);
	ovr_free(r0);
	ovr_free(n);
}

int
main(void)
{
	static const struct t_case cases[] = {
		T_CASE(test_parse_and_lookup),
		T_CASE(test_errors),
		T_CASE(test_allow_failover),
		T_CASE(test_region_file),
		T_CASE(test_precedence),
	};

	return t_run("override", cases, sizeof(cases) / sizeof(cases[0]));
}
