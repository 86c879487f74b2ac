/*
 * cmd_lb.c: deephealthctl lb KIND: a load balancer's configuration, generated
 * from the regions description (docs/regions.md), the registry map (which
 * regions serve each registry, preferred first) and the responders' host map
 * (custom domains): one record, resource or backend per name, probing the
 * service's path on every front door of every region that serves it, with the
 * name as Host.  What is common to every kind is here; each kind's writer is
 * lb_KIND.c, a row of lb_kinds.
 */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "lb.h"

#define DEFAULT_REGIONS "/etc/deephealth/regions.conf"

static const struct lb_kind lb_kinds[] = {
	{ "pdns", "PowerDNS Authoritative (bind backend, LUA records: ifurlup)", lb_pdns },
	{ "gdnsd", "gdnsd (http_status monitoring, simplefo/multifo)", lb_gdnsd },
	{ "haproxy", "HAProxy (a backend per name, option httpchk with its Host)", lb_haproxy },
};
#define NKINDS (sizeof(lb_kinds) / sizeof(lb_kinds[0]))

int
lb_write(const struct lb_input *in, const char *name, const char *buf, size_t len)
{
	char path[4200], err[512];

	snprintf(path, sizeof(path), "%s/%s", in->outdir, name);
	if (publish_file(path, buf, len, 0644, err, sizeof(err)) != 0) {
		fprintf(stderr, "deephealthctl: lb: %s\n", err);
		return -1;
	}
	printf("wrote %s\n", path);
	return 0;
}

const char *
lb_ident(struct lb_idents *ids, const char *prefix, const char *name)
{
	char base[600], buf[620];
	size_t o = 0;

	if (ids->idx == NULL)
		ids->idx = nidx_new();
	for (const char *p = prefix; *p != '\0' && o + 1 < sizeof(base); p++)
		base[o++] = *p;
	for (const char *p = name; *p != '\0' && o + 1 < sizeof(base); p++) {
		unsigned char c = (unsigned char)*p;

		base[o++] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') :
		            ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) ? (char)c : '_';
	}
	base[o] = '\0';
	snprintf(buf, sizeof(buf), "%s", base);
	for (unsigned k = 2; nidx_find(ids->idx, buf, strlen(buf)) >= 0; k++)
		snprintf(buf, sizeof(buf), "%s_%u", base, k);
	ids->v = util_grow(ids->v, &ids->cap, ids->n + 1, sizeof(*ids->v));
	ids->v[ids->n] = xstrdup(buf);
	nidx_add(ids->idx, ids->v[ids->n], strlen(ids->v[ids->n]), (uint32_t)ids->n);
	return ids->v[ids->n++];
}

void
lb_idents_free(struct lb_idents *ids)
{
	for (size_t i = 0; i < ids->n; i++)
		free(ids->v[i]);
	free(ids->v);
	nidx_free(ids->idx);
	memset(ids, 0, sizeof(*ids));
}

size_t
lb_addrs(const struct region *g, int family, const char **out, size_t max)
{
	unsigned char buf[16];
	size_t n = 0;

	for (size_t i = 0; i < g->naddr && n < max; i++)
		if (inet_pton(family, g->addresses[i], buf) == 1)
			out[n++] = g->addresses[i];
	return n;
}

static int
name_cmp(const void *a, const void *b)
{
	const struct lb_name *x = a, *y = b;
	int c = strcmp(x->registry, y->registry);

	return c != 0 ? c : (x->line > y->line) - (x->line < y->line);
}

/*
 * The regions of one map line's regions field, preferred first: "-" (not
 * known) is every region of the description in its order.  Returns how many,
 * or -1 after reporting a region the description does not have.
 */
static long
line_regions(const struct regions *rg, struct regfile *rf, const char *field, unsigned line,
             const char *registry, const struct region ***out)
{
	size_t n = 0, cap = 0;
	const struct region **v = NULL;

	if (strcmp(field, "-") == 0) {
		v = xcalloc(rg->n, sizeof(*v));
		for (size_t i = 0; i < rg->n; i++)
			v[i] = &rg->v[i];
		*out = v;
		return (long)rg->n;
	}
	for (const char *p = field, *q; *p != '\0'; p = *q ? q + 1 : q) {
		const struct region *g;

		q = p + strcspn(p, ",");
		if ((g = regions_find(rg, p, (size_t)(q - p))) == NULL) {
			regfile_bad(rf, line, "registry %s: region \"%.*s\" is not in %s", registry,
			            (int)(q - p), p, rg->path);
			free(v);
			return -1;
		}
		v = util_grow(v, &cap, n + 1, sizeof(*v));
		v[n++] = g;
	}
	*out = v;
	return (long)n;
}

int
lb_gather(struct ctl *x, const struct regions *rg, struct lb_input *in)
{
	struct regfile *rf = regfile_open(x->in.conf->registries, ctl_errfn, NULL);
	size_t cap = 0, kept = 0, nhosts;
	char *f[REGFILE_FIELDS], host[DH_HOST_MAX + 2];
	unsigned line;
	int rc, bad = 0;

	if (rf == NULL)
		return -1;
	while ((rc = regfile_next(rf, f, &line)) == 1) {
		const struct region **v;
		long n;

		if (strlen(f[0]) + 1 + strlen(rg->zone) > DH_HOST_MAX) {
			regfile_bad(rf, line, "registry %s: %s.%s is longer than %d bytes", f[0], f[0],
			            rg->zone, DH_HOST_MAX);
			continue;
		}
		if ((n = line_regions(rg, rf, f[1], line, f[0], &v)) < 0)
			continue;
		snprintf(host, sizeof(host), "%s.%s", f[0], rg->zone);
		for (char *p = host; *p != '\0'; p++)
			if (*p >= 'A' && *p <= 'Z')
				*p = (char)(*p - 'A' + 'a');
		in->names = util_grow(in->names, &cap, in->n + 1, sizeof(*in->names));
		in->names[in->n++] = (struct lb_name){ .host = xstrdup(host), .registry = xstrdup(f[0]),
		                                       .regions = v, .nregions = (size_t)n,
		                                       .line = line };
	}
	if (in->n > 1)
		qsort(in->names, in->n, sizeof(*in->names), name_cmp);
	for (size_t i = 0; i < in->n; i++) {
		if (kept > 0 && strcmp(in->names[kept - 1].registry, in->names[i].registry) == 0) {
			regfile_dup(rf, in->names[i].line, in->names[kept - 1].line, in->names[i].registry);
			free(in->names[i].host);
			free(in->names[i].registry);
			free(in->names[i].regions);
			continue;
		}
		in->names[kept++] = in->names[i];
	}
	in->n = kept;
	bad = rc < 0 || regfile_close(rf) > 0;
	/* Custom domains: each served where the registry it names is. */
	nhosts = x->in.conf->resolver != NULL ? resolver_host_count(x->in.conf->resolver) : 0;
	for (size_t i = 0; i < nhosts; i++) {
		const char *h, *reg;
		const struct lb_name *owner = NULL;
		size_t lo = 0, hi = kept;
		unsigned hline;

		resolver_host_at(x->in.conf->resolver, i, &h, &reg, &hline);
		while (lo < hi) {
			size_t mid = (lo + hi) / 2;
			int c = strcmp(in->names[mid].registry, reg);

			if (c == 0) {
				owner = &in->names[mid];
				break;
			}
			if (c < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (owner == NULL) {
			fprintf(stderr, "%s:%u: %s maps to registry %s, which the registry map %s does "
			        "not list\n", x->in.conf->host_map, hline, h, reg, x->in.conf->registries);
			bad = 1;
			continue;
		}
		if (!regions_hostname_ok(h)) {
			fprintf(stderr, "%s:%u: %s: not a name a DNS load balancer can serve\n",
			        x->in.conf->host_map, hline, h);
			bad = 1;
			continue;
		}
		in->names = util_grow(in->names, &cap, in->n + 1, sizeof(*in->names));
		in->names[in->n] = (struct lb_name){ .host = xstrdup(h), .custom = 1,
		                                     .registry = xstrdup(reg), .line = hline,
		                                     .nregions = owner->nregions };
		in->names[in->n].regions = xcalloc(owner->nregions, sizeof(*owner->regions));
		memcpy(in->names[in->n].regions, owner->regions,
		       owner->nregions * sizeof(*owner->regions));
		in->n++;
	}
	return bad ? -1 : 0;
}

void
lb_input_free(struct lb_input *in)
{
	for (size_t i = 0; i < in->n; i++) {
		free(in->names[i].host);
		free(in->names[i].registry);
		free(in->names[i].regions);
	}
	free(in->names);
}

int
cmd_lb(struct ctl *x, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "regions", required_argument, NULL, 'r' },
		{ "output", required_argument, NULL, 'o' },
		{ "ns", required_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 }
	};
	const char *regions_path = DEFAULT_REGIONS, *kind = argc > 1 ? argv[1] : "";
	char what[160], ns[DH_HOST_MAX + 2] = "";
	struct lb_input in = { 0 };
	struct regions *rg = NULL;
	const struct lb_kind *k = NULL;
	struct stat st;
	int ch, rc = CTL_EXIT_CONFIG;

	for (size_t i = 0; i < NKINDS; i++)
		if (strcmp(lb_kinds[i].name, kind) == 0)
			k = &lb_kinds[i];
	if (k == NULL)
		ctl_usage_error("lb: %s%s: one of pdns, gdnsd, haproxy", kind[0] ? "unknown kind " :
		                "a kind is required", kind);
	optind = 2;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "+:r:o:n:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'r': regions_path = optarg; break;
		case 'o': in.outdir = optarg; break;
		case 'n':
			if (!regions_hostname_ok(optarg))
				ctl_usage_error("lb: --ns %s: a DNS name", optarg);
			snprintf(ns, sizeof(ns), "%s", optarg);
			break;
		default: ctl_usage_error("lb: %s", util_opt_error(ch, argv, what, sizeof(what)));
		}
	}
	if (optind != argc)
		ctl_usage_error("lb: unexpected argument %s", argv[optind]);
	if (in.outdir == NULL)
		ctl_usage_error("lb: -o DIR is required: where the files are written");
	if (x->in.conf == NULL)
		return CTL_EXIT_CONFIG;
	if (x->in.conf->registries[0] == '\0') {
		fprintf(stderr, "deephealthctl: lb: %s names no registry map (prober.registries)\n",
		        x->conf_path);
		return CTL_EXIT_CONFIG;
	}
	if ((rg = regions_load(regions_path, ctl_errfn, NULL)) == NULL)
		goto out;
	in.rg = rg;
	in.registries = x->in.conf->registries;
	if (ns[0] == '\0')
		snprintf(ns, sizeof(ns), "ns1.%s", rg->zone);
	in.ns = ns;
	in.serial = (int64_t)x->now;
	if (lb_gather(x, rg, &in) != 0) {
		fprintf(stderr, "deephealthctl: lb: nothing written: the errors above first\n");
		goto out;
	}
	if (mkdir(in.outdir, 0755) == -1 && errno != EEXIST) {
		fprintf(stderr, "deephealthctl: lb: %s: %s\n", in.outdir, strerror(errno));
		goto out;
	}
	if (stat(in.outdir, &st) == -1 || !S_ISDIR(st.st_mode)) {
		fprintf(stderr, "deephealthctl: lb: %s: not a directory\n", in.outdir);
		goto out;
	}

	if (k->write(&in) == 0)
		rc = CTL_EXIT_OK;
out:
	lb_input_free(&in);
	regions_free(rg);
	return rc;
}
