/* follow.h: deephealth-follow's own parts. */
#ifndef DH_FOLLOW_H
#define DH_FOLLOW_H

#include "deephealth.h"

/* ---------------------------------------------------------------- quorum.c */

/*
 * One snapshot from n verified ones (s[0] the newest, which gives the shape):
 * each registry and dependency fails where at least k of them fail it, warns
 * where at least k warn or fail it, else passes; the header is flagged GUARD
 * when at least k of them are (the failover guard).  created goes in the header;
 * names[j] (or NULL) is s[j]'s prober, named in the cause of a dependency
 * that does not pass.  Returns a writer (snapw_free), or NULL if a record
 * could not be written.
 */
struct snap_writer *quorum_merge(const struct snapshot *const *s, const char *const *names,
                                 size_t n, unsigned k, int64_t created);

#endif /* DH_FOLLOW_H */
