/* snap.c: the health snapshot, a checksummed binary file; reader trusts nothing, writer publishes atomically. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "deephealth.h"

/* Field offsets; the format is written down in docs/snapshot.md. */
enum {
	H_MAGIC = 0, H_VERSION = 8, H_HSIZE = 12, H_FSIZE = 16, H_CHECKSUM = 24, H_CREATED = 32,
	H_INTERVAL = 40, H_FLAGS = 44, H_NDEPS = 48, H_NREGS = 52, H_STRSIZE = 56, H_NUSES = 60,
	D_NAME_OFF = 0, D_CAUSE_OFF = 4, D_NAME_LEN = 8, D_CAUSE_LEN = 10, D_STATE = 12, D_KIND = 13,
	D_SEVERITY = 14, D_FLAGS = 15, D_SINCE = 16,
	R_NAME_OFF = 0, R_DECIDED_BY = 4, R_NAME_LEN = 8, R_VERDICT = 10, R_FLAGS = 11,
	R_USES = 12, R_SINCE = 16
};
#define CAUSE_MAX 1024
#define CHECKSUM_FROM H_CREATED

struct snapshot {
	unsigned char *buf;
	size_t len;
	int64_t created;
	uint32_t interval, flags, ndeps, nregs, strsize, nuses;
	const unsigned char *deps, *regs, *uses, *strings;
	uint32_t *alldeps, nall;     /* the region-wide dependencies (SNAP_DEP_ALL), found at load */
};

static uint16_t
get16(const unsigned char *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t
get32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t
get64(const unsigned char *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

static void
put16(unsigned char *p, uint16_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
}

static void
put32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static void
put64(unsigned char *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

/*
 * Whole-file integrity check: 8 bytes at a time, each step a bijection of the
 * running state (xor, odd multiply, xorshift), so any change confined to one
 * 64-bit word is always caught.  Not a defence against a forger.
 */
uint64_t
snap_checksum(const unsigned char *p, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t i;

	for (i = 0; i + 8 <= len; i += 8) {
		h = (h ^ get64(p + i)) * 0x9e3779b97f4a7c15ULL;
		h ^= h >> 32;
	}
	if (i < len) {
		unsigned char tail[8] = { 0 };

		memcpy(tail, p + i, len - i);
		h = (h ^ get64(tail)) * 0x9e3779b97f4a7c15ULL;
		h ^= h >> 32;
	}
	return h ^ (uint64_t)len;
}

static const char *const snap_err_names[] = {
	[SNAP_OK] = "ok",
	[SNAP_MISSING] = "missing",
	[SNAP_UNREADABLE] = "unreadable",
	[SNAP_NOT_REGULAR] = "not a regular file",
	[SNAP_TOO_SMALL] = "shorter than its header",
	[SNAP_TOO_LARGE] = "too large",
	[SNAP_BAD_MAGIC] = "bad magic",
	[SNAP_BAD_VERSION] = "unsupported version",
	[SNAP_BAD_LENGTH] = "length mismatch (truncated or extended)",
	[SNAP_BAD_CHECKSUM] = "checksum mismatch",
	[SNAP_BAD_LAYOUT] = "inconsistent layout",
	[SNAP_BAD_RECORD] = "bad record",
	[SNAP_FUTURE] = "created in the future",
};

const char *
snap_err_str(enum snap_err e)
{
	if ((unsigned)e >= sizeof(snap_err_names) / sizeof(snap_err_names[0]))
		return "?";
	return snap_err_names[e];
}

const char *const verdict_names[] = { "pass", "warn", "fail", "unknown", NULL };
const char *const dep_kind_names[] = { "storage", "cache", "auth", "containers", "metadata",
	                               "other", NULL };
const char *const severity_names[] = { "critical", "degraded", NULL };

enum verdict
verdict_contribution(enum verdict state, enum severity sev)
{
	if (state == VERDICT_FAIL)
		return sev == SEV_CRITICAL ? VERDICT_FAIL : VERDICT_WARN;
	return state == VERDICT_UNKNOWN ? VERDICT_PASS : state;
}

void
verdict_fold(enum verdict v, uint32_t dep, enum verdict *worst, uint32_t *by)
{
	if (v > *worst || (v == *worst && v != VERDICT_PASS && dep < *by)) {
		*worst = v;
		*by = dep;
	}
}

const char *
verdict_str(enum verdict v)
{
	return names_at(verdict_names, (int)v);
}

const char *
dep_kind_str(enum dep_kind k)
{
	return names_at(dep_kind_names, (int)k);
}

const char *
severity_str(enum severity s)
{
	return names_at(severity_names, (int)s);
}

static int
cause_ok(const unsigned char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)
			return 0;
	return 1;
}

/* memcmp order with the shorter name first on a common prefix. */
static int
name_cmp(const unsigned char *a, size_t alen, const unsigned char *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);

	if (c != 0)
		return c;
	return alen < blen ? -1 : alen > blen;
}

#define FAIL(code, ...)                                         \
	do {                                                    \
		if (detail)                                     \
			snprintf(detail, detaillen, __VA_ARGS__); \
		err = (code);                                   \
		goto out;                                       \
	} while (0)

/* Validate buf (owned by the caller until success, when s takes it). */
static enum snap_err
snap_check(unsigned char *buf, size_t len, time_t now, struct snapshot **out, char *detail,
           size_t detaillen)
{
	enum snap_err err = SNAP_OK;
	struct snapshot *s = NULL;
	uint64_t fsize, records;
	const unsigned char *prev = NULL;
	size_t prevlen = 0;

	*out = NULL;
	if (len < SNAP_HEADER_SIZE)
		FAIL(SNAP_TOO_SMALL, "%zu bytes, header needs %d", len, SNAP_HEADER_SIZE);
	if (len > SNAP_MAX_SIZE)
		FAIL(SNAP_TOO_LARGE, "%zu bytes, limit %u", len, SNAP_MAX_SIZE);
	if (memcmp(buf + H_MAGIC, SNAP_MAGIC, 8) != 0)
		FAIL(SNAP_BAD_MAGIC, "not a deephealth snapshot");
	if (get32(buf + H_VERSION) != SNAP_VERSION)
		FAIL(SNAP_BAD_VERSION, "version %u, this reader knows %d", get32(buf + H_VERSION),
		     SNAP_VERSION);
	if (get32(buf + H_HSIZE) != SNAP_HEADER_SIZE)
		FAIL(SNAP_BAD_LAYOUT, "header size %u", get32(buf + H_HSIZE));
	fsize = get64(buf + H_FSIZE);
	if (fsize != len)
		FAIL(SNAP_BAD_LENGTH, "header says %llu bytes, file has %zu",
		     (unsigned long long)fsize, len);
	if (snap_checksum(buf + CHECKSUM_FROM, len - CHECKSUM_FROM) != get64(buf + H_CHECKSUM))
		FAIL(SNAP_BAD_CHECKSUM, "content does not match its checksum");

	s = xcalloc(1, sizeof(*s));
	s->created = (int64_t)get64(buf + H_CREATED);
	s->interval = get32(buf + H_INTERVAL);
	s->flags = get32(buf + H_FLAGS);
	s->ndeps = get32(buf + H_NDEPS);
	s->nregs = get32(buf + H_NREGS);
	s->strsize = get32(buf + H_STRSIZE);
	s->nuses = get32(buf + H_NUSES);
	records = (uint64_t)s->ndeps + s->nregs;
	if ((s->flags & ~SNAP_FLAGS_KNOWN) != 0)
		FAIL(SNAP_BAD_LAYOUT, "unknown header flags");
	if (SNAP_HEADER_SIZE + records * SNAP_RECORD_SIZE + (uint64_t)s->nuses * 4 + s->strsize != len)
		FAIL(SNAP_BAD_LAYOUT, "%u dependencies + %u registries + %u uses + %u string bytes != %zu",
		     s->ndeps, s->nregs, s->nuses, s->strsize, len);
	if (s->created < 0)
		FAIL(SNAP_BAD_LAYOUT, "created %lld, before 1970", (long long)s->created);
	if (s->created > (int64_t)now + SNAP_FUTURE_SKEW)
		FAIL(SNAP_FUTURE, "created %lld s in the future",
		     (long long)(s->created - (int64_t)now));
	s->deps = buf + SNAP_HEADER_SIZE;
	s->regs = s->deps + (size_t)s->ndeps * SNAP_RECORD_SIZE;
	s->uses = s->regs + (size_t)s->nregs * SNAP_RECORD_SIZE;
	s->strings = s->uses + (size_t)s->nuses * 4;

	for (uint32_t i = 0; i < s->ndeps; i++) {
		const unsigned char *d = s->deps + (size_t)i * SNAP_RECORD_SIZE;
		uint32_t no = get32(d + D_NAME_OFF), co = get32(d + D_CAUSE_OFF);
		uint16_t nl = get16(d + D_NAME_LEN), cl = get16(d + D_CAUSE_LEN);

		if ((uint64_t)no + nl > s->strsize || !util_name_ok((const char *)s->strings + no, nl))
			FAIL(SNAP_BAD_RECORD, "dependency %u: bad name", i);
		if ((uint64_t)co + cl > s->strsize || cl > CAUSE_MAX || !cause_ok(s->strings + co, cl))
			FAIL(SNAP_BAD_RECORD, "dependency %u: bad cause", i);
		if (d[D_STATE] > VERDICT_UNKNOWN || d[D_KIND] >= DEP_KIND_COUNT ||
		    d[D_SEVERITY] >= SEV_COUNT || (d[D_FLAGS] & ~(SNAP_DEP_WITNESS | SNAP_DEP_ALL)) != 0)
			FAIL(SNAP_BAD_RECORD, "dependency %u: bad state, kind, severity or flags", i);
	}
	for (uint32_t i = 0; i < s->nregs; i++) {
		const unsigned char *r = s->regs + (size_t)i * SNAP_RECORD_SIZE;
		uint32_t no = get32(r + R_NAME_OFF), by = get32(r + R_DECIDED_BY);
		uint16_t nl = get16(r + R_NAME_LEN);

		if ((uint64_t)no + nl > s->strsize || !util_name_ok((const char *)s->strings + no, nl))
			FAIL(SNAP_BAD_RECORD, "registry %u: bad name", i);
		if (prev != NULL && name_cmp(prev, prevlen, s->strings + no, nl) >= 0)
			FAIL(SNAP_BAD_RECORD, "registry %u: names not sorted or duplicated", i);
		if (r[R_VERDICT] > VERDICT_FAIL || (r[R_FLAGS] & ~SNAP_REG_SINGLE_REGION) != 0)
			FAIL(SNAP_BAD_RECORD, "registry %u: bad verdict or flags", i);
		{
			uint32_t u = get32(r + R_USES), off = u & 0xffffff, n = u >> 24;

			if ((n == 0 && off != 0) || (uint64_t)off + n > s->nuses)
				FAIL(SNAP_BAD_RECORD, "registry %u: uses %u+%u of %u", i, off, n, s->nuses);
			for (uint32_t k = 0; k < n; k++)
				if (get32(s->uses + (size_t)(off + k) * 4) >= s->ndeps)
					FAIL(SNAP_BAD_RECORD, "registry %u: uses dependency %u of %u", i,
					     get32(s->uses + (size_t)(off + k) * 4), s->ndeps);
		}
		if (by != SNAP_NO_DEP && by >= s->ndeps)
			FAIL(SNAP_BAD_RECORD, "registry %u: decided by dependency %u of %u", i, by,
			     s->ndeps);
		prev = s->strings + no;
		prevlen = nl;
	}
	s->alldeps = xcalloc(s->ndeps ? s->ndeps : 1, sizeof(*s->alldeps));
	for (uint32_t i = 0; i < s->ndeps; i++)
		if (s->deps[(size_t)i * SNAP_RECORD_SIZE + D_FLAGS] & SNAP_DEP_ALL)
			s->alldeps[s->nall++] = i;
	s->buf = buf;
	s->len = len;
	*out = s;
	s = NULL;
out:
	free(s);
	return err;
}

#undef FAIL

enum snap_err
snap_parse(const void *buf, size_t len, time_t now, struct snapshot **out, char *detail,
           size_t detaillen)
{
	unsigned char *copy = xmalloc(len);
	enum snap_err e;

	memcpy(copy, buf, len);
	e = snap_check(copy, len, now, out, detail, detaillen);
	if (e != SNAP_OK)
		free(copy);
	return e;
}

enum snap_err
snap_load(const char *path, time_t now, struct snapshot **out, char *detail, size_t detaillen)
{
	struct stat st;
	unsigned char *buf = NULL;
	size_t len, got = 0;
	enum snap_err e;
	int fd;

	*out = NULL;
	if (detail && detaillen)
		detail[0] = '\0';
	/* O_NONBLOCK: a FIFO planted at path must not hang the responder. */
	fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd == -1) {
		int err = errno;

		if (detail)
			snprintf(detail, detaillen, "%s", strerror(err));
		errno = err; /* for a caller that tells EMFILE from EACCES */
		return err == ENOENT ? SNAP_MISSING : SNAP_UNREADABLE;
	}
	if (fstat(fd, &st) == -1) {
		if (detail)
			snprintf(detail, detaillen, "fstat: %s", strerror(errno));
		e = SNAP_UNREADABLE;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		e = SNAP_NOT_REGULAR;
		goto out;
	}
	if (st.st_size < SNAP_HEADER_SIZE || (uint64_t)st.st_size > SNAP_MAX_SIZE) {
		e = st.st_size < SNAP_HEADER_SIZE ? SNAP_TOO_SMALL : SNAP_TOO_LARGE;
		if (detail)
			snprintf(detail, detaillen, "%lld bytes", (long long)st.st_size);
		goto out;
	}
	len = (size_t)st.st_size;
	/* One spare byte tells a file that grew while we read it. */
	buf = xmalloc(len + 1);
	for (;;) {
		ssize_t n = read(fd, buf + got, len + 1 - got);

		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			if (detail)
				snprintf(detail, detaillen, "read: %s", strerror(errno));
			e = SNAP_UNREADABLE;
			goto out;
		}
		if (n == 0 || (got += (size_t)n) == len + 1)
			break;
	}
	if (got != len) {
		if (detail)
			snprintf(detail, detaillen, "size changed while reading (%zu of %zu bytes)", got,
			         len);
		e = SNAP_BAD_LENGTH;
		goto out;
	}
	e = snap_check(buf, len, now, out, detail, detaillen);
	if (e == SNAP_OK)
		buf = NULL;
out:
	free(buf);
	close(fd);
	return e;
}

void
snap_free(struct snapshot *s)
{
	if (s == NULL)
		return;
	free(s->buf);
	free(s->alldeps);
	free(s);
}

int64_t
snap_created(const struct snapshot *s)
{
	return s->created;
}

uint32_t
snap_interval(const struct snapshot *s)
{
	return s->interval;
}

unsigned
snap_flags(const struct snapshot *s)
{
	return s->flags;
}

size_t
snap_dep_count(const struct snapshot *s)
{
	return s->ndeps;
}

size_t
snap_reg_count(const struct snapshot *s)
{
	return s->nregs;
}

void
snap_dep_at(const struct snapshot *s, size_t i, struct snap_dep *out)
{
	const unsigned char *d = s->deps + i * SNAP_RECORD_SIZE;

	out->name = (const char *)s->strings + get32(d + D_NAME_OFF);
	out->name_len = get16(d + D_NAME_LEN);
	out->cause = (const char *)s->strings + get32(d + D_CAUSE_OFF);
	out->cause_len = get16(d + D_CAUSE_LEN);
	out->state = (enum verdict)d[D_STATE];
	out->kind = (enum dep_kind)d[D_KIND];
	out->severity = (enum severity)d[D_SEVERITY];
	out->flags = d[D_FLAGS];
	out->since = (int64_t)get64(d + D_SINCE);
}

void
snap_reg_at(const struct snapshot *s, size_t i, struct snap_reg *out)
{
	const unsigned char *r = s->regs + i * SNAP_RECORD_SIZE;

	out->name = (const char *)s->strings + get32(r + R_NAME_OFF);
	out->name_len = get16(r + R_NAME_LEN);
	out->verdict = (enum verdict)r[R_VERDICT];
	out->flags = r[R_FLAGS];
	out->decided_by = get32(r + R_DECIDED_BY);
	out->since = (int64_t)get64(r + R_SINCE);
	out->uses = get32(r + R_USES) & 0xffffff;
	out->nuses = get32(r + R_USES) >> 24;
}

const uint32_t *
snap_all_deps(const struct snapshot *s, size_t *n)
{
	*n = s->nall;
	return s->alldeps;
}

uint32_t
snap_use_at(const struct snapshot *s, uint32_t i)
{
	return get32(s->uses + (size_t)i * 4);
}

int
snap_find_reg(const struct snapshot *s, const char *name, size_t len, struct snap_reg *out)
{
	size_t lo = 0, hi = s->nregs;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const unsigned char *r = s->regs + mid * SNAP_RECORD_SIZE;
		int c = name_cmp(s->strings + get32(r + R_NAME_OFF), get16(r + R_NAME_LEN),
		                 (const unsigned char *)name, len);

		if (c == 0) {
			snap_reg_at(s, mid, out);
			return 1;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

size_t
snap_failing_multi(const struct snapshot *s, size_t *multi)
{
	size_t fails = 0, n = 0;

	for (size_t i = 0; s != NULL && i < s->nregs; i++) {
		const unsigned char *r = s->regs + i * SNAP_RECORD_SIZE;

		if (r[R_FLAGS] & SNAP_REG_SINGLE_REGION)
			continue;
		n++;
		fails += r[R_VERDICT] == VERDICT_FAIL;
	}
	if (multi != NULL)
		*multi = n;
	return fails;
}

/* ------------------------------------------------------------ writer */

struct wdep {
	char *name, *cause;
	enum verdict state;
	enum dep_kind kind;
	enum severity sev;
	unsigned flags;
	int64_t since;
};

struct wreg {
	char *name;
	enum verdict verdict;
	unsigned flags;
	uint32_t decided_by;
	int64_t since;
	uint32_t *uses;   /* the dependencies it uses beyond those with SNAP_DEP_ALL */
	size_t nuses;
};

struct snap_writer {
	int64_t created;
	uint32_t interval;
	unsigned flags;
	struct wdep *deps;
	size_t ndeps, capdeps;
	struct wreg *regs;
	size_t nregs, capregs;
};

struct snap_writer *
snapw_new(int64_t created, uint32_t interval, unsigned flags)
{
	struct snap_writer *w = xcalloc(1, sizeof(*w));

	w->created = created;
	w->interval = interval;
	w->flags = flags & SNAP_FLAGS_KNOWN;
	return w;
}

void
snapw_set_header(struct snap_writer *w, int64_t created, uint32_t interval, unsigned flags)
{
	w->created = created;
	w->interval = interval;
	w->flags = flags & SNAP_FLAGS_KNOWN;
}

void
snapw_free(struct snap_writer *w)
{
	if (w == NULL)
		return;
	for (size_t i = 0; i < w->ndeps; i++) {
		free(w->deps[i].name);
		free(w->deps[i].cause);
	}
	for (size_t i = 0; i < w->nregs; i++) {
		free(w->regs[i].name);
		free(w->regs[i].uses);
	}
	free(w->deps);
	free(w->regs);
	free(w);
}

int
snapw_add_dep(struct snap_writer *w, const char *name, enum verdict state, enum dep_kind kind,
              enum severity sev, unsigned flags, int64_t since, const char *cause)
{
	struct wdep *d;
	size_t clen = cause ? strlen(cause) : 0;

	if (!util_name_ok(name, strlen(name)) || (unsigned)state > VERDICT_UNKNOWN ||
	    (unsigned)kind >= DEP_KIND_COUNT || (unsigned)sev >= SEV_COUNT ||
	    (flags & ~(SNAP_DEP_WITNESS | SNAP_DEP_ALL)) != 0 || w->ndeps >= UINT32_MAX - 1)
		return -1;
	w->deps = util_grow(w->deps, &w->capdeps, w->ndeps + 1, sizeof(*w->deps));
	d = &w->deps[w->ndeps];
	d->name = xstrdup(name);
	/* Causes are for operators' logs: printable ASCII, bounded. */
	d->cause = xmalloc(clen > CAUSE_MAX ? CAUSE_MAX + 1 : clen + 1);
	clen = clen > CAUSE_MAX ? CAUSE_MAX : clen;
	for (size_t i = 0; i < clen; i++)
		d->cause[i] = cause[i] >= 0x20 && cause[i] <= 0x7e ? cause[i] : '?';
	d->cause[clen] = '\0';
	d->state = state;
	d->kind = kind;
	d->sev = sev;
	d->flags = flags;
	d->since = since;
	return (int)w->ndeps++;
}

int
snapw_add_reg(struct snap_writer *w, const char *name, enum verdict v, unsigned flags,
              uint32_t decided_by, int64_t since)
{
	struct wreg *r;

	if (!util_name_ok(name, strlen(name)) || (unsigned)v > VERDICT_FAIL ||
	    (flags & ~SNAP_REG_SINGLE_REGION) != 0 ||
	    (decided_by != SNAP_NO_DEP && decided_by >= w->ndeps))
		return -1;
	w->regs = util_grow(w->regs, &w->capregs, w->nregs + 1, sizeof(*w->regs));
	r = &w->regs[w->nregs++];
	r->name = xstrdup(name);
	r->verdict = v;
	r->flags = flags;
	r->decided_by = decided_by;
	r->since = since;
	r->uses = NULL;
	r->nuses = 0;
	return 0;
}

int
snapw_set_uses(struct snap_writer *w, const uint32_t *deps, size_t n)
{
	struct wreg *r = w->nregs > 0 ? &w->regs[w->nregs - 1] : NULL;

	if (r == NULL || n > SNAP_USES_MAX)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (deps[i] >= w->ndeps)
			return -1;
	free(r->uses);
	r->uses = n ? xmalloc(n * sizeof(*r->uses)) : NULL;
	if (n)
		memcpy(r->uses, deps, n * sizeof(*r->uses));
	r->nuses = n;
	return 0;
}

static int
wreg_cmp(const void *a, const void *b)
{
	const struct wreg *x = a, *y = b;

	return name_cmp((const unsigned char *)x->name, strlen(x->name),
	                (const unsigned char *)y->name, strlen(y->name));
}

static int
str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
snapw_build(struct snap_writer *w, void **bufp, size_t *lenp, char *err, size_t errlen)
{
	uint64_t strsize = 0, len, nuses = 0;
	unsigned char *buf, *p, *str, *use;
	uint32_t uoff = 0;
	uint32_t soff = 0;
	char **names;

	*bufp = NULL;
	*lenp = 0;
	if (w->nregs > 1)
		qsort(w->regs, w->nregs, sizeof(*w->regs), wreg_cmp);
	for (size_t i = 1; i < w->nregs; i++) {
		if (strcmp(w->regs[i - 1].name, w->regs[i].name) == 0) {
			snprintf(err, errlen, "duplicate registry \"%s\"", w->regs[i].name);
			return -1;
		}
	}
	names = xcalloc(w->ndeps, sizeof(*names));
	for (size_t i = 0; i < w->ndeps; i++)
		names[i] = w->deps[i].name;
	if (w->ndeps > 1)
		qsort(names, w->ndeps, sizeof(*names), str_cmp);
	for (size_t i = 1; i < w->ndeps; i++) {
		if (strcmp(names[i - 1], names[i]) == 0) {
			snprintf(err, errlen, "duplicate dependency \"%s\"", names[i]);
			free(names);
			return -1;
		}
	}
	free(names);

	for (size_t i = 0; i < w->ndeps; i++)
		strsize += strlen(w->deps[i].name) + strlen(w->deps[i].cause);
	for (size_t i = 0; i < w->nregs; i++) {
		strsize += strlen(w->regs[i].name);
		nuses += w->regs[i].nuses;
	}
	len = SNAP_HEADER_SIZE + ((uint64_t)w->ndeps + w->nregs) * SNAP_RECORD_SIZE + nuses * 4 +
	      strsize;
	if (len > SNAP_MAX_SIZE || strsize > UINT32_MAX || nuses > 0xffffff) {
		snprintf(err, errlen, "snapshot would be %llu bytes, limit %u",
		         (unsigned long long)len, SNAP_MAX_SIZE);
		return -1;
	}
	buf = xcalloc(1, (size_t)len);
	use = buf + SNAP_HEADER_SIZE + (w->ndeps + w->nregs) * SNAP_RECORD_SIZE;
	str = use + nuses * 4;
	p = buf + SNAP_HEADER_SIZE;
#define ADDSTR(s, offp, lenp16)                       \
	do {                                          \
		size_t l_ = strlen(s);                \
		memcpy(str + soff, (s), l_);          \
		put32((offp), soff);                  \
		put16((lenp16), (uint16_t)l_);        \
		soff += (uint32_t)l_;                 \
	} while (0)
	for (size_t i = 0; i < w->ndeps; i++, p += SNAP_RECORD_SIZE) {
		const struct wdep *d = &w->deps[i];

		ADDSTR(d->name, p + D_NAME_OFF, p + D_NAME_LEN);
		ADDSTR(d->cause, p + D_CAUSE_OFF, p + D_CAUSE_LEN);
		p[D_STATE] = (unsigned char)d->state;
		p[D_KIND] = (unsigned char)d->kind;
		p[D_SEVERITY] = (unsigned char)d->sev;
		p[D_FLAGS] = (unsigned char)d->flags;
		put64(p + D_SINCE, (uint64_t)d->since);
	}
	for (size_t i = 0; i < w->nregs; i++, p += SNAP_RECORD_SIZE) {
		const struct wreg *r = &w->regs[i];

		ADDSTR(r->name, p + R_NAME_OFF, p + R_NAME_LEN);
		put32(p + R_DECIDED_BY, r->decided_by);
		p[R_VERDICT] = (unsigned char)r->verdict;
		p[R_FLAGS] = (unsigned char)r->flags;
		put32(p + R_USES, r->nuses ? uoff | (uint32_t)r->nuses << 24 : 0);
		for (size_t k = 0; k < r->nuses; k++)
			put32(use + (size_t)(uoff + k) * 4, r->uses[k]);
		uoff += (uint32_t)r->nuses;
		put64(p + R_SINCE, (uint64_t)r->since);
	}
#undef ADDSTR
	memcpy(buf + H_MAGIC, SNAP_MAGIC, 8);
	put32(buf + H_VERSION, SNAP_VERSION);
	put32(buf + H_HSIZE, SNAP_HEADER_SIZE);
	put64(buf + H_FSIZE, len);
	put64(buf + H_CREATED, (uint64_t)w->created);
	put32(buf + H_INTERVAL, w->interval);
	put32(buf + H_FLAGS, w->flags);
	put32(buf + H_NDEPS, (uint32_t)w->ndeps);
	put32(buf + H_NREGS, (uint32_t)w->nregs);
	put32(buf + H_STRSIZE, (uint32_t)strsize);
	put32(buf + H_NUSES, (uint32_t)nuses);
	put64(buf + H_CHECKSUM, snap_checksum(buf + CHECKSUM_FROM, (size_t)len - CHECKSUM_FROM));
	*bufp = buf;
	*lenp = (size_t)len;
	return 0;
}

int
snapw_publish(struct snap_writer *w, const char *path, char *err, size_t errlen)
{
	void *buf = NULL;
	size_t len;
	struct snapshot *check = NULL;
	char detail[256];
	enum snap_err e;
	int rc;

	if (snapw_build(w, &buf, &len, err, errlen) != 0)
		return -1;
	/* Never publish what our own reader would refuse. */
	e = snap_check(buf, len, (time_t)w->created, &check, detail, sizeof(detail));
	if (e != SNAP_OK) {
		snprintf(err, errlen, "built snapshot fails verification: %s: %s", snap_err_str(e),
		         detail);
		free(buf);
		return -1;
	}
	rc = publish_file(path, check->buf, check->len, 0644, err, errlen);
	snap_free(check);
	return rc;
}
