/* conf.c: load and validate deephealth.conf (libconfig) against tables of options. */
#define _POSIX_C_SOURCE 200809L
#define PCRE2_CODE_UNIT_WIDTH 8

#include <errno.h>
#include <libconfig.h>
#include <limits.h>
#include <pcre2.h>
#include <pwd.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "deephealth.h"
#include "responder.h"
#include "prober.h"

enum opt_type { OPT_INT, OPT_STR, OPT_PATH, OPT_BOOL, OPT_ENUM, OPT_STRLIST };

static const char *const mode_names[] = { "enforce", "shadow", "passthrough", NULL };
static const char *const unknown_names[] = { "pass", "reject", NULL };
static const char *const detail_names[] = { "status", "cause", NULL };
static const char *const level_names[] = { "error", "warning", "info", "debug", NULL };
static const char *const kind_names[] = { "storage", "cache", "auth", "containers",
	                                  "metadata", "other", NULL };
static const char *const severity_names[] = { "critical", "degraded", NULL };
static const char *const type_names[] = { "http", "tcp", "exec", NULL };

/*
 * One option: its type, range and default.  A key missing from its table is
 * an error; so is a value outside [min, max] or not in names.  Numbers and
 * enums are stored as int at off; strings as char *; lists as char **.
 */
struct opt {
	const char *key;
	enum opt_type type;
	long min, max;
	long def;                 /* INT, BOOL, ENUM (index; -1 = derived later) */
	const char *def_str;      /* STR, PATH; NULL = required */
	const char *const *names; /* ENUM */
	size_t off;
	unsigned types;           /* dependency keys: bit (1 << check_type) allowed; 0 = any */
};

#define MAXOPTS 40
struct table {
	const char *name;
	const struct opt *opts;
	size_t n;
};

#define C(f) offsetof(struct conf, f)
static const struct opt snapshot_opts[] = {
	{ "path", OPT_PATH, 0, 0, 0, NULL, NULL, C(snapshot_path), 0 },
	{ "max_age", OPT_INT, 1, 86400, 180, NULL, NULL, C(max_age), 0 },
};
static const struct opt responder_opts[] = {
	{ "mode", OPT_ENUM, 0, 0, MODE_ENFORCE, NULL, mode_names, C(mode), 0 },
	{ "kill_switch", OPT_PATH, 0, 0, 0, "/etc/deephealth/disable", NULL, C(kill_switch), 0 },
	{ "unknown_host", OPT_ENUM, 0, 0, UNKNOWN_PASS, NULL, unknown_names, C(unknown_host), 0 },
	{ "detail", OPT_ENUM, 0, 0, DETAIL_STATUS, NULL, detail_names, C(detail), 0 },
	{ "recheck_ms", OPT_INT, 0, 60000, 1000, NULL, NULL, C(recheck_ms), 0 },
};
static const struct opt resolver_opts[] = {
	{ "host_map", OPT_PATH, 0, 0, 0, "", NULL, C(host_map), 0 },
	{ "rules", OPT_STRLIST, 0, 0, 0, NULL, NULL, C(rules), 0 },
	{ "match_limit", OPT_INT, 100, 10000000, 20000, NULL, NULL, C(match_limit), 0 },
	{ "depth_limit", OPT_INT, 10, 1000000, 1000, NULL, NULL, C(depth_limit), 0 },
};
static const struct opt log_opts[] = {
	{ "syslog", OPT_BOOL, 0, 1, 0, NULL, NULL, C(log_syslog), 0 },
	{ "level", OPT_ENUM, 0, 0, LOG_LVL_INFO, NULL, level_names, C(log_level), 0 },
};
static const struct opt prober_opts[] = {
	{ "registries", OPT_PATH, 0, 0, 0, "", NULL, C(registries), 0 },
	{ "region", OPT_STR, 0, 0, 0, "", NULL, C(region), 0 },
	{ "state", OPT_PATH, 0, 0, 0, "/var/lib/deephealth/probe.state", NULL, C(state_path), 0 },
	{ "lock", OPT_PATH, 0, 0, 0, "/var/lib/deephealth/probe.lock", NULL, C(lock_path), 0 },
	{ "event_log", OPT_PATH, 0, 0, 0, "", NULL, C(event_log), 0 },
	{ "proxy", OPT_STR, 0, 0, 0, "", NULL, C(proxy), 0 },
	{ "interval", OPT_INT, 1, 3600, 10, NULL, NULL, C(interval), 0 },
	{ "deadline", OPT_INT, 1, 3600, 8, NULL, NULL, C(deadline), 0 },
	{ "parallel", OPT_INT, 1, 4096, 64, NULL, NULL, C(parallel), 0 },
	{ "fall", OPT_INT, 1, 1000, 3, NULL, NULL, C(fall), 0 },
	{ "rise", OPT_INT, 1, 1000, 2, NULL, NULL, C(rise), 0 },
	{ "ok", OPT_INT, 1, 1000, 5, NULL, NULL, C(ok), 0 },
	{ "intermittent", OPT_BOOL, 0, 1, 0, NULL, NULL, C(intermittent), 0 },
	{ "blind_unknown_pct", OPT_INT, 1, 100, 50, NULL, NULL, C(blind_unknown_pct), 0 },
};
#undef C

/* A dependency as written, before it becomes a dep_conf and a check_spec. */
struct dep_raw {
	char *name, *applies, *url, *method, *expect, *body_match, *ca_file, *credentials, *proxy;
	char *address, *send, *reply_match;
	char **headers, **command;
	int kind, severity, witness, fall, rise, ok, intermittent, type;
	int body_negate, body_bytes, tls_verify, follow_redirects;
	int connect_timeout_ms, timeout_ms;
};

#define D(f) offsetof(struct dep_raw, f)
#define HTTP (1u << CHECK_HTTP)
#define TCP (1u << CHECK_TCP)
#define EXEC (1u << CHECK_EXEC)
static const struct opt dep_opts[] = {
	{ "name", OPT_STR, 0, 0, 0, NULL, NULL, D(name), 0 },
	{ "kind", OPT_ENUM, 0, 0, -1, NULL, kind_names, D(kind), 0 },
	{ "severity", OPT_ENUM, 0, 0, -1, NULL, severity_names, D(severity), 0 },
	{ "applies", OPT_STR, 0, 0, 0, "", NULL, D(applies), 0 },
	{ "witness", OPT_BOOL, 0, 1, 0, NULL, NULL, D(witness), 0 },
	{ "fall", OPT_INT, 1, 1000, -1, NULL, NULL, D(fall), 0 },
	{ "rise", OPT_INT, 1, 1000, -1, NULL, NULL, D(rise), 0 },
	{ "ok", OPT_INT, 1, 1000, -1, NULL, NULL, D(ok), 0 },
	{ "intermittent", OPT_BOOL, 0, 1, -1, NULL, NULL, D(intermittent), 0 },
	{ "type", OPT_ENUM, 0, 0, -1, NULL, type_names, D(type), 0 },
	{ "connect_timeout_ms", OPT_INT, 1, 60000, -1, NULL, NULL, D(connect_timeout_ms),
	  HTTP | TCP },
	{ "timeout_ms", OPT_INT, 1, 600000, 5000, NULL, NULL, D(timeout_ms), 0 },
	{ "url", OPT_STR, 0, 0, 0, "", NULL, D(url), HTTP },
	{ "method", OPT_STR, 0, 0, 0, "GET", NULL, D(method), HTTP },
	{ "headers", OPT_STRLIST, 0, 0, 0, NULL, NULL, D(headers), HTTP },
	{ "expect", OPT_STR, 0, 0, 0, "200-299", NULL, D(expect), HTTP },
	{ "body_match", OPT_STR, 0, 0, 0, "", NULL, D(body_match), HTTP },
	{ "body_negate", OPT_BOOL, 0, 1, 0, NULL, NULL, D(body_negate), HTTP },
	{ "body_bytes", OPT_INT, 1, 1048576, 65536, NULL, NULL, D(body_bytes), HTTP },
	{ "tls_verify", OPT_BOOL, 0, 1, 1, NULL, NULL, D(tls_verify), HTTP },
	{ "ca_file", OPT_PATH, 0, 0, 0, "", NULL, D(ca_file), HTTP },
	{ "follow_redirects", OPT_BOOL, 0, 1, 0, NULL, NULL, D(follow_redirects), HTTP },
	{ "credentials", OPT_PATH, 0, 0, 0, "", NULL, D(credentials), HTTP },
	{ "proxy", OPT_STR, 0, 0, 0, "", NULL, D(proxy), HTTP },
	{ "address", OPT_STR, 0, 0, 0, "", NULL, D(address), TCP },
	{ "send", OPT_STR, 0, 0, 0, "", NULL, D(send), TCP },
	{ "reply_match", OPT_STR, 0, 0, 0, "", NULL, D(reply_match), TCP },
	{ "command", OPT_STRLIST, 0, 0, 0, NULL, NULL, D(command), EXEC },
};
#undef D

/* Indexes into sections[], in its order. */
enum { SEC_SNAPSHOT, SEC_RESPONDER, SEC_RESOLVER, SEC_LOG, SEC_PROBER };
#define T(name, o) { name, o, sizeof(o) / sizeof(o[0]) }
static const struct table sections[] = {
	T("snapshot", snapshot_opts), T("responder", responder_opts),
	T("resolver", resolver_opts), T("log", log_opts), T("prober", prober_opts),
};
static const struct table dep_table = T("dependencies", dep_opts);
#undef T
#define NSECTIONS (sizeof(sections) / sizeof(sections[0]))

const char *
mode_str(enum mode m)
{
	return (unsigned)m < 3 ? mode_names[m] : "?";
}

/* Index of key in t (a programming error if absent). */
static size_t
oi(const struct table *t, const char *key)
{
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->opts[i].key, key) == 0)
			return i;
	fatalx("conf: no option %s.%s", t->name, key);
}

/* What one group held, per option of its table. */
struct grp {
	const config_setting_t *set;  /* the group itself, or NULL when absent */
	const config_setting_t *found[MAXOPTS]; /* present and valid */
	const config_setting_t *seen[MAXOPTS];  /* present, valid or not */
	char label[64];               /* "snapshot", "dependencies[3]" */
};

struct loader {
	const char *path;
	char *dir;          /* for relative paths */
	errfn_t errfn;
	void *arg;
	int errors;
};

static void lerr(struct loader *l, const config_setting_t *s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
lerr(struct loader *l, const config_setting_t *s, const char *fmt, ...)
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

static char *
make_path(const struct loader *l, const char *v)
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

static const char *
enum_list(const char *const *names, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t k = 0; names[k] != NULL && used < len; k++)
		used += (size_t)snprintf(buf + used, len - used, "%s%s", k ? ", " : "", names[k]);
	return buf;
}

static void
free_strv(char **v)
{
	for (size_t i = 0; v != NULL && v[i] != NULL; i++)
		free(v[i]);
	free(v);
}

/* Store one present value; report and leave the default on any problem. */
static void
set_value(struct loader *l, struct grp *g, const struct opt *o, size_t i,
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
			lerr(l, s, "%s.%s: expected an integer", g->label, o->key);
			return;
		}
		iv = config_setting_get_int64(s);
		if (iv < o->min || iv > o->max) {
			lerr(l, s, "%s.%s: %lld out of range [%ld, %ld]", g->label, o->key, iv, o->min,
			     o->max);
			return;
		}
		*(int *)field = (int)iv;
		break;
	case OPT_BOOL:
		if (config_setting_type(s) != CONFIG_TYPE_BOOL) {
			lerr(l, s, "%s.%s: expected true or false", g->label, o->key);
			return;
		}
		*(int *)field = config_setting_get_bool(s);
		break;
	case OPT_STR:
	case OPT_PATH:
	case OPT_ENUM:
		sv = config_setting_get_string(s);
		if (sv == NULL) {
			lerr(l, s, "%s.%s: expected a string", g->label, o->key);
			return;
		}
		if (o->type == OPT_ENUM) {
			for (int k = 0; o->names[k] != NULL; k++) {
				if (strcmp(sv, o->names[k]) == 0) {
					*(int *)field = k;
					goto found;
				}
			}
			lerr(l, s, "%s.%s: \"%s\" is not one of: %s", g->label, o->key, sv,
			     enum_list(o->names, list, sizeof(list)));
			return;
		}
		if (sv[0] == '\0' && o->def_str == NULL) {
			lerr(l, s, "%s.%s: must not be empty", g->label, o->key);
			return;
		}
		*(char **)field = o->type == OPT_PATH ? make_path(l, sv) : xstrdup(sv);
		break;
	case OPT_STRLIST:
		if (!config_setting_is_aggregate(s) || config_setting_is_group(s)) {
			lerr(l, s, "%s.%s: expected a list of strings", g->label, o->key);
			return;
		}
		n = config_setting_length(s);
		for (int k = 0; k < n; k++) {
			if (config_setting_get_string_elem(s, k) == NULL) {
				lerr(l, config_setting_get_elem(s, (unsigned)k),
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
apply_values(struct loader *l, const struct table *t, struct grp *g, void *base)
{
	int n = g->set ? config_setting_length(g->set) : 0;

	for (int k = 0; k < n; k++) {
		const config_setting_t *s = config_setting_get_elem(g->set, (unsigned)k);
		const char *key = config_setting_name(s);
		size_t i;

		for (i = 0; i < t->n && strcmp(t->opts[i].key, key) != 0; i++)
			;
		if (i == t->n) {
			lerr(l, s, "%s: unknown key \"%s\"", g->label, key ? key : "?");
			continue;
		}
		g->seen[i] = s;
		set_value(l, g, &t->opts[i], i, s, base);
	}
}

/* Fill in every option not given; missing required ones are errors. */
static void
apply_defaults(struct loader *l, const struct table *t, struct grp *g, void *base)
{
	for (size_t i = 0; i < t->n; i++) {
		const struct opt *o = &t->opts[i];
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
				lerr(l, g->set, "%s.%s: required", g->label, o->key);
			}
			break;
		case OPT_STRLIST:
			break;
		}
	}
}

static void
load_rules(struct loader *l, struct conf *c, const config_setting_t *list)
{
	for (int k = 0; c->rules != NULL && c->rules[k] != NULL; k++) {
		char err[512];

		if (resolver_add_rule(c->resolver, c->rules[k], err, sizeof(err)) != 0)
			lerr(l, config_setting_get_elem(list, (unsigned)k), "resolver.rules[%d]: %s", k,
			     err);
	}
}

/* "200-299,301" -> ranges.  Returns the count, or -1. */
static ssize_t
parse_ranges(const char *s, struct status_range **out)
{
	struct status_range *r = NULL;
	size_t n = 0;
	const char *p = s;

	*out = NULL;
	while (*p != '\0') {
		char *end;
		long lo, hi;

		errno = 0;
		lo = strtol(p, &end, 10);
		if (end == p || errno != 0)
			goto bad;
		hi = lo;
		p = end;
		if (*p == '-') {
			hi = strtol(p + 1, &end, 10);
			if (end == p + 1 || errno != 0)
				goto bad;
			p = end;
		}
		if (lo < 100 || hi > 599 || lo > hi)
			goto bad;
		r = realloc(r, (n + 1) * sizeof(*r));
		if (r == NULL)
			fatal("realloc");
		r[n].lo = (int)lo;
		r[n].hi = (int)hi;
		n++;
		if (*p == ',')
			p++;
		else if (*p != '\0')
			goto bad;
	}
	if (n == 0)
		goto bad;
	*out = r;
	return (ssize_t)n;
bad:
	free(r);
	return -1;
}

static void *
compile_re(struct loader *l, const config_setting_t *s, const char *label, const char *key,
           const char *pattern)
{
	int ec;
	PCRE2_SIZE off;
	pcre2_code *re;

	re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, 0, &ec, &off, NULL);
	if (re == NULL) {
		PCRE2_UCHAR msg[256];

		pcre2_get_error_message(ec, msg, sizeof(msg));
		lerr(l, s, "%s.%s: bad pattern \"%s\": %s at offset %zu", label, key, pattern,
		     (char *)msg, (size_t)off);
		return NULL;
	}
	(void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
	return re;
}

static int
name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > DH_NAME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!util_is_name_byte((unsigned char)s[i]))
			return 0;
	return 1;
}

static void dep_index_add(struct conf *c, size_t i);

/* "" or a proxy URL libcurl takes: a scheme it knows, then a host. */
static int
proxy_ok(const char *s)
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

/* dep_raw -> dep_conf + check_spec, checking what depends on the check type. */
static void
dep_build(struct loader *l, struct conf *c, struct grp *g, const struct table *t,
          struct dep_raw *r, struct dep_conf *d)
{
	struct check_spec *cs = xcalloc(1, sizeof(*cs));
	const config_setting_t *at = g->set;

	d->check = cs;
	d->line = at ? config_setting_source_line(at) : 0;
	if (r->kind < 0 && g->seen[oi(t, "kind")] == NULL)
		lerr(l, at, "%s.kind: required (%s)", g->label,
		     "storage, cache, auth, containers, metadata or other");
	if (r->type < 0) {
		/* Present but invalid was reported at its own line. */
		if (g->seen[oi(t, "type")] == NULL)
			lerr(l, at, "%s.type: required (http, tcp or exec)", g->label);
		return;
	}
	cs->type = (enum check_type)r->type;
	for (size_t i = 0; i < t->n; i++) {
		if (g->seen[i] != NULL && t->opts[i].types != 0 &&
		    !(t->opts[i].types & (1u << cs->type)))
			lerr(l, g->seen[i], "%s.%s: not a key of %s checks", g->label, t->opts[i].key,
			     type_names[cs->type]);
	}
	if (r->name != NULL) {
		int dup = conf_dep_index(c, r->name) >= 0;

		if (!name_ok(r->name))
			lerr(l, g->found[oi(t, "name")], "%s.name: \"%s\" is not 1-253 of A-Z a-z 0-9 . _ -",
			     g->label, r->name);
		else if (dup)
			lerr(l, g->found[oi(t, "name")], "%s.name: duplicate dependency \"%s\"", g->label, r->name);
		d->name = r->name;
		r->name = NULL;
		if (!dup)
			dep_index_add(c, (size_t)(d - c->deps));
	}
	d->kind = (enum dep_kind)r->kind;
	/* A cache failure slows things down but rarely stops them: degraded unless told. */
	d->severity = r->severity >= 0 ? (enum severity)r->severity
	                               : d->kind == DEP_KIND_CACHE ? SEV_DEGRADED : SEV_CRITICAL;
	d->witness = r->witness;
	d->fall = r->fall > 0 ? r->fall : c->fall;
	d->rise = r->rise > 0 ? r->rise : c->rise;
	d->ok = r->ok > 0 ? r->ok : c->ok;
	d->intermittent = r->intermittent >= 0 ? r->intermittent : c->intermittent;
	if (r->applies[0] == '\0')
		d->applies = d->kind == DEP_KIND_STORAGE ? APPLY_LISTED
		             : d->kind == DEP_KIND_METADATA ? APPLY_FEATURE : APPLY_ALL;
	else if (strcmp(r->applies, "all") == 0)
		d->applies = APPLY_ALL;
	else if (strcmp(r->applies, "listed") == 0)
		d->applies = APPLY_LISTED;
	else if (strncmp(r->applies, "feature:", 8) == 0 && name_ok(r->applies + 8))
		d->applies = APPLY_FEATURE;
	else
		lerr(l, g->seen[oi(t, "applies")], "%s.applies: \"%s\" is not one of: all, listed, feature:NAME",
		     g->label, r->applies);
	if (d->applies == APPLY_FEATURE)
		d->feature = xstrdup(r->applies[0] ? r->applies + 8 : "metadata-search");

	cs->timeout_ms = r->timeout_ms;
	/* Unset: 2 s, or the whole timeout when that is shorter. */
	cs->connect_timeout_ms = r->connect_timeout_ms > 0 ? r->connect_timeout_ms
	                         : r->timeout_ms < 2000 ? r->timeout_ms : 2000;
	if (cs->connect_timeout_ms > cs->timeout_ms)
		lerr(l, at, "%s: connect_timeout_ms (%d) above timeout_ms (%d)", g->label,
		     cs->connect_timeout_ms, cs->timeout_ms);
	if ((long)cs->timeout_ms > (long)c->deadline * 1000)
		lerr(l, at, "%s: timeout_ms (%d) above prober.deadline (%d s)", g->label,
		     cs->timeout_ms, c->deadline);
	switch (cs->type) {
	case CHECK_HTTP:
		if (strncmp(r->url, "http://", 7) != 0 && strncmp(r->url, "https://", 8) != 0)
			lerr(l, at, "%s.url: required, http:// or https://", g->label);
		cs->url = r->url;
		r->url = NULL;
		cs->method = r->method;
		r->method = NULL;
		cs->headers = r->headers;
		r->headers = NULL;
		for (size_t k = 0; cs->headers != NULL && cs->headers[k] != NULL; k++)
			if (strchr(cs->headers[k], ':') == NULL || strpbrk(cs->headers[k], "\r\n"))
				lerr(l, at, "%s.headers[%zu]: expected \"Name: value\"", g->label, k);
		{
			ssize_t nr = parse_ranges(r->expect, &cs->expect);

			if (nr < 0)
				lerr(l, at, "%s.expect: \"%s\" is not a list of statuses or ranges like "
				     "200-299,301", g->label, r->expect);
			else
				cs->nexpect = (size_t)nr;
		}
		if (r->body_match[0] != '\0')
			cs->body_re = compile_re(l, at, g->label, "body_match", r->body_match);
		cs->body_negate = r->body_negate;
		cs->body_bytes = (size_t)r->body_bytes;
		cs->tls_verify = r->tls_verify;
		if (r->ca_file[0] != '\0') {
			cs->ca_file = r->ca_file;
			r->ca_file = NULL;
		}
		cs->follow_redirects = r->follow_redirects;
		/* curl would hand custom headers (secrets) to whatever host a redirect names. */
		if (r->follow_redirects && r->credentials[0] != '\0')
			lerr(l, at, "%s: credentials and follow_redirects cannot go together", g->label);
		if (r->credentials[0] != '\0') {
			cs->cred_file = r->credentials;
			r->credentials = NULL;
			d->cred_line = config_setting_source_line(g->seen[oi(t, "credentials")]);
		}
		/* Its own proxy ("" = direct) wins over prober.proxy. */
		if (g->found[oi(t, "proxy")] != NULL) {
			if (!proxy_ok(r->proxy))
				lerr(l, g->found[oi(t, "proxy")], "%s.proxy: \"%s\" is not a proxy URL "
				     "(http://, https://, socks5h://... host[:port])", g->label, r->proxy);
			cs->proxy = r->proxy;
			r->proxy = NULL;
		} else if (c->proxy != NULL && c->proxy[0] != '\0') {
			cs->proxy = xstrdup(c->proxy);
		}
		break;
	case CHECK_TCP:
		if (r->address[0] == '\0' || strrchr(r->address, ':') == NULL)
			lerr(l, at, "%s.address: required, \"host:port\"", g->label);
		cs->address = r->address;
		r->address = NULL;
		if (r->send[0] != '\0') {
			cs->send_len = strlen(r->send);
			cs->send = r->send;
			r->send = NULL;
		}
		if (r->reply_match[0] != '\0')
			cs->expect_re = compile_re(l, at, g->label, "reply_match", r->reply_match);
		break;
	case CHECK_EXEC:
		if (r->command == NULL || r->command[0] == NULL || r->command[0][0] != '/')
			lerr(l, at, "%s.command: required, a list starting with an absolute path",
			     g->label);
		cs->argv = r->command;
		r->command = NULL;
		break;
	}
}

/* A check_spec is configuration: built here, freed here (the responder never links the checks). */
void
check_spec_free(struct check_spec *s)
{
	if (s == NULL)
		return;
	free(s->url);
	free(s->method);
	free_strv(s->headers);
	free(s->expect);
	pcre2_code_free(s->body_re);
	free(s->ca_file);
	free(s->cred_file);
	free(s->proxy);
	free(s->address);
	free(s->send);
	pcre2_code_free(s->expect_re);
	free_strv(s->argv);
	free(s);
}

static void
dep_raw_free(struct dep_raw *r)
{
	free(r->name);
	free(r->applies);
	free(r->url);
	free(r->method);
	free(r->expect);
	free(r->body_match);
	free(r->ca_file);
	free(r->credentials);
	free(r->proxy);
	free(r->address);
	free(r->send);
	free(r->reply_match);
	free_strv(r->headers);
	free_strv(r->command);
}

static void
load_deps(struct loader *l, struct conf *c, const config_setting_t *list)
{
	int n;

	if (list == NULL)
		return;
	if (!config_setting_is_list(list)) {
		lerr(l, list, "dependencies: expected a list ( { ... }, ... )");
		return;
	}
	n = config_setting_length(list);
	c->deps = xcalloc((size_t)n, sizeof(*c->deps));
	for (int k = 0; k < n; k++) {
		struct grp g;
		struct dep_raw r;

		memset(&g, 0, sizeof(g));
		memset(&r, 0, sizeof(r));
		g.set = config_setting_get_elem(list, (unsigned)k);
		snprintf(g.label, sizeof(g.label), "dependencies[%d]", k);
		if (!config_setting_is_group(g.set)) {
			lerr(l, g.set, "%s: expected a group { ... }", g.label);
			continue;
		}
		apply_values(l, &dep_table, &g, &r);
		apply_defaults(l, &dep_table, &g, &r);
		dep_build(l, c, &g, &dep_table, &r, &c->deps[c->ndeps++]);
		dep_raw_free(&r);
	}
}

/* Relations between options that no single range can express. */
static void
conf_relations(struct loader *l, struct conf *c, struct grp *grps)
{
	const config_setting_t *at;

	if ((long)c->recheck_ms >= (long)c->max_age * 1000) {
		at = grps[SEC_RESPONDER].found[oi(&sections[SEC_RESPONDER], "recheck_ms")];
		if (at == NULL)
			at = grps[SEC_SNAPSHOT].found[oi(&sections[SEC_SNAPSHOT], "max_age")];
		lerr(l, at, "responder.recheck_ms (%d) must be below snapshot.max_age (%d s)",
		     c->recheck_ms, c->max_age);
	}
	if (c->deadline > c->interval) {
		at = grps[SEC_PROBER].found[oi(&sections[SEC_PROBER], "deadline")];
		if (at == NULL)
			at = grps[SEC_PROBER].set;
		lerr(l, at, "prober.deadline (%d s) must not exceed prober.interval (%d s)",
		     c->deadline, c->interval);
	}
}

/* The line of key in g, else of g itself, else 1. */
static unsigned
key_line(const struct grp *g, const struct table *t, const char *key)
{
	const config_setting_t *s = g->found[oi(t, key)];

	if (s == NULL)
		s = g->set;
	return s != NULL && config_setting_source_line(s) > 0 ? config_setting_source_line(s) : 1;
}

static void
load_errfn_adapter(void *arg, const char *fmt, ...)
{
	struct loader *l = arg;
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	l->errfn(l->arg, "%s", msg);
}

struct conf *
conf_load(const char *path, errfn_t errfn, void *arg)
{
	struct loader l = { .path = path, .errfn = errfn, .arg = arg };
	struct grp grps[NSECTIONS];
	const config_setting_t *root, *deps = NULL;
	config_t cfg;
	struct conf *c = xcalloc(1, sizeof(*c));
	char *slash;

	memset(grps, 0, sizeof(grps));
	config_init(&cfg);
	c->path = xstrdup(path);
	l.dir = xstrdup(path);
	slash = strrchr(l.dir, '/');
	if (slash == NULL) {
		free(l.dir);
		l.dir = xstrdup(".");
	} else {
		slash[slash == l.dir ? 1 : 0] = '\0';
	}
	if (!config_read_file(&cfg, path)) {
		if (config_error_type(&cfg) == CONFIG_ERR_FILE_IO)
			errfn(arg, "%s: cannot read: %s", path, strerror(errno));
		else
			errfn(arg, "%s:%d: %s", config_error_file(&cfg) ? config_error_file(&cfg) : path,
			      config_error_line(&cfg), config_error_text(&cfg));
		l.errors++;
		goto out;
	}
	root = config_root_setting(&cfg);
	/* Values first, in file order; then defaults; then what needs them all. */
	for (int k = 0; k < config_setting_length(root); k++) {
		const config_setting_t *sec = config_setting_get_elem(root, (unsigned)k);
		const char *sname = config_setting_name(sec);
		size_t i;

		if (strcmp(sname, "dependencies") == 0) {
			deps = sec;
			continue;
		}
		for (i = 0; i < NSECTIONS && strcmp(sections[i].name, sname) != 0; i++)
			;
		if (i == NSECTIONS) {
			lerr(&l, sec, "unknown section \"%s\"", sname);
			continue;
		}
		if (!config_setting_is_group(sec)) {
			lerr(&l, sec, "%s: expected a group { ... }", sname);
			continue;
		}
		grps[i].set = sec;
		snprintf(grps[i].label, sizeof(grps[i].label), "%s", sname);
		apply_values(&l, &sections[i], &grps[i], c);
	}
	for (size_t i = 0; i < NSECTIONS; i++) {
		if (grps[i].label[0] == '\0')
			snprintf(grps[i].label, sizeof(grps[i].label), "%s", sections[i].name);
		apply_defaults(&l, &sections[i], &grps[i], c);
	}
	{
		const config_setting_t *at = grps[SEC_PROBER].found[oi(&sections[SEC_PROBER], "proxy")];

		if (at != NULL && !proxy_ok(c->proxy))
			lerr(&l, at, "prober.proxy: \"%s\" is not a proxy URL (http://, https://, "
			     "socks5h://... host[:port])", c->proxy);
	}
	c->snapshot_line = key_line(&grps[SEC_SNAPSHOT], &sections[SEC_SNAPSHOT], "path");
	c->state_line = key_line(&grps[SEC_PROBER], &sections[SEC_PROBER], "state");
	c->lock_line = key_line(&grps[SEC_PROBER], &sections[SEC_PROBER], "lock");
	c->event_log_line = key_line(&grps[SEC_PROBER], &sections[SEC_PROBER], "event_log");
	c->resolver = resolver_new((uint32_t)c->match_limit, (uint32_t)c->depth_limit);
	if (grps[SEC_RESOLVER].found[oi(&sections[SEC_RESOLVER], "rules")] != NULL)
		load_rules(&l, c, grps[SEC_RESOLVER].found[oi(&sections[SEC_RESOLVER], "rules")]);
	load_deps(&l, c, deps);
	if (c->host_map != NULL && c->host_map[0] != '\0') {
		if (access(c->host_map, R_OK) != 0)
			lerr(&l, grps[SEC_RESOLVER].found[oi(&sections[SEC_RESOLVER], "host_map")], "resolver.host_map: cannot read \"%s\": %s",
			     c->host_map, strerror(errno));
		else
			l.errors += resolver_load_map(c->resolver, c->host_map, load_errfn_adapter, &l);
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

int
conf_dep_find(const struct conf *c, const char *name, size_t len)
{
	size_t mask = c->dep_slot_cap - 1;

	if (c->dep_slot_cap == 0) {
		/* A configuration built by hand (tests) has no index: scan. */
		for (size_t i = 0; i < c->ndeps; i++)
			if (c->deps[i].name != NULL && strncmp(c->deps[i].name, name, len) == 0 &&
			    c->deps[i].name[len] == '\0')
				return (int)i;
		return -1;
	}
	for (size_t j = util_hash64(name, len) & mask; c->dep_slots[j] != 0; j = (j + 1) & mask) {
		const char *n = c->deps[c->dep_slots[j] - 1].name;

		if (strncmp(n, name, len) == 0 && n[len] == '\0')
			return (int)(c->dep_slots[j] - 1);
	}
	return -1;
}

int
conf_dep_index(const struct conf *c, const char *name)
{
	return conf_dep_find(c, name, strlen(name));
}

/* Index c->deps[i] by name; the table stays at most half full. */
static void
dep_index_add(struct conf *c, size_t i)
{
	if ((i + 1) * 2 > c->dep_slot_cap) {
		uint32_t *old = c->dep_slots;
		size_t oldcap = c->dep_slot_cap;

		c->dep_slot_cap = oldcap ? oldcap * 2 : 64;
		c->dep_slots = xcalloc(c->dep_slot_cap, sizeof(*c->dep_slots));
		for (size_t k = 0; k < oldcap; k++) {
			if (old[k] != 0)
				dep_index_add(c, old[k] - 1);
		}
		free(old);
	}
	for (size_t j = util_hash64(c->deps[i].name, strlen(c->deps[i].name)) &
	                (c->dep_slot_cap - 1);
	     ; j = (j + 1) & (c->dep_slot_cap - 1)) {
		if (c->dep_slots[j] == 0) {
			c->dep_slots[j] = (uint32_t)i + 1;
			return;
		}
	}
}

/* "uid 0 (root)": who this process is, for reports about permissions. */
static void
user_name(char *out, size_t len)
{
	struct passwd *pw = getpwuid(geteuid());

	if (pw != NULL)
		snprintf(out, len, "uid %ld (%s)", (long)geteuid(), pw->pw_name);
	else
		snprintf(out, len, "uid %ld", (long)geteuid());
}

/*
 * Can this user create, rename and remove files next to path (the prober
 * publishes by rename and cleans temp files), and write path itself if it
 * exists and must be written in place?  Reports and returns 1 when not.
 */
static int
writable_at(const struct conf *c, unsigned line, const char *key, const char *path,
            int in_place, errfn_t errfn, void *arg)
{
	char *dcopy = xstrdup(path), *slash = strrchr(dcopy, '/');
	const char *dir = ".";
	char who[64];
	int bad = 0;

	user_name(who, sizeof(who));
	if (slash == dcopy)
		dir = "/";
	else if (slash != NULL) {
		*slash = '\0';
		dir = dcopy;
	}
	if (access(dir, W_OK | X_OK) == -1) {
		int e = errno;

		if (e == ENOENT)
			errfn(arg, "%s:%u: %s: directory \"%s\" does not exist", c->path, line, key, dir);
		else
			errfn(arg, "%s:%u: %s: directory \"%s\" is not writable by %s: %s", c->path,
			      line, key, dir, who, strerror(e));
		bad = 1;
	} else if (in_place && access(path, W_OK) == -1 && errno != ENOENT) {
		int e = errno;

		errfn(arg, "%s:%u: %s: \"%s\" is not writable by %s: %s", c->path, line, key, path,
		      who, strerror(e));
		bad = 1;
	}
	free(dcopy);
	return bad;
}

int
conf_check_prober(const struct conf *c, errfn_t errfn, void *arg)
{
	int errors = 0;

	errors += writable_at(c, c->snapshot_line, "snapshot.path", c->snapshot_path, 0, errfn, arg);
	errors += writable_at(c, c->state_line, "prober.state", c->state_path, 0, errfn, arg);
	errors += writable_at(c, c->lock_line, "prober.lock", c->lock_path, 1, errfn, arg);
	if (c->event_log[0] != '\0')
		errors += writable_at(c, c->event_log_line, "prober.event_log", c->event_log, 1,
		                      errfn, arg);
	if (c->registries[0] == '\0') {
		errfn(arg, "%s:1: prober.registries: required by deephealth-probe", c->path);
		errors++;
	}
	if (c->ndeps == 0) {
		errfn(arg, "%s:1: dependencies: deephealth-probe needs at least one", c->path);
		errors++;
	}
	for (size_t i = 0; i < c->ndeps; i++) {
		const char *cred = c->deps[i].check->cred_file;
		struct stat st;

		if (cred == NULL)
			continue;
		/* Secrets readable by others are refused, like ssh refuses a loose key. */
		if (stat(cred, &st) == -1) {
			errfn(arg, "%s:%u: dependency \"%s\": credentials \"%s\": %s", c->path,
			      c->deps[i].cred_line, c->deps[i].name, cred, strerror(errno));
			errors++;
		} else if (!S_ISREG(st.st_mode) || (st.st_mode & 077) != 0 ||
		           (st.st_uid != geteuid() && st.st_uid != 0)) {
			errfn(arg, "%s:%u: dependency \"%s\": credentials \"%s\" must be a regular file "
			      "owned by this user or root and not group/world accessible (chmod 600)",
			      c->path, c->deps[i].cred_line, c->deps[i].name, cred);
			errors++;
		} else if (access(cred, R_OK) == -1) {
			int e = errno;
			char who[64];

			user_name(who, sizeof(who));
			errfn(arg, "%s:%u: dependency \"%s\": credentials \"%s\" not readable by %s: %s",
			      c->path, c->deps[i].cred_line, c->deps[i].name, cred, who, strerror(e));
			errors++;
		}
	}
	return errors;
}

void
conf_free(struct conf *c)
{
	if (c == NULL)
		return;
	free(c->path);
	free(c->snapshot_path);
	free(c->kill_switch);
	free(c->host_map);
	free_strv(c->rules);
	resolver_free(c->resolver);
	free(c->registries);
	free(c->region);
	free(c->state_path);
	free(c->lock_path);
	free(c->event_log);
	free(c->proxy);
	for (size_t i = 0; i < c->ndeps; i++) {
		free(c->deps[i].name);
		free(c->deps[i].feature);
		check_spec_free(c->deps[i].check);
	}
	free(c->deps);
	free(c->dep_slots);
	free(c);
}
