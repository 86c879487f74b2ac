/*
 * deephealthctl: the operator's view of a region: what the responders answer
 * and why (status, explain), and how long failover and recovery take with
 * this configuration (budget).  Reads the same files the responder reads,
 * through the same code (src/answer/), so explain says what it would answer.
 */

#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"

/* The responder reads the resolver section; so does explain. */
void
ctl_usage(FILE *f, int code)
{
	fprintf(f,
	        "usage: deephealthctl [-c config] [--json] status\n"
	        "       deephealthctl [-c config] [--json] explain HOST [HOST...]\n"
	        "       deephealthctl [-c config] override add SCOPE ACTION -e DURATION -r REASON\n"
	        "                     [-f] [-n] [-w]\n"
	        "       deephealthctl [-c config] [--json] override list [-w]\n"
	        "       deephealthctl [-c config] override remove INDEX|SCOPE [-n] [-w]\n"
	        "       deephealthctl [-c config] override check [-w]\n"
	        "       deephealthctl [-c config] [--json] history [-s TIME] DEPENDENCY|registry:NAME\n"
	        "       deephealthctl [-c config] [--json] history [-s TIME] [-r regions] --regions\n"
	        "                     registry:NAME\n"
	        "       deephealthctl [-c config] check [-w age] [-c age] [-k seconds] [-x seconds]\n"
	        "                     [-u rate] [-U rate]\n"
	        "       deephealthctl [-c config] [--json] budget [-l PRESET] [-P seconds]\n"
	        "                     [-F probes] [-B probes] [-W seconds] [-T seconds] [-f seconds]\n"
	        "                     [-r regions]\n"
	        "       deephealthctl [-c config] lb pdns|gdnsd|haproxy [-r regions] -o DIR [--ns NAME]\n"
	        "       deephealthctl [-c config] [--json] where [-r regions] HOST|--all\n"
	        "       deephealthctl -h | --help | -V | --version\n"
	        "  -c config     configuration file (default $DEEPHEALTH_CONFIG, then %s)\n"
	        "  -j, --json    one JSON document on standard output\n"
	        "budget:\n"
	        "  -l PRESET     load balancer: tm30, tm10 (Traffic Manager 30 s / 10 s probing),\n"
	        "                r53 (Route 53 standard), r53fast (Route 53 fast), pdns, gdnsd,\n"
	        "                haproxy (their defaults); default tm30\n"
	        "  -r regions    its timing as a regions description asks (deephealthctl lb)\n"
	        "  -P seconds    its probing interval     -F probes  failed probes to take out\n"
	        "  -B probes     good probes to bring back -W seconds its probe timeout\n"
	        "  -T seconds    DNS TTL of its answers\n"
	        "  -f seconds    a front door fed by deephealth-follow this often (default 10 with\n"
	        "                follower.sources, else 0)\n"
	        "override: SCOPE region, registry:NAME or dependency:NAME (NAME may be a glob: * ?\n"
	        "  [sets]); -f (--force) even if it names nothing in the snapshot; -n (--dry-run)\n"
	        "  only print whose answers would change; check: is the file good (then it is\n"
	        "  kept as the last good copy, overrides.good); ACTION force-pass,\n"
	        "  force-fail, enforce or shadow, or for the region allow-failover (the prober\n"
	        "  lets its failover guard through); DURATION 90s, 45m, 8h, 7d, at most\n"
	        "  responder.override_max; REASON printable text; -w (--region-wide) the\n"
	        "  region-wide file, on a prober: every front door's follower takes it\n"
	        "  (docs/overrides.md); list shows both files\n"
	        "history: DEPENDENCY may be a glob; -s TIME: ISO (2026-11-30T07:00:00Z), epoch\n"
	        "  seconds, or -N[smhd] before now; --regions: every region's events of the\n"
	        "  registry (their admin sides, -r as for where), merged by time\n"
	        "check: a Nagios plugin: -w/-c snapshot age (default 3 intervals / max_age),\n"
	        "  -k the kill switch, pass-through mode or a region force-pass left on longer\n"
	        "  (default 3600 s), -x an override expiring sooner (default 900 s), -u/-U\n"
	        "  unknown-Host answers a minute over the last 5 (default 1 / none);\n"
	        "  exits 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN\n"
	        "lb: a load balancer's configuration in DIR, from -r (default\n"
	        "  /etc/deephealth/regions.conf), the registry map and the host map;\n"
	        "  --ns the zones' name server (pdns, gdnsd; default ns1.ZONE)\n"
	        "where: each region's answer to a load balancer's probe for HOST (every front door\n"
	        "  of -r, default /etc/deephealth/regions.conf), why (its admin side), and the\n"
	        "  routing that follows; --all: every registry some region fails over now\n"
	        "exit: 0 OK, 1 configuration not loaded, 2 usage, 3 status: every answer fails open\n"
	        "      or passes through\n",
	        DH_DEFAULT_CONF);
	exit(code);
}

/* A usage error: one line naming what was wrong, and where the usage is; exit 2. */
void
ctl_usage_error(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	util_usage_error("deephealthctl", "%s", msg); /* exits CTL_EXIT_USAGE (2) */
}

/* Errors of the configuration go to stderr as file:line: message, as with -t. */
void
ctl_errfn(void *arg, const char *fmt, ...)
{
	va_list ap;

	(void)arg;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* st.ovr: what is in force from both override files, as a responder merges them. */
void
ctl_union(struct ctl *x)
{
	inputs_union(&x->in);
	x->st.ovr = x->in.ovr_all;
}

/* What a responder would see now: the same loader, looking once. */
void
ctl_load(struct ctl *x)
{
	x->now = time(NULL);
	inputs_open(&x->in, x->conf_path, 0, ctl_errfn, NULL);
	inputs_refresh(&x->in, util_now_ms());
	inputs_state(&x->in, &x->st);
}

void
ctl_free(struct ctl *x)
{
	inputs_close(&x->in);
}

/* An age for a person: util_span's, the one duration format. */
const char *
span(int64_t s, char *buf, size_t len)
{
	return util_span(s, buf, len);
}

/* A JSON string value of s (len bytes), quoted. */
void
jstr(const char *s, size_t len)
{
	char *e = util_json_strn(s, len);

	printf("\"%s\"", e);
	free(e);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	struct ctl x;
	char what[160];
	int ch, rc;

	memset(&x, 0, sizeof(x));
	x.conf_path = getenv("DEEPHEALTH_CONFIG");
	/* "+": options after the command are the command's (budget's -P...); ":": a missing
	 * argument is told apart from an unknown option. */
	while ((ch = getopt_long(argc, argv, "+:c:jhV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c': x.conf_path = optarg; break;
		case 'j': x.json = 1; break;
		case 'V': printf("deephealthctl %s\n", DH_VERSION); return 0;
		case 'h': ctl_usage(stdout, 0); break;
		default: ctl_usage_error("%s", util_opt_error(ch, argv, what, sizeof(what)));
		}
	}
	if (x.conf_path == NULL || x.conf_path[0] == '\0')
		x.conf_path = DH_DEFAULT_CONF;
	if (optind >= argc)
		ctl_usage_error("a command is required");
	log_init("deephealthctl", 0, LOG_LVL_WARN);
	if (strcmp(argv[optind], "status") == 0 && optind + 1 == argc) {
		ctl_load(&x);
		rc = cmd_status(&x);
	} else if (strcmp(argv[optind], "explain") == 0 && optind + 1 < argc) {
		ctl_load(&x);
		rc = cmd_explain(&x, argc - optind - 1, argv + optind + 1);
	} else if (strcmp(argv[optind], "override") == 0) {
		ctl_load(&x);
		rc = cmd_override(&x, argc - optind, argv + optind);
	} else if (strcmp(argv[optind], "history") == 0) {
		ctl_load(&x);
		rc = cmd_history(&x, argc - optind, argv + optind);
	} else if (strcmp(argv[optind], "check") == 0) {
		ctl_load(&x);
		rc = cmd_check(&x, argc - optind, argv + optind);
	} else if (strcmp(argv[optind], "budget") == 0) {
		ctl_load(&x);
		rc = cmd_budget(&x, argc - optind, argv + optind);
	} else if (strcmp(argv[optind], "lb") == 0) {
		ctl_load(&x);
		rc = cmd_lb(&x, argc - optind, argv + optind);
	} else if (strcmp(argv[optind], "where") == 0) {
		ctl_load(&x);
		rc = cmd_where(&x, argc - optind, argv + optind);
	} else {
		static const char *const known[] = { "status", "explain", "override", "history",
		                                     "check", "budget", "lb", "where", NULL };

		if (names_find(known, argv[optind]) >= 0)
			ctl_usage_error("%s: %s", argv[optind], strcmp(argv[optind], "status") == 0
			                ? "takes no arguments" : "a HOST is required");
		ctl_usage_error("unknown command %s", argv[optind]);
	}
	ctl_free(&x);
	return rc;
}
