/* responder.h: the FastCGI responder's own parts: the pool supervisor. */
#ifndef DH_RESPONDER_H
#define DH_RESPONDER_H

#include "admin.h"

/* ---------------------------------------------------------------- pool.c */

/*
 * Supervise n worker processes that share the listening socket the caller
 * opened (or inherited).  Returns 0 in each worker, which then serves.  In the
 * supervisor never returns: it restarts workers that die (backing off when
 * they die right after starting), replaces them one at a time on SIGHUP (the
 * new one started first, the old one stopped once the new one is ready), and
 * on SIGTERM or SIGINT stops them all and exits 0.
 */
int pool_run(size_t n);
/*
 * In a pool's worker, once it is ready to accept (configuration and snapshot
 * loaded): tell the supervisor, which stops the worker this one replaces only
 * then.  A no-op outside a pool.
 */
void pool_ready(void);

#endif /* DH_RESPONDER_H */
