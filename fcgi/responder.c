/* responder.c: deephealth.fcgi, the FastCGI responder: Host -> registry -> 200/503, failing open. */
#define _GNU_SOURCE /* ppoll */

#include <errno.h>
#include <fcgiapp.h>
#include <fcntl.h>
#include <poll.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "responder.h"

#define UNKNOWN_LOG_MS 60000 /* summarize unknown/invalid hosts at most once a minute */

/* Per-class counters of Host headers that resolved to nothing. */
struct host_stats {
	const char *what;
	unsigned long long total, since_log;
	int64_t last_log_ms;
	char last[DH_HOST_MAX + 1];
};

struct responder {
	struct inputs in;           /* what it answers from: src/answer/inputs.c */
	struct host_stats unknown, invalid, error;
	unsigned long long requests;
	/* What every answer is, whatever the Host: a region-wide reason, or R_COUNT (enforcing). */
	enum reason region;
	int64_t region_since_ms;
	int region_known;
	struct regions *regions;    /* responder.regions, for the admin side (NULL: none) */
	char regions_err[512];      /* why not, when it is configured */
};

static void
host_stats_note(struct host_stats *hs, const char *host, int64_t now_ms)
{
	hs->total++;
	hs->since_log++;
	snprintf(hs->last, sizeof(hs->last), "%s", host);
	if (hs->last_log_ms != 0 && now_ms - hs->last_log_ms < UNKNOWN_LOG_MS)
		return;
	log_warnx("%s: %llu %s since last report, %llu in all (last: %s)", hs->what,
	          hs->since_log, util_plural((long long)hs->since_log, "request", "requests"),
	          hs->total, hs->last);
	hs->since_log = 0;
	hs->last_log_ms = now_ms ? now_ms : 1;
}

/* Why the region answers as it does, for the transition log. */
static void
region_detail(const struct responder *r, const struct policy_out *po, char *out, size_t len)
{
	switch (po->reason) {
	case R_CONFIG_ERROR:
		snprintf(out, len, "the configuration did not load");
		break;
	case R_PASSTHROUGH:
		if (r->in.kill_switch)
			snprintf(out, len, "kill switch %s present", r->in.conf->kill_switch);
		else
			snprintf(out, len, "responder.mode is passthrough");
		break;
	case R_SNAPSHOT_STALE:
		snprintf(out, len, "snapshot %lld s old, snapshot.max_age %d s", (long long)po->age,
		         r->in.conf->max_age);
		break;
	case R_PROBER_BLIND:
		snprintf(out, len, "the prober's last pass could not see its witnesses");
		break;
	case R_GUARD: {
		size_t multi = 0, fails = snap_failing_multi(r->in.snap, &multi);

		snprintf(out, len, "the prober's failover guard holds: %zu of %zu multi-region "
		         "registries fail, more than it allows; none fails over until the count falls "
		         "back or an operator allows it (docs/guard.md)", fails, multi);
		break;
	}
	default:
		snprintf(out, len, "snapshot %s: %s", r->in.conf->snapshot_path,
		         snap_err_str(r->in.snap_err));
		break;
	}
}

/* What a region-wide reason does to every answer, for the log. */
static const char *
region_verb(enum reason r)
{
	return r == R_PASSTHROUGH ? "passing through" : r == R_GUARD ? "holding failover" :
	       "failing open";
}

/*
 * Log every change of what the whole region answers, once per process: into
 * a fail-open or pass-through state, from one to another, and back to
 * enforcing.  A failover that switched itself off must not go unseen.
 */
static void
region_note(struct responder *r, const struct policy_out *po, int64_t now_ms)
{
	enum reason now = reason_is_regionwide(po->reason) ? po->reason : R_COUNT;
	char detail[512], lasted[32];

	if (r->region_known && now == r->region)
		return;
	util_span((now_ms - r->region_since_ms) / 1000, lasted, sizeof(lasted));
	if (now != R_COUNT) {
		region_detail(r, po, detail, sizeof(detail));
		if (r->region_known && r->region != R_COUNT)
			log_warnx("%s for every registry: %s (%s); was %s for %s", region_verb(now),
			          reason_str(now), detail, reason_str(r->region), lasted);
		else
			log_warnx("%s for every registry: %s (%s)", region_verb(now), reason_str(now),
			          detail);
	} else if (r->region_known) {
		log_info("enforcing again: %s ended after %s", reason_str(r->region), lasted);
	}
	r->region = now;
	r->region_known = 1;
	r->region_since_ms = now_ms;
}

/* The admin documents: their paths (for the log), counters and content types. */
static const struct {
	const char *path;
	enum counter_event counted;
	const char *type;
} docs[] = {
	[DOC_STATUS] = { STATUS_DOC_PATH, CE_STATUS_REQUESTS, "application/json" },
	[DOC_METRICS] = { METRICS_DOC_PATH, CE_METRICS_REQUESTS,
	                  "text/plain; version=0.0.4; charset=utf-8" },
	[DOC_EVENTS] = { EVENTS_DOC_PATH, CE_EVENTS_REQUESTS, "application/json" },
	[DOC_REGIONS] = { REGIONS_DOC_PATH, CE_REGIONS_REQUESTS, "application/json" },
};

/*
 * A report of the regions description: logged (file:line: message), the first
 * kept for the regions document.  It changes no answer: the description is
 * only what the admin side shows and whom it lets read it.
 */
static void
regions_errfn(void *arg, const char *fmt, ...)
{
	char *first = arg, msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_warnx("%s", msg);
	if (first != NULL && first[0] == '\0')
		snprintf(first, 512, "%s", msg);
}

/*
 * Serve an admin document (status, metrics, events): written into memory,
 * then one write.  Only GET and HEAD; never cached.  The web server keeps
 * these paths to the addresses it allows (the shipped snippets: loopback).
 */
static void
serve_doc(struct responder *r, enum status_doc doc, const char *method, const char *query,
          const char *origin, FCGX_Stream *out)
{
	struct answer_state st;
	struct status_in in;
	struct events_q eq;
	char hdr[1024], cors[600] = "";
	struct status_q sq;
	char *body = NULL;
	size_t len = 0;
	FILE *m;
	int head = strcmp(method, "HEAD") == 0;

	counters_event(&r->in.ctr, docs[doc].counted);
	inputs_state(&r->in, &st);
	status_input(&r->in, &st, time(NULL), &in);
	status_query(query, &sq);
	in.query = sq.q;
	in.limit = sq.limit;
	in.registry = sq.registry[0] != '\0' ? sq.registry : NULL;
	in.failing = sq.failing;
	if ((m = open_memstream(&body, &len)) == NULL) {
		log_warn("%s: cannot build", docs[doc].path);
		FCGX_PutS("Status: 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n", out);
		return;
	}
	if (doc == DOC_STATUS) {
		status_json(m, &in);
	} else if (doc == DOC_METRICS) {
		status_metrics(m, &in);
	} else if (doc == DOC_EVENTS) {
		events_query(query, &eq);
		events_json(m, &(struct events_in){ r->in.conf, r->in.node, in.now, &eq });
	} else {
		status_regions_json(m, &in, r->regions, r->regions_err);
	}
	/* Another region's pages may read the JSON documents (the global page): CORS for the
	 * admin origins of the regions description, echoed only when it names them. */
	if (doc != DOC_METRICS && regions_origin_ok(r->regions, origin))
		snprintf(cors, sizeof(cors), "Access-Control-Allow-Origin: %s\r\n", origin);
	if (fclose(m) != 0) {
		log_warn("%s: cannot build", docs[doc].path);
		free(body);
		FCGX_PutS("Status: 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n", out);
		return;
	}
	snprintf(hdr, sizeof(hdr), "Status: 200 OK\r\nContent-Type: %s\r\n"
	         "Cache-Control: no-store\r\n%s%sContent-Length: %zu\r\n\r\n", docs[doc].type, cors,
	         r->regions != NULL && doc != DOC_METRICS ? "Vary: Origin\r\n" : "", len);
	FCGX_PutS(hdr, out);
	if (!head)
		FCGX_PutStr(body, (int)len, out);
	free(body);
}

/* Handle one request whose parameters are in envp; write the answer to out. */
static void
handle(struct responder *r, FCGX_ParamArray envp, FCGX_Stream *out)
{
	const char *method = FCGX_GetParam("REQUEST_METHOD", envp);
	struct answer_state st;
	struct answer_trace tr;
	char resp[4096];
	int64_t now_ms = util_now_ms();
	int probe = method != NULL && (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0);
	size_t n;

	const char *query;
	time_t now;
	enum status_doc doc = status_route(FCGX_GetParam("REQUEST_URI", envp), &query);

	r->requests++;
	/* Only a probe looks at the files: a flood of other methods costs no stat(2). */
	if (probe)
		inputs_refresh(&r->in, now_ms);
	if (doc != DOC_HEALTH && probe) {
		serve_doc(r, doc, method, query, FCGX_GetParam("HTTP_ORIGIN", envp), out);
		return;
	}
	inputs_state(&r->in, &st);
	now = time(NULL);
	n = answer_request(&st, method, FCGX_GetParam("HTTP_HOST", envp),
	                   FCGX_GetParam("HTTP_ACCEPT", envp), now, &tr, resp, sizeof(resp));
	counters_answer(&r->in.ctr, tr.po.reason, tr.po.http, (int64_t)now);
	if (tr.resolved && tr.result != RESOLVE_FOUND)
		counters_host(&r->in.ctr, host_kind_of(tr.result, tr.herr));
	if (tr.resolved && tr.result == RESOLVE_UNKNOWN)
		host_stats_note(&r->unknown, tr.host, now_ms);
	else if (tr.resolved && tr.result == RESOLVE_INVALID)
		/* Never echo raw bytes of a bad header into the log. */
		host_stats_note(&r->invalid, host_err_str(tr.herr), now_ms);
	else if (tr.resolved && tr.result == RESOLVE_ERROR)
		host_stats_note(&r->error, tr.host, now_ms);
	if (probe)
		region_note(r, &tr.po, now_ms);
	if (n == 0) {
		/* Cannot happen with our bounded names; answer the fail-open minimum anyway. */
		static const char minimal[] = "Status: 200 OK\r\nContent-Type: text/plain\r\n"
		                              "Cache-Control: no-store\r\nContent-Length: 5\r\n\r\nwarn\n";

		log_warnx("response did not fit its buffer; answered the minimal fail-open reply");
		FCGX_PutStr(minimal, (int)sizeof(minimal) - 1, out);
		return;
	}
	/* One write: a response is either all there or not at all. */
	FCGX_PutStr(resp, (int)n, out);
}

static volatile sig_atomic_t stopping;

static void
on_term(int sig)
{
	(void)sig;
	stopping = 1; /* never FCGX_ShutdownPending: it makes libfcgi fail the reads of a request */
}

/*
 * The signals that stop us (SIGTERM; SIGINT; SIGUSR1, lighttpd's graceful stop of FastCGI
 * children) are blocked while a request is read and answered, and taken only while we
 * wait for the next one (serve's ppoll): a stop never cuts a request in half.
 */
static void
install_signals(sigset_t *stops)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	/* A stray SIGHUP must not take a worker away: only the supervisor acts on it. */
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = on_term;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0;
	sigemptyset(stops);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	sigaddset(stops, SIGTERM);
	sigaddset(stops, SIGINT);
	sigaddset(stops, SIGUSR1);
	sigprocmask(SIG_BLOCK, stops, NULL);
}

/*
 * Connections a web server keeps open to one worker (nginx's fastcgi_keep_conn with an
 * upstream keepalive), each waited on beside the listening socket.  A new connection is
 * accepted into a spare request; only once it is in, and KEPT_MAX are kept, is the one idle
 * longest closed.
 */
#define KEPT_MAX 32
#define SLOTS (KEPT_MAX + 1)

/* Close a connection at once: not libfcgi's shutdown-then-drain close, which reads (and
 * drops) for up to 2 s what the web server sends meanwhile. */
static void
kept_close(FCGX_Request *req)
{
	req->detached = 1;
	FCGX_Free(req, 1);
	req->detached = 0;
}

/*
 * One descriptor held in reserve (/dev/null) for accept(2).  A responder with none free
 * cannot accept: the connections the web server queued on its socket wait, and one that
 * exited to be replaced would leave lighttpd to answer them 500, and perhaps 503 itself
 * for 2 to 3 s more (lighttpd may meet the socket closed before it learns the process
 * died; it then disables it for disable-time and respawns it only at its once-a-second
 * check: docs/reliability.md).  With the reserve, EMFILE or ENFILE on accept gives it up:
 * the connection takes its number and is answered (from the snapshot in memory), and the
 * reserve is taken back once the connection is closed.
 */
static int reserve = -1;

static void
reserve_take(void)
{
	if (reserve < 0)
		reserve = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

/*
 * Our own accept loop around libfcgi's request API: wait (ppoll, the stop signals open)
 * until the listening socket, or a connection the web server keeps (fastcgi_keep_conn), has
 * something; then read and answer one request on each that has, with the stop signals
 * blocked.  Each connection is one FCGX_Request of its own, so a worker holds as many kept
 * connections as the web server opens to it (up to KEPT_MAX), and a new connection never
 * closes one the web server is about to use.  The listening socket is non-blocking, so a
 * worker that loses the race for a connection to another worker of the pool goes back to
 * waiting instead of blocking in accept(2).  Returns the exit status.
 */
static int
serve(struct responder *r, int sock, const sigset_t *stops)
{
	FCGX_Request req[SLOTS];
	int64_t used[SLOTS];           /* when each connection last carried a request */
	sigset_t waiting;
	int failures = 0, status = 0, fl;
	unsigned long long on_reserve = 0; /* connections accepted with the reserve, in a row */

	if ((fl = fcntl(sock, F_GETFL)) == -1 || fcntl(sock, F_SETFL, fl | O_NONBLOCK) == -1)
		fatal("listening socket: cannot make it non-blocking");
	for (int i = 0; i < SLOTS; i++) {
		if (FCGX_InitRequest(&req[i], sock, FCGI_FAIL_ACCEPT_ON_INTR) != 0)
			fatalx("FCGX_InitRequest failed");
		used[i] = 0;
	}
	sigprocmask(SIG_SETMASK, NULL, &waiting);
	for (int sig = 1; sig < NSIG; sig++)
		if (sigismember(stops, sig) == 1)
			sigdelset(&waiting, sig);
	while (!stopping) {
		struct pollfd p[SLOTS + 1];
		int slot[SLOTS + 1], np = 1, n, kept = 0;

		/* Every pass, whatever the last did with it (a kept connection may hold its number). */
		reserve_take();
		p[0] = (struct pollfd){ sock, POLLIN, 0 };
		slot[0] = -1;
		for (int i = 0; i < SLOTS; i++)
			if (req[i].ipcFd >= 0) {
				p[np] = (struct pollfd){ req[i].ipcFd, POLLIN, 0 };
				slot[np++] = i;
			}
		n = ppoll(p, (nfds_t)np, NULL, &waiting);
		if (n < 0) {
			if (errno != EINTR)
				fatal("ppoll");
			continue; /* a stop: the loop's test */
		}
		/* The kept connections first (their requests are already there), then one new
		 * connection; a kept connection the web server closed is closed here too (libfcgi
		 * reads its end, closes it, and finds nothing to accept: EAGAIN). */
		for (int k = 1; k <= np && !stopping; k++) {
			int i = slot[k % np], fresh = i < 0;

			if (!(p[k % np].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			/* There is always a free one: at most KEPT_MAX of SLOTS are kept. */
			for (int j = 0; j < SLOTS && i < 0; j++)
				if (req[j].ipcFd < 0)
					i = j;
			if (FCGX_Accept_r(&req[i]) < 0) {
				if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
					continue; /* another worker took it, or a kept connection ended */
				if ((errno == EMFILE || errno == ENFILE) && reserve >= 0) {
					if (on_reserve++ == 0)
						log_warn("no descriptor free for a connection: accepting with "
						         "the reserved one, one connection at a time");
					close(reserve);
					reserve = -1;
					continue; /* the next ppoll finds the connection still there */
				}
				/* A transient accept error (EMFILE...) must not kill us; a dead socket will. */
				if (++failures > 100) {
					log_warn("accept keeps failing, exiting");
					status = 1;
					break;
				}
				nanosleep(&(struct timespec){ 0, 10000000 }, NULL);
				continue;
			}
			if (fresh) {
				failures = 0;
				if (reserve >= 0 && on_reserve > 0) {
					log_info("descriptors free again: %llu %s accepted with the reserved "
					         "one", on_reserve, util_plural((long long)on_reserve,
					         "connection was", "connections were"));
					on_reserve = 0;
				}
			}
			handle(r, req[i].envp, req[i].out);
			FCGX_Finish_r(&req[i]); /* the connection closed unless the web server keeps it */
			used[i] = util_now_ms();
			reserve_take();
		}
		/* More than KEPT_MAX kept: the one idle longest goes, now that the new one is in. */
		for (int i = 0; i < SLOTS; i++)
			kept += req[i].ipcFd >= 0;
		if (kept > KEPT_MAX) {
			int old = -1;

			for (int i = 0; i < SLOTS; i++)
				if (req[i].ipcFd >= 0 && (old < 0 || used[i] < used[old]))
					old = i;
			if (old >= 0)
				kept_close(&req[old]);
		}
		if (status != 0)
			break;
	}
	/* At once: a web server that keeps its end open would hold each for libfcgi's 2 s. */
	for (int i = 0; i < SLOTS; i++)
		if (req[i].ipcFd >= 0)
			kept_close(&req[i]);
	if (reserve >= 0)
		close(reserve);
	return status;
}

static void
usage(FILE *f, int code)
{
	fprintf(f, "usage: deephealth.fcgi [-htV] [-c config] [-s socket] [-n workers]\n"
	           "  -c config     configuration file (default $DEEPHEALTH_CONFIG, then %s)\n"
	           "  -t            check the configuration and exit (0 = OK)\n"
	           "  -s socket     listen on a unix socket path (or :port) instead of stdin\n"
	           "  -n workers    supervise this many worker processes on the one socket\n"
	           "                (1..256; for nginx, Apache mod_proxy_fcgi, systemd sockets)\n"
	           "  -h, --help    this text\n"
	           "  -V, --version print the version\n"
	           "exit: 0 OK or stopped, 1 configuration invalid (-t) or cannot start, 2 usage\n",
	        DH_DEFAULT_CONF);
	exit(code);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	struct responder r;
	const char *conf_path = getenv("DEEPHEALTH_CONFIG"), *sock_path = NULL;
	sigset_t stops;
	char what[160];
	int ch, test_only = 0, sock = 0, status = 0;
	long workers = 0;

	while ((ch = getopt_long(argc, argv, ":c:s:n:tVh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c': conf_path = optarg; break;
		case 's': sock_path = optarg; break;
		case 'n': workers = util_opt_num("deephealth.fcgi", "-n", optarg, 1, 256); break;
		case 't': test_only = 1; break;
		case 'V': printf("deephealth.fcgi %s\n", DH_VERSION); return 0;
		case 'h': usage(stdout, 0); break;
		default:
			util_usage_error("deephealth.fcgi", "%s", util_opt_error(ch, argv, what, sizeof(what)));
		}
	}
	if (optind != argc)
		util_usage_error("deephealth.fcgi", "unexpected argument %s", argv[optind]);
	if (conf_path == NULL || conf_path[0] == '\0')
		conf_path = DH_DEFAULT_CONF;
	log_init("deephealth.fcgi", 0, LOG_LVL_INFO);

	if (test_only) {
		struct inputs in;
		size_t nh, nr;
		int rc = 0;

		if (inputs_open(&in, conf_path, 0, log_errfn, &test_only) != 0) {
			inputs_close(&in);
			return 1;
		}
		nh = resolver_host_count(in.conf->resolver);
		nr = resolver_rule_count(in.conf->resolver);
		if (in.conf->regions[0] != '\0') {
			struct regions *rg = regions_load(in.conf->regions, log_errfn, &test_only);

			rc = rg == NULL;
			regions_free(rg);
		}
		if (rc == 0)
			printf("%s: configuration OK (%zu %s, %zu %s)\n", conf_path, nh,
			       util_plural((long long)nh, "host", "hosts"), nr,
			       util_plural((long long)nr, "rule", "rules"));
		inputs_close(&in);
		return rc;
	}
	if (FCGX_Init() != 0)
		fatalx("FCGX_Init failed");
	if (sock_path != NULL) {
		sock = FCGX_OpenSocket(sock_path, 128);
		if (sock < 0)
			fatal("cannot listen on %s", sock_path);
	} else if (FCGX_IsCGI()) {
		fatalx("stdin is not a FastCGI socket: run me from a web server (lighttpd bin-path, "
		       "mod_fcgid), from a systemd socket unit, or with -s");
	}
	/* From here on, in the supervisor, pool_run never returns; in a worker it returns 0. */
	if (workers > 0)
		(void)pool_run((size_t)workers);

	memset(&r, 0, sizeof(r));
	r.unknown.what = "unknown Host";
	r.invalid.what = "invalid Host header";
	r.error.what = "Host undecided (resolver error)";
	if (inputs_open(&r.in, conf_path, 1, log_errfn, NULL) != 0)
		log_warnx("%s: configuration not loaded: answering 200 config-error to every "
		          "request until restarted with a valid one",
		          conf_path);
	else
		log_init("deephealth.fcgi", r.in.conf->log_syslog, r.in.conf->log_level);
	if (r.in.conf != NULL && r.in.conf->regions[0] != '\0' &&
	    (r.regions = regions_load(r.in.conf->regions, regions_errfn, r.regions_err)) == NULL)
		log_warnx("regions %s: not loaded (errors above): the admin side shows no regions and "
		          "lets no other region's page read it; answers are unchanged",
		          r.in.conf->regions);

	install_signals(&stops);
	log_info("ready (config %s%s)", conf_path, r.in.conf ? "" : " NOT LOADED");
	inputs_refresh(&r.in, util_now_ms()); /* load the snapshot now, not on the first probe */
	pool_ready(); /* in a pool's worker: the supervisor may now stop the one it replaces */
	status = serve(&r, sock, &stops);
	log_info("exiting after %llu %s", r.requests,
	         util_plural((long long)r.requests, "request", "requests"));
	regions_free(r.regions);
	inputs_close(&r.in);
	return status;
}
