/*
 * test_override_write.c: the override writer checked by the reader.  Random
 * add and remove sequences, as deephealthctl makes them (ovr_render): every
 * file written parses with the responders' parser, holds exactly the
 * overrides intended, and changes the answers (answer_registry, the
 * responders' decision) only of registries the added or removed scope names.
 * Then the last good copy: ovr_save writes both, and ovr_open keeps to the
 * copy when the file is damaged by hand.
 */
#define _POSIX_C_SOURCE 200809L

#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "answer.h"
#include "t.h"

#define NOW ((int64_t)1796000000)
#define NREG 60
#define NDEP 6
#define MAX_SPAN (7 * 86400)
#define STEPS 2000

static struct snapshot *snap;
static char regs[NREG][16], deps[NDEP][16];
static uint32_t uses_of[NREG]; /* the one dependency each registry uses */

/* xorshift: the same sequence on every run, so a failure can be replayed. */
static uint64_t rng = 0x9e3779b97f4a7c15u;
static unsigned
rnd(unsigned n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned)(rng % n);
}

/* Registries r00..r59 on storage accounts sa0..sa5, some failing; one region-wide auth. */
static void
make_snap(void)
{
	struct snap_writer *w = snapw_new(NOW, 30, 0);
	void *b = NULL;
	size_t len = 0;
	char err[128] = "";
	int auth;

	for (int d = 0; d < NDEP; d++) {
		snprintf(deps[d], sizeof(deps[d]), "sa%d", d);
		T_CHECK(snapw_add_dep(w, deps[d], d == 2 ? VERDICT_FAIL : VERDICT_PASS,
		                      DEP_KIND_STORAGE, SEV_CRITICAL, 0, NOW - 600, "t") == d);
	}
	auth = snapw_add_dep(w, "auth", VERDICT_PASS, DEP_KIND_AUTH, SEV_CRITICAL, SNAP_DEP_ALL,
	                     NOW - 600, "");
	T_CHECK(auth == NDEP);
	for (int r = 0; r < NREG; r++) {
		uint32_t u = (uint32_t)(r % NDEP);

		snprintf(regs[r], sizeof(regs[r]), "r%02d", r);
		uses_of[r] = u;
		T_EQ_INT(snapw_add_reg(w, regs[r], u == 2 ? VERDICT_FAIL : VERDICT_PASS,
		                       r % 10 == 9 ? SNAP_REG_SINGLE_REGION : 0,
		                       u == 2 ? u : SNAP_NO_DEP, NOW - 100), 0);
		T_EQ_INT(snapw_set_uses(w, &u, 1), 0);
	}
	T_EQ_INT(snapw_build(w, &b, &len, err, sizeof(err)), 0);
	T_EQ_INT(snap_parse(b, len, (time_t)NOW, &snap, NULL, 0), SNAP_OK);
	free(b);
	snapw_free(w);
}

/* A scope an operator could write: exact, prefix glob, bracket set, the region, a dependency. */
static void
rand_scope(char *out, size_t len, int *is_dep)
{
	static const char *const globs[] = { "r1*", "r?5", "r[0-2]*", "r[!0]3", "*", "r5[05]" };
	static const char *const dglobs[] = { "sa*", "sa[12]", "auth", "sa?" };

	*is_dep = 0;
	switch (rnd(6)) {
	case 0: case 1: snprintf(out, len, "registry:%s", regs[rnd(NREG)]); break;
	case 2: snprintf(out, len, "registry:%s", globs[rnd(6)]); break;
	case 3: snprintf(out, len, "region"); break;
	case 4: snprintf(out, len, "dependency:%s", deps[rnd(NDEP)]); *is_dep = 1; break;
	default: snprintf(out, len, "dependency:%s", dglobs[rnd(4)]); *is_dep = 1; break;
	}
}

/* Does scope name registry r (directly, or through a dependency it uses)? */
static int
names(const char *scope, int r)
{
	if (strcmp(scope, "region") == 0)
		return 1;
	if (strncmp(scope, "registry:", 9) == 0)
		return fnmatch(scope + 9, regs[r], 0) == 0;
	return fnmatch(scope + 11, deps[uses_of[r]], 0) == 0 || fnmatch(scope + 11, "auth", 0) == 0;
}

/* A reason with every printable byte a shell lets through, quotes and backslashes too. */
static void
rand_reason(char *out, size_t len)
{
	size_t n = 1 + rnd(40);

	for (size_t i = 0; i < n && i + 1 < len; i++)
		out[i] = (char)(0x20 + rnd(95));
	out[n < len ? n : len - 1] = '\0';
	if (out[0] == ' ')
		out[0] = 'x';
}

static int
same(const struct override *a, const struct override *b)
{
	return strcmp(a->scope, b->scope) == 0 && a->action == b->action && a->until == b->until &&
	       a->set == b->set && strcmp(a->by, b->by) == 0 && strcmp(a->reason, b->reason) == 0;
}

static void
test_random_sequences(void)
{
	struct conf c;
	struct answer_state st = { 0 };
	struct overrides *cur = NULL;
	int written = 0, refused = 0, changed = 0, wrong = 0;

	memset(&c, 0, sizeof(c));
	c.mode = MODE_ENFORCE;
	c.max_age = 600;
	st.conf = &c;
	st.snap = snap;
	st.snap_err = SNAP_OK;
	{
		struct t_errs e0 = { .n = 0 };

		T_EQ_INT(ovr_parse("empty", "", 0, MAX_SPAN, &cur, t_collect, &e0), 0);
	}
	for (int step = 0; step < STEPS; step++) {
		struct t_errs e = { .n = 0 };
		struct overrides *next = NULL;
		struct override add = { 0 };
		char scope[64], reason[64], by[] = "alice", *buf, *drop = calloc(cur->n + 1, 1);
		const char *touched;
		size_t len, want;
		int is_dep, adding = cur->n == 0 || rnd(100) < (cur->n < 30 ? 70 : 30);

		if (adding) {
			rand_scope(scope, sizeof(scope), &is_dep);
			rand_reason(reason, sizeof(reason));
			add.scope = scope;
			/* allow-failover only on the region, as the grammar has it */
			add.action = (enum ovr_action)(is_dep ? rnd(2)
			                               : strcmp(scope, "region") == 0 ? rnd(5) : rnd(4));
			add.set = NOW - rnd(3600);
			add.until = add.set + 1 + rnd(MAX_SPAN);
			add.by = by;
			add.reason = reason;
			touched = scope;
			want = cur->n + 1;
		} else {
			size_t k = rnd((unsigned)cur->n);

			drop[k] = 1;
			touched = cur->v[k].scope;
			want = cur->n - 1;
		}
		/* Expired a day ago: dropped by the writer; none here (until > NOW - 3600). */
		buf = ovr_render(cur, drop, adding ? &add : NULL, NOW, &len);
		if (ovr_parse("written", buf, len, MAX_SPAN, &next, t_collect, &e) != 0) {
			fprintf(stderr, "step %d: the reader refused what the writer wrote: %s\n%s", step,
			        e.n > 0 ? e.line[0] : "?", buf);
			refused++;
			free(buf);
			free(drop);
			continue;
		}
		written++;
		T_EQ_INT(next->n, want);
		/* Exactly the overrides intended, in order: the kept ones, then the new one. */
		for (size_t i = 0, j = 0; i < cur->n && j < next->n; i++)
			if (!drop[i] && !same(&cur->v[i], &next->v[j++]))
				wrong++;
		if (adding && next->n > 0 && !same(&add, &next->v[next->n - 1]))
			wrong++;
		/* Answers move only where the scope added or removed reaches. */
		for (int r = 0; r < NREG; r++) {
			struct policy_out a, b;

			st.ovr = cur;
			answer_registry(&st, regs[r], (time_t)NOW, &a);
			st.ovr = next;
			answer_registry(&st, regs[r], (time_t)NOW, &b);
			if (a.http == b.http && a.reason == b.reason)
				continue;
			changed++;
			if (!names(touched, r)) {
				fprintf(stderr, "step %d: %s changed %s (%d %s -> %d %s)\n", step, touched,
				        regs[r], a.http, reason_str(a.reason), b.http, reason_str(b.reason));
				wrong++;
			}
		}
		ovr_free(cur);
		cur = next;
		free(buf);
		free(drop);
	}
	T_EQ_INT(refused, 0);
	T_EQ_INT(wrong, 0);
	T_EQ_INT(written, STEPS);
	T_CHECK(changed > STEPS / 4); /* the sequences do move answers */
	ovr_free(cur);
}

/* Globs: only those that can match a name are in the grammar (one grammar for writer and reader). */
static void
test_glob_grammar(void)
{
	static const char *const yes[] = { "registry:a", "registry:a*", "registry:r[0-9]x",
		"registry:[!a]b", "registry:?", "dependency:sa[12]", "region", "registry:a[b]" };
	static const char *const no[] = { "registry:[abc", "registry:a]", "registry:a!b",
		"registry:[]", "registry:[!]", "registry:", "dependency:", "registry:a b",
		"registry:a[b/c]", "zone", "registry:[a" };

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		if (!ovr_scope_ok(yes[i])) {
			fprintf(stderr, "refused: %s\n", yes[i]);
			t_failed_checks++;
		}
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		if (ovr_scope_ok(no[i])) {
			fprintf(stderr, "accepted: %s\n", no[i]);
			t_failed_checks++;
		}
}

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	T_CHECK(f != NULL);
	if (f != NULL) {
		fputs(text, f);
		fclose(f);
	}
}

/* ovr_save writes the file and its good copy; a damaged file falls back to the copy. */
static void
test_good_copy(void)
{
	char dir[] = "/tmp/dh-ovr.XXXXXX", path[64], good[80], *buf, scope[] = "registry:r01",
	     by[] = "alice", reason[] = "INC-1";
	struct override v = { .scope = scope, .action = OVR_FORCE_FAIL, .until = NOW + 600,
		              .set = NOW, .by = by, .reason = reason };
	struct t_errs e = { .n = 0 };
	struct ovr_view vw;
	size_t len;

	T_CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/overrides", dir);
	snprintf(good, sizeof(good), "%s%s", path, OVR_GOOD_SUFFIX);
	/* No file: none, and nothing reported. */
	T_EQ_INT(ovr_open(path, MAX_SPAN, &vw, t_collect, &e), 0);
	T_CHECK(vw.state == OVR_FILE_NONE && vw.ovr == NULL && e.n == 0);
	ovr_view_free(&vw);
	/* Written by the writer: the file is in force. */
	buf = ovr_render(NULL, NULL, &v, NOW, &len);
	T_EQ_INT(ovr_save(path, buf, len, MAX_SPAN, t_collect, &e), 0);
	free(buf);
	T_EQ_INT(access(good, R_OK), 0);
	T_EQ_INT(ovr_open(path, MAX_SPAN, &vw, t_collect, &e), 0);
	T_CHECK(vw.state == OVR_FILE_OK && vw.ovr != NULL && vw.ovr->n == 1);
	ovr_view_free(&vw);
	/* Damaged by hand: its bad lines reported and kept, the good copy in force. */
	write_file(path, "registry:r02 force-fail until=2099-01-01T00:00:00Z\nregion bogus\n");
	T_EQ_INT(ovr_open(path, MAX_SPAN, &vw, t_collect, &e), 2);
	T_CHECK(vw.state == OVR_FILE_FALLBACK && vw.errors == 2 && vw.nbad == 2);
	T_CHECK(vw.ovr != NULL && vw.ovr->n == 1 && strcmp(vw.ovr->v[0].scope, "registry:r01") == 0);
	T_EQ_INT(vw.bad[1].line, 2);
	T_EQ_STR(vw.bad[1].text, "region bogus");
	ovr_view_free(&vw);
	ovr_view_free(&vw); /* safe twice */
	/* And the copy damaged too: none in force. */
	write_file(good, "nonsense\n");
	T_EQ_INT(ovr_open(path, MAX_SPAN, &vw, t_collect, &e), 2);
	T_CHECK(vw.state == OVR_FILE_DAMAGED && vw.ovr == NULL);
	ovr_view_free(&vw);
	/* The writer refuses what the reader would: nothing is written. */
	e.n = 0;
	T_EQ_INT(ovr_save(path, "region bogus\n", 13, MAX_SPAN, t_collect, &e), -1);
	T_CHECK(e.n == 2);
	buf = ovr_file_read(path, &len, NULL, e.line[0], sizeof(e.line[0]));
	T_CHECK(buf != NULL && strstr(buf, "region bogus") != NULL && strstr(buf, "2099") != NULL);
	free(buf);
	unlink(good);
	unlink(path);
	rmdir(dir);
}

int
main(void)
{
	static const struct t_case cases[] = {
		T_CASE(test_glob_grammar),
		T_CASE(test_random_sequences),
		T_CASE(test_good_copy),
	};
	int rc;

	make_snap();
	rc = t_run("override_write", cases, sizeof(cases) / sizeof(cases[0]));
	snap_free(snap);
	return rc;
}
