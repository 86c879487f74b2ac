/* t.h: a tiny unit-test harness; each binary ends with "N passed, N failed". */
#ifndef T_H
#define T_H

#include <stdio.h>
#include <string.h>

extern int t_failed_checks;

/* Record a failed check without stopping the test (we want every failure). */
#define T_CHECK(cond)                                                               \
	do {                                                                        \
		if (!(cond)) {                                                      \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
			t_failed_checks++;                                          \
		}                                                                   \
	} while (0)

#define T_EQ_INT(a, b)                                                              \
	do {                                                                        \
		long long a_ = (long long)(a), b_ = (long long)(b);                 \
		if (a_ != b_) {                                                     \
			fprintf(stderr, "%s:%d: %s == %lld, expected %s == %lld\n", __FILE__, \
			        __LINE__, #a, a_, #b, b_);                           \
			t_failed_checks++;                                          \
		}                                                                   \
	} while (0)

#define T_EQ_STR(a, b)                                                              \
	do {                                                                        \
		const char *a_ = (a), *b_ = (b);                                    \
		if (a_ == NULL || b_ == NULL || strcmp(a_, b_) != 0) {              \
			fprintf(stderr, "%s:%d: %s == \"%s\", expected \"%s\"\n", __FILE__, \
			        __LINE__, #a, a_ ? a_ : "(null)", b_ ? b_ : "(null)");  \
			t_failed_checks++;                                          \
		}                                                                   \
	} while (0)

struct t_case {
	const char *name;
	void (*fn)(void);
};

#define T_CASE(f) { #f, f }

/* An errfn_t sink: keeps every formatted line so a test can compare them exactly. */
struct t_errs {
	char line[64][600];
	int n; /* may exceed 64: the count goes on, the text stops */
};
void t_collect(void *arg, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Run every case, print one line per failing case and the closing line; returns exit code. */
int t_run(const char *suite, const struct t_case *cases, size_t n);

#endif
