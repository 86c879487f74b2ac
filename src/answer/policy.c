/* policy.c: the decision, as a pure function of what the responder gathered. */
#include <string.h>

#include "answer.h"

static const char *const reason_names[R_COUNT] = {
	[R_CONFIG_ERROR] = "config-error",
	[R_PASSTHROUGH] = "passthrough",
	[R_SNAPSHOT_MISSING] = "snapshot-missing",
	[R_SNAPSHOT_UNREADABLE] = "snapshot-unreadable",
	[R_SNAPSHOT_CORRUPT] = "snapshot-corrupt",
	[R_SNAPSHOT_STALE] = "snapshot-stale",
	[R_PROBER_BLIND] = "prober-blind",
	[R_UNKNOWN_HOST] = "unknown-host",
	[R_UNKNOWN_REGISTRY] = "unknown-registry",
	[R_SINGLE_REGION] = "single-region",
	[R_HEALTHY] = "healthy",
	[R_DEGRADED] = "degraded",
	[R_DEPENDENCY_FAILED] = "dependency-failed",
	[R_BAD_METHOD] = "method-not-allowed",
	[R_OVERRIDE_PASS] = "override-pass",
	[R_OVERRIDE_FAIL] = "override-fail",
	[R_GUARD] = "guard",
};

const char *
reason_str(enum reason r)
{
	return (unsigned)r < R_COUNT ? reason_names[r] : "?";
}

int
reason_is_regionwide(enum reason r)
{
	switch (r) {
	case R_CONFIG_ERROR: case R_PASSTHROUGH: case R_SNAPSHOT_MISSING: case R_SNAPSHOT_UNREADABLE:
	case R_SNAPSHOT_CORRUPT: case R_SNAPSHOT_STALE: case R_PROBER_BLIND: case R_GUARD:
		return 1;
	default:
		return 0;
	}
}

/*
 * A registry's verdict again, with the operator's dependency overrides in
 * place of those dependencies' states: the prober's rule over the region-wide
 * dependencies and the ones the registry uses.  Returns 1 when the deciding
 * dependency was forced.
 */
static int
reverdict(const struct policy_in *in, struct snap_reg *reg)
{
	const struct snapshot *s = in->snap;
	enum verdict v = VERDICT_PASS;
	uint32_t by = SNAP_NO_DEP, forced_by = SNAP_NO_DEP;
	size_t nall;
	const uint32_t *all = snap_all_deps(s, &nall);
	int known = reg->decided_by == SNAP_NO_DEP;

	/* A snapshot that does not list what decided the registry (a hand-made one) is left as it is. */
	for (size_t k = 0; k < nall + reg->nuses && !known; k++)
		known = (k < nall ? all[k] : snap_use_at(s, reg->uses + (uint32_t)(k - nall))) ==
		        reg->decided_by;
	if (!known)
		return 0;
	for (size_t k = 0; k < nall + reg->nuses; k++) {
		uint32_t di = k < nall ? all[k] : snap_use_at(s, reg->uses + (uint32_t)(k - nall));
		const struct override *f;
		struct snap_dep d;
		enum verdict state, before = v;
		uint32_t before_by = by;

		snap_dep_at(s, di, &d);
		f = ovr_dep_lookup(in->ovr, d.name, d.name_len, (int64_t)in->now);
		state = f == NULL ? d.state : f->action == OVR_FORCE_PASS ? VERDICT_PASS : VERDICT_FAIL;
		verdict_fold(verdict_contribution(state, d.severity), di, &v, &by);
		if (f != NULL && (v != before || by != before_by))
			forced_by = by;
	}
	reg->verdict = v;
	reg->decided_by = v == VERDICT_PASS ? SNAP_NO_DEP : by;
	return v != VERDICT_PASS && forced_by == by;
}

static void
answer(struct policy_out *o, int http, enum verdict status, enum reason reason)
{
	o->http = http;
	o->status = status;
	o->reason = reason;
}

/*
 * What enforce mode answers.  Fail-open answers (we cannot trust our data)
 * carry status "warn" so that they stand out; deliberate pass-throughs carry
 * "pass".
 */
static void
decide_enforce(const struct policy_in *in, struct policy_out *o)
{
	struct snap_reg reg;

	if (!in->config_ok) {
		answer(o, 200, VERDICT_WARN, R_CONFIG_ERROR);
		return;
	}
	if (in->kill_switch || in->mode == MODE_PASSTHROUGH) {
		answer(o, 200, VERDICT_PASS, R_PASSTHROUGH);
		return;
	}
	/* An operator's word, with an expiry: needs no snapshot, so no snapshot state undoes it. */
	if (in->force == FORCE_PASS) {
		answer(o, 200, VERDICT_PASS, R_OVERRIDE_PASS);
		return;
	}
	if (in->force == FORCE_FAIL) {
		answer(o, 503, VERDICT_FAIL, R_OVERRIDE_FAIL);
		return;
	}
	switch (in->snap_state) {
	case SNAP_OK:
		break;
	case SNAP_MISSING:
		answer(o, 200, VERDICT_WARN, R_SNAPSHOT_MISSING);
		return;
	case SNAP_UNREADABLE:
	case SNAP_NOT_REGULAR:
		/* There but not ours to read (permissions, a directory...): an operator's
		 * mistake to tell apart from a damaged file. */
		answer(o, 200, VERDICT_WARN, R_SNAPSHOT_UNREADABLE);
		return;
	default:
		answer(o, 200, VERDICT_WARN, R_SNAPSHOT_CORRUPT);
		return;
	}
	/* The reader refused a snapshot from more than SNAP_FUTURE_SKEW ahead when it loaded it;
	 * a clock stepped back since then makes the one in memory just as undatable, and it
	 * would pass as fresh for as long as the step: the same refusal, asked again. */
	if (snap_created(in->snap) - SNAP_FUTURE_SKEW > (int64_t)in->now) {
		answer(o, 200, VERDICT_WARN, R_SNAPSHOT_CORRUPT);
		return;
	}
	/* The reader guarantees 0 <= created: no overflow here, nor above. */
	o->age = snap_created(in->snap) >= (int64_t)in->now ? 0
	                                                     : (int64_t)in->now - snap_created(in->snap);
	if (o->age > in->max_age) {
		answer(o, 200, VERDICT_WARN, R_SNAPSHOT_STALE);
		return;
	}
	if (snap_flags(in->snap) & SNAP_FLAG_BLIND) {
		answer(o, 200, VERDICT_WARN, R_PROBER_BLIND);
		return;
	}
	/* The prober's failover guard (docs/guard.md): more registries fail than it allows, so
	 * none is failed over until the count falls back or an operator lets it through.  A
	 * region-wide hold, like blind: every Host, the unknown ones too. */
	if (snap_flags(in->snap) & SNAP_FLAG_GUARD) {
		answer(o, 200, VERDICT_WARN, R_GUARD);
		return;
	}
	if (in->host != RESOLVE_FOUND) {
		/* A resolver error is no decision: never a 404 for it. */
		if (in->host != RESOLVE_ERROR && in->unknown_host == UNKNOWN_REJECT)
			answer(o, 404, VERDICT_FAIL, R_UNKNOWN_HOST);
		else
			answer(o, 200, VERDICT_WARN, R_UNKNOWN_HOST);
		return;
	}
	if (!snap_find_reg(in->snap, in->registry, strlen(in->registry), &reg)) {
		answer(o, 200, VERDICT_WARN, R_UNKNOWN_REGISTRY);
		return;
	}
	o->have_reg = 1;
	o->reg = reg;
	if (reg.flags & SNAP_REG_SINGLE_REGION) {
		answer(o, 200, VERDICT_PASS, R_SINGLE_REGION);
		return;
	}
	if (in->ovr != NULL) {
		int forced = reverdict(in, &o->reg);

		/* The answer an override changed says so. */
		if (o->reg.verdict == VERDICT_FAIL && forced) {
			answer(o, 503, VERDICT_FAIL, R_OVERRIDE_FAIL);
			return;
		}
		if (o->reg.verdict == VERDICT_PASS && reg.verdict != VERDICT_PASS) {
			answer(o, 200, VERDICT_PASS, R_OVERRIDE_PASS);
			return;
		}
	}
	switch (o->reg.verdict) {
	case VERDICT_WARN:
		answer(o, 200, VERDICT_WARN, R_DEGRADED);
		break;
	case VERDICT_FAIL:
		answer(o, 503, VERDICT_FAIL, R_DEPENDENCY_FAILED);
		break;
	default:
		answer(o, 200, VERDICT_PASS, R_HEALTHY);
		break;
	}
}

void
policy_decide(const struct policy_in *in, struct policy_out *out)
{
	memset(out, 0, sizeof(*out));
	out->age = -1;
	if (!in->method_ok) {
		/* Not a probe: 405 in every mode (shadow never turns it into a 200). */
		answer(out, 405, VERDICT_FAIL, R_BAD_METHOD);
		return;
	}
	decide_enforce(in, out);
	if (in->config_ok && in->mode == MODE_SHADOW && !in->kill_switch) {
		out->shadow = 1;
		out->would_http = out->http;
		out->would_status = out->status;
		out->would_reason = out->reason;
		if (out->http != 200)
			answer(out, 200, VERDICT_PASS, out->reason);
	}
}
