/* resolve.c: Host header -> registry, by normalization, an exact map, then PCRE2 rules. */
#define PCRE2_CODE_UNIT_WIDTH 8
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "responder.h"

struct map_entry {
	uint64_t hash;   /* 0 marks an empty slot; real hashes are forced non-zero */
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
	struct map_entry *slots;
	size_t cap;      /* power of two */
	size_t count;
	struct rule *rules;
	size_t nrules;
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

	r->cap = 64;
	r->slots = xcalloc(r->cap, sizeof(*r->slots));
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
	for (size_t i = 0; i < r->cap; i++) {
		free(r->slots[i].host);
		free(r->slots[i].registry);
	}
	free(r->slots);
	for (size_t i = 0; i < r->nrules; i++)
		pcre2_code_free(r->rules[i].code);
	free(r->rules);
	pcre2_match_data_free(r->md);
	pcre2_match_context_free(r->mctx);
	free(r);
}

static uint64_t
host_hash(const char *host, size_t len)
{
	uint64_t h = util_hash64(host, len);

	return h ? h : 1;
}

/* Slot holding host, or the empty slot where it would go. */
static struct map_entry *
map_slot(const struct resolver *r, const char *host, size_t len, uint64_t h)
{
	size_t mask = r->cap - 1;

	for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
		struct map_entry *e = &r->slots[i];

		if (e->hash == 0)
			return e;
		if (e->hash == h && strncmp(e->host, host, len) == 0 && e->host[len] == '\0')
			return e;
	}
}

static void
map_grow(struct resolver *r)
{
	struct map_entry *old = r->slots;
	size_t oldcap = r->cap;

	r->cap *= 2;
	r->slots = xcalloc(r->cap, sizeof(*r->slots));
	for (size_t i = 0; i < oldcap; i++) {
		if (old[i].hash == 0)
			continue;
		*map_slot(r, old[i].host, strlen(old[i].host), old[i].hash) = old[i];
	}
	free(old);
}

static int
map_insert(struct resolver *r, const char *host, const char *registry, unsigned line,
           unsigned *prev_line)
{
	size_t len = strlen(host);
	uint64_t h = host_hash(host, len);
	struct map_entry *e;

	/* Keep the load factor at or under 1/2: probes stay short. */
	if ((r->count + 1) * 2 > r->cap)
		map_grow(r);
	e = map_slot(r, host, len, h);
	if (e->hash != 0) {
		if (prev_line)
			*prev_line = e->line;
		return -1;
	}
	e->hash = h;
	e->host = xstrdup(host);
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
	r->rules = realloc(r->rules, (r->nrules + 1) * sizeof(*r->rules));
	if (r->rules == NULL)
		fatal("realloc");
	r->rules[r->nrules].code = code;
	r->rules[r->nrules].group = (uint32_t)group;
	r->rules[r->nrules].suflen = resolver_rule_suffix(pattern, r->rules[r->nrules].suffix,
	                                                  sizeof(r->rules[r->nrules].suffix));
	r->nrules++;
	return 0;
}

static int
registry_name_ok(const char *s, size_t len)
{
	if (len == 0 || len > DH_NAME_MAX)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!util_is_name_byte((unsigned char)s[i]))
			return 0;
	return 1;
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
		if (!registry_name_ok(fields[1], strlen(fields[1]))) {
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
resolver_lookup(struct resolver *r, const char *raw_host, char *host_out, char *registry,
                enum host_err *herr)
{
	size_t len;
	const struct map_entry *e;

	*herr = host_normalize(raw_host, host_out, &len);
	if (*herr != HOST_OK)
		return RESOLVE_INVALID;
	e = map_slot(r, host_out, len, host_hash(host_out, len));
	if (e->hash != 0) {
		memcpy(registry, e->registry, strlen(e->registry) + 1);
		return RESOLVE_FOUND;
	}
	for (size_t i = 0; i < r->nrules; i++) {
		const struct rule *ru = &r->rules[i];
		PCRE2_SIZE *ov, glen;
		int rc;

		/* The literal end of the pattern rules most hosts out without running it. */
		if (ru->suflen > 0 && (len < ru->suflen ||
		                       memcmp(host_out + len - ru->suflen, ru->suffix, ru->suflen) != 0))
			continue;
		rc = pcre2_match(ru->code, (PCRE2_SPTR)host_out, len, 0, 0, r->md, r->mctx);
		if (rc == PCRE2_ERROR_NOMATCH)
			continue;
		if (rc < 0)
			return RESOLVE_ERROR; /* match limit, JIT stack...: no decision */
		ov = pcre2_get_ovector_pointer(r->md);
		if (ov[2 * ru->group] == PCRE2_UNSET)
			continue; /* the group did not take part: not this rule's host */
		glen = ov[2 * ru->group + 1] - ov[2 * ru->group];
		if (glen == 0)
			continue;
		memcpy(registry, host_out + ov[2 * ru->group], glen);
		registry[glen] = '\0';
		return RESOLVE_FOUND;
	}
	return RESOLVE_UNKNOWN;
}
