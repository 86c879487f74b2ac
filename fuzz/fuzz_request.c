/*
 * fuzz_request.c: the responder's whole answer, from a request's method,
 * Host, Accept and REQUEST_URI, routed as handle() does: status_route picks a
 * health answer (answer_request) or an admin document (status_json,
 * status_metrics, with status_query's q and limit).  Input:
 * "METHOD\nHOST\nACCEPT\nS\nURI" (NUL works as the separator too; no URI is a
 * health request); the first byte of S picks the world the
 * request meets, all built once: the configuration (enforce with detail
 * "cause", shadow, passthrough, unknown hosts rejected, or none loaded), the
 * snapshot (fresh, stale, blind or guarded, or unusable), overrides, the kill switch and
 * a follower's .fleet.
 *
 * The reply must be a well-formed CGI response: "Status: NNN Text", header
 * lines "Name: value" with nothing but printable ASCII, a blank line, a body
 * of exactly Content-Length bytes (none for HEAD, with the GET's length); the
 * Status agrees with X-Deephealth-Status and -Reason and with the trace; a 405
 * says Allow; a health+json body is valid JSON.  An admin document: q holds
 * only name bytes and '/', limit is 1..STATUS_LIMIT_MAX, the status document
 * is valid JSON, and every metrics line is "# HELP name text", "# TYPE name
 * type" or "name{label=\"value\",...} number".
 */
#define _GNU_SOURCE /* memmem */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "admin.h"
#include "fuzz.h"

#define CREATED 1796000000

enum { W_ENFORCE, W_SHADOW, W_PASSTHROUGH, W_REJECT, NCONF };

static const char conf_fmt[] =
	"snapshot = { path = \"/nonexistent/snapshot\"; max_age = 180; };\n"
	"responder = { mode = \"%s\"; unknown_host = \"%s\"; detail = \"%s\"; };\n"
	"resolver = { host_map = \"hosts.map\"; rules = (\n"
	"  \"^(?<registry>[a-z0-9]{5,50})\\\\.azurecr\\\\.io$\",\n"
	"  \"^(?<registry>[a-z0-9]{5,50})\\\\.[a-z0-9]+\\\\.data\\\\.azurecr\\\\.io$\",\n"
	"  \"^(?<registry>(?:a|aa)+)\\\\.slow\\\\.test$\" ); match_limit = 100; };\n";

static const char hosts_map[] =
	"registry.fabrikam.example fabrikam\n"
	"cr.contoso.example contoso\n"
	"odd.example Odd_Name.v2\n";

static const char ovr_text[] =
	"registry:northwind force-fail until=2026-12-01T00:00:00Z set=2026-11-30T00:00:00Z by=a reason=\"r\"\n"
	"registry:lit* shadow until=2026-12-01T00:00:00Z set=2026-11-30T00:00:00Z by=a reason=\"r\"\n"
	"registry:contoso force-pass until=2026-11-30T00:00:01Z set=2026-11-30T00:00:00Z by=a reason=\"expired\"\n"
	"dependency:storage-sa002 force-pass until=2026-12-01T00:00:00Z set=2026-11-30T00:00:00Z by=a reason=\"r\"\n"
	"dependency:cache force-fail until=2026-12-01T00:00:00Z set=2026-11-30T00:00:00Z by=a reason=\"r\"\n";

static const char fleet_text[] =
	"deephealth-fleet 1\ndecided freshest prober-1:8080\nsource prober-1:8080 fresh 1796000000\n";

static struct conf *confs[NCONF];
static struct snapshot *snap_ok, *snap_blind, *snap_guard;
static struct overrides *ovr;
static struct fleet fleet;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct snapshot *
build_snapshot(unsigned flags)
{
	struct snap_writer *w = snapw_new(CREATED, 10, flags);
	struct snapshot *s = NULL;
	uint32_t u_sa1[] = { 0 }, u_sa2[] = { 1 }, u_both[] = { 1, 0 };
	char err[256];
	void *buf;
	size_t len;

	snapw_add_dep(w, "storage-sa001", VERDICT_PASS, DEP_KIND_STORAGE, SEV_CRITICAL, 0,
	              CREATED - 600, "");
	snapw_add_dep(w, "storage-sa002", VERDICT_FAIL, DEP_KIND_STORAGE, SEV_CRITICAL, 0,
	              CREATED - 300, "HTTP 503");
	snapw_add_dep(w, "cache", VERDICT_WARN, DEP_KIND_CACHE, SEV_DEGRADED, SNAP_DEP_ALL,
	              CREATED - 120, "slow");
	snapw_add_dep(w, "auth", VERDICT_PASS, DEP_KIND_AUTH, SEV_CRITICAL,
	              SNAP_DEP_ALL | SNAP_DEP_WITNESS, CREATED - 9000, "");
	snapw_add_reg(w, "contoso", VERDICT_WARN, 0, 2, CREATED - 120);
	snapw_set_uses(w, u_sa1, 1);
	snapw_add_reg(w, "fabrikam", VERDICT_FAIL, 0, 1, CREATED - 300);
	snapw_set_uses(w, u_sa2, 1);
	snapw_add_reg(w, "litware", VERDICT_FAIL, 0, 1, CREATED - 300);
	snapw_set_uses(w, u_both, 2);
	snapw_add_reg(w, "northwind", VERDICT_FAIL, SNAP_REG_SINGLE_REGION, 1, CREATED - 300);
	snapw_add_reg(w, "Odd_Name.v2", VERDICT_PASS, 0, SNAP_NO_DEP, CREATED - 5);
	snapw_add_reg(w, "tailspin", VERDICT_PASS, 0, SNAP_NO_DEP, CREATED - 5);
	if (snapw_build(w, &buf, &len, err, sizeof(err)) != 0 ||
	    snap_parse(buf, len, CREATED, &s, err, sizeof(err)) != SNAP_OK)
		fz_die("harness snapshot: %s", err);
	free(buf);
	snapw_free(w);
	return s;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char *const modes[NCONF][3] = {
		{ "enforce", "pass", "cause" }, { "shadow", "pass", "status" },
		{ "passthrough", "pass", "cause" }, { "enforce", "reject", "cause" },
	};
	static const struct conf_ext *const exts[] = { &resolver_conf, NULL };
	char path[4200], text[2048], err[256];
	int errors = 0;

	(void)argc;
	(void)argv;
	log_init("fuzz_request", 0, LOG_LVL_ERR);
	fz_write(fz_path("hosts.map", path, sizeof(path)), hosts_map, sizeof(hosts_map) - 1);
	for (int i = 0; i < NCONF; i++) {
		int n = snprintf(text, sizeof(text), conf_fmt, modes[i][0], modes[i][1], modes[i][2]);

		fz_write(fz_path("deephealth.conf", path, sizeof(path)), text, (size_t)n);
		if ((confs[i] = conf_load(path, exts, fz_errfn, &errors)) == NULL)
			fz_die("harness configuration %d does not load", i);
	}
	snap_ok = build_snapshot(0);
	snap_blind = build_snapshot(SNAP_FLAG_BLIND);
	snap_guard = build_snapshot(SNAP_FLAG_GUARD);
	if (ovr_parse("overrides", ovr_text, sizeof(ovr_text) - 1, 604800, &ovr, fz_errfn,
	              &errors) != 0)
		fz_die("harness overrides do not parse");
	fz_write(fz_path("snap.fleet", path, sizeof(path)), fleet_text, sizeof(fleet_text) - 1);
	if (fleet_load(fz_path("snap", path, sizeof(path)), &fleet, err, sizeof(err)) != 1)
		fz_die("harness fleet: %s", err);
	return 0;
}

/* The value of header name in the header block h (len bytes), or NULL; *n its length. */
static const char *
header(const char *h, size_t len, const char *name, size_t *n, int *count)
{
	const char *found = NULL;
	size_t nl = strlen(name);

	*count = 0;
	for (const char *p = h; p < h + len;) {
		const char *eol = memmem(p, (size_t)(h + len - p), "\r\n", 2);
		size_t ll = eol ? (size_t)(eol - p) : (size_t)(h + len - p);

		if (ll > nl + 2 && strncasecmp(p, name, nl) == 0 && p[nl] == ':' && p[nl + 1] == ' ') {
			found = p + nl + 2;
			*n = ll - nl - 2;
			(*count)++;
		}
		p += ll + 2;
	}
	return found;
}

static int
is_token(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

/* Check one reply; returns the header block's length (up to the blank line). */
static size_t
check_reply(const char *r, size_t len, const struct answer_trace *tr, int head, int json,
            size_t *body_len, long *content_length)
{
	const char *end = memmem(r, len, "\r\n\r\n", 4), *v;
	size_t hlen, n;
	int count;
	char code[4];

	FZ_CHECK(len > 0 && len < 4096, "reply length %zu", len);
	FZ_CHECK(memchr(r, '\0', len) == NULL, "NUL in the reply");
	FZ_CHECK(len > 13 && memcmp(r, "Status: ", 8) == 0, "reply does not start with Status");
	FZ_CHECK(end != NULL, "no blank line after the headers");
	hlen = (size_t)(end - r) + 2;
	*body_len = len - hlen - 2;
	/* Header lines: Name: value, printable ASCII, CRLF-terminated. */
	for (const char *p = r; p < r + hlen;) {
		const char *eol = memmem(p, (size_t)(r + hlen - p), "\r\n", 2), *q = p;

		FZ_CHECK(eol != NULL, "a header line without CRLF");
		while (q < eol && is_token(*q))
			q++;
		FZ_CHECK(q > p && q + 1 < eol && q[0] == ':' && q[1] == ' ', "bad header line: %.*s",
		         (int)(eol - p), p);
		for (q += 2; q < eol; q++)
			FZ_CHECK(*q >= 0x20 && *q <= 0x7e, "control or 8-bit byte in a header value");
		p = eol + 2;
	}
	memcpy(code, r + 8, 3);
	code[3] = '\0';
	FZ_CHECK(atoi(code) == tr->po.http && r[11] == ' ', "Status %s, trace says %d", code,
	         tr->po.http);
	FZ_CHECK(tr->po.http == 200 || tr->po.http == 404 || tr->po.http == 405 || tr->po.http == 503,
	         "HTTP %d", tr->po.http);
	FZ_CHECK((tr->po.http == 200) == (tr->po.status != VERDICT_FAIL),
	         "HTTP %d with status %s", tr->po.http, verdict_str(tr->po.status));
	v = header(r, hlen, "X-Deephealth-Status", &n, &count);
	FZ_CHECK(v && count == 1 && n == strlen(verdict_str(tr->po.status)) &&
	         memcmp(v, verdict_str(tr->po.status), n) == 0, "X-Deephealth-Status");
	v = header(r, hlen, "X-Deephealth-Reason", &n, &count);
	FZ_CHECK(v && count == 1 && n == strlen(reason_str(tr->po.reason)) &&
	         memcmp(v, reason_str(tr->po.reason), n) == 0 &&
	         strcmp(reason_str(tr->po.reason), "?") != 0, "X-Deephealth-Reason");
	v = header(r, hlen, "Allow", &n, &count);
	FZ_CHECK((tr->po.http == 405) == (v != NULL), "Allow with HTTP %d", tr->po.http);
	v = header(r, hlen, "X-Deephealth-Registry", &n, &count);
	FZ_CHECK(v == NULL || (count == 1 && util_name_ok(v, n)), "X-Deephealth-Registry");
	v = header(r, hlen, "Content-Type", &n, &count);
	FZ_CHECK(v && count == 1, "Content-Type");
	v = header(r, hlen, "Content-Length", &n, &count);
	FZ_CHECK(v && count == 1 && n > 0 && n < 6 && strspn(v, "0123456789") >= n,
	         "Content-Length missing or malformed");
	*content_length = strtol(v, NULL, 10);
	if (head)
		FZ_CHECK(*body_len == 0, "HEAD with a body of %zu bytes", *body_len);
	else
		FZ_CHECK(*content_length == (long)*body_len, "Content-Length %ld, body %zu",
		         *content_length, *body_len);
	if (json && !head)
		FZ_CHECK(fz_json_ok(r + hlen + 2, *body_len), "health+json body is not JSON: %.*s",
		         (int)*body_len, r + hlen + 2);
	return hlen;
}

static int
metric_name_byte(int c, int first)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
	       (!first && c >= '0' && c <= '9');
}

/* One line of the Prometheus text format as status_metrics writes it. */
static int
metric_line_ok(const char *p, const char *end)
{
	const char *q = p;
	char num[64], *e;
	size_t n;

	if (end - p > 7 && (memcmp(p, "# HELP ", 7) == 0 || memcmp(p, "# TYPE ", 7) == 0)) {
		for (q = p + 7; q < end && *q != ' '; q++)
			if (!metric_name_byte((unsigned char)*q, q == p + 7))
				return 0;
		return q > p + 7 && q + 1 < end;
	}
	for (; q < end && metric_name_byte((unsigned char)*q, q == p); q++)
		;
	if (q == p)
		return 0;
	if (q < end && *q == '{') {
		for (q++;;) {
			const char *l = q;

			while (q < end && metric_name_byte((unsigned char)*q, q == l))
				q++;
			if (q == l || q + 1 >= end || q[0] != '=' || q[1] != '"')
				return 0;
			for (q += 2; q < end && *q != '"'; q++) {
				if (*q == '\\' && q + 1 < end && (q[1] == '\\' || q[1] == '"' || q[1] == 'n'))
					q++;
				else if (*q == '\\')
					return 0;
			}
			if (q >= end)
				return 0;
			q++;
			if (q < end && *q == ',') {
				q++;
				continue;
			}
			if (q < end && *q == '}') {
				q++;
				break;
			}
			return 0;
		}
	}
	if (q >= end || *q != ' ')
		return 0;
	n = (size_t)(end - q - 1);
	if (n == 0 || n >= sizeof(num))
		return 0;
	memcpy(num, q + 1, n);
	num[n] = '\0';
	(void)strtod(num, &e);
	return *e == '\0';
}

/* An admin document, as serve_doc builds it. */
static void
check_doc(enum status_doc doc, const struct answer_state *st, const char *query, time_t now)
{
	static struct counters_shm ctr;
	struct status_in in;
	struct status_q sq;
	char *body = NULL;
	size_t blen = 0;
	FILE *m;

	memset(&in, 0, sizeof(in));
	in.st = st;
	in.conf_path = st->conf ? st->conf->path : "";
	in.snap_detail = st->snap_err != SNAP_OK ? "fuzz" : "";
	in.now = now;
	in.ctr = &ctr;
	in.ctr_shared = 1;
	in.node = "fuzz-node";
	status_query(query, &sq);
	in.query = sq.q;
	in.limit = sq.limit;
	in.registry = sq.registry[0] != '\0' ? sq.registry : NULL;
	in.failing = sq.failing;
	for (const char *c = sq.registry; *c != '\0'; c++)
		FZ_CHECK(*c == '/' || util_is_name_byte((unsigned char)*c), "registry holds %#x", *c);
	FZ_CHECK(strlen(sq.q) < sizeof(sq.q), "q overflows");
	for (const char *c = sq.q; *c != '\0'; c++)
		FZ_CHECK(*c == '/' || util_is_name_byte((unsigned char)*c), "q holds %#x", *c);
	FZ_CHECK(in.limit >= 1 && in.limit <= STATUS_LIMIT_MAX, "limit %zu", in.limit);
	m = open_memstream(&body, &blen);
	FZ_CHECK(m != NULL, "open_memstream");
	if (doc == DOC_STATUS) {
		status_json(m, &in);
	} else if (doc == DOC_METRICS) {
		status_metrics(m, &in);
	} else if (doc == DOC_EVENTS) {
		struct events_q eq;

		events_query(query, &eq);
		FZ_CHECK(eq.limit >= 1 && eq.limit <= EVENTS_LIMIT_MAX, "events limit %zu", eq.limit);
		for (const char *c = eq.registry; *c != '\0'; c++)
			FZ_CHECK(*c == '/' || util_is_name_byte((unsigned char)*c), "registry= holds %#x", *c);
		events_json(m, &(struct events_in){ st->conf, "fuzz-node", now, &eq });
	} else {
		status_regions_json(m, &in, NULL, "fuzz");
	}
	FZ_CHECK(fclose(m) == 0, "building the document");
	if (doc != DOC_METRICS) {
		FZ_CHECK(fz_json_ok(body, blen), "document %d is not JSON: %.*s", (int)doc, (int)blen, body);
	} else {
		FZ_CHECK(blen > 0 && body[blen - 1] == '\n', "metrics do not end with a newline");
		for (const char *p = body; p < body + blen;) {
			const char *eol = memchr(p, '\n', (size_t)(body + blen - p));

			FZ_CHECK(metric_line_ok(p, eol), "bad metrics line: %.*s", (int)(eol - p), p);
			p = eol + 1;
		}
	}
	free(body);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *f[5], out[4096], out2[4096];
	size_t n = fz_split(data, size, "\n", f, 5), len, len2, blen, blen2, hlen, hlen2;
	unsigned sel = n > 3 && f[3][0] != '\0' ? (unsigned char)f[3][0] : 0;
	struct answer_state st = { 0 };
	struct answer_trace tr, tr2;
	const char *method = n > 0 ? f[0] : NULL, *host = n > 1 ? f[1] : NULL;
	const char *accept = n > 2 ? f[2] : NULL;
	time_t now = CREATED + 30;
	long cl, cl2;
	int json, head;

	/* An absent field is a missing parameter. */
	if (method && method[0] == '\0' && n == 1)
		method = NULL;
	st.conf = (sel & 7) < NCONF ? confs[sel & 7] : NULL;
	switch ((sel >> 3) & 3) {
	case 0:
		st.snap = snap_ok;
		break;
	case 1:
		st.snap = snap_ok;
		now = CREATED + 100000;
		break;
	case 2:
		/* S's second byte, odd: the prober's failover guard holds instead. */
		st.snap = n > 3 && f[3][0] != '\0' && ((unsigned char)f[3][1] & 1) ? snap_guard : snap_blind;
		break;
	default:
		st.snap_err = (sel & 0x20) ? SNAP_MISSING : SNAP_BAD_CHECKSUM;
		break;
	}
	if ((sel >> 3 & 3) != 3)
		st.ovr = (sel & 0x20) ? ovr : NULL;
	st.kill_switch = (sel & 0x40) != 0;
	st.fleet = (sel & 0x80) ? &fleet : NULL;

	/* handle(): an admin path asked with GET or HEAD is a document, not an answer. */
	if (n > 4 && method != NULL && (!strcmp(method, "GET") || !strcmp(method, "HEAD"))) {
		const char *query;
		enum status_doc doc = status_route(f[4], &query);

		if (doc != DOC_HEALTH) {
			check_doc(doc, &st, query, now);
			fz_fields_free(f, n);
			return 0;
		}
	}
	len = answer_request(&st, method, host, accept, now, &tr, out, sizeof(out));
	json = accept != NULL && strstr(accept, "application/health+json") != NULL;
	head = method != NULL && strcmp(method, "HEAD") == 0;
	FZ_CHECK((method && (!strcmp(method, "GET") || head)) == (tr.po.http != 405),
	         "method \"%s\" answered %d", method ? method : "(null)", tr.po.http);
	if (getenv("FUZZ_VERBOSE") != NULL)
		fprintf(stderr, "world %#x, reply:\n%.*s\n", sel, (int)len, out);
	hlen = check_reply(out, len, &tr, head, json, &blen, &cl);
	if (head) {
		/* The same headers as the GET, Content-Length included. */
		len2 = answer_request(&st, "GET", host, accept, now, &tr2, out2, sizeof(out2));
		hlen2 = check_reply(out2, len2, &tr2, 0, json, &blen2, &cl2);
		FZ_CHECK(hlen == hlen2 && memcmp(out, out2, hlen) == 0 && cl == cl2,
		         "HEAD and GET headers differ");
	}
	fz_fields_free(f, n);
	return 0;
}
