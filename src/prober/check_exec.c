/* check_exec.c: exec checks: a Nagios plugin in its own process group, its first line, its verdict. */
#define _GNU_SOURCE /* pipe2, waitid, NSIG, strerrordesc_np */

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "prober.h"

/*
 * The plugin leads a process group of its own, so a timeout kills whatever
 * it started too.  Nothing here waits: the caller's poll loop calls
 * exec_read when the pipe is readable and exec_exited now and then, since a
 * plugin exits without telling us (a SIGCHLD handler would be the caller's
 * business).  A killed plugin is reaped when it is gone, which may be after
 * its check has its outcome: p->pid stays > 0 until then.
 */

/* Reap p's plugin if it is gone; *status gets its wait status (-1 if lost). */
static void
exec_wait(struct exec_proc *p, int *status)
{
	int st = -1;
	pid_t w = waitpid(p->pid, &st, WNOHANG);

	if (w == 0 || (w == -1 && errno == EINTR))
		return;
	if (w == -1) /* ECHILD: reaped behind our back, e.g. SIGCHLD set to SIG_IGN */
		log_warn("exec check: waitpid %ld", (long)p->pid);
	p->pid = -1;
	if (status != NULL)
		*status = w == -1 ? -1 : st;
}

/*
 * SIGKILL the plugin's process group: the plugin leads it, and whatever it
 * started is in it.  Call while the plugin is unreaped (running or zombie),
 * so its pid, and so the group id, cannot have been reused.
 */
static void
exec_kill_group(struct exec_proc *p)
{
	if (kill(-p->pid, SIGKILL) == -1 && errno != ESRCH)
		log_warn("exec check: kill process group %ld", (long)p->pid);
}

/*
 * The forked child: own process group, stdin /dev/null, stdout and stderr
 * the pipe, every other descriptor closed, default signal dispositions, then
 * exec.  Async-signal-safe calls only: curl's resolver threads may have been
 * running in the parent.  Exits 127 when exec fails.
 */
static void __attribute__((noreturn))
exec_child(char *const argv[], int nullfd, int wfd, int maxfd)
{
	const char *parts[] = { "cannot execute ", argv[0], ": ", "exec failed", "\n" }, *why;
	struct sigaction dfl, old;
	char msg[512];
	size_t n = 0;
	sigset_t none;
	int out, in;

	/* The parent does this too; whichever comes first wins, so failure here is harmless. */
	(void)setpgid(0, 0);
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	/* Ignored signals stay ignored across exec (SIGPIPE above all); handled ones reset. */
	for (int sig = 1; sig < NSIG; sig++)
		if (sigaction(sig, NULL, &old) == 0 && old.sa_handler == SIG_IGN)
			(void)sigaction(sig, &dfl, NULL);
	if (sigemptyset(&none) == -1 || sigprocmask(SIG_SETMASK, &none, NULL) == -1)
		_exit(127);
	/* Copies above 2 first, so dup2 never meets its own descriptor when stdio was closed. */
	if ((out = fcntl(wfd, F_DUPFD, 3)) == -1 || (in = fcntl(nullfd, F_DUPFD, 3)) == -1 ||
	    dup2(in, 0) == -1 || dup2(out, 1) == -1 || dup2(out, 2) == -1)
		_exit(127);
#ifdef SYS_close_range
	if (syscall(SYS_close_range, 3U, ~0U, 0U) == -1)
#endif
		for (int fd = 3; fd < maxfd; fd++)
			(void)close(fd);
	execv(argv[0], argv);
	/* strerrordesc_np is a table lookup; strerror may translate, which is not signal-safe. */
	if ((why = strerrordesc_np(errno)) != NULL)
		parts[3] = why;
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
		for (const char *c = parts[i]; *c != '\0' && n < sizeof(msg); c++)
			msg[n++] = *c;
	if (write(2, msg, n) == -1)
		_exit(127);
	_exit(127);
}

void
exec_init(struct exec_proc *p)
{
	p->pid = -1;
	p->fd = -1;
	p->line[0] = '\0';
	p->line_len = 0;
	p->line_done = 0;
}

int
exec_start(struct exec_proc *p, char *const argv[], int maxfd, char *cause, size_t causelen)
{
	int fds[2] = { -1, -1 }, nullfd = -1, fl, e;
	pid_t pid;

	if (argv == NULL || argv[0] == NULL || argv[0][0] != '/') {
		snprintf(cause, causelen, "bad check: command is not an absolute path");
		return -1;
	}
	if (pipe2(fds, O_CLOEXEC) == -1) {
		e = errno;
		fds[0] = fds[1] = -1; /* not touched on failure, except under valgrind */
	} else if ((nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC)) == -1 ||
	           (fl = fcntl(fds[0], F_GETFL)) == -1 ||
	           fcntl(fds[0], F_SETFL, fl | O_NONBLOCK) == -1 || (pid = fork()) == -1) {
		e = errno;
	} else {
		if (pid == 0)
			exec_child(argv, nullfd, fds[1], maxfd);
		/* Here too, so the group exists before we may signal it.  EACCES: it exec'd. */
		if (setpgid(pid, pid) == -1 && errno != EACCES && errno != ESRCH)
			log_warn("exec check: setpgid %ld", (long)pid);
		p->pid = pid;
		p->fd = fds[0];
		util_close(&fds[1], "plugin pipe");
		util_close(&nullfd, "/dev/null");
		return 0;
	}
	util_close(&fds[0], "plugin pipe");
	util_close(&fds[1], "plugin pipe");
	util_close(&nullfd, "/dev/null");
	if (e == EMFILE || e == ENFILE)
		snprintf(cause, causelen, "out of file descriptors");
	else
		snprintf(cause, causelen, "cannot start: %s", strerror(e));
	return -1;
}

void
exec_read(struct exec_proc *p)
{
	char buf[4096];
	ssize_t n;

	/* Bounded, so a plugin that never stops writing cannot starve the others. */
	for (int round = 0; round < 16 && p->fd != -1; round++) {
		n = read(p->fd, buf, sizeof(buf));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n == -1)
			log_warn("exec check: read from plugin");
		if (n <= 0)
			util_close(&p->fd, "plugin pipe");
		for (ssize_t i = 0; i < n && !p->line_done; i++) {
			if (buf[i] == '\n' || p->line_len == EXEC_LINE_MAX)
				p->line_done = 1;
			else
				p->line[p->line_len++] = buf[i];
		}
	}
}

/* The plugin exited with wait status st (-1: lost): its verdict, and "exit N: FIRST LINE". */
static enum verdict
exec_verdict(struct exec_proc *p, int st, char *cause, size_t causelen)
{
	static const enum verdict by_code[] = { VERDICT_PASS, VERDICT_WARN, VERDICT_FAIL };
	char *line = p->line;
	size_t len;
	int code;

	exec_read(p); /* what it wrote just before exiting */
	line[p->line_len] = '\0';
	/* Nagios plugins put performance data after '|'; operators want the text. */
	len = strcspn(line, "|");
	while (len > 0 && strchr(" \t\r", line[len - 1]) != NULL)
		len--;
	line[len] = '\0';
	code = st != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	if (st == -1) {
		snprintf(cause, causelen, "exit status lost (SIGCHLD ignored?)");
		return VERDICT_UNKNOWN;
	}
	if (WIFSIGNALED(st)) {
		snprintf(cause, causelen, "killed by signal %d", WTERMSIG(st));
		return VERDICT_UNKNOWN;
	}
	snprintf(cause, causelen, len > 0 ? "exit %d: %s" : "exit %d%s", code, line);
	return code >= 0 && code < 3 ? by_code[code] : VERDICT_UNKNOWN;
}

/*
 * waitid(WNOWAIT) sees the exit without reaping: the zombie keeps its pid,
 * so what it left running in its group (holding our pipe open) can be killed
 * safely before it is reaped and its outcome set.
 */
int
exec_exited(struct exec_proc *p, enum verdict *v, char *cause, size_t causelen)
{
	siginfo_t si;
	int st = -1;

	memset(&si, 0, sizeof(si));
	if (waitid(P_PID, (id_t)p->pid, &si, WEXITED | WNOHANG | WNOWAIT) == -1) {
		if (errno == EINTR)
			return 0;
		log_warn("exec check: waitid %ld", (long)p->pid);
		p->pid = -1;
	} else if (si.si_pid == 0) {
		return 0;
	} else {
		exec_kill_group(p);
		exec_wait(p, &st);
	}
	*v = exec_verdict(p, st, cause, causelen);
	return 1;
}

void
exec_stop(struct exec_proc *p)
{
	util_close(&p->fd, "plugin pipe");
	if (p->pid > 0) {
		exec_kill_group(p);
		exec_wait(p, NULL); /* if not yet, the caller tries again with exec_reap */
	}
}

void
exec_reap(struct exec_proc *p)
{
	if (p->pid > 0)
		exec_wait(p, NULL);
}

/* ---------------------------------------------------------------- the exec check type */

#define EXEC_TICK_MS 20 /* how often a running plugin is asked whether it exited */
#define EOF_TICK_MS  5  /* the same once it closed its output: it is likely exiting */

#define X(f) offsetof(struct exec_check, f)
static const struct conf_opt exec_opts[] = {
	{ "command", OPT_STRLIST, 0, 0, 0, NULL, NULL, X(command) },
};
#undef X

static void
exec_build(struct conf_loader *l, const struct conf *c, struct dep_conf *d,
           const struct conf_grp *g)
{
	struct exec_check *x = d->check->conf;

	(void)c;
	if (x->command == NULL || x->command[0] == NULL || x->command[0][0] != '/')
		conf_err(l, g->set, "%s.command: required, a list starting with an absolute path",
		         g->label);
}

static void
exec_free(void *conf)
{
	struct exec_check *x = conf;

	util_strv_free(x->command);
}

static void
exec_check_start(struct run *r, struct job *j)
{
	const struct exec_check *x = j->spec->conf;
	char cause[sizeof(j->out->cause)];

	if (exec_start(&j->proc, x->command, r->maxfd, cause, sizeof(cause)) == -1)
		job_finish(r, j, VERDICT_UNKNOWN, "%s", cause);
}

static int
exec_wait_fd(const struct job *j, struct curl_waitfd *w)
{
	if (j->proc.fd == -1)
		return 0;
	*w = (struct curl_waitfd){ j->proc.fd, CURL_WAIT_POLLIN, 0 };
	return 1;
}

static void
exec_io(struct run *r, struct job *j)
{
	(void)r;
	exec_read(&j->proc);
}

/* A plugin exits without telling us: ask. */
static void
exec_sweep(struct run *r, struct job *j)
{
	char cause[sizeof(j->out->cause)];
	enum verdict v;

	if (exec_exited(&j->proc, &v, cause, sizeof(cause)))
		job_finish(r, j, v, "%s", cause);
}

static int
exec_own_timeout(const struct job *j)
{
	(void)j;
	return 1;
}

static int
exec_tick_ms(const struct job *j)
{
	return j->proc.pid <= 0 ? -1 : j->proc.fd == -1 ? EOF_TICK_MS : EXEC_TICK_MS;
}

/* If not reaped yet, the engine's sweep and its end of pass try again (exec_pending). */
static void
exec_release(struct job *j)
{
	exec_stop(&j->proc);
}

static void
exec_job_reap(struct job *j)
{
	exec_reap(&j->proc);
}

static int
exec_pending(const struct job *j)
{
	return j->proc.pid > 0;
}

const struct check_type check_exec = {
	.name = "exec",
	.keys = CONF_TABLE("dependencies", exec_opts),
	.size = sizeof(struct exec_check),
	.build = exec_build,
	.free = exec_free,
	.start = exec_check_start,
	.wait_fd = exec_wait_fd,
	.io = exec_io,
	.sweep = exec_sweep,
	.own_timeout = exec_own_timeout,
	.tick_ms = exec_tick_ms,
	.release = exec_release,
	.reap = exec_job_reap,
	.pending = exec_pending,
};
