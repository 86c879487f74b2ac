/*
 * guard.c: the failover guard (docs/guard.md): how many multi-region
 * registries one pass may fail over before the prober holds them all, and
 * when it lets go.  A pure state machine, stepped once per pass that can see,
 * and its line in the prober's state file (a cron run is a new process).
 *
 * Hysteresis: it trips at the first pass that counts more than the bound N,
 * at once (that pass would fail them over); it lets go only at a pass that
 * finds the count at or under N and has found it so at every pass for at
 * least prober.guard_hold seconds.  A pass over N starts the hold again, so a
 * count that alternates N and N + 1 trips once and stays tripped; exactly N
 * never trips.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "prober.h"

#define GUARD_LINE "@guard" /* a dependency name cannot start with '@' */

const char *const guard_state_names[] = { "off", "clear", "holding", "allowed", NULL };
_Static_assert(sizeof(guard_state_names) / sizeof(guard_state_names[0]) == GUARD_STATE_COUNT + 1,
               "one name per guard state");

int
guard_on(const struct conf *c)
{
	return c->guard_max_failing.count > 0 || c->guard_max_failing.pct > 0;
}

enum guard_change
guard_step(struct guard_state *g, size_t failing, size_t bound, int hold, int64_t now)
{
	if (!g->tripped) {
		if (failing <= bound)
			return GUARD_SAME;
		g->tripped = 1;
		g->since = now;
		g->under_since = 0;
		return GUARD_TRIPS;
	}
	if (failing > bound) {
		g->under_since = 0;
		return GUARD_SAME;
	}
	/* The first pass at or under the bound starts the hold (so does a clock stepped back). */
	if (g->under_since <= 0 || g->under_since > now)
		g->under_since = now;
	if (now - g->under_since < (int64_t)hold)
		return GUARD_SAME;
	g->tripped = 0;
	g->under_since = 0;
	return GUARD_RELEASES;
}

int
guard_line_write(FILE *f, const struct guard_state *g)
{
	return fprintf(f, GUARD_LINE " %s %" PRId64 " %" PRId64 "\n", g->tripped ? "tripped" : "clear",
	               g->since, g->under_since) < 0 ? -1 : 0;
}

int
guard_line_parse(const char *line, struct guard_state *g)
{
	char state[16];
	long long since, under;
	int n = 0;

	if (strncmp(line, GUARD_LINE " ", strlen(GUARD_LINE) + 1) != 0)
		return 0;
	if (sscanf(line, GUARD_LINE " %15s %lld %lld%n", state, &since, &under, &n) != 3 ||
	    line[n + strspn(line + n, " \r\n")] != '\0' || since < 0 || under < 0 ||
	    (strcmp(state, "tripped") != 0 && strcmp(state, "clear") != 0))
		return -1;
	memset(g, 0, sizeof(*g));
	g->tripped = state[0] == 't';
	g->since = (int64_t)since;
	g->under_since = (int64_t)under;
	g->known = 1;
	return 1;
}
