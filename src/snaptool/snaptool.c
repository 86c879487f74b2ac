/* snaptool.c: deephealth-snap: compile a readable fixture into a snapshot, check or dump one. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "deephealth.h"

/* check and dump: what a responder would not use as is (1 = unusable, 2 = usage). */
#define SNAP_EXIT_STALE 3
#define SNAP_EXIT_BLIND 4
#define DEFAULT_MAX_AGE 180

/*
 * Fixture format, one record a line ('#' starts a comment):
 *   created  TIME                  TIME is seconds, "now", "now-N" or "now+N"
 *   interval SECONDS
 *   blind    yes|no
 *   guard    yes|no                the prober's failover guard holds
 *   dep NAME STATE KIND SEVERITY [witness] [since=TIME] [cause=TEXT TO END OF LINE]
 *   reg NAME VERDICT [single] [by=DEPNAME] [since=TIME]
 */

struct fix {
	const char *path;
	unsigned line;
	int errors;
	time_t now;
};

static void ferr(struct fix *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
ferr(struct fix *f, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s:%u: %s\n", f->path, f->line, msg);
	f->errors++;
}

static int
parse_time(struct fix *f, const char *s, int64_t *out)
{
	char *end;
	long long v;

	if (strncmp(s, "now", 3) == 0) {
		v = 0;
		if (s[3] != '\0') {
			errno = 0;
			v = strtoll(s + 3, &end, 10);
			if (errno != 0 || *end != '\0' || (s[3] != '-' && s[3] != '+'))
				goto bad;
		}
		*out = (int64_t)f->now + v;
		return 0;
	}
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno == 0 && *end == '\0' && end != s) {
		*out = v;
		return 0;
	}
bad:
	ferr(f, "bad time \"%s\" (seconds, now, now-N, now+N)", s);
	return -1;
}


static int
compile(const char *in, const char *outpath)
{
	struct fix f = { .path = in, .now = time(NULL) };
	FILE *fp = fopen(in, "r");
	char *line = NULL, err[256];
	size_t cap = 0;
	int64_t created = f.now;
	uint32_t interval = 30;
	unsigned flags = 0;
	struct snap_writer *w;
	char **depnames = NULL;
	size_t ndeps = 0, capdeps = 0;
	struct name_index *depidx = NULL;
	/* Registries may name dependencies declared later: collect, then add. */
	struct pending {
		char *name, *by;
		int v;
		unsigned flags;
		int64_t since;
		unsigned line;
		char *uses;
	} *regs = NULL;
	size_t nregs = 0, capregs = 0;
	int rc = 1;

	if (fp == NULL) {
		fprintf(stderr, "%s: %s\n", in, strerror(errno));
		return 1;
	}
	w = snapw_new(0, 0, 0);
	while (getline(&line, &cap, fp) != -1) {
		char *tok[16], *cause = NULL, *p = line, *hash;
		int nt = 0;

		f.line++;
		if ((hash = strchr(line, '#')) != NULL)
			*hash = '\0';
		if ((cause = strstr(line, "cause=")) != NULL) {
			*cause = '\0';
			cause += 6;
			cause[strcspn(cause, "\r\n")] = '\0';
		}
		while (nt < 16 && (tok[nt] = strtok_r(nt ? NULL : p, " \t\r\n", &p)) != NULL)
			nt++;
		if (nt == 0)
			continue;
		if (strcmp(tok[0], "created") == 0 && nt == 2) {
			parse_time(&f, tok[1], &created);
		} else if (strcmp(tok[0], "interval") == 0 && nt == 2) {
			interval = (uint32_t)strtoul(tok[1], NULL, 10);
		} else if (strcmp(tok[0], "blind") == 0 && nt == 2) {
			flags = strcmp(tok[1], "yes") == 0 ? flags | SNAP_FLAG_BLIND
			                                   : flags & ~SNAP_FLAG_BLIND;
		} else if (strcmp(tok[0], "guard") == 0 && nt == 2) {
			flags = strcmp(tok[1], "yes") == 0 ? flags | SNAP_FLAG_GUARD
			                                   : flags & ~SNAP_FLAG_GUARD;
		} else if (strcmp(tok[0], "dep") == 0 && nt >= 5) {
			int st = names_find(verdict_names, tok[2]), k = names_find(dep_kind_names, tok[3]);
			int sv = names_find(severity_names, tok[4]);
			unsigned df = 0;
			int64_t since = f.now;

			for (int i = 5; i < nt; i++) {
				if (strcmp(tok[i], "witness") == 0)
					df |= SNAP_DEP_WITNESS;
				else if (strcmp(tok[i], "all") == 0)
					df |= SNAP_DEP_ALL;
				else if (strncmp(tok[i], "since=", 6) == 0)
					parse_time(&f, tok[i] + 6, &since);
				else
					ferr(&f, "unknown dep attribute \"%s\"", tok[i]);
			}
			if (st < 0 || k < 0 || sv < 0) {
				ferr(&f, "dep NAME pass|warn|fail|unknown KIND critical|degraded");
				continue;
			}
			if (snapw_add_dep(w, tok[1], (enum verdict)st, (enum dep_kind)k, (enum severity)sv,
			                  df, since, cause) < 0) {
				ferr(&f, "bad dependency \"%s\"", tok[1]);
				continue;
			}
			depnames = util_grow(depnames, &capdeps, ndeps + 1, sizeof(*depnames));
			depnames[ndeps++] = xstrdup(tok[1]);
		} else if (strcmp(tok[0], "reg") == 0 && nt >= 3) {
			struct pending *pr;
			int v = names_find(verdict_names, tok[2]);

			if (v < 0 || v == VERDICT_UNKNOWN) {
				ferr(&f, "reg NAME pass|warn|fail [single] [by=DEP] [since=TIME] [uses=DEP,...]");
				continue;
			}
			regs = util_grow(regs, &capregs, nregs + 1, sizeof(*regs));
			pr = &regs[nregs++];
			memset(pr, 0, sizeof(*pr));
			pr->name = xstrdup(tok[1]);
			pr->v = v;
			pr->since = f.now;
			pr->line = f.line;
			for (int i = 3; i < nt; i++) {
				if (strcmp(tok[i], "single") == 0)
					pr->flags |= SNAP_REG_SINGLE_REGION;
				else if (strncmp(tok[i], "by=", 3) == 0 && pr->by == NULL)
					pr->by = xstrdup(tok[i] + 3);
				else if (strncmp(tok[i], "uses=", 5) == 0 && pr->uses == NULL)
					pr->uses = xstrdup(tok[i] + 5);
				else if (strncmp(tok[i], "since=", 6) == 0)
					parse_time(&f, tok[i] + 6, &pr->since);
				else
					ferr(&f, "unknown reg attribute \"%s\"", tok[i]);
			}
		} else {
			ferr(&f, "unknown or incomplete line starting \"%s\"", tok[0]);
		}
	}
	fclose(fp);
	/* Names to indexes; a duplicate keeps its first, and the writer refuses the file. */
	depidx = nidx_new();
	for (size_t d = 0; d < ndeps; d++)
		(void)nidx_add(depidx, depnames[d], strlen(depnames[d]), (uint32_t)d);
	for (size_t i = 0; i < nregs; i++) {
		uint32_t by = SNAP_NO_DEP;

		f.line = regs[i].line;
		if (regs[i].by != NULL) {
			int64_t d = nidx_find(depidx, regs[i].by, strlen(regs[i].by));

			if (d < 0) {
				ferr(&f, "by=%s: no such dependency", regs[i].by);
				continue;
			}
			by = (uint32_t)d;
		}
		if (snapw_add_reg(w, regs[i].name, (enum verdict)regs[i].v, regs[i].flags, by,
		                  regs[i].since) != 0) {
			ferr(&f, "bad registry \"%s\"", regs[i].name);
			continue;
		}
		if (regs[i].uses != NULL) {
			uint32_t use[SNAP_USES_MAX];
			size_t nu = 0;

			for (char *q = regs[i].uses, *e; *q != '\0' && nu < SNAP_USES_MAX; q = *e ? e + 1 : e) {
				int64_t d;

				e = q + strcspn(q, ",");
				if ((d = nidx_find(depidx, q, (size_t)(e - q))) < 0)
					ferr(&f, "uses=%.*s: no such dependency", (int)(e - q), q);
				else
					use[nu++] = (uint32_t)d;
			}
			if (snapw_set_uses(w, use, nu) != 0)
				ferr(&f, "uses=%s: rejected", regs[i].uses);
		}
	}
	if (f.errors == 0) {
		/* created/interval/flags are only known at the end of the file. */
		snapw_set_header(w, created, interval, flags);
		if (snapw_publish(w, outpath, err, sizeof(err)) != 0)
			fprintf(stderr, "%s: %s\n", outpath, err);
		else
			rc = 0;
	}
	for (size_t i = 0; i < nregs; i++) {
		free(regs[i].name);
		free(regs[i].by);
		free(regs[i].uses);
	}
	for (size_t i = 0; i < ndeps; i++)
		free(depnames[i]);
	free(regs);
	free(depnames);
	nidx_free(depidx);
	free(line);
	snapw_free(w);
	return rc;
}

static int
check(const char *path, int dump, long max_age)
{
	struct snapshot *s;
	char detail[256];
	time_t now = time(NULL);
	enum snap_err e = snap_load(path, now, &s, detail, sizeof(detail));
	long long age;
	int rc;

	if (e != SNAP_OK) {
		fprintf(stderr, "%s: %s%s%s\n", path, snap_err_str(e), detail[0] ? ": " : "", detail);
		return 1;
	}
	/* As a responder judges it: stale first, then blind (README response contract). */
	age = snap_created(s) >= (int64_t)now ? 0 : (long long)((int64_t)now - snap_created(s));
	rc = age > max_age ? SNAP_EXIT_STALE : snap_flags(s) & SNAP_FLAG_BLIND ? SNAP_EXIT_BLIND : 0;
	printf("%s: %s: created %lld (%lld s ago), interval %u s, %s%s, %zu %s, %zu %s\n",
	       path, rc == SNAP_EXIT_STALE ? "STALE" : rc == SNAP_EXIT_BLIND ? "BLIND" : "OK",
	       (long long)snap_created(s), age, snap_interval(s),
	       snap_flags(s) & SNAP_FLAG_BLIND ? "BLIND" : "not blind",
	       snap_flags(s) & SNAP_FLAG_GUARD ? ", GUARD" : "", snap_dep_count(s),
	       util_plural((long long)snap_dep_count(s), "dependency", "dependencies"),
	       snap_reg_count(s), util_plural((long long)snap_reg_count(s), "registry", "registries"));
	if (rc == SNAP_EXIT_STALE)
		fprintf(stderr, "%s: stale: %lld s old, more than %ld s: responders fail open\n", path,
		        age, max_age);
	else if (rc == SNAP_EXIT_BLIND)
		fprintf(stderr, "%s: blind: the prober could not see its witnesses: responders fail "
		        "open\n", path);
	else if (rc == 0 && (snap_flags(s) & SNAP_FLAG_GUARD))
		fprintf(stderr, "%s: guard: the prober's failover guard holds: responders answer "
		        "every registry 200 guard\n", path);
	for (size_t i = 0; dump && i < snap_dep_count(s); i++) {
		struct snap_dep d;

		snap_dep_at(s, i, &d);
		printf("dep %.*s %s %s %s%s%s since=%lld%s%.*s\n", (int)d.name_len, d.name,
		       verdict_str(d.state), dep_kind_str(d.kind), severity_str(d.severity),
		       d.flags & SNAP_DEP_WITNESS ? " witness" : "", d.flags & SNAP_DEP_ALL ? " all" : "",
		       (long long)d.since,
		       d.cause_len ? " cause=" : "", (int)d.cause_len, d.cause);
	}
	for (size_t i = 0; dump && i < snap_reg_count(s); i++) {
		struct snap_reg g;
		struct snap_dep d;

		snap_reg_at(s, i, &g);
		printf("reg %.*s %s%s", (int)g.name_len, g.name, verdict_str(g.verdict),
		       g.flags & SNAP_REG_SINGLE_REGION ? " single" : "");
		if (g.decided_by != SNAP_NO_DEP) {
			snap_dep_at(s, g.decided_by, &d);
			printf(" by=%.*s", (int)d.name_len, d.name);
		}
		printf(" since=%lld", (long long)g.since);
		for (uint32_t k = 0; k < g.nuses; k++) {
			snap_dep_at(s, snap_use_at(s, g.uses + k), &d);
			printf("%s%.*s", k ? "," : " uses=", (int)d.name_len, d.name);
		}
		printf("\n");
	}
	snap_free(s);
	return rc;
}

static void
usage(FILE *f, int code)
{
	fprintf(f, "usage: deephealth-snap compile FIXTURE SNAPSHOT\n"
	           "       deephealth-snap check [-a MAX_AGE] SNAPSHOT\n"
	           "       deephealth-snap dump [-a MAX_AGE] SNAPSHOT\n"
	           "       deephealth-snap -h | --help | -V | --version\n"
	           "  -a MAX_AGE    stale when older than this many seconds (default %d,\n"
	           "                snapshot.max_age's default)\n"
	           "exit: 0 OK, 1 snapshot unusable or fixture errors, 2 usage, 3 stale, 4 blind\n",
	           DEFAULT_MAX_AGE);
	exit(code);
}

int
main(int argc, char **argv)
{
	log_init("deephealth-snap", 0, LOG_LVL_INFO);
	if (argc == 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0))
		usage(stdout, 0);
	if (argc == 2 && (strcmp(argv[1], "-V") == 0 || strcmp(argv[1], "--version") == 0)) {
		printf("deephealth-snap %s\n", DH_VERSION);
		return 0;
	}
	if (argc < 2)
		util_usage_error("deephealth-snap", "a command is required");
	if (strcmp(argv[1], "compile") == 0) {
		if (argc != 4)
			util_usage_error("deephealth-snap", "compile: %s", argc < 4 ?
			                 "a FIXTURE and a SNAPSHOT are required" : "too many arguments");
		return compile(argv[2], argv[3]);
	}
	if (strcmp(argv[1], "check") == 0 || strcmp(argv[1], "dump") == 0) {
		long max_age = DEFAULT_MAX_AGE;
		int i = 2;

		if (argc > 2 && strcmp(argv[2], "-a") == 0) {
			char opt[16];

			if (argc < 4)
				util_usage_error("deephealth-snap", "%s: option -a needs an argument", argv[1]);
			snprintf(opt, sizeof(opt), "%s: -a", argv[1]);
			max_age = util_opt_num("deephealth-snap", opt, argv[3], 1, 86400);
			i = 4;
		} else if (argc > 2 && argv[2][0] == '-' && argv[2][1] != '\0') {
			util_usage_error("deephealth-snap", "%s: unknown option %s", argv[1], argv[2]);
		}
		if (i >= argc)
			util_usage_error("deephealth-snap", "%s: a SNAPSHOT is required", argv[1]);
		if (i != argc - 1)
			util_usage_error("deephealth-snap", "%s: unexpected argument %s", argv[1],
			                 argv[i + 1]);
		return check(argv[i], strcmp(argv[1], "dump") == 0, max_age);
	}
	util_usage_error("deephealth-snap", "%s %s", argv[1][0] == '-' ? "unknown option" :
	                 "unknown command", argv[1]);
}
