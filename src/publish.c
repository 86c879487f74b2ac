/*
 * publish.c: the one way a program of ours replaces a file others read: a
 * temp file beside it, written, synced, renamed over it, the directory synced.
 * The snapshot, the threshold state and every later file go through here.
 */
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "deephealth.h"

/* Temp files are ".NAME.tmp.XXXXXX": hidden, and never what a reader of NAME opens. */
#define TMP_FMT "%s/.%s.tmp."

static int
write_all(int fd, const unsigned char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
publish_file(const char *path, const void *buf, size_t len, mode_t mode, char *err, size_t errlen)
{
	char *dcopy = xstrdup(path), *bcopy = xstrdup(path), *tmp;
	const char *dir = dirname(dcopy), *base = basename(bcopy);
	size_t tmplen = strlen(dir) + strlen(base) + 16;
	int fd, dfd, rc = -1;

	tmp = xmalloc(tmplen);
	snprintf(tmp, tmplen, TMP_FMT "XXXXXX", dir, base);
	if ((fd = mkstemp(tmp)) == -1) {
		snprintf(err, errlen, "%s: mkstemp: %s", tmp, strerror(errno));
		goto out;
	}
	if (write_all(fd, buf, len) == -1) {
		snprintf(err, errlen, "%s: write: %s", tmp, strerror(errno));
		goto out_unlink;
	}
	if (fchmod(fd, mode) == -1) {
		snprintf(err, errlen, "%s: fchmod: %s", tmp, strerror(errno));
		goto out_unlink;
	}
	/* A failed fsync is final for this file: never retry it, start over next time. */
	if (fsync(fd) == -1) {
		snprintf(err, errlen, "%s: fsync: %s", tmp, strerror(errno));
		goto out_unlink;
	}
	if (close(fd) == -1) {
		fd = -1;
		snprintf(err, errlen, "%s: close: %s", tmp, strerror(errno));
		goto out_unlink;
	}
	fd = -1;
	if (rename(tmp, path) == -1) {
		snprintf(err, errlen, "rename %s -> %s: %s", tmp, path, strerror(errno));
		goto out_unlink;
	}
	rc = 0;
	/* The new file is in place and readers see it; only its durability across a crash is unsure. */
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd == -1 || fsync(dfd) == -1)
		log_warn("%s: fsync directory after publishing %s", dir, base);
	if (dfd != -1)
		close(dfd);
	goto out;
out_unlink:
	if (fd != -1)
		close(fd);
	unlink(tmp);
out:
	free(tmp);
	free(dcopy);
	free(bcopy);
	return rc;
}

size_t
publish_clean(const char *path)
{
	char *dcopy = xstrdup(path), *bcopy = xstrdup(path), prefix[300];
	const char *dir = dirname(dcopy), *base = basename(bcopy);
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t n = 0;

	snprintf(prefix, sizeof(prefix), ".%s.tmp.", base);
	while (d != NULL && (e = readdir(d)) != NULL) {
		char full[4096];

		if (strncmp(e->d_name, prefix, strlen(prefix)) != 0)
			continue;
		snprintf(full, sizeof(full), "%s/%s", dir, e->d_name);
		if (unlink(full) == 0) {
			log_info("removed %s, left by an interrupted publish", full);
			n++;
		}
	}
	if (d != NULL)
		closedir(d);
	free(dcopy);
	free(bcopy);
	return n;
}
