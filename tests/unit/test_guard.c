/* test_guard.c: the failover guard's count and hysteresis (guard_step), and its state-file line. */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "prober.h"
#include "t.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define T0 ((int64_t)1796000000)
#define EVERY 10 /* seconds between passes */
#define HOLD 60  /* prober.guard_hold */

/* Passes of failing[k] registries every EVERY s from T0: how many trips and releases. */
static void
run(struct guard_state *g, const size_t *failing, size_t n, size_t bound, int *trips,
    int *releases)
{
	*trips = *releases = 0;
	for (size_t k = 0; k < n; k++) {
		enum guard_change ch = guard_step(g, failing[k], bound, HOLD, T0 + (int64_t)k * EVERY);

		*trips += ch == GUARD_TRIPS;
		*releases += ch == GUARD_RELEASES;
	}
}

/* Exactly N failing, pass after pass: never trips.  N + 1: trips at that very pass. */
static void
test_boundary(void)
{
	struct guard_state g = { 0 };
	size_t at[200];
	int trips, releases;

	for (size_t k = 0; k < NELEM(at); k++)
		at[k] = 500;
	run(&g, at, NELEM(at), 500, &trips, &releases);
	T_EQ_INT(trips, 0);
	T_EQ_INT(g.tripped, 0);
	T_EQ_INT(guard_step(&g, 501, 500, HOLD, T0 + 5000), GUARD_TRIPS);
	T_EQ_INT(g.tripped, 1);
	T_EQ_INT(g.since, T0 + 5000);
	T_EQ_INT(g.under_since, 0);
	/* A bound of 0 (a share of too few registries) trips on the first failing one. */
	memset(&g, 0, sizeof(g));
	T_EQ_INT(guard_step(&g, 0, 0, HOLD, T0), GUARD_SAME);
	T_EQ_INT(guard_step(&g, 1, 0, HOLD, T0 + 10), GUARD_TRIPS);
}

/* N and N + 1 every other pass, for a day of passes: trips once, never lets go. */
static void
test_alternating(void)
{
	static size_t seq[8640];
	struct guard_state g = { 0 };
	int trips, releases;

	for (size_t k = 0; k < NELEM(seq); k++)
		seq[k] = k % 2 ? 501 : 500;
	run(&g, seq, NELEM(seq), 500, &trips, &releases);
	T_EQ_INT(trips, 1);
	T_EQ_INT(releases, 0);
	T_EQ_INT(g.tripped, 1);
	T_EQ_INT(g.since, T0 + EVERY); /* the first N + 1 */
	/* The same with a hold shorter than a pass: each pass at N only starts the hold. */
	memset(&g, 0, sizeof(g));
	for (size_t k = 0; k < NELEM(seq); k++)
		releases += guard_step(&g, seq[k], 500, 1, T0 + (int64_t)k * EVERY) == GUARD_RELEASES;
	T_EQ_INT(releases, 0);
	T_EQ_INT(g.tripped, 1);
	/* Two passes at N, then N + 1, over and over, with the hold at one pass: it lets go at
	 * the second of each pair and trips again at the next: the hold is what keeps it. */
	memset(&g, 0, sizeof(g));
	trips = releases = 0;
	for (size_t k = 0; k < 300; k++) {
		enum guard_change ch = guard_step(&g, k % 3 == 2 ? 501 : 500, 500, EVERY,
		                                  T0 + (int64_t)k * EVERY);

		trips += ch == GUARD_TRIPS;
		releases += ch == GUARD_RELEASES;
	}
	T_EQ_INT(trips, 100);
	T_EQ_INT(releases, 99);
}

/* Tripped, then at or under the bound: lets go at the first pass HOLD s after the first under. */
static void
test_release_after_hold(void)
{
	struct guard_state g = { 0 };
	int64_t t = T0;

	T_EQ_INT(guard_step(&g, 600, 500, HOLD, t), GUARD_TRIPS);
	for (int k = 0; k < 5; k++)
		T_EQ_INT(guard_step(&g, 600, 500, HOLD, t += EVERY), GUARD_SAME);
	/* Under from t + 10: 10, 20, ... 60 s under; the pass at 60 s lets go. */
	t += EVERY;
	T_EQ_INT(guard_step(&g, 200, 500, HOLD, t), GUARD_SAME);
	T_EQ_INT(g.under_since, t);
	for (int k = 1; k < HOLD / EVERY; k++)
		T_EQ_INT(guard_step(&g, k == 3 ? 500 : 200, 500, HOLD, t + k * EVERY), GUARD_SAME);
	T_EQ_INT(guard_step(&g, 200, 500, HOLD, t + HOLD), GUARD_RELEASES);
	T_EQ_INT(g.tripped, 0);
	T_EQ_INT(g.under_since, 0);
	/* Clear: staying under changes nothing. */
	T_EQ_INT(guard_step(&g, 200, 500, HOLD, t + HOLD + EVERY), GUARD_SAME);

	/* One pass over during the hold starts it again. */
	memset(&g, 0, sizeof(g));
	t = T0;
	T_EQ_INT(guard_step(&g, 600, 500, HOLD, t), GUARD_TRIPS);
	T_EQ_INT(guard_step(&g, 200, 500, HOLD, t + 10), GUARD_SAME);
	T_EQ_INT(guard_step(&g, 200, 500, HOLD, t + 50), GUARD_SAME);
	T_EQ_INT(guard_step(&g, 501, 500, HOLD, t + 60), GUARD_SAME);
	T_EQ_INT(g.under_since, 0);
	T_EQ_INT(guard_step(&g, 200, 500, HOLD, t + 70), GUARD_SAME);
	T_EQ_INT(guard_step(&g, 200, 500, HOLD, t + 129), GUARD_SAME);
	T_EQ_INT(guard_step(&g, 200, 500, HOLD, t + 130), GUARD_RELEASES);

	/* A clock stepped back during the hold: the hold starts again from the new time. */
	memset(&g, 0, sizeof(g));
	T_EQ_INT(guard_step(&g, 600, 500, HOLD, T0), GUARD_TRIPS);
	T_EQ_INT(guard_step(&g, 200, 500, HOLD, T0 + 100), GUARD_SAME);
	T_EQ_INT(guard_step(&g, 200, 500, HOLD, T0 + 40), GUARD_SAME);
	T_EQ_INT(g.under_since, T0 + 40);
	T_EQ_INT(guard_step(&g, 200, 500, HOLD, T0 + 99), GUARD_SAME);
	T_EQ_INT(guard_step(&g, 200, 500, HOLD, T0 + 100), GUARD_RELEASES);
}

/* The case: 2,000 registries, a 25% guard; 30% failing trips it, 10% lets it go. */
static void
test_share(void)
{
	struct conf_bound b = { .count = 0, .pct = 25 };
	struct guard_state g = { 0 };
	size_t n = conf_bound_of(&b, 2000);
	int64_t t = T0;

	T_EQ_INT(n, 500);
	T_EQ_INT(guard_step(&g, 500, n, HOLD, t), GUARD_SAME);    /* 25% exactly */
	T_EQ_INT(guard_step(&g, 600, n, HOLD, t += 10), GUARD_TRIPS); /* 30% */
	for (int k = 0; k < HOLD / EVERY; k++)
		T_EQ_INT(guard_step(&g, 200, n, HOLD, t += 10), GUARD_SAME); /* 10% */
	T_EQ_INT(guard_step(&g, 200, n, HOLD, t += 10), GUARD_RELEASES);
	/* The share is of the registries there are now: 1,000 of them, 25% is 250. */
	T_EQ_INT(conf_bound_of(&b, 1000), 250);
	T_EQ_INT(conf_bound_of(&b, 3), 0);
	b.pct = 0;
	b.count = 700;
	T_EQ_INT(conf_bound_of(&b, 2000), 700);
	T_EQ_INT(conf_bound_of(&b, 10), 700);
}

/* Its line in the state file: written, read back; a damaged one refused; others not its. */
static void
test_line(void)
{
	struct guard_state g = { .tripped = 1, .since = T0, .under_since = T0 + 30 }, back;
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);

	T_CHECK(m != NULL);
	if (m == NULL)
		return;
	T_EQ_INT(guard_line_write(m, &g), 0);
	fclose(m);
	T_EQ_STR(buf, "@guard tripped 1796000000 1796000030\n");
	T_EQ_INT(guard_line_parse(buf, &back), 1);
	T_CHECK(back.tripped == 1 && back.since == T0 && back.under_since == T0 + 30 && back.known);
	T_EQ_INT(guard_line_parse("@guard clear 0 0\n", &back), 1);
	T_CHECK(back.tripped == 0 && back.known);
	T_EQ_INT(guard_line_parse("sa1 up pass 0 1 0 1796000000\n", &back), 0);
	T_EQ_INT(guard_line_parse("@guardian up pass 0 1 0 1\n", &back), 0);
	T_EQ_INT(guard_line_parse("@guard held 1 2\n", &back), -1);
	T_EQ_INT(guard_line_parse("@guard tripped 1\n", &back), -1);
	T_EQ_INT(guard_line_parse("@guard tripped 1 2 3\n", &back), -1);
	T_EQ_INT(guard_line_parse("@guard tripped -1 2\n", &back), -1);
	free(buf);
}

/* Through the state file: saved with the dependencies' lines, read back by the next run. */
static void
test_state_file(void)
{
	static const struct conf_ext *const exts[] = { &deps_conf, NULL };
	char dir[] = "/tmp/dh-guard-XXXXXX", conf[128], path[128];
	struct guard_state g = { .tripped = 1, .since = T0, .under_since = 0 }, back;
	struct dep_state st[1];
	struct t_errs e = { .n = 0 };
	struct conf *c = NULL;
	char err[256];
	FILE *f;

	if (mkdtemp(dir) == NULL) {
		T_CHECK(0);
		return;
	}
	snprintf(conf, sizeof(conf), "%s/c.conf", dir);
	snprintf(path, sizeof(path), "%s/probe.state", dir);
	if ((f = fopen(conf, "w")) != NULL) {
		fputs("snapshot = { path = \"snap\"; };\n"
		      "prober = { guard_max_failing = \"25%\"; };\n"
		      "dependencies = ( { name = \"sa1\"; kind = \"storage\"; type = \"tcp\"; "
		      "address = \"127.0.0.1:1\"; } );\n", f);
		fclose(f);
		c = conf_load(conf, exts, t_collect, &e);
	}
	T_CHECK(c != NULL);
	if (c != NULL) {
		T_CHECK(guard_on(c));
		state_reset(&st[0], T0);
		T_EQ_INT(state_save(path, c, st, &g, err, sizeof(err)), 0);
		/* Read at the time it was written (the file's age is checked against max_age). */
		T_EQ_INT(state_load(path, c, st, (int64_t)time(NULL), t_collect, &e, &back), 0);
		T_CHECK(back.known && back.tripped && back.since == T0);
		T_EQ_INT(e.n, 0);
		/* Without the guard's line: nothing known, and no complaint. */
		T_EQ_INT(state_save(path, c, st, NULL, err, sizeof(err)), 0);
		T_EQ_INT(state_load(path, c, st, (int64_t)time(NULL), t_collect, &e, &back), 0);
		T_CHECK(!back.known && !back.tripped);
		T_EQ_INT(e.n, 0);
	}
	conf_free(c);
	unlink(path);
	unlink(conf);
	rmdir(dir);
}

int
main(void)
{
	static const struct t_case cases[] = {
		T_CASE(test_boundary),
		T_CASE(test_alternating),
		T_CASE(test_release_after_hold),
		T_CASE(test_share),
		T_CASE(test_line),
		T_CASE(test_state_file),
	};

	return t_run("guard", cases, NELEM(cases));
}
