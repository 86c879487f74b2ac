/*
 * cmd_where.c: deephealthctl where: where a name is served now, asked of
 * every region from outside: each front door's answer to the request a load
 * balancer sends (GET path, Host: the name), each region's admin side for
 * why (status.json?registry=), and the routing that follows.  A region that
 * does not answer is shown as such and counted as failing, as a load balancer
 * counts it; never as healthy.
 */
#define _GNU_SOURCE /* strptime, timegm */

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "lb.h"

#define DEFAULT_REGIONS "/etc/deephealth/regions.conf"
#define ADMIN_BODY_MAX (4 * 1024 * 1024)
#define ALL_MAX 1000 /* names --all looks at, at most */

enum region_state { RS_SERVING, RS_FAILING, RS_UNREACHABLE };
static const char *const region_state_names[] = { "serving", "failing", "unreachable", NULL };

/* What one region's admin side said of the registry. */
struct why {
	int asked, ok;                 /* asked; answered with a usable document */
	char err[200];
	json_t *doc;                   /* the status document (owned) */
	int64_t clock_offset;          /* its clock minus ours, seconds */
};

/* One name in one region: its front doors' answers and the admin side. */
struct region_view {
	const struct region *g;
	struct http_get *doors;        /* g->naddr of them (in the request array) */
	enum region_state state;
	size_t n200, nanswered;
	struct why why;
};

/* The string at path a.b of obj, or NULL. */
static const char *
jget_str(json_t *obj, const char *a, const char *b)
{
	json_t *v = json_object_get(obj, a);

	if (b != NULL)
		v = json_object_get(v, b);
	return json_string_value(v);
}

/* "2026-12-07T10:00:00Z" as seconds, -1 when not one. */
static int64_t
iso_secs(const char *s)
{
	struct tm tm;
	char *end;

	memset(&tm, 0, sizeof(tm));
	if (s == NULL || (end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm)) == NULL || *end != '\0')
		return -1;
	return (int64_t)timegm(&tm);
}

/* The admin side's document from g (asked at our time now), into w. */
static void
why_read(struct why *w, const struct http_get *g, time_t now)
{
	json_error_t je;
	int64_t gen;

	w->asked = 1;
	if (g->code != 200) {
		if (g->code == 0)
			snprintf(w->err, sizeof(w->err), "%s", g->err);
		else
			snprintf(w->err, sizeof(w->err), "HTTP %ld", g->code);
		return;
	}
	if ((w->doc = json_loadb(g->body ? g->body : "", g->len, 0, &je)) == NULL ||
	    !json_is_object(w->doc)) {
		snprintf(w->err, sizeof(w->err), "not a status document: %s", w->doc ? "not an object" :
		         je.text);
		json_decref(w->doc);
		w->doc = NULL;
		return;
	}
	w->ok = 1;
	gen = iso_secs(jget_str(w->doc, "generated", NULL));
	/* Its clock against ours, to the request's middle (whole seconds on both sides). */
	w->clock_offset = gen >= 0 ? gen - ((int64_t)now + g->ms / 2000) : 0;
}

/* The region's routing state from its front doors' answers. */
static void
region_judge(struct region_view *r)
{
	r->n200 = r->nanswered = 0;
	for (size_t k = 0; k < r->g->naddr; k++) {
		r->nanswered += r->doors[k].code != 0;
		r->n200 += r->doors[k].code == 200;
	}
	r->state = r->n200 > 0 ? RS_SERVING : r->nanswered > 0 ? RS_FAILING : RS_UNREACHABLE;
}

/*
 * The routing that follows: priority (the first serving region in the name's
 * order) and, for clients nearest each region, performance (that region when
 * it serves, else the first serving one in the name's order).  With no region
 * serving, a load balancer serves every region (its fallback): NULL.
 */
static const struct region_view *
first_serving(const struct region_view *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].state == RS_SERVING)
			return &v[i];
	return NULL;
}

/* "fail since T (4m 2s): sa1: HTTP 500; decided by freshest 10.0.0.5:80" for a person. */
static void
why_text(const struct why *w, time_t now, char *out, size_t len)
{
	json_t *reg, *fleet;
	const char *since, *dep, *cause, *decided = NULL, *node;
	char age[32], ovr[300] = "", by[300];
	int64_t t;

	if (!w->asked) {
		snprintf(out, len, "no admin side in the regions description");
		return;
	}
	if (!w->ok) {
		snprintf(out, len, "admin side unreachable (%s)", w->err);
		return;
	}
	reg = json_object_get(w->doc, "registry");
	if (!json_is_true(json_object_get(reg, "found"))) {
		snprintf(out, len, "not in this region's snapshot (%s)",
		         jget_str(w->doc, "snapshot", "state") ? jget_str(w->doc, "snapshot", "state") :
		         "?");
		return;
	}
	since = jget_str(reg, "since", NULL);
	dep = json_string_value(json_object_get(reg, "decided_by"));
	cause = json_string_value(json_object_get(reg, "cause"));
	t = iso_secs(since);
	span(t >= 0 ? (int64_t)now - t : 0, age, sizeof(age));
	if (json_is_object(json_object_get(reg, "override")))
		snprintf(ovr, sizeof(ovr), "; override %s by %s: %s",
		         jget_str(reg, "override", "action") ? jget_str(reg, "override", "action") : "?",
		         jget_str(reg, "override", "by") ? jget_str(reg, "override", "by") : "?",
		         jget_str(reg, "override", "reason") ? jget_str(reg, "override", "reason") : "");
	fleet = json_object_get(w->doc, "fleet");
	if (json_is_object(fleet))
		decided = json_string_value(json_object_get(fleet, "decided"));
	node = jget_str(w->doc, "node", NULL);
	if (decided != NULL)
		snprintf(by, sizeof(by), "%s", decided);
	else
		snprintf(by, sizeof(by), "the prober on %s", node ? node : "?");
	snprintf(out, len, "%s since %s (%s)%s%s%s%s; answer %lld %s; decided by %s",
	         jget_str(reg, "verdict", NULL) ? jget_str(reg, "verdict", NULL) : "?",
	         since ? since : "?", age, dep ? ": " : "", dep ? dep : "", cause ? ": " : "",
	         cause ? cause : "", (long long)json_integer_value(json_object_get(
	         json_object_get(reg, "answer"), "http")),
	         jget_str(reg, "answer", "reason") ? jget_str(reg, "answer", "reason") : "?", by);
	if (ovr[0] != '\0')
		snprintf(out + strlen(out), len - strlen(out), "%s", ovr);
}

/* One door's answer as text: "503 fail dependency-failed" or the error. */
static void
door_text(const struct http_get *g, char *out, size_t len)
{
	if (g->code == 0)
		snprintf(out, len, "no answer: %s", g->err);
	else if (g->status[0] == '\0')
		snprintf(out, len, "%ld (not deephealth's answer: no X-Deephealth-Status)", g->code);
	else
		snprintf(out, len, "%ld %s %s%s%s%s", g->code, g->status, g->reason,
		         g->age[0] ? ", snapshot " : "", g->age, g->age[0] ? " s old" : "");
}

static void
print_json_str(const char *s)
{
	jstr(s, strlen(s));
}

/* The routing section, text or JSON. */
static void
routing_print(const struct region_view *v, size_t n, int json)
{
	const struct region_view *first = first_serving(v, n);

	if (json) {
		printf(",\"routing\":{\"all_failing\":%s,\"priority\":", first ? "false" : "true");
		if (first)
			print_json_str(first->g->name);
		else
			printf("null");
		printf(",\"performance\":{");
		for (size_t i = 0; i < n; i++) {
			const struct region_view *to = v[i].state == RS_SERVING ? &v[i] : first;

			printf("%s", i ? "," : "");
			print_json_str(v[i].g->name);
			printf(":");
			if (to)
				print_json_str(to->g->name);
			else
				printf("null");
		}
		printf("}}");
		return;
	}
	printf("routing now:\n");
	if (first == NULL) {
		printf("  every region fails it: load balancers serve every region (their fallback: "
		       "the same as no health check)\n");
		return;
	}
	printf("  priority (the first serving region, in the map's order): %s\n", first->g->name);
	printf("  performance (clients nearest each region):");
	for (size_t i = 0; i < n; i++)
		printf("%s %s -> %s", i ? ";" : "", v[i].g->name,
		       v[i].state == RS_SERVING ? v[i].g->name : first->g->name);
	printf("\n");
}

/* The whole view of one name, text or JSON. */
static void
view_print(const struct ctl *x, const struct lb_name *nm, const char *host,
           const struct region_view *v, size_t n)
{
	char buf[1200];

	if (x->json) {
		printf("{\"host\":");
		print_json_str(host);
		printf(",\"registry\":");
		if (nm)
			print_json_str(nm->registry);
		else
			printf("null");
		printf(",\"in_map\":%s,\"regions\":[", nm ? "true" : "false");
		for (size_t i = 0; i < n; i++) {
			const struct region_view *r = &v[i];

			printf("%s{\"name\":", i ? "," : "");
			print_json_str(r->g->name);
			printf(",\"state\":\"%s\",\"front_doors\":[", region_state_names[r->state]);
			for (size_t k = 0; k < r->g->naddr; k++) {
				const struct http_get *g = &r->doors[k];

				printf("%s{\"address\":", k ? "," : "");
				print_json_str(r->g->addresses[k]);
				printf(",\"http\":");
				if (g->code)
					printf("%ld,\"status\":", g->code);
				else
					printf("null,\"status\":");
				print_json_str(g->status);
				printf(",\"reason\":");
				print_json_str(g->reason);
				printf(",\"registry\":");
				print_json_str(g->registry);
				printf(",\"source\":");
				print_json_str(g->source);
				printf(",\"snapshot_age\":%s,\"ms\":%lld,\"error\":", g->age[0] ? g->age : "null",
				       (long long)g->ms);
				print_json_str(g->err);
				printf("}");
			}
			printf("],\"admin\":{\"url\":");
			print_json_str(r->g->admin);
			printf(",\"reachable\":%s,\"error\":", r->why.ok ? "true" : "false");
			print_json_str(r->why.err);
			printf(",\"clock_offset\":%lld,\"registry\":", (long long)r->why.clock_offset);
			{
				json_t *reg = r->why.ok ? json_object_get(r->why.doc, "registry") : NULL;
				json_t *fleet = r->why.ok ? json_object_get(r->why.doc, "fleet") : NULL;
				char *s = reg ? json_dumps(reg, JSON_COMPACT) : NULL;

				printf("%s,\"decided\":", s ? s : "null");
				free(s);
				if (json_is_object(fleet) && json_string_value(json_object_get(fleet, "decided")))
					print_json_str(json_string_value(json_object_get(fleet, "decided")));
				else if (r->why.ok && jget_str(r->why.doc, "node", NULL))
					printf("\"prober on %s\"", jget_str(r->why.doc, "node", NULL));
				else
					printf("null");
			}
			printf("}}");
		}
		printf("]");
		routing_print(v, n, 1);
		printf("}");
		return;
	}
	if (nm)
		printf("%s: registry %s (registry map line %u), served by", host, nm->registry, nm->line);
	else
		printf("%s: not in the registry map: every region asked, in the description's order;",
		       host);
	for (size_t i = 0; i < n; i++)
		printf("%s %s", i ? "," : "", v[i].g->name);
	printf("\n\n");
	for (size_t i = 0; i < n; i++) {
		const struct region_view *r = &v[i];

		printf("%s: %s", r->g->name, r->state == RS_SERVING ? "SERVING" :
		       r->state == RS_FAILING ? "FAILING" : "UNREACHABLE (counted as failing)");
		printf(" (%zu of %zu front %s answer 200)\n", r->n200, r->g->naddr,
		       util_plural((long long)r->g->naddr, "door", "doors"));
		for (size_t k = 0; k < r->g->naddr; k++) {
			door_text(&r->doors[k], buf, sizeof(buf));
			printf("  %-24s %s%s%s\n", r->g->addresses[k], buf,
			       r->doors[k].source[0] ? "; source " : "", r->doors[k].source);
		}
		why_text(&r->why, x->now, buf, sizeof(buf));
		printf("  why: %s\n", buf);
		if (r->why.ok && (r->why.clock_offset > 1 || r->why.clock_offset < -1))
			printf("  its clock: %+lld s against this host's\n", (long long)r->why.clock_offset);
	}
	printf("\n");
	routing_print(v, n, 0);
}

/* The regions a name is asked in: its own, or every region when it is not in the map. */
static size_t
name_regions(const struct regions *rg, const struct lb_name *nm, const struct region ***out)
{
	if (nm != NULL) {
		*out = nm->regions;
		return nm->nregions;
	}
	*out = xcalloc(rg->n, sizeof(**out));
	for (size_t i = 0; i < rg->n; i++)
		(*out)[i] = &rg->v[i];
	return rg->n;
}

/*
 * Ask about each name of hosts[0..nh) at once: every front door of each of its
 * regions, and each region's admin side once per name.  Prints each view.
 */
static int
ask(struct ctl *x, const struct regions *rg, char **hosts, const struct lb_name **names, size_t nh)
{
	size_t nreq = 0, at = 0;
	struct http_get *req;
	struct region_view **views = xcalloc(nh, sizeof(*views));
	size_t *nviews = xcalloc(nh, sizeof(*nviews));
	const struct region ***regs = xcalloc(nh, sizeof(*regs));

	for (size_t h = 0; h < nh; h++) {
		nviews[h] = name_regions(rg, names[h], &regs[h]);
		for (size_t i = 0; i < nviews[h]; i++)
			nreq += regs[h][i]->naddr + (regs[h][i]->admin[0] != '\0');
	}
	req = xcalloc(nreq ? nreq : 1, sizeof(*req));
	for (size_t h = 0; h < nh; h++) {
		views[h] = xcalloc(nviews[h] ? nviews[h] : 1, sizeof(**views));
		for (size_t i = 0; i < nviews[h]; i++) {
			const struct region *g = regs[h][i];

			views[h][i].g = g;
			views[h][i].doors = &req[at];
			for (size_t k = 0; k < g->naddr; k++, at++) {
				http_url(req[at].url, sizeof(req[at].url), g->addresses[k], rg->port,
				         rg->health_path);
				req[at].host = hosts[h];
				req[at].timeout_ms = (long)rg->timeout * 1000;
			}
			if (g->admin[0] != '\0') {
				snprintf(req[at].url, sizeof(req[at].url),
				         "%s/deephealth/status.json?limit=1&registry=%s", g->admin,
				         names[h] ? names[h]->registry : "");
				req[at].timeout_ms = (long)rg->timeout * 1000;
				req[at].max_body = ADMIN_BODY_MAX;
				at++;
			}
		}
	}
	if (http_get_all(req, nreq) != 0)
		fprintf(stderr, "deephealthctl: where: libcurl failed: some answers are missing\n");
	if (x->json)
		printf("%s", nh > 1 || x->json > 1 ? "[" : "");
	for (size_t h = 0; h < nh; h++) {
		for (size_t i = 0; i < nviews[h]; i++) {
			struct region_view *r = &views[h][i];

			region_judge(r);
			if (r->g->admin[0] != '\0')
				why_read(&r->why, &r->doors[r->g->naddr], x->now);
		}
		if (x->json && h > 0)
			printf(",");
		else if (!x->json && h > 0)
			printf("\n");
		view_print(x, names[h], hosts[h], views[h], nviews[h]);
		for (size_t i = 0; i < nviews[h]; i++)
			json_decref(views[h][i].why.doc);
		free(views[h]);
		if (names[h] == NULL)
			free(regs[h]);
	}
	if (x->json)
		printf("%s\n", nh > 1 || x->json > 1 ? "]" : "");
	http_get_free(req, nreq);
	free(req);
	free(views);
	free(nviews);
	free(regs);
	return CTL_EXIT_OK;
}

/* The map's name for host (a registry's name, its NAME.zone, or a custom domain), or NULL. */
static const struct lb_name *
name_find(const struct lb_input *in, const char *host)
{
	for (size_t i = 0; i < in->n; i++) {
		const char *h = in->names[i].host;

		if (strcasecmp(h, host) == 0)
			return &in->names[i];
		if (!in->names[i].custom && strcasecmp(in->names[i].registry, host) == 0)
			return &in->names[i];
	}
	return NULL;
}

/*
 * --all: the registries some region fails over now, as each region's admin
 * side lists them (status.json?failing=1: whatever makes a probe get 503),
 * then each asked as above.
 */
static int
where_all(struct ctl *x, const struct regions *rg, const struct lb_input *in)
{
	struct http_get *req = xcalloc(rg->n ? rg->n : 1, sizeof(*req));
	const struct lb_name **names = NULL;
	char **hosts = NULL;
	size_t n = 0, cap = 0, capn = 0, unasked = 0;
	int rc;

	for (size_t i = 0; i < rg->n; i++) {
		if (rg->v[i].admin[0] == '\0')
			continue;
		snprintf(req[i].url, sizeof(req[i].url), "%s/deephealth/status.json?failing=1&limit=%d",
		         rg->v[i].admin, ALL_MAX);
		req[i].timeout_ms = (long)rg->timeout * 1000;
		req[i].max_body = ADMIN_BODY_MAX;
	}
	{
		/* Only the regions with an admin side are asked. */
		struct http_get *ask_v = xcalloc(rg->n ? rg->n : 1, sizeof(*ask_v));
		size_t na = 0;
		size_t *from = xcalloc(rg->n ? rg->n : 1, sizeof(*from));

		for (size_t i = 0; i < rg->n; i++)
			if (rg->v[i].admin[0] != '\0') {
				from[na] = i;
				ask_v[na++] = req[i];
			}
		http_get_all(ask_v, na);
		for (size_t a = 0; a < na; a++) {
			const struct region *g = &rg->v[from[a]];
			struct why w = { 0 };
			json_t *items;
			size_t k;
			json_t *it;

			why_read(&w, &ask_v[a], x->now);
			if (!w.ok) {
				fprintf(stderr, "deephealthctl: where: %s: admin side unreachable (%s): the "
				        "registries it fails over are not listed\n", g->name, w.err);
				unasked++;
				continue;
			}
			/* What its probes get 503 for now: failing verdicts and forced fails alike. */
			items = json_object_get(json_object_get(w.doc, "failing_over"), "items");
			if (!json_is_array(items))
				fprintf(stderr, "deephealthctl: where: %s: its admin side lists no failing "
				        "registries (an older version?)\n", g->name);
			json_array_foreach(items, k, it) {
				const char *reg = json_string_value(json_object_get(it, "name"));
				const struct lb_name *nm;
				int dup = 0;

				if (reg == NULL || (nm = name_find(in, reg)) == NULL || nm->nregions < 2)
					continue;
				for (size_t j = 0; j < n && !dup; j++)
					dup = names[j] == nm;
				if (dup || n >= ALL_MAX)
					continue;
				names = util_grow(names, &capn, n + 1, sizeof(*names));
				hosts = util_grow(hosts, &cap, n + 1, sizeof(*hosts));
				names[n] = nm;
				hosts[n++] = nm->host;
			}
			json_decref(w.doc);
		}
		http_get_free(ask_v, na);
		free(ask_v);
		free(from);
	}
	free(req);
	if (n == 0) {
		if (x->json)
			printf("[]\n");
		else
			printf("every registry is served by all its regions%s\n", unasked ?
			       " that could be asked (see above)" : "");
		free(names);
		free(hosts);
		return CTL_EXIT_OK;
	}
	x->json = x->json ? 2 : 0; /* a list, even of one */
	rc = ask(x, rg, hosts, names, n);
	free(names);
	free(hosts);
	return rc;
}

int
cmd_where(struct ctl *x, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "regions", required_argument, NULL, 'r' },
		{ "all", no_argument, NULL, 'a' },
		{ NULL, 0, NULL, 0 }
	};
	const char *regions_path = DEFAULT_REGIONS;
	char what[160], host[DH_HOST_MAX + 2], *hp = host;
	struct lb_input in = { 0 };
	struct regions *rg = NULL;
	const struct lb_name *nm;
	int ch, all = 0, rc = CTL_EXIT_CONFIG;

	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "+:r:a", longopts, NULL)) != -1) {
		switch (ch) {
		case 'r': regions_path = optarg; break;
		case 'a': all = 1; break;
		default: ctl_usage_error("where: %s", util_opt_error(ch, argv, what, sizeof(what)));
		}
	}
	if (all && optind != argc)
		ctl_usage_error("where: --all takes no HOST");
	if (!all && optind == argc)
		ctl_usage_error("where: a HOST (or --all) is required");
	if (!all && optind + 1 != argc)
		ctl_usage_error("where: unexpected argument %s", argv[optind + 1]);
	if (!all && (strlen(argv[optind]) > DH_HOST_MAX || !regions_hostname_ok(argv[optind])))
		ctl_usage_error("where: %s: not a host name", argv[optind]);
	if (x->in.conf == NULL)
		return CTL_EXIT_CONFIG;
	if ((rg = regions_load(regions_path, ctl_errfn, NULL)) == NULL)
		goto out;
	if (x->in.conf->registries[0] == '\0') {
		fprintf(stderr, "deephealthctl: where: %s names no registry map (prober.registries)\n",
		        x->conf_path);
		goto out;
	}
	if (lb_gather(x, rg, &in) != 0) {
		fprintf(stderr, "deephealthctl: where: the registry map first (errors above)\n");
		goto out;
	}
	if (all) {
		rc = where_all(x, rg, &in);
		goto out;
	}
	snprintf(host, sizeof(host), "%s", argv[optind]);
	nm = name_find(&in, host);
	if (nm != NULL)
		hp = nm->host; /* a registry's bare name is asked as NAME.zone */
	{
		char *one_host[1] = { hp };
		const struct lb_name *one_name[1] = { nm };

		rc = ask(x, rg, one_host, one_name, 1);
	}
out:
	lb_input_free(&in);
	regions_free(rg);
	return rc;
}

/* ---- history registry:NAME --regions: every region's events of one registry, merged ---- */

struct merged_ev {
	int64_t t;                     /* the event's time as its region wrote it */
	const struct region *g;
	json_t *ev;                    /* borrowed from its region's document */
};

static int
merged_cmp(const void *a, const void *b)
{
	const struct merged_ev *x = a, *y = b;

	return (x->t > y->t) - (x->t < y->t);
}

/* One event as a line: what it says of the registry. */
static void
merged_line(const struct merged_ev *m)
{
	const char *kind = json_string_value(json_object_get(m->ev, "event"));
	const char *f[] = { "from", "to", "dependency", "cause", "state", "change", "scope",
	                    "action", "by", "reason" };
	const char *v[10];

	for (size_t i = 0; i < 10; i++)
		v[i] = json_string_value(json_object_get(m->ev, f[i]));
	printf("%s  %-12s ", json_string_value(json_object_get(m->ev, "time")), m->g->name);
	if (kind != NULL && strcmp(kind, "verdict") == 0)
		printf("%s -> %s%s%s%s%s%s\n", v[0] ? v[0] : "?", v[1] ? v[1] : "?",
		       v[1] && strcmp(v[1], "fail") == 0 ? " (leaves the region)" :
		       v[0] && strcmp(v[0], "fail") == 0 ? " (comes back)" : "",
		       v[2] && v[2][0] ? "  " : "", v[2] ? v[2] : "", v[3] && v[3][0] ? ": " : "",
		       v[3] ? v[3] : "");
	else if (kind != NULL && (strcmp(kind, "blind") == 0 || strcmp(kind, "guard") == 0))
		printf("region %s %s: %s\n", kind, v[4] ? v[4] : "?", v[3] ? v[3] : "");
	else if (kind != NULL && strcmp(kind, "override") == 0)
		printf("override %s %s %s by %s: %s\n", v[5] ? v[5] : "?", v[6] ? v[6] : "?",
		       v[7] ? v[7] : "?", v[8] ? v[8] : "?", v[9] ? v[9] : "");
	else if (kind != NULL && strcmp(kind, "verdicts") == 0)
		printf("%lld registries changed in one pass, %lld listed (this one may be among the "
		       "rest)\n", (long long)json_integer_value(json_object_get(m->ev, "changed")),
		       (long long)json_integer_value(json_object_get(m->ev, "listed")));
	else
		printf("%s\n", kind ? kind : "?");
}

int
where_history(struct ctl *x, const char *registry, const char *regions_path, int64_t since)
{
	struct regions *rg = regions_load(regions_path, ctl_errfn, NULL);
	struct http_get *req;
	struct why *w;
	struct merged_ev *all = NULL;
	size_t n = 0, cap = 0;

	if (rg == NULL)
		return CTL_EXIT_CONFIG;
	req = xcalloc(rg->n ? rg->n : 1, sizeof(*req));
	w = xcalloc(rg->n ? rg->n : 1, sizeof(*w));
	for (size_t i = 0; i < rg->n; i++) {
		snprintf(req[i].url, sizeof(req[i].url), "%s/deephealth/events.json?limit=%d&registry=%s",
		         rg->v[i].admin[0] ? rg->v[i].admin : "http://invalid.invalid", EVENTS_LIMIT_MAX,
		         registry);
		req[i].timeout_ms = (long)rg->timeout * 1000;
		req[i].max_body = ADMIN_BODY_MAX;
	}
	http_get_all(req, rg->n);
	if (x->json)
		printf("{\"registry\":");
	else
		printf("%s in every region, oldest first (each time as its region's clock wrote it):\n",
		       registry);
	if (x->json) {
		jstr(registry, strlen(registry));
		printf(",\"regions\":[");
	}
	for (size_t i = 0; i < rg->n; i++) {
		const char *state;
		json_t *evs, *e;
		size_t k;

		if (rg->v[i].admin[0] == '\0')
			snprintf(w[i].err, sizeof(w[i].err), "no admin side in %s", rg->path);
		else
			why_read(&w[i], &req[i], x->now);
		state = w[i].ok ? jget_str(w[i].doc, "log", "state") : NULL;
		if (x->json) {
			printf("%s{\"name\":", i ? "," : "");
			print_json_str(rg->v[i].name);
			printf(",\"reachable\":%s,\"error\":", w[i].ok ? "true" : "false");
			print_json_str(w[i].err);
			printf(",\"log\":");
			print_json_str(state ? state : "");
			printf(",\"clock_offset\":%lld}", (long long)w[i].clock_offset);
		} else {
			printf("  %-12s %s", rg->v[i].name, !w[i].ok ? "not asked: " : "");
			if (!w[i].ok)
				printf("%s: its events are missing below\n", w[i].err);
			else if (state == NULL || strcmp(state, "ok") != 0)
				printf("no event log there (%s: %s): its events are missing below\n",
				       state ? state : "?", jget_str(w[i].doc, "log", "detail") ?
				       jget_str(w[i].doc, "log", "detail") : "");
			else
				printf("clock %+lld s against this host's\n", (long long)w[i].clock_offset);
		}
		if (!w[i].ok)
			continue;
		evs = json_object_get(w[i].doc, "events");
		json_array_foreach(evs, k, e) {
			int64_t t = iso_secs(json_string_value(json_object_get(e, "time")));

			if (t < 0 || t < since)
				continue;
			all = util_grow(all, &cap, n + 1, sizeof(*all));
			all[n++] = (struct merged_ev){ t, &rg->v[i], e };
		}
	}
	if (n > 1)
		qsort(all, n, sizeof(*all), merged_cmp);
	if (x->json) {
		printf("],\"events\":[");
		for (size_t i = 0; i < n; i++) {
			char *s = json_dumps(all[i].ev, JSON_COMPACT);

			printf("%s{\"region\":", i ? "," : "");
			print_json_str(all[i].g->name);
			printf(",\"event\":%s}", s ? s : "null");
			free(s);
		}
		printf("]}\n");
	} else {
		printf("\n");
		for (size_t i = 0; i < n; i++)
			merged_line(&all[i]);
		if (n == 0)
			printf("no event of %s in any region asked\n", registry);
	}
	for (size_t i = 0; i < rg->n; i++)
		json_decref(w[i].doc);
	http_get_free(req, rg->n);
	free(req);
	free(w);
	free(all);
	regions_free(rg);
	return CTL_EXIT_OK;
}
