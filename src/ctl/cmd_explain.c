/* cmd_explain.c: deephealthctl explain HOST...: the answer to one probe, step by step. */

#include <string.h>

#include "ctl.h"

/*
 * Each dependency a registry uses, region-wide ones first, with its state, what
 * it means for the registry, and an override forcing it: the verdict's inputs.
 */
static void
explain_uses(const struct ctl *x, const struct snap_reg *reg, int json)
{
	size_t nall;
	const uint32_t *all = snap_all_deps(x->in.snap, &nall);

	for (size_t k = 0; k < nall + reg->nuses; k++) {
		uint32_t di = k < nall ? all[k] : snap_use_at(x->in.snap, reg->uses + (uint32_t)(k - nall));
		const struct override *f;
		struct snap_dep d;

		snap_dep_at(x->in.snap, di, &d);
		f = ovr_dep_lookup(x->st.ovr, d.name, d.name_len, (int64_t)x->now);
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
	int have_reg = tr.result == RESOLVE_FOUND && x->in.snap != NULL &&
	               snap_find_reg(x->in.snap, tr.registry, strlen(tr.registry), &reg);
	int have_dep = have_reg && reg.decided_by != SNAP_NO_DEP;

	if (have_dep)
		snap_dep_at(x->in.snap, reg.decided_by, &d);
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
			printf(",\"origin\":\"%s\",\"file\":", ovr_origin_names[v->origin]);
			{
				const char *file = v->origin == OVR_NODE ? x->in.conf->overrides :
				                   x->in.conf->region_overrides;

				jstr(file, strlen(file));
			}
			printf(",\"line\":%u,\"from\":", v->line);
			if (v->from != NULL)
				jstr(v->from, strlen(v->from));
			else
				printf("null");
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
		printf("  Host          not looked at: %s\n", x->in.conf ? "the request is not a probe"
		                                                      : "the configuration did not load");
	else if (tr.result == RESOLVE_INVALID)
		printf("  Host          invalid: %s\n", host_err_str(tr.herr));
	else
		printf("  normalized    %s\n", tr.host);
	if (tr.result == RESOLVE_FOUND && tr.via < 0)
		printf("  resolved      %s by the host map\n", tr.registry);
	else if (tr.result == RESOLVE_FOUND)
		printf("  resolved      %s by rule %d: %s\n", tr.registry, tr.via,
		       x->in.conf->rules[tr.via]);
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
	} else if (tr.result == RESOLVE_FOUND && x->in.snap != NULL) {
		printf("  snapshot row  none: %s is not in the snapshot\n", tr.registry);
	}
	for (int k = 0; k < 2; k++) {
		const struct override *v = k == 0 ? tr.force : tr.mode;

		if (v != NULL) {
			char where[4400];

			util_iso_time((time_t)v->until, when, sizeof(when));
			printf("  override      %s %s until %s (by %s: %s)\n", v->scope,
			       ovr_action_names[v->action], when, v->by, v->reason);
			printf("  set in        %s\n", ovr_where(v, x->in.conf->overrides,
			       x->in.conf->region_overrides, where, sizeof(where)));
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

int
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
	return x->in.conf == NULL ? CTL_EXIT_CONFIG : CTL_EXIT_OK;
}
