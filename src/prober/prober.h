/* prober.h: the prober's own parts: checks, thresholds, evaluation, registry map. */
#ifndef DH_PROBER_H
#define DH_PROBER_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <curl/curl.h>
#include <pcre2.h>

#include "deephealth.h"

/* ---------------------------------------------------------------- check_exec.c */

/* How much of a plugin's first output line is kept for the cause. */
#define EXEC_LINE_MAX 200

/*
 * One exec check's plugin: a child leading its own process group, its stdout
 * and stderr in a pipe.  The caller embeds it (no allocation) and reads only
 * pid and fd; the rest is exec.c's.  (pid_t: <time.h> defines it, per POSIX.)
 */
struct exec_proc {
	pid_t pid;                    /* > 0 until reaped, which may be after the outcome */
	int fd;                       /* read end of the output pipe, -1 once closed */
	char line[EXEC_LINE_MAX + 1]; /* first output line, as far as read */
	size_t line_len;
	int line_done;
};

/* Set p to nothing started (pid and fd -1).  Call before any other exec_ function on p. */
void exec_init(struct exec_proc *p);

/*
 * Start argv[0], which must be an absolute path, with argv: stdin /dev/null,
 * stdout and stderr into a non-blocking pipe, its own process group, every
 * descriptor above 2 closed (3..maxfd-1 where close_range(2) is missing),
 * default signal dispositions.  argv stays the caller's.  Returns 0 with
 * p->pid and p->fd set; end with exec_stop.  On failure returns -1 with
 * nothing left open or running and a reason in cause ("bad check: ...",
 * "out of file descriptors", "cannot start: ..."): the check is unknown.  A
 * plugin that cannot be exec'd exits 127 and says why on its output.
 */
int exec_start(struct exec_proc *p, char *const argv[], int maxfd, char *cause, size_t causelen);

/*
 * Read what the plugin wrote so far (bounded, never blocks), keeping its
 * first line.  Call when p->fd is readable.  At EOF or a read error (logged)
 * p->fd is closed and set to -1.
 */
void exec_read(struct exec_proc *p);

/*
 * Has p's plugin exited?  Returns 0 while it runs (or the wait was
 * interrupted).  Else returns 1 with *v and cause set: exit 0, 1, 2 pass,
 * warn, fail, other codes unknown, cause "exit N: FIRST LINE" (performance
 * data after '|' removed); killed by a signal, or exit status lost (waitid
 * failure, logged; SIGCHLD ignored), unknown.  Before it is reaped, whatever
 * it left in its process group is SIGKILLed.  Call only after exec_start
 * succeeded and before exec_stop.  cause is raw plugin text: not sanitized.
 */
int exec_exited(struct exec_proc *p, enum verdict *v, char *cause, size_t causelen);

/*
 * Release p: close the pipe, SIGKILL the process group of a plugin not yet
 * reaped and reap it if already gone.  If it is not, p->pid stays > 0: call
 * exec_reap until it is -1.  Safe on a p never started, and twice.
 */
void exec_stop(struct exec_proc *p);

/* Reap p's killed plugin if it is gone, setting p->pid to -1.  Never blocks; no-op if pid <= 0. */
void exec_reap(struct exec_proc *p);

/* ---------------------------------------------------------------- check.c: the engine */

/*
 * One dependency check as configured: what every type has, and the type's own
 * settings in conf (struct http_check, tcp_check or exec_check), read by the
 * type's key table.  Built by deps.c, immutable while a pass runs; freed with
 * check_spec_free.
 */
struct check_type;
struct check_spec {
	const struct check_type *type;
	int timeout_ms;             /* the whole check */
	void *conf;                 /* the type's settings */
};

/* Free a header list that may hold credentials, each line wiped first; NULL is fine. */
void check_hdrs_free(struct curl_slist *l);
/* A spec of type t with its settings zeroed (tests and deps.c).  Free with check_spec_free. */
struct check_spec *check_spec_new(const struct check_type *t, int timeout_ms);
void check_spec_free(struct check_spec *s); /* NULL is fine */

/* What one check said.  cause is for operators' logs only, never for answers. */
struct check_outcome {
	enum verdict result;   /* pass, warn, fail, or unknown (we could not evaluate) */
	char cause[256];       /* e.g. "HTTP 500", "connect: refused", "timed out after 5000 ms" */
	int64_t elapsed_ms;
};

/*
 * Run the n checks concurrently, at most `parallel` at a time, and return
 * when all have an outcome.  deadline_ms is a util_now_ms() instant: checks
 * not finished by then are abandoned with result unknown (and exec children
 * killed).  out[i] receives the outcome of specs[i].  parallel < 1 means 1.
 * Returns 0, or -1 when the engine itself failed: at start every outcome is
 * unknown; mid-pass, finished checks keep their outcomes and the rest are
 * unknown.  The caller must not set SIGCHLD to SIG_IGN (plugin exit statuses
 * would be lost; such checks report unknown).
 */
int check_run(struct check_spec *const *specs, size_t n, int parallel, int64_t deadline_ms,
              struct check_outcome *out);

/*
 * A check type: its configuration keys and its operations, one row each
 * (check_http.c, check_tcp.c, check_exec.c), listed in check_types (check.c).
 * Adding a type is one file and one line in that list.  The engine (check.c)
 * owns the pass: the curl multi handle, the wait, timeouts, the deadline; a
 * type starts its check and turns what happened into an outcome (job_finish).
 */
struct run;
struct job;
struct dep_conf;
struct check_type {
	const char *name;                /* the "type" value */
	struct conf_table keys;          /* its own keys, read into conf */
	size_t size;                     /* of its settings struct */
	/* After the keys: what no single key can check; fill in derived values. */
	void (*build)(struct conf_loader *l, const struct conf *c, struct dep_conf *d,
	              const struct conf_grp *g);
	void (*free)(void *conf);        /* its members; the engine frees conf itself */
	const char *(*cred_file)(const void *conf); /* a secrets file it reads, or NULL; may be NULL */
	/* With cred_file: 0 when that file parses, else -1 and why (a line number, never a byte
	 * of its content); for -t and every run's start.  May be NULL. */
	int (*cred_check)(const void *conf, char *why, size_t whylen);
	/* A pass.  Only start is required. */
	void (*start)(struct run *r, struct job *j);
	void (*curl_done)(struct run *r, struct job *j, CURLcode cc); /* its transfer ended */
	int (*wait_fd)(const struct job *j, struct curl_waitfd *w);   /* 1: wait for w too */
	void (*io)(struct run *r, struct job *j);                     /* ... which is ready */
	void (*sweep)(struct run *r, struct job *j);                  /* every round it runs */
	int (*own_timeout)(const struct job *j); /* 1: timeout_ms is ours to enforce, not curl's */
	int (*tick_ms)(const struct job *j);     /* wait at most this long (ms) while it lives, or -1 */
	void (*release)(struct job *j);          /* free its run state; after the outcome */
	void (*reap)(struct job *j);             /* after release: collect what is left (a plugin) */
	int (*pending)(const struct job *j);     /* 1 while reap has something left */
};
extern const struct check_type check_http, check_tcp, check_exec;
/* Every type, NULL-terminated, in the order "type" lists them. */
extern const struct check_type *const check_types[];

/* -- for the types: one check's run state, and the engine's helpers -- */

enum job_state { JOB_WAITING, JOB_RUNNING, JOB_DONE };
enum tcp_phase { TCP_CONNECTING, TCP_SENDING, TCP_READING };

struct job {
	const struct check_spec *spec;
	struct check_outcome *out;
	enum job_state state;
	int64_t start, due;          /* util_now_ms(); due = start + timeout_ms */
	/* curl transfers (http, tcp): released by the engine */
	CURL *easy;
	int in_multi;
	struct curl_slist *hdrs;     /* may hold credentials: wiped before freeing */
	char errbuf[CURL_ERROR_SIZE];
	int sock_errno;              /* socket() ran out of descriptors */
	char *buf;                   /* http: body for body_re; tcp: the reply */
	size_t len;
	/* tcp */
	enum tcp_phase phase;
	curl_socket_t sock;
	size_t sent;
	/* exec */
	struct exec_proc proc;       /* proc.pid > 0 until reaped, which may be after the outcome */
};

struct run {
	CURLM *multi;
	pcre2_match_context *mctx;
	struct job *jobs;
	size_t n, next, running, done, parallel;
	struct curl_waitfd *wfd;     /* one descriptor per running job at most */
	struct job **wjob;
	int maxfd;                   /* children close up to here without close_range(2) */
};

/* Set j's outcome (printable ASCII only) and release it.  Later calls for j are no-ops. */
void job_finish(struct run *r, struct job *j, enum verdict v, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Match re (a pcre2_code) against s: 1 match, 0 no match, -1 error (message in err). */
int check_match(struct run *r, const void *re, const char *s, size_t len, char *err,
                size_t errlen);
/* Compile a configured pattern (JIT when it can), or report it and return NULL. */
void *check_compile(struct conf_loader *l, const struct conf_grp *g, const char *key,
                    const char *pattern);
/* Set what curl transfers share (rc: the first error of the type's own options), then start. */
void check_curl_go(struct run *r, struct job *j, CURLcode rc, const char *url,
                   const char *protocols, int connect_timeout_ms);
/* A transfer ended with curl error cc: remote problems fail, local ones are unknown. */
void check_curl_failed(struct run *r, struct job *j, CURLcode cc, int connect_timeout_ms);
/* The connect timeout of http and tcp checks: given, else 2 s or the whole timeout if shorter. */
int check_connect_timeout(struct conf_loader *l, const struct conf *c, struct dep_conf *d,
                          const struct conf_grp *g, int given);

/* -- the settings of each type -- */

struct status_range {
	int lo, hi; /* inclusive */
};

struct http_check {
	int connect_timeout_ms;      /* -1 = derived (check_connect_timeout) */
	char *url;
	char *method;                /* "GET", "HEAD", ... */
	char **headers;              /* "Name: value" lines, NULL-terminated or NULL */
	char *expect;                /* as written: "200-299,301" */
	struct status_range *ranges; /* expect parsed; NULL = 200-299 */
	size_t nranges;
	char *body_match;            /* as written; "" = none */
	void *body_re;               /* pcre2_code *, or NULL */
	int body_negate;             /* pass when body_re does NOT match */
	int body_bytes;              /* how much of the body body_re sees */
	int tls_verify;
	char *ca_file;               /* NULL or "" = system store */
	int follow_redirects;
	char *cred_file;             /* header lines read at each run; never logged; NULL or "" = none */
	char *proxy;                 /* proxy URL, NULL or "" = direct; never the environment's */
};

struct tcp_check {
	int connect_timeout_ms;      /* -1 = derived */
	char *address;               /* "host:port" or "[v6]:port" */
	char *send;                  /* bytes to send after connect; NULL or "" = none */
	char *reply_match;           /* as written; "" = none */
	void *reply_re;              /* pcre2_code * the reply must match, or NULL */
};

struct exec_check {
	char **command;              /* NULL-terminated; command[0] an absolute path */
};

/* ---------------------------------------------------------------- deps.c */

/* Which registries a dependency applies to. */
enum applies { APPLY_ALL, APPLY_LISTED, APPLY_FEATURE };

/* One configured dependency (dependencies = ( {...}, ... )). */
struct dep_conf {
	char *name;
	enum dep_kind kind;
	enum severity severity;
	char *scope;         /* applies, as written; "" = by kind */
	enum applies applies;
	char *feature;       /* APPLY_FEATURE: the registry feature that brings it in */
	int witness;
	int fall, rise, ok, intermittent;
	struct check_spec *check;
	unsigned line;       /* where it is configured, for later errors */
	unsigned cred_line;
};

/*
 * The prober's own requirements on a loaded configuration, for the user
 * running it: a registry map, at least one dependency, credential files that
 * only their owner can read and this user can, and directories of the
 * snapshot, state, lock and event log this user can write into.  With
 * content set (-t), also that each credentials file parses: at run time a
 * file that does not leaves only its own check unknown, and says so.  Reports
 * through errfn as "file:line: message"; returns the error count.
 */
int conf_check_prober(const struct conf *c, int content, errfn_t errfn, void *arg);

/* Index of the dependency called name (len bytes, no NUL needed), or -1.  O(1). */
int conf_dep_find(const struct conf *c, const char *name, size_t len);
/* Same for a NUL-terminated name. */
int conf_dep_index(const struct conf *c, const char *name);

/* The dependencies section as a conf_load extension: builds conf->deps and their checks. */
extern const struct conf_ext deps_conf;

/* ---------------------------------------------------------------- regmap.c */

/* One registry of the registry map: which dependencies it uses beyond the region-wide ones. */
struct reg_entry {
	char *name;
	unsigned nregions;   /* 1 = single-region: never failed over */
	uint32_t *deps;      /* indexes into conf->deps: listed storage and feature dependencies */
	uint32_t ndeps;
	unsigned line;
};

struct regmap {
	struct reg_entry *regs; /* sorted by name, unique */
	size_t n;
	char *arena;            /* names */
	uint32_t *deparena;     /* every reg_entry.deps points in here */
};

/*
 * Load the registry map at path (format: docs/registries.md) against the
 * configured dependencies.  Bad lines are reported through errfn as
 * "path:line: message" (at most 20, then a count) and left out: a registry
 * missing from the snapshot is answered fail-open.  Returns the map, or NULL
 * when the file cannot be read at all (reported too).  *bad gets the number
 * of lines left out.
 */
struct regmap *regmap_load(const char *path, const struct conf *c, errfn_t errfn, void *arg,
                           size_t *bad);
void regmap_free(struct regmap *m); /* NULL is fine */

/* ---------------------------------------------------------------- guard.c */

/* The failover guard (docs/guard.md), as the prober carries it from pass to pass. */
struct guard_state {
	int tripped;          /* the count went over the bound, and has not stayed under long enough */
	int64_t since;        /* tripped: when (Unix time) */
	int64_t under_since;  /* tripped: since when every pass counted at or under the bound, 0 none */
	int known;            /* read from the state file (else a fresh start) */
};
enum guard_change { GUARD_SAME, GUARD_TRIPS, GUARD_RELEASES };
/* What the metrics say of it: not configured, configured and clear, holding, let through. */
enum guard_show { GUARD_OFF, GUARD_CLEAR, GUARD_HOLDING, GUARD_ALLOWED, GUARD_STATE_COUNT };
extern const char *const guard_state_names[];

/* Is the guard configured (prober.guard_max_failing set)? */
int guard_on(const struct conf *c);
/*
 * One pass that could see: failing multi-region registries against bound, at
 * now (Unix time, > 0).  Trips when failing > bound; lets go when failing <=
 * bound at a pass and at every pass since hold seconds or more ago.  Returns
 * the change, g updated.  Pure.
 */
enum guard_change guard_step(struct guard_state *g, size_t failing, size_t bound, int hold,
                             int64_t now);
/* g as its state-file line ("@guard tripped SINCE UNDER_SINCE"); 0, or -1 on a write error. */
int guard_line_write(FILE *f, const struct guard_state *g);
/* 1 and g set (known) when line is a good guard line, 0 when it is not one, -1 when damaged. */
int guard_line_parse(const char *line, struct guard_state *g);

/* ---------------------------------------------------------------- thresholds.c */

/* A dependency's stable state and the counters that move it (docs/thresholds.md). */
struct dep_state {
	int down;              /* stable state: 0 up, 1 down */
	enum verdict last;     /* last result that was not unknown (pass/warn/fail); pass at start */
	int consec_fail;       /* consecutive failures (consecutive accounting) */
	int consec_ok;         /* consecutive successes */
	int fail_count;        /* failures not yet cleared (intermittent accounting) */
	int64_t since;         /* when the reported state last changed */
	char cause[256];       /* the cause of the result that set the reported state (kept until it changes) */
};

/* What a dependency reports: fail when down, else warn when its last result warned, else pass. */
enum verdict state_reported(const struct dep_state *st);

/*
 * Fold one check result into st under d's thresholds at time now.  unknown
 * changes nothing.  Returns 1 when the reported state changed (a transition
 * to log), else 0.
 */
int state_fold(struct dep_state *st, const struct dep_conf *d, enum verdict result,
               const char *cause, int64_t now);

/*
 * Load the states of c's dependencies from path into st[c->ndeps] (new ones
 * start up, since now).  A missing file is a fresh start (0); a damaged one, or
 * one last saved more than c->max_age seconds before now, is reported through
 * errfn and also a fresh start (0).  One that is there but cannot be read
 * (EMFILE, ENOMEM, EACCES, EIO...) is reported and returns -1: the caller must
 * not go on and save fresh states over it.  g (unless NULL) gets the failover
 * guard's line, or is zeroed (not known) when there is none to trust.
 */
int state_load(const char *path, const struct conf *c, struct dep_state *st, int64_t now,
                errfn_t errfn, void *arg, struct guard_state *g);
/* Every dependency up with clean counters, since now. */
void state_reset(struct dep_state *st, int64_t now);
/*
 * Save atomically (temp, fsync, rename, fsync dir), with the failover guard's
 * line when the guard is configured (g not NULL).  Returns 0, or -1 with err set.
 */
int state_save(const char *path, const struct conf *c, const struct dep_state *st,
               const struct guard_state *g, char *err, size_t errlen);

/* ---------------------------------------------------------------- eval.c */

/* A registry whose verdict changed: what the event log says of it. */
struct eval_change {
	size_t reg;                      /* index in the registry map */
	enum verdict from, to;
	const char *dep;                 /* what decided: the new verdict's dependency, or for a
	                                    return to pass the old one's (NULL: none known) */
	size_t dep_len;
};

struct eval_stats {
	size_t pass, warn, fail, single; /* registries by verdict */
	size_t multi, multi_fail;        /* multi-region registries, and those that fail: the guard's */
	size_t changed;                  /* registries whose verdict differs from the last snapshot */
	size_t *users;                   /* per dependency: registries that use it */
	struct eval_change *changes;     /* the first changes_max of the changed, in map order */
	size_t nchanges, changes_max;    /* (set changes_max; eval_build allocates, caller frees) */
};

/*
 * Compute every registry's verdict from the dependency states (the worst
 * contribution over the dependencies it uses; critical fail -> fail,
 * degraded fail or any warn -> warn) and build the snapshot.  prev (may be
 * NULL) supplies each registry's previous verdict and since.  stats->users
 * must have room for c->ndeps.  Returns a writer the caller publishes and frees.
 */
struct snap_writer *eval_build(const struct conf *c, const struct regmap *m,
                               const struct dep_state *st, const struct snapshot *prev,
                               int64_t now, unsigned flags, struct eval_stats *stats);

/* ---------------------------------------------------------------- metrics.c */

/* How a pass ended, as counted. */
enum pass_result { PASS_PUBLISHED, PASS_BLIND, PASS_FAILED, PASS_RESULT_COUNT };
extern const char *const pass_result_names[];

/* The counters of prober.metrics, carried from run to run through the file. */
struct prober_totals {
	uint64_t passes[PASS_RESULT_COUNT];
	uint64_t deadline_hits;
	uint64_t checks[VERDICT_UNKNOWN + 1]; /* by outcome */
	uint64_t transitions;
	uint64_t last_publish;                /* Unix time (a gauge, carried the same way) */
	uint64_t guard_trips;                 /* the failover guard tripped */
};
#define TOTAL_ROWS (PASS_RESULT_COUNT + 1 + VERDICT_UNKNOWN + 1 + 1 + 1 + 1)

/* What one pass measured, beyond the snapshot it published. */
struct pass_figures {
	int64_t duration_ms;
	int deadline;     /* prober.deadline, seconds */
	size_t overrides; /* in force */
	enum guard_show guard;          /* the failover guard after the pass */
	size_t guard_failing, guard_bound; /* what it counted, and its bound (guard on) */
};

/* The counters the previous run left in the metrics file at path (absent ones stay). */
void metrics_load(const char *path, struct prober_totals *t);
/*
 * Publish the metrics at path (Prometheus text format; publish_file): the
 * counters, the pass's figures and snapshot s's states.  0, or -1 with the
 * reason in err (the previous file stays).
 */
int metrics_write(const char *path, struct prober_totals *t, const struct pass_figures *pf,
                  const struct snapshot *s, char *err, size_t errlen);

#endif /* DH_PROBER_H */
