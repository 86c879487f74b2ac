/* test_snap.c: snapshot writer and reader: round trips, every truncation and flip, files. */
#define _XOPEN_SOURCE 700 /* nftw */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "deephealth.h"
#include "t.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* A fixed clock: nothing here depends on the real time. */
#define NOW ((time_t)1700000000)
#define SECRET_CAUSE "GET http://10.1.2.3/secret: 503"

/* Field offsets from the format (docs/snapshot.md); the forgery tests need them. */
enum {
	H_VERSION = 8, H_HSIZE = 12, H_FSIZE = 16, H_CHECKSUM = 24, H_CREATED = 32, H_FLAGS = 44,
	H_NDEPS = 48, H_NREGS = 52, H_STRSIZE = 56, H_NUSES = 60,
	D_NAME_OFF = 0, D_CAUSE_OFF = 4, D_NAME_LEN = 8, D_CAUSE_LEN = 10, D_STATE = 12, D_KIND = 13,
	D_SEVERITY = 14, D_FLAGS = 15,
	R_NAME_OFF = 0, R_DECIDED_BY = 4, R_NAME_LEN = 8, R_VERDICT = 10, R_FLAGS = 11,
	R_USES = 12
};

static char tmpdir[64];

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
 * The documented checksum, recomputed here so a test can forge a snapshot
 * whose checksum is right but whose records are wrong: that is the only way
 * to reach the record checks behind the checksum.
 */
static void
resign(unsigned char *buf, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	const unsigned char *p = buf + H_CREATED;
	size_t n = len - H_CREATED, i;

	for (i = 0; i + 8 <= n; i += 8) {
		h = (h ^ get64(p + i)) * 0x9e3779b97f4a7c15ULL;
		h ^= h >> 32;
	}
	if (i < n) {
		unsigned char tail[8] = { 0 };

		memcpy(tail, p + i, n - i);
		h = (h ^ get64(tail)) * 0x9e3779b97f4a7c15ULL;
		h ^= h >> 32;
	}
	put64(buf + H_CHECKSUM, h ^ (uint64_t)n);
}

static int
name_is(const char *p, size_t len, const char *want)
{
	return len == strlen(want) && memcmp(p, want, len) == 0;
}

/*
 * Three dependencies (a failing storage account whose cause carries an
 * address, a witness, a degraded cache) and five registries added out of
 * order, one of them single-region, two sharing a prefix.
 */
static struct snap_writer *
small_writer(int64_t created)
{
	struct snap_writer *w = snapw_new(created, 30, 0);

	T_EQ_INT(snapw_add_dep(w, "storage-westus2-01", VERDICT_FAIL, DEP_KIND_STORAGE, SEV_CRITICAL, 0,
	                       1699990000, SECRET_CAUSE),
	         0);
	T_EQ_INT(snapw_add_dep(w, "witness-dns", VERDICT_PASS, DEP_KIND_OTHER, SEV_CRITICAL,
	                       SNAP_DEP_WITNESS, 1699980000, NULL),
	         1);
	T_EQ_INT(snapw_add_dep(w, "redis-cache", VERDICT_WARN, DEP_KIND_CACHE, SEV_DEGRADED, 0,
	                       1699970000, "timeout"),
	         2);
	T_EQ_INT(snapw_add_reg(w, "fabrikam", VERDICT_PASS, 0, SNAP_NO_DEP, 1699900001), 0);
	T_EQ_INT(snapw_add_reg(w, "contoso", VERDICT_FAIL, 0, 0, 1699900002), 0);
	T_EQ_INT(snapw_set_uses(w, (const uint32_t[]){ 0, 2 }, 2), 0);
	T_EQ_INT(snapw_add_reg(w, "zeta-single", VERDICT_FAIL, SNAP_REG_SINGLE_REGION, 0, 1699900003),
	         0);
	T_EQ_INT(snapw_add_reg(w, "con", VERDICT_WARN, 0, 2, 1699900004), 0);
	T_EQ_INT(snapw_add_reg(w, "adatum_1.x", VERDICT_PASS, 0, SNAP_NO_DEP, 1699900005), 0);
	return w;
}

static void
build_small(int64_t created, unsigned char **buf, size_t *len)
{
	struct snap_writer *w = small_writer(created);
	char err[256] = "";
	void *b = NULL;

	if (snapw_build(w, &b, len, err, sizeof(err)) != 0) {
		fprintf(stderr, "  snapw_build: %s\n", err);
		T_CHECK(!"snapw_build failed");
	}
	*buf = b;
	snapw_free(w);
}

static void
check_reg(const struct snap_reg *r, const char *name, enum verdict v, unsigned flags, uint32_t by,
          int64_t since)
{
	T_CHECK(name_is(r->name, r->name_len, name));
	T_EQ_INT(r->verdict, v);
	T_EQ_INT(r->flags, flags);
	T_EQ_INT(r->decided_by, by);
	T_EQ_INT(r->since, since);
}

static void
check_small(const struct snapshot *s)
{
	struct snap_dep d;
	struct snap_reg r;
	static const char *const missing[] = { "co", "conto", "contosoa", "contoso2", "a", "zzz",
		                               "Contoso", "zeta", "adatum", "fabrikam-" };

	T_EQ_INT(snap_created(s), NOW - 10);
	T_EQ_INT(snap_interval(s), 30);
	T_EQ_INT(snap_flags(s), 0);
	T_EQ_INT(snap_dep_count(s), 3);
	T_EQ_INT(snap_reg_count(s), 5);

	snap_dep_at(s, 0, &d);
	T_CHECK(name_is(d.name, d.name_len, "storage-westus2-01"));
	T_CHECK(name_is(d.cause, d.cause_len, SECRET_CAUSE));
	T_EQ_INT(d.state, VERDICT_FAIL);
	T_EQ_INT(d.kind, DEP_KIND_STORAGE);
	T_EQ_INT(d.severity, SEV_CRITICAL);
	T_EQ_INT(d.flags, 0);
	T_EQ_INT(d.since, 1699990000);
	snap_dep_at(s, 1, &d);
	T_CHECK(name_is(d.name, d.name_len, "witness-dns"));
	T_EQ_INT(d.cause_len, 0);
	T_EQ_INT(d.state, VERDICT_PASS);
	T_EQ_INT(d.kind, DEP_KIND_OTHER);
	T_EQ_INT(d.flags, SNAP_DEP_WITNESS);
	T_EQ_INT(d.since, 1699980000);
	snap_dep_at(s, 2, &d);
	T_CHECK(name_is(d.name, d.name_len, "redis-cache"));
	T_CHECK(name_is(d.cause, d.cause_len, "timeout"));
	T_EQ_INT(d.state, VERDICT_WARN);
	T_EQ_INT(d.kind, DEP_KIND_CACHE);
	T_EQ_INT(d.severity, SEV_DEGRADED);
	T_EQ_INT(d.since, 1699970000);

	/* Registries come back sorted, the shorter of two prefixes first. */
	snap_reg_at(s, 0, &r);
	check_reg(&r, "adatum_1.x", VERDICT_PASS, 0, SNAP_NO_DEP, 1699900005);
	snap_reg_at(s, 1, &r);
	check_reg(&r, "con", VERDICT_WARN, 0, 2, 1699900004);
	snap_reg_at(s, 2, &r);
	check_reg(&r, "contoso", VERDICT_FAIL, 0, 0, 1699900002);
	/* Its dependencies beyond the region-wide ones; the others list none. */
	T_EQ_INT(r.nuses, 2);
	if (r.nuses == 2) {
		T_EQ_INT(snap_use_at(s, r.uses), 0);
		T_EQ_INT(snap_use_at(s, r.uses + 1), 2);
	}
	snap_reg_at(s, 1, &r);
	T_EQ_INT(r.nuses, 0);
	snap_reg_at(s, 3, &r);
	check_reg(&r, "fabrikam", VERDICT_PASS, 0, SNAP_NO_DEP, 1699900001);
	snap_reg_at(s, 4, &r);
	check_reg(&r, "zeta-single", VERDICT_FAIL, SNAP_REG_SINGLE_REGION, 0, 1699900003);

	memset(&r, 0, sizeof(r));
	T_EQ_INT(snap_find_reg(s, "con", 3, &r), 1);
	check_reg(&r, "con", VERDICT_WARN, 0, 2, 1699900004);
	T_EQ_INT(snap_find_reg(s, "contoso", 7, &r), 1);
	check_reg(&r, "contoso", VERDICT_FAIL, 0, 0, 1699900002);
	T_EQ_INT(snap_find_reg(s, "adatum_1.x", 10, &r), 1);
	check_reg(&r, "adatum_1.x", VERDICT_PASS, 0, SNAP_NO_DEP, 1699900005);
	T_EQ_INT(snap_find_reg(s, "fabrikam", 8, &r), 1);
	check_reg(&r, "fabrikam", VERDICT_PASS, 0, SNAP_NO_DEP, 1699900001);
	T_EQ_INT(snap_find_reg(s, "zeta-single", 11, &r), 1);
	check_reg(&r, "zeta-single", VERDICT_FAIL, SNAP_REG_SINGLE_REGION, 0, 1699900003);
	/* The length decides, not a NUL: "contosoXYZ" cut at 3 is "con". */
	T_EQ_INT(snap_find_reg(s, "contosoXYZ", 3, &r), 1);
	T_CHECK(name_is(r.name, r.name_len, "con"));
	T_EQ_INT(snap_find_reg(s, "contosoXYZ", 7, &r), 1);
	T_CHECK(name_is(r.name, r.name_len, "contoso"));
	T_EQ_INT(snap_find_reg(s, "", 0, &r), 0);
	for (size_t i = 0; i < NELEM(missing); i++) {
		if (snap_find_reg(s, missing[i], strlen(missing[i]), &r) != 0) {
			fprintf(stderr, "  found missing \"%s\"\n", missing[i]);
			T_CHECK(!"missing name found");
		}
	}
}

static void
test_roundtrip(void)
{
	unsigned char *buf = NULL;
	size_t len = 0;
	struct snapshot *s = NULL;
	char detail[256] = "";

	build_small(NOW - 10, &buf, &len);
	T_CHECK(buf != NULL);
	if (buf == NULL)
		return;
	/* 64 header + 8 records of 24 + contoso's 2 uses of 4 + the strings. */
	T_EQ_INT(len, 64 + 8 * 24 + 2 * 4 + strlen("storage-westus2-01" SECRET_CAUSE "witness-dns"
	                                   "redis-cachetimeout"
	                                   "fabrikamcontosozeta-singleconadatum_1.x"));
	T_CHECK(memcmp(buf, SNAP_MAGIC, 8) == 0);
	T_EQ_INT(snap_parse(buf, len, NOW, &s, detail, sizeof(detail)), SNAP_OK);
	T_CHECK(s != NULL);
	if (s != NULL)
		check_small(s);
	snap_free(s);
	snap_free(NULL);
	free(buf);
}

static void
test_header_fields(void)
{
	struct snap_writer *w = snapw_new(1, 2, SNAP_FLAG_BLIND);
	void *b = NULL;
	size_t len = 0;
	char err[128];
	struct snapshot *s = NULL;

	snapw_set_header(w, NOW - 100, 45, SNAP_FLAG_BLIND);
	T_EQ_INT(snapw_build(w, &b, &len, err, sizeof(err)), 0);
	T_EQ_INT(len, SNAP_HEADER_SIZE);
	T_EQ_INT(snap_parse(b, len, NOW, &s, NULL, 0), SNAP_OK);
	if (s != NULL) {
		T_EQ_INT(snap_created(s), NOW - 100);
		T_EQ_INT(snap_interval(s), 45);
		T_EQ_INT(snap_flags(s), SNAP_FLAG_BLIND);
		T_EQ_INT(snap_dep_count(s), 0);
		T_EQ_INT(snap_reg_count(s), 0);
	}
	snap_free(s);
	free(b);
	/* The guard's flag, alone and with blind; an unknown bit is not written. */
	for (unsigned fl = SNAP_FLAG_GUARD; fl <= (SNAP_FLAG_GUARD | SNAP_FLAG_BLIND); fl++) {
		s = NULL;
		b = NULL;
		snapw_set_header(w, NOW - 100, 45, fl | 0x100u);
		T_EQ_INT(snapw_build(w, &b, &len, err, sizeof(err)), 0);
		T_EQ_INT(snap_parse(b, len, NOW, &s, NULL, 0), SNAP_OK);
		if (s != NULL)
			T_EQ_INT(snap_flags(s), fl);
		snap_free(s);
		free(b);
	}
	snapw_free(w);
	snapw_free(NULL);
}

/* Every strict prefix is refused, as too small or as the wrong length. */
static void
test_truncate_everywhere(void)
{
	unsigned char *buf;
	size_t len;
	int bad = 0;

	build_small(NOW - 10, &buf, &len);
	for (size_t cut = 0; cut < len; cut++) {
		struct snapshot *s = (struct snapshot *)&bad;
		enum snap_err want = cut < SNAP_HEADER_SIZE ? SNAP_TOO_SMALL : SNAP_BAD_LENGTH;
		enum snap_err e = snap_parse(buf, cut, NOW, &s, NULL, 0);

		if (e != want || s != NULL) {
			if (bad++ < 5)
				fprintf(stderr, "  cut at %zu: %s\n", cut, snap_err_str(e));
			snap_free(e == SNAP_OK ? s : NULL);
		}
	}
	T_EQ_INT(bad, 0);
	free(buf);
}

/* The first 32 bytes are checked by value, the rest by the checksum. */
static enum snap_err
flip_class(size_t off)
{
	if (off < 8)
		return SNAP_BAD_MAGIC;
	if (off < H_HSIZE)
		return SNAP_BAD_VERSION;
	if (off < H_FSIZE)
		return SNAP_BAD_LAYOUT;
	if (off < H_CHECKSUM)
		return SNAP_BAD_LENGTH;
	return SNAP_BAD_CHECKSUM;
}

static void
test_flip_everywhere(void)
{
	unsigned char *buf;
	size_t len;
	int bad = 0;

	build_small(NOW - 10, &buf, &len);
	for (size_t off = 0; off < len; off++) {
		for (int m = 0; m < 2; m++) {
			/* 0xFF flips every bit; 0x01 the smallest change. */
			unsigned char mask = m ? 0x01 : 0xFF;
			struct snapshot *s = NULL;
			enum snap_err e;

			buf[off] ^= mask;
			e = snap_parse(buf, len, NOW, &s, NULL, 0);
			buf[off] ^= mask;
			if (e == SNAP_OK || s != NULL || e != flip_class(off)) {
				if (bad++ < 5)
					fprintf(stderr, "  flip 0x%02x at %zu: %s\n", mask, off,
					        snap_err_str(e));
				snap_free(s);
			}
		}
	}
	T_EQ_INT(bad, 0);
	/* And the untouched buffer still parses. */
	{
		struct snapshot *s = NULL;

		T_EQ_INT(snap_parse(buf, len, NOW, &s, NULL, 0), SNAP_OK);
		snap_free(s);
	}
	free(buf);
}

static void
test_header_values(void)
{
	unsigned char *buf, *big;
	size_t len;
	struct snapshot *s = NULL;
	char detail[256];

	build_small(NOW - 10, &buf, &len);
	big = malloc(len + 1);
	memcpy(big, buf, len);
	big[len] = 0;
	detail[0] = '\0';
	T_EQ_INT(snap_parse(big, len + 1, NOW, &s, detail, sizeof(detail)), SNAP_BAD_LENGTH);
	T_CHECK(s == NULL);
	T_CHECK(detail[0] != '\0');

	memcpy(big, buf, len);
	memcpy(big, "DHSNAP\n\n", 8);
	T_EQ_INT(snap_parse(big, len, NOW, &s, NULL, 0), SNAP_BAD_MAGIC);

	/* Version is outside the checksum: a valid file that says 3 (or 1) is refused by value. */
	memcpy(big, buf, len);
	put32(big + H_VERSION, 3);
	detail[0] = '\0';
	T_EQ_INT(snap_parse(big, len, NOW, &s, detail, sizeof(detail)), SNAP_BAD_VERSION);
	T_CHECK(strstr(detail, "3") != NULL);
	put32(big + H_VERSION, 1);
	T_EQ_INT(snap_parse(big, len, NOW, &s, NULL, 0), SNAP_BAD_VERSION);
	put32(big + H_VERSION, 0);
	T_EQ_INT(snap_parse(big, len, NOW, &s, NULL, 0), SNAP_BAD_VERSION);

	memcpy(big, buf, len);
	put32(big + H_HSIZE, 65);
	T_EQ_INT(snap_parse(big, len, NOW, &s, NULL, 0), SNAP_BAD_LAYOUT);

	/* A file size in the header that matches neither the buffer. */
	memcpy(big, buf, len);
	put64(big + H_FSIZE, (uint64_t)len - 1);
	T_EQ_INT(snap_parse(big, len, NOW, &s, NULL, 0), SNAP_BAD_LENGTH);
	T_CHECK(s == NULL);
	free(big);
	free(buf);
}

static void
test_future(void)
{
	static const struct {
		int64_t ahead;
		enum snap_err want;
	} cases[] = {
		{ 3600, SNAP_FUTURE }, { SNAP_FUTURE_SKEW + 1, SNAP_FUTURE }, { SNAP_FUTURE_SKEW, SNAP_OK },
		{ 2, SNAP_OK }, { 0, SNAP_OK }, { -86400, SNAP_OK },
	};

	for (size_t i = 0; i < NELEM(cases); i++) {
		unsigned char *buf;
		size_t len;
		struct snapshot *s = NULL;
		enum snap_err e;

		build_small(NOW + cases[i].ahead, &buf, &len);
		e = snap_parse(buf, len, NOW, &s, NULL, 0);
		if (e != cases[i].want)
			fprintf(stderr, "  created now%+lld\n", (long long)cases[i].ahead);
		T_EQ_INT(e, cases[i].want);
		T_CHECK((s != NULL) == (cases[i].want == SNAP_OK));
		snap_free(s);
		free(buf);
	}
}

/*
 * Forged files: right checksum, wrong content.  Each edit is applied to a
 * fresh copy of a good snapshot, then re-signed.
 */
static void
test_forged_records(void)
{
	unsigned char *good, *b;
	size_t len;
	uint32_t strsize;
	struct snapshot *s = NULL;

	build_small(NOW - 10, &good, &len);
	b = malloc(len);
	strsize = get32(good + H_STRSIZE);
#define FORGE(edit, want)                                                          \
	do {                                                                       \
		memcpy(b, good, len);                                              \
		edit;                                                              \
		resign(b, len);                                                    \
		s = NULL;                                                          \
		T_EQ_INT(snap_parse(b, len, NOW, &s, NULL, 0), want);              \
		T_CHECK((s == NULL) == ((want) != SNAP_OK));                       \
		snap_free(s);                                                      \
	} while (0)
#define DEP(i) (b + SNAP_HEADER_SIZE + (i) * SNAP_RECORD_SIZE)
#define REG(i) (b + SNAP_HEADER_SIZE + (3 + (i)) * SNAP_RECORD_SIZE)

	/* The untouched copy, re-signed, is fine: the forging itself is right. */
	FORGE((void)0, SNAP_OK);
	/* BLIND and GUARD are known; any other header bit is refused (an older reader
	 * refuses GUARD this way: docs/snapshot.md). */
	FORGE(put32(b + H_FLAGS, 0x2), SNAP_OK);
	FORGE(put32(b + H_FLAGS, 0x3), SNAP_OK);
	FORGE(put32(b + H_FLAGS, 0x4), SNAP_BAD_LAYOUT);
	FORGE(put32(b + H_FLAGS, 0x80000002u), SNAP_BAD_LAYOUT);
	FORGE(put32(b + H_NUSES, 3), SNAP_BAD_LAYOUT); /* the uses table does not add up */
	FORGE(put32(b + H_STRSIZE, strsize + 1), SNAP_BAD_LAYOUT);
	FORGE(put32(b + H_NREGS, 4), SNAP_BAD_LAYOUT);
	FORGE(put32(b + H_NDEPS, 0xFFFFFFFFu), SNAP_BAD_LAYOUT);
	FORGE(put32(b + H_CREATED, (uint32_t)(NOW + 60)), SNAP_FUTURE);
	/* Before 1970: refused (its age would overflow the policy's arithmetic). */
	memcpy(b, good, len);
	put64(b + H_CREATED, (uint64_t)INT64_MIN);
	resign(b, len);
	s = NULL;
	T_CHECK(snap_parse(b, len, NOW, &s, NULL, 0) != SNAP_OK);
	T_CHECK(s == NULL);
	memcpy(b, good, len);
	put64(b + H_CREATED, (uint64_t)-1);
	resign(b, len);
	T_CHECK(snap_parse(b, len, NOW, &s, NULL, 0) != SNAP_OK);
	T_CHECK(s == NULL);

	FORGE(put32(DEP(0) + D_NAME_OFF, strsize), SNAP_BAD_RECORD);
	FORGE(put32(DEP(0) + D_NAME_OFF, 0xFFFFFFFFu), SNAP_BAD_RECORD);
	FORGE(put16(DEP(0) + D_NAME_LEN, 0), SNAP_BAD_RECORD);
	FORGE(put16(DEP(2) + D_NAME_LEN, 0xFFFF), SNAP_BAD_RECORD);
	FORGE(put16(DEP(0) + D_CAUSE_LEN, 0xFFFF), SNAP_BAD_RECORD);
	FORGE(put32(DEP(0) + D_CAUSE_OFF, strsize), SNAP_BAD_RECORD);
	/* A control byte inside a cause. */
	FORGE(b[len - strsize + get32(DEP(0) + D_CAUSE_OFF)] = '\n', SNAP_BAD_RECORD);
	/* A name byte outside the alphabet. */
	FORGE(b[len - strsize + get32(DEP(1) + D_NAME_OFF)] = '/', SNAP_BAD_RECORD);
	FORGE(DEP(0)[D_STATE] = 4, SNAP_BAD_RECORD);
	FORGE(DEP(0)[D_KIND] = DEP_KIND_COUNT, SNAP_BAD_RECORD);
	FORGE(DEP(0)[D_SEVERITY] = SEV_COUNT, SNAP_BAD_RECORD);
	FORGE(DEP(0)[D_FLAGS] = 0x4, SNAP_BAD_RECORD);
	FORGE(DEP(0)[D_FLAGS] = SNAP_DEP_ALL, SNAP_OK);

	FORGE(REG(2)[R_VERDICT] = VERDICT_UNKNOWN, SNAP_BAD_RECORD);
	FORGE(REG(2)[R_FLAGS] = 0x2, SNAP_BAD_RECORD);
	FORGE(put32(REG(2) + R_USES, 1), SNAP_BAD_RECORD);           /* an offset with no count */
	FORGE(put32(REG(2) + R_USES, 3u << 24), SNAP_BAD_RECORD);    /* past the uses table */
	FORGE(put32(REG(2) + R_USES, 1u | 1u << 24), SNAP_OK);       /* a slice of it */
	FORGE(put32(b + SNAP_HEADER_SIZE + 8 * SNAP_RECORD_SIZE + 4, 3), SNAP_BAD_RECORD); /* dep 3 of 3 */
	FORGE(put32(REG(2) + R_DECIDED_BY, 3), SNAP_BAD_RECORD);
	FORGE(put32(REG(2) + R_DECIDED_BY, SNAP_NO_DEP), SNAP_OK);
	FORGE(put16(REG(4) + R_NAME_LEN, 0), SNAP_BAD_RECORD);
	FORGE(put32(REG(4) + R_NAME_OFF, strsize - 1), SNAP_BAD_RECORD);
	/* Unsorted: swap the records of "con" and "contoso". */
	FORGE({
		unsigned char t[SNAP_RECORD_SIZE];

		memcpy(t, REG(1), SNAP_RECORD_SIZE);
		memcpy(REG(1), REG(2), SNAP_RECORD_SIZE);
		memcpy(REG(2), t, SNAP_RECORD_SIZE);
	}, SNAP_BAD_RECORD);
	/* Duplicate: the second registry record names the first one's string. */
	FORGE({
		memcpy(REG(1) + R_NAME_OFF, REG(0) + R_NAME_OFF, 4);
		memcpy(REG(1) + R_NAME_LEN, REG(0) + R_NAME_LEN, 2);
	}, SNAP_BAD_RECORD);
#undef FORGE
#undef DEP
#undef REG
	free(b);
	free(good);
}

static void
test_writer_duplicates(void)
{
	struct snap_writer *w = small_writer(NOW);
	void *b = (void *)&w;
	size_t len = 99;
	char err[256] = "";

	T_EQ_INT(snapw_add_reg(w, "contoso", VERDICT_PASS, 0, SNAP_NO_DEP, 0), 0);
	T_EQ_INT(snapw_build(w, &b, &len, err, sizeof(err)), -1);
	T_EQ_STR(err, "duplicate registry \"contoso\"");
	T_CHECK(b == NULL);
	T_EQ_INT(len, 0);
	snapw_free(w);

	w = small_writer(NOW);
	err[0] = '\0';
	T_EQ_INT(snapw_add_dep(w, "witness-dns", VERDICT_PASS, DEP_KIND_OTHER, SEV_CRITICAL, 0, 0, ""),
	         3);
	T_EQ_INT(snapw_build(w, &b, &len, err, sizeof(err)), -1);
	T_EQ_STR(err, "duplicate dependency \"witness-dns\"");
	T_CHECK(b == NULL);
	snapw_free(w);
}

static void
test_writer_bad_args(void)
{
	struct snap_writer *w = small_writer(NOW);
	char n253[254], n254[255];
	void *b = NULL;
	size_t len = 0;
	char err[128];
	struct snapshot *s = NULL;
	struct snap_reg r;

	memset(n253, 'r', 253);
	n253[253] = '\0';
	memset(n254, 'r', 254);
	n254[254] = '\0';
	T_EQ_INT(snapw_add_reg(w, "", VERDICT_PASS, 0, SNAP_NO_DEP, 0), -1);
	T_EQ_INT(snapw_add_reg(w, n254, VERDICT_PASS, 0, SNAP_NO_DEP, 0), -1);
	T_EQ_INT(snapw_add_reg(w, "has space", VERDICT_PASS, 0, SNAP_NO_DEP, 0), -1);
	T_EQ_INT(snapw_add_reg(w, "a/b", VERDICT_PASS, 0, SNAP_NO_DEP, 0), -1);
	T_EQ_INT(snapw_add_reg(w, "caf\xc3\xa9", VERDICT_PASS, 0, SNAP_NO_DEP, 0), -1);
	T_EQ_INT(snapw_add_reg(w, "new\nline", VERDICT_PASS, 0, SNAP_NO_DEP, 0), -1);
	T_EQ_INT(snapw_add_reg(w, "okname", VERDICT_PASS, 0, 3, 0), -1);
	T_EQ_INT(snapw_add_reg(w, "okname", VERDICT_PASS, 0, 1000, 0), -1);
	T_EQ_INT(snapw_add_reg(w, "okname", VERDICT_UNKNOWN, 0, SNAP_NO_DEP, 0), -1);
	T_EQ_INT(snapw_add_reg(w, "okname", (enum verdict)7, 0, SNAP_NO_DEP, 0), -1);
	T_EQ_INT(snapw_add_reg(w, "okname", VERDICT_PASS, 0x2, SNAP_NO_DEP, 0), -1);
	T_EQ_INT(snapw_add_reg(w, n253, VERDICT_WARN, 0, 2, 7), 0);

	T_EQ_INT(snapw_add_dep(w, "", VERDICT_PASS, DEP_KIND_AUTH, SEV_CRITICAL, 0, 0, NULL), -1);
	T_EQ_INT(snapw_add_dep(w, n254, VERDICT_PASS, DEP_KIND_AUTH, SEV_CRITICAL, 0, 0, NULL), -1);
	T_EQ_INT(snapw_add_dep(w, "a b", VERDICT_PASS, DEP_KIND_AUTH, SEV_CRITICAL, 0, 0, NULL), -1);
	T_EQ_INT(snapw_add_dep(w, "d", (enum verdict)4, DEP_KIND_AUTH, SEV_CRITICAL, 0, 0, NULL), -1);
	T_EQ_INT(snapw_add_dep(w, "d", VERDICT_PASS, DEP_KIND_COUNT, SEV_CRITICAL, 0, 0, NULL), -1);
	T_EQ_INT(snapw_add_dep(w, "d", VERDICT_PASS, DEP_KIND_AUTH, SEV_COUNT, 0, 0, NULL), -1);
	T_EQ_INT(snapw_add_dep(w, "d", VERDICT_PASS, DEP_KIND_AUTH, SEV_CRITICAL, 0x4, 0, NULL), -1);
	/* Causes are cleaned, not refused: control and 8-bit bytes become '?'. */
	T_EQ_INT(snapw_add_dep(w, "auth", VERDICT_UNKNOWN, DEP_KIND_AUTH, SEV_CRITICAL, 0, 5,
	                       "bad\r\nline\x01\xc3\xa9!"),
	         3);

	/* None of the refused calls left anything behind. */
	T_EQ_INT(snapw_build(w, &b, &len, err, sizeof(err)), 0);
	T_EQ_INT(snap_parse(b, len, NOW, &s, NULL, 0), SNAP_OK);
	if (s != NULL) {
		struct snap_dep d;

		T_EQ_INT(snap_reg_count(s), 6);
		T_EQ_INT(snap_dep_count(s), 4);
		T_EQ_INT(snap_find_reg(s, n253, 253, &r), 1);
		T_EQ_INT(r.verdict, VERDICT_WARN);
		T_EQ_INT(r.decided_by, 2);
		T_EQ_INT(snap_find_reg(s, "okname", 6, &r), 0);
		snap_dep_at(s, 3, &d);
		T_CHECK(name_is(d.name, d.name_len, "auth"));
		T_CHECK(name_is(d.cause, d.cause_len, "bad?\?line?\?\?!"));
		T_EQ_INT(d.state, VERDICT_UNKNOWN);
	}
	snap_free(s);
	free(b);
	snapw_free(w);
}

static void
test_cause_bounded(void)
{
	struct snap_writer *w = snapw_new(NOW, 30, 0);
	char cause[3000];
	void *b = NULL;
	size_t len = 0;
	char err[128];
	struct snapshot *s = NULL;
	struct snap_dep d;

	memset(cause, 'c', sizeof(cause) - 1);
	cause[sizeof(cause) - 1] = '\0';
	T_EQ_INT(snapw_add_dep(w, "long", VERDICT_FAIL, DEP_KIND_OTHER, SEV_CRITICAL, 0, 0, cause), 0);
	T_EQ_INT(snapw_build(w, &b, &len, err, sizeof(err)), 0);
	T_EQ_INT(snap_parse(b, len, NOW, &s, NULL, 0), SNAP_OK);
	if (s != NULL) {
		snap_dep_at(s, 0, &d);
		T_EQ_INT(d.cause_len, 1024);
	}
	snap_free(s);
	free(b);
	snapw_free(w);
}

/* ------------------------------------------------------------ files */

static char *
tpath(const char *name)
{
	static char buf[4][256];
	static int k;

	k = (k + 1) % 4;
	snprintf(buf[k], sizeof(buf[k]), "%s/%s", tmpdir, name);
	return buf[k];
}

static int
write_file(const char *path, const void *p, size_t len)
{
	FILE *f = fopen(path, "wb");
	int rc;

	if (f == NULL)
		return -1;
	rc = fwrite(p, 1, len, f) == len ? 0 : -1;
	if (fclose(f) != 0)
		rc = -1;
	return rc;
}

/* Names in dir, except "." and ".."; the first one in *first. */
static int
count_entries(const char *dir, char *first, size_t firstlen)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	if (first && firstlen)
		first[0] = '\0';
	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (n++ == 0 && first)
			snprintf(first, firstlen, "%s", de->d_name);
	}
	closedir(d);
	return n;
}

static void
test_load_files(void)
{
	unsigned char *buf;
	size_t len;
	struct snapshot *s = NULL;
	char detail[256];
	enum snap_err e;

	build_small(NOW - 10, &buf, &len);

	detail[0] = '\0';
	T_EQ_INT(snap_load(tpath("absent"), NOW, &s, detail, sizeof(detail)), SNAP_MISSING);
	T_CHECK(s == NULL);
	T_CHECK(detail[0] != '\0');

	T_EQ_INT(mkdir(tpath("adir"), 0755), 0);
	T_EQ_INT(snap_load(tpath("adir"), NOW, &s, detail, sizeof(detail)), SNAP_NOT_REGULAR);
	T_CHECK(s == NULL);

	/* A FIFO with no writer: opening it for reading must not block. */
	T_EQ_INT(mkfifo(tpath("fifo"), 0644), 0);
	alarm(60); /* a watchdog, not a measurement: a hang becomes a failed run */
	T_EQ_INT(snap_load(tpath("fifo"), NOW, &s, detail, sizeof(detail)), SNAP_NOT_REGULAR);
	alarm(0);
	T_CHECK(s == NULL);

	T_EQ_INT(write_file(tpath("empty"), "", 0), 0);
	T_EQ_INT(snap_load(tpath("empty"), NOW, &s, detail, sizeof(detail)), SNAP_TOO_SMALL);
	T_EQ_INT(write_file(tpath("short"), buf, SNAP_HEADER_SIZE - 1), 0);
	T_EQ_INT(snap_load(tpath("short"), NOW, &s, detail, sizeof(detail)), SNAP_TOO_SMALL);
	T_EQ_INT(write_file(tpath("trunc"), buf, len - 1), 0);
	T_EQ_INT(snap_load(tpath("trunc"), NOW, &s, detail, sizeof(detail)), SNAP_BAD_LENGTH);
	T_CHECK(s == NULL);

	T_EQ_INT(write_file(tpath("good"), buf, len), 0);
	T_EQ_INT(snap_load(tpath("good"), NOW, &s, detail, sizeof(detail)), SNAP_OK);
	T_CHECK(s != NULL);
	if (s != NULL)
		check_small(s);
	snap_free(s);
	s = NULL;
	/* The same good file, judged at an earlier clock, is from the future. */
	T_EQ_INT(snap_load(tpath("good"), NOW - 3600, &s, detail, sizeof(detail)), SNAP_FUTURE);
	T_CHECK(s == NULL);

	/* Mode 000: root reads it anyway, so only a non-root run can expect a refusal. */
	T_EQ_INT(write_file(tpath("noperm"), buf, len), 0);
	T_EQ_INT(chmod(tpath("noperm"), 0), 0);
	e = snap_load(tpath("noperm"), NOW, &s, detail, sizeof(detail));
	if (geteuid() != 0) {
		T_EQ_INT(e, SNAP_UNREADABLE);
		T_CHECK(s == NULL);
	} else {
		T_CHECK(e == SNAP_OK || e == SNAP_UNREADABLE);
		T_CHECK((s != NULL) == (e == SNAP_OK));
	}
	snap_free(s);
	free(buf);
}

static void
test_publish(void)
{
	struct snap_writer *w = small_writer(NOW - 10), *w2;
	char err[512] = "", first[256], *dir = tpath("pub"), path[300];
	struct snapshot *s = NULL;
	struct stat st;

	T_EQ_INT(mkdir(dir, 0755), 0);
	snprintf(path, sizeof(path), "%s/snapshot", dir);
	T_EQ_INT(snapw_publish(w, path, err, sizeof(err)), 0);
	if (err[0] != '\0')
		fprintf(stderr, "  publish: %s\n", err);
	T_EQ_INT(snap_load(path, NOW, &s, NULL, 0), SNAP_OK);
	if (s != NULL)
		check_small(s);
	snap_free(s);
	s = NULL;
	T_EQ_INT(count_entries(dir, first, sizeof(first)), 1);
	T_EQ_STR(first, "snapshot");
	T_EQ_INT(stat(path, &st), 0);
	T_EQ_INT(st.st_mode & 07777, 0644);

	/* Publishing again replaces the file, and still leaves no temp file. */
	w2 = snapw_new(NOW - 5, 60, SNAP_FLAG_BLIND);
	T_EQ_INT(snapw_add_reg(w2, "only", VERDICT_WARN, 0, SNAP_NO_DEP, 1), 0);
	T_EQ_INT(snapw_publish(w2, path, err, sizeof(err)), 0);
	T_EQ_INT(snap_load(path, NOW, &s, NULL, 0), SNAP_OK);
	if (s != NULL) {
		T_EQ_INT(snap_created(s), NOW - 5);
		T_EQ_INT(snap_flags(s), SNAP_FLAG_BLIND);
		T_EQ_INT(snap_reg_count(s), 1);
		T_EQ_INT(snap_dep_count(s), 0);
	}
	snap_free(s);
	s = NULL;
	T_EQ_INT(count_entries(dir, first, sizeof(first)), 1);
	T_EQ_STR(first, "snapshot");

	/* A writer that cannot build leaves the published file as it was. */
	T_EQ_INT(snapw_add_reg(w2, "only", VERDICT_FAIL, 0, SNAP_NO_DEP, 2), 0);
	err[0] = '\0';
	T_EQ_INT(snapw_publish(w2, path, err, sizeof(err)), -1);
	T_CHECK(strstr(err, "duplicate registry") != NULL);
	T_EQ_INT(snap_load(path, NOW, &s, NULL, 0), SNAP_OK);
	if (s != NULL)
		T_EQ_INT(snap_created(s), NOW - 5);
	snap_free(s);
	s = NULL;
	T_EQ_INT(count_entries(dir, NULL, 0), 1);

	/* The rename itself failing (a directory in the way) must remove the temp file. */
	T_EQ_INT(mkdir(tpath("pub/taken"), 0755), 0);
	T_EQ_INT(write_file(tpath("pub/taken/x"), "x", 1), 0);
	err[0] = '\0';
	T_EQ_INT(snapw_publish(w, tpath("pub/taken"), err, sizeof(err)), -1);
	T_CHECK(err[0] != '\0');
	T_EQ_INT(count_entries(dir, NULL, 0), 2);
	T_EQ_INT(count_entries(tpath("pub/taken"), NULL, 0), 1);

	snapw_free(w);
	snapw_free(w2);
}

static void
test_publish_no_dir(void)
{
	struct snap_writer *w = small_writer(NOW - 10);
	char err[512] = "";
	int before = count_entries(tmpdir, NULL, 0);
	struct stat st;

	T_EQ_INT(snapw_publish(w, tpath("no-such-dir/snapshot"), err, sizeof(err)), -1);
	T_CHECK(err[0] != '\0');
	T_CHECK(strstr(err, "no-such-dir") != NULL);
	T_EQ_INT(count_entries(tmpdir, NULL, 0), before);
	T_CHECK(stat(tpath("no-such-dir"), &st) == -1 && errno == ENOENT);
	snapw_free(w);
}

/* The scale we design for: 100,000 registries, added in a scrambled order. */
static void
test_large(void)
{
	enum { N = 100000 };
	struct snap_writer *w = snapw_new(NOW - 1, 30, 0);
	char name[32], err[128] = "";
	void *b = NULL;
	size_t len = 0;
	struct snapshot *s = NULL;
	struct snap_reg r;
	int bad = 0;

	T_EQ_INT(snapw_add_dep(w, "storage-1", VERDICT_FAIL, DEP_KIND_STORAGE, SEV_CRITICAL, 0, 0,
	                       NULL),
	         0);
	for (uint32_t k = 0; k < N; k++) {
		uint32_t i = (uint32_t)(((uint64_t)k * 7919) % N); /* 7919 is prime to N */

		snprintf(name, sizeof(name), "r%06u", i);
		if (snapw_add_reg(w, name, (enum verdict)(i % 3), 0, i % 3 == 2 ? 0 : SNAP_NO_DEP,
		                  i) != 0)
			bad++;
	}
	T_EQ_INT(bad, 0);
	T_EQ_INT(snapw_build(w, &b, &len, err, sizeof(err)), 0);
	T_EQ_INT(len, SNAP_HEADER_SIZE + (N + 1) * SNAP_RECORD_SIZE + strlen("storage-1") + N * 7);
	T_EQ_INT(snap_parse(b, len, NOW, &s, NULL, 0), SNAP_OK);
	if (s == NULL)
		goto out;
	T_EQ_INT(snap_reg_count(s), N);
	for (uint32_t i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "r%06u", i);
		snap_reg_at(s, i, &r);
		if (!name_is(r.name, r.name_len, name) || r.verdict != (enum verdict)(i % 3) ||
		    r.since != i)
			bad++;
	}
	T_EQ_INT(bad, 0);
	T_EQ_INT(snap_find_reg(s, "r000000", 7, &r), 1);
	T_EQ_INT(r.since, 0);
	T_EQ_INT(snap_find_reg(s, "r050000", 7, &r), 1);
	T_EQ_INT(r.since, 50000);
	T_EQ_INT(r.verdict, 50000 % 3);
	T_EQ_INT(snap_find_reg(s, "r099999", 7, &r), 1);
	T_EQ_INT(r.since, 99999);
	T_EQ_INT(r.decided_by, 99999 % 3 == 2 ? 0 : SNAP_NO_DEP);
	T_EQ_INT(snap_find_reg(s, "r100000", 7, &r), 0);
	T_EQ_INT(snap_find_reg(s, "r", 1, &r), 0);
	T_EQ_INT(snap_find_reg(s, "r0500000", 8, &r), 0);
out:
	snap_free(s);
	free(b);
	snapw_free(w);
}

static void
test_str_functions(void)
{
	for (int e = SNAP_OK; e <= SNAP_FUTURE; e++) {
		T_CHECK(strcmp(snap_err_str((enum snap_err)e), "?") != 0);
		for (int k = SNAP_OK; k < e; k++)
			T_CHECK(strcmp(snap_err_str((enum snap_err)e), snap_err_str((enum snap_err)k)) != 0);
	}
	T_EQ_STR(snap_err_str((enum snap_err)(SNAP_FUTURE + 1)), "?");
	T_EQ_STR(verdict_str(VERDICT_PASS), "pass");
	T_EQ_STR(verdict_str(VERDICT_WARN), "warn");
	T_EQ_STR(verdict_str(VERDICT_FAIL), "fail");
	T_EQ_STR(verdict_str(VERDICT_UNKNOWN), "unknown");
	for (int k = 0; k < DEP_KIND_COUNT; k++)
		T_CHECK(strcmp(dep_kind_str((enum dep_kind)k), "?") != 0);
	T_EQ_STR(dep_kind_str(DEP_KIND_COUNT), "?");
	T_EQ_STR(severity_str(SEV_CRITICAL), "critical");
	T_EQ_STR(severity_str(SEV_DEGRADED), "degraded");
	T_EQ_STR(severity_str(SEV_COUNT), "?");
}

/* The one publish: mode, content, nothing left beside it; the names tables both ways. */
static void
test_publish_file(void)
{
	char err[256];
	struct stat st;
	size_t n;

	T_EQ_INT(publish_file(tpath("onefile"), "one\n", 4, 0600, err, sizeof(err)), 0);
	T_CHECK(stat(tpath("onefile"), &st) == 0 && (st.st_mode & 0777) == 0600 && st.st_size == 4);
	T_EQ_INT(publish_file(tpath("onefile"), "second\n", 7, 0644, err, sizeof(err)), 0);
	T_CHECK(stat(tpath("onefile"), &st) == 0 && (st.st_mode & 0777) == 0644 && st.st_size == 7);
	/* Leftovers of an interrupted publish are its temp name; publish_clean removes only those. */
	T_EQ_INT(write_file(tpath(".onefile.tmp.AbC123"), "x", 1), 0);
	T_EQ_INT(write_file(tpath("onefile.tmp.keep"), "x", 1), 0);
	n = publish_clean(tpath("onefile"));
	T_EQ_INT((int)n, 1);
	T_CHECK(stat(tpath(".onefile.tmp.AbC123"), &st) == -1);
	T_CHECK(stat(tpath("onefile.tmp.keep"), &st) == 0);
	T_CHECK(stat(tpath("onefile"), &st) == 0 && st.st_size == 7);
	err[0] = '\0';
	T_EQ_INT(publish_file(tpath("no-such-dir/onefile"), "x", 1, 0644, err, sizeof(err)), -1);
	T_CHECK(strstr(err, "mkstemp") != NULL);
	T_EQ_INT(names_find(verdict_names, "fail"), VERDICT_FAIL);
	T_EQ_INT(names_find(dep_kind_names, "metadata"), DEP_KIND_METADATA);
	T_EQ_INT(names_find(severity_names, "degraded"), SEV_DEGRADED);
	T_EQ_INT(names_find(severity_names, "nope"), -1);
	T_EQ_STR(names_at(verdict_names, 99), "?");
	T_EQ_STR(names_at(verdict_names, -1), "?");
}

static int
rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	/* Mode-000 files and directories are removable by their parent's permissions. */
	return flag == FTW_DP ? rmdir(path) : unlink(path);
}

int
main(void)
{
	static const struct t_case cases[] = {
		T_CASE(test_roundtrip),
		T_CASE(test_header_fields),
		T_CASE(test_truncate_everywhere),
		T_CASE(test_flip_everywhere),
		T_CASE(test_header_values),
		T_CASE(test_future),
		T_CASE(test_forged_records),
		T_CASE(test_writer_duplicates),
		T_CASE(test_writer_bad_args),
		T_CASE(test_cause_bounded),
		T_CASE(test_publish_file),
		T_CASE(test_load_files),
		T_CASE(test_publish),
		T_CASE(test_publish_no_dir),
		T_CASE(test_large),
		T_CASE(test_str_functions),
	};
	int rc;

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/dh-unit-XXXXXX");
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	rc = t_run("snap", cases, NELEM(cases));
	if (nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS) != 0)
		perror(tmpdir);
	return rc;
}
