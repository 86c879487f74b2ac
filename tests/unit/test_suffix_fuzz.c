/* test_suffix_fuzz.c: resolver_rule_suffix() checked against PCRE2 on generated patterns. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "responder.h"
#include "t.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

#define PAT_MAX 512           /* generated pattern or sample text, NUL included */
#define PATTERNS_PER_SEED 10000
#define HOSTS_PER_PATTERN 60  /* mutations and fragment hosts; edge hosts come on top */
#define HOSTS_PER_FINDING 400
#define MAX_PRINTED 20        /* counterexamples printed per case; the rest are counted */

/*
 * The property under test: when resolver_rule_suffix(P) returns a non-empty S, every
 * host PCRE2 matches with P ends with S, since the resolver skips the rule otherwise.
 * Patterns come from a small grammar of what rules are made of; hosts from the
 * pattern's own literals, a sample subject built alongside it, and edits of both.
 */

/* Every byte a normalized host can hold (host_normalize): no '_', no uppercase. */
static const char host_bytes[] = "abcdefghijklmnopqrstuvwxyz0123456789.-";
/* Literal bytes of generated patterns: few, so patterns and hosts collide often. */
static const char lit_bytes[] = "abcomexnt0129-.";

/* xorshift64: the same sequence everywhere, so a failure reproduces from its seed. */
struct rng {
	uint64_t s;
};

static uint32_t
rng_next(struct rng *r)
{
	r->s ^= r->s << 13;
	r->s ^= r->s >> 7;
	r->s ^= r->s << 17;
	return (uint32_t)(r->s >> 32);
}

/* 0 .. n-1; the modulo bias does not matter here. */
static int
rng_below(struct rng *r, int n)
{
	return (int)(rng_next(r) % (uint32_t)n);
}

/* A bounded string: an overflow sets full, and a full pattern is thrown away. */
struct text {
	char s[PAT_MAX];
	size_t n;
	int full;
};

static void
text_init(struct text *t)
{
	t->s[0] = '\0';
	t->n = 0;
	t->full = 0;
}

static void
text_put(struct text *t, const char *s)
{
	size_t l = strlen(s);

	if (t->full || t->n + l >= sizeof(t->s)) {
		t->full = 1;
		return;
	}
	memcpy(t->s + t->n, s, l + 1);
	t->n += l;
}

static void
text_putc(struct text *t, char c)
{
	char s[2] = { c, '\0' };

	text_put(t, s);
}

static void
text_append(struct text *t, const struct text *u)
{
	if (u->full)
		t->full = 1;
	text_put(t, u->s);
}

/* ---------------------------------------------------------------- the pattern grammar */

/*
 * One atom of the grammar and the host bytes it matches: the sample subject takes
 * one of them ("" adds nothing).  width 0 marks an assertion, which takes no
 * quantifier.
 */
struct construct {
	const char *text;
	const char *bytes;
	int width;
};

static const struct construct classes[] = {
	{ "[a-z]", "abcxyz", 1 },
	{ "[^.]", "abc019-", 1 },
	{ "[a-z0-9-]", "az09-", 1 },
	{ "[-a]", "-a", 1 },
	{ "[.\\-]", ".-", 1 },
	{ "[\\.]", ".", 1 },
	{ "[\\d]", "05", 1 },
	{ "[\\w.]", "a1.", 1 },
	{ "[^\\W_]", "a1", 1 },
	/* a leading ] is a member, not the end */
	{ "[]a]", "a", 1 },
	{ "[^]a]", "bc.0", 1 },
	{ "[]|]", "", 1 },
	{ "[^]|]", "ab.1", 1 },
	/* escaped and doubled backslashes before ] */
	{ "[\\]a]", "a", 1 },
	{ "[^\\]]", "ab.9", 1 },
	{ "[x\\]|]", "x", 1 },
	{ "[\\\\a]", "a", 1 },
	{ "[\\\\]", "", 1 },
	/* metacharacters that are plain members inside a class */
	{ "[(|)]", "", 1 },
	{ "[|]", "", 1 },
	{ "[a$]", "a", 1 },
};

/* POSIX classes: their own ] must not end the class for the scanner. */
static const struct construct posix_classes[] = {
	{ "[[:alpha:]]", "abq", 1 },
	{ "[[:digit:]]", "0189", 1 },
	{ "[[:alnum:]]", "a9", 1 },
	{ "[[:^digit:]]", "ab.-", 1 },
	{ "[[:lower:].]", "az.", 1 },
	{ "[[:word:]]", "a1", 1 },
	{ "[[:punct:]]", ".-", 1 },
	{ "[[:alpha:](]", "ab", 1 },
	{ "[[:alpha:][]", "ab", 1 },
	{ "[[:alnum:])]", "a1", 1 },
	{ "[[:alpha:]|]", "ab", 1 },
	{ "[[:digit:][(|]", "12", 1 },
	{ "[[:alpha:]$]", "ab", 1 },
	{ "[^[:digit:](]", "ab.-", 1 },
	{ "[[:<:]]", "", 0 },
	{ "[[:>:]]", "", 0 },
};

static const struct construct escapes[] = {
	{ "\\d", "0123456789", 1 },
	{ "\\D", "a.-", 1 },
	{ "\\w", "az09", 1 },
	{ "\\W", ".-", 1 },
	{ "\\S", "a.-9", 1 },
	{ "\\H", "a.-", 1 },
	{ "\\V", "a9", 1 },
	{ "\\N", "ab.1-", 1 },
	{ "\\X", "ab.1", 1 },
	{ "\\C", "ab.1", 1 },
	{ "\\-", "-", 1 },
	{ "\\.", ".", 1 },
	/* bytes no host holds */
	{ "\\h", "", 1 },
	{ "\\s", "", 1 },
	{ "\\R", "", 1 },
	{ "\\$", "", 1 },
	{ "\\\\", "", 1 },
	{ "\\e", "", 1 },
	{ "\\t", "", 1 },
	{ "\\_", "", 1 },
	/* braces that are no quantifier on their own, but may become one with a neighbour */
	{ "{", "", 1 },
	{ "}", "", 1 },
	/* assertions and \K */
	{ "\\K", "", 0 },
	{ "\\b", "", 0 },
	{ "\\B", "", 0 },
	{ "\\G", "", 0 },
};

/* Escapes longer than two bytes: the prefilter must not read their tails as literals. */
static const struct construct long_escapes[] = {
	/* properties: one letter after \p is a name, not a literal */
	{ "\\pl", "abz", 1 },
	{ "\\Pl", "09.-", 1 },
	{ "\\pn", "0123", 1 },
	{ "\\Pn", "ab.-", 1 },
	{ "\\pL", "ab", 1 },
	{ "\\p{L}", "ab", 1 },
	{ "\\p{l}", "ab", 1 },
	{ "\\pp", ".-", 1 },
	{ "\\Pp", "a1", 1 },
	{ "\\Pc", "ab1", 1 },
	{ "\\Pz", "ab.1", 1 },
	{ "\\Ps", "ab1", 1 },
	{ "\\Pm", "ab", 1 },
	{ "\\P{Lu}", "ab", 1 },
	/* one byte written as several */
	{ "\\x2e", ".", 1 },
	{ "\\x{61}", "a", 1 },
	{ "\\056", ".", 1 },
	{ "\\o{141}", "a", 1 },
	{ "\\Q.\\E", ".", 1 },
	{ "\\Q|)\\E", "", 1 },
	{ "\\c.", "n", 1 },          /* \c flips bit 6: "." is 'n' */
	{ "\\x{2d}", "-", 1 },
};

/* Option settings, verbs and comments: rare, and the prefilter gives up on them. */
static const struct construct specials[] = {
	{ "(*ACCEPT)", "", 0 },
	{ "(*COMMIT)", "", 0 },
	{ "(*FAIL)", "", 0 },
	{ "(*pla:a)", "", 0 },
	{ "(?#c|)", "", 0 },
	{ "(?i)", "", 0 },
	{ "(?x)", "", 0 },
	{ "(?-i)", "", 0 },
	{ "(?(?=a)a|b)", "a", 0 },
};

struct gen {
	struct rng rng;
	int names;       /* group names handed out, so each is unique */
	int registry;    /* "registry" is taken */
};

/* Pick one construct; the sample takes one of its bytes. */
static int
gen_construct(struct gen *g, const struct construct *c, size_t n, struct text *pat,
              struct text *sam)
{
	const struct construct *k = &c[rng_below(&g->rng, (int)n)];

	text_put(pat, k->text);
	if (k->bytes[0] != '\0')
		text_putc(sam, k->bytes[rng_below(&g->rng, (int)strlen(k->bytes))]);
	return k->width;
}

/* A host byte as a literal; a dot is mostly \. and sometimes [.] or a bare . (any byte). */
static void
gen_literal(struct gen *g, struct text *pat, struct text *sam)
{
	char c = lit_bytes[rng_below(&g->rng, (int)sizeof(lit_bytes) - 1)];

	/* No host holds '_': a rule with it in its suffix just never matches. */
	if (rng_below(&g->rng, 40) == 0)
		c = '_';
	if (c == '.') {
		int k = rng_below(&g->rng, 6);

		text_put(pat, k < 4 ? "\\." : k == 4 ? "[.]" : ".");
	} else {
		if ((c == '-' || c == '_') && rng_below(&g->rng, 3) == 0)
			text_putc(pat, '\\');
		text_putc(pat, c);
	}
	text_putc(sam, c);
}

static void gen_seq(struct gen *g, struct text *pat, struct text *sam, int depth);

/* Lookarounds: the body is not part of the sample.  Lookbehinds must be fixed length. */
static void
gen_lookaround(struct gen *g, struct text *pat, int depth)
{
	/* the prefilter gives up on the non-atomic (?*: rarer */
	static const char *const ahead[] = { "(?=", "(?=", "(?!", "(?!", "(?*" };
	static const char *const behind[] = { "(?<=", "(?<!", "(?<*" };
	struct text body, unused;

	text_init(&body);
	text_init(&unused);
	if (rng_below(&g->rng, 2)) {
		text_put(pat, ahead[rng_below(&g->rng, (int)NELEM(ahead))]);
		gen_seq(g, &body, &unused, depth + 1);
	} else {
		int n = 1 + rng_below(&g->rng, 3);

		text_put(pat, behind[rng_below(&g->rng, (int)NELEM(behind))]);
		for (int i = 0; i < n; i++)
			gen_literal(g, &body, &unused);
	}
	/* An end anchor inside a lookaround ends nothing outside it. */
	if (rng_below(&g->rng, 4) == 0)
		text_put(&body, rng_below(&g->rng, 2) ? "$" : "\\z");
	text_append(pat, &body);
	text_putc(pat, ')');
}

/* A group with one to three branches; the sample follows one of them. */
static void
gen_group(struct gen *g, struct text *pat, struct text *sam, int depth)
{
	static const char *const named[] = { "(?<%s>", "(?P<%s>", "(?'%s'" };
	/* (?| and (?i: make the prefilter give up: rarer */
	static const char *const plain[] = {
		"(", "(", "(", "(?:", "(?:", "(?:", "(?>", "(?>", "(?|", "(?i:",
	};
	/* the \k and \g spellings and (?& make the prefilter give up: rarer */
	static const char *const refs[] = {
		"(?P=%s)", "(?P=%s)", "(?P>%s)", "(?P>%s)", "\\k<%s>", "\\k{%s}", "\\k'%s'",
		"\\g{%s}", "(?&%s)",
	};
	char name[16] = "", open[32];
	struct text body, chosen;
	int branches = rng_below(&g->rng, 4) == 0 ? 2 + rng_below(&g->rng, 2) : 1;
	int pick = rng_below(&g->rng, branches);

	if (rng_below(&g->rng, 2)) {
		if (!g->registry) {
			snprintf(name, sizeof(name), "registry");
			g->registry = 1;
		} else {
			snprintf(name, sizeof(name), "n%d", ++g->names);
		}
		snprintf(open, sizeof(open), named[rng_below(&g->rng, (int)NELEM(named))], name);
	} else {
		snprintf(open, sizeof(open), "%s", plain[rng_below(&g->rng, (int)NELEM(plain))]);
	}
	text_put(pat, open);
	text_init(&chosen);
	for (int b = 0; b < branches; b++) {
		struct text bsam;

		text_init(&body);
		text_init(&bsam);
		gen_seq(g, &body, &bsam, depth + 1);
		if (b > 0)
			text_putc(pat, '|');
		text_append(pat, &body);
		if (b == pick)
			chosen = bsam;
	}
	text_putc(pat, ')');
	text_append(sam, &chosen);
	/* A back reference repeats the text; a recursion matches the group again. */
	if (name[0] != '\0' && rng_below(&g->rng, 5) == 0) {
		char ref[32];

		snprintf(ref, sizeof(ref), refs[rng_below(&g->rng, (int)NELEM(refs))], name);
		text_put(pat, ref);
		text_append(sam, &chosen);
	}
}

/*
 * One atom; returns 0 when it takes no quantifier.  What makes the prefilter give up
 * anywhere in a pattern (long escapes, POSIX classes, specials) is kept rare, or few
 * patterns would get a suffix to check.
 */
static int
gen_atom(struct gen *g, struct text *pat, struct text *sam, int depth)
{
	int k = rng_below(&g->rng, depth > 2 ? 100 : 160);

	if (k < 48) {
		gen_literal(g, pat, sam);
		return 1;
	}
	if (k < 64)
		return gen_construct(g, classes, NELEM(classes), pat, sam);
	if (k < 67)
		return gen_construct(g, posix_classes, NELEM(posix_classes), pat, sam);
	if (k < 83)
		return gen_construct(g, escapes, NELEM(escapes), pat, sam);
	if (k < 86)
		return gen_construct(g, long_escapes, NELEM(long_escapes), pat, sam);
	if (k < 98) {
		text_putc(pat, '.');
		text_putc(sam, host_bytes[rng_below(&g->rng, (int)sizeof(host_bytes) - 1)]);
		return 1;
	}
	if (k < 100)
		return gen_construct(g, specials, NELEM(specials), pat, sam);
	if (k < 125) {
		gen_lookaround(g, pat, depth);
		return 0;
	}
	gen_group(g, pat, sam, depth);
	return 1;
}

/* An atom and maybe a quantifier; the sample repeats the atom's sample to suit. */
static void
gen_piece(struct gen *g, struct text *pat, struct text *sam, int depth)
{
	static const struct {
		const char *text;
		int min, max;  /* repetitions the sample takes */
	} quants[] = {
		{ "?", 0, 1 }, { "*", 0, 2 }, { "+", 1, 2 }, { "{2}", 2, 2 }, { "{1,3}", 1, 3 },
		{ "{0,}", 0, 2 }, { "*?", 0, 2 }, { "++", 1, 2 }, { "?+", 0, 1 }, { "{2,}?", 2, 3 },
		/* a literal "{,2}" before PCRE2 10.43, a quantifier after */
		{ "{,2}", 1, 1 },
	};
	struct text apat, asam;
	int reps = 1;

	text_init(&apat);
	text_init(&asam);
	if (gen_atom(g, &apat, &asam, depth) && rng_below(&g->rng, 5) < 2) {
		int q = rng_below(&g->rng, (int)NELEM(quants));

		text_put(&apat, quants[q].text);
		reps = quants[q].min + rng_below(&g->rng, quants[q].max - quants[q].min + 1);
	}
	text_append(pat, &apat);
	for (int i = 0; i < reps; i++)
		text_append(sam, &asam);
}

static void
gen_seq(struct gen *g, struct text *pat, struct text *sam, int depth)
{
	int n = 1 + rng_below(&g->rng, depth == 0 ? 5 : 3);

	for (int i = 0; i < n; i++) {
		if (depth < 4 && rng_below(&g->rng, 5) == 0) {
			/* a run of literals, like the ".example.com" of a real rule */
			int m = 1 + rng_below(&g->rng, 6);

			for (int j = 0; j < m; j++)
				gen_literal(g, pat, sam);
		} else {
			gen_piece(g, pat, sam, depth);
		}
	}
}

/* A whole pattern: mostly a rule's shape, ^ ... literal tail $, with every variation. */
static void
gen_pattern(struct gen *g, struct text *pat, struct text *sam)
{
	static const char *const starts[] = { "^", "^", "\\A", "", "" };
	/* mostly real end anchors; also an escaped $, and \z after an escaped backslash */
	static const char *const ends[] = {
		"$", "$", "$", "$", "$", "\\z", "\\z", "\\Z", "\\\\$", "\\$", "\\\\\\z", "\\\\z", "",
	};

	text_init(pat);
	text_init(sam);
	g->names = 0;
	g->registry = 0;
	text_put(pat, starts[rng_below(&g->rng, (int)NELEM(starts))]);
	gen_seq(g, pat, sam, 0);
	if (rng_below(&g->rng, 6) == 0) {
		struct text alt;

		/* A top-level alternative: the sample may take either side. */
		text_init(&alt);
		text_putc(pat, '|');
		gen_seq(g, pat, &alt, 0);
		if (rng_below(&g->rng, 2))
			*sam = alt;
	}
	if (rng_below(&g->rng, 4) != 0) {
		int m = rng_below(&g->rng, 8);

		for (int j = 0; j < m; j++)
			gen_literal(g, pat, sam);
	}
	text_put(pat, ends[rng_below(&g->rng, (int)NELEM(ends))]);
}

/* ---------------------------------------------------------------- the check */

struct stats {
	long patterns;     /* offered */
	long compiled;     /* accepted by pcre2_compile */
	long with_suffix;  /* compiled and given a non-empty suffix */
	long exercised;    /* ... and matched by at least one host */
	long hosts;        /* hosts tried against a pattern with a suffix */
	long matched;      /* ... that PCRE2 matched */
	long limited;      /* ... where PCRE2 hit the match limit: no verdict */
	long bad;          /* matched hosts that do not end with the suffix */
	int printed;
};

/* One pattern under test. */
struct probe {
	const char *pattern;
	pcre2_code *code;
	pcre2_match_data *md;
	pcre2_match_context *mctx;
	char suffix[DH_HOST_MAX + 1];
	size_t suflen;
	long matched;
	int reported;      /* one counterexample per pattern is enough to print */
	struct stats *st;
	struct rng *rng;
};

static int
host_ok(const char *h, size_t n)
{
	if (n < 1 || n > DH_HOST_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (h[i] == '\0' || strchr(host_bytes, h[i]) == NULL)
			return 0;
	return 1;
}

/* The pattern as a C string literal, ready to paste into the findings table. */
static void
print_c_string(const char *s)
{
	putchar('"');
	for (; *s != '\0'; s++) {
		if (*s == '\\' || *s == '"')
			putchar('\\');
		putchar(*s);
	}
	putchar('"');
}

/*
 * Match one host (anything outside the host alphabet or length is skipped: the resolver
 * never runs rules on it).  Returns 1 when PCRE2 matched.
 */
static int
try_host(struct probe *p, const char *h, size_t n)
{
	int rc;

	if (!host_ok(h, n))
		return 0;
	p->st->hosts++;
	rc = pcre2_match(p->code, (PCRE2_SPTR)h, n, 0, 0, p->md, p->mctx);
	if (rc == PCRE2_ERROR_NOMATCH)
		return 0;
	if (rc < 0) {
		p->st->limited++;
		return 0;
	}
	/* rc == 0 is a match whose groups did not fit in md: still a match. */
	p->st->matched++;
	p->matched++;
	if (n >= p->suflen && memcmp(h + n - p->suflen, p->suffix, p->suflen) == 0)
		return 1;
	p->st->bad++;
	if (!p->reported && p->st->printed < MAX_PRINTED) {
		printf("# counterexample: pattern ");
		print_c_string(p->pattern);
		printf(" suffix \"%s\" host \"%.*s\"\n", p->suffix, (int)n, h);
		p->st->printed++;
	}
	p->reported = 1;
	return 1;
}

static char
rand_host_byte(struct rng *r)
{
	/* Half from the literal bytes, so a random byte often continues a literal. */
	if (rng_below(r, 2))
		return lit_bytes[rng_below(r, (int)sizeof(lit_bytes) - 1)];
	return host_bytes[rng_below(r, (int)sizeof(host_bytes) - 1)];
}

static size_t
rand_bytes(struct rng *r, char *out, int max)
{
	int n = rng_below(r, max + 1);

	for (int i = 0; i < n; i++)
		out[i] = rand_host_byte(r);
	return (size_t)n;
}

/* The sample with one to three edits: replace, insert, delete, drop or add at either end. */
static void
try_mutations(struct probe *p, const char *sample, int count)
{
	size_t len = strlen(sample);
	char h[2 * PAT_MAX];

	if (len >= PAT_MAX)
		return;
	for (int i = 0; i < count; i++) {
		int ops = 1 + rng_below(p->rng, 3);
		size_t n = len;

		memcpy(h, sample, len);
		for (int o = 0; o < ops; o++) {
			size_t at = n ? (size_t)rng_below(p->rng, (int)n) : 0;

			switch (rng_below(p->rng, 6)) {
			case 0:
				if (n > 0)
					h[at] = rand_host_byte(p->rng);
				break;
			case 1:
				memmove(h + at + 1, h + at, n - at);
				h[at] = rand_host_byte(p->rng);
				n++;
				break;
			case 2:
				if (n > 1) {
					memmove(h + at, h + at + 1, n - at - 1);
					n--;
				}
				break;
			case 3:
				n -= n > 1;
				break;
			case 4:
				h[n++] = rand_host_byte(p->rng);
				break;
			default:
				/* the sample misses whatever an unanchored start allows */
				memmove(h + 1, h, n);
				h[0] = rand_host_byte(p->rng);
				n++;
				break;
			}
		}
		try_host(p, h, n);
	}
}

/* Around the suffix's edge: each tail of it, with its last byte dropped or one added. */
static void
try_suffix_edges(struct probe *p)
{
	char h[DH_HOST_MAX + 8];

	for (size_t k = 0; k <= p->suflen; k++) {
		size_t n = rand_bytes(p->rng, h, 3), tail = p->suflen - k;

		if (n + tail + 1 > DH_HOST_MAX)
			continue;
		memcpy(h + n, p->suffix + k, tail);
		n += tail;
		switch (rng_below(p->rng, 3)) {
		case 0:
			n -= n > 0;
			break;
		case 1:
			h[n++] = rand_host_byte(p->rng);
			break;
		default:
			break;
		}
		try_host(p, h, n);
	}
}

/* Runs of host bytes in the pattern text: "\\.azurecr\\.io$" gives ".azurecr" and ".io". */
struct frags {
	char s[32][64];
	int n;
};

static void
find_frags(const char *pattern, struct frags *f)
{
	const char *c = pattern;

	f->n = 0;
	while (*c != '\0' && f->n < (int)NELEM(f->s)) {
		size_t l = 0;

		while (*c != '\0' && strchr(host_bytes, *c) != NULL && l + 1 < sizeof(f->s[0]))
			f->s[f->n][l++] = *c++;
		if (l == 0) {
			c++;
			continue;
		}
		f->s[f->n++][l] = '\0';
	}
}

/* One to four pieces, each a fragment (or its tail) or a few random bytes. */
static void
try_fragments(struct probe *p, const struct frags *f, int count)
{
	char h[DH_HOST_MAX + 1];

	for (int i = 0; i < count; i++) {
		int parts = 1 + rng_below(p->rng, 4);
		size_t n = 0;

		for (int j = 0; j < parts && n + 64 <= DH_HOST_MAX; j++) {
			if (f->n > 0 && rng_below(p->rng, 3) != 0) {
				const char *s = f->s[rng_below(p->rng, f->n)];
				size_t l = strlen(s), from = 0;

				if (rng_below(p->rng, 2))
					from = (size_t)rng_below(p->rng, (int)l);
				memcpy(h + n, s + from, l - from);
				n += l - from;
			} else {
				n += rand_bytes(p->rng, h + n, 3);
			}
		}
		try_host(p, h, n);
	}
}

/*
 * Check one pattern: when it compiles and has a suffix, try its sample, edits of it,
 * hosts around the suffix's edge and hosts made of its literals.  Returns the number
 * of hosts PCRE2 matched, -1 when it did not compile.
 */
static long
check_pattern(const char *pattern, const char *sample, int budget, pcre2_match_data *md,
              pcre2_match_context *mctx, struct rng *rng, struct stats *st)
{
	struct probe p = { .pattern = pattern, .md = md, .mctx = mctx, .st = st, .rng = rng };
	struct frags f;
	int ec;
	PCRE2_SIZE off;

	st->patterns++;
	p.suflen = resolver_rule_suffix(pattern, p.suffix, sizeof(p.suffix));
	p.code = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, PCRE2_NEVER_UTF, &ec,
	                       &off, NULL);
	if (p.code == NULL)
		return -1;
	st->compiled++;
	if (p.suflen == 0) {
		/* nothing promised, nothing to check */
		pcre2_code_free(p.code);
		return 0;
	}
	st->with_suffix++;
	try_host(&p, sample, strlen(sample));
	try_mutations(&p, sample, budget / 2);
	try_suffix_edges(&p);
	find_frags(pattern, &f);
	try_fragments(&p, &f, budget / 2);
	if (p.matched > 0)
		st->exercised++;
	pcre2_code_free(p.code);
	return p.matched;
}

/* Match limits low enough that a backtracking blow-up costs little under valgrind. */
static pcre2_match_context *
limited_context(void)
{
	pcre2_match_context *mctx = pcre2_match_context_create(NULL);

	pcre2_set_match_limit(mctx, 20000);
	pcre2_set_depth_limit(mctx, 2000);
	return mctx;
}

static void
print_stats(const char *what, const struct stats *st)
{
	printf("# %s: patterns %ld compiled %ld with-suffix %ld exercised %ld hosts %ld matched %ld "
	       "limited %ld bad %ld\n", what, st->patterns, st->compiled, st->with_suffix,
	       st->exercised, st->hosts, st->matched, st->limited, st->bad);
}

/* Generated patterns from fixed seeds; every matched host must end with the suffix. */
static void
test_suffix_generated(void)
{
	static const uint64_t seeds[] = {
		0x9e3779b97f4a7c15ull, 0x2545f4914f6cdd1dull, 0xd1342543de82ef95ull, 20240611,
	};
	pcre2_match_data *md = pcre2_match_data_create(32, NULL);
	pcre2_match_context *mctx = limited_context();
	struct stats st = { 0 };

	for (size_t s = 0; s < NELEM(seeds); s++) {
		struct gen g = { .rng = { seeds[s] } };
		struct rng hrng = { seeds[s] ^ 0x5851f42d4c957f2dull };

		for (int i = 0; i < PATTERNS_PER_SEED; i++) {
			struct text pat, sam;

			gen_pattern(&g, &pat, &sam);
			if (pat.full)
				continue;
			/* a sample too long to keep still leaves the other hosts */
			check_pattern(pat.s, sam.full ? "" : sam.s, HOSTS_PER_PATTERN, md, mctx, &hrng,
			              &st);
		}
	}
	print_stats("generated", &st);
	T_EQ_INT(st.bad, 0);
	/* Floors, so a change to the grammar cannot make this test quietly check nothing. */
	T_CHECK(st.patterns >= (long)NELEM(seeds) * PATTERNS_PER_SEED * 9 / 10);
	T_CHECK(st.compiled >= st.patterns * 9 / 10);
	T_CHECK(st.with_suffix >= st.patterns / 6);
	T_CHECK(st.exercised >= st.with_suffix / 3);
	T_CHECK(st.hosts >= st.with_suffix * 40);
	T_CHECK(st.matched >= st.with_suffix * 2);
	pcre2_match_data_free(md);
	pcre2_match_context_free(mctx);
}

/*
 * Patterns the fuzzer once broke, and their neighbours: the suffix each must get,
 * and a host PCRE2 matches (NULL when no host can match) that keeps the table honest.
 */
static const struct finding {
	const char *pattern;
	const char *suffix;
	const char *witness;
} findings[] = {
	/* \p and \P take the next letter as a property name: this once gave "l" */
	{ "\\pl$", "", "a" },
	{ "\\Pl$", "", "1" },
	{ "\\pn$", "", "7" },
	{ "\\Pmt-02$", "", "at-02" },
	{ "^(?<registry>\\w+)\\.\\pl$", "", "ab.c" },
	/* a [:name:] has a ] of its own, so the | after it is top level: once gave "foo" */
	{ "[[:alpha:](]|foo$", "", "a" },
	{ "[^[:digit:](]|foo$", "", "a" },
	{ "[[:alpha:][]|foo\\.com$", "", "x" },
	{ "^(?<registry>[[:alpha:][]+)|foo\\.com$", "", "abc.net" },
	{ "(?<registry>[[:alnum:](]+)|\\.example\\.com$", "", "a1" },
	{ "[[:alpha:]|]|x\\.com$", "", "a" },
	{ "[[:digit:][(|]|x\\.com$", "", "1" },
	{ "[[:^alpha:][]|x\\.com$", "", "1" },
	{ "^(?<registry>[[:alnum:]]+)\\.io$", "", "a.io" },  /* safe, but given up */
	/* top-level alternatives, and | where it is no alternative */
	{ "a|b\\.com$", "", "a" },
	{ "(a|b)\\.com$", ".com", "b.com" },
	{ "(?<registry>x)|b\\.com$", "", "x" },
	{ "(?'r'x|y)b\\.com$", "b.com", "yb.com" },
	{ "[|]b\\.com$", "b.com", NULL },
	{ "[]|]b\\.com$", "b.com", NULL },
	{ "[^]|]b\\.com$", "b.com", "ab.com" },
	{ "[\\]|]b\\.com$", "b.com", NULL },
	{ "[\\\\]|b\\.com$", "", "b.com" },
	{ "\\[|b\\.com$", "", "b.com" },
	{ "\\(|b\\.com$", "", "b.com" },
	{ "(?|a|b)com$", "", "bcom" },
	/* anchors and what stands right before them */
	{ "com\\z", "com", "a.com" },
	{ "com\\Z", "com", "com" },
	{ "com\\\\z", "", NULL },
	{ "a\\\\$", "", NULL },
	{ "\\\\.com$", "com", NULL },
	{ "a\\\\\\.com$", ".com", NULL },
	{ "x*com$", "com", "xxcom" },
	{ "co?m$", "m", "cm" },
	{ "xco{2}m$", "m", "xcoom" },
	{ "a{2,3$", "3", NULL },
	{ "\\bcom$", "com", "a.com" },
	{ "(?=x$)abc$", "abc", NULL },
	{ "(?<=c$)abc$", "abc", NULL },
	{ "abc(?=$)", "", "abc" },
	{ "(?<registry>a)\\Kb\\.com$", "b.com", "ab.com" },
	{ "(?>a|ab)com$", "com", "acom" },
	{ "(?P<registry>x)(?P=registry)com$", "com", "xxcom" },
	{ "(?P<r>x)(?P>r)com$", "com", "xxcom" },
	{ "c(?#x)om$", "", "com" },
	/* options, verbs and multi-byte escapes: the prefilter gives up */
	{ "(?i)COM$", "", "com" },
	{ "(?m)com$", "", "com" },
	{ "(?x)a | b com$", "", "a" },
	{ "(*ACCEPT)com$", "", "x" },
	{ "\\Qa|\\E.com$", "", NULL },
	{ "\\x2ecom$", "", ".com" },
	{ "\\056com$", "", ".com" },
	{ "\\o{56}com$", "", ".com" },
	{ "(?<*a)com$", "com", "acom" },
	{ "[[:<:]]com$", "", "com" },
	{ "[[:>:]]|com$", "", "a" },
	/* rules as they are written */
	{ "^(?<registry>[a-z0-9]{5,50})\\.azurecr\\.io$", ".azurecr.io", "contoso.azurecr.io" },
	{ "^(?<registry>[a-z0-9]+)\\.[a-z0-9]+\\.data\\.azurecr\\.io$", ".data.azurecr.io",
	  "contoso.westeurope.data.azurecr.io" },
	{ "(?<registry>.+)\\.example\\.com$", ".example.com", "a.b.example.com" },
	{ "^(?<registry>[a-z]+)\\.svc\\.cluster\\.local$", ".svc.cluster.local",
	  "web.svc.cluster.local" },
	{ "^(?<registry>[a-z]+)(?:\\.west|\\.east)\\.example$", ".example", "a.east.example" },
	{ "^(?<registry>[a-z]+).io$", "io", "a-io" },
};

/* The findings: exact suffixes, the witnesses, then many hosts per pattern. */
static void
test_suffix_findings(void)
{
	pcre2_match_data *md = pcre2_match_data_create(32, NULL);
	pcre2_match_context *mctx = limited_context();
	struct rng rng = { 0x853c49e6748fea9bull };
	struct stats st = { 0 };

	for (size_t i = 0; i < NELEM(findings); i++) {
		const struct finding *f = &findings[i];
		char suf[DH_HOST_MAX + 1];
		size_t n = resolver_rule_suffix(f->pattern, suf, sizeof(suf));
		const char *sample = f->witness ? f->witness : "";
		long matched;

		if (strcmp(suf, f->suffix) != 0) {
			printf("# pattern ");
			print_c_string(f->pattern);
			printf("\n");
		}
		T_EQ_STR(suf, f->suffix);
		T_EQ_INT(n, strlen(f->suffix));
		matched = check_pattern(f->pattern, sample, HOSTS_PER_FINDING, md, mctx, &rng, &st);
		T_CHECK(matched >= 0); /* every pattern here compiles */
		if (f->witness != NULL && matched >= 0) {
			pcre2_code *code;
			int ec, rc = -1;
			PCRE2_SIZE off;

			code = pcre2_compile((PCRE2_SPTR)f->pattern, PCRE2_ZERO_TERMINATED,
			                     PCRE2_NEVER_UTF, &ec, &off, NULL);
			if (code != NULL)
				rc = pcre2_match(code, (PCRE2_SPTR)f->witness, strlen(f->witness), 0, 0, md,
				                 NULL);
			if (rc < 0) {
				printf("# witness \"%s\" does not match ", f->witness);
				print_c_string(f->pattern);
				printf("\n");
			}
			T_CHECK(rc >= 0);
			pcre2_code_free(code);
		}
	}
	print_stats("findings", &st);
	T_EQ_INT(st.bad, 0);
	T_CHECK(st.exercised >= 10);
	pcre2_match_data_free(md);
	pcre2_match_context_free(mctx);
}

int
main(void)
{
	static const struct t_case cases[] = {
		T_CASE(test_suffix_generated),
		T_CASE(test_suffix_findings),
	};

	return t_run("suffix_fuzz", cases, NELEM(cases));
}
