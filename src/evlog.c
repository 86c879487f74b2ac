/*
 * evlog.c: the event log (prober.event_log; docs/events.md): JSON lines, one
 * event each, appended in one write(2).  The one writer of a line (evlog_line,
 * evlog_str, evlog_num, evlog_end) and the one reader (evlog_parse), which
 * checks every line the writer appends.
 *
 * The reader is a JSON parser for what the log holds: one object per line whose
 * values are strings, integers, true, false or null, keys of [a-z0-9_].
 * Within that it is exact JSON (RFC 8259): any order of fields, whitespace
 * between tokens, every escape (\uXXXX with surrogate pairs), UTF-8 checked;
 * anything else (a nested value, a fraction, a duplicate key, a bad escape,
 * bytes after the object) refuses the line whole, with the column and why.
 * fuzz/fuzz_evlog.c holds it to jansson's reading of the same bytes.  Not
 * jansson itself: the responder's admin side reads the log too (the events
 * document, the status document's transitions) and links no JSON library.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "deephealth.h"

/* ---------------------------------------------------------------- writing */

void
evlog_line(FILE *m, time_t when)
{
	char t[32];

	util_iso_time(when, t, sizeof(t));
	fprintf(m, "{\"time\":\"%s\"", t);
}

void
evlog_strn(FILE *m, const char *key, const char *v, size_t len)
{
	char *e = util_json_strn(v, len);

	fprintf(m, ",\"%s\":\"%s\"", key, e);
	free(e);
}

void
evlog_str(FILE *m, const char *key, const char *v)
{
	evlog_strn(m, key, v, strlen(v));
}

void
evlog_num(FILE *m, const char *key, long long v)
{
	fprintf(m, ",\"%s\":%lld", key, v);
}

int
evlog_end(FILE *m)
{
	return fputs("}\n", m) == EOF ? -1 : 0;
}

int
evlog_append(const char *path, int fd, const char *buf, size_t len, char *err, size_t errlen)
{
	const char *p = buf, *end = buf + len;
	int own = fd == -1, rc = 0;

	/* Every line as a reader will take it: a writer's mistake is refused here, not
	 * met later by every reader of the log. */
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		struct evlog_event ev;
		char why[160];

		if (nl == NULL || evlog_parse(p, (size_t)(nl - p), &ev, why, sizeof(why)) != 0) {
			snprintf(err, errlen, "event log %s: a line not written: %s", path,
			         nl == NULL ? "no line end" : why);
			return -1;
		}
		evlog_event_free(&ev);
		p = nl + 1;
	}
	if (len == 0)
		return 0;
	if (own && (fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644)) == -1) {
		snprintf(err, errlen, "event log %s: %s", path, strerror(errno));
		return -1;
	}
	errno = 0;
	if (write(fd, buf, len) != (ssize_t)len) {
		snprintf(err, errlen, "event log %s: %s", path,
		         errno != 0 ? strerror(errno) : "short write");
		rc = -1;
	}
	if (own)
		close(fd);
	return rc;
}

/* ---------------------------------------------------------------- reading */

struct rd {
	const char *s, *p, *end;
	char *o;                     /* where the next unescaped byte goes (in ev->buf) */
	char *err;
	size_t errlen;
};

static int
fail(struct rd *r, const char *fmt, ...)
{
	char msg[120];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(r->err, r->errlen, "column %zu: %s", (size_t)(r->p - r->s) + 1, msg);
	return -1;
}

static void
ws(struct rd *r)
{
	while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\r' || *r->p == '\n'))
		r->p++;
}

static int
hex4(const char *p, unsigned *v)
{
	*v = 0;
	for (int i = 0; i < 4; i++) {
		int c = (unsigned char)p[i], d = c >= '0' && c <= '9' ? c - '0' :
		        c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;

		if (d < 0)
			return -1;
		*v = *v << 4 | (unsigned)d;
	}
	return 0;
}

/* Code point u as UTF-8 at r->o. */
static void
put_utf8(struct rd *r, unsigned u)
{
	if (u < 0x80) {
		*r->o++ = (char)u;
	} else if (u < 0x800) {
		*r->o++ = (char)(0xc0 | u >> 6);
		*r->o++ = (char)(0x80 | (u & 0x3f));
	} else if (u < 0x10000) {
		*r->o++ = (char)(0xe0 | u >> 12);
		*r->o++ = (char)(0x80 | (u >> 6 & 0x3f));
		*r->o++ = (char)(0x80 | (u & 0x3f));
	} else {
		*r->o++ = (char)(0xf0 | u >> 18);
		*r->o++ = (char)(0x80 | (u >> 12 & 0x3f));
		*r->o++ = (char)(0x80 | (u >> 6 & 0x3f));
		*r->o++ = (char)(0x80 | (u & 0x3f));
	}
}

/*
 * A string at r->p (the opening quote), unescaped into r->o and NUL-terminated;
 * *out is where it starts.  No escape makes more bytes than it takes, so the
 * line's length is room enough.
 */
static int
string(struct rd *r, const char **out)
{
	*out = r->o;
	r->p++;
	for (;;) {
		unsigned char c;

		if (r->p >= r->end)
			return fail(r, "a string not closed");
		c = (unsigned char)*r->p;
		if (c == '"') {
			r->p++;
			*r->o++ = '\0';
			return 0;
		}
		if (c < 0x20)
			return fail(r, "a control byte (0x%02x) in a string", c);
		if (c >= 0x80) {
			size_t n = util_utf8_len((const unsigned char *)r->p, (size_t)(r->end - r->p));

			if (n == 0)
				return fail(r, "not UTF-8 (0x%02x)", c);
			memcpy(r->o, r->p, n);
			r->o += n;
			r->p += n;
			continue;
		}
		if (c != '\\') {
			*r->o++ = (char)c;
			r->p++;
			continue;
		}
		if (r->end - r->p < 2)
			return fail(r, "an escape cut short");
		switch (r->p[1]) {
		case '"': case '\\': case '/': *r->o++ = r->p[1]; break;
		case 'b': *r->o++ = '\b'; break;
		case 'f': *r->o++ = '\f'; break;
		case 'n': *r->o++ = '\n'; break;
		case 'r': *r->o++ = '\r'; break;
		case 't': *r->o++ = '\t'; break;
		case 'u': {
			unsigned u, lo;

			if (r->end - r->p < 6 || hex4(r->p + 2, &u) != 0)
				return fail(r, "\\u without four hex digits");
			if (u == 0)
				return fail(r, "\\u0000: no NUL in a string of ours");
			if (u >= 0xdc00 && u <= 0xdfff)
				return fail(r, "\\u%04x: a low surrogate alone", u);
			if (u >= 0xd800 && u <= 0xdbff) {
				if (r->end - r->p < 12 || r->p[6] != '\\' || r->p[7] != 'u' ||
				    hex4(r->p + 8, &lo) != 0 || lo < 0xdc00 || lo > 0xdfff)
					return fail(r, "\\u%04x: a high surrogate without its low one", u);
				u = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
				r->p += 6;
			}
			put_utf8(r, u);
			r->p += 4;
			break;
		}
		default:
			return fail(r, "an unknown escape \\ and 0x%02x", (unsigned char)r->p[1]);
		}
		r->p += 2;
	}
}

/* An integer (JSON's: -?(0|[1-9][0-9]*)), or true, false, null; a fraction or exponent refused. */
static int
scalar(struct rd *r, struct evlog_field *f)
{
	static const struct { const char *word; int type; long long v; } words[] = {
		{ "true", EVLOG_BOOL, 1 }, { "false", EVLOG_BOOL, 0 }, { "null", EVLOG_NULL, 0 },
	};
	const char *q = r->p;
	long long v = 0;
	int neg = 0;

	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		size_t n = strlen(words[i].word);

		if ((size_t)(r->end - r->p) >= n && memcmp(r->p, words[i].word, n) == 0) {
			f->type = words[i].type;
			f->num = words[i].v;
			r->p += n;
			return 0;
		}
	}
	if (q < r->end && *q == '-') {
		neg = 1;
		q++;
	}
	if (q >= r->end || *q < '0' || *q > '9')
		return fail(r, "a value that is not a string, an integer, true, false or null");
	if (*q == '0' && q + 1 < r->end && q[1] >= '0' && q[1] <= '9')
		return fail(r, "a number with a leading zero");
	for (; q < r->end && *q >= '0' && *q <= '9'; q++) {
		int d = *q - '0';

		/* Accumulated negative, so LLONG_MIN fits. */
		if (v < (LLONG_MIN + d) / 10)
			return fail(r, "an integer out of range");
		v = v * 10 - d;
	}
	if (q < r->end && (*q == '.' || *q == 'e' || *q == 'E'))
		return fail(r, "a number that is not an integer");
	if (!neg && v == LLONG_MIN)
		return fail(r, "an integer out of range");
	f->type = EVLOG_INT;
	f->num = neg ? v : -v;
	r->p = q;
	return 0;
}

int
evlog_parse(const char *line, size_t len, struct evlog_event *ev, char *err, size_t errlen)
{
	struct rd r = { line, line, line + len, NULL, err, errlen };
	const char *dep = NULL;

	memset(ev, 0, sizeof(*ev));
	ev->buf = r.o = xmalloc(len + 1);
	ws(&r);
	if (r.p >= r.end || *r.p != '{') {
		fail(&r, "not a JSON object");
		goto bad;
	}
	r.p++;
	ws(&r);
	if (r.p < r.end && *r.p == '}') {
		fail(&r, "an empty object");
		goto bad;
	}
	for (;;) {
		struct evlog_field *f;
		const char *key, *key_at;

		ws(&r);
		if (r.p >= r.end || *r.p != '"') {
			fail(&r, "a key expected");
			goto bad;
		}
		if (ev->n == EVLOG_FIELDS_MAX) {
			fail(&r, "more than %d fields", EVLOG_FIELDS_MAX);
			goto bad;
		}
		key_at = r.p;
		if (string(&r, &key) != 0)
			goto bad;
		if (key[0] == '\0' || strlen(key) > EVLOG_KEY_MAX ||
		    strspn(key, "abcdefghijklmnopqrstuvwxyz0123456789_") != strlen(key)) {
			r.p = key_at;
			fail(&r, "a key of ours is 1 to %d of [a-z0-9_]", EVLOG_KEY_MAX);
			goto bad;
		}
		if (evlog_get(ev, key) != NULL) {
			r.p = key_at;
			fail(&r, "\"%s\" twice", key);
			goto bad;
		}
		f = &ev->f[ev->n];
		f->key = key;
		ws(&r);
		if (r.p >= r.end || *r.p != ':') {
			fail(&r, "':' expected after \"%s\"", key);
			goto bad;
		}
		r.p++;
		ws(&r);
		if (r.p < r.end && *r.p == '"') {
			f->type = EVLOG_STR;
			if (string(&r, &f->str) != 0)
				goto bad;
		} else if (scalar(&r, f) != 0) {
			goto bad;
		}
		ev->n++;
		ws(&r);
		if (r.p < r.end && *r.p == ',') {
			r.p++;
			continue;
		}
		if (r.p < r.end && *r.p == '}') {
			r.p++;
			break;
		}
		fail(&r, "',' or '}' expected");
		goto bad;
	}
	ws(&r);
	if (r.p != r.end) {
		fail(&r, "bytes after the object");
		goto bad;
	}
	if ((ev->time = evlog_str_of(ev, "time")) == NULL) {
		fail(&r, "no \"time\" string");
		goto bad;
	}
	ev->kind = evlog_str_of(ev, "event");
	dep = evlog_str_of(ev, "dependency");
	if (evlog_get(ev, "event") != NULL &&
	    (ev->kind == NULL || ev->kind[0] == '\0' ||
	     strspn(ev->kind, "abcdefghijklmnopqrstuvwxyz_") != strlen(ev->kind))) {
		fail(&r, "\"event\" is not a kind's name");
		goto bad;
	}
	if (ev->kind == NULL && dep == NULL) {
		fail(&r, "neither \"event\" nor \"dependency\": no event of ours");
		goto bad;
	}
	if (ev->kind == NULL)
		ev->kind = "transition";
	/* Every reader takes a transition's dependency as there. */
	if (strcmp(ev->kind, "transition") == 0 && dep == NULL) {
		fail(&r, "a transition without its \"dependency\" string");
		goto bad;
	}
	return 0;
bad:
	evlog_event_free(ev);
	return -1;
}

const struct evlog_field *
evlog_get(const struct evlog_event *ev, const char *key)
{
	for (size_t i = 0; i < ev->n; i++)
		if (strcmp(ev->f[i].key, key) == 0)
			return &ev->f[i];
	return NULL;
}

const char *
evlog_str_of(const struct evlog_event *ev, const char *key)
{
	const struct evlog_field *f = evlog_get(ev, key);

	return f != NULL && f->type == EVLOG_STR ? f->str : NULL;
}

long long
evlog_num_of(const struct evlog_event *ev, const char *key)
{
	const struct evlog_field *f = evlog_get(ev, key);

	return f != NULL && f->type == EVLOG_INT ? f->num : -1;
}

void
evlog_event_free(struct evlog_event *ev)
{
	free(ev->buf);
	memset(ev, 0, sizeof(*ev));
}
