/*
 * lb.h: deephealthctl lb: a load balancer's configuration from the regions
 * description and the registry map (cmd_lb.c builds what every kind needs;
 * one lb_KIND.c per load balancer writes it; the kinds are a table).
 */
#ifndef DH_LB_H
#define DH_LB_H

#include "ctl.h"

/* One name a load balancer decides: a registry's, or a custom domain's. */
struct lb_name {
	char *host;                      /* contoso.azurecr.io, registry.contoso.com */
	char *registry;
	int custom;                      /* a custom domain (the host map's) */
	const struct region **regions;   /* that serve it, preferred first */
	size_t nregions;                 /* 1: a single-region registry: a plain record */
	unsigned line;                   /* its line in the registry map (or the host map) */
};

/* Everything a writer gets. */
struct lb_input {
	const struct regions *rg;
	struct lb_name *names;           /* registries in name order, then custom domains */
	size_t n;
	const char *outdir;
	const char *ns;                  /* the zones' name server (DNS kinds) */
	int64_t serial;                  /* the zones' SOA serial */
	char *registries;                /* the registry map's path, for the files' headers */
};

/*
 * Every registry of the map (x's prober.registries) with its regions, in
 * name order, then every custom domain (the host map's), into in->names and
 * in->n.  0, or -1 (reported as file:line); lb_input_free either way.
 */
int lb_gather(struct ctl *x, const struct regions *rg, struct lb_input *in);
void lb_input_free(struct lb_input *in);

/* A written file: path, bytes; publish_file into the output directory.  0, or -1 (said). */
int lb_write(const struct lb_input *in, const char *name, const char *buf, size_t len);
/* Identifiers for names, made of [a-z0-9_] (". -" become "_"), unique among those given out. */
struct lb_idents {
	struct name_index *idx;
	char **v;
	size_t n, cap;
};
/* prefix + name as an identifier, "_2", "_3"... added when taken; owned by ids. */
const char *lb_ident(struct lb_idents *ids, const char *prefix, const char *name);
void lb_idents_free(struct lb_idents *ids);
/* The region's addresses of one family (AF_INET, AF_INET6): how many. */
size_t lb_addrs(const struct region *g, int family, const char **out, size_t max);

/* The kinds: each writes its files under in->outdir and says on stdout how to use them. */
struct lb_kind {
	const char *name;
	const char *what;                /* for the usage */
	int (*write)(const struct lb_input *in);
};
int lb_pdns(const struct lb_input *in);
int lb_gdnsd(const struct lb_input *in);
int lb_haproxy(const struct lb_input *in);

#endif
