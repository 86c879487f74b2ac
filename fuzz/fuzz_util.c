/* fuzz_util.c: helpers every harness of fuzz/ links: scratch files, errfn, fields, JSON. */
#define _GNU_SOURCE

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"

static char scratch[256];

static void
scratch_remove(void)
{
	DIR *d;
	struct dirent *e;
	char p[4200];

	if (scratch[0] == '\0' || (d = opendir(scratch)) == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(p, sizeof(p), "%s/%s", scratch, e->d_name);
		unlink(p);
	}
	closedir(d);
	rmdir(scratch);
}

const char *
fz_dir(void)
{
	if (scratch[0] == '\0') {
		const char *t = getenv("TMPDIR");

		snprintf(scratch, sizeof(scratch), "%s/dh-fuzz-XXXXXX", t && t[0] ? t : "/tmp");
		if (mkdtemp(scratch) == NULL)
			fz_die("mkdtemp %s: %s", scratch, strerror(errno));
		atexit(scratch_remove);
	}
	return scratch;
}

char *
fz_path(const char *name, char *out, size_t len)
{
	snprintf(out, len, "%s/%s", fz_dir(), name);
	return out;
}

void
fz_write(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	const char *p = data;

	if (fd == -1)
		fz_die("open %s: %s", path, strerror(errno));
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			fz_die("write %s: %s", path, strerror(errno));
		p += n;
		len -= (size_t)n;
	}
	close(fd);
}

void
fz_errfn(void *arg, const char *fmt, ...)
{
	static int verbose = -1;
	char msg[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (verbose < 0)
		verbose = getenv("FUZZ_VERBOSE") != NULL;
	if (verbose)
		fprintf(stderr, "errfn: %s\n", msg);
	if (arg != NULL)
		(*(int *)arg)++;
}

void
fz_die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "\n==fuzz invariant== ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	abort();
}

size_t
fz_split(const uint8_t *data, size_t size, const char *seps, char **fields, size_t max)
{
	size_t n = 0, start = 0;

	if (max == 0)
		return 0;
	for (size_t i = 0; i <= size; i++) {
		int sep = i < size && memchr(seps, data[i], strlen(seps) + 1) != NULL;

		if (i < size && (!sep || n + 1 == max))
			continue;
		fields[n] = malloc(i - start + 1);
		if (fields[n] == NULL)
			abort();
		memcpy(fields[n], data + start, i - start);
		fields[n][i - start] = '\0';
		n++;
		start = i + 1;
		if (i == size || n == max)
			break;
	}
	return n;
}

void
fz_fields_free(char **fields, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(fields[i]);
}

/* ---------------------------------------------------------------- UTF-8 and JSON */

size_t
fz_utf8_seq(const unsigned char *p, size_t left)
{
	uint32_t cp, min;
	size_t n;

	if (left == 0)
		return 0;
	if (p[0] < 0x80)
		return 1;
	if ((p[0] & 0xe0) == 0xc0) {
		n = 2, cp = p[0] & 0x1f, min = 0x80;
	} else if ((p[0] & 0xf0) == 0xe0) {
		n = 3, cp = p[0] & 0x0f, min = 0x800;
	} else if ((p[0] & 0xf8) == 0xf0) {
		n = 4, cp = p[0] & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (left < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

static void
put_utf8(char *out, size_t *o, uint32_t cp)
{
	if (cp < 0x80) {
		out[(*o)++] = (char)cp;
	} else if (cp < 0x800) {
		out[(*o)++] = (char)(0xc0 | cp >> 6);
		out[(*o)++] = (char)(0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		out[(*o)++] = (char)(0xe0 | cp >> 12);
		out[(*o)++] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[(*o)++] = (char)(0x80 | (cp & 0x3f));
	} else {
		out[(*o)++] = (char)(0xf0 | cp >> 18);
		out[(*o)++] = (char)(0x80 | ((cp >> 12) & 0x3f));
		out[(*o)++] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[(*o)++] = (char)(0x80 | (cp & 0x3f));
	}
}

static int
hex4(const char *s, uint32_t *v)
{
	*v = 0;
	for (int i = 0; i < 4; i++) {
		char c = s[i];

		*v <<= 4;
		if (c >= '0' && c <= '9')
			*v |= (uint32_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			*v |= (uint32_t)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			*v |= (uint32_t)(c - 'A' + 10);
		else
			return 0;
	}
	return 1;
}

/*
 * The inside of a string from s[*i] to its closing quote (excluded) or the end;
 * with out, decoded there.  A lone surrogate escape is refused: what we write
 * must decode to Unicode text.  Returns 1 and leaves *i on the quote (or len).
 */
static int
string_body(const char *s, size_t len, size_t *i, char *out, size_t *olen)
{
	size_t o = 0;

	while (*i < len && s[*i] != '"') {
		const unsigned char *p = (const unsigned char *)s + *i;
		size_t n;

		if (*p < 0x20)
			return 0;
		if (*p == '\\') {
			uint32_t cp, lo;

			if (*i + 1 >= len)
				return 0;
			switch (p[1]) {
			case '"': case '\\': case '/':
				if (out)
					out[o++] = (char)p[1];
				*i += 2;
				continue;
			case 'b': case 'f': case 'n': case 'r': case 't':
				if (out)
					out[o++] = p[1] == 'b' ? '\b' : p[1] == 'f' ? '\f' : p[1] == 'n' ? '\n'
					           : p[1] == 'r' ? '\r' : '\t';
				*i += 2;
				continue;
			case 'u':
				if (*i + 6 > len || !hex4(s + *i + 2, &cp))
					return 0;
				*i += 6;
				if (cp >= 0xdc00 && cp <= 0xdfff)
					return 0;
				if (cp >= 0xd800 && cp <= 0xdbff) {
					if (*i + 6 > len || s[*i] != '\\' || s[*i + 1] != 'u' ||
					    !hex4(s + *i + 2, &lo) || lo < 0xdc00 || lo > 0xdfff)
						return 0;
					*i += 6;
					cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				}
				if (out)
					put_utf8(out, &o, cp);
				continue;
			default:
				return 0;
			}
		}
		if ((n = fz_utf8_seq(p, len - *i)) == 0)
			return 0;
		if (out)
			memcpy(out + o, p, n);
		o += n;
		*i += n;
	}
	if (olen)
		*olen = o;
	return 1;
}

int
fz_json_string_body(const char *s, size_t len, char **out, size_t *outlen)
{
	size_t i = 0;
	char *buf = malloc(len + 1);

	if (buf == NULL)
		abort();
	if (!string_body(s, len, &i, buf, outlen) || i != len) {
		free(buf);
		return 0;
	}
	*out = buf;
	return 1;
}

static void
skip_ws(const char *s, size_t len, size_t *i)
{
	while (*i < len && (s[*i] == ' ' || s[*i] == '\t' || s[*i] == '\n' || s[*i] == '\r'))
		(*i)++;
}

static int value(const char *s, size_t len, size_t *i, int depth);

static int
number(const char *s, size_t len, size_t *i)
{
	size_t d;

	if (*i < len && s[*i] == '-')
		(*i)++;
	if (*i < len && s[*i] == '0') {
		(*i)++;
	} else {
		for (d = 0; *i < len && s[*i] >= '0' && s[*i] <= '9'; d++)
			(*i)++;
		if (d == 0)
			return 0;
	}
	if (*i < len && s[*i] == '.') {
		(*i)++;
		for (d = 0; *i < len && s[*i] >= '0' && s[*i] <= '9'; d++)
			(*i)++;
		if (d == 0)
			return 0;
	}
	if (*i < len && (s[*i] == 'e' || s[*i] == 'E')) {
		(*i)++;
		if (*i < len && (s[*i] == '+' || s[*i] == '-'))
			(*i)++;
		for (d = 0; *i < len && s[*i] >= '0' && s[*i] <= '9'; d++)
			(*i)++;
		if (d == 0)
			return 0;
	}
	return 1;
}

static int
string(const char *s, size_t len, size_t *i)
{
	if (*i >= len || s[*i] != '"')
		return 0;
	(*i)++;
	if (!string_body(s, len, i, NULL, NULL) || *i >= len)
		return 0;
	(*i)++;
	return 1;
}

static int
word(const char *s, size_t len, size_t *i, const char *w)
{
	size_t n = strlen(w);

	if (len - *i < n || memcmp(s + *i, w, n) != 0)
		return 0;
	*i += n;
	return 1;
}

static int
value(const char *s, size_t len, size_t *i, int depth)
{
	if (depth > 64)
		return 0;
	skip_ws(s, len, i);
	if (*i >= len)
		return 0;
	switch (s[*i]) {
	case '{':
		(*i)++;
		skip_ws(s, len, i);
		if (*i < len && s[*i] == '}') {
			(*i)++;
			return 1;
		}
		for (;;) {
			skip_ws(s, len, i);
			if (!string(s, len, i))
				return 0;
			skip_ws(s, len, i);
			if (*i >= len || s[*i] != ':')
				return 0;
			(*i)++;
			if (!value(s, len, i, depth + 1))
				return 0;
			skip_ws(s, len, i);
			if (*i < len && s[*i] == ',') {
				(*i)++;
				continue;
			}
			if (*i < len && s[*i] == '}') {
				(*i)++;
				return 1;
			}
			return 0;
		}
	case '[':
		(*i)++;
		skip_ws(s, len, i);
		if (*i < len && s[*i] == ']') {
			(*i)++;
			return 1;
		}
		for (;;) {
			if (!value(s, len, i, depth + 1))
				return 0;
			skip_ws(s, len, i);
			if (*i < len && s[*i] == ',') {
				(*i)++;
				continue;
			}
			if (*i < len && s[*i] == ']') {
				(*i)++;
				return 1;
			}
			return 0;
		}
	case '"':
		return string(s, len, i);
	case 't':
		return word(s, len, i, "true");
	case 'f':
		return word(s, len, i, "false");
	case 'n':
		return word(s, len, i, "null");
	default:
		return number(s, len, i);
	}
}

int
fz_json_ok(const char *s, size_t len)
{
	size_t i = 0;

	if (!value(s, len, &i, 0))
		return 0;
	skip_ws(s, len, &i);
	return i == len;
}
