/*
 * regions.c: the regions description (docs/regions.md): which regions serve the
 * service, their front doors' addresses and admin side, the names the service
 * answers to, and the timing asked of a load balancer.  Read with the
 * configuration's tables (conf_file_open), so every error is file:line.
 */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <libconfig.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deephealth.h"

#define S(f) offsetof(struct regions, f)
static const struct conf_opt service_opts[] = {
	{ "zone", OPT_STR, 0, 0, 0, NULL, NULL, S(zone) },
	{ "port", OPT_INT, 1, 65535, 80, NULL, NULL, S(port) },
	{ "path", OPT_STR, 0, 0, 0, "/health", NULL, S(health_path) },
	{ "ttl", OPT_INT, 1, 86400, 30, NULL, NULL, S(ttl) },
};
static const struct conf_opt lb_opts[] = {
	{ "interval", OPT_INT, 1, 3600, 10, NULL, NULL, S(interval) },
	{ "timeout", OPT_INT, 1, 3600, 5, NULL, NULL, S(timeout) },
	{ "fall", OPT_INT, 1, 100, 3, NULL, NULL, S(fall) },
	{ "rise", OPT_INT, 1, 100, 1, NULL, NULL, S(rise) },
};
#undef S
#define R(f) offsetof(struct region, f)
static const struct conf_opt region_opts[] = {
	{ "name", OPT_STR, 0, 0, 0, NULL, NULL, R(name) },
	{ "addresses", OPT_STRLIST, 0, 0, 0, NULL, NULL, R(addresses) },
	{ "admin", OPT_STR, 0, 0, 0, "", NULL, R(admin) },
};
#undef R
static const struct conf_table service_table = CONF_TABLE("service", service_opts);
static const struct conf_table lb_table = CONF_TABLE("load_balancer", lb_opts);
static const struct conf_table region_table = CONF_TABLE("regions[]", region_opts);

int
regions_hostname_ok(const char *s)
{
	size_t len = strlen(s), label = 0;

	if (len == 0 || len > DH_HOST_MAX || s[0] == '.' || s[len - 1] == '.')
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '.') {
			if (label == 0 || s[i - 1] == '-')
				return 0;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (c == '-' && label > 0)))
			return 0;
		if (++label > 63)
			return 0;
	}
	return s[len - 1] != '-';
}

/* A path a load balancer's configuration can hold without quoting: "/" then URL bytes. */
static int
path_ok(const char *p)
{
	if (p[0] != '/' || strlen(p) > 200)
		return 0;
	for (; *p != '\0'; p++)
		if (!util_is_name_byte((unsigned char)*p) && strchr("/~%=&?+:@!$,", *p) == NULL)
			return 0;
	return 1;
}

/* An address literal, v4 or v6; its family in *af. */
static int
address_ok(const char *a, int *af)
{
	unsigned char buf[16];

	if (inet_pton(AF_INET, a, buf) == 1)
		*af = AF_INET;
	else if (inet_pton(AF_INET6, a, buf) == 1)
		*af = AF_INET6;
	else
		return 0;
	return 1;
}

/* The setting for key in group set (or set itself when absent), for a report's line. */
static const config_setting_t *
at(const struct conf_grp *g, const struct conf_table *t, const char *key)
{
	int i = conf_opt_index(t, key);

	return i >= 0 && g->seen[i] != NULL ? g->seen[i] : g->set;
}

static void
read_region(struct conf_loader *l, struct regions *r, const config_setting_t *set, int k)
{
	struct region *g = &r->v[r->n];
	struct conf_grp grp;
	char label[64];
	int af;

	snprintf(label, sizeof(label), "regions[%d]", k);
	memset(g, 0, sizeof(*g));
	if (!config_setting_is_group(set)) {
		conf_err(l, set, "%s: expected a group { name = ...; addresses = [ ... ]; }", label);
		return;
	}
	conf_read_group(l, &region_table, set, label, &grp, g);
	g->line = config_setting_source_line(set);
	r->n++;
	if (g->name != NULL && !util_name_ok(g->name, strlen(g->name)))
		conf_err(l, at(&grp, &region_table, "name"), "%s.name: \"%s\": letters, digits, "
		         ". _ - only", label, g->name);
	for (size_t j = 0; g->name != NULL && j + 1 < r->n; j++)
		if (r->v[j].name != NULL && strcmp(r->v[j].name, g->name) == 0)
			conf_err(l, at(&grp, &region_table, "name"), "%s.name: \"%s\" is regions[%zu] "
			         "already", label, g->name, j);
	if (g->addresses == NULL || g->addresses[0] == NULL)
		conf_err(l, at(&grp, &region_table, "addresses"), "%s.addresses: at least one "
		         "front-door address is required", label);
	for (size_t j = 0; g->addresses != NULL && g->addresses[j] != NULL; j++) {
		if (!address_ok(g->addresses[j], &af))
			conf_err(l, at(&grp, &region_table, "addresses"), "%s.addresses[%zu]: \"%s\" is "
			         "not an IPv4 or IPv6 address", label, j, g->addresses[j]);
		g->naddr++;
	}
	if (g->admin != NULL && g->admin[0] != '\0' && strncmp(g->admin, "http://", 7) != 0 &&
	    strncmp(g->admin, "https://", 8) != 0)
		conf_err(l, at(&grp, &region_table, "admin"), "%s.admin: \"%s\": an http:// or "
		         "https:// URL, or \"\" for none", label, g->admin);
}

/* The regions list (NULL when absent): at least one region. */
static void
read_regions(struct conf_loader *l, struct regions *r, const config_setting_t *list)
{
	if (list == NULL || !config_setting_is_list(list) || config_setting_length(list) == 0) {
		conf_err(l, list, "regions: a list of at least one region ( { name = ...; "
		         "addresses = [ ... ]; }, ... )");
		return;
	}
	r->v = xcalloc((size_t)config_setting_length(list), sizeof(*r->v));
	for (int k = 0; k < config_setting_length(list); k++)
		read_region(l, r, config_setting_get_elem(list, (unsigned)k), k);
}

struct regions *
regions_load(const char *path, errfn_t errfn, void *arg)
{
	struct conf_file *f = conf_file_open(path, errfn, arg);
	struct conf_loader *l = conf_file_loader(f);
	const config_setting_t *root = conf_file_root(f), *list = NULL;
	const config_setting_t *service = NULL, *lb = NULL;
	struct regions *r = xcalloc(1, sizeof(*r));
	struct conf_grp gs, gl;

	r->path = xstrdup(path);
	if (root == NULL)
		goto out;
	/* Each section as it comes, so reports follow the file; then what relates them. */
	for (int k = 0; k < config_setting_length(root); k++) {
		const config_setting_t *sec = config_setting_get_elem(root, (unsigned)k);
		const char *name = config_setting_name(sec);

		if (strcmp(name, "service") == 0) {
			service = sec;
			conf_read_group(l, &service_table, sec, "service", &gs, r);
		} else if (strcmp(name, "load_balancer") == 0) {
			lb = sec;
			conf_read_group(l, &lb_table, sec, "load_balancer", &gl, r);
		} else if (strcmp(name, "regions") == 0) {
			list = sec;
			read_regions(l, r, sec);
		} else {
			conf_err(l, sec, "unknown section \"%s\" (service, load_balancer, regions)", name);
		}
	}
	if (service == NULL) {
		conf_err(l, NULL, "service: required (service = { zone = \"...\"; };)");
		conf_read_group(l, &service_table, NULL, "service", &gs, r);
	}
	if (lb == NULL)
		conf_read_group(l, &lb_table, NULL, "load_balancer", &gl, r);
	if (list == NULL)
		read_regions(l, r, NULL);
	if (r->zone != NULL && !regions_hostname_ok(r->zone))
		conf_err(l, at(&gs, &service_table, "zone"), "service.zone: \"%s\": a DNS name in "
		         "lower case (a registry NAME is served as NAME.zone)", r->zone);
	if (r->health_path != NULL && !path_ok(r->health_path))
		conf_err(l, at(&gs, &service_table, "path"), "service.path: \"%s\": a URL path "
		         "starting with / (no blanks or quotes)", r->health_path);
	if (r->timeout >= r->interval)
		conf_err(l, at(&gl, &lb_table, "timeout"), "load_balancer.timeout (%d s) must be less "
		         "than load_balancer.interval (%d s)", r->timeout, r->interval);
out:
	if (conf_file_close(f) > 0) {
		regions_free(r);
		return NULL;
	}
	return r;
}

void
regions_free(struct regions *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->n; i++) {
		free(r->v[i].name);
		util_strv_free(r->v[i].addresses);
		free(r->v[i].admin);
	}
	free(r->v);
	free(r->zone);
	free(r->health_path);
	free(r->path);
	free(r);
}

const struct region *
regions_find(const struct regions *r, const char *name, size_t len)
{
	for (size_t i = 0; r != NULL && i < r->n; i++)
		if (strlen(r->v[i].name) == len && memcmp(r->v[i].name, name, len) == 0)
			return &r->v[i];
	return NULL;
}

/* The origin of an admin URL (scheme://host[:port], the scheme's own port left out) in out. */
static void
url_origin(const char *url, char *out, size_t len)
{
	const char *host = strstr(url, "//");
	size_t n;

	host = host != NULL ? host + 2 : url;
	n = (size_t)(host - url) + strcspn(host, "/?#");
	snprintf(out, len, "%.*s", (int)n, url);
	for (char *p = out; *p != '\0'; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	n = strlen(out);
	if (strncmp(out, "http://", 7) == 0 && n > 3 && strcmp(out + n - 3, ":80") == 0)
		out[n - 3] = '\0';
	else if (strncmp(out, "https://", 8) == 0 && n > 4 && strcmp(out + n - 4, ":443") == 0)
		out[n - 4] = '\0';
}

int
regions_origin_ok(const struct regions *r, const char *origin)
{
	char want[512], got[512];

	if (r == NULL || origin == NULL || origin[0] == '\0' || strlen(origin) >= sizeof(got))
		return 0;
	for (const char *p = origin; *p != '\0'; p++)
		if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f)
			return 0; /* only what can be echoed in a header as it came */
	url_origin(origin, got, sizeof(got));
	for (size_t i = 0; i < r->n; i++) {
		if (r->v[i].admin[0] == '\0')
			continue;
		url_origin(r->v[i].admin, want, sizeof(want));
		if (strcmp(want, got) == 0)
			return 1;
	}
	return 0;
}

/* A JSON string value, quoted. */
static void
jstr0(FILE *f, const char *s)
{
	char *e = util_json_str(s);

	fprintf(f, "\"%s\"", e);
	free(e);
}

void
regions_json(FILE *f, const struct regions *r, const char *self)
{
	fprintf(f, "{\"zone\":");
	jstr0(f, r->zone ? r->zone : "");
	fprintf(f, ",\"port\":%d,\"path\":", r->port);
	jstr0(f, r->health_path ? r->health_path : "");
	fprintf(f, ",\"load_balancer\":{\"interval\":%d,\"timeout\":%d,\"fall\":%d,\"rise\":%d},"
	        "\"regions\":[", r->interval, r->timeout, r->fall, r->rise);
	for (size_t i = 0; i < r->n; i++) {
		fprintf(f, "%s{\"name\":", i ? "," : "");
		jstr0(f, r->v[i].name);
		fprintf(f, ",\"self\":%s,\"admin\":", self != NULL && strcmp(self, r->v[i].name) == 0 ?
		        "true" : "false");
		jstr0(f, r->v[i].admin);
		fprintf(f, ",\"addresses\":[");
		for (size_t k = 0; k < r->v[i].naddr; k++) {
			fprintf(f, "%s", k ? "," : "");
			jstr0(f, r->v[i].addresses[k]);
		}
		fprintf(f, "]}");
	}
	fprintf(f, "]}");
}
