/*
 * fuzz_writers.c: what writes JSON must write valid JSON.  The first input
 * byte picks the writer, the rest is its input:
 *   0  util_json_strn on arbitrary bytes: the result, in quotes, is a JSON
 *      string that decodes to the input with every byte that is not part of
 *      well-formed UTF-8 replaced by U+FFFD (checked with a decoder written
 *      here); and evlog_parse reads it back out of a line whole (but a NUL,
 *      which it refuses: no string of ours holds one).
 *   1  overrides parsed from the rest (ovr_parse): each one's event-log line
 *      (ovr_event_line) and status object (status_override_json) are valid
 *      JSON, and evlog_parse reads the reason back from the line.
 *   2  a .fleet file (fleet_load): when it loads, fleet_json is valid JSON; when
 *      not, the struct is left empty and the reason says why.
 */
#define _GNU_SOURCE /* open_memstream, memmem */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "fuzz.h"

#define NOW 1796000000

static char snap_path[4200], fleet_path[4200];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_init("fuzz_writers", 0, LOG_LVL_ERR);
	fz_path("snapshot", snap_path, sizeof(snap_path));
	snprintf(fleet_path, sizeof(fleet_path), "%s.fleet", snap_path);
	return 0;
}

static void
json_string(const uint8_t *data, size_t size)
{
	char *esc = util_json_strn((const char *)data, size), *dec, *want, *line;
	size_t elen = strlen(esc), dlen, w = 0, llen;

	/* What it must decode to. */
	want = malloc(size * 3 + 1);
	if (want == NULL)
		abort();
	for (size_t i = 0; i < size;) {
		size_t n = fz_utf8_seq(data + i, size - i);

		if (n == 0) {
			memcpy(want + w, "\xef\xbf\xbd", 3);
			w += 3;
			i++;
		} else {
			memcpy(want + w, data + i, n);
			w += n;
			i += n;
		}
	}
	FZ_CHECK(fz_json_string_body(esc, elen, &dec, &dlen), "not a JSON string body: %s", esc);
	FZ_CHECK(dlen == w && memcmp(dec, want, w) == 0, "decodes to something else (%zu bytes, "
	         "want %zu): %s", dlen, w, esc);
	FZ_CHECK(elen <= size * 6, "%zu bytes escaped to %zu", size, elen);
	/* The event log's reader takes it back whole, but a NUL (\u0000), which no string of
	 * ours holds: refused. */
	llen = elen + 64;
	line = malloc(llen);
	if (line == NULL)
		abort();
	snprintf(line, llen, "{\"time\":\"t\",\"event\":\"x\",\"k\":\"%s\"}", esc);
	FZ_CHECK(fz_json_ok(line, strlen(line)), "a line with it is not JSON");
	{
		struct evlog_event ev;
		char why[160];
		int rc = evlog_parse(line, strlen(line), &ev, why, sizeof(why));

		if (memchr(want, '\0', w) != NULL) {
			FZ_CHECK(rc == -1, "a NUL read into a string");
		} else {
			FZ_CHECK(rc == 0, "evlog_parse refused it (%s): %s", why, line);
			FZ_CHECK(strlen(evlog_str_of(&ev, "k")) == w &&
			         memcmp(evlog_str_of(&ev, "k"), want, w) == 0,
			         "evlog_parse read \"%s\" of \"%s\"", evlog_str_of(&ev, "k"), esc);
			evlog_event_free(&ev);
		}
	}
	free(line);
	free(dec);
	free(want);
	free(esc);
}

static void
override_lines(const uint8_t *data, size_t size)
{
	struct overrides *o = NULL;
	int errors = 0;

	if (ovr_parse("overrides", (const char *)data, size, 31536000, &o, fz_errfn, &errors) != 0)
		return;
	for (size_t i = 0; i < o->n; i++) {
		static const char *const changes[] = { "add", "remove", "expire" };
		const struct override *v = &o->v[i];
		char *buf = NULL, *esc;
		size_t len = 0;
		FILE *f = open_memstream(&buf, &len);

		if (f == NULL)
			abort();
		FZ_CHECK(ovr_event_line(f, changes[i % 3], v, NOW + (int64_t)i) == 0,
		         "ovr_event_line failed");
		fclose(f);
		FZ_CHECK(len > 1 && buf[len - 1] == '\n' && memchr(buf, '\n', len) == buf + len - 1,
		         "event line is not one line");
		FZ_CHECK(fz_json_ok(buf, len - 1), "event line is not JSON: %s", buf);
		esc = util_json_str(v->reason);
		{
			struct evlog_event ev;
			char why[160], *dec;
			size_t dlen;

			FZ_CHECK(evlog_parse(buf, len - 1, &ev, why, sizeof(why)) == 0,
			         "the event line refused (%s): %s", why, buf);
			FZ_CHECK(fz_json_string_body(esc, strlen(esc), &dec, &dlen), "reason: %s", esc);
			FZ_CHECK(strcmp(ev.kind, "override") == 0 && evlog_str_of(&ev, "reason") != NULL &&
			         strlen(evlog_str_of(&ev, "reason")) == dlen &&
			         memcmp(evlog_str_of(&ev, "reason"), dec, dlen) == 0,
			         "evlog_parse reads reason \"%s\", wrote \"%s\"",
			         evlog_str_of(&ev, "reason"), esc);
			free(dec);
			evlog_event_free(&ev);
		}
		free(esc);
		free(buf);

		buf = NULL;
		if ((f = open_memstream(&buf, &len)) == NULL)
			abort();
		status_override_json(f, i, v, (time_t)(NOW + (int64_t)i * 3600));
		fclose(f);
		FZ_CHECK(fz_json_ok(buf, len), "status_override_json is not JSON: %s", buf);
		free(buf);
	}
	ovr_free(o);
}

static void
fleet(const uint8_t *data, size_t size)
{
	static const struct fleet empty;
	struct fleet fl;
	char err[512] = "", *buf = NULL;
	size_t len = 0;
	FILE *f;
	int rc;

	fz_write(fleet_path, data, size);
	memset(&fl, 0x5a, sizeof(fl));
	rc = fleet_load(snap_path, &fl, err, sizeof(err));
	FZ_CHECK(rc == 1 || rc == -1, "fleet_load of an existing file returned %d", rc);
	if (rc != 1) {
		FZ_CHECK(memcmp(&fl, &empty, sizeof(fl)) == 0 && err[0] != '\0',
		         "a refused .fleet left something behind, or no reason");
		return;
	}
	FZ_CHECK(fl.present == 1 && fl.decided[0] != '\0' && fl.n <= FLEET_SOURCES_MAX,
	         "a loaded .fleet without decided");
	for (size_t i = 0; i < fl.n; i++)
		FZ_CHECK(memchr(fl.src[i].name, '\0', sizeof(fl.src[i].name)) != NULL &&
		         (unsigned)fl.src[i].state < SRC_STATE_COUNT, "source %zu", i);
	if ((f = open_memstream(&buf, &len)) == NULL)
		abort();
	fleet_json(f, &fl, (time_t)NOW);
	fclose(f);
	FZ_CHECK(fz_json_ok(buf, len), "fleet_json is not JSON: %s", buf);
	free(buf);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	switch (data[0] % 3) {
	case 0:
		json_string(data + 1, size - 1);
		break;
	case 1:
		override_lines(data + 1, size - 1);
		break;
	default:
		fleet(data + 1, size - 1);
		break;
	}
	return 0;
}
