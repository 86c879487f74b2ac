/* ctl.h: what deephealthctl's commands share (src/ctl/deephealthctl.c: main, loading, helpers;
 * one cmd_NAME.c per command). */
#ifndef DH_CTL_H
#define DH_CTL_H

#include <stdio.h>
#include <time.h>

#include "admin.h"

/* Exit codes, also in deephealthctl(8). */
enum {
	CTL_EXIT_OK = 0,
	CTL_EXIT_CONFIG = 1,   /* the configuration did not load (what the responder then answers is still shown) */
	CTL_EXIT_USAGE = 2,
	CTL_EXIT_FAILOPEN = 3  /* status: the region answers 200 for every registry (fail-open or pass-through) */
};

struct ctl {
	const char *conf_path;
	int json;
	struct inputs in;            /* what a responder sees: the one loader (inputs.c) */
	time_t now;
	struct answer_state st;      /* the answer state of in */
};

/* The usage text on f, then exit with code. */
_Noreturn void ctl_usage(FILE *f, int code);
/* A usage error: "deephealthctl: MESSAGE (see deephealthctl -h)" on stderr, then exit 2. */
_Noreturn void ctl_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* x->st.ovr (and x->in.ovr_all) again from the two override files' views. */
void ctl_union(struct ctl *x);
/* The configuration's errors on stderr as file:line: message, as with -t. */
void ctl_errfn(void *arg, const char *fmt, ...);
/* What a responder would see now (inputs_open and one inputs_refresh, as a responder's). */
void ctl_load(struct ctl *x);
void ctl_free(struct ctl *x);
/* "59m 59s", "1h 59m", "2d 3h": an age for a person, in buf (util_span). */
const char *span(int64_t s, char *buf, size_t len);
/* A JSON string value of s (len bytes), quoted, on stdout. */
void jstr(const char *s, size_t len);
/* Override i of the list (numbered i + 1), as text or JSON, on stdout (cmd_override.c). */
void override_print(const struct ctl *x, size_t i, const struct override *v, int json);

/* ---------------------------------------------------------------- http.c */

/* One GET: what to ask, and what came back. */
struct http_get {
	char url[600];
	const char *host;            /* the Host header, or NULL (the URL's) */
	long timeout_ms;
	size_t max_body;             /* keep at most this much of the body; 0: none */
	long code;                   /* the HTTP status, 0 when no answer (err says why) */
	char err[160];
	char *body;                  /* NUL-terminated, len bytes, or NULL */
	size_t len, cap;
	int too_large;
	int64_t ms;                  /* how long it took */
	/* the answer's X-Deephealth-* headers, "" when absent */
	char status[16], reason[64], registry[DH_NAME_MAX + 1], source[160], age[24];
};
/* Run every GET of v at once (libcurl multi, no proxy); 0, or -1 when libcurl failed as a whole. */
int http_get_all(struct http_get *v, size_t n);
void http_get_free(struct http_get *v, size_t n);
/* "http://ADDR:PORT/path", with brackets for an IPv6 address. */
void http_url(char *out, size_t len, const char *addr, int port, const char *path);

/* The commands: each returns the exit status. */
int cmd_status(struct ctl *x);
int cmd_explain(struct ctl *x, int argc, char **argv);
int cmd_override(struct ctl *x, int argc, char **argv);
int cmd_history(struct ctl *x, int argc, char **argv);
int cmd_check(struct ctl *x, int argc, char **argv);
int cmd_budget(struct ctl *x, int argc, char **argv);
int cmd_lb(struct ctl *x, int argc, char **argv);
int cmd_where(struct ctl *x, int argc, char **argv);
/* history registry:NAME --regions: every region's events of registry (its admin side's
 * events.json), merged oldest first, from since (seconds, -1: all) (cmd_where.c). */
int where_history(struct ctl *x, const char *registry, const char *regions_path, int64_t since);

#endif
