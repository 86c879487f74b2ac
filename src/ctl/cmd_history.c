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
print_override_event(const char *line, const char *when, int json, size_t nth)
{
	char change[16], scope[320], action[32], by[80], reason[600], origin[16], from[140],
	     until[40];

	if (json) { /* the event log's own line, in the array */
		printf("%s\n%s", nth ? "," : "", line);
		return;
	}
	if (evlog_field(line, "change", change, sizeof(change)) == NULL ||
	    evlog_field(line, "scope", scope, sizeof(scope)) == NULL ||
	    evlog_field(line, "action", action, sizeof(action)) == NULL)
		return;
	if (evlog_field(line, "by", by, sizeof(by)) == NULL)
		snprintf(by, sizeof(by), "?");
	if (evlog_field(line, "reason", reason, sizeof(reason)) == NULL)
		reason[0] = '\0';
	if (evlog_field(line, "until", until, sizeof(until)) == NULL)
		snprintf(until, sizeof(until), "?");
	if (evlog_field(line, "origin", origin, sizeof(origin)) == NULL)
		snprintf(origin, sizeof(origin), "node");
	if (evlog_field(line, "from", from, sizeof(from)) == NULL)
		from[0] = '\0';
	evlog_unescape(reason);
	evlog_unescape(scope);
	printf("%s  override %-6s %s %s until %s (%s%s%s, by %s): %s\n", when, change, scope,
	       action, until, origin, from[0] ? " from " : "", from, by, reason);
}

/* Does the override event's scope (on line) reach a registry named name, using deps? */
static int
override_reaches(const char *line, const char *name, const struct snapshot *snap,
                 const uint32_t *idx, size_t nd)
{
	char scope[320];

	if (evlog_field(line, "scope", scope, sizeof(scope)) == NULL)
		return 0;
	evlog_unescape(scope);
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

	if (x->snap == NULL || !snap_find_reg(x->snap, name, strlen(name), &reg)) {
		fprintf(stderr, "deephealthctl: history: registry %s is not in the snapshot (%s)\n", name,
		        x->snap ? "not known here" : snap_err_str(x->snap_err));
		return CTL_EXIT_CONFIG;
	}
	if (x->conf->event_log[0] == '\0' || (f = fopen(x->conf->event_log, "r")) == NULL) {
		fprintf(stderr, "deephealthctl: history: no event log (prober.event_log)%s%s\n",
		        x->conf->event_log[0] ? ": " : "", x->conf->event_log[0] ? strerror(errno) : "");
		return CTL_EXIT_CONFIG;
	}
	all = snap_all_deps(x->snap, &nall);
	nd = nall + reg.nuses;
	idx = xcalloc(nd ? nd : 1, sizeof(*idx));
	state = xcalloc(nd ? nd : 1, sizeof(*state));
	for (size_t k = 0; k < nd; k++) {
		idx[k] = k < nall ? all[k] : snap_use_at(x->snap, reg.uses + (uint32_t)(k - nall));
		state[k] = VERDICT_UNKNOWN;
	}
	if (x->json)
		printf("[");
	while (getline(&line, &cap, f) != -1) {
		char when[64], dep[DH_NAME_MAX + 1], from[16], to[16], cause[600], ev[16];
		enum verdict v = VERDICT_PASS, now_v;
		uint32_t by = SNAP_NO_DEP;
		size_t k;
		int64_t t;

		line[strcspn(line, "\n")] = '\0';
		/* The operator's overrides that reach it, from either file. */
		if (line[0] == '{' && evlog_field(line, "event", ev, sizeof(ev)) != NULL &&
		    strcmp(ev, "override") == 0 && evlog_field(line, "time", when, sizeof(when)) &&
		    (t = parse_when(when, x->now)) >= 0 && t >= since &&
		    override_reaches(line, name, x->snap, idx, nd)) {
			print_override_event(line, when, x->json, n++);
			continue;
		}
		/* Dependency transitions are the lines without an "event". */
		if (line[0] != '{' || evlog_field(line, "event", ev, sizeof(ev)) != NULL ||
		    evlog_field(line, "time", when, sizeof(when)) == NULL ||
		    (t = parse_when(when, x->now)) < 0 || evlog_field(line, "dependency", dep, sizeof(dep)) == NULL ||
		    evlog_field(line, "from", from, sizeof(from)) == NULL ||
		    evlog_field(line, "to", to, sizeof(to)) == NULL)
			continue;
		for (k = 0; k < nd; k++) {
			struct snap_dep d;

			snap_dep_at(x->snap, idx[k], &d);
			if (d.name_len == strlen(dep) && memcmp(d.name, dep, d.name_len) == 0)
				break;
		}
		if (k == nd)
			continue;
		/* The verdict before, from what was known; then the transition. */
		if (state[k] == VERDICT_UNKNOWN && names_find(verdict_names, from) >= 0)
			state[k] = (enum verdict)names_find(verdict_names, from);
		for (size_t j = 0; j < nd; j++) {
			struct snap_dep d;

			snap_dep_at(x->snap, idx[j], &d);
			verdict_fold(verdict_contribution(state[j], d.severity), idx[j], &v, &by);
		}
		was = v;
		if (names_find(verdict_names, to) >= 0)
			state[k] = (enum verdict)names_find(verdict_names, to);
		v = VERDICT_PASS;
		by = SNAP_NO_DEP;
		for (size_t j = 0; j < nd; j++) {
			struct snap_dep d;

			snap_dep_at(x->snap, idx[j], &d);
			verdict_fold(verdict_contribution(state[j], d.severity), idx[j], &v, &by);
		}
		now_v = v;
		if (t < since)
			continue;
		if (evlog_field(line, "cause", cause, sizeof(cause)) == NULL)
			cause[0] = '\0';
		evlog_unescape(cause);
		if (x->json) {
			printf("%s\n{\"time\":\"%s\",\"registry\":\"%s\",\"dependency\":\"%s\",\"from\":\"%s\","
			       "\"to\":\"%s\",\"registry_from\":\"%s\",\"registry_to\":\"%s\",\"cause\":",
			       n ? "," : "", when, name, dep, from, to, verdict_str(was), verdict_str(now_v));
			jstr(cause, strlen(cause));
			printf("}");
		} else {
			printf("%s  %-24s %s -> %-4s  %s: %s%s%s  %s\n", when, dep, from, to, name,
			       verdict_str(was), was != now_v ? " -> " : "",
			       was != now_v ? verdict_str(now_v) : " (unchanged)", cause);
			if (was != now_v && (now_v == VERDICT_FAIL || was == VERDICT_FAIL))
				printf("%22s%s %s this region%s\n", "", name,
				       now_v == VERDICT_FAIL ? "leaves" : "comes back to",
				       reg.flags & SNAP_REG_SINGLE_REGION ? " (single-region: answered 200 anyway)" : "");
		}
		n++;
	}
	if (x->json)
		printf("%s]\n", n ? "\n" : "");
	else if (n == 0)
		printf("no transition of %s's dependencies in %s\n", name, x->conf->event_log);
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
	if (x->conf == NULL)
		return CTL_EXIT_CONFIG;
	if (strncmp(glob, "registry:", 9) == 0)
		return history_registry(x, glob + 9, since);
	if (strncmp(glob, "dependency:", 11) == 0)
		glob += 11;
	path = x->conf->event_log;
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
		char when[64], dep[DH_NAME_MAX + 1], from[16], to[16], cause[600], ev[16], state[16],
		     aff[32];
		const char *a;
		int64_t t;
		int blind;

		line[strcspn(line, "\n")] = '\0';
		if (line[0] != '{' || evlog_field(line, "time", when, sizeof(when)) == NULL ||
		    (t = parse_when(when, x->now)) < 0 || t < since)
			continue;
		blind = evlog_field(line, "event", ev, sizeof(ev)) != NULL;
		if (blind && strcmp(ev, "override") == 0) {
			char scope[320];

			/* A dependency override on a dependency the glob names, from either file. */
			/* Either names the other: history db-1 shows dependency:db-*, history 'db-*'
			 * shows dependency:db-1. */
			if (evlog_field(line, "scope", scope, sizeof(scope)) == NULL ||
			    strncmp(scope, "dependency:", 11) != 0 ||
			    (fnmatch(glob, scope + 11, 0) != 0 && fnmatch(scope + 11, glob, 0) != 0))
				continue;
			print_override_event(line, when, x->json, n++);
			continue;
		}
		if (blind && strcmp(ev, "blind") != 0 && strcmp(ev, "guard") != 0)
			continue; /* verdicts: not a dependency's */
		if (!blind && (evlog_field(line, "dependency", dep, sizeof(dep)) == NULL ||
		               fnmatch(glob, dep, 0) != 0))
			continue;
		ndep += !blind;
		if (x->json) {
			printf("%s\n%s", n ? "," : "", line);
			n++;
			continue;
		}
		n++;
		if (evlog_field(line, "cause", cause, sizeof(cause)) == NULL)
			cause[0] = '\0';
		evlog_unescape(cause);
		if (blind) {
			printf("%s  %-24s %s %-6s %s\n", when, "(region)", ev,
			       evlog_field(line, "state", state, sizeof(state)) ? state : "?", cause);
			continue;
		}
		a = strstr(line, "\"registries_affected\":");
		snprintf(aff, sizeof(aff), "%s", a ? a + strlen("\"registries_affected\":") : "?");
		aff[strcspn(aff, ",}")] = '\0';
		printf("%s  %-24s %s -> %-4s %s %s  %s\n", when, dep,
		       evlog_field(line, "from", from, sizeof(from)) ? from : "?",
		       evlog_field(line, "to", to, sizeof(to)) ? to : "?", aff,
		       strcmp(aff, "1") == 0 ? "registry" : "registries", cause);
	}
	if (x->json)
		printf("%s]\n", n ? "\n" : "");
	else if (ndep == 0)
		printf("no transition of %s%s in %s\n", glob, since >= 0 ? " in that time" : "", path);
	free(line);
	fclose(f);
	return CTL_EXIT_OK;
}
