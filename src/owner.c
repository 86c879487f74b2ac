/*
 * owner.c: one owner for the state.  Every program that writes under the state directory
 * (the prober, the follower, deephealthctl override) writes as the directory's owner, so
 * that whoever runs it next, root or the timer's user, can read and lock what it left.
 * Root becomes the owner (after giving back what an older run as root left there); any
 * other user who is not the owner is refused.  docs/security.md says why.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "deephealth.h"

/* Who uid is, for messages: "deephealth", or "uid 1234" when it has no name. */
static void
owner_name(uid_t uid, char *out, size_t len)
{
	struct passwd *pw = getpwuid(uid);

	if (pw != NULL)
		snprintf(out, len, "%s", pw->pw_name);
	else
		snprintf(out, len, "uid %ld", (long)uid);
}

/*
 * Give path to uid:gid if root owns it and uid owns the directory it is in: uid could
 * replace or remove it there anyway, so this grants nothing new.  Only a regular file with
 * one link (never a hard link to some other file of root's) or a directory, and the very
 * inode that was looked at (opened without following a link, then compared).  Anything
 * else is left as it is (owner_foreign then reports it).
 */
static void
owner_give(const char *path, uid_t uid, gid_t gid, const char *name)
{
	char *dcopy = xstrdup(path);
	struct stat st, dst, fst;
	int fd = -1;

	if (lstat(path, &st) == -1 || st.st_uid != 0 ||
	    !((S_ISREG(st.st_mode) && st.st_nlink == 1) || S_ISDIR(st.st_mode)) ||
	    stat(dirname(dcopy), &dst) == -1 || dst.st_uid != uid)
		goto out;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd == -1 || fstat(fd, &fst) == -1 || fst.st_dev != st.st_dev || fst.st_ino != st.st_ino ||
	    fst.st_uid != 0 || (S_ISREG(fst.st_mode) && fst.st_nlink != 1))
		goto out;
	if (fchown(fd, uid, gid) == -1) {
		log_warn("%s: could not give it to %s", path, name);
		goto out;
	}
	log_info("%s: root's, given to %s (the state directory's owner) so that its runs can "
	         "use it", path, name);
out:
	if (fd != -1)
		close(fd);
	free(dcopy);
}

/*
 * Each listed path that exists and is not uid's (name), reported through errfn: the
 * owner's runs may not be able to read, lock or append to it.  Returns how many.
 */
static int
owner_foreign(const char *const *paths, uid_t uid, const char *name, errfn_t errfn, void *arg)
{
	int n = 0;

	for (size_t i = 0; paths[i] != NULL; i++) {
		struct stat st;
		char who[256];

		if (paths[i][0] == '\0' || lstat(paths[i], &st) == -1 || st.st_uid == uid)
			continue;
		owner_name(st.st_uid, who, sizeof(who));
		/* A warning, even where the caller reports what stops the run at err. */
		(errfn == log_errfn_fatal ? log_errfn : errfn)(arg, "%s belongs to %s, not to %s (the state directory's owner), whose runs may "
		      "fail on it: %schown %s %s", paths[i], who, name,
		      st.st_uid == 0 ? "one run as root gives it back, or " : "", name, paths[i]);
		n++;
	}
	return n;
}

/*
 * Become uid for good: its groups (user's, from the group database; none when it has no
 * name), then gid, then uid, every step checked, and root must be out of reach after.
 */
static int
owner_become_uid(uid_t uid, gid_t gid, const char *user)
{
	if ((user != NULL ? initgroups(user, gid) : setgroups(0, NULL)) == -1 ||
	    setgid(gid) == -1 || setuid(uid) == -1)
		return -1;
	if (getuid() != uid || geteuid() != uid || getgid() != gid || getegid() != gid ||
	    setuid(0) != -1 || seteuid(0) != -1) {
		errno = EPERM;
		return -1;
	}
	return 0;
}

int
owner_become(const char *file, const char *const *paths, enum owner_mode mode, errfn_t errfn,
             void *arg)
{
	char *dcopy = xstrdup(file), name[256], me[256];
	const char *dir = dirname(dcopy);
	uid_t euid = geteuid();
	struct passwd *pw;
	struct stat st;
	gid_t gid;
	int problems = 0, foreign, named;

	/* No directory: nothing to become (the program's own checks say so); root in root's: root. */
	if (stat(dir, &st) == -1 || (st.st_uid == 0 && euid == 0))
		goto out;
	owner_name(st.st_uid, name, sizeof(name));
	if (euid != 0 && euid != st.st_uid) {
		owner_name(euid, me, sizeof(me));
		if (st.st_uid == 0)
			errfn(arg, "%s: this state directory belongs to root, not to %s: run as root, or "
			      "give the directory to the user the timer runs as", dir, me);
		else
			errfn(arg, "%s: this state directory belongs to %s, not to %s: run as %s, or as "
			      "root, which becomes %s", dir, name, me, name, name);
		problems = 1;
		goto out;
	}
	if (euid == 0) {
		pw = getpwuid(st.st_uid);
		named = pw != NULL; /* then name is its pw_name */
		gid = named ? pw->pw_gid : st.st_gid;
		for (size_t i = 0; mode == OWNER_RUN && paths[i] != NULL; i++)
			if (paths[i][0] != '\0')
				owner_give(paths[i], st.st_uid, gid, name);
		if (owner_become_uid(st.st_uid, gid, named ? name : NULL) == -1) {
			errfn(arg, "%s: could not become %s, its owner (uid %ld, gid %ld): %s", dir, name,
			      (long)st.st_uid, (long)gid, strerror(errno));
			problems = 1;
			goto out;
		}
		log_info("running as %s (uid %ld), the owner of the state directory %s", name,
		         (long)st.st_uid, dir);
	}
	/* What is still not the owner's: a warning for a run, a problem for -t. */
	foreign = owner_foreign(paths, st.st_uid, name, errfn, arg);
	if (mode == OWNER_CHECK)
		problems += foreign;
out:
	free(dcopy);
	return problems;
}
