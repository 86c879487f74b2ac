/*
 * cmd_override.c: deephealthctl override: the operator's overrides: list, add, remove, check.
 * Every file it writes is first parsed by the responders' parser (ovr_save), and every
 * change says beforehand which registries' answers it changes (--dry-run: only that).
 */

#include <errno.h>
#include <fnmatch.h>
#include <getopt.h>
#include <limits.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "ctl.h"

#define CHANGES_SHOWN 20 /* registries a real change lists (--dry-run lists them all) */

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
	char *buf = NULL, err[4400];
	size_t len = 0;
	FILE *m;
	int fd;

	if (x->in.conf->event_log[0] == '\0')
		return;
	/* Never create it: the prober's user must keep owning it (root would take it over). */
	if ((fd = open(x->in.conf->event_log, O_WRONLY | O_APPEND | O_CLOEXEC)) == -1) {
		fprintf(stderr, "deephealthctl: event log %s: %s (the change is made, not recorded)\n",
		        x->in.conf->event_log, errno == ENOENT ? "not there yet: the prober creates it"
		                                            : strerror(errno));
		return;
	}
	if ((m = open_memstream(&buf, &len)) == NULL || ovr_event_line(m, what, v, (int64_t)x->now) != 0 ||
	    fclose(m) != 0)
		fprintf(stderr, "deephealthctl: event log %s: the line not made (the change is made, not "
		        "recorded)\n", x->in.conf->event_log);
	else if (evlog_append(x->in.conf->event_log, fd, buf, len, err, sizeof(err)) != 0)
		fprintf(stderr, "deephealthctl: %s (the change is made, not recorded)\n", err);
	free(buf);
	close(fd);
}

void
override_print(const struct ctl *x, size_t i, const struct override *v, int json)
{
	char until[32], set[32];
	int64_t rest = v->until - (int64_t)x->now;

	util_iso_time((time_t)v->until, until, sizeof(until));
	util_iso_time((time_t)v->set, set, sizeof(set));
	if (json) {
		printf("%s", i ? "," : "");
		status_override_json(stdout, i, v, x->now);
		return;
	}
	printf("%3zu  %-28s %-10s %s %s (set %s by %s%s%s): %s\n", i + 1, v->scope,
	       ovr_action_names[v->action], rest > 0 ? "until" : "EXPIRED", until,
	       set, v->by, v->from ? ", from " : "", v->from ? v->from : "", v->reason);
}

/* What the file's damage means now, on stderr (list, add, remove say it alike). */
static void
say_damaged(const struct ctl *x)
{
	char when[32];

	if (x->in.ovr.vw.state == OVR_FILE_FALLBACK) {
		util_iso_time((time_t)x->in.ovr.vw.good_time, when, sizeof(when));
		fprintf(stderr, "deephealthctl: %s: %d bad line%s (above): the responders ignore the "
		        "file and keep to its last good copy %s%s (written %s)\n", x->in.conf->overrides,
		        x->in.ovr.vw.errors, util_plural((long long)x->in.ovr.vw.errors, "", "s"),
		        x->in.conf->overrides, OVR_GOOD_SUFFIX, when);
	} else if (x->in.ovr.vw.state == OVR_FILE_DAMAGED) {
		fprintf(stderr, "deephealthctl: %s: %d bad line%s (above), and no good copy %s%s: NO "
		        "override is in force\n", x->in.conf->overrides, x->in.ovr.vw.errors,
		        util_plural((long long)x->in.ovr.vw.errors, "", "s"), x->in.conf->overrides,
		        OVR_GOOD_SUFFIX);
	}
}

/*
 * How many registries (or dependencies) of the snapshot the scope names; -1 when it
 * cannot be told (no usable snapshot).  The region names them all.
 */
static long
scope_matches(const struct ctl *x, const char *scope)
{
	const char *glob = strchr(scope, ':');
	int dep = strncmp(scope, "dependency:", 11) == 0;
	size_t n, hits = 0;
	char name[DH_NAME_MAX + 1];

	if (x->in.snap == NULL)
		return -1;
	n = dep ? snap_dep_count(x->in.snap) : snap_reg_count(x->in.snap);
	if (glob == NULL)
		return (long)n;
	for (size_t i = 0; i < n; i++) {
		struct snap_dep d;
		struct snap_reg g;

		if (dep) {
			snap_dep_at(x->in.snap, i, &d);
			snprintf(name, sizeof(name), "%.*s", (int)d.name_len, d.name);
		} else {
			snap_reg_at(x->in.snap, i, &g);
			snprintf(name, sizeof(name), "%.*s", (int)g.name_len, g.name);
		}
		hits += fnmatch(glob + 1, name, 0) == 0;
	}
	return (long)hits;
}

/*
 * The registries whose answer differs between the overrides before and after, by the
 * decision the responders make (answer_registry, the code explain uses), at most limit
 * listed; returns how many differ, or -1 when the snapshot is unusable.
 */
static long
changes(const struct ctl *x, const struct overrides *before, const struct overrides *after,
        size_t limit)
{
	struct answer_state a = x->st, b = x->st;
	size_t n = x->in.snap ? snap_reg_count(x->in.snap) : 0, diff = 0;
	char name[DH_NAME_MAX + 1];
	/* With the other file's overrides, as the responders merge them. */
	const struct overrides *sa[2] = { before, x->in.rovr.vw.ovr }, *sb[2] = { after,
	                                  x->in.rovr.vw.ovr };
	struct overrides *ua, *ub;

	if (x->in.snap == NULL)
		return -1;
	a.ovr = ua = ovr_union(sa, NULL, 2);
	b.ovr = ub = ovr_union(sb, NULL, 2);
	for (size_t i = 0; i < n; i++) {
		struct policy_out pa, pb;
		struct snap_reg g;

		snap_reg_at(x->in.snap, i, &g);
		snprintf(name, sizeof(name), "%.*s", (int)g.name_len, g.name);
		answer_registry(&a, name, x->now, &pa);
		answer_registry(&b, name, x->now, &pb);
		if (pa.http == pb.http && pa.reason == pb.reason)
			continue;
		if (diff++ < limit)
			printf("  %-32s %d %-18s -> %d %s\n", name, pa.http, reason_str(pa.reason),
			       pb.http, reason_str(pb.reason));
	}
	if (diff > limit)
		printf("  ... and %zu more (--dry-run lists them all)\n", diff - limit);
	ovr_free(ua);
	ovr_free(ub);
	return (long)diff;
}

/* The summary line after the list of changes. */
static void
say_changes(const struct ctl *x, long n, int dry)
{
	if (n < 0)
		printf("%s no registry's answer can be foretold: the snapshot %s is unusable (%s)\n",
		       dry ? "would change:" : "changed:", x->in.conf->snapshot_path,
		       snap_err_str(x->in.snap_err));
	else
		printf("%s %ld of %zu registr%s\n", dry ? "would change the answer of" :
		       "changed the answer of", n, snap_reg_count(x->in.snap),
		       util_plural((long long)snap_reg_count(x->in.snap), "y", "ies"));
}

/*
 * allow-failover changes no answer by itself: the prober reads it and, at its next pass,
 * publishes without the guard's flag.  Say what that will do, from the snapshot here.
 */
static void
say_allow(const struct ctl *x, int adding, int dry)
{
	size_t multi = 0, fails = snap_failing_multi(x->in.snap, &multi);
	size_t n = conf_bound_of(&x->in.conf->guard_max_failing, multi);
	int guarded = x->in.snap != NULL && (snap_flags(x->in.snap) & SNAP_FLAG_GUARD);
	char bound[32];

	conf_bound_str(&x->in.conf->guard_max_failing, bound, sizeof(bound));
	printf("allow-failover is the prober's to act on, at its next pass (prober.interval %d s; "
	       "on a fleet, on every prober: docs/guard.md)\n", x->in.conf->interval);
	if (bound[0] == '\0')
		printf("prober.guard_max_failing is not set in %s: the failover guard is off here\n",
		       x->conf_path);
	else if (adding && guarded)
		printf("the failover guard holds now: %s the %zu of %zu multi-region registries that "
		       "fail answer 503 and fail over\n", dry ? "would let" : "lets", fails, multi);
	else if (adding)
		printf("the failover guard (%s: %zu of %zu multi-region registries) does not hold "
		       "now; while this is in force it lets every failover through\n", bound, n, multi);
	else if (fails > n)
		printf("%zu of %zu multi-region registries fail, over the guard's %zu (%s): unless "
		       "the count falls, every registry answers 200 guard again\n", fails, multi, n,
		       bound);
}

/* Keep a damaged file's bytes beside it before it is replaced: an operator's edit is never lost. */
static void
keep_damaged(const struct ctl *x)
{
	char path[4200], err[512], *buf = NULL;
	size_t len = 0;

	snprintf(path, sizeof(path), "%s.damaged", x->in.conf->overrides);
	if ((buf = ovr_file_read(x->in.conf->overrides, &len, NULL, err, sizeof(err))) == NULL ||
	    publish_file(path, buf, len, 0644, err, sizeof(err)) != 0)
		fprintf(stderr, "deephealthctl: the damaged file could not be kept: %s\n", err);
	else
		fprintf(stderr, "deephealthctl: the damaged file is kept as %s; the new file is built "
		        "on what is in force\n", path);
	free(buf);
}

/* Does the change add or drop (drop[i]) a region allow-failover? */
static int
allows(const struct overrides *o, const char *drop, const struct override *add)
{
	if (add->scope != NULL)
		return add->action == OVR_ALLOW_FAILOVER;
	for (size_t i = 0; o != NULL && i < o->n; i++)
		if (drop[i] && o->v[i].action == OVR_ALLOW_FAILOVER)
			return 1;
	return 0;
}

/* Options of add and remove. */
struct edit_opts {
	long span_s;
	char reason[512];
	int force, dry;
};

static void
edit_options(int argc, char **argv, int first, const char *allowed, struct edit_opts *e)
{
	static const struct option longopts[] = {
		{ "dry-run", no_argument, NULL, 'n' },
		{ "force", no_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 }
	};
	int ch;

	e->span_s = -1;
	e->reason[0] = '\0';
	optind = first;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "+e:r:fn", longopts, NULL)) != -1) {
		if (ch == '?' || strchr(allowed, ch) == NULL) {
			if (optopt != 0 && strchr("er", optopt) != NULL && strchr(allowed, optopt))
				ctl_usage_error("override %s: option -%c needs a value", argv[1], optopt);
			ctl_usage_error("override %s: unknown option %s", argv[1], argv[optind - 1]);
		}
		if (ch == 'e' && (e->span_s = parse_span(optarg)) < 0)
			ctl_usage_error("override add: -e %s: a duration such as 90s, 45m, 8h or 7d",
			                optarg);
		if (ch == 'r')
			snprintf(e->reason, sizeof(e->reason), "%s", optarg);
		e->force |= ch == 'f';
		e->dry |= ch == 'n';
	}
	if (optind != argc)
		ctl_usage_error("override %s: unexpected argument %s", argv[1], argv[optind]);
}

/* Check add's arguments; fill v (scope and reason point into argv and e). */
static void
add_args(const struct ctl *x, int argc, char **argv, struct edit_opts *e, struct override *v,
         char *by, size_t bylen)
{
	int a;

	if (argc < 4 || argv[2][0] == '-' || argv[3][0] == '-')
		ctl_usage_error("override add SCOPE ACTION -e DURATION -r REASON: SCOPE and ACTION "
		                "are required");
	edit_options(argc, argv, 4, "erfn", e);
	if (!ovr_scope_ok(argv[2]))
		ctl_usage_error("override add: scope %s: region, registry:NAME or dependency:NAME (NAME "
		                "a name or a glob: * ? and closed [sets])", argv[2]);
	if ((a = names_find(ovr_action_names, argv[3])) < 0)
		ctl_usage_error("override add: action %s: force-pass, force-fail, enforce, shadow or "
		                "allow-failover", argv[3]);
	if (a == OVR_ALLOW_FAILOVER && strcmp(argv[2], "region") != 0)
		ctl_usage_error("override add: allow-failover is for the region only (the failover "
		                "guard holds the whole region), not %s", argv[2]);
	if (strncmp(argv[2], "dependency:", 11) == 0 && a != OVR_FORCE_PASS && a != OVR_FORCE_FAIL)
		ctl_usage_error("override add: a dependency can be forced to pass or fail, not given "
		                "the mode %s", argv[3]);
	if (e->span_s <= 0 || e->span_s > x->in.conf->override_max)
		ctl_usage_error("override add: -e: an expiry is required, at most "
		                "responder.override_max (%ds)", x->in.conf->override_max);
	if (e->reason[0] == '\0' || strlen(e->reason) > 500 ||
	    strspn(e->reason, " !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                      "[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~") != strlen(e->reason))
		ctl_usage_error("override add: -r: a reason is required: printable ASCII, at most 500 "
		                "bytes");
	who(by, bylen);
	*v = (struct override){ .scope = argv[2], .action = (enum ovr_action)a,
	                        .set = (int64_t)x->now, .until = (int64_t)x->now + e->span_s,
	                        .by = by, .reason = e->reason };
}

/* Refuse a scope that names nothing now, unless forced; 0 to go on. */
static int
scope_check(const struct ctl *x, const char *scope, int force)
{
	long hits = scope_matches(x, scope);
	const char *what = strncmp(scope, "dependency:", 11) == 0 ? "dependency" : "registry";

	if (hits > 0 || force)
		return 0;
	if (hits < 0)
		fprintf(stderr, "deephealthctl: %s: cannot tell what it names: the snapshot %s is "
		        "unusable (%s); -f sets it anyway\n", scope, x->in.conf->snapshot_path,
		        snap_err_str(x->in.snap_err));
	else
		fprintf(stderr, "deephealthctl: %s names no %s of the snapshot %s: a typo? -f sets it "
		        "anyway\n", scope, what, x->in.conf->snapshot_path);
	return -1;
}

/* Both files (or, with --region-wide, that one alone), each numbered as remove counts. */
static int
list(struct ctl *x, int region)
{
	const struct overrides *r = x->in.rovr.vw.ovr;

	if (x->in.ovr.vw.errors > 0)
		say_damaged(x);
	if (x->json)
		printf("[");
	for (size_t i = 0; x->in.ovr.vw.ovr != NULL && i < x->in.ovr.vw.ovr->n; i++)
		override_print(x, i, &x->in.ovr.vw.ovr->v[i], x->json);
	for (size_t i = 0; !region && r != NULL && i < r->n; i++) {
		if (i == 0 && !x->json)
			printf("region-wide (%s; remove with --region-wide on the host that serves "
			       "it%s%s):\n", x->in.conf->region_overrides, r->v[0].from ? ", e.g. " : "",
			       r->v[0].from ? r->v[0].from : "");
		if (x->json && i == 0) /* override_print separates the rest */
			printf("%s", x->in.ovr.vw.ovr != NULL && x->in.ovr.vw.ovr->n > 0 ? "," : "");
		override_print(x, i, &r->v[i], x->json);
	}
	if (x->json)
		printf("]\n");
	else if ((x->in.ovr.vw.ovr == NULL || x->in.ovr.vw.ovr->n == 0) && (region || r == NULL || r->n == 0))
		printf("no overrides (%s)\n", x->in.conf->overrides);
	return x->in.ovr.vw.errors > 0 ? CTL_EXIT_CONFIG : CTL_EXIT_OK;
}

/* Become the owner of the overrides' directory, handing back what root left there; 0 or -1. */
static int
become_owner(const struct ctl *x, const char *lockpath)
{
	char good[4200], damaged[4200];

	snprintf(good, sizeof(good), "%s%s", x->in.conf->overrides, OVR_GOOD_SUFFIX);
	snprintf(damaged, sizeof(damaged), "%s.damaged", x->in.conf->overrides);
	return owner_become(x->in.conf->overrides, (const char *const[]){ x->in.conf->overrides, lockpath,
	                    good, damaged, x->in.conf->event_log, NULL }, OWNER_RUN, ctl_errfn, NULL);
}

/* override check: is the file what the responders use?  A good one becomes the good copy. */
static int
check(struct ctl *x, int region)
{
	char *buf = NULL, err[512], lockpath[4096];
	size_t len = 0;
	int rc, lockfd;

	if (x->in.ovr.vw.errors > 0) {
		say_damaged(x);
		return CTL_EXIT_CONFIG;
	}
	if (x->in.ovr.vw.state == OVR_FILE_NONE) {
		printf("%s: no file: no override in force\n", x->in.conf->overrides);
		return CTL_EXIT_OK;
	}
	/* A hand edit that parses: keep it as the copy a later damage falls back to. */
	snprintf(lockpath, sizeof(lockpath), "%s.lock", x->in.conf->overrides);
	if (become_owner(x, lockpath) != 0)
		return CTL_EXIT_CONFIG;
	if ((lockfd = util_lock_open(lockpath)) == -1 || flock(lockfd, LOCK_EX) == -1) {
		fprintf(stderr, "deephealthctl: %s: %s\n", lockpath, strerror(errno));
		if (lockfd != -1)
			close(lockfd);
		return CTL_EXIT_CONFIG;
	}
	/* Under the lock, the file as it is now (an editor may have just replaced it). */
	if ((buf = ovr_file_read(x->in.conf->overrides, &len, NULL, err, sizeof(err))) == NULL) {
		fprintf(stderr, "deephealthctl: %s\n", err);
		close(lockfd);
		return CTL_EXIT_CONFIG;
	}
	rc = (region ? ovr_save_region : ovr_save)(x->in.conf->overrides, buf, len,
	                                           x->in.conf->override_max, ctl_errfn, NULL);
	free(buf);
	close(lockfd);
	if (rc < 0)
		return CTL_EXIT_CONFIG;
	printf("%s: OK, %zu override%s; kept as its good copy %s%s\n", x->in.conf->overrides,
	       x->in.ovr.vw.ovr->n, util_plural((long long)x->in.ovr.vw.ovr->n, "", "s"), x->in.conf->overrides,
	       OVR_GOOD_SUFFIX);
	return CTL_EXIT_OK;
}

/*
 * The region-wide file instead of the node's, or back: the two paths, views and sets
 * change places, so that every step below works on the target and sees the other
 * file as the other (changes() merges it in, as the responders do).
 */
static void
swap_target(struct ctl *x)
{
	struct ovr_watch t = x->in.ovr;
	char *p = x->in.conf->overrides;

	x->in.conf->overrides = x->in.conf->region_overrides;
	x->in.conf->region_overrides = p;
	x->in.ovr = x->in.rovr;
	x->in.rovr = t;
}

/* Take -w / --region-wide out of argv wherever it is; 1 when it was there. */
static int
take_region_flag(int *argc, char **argv)
{
	int found = 0, n = 2;

	for (int i = 2; i < *argc; i++) {
		if (strcmp(argv[i], "-w") == 0 || strcmp(argv[i], "--region-wide") == 0)
			found = 1;
		else
			argv[n++] = argv[i];
	}
	argv[n] = NULL;
	*argc = n;
	return found;
}

static int edit(struct ctl *x, int argc, char **argv, int region);

int
cmd_override(struct ctl *x, int argc, char **argv)
{
	int region = argc > 1 && take_region_flag(&argc, argv), rc;

	if (x->in.conf == NULL)
		return CTL_EXIT_CONFIG;
	if (region && x->in.conf->follow_sources != NULL && x->in.conf->follow_sources[0] != NULL &&
	    strcmp(argv[1], "list") != 0) {
		fprintf(stderr, "deephealthctl: override --region-wide: this host follows its region "
		        "(follower.sources in %s): its %s is deephealth-follow's copy of what the "
		        "probers serve, replaced at every pass. Set region-wide overrides on a host "
		        "that serves them (a prober: %s)\n", x->conf_path, x->in.conf->region_overrides,
		        x->in.conf->follow_sources[0]);
		return CTL_EXIT_CONFIG;
	}
	if (region)
		swap_target(x);
	rc = edit(x, argc, argv, region);
	if (region)
		swap_target(x);
	return rc;
}

static int
edit(struct ctl *x, int argc, char **argv, int region)
{
	const char *sub = argc > 1 ? argv[1] : "";
	char lockpath[4096], *drop = NULL, *buf = NULL, by[64];
	struct overrides *after = NULL;
	struct edit_opts e = { 0 };
	struct override v = { 0 };
	size_t len = 0;
	int lockfd = -1, rc = CTL_EXIT_OK;
	long n;

	if (strcmp(sub, "list") == 0 || strcmp(sub, "check") == 0) {
		if (argc != 2)
			ctl_usage_error("override %s takes no arguments but --region-wide", sub);
		return sub[0] == 'l' ? list(x, region) : check(x, region);
	}
	if (strcmp(sub, "add") == 0)
		add_args(x, argc, argv, &e, &v, by, sizeof(by));
	else if (strcmp(sub, "remove") == 0 && argc >= 3 && argv[2][0] != '-')
		edit_options(argc, argv, 3, "n", &e);
	else
		ctl_usage_error("override: %s", strcmp(sub, "remove") == 0 ? "remove INDEX|SCOPE" :
		                "list, add, remove or check");
	/* One editor at a time; the responders read the file only as a whole, after rename. */
	snprintf(lockpath, sizeof(lockpath), "%s.lock", x->in.conf->overrides);
	/* As the directory's owner (root becomes it): files the timer's user can lock (owner.c). */
	if (!e.dry && become_owner(x, lockpath) != 0)
		return CTL_EXIT_CONFIG;
	if (!e.dry && ((lockfd = util_lock_open(lockpath)) == -1 || flock(lockfd, LOCK_EX) == -1)) {
		fprintf(stderr, "deephealthctl: %s: %s\n", lockpath, strerror(errno));
		if (lockfd != -1)
			close(lockfd);
		return CTL_EXIT_CONFIG;
	}
	/* Read again under the lock: another editor may have just written it.  Its bad lines,
	 * if any, were listed when it was first read. */
	ovr_view_free(&x->in.ovr.vw);
	(region ? ovr_open_region : ovr_open)(x->in.conf->overrides, x->in.conf->override_max,
	                                      &x->in.ovr.vw, log_errfn_quiet, NULL);
	ctl_union(x); /* x->in.ovr_all borrowed from the view just freed */
	if (x->in.ovr.vw.errors > 0)
		say_damaged(x);
	drop = xcalloc(x->in.ovr.vw.ovr ? x->in.ovr.vw.ovr->n + 1 : 1, 1);
	if (v.scope != NULL) {
		if (scope_check(x, v.scope, e.force) != 0) {
			rc = CTL_EXIT_CONFIG;
			goto out;
		}
	} else {
		long idx = util_num(argv[2], 1, LONG_MAX); /* a number: the list's; else a scope */
		size_t k = 0;

		for (size_t i = 0; x->in.ovr.vw.ovr != NULL && i < x->in.ovr.vw.ovr->n; i++) {
			drop[i] = idx > 0 ? (size_t)idx == i + 1 : strcmp(x->in.ovr.vw.ovr->v[i].scope, argv[2]) == 0;
			k += (size_t)drop[i];
		}
		if (k == 0) {
			fprintf(stderr, "deephealthctl: no override %s in %s (see: deephealthctl override "
			        "list)\n", argv[2], x->in.conf->overrides);
			rc = CTL_EXIT_CONFIG;
			goto out;
		}
	}
	v.origin = region ? OVR_REGIONWIDE : OVR_NODE;
	buf = (region ? ovr_render_region : ovr_render)(x->in.ovr.vw.ovr, drop, v.scope != NULL ? &v : NULL,
	                                                (int64_t)x->now, &len);
	if ((region ? ovr_parse_region : ovr_parse)("the new overrides", buf, len,
	                                            x->in.conf->override_max, &after, ctl_errfn,
	                                            NULL) != 0) {
		fprintf(stderr, "deephealthctl: %s: not written: the responders would refuse it\n",
		        x->in.conf->overrides);
		rc = CTL_EXIT_CONFIG;
		goto out;
	}
	if (e.dry) {
		printf("dry run: nothing written to %s\n", x->in.conf->overrides);
		say_changes(x, changes(x, x->in.ovr.vw.ovr, after, SIZE_MAX), 1);
		if (allows(x->in.ovr.vw.ovr, drop, &v))
			say_allow(x, v.scope != NULL, 1);
		goto out;
	}
	if (x->in.ovr.vw.errors > 0)
		keep_damaged(x);
	if ((region ? ovr_save_region : ovr_save)(x->in.conf->overrides, buf, len,
	                                          x->in.conf->override_max, ctl_errfn, NULL) < 0) {
		rc = CTL_EXIT_CONFIG;
		goto out;
	}
	if (region)
		printf("region-wide: %s, served to the region's front doors by this host's web "
		       "server; each door's deephealth-follow takes it at its next pass\n",
		       x->in.conf->overrides);
	if (v.scope != NULL) {
		override_event(x, "add", &v);
		override_print(x, x->in.ovr.vw.ovr ? x->in.ovr.vw.ovr->n : 0, &v, 0);
	}
	for (size_t i = 0; v.scope == NULL && i < x->in.ovr.vw.ovr->n; i++)
		if (drop[i]) {
			override_event(x, "remove", &x->in.ovr.vw.ovr->v[i]);
			printf("removed: ");
			override_print(x, i, &x->in.ovr.vw.ovr->v[i], 0);
		}
	n = changes(x, x->in.ovr.vw.ovr, after, CHANGES_SHOWN);
	say_changes(x, n, 0);
	if (allows(x->in.ovr.vw.ovr, drop, &v))
		say_allow(x, v.scope != NULL, 0);
out:
	ovr_free(after);
	free(buf);
	free(drop);
	if (lockfd != -1)
		close(lockfd);
	return rc;
}
