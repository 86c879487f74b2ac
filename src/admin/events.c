/*
 * events.c: the admin side's events document (/deephealth/events.json): the
 * prober's event log read with a cursor, so a client that comes back asks for
 * what is new and a cross-region view (deephealthctl history --regions, the
 * global page) merges every region's.  Bounded: one request reads at most
 * EVENTS_READ bytes of the log and lists at most EVENTS_LIMIT_MAX events.
 * Nothing here is on the path of a /health answer.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "admin.h"

#define EVENTS_READ (1024 * 1024) /* bytes of the log one request reads at most */
#define EVENTS_LIMIT 200          /* events listed when the request does not say */

/* The string fields an event may carry, copied in this order; the rest is not listed. */
static const char *const str_keys[] = {
	"region", "prober", "registry", "dependency", "from", "to", "state", "cause", "change",
	"scope", "action", "until", "by", "reason", NULL
};
/* The number fields. */
static const char *const num_keys[] = {
	"registries_affected", "elapsed_ms", "changed", "listed", "failing", "bound", "multi_region",
	NULL
};

static void
jstr0(FILE *f, const char *s)
{
	char *e = util_json_str(s);

	fprintf(f, "\"%s\"", e);
	free(e);
}

/*
 * Does the event concern registry (NULL: every event does)?  Its verdict changes,
 * and what holds for every registry of the region: blind stretches, the failover guard, overrides
 * (their scope is the reader's to match) and the summary of a pass whose
 * changes were too many to list one by one.
 */
static int
event_about(const struct evlog_event *ev, const char *registry)
{
	const char *name;

	if (registry == NULL || registry[0] == '\0')
		return 1;
	if (strcmp(ev->kind, "verdict") == 0)
		return (name = evlog_str_of(ev, "registry")) != NULL && strcmp(name, registry) == 0;
	return strcmp(ev->kind, "blind") == 0 || strcmp(ev->kind, "override") == 0 ||
	       strcmp(ev->kind, "verdicts") == 0 || strcmp(ev->kind, "guard") == 0;
}

/* One event as the document lists it: the fields it has of those listed, re-escaped. */
static void
event_item(FILE *f, const struct evlog_event *ev, int first)
{
	fprintf(f, "%s{\"time\":", first ? "" : ",");
	jstr0(f, ev->time);
	fprintf(f, ",\"event\":");
	jstr0(f, ev->kind);
	for (size_t i = 0; str_keys[i] != NULL; i++) {
		const char *v = evlog_str_of(ev, str_keys[i]);

		if (v == NULL)
			continue;
		fprintf(f, ",\"%s\":", str_keys[i]);
		jstr0(f, v);
	}
	for (size_t i = 0; num_keys[i] != NULL; i++) {
		long long n = evlog_num_of(ev, num_keys[i]);

		if (n >= 0)
			fprintf(f, ",\"%s\":%lld", num_keys[i], n);
	}
	fprintf(f, "}");
}

/* "DEV.INO.OFFSET" in hex: 0, or -1 when s is not one. */
static int
cursor_parse(const char *s, uint64_t *dev, uint64_t *ino, uint64_t *off)
{
	char *end;

	errno = 0;
	*dev = strtoull(s, &end, 16);
	if (end == s || *end != '.')
		return -1;
	s = end + 1;
	*ino = strtoull(s, &end, 16);
	if (end == s || *end != '.')
		return -1;
	s = end + 1;
	*off = strtoull(s, &end, 16);
	return end == s || *end != '\0' || errno != 0 ? -1 : 0;
}

void
events_query(const char *query, struct events_q *q)
{
	memset(q, 0, sizeof(*q));
	q->limit = EVENTS_LIMIT;
	while (query != NULL && *query != '\0') {
		size_t len = strcspn(query, "&");

		if (strncmp(query, "after=", 6) == 0 && len - 6 < sizeof(q->after)) {
			memcpy(q->after, query + 6, len - 6);
			q->after[len - 6] = '\0';
		} else if (strncmp(query, "registry=", 9) == 0) {
			size_t w = 0;

			/* A name is [a-z0-9._-]: anything else (escaped or not) names none. */
			for (size_t i = 9; i < len && w + 1 < sizeof(q->registry); i++)
				q->registry[w++] = util_is_name_byte((unsigned char)query[i]) ? query[i] : '/';
			q->registry[w] = '\0';
			q->have_registry = 1;
		} else if (strncmp(query, "limit=", 6) == 0) {
			long v = strtol(query + 6, NULL, 10);

			q->limit = v < 1 ? 1 : v > EVENTS_LIMIT_MAX ? EVENTS_LIMIT_MAX : (size_t)v;
		}
		query += len + (query[len] == '&');
	}
}

/* The document's head: what every answer has. */
static void
head(FILE *f, const struct events_in *in, const char *state, const char *detail)
{
	char when[32];

	util_iso_time(in->now, when, sizeof(when));
	fprintf(f, "{\"version\":1,\"generated\":\"%s\",\"node\":", when);
	jstr0(f, in->node ? in->node : "");
	fprintf(f, ",\"region\":");
	jstr0(f, in->conf ? in->conf->region : "");
	fprintf(f, ",\"log\":{\"path\":");
	jstr0(f, in->conf ? in->conf->event_log : "");
	fprintf(f, ",\"state\":\"%s\",\"detail\":", state);
	jstr0(f, detail);
	fprintf(f, "}");
}

void
events_json(FILE *f, const struct events_in *in)
{
	const struct events_q *q = in->q;
	const char *path = in->conf ? in->conf->event_log : "";
	const char *reg = q->have_registry ? q->registry : NULL;
	uint64_t cdev, cino, coff;
	int have_cursor = q->after[0] != '\0', reset = 0, fd;
	struct stat st;
	off_t from, upto, next;
	ssize_t got;
	char *buf, *p, *end;
	const char **lines;
	size_t n = 0, shown = 0;

	if (in->conf == NULL || path[0] == '\0') {
		head(f, in, "none", in->conf == NULL ? "the configuration did not load" :
		     "prober.event_log is not set: no events are kept here");
		fprintf(f, ",\"cursor\":null,\"reset\":false,\"more\":false,\"events\":[]}\n");
		return;
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 || fstat(fd, &st) != 0) {
		head(f, in, "unreadable", strerror(errno));
		fprintf(f, ",\"cursor\":null,\"reset\":false,\"more\":false,\"events\":[]}\n");
		if (fd != -1)
			close(fd);
		return;
	}
	if (have_cursor && cursor_parse(q->after, &cdev, &cino, &coff) != 0) {
		head(f, in, "ok", "");
		fprintf(f, ",\"error\":\"after: not a cursor of this document\",\"cursor\":null,"
		        "\"reset\":false,\"more\":false,\"events\":[]}\n");
		close(fd);
		return;
	}
	/* Forward from the cursor; from the start when the log was rotated or cut since. */
	if (have_cursor) {
		reset = cdev != (uint64_t)st.st_dev || cino != (uint64_t)st.st_ino ||
		        coff > (uint64_t)st.st_size;
		from = reset ? 0 : (off_t)coff;
		upto = st.st_size - from > EVENTS_READ ? from + EVENTS_READ : st.st_size;
	} else {
		upto = st.st_size;
		from = upto > EVENTS_READ ? upto - EVENTS_READ : 0;
	}
	buf = xmalloc((size_t)(upto - from) + 1);
	got = upto > from ? pread(fd, buf, (size_t)(upto - from), from) : 0;
	close(fd);
	if (got < 0) {
		head(f, in, "unreadable", strerror(errno));
		fprintf(f, ",\"cursor\":null,\"reset\":false,\"more\":false,\"events\":[]}\n");
		free(buf);
		return;
	}
	end = buf + got;
	*end = '\0';
	p = buf;
	/* The tail starts in the middle of a line: that piece is not an event. */
	if (!have_cursor && from > 0) {
		p = memchr(buf, '\n', (size_t)got);
		p = p != NULL ? p + 1 : end;
	}
	lines = xcalloc((size_t)got / 2 + 1, sizeof(*lines));
	while (p < end) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		struct evlog_event ev;
		char why[160];

		if (nl == NULL)
			break; /* a line still being written: the next request's */
		*nl = '\0';
		/* A line that is not an event of ours is passed over. */
		if (evlog_parse(p, (size_t)(nl - p), &ev, why, sizeof(why)) == 0) {
			if (event_about(&ev, reg))
				lines[n++] = p;
			evlog_event_free(&ev);
		}
		p = nl + 1;
		/* Forward: the first limit, and the cursor right after the last. */
		if (have_cursor && n == q->limit)
			break;
	}
	/* A whole read without one line end is no line of ours: passed over, not read again. */
	if (p == buf && got == EVENTS_READ)
		p = end;
	next = from + (off_t)(p - buf);
	head(f, in, "ok", "");
	fprintf(f, ",\"cursor\":\"%" PRIx64 ".%" PRIx64 ".%" PRIx64 "\",\"reset\":%s,"
	        "\"more\":%s,\"events\":[", (uint64_t)st.st_dev, (uint64_t)st.st_ino,
	        (uint64_t)next, reset ? "true" : "false", next < st.st_size ? "true" : "false");
	/* Oldest first: forward, the first limit; from the tail, the last limit. */
	for (size_t k = n > q->limit ? n - q->limit : 0; k < n; k++) {
		struct evlog_event ev;
		char why[160];

		if (evlog_parse(lines[k], strlen(lines[k]), &ev, why, sizeof(why)) == 0) {
			event_item(f, &ev, shown++ == 0);
			evlog_event_free(&ev);
		}
	}
	fprintf(f, "]}\n");
	free(lines);
	free(buf);
}
