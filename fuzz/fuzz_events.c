/*
 * fuzz_events.c: the events document (events.c) over a hostile event log.
 * The input is a query string, a newline, then the log's bytes, written to a
 * file that a configuration names as prober.event_log.  Invariants: the
 * document is one JSON value whatever the log holds (broken lines, NULs,
 * escapes, a last line still being written); at most limit events are
 * listed; the cursor it gives back, asked again, never lists an event twice
 * and never goes backwards; a cursor read forward to the end lists nothing.
 */
#define _GNU_SOURCE /* open_memstream */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The document for query q; returns it (malloc'd) and its length in *len. */
static char *
doc(const struct conf *c, const char *q, size_t *len)
{
	struct events_q eq;
	char *body = NULL;
	FILE *m;

	events_query(q, &eq);
	FZ_CHECK(eq.limit >= 1 && eq.limit <= EVENTS_LIMIT_MAX, "limit %zu", eq.limit);
	m = open_memstream(&body, len);
	FZ_CHECK(m != NULL, "open_memstream");
	events_json(m, &(struct events_in){ c, "fuzz-node", 1796000000, &eq });
	FZ_CHECK(fclose(m) == 0, "building the document");
	FZ_CHECK(fz_json_ok(body, *len), "events.json is not JSON: %.*s", (int)*len, body);
	return body;
}

/* The value of "key":"..." in a document we wrote (a cursor has no escapes), into out. */
static int
field(const char *d, const char *key, char *out, size_t len)
{
	char pat[32];
	const char *p, *e;

	snprintf(pat, sizeof(pat), "\"%s\":\"", key);
	if ((p = strstr(d, pat)) == NULL)
		return 0;
	p += strlen(pat);
	if ((e = strchr(p, '"')) == NULL || (size_t)(e - p) >= len)
		return 0;
	snprintf(out, len, "%.*s", (int)(e - p), p);
	return 1;
}

/* How many events a document lists: its "time" keys inside "events". */
static size_t
count(const char *d)
{
	const char *p = strstr(d, "\"events\":[");
	size_t n = 0;

	for (p = p ? p : ""; (p = strstr(p, "{\"time\":")) != NULL; p++)
		n++;
	return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct conf c;
	static char path[4200], region[] = "fuzz";
	const uint8_t *nl = memchr(data, '\n', size);
	char q[200], next[300], *d1, *d2;
	size_t qlen = nl ? (size_t)(nl - data) : 0, l1, l2;

	if (nl == NULL || qlen >= sizeof(q) || memchr(data, '\0', qlen) != NULL)
		return 0;
	memcpy(q, data, qlen);
	q[qlen] = '\0';
	fz_path("events.log", path, sizeof(path));
	fz_write(path, nl + 1, size - qlen - 1);
	c.event_log = path;
	c.region = region;
	d1 = doc(&c, q, &l1);
	/* From its cursor, forward: never more than what follows. */
	if (field(d1, "cursor", next, sizeof(next) - 10)) {
		char q2[400];

		snprintf(q2, sizeof(q2), "after=%s&limit=1000", next);
		d2 = doc(&c, q2, &l2);
		FZ_CHECK(strstr(d2, "\"reset\":false") != NULL, "its own cursor reset: %s", d2);
		/* Read to the end, then nothing more is listed. */
		for (int k = 0; k < 64 && strstr(d2, "\"more\":true") != NULL; k++) {
			FZ_CHECK(field(d2, "cursor", next, sizeof(next) - 10), "no cursor: %s", d2);
			free(d2);
			snprintf(q2, sizeof(q2), "after=%s&limit=1000", next);
			d2 = doc(&c, q2, &l2);
		}
		if (field(d2, "cursor", next, sizeof(next) - 10)) {
			char *d3;
			size_t l3;

			snprintf(q2, sizeof(q2), "after=%s", next);
			d3 = doc(&c, q2, &l3);
			FZ_CHECK(count(d3) == 0, "events after the end: %s", d3);
			free(d3);
		}
		free(d2);
	}
	free(d1);
	return 0;
}
