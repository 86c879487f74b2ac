/*
 * counters.c: what the responders answered, counted in one file that every
 * responder process of a configuration maps, so a scrape that reaches any one
 * process reports them all (lighttpd runs 2, an Apache pool 16), and a process
 * that dies or is replaced takes none of the counts with it.  Each count is a
 * 64-bit atomic add in shared memory: no lock, no system call per request.
 *
 * The file is created complete (a temp file linked into place), so a process
 * never maps a half-written header.  One with another layout (an upgrade) is
 * replaced by rename: the processes still on the old one notice at their next
 * recheck and move over.  A file that cannot be used leaves a process with
 * private counts (logged, and shown as counters_shared 0): never an answer lost.
 */
#define _GNU_SOURCE /* O_NOFOLLOW, MAP_ANONYMOUS */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "answer.h"

const char *const host_kind_names[] = {
	[HK_UNKNOWN] = "unknown", [HK_EMPTY] = "empty", [HK_TOO_LONG] = "too-long",
	[HK_BAD_BYTE] = "bad-byte", [HK_BAD_PORT] = "bad-port", [HK_IP_LITERAL] = "ip-literal",
	[HK_RESOLVER_ERROR] = "resolver-error", NULL
};

const int answer_codes[CTR_CODES] = { 200, 404, 405, 503 };

#define CTR_MAGIC "DHCOUNT\n"
#define CTR_VERSION 2

enum host_kind
host_kind_of(enum resolve_result r, enum host_err e)
{
	if (r == RESOLVE_UNKNOWN)
		return HK_UNKNOWN;
	if (r == RESOLVE_ERROR)
		return HK_RESOLVER_ERROR;
	switch (e) {
	case HOST_TOO_LONG: return HK_TOO_LONG;
	case HOST_BAD_BYTE: return HK_BAD_BYTE;
	case HOST_BAD_PORT: return HK_BAD_PORT;
	case HOST_IP_LITERAL: return HK_IP_LITERAL;
	default: return HK_EMPTY;
	}
}

static int
code_index(int http)
{
	for (int i = 0; i < CTR_CODES; i++)
		if (answer_codes[i] == http)
			return i;
	return -1;
}

static void
header_init(struct counters_shm *m, int64_t now)
{
	memcpy(m->magic, CTR_MAGIC, sizeof(m->magic));
	m->version = CTR_VERSION;
	m->size = (uint32_t)sizeof(*m);
	m->created = now;
}

static int
header_ok(const struct counters_shm *m)
{
	return memcmp(m->magic, CTR_MAGIC, sizeof(m->magic)) == 0 && m->version == CTR_VERSION &&
	       m->size == sizeof(*m);
}

/* A complete new file at path: written under a temp name, then linked (or renamed) into place. */
static int
create_file(const char *path, int replace, char *err, size_t errlen)
{
	struct counters_shm h;
	char *tmp;
	size_t n = strlen(path) + 16;
	int fd, rc = -1;

	tmp = xmalloc(n);
	snprintf(tmp, n, "%s.new.XXXXXX", path);
	if ((fd = mkstemp(tmp)) == -1) {
		snprintf(err, errlen, "cannot create %s: %s", tmp, strerror(errno));
		free(tmp);
		return -1;
	}
	memset(&h, 0, sizeof(h));
	header_init(&h, (int64_t)time(NULL));
	if (fchmod(fd, 0644) == -1 || write(fd, &h, sizeof(h)) != (ssize_t)sizeof(h))
		snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
	else if (replace ? rename(tmp, path) == -1 : link(tmp, path) == -1 && errno != EEXIST)
		snprintf(err, errlen, "cannot put %s in place: %s", path, strerror(errno));
	else
		rc = 0;
	close(fd);
	if (!replace || rc != 0)
		unlink(tmp);
	free(tmp);
	return rc;
}

/* Map the file at path read-write; 0, or -1 with the reason in err. */
static int
map_file(struct counters *c, const char *path, char *err, size_t errlen)
{
	struct stat st;
	void *p;
	int fd = -1;

	for (int tries = 0; tries < 3; tries++) {
		fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
		if (fd == -1 && errno == ENOENT) {
			if (create_file(path, 0, err, errlen) != 0)
				return -1;
			continue;
		}
		if (fd == -1) {
			snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
			return -1;
		}
		if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) || st.st_uid != geteuid()) {
			snprintf(err, errlen, "%s is not a regular file of uid %u", path,
			         (unsigned)geteuid());
			close(fd);
			return -1;
		}
		if (st.st_size == (off_t)sizeof(struct counters_shm)) {
			p = mmap(NULL, sizeof(struct counters_shm), PROT_READ | PROT_WRITE, MAP_SHARED,
			         fd, 0);
			if (p == MAP_FAILED) {
				snprintf(err, errlen, "cannot map %s: %s", path, strerror(errno));
				close(fd);
				return -1;
			}
			if (header_ok(p)) {
				close(fd);
				c->m = p;
				c->shared = 1;
				file_id_of(&st, &c->id);
				return 0;
			}
			munmap(p, sizeof(struct counters_shm));
		}
		/* Another layout (another version of us): start a new file; the old one is let go. */
		close(fd);
		fd = -1;
		log_warnx("counters %s: another layout: replaced (the counts start again)", path);
		if (create_file(path, 1, err, errlen) != 0)
			return -1;
	}
	snprintf(err, errlen, "%s keeps changing under us", path);
	return -1;
}

static void
map_private(struct counters *c)
{
	void *p = mmap(NULL, sizeof(struct counters_shm), PROT_READ | PROT_WRITE,
	               MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		fatal("counters: cannot map private memory");
	header_init(p, (int64_t)time(NULL));
	c->m = p;
	c->shared = 0;
}

void
counters_open(struct counters *c, const char *path)
{
	char err[512];
	int was = c->m != NULL;

	if (c->m != NULL)
		munmap(c->m, sizeof(*c->m));
	c->m = NULL;
	memset(&c->id, 0, sizeof(c->id));
	if (path == NULL || path[0] == '\0') {
		map_private(c);
		return;
	}
	if (map_file(c, path, err, sizeof(err)) == 0) {
		if (was || c->warned)
			log_info("counters %s: shared again", path);
		c->warned = 0;
		return;
	}
	if (!c->warned)
		log_warnx("counters %s: not shared (%s): this process counts on its own until it "
		          "can be used", path, err);
	c->warned = 1;
	map_private(c);
}

void
counters_check(struct counters *c, const char *path)
{
	struct stat st;
	struct file_id id;

	if (path == NULL || path[0] == '\0')
		return;
	if (stat(path, &st) == 0 && c->shared) {
		file_id_of(&st, &id);
		/* The counts change the size never and the times on every write: compare the inode. */
		if (id.dev == c->id.dev && id.ino == c->id.ino)
			return;
	}
	counters_open(c, path);
}

void
counters_close(struct counters *c)
{
	if (c->m != NULL)
		munmap(c->m, sizeof(*c->m));
	c->m = NULL;
}

static void
bump(_Atomic uint64_t *x)
{
	atomic_fetch_add_explicit(x, 1, memory_order_relaxed);
}

/*
 * The minute ring: the first answer of each minute notes its time and how many
 * unknown Hosts had been counted by then, so deephealthctl check can tell a rate from one
 * look.  Two processes may both note the same minute: the values differ by the
 * few answers between them.
 */
static void
ring_note(struct counters_shm *m, int64_t now)
{
	int64_t minute = now / 60;
	struct counters_minute *b = &m->ring[(uint64_t)minute % CTR_RING];
	int64_t old = atomic_load_explicit(&b->minute, memory_order_relaxed);

	if (old == minute)
		return;
	if (atomic_compare_exchange_strong(&b->minute, &old, minute)) {
		atomic_store(&b->at, now);
		atomic_store(&b->unknown_at,
		             atomic_load_explicit(&m->hosts[HK_UNKNOWN], memory_order_relaxed));
	}
}

void
counters_answer(struct counters *c, enum reason r, int http, int64_t now)
{
	int k = code_index(http);

	if ((unsigned)r < R_COUNT && k >= 0)
		bump(&c->m->answers[r][k]);
	ring_note(c->m, now);
}

void
counters_host(struct counters *c, enum host_kind k)
{
	if ((unsigned)k < HK_COUNT)
		bump(&c->m->hosts[k]);
}

void
counters_event(struct counters *c, enum counter_event e)
{
	if ((unsigned)e < CE_COUNT)
		bump(&c->m->events[e]);
}

uint64_t
counters_get(_Atomic uint64_t *x)
{
	return atomic_load_explicit(x, memory_order_relaxed);
}

int
counters_read(const char *path, struct counters_shm *out, char *err, size_t errlen)
{
	struct stat st;
	struct counters_shm *m; /* mapped read-only: only loaded from */
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 || st.st_size != (off_t)sizeof(*m)) {
		snprintf(err, errlen, "%s: not a counters file of this version", path);
		close(fd);
		return -1;
	}
	m = mmap(NULL, sizeof(*m), PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (m == MAP_FAILED) {
		snprintf(err, errlen, "%s: cannot map: %s", path, strerror(errno));
		return -1;
	}
	if (!header_ok(m)) {
		snprintf(err, errlen, "%s: not a counters file of this version", path);
		munmap(m, sizeof(*m));
		return -1;
	}
	/* Count by count: the writers go on adding while we copy. */
	memcpy(out, m, offsetof(struct counters_shm, answers));
	for (size_t i = 0; i < R_COUNT; i++)
		for (size_t k = 0; k < CTR_CODES; k++)
			out->answers[i][k] = counters_get(&m->answers[i][k]);
	for (size_t i = 0; i < HK_COUNT; i++)
		out->hosts[i] = counters_get(&m->hosts[i]);
	for (size_t i = 0; i < CE_COUNT; i++)
		out->events[i] = counters_get(&m->events[i]);
	for (size_t i = 0; i < CTR_RING; i++) {
		out->ring[i].minute = atomic_load(&m->ring[i].minute);
		out->ring[i].at = atomic_load(&m->ring[i].at);
		out->ring[i].unknown_at = counters_get(&m->ring[i].unknown_at);
	}
	munmap(m, sizeof(*m));
	return 0;
}

double
counters_unknown_rate(struct counters_shm *m, int64_t now, int window_min)
{
	int64_t minute = now / 60, from = -1, since = now;
	uint64_t at = 0, total = counters_get(&m->hosts[HK_UNKNOWN]);
	double mins;

	if (window_min < 1)
		window_min = 1;
	if (window_min > CTR_RING - 1)
		window_min = CTR_RING - 1;
	/* The oldest minute noted within the window: the counts since then, over the time since. */
	for (int64_t k = minute - window_min; k <= minute && from < 0; k++) {
		struct counters_minute *b = &m->ring[(uint64_t)k % CTR_RING];

		if (atomic_load(&b->minute) == k) {
			from = k;
			since = atomic_load(&b->at);
			at = counters_get(&b->unknown_at);
		}
	}
	if (from < 0 || total < at)
		return 0.0;
	/* Counted since the first answer of that minute; less than a minute counts as one. */
	mins = (double)(now - since) / 60.0;
	return (double)(total - at) / (mins < 1.0 ? 1.0 : mins);
}
