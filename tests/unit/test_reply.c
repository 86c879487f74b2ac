/* test_reply.c: the CGI response: status, headers, Content-Length, bodies, causes never leak. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "responder.h"
#include "t.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

#define CREATED ((int64_t)1700000000) /* 2023-11-14T22:13:20Z */
#define SECRET "http://10.1.2.3/secret"

static struct snapshot *snap;

static struct snapshot *
make_snap(void)
{
	struct snap_writer *w = snapw_new(CREATED, 30, 0);
	struct snapshot *s = NULL;
	void *b = NULL;
	size_t len = 0;
	char err[128] = "";

	T_EQ_INT(snapw_add_dep(w, "witness", VERDICT_PASS, DEP_KIND_OTHER, SEV_CRITICAL,
	                       SNAP_DEP_WITNESS, CREATED - 5000, "ok"),
	         0);
	T_EQ_INT(snapw_add_dep(w, "storage-westus2-01", VERDICT_FAIL, DEP_KIND_STORAGE, SEV_CRITICAL,
	                       0, CREATED, "GET " SECRET " timed out"),
	         1);
	T_EQ_INT(snapw_add_reg(w, "contoso", VERDICT_FAIL, 0, 1, CREATED - 60), 0);
	T_EQ_INT(snapw_add_reg(w, "fabrikam", VERDICT_PASS, 0, SNAP_NO_DEP, CREATED - 60), 0);
	T_EQ_INT(snapw_build(w, &b, &len, err, sizeof(err)), 0);
	T_EQ_INT(snap_parse(b, len, (time_t)CREATED, &s, NULL, 0), SNAP_OK);
	free(b);
	snapw_free(w);
	return s;
}

/* Decide for registry "contoso" (failed, decided by the storage account) in the given mode. */
static struct policy_out
decide(enum mode mode, const char *registry)
{
	struct policy_in in = {
		.method_ok = 1,
		.config_ok = 1,
		.mode = mode,
		.snap_state = SNAP_OK,
		.snap = snap,
		.now = (time_t)(CREATED + 42),
		.max_age = 180,
		.host = RESOLVE_FOUND,
		.registry = registry,
		.unknown_host = UNKNOWN_PASS,
	};
	struct policy_out o;

	policy_decide(&in, &o);
	return o;
}

struct reply {
	char buf[4096];
	size_t len;
	const char *body; /* after the blank line, or NULL */
	size_t headlen;   /* through the blank line */
	long clen;        /* Content-Length, or -1 */
};

static void
format(const struct policy_out *o, const struct reply_opts *ro, struct reply *r)
{
	char *end, *cl;

	memset(r->buf, 0, sizeof(r->buf));
	r->len = reply_format(o, ro, r->buf, sizeof(r->buf));
	T_CHECK(r->len > 0);
	T_EQ_INT(r->len, strlen(r->buf));
	end = strstr(r->buf, "\r\n\r\n");
	T_CHECK(end != NULL);
	r->body = end ? end + 4 : NULL;
	r->headlen = end ? (size_t)(end + 4 - r->buf) : 0;
	cl = strstr(r->buf, "\r\nContent-Length: ");
	r->clen = cl && (!end || cl < end) ? strtol(cl + 18, NULL, 10) : -1;
}

/* The header block contains this exact line (CRLF-terminated, not a prefix of another). */
static int
has_header(const struct reply *r, const char *line)
{
	char want[512];
	const char *p;

	snprintf(want, sizeof(want), "\r\n%s\r\n", line);
	p = strstr(r->buf, want);
	return p != NULL && (size_t)(p - r->buf) < r->headlen;
}

static int
has_header_name(const struct reply *r, const char *name)
{
	char want[128];
	const char *p;

	snprintf(want, sizeof(want), "\r\n%s:", name);
	p = strstr(r->buf, want);
	return p != NULL && (size_t)(p - r->buf) < r->headlen;
}

static void
no_secret(const struct reply *r)
{
	T_CHECK(strstr(r->buf, SECRET) == NULL);
	T_CHECK(strstr(r->buf, "10.1.2.3") == NULL);
	T_CHECK(strstr(r->buf, "secret") == NULL);
	T_CHECK(strstr(r->buf, "timed out") == NULL);
}

static void
test_503_text(void)
{
	struct policy_out o = decide(MODE_ENFORCE, "contoso");
	struct reply_opts ro = { .registry = "contoso", .snap = snap };
	struct reply r;

	T_EQ_INT(o.http, 503);
	format(&o, &ro, &r);
	T_CHECK(strncmp(r.buf, "Status: 503 Service Unavailable\r\n", 33) == 0);
	T_CHECK(has_header(&r, "Content-Type: text/plain"));
	T_CHECK(has_header(&r, "Cache-Control: no-store"));
	T_CHECK(has_header(&r, "X-Deephealth-Status: fail"));
	T_CHECK(has_header(&r, "X-Deephealth-Reason: dependency-failed"));
	T_CHECK(has_header(&r, "X-Deephealth-Snapshot-Age: 42"));
	T_CHECK(has_header(&r, "X-Deephealth-Registry: contoso"));
	T_CHECK(!has_header_name(&r, "Allow"));
	T_CHECK(!has_header_name(&r, "X-Deephealth-Shadow"));
	T_CHECK(r.body != NULL);
	if (r.body != NULL) {
		T_EQ_STR(r.body, "fail\n");
		T_EQ_INT(r.clen, (long)strlen(r.body));
	}
	no_secret(&r);
}

/* HEAD: the same headers byte for byte, Content-Length of the body it does not send. */
static void
test_head(void)
{
	struct policy_out o = decide(MODE_ENFORCE, "contoso");
	struct reply_opts ro = { .registry = "contoso", .snap = snap };
	struct reply get, head;

	for (int json = 0; json < 2; json++) {
		for (int detail = DETAIL_STATUS; detail <= DETAIL_CAUSE; detail++) {
			ro.json = json;
			ro.detail = (enum detail)detail;
			ro.head = 0;
			format(&o, &ro, &get);
			ro.head = 1;
			format(&o, &ro, &head);
			T_EQ_INT(head.len, head.headlen);
			T_EQ_INT(head.headlen, get.headlen);
			T_CHECK(memcmp(head.buf, get.buf, get.headlen) == 0);
			T_EQ_INT(head.clen, get.clen);
			T_EQ_INT(get.clen, (long)(get.len - get.headlen));
			T_CHECK(head.clen > 0);
			no_secret(&head);
		}
	}
}

static void
test_no_age(void)
{
	struct policy_out o;
	struct reply_opts ro = { .registry = NULL, .snap = NULL };
	struct policy_in in = {
		.method_ok = 1,
		.config_ok = 1,
		.mode = MODE_ENFORCE,
		.snap_state = SNAP_MISSING,
		.now = (time_t)CREATED,
		.max_age = 180,
		.host = RESOLVE_UNKNOWN,
	};
	struct reply r;

	policy_decide(&in, &o);
	T_EQ_INT(o.age, -1);
	format(&o, &ro, &r);
	T_CHECK(strncmp(r.buf, "Status: 200 OK\r\n", 16) == 0);
	T_CHECK(!has_header_name(&r, "X-Deephealth-Snapshot-Age"));
	T_CHECK(!has_header_name(&r, "X-Deephealth-Registry"));
	T_CHECK(has_header(&r, "X-Deephealth-Reason: snapshot-missing"));
	T_CHECK(has_header(&r, "X-Deephealth-Status: warn"));

	/* Age 0 is an age, and is sent. */
	o.age = 0;
	format(&o, &ro, &r);
	T_CHECK(has_header(&r, "X-Deephealth-Snapshot-Age: 0"));
}

static void
test_405_404(void)
{
	struct policy_out o;
	struct reply_opts ro = { 0 };
	struct reply r;

	memset(&o, 0, sizeof(o));
	o.http = 405;
	o.status = VERDICT_FAIL;
	o.reason = R_BAD_METHOD;
	o.age = -1;
	format(&o, &ro, &r);
	T_CHECK(strncmp(r.buf, "Status: 405 Method Not Allowed\r\n", 32) == 0);
	T_CHECK(has_header(&r, "Allow: GET, HEAD"));
	T_CHECK(has_header(&r, "X-Deephealth-Reason: method-not-allowed"));
	T_EQ_INT(r.clen, (long)(r.len - r.headlen));

	o.http = 404;
	o.reason = R_UNKNOWN_HOST;
	format(&o, &ro, &r);
	T_CHECK(strncmp(r.buf, "Status: 404 Not Found\r\n", 23) == 0);
	T_CHECK(!has_header_name(&r, "Allow"));
}

static void
test_json_status(void)
{
	struct policy_out o = decide(MODE_ENFORCE, "contoso");
	struct reply_opts ro = { .json = 1, .detail = DETAIL_STATUS, .registry = "contoso",
		                 .snap = snap };
	struct reply r;

	format(&o, &ro, &r);
	T_CHECK(has_header(&r, "Content-Type: application/health+json"));
	T_CHECK(r.body != NULL);
	if (r.body != NULL) {
		T_EQ_STR(r.body, "{\"status\":\"fail\"}\n");
		T_EQ_INT(r.clen, (long)strlen(r.body));
	}
	no_secret(&r);
}

static void
test_json_cause(void)
{
	struct policy_out o = decide(MODE_ENFORCE, "contoso");
	struct reply_opts ro = { .json = 1, .detail = DETAIL_CAUSE, .registry = "contoso",
		                 .snap = snap };
	struct reply r;

	format(&o, &ro, &r);
	T_CHECK(r.body != NULL);
	if (r.body == NULL)
		return;
	/* Names the deciding dependency, its kind and state; never its cause. */
	T_CHECK(strstr(r.body, "\"storage-westus2-01:status\"") != NULL);
	T_CHECK(strstr(r.body, "\"componentType\":\"storage\"") != NULL);
	T_CHECK(strstr(r.body, "\"output\":\"dependency-failed\"") != NULL);
	T_CHECK(strstr(r.body, "\"serviceId\":\"contoso\"") != NULL);
	T_CHECK(strstr(r.body, "witness") == NULL);
	T_EQ_STR(r.body,
	         "{\"status\":\"fail\",\"output\":\"dependency-failed\",\"serviceId\":\"contoso\","
	         "\"notes\":[\"verdict fail since 2023-11-14T22:12:20Z\"],"
	         "\"checks\":{\"storage-westus2-01:status\":[{\"componentType\":\"storage\","
	         "\"status\":\"fail\",\"time\":\"2023-11-14T22:13:20Z\"}]}}\n");
	T_EQ_INT(r.clen, (long)strlen(r.body));
	no_secret(&r);

	/* No deciding dependency: no checks object, and still well formed. */
	o = decide(MODE_ENFORCE, "fabrikam");
	ro.registry = "fabrikam";
	format(&o, &ro, &r);
	if (r.body != NULL)
		T_EQ_STR(r.body,
		         "{\"status\":\"pass\",\"output\":\"healthy\",\"serviceId\":\"fabrikam\","
		         "\"notes\":[\"verdict pass since 2023-11-14T22:12:20Z\"]}\n");
	no_secret(&r);
}

static void
test_shadow(void)
{
	struct policy_out o = decide(MODE_SHADOW, "contoso");
	struct reply_opts ro = { .registry = "contoso", .snap = snap };
	struct reply r;

	format(&o, &ro, &r);
	T_CHECK(strncmp(r.buf, "Status: 200 OK\r\n", 16) == 0);
	T_CHECK(has_header(&r, "X-Deephealth-Shadow: 503 fail dependency-failed"));
	T_CHECK(has_header(&r, "X-Deephealth-Status: pass"));
	T_CHECK(has_header(&r, "X-Deephealth-Reason: dependency-failed"));
	no_secret(&r);
	ro.json = 1;
	ro.detail = DETAIL_CAUSE;
	format(&o, &ro, &r);
	T_CHECK(has_header(&r, "X-Deephealth-Shadow: 503 fail dependency-failed"));
	no_secret(&r);
}

/* Too small a buffer gives 0 and never a write past its end. */
static void
test_small_buffers(void)
{
	struct policy_out o = decide(MODE_SHADOW, "contoso");
	struct reply_opts ro = { .json = 1, .detail = DETAIL_CAUSE, .registry = "contoso",
		                 .snap = snap };
	char full[4096], buf[4096 + 16];
	size_t n = reply_format(&o, &ro, full, sizeof(full)), got;
	int bad = 0;

	T_CHECK(n > 0);
	for (size_t size = 0; size <= n + 1; size++) {
		memset(buf, 0x7E, sizeof(buf));
		got = reply_format(&o, &ro, buf, size);
		/* One byte is kept for the NUL. */
		if (got != (size > n ? n : 0))
			bad++;
		for (size_t k = size; k < sizeof(buf); k++)
			if ((unsigned char)buf[k] != 0x7E) {
				bad++;
				break;
			}
		if (got == n && memcmp(buf, full, n) != 0)
			bad++;
	}
	T_EQ_INT(bad, 0);
}

/* The documented bound: the longest names and every optional part still fit in 4096. */
static void
test_worst_case_fits(void)
{
	char reg[DH_NAME_MAX + 1], dep[DH_NAME_MAX + 1], buf[4096];
	struct snap_writer *w = snapw_new(CREATED, 30, 0);
	struct snapshot *s = NULL;
	struct policy_out o;
	struct reply_opts ro = { .json = 1, .detail = DETAIL_CAUSE, .registry = reg };
	void *b = NULL;
	size_t len = 0, n;
	char err[128];

	memset(reg, 'r', DH_NAME_MAX);
	reg[DH_NAME_MAX] = '\0';
	memset(dep, 'd', DH_NAME_MAX);
	dep[DH_NAME_MAX] = '\0';
	T_EQ_INT(snapw_add_dep(w, dep, VERDICT_UNKNOWN, DEP_KIND_CONTAINERS, SEV_CRITICAL, 0,
	                       INT64_MAX, SECRET),
	         0);
	T_EQ_INT(snapw_add_reg(w, reg, VERDICT_FAIL, 0, 0, INT64_MIN), 0);
	T_EQ_INT(snapw_build(w, &b, &len, err, sizeof(err)), 0);
	T_EQ_INT(snap_parse(b, len, (time_t)CREATED, &s, NULL, 0), SNAP_OK);
	if (s == NULL)
		goto out;
	ro.snap = s;
	memset(&o, 0, sizeof(o));
	o.http = 503;
	o.status = VERDICT_UNKNOWN;
	o.reason = R_BAD_METHOD;
	o.shadow = 1;
	o.would_http = 503;
	o.would_status = VERDICT_UNKNOWN;
	o.would_reason = R_BAD_METHOD;
	o.age = INT64_MAX;
	o.have_reg = 1;
	T_EQ_INT(snap_find_reg(s, reg, DH_NAME_MAX, &o.reg), 1);
	n = reply_format(&o, &ro, buf, sizeof(buf));
	T_CHECK(n > 0);
	T_CHECK(strstr(buf, SECRET) == NULL);
out:
	snap_free(s);
	free(b);
	snapw_free(w);
}

int
main(void)
{
	static const struct t_case cases[] = {
		T_CASE(test_503_text),
		T_CASE(test_head),
		T_CASE(test_no_age),
		T_CASE(test_405_404),
		T_CASE(test_json_status),
		T_CASE(test_json_cause),
		T_CASE(test_shadow),
		T_CASE(test_small_buffers),
		T_CASE(test_worst_case_fits),
	};
	int rc;

	snap = make_snap();
	if (snap == NULL) {
		fprintf(stderr, "cannot build the test snapshot\n");
		return 1;
	}
	rc = t_run("reply", cases, NELEM(cases));
	snap_free(snap);
	return rc;
}
