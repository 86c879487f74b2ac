/* test_regions.c: the regions description: the shipped example, defaults, each bad-*.regions against its .expected. */
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deephealth.h"
#include "t.h"

#define FIXTURES "tests/fixtures/regions"

/* The shipped, annotated example loads, with every value it states. */
static void
test_shipped(void)
{
	struct t_errs e = { .n = 0 };
	struct regions *r = regions_load("conf/regions.conf", t_collect, &e);

	T_EQ_INT(e.n, 0);
	T_CHECK(r != NULL);
	if (r == NULL)
		return;
	T_EQ_STR(r->zone, "azurecr.example.invalid");
	T_EQ_INT(r->port, 80);
	T_EQ_STR(r->health_path, "/health");
	T_EQ_INT(r->ttl, 30);
	T_EQ_INT(r->interval, 10);
	T_EQ_INT(r->timeout, 5);
	T_EQ_INT(r->fall, 3);
	T_EQ_INT(r->rise, 1);
	T_EQ_INT((int)r->n, 2);
	T_EQ_STR(r->v[0].name, "westeurope");
	T_EQ_INT((int)r->v[0].naddr, 2);
	T_EQ_STR(r->v[0].addresses[1], "192.0.2.11");
	T_EQ_STR(r->v[1].admin, "http://198.51.100.10:8080");
	T_CHECK(regions_find(r, "eastus2", 7) == &r->v[1]);
	T_CHECK(regions_find(r, "eastus", 6) == NULL);
	regions_free(r);
}

/* Only the zone is required; the rest has defaults; IPv6 front doors too. */
static void
test_minimal(void)
{
	static const char text[] = "service = { zone = \"azurecr.io\"; };\n"
	                           "regions = ( { name = \"a\"; addresses = [ \"::1\" ]; } );\n";
	char path[] = "/tmp/dh-regions.XXXXXX";
	struct t_errs e = { .n = 0 };
	struct regions *r;
	int fd = mkstemp(path);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;

	T_CHECK(f != NULL);
	if (f == NULL)
		return;
	fputs(text, f);
	fclose(f);
	r = regions_load(path, t_collect, &e);
	T_EQ_INT(e.n, 0);
	T_CHECK(r != NULL && r->port == 80 && r->ttl == 30 && r->interval == 10 && r->timeout == 5 &&
	        r->fall == 3 && r->rise == 1 && strcmp(r->health_path, "/health") == 0 &&
	        r->n == 1 && strcmp(r->v[0].admin, "") == 0 && r->v[0].line == 2);
	regions_free(r);
	regions_free(NULL);
	remove(path);
}

static void
test_hostnames(void)
{
	static const char *const yes[] = { "azurecr.io", "a", "x-1.example.invalid", "0.in-addr" };
	static const char *const no[] = { "", ".io", "io.", "A.io", "a..io", "-a.io", "a-.io",
		"a_b.io", "a b" };

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		T_CHECK(regions_hostname_ok(yes[i]));
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		if (regions_hostname_ok(no[i])) {
			fprintf(stderr, "  accepted \"%s\"\n", no[i]);
			t_failed_checks++;
		}
}

/* Every bad-NAME.regions reports exactly the lines of bad-NAME.expected, in order. */
static void
test_bad(void)
{
	DIR *d = opendir(FIXTURES);
	struct dirent *de;
	int seen = 0;

	T_CHECK(d != NULL);
	while (d != NULL && (de = readdir(d)) != NULL) {
		char path[600], exp[600], line[600];
		size_t len = strlen(de->d_name);
		struct t_errs e = { .n = 0 };
		struct regions *r;
		FILE *f;
		int n = 0;

		if (strncmp(de->d_name, "bad-", 4) != 0 || len < 9 ||
		    strcmp(de->d_name + len - 8, ".regions") != 0)
			continue;
		seen++;
		snprintf(path, sizeof(path), FIXTURES "/%s", de->d_name);
		snprintf(exp, sizeof(exp), FIXTURES "/%.*s.expected", (int)(len - 8), de->d_name);
		r = regions_load(path, t_collect, &e);
		T_CHECK(r == NULL);
		regions_free(r);
		if ((f = fopen(exp, "r")) == NULL) {
			fprintf(stderr, "  %s: no expected errors\n", exp);
			t_failed_checks++;
			continue;
		}
		while (fgets(line, sizeof(line), f) != NULL) {
			line[strcspn(line, "\n")] = '\0';
			if (n >= e.n || strcmp(e.line[n], line) != 0) {
				fprintf(stderr, "  %s: error %d: expected \"%s\", got \"%s\"\n", de->d_name,
				        n + 1, line, n < e.n ? e.line[n] : "(none)");
				t_failed_checks++;
			}
			n++;
		}
		fclose(f);
		T_EQ_INT(e.n, n);
	}
	if (d != NULL)
		closedir(d);
	T_CHECK(seen >= 3);
}

int
main(void)
{
	static const struct t_case cases[] = {
		T_CASE(test_shipped),
		T_CASE(test_minimal),
		T_CASE(test_hostnames),
		T_CASE(test_bad),
	};

	return t_run("regions", cases, sizeof(cases) / sizeof(cases[0]));
}
