/* probe.c: deephealth-probe: check dependencies, apply thresholds, publish the snapshot. */
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "prober.h"


/* Exit codes, also in README "Prober" and deephealth-probe(8); not <sysexits.h>'s values. */
enum {
	PROBE_EXIT_OK = 0,     /* every pass published its snapshot */
	PROBE_EXIT_CONFIG = 1,      /* configuration invalid, or a local setup problem */
	PROBE_EXIT_USAGE = 2,
	PROBE_EXIT_LOCKED = 3,      /* another run holds the lock */
	PROBE_EXIT_REGMAP = 4,      /* registry map unreadable: nothing published */
	PROBE_EXIT_PUBLISH = 5,     /* a snapshot could not be published: the old one stays */
	PROBE_EXIT_STATE = 6,       /* the state file could not be saved, or read */
	PROBE_EXIT_BLIND = 7        /* a pass was blind: published, marked blind, responders fail open */
};

struct prober {
	struct conf *conf;
	struct regmap *map;
	struct file_id map_id;   /* the registry map file as last loaded */
	int have_map_id;
	struct dep_state *st;
	struct check_spec **specs;
	struct check_outcome *out;
	size_t *users;
	enum verdict *from;  /* per dependency, reported state before this pass's fold */
	int *moved;          /* per dependency, the fold changed the reported state */
	struct snapshot *prev;
	int64_t folded;      /* when a pass was last folded into st (s), 0 = never */
	int events_fd;       /* -1 = no event log */
	char node[256];      /* this machine's name: the events say which prober decided */
	struct prober_totals totals; /* prober.metrics' counters */
	struct guard_state guard;    /* the failover guard, carried in the state file */
	int guard_allowed;           /* the last pass let the tripped guard through */
	size_t guard_failing, guard_bound, guard_multi; /* its last count, bound, and of how many */
	int passes;          /* passes of this run so far */
	int rc;              /* this run's exit status so far */
};

/* The prober reads the dependencies; the resolver section is the responder's. */
static const struct conf_ext *const prober_exts[] = { &deps_conf, NULL };

/*
 * The one way a line reaches the event log: built in memory by fill (every
 * string escaped, as long as it needs to be: nothing cut or dropped), then
 * appended in one write(2) (O_APPEND), so lines of concurrent runs never
 * interleave.  what names the line in a failure report.
 */
static void
event_write(struct prober *p, const char *what, int (*fill)(FILE *, const void *),
            const void *arg)
{
	char *line = NULL, err[4400];
	size_t len = 0;
	FILE *m;
	int ok;

	if (p->events_fd == -1)
		return;
	m = open_memstream(&line, &len);
	ok = m != NULL;
	if (ok) {
		ok = fill(m, arg) >= 0;
		ok = fclose(m) == 0 && ok;
	}
	if (!ok)
		log_warn("event log %s: %s not written", p->conf->event_log, what);
	else if (evlog_append(p->conf->event_log, p->events_fd, line, len, err, sizeof(err)) != 0)
		log_warnx("%s (%s)", err, what);
	free(line);
}

/* A dependency's transition: fill for event_write. */
struct ev_transition {
	const struct prober *p;
	size_t i;
	enum verdict from, to;
};

static int
fill_transition(FILE *m, const void *arg)
{
	const struct ev_transition *e = arg;
	const struct dep_state *st = &e->p->st[e->i];

	evlog_line(m, time(NULL));
	evlog_str(m, "region", e->p->conf->region);
	evlog_str(m, "dependency", e->p->conf->deps[e->i].name);
	evlog_str(m, "from", verdict_str(e->from));
	evlog_str(m, "to", verdict_str(e->to));
	evlog_str(m, "cause", st->cause);
	evlog_num(m, "elapsed_ms", (long long)e->p->out[e->i].elapsed_ms);
	evlog_num(m, "consecutive_failures", st->consec_fail);
	evlog_num(m, "consecutive_successes", st->consec_ok);
	evlog_num(m, "uncleared_failures", st->fail_count);
	evlog_num(m, "registries_affected", (long long)e->p->users[e->i]);
	return evlog_end(m);
}

/*
 * A registry's verdict change (a routing change: the load balancers move it
 * when it fails or comes back): fill for event_write.
 */
struct ev_verdict {
	const struct prober *p;
	const struct eval_change *ch;
	time_t when;
};

static int
fill_verdict(FILE *m, const void *arg)
{
	const struct ev_verdict *e = arg;
	const struct eval_change *ch = e->ch;
	int64_t i = ch->dep ? conf_dep_find(e->p->conf, ch->dep, ch->dep_len) : -1;

	evlog_line(m, e->when);
	evlog_str(m, "region", e->p->conf->region);
	evlog_str(m, "prober", e->p->node);
	evlog_str(m, "event", "verdict");
	evlog_str(m, "registry", e->p->map->regs[ch->reg].name);
	evlog_str(m, "from", verdict_str(ch->from));
	evlog_str(m, "to", verdict_str(ch->to));
	evlog_strn(m, "dependency", ch->dep ? ch->dep : "", ch->dep_len);
	evlog_str(m, "cause", i >= 0 ? e->p->st[i].cause : "");
	return evlog_end(m);
}

/* More verdict changes in one pass than prober.event_log_verdicts: how many, in one line. */
struct ev_verdicts {
	const struct prober *p;
	const struct eval_stats *stats;
	time_t when;
};

static int
fill_verdicts(FILE *m, const void *arg)
{
	const struct ev_verdicts *e = arg;

	evlog_line(m, e->when);
	evlog_str(m, "region", e->p->conf->region);
	evlog_str(m, "prober", e->p->node);
	evlog_str(m, "event", "verdicts");
	evlog_num(m, "changed", (long long)e->stats->changed);
	evlog_num(m, "listed", (long long)e->stats->nchanges);
	evlog_num(m, "pass", (long long)e->stats->pass);
	evlog_num(m, "warn", (long long)e->stats->warn);
	evlog_num(m, "fail", (long long)e->stats->fail);
	return evlog_end(m);
}

/* The start or end of a blind stretch: {"event":"blind","state":...}. */
struct ev_blind {
	const char *region, *state, *cause;
};

static int
fill_blind(FILE *m, const void *arg)
{
	const struct ev_blind *e = arg;

	evlog_line(m, time(NULL));
	evlog_str(m, "region", e->region);
	evlog_str(m, "event", "blind");
	evlog_str(m, "state", e->state);
	evlog_str(m, "cause", e->cause);
	return evlog_end(m);
}

/* The region's allow-failover in force at a pass, copied out of the override file. */
struct allow {
	int on;
	int64_t until;
	char by[64], reason[512];
};

/* A change of the failover guard: {"event":"guard","state":...}. */
struct ev_guard {
	const struct prober *p;
	const char *state, *cause;
	size_t failing, bound, multi;
	const struct allow *al;      /* "allowed": whose word, else NULL */
};

static int
fill_guard(FILE *m, const void *arg)
{
	const struct ev_guard *e = arg;
	char until[32];

	evlog_line(m, time(NULL));
	evlog_str(m, "region", e->p->conf->region);
	evlog_str(m, "prober", e->p->node);
	evlog_str(m, "event", "guard");
	evlog_str(m, "state", e->state);
	evlog_num(m, "failing", (long long)e->failing);
	evlog_num(m, "bound", (long long)e->bound);
	evlog_num(m, "multi_region", (long long)e->multi);
	evlog_str(m, "cause", e->cause);
	if (e->al != NULL) {
		util_iso_time((time_t)e->al->until, until, sizeof(until));
		evlog_str(m, "action", "allow-failover");
		evlog_str(m, "by", e->al->by);
		evlog_str(m, "until", until);
		evlog_str(m, "reason", e->al->reason);
	}
	return evlog_end(m);
}

/* An override's expiry, at its own time. */
static int
fill_expiry(FILE *m, const void *arg)
{
	const struct override *v = arg;

	return ovr_event_line(m, "expire", v, v->until);
}


/* Log one state change, with its cause, and append it to the event log. */
static void
log_transition(struct prober *p, size_t i)
{
	const struct dep_conf *d = &p->conf->deps[i];
	const struct dep_state *st = &p->st[i];
	enum verdict from = p->from[i], to = state_reported(st);
	long long ms = (long long)p->out[i].elapsed_ms;
	int fails = d->intermittent ? st->fail_count : st->consec_fail;

	if (to == VERDICT_FAIL)
		log_info("dependency %s: %s -> fail after %d %s (%s, %lld ms); %zu %s it",
		         d->name, verdict_str(from), fails, util_plural(fails, "failure", "failures"),
		         p->out[i].cause, ms, p->users[i],
		         util_plural((long long)p->users[i], "registry uses", "registries use"));
	else if (from == VERDICT_FAIL)
		log_info("dependency %s: fail -> %s after %d %s (%s, %lld ms)", d->name,
		         verdict_str(to), st->consec_ok, util_plural(st->consec_ok, "success",
		         "successes"), p->out[i].cause, ms);
	else
		log_info("dependency %s: %s -> %s (%s, %lld ms)", d->name, verdict_str(from),
		         verdict_str(to), p->out[i].cause, ms);
	event_write(p, "transition", fill_transition, &(struct ev_transition){ p, i, from, to });
	p->totals.transitions++;
}

/*
 * Load the registry map when it is new or its file changed since the last
 * load (a control plane rewrites it between passes).  Returns 0 with p->map
 * current, or -1 when it cannot be read: the pass then does what a fresh run
 * does, nothing (the previous snapshot stays and ages towards fail-open).
 * Bad lines are reported and left out, as at start.
 */
static int
map_refresh(struct prober *p)
{
	const char *path = p->conf->registries;
	struct regmap *m;
	struct file_id id;
	struct stat st;
	size_t bad = 0;

	if (stat(path, &st) == -1) {
		log_warn("registry map %s", path);
		return -1;
	}
	file_id_of(&st, &id);
	if (p->map != NULL && p->have_map_id && file_id_eq(&id, &p->map_id))
		return 0;
	m = regmap_load(path, p->conf, log_errfn, NULL, &bad);
	if (m == NULL)
		return -1;
	if (p->map != NULL)
		log_info("registry map %s changed: %zu %s%s", path, m->n,
		         util_plural((long long)m->n, "registry", "registries"),
		         bad ? " (bad lines left out)" : "");
	regmap_free(p->map);
	p->map = m;
	p->map_id = id;
	p->have_map_id = 1;
	return 0;
}

/*
 * The event log records when each operator override ran out: the ones whose
 * expiry falls since the last published snapshot (this run's or a previous
 * run's), whenever the prober gets to see it.  Returns how many are in force;
 * *al gets the region's allow-failover in force, if any.
 */
static size_t
overrides_expired(struct prober *p, int64_t now, struct allow *al)
{
	int64_t last = p->prev != NULL ? snap_created(p->prev) : now;
	const struct override *a;
	const struct overrides *sets[2];
	struct ovr_view vw, rvw;
	struct overrides *o;
	size_t in_force = 0;

	memset(al, 0, sizeof(*al));
	/* A damaged file is the responders' to report (once per change, not once per pass);
	 * what is in force is theirs too: the file, or its good copy. */
	if (p->events_fd == -1 && p->conf->metrics[0] == '\0' && !guard_on(p->conf))
		return 0;
	/* This node's file and the region-wide one (the one this prober's web server serves). */
	ovr_open(p->conf->overrides, p->conf->override_max, &vw, log_errfn_quiet, NULL);
	ovr_open_region(p->conf->region_overrides, p->conf->override_max, &rvw, log_errfn_quiet,
	                NULL);
	sets[0] = vw.ovr;
	sets[1] = rvw.ovr;
	o = ovr_union(sets, NULL, 2);
	/* The operator lets a tripped failover guard through: the prober's to act on. */
	if ((a = ovr_allow_failover(o, now)) != NULL) {
		al->on = 1;
		al->until = a->until;
		snprintf(al->by, sizeof(al->by), "%s", a->by);
		snprintf(al->reason, sizeof(al->reason), "%s", a->reason);
	}
	for (size_t i = 0; i < o->n; i++) {
		in_force += o->v[i].until > now;
		if (p->events_fd == -1 || o->v[i].until <= last || o->v[i].until > now)
			continue;
		event_write(p, "override expiry", fill_expiry, &o->v[i]);
		log_info("%s override %s %s expired at its time", ovr_origin_names[o->v[i].origin],
		         o->v[i].scope, ovr_action_names[o->v[i].action]);
	}
	ovr_free(o);
	ovr_view_free(&vw);
	ovr_view_free(&rvw);
	return in_force;
}

/*
 * The state file keeps counts, not causes: a state carried into this run
 * keeps the cause the last snapshot gave it until a pass folds a new one (a
 * blind pass folds none), so a snapshot never shows a failing dependency
 * without its cause.
 */
static void
causes_carried(struct prober *p)
{
	size_t nd = p->prev ? snap_dep_count(p->prev) : 0;

	for (size_t k = 0; k < nd; k++) {
		struct snap_dep d;
		int64_t i;

		snap_dep_at(p->prev, k, &d);
		i = conf_dep_find(p->conf, d.name, d.name_len);
		/* Only where the snapshot says the same state: its cause is that state's. */
		if (i >= 0 && p->st[i].cause[0] == '\0' && state_reported(&p->st[i]) == d.state)
			snprintf(p->st[i].cause, sizeof(p->st[i].cause), "%.*s", (int)d.cause_len, d.cause);
	}
}

/* "auth: connect: refused; dns: HTTP 200": each witness check and what it said this pass. */
static void
witnesses(const struct prober *p, char *out, size_t len)
{
	size_t used = 0;

	snprintf(out, len, "none");
	for (size_t i = 0; i < p->conf->ndeps && used < len; i++)
		if (p->conf->deps[i].witness)
			used += (size_t)snprintf(out + used, len - used, "%s%s: %s", used ? "; " : "",
			                         p->conf->deps[i].name, p->out[i].cause);
}

static void
guard_event(struct prober *p, const char *state, const char *cause, const struct allow *al)
{
	event_write(p, "guard", fill_guard, &(struct ev_guard){ p, state, cause,
	            p->guard_failing, p->guard_bound, p->guard_multi, al });
}

/*
 * The failover guard at this pass (docs/guard.md): stepped on what the pass
 * counts (a blind pass counts nothing new and leaves it as it is), every
 * change said loudly (log at warning, event log), and the snapshot's flag
 * returned: GUARD while it is tripped, unless the operator's allow-failover
 * (al) lets the failover through.
 */
static unsigned
guard_pass(struct prober *p, const struct eval_stats *stats, const struct allow *al, int blind,
           time_t now)
{
	const struct conf *c = p->conf;
	struct guard_state *g = &p->guard;
	enum guard_change ch = GUARD_SAME;
	char bs[32], why[1024], span[32], until[32];
	int allowed;

	p->guard_failing = stats->multi_fail;
	p->guard_multi = stats->multi;
	if (!guard_on(c)) {
		if (g->tripped) {
			snprintf(why, sizeof(why), "prober.guard_max_failing is no longer set");
			log_warnx("failover guard lets go: %s (%zu of %zu multi-region registries fail)",
			          why, stats->multi_fail, stats->multi);
			guard_event(p, "end", why, NULL);
		}
		memset(g, 0, sizeof(*g));
		p->guard_allowed = 0;
		p->guard_bound = 0;
		return 0;
	}
	p->guard_bound = conf_bound_of(&c->guard_max_failing, stats->multi);
	conf_bound_str(&c->guard_max_failing, bs, sizeof(bs));
	if (!blind)
		ch = guard_step(g, stats->multi_fail, p->guard_bound, c->guard_hold, (int64_t)now);
	if (ch == GUARD_TRIPS) {
		p->totals.guard_trips++;
		snprintf(why, sizeof(why), "%zu of %zu multi-region registries would fail over, more "
		         "than prober.guard_max_failing %s (%zu)", stats->multi_fail, stats->multi, bs,
		         p->guard_bound);
		log_warnx("failover guard trips: %s: every registry answers 200 guard until the count "
		          "stays at or under %zu for %d s, or an operator lets it through (deephealthctl "
		          "override add region allow-failover)", why, p->guard_bound, c->guard_hold);
		guard_event(p, "start", why, NULL);
	} else if (ch == GUARD_RELEASES) {
		util_span((int64_t)now - g->since, span, sizeof(span));
		snprintf(why, sizeof(why), "%zu of %zu multi-region registries fail, at or under %zu "
		         "(prober.guard_max_failing %s) for %d s", stats->multi_fail, stats->multi,
		         p->guard_bound, bs, c->guard_hold);
		log_warnx("failover guard lets go: %s; failover is on again", why);
		guard_event(p, "end", why, NULL);
		g->since = 0;
	} else if (g->tripped && p->passes == 1) {
		/* Every run (a cron minute) says once that it still holds. */
		util_iso_time((time_t)g->since, span, sizeof(span));
		log_warnx("failover guard %s since %s: %zu of %zu multi-region registries fail, bound "
		          "%zu (prober.guard_max_failing %s)%s", al->on ? "tripped" : "holds", span,
		          stats->multi_fail, stats->multi, p->guard_bound, bs,
		          al->on ? ", let through by the region's allow-failover" : "");
	}
	allowed = g->tripped && al->on;
	if (allowed && !p->guard_allowed) {
		util_iso_time((time_t)al->until, until, sizeof(until));
		snprintf(why, sizeof(why), "the region's allow-failover by %s until %s (%s): the %zu "
		         "failing multi-region registries fail over", al->by, until, al->reason,
		         stats->multi_fail);
		log_warnx("failover guard LET THROUGH by an operator: %s", why);
		guard_event(p, "allowed", why, al);
	} else if (!allowed && p->guard_allowed && g->tripped) {
		snprintf(why, sizeof(why), "the region's allow-failover is over (expired or removed) "
		         "and %zu of %zu multi-region registries fail, more than %zu",
		         stats->multi_fail, stats->multi, p->guard_bound);
		log_warnx("failover guard holds again: %s: every registry answers 200 guard", why);
		guard_event(p, "held", why, NULL);
	}
	p->guard_allowed = allowed;
	return g->tripped && !allowed ? SNAP_FLAG_GUARD : 0;
}

/* One pass: probe, fold (unless blind), evaluate, publish, save.  Returns an exit code. */
static int
run_pass(struct prober *p)
{
	const struct conf *c = p->conf;
	int64_t start = util_now_ms();
	size_t nwit = 0, witok = 0, nunknown = 0;
	struct eval_stats stats;
	struct snap_writer *w;
	char err[512], why[128] = "", wit[1024];
	int blind, was_blind, rc = PROBE_EXIT_OK;
	struct pass_figures pf = { 0 };
	struct allow allow;
	unsigned gflag;
	time_t now;

	if (check_run(p->specs, c->ndeps, c->parallel, start + (int64_t)c->deadline * 1000,
	              p->out) != 0)
		log_warnx("the check engine failed: unfinished checks count as unknown");
	p->totals.deadline_hits += util_now_ms() >= start + (int64_t)c->deadline * 1000;
	now = time(NULL);
	for (size_t i = 0; i < c->ndeps; i++) {
		enum verdict r = p->out[i].result;

		p->totals.checks[(unsigned)r <= VERDICT_UNKNOWN ? r : VERDICT_UNKNOWN]++;
		log_debug("probe %s: %s (%s, %lld ms)", c->deps[i].name, verdict_str(r),
		          p->out[i].cause, (long long)p->out[i].elapsed_ms);
		nunknown += r == VERDICT_UNKNOWN;
		if (c->deps[i].witness) {
			nwit++;
			witok += r == VERDICT_PASS || r == VERDICT_WARN;
		}
	}
	if (nwit == 1 && witok == 0)
		snprintf(why, sizeof(why), "the witness check failed");
	else if (nwit > 0 && witok == 0)
		snprintf(why, sizeof(why), "all %zu witness checks failed", nwit);
	else if (nunknown * 100 > (size_t)c->blind_unknown_pct * c->ndeps)
		snprintf(why, sizeof(why), "%zu of %zu %s could not be evaluated", nunknown,
		         c->ndeps, util_plural((long long)c->ndeps, "check", "checks"));
	blind = why[0] != '\0';
	was_blind = p->prev != NULL && (snap_flags(p->prev) & SNAP_FLAG_BLIND);

	if (blind) {
		log_warnx("pass is blind (%s): dependency states kept, snapshot marked blind so "
		          "responders fail open", why);
		if (!was_blind) {
			witnesses(p, wit, sizeof(wit));
			log_warnx("blind stretch begins: %s; witnesses: %s", why, wit);
			event_write(p, "blind start", fill_blind,
			            &(struct ev_blind){ p->conf->region, "start", why });
		}
	} else {
		if (was_blind) {
			char last[32];

			util_iso_time((time_t)snap_created(p->prev), last, sizeof(last));
			witnesses(p, wit, sizeof(wit));
			log_info("blind stretch ended: the witnesses answer again (last blind pass %s; "
			         "witnesses: %s); dependency states resume", last, wit);
			event_write(p, "blind end", fill_blind,
			            &(struct ev_blind){ p->conf->region, "end", "witnesses answer again" });
		}
		/* The same rule as for a state file: counters older than max_age (every pass
		 * since was blind) are not trusted. */
		if (p->folded != 0 && (int64_t)now - p->folded > (int64_t)c->max_age) {
			log_warnx("no pass folded for %lld s, more than snapshot.max_age (%d s): "
			          "every dependency starts fresh", (long long)((int64_t)now - p->folded),
			          c->max_age);
			for (size_t i = 0; i < c->ndeps; i++)
				state_reset(&p->st[i], (int64_t)now);
		}
		p->folded = (int64_t)now;
		for (size_t i = 0; i < c->ndeps; i++) {
			p->from[i] = state_reported(&p->st[i]);
			p->moved[i] = state_fold(&p->st[i], &c->deps[i], p->out[i].result,
			                         p->out[i].cause, now);
		}
	}
	pf.overrides = overrides_expired(p, (int64_t)now, &allow);
	stats.users = p->users;
	stats.changes_max = p->events_fd != -1 ? (size_t)c->event_log_verdicts : 0;
	w = eval_build(c, p->map, p->st, p->prev, (int64_t)now, blind ? SNAP_FLAG_BLIND : 0, &stats);
	/* Transitions are told after the build, which counts the registries each one touches. */
	for (size_t i = 0; !blind && i < c->ndeps; i++) {
		if (p->moved[i])
			log_transition(p, i);
	}
	/* The guard counts what the pass evaluated; its flag is the whole region's. */
	gflag = guard_pass(p, &stats, &allow, blind, now);
	if (gflag != 0)
		snapw_set_header(w, (int64_t)now, (uint32_t)c->interval,
		                 (blind ? SNAP_FLAG_BLIND : 0) | gflag);
	pf.guard = !guard_on(c) ? GUARD_OFF : !p->guard.tripped ? GUARD_CLEAR :
	           gflag ? GUARD_HOLDING : GUARD_ALLOWED;
	pf.guard_failing = stats.multi_fail;
	pf.guard_bound = p->guard_bound;
	if (snapw_publish(w, c->snapshot_path, err, sizeof(err)) != 0) {
		log_warnx("snapshot %s NOT published, the previous one stays: %s", c->snapshot_path,
		          err);
		rc = PROBE_EXIT_PUBLISH;
		p->totals.passes[PASS_FAILED]++;
	} else {
		struct snapshot *s = NULL;

		/* Routing changes: told once published, before the next pass compares with it. */
		for (size_t k = 0; k < stats.nchanges; k++)
			event_write(p, "verdict", fill_verdict,
			            &(struct ev_verdict){ p, &stats.changes[k], now });
		if (stats.changed > stats.nchanges && p->events_fd != -1)
			event_write(p, "verdicts", fill_verdicts, &(struct ev_verdicts){ p, &stats, now });
		if (stats.changed > 0)
			log_info("%zu %s verdict (now %zu pass, %zu warn, %zu fail, %zu "
			         "single-region)", stats.changed,
			         util_plural((long long)stats.changed, "registry changed",
			                     "registries changed"),
			         stats.pass, stats.warn, stats.fail, stats.single);
		log_debug("published %s: %zu %s, %zu %s%s in %lld ms", c->snapshot_path, p->map->n,
		          util_plural((long long)p->map->n, "registry", "registries"), c->ndeps,
		          util_plural((long long)c->ndeps, "dependency", "dependencies"),
		          blind ? ", BLIND" : "", (long long)(util_now_ms() - start));
		/* The next pass compares verdicts with what we just published. */
		if (snap_load(c->snapshot_path, time(NULL), &s, NULL, 0) == SNAP_OK) {
			snap_free(p->prev);
			p->prev = s;
		}
		p->totals.passes[blind ? PASS_BLIND : PASS_PUBLISHED]++;
		p->totals.last_publish = (uint64_t)now;
	}
	snapw_free(w);
	free(stats.changes);
	pf.duration_ms = util_now_ms() - start;
	pf.deadline = c->deadline;
	if (c->metrics[0] != '\0' && p->prev != NULL &&
	    metrics_write(c->metrics, &p->totals, &pf, p->prev, err, sizeof(err)) != 0)
		log_warnx("metrics %s NOT written: %s", c->metrics, err);
	if (!blind && state_save(c->state_path, c, p->st, guard_on(c) ? &p->guard : NULL, err,
	                         sizeof(err)) != 0) {
		log_warnx("state %s NOT saved: %s", c->state_path, err);
		if (rc == PROBE_EXIT_OK)
			rc = PROBE_EXIT_STATE;
	}
	/* Published, but no protection: a run that only had blind passes says so. */
	if (blind && rc == PROBE_EXIT_OK)
		rc = PROBE_EXIT_BLIND;
	return rc;
}

static void
usage(FILE *f, int code)
{
	fprintf(f,
	        "usage: deephealth-probe [-hStvV] [-c config] [-r seconds [-d seconds]]\n"
	        "  -c config     configuration file (default $DEEPHEALTH_CONFIG, then %s)\n"
	        "  -t            check the configuration, the registry map and, for this user,\n"
	        "                the writable paths and credentials; then exit\n"
	        "  -r seconds    repeat a pass every this many seconds ...\n"
	        "  -d seconds    ... for up to this long in all (default 60: one cron minute)\n"
	        "  -S, --syslog  log to syslog (daemon) whatever log.syslog says\n"
	        "  -v            log every probe (debug)\n"
	        "  -h, --help    this text\n"
	        "  -V, --version print the version\n"
	        "exit: 0 published, 1 configuration or setup, 2 usage, 3 locked, 4 registry map\n"
	        "      unreadable, 5 snapshot not published, 6 state not saved or not read,\n"
	        "      7 a pass was blind\n"
	        "      (deephealth-probe(8))\n",
	        DH_DEFAULT_CONF);
	exit(code);
}

/* One pass of the run (run_repeat's): the map read again after the first. */
static void
pass(void *arg)
{
	struct prober *p = arg;
	int r;

	/* Every pass sees the map as it is now; one that cannot read it does nothing. */
	if (p->passes++ > 0 && map_refresh(p) != 0) {
		log_warnx("pass skipped: nothing probed or published until the registry map "
		          "can be read");
		r = PROBE_EXIT_REGMAP;
	} else {
		r = run_pass(p);
	}
	/* A blind pass is told only when no pass failed worse. */
	if (r != PROBE_EXIT_OK && (r != PROBE_EXIT_BLIND || p->rc == PROBE_EXIT_OK))
		p->rc = r;
}

int
main(int argc, char **argv)
{
	struct prober p;
	struct run_opts o;
	int lockfd, owner_bad, rc = PROBE_EXIT_OK;
	void *errarg;

	run_options(argc, argv, "deephealth-probe", usage, &o);
	log_init("deephealth-probe", o.to_syslog && !o.test_only,
	         o.verbose ? LOG_LVL_DEBUG : LOG_LVL_INFO);
	memset(&p, 0, sizeof(p));
	p.events_fd = -1;
	if (gethostname(p.node, sizeof(p.node)) != 0)
		p.node[0] = '\0';
	p.node[sizeof(p.node) - 1] = '\0';
	/* With -t every report is a plain line on stderr; else through the log, at err: a run
	 * with any of them probes nothing (every one is reported first). */
	errarg = o.test_only ? &o.test_only : NULL;
	p.conf = conf_load(o.conf_path, prober_exts, log_errfn_fatal, errarg);
	if (p.conf == NULL) {
		if (!o.test_only)
			log_errx("%s: cannot run with this configuration (errors above): nothing probed, "
			         "nothing published", o.conf_path);
		return PROBE_EXIT_CONFIG;
	}
	if (!o.test_only)
		log_init("deephealth-probe", o.to_syslog || p.conf->log_syslog,
		         o.verbose ? LOG_LVL_DEBUG : p.conf->log_level);
	/* From here on as the state directory's owner (root becomes it), so that what this run
	 * writes, the timer's user can read and lock; -t then checks what that user can do. */
	owner_bad = owner_become(p.conf->state_path,
	                         (const char *const[]){ p.conf->snapshot_path, p.conf->state_path,
	                                                p.conf->lock_path, p.conf->event_log,
	                                                p.conf->metrics, NULL },
	                         o.test_only ? OWNER_CHECK : OWNER_RUN, log_errfn_fatal, errarg);
	if ((owner_bad != 0 && !o.test_only) ||
	    conf_check_prober(p.conf, o.test_only, log_errfn_fatal, errarg) != 0 || owner_bad != 0) {
		if (!o.test_only)
			log_errx("%s: cannot run %s (errors above): nothing probed, nothing published",
			         o.conf_path, owner_bad ? "as this user" : "with this configuration");
		conf_free(p.conf);
		return PROBE_EXIT_CONFIG;
	}
	if (o.test_only) {
		size_t bad = 0;

		p.map = regmap_load(p.conf->registries, p.conf, log_errfn, &o.test_only, &bad);
		if (p.map != NULL && bad == 0)
			printf("%s: configuration OK (%zu %s, %zu %s)\n", o.conf_path, p.conf->ndeps,
			       util_plural((long long)p.conf->ndeps, "dependency", "dependencies"),
			       p.map->n, util_plural((long long)p.map->n, "registry", "registries"));
		rc = p.map == NULL ? PROBE_EXIT_REGMAP : bad ? PROBE_EXIT_CONFIG : PROBE_EXIT_OK;
		goto out;
	}
	if (map_refresh(&p) != 0) {
		log_errx("registry map %s cannot be read: nothing probed, nothing published",
		         p.conf->registries);
		rc = PROBE_EXIT_REGMAP;
		goto out;
	}

	run_signals();
	lockfd = run_lock(p.conf->lock_path, "deephealth-probe");
	if (lockfd < 0) {
		rc = lockfd == RUN_LOCK_HELD ? PROBE_EXIT_LOCKED : PROBE_EXIT_CONFIG;
		goto out;
	}
	publish_clean(p.conf->snapshot_path);
	publish_clean(p.conf->state_path);
	if (p.conf->event_log[0] != '\0') {
		/* 0644 like the snapshot, which says as much: the responders (the web server's
		 * user) read its end for the status page's recent events. */
		p.events_fd = open(p.conf->event_log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
		if (p.events_fd == -1)
			log_warn("event log %s: open (transitions are still logged here)",
			         p.conf->event_log);
	}
	p.st = xcalloc(p.conf->ndeps, sizeof(*p.st));
	p.out = xcalloc(p.conf->ndeps, sizeof(*p.out));
	p.users = xcalloc(p.conf->ndeps, sizeof(*p.users));
	p.from = xcalloc(p.conf->ndeps, sizeof(*p.from));
	p.moved = xcalloc(p.conf->ndeps, sizeof(*p.moved));
	p.specs = xcalloc(p.conf->ndeps, sizeof(*p.specs));
	for (size_t i = 0; i < p.conf->ndeps; i++)
		p.specs[i] = p.conf->deps[i].check;
	if (state_load(p.conf->state_path, p.conf, p.st, (int64_t)time(NULL), log_errfn, NULL,
	               &p.guard) != 0) {
		/* Its counters are what keeps a failing dependency down until it rises: nothing is
		 * probed or published (the snapshot ages out and responders fail open if this
		 * lasts), and the file is left for the next run. */
		log_warnx("state %s cannot be read: run skipped, the state file kept as it is",
		          p.conf->state_path);
		rc = PROBE_EXIT_STATE;
		close(lockfd);
		goto out;
	}
	metrics_load(p.conf->metrics, &p.totals);
	if (p.conf->metrics[0] != '\0')
		publish_clean(p.conf->metrics);
	p.folded = (int64_t)time(NULL);
	(void)snap_load(p.conf->snapshot_path, time(NULL), &p.prev, NULL, 0);
	causes_carried(&p);
	/* The guard as the last run left it; without its line, as the last snapshot shows it.
	 * Tripped without the flag: an operator's allow-failover was letting it through. */
	if (!p.guard.known && p.prev != NULL && (snap_flags(p.prev) & SNAP_FLAG_GUARD)) {
		p.guard.tripped = 1;
		p.guard.since = snap_created(p.prev);
	}
	p.guard_allowed = p.guard.tripped && p.prev != NULL && !(snap_flags(p.prev) & SNAP_FLAG_GUARD);

	run_repeat(o.every, o.total, (int64_t)p.conf->deadline * 1000, pass, &p);
	rc = p.rc;
	close(lockfd);
out:
	if (p.events_fd != -1)
		close(p.events_fd);
	snap_free(p.prev);
	free(p.st);
	free(p.out);
	free(p.users);
	free(p.from);
	free(p.moved);
	free(p.specs);
	regmap_free(p.map);
	conf_free(p.conf);
	return rc;
}
