/*
 * quorum.c: the follower's policy "quorum k": one snapshot from several
 * probers' fresh ones, where a registry fails only when at least k of them
 * fail it (warns when at least k warn or fail it), and the same for each
 * dependency's state.  So one prober's own network trouble, or a bad prober
 * release, cannot fail a registry over; a real outage seen by k probers does.
 *
 * The newest snapshot gives the shape: its dependencies (kinds, severities,
 * flags), its registries and what each uses.  A registry or dependency the
 * others do not list gets no vote from them.  Each merged record takes its
 * cause, since and deciding dependency from the newest snapshot that says
 * the same, and a dependency that does not pass names the probers that
 * voted for its state in its cause ("HTTP 500 [2 of 3: p1, p2]"): explain
 * and status show which probers decided.  The merged snapshot is only as
 * fresh as the k-th newest.
 *
 * The failover guard is each prober's decision (docs/guard.md), and it is one
 * more vote: the merged snapshot is guarded when at least k of the merged
 * ones are, the same rule that fails a registry.  So k probers that see the
 * region fail at once hold it, and one prober's guard (its own trouble, or
 * an operator's allow-failover given on the others) does not.
 */
#include <stdlib.h>
#include <string.h>

#include "follow.h"

/* Votes for one record: how many say fail, and how many say warn or fail. */
static enum verdict
tally(size_t fails, size_t warns, unsigned k)
{
	return fails >= k ? VERDICT_FAIL : warns >= k ? VERDICT_WARN : VERDICT_PASS;
}

/* The index of the dependency named name (len bytes) in s, or -1: a scan (dependencies are few). */
static int64_t
dep_named(const struct snapshot *s, const char *name, size_t len)
{
	for (size_t i = 0; i < snap_dep_count(s); i++) {
		struct snap_dep d;

		snap_dep_at(s, i, &d);
		if (d.name_len == len && memcmp(d.name, name, len) == 0)
			return (int64_t)i;
	}
	return -1;
}

struct snap_writer *
quorum_merge(const struct snapshot *const *s, const char *const *names, size_t n, unsigned k,
             int64_t created)
{
	const struct snapshot *base = s[0];
	size_t nd = snap_dep_count(base), nr = snap_reg_count(base);
	struct snap_writer *w;
	size_t guarded = 0;
	int64_t *map = xcalloc(nd * n + 1, sizeof(*map)); /* map[j * nd + i]: base dep i in s[j] */
	uint32_t uses[SNAP_USES_MAX];
	char name[DH_NAME_MAX + 1], cause[1100];

	for (size_t j = 0; j < n; j++)
		guarded += (snap_flags(s[j]) & SNAP_FLAG_GUARD) != 0;
	w = snapw_new(created, snap_interval(base), guarded >= k ? SNAP_FLAG_GUARD : 0);
	for (size_t j = 0; j < n; j++)
		for (size_t i = 0; i < nd; i++) {
			struct snap_dep d;

			snap_dep_at(base, i, &d);
			map[j * nd + i] = j == 0 ? (int64_t)i : dep_named(s[j], d.name, d.name_len);
		}
	for (size_t i = 0; i < nd; i++) {
		struct snap_dep d, from;
		size_t fails = 0, warns = 0;
		enum verdict v;

		snap_dep_at(base, i, &d);
		for (size_t j = 0; j < n; j++) {
			struct snap_dep o;

			if (map[j * nd + i] < 0)
				continue;
			snap_dep_at(s[j], (size_t)map[j * nd + i], &o);
			fails += o.state == VERDICT_FAIL;
			warns += o.state == VERDICT_FAIL || o.state == VERDICT_WARN;
		}
		v = tally(fails, warns, k);
		from = d;
		for (size_t j = 0; j < n; j++) {
			struct snap_dep o;

			if (map[j * nd + i] < 0)
				continue;
			snap_dep_at(s[j], (size_t)map[j * nd + i], &o);
			if (o.state == v) {
				from = o;
				break;
			}
		}
		snprintf(name, sizeof(name), "%.*s", (int)d.name_len, d.name);
		snprintf(cause, sizeof(cause), "%.*s", (int)from.cause_len, from.cause);
		if (v != VERDICT_PASS && names != NULL) {
			size_t used = strlen(cause);

			used += (size_t)snprintf(cause + used, sizeof(cause) - used, " [%zu of %zu:",
			                         v == VERDICT_FAIL ? fails : warns, n);
			for (size_t j = 0; j < n && used < sizeof(cause); j++) {
				struct snap_dep o;

				if (map[j * nd + i] < 0)
					continue;
				snap_dep_at(s[j], (size_t)map[j * nd + i], &o);
				if (o.state == VERDICT_FAIL || (v == VERDICT_WARN && o.state == VERDICT_WARN))
					used += (size_t)snprintf(cause + used, sizeof(cause) - used, " %s",
					                         names[j]);
			}
			if (used < sizeof(cause))
				snprintf(cause + used, sizeof(cause) - used, "]");
		}
		if (snapw_add_dep(w, name, v, d.kind, d.severity, d.flags, from.since, cause) < 0)
			goto bad;
	}
	for (size_t r = 0; r < nr; r++) {
		struct snap_reg g, from;
		size_t fails = 0, warns = 0, fromj = 0;
		uint32_t by = SNAP_NO_DEP;
		enum verdict v;

		snap_reg_at(base, r, &g);
		from = g;
		for (size_t j = 0; j < n; j++) {
			struct snap_reg o;

			if (j > 0 && !snap_find_reg(s[j], g.name, g.name_len, &o))
				continue;
			if (j == 0)
				o = g;
			fails += o.verdict == VERDICT_FAIL;
			warns += o.verdict == VERDICT_FAIL || o.verdict == VERDICT_WARN;
		}
		v = tally(fails, warns, k);
		for (size_t j = 0; j < n; j++) {
			struct snap_reg o;

			if (j > 0 && !snap_find_reg(s[j], g.name, g.name_len, &o))
				continue;
			if (j == 0)
				o = g;
			if (o.verdict == v) {
				from = o;
				fromj = j;
				break;
			}
		}
		/* The deciding dependency, named in its own snapshot, as the base's index. */
		if (v != VERDICT_PASS && from.decided_by != SNAP_NO_DEP &&
		    from.decided_by < snap_dep_count(s[fromj])) {
			struct snap_dep d;
			int64_t bi;

			snap_dep_at(s[fromj], from.decided_by, &d);
			bi = dep_named(base, d.name, d.name_len);
			by = bi >= 0 ? (uint32_t)bi : SNAP_NO_DEP;
		}
		snprintf(name, sizeof(name), "%.*s", (int)g.name_len, g.name);
		if (snapw_add_reg(w, name, v, g.flags, by, from.since) != 0)
			goto bad;
		for (uint32_t u = 0; u < g.nuses; u++)
			uses[u] = snap_use_at(base, g.uses + u);
		if (snapw_set_uses(w, uses, g.nuses) != 0)
			goto bad;
	}
	free(map);
	return w;
bad:
	free(map);
	snapw_free(w);
	return NULL;
}
