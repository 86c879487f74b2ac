/* test_resolve.c: host normalization, the exact map, rule order and limits, host map files. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "responder.h"
#include "t.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))


/*
 * A syntactically plausible host of exactly n bytes: labels of 63 letters
 * separated by dots, never ending in a dot, so only the length matters.
 */
static char *
make_host(size_t n, int upper)
{
	char *h = malloc(n + 1);

	for (size_t i = 0; i < n; i++)
		h[i] = i % 64 == 63 ? '.' : (char)((upper ? 'A' : 'a') + i % 26);
	if (n > 0 && h[n - 1] == '.')
		h[n - 1] = 'z';
	h[n] = '\0';
	return h;
}

struct norm_case {
	const char *raw;
	enum host_err want;
	const char *out; /* when want == HOST_OK */
};

static const struct norm_case norm_cases[] = {
	/* case folding */
	{ "Example.COM", HOST_OK, "example.com" },
	{ "CONTOSO.AZURECR.IO", HOST_OK, "contoso.azurecr.io" },
	{ "a-b-c.Z9", HOST_OK, "a-b-c.z9" },
	/* one trailing dot is the root; only one is removed */
	{ "example.com.", HOST_OK, "example.com" },
	{ "example.com..", HOST_OK, "example.com." },
	{ "x.", HOST_OK, "x" },
	/* ports */
	{ "example.com:443", HOST_OK, "example.com" },
	{ "example.com.:443", HOST_OK, "example.com" },
	{ "example.com:", HOST_OK, "example.com" },
	{ "example.com:0", HOST_OK, "example.com" },
	{ "example.com:65535", HOST_OK, "example.com" },
	{ "example.com:99999", HOST_OK, "example.com" },
	{ "example.com:123456", HOST_BAD_PORT, NULL },
	{ "example.com:http", HOST_BAD_PORT, NULL },
	{ "example.com:80a", HOST_BAD_PORT, NULL },
	{ "example.com:a80", HOST_BAD_PORT, NULL },
	{ "example.com:-1", HOST_BAD_PORT, NULL },
	{ "example.com:80:80", HOST_BAD_PORT, NULL },
	{ "example.com: 80", HOST_BAD_PORT, NULL },
	/* nothing left */
	{ "", HOST_EMPTY, NULL },
	{ ":80", HOST_EMPTY, NULL },
	{ ":", HOST_EMPTY, NULL },
	{ ".", HOST_EMPTY, NULL },
	{ ".:80", HOST_EMPTY, NULL },
	/* outside the alphabet: letters, digits, '-', '.' */
	{ "exa\rmple.com", HOST_BAD_BYTE, NULL },
	{ "example.com\r\n", HOST_BAD_BYTE, NULL },
	{ "exa\nmple.com", HOST_BAD_BYTE, NULL },
	{ "exa mple.com", HOST_BAD_BYTE, NULL },
	{ " example.com", HOST_BAD_BYTE, NULL },
	{ "exa\tmple.com", HOST_BAD_BYTE, NULL },
	{ "caf\xc3\xa9.example", HOST_BAD_BYTE, NULL },
	{ "\xff", HOST_BAD_BYTE, NULL },
	{ "del\x7f.example", HOST_BAD_BYTE, NULL },
	{ "user@example.com", HOST_BAD_BYTE, NULL },
	{ "example.com/path", HOST_BAD_BYTE, NULL },
	{ "my_registry.azurecr.io", HOST_BAD_BYTE, NULL },
	{ "example%2ecom", HOST_BAD_BYTE, NULL },
	{ "example.com,evil.com", HOST_BAD_BYTE, NULL },
	/* IP literals */
	{ "[::1]:443", HOST_IP_LITERAL, NULL },
	{ "[::1]", HOST_IP_LITERAL, NULL },
	{ "[fe80::1%25eth0]", HOST_IP_LITERAL, NULL },
	{ "127.0.0.1:8080", HOST_OK, "127.0.0.1" },
	{ "10.0.0.1", HOST_OK, "10.0.0.1" },
};

static void
test_normalize_table(void)
{
	for (size_t i = 0; i < NELEM(norm_cases); i++) {
		const struct norm_case *c = &norm_cases[i];
		char out[DH_HOST_MAX + 1];
		size_t len = 12345;
		enum host_err e = host_normalize(c->raw, out, &len);

		if (e != c->want)
			fprintf(stderr, "  case %zu: \"%s\"\n", i, c->raw);
		T_EQ_INT(e, c->want);
		if (c->want == HOST_OK && e == HOST_OK) {
			T_EQ_STR(out, c->out);
			T_EQ_INT(len, strlen(c->out));
		}
	}
}

static void
test_normalize_null(void)
{
	char out[DH_HOST_MAX + 1];
	size_t len;

	T_EQ_INT(host_normalize(NULL, out, &len), HOST_EMPTY);
}

/* Runs host_normalize with guard bytes after out: a long input must not write past it. */
static enum host_err
normalize_guarded(const char *raw, char *copy, size_t *len)
{
	unsigned char buf[DH_HOST_MAX + 1 + 64];
	enum host_err e;

	memset(buf, 0xA5, sizeof(buf));
	e = host_normalize(raw, (char *)buf, len);
	for (size_t i = DH_HOST_MAX + 1; i < sizeof(buf); i++) {
		if (buf[i] != 0xA5) {
			fprintf(stderr, "  write past out at %zu\n", i);
			T_CHECK(buf[i] == 0xA5);
			break;
		}
	}
	memcpy(copy, buf, DH_HOST_MAX + 1);
	return e;
}

static void
test_normalize_lengths(void)
{
	char out[DH_HOST_MAX + 1], raw[2048];
	char *h253 = make_host(253, 0), *h253u = make_host(253, 1), *h254 = make_host(254, 0);
	char *h1000 = make_host(1000, 0), *h252 = make_host(252, 0);
	size_t len = 0;

	T_EQ_INT(strlen(h253), 253);
	T_EQ_INT(normalize_guarded(h253, out, &len), HOST_OK);
	T_EQ_INT(len, 253);
	T_CHECK(memcmp(out, h253, 254) == 0);

	/* Uppercase of the same length folds to the same host. */
	T_EQ_INT(normalize_guarded(h253u, out, &len), HOST_OK);
	T_EQ_INT(len, 253);
	T_CHECK(memcmp(out, h253, 254) == 0);

	/* 253 + the root dot, and + a port: still 253 after normalization. */
	snprintf(raw, sizeof(raw), "%s.", h253);
	T_EQ_INT(normalize_guarded(raw, out, &len), HOST_OK);
	T_EQ_INT(len, 253);
	T_CHECK(memcmp(out, h253, 254) == 0);
	snprintf(raw, sizeof(raw), "%s.:443", h253);
	T_EQ_INT(normalize_guarded(raw, out, &len), HOST_OK);
	T_EQ_INT(len, 253);
	snprintf(raw, sizeof(raw), "%s:8080", h253);
	T_EQ_INT(normalize_guarded(raw, out, &len), HOST_OK);
	T_EQ_INT(len, 253);

	/* 252 + "." + "." is 253 after removing only one dot. */
	snprintf(raw, sizeof(raw), "%s..", h252);
	T_EQ_INT(normalize_guarded(raw, out, &len), HOST_OK);
	T_EQ_INT(len, 253);

	T_EQ_INT(normalize_guarded(h254, out, &len), HOST_TOO_LONG);
	snprintf(raw, sizeof(raw), "%s.", h254);
	T_EQ_INT(normalize_guarded(raw, out, &len), HOST_TOO_LONG);
	snprintf(raw, sizeof(raw), "%s:80", h254);
	T_EQ_INT(normalize_guarded(raw, out, &len), HOST_TOO_LONG);
	/* 253 + two dots: one dot stays, 254 bytes. */
	snprintf(raw, sizeof(raw), "%s..", h253);
	T_EQ_INT(normalize_guarded(raw, out, &len), HOST_TOO_LONG);
	T_EQ_INT(normalize_guarded(h1000, out, &len), HOST_TOO_LONG);

	free(h253);
	free(h253u);
	free(h254);
	free(h1000);
	free(h252);
}

static void
test_str_functions(void)
{
	const char *seen[8] = { 0 };
	size_t n = 0;

	for (int e = HOST_OK; e <= HOST_IP_LITERAL; e++) {
		const char *s = host_err_str((enum host_err)e);

		T_CHECK(strcmp(s, "?") != 0);
		for (size_t k = 0; k < n; k++)
			T_CHECK(strcmp(seen[k], s) != 0);
		seen[n++] = s;
	}
	T_EQ_STR(host_err_str((enum host_err)(HOST_IP_LITERAL + 1)), "?");
	T_EQ_STR(resolve_result_str(RESOLVE_FOUND), "found");
	T_EQ_STR(resolve_result_str(RESOLVE_UNKNOWN), "unknown");
	T_EQ_STR(resolve_result_str(RESOLVE_INVALID), "invalid");
	T_EQ_STR(resolve_result_str(RESOLVE_ERROR), "error");
}

/* 20,000 entries forces many doublings from the initial table; every one must stay findable. */
static void
test_map_many(void)
{
	struct resolver *r = resolver_new(1000, 100);
	char host[64], raw[80], reg[DH_NAME_MAX + 1], want[32], out[DH_HOST_MAX + 1];
	enum host_err he;
	int bad = 0;

	for (int i = 0; i < 20000; i++) {
		snprintf(host, sizeof(host), "host-%05d.example.com", i);
		snprintf(want, sizeof(want), "reg%05d", i);
		if (resolver_add_host(r, host, want) != 0)
			bad++;
	}
	T_EQ_INT(bad, 0);
	T_EQ_INT(resolver_host_count(r), 20000);
	T_EQ_INT(resolver_rule_count(r), 0);
	for (int i = 0; i < 20000; i++) {
		enum resolve_result rr;

		/* Alternate raw spellings: the lookup normalizes before the map. */
		snprintf(raw, sizeof(raw), i % 2 ? "HOST-%05d.Example.Com.:443" : "host-%05d.example.com",
		         i);
		snprintf(want, sizeof(want), "reg%05d", i);
		rr = resolver_lookup(r, raw, out, reg, &he);
		if (rr != RESOLVE_FOUND || strcmp(reg, want) != 0) {
			if (bad++ < 5)
				fprintf(stderr, "  lookup %s: %s\n", raw, resolve_result_str(rr));
		}
	}
	T_EQ_INT(bad, 0);
	T_EQ_INT(resolver_lookup(r, "host-20000.example.com", out, reg, &he), RESOLVE_UNKNOWN);
	T_EQ_INT(he, HOST_OK);
	T_EQ_STR(out, "host-20000.example.com");
	T_EQ_INT(resolver_lookup(r, "host-0000.example.com", out, reg, &he), RESOLVE_UNKNOWN);
	/* A prefix of a mapped host is a different host. */
	T_EQ_INT(resolver_lookup(r, "host-00001.example.co", out, reg, &he), RESOLVE_UNKNOWN);
	resolver_free(r);
}

static void
test_map_duplicate(void)
{
	struct resolver *r = resolver_new(1000, 100);
	char reg[DH_NAME_MAX + 1], out[DH_HOST_MAX + 1];
	enum host_err he;

	T_EQ_INT(resolver_add_host(r, "a.example.com", "first"), 0);
	T_EQ_INT(resolver_add_host(r, "a.example.com", "second"), -1);
	T_EQ_INT(resolver_host_count(r), 1);
	T_EQ_INT(resolver_lookup(r, "A.example.com", out, reg, &he), RESOLVE_FOUND);
	T_EQ_STR(reg, "first");
	T_EQ_INT(resolver_lookup(r, "b.example.com", out, reg, &he), RESOLVE_UNKNOWN);
	resolver_free(r);
	resolver_free(NULL);
}

static void
test_lookup_invalid(void)
{
	struct resolver *r = resolver_new(1000, 100);
	char reg[DH_NAME_MAX + 1], out[DH_HOST_MAX + 1];
	enum host_err he = HOST_OK;

	T_EQ_INT(resolver_add_rule(r, "^(?<registry>.*)$", reg, sizeof(reg)), 0);
	T_EQ_INT(resolver_lookup(r, NULL, out, reg, &he), RESOLVE_INVALID);
	T_EQ_INT(he, HOST_EMPTY);
	T_EQ_INT(resolver_lookup(r, "a b", out, reg, &he), RESOLVE_INVALID);
	T_EQ_INT(he, HOST_BAD_BYTE);
	T_EQ_INT(resolver_lookup(r, "[::1]:443", out, reg, &he), RESOLVE_INVALID);
	T_EQ_INT(he, HOST_IP_LITERAL);
	T_EQ_INT(resolver_lookup(r, "a:port", out, reg, &he), RESOLVE_INVALID);
	T_EQ_INT(he, HOST_BAD_PORT);
	resolver_free(r);
}

static void
add_rule_ok(struct resolver *r, const char *pat)
{
	char err[512] = "";

	if (resolver_add_rule(r, pat, err, sizeof(err)) != 0) {
		fprintf(stderr, "  rule %s: %s\n", pat, err);
		T_CHECK(!"rule rejected");
	}
}

static void
test_rule_order(void)
{
	/* Both rules match "abc123.azurecr.io" but capture different registries. */
	static const char *const digits = "^(?<registry>[a-z0-9]+)\\.azurecr\\.io$";
	static const char *const letters = "^(?<registry>[a-z]+)[0-9]*\\.azurecr\\.io$";
	struct resolver *r1 = resolver_new(10000, 1000), *r2 = resolver_new(10000, 1000);
	char reg[DH_NAME_MAX + 1], out[DH_HOST_MAX + 1];
	enum host_err he;

	add_rule_ok(r1, digits);
	add_rule_ok(r1, letters);
	add_rule_ok(r2, letters);
	add_rule_ok(r2, digits);
	T_EQ_INT(resolver_rule_count(r1), 2);
	T_EQ_INT(resolver_lookup(r1, "ABC123.azurecr.io", out, reg, &he), RESOLVE_FOUND);
	T_EQ_STR(reg, "abc123");
	T_EQ_INT(resolver_lookup(r2, "ABC123.azurecr.io", out, reg, &he), RESOLVE_FOUND);
	T_EQ_STR(reg, "abc");
	/* The second rule still serves what the first one does not match. */
	T_EQ_INT(resolver_lookup(r2, "123.azurecr.io", out, reg, &he), RESOLVE_FOUND);
	T_EQ_STR(reg, "123");
	T_EQ_INT(resolver_lookup(r1, "abc.example.com", out, reg, &he), RESOLVE_UNKNOWN);
	T_EQ_INT(he, HOST_OK);

	/* The exact map is consulted before any rule. */
	T_EQ_INT(resolver_add_host(r1, "contoso.azurecr.io", "special"), 0);
	T_EQ_INT(resolver_lookup(r1, "contoso.azurecr.io.", out, reg, &he), RESOLVE_FOUND);
	T_EQ_STR(reg, "special");
	T_EQ_INT(resolver_lookup(r1, "fabrikam.azurecr.io", out, reg, &he), RESOLVE_FOUND);
	T_EQ_STR(reg, "fabrikam");
	resolver_free(r1);
	resolver_free(r2);
}

/*
 * The literal-suffix prefilter: what it extracts, what it refuses, and that a rule it
 * would skip never matches (checked against PCRE2 itself over a host corpus).
 */
static void
test_rule_suffix(void)
{
	static const struct { const char *pattern, *suffix; } cases[] = {
		{ "^(?<registry>[a-z0-9]{5,50})\\.azurecr\\.io$", ".azurecr.io" },
		{ "^(?<registry>[a-z0-9]+)\\.[a-z0-9]+\\.data\\.azurecr\\.io$", ".data.azurecr.io" },
		{ "^(?<registry>[a-z]+)-cr\\.example_1\\.net\\z", "-cr.example_1.net" },
		{ "^(?<registry>[a-z]+)\\.io\\Z", ".io" },
		{ "^(?<registry>[a-z]+)x\\.io$", "x.io" },
		{ "^(?<registry>[a-z]+)(?:\\.west|\\.east)\\.example$", ".example" },
		{ "^(?<registry>[a-z]+)\\.example\\.net", "" },      /* not anchored at the end */
		{ "^(?<registry>[a-z]+)\\.io$|^(?<r2>x)\\.net$", "" }, /* top-level alternative */
		{ "(?i)^(?<registry>[a-z]+)\\.io$", "" },             /* options change literals */
		{ "^(?<registry>[a-z]+)\\x2eio$", "" },               /* \x2e is one byte */
		{ "^(?<registry>[a-z]+)\\056io$", "" },               /* octal escape */
		{ "^(?<registry>[a-z]+)\\Q.io\\E$", "" },             /* quoting */
		{ "^(?<registry>[a-z]+)\\.io+$", "" },                /* o+: not a literal end */
		{ "^(?<registry>[a-z]+)\\.i(o)$", "" },
		{ "^(?<registry>[a-z]+)\\.io\\$", "" },               /* an escaped $ is a byte */
		{ "^(?<registry>[a-z]+)\\.IO$", "" },                 /* hosts are lowercase */
		{ "^(?<registry>[a-z]+)\\d\\.io$", ".io" },           /* \d is not a d */
		{ "^(?<registry>[a-z]+).io$", "io" },                 /* an unescaped . is any byte */
		{ "^(?<registry>[a-z|]+)\\.io$", ".io" },             /* | inside a class */
		{ "^(?<registry>[]a-z|]+)\\.io$", ".io" },
		{ "^(?<registry>(a|b)+)\\.io$", ".io" },              /* | inside a group */
		{ "^(?<registry>[a-z]+)\\\\.io$", "io" },            /* \\ then any byte, then io */
		/* Found by differential fuzzing against PCRE2 (each once returned a suffix). */
		{ "\\pl$", "" },                                      /* \pl is \p{L} */
		{ "\\Pmt-02$", "" },
		{ "^(?<registry>\\w+)\\.\\pl$", "" },
		{ "[[:alpha:](]|foo$", "" },                            /* [:x:] has its own ] */
		{ "^(?<registry>[[:alpha:][]+)|foo\\.com$", "" },
		{ "[^[:digit:](]|foo$", "" },
		{ "^(?<registry>[[:alnum:]]+)\\.io$", "" },            /* safe, but given up */
	};
	static const char *const hosts[] = {
		"contoso.azurecr.io", "contoso.westeurope.data.azurecr.io", "abc-cr.example_1.net",
		"a.io", "ax.io", "abx.io", "b.west.example", "c.east.example", "q.example.net",
		"q.example.net.evil", "x.net", "a.ioo", "a.i", "io", ".io", "a9.io", "aaio", "a|.io",
		"ab.io", "a.io.a.io", "zzz", "", "a", "1", "w2.w", "at-02", "foo.co", "x.com",
	};
	char suf[DH_HOST_MAX + 1], reg[DH_NAME_MAX + 1], out[DH_HOST_MAX + 1];
	enum host_err he;

	/* PCRE2's JIT scans ahead in aligned blocks past the subject's end (inside this
	 * buffer); valgrind reports those bytes if they were never written. */
	memset(out, 0, sizeof(out));
	for (size_t i = 0; i < NELEM(cases); i++) {
		size_t n = resolver_rule_suffix(cases[i].pattern, suf, sizeof(suf));

		T_EQ_INT(n, strlen(cases[i].suffix));
		T_EQ_STR(suf, cases[i].suffix);
		if (strcmp(suf, cases[i].suffix) != 0)
			printf("# pattern %s\n", cases[i].pattern);
	}
	/* A tiny buffer truncates to the literal's tail, never overflows. */
	T_EQ_INT(resolver_rule_suffix("^(?<registry>a)\\.azurecr\\.io$", suf, 4), 3);
	T_EQ_STR(suf, ".io");

	/* Prefilter on or off, every lookup agrees with PCRE2 run on every rule. */
	for (size_t i = 0; i < NELEM(cases); i++) {
		struct resolver *r = resolver_new(10000, 1000);
		char err[256];
		int ec;
		PCRE2_SIZE off;
		pcre2_code *code = pcre2_compile((PCRE2_SPTR)cases[i].pattern, PCRE2_ZERO_TERMINATED,
		                                 PCRE2_NEVER_UTF, &ec, &off, NULL);
		pcre2_match_data *md;

		if (code == NULL || resolver_add_rule(r, cases[i].pattern, err, sizeof(err)) != 0) {
			/* every pattern here compiles: this would be a bug in the table */
			T_CHECK(code != NULL);
			pcre2_code_free(code);
			resolver_free(r);
			continue;
		}
		md = pcre2_match_data_create_from_pattern(code, NULL);
		for (size_t h = 0; h < NELEM(hosts); h++) {
			int m = pcre2_match(code, (PCRE2_SPTR)hosts[h], strlen(hosts[h]), 0, 0, md, NULL);
			int grp = pcre2_substring_number_from_name(code, (PCRE2_SPTR) "registry");
			int expect_found = m >= 0 && hosts[h][0] != '\0' && strchr(hosts[h], '|') == NULL &&
			                   pcre2_get_ovector_pointer(md)[2 * grp] != PCRE2_UNSET &&
			                   pcre2_get_ovector_pointer(md)[2 * grp + 1] >
			                   pcre2_get_ovector_pointer(md)[2 * grp];
			enum resolve_result got = resolver_lookup(r, hosts[h], out, reg, &he);

			if (he != HOST_OK)
				continue; /* not a host the resolver would try rules on */
			T_EQ_INT(got == RESOLVE_FOUND, expect_found);
			if ((got == RESOLVE_FOUND) != expect_found)
				printf("# pattern %s host %s\n", cases[i].pattern, hosts[h]);
		}
		pcre2_match_data_free(md);
		pcre2_code_free(code);
		resolver_free(r);
	}
}

static void
test_rule_group_not_participating(void)
{
	struct resolver *r = resolver_new(10000, 1000);
	char reg[DH_NAME_MAX + 1], out[DH_HOST_MAX + 1];
	enum host_err he;

	/* Matches east hosts too, but only west hosts set the group. */
	add_rule_ok(r, "^(?:(?<registry>[a-z]+)\\.west\\.example|[a-z]+\\.east\\.example)$");
	add_rule_ok(r, "^(?<registry>[a-z]+)\\.east\\.example$");
	T_EQ_INT(resolver_lookup(r, "foo.west.example", out, reg, &he), RESOLVE_FOUND);
	T_EQ_STR(reg, "foo");
	T_EQ_INT(resolver_lookup(r, "bar.east.example", out, reg, &he), RESOLVE_FOUND);
	T_EQ_STR(reg, "bar");
	resolver_free(r);

	/* A group that takes part but captures nothing is no registry either. */
	r = resolver_new(10000, 1000);
	add_rule_ok(r, "^(?<registry>[a-z]*)x\\.example$");
	T_EQ_INT(resolver_lookup(r, "x.example", out, reg, &he), RESOLVE_UNKNOWN);
	T_EQ_INT(resolver_lookup(r, "abx.example", out, reg, &he), RESOLVE_FOUND);
	T_EQ_STR(reg, "ab");
	resolver_free(r);
}

static void
test_rule_errors(void)
{
	struct resolver *r = resolver_new(10000, 1000);
	char err[512];

	err[0] = '\0';
	T_EQ_INT(resolver_add_rule(r, "^(?<registry>[a-z", err, sizeof(err)), -1);
	T_CHECK(strstr(err, "at offset") != NULL);
	T_CHECK(strstr(err, "^(?<registry>[a-z") != NULL);
	err[0] = '\0';
	T_EQ_INT(resolver_add_rule(r, "^(?<registry>a))$", err, sizeof(err)), -1);
	T_CHECK(strstr(err, "at offset") != NULL);
	err[0] = '\0';
	T_EQ_INT(resolver_add_rule(r, "^([a-z]+)\\.io$", err, sizeof(err)), -1);
	T_CHECK(strstr(err, "no named group") != NULL);
	T_CHECK(strstr(err, "registry") != NULL);
	err[0] = '\0';
	T_EQ_INT(resolver_add_rule(r, "^(?<reg>[a-z]+)\\.io$", err, sizeof(err)), -1);
	T_CHECK(strstr(err, "no named group") != NULL);
	T_EQ_INT(resolver_rule_count(r), 0);

	/* A tiny error buffer truncates, never overflows. */
	{
		char small[8 + 4];

		memset(small, 'Z', sizeof(small));
		T_EQ_INT(resolver_add_rule(r, "^(?<registry>[a-z", small, 8), -1);
		T_EQ_INT(small[7], '\0');
		T_EQ_INT(small[8], 'Z');
	}
	resolver_free(r);
}

/*
 * Catastrophic backtracking: the match limit must stop it and the lookup must
 * say "no decision" (or no match), never hang.  Nothing here is timed: with
 * the limit broken the test would simply not finish.
 */
static void
test_rule_redos(void)
{
	struct resolver *r = resolver_new(1000, 1000);
	char host[64], reg[DH_NAME_MAX + 1], out[DH_HOST_MAX + 1];
	enum host_err he;
	enum resolve_result rr;

	add_rule_ok(r, "^(?<registry>(a+)+)$");
	memset(host, 'a', 40);
	host[40] = 'b';
	host[41] = '\0';
	rr = resolver_lookup(r, host, out, reg, &he);
	T_CHECK(rr == RESOLVE_ERROR || rr == RESOLVE_UNKNOWN);
	T_EQ_INT(he, HOST_OK);
	/* The resolver is still usable afterwards. */
	T_EQ_INT(resolver_lookup(r, "aaaa", out, reg, &he), RESOLVE_FOUND);
	T_EQ_STR(reg, "aaaa");
	resolver_free(r);
}

static void
test_load_map_good(void)
{
	struct resolver *r = resolver_new(1000, 100);
	struct t_errs e = { .n = 0 };
	char reg[DH_NAME_MAX + 1], out[DH_HOST_MAX + 1];
	enum host_err he;

	T_EQ_INT(resolver_load_map(r, "tests/fixtures/hosts/good.map", t_collect, &e), 0);
	T_EQ_INT(e.n, 0);
	T_EQ_INT(resolver_host_count(r), 5);
	T_EQ_INT(resolver_lookup(r, "registry.contoso.com", out, reg, &he), RESOLVE_FOUND);
	T_EQ_STR(reg, "contoso");
	T_EQ_INT(resolver_lookup(r, "pull.fabrikam.com", out, reg, &he), RESOLVE_FOUND);
	T_EQ_STR(reg, "fabrikam");
	T_EQ_INT(resolver_lookup(r, "tabbed.example.org", out, reg, &he), RESOLVE_FOUND);
	T_EQ_STR(reg, "tabbed_reg");
	T_EQ_INT(resolver_lookup(r, "cr.example.net", out, reg, &he), RESOLVE_FOUND);
	T_EQ_STR(reg, "contoso.west-2");
	T_EQ_INT(resolver_lookup(r, "crlf.example.com", out, reg, &he), RESOLVE_FOUND);
	T_EQ_STR(reg, "crlf-reg");
	/* The comment after the registry is not part of it. */
	T_EQ_INT(resolver_lookup(r, "mixed.example.com", out, reg, &he), RESOLVE_UNKNOWN);
	resolver_free(r);
}

static void
test_load_map_bad(void)
{
	static const char *const path = "tests/fixtures/hosts/bad.map";
	static const char *const want[] = {
		"tests/fixtures/hosts/bad.map:3: expected \"hostname registry\"",
		"tests/fixtures/hosts/bad.map:4: bad hostname \"bad_host.example.com\": byte outside "
		"the hostname alphabet",
		"tests/fixtures/hosts/bad.map:5: bad hostname \"example.com:8080\": port not allowed",
		"tests/fixtures/hosts/bad.map:6: bad registry name \"bad/reg\" (1-253 of A-Z a-z 0-9 . _ "
		"-)",
		"tests/fixtures/hosts/bad.map:7: duplicate hostname \"good.example.com\" (first at line "
		"2)",
		"tests/fixtures/hosts/bad.map:8: expected \"hostname registry\"",
	};
	struct resolver *r = resolver_new(1000, 100);
	struct t_errs e = { .n = 0 };
	char reg[DH_NAME_MAX + 1], out[DH_HOST_MAX + 1];
	enum host_err he;

	T_EQ_INT(resolver_load_map(r, path, t_collect, &e), (int)NELEM(want));
	T_EQ_INT(e.n, (int)NELEM(want));
	for (size_t i = 0; i < NELEM(want) && i < (size_t)e.n; i++)
		T_EQ_STR(e.line[i], want[i]);
	/* The good line is loaded and the duplicate did not replace it. */
	T_EQ_INT(resolver_host_count(r), 1);
	T_EQ_INT(resolver_lookup(r, "good.example.com", out, reg, &he), RESOLVE_FOUND);
	T_EQ_STR(reg, "good");
	resolver_free(r);
}

static void
test_load_map_missing(void)
{
	struct resolver *r = resolver_new(1000, 100);
	struct t_errs e = { .n = 0 };

	T_EQ_INT(resolver_load_map(r, "tests/fixtures/hosts/no-such.map", t_collect, &e), 1);
	T_EQ_INT(e.n, 1);
	T_EQ_STR(e.line[0],
	         "tests/fixtures/hosts/no-such.map: cannot open host map: No such file or directory");
	T_EQ_INT(resolver_host_count(r), 0);
	resolver_free(r);
}

int
main(void)
{
	static const struct t_case cases[] = {
		T_CASE(test_normalize_table),
		T_CASE(test_normalize_null),
		T_CASE(test_normalize_lengths),
		T_CASE(test_str_functions),
		T_CASE(test_map_many),
		T_CASE(test_map_duplicate),
		T_CASE(test_lookup_invalid),
		T_CASE(test_rule_order),
		T_CASE(test_rule_suffix),
		T_CASE(test_rule_group_not_participating),
		T_CASE(test_rule_errors),
		T_CASE(test_rule_redos),
		T_CASE(test_load_map_good),
		T_CASE(test_load_map_bad),
		T_CASE(test_load_map_missing),
	};

	return t_run("resolve", cases, NELEM(cases));
}
