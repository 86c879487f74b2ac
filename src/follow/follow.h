/* follow.h: deephealth-follow's own parts. */
#ifndef DH_FOLLOW_H
#define DH_FOLLOW_H

#include "deephealth.h"

/* ---------------------------------------------------------------- quorum.c */

/*
 * One snapshot from n verified ones (s[0] the newest, which gives the shape):
 * each registry and dependency fails where at least k of them fail it, warns
 * where at least k warn or fail it, else passes.  created goes in the header.
 * Returns a writer (snapw_free), or NULL if a record could not be written.
 */
struct snap_writer *quorum_merge(const struct snapshot *const *s, size_t n, unsigned k,
                                 int64_t created);

#endif /* DH_FOLLOW_H */
