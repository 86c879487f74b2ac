/*
 * http.c: deephealthctl's HTTP requests (where, history --regions): GETs run
 * in parallel with libcurl's multi interface, each bounded in time and in
 * the body it keeps, never through a proxy (the commands ask what a load
 * balancer asks, from here), with the X-Deephealth-* headers of the answer.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "ctl.h"

/* A header line "Name: value\r\n" of name: its value into out. */
static void
header_value(const char *line, size_t len, const char *name, char *out, size_t outlen)
{
	size_t n = strlen(name);

	if (len <= n + 1 || strncasecmp(line, name, n) != 0 || line[n] != ':')
		return;
	line += n + 1;
	len -= n + 1;
	while (len > 0 && (*line == ' ' || *line == '\t')) {
		line++;
		len--;
	}
	while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == '\n' || line[len - 1] == ' '))
		len--;
	snprintf(out, outlen, "%.*s", (int)len, line);
}

static size_t
on_header(char *buf, size_t size, size_t n, void *arg)
{
	struct http_get *g = arg;
	size_t len = size * n;

	/* A redirect is not followed: the headers kept are the answer's. */
	header_value(buf, len, "X-Deephealth-Status", g->status, sizeof(g->status));
	header_value(buf, len, "X-Deephealth-Reason", g->reason, sizeof(g->reason));
	header_value(buf, len, "X-Deephealth-Registry", g->registry, sizeof(g->registry));
	header_value(buf, len, "X-Deephealth-Source", g->source, sizeof(g->source));
	header_value(buf, len, "X-Deephealth-Snapshot-Age", g->age, sizeof(g->age));
	return len;
}

static size_t
on_body(char *buf, size_t size, size_t n, void *arg)
{
	struct http_get *g = arg;
	size_t len = size * n;

	if (g->max_body == 0)
		return len;
	if (g->len + len > g->max_body) {
		g->too_large = 1;
		return 0; /* libcurl stops: CURLE_WRITE_ERROR */
	}
	g->body = util_grow(g->body, &g->cap, g->len + len + 1, 1);
	memcpy(g->body + g->len, buf, len);
	g->len += len;
	g->body[g->len] = '\0';
	return len;
}

int
http_get_all(struct http_get *v, size_t n)
{
	CURLM *multi;
	CURL **easy;
	struct curl_slist **hdrs;
	int running = 0, rc = 0;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || (multi = curl_multi_init()) == NULL)
		return -1;
	easy = xcalloc(n ? n : 1, sizeof(*easy));
	hdrs = xcalloc(n ? n : 1, sizeof(*hdrs));
	for (size_t i = 0; i < n; i++) {
		struct http_get *g = &v[i];
		char host[DH_HOST_MAX + 16];

		g->code = 0;
		g->err[0] = g->status[0] = g->reason[0] = g->registry[0] = g->source[0] = g->age[0] = '\0';
		g->body = NULL;
		g->len = g->cap = 0;
		g->too_large = 0;
		if ((easy[i] = curl_easy_init()) == NULL) {
			snprintf(g->err, sizeof(g->err), "out of memory");
			continue;
		}
		if (g->host != NULL) {
			snprintf(host, sizeof(host), "Host: %s", g->host);
			hdrs[i] = curl_slist_append(NULL, host);
		}
		curl_easy_setopt(easy[i], CURLOPT_URL, g->url);
		curl_easy_setopt(easy[i], CURLOPT_HTTPHEADER, hdrs[i]);
		curl_easy_setopt(easy[i], CURLOPT_PROXY, "");
		curl_easy_setopt(easy[i], CURLOPT_NOPROXY, "*");
		curl_easy_setopt(easy[i], CURLOPT_PROTOCOLS_STR, "http,https");
		curl_easy_setopt(easy[i], CURLOPT_TIMEOUT_MS, g->timeout_ms);
		curl_easy_setopt(easy[i], CURLOPT_CONNECTTIMEOUT_MS, g->timeout_ms);
		curl_easy_setopt(easy[i], CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(easy[i], CURLOPT_USERAGENT, "deephealthctl/" DH_VERSION);
		curl_easy_setopt(easy[i], CURLOPT_HEADERFUNCTION, on_header);
		curl_easy_setopt(easy[i], CURLOPT_HEADERDATA, g);
		curl_easy_setopt(easy[i], CURLOPT_WRITEFUNCTION, on_body);
		curl_easy_setopt(easy[i], CURLOPT_WRITEDATA, g);
		curl_easy_setopt(easy[i], CURLOPT_PRIVATE, g);
		curl_multi_add_handle(multi, easy[i]);
	}
	do {
		CURLMcode mc = curl_multi_perform(multi, &running);

		if (mc == CURLM_OK && running > 0)
			mc = curl_multi_poll(multi, NULL, 0, 1000, NULL);
		if (mc != CURLM_OK) {
			rc = -1;
			break;
		}
	} while (running > 0);
	for (CURLMsg *m; (m = curl_multi_info_read(multi, &running)) != NULL;) {
		struct http_get *g;
		double t = 0;

		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&g);
		curl_easy_getinfo(m->easy_handle, CURLINFO_TOTAL_TIME, &t);
		g->ms = (int64_t)(t * 1000);
		if (m->data.result == CURLE_OK) {
			curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &g->code);
		} else {
			g->code = 0;
			snprintf(g->err, sizeof(g->err), "%s", g->too_large ? "answer too large" :
			         m->data.result == CURLE_OPERATION_TIMEDOUT ? "no answer in time" :
			         m->data.result == CURLE_COULDNT_CONNECT ? "connection refused or unreachable" :
			         curl_easy_strerror(m->data.result));
		}
	}
	for (size_t i = 0; i < n; i++) {
		if (easy[i] != NULL) {
			curl_multi_remove_handle(multi, easy[i]);
			curl_easy_cleanup(easy[i]);
		}
		curl_slist_free_all(hdrs[i]);
	}
	curl_multi_cleanup(multi);
	free(easy);
	free(hdrs);
	return rc;
}

void
http_get_free(struct http_get *v, size_t n)
{
	for (size_t i = 0; v != NULL && i < n; i++) {
		free(v[i].body);
		v[i].body = NULL;
	}
}

/* "http://ADDR:PORT" or "http://[ADDR]:PORT" + path into out. */
void
http_url(char *out, size_t len, const char *addr, int port, const char *path)
{
	snprintf(out, len, strchr(addr, ':') != NULL ? "http://[%s]:%d%s" : "http://%s:%d%s", addr,
	         port, path);
}
