/* resolve.c: Host header -> registry, by normalization, an exact map, then PCRE2 rules. */
#define PCRE2_CODE_UNIT_WIDTH 8
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <libconfig.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "answer.h"

struct map_entry {
	char *host;
	char *registry;
	unsigned line;   /* where it came from, for duplicate reports */
};

struct rule {
	pcre2_code *code;
	uint32_t group;  /* number of the "registry" group */
	size_t suflen;   /* 0, or every host the rule matches ends with suffix */
	char suffix[DH_HOST_MAX + 1];
};

struct resolver {
	struct name_index *hosts; /* host -> index into map */
	struct map_entry *map;
	size_t count, cap;
	struct rule *rules;
	size_t nrules, rules_cap;
	pcre2_match_context *mctx;
	pcre2_match_data *md;
	uint32_t md_pairs;
};

static const char *const host_err_names[] = {
	[HOST_OK] = "ok",
	[HOST_EMPTY] = "empty host",
	[HOST_TOO_LONG] = "host longer than 253 bytes",
	[HOST_BAD_BYTE] = "byte outside the hostname alphabet",
	[HOST_BAD_PORT] = "malformed port",
	[HOST_IP_LITERAL] = "IP literal",
};

const char *
host_err_str(enum host_err e)
{
	if ((unsigned)e >= sizeof(host_err_names) / sizeof(host_err_names[0]))
		return "?";
	return host_err_names[e];
}

const char *
resolve_result_str(enum resolve_result r)
{
	switch (r) {
	case RESOLVE_FOUND: return "found";
	case RESOLVE_UNKNOWN: return "unknown";
	case RESOLVE_INVALID: return "invalid";
	case RESOLVE_ERROR: return "error";
	}
	return "?";
}

/* Lowercase hostname alphabet after folding: letters, digits, '-', '.'. */
static const unsigned char host_fold[256] = {
#define L(c) [c] = c
#define U(c) [c] = (c) + 32
	L('-'), L('.'),
	L('0'), L('1'), L('2'), L('3'), L('4'), L('5'), L('6'), L('7'), L('8'), L('9'),
	L('a'), L('b'), L('c'), L('d'), L('e'), L('f'), L('g'), L('h'), L('i'), L('j'), L('k'),
	L('l'), L('m'), L('n'), L('o'), L('p'), L('q'), L('r'), L('s'), L('t'), L('u'), L('v'),
	L('w'), L('x'), L('y'), L('z'),
	U('A'), U('B'), U('C'), U('D'), U('E'), U('F'), U('G'), U('H'), U('I'), U('J'), U('K'),
	U('L'), U('M'), U('N'), U('O'), U('P'), U('Q'), U('R'), U('S'), U('T'), U('U'), U('V'),
	U('W'), U('X'), U('Y'), U('Z'),
#undef L
#undef U
};

enum host_err
host_normalize(const char *raw, char *out, size_t *outlen)
{
	const unsigned char *p = (const unsigned char *)raw;
	size_t n = 0;

	if (p == NULL || *p == '\0')
		return HOST_EMPTY;
	if (*p == '[')
		return HOST_IP_LITERAL;
	for (; *p != '\0' && *p != ':'; p++) {
		unsigned char c = host_fold[*p];

		if (c == 0)
			return HOST_BAD_BYTE;
		if (n > DH_HOST_MAX) /* room for one trailing dot, checked below */
			return HOST_TOO_LONG;
		out[n++] = (char)c;
	}
	if (*p == ':') {
		size_t digits = 0;

		/* RFC 3986 allows an empty port; more than 5 digits is no port. */
		for (p++; *p >= '0' && *p <= '9'; p++)
			digits++;
		if (*p != '\0' || digits > 5)
			return HOST_BAD_PORT;
	}
	if (n > 0 && out[n - 1] == '.')
		n--;
	if (n == 0)
		return HOST_EMPTY;
	if (n > DH_HOST_MAX)
		return HOST_TOO_LONG;
	out[n] = '\0';
	*outlen = n;
	return HOST_OK;
}

struct resolver *
resolver_new(uint32_t match_limit, uint32_t depth_limit)
{
	struct resolver *r = xcalloc(1, sizeof(*r));

	r->hosts = nidx_new();
	r->mctx = pcre2_match_context_create(NULL);
	if (r->mctx == NULL)
		fatalx("pcre2_match_context_create failed");
	pcre2_set_match_limit(r->mctx, match_limit);
	pcre2_set_depth_limit(r->mctx, depth_limit);
	return r;
}

void
resolver_free(struct resolver *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->count; i++) {
		free(r->map[i].host);
		free(r->map[i].registry);
	}
	free(r->map);
	nidx_free(r->hosts);
	for (size_t i = 0; i < r->nrules; i++)
		pcre2_code_free(r->rules[i].code);
	free(r->rules);
	pcre2_match_data_free(r->md);
	pcre2_match_context_free(r->mctx);
	free(r);
}

static int
map_insert(struct resolver *r, const char *host, const char *registry, unsigned line,
           unsigned *prev_line)
{
	size_t len = strlen(host);
	int64_t at = nidx_find(r->hosts, host, len);
	struct map_entry *e;

	if (at >= 0) {
		if (prev_line)
			*prev_line = r->map[at].line;
		return -1;
	}
	r->map = util_grow(r->map, &r->cap, r->count + 1, sizeof(*r->map));
	e = &r->map[r->count];
	e->host = xstrdup(host);
	nidx_add(r->hosts, e->host, len, (uint32_t)r->count);
	e->registry = xstrdup(registry);
	e->line = line;
	r->count++;
	return 0;
}

int
resolver_add_host(struct resolver *r, const char *host, const char *registry)
{
	return map_insert(r, host, registry, 0, NULL);
}

size_t
resolver_host_count(const struct resolver *r)
{
	return r->count;
}

void
resolver_host_at(const struct resolver *r, size_t i, const char **host, const char **registry,
                 unsigned *line)
{
	*host = r->map[i].host;
	*registry = r->map[i].registry;
	*line = r->map[i].line;
}

size_t
resolver_rule_count(const struct resolver *r)
{
	return r->nrules;
}

/* Backslashes right before pattern[i]: odd means pattern[i] is escaped. */
static size_t
backslashes_before(const char *pattern, size_t i)
{
	size_t n = 0;

	while (i > n && pattern[i - n - 1] == '\\')
		n++;
	return n;
}

size_t
resolver_rule_suffix(const char *pattern, char *out, size_t outsize)
{
	size_t len = strlen(pattern), end, n = 0, depth = 0;

	if (outsize > 0)
		out[0] = '\0';

	/* Give up on anything that could change what a literal means or where it ends:
	 * quoting, option settings, verbs, comments, and escapes longer than 2 bytes
	 * (\pL: a property named by the letter after it). */
	for (size_t i = 0; i < len; i++) {
		if (pattern[i] == '\\' && i + 1 < len) {
			if (strchr("QxcgoNkEpP0123456789", pattern[i + 1]) != NULL)
				return 0;
			i++;
		} else if (pattern[i] == '(' && i + 1 < len && (pattern[i + 1] == '*' ||
		           (pattern[i + 1] == '?' && (i + 2 >= len ||
		            strchr("<P:=!'>", pattern[i + 2]) == NULL)))) {
			return 0;
		}
	}
	/* A top-level alternative could end anywhere. */
	for (size_t i = 0; i < len; i++) {
		if (pattern[i] == '\\') {
			i++;
		} else if (pattern[i] == '[') {
			i += 1 + (i + 1 < len && pattern[i + 1] == '^');
			i += i < len && pattern[i] == ']'; /* a leading ] is literal */
			while (i < len && !(pattern[i] == ']' && backslashes_before(pattern, i) % 2 == 0)) {
				/* [:alpha:] and friends have a ] of their own: where the class
				 * ends is PCRE2's business, so no suffix. */
				if (pattern[i] == '[' && backslashes_before(pattern, i) % 2 == 0)
					return 0;
				i++;
			}
		} else if (pattern[i] == '(') {
			depth++;
		} else if (pattern[i] == ')') {
			depth -= depth > 0;
		} else if (pattern[i] == '|' && depth == 0) {
			return 0;
		}
	}
	/* Anchored at the end: an unescaped $, or \z, or \Z. */
	if (len >= 1 && pattern[len - 1] == '$' && backslashes_before(pattern, len - 1) % 2 == 0)
		end = len - 1;
	else if (len >= 2 && (pattern[len - 1] == 'z' || pattern[len - 1] == 'Z') &&
	         backslashes_before(pattern, len - 1) % 2 == 1)
		end = len - 2;
	else
		return 0;
	/* Walk back over plain lowercase letters, digits, - and _, and escaped dots: the bytes
	 * a normalized host is made of.  Anything else (a quantifier, a class, a group, an
	 * uppercase letter) ends the literal. */
	while (end > 0 && n + 1 < outsize) {
		char c = pattern[end - 1];
		size_t bs = backslashes_before(pattern, end - 1);

		if (bs % 2 == 0 && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
		                    c == '_')) {
			out[n++] = c;
			end--;
		} else if (c == '.' && bs % 2 == 1) {
			out[n++] = '.';
			end -= 2;
		} else {
			break;
		}
	}
	for (size_t i = 0; i < n / 2; i++) {
		char t = out[i];

		out[i] = out[n - 1 - i];
		out[n - 1 - i] = t;
	}
	if (outsize > 0)
		out[n] = '\0';
	return n;
}

int
resolver_add_rule(struct resolver *r, const char *pattern, char *err, size_t errlen)
{
	int ec;
	PCRE2_SIZE off;
	pcre2_code *code;
	uint32_t pairs;
	int group;

	code = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, PCRE2_NEVER_UTF, &ec, &off,
	                     NULL);
	if (code == NULL) {
		PCRE2_UCHAR msg[256];

		pcre2_get_error_message(ec, msg, sizeof(msg));
		snprintf(err, errlen, "bad pattern \"%s\": %s at offset %zu", pattern, (char *)msg,
		         (size_t)off);
		return -1;
	}
	group = pcre2_substring_number_from_name(code, (PCRE2_SPTR) "registry");
	if (group < 0) {
		snprintf(err, errlen, "pattern \"%s\" has no named group (?<registry>...)", pattern);
		pcre2_code_free(code);
		return -1;
	}
	/* JIT is an optimization: a build without it still matches, only slower. */
	(void)pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
	if (pcre2_pattern_info(code, PCRE2_INFO_CAPTURECOUNT, &pairs) != 0)
		pairs = 0;
	pairs++;
	if (pairs > r->md_pairs) {
		pcre2_match_data *md = pcre2_match_data_create(pairs, NULL);

		if (md == NULL)
			fatalx("pcre2_match_data_create failed");
		pcre2_match_data_free(r->md);
		r->md = md;
		r->md_pairs = pairs;
	}
	r->rules = util_grow(r->rules, &r->rules_cap, r->nrules + 1, sizeof(*r->rules));
	r->rules[r->nrules].code = code;
	r->rules[r->nrules].group = (uint32_t)group;
	r->rules[r->nrules].suflen = resolver_rule_suffix(pattern, r->rules[r->nrules].suffix,
	                                                  sizeof(r->rules[r->nrules].suffix));
	r->nrules++;
	return 0;
}

int
resolver_load_map(struct resolver *r, const char *path, errfn_t errfn, void *arg)
{
	FILE *f;
	char *line = NULL;
	size_t cap = 0;
	ssize_t got;
	unsigned lineno = 0;
	int errors = 0;

	f = fopen(path, "r");
	if (f == NULL) {
		errfn(arg, "%s: cannot open host map: %s", path, strerror(errno));
		return 1;
	}
	while ((got = getline(&line, &cap, f)) != -1) {
		char *fields[3] = { NULL, NULL, NULL };
		char *p = line, host[DH_HOST_MAX + 1];
		size_t hlen, nf = 0;
		enum host_err he;
		unsigned prev = 0;

		lineno++;
		if (memchr(line, '\0', (size_t)got) != NULL) {
			errfn(arg, "%s:%u: NUL byte in line", path, lineno);
			errors++;
			continue;
		}
		while (nf < 3) {
			p += strspn(p, " \t\r\n");
			if (*p == '\0' || *p == '#')
				break;
			fields[nf++] = p;
			p += strcspn(p, " \t\r\n");
			if (*p != '\0')
				*p++ = '\0';
		}
		if (nf == 0)
			continue;
		if (nf != 2) {
			errfn(arg, "%s:%u: expected \"hostname registry\"", path, lineno);
			errors++;
			continue;
		}
		he = host_normalize(fields[0], host, &hlen);
		if (he != HOST_OK || strchr(fields[0], ':') != NULL) {
			errfn(arg, "%s:%u: bad hostname \"%.80s\": %s", path, lineno, fields[0],
			      he != HOST_OK ? host_err_str(he) : "port not allowed");
			errors++;
			continue;
		}
		if (!util_name_ok(fields[1], strlen(fields[1]))) {
			errfn(arg, "%s:%u: bad registry name \"%.80s\" (1-253 of A-Z a-z 0-9 . _ -)",
			      path, lineno, fields[1]);
			errors++;
			continue;
		}
		if (map_insert(r, host, fields[1], lineno, &prev) != 0) {
			errfn(arg, "%s:%u: duplicate hostname \"%s\" (first at line %u)", path, lineno,
			      host, prev);
			errors++;
		}
	}
	if (ferror(f)) {
		errfn(arg, "%s: read error: %s", path, strerror(errno));
		errors++;
	}
	free(line);
	fclose(f);
	return errors;
}

enum resolve_result
resolver_resolve(struct resolver *r, const char *raw_host, char *host_out, char *registry,
                 enum host_err *herr, int *via)
{
	size_t len;
	int64_t at;

	*via = -1;
	*herr = host_normalize(raw_host, host_out, &len);
	if (*herr != HOST_OK)
		return RESOLVE_INVALID;
	if ((at = nidx_find(r->hosts, host_out, len)) >= 0) {
		memcpy(registry, r->map[at].registry, strlen(r->map[at].registry) + 1);
		return RESOLVE_FOUND;
	}
	for (size_t i = 0; i < r->nrules; i++) {
		const struct rule *ru = &r->rules[i];
		PCRE2_SIZE *ov, glen = 0;
		int rc;

		/* The literal end of the pattern rules most hosts out without running it. */
		if (ru->suflen > 0 && (len < ru->suflen ||
		                       memcmp(host_out + len - ru->suflen, ru->suffix, ru->suflen) != 0))
			continue;
		rc = pcre2_match(ru->code, (PCRE2_SPTR)host_out, len, 0, 0, r->md, r->mctx);
		if (rc == PCRE2_ERROR_NOMATCH)
			continue;
		*via = (int)i;
		if (rc < 0)
			return RESOLVE_ERROR; /* match limit, JIT stack...: no decision */
		ov = pcre2_get_ovector_pointer(r->md);
		if (ov[2 * ru->group] == PCRE2_UNSET ||
		    (glen = ov[2 * ru->group + 1] - ov[2 * ru->group]) == 0) {
			*via = -1; /* the group did not take part, or is empty: not this rule's host */
			continue;
		}
		memcpy(registry, host_out + ov[2 * ru->group], glen);
		registry[glen] = '\0';
		return RESOLVE_FOUND;
	}
	return RESOLVE_UNKNOWN;
}

enum resolve_result
resolver_lookup(struct resolver *r, const char *raw_host, char *host_out, char *registry,
                enum host_err *herr)
{
	int via;

	return resolver_resolve(r, raw_host, host_out, registry, herr, &via);
}

/* ---------------------------------------------------------------- resolver { } */

/* The resolver section's rules and host map, read into a resolver: the responder's part. */
static void
resolver_conf_load(struct conf_loader *l, struct conf *c, const config_setting_t *sec)
{
	const config_setting_t *rules = sec ? config_setting_get_member(sec, "rules") : NULL;
	const config_setting_t *map = sec ? config_setting_get_member(sec, "host_map") : NULL;
	errfn_t fn;
	void *arg;

	c->resolver = resolver_new((uint32_t)c->match_limit, (uint32_t)c->depth_limit);
	for (int k = 0; c->rules != NULL && c->rules[k] != NULL; k++) {
		char err[512];

		if (resolver_add_rule(c->resolver, c->rules[k], err, sizeof(err)) != 0)
			conf_err(l, config_setting_get_elem(rules, (unsigned)k), "resolver.rules[%d]: %s",
			         k, err);
	}
	if (c->host_map == NULL || c->host_map[0] == '\0')
		return;
	if (access(c->host_map, R_OK) != 0) {
		conf_err(l, map, "resolver.host_map: cannot read \"%s\": %s", c->host_map,
		         strerror(errno));
		return;
	}
	conf_errfn(l, &fn, &arg);
	resolver_load_map(c->resolver, c->host_map, fn, arg);
}

static void
resolver_conf_free(struct conf *c)
{
	resolver_free(c->resolver);
	c->resolver = NULL;
}

const struct conf_ext resolver_conf = { "resolver", resolver_conf_load, resolver_conf_free };
