/* cmd_check.c: deephealthctl check: a Nagios-style alarm on the region. */

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctl.h"

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

/* A usage error, as a plugin says it: one UNKNOWN line on stdout naming what was wrong. */
static int check_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int
check_usage(const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	printf("DEEPHEALTH UNKNOWN - usage: %s (see deephealthctl -h)\n", msg);
	return NAGIOS_UNKNOWN;
}

/*
 * Nagios-convention plugin: is failover protecting this region, and is the
 * data it acts on fresh?  Critical when every answer fails open (blind,
 * stale, unusable snapshot, configuration error) or the failover guard holds
 * (a human must decide); warning when the snapshot
 * ages past -w, the kill switch or pass-through mode is left on longer than
 * -k.  One line, then perfdata.
 */
int
cmd_check(struct ctl *x, int argc, char **argv)
{
	struct alarm a;
	struct answer_trace tr;
	long warn_age = -1, crit_age = -1, ks_max = 3600, expiring = 900;
	double warn_unknown = 1.0, crit_unknown = -1.0, unknown = 0.0;
	int64_t age = x->in.snap ? (int64_t)x->now - snap_created(x->in.snap) : -1;
	size_t fails = 0, multi = 0, nr = x->in.snap ? snap_reg_count(x->in.snap) : 0;
	int ch, blind = x->in.snap && (snap_flags(x->in.snap) & SNAP_FLAG_BLIND);
	int guard = x->in.snap && (snap_flags(x->in.snap) & SNAP_FLAG_GUARD);
	char what[160], guard_bound[32];
	struct stat st;

	memset(&a, 0, sizeof(a));
	optind = 1;
	while ((ch = getopt(argc, argv, ":w:c:k:x:u:U:")) != -1) {
		char *end;
		long v;

		if (ch == '?' || ch == ':')
			return check_usage("%s", util_opt_error(ch, argv, what, sizeof(what)));
		errno = 0;
		if (ch == 'u' || ch == 'U') {
			double r = strtod(optarg, &end);

			if (errno != 0 || end == optarg || *end != '\0' || !(r >= 0.0 && r <= 1e9))
				return check_usage("-%c %s: not a rate from 0 to 1e9 a minute", ch, optarg);
			*(ch == 'u' ? &warn_unknown : &crit_unknown) = r;
			continue;
		}
		if ((v = util_num(optarg, 1, 864000)) < 0)
			return check_usage("-%c %s: not a whole number of seconds from 1 to 864000", ch,
			                   optarg);
		if (ch == 'w')
			warn_age = v;
		else if (ch == 'c')
			crit_age = v;
		else if (ch == 'x')
			expiring = v;
		else
			ks_max = v;
	}
	if (optind != argc)
		return check_usage("unexpected argument %s", argv[optind]);
	if (x->in.conf == NULL) {
		printf("DEEPHEALTH CRITICAL - %s does not load: every answer is 200 config-error, "
		       "failover is off\n", x->conf_path);
		return NAGIOS_CRITICAL;
	}
	/* Defaults: warn when two passes were missed, critical when responders fail open. */
	if (crit_age < 0)
		crit_age = x->in.conf->max_age;
	if (warn_age < 0)
		warn_age = 3L * x->in.conf->interval < crit_age ? 3L * x->in.conf->interval : crit_age;
	fails = snap_failing_multi(x->in.snap, &multi);
	conf_bound_str(&x->in.conf->guard_max_failing, guard_bound, sizeof(guard_bound));
	/* Pass-through is deliberate: judged below by how long it has been on.  The guard is
	 * a human's to decide on, now: said with its count and bound. */
	if (status_regionwide(&x->st, x->now, &tr) && tr.po.reason == R_GUARD)
		alarm_add(&a, NAGIOS_CRITICAL, "the failover guard holds: %zu of %zu multi-region "
		          "registries fail, more than prober.guard_max_failing %s allows: every answer is "
		          "200 guard, none fails over; a region really down needs deephealthctl override "
		          "add region allow-failover (docs/guard.md)", fails, multi,
		          guard_bound[0] ? guard_bound : "(not set here)");
	else if (status_regionwide(&x->st, x->now, &tr) && tr.po.reason != R_PASSTHROUGH)
		alarm_add(&a, NAGIOS_CRITICAL, "every answer is %d %s: failover is off", tr.po.http,
		          reason_str(tr.po.reason));
	if (x->in.snap == NULL)
		alarm_add(&a, NAGIOS_CRITICAL, "snapshot %s: %s", x->in.conf->snapshot_path,
		          snap_err_str(x->in.snap_err));
	else if (age > crit_age)
		alarm_add(&a, NAGIOS_CRITICAL, "snapshot %llds old (critical above %lds)", (long long)age,
		          crit_age);
	else if (age > warn_age)
		alarm_add(&a, NAGIOS_WARNING, "snapshot %llds old (warning above %lds): the prober is late",
		          (long long)age, warn_age);
	if (blind)
		alarm_add(&a, NAGIOS_CRITICAL, "the prober is blind: its witnesses fail");
	if (x->in.kill_switch) {
		int64_t on = stat(x->in.conf->kill_switch, &st) == 0 ? (int64_t)x->now - st.st_mtime : 0;

		alarm_add(&a, on > ks_max ? NAGIOS_WARNING : NAGIOS_OK,
		          "kill switch %s present for %llds%s: every answer passes through",
		          x->in.conf->kill_switch, (long long)on, on > ks_max ? " (left on)" : "");
	}
	for (int k = 0; k < 2; k++) {
		const struct ovr_view *vw = k == 0 ? &x->in.ovr.vw : &x->in.rovr.vw;
		const char *kind = k == 0 ? "overrides" : "region-wide overrides",
		           *path = k == 0 ? x->in.conf->overrides : x->in.conf->region_overrides,
		           *none = k == 0 ? "NO override is in force" : "NO region-wide override is in force";

		if (vw->state == OVR_FILE_FALLBACK)
			alarm_add(&a, NAGIOS_WARNING, "%s %s damaged (%d bad line%s, first at line %u: "
			          "%s): ignored; its last good copy is in force", kind, path, vw->errors,
			          util_plural((long long)vw->errors, "", "s"), vw->bad[0].line,
			          vw->bad[0].message);
		else if (vw->state == OVR_FILE_DAMAGED)
			alarm_add(&a, NAGIOS_CRITICAL, "%s %s damaged (%d bad line%s, first at line %u: "
			          "%s) and no good copy: %s", kind, path, vw->errors,
			          util_plural((long long)vw->errors, "", "s"), vw->bad[0].line,
			          vw->bad[0].message, none);
	}
	for (size_t i = 0; x->in.ovr_all != NULL && i < x->in.ovr_all->n; i++) {
		const struct override *v = &x->in.ovr_all->v[i];
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
	if (x->in.conf->mode == MODE_PASSTHROUGH) {
		int64_t on = stat(x->conf_path, &st) == 0 ? (int64_t)x->now - st.st_mtime : 0;

		alarm_add(&a, on > ks_max ? NAGIOS_WARNING : NAGIOS_OK,
		          "responder.mode is passthrough (configuration changed %llds ago)",
		          (long long)on);
	}
	/* A probe whose Host names no registry is answered 200: failover is off for it. */
	if (x->in.have_ctr) {
		unknown = counters_unknown_rate(x->in.ctr.m, (int64_t)x->now, 5);
		if (crit_unknown > 0.0 && unknown >= crit_unknown)
			alarm_add(&a, NAGIOS_CRITICAL, "%.1f unknown-Host answers a minute (critical from "
			          "%.1f): probes that name no registry", unknown, crit_unknown);
		else if (warn_unknown > 0.0 && unknown >= warn_unknown)
			alarm_add(&a, NAGIOS_WARNING, "%.1f unknown-Host answers a minute (warning from "
			          "%.1f): probes that name no registry", unknown, warn_unknown);
	}
	if (a.text[NAGIOS_OK][0] == '\0' && a.state == NAGIOS_OK)
		alarm_add(&a, NAGIOS_OK, "enforcing, snapshot %llds old, %zu of %zu %s failed over",
		          (long long)age, fails, nr, util_plural((long long)nr, "registry", "registries"));
	printf("DEEPHEALTH %s -", names_at(nagios_names, a.state));
	for (int k = NAGIOS_CRITICAL, first = 1; k >= NAGIOS_OK; k--) {
		if (a.text[k][0] != '\0')
			printf("%s %s", first ? "" : ";", a.text[k]);
		first &= a.text[k][0] == '\0';
	}
	printf(" | age=%llds;%ld;%ld;0 blind=%d guard=%d kill_switch=%d registries=%zu "
	       "registries_failed=%zu", (long long)(age < 0 ? 0 : age), warn_age, crit_age, blind,
	       guard, x->in.kill_switch, nr, fails);
	if (x->in.have_ctr) {
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
