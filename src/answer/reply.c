/* reply.c: turn a decision into one complete CGI response buffer. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "answer.h"

struct buf {
	char *p;
	size_t len, used;
	int overflow;
};

/* Append n bytes; past the end the buffer only remembers that it overflowed. */
static void
bputn(struct buf *b, const char *s, size_t n)
{
	if (b->overflow || n >= b->len - b->used) {
		b->overflow = 1;
		return;
	}
	memcpy(b->p + b->used, s, n);
	b->used += n;
	b->p[b->used] = '\0';
}

static void
bput(struct buf *b, const char *s)
{
	bputn(b, s, strlen(s));
}

/* Several strings in a row, up to a NULL (no printf: a reply is on every request's path). */
static void
bputs(struct buf *b, ...)
{
	va_list ap;
	const char *s;

	va_start(ap, b);
	while ((s = va_arg(ap, const char *)) != NULL)
		bput(b, s);
	va_end(ap);
}

static void
bnum(struct buf *b, long long v)
{
	char d[24];
	size_t i = sizeof(d);
	unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;

	do {
		d[--i] = (char)('0' + u % 10);
		u /= 10;
	} while (u > 0);
	if (v < 0)
		d[--i] = '-';
	bputn(b, d + i, sizeof(d) - i);
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
	util_iso_time((time_t)d.since, when, sizeof(when));
	bput(b, ",\"checks\":{\"");
	bputn(b, d.name, d.name_len);
	bputs(b, ":status\":[{\"componentType\":\"", dep_kind_str(d.kind), "\",\"status\":\"",
	      verdict_str(d.state), "\",\"time\":\"", when, "\"}]}", (char *)NULL);
}

static void
body_json(struct buf *b, const struct policy_out *o, const struct reply_opts *ro)
{
	char when[32];

	bputs(b, "{\"status\":\"", verdict_str(o->status), "\"", (char *)NULL);
	if (ro->detail == DETAIL_CAUSE) {
		bputs(b, ",\"output\":\"", reason_str(o->reason), "\"", (char *)NULL);
		if (ro->registry != NULL)
			bputs(b, ",\"serviceId\":\"", ro->registry, "\"", (char *)NULL);
		if (o->have_reg) {
			util_iso_time((time_t)o->reg.since, when, sizeof(when));
			bputs(b, ",\"notes\":[\"verdict ", verdict_str(o->reg.verdict), " since ", when,
			      "\"]", (char *)NULL);
		}
		json_checks(b, o, ro);
	}
	bput(b, "}\n");
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
		bputs(&bb, verdict_str(o->status), "\n", (char *)NULL);
	if (bb.overflow)
		return 0;

	bput(&hb, "Status: ");
	bnum(&hb, o->http);
	bputs(&hb, " ", status_text(o->http), "\r\nContent-Type: ",
	      ro->json ? "application/health+json" : "text/plain", "\r\nCache-Control: no-store\r\n",
	      (char *)NULL);
	if (o->http == 405)
		bput(&hb, "Allow: GET, HEAD\r\n");
	bputs(&hb, "X-Deephealth-Status: ", verdict_str(o->status), "\r\nX-Deephealth-Reason: ",
	      reason_str(o->reason), "\r\n", (char *)NULL);
	if (o->age >= 0) {
		bput(&hb, "X-Deephealth-Snapshot-Age: ");
		bnum(&hb, (long long)o->age);
		bput(&hb, "\r\n");
	}
	if (ro->registry != NULL)
		bputs(&hb, "X-Deephealth-Registry: ", ro->registry, "\r\n", (char *)NULL);
	if (ro->source != NULL)
		bputs(&hb, "X-Deephealth-Source: ", ro->source, "\r\n", (char *)NULL);
	if (o->shadow) {
		bput(&hb, "X-Deephealth-Shadow: ");
		bnum(&hb, o->would_http);
		bputs(&hb, " ", verdict_str(o->would_status), " ", reason_str(o->would_reason), "\r\n",
		      (char *)NULL);
	}
	bput(&hb, "Content-Length: ");
	bnum(&hb, (long long)bb.used);
	bput(&hb, "\r\n\r\n");
	if (!ro->head)
		bputn(&hb, body, bb.used);
	return hb.overflow ? 0 : hb.used;
}
