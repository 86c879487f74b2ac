/*
 * fuzz_evlog.c: the event log's reader (evlog_parse, src/evlog.c) held to
 * jansson's reading of the same bytes.  The input is one line.  Invariants:
 *   - a line evlog_parse reads, jansson reads too (JSON_REJECT_DUPLICATES), as
 *     an object with the same fields in the same order: each string's bytes
 *     equal, each integer equal, true, false and null the same;
 *   - a line jansson reads as a flat object of strings (no NUL), integers,
 *     true, false and null, with 1..EVLOG_FIELDS_MAX keys of [a-z0-9_] (at most
 *     EVLOG_KEY_MAX bytes each), a "time" string, an "event" string of [a-z_]
 *     or none, and a "dependency" string when the kind is a transition (no
 *     "event", or "event":"transition"), evlog_parse reads too: it refuses
 *     nothing that is ours (a line with a raw NUL byte aside: no JSON, though
 *     jansson reads some);
 *   - a line it reads, written again by the one writer (evlog_line with a time
 *     of its own, then evlog_str and evlog_num for every other field), reads
 *     back to the same fields in the same order;
 *   - a refused line says why with a column inside the line (or just past it).
 */
#define _GNU_SOURCE /* open_memstream */

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Is this field of jansson's one evlog_parse must take? */
static int
ours_value(const json_t *v)
{
	if (json_is_string(v))
		return memchr(json_string_value(v), '\0', json_string_length(v)) == NULL;
	return json_is_integer(v) || json_is_true(v) || json_is_false(v) || json_is_null(v);
}

static int
ours_key(const char *k)
{
	size_t n = strlen(k);

	return n >= 1 && n <= EVLOG_KEY_MAX &&
	       strspn(k, "abcdefghijklmnopqrstuvwxyz0123456789_") == n;
}

/* Would the reader take what jansson made of the line? */
static int
ours_object(json_t *o)
{
	const char *k;
	json_t *v, *t, *e, *d;

	if (!json_is_object(o) || json_object_size(o) < 1 || json_object_size(o) > EVLOG_FIELDS_MAX)
		return 0;
	json_object_foreach(o, k, v)
		if (!ours_key(k) || !ours_value(v))
			return 0;
	t = json_object_get(o, "time");
	e = json_object_get(o, "event");
	d = json_object_get(o, "dependency");
	if (!json_is_string(t))
		return 0;
	if (e != NULL && !(json_is_string(e) && json_string_length(e) > 0 &&
	                   strspn(json_string_value(e), "abcdefghijklmnopqrstuvwxyz_") ==
	                   json_string_length(e)))
		return 0;
	/* A transition (no "event", or "event":"transition") has its dependency. */
	return json_is_string(d) || (e != NULL && strcmp(json_string_value(e), "transition") != 0);
}

/* The same field, jansson's and ours? */
static void
same_field(const struct evlog_field *f, const json_t *v, const char *line, size_t len)
{
	switch (f->type) {
	case EVLOG_STR:
		FZ_CHECK(json_is_string(v) && json_string_length(v) == strlen(f->str) &&
		         memcmp(json_string_value(v), f->str, strlen(f->str)) == 0,
		         "\"%s\": a string that jansson reads otherwise: %.*s", f->key, (int)len, line);
		break;
	case EVLOG_INT:
		FZ_CHECK(json_is_integer(v) && json_integer_value(v) == f->num,
		         "\"%s\": %lld, jansson another: %.*s", f->key, f->num, (int)len, line);
		break;
	case EVLOG_BOOL:
		FZ_CHECK(f->num ? json_is_true(v) : json_is_false(v), "\"%s\": a boolean: %.*s",
		         f->key, (int)len, line);
		break;
	case EVLOG_NULL:
		FZ_CHECK(json_is_null(v), "\"%s\": null: %.*s", f->key, (int)len, line);
		break;
	}
}

/* Put one field with the writer. */
static void
put(FILE *m, const struct evlog_field *f)
{
	if (f->type == EVLOG_STR)
		evlog_str(m, f->key, f->str);
	else if (f->type == EVLOG_INT)
		evlog_num(m, f->key, f->num);
	else /* the writers make none of these: written by hand, as a future writer would */
		fprintf(m, ",\"%s\":%s", f->key, f->type == EVLOG_NULL ? "null" :
		        f->num ? "true" : "false");
}

/*
 * Write ev again with the writer (evlog_line's own time first, then every other
 * field in order) and read it back: the same fields, the same order.
 */
static void
round_trip(const struct evlog_event *ev)
{
	char *buf = NULL, err[160];
	size_t len = 0, j = 1;
	struct evlog_event back;
	FILE *m = open_memstream(&buf, &len);

	FZ_CHECK(m != NULL, "open_memstream");
	evlog_line(m, 1796000000);
	for (size_t i = 0; i < ev->n; i++)
		if (strcmp(ev->f[i].key, "time") != 0)
			put(m, &ev->f[i]);
	FZ_CHECK(evlog_end(m) == 0, "evlog_end");
	FZ_CHECK(fclose(m) == 0, "memstream");
	FZ_CHECK(len > 0 && buf[len - 1] == '\n', "no line end");
	FZ_CHECK(evlog_parse(buf, len - 1, &back, err, sizeof(err)) == 0,
	         "the writer's line refused (%s): %.*s", err, (int)len, buf);
	FZ_CHECK(back.n == ev->n, "%zu fields back, %zu written", back.n, ev->n);
	FZ_CHECK(strcmp(back.f[0].key, "time") == 0 && strcmp(back.time, "2026-11-30T00:53:20Z") == 0,
	         "the time: %s", back.time);
	FZ_CHECK(strcmp(back.kind, ev->kind) == 0, "the kind: %s, was %s", back.kind, ev->kind);
	for (size_t i = 0; i < ev->n; i++) {
		const struct evlog_field *a = &ev->f[i], *b;

		if (strcmp(a->key, "time") == 0)
			continue;
		b = &back.f[j++];
		FZ_CHECK(strcmp(a->key, b->key) == 0 && a->type == b->type, "field %zu", i);
		/* The reader gives only UTF-8, which the writer keeps as it is. */
		FZ_CHECK(a->type != EVLOG_STR || strcmp(a->str, b->str) == 0, "\"%s\" changed",
		         a->key);
		FZ_CHECK(a->type == EVLOG_STR || a->num == b->num, "\"%s\" changed", a->key);
	}
	evlog_event_free(&back);
	free(buf);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *line = (const char *)data;
	struct evlog_event ev;
	json_error_t je;
	json_t *o;
	char err[160];
	int rc;

	if (size > 64 * 1024)
		return 0;
	rc = evlog_parse(line, size, &ev, err, sizeof(err));
	o = json_loadb(line, size, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
	if (rc == 0) {
		const char *k;
		json_t *v;
		size_t i = 0;

		FZ_CHECK(o != NULL, "read, but jansson refuses it (%s): %.*s", je.text, (int)size, line);
		FZ_CHECK(json_is_object(o) && json_object_size(o) == ev.n, "%zu fields, jansson %zu",
		         ev.n, json_is_object(o) ? json_object_size(o) : 0);
		/* jansson keeps the insertion order of an object's keys. */
		json_object_foreach(o, k, v) {
			FZ_CHECK(strcmp(k, ev.f[i].key) == 0, "field %zu: \"%s\", jansson \"%s\"", i,
			         ev.f[i].key, k);
			same_field(&ev.f[i], v, line, size);
			i++;
		}
		round_trip(&ev);
		evlog_event_free(&ev);
	} else {
		unsigned long col = strtoul(err + strlen("column "), NULL, 10);

		FZ_CHECK(strncmp(err, "column ", 7) == 0 && col >= 1 && col <= size + 1,
		         "a refusal without its column: %s", err);
		/* A raw NUL byte is no JSON; jansson 2.14 passes over one between tokens. */
		FZ_CHECK(o == NULL || !ours_object(o) || memchr(line, '\0', size) != NULL,
		         "jansson reads an event of ours that is refused (%s): %.*s", err, (int)size,
		         line);
	}
	json_decref(o);
	return 0;
}
