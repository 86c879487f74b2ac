/*
 * fuzz_matchers.c: the check reply matchers as the check code applies them.
 * parse_ranges and status_ok (check_http.c) are static, and so is the tcp
 * reply loop (check_tcp.c), so this goes through the nearest exported doors:
 * conf_load with deps_conf builds an http check (expect, body_match,
 * body_negate, body_bytes) and a tcp check (reply_match) from the input, and
 * check_match (check.c) applies the compiled patterns the way http_done and
 * tcp_io do: the body cut to body_bytes; the reply matched after each chunk
 * received, up to 4096 bytes.
 *
 * Input: byte 0 flags (bit 0 body_negate, bits 1-2 body_bytes 65536/16/1/300,
 * bits 3-7 the tcp chunk size), bytes 1-2 the HTTP status (little-endian,
 * modulo 1000), then "EXPECT\0PATTERN\0BODY".
 *
 * Checked: a configuration that loads has ranges inside 100-599 with lo <= hi;
 * an expect in the documented grammar ("200-299,301": numbers or ranges,
 * commas between, nothing else) always loads, with exactly those ranges; the
 * pattern loads exactly when PCRE2 compiles it; the body is matched only for
 * a status inside the ranges (as http_done does); check_match returns 1, 0 or
 * -1 with a reason, and agrees with PCRE2's interpreter (check_compile
 * JIT-compiles) whenever both decide.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prober.h"
#include "fuzz.h"

#define MATCH_LIMIT 100000 /* check.c's MATCH_LIMIT */
#define TCP_REPLY_MAX 4096 /* check_tcp.c's */

static const struct conf_ext *const exts[] = { &deps_conf, NULL };
static char conf_path[4200];
static pcre2_match_context *mctx;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_init("fuzz_matchers", 0, LOG_LVL_ERR);
	fz_path("deephealth.conf", conf_path, sizeof(conf_path));
	mctx = pcre2_match_context_create(NULL);
	pcre2_set_match_limit(mctx, MATCH_LIMIT);
	return 0;
}

/* s as a libconfig string literal's inside: \" \\ and \xNN for anything not plain. */
static void
quote(FILE *f, const char *s)
{
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20 || c > 0x7e)
			fprintf(f, "\\x%02x", c);
		else
			fputc(c, f);
	}
}

/* The documented expect grammar, strictly: N or N-M (100 <= N <= M <= 599), ','-separated. */
static int
strict_ranges(const char *s, struct status_range *out, size_t max, size_t *n)
{
	*n = 0;
	for (;;) {
		int lo = 0, hi, d = 0;

		while (*s >= '0' && *s <= '9' && d < 4)
			lo = lo * 10 + (*s++ - '0'), d++;
		if (d == 0 || d == 4)
			return 0;
		hi = lo;
		if (*s == '-') {
			s++;
			hi = 0, d = 0;
			while (*s >= '0' && *s <= '9' && d < 4)
				hi = hi * 10 + (*s++ - '0'), d++;
			if (d == 0 || d == 4)
				return 0;
		}
		if (lo < 100 || hi > 599 || lo > hi || *n == max)
			return 0;
		out[*n].lo = lo;
		out[(*n)++].hi = hi;
		if (*s == '\0')
			return 1;
		if (*s++ != ',')
			return 0;
	}
}

static int
status_in(const struct status_range *r, size_t n, long st)
{
	for (size_t i = 0; i < n; i++)
		if (st >= r[i].lo && st <= r[i].hi)
			return 1;
	return 0;
}

/* check_match against the interpreter; returns check_match's answer. */
static int
match(struct run *r, const void *re, const pcre2_code *plain, const char *s, size_t len)
{
	char err[128] = "";
	int m = check_match(r, re, s, len, err, sizeof(err)), want;
	pcre2_match_data *md = pcre2_match_data_create_from_pattern(plain, NULL);

	FZ_CHECK(m == 1 || m == 0 || m == -1, "check_match returned %d", m);
	FZ_CHECK(m != -1 || err[0] != '\0', "check_match error without a reason");
	want = pcre2_match(plain, (PCRE2_SPTR)(s ? s : ""), len, 0, PCRE2_NO_JIT, md, mctx);
	pcre2_match_data_free(md);
	if (m != -1 && (want >= 0 || want == PCRE2_ERROR_NOMATCH))
		FZ_CHECK(m == (want >= 0), "check_match says %d, the interpreter %d", m, want);
	return m;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int body_bytes[] = { 65536, 16, 1, 300 };
	char *f[3], *text = NULL;
	size_t n, tlen = 0, nstrict = 0;
	struct status_range want[64];
	unsigned flags;
	long status;
	int negate, bb, chunk, errors = 0, strict, ec;
	PCRE2_SIZE eo;
	pcre2_code *plain = NULL;
	struct conf *c;
	FILE *t;

	if (size < 3)
		return 0;
	flags = data[0];
	status = (long)(data[1] | data[2] << 8) % 1000;
	negate = flags & 1;
	bb = body_bytes[(flags >> 1) & 3];
	chunk = 1 + (int)(flags >> 3) * 9;
	n = fz_split(data + 3, size - 3, "", f, 3);
	if (n < 2)
		goto out;
	strict = strict_ranges(f[0], want, 64, &nstrict);
	if (f[1][0] != '\0')
		plain = pcre2_compile((PCRE2_SPTR)f[1], PCRE2_ZERO_TERMINATED, 0, &ec, &eo, NULL);

	if ((t = open_memstream(&text, &tlen)) == NULL)
		abort();
	fprintf(t, "snapshot = { path = \"/nonexistent/snapshot\"; };\n"
	        "dependencies = (\n  { name = \"h\"; kind = \"auth\"; type = \"http\"; "
	        "url = \"http://127.0.0.1/\"; body_negate = %s; body_bytes = %d; expect = \"",
	        negate ? "true" : "false", bb);
	quote(t, f[0]);
	fprintf(t, "\"; body_match = \"");
	quote(t, f[1]);
	fprintf(t, "\"; },\n  { name = \"t\"; kind = \"cache\"; type = \"tcp\"; "
	        "address = \"127.0.0.1:1\"; send = \"PING\\r\\n\"; reply_match = \"");
	quote(t, f[1]);
	fprintf(t, "\"; }\n);\n");
	fclose(t);
	fz_write(conf_path, text, tlen);
	free(text);

	c = conf_load(conf_path, exts, fz_errfn, &errors);
	if (c == NULL) {
		FZ_CHECK(!strict || (f[1][0] != '\0' && plain == NULL),
		         "expect \"%s\" (valid) and a good pattern, refused", f[0]);
		goto out;
	}
	FZ_CHECK(f[1][0] == '\0' || plain != NULL, "a pattern PCRE2 refuses was taken: %s", f[1]);
	{
		const struct http_check *h = c->deps[0].check->conf;
		const struct tcp_check *tc = c->deps[1].check->conf;
		struct run r;
		size_t blen = n > 2 ? strlen(f[2]) : 0, got = 0;
		int m = 0;

		FZ_CHECK(h->nranges > 0 && h->ranges != NULL, "no ranges");
		for (size_t i = 0; i < h->nranges; i++)
			FZ_CHECK(h->ranges[i].lo >= 100 && h->ranges[i].lo <= h->ranges[i].hi &&
			         h->ranges[i].hi <= 599, "range %d-%d from \"%s\"", h->ranges[i].lo,
			         h->ranges[i].hi, f[0]);
		if (strict) {
			FZ_CHECK(h->nranges == nstrict, "\"%s\": %zu ranges, want %zu", f[0], h->nranges,
			         nstrict);
			for (size_t i = 0; i < nstrict; i++)
				FZ_CHECK(h->ranges[i].lo == want[i].lo && h->ranges[i].hi == want[i].hi,
				         "\"%s\": range %zu is %d-%d", f[0], i, h->ranges[i].lo,
				         h->ranges[i].hi);
		}
		FZ_CHECK(h->body_negate == negate && h->body_bytes == bb, "body_negate or body_bytes");
		if (plain == NULL)
			goto done;
		FZ_CHECK(h->body_re != NULL && tc->reply_re != NULL, "pattern not compiled");
		memset(&r, 0, sizeof(r));
		r.mctx = mctx;
		/* http_done: a status in the ranges, then the pattern over the kept body. */
		if (status_in(h->ranges, h->nranges, status))
			(void)match(&r, h->body_re, plain, n > 2 ? f[2] : NULL,
			            blen < (size_t)bb ? blen : (size_t)bb);
		/* tcp_io: after each chunk, the whole reply so far. */
		while (got < blen && got < TCP_REPLY_MAX && m == 0) {
			size_t step = (size_t)chunk;

			if (step > blen - got)
				step = blen - got;
			if (step > TCP_REPLY_MAX - got)
				step = TCP_REPLY_MAX - got;
			got += step;
			m = match(&r, tc->reply_re, plain, f[2], got);
		}
	}
done:
	conf_free(c);
out:
	pcre2_code_free(plain);
	fz_fields_free(f, n);
	return 0;
}
