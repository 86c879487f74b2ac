/*
 * fuzz_regions.c: regions_load (the regions description, docs/regions.md) on
 * a libconfig text, errors formatted and dropped.  A description that loads
 * is checked against what regions_load promises: a lower-case zone, a path a
 * load balancer's configuration can hold, timeout below interval, every value
 * in its range, at least one region, region names unique and of the name
 * alphabet, every region with at least one address that parses as IPv4 or
 * IPv6, regions_find finding each by its name.  Inputs that could make
 * libconfig read outside the scratch file (@include, a \x escape) are skipped.
 */
#define _GNU_SOURCE /* memmem */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deephealth.h"
#include "fuzz.h"

static char path[4200];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_init("fuzz_regions", 0, LOG_LVL_ERR);
	fz_path("regions.conf", path, sizeof(path));
	return 0;
}

static void
check_loaded(const struct regions *r)
{
	unsigned char buf[16];

	FZ_CHECK(r->zone != NULL && regions_hostname_ok(r->zone), "zone \"%s\"", r->zone);
	FZ_CHECK(r->health_path != NULL && r->health_path[0] == '/' &&
	         strpbrk(r->health_path, " \t\"'\\{}") == NULL, "path \"%s\"", r->health_path);
	FZ_CHECK(r->port >= 1 && r->port <= 65535 && r->ttl >= 1 && r->ttl <= 86400, "port or ttl");
	FZ_CHECK(r->interval >= 1 && r->timeout >= 1 && r->timeout < r->interval && r->fall >= 1 &&
	         r->fall <= 100 && r->rise >= 1 && r->rise <= 100, "load balancer timing");
	FZ_CHECK(r->n >= 1, "no region");
	for (size_t i = 0; i < r->n; i++) {
		const struct region *g = &r->v[i];

		FZ_CHECK(g->name != NULL && util_name_ok(g->name, strlen(g->name)), "region %zu name", i);
		FZ_CHECK(regions_find(r, g->name, strlen(g->name)) == g, "region %s not found as %zu",
		         g->name, i);
		FZ_CHECK(g->naddr >= 1 && g->addresses != NULL, "region %s: no address", g->name);
		for (size_t k = 0; k < g->naddr; k++)
			FZ_CHECK(inet_pton(AF_INET, g->addresses[k], buf) == 1 ||
			         inet_pton(AF_INET6, g->addresses[k], buf) == 1,
			         "region %s: address \"%s\"", g->name, g->addresses[k]);
		FZ_CHECK(g->admin != NULL && (g->admin[0] == '\0' || !strncmp(g->admin, "http://", 7) ||
		         !strncmp(g->admin, "https://", 8)), "region %s: admin", g->name);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct regions *r;
	int errors = 0;

	if (memmem(data, size, "@include", 8) != NULL || memmem(data, size, "\\x", 2) != NULL)
		return 0;
	fz_write(path, data, size);
	r = regions_load(path, fz_errfn, &errors);
	FZ_CHECK((r == NULL) == (errors > 0), "regions_load: %s with %d errors reported",
	         r ? "loaded" : "refused", errors);
	if (r != NULL)
		check_loaded(r);
	regions_free(r);
	return 0;
}
