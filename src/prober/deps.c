/*
 * deps.c: the dependencies section, the prober's part of the configuration:
 * each dependency's own keys, its check (read by the check type's key table),
 * the name index, and what the prober needs of the rest (-t).
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <libconfig.h>
#include <pwd.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "prober.h"

/* What every dependency has, whatever its check. */
#define D(f) offsetof(struct dep_conf, f)
static const struct conf_opt dep_opts[] = {
	{ "name", OPT_STR, 0, 0, 0, NULL, NULL, D(name) },
	{ "kind", OPT_ENUM, 0, 0, -1, NULL, dep_kind_names, D(kind) },
	{ "severity", OPT_ENUM, 0, 0, -1, NULL, severity_names, D(severity) },
	{ "applies", OPT_STR, 0, 0, 0, "", NULL, D(scope) },
	{ "witness", OPT_BOOL, 0, 1, 0, NULL, NULL, D(witness) },
	{ "fall", OPT_INT, 1, 1000, -1, NULL, NULL, D(fall) },
	{ "rise", OPT_INT, 1, 1000, -1, NULL, NULL, D(rise) },
	{ "ok", OPT_INT, 1, 1000, -1, NULL, NULL, D(ok) },
	{ "intermittent", OPT_BOOL, 0, 1, -1, NULL, NULL, D(intermittent) },
};
#undef D
static const struct conf_table dep_table = CONF_TABLE("dependencies", dep_opts);

#define S(f) offsetof(struct check_spec, f)
static const struct conf_opt spec_opts[] = {
	{ "timeout_ms", OPT_INT, 1, 600000, 5000, NULL, NULL, S(timeout_ms) },
};
#undef S
static const struct conf_table spec_table = CONF_TABLE("dependencies", spec_opts);

/* "http, tcp, exec", or "http, tcp or exec" with or_last. */
static const char *
type_list(char *buf, size_t len, int or_last)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t k = 0; check_types[k] != NULL && used < len; k++)
		used += (size_t)snprintf(buf + used, len - used, "%s%s",
		                         k == 0 ? "" : or_last && check_types[k + 1] == NULL ? " or " : ", ",
		                         check_types[k]->name);
	return buf;
}

/* The type a group names, or NULL (reported, unless the group has no type: the caller says). */
static const struct check_type *
dep_type(struct conf_loader *l, const config_setting_t *set, const char *label, int *absent)
{
	const config_setting_t *s = config_setting_get_member(set, "type");
	const char *v;
	char list[128];

	*absent = s == NULL;
	if (s == NULL)
		return NULL;
	if ((v = config_setting_get_string(s)) == NULL) {
		conf_err(l, s, "%s.type: expected a string", label);
		return NULL;
	}
	for (size_t k = 0; check_types[k] != NULL; k++)
		if (strcmp(check_types[k]->name, v) == 0)
			return check_types[k];
	conf_err(l, s, "%s.type: \"%s\" is not one of: %s", label, v, type_list(list, sizeof(list), 0));
	return NULL;
}

/*
 * Read a group's members against the common tables and the type's own: a key
 * of another type is named as such, any other key is unknown.
 */
static void
dep_values(struct conf_loader *l, const struct check_type *t, struct conf_grp g[3],
           struct dep_conf *d)
{
	const struct conf_table *tabs[3] = { &dep_table, &spec_table, t ? &t->keys : NULL };
	void *bases[3] = { d, d->check, d->check->conf };
	int n = config_setting_length(g[0].set);

	for (int k = 0; k < n; k++) {
		const config_setting_t *s = config_setting_get_elem(g[0].set, (unsigned)k);
		const char *key = config_setting_name(s);
		const struct check_type *other = NULL;
		size_t ti;
		int i = -1;

		if (key == NULL || strcmp(key, "type") == 0)
			continue;
		for (ti = 0; ti < 3 && (tabs[ti] == NULL || (i = conf_opt_index(tabs[ti], key)) < 0); ti++)
			;
		if (ti < 3) {
			g[ti].seen[i] = s;
			conf_set(l, &g[ti], &tabs[ti]->opts[i], (size_t)i, s, bases[ti]);
			continue;
		}
		for (size_t o = 0; check_types[o] != NULL && other == NULL; o++)
			if (conf_opt_index(&check_types[o]->keys, key) >= 0)
				other = check_types[o];
		if (other != NULL && t != NULL)
			conf_err(l, s, "%s.%s: not a key of %s checks", g[0].label, key, t->name);
		else if (other == NULL)
			conf_err(l, s, "%s: unknown key \"%s\"", g[0].label, key);
	}
	conf_defaults(l, &dep_table, &g[0], d);
	conf_defaults(l, &spec_table, &g[1], d->check);
	if (t != NULL)
		conf_defaults(l, &t->keys, &g[2], d->check->conf);
}

/* What depends on several keys, or on the prober section. */
static void
dep_build(struct conf_loader *l, struct conf *c, const struct conf_grp *g, struct dep_conf *d)
{
	const config_setting_t *at = g->set;
	size_t idx = (size_t)(d - c->deps);

	d->line = at ? config_setting_source_line(at) : 0;
	if ((int)d->kind < 0 && g->seen[conf_opt_index(&dep_table, "kind")] == NULL)
		conf_err(l, at, "%s.kind: required (%s)", g->label,
		         "storage, cache, auth, containers, metadata or other");
	if (d->name != NULL) {
		const config_setting_t *ns = g->found[conf_opt_index(&dep_table, "name")];

		if (!util_name_ok(d->name, strlen(d->name)))
			conf_err(l, ns, "%s.name: \"%s\" is not 1-253 of A-Z a-z 0-9 . _ -", g->label,
			         d->name);
		else if (nidx_add(c->dep_index, d->name, strlen(d->name), (uint32_t)idx) != 0)
			conf_err(l, ns, "%s.name: duplicate dependency \"%s\"", g->label, d->name);
	}
	/* A cache failure slows things down but rarely stops them: degraded unless told. */
	if ((int)d->severity < 0)
		d->severity = d->kind == DEP_KIND_CACHE ? SEV_DEGRADED : SEV_CRITICAL;
	d->fall = d->fall > 0 ? d->fall : c->fall;
	d->rise = d->rise > 0 ? d->rise : c->rise;
	d->ok = d->ok > 0 ? d->ok : c->ok;
	d->intermittent = d->intermittent >= 0 ? d->intermittent : c->intermittent;
	if (d->scope == NULL || d->scope[0] == '\0')
		d->applies = d->kind == DEP_KIND_STORAGE ? APPLY_LISTED
		             : d->kind == DEP_KIND_METADATA ? APPLY_FEATURE : APPLY_ALL;
	else if (strcmp(d->scope, "all") == 0)
		d->applies = APPLY_ALL;
	else if (strcmp(d->scope, "listed") == 0)
		d->applies = APPLY_LISTED;
	else if (strncmp(d->scope, "feature:", 8) == 0 && util_name_ok(d->scope + 8, strlen(d->scope + 8)))
		d->applies = APPLY_FEATURE;
	else
		conf_err(l, g->seen[conf_opt_index(&dep_table, "applies")],
		         "%s.applies: \"%s\" is not one of: all, listed, feature:NAME", g->label,
		         d->scope);
	if (d->applies == APPLY_FEATURE)
		d->feature = xstrdup(d->scope && d->scope[0] ? d->scope + 8 : "metadata-search");
	if ((long)d->check->timeout_ms > (long)c->deadline * 1000)
		conf_err(l, at, "%s: timeout_ms (%d) above prober.deadline (%d s)", g->label,
		         d->check->timeout_ms, c->deadline);
}

int
check_connect_timeout(struct conf_loader *l, const struct conf *c, struct dep_conf *d,
                      const struct conf_grp *g, int given)
{
	int to = d->check->timeout_ms;
	/* Unset: 2 s, or the whole timeout when that is shorter. */
	int cto = given > 0 ? given : to < 2000 ? to : 2000;

	(void)c;
	if (cto > to)
		conf_err(l, g->set, "%s: connect_timeout_ms (%d) above timeout_ms (%d)", g->label, cto,
		         to);
	return cto;
}

static void
deps_load(struct conf_loader *l, struct conf *c, const config_setting_t *list)
{
	int n = list ? config_setting_length(list) : 0;

	c->dep_index = nidx_new();
	if (n == 0)
		return;
	c->deps = xcalloc((size_t)n, sizeof(*c->deps));
	for (int k = 0; k < n; k++) {
		struct dep_conf *d = &c->deps[c->ndeps];
		const struct check_type *t;
		struct conf_grp g[3];
		char list_[64];
		int absent;

		memset(g, 0, sizeof(g));
		g[0].set = config_setting_get_elem(list, (unsigned)k);
		snprintf(g[0].label, sizeof(g[0].label), "dependencies[%d]", k);
		if (!config_setting_is_group(g[0].set)) {
			conf_err(l, g[0].set, "%s: expected a group { ... }", g[0].label);
			continue;
		}
		g[2] = g[1] = g[0];
		c->ndeps++;
		t = dep_type(l, g[0].set, g[0].label, &absent);
		/* The check is built whatever happens, so conf_free finds every member. */
		d->check = check_spec_new(t, 0);
		dep_values(l, t, g, d);
		dep_build(l, c, &g[0], d);
		if (absent)
			conf_err(l, g[0].set, "%s.type: required (%s)", g[0].label,
			         type_list(list_, sizeof(list_), 1));
		if (t != NULL && t->build != NULL)
			t->build(l, c, d, &g[2]);
	}
}

static void
deps_free(struct conf *c)
{
	for (size_t i = 0; i < c->ndeps; i++) {
		free(c->deps[i].name);
		free(c->deps[i].scope);
		free(c->deps[i].feature);
		check_spec_free(c->deps[i].check);
	}
	free(c->deps);
	nidx_free(c->dep_index);
	c->deps = NULL;
	c->ndeps = 0;
	c->dep_index = NULL;
}

const struct conf_ext deps_conf = { "dependencies", deps_load, deps_free };

int
conf_dep_find(const struct conf *c, const char *name, size_t len)
{
	if (c->dep_index == NULL) {
		/* A configuration built by hand (tests) has no index: scan. */
		for (size_t i = 0; i < c->ndeps; i++)
			if (c->deps[i].name != NULL && strncmp(c->deps[i].name, name, len) == 0 &&
			    c->deps[i].name[len] == '\0')
				return (int)i;
		return -1;
	}
	return (int)nidx_find(c->dep_index, name, len);
}

int
conf_dep_index(const struct conf *c, const char *name)
{
	return conf_dep_find(c, name, strlen(name));
}

/* ---------------------------------------------------------------- -t */

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
conf_check_prober(const struct conf *c, int content, errfn_t errfn, void *arg)
{
	int errors = 0;

	errors += writable_at(c, c->snapshot_line, "snapshot.path", c->snapshot_path, 0, errfn, arg);
	errors += writable_at(c, c->state_line, "prober.state", c->state_path, 0, errfn, arg);
	errors += writable_at(c, c->lock_line, "prober.lock", c->lock_path, 1, errfn, arg);
	if (c->event_log[0] != '\0')
		errors += writable_at(c, c->event_log_line, "prober.event_log", c->event_log, 1,
		                      errfn, arg);
	if (c->metrics[0] != '\0')
		errors += writable_at(c, c->metrics_line, "prober.metrics", c->metrics, 0, errfn, arg);
	if (c->registries[0] == '\0') {
		errfn(arg, "%s:1: prober.registries: required by deephealth-probe", c->path);
		errors++;
	}
	if (c->ndeps == 0) {
		errfn(arg, "%s:1: dependencies: deephealth-probe needs at least one", c->path);
		errors++;
	}
	for (size_t i = 0; i < c->ndeps; i++) {
		const struct check_spec *cs = c->deps[i].check;
		const char *cred = cs->type->cred_file ? cs->type->cred_file(cs->conf) : NULL;
		struct stat st;
		char why[160];

		if (cred == NULL || cred[0] == '\0')
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
		} else if (content && cs->type->cred_check != NULL &&
		           cs->type->cred_check(cs->conf, why, sizeof(why)) != 0) {
			/* why names a line, never a byte of the file */
			errfn(arg, "%s:%u: dependency \"%s\": credentials \"%s\": %s", c->path,
			      c->deps[i].cred_line, c->deps[i].name, cred, why);
			errors++;
		}
	}
	return errors;
}

