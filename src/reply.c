/* reply.c: turn a decision into one complete CGI response buffer. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "deephealth.h"

struct buf {
	char *p;
	size_t len, used;
	int overflow;
};

static void bprintf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
bprintf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->overflow)
		return;
	va_start(ap, fmt);
	n = vsnprintf(b->p + b->used, b->len - b->used, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= b->len - b->used)
		b->overflow = 1;
	else
		b->used += (size_t)n;
}

static const char *
status_text(int http)
{
	switch (http) {
	case 200: return "OK";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 503: return "Service Unavailable";
	}
	return "Unknown";
}

static void
iso_time(int64_t t, char *out, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL || strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, len, "1970-01-01T00:00:00Z");
}

/* The deciding dependency, when the detail level allows naming it. */
static void
json_checks(struct buf *b, const struct policy_out *o, const struct reply_opts *ro)
{
	struct snap_dep d;
	char when[32];

	if (!o->have_reg || ro->snap == NULL || o->reg.decided_by == SNAP_NO_DEP ||
	    o->reg.decided_by >= snap_dep_count(ro->snap))
		return;
	snap_dep_at(ro->snap, o->reg.decided_by, &d);
	iso_time(d.since, when, sizeof(when));
	bprintf(b,
	        ",\"checks\":{\"%.*s:status\":[{\"componentType\":\"%s\",\"status\":\"%s\","
	        "\"time\":\"%s\"}]}",
	        (int)d.name_len, d.name, dep_kind_str(d.kind), verdict_str(d.state), when);
}

static void
body_json(struct buf *b, const struct policy_out *o, const struct reply_opts *ro)
{
	char when[32];

	bprintf(b, "{\"status\":\"%s\"", verdict_str(o->status));
	if (ro->detail == DETAIL_CAUSE) {
		bprintf(b, ",\"output\":\"%s\"", reason_str(o->reason));
		if (ro->registry != NULL)
			bprintf(b, ",\"serviceId\":\"%s\"", ro->registry);
		if (o->have_reg) {
			iso_time(o->reg.since, when, sizeof(when));
			bprintf(b, ",\"notes\":[\"verdict %s since %s\"]", verdict_str(o->reg.verdict),
			        when);
		}
		json_checks(b, o, ro);
	}
	bprintf(b, "}\n");
}

size_t
reply_format(const struct policy_out *o, const struct reply_opts *ro, char *out, size_t len)
{
	char body[2048];
	struct buf bb = { body, sizeof(body), 0, 0 };
	struct buf hb = { out, len, 0, 0 };

	if (ro->json)
		body_json(&bb, o, ro);
	else
		bprintf(&bb, "%s\n", verdict_str(o->status));
	if (bb.overflow)
		return 0;

	bprintf(&hb, "Status: %d %s\r\n", o->http, status_text(o->http));
	bprintf(&hb, "Content-Type: %s\r\n", ro->json ? "application/health+json" : "text/plain");
	bprintf(&hb, "Cache-Control: no-store\r\n");
	if (o->http == 405)
		bprintf(&hb, "Allow: GET, HEAD\r\n");
	bprintf(&hb, "X-Deephealth-Status: %s\r\n", verdict_str(o->status));
	bprintf(&hb, "X-Deephealth-Reason: %s\r\n", reason_str(o->reason));
	if (o->age >= 0)
		bprintf(&hb, "X-Deephealth-Snapshot-Age: %lld\r\n", (long long)o->age);
	if (ro->registry != NULL)
		bprintf(&hb, "X-Deephealth-Registry: %s\r\n", ro->registry);
	if (o->shadow)
		bprintf(&hb, "X-Deephealth-Shadow: %d %s %s\r\n", o->would_http,
		        verdict_str(o->would_status), reason_str(o->would_reason));
	bprintf(&hb, "Content-Length: %zu\r\n\r\n", bb.used);
	if (!ro->head)
		bprintf(&hb, "%s", body);
	return hb.overflow ? 0 : hb.used;
}
