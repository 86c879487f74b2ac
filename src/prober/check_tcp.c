/* check_tcp.c: tcp checks: connect, send some bytes, match the reply. */
#include <libconfig.h>
#include <stddef.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "prober.h"

#define TCP_REPLY_MAX 4096 /* a tcp reply that has not matched by then is a mismatch */

#define T(f) offsetof(struct tcp_check, f)
static const struct conf_opt tcp_opts[] = {
	{ "connect_timeout_ms", OPT_INT, 1, 60000, -1, NULL, NULL, T(connect_timeout_ms) },
	{ "address", OPT_STR, 0, 0, 0, "", NULL, T(address) },
	{ "send", OPT_STR, 0, 0, 0, "", NULL, T(send) },
	{ "reply_match", OPT_STR, 0, 0, 0, "", NULL, T(reply_match) },
};
#undef T

static void
tcp_build(struct conf_loader *l, const struct conf *c, struct dep_conf *d,
          const struct conf_grp *g)
{
	struct tcp_check *t = d->check->conf;

	t->connect_timeout_ms = check_connect_timeout(l, c, d, g, t->connect_timeout_ms);
	if (t->address[0] == '\0' || strrchr(t->address, ':') == NULL)
		conf_err(l, g->set, "%s.address: required, \"host:port\"", g->label);
	if (t->reply_match[0] != '\0')
		t->reply_re = check_compile(l, g, "reply_match", t->reply_match);
}

static void
tcp_free(void *conf)
{
	struct tcp_check *t = conf;

	free(t->address);
	free(t->send);
	free(t->reply_match);
	pcre2_code_free(t->reply_re);
}

/* After connect, the exchange is ours: its socket, its timeout. */
static int
tcp_wait_fd(const struct job *j, struct curl_waitfd *w)
{
	if (j->phase == TCP_CONNECTING)
		return 0;
	*w = (struct curl_waitfd){ j->sock,
		                       j->phase == TCP_SENDING ? CURL_WAIT_POLLOUT : CURL_WAIT_POLLIN, 0 };
	return 1;
}

static int
tcp_own_timeout(const struct job *j)
{
	return j->phase != TCP_CONNECTING;
}

/* Set an option on e unless an earlier one failed; rc keeps the first error. */
#define SETOPT(opt, val) (rc = rc != CURLE_OK ? rc : curl_easy_setopt(e, opt, val))

static void
tcp_start(struct run *r, struct job *j)
{
	const struct tcp_check *t = j->spec->conf;
	const char *a = t->address, *colon = a ? strrchr(a, ':') : NULL, *br;
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
	check_curl_go(r, j, rc, url, "http", t->connect_timeout_ms);
}


#undef SETOPT

/* Send, then read until the reply matches; returns when the socket would block. */
static void
tcp_io(struct run *r, struct job *j)
{
	const struct tcp_check *s = j->spec->conf;
	size_t send_len = s->send != NULL ? strlen(s->send) : 0;
	char err[128];
	CURLcode cc;
	size_t n;
	int m;

	while (j->state == JOB_RUNNING && j->phase == TCP_SENDING) {
		cc = curl_easy_send(j->easy, s->send + j->sent, send_len - j->sent, &n);
		if (cc == CURLE_AGAIN)
			return;
		if (cc != CURLE_OK)
			job_finish(r, j, VERDICT_FAIL, "send: %s", curl_easy_strerror(cc));
		else if ((j->sent += n) == send_len && s->reply_re == NULL)
			job_finish(r, j, VERDICT_PASS, "connected, sent %zu bytes", send_len);
		else if (j->sent == send_len)
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
			m = check_match(r, s->reply_re, j->buf, j->len, err, sizeof(err));
			if (m == 1)
				job_finish(r, j, VERDICT_PASS, "reply matched");
			else if (m == -1)
				job_finish(r, j, VERDICT_FAIL, "reply match error: %s", err);
			else if (j->len == TCP_REPLY_MAX)
				job_finish(r, j, VERDICT_FAIL, "reply did not match");
		}
	}
}

/* CURLMSG_DONE: connected (the handle stays in the multi until the exchange ends), or not. */
static void
tcp_done(struct run *r, struct job *j, CURLcode cc)
{
	const struct tcp_check *s = j->spec->conf;

	if (cc != CURLE_OK) {
		check_curl_failed(r, j, cc, s->connect_timeout_ms);
		return;
	}

	if (curl_easy_getinfo(j->easy, CURLINFO_ACTIVESOCKET, &j->sock) != CURLE_OK ||
	    j->sock == CURL_SOCKET_BAD) {
		job_finish(r, j, VERDICT_UNKNOWN, "curl: no socket after connect");
		return;
	}
	if (s->send != NULL && s->send[0] != '\0')
		j->phase = TCP_SENDING;
	else if (s->reply_re != NULL)
		j->phase = TCP_READING;
	else
		job_finish(r, j, VERDICT_PASS, "connected");
	tcp_io(r, j);
}

const struct check_type check_tcp = {
	.name = "tcp",
	.keys = CONF_TABLE("dependencies", tcp_opts),
	.size = sizeof(struct tcp_check),
	.build = tcp_build,
	.free = tcp_free,
	.start = tcp_start,
	.curl_done = tcp_done,
	.wait_fd = tcp_wait_fd,
	.io = tcp_io,
	.own_timeout = tcp_own_timeout,
};
