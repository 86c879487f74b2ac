/*
 * run.c: what the two cron-style programs (deephealth-probe, deephealth-follow) share
 * around their passes: the -r/-d arguments, the signals, the run lock, and the loop that
 * repeats a pass every -r seconds for up to -d seconds.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "deephealth.h"

volatile sig_atomic_t run_stopping;

static void
on_term(int sig)
{
	(void)sig;
	run_stopping = 1;
}

void
run_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	/* A file-size limit must fail our write with EFBIG, not kill us mid-publish. */
	sigaction(SIGXFSZ, &sa, NULL);
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
}

void
run_options(int argc, char **argv, const char *prog, void (*usage)(FILE *fp, int code),
            struct run_opts *o)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ "syslog", no_argument, NULL, 'S' },
		{ NULL, 0, NULL, 0 }
	};
	char what[160];
	int ch;

	memset(o, 0, sizeof(*o));
	o->conf_path = getenv("DEEPHEALTH_CONFIG");
	o->total = 60;
	while ((ch = getopt_long(argc, argv, ":c:tvr:d:SVh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c': o->conf_path = optarg; break;
		case 't': o->test_only = 1; break;
		case 'v': o->verbose = 1; break;
		case 'r': o->every = util_opt_num(prog, "-r", optarg, 1, 3600); break;
		case 'd': o->total = util_opt_num(prog, "-d", optarg, 1, 86400); break;
		case 'S': o->to_syslog = 1; break;
		case 'V': printf("%s %s\n", prog, DH_VERSION); exit(0);
		case 'h': usage(stdout, 0); break;
		default: util_usage_error(prog, "%s", util_opt_error(ch, argv, what, sizeof(what)));
		}
	}
	if (optind != argc)
		util_usage_error(prog, "unexpected argument %s", argv[optind]);
	if (o->conf_path == NULL || o->conf_path[0] == '\0')
		o->conf_path = DH_DEFAULT_CONF;
}

int
run_lock(const char *path, const char *prog)
{
	int fd = util_lock_open(path);
	char buf[32];
	ssize_t n;

	if (fd == -1) {
		log_warn("lock %s: open", path);
		return RUN_LOCK_ERROR;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		int e = errno;

		n = pread(fd, buf, sizeof(buf) - 1, 0);
		buf[n > 0 ? n : 0] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		close(fd);
		if (e == EWOULDBLOCK) {
			log_warnx("another %s run holds %s (pid %s): exiting", prog, path,
			          buf[0] ? buf : "?");
			return RUN_LOCK_HELD;
		}
		errno = e;
		log_warn("lock %s: flock", path);
		return RUN_LOCK_ERROR;
	}
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) == -1 || pwrite(fd, buf, (size_t)n, 0) != n)
		log_warn("lock %s: writing our pid", path);
	return fd;
}

void
run_repeat(long every, long total, int64_t reserve_ms, void (*pass)(void *arg), void *arg)
{
	int64_t began = util_now_ms();

	for (;;) {
		int64_t pass_start = util_now_ms(), next;

		pass(arg);
		next = pass_start + every * 1000;
		if (every == 0 || run_stopping || next + reserve_ms > began + total * 1000)
			return;
		while (!run_stopping && util_now_ms() < next) {
			int64_t left = next - util_now_ms();
			struct timespec ts = { left / 1000, (left % 1000) * 1000000 };

			nanosleep(&ts, NULL);
		}
		if (run_stopping)
			return;
	}
}
