#!/usr/bin/env bash
# run.sh: run unit test binaries, then the integration scripts: one line per suite, its
# name, its "N passed, N failed" and how long it took; then every suite's time, slowest
# first; then one closing total.  Each suite's whole output is in $BUILD/test-logs/NAME.log.
set -u
unit_only=0
if [ "${1:-}" = "--unit-only" ]; then unit_only=1; shift; fi
passed=0 failed=0
tally() { # reads a log, adds its "N passed, N failed" line(s) to the totals
	local line p f
	line=$(grep -Eo '[0-9]+ passed, [0-9]+ failed' "$1" | tail -n 1)
	if [ -z "$line" ]; then failed=$((failed + 1)); return; fi
	p=${line%% passed*}; f=${line#*, }; f=${f%% failed*}
	passed=$((passed + p)); failed=$((failed + f))
}
logdir=${BUILD:-build}/test-logs
mkdir -p "$logdir"
times=$logdir/times
: >"$times"
start_all=$SECONDS
# said NAME LOG SECONDS: the suite's line: its name, its own count, its time
said() {
	local line
	line=$(grep -Eo '[0-9]+ passed, [0-9]+ failed' "$2" | tail -n 1)
	printf '%-28s %-24s %4d s\n' "$1:" "${line:-no closing line}" "$3"
	echo "$1 $3" >>"$times"
}
for t in "$@"; do
	name=$(basename "$t")
	t0=$SECONDS
	if [ -n "${DH_VALGRIND:-}" ]; then
		valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect \
			--error-exitcode=99 "$t" >"$logdir/$name.log" 2>&1
	else
		"$t" >"$logdir/$name.log" 2>&1
	fi
	rc=$?
	tally "$logdir/$name.log"
	said "$name" "$logdir/$name.log" $((SECONDS - t0))
	if [ $rc -ne 0 ]; then
		echo "---- $name exited $rc:"; grep -v 'passed, [0-9]* failed' "$logdir/$name.log" | tail -n 40
		[ $rc -eq 99 ] && failed=$((failed + 1))
	fi
done
if [ $unit_only = 0 ]; then
	for s in tests/integration/test_*.sh; do
		[ -e "$s" ] || continue
		name=$(basename "$s" .sh)
		t0=$SECONDS
		bash "$s" >"$logdir/$name.log" 2>&1
		rc=$?
		tally "$logdir/$name.log"
		said "$name" "$logdir/$name.log" $((SECONDS - t0))
		if [ $rc -ne 0 ]; then
			echo "---- $name exited $rc:"; grep -E '^(not ok|FAIL|#)' "$logdir/$name.log" | tail -n 60
		fi
	done
fi
echo "# time per suite, slowest first ($((SECONDS - start_all)) s in all):"
sort -k2,2nr "$times" | awk '{ printf "#   %-28s %4d s\n", $1, $2 }'
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
