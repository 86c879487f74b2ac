/*
 * fuzz_regmap.c: regmap_load (the prober's registry map, docs/registries.md)
 * on the input as a file, against a fixed configuration loaded once.  The map
 * must come back sorted and unique, every dependency index one of the
 * configuration's listed or feature dependencies, at most SNAP_USES_MAX each,
 * and every line with content either kept or counted bad: none lost.
 */
#define _GNU_SOURCE /* memmem */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prober.h"
#include "fuzz.h"

static const char conf_text[] =
	"snapshot = { path = \"/nonexistent/snapshot\"; };\n"
	"dependencies = (\n"
	"  { name = \"storage-sa001\"; kind = \"storage\"; type = \"tcp\"; address = \"h:1\"; },\n"
	"  { name = \"storage-sa002\"; kind = \"storage\"; type = \"tcp\"; address = \"h:1\"; },\n"
	"  { name = \"storage-sa003\"; kind = \"storage\"; type = \"tcp\"; address = \"h:1\"; },\n"
	"  { name = \"auth\"; kind = \"auth\"; type = \"tcp\"; address = \"h:1\"; },\n"
	"  { name = \"cache\"; kind = \"cache\"; applies = \"listed\"; type = \"tcp\"; address = \"h:1\"; },\n"
	"  { name = \"search\"; kind = \"metadata\"; type = \"tcp\"; address = \"h:1\"; },\n"
	"  { name = \"scan\"; kind = \"other\"; applies = \"feature:scan\"; type = \"tcp\"; address = \"h:1\"; },\n"
	"  { name = \"scan2\"; kind = \"other\"; applies = \"feature:scan\"; type = \"tcp\"; address = \"h:1\"; }\n"
	");\n";

static const struct conf_ext *const exts[] = { &deps_conf, NULL };
static struct conf *conf;
static char map_path[4200];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char path[4200];
	int errors = 0;

	(void)argc;
	(void)argv;
	log_init("fuzz_regmap", 0, LOG_LVL_ERR);
	fz_write(fz_path("deephealth.conf", path, sizeof(path)), conf_text, sizeof(conf_text) - 1);
	if ((conf = conf_load(path, exts, fz_errfn, &errors)) == NULL)
		fz_die("the harness's configuration does not load (%d errors)", errors);
	fz_path("registries.map", map_path, sizeof(map_path));
	return 0;
}

/* Lines regmap_load should look at: content up to a NUL, not blank, not a comment. */
static size_t
content_lines(const uint8_t *data, size_t size)
{
	size_t n = 0, i = 0;

	while (i < size) {
		const uint8_t *nl = memchr(data + i, '\n', size - i);
		size_t end = nl ? (size_t)(nl - data) : size, k = i;

		while (k < end && data[k] != '\0' && strchr(" \t\r", data[k]) != NULL)
			k++;
		if (k < end && data[k] != '\0' && data[k] != '#')
			n++;
		i = end + 1;
	}
	return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct regmap *m;
	size_t bad = 0, lines = content_lines(data, size), nlines = 0;
	int reports = 0;

	for (size_t i = 0; i < size; i++)
		nlines += data[i] == '\n';
	nlines += size > 0 && data[size - 1] != '\n';
	fz_write(map_path, data, size);
	m = regmap_load(map_path, conf, fz_errfn, &reports, &bad);
	FZ_CHECK(m != NULL, "a readable map was refused whole");
	FZ_CHECK(m->n + bad == lines, "%zu lines with content, %zu kept + %zu bad", lines, m->n, bad);
	FZ_CHECK(bad == 0 || reports > 0, "%zu bad lines, none reported", bad);
	for (size_t i = 0; i < m->n; i++) {
		const struct reg_entry *e = &m->regs[i];

		FZ_CHECK(util_name_ok(e->name, strlen(e->name)), "registry %zu: bad name", i);
		FZ_CHECK(i == 0 || strcmp(m->regs[i - 1].name, e->name) < 0,
		         "registry %zu (%s): not sorted or not unique", i, e->name);
		FZ_CHECK(e->line >= 1 && e->line <= nlines, "registry %s: line %u of %zu", e->name,
		         e->line, nlines);
		FZ_CHECK(e->ndeps <= SNAP_USES_MAX, "registry %s: %u dependencies", e->name, e->ndeps);
		for (uint32_t k = 0; k < e->ndeps; k++) {
			uint32_t d = e->deps[k];

			FZ_CHECK(d < conf->ndeps && conf->deps[d].applies != APPLY_ALL,
			         "registry %s: dependency index %u", e->name, d);
			FZ_CHECK(e->deps >= m->deparena, "registry %s: deps outside the arena", e->name);
		}
	}
	regmap_free(m);
	return 0;
}
