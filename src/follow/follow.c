/*
 * deephealth-follow: a front door's copy of its region's snapshot, fetched
 * from the region's probers (follower.sources: each prober's web server serves
 * its snapshot as a static file), checked whole by the snapshot reader, and
 * published locally by the same atomic rename the prober uses.  The responder
 * is unchanged: it reads the local file.  Nothing a source sends is published
 * unless the reader accepts every byte of it; a pass with nothing usable
 * publishes nothing, and the local snapshot ages into fail-open as it would
 * with a dead prober.
 *
 * Steady state costs one small request per source: the prober's snapshot
 * changes after its 64-byte header only when a state or verdict changes
 * (docs/snapshot.md), so the follower asks for the header alone (Range:
 * bytes=0-63) and checks it against the body it already has:
 * the header's checksum covers the body, so the reader accepts the pair only
 * if the body is the prober's.  Otherwise it fetches the whole file,
 * compressed if the web server offers it.  (No If-None-Match: a web server's
 * ETag comes from a cached stat(2) and can lag a rename, and a 304 would save
 * only the 64 bytes; the header itself says whether anything is new.)
 *
 * Policy "freshest": the newest fresh snapshot among the sources, one that is
 * not blind preferred.  Never an older one than what is published.  Policy
 * "quorum": a registry fails only where k of the fresh snapshots that can
 * see fail it (quorum.c); with fewer than k of those, the newest snapshot is
 * published marked blind, so the responders fail open at once.
 */
#define _GNU_SOURCE /* strcasestr */

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "follow.h"


/* Exit codes, also in deephealth-follow(8). */
enum {
	FOLLOW_EXIT_OK = 0,        /* published, or what is published is already the newest */
	FOLLOW_EXIT_CONFIG = 1,
	FOLLOW_EXIT_USAGE = 2,
	FOLLOW_EXIT_LOCKED = 3,    /* another run holds the lock */
	FOLLOW_EXIT_NOSOURCE = 5,  /* no source gave a usable snapshot: the local one stays */
	FOLLOW_EXIT_PUBLISH = 6    /* a newer snapshot could not be published */
};


/* One prober's snapshot as last verified: its bytes, what it says. */
struct source {
	const char *url;
	char name[128];           /* host[:port] of url: the prober, in logs, causes and the .fleet file */
	char *buf;                /* the verified snapshot, or NULL */
	size_t len;
	int64_t created;
	unsigned flags;
	enum source_state state;
	char why[512];            /* for the log: why not fresh */
	uint64_t wire;            /* bytes on the wire this pass: requests, headers, bodies */
	char codes[32];           /* this pass's HTTP answers, e.g. "206 200" */
	int down;                 /* the last request got no HTTP answer (refused, timed out) */
	/* Its region-wide overrides (docs/overrides.md): the last verified copy stays in force. */
	char ovr_url[1100];       /* url's last path segment made "deephealth-overrides" */
	char *ovr_buf;            /* the file as last verified, or NULL (none yet) */
	size_t ovr_len;
	struct overrides *ovr;    /* parsed from ovr_buf */
	int64_t ovr_verified;     /* when ovr_buf was fetched and verified */
	enum rovr_state ovr_state;
	char ovr_why[200];
};

struct follower {
	struct conf *conf;
	struct source src[FOLLOW_SOURCES_MAX];
	size_t n;
	CURL *curl;
	int64_t published;        /* created of the local snapshot, -1 when none is usable */
	int quorum_short;         /* the last pass had fewer than quorum probers that can see */
	char decided[FLEET_DECIDED_MAX]; /* this pass's outcome, for the .fleet file */
	char last[FLEET_DECIDED_MAX];    /* what decided the snapshot published here; "" unknown */
	const char *unrefreshed;  /* why this pass left the published snapshot as it was */
	char *fleet;              /* the .fleet file as last written */
	char *rovr;               /* the region-wide file as last published here, or NULL */
	size_t rovr_len;
	int rc;                   /* this run's exit status so far */
};

/* ---------------------------------------------------------------- HTTP */

struct body {
	char *p;
	size_t len, cap;
	int too_big;
};

static size_t
on_body(char *data, size_t size, size_t n, void *arg)
{
	struct body *b = arg;
	size_t add = size * n;

	if (b->len + add > SNAP_MAX_SIZE) {
		b->too_big = 1;
		return 0;
	}
	if (b->len + add > b->cap)
		b->p = util_grow(b->p, &b->cap, b->len + add, 1);
	memcpy(b->p + b->len, data, add);
	b->len += add;
	return add;
}

/*
 * GET url; with range, only bytes 0..63.  Returns the HTTP status (0 when the
 * transfer failed, with the reason in why) and the body in b.
 */
static long
get(struct follower *f, struct source *s, const char *url, int range, struct body *b)
{
	curl_off_t got = 0;
	long code = 0, hsize = 0, qsize = 0;
	size_t used = strlen(s->codes);
	CURLcode rc;

	memset(b, 0, sizeof(*b));
	curl_easy_reset(f->curl);
	curl_easy_setopt(f->curl, CURLOPT_URL, url);
	curl_easy_setopt(f->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(f->curl, CURLOPT_TIMEOUT_MS, (long)f->conf->follow_timeout_ms);
	curl_easy_setopt(f->curl, CURLOPT_CONNECTTIMEOUT_MS, (long)f->conf->follow_timeout_ms);
	curl_easy_setopt(f->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	/* The region's probers, directly: never a proxy from the environment (http_proxy...). */
	curl_easy_setopt(f->curl, CURLOPT_PROXY, "");
	curl_easy_setopt(f->curl, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(f->curl, CURLOPT_USERAGENT, "deephealth-follow/" DH_VERSION);
	curl_easy_setopt(f->curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(f->curl, CURLOPT_WRITEDATA, b);
	curl_easy_setopt(f->curl, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)SNAP_MAX_SIZE);
	if (range) {
		curl_easy_setopt(f->curl, CURLOPT_RANGE, "0-63");
	} else {
		/* A whole snapshot compresses well; every encoding this libcurl decodes. */
		curl_easy_setopt(f->curl, CURLOPT_ACCEPT_ENCODING, "");
	}
	rc = curl_easy_perform(f->curl);
	curl_easy_getinfo(f->curl, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_getinfo(f->curl, CURLINFO_SIZE_DOWNLOAD_T, &got);
	curl_easy_getinfo(f->curl, CURLINFO_HEADER_SIZE, &hsize);
	curl_easy_getinfo(f->curl, CURLINFO_REQUEST_SIZE, &qsize);
	s->wire += (uint64_t)got + (uint64_t)hsize + (uint64_t)qsize;
	snprintf(s->codes + used, sizeof(s->codes) - used, "%s%ld", used ? " " : "", code);
	s->down = rc != CURLE_OK && !b->too_big;
	if (rc != CURLE_OK) {
		snprintf(s->why, sizeof(s->why), "%s",
		         b->too_big ? "larger than a snapshot can be" : curl_easy_strerror(rc));
		return 0;
	}
	return code;
}

/* ---------------------------------------------------------------- a source */

/* Take buf (len bytes, malloc'd) as s's snapshot if the reader accepts it all; else free it. */
static int
adopt(struct source *s, char *buf, size_t len, time_t now)
{
	struct snapshot *snap = NULL;
	char detail[256];
	enum snap_err e = snap_parse(buf, len, now, &snap, detail, sizeof(detail));

	if (e != SNAP_OK) {
		snprintf(s->why, sizeof(s->why), "refused: %s%s%s", snap_err_str(e), detail[0] ? ": " : "",
		         detail);
		free(buf);
		return -1;
	}
	free(s->buf);
	s->why[0] = '\0';
	s->buf = buf;
	s->len = len;
	s->created = snap_created(snap);
	s->flags = snap_flags(snap);
	snap_free(snap);
	return 0;
}

/* The source's newest snapshot, with as few bytes as it takes; its state set. */
static void
fetch(struct follower *f, struct source *s, time_t now)
{
	struct body b;
	long code;

	s->wire = 0;
	s->down = 0;
	s->why[0] = s->codes[0] = '\0';
	if (s->buf != NULL && s->len > SNAP_HEADER_SIZE) {
		/* The header only: the same body behind a newer header is the common case. */
		code = get(f, s, s->url, 1, &b);
		if (code != 0 && code != 200 && code != 206) {
			free(b.p);
			snprintf(s->why, sizeof(s->why), "HTTP %ld", code);
			goto failed;
		}
		if (code == 206 && b.len == SNAP_HEADER_SIZE) {
			char *cand = xmalloc(s->len);

			memcpy(cand, b.p, SNAP_HEADER_SIZE);
			memcpy(cand + SNAP_HEADER_SIZE, s->buf + SNAP_HEADER_SIZE, s->len - SNAP_HEADER_SIZE);
			free(b.p);
			/* The checksum covers the body: accepted only if it is the same one. */
			if (adopt(s, cand, s->len, now) == 0)
				goto judge;
		} else if (code == 200) {
			/* A server that ignores Range sent it all. */
			if (adopt(s, b.p, b.len, now) == 0)
				goto judge;
			goto failed;
		} else {
			free(b.p);
			if (code == 0)
				goto failed;
		}
		s->why[0] = '\0';
	}
	code = get(f, s, s->url, 0, &b);
	if (code == 200) {
		if (adopt(s, b.p, b.len, now) == 0)
			goto judge;
		goto failed;
	}
	free(b.p);
	if (code != 0)
		snprintf(s->why, sizeof(s->why), "HTTP %ld", code);
failed:
	/* Whatever it sent is not used; the last verified copy is judged by its age as before. */
	if (s->buf == NULL) {
		s->state = s->why[0] && strncmp(s->why, "refused", 7) == 0 ? SRC_INVALID : SRC_UNREACHABLE;
		return;
	}
judge:
	if (now - s->created > f->conf->max_age)
		s->state = SRC_STALE;
	else if (s->flags & SNAP_FLAG_BLIND)
		s->state = SRC_BLIND;
	else if (s->why[0] != '\0')
		s->state = strncmp(s->why, "refused", 7) == 0 ? SRC_INVALID : SRC_UNREACHABLE;
	else
		s->state = SRC_FRESH;
	if (s->state == SRC_STALE) {
		/* Why it is stale, when this pass knows: the source's own fault, kept in the log. */
		char was[sizeof(s->why)];

		snprintf(was, sizeof(was), "%s", s->why);
		snprintf(s->why, sizeof(s->why), "its newest good snapshot is %lld s old%s%.400s",
		         (long long)(now - s->created), was[0] ? "; now: " : "", was);
	}
}

/* ---------------------------------------------------------------- region-wide overrides */

/* The cache file of source i: its snapshot or its region-wide overrides as last verified. */
static void
cache_path(const struct follower *f, size_t i, const char *what, char *out, size_t len)
{
	snprintf(out, len, "%s/source-%zu.%s", f->conf->follow_cache, i, what);
}

/* Take buf (len bytes, malloc'd) as s's region-wide overrides if it verifies whole; else free it. */
static int
ovr_adopt(struct follower *f, struct source *s, char *buf, size_t len, int64_t when)
{
	struct overrides *o = NULL;
	char first[LOG_FIRST_MAX] = "";

	if (ovr_parse_region(s->name, buf, len, f->conf->override_max, &o, log_errfn_first,
	                     first) != 0) {
		snprintf(s->ovr_why, sizeof(s->ovr_why), "%.190s", first);
		free(buf);
		return -1;
	}
	free(s->ovr_buf);
	ovr_free(s->ovr);
	s->ovr_buf = buf;
	s->ovr_len = len;
	s->ovr = o;
	s->ovr_verified = when;
	return 0;
}

/*
 * The source's region-wide overrides, fetched whole (a few hundred bytes) and
 * verified whole.  Only a verified file replaces what is in force from it: a
 * source that cannot be reached, answers an error or serves a damaged file
 * leaves its last verified copy in force, to each override's own expiry.
 */
static void
ovr_fetch(struct follower *f, size_t i, time_t now)
{
	struct source *s = &f->src[i];
	enum rovr_state was = s->ovr_state;
	char keep[sizeof(s->why)], path[4200], err[512], before[sizeof(s->ovr_why)];
	struct body b;
	long code;

	memcpy(keep, s->why, sizeof(keep));
	memcpy(before, s->ovr_why, sizeof(before));
	if (s->down) {
		/* The source did not answer for its snapshot just now: not a second timeout. */
		snprintf(s->ovr_why, sizeof(s->ovr_why), "not asked: %.180s", keep);
		s->ovr_state = s->ovr_buf != NULL ? ROVR_KEPT : ROVR_NONE;
		goto said;
	}
	s->why[0] = '\0';
	code = get(f, s, s->ovr_url, 0, &b);
	s->ovr_why[0] = '\0';
	if (code == 200 && !(s->ovr_buf != NULL && b.len == s->ovr_len &&
	                     memcmp(b.p, s->ovr_buf, b.len) == 0)) {
		if (ovr_adopt(f, s, b.p, b.len, (int64_t)now) == 0) {
			s->ovr_state = ROVR_OK;
			cache_path(f, i, "overrides", path, sizeof(path));
			if (publish_file(path, s->ovr_buf, s->ovr_len, 0644, err, sizeof(err)) != 0)
				log_warnx("cache %s not written: %s", path, err);
		} else {
			s->ovr_state = ROVR_REFUSED;
		}
	} else if (code == 200) {
		free(b.p);
		s->ovr_verified = (int64_t)now; /* the same bytes, verified before */
		s->ovr_state = ROVR_OK;
	} else {
		free(b.p);
		if (code != 0)
			snprintf(s->ovr_why, sizeof(s->ovr_why), "HTTP %ld", code);
		else
			memcpy(s->ovr_why, s->why, sizeof(s->ovr_why) - 1); /* why is the larger */
		s->ovr_why[sizeof(s->ovr_why) - 1] = '\0';
		s->ovr_state = s->ovr_buf != NULL ? ROVR_KEPT : ROVR_NONE;
	}
	memcpy(s->why, keep, sizeof(keep));
said:
	/* Loud once per change: a refused file on every door is an operator's to see. */
	if (s->ovr_state == ROVR_REFUSED && (was != ROVR_REFUSED || strcmp(before, s->ovr_why) != 0))
		log_warnx("source %s: region-wide overrides %s REFUSED whole (%s); %s", s->name,
		          s->ovr_url, s->ovr_why, s->ovr_buf != NULL ?
		          "its last verified copy stays in force" : "none from it in force");
	else if (s->ovr_state != was && s->ovr_state == ROVR_KEPT)
		log_warnx("source %s: region-wide overrides not fetched (%s): its last verified copy "
		          "stays in force, each override to its own expiry", s->name, s->ovr_why);
	else if (s->ovr_state != was)
		log_info("source %s: region-wide overrides %s%s%s", s->name,
		         rovr_state_names[s->ovr_state], s->ovr_why[0] ? ": " : "", s->ovr_why);
}

/* Are a and b the same override (as written, source included)? */
static int
same_override(const struct override *a, const struct override *b)
{
	return a->action == b->action && a->until == b->until && a->set == b->set &&
	       strcmp(a->scope, b->scope) == 0 && strcmp(a->by, b->by) == 0 &&
	       strcmp(a->reason, b->reason) == 0 &&
	       strcmp(a->from ? a->from : "", b->from ? b->from : "") == 0;
}

/*
 * The event log (prober.event_log, when this door keeps one): each region-wide override
 * that arrived ("add") or left before its expiry ("remove") since the last publish, in
 * one write(2) with O_APPEND, as the prober writes its lines.
 */
static void
ovr_events(struct follower *f, const struct overrides *was, const struct overrides *now_o,
           time_t now)
{
	char *buf = NULL, err[4400];
	size_t len = 0, k;
	FILE *m;

	if (f->conf->event_log[0] == '\0' || (m = open_memstream(&buf, &len)) == NULL)
		return;
	for (size_t i = 0; now_o != NULL && i < now_o->n; i++) {
		for (k = 0; was != NULL && k < was->n && !same_override(&was->v[k], &now_o->v[i]); k++)
			;
		if ((was == NULL || k == was->n) && now_o->v[i].until > (int64_t)now)
			ovr_event_line(m, "add", &now_o->v[i], (int64_t)now);
	}
	for (size_t i = 0; was != NULL && i < was->n; i++) {
		for (k = 0; now_o != NULL && k < now_o->n && !same_override(&now_o->v[k], &was->v[i]); k++)
			;
		if ((now_o == NULL || k == now_o->n) && was->v[i].until > (int64_t)now)
			ovr_event_line(m, "remove", &was->v[i], (int64_t)now);
	}
	if (fclose(m) != 0 || len == 0) {
		free(buf);
		return;
	}
	if (evlog_append(f->conf->event_log, -1, buf, len, err, sizeof(err)) != 0)
		log_warnx("%s: region-wide override changes not recorded", err);
	free(buf);
}

/*
 * Every source's region-wide overrides, as one file (each line naming its
 * source), published for the responders when it differs from what is there.
 */
static void
ovr_publish(struct follower *f, time_t now)
{
	const struct overrides *sets[FOLLOW_SOURCES_MAX];
	char *names[FOLLOW_SOURCES_MAX], *buf;
	struct overrides *u;
	size_t len, any = 0, n = 0;

	for (size_t i = 0; i < f->n; i++) {
		sets[i] = f->src[i].ovr;
		names[i] = f->src[i].name;
		any |= f->src[i].ovr_buf != NULL;
	}
	if (!any && f->rovr == NULL && access(f->conf->region_overrides, F_OK) != 0)
		return; /* no source has ever served one: nothing to say */
	u = ovr_union(sets, names, f->n);
	buf = ovr_render_region(u, NULL, NULL, (int64_t)now, &len);
	for (size_t i = 0; i < u->n; i++)
		n += u->v[i].until > (int64_t)now;
	ovr_free(u);
	if (f->rovr != NULL && len == f->rovr_len && memcmp(buf, f->rovr, len) == 0) {
		free(buf);
		return;
	}
	if (ovr_save_region(f->conf->region_overrides, buf, len, f->conf->override_max,
	                    log_errfn, NULL) < 0) {
		log_warnx("region-wide overrides %s NOT published: the previous file stays",
		          f->conf->region_overrides);
		free(buf);
		return;
	}
	log_info("region-wide overrides %s published: %zu in force", f->conf->region_overrides, n);
	{
		struct overrides *was = NULL, *is = NULL;

		/* What changed, for the event log: the file as it was and as it is now, read back. */
		if (f->rovr != NULL)
			(void)ovr_parse_region("was", f->rovr, f->rovr_len, INT64_MAX, &was,
			                       log_errfn_quiet, NULL);
		(void)ovr_parse_region("is", buf, len, INT64_MAX, &is, log_errfn_quiet, NULL);
		ovr_events(f, was, is, now);
		ovr_free(was);
		ovr_free(is);
	}
	free(f->rovr);
	f->rovr = buf;
	f->rovr_len = len;
}

/*
 * A source with no cached copy of its own (the cache directory new or cleaned) takes the
 * lines of the published file that name it: what the doors had from it stays in force
 * until that source answers, as the cache would have kept it.
 */
static void
ovr_seed(struct follower *f, const struct overrides *pub, int64_t mtime)
{
	for (size_t i = 0; i < f->n; i++) {
		struct source *s = &f->src[i];
		char *drop, *buf;
		size_t len, keep = 0;

		if (s->ovr_buf != NULL)
			continue;
		drop = xcalloc(pub->n + 1, 1);
		for (size_t k = 0; k < pub->n; k++) {
			drop[k] = pub->v[k].from == NULL || strcmp(pub->v[k].from, s->name) != 0;
			keep += !drop[k];
		}
		if (keep > 0) {
			buf = ovr_render_region(pub, drop, NULL, (int64_t)time(NULL), &len);
			if (ovr_adopt(f, s, buf, len, mtime) == 0) {
				s->ovr_state = ROVR_KEPT;
				log_info("source %s: no cached region-wide overrides: the %zu published from "
				         "it stay in force until it answers", s->name, keep);
			}
			s->ovr_why[0] = '\0';
		}
		free(drop);
	}
}

/* ---------------------------------------------------------------- the cache */

/* The copies the previous run verified: a follower that restarts fetches headers only. */
static void
cache_load(struct follower *f)
{
	for (size_t i = 0; i < f->n; i++) {
		char path[4200];
		struct source *s = &f->src[i];
		struct stat st;
		char *buf;
		int fd;

		cache_path(f, i, "snapshot", path, sizeof(path));
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
			continue;
		if (fstat(fd, &st) == -1 || st.st_size <= 0 || st.st_size > SNAP_MAX_SIZE) {
			close(fd);
			continue;
		}
		buf = xmalloc((size_t)st.st_size);
		if (read(fd, buf, (size_t)st.st_size) != st.st_size) {
			free(buf);
			close(fd);
			continue;
		}
		close(fd);
		/* A damaged copy is simply not used: the next pass fetches the whole file. */
		(void)adopt(s, buf, (size_t)st.st_size, time(NULL));
		s->why[0] = '\0';
	}
	for (size_t i = 0; i < f->n; i++) {
		char path[4200], err[512], *buf;
		size_t len;
		int64_t mtime = 0;

		/* The region-wide overrides it last verified, still in force while it is away. */
		cache_path(f, i, "overrides", path, sizeof(path));
		if ((buf = ovr_file_read(path, &len, &mtime, err, sizeof(err))) != NULL &&
		    ovr_adopt(f, &f->src[i], buf, len, mtime) == 0)
			f->src[i].ovr_state = ROVR_KEPT;
		f->src[i].ovr_why[0] = '\0';
	}
}

static void
cache_save(struct follower *f, size_t i)
{
	struct source *s = &f->src[i];
	char path[4200], err[512];

	cache_path(f, i, "snapshot", path, sizeof(path));
	if (publish_file(path, s->buf, s->len, 0644, err, sizeof(err)) != 0)
		log_warnx("cache %s not written: %s", path, err);
}

/* ---------------------------------------------------------------- a pass */

/* created of the published snapshot, -1 when there is none the reader accepts. */
static int64_t
local_created(const struct conf *c)
{
	struct snapshot *s = NULL;
	int64_t t = -1;

	if (snap_load(c->snapshot_path, time(NULL), &s, NULL, 0) == SNAP_OK)
		t = snap_created(s);
	snap_free(s);
	return t;
}

/* Newest first, for the quorum: the first gives the shape, the k-th the freshness. */
static int
by_created_desc(const void *a, const void *b)
{
	const struct source *x = *(const struct source *const *)a, *y = *(const struct source *const *)b;

	return x->created < y->created ? 1 : x->created > y->created ? -1 : 0;
}

/* Publish w's snapshot unless the local file holds exactly those bytes already. */
static int
publish_built(struct follower *f, struct snap_writer *w, const char *what)
{
	const struct conf *c = f->conf;
	struct snapshot *check = NULL;
	char err[512];
	void *buf = NULL;
	size_t len = 0;
	int rc = FOLLOW_EXIT_OK;
	FILE *old;

	if (snapw_build(w, &buf, &len, err, sizeof(err)) != 0 ||
	    snap_parse(buf, len, time(NULL), &check, err, sizeof(err)) != SNAP_OK) {
		log_warnx("%s: the merged snapshot is not valid, nothing published: %s", what, err);
		free(buf);
		return FOLLOW_EXIT_PUBLISH;
	}
	snap_free(check);
	if ((old = fopen(c->snapshot_path, "rb")) != NULL) {
		char *cur = xmalloc(len + 1);
		size_t got = fread(cur, 1, len + 1, old);

		fclose(old);
		if (got == len && memcmp(cur, buf, len) == 0) {
			free(cur);
			free(buf);
			return FOLLOW_EXIT_OK;
		}
		free(cur);
	}
	if (publish_file(c->snapshot_path, buf, len, 0644, err, sizeof(err)) != 0) {
		log_warnx("snapshot %s NOT published, the previous one stays: %s", c->snapshot_path, err);
		rc = FOLLOW_EXIT_PUBLISH;
	} else {
		log_debug("published %s: %s", c->snapshot_path, what);
	}
	free(buf);
	return rc;
}

/*
 * Quorum k: the fresh snapshots that can see, merged.  With fewer than k of
 * them no vote can be trusted: the newest snapshot there is, marked blind,
 * so the responders fail open now rather than after max_age.
 */
static int
pass_quorum(struct follower *f, time_t now)
{
	unsigned k = (unsigned)f->conf->follow_quorum;
	struct source *use[FOLLOW_SOURCES_MAX], *newest = NULL;
	struct snapshot *parsed[FOLLOW_SOURCES_MAX];
	const char *names[FOLLOW_SOURCES_MAX];
	struct snap_writer *w = NULL;
	size_t n = 0, seeing, np = 0;
	char what[200];
	char decided[FLEET_DECIDED_MAX];
	int rc = FOLLOW_EXIT_PUBLISH, blind;

	for (size_t i = 0; i < f->n; i++) {
		struct source *s = &f->src[i];

		if (s->state == SRC_FRESH)
			use[n++] = s;
		if ((s->state == SRC_FRESH || s->state == SRC_BLIND) &&
		    (newest == NULL || s->created > newest->created))
			newest = s;
	}
	if (newest == NULL) {
		log_warnx("no source has a fresh snapshot: %s left as it is (it fails open after "
		          "snapshot.max_age, %d s)", f->conf->snapshot_path, f->conf->max_age);
		f->unrefreshed = "no source has a fresh snapshot";
		return FOLLOW_EXIT_NOSOURCE;
	}
	seeing = n;
	blind = seeing < k;
	if (blind) {
		use[0] = newest;
		n = 1;
	}
	qsort(use, n, sizeof(use[0]), by_created_desc);
	for (; np < n; np++) {
		names[np] = use[np]->name;
		if (snap_parse(use[np]->buf, use[np]->len, now, &parsed[np], NULL, 0) != SNAP_OK)
			goto out; /* verified when fetched; only a clock jump could refuse it now */
	}
	if (blind) {
		w = quorum_merge((const struct snapshot *const *)parsed, NULL, 1, 1, newest->created);
		if (w != NULL)
			snapw_set_header(w, newest->created, snap_interval(parsed[0]),
			                 SNAP_FLAG_BLIND | (snap_flags(parsed[0]) & SNAP_FLAG_GUARD));
		snprintf(what, sizeof(what), "%zu of the %u %s a quorum needs can see: published "
		         "BLIND, every answer fails open", seeing, k, util_plural(k, "prober", "probers"));
		if (!f->quorum_short)
			log_warnx("%s", what);
		f->quorum_short = 1;
		snprintf(decided, sizeof(decided), "blind: %zu of %u %s for a quorum can see", seeing,
		         k, util_plural(k, "prober", "probers"));
	} else {
		w = quorum_merge((const struct snapshot *const *)parsed, names, n, k,
		                 use[k - 1]->created);
		snprintf(what, sizeof(what), "quorum %u of the %zu %s that can see", k, n,
		         util_plural((long long)n, "prober", "probers"));
		snprintf(decided, sizeof(decided), "quorum %u of %zu", k, n);
		if (f->quorum_short)
			log_info("%s again", what);
		f->quorum_short = 0;
	}
	if (w != NULL)
		rc = publish_built(f, w, what);
	else
		log_warnx("%s: a merged record was refused by the writer: nothing published", what);
	snapw_free(w);
out:
	for (size_t i = 0; i < np; i++)
		snap_free(parsed[i]);
	if (rc == FOLLOW_EXIT_OK)
		memcpy(f->decided, decided, sizeof(f->decided));
	else
		f->unrefreshed = "the merged snapshot could not be published";
	return rc;
}

/* Freshest: the newest fresh one; one that can see (not blind) before one that cannot. */
static int
pass_freshest(struct follower *f, uint64_t wire)
{
	const struct conf *c = f->conf;
	struct source *best = NULL;
	char err[512];

	for (size_t i = 0; i < f->n; i++) {
		struct source *s = &f->src[i];

		if (s->state != SRC_FRESH && s->state != SRC_BLIND)
			continue;
		if (best == NULL || (best->state == SRC_BLIND && s->state == SRC_FRESH) ||
		    (best->state == s->state && s->created > best->created))
			best = s;
	}
	if (best == NULL) {
		log_warnx("no source has a fresh snapshot: %s left as it is (it fails open after "
		          "snapshot.max_age, %d s)", c->snapshot_path, c->max_age);
		f->unrefreshed = "no source has a fresh snapshot";
		return FOLLOW_EXIT_NOSOURCE;
	}
	f->published = local_created(c);
	if (best->created <= f->published) {
		log_debug("%s is already the newest (%lld); %llu bytes fetched", c->snapshot_path,
		          (long long)f->published, (unsigned long long)wire);
		/* The same snapshot is best's; a newer one came from a source not fresh now. */
		if (best->created < f->published)
			f->unrefreshed = "no source has a newer snapshot";
		else
			snprintf(f->decided, sizeof(f->decided), "freshest %s%s", best->name,
			         best->state == SRC_BLIND ? " (blind)" : "");
		return FOLLOW_EXIT_OK;
	}
	if (publish_file(c->snapshot_path, best->buf, best->len, 0644, err, sizeof(err)) != 0) {
		log_warnx("snapshot %s NOT published, the previous one stays: %s", c->snapshot_path, err);
		f->unrefreshed = "a newer snapshot could not be published";
		return FOLLOW_EXIT_PUBLISH;
	}
	snprintf(f->decided, sizeof(f->decided), "freshest %s%s", best->name,
	         best->state == SRC_BLIND ? " (blind)" : "");
	f->published = best->created;
	log_debug("published %s from %s (created %lld%s); %llu bytes fetched", c->snapshot_path,
	          best->url, (long long)best->created, best->state == SRC_BLIND ? ", BLIND" : "",
	          (unsigned long long)wire);
	return FOLLOW_EXIT_OK;
}

/*
 * The follower's account of the region, beside the snapshot (snapshot.path +
 * ".fleet"), for the responders' X-Deephealth-Source header, the status
 * document and the metrics: what decided, and each prober's state.  Lines:
 *     deephealth-fleet 1
 *     decided freshest prober-1:8080 | decided quorum 2 of 3 |
 *     decided freshest prober-1:8080, snapshot TIME, not refreshed: WHY | decided none: WHY
 *     (fleet_unrefreshed: a pass that left the published snapshot as it was)
 *     source NAME STATE CREATED
 * Written (by rename) only when it changed.
 */
static void
fleet_write(struct follower *f, time_t now)
{
	char path[4200], err[512], *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);

	(void)now;
	if (m == NULL)
		return;
	fprintf(m, "deephealth-fleet 1\ndecided %s\n", f->decided);
	for (size_t i = 0; i < f->n; i++)
		fprintf(m, "source %s %s %lld\n", f->src[i].name, source_state_names[f->src[i].state],
		        (long long)(f->src[i].buf ? f->src[i].created : 0));
	for (size_t i = 0; i < f->n; i++) {
		const struct source *s = &f->src[i];
		char why[sizeof(s->ovr_why)];

		/* The reason as text the .fleet reader takes: printable, no quote or backslash. */
		snprintf(why, sizeof(why), "%s", s->ovr_why);
		for (char *p = why; *p != '\0'; p++)
			if (*p < 0x20 || *p > 0x7e || *p == '"' || *p == '\\')
				*p = '?';
		fprintf(m, "overrides %s %s %zu %lld %s\n", s->name, rovr_state_names[s->ovr_state],
		        s->ovr ? s->ovr->n : 0, (long long)s->ovr_verified, why);
	}
	if (fclose(m) != 0) {
		free(buf);
		return;
	}
	if (f->fleet != NULL && strcmp(f->fleet, buf) == 0) {
		free(buf);
		return;
	}
	snprintf(path, sizeof(path), "%s.fleet", f->conf->snapshot_path);
	if (publish_file(path, buf, len, 0644, err, sizeof(err)) != 0) {
		log_warnx("%s not written: %s", path, err);
		free(buf);
		return;
	}
	free(f->fleet);
	f->fleet = buf;
}

static int
run_pass(struct follower *f)
{
	const struct conf *c = f->conf;
	time_t now = time(NULL);
	int64_t before[FOLLOW_SOURCES_MAX];
	uint64_t wire = 0;
	int rc;

	for (size_t i = 0; i < f->n && !run_stopping; i++) {
		struct source *s = &f->src[i];
		enum source_state was = s->state;

		before[i] = s->buf ? s->created : -1;
		fetch(f, s, now);
		if (s->buf != NULL && s->created != before[i])
			cache_save(f, i);
		wire += s->wire;
		/* A change of state once, at info; a source that stays down, at debug each pass. */
		if (s->state != was)
			log_info("source %s: %s%s%s (HTTP %s, %llu bytes)", s->url,
			         source_state_names[s->state], s->why[0] ? ": " : "", s->why, s->codes,
			         (unsigned long long)s->wire);
		else
			log_debug("source %s: %s%s%s, created %lld (HTTP %s, %llu bytes)", s->url,
			          source_state_names[s->state], s->why[0] ? ": " : "", s->why,
			          (long long)s->created, s->codes, (unsigned long long)s->wire);
		/* Then its region-wide overrides: one small GET, counted on its own. */
		s->wire = 0;
		s->codes[0] = '\0';
		ovr_fetch(f, i, now);
		wire += s->wire;
		log_debug("source %s: region-wide overrides %s%s%s, %zu (HTTP %s, %llu bytes)",
		          s->ovr_url, rovr_state_names[s->ovr_state], s->ovr_why[0] ? ": " : "",
		          s->ovr_why, s->ovr ? s->ovr->n : 0, s->codes, (unsigned long long)s->wire);
	}
	f->decided[0] = '\0';
	f->unrefreshed = "no source has a fresh snapshot";
	ovr_publish(f, now);
	rc = c->follow_policy == FOLLOW_QUORUM ? pass_quorum(f, now) : pass_freshest(f, wire);
	/* Answers come from what is published: when this pass replaced nothing, that is the
	 * snapshot the last decision published, and the header must say so (not "none"). */
	if (f->decided[0] != '\0')
		memcpy(f->last, f->decided, sizeof(f->last));
	else
		fleet_unrefreshed(f->decided, sizeof(f->decided), f->last, local_created(c),
		                  f->unrefreshed);
	fleet_write(f, now);
	return rc;
}

/* What decided the snapshot a previous run published, from the .fleet file it left. */
static void
fleet_recall(struct follower *f)
{
	struct fleet fl;
	char err[4400];

	if (fleet_load(f->conf->snapshot_path, &fl, err, sizeof(err)) == 1)
		fleet_decided_source(fl.decided, f->last, sizeof(f->last));
}

/* ---------------------------------------------------------------- main */

/* "prober-1.internal:8080" from "http://prober-1.internal:8080/deephealth-snapshot": the host
 * and port, in the bytes of a name (anything else becomes '_'). */
static void
source_name(const char *url, char *out, size_t len)
{
	const char *p = strstr(url, "://"), *end;
	size_t n = 0;

	p = p ? p + 3 : url;
	if (strchr(p, '@') != NULL && strchr(p, '@') < p + strcspn(p, "/"))
		p = strchr(p, '@') + 1; /* never a user or password */
	end = p + strcspn(p, "/?#");
	for (; p < end && n + 1 < len; p++)
		out[n++] = util_is_name_byte((unsigned char)*p) || *p == ':' || *p == '[' || *p == ']' ?
		           *p : '_';
	out[n] = '\0';
}

/* The source's region-wide overrides: its URL with the last path segment "deephealth-overrides". */
static void
ovr_url(const char *url, char *out, size_t len)
{
	const char *host = strstr(url, "://"), *q, *slash;
	size_t keep;

	host = host ? host + 3 : url;
	q = host + strcspn(host, "?#");
	slash = NULL;
	for (const char *p = host; p < q; p++)
		if (*p == '/')
			slash = p;
	keep = slash != NULL ? (size_t)(slash - url) : (size_t)(q - url);
	snprintf(out, len, "%.*s/deephealth-overrides", (int)keep, url);
}

/*
 * What this program writes under the state directory, for owner_become: the snapshot, its
 * .fleet file, the cache directory, then what it holds.  NULL-terminated (util_strv_free).
 */
static char **
owned_paths(const struct follower *f)
{
	char **v = xcalloc(2 * FOLLOW_SOURCES_MAX + 8, sizeof(*v)), path[4200];
	size_t n = 0;

	v[n++] = xstrdup(f->conf->snapshot_path);
	snprintf(path, sizeof(path), "%s.fleet", f->conf->snapshot_path);
	v[n++] = xstrdup(path);
	v[n++] = xstrdup(f->conf->follow_cache);
	snprintf(path, sizeof(path), "%s/follow.lock", f->conf->follow_cache);
	v[n++] = xstrdup(path);
	for (size_t i = 0; f->conf->follow_sources != NULL && f->conf->follow_sources[i] != NULL &&
	                   i < FOLLOW_SOURCES_MAX; i++) {
		cache_path(f, i, "snapshot", path, sizeof(path));
		v[n++] = xstrdup(path);
		cache_path(f, i, "overrides", path, sizeof(path));
		v[n++] = xstrdup(path);
	}
	v[n++] = xstrdup(f->conf->region_overrides);
	snprintf(path, sizeof(path), "%s%s", f->conf->region_overrides, OVR_GOOD_SUFFIX);
	v[n++] = xstrdup(path);
	v[n++] = xstrdup(f->conf->event_log); /* "" when none: skipped */
	return v;
}

/* For -t and every run: what this program needs of the configuration.  bad: problems so far. */
static int
check_conf(const struct conf *c, int test_only, int bad)
{
	void *arg = test_only ? &test_only : NULL; /* -t: plain lines on stderr, else the log */
	size_t n = 0;

	while (c->follow_sources != NULL && c->follow_sources[n] != NULL)
		n++;
	if (n == 0) {
		log_errfn_fatal(arg, "%s:1: follower.sources: deephealth-follow needs at least one",
		                c->path);
		bad = 1;
	}
	/* Made on first use, as the user that runs the follower (the state directory's owner). */
	if (access(c->follow_cache, F_OK) == -1 && errno == ENOENT && !test_only &&
	    mkdir(c->follow_cache, 0755) == 0)
		log_info("cache directory %s created", c->follow_cache);
	if (access(c->follow_cache, W_OK | X_OK) == -1 && (!test_only || errno != ENOENT)) {
		log_errfn_fatal(arg, "%s: follower.cache: directory \"%s\" is not usable by this user: "
		                "%s", c->path, c->follow_cache, strerror(errno));
		bad = 1;
	}
	if (!bad && test_only)
		printf("%s: configuration OK (%zu %s)%s\n", c->path, n,
		       util_plural((long long)n, "source", "sources"),
		       access(c->follow_cache, F_OK) == 0 ? "" : "; the cache directory will be made");
	return bad;
}

static void
usage(FILE *fp, int code)
{
	fprintf(fp,
	        "usage: deephealth-follow [-hStvV] [-c config] [-r seconds [-d seconds]]\n"
	        "  -c config     configuration file (default $DEEPHEALTH_CONFIG, then %s)\n"
	        "  -t            check the configuration and the cache directory; then exit\n"
	        "  -r seconds    repeat a pass every this many seconds ...\n"
	        "  -d seconds    ... for up to this long in all (default 60: one cron minute)\n"
	        "  -S, --syslog  log to syslog (daemon) whatever log.syslog says\n"
	        "  -v            log every source's answer (debug)\n"
	        "  -h, --help    this text\n"
	        "  -V, --version print the version\n"
	        "exit: 0 published or already newest, 1 configuration or setup, 2 usage, 3 locked,\n"
	        "      5 no source had a fresh snapshot, 6 not published (deephealth-follow(8))\n",
	        DH_DEFAULT_CONF);
	exit(code);
}

/* One pass of the run (run_repeat's). */
static void
pass(void *arg)
{
	struct follower *f = arg;
	int r = run_pass(f);

	if (r != FOLLOW_EXIT_OK)
		f->rc = r;
}

int
main(int argc, char **argv)
{
	struct follower f;
	struct run_opts o;
	int lockfd, owner_bad, rc = FOLLOW_EXIT_OK;
	char lock[4200], **owned;

	run_options(argc, argv, "deephealth-follow", usage, &o);
	log_init("deephealth-follow", o.to_syslog && !o.test_only,
	         o.verbose ? LOG_LVL_DEBUG : LOG_LVL_INFO);
	memset(&f, 0, sizeof(f));
	f.conf = conf_load(o.conf_path, NULL, log_errfn_fatal, o.test_only ? &o.test_only : NULL);
	if (f.conf == NULL) {
		if (!o.test_only)
			log_errx("%s: cannot run with this configuration (errors above): nothing fetched, "
			         "nothing published", o.conf_path);
		return FOLLOW_EXIT_CONFIG;
	}
	if (!o.test_only)
		log_init("deephealth-follow", o.to_syslog || f.conf->log_syslog,
		         o.verbose ? LOG_LVL_DEBUG : f.conf->log_level);
	/* From here on as the state directory's owner (root becomes it); the cache is made by it. */
	owned = owned_paths(&f);
	owner_bad = owner_become(f.conf->snapshot_path, (const char *const *)owned,
	                         o.test_only ? OWNER_CHECK : OWNER_RUN, log_errfn_fatal,
	                         o.test_only ? &o.test_only : NULL);
	util_strv_free(owned);
	rc = (owner_bad != 0 && !o.test_only) || check_conf(f.conf, o.test_only, owner_bad) != 0 ?
	     FOLLOW_EXIT_CONFIG : FOLLOW_EXIT_OK;
	if (rc != FOLLOW_EXIT_OK && !o.test_only)
		log_errx("%s: cannot run %s (errors above): nothing fetched, nothing published",
		         o.conf_path, owner_bad ? "as this user" : "with this configuration");
	if (rc != FOLLOW_EXIT_OK || o.test_only) {
		conf_free(f.conf);
		return rc;
	}
	run_signals();
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0 || (f.curl = curl_easy_init()) == NULL)
		fatalx("libcurl could not start");
	snprintf(lock, sizeof(lock), "%s/follow.lock", f.conf->follow_cache);
	lockfd = run_lock(lock, "deephealth-follow");
	if (lockfd < 0) {
		rc = lockfd == RUN_LOCK_HELD ? FOLLOW_EXIT_LOCKED : FOLLOW_EXIT_CONFIG;
		goto out;
	}
	for (f.n = 0; f.conf->follow_sources[f.n] != NULL; f.n++) {
		f.src[f.n].url = f.conf->follow_sources[f.n];
		source_name(f.src[f.n].url, f.src[f.n].name, sizeof(f.src[f.n].name));
		ovr_url(f.src[f.n].url, f.src[f.n].ovr_url, sizeof(f.src[f.n].ovr_url));
	}
	publish_clean(f.conf->snapshot_path);
	cache_load(&f);
	{
		struct overrides *pub = NULL;
		char err[512];
		size_t len;
		int64_t mtime = 0;
		char *buf = ovr_file_read(f.conf->region_overrides, &len, &mtime, err, sizeof(err));

		/* What a previous run published: the changes since are this run's to log. */
		if (buf != NULL && ovr_parse_region(f.conf->region_overrides, buf, len, INT64_MAX, &pub,
		                                    log_errfn_quiet, NULL) == 0) {
			f.rovr = buf;
			f.rovr_len = len;
			ovr_seed(&f, pub, mtime);
		} else {
			free(buf);
		}
		ovr_free(pub);
	}
	fleet_recall(&f);

	/* A pass takes up to three fetches (header, body, overrides) of every source at worst. */
	run_repeat(o.every, o.total, (int64_t)f.conf->follow_timeout_ms * 3 * (int64_t)f.n, pass, &f);
	rc = f.rc;
	close(lockfd);
out:
	for (size_t i = 0; i < f.n; i++) {
		free(f.src[i].buf);
		free(f.src[i].ovr_buf);
		ovr_free(f.src[i].ovr);
	}
	free(f.fleet);
	free(f.rovr);
	curl_easy_cleanup(f.curl);
	curl_global_cleanup();
	conf_free(f.conf);
	return rc;
}
