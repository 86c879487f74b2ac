#!/usr/bin/env bash
# test_lb_fast.sh: the fast subset of the load-balancer suite (tests/e2e/lb.sh) for make
# check: HAProxy running the configuration deephealthctl lb generates, in front of the two
# regions (lighttpd on 127.0.0.2, Apache on 127.0.0.3): the steady state, then one storage
# failover and back, each time beside its budget, and no server left running.  HAProxy because
# it is the deterministic one: its servers start up and fall/rise are counted, where PowerDNS
# answers a random candidate until its first checks and gdnsd adds a coalescing timer.  The
# whole suite (PowerDNS, gdnsd and HAProxy, six scenarios each) is make e2e.  Skipped, with a
# line saying why, only when a program it needs is not installed.
cd "$(dirname "$0")/../.." || exit 2
for b in haproxy socat curl lighttpd apache2 redis-server redis-cli; do
	if ! command -v "$b" >/dev/null; then
		echo "# skipped: $b is not installed (tests/deps.sh installs it)"
		echo "0 passed, 0 failed"
		exit 0
	fi
done
if [ -n "${DH_VALGRIND:-}" ]; then
	echo "# DH_VALGRIND: running the load-balancer subset without memcheck (timing-bound)"
	unset DH_VALGRIND
fi
E2E_FAST=1 exec bash tests/e2e/lb.sh
