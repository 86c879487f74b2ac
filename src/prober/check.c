/* check.c: run http, tcp and exec dependency checks concurrently under one pass deadline. */
#define PCRE2_CODE_UNIT_WIDTH 8

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pcre2.h>
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
 * so while one runs the wait is cut to EXEC_TICK_MS and exec_exited() asks
 * again.  Starting, reading and reaping plugins is exec.c's.
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
#define TCP_REPLY_MAX 4096   /* a tcp reply that has not matched by then is a mismatch */
#define EXEC_TICK_MS  20     /* how often a running plugin is asked whether it exited */
#define EOF_TICK_MS   5      /* the same once it closed its output: it is likely exiting */
#define CURL_GRACE_MS 500    /* curl ends its transfers at timeout_ms; past this we do */
#define REAP_GRACE_MS 50     /* how long the end of a pass waits for SIGKILLed plugins */
#define CRED_MAX      16384  /* largest credentials file read */

enum job_state { JOB_WAITING, JOB_RUNNING, JOB_DONE };
enum tcp_phase { TCP_CONNECTING, TCP_SENDING, TCP_READING };

/* One check.  Its resources go when its outcome is set, except a pid not yet reaped. */
struct job {
	const struct check_spec *spec;
	struct check_outcome *out;
	enum job_state state;
	int64_t start, due;          /* util_now_ms(); due = start + timeout_ms */
	/* http and tcp */
	CURL *easy;
	int in_multi;
	struct curl_slist *hdrs;     /* may hold credentials: wiped before freeing */
	char errbuf[CURL_ERROR_SIZE];
	int sock_errno;              /* socket() ran out of descriptors */
	char *buf;                   /* http: body for body_re; tcp: the reply */
	size_t len;
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

const char *
check_type_str(enum check_type t)
{
	switch (t) {
	case CHECK_HTTP: return "http";
	case CHECK_TCP: return "tcp";
	case CHECK_EXEC: return "exec";
	}
	return "?";
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

static void
xclose(int *fd, const char *what)
{
	if (*fd != -1 && close(*fd) == -1)
		log_warn("check: close %s", what);
	*fd = -1;
}

static void
slist_wipe_free(struct curl_slist *l)
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
	slist_wipe_free(j->hdrs);
	j->hdrs = NULL;
	free(j->buf);
	j->buf = NULL;
	exec_stop(&j->proc); /* if not reaped yet, run_sweep and run_reap_all try again */
}

static void job_finish(struct run *, struct job *, enum verdict, const char *, ...)
	__attribute__((format(printf, 4, 5)));

/* Set j's outcome (printable ASCII only) and release it.  Later calls for j are no-ops. */
static void
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

/* Match re against s: 1 match, 0 no match, -1 error (message in err). */
static int
re_match(struct run *r, const void *re, const char *s, size_t len, char *err, size_t errlen)
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

/* ---------------------------------------------------------------- curl: http and tcp */

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

/* Set what http and tcp checks share on j->easy, then hand it to the multi handle. */
static void
easy_go(struct run *r, struct job *j, CURLcode rc, const char *url, const char *protocols)
{
	const struct check_spec *s = j->spec;
	long cto = s->connect_timeout_ms > 0 && s->connect_timeout_ms < s->timeout_ms
	           ? s->connect_timeout_ms : s->timeout_ms;
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

/* A transfer ended with a curl error: remote problems fail, local ones are unknown. */
static void
curl_failed(struct run *r, struct job *j, CURLcode cc)
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
		if (ct == 0 && s->connect_timeout_ms > 0 && s->connect_timeout_ms < s->timeout_ms)
			job_finish(r, j, VERDICT_FAIL, "connect timed out after %d ms",
			           s->connect_timeout_ms);
		job_finish(r, j, VERDICT_FAIL, "timed out after %d ms", s->timeout_ms);
	}
	for (size_t i = 0; i < sizeof(local) / sizeof(local[0]); i++)
		if (cc == local[i])
			job_finish(r, j, VERDICT_UNKNOWN, "curl: %s", msg);
	job_finish(r, j, VERDICT_FAIL, "%s", msg);
}

/*
 * Append the header lines of a credentials file to *hdrs: one per line,
 * blank lines ignored.  The content is secret: no byte of it reaches a cause
 * or a log, and our copy is wiped.  Returns 0, or -1 with a reason in why.
 */
static int
cred_load(const char *path, struct curl_slist **hdrs, char *why, size_t whylen)
{
	static const char ctrl[] = "\x01\x02\x03\x04\x05\x06\x07\x08\x0a\x0b\x0c\x0d\x0e\x0f\x10"
	                           "\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f\x7f";
	char buf[CRED_MAX + 1], *p, *eol;
	const char *err = NULL;
	struct curl_slist *nl;
	struct stat st;
	size_t len = 0, ll;
	unsigned line = 0;
	ssize_t n;
	int fd, rc = -1;

	/* O_NONBLOCK: a fifo put there must not block the pass. */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)) == -1 ||
	    fstat(fd, &st) == -1)
		err = strerror(errno);
	else if (!S_ISREG(st.st_mode))
		err = "not a regular file";
	while (err == NULL && len <= CRED_MAX) {
		if ((n = read(fd, buf + len, CRED_MAX + 1 - len)) > 0)
			len += (size_t)n;
		else if (n == 0)
			break;
		else if (errno != EINTR)
			err = strerror(errno);
	}
	if (err != NULL) {
		snprintf(why, whylen, "credentials file unreadable: %s", err);
		goto out;
	}
	if (len > CRED_MAX || memchr(buf, '\0', len) != NULL) {
		snprintf(why, whylen, "credentials file: over %d bytes or binary", CRED_MAX);
		goto out;
	}
	buf[len] = '\0';
	for (p = buf; p < buf + len; p = eol + 1) {
		if ((eol = strchr(p, '\n')) == NULL)
			eol = buf + len;
		*eol = '\0';
		line++;
		p += strspn(p, " \t");
		for (ll = strlen(p); ll > 0 && strchr(" \t\r", p[ll - 1]) != NULL; ll--)
			p[ll - 1] = '\0';
		if (ll == 0)
			continue;
		if (strcspn(p, ctrl) != ll || strchr(p, ':') == NULL) {
			snprintf(why, whylen, "credentials file: line %u is not \"Name: value\"", line);
			goto out;
		}
		if ((nl = curl_slist_append(*hdrs, p)) == NULL) {
			snprintf(why, whylen, "out of memory");
			goto out;
		}
		*hdrs = nl;
	}
	rc = 0;
out:
	explicit_bzero(buf, sizeof(buf));
	xclose(&fd, "credentials file");
	return rc;
}

/* Keep the first body_bytes of the body for body_re; drain the rest. */
static size_t
http_body_cb(char *data, size_t size, size_t nmemb, void *arg)
{
	struct job *j = arg;
	size_t n = size * nmemb, room = j->buf != NULL ? j->spec->body_bytes - j->len : 0;

	if (room > n)
		room = n;
	if (room > 0)
		memcpy(j->buf + j->len, data, room);
	j->len += room;
	return n;
}

static void
http_start(struct run *r, struct job *j)
{
	const struct check_spec *s = j->spec;
	const char *method = s->method != NULL ? s->method : "GET";
	struct curl_slist *nl;
	char why[128];
	CURLcode rc = CURLE_OK;
	CURL *e;

	for (size_t i = 0; s->headers != NULL && s->headers[i] != NULL; i++) {
		if ((nl = curl_slist_append(j->hdrs, s->headers[i])) == NULL) {
			job_finish(r, j, VERDICT_UNKNOWN, "out of memory");
			return;
		}
		j->hdrs = nl;
	}
	if (s->cred_file != NULL && cred_load(s->cred_file, &j->hdrs, why, sizeof(why)) == -1) {
		job_finish(r, j, VERDICT_UNKNOWN, "%s", why);
		return;
	}
	if (s->url == NULL || (e = j->easy = curl_easy_init()) == NULL) {
		job_finish(r, j, VERDICT_UNKNOWN, s->url ? "curl init failed" : "bad check: no url");
		return;
	}
	if (s->body_re != NULL)
		j->buf = xmalloc(s->body_bytes);
	/*
	 * Connections live in this pass's multi handle and die with it, so every pass
	 * connects to every origin afresh; within a pass, checks of one origin (scheme,
	 * host, port) may share keep-alive connections, as any HTTP client would.
	 */
	SETOPT(CURLOPT_USERAGENT, "deephealth-probe/" DH_VERSION);
	if (strcasecmp(method, "HEAD") == 0)
		SETOPT(CURLOPT_NOBODY, 1L);
	else if (strcasecmp(method, "GET") != 0)
		SETOPT(CURLOPT_CUSTOMREQUEST, method);
	if (j->hdrs != NULL) /* a Host line among them replaces curl's own */
		SETOPT(CURLOPT_HTTPHEADER, j->hdrs);
	SETOPT(CURLOPT_SSL_VERIFYPEER, s->tls_verify ? 1L : 0L);
	SETOPT(CURLOPT_SSL_VERIFYHOST, s->tls_verify ? 2L : 0L);
	if (s->ca_file != NULL)
		SETOPT(CURLOPT_CAINFO, s->ca_file);
	if (s->follow_redirects) {
		SETOPT(CURLOPT_FOLLOWLOCATION, 1L);
		SETOPT(CURLOPT_MAXREDIRS, 5L);
		SETOPT(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	}
	/*
	 * Only a configured proxy: libcurl would otherwise take http_proxy,
	 * https_proxy, all_proxy and no_proxy from whatever environment started
	 * us (a shell with a proxy set once sent both witnesses to it and the pass
	 * went blind).  "" turns the environment off for both.
	 */
	SETOPT(CURLOPT_PROXY, s->proxy != NULL ? s->proxy : "");
	SETOPT(CURLOPT_NOPROXY, "");
	SETOPT(CURLOPT_WRITEFUNCTION, http_body_cb);
	SETOPT(CURLOPT_WRITEDATA, (void *)j);
	easy_go(r, j, rc, s->url, "http,https");
}

static int
status_ok(const struct check_spec *s, long status)
{
	if (s->expect == NULL || s->nexpect == 0)
		return status >= 200 && status <= 299;
	for (size_t i = 0; i < s->nexpect; i++)
		if (status >= s->expect[i].lo && status <= s->expect[i].hi)
			return 1;
	return 0;
}

static void
http_done(struct run *r, struct job *j, CURLcode cc)
{
	const struct check_spec *s = j->spec;
	char err[128];
	long st = 0;
	int m;

	if (cc != CURLE_OK) {
		curl_failed(r, j, cc);
		return;
	}
	if (curl_easy_getinfo(j->easy, CURLINFO_RESPONSE_CODE, &st) != CURLE_OK)
		job_finish(r, j, VERDICT_UNKNOWN, "curl: no response code");
	else if (!status_ok(s, st) || s->body_re == NULL)
		job_finish(r, j, status_ok(s, st) ? VERDICT_PASS : VERDICT_FAIL, "HTTP %ld", st);
	else if ((m = re_match(r, s->body_re, j->buf, j->len, err, sizeof(err))) == -1)
		job_finish(r, j, VERDICT_FAIL, "body match error: %s", err);
	else if (m != !!s->body_negate)
		job_finish(r, j, VERDICT_PASS, "HTTP %ld", st);
	else
		job_finish(r, j, VERDICT_FAIL, m ? "HTTP %ld, body matched (negated pattern)"
		                                 : "HTTP %ld, body did not match", st);
}

static void
tcp_start(struct run *r, struct job *j)
{
	const char *a = j->spec->address, *colon = a ? strrchr(a, ':') : NULL, *br;
	char url[DH_HOST_MAX + 32];
	CURLcode rc = CURLE_OK;
	CURL *e;
	int n;

	/* "host:port" or "[v6]:port"; curl rejects a bad host or port as a malformed URL. */
	if (colon == NULL || colon == a || colon[1] == '\0' || strpbrk(a, "/?#@ \t") != NULL ||
	    ((br = strrchr(a, ']')) != NULL && br > colon) ||
	    (n = snprintf(url, sizeof(url), "http://%s/", a)) < 0 || (size_t)n >= sizeof(url)) {
		job_finish(r, j, VERDICT_UNKNOWN, "bad check: address is not host:port");
		return;
	}
	if ((e = j->easy = curl_easy_init()) == NULL) {
		job_finish(r, j, VERDICT_UNKNOWN, "curl init failed");
		return;
	}
	/* Connect only: curl resolves and connects, and sends nothing of HTTP.  Always a
	 * new connection: connecting is what a tcp check checks. */
	SETOPT(CURLOPT_CONNECT_ONLY, 1L);
	SETOPT(CURLOPT_FRESH_CONNECT, 1L);
	/* A tcp check reaches the address itself, never a proxy from the environment. */
	SETOPT(CURLOPT_PROXY, "");
	j->phase = TCP_CONNECTING;
	easy_go(r, j, rc, url, "http");
}

#undef SETOPT

/* Send, then read until the reply matches; returns when the socket would block. */
static void
tcp_io(struct run *r, struct job *j)
{
	const struct check_spec *s = j->spec;
	char err[128];
	CURLcode cc;
	size_t n;
	int m;

	while (j->state == JOB_RUNNING && j->phase == TCP_SENDING) {
		cc = curl_easy_send(j->easy, s->send + j->sent, s->send_len - j->sent, &n);
		if (cc == CURLE_AGAIN)
			return;
		if (cc != CURLE_OK)
			job_finish(r, j, VERDICT_FAIL, "send: %s", curl_easy_strerror(cc));
		else if ((j->sent += n) == s->send_len && s->expect_re == NULL)
			job_finish(r, j, VERDICT_PASS, "connected, sent %zu bytes", s->send_len);
		else if (j->sent == s->send_len)
			j->phase = TCP_READING;
	}
	if (j->state == JOB_RUNNING && j->buf == NULL)
		j->buf = xmalloc(TCP_REPLY_MAX);
	while (j->state == JOB_RUNNING) {
		cc = curl_easy_recv(j->easy, j->buf + j->len, TCP_REPLY_MAX - j->len, &n);
		if (cc == CURLE_AGAIN)
			return;
		if (cc != CURLE_OK) {
			job_finish(r, j, VERDICT_FAIL, "recv: %s", curl_easy_strerror(cc));
		} else if (n == 0) {
			job_finish(r, j, VERDICT_FAIL, "connection closed, reply did not match");
		} else {
			j->len += n;
			m = re_match(r, s->expect_re, j->buf, j->len, err, sizeof(err));
			if (m == 1)
				job_finish(r, j, VERDICT_PASS, "reply matched");
			else if (m == -1)
				job_finish(r, j, VERDICT_FAIL, "reply match error: %s", err);
			else if (j->len == TCP_REPLY_MAX)
				job_finish(r, j, VERDICT_FAIL, "reply did not match");
		}
	}
}

/* CURLMSG_DONE, connected: the handle stays in the multi until the exchange ends. */
static void
tcp_connected(struct run *r, struct job *j)
{
	const struct check_spec *s = j->spec;

	if (curl_easy_getinfo(j->easy, CURLINFO_ACTIVESOCKET, &j->sock) != CURLE_OK ||
	    j->sock == CURL_SOCKET_BAD) {
		job_finish(r, j, VERDICT_UNKNOWN, "curl: no socket after connect");
		return;
	}
	if (s->send != NULL && s->send_len > 0)
		j->phase = TCP_SENDING;
	else if (s->expect_re != NULL)
		j->phase = TCP_READING;
	else
		job_finish(r, j, VERDICT_PASS, "connected");
	tcp_io(r, j);
}

/* ---------------------------------------------------------------- the pass */

static void
job_start(struct run *r, struct job *j)
{
	const struct check_spec *s = j->spec;
	char cause[sizeof(j->out->cause)];

	j->state = JOB_RUNNING;
	r->running++;
	j->start = util_now_ms();
	if (s == NULL || s->timeout_ms <= 0) {
		job_finish(r, j, VERDICT_UNKNOWN, "bad check: no spec or timeout");
		return;
	}
	j->due = j->start + s->timeout_ms;
	if (s->type == CHECK_HTTP)
		http_start(r, j);
	else if (s->type == CHECK_TCP)
		tcp_start(r, j);
	else if (s->type != CHECK_EXEC)
		job_finish(r, j, VERDICT_UNKNOWN, "bad check: type %d", (int)s->type);
	else if (exec_start(&j->proc, s->argv, r->maxfd, cause, sizeof(cause)) == -1)
		job_finish(r, j, VERDICT_UNKNOWN, "%s", cause);
}

/* Start waiting checks while there is room; a check may end as it starts. */
static void
run_fill(struct run *r)
{
	while (r->running < r->parallel && r->next < r->n)
		job_start(r, &r->jobs[r->next++]);
}

static void
run_collect(struct run *r)
{
	struct job *j;
	CURLMsg *m;
	void *priv;
	int left;

	while ((m = curl_multi_info_read(r->multi, &left)) != NULL) {
		CURLcode cc = m->data.result;

		priv = NULL;
		if (m->msg != CURLMSG_DONE ||
		    curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &priv) != CURLE_OK ||
		    (j = priv) == NULL || j->state != JOB_RUNNING)
			continue;
		if (j->spec->type == CHECK_HTTP)
			http_done(r, j, cc);
		else if (cc != CURLE_OK)
			curl_failed(r, j, cc);
		else
			tcp_connected(r, j);
	}
}

/* Plugin exits, timeouts, and reaping of killed plugins. */
static void
run_sweep(struct run *r, int64_t now)
{
	for (size_t i = 0; i < r->next; i++) {
		struct job *j = &r->jobs[i];
		char cause[sizeof(j->out->cause)];
		enum verdict v;
		int own; /* timeouts that are ours to enforce, not curl's */

		if (j->state == JOB_DONE && j->proc.pid > 0)
			exec_reap(&j->proc);
		if (j->state == JOB_RUNNING && j->spec->type == CHECK_EXEC &&
		    exec_exited(&j->proc, &v, cause, sizeof(cause)))
			job_finish(r, j, v, "%s", cause);
		if (j->state != JOB_RUNNING)
			continue;
		own = j->spec->type == CHECK_EXEC ||
		      (j->spec->type == CHECK_TCP && j->phase != TCP_CONNECTING);
		if (now >= j->due + (own ? 0 : CURL_GRACE_MS))
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
		int64_t due = j->due;

		if (j->proc.pid > 0 && until > now + (j->proc.fd == -1 ? EOF_TICK_MS : EXEC_TICK_MS))
			until = now + (j->proc.fd == -1 ? EOF_TICK_MS : EXEC_TICK_MS);
		if (j->state != JOB_RUNNING)
			continue;
		if (j->proc.fd != -1) {
			r->wfd[nw] = (struct curl_waitfd){ j->proc.fd, CURL_WAIT_POLLIN, 0 };
			r->wjob[nw++] = j;
		} else if (j->spec->type == CHECK_TCP && j->phase != TCP_CONNECTING) {
			r->wfd[nw] = (struct curl_waitfd){
				j->sock, j->phase == TCP_SENDING ? CURL_WAIT_POLLOUT : CURL_WAIT_POLLIN, 0
			};
			r->wjob[nw++] = j;
		} else if (j->spec->type != CHECK_EXEC) {
			due += CURL_GRACE_MS;
		}
		until = due < until ? due : until;
	}
	wait = until - now < 0 ? 0 : until - now > INT_MAX ? INT_MAX : until - now;
	mc = curl_multi_poll(r->multi, nw ? r->wfd : NULL, nw, (int)wait, NULL);
	if (mc != CURLM_OK) {
		log_warnx("check: curl_multi_poll: %s", curl_multi_strerror(mc));
		return -1;
	}
	for (unsigned k = 0; k < nw; k++) {
		if (r->wfd[k].revents != 0 && r->wjob[k]->spec->type == CHECK_EXEC)
			exec_read(&r->wjob[k]->proc);
		else if (r->wfd[k].revents != 0)
			tcp_io(r, r->wjob[k]);
	}
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
			exec_reap(&r->jobs[i].proc);
			left += r->jobs[i].proc.pid > 0;
		}
	} while (left > 0 && util_now_ms() < until && (poll(NULL, 0, 1) != -1 || errno == EINTR));
	for (size_t i = 0; i < r->next; i++)
		if (r->jobs[i].proc.pid > 0)
			log_warnx("exec check: process %ld still there after SIGKILL; left unreaped",
			          (long)r->jobs[i].proc.pid);
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
