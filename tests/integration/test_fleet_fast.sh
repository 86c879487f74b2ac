#!/usr/bin/env bash
# test_fleet_fast.sh: the fast subset of the fleet suite (tests/e2e/fleet.sh) for make check:
# scenario 1q (one of three probers killed, followers on quorum 2: no door moves) and 6q
# (storage fails for every prober: every door answers 503, the emulator moves the
# registries to region B and back, and the doors disagree for less than a follower interval
# plus 1.5 s), and 7q (a region-wide override set once on a prober, on every door within
# F + stat + R; bad files refused on every door; kept to its expiry with every prober
# dead: docs/overrides.md).  The whole suite is `bash tests/e2e/fleet.sh`.  Under make valgrind nothing
# runs under memcheck here: the suite asserts on timing, and the integration tests cover
# these programs under memcheck.
cd "$(dirname "$0")/../.." || exit 2
if [ -n "${DH_VALGRIND:-}" ]; then
	echo "# DH_VALGRIND: running the fleet subset without memcheck (timing-bound)"
	unset DH_VALGRIND
fi
E2E_FAST=1 exec bash tests/e2e/fleet.sh
