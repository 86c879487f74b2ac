/* check_http.c: http and https checks: status, body pattern, headers, credentials, proxy. */
#include <errno.h>
#include <fcntl.h>
#include <libconfig.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "prober.h"

#define CRED_MAX 16384 /* largest credentials file read */

#define H(f) offsetof(struct http_check, f)
static const struct conf_opt http_opts[] = {
	{ "connect_timeout_ms", OPT_INT, 1, 60000, -1, NULL, NULL, H(connect_timeout_ms) },
	{ "url", OPT_STR, 0, 0, 0, "", NULL, H(url) },
	{ "method", OPT_STR, 0, 0, 0, "GET", NULL, H(method) },
	{ "headers", OPT_STRLIST, 0, 0, 0, NULL, NULL, H(headers) },
	{ "expect", OPT_STR, 0, 0, 0, "200-299", NULL, H(expect) },
	{ "body_match", OPT_STR, 0, 0, 0, "", NULL, H(body_match) },
	{ "body_negate", OPT_BOOL, 0, 1, 0, NULL, NULL, H(body_negate) },
	{ "body_bytes", OPT_INT, 1, 1048576, 65536, NULL, NULL, H(body_bytes) },
	{ "tls_verify", OPT_BOOL, 0, 1, 1, NULL, NULL, H(tls_verify) },
	{ "ca_file", OPT_PATH, 0, 0, 0, "", NULL, H(ca_file) },
	{ "follow_redirects", OPT_BOOL, 0, 1, 0, NULL, NULL, H(follow_redirects) },
	{ "credentials", OPT_PATH, 0, 0, 0, "", NULL, H(cred_file) },
	{ "proxy", OPT_STR, 0, 0, 0, "", NULL, H(proxy) },
};
#undef H

/* Three digits at *p, advanced past them: the code, or -1. */
static int
status_code(const char **p)
{
	const char *q = *p;

	if (q[0] < '0' || q[0] > '9' || q[1] < '0' || q[1] > '9' || q[2] < '0' || q[2] > '9' ||
	    (q[3] >= '0' && q[3] <= '9'))
		return -1;
	*p = q + 3;
	return (q[0] - '0') * 100 + (q[1] - '0') * 10 + (q[2] - '0');
}

/* "200-299,301" -> ranges.  Returns the count, or -1. */
static ssize_t
parse_ranges(const char *s, struct status_range **out)
{
	struct status_range *r = NULL;
	size_t n = 0, cap = 0;
	const char *p = s;

	*out = NULL;
	/* Exactly the documented form: CODE or CODE-CODE (3 digits each), joined by commas. */
	while (*p != '\0') {
		int lo, hi;

		if ((lo = status_code(&p)) < 0)
			goto bad;
		hi = lo;
		if (*p == '-') {
			p++;
			if ((hi = status_code(&p)) < 0)
				goto bad;
		}
		if (lo < 100 || hi > 599 || lo > hi)
			goto bad;
		r = util_grow(r, &cap, n + 1, sizeof(*r));
		r[n].lo = lo;
		r[n].hi = hi;
		n++;
		if (*p == ',' && p[1] != '\0')
			p++;
		else if (*p != '\0')
			goto bad;
	}
	if (n == 0)
		goto bad;
	*out = r;
	return (ssize_t)n;
bad:
	free(r);
	return -1;
}

static void
http_build(struct conf_loader *l, const struct conf *c, struct dep_conf *d,
           const struct conf_grp *g)
{
	struct http_check *h = d->check->conf;
	const config_setting_t *at = g->set;
	int proxy_i = conf_opt_index(&check_http.keys, "proxy");
	ssize_t nr;

	h->connect_timeout_ms = check_connect_timeout(l, c, d, g, h->connect_timeout_ms);
	if (strncmp(h->url, "http://", 7) != 0 && strncmp(h->url, "https://", 8) != 0)
		conf_err(l, at, "%s.url: required, http:// or https://", g->label);
	for (size_t k = 0; h->headers != NULL && h->headers[k] != NULL; k++)
		if (strchr(h->headers[k], ':') == NULL || strpbrk(h->headers[k], "\r\n"))
			conf_err(l, at, "%s.headers[%zu]: expected \"Name: value\"", g->label, k);
	if ((nr = parse_ranges(h->expect, &h->ranges)) < 0)
		conf_err(l, at, "%s.expect: \"%s\" is not a list of statuses or ranges like "
		         "200-299,301", g->label, h->expect);
	else
		h->nranges = (size_t)nr;
	if (h->body_match[0] != '\0')
		h->body_re = check_compile(l, g, "body_match", h->body_match);
	/* curl would hand custom headers (secrets) to whatever host a redirect names. */
	if (h->follow_redirects && h->cred_file[0] != '\0')
		conf_err(l, at, "%s: credentials and follow_redirects cannot go together", g->label);
	if (h->cred_file[0] != '\0')
		d->cred_line = config_setting_source_line(
			g->seen[conf_opt_index(&check_http.keys, "credentials")]);
	/* Its own proxy ("" = direct) wins over prober.proxy. */
	if (g->found[proxy_i] != NULL) {
		if (!conf_proxy_ok(h->proxy))
			conf_err(l, g->found[proxy_i], "%s.proxy: \"%s\" is not a proxy URL "
			         "(http://, https://, socks5h://... host[:port])", g->label, h->proxy);
	} else if (c->proxy != NULL && c->proxy[0] != '\0') {
		free(h->proxy);
		h->proxy = xstrdup(c->proxy);
	}
}

static void
http_free(void *conf)
{
	struct http_check *h = conf;

	free(h->url);
	free(h->method);
	util_strv_free(h->headers);
	free(h->expect);
	free(h->ranges);
	free(h->body_match);
	pcre2_code_free(h->body_re);
	free(h->ca_file);
	free(h->cred_file);
	free(h->proxy);
}

static const char *
http_cred_file(const void *conf)
{
	const struct http_check *h = conf;

	return h->cred_file;
}

/* Set an option on e unless an earlier one failed; rc keeps the first error. */
#define SETOPT(opt, val) (rc = rc != CURLE_OK ? rc : curl_easy_setopt(e, opt, val))

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
	util_close(&fd, "credentials file");
	return rc;
}

static int
http_cred_check(const void *conf, char *why, size_t whylen)
{
	const struct http_check *h = conf;
	struct curl_slist *hdrs = NULL;
	int rc;

	if (h->cred_file == NULL || h->cred_file[0] == '\0')
		return 0;
	rc = cred_load(h->cred_file, &hdrs, why, whylen);
	check_hdrs_free(hdrs);
	return rc;
}

/*
 * A credentials file that cannot be used leaves the check unknown every pass, and unknown
 * never moves a dependency: say so at warning level, once a run for each file.
 */
static void
cred_warn(const char *path, const char *why)
{
	static const char *warned[64];
	size_t i;

	for (i = 0; i < sizeof(warned) / sizeof(warned[0]) && warned[i] != NULL; i++)
		if (warned[i] == path)
			return;
	if (i < sizeof(warned) / sizeof(warned[0]))
		warned[i] = path;
	log_warnx("credentials %s: %s: the check that reads it is unknown, so its dependency "
	          "keeps its state, until the file is fixed", path, why);
}

/* Keep the first body_bytes of the body for body_re; drain the rest. */
static size_t
http_body_cb(char *data, size_t size, size_t nmemb, void *arg)
{
	struct job *j = arg;
	const struct http_check *h = j->spec->conf;
	size_t n = size * nmemb, room = j->buf != NULL ? (size_t)h->body_bytes - j->len : 0;

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
	const struct http_check *s = j->spec->conf;
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
	if (s->cred_file != NULL && s->cred_file[0] != '\0' &&
	    cred_load(s->cred_file, &j->hdrs, why, sizeof(why)) == -1) {
		cred_warn(s->cred_file, why);
		job_finish(r, j, VERDICT_UNKNOWN, "%s", why);
		return;
	}
	if (s->url == NULL || (e = j->easy = curl_easy_init()) == NULL) {
		job_finish(r, j, VERDICT_UNKNOWN, s->url ? "curl init failed" : "bad check: no url");
		return;
	}
	if (s->body_re != NULL)
		j->buf = xmalloc((size_t)s->body_bytes);
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
	if (s->ca_file != NULL && s->ca_file[0] != '\0')
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
	check_curl_go(r, j, rc, s->url, "http,https", s->connect_timeout_ms);
}

static int
status_ok(const struct http_check *s, long status)
{
	if (s->ranges == NULL || s->nranges == 0)
		return status >= 200 && status <= 299;
	for (size_t i = 0; i < s->nranges; i++)
		if (status >= s->ranges[i].lo && status <= s->ranges[i].hi)
			return 1;
	return 0;
}

static void
http_done(struct run *r, struct job *j, CURLcode cc)
{
	const struct http_check *s = j->spec->conf;
	char err[128];
	long st = 0;
	int m;

	if (cc != CURLE_OK) {
		check_curl_failed(r, j, cc, s->connect_timeout_ms);
		return;
	}
	if (curl_easy_getinfo(j->easy, CURLINFO_RESPONSE_CODE, &st) != CURLE_OK)
		job_finish(r, j, VERDICT_UNKNOWN, "curl: no response code");
	else if (!status_ok(s, st) || s->body_re == NULL)
		job_finish(r, j, status_ok(s, st) ? VERDICT_PASS : VERDICT_FAIL, "HTTP %ld", st);
	else if ((m = check_match(r, s->body_re, j->buf, j->len, err, sizeof(err))) == -1)
		job_finish(r, j, VERDICT_FAIL, "body match error: %s", err);
	else if (m != !!s->body_negate)
		job_finish(r, j, VERDICT_PASS, "HTTP %ld", st);
	else
		job_finish(r, j, VERDICT_FAIL, m ? "HTTP %ld, body matched (negated pattern)"
		                                 : "HTTP %ld, body did not match", st);
}

#undef SETOPT

const struct check_type check_http = {
	.name = "http",
	.keys = CONF_TABLE("dependencies", http_opts),
	.size = sizeof(struct http_check),
	.build = http_build,
	.free = http_free,
	.cred_file = http_cred_file,
	.cred_check = http_cred_check,
	.start = http_start,
	.curl_done = http_done,
};
