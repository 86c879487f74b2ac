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

/* ---------------------------------------------------------------- inputs.c */

/*
 * What a responder sees besides the request, loaded by one loader for the
 * responder (serving: kept fresh, every change logged, counters mapped to
 * count into) and deephealthctl (a look: nothing logged, a copy of the
 * counters), so explain and the answer come from the same struct.
 */
struct inputs {
	const char *conf_path;
	struct conf *conf;           /* NULL: the configuration did not load */
	int serving;
	struct snapshot *snap;       /* NULL unless snap_err == SNAP_OK */
	enum snap_err snap_err;
	char snap_detail[256];       /* why the snapshot is unusable */
	struct file_id snap_id;
	int have_id;
	int snap_seen;               /* a first look has been logged */
	int snap_starved;            /* a load failed for want of descriptors or memory */
	int kill_switch, kill_err;
	struct ovr_watch ovr;        /* this node's override file (or its good copy) */
	struct ovr_watch rovr;       /* the region-wide one (deephealth-follow's on a front door) */
	struct overrides *ovr_all;   /* in force: both, as one set (ovr_union) */
	struct fleet fleet;          /* a follower's account beside the snapshot, if any */
	struct file_id fleet_id;
	int fleet_state;             /* 0 none, 1 read, -1 a bad one (fleet_err says why) */
	char fleet_err[4400];
	struct counters ctr;         /* serving: mapped; a look: a copy in ctr.m, when have_ctr */
	int have_ctr;
	char ctr_err[512];           /* a look: why there is no copy */
	char node[256];              /* this machine's name */
	int64_t next_check_ms;
};

/*
 * Load the configuration at conf_path (its errors through errfn), and get
 * ready to look at the rest; inputs_refresh reads it.  Returns 0, or -1 when
 * the configuration did not load (in->conf NULL: every answer is
 * config-error).  inputs_close it either way.
 */
int inputs_open(struct inputs *in, const char *conf_path, int serving, errfn_t errfn, void *arg);
/*
 * Look at every file again when responder.recheck_ms has passed since the last
 * look (the first call always looks): a stat(2) each, a read only of what
 * changed.  Returns 1 when it looked.
 */
int inputs_refresh(struct inputs *in, int64_t now_ms);
/* in->ovr_all again from the two files' views (after a caller changed one). */
void inputs_union(struct inputs *in);
/* The answer state of what in holds now. */
void inputs_state(const struct inputs *in, struct answer_state *st);
void inputs_close(struct inputs *in);

#endif /* DH_ANSWER_H */
