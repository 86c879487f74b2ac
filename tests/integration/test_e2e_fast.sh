#!/usr/bin/env bash
# test_e2e_fast.sh: the fast subset of the end-to-end failover suite (scenarios 1, 9 and 13:
# storage fails and heals, recovery after rise, the kill switch) for make check.  The whole
# suite is `make e2e`.  Under make valgrind the responders run unwrapped here: the suite
# asserts on load-balancer timing, and every code path it drives is covered under memcheck
# by the other integration tests.
cd "$(dirname "$0")/../.." || exit 2
if [ -n "${DH_VALGRIND:-}" ]; then
	echo "# DH_VALGRIND: running the e2e subset without memcheck (timing-bound)"
	unset DH_VALGRIND
fi
E2E_FAST=1 exec bash tests/e2e/run.sh
