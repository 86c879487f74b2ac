/*
 * metrics.c: the prober's metrics, for node_exporter's textfile collector
 * (prober.metrics): written after every pass, published by rename like the
 * snapshot, so a scrape never reads half a file.
 *
 * A run of the prober lasts a cron minute at most, so its counters continue
 * from the file the previous run left: the _total lines are read back at
 * start.  A missing or foreign file starts them at 0, which Prometheus takes
 * as a counter reset.
 *
 * Cardinality stays bounded whatever the region's size: one series per
 * configured dependency, and per registry only the ones that do not pass, at
 * most METRICS_REGISTRIES_MAX of them (the rest counted).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prober.h"

#define METRICS_REGISTRIES_MAX 100

const char *const pass_result_names[] = { "published", "blind", "failed", NULL };

/* One counter's series as written, and where its value lives. */
struct total_row {
	char series[96];
	uint64_t *v;
};

static size_t
total_rows(struct prober_totals *t, struct total_row *rows)
{
	size_t n = 0;

	for (int i = 0; i < PASS_RESULT_COUNT; i++) {
		snprintf(rows[n].series, sizeof(rows[n].series),
		         "deephealth_prober_passes_total{result=\"%s\"}", pass_result_names[i]);
		rows[n++].v = &t->passes[i];
	}
	snprintf(rows[n].series, sizeof(rows[n].series), "deephealth_prober_deadline_hits_total");
	rows[n++].v = &t->deadline_hits;
	for (int i = 0; i <= VERDICT_UNKNOWN; i++) {
		snprintf(rows[n].series, sizeof(rows[n].series),
		         "deephealth_prober_checks_total{outcome=\"%s\"}", verdict_str((enum verdict)i));
		rows[n++].v = &t->checks[i];
	}
	snprintf(rows[n].series, sizeof(rows[n].series), "deephealth_prober_transitions_total");
	rows[n++].v = &t->transitions;
	snprintf(rows[n].series, sizeof(rows[n].series),
	         "deephealth_prober_last_publish_timestamp_seconds");
	rows[n++].v = &t->last_publish;
	snprintf(rows[n].series, sizeof(rows[n].series), "deephealth_prober_guard_trips_total");
	rows[n++].v = &t->guard_trips;
	return n;
}

void
metrics_load(const char *path, struct prober_totals *t)
{
	struct total_row rows[TOTAL_ROWS];
	size_t n = total_rows(t, rows);
	char *line = NULL;
	size_t cap = 0;
	FILE *f;

	if (path == NULL || path[0] == '\0' || (f = fopen(path, "r")) == NULL)
		return;
	while (getline(&line, &cap, f) != -1) {
		for (size_t i = 0; i < n; i++) {
			size_t len = strlen(rows[i].series);
			char *end;
			unsigned long long v;

			if (strncmp(line, rows[i].series, len) != 0 || line[len] != ' ')
				continue;
			errno = 0;
			v = strtoull(line + len + 1, &end, 10);
			if (errno == 0 && end != line + len + 1 && (*end == '\n' || *end == '\0'))
				*rows[i].v = v;
		}
	}
	free(line);
	fclose(f);
}

/* A label value: our names need no escaping (letters, digits, . _ -); nor do the labels of
 * deephealth_dependency_state. */
static void
label(FILE *f, const char *s, size_t len)
{
	fwrite(s, 1, len, f);
}

static void
write_doc(FILE *f, struct prober_totals *t, const struct pass_figures *pf,
          const struct snapshot *s)
{
	struct total_row rows[TOTAL_ROWS];
	size_t nd = snap_dep_count(s), nr = snap_reg_count(s), bystate[VERDICT_UNKNOWN + 1] = { 0 };
	size_t byverdict[VERDICT_UNKNOWN + 1] = { 0 }, single = 0, shown = 0, dropped = 0;

	total_rows(t, rows);
	prom_build_info(f, "deephealth-probe");
	prom_help(f, "deephealth_snapshot_created_timestamp_seconds", "gauge",
	          "When the last published snapshot was made.");
	fprintf(f, "deephealth_snapshot_created_timestamp_seconds %lld\n", (long long)snap_created(s));
	prom_help(f, "deephealth_prober_blind", "gauge",
	          "1 when the last pass could not see (its witnesses failed, or too many checks were "
	          "unknown): the snapshot is marked blind and the responders fail open.");
	fprintf(f, "deephealth_prober_blind %d\n", (snap_flags(s) & SNAP_FLAG_BLIND) != 0);
	prom_help(f, "deephealth_prober_pass_duration_seconds", "gauge",
	          "How long the last pass took, checks to publish.");
	fprintf(f, "deephealth_prober_pass_duration_seconds %.3f\n", (double)pf->duration_ms / 1000.0);
	prom_help(f, "deephealth_prober_pass_deadline_seconds", "gauge",
	          "prober.deadline: checks still running then are abandoned as unknown.");
	fprintf(f, "deephealth_prober_pass_deadline_seconds %d\n", pf->deadline);
	prom_help(f, "deephealth_prober_last_publish_timestamp_seconds", "gauge",
	          "When a snapshot was last published.");
	fprintf(f, "deephealth_prober_last_publish_timestamp_seconds %" PRIu64 "\n", t->last_publish);
	prom_help(f, "deephealth_prober_passes_total", "counter",
	          "Passes by result: published, blind (published, marked blind), failed (not "
	          "published).");
	for (int i = 0; i < PASS_RESULT_COUNT; i++)
		fprintf(f, "%s %" PRIu64 "\n", rows[i].series, *rows[i].v);
	prom_help(f, "deephealth_prober_deadline_hits_total", "counter",
	          "Passes whose checks ran into prober.deadline.");
	fprintf(f, "deephealth_prober_deadline_hits_total %" PRIu64 "\n", t->deadline_hits);
	prom_help(f, "deephealth_prober_checks_total", "counter",
	          "Dependency checks by outcome (before the fall and rise thresholds).");
	for (int i = 0; i <= VERDICT_UNKNOWN; i++)
		fprintf(f, "%s %" PRIu64 "\n", rows[PASS_RESULT_COUNT + 1 + i].series, t->checks[i]);
	prom_help(f, "deephealth_prober_transitions_total", "counter",
	          "Dependency state changes (after the thresholds), as written to the event log.");
	fprintf(f, "deephealth_prober_transitions_total %" PRIu64 "\n", t->transitions);
	prom_help(f, "deephealth_prober_overrides_in_force", "gauge",
	          "Operator overrides in force at the last pass.");
	fprintf(f, "deephealth_prober_overrides_in_force %zu\n", pf->overrides);
	prom_help(f, "deephealth_prober_guard_state", "gauge",
	          "The failover guard (docs/guard.md), a state set: off (prober.guard_max_failing "
	          "not set), clear, holding (every registry answers 200 guard), allowed (tripped, "
	          "an operator's allow-failover lets the failover through).");
	prom_stateset(f, "deephealth_prober_guard_state", "", guard_state_names, (int)pf->guard);
	prom_help(f, "deephealth_prober_guard_failing", "gauge",
	          "Multi-region registries whose verdict is fail at the last pass: what the failover "
	          "guard counts.");
	fprintf(f, "deephealth_prober_guard_failing %zu\n", pf->guard_failing);
	if (pf->guard != GUARD_OFF) {
		prom_help(f, "deephealth_prober_guard_bound", "gauge",
		          "The most multi-region registries a pass may fail before the guard trips "
		          "(prober.guard_max_failing, a share worked out at the last pass).");
		fprintf(f, "deephealth_prober_guard_bound %zu\n", pf->guard_bound);
	}
	prom_help(f, "deephealth_prober_guard_trips_total", "counter",
	          "Times the failover guard tripped.");
	fprintf(f, "deephealth_prober_guard_trips_total %" PRIu64 "\n", t->guard_trips);

	prom_help(f, "deephealth_dependency_state", "gauge",
	          "Each dependency's state in the snapshot, a state set: 1 for its state (pass, warn, "
	          "fail, unknown), 0 for the others.");
	for (size_t i = 0; i < nd; i++) {
		struct snap_dep d;
		char labels[DH_NAME_MAX + 64];

		snap_dep_at(s, i, &d);
		bystate[d.state <= VERDICT_UNKNOWN ? d.state : VERDICT_UNKNOWN]++;
		snprintf(labels, sizeof(labels), "dependency=\"%.*s\",kind=\"%s\",severity=\"%s\"",
		         (int)d.name_len, d.name, dep_kind_str(d.kind), severity_str(d.severity));
		prom_stateset(f, "deephealth_dependency_state", labels, verdict_names, (int)d.state);
	}
	prom_help(f, "deephealth_dependencies", "gauge", "Dependencies by state.");
	for (int i = 0; i <= VERDICT_UNKNOWN; i++)
		fprintf(f, "deephealth_dependencies{state=\"%s\"} %zu\n", verdict_str((enum verdict)i),
		        bystate[i]);

	prom_help(f, "deephealth_registry_not_passing", "gauge",
	          "1 for each registry whose verdict is warn or fail (single-region ones included), at "
	          "most 100 of them; deephealth_registry_not_passing_dropped counts the rest.");
	for (size_t i = 0; i < nr; i++) {
		struct snap_reg g;

		snap_reg_at(s, i, &g);
		if (g.flags & SNAP_REG_SINGLE_REGION)
			single++;
		else
			byverdict[g.verdict <= VERDICT_UNKNOWN ? g.verdict : VERDICT_UNKNOWN]++;
		if (g.verdict == VERDICT_PASS)
			continue;
		if (shown >= METRICS_REGISTRIES_MAX) {
			dropped++;
			continue;
		}
		shown++;
		fprintf(f, "deephealth_registry_not_passing{registry=\"");
		label(f, g.name, g.name_len);
		fprintf(f, "\",verdict=\"%s\"} 1\n", verdict_str(g.verdict));
	}
	prom_help(f, "deephealth_registry_not_passing_dropped", "gauge",
	          "Registries not passing beyond the 100 listed in deephealth_registry_not_passing.");
	fprintf(f, "deephealth_registry_not_passing_dropped %zu\n", dropped);
	prom_help(f, "deephealth_registries", "gauge",
	          "Registries by verdict; single-region ones (always answered 200) apart.");
	for (int i = 0; i < VERDICT_UNKNOWN; i++)
		fprintf(f, "deephealth_registries{verdict=\"%s\"} %zu\n", verdict_str((enum verdict)i),
		        byverdict[i]);
	fprintf(f, "deephealth_registries{verdict=\"single-region\"} %zu\n", single);
}

int
metrics_write(const char *path, struct prober_totals *t, const struct pass_figures *pf,
              const struct snapshot *s, char *err, size_t errlen)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	int rc;

	if (m == NULL) {
		snprintf(err, errlen, "open_memstream: %s", strerror(errno));
		return -1;
	}
	write_doc(m, t, pf, s);
	if (fclose(m) != 0) {
		snprintf(err, errlen, "out of memory");
		free(buf);
		return -1;
	}
	rc = publish_file(path, buf, len, 0644, err, errlen);
	free(buf);
	return rc;
}
