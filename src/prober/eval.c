/* eval.c: registry verdicts from dependency states, into a snapshot writer. */
#include <stdlib.h>
#include <string.h>

#include "prober.h"

/* Count a registry whose verdict moved from old's to v (decided by dependency by), and keep it. */
static void
note_change(const struct snapshot *prev, const struct conf *c, size_t r, const struct snap_reg *old,
            enum verdict v, uint32_t by, struct eval_stats *stats)
{
	struct eval_change *ch;

	if (stats->changed++ >= stats->changes_max)
		return;
	if (stats->changes == NULL)
		stats->changes = xcalloc(stats->changes_max, sizeof(*stats->changes));
	ch = &stats->changes[stats->nchanges++];
	ch->reg = r;
	ch->from = old->verdict;
	ch->to = v;
	ch->dep = NULL;
	ch->dep_len = 0;
	if (by != SNAP_NO_DEP) {
		ch->dep = c->deps[by].name;
		ch->dep_len = strlen(ch->dep);
	} else if (old->decided_by != SNAP_NO_DEP && old->decided_by < snap_dep_count(prev)) {
		struct snap_dep d;

		snap_dep_at(prev, old->decided_by, &d);
		ch->dep = d.name;
		ch->dep_len = d.name_len;
	}
}

struct snap_writer *
eval_build(const struct conf *c, const struct regmap *m, const struct dep_state *st,
           const struct snapshot *prev, int64_t now, unsigned flags, struct eval_stats *stats)
{
	struct snap_writer *w = snapw_new(now, (uint32_t)c->interval, flags);
	enum verdict *contrib = xcalloc(c->ndeps, sizeof(*contrib));
	enum verdict global = VERDICT_PASS;
	uint32_t global_by = SNAP_NO_DEP;

	memset(stats->users, 0, c->ndeps * sizeof(*stats->users));
	stats->pass = stats->warn = stats->fail = stats->single = stats->changed = 0;
	stats->multi = stats->multi_fail = 0;
	stats->nchanges = 0;
	stats->changes = NULL;
	for (size_t i = 0; i < c->ndeps; i++) {
		const struct dep_conf *d = &c->deps[i];

		contrib[i] = verdict_contribution(state_reported(&st[i]), d->severity);
		if (snapw_add_dep(w, d->name, state_reported(&st[i]), d->kind, d->severity,
		                  (d->witness ? SNAP_DEP_WITNESS : 0) |
		                  (d->applies == APPLY_ALL ? SNAP_DEP_ALL : 0), st[i].since,
		                  st[i].cause) < 0)
			fatalx("eval: dependency %s rejected by the snapshot writer", d->name);
		/* Region-wide dependencies: one worst value shared by every registry. */
		if (d->applies == APPLY_ALL)
			verdict_fold(contrib[i], (uint32_t)i, &global, &global_by);
	}
	for (size_t i = 0; i < c->ndeps; i++)
		if (c->deps[i].applies == APPLY_ALL)
			stats->users[i] = m->n;

	for (size_t r = 0; r < m->n; r++) {
		const struct reg_entry *e = &m->regs[r];
		enum verdict v = global;
		uint32_t by = global_by;
		unsigned rflags = e->nregions == 1 ? SNAP_REG_SINGLE_REGION : 0;
		int64_t since = now;
		struct snap_reg old;

		for (uint32_t k = 0; k < e->ndeps; k++) {
			verdict_fold(contrib[e->deps[k]], e->deps[k], &v, &by);
			stats->users[e->deps[k]]++;
		}
		if (v == VERDICT_PASS)
			by = SNAP_NO_DEP;
		if (prev != NULL && snap_find_reg(prev, e->name, strlen(e->name), &old)) {
			if (old.verdict == v)
				since = old.since;
			else
				note_change(prev, c, r, &old, v, by, stats);
		}
		if (snapw_add_reg(w, e->name, v, rflags, by, since) != 0 ||
		    snapw_set_uses(w, e->deps, e->ndeps) != 0)
			fatalx("eval: registry %s rejected by the snapshot writer", e->name);
		stats->pass += v == VERDICT_PASS;
		stats->warn += v == VERDICT_WARN;
		stats->fail += v == VERDICT_FAIL;
		stats->single += rflags != 0;
		stats->multi += rflags == 0;
		stats->multi_fail += rflags == 0 && v == VERDICT_FAIL;
	}
	free(contrib);
	return w;
}
