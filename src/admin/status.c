/*
 * status.c: the region's state as JSON documents: the status document (the
 * status page's, and deephealthctl status --json) and the regions document
 * (the global page's).  Written from what an answer is made of (configuration,
 * snapshot, kill switch, overrides) and the shared counters, so they say what
 * the answers are; the same counts as metrics are metrics.c's.
 */
#define _GNU_SOURCE /* strcasestr */

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "admin.h"

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

/* One event-log line as a transition item; 0 when it is none of those listed. */
static int
transition_item(FILE *f, const char *line, int first)
{
	const char *subject, *from = NULL, *to, *cause;
	struct evlog_event ev;
	char why[160], *made = NULL;

	if (evlog_parse(line, strlen(line), &ev, why, sizeof(why)) != 0)
		return 0;
	cause = evlog_str_of(&ev, "cause");
	if (strcmp(ev.kind, "transition") == 0) {
		subject = evlog_str_of(&ev, "dependency");
		from = evlog_str_of(&ev, "from");
		to = evlog_str_of(&ev, "to");
	} else if (strcmp(ev.kind, "blind") == 0 || strcmp(ev.kind, "guard") == 0) {
		subject = "region";
		to = evlog_str_of(&ev, "state");
	} else if (strcmp(ev.kind, "override") == 0) {
		const char *a = evlog_str_of(&ev, "action"), *by = evlog_str_of(&ev, "by"),
		           *reason = evlog_str_of(&ev, "reason");

		subject = evlog_str_of(&ev, "scope");
		to = evlog_str_of(&ev, "change");
		/* "force-pass by alice: INC-1" */
		size_t len;

		a = a ? a : "";
		by = by ? by : "";
		reason = reason ? reason : "";
		len = strlen(a) + strlen(by) + strlen(reason) + 8;
		made = xmalloc(len);
		snprintf(made, len, "%s by %s: %s", a, by, reason);
		cause = made;
	} else {
		evlog_event_free(&ev);
		return 0;
	}
	if (subject == NULL || to == NULL || (strcmp(ev.kind, "transition") == 0 && from == NULL)) {
		free(made);
		evlog_event_free(&ev);
		return 0;
	}
	fprintf(f, "%s{\"time\":", first ? "" : ",");
	jstr0(f, ev.time);
	fprintf(f, ",\"event\":\"%s\",\"subject\":", ev.kind);
	jstr0(f, subject);
	fprintf(f, ",\"from\":");
	if (from != NULL)
		jstr0(f, from);
	else
		fprintf(f, "null");
	fprintf(f, ",\"to\":");
	jstr0(f, to);
	fprintf(f, ",\"cause\":");
	jstr0(f, cause ? cause : "");
	fprintf(f, "}");
	free(made);
	evlog_event_free(&ev);
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
status_input(const struct inputs *in, const struct answer_state *st, time_t now,
             struct status_in *out)
{
	memset(out, 0, sizeof(*out));
	out->st = st;
	out->conf_path = in->conf_path;
	out->snap_detail = in->snap_detail;
	out->ovr_view = &in->ovr.vw;
	out->rovr_view = &in->rovr.vw;
	out->now = now;
	out->ctr = in->have_ctr ? in->ctr.m : NULL;
	out->ctr_shared = in->ctr.shared;
	out->node = in->node;
	out->limit = STATUS_LIMIT_MAX;
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
