/* spawn.c: bench-spawn: time from exec of a FastCGI responder to its first answer, as a
 * spawning web server sees it (lighttpd bin-path, mod_fcgid): a listening unix socket on the
 * child's stdin, one request, the reply read to its FCGI_END_REQUEST.
 *
 *     bench-spawn ROUNDS HOST PROGRAM [ARGS...]
 *
 * Prints "spawn_ms_median X", "spawn_ms_min X" and "spawn_ms_max X". */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Append one FastCGI record (request id 1, no padding). */
static size_t
record(unsigned char *out, int type, const unsigned char *body, size_t len)
{
	out[0] = 1;
	out[1] = (unsigned char)type;
	out[2] = 0;
	out[3] = 1;
	out[4] = (unsigned char)(len >> 8);
	out[5] = (unsigned char)len;
	out[6] = 0;
	out[7] = 0;
	memcpy(out + 8, body, len);
	return 8 + len;
}

static size_t
param(unsigned char *out, const char *name, const char *value)
{
	size_t n = strlen(name), v = strlen(value);

	out[0] = (unsigned char)n;
	out[1] = (unsigned char)v;
	memcpy(out + 2, name, n);
	memcpy(out + 2 + n, value, v);
	return 2 + n + v;
}

static int
cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* One spawn: returns milliseconds to the end of the first reply, or -1. */
static double
one(char **argv, const char *host, const char *path)
{
	struct sockaddr_un sa;
	unsigned char req[1024], body[512], buf[4096];
	size_t n = 0, bl;
	int lfd, cfd, done = 0;
	double t0, t = -1;
	pid_t pid;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	unlink(path);
	lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (lfd == -1 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) == -1 || listen(lfd, 16) == -1) {
		perror("bench-spawn: socket");
		exit(1);
	}
	t0 = now_ms();
	pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		dup2(lfd, 0);
		close(lfd);
		if (null != -1)
			dup2(null, 2); /* its log is not what is measured */
		execv(argv[0], argv);
		_exit(127);
	}
	close(lfd);
	/* The request is queued on the listening socket until the child accepts it. */
	cfd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (cfd == -1 || connect(cfd, (struct sockaddr *)&sa, sizeof(sa)) == -1)
		goto out;
	memcpy(body, "\0\1\0\0\0\0\0\0", 8); /* role responder, no keep-alive */
	n += record(req + n, 1, body, 8);
	bl = param(body, "REQUEST_METHOD", "GET");
	bl += param(body + bl, "HTTP_HOST", host);
	n += record(req + n, 4, body, bl);
	n += record(req + n, 4, body, 0);
	n += record(req + n, 5, body, 0);
	if (write(cfd, req, n) != (ssize_t)n)
		goto out;
	/* Read records until FCGI_END_REQUEST (type 3). */
	for (size_t have = 0; !done;) {
		ssize_t r = read(cfd, buf + have, sizeof(buf) - have);

		if (r <= 0)
			break;
		have += (size_t)r;
		while (have >= 8) {
			size_t len = 8 + ((size_t)buf[4] << 8 | buf[5]) + buf[6];

			if (have < len)
				break;
			if (buf[1] == 3)
				done = 1;
			memmove(buf, buf + len, have - len);
			have -= len;
		}
		if (have == sizeof(buf))
			break;
	}
	if (done)
		t = now_ms() - t0;
out:
	if (cfd != -1)
		close(cfd);
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	unlink(path);
	return t;
}

int
main(int argc, char **argv)
{
	int rounds = argc > 3 ? atoi(argv[1]) : 0, ok = 0;
	double *t;
	char path[108];

	if (rounds < 1 || argv[3][0] != '/') {
		fprintf(stderr, "usage: bench-spawn ROUNDS HOST /PATH/TO/PROGRAM [ARGS...]\n");
		return 2;
	}
	t = calloc((size_t)rounds, sizeof(*t));
	snprintf(path, sizeof(path), "/tmp/bench-spawn.%ld.sock", (long)getpid());
	for (int i = 0; i < rounds; i++) {
		double v = one(argv + 3, argv[2], path);

		if (v >= 0)
			t[ok++] = v;
	}
	if (ok == 0) {
		fprintf(stderr, "bench-spawn: %s never answered\n", argv[3]);
		return 1;
	}
	qsort(t, (size_t)ok, sizeof(*t), cmp);
	printf("spawn_ms_median %.2f\nspawn_ms_min %.2f\nspawn_ms_max %.2f\n", t[ok / 2], t[0],
	       t[ok - 1]);
	free(t);
	return ok == rounds ? 0 : 1;
}
