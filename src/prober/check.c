/* check.c: the check engine: run every type's checks concurrently under one pass deadline. */

#include <errno.h>
#include <fcntl.h>
#include <libconfig.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "prober.h"

/*
 * Everything runs on the caller's thread: http and tcp transfers live in one
 * curl multi handle, and curl_multi_poll() also waits on our own descriptors
 * (plugin output pipes, connected tcp sockets) through extra_fds.  Plugins
 * exit without telling us (a SIGCHLD handler would be the caller's business),
 * so while one runs the wait is cut to its type's tick_ms and its sweep asks
 * again.  What a check does is its type's (check_http.c, check_tcp.c,
 * check_exec.c, through struct check_type); this file only dispatches.
 *
 * tcp checks connect through curl with CURLOPT_CONNECT_ONLY, so resolution is
 * asynchronous and the connect timeout is curl's.  Measured on curl 7.88.1:
 * after CURLMSG_DONE the connection stays open only while the easy handle
 * stays in the multi handle; curl_easy_send/recv and CURLINFO_ACTIVESOCKET
 * then work and curl no longer polls the socket itself.  Removing the handle
 * closes the connection at once (ACTIVESOCKET -1, curl_easy_send fails with
 * CURLE_UNSUPPORTED_PROTOCOL), and CURLOPT_FORBID_REUSE closes it before
 * CURLMSG_DONE is even reported.  So a tcp check keeps its handle in the
 * multi, without FORBID_REUSE, until its exchange ends: job_release()
 * removing it is what closes the socket.
 */

#define MATCH_LIMIT   100000 /* PCRE2 match limit for body and reply patterns */
#define CURL_GRACE_MS 500    /* curl ends its transfers at timeout_ms; past this we do */
#define REAP_GRACE_MS 50     /* how long the end of a pass waits for SIGKILLed plugins */

const struct check_type *const check_types[] = { &check_http, &check_tcp, &check_exec, NULL };

struct check_spec *
check_spec_new(const struct check_type *t, int timeout_ms)
{
	struct check_spec *s = xcalloc(1, sizeof(*s));

	s->type = t;
	s->timeout_ms = timeout_ms;
	if (t != NULL)
		s->conf = xcalloc(1, t->size);
	return s;
}

void
check_spec_free(struct check_spec *s)
{
	if (s == NULL)
		return;
	if (s->type != NULL && s->conf != NULL)
		s->type->free(s->conf);
	free(s->conf);
	free(s);
}

void *
check_compile(struct conf_loader *l, const struct conf_grp *g, const char *key,
              const char *pattern)
{
	const config_setting_t *at = config_setting_get_member(g->set, key);
	int ec;
	PCRE2_SIZE off;
	pcre2_code *re;

	re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, 0, &ec, &off, NULL);
	if (re == NULL) {
		PCRE2_UCHAR msg[256];

		pcre2_get_error_message(ec, msg, sizeof(msg));
		conf_err(l, at ? at : g->set, "%s.%s: bad pattern \"%s\": %s at offset %zu", g->label,
		         key, pattern, (char *)msg, (size_t)off);
		return NULL;
	}
	(void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
	return re;
}

/*
 * libcurl's global state, set up on first use and never torn down.  The one
 * static in this file: curl_global_init is not thread-safe, and check_run is
 * only called from the prober's single thread.
 */
static int
curl_ready(void)
{
	static int ready;

	if (!ready && curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return -1;
	ready = 1;
	return 0;
}

void
check_hdrs_free(struct curl_slist *l)
{
	for (struct curl_slist *p = l; p != NULL; p = p->next)
		explicit_bzero(p->data, strlen(p->data));
	curl_slist_free_all(l);
}

static void
job_release(struct run *r, struct job *j)
{
	if (j->easy != NULL) {
		/* For a connected tcp check this is what closes the socket (see top). */
		if (j->in_multi && curl_multi_remove_handle(r->multi, j->easy) != CURLM_OK)
			log_warnx("check: curl_multi_remove_handle failed");
		curl_easy_cleanup(j->easy);
		j->easy = NULL;
	}
	check_hdrs_free(j->hdrs);
	j->hdrs = NULL;
	free(j->buf);
	j->buf = NULL;
	if (j->spec != NULL && j->spec->type != NULL && j->spec->type->release != NULL)
		j->spec->type->release(j);
}

void
job_finish(struct run *r, struct job *j, enum verdict v, const char *fmt, ...)
{
	va_list ap;

	if (j->state != JOB_RUNNING)
		return;
	j->out->result = v;
	j->out->elapsed_ms = util_now_ms() - j->start;
	va_start(ap, fmt);
	if (vsnprintf(j->out->cause, sizeof(j->out->cause), fmt, ap) < 0)
		snprintf(j->out->cause, sizeof(j->out->cause), "(unprintable cause)");
	va_end(ap);
	for (char *p = j->out->cause; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
			*p = '?';
	job_release(r, j);
	j->state = JOB_DONE;
	r->running--;
	r->done++;
}

int
check_match(struct run *r, const void *re, const char *s, size_t len, char *err, size_t errlen)
{
	pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
	int rc;

	if (md == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	rc = pcre2_match(re, (PCRE2_SPTR)(s != NULL ? s : ""), len, 0, 0, md, r->mctx);
	pcre2_match_data_free(md);
	if (rc >= 0) /* 0: matched, but the ovector was too small; we do not use it */
		return 1;
	if (rc == PCRE2_ERROR_NOMATCH)
		return 0;
	if (pcre2_get_error_message(rc, (PCRE2_UCHAR *)err, errlen) < 0)
		snprintf(err, errlen, "PCRE2 error %d", rc);
	return -1;
}

/* ---------------------------------------------------------------- what curl transfers share */

/* Set an option on e unless an earlier one failed; rc keeps the first error. */
#define SETOPT(opt, val) (rc = rc != CURLE_OK ? rc : curl_easy_setopt(e, opt, val))

/* curl's socket(2), close-on-exec, noting EMFILE/ENFILE: curl keeps no errno for it. */
static curl_socket_t
open_socket_cb(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
	struct job *j = arg;
	curl_socket_t s = socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);

	(void)purpose;
	if (s == CURL_SOCKET_BAD && (errno == EMFILE || errno == ENFILE))
		j->sock_errno = errno;
	return s;
}

void
check_curl_go(struct run *r, struct job *j, CURLcode rc, const char *url, const char *protocols,
              int connect_timeout_ms)
{
	const struct check_spec *s = j->spec;
	long cto = connect_timeout_ms > 0 && connect_timeout_ms < s->timeout_ms
	           ? connect_timeout_ms : s->timeout_ms;
	CURL *e = j->easy;
	CURLMcode mc;

	SETOPT(CURLOPT_URL, url);
	SETOPT(CURLOPT_PRIVATE, (void *)j);
	SETOPT(CURLOPT_ERRORBUFFER, j->errbuf);
	SETOPT(CURLOPT_NOSIGNAL, 1L);
	SETOPT(CURLOPT_PROTOCOLS_STR, protocols); /* curl >= 7.85 */
	SETOPT(CURLOPT_CONNECTTIMEOUT_MS, cto);
	SETOPT(CURLOPT_TIMEOUT_MS, (long)s->timeout_ms);
	SETOPT(CURLOPT_OPENSOCKETFUNCTION, open_socket_cb);
	SETOPT(CURLOPT_OPENSOCKETDATA, (void *)j);
#if LIBCURL_VERSION_NUM >= 0x075700
	/*
	 * Ending a transfer that is still resolving would otherwise join the
	 * resolver thread, blocking as long as getaddrinfo does.  With it the
	 * thread is detached and frees itself when getaddrinfo returns.
	 */
	SETOPT(CURLOPT_QUICK_EXIT, 1L);
#endif
	if (rc != CURLE_OK)
		job_finish(r, j, VERDICT_UNKNOWN, "curl: %s", curl_easy_strerror(rc));
	else if ((mc = curl_multi_add_handle(r->multi, e)) != CURLM_OK)
		job_finish(r, j, VERDICT_UNKNOWN, "curl: %s", curl_multi_strerror(mc));
	else
		j->in_multi = 1;
}

void
check_curl_failed(struct run *r, struct job *j, CURLcode cc, int connect_timeout_ms)
{
	/* Our side: configuration, build or environment, not the dependency. */
	static const CURLcode local[] = {
		CURLE_FAILED_INIT, CURLE_URL_MALFORMAT, CURLE_NOT_BUILT_IN, CURLE_COULDNT_RESOLVE_PROXY,
		CURLE_OUT_OF_MEMORY, CURLE_WRITE_ERROR, CURLE_READ_ERROR, CURLE_FUNCTION_NOT_FOUND,
		CURLE_BAD_FUNCTION_ARGUMENT, CURLE_INTERFACE_FAILED, CURLE_UNKNOWN_OPTION,
		CURLE_SSL_ENGINE_NOTFOUND, CURLE_SSL_ENGINE_SETFAILED, CURLE_SSL_ENGINE_INITFAILED,
		CURLE_SSL_CERTPROBLEM, CURLE_SSL_CIPHER, CURLE_SSL_CACERT_BADFILE,
	};
	const struct check_spec *s = j->spec;
	const char *msg = j->errbuf[0] != '\0' ? j->errbuf : curl_easy_strerror(cc);
	curl_off_t ct = 0;
	long oserr = 0;
	int e;

	if (curl_easy_getinfo(j->easy, CURLINFO_OS_ERRNO, &oserr) != CURLE_OK)
		oserr = 0;
	e = j->sock_errno != 0 ? j->sock_errno : (int)oserr;
	/* The first job_finish that applies sets the outcome; the later ones are no-ops. */
	if (e == EMFILE || e == ENFILE)
		job_finish(r, j, VERDICT_UNKNOWN, "out of file descriptors");
	if (cc == CURLE_COULDNT_CONNECT)
		job_finish(r, j, VERDICT_FAIL, "connect: %s", e != 0 ? strerror(e) : msg);
	if (cc == CURLE_OPERATION_TIMEDOUT) {
		if (curl_easy_getinfo(j->easy, CURLINFO_CONNECT_TIME_T, &ct) != CURLE_OK)
			ct = 0;
		if (ct == 0 && connect_timeout_ms > 0 && connect_timeout_ms < s->timeout_ms)
			job_finish(r, j, VERDICT_FAIL, "connect timed out after %d ms",
			           connect_timeout_ms);
		job_finish(r, j, VERDICT_FAIL, "timed out after %d ms", s->timeout_ms);
	}
	for (size_t i = 0; i < sizeof(local) / sizeof(local[0]); i++)
		if (cc == local[i])
			job_finish(r, j, VERDICT_UNKNOWN, "curl: %s", msg);
	job_finish(r, j, VERDICT_FAIL, "%s", msg);
}

#undef SETOPT

/* ---------------------------------------------------------------- the pass */

static void
job_start(struct run *r, struct job *j)
{
	const struct check_spec *s = j->spec;

	j->state = JOB_RUNNING;
	r->running++;
	j->start = util_now_ms();
	if (s == NULL || s->type == NULL || s->timeout_ms <= 0) {
		job_finish(r, j, VERDICT_UNKNOWN, "bad check: no spec, type or timeout");
		return;
	}
	j->due = j->start + s->timeout_ms;
	s->type->start(r, j);
}

/* Start waiting checks while there is room; a check may end as it starts. */
static void
run_fill(struct run *r)
{
	while (r->running < r->parallel && r->next < r->n)
		job_start(r, &r->jobs[r->next++]);
}

/* Ended transfers, to their types. */
static void
run_collect(struct run *r)
{
	struct job *j;
	CURLMsg *m;
	void *priv;
	int left;

	while ((m = curl_multi_info_read(r->multi, &left)) != NULL) {
		priv = NULL;
		if (m->msg != CURLMSG_DONE ||
		    curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &priv) != CURLE_OK ||
		    (j = priv) == NULL || j->state != JOB_RUNNING)
			continue;
		j->spec->type->curl_done(r, j, m->data.result);
	}
}

/* What a type watches itself (a plugin's exit), timeouts, and what is left of ended checks. */
static void
run_sweep(struct run *r, int64_t now)
{
	for (size_t i = 0; i < r->next; i++) {
		struct job *j = &r->jobs[i];
		const struct check_type *t = j->spec != NULL ? j->spec->type : NULL;

		if (t == NULL)
			continue;
		if (j->state == JOB_DONE && t->pending != NULL && t->pending(j))
			t->reap(j);
		if (j->state == JOB_RUNNING && t->sweep != NULL)
			t->sweep(r, j);
		if (j->state != JOB_RUNNING)
			continue;
		/* curl ends its own transfers at timeout_ms; past the grace it is ours too */
		if (now >= j->due + (t->own_timeout != NULL && t->own_timeout(j) ? 0 : CURL_GRACE_MS))
			job_finish(r, j, VERDICT_FAIL, "timed out after %d ms", j->spec->timeout_ms);
	}
}

/* Wait for curl, our descriptors, the next timeout or the deadline; then serve our descriptors. */
static int
run_wait(struct run *r, int64_t now, int64_t deadline)
{
	int64_t until = deadline, wait;
	unsigned nw = 0;
	CURLMcode mc;

	for (size_t i = 0; i < r->next; i++) {
		struct job *j = &r->jobs[i];
		const struct check_type *t = j->spec != NULL ? j->spec->type : NULL;
		int64_t due = j->due;
		int tick;

		if (t == NULL)
			continue;
		if (t->tick_ms != NULL && (tick = t->tick_ms(j)) >= 0 && until > now + tick)
			until = now + tick;
		if (j->state != JOB_RUNNING)
			continue;
		if (t->wait_fd != NULL && t->wait_fd(j, &r->wfd[nw]))
			r->wjob[nw++] = j;
		if (t->own_timeout == NULL || !t->own_timeout(j))
			due += CURL_GRACE_MS;
		until = due < until ? due : until;
	}
	wait = until - now < 0 ? 0 : until - now > INT_MAX ? INT_MAX : until - now;
	mc = curl_multi_poll(r->multi, nw ? r->wfd : NULL, nw, (int)wait, NULL);
	if (mc != CURLM_OK) {
		log_warnx("check: curl_multi_poll: %s", curl_multi_strerror(mc));
		return -1;
	}
	for (unsigned k = 0; k < nw; k++)
		if (r->wfd[k].revents != 0)
			r->wjob[k]->spec->type->io(r, r->wjob[k]);
	return 0;
}

/* End every check without an outcome: abandoned at the deadline, or after an engine error. */
static void
run_abandon(struct run *r, const char *why)
{
	for (size_t i = 0; i < r->n; i++) {
		struct job *j = &r->jobs[i];
		int waiting = j->state == JOB_WAITING;

		if (waiting) { /* through job_finish like the others, but it never ran */
			j->state = JOB_RUNNING;
			r->running++;
		}
		job_finish(r, j, VERDICT_UNKNOWN, "%s", why);
		if (waiting)
			j->out->elapsed_ms = 0;
	}
}

static int
run_loop(struct run *r, int64_t deadline)
{
	CURLMcode mc;
	int still;

	for (;;) {
		run_fill(r);
		if ((mc = curl_multi_perform(r->multi, &still)) != CURLM_OK) {
			log_warnx("check: curl_multi_perform: %s", curl_multi_strerror(mc));
			run_abandon(r, "check engine error");
			return -1;
		}
		run_collect(r);
		run_sweep(r, util_now_ms());
		run_fill(r);
		if (r->done == r->n)
			return 0;
		if (util_now_ms() >= deadline) {
			run_abandon(r, "abandoned at pass deadline");
			return 0;
		}
		if (run_wait(r, util_now_ms(), deadline) == -1) {
			run_abandon(r, "check engine error");
			return -1;
		}
	}
}

/* SIGKILLed plugins normally die within a millisecond: wait briefly, then give up on them. */
static void
run_reap_all(struct run *r)
{
	int64_t until = util_now_ms() + REAP_GRACE_MS;
	size_t left;

	do {
		left = 0;
		for (size_t i = 0; i < r->next; i++) {
			struct job *j = &r->jobs[i];
			const struct check_type *t = j->spec != NULL ? j->spec->type : NULL;

			if (t != NULL && t->pending != NULL && t->pending(j)) {
				t->reap(j);
				left += t->pending(j);
			}
		}
	} while (left > 0 && util_now_ms() < until && (poll(NULL, 0, 1) != -1 || errno == EINTR));
	for (size_t i = 0; i < r->next; i++) {
		struct job *j = &r->jobs[i];

		if (j->spec != NULL && j->spec->type != NULL && j->spec->type->pending != NULL &&
		    j->spec->type->pending(j))
			log_warnx("%s check: still there %d ms after SIGKILL; left unreaped",
			          j->spec->type->name, REAP_GRACE_MS);
	}
}

int
check_run(struct check_spec *const *specs, size_t n, int parallel, int64_t deadline_ms,
          struct check_outcome *out)
{
	struct run r;
	const char *fail = NULL;
	long maxfd = sysconf(_SC_OPEN_MAX);
	int rc = -1;

	memset(&r, 0, sizeof(r));
	if (n > 0 && (curl_ready() == -1 || (r.multi = curl_multi_init()) == NULL))
		fail = "curl init failed";
	/* Idle keep-alive connections kept for later checks of the same origin: one per
	 * transfer that can be in flight. */
	else if (n > 0 && curl_multi_setopt(r.multi, CURLMOPT_MAXCONNECTS,
	                           (long)(parallel < 1 ? 1 : parallel)) != CURLM_OK)
		fail = "curl init failed";
	else if (n > 0 && ((r.mctx = pcre2_match_context_create(NULL)) == NULL ||
	                   pcre2_set_match_limit(r.mctx, MATCH_LIMIT) != 0))
		fail = "out of memory";
	for (size_t i = 0; i < n; i++) {
		out[i].result = VERDICT_UNKNOWN;
		out[i].elapsed_ms = 0;
		snprintf(out[i].cause, sizeof(out[i].cause), "%s", fail ? fail : "not run");
	}
	if (n == 0)
		return 0;
	if (fail != NULL)
		goto out;
	r.n = n;
	r.parallel = parallel < 1 ? 1 : (size_t)parallel > n ? n : (size_t)parallel;
	r.maxfd = maxfd < 0 || maxfd > 65536 ? 65536 : (int)maxfd;
	r.jobs = xcalloc(n, sizeof(*r.jobs));
	r.wfd = xcalloc(r.parallel, sizeof(*r.wfd));
	r.wjob = xcalloc(r.parallel, sizeof(*r.wjob));
	for (size_t i = 0; i < n; i++) {
		r.jobs[i].spec = specs[i];
		r.jobs[i].out = &out[i];
		exec_init(&r.jobs[i].proc);
		r.jobs[i].sock = CURL_SOCKET_BAD;
	}
	rc = run_loop(&r, deadline_ms);
	run_reap_all(&r);
out:
	if (r.multi != NULL && curl_multi_cleanup(r.multi) != CURLM_OK)
		log_warnx("check: curl_multi_cleanup failed");
	pcre2_match_context_free(r.mctx);
	free(r.jobs);
	free(r.wfd);
	free(r.wjob);
	return rc;
}
