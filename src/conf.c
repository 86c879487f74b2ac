/*
 * conf.c: the configuration core: load deephealth.conf (libconfig), read its
 * sections against tables of options, hand the parts one program uses to that
 * program's extension (struct conf_ext).
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <libconfig.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "deephealth.h"

const char *const mode_names[] = { "enforce", "shadow", "passthrough", NULL };
static const char *const unknown_names[] = { "pass", "reject", NULL };
static const char *const detail_names[] = { "status", "cause", NULL };
const char *const follow_policy_names[] = { "freshest", "quorum", NULL };

#define C(f) offsetof(struct conf, f)
static const struct conf_opt snapshot_opts[] = {
	{ "path", OPT_PATH, 0, 0, 0, NULL, NULL, C(snapshot_path) },
	{ "max_age", OPT_INT, 1, 86400, 180, NULL, NULL, C(max_age) },
};
static const struct conf_opt responder_opts[] = {
	{ "mode", OPT_ENUM, 0, 0, MODE_ENFORCE, NULL, mode_names, C(mode) },
	{ "kill_switch", OPT_PATH, 0, 0, 0, "/etc/deephealth/disable", NULL, C(kill_switch) },
	{ "unknown_host", OPT_ENUM, 0, 0, UNKNOWN_PASS, NULL, unknown_names, C(unknown_host) },
	{ "detail", OPT_ENUM, 0, 0, DETAIL_STATUS, NULL, detail_names, C(detail) },
	{ "recheck_ms", OPT_INT, 0, 60000, 1000, NULL, NULL, C(recheck_ms) },
	{ "overrides", OPT_PATH, 0, 0, 0, "/var/lib/deephealth/overrides", NULL, C(overrides) },
	{ "region_overrides", OPT_PATH, 0, 0, 0, "", NULL, C(region_overrides) },
	{ "override_max", OPT_INT, 60, 31536000, 604800, NULL, NULL, C(override_max) },
	{ "counters", OPT_PATH, 0, 0, 0, "/dev/shm/deephealth.counters", NULL, C(counters) },
	{ "regions", OPT_PATH, 0, 0, 0, "", NULL, C(regions) },
};
static const struct conf_opt resolver_opts[] = {
	{ "host_map", OPT_PATH, 0, 0, 0, "", NULL, C(host_map) },
	{ "rules", OPT_STRLIST, 0, 0, 0, NULL, NULL, C(rules) },
	{ "match_limit", OPT_INT, 100, 10000000, 20000, NULL, NULL, C(match_limit) },
	{ "depth_limit", OPT_INT, 10, 1000000, 1000, NULL, NULL, C(depth_limit) },
};
static const struct conf_opt log_opts[] = {
	{ "syslog", OPT_BOOL, 0, 1, 0, NULL, NULL, C(log_syslog) },
	{ "level", OPT_ENUM, 0, 0, LOG_LVL_INFO, NULL, log_level_names, C(log_level) },
};
static const struct conf_opt prober_opts[] = {
	{ "registries", OPT_PATH, 0, 0, 0, "", NULL, C(registries) },
	{ "region", OPT_STR, 0, 0, 0, "", NULL, C(region) },
	{ "state", OPT_PATH, 0, 0, 0, "/var/lib/deephealth/probe.state", NULL, C(state_path) },
	{ "lock", OPT_PATH, 0, 0, 0, "/var/lib/deephealth/probe.lock", NULL, C(lock_path) },
	{ "event_log", OPT_PATH, 0, 0, 0, "", NULL, C(event_log) },
	{ "metrics", OPT_PATH, 0, 0, 0, "", NULL, C(metrics) },
	{ "event_log_verdicts", OPT_INT, 0, 10000000, 10000, NULL, NULL, C(event_log_verdicts) },
	{ "proxy", OPT_STR, 0, 0, 0, "", NULL, C(proxy) },
	{ "interval", OPT_INT, 1, 3600, 10, NULL, NULL, C(interval) },
	{ "deadline", OPT_INT, 1, 3600, 8, NULL, NULL, C(deadline) },
	{ "parallel", OPT_INT, 1, 4096, 64, NULL, NULL, C(parallel) },
	{ "fall", OPT_INT, 1, 1000, 3, NULL, NULL, C(fall) },
	{ "rise", OPT_INT, 1, 1000, 2, NULL, NULL, C(rise) },
	{ "ok", OPT_INT, 1, 1000, 5, NULL, NULL, C(ok) },
	{ "intermittent", OPT_BOOL, 0, 1, 0, NULL, NULL, C(intermittent) },
	{ "blind_unknown_pct", OPT_INT, 1, 100, 50, NULL, NULL, C(blind_unknown_pct) },
	{ "guard_max_failing", OPT_BOUND, 1, 10000000, 0, NULL, NULL, C(guard_max_failing) },
	{ "guard_hold", OPT_INT, 1, 86400, 60, NULL, NULL, C(guard_hold) },
};
static const struct conf_opt follower_opts[] = {
	{ "sources", OPT_STRLIST, 0, 0, 0, NULL, NULL, C(follow_sources) },
	{ "policy", OPT_ENUM, 0, 0, FOLLOW_FRESHEST, NULL, follow_policy_names, C(follow_policy) },
	{ "quorum", OPT_INT, 1, FOLLOW_SOURCES_MAX, 2, NULL, NULL, C(follow_quorum) },
	{ "timeout_ms", OPT_INT, 100, 60000, 2000, NULL, NULL, C(follow_timeout_ms) },
	{ "cache", OPT_PATH, 0, 0, 0, "/var/lib/deephealth/follow", NULL, C(follow_cache) },
};
#undef C

/* Indexes into sections[], in its order. */
enum { SEC_SNAPSHOT, SEC_RESPONDER, SEC_RESOLVER, SEC_LOG, SEC_PROBER, SEC_FOLLOWER };
static const struct conf_table sections[] = {
	CONF_TABLE("snapshot", snapshot_opts), CONF_TABLE("responder", responder_opts),
	CONF_TABLE("resolver", resolver_opts), CONF_TABLE("log", log_opts),
	CONF_TABLE("prober", prober_opts), CONF_TABLE("follower", follower_opts),
};
#define NSECTIONS (sizeof(sections) / sizeof(sections[0]))

/* Index of key in t (a programming error if absent). */
static size_t
oi(const struct conf_table *t, const char *key)
{
	int i = conf_opt_index(t, key);

	if (i < 0)
		fatalx("conf: no option %s.%s", t->name, key);
	return (size_t)i;
}

int
conf_opt_index(const struct conf_table *t, const char *key)
{
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->opts[i].key, key) == 0)
			return (int)i;
	return -1;
}

struct conf_loader {
	const char *path;
	char *dir;          /* for relative paths */
	errfn_t errfn;
	void *arg;
	int errors;
};

void
conf_err(struct conf_loader *l, const config_setting_t *s, const char *fmt, ...)
{
	char msg[768];
	va_list ap;
	const char *file = s ? config_setting_source_file(s) : NULL;
	unsigned line = s ? config_setting_source_line(s) : 0;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	l->errfn(l->arg, "%s:%u: %s", file ? file : l->path, line ? line : 1, msg);
	l->errors++;
}

/* Reports of other files the configuration names count as its errors. */
static void
errfn_counting(void *arg, const char *fmt, ...)
{
	struct conf_loader *l = arg;
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	l->errfn(l->arg, "%s", msg);
	l->errors++;
}

void
conf_errfn(struct conf_loader *l, errfn_t *fn, void **arg)
{
	*fn = errfn_counting;
	*arg = l;
}

static char *
make_path(const struct conf_loader *l, const char *v)
{
	size_t n;
	char *p;

	if (v[0] == '/' || v[0] == '\0')
		return xstrdup(v);
	n = strlen(l->dir) + strlen(v) + 2;
	p = xmalloc(n);
	snprintf(p, n, "%s/%s", l->dir, v);
	return p;
}

const char *
conf_name_list(const char *const *names, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t k = 0; names[k] != NULL && used < len; k++)
		used += (size_t)snprintf(buf + used, len - used, "%s%s", k ? ", " : "", names[k]);
	return buf;
}

int
conf_proxy_ok(const char *s)
{
	static const char *const schemes[] = { "http://", "https://", "socks4://", "socks4a://",
		                                   "socks5://", "socks5h://", NULL };

	if (s[0] == '\0')
		return 1;
	for (size_t i = 0; schemes[i] != NULL; i++) {
		size_t n = strlen(schemes[i]);

		if (strncmp(s, schemes[i], n) == 0 && s[n] != '\0' && s[n] != '/' &&
		    strpbrk(s, " \t\r\n") == NULL)
			return 1;
	}
	return 0;
}

/* Store one present value; report and leave the default on any problem. */
void
conf_set(struct conf_loader *l, struct conf_grp *g, const struct conf_opt *o, size_t i,
         const config_setting_t *s, void *base)
{
	char *field = (char *)base + o->off;
	const char *sv;
	long long iv;
	char list[128];
	int n;

	switch (o->type) {
	case OPT_INT:
		if (config_setting_type(s) != CONFIG_TYPE_INT &&
		    config_setting_type(s) != CONFIG_TYPE_INT64) {
			conf_err(l, s, "%s.%s: expected an integer", g->label, o->key);
			return;
		}
		iv = config_setting_get_int64(s);
		if (iv < o->min || iv > o->max) {
			conf_err(l, s, "%s.%s: %lld out of range [%ld, %ld]", g->label, o->key, iv, o->min,
			     o->max);
			return;
		}
		*(int *)field = (int)iv;
		break;
	case OPT_BOOL:
		if (config_setting_type(s) != CONFIG_TYPE_BOOL) {
			conf_err(l, s, "%s.%s: expected true or false", g->label, o->key);
			return;
		}
		*(int *)field = config_setting_get_bool(s);
		break;
	case OPT_STR:
	case OPT_PATH:
	case OPT_ENUM:
		sv = config_setting_get_string(s);
		if (sv == NULL) {
			conf_err(l, s, "%s.%s: expected a string", g->label, o->key);
			return;
		}
		if (o->type == OPT_ENUM) {
			for (int k = 0; o->names[k] != NULL; k++) {
				if (strcmp(sv, o->names[k]) == 0) {
					*(int *)field = k;
					goto found;
				}
			}
			conf_err(l, s, "%s.%s: \"%s\" is not one of: %s", g->label, o->key, sv,
			     conf_name_list(o->names, list, sizeof(list)));
			return;
		}
		if (sv[0] == '\0' && o->def_str == NULL) {
			conf_err(l, s, "%s.%s: must not be empty", g->label, o->key);
			return;
		}
		*(char **)field = o->type == OPT_PATH ? make_path(l, sv) : xstrdup(sv);
		break;
	case OPT_BOUND: {
		struct conf_bound b = { 0, 0 };

		if (config_setting_type(s) == CONFIG_TYPE_INT ||
		    config_setting_type(s) == CONFIG_TYPE_INT64) {
			iv = config_setting_get_int64(s);
			if (iv < o->min || iv > o->max) {
				conf_err(l, s, "%s.%s: %lld out of range [%ld, %ld]", g->label, o->key, iv,
				         o->min, o->max);
				return;
			}
			b.count = (long)iv;
		} else {
			sv = config_setting_get_string(s);
			n = 0;
			if (sv == NULL || strlen(sv) < 2 || strlen(sv) > 3 ||
			    strspn(sv, "0123456789") != strlen(sv) - 1 || sv[strlen(sv) - 1] != '%' ||
			    sv[0] == '0' || (n = atoi(sv)) < 1 || n > 99) {
				conf_err(l, s, "%s.%s: expected a count (an integer from %ld to %ld) or a "
				         "share of the whole (a string from \"1%%\" to \"99%%\")", g->label,
				         o->key, o->min, o->max);
				return;
			}
			b.pct = n;
		}
		*(struct conf_bound *)field = b;
		break;
	}
	case OPT_STRLIST:
		if (!config_setting_is_aggregate(s) || config_setting_is_group(s)) {
			conf_err(l, s, "%s.%s: expected a list of strings", g->label, o->key);
			return;
		}
		n = config_setting_length(s);
		for (int k = 0; k < n; k++) {
			if (config_setting_get_string_elem(s, k) == NULL) {
				conf_err(l, config_setting_get_elem(s, (unsigned)k),
				     "%s.%s[%d]: expected a string", g->label, o->key, k);
				return;
			}
		}
		{
			char **v = xcalloc((size_t)n + 1, sizeof(*v));

			for (int k = 0; k < n; k++)
				v[k] = xstrdup(config_setting_get_string_elem(s, k));
			*(char ***)field = v;
		}
		break;
	}
found:
	g->found[i] = s;
}

/* Read every member of g->set against t into base; unknown keys are errors. */
static void
apply_values(struct conf_loader *l, const struct conf_table *t, struct conf_grp *g, void *base)
{
	int n = g->set ? config_setting_length(g->set) : 0;

	for (int k = 0; k < n; k++) {
		const config_setting_t *s = config_setting_get_elem(g->set, (unsigned)k);
		const char *key = config_setting_name(s);
		size_t i;

		for (i = 0; i < t->n && strcmp(t->opts[i].key, key) != 0; i++)
			;
		if (i == t->n) {
			conf_err(l, s, "%s: unknown key \"%s\"", g->label, key ? key : "?");
			continue;
		}
		g->seen[i] = s;
		conf_set(l, g, &t->opts[i], i, s, base);
	}
}

/* Fill in every option not given; missing required ones are errors. */
void
conf_defaults(struct conf_loader *l, const struct conf_table *t, struct conf_grp *g, void *base)
{
	for (size_t i = 0; i < t->n; i++) {
		const struct conf_opt *o = &t->opts[i];
		char *field = (char *)base + o->off;

		if (g->found[i] != NULL)
			continue;
		switch (o->type) {
		case OPT_INT:
		case OPT_BOOL:
		case OPT_ENUM:
			*(int *)field = (int)o->def;
			break;
		case OPT_STR:
		case OPT_PATH:
			if (o->def_str != NULL) {
				*(char **)field = o->type == OPT_PATH ? make_path(l, o->def_str)
				                                      : xstrdup(o->def_str);
			} else if (g->seen[i] == NULL) {
				/* Present but invalid was reported already, at its own line. */
				conf_err(l, g->set, "%s.%s: required", g->label, o->key);
			}
			break;
		case OPT_STRLIST:
			break;
		case OPT_BOUND:
			memset(field, 0, sizeof(struct conf_bound));
			break;
		}
	}
}

size_t
conf_bound_of(const struct conf_bound *b, size_t n)
{
	if (b->count > 0)
		return (size_t)b->count;
	return (size_t)((unsigned long long)b->pct * n / 100);
}

const char *
conf_bound_str(const struct conf_bound *b, char *buf, size_t len)
{
	if (b->count > 0)
		snprintf(buf, len, "%ld", b->count);
	else if (b->pct > 0)
		snprintf(buf, len, "%d%%", b->pct);
	else
		snprintf(buf, len, "%s", "");
	return buf;
}

/* Relations between options that no single range can express. */
static void
conf_relations(struct conf_loader *l, struct conf *c, struct conf_grp *grps)
{
	const config_setting_t *at;

	if ((long)c->recheck_ms >= (long)c->max_age * 1000) {
		at = grps[SEC_RESPONDER].found[oi(&sections[SEC_RESPONDER], "recheck_ms")];
		if (at == NULL)
			at = grps[SEC_SNAPSHOT].found[oi(&sections[SEC_SNAPSHOT], "max_age")];
		conf_err(l, at, "responder.recheck_ms (%d) must be below snapshot.max_age (%d s)",
		     c->recheck_ms, c->max_age);
	}
	if (c->follow_policy == FOLLOW_QUORUM) {
		size_t n = 0;

		while (c->follow_sources != NULL && c->follow_sources[n] != NULL)
			n++;
		if ((size_t)c->follow_quorum > n) {
			at = grps[SEC_FOLLOWER].found[oi(&sections[SEC_FOLLOWER], "quorum")];
			conf_err(l, at != NULL ? at : grps[SEC_FOLLOWER].set,
			         "follower.quorum (%d) is more than the %zu %s: no registry could "
			         "ever fail", c->follow_quorum, n, util_plural((long long)n, "source",
			         "sources"));
		}
	}
	if (c->region_overrides[0] == '\0') {
		/* Beside the node's file unless set: the region-wide overrides (docs/overrides.md). */
		size_t n = strlen(c->overrides) + sizeof(".region");

		free(c->region_overrides);
		c->region_overrides = xmalloc(n);
		snprintf(c->region_overrides, n, "%s.region", c->overrides);
	}
	if (c->deadline > c->interval) {
		at = grps[SEC_PROBER].found[oi(&sections[SEC_PROBER], "deadline")];
		if (at == NULL)
			at = grps[SEC_PROBER].set;
		conf_err(l, at, "prober.deadline (%d s) must not exceed prober.interval (%d s)",
		     c->deadline, c->interval);
	}
}

/* The line of key in g, else of g itself, else 1. */
static unsigned
key_line(const struct conf_grp *g, const struct conf_table *t, const char *key)
{
	const config_setting_t *s = g->found[oi(t, key)];

	if (s == NULL)
		s = g->set;
	return s != NULL && config_setting_source_line(s) > 0 ? config_setting_source_line(s) : 1;
}

/* Sections read by a program's extension alone; the core checks only their shape. */
static const struct {
	const char *name;
	int list; /* a list ( ... ), else a group { ... } */
} ext_sections[] = { { "dependencies", 1 } };
#define NEXT_SECTIONS (sizeof(ext_sections) / sizeof(ext_sections[0]))

/* Check sec against ext_sections: 1 = it is one, in the right shape; 0 = not one; -1 = bad shape. */
static int
ext_section(struct conf_loader *l, const config_setting_t *sec, const char *sname, int report)
{
	for (size_t i = 0; i < NEXT_SECTIONS; i++) {
		if (strcmp(ext_sections[i].name, sname) != 0)
			continue;
		if (ext_sections[i].list && !config_setting_is_list(sec)) {
			if (report)
				conf_err(l, sec, "%s: expected a list ( { ... }, ... )", sname);
			return -1;
		}
		if (!ext_sections[i].list && !config_setting_is_group(sec)) {
			if (report)
				conf_err(l, sec, "%s: expected a group { ... }", sname);
			return -1;
		}
		return 1;
	}
	return 0;
}

/* Read path into cfg for loader l (its directory for relative paths); 0, or -1 reported. */
static int
read_file(struct conf_loader *l, config_t *cfg, const char *path, errfn_t errfn, void *arg)
{
	char *slash;

	*l = (struct conf_loader){ .path = path, .errfn = errfn, .arg = arg };
	config_init(cfg);
	l->dir = xstrdup(path);
	slash = strrchr(l->dir, '/');
	if (slash == NULL) {
		free(l->dir);
		l->dir = xstrdup(".");
	} else {
		slash[slash == l->dir ? 1 : 0] = '\0';
	}
	if (config_read_file(cfg, path))
		return 0;
	if (config_error_type(cfg) == CONFIG_ERR_FILE_IO)
		errfn(arg, "%s: cannot read: %s", path, strerror(errno));
	else
		errfn(arg, "%s:%d: %s", config_error_file(cfg) ? config_error_file(cfg) : path,
		      config_error_line(cfg), config_error_text(cfg));
	l->errors++;
	return -1;
}

struct conf_file {
	struct conf_loader l;
	config_t cfg;
	int ok;
};

struct conf_file *
conf_file_open(const char *path, errfn_t errfn, void *arg)
{
	struct conf_file *f = xcalloc(1, sizeof(*f));

	f->ok = read_file(&f->l, &f->cfg, path, errfn, arg) == 0;
	return f;
}

struct conf_loader *
conf_file_loader(struct conf_file *f)
{
	return &f->l;
}

const config_setting_t *
conf_file_root(const struct conf_file *f)
{
	return f->ok ? config_root_setting(&f->cfg) : NULL;
}

void
conf_read_group(struct conf_loader *l, const struct conf_table *t, const config_setting_t *set,
                const char *label, struct conf_grp *g, void *base)
{
	memset(g, 0, sizeof(*g));
	g->set = set;
	snprintf(g->label, sizeof(g->label), "%s", label);
	if (set != NULL && !config_setting_is_group(set)) {
		conf_err(l, set, "%s: expected a group { ... }", label);
		g->set = NULL;
	}
	apply_values(l, t, g, base);
	conf_defaults(l, t, g, base);
}

int
conf_file_close(struct conf_file *f)
{
	int errors;

	if (f == NULL)
		return 0;
	errors = f->l.errors;
	config_destroy(&f->cfg);
	free(f->l.dir);
	free(f);
	return errors;
}

struct conf *
conf_load(const char *path, const struct conf_ext *const *exts, errfn_t errfn, void *arg)
{
	struct conf_loader l;
	struct conf_grp grps[NSECTIONS];
	const config_setting_t *root;
	config_t cfg;
	struct conf *c = xcalloc(1, sizeof(*c));

	memset(grps, 0, sizeof(grps));
	c->path = xstrdup(path);
	c->exts = exts;
	if (read_file(&l, &cfg, path, errfn, arg) != 0)
		goto out;
	root = config_root_setting(&cfg);
	/* Values first, in file order; then defaults; then what needs them all. */
	for (int k = 0; k < config_setting_length(root); k++) {
		const config_setting_t *sec = config_setting_get_elem(root, (unsigned)k);
		const char *sname = config_setting_name(sec);
		size_t i;

		if (ext_section(&l, sec, sname, 1) != 0)
			continue;
		for (i = 0; i < NSECTIONS && strcmp(sections[i].name, sname) != 0; i++)
			;
		if (i == NSECTIONS) {
			conf_err(&l, sec, "unknown section \"%s\"", sname);
			continue;
		}
		if (!config_setting_is_group(sec)) {
			conf_err(&l, sec, "%s: expected a group { ... }", sname);
			continue;
		}
		grps[i].set = sec;
		snprintf(grps[i].label, sizeof(grps[i].label), "%s", sname);
		apply_values(&l, &sections[i], &grps[i], c);
	}
	for (size_t i = 0; i < NSECTIONS; i++) {
		if (grps[i].label[0] == '\0')
			snprintf(grps[i].label, sizeof(grps[i].label), "%s", sections[i].name);
		conf_defaults(&l, &sections[i], &grps[i], c);
	}
	{
		const config_setting_t *at = grps[SEC_PROBER].found[oi(&sections[SEC_PROBER], "proxy")];

		if (at != NULL && !conf_proxy_ok(c->proxy))
			conf_err(&l, at, "prober.proxy: \"%s\" is not a proxy URL (http://, https://, "
			         "socks5h://... host[:port])", c->proxy);
	}
	for (size_t k = 0; c->follow_sources != NULL && c->follow_sources[k] != NULL; k++) {
		const config_setting_t *at = grps[SEC_FOLLOWER].found[oi(&sections[SEC_FOLLOWER], "sources")];
		const char *u = c->follow_sources[k];

		if ((strncmp(u, "http://", 7) != 0 && strncmp(u, "https://", 8) != 0) ||
		    strpbrk(u, " \t\r\n") != NULL || strlen(u) > 1024)
			conf_err(&l, at != NULL ? config_setting_get_elem(at, (unsigned)k) : NULL,
			         "follower.sources[%zu]: \"%.80s\" is not an http:// or https:// URL", k, u);
		if (k >= FOLLOW_SOURCES_MAX) {
			conf_err(&l, at, "follower.sources: more than %d sources", FOLLOW_SOURCES_MAX);
			break;
		}
	}
	c->snapshot_line = key_line(&grps[SEC_SNAPSHOT], &sections[SEC_SNAPSHOT], "path");
	c->state_line = key_line(&grps[SEC_PROBER], &sections[SEC_PROBER], "state");
	c->lock_line = key_line(&grps[SEC_PROBER], &sections[SEC_PROBER], "lock");
	c->event_log_line = key_line(&grps[SEC_PROBER], &sections[SEC_PROBER], "event_log");
	c->metrics_line = key_line(&grps[SEC_PROBER], &sections[SEC_PROBER], "metrics");
	/* Each extension sees its section in the right shape, or NULL when absent. */
	for (size_t i = 0; exts != NULL && exts[i] != NULL; i++) {
		const config_setting_t *sec = config_setting_get_member(root, exts[i]->section);

		if (sec == NULL || ext_section(&l, sec, exts[i]->section, 0) != -1)
			exts[i]->load(&l, c, sec);
	}
	if (l.errors == 0)
		conf_relations(&l, c, grps);
out:
	config_destroy(&cfg);
	free(l.dir);
	if (l.errors > 0) {
		conf_free(c);
		return NULL;
	}
	return c;
}

void
conf_free(struct conf *c)
{
	if (c == NULL)
		return;
	free(c->path);
	free(c->snapshot_path);
	free(c->kill_switch);
	free(c->overrides);
	free(c->region_overrides);
	free(c->counters);
	free(c->regions);
	free(c->host_map);
	util_strv_free(c->rules);
	free(c->registries);
	free(c->region);
	free(c->state_path);
	free(c->lock_path);
	free(c->event_log);
	free(c->metrics);
	free(c->proxy);
	util_strv_free(c->follow_sources);
	free(c->follow_cache);
	for (size_t i = 0; c->exts != NULL && c->exts[i] != NULL; i++)
		c->exts[i]->free(c);
	free(c);
}
