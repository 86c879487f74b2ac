/* t.c: the unit-test runner behind t.h. */
#include <stdarg.h>

#include "t.h"

int t_failed_checks;

int
t_run(const char *suite, const struct t_case *cases, size_t n)
{
	int passed = 0, failed = 0;

	for (size_t i = 0; i < n; i++) {
		int before = t_failed_checks;

		cases[i].fn();
		if (t_failed_checks == before) {
			passed++;
		} else {
			failed++;
			fprintf(stderr, "FAIL %s: %s\n", suite, cases[i].name);
		}
	}
	printf("%s: %d passed, %d failed\n", suite, passed, failed);
	return failed ? 1 : 0;
}

void
t_collect(void *arg, const char *fmt, ...)
{
	struct t_errs *e = arg;
	va_list ap;

	if (e->n >= (int)(sizeof(e->line) / sizeof(e->line[0]))) {
		e->n++;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(e->line[e->n++], sizeof(e->line[0]), fmt, ap);
	va_end(ap);
}
