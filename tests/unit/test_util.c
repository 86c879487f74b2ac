/* test_util.c: the words every program prints: durations (util_span), plurals (util_plural). */
#include <stdio.h>
#include <string.h>

#include "deephealth.h"
#include "t.h"

static const char *
span(int64_t s)
{
	static char buf[32];

	return util_span(s, buf, sizeof(buf));
}

/* Seconds alone below a minute, then always the two largest units. */
static void
test_span(void)
{
	T_EQ_STR(span(-5), "0s");
	T_EQ_STR(span(0), "0s");
	T_EQ_STR(span(59), "59s");
	T_EQ_STR(span(60), "1m 0s");
	T_EQ_STR(span(119), "1m 59s");
	T_EQ_STR(span(3599), "59m 59s");
	T_EQ_STR(span(3600), "1h 0m");
	T_EQ_STR(span(7140), "1h 59m"); /* was "119m 0s" */
	T_EQ_STR(span(86399), "23h 59m");
	T_EQ_STR(span(86400), "1d 0h");
	T_EQ_STR(span(2 * 86400 + 3 * 3600 + 59), "2d 3h");
	T_EQ_STR(span(400LL * 86400), "400d 0h");
}

/* One of a thing is singular; none and many are plural. */
static void
test_plural(void)
{
	T_EQ_STR(util_plural(1, "registry", "registries"), "registry");
	T_EQ_STR(util_plural(0, "registry", "registries"), "registries");
	T_EQ_STR(util_plural(2, "registry", "registries"), "registries");
	T_EQ_STR(util_plural(-1, "line", "lines"), "lines");
}

int
main(void)
{
	static const struct t_case cases[] = {
		T_CASE(test_span),
		T_CASE(test_plural),
	};

	return t_run("util", cases, sizeof(cases) / sizeof(cases[0]));
}
