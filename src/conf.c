/* conf.c: load and validate deephealth.conf (libconfig) against one table of options. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <libconfig.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "deephealth.h"

enum opt_type { OPT_INT, OPT_STR, OPT_PATH, OPT_BOOL, OPT_ENUM, OPT_RULES };

static const char *const mode_names[] = { "enforce", "shadow", "passthrough", NULL };
static const char *const unknown_names[] = { "pass", "reject", NULL };
static const char *const detail_names[] = { "status", "cause", NULL };
static const char *const level_names[] = { "error", "warning", "info", "debug", NULL };

/*
 * Every option, its range and its default, in one place.  A key missing from
 * this table is an error; so is a value outside [min, max] or not in names.
 */
struct opt {
	const char *section;
	const char *key;
	enum opt_type type;
	long min, max;
	long def;                 /* OPT_INT, OPT_BOOL, OPT_ENUM (index) */
	const char *def_str;      /* OPT_STR, OPT_PATH; NULL = required */
	const char *const *names; /* OPT_ENUM */
	size_t off;               /* into struct conf (int-sized for numbers and enums) */
};

#define OFF(f) offsetof(struct conf, f)
#define NOFIELD SIZE_MAX /* read by conf_load itself, not stored as is */
static const struct opt opts[] = {
	{ "snapshot", "path", OPT_PATH, 0, 0, 0, NULL, NULL, OFF(snapshot_path) },
	{ "snapshot", "max_age", OPT_INT, 1, 86400, 180, NULL, NULL, OFF(max_age) },
	{ "responder", "mode", OPT_ENUM, 0, 0, MODE_ENFORCE, NULL, mode_names, OFF(mode) },
	{ "responder", "kill_switch", OPT_PATH, 0, 0, 0, "/etc/deephealth/disable", NULL,
	  OFF(kill_switch) },
	{ "responder", "unknown_host", OPT_ENUM, 0, 0, UNKNOWN_PASS, NULL, unknown_names,
	  OFF(unknown_host) },
	{ "responder", "detail", OPT_ENUM, 0, 0, DETAIL_STATUS, NULL, detail_names, OFF(detail) },
	{ "responder", "recheck_ms", OPT_INT, 0, 60000, 1000, NULL, NULL, OFF(recheck_ms) },
	{ "resolver", "host_map", OPT_PATH, 0, 0, 0, "", NULL, OFF(host_map) },
	{ "resolver", "rules", OPT_RULES, 0, 0, 0, NULL, NULL, NOFIELD },
	{ "resolver", "match_limit", OPT_INT, 100, 10000000, 20000, NULL, NULL, NOFIELD },
	{ "resolver", "depth_limit", OPT_INT, 10, 1000000, 1000, NULL, NULL, NOFIELD },
	{ "log", "syslog", OPT_BOOL, 0, 1, 0, NULL, NULL, OFF(log_syslog) },
	{ "log", "level", OPT_ENUM, 0, 0, LOG_LVL_INFO, NULL, level_names, OFF(log_level) },
};
#undef OFF
#define NOPTS (sizeof(opts) / sizeof(opts[0]))

const char *
mode_str(enum mode m)
{
	return (unsigned)m < 3 ? mode_names[m] : "?";
}

struct loader {
	const char *path;
	char *dir;          /* for relative paths */
	errfn_t errfn;
	void *arg;
	int errors;
	const config_setting_t *found[NOPTS]; /* present and valid */
	const config_setting_t *seen[NOPTS];  /* present, valid or not */
	long ints[NOPTS];
};

static void
lerr(struct loader *l, const config_setting_t *s, const char *fmt, ...)
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
set_value(struct loader *l, struct conf *c, size_t i, const config_setting_t *s)
{
	const struct opt *o = &opts[i];
	const char *sv;
	long long iv;
	char list[128];

	switch (o->type) {
	case OPT_INT:
		if (config_setting_type(s) != CONFIG_TYPE_INT &&
		    config_setting_type(s) != CONFIG_TYPE_INT64) {
			lerr(l, s, "%s.%s: expected an integer", o->section, o->key);
			return;
		}
		iv = config_setting_get_int64(s);
		if (iv < o->min || iv > o->max) {
			lerr(l, s, "%s.%s: %lld out of range [%ld, %ld]", o->section, o->key, iv,
			     o->min, o->max);
			return;
		}
		l->ints[i] = (long)iv;
		break;
	case OPT_BOOL:
		if (config_setting_type(s) != CONFIG_TYPE_BOOL) {
			lerr(l, s, "%s.%s: expected true or false", o->section, o->key);
			return;
		}
		l->ints[i] = config_setting_get_bool(s);
		break;
	case OPT_STR:
	case OPT_PATH:
	case OPT_ENUM:
		sv = config_setting_get_string(s);
		if (sv == NULL) {
			lerr(l, s, "%s.%s: expected a string", o->section, o->key);
			return;
		}
		if (o->type == OPT_ENUM) {
			for (long k = 0; o->names[k] != NULL; k++) {
				if (strcmp(sv, o->names[k]) == 0) {
					l->ints[i] = k;
					goto found;
				}
			}
			lerr(l, s, "%s.%s: \"%s\" is not one of: %s", o->section, o->key, sv,
			     enum_list(o->names, list, sizeof(list)));
			return;
		}
		if (o->type == OPT_PATH && sv[0] == '\0' && o->def_str == NULL) {
			lerr(l, s, "%s.%s: must not be empty", o->section, o->key);
			return;
		}
		*(char **)((char *)c + o->off) = o->type == OPT_PATH ? make_path(l, sv) : xstrdup(sv);
		break;
	case OPT_RULES:
		if (!config_setting_is_aggregate(s) || config_setting_is_group(s)) {
			lerr(l, s, "%s.%s: expected a list of pattern strings", o->section, o->key);
			return;
		}
		break; /* compiled once the limits are known */
	}
found:
	l->found[i] = s;
}

static void
load_rules(struct loader *l, struct conf *c, const config_setting_t *list)
{
	int n = config_setting_length(list);

	for (int k = 0; k < n; k++) {
		const config_setting_t *e = config_setting_get_elem(list, (unsigned)k);
		const char *pat = config_setting_get_string(e);
		char err[512];

		if (pat == NULL) {
			lerr(l, e, "resolver.rules[%d]: expected a pattern string", k);
			continue;
		}
		if (resolver_add_rule(c->resolver, pat, err, sizeof(err)) != 0)
			lerr(l, e, "resolver.rules[%d]: %s", k, err);
	}
}

static size_t
opt_index(const char *section, const char *key)
{
	for (size_t i = 0; i < NOPTS; i++)
		if (strcmp(opts[i].section, section) == 0 && strcmp(opts[i].key, key) == 0)
			return i;
	return NOPTS;
}

static int
section_known(const char *name)
{
	for (size_t i = 0; i < NOPTS; i++)
		if (strcmp(opts[i].section, name) == 0)
			return 1;
	return 0;
}

static void
conf_walk(struct loader *l, struct conf *c, const config_setting_t *root)
{
	int n = config_setting_length(root);

	for (int k = 0; k < n; k++) {
		const config_setting_t *sec = config_setting_get_elem(root, (unsigned)k);
		const char *sname = config_setting_name(sec);

		if (!section_known(sname)) {
			lerr(l, sec, "unknown section \"%s\"", sname);
			continue;
		}
		if (!config_setting_is_group(sec)) {
			lerr(l, sec, "%s: expected a group { ... }", sname);
			continue;
		}
		for (int j = 0; j < config_setting_length(sec); j++) {
			const config_setting_t *s = config_setting_get_elem(sec, (unsigned)j);
			size_t i = opt_index(sname, config_setting_name(s));

			if (i == NOPTS) {
				lerr(l, s, "%s: unknown key \"%s\"", sname, config_setting_name(s));
			} else {
				l->seen[i] = s;
				set_value(l, c, i, s);
			}
		}
	}
}

static void
conf_defaults(struct loader *l, struct conf *c, const config_setting_t *root)
{
	for (size_t i = 0; i < NOPTS; i++) {
		const struct opt *o = &opts[i];

		if (l->found[i] != NULL)
			continue;
		switch (o->type) {
		case OPT_INT:
		case OPT_BOOL:
		case OPT_ENUM:
			l->ints[i] = o->def;
			break;
		case OPT_STR:
		case OPT_PATH:
			if (o->def_str == NULL) {
				const config_setting_t *sec = config_setting_get_member(root, o->section);

				/* Present but invalid was reported already, at its own line. */
				if (l->seen[i] == NULL)
					lerr(l, sec, "%s.%s: required", o->section, o->key);
				break;
			}
			*(char **)((char *)c + o->off) =
			    o->type == OPT_PATH ? make_path(l, o->def_str) : xstrdup(o->def_str);
			break;
		case OPT_RULES:
			break;
		}
	}
	for (size_t i = 0; i < NOPTS; i++) {
		const struct opt *o = &opts[i];

		if (o->off != NOFIELD &&
		    (o->type == OPT_INT || o->type == OPT_BOOL || o->type == OPT_ENUM))
			*(int *)((char *)c + o->off) = (int)l->ints[i];
	}
}

/* Relations between options that no single range can express. */
static void
conf_relations(struct loader *l, struct conf *c)
{
	size_t ir = opt_index("responder", "recheck_ms");

	if ((long)c->recheck_ms >= (long)c->max_age * 1000)
		lerr(l, l->found[ir] ? l->found[ir] : l->found[opt_index("snapshot", "max_age")],
		     "responder.recheck_ms (%d) must be below snapshot.max_age (%d s)", c->recheck_ms,
		     c->max_age);
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
	config_t cfg;
	struct conf *c = xcalloc(1, sizeof(*c));
	char *slash;

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
	conf_walk(&l, c, config_root_setting(&cfg));
	conf_defaults(&l, c, config_root_setting(&cfg));
	c->resolver = resolver_new((uint32_t)l.ints[opt_index("resolver", "match_limit")],
	                           (uint32_t)l.ints[opt_index("resolver", "depth_limit")]);
	if (l.found[opt_index("resolver", "rules")] != NULL)
		load_rules(&l, c, l.found[opt_index("resolver", "rules")]);
	if (c->host_map != NULL && c->host_map[0] != '\0') {
		if (access(c->host_map, R_OK) != 0)
			lerr(&l, l.found[opt_index("resolver", "host_map")],
			     "resolver.host_map: cannot read \"%s\": %s", c->host_map, strerror(errno));
		else
			l.errors += resolver_load_map(c->resolver, c->host_map, load_errfn_adapter, &l);
	}
	if (l.errors == 0)
		conf_relations(&l, c);
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
	free(c->host_map);
	resolver_free(c->resolver);
	free(c);
}
