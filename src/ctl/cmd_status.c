/* cmd_status.c: deephealthctl status: what the responders answer now, and why. */

#include <stdlib.h>
#include <string.h>

#include "ctl.h"

int
cmd_status(struct ctl *x)
{
	struct answer_trace tr;
	size_t nd = x->snap ? snap_dep_count(x->snap) : 0, nr = x->snap ? snap_reg_count(x->snap) : 0;
	size_t pass = 0, warn = 0, fail = 0, single = 0, notpass = 0;
	size_t *fails = nd ? calloc(nd, sizeof(*fails)) : NULL, *degr = nd ? calloc(nd, sizeof(*degr)) : NULL;
	int regionwide = status_regionwide(&x->st, x->now, &tr), blind = x->snap && (snap_flags(x->snap) & SNAP_FLAG_BLIND);
	int64_t age = x->snap ? (int64_t)x->now - snap_created(x->snap) : -1;
	char when[32], ago[32];

	if (nd > 0 && (fails == NULL || degr == NULL))
		fatal("calloc");
	for (size_t i = 0; i < nr; i++) {
		struct snap_reg g;

		snap_reg_at(x->snap, i, &g);
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

		snap_dep_at(x->snap, i, &d);
		notpass += d.state != VERDICT_PASS;
	}
	if (x->json) {
		struct status_in in;

		memset(&in, 0, sizeof(in));
		in.st = &x->st;
		in.conf_path = x->conf_path;
		in.snap_detail = x->snap_detail;
		in.ovr_view = &x->ovr_view;
		in.rovr_view = &x->rovr_view;
		in.now = x->now;
		in.ctr = x->have_ctr ? &x->ctr : NULL;
		in.ctr_shared = 1;
		in.node = x->node;
		in.limit = 1000;
		status_json(stdout, &in);
	} else {
		printf("config        %s%s\n", x->conf_path, x->conf ? "" : ": NOT LOADED (see the errors above)");
		if (x->conf != NULL) {
			printf("mode          %s\n", names_at(mode_names, (int)x->conf->mode));
			printf("kill switch   %s (%s)\n", x->kill_switch ? "PRESENT" : "absent",
			       x->conf->kill_switch);
			if (x->snap != NULL)
				printf("snapshot      %s: %s old (max_age %ds), interval %us, %s%s\n",
				       x->conf->snapshot_path, span(age, ago, sizeof(ago)), x->conf->max_age,
				       snap_interval(x->snap), blind ? "BLIND" : "not blind",
				       snap_flags(x->snap) & SNAP_FLAG_GUARD ? ", GUARD" : "");
			else
				printf("snapshot      %s: %s%s%s\n", x->conf->snapshot_path,
				       snap_err_str(x->snap_err), x->snap_detail[0] ? ": " : "", x->snap_detail);
		}
		for (int k = 0; x->conf != NULL && k < 2; k++) {
			const struct ovr_view *vw = k == 0 ? &x->ovr_view : &x->rovr_view;
			const char *path = k == 0 ? x->conf->overrides : x->conf->region_overrides;

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
		for (size_t i = 0; x->all != NULL && i < x->all->n; i++) {
			const struct override *v = &x->all->v[i];
			char where[4400];

			if (v->until <= (int64_t)x->now)
				continue;
			printf("override      %s %s for %s more (by %s: %s) [%s]\n", v->scope,
			       ovr_action_names[v->action], span(v->until - (int64_t)x->now, ago, sizeof(ago)),
			       v->by, v->reason, ovr_where(v, x->conf->overrides, x->conf->region_overrides,
			       where, sizeof(where)));
		}
		if (regionwide)
			printf("answers       %d %s for every registry (%s)\n", tr.po.http,
			       reason_str(tr.po.reason),
			       tr.po.reason == R_PASSTHROUGH ? "passing through" :
			       tr.po.reason == R_GUARD ? "FAILOVER GUARD: none fails over" : "FAILING OPEN");
		else
			printf("answers       per registry (enforcing)\n");
		if (x->fleet_rc < 0)
			printf("fleet         %s\n", x->fleet_err);
		if (x->fleet.present) {
			printf("fleet         %s (deephealth-follow)\n", x->fleet.decided);
			for (size_t i = 0; i < x->fleet.n; i++) {
				const char *os = rovr_state_names[x->fleet.src[i].ovr_state];

				printf("  %-32s %-11s %-10s region-wide overrides: %s%s%u%s%s",
				       x->fleet.src[i].name, source_state_names[x->fleet.src[i].state],
				       x->fleet.src[i].created > 0 ? span((int64_t)x->now -
				       x->fleet.src[i].created, when, sizeof(when)) : "-",
				       x->fleet.src[i].ovr_state == ROVR_REFUSED ? "REFUSED" : os, " (",
				       x->fleet.src[i].ovr_count, x->fleet.src[i].ovr_why[0] ? "; " : "",
				       x->fleet.src[i].ovr_why);
				printf(")\n");
			}
		}
		if (x->have_ctr) {
			uint64_t invalid = 0;

			for (int k = HK_EMPTY; k <= HK_IP_LITERAL; k++)
				invalid += x->ctr.hosts[k];
			util_iso_time((time_t)x->ctr.created, when, sizeof(when));
			printf("hosts         %llu unknown (%.1f a minute over the last 5), %llu invalid, "
			       "%llu undecided, since %s\n",
			       (unsigned long long)x->ctr.hosts[HK_UNKNOWN],
			       counters_unknown_rate(&x->ctr, (int64_t)x->now, 5),
			       (unsigned long long)invalid,
			       (unsigned long long)x->ctr.hosts[HK_RESOLVER_ERROR], when);
		} else if (x->conf != NULL) {
			printf("hosts         no counts: %s\n", x->ctr_err);
		}
		if (x->snap != NULL) {
			printf("registries    %zu: %zu pass, %zu warn, %zu fail, %zu single-region\n", nr, pass,
			       warn, fail, single);
			printf("dependencies  %zu, %zu not passing%s\n", nd, notpass,
			       blind ? " (states from before the blind stretch: this pass saw nothing)" : "");
		}
		for (size_t i = 0; i < nd; i++) {
			struct snap_dep d;

			snap_dep_at(x->snap, i, &d);
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
	if (x->conf == NULL)
		return CTL_EXIT_CONFIG;
	return regionwide ? CTL_EXIT_FAILOPEN : CTL_EXIT_OK;
}
