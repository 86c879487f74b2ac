/*
 * admin.h: the admin side a responder serves beside /health (loopback only, by
 * the web server's allow-list): the status document and the regions document
 * (status.c), the responders' metrics (metrics.c), the events document
 * (events.c).  Built from what a responder sees (answer.h's inputs); nothing
 * here is on the path of a /health answer.  Shared by the responder and
 * deephealthctl (status --json, check), as answer.h is.
 */
#ifndef DH_ADMIN_H
#define DH_ADMIN_H

#include "answer.h"

/* ---------------------------------------------------------------- status.c */

/* What the status document and the metrics are written from (status_input fills it). */
struct status_in {
	const struct answer_state *st;
	const char *conf_path;
	const char *snap_detail;     /* why the snapshot is unusable, or NULL */
	const struct ovr_view *ovr_view; /* the override file's state, or NULL (none) */
	const struct ovr_view *rovr_view; /* the region-wide file's, or NULL (none) */
	time_t now;
	struct counters_shm *ctr;    /* the counters, or NULL (deephealthctl without them) */
	int ctr_shared;
	const char *node;            /* this machine's name */
	const char *query;           /* status: registries whose name contains this (any case) */
	size_t limit;                /* status: at most this many of them */
	const char *registry;        /* status: this registry in detail ("registry"), or NULL */
	int failing;                 /* status: list the registries failing over ("failing_over") */
};
/* The status input of what a responder sees (in; st its answer state) at now: the fields
 * every caller fills alike; the query's are the caller's (limit: STATUS_LIMIT_MAX). */
void status_input(const struct inputs *in, const struct answer_state *st, time_t now,
                  struct status_in *out);

/*
 * Is every answer decided for the whole region now (fail-open, pass-through)?
 * tr gets the decision of a request with no Host.
 */
int status_regionwide(const struct answer_state *st, time_t now, struct answer_trace *tr);
/* How many registries a probe would get 503 for now: what the load balancers are told. */
size_t status_failing_over(const struct answer_state *st, time_t now);
/*
 * The same count, split by why when asked: bydep[i] (nd entries, i a snapshot
 * dependency's index) those answered dependency-failed that dependency decides,
 * *forced those an operator's override fails (override-fail).  A failing one
 * whose snapshot names no deciding dependency (a hand-made snapshot) is only in
 * the total.  bydep and forced may be NULL; each (may be NULL) is called for every one.
 */
typedef void (*status_each_fn)(void *arg, const char *registry, const struct policy_out *po);
size_t status_failing_over_by(const struct answer_state *st, time_t now, size_t *bydep, size_t nd,
                              size_t *forced, status_each_fn each, void *arg);
/* The JSON status document (docs/metrics.md): the status page's and deephealthctl status --json. */
void status_json(FILE *f, const struct status_in *in);
/* The responders' metrics, Prometheus text format 0.0.4; in->ctr required. */
void status_metrics(FILE *f, const struct status_in *in);
/* One override as a JSON object, numbered i + 1 as deephealthctl override list shows it. */
void status_override_json(FILE *f, size_t i, const struct override *v, time_t now);

/* The admin documents a responder serves, by REQUEST_URI path; anything else is a health
 * request (the web server decides which paths reach the responder, and who may ask). */
enum status_doc { DOC_HEALTH, DOC_STATUS, DOC_METRICS, DOC_EVENTS, DOC_REGIONS };
#define STATUS_DOC_PATH "/deephealth/status.json"
#define METRICS_DOC_PATH "/deephealth/metrics"
#define EVENTS_DOC_PATH "/deephealth/events.json"
#define REGIONS_DOC_PATH "/deephealth/regions.json"
/*
 * The regions document: this responder's responder.regions (the regions
 * description) for the global page, or why there is none: rg NULL with err
 * ("" when none is configured).
 */
void status_regions_json(FILE *f, const struct status_in *in, const struct regions *rg,
                         const char *err);
#define STATUS_LIMIT_MAX 1000 /* registries a status document lists at most */
/* The document uri names; *query points after its '?', or is NULL. */
enum status_doc status_route(const char *uri, const char **query);
/* The status document's parameters. */
struct status_q {
	char q[DH_NAME_MAX + 1];        /* a piece of a registry name, "" = every registry */
	char registry[DH_NAME_MAX + 1]; /* a registry to show in detail, "" = none */
	size_t limit;                   /* 1..STATUS_LIMIT_MAX, default 200 */
	int failing;                    /* list the registries a probe gets 503 for */
};
/*
 * The status document's parameters from a query string: q (percent-encoded; a
 * byte no name has becomes '/', which matches nothing; spaces are dropped),
 * registry (the same way), limit, failing=1.  Anything else is ignored.
 */
void status_query(const char *query, struct status_q *sq);

/* ---------------------------------------------------------------- events.c */

#define EVENTS_LIMIT_MAX 1000 /* events one document lists at most */

/* The events document's parameters (docs/metrics.md). */
struct events_q {
	char after[64];              /* the cursor of a previous answer, "" = the latest */
	char registry[DH_NAME_MAX + 1];
	int have_registry;           /* only what concerns registry */
	size_t limit;                /* 1..EVENTS_LIMIT_MAX, default 200 */
};

struct events_in {
	const struct conf *conf;     /* NULL: the configuration did not load */
	const char *node;
	time_t now;
	const struct events_q *q;
};

/* The parameters from a query string (after=, registry=, limit=); anything else is ignored. */
void events_query(const char *query, struct events_q *q);
/*
 * The events document: the event log's events after q->after (oldest first,
 * at most q->limit, and a cursor to ask for the next), or without a cursor the
 * last q->limit.  A cursor of a log since rotated or cut reads the new one from
 * its start ("reset": true).  Reads at most 1 MiB of the log.
 */
void events_json(FILE *f, const struct events_in *in);

#endif /* DH_ADMIN_H */
