/* pool.c: deephealth.fcgi -n: supervise worker processes that share one listening socket. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
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
#define POOL_READY_MS 10000    /* a replacement not ready by then is given up: the old one stays */
#define POOL_READY_POLL_MS 5   /* how often a pending replacement's readiness is looked at */

struct worker {
	pid_t pid;           /* 0 = not running */
	int64_t started_ms;
	int64_t restart_ms;  /* when to start it again, when not running */
	int quick_deaths;    /* in a row, for the back-off */
	unsigned gen;        /* the roll it was started in; below rolls: replace it (a new one
	                      * first, then this one stopped) */
	unsigned next_gen;   /* the roll its replacement was started in */
	pid_t next;          /* its replacement, started and not ready yet (0: none) */
	int next_fd;         /* the replacement's readiness pipe, read end (-1: none) */
	int64_t next_ms;     /* when the replacement started */
	pid_t retiring;      /* the one it replaced, stopped and finishing (0: none) */
	int64_t retiring_ms; /* when it was told to stop; SIGKILLed after POOL_STOP_GRACE_MS */
};

/*
 * The rolls asked for so far: one per SIGHUP.  A SIGHUP during a roll is not
 * lost: the workers started before it (the replacement of the moment among
 * them) may have read the old configuration, so each is replaced once more;
 * several SIGHUPs during one roll ask for one more roll, not several.
 */
static unsigned rolls;

/* In a worker started to replace another: the write end of its readiness pipe. */
static int ready_fd = -1;

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

/*
 * Fork a worker for slot; with rfd, a readiness pipe whose read end *rfd the
 * supervisor keeps.  Returns 0 in the new child, its pid in the supervisor,
 * -1 when fork failed.
 */
static pid_t
spawn(size_t slot, const sigset_t *old, int *rfd)
{
	int p[2] = { -1, -1 };
	pid_t pid;

	if (rfd != NULL && pipe(p) == -1) {
		log_warn("worker %zu: pipe", slot);
		return -1;
	}
	pid = fork();
	if (pid == -1) {
		log_warn("worker %zu: fork", slot);
		if (rfd != NULL) {
			close(p[0]);
			close(p[1]);
		}
		return -1;
	}
	if (pid == 0) {
		worker_setup(old);
		if (rfd != NULL) {
			close(p[0]);
			ready_fd = p[1];
		}
		return 0;
	}
	if (rfd != NULL) {
		close(p[1]);
		fcntl(p[0], F_SETFL, O_NONBLOCK);
		fcntl(p[0], F_SETFD, FD_CLOEXEC);
		*rfd = p[0];
	}
	log_debug("worker %zu: started, pid %ld%s", slot, (long)pid, rfd ? " (a replacement)" : "");
	return pid;
}

void
pool_ready(void)
{
	char c = 'r';

	if (ready_fd == -1)
		return;
	/* The supervisor may be gone (then EPIPE, SIGPIPE ignored): nothing to tell. */
	if (write(ready_fd, &c, 1) != 1)
		log_debug("readiness not told to the supervisor: %s", strerror(errno));
	close(ready_fd);
	ready_fd = -1;
}

/* Start w; returns 1 in the new child, 0 in the supervisor. */
static int
worker_start(struct worker *w, size_t slot, const sigset_t *old)
{
	pid_t pid = spawn(slot, old, NULL);

	if (pid == 0)
		return 1;
	if (pid == -1) {
		w->restart_ms = util_now_ms() + 1000;
		return 0;
	}
	w->pid = pid;
	w->started_ms = util_now_ms();
	w->gen = rolls;
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

/* Stop every worker (and any replacement or retiring one): SIGTERM, a grace period, then SIGKILL.  Exits. */
static void
pool_stop(struct worker *ws, size_t n)
{
	int64_t until = util_now_ms() + POOL_STOP_GRACE_MS;
	pid_t *ps = xcalloc(3 * n, sizeof(*ps));
	size_t left = 0, np = 0;

	for (size_t i = 0; i < n; i++) {
		pid_t three[3] = { ws[i].pid, ws[i].next, ws[i].retiring };

		for (int k = 0; k < 3; k++)
			if (three[k] > 0) {
				kill(three[k], SIGTERM);
				ps[np++] = three[k];
				left++;
			}
	}
	while (left > 0) {
		int status;
		pid_t pid = waitpid(-1, &status, WNOHANG);

		if (pid > 0) {
			for (size_t k = 0; k < np; k++)
				if (ps[k] == pid) {
					ps[k] = 0;
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
			for (size_t k = 0; k < np; k++)
				if (ps[k] > 0)
					kill(ps[k], SIGKILL);
			until = util_now_ms() + 1000 * 1000;
		}
		nanosleep(&(struct timespec){ 0, 20000000 }, NULL);
	}
	free(ps);
	log_info("supervisor: every worker stopped, exiting");
	exit(0);
}

/* A pending replacement told it is ready: the one it replaces is stopped now. */
static void
promote(struct worker *w, size_t slot, const char *why)
{
	int64_t now = util_now_ms();

	if (w->pid > 0) {
		kill(w->pid, SIGTERM);
		w->retiring = w->pid;
		w->retiring_ms = now;
	}
	if (w->retiring)
		log_info("worker %zu: pid %ld %s after %lld ms (roll %u): stopping pid %ld", slot,
		         (long)w->next, why, (long long)(now - w->next_ms), w->next_gen,
		         (long)w->retiring);
	else
		log_info("worker %zu: pid %ld %s after %lld ms (roll %u)", slot, (long)w->next, why,
		         (long long)(now - w->next_ms), w->next_gen);
	w->pid = w->next;
	w->started_ms = w->next_ms;
	w->gen = w->next_gen;
	w->quick_deaths = 0;
	w->next = 0;
	if (w->next_fd != -1)
		close(w->next_fd);
	w->next_fd = -1;
}

/*
 * SIGHUP rolls the pool, one worker at a time: a replacement is started beside
 * it, and the old one is stopped only once the replacement says it is ready,
 * so the socket never lacks a worker, even with -n 1.  Returns 1 in a new child.
 */
static int
roll(struct worker *ws, size_t n, const sigset_t *old)
{
	for (size_t i = 0; i < n; i++) {
		struct worker *w = &ws[i];
		char c;
		ssize_t got;

		if (w->next == 0)
			continue;
		got = read(w->next_fd, &c, 1);
		if (got == 1) {
			promote(w, i, "ready");
		} else if (util_now_ms() - w->next_ms > POOL_READY_MS) {
			log_warnx("worker %zu: its replacement (pid %ld) not ready after %d ms: killed; "
			          "pid %ld goes on serving", i, (long)w->next, POOL_READY_MS, (long)w->pid);
			kill(w->next, SIGKILL);
			w->retiring = w->next; /* reaped as a retiring one */
			w->retiring_ms = util_now_ms();
			w->next = 0;
			w->gen = w->next_gen; /* this roll given up for it; the next SIGHUP tries again */
			close(w->next_fd);
			w->next_fd = -1;
		}
		return 0; /* one at a time */
	}
	for (size_t i = 0; i < n; i++) {
		struct worker *w = &ws[i];
		pid_t pid;

		if (w->pid <= 0 || w->gen == rolls || w->retiring)
			continue;
		pid = spawn(i, old, &w->next_fd);
		if (pid == 0)
			return 1;
		if (pid == -1)
			return 0; /* tried again at the next wake */
		w->next = pid;
		w->next_gen = rolls;
		w->next_ms = util_now_ms();
		return 0;
	}
	return 0;
}

/* A child exited: which one it was, and what follows. */
static void
reaped(struct worker *ws, size_t n, pid_t pid, int status, int64_t now)
{
	char how[96];

	describe_exit(status, how, sizeof(how));
	for (size_t i = 0; i < n; i++) {
		struct worker *w = &ws[i];

		if (w->retiring == pid) {
			log_info("worker %zu (pid %ld) replaced", i, (long)pid);
			w->retiring = 0;
			return;
		}
		if (w->next == pid) {
			log_warnx("worker %zu: its replacement (pid %ld) %s before it was ready: pid %ld "
			          "goes on serving", i, (long)pid, how, (long)w->pid);
			close(w->next_fd);
			w->next_fd = -1;
			w->next = 0;
			w->gen = w->next_gen; /* as when not ready in time */
			return;
		}
		if (w->pid != pid)
			continue;
		w->pid = 0;
		if (w->next != 0) {
			/* Its replacement is on its way: it takes the slot as it is. */
			log_warnx("worker %zu (pid %ld) %s while being replaced", i, (long)pid, how);
			promote(w, i, "took over");
		} else if (now - w->started_ms < POOL_QUICK_MS) {
			int64_t delay = (int64_t)POOL_QUICK_MS << (w->quick_deaths < 5 ? w->quick_deaths : 5);

			if (delay > POOL_BACKOFF_MAX_MS)
				delay = POOL_BACKOFF_MAX_MS;
			w->quick_deaths++;
			w->restart_ms = now + delay;
			log_warnx("worker %zu (pid %ld) %s %lld ms after it started: restarting in %lld ms",
			          i, (long)pid, how, (long long)(now - w->started_ms), (long long)delay);
		} else {
			w->quick_deaths = 0;
			w->restart_ms = now;
			log_warnx("worker %zu (pid %ld) %s: restarting it", i, (long)pid, how);
		}
		return;
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
	/* A replacement that dies before it reads its pipe must not kill us with SIGPIPE. */
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sigprocmask(SIG_BLOCK, &set, &old);
	log_info("supervisor: starting %zu %s (pid %ld; SIGHUP replaces them, SIGTERM stops "
	         "them)", n, util_plural((long long)n, "worker", "workers"), (long)getpid());
	for (size_t i = 0; i < n; i++) {
		ws[i].next_fd = -1;
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
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
			reaped(ws, n, pid, status, now);
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
		/* A replaced worker that does not finish (a client that sends half a request and
		 * waits) would hold its slot from every later roll: it gets what pool_stop gives. */
		for (size_t i = 0; i < n; i++)
			if (ws[i].retiring > 0 && now - ws[i].retiring_ms > POOL_STOP_GRACE_MS) {
				log_warnx("worker %zu: pid %ld still running %d ms after it was replaced: "
				          "killing it", i, (long)ws[i].retiring, POOL_STOP_GRACE_MS);
				kill(ws[i].retiring, SIGKILL);
				ws[i].retiring_ms = INT64_MAX / 2; /* said once; reaped as before */
			}
		if (roll(ws, n, &old)) {
			free(ws);
			return 0;
		}
		for (size_t i = 0; i < n; i++)
			if (ws[i].next != 0 && now + POOL_READY_POLL_MS < wake)
				wake = now + POOL_READY_POLL_MS;
		now = util_now_ms();
		wake = wake > now ? wake - now : 0;
		ts.tv_sec = wake / 1000;
		ts.tv_nsec = (long)(wake % 1000) * 1000000;
		sig = sigtimedwait(&set, &si, &ts);
		if (sig == SIGTERM || sig == SIGINT) {
			log_info("supervisor: %s, stopping the workers", strsignal(sig));
			pool_stop(ws, n);
		} else if (sig == SIGHUP) {
			rolls++;
			log_info("supervisor: SIGHUP (roll %u), replacing the workers one at a time, each "
			         "once its replacement is ready", rolls);
		}
	}
}
