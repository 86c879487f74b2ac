/* tmprobe.c: a Traffic-Manager-style probe emulator for the end-to-end failover suite. */

/*
 * Rules followed (Azure Traffic Manager endpoint monitoring, as documented):
 *   - every endpoint of every profile is probed with GET PATH and the profile's Host,
 *     once per interval; a probe that does not answer within the timeout failed;
 *   - success is HTTP 200 exactly (3xx, 2xx other than 200, 4xx, 5xx all fail);
 *   - an endpoint is Degraded after tolerated+1 consecutive failures; ONE success
 *     brings it back Online;
 *   - routing: the first Online endpoint in -e order (performance routing, region A
 *     nearest); when every endpoint is Degraded, route as if all were Online (first).
 * Output, one line per profile per tick (or, with -q, only on change plus a heartbeat):
 *     T_MS PROFILE ROUTED STATE... CODE...
 * T_MS is milliseconds since start, STATE is online/degraded per endpoint in -e order,
 * CODE the HTTP status of that endpoint's probe in this tick (000: no answer).
 * The first line is a comment with the start time (epoch ms) and the settings.
 * Loopback only: every endpoint URL must be http://127.x.x.x or http://[::1].
 */

#define _POSIX_C_SOURCE 200809L

#include <curl/curl.h>
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define TM_MAX_EP	8
#define TM_MAX_PROF	64
#define TM_HEARTBEAT	10	/* ticks between heartbeat lines with -q */

enum ep_state { EP_ONLINE, EP_DEGRADED };

struct endpoint {
	char		 name[32];
	char		 url[512];	/* base URL + path */
};

struct profile {
	char		 name[64];
	char		 host_hdr[300];	/* "Host: ..." */
	struct curl_slist *hdrs;
	int		 fails[TM_MAX_EP];	/* consecutive failures */
	enum ep_state	 state[TM_MAX_EP];
	long		 code[TM_MAX_EP];	/* this tick's status, 0 = none */
	int		 routed;		/* endpoint index, -1 before the first tick */
};

struct emu {
	struct endpoint	 ep[TM_MAX_EP];
	int		 nep;
	struct profile	 prof[TM_MAX_PROF];
	int		 nprof;
	long		 interval_ms;
	long		 timeout_ms;
	int		 tolerated;
	long		 run_s;
	bool		 changes_only;
	const char	*path;
};

static volatile sig_atomic_t tm_stop;

static const char *
ep_state_str(enum ep_state s)
{
	return s == EP_ONLINE ? "online" : "degraded";
}

static void
on_signal(int sig)
{
	(void)sig;
	tm_stop = 1;
}

static long long
now_ms(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static size_t
discard(char *p, size_t sz, size_t n, void *ud)
{
	(void)p;
	(void)ud;
	return sz * n;
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: tmprobe -e NAME=BASEURL... -r PROFILE=HOST... -t SECONDS\n"
	    "               [-i INTERVAL_MS] [-w TIMEOUT_MS] [-f TOLERATED] [-p PATH] [-q]\n"
	    "  -e  an endpoint (region), in preference order; up to %d\n"
	    "  -r  a profile (registry) and the Host its probes send; up to %d\n"
	    "  -t  run this long, then exit 0 (1..86400)\n"
	    "  -i  probing interval, ms (default 30000)\n"
	    "  -w  probe timeout, ms, below the interval (default 10000)\n"
	    "  -f  tolerated failures (default 3: degraded after the 4th in a row; 0..9)\n"
	    "  -p  probe path (default /health)\n"
	    "  -q  print only changes, plus a heartbeat every %d ticks\n",
	    TM_MAX_EP, TM_MAX_PROF, TM_HEARTBEAT);
	exit(2);
}

/* Parse a decimal number in [min, max]; exits 2 on anything else. */
static long
num_arg(const char *s, long min, long max, const char *what)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max) {
		fprintf(stderr, "tmprobe: %s: \"%s\" is not a number in %ld..%ld\n",
		    what, s, min, max);
		exit(2);
	}
	return v;
}

/* Split "NAME=VALUE"; returns the VALUE part, or exits 2. */
static const char *
split_arg(char *arg, size_t namemax, const char *what)
{
	char *eq = strchr(arg, '=');

	if (eq == NULL || eq == arg || eq[1] == '\0' || (size_t)(eq - arg) >= namemax) {
		fprintf(stderr, "tmprobe: %s: expected NAME=VALUE, got \"%s\"\n", what, arg);
		exit(2);
	}
	*eq = '\0';
	return eq + 1;
}

static bool
is_loopback_url(const char *u)
{
	return strncmp(u, "http://127.", 11) == 0 || strncmp(u, "http://[::1]", 12) == 0;
}

static void
parse_args(struct emu *tm, int argc, char **argv)
{
	int c, i;

	tm->interval_ms = 30000;
	tm->timeout_ms = 10000;
	tm->tolerated = 3;
	tm->path = "/health";
	while ((c = getopt(argc, argv, "e:r:t:i:w:f:p:q")) != -1) {
		switch (c) {
		case 'e': {
			struct endpoint *e;
			const char *v;

			if (tm->nep == TM_MAX_EP)
				usage();
			e = &tm->ep[tm->nep++];
			v = split_arg(optarg, sizeof(e->name), "-e");
			if (!is_loopback_url(v)) {
				fprintf(stderr, "tmprobe: -e %s: only http://127.x or http://[::1] "
				    "endpoints are allowed\n", v);
				exit(2);
			}
			snprintf(e->name, sizeof(e->name), "%s", optarg);
			snprintf(e->url, sizeof(e->url), "%s", v);
			break;
		}
		case 'r': {
			struct profile *p;
			const char *v;

			if (tm->nprof == TM_MAX_PROF)
				usage();
			p = &tm->prof[tm->nprof++];
			v = split_arg(optarg, sizeof(p->name), "-r");
			snprintf(p->name, sizeof(p->name), "%s", optarg);
			snprintf(p->host_hdr, sizeof(p->host_hdr), "Host: %s", v);
			break;
		}
		case 't': tm->run_s = num_arg(optarg, 1, 86400, "-t"); break;
		case 'i': tm->interval_ms = num_arg(optarg, 10, 3600000, "-i"); break;
		case 'w': tm->timeout_ms = num_arg(optarg, 5, 3600000, "-w"); break;
		case 'f': tm->tolerated = (int)num_arg(optarg, 0, 9, "-f"); break;
		case 'p': tm->path = optarg; break;
		case 'q': tm->changes_only = true; break;
		default: usage();
		}
	}
	if (optind != argc || tm->nep == 0 || tm->nprof == 0 || tm->run_s == 0)
		usage();
	if (tm->timeout_ms >= tm->interval_ms) {
		fprintf(stderr, "tmprobe: the timeout (-w) must be below the interval (-i)\n");
		exit(2);
	}
	for (i = 0; i < tm->nep; i++) {
		size_t n = strlen(tm->ep[i].url);

		if (n > 0 && tm->ep[i].url[n - 1] == '/')
			tm->ep[i].url[n - 1] = '\0';
		if (strlen(tm->ep[i].url) + strlen(tm->path) >= sizeof(tm->ep[i].url)) {
			fprintf(stderr, "tmprobe: URL too long\n");
			exit(2);
		}
		memcpy(tm->ep[i].url + strlen(tm->ep[i].url), tm->path,
		    strlen(tm->path) + 1);	/* length checked above */
	}
}

/*
 * One tick: probe every (profile, endpoint) pair concurrently; each probe ends by the
 * timeout at the latest.  Fills prof->code (0 when there was no HTTP answer).
 * Returns 0, or -1 when libcurl could not be set up (the tick then counts as nothing).
 */
static int
tick_probe(struct emu *tm, CURLM *multi)
{
	CURL *h[TM_MAX_PROF * TM_MAX_EP];
	int n = 0, running, i, j, rc = -1;

	for (i = 0; i < tm->nprof; i++) {
		for (j = 0; j < tm->nep; j++) {
			CURL *e = curl_easy_init();

			tm->prof[i].code[j] = 0;
			if (e == NULL)
				goto out;
			h[n++] = e;
			curl_easy_setopt(e, CURLOPT_URL, tm->ep[j].url);
			curl_easy_setopt(e, CURLOPT_HTTPHEADER, tm->prof[i].hdrs);
			curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, tm->timeout_ms);
			curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
			curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
			curl_easy_setopt(e, CURLOPT_PROXY, "");
			curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
			curl_easy_setopt(e, CURLOPT_USERAGENT, "tmprobe (Traffic Manager emulator)");
			curl_easy_setopt(e, CURLOPT_PRIVATE, (void *)&tm->prof[i].code[j]);
			if (curl_multi_add_handle(multi, e) != CURLM_OK)
				goto out;
		}
	}
	do {
		if (curl_multi_perform(multi, &running) != CURLM_OK)
			goto out;
		if (running > 0 && curl_multi_poll(multi, NULL, 0, 100, NULL) != CURLM_OK)
			goto out;
	} while (running > 0 && !tm_stop);
	for (;;) {
		int left;
		CURLMsg *m = curl_multi_info_read(multi, &left);
		long *code;

		if (m == NULL)
			break;
		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&code);
		if (m->data.result == CURLE_OK)
			curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, code);
	}
	rc = 0;
out:
	for (i = 0; i < n; i++) {
		curl_multi_remove_handle(multi, h[i]);
		curl_easy_cleanup(h[i]);
	}
	return rc;
}

/* Fold one tick into a profile; returns true when its route or a state changed. */
static bool
profile_fold(const struct emu *tm, struct profile *p)
{
	bool changed = false;
	int j, routed = -1;

	for (j = 0; j < tm->nep; j++) {
		enum ep_state old = p->state[j];

		if (p->code[j] == 200) {
			p->fails[j] = 0;
			p->state[j] = EP_ONLINE;
		} else if (++p->fails[j] > tm->tolerated) {
			p->state[j] = EP_DEGRADED;
		}
		if (p->fails[j] > 1000)
			p->fails[j] = 1000;
		if (p->state[j] != old)
			changed = true;
	}
	for (j = 0; j < tm->nep && routed < 0; j++)
		if (p->state[j] == EP_ONLINE)
			routed = j;
	if (routed < 0)
		routed = 0;	/* every endpoint Degraded: route as if all were healthy */
	if (routed != p->routed)
		changed = true;
	p->routed = routed;
	return changed;
}

static void
profile_print(const struct emu *tm, const struct profile *p, long long t)
{
	int j;

	printf("%lld %s %s", t, p->name, tm->ep[p->routed].name);
	for (j = 0; j < tm->nep; j++)
		printf(" %s", ep_state_str(p->state[j]));
	for (j = 0; j < tm->nep; j++)
		printf(" %03ld", p->code[j]);
	putchar('\n');
}

int
main(int argc, char **argv)
{
	struct emu *tm;
	struct sigaction sa;
	CURLM *multi = NULL;
	long long start, next;
	long tickno = 0;
	int i, rc = 1;

	tm = calloc(1, sizeof(*tm));
	if (tm == NULL)
		return 1;
	parse_args(tm, argc, argv);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
		goto out;
	multi = curl_multi_init();
	if (multi == NULL)
		goto out;
	for (i = 0; i < tm->nprof; i++) {
		tm->prof[i].routed = -1;
		tm->prof[i].hdrs = curl_slist_append(NULL, tm->prof[i].host_hdr);
		if (tm->prof[i].hdrs == NULL)
			goto out;
	}

	start = now_ms(CLOCK_MONOTONIC);
	printf("# tmprobe start_epoch_ms=%lld interval_ms=%ld timeout_ms=%ld tolerated=%d"
	    " endpoints=", now_ms(CLOCK_REALTIME), tm->interval_ms, tm->timeout_ms,
	    tm->tolerated);
	for (i = 0; i < tm->nep; i++)
		printf("%s%s", i ? "," : "", tm->ep[i].name);
	printf("\n");
	next = start;
	while (!tm_stop && now_ms(CLOCK_MONOTONIC) - start < tm->run_s * 1000) {
		long long t = now_ms(CLOCK_MONOTONIC) - start;
		bool beat = tm->changes_only && tickno % TM_HEARTBEAT == 0;

		if (tick_probe(tm, multi) == 0) {
			for (i = 0; i < tm->nprof; i++) {
				bool changed = profile_fold(tm, &tm->prof[i]);

				if (!tm->changes_only || changed || beat)
					profile_print(tm, &tm->prof[i], t);
			}
		}
		tickno++;
		/* Fixed-rate ticks; a late tick is not made up for. */
		next += tm->interval_ms;
		while (!tm_stop) {
			long long left = next - now_ms(CLOCK_MONOTONIC);
			struct timespec ts;

			if (left <= 0)
				break;
			ts.tv_sec = left / 1000;
			ts.tv_nsec = (left % 1000) * 1000000L;
			nanosleep(&ts, NULL);
		}
		if (next < now_ms(CLOCK_MONOTONIC) - tm->interval_ms)
			next = now_ms(CLOCK_MONOTONIC);
	}
	rc = 0;
out:
	for (i = 0; i < tm->nprof; i++)
		curl_slist_free_all(tm->prof[i].hdrs);
	if (multi != NULL)
		curl_multi_cleanup(multi);
	curl_global_cleanup();
	free(tm);
	return rc;
}
