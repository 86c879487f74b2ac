/*
 * inputs.c: the one loader of what a responder sees besides the request: its
 * configuration (with the resolver: host map and rules), the snapshot, the
 * kill switch, the node's and the region-wide override files, a follower's
 * account (.fleet) and the answer counters.  The responder keeps it fresh (a
 * stat(2) per file every responder.recheck_ms, a file read again only when it
 * changed); deephealthctl looks once.  Both then answer through
 * answer_request from the same struct, so what explain says is what the
 * responder answers by construction, not by a second loader kept in step.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "answer.h"

/* Every reader of a responder's configuration reads the resolver section; the dependencies
 * are the prober's. */
static const struct conf_ext *const inputs_exts[] = { &resolver_conf, NULL };

/* The snapshot in use from now on (s NULL: none, e says why); a change is logged when serving. */
static void
snap_set(struct inputs *in, struct snapshot *s, enum snap_err e, const char *detail)
{
	const char *path = in->conf->snapshot_path;

	if (!in->serving) {
		/* looked at once: nothing to compare with, nothing to log */
	} else if (e != in->snap_err || !in->snap_seen) {
		if (e == SNAP_OK && s != NULL)
			log_info("snapshot %s: %s (%zu %s, %zu %s)", path,
			         in->snap_seen ? "usable again" : "loaded", snap_reg_count(s),
			         util_plural((long long)snap_reg_count(s), "registry", "registries"),
			         snap_dep_count(s),
			         util_plural((long long)snap_dep_count(s), "dependency", "dependencies"));
		else
			log_warnx("snapshot %s: unusable, failing open: %s%s%s", path, snap_err_str(e),
			          detail && detail[0] ? ": " : "", detail ? detail : "");
	} else if (e == SNAP_OK && s != NULL) {
		log_debug("snapshot %s: reloaded (%zu %s)", path, snap_reg_count(s),
		          util_plural((long long)snap_reg_count(s), "registry", "registries"));
	}
	snprintf(in->snap_detail, sizeof(in->snap_detail), "%s",
	         e == SNAP_OK ? "" : detail ? detail : "");
	snap_free(in->snap);
	in->snap = s;
	in->snap_err = e;
	in->snap_seen = 1;
}

/* A follower's .fleet file beside the snapshot: read when it changes; informational only. */
static void
fleet_refresh(struct inputs *in)
{
	char path[4200];
	struct file_id id;
	struct stat st;
	int rc;

	snprintf(path, sizeof(path), "%s.fleet", in->conf->snapshot_path);
	if (stat(path, &st) == -1) {
		memset(&in->fleet, 0, sizeof(in->fleet));
		memset(&in->fleet_id, 0, sizeof(in->fleet_id));
		in->fleet_state = 0;
		in->fleet_err[0] = '\0';
		return;
	}
	file_id_of(&st, &id);
	if (in->fleet_state != 0 && file_id_eq(&id, &in->fleet_id))
		return;
	in->fleet_id = id;
	rc = fleet_load(in->conf->snapshot_path, &in->fleet, in->fleet_err, sizeof(in->fleet_err));
	if (rc < 0 && in->fleet_state != -1 && in->serving)
		log_warnx("%s: not shown (answers are not affected)", in->fleet_err);
	in->fleet_state = rc < 0 ? -1 : rc;
}

/* The kill switch: looked at every time; a change logged when serving. */
static void
kill_refresh(struct inputs *in)
{
	int err, ks = answer_kill_switch(in->conf->kill_switch, &err);

	if (in->serving && ks != in->kill_switch) {
		errno = err;
		if (err != 0 && ks)
			log_warn("kill switch %s cannot be checked, taken as present: answering "
			         "pass-through", in->conf->kill_switch);
		else
			log_info("kill switch %s %s: %s", in->conf->kill_switch,
			         ks ? "present" : "removed",
			         ks ? "answering pass-through" : "enforcing again");
	}
	in->kill_switch = ks;
	in->kill_err = err;
}

/* The snapshot: read again only when the file changed (or was refused for a clock reason). */
static void
snap_refresh(struct inputs *in)
{
	struct stat st;
	struct file_id id;
	struct snapshot *s = NULL;
	char detail[256];
	enum snap_err e;

	if (stat(in->conf->snapshot_path, &st) == -1) {
		e = errno == ENOENT ? SNAP_MISSING : SNAP_UNREADABLE;
		snprintf(detail, sizeof(detail), "%s", strerror(errno));
		/* Counted once per change: a missing file is looked at every recheck_ms. */
		if (in->serving && (e != in->snap_err || !in->snap_seen))
			counters_event(&in->ctr, CE_SNAP_LOAD_FAILURES);
		in->have_id = 0;
		snap_set(in, NULL, e, detail);
		return;
	}
	file_id_of(&st, &id);
	if (in->have_id && file_id_eq(&id, &in->snap_id) && in->snap_err != SNAP_FUTURE)
		return;
	e = snap_load(in->conf->snapshot_path, time(NULL), &s, detail, sizeof(detail));
	/* Out of descriptors or memory: the file is not at fault, and the snapshot in memory
	 * still ages out at max_age.  Keep it, and try again at the next recheck. */
	if (e == SNAP_UNREADABLE && in->snap != NULL &&
	    (errno == EMFILE || errno == ENFILE || errno == ENOMEM)) {
		if (!in->snap_starved && in->serving) {
			log_warnx("snapshot %s: new file not read (%s): answering from the one loaded "
			          "before until it loads or turns stale", in->conf->snapshot_path, detail);
			counters_event(&in->ctr, CE_SNAP_LOAD_FAILURES);
		}
		in->snap_starved = 1;
		return;
	}
	if (in->snap_starved && e == SNAP_OK && in->serving)
		log_info("snapshot %s: read again", in->conf->snapshot_path);
	in->snap_starved = 0;
	in->snap_id = id;
	in->have_id = 1;
	if (in->serving)
		counters_event(&in->ctr, e == SNAP_OK ? CE_SNAP_LOADS : CE_SNAP_LOAD_FAILURES);
	snap_set(in, s, e, detail);
}

int
inputs_open(struct inputs *in, const char *conf_path, int serving, errfn_t errfn, void *arg)
{
	memset(in, 0, sizeof(*in));
	in->conf_path = conf_path;
	in->serving = serving;
	in->snap_err = SNAP_MISSING;
	in->conf = conf_load(conf_path, inputs_exts, errfn, arg);
	if (gethostname(in->node, sizeof(in->node)) != 0)
		in->node[0] = '\0';
	in->node[sizeof(in->node) - 1] = '\0';
	if (in->conf == NULL) {
		if (serving) { /* counted on its own: the config-error answers are counted too */
			counters_open(&in->ctr, NULL);
			in->have_ctr = 1;
		}
		return -1;
	}
	in->ovr.path = in->conf->overrides;
	in->rovr.path = in->conf->region_overrides;
	in->rovr.region = 1;
	in->ovr.errfn = in->rovr.errfn = errfn;
	in->ovr.arg = in->rovr.arg = arg;
	in->ovr.quiet = in->rovr.quiet = !serving;
	if (serving) {
		counters_open(&in->ctr, in->conf->counters);
		in->have_ctr = 1;
	} else {
		in->ctr.m = xmalloc(sizeof(*in->ctr.m));
		in->have_ctr = counters_read(in->conf->counters, in->ctr.m, in->ctr_err,
		                             sizeof(in->ctr_err)) == 0;
		in->ctr.shared = in->have_ctr;
		if (!in->have_ctr) {
			free(in->ctr.m);
			in->ctr.m = NULL;
		}
	}
	return 0;
}

int
inputs_refresh(struct inputs *in, int64_t now_ms)
{
	if (in->conf == NULL || now_ms < in->next_check_ms)
		return 0;
	in->next_check_ms = now_ms + in->conf->recheck_ms;
	kill_refresh(in);
	ovr_watch_both(&in->ovr, &in->rovr, in->conf->override_max, &in->ovr_all);
	fleet_refresh(in);
	if (in->serving)
		counters_check(&in->ctr, in->conf->counters);
	snap_refresh(in);
	return 1;
}

void
inputs_union(struct inputs *in)
{
	const struct overrides *sets[2] = { in->ovr.vw.ovr, in->rovr.vw.ovr };

	ovr_free(in->ovr_all);
	in->ovr_all = ovr_union(sets, NULL, 2);
}

void
inputs_state(const struct inputs *in, struct answer_state *st)
{
	st->conf = in->conf;
	st->snap = in->snap;
	st->snap_err = in->snap_err;
	st->kill_switch = in->kill_switch;
	st->ovr = in->ovr_all;
	st->fleet = &in->fleet;
}

void
inputs_close(struct inputs *in)
{
	snap_free(in->snap);
	ovr_free(in->ovr_all);
	ovr_view_free(&in->ovr.vw);
	ovr_view_free(&in->rovr.vw);
	if (in->serving)
		counters_close(&in->ctr);
	else
		free(in->ctr.m);
	conf_free(in->conf);
	memset(in, 0, sizeof(*in));
}
