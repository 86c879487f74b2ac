/*
 * fuzz_config.c: conf_load on a libconfig text, with the extensions of both
 * programs (the responder's resolver_conf and the prober's deps_conf), errors
 * formatted and dropped.  A configuration that loads is checked against what
 * conf_load promises: relations between keys, every dependency named, unique
 * and with a check, the resolver built; and the same text must then also load
 * with no extension at all (a program checks another's section only for shape).
 *
 * The scratch directory beside the file holds hosts.map, bad.map (a host map
 * with bad lines) and registries.map, so relative paths in seeds reach the
 * host map loader.  Inputs that could
 * make libconfig or the host map read outside it (@include, /dev, /proc,
 * /sys, or a \x escape that could spell them) are skipped: reading a device
 * or the terminal is not a finding.
 */
#define _GNU_SOURCE /* memmem */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "answer.h"
#include "prober.h"
#include "fuzz.h"

static const struct conf_ext *const both[] = { &resolver_conf, &deps_conf, NULL };
static char conf_path[4200];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char hosts[] = "registry.fabrikam.example fabrikam\ncr.contoso.example contoso\n";
	static const char bad[] = "no-registry-here\nbad_host! x\nregistry.fabrikam.example fabrikam\n"
	                          "registry.fabrikam.example other\n";
	static const char regs[] = "contoso westeurope,eastus2 storage-sa001 metadata-search\n";
	char p[4200];

	(void)argc;
	(void)argv;
	log_init("fuzz_config", 0, LOG_LVL_ERR);
	fz_write(fz_path("hosts.map", p, sizeof(p)), hosts, sizeof(hosts) - 1);
	fz_write(fz_path("registries.map", p, sizeof(p)), regs, sizeof(regs) - 1);
	fz_write(fz_path("bad.map", p, sizeof(p)), bad, sizeof(bad) - 1);
	fz_path("deephealth.conf", conf_path, sizeof(conf_path));
	return 0;
}

static int
mentions(const uint8_t *data, size_t size, const char *word)
{
	return memmem(data, size, word, strlen(word)) != NULL;
}

static void
check_loaded(const struct conf *c)
{
	FZ_CHECK(c->snapshot_path != NULL && c->snapshot_path[0] != '\0', "no snapshot.path");
	FZ_CHECK(c->max_age >= 1 && c->max_age <= 86400, "max_age %d", c->max_age);
	FZ_CHECK(c->recheck_ms >= 0 && (long)c->recheck_ms < (long)c->max_age * 1000,
	         "recheck_ms %d, max_age %d", c->recheck_ms, c->max_age);
	FZ_CHECK(c->deadline <= c->interval, "deadline %d > interval %d", c->deadline, c->interval);
	FZ_CHECK((unsigned)c->mode <= MODE_PASSTHROUGH && (unsigned)c->unknown_host <= UNKNOWN_REJECT &&
	         (unsigned)c->detail <= DETAIL_CAUSE && (unsigned)c->log_level <= LOG_LVL_DEBUG,
	         "an enum out of range");
	FZ_CHECK(c->kill_switch && c->overrides && c->counters && c->host_map && c->registries &&
	         c->region && c->state_path && c->lock_path && c->event_log && c->metrics &&
	         c->proxy && c->follow_cache, "a string option left NULL");
	FZ_CHECK(c->resolver != NULL, "resolver not built");
	if (c->rules != NULL) {
		size_t n = 0;

		while (c->rules[n] != NULL)
			n++;
		FZ_CHECK(resolver_rule_count(c->resolver) == n, "%zu rules, %zu compiled", n,
		         resolver_rule_count(c->resolver));
	}
	if (c->follow_policy == FOLLOW_QUORUM) {
		size_t n = 0;

		while (c->follow_sources != NULL && c->follow_sources[n] != NULL)
			n++;
		FZ_CHECK((size_t)c->follow_quorum <= n, "quorum %d of %zu sources", c->follow_quorum, n);
	}
	FZ_CHECK(nidx_count(c->dep_index) == c->ndeps, "index holds %zu of %zu dependencies",
	         nidx_count(c->dep_index), c->ndeps);
	for (size_t i = 0; i < c->ndeps; i++) {
		const struct dep_conf *d = &c->deps[i];

		FZ_CHECK(d->name && util_name_ok(d->name, strlen(d->name)), "dependency %zu name", i);
		FZ_CHECK(conf_dep_index(c, d->name) == (int)i, "dependency %s not found as %zu",
		         d->name, i);
		FZ_CHECK((unsigned)d->kind < DEP_KIND_COUNT && (unsigned)d->severity < SEV_COUNT,
		         "dependency %s: kind or severity", d->name);
		FZ_CHECK(d->applies != APPLY_FEATURE || (d->feature && util_name_ok(d->feature,
		         strlen(d->feature))), "dependency %s: feature", d->name);
		FZ_CHECK(d->fall >= 1 && d->rise >= 1 && d->ok >= 1 && (d->intermittent == 0 ||
		         d->intermittent == 1), "dependency %s: thresholds", d->name);
		FZ_CHECK(d->check != NULL && d->check->type != NULL && d->check->conf != NULL,
		         "dependency %s: no check", d->name);
		FZ_CHECK(d->check->timeout_ms >= 1 && (long)d->check->timeout_ms <=
		         (long)c->deadline * 1000, "dependency %s: timeout_ms", d->name);
		if (d->check->type == &check_http) {
			const struct http_check *h = d->check->conf;

			FZ_CHECK(h->ranges != NULL && h->nranges > 0, "dependency %s: no ranges", d->name);
			for (size_t k = 0; k < h->nranges; k++)
				FZ_CHECK(h->ranges[k].lo >= 100 && h->ranges[k].lo <= h->ranges[k].hi &&
				         h->ranges[k].hi <= 599, "dependency %s: range %d-%d", d->name,
				         h->ranges[k].lo, h->ranges[k].hi);
			FZ_CHECK((h->body_match[0] != '\0') == (h->body_re != NULL),
			         "dependency %s: body_match without a compiled pattern", d->name);
			FZ_CHECK(!strncmp(h->url, "http://", 7) || !strncmp(h->url, "https://", 8),
			         "dependency %s: url", d->name);
			FZ_CHECK(h->connect_timeout_ms >= 1 && h->connect_timeout_ms <=
			         d->check->timeout_ms, "dependency %s: connect timeout", d->name);
		} else if (d->check->type == &check_tcp) {
			const struct tcp_check *t = d->check->conf;

			FZ_CHECK(strrchr(t->address, ':') != NULL, "dependency %s: address", d->name);
			FZ_CHECK((t->reply_match[0] != '\0') == (t->reply_re != NULL),
			         "dependency %s: reply_match without a compiled pattern", d->name);
		} else if (d->check->type == &check_exec) {
			const struct exec_check *x = d->check->conf;

			FZ_CHECK(x->command != NULL && x->command[0] != NULL && x->command[0][0] == '/',
			         "dependency %s: command", d->name);
		} else {
			fz_die("dependency %s: unknown check type", d->name);
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conf *c, *bare;
	int errors = 0, errs_bare = 0;

	if (mentions(data, size, "@include") || mentions(data, size, "dev/") ||
	    mentions(data, size, "proc/") || mentions(data, size, "sys/") ||
	    mentions(data, size, "\\x"))
		return 0;
	fz_write(conf_path, data, size);
	c = conf_load(conf_path, both, fz_errfn, &errors);
	FZ_CHECK((c == NULL) == (errors > 0), "conf_load: %s with %d errors reported",
	         c ? "loaded" : "refused", errors);
	if (c == NULL)
		return 0;
	check_loaded(c);
	conf_free(c);
	bare = conf_load(conf_path, NULL, fz_errfn, &errs_bare);
	FZ_CHECK(bare != NULL, "loads with both extensions, refused with none (%d errors)",
	         errs_bare);
	FZ_CHECK(bare->resolver == NULL && bare->ndeps == 0, "extension parts without extensions");
	conf_free(bare);
	return 0;
}
