/*
 * fleet.c: what deephealth-follow says beside the snapshot it published
 * (snapshot.path + ".fleet"): what decided (the source used, or the quorum)
 * and each prober's state.  Read by the responder for its
 * X-Deephealth-Source header, the status document and the metrics, and by
 * deephealthctl.  Only informational: a missing or bad file changes no
 * answer, it is just not shown.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deephealth.h"

const char *const source_state_names[] = {
	"unreachable", "invalid", "stale", "blind", "fresh", NULL
};
const char *const rovr_state_names[] = { "none", "ok", "kept", "refused", NULL };
_Static_assert(sizeof(rovr_state_names) / sizeof(rovr_state_names[0]) == ROVR_STATE_COUNT + 1,
               "one name per rovr_state");

/* Printable ASCII only, no quote or backslash: it goes into a header and into JSON as it is. */
static int
text_ok(const char *s)
{
	for (; *s != '\0'; s++)
		if (*s < 0x20 || *s > 0x7e || *s == '"' || *s == '\\')
			return 0;
	return 1;
}

int
fleet_load(const char *snapshot_path, struct fleet *out, char *err, size_t errlen)
{
	char path[4200], line[512];
	unsigned lineno = 0;
	FILE *f;

	memset(out, 0, sizeof(*out));
	snprintf(path, sizeof(path), "%s.fleet", snapshot_path);
	if ((f = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return errno == ENOENT ? 0 : -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		char name[FLEET_NAME_MAX + 1], state[16];
		long long created;
		unsigned count;
		int st, at = 0;

		lineno++;
		if (strchr(line, '\n') == NULL && !feof(f))
			goto bad;
		line[strcspn(line, "\n")] = '\0';
		if (lineno == 1) {
			if (strcmp(line, "deephealth-fleet 1") != 0)
				goto bad;
		} else if (strncmp(line, "decided ", 8) == 0 && out->decided[0] == '\0') {
			size_t n = strlen(line + 8);

			if (!text_ok(line + 8) || n >= sizeof(out->decided))
				goto bad;
			memcpy(out->decided, line + 8, n + 1);
		} else if (sscanf(line, "source %128s %15s %lld", name, state, &created) == 3 &&
		           out->n < FLEET_SOURCES_MAX && text_ok(name) &&
		           (st = names_find(source_state_names, state)) >= 0) {
			snprintf(out->src[out->n].name, sizeof(out->src[out->n].name), "%s", name);
			out->src[out->n].state = (enum source_state)st;
			out->src[out->n].created = created;
			out->n++;
		} else if (sscanf(line, "overrides %128s %15s %u %lld %n", name, state, &count, &created,
		                  &at) == 4 && at > 0 && (st = names_find(rovr_state_names, state)) >= 0 &&
		           text_ok(line + at)) {
			/* The region-wide overrides of a source listed above. */
			size_t k = 0;

			while (k < out->n && strcmp(out->src[k].name, name) != 0)
				k++;
			if (k == out->n)
				goto bad;
			out->src[k].ovr_state = (enum rovr_state)st;
			out->src[k].ovr_count = count;
			out->src[k].ovr_verified = created;
			snprintf(out->src[k].ovr_why, sizeof(out->src[k].ovr_why), "%s", line + at);
		} else {
			goto bad;
		}
	}
	fclose(f);
	if (lineno < 2 || out->decided[0] == '\0') {
		snprintf(err, errlen, "%s: incomplete", path);
		memset(out, 0, sizeof(*out));
		return -1;
	}
	out->present = 1;
	return 1;
bad:
	fclose(f);
	snprintf(err, errlen, "%s:%u: not a line of a .fleet file", path, lineno);
	memset(out, 0, sizeof(*out));
	return -1;
}

#define UNREFRESHED ", not refreshed: "
#define UNKNOWN_SOURCE "unknown source"

void
fleet_unrefreshed(char *out, size_t len, const char *last, int64_t created, const char *why)
{
	char when[32];

	if (created < 0) {
		snprintf(out, len, "none: %s", why);
		return;
	}
	util_iso_time((time_t)created, when, sizeof(when));
	snprintf(out, len, "%s, snapshot %s" UNREFRESHED "%s", last[0] ? last : UNKNOWN_SOURCE, when,
	         why);
}

void
fleet_decided_source(const char *decided, char *out, size_t len)
{
	const char *cut = strstr(decided, UNREFRESHED) ? strstr(decided, ", snapshot ") : NULL;
	size_t n = cut != NULL ? (size_t)(cut - decided) : strlen(decided);

	if (strncmp(decided, "none:", 5) == 0 || (n == strlen(UNKNOWN_SOURCE) &&
	                                          strncmp(decided, UNKNOWN_SOURCE, n) == 0))
		n = 0;
	snprintf(out, len, "%.*s", (int)n, decided);
}

void
fleet_json(FILE *f, const struct fleet *fl, time_t now)
{
	fprintf(f, "{\"decided\":\"%s\",\"sources\":[", fl->decided);
	for (size_t i = 0; i < fl->n; i++) {
		char when[32];

		util_iso_time((time_t)fl->src[i].created, when, sizeof(when));
		fprintf(f, "%s{\"name\":\"%s\",\"state\":\"%s\",\"created\":\"%s\",\"age\":%lld",
		        i ? "," : "", fl->src[i].name, names_at(source_state_names, fl->src[i].state),
		        fl->src[i].created > 0 ? when : "", fl->src[i].created > 0 ?
		        (long long)((int64_t)now - fl->src[i].created) : -1LL);
		/* Its region-wide overrides: text_ok'd by fleet_load, so JSON as it is. */
		util_iso_time((time_t)fl->src[i].ovr_verified, when, sizeof(when));
		fprintf(f, ",\"overrides\":{\"state\":\"%s\",\"count\":%u,\"verified\":\"%s\","
		        "\"why\":\"%s\"}}", names_at(rovr_state_names, fl->src[i].ovr_state),
		        fl->src[i].ovr_count, fl->src[i].ovr_verified > 0 ? when : "", fl->src[i].ovr_why);
	}
	fprintf(f, "]}");
}
