/* test_evlog.c: the event log's one writer and one reader (src/evlog.c, docs/events.md). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "deephealth.h"
#include "t.h"

/* Parse s; the error (or "") into err. */
static int
parse(const char *s, struct evlog_event *ev, char *err, size_t len)
{
	err[0] = '\0';
	return evlog_parse(s, strlen(s), ev, err, len);
}

/* Every kind the writers make, read back field by field. */
static void
test_kinds(void)
{
	struct evlog_event ev;
	char err[160];

	T_EQ_INT(parse("{\"time\":\"2026-12-07T10:00:00Z\",\"region\":\"westeurope\",\"dependency\":"
	               "\"sa2\",\"from\":\"pass\",\"to\":\"fail\",\"cause\":\"HTTP 500\","
	               "\"elapsed_ms\":12,\"registries_affected\":1200}", &ev, err, sizeof(err)), 0);
	T_EQ_STR(ev.kind, "transition");
	T_EQ_STR(ev.time, "2026-12-07T10:00:00Z");
	T_EQ_STR(evlog_str_of(&ev, "dependency"), "sa2");
	T_EQ_INT(evlog_num_of(&ev, "registries_affected"), 1200);
	T_EQ_INT(evlog_num_of(&ev, "cause"), -1);       /* a string, not a number */
	T_CHECK(evlog_str_of(&ev, "elapsed_ms") == NULL); /* a number, not a string */
	T_CHECK(evlog_get(&ev, "absent") == NULL);
	T_EQ_INT(ev.n, 8);
	evlog_event_free(&ev);

	T_EQ_INT(parse("{\"time\":\"t\",\"event\":\"verdict\",\"registry\":\"fabrikam\"}", &ev, err,
	               sizeof(err)), 0);
	T_EQ_STR(ev.kind, "verdict");
	evlog_event_free(&ev);
	/* A kind this reader does not know is read (fields are added, kinds too): the callers
	 * pass over what they do not list. */
	T_EQ_INT(parse("{\"time\":\"t\",\"event\":\"future_kind\",\"x\":true,\"y\":null}", &ev, err,
	               sizeof(err)), 0);
	T_EQ_STR(ev.kind, "future_kind");
	T_EQ_INT(evlog_get(&ev, "x")->type, EVLOG_BOOL);
	T_EQ_INT(evlog_get(&ev, "y")->type, EVLOG_NULL);
	evlog_event_free(&ev);
}

/* JSON as JSON: whitespace between tokens, any field order, every escape. */
static void
test_json(void)
{
	struct evlog_event ev;
	char err[160];

	T_EQ_INT(parse(" { \"event\" : \"blind\" ,\t\"time\":\"t\" , \"n\" : -42 } \r", &ev, err,
	               sizeof(err)), 0);
	T_EQ_STR(ev.time, "t");
	T_EQ_INT(evlog_num_of(&ev, "n"), -42);
	evlog_event_free(&ev);

	T_EQ_INT(parse("{\"time\":\"t\",\"event\":\"x\",\"s\":\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t"
	               "\\u00e9\\u20ac\\ud83d\\ude00\\u0001\"}", &ev, err, sizeof(err)), 0);
	T_EQ_STR(evlog_str_of(&ev, "s"), "a\"b\\c/d\b\f\n\r\t\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\x01");
	evlog_event_free(&ev);

	/* Raw UTF-8 kept as it is; the extremes of an integer. */
	T_EQ_INT(parse("{\"time\":\"t\",\"event\":\"x\",\"s\":\"caf\xc3\xa9\",\"big\":"
	               "9223372036854775807,\"small\":-9223372036854775808,\"z\":0,\"m\":-0}", &ev,
	               err, sizeof(err)), 0);
	T_EQ_STR(evlog_str_of(&ev, "s"), "caf\xc3\xa9");
	T_EQ_INT(evlog_num_of(&ev, "big"), 9223372036854775807LL);
	T_CHECK(evlog_get(&ev, "small")->num == (-9223372036854775807LL - 1));
	T_EQ_INT(evlog_num_of(&ev, "z"), 0);
	evlog_event_free(&ev);
}

/* Anything else refused whole, saying where and why. */
static void
test_refused(void)
{
	static const struct {
		const char *line, *why;
	} bad[] = {
		{ "", "column 1: not a JSON object" },
		{ "[1]", "column 1: not a JSON object" },
		{ "{}", "column 2: an empty object" },
		{ "{\"time\":\"t\"}", "column 13: neither \"event\" nor \"dependency\": no event of ours" },
		{ "{\"event\":\"x\"}", "column 14: no \"time\" string" },
		{ "{\"time\":1,\"event\":\"x\"}", "column 23: no \"time\" string" },
		{ "{\"time\":\"t\",\"event\":\"X\"}", "column 25: \"event\" is not a kind's name" },
		{ "{\"time\":\"t\",\"event\":\"x\"", "column 24: ',' or '}' expected" },
		{ "{\"time\":\"t\",\"event\":\"x\"} x", "column 26: bytes after the object" },
		{ "{\"time\":\"t\",\"event\":\"x\"}{}", "column 25: bytes after the object" },
		{ "{\"time\":\"t\",\"time\":\"u\",\"event\":\"x\"}", "column 13: \"time\" twice" },
		{ "{\"Time\":\"t\"}", "column 2: a key of ours is 1 to 40 of [a-z0-9_]" },
		{ "{\"\":\"t\"}", "column 2: a key of ours is 1 to 40 of [a-z0-9_]" },
		{ "{time:\"t\"}", "column 2: a key expected" },
		{ "{\"time\" \"t\"}", "column 9: ':' expected after \"time\"" },
		{ "{\"time\":\"t\",\"event\":\"x\",\"a\":{}}", "column 29: a value that is not a string, "
		  "an integer, true, false or null" },
		{ "{\"time\":\"t\",\"event\":\"x\",\"a\":[1]}", "column 29: a value that is not a string, "
		  "an integer, true, false or null" },
		{ "{\"time\":\"t\",\"event\":\"x\",\"a\":1.5}", "column 29: a number that is not an "
		  "integer" },
		{ "{\"time\":\"t\",\"event\":\"x\",\"a\":1e3}", "column 29: a number that is not an "
		  "integer" },
		{ "{\"time\":\"t\",\"event\":\"x\",\"a\":01}", "column 29: a number with a leading zero" },
		{ "{\"time\":\"t\",\"event\":\"x\",\"a\":9223372036854775808}", "column 29: an integer out "
		  "of range" },
		{ "{\"time\":\"t\",\"event\":\"x\",\"a\":-}", "column 29: a value that is not a string, "
		  "an integer, true, false or null" },
		{ "{\"time\":\"t\",\"event\":\"x\",\"a\":tru}", "column 29: a value that is not a string, "
		  "an integer, true, false or null" },
		{ "{\"time\":\"t\",\"event\":\"x\",\"a\":\"\\x\"}", "column 30: an unknown escape \\ and 0x78" },
		{ "{\"time\":\"t\",\"event\":\"transition\"}", "column 34: a transition without its "
		  "\"dependency\" string" },
		{ "{\"time\":\"t\",\"event\":\"x\",\"a\":\"\\u12\"}", "column 30: \\u without four hex "
		  "digits" },
		{ "{\"time\":\"t\",\"event\":\"x\",\"a\":\"\\u0000\"}", "column 30: \\u0000: no NUL in a "
		  "string of ours" },
		{ "{\"time\":\"t\",\"event\":\"x\",\"a\":\"\\udc00\"}", "column 30: \\udc00: a low "
		  "surrogate alone" },
		{ "{\"time\":\"t\",\"event\":\"x\",\"a\":\"\\ud800x\"}", "column 30: \\ud800: a high "
		  "surrogate without its low one" },
		{ "{\"time\":\"t\",\"event\":\"x\",\"a\":\"\x01\"}", "column 30: a control byte (0x01) "
		  "in a string" },
		{ "{\"time\":\"t\",\"event\":\"x\",\"a\":\"\xff\"}", "column 30: not UTF-8 (0xff)" },
		{ "{\"time\":\"t\",\"event\":\"x\",\"a\":\"\xc3\"}", "column 30: not UTF-8 (0xc3)" },
		{ "{\"time\":\"t\",\"event\":\"x\",\"a\":\"open", "column 34: a string not closed" },
	};
	struct evlog_event ev;
	char err[160];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = parse(bad[i].line, &ev, err, sizeof(err));

		T_EQ_INT(rc, -1);
		if (strcmp(err, bad[i].why) != 0) {
			fprintf(stderr, "test_evlog: %s\n  said %s\n  want %s\n", bad[i].line, err,
			        bad[i].why);
			t_failed_checks++;
		}
		T_CHECK(ev.buf == NULL && ev.n == 0); /* nothing to free */
	}
}

/* What the writer makes, the reader gives back, whatever the strings hold. */
static void
test_round_trip(void)
{
	static const char nasty[] = "quote \" back \\ nl \n tab \t del \x7f bell \x07 \xc3\xa9 bad \xff";
	char *buf = NULL, err[160];
	size_t len = 0;
	struct evlog_event ev;
	FILE *m = open_memstream(&buf, &len);

	evlog_line(m, 1765101600);
	evlog_str(m, "event", "override");
	evlog_str(m, "reason", nasty);
	evlog_strn(m, "dependency", "sa2-and-more", 3);
	evlog_num(m, "failing", 600);
	T_EQ_INT(evlog_end(m), 0);
	fclose(m);
	T_CHECK(len > 0 && buf[len - 1] == '\n');
	T_EQ_INT(evlog_parse(buf, len - 1, &ev, err, sizeof(err)), 0);
	T_EQ_STR(ev.time, "2025-12-07T10:00:00Z");
	T_EQ_STR(ev.kind, "override");
	/* Every byte back but the one that is no UTF-8, which the writer makes U+FFFD. */
	T_EQ_STR(evlog_str_of(&ev, "reason"),
	         "quote \" back \\ nl \n tab \t del \x7f bell \x07 \xc3\xa9 bad \xef\xbf\xbd");
	T_EQ_STR(evlog_str_of(&ev, "dependency"), "sa2");
	T_EQ_INT(evlog_num_of(&ev, "failing"), 600);
	evlog_event_free(&ev);
	free(buf);
}

/* evlog_append: whole lines in one write, each read back first; a bad one writes nothing. */
static void
test_append(void)
{
	char path[] = "/tmp/test_evlog.XXXXXX", err[4400], got[512];
	const char two[] = "{\"time\":\"t\",\"event\":\"a\"}\n{\"time\":\"t\",\"event\":\"b\"}\n";
	const char half[] = "{\"time\":\"t\",\"event\":\"a\"}\n{\"time\":\"t\",\"event\":\"b\"";
	const char badl[] = "{\"time\":\"t\",\"event\":\"a\"}\n{\"time\":\"t\",\"event\":\"b\",}\n";
	int fd = mkstemp(path);
	ssize_t n;

	T_CHECK(fd != -1);
	close(fd);
	T_EQ_INT(evlog_append(path, -1, two, strlen(two), err, sizeof(err)), 0);
	T_EQ_INT(evlog_append(path, -1, half, strlen(half), err, sizeof(err)), -1);
	T_CHECK(strstr(err, "a line not written: no line end") != NULL);
	T_EQ_INT(evlog_append(path, -1, badl, strlen(badl), err, sizeof(err)), -1);
	T_CHECK(strstr(err, "a line not written: column 25: a key expected") != NULL);
	fd = open(path, O_RDONLY);
	n = read(fd, got, sizeof(got) - 1);
	close(fd);
	got[n > 0 ? n : 0] = '\0';
	T_EQ_STR(got, two);
	unlink(path);
}

int
main(void)
{
	static const struct t_case cases[] = {
		T_CASE(test_kinds),
		T_CASE(test_json),
		T_CASE(test_refused),
		T_CASE(test_round_trip),
		T_CASE(test_append),
	};

	return t_run("evlog", cases, sizeof(cases) / sizeof(cases[0]));
}
