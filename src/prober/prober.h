/* prober.h: the prober's own parts: checks, thresholds, evaluation, registry map. */
#ifndef DH_PROBER_H
#define DH_PROBER_H

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

/* ---------------------------------------------------------------- check.c */

/*
 * One dependency check as configured.  Built by conf.c, immutable while a
 * pass runs.  Every pointer member is owned by the spec (check_spec_free).
 */
enum check_type { CHECK_HTTP, CHECK_TCP, CHECK_EXEC };
const char *check_type_str(enum check_type t);

struct status_range {
	int lo, hi; /* inclusive */
};

struct check_spec {
	enum check_type type;
	int connect_timeout_ms;     /* http, tcp */
	int timeout_ms;             /* whole check, every type */
	/* http / https */
	char *url;
	char *method;               /* "GET", "HEAD", ... */
	char **headers;             /* "Name: value" lines, NULL-terminated or NULL */
	struct status_range *expect;/* accepted statuses; NULL = 200-299 */
	size_t nexpect;
	void *body_re;              /* pcre2_code *, or NULL */
	int body_negate;            /* pass when body_re does NOT match */
	size_t body_bytes;          /* how much of the body body_re sees */
	int tls_verify;
	char *ca_file;              /* NULL = system store */
	int follow_redirects;
	char *cred_file;            /* header lines read at each run; never logged */
	char *proxy;                /* proxy URL, NULL or "" = direct; never the environment's */
	/* tcp */
	char *address;              /* "host:port" or "[v6]:port" */
	char *send;                 /* bytes to send after connect, or NULL */
	size_t send_len;
	void *expect_re;            /* pcre2_code * the reply must match, or NULL */
	/* exec */
	char **argv;                /* NULL-terminated; argv[0] an absolute path */
};

/* NULL is fine; frees members and s.  In conf.c: specs are configuration. */
void check_spec_free(struct check_spec *s);

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

/* ---------------------------------------------------------------- dependencies (conf.c) */

/* Which registries a dependency applies to. */
enum applies { APPLY_ALL, APPLY_LISTED, APPLY_FEATURE };

/* One configured dependency (dependencies = ( {...}, ... )). */
struct dep_conf {
	char *name;
	enum dep_kind kind;
	enum severity severity;
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
 * snapshot, state, lock and event log this user can write into.  Reports
 * through errfn as "file:line: message"; returns the error count.
 */
int conf_check_prober(const struct conf *c, errfn_t errfn, void *arg);

/* Index of the dependency called name (len bytes, no NUL needed), or -1.  O(1). */
int conf_dep_find(const struct conf *c, const char *name, size_t len);
/* Same for a NUL-terminated name. */
int conf_dep_index(const struct conf *c, const char *name);

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

/* ---------------------------------------------------------------- thresholds.c */

/* A dependency's stable state and the counters that move it (docs/thresholds.md). */
struct dep_state {
	int down;              /* stable state: 0 up, 1 down */
	enum verdict last;     /* last result that was not unknown (pass/warn/fail); pass at start */
	int consec_fail;       /* consecutive failures (consecutive accounting) */
	int consec_ok;         /* consecutive successes */
	int fail_count;        /* failures not yet cleared (intermittent accounting) */
	int64_t since;         /* when the reported state last changed */
	char cause[256];       /* the latest result's cause */
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
 * start up, since now).  A missing file is a fresh start; a damaged one, or one
 * last saved more than c->max_age seconds before now, is reported through errfn
 * and also a fresh start.  Never fails.
 */
void state_load(const char *path, const struct conf *c, struct dep_state *st, int64_t now,
                errfn_t errfn, void *arg);
/* Every dependency up with clean counters, since now. */
void state_reset(struct dep_state *st, int64_t now);
/* Save atomically (temp, fsync, rename, fsync dir).  Returns 0, or -1 with err set. */
int state_save(const char *path, const struct conf *c, const struct dep_state *st, char *err,
               size_t errlen);

/* ---------------------------------------------------------------- eval.c */

struct eval_stats {
	size_t pass, warn, fail, single; /* registries by verdict */
	size_t changed;                  /* registries whose verdict differs from the last snapshot */
	size_t *users;                   /* per dependency: registries that use it */
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

#endif /* DH_PROBER_H */
