/*
 * answer.c: one request from its parameters to its bytes, for the responder
 * and for deephealthctl explain alike: what is read from the request, the
 * resolution, the decision, the reply.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "answer.h"

static int
accepts_health_json(const char *accept)
{
	return accept != NULL && strstr(accept, "application/health+json") != NULL;
}

/*
 * What a decision needs besides the Host, for a GET or HEAD whose Host
 * resolved as in->host (to registry when found): the configuration's and
 * the snapshot's part, and the overrides that apply.
 */
static void
gather(const struct answer_state *st, const char *registry, time_t now, struct policy_in *in,
       struct answer_trace *tr)
{
	const struct conf *c = st->conf;

	in->mode = c->mode;
	in->kill_switch = st->kill_switch;
	in->snap_state = st->snap_err;
	in->snap = st->snap;
	in->max_age = c->max_age;
	in->unknown_host = c->unknown_host;
	in->registry = registry;
	ovr_lookup(st->ovr, registry, (int64_t)now, &tr->force, &tr->mode);
	if (tr->force != NULL)
		in->force = tr->force->action == OVR_FORCE_PASS ? FORCE_PASS : FORCE_FAIL;
	if (ovr_deps_in_force(st->ovr, (int64_t)now))
		in->ovr = st->ovr;
	/* Rings: an override sets enforce or shadow; pass-through stays the config's. */
	if (tr->mode != NULL && c->mode != MODE_PASSTHROUGH)
		in->mode = tr->mode->action == OVR_SHADOW ? MODE_SHADOW : MODE_ENFORCE;
}

int
answer_registry(const struct answer_state *st, const char *registry, time_t now,
                struct policy_out *out)
{
	struct policy_in in = { 0 };
	struct answer_trace tr;
	struct policy_out po, *o = &po;

	in.method_ok = 1;
	in.config_ok = st->conf != NULL;
	in.now = now;
	in.host = RESOLVE_FOUND;
	tr.force = tr.mode = NULL;
	if (st->conf != NULL)
		gather(st, registry, now, &in, &tr);
	if (out != NULL)
		o = out;
	policy_decide(&in, o);
	return o->http;
}

size_t
answer_request(const struct answer_state *st, const char *method, const char *raw_host,
               const char *accept, time_t now, struct answer_trace *tr, char *out, size_t len)
{
	const struct conf *c = st->conf;
	struct reply_opts ro = { 0 };
	struct policy_in in = { 0 };

	/* Field by field: the trace's two name buffers are 500 bytes nobody reads unset. */
	tr->resolved = 0;
	tr->result = RESOLVE_UNKNOWN;
	tr->herr = HOST_OK;
	tr->via = -1;
	tr->host[0] = tr->registry[0] = '\0';
	tr->force = tr->mode = NULL;
	ro.json = accepts_health_json(accept);
	ro.detail = c ? c->detail : DETAIL_STATUS;
	in.method_ok = method != NULL && (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0);
	if (in.method_ok) {
		ro.head = strcmp(method, "HEAD") == 0;
		in.config_ok = c != NULL;
		in.now = now;
		in.host = RESOLVE_UNKNOWN;
		if (c != NULL) {
			in.host = resolver_resolve(c->resolver, raw_host, tr->host, tr->registry,
			                           &tr->herr, &tr->via);
			tr->resolved = 1;
			tr->result = in.host;
			if (in.host == RESOLVE_FOUND)
				ro.registry = tr->registry;
			gather(st, in.host == RESOLVE_FOUND ? tr->registry : NULL, now, &in, tr);
		}
		ro.snap = st->snap;
		if (st->fleet != NULL && st->fleet->present)
			ro.source = st->fleet->decided;
	}
	policy_decide(&in, &tr->po);
	return reply_format(&tr->po, &ro, out, len);
}

int
answer_kill_switch(const char *path, int *err)
{
	struct stat st;

	*err = stat(path, &st) == 0 ? 0 : errno;
	/* Only "does not exist" means off: any other answer is taken as on (fail open). */
	return *err == 0 || (*err != ENOENT && *err != ENOTDIR);
}
