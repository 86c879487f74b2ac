/*
 * status.c: the region's state as documents: the JSON status (the status
 * page's, and deephealthctl status --json) and the responders' Prometheus
 * metrics.  Both are written from what an answer is made of (configuration,
 * snapshot, kill switch, overrides) and the shared counters, so they say what
 * the answers are.  Nothing here is on the path of a /health answer.
 */
#define _GNU_SOURCE /* strcasestr */

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "answer.h"

#define TRANSITIONS_MAX 50
#define EVLOG_TAIL (64 * 1024)  /* how much of the event log's end is read for them */

/* A JSON string of s (len bytes), quoted. */
static void
jstr(FILE *f, const char *s, size_t len)
{
	char *e = util_json_strn(s, len);

	fprintf(f, "\"%s\"", e);
	free(e);
}

static void
jstr0(FILE *f, const char *s)
{
	jstr(f, s, strlen(s));
}

int
status_regionwide(const struct answer_state *st, time_t now, struct answer_trace *tr)
{
	char buf[4096];

	/* An empty Host: any region-wide reason is decided before the Host is looked at. */
	answer_request(st, "GET", "", NULL, now, tr, buf, sizeof(buf));
	return reason_is_regionwide(tr->po.reason);
}

/* v's index in its own file, from 0, as deephealthctl override list numbers it (less one). */
static size_t
file_index(const struct overrides *o, const struct override *v)
{
	size_t n = 0;

	for (const struct override *w = o->v; w < v; w++)
		n += w->origin == v->origin;
	return n;
}

void
status_override_json(FILE *f, size_t i, const struct override *v, time_t now)
{
	char until[32], set[32];
	int64_t rest = v->until - (int64_t)now;

	util_iso_time((time_t)v->until, until, sizeof(until));
	util_iso_time((time_t)v->set, set, sizeof(set));
	fprintf(f, "{\"index\":%zu,\"scope\":", i + 1);
	jstr0(f, v->scope);
	fprintf(f, ",\"action\":\"%s\",\"in_force\":%s,\"until\":\"%s\",\"expires_in\":%lld,"
	        "\"set\":\"%s\",\"by\":", ovr_action_names[v->action], rest > 0 ? "true" : "false",
	        until, (long long)(rest > 0 ? rest : 0), set);
	jstr0(f, v->by);
	fprintf(f, ",\"reason\":");
	jstr0(f, v->reason);
	fprintf(f, ",\"origin\":\"%s\",\"line\":%u,\"from\":", ovr_origin_names[v->origin], v->line);
	if (v->from != NULL)
		jstr0(f, v->from);
	else
		fprintf(f, "null");
	fprintf(f, "}");
}

/* Counts over the registries and, per dependency, how many it fails and degrades. */
struct tally {
	size_t pass, warn, fail, single, notpass_deps;
	size_t *fails, *degr;
};

static void
tally(const struct snapshot *s, struct tally *t)
{
	size_t nd = s ? snap_dep_count(s) : 0, nr = s ? snap_reg_count(s) : 0;

	memset(t, 0, sizeof(*t));
	t->fails = xcalloc(nd ? nd : 1, sizeof(*t->fails));
	t->degr = xcalloc(nd ? nd : 1, sizeof(*t->degr));
	for (size_t i = 0; i < nr; i++) {
		struct snap_reg g;

		snap_reg_at(s, i, &g);
		if (g.flags & SNAP_REG_SINGLE_REGION) {
			t->single++;
			continue;
		}
		t->pass += g.verdict == VERDICT_PASS;
		t->warn += g.verdict == VERDICT_WARN;
		t->fail += g.verdict == VERDICT_FAIL;
		if (g.decided_by != SNAP_NO_DEP && g.decided_by < nd) {
			t->fails[g.decided_by] += g.verdict == VERDICT_FAIL;
			t->degr[g.decided_by] += g.verdict == VERDICT_WARN;
		}
	}
	for (size_t i = 0; i < nd; i++) {
		struct snap_dep d;

		snap_dep_at(s, i, &d);
		t->notpass_deps += d.state != VERDICT_PASS;
	}
}

static void
tally_free(struct tally *t)
{
	free(t->fails);
	free(t->degr);
}

size_t
status_failing_over_by(const struct answer_state *st, time_t now, size_t *bydep, size_t nd,
                       size_t *forced, status_each_fn each, void *arg)
{
	const struct snapshot *s = st->snap;
	size_t nr = s ? snap_reg_count(s) : 0, n = 0;
	int forcing = 0;
	char name[DH_NAME_MAX + 1];

	if (forced != NULL)
		*forced = 0;
	/* Only an override forcing a fail can make a registry the snapshot passes answer 503. */
	for (size_t i = 0; st->ovr != NULL && i < st->ovr->n; i++)
		forcing |= st->ovr->v[i].action == OVR_FORCE_FAIL && st->ovr->v[i].until > (int64_t)now;
	for (size_t i = 0; i < nr; i++) {
		struct policy_out po;
		struct snap_reg g;

		snap_reg_at(s, i, &g);
		if (g.verdict != VERDICT_FAIL && !forcing)
			continue;
		snprintf(name, sizeof(name), "%.*s", (int)g.name_len, g.name);
		if (answer_registry(st, name, now, &po) != 503)
			continue;
		n++;
		if (each != NULL)
			each(arg, name, &po);
		if (po.reason == R_OVERRIDE_FAIL && forced != NULL)
			(*forced)++;
		else if (po.reason != R_OVERRIDE_FAIL && bydep != NULL && po.have_reg &&
		         po.reg.decided_by != SNAP_NO_DEP && po.reg.decided_by < nd)
			bydep[po.reg.decided_by]++;
	}
	return n;
}

size_t
status_failing_over(const struct answer_state *st, time_t now)
{
	return status_failing_over_by(st, now, NULL, 0, NULL, NULL, NULL);
}

/* Does name (len bytes) contain q, ignoring ASCII case?  An empty q matches all. */
static int
name_has(const char *name, size_t len, const char *q, size_t qlen)
{
	if (qlen == 0)
		return 1;
	for (size_t i = 0; i + qlen <= len; i++)
		if (strncasecmp(name + i, q, qlen) == 0)
			return 1;
	return 0;
}

/*
 * The registries that do not pass (single-region ones too) whose name has q:
 * at most limit of them, failing ones first, each with the operator override
 * that forces its answer, if any.
 */
static void
not_passing(FILE *f, const struct answer_state *st, time_t now, const char *q, size_t limit)
{
	const struct snapshot *s = st->snap;
	size_t nr = s ? snap_reg_count(s) : 0, nd = s ? snap_dep_count(s) : 0, matched = 0, shown = 0;
	size_t qlen = q ? strlen(q) : 0;
	char when[32], name[DH_NAME_MAX + 1];

	fprintf(f, ",\"not_passing\":{\"query\":");
	jstr(f, q ? q : "", qlen);
	fprintf(f, ",\"limit\":%zu,\"items\":[", limit);
	for (int want = VERDICT_FAIL; want >= VERDICT_WARN; want--) {
		for (size_t i = 0; i < nr; i++) {
			const struct override *force = NULL, *mode = NULL;
			struct snap_reg g;
			struct snap_dep d;

			snap_reg_at(s, i, &g);
			if (g.verdict != (enum verdict)want || !name_has(g.name, g.name_len, q, qlen))
				continue;
			if (matched++ >= limit)
				continue;
			util_iso_time((time_t)g.since, when, sizeof(when));
			fprintf(f, "%s{\"name\":", shown++ ? "," : "");
			jstr(f, g.name, g.name_len);
			fprintf(f, ",\"verdict\":\"%s\",\"since\":\"%s\",\"single_region\":%s,"
			        "\"decided_by\":", verdict_str(g.verdict), when,
			        g.flags & SNAP_REG_SINGLE_REGION ? "true" : "false");
			if (g.decided_by != SNAP_NO_DEP && g.decided_by < nd) {
				snap_dep_at(s, g.decided_by, &d);
				jstr(f, d.name, d.name_len);
				fprintf(f, ",\"cause\":");
				jstr(f, d.cause, d.cause_len);
			} else {
				fprintf(f, "null,\"cause\":null");
			}
			snprintf(name, sizeof(name), "%.*s", (int)g.name_len, g.name);
			ovr_lookup(st->ovr, name, (int64_t)now, &force, &mode);
			fprintf(f, ",\"override\":");
			if (force != NULL)
				fprintf(f, "\"%s\"", ovr_action_names[force->action]);
			else
				fprintf(f, "null");
			fprintf(f, "}");
		}
	}
	fprintf(f, "],\"matched\":%zu}", matched);
}

/* One item of the failing_over list: fill for status_failing_over_by. */
struct failing_list {
	FILE *f;
	const struct snapshot *s;
	size_t limit, shown;
};

static void
failing_item(void *arg, const char *name, const struct policy_out *po)
{
	struct failing_list *l = arg;
	struct snap_dep d;

	if (l->shown >= l->limit)
		return;
	fprintf(l->f, "%s{\"name\":", l->shown++ ? "," : "");
	jstr0(l->f, name);
	fprintf(l->f, ",\"reason\":\"%s\",\"decided_by\":", reason_str(po->reason));
	if (po->reason != R_OVERRIDE_FAIL && po->have_reg && po->reg.decided_by != SNAP_NO_DEP &&
	    po->reg.decided_by < snap_dep_count(l->s)) {
		snap_dep_at(l->s, po->reg.decided_by, &d);
		jstr(l->f, d.name, d.name_len);
	} else {
		fprintf(l->f, "null");
	}
	fprintf(l->f, ",\"single_region\":%s}", po->have_reg &&
	        (po->reg.flags & SNAP_REG_SINGLE_REGION) ? "true" : "false");
}

/*
 * ?failing=1: the registries a probe gets 503 for now, whatever made it so (a
 * failing verdict, an override forcing a fail), the first limit in snapshot order.
 */
static void
failing_json(FILE *f, const struct answer_state *st, time_t now, size_t limit)
{
	struct failing_list l = { f, st->snap, limit, 0 };
	size_t n;

	fprintf(f, ",\"failing_over\":{\"limit\":%zu,\"items\":[", limit);
	n = status_failing_over_by(st, now, NULL, 0, NULL, failing_item, &l);
	fprintf(f, "],\"matched\":%zu}", n);
}

/*
 * One registry in detail (?registry=NAME): its verdict and what decided it,
 * and the answer a probe gets for it now, as answer_request would decide it
 * (overrides, mode, fail-open applied).  "found": false when the snapshot has
 * no such registry (or there is no snapshot).
 */
static void
registry_json(FILE *f, const struct answer_state *st, time_t now, const char *name)
{
	const struct snapshot *s = st->snap;
	const struct override *force = NULL, *mode = NULL;
	struct policy_out po;
	struct snap_reg g;
	struct snap_dep d;
	char when[32];
	int found = s != NULL && snap_find_reg(s, name, strlen(name), &g);

	answer_registry(st, name, now, &po);
	fprintf(f, ",\"registry\":{\"name\":");
	jstr0(f, name);
	fprintf(f, ",\"found\":%s,\"answer\":{\"http\":%d,\"status\":\"%s\",\"reason\":\"%s\"}",
	        found ? "true" : "false", po.http, verdict_str(po.status), reason_str(po.reason));
	if (!found) {
		fprintf(f, "}");
		return;
	}
	util_iso_time((time_t)g.since, when, sizeof(when));
	fprintf(f, ",\"verdict\":\"%s\",\"since\":\"%s\",\"single_region\":%s,\"decided_by\":",
	        verdict_str(g.verdict), when, g.flags & SNAP_REG_SINGLE_REGION ? "true" : "false");
	if (g.decided_by != SNAP_NO_DEP && g.decided_by < snap_dep_count(s)) {
		snap_dep_at(s, g.decided_by, &d);
		jstr(f, d.name, d.name_len);
		fprintf(f, ",\"cause\":");
		jstr(f, d.cause, d.cause_len);
	} else {
		fprintf(f, "null,\"cause\":null");
	}
	fprintf(f, ",\"uses\":[");
	for (uint32_t k = 0; k < g.nuses; k++) {
		snap_dep_at(s, snap_use_at(s, g.uses + k), &d);
		fprintf(f, "%s", k ? "," : "");
		jstr(f, d.name, d.name_len);
	}
	ovr_lookup(st->ovr, name, (int64_t)now, &force, &mode);
	/* Or one on the dependency that decided its verdict (a forced pass lets it back). */
	if (force == NULL && g.decided_by != SNAP_NO_DEP && g.decided_by < snap_dep_count(s)) {
		snap_dep_at(s, g.decided_by, &d);
		force = ovr_dep_lookup(st->ovr, d.name, d.name_len, (int64_t)now);
	}
	fprintf(f, "],\"override\":");
	if (force != NULL)
		status_override_json(f, file_index(st->ovr, force), force, now);
	else
		fprintf(f, "null");
	fprintf(f, "}");
}

/* One event-log line as a transition item; 0 when it is none of ours. */
static int
transition_item(FILE *f, const char *line, int first)
{
	char when[64], ev[32], subject[600], from[32] = "", to[32] = "", cause[1200] = "", a[64], by[300];
	const char *kind;
	int have_from = 0;

	if (line[0] != '{' || evlog_field(line, "time", when, sizeof(when)) == NULL)
		return 0;
	if (evlog_field(line, "event", ev, sizeof(ev)) == NULL) {
		if (evlog_field(line, "dependency", subject, sizeof(subject)) == NULL ||
		    evlog_field(line, "from", from, sizeof(from)) == NULL ||
		    evlog_field(line, "to", to, sizeof(to)) == NULL)
			return 0;
		kind = "transition";
		have_from = 1;
		if (evlog_field(line, "cause", cause, sizeof(cause)) == NULL)
			cause[0] = '\0';
	} else if (strcmp(ev, "blind") == 0 || strcmp(ev, "guard") == 0) {
		kind = ev[0] == 'b' ? "blind" : "guard";
		snprintf(subject, sizeof(subject), "region");
		if (evlog_field(line, "state", to, sizeof(to)) == NULL)
			to[0] = '\0';
		if (evlog_field(line, "cause", cause, sizeof(cause)) == NULL)
			cause[0] = '\0';
	} else if (strcmp(ev, "override") == 0) {
		kind = "override";
		if (evlog_field(line, "scope", subject, sizeof(subject)) == NULL ||
		    evlog_field(line, "change", to, sizeof(to)) == NULL)
			return 0;
		if (evlog_field(line, "action", a, sizeof(a)) == NULL)
			a[0] = '\0';
		if (evlog_field(line, "by", by, sizeof(by)) == NULL)
			by[0] = '\0';
		if (evlog_field(line, "reason", cause, sizeof(cause)) == NULL)
			cause[0] = '\0';
		evlog_unescape(by);
		evlog_unescape(cause);
		/* "force-pass by alice: INC-1" */
		{
			char *c = strdup(cause);

			snprintf(cause, sizeof(cause), "%s by %s: %s", a, by, c ? c : "");
			free(c);
		}
	} else {
		return 0;
	}
	evlog_unescape(when);
	evlog_unescape(subject);
	evlog_unescape(from);
	evlog_unescape(to);
	if (strcmp(kind, "override") != 0)
		evlog_unescape(cause);
	fprintf(f, "%s{\"time\":", first ? "" : ",");
	jstr0(f, when);
	fprintf(f, ",\"event\":\"%s\",\"subject\":", kind);
	jstr0(f, subject);
	fprintf(f, ",\"from\":");
	if (have_from)
		jstr0(f, from);
	else
		fprintf(f, "null");
	fprintf(f, ",\"to\":");
	jstr0(f, to);
	fprintf(f, ",\"cause\":");
	jstr0(f, cause);
	fprintf(f, "}");
	return 1;
}

/* The last TRANSITIONS_MAX events of the event log, newest first. */
static void
transitions(FILE *f, const char *path)
{
	char *buf, *lines[TRANSITIONS_MAX * 4];
	size_t n = 0, shown = 0;
	ssize_t got;
	struct stat st;
	off_t from;
	int fd;

	fprintf(f, ",\"transitions\":[");
	if (path == NULL || path[0] == '\0' || (fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		fprintf(f, "]");
		return;
	}
	buf = xmalloc(EVLOG_TAIL + 1);
	from = fstat(fd, &st) == 0 && st.st_size > EVLOG_TAIL ? st.st_size - EVLOG_TAIL : 0;
	got = pread(fd, buf, EVLOG_TAIL, from);
	close(fd);
	if (got > 0) {
		char *p = buf, *end = buf + got;

		*end = '\0';
		/* From the middle of the file: the first line is a piece; skip it. */
		if (from > 0 && (p = memchr(buf, '\n', (size_t)got)) != NULL)
			p++;
		while (p != NULL && p < end) {
			char *nl = memchr(p, '\n', (size_t)(end - p));

			if (nl == NULL)
				break; /* a line still being written */
			*nl = '\0';
			lines[n++ % (TRANSITIONS_MAX * 4)] = p;
			p = nl + 1;
		}
	}
	/* Newest first; lines that are not events are passed over. */
	for (size_t k = 0; k < n && k < TRANSITIONS_MAX * 4 && shown < TRANSITIONS_MAX; k++)
		shown += (size_t)transition_item(f, lines[(n - 1 - k) % (TRANSITIONS_MAX * 4)],
		                                 shown == 0);
	free(buf);
	fprintf(f, "]");
}

/*
 * The override file's state: where the overrides in force come from, and the
 * lines a damaged file has that every responder ignores (the page lists them).
 */
static void
overrides_file_json(FILE *f, const char *key, const char *path, const struct ovr_view *vw)
{
	enum ovr_file_state state = vw != NULL ? vw->state : OVR_FILE_NONE;
	char when[32], good[4200];

	fprintf(f, ",\"%s\":{\"path\":", key);
	jstr0(f, path);
	fprintf(f, ",\"state\":\"%s\",\"bad_lines\":%d,\"fallback\":",
	        ovr_file_state_names[state], vw != NULL ? vw->errors : 0);
	if (state == OVR_FILE_FALLBACK) {
		util_iso_time((time_t)vw->good_time, when, sizeof(when));
		snprintf(good, sizeof(good), "%s%s", path, OVR_GOOD_SUFFIX);
		fprintf(f, "{\"path\":");
		jstr0(f, good);
		fprintf(f, ",\"written\":\"%s\"}", when);
	} else {
		fprintf(f, "null");
	}
	fprintf(f, ",\"ignored\":[");
	for (size_t i = 0; vw != NULL && i < vw->nbad; i++) {
		fprintf(f, "%s{\"line\":%u,\"text\":", i ? "," : "", vw->bad[i].line);
		jstr0(f, vw->bad[i].text);
		fprintf(f, ",\"error\":");
		jstr0(f, vw->bad[i].message);
		fprintf(f, "}");
	}
	fprintf(f, "]}");
}

/*
 * The failover guard (docs/guard.md): whether the snapshot says it holds, what
 * it counts there, and the bound as this machine's configuration has it (a
 * follower's door may not configure the prober's keys: then "" and null).
 */
static void
guard_json(FILE *f, const struct conf *c, const struct snapshot *s)
{
	size_t multi = 0, fails = snap_failing_multi(s, &multi);
	char bound[32] = "";

	if (c != NULL)
		conf_bound_str(&c->guard_max_failing, bound, sizeof(bound));
	fprintf(f, ",\"guard\":{\"holding\":%s,\"failing\":%zu,\"multi_region\":%zu,"
	        "\"max_failing\":\"%s\",\"bound\":", s != NULL && (snap_flags(s) & SNAP_FLAG_GUARD) ?
	        "true" : "false", fails, multi, bound);
	if (bound[0] != '\0')
		fprintf(f, "%zu}", conf_bound_of(&c->guard_max_failing, multi));
	else
		fprintf(f, "null}");
}

void
status_json(FILE *f, const struct status_in *in)
{
	const struct answer_state *st = in->st;
	const struct conf *c = st->conf;
	const struct snapshot *s = st->snap;
	struct answer_trace tr;
	struct tally t;
	size_t nd = s ? snap_dep_count(s) : 0;
	int regionwide = status_regionwide(st, in->now, &tr);
	char when[32];

	tally(s, &t);
	util_iso_time(in->now, when, sizeof(when));
	fprintf(f, "{\"version\":1,\"generated\":\"%s\",\"node\":", when);
	jstr0(f, in->node ? in->node : "");
	fprintf(f, ",\"region\":");
	jstr0(f, c ? c->region : "");
	fprintf(f, ",\"config\":");
	jstr0(f, in->conf_path);
	fprintf(f, ",\"config_loaded\":%s", c ? "true" : "false");
	if (c != NULL) {
		fprintf(f, ",\"mode\":\"%s\",\"kill_switch\":{\"path\":", names_at(mode_names, (int)c->mode));
		jstr0(f, c->kill_switch);
		fprintf(f, ",\"present\":%s},\"snapshot\":{\"path\":", st->kill_switch ? "true" : "false");
		jstr0(f, c->snapshot_path);
		fprintf(f, ",\"state\":\"%s\",\"detail\":", st->snap_err == SNAP_OK ? "ok" :
		        snap_err_str(st->snap_err));
		jstr0(f, in->snap_detail ? in->snap_detail : "");
		fprintf(f, ",\"max_age\":%d", c->max_age);
		if (s != NULL) {
			util_iso_time((time_t)snap_created(s), when, sizeof(when));
			fprintf(f, ",\"created\":\"%s\",\"age\":%lld,\"interval\":%u,\"blind\":%s,"
			        "\"guard\":%s", when, (long long)((int64_t)in->now - snap_created(s)),
			        snap_interval(s), snap_flags(s) & SNAP_FLAG_BLIND ? "true" : "false",
			        snap_flags(s) & SNAP_FLAG_GUARD ? "true" : "false");
		}
		fprintf(f, "}");
	} else {
		/* Without a configuration nothing says where the snapshot is. */
		fprintf(f, ",\"snapshot\":{\"path\":\"\",\"state\":\"not read\",\"detail\":"
		        "\"the configuration did not load\",\"max_age\":0}");
	}
	fprintf(f, ",\"answers\":{\"regionwide\":%s,\"http\":%d,\"reason\":\"%s\","
	        "\"failing_over\":%zu}", regionwide ? "true" : "false", regionwide ? tr.po.http : 0,
	        regionwide ? reason_str(tr.po.reason) : "per-registry", status_failing_over(st, in->now));
	guard_json(f, c, s);
	if (c != NULL) {
		overrides_file_json(f, "overrides_file", c->overrides, in->ovr_view);
		overrides_file_json(f, "region_overrides_file", c->region_overrides, in->rovr_view);
	}
	fprintf(f, ",\"overrides_damaged\":%s,\"overrides\":[",
	        (in->ovr_view != NULL && in->ovr_view->errors > 0) ||
	        (in->rovr_view != NULL && in->rovr_view->errors > 0) ? "true" : "false");
	/* Each with its index in its own file (deephealthctl override remove [--region-wide] N). */
	for (size_t i = 0, k = 0; st->ovr != NULL && i < st->ovr->n; i++)
		if (st->ovr->v[i].until > (int64_t)in->now) {
			fprintf(f, "%s", k++ ? "," : "");
			status_override_json(f, file_index(st->ovr, &st->ovr->v[i]), &st->ovr->v[i], in->now);
		}
	fprintf(f, "],\"registries\":{\"total\":%zu,\"pass\":%zu,\"warn\":%zu,\"fail\":%zu,"
	        "\"single_region\":%zu}", s ? snap_reg_count(s) : 0, t.pass, t.warn, t.fail, t.single);
	not_passing(f, st, in->now, in->query, in->limit);
	if (in->failing)
		failing_json(f, st, in->now, in->limit);
	if (in->registry != NULL)
		registry_json(f, st, in->now, in->registry);
	fprintf(f, ",\"dependencies_total\":%zu,\"dependencies\":[", nd);
	for (size_t i = 0, k = 0; i < nd; i++) {
		struct snap_dep d;

		snap_dep_at(s, i, &d);
		if (d.state == VERDICT_PASS)
			continue;
		util_iso_time((time_t)d.since, when, sizeof(when));
		fprintf(f, "%s{\"name\":", k++ ? "," : "");
		jstr(f, d.name, d.name_len);
		fprintf(f, ",\"state\":\"%s\",\"kind\":\"%s\",\"severity\":\"%s\",\"witness\":%s,"
		        "\"since\":\"%s\",\"registries_failed\":%zu,\"registries_degraded\":%zu,"
		        "\"cause\":", verdict_str(d.state), dep_kind_str(d.kind),
		        severity_str(d.severity), d.flags & SNAP_DEP_WITNESS ? "true" : "false", when,
		        t.fails[i], t.degr[i]);
		jstr(f, d.cause, d.cause_len);
		fprintf(f, "}");
	}
	fprintf(f, "]");
	transitions(f, c ? c->event_log : NULL);
	if (in->ctr != NULL) {
		struct counters_shm *m = in->ctr;
		uint64_t invalid = 0;

		for (int k = HK_EMPTY; k <= HK_IP_LITERAL; k++)
			invalid += counters_get(&m->hosts[k]);
		util_iso_time((time_t)m->created, when, sizeof(when));
		fprintf(f, ",\"hosts\":{\"unknown\":%llu,\"invalid\":%llu,\"error\":%llu,"
		        "\"unknown_per_min\":%.2f},\"counters\":{\"shared\":%s,\"since\":\"%s\"}",
		        (unsigned long long)counters_get(&m->hosts[HK_UNKNOWN]),
		        (unsigned long long)invalid,
		        (unsigned long long)counters_get(&m->hosts[HK_RESOLVER_ERROR]),
		        counters_unknown_rate(m, (int64_t)in->now, 5), in->ctr_shared ? "true" : "false",
		        when);
	}
	fprintf(f, ",\"fleet\":");
	if (st->fleet != NULL && st->fleet->present)
		fleet_json(f, st->fleet, in->now);
	else
		fprintf(f, "null");
	fprintf(f, "}\n");
	tally_free(&t);
}

/* ---------------------------------------------------------------- metrics */

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

/* ---------------------------------------------------------------- regions */

void
status_regions_json(FILE *f, const struct status_in *in, const struct regions *rg, const char *err)
{
	const struct conf *c = in->st->conf;
	char when[32];

	util_iso_time(in->now, when, sizeof(when));
	fprintf(f, "{\"version\":1,\"generated\":\"%s\",\"node\":", when);
	jstr0(f, in->node ? in->node : "");
	fprintf(f, ",\"region\":");
	jstr0(f, c ? c->region : "");
	fprintf(f, ",\"file\":{\"path\":");
	jstr0(f, c ? c->regions : "");
	fprintf(f, ",\"state\":\"%s\",\"detail\":", rg != NULL ? "ok" :
	        c == NULL || c->regions[0] == '\0' ? "none" : "invalid");
	jstr0(f, rg != NULL ? "" : c == NULL ? "the configuration did not load" :
	      c->regions[0] == '\0' ? "responder.regions is not set" : err);
	fprintf(f, "},\"description\":");
	if (rg != NULL)
		regions_json(f, rg, c ? c->region : NULL);
	else
		fprintf(f, "null");
	fprintf(f, "}\n");
}

/* ---- routing: which document a REQUEST_URI names, and the status document's query ---- */

#define STATUS_LIMIT 200      /* registries listed when the request does not say */

enum status_doc
status_route(const char *uri, const char **query)
{
	size_t n;

	*query = NULL;
	if (uri == NULL)
		return DOC_HEALTH;
	n = strcspn(uri, "?");
	if (uri[n] == '?')
		*query = uri + n + 1;
	if (n == sizeof(STATUS_DOC_PATH) - 1 && memcmp(uri, STATUS_DOC_PATH, n) == 0)
		return DOC_STATUS;
	if (n == sizeof(METRICS_DOC_PATH) - 1 && memcmp(uri, METRICS_DOC_PATH, n) == 0)
		return DOC_METRICS;
	if (n == sizeof(EVENTS_DOC_PATH) - 1 && memcmp(uri, EVENTS_DOC_PATH, n) == 0)
		return DOC_EVENTS;
	if (n == sizeof(REGIONS_DOC_PATH) - 1 && memcmp(uri, REGIONS_DOC_PATH, n) == 0)
		return DOC_REGIONS;
	return DOC_HEALTH;
}

static int
hexval(int c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 :
	       c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

void
status_query(const char *query, struct status_q *sq)
{
	memset(sq, 0, sizeof(*sq));
	sq->limit = STATUS_LIMIT;
	while (query != NULL && *query != '\0') {
		size_t len = strcspn(query, "&");
		int is_q = strncmp(query, "q=", 2) == 0;

		if (is_q || strncmp(query, "registry=", 9) == 0) {
			char *out = is_q ? sq->q : sq->registry;
			size_t w = 0, size = is_q ? sizeof(sq->q) : sizeof(sq->registry);

			for (size_t i = is_q ? 2 : 9; i < len && w + 1 < size; i++) {
				int c = (unsigned char)query[i];

				if (c == '%' && i + 2 < len && hexval(query[i + 1]) >= 0 &&
				    hexval(query[i + 2]) >= 0) {
					c = hexval(query[i + 1]) * 16 + hexval(query[i + 2]);
					i += 2;
				} else if (c == '+') {
					c = ' ';
				}
				/* Not a name byte: no registry can contain it; a space is trimmed. */
				if (c == ' ')
					continue;
				out[w++] = util_is_name_byte((unsigned char)c) ? (char)c : '/';
			}
			out[w] = '\0';
		} else if (strncmp(query, "limit=", 6) == 0) {
			long v = strtol(query + 6, NULL, 10);

			sq->limit = v < 1 ? 1 : v > STATUS_LIMIT_MAX ? STATUS_LIMIT_MAX : (size_t)v;
		} else if (len == 9 && strncmp(query, "failing=1", 9) == 0) {
			sq->failing = 1;
		}
		query += len + (query[len] == '&');
	}
}
