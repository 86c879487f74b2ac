/* log.c: the one logging API; stderr by default (journald-aware), syslog(3) when asked. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "deephealth.h"

static const char *log_ident = "deephealth";
static int log_to_syslog;
static enum log_level log_max = LOG_LVL_INFO;
static int log_to_journal;

/*
 * Is our stderr the journal?  systemd says so in $JOURNAL_STREAM ("dev:ino" of
 * the stream it connected); a child whose stderr was redirected elsewhere
 * inherits the variable, hence the comparison.
 */
static int
stderr_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	char tail;

	if (js == NULL || sscanf(js, "%llu:%llu%c", &dev, &ino, &tail) != 2)
		return 0;
	if (fstat(STDERR_FILENO, &st) == -1)
		return 0;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void
log_init(const char *ident, int use_syslog, enum log_level level)
{
	log_ident = ident;
	log_to_journal = !use_syslog && stderr_is_journal();
	log_max = level;
	if (use_syslog && !log_to_syslog)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
	else if (!use_syslog && log_to_syslog)
		closelog();
	log_to_syslog = use_syslog;
}

/* The words of the log lines and of log.level in the configuration. */
const char *const log_level_names[] = { "error", "warning", "info", "debug", NULL };

static void
log_emit(enum log_level lvl, const char *suffix, const char *fmt, va_list ap)
{
	static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
	char msg[1024];

	if (lvl > log_max)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (log_to_syslog) {
		syslog(prio[lvl], "%s%s%s", msg, suffix ? ": " : "", suffix ? suffix : "");
		return;
	}
	if (log_to_journal) {
		/* sd-daemon(3) prefix: journald files the line at this priority and
		 * adds time, pid and identifier itself. */
		fprintf(stderr, "<%d>%s: %s%s%s\n", prio[lvl], log_level_names[lvl], msg, suffix ? ": " : "",
		        suffix ? suffix : "");
		return;
	}
	{
		char when[32];

		util_iso_time(time(NULL), when, sizeof(when));
		/* One fprintf per line so concurrent writers do not interleave mid-line. */
		fprintf(stderr, "%s %s[%ld]: %s: %s%s%s\n", when, log_ident, (long)getpid(), log_level_names[lvl],
		        msg, suffix ? ": " : "", suffix ? suffix : "");
	}
}

void
log_warn(const char *fmt, ...)
{
	va_list ap;
	const char *e = strerror(errno);

	va_start(ap, fmt);
	log_emit(LOG_LVL_WARN, e, fmt, ap);
	va_end(ap);
}

void
log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit(LOG_LVL_WARN, NULL, fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit(LOG_LVL_INFO, NULL, fmt, ap);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit(LOG_LVL_DEBUG, NULL, fmt, ap);
	va_end(ap);
}

void
log_errx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit(LOG_LVL_ERR, NULL, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list ap;
	const char *e = strerror(errno);

	va_start(ap, fmt);
	log_emit(LOG_LVL_ERR, e, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit(LOG_LVL_ERR, NULL, fmt, ap);
	va_end(ap);
	exit(1);
}

/* A "file:line: message" report: with arg (a check run, -t) a plain line on stderr, else
 * through the log at level lvl. */
static void
log_report(void *arg, enum log_level lvl, const char *fmt, va_list ap)
{
	char msg[1024];

	if (arg == NULL) {
		log_emit(lvl, NULL, fmt, ap);
		return;
	}
	vsnprintf(msg, sizeof(msg), fmt, ap);
	fprintf(stderr, "%s\n", msg);
}

void
log_errfn(void *arg, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_report(arg, LOG_LVL_WARN, fmt, ap);
	va_end(ap);
}

void
log_errfn_fatal(void *arg, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_report(arg, LOG_LVL_ERR, fmt, ap);
	va_end(ap);
}

void
log_errfn_first(void *arg, const char *fmt, ...)
{
	char *first = arg;
	va_list ap;

	if (first == NULL || first[0] != '\0')
		return;
	va_start(ap, fmt);
	vsnprintf(first, LOG_FIRST_MAX, fmt, ap);
	va_end(ap);
}

void
log_errfn_quiet(void *arg, const char *fmt, ...)
{
	(void)arg;
	(void)fmt;
}
