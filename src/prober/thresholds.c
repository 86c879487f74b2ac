/*
 * thresholds.c: per-dependency stability state machine (fall/rise/ok) and its file between
 * runs, which also carries the failover guard's line (guard.c).
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "prober.h"

#define STATE_MAGIC "deephealth-probe-state 1"

enum verdict
state_reported(const struct dep_state *st)
{
	if (st->down)
		return VERDICT_FAIL;
	return st->last == VERDICT_WARN ? VERDICT_WARN : VERDICT_PASS;
}

/*
 * The rules, written out in docs/thresholds.md.  Success is pass or warn;
 * failure is fail; unknown is neither.  Up -> down after `fall` failures in a
 * row (consecutive) or `fall` failures not yet cleared by `ok` successes in a
 * row (intermittent).  Down -> up after `rise` successes in a row.  The
 * warn/pass distinction of an up dependency follows the latest result at once:
 * it never moves traffic, so it needs no hysteresis.
 */
int
state_fold(struct dep_state *st, const struct dep_conf *d, enum verdict result, const char *cause,
           int64_t now)
{
	enum verdict before = state_reported(st);
	int failed = result == VERDICT_FAIL;

	if (result == VERDICT_UNKNOWN)
		return 0;
	st->last = result;
	if (!st->down) {
		if (failed) {
			st->consec_fail++;
			st->fail_count++;
			st->consec_ok = 0;
			if ((d->intermittent ? st->fail_count : st->consec_fail) >= d->fall) {
				st->down = 1;
				st->consec_ok = 0;
			}
		} else {
			st->consec_fail = 0;
			st->consec_ok++;
			if (!d->intermittent || st->consec_ok >= d->ok)
				st->fail_count = 0;
		}
	} else {
		if (failed) {
			st->consec_ok = 0;
			st->consec_fail++;
		} else if (++st->consec_ok >= d->rise) {
			st->down = 0;
			st->consec_fail = 0;
			st->fail_count = 0;
		}
	}
	/*
	 * The cause is the one that made the state what it is: kept until the state
	 * changes, like since.  So a snapshot's bytes stay the same from pass to pass
	 * while nothing changes (only its header moves on), which is what lets a
	 * follower (docs/fleet.md) fetch 64 bytes instead of the whole file.
	 */
	if (state_reported(st) == before) {
		if (st->cause[0] == '\0')
			snprintf(st->cause, sizeof(st->cause), "%s", cause ? cause : "");
		return 0;
	}
	st->since = now;
	snprintf(st->cause, sizeof(st->cause), "%s", cause ? cause : "");
	return 1;
}

void
state_reset(struct dep_state *st, int64_t now)
{
	memset(st, 0, sizeof(*st));
	st->last = VERDICT_PASS;
	st->since = now;
}

int
state_load(const char *path, const struct conf *c, struct dep_state *st, int64_t now,
           errfn_t errfn, void *arg, struct guard_state *g)
{
	FILE *f;
	struct stat sb;
	char *line = NULL;
	size_t cap = 0;
	unsigned lineno = 0;

	f = fopen(path, "r");
	if (f == NULL && errno != ENOENT) {
		/* There but not readable now (descriptors, memory, permissions, I/O): a fresh start
		 * would throw its counters away and bring every failing dependency up at once. */
		errfn(arg, "%s: cannot read state: %s", path, strerror(errno));
		return -1;
	}
	for (size_t i = 0; i < c->ndeps; i++)
		state_reset(&st[i], now);
	if (g != NULL)
		memset(g, 0, sizeof(*g));
	if (f == NULL)
		return 0;
	/* Counters are only as good as the passes behind them: a file older than the snapshot's
	 * max_age (the prober was stopped, or every pass since was blind) is not trusted. */
	if (fstat(fileno(f), &sb) == 0 && now - (int64_t)sb.st_mtime > (int64_t)c->max_age) {
		errfn(arg, "%s: saved %lld s ago, more than snapshot.max_age (%d s): its counters are "
		      "too old to trust, starting fresh", path, (long long)(now - (int64_t)sb.st_mtime),
		      c->max_age);
		fclose(f);
		return 0;
	}
	while (getline(&line, &cap, f) != -1) {
		char name[DH_NAME_MAX + 1], updown[8], last[8];
		struct dep_state s;
		long long since;
		int di, n;

		lineno++;
		if (lineno == 1) {
			if (strncmp(line, STATE_MAGIC, strlen(STATE_MAGIC)) != 0) {
				errfn(arg, "%s:1: not a deephealth-probe state file, starting fresh", path);
				break;
			}
			continue;
		}
		if ((n = guard_line_parse(line, g != NULL ? g : &(struct guard_state){ 0 })) != 0) {
			if (n < 0)
				errfn(arg, "%s:%u: damaged failover guard line, the guard starts from the "
				      "snapshot's flag", path, lineno);
			continue;
		}
		memset(&s, 0, sizeof(s));
		n = sscanf(line, "%253s %7s %7s %d %d %d %lld", name, updown, last, &s.consec_fail,
		           &s.consec_ok, &s.fail_count, &since);
		if (n != 7 || (strcmp(updown, "up") != 0 && strcmp(updown, "down") != 0) ||
		    s.consec_fail < 0 || s.consec_ok < 0 || s.fail_count < 0) {
			errfn(arg, "%s:%u: damaged line, that dependency starts fresh", path, lineno);
			continue;
		}
		di = conf_dep_index(c, name);
		if (di < 0)
			continue; /* no longer configured */
		s.down = strcmp(updown, "down") == 0;
		s.last = strcmp(last, "warn") == 0 ? VERDICT_WARN
		         : strcmp(last, "fail") == 0 ? VERDICT_FAIL : VERDICT_PASS;
		s.since = since;
		st[di] = s;
	}
	free(line);
	if (ferror(f)) {
		errfn(arg, "%s: cannot read state: %s", path, strerror(errno));
		fclose(f);
		return -1;
	}
	fclose(f);
	return 0;
}

int
state_save(const char *path, const struct conf *c, const struct dep_state *st,
           const struct guard_state *g, char *err, size_t errlen)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int rc;

	if (f == NULL) {
		snprintf(err, errlen, "open_memstream: %s", strerror(errno));
		return -1;
	}
	fprintf(f, "%s\n", STATE_MAGIC);
	for (size_t i = 0; i < c->ndeps; i++)
		fprintf(f, "%s %s %s %d %d %d %" PRId64 "\n", c->deps[i].name,
		        st[i].down ? "down" : "up", verdict_str(st[i].last), st[i].consec_fail,
		        st[i].consec_ok, st[i].fail_count, st[i].since);
	if (g != NULL)
		guard_line_write(f, g);
	if (fclose(f) != 0) {
		snprintf(err, errlen, "open_memstream: %s", strerror(errno));
		free(buf);
		return -1;
	}
	rc = publish_file(path, buf, len, 0600, err, errlen);
	free(buf);
	return rc;
}
