/* cmd_status.c: deephealthctl status: what the responders answer now, and why. */

#include <stdlib.h>
#include <string.h>

#include "ctl.h"

int
cmd_status(struct ctl *x)
{
	struct answer_trace tr;
	size_t nd = x->in.snap ? snap_dep_count(x->in.snap) : 0, nr = x->in.snap ? snap_reg_count(x->in.snap) : 0;
	size_t pass = 0, warn = 0, fail = 0, single = 0, notpass = 0;
	size_t *fails = nd ? calloc(nd, sizeof(*fails)) : NULL, *degr = nd ? calloc(nd, sizeof(*degr)) : NULL;
	int regionwide = status_regionwide(&x->st, x->now, &tr), blind = x->in.snap && (snap_flags(x->in.snap) & SNAP_FLAG_BLIND);
	int64_t age = x->in.snap ? (int64_t)x->now - snap_created(x->in.snap) : -1;
	char when[32], ago[32];

	if (nd > 0 && (fails == NULL || degr == NULL))
		fatal("calloc");
	for (size_t i = 0; i < nr; i++) {
		struct snap_reg g;

		snap_reg_at(x->in.snap, i, &g);
		if (g.flags & SNAP_REG_SINGLE_REGION) {
			single++;
			continue;
		}
		pass += g.verdict == VERDICT_PASS;
		warn += g.verdict == VERDICT_WARN;
		fail += g.verdict == VERDICT_FAIL;
		if (g.decided_by != SNAP_NO_DEP && g.decided_by < nd) {
			fails[g.decided_by] += g.verdict == VERDICT_FAIL;
			degr[g.decided_by] += g.verdict == VERDICT_WARN;
		}
	}
	for (size_t i = 0; i < nd; i++) {
		struct snap_dep d;

		snap_dep_at(x->in.snap, i, &d);
		notpass += d.state != VERDICT_PASS;
	}
	if (x->json) {
		struct status_in in;

		status_input(&x->in, &x->st, x->now, &in);
		status_json(stdout, &in);
	} else {
		printf("config        %s%s\n", x->conf_path, x->in.conf ? "" : ": NOT LOADED (see the errors above)");
		if (x->in.conf != NULL) {
			printf("mode          %s\n", names_at(mode_names, (int)x->in.conf->mode));
			printf("kill switch   %s (%s)\n", x->in.kill_switch ? "PRESENT" : "absent",
			       x->in.conf->kill_switch);
			if (x->in.snap != NULL)
				printf("snapshot      %s: %s old (max_age %ds), interval %us, %s%s\n",
				       x->in.conf->snapshot_path, span(age, ago, sizeof(ago)), x->in.conf->max_age,
				       snap_interval(x->in.snap), blind ? "BLIND" : "not blind",
				       snap_flags(x->in.snap) & SNAP_FLAG_GUARD ? ", GUARD" : "");
			else
				printf("snapshot      %s: %s%s%s\n", x->in.conf->snapshot_path,
				       snap_err_str(x->in.snap_err), x->in.snap_detail[0] ? ": " : "", x->in.snap_detail);
		}
		for (int k = 0; x->in.conf != NULL && k < 2; k++) {
			const struct ovr_view *vw = k == 0 ? &x->in.ovr.vw : &x->in.rovr.vw;
			const char *path = k == 0 ? x->in.conf->overrides : x->in.conf->region_overrides;

			if (vw->state == OVR_FILE_FALLBACK)
				printf("%s %s: DAMAGED (%d bad line%s, above): ignored; in force: its "
				       "last good copy %s%s\n", k == 0 ? "overrides    " : "region-wide  ",
				       path, vw->errors, util_plural((long long)vw->errors, "", "s"), path,
				       OVR_GOOD_SUFFIX);
			else if (vw->state == OVR_FILE_DAMAGED)
				printf("%s %s: DAMAGED (%d bad line%s, above) and no good copy: none of "
				       "its overrides in force\n", k == 0 ? "overrides    " : "region-wide  ",
				       path, vw->errors, util_plural((long long)vw->errors, "", "s"));
		}
		for (size_t i = 0; x->in.ovr_all != NULL && i < x->in.ovr_all->n; i++) {
			const struct override *v = &x->in.ovr_all->v[i];
			char where[4400];

			if (v->until <= (int64_t)x->now)
				continue;
			printf("override      %s %s for %s more (by %s: %s) [%s]\n", v->scope,
			       ovr_action_names[v->action], span(v->until - (int64_t)x->now, ago, sizeof(ago)),
			       v->by, v->reason, ovr_where(v, x->in.conf->overrides, x->in.conf->region_overrides,
			       where, sizeof(where)));
		}
		if (regionwide)
			printf("answers       %d %s for every registry (%s)\n", tr.po.http,
			       reason_str(tr.po.reason),
			       tr.po.reason == R_PASSTHROUGH ? "passing through" :
			       tr.po.reason == R_GUARD ? "FAILOVER GUARD: none fails over" : "FAILING OPEN");
		else
			printf("answers       per registry (enforcing)\n");
		if (x->in.fleet_state < 0)
			printf("fleet         %s\n", x->in.fleet_err);
		if (x->in.fleet.present) {
			printf("fleet         %s (deephealth-follow)\n", x->in.fleet.decided);
			for (size_t i = 0; i < x->in.fleet.n; i++) {
				const char *os = rovr_state_names[x->in.fleet.src[i].ovr_state];

				printf("  %-32s %-11s %-10s region-wide overrides: %s%s%u%s%s",
				       x->in.fleet.src[i].name, source_state_names[x->in.fleet.src[i].state],
				       x->in.fleet.src[i].created > 0 ? span((int64_t)x->now -
				       x->in.fleet.src[i].created, when, sizeof(when)) : "-",
				       x->in.fleet.src[i].ovr_state == ROVR_REFUSED ? "REFUSED" : os, " (",
				       x->in.fleet.src[i].ovr_count, x->in.fleet.src[i].ovr_why[0] ? "; " : "",
				       x->in.fleet.src[i].ovr_why);
				printf(")\n");
			}
		}
		if (x->in.have_ctr) {
			uint64_t invalid = 0;

			for (int k = HK_EMPTY; k <= HK_IP_LITERAL; k++)
				invalid += x->in.ctr.m->hosts[k];
			util_iso_time((time_t)x->in.ctr.m->created, when, sizeof(when));
			printf("hosts         %llu unknown (%.1f a minute over the last 5), %llu invalid, "
			       "%llu undecided, since %s\n",
			       (unsigned long long)x->in.ctr.m->hosts[HK_UNKNOWN],
			       counters_unknown_rate(x->in.ctr.m, (int64_t)x->now, 5),
			       (unsigned long long)invalid,
			       (unsigned long long)x->in.ctr.m->hosts[HK_RESOLVER_ERROR], when);
		} else if (x->in.conf != NULL) {
			printf("hosts         no counts: %s\n", x->in.ctr_err);
		}
		if (x->in.snap != NULL) {
			printf("registries    %zu: %zu pass, %zu warn, %zu fail, %zu single-region\n", nr, pass,
			       warn, fail, single);
			printf("dependencies  %zu, %zu not passing%s\n", nd, notpass,
			       blind ? " (states from before the blind stretch: this pass saw nothing)" : "");
		}
		for (size_t i = 0; i < nd; i++) {
			struct snap_dep d;

			snap_dep_at(x->in.snap, i, &d);
			if (d.state == VERDICT_PASS)
				continue;
			util_iso_time((time_t)d.since, when, sizeof(when));
			printf("  %-24.*s %-4s %-10s %-8s since %s (%s)", (int)d.name_len, d.name,
			       verdict_str(d.state), dep_kind_str(d.kind), severity_str(d.severity), when,
			       span((int64_t)x->now - d.since, ago, sizeof(ago)));
			if (fails[i] > 0)
				printf(", fails %zu %s", fails[i],
				       util_plural((long long)fails[i], "registry", "registries"));
			if (degr[i] > 0)
				printf(", degrades %zu", degr[i]);
			printf(": %.*s\n", (int)d.cause_len, d.cause);
		}
	}
	free(fails);
	free(degr);
	if (x->in.conf == NULL)
		return CTL_EXIT_CONFIG;
	return regionwide ? CTL_EXIT_FAILOPEN : CTL_EXIT_OK;
}
