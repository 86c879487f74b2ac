/*
 * fuzz_snapshot.c: snap_parse on untrusted bytes; when it accepts, every
 * accessor is walked and what docs/snapshot.md promises a reader is checked
 * (names, causes, enums, sorting, indexes in range, snap_find_reg finds each
 * registry as itself), then the snapshot is written again with the writer and
 * read back: the same content.
 *
 * Input: one mode byte, then the file.  Mode bit 0 set: the harness first
 * writes the file's own length and checksum into its header (docs/snapshot.md
 * "Checksum", computed here independently), so the fuzzer gets past those two
 * checks and explores the layout and the records; clear: the bytes as they are.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deephealth.h"
#include "fuzz.h"

#define NOW 1900000000 /* 2030: later than every seed's created */

static uint64_t
le64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static void
put_le64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

/* The documented checksum over bytes 32 .. len. */
static uint64_t
doc_checksum(const unsigned char *p, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < len; i += 8) {
		unsigned char w[8] = { 0 };

		memcpy(w, p + i, len - i < 8 ? len - i : 8);
		h = (h ^ le64(w)) * 0x9e3779b97f4a7c15ULL;
		h ^= h >> 32;
	}
	return h ^ (uint64_t)len;
}

static int
printable(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return 0;
	return 1;
}

static int
cmp_names(const char *a, size_t al, const char *b, size_t bl)
{
	int c = memcmp(a, b, al < bl ? al : bl);

	return c != 0 ? c : (al > bl) - (al < bl);
}

static char *
dupn(const char *s, size_t n)
{
	char *p = malloc(n + 1);

	if (p == NULL)
		abort();
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

/* Everything a reader may rely on in an accepted snapshot. */
static void
walk(const struct snapshot *s)
{
	size_t nd = snap_dep_count(s), nr = snap_reg_count(s), nall, found_all = 0;
	const uint32_t *all = snap_all_deps(s, &nall);
	struct snap_reg prev = { 0 };

	FZ_CHECK(snap_created(s) >= 0 && snap_created(s) <= NOW + 5, "created %lld",
	         (long long)snap_created(s));
	FZ_CHECK((snap_flags(s) & ~(SNAP_FLAG_BLIND | SNAP_FLAG_GUARD)) == 0, "header flags %#x", snap_flags(s));
	(void)snap_interval(s);
	for (size_t i = 0; i < nd; i++) {
		struct snap_dep d;

		snap_dep_at(s, i, &d);
		FZ_CHECK(util_name_ok(d.name, d.name_len), "dependency %zu: bad name", i);
		FZ_CHECK(d.cause_len <= 1024 && printable(d.cause, d.cause_len),
		         "dependency %zu: bad cause", i);
		FZ_CHECK((unsigned)d.state <= VERDICT_UNKNOWN && (unsigned)d.kind < DEP_KIND_COUNT &&
		         (unsigned)d.severity < SEV_COUNT &&
		         (d.flags & ~(SNAP_DEP_WITNESS | SNAP_DEP_ALL)) == 0,
		         "dependency %zu: enums or flags", i);
		FZ_CHECK(strcmp(verdict_str(d.state), "?") != 0 && strcmp(dep_kind_str(d.kind), "?") != 0 &&
		         strcmp(severity_str(d.severity), "?") != 0, "dependency %zu: unnamed enum", i);
		if (d.flags & SNAP_DEP_ALL) {
			FZ_CHECK(found_all < nall && all[found_all] == i,
			         "region-wide dependency %zu missing from snap_all_deps", i);
			found_all++;
		}
	}
	FZ_CHECK(found_all == nall, "snap_all_deps has %zu, flags say %zu", nall, found_all);
	for (size_t i = 0; i < nr; i++) {
		struct snap_reg r, f;

		snap_reg_at(s, i, &r);
		FZ_CHECK(util_name_ok(r.name, r.name_len), "registry %zu: bad name", i);
		FZ_CHECK(i == 0 || cmp_names(prev.name, prev.name_len, r.name, r.name_len) < 0,
		         "registry %zu: not sorted", i);
		FZ_CHECK((unsigned)r.verdict <= VERDICT_FAIL && (r.flags & ~SNAP_REG_SINGLE_REGION) == 0,
		         "registry %zu: verdict or flags", i);
		FZ_CHECK(r.decided_by == SNAP_NO_DEP || r.decided_by < nd,
		         "registry %zu: decided_by %u of %zu", i, r.decided_by, nd);
		FZ_CHECK(r.nuses <= SNAP_USES_MAX, "registry %zu: %u uses", i, r.nuses);
		for (uint32_t k = 0; k < r.nuses; k++)
			FZ_CHECK(snap_use_at(s, r.uses + k) < nd, "registry %zu: use %u out of range", i, k);
		FZ_CHECK(snap_find_reg(s, r.name, r.name_len, &f) == 1 && f.name == r.name &&
		         f.verdict == r.verdict && f.decided_by == r.decided_by && f.since == r.since &&
		         f.uses == r.uses && f.nuses == r.nuses && f.flags == r.flags,
		         "snap_find_reg does not find registry %zu as itself", i);
		/* Its name and a NUL: no name can hold one, so never found. */
		if (r.name_len < DH_NAME_MAX) {
			char probe[DH_NAME_MAX + 1];
			struct snap_reg n;

			memcpy(probe, r.name, r.name_len);
			probe[r.name_len] = '\0';
			FZ_CHECK(snap_find_reg(s, probe, r.name_len + 1, &n) == 0,
			         "found a name with a NUL in it");
		}
		prev = r;
	}
	{
		struct snap_reg x;

		FZ_CHECK(snap_find_reg(s, "", 0, &x) == 0, "the empty name was found");
	}
}

/* Write s again with the writer, read it back, and compare. */
static void
round_trip(const struct snapshot *s)
{
	size_t nd = snap_dep_count(s), nr = snap_reg_count(s), len;
	struct snap_writer *w = snapw_new(snap_created(s), snap_interval(s), snap_flags(s));
	struct snapshot *t = NULL;
	char err[256], detail[256];
	enum snap_err e;
	void *buf;
	int dup = 0;

	for (size_t i = 0; i < nd; i++) {
		struct snap_dep d;
		char *name, *cause;

		snap_dep_at(s, i, &d);
		name = dupn(d.name, d.name_len);
		cause = dupn(d.cause, d.cause_len);
		FZ_CHECK(snapw_add_dep(w, name, d.state, d.kind, d.severity, d.flags, d.since, cause) ==
		         (int)i, "writer refused dependency %zu the reader took", i);
		free(name);
		free(cause);
		for (size_t k = 0; k < i && !dup; k++) {
			struct snap_dep o;

			snap_dep_at(s, k, &o);
			dup = o.name_len == d.name_len && memcmp(o.name, d.name, d.name_len) == 0;
		}
	}
	for (size_t i = 0; i < nr; i++) {
		struct snap_reg r;
		uint32_t uses[SNAP_USES_MAX];
		char *name;

		snap_reg_at(s, i, &r);
		name = dupn(r.name, r.name_len);
		FZ_CHECK(snapw_add_reg(w, name, r.verdict, r.flags, r.decided_by, r.since) == 0,
		         "writer refused registry %zu the reader took", i);
		free(name);
		for (uint32_t k = 0; k < r.nuses; k++)
			uses[k] = snap_use_at(s, r.uses + k);
		FZ_CHECK(snapw_set_uses(w, uses, r.nuses) == 0, "writer refused the uses of %zu", i);
	}
	if (snapw_build(w, &buf, &len, err, sizeof(err)) != 0) {
		/* The reader does not insist on unique dependency names; the writer does. */
		FZ_CHECK(dup, "writer refused what the reader took: %s", err);
		snapw_free(w);
		return;
	}
	e = snap_parse(buf, len, NOW, &t, detail, sizeof(detail));
	FZ_CHECK(e == SNAP_OK, "the writer's own output is refused: %s: %s", snap_err_str(e), detail);
	FZ_CHECK(snap_dep_count(t) == nd && snap_reg_count(t) == nr &&
	         snap_created(t) == snap_created(s) && snap_interval(t) == snap_interval(s) &&
	         snap_flags(t) == snap_flags(s), "header changed in the round trip");
	for (size_t i = 0; i < nd; i++) {
		struct snap_dep a, b;

		snap_dep_at(s, i, &a);
		snap_dep_at(t, i, &b);
		FZ_CHECK(a.name_len == b.name_len && memcmp(a.name, b.name, a.name_len) == 0 &&
		         a.cause_len == b.cause_len && memcmp(a.cause, b.cause, a.cause_len) == 0 &&
		         a.state == b.state && a.kind == b.kind && a.severity == b.severity &&
		         a.flags == b.flags && a.since == b.since, "dependency %zu changed", i);
	}
	for (size_t i = 0; i < nr; i++) {
		struct snap_reg a, b;

		snap_reg_at(s, i, &a);
		snap_reg_at(t, i, &b);
		FZ_CHECK(a.name_len == b.name_len && memcmp(a.name, b.name, a.name_len) == 0 &&
		         a.verdict == b.verdict && a.flags == b.flags && a.decided_by == b.decided_by &&
		         a.since == b.since && a.nuses == b.nuses, "registry %zu changed", i);
		for (uint32_t k = 0; k < a.nuses; k++)
			FZ_CHECK(snap_use_at(s, a.uses + k) == snap_use_at(t, b.uses + k),
			         "registry %zu: use %u changed", i, k);
	}
	free(buf);
	snap_free(t);
	snapw_free(w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct snapshot *s = NULL;
	unsigned char *buf;
	char detail[256];
	enum snap_err e;
	size_t len;

	if (size == 0)
		return 0;
	len = size - 1;
	buf = malloc(len ? len : 1);
	if (buf == NULL)
		abort();
	memcpy(buf, data + 1, len);
	if ((data[0] & 1) && len >= SNAP_HEADER_SIZE) {
		put_le64(buf + 16, (uint64_t)len);
		put_le64(buf + 24, doc_checksum(buf + 32, len - 32));
	}
	detail[0] = '\0';
	e = snap_parse(buf, len, NOW, &s, detail, sizeof(detail));
	if (e == SNAP_OK) {
		FZ_CHECK(s != NULL, "SNAP_OK without a snapshot");
		walk(s);
		round_trip(s);
		snap_free(s);
	} else {
		FZ_CHECK(s == NULL, "%s, and a snapshot", snap_err_str(e));
		FZ_CHECK(strcmp(snap_err_str(e), "?") != 0 && detail[0] != '\0',
		         "error %d without a name or a detail", (int)e);
	}
	free(buf);
	return 0;
}
