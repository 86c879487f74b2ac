/* test_state.c: the fall/rise/ok state machine at its boundaries, and its file. */
#define _POSIX_C_SOURCE 200809L

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "prober.h"
#include "t.h"

static struct dep_conf
dep(int fall, int rise, int intermittent, int ok)
{
	struct dep_conf d;

	memset(&d, 0, sizeof(d));
	d.name = (char *)(uintptr_t) "d";
	d.fall = fall;
	d.rise = rise;
	d.intermittent = intermittent;
	d.ok = ok;
	return d;
}

static struct dep_state
fresh(void)
{
	struct dep_state s;

	memset(&s, 0, sizeof(s));
	s.last = VERDICT_PASS;
	return s;
}

/* Feed a string of results: p pass, w warn, f fail, u unknown.  Returns transitions seen. */
static int
feed(struct dep_state *s, const struct dep_conf *d, const char *seq, int64_t *t)
{
	int changes = 0;

	for (; *seq; seq++) {
		enum verdict r = *seq == 'p' ? VERDICT_PASS : *seq == 'w' ? VERDICT_WARN
		                 : *seq == 'f' ? VERDICT_FAIL : VERDICT_UNKNOWN;

		changes += state_fold(s, d, r, "cause", ++*t);
	}
	return changes;
}

static void
test_fall_boundary_twice(void)
{
	struct dep_conf d = dep(3, 2, 0, 5);
	struct dep_state s = fresh();
	int64_t t = 0;

	/* Two full cycles prove the counters reset after each transition. */
	for (int cycle = 0; cycle < 2; cycle++) {
		T_EQ_INT(feed(&s, &d, "ff", &t), 0); /* fall - 1: still up */
		T_EQ_INT(state_reported(&s), VERDICT_PASS);
		T_EQ_INT(feed(&s, &d, "f", &t), 1);  /* fall: down */
		T_EQ_INT(state_reported(&s), VERDICT_FAIL);
		T_EQ_INT(s.since, t);
		T_EQ_INT(feed(&s, &d, "p", &t), 0);  /* rise - 1: still down */
		T_EQ_INT(state_reported(&s), VERDICT_FAIL);
		T_EQ_INT(feed(&s, &d, "p", &t), 1);  /* rise: up */
		T_EQ_INT(state_reported(&s), VERDICT_PASS);
	}
}

static void
test_consecutive_resets(void)
{
	struct dep_conf d = dep(3, 2, 0, 5);
	struct dep_state s = fresh();
	int64_t t = 0;

	/* A success between failures resets the run: never down. */
	T_EQ_INT(feed(&s, &d, "ffpffpffpff", &t), 0);
	T_EQ_INT(state_reported(&s), VERDICT_PASS);
	T_EQ_INT(feed(&s, &d, "f", &t), 1);
	/* Down: a failure between successes resets the recovery. */
	T_EQ_INT(feed(&s, &d, "pfpfpf", &t), 0);
	T_EQ_INT(state_reported(&s), VERDICT_FAIL);
	T_EQ_INT(feed(&s, &d, "pp", &t), 1);
}

static void
test_unknown_never_counts(void)
{
	struct dep_conf d = dep(3, 2, 0, 5);
	struct dep_state s = fresh();
	int64_t t = 0;

	/* Unknowns between failures neither count nor reset. */
	T_EQ_INT(feed(&s, &d, "uuffuuuuu", &t), 0);
	T_EQ_INT(state_reported(&s), VERDICT_PASS);
	T_EQ_INT(s.consec_fail, 2);
	T_EQ_INT(feed(&s, &d, "f", &t), 1);
	T_EQ_INT(feed(&s, &d, "uuuuuuuuuu", &t), 0);
	T_EQ_INT(state_reported(&s), VERDICT_FAIL);
	T_EQ_INT(feed(&s, &d, "pupu", &t), 1);
	/* A hundred unknowns from a fresh state: still up. */
	s = fresh();
	for (int i = 0; i < 100; i++)
		T_EQ_INT(feed(&s, &d, "u", &t), 0);
	T_EQ_INT(state_reported(&s), VERDICT_PASS);
}

static void
test_warn(void)
{
	struct dep_conf d = dep(3, 2, 0, 5);
	struct dep_state s = fresh();
	int64_t t = 0;

	T_EQ_INT(feed(&s, &d, "w", &t), 1); /* warn shows at once */
	T_EQ_INT(state_reported(&s), VERDICT_WARN);
	T_EQ_INT(feed(&s, &d, "w", &t), 0);
	T_EQ_INT(feed(&s, &d, "p", &t), 1);
	T_EQ_INT(state_reported(&s), VERDICT_PASS);
	/* Warn is a success: it resets a failure run. */
	T_EQ_INT(feed(&s, &d, "ffwff", &t), 2); /* pass->warn->pass, never fail */
	T_EQ_INT(state_reported(&s), VERDICT_PASS);
	/* Down, warns count toward rise and come back as warn. */
	T_EQ_INT(feed(&s, &d, "f", &t), 1);
	T_EQ_INT(feed(&s, &d, "ww", &t), 1);
	T_EQ_INT(state_reported(&s), VERDICT_WARN);
}

static void
test_intermittent(void)
{
	struct dep_conf d = dep(3, 2, 1, 5);
	struct dep_state s = fresh();
	int64_t t = 0;

	/* Failures need not be consecutive... */
	T_EQ_INT(feed(&s, &d, "fpfp", &t), 0);
	T_EQ_INT(state_reported(&s), VERDICT_PASS);
	T_EQ_INT(feed(&s, &d, "f", &t), 1);
	T_EQ_INT(feed(&s, &d, "pp", &t), 1);
	/* ...until ok (5) successes in a row clear them: 4 do not. */
	T_EQ_INT(feed(&s, &d, "fppppf", &t), 0);
	T_EQ_INT(s.fail_count, 2);
	T_EQ_INT(feed(&s, &d, "ppppp", &t), 0);
	T_EQ_INT(s.fail_count, 0);
	T_EQ_INT(feed(&s, &d, "ff", &t), 0);
	T_EQ_INT(state_reported(&s), VERDICT_PASS);
	T_EQ_INT(feed(&s, &d, "f", &t), 1);
	T_EQ_INT(state_reported(&s), VERDICT_FAIL);
}

static void
test_fall_one(void)
{
	struct dep_conf d = dep(1, 1, 0, 1);
	struct dep_state s = fresh();
	int64_t t = 0;

	T_EQ_INT(feed(&s, &d, "f", &t), 1);
	T_EQ_INT(feed(&s, &d, "p", &t), 1);
	T_EQ_INT(feed(&s, &d, "fpfp", &t), 4);
}

static char errs[8][256];
static int nerrs;

static void
collect(void *arg, const char *fmt, ...)
{
	va_list ap;

	(void)arg;
	if (nerrs >= 8)
		return;
	va_start(ap, fmt);
	vsnprintf(errs[nerrs++], sizeof(errs[0]), fmt, ap);
	va_end(ap);
}

static void
test_save_load(void)
{
	char dir[] = "/tmp/dh-state-XXXXXX", path[300], cmd[600], err[256];
	struct dep_conf deps[3];
	struct conf c;
	struct dep_state st[3], back[3];
	FILE *f;

	T_CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/probe.state", dir);
	memset(&c, 0, sizeof(c));
	deps[0] = dep(3, 2, 0, 5);
	deps[1] = dep(3, 2, 0, 5);
	deps[2] = dep(3, 2, 0, 5);
	deps[0].name = (char *)(uintptr_t) "storage-sa001";
	deps[1].name = (char *)(uintptr_t) "cache";
	deps[2].name = (char *)(uintptr_t) "auth";
	c.deps = deps;
	c.ndeps = 3;
	c.max_age = 180;

	/* Missing file: fresh start, no complaint. */
	nerrs = 0;
	T_EQ_INT(state_load(path, &c, st, 1000, collect, NULL, NULL), 0);
	T_EQ_INT(nerrs, 0);
	T_EQ_INT(st[0].down, 0);
	T_EQ_INT(st[0].since, 1000);

	st[0].down = 1;
	st[0].consec_ok = 1;
	st[0].since = 1234;
	st[1].last = VERDICT_WARN;
	st[1].consec_fail = 2;
	st[2].fail_count = 4;
	T_EQ_INT(state_save(path, &c, st, NULL, err, sizeof(err)), 0);
	state_load(path, &c, back, 2000, collect, NULL, NULL);
	T_EQ_INT(nerrs, 0);
	T_EQ_INT(back[0].down, 1);
	T_EQ_INT(back[0].consec_ok, 1);
	T_EQ_INT(back[0].since, 1234);
	T_EQ_INT(state_reported(&back[1]), VERDICT_WARN);
	T_EQ_INT(back[1].consec_fail, 2);
	T_EQ_INT(back[2].fail_count, 4);

	/* Saved more than max_age ago: counters not trusted, fresh start, said once. */
	{
		struct stat sb;
		int64_t saved;

		T_CHECK(stat(path, &sb) == 0);
		saved = (int64_t)sb.st_mtime;
		nerrs = 0;
		state_load(path, &c, back, saved + 180, collect, NULL, NULL);
		T_EQ_INT(nerrs, 0);
		T_EQ_INT(back[0].down, 1);
		state_load(path, &c, back, saved + 181, collect, NULL, NULL);
		T_EQ_INT(nerrs, 1);
		snprintf(cmd, sizeof(cmd), "%s: saved 181 s ago, more than snapshot.max_age (180 s): its "
		         "counters are too old to trust, starting fresh", path);
		T_EQ_STR(errs[0], cmd);
		T_EQ_INT(back[0].down, 0);
		T_EQ_INT(back[0].since, saved + 181);
		T_EQ_INT(back[2].fail_count, 0);
	}

	/* No temp file left behind. */
	snprintf(cmd, sizeof(cmd), "test $(ls -A %s | wc -l) -eq 1", dir);
	T_EQ_INT(system(cmd), 0);

	/* A damaged line resets only that dependency, and says where. */
	f = fopen(path, "w");
	T_CHECK(f != NULL);
	if (f != NULL) {
		fprintf(f, "deephealth-probe-state 1\nstorage-sa001 down fail 0 1 0 99\n"
		           "cache sideways pass 0 0 0 1\ngone up pass 0 0 0 5\n");
		fclose(f);
	}
	nerrs = 0;
	state_load(path, &c, back, 3000, collect, NULL, NULL);
	T_EQ_INT(nerrs, 1);
	snprintf(cmd, sizeof(cmd), "%s:3: damaged line, that dependency starts fresh", path);
	T_EQ_STR(errs[0], cmd);
	T_EQ_INT(back[0].down, 1);
	T_EQ_INT(back[1].down, 0);
	T_EQ_INT(back[1].since, 3000);

	/* Not a state file at all: fresh start, reported. */
	f = fopen(path, "w");
	if (f != NULL) {
		fprintf(f, "garbage\n");
		fclose(f);
	}
	nerrs = 0;
	state_load(path, &c, back, 4000, collect, NULL, NULL);
	T_EQ_INT(nerrs, 1);
	T_EQ_INT(back[0].down, 0);

	/* There but unreadable now: out of descriptors.  Not a fresh start (that would bring a
	 * failing dependency up at once): -1, said, and st untouched by the open. */
	T_EQ_INT(state_save(path, &c, st, NULL, err, sizeof(err)), 0);
	{
		struct rlimit old, low;
		int top = dup(0), rc;

		T_CHECK(top >= 0 && getrlimit(RLIMIT_NOFILE, &old) == 0);
		low = old;
		low.rlim_cur = (rlim_t)top; /* every descriptor below top is open: none left */
		back[0].down = 7;
		nerrs = 0;
		T_CHECK(setrlimit(RLIMIT_NOFILE, &low) == 0);
		rc = state_load(path, &c, back, 5000, collect, NULL, NULL);
		T_CHECK(setrlimit(RLIMIT_NOFILE, &old) == 0);
		close(top);
		T_EQ_INT(rc, -1);
		T_EQ_INT(nerrs, 1);
		snprintf(cmd, sizeof(cmd), "%s: cannot read state: Too many open files", path);
		T_EQ_STR(errs[0], cmd);
		T_EQ_INT(back[0].down, 7);
	}
	/* A directory where the file should be: opened, not read (EISDIR): -1 as well. */
	{
		char sub[300];

		snprintf(sub, sizeof(sub), "%s/adir", dir);
		T_EQ_INT(mkdir(sub, 0700), 0);
		nerrs = 0;
		T_EQ_INT(state_load(sub, &c, back, 5000, collect, NULL, NULL), -1);
		T_EQ_INT(nerrs, 1);
		rmdir(sub);
	}

	/* Saving into a missing directory fails cleanly. */
	snprintf(path, sizeof(path), "%s/missing/probe.state", dir);
	T_EQ_INT(state_save(path, &c, st, NULL, err, sizeof(err)), -1);
	T_CHECK(strstr(err, "mkstemp") != NULL);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	T_EQ_INT(system(cmd), 0);
}

int
main(void)
{
	static const struct t_case cases[] = {
		T_CASE(test_fall_boundary_twice), T_CASE(test_consecutive_resets),
		T_CASE(test_unknown_never_counts), T_CASE(test_warn),
		T_CASE(test_intermittent), T_CASE(test_fall_one), T_CASE(test_save_load),
	};

	return t_run("state", cases, sizeof(cases) / sizeof(cases[0]));
}
