/*
 * override.c: the operator's overrides, a text file in the state directory
 * (responder.overrides): read by every responder process and the prober,
 * written by deephealthctl through publish_file.  One override per line:
 *
 *   registry:fabrikam force-pass until=2026-11-30T09:00:00Z set=2026-11-30T08:00:00Z by=alice reason="INC-123"
 *
 * A file with any bad line is not used at all: half an operator's intent is
 * worse than none, and none is the answers as the prober sees them.
 */
#define _GNU_SOURCE /* timegm, strptime */

#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "deephealth.h"

#define OVR_FILE_MAX (4u * 1024 * 1024) /* a file larger than this is refused */

const char *const ovr_action_names[] = { "force-pass", "force-fail", "enforce", "shadow",
	                                      "allow-failover", NULL };
_Static_assert(sizeof(ovr_action_names) / sizeof(ovr_action_names[0]) == OVR_ALLOW_FAILOVER + 2,
               "one name per ovr_action");

const char *const ovr_origin_names[] = { "node", "region-wide", NULL };
_Static_assert(sizeof(ovr_origin_names) / sizeof(ovr_origin_names[0]) == OVR_ORIGIN_COUNT + 1,
               "one name per ovr_origin");

/*
 * A registry name, or a glob of one: the name alphabet, * and ?, and bracket
 * sets "[abc]" "[a-z]" "[!abc]" that are closed and not empty.  Anything else
 * ("[abc" unclosed, "!" or "]" outside a set) could never match a name, so it
 * is refused here, by the one grammar that deephealthctl and the responders share.
 */
static int
glob_ok(const char *s, size_t len)
{
	if (len == 0 || len > DH_NAME_MAX)
		return 0;
	for (size_t i = 0; i < len; i++) {
		size_t j;

		if (util_is_name_byte((unsigned char)s[i]) || s[i] == '*' || s[i] == '?')
			continue;
		if (s[i] != '[')
			return 0;
		j = i + 1 + (i + 1 < len && s[i + 1] == '!');
		if (j >= len || s[j] == ']')
			return 0; /* an empty set */
		for (; j < len && s[j] != ']'; j++)
			if (!util_is_name_byte((unsigned char)s[j]))
				return 0; /* "-" ranges are name bytes too */
		if (j >= len)
			return 0; /* not closed */
		i = j;
	}
	return 1;
}

int
ovr_scope_ok(const char *scope)
{
	if (strcmp(scope, "region") == 0)
		return 1;
	if (strncmp(scope, "dependency:", 11) == 0)
		return glob_ok(scope + 11, strlen(scope + 11));
	return strncmp(scope, "registry:", 9) == 0 && glob_ok(scope + 9, strlen(scope + 9));
}

static int64_t
parse_iso(const char *s)
{
	struct tm tm;
	const char *end;

	memset(&tm, 0, sizeof(tm));
	end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (end == NULL || *end != '\0')
		return -1;
	return (int64_t)timegm(&tm);
}

/* A reason: printable ASCII, quoted, with \" and \\ escapes.  Returns the end, or NULL. */
static const char *
parse_quoted(const char *p, char *out, size_t outlen)
{
	size_t o = 0;

	if (*p++ != '"')
		return NULL;
	for (; *p != '"'; p++) {
		if (*p == '\\' && (p[1] == '"' || p[1] == '\\'))
			p++;
		if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e || o + 1 >= outlen)
			return NULL;
		out[o++] = *p;
	}
	out[o] = '\0';
	return p + 1;
}

static void
ovr_free_one(struct override *v)
{
	free(v->scope);
	free(v->by);
	free(v->reason);
	free(v->from);
}

void
ovr_free(struct overrides *o)
{
	if (o == NULL)
		return;
	for (size_t i = 0; !o->borrowed && i < o->n; i++)
		ovr_free_one(&o->v[i]);
	free(o->v);
	nidx_free(o->exact);
	free(o->next_same);
	free(o->globs);
	free(o->region);
	free(o->prefix);
	free(o->gfirst);
	free(o->depov);
	free(o);
}

/* Precedence: set later wins; at the same second the node's own, then the later line. */
static int
by_precedence(const void *a, const void *b)
{
	const struct override *x = *(const struct override *const *)a,
	                      *y = *(const struct override *const *)b;

	if (x->set != y->set)
		return x->set < y->set ? -1 : 1;
	if (x->origin != y->origin)
		return x->origin == OVR_NODE ? 1 : -1;
	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	return x < y ? -1 : x > y;
}

/* Index the exact registry names (most overrides): a request finds its own in O(1). */
static void
ovr_index(struct overrides *o)
{
	size_t n = o->n ? o->n : 1;
	struct override **order = xcalloc(n, sizeof(*order));

	for (size_t i = 0; i < o->n; i++)
		order[i] = &o->v[i];
	qsort(order, o->n, sizeof(*order), by_precedence);
	for (size_t i = 0; i < o->n; i++)
		order[i]->rank = (uint32_t)i + 1;
	free(order);

	o->exact = nidx_new();
	o->next_same = xcalloc(n, sizeof(*o->next_same));
	o->globs = xcalloc(n, sizeof(*o->globs));
	o->region = xcalloc(n, sizeof(*o->region));
	o->prefix = xcalloc(n, sizeof(*o->prefix));
	o->gfirst = xcalloc(n, sizeof(*o->gfirst));
	o->depov = xcalloc(n, sizeof(*o->depov));
	for (size_t i = 0; i < o->n; i++) {
		const struct override *v = &o->v[i];
		int64_t first;

		o->next_same[i] = UINT32_MAX;
		if (v->kind == OVR_DEPENDENCY) {
			o->depov[o->ndepov++] = (uint32_t)i;
			continue;
		}
		if (v->glob == NULL) {
			o->region[o->nregion++] = (uint32_t)i;
			continue;
		}
		if (strpbrk(v->glob, "*?[") != NULL) {
			/* Most globs are a prefix and a star: the prefix rules most names out cheaply. */
			o->prefix[i] = strcspn(v->glob, "*?[");
			o->gfirst[o->nglobs] = o->prefix[i] > 0 ? (unsigned char)v->glob[0] : 0;
			o->globs[o->nglobs++] = (uint32_t)i;
			continue;
		}
		/* Chain every override of one name, newest line first. */
		first = nidx_find(o->exact, v->glob, strlen(v->glob));
		if (first < 0) {
			nidx_add(o->exact, v->glob, strlen(v->glob), (uint32_t)i);
		} else {
			o->next_same[i] = (uint32_t)first;
			nidx_replace(o->exact, v->glob, strlen(v->glob), (uint32_t)i);
		}
	}
}

/* Keep bad line lineno (text, len bytes) and why, for the status page; the first OVR_BAD_MAX. */
static void
bad_line(struct ovr_view *vw, unsigned lineno, const char *why, const char *text, size_t len)
{
	struct ovr_bad *b;

	if (vw == NULL || vw->nbad >= OVR_BAD_MAX)
		return;
	b = &vw->bad[vw->nbad++];
	b->line = lineno;
	snprintf(b->message, sizeof(b->message), "%s", why);
	if (len >= sizeof(b->text))
		len = sizeof(b->text) - 1;
	/* The text is shown, never used: anything outside printable ASCII becomes '?'. */
	for (size_t i = 0; i < len; i++)
		b->text[i] = (unsigned char)text[i] >= 0x20 && (unsigned char)text[i] < 0x7f ? text[i] : '?';
	b->text[len] = '\0';
}

/* A source's name, as deephealth-follow writes it: host, port, IPv6 brackets. */
static int
from_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= 128)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!util_is_name_byte((unsigned char)s[i]) && strchr(":[]", s[i]) == NULL)
			return 0;
	return 1;
}

/*
 * The region-wide file's header line: the body that follows must be exactly
 * its length and checksum.  Returns the body's offset, or 0 with the reason
 * reported (the file is then refused whole).
 */
static size_t
region_header(const char *path, const char *buf, size_t len, errfn_t errfn, void *arg,
              struct ovr_view *vw)
{
	const char *nl = len > 0 ? memchr(buf, '\n', len) : NULL;
	char head[160], magic[64], why[200];
	unsigned long long want = 0, sum = 0;
	size_t hl = nl ? (size_t)(nl - buf) : len;
	int n = 0;

	why[0] = '\0';
	if (nl == NULL || hl >= sizeof(head)) {
		snprintf(why, sizeof(why), "no header line: not a region-wide override file (it "
		         "starts \"" OVR_REGION_MAGIC " length=BYTES checksum=HEX\")");
	} else {
		memcpy(head, buf, hl);
		head[hl] = '\0';
		snprintf(magic, sizeof(magic), "%s", OVR_REGION_MAGIC);
		if (strncmp(head, magic, strlen(magic)) != 0 ||
		    sscanf(head + strlen(magic), " length=%llu checksum=%16llx%n", &want, &sum, &n) != 2 ||
		    head[strlen(magic) + (size_t)n] != '\0')
			snprintf(why, sizeof(why), "bad header: not a region-wide override file (it "
			         "starts \"" OVR_REGION_MAGIC " length=BYTES checksum=HEX\")");
		else if (want != len - hl - 1)
			snprintf(why, sizeof(why), "%s: the header says %llu bytes follow, %zu do",
			         want > len - hl - 1 ? "truncated" : "longer than written", want,
			         len - hl - 1);
		else if (snap_checksum((const unsigned char *)nl + 1, len - hl - 1) != sum)
			snprintf(why, sizeof(why), "checksum mismatch: damaged, or edited by hand (only "
			         "deephealthctl override --region-wide writes it)");
	}
	if (why[0] == '\0')
		return hl + 1;
	errfn(arg, "%s:1: %s", path, why);
	bad_line(vw, 1, why, buf, hl);
	return 0;
}

static int
parse(const char *path, const char *buf, size_t len, int64_t max_span, struct overrides **out,
      errfn_t errfn, void *arg, struct ovr_view *vw, int region)
{
	struct overrides *o;
	size_t cap = 0, i = 0;
	unsigned lineno = 0;
	int errors = 0;

	*out = NULL;
	if (region) {
		if ((i = region_header(path, buf, len, errfn, arg, vw)) == 0)
			return 1;
		lineno = 1;
	}
	o = xcalloc(1, sizeof(*o));
	while (i < len) {
		const char *nl = memchr(buf + i, '\n', len - i);
		size_t ll = nl ? (size_t)(nl - (buf + i)) : len - i;
		char line[2048], scope[300], action[32], reason[512], by[64], from[128], tok[600];
		const char *p, *why = NULL;
		int64_t until = -1, set = -1;
		int a, n;

		lineno++;
		if (ll >= sizeof(line)) {
			errfn(arg, "%s:%u: line longer than %zu bytes", path, lineno, sizeof(line) - 1);
			bad_line(vw, lineno, "line longer than 2047 bytes", buf + i, ll);
			errors++;
			i += ll + 1;
			continue;
		}
		memcpy(line, buf + i, ll);
		line[ll] = '\0';
		i += ll + 1;
		if (memchr(line, '\0', ll) != NULL) {
			errfn(arg, "%s:%u: NUL byte in line", path, lineno);
			bad_line(vw, lineno, "NUL byte in line", line, ll);
			errors++;
			continue;
		}
		p = line + strspn(line, " \t\r");
		if (*p == '\0' || *p == '#')
			continue;
		reason[0] = by[0] = from[0] = '\0';
		if (sscanf(p, "%299s %31s%n", scope, action, &n) != 2) {
			why = "expected \"SCOPE ACTION until=... set=... by=... reason=\\\"...\\\"\"";
		} else if (!ovr_scope_ok(scope)) {
			why = "scope must be \"region\", \"registry:NAME\" or \"dependency:NAME\" (a name, "
			      "or a glob of names: * ? and closed [sets])";
		} else if ((a = names_find(ovr_action_names, action)) < 0) {
			why = "action must be force-pass, force-fail, enforce, shadow or allow-failover";
		} else if (a == OVR_ALLOW_FAILOVER && strcmp(scope, "region") != 0) {
			why = "allow-failover is for the region only: the failover guard holds the "
			      "whole region";
		} else if (strncmp(scope, "dependency:", 11) == 0 && a != OVR_FORCE_PASS &&
		           a != OVR_FORCE_FAIL) {
			why = "a dependency can be forced to pass or fail, not given a mode";
		}
		for (p += why ? 0 : n; why == NULL && *(p += strspn(p, " \t\r")) != '\0';) {
			if (strncmp(p, "reason=", 7) == 0) {
				if ((p = parse_quoted(p + 7, reason, sizeof(reason))) == NULL)
					why = "reason: a quoted string of printable ASCII, at most 500 bytes";
				continue;
			}
			if (sscanf(p, "%599s%n", tok, &n) != 1)
				break;
			p += n;
			if (strncmp(tok, "until=", 6) == 0 && (until = parse_iso(tok + 6)) >= 0)
				continue;
			if (strncmp(tok, "set=", 4) == 0 && (set = parse_iso(tok + 4)) >= 0)
				continue;
			if (strncmp(tok, "by=", 3) == 0 && strlen(tok + 3) < sizeof(by) &&
			    util_name_ok(tok + 3, strlen(tok + 3))) {
				memcpy(by, tok + 3, strlen(tok + 3) + 1); /* fits: checked above */
				continue;
			}
			if (region && strncmp(tok, "from=", 5) == 0 && from_ok(tok + 5)) {
				memcpy(from, tok + 5, strlen(tok + 5) + 1); /* fits: checked above */
				continue;
			}
			why = "unknown or bad field (until=TIME set=TIME by=NAME reason=\"...\"; times "
			      "as 2026-11-30T09:00:00Z)";
		}
		if (why == NULL && (until < 0 || set < 0 || by[0] == '\0' || reason[0] == '\0'))
			why = "until, set, by and a non-empty reason are all required";
		else if (why == NULL && until <= set)
			why = "until must be after set";
		else if (why == NULL && until - set > max_span)
			why = "expires too far after it was set (responder.override_max)";
		if (why != NULL) {
			errfn(arg, "%s:%u: %s", path, lineno, why);
			bad_line(vw, lineno, why, line, ll);
			errors++;
			continue;
		}
		o->v = util_grow(o->v, &cap, o->n + 1, sizeof(*o->v));
		o->v[o->n] = (struct override){
			.scope = xstrdup(scope), .action = (enum ovr_action)a, .until = until,
			.set = set, .by = xstrdup(by), .reason = xstrdup(reason), .line = lineno,
			.origin = region ? OVR_REGIONWIDE : OVR_NODE, .from = from[0] ? xstrdup(from) : NULL
		};
		o->v[o->n].kind = strcmp(scope, "region") == 0 ? OVR_REGION
		                  : strncmp(scope, "dependency:", 11) == 0 ? OVR_DEPENDENCY : OVR_REGISTRY;
		o->v[o->n].glob = o->v[o->n].kind == OVR_REGION ? NULL
		                  : o->v[o->n].scope + (o->v[o->n].kind == OVR_DEPENDENCY ? 11 : 9);
		o->n++;
	}
	if (errors > 0) {
		ovr_free(o);
		return errors;
	}
	ovr_index(o);
	*out = o;
	return 0;
}

int
ovr_parse(const char *path, const char *buf, size_t len, int64_t max_span,
          struct overrides **out, errfn_t errfn, void *arg)
{
	return parse(path, buf, len, max_span, out, errfn, arg, NULL, 0);
}

int
ovr_parse_region(const char *path, const char *buf, size_t len, int64_t max_span,
                 struct overrides **out, errfn_t errfn, void *arg)
{
	return parse(path, buf, len, max_span, out, errfn, arg, NULL, 1);
}

char *
ovr_file_read(const char *path, size_t *len, int64_t *mtime, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	struct stat st;
	char *buf;

	*len = 0;
	if (f == NULL) {
		int e = errno;

		snprintf(err, errlen, "%s: cannot read: %s", path, strerror(e));
		errno = e;
		return NULL;
	}
	if (mtime != NULL)
		*mtime = fstat(fileno(f), &st) == 0 ? (int64_t)st.st_mtime : 0;
	buf = xmalloc(OVR_FILE_MAX + 1);
	*len = fread(buf, 1, OVR_FILE_MAX + 1, f);
	if (ferror(f) || *len > OVR_FILE_MAX) {
		snprintf(err, errlen, "%s: %s", path, ferror(f) ? "read error" : "larger than 4 MiB");
		free(buf);
		buf = NULL;
	}
	fclose(f);
	return buf;
}

/* ovr_load, keeping the bad lines in vw when it is not NULL; *mtime gets the file's. */
static int
load(const char *path, int64_t max_span, struct overrides **out, errfn_t errfn, void *arg,
     struct ovr_view *vw, int64_t *mtime, int region)
{
	char err[4400], *buf;
	size_t len;
	int rc;

	*out = NULL;
	errno = 0;
	if ((buf = ovr_file_read(path, &len, mtime, err, sizeof(err))) == NULL) {
		if (errno == ENOENT)
			return -1;
		errfn(arg, "%s", err);
		bad_line(vw, 0, err + strlen(path) + 2, "", 0);
		return 1;
	}
	rc = parse(path, buf, len, max_span, out, errfn, arg, vw, region);
	free(buf);
	return rc;
}

int
ovr_load(const char *path, int64_t max_span, struct overrides **out, errfn_t errfn, void *arg)
{
	return load(path, max_span, out, errfn, arg, NULL, NULL, 0);
}

const char *const ovr_file_state_names[] = { "none", "ok", "fallback", "damaged", NULL };
_Static_assert(sizeof(ovr_file_state_names) / sizeof(ovr_file_state_names[0]) ==
               OVR_FILE_STATE_COUNT + 1, "one name per ovr_file_state");

static int
open_view(const char *path, int64_t max_span, struct ovr_view *vw, errfn_t errfn, void *arg,
          int region)
{
	char good[4200];
	int rc, grc;

	memset(vw, 0, sizeof(*vw));
	rc = load(path, max_span, &vw->ovr, errfn, arg, vw, NULL, region);
	if (rc <= 0) {
		vw->state = rc < 0 ? OVR_FILE_NONE : OVR_FILE_OK;
		return 0;
	}
	vw->errors = rc;
	snprintf(good, sizeof(good), "%s%s", path, OVR_GOOD_SUFFIX);
	grc = load(good, max_span, &vw->ovr, log_errfn_quiet, NULL, NULL, &vw->good_time, region);
	vw->state = grc == 0 ? OVR_FILE_FALLBACK : OVR_FILE_DAMAGED;
	return rc;
}

int
ovr_open(const char *path, int64_t max_span, struct ovr_view *vw, errfn_t errfn, void *arg)
{
	return open_view(path, max_span, vw, errfn, arg, 0);
}

int
ovr_open_region(const char *path, int64_t max_span, struct ovr_view *vw, errfn_t errfn, void *arg)
{
	return open_view(path, max_span, vw, errfn, arg, 1);
}

int
ovr_watch_refresh(struct ovr_watch *w, int64_t max_span)
{
	const char *what = w->region ? "region-wide overrides" : "overrides";
	char good[4200], when[32];
	struct file_id id, gid;
	struct stat st;
	int have = stat(w->path, &st) == 0;

	if (!have && errno == ENOENT) {
		if (w->seen && w->vw.state == OVR_FILE_NONE)
			return 0;
		if (w->seen && !w->quiet)
			log_info("%s %s: removed: none in force", what, w->path);
		ovr_view_free(&w->vw);
		memset(&w->vw, 0, sizeof(w->vw));
		w->seen = 1;
		memset(&w->id, 0, sizeof(w->id));
		memset(&w->good_id, 0, sizeof(w->good_id));
		return 1;
	}
	memset(&id, 0, sizeof(id));
	memset(&gid, 0, sizeof(gid));
	if (have)
		file_id_of(&st, &id);
	snprintf(good, sizeof(good), "%s%s", w->path, OVR_GOOD_SUFFIX);
	/* The good copy matters only while the file is damaged (or cannot be looked at). */
	if ((!have || w->vw.state == OVR_FILE_FALLBACK || w->vw.state == OVR_FILE_DAMAGED) &&
	    stat(good, &st) == 0)
		file_id_of(&st, &gid);
	if (w->seen && file_id_eq(&id, &w->id) && file_id_eq(&gid, &w->good_id))
		return 0;
	ovr_view_free(&w->vw);
	open_view(w->path, max_span, &w->vw, w->errfn ? w->errfn : log_errfn, w->arg, w->region);
	w->seen = 1;
	w->id = id;
	/* Now that the state is known, note the good copy this view was read with. */
	memset(&w->good_id, 0, sizeof(w->good_id));
	if (w->vw.state != OVR_FILE_OK && stat(good, &st) == 0)
		file_id_of(&st, &w->good_id);
	switch (w->quiet ? OVR_FILE_NONE : w->vw.state) {
	case OVR_FILE_NONE:
		break;
	case OVR_FILE_OK:
		log_info("%s %s: %zu loaded", what, w->path, w->vw.ovr->n);
		break;
	case OVR_FILE_FALLBACK:
		util_iso_time((time_t)w->vw.good_time, when, sizeof(when));
		log_warnx("%s %s: IGNORED (%d bad line%s above): in force instead: its last good copy "
		          "%s (%zu override%s, written %s)", what, w->path, w->vw.errors,
		          util_plural((long long)w->vw.errors, "", "s"), good, w->vw.ovr->n,
		          util_plural((long long)w->vw.ovr->n, "", "s"), when);
		break;
	default:
		log_warnx("%s %s: IGNORED, every line (%d bad line%s above), and no good copy %s: "
		          "none of these in force", what, w->path, w->vw.errors,
		          util_plural((long long)w->vw.errors, "", "s"), good);
		break;
	}
	return 1;
}

int
ovr_watch_both(struct ovr_watch *node, struct ovr_watch *region, int64_t max_span,
               struct overrides **all)
{
	const struct overrides *sets[2];
	int changed = ovr_watch_refresh(node, max_span);

	changed |= ovr_watch_refresh(region, max_span);
	if (!changed && *all != NULL)
		return 0;
	ovr_free(*all);
	sets[0] = node->vw.ovr;
	sets[1] = region->vw.ovr;
	*all = ovr_union(sets, NULL, 2);
	return 1;
}

void
ovr_view_free(struct ovr_view *vw)
{
	if (vw == NULL)
		return;
	ovr_free(vw->ovr);
	vw->ovr = NULL;
}

/* The lines of a file (o's but those dropped and those expired a day before now, then add). */
static void
render_lines(FILE *m, const struct overrides *o, const char *drop, const struct override *add,
             int64_t now)
{
	for (size_t i = 0; o != NULL && i < o->n; i++)
		if ((drop == NULL || !drop[i]) && o->v[i].until > now - 86400)
			ovr_write_line(m, &o->v[i]);
	if (add != NULL)
		ovr_write_line(m, add);
}

char *
ovr_render(const struct overrides *o, const char *drop, const struct override *add, int64_t now,
           size_t *len)
{
	char *buf = NULL;
	FILE *m = open_memstream(&buf, len);

	if (m == NULL)
		fatal("open_memstream");
	fprintf(m, "# deephealth overrides: written by deephealthctl override; one per line.\n"
	           "# A file with a bad line is ignored whole by every responder, which then\n"
	           "# keeps to the last good copy (this path + \"" OVR_GOOD_SUFFIX "\"): see deephealthctl(8).\n");
	render_lines(m, o, drop, add, now);
	if (fclose(m) != 0)
		fatal("open_memstream");
	return buf;
}

char *
ovr_render_region(const struct overrides *o, const char *drop, const struct override *add,
                  int64_t now, size_t *len)
{
	char *body = NULL, *buf = NULL;
	size_t blen = 0;
	FILE *m = open_memstream(&body, &blen);

	if (m == NULL)
		fatal("open_memstream");
	fprintf(m, "# deephealth region-wide overrides: written by deephealthctl override "
	           "--region-wide\n# and by deephealth-follow; never by hand (the header's "
	           "checksum): docs/overrides.md.\n");
	render_lines(m, o, drop, add, now);
	if (fclose(m) != 0 || (m = open_memstream(&buf, len)) == NULL)
		fatal("open_memstream");
	fprintf(m, "%s length=%zu checksum=%016llx\n", OVR_REGION_MAGIC, blen,
	        (unsigned long long)snap_checksum((const unsigned char *)body, blen));
	fwrite(body, 1, blen, m);
	if (fclose(m) != 0)
		fatal("open_memstream");
	free(body);
	return buf;
}

static int
save(const char *path, const char *buf, size_t len, int64_t max_span, errfn_t errfn, void *arg,
     int region)
{
	struct overrides *o = NULL;
	char good[4200], err[512];

	/* The writer is checked by the reader: what the responders would refuse is never written. */
	if (parse("the new overrides", buf, len, max_span, &o, errfn, arg, NULL, region) != 0) {
		errfn(arg, "%s: not written: the responders would refuse it (a bug: please report)",
		      path);
		return -1;
	}
	ovr_free(o);
	if (publish_file(path, buf, len, 0644, err, sizeof(err)) != 0) {
		errfn(arg, "%s", err);
		return -1;
	}
	/* The copy the responders keep to if the file is later damaged by hand. */
	snprintf(good, sizeof(good), "%s%s", path, OVR_GOOD_SUFFIX);
	if (publish_file(good, buf, len, 0644, err, sizeof(err)) != 0) {
		errfn(arg, "%s (the overrides are written; their good copy is not)", err);
		return 1;
	}
	return 0;
}

int
ovr_save(const char *path, const char *buf, size_t len, int64_t max_span, errfn_t errfn, void *arg)
{
	return save(path, buf, len, max_span, errfn, arg, 0);
}

int
ovr_save_region(const char *path, const char *buf, size_t len, int64_t max_span, errfn_t errfn,
                void *arg)
{
	return save(path, buf, len, max_span, errfn, arg, 1);
}

const char *
ovr_where(const struct override *v, const char *node_path, const char *region_path, char *buf,
          size_t len)
{
	snprintf(buf, len, "%s %s:%u%s%s", ovr_origin_names[v->origin],
	         v->origin == OVR_NODE ? node_path : region_path, v->line, v->from ? " from " : "",
	         v->from ? v->from : "");
	return buf;
}

struct overrides *
ovr_union(const struct overrides *const *sets, char *const *from, size_t n)
{
	struct overrides *u = xcalloc(1, sizeof(*u));
	size_t cap = 0;

	u->borrowed = 1;
	for (size_t k = 0; k < n; k++)
		for (size_t i = 0; sets[k] != NULL && i < sets[k]->n; i++) {
			u->v = util_grow(u->v, &cap, u->n + 1, sizeof(*u->v));
			u->v[u->n] = sets[k]->v[i];
			if (from != NULL && from[k] != NULL)
				u->v[u->n].from = from[k]; /* borrowed: never freed through u */
			u->n++;
		}
	ovr_index(u);
	return u;
}

/* Keep v when it is the newest of its scope level in force for its dimension. */
static void
consider(const struct override *v, int64_t now, const struct override **force,
         const struct override **mode)
{
	if (v->until <= now || v->action == OVR_ALLOW_FAILOVER)
		return;
	if (v->action == OVR_FORCE_PASS || v->action == OVR_FORCE_FAIL) {
		if (*force == NULL || v->rank > (*force)->rank)
			*force = v;
	} else if (*mode == NULL || v->rank > (*mode)->rank) {
		*mode = v;
	}
}

void
ovr_lookup(const struct overrides *o, const char *registry, int64_t now,
           const struct override **force, const struct override **mode)
{
	const struct override *rf = NULL, *rm = NULL, *gf = NULL, *gm = NULL;
	int64_t at;

	*force = *mode = NULL;
	if (o == NULL || o->n == 0)
		return;
	if (registry != NULL) {
		for (at = nidx_find(o->exact, registry, strlen(registry)); at >= 0;
		     at = o->next_same[at] == UINT32_MAX ? -1 : (int64_t)o->next_same[at])
			consider(&o->v[at], now, &rf, &rm);
	}
	for (size_t k = 0; registry != NULL && k < o->nglobs; k++) {
		const struct override *v;

		/* One byte from a packed array rules out most globs without touching them. */
		if (o->gfirst[k] != 0 && o->gfirst[k] != (unsigned char)registry[0])
			continue;
		v = &o->v[o->globs[k]];
		if (strncmp(v->glob, registry, o->prefix[o->globs[k]]) == 0 &&
		    fnmatch(v->glob, registry, 0) == 0)
			consider(v, now, &rf, &rm);
	}
	for (size_t k = 0; k < o->nregion; k++)
		consider(&o->v[o->region[k]], now, &gf, &gm);
	/* A registry's own override beats the region's. */
	*force = rf ? rf : gf;
	*mode = rm ? rm : gm;
}

const struct override *
ovr_dep_lookup(const struct overrides *o, const char *dep, size_t len, int64_t now)
{
	const struct override *best = NULL;
	char name[DH_NAME_MAX + 1];

	if (o == NULL || o->ndepov == 0 || len > DH_NAME_MAX)
		return NULL;
	memcpy(name, dep, len);
	name[len] = '\0';
	for (size_t k = 0; k < o->ndepov; k++) {
		const struct override *v = &o->v[o->depov[k]];

		if (v->until > now && (best == NULL || v->rank > best->rank) &&
		    fnmatch(v->glob, name, 0) == 0)
			best = v;
	}
	return best;
}

const struct override *
ovr_allow_failover(const struct overrides *o, int64_t now)
{
	const struct override *best = NULL;

	for (size_t k = 0; o != NULL && k < o->nregion; k++) {
		const struct override *v = &o->v[o->region[k]];

		if (v->action == OVR_ALLOW_FAILOVER && v->until > now &&
		    (best == NULL || v->rank > best->rank))
			best = v;
	}
	return best;
}

int
ovr_deps_in_force(const struct overrides *o, int64_t now)
{
	for (size_t k = 0; o != NULL && k < o->ndepov; k++)
		if (o->v[o->depov[k]].until > now)
			return 1;
	return 0;
}

int
ovr_write_line(FILE *f, const struct override *v)
{
	char until[32], set[32];

	util_iso_time((time_t)v->until, until, sizeof(until));
	util_iso_time((time_t)v->set, set, sizeof(set));
	fprintf(f, "%s %s until=%s set=%s by=%s ", v->scope, ovr_action_names[v->action], until,
	        set, v->by);
	if (v->from != NULL)
		fprintf(f, "from=%s ", v->from);
	fputs("reason=\"", f);
	for (const char *p = v->reason; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			fputc('\\', f);
		fputc(*p, f);
	}
	return fputs("\"\n", f) == EOF ? -1 : 0;
}

int
ovr_event_line(FILE *f, const char *change, const struct override *v, int64_t when)
{
	char until[32];

	util_iso_time((time_t)v->until, until, sizeof(until));
	evlog_line(f, (time_t)when);
	evlog_str(f, "event", "override");
	evlog_str(f, "change", change);
	evlog_str(f, "scope", v->scope);
	evlog_str(f, "action", ovr_action_names[v->action]);
	evlog_str(f, "until", until);
	evlog_str(f, "by", v->by);
	evlog_str(f, "reason", v->reason);
	evlog_str(f, "origin", ovr_origin_names[v->origin]);
	if (v->from != NULL)
		evlog_str(f, "from", v->from);
	return evlog_end(f);
}
