# obs.sh: the end-to-end library's observers (sourced by lib.sh): what a client sees, sampled
# in the background and stamped, and the readers that wait for a change in what it saw or
# summarize a window of it.  Uses lib.sh's now_ms, ts_lines, hold and PIDS.

# obs_start LOG TICK_MS CMD...: run CMD again and again in the background, TICK_MS ms apart,
# until obs_stop; each line it prints, "NAME VALUE [MORE...]" (VALUE: where NAME was sent, a
# region), goes to LOG stamped with the epoch ms it was read at: "MS NAME VALUE [MORE...]".
# One observer at a time; the obs_* readers below read its LOG (OBS_LOG).
OBS_PID="" OBS_LOG=""
obs_start() {
	local log=$1 tick=$2
	shift 2
	OBS_LOG=$log
	: >"$log"
	rm -f "$log.stop"
	( while [ ! -e "$log.stop" ]; do "$@" | ts_lines >>"$log"; hold "$tick"; done ) &
	OBS_PID=$!
	PIDS+=($!)
}
# obs_stop: the observer ends its sample (at most 5 s), then is killed; its log stays.
obs_stop() {
	[ -n "$OBS_PID" ] || return 0
	touch "$OBS_LOG.stop"
	for _ in $(seq 50); do kill -0 "$OBS_PID" 2>/dev/null || break; sleep 0.1; done
	kill "$OBS_PID" 2>/dev/null
	wait "$OBS_PID" 2>/dev/null
	OBS_PID=""
}
# obs_first NAME VALUE AFTER_MS BOUND_MS [K]: the stamp of NAME's first sample after AFTER_MS
# whose VALUE matches VALUE (an extended regex, anchored) and is the first of K (default 1)
# such samples in a row; waits at most BOUND_MS for them; nothing and 1 when none came.
obs_first() {
	local end=$(($(now_ms) + $4)) t
	while :; do
		t=$(awk -v n="$1" -v v="^($2)\$" -v a="$3" -v k="${5:-1}" '
			$2 == n && $1 > a { if ($3 ~ v) { if (c++ == 0) s = $1; if (c >= k) { print s; exit } } else c = 0 }' "$OBS_LOG")
		[ -n "$t" ] && { echo "$t"; return 0; }
		[ "$(now_ms)" -ge "$end" ] && return 1
		sleep 0.1
	done
}
# obs_group_first "NAMES" VALUE AFTER_MS BOUND_MS [K]: when the last of NAMES got there (the
# latest of their obs_first stamps); nothing and 1 when one of them did not in time.
obs_group_first() {
	local n t max="" end=$(($(now_ms) + $4))
	for n in $1; do
		t=$(obs_first "$n" "$2" "$3" $((end - $(now_ms))) "${5:-1}") || return 1
		if [ -z "$max" ] || [ "$t" -gt "$max" ]; then max=$t; fi
	done
	echo "$max"
}
# obs_seq NAME [FROM_MS [TO_MS]]: NAME's values in (FROM, TO], repeats collapsed: "A>B>A"
obs_seq() {
	awk -v n="$1" -v a="${2:-0}" -v b="${3:-99999999999999}" \
		'$2 == n && $1 > a && $1 <= b && $3 != last { s = s (s == "" ? "" : ">") $3; last = $3 } END { print s }' "$OBS_LOG"
}
# obs_samples NAME [FROM_MS [TO_MS]]: NAME's samples in (FROM, TO] without stamp and name,
# one a line ("VALUE [MORE...]")
obs_samples() {
	awk -v n="$1" -v a="${2:-0}" -v b="${3:-99999999999999}" \
		'$2 == n && $1 > a && $1 <= b { $1 = ""; $2 = ""; sub(/^  /, ""); print }' "$OBS_LOG"
}
