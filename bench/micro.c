/* micro.c: in-process figures: snapshot load, per-request cost per host form, worst resolver case. */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "responder.h"
#include "prober.h"

/* Every section read, as the two programs together do. */
static const struct conf_ext *const exts[] = { &resolver_conf, &deps_conf, NULL };

static double
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double
median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return v[n / 2];
}

static void
errfn(void *arg, const char *fmt, ...)
{
	(void)arg;
	(void)fmt;
}

/* What the responder does per GET, minus libfcgi: answer_request itself.  Never inlined:
 * `micro -n` runs it under callgrind with --toggle-collect=one_request. */
__attribute__((noinline)) static size_t
one_request(const struct conf *c, const struct snapshot *s, const struct overrides *o,
            const char *host, time_t now)
{
	struct answer_state st = { .conf = c, .snap = s, .snap_err = SNAP_OK, .ovr = o };
	struct answer_trace tr;
	char resp[4096];

	return answer_request(&st, "GET", host, NULL, now, &tr, resp, sizeof(resp));
}

/* n exact overrides on the workload's first registries (reg000000...), 10 globs "GLOBn-*"
 * that match none of them, in force for a day. */
static struct overrides *
make_overrides(int n, const char *glob, time_t now)
{
	char *buf = NULL, until[32], set[32];
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	struct overrides *o = NULL;

	util_iso_time(now + 86400, until, sizeof(until));
	util_iso_time(now - 60, set, sizeof(set));
	for (int i = 0; m != NULL && i < n; i++)
		fprintf(m, "registry:reg%06d force-pass until=%s set=%s by=bench reason=\"bench\"\n", i,
		        until, set);
	for (int i = 0; m != NULL && i < 10; i++)
		fprintf(m, "registry:%s%d-* force-fail until=%s set=%s by=bench reason=\"bench\"\n", glob,
		        i, until, set);
	if (m == NULL || fclose(m) != 0 || ovr_parse("bench", buf, len, 7 * 86400, &o, errfn, NULL) != 0)
		fatalx("micro: overrides");
	free(buf);
	return o;
}

int
main(int argc, char **argv)
{
	static const char *const forms[][2] = {
		{ "global", "reg050123.azurecr.io" },
		{ "regional", "reg050123.westeurope.data.azurecr.io" },
		{ "custom", "cd004242.custom.example" },
		{ "mixed-case-port", "REG050123.AzureCR.io.:443" },
		{ "unknown", "nobody-here.example.org" },
	};
	enum { NFORMS = sizeof(forms) / sizeof(forms[0]), ROUNDS = 7, ITER = 100000 };
	struct conf *c;
	struct snapshot *s = NULL;
	double loads[21], first, cost[NFORMS], cheapest = 1e18, worst = 0;
	char adv[8][DH_HOST_MAX + 8], norm[DH_HOST_MAX + 1], reg[DH_NAME_MAX + 1];
	volatile size_t sink = 0;
	time_t now = time(NULL);

	/* micro -n N FORM CONFIG SNAPSHOT: only N requests of one host form (for callgrind). */
	if (argc == 6 && strcmp(argv[1], "-n") == 0) {
		long n = strtol(argv[2], NULL, 10);
		int f;

		for (f = 0; f < NFORMS && strcmp(forms[f][0], argv[3]) != 0; f++)
			;
		c = conf_load(argv[4], exts, errfn, NULL);
		if (f == NFORMS || c == NULL || snap_load(argv[5], now, &s, NULL, 0) != SNAP_OK) {
			fprintf(stderr, "micro: unknown form, or %s / %s do not load\n", argv[4], argv[5]);
			return 1;
		}
		for (long i = 0; i < n; i++)
			sink += one_request(c, s, NULL, forms[f][1], now);
		snap_free(s);
		conf_free(c);
		return sink == 42 ? 3 : 0;
	}
	if (argc != 3) {
		fprintf(stderr, "usage: micro CONFIG SNAPSHOT | micro -n N FORM CONFIG SNAPSHOT\n");
		return 2;
	}
	c = conf_load(argv[1], exts, errfn, NULL);
	if (c == NULL) {
		fprintf(stderr, "micro: %s does not load\n", argv[1]);
		return 1;
	}
	for (int i = 0; i < 21; i++) {
		struct snapshot *t;
		double t0 = now_ns();

		if (snap_load(argv[2], now, &t, NULL, 0) != SNAP_OK) {
			fprintf(stderr, "micro: %s does not load\n", argv[2]);
			return 1;
		}
		loads[i] = (now_ns() - t0) / 1e6;
		if (i == 0)
			first = loads[0];
		if (s == NULL)
			s = t;
		else
			snap_free(t);
	}
	printf("snapshot_registries %zu\n", snap_reg_count(s));
	printf("snapshot_load_first_ms %.2f\n", first);
	printf("snapshot_load_median_ms %.2f\n", median(loads + 1, 20));

	for (int f = 0; f < NFORMS; f++) {
		double r[ROUNDS];

		for (int k = 0; k < ROUNDS; k++) {
			double t0 = now_ns();

			for (int i = 0; i < ITER; i++)
				sink += one_request(c, s, NULL, forms[f][1], now);
			r[k] = (now_ns() - t0) / ITER;
		}
		cost[f] = median(r, ROUNDS);
		if (cost[f] < cheapest)
			cheapest = cost[f];
	}
	for (int f = 0; f < NFORMS; f++)
		printf("request_ns_%s %.0f %.2f\n", forms[f][0], cost[f], cost[f] / cheapest);

	/* 1,000 overrides in force (and 10 globs): a registry without one, one with one, and one
	 * without while the 10 globs share its first bytes (each then costs a compare), against
	 * the same host with no override file at all. */
	{
		struct overrides *o = make_overrides(1000, "team", now), *o2 = make_overrides(1000, "regx", now);
		const char *hosts[3] = { "reg050123.azurecr.io", "reg000500.azurecr.io", "reg050123.azurecr.io" };
		const char *names[3] = { "miss", "hit", "miss_globs" };

		for (int h = 0; h < 3; h++) {
			double r[ROUNDS], q[ROUNDS], base, with;

			for (int k = 0; k < ROUNDS; k++) {
				double t0 = now_ns();

				for (int i = 0; i < ITER; i++)
					sink += one_request(c, s, NULL, hosts[h], now);
				r[k] = (now_ns() - t0) / ITER;
				t0 = now_ns();
				for (int i = 0; i < ITER; i++)
					sink += one_request(c, s, h == 2 ? o2 : o, hosts[h], now);
				q[k] = (now_ns() - t0) / ITER;
			}
			base = median(r, ROUNDS);
			with = median(q, ROUNDS);
			printf("request_ns_overrides_%s %.0f %.0f %.3f\n", names[h], with, base, with / base);
		}
		ovr_free(o);
		ovr_free(o2);
	}

	/* Adversarial hosts: long, near misses of every rule, no match. */
	memset(adv, 0, sizeof(adv));
	memset(adv[0], 'a', 253);
	for (int i = 0; i < 252; i += 2) {
		adv[1][i] = 'a';
		adv[1][i + 1] = '.';
	}
	adv[1][252] = 'a';
	memset(adv[2], 'a', 220);
	memcpy(adv[2] + 220, ".westeurope.data.azurecr.iox", 28);
	memset(adv[3], '9', 200);
	memcpy(adv[3] + 200, ".azurecr.io.azurecr.io.azurecr.io.x", 35);
	memset(adv[4], 'a', 50);
	for (int i = 50; i < 250; i += 5)
		memcpy(adv[4] + i, ".data", 5);
	snprintf(adv[5], sizeof(adv[5]), "%s", "a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r.s.t.u.v.w.x.y.z");
	/* Near misses that do end with a rule's literal suffix, so the regex itself runs. */
	memset(adv[6], 'a', 230);
	memcpy(adv[6] + 230, ".x.data.azurecr.io", 18);
	memset(adv[7], '7', 230);
	memcpy(adv[7] + 230, ".zone18.example.net", 19);
	for (int a = 0; a < 8; a++) {
		double r[ROUNDS];
		enum host_err he;

		for (int k = 0; k < ROUNDS; k++) {
			double t0 = now_ns();

			for (int i = 0; i < 1000; i++)
				sink += (size_t)resolver_lookup(c->resolver, adv[a], norm, reg, &he);
			r[k] = (now_ns() - t0) / 1000;
		}
		if (median(r, ROUNDS) > worst)
			worst = median(r, ROUNDS);
	}
	printf("resolver_worst_us %.2f\n", worst / 1000);
	printf("resolver_rules %zu\n", resolver_rule_count(c->resolver));
	printf("resolver_hosts %zu\n", resolver_host_count(c->resolver));
	snap_free(s);
	conf_free(c);
	return sink == 42 ? 3 : 0;
}
