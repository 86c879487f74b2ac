/*
 * answer.h: how a request becomes an answer: the Host resolved to a registry
 * (resolve.c), the decision (policy.c), the reply (reply.c), and the one
 * function that chains them (answer.c).  Shared by the responder, which
 * serves the answers, and deephealthctl, whose explain must give the same.
 */
#ifndef DH_ANSWER_H
#define DH_ANSWER_H

#include <stdatomic.h>

#include "deephealth.h"

/* ---------------------------------------------------------------- resolve.c */

/* Why a Host header was not turned into a registry. */
enum host_err {
	HOST_OK = 0,
	HOST_EMPTY,     /* absent, empty, or only a port / dot */
	HOST_TOO_LONG,  /* more than DH_HOST_MAX bytes after normalization */
	HOST_BAD_BYTE,  /* a byte outside the hostname alphabet (NUL, CR, LF, 8-bit...) */
	HOST_BAD_PORT,  /* ":" followed by something that is not 1-5 digits */
	HOST_IP_LITERAL /* "[v6]" literal: never a registry */
};
const char *host_err_str(enum host_err e);

/*
 * Normalize a raw Host header value into out (size >= DH_HOST_MAX + 1):
 * lowercase ASCII, one trailing dot and a ":port" suffix removed.  raw may be
 * NULL (no header).  Returns HOST_OK and sets *outlen, or a classified error
 * (out is then unspecified).  Pure; never allocates.
 */
enum host_err host_normalize(const char *raw, char *out, size_t *outlen);

/* How a resolution ended. */
enum resolve_result {
	RESOLVE_FOUND,    /* registry set */
	RESOLVE_UNKNOWN,  /* well-formed host, no map entry and no rule matched */
	RESOLVE_INVALID,  /* host failed normalization */
	RESOLVE_ERROR     /* a rule could not decide (match limit, PCRE2 error) */
};
const char *resolve_result_str(enum resolve_result r);

struct resolver;

/*
 * Build an empty resolver.  match_limit bounds every PCRE2 match (PCRE2's own
 * counter: backtracks for the interpreter, calls for JIT).
 */
struct resolver *resolver_new(uint32_t match_limit, uint32_t depth_limit);
void resolver_free(struct resolver *r); /* NULL is fine */

/*
 * Add an exact mapping host -> registry.  host must already be normalized.
 * Returns 0, or -1 if host is already mapped (existing mapping kept).
 * Copies both strings.
 */
int resolver_add_host(struct resolver *r, const char *host, const char *registry);
size_t resolver_host_count(const struct resolver *r);
/* Entry i (< resolver_host_count) of the host map: its host, registry and line in the file. */
void resolver_host_at(const struct resolver *r, size_t i, const char **host, const char **registry,
                      unsigned *line);

/*
 * Append a PCRE2 rule; it must contain a named group "registry".  Rules are
 * tried in the order added, after the exact map.  On error returns -1 and
 * writes a one-line reason into err (message, offset).
 */
int resolver_add_rule(struct resolver *r, const char *pattern, char *err, size_t errlen);
size_t resolver_rule_count(const struct resolver *r);
/*
 * The literal every match of pattern must end with (for example ".azurecr.io"
 * from "^(?<registry>[a-z0-9]+)\\.azurecr\\.io$"), written to out; returns its
 * length, 0 when the pattern has none or is too clever to tell.  The lookup
 * skips a rule whose suffix the host does not end with.
 */
size_t resolver_rule_suffix(const char *pattern, char *out, size_t outsize);

/* The resolver section as a conf_load extension: builds conf->resolver. */
extern const struct conf_ext resolver_conf;

/*
 * Load "host registry" lines from path into the exact map.  Every bad line is
 * reported through errfn as "path:line: message"; returns the number of
 * errors (0 = loaded).  Lines: '#' comments, blank lines ignored.
 */
int resolver_load_map(struct resolver *r, const char *path, errfn_t errfn, void *arg);

/*
 * Resolve a raw Host header.  On RESOLVE_FOUND, registry (size >=
 * DH_NAME_MAX + 1) holds the registry name.  host_out (size >= DH_HOST_MAX +
 * 1) receives the normalized host when it is valid.  *herr says why a host
 * was invalid.  Allocates nothing.
 */
enum resolve_result resolver_lookup(struct resolver *r, const char *raw_host, char *host_out,
                                    char *registry, enum host_err *herr);
/* The same, and *via: -1 when the host map decided, else the index of the rule that did. */
enum resolve_result resolver_resolve(struct resolver *r, const char *raw_host, char *host_out,
                                     char *registry, enum host_err *herr, int *via);

/* ---------------------------------------------------------------- policy.c */

/* Every answer's cause; the X-Deephealth-Reason header. */
enum reason {
	R_CONFIG_ERROR, R_PASSTHROUGH, R_SNAPSHOT_MISSING, R_SNAPSHOT_UNREADABLE, R_SNAPSHOT_CORRUPT,
	R_SNAPSHOT_STALE,
	R_PROBER_BLIND, R_UNKNOWN_HOST, R_UNKNOWN_REGISTRY, R_SINGLE_REGION, R_HEALTHY,
	R_DEGRADED, R_DEPENDENCY_FAILED, R_BAD_METHOD, R_OVERRIDE_PASS, R_OVERRIDE_FAIL,
	R_GUARD,                    /* the prober's failover guard holds (after R_PROBER_BLIND) */
	R_COUNT
};
const char *reason_str(enum reason r);
/*
 * Is r decided for the whole region, whatever the Host (the configuration, the
 * kill switch, the snapshot: every fail-open and pass-through reason, and the
 * prober's failover guard)?
 */
int reason_is_regionwide(enum reason r);

/* An answer an operator's override forces (deephealthctl override). */
enum force { FORCE_NONE = 0, FORCE_PASS, FORCE_FAIL };

/* Everything a decision depends on, gathered by the caller. */
struct policy_in {
	int method_ok;              /* GET or HEAD: anything else is 405 whatever else holds */
	int config_ok;
	enum mode mode;             /* after a mode override (enforce, shadow) for this registry */
	enum force force;           /* an override forcing the answer */
	const struct overrides *ovr;/* dependency overrides (force a dependency's state), or NULL */
	int kill_switch;            /* kill-switch file present */
	enum snap_err snap_state;   /* SNAP_OK or why the snapshot is unusable */
	const struct snapshot *snap;/* valid when snap_state == SNAP_OK */
	time_t now;
	int max_age;
	enum resolve_result host;   /* how the Host resolved */
	const char *registry;       /* when host == RESOLVE_FOUND */
	enum unknown_action unknown_host;
};

struct policy_out {
	int http;                  /* status code sent */
	enum verdict status;       /* X-Deephealth-Status, agrees with http */
	enum reason reason;
	/* shadow mode: what enforce would have answered */
	int shadow;
	int would_http;
	enum verdict would_status;
	enum reason would_reason;
	int64_t age;               /* snapshot age in seconds, -1 when none */
	int have_reg;              /* reg is filled */
	struct snap_reg reg;
};

/* Pure decision: the order documented in README "Response contract". */
void policy_decide(const struct policy_in *in, struct policy_out *out);

/* ---------------------------------------------------------------- reply.c */

/* What the answer looks like, beyond the decision itself. */
struct reply_opts {
	int head;                    /* HEAD: headers only, same Content-Length */
	int json;                    /* client accepts application/health+json */
	enum detail detail;          /* how much the JSON body says */
	const char *registry;        /* resolved registry name or NULL */
	const struct snapshot *snap; /* for the deciding dependency, or NULL */
	const char *source;          /* a follower's: what decided the snapshot (X-Deephealth-Source), or NULL */
};

/*
 * Format a complete CGI response (Status line, headers, body) for o into
 * out.  Returns the length, or 0 if out is too small (4096 always suffices).
 * Pure: no I/O, no allocation.  Names from the snapshot and registry are
 * restricted to [A-Za-z0-9._-], so they need no escaping.
 */
size_t reply_format(const struct policy_out *o, const struct reply_opts *ro, char *out,
                    size_t len);

/* ---------------------------------------------------------------- answer.c */

/* What a responder knows when a request comes: its configuration, snapshot and kill switch. */
struct answer_state {
	const struct conf *conf;     /* NULL: the configuration did not load */
	const struct snapshot *snap; /* when snap_err == SNAP_OK */
	enum snap_err snap_err;
	int kill_switch;
	const struct overrides *ovr; /* the operator's overrides, NULL for none */
	const struct fleet *fleet;   /* what a follower said of the snapshot, or NULL */
};

/* How one request was answered, step by step. */
struct answer_trace {
	int resolved;                     /* the Host was looked at (a GET or HEAD, config loaded) */
	enum resolve_result result;
	enum host_err herr;               /* why the Host was invalid */
	int via;                          /* RESOLVE_FOUND: -1 the host map, else the rule's index */
	char host[DH_HOST_MAX + 1];       /* normalized, when valid */
	char registry[DH_NAME_MAX + 1];   /* when found */
	const struct override *force;     /* the override that forced the answer, or NULL */
	const struct override *mode;      /* the one that set the mode, or NULL */
	struct policy_out po;             /* the decision */
};

/*
 * Answer one request (method, Host and Accept as received; any may be NULL)
 * from st at time now: resolve, decide, format into out.  Returns the reply's
 * length, 0 if out is too small (4096 always suffices).  Allocates nothing.
 */
size_t answer_request(const struct answer_state *st, const char *method, const char *raw_host,
                      const char *accept, time_t now, struct answer_trace *tr, char *out,
                      size_t len);

/*
 * The HTTP code a probe naming registry would get from st at time now (the
 * same decision, without a Host to resolve); the whole decision in *out
 * unless it is NULL.
 */
int answer_registry(const struct answer_state *st, const char *registry, time_t now,
                    struct policy_out *out);

/*
 * Is the kill switch at path on?  Only "does not exist" means off; a file that
 * cannot be checked counts as present (fail open), with the error in *err.
 */
int answer_kill_switch(const char *path, int *err);

/* ---------------------------------------------------------------- counters.c */

/* Why a Host named no registry, as counted: unknown, each kind of invalid, undecided. */
enum host_kind {
	HK_UNKNOWN, HK_EMPTY, HK_TOO_LONG, HK_BAD_BYTE, HK_BAD_PORT, HK_IP_LITERAL,
	HK_RESOLVER_ERROR, HK_COUNT
};
extern const char *const host_kind_names[];
enum host_kind host_kind_of(enum resolve_result r, enum host_err e);

/* What else the responders count. */
enum counter_event {
	CE_SNAP_LOADS, CE_SNAP_LOAD_FAILURES, CE_STATUS_REQUESTS, CE_METRICS_REQUESTS,
	CE_EVENTS_REQUESTS, CE_REGIONS_REQUESTS, CE_COUNT
};

#define CTR_CODES 4 /* the HTTP codes an answer can have: answer_codes[] */
extern const int answer_codes[CTR_CODES];
#define CTR_RING 16 /* minutes remembered for rates */

struct counters_minute {
	_Atomic int64_t minute;        /* Unix time / 60 of the first answer noted here */
	_Atomic int64_t at;            /* its Unix time */
	_Atomic uint64_t unknown_at;   /* hosts[HK_UNKNOWN] then */
};

/* The shared file's layout, as mapped (host byte order: one machine's processes). */
struct counters_shm {
	char magic[8];
	uint32_t version, size;
	int64_t created;               /* Unix time the file was made: the counts start there */
	_Atomic uint64_t answers[R_COUNT][CTR_CODES];
	_Atomic uint64_t hosts[HK_COUNT];
	_Atomic uint64_t events[CE_COUNT];
	struct counters_minute ring[CTR_RING];
};

/* One process's handle on the counters. */
struct counters {
	struct counters_shm *m;  /* always mapped once counters_open ran */
	int shared;              /* m is the file's, not this process's own */
	int warned;
	struct file_id id;
};

/*
 * Map the counters file at path (created when missing), or, when it cannot
 * be used (logged once), private memory.  path NULL or "": private.
 */
void counters_open(struct counters *c, const char *path);
/* Notice a counters file removed or replaced since it was mapped (a stat(2)); map the new one. */
void counters_check(struct counters *c, const char *path);
void counters_close(struct counters *c);
/* Count an answer (its reason and HTTP code) at Unix time now; a Host that named nothing; an event. */
void counters_answer(struct counters *c, enum reason r, int http, int64_t now);
void counters_host(struct counters *c, enum host_kind k);
void counters_event(struct counters *c, enum counter_event e);
/* One count's value. */
uint64_t counters_get(_Atomic uint64_t *x);
/* A copy of the counters file at path, read only: 0, or -1 with the reason in err. */
int counters_read(const char *path, struct counters_shm *out, char *err, size_t errlen);
/* Unknown Hosts per minute over the last window_min minutes (1..15) before now, from m's ring. */
double counters_unknown_rate(struct counters_shm *m, int64_t now, int window_min);

/* ---------------------------------------------------------------- status.c */

/* What the status document and the metrics are written from. */
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

#endif /* DH_ANSWER_H */
