/* cmd_budget.c: deephealthctl budget: how long failover and recovery take with this configuration. */

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"

/* A load balancer's probing: docs/failover-timing.md's P, T + 1, recovery probes, W, TTL. */
struct lb {
	const char *name, *what;
	long interval, fail_after, back_after, timeout, ttl;
	int thresholds;  /* it counts probes both ways (PowerDNS: one probe decides) */
};

/*
 * Traffic Manager: 30 s or 10 s probing, 3 tolerated failures by default (out
 * at the 4th), back at the first good probe.  Route 53: 30 s or 10 s, failure
 * threshold 3 by default, the same number of good checks to come back.
 */
static const struct lb presets[] = {
	{ "tm30", "Traffic Manager, 30 s probing, 3 tolerated failures", 30, 4, 1, 10, 60, 1 },
	{ "tm10", "Traffic Manager, 10 s probing, 3 tolerated failures", 10, 4, 1, 5, 60, 1 },
	{ "r53", "Route 53 standard, 30 s interval, failure threshold 3", 30, 3, 3, 6, 60, 1 },
	{ "r53fast", "Route 53 fast, 10 s interval, failure threshold 3", 10, 3, 3, 6, 60, 1 },
	/* The defaults of each (docs/load-balancers.md, measured on Debian 12's packages). */
	{ "pdns", "PowerDNS LUA ifurlup, 5 s checks, one check decides", 5, 1, 1, 2, 30, 0 },
	{ "gdnsd", "gdnsd http_status, 10 s, down after 10, up after 20", 10, 10, 20, 5, 30, 1 },
	{ "haproxy", "HAProxy httpchk, 2 s, fall 3, rise 2", 2, 3, 2, 2, 0, 1 },
};
#define NPRESETS (sizeof(presets) / sizeof(presets[0]))

/* The argument of budget's option -opt as a number in [min, max], or a usage error naming it. */
static long
arg_num(int opt, const char *s, long min, long max)
{
	char what[16];

	snprintf(what, sizeof(what), "budget: -%c", opt);
	return util_opt_num("deephealthctl", what, s, min, max);
}

int
cmd_budget(struct ctl *x, int argc, char **argv)
{
	struct lb lb = presets[0];
	const struct conf *c = x->in.conf;
	double I, D, R, A, P, F, B, fo_max, fo_min, back, stale, ks_back, ks_out, Fw, Q;
	long follow = -1, given[5] = { -1, -1, -1, -1, -1 };
	const char *regions_path = NULL;
	char what[160], asked[300];
	int ch;

	optind = 1;
	while ((ch = getopt(argc, argv, ":l:P:F:B:W:T:f:r:")) != -1) {
		switch (ch) {
		case 'l': {
			size_t k;

			for (k = 0; k < NPRESETS; k++)
				if (strcmp(presets[k].name, optarg) == 0) {
					lb = presets[k];
					break;
				}
			if (k == NPRESETS)
				ctl_usage_error("budget: -l %s: not a preset (tm30, tm10, r53, r53fast, pdns, "
				                "gdnsd, haproxy)", optarg);
			break;
		}
		case 'r': regions_path = optarg; break;
		/* Given numbers win over the preset and the regions description, whatever the order. */
		case 'P': given[0] = arg_num(ch, optarg, 1, 3600); break;
		case 'F': given[1] = arg_num(ch, optarg, 1, 100); break;
		case 'B': given[2] = arg_num(ch, optarg, 1, 100); break;
		case 'W': given[3] = arg_num(ch, optarg, 1, 3600); break;
		case 'T': given[4] = arg_num(ch, optarg, 0, 86400); break;
		case 'f': follow = arg_num(ch, optarg, 0, 3600); break;
		default: ctl_usage_error("budget: %s", util_opt_error(ch, argv, what, sizeof(what)));
		}
	}
	if (optind != argc)
		ctl_usage_error("budget: unexpected argument %s", argv[optind]);
	if (c == NULL)
		return CTL_EXIT_CONFIG;
	/* The regions description: what deephealthctl lb asks of the load balancer. */
	if (regions_path != NULL) {
		struct regions *rg = regions_load(regions_path, ctl_errfn, NULL);

		if (rg == NULL)
			return CTL_EXIT_CONFIG;
		lb.interval = rg->interval;
		lb.timeout = rg->timeout;
		if (lb.thresholds) {
			lb.fail_after = rg->fall;
			lb.back_after = rg->rise;
		}
		if (lb.ttl > 0)
			lb.ttl = rg->ttl;
		snprintf(asked, sizeof(asked), "%s as %s asks", lb.name, regions_path);
		lb.what = asked;
		regions_free(rg);
	}
	for (size_t k = 0; k < 5; k++)
		if (given[k] >= 0) {
			long *f[] = { &lb.interval, &lb.fail_after, &lb.back_after, &lb.timeout, &lb.ttl };

			*f[k] = given[k];
			lb.what = "custom";
		}
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
