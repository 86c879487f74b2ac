/* deephealth.h: the one internal header, sectioned by source file. */
#ifndef DEEPHEALTH_H
#define DEEPHEALTH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#define DH_VERSION "0.1.0"

/* Longest hostname we accept after normalization (RFC 1035, no trailing dot). */
#define DH_HOST_MAX 253
/* Longest registry or dependency name carried in a snapshot. */
#define DH_NAME_MAX 253

/* ---------------------------------------------------------------- log.c */

enum log_level { LOG_LVL_ERR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

/*
 * ident is kept by pointer; use_syslog sends everything to syslog(3) instead of
 * stderr.  On stderr under systemd ($JOURNAL_STREAM names our stderr) lines
 * carry sd-daemon(3) priority prefixes instead of a time; else an ISO time.
 */
void log_init(const char *ident, int use_syslog, enum log_level level);
/* log_warn appends ": strerror(errno)"; the x variants do not. */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/*
 * An errfn_t for "file:line: message" reports: with arg != NULL (a check
 * run, -t) a plain line on stderr, else a warning through the log.
 */
void log_errfn(void *arg, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---------------------------------------------------------------- util.c */

/* Hostname / registry-name alphabet: ASCII letters, digits, '-', '.', '_'. */
int util_is_name_byte(unsigned char c);
/* malloc/calloc/strdup that never return NULL (fatal on exhaustion). */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
char *xstrdup(const char *s);
/* Monotonic milliseconds, for throttling; never goes backwards. */
int64_t util_now_ms(void);
/* 64-bit FNV-1a over bytes; the snapshot checksum and the host map hash. */
uint64_t util_hash64(const void *data, size_t len);
/* The one time format: "2026-11-30T04:22:29Z" (UTC) into out; "?" if t cannot be shown. */
void util_iso_time(time_t t, char *out, size_t len);

/* Identity of a file as loaded: a publish by rename changes the inode, an edit the rest. */
struct file_id {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtim, ctim;
};
struct stat;
void file_id_of(const struct stat *st, struct file_id *id);
int file_id_eq(const struct file_id *a, const struct file_id *b);

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

/*
 * Load "host registry" lines from path into the exact map.  Every bad line is
 * reported through errfn as "path:line: message"; returns the number of
 * errors (0 = loaded).  Lines: '#' comments, blank lines ignored.
 */
typedef void (*errfn_t)(void *arg, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int resolver_load_map(struct resolver *r, const char *path, errfn_t errfn, void *arg);

/*
 * Resolve a raw Host header.  On RESOLVE_FOUND, registry (size >=
 * DH_NAME_MAX + 1) holds the registry name.  host_out (size >= DH_HOST_MAX +
 * 1) receives the normalized host when it is valid.  *herr says why a host
 * was invalid.  Allocates nothing.
 */
enum resolve_result resolver_lookup(struct resolver *r, const char *raw_host, char *host_out,
                                    char *registry, enum host_err *herr);

/* ---------------------------------------------------------------- snap.c */

enum verdict { VERDICT_PASS = 0, VERDICT_WARN = 1, VERDICT_FAIL = 2, VERDICT_UNKNOWN = 3 };
const char *verdict_str(enum verdict v);

/* Why a snapshot could not be used.  See docs/snapshot.md. */
enum snap_err {
	SNAP_OK = 0,
	SNAP_MISSING,     /* ENOENT */
	SNAP_UNREADABLE,  /* open/read failed otherwise (EACCES, EIO...) */
	SNAP_NOT_REGULAR, /* a directory, fifo, device... */
	SNAP_TOO_SMALL,   /* shorter than the header */
	SNAP_TOO_LARGE,   /* above SNAP_MAX_SIZE */
	SNAP_BAD_MAGIC,
	SNAP_BAD_VERSION,
	SNAP_BAD_LENGTH,  /* header length != file length (truncated or appended) */
	SNAP_BAD_CHECKSUM,
	SNAP_BAD_LAYOUT,  /* counts and sizes do not add up */
	SNAP_BAD_RECORD,  /* a record out of range, unsorted or duplicate names, bad enum */
	SNAP_FUTURE       /* created too far in the future */
};
const char *snap_err_str(enum snap_err e);

#define SNAP_MAGIC "DHSNAP\r\n"
#define SNAP_VERSION 1
#define SNAP_HEADER_SIZE 64
#define SNAP_RECORD_SIZE 24
#define SNAP_MAX_SIZE (256u * 1024 * 1024)
#define SNAP_FLAG_BLIND 0x1u       /* header: the prober could not evaluate */
#define SNAP_REG_SINGLE_REGION 0x1u /* registry: served from one region only */
#define SNAP_DEP_WITNESS 0x1u       /* dependency: a witness check */
#define SNAP_NO_DEP UINT32_MAX
/* A snapshot may claim to be this many seconds in the future (clock skew). */
#define SNAP_FUTURE_SKEW 5

enum dep_kind {
	DEP_KIND_STORAGE, DEP_KIND_CACHE, DEP_KIND_AUTH, DEP_KIND_CONTAINERS,
	DEP_KIND_METADATA, DEP_KIND_OTHER, DEP_KIND_COUNT
};
const char *dep_kind_str(enum dep_kind k);
enum severity { SEV_CRITICAL = 0, SEV_DEGRADED = 1, SEV_COUNT };
const char *severity_str(enum severity s);

/* Decoded views into a loaded snapshot; strings are NOT NUL-terminated. */
struct snap_dep {
	const char *name;
	size_t name_len;
	const char *cause;
	size_t cause_len;
	enum verdict state;
	enum dep_kind kind;
	enum severity severity;
	unsigned flags;
	int64_t since;
};
struct snap_reg {
	const char *name;
	size_t name_len;
	enum verdict verdict;
	unsigned flags;
	uint32_t decided_by; /* dependency index or SNAP_NO_DEP */
	int64_t since;
};

struct snapshot; /* opaque, immutable once loaded */

/*
 * Read and fully validate the snapshot at path.  now is the wall clock used
 * for the future-timestamp check.  On success returns SNAP_OK and *out
 * (caller frees with snap_free).  On failure *out is NULL and, when detail is
 * not NULL, a one-line human reason is written there.
 */
enum snap_err snap_load(const char *path, time_t now, struct snapshot **out, char *detail,
                        size_t detaillen);
/* Same checks on a buffer already in memory (copied). */
enum snap_err snap_parse(const void *buf, size_t len, time_t now, struct snapshot **out,
                         char *detail, size_t detaillen);
void snap_free(struct snapshot *s); /* NULL is fine */

int64_t snap_created(const struct snapshot *s);
uint32_t snap_interval(const struct snapshot *s);
unsigned snap_flags(const struct snapshot *s);
size_t snap_dep_count(const struct snapshot *s);
size_t snap_reg_count(const struct snapshot *s);
/* Index accessors; i must be < count. */
void snap_dep_at(const struct snapshot *s, size_t i, struct snap_dep *out);
void snap_reg_at(const struct snapshot *s, size_t i, struct snap_reg *out);
/* Binary search by exact name; returns 1 and fills out, or 0. */
int snap_find_reg(const struct snapshot *s, const char *name, size_t len, struct snap_reg *out);

/* Writer: accumulate in memory, then publish atomically. */
struct snap_writer;
struct snap_writer *snapw_new(int64_t created, uint32_t interval, unsigned flags);
void snapw_free(struct snap_writer *w); /* NULL is fine */
/* Replace the header fields given to snapw_new. */
void snapw_set_header(struct snap_writer *w, int64_t created, uint32_t interval, unsigned flags);
/* Returns the dependency index, or -1 on a bad argument (name length/alphabet, enums). */
int snapw_add_dep(struct snap_writer *w, const char *name, enum verdict state, enum dep_kind kind,
                  enum severity sev, unsigned flags, int64_t since, const char *cause);
/* Returns 0, or -1 on a bad argument (name, verdict, dependency index). */
int snapw_add_reg(struct snap_writer *w, const char *name, enum verdict v, unsigned flags,
                  uint32_t decided_by, int64_t since);
/*
 * Serialize into a malloc'd buffer (*buf, *len): registries sorted, names
 * checked unique.  Returns 0, or -1 with a reason in err (duplicate name).
 */
int snapw_build(struct snap_writer *w, void **buf, size_t *len, char *err, size_t errlen);
/*
 * Build, verify with the reader, and publish at path: temp file in the same
 * directory, write, fsync, rename, fsync directory.  On any failure the old
 * file at path is untouched, the temp file removed, and -1 returned with a
 * reason in err.
 */
int snapw_publish(struct snap_writer *w, const char *path, char *err, size_t errlen);

/* ---------------------------------------------------------------- exec.c */

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

/* ---------------------------------------------------------------- conf.c */

enum mode { MODE_ENFORCE, MODE_SHADOW, MODE_PASSTHROUGH };
const char *mode_str(enum mode m);
enum unknown_action { UNKNOWN_PASS, UNKNOWN_REJECT };
enum detail { DETAIL_STATUS, DETAIL_CAUSE };

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

struct conf {
	char *path;
	/* snapshot { } */
	char *snapshot_path;
	int max_age;        /* seconds */
	/* responder { } */
	enum mode mode;
	char *kill_switch;
	enum unknown_action unknown_host;
	enum detail detail;
	int recheck_ms;     /* how often to stat snapshot and kill switch */
	/* log { } */
	int log_syslog;
	enum log_level log_level;
	/* resolver { } */
	char *host_map;
	char **rules;       /* NULL-terminated patterns, as configured */
	int match_limit, depth_limit;
	struct resolver *resolver;
	/* prober { } */
	char *registries;   /* registry map file; "" = none configured */
	char *region;
	char *state_path;
	char *lock_path;
	char *event_log;    /* "" = none */
	char *proxy;        /* default proxy of http checks; "" = none */
	int interval, deadline, parallel;
	int fall, rise, ok, intermittent;
	int blind_unknown_pct;
	/* dependencies ( ) */
	struct dep_conf *deps;
	size_t ndeps;
	uint32_t *dep_slots;    /* name index: open addressing, dependency index + 1, 0 = empty */
	size_t dep_slot_cap;    /* power of two */
	/* where the prober's paths are configured (or their section, or 1), for -t reports */
	unsigned snapshot_line, state_line, lock_line, event_log_line;
};

/*
 * Load and validate path.  Every problem is reported through errfn as
 * "file:line: message" (all of them, not just the first).  Returns a conf
 * (caller frees with conf_free) or NULL when at least one error was found.
 */
struct conf *conf_load(const char *path, errfn_t errfn, void *arg);
void conf_free(struct conf *c); /* NULL is fine */

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

/* ---------------------------------------------------------------- state.c */

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

/* ---------------------------------------------------------------- policy.c */

/* Every answer's cause; the X-Deephealth-Reason header. */
enum reason {
	R_CONFIG_ERROR, R_PASSTHROUGH, R_SNAPSHOT_MISSING, R_SNAPSHOT_UNREADABLE, R_SNAPSHOT_CORRUPT,
	R_SNAPSHOT_STALE,
	R_PROBER_BLIND, R_UNKNOWN_HOST, R_UNKNOWN_REGISTRY, R_SINGLE_REGION, R_HEALTHY,
	R_DEGRADED, R_DEPENDENCY_FAILED, R_BAD_METHOD, R_COUNT
};
const char *reason_str(enum reason r);

/* Everything a decision depends on, gathered by the caller. */
struct policy_in {
	int method_ok;              /* GET or HEAD: anything else is 405 whatever else holds */
	int config_ok;
	enum mode mode;
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

/* ---------------------------------------------------------------- fcgi/pool.c */

/*
 * Supervise n worker processes that share the listening socket the caller
 * opened (or inherited).  Returns 0 in each worker, which then serves.  In the
 * supervisor never returns: it restarts workers that die (backing off when
 * they die right after starting), replaces them one at a time on SIGHUP, and
 * on SIGTERM or SIGINT stops them all and exits 0.
 */
int pool_run(size_t n);

/* ---------------------------------------------------------------- reply.c */

/* What the answer looks like, beyond the decision itself. */
struct reply_opts {
	int head;                    /* HEAD: headers only, same Content-Length */
	int json;                    /* client accepts application/health+json */
	enum detail detail;          /* how much the JSON body says */
	const char *registry;        /* resolved registry name or NULL */
	const struct snapshot *snap; /* for the deciding dependency, or NULL */
};

/*
 * Format a complete CGI response (Status line, headers, body) for o into
 * out.  Returns the length, or 0 if out is too small (4096 always suffices).
 * Pure: no I/O, no allocation.  Names from the snapshot and registry are
 * restricted to [A-Za-z0-9._-], so they need no escaping.
 */
size_t reply_format(const struct policy_out *o, const struct reply_opts *ro, char *out,
                    size_t len);

#endif /* DEEPHEALTH_H */
