/*
 * deephealth.h: what every program shares (the .c files of src/), sectioned by source file.
 * Each program adds its own header: fcgi/responder.h, src/prober/prober.h.
 */
#ifndef DEEPHEALTH_H
#define DEEPHEALTH_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <time.h>

/* Every program's configuration when neither -c nor $DEEPHEALTH_CONFIG says. */
#define DH_DEFAULT_CONF "/etc/deephealth/deephealth.conf"

#define DH_VERSION "0.1.0"

/* Longest hostname we accept after normalization (RFC 1035, no trailing dot). */
#define DH_HOST_MAX 253
/* Longest registry or dependency name carried in a snapshot. */
#define DH_NAME_MAX 253

/* ---------------------------------------------------------------- log.c */

enum log_level { LOG_LVL_ERR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };
extern const char *const log_level_names[];

/*
 * ident is kept by pointer; use_syslog sends everything to syslog(3) instead of
 * stderr.  On stderr under systemd ($JOURNAL_STREAM names our stderr) lines
 * carry sd-daemon(3) priority prefixes instead of a time; else an ISO time.
 */
/* How loaders report "file:line: message" problems (log_errfn, or a test's collector). */
typedef void (*errfn_t)(void *arg, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void log_init(const char *ident, int use_syslog, enum log_level level);
/* log_warn appends ": strerror(errno)"; the x variants do not. */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* An error the program stops for, at err level; the caller cleans up and exits (fatalx does
 * both at once). */
void log_errx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/*
 * An errfn_t for "file:line: message" reports: with arg != NULL (a check
 * run, -t) a plain line on stderr, else a warning through the log.
 */
void log_errfn(void *arg, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* An errfn_t that logs nothing and keeps the first report in arg, a char[LOG_FIRST_MAX] ("" before). */
#define LOG_FIRST_MAX 512
void log_errfn_first(void *arg, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* An errfn_t that says nothing: for a second read of what was reported already. */
void log_errfn_quiet(void *arg, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The same for reports the program cannot run with (its configuration): at err level. */
void log_errfn_fatal(void *arg, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---------------------------------------------------------------- util.c */

/* Hostname / registry-name alphabet: ASCII letters, digits, '-', '.', '_'. */
int util_is_name_byte(unsigned char c);
/* A registry, dependency or feature name: 1-253 (DH_NAME_MAX) bytes of that alphabet. */
int util_name_ok(const char *s, size_t len);
/* malloc/calloc/strdup that never return NULL (fatal on exhaustion). */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
char *xstrdup(const char *s);
/* Monotonic milliseconds, for throttling; never goes backwards. */
int64_t util_now_ms(void);
/* 64-bit FNV-1a over bytes; the snapshot checksum and the host map hash. */
uint64_t util_hash64(const void *data, size_t len);
/* Index of s in the NULL-terminated table names, or -1. */
int names_find(const char *const *names, const char *s);
/* names[i], or "?" when i is outside the table. */
const char *names_at(const char *const *names, int i);
/* The one time format: "2026-11-30T04:22:29Z" (UTC) into out; "?" if t cannot be shown. */
void util_iso_time(time_t t, char *out, size_t len);
/* one when n is 1, else many: "%zu %s", n, util_plural(n, "registry", "registries"). */
const char *util_plural(long long n, const char *one, const char *many);
/* The one duration format, for a person: "45s", "59m 59s", "1h 59m", "2d 3h" (negative: 0s);
 * into buf, which it returns. */
const char *util_span(int64_t s, char *buf, size_t len);

/* Identity of a file as loaded: a publish by rename changes the inode, an edit the rest. */
struct file_id {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtim, ctim;
};
struct stat;
/*
 * The one array growth: p (capacity *cap elements of size bytes) made to hold
 * at least need, doubling; fatal on exhaustion.  Returns the new p.
 */
void *util_grow(void *p, size_t *cap, size_t need, size_t size);
/*
 * s (len bytes) as the inside of a JSON string, malloc'd: quote, backslash and
 * controls escaped, valid UTF-8 kept, any other byte U+FFFD.  The one escaper
 * of the event log and every --json output.
 */
char *util_json_strn(const char *s, size_t len);
char *util_json_str(const char *s);
/*
 * Open (or create) the lock file at path for flock(2): mode 0600, and made so
 * when this user owns an older one, because flock works on any descriptor:
 * anyone who can open the file could hold the lock and stop every run.
 * Returns the descriptor or -1 (errno set).
 */
int util_lock_open(const char *path);
/* s as a whole decimal number in [min, max] (min >= 0: no sign, no space, nothing after),
 * or -1: every command-line count and duration is read by this. */
long util_num(const char *s, long min, long max);
/*
 * Usage errors, every program's: one line on stderr naming what was wrong,
 * "PROG: MESSAGE (see PROG -h)", then exit 2 (never the whole usage).
 */
_Noreturn void util_usage_error(const char *prog, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* What getopt(_long) found wrong, after it returned ch ('?', or ':' for a missing argument
 * when its option string starts with ':'): "unknown option -x", "unknown option --foo",
 * "option -c needs an argument", "option --help takes no argument"; into buf. */
const char *util_opt_error(int ch, char *const *argv, char *buf, size_t len);
/* The argument s of option opt ("-r", "budget: -P") as util_num reads it, or a usage error of
 * prog naming both. */
long util_opt_num(const char *prog, const char *opt, const char *s, long min, long max);

/* ---------------------------------------------------------------- run.c */
/* The prober's and the follower's run: -r/-d, signals, the run lock, the repeat. */

/* Set by SIGTERM or SIGINT once run_signals is in place: finish the pass, then stop. */
extern volatile sig_atomic_t run_stopping;
/* SIGPIPE and SIGXFSZ ignored (a write fails instead); SIGTERM and SIGINT set run_stopping. */
void run_signals(void);
/* The options both programs take: -c -t -v -r -d -S/--syslog -V/--version -h/--help. */
struct run_opts {
	const char *conf_path; /* -c, else $DEEPHEALTH_CONFIG, else DH_DEFAULT_CONF */
	int test_only, verbose, to_syslog;
	long every;            /* -r: seconds between passes, 1..3600; 0: one pass */
	long total;            /* -d: seconds in all, 1..86400; default 60 */
};
/* Parse them into o; usage(stdout, 0) for -h (usage exits), and for anything wrong one line
 * naming it (util_usage_error: exit 2); -V prints "prog VERSION" and exits 0. */
void run_options(int argc, char **argv, const char *prog, void (*usage)(FILE *fp, int code),
                 struct run_opts *o);
#define RUN_LOCK_HELD (-1)  /* another run holds the lock: logged with its pid */
#define RUN_LOCK_ERROR (-2) /* the lock file could not be opened or locked: logged */
/* Take the run lock at path (util_lock_open, flock, our pid written in it): its descriptor,
 * held until exit, or RUN_LOCK_HELD or RUN_LOCK_ERROR.  prog names us in the log. */
int run_lock(const char *path, const char *prog);
/*
 * Call pass(arg) now, then every `every` seconds after the start of the one before (0:
 * once), as long as the next would start, with reserve_ms to spare, within `total`
 * seconds of the first; return early once run_stopping is set.
 */
void run_repeat(long every, long total, int64_t reserve_ms, void (*pass)(void *arg), void *arg);

/* Close *fd unless already closed (-1), log a failure naming what, and set it to -1. */
void util_close(int *fd, const char *what);
/* Free a NULL-terminated string vector and its strings; NULL is fine. */
void util_strv_free(char **v);

/*
 * A name -> number index (open addressing, FNV-1a): the dependency names of a
 * configuration, the host map.  Keys are kept by pointer and must outlive it.
 */
struct name_index;
struct name_index *nidx_new(void);
void nidx_free(struct name_index *x); /* NULL is fine */
/* Add key (len bytes) -> value.  Returns 0, or -1 when key is there already (kept). */
int nidx_add(struct name_index *x, const char *key, size_t len, uint32_t value);
/* The value of key (len bytes, no NUL needed), or -1.  NULL x finds nothing. */
int64_t nidx_find(const struct name_index *x, const char *key, size_t len);
size_t nidx_count(const struct name_index *x);
/* Point key, which must be there, at value instead. */
void nidx_replace(struct name_index *x, const char *key, size_t len, uint32_t value);

/* Length of the valid UTF-8 sequence (2..4 bytes) at p, left bytes there; 0 when none. */
size_t util_utf8_len(const unsigned char *p, size_t left);

/* ---------------------------------------------------------------- evlog.c */

/*
 * The event log (prober.event_log, docs/events.md): one JSON object per line.
 * Writing one line into m (a memstream): evlog_line (the opening and "time"),
 * then its fields in order (strings escaped by util_json_strn), then
 * evlog_end.  evlog_append writes a buffer of whole lines in one write(2)
 * (O_APPEND; to fd, or to path opened and created 0644 when fd is -1), each
 * line first read back by evlog_parse: 0, or -1 with why in err.
 */
void evlog_line(FILE *m, time_t when);
void evlog_str(FILE *m, const char *key, const char *v);
void evlog_strn(FILE *m, const char *key, const char *v, size_t len);
void evlog_num(FILE *m, const char *key, long long v);
int evlog_end(FILE *m);
int evlog_append(const char *path, int fd, const char *buf, size_t len, char *err, size_t errlen);

#define EVLOG_FIELDS_MAX 48
#define EVLOG_KEY_MAX 40
enum evlog_type { EVLOG_STR, EVLOG_INT, EVLOG_BOOL, EVLOG_NULL };
struct evlog_field {
	const char *key;
	enum evlog_type type;
	const char *str;             /* EVLOG_STR: unescaped, NUL-terminated (never holds a NUL) */
	long long num;               /* EVLOG_INT; EVLOG_BOOL 1 or 0 */
};
/* One line, read: its fields in the line's order. */
struct evlog_event {
	char *buf;                   /* the keys and strings, owned */
	size_t n;
	struct evlog_field f[EVLOG_FIELDS_MAX];
	const char *time;            /* "time" */
	const char *kind;            /* "event"; "transition" for a dependency's line, which has none */
};
/*
 * Read one line (len bytes, no line end needed): 0 and ev filled
 * (evlog_event_free it), or -1 with "column N: why" in err and nothing to free.
 */
int evlog_parse(const char *line, size_t len, struct evlog_event *ev, char *err, size_t errlen);
const struct evlog_field *evlog_get(const struct evlog_event *ev, const char *key);
/* A string field's value, or NULL (absent, or not a string). */
const char *evlog_str_of(const struct evlog_event *ev, const char *key);
/* An integer field's value, or -1 when absent or not an integer (for a count: none). */
long long evlog_num_of(const struct evlog_event *ev, const char *key);
void evlog_event_free(struct evlog_event *ev);

void file_id_of(const struct stat *st, struct file_id *id);
int file_id_eq(const struct file_id *a, const struct file_id *b);

/* ---------------------------------------------------------------- snap.c */

/*
 * One name table per enum, NULL-terminated and indexed by value: printed by
 * the x_str functions and names_at, parsed by names_find (configuration,
 * snapshot fixtures, the tools).
 */
enum verdict { VERDICT_PASS = 0, VERDICT_WARN = 1, VERDICT_FAIL = 2, VERDICT_UNKNOWN = 3 };
extern const char *const verdict_names[];
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
/* The snapshot checksum (not a defence against a forger); the region-wide override file uses it too. */
uint64_t snap_checksum(const unsigned char *p, size_t len);

#define SNAP_MAGIC "DHSNAP\r\n"
#define SNAP_VERSION 2
#define SNAP_HEADER_SIZE 64
#define SNAP_RECORD_SIZE 24
#define SNAP_MAX_SIZE (256u * 1024 * 1024)
#define SNAP_FLAG_BLIND 0x1u       /* header: the prober could not evaluate */
#define SNAP_FLAG_GUARD 0x2u       /* header: the prober's failover guard holds (docs/guard.md) */
#define SNAP_FLAGS_KNOWN (SNAP_FLAG_BLIND | SNAP_FLAG_GUARD)
#define SNAP_REG_SINGLE_REGION 0x1u /* registry: served from one region only */
#define SNAP_DEP_WITNESS 0x1u       /* dependency: a witness check */
#define SNAP_DEP_ALL 0x2u           /* dependency: every registry uses it (region-wide) */
#define SNAP_USES_MAX 255           /* dependencies one registry lists, beyond region-wide ones */
#define SNAP_NO_DEP UINT32_MAX
/* A snapshot may claim to be this many seconds in the future (clock skew). */
#define SNAP_FUTURE_SKEW 5

enum dep_kind {
	DEP_KIND_STORAGE, DEP_KIND_CACHE, DEP_KIND_AUTH, DEP_KIND_CONTAINERS,
	DEP_KIND_METADATA, DEP_KIND_OTHER, DEP_KIND_COUNT
};
extern const char *const dep_kind_names[];
const char *dep_kind_str(enum dep_kind k);
enum severity { SEV_CRITICAL = 0, SEV_DEGRADED = 1, SEV_COUNT };
extern const char *const severity_names[];
const char *severity_str(enum severity s);

/*
 * The verdict rule, the prober's and (for dependency overrides) the
 * responder's: what a dependency in state means for a registry that uses it
 * (a critical failure fails it, a degraded one or any warn warns it), and the
 * fold that keeps the worst, the lowest dependency index deciding a tie.
 */
enum verdict verdict_contribution(enum verdict state, enum severity sev);
void verdict_fold(enum verdict v, uint32_t dep, enum verdict *worst, uint32_t *by);

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
	uint32_t uses, nuses; /* its dependencies beyond region-wide ones: snap_use_at(uses + k) */
};

struct snapshot; /* opaque, immutable once loaded */

/*
 * Read and fully validate the snapshot at path.  now is the wall clock used
 * for the future-timestamp check.  On success returns SNAP_OK and *out
 * (caller frees with snap_free).  On failure *out is NULL and, when detail is
 * not NULL, a one-line human reason is written there.  SNAP_MISSING and
 * SNAP_UNREADABLE from open(2) leave its errno (EMFILE tells a process out of
 * descriptors from a file it may not read).
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
/* The region-wide dependencies (SNAP_DEP_ALL): every registry uses them.  *n gets their count. */
const uint32_t *snap_all_deps(const struct snapshot *s, size_t *n);
/* The k-th entry of the uses table: a dependency index (snap_reg.uses + k, k < nuses). */
uint32_t snap_use_at(const struct snapshot *s, uint32_t i);
/* Binary search by exact name; returns 1 and fills out, or 0. */
int snap_find_reg(const struct snapshot *s, const char *name, size_t len, struct snap_reg *out);
/*
 * The multi-region registries whose verdict is fail (what the failover guard
 * counts: single-region ones are answered 200 anyway); *multi (unless NULL)
 * gets how many multi-region registries there are.  s NULL: 0.  O(registries).
 */
size_t snap_failing_multi(const struct snapshot *s, size_t *multi);

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
/* The dependencies (indexes) the registry added last uses beyond region-wide ones: 0, or -1. */
int snapw_set_uses(struct snap_writer *w, const uint32_t *deps, size_t n);
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

/* ---------------------------------------------------------------- publish.c */

/*
 * Replace path with len bytes of buf, atomically for its readers: a temp file
 * ".NAME.tmp.XXXXXX" in the same directory, written, given mode, fsynced,
 * renamed over path, then the directory fsynced (a failure there is logged:
 * the file is in place, only its durability across a crash is unsure).
 * Returns 0, or -1 with path untouched, the temp file removed and a reason in err.
 */
int publish_file(const char *path, const void *buf, size_t len, mode_t mode, char *err,
                 size_t errlen);
/* Remove the temp files an interrupted publish_file of path left; returns how many (logged). */
size_t publish_clean(const char *path);

/* ---------------------------------------------------------------- override.c */

/* What an operator override does (docs: deephealthctl(8)). */
enum ovr_action {
	OVR_FORCE_PASS, OVR_FORCE_FAIL, OVR_ENFORCE, OVR_SHADOW,
	OVR_ALLOW_FAILOVER /* the region only: the prober lets a tripped failover guard through */
};
extern const char *const ovr_action_names[];

enum ovr_scope { OVR_REGION, OVR_REGISTRY, OVR_DEPENDENCY };
/* Which file an override comes from: this node's, or the region-wide one (docs/overrides.md). */
enum ovr_origin { OVR_NODE, OVR_REGIONWIDE, OVR_ORIGIN_COUNT };
extern const char *const ovr_origin_names[];

struct override {
	char *scope;              /* "region", "registry:GLOB" or "dependency:GLOB", as written */
	enum ovr_scope kind;
	const char *glob;         /* after "registry:" or "dependency:", or NULL for the region */
	enum ovr_action action;
	int64_t until, set;       /* Unix times: in force while now < until */
	char *by, *reason;
	unsigned line;            /* its line in its file */
	enum ovr_origin origin;
	char *from;               /* region-wide on a front door: the source that served it, or NULL */
	uint32_t rank;            /* precedence: a higher rank wins (set later; node before region) */
};

struct overrides {
	struct override *v;
	size_t n;
	struct name_index *exact; /* exact registry name -> its newest line's index */
	uint32_t *next_same;      /* the next older override of that name, or UINT32_MAX */
	uint32_t *globs, *region; /* indexes of the glob and the region overrides */
	size_t nglobs, nregion;
	size_t *prefix;           /* per override: its glob's literal prefix length */
	unsigned char *gfirst;    /* per glob: its first byte, or 0 when it starts with a wildcard */
	uint32_t *depov;          /* indexes of the dependency overrides */
	size_t ndepov;
	int borrowed;             /* ovr_union's: v[i]'s strings belong to the sets it was made of */
};

/* "region", "registry:NAME" or "dependency:NAME", NAME a name or a glob of names. */
int ovr_scope_ok(const char *scope);
/*
 * Parse an override file (len bytes of buf, named path in reports).  Every bad
 * line is reported as "path:line: message"; a file with any is refused whole.
 * An override may not expire more than max_span seconds after it was set.
 * Returns the number of errors; on 0, *out holds the overrides (ovr_free).
 */
int ovr_parse(const char *path, const char *buf, size_t len, int64_t max_span,
              struct overrides **out, errfn_t errfn, void *arg);
/*
 * The bytes of the override file at path (at most 4 MiB), malloc'd, *len of
 * them, *mtime its modification time unless NULL; NULL with the reason in err
 * (errno ENOENT when there is no file).
 */
char *ovr_file_read(const char *path, size_t *len, int64_t *mtime, char *err, size_t errlen);
/* The same from the file at path: -1 (and *out NULL) when it does not exist. */
int ovr_load(const char *path, int64_t max_span, struct overrides **out, errfn_t errfn,
             void *arg);
void ovr_free(struct overrides *o); /* NULL is fine */
/*
 * The registry or region override in force at now that sets registry's answer
 * (force-pass or force-fail) and the one that sets its mode (enforce or shadow), each NULL
 * when none: a registry's own (exact or glob) beats the region's, and among
 * those a later line beats an earlier.  registry NULL (an unknown Host): the
 * region's only.  O(1) for exact names, plus a prefix compare (and fnmatch
 * when it matches) per glob.
 */
void ovr_lookup(const struct overrides *o, const char *registry, int64_t now,
                const struct override **force, const struct override **mode);
/*
 * The dependency override in force at now for dependency dep (len bytes): the
 * latest line of those whose glob matches, or NULL.
 */
const struct override *ovr_dep_lookup(const struct overrides *o, const char *dep, size_t len,
                                      int64_t now);
/*
 * The region's allow-failover override in force at now (the latest line), or
 * NULL: while one is, the prober publishes no guard flag (docs/guard.md).  The
 * responders never act on it; ovr_lookup never returns it.
 */
const struct override *ovr_allow_failover(const struct overrides *o, int64_t now);
/* Is any dependency override in force at now?  (If not, verdicts are the snapshot's.) */
int ovr_deps_in_force(const struct overrides *o, int64_t now);
/* Write v as one line of the file format. */
int ovr_write_line(FILE *f, const struct override *v);
/*
 * Where v is written, for a person: "node /path/overrides:3" or
 * "region-wide /path/overrides.region:4 from prober-1:80" (node_path and
 * region_path the two files' paths).
 */
const char *ovr_where(const struct override *v, const char *node_path, const char *region_path,
                      char *buf, size_t len);
/*
 * One set of the overrides of n sets (NULL ones skipped), for lookups: the
 * node's and the region-wide, or a front door's sources' region-wide files.
 * from[i] (from NULL or from[i] NULL: unchanged) names set i's source on its
 * overrides.  The result borrows the sets' strings: free it (ovr_free) first.
 */
struct overrides *ovr_union(const struct overrides *const *sets, char *const *from,
                            size_t n);

/*
 * The region-wide file (responder.region_overrides): the same lines after one
 * header line that makes it whole or nothing,
 *     deephealth-overrides 1 length=BYTES checksum=HEX16
 * (the bytes after the header line and their snap_checksum), and an optional
 * from=SOURCE field per line.  Written by deephealthctl override --region-wide
 * on a host that publishes for the region, fetched and merged by every front
 * door's deephealth-follow.  A file whose header, length or checksum does not
 * hold is refused whole: damaged, truncated or edited by hand.
 */
#define OVR_REGION_MAGIC "deephealth-overrides 1"
int ovr_parse_region(const char *path, const char *buf, size_t len, int64_t max_span,
                     struct overrides **out, errfn_t errfn, void *arg);
/* ovr_render's region-wide form: the header, then the lines. */
char *ovr_render_region(const struct overrides *o, const char *drop, const struct override *add,
                        int64_t now, size_t *len);

/*
 * The file and its last good copy.  deephealthctl writes both (ovr_save); a
 * file damaged by hand (any bad line) is ignored whole, and the responders,
 * the prober and deephealthctl keep to the good copy (path + OVR_GOOD_SUFFIX)
 * instead, loudly: never to "no overrides" while a good one exists.
 */
#define OVR_GOOD_SUFFIX ".good"
#define OVR_BAD_MAX 20 /* bad lines kept for the status page */
enum ovr_file_state {
	OVR_FILE_NONE,     /* no file: none in force */
	OVR_FILE_OK,       /* the file is in force */
	OVR_FILE_FALLBACK, /* the file is damaged: its good copy is in force */
	OVR_FILE_DAMAGED,  /* the file is damaged and so is (or there is no) good copy: none */
	OVR_FILE_STATE_COUNT
};
extern const char *const ovr_file_state_names[];
struct ovr_bad {
	unsigned line;            /* 0: the file as a whole (unreadable, too large) */
	char message[160];
	char text[120];           /* the line as written, shortened; non-printable bytes as '?' */
};
struct ovr_view {
	struct overrides *ovr;    /* in force: the file's, the good copy's (fallback), or NULL */
	enum ovr_file_state state;
	int errors;               /* the file's bad lines, when damaged */
	struct ovr_bad bad[OVR_BAD_MAX];
	size_t nbad;
	int64_t good_time;        /* fallback: when the good copy was written */
};
/*
 * Load what is in force from path: its overrides, or, when it has bad lines
 * (each reported through errfn), its good copy's.  Returns the file's bad
 * lines (0: none, or no file).  vw is always filled; ovr_view_free it.
 */
int ovr_open(const char *path, int64_t max_span, struct ovr_view *vw, errfn_t errfn, void *arg);
/* The same for the region-wide file (ovr_parse_region). */
int ovr_open_region(const char *path, int64_t max_span, struct ovr_view *vw, errfn_t errfn,
                    void *arg);
void ovr_view_free(struct ovr_view *vw); /* NULL is fine; safe twice */
/*
 * A file the responders keep looking at (the node's or the region-wide): a
 * stat(2) per call, a parse only when it or (while it is damaged) its good
 * copy changed; every change of what is in force logged once.
 */
struct ovr_watch {
	const char *path;
	int region;               /* the region-wide format */
	errfn_t errfn;            /* a bad line's report (NULL: log_errfn) */
	void *arg;
	int quiet;                /* changes not logged (deephealthctl, which looks once) */
	struct ovr_view vw;
	struct file_id id;        /* the file's (zeros: none, unreadable) */
	struct file_id good_id;   /* its good copy's, looked at while the file is damaged */
	int seen;                 /* vw is what id and good_id say */
};
/* Returns 1 when what is in force may have changed (vw was read again), else 0. */
int ovr_watch_refresh(struct ovr_watch *w, int64_t max_span);
/*
 * The overrides in force from the node's file and the region-wide one, as one
 * set (ovr_union): *all is rebuilt when either watch changed; returns 1 then.
 */
int ovr_watch_both(struct ovr_watch *node, struct ovr_watch *region, int64_t max_span,
                   struct overrides **all);

/*
 * The text of a whole file: o's overrides but those dropped (drop[i], drop
 * NULL for none) and those expired a day before now, then add (or NULL).
 * Returns a malloc'd buffer of *len bytes.
 */
char *ovr_render(const struct overrides *o, const char *drop, const struct override *add,
                 int64_t now, size_t *len);
/*
 * Check buf (len bytes) with the responders' parser, then publish it at path
 * and as its good copy.  Returns 0; -1 when nothing was written (why through
 * errfn); 1 when the file was written but not its good copy.
 */
int ovr_save(const char *path, const char *buf, size_t len, int64_t max_span, errfn_t errfn,
             void *arg);
int ovr_save_region(const char *path, const char *buf, size_t len, int64_t max_span,
                    errfn_t errfn, void *arg);
/* Write the event-log line of change ("add", "remove", "expire") of v, at time when. */
int ovr_event_line(FILE *f, const char *change, const struct override *v, int64_t when);

/* ---------------------------------------------------------------- owner.c */

/*
 * One owner for the state (docs/security.md): every program that writes under the state
 * directory writes as the directory's owner, so that root's runs and the timer's user's
 * runs can use each other's files.  The state directory is the directory of file; paths
 * (NULL-terminated; "" entries are skipped) are what the program writes or locks there,
 * each directory before what it holds.  Called once, after the configuration is loaded,
 * before anything is read or written.
 *   - Run by root, the directory another user's: with OWNER_RUN, each listed path that root
 *     owns in a directory that user owns is given to it (logged at info); then the process
 *     becomes that user for good (its groups, gid, uid; root out of reach, checked).
 *   - Run by the owner (or root, once it became the owner): a listed path that is still
 *     someone else's is reported (its runs may fail on it).
 *   - Run by any other user: refused, naming the directory, its owner and what to do.
 *   - Root in root's directory, or no directory at all: nothing.
 * OWNER_CHECK (-t) does the same but gives nothing away, and counts what it reports.
 * Reports go through errfn(arg, ...).  Returns 0 to go on, else the number of problems:
 * with OWNER_RUN a refusal or a failed change of user (the caller stops: nothing written).
 */
enum owner_mode { OWNER_RUN, OWNER_CHECK };
int owner_become(const char *file, const char *const *paths, enum owner_mode mode,
                 errfn_t errfn, void *arg);

/* ---------------------------------------------------------------- regfile.c */

/*
 * The registry map file (docs/registries.md), read line by line by the prober
 * (what each registry uses) and deephealthctl lb (where it is served).
 */
#define REGFILE_FIELDS 4    /* name regions storage features */
#define REGFILE_REPORTED 20 /* bad lines told, then a count */
struct regfile;
/* Open path; NULL when it cannot be (reported through errfn). */
struct regfile *regfile_open(const char *path, errfn_t errfn, void *arg);
/*
 * The next registry line: its four fields (NUL-terminated, valid until the next
 * call) in f and its line number; a line with another number of fields or a
 * bad registry name is held as a bad line and skipped.  Returns 1, 0 at the
 * end, -1 when the file could not be read to its end.
 */
int regfile_next(struct regfile *rf, char *f[REGFILE_FIELDS], unsigned *line);
/* Hold a bad line the reader found in a line's fields. */
void regfile_bad(struct regfile *rf, unsigned line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Hold a duplicate registry: name at line, first named at first. */
void regfile_dup(struct regfile *rf, unsigned line, unsigned first, const char *name);
/* Report every held line in line order (the first 20, then a count), close; the bad lines. */
size_t regfile_close(struct regfile *rf); /* NULL is fine */

/* ---------------------------------------------------------------- regions.c */

/* One region of the service: where its front doors answer. */
struct region {
	char *name;           /* as the registry map names it */
	char **addresses;     /* its front doors' addresses (IPv4 or IPv6 literals), NULL-terminated */
	size_t naddr;
	char *admin;          /* its admin side's base URL (status, metrics), "" for none */
	unsigned line;        /* where it is described */
};

/* The regions description (docs/regions.md): deephealthctl lb and where read it. */
struct regions {
	char *path;
	char *zone;           /* a registry NAME is served as NAME.zone */
	int port;             /* the front doors' HTTP port */
	char *health_path;    /* what a load balancer probes, with the name as Host */
	int ttl;              /* of the DNS answers a generated configuration gives */
	int interval, timeout, fall, rise; /* asked of the load balancer: seconds, probes */
	struct region *v;     /* in the file's order */
	size_t n;
};

/*
 * Load and check the regions description at path; every problem reported
 * through errfn as "file:line: message".  Returns it (regions_free), or NULL
 * when anything was wrong.
 */
struct regions *regions_load(const char *path, errfn_t errfn, void *arg);
void regions_free(struct regions *r); /* NULL is fine */
/* The region named name (len bytes), or NULL. */
const struct region *regions_find(const struct regions *r, const char *name, size_t len);
/* A DNS name as a zone or host in a generated configuration: lower-case labels, no root dot. */
int regions_hostname_ok(const char *s);
/*
 * Is origin (a browser's Origin header) the origin of one region's admin side
 * (scheme://host[:port], case and the scheme's own port aside)?  The pages of
 * one region may then read another's admin documents (CORS).  r may be NULL.
 */
int regions_origin_ok(const struct regions *r, const char *origin);
/* The description as one JSON object (zone, port, path, load_balancer, regions with self). */
void regions_json(FILE *f, const struct regions *r, const char *self);

/* ---------------------------------------------------------------- fleet.c */

/*
 * What deephealth-follow says beside the snapshot it published
 * (snapshot.path + ".fleet"; docs/fleet.md): what decided and each prober's
 * state.  Informational: it changes no answer.
 */
enum source_state { SRC_UNREACHABLE, SRC_INVALID, SRC_STALE, SRC_BLIND, SRC_FRESH, SRC_STATE_COUNT };
/*
 * A source's region-wide overrides, as a front door holds them: none (it never
 * served a file), ok (verified this pass), kept (not reachable this pass: the
 * last verified copy stays in force), refused (it served a file that failed
 * verification: refused whole; the last verified copy stays in force).
 */
enum rovr_state { ROVR_NONE, ROVR_OK, ROVR_KEPT, ROVR_REFUSED, ROVR_STATE_COUNT };
extern const char *const rovr_state_names[];
extern const char *const source_state_names[];
#define FLEET_SOURCES_MAX 16
#define FLEET_NAME_MAX 128
#define FLEET_DECIDED_MAX 320
struct fleet {
	int present;
	char decided[FLEET_DECIDED_MAX];   /* "freshest prober-1:8080", "quorum 2 of 3", ... */
	size_t n;
	struct {
		char name[FLEET_NAME_MAX + 1];
		enum source_state state;
		int64_t created;               /* 0: never had a snapshot */
		/* Its region-wide overrides (an "overrides" line; none when the line is absent). */
		enum rovr_state ovr_state;
		unsigned ovr_count;            /* in the copy in use */
		int64_t ovr_verified;          /* when that copy was fetched and verified; 0 never */
		char ovr_why[200];             /* why not ok, shortened */
	} src[FLEET_SOURCES_MAX];
};
/* Read snapshot_path's .fleet file: 1 read, 0 none (fl->present 0), -1 a bad one (reason in err). */
int fleet_load(const char *snapshot_path, struct fleet *fl, char *err, size_t errlen);
/*
 * What decided when a pass left the published snapshot as it was (no source
 * fresh, nothing newer, a publish that failed): the snapshot the answers
 * still come from, its source and time, and why it is not refreshed:
 *     freshest prober-1:8080, snapshot 2026-12-07T13:50:00Z, not refreshed: WHY
 * last is what decided that snapshot ("" when not known: "unknown source");
 * created < 0 (no snapshot published): "none: WHY".  Into out.
 */
void fleet_unrefreshed(char *out, size_t len, const char *last, int64_t created, const char *why);
/* What decided the published snapshot, from a decided line (either form above), into out:
 * "" for "none: ..." or an unknown source. */
void fleet_decided_source(const char *decided, char *out, size_t len);
/* fl as one JSON object {"decided":..., "sources":[...]}; ages against now. */
void fleet_json(FILE *f, const struct fleet *fl, time_t now);

/* ---------------------------------------------------------------- prom.c */

/* "# HELP name text" and "# TYPE name type". */
void prom_help(FILE *f, const char *name, const char *type, const char *text);
/* deephealth_build_info{program="PROGRAM",version="DH_VERSION"} 1, with its HELP and TYPE. */
void prom_build_info(FILE *f, const char *program);
/*
 * A state set (the Prometheus convention for an enum): one series per state of
 * states (a NULL-terminated name table), NAME{LABELS,state="S"}, 1 for current
 * and 0 for every other.  labels: "" or `a="x",b="y"`, escaped by the caller.
 */
void prom_stateset(FILE *f, const char *name, const char *labels, const char *const *states,
                   int current);

/* ---------------------------------------------------------------- conf.c */

/*
 * The configuration core: one file, sections read against tables of options
 * (below).  Every program reads the whole file with the same tables, so a
 * mistake anywhere is found by any program's -t.  The parts only one program
 * uses are that program's conf_ext: the resolver's rules and host map
 * (fcgi/resolve.c) and the dependency list with its checks
 * (src/prober/deps.c).  A program without an extension checks only that its
 * section is there in the right shape.
 */
struct resolver;
struct dep_conf;
struct config_setting_t; /* libconfig's */

enum mode { MODE_ENFORCE, MODE_SHADOW, MODE_PASSTHROUGH };
#define FOLLOW_SOURCES_MAX 16 /* probers one follower fetches from */
enum follow_policy { FOLLOW_FRESHEST, FOLLOW_QUORUM };
extern const char *const follow_policy_names[];
extern const char *const mode_names[];
enum unknown_action { UNKNOWN_PASS, UNKNOWN_REJECT };
enum detail { DETAIL_STATUS, DETAIL_CAUSE };

struct conf_ext;

/*
 * An OPT_BOUND's value: a count (an integer from min to max) or a share of a
 * whole known only later (a string "P%", P from 1 to 99).  Both 0: not set
 * (the key is absent; there is no default).
 */
struct conf_bound {
	long count;
	int pct;
};
/* The bound for a whole of n: the count, or floor(pct * n / 100); 0 when not set. */
size_t conf_bound_of(const struct conf_bound *b, size_t n);
/* "500" or "25%" into buf; "" when not set. */
const char *conf_bound_str(const struct conf_bound *b, char *buf, size_t len);

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
	int recheck_ms;     /* how often to stat snapshot, kill switch and overrides */
	char *overrides;    /* the operator's override file (deephealthctl override) */
	char *region_overrides; /* the region-wide one (default: overrides + ".region") */
	int override_max;   /* seconds: the longest an override may stay in force */
	char *counters;     /* the answer counters every responder process maps */
	char *regions;      /* the regions description the admin side shows, "" = none */
	/* log { } */
	int log_syslog;
	enum log_level log_level;
	/* resolver { } */
	char *host_map;
	char **rules;       /* NULL-terminated patterns, as configured */
	int match_limit, depth_limit;
	struct resolver *resolver;  /* built by the responder's extension, else NULL */
	/* prober { } */
	char *registries;   /* registry map file; "" = none configured */
	char *region;
	char *state_path;
	char *lock_path;
	char *event_log;    /* "" = none */
	int event_log_verdicts; /* registry verdict changes logged per pass, one line each */
	char *metrics;      /* the prober's metrics for node_exporter's textfile collector; "" = none */
	char *proxy;        /* default proxy of http checks; "" = none */
	int interval, deadline, parallel;
	int fall, rise, ok, intermittent;
	int blind_unknown_pct;
	struct conf_bound guard_max_failing; /* the failover guard (docs/guard.md); unset = off */
	int guard_hold;     /* seconds at or under the bound before the guard lets go */
	/* follower { }: a front door that fetches its snapshot from the region's probers */
	char **follow_sources;  /* NULL-terminated URLs of the probers' snapshots, or NULL */
	enum follow_policy follow_policy;
	int follow_quorum;      /* quorum: probers that must agree to fail (or warn) a registry */
	int follow_timeout_ms;  /* each request */
	char *follow_cache;     /* directory: the last verified copy from each source */
	/* dependencies ( ): built by the prober's extension, else none */
	struct dep_conf *deps;
	size_t ndeps;
	struct name_index *dep_index; /* name -> index into deps */
	/* where the prober's paths are configured (or their section, or 1), for -t reports */
	unsigned snapshot_line, state_line, lock_line, event_log_line, metrics_line;
	const struct conf_ext *const *exts; /* as given to conf_load, for conf_free */
};

/*
 * Load and validate path, with the extensions in exts (NULL-terminated, or
 * NULL for none).  Every problem is reported through errfn as "file:line:
 * message" (all of them, not just the first).  Returns a conf (caller frees
 * with conf_free) or NULL when at least one error was found.
 */
struct conf *conf_load(const char *path, const struct conf_ext *const *exts, errfn_t errfn,
                       void *arg);
void conf_free(struct conf *c); /* NULL is fine */

/* -- the table engine, for extensions -- */

enum opt_type { OPT_INT, OPT_STR, OPT_PATH, OPT_BOOL, OPT_ENUM, OPT_STRLIST, OPT_BOUND };


/*
 * One option: its type, range and default.  A key missing from its table is
 * an error; so is a value outside [min, max] or not in names.  Numbers and
 * enums are stored as int at off; strings as char *; lists as char **; a
 * bound as struct conf_bound (min and max: the count's range).  A
 * STR or PATH with def_str NULL is required; an INT, BOOL or ENUM with def
 * -1 is left -1 when absent, for the caller to derive.
 */
struct conf_opt {
	const char *key;
	enum opt_type type;
	long min, max;
	long def;
	const char *def_str;
	const char *const *names; /* ENUM: NULL-terminated */
	size_t off;
};
struct conf_table {
	const char *name;
	const struct conf_opt *opts;
	size_t n;
};
#define CONF_TABLE(name, opts) { name, opts, sizeof(opts) / sizeof(opts[0]) }
#define CONF_MAXOPTS 40

/* What one group held, per option of its table. */
struct conf_grp {
	const struct config_setting_t *set;                   /* the group, NULL when absent */
	const struct config_setting_t *found[CONF_MAXOPTS];   /* present and valid */
	const struct config_setting_t *seen[CONF_MAXOPTS];    /* present, valid or not */
	char label[64];                                       /* "snapshot", "dependencies[3]" */
};

struct conf_loader; /* the file being loaded: its path, directory, error count */

/* What a program adds to conf_load: a section only it uses. */
struct conf_ext {
	const char *section;
	/* Called once, after every table section is read; sec is NULL when absent. */
	void (*load)(struct conf_loader *l, struct conf *c, const struct config_setting_t *sec);
	void (*free)(struct conf *c);
};

/* Report "file:line: message" at setting at (its line; the file's line 1 when NULL). */
void conf_err(struct conf_loader *l, const struct config_setting_t *at, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The loader's errfn and arg, for reports of files the configuration names. */
void conf_errfn(struct conf_loader *l, errfn_t *fn, void **arg);
/*
 * Store the value of setting s (key o of g's table, index i) at base + o->off,
 * or report why not.  A relative PATH is taken from the configuration's
 * directory.
 */
void conf_set(struct conf_loader *l, struct conf_grp *g, const struct conf_opt *o, size_t i,
              const struct config_setting_t *s, void *base);
/* Fill every option of t not found in g with its default; a missing required one is reported. */
void conf_defaults(struct conf_loader *l, const struct conf_table *t, struct conf_grp *g,
                   void *base);
/* Index of key in t, or -1. */
int conf_opt_index(const struct conf_table *t, const char *key);

/*
 * Another file of ours in the same syntax, read with the same tables (the
 * regions description, src/regions.c): conf_file_open reads it (a file that
 * cannot be read or parsed is reported, and its root is then NULL); the
 * reader walks conf_file_root with conf_read_group and conf_err on
 * conf_file_loader; conf_file_close returns how many errors were reported.
 */
struct conf_file;
struct conf_file *conf_file_open(const char *path, errfn_t errfn, void *arg);
struct conf_loader *conf_file_loader(struct conf_file *f);
const struct config_setting_t *conf_file_root(const struct conf_file *f);
int conf_file_close(struct conf_file *f); /* NULL is fine */
/*
 * Read group set (NULL when absent) against t into base, as a section of
 * deephealth.conf is read: unknown keys and bad values reported, then the
 * defaults (a missing required key reported).  label names it in reports.
 */
void conf_read_group(struct conf_loader *l, const struct conf_table *t,
                     const struct config_setting_t *set, const char *label, struct conf_grp *g,
                     void *base);
/* "a, b, c" from a NULL-terminated name list, into buf. */
const char *conf_name_list(const char *const *names, char *buf, size_t len);
/* "" or a proxy URL libcurl takes: a scheme it knows, then a host. */
int conf_proxy_ok(const char *s);

#endif /* DEEPHEALTH_H */
