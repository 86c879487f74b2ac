/*
 * deephealthctl: the operator's view of a region: what the responders answer
 * and why (status, explain), and how long failover and recovery take with
 * this configuration (budget).  Reads the same files the responder reads,
 * through the same code (src/answer/), so explain says what it would answer.
 */
#define _GNU_SOURCE /* timegm, strptime */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <sys/file.h>
#include <unistd.h>
#include <fnmatch.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "answer.h"


/* Exit codes, also in deephealthctl(8). */
enum {
	CTL_EXIT_OK = 0,
	CTL_EXIT_CONFIG = 1,   /* the configuration did not load (what the responder then answers is still shown) */
	CTL_EXIT_USAGE = 2,
	CTL_EXIT_FAILOPEN = 3  /* status: the region answers 200 for every registry (fail-open or pass-through) */
};

/* The responder reads the resolver section; so does explain. */
static const struct conf_ext *const ctl_exts[] = { &resolver_conf, NULL };

struct ctl {
	const char *conf_path;
	int json;
	struct conf *conf;           /* NULL when it did not load */
	struct snapshot *snap;
	enum snap_err snap_err;
	char snap_detail[256];
	int kill_switch, kill_err;
	struct overrides *ovr;       /* NULL: no file, or a damaged one (ovr_errors) */
	int ovr_errors;              /* bad lines: the responders ignore the whole file */
	time_t now;
	struct answer_state st;
	struct counters_shm ctr;     /* the responders' counters, when have_ctr */
	int have_ctr;
	char ctr_err[512];           /* why not */
	char node[256];
	struct fleet fleet;          /* a follower's account beside the snapshot, if any */
	char fleet_err[4400];
	int fleet_rc;                /* 1 read, 0 none, -1 a bad one */
};

static void
usage(FILE *f, int code)
{
	fprintf(f,
	        "usage: deephealthctl [-c config] [--json] status\n"
	        "       deephealthctl [-c config] [--json] explain HOST [HOST...]\n"
	        "       deephealthctl [-c config] override add SCOPE ACTION -e DURATION -r REASON\n"
	        "       deephealthctl [-c config] [--json] override list\n"
	        "       deephealthctl [-c config] override remove INDEX|SCOPE\n"
	        "       deephealthctl [-c config] [--json] history [-s TIME] DEPENDENCY|registry:NAME\n"
	        "       deephealthctl [-c config] check [-w age] [-c age] [-k seconds] [-x seconds]\n"
	        "                     [-u rate] [-U rate]\n"
	        "       deephealthctl [-c config] [--json] budget [-l PRESET] [-P seconds]\n"
	        "                     [-F probes] [-B probes] [-W seconds] [-T seconds] [-f seconds]\n"
	        "       deephealthctl -h | --help | -V | --version\n"
	        "  -c config     configuration file (default $DEEPHEALTH_CONFIG, then %s)\n"
	        "  -j, --json    one JSON document on standard output\n"
	        "budget:\n"
	        "  -l PRESET     load balancer: tm30, tm10 (Traffic Manager 30 s / 10 s probing),\n"
	        "                r53 (Route 53 standard), r53fast (Route 53 fast); default tm30\n"
	        "  -P seconds    its probing interval     -F probes  failed probes to take out\n"
	        "  -B probes     good probes to bring back -W seconds its probe timeout\n"
	        "  -T seconds    DNS TTL of its answers\n"
	        "  -f seconds    a front door fed by deephealth-follow this often (default 10 with\n"
	        "                follower.sources, else 0)\n"
	        "override: SCOPE region or registry:NAME (NAME may be a glob); ACTION force-pass,\n"
	        "  force-fail, enforce or shadow; DURATION 90s, 45m, 8h, 7d, at most\n"
	        "  responder.override_max; REASON printable text\n"
	        "history: DEPENDENCY may be a glob; -s TIME: ISO (2026-11-30T07:00:00Z), epoch\n"
	        "  seconds, or -N[smhd] before now\n"
	        "check: a Nagios plugin: -w/-c snapshot age (default 3 intervals / max_age),\n"
	        "  -k the kill switch, pass-through mode or a region force-pass left on longer\n"
	        "  (default 3600 s), -x an override expiring sooner (default 900 s), -u/-U\n"
	        "  unknown-Host answers a minute over the last 5 (default 1 / none);\n"
	        "  exits 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN\n"
	        "exit: 0 OK, 1 configuration not loaded, 2 usage, 3 status: every answer fails open\n"
	        "      or passes through\n",
	        DH_DEFAULT_CONF);
	exit(code);
}

/* Errors of the configuration go to stderr as file:line: message, as with -t. */
static void
ctl_errfn(void *arg, const char *fmt, ...)
{
	va_list ap;

	(void)arg;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* What a responder would see now: the configuration, the snapshot, the kill switch. */
static void
ctl_load(struct ctl *x)
{
	x->now = time(NULL);
	x->conf = conf_load(x->conf_path, ctl_exts, ctl_errfn, NULL);
	x->snap_err = SNAP_MISSING;
	if (x->conf != NULL) {
		x->snap_err = snap_load(x->conf->snapshot_path, x->now, &x->snap, x->snap_detail,
		                        sizeof(x->snap_detail));
		x->kill_switch = answer_kill_switch(x->conf->kill_switch, &x->kill_err);
		x->ovr_errors = ovr_load(x->conf->overrides, x->conf->override_max, &x->ovr, ctl_errfn,
		                         NULL);
		if (x->ovr_errors < 0)
			x->ovr_errors = 0;
		x->have_ctr = counters_read(x->conf->counters, &x->ctr, x->ctr_err,
		                            sizeof(x->ctr_err)) == 0;
	}
	if (gethostname(x->node, sizeof(x->node)) != 0)
		x->node[0] = '\0';
	x->node[sizeof(x->node) - 1] = '\0';
	x->st.conf = x->conf;
	x->st.ovr = x->ovr;
	x->st.snap = x->snap;
	x->st.snap_err = x->snap_err;
	x->st.kill_switch = x->kill_switch;
	if (x->conf != NULL)
		x->fleet_rc = fleet_load(x->conf->snapshot_path, &x->fleet, x->fleet_err,
		                         sizeof(x->fleet_err));
	x->st.fleet = &x->fleet;
}

static void
ctl_free(struct ctl *x)
{
	snap_free(x->snap);
	ovr_free(x->ovr);
	conf_free(x->conf);
}

/* "7m 3s", "2h 5m", "3d 4h": an age for a person. */
static const char *
span(int64_t s, char *buf, size_t len)
{
	if (s < 0)
		s = 0;
	if (s < 120)
		snprintf(buf, len, "%llds", (long long)s);
	else if (s < 7200)
		snprintf(buf, len, "%lldm %llds", (long long)(s / 60), (long long)(s % 60));
	else if (s < 172800)
		snprintf(buf, len, "%lldh %lldm", (long long)(s / 3600), (long long)(s % 3600 / 60));
	else
		snprintf(buf, len, "%lldd %lldh", (long long)(s / 86400), (long long)(s % 86400 / 3600));
	return buf;
}

/* A JSON string value of s (len bytes), quoted. */
static void
jstr(const char *s, size_t len)
{
	char *e = util_json_strn(s, len);

	printf("\"%s\"", e);
	free(e);
}

static void override_print(const struct ctl *x, size_t i, const struct override *v, int json);

/* ---------------------------------------------------------------- status */

static int
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
		in.ovr_damaged = x->ovr_errors > 0;
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
				printf("snapshot      %s: %s old (max_age %ds), interval %us, %s\n",
				       x->conf->snapshot_path, span(age, ago, sizeof(ago)), x->conf->max_age,
				       snap_interval(x->snap), blind ? "BLIND" : "not blind");
			else
				printf("snapshot      %s: %s%s%s\n", x->conf->snapshot_path,
				       snap_err_str(x->snap_err), x->snap_detail[0] ? ": " : "", x->snap_detail);
		}
		if (x->conf != NULL && x->ovr_errors > 0)
			printf("overrides     %s: DAMAGED (%d bad lines, above): the responders ignore "
			       "every line\n", x->conf->overrides, x->ovr_errors);
		for (size_t i = 0; x->ovr != NULL && i < x->ovr->n; i++) {
			const struct override *v = &x->ovr->v[i];

			if (v->until <= (int64_t)x->now)
				continue;
			printf("override      %s %s for %s more (by %s: %s)\n", v->scope,
			       ovr_action_names[v->action], span(v->until - (int64_t)x->now, ago, sizeof(ago)),
			       v->by, v->reason);
		}
		if (regionwide)
			printf("answers       %d %s for every registry (%s)\n", tr.po.http,
			       reason_str(tr.po.reason),
			       tr.po.reason == R_PASSTHROUGH ? "passing through" : "FAILING OPEN");
		else
			printf("answers       per registry (enforcing)\n");
		if (x->fleet_rc < 0)
			printf("fleet         %s\n", x->fleet_err);
		if (x->fleet.present) {
			printf("fleet         %s (deephealth-follow)\n", x->fleet.decided);
			for (size_t i = 0; i < x->fleet.n; i++)
				printf("  %-32s %-11s %s\n", x->fleet.src[i].name,
				       source_state_names[x->fleet.src[i].state],
				       x->fleet.src[i].created > 0 ?
				       span((int64_t)x->now - x->fleet.src[i].created, when, sizeof(when)) : "-");
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
				printf(", fails %zu registries", fails[i]);
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

/* ---------------------------------------------------------------- explain */

/*
 * Each dependency a registry uses, region-wide ones first, with its state, what
 * it means for the registry, and an override forcing it: the verdict's inputs.
 */
static void
explain_uses(const struct ctl *x, const struct snap_reg *reg, int json)
{
	size_t nall;
	const uint32_t *all = snap_all_deps(x->snap, &nall);

	for (size_t k = 0; k < nall + reg->nuses; k++) {
		uint32_t di = k < nall ? all[k] : snap_use_at(x->snap, reg->uses + (uint32_t)(k - nall));
		const struct override *f;
		struct snap_dep d;

		snap_dep_at(x->snap, di, &d);
		f = ovr_dep_lookup(x->ovr, d.name, d.name_len, (int64_t)x->now);
		if (json) {
			printf("%s{\"name\":", k ? "," : "");
			jstr(d.name, d.name_len);
			printf(",\"state\":\"%s\",\"severity\":\"%s\",\"region_wide\":%s,"
			       "\"contribution\":\"%s\",\"forced\":%s%s%s}", verdict_str(d.state),
			       severity_str(d.severity), k < nall ? "true" : "false",
			       verdict_str(verdict_contribution(d.state, d.severity)),
			       f ? "\"" : "null", f ? ovr_action_names[f->action] : "", f ? "\"" : "");
			continue;
		}
		printf("  %-13s %.*s: %s, %s%s -> %s%s%s\n", k == 0 ? "uses" : "", (int)d.name_len,
		       d.name, verdict_str(d.state), severity_str(d.severity),
		       k < nall ? ", region-wide" : "",
		       verdict_str(verdict_contribution(d.state, d.severity)), f ? "; override " : "",
		       f ? ovr_action_names[f->action] : "");
	}
}

/* The reply's header lines, one per line, without the CR. */
static void
print_headers(const char *reply, size_t n, int json)
{
	const char *p = reply, *end = reply + n;
	int k = 0;

	while (p < end) {
		const char *eol = memchr(p, '\r', (size_t)(end - p));

		if (eol == NULL || eol == p)
			break;
		if (json) {
			printf("%s", k++ ? "," : "");
			jstr(p, (size_t)(eol - p));
		} else {
			printf("  %.*s\n", (int)(eol - p), p);
		}
		p = eol + 2;
	}
}

static void
explain_one(struct ctl *x, const char *host)
{
	struct answer_trace tr;
	struct snap_reg reg;
	struct snap_dep d;
	char reply[4096], when[32];
	size_t n = answer_request(&x->st, "GET", host, NULL, x->now, &tr, reply, sizeof(reply));
	const char *body = strstr(reply, "\r\n\r\n");
	int have_reg = tr.result == RESOLVE_FOUND && x->snap != NULL &&
	               snap_find_reg(x->snap, tr.registry, strlen(tr.registry), &reg);
	int have_dep = have_reg && reg.decided_by != SNAP_NO_DEP;

	if (have_dep)
		snap_dep_at(x->snap, reg.decided_by, &d);
	if (x->json) {
		printf("{\"host\":");
		jstr(host, strlen(host));
		printf(",\"normalized\":");
		if (tr.resolved && tr.result != RESOLVE_INVALID)
			jstr(tr.host, strlen(tr.host));
		else
			printf("null");
		printf(",\"invalid\":");
		if (tr.resolved && tr.result == RESOLVE_INVALID)
			printf("\"%s\"", host_err_str(tr.herr));
		else
			printf("null");
		printf(",\"resolution\":\"%s\",\"via\":", tr.resolved ? resolve_result_str(tr.result) : "not-looked-at");
		if (tr.result == RESOLVE_FOUND && tr.via < 0)
			printf("\"host_map\"");
		else if (tr.result == RESOLVE_FOUND || tr.result == RESOLVE_ERROR)
			printf("\"rules[%d]\"", tr.via);
		else
			printf("null");
		printf(",\"registry\":");
		if (tr.result == RESOLVE_FOUND)
			jstr(tr.registry, strlen(tr.registry));
		else
			printf("null");
		printf(",\"snapshot_row\":");
		if (have_reg) {
			util_iso_time((time_t)reg.since, when, sizeof(when));
			printf("{\"verdict\":\"%s\",\"single_region\":%s,\"since\":\"%s\",\"decided_by\":",
			       verdict_str(reg.verdict), reg.flags & SNAP_REG_SINGLE_REGION ? "true" : "false",
			       when);
			if (have_dep) {
				printf("{\"name\":");
				jstr(d.name, d.name_len);
				printf(",\"state\":\"%s\",\"kind\":\"%s\",\"severity\":\"%s\",\"cause\":",
				       verdict_str(d.state), dep_kind_str(d.kind), severity_str(d.severity));
				jstr(d.cause, d.cause_len);
				printf("}");
			} else {
				printf("null");
			}
			printf(",\"dependencies\":[");
			explain_uses(x, &reg, 1);
			printf("]}");
		} else {
			printf("null");
		}
		for (int k = 0; k < 2; k++) {
			const struct override *v = k == 0 ? tr.force : tr.mode;

			printf(",\"%s\":", k == 0 ? "override" : "mode_override");
			if (v == NULL) {
				printf("null");
				continue;
			}
			util_iso_time((time_t)v->until, when, sizeof(when));
			printf("{\"scope\":");
			jstr(v->scope, strlen(v->scope));
			printf(",\"action\":\"%s\",\"until\":\"%s\",\"by\":\"%s\",\"reason\":",
			       ovr_action_names[v->action], when, v->by);
			jstr(v->reason, strlen(v->reason));
			printf("}");
		}
		printf(",\"reason\":\"%s\",\"http\":%d,\"status\":\"%s\"", reason_str(tr.po.reason),
		       tr.po.http, verdict_str(tr.po.status));
		if (tr.po.shadow)
			printf(",\"shadow\":{\"http\":%d,\"status\":\"%s\",\"reason\":\"%s\"}",
			       tr.po.would_http, verdict_str(tr.po.would_status),
			       reason_str(tr.po.would_reason));
		printf(",\"headers\":[");
		print_headers(reply, n, 1);
		printf("],\"body\":");
		if (body != NULL)
			jstr(body + 4, n - (size_t)(body + 4 - reply));
		else
			printf("null");
		printf("}");
		return;
	}
	printf("%s\n", host);
	if (!tr.resolved)
		printf("  Host          not looked at: %s\n", x->conf ? "the request is not a probe"
		                                                      : "the configuration did not load");
	else if (tr.result == RESOLVE_INVALID)
		printf("  Host          invalid: %s\n", host_err_str(tr.herr));
	else
		printf("  normalized    %s\n", tr.host);
	if (tr.result == RESOLVE_FOUND && tr.via < 0)
		printf("  resolved      %s by the host map\n", tr.registry);
	else if (tr.result == RESOLVE_FOUND)
		printf("  resolved      %s by rule %d: %s\n", tr.registry, tr.via,
		       x->conf->rules[tr.via]);
	else if (tr.result == RESOLVE_ERROR)
		printf("  resolved      undecided: rule %d hit its match limit\n", tr.via);
	else if (tr.resolved && tr.result == RESOLVE_UNKNOWN)
		printf("  resolved      unknown: not in the host map, no rule matched\n");
	if (have_reg) {
		util_iso_time((time_t)reg.since, when, sizeof(when));
		printf("  snapshot row  %s %s since %s\n", verdict_str(reg.verdict),
		       reg.flags & SNAP_REG_SINGLE_REGION ? "single-region" : "", when);
		if (have_dep)
			printf("  decided by    %.*s: %s, %s %s: %.*s\n", (int)d.name_len, d.name,
			       verdict_str(d.state), dep_kind_str(d.kind), severity_str(d.severity),
			       (int)d.cause_len, d.cause);
		explain_uses(x, &reg, 0);
	} else if (tr.result == RESOLVE_FOUND && x->snap != NULL) {
		printf("  snapshot row  none: %s is not in the snapshot\n", tr.registry);
	}
	for (int k = 0; k < 2; k++) {
		const struct override *v = k == 0 ? tr.force : tr.mode;

		if (v != NULL) {
			util_iso_time((time_t)v->until, when, sizeof(when));
			printf("  override      %s %s until %s (by %s: %s)\n", v->scope,
			       ovr_action_names[v->action], when, v->by, v->reason);
		}
	}
	printf("  decision      %s -> %d %s\n", reason_str(tr.po.reason), tr.po.http,
	       verdict_str(tr.po.status));
	if (tr.po.shadow)
		printf("  shadow        enforce would answer %d %s %s\n", tr.po.would_http,
		       verdict_str(tr.po.would_status), reason_str(tr.po.would_reason));
	printf("  answer\n");
	print_headers(reply, n, 0);
}

static int
cmd_explain(struct ctl *x, int argc, char **argv)
{
	if (x->json)
		printf("[");
	for (int i = 0; i < argc; i++) {
		if (x->json && i > 0)
			printf(",");
		explain_one(x, argv[i]);
	}
	if (x->json)
		printf("]\n");
	return x->conf == NULL ? CTL_EXIT_CONFIG : CTL_EXIT_OK;
}

/* ---------------------------------------------------------------- override */

/* "90s", "45m", "8h", "7d" (or plain seconds); -1 when not one. */
static long
parse_span(const char *s)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || v <= 0 || (*end != '\0' && end[1] != '\0'))
		return -1;
	switch (*end) {
	case '\0': case 's': return v;
	case 'm': return v <= LONG_MAX / 60 ? v * 60 : -1;
	case 'h': return v <= LONG_MAX / 3600 ? v * 3600 : -1;
	case 'd': return v <= LONG_MAX / 86400 ? v * 86400 : -1;
	default: return -1;
	}
}

/* Who is setting it: the sudo user behind root, else the login, as a name token. */
static void
who(char *out, size_t len)
{
	const char *u = getenv("SUDO_USER");
	struct passwd *pw;

	if (u == NULL || u[0] == '\0')
		u = getenv("USER");
	if ((u == NULL || u[0] == '\0') && (pw = getpwuid(getuid())) != NULL)
		u = pw->pw_name;
	snprintf(out, len, "%s", u != NULL && u[0] != '\0' ? u : "unknown");
	for (char *p = out; *p != '\0'; p++)
		if (!util_is_name_byte((unsigned char)*p))
			*p = '_';
}

/* One line in the event log for an operator's change; the event log is the record. */
static void
override_event(const struct ctl *x, const char *what, const struct override *v)
{
	FILE *f;
	int fd;

	if (x->conf->event_log[0] == '\0')
		return;
	/* Never create it: the prober's user must keep owning it (root would take it over). */
	if ((fd = open(x->conf->event_log, O_WRONLY | O_APPEND | O_CLOEXEC)) == -1 ||
	    (f = fdopen(fd, "a")) == NULL) {
		fprintf(stderr, "deephealthctl: event log %s: %s (the change is made, not recorded)\n",
		        x->conf->event_log, errno == ENOENT ? "not there yet: the prober creates it"
		                                            : strerror(errno));
		if (fd != -1)
			close(fd);
		return;
	}
	ovr_event_line(f, what, v, (int64_t)x->now);
	if (fclose(f) != 0)
		fprintf(stderr, "deephealthctl: event log %s: %s\n", x->conf->event_log, strerror(errno));
}

/* Write every override in o but those dropped (drop[i]) and those expired a day ago, plus add. */
static int
override_write(const struct ctl *x, const struct overrides *o, const char *drop,
               const struct override *add)
{
	char *buf = NULL, err[512];
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	int rc;

	if (m == NULL)
		fatal("open_memstream");
	fprintf(m, "# deephealth overrides: written by deephealthctl override; one per line.\n"
	           "# A file with a bad line is ignored whole by every responder.\n");
	for (size_t i = 0; o != NULL && i < o->n; i++)
		if (!drop[i] && o->v[i].until > (int64_t)x->now - 86400)
			ovr_write_line(m, &o->v[i]);
	if (add != NULL)
		ovr_write_line(m, add);
	if (fclose(m) != 0)
		fatal("open_memstream");
	rc = publish_file(x->conf->overrides, buf, len, 0644, err, sizeof(err));
	if (rc != 0)
		fprintf(stderr, "deephealthctl: %s\n", err);
	free(buf);
	return rc;
}

static void
override_print(const struct ctl *x, size_t i, const struct override *v, int json)
{
	char until[32], set[32], left[32];
	int64_t rest = v->until - (int64_t)x->now;

	util_iso_time((time_t)v->until, until, sizeof(until));
	util_iso_time((time_t)v->set, set, sizeof(set));
	if (json) {
		printf("%s", i ? "," : "");
		status_override_json(stdout, i, v, x->now);
		return;
	}
	printf("%3zu  %-28s %-10s %s %s (set %s by %s): %s\n", i + 1, v->scope,
	       ovr_action_names[v->action], rest > 0 ? "until" : "EXPIRED", until,
	       set, v->by, v->reason);
	(void)span(rest > 0 ? rest : -rest, left, sizeof(left));
}

static int
cmd_override(struct ctl *x, int argc, char **argv)
{
	const char *sub = argc > 1 ? argv[1] : "";
	char lockpath[4096], *drop = NULL;
	int lockfd = -1, rc = CTL_EXIT_OK;

	if (x->conf == NULL)
		return CTL_EXIT_CONFIG;
	if (strcmp(sub, "list") == 0 && argc == 2) {
		if (x->ovr_errors > 0) {
			fprintf(stderr, "deephealthctl: %s: %d bad lines (above): the responders IGNORE the "
			        "whole file\n", x->conf->overrides, x->ovr_errors);
			return CTL_EXIT_CONFIG;
		}
		if (x->json)
			printf("[");
		for (size_t i = 0; x->ovr != NULL && i < x->ovr->n; i++)
			override_print(x, i, &x->ovr->v[i], x->json);
		if (x->json)
			printf("]\n");
		else if (x->ovr == NULL || x->ovr->n == 0)
			printf("no overrides (%s)\n", x->conf->overrides);
		return CTL_EXIT_OK;
	}
	if (strcmp(sub, "add") != 0 && strcmp(sub, "remove") != 0)
		usage(stderr, CTL_EXIT_USAGE);
	/* One editor at a time; the responders read the file only as a whole, after rename. */
	snprintf(lockpath, sizeof(lockpath), "%s.lock", x->conf->overrides);
	if ((lockfd = util_lock_open(lockpath)) == -1 ||
	    flock(lockfd, LOCK_EX) == -1) {
		fprintf(stderr, "deephealthctl: %s: %s\n", lockpath, strerror(errno));
		if (lockfd != -1)
			close(lockfd);
		return CTL_EXIT_CONFIG;
	}
	/* Read again under the lock: another editor may have just written it. */
	ovr_free(x->ovr);
	x->ovr = NULL;
	x->ovr_errors = ovr_load(x->conf->overrides, x->conf->override_max, &x->ovr, ctl_errfn,
	                         NULL);
	if (x->ovr_errors > 0) {
		fprintf(stderr, "deephealthctl: %s: %d bad lines (above): fix or remove it first\n",
		        x->conf->overrides, x->ovr_errors);
		rc = CTL_EXIT_CONFIG;
		goto out;
	}
	drop = xcalloc(x->ovr ? x->ovr->n + 1 : 1, 1);
	if (strcmp(sub, "add") == 0) {
		struct override v = { 0 };
		char by[64], reason[512] = "";
		long span_s = -1;
		int ch, a;

		if (argc < 4)
			usage(stderr, CTL_EXIT_USAGE);
		optind = 4; /* the options come after SCOPE ACTION */
		while ((ch = getopt(argc, argv, "+e:r:")) != -1) {
			if (ch == 'e')
				span_s = parse_span(optarg);
			else if (ch == 'r')
				snprintf(reason, sizeof(reason), "%s", optarg);
			else
				usage(stderr, CTL_EXIT_USAGE);
		}
		if (optind != argc || !ovr_scope_ok(argv[2]) ||
		    (a = names_find(ovr_action_names, argv[3])) < 0) {
			fprintf(stderr, "deephealthctl: override add SCOPE ACTION -e DURATION -r REASON: "
			        "SCOPE region or registry:NAME (a glob too), ACTION force-pass, force-fail, "
			        "enforce or shadow\n");
			usage(stderr, CTL_EXIT_USAGE);
		}
		if (span_s <= 0 || span_s > x->conf->override_max) {
			fprintf(stderr, "deephealthctl: -e: an expiry is required, at most "
			        "responder.override_max (%ds): 90s, 45m, 8h, 7d\n", x->conf->override_max);
			usage(stderr, CTL_EXIT_USAGE);
		}
		if (reason[0] == '\0' || strlen(reason) > 500 ||
		    strspn(reason, " !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		                   "[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~") != strlen(reason)) {
			fprintf(stderr, "deephealthctl: -r: a reason is required: printable ASCII, at most "
			        "500 bytes\n");
			usage(stderr, CTL_EXIT_USAGE);
		}
		who(by, sizeof(by));
		v.scope = argv[2];
		v.action = (enum ovr_action)a;
		v.set = (int64_t)x->now;
		v.until = (int64_t)x->now + span_s;
		v.by = by;
		v.reason = reason;
		if (override_write(x, x->ovr, drop, &v) != 0) {
			rc = CTL_EXIT_CONFIG;
			goto out;
		}
		override_event(x, "add", &v);
		override_print(x, x->ovr ? x->ovr->n : 0, &v, 0);
	} else {
		size_t n = 0;
		long idx = -1;
		char *end;

		if (argc != 3)
			usage(stderr, CTL_EXIT_USAGE);
		errno = 0;
		idx = strtol(argv[2], &end, 10);
		if (errno != 0 || end == argv[2] || *end != '\0')
			idx = -1;
		for (size_t i = 0; x->ovr != NULL && i < x->ovr->n; i++) {
			drop[i] = idx > 0 ? (size_t)idx == i + 1 : strcmp(x->ovr->v[i].scope, argv[2]) == 0;
			n += (size_t)drop[i];
		}
		if (n == 0) {
			fprintf(stderr, "deephealthctl: no override %s in %s (see: deephealthctl override "
			        "list)\n", argv[2], x->conf->overrides);
			rc = CTL_EXIT_CONFIG;
			goto out;
		}
		if (override_write(x, x->ovr, drop, NULL) != 0) {
			rc = CTL_EXIT_CONFIG;
			goto out;
		}
		for (size_t i = 0; i < x->ovr->n; i++)
			if (drop[i]) {
				override_event(x, "remove", &x->ovr->v[i]);
				printf("removed: ");
				override_print(x, i, &x->ovr->v[i], 0);
			}
	}
out:
	free(drop);
	close(lockfd);
	return rc;
}

/* ---------------------------------------------------------------- history */

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
		char when[64], dep[DH_NAME_MAX + 1], from[16], to[16], cause[600];
		enum verdict v = VERDICT_PASS, now_v;
		uint32_t by = SNAP_NO_DEP;
		size_t k;
		int64_t t;

		line[strcspn(line, "\n")] = '\0';
		if (line[0] != '{' || evlog_field(line, "time", when, sizeof(when)) == NULL ||
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
 * stretches, from the prober's event log, oldest first: when a dependency went
 * down, why, how many registries it took out, and when it came back.
 */
static int
cmd_history(struct ctl *x, int argc, char **argv)
{
	const char *glob, *path;
	int64_t since = -1;
	char *line = NULL;
	size_t cap = 0;
	size_t n = 0, ndep = 0;
	FILE *f;
	int ch;

	optind = 1;
	while ((ch = getopt(argc, argv, "s:")) != -1) {
		if (ch != 's' || (since = parse_when(optarg, x->now)) < 0)
			usage(stderr, CTL_EXIT_USAGE);
	}
	if (optind + 1 != argc)
		usage(stderr, CTL_EXIT_USAGE);
	glob = argv[optind];
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
		blind = evlog_field(line, "event", ev, sizeof(ev)) != NULL && strcmp(ev, "blind") == 0;
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
			printf("%s  %-24s blind %-6s %s\n", when, "(region)",
			       evlog_field(line, "state", state, sizeof(state)) ? state : "?", cause);
			continue;
		}
		a = strstr(line, "\"registries_affected\":");
		snprintf(aff, sizeof(aff), "%s", a ? a + strlen("\"registries_affected\":") : "?");
		aff[strcspn(aff, ",}")] = '\0';
		printf("%s  %-24s %s -> %-4s %s registries  %s\n", when, dep,
		       evlog_field(line, "from", from, sizeof(from)) ? from : "?",
		       evlog_field(line, "to", to, sizeof(to)) ? to : "?", aff, cause);
	}
	if (x->json)
		printf("%s]\n", n ? "\n" : "");
	else if (ndep == 0)
		printf("no transition of %s%s in %s\n", glob, since >= 0 ? " in that time" : "", path);
	free(line);
	fclose(f);
	return CTL_EXIT_OK;
}

/* ---------------------------------------------------------------- check */

/* Nagios plugin states (monitoring-plugins' guidelines). */
enum { NAGIOS_OK, NAGIOS_WARNING, NAGIOS_CRITICAL, NAGIOS_UNKNOWN };
static const char *const nagios_names[] = { "OK", "WARNING", "CRITICAL", "UNKNOWN", NULL };

/* What check found, worst first: one list of reasons per state. */
struct alarm {
	int state;
	char text[NAGIOS_UNKNOWN][512];
};

static void alarm_add(struct alarm *a, int state, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
alarm_add(struct alarm *a, int state, const char *fmt, ...)
{
	char *t = a->text[state];
	size_t used = strlen(t);
	va_list ap;

	if (used > 0 && used + 2 < sizeof(a->text[state])) {
		memcpy(t + used, "; ", 3);
		used += 2;
	}
	va_start(ap, fmt);
	if (used + 1 < sizeof(a->text[state]))
		vsnprintf(t + used, sizeof(a->text[state]) - used, fmt, ap);
	va_end(ap);
	if (state > a->state)
		a->state = state;
}

/*
 * Nagios-convention plugin: is failover protecting this region, and is the
 * data it acts on fresh?  Critical when every answer fails open (blind,
 * stale, unusable snapshot, configuration error); warning when the snapshot
 * ages past -w, the kill switch or pass-through mode is left on longer than
 * -k.  One line, then perfdata.
 */
static int
cmd_check(struct ctl *x, int argc, char **argv)
{
	struct alarm a;
	struct answer_trace tr;
	long warn_age = -1, crit_age = -1, ks_max = 3600, expiring = 900;
	double warn_unknown = 1.0, crit_unknown = -1.0, unknown = 0.0;
	int64_t age = x->snap ? (int64_t)x->now - snap_created(x->snap) : -1;
	size_t fails = 0, nr = x->snap ? snap_reg_count(x->snap) : 0;
	int ch, blind = x->snap && (snap_flags(x->snap) & SNAP_FLAG_BLIND);
	struct stat st;

	memset(&a, 0, sizeof(a));
	optind = 1;
	opterr = 0;
	while ((ch = getopt(argc, argv, "w:c:k:x:u:U:")) != -1) {
		char *end;
		long v;

		errno = 0;
		if (ch == 'u' || ch == 'U') {
			double r = strtod(optarg, &end);

			if (errno != 0 || end == optarg || *end != '\0' || !(r >= 0.0 && r <= 1e9)) {
				printf("DEEPHEALTH UNKNOWN - usage: deephealthctl check [-w age] [-c age] [-k seconds] [-x seconds] [-u rate] [-U rate]\n");
				return NAGIOS_UNKNOWN;
			}
			*(ch == 'u' ? &warn_unknown : &crit_unknown) = r;
			continue;
		}
		v = optarg ? strtol(optarg, &end, 10) : -1;
		if (ch == '?' || errno != 0 || end == optarg || *end != '\0' || v < 1 || v > 864000) {
			printf("DEEPHEALTH UNKNOWN - usage: deephealthctl check [-w age] [-c age] [-k seconds] [-x seconds] [-u rate] [-U rate]\n");
			return NAGIOS_UNKNOWN;
		}
		if (ch == 'w')
			warn_age = v;
		else if (ch == 'c')
			crit_age = v;
		else if (ch == 'x')
			expiring = v;
		else
			ks_max = v;
	}
	if (optind != argc) {
		printf("DEEPHEALTH UNKNOWN - usage: deephealthctl check [-w age] [-c age] [-k seconds] [-x seconds] [-u rate] [-U rate]\n");
		return NAGIOS_UNKNOWN;
	}
	if (x->conf == NULL) {
		printf("DEEPHEALTH CRITICAL - %s does not load: every answer is 200 config-error, "
		       "failover is off\n", x->conf_path);
		return NAGIOS_CRITICAL;
	}
	/* Defaults: warn when two passes were missed, critical when responders fail open. */
	if (crit_age < 0)
		crit_age = x->conf->max_age;
	if (warn_age < 0)
		warn_age = 3L * x->conf->interval < crit_age ? 3L * x->conf->interval : crit_age;
	for (size_t i = 0; i < nr; i++) {
		struct snap_reg g;

		snap_reg_at(x->snap, i, &g);
		fails += g.verdict == VERDICT_FAIL && !(g.flags & SNAP_REG_SINGLE_REGION);
	}
	/* Pass-through is deliberate: judged below by how long it has been on. */
	if (status_regionwide(&x->st, x->now, &tr) && tr.po.reason != R_PASSTHROUGH)
		alarm_add(&a, NAGIOS_CRITICAL, "every answer is %d %s: failover is off", tr.po.http,
		          reason_str(tr.po.reason));
	if (x->snap == NULL)
		alarm_add(&a, NAGIOS_CRITICAL, "snapshot %s: %s", x->conf->snapshot_path,
		          snap_err_str(x->snap_err));
	else if (age > crit_age)
		alarm_add(&a, NAGIOS_CRITICAL, "snapshot %llds old (critical above %lds)", (long long)age,
		          crit_age);
	else if (age > warn_age)
		alarm_add(&a, NAGIOS_WARNING, "snapshot %llds old (warning above %lds): the prober is late",
		          (long long)age, warn_age);
	if (blind)
		alarm_add(&a, NAGIOS_CRITICAL, "the prober is blind: its witnesses fail");
	if (x->kill_switch) {
		int64_t on = stat(x->conf->kill_switch, &st) == 0 ? (int64_t)x->now - st.st_mtime : 0;

		alarm_add(&a, on > ks_max ? NAGIOS_WARNING : NAGIOS_OK,
		          "kill switch %s present for %llds%s: every answer passes through",
		          x->conf->kill_switch, (long long)on, on > ks_max ? " (left on)" : "");
	}
	if (x->ovr_errors > 0)
		alarm_add(&a, NAGIOS_WARNING, "overrides %s damaged (%d bad lines): every override is "
		          "ignored", x->conf->overrides, x->ovr_errors);
	for (size_t i = 0; x->ovr != NULL && i < x->ovr->n; i++) {
		const struct override *v = &x->ovr->v[i];
		int64_t on = (int64_t)x->now - v->set, left = v->until - (int64_t)x->now;

		if (left <= 0)
			continue;
		if (v->glob == NULL && v->action == OVR_FORCE_PASS && on > ks_max)
			alarm_add(&a, NAGIOS_WARNING, "region force-pass on for %llds (left on): failover "
			          "is off", (long long)on);
		else if (left <= expiring)
			alarm_add(&a, NAGIOS_WARNING, "override %s %s expires in %llds", v->scope,
			          ovr_action_names[v->action], (long long)left);
		else
			alarm_add(&a, NAGIOS_OK, "override %s %s in force", v->scope,
			          ovr_action_names[v->action]);
	}
	if (x->conf->mode == MODE_PASSTHROUGH) {
		int64_t on = stat(x->conf_path, &st) == 0 ? (int64_t)x->now - st.st_mtime : 0;

		alarm_add(&a, on > ks_max ? NAGIOS_WARNING : NAGIOS_OK,
		          "responder.mode is passthrough (configuration changed %llds ago)",
		          (long long)on);
	}
	/* A probe whose Host names no registry is answered 200: failover is off for it. */
	if (x->have_ctr) {
		unknown = counters_unknown_rate(&x->ctr, (int64_t)x->now, 5);
		if (crit_unknown > 0.0 && unknown >= crit_unknown)
			alarm_add(&a, NAGIOS_CRITICAL, "%.1f unknown-Host answers a minute (critical from "
			          "%.1f): probes that name no registry", unknown, crit_unknown);
		else if (warn_unknown > 0.0 && unknown >= warn_unknown)
			alarm_add(&a, NAGIOS_WARNING, "%.1f unknown-Host answers a minute (warning from "
			          "%.1f): probes that name no registry", unknown, warn_unknown);
	}
	if (a.text[NAGIOS_OK][0] == '\0' && a.state == NAGIOS_OK)
		alarm_add(&a, NAGIOS_OK, "enforcing, snapshot %llds old, %zu of %zu registries failed "
		          "over", (long long)age, fails, nr);
	printf("DEEPHEALTH %s -", names_at(nagios_names, a.state));
	for (int k = NAGIOS_CRITICAL, first = 1; k >= NAGIOS_OK; k--) {
		if (a.text[k][0] != '\0')
			printf("%s %s", first ? "" : ";", a.text[k]);
		first &= a.text[k][0] == '\0';
	}
	printf(" | age=%llds;%ld;%ld;0 blind=%d kill_switch=%d registries=%zu registries_failed=%zu",
	       (long long)(age < 0 ? 0 : age), warn_age, crit_age, blind, x->kill_switch, nr, fails);
	if (x->have_ctr) {
		printf(" unknown_hosts_per_min=%.2f;", unknown);
		if (warn_unknown > 0.0)
			printf("%.2f", warn_unknown);
		printf(";");
		if (crit_unknown > 0.0)
			printf("%.2f", crit_unknown);
		printf(";0");
	}
	printf("\n");
	return a.state;
}

/* ---------------------------------------------------------------- budget */

/* A load balancer's probing: docs/failover-timing.md's P, T + 1, recovery probes, W, TTL. */
struct lb {
	const char *name, *what;
	long interval, fail_after, back_after, timeout, ttl;
};

/*
 * Traffic Manager: 30 s or 10 s probing, 3 tolerated failures by default (out
 * at the 4th), back at the first good probe.  Route 53: 30 s or 10 s, failure
 * threshold 3 by default, the same number of good checks to come back.
 */
static const struct lb presets[] = {
	{ "tm30", "Traffic Manager, 30 s probing, 3 tolerated failures", 30, 4, 1, 10, 60 },
	{ "tm10", "Traffic Manager, 10 s probing, 3 tolerated failures", 10, 4, 1, 5, 60 },
	{ "r53", "Route 53 standard, 30 s interval, failure threshold 3", 30, 3, 3, 6, 60 },
	{ "r53fast", "Route 53 fast, 10 s interval, failure threshold 3", 10, 3, 3, 6, 60 },
};

static long
arg_num(const char *s, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		usage(stderr, CTL_EXIT_USAGE);
	return v;
}

static int
cmd_budget(struct ctl *x, int argc, char **argv)
{
	struct lb lb = presets[0];
	const struct conf *c = x->conf;
	double I, D, R, A, P, F, B, fo_max, fo_min, back, stale, ks_back, ks_out, Fw, Q;
	long follow = -1;
	int ch;

	optind = 1;
	while ((ch = getopt(argc, argv, "l:P:F:B:W:T:f:")) != -1) {
		switch (ch) {
		case 'l': {
			size_t k;

			for (k = 0; k < sizeof(presets) / sizeof(presets[0]); k++)
				if (strcmp(presets[k].name, optarg) == 0)
					break;
			if (k == sizeof(presets) / sizeof(presets[0]))
				usage(stderr, CTL_EXIT_USAGE);
			lb = presets[k];
			break;
		}
		case 'P': lb.interval = arg_num(optarg, 1, 3600); lb.what = "custom"; break;
		case 'F': lb.fail_after = arg_num(optarg, 1, 100); lb.what = "custom"; break;
		case 'B': lb.back_after = arg_num(optarg, 1, 100); lb.what = "custom"; break;
		case 'W': lb.timeout = arg_num(optarg, 1, 3600); lb.what = "custom"; break;
		case 'T': lb.ttl = arg_num(optarg, 0, 86400); lb.what = "custom"; break;
		case 'f': follow = arg_num(optarg, 0, 3600); break;
		default: usage(stderr, CTL_EXIT_USAGE);
		}
	}
	if (optind != argc)
		usage(stderr, CTL_EXIT_USAGE);
	if (c == NULL)
		return CTL_EXIT_CONFIG;
	/* The formulas of docs/failover-timing.md, worst case unless said. */
	I = c->interval;
	D = c->deadline;
	R = c->recheck_ms / 1000.0;
	A = c->max_age;
	P = (double)lb.interval;
	F = (double)lb.fail_after;
	B = (double)lb.back_after;
	/* A front door fed by deephealth-follow (docs/fleet.md): one follower interval and the
	 * prober's web server's stat cache (1 s) more, and under a quorum up to one prober
	 * interval more for the k-th prober to see it.  Failing open is not later: a snapshot's
	 * age counts from the prober's pass, wherever it is read. */
	if (follow < 0)
		follow = c->follow_sources != NULL ? 10 : 0;
	Fw = follow > 0 ? (double)follow + 1 : 0;
	Q = follow > 0 && c->follow_policy == FOLLOW_QUORUM ? I : 0;
	fo_max = c->fall * I + Q + D + Fw + R + F * P;
	fo_min = (c->fall - 1) * I + (F - 1) * P;
	back = c->rise * I + Q + D + Fw + R + B * P;
	stale = A + 1 + R + B * P;
	ks_back = R + B * P;
	ks_out = R + F * P;
	if (x->json) {
		printf("{\"load_balancer\":{\"preset\":\"%s\",\"interval\":%ld,\"fail_after\":%ld,"
		       "\"back_after\":%ld,\"timeout\":%ld,\"ttl\":%ld},"
		       "\"prober\":{\"interval\":%d,\"deadline\":%d,\"fall\":%d,\"rise\":%d},"
		       "\"recheck_ms\":%d,\"max_age\":%d,\"follower_interval\":%ld,\"quorum\":%s,"
		       "\"failover_min\":%.1f,\"failover_max\":%.1f,\"recovery_max\":%.1f,"
		       "\"fail_open_prober_dead_max\":%.1f,\"kill_switch_back_max\":%.1f,"
		       "\"kill_switch_removed_out_max\":%.1f,\"blip_absorbed_below\":%.1f}\n",
		       strcmp(lb.what, "custom") == 0 ? "custom" : lb.name, lb.interval, lb.fail_after,
		       lb.back_after, lb.timeout, lb.ttl, c->interval, c->deadline, c->fall, c->rise,
		       c->recheck_ms, c->max_age, follow, Q > 0 ? "true" : "false", fo_min, fo_max, back,
		       stale, ks_back, ks_out,
		       (c->fall - 1) * I);
		return CTL_EXIT_OK;
	}
	printf("load balancer  %s: probe every %lds, out after %ld failed, back after %ld good, "
	       "TTL %lds\n", lb.what, lb.interval, lb.fail_after, lb.back_after, lb.ttl);
	printf("prober         interval %ds, deadline %ds, fall %d, rise %d; recheck %dms, "
	       "max_age %ds\n", c->interval, c->deadline, c->fall, c->rise, c->recheck_ms,
	       c->max_age);
	if (follow > 0)
		printf("front door     fed by deephealth-follow every %lds%s\n", follow,
		       Q > 0 ? ", quorum (one prober interval more)" : "");
	printf("failover       %.1fs to %.1fs after a dependency fails (+ up to %lds for clients' DNS)\n",
	       fo_min, fo_max, lb.ttl);
	printf("recovery       at most %.1fs after it heals (+ %lds)\n", back, lb.ttl);
	printf("blips          shorter than %.0fs never move a registry\n", (c->fall - 1) * I);
	printf("prober dead    the region fails open at most %.1fs after its last snapshot\n", stale);
	printf("kill switch    back within %.1fs of touch; out again within %.1fs of rm\n", ks_back,
	       ks_out);
	return CTL_EXIT_OK;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	struct ctl x;
	int ch, rc;

	memset(&x, 0, sizeof(x));
	x.conf_path = getenv("DEEPHEALTH_CONFIG");
	/* "+": options after the command are the command's (budget's -P...). */
	while ((ch = getopt_long(argc, argv, "+c:jhV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c': x.conf_path = optarg; break;
		case 'j': x.json = 1; break;
		case 'V': printf("deephealthctl %s\n", DH_VERSION); return 0;
		case 'h': usage(stdout, 0); break;
		default: usage(stderr, CTL_EXIT_USAGE);
		}
	}
	if (x.conf_path == NULL || x.conf_path[0] == '\0')
		x.conf_path = DH_DEFAULT_CONF;
	if (optind >= argc)
		usage(stderr, CTL_EXIT_USAGE);
	log_init("deephealthctl", 0, LOG_LVL_WARN);
	if (strcmp(argv[optind], "status") == 0 && optind + 1 == argc) {
		ctl_load(&x);
		rc = cmd_status(&x);
	} else if (strcmp(argv[optind], "explain") == 0 && optind + 1 < argc) {
		ctl_load(&x);
		rc = cmd_explain(&x, argc - optind - 1, argv + optind + 1);
	} else if (strcmp(argv[optind], "override") == 0) {
		ctl_load(&x);
		rc = cmd_override(&x, argc - optind, argv + optind);
	} else if (strcmp(argv[optind], "history") == 0) {
		ctl_load(&x);
		rc = cmd_history(&x, argc - optind, argv + optind);
	} else if (strcmp(argv[optind], "check") == 0) {
		ctl_load(&x);
		rc = cmd_check(&x, argc - optind, argv + optind);
	} else if (strcmp(argv[optind], "budget") == 0) {
		ctl_load(&x);
		rc = cmd_budget(&x, argc - optind, argv + optind);
	} else {
		usage(stderr, CTL_EXIT_USAGE);
	}
	ctl_free(&x);
	return rc;
}
