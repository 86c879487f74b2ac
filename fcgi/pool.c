/* pool.c: deephealth.fcgi -n: supervise worker processes that share one listening socket. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include "responder.h"

/*
 * Why our own supervisor and not spawn-fcgi: spawn-fcgi forks its children and
 * exits, so nothing restarts a worker that dies, and nothing can replace them
 * to load a new configuration.  multiwatch adds that, but it is one more
 * package and one more process tree to learn.  Ours is a loop around fork and
 * waitpid: the listening socket is opened once, by us or by systemd, and every
 * worker accepts on it, so the kernel spreads connections and a worker's death
 * loses no queued connection.
 */

#define POOL_QUICK_MS 1000     /* a worker that dies sooner than this counts as failing */
#define POOL_BACKOFF_MAX_MS 30000
#define POOL_STOP_GRACE_MS 10000

struct worker {
	pid_t pid;           /* 0 = not running */
	int64_t started_ms;
	int64_t restart_ms;  /* when to start it again, when not running */
	int quick_deaths;    /* in a row, for the back-off */
	int replace;         /* SIGHUP: stop it and start a new one */
};

static void
on_signal(int sig)
{
	(void)sig; /* blocked outside sigtimedwait; the handler only makes it deliverable */
}

/* In the child: undo the supervisor's signal setup; die with the supervisor. */
static void
worker_setup(const sigset_t *old)
{
	struct sigaction sa;
	int sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGCHLD };

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
	sigprocmask(SIG_SETMASK, old, NULL);
#ifdef __linux__
	/* A supervisor killed with SIGKILL must not leave workers behind. */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
#endif
}

/* Start w; returns 1 in the new child, 0 in the supervisor. */
static int
worker_start(struct worker *w, size_t slot, const sigset_t *old)
{
	pid_t pid = fork();

	if (pid == -1) {
		log_warn("worker %zu: fork (retrying in 1 s)", slot);
		w->restart_ms = util_now_ms() + 1000;
		return 0;
	}
	if (pid == 0) {
		worker_setup(old);
		return 1;
	}
	w->pid = pid;
	w->started_ms = util_now_ms();
	w->replace = 0;
	log_debug("worker %zu: started, pid %ld", slot, (long)pid);
	return 0;
}

static void
describe_exit(int status, char *out, size_t len)
{
	if (WIFEXITED(status))
		snprintf(out, len, "exited %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(out, len, "killed by signal %d (%s)", WTERMSIG(status),
		         strsignal(WTERMSIG(status)));
	else
		snprintf(out, len, "ended (status %#x)", (unsigned)status);
}

/* Stop every worker: SIGTERM, a grace period, then SIGKILL.  Exits. */
static void
pool_stop(struct worker *ws, size_t n)
{
	int64_t until = util_now_ms() + POOL_STOP_GRACE_MS;
	size_t left = 0;

	for (size_t i = 0; i < n; i++) {
		if (ws[i].pid > 0) {
			kill(ws[i].pid, SIGTERM);
			left++;
		}
	}
	while (left > 0) {
		int status;
		pid_t pid = waitpid(-1, &status, WNOHANG);

		if (pid > 0) {
			for (size_t i = 0; i < n; i++)
				if (ws[i].pid == pid) {
					ws[i].pid = 0;
					left--;
				}
			continue;
		}
		if (pid == -1 && errno == ECHILD)
			break;
		if (util_now_ms() >= until) {
			log_warnx("%zu %s still running after %d ms: killing %s", left,
			          util_plural((long long)left, "worker", "workers"), POOL_STOP_GRACE_MS,
			          util_plural((long long)left, "it", "them"));
			for (size_t i = 0; i < n; i++)
				if (ws[i].pid > 0)
					kill(ws[i].pid, SIGKILL);
			until = util_now_ms() + 1000 * 1000;
		}
		nanosleep(&(struct timespec){ 0, 20000000 }, NULL);
	}
	log_info("supervisor: every worker stopped, exiting");
	exit(0);
}

/* SIGHUP rolls the pool: one worker at a time, so the socket never lacks one. */
static void
roll_next(struct worker *ws, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (ws[i].pid > 0 && ws[i].replace == 2)
			return; /* one is being replaced */
	for (size_t i = 0; i < n; i++) {
		if (ws[i].pid > 0 && ws[i].replace == 1) {
			ws[i].replace = 2;
			kill(ws[i].pid, SIGTERM);
			return;
		}
	}
}

int
pool_run(size_t n)
{
	struct worker *ws = xcalloc(n, sizeof(*ws));
	sigset_t set, old;
	struct sigaction sa;
	int sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGCHLD };

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&set);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		sigaction(sigs[i], &sa, NULL);
		sigaddset(&set, sigs[i]);
	}
	sigprocmask(SIG_BLOCK, &set, &old);
	log_info("supervisor: starting %zu %s (pid %ld; SIGHUP replaces them, SIGTERM stops "
	         "them)", n, util_plural((long long)n, "worker", "workers"), (long)getpid());
	for (size_t i = 0; i < n; i++) {
		if (worker_start(&ws[i], i, &old)) {
			free(ws);
			return 0;
		}
	}
	for (;;) {
		int64_t now = util_now_ms(), wake = now + 1000;
		struct timespec ts;
		siginfo_t si;
		int sig, status;
		pid_t pid;

		/* Reap first: a SIGCHLD may stand for several exits. */
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
			for (size_t i = 0; i < n; i++) {
				char how[96];

				if (ws[i].pid != pid)
					continue;
				ws[i].pid = 0;
				describe_exit(status, how, sizeof(how));
				if (ws[i].replace == 2) {
					log_info("worker %zu (pid %ld) replaced", i, (long)pid);
					ws[i].restart_ms = now;
					ws[i].quick_deaths = 0;
				} else if (now - ws[i].started_ms < POOL_QUICK_MS) {
					int64_t delay = (int64_t)POOL_QUICK_MS << (ws[i].quick_deaths < 5
					                                               ? ws[i].quick_deaths : 5);

					if (delay > POOL_BACKOFF_MAX_MS)
						delay = POOL_BACKOFF_MAX_MS;
					ws[i].quick_deaths++;
					ws[i].restart_ms = now + delay;
					log_warnx("worker %zu (pid %ld) %s %lld ms after it started: restarting "
					          "in %lld ms", i, (long)pid, how,
					          (long long)(now - ws[i].started_ms), (long long)delay);
				} else {
					ws[i].quick_deaths = 0;
					ws[i].restart_ms = now;
					log_warnx("worker %zu (pid %ld) %s: restarting it", i, (long)pid, how);
				}
			}
		}
		for (size_t i = 0; i < n; i++) {
			if (ws[i].pid != 0)
				continue;
			if (ws[i].restart_ms <= now) {
				if (worker_start(&ws[i], i, &old)) {
					free(ws);
					return 0;
				}
			}
			if (ws[i].pid == 0 && ws[i].restart_ms < wake)
				wake = ws[i].restart_ms;
		}
		roll_next(ws, n);
		now = util_now_ms();
		wake = wake > now ? wake - now : 0;
		ts.tv_sec = wake / 1000;
		ts.tv_nsec = (long)(wake % 1000) * 1000000;
		sig = sigtimedwait(&set, &si, &ts);
		if (sig == SIGTERM || sig == SIGINT) {
			log_info("supervisor: %s, stopping the workers", strsignal(sig));
			pool_stop(ws, n);
		} else if (sig == SIGHUP) {
			log_info("supervisor: SIGHUP, replacing the workers one at a time");
			for (size_t i = 0; i < n; i++)
				if (ws[i].pid > 0 && ws[i].replace == 0)
					ws[i].replace = 1;
		}
	}
}
