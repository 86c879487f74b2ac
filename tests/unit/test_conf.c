/* test_conf.c: shipped config, defaults, relative paths, each bad-*.conf against its .expected. */
#define _XOPEN_SOURCE 700 /* nftw */

#include <dirent.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "responder.h"
#include "prober.h"
#include "t.h"

/* Every section read, as the two programs together do. */
static const struct conf_ext *const exts[] = { &resolver_conf, &deps_conf, NULL };

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define FIXTURES "tests/fixtures/conf"

static char tmpdir[64];


static void
dump(const struct t_errs *e)
{
	for (int i = 0; i < e->n && i < (int)NELEM(e->line); i++)
		fprintf(stderr, "  got: %s\n", e->line[i]);
}

static struct conf *
load_ok(const char *path)
{
	struct t_errs e = { .n = 0 };
	struct conf *c = conf_load(path, exts, t_collect, &e);

	T_CHECK(c != NULL);
	T_EQ_INT(e.n, 0);
	if (e.n != 0)
		dump(&e);
	return c;
}

static enum resolve_result
lookup(struct conf *c, const char *host, char *reg)
{
	char out[DH_HOST_MAX + 1];
	enum host_err he;

	return resolver_lookup(c->resolver, host, out, reg, &he);
}

static void
test_shipped(void)
{
	struct conf *c = load_ok("conf/deephealth.conf");
	char reg[DH_NAME_MAX + 1];

	if (c == NULL)
		return;
	T_EQ_STR(c->path, "conf/deephealth.conf");
	T_EQ_STR(c->snapshot_path, "/var/lib/deephealth/snapshot");
	T_EQ_INT(c->max_age, 180);
	T_EQ_INT(c->mode, MODE_ENFORCE);
	T_EQ_STR(c->kill_switch, "/etc/deephealth/disable");
	T_EQ_INT(c->unknown_host, UNKNOWN_PASS);
	T_EQ_INT(c->detail, DETAIL_STATUS);
	T_EQ_INT(c->recheck_ms, 1000);
	T_EQ_INT(c->log_syslog, 0);
	T_EQ_INT(c->log_level, LOG_LVL_INFO);
	T_EQ_STR(c->host_map, "");
	T_CHECK(c->resolver != NULL);
	T_EQ_INT(resolver_rule_count(c->resolver), 2);
	T_EQ_INT(resolver_host_count(c->resolver), 0);
	/* The two shipped rules do what the comments say. */
	T_EQ_INT(lookup(c, "Contoso.AzureCR.io", reg), RESOLVE_FOUND);
	T_EQ_STR(reg, "contoso");
	T_EQ_INT(lookup(c, "contoso.westus2.data.azurecr.io", reg), RESOLVE_FOUND);
	T_EQ_STR(reg, "contoso");
	T_EQ_INT(lookup(c, "abc.azurecr.io", reg), RESOLVE_UNKNOWN);
	T_EQ_INT(lookup(c, "contoso.azurecr.io.evil.com", reg), RESOLVE_UNKNOWN);
	conf_free(c);
	conf_free(NULL);
}

/* Only the required key given: every other value is the documented default. */
static void
test_defaults(void)
{
	struct conf *c = load_ok(FIXTURES "/minimal.conf");

	if (c == NULL)
		return;
	T_EQ_STR(c->snapshot_path, "/var/lib/deephealth/snapshot");
	T_EQ_INT(c->max_age, 180);
	T_EQ_INT(c->mode, MODE_ENFORCE);
	T_EQ_STR(c->kill_switch, "/etc/deephealth/disable");
	T_EQ_INT(c->unknown_host, UNKNOWN_PASS);
	T_EQ_INT(c->detail, DETAIL_STATUS);
	T_EQ_INT(c->recheck_ms, 1000);
	T_EQ_INT(c->log_syslog, 0);
	T_EQ_INT(c->log_level, LOG_LVL_INFO);
	T_EQ_STR(c->host_map, "");
	T_EQ_INT(resolver_rule_count(c->resolver), 0);
	T_EQ_INT(resolver_host_count(c->resolver), 0);
	/* The failover guard is off unless asked for. */
	T_EQ_INT(c->guard_max_failing.count, 0);
	T_EQ_INT(c->guard_max_failing.pct, 0);
	T_EQ_INT(conf_bound_of(&c->guard_max_failing, 2000), 0);
	T_EQ_INT(c->guard_hold, 60);
	conf_free(c);
}

/* prober.guard_max_failing: a count, or a share of the multi-region registries. */
static void
test_guard_bound(void)
{
	static const struct {
		const char *value;
		long count;
		int pct;
		size_t of2000, of7;
		const char *str;
	} cases[] = {
		{ "500", 500, 0, 500, 500, "500" },
		{ "1", 1, 0, 1, 1, "1" },
		{ "\"25%\"", 0, 25, 500, 1, "25%" },
		{ "\"1%\"", 0, 1, 20, 0, "1%" },
		{ "\"99%\"", 0, 99, 1980, 6, "99%" },
	};
	char path[128], buf[32];

	snprintf(path, sizeof(path), "%s/guard.conf", tmpdir);
	for (size_t i = 0; i < NELEM(cases); i++) {
		FILE *f = fopen(path, "w");
		struct conf *c;

		T_CHECK(f != NULL);
		if (f == NULL)
			return;
		fprintf(f, "snapshot = { path = \"snap\"; };\nprober = { guard_max_failing = %s; "
		        "guard_hold = 30; };\n", cases[i].value);
		fclose(f);
		if ((c = load_ok(path)) == NULL)
			continue;
		T_EQ_INT(c->guard_max_failing.count, cases[i].count);
		T_EQ_INT(c->guard_max_failing.pct, cases[i].pct);
		T_EQ_INT(conf_bound_of(&c->guard_max_failing, 2000), cases[i].of2000);
		T_EQ_INT(conf_bound_of(&c->guard_max_failing, 7), cases[i].of7);
		T_EQ_STR(conf_bound_str(&c->guard_max_failing, buf, sizeof(buf)), cases[i].str);
		T_EQ_INT(c->guard_hold, 30);
		conf_free(c);
	}
}

static void
check_relative(struct conf *c, const char *dir)
{
	char want[PATH_MAX + 64], reg[DH_NAME_MAX + 1];

	snprintf(want, sizeof(want), "%s/state/snapshot", dir);
	T_EQ_STR(c->snapshot_path, want);
	snprintf(want, sizeof(want), "%s/disable", dir);
	T_EQ_STR(c->kill_switch, want);
	snprintf(want, sizeof(want), "%s/../hosts/good.map", dir);
	T_EQ_STR(c->host_map, want);
	T_EQ_INT(c->max_age, 86400);
	T_EQ_INT(c->mode, MODE_SHADOW);
	T_EQ_INT(c->unknown_host, UNKNOWN_REJECT);
	T_EQ_INT(c->detail, DETAIL_CAUSE);
	T_EQ_INT(c->recheck_ms, 0);
	T_EQ_INT(c->log_syslog, 1);
	T_EQ_INT(c->log_level, LOG_LVL_DEBUG);
	T_EQ_INT(resolver_rule_count(c->resolver), 1);
	/* The host map was found through the relative path and loaded. */
	T_EQ_INT(resolver_host_count(c->resolver), 5);
	T_EQ_INT(lookup(c, "pull.fabrikam.com", reg), RESOLVE_FOUND);
	T_EQ_STR(reg, "fabrikam");
	T_EQ_INT(lookup(c, "acme.example.io", reg), RESOLVE_FOUND);
	T_EQ_STR(reg, "acme");
}

/* Relative paths are taken from the directory of the file, wherever we run from. */
static void
test_relative_paths(void)
{
	char cwd[PATH_MAX], abs[PATH_MAX + 64], dir[PATH_MAX + 64];
	struct conf *c;

	c = load_ok(FIXTURES "/relative.conf");
	if (c != NULL)
		check_relative(c, FIXTURES);
	conf_free(c);

	T_CHECK(getcwd(cwd, sizeof(cwd)) != NULL);
	snprintf(abs, sizeof(abs), "%s/" FIXTURES "/relative.conf", cwd);
	snprintf(dir, sizeof(dir), "%s/" FIXTURES, cwd);
	c = load_ok(abs);
	if (c != NULL)
		check_relative(c, dir);
	conf_free(c);

	/* A bare file name: its directory is ".". */
	T_EQ_INT(chdir(FIXTURES), 0);
	c = load_ok("relative.conf");
	if (c != NULL)
		check_relative(c, ".");
	conf_free(c);
	T_EQ_INT(chdir(cwd), 0);
}

static void
test_recheck_edge(void)
{
	struct conf *c = load_ok(FIXTURES "/recheck-edge.conf");

	if (c == NULL)
		return;
	T_EQ_INT(c->max_age, 2);
	T_EQ_INT(c->recheck_ms, 1999);
	conf_free(c);
}

static void
test_missing_file(void)
{
	struct t_errs e = { .n = 0 };

	T_CHECK(conf_load(FIXTURES "/does-not-exist.conf", exts, t_collect, &e) == NULL);
	T_EQ_INT(e.n, 1);
	T_EQ_STR(e.line[0], FIXTURES "/does-not-exist.conf: cannot read: No such file or directory");
}

/* Loads a bad fixture and compares every reported line, in order, with NAME.expected. */
static void
check_bad(const char *name)
{
	char conf[512], exp[512], line[600];
	struct t_errs e = { .n = 0 };
	struct conf *c;
	FILE *f;
	int n = 0, mismatch = 0;

	snprintf(conf, sizeof(conf), FIXTURES "/%s.conf", name);
	snprintf(exp, sizeof(exp), FIXTURES "/%s.expected", name);
	c = conf_load(conf, exts, t_collect, &e);
	if (c != NULL)
		fprintf(stderr, "  %s loaded\n", conf);
	T_CHECK(c == NULL);
	conf_free(c);
	f = fopen(exp, "r");
	if (f == NULL) {
		fprintf(stderr, "  %s: no expected errors\n", exp);
		T_CHECK(f != NULL);
		return;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if (n >= e.n || strcmp(e.line[n], line) != 0) {
			fprintf(stderr, "  %s: error %d: expected \"%s\"\n", name, n + 1, line);
			mismatch++;
		}
		n++;
	}
	fclose(f);
	T_CHECK(n > 0);
	if (e.n != n)
		fprintf(stderr, "  %s: %d errors reported, %d expected\n", name, e.n, n);
	T_EQ_INT(e.n, n);
	T_EQ_INT(mismatch, 0);
	if (mismatch || e.n != n)
		dump(&e);
}

/* The kinds of mistake we promise to catch, each with its own fixture. */
static const char *const required_bad[] = {
	"bad-syntax",          /* libconfig cannot parse it */
	"bad-section",         /* unknown section */
	"bad-key",             /* unknown key */
	"bad-range",           /* out of range */
	"bad-type",            /* string where a number goes */
	"bad-enum",            /* not one of the names */
	"bad-required",        /* snapshot.path missing */
	"bad-no-snapshot",     /* no snapshot section at all */
	"bad-not-group",       /* a section that is not a group */
	"bad-regex",           /* PCRE2 refuses it: message and offset */
	"bad-no-group",        /* a rule without (?<registry>...) */
	"bad-rules-type",      /* rules not a list */
	"bad-recheck",         /* recheck_ms >= max_age * 1000, recheck_ms given */
	"bad-recheck-default", /* the same relation broken by max_age alone */
	"bad-hostmap",         /* host map errors as mapfile:line: message */
	"bad-hostmap-missing", /* host map that cannot be opened */
	"bad-several",         /* many errors, all reported in one run */
	"bad-dep-required",    /* a dependency without type or kind; proxies where wrong */
	"bad-dep-each",        /* every other dependency error, one dependency each */
	"bad-guard",           /* the failover guard: a share over 99%, a hold of 0 */
	"bad-guard-count",     /* a count of 0 */
	"bad-guard-share",     /* a share without its % */
};

static void
test_bad_required(void)
{
	for (size_t i = 0; i < NELEM(required_bad); i++) {
		int before = t_failed_checks;

		check_bad(required_bad[i]);
		if (t_failed_checks != before)
			fprintf(stderr, "  ^ %s\n", required_bad[i]);
	}
}

/*
 * path = "" is one mistake and must be reported once, at its own line, not
 * also as "required" at the line of the section.
 */
static void
test_bad_empty_path(void)
{
	check_bad("bad-empty-path");
}

/* Any other bad-*.conf dropped into the directory is checked the same way. */
static void
test_bad_all(void)
{
	DIR *d = opendir(FIXTURES);
	struct dirent *de;
	int seen = 0;

	T_CHECK(d != NULL);
	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		char name[256];
		size_t len = strlen(de->d_name);
		int listed = 0;

		if (strncmp(de->d_name, "bad-", 4) != 0 || len < 6 ||
		    strcmp(de->d_name + len - 5, ".conf") != 0 || len - 5 >= sizeof(name))
			continue;
		memcpy(name, de->d_name, len - 5);
		name[len - 5] = '\0';
		seen++;
		for (size_t i = 0; i < NELEM(required_bad); i++)
			listed |= strcmp(required_bad[i], name) == 0;
		listed |= strcmp(name, "bad-empty-path") == 0;
		if (!listed)
			check_bad(name);
	}
	closedir(d);
	T_CHECK(seen >= (int)NELEM(required_bad));
}

/*
 * A config written at run time, to check that errors name the file as it
 * was given and that a broken relation is only judged once the values load.
 */
static void
test_generated(void)
{
	char path[128], want[256];
	struct t_errs e = { .n = 0 };
	FILE *f;

	snprintf(path, sizeof(path), "%s/gen.conf", tmpdir);
	f = fopen(path, "w");
	T_CHECK(f != NULL);
	if (f == NULL)
		return;
	fputs("snapshot = {\n\tpath = \"snap\";\n\tmax_age = 0;\n};\nresponder = {\n"
	      "\trecheck_ms = 60000;\n};\n",
	      f);
	fclose(f);
	T_CHECK(conf_load(path, exts, t_collect, &e) == NULL);
	/* max_age 0 is refused; the relation against it is not also reported. */
	T_EQ_INT(e.n, 1);
	snprintf(want, sizeof(want), "%s:3: snapshot.max_age: 0 out of range [1, 86400]", path);
	T_EQ_STR(e.line[0], want);

	e.n = 0;
	f = fopen(path, "w");
	if (f == NULL)
		return;
	fputs("snapshot = {\n\tpath = \"snap\";\n};\n", f);
	fclose(f);
	{
		struct conf *c = conf_load(path, exts, t_collect, &e);

		T_CHECK(c != NULL);
		T_EQ_INT(e.n, 0);
		snprintf(want, sizeof(want), "%s/snap", tmpdir);
		if (c != NULL)
			T_EQ_STR(c->snapshot_path, want);
		conf_free(c);
	}
}

static int
rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	return flag == FTW_DP ? rmdir(path) : unlink(path);
}

/*
 * Each program reads its own part: the responder (resolver extension only)
 * loads a file whose dependency list it does not read, the prober one whose
 * resolver rules it does not compile; the shared sections and the shape of the
 * other part are checked by both.
 */
static void
test_programs_parts(void)
{
	static const struct conf_ext *const responder[] = { &resolver_conf, NULL };
	static const struct conf_ext *const prober[] = { &deps_conf, NULL };
	struct t_errs e = { .n = 0 };
	char path[256];
	struct conf *c;
	FILE *f;

	c = conf_load(FIXTURES "/bad-dep-each.conf", responder, t_collect, &e);
	T_CHECK(c != NULL);
	T_EQ_INT(e.n, 0);
	T_CHECK(c != NULL && c->ndeps == 0 && c->resolver != NULL);
	conf_free(c);
	e.n = 0;
	T_CHECK(conf_load(FIXTURES "/bad-dep-each.conf", prober, t_collect, &e) == NULL);
	T_EQ_INT(e.n, 15);
	e.n = 0;
	c = conf_load(FIXTURES "/bad-regex.conf", prober, t_collect, &e);
	T_CHECK(c != NULL);
	T_CHECK(c != NULL && c->resolver == NULL);
	conf_free(c);
	e.n = 0;
	T_CHECK(conf_load(FIXTURES "/bad-regex.conf", responder, t_collect, &e) == NULL);
	T_EQ_INT(e.n, 1);
	/* Neither reads the other's part, but both refuse it in the wrong shape. */
	e.n = 0;
	T_CHECK(conf_load(FIXTURES "/bad-not-group.conf", NULL, t_collect, &e) == NULL);
	T_CHECK(e.n >= 1);
	e.n = 0;
	snprintf(path, sizeof(path), "%s/deps-shape.conf", tmpdir);
	f = fopen(path, "w");
	T_CHECK(f != NULL);
	if (f == NULL)
		return;
	fputs("snapshot = { path = \"s\"; };\ndependencies = { name = \"x\"; };\n", f);
	fclose(f);
	c = conf_load(path, responder, t_collect, &e);
	T_CHECK(c == NULL);
	T_EQ_INT(e.n, 1);
	if (e.n == 1)
		T_CHECK(strstr(e.line[0], ":2: dependencies: expected a list") != NULL);
	conf_free(c);
}

int
main(void)
{
	static const struct t_case cases[] = {
		T_CASE(test_shipped),
		T_CASE(test_defaults),
		T_CASE(test_guard_bound),
		T_CASE(test_relative_paths),
		T_CASE(test_recheck_edge),
		T_CASE(test_missing_file),
		T_CASE(test_bad_required),
		T_CASE(test_bad_empty_path),
		T_CASE(test_bad_all),
		T_CASE(test_generated),
		T_CASE(test_programs_parts),
	};
	int rc;

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/dh-unit-XXXXXX");
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	rc = t_run("conf", cases, NELEM(cases));
	if (nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS) != 0)
		perror(tmpdir);
	return rc;
}
