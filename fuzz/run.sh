#!/bin/sh
# fuzz/run.sh SECONDS NAME...: run each harness build/fuzz/fuzz_NAME for SECONDS, one at a
# time, on its working corpus (build/fuzz/corpus-work/NAME, seeded from fuzz/corpus/NAME,
# which stays untouched), crashes saved under build/fuzz/crashes/NAME/.  Prints one line
# per harness; exits 1 when any crashed.  Extra libFuzzer flags: FUZZ_FLAGS.
set -u
secs=$1
shift
dir=${FUZZ_DIR:-build/fuzz}
status=0
# The harnesses that load files (config, matchers, host, regmap) write their scratch files
# under TMPDIR: on tmpfs they run about twice as fast.
if [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then
	export TMPDIR=/dev/shm
fi
export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:symbolize=1}"
export LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$(pwd)/fuzz/lsan.supp:print_suppressions=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
printf '%-10s %12s %9s %7s %6s %8s  %s\n' harness executions exec/s cov corpus crashes result
for name in "$@"; do
	bin=$dir/fuzz_$name
	work=$dir/corpus-work/$name
	crashes=$dir/crashes/$name
	log=$dir/logs/$name.log
	mkdir -p "$work" "$crashes" "$dir/logs"
	if [ -d "fuzz/corpus/$name" ]; then
		cp -n fuzz/corpus/"$name"/* "$work"/ 2>/dev/null
	fi
	dict=
	[ -f "fuzz/dict/$name.dict" ] && dict=-dict=fuzz/dict/$name.dict
	before=$(ls "$crashes" | wc -l)
	# shellcheck disable=SC2086
	"$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=8192 \
	    -print_final_stats=1 -artifact_prefix="$crashes/" $dict ${FUZZ_FLAGS:-} "$work" \
	    </dev/null >"$log" 2>&1
	rc=$?
	after=$(ls "$crashes" | wc -l)
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
	cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
	corp=$(grep -o 'corp: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
	result=ok
	if [ "$rc" -ne 0 ] || [ "$after" -gt "$before" ]; then
		result="CRASH (exit $rc): $(ls -t "$crashes" | head -n 1 | sed "s|^|$crashes/|"); see $log"
		status=1
	fi
	printf '%-10s %12s %9s %7s %6s %8s  %s\n' "$name" "${execs:-?}" "${rate:-?}" "${cov:-?}" \
	    "${corp:-?}" "$((after - before))" "$result"
done
exit $status
