/*
 * openloop.c: an open-loop (fixed-rate) HTTP/1.1 load generator for loopback benchmarks.
 *
 * Request i is due at exactly t0 + i/RATE whatever the server is doing.  It goes out on an
 * idle keep-alive connection at that moment or, when every connection is busy, waits in a
 * FIFO queue; either way its latency runs from its SCHEDULED time, so a server that stalls
 * is charged for every request it held up (no coordinated omission).  One thread, epoll,
 * nonblocking sockets, a timerfd armed at the next due time; one request in flight per
 * connection.  Latencies go into a log-linear histogram (1 us steps below 1.024 ms, 128
 * steps per power of two above, i.e. under 0.8% relative error, up to 67 s); nothing is
 * allocated per request.
 *
 * Usage:
 *	openloop -u http://127.0.0.1:PORT/path -r RATE -d SECONDS [-c CONNS]
 *	    [-H "Host: a" -H "Host: b" ...] [-w WARMUP_SECONDS]
 *
 *	-u  target; only http:// to a literal 127.x.x.x or [::1] (anything else: exit 2)
 *	-r  requests per second over all connections, 1..1000000
 *	-d  measured seconds, 1..600
 *	-c  keep-alive connections, 1..1024 (default 16)
 *	-H  one Host value of a rotation ("Host: a" or just "a"); request i uses value
 *	    i mod n; default the URL's host[:port]
 *	-w  warmup seconds, 0..60 (default 1): requests sent on the same schedule but not counted
 *
 * Output: one line on stdout of key=value pairs, for scripts:
 *	rate=5000 sent=25000 done=24990 errors=10 non200=0 achieved_rps=4998.1 p50_ms=0.210
 *	p90_ms=0.350 p99_ms=0.880 p999_ms=2.100 max_ms=5.300 scheduled=25000 timeouts=10
 *	conn_errors=0 reconnects=0 gen_lag_p99_ms=0.012 gen_lag_max_ms=0.150 conns=16 duration_s=5
 *	answers=200/healthy:20000,503/dependency-failed:4990 untallied=0 foreign=0 foreign_first_ms=-1
 *	foreign_last_ms=-1 failed_first_ms=-1 failed_last_ms=-1
 * (one line).  Counts cover the measured window only.  scheduled = done + errors; sent counts
 * requests written to a connection; errors are requests that failed (connection error,
 * reset, premature close, malformed reply) plus timeouts, the requests still unanswered
 * or unsent 2 s after the last one was due; non200 counts complete replies whose status
 * was not 200.  achieved_rps = done / max(duration, last reply - start of the window).
 * Percentiles are of latency from scheduled time to the end of the reply, as the highest
 * value of their histogram bucket (never above max).  conn_errors counts connection-level
 * failures (refused, reset, unsolicited bytes), with or without a request on them;
 * reconnects counts every new connection after the first CONNS.  gen_lag_* is how late the
 * generator itself woke for requests that were due while none were queued (timer and
 * scheduling lag, a part of every latency): if it is large, the machine rather than the
 * server is the bottleneck.  answers counts complete replies by status and X-Deephealth-Reason
 * ("none" for an answer of ours without one), up to 32 pairs (the rest in untallied); a
 * reply without X-Deephealth-Status is the web server's own, "-" as its reason and counted
 * in foreign.  foreign_first_ms and foreign_last_ms say when the first and the last of
 * those came, failed_first_ms and failed_last_ms when requests first and last failed on
 * their connection, in ms from the start of the window (-1: never): the span of a fault
 * as the client saw it.  A human-readable summary goes to stderr only when something
 * failed.
 *
 * Exit: 0 when the run happened (even with errors), 1 on setup failure (no connection
 * could be made, descriptors, epoll), 2 on bad usage or a refused URL.
 *
 * Limits: GET only, no pipelining, no TLS, no redirects, no retries (a request that meets
 * a keep-alive connection the server just closed fails).  Replies are framed by
 * Content-Length, chunked encoding (extensions and trailers skipped) or the end of the
 * connection; 1xx replies are skipped; a reply head over 8 KiB is an error.  The clock
 * starts once every connection is up or after 2 s, whichever is first; a failed connect is
 * retried every 10 ms.  The schedule is exact but wakeups are only as punctual as the
 * kernel: at high rates requests due together go out in one batch, each still measured
 * from its own scheduled time.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define NSEC		1000000000LL
#define MAX_CONNS	1024
#define MAX_HOSTS	1024
#define MAX_EVENTS	256
#define RBUF_SIZE	8192			/* also the limit on a reply's head */
#define RETRY_NS	(10 * 1000000LL)	/* pause after a failed connect */
#define MAX_TALLY	32			/* distinct status and reason pairs counted */
#define DRAIN_NS	(2 * NSEC)
#define SETUP_NS	(2 * NSEC)
#define TIMER_ID	UINT32_MAX

/* Histogram: values in microseconds; see the file comment. */
#define H_LIN		1024
#define H_SUB		128
#define H_SUB_BITS	7
#define H_LIN_BITS	10
#define H_MAX_EXP	26
#define H_N		(H_LIN + (H_MAX_EXP - H_LIN_BITS) * H_SUB)

struct hist {
	uint64_t count[H_N];
	uint64_t total;
	int64_t max_ns;
};

enum conn_state { C_CLOSED, C_RETRY, C_CONNECTING, C_IDLE, C_BUSY };

/* Where the reply parser is: the head, or one of the ways a body can be framed. */
enum phase { P_HEAD, P_BODY, P_EOF, P_CHUNK_SIZE, P_CHUNK_DATA, P_CHUNK_CRLF, P_TRAILER };

struct conn {
	int fd;
	enum conn_state state;
	int in_ring;		/* has an entry (maybe stale) in the idle ring */
	int want_out;		/* EPOLLOUT registered */
	int64_t retry_at;
	uint64_t seq;		/* the request in flight when C_BUSY */
	const char *wbuf;
	size_t wlen, woff;
	enum phase phase;
	int status;
	int ours;		/* the reply carried X-Deephealth-Status: a responder's answer */
	char reason[32];	/* its X-Deephealth-Reason, "" when none */
	int keep;		/* the reply allows another request */
	uint64_t remain;	/* body or chunk bytes still to come */
	size_t off, len;	/* unconsumed input is buf[off..len) */
	size_t scan;		/* head terminator searched up to off + scan */
	char buf[RBUF_SIZE];
};

/* One status and reason pair of the answers= field. */
struct tally {
	int status;
	char reason[32];
	uint64_t n;
};

struct request {
	char *text;
	size_t len;
};

struct opts {
	const char *url;
	long rate, duration, warmup, nconns;
	const char *hosts[MAX_HOSTS];
	size_t nhosts;
};

struct ol {
	struct sockaddr_storage addr;
	socklen_t addrlen;
	char authority[80];
	const char *path;
	struct request *reqs;
	size_t nreqs;

	int ep, tfd;
	int64_t armed;		/* timerfd expiry, 0 when disarmed or fired */
	struct conn *conns;
	int nconns;
	int *ring;		/* idle connections, oldest first */
	int ring_head, ring_count;
	int nretry;

	long rate, duration, warmup;
	int64_t t0, deadline;
	uint64_t n_total;	/* requests in warmup and measured window */
	uint64_t warm_n;	/* requests below this index are warmup */
	uint64_t due;		/* requests [0, due) have come due */
	uint64_t q_head;	/* requests [q_head, due) wait for a connection */
	uint64_t inflight;
	int64_t last_done;
	int timed;		/* the last wait was aimed at the next due request */

	uint64_t sent, done, failed, timeouts, non200;
	uint64_t conn_errors, reconnects, opened;
	struct tally tally[MAX_TALLY];	/* replies by status and X-Deephealth-Reason */
	size_t ntally;
	uint64_t untallied;		/* replies past MAX_TALLY distinct pairs */
	uint64_t foreign;		/* replies without X-Deephealth-Status: the server's own */
	int64_t foreign_first, foreign_last, failed_first, failed_last;	/* ns, 0: none */
	const char *last_err;
	struct hist lat, lag;
};

static const char usage_text[] =
    "usage: openloop -u http://127.0.0.1:PORT/path -r RATE -d SECONDS [-c CONNS]\n"
    "                [-H \"Host: a\" -H \"Host: b\" ...] [-w WARMUP_SECONDS]\n";

static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * NSEC + ts.tv_nsec;
}

/* ---- histogram ---- */

static size_t
hist_index(uint64_t us)
{
	unsigned e = H_LIN_BITS;

	if (us < H_LIN)
		return (size_t)us;
	while (e + 1 < 64 && (us >> (e + 1)) != 0)
		e++;
	if (e >= H_MAX_EXP)
		return H_N - 1;
	return H_LIN + (size_t)(e - H_LIN_BITS) * H_SUB +
	    (size_t)((us >> (e - H_SUB_BITS)) & (H_SUB - 1));
}

/* The highest value, in microseconds, that lands in bucket i. */
static uint64_t
hist_high(size_t i)
{
	size_t k;
	unsigned e;

	if (i < H_LIN)
		return i;
	k = i - H_LIN;
	e = H_LIN_BITS + (unsigned)(k / H_SUB);
	return (((uint64_t)H_SUB + k % H_SUB + 1) << (e - H_SUB_BITS)) - 1;
}

static void
hist_record(struct hist *h, int64_t ns)
{
	if (ns < 0)
		ns = 0;
	h->count[hist_index((uint64_t)ns / 1000)]++;
	h->total++;
	if (ns > h->max_ns)
		h->max_ns = ns;
}

/* The q-quantile in milliseconds; 0 for an empty histogram. */
static double
hist_ms(const struct hist *h, double q)
{
	uint64_t want, seen = 0;
	double ms;
	size_t i;

	if (h->total == 0)
		return 0;
	want = (uint64_t)(q * (double)h->total + 0.999999);
	if (want < 1)
		want = 1;
	for (i = 0; i < H_N; i++) {
		seen += h->count[i];
		if (seen >= want)
			break;
	}
	if (i == H_N)
		i = H_N - 1;
	ms = (double)hist_high(i) / 1000.0;
	if (ms > (double)h->max_ns / 1e6)
		ms = (double)h->max_ns / 1e6;
	return ms;
}

/* ---- the schedule ---- */

static int64_t
sched_ns(const struct ol *o, uint64_t i)
{
	return o->t0 + (int64_t)(i * (uint64_t)NSEC / (uint64_t)o->rate);
}

/* How many requests have come due by now (capped at n_total). */
static uint64_t
due_by(const struct ol *o, int64_t now)
{
	uint64_t n;

	if (now < o->t0)
		return 0;
	n = ((uint64_t)(now - o->t0) + 1) * (uint64_t)o->rate;
	n = (n + (uint64_t)NSEC - 1) / (uint64_t)NSEC;
	if (n > o->n_total)
		n = o->n_total;
	while (n < o->n_total && sched_ns(o, n) <= now)
		n++;
	while (n > 0 && sched_ns(o, n - 1) > now)
		n--;
	return n;
}

/* ---- connections ---- */

static void
ring_push(struct ol *o, struct conn *c)
{
	if (c->in_ring)
		return;
	o->ring[(o->ring_head + o->ring_count) % o->nconns] = (int)(c - o->conns);
	o->ring_count++;
	c->in_ring = 1;
}

/* The idle connection that has waited longest, or NULL; drops stale entries. */
static struct conn *
ring_pop(struct ol *o)
{
	struct conn *c;

	while (o->ring_count > 0) {
		c = &o->conns[o->ring[o->ring_head]];
		o->ring_head = (o->ring_head + 1) % o->nconns;
		o->ring_count--;
		c->in_ring = 0;
		if (c->state == C_IDLE)
			return c;
	}
	return NULL;
}

static int
conn_events(struct ol *o, struct conn *c, int op, int out)
{
	struct epoll_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.events = out ? EPOLLOUT : EPOLLIN;
	if (out && c->state == C_BUSY)
		ev.events |= EPOLLIN;
	ev.data.u32 = (uint32_t)(c - o->conns);
	if (epoll_ctl(o->ep, op, c->fd, &ev) == -1)
		return -1;
	c->want_out = out;
	return 0;
}

static void
conn_retry_later(struct ol *o, struct conn *c, int64_t now)
{
	c->state = C_RETRY;
	c->retry_at = now + RETRY_NS;
	o->nretry++;
}

static void
conn_became_idle(struct ol *o, struct conn *c)
{
	c->state = C_IDLE;
	ring_push(o, c);
}

/* Starts a nonblocking connect; on failure the connection waits RETRY_NS and tries again. */
static void
conn_open(struct ol *o, struct conn *c, int64_t now)
{
	int one = 1, fd;

	if (o->opened++ >= (uint64_t)o->nconns)
		o->reconnects++;
	fd = socket(o->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		o->last_err = strerror(errno);
		o->conn_errors++;
		conn_retry_later(o, c, now);
		return;
	}
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->fd = fd;
	if (connect(fd, (struct sockaddr *)&o->addr, o->addrlen) == 0) {
		c->state = C_IDLE;
		if (conn_events(o, c, EPOLL_CTL_ADD, 0) == -1)
			goto fail;
		ring_push(o, c);
		return;
	}
	if (errno != EINPROGRESS)
		goto fail;
	c->state = C_CONNECTING;
	if (conn_events(o, c, EPOLL_CTL_ADD, 1) == -1)
		goto fail;
	return;
fail:
	o->last_err = strerror(errno);
	o->conn_errors++;
	close(fd);
	c->fd = -1;
	conn_retry_later(o, c, now);
}

/*
 * Closes c.  A request in flight on it fails; error says whether the connection itself
 * failed (why says how).  A new connection is opened unless every request has been sent.
 */
static void
conn_drop(struct ol *o, struct conn *c, int error, const char *why, int64_t now)
{
	if (c->state == C_BUSY) {
		if (c->seq >= o->warm_n) {
			o->failed++;
			if (o->failed_first == 0)
				o->failed_first = now;
			o->failed_last = now;
		}
		o->inflight--;
	}
	if (error) {
		o->conn_errors++;
		o->last_err = why;
	}
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->state = C_CLOSED;
	if (o->q_head < o->n_total)
		conn_open(o, c, now);
}

static void
conn_connected(struct ol *o, struct conn *c)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		err = errno;
	if (err == 0) {
		c->state = C_IDLE;
		if (conn_events(o, c, EPOLL_CTL_MOD, 0) == 0) {
			ring_push(o, c);
			return;
		}
		err = errno;
	}
	o->last_err = strerror(err);
	o->conn_errors++;
	close(c->fd);
	c->fd = -1;
	conn_retry_later(o, c, now_ns());
}

static void
conn_write(struct ol *o, struct conn *c)
{
	ssize_t n;

	while (c->woff < c->wlen) {
		n = send(c->fd, c->wbuf + c->woff, c->wlen - c->woff, MSG_NOSIGNAL);
		if (n > 0) {
			c->woff += (size_t)n;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (!c->want_out && conn_events(o, c, EPOLL_CTL_MOD, 1) == -1)
				conn_drop(o, c, 1, strerror(errno), now_ns());
			return;
		}
		conn_drop(o, c, 1, n == -1 ? strerror(errno) : "send wrote nothing", now_ns());
		return;
	}
	if (c->want_out && conn_events(o, c, EPOLL_CTL_MOD, 0) == -1)
		conn_drop(o, c, 1, strerror(errno), now_ns());
}

static void
conn_dispatch(struct ol *o, struct conn *c, uint64_t seq)
{
	const struct request *r = &o->reqs[seq % o->nreqs];

	c->state = C_BUSY;
	c->seq = seq;
	c->wbuf = r->text;
	c->wlen = r->len;
	c->woff = 0;
	c->phase = P_HEAD;
	c->status = 0;
	c->keep = 1;
	c->remain = 0;
	c->off = c->len = c->scan = 0;
	o->inflight++;
	if (seq >= o->warm_n)
		o->sent++;
	conn_write(o, c);
}

/* ---- reply parsing ---- */

static int
name_is(const char *p, size_t n, const char *name)
{
	return strlen(name) == n && strncasecmp(p, name, n) == 0;
}

/* Whether the comma-separated list v[0..n) holds token tok (any case). */
static int
has_token(const char *v, size_t n, const char *tok)
{
	size_t i = 0, s, e;

	while (i < n) {
		while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		s = i;
		while (i < n && v[i] != ',')
			i++;
		e = i;
		while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
			e--;
		if (e > s && name_is(v + s, e - s, tok))
			return 1;
	}
	return 0;
}

/* Whether the last coding of a Transfer-Encoding list is chunked. */
static int
last_is_chunked(const char *v, size_t n)
{
	size_t s = n;

	while (s > 0 && v[s - 1] != ',')
		s--;
	while (s < n && (v[s] == ' ' || v[s] == '\t'))
		s++;
	return name_is(v + s, n - s, "chunked");
}

/*
 * Parses a complete head p[0..n) (status line and headers, ending in CRLF CRLF) and sets
 * c's status, keep and body framing.  Returns 1 when the reply is complete with it, 0 when
 * a body follows, 2 for an interim 1xx reply to skip, -1 when malformed.
 */
static int
parse_head(struct conn *c, const char *p, size_t n)
{
	const char *line, *end, *colon, *v, *lim = p + n;
	size_t vn;
	int http11, chunked = 0, has_cl = 0, conn_close = 0, conn_ka = 0;
	uint64_t cl = 0, x;

	end = memchr(p, '\r', n);
	if (end == NULL || end - p < 12 || memcmp(p, "HTTP/1.", 7) != 0 ||
	    (p[7] != '0' && p[7] != '1') || p[8] != ' ' ||
	    p[9] < '1' || p[9] > '5' || p[10] < '0' || p[10] > '9' ||
	    p[11] < '0' || p[11] > '9' || (end - p > 12 && p[12] != ' '))
		return -1;
	http11 = p[7] == '1';
	c->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
	c->ours = 0;
	c->reason[0] = '\0';
	for (line = end + 2; line < lim; line = end + 2) {
		end = memchr(line, '\r', (size_t)(lim - line));
		if (end == NULL || end + 1 >= lim || end[1] != '\n')
			return -1;
		if (end == line)
			break;
		colon = memchr(line, ':', (size_t)(end - line));
		if (colon == NULL || colon == line)
			return -1;
		v = colon + 1;
		while (v < end && (*v == ' ' || *v == '\t'))
			v++;
		vn = (size_t)(end - v);
		while (vn > 0 && (v[vn - 1] == ' ' || v[vn - 1] == '\t'))
			vn--;
		if (name_is(line, (size_t)(colon - line), "content-length")) {
			if (vn == 0 || vn > 18)
				return -1;
			x = 0;
			for (size_t i = 0; i < vn; i++) {
				if (v[i] < '0' || v[i] > '9')
					return -1;
				x = x * 10 + (uint64_t)(v[i] - '0');
			}
			if (has_cl && x != cl)
				return -1;
			cl = x;
			has_cl = 1;
		} else if (name_is(line, (size_t)(colon - line), "transfer-encoding")) {
			if (!last_is_chunked(v, vn))
				return -1;
			chunked = 1;
		} else if (name_is(line, (size_t)(colon - line), "connection")) {
			conn_close |= has_token(v, vn, "close");
			conn_ka |= has_token(v, vn, "keep-alive");
		} else if (name_is(line, (size_t)(colon - line), "x-deephealth-status")) {
			c->ours = 1;
		} else if (name_is(line, (size_t)(colon - line), "x-deephealth-reason")) {
			size_t k;

			/* a token for the answers= field: no separators of its own */
			for (k = 0; k < vn && k < sizeof(c->reason) - 1; k++)
				c->reason[k] = v[k] > ' ' && v[k] < 0x7f && v[k] != ',' && v[k] != ':' &&
				               v[k] != '/' ? v[k] : '_';
			c->reason[k] = '\0';
		}
	}
	if (c->status == 101)
		return -1;
	if (c->status < 200)
		return 2;
	c->keep = http11 ? !conn_close : (conn_ka && !conn_close);
	if (c->status == 204 || c->status == 304)
		return 1;
	if (chunked) {
		c->phase = P_CHUNK_SIZE;
		return 0;
	}
	if (has_cl) {
		c->remain = cl;
		c->phase = P_BODY;
		return cl == 0;
	}
	c->phase = P_EOF;	/* the body runs to the end of the connection */
	c->keep = 0;
	return 0;
}

/* Consumes what c has buffered.  Returns 1 when the reply is complete, 0 for more, -1 bad. */
static int
conn_parse(struct conn *c)
{
	const char *p, *nl;
	size_t avail, i, take, hlen;
	uint64_t size;
	int r, digits;

	for (;;) {
		p = c->buf + c->off;
		avail = c->len - c->off;
		switch (c->phase) {
		case P_HEAD:
			for (i = c->scan; i + 3 < avail; i++)
				if (p[i] == '\r' && p[i + 1] == '\n' && p[i + 2] == '\r' &&
				    p[i + 3] == '\n')
					break;
			if (i + 3 >= avail) {
				c->scan = avail >= 3 ? avail - 3 : 0;
				return 0;
			}
			hlen = i + 4;
			r = parse_head(c, p, hlen);
			c->off += hlen;
			c->scan = 0;
			if (r != 0 && r != 2)
				return r;
			break;		/* a body follows, or an interim reply was skipped */
		case P_BODY:
		case P_CHUNK_DATA:
			take = avail < c->remain ? avail : (size_t)c->remain;
			c->off += take;
			c->remain -= take;
			if (c->remain > 0)
				return 0;
			if (c->phase == P_BODY)
				return 1;
			c->phase = P_CHUNK_CRLF;
			break;
		case P_EOF:
			c->off = c->len;
			return 0;
		case P_CHUNK_CRLF:
			if (avail < 2)
				return 0;
			if (p[0] != '\r' || p[1] != '\n')
				return -1;
			c->off += 2;
			c->phase = P_CHUNK_SIZE;
			break;
		case P_CHUNK_SIZE:
			nl = memchr(p, '\n', avail);
			if (nl == NULL)
				return 0;
			size = 0;
			digits = 0;
			for (i = 0; p + i < nl; i++) {
				int d;

				if (p[i] >= '0' && p[i] <= '9')
					d = p[i] - '0';
				else if (p[i] >= 'a' && p[i] <= 'f')
					d = p[i] - 'a' + 10;
				else if (p[i] >= 'A' && p[i] <= 'F')
					d = p[i] - 'A' + 10;
				else
					break;
				if (++digits > 15)
					return -1;
				size = size * 16 + (uint64_t)d;
			}
			if (digits == 0 || (p[i] != ';' && p[i] != '\r' && p[i] != '\n' &&
			    p[i] != ' ' && p[i] != '\t'))
				return -1;
			c->off += (size_t)(nl - p) + 1;
			c->remain = size;
			c->phase = size == 0 ? P_TRAILER : P_CHUNK_DATA;
			break;
		case P_TRAILER:
			nl = memchr(p, '\n', avail);
			if (nl == NULL)
				return 0;
			c->off += (size_t)(nl - p) + 1;
			if (nl == p || (nl == p + 1 && p[0] == '\r'))
				return 1;
			break;
		}
	}
}

/* Counts c's complete reply by status and reason; a reply without our header is foreign. */
static void
tally_add(struct ol *o, const struct conn *c, int64_t now)
{
	const char *reason = c->ours ? c->reason : "-";
	size_t i;

	if (!c->ours) {
		o->foreign++;
		if (o->foreign_first == 0)
			o->foreign_first = now;
		o->foreign_last = now;
	}
	for (i = 0; i < o->ntally; i++)
		if (o->tally[i].status == c->status && strcmp(o->tally[i].reason, reason) == 0)
			break;
	if (i == o->ntally) {
		if (i == MAX_TALLY) {
			o->untallied++;
			return;
		}
		o->tally[i].status = c->status;
		snprintf(o->tally[i].reason, sizeof(o->tally[i].reason), "%s", reason);
		o->ntally++;
	}
	o->tally[i].n++;
}

/* The reply to c's request is complete: record it and make c ready for the next one. */
static void
conn_complete(struct ol *o, struct conn *c)
{
	int64_t now = now_ns();
	int leftover = c->off < c->len;

	if (c->seq >= o->warm_n) {
		o->done++;
		if (c->status != 200)
			o->non200++;
		tally_add(o, c, now);
		hist_record(&o->lat, now - sched_ns(o, c->seq));
		o->last_done = now;
	}
	o->inflight--;
	c->state = C_CLOSED;	/* no longer busy: dropping it now fails nothing */
	if (leftover)
		conn_drop(o, c, 1, "bytes after a complete reply", now);
	else if (!c->keep || c->phase == P_EOF || c->woff < c->wlen)
		conn_drop(o, c, 0, NULL, now);
	else
		conn_became_idle(o, c);
}

static void
conn_read(struct ol *o, struct conn *c)
{
	ssize_t n;
	int r;

	if (c->state == C_IDLE) {
		n = recv(c->fd, c->buf, sizeof(c->buf), 0);
		if (n == 0)
			conn_drop(o, c, 0, NULL, now_ns());	/* keep-alive ended */
		else if (n > 0)
			conn_drop(o, c, 1, "unsolicited bytes on an idle connection", now_ns());
		else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			conn_drop(o, c, 1, strerror(errno), now_ns());
		return;
	}
	if (c->state != C_BUSY)
		return;
	for (;;) {
		if (c->off == c->len) {
			c->off = c->len = 0;
		} else if (c->len == sizeof(c->buf) && c->off > 0) {
			memmove(c->buf, c->buf + c->off, c->len - c->off);
			c->len -= c->off;
			c->off = 0;
		}
		if (c->len == sizeof(c->buf)) {
			conn_drop(o, c, 1, "reply head too large", now_ns());
			return;
		}
		n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				conn_drop(o, c, 1, strerror(errno), now_ns());
			return;
		}
		if (n == 0) {
			if (c->phase == P_EOF)
				conn_complete(o, c);
			else
				conn_drop(o, c, 1, "connection closed before the reply ended",
				    now_ns());
			return;
		}
		c->len += (size_t)n;
		r = conn_parse(c);
		if (r < 0) {
			conn_drop(o, c, 1, "malformed reply", now_ns());
			return;
		}
		if (r > 0) {
			conn_complete(o, c);
			return;
		}
	}
}

static void
conn_event(struct ol *o, struct conn *c, uint32_t ev)
{
	int fd = c->fd;

	if (fd < 0)
		return;
	if (c->state == C_CONNECTING) {
		conn_connected(o, c);
		return;
	}
	if ((ev & EPOLLOUT) && c->state == C_BUSY)
		conn_write(o, c);
	if (c->fd == fd && (ev & (EPOLLIN | EPOLLERR | EPOLLHUP)))
		conn_read(o, c);
}

/* ---- the loop ---- */

/* Makes the timerfd fire at monotonic time at.  Returns -1 if it cannot. */
static int
arm_timer(struct ol *o, int64_t at)
{
	struct itimerspec its;

	if (at == o->armed)
		return 0;
	memset(&its, 0, sizeof(its));
	its.it_value.tv_sec = (time_t)(at / NSEC);
	its.it_value.tv_nsec = (long)(at % NSEC);
	if (timerfd_settime(o->tfd, TFD_TIMER_ABSTIME, &its, NULL) == -1) {
		o->armed = 0;
		return -1;
	}
	o->armed = at;
	return 0;
}

/*
 * Reopens connections whose pause is over, then waits for events until target at the
 * latest (or an earlier retry) and handles them.  Returns -1 if epoll failed.
 */
static int
loop_once(struct ol *o, int64_t target)
{
	struct epoll_event evs[MAX_EVENTS];
	int64_t now = now_ns();
	uint64_t expirations;
	int i, n, timeout = -1;

	if (o->nretry > 0) {
		o->nretry = 0;
		for (i = 0; i < o->nconns; i++) {
			struct conn *c = &o->conns[i];

			if (c->state != C_RETRY)
				continue;
			if (c->retry_at <= now) {
				c->state = C_CLOSED;
				conn_open(o, c, now);
			} else {
				o->nretry++;
			}
			if (c->state == C_RETRY && c->retry_at < target)
				target = c->retry_at;
		}
	}
	if (target <= now)
		timeout = 0;
	else if (arm_timer(o, target) == -1)
		timeout = (int)((target - now + 999999) / 1000000);	/* coarse fallback */
	n = epoll_wait(o->ep, evs, MAX_EVENTS, timeout);
	if (n == -1)
		return errno == EINTR ? 0 : -1;
	for (i = 0; i < n; i++) {
		if (evs[i].data.u32 == TIMER_ID) {
			if (read(o->tfd, &expirations, sizeof(expirations)) > 0)
				o->armed = 0;
			continue;
		}
		conn_event(o, &o->conns[evs[i].data.u32], evs[i].events);
	}
	return 0;
}

/* Opens every connection and waits up to SETUP_NS for them.  Returns how many are up. */
static int
connect_all(struct ol *o)
{
	int64_t until = now_ns() + SETUP_NS;
	int i, up = 0;

	for (i = 0; i < o->nconns; i++)
		conn_open(o, &o->conns[i], now_ns());
	while (now_ns() < until) {
		for (up = 0, i = 0; i < o->nconns; i++)
			up += o->conns[i].state == C_IDLE;
		if (up == o->nconns || loop_once(o, until) == -1)
			break;
	}
	for (up = 0, i = 0; i < o->nconns; i++)
		up += o->conns[i].state == C_IDLE;
	return up;
}

static int
run(struct ol *o)
{
	struct conn *c;
	uint64_t newly;
	int64_t now, target;

	o->t0 = now_ns();
	o->deadline = o->t0 + (o->warmup + o->duration) * NSEC + DRAIN_NS;
	for (;;) {
		now = now_ns();
		newly = due_by(o, now);
		for (; o->due < newly; o->due++)
			if (o->timed && o->due >= o->warm_n)
				hist_record(&o->lag, now - sched_ns(o, o->due));
		while (o->q_head < o->due && (c = ring_pop(o)) != NULL)
			conn_dispatch(o, c, o->q_head++);
		if (o->q_head == o->n_total && o->inflight == 0)
			break;
		if (now >= o->deadline)
			break;
		/*
		 * While requests queue for a busy connection, later ones can only join the
		 * queue: no need to wake for them, and their lateness is not ours.
		 */
		target = o->deadline;
		o->timed = o->q_head == o->due && o->due < o->n_total &&
		    sched_ns(o, o->due) < target;
		if (o->timed)
			target = sched_ns(o, o->due);
		if (loop_once(o, target) == -1) {
			fprintf(stderr, "openloop: epoll_wait: %s\n", strerror(errno));
			return -1;
		}
	}
	return 0;
}

/* Counts what was left at the deadline as timed out. */
static void
settle(struct ol *o)
{
	uint64_t first = o->q_head > o->warm_n ? o->q_head : o->warm_n;
	int i;

	for (i = 0; i < o->nconns; i++)
		if (o->conns[i].state == C_BUSY && o->conns[i].seq >= o->warm_n)
			o->timeouts++;
	if (o->n_total > first)
		o->timeouts += o->n_total - first;
}

/* ms from the window's start to T, -1 for none */
static long
since_ms(int64_t t, int64_t start)
{
	return t == 0 ? -1 : (long)((t - start) / 1000000);
}

/* The end of the output line: what answered, and when the server answered for itself or failed. */
static void
report_answers(const struct ol *o, int64_t start)
{
	size_t i;

	printf(" answers=");
	for (i = 0; i < o->ntally; i++)
		printf("%s%d/%s:%" PRIu64, i ? "," : "", o->tally[i].status,
		       o->tally[i].reason[0] ? o->tally[i].reason : "none", o->tally[i].n);
	if (o->ntally == 0)
		printf("none");
	printf(" untallied=%" PRIu64 " foreign=%" PRIu64 " foreign_first_ms=%ld foreign_last_ms=%ld"
	       " failed_first_ms=%ld failed_last_ms=%ld\n", o->untallied, o->foreign,
	       since_ms(o->foreign_first, start), since_ms(o->foreign_last, start),
	       since_ms(o->failed_first, start), since_ms(o->failed_last, start));
}

static void
report(const struct ol *o)
{
	uint64_t scheduled = o->n_total - o->warm_n;
	uint64_t errors = o->failed + o->timeouts;
	double secs = (double)o->duration;
	int64_t start = sched_ns(o, o->warm_n);

	if (o->done > 0 && (double)(o->last_done - start) / 1e9 > secs)
		secs = (double)(o->last_done - start) / 1e9;
	printf("rate=%ld sent=%" PRIu64 " done=%" PRIu64 " errors=%" PRIu64 " non200=%" PRIu64
	    " achieved_rps=%.1f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f p999_ms=%.3f max_ms=%.3f"
	    " scheduled=%" PRIu64 " timeouts=%" PRIu64 " conn_errors=%" PRIu64
	    " reconnects=%" PRIu64 " gen_lag_p99_ms=%.3f gen_lag_max_ms=%.3f conns=%d"
	    " duration_s=%ld",
	    o->rate, o->sent, o->done, errors, o->non200, (double)o->done / secs,
	    hist_ms(&o->lat, 0.50), hist_ms(&o->lat, 0.90), hist_ms(&o->lat, 0.99),
	    hist_ms(&o->lat, 0.999), (double)o->lat.max_ns / 1e6, scheduled, o->timeouts,
	    o->conn_errors, o->reconnects, hist_ms(&o->lag, 0.99),
	    (double)o->lag.max_ns / 1e6, o->nconns, o->duration);
	report_answers(o, start);
	fflush(stdout);
	if (errors > 0 || o->conn_errors > 0)
		fprintf(stderr, "openloop: %" PRIu64 " of %" PRIu64 " requests failed (%" PRIu64
		    " on a failed connection or bad reply, %" PRIu64 " timed out); %" PRIu64
		    " connection errors%s%s\n", errors, scheduled, o->failed, o->timeouts,
		    o->conn_errors, o->last_err ? ", last: " : "",
		    o->last_err ? o->last_err : "");
	if (o->done == 0)
		fprintf(stderr, "openloop: no replies at all: the percentiles mean nothing\n");
}

/* ---- setup ---- */

static int
parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/*
 * Splits url into o's address, authority (for the default Host) and path.  Only
 * http://127.x.x.x[:port][/path] and http://[::1][:port][/path] pass.  Returns -1 with a
 * message on stderr otherwise.
 */
static int
parse_url(struct ol *o, const char *url)
{
	const char *a = url + 7, *slash, *hend, *port_s = NULL;
	char host[64], portbuf[8];
	size_t alen, hlen;
	long port = 80;

	if (strncmp(url, "http://", 7) != 0) {
		fprintf(stderr, "openloop: %s: only http:// URLs\n", url);
		return -1;
	}
	slash = strchr(a, '/');
	alen = slash ? (size_t)(slash - a) : strlen(a);
	if (alen == 0 || alen >= sizeof(o->authority))
		goto bad;
	if (a[0] == '[') {
		hend = memchr(a, ']', alen);
		if (hend == NULL)
			goto bad;
		hlen = (size_t)(hend - a) - 1;
		if (hlen >= sizeof(host))
			goto bad;
		memcpy(host, a + 1, hlen);
		host[hlen] = '\0';
		hend++;
	} else {
		hend = memchr(a, ':', alen);
		if (hend == NULL)
			hend = a + alen;
		hlen = (size_t)(hend - a);
		if (hlen >= sizeof(host))
			goto bad;
		memcpy(host, a, hlen);
		host[hlen] = '\0';
	}
	if (hend < a + alen) {
		if (*hend != ':' || (size_t)(a + alen - hend - 1) >= sizeof(portbuf))
			goto bad;
		port_s = hend + 1;
		memcpy(portbuf, port_s, (size_t)(a + alen - port_s));
		portbuf[a + alen - port_s] = '\0';
		if (parse_long(portbuf, 1, 65535, &port) == -1)
			goto bad;
	}
	memset(&o->addr, 0, sizeof(o->addr));
	if (a[0] == '[') {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&o->addr;

		if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1 ||
		    memcmp(&s6->sin6_addr, &in6addr_loopback, sizeof(in6addr_loopback)) != 0)
			goto refuse;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		o->addrlen = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&o->addr;

		if (inet_pton(AF_INET, host, &s4->sin_addr) != 1 ||
		    (ntohl(s4->sin_addr.s_addr) >> 24) != 127)
			goto refuse;
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		o->addrlen = sizeof(*s4);
	}
	memcpy(o->authority, a, alen);
	o->authority[alen] = '\0';
	o->path = slash ? slash : "/";
	if (strlen(o->path) > 2048)
		goto bad;
	for (const char *p = o->path; *p; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f || *p == '#')
			goto bad;
	return 0;
refuse:
	fprintf(stderr, "openloop: %s: only literal loopback targets (127.x.x.x, [::1])\n",
	    url);
	return -1;
bad:
	fprintf(stderr, "openloop: %s: malformed URL\n", url);
	return -1;
}

/*
 * The Host value of "-H Host: v" or "-H v"; NULL when it is empty or holds a space or a
 * control byte, which is also how "-H Other-Header: x" is refused.
 */
static const char *
host_value(const char *arg)
{
	const char *v = arg;

	if (strncasecmp(v, "host:", 5) == 0)
		v += 5;
	while (*v == ' ' || *v == '\t')
		v++;
	if (*v == '\0' || strlen(v) > 255)
		return NULL;
	for (const char *p = v; *p; p++)
		if ((unsigned char)*p < 0x21 || (unsigned char)*p >= 0x7f)
			return NULL;
	return v;
}

static int
build_requests(struct ol *o, const struct opts *op)
{
	size_t i, n = op->nhosts ? op->nhosts : 1;
	const char *host;
	int len;

	o->reqs = calloc(n, sizeof(*o->reqs));
	if (o->reqs == NULL)
		return -1;
	o->nreqs = n;
	for (i = 0; i < n; i++) {
		host = op->nhosts ? op->hosts[i] : o->authority;
		len = snprintf(NULL, 0, "GET %s HTTP/1.1\r\nHost: %s\r\n"
		    "User-Agent: openloop\r\nAccept: */*\r\n\r\n", o->path, host);
		if (len < 0 || (o->reqs[i].text = malloc((size_t)len + 1)) == NULL)
			return -1;
		snprintf(o->reqs[i].text, (size_t)len + 1, "GET %s HTTP/1.1\r\nHost: %s\r\n"
		    "User-Agent: openloop\r\nAccept: */*\r\n\r\n", o->path, host);
		o->reqs[i].len = (size_t)len;
	}
	return 0;
}

static int
parse_args(struct opts *op, int argc, char **argv)
{
	const char *v;
	int ch;

	memset(op, 0, sizeof(*op));
	op->nconns = 16;
	op->warmup = 1;
	op->rate = -1;
	op->duration = -1;
	while ((ch = getopt(argc, argv, "u:r:d:c:H:w:")) != -1) {
		switch (ch) {
		case 'u':
			op->url = optarg;
			break;
		case 'r':
			if (parse_long(optarg, 1, 1000000, &op->rate) == -1)
				goto range;
			break;
		case 'd':
			if (parse_long(optarg, 1, 600, &op->duration) == -1)
				goto range;
			break;
		case 'c':
			if (parse_long(optarg, 1, MAX_CONNS, &op->nconns) == -1)
				goto range;
			break;
		case 'w':
			if (parse_long(optarg, 0, 60, &op->warmup) == -1)
				goto range;
			break;
		case 'H':
			if ((v = host_value(optarg)) == NULL) {
				fprintf(stderr, "openloop: -H %s: only Host values are "
				    "accepted\n", optarg);
				return -1;
			}
			if (op->nhosts == MAX_HOSTS) {
				fprintf(stderr, "openloop: at most %d -H\n", MAX_HOSTS);
				return -1;
			}
			op->hosts[op->nhosts++] = v;
			break;
		default:
			goto usage;
		}
	}
	if (optind != argc || op->url == NULL || op->rate < 0 || op->duration < 0)
		goto usage;
	return 0;
range:
	fprintf(stderr, "openloop: -%c %s: out of range (-r 1..1000000, -d 1..600, "
	    "-c 1..%d, -w 0..60)\n", ch, optarg, MAX_CONNS);
	return -1;
usage:
	fputs(usage_text, stderr);
	return -1;
}

/* Makes sure this process may hold need descriptors. */
static int
raise_nofile(rlim_t need)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return -1;
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
		if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need) {
			errno = EMFILE;
			return -1;
		}
		rl.rlim_cur = need;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			return -1;
	}
	return 0;
}

static void
ol_free(struct ol *o)
{
	size_t j;
	int i;

	if (o->conns != NULL)
		for (i = 0; i < o->nconns; i++)
			if (o->conns[i].fd >= 0)
				close(o->conns[i].fd);
	free(o->conns);
	free(o->ring);
	if (o->reqs != NULL)
		for (j = 0; j < o->nreqs; j++)
			free(o->reqs[j].text);
	free(o->reqs);
	if (o->tfd >= 0)
		close(o->tfd);
	if (o->ep >= 0)
		close(o->ep);
	free(o);
}

int
main(int argc, char **argv)
{
	struct opts op;
	struct ol *o;
	struct epoll_event ev;
	int i, rc = 1;

	if (parse_args(&op, argc, argv) == -1)
		return 2;
	if ((o = calloc(1, sizeof(*o))) == NULL) {
		fprintf(stderr, "openloop: out of memory\n");
		return 1;
	}
	o->ep = o->tfd = -1;
	if (parse_url(o, op.url) == -1) {
		ol_free(o);
		return 2;
	}
	o->rate = op.rate;
	o->duration = op.duration;
	o->warmup = op.warmup;
	o->nconns = (int)op.nconns;
	o->warm_n = (uint64_t)op.warmup * (uint64_t)op.rate;
	o->n_total = (uint64_t)(op.warmup + op.duration) * (uint64_t)op.rate;
	if (build_requests(o, &op) == -1 ||
	    (o->conns = calloc((size_t)o->nconns, sizeof(*o->conns))) == NULL ||
	    (o->ring = calloc((size_t)o->nconns, sizeof(*o->ring))) == NULL) {
		fprintf(stderr, "openloop: out of memory\n");
		goto out;
	}
	for (i = 0; i < o->nconns; i++)
		o->conns[i].fd = -1;
	if (raise_nofile((rlim_t)o->nconns + 16) == -1) {
		fprintf(stderr, "openloop: cannot have %d descriptors: %s\n", o->nconns + 16,
		    strerror(errno));
		goto out;
	}
	if ((o->ep = epoll_create1(EPOLL_CLOEXEC)) == -1 ||
	    (o->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC)) == -1) {
		fprintf(stderr, "openloop: epoll/timerfd: %s\n", strerror(errno));
		goto out;
	}
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.u32 = TIMER_ID;
	if (epoll_ctl(o->ep, EPOLL_CTL_ADD, o->tfd, &ev) == -1) {
		fprintf(stderr, "openloop: epoll_ctl: %s\n", strerror(errno));
		goto out;
	}
	if (connect_all(o) == 0) {
		fprintf(stderr, "openloop: cannot connect to %s: %s\n", op.url,
		    o->last_err ? o->last_err : "timed out");
		goto out;
	}
	o->conn_errors = 0;	/* setup retries are not part of the run */
	o->reconnects = 0;
	o->last_err = NULL;
	if (run(o) == -1)
		goto out;
	settle(o);
	report(o);
	rc = 0;
out:
	ol_free(o);
	return rc;
}
