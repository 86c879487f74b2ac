/*
 * fuzz_host.c: a Host header against host_normalize and a resolver built once
 * (the shipped rules and a host map), checked against oracles written here:
 * an independent normalizer, and the rules matched one by one with PCRE2
 * directly, without the resolver's suffix shortcut (resolver_rule_suffix).
 *
 * Input: the raw Host value (up to its first NUL).  An input whose first byte
 * is 0x01 is "\x01PATTERN\nHOST\nHOST...": a resolver with that one rule,
 * checked the same way, so the fuzzer also explores the suffix extraction.
 * One whose first byte is 0x02 is a host map file for resolver_load_map:
 * every bad line reported, and every good line's host found in the map with
 * its registry (or, for a repeated host, the first line's).
 */
#define PCRE2_CODE_UNIT_WIDTH 8

#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "answer.h"
#include "fuzz.h"

#define MATCH_LIMIT 20000 /* resolver.match_limit as shipped */
#define DEPTH_LIMIT 1000

/* resolver.rules as shipped in conf/deephealth.conf, and two more shapes. */
static const char *const rules[] = {
	"^(?<registry>[a-z0-9]{5,50})\\.azurecr\\.io$",
	"^(?<registry>[a-z0-9]{5,50})\\.[a-z0-9]+\\.data\\.azurecr\\.io$",
	/* the group may not take part: such a host is not this rule's */
	"^(?:(?<registry>[a-z0-9-]+)\\.)?cr\\.example\\.net$",
	/* no literal end: never skipped */
	"^registry-(?<registry>[a-z0-9.-]+)",
};
#define NRULES (sizeof(rules) / sizeof(rules[0]))

static const char map_text[] =
	"# custom domains\n"
	"registry.fabrikam.example   fabrikam\n"
	"cr.contoso.example          contoso\n"
	"CR.Northwind.Example.       northwind\n"
	"shadowed.azurecr.io         Mapped_Name\n"
	"x                           x\n";
/* The same map as pairs, normalized by hand. */
static const char *const map_pairs[][2] = {
	{ "registry.fabrikam.example", "fabrikam" },
	{ "cr.contoso.example", "contoso" },
	{ "cr.northwind.example", "northwind" },
	{ "shadowed.azurecr.io", "Mapped_Name" },
	{ "x", "x" },
};

static struct resolver *res;
static pcre2_code *oracle_code[NRULES];
static pcre2_match_context *mctx;
static pcre2_match_data *md;

static pcre2_code *
compile(const char *pattern, size_t len)
{
	int ec;
	PCRE2_SIZE off;

	return pcre2_compile((PCRE2_SPTR)pattern, len, PCRE2_NEVER_UTF, &ec, &off, NULL);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char path[4200], err[512];
	int errors = 0;

	(void)argc;
	(void)argv;
	log_init("fuzz_host", 0, LOG_LVL_ERR);
	res = resolver_new(MATCH_LIMIT, DEPTH_LIMIT);
	for (size_t i = 0; i < NRULES; i++) {
		if (resolver_add_rule(res, rules[i], err, sizeof(err)) != 0)
			fz_die("rule %zu: %s", i, err);
		if ((oracle_code[i] = compile(rules[i], PCRE2_ZERO_TERMINATED)) == NULL)
			fz_die("oracle rule %zu does not compile", i);
	}
	fz_write(fz_path("hosts.map", path, sizeof(path)), map_text, sizeof(map_text) - 1);
	if (resolver_load_map(res, path, fz_errfn, &errors) != 0 || errors != 0)
		fz_die("host map: %d errors", errors);
	mctx = pcre2_match_context_create(NULL);
	pcre2_set_match_limit(mctx, MATCH_LIMIT);
	pcre2_set_depth_limit(mctx, DEPTH_LIMIT);
	md = pcre2_match_data_create(16, NULL);
	return 0;
}

/*
 * The documented normalization, written afresh: lowercase, ":port" (0-5
 * digits) and one trailing dot removed, letters digits '-' '.' only, 1-253
 * bytes.  Returns 1 and fills out when valid.
 */
static int
oracle_normalize(const char *raw, char *out, size_t *outlen)
{
	const char *colon;
	size_t n, k = 0;

	if (raw[0] == '[')
		return 0;
	colon = strchr(raw, ':');
	n = colon ? (size_t)(colon - raw) : strlen(raw);
	if (colon != NULL) {
		size_t d = strspn(colon + 1, "0123456789");

		if (colon[1 + d] != '\0' || d > 5)
			return 0;
	}
	if (n > DH_HOST_MAX + 1)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = raw[i];

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.'))
			return 0;
		out[k++] = c;
	}
	if (k > 0 && out[k - 1] == '.')
		k--;
	if (k == 0 || k > DH_HOST_MAX)
		return 0;
	out[k] = '\0';
	*outlen = k;
	return 1;
}

/* What the rules decide for host, tried in order with no shortcut. */
static enum resolve_result
oracle_rules(pcre2_code *const *codes, size_t n, const char *host, char *registry, int *via)
{
	size_t len = strlen(host);

	*via = -1;
	for (size_t i = 0; i < n; i++) {
		int group = pcre2_substring_number_from_name(codes[i], (PCRE2_SPTR) "registry");
		pcre2_match_data *m = pcre2_match_data_create_from_pattern(codes[i], NULL);
		PCRE2_SIZE *ov;
		int rc;

		if (m == NULL || group < 0)
			abort();
		rc = pcre2_match(codes[i], (PCRE2_SPTR)host, len, 0, 0, m, mctx);
		if (rc == PCRE2_ERROR_NOMATCH) {
			pcre2_match_data_free(m);
			continue;
		}
		if (rc < 0) {
			pcre2_match_data_free(m);
			*via = (int)i;
			return RESOLVE_ERROR;
		}
		ov = pcre2_get_ovector_pointer(m);
		if (ov[2 * group] == PCRE2_UNSET || ov[2 * group + 1] == ov[2 * group]) {
			pcre2_match_data_free(m);
			continue;
		}
		memcpy(registry, host + ov[2 * group], ov[2 * group + 1] - ov[2 * group]);
		registry[ov[2 * group + 1] - ov[2 * group]] = '\0';
		pcre2_match_data_free(m);
		*via = (int)i;
		return RESOLVE_FOUND;
	}
	return RESOLVE_UNKNOWN;
}

/* One Host through normalize, lookup and resolve, against the oracles. */
static void
check_host(struct resolver *r, pcre2_code *const *codes, size_t ncodes, int with_map,
           const char *raw)
{
	char norm[DH_HOST_MAX + 2], want[DH_HOST_MAX + 2];
	char host1[DH_HOST_MAX + 1], host2[DH_HOST_MAX + 1];
	char reg1[DH_NAME_MAX + 1], reg2[DH_NAME_MAX + 1], oreg[DH_HOST_MAX + 1];
	size_t nlen = 0, wlen = 0;
	enum host_err he, he1, he2;
	enum resolve_result r1, r2, ro;
	int via, ovia, ok;

	he = host_normalize(raw, norm, &nlen);
	ok = oracle_normalize(raw, want, &wlen);
	FZ_CHECK((he == HOST_OK) == ok, "host_normalize(\"%s\") = %s, oracle says %s", raw,
	         host_err_str(he), ok ? "valid" : "invalid");
	if (he == HOST_OK) {
		FZ_CHECK(nlen == wlen && memcmp(norm, want, nlen) == 0 && norm[nlen] == '\0',
		         "host_normalize(\"%s\") = \"%s\", oracle \"%s\"", raw, norm, want);
	} else {
		FZ_CHECK((unsigned)he <= HOST_IP_LITERAL && strcmp(host_err_str(he), "?") != 0,
		         "host_normalize: unnamed error %d", (int)he);
	}

	r1 = resolver_lookup(r, raw, host1, reg1, &he1);
	r2 = resolver_resolve(r, raw, host2, reg2, &he2, &via);
	FZ_CHECK(r1 == r2 && he1 == he2 && he1 == he, "lookup and resolve disagree on \"%s\"", raw);
	if (he != HOST_OK) {
		FZ_CHECK(r1 == RESOLVE_INVALID && via == -1, "invalid host \"%s\" resolved (%s)", raw,
		         resolve_result_str(r1));
		return;
	}
	FZ_CHECK(strcmp(host1, norm) == 0 && strcmp(host2, norm) == 0,
	         "resolver's host \"%s\" is not the normalized \"%s\"", host1, norm);
	if (r1 == RESOLVE_FOUND)
		FZ_CHECK(strcmp(reg1, reg2) == 0 && util_name_ok(reg1, strlen(reg1)),
		         "registry \"%s\" / \"%s\" for \"%s\"", reg1, reg2, raw);

	/* The exact map first. */
	if (with_map) {
		for (size_t i = 0; i < sizeof(map_pairs) / sizeof(map_pairs[0]); i++) {
			if (strcmp(map_pairs[i][0], norm) != 0)
				continue;
			FZ_CHECK(r2 == RESOLVE_FOUND && via == -1 && strcmp(reg2, map_pairs[i][1]) == 0,
			         "mapped host \"%s\": %s via %d \"%s\"", norm, resolve_result_str(r2), via,
			         reg2);
			return;
		}
	}
	FZ_CHECK(r2 != RESOLVE_FOUND || via >= 0, "\"%s\" found in the map, which lacks it", norm);
	ro = oracle_rules(codes, ncodes, norm, oreg, &ovia);
	if (ro == RESOLVE_ERROR || r2 == RESOLVE_ERROR)
		return; /* a match limit: which rule hits it first depends on what was skipped */
	FZ_CHECK(ro == r2 && ovia == via && (ro != RESOLVE_FOUND || strcmp(oreg, reg2) == 0),
	         "host \"%s\": resolver %s via %d \"%s\", rules tried one by one %s via %d \"%s\"",
	         norm, resolve_result_str(r2), via, r2 == RESOLVE_FOUND ? reg2 : "",
	         resolve_result_str(ro), ovia, ro == RESOLVE_FOUND ? oreg : "");
}

/* "\x01PATTERN\nHOST...": one rule of the fuzzer's own. */
static void
pattern_mode(const uint8_t *data, size_t size)
{
	char *f[2], err[512], suffix[DH_HOST_MAX + 1];
	size_t n = fz_split(data + 1, size - 1, "\n", f, 2), slen;
	struct resolver *r;
	pcre2_code *code;

	slen = resolver_rule_suffix(f[0], suffix, sizeof(suffix));
	FZ_CHECK(slen == strlen(suffix) && slen <= DH_HOST_MAX, "suffix length %zu of \"%s\"", slen,
	         suffix);
	r = resolver_new(MATCH_LIMIT, DEPTH_LIMIT);
	if (resolver_add_rule(r, f[0], err, sizeof(err)) == 0) {
		if ((code = compile(f[0], PCRE2_ZERO_TERMINATED)) == NULL)
			fz_die("resolver took a pattern PCRE2 refuses: \"%s\"", f[0]);
		FZ_CHECK(resolver_rule_count(r) == 1, "rule count");
		for (char *h = n > 1 ? f[1] : NULL, *nl; h != NULL; h = nl) {
			if ((nl = strchr(h, '\n')) != NULL)
				*nl++ = '\0';
			check_host(r, &code, 1, 0, h);
		}
		pcre2_code_free(code);
	} else {
		FZ_CHECK(err[0] != '\0', "resolver_add_rule failed without a reason");
	}
	resolver_free(r);
	fz_fields_free(f, n);
}

#define MAP_CHECKED 64 /* good lines looked up per input */

/* "\x02FILE": a host map of the fuzzer's own. */
static void
map_mode(const uint8_t *data, size_t size)
{
	char path[4200], *text;
	char hosts[MAP_CHECKED][DH_HOST_MAX + 1], regs[MAP_CHECKED][DH_NAME_MAX + 1];
	size_t ngood = 0, content = 0;
	struct resolver *r = resolver_new(MATCH_LIMIT, DEPTH_LIMIT);
	int reports = 0, errors;

	fz_write(fz_path("fuzz.map", path, sizeof(path)), data + 1, size - 1);
	errors = resolver_load_map(r, path, fz_errfn, &reports);
	FZ_CHECK(errors == reports, "%d errors, %d reported", errors, reports);
	FZ_CHECK(resolver_host_count(r) <= size, "host count");
	text = malloc(size);
	if (text == NULL)
		abort();
	for (size_t i = 1; i < size && ngood < MAP_CHECKED;) {
		const uint8_t *nl = memchr(data + i, '\n', size - i);
		size_t end = nl ? (size_t)(nl - data) : size;
		char *f[3] = { NULL, NULL, NULL }, *p = text, norm[DH_HOST_MAX + 1];
		char got[DH_NAME_MAX + 1], hout[DH_HOST_MAX + 1];
		size_t nf = 0, nlen, ll = end - i;
		enum host_err he;
		int via;

		memcpy(text, data + i, ll);
		text[ll] = '\0';
		i = end + 1;
		if (memchr(text, '\0', ll) != NULL) {
			content++; /* a NUL in the line: refused whole */
			continue;
		}
		while (nf < 3) {
			p += strspn(p, " \t\r");
			if (*p == '\0' || *p == '#')
				break;
			f[nf++] = p;
			p += strcspn(p, " \t\r");
			if (*p != '\0')
				*p++ = '\0';
		}
		content += nf > 0;
		if (nf != 2 || strchr(f[0], ':') != NULL || host_normalize(f[0], norm, &nlen) != HOST_OK ||
		    !util_name_ok(f[1], strlen(f[1])))
			continue;
		FZ_CHECK(resolver_resolve(r, f[0], hout, got, &he, &via) == RESOLVE_FOUND && via == -1,
		         "host map line \"%s %s\" not found", f[0], f[1]);
		snprintf(hosts[ngood], sizeof(hosts[ngood]), "%s", norm);
		snprintf(regs[ngood], sizeof(regs[ngood]), "%s", f[1]);
		for (size_t k = 0; k <= ngood; k++) {
			if (strcmp(hosts[k], norm) != 0)
				continue;
			FZ_CHECK(strcmp(regs[k], got) == 0, "host \"%s\" maps to \"%s\", its first "
			         "line says \"%s\"", norm, got, regs[k]);
			break;
		}
		ngood++;
	}
	if (ngood < MAP_CHECKED)
	FZ_CHECK(resolver_host_count(r) <= content, "%zu hosts from %zu lines",
	         resolver_host_count(r), content);
	free(text);
	resolver_free(r);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *raw;

	if (size > 0 && data[0] == 0x02) {
		map_mode(data, size);
		return 0;
	}

	if (size > 0 && data[0] == 0x01) {
		pattern_mode(data, size);
		return 0;
	}
	raw = malloc(size + 1);
	if (raw == NULL)
		abort();
	memcpy(raw, data, size);
	raw[size] = '\0';
	check_host(res, oracle_code, NRULES, 1, raw);
	/* NULL is "no Host header". */
	if (size == 0) {
		char h[DH_HOST_MAX + 1], g[DH_NAME_MAX + 1];
		enum host_err he;

		FZ_CHECK(resolver_lookup(res, NULL, h, g, &he) == RESOLVE_INVALID && he == HOST_EMPTY,
		         "NULL Host");
	}
	free(raw);
	return 0;
}
