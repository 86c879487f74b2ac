/* cmd_history.c: deephealthctl history: a registry's or dependency's past, from the event log. */

#define _GNU_SOURCE /* strptime */

#include <errno.h>
#include <fnmatch.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"

/* "2026-11-30T07:00:00Z", seconds since the epoch, or -N[smhd] before now; -1 when not one. */
static int64_t
parse_when(const char *s, time_t now)
{
	struct tm tm;
	char *end;
	long long v;

	memset(&tm, 0, sizeof(tm));
	if (s[0] == '-') {
		v = strtoll(s + 1, &end, 10);
		if (end == s + 1 || v < 0)
			return -1;
		v *= *end == 'd' ? 86400 : *end == 'h' ? 3600 : *end == 'm' ? 60 : 1;
		if (*end != '\0' && (strchr("smhd", *end) == NULL || end[1] != '\0'))
			return -1;
		return (int64_t)now - v;
	}
	end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (end != NULL && *end == '\0')
		return (int64_t)timegm(&tm);
	v = strtoll(s, &end, 10);
	return end != s && *end == '\0' && v >= 0 ? v : -1;
}

/*
 * An override event of the event log (deephealthctl's add and remove, the prober's
 * expiries, a door's follower's region-wide arrivals and departures) as one line:
 * which file it is in (node or region-wide, and the source a door got it from);
 * with json, the line itself, the nth of an array.
 */
static void
print_override_event(const char *line, const struct evlog_event *ev, int json, size_t nth)
{
	const char *change = evlog_str_of(ev, "change"), *scope = evlog_str_of(ev, "scope"),
	           *action = evlog_str_of(ev, "action"), *by = evlog_str_of(ev, "by"),
	           *reason = evlog_str_of(ev, "reason"), *until = evlog_str_of(ev, "until"),
	           *origin = evlog_str_of(ev, "origin"), *from = evlog_str_of(ev, "from");

	if (json) { /* the event log's own line, in the array */
		printf("%s\n%s", nth ? "," : "", line);
		return;
	}
	if (change == NULL || scope == NULL || action == NULL)
		return;
	printf("%s  override %-6s %s %s until %s (%s%s%s, by %s): %s\n", ev->time, change, scope,
	       action, until ? until : "?", origin ? origin : "node", from ? " from " : "",
	       from ? from : "", by ? by : "?", reason ? reason : "");
}

/* Does the override event's scope reach a registry named name, using deps? */
static int
override_reaches(const struct evlog_event *ev, const char *name, const struct snapshot *snap,
                 const uint32_t *idx, size_t nd)
{
	const char *scope = evlog_str_of(ev, "scope");

	if (scope == NULL)
		return 0;
	if (strcmp(scope, "region") == 0)
		return 1;
	if (strncmp(scope, "registry:", 9) == 0)
		return fnmatch(scope + 9, name, 0) == 0;
	for (size_t k = 0; strncmp(scope, "dependency:", 11) == 0 && k < nd; k++) {
		struct snap_dep d;
		char dep[DH_NAME_MAX + 1];

		snap_dep_at(snap, idx[k], &d);
		snprintf(dep, sizeof(dep), "%.*s", (int)d.name_len, d.name);
		if (fnmatch(scope + 11, dep, 0) == 0)
			return 1;
	}
	return 0;
}

/*
 * A registry's history: the transitions of the dependencies it uses (the
 * snapshot's record), replayed from the event log by the prober's rule, so each
 * line says what the registry's verdict became: when it left this region, why,
 * and when it came back.  Dependency states before their first event in the log
 * are taken from that event's "from".
 */
static int
history_registry(struct ctl *x, const char *name, int64_t since)
{
	struct snap_reg reg;
	size_t nall, nd, n = 0;
	const uint32_t *all;
	uint32_t *idx;
	enum verdict *state, was = VERDICT_PASS;
	char *line = NULL;
	size_t cap = 0;
	FILE *f;

	if (x->in.snap == NULL || !snap_find_reg(x->in.snap, name, strlen(name), &reg)) {
		fprintf(stderr, "deephealthctl: history: registry %s is not in the snapshot (%s)\n", name,
		        x->in.snap ? "not known here" : snap_err_str(x->in.snap_err));
		return CTL_EXIT_CONFIG;
	}
	if (x->in.conf->event_log[0] == '\0' || (f = fopen(x->in.conf->event_log, "r")) == NULL) {
		fprintf(stderr, "deephealthctl: history: no event log (prober.event_log)%s%s\n",
		        x->in.conf->event_log[0] ? ": " : "", x->in.conf->event_log[0] ? strerror(errno) : "");
		return CTL_EXIT_CONFIG;
	}
	all = snap_all_deps(x->in.snap, &nall);
	nd = nall + reg.nuses;
	idx = xcalloc(nd ? nd : 1, sizeof(*idx));
	state = xcalloc(nd ? nd : 1, sizeof(*state));
	for (size_t k = 0; k < nd; k++) {
		idx[k] = k < nall ? all[k] : snap_use_at(x->in.snap, reg.uses + (uint32_t)(k - nall));
		state[k] = VERDICT_UNKNOWN;
	}
	if (x->json)
		printf("[");
	while (getline(&line, &cap, f) != -1) {
		const char *dep, *from, *to, *cause;
		enum verdict v = VERDICT_PASS, now_v;
		uint32_t by = SNAP_NO_DEP;
		struct evlog_event ev;
		char why[160];
		size_t k;
		int64_t t;

		line[strcspn(line, "\n")] = '\0';
		if (evlog_parse(line, strlen(line), &ev, why, sizeof(why)) != 0)
			continue;
		t = parse_when(ev.time, x->now);
		/* The operator's overrides that reach it, from either file. */
		if (strcmp(ev.kind, "override") == 0) {
			if (t >= 0 && t >= since && override_reaches(&ev, name, x->in.snap, idx, nd))
				print_override_event(line, &ev, x->json, n++);
			evlog_event_free(&ev);
			continue;
		}
		/* Dependency transitions. */
		dep = evlog_str_of(&ev, "dependency");
		from = evlog_str_of(&ev, "from");
		to = evlog_str_of(&ev, "to");
		if (strcmp(ev.kind, "transition") != 0 || t < 0 || dep == NULL || from == NULL ||
		    to == NULL) {
			evlog_event_free(&ev);
			continue;
		}
		for (k = 0; k < nd; k++) {
			struct snap_dep d;

			snap_dep_at(x->in.snap, idx[k], &d);
			if (d.name_len == strlen(dep) && memcmp(d.name, dep, d.name_len) == 0)
				break;
		}
		if (k == nd) {
			evlog_event_free(&ev);
			continue;
		}
		/* The verdict before, from what was known; then the transition. */
		if (state[k] == VERDICT_UNKNOWN && names_find(verdict_names, from) >= 0)
			state[k] = (enum verdict)names_find(verdict_names, from);
		for (size_t j = 0; j < nd; j++) {
			struct snap_dep d;

			snap_dep_at(x->in.snap, idx[j], &d);
			verdict_fold(verdict_contribution(state[j], d.severity), idx[j], &v, &by);
		}
		was = v;
		if (names_find(verdict_names, to) >= 0)
			state[k] = (enum verdict)names_find(verdict_names, to);
		v = VERDICT_PASS;
		by = SNAP_NO_DEP;
		for (size_t j = 0; j < nd; j++) {
			struct snap_dep d;

			snap_dep_at(x->in.snap, idx[j], &d);
			verdict_fold(verdict_contribution(state[j], d.severity), idx[j], &v, &by);
		}
		now_v = v;
		if (t < since) {
			evlog_event_free(&ev);
			continue;
		}
		cause = evlog_str_of(&ev, "cause");
		cause = cause ? cause : "";
		if (x->json) {
			printf("%s\n{\"time\":", n ? "," : "");
			jstr(ev.time, strlen(ev.time));
			printf(",\"registry\":\"%s\",\"dependency\":", name);
			jstr(dep, strlen(dep));
			printf(",\"from\":");
			jstr(from, strlen(from));
			printf(",\"to\":");
			jstr(to, strlen(to));
			printf(",\"registry_from\":\"%s\",\"registry_to\":\"%s\",\"cause\":",
			       verdict_str(was), verdict_str(now_v));
			jstr(cause, strlen(cause));
			printf("}");
		} else {
			printf("%s  %-24s %s -> %-4s  %s: %s%s%s  %s\n", ev.time, dep, from, to, name,
			       verdict_str(was), was != now_v ? " -> " : "",
			       was != now_v ? verdict_str(now_v) : " (unchanged)", cause);
			if (was != now_v && (now_v == VERDICT_FAIL || was == VERDICT_FAIL))
				printf("%22s%s %s this region%s\n", "", name,
				       now_v == VERDICT_FAIL ? "leaves" : "comes back to",
				       reg.flags & SNAP_REG_SINGLE_REGION ? " (single-region: answered 200 anyway)" : "");
		}
		n++;
		evlog_event_free(&ev);
	}
	if (x->json)
		printf("%s]\n", n ? "\n" : "");
	else if (n == 0)
		printf("no transition of %s's dependencies in %s\n", name, x->in.conf->event_log);
	free(line);
	free(idx);
	free(state);
	fclose(f);
	return CTL_EXIT_OK;
}

/*
 * The transitions of the dependencies named by glob, and the region's blind
 * stretches and failover guard changes, from the prober's event log, oldest
 * first: when a dependency went down, why, how many registries it took out,
 * and when it came back.
 */
int
cmd_history(struct ctl *x, int argc, char **argv)
{
	const char *glob, *path;
	int64_t since = -1;
	char *line = NULL;
	size_t cap = 0;
	size_t n = 0, ndep = 0;
	char what[160];
	FILE *f;
	int ch, regions = 0;
	const char *regions_path = "/etc/deephealth/regions.conf";
	static const struct option longopts[] = {
		{ "regions", no_argument, NULL, 'R' },
		{ NULL, 0, NULL, 0 }
	};

	/* 0: glibc starts over, so that options may follow the argument (main's "+" stays behind). */
	optind = 0;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":s:Rr:", longopts, NULL)) != -1) {
		if (ch == 'R') {
			regions = 1;
			continue;
		}
		if (ch == 'r') {
			regions = 1;
			regions_path = optarg;
			continue;
		}
		if (ch != 's')
			ctl_usage_error("history: %s", util_opt_error(ch, argv, what, sizeof(what)));
		if ((since = parse_when(optarg, x->now)) < 0)
			ctl_usage_error("history: -s %s: not a time (2026-11-30T07:00:00Z, epoch seconds, "
			                "or -N[smhd])", optarg);
	}
	if (optind == argc)
		ctl_usage_error("history: a DEPENDENCY or registry:NAME is required");
	if (optind + 1 != argc)
		ctl_usage_error("history: unexpected argument %s", argv[optind + 1]);
	glob = argv[optind];
	if (regions) {
		if (strncmp(glob, "registry:", 9) != 0 || !util_name_ok(glob + 9, strlen(glob + 9)))
			ctl_usage_error("history: --regions: a registry:NAME is required");
		return where_history(x, glob + 9, regions_path, since);
	}
	if (x->in.conf == NULL)
		return CTL_EXIT_CONFIG;
	if (strncmp(glob, "registry:", 9) == 0)
		return history_registry(x, glob + 9, since);
	if (strncmp(glob, "dependency:", 11) == 0)
		glob += 11;
	path = x->in.conf->event_log;
	if (path[0] == '\0') {
		fprintf(stderr, "deephealthctl: history: prober.event_log is not set in %s: no history "
		        "is kept\n", x->conf_path);
		return CTL_EXIT_CONFIG;
	}
	if ((f = fopen(path, "r")) == NULL) {
		fprintf(stderr, "deephealthctl: history: %s: %s\n", path, strerror(errno));
		return CTL_EXIT_CONFIG;
	}
	if (x->json)
		printf("[");
	while (getline(&line, &cap, f) != -1) {
		const char *dep, *from, *to, *cause, *state;
		struct evlog_event ev;
		char why[160];
		long long aff;
		int64_t t;
		int region;

		line[strcspn(line, "\n")] = '\0';
		if (evlog_parse(line, strlen(line), &ev, why, sizeof(why)) != 0)
			continue;
		if ((t = parse_when(ev.time, x->now)) < 0 || t < since) {
			evlog_event_free(&ev);
			continue;
		}
		if (strcmp(ev.kind, "override") == 0) {
			const char *scope = evlog_str_of(&ev, "scope");

			/* A dependency override on a dependency the glob names, from either file. */
			/* Either names the other: history db-1 shows dependency:db-*, history 'db-*'
			 * shows dependency:db-1. */
			if (scope != NULL && strncmp(scope, "dependency:", 11) == 0 &&
			    (fnmatch(glob, scope + 11, 0) == 0 || fnmatch(scope + 11, glob, 0) == 0))
				print_override_event(line, &ev, x->json, n++);
			evlog_event_free(&ev);
			continue;
		}
		region = strcmp(ev.kind, "blind") == 0 || strcmp(ev.kind, "guard") == 0;
		dep = evlog_str_of(&ev, "dependency");
		/* verdicts: not a dependency's */
		if (!region && (strcmp(ev.kind, "transition") != 0 || dep == NULL ||
		                fnmatch(glob, dep, 0) != 0)) {
			evlog_event_free(&ev);
			continue;
		}
		ndep += !region;
		n++;
		if (x->json) {
			printf("%s\n%s", n > 1 ? "," : "", line);
			evlog_event_free(&ev);
			continue;
		}
		cause = evlog_str_of(&ev, "cause");
		cause = cause ? cause : "";
		if (region) {
			state = evlog_str_of(&ev, "state");
			printf("%s  %-24s %s %-6s %s\n", ev.time, "(region)", ev.kind, state ? state : "?",
			       cause);
			evlog_event_free(&ev);
			continue;
		}
		from = evlog_str_of(&ev, "from");
		to = evlog_str_of(&ev, "to");
		aff = evlog_num_of(&ev, "registries_affected");
		if (aff >= 0)
			printf("%s  %-24s %s -> %-4s %lld %s  %s\n", ev.time, dep, from ? from : "?",
			       to ? to : "?", aff, aff == 1 ? "registry" : "registries", cause);
		else
			printf("%s  %-24s %s -> %-4s ? registries  %s\n", ev.time, dep, from ? from : "?",
			       to ? to : "?", cause);
		evlog_event_free(&ev);
	}
	if (x->json)
		printf("%s]\n", n ? "\n" : "");
	else if (ndep == 0)
		printf("no transition of %s%s in %s\n", glob, since >= 0 ? " in that time" : "", path);
	free(line);
	fclose(f);
	return CTL_EXIT_OK;
}
