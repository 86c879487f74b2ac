/*
 * test_counters.c: the answer counters: two handles on one file see each
 * other's counts (as two responder processes do), a reader copies them, the
 * rate of unknown Hosts, a replaced or foreign file, and the fallback to
 * private counts.
 */
#define _GNU_SOURCE

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "answer.h"
#include "t.h"

static char dir[64];

static const char *
path_in(const char *name)
{
	static char p[128];

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	return p;
}

static void
test_shared_between_processes(void)
{
	struct counters a = { 0 }, b = { 0 };
	struct counters_shm copy;
	char err[256];
	const char *p = path_in("shared");
	pid_t pid;
	int status;

	counters_open(&a, p);
	T_CHECK(a.shared);
	/* Another process, as lighttpd's second responder: 1000 answers and 10 unknown Hosts. */
	pid = fork();
	if (pid == 0) {
		counters_open(&b, p);
		for (int i = 0; i < 1000; i++)
			counters_answer(&b, R_HEALTHY, 200, 1796000000);
		for (int i = 0; i < 10; i++)
			counters_host(&b, HK_UNKNOWN);
		counters_close(&b);
		_exit(b.shared ? 0 : 1);
	}
	for (int i = 0; i < 1000; i++)
		counters_answer(&a, R_HEALTHY, 200, 1796000000);
	counters_answer(&a, R_DEPENDENCY_FAILED, 503, 1796000000);
	counters_answer(&a, R_DEPENDENCY_FAILED, 302, 1796000000); /* no such code: not counted */
	counters_event(&a, CE_SNAP_LOADS);
	T_CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	T_EQ_INT(counters_read(p, &copy, err, sizeof(err)), 0);
	T_EQ_INT(copy.answers[R_HEALTHY][0], 2000);
	T_EQ_INT(copy.answers[R_DEPENDENCY_FAILED][3], 1);
	T_EQ_INT(copy.hosts[HK_UNKNOWN], 10);
	T_EQ_INT(copy.events[CE_SNAP_LOADS], 1);
	counters_close(&a);
}

static void
test_rate(void)
{
	struct counters a = { 0 };
	int64_t t0 = 1796000000 - 1796000000 % 60; /* the start of a minute */

	counters_open(&a, path_in("rate"));
	/* 10 unknown Hosts a minute for 5 minutes, answered at :30 of each. */
	for (int m = 0; m < 5; m++) {
		counters_answer(&a, R_UNKNOWN_HOST, 200, t0 + m * 60 + 30);
		for (int i = 0; i < 10; i++)
			counters_host(&a, HK_UNKNOWN);
	}
	/* From the first answer of the window's oldest minute: 40 after 4 minutes, then on. */
	T_CHECK(counters_unknown_rate(a.m, t0 + 4 * 60 + 30, 5) > 12.4 &&
	        counters_unknown_rate(a.m, t0 + 4 * 60 + 30, 5) < 12.6);
	/* A window of 1: from the minute before's first answer (30 then, 50 now, 70 s later). */
	T_CHECK(counters_unknown_rate(a.m, t0 + 4 * 60 + 40, 1) > 17.1 &&
	        counters_unknown_rate(a.m, t0 + 4 * 60 + 40, 1) < 17.2);
	/* An hour later nothing is in the window: no rate. */
	T_CHECK(counters_unknown_rate(a.m, t0 + 3600, 5) == 0.0);
	/* Less than a minute of counts is taken over one minute. */
	counters_close(&a);
	memset(&a, 0, sizeof(a));
	unlink(path_in("rate"));
	counters_open(&a, path_in("rate"));
	counters_answer(&a, R_UNKNOWN_HOST, 200, t0 + 10);
	for (int i = 0; i < 7; i++)
		counters_host(&a, HK_UNKNOWN);
	T_CHECK(counters_unknown_rate(a.m, t0 + 20, 5) == 7.0);
	counters_close(&a);
}

static void
test_replaced_and_bad(void)
{
	struct counters a = { 0 };
	struct counters_shm copy;
	char err[256];
	const char *p = path_in("replaced");
	FILE *f;

	counters_open(&a, p);
	counters_host(&a, HK_BAD_BYTE);
	/* Removed (a reboot of /dev/shm, an operator): the next check makes a new one. */
	unlink(p);
	counters_check(&a, p);
	T_CHECK(a.shared);
	T_EQ_INT(counters_read(p, &copy, err, sizeof(err)), 0);
	T_EQ_INT(copy.hosts[HK_BAD_BYTE], 0);
	counters_close(&a);

	/* Another layout (an older version's file): replaced, counts start again. */
	f = fopen(p, "w");
	fputs("not our counters\n", f);
	fclose(f);
	T_CHECK(counters_read(p, &copy, err, sizeof(err)) == -1 && strstr(err, "not a counters file") != NULL);
	memset(&a, 0, sizeof(a));
	counters_open(&a, p);
	T_CHECK(a.shared);
	T_EQ_INT(counters_read(p, &copy, err, sizeof(err)), 0);
	counters_close(&a);

	/* A directory that is not there: private counts, still counting. */
	memset(&a, 0, sizeof(a));
	counters_open(&a, "/nonexistent/dir/counters");
	T_CHECK(!a.shared && a.m != NULL);
	counters_host(&a, HK_UNKNOWN);
	T_EQ_INT(counters_get(&a.m->hosts[HK_UNKNOWN]), 1);
	counters_close(&a);

	/* A symbolic link is not followed. */
	{
		char target[128];

		snprintf(target, sizeof(target), "%s", path_in("replaced"));
		T_CHECK(symlink(target, path_in("link")) == 0);
	}
	memset(&a, 0, sizeof(a));
	counters_open(&a, path_in("link"));
	T_CHECK(!a.shared);
	counters_close(&a);
	T_CHECK(counters_read("/nonexistent/counters", &copy, err, sizeof(err)) == -1);
}

static void
test_host_kinds(void)
{
	T_EQ_INT(host_kind_of(RESOLVE_UNKNOWN, HOST_OK), HK_UNKNOWN);
	T_EQ_INT(host_kind_of(RESOLVE_ERROR, HOST_OK), HK_RESOLVER_ERROR);
	T_EQ_INT(host_kind_of(RESOLVE_INVALID, HOST_EMPTY), HK_EMPTY);
	T_EQ_INT(host_kind_of(RESOLVE_INVALID, HOST_IP_LITERAL), HK_IP_LITERAL);
	T_EQ_STR(host_kind_names[HK_TOO_LONG], "too-long");
	T_CHECK(host_kind_names[HK_COUNT] == NULL);
}

int
main(void)
{
	static const struct t_case cases[] = {
		T_CASE(test_shared_between_processes),
		T_CASE(test_rate),
		T_CASE(test_replaced_and_bad),
		T_CASE(test_host_kinds),
	};
	int rc;
	char cmd[96];

	snprintf(dir, sizeof(dir), "/tmp/dh-counters.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return 1;
	log_init("test_counters", 0, LOG_LVL_ERR);
	rc = t_run("counters", cases, sizeof(cases) / sizeof(cases[0]));
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		rc = 1;
	return rc;
}
