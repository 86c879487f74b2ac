/* cmd_override.c: deephealthctl override: the operator's overrides: list, set, clear. */

#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "ctl.h"

/* "90s", "45m", "8h", "7d" (or plain seconds); -1 when not one. */
static long
parse_span(const char *s)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || v <= 0 || (*end != '\0' && end[1] != '\0'))
		return -1;
	switch (*end) {
	case '\0': case 's': return v;
	case 'm': return v <= LONG_MAX / 60 ? v * 60 : -1;
	case 'h': return v <= LONG_MAX / 3600 ? v * 3600 : -1;
	case 'd': return v <= LONG_MAX / 86400 ? v * 86400 : -1;
	default: return -1;
	}
}

/* Who is setting it: the sudo user behind root, else the login, as a name token. */
static void
who(char *out, size_t len)
{
	const char *u = getenv("SUDO_USER");
	struct passwd *pw;

	if (u == NULL || u[0] == '\0')
		u = getenv("USER");
	if ((u == NULL || u[0] == '\0') && (pw = getpwuid(getuid())) != NULL)
		u = pw->pw_name;
	snprintf(out, len, "%s", u != NULL && u[0] != '\0' ? u : "unknown");
	for (char *p = out; *p != '\0'; p++)
		if (!util_is_name_byte((unsigned char)*p))
			*p = '_';
}

/* One line in the event log for an operator's change; the event log is the record. */
static void
override_event(const struct ctl *x, const char *what, const struct override *v)
{
	FILE *f;
	int fd;

	if (x->conf->event_log[0] == '\0')
		return;
	/* Never create it: the prober's user must keep owning it (root would take it over). */
	if ((fd = open(x->conf->event_log, O_WRONLY | O_APPEND | O_CLOEXEC)) == -1 ||
	    (f = fdopen(fd, "a")) == NULL) {
		fprintf(stderr, "deephealthctl: event log %s: %s (the change is made, not recorded)\n",
		        x->conf->event_log, errno == ENOENT ? "not there yet: the prober creates it"
		                                            : strerror(errno));
		if (fd != -1)
			close(fd);
		return;
	}
	ovr_event_line(f, what, v, (int64_t)x->now);
	if (fclose(f) != 0)
		fprintf(stderr, "deephealthctl: event log %s: %s\n", x->conf->event_log, strerror(errno));
}

/* Write every override in o but those dropped (drop[i]) and those expired a day ago, plus add. */
static int
override_write(const struct ctl *x, const struct overrides *o, const char *drop,
               const struct override *add)
{
	char *buf = NULL, err[512];
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	int rc;

	if (m == NULL)
		fatal("open_memstream");
	fprintf(m, "# deephealth overrides: written by deephealthctl override; one per line.\n"
	           "# A file with a bad line is ignored whole by every responder.\n");
	for (size_t i = 0; o != NULL && i < o->n; i++)
		if (!drop[i] && o->v[i].until > (int64_t)x->now - 86400)
			ovr_write_line(m, &o->v[i]);
	if (add != NULL)
		ovr_write_line(m, add);
	if (fclose(m) != 0)
		fatal("open_memstream");
	rc = publish_file(x->conf->overrides, buf, len, 0644, err, sizeof(err));
	if (rc != 0)
		fprintf(stderr, "deephealthctl: %s\n", err);
	free(buf);
	return rc;
}

void
override_print(const struct ctl *x, size_t i, const struct override *v, int json)
{
	char until[32], set[32], left[32];
	int64_t rest = v->until - (int64_t)x->now;

	util_iso_time((time_t)v->until, until, sizeof(until));
	util_iso_time((time_t)v->set, set, sizeof(set));
	if (json) {
		printf("%s", i ? "," : "");
		status_override_json(stdout, i, v, x->now);
		return;
	}
	printf("%3zu  %-28s %-10s %s %s (set %s by %s): %s\n", i + 1, v->scope,
	       ovr_action_names[v->action], rest > 0 ? "until" : "EXPIRED", until,
	       set, v->by, v->reason);
	(void)span(rest > 0 ? rest : -rest, left, sizeof(left));
}

int
cmd_override(struct ctl *x, int argc, char **argv)
{
	const char *sub = argc > 1 ? argv[1] : "";
	char lockpath[4096], *drop = NULL, by[64];
	int lockfd = -1, rc = CTL_EXIT_OK;

	if (x->conf == NULL)
		return CTL_EXIT_CONFIG;
	if (strcmp(sub, "list") == 0 && argc == 2) {
		if (x->ovr_errors > 0) {
			fprintf(stderr, "deephealthctl: %s: %d bad lines (above): the responders IGNORE the "
			        "whole file\n", x->conf->overrides, x->ovr_errors);
			return CTL_EXIT_CONFIG;
		}
		if (x->json)
			printf("[");
		for (size_t i = 0; x->ovr != NULL && i < x->ovr->n; i++)
			override_print(x, i, &x->ovr->v[i], x->json);
		if (x->json)
			printf("]\n");
		else if (x->ovr == NULL || x->ovr->n == 0)
			printf("no overrides (%s)\n", x->conf->overrides);
		return CTL_EXIT_OK;
	}
	if (strcmp(sub, "add") != 0 && strcmp(sub, "remove") != 0)
		ctl_usage(stderr, CTL_EXIT_USAGE);
	who(by, sizeof(by)); /* before root becomes the owner below: getuid() changes */
	/* One editor at a time; the responders read the file only as a whole, after rename. */
	snprintf(lockpath, sizeof(lockpath), "%s.lock", x->conf->overrides);
	/* As the directory's owner (root becomes it): files the timer's user can lock (owner.c). */
	if (owner_become(x->conf->overrides, (const char *const[]){ x->conf->overrides, lockpath,
	                 x->conf->event_log, NULL }, OWNER_RUN, ctl_errfn, NULL) != 0)
		return CTL_EXIT_CONFIG;
	if ((lockfd = util_lock_open(lockpath)) == -1 ||
	    flock(lockfd, LOCK_EX) == -1) {
		fprintf(stderr, "deephealthctl: %s: %s\n", lockpath, strerror(errno));
		if (lockfd != -1)
			close(lockfd);
		return CTL_EXIT_CONFIG;
	}
	/* Read again under the lock: another editor may have just written it. */
	ovr_free(x->ovr);
	x->ovr = NULL;
	x->ovr_errors = ovr_load(x->conf->overrides, x->conf->override_max, &x->ovr, ctl_errfn,
	                         NULL);
	if (x->ovr_errors > 0) {
		fprintf(stderr, "deephealthctl: %s: %d bad lines (above): fix or remove it first\n",
		        x->conf->overrides, x->ovr_errors);
		rc = CTL_EXIT_CONFIG;
		goto out;
	}
	drop = xcalloc(x->ovr ? x->ovr->n + 1 : 1, 1);
	if (strcmp(sub, "add") == 0) {
		struct override v = { 0 };
		char reason[512] = "";
		long span_s = -1;
		int ch, a;

		if (argc < 4)
			ctl_usage(stderr, CTL_EXIT_USAGE);
		optind = 4; /* the options come after SCOPE ACTION */
		while ((ch = getopt(argc, argv, "+e:r:")) != -1) {
			if (ch == 'e')
				span_s = parse_span(optarg);
			else if (ch == 'r')
				snprintf(reason, sizeof(reason), "%s", optarg);
			else
				ctl_usage(stderr, CTL_EXIT_USAGE);
		}
		if (optind != argc || !ovr_scope_ok(argv[2]) ||
		    (a = names_find(ovr_action_names, argv[3])) < 0) {
			fprintf(stderr, "deephealthctl: override add SCOPE ACTION -e DURATION -r REASON: "
			        "SCOPE region or registry:NAME (a glob too), ACTION force-pass, force-fail, "
			        "enforce or shadow\n");
			ctl_usage(stderr, CTL_EXIT_USAGE);
		}
		if (span_s <= 0 || span_s > x->conf->override_max) {
			fprintf(stderr, "deephealthctl: -e: an expiry is required, at most "
			        "responder.override_max (%ds): 90s, 45m, 8h, 7d\n", x->conf->override_max);
			ctl_usage(stderr, CTL_EXIT_USAGE);
		}
		if (reason[0] == '\0' || strlen(reason) > 500 ||
		    strspn(reason, " !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		                   "[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~") != strlen(reason)) {
			fprintf(stderr, "deephealthctl: -r: a reason is required: printable ASCII, at most "
			        "500 bytes\n");
			ctl_usage(stderr, CTL_EXIT_USAGE);
		}
		v.scope = argv[2];
		v.action = (enum ovr_action)a;
		v.set = (int64_t)x->now;
		v.until = (int64_t)x->now + span_s;
		v.by = by;
		v.reason = reason;
		if (override_write(x, x->ovr, drop, &v) != 0) {
			rc = CTL_EXIT_CONFIG;
			goto out;
		}
		override_event(x, "add", &v);
		override_print(x, x->ovr ? x->ovr->n : 0, &v, 0);
	} else {
		size_t n = 0;
		long idx;

		if (argc != 3)
			ctl_usage(stderr, CTL_EXIT_USAGE);
		idx = util_num(argv[2], 1, LONG_MAX); /* a number: the list's; else a scope */
		for (size_t i = 0; x->ovr != NULL && i < x->ovr->n; i++) {
			drop[i] = idx > 0 ? (size_t)idx == i + 1 : strcmp(x->ovr->v[i].scope, argv[2]) == 0;
			n += (size_t)drop[i];
		}
		if (n == 0) {
			fprintf(stderr, "deephealthctl: no override %s in %s (see: deephealthctl override "
			        "list)\n", argv[2], x->conf->overrides);
			rc = CTL_EXIT_CONFIG;
			goto out;
		}
		if (override_write(x, x->ovr, drop, NULL) != 0) {
			rc = CTL_EXIT_CONFIG;
			goto out;
		}
		for (size_t i = 0; i < x->ovr->n; i++)
			if (drop[i]) {
				override_event(x, "remove", &x->ovr->v[i]);
				printf("removed: ");
				override_print(x, i, &x->ovr->v[i], 0);
			}
	}
out:
	free(drop);
	close(lockfd);
	return rc;
}
