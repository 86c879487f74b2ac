/*
 * metrics.c: the responders' metrics (/deephealth/metrics, Prometheus text
 * format 0.0.4; docs/metrics.md): the answers counted by every responder
 * process (the shared counters), and what the status document says as series:
 * the snapshot, the overrides, the failover guard, a follower's sources.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "admin.h"

/* The code an answer of reason r has when nothing special applies: its series always shown. */
static int
usual_code(enum reason r)
{
	switch (r) {
	case R_DEPENDENCY_FAILED: case R_OVERRIDE_FAIL: return 503;
	case R_BAD_METHOD: return 405;
	default: return 200;
	}
}

#define OVR_SERIES_MAX 100 /* (scope, action) pairs the override series list at most */

/* Each prober's state (overrides 0) or its region-wide overrides' state (1), a state set per source. */
static void
fleet_statesets(FILE *f, const struct fleet *fl, int overrides)
{
	for (size_t i = 0; i < fl->n; i++) {
		char labels[FLEET_NAME_MAX + 16];

		/* Printable, without quote or backslash (fleet_load): a label value as it is. */
		snprintf(labels, sizeof(labels), "source=\"%s\"", fl->src[i].name);
		if (overrides)
			prom_stateset(f, "deephealth_fleet_source_overrides_state", labels,
			              rovr_state_names, (int)fl->src[i].ovr_state);
		else
			prom_stateset(f, "deephealth_fleet_source_state", labels, source_state_names,
			              (int)fl->src[i].state);
	}
}

/* The state of one override file (the node's or the region-wide), as two series. */
static void
override_file_metrics(FILE *f, const char *name, const char *what, const struct ovr_view *vw)
{
	char metric[96], help[400];

	snprintf(metric, sizeof(metric), "deephealth_responder_%s_damaged", name);
	snprintf(help, sizeof(help), "1 while the %s has a bad line (or, region-wide, a bad header, "
	         "length or checksum): the responders ignore all of it (and keep to its last good "
	         "copy, if there is one).", what);
	prom_help(f, metric, "gauge", help);
	fprintf(f, "%s %d\n", metric, vw != NULL && vw->errors > 0);
	snprintf(metric, sizeof(metric), "deephealth_responder_%s_file_state", name);
	snprintf(help, sizeof(help), "What the responders take the %s's overrides from: none (no "
	         "file), ok (the file), fallback (the file is damaged: its last good copy), damaged "
	         "(the file is damaged and there is no good copy: none of its overrides in force).",
	         what);
	prom_help(f, metric, "gauge", help);
	prom_stateset(f, metric, "", ovr_file_state_names,
	              vw != NULL ? (int)vw->state : OVR_FILE_NONE);
}

/*
 * The overrides in force as series labelled {scope, action}: one per pair (a
 * later line for the same scope and action is one more line of the same
 * intent), set at its earliest line's set time and expiring at its latest
 * line's expiry; at most OVR_SERIES_MAX pairs, in the file's order, the
 * overrides of the others counted in deephealth_responder_overrides_unlisted.
 * Scopes are names, globs of names or "region": label values as they are.
 */
static void
override_series(FILE *f, const struct overrides *o, time_t now)
{
	struct ovr_pair { const struct override *v; int64_t set, until; } pair[OVR_SERIES_MAX];
	size_t np = 0, unlisted = 0;

	for (size_t i = 0; o != NULL && i < o->n; i++) {
		const struct override *v = &o->v[i];
		size_t k;

		if (v->until <= (int64_t)now)
			continue;
		for (k = 0; k < np; k++)
			if (pair[k].v->action == v->action && strcmp(pair[k].v->scope, v->scope) == 0)
				break;
		if (k == np && np == OVR_SERIES_MAX) {
			unlisted++;
			continue;
		}
		if (k == np)
			pair[np++] = (struct ovr_pair){ v, v->set, v->until };
		if (v->set < pair[k].set)
			pair[k].set = v->set;
		if (v->until > pair[k].until)
			pair[k].until = v->until;
	}
	prom_help(f, "deephealth_responder_override_set_timestamp_seconds", "gauge",
	     "When each override in force was set, by scope and action (the earliest line of "
	     "that scope and action still in force).");
	for (size_t k = 0; k < np; k++)
		fprintf(f, "deephealth_responder_override_set_timestamp_seconds{scope=\"%s\","
		        "action=\"%s\"} %lld\n", pair[k].v->scope, ovr_action_names[pair[k].v->action],
		        (long long)pair[k].set);
	prom_help(f, "deephealth_responder_override_expiry_timestamp_seconds", "gauge",
	     "When each override in force expires, by scope and action (the latest line of that "
	     "scope and action).");
	for (size_t k = 0; k < np; k++)
		fprintf(f, "deephealth_responder_override_expiry_timestamp_seconds{scope=\"%s\","
		        "action=\"%s\"} %lld\n", pair[k].v->scope, ovr_action_names[pair[k].v->action],
		        (long long)pair[k].until);
	prom_help(f, "deephealth_responder_overrides_unlisted", "gauge",
	     "Overrides in force whose scope and action are beyond the first 100 pairs listed "
	     "by the two series above.");
	fprintf(f, "deephealth_responder_overrides_unlisted %zu\n", unlisted);
}

/* Whether an input of the admin documents could be read now. */
enum admin_input_state { AIN_NONE, AIN_OK, AIN_UNREADABLE, AIN_STATE_COUNT };
static const char *const admin_input_state_names[] = { "none", "ok", "unreadable", NULL };
_Static_assert(sizeof(admin_input_state_names) / sizeof(admin_input_state_names[0]) ==
               AIN_STATE_COUNT + 1, "one name per admin input state");

/*
 * The admin documents' inputs beyond the snapshot and the overrides (which
 * have their own series): the event log (prober.event_log, the status
 * document's transitions), the counters file (responder.counters) and a
 * follower's fleet file (snapshot.path + ".fleet").  none: not configured or
 * not there (an event log no event was written to yet, a front door without a
 * follower); ok; unreadable: there, but it cannot be opened or (the counters,
 * the fleet file) used.  Only the admin path opens them here.
 */
static void
admin_inputs(FILE *f, const struct status_in *in)
{
	const struct conf *c = in->st->conf;
	int ev = AIN_NONE, ctr = AIN_NONE, fleet = AIN_NONE, fd;

	if (c != NULL && c->event_log[0] != '\0') {
		struct stat sb;

		if ((fd = open(c->event_log, O_RDONLY | O_CLOEXEC)) != -1) {
			/* A directory opens too, and reads nothing. */
			ev = fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) ? AIN_OK : AIN_UNREADABLE;
			close(fd);
		} else if (errno != ENOENT) {
			ev = AIN_UNREADABLE;
		}
	}
	if (c != NULL && c->counters[0] != '\0')
		ctr = in->ctr_shared ? AIN_OK : AIN_UNREADABLE;
	if (in->st->fleet != NULL && in->st->fleet->present) {
		fleet = AIN_OK;
	} else if (c != NULL) {
		/* The responder's copy is read when the file changes: ask the file itself. */
		struct fleet fl;
		char err[4400];
		int rc = fleet_load(c->snapshot_path, &fl, err, sizeof(err));

		fleet = rc > 0 ? AIN_OK : rc < 0 ? AIN_UNREADABLE : AIN_NONE;
	}
	prom_help(f, "deephealth_responder_admin_input_state", "gauge",
	     "Whether each input of the admin documents could be read, a state set per input "
	     "(event_log, counters, fleet): none (not configured, or not there), ok, unreadable.");
	prom_stateset(f, "deephealth_responder_admin_input_state", "input=\"event_log\"",
	              admin_input_state_names, ev);
	prom_stateset(f, "deephealth_responder_admin_input_state", "input=\"counters\"",
	              admin_input_state_names, ctr);
	prom_stateset(f, "deephealth_responder_admin_input_state", "input=\"fleet\"",
	              admin_input_state_names, fleet);
}

void
status_metrics(FILE *f, const struct status_in *in)
{
	const struct answer_state *st = in->st;
	struct counters_shm *m = in->ctr;
	struct answer_trace tr;
	int regionwide = status_regionwide(st, in->now, &tr);
	size_t novr = 0, nd, forced, *bydep;

	prom_build_info(f, "deephealth.fcgi");
	prom_help(f, "deephealth_responder_answers_total", "counter",
	     "Answers to health requests by HTTP status code and X-Deephealth-Reason, summed over "
	     "every responder process sharing responder.counters.");
	for (int r = 0; r < R_COUNT; r++)
		for (int k = 0; k < CTR_CODES; k++) {
			uint64_t v = counters_get(&m->answers[r][k]);

			if (v > 0 || answer_codes[k] == usual_code((enum reason)r))
				fprintf(f, "deephealth_responder_answers_total{code=\"%d\",reason=\"%s\"} "
				        "%llu\n", answer_codes[k], reason_str((enum reason)r),
				        (unsigned long long)v);
		}
	prom_help(f, "deephealth_responder_hosts_total", "counter",
	     "Host headers that named no registry, by kind: unknown (well-formed, not mapped), "
	     "each kind of invalid header, resolver-error (a rule could not decide).");
	for (int k = 0; k < HK_COUNT; k++)
		fprintf(f, "deephealth_responder_hosts_total{kind=\"%s\"} %llu\n", host_kind_names[k],
		        (unsigned long long)counters_get(&m->hosts[k]));
	prom_help(f, "deephealth_responder_snapshot_loads_total", "counter",
	     "Snapshots loaded by responder processes (each process loads every new one).");
	fprintf(f, "deephealth_responder_snapshot_loads_total %llu\n",
	        (unsigned long long)counters_get(&m->events[CE_SNAP_LOADS]));
	prom_help(f, "deephealth_responder_snapshot_load_failures_total", "counter",
	     "Looks at the snapshot by responder processes that found it missing or unusable.");
	fprintf(f, "deephealth_responder_snapshot_load_failures_total %llu\n",
	        (unsigned long long)counters_get(&m->events[CE_SNAP_LOAD_FAILURES]));
	prom_help(f, "deephealth_responder_admin_requests_total", "counter",
	     "Requests for the status document, the metrics, the events and the regions.");
	fprintf(f, "deephealth_responder_admin_requests_total{document=\"status\"} %llu\n"
	        "deephealth_responder_admin_requests_total{document=\"metrics\"} %llu\n"
	        "deephealth_responder_admin_requests_total{document=\"events\"} %llu\n"
	        "deephealth_responder_admin_requests_total{document=\"regions\"} %llu\n",
	        (unsigned long long)counters_get(&m->events[CE_STATUS_REQUESTS]),
	        (unsigned long long)counters_get(&m->events[CE_METRICS_REQUESTS]),
	        (unsigned long long)counters_get(&m->events[CE_EVENTS_REQUESTS]),
	        (unsigned long long)counters_get(&m->events[CE_REGIONS_REQUESTS]));
	prom_help(f, "deephealth_responder_fail_open", "gauge",
	     "1 while every answer is 200 whatever the Host because the data cannot be trusted "
	     "(snapshot missing, unusable, stale, blind; configuration not loaded).  Not the "
	     "kill switch nor the failover guard: region_state says those.");
	fprintf(f, "deephealth_responder_fail_open %d\n",
	        regionwide && tr.po.reason != R_PASSTHROUGH && tr.po.reason != R_GUARD);
	prom_help(f, "deephealth_responder_region_state", "gauge",
	     "1 for what decides every answer now: a region-wide reason, or per-registry.");
	for (int r = 0; r < R_COUNT; r++)
		if (reason_is_regionwide((enum reason)r))
			fprintf(f, "deephealth_responder_region_state{reason=\"%s\"} %d\n",
			        reason_str((enum reason)r), regionwide && tr.po.reason == (enum reason)r);
	fprintf(f, "deephealth_responder_region_state{reason=\"per-registry\"} %d\n", !regionwide);
	nd = st->snap != NULL ? snap_dep_count(st->snap) : 0;
	bydep = xcalloc(nd ? nd : 1, sizeof(*bydep));
	prom_help(f, "deephealth_responder_registries_failing_over", "gauge",
	     "Registries whose probes are answered 503 now (the snapshot's verdicts, with the "
	     "overrides, mode and fail-open applied).");
	fprintf(f, "deephealth_responder_registries_failing_over %zu\n",
	        status_failing_over_by(st, in->now, bydep, nd, &forced, NULL, NULL));
	if (nd > 0) {
		prom_help(f, "deephealth_responder_registries_failing_over_by_dependency", "gauge",
		     "Registries answered 503 dependency-failed now, by the dependency that decides "
		     "them (and its kind): one series per dependency of the snapshot.");
		for (size_t i = 0; i < nd; i++) {
			struct snap_dep d;

			snap_dep_at(st->snap, i, &d);
			/* A snapshot's names are name bytes: label values as they are. */
			fprintf(f, "deephealth_responder_registries_failing_over_by_dependency{"
			        "dependency=\"%.*s\",kind=\"%s\"} %zu\n", (int)d.name_len, d.name,
			        dep_kind_str(d.kind), bydep[i]);
		}
	}
	free(bydep);
	prom_help(f, "deephealth_responder_registries_failing_over_forced", "gauge",
	     "Registries answered 503 override-fail now: an operator's override forces them out "
	     "(the registry, the region, or a dependency forced to fail).");
	fprintf(f, "deephealth_responder_registries_failing_over_forced %zu\n", forced);
	if (st->snap != NULL) {
		prom_help(f, "deephealth_responder_snapshot_age_seconds", "gauge",
		     "Age of the snapshot the responders answer from.");
		fprintf(f, "deephealth_responder_snapshot_age_seconds %lld\n",
		        (long long)((int64_t)in->now - snap_created(st->snap)));
	}
	for (size_t i = 0; st->ovr != NULL && i < st->ovr->n; i++)
		novr += st->ovr->v[i].until > (int64_t)in->now;
	prom_help(f, "deephealth_responder_overrides_in_force", "gauge",
	     "Operator overrides in force, as the responders read them (this node's and the "
	     "region-wide).");
	fprintf(f, "deephealth_responder_overrides_in_force %zu\n", novr);
	override_file_metrics(f, "overrides", "override file", in->ovr_view);
	override_file_metrics(f, "region_overrides", "region-wide override file", in->rovr_view);
	override_series(f, st->ovr, in->now);
	admin_inputs(f, in);
	if (st->fleet != NULL && st->fleet->present) {
		const struct fleet *fl = st->fleet;

		prom_help(f, "deephealth_fleet_sources", "gauge",
		     "The probers this front door's follower fetches from, by state (deephealth-follow).");
		for (int k = 0; k < SRC_STATE_COUNT; k++) {
			size_t c = 0;

			for (size_t i = 0; i < fl->n; i++)
				c += fl->src[i].state == (enum source_state)k;
			fprintf(f, "deephealth_fleet_sources{state=\"%s\"} %zu\n", source_state_names[k], c);
		}
		prom_help(f, "deephealth_fleet_source_created_timestamp_seconds", "gauge",
		     "Creation time of the newest snapshot verified from each prober (0: none yet).");
		for (size_t i = 0; i < fl->n; i++)
			fprintf(f, "deephealth_fleet_source_created_timestamp_seconds{source=\"%s\"} %lld\n",
			        fl->src[i].name, (long long)fl->src[i].created);
		prom_help(f, "deephealth_fleet_source_state", "gauge",
		          "Each prober's state as the follower last saw it, a state set: 1 for its state, "
		          "0 for the others.");
		fleet_statesets(f, fl, 0);
		prom_help(f, "deephealth_fleet_source_overrides_state", "gauge",
		          "Each prober's region-wide overrides as the follower last fetched them, a state "
		          "set: none, ok, kept (not fetched: the last verified copy in force), refused "
		          "(damaged, truncated or edited: refused whole; the last verified copy in force).");
		fleet_statesets(f, fl, 1);
	}
	prom_help(f, "deephealth_responder_counters_shared", "gauge",
	     "1 when these counts are those of every responder process (responder.counters "
	     "usable), 0 when only this process's.");
	fprintf(f, "deephealth_responder_counters_shared %d\n", in->ctr_shared);
	prom_help(f, "deephealth_responder_counters_start_time_seconds", "gauge",
	     "When the counters started (the counters file was made).");
	fprintf(f, "deephealth_responder_counters_start_time_seconds %lld\n", (long long)m->created);
}

