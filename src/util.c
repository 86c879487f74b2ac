/* util.c: small helpers shared by every program: allocation, clock, time, hash, files. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "deephealth.h"

int
util_is_name_byte(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_';
}

int
util_name_ok(const char *s, size_t len)
{
	if (len == 0 || len > DH_NAME_MAX)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!util_is_name_byte((unsigned char)s[i]))
			return 0;
	return 1;
}

void *
xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		fatal("malloc %zu bytes", n);
	return p;
}

void *
xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (p == NULL)
		fatal("calloc %zu x %zu bytes", n, size);
	return p;
}

char *
xstrdup(const char *s)
{
	char *p = strdup(s);

	if (p == NULL)
		fatal("strdup");
	return p;
}

int64_t
util_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint64_t
util_hash64(const void *data, size_t len)
{
	const unsigned char *p = data;
	uint64_t h = 0xcbf29ce484222325ULL;

	while (len--) {
		h ^= *p++;
		h *= 0x100000001b3ULL;
	}
	return h;
}

void
util_iso_time(time_t t, char *out, size_t len)
{
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL || strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, len, "?");
}

const char *
util_plural(long long n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

/* The two largest units that are there: seconds alone below a minute, then minutes and
 * seconds, hours and minutes, days and hours. */
const char *
util_span(int64_t s, char *buf, size_t len)
{
	long long v = s < 0 ? 0 : (long long)s;

	if (v < 60)
		snprintf(buf, len, "%llds", v);
	else if (v < 3600)
		snprintf(buf, len, "%lldm %llds", v / 60, v % 60);
	else if (v < 86400)
		snprintf(buf, len, "%lldh %lldm", v / 3600, v % 3600 / 60);
	else
		snprintf(buf, len, "%lldd %lldh", v / 86400, v % 86400 / 3600);
	return buf;
}

void
file_id_of(const struct stat *st, struct file_id *id)
{
	memset(id, 0, sizeof(*id));
	id->dev = st->st_dev;
	id->ino = st->st_ino;
	id->size = st->st_size;
	id->mtim = st->st_mtim;
	id->ctim = st->st_ctim;
}

int
file_id_eq(const struct file_id *a, const struct file_id *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       a->mtim.tv_sec == b->mtim.tv_sec && a->mtim.tv_nsec == b->mtim.tv_nsec &&
	       a->ctim.tv_sec == b->ctim.tv_sec && a->ctim.tv_nsec == b->ctim.tv_nsec;
}

int
names_find(const char *const *names, const char *s)
{
	for (int i = 0; names[i] != NULL; i++)
		if (strcmp(names[i], s) == 0)
			return i;
	return -1;
}

const char *
names_at(const char *const *names, int i)
{
	for (int k = 0; names[k] != NULL; k++)
		if (k == i)
			return names[k];
	return "?";
}

void *
util_grow(void *p, size_t *cap, size_t need, size_t size)
{
	size_t n = *cap;

	if (need <= n)
		return p;
	while (n < need)
		n = n ? n * 2 : 16;
	if (n > SIZE_MAX / size)
		fatalx("array of %zu x %zu bytes", n, size);
	p = realloc(p, n * size);
	if (p == NULL)
		fatal("realloc");
	*cap = n;
	return p;
}

void
util_close(int *fd, const char *what)
{
	if (*fd != -1 && close(*fd) == -1)
		log_warn("close %s", what);
	*fd = -1;
}

void
util_strv_free(char **v)
{
	for (size_t i = 0; v != NULL && v[i] != NULL; i++)
		free(v[i]);
	free(v);
}

/* ---------------------------------------------------------------- name_index */

struct nidx_slot {
	const char *key;  /* NULL = empty */
	size_t len;
	uint64_t hash;
	uint32_t value;
};

struct name_index {
	struct nidx_slot *slots;
	size_t cap;       /* power of two; at most half full */
	size_t count;
};

struct name_index *
nidx_new(void)
{
	struct name_index *x = xcalloc(1, sizeof(*x));

	x->cap = 64;
	x->slots = xcalloc(x->cap, sizeof(*x->slots));
	return x;
}

void
nidx_free(struct name_index *x)
{
	if (x == NULL)
		return;
	free(x->slots);
	free(x);
}

/* The slot holding key, or the empty one where it would go. */
static struct nidx_slot *
nidx_slot(const struct name_index *x, const char *key, size_t len, uint64_t h)
{
	size_t mask = x->cap - 1;

	for (size_t i = h & mask;; i = (i + 1) & mask) {
		struct nidx_slot *s = &x->slots[i];

		if (s->key == NULL ||
		    (s->hash == h && s->len == len && memcmp(s->key, key, len) == 0))
			return s;
	}
}

int
nidx_add(struct name_index *x, const char *key, size_t len, uint32_t value)
{
	uint64_t h = util_hash64(key, len);
	struct nidx_slot *s;

	if ((x->count + 1) * 2 > x->cap) {
		struct nidx_slot *old = x->slots;
		size_t oldcap = x->cap;

		x->cap *= 2;
		x->slots = xcalloc(x->cap, sizeof(*x->slots));
		for (size_t i = 0; i < oldcap; i++)
			if (old[i].key != NULL)
				*nidx_slot(x, old[i].key, old[i].len, old[i].hash) = old[i];
		free(old);
	}
	s = nidx_slot(x, key, len, h);
	if (s->key != NULL)
		return -1;
	*s = (struct nidx_slot){ key, len, h, value };
	x->count++;
	return 0;
}

int64_t
nidx_find(const struct name_index *x, const char *key, size_t len)
{
	const struct nidx_slot *s;

	if (x == NULL)
		return -1;
	s = nidx_slot(x, key, len, util_hash64(key, len));
	return s->key != NULL ? (int64_t)s->value : -1;
}

void
nidx_replace(struct name_index *x, const char *key, size_t len, uint32_t value)
{
	struct nidx_slot *s = nidx_slot(x, key, len, util_hash64(key, len));

	if (s->key != NULL)
		s->value = value;
}

size_t
nidx_count(const struct name_index *x)
{
	return x != NULL ? x->count : 0;
}

size_t
util_utf8_len(const unsigned char *p, size_t left)
{
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		return left >= 2 && (p[1] & 0xc0) == 0x80 ? 2 : 0;
	if (p[0] >= 0xe0 && p[0] <= 0xef) {
		if (left < 3 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80)
			return 0;
		if ((p[0] == 0xe0 && p[1] < 0xa0) || (p[0] == 0xed && p[1] > 0x9f))
			return 0; /* overlong, or a UTF-16 surrogate */
		return 3;
	}
	if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		if (left < 4 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80 ||
		    (p[3] & 0xc0) != 0x80)
			return 0;
		if ((p[0] == 0xf0 && p[1] < 0x90) || (p[0] == 0xf4 && p[1] > 0x8f))
			return 0; /* overlong, or above U+10FFFF */
		return 4;
	}
	return 0;
}

/*
 * A JSON string's body for s, malloc'd: quotes, backslashes and controls
 * escaped, valid UTF-8 kept, any other byte replaced by U+FFFD, so whatever a
 * plugin printed or a config holds makes valid JSON.
 */
char *
util_json_strn(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + len;
	size_t o = 0;
	char *out = xmalloc(len * 6 + 1);

	while (p < end) {
		size_t n;

		if (*p == '"' || *p == '\\') {
			out[o++] = '\\';
			out[o++] = (char)*p++;
		} else if (*p < 0x20 || *p == 0x7f) {
			o += (size_t)snprintf(out + o, 7, "\\u%04x", *p++);
		} else if (*p < 0x80) {
			out[o++] = (char)*p++;
		} else if ((n = util_utf8_len(p, (size_t)(end - p))) > 0) {
			memcpy(out + o, p, n);
			o += n;
			p += n;
		} else {
			memcpy(out + o, "\\ufffd", 6);
			o += 6;
			p++;
		}
	}
	out[o] = '\0';
	return out;
}

char *
util_json_str(const char *s)
{
	return util_json_strn(s, strlen(s));
}

int
util_lock_open(const char *path)
{
	struct stat st;
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);

	if (fd != -1 && fstat(fd, &st) == 0 && st.st_uid == geteuid() && (st.st_mode & 077) != 0)
		(void)fchmod(fd, 0600);
	return fd;
}

long
util_num(const char *s, long min, long max)
{
	char *end;
	long v;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	return v;
}

/* One line, written whole: "PROG: MESSAGE (see PROG -h)"; then exit 2. */
void
util_usage_error(const char *prog, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s: %s (see %s -h)\n", prog, msg, prog);
	exit(2);
}

/*
 * getopt and getopt_long leave what was wrong in optopt (the short option; 0 for a long one
 * it does not know) and optind (past the element of a long option).  A long option given an
 * argument it does not take comes back as '?' with its short letter in optopt.
 */
const char *
util_opt_error(int ch, char *const *argv, char *buf, size_t len)
{
	const char *el = optind > 0 ? argv[optind - 1] : "";
	int is_long = el != NULL && strncmp(el, "--", 2) == 0;

	if (ch == ':')
		snprintf(buf, len, "option -%c needs an argument", optopt);
	else if (optopt != 0 && is_long && strchr(el, '=') != NULL)
		snprintf(buf, len, "option %.*s takes no argument", (int)strcspn(el, "="), el);
	else if (optopt != 0)
		snprintf(buf, len, "unknown option -%c", optopt);
	else
		snprintf(buf, len, "unknown option %.*s", (int)strcspn(el ? el : "", "="),
		         el ? el : "");
	return buf;
}

long
util_opt_num(const char *prog, const char *opt, const char *s, long min, long max)
{
	long v = util_num(s, min, max);

	if (v < 0)
		util_usage_error(prog, "%s %s: not a whole number from %ld to %ld", opt, s, min, max);
	return v;
}
