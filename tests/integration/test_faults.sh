#!/usr/bin/env bash
# test_faults.sh: faults injected while a load generator drives the responders through real
# lighttpd (issue 14, point 2).  One region: the shipped lighttpd snippet spawning two
# responders, the real prober looping every second (deephealth-probe -r 1) against HTTP
# fixture servers standing in for two storage accounts and an auth witness.  sa1 answers 500
# throughout, so half the registries fail over (503) and half pass (200): a fault that turned
# either into the other shows.
#
# Each fault runs while bench/openloop sends a fixed rate of /health probes, rotating over
# four registries (two on sa1, two on sa2), and prints what answered: every reply counted by
# status and X-Deephealth-Reason, the web server's own replies (no X-Deephealth-Status) and
# requests that failed on their connection, with when the first and last of those came.
# Checked for every fault:
#   - no status but 200 and 503 while lighttpd can reach a responder, and none from lighttpd
#     itself (the faults that kill or stop a responder, or lighttpd, measure those instead);
#   - the documented fail-open answer (200, its reason) for each fault of our own that
#     outlasts snapshot.max_age;
#   - the last good snapshot and the prober's state survive: both load after the fault, and
#     every event-log line is whole JSON;
#   - recovery without a restart: the same responder processes (unless the fault killed one)
#     answer as before within a few seconds of the fault's end.
# Faults: the snapshot's filesystem full (a small tmpfs), the state file's filesystem
# read-only, the prober's clock 2 h ahead and 2 h behind and the responders' likewise
# (libfaketime), descriptors exhausted in the responders and in the prober, an address-space
# limit on the prober, lighttpd gracefully restarted (reload) and stopped and started, a
# responder SIGSTOPped and SIGKILLed, the prober SIGSTOPped across max_age, a dependency
# that trickles its reply a byte a second; then nginx's shipped snippet in front of a responder
# pool (-n 2): the pool rolled by SIGHUP, a worker SIGKILLed, nginx reloaded.  Each line
# "# FAULT name: answers=..." is what docs/reliability.md quotes.  Root only (tmpfs mounts);
# loopback only; every process and mount it starts is stopped by its cleanup.
. tests/integration/lib.sh

PROBE=$BUILD/deephealth-probe
OPENLOOP=$BUILD/bench-openloop
RATE=${FAULT_RATE:-400}
[ -n "${DH_VALGRIND:-}" ] && RATE=50
MAX_AGE=5
FAKETIME_LIB=
for f in /usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1 /usr/lib/*/faketime/libfaketime.so.1; do
	[ -e "$f" ] && { FAKETIME_LIB=$f; break; }
done
# Our programs built with ASan must come first in the library list; libfaketime is
# preloaded before them, so ASan is told not to insist.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
ASAN_BUILD=0
nm "$PROBE" 2>/dev/null | grep -q __asan_init && ASAN_BUILD=1

if [ "$(id -u)" -ne 0 ]; then
	echo "# SKIP: the faults need root (tmpfs mounts, other users' limits)"
	finish
fi

S=$WORK/state   # snapshot, lock, event log: a 4 MiB tmpfs (filled by the first fault)
ST=$WORK/st     # the prober's state file: its own tmpfs (made read-only by the second)
mkdir -p "$S" "$ST"
MOUNTS=()
mount -t tmpfs -o size=4m,mode=755 dh-faults-state "$S" && MOUNTS+=("$S")
mount -t tmpfs -o size=1m,mode=755 dh-faults-st "$ST" && MOUNTS+=("$ST")
if [ ${#MOUNTS[@]} -ne 2 ]; then
	not_ok "tmpfs mounts for the state directories"
	finish
fi
unmount_all() {
	local m
	for m in "${MOUNTS[@]}"; do
		mount -o remount,rw "$m" 2>/dev/null
		umount -l "$m" 2>/dev/null
	done
}
# lib.sh's cleanup stops the processes (a stopped prober is continued first), then the
# mounts go, then what is left of the work directory.
cleanup_faults() {
	local keep=${KEEP_WORK:-}
	[ -n "${PROBER_PID:-}" ] && kill -CONT "$PROBER_PID" 2>/dev/null
	KEEP_WORK=1 cleanup
	KEEP_WORK=$keep
	unmount_all
	[ -n "${KEEP_WORK:-}" ] || rm -rf "$WORK"
}
trap cleanup_faults EXIT

FIXDIR=$WORK
start_fix sa1
start_fix sa2
start_fix auth
mode sa1 500

cat >"$WORK/registries.map" <<'EOF'
# name     regions             storage  features
alpha-1    westeurope,eastus   sa1      -
alpha-2    westeurope,eastus   sa1      -
beta-1     westeurope,eastus   sa2      -
beta-2     westeurope,eastus   sa2      -
EOF
CONF=$WORK/dh.conf
cat >"$CONF" <<EOF
snapshot = { path = "$S/snapshot"; max_age = $MAX_AGE; };
responder = { kill_switch = "$WORK/disable"; overrides = "$WORK/overrides"; recheck_ms = 100;
  counters = "$RUNDIR/counters"; };
resolver = { rules = ( "^(?<registry>[a-z0-9-]{3,50})\\\\.azurecr\\\\.io\$" ); };
prober = { registries = "$WORK/registries.map"; region = "westeurope"; state = "$ST/probe.state";
  lock = "$S/probe.lock"; event_log = "$S/events.jsonl"; interval = 1; deadline = 1;
  fall = 1; rise = 1; };
dependencies = (
  { name = "sa1"; kind = "storage"; type = "http"; url = "http://127.0.0.1:${FIXPORT[sa1]}/blob";
    timeout_ms = 700; },
  { name = "sa2"; kind = "storage"; type = "http"; url = "http://127.0.0.1:${FIXPORT[sa2]}/blob";
    timeout_ms = 700; },
  { name = "auth"; kind = "auth"; type = "http"; witness = true;
    url = "http://127.0.0.1:${FIXPORT[auth]}/health"; timeout_ms = 700; }
);
EOF
chmod 644 "$CONF" "$WORK/registries.map"
HOSTS=(-H alpha-1.azurecr.io -H beta-1.azurecr.io -H alpha-2.azurecr.io -H beta-2.azurecr.io)

# ---- the prober: a loop of one pass a second, as -r 1 runs it ------------------------------
CLOCK=$WORK/prober.clock   # libfaketime's offset for the prober, when it runs under it
echo "+0" >"$CLOCK"
PROBER_PID=
# start_prober [PREFIX...]: the prober loop, under PREFIX (prlimit, env...), for 15 min at most,
# on $PCONF (the test's configuration unless a fault says otherwise).
PCONF=$CONF
start_prober() {
	"$@" "${VG[@]}" "$PROBE" -c "$PCONF" -r 1 -d 900 >>"$WORK/probe.out" 2>&1 &
	PROBER_PID=$!
	PIDS+=("$PROBER_PID")
}
stop_prober() {
	[ -n "$PROBER_PID" ] || return 0
	kill -CONT "$PROBER_PID" 2>/dev/null
	kill "$PROBER_PID" 2>/dev/null
	for _ in $(seq 50); do kill -0 "$PROBER_PID" 2>/dev/null || break; sleep 0.1; done
	kill -9 "$PROBER_PID" 2>/dev/null
	wait "$PROBER_PID" 2>/dev/null
	PROBER_PID=
}
faketime_env() {
	echo env LD_PRELOAD="$FAKETIME_LIB" FAKETIME_TIMESTAMP_FILE="$1" FAKETIME_NO_CACHE=1 \
		FAKETIME_DONT_FAKE_MONOTONIC=1
}

# ---- lighttpd from the shipped snippet ----------------------------------------------------
L=$WORK/lighttpd
PORT=$(free_port)
U=http://127.0.0.1:$PORT
RCLOCK=$WORK/responder.clock   # the responders' libfaketime offset
echo "+0" >"$RCLOCK"
chmod 644 "$CLOCK" "$RCLOCK"
lighttpd_base "$L" "$PORT" "$L"
localize_conf conf/lighttpd.conf "$(fcgi_cmd_bin)" "$CONF" "$L/run/deephealth.sock" >>"$L/lighttpd.conf"
# The responders' clock can be moved: libfaketime preloaded, reading its offset from a file
# at every call (without it, a plain "+0" file changes nothing).
if [ -n "$FAKETIME_LIB" ] && [ -z "${DH_VALGRIND:-}" ]; then
	sed -i "s#^  \"bin-copy-environment\" => ( \"PATH\", \"TZ\" ),#&\n  \"bin-environment\" => ( \"LD_PRELOAD\" => \"$FAKETIME_LIB\", \"FAKETIME_TIMESTAMP_FILE\" => \"$RCLOCK\", \"FAKETIME_NO_CACHE\" => \"1\", \"FAKETIME_DONT_FAKE_MONOTONIC\" => \"1\", \"ASAN_OPTIONS\" => \"$ASAN_OPTIONS\" ),#" "$L/lighttpd.conf"
fi
start_lighttpd() {
	lighttpd -D -f "$L/lighttpd.conf" >>"$L/stdout.log" 2>&1 &
	LPID=$!
	PIDS+=("$LPID")
	wait_http "$U/"
}
out=$(lighttpd -tt -f "$L/lighttpd.conf" 2>&1)
check "lighttpd -tt accepts the localized snippet" "" "$out"

# The prober's clock can be moved the same way.
PROBER_ENV=()
[ -n "$FAKETIME_LIB" ] && [ -z "${DH_VALGRIND:-}" ] && read -ra PROBER_ENV <<<"$(faketime_env "$CLOCK")"
start_prober "${PROBER_ENV[@]}"
for _ in $(seq 50); do [ -s "$S/snapshot" ] && break; sleep 0.1; done
chmod -R a+rX "$S"
if ! start_lighttpd; then
	not_ok "lighttpd started" "$(tail -n 5 "$L/error.log" "$L/stdout.log" 2>&1 | tr '\n' ' ')"
	finish
fi
responders() { pgrep -P "$LPID" -f -- "-c $CONF" | sort; }
for _ in $(seq 50); do [ "$(responders | wc -l)" -ge 2 ] && break; sleep 0.1; done
check "lighttpd runs two responders" 2 "$(responders | wc -l)"

# answer HOST: "CODE REASON" of one probe.
answer() { req "$U/health" "$1.azurecr.io" | cut -d' ' -f1,2; }
# normal: 0 when the four registries answer as the snapshot says with sa1 down.
normal() {
	[ "$(answer alpha-1)" = "503 dependency-failed" ] && [ "$(answer beta-1)" = "200 healthy" ] &&
		[ "$(answer alpha-2)" = "503 dependency-failed" ] && [ "$(answer beta-2)" = "200 healthy" ]
}
# wait_normal: seconds (tenths) until normal, at most 20 s; prints them, or "never" (status 1).
wait_normal() {
	local t0=$EPOCHREALTIME
	for _ in $(seq 200); do
		if normal; then
			awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f\n", b - a }'
			return 0
		fi
		sleep 0.1
	done
	echo never
	return 1
}
t=$(wait_normal)
check_match "before any fault: alpha-* 503 dependency-failed, beta-* 200 healthy" '^[0-9.]+$' "$t"

# FAULTS="name ..." in the environment runs only those faults (names as in "# FAULT name").
want() { [ -z "${FAULTS:-}" ] || [[ " $FAULTS " == *" $1 "* ]]; }
# novg NAME: true unless under valgrind, where limits would bind valgrind itself (said).
novg() {
	[ -z "${DH_VALGRIND:-}" ] && return 0
	echo "# SKIP $1: its limits would bind valgrind, not the program under it"
	return 1
}

# ---- the fault harness --------------------------------------------------------------------
# fault NAME SECONDS INJECT HOLD REVERT: load for SECONDS at RATE; 1 s in, run INJECT, hold
# HOLD s, run REVERT; then wait for the load to end.  Sets LOAD (openloop's line), A (its
# answers= field), and ANS[STATUS/REASON] counts.
declare -A ANS
fault() {
	local name=$1 secs=$2 inject=$3 hold=$4 revert=$5 lp
	"$OPENLOOP" -u "$U/health" -r "$RATE" -d "$secs" -c 8 -w 0 "${HOSTS[@]}" \
		>"$WORK/load.$name" 2>"$WORK/load.$name.err" &
	lp=$!
	sleep 1
	echo "# $name: inject at $(date +%T.%N | cut -c1-12)"
	eval "$inject"
	sleep "$hold"
	echo "# $name: revert at $(date +%T.%N | cut -c1-12)"
	eval "$revert"
	wait_normal >"$WORK/recovery.$name" &
	local rp=$!
	wait "$lp"
	wait "$rp"
	LOAD=$(cat "$WORK/load.$name")
	A=$(sed -n 's/.* answers=\([^ ]*\).*/\1/p' <<<"$LOAD")
	ANS=()
	local kv
	for kv in ${A//,/ }; do ANS[${kv%:*}]=${kv##*:}; done
	echo "# FAULT $name: rate=$RATE $(grep -o 'done=[0-9]* errors=[0-9]*' <<<"$LOAD")" \
		"$(grep -o 'p99_ms=[0-9.]* max_ms=[0-9.]*' <<<"$LOAD") $(grep -o 'answers=.*' <<<"$LOAD")"
}
# field KEY: a key=value of the last load's line.
field() { sed -n "s/.*[ ^]$1=\([^ ]*\).*/\1/p" <<<" $LOAD"; }
# only_ours NAME [LOST]: every answer a responder's, 200 or 503; at most LOST requests (default
# 0) failed on their connection or timed out.
only_ours() {
	local k bad=
	for k in "${!ANS[@]}"; do
		case $k in 200/*|503/*) ;; *) bad="$bad $k:${ANS[$k]}" ;; esac
		case $k in */-) bad="$bad $k:${ANS[$k]}" ;; esac
	done
	check "$1: only 200 and 503 from a responder" "" "$bad"
	if [ "$(field errors)" -le "${2:-0}" ]; then
		ok "$1: $(field errors) requests failed on their connection or timed out (at most ${2:-0})"
	else
		not_ok "$1: at most ${2:-0} requests failed on their connection or timed out" "$LOAD"
	fi
}
# ours_or_5xx NAME: for faults that leave lighttpd without a responder for a moment: the
# responders' 200 and 503, and lighttpd's own 5xx, nothing else.
ours_or_5xx() {
	local k bad=
	for k in "${!ANS[@]}"; do
		case $k in 200/*|503/*|5??/-) ;; *) bad="$bad $k:${ANS[$k]}" ;; esac
	done
	check "$1: responders' 200 and 503, lighttpd's 5xx, nothing else" "" "$bad"
}
# saw NAME STATUS/REASON: at least one such answer.
saw() {
	if [ "${ANS[$2]:-0}" -gt 0 ]; then ok "$1: answered $2 (${ANS[$2]})"
	else not_ok "$1: answered $2" "answers=$A"; fi
}
# intact NAME: the snapshot and the state load, every event line is JSON, the same responders.
intact() {
	local rc
	"$SNAPTOOL" check -a 3600 "$S/snapshot" >/dev/null 2>&1
	rc=$?
	check "$1: the snapshot loads (deephealth-snap check)" 0 "$rc"
	check "$1: the state file is there" yes "$([ -s "$ST/probe.state" ] && echo yes)"
	rc=$(python3 -c 'import json, sys
bad = 0
for line in open(sys.argv[1], "rb"):
    try:
        json.loads(line)
    except Exception:
        bad += 1
print(bad)' "$S/events.jsonl" 2>&1)
	check "$1: every event-log line is whole JSON" 0 "$rc"
}
# recovers NAME: answers were back to what they were before within 20 s of the revert.
recovers() {
	local t
	t=$(cat "$WORK/recovery.$1")
	check_match "$1: answers as before, without a restart, ${t} s after the fault ended" '^[0-9.]+$' "$t"
	echo "# FAULT $1: recovered in $t s"
}
same_responders() {
	check "$1: the same responder processes" "$2" "$(responders | tr '\n' ' ')"
}
RESP0=$(responders | tr '\n' ' ')

# ---- 1. the snapshot's filesystem full during publishes -----------------------------------
# The prober's temp file cannot be written: the last snapshot stays, ages past max_age, and
# the responders fail open (snapshot-stale) until a publish gets through again.
fill() { dd if=/dev/zero of="$S/filler" bs=16k 2>/dev/null; cp "$S/snapshot" "$WORK/snapshot.full"; }
unfill() {
	df --output=avail "$S" | tail -n 1 | tr -d ' ' >"$WORK/fs-full.avail"
	cmp -s "$S/snapshot" "$WORK/snapshot.full" && echo same >"$WORK/fs-full.cmp"
	rm -f "$S/filler"
}
if want fs-full; then
	fault fs-full 12 fill 8 unfill
	only_ours fs-full
	saw fs-full 503/dependency-failed
	saw fs-full 200/snapshot-stale
	check "fs-full: the prober said why it did not publish" yes \
		"$(grep -q 'No space left on device' "$WORK/probe.out" && echo yes)"
	check "fs-full: the filesystem was full" 0 "$(cat "$WORK/fs-full.avail")"
	check "fs-full: the last good snapshot stayed in place, byte for byte, through the fault" same \
		"$(cat "$WORK/fs-full.cmp" 2>/dev/null)"
	recovers fs-full
	intact fs-full
	same_responders fs-full "$RESP0"
fi

# ---- 2. the state file's filesystem read-only ---------------------------------------------
# The prober cannot save its thresholds' state; the pass's snapshot still goes out.
state_ro() { mount -o remount,ro "$ST"; cp "$ST/probe.state" "$WORK/state.ro"; }
state_rw() {
	cmp -s "$ST/probe.state" "$WORK/state.ro" && echo same >"$WORK/state-ro.cmp"
	mount -o remount,rw "$ST"
}
if want state-ro; then
	fault state-ro 8 state_ro 4 state_rw
	check "state-ro: the state file stayed as it was through the fault" same \
		"$(cat "$WORK/state-ro.cmp" 2>/dev/null)"
	only_ours state-ro
	saw state-ro 503/dependency-failed
	saw state-ro 200/healthy
	check "state-ro: the prober said the state was not saved" yes \
		"$(grep -qiE 'state.*(read-only|not saved)' "$WORK/probe.out" && echo yes)"
	recovers state-ro
	intact state-ro
	same_responders state-ro "$RESP0"
fi

# ---- 3, 4. the prober's clock 2 h ahead, then 2 h behind ----------------------------------
# Ahead: its snapshots say they come from the future, which no reader can date: refused,
# failing open (snapshot-corrupt).  Behind: they are 2 h old on arrival: stale.  Either way
# the next pass after the clock is right again publishes a snapshot the responders take.
clock_fault() { # clock_fault NAME FILE OFFSET REASON
	want "$1" || return 0
	if [ -z "$FAKETIME_LIB" ] || [ -n "${DH_VALGRIND:-}" ]; then
		echo "# SKIP $1: libfaketime missing (faketime package) or under valgrind"
		return
	fi
	fault "$1" 8 "echo $3 >$2" 4 "echo +0 >$2"
	only_ours "$1"
	saw "$1" "$4"
	recovers "$1"
	intact "$1"
	same_responders "$1" "$RESP0"
}
clock_fault prober-ahead "$CLOCK" +2h 200/snapshot-corrupt
clock_fault prober-behind "$CLOCK" -2h 200/snapshot-stale

# ---- 5, 6. the responders' clock 2 h ahead, then 2 h behind -------------------------------
# Ahead: every snapshot is 2 h old: stale.  Behind: the snapshot in memory is 2 h in the
# future and cannot be dated: refused on every answer as on loading (snapshot-corrupt), not
# trusted as fresh for two hours.
clock_fault responder-ahead "$RCLOCK" +2h 200/snapshot-stale
clock_fault responder-behind "$RCLOCK" -2h 200/snapshot-corrupt

# ---- 7. descriptors exhausted in the responders --------------------------------------------
# The responders run as www-data, whose limits only www-data (or CAP_SYS_RESOURCE) may change:
# prlimit runs as that user.  The soft limit only; the hard one stays, so it can be restored.
# fdlimit PID SPARE NAME: PID's soft descriptor limit set so that exactly SPARE descriptor
# numbers below it are free (a process takes the lowest free one); "PID:LIMIT:SOFT-BEFORE"
# noted in $WORK/fdlimits.NAME for fdrestore.  A socket other than 0 (the listening one) is
# a FastCGI connection being answered: it is closed in a moment, so its number counts as free.
fdlimit() {
	local lim=0 free=0 before f l
	declare -A open=()
	for f in /proc/"$1"/fd/*; do
		# A descriptor closed since the glob (a FastCGI connection answered) counts as free.
		l=$(readlink "$f") || continue
		[ "${f##*/}" != 0 ] && [[ $l == socket:* ]] && continue
		open[${f##*/}]=1
	done
	while :; do
		[ -z "${open[$lim]:-}" ] && free=$((free + 1))
		[ $free -gt "$2" ] && break
		lim=$((lim + 1))
	done
	before=$(awk '$1 == "Max" && $2 == "open" { print $4 }' /proc/"$1"/limits)
	runuser -u www-data -- prlimit --pid "$1" --nofile=$lim: &&
		echo "$1:$lim:$before" >>"$WORK/fdlimits.$3"
}
# fdrestore NAME: the soft limits as they were.
fdrestore() {
	local p lim before
	while IFS=: read -r p lim before; do
		runuser -u www-data -- prlimit --pid "$p" --nofile="$before":
	done <"$WORK/fdlimits.$1"
}
if want fd-responder && novg fd-responder; then
	# One spare descriptor: the FastCGI connection is accepted, a new snapshot cannot be
	# opened.  The one in memory keeps answering until it is stale.
	fault fd-responder 12 'for p in $(responders); do fdlimit $p 1 fd-responder; done' 8 \
		'fdrestore fd-responder'
	check "fd-responder: both responders limited" 2 "$(wc -l <"$WORK/fdlimits.fd-responder")"
	only_ours fd-responder
	saw fd-responder 503/dependency-failed
	saw fd-responder 200/snapshot-stale
	check "fd-responder: the responders said why" yes \
		"$(grep -q 'new file not read (Too many open files)' "$L/responder.log" && echo yes)"
	recovers fd-responder
	same_responders fd-responder "$RESP0"
fi
if want fd-accept && novg fd-accept; then
	# None spare: not even the FastCGI connection could be accepted but for the descriptor each
	# responder keeps in reserve for it: it gives it up to accept, answers from the snapshot in
	# memory, and takes it back.  Nothing from lighttpd, nothing exits; past max_age, 200
	# snapshot-stale as in fd-responder.
	fault fd-accept 10 'for p in $(responders); do fdlimit $p 0 fd-accept; done' 4 \
		'fdrestore fd-accept'
	echo "# fd-accept: $(field foreign) from lighttpd itself between $(field foreign_first_ms) and $(field foreign_last_ms) ms"
	check "fd-accept: both responders limited" 2 "$(wc -l <"$WORK/fdlimits.fd-accept")"
	only_ours fd-accept
	# lighttpd may send a responder nothing for the whole fault: it never meets the limit.
	n=$(grep 'no descriptor free for a connection: accepting with the reserved one' "$L/responder.log" |
		grep -o 'fcgi\[[0-9]*\]' | sort -u | wc -l)
	check_match "fd-accept: a responder that met the limit said so ($n)" '^[12]$' "$n"
	check "fd-accept: none exited" 0 "$(grep -c 'accept keeps failing' "$L/responder.log")"
	recovers fd-accept
	same_responders fd-accept "$RESP0"
fi

# ---- 8. descriptors exhausted in the prober -----------------------------------------------
# The limits are found by single passes, from 16 descriptors down: the highest at which the
# witness's check cannot get a socket (a blind pass: exit 7), and the highest at which the
# state file cannot be opened (exit 6: the run is skipped, the file kept).
if want fd-prober && novg fd-prober; then
	stop_prober
	blind_n=""
	state_n=""
	for n in $(seq 16 -1 5); do
		prlimit --nofile=$n "${PROBER_ENV[@]}" "$PROBE" -c "$CONF" >"$WORK/probe.fd.$n" 2>&1
		rc=$?
		[ $rc -eq 7 ] && [ -z "$blind_n" ] && blind_n=$n
		[ $rc -eq 6 ] && [ -z "$state_n" ] && state_n=$n
	done
	echo "# fd-prober: blind below $blind_n descriptors, state unreadable below $state_n"
	cat "$WORK/probe.fd.$blind_n" "$WORK/probe.fd.$state_n" | sed 's/^/#   /'
	start_prober "${PROBER_ENV[@]}"
	wait_normal >/dev/null
	fault fd-prober-blind 8 "stop_prober; start_prober prlimit --nofile=$blind_n ${PROBER_ENV[*]}" 4 \
		"stop_prober; start_prober ${PROBER_ENV[*]}"
	only_ours fd-prober-blind
	saw fd-prober-blind 200/prober-blind
	recovers fd-prober-blind
	intact fd-prober-blind
	fault fd-prober-state 10 "stop_prober; cp $ST/probe.state $WORK/state.fd; start_prober prlimit --nofile=$state_n ${PROBER_ENV[*]}" 7 \
		'cmp -s "$ST/probe.state" "$WORK/state.fd" && echo same >"$WORK/fd-state.cmp"; stop_prober; start_prober '"${PROBER_ENV[*]}"
	only_ours fd-prober-state
	saw fd-prober-state 200/snapshot-stale
	check "fd-prober-state: the state file stayed as it was" same "$(cat "$WORK/fd-state.cmp" 2>/dev/null)"
	recovers fd-prober-state
	intact fd-prober-state
fi

# ---- 9. an address-space limit on the prober ----------------------------------------------
# The prober here reads a map of 20,004 registries (the four above and 20,000 more on sa2), so
# a pass needs some megabytes beyond the libraries.  Single passes under prlimit --as, in
# 1 MiB steps, find the highest limit at which the pass itself fails (the libraries loaded:
# not exit 127); the fault runs the loop there.  Not under ASan (its shadow memory needs
# terabytes of address space) nor valgrind.
if want mem-prober && [ "$ASAN_BUILD" -eq 1 ]; then
	echo "# SKIP mem-prober: ASan's shadow memory needs terabytes of address space"
elif want mem-prober && novg mem-prober; then
	{ cat "$WORK/registries.map"; seq -f 'filler-%05g westeurope,eastus sa2 -' 1 20000; } >"$WORK/big.map"
	sed "s#registries = \"$WORK/registries.map\"#registries = \"$WORK/big.map\"#" "$CONF" >"$WORK/big.conf"
	chmod 644 "$WORK/big.map" "$WORK/big.conf"
	stop_prober
	mem_n=
	for mb in $(seq 64 -1 16); do
		prlimit --as=$((mb * 1048576)) "${PROBER_ENV[@]}" "$PROBE" -c "$WORK/big.conf" >"$WORK/probe.mem.$mb" 2>&1
		rc=$?
		echo "# mem-prober: $mb MiB: exit $rc $(grep -v ' info: ' "$WORK/probe.mem.$mb" | tail -n 2 | tr '\n' '|' | cut -c1-300)"
		[ $rc -ne 0 ] && [ $rc -ne 127 ] && [ -z "$mem_n" ] && mem_n=$mb
	done
	# Then in 64 KiB steps below the first MiB that fails: the highest failing limit.
	mem_k=$((mem_n * 1024))
	for k in $(seq $((mem_n * 1024 + 1024)) -64 $((mem_n * 1024))); do
		prlimit --as=$((k * 1024)) "${PROBER_ENV[@]}" "$PROBE" -c "$WORK/big.conf" >"$WORK/probe.mem.k" 2>&1
		rc=$?
		if [ $rc -ne 0 ]; then
			mem_k=$k
			echo "# mem-prober: $k KiB: exit $rc $(grep -v ' info: ' "$WORK/probe.mem.k" | tail -n 2 | tr '\n' '|' | cut -c1-300)"
			break
		fi
	done
	cp "$S/snapshot" "$WORK/snapshot.mem"
	start_prober_mem() { PCONF=$WORK/big.conf; start_prober prlimit --as=$((mem_k * 1024)) "${PROBER_ENV[@]}"; PCONF=$CONF; }
	start_prober "${PROBER_ENV[@]}"
	wait_normal >/dev/null
	fault mem-prober 10 'stop_prober; start_prober_mem' 7 \
		'cp "$ST/probe.state" "$WORK/state.mem"; stop_prober; start_prober "${PROBER_ENV[@]}"'
	only_ours mem-prober
	saw mem-prober 200/snapshot-stale
	# A run may die after saving its state and before publishing: the state is one pass
	# ahead of the snapshot, and whole.
	check "mem-prober: the state file is whole" "deephealth-probe-state 1|sa1 sa2 auth" \
		"$(head -n 1 "$WORK/state.mem")|$(tail -n +2 "$WORK/state.mem" | cut -d' ' -f1 | tr '\n' ' ' | sed 's/ $//')"
	check "mem-prober: the prober said what it could not allocate" yes \
		"$(grep -qE 'error: .*(alloc|Cannot allocate memory)' "$WORK/probe.out" && echo yes)"
	recovers mem-prober
	intact mem-prober
fi

# ---- 10, 11. lighttpd reloaded (SIGUSR1, Debian's systemctl reload) and restarted ---------------
if want web-reload; then
	# lighttpd closes its idle keep-alive connections: a request sent on one just as it
	# closes fails (openloop does not retry; a probe's next attempt gets through).  At most
	# one per connection.
	fault web-reload 8 'kill -USR1 "$LPID"' 4 :
	echo "# web-reload: $(field errors) failed, $(field foreign) from lighttpd itself, max $(field max_ms) ms"
	only_ours web-reload 8
	recovers web-reload
	RESP0=$(responders | tr '\n' ' ')
fi
if want web-restart; then
	restart_web() {
		kill "$LPID"
		for _ in $(seq 100); do kill -0 "$LPID" 2>/dev/null || break; sleep 0.05; done
		wait "$LPID" 2>/dev/null
		start_lighttpd
	}
	fault web-restart 8 restart_web 4 :
	echo "# web-restart: $(field errors) failed, $(field conn_errors) connection errors, max $(field max_ms) ms"
	only_ours web-restart 8
	recovers web-restart
	RESP0=$(responders | tr '\n' ' ')
fi

# ---- 12, 13. a responder SIGSTOPped for 3 s, then one SIGKILLed, then both ------------------
if want responder-stop; then
	victim=$(responders | head -n 1)
	fault responder-stop 8 "kill -STOP $victim" 3 "kill -CONT $victim"
	echo "# responder-stop: max $(field max_ms) ms, p99 $(field p99_ms) ms"
	only_ours responder-stop
	recovers responder-stop
	same_responders responder-stop "$RESP0"
fi
if want responder-kill; then
	victim=$(responders | head -n 1)
	fault responder-kill 8 "kill -KILL $victim" 3 :
	echo "# responder-kill: $(field foreign) from lighttpd itself between $(field foreign_first_ms) and $(field foreign_last_ms) ms"
	recovers responder-kill
	check "responder-kill: lighttpd started another" 2 "$(responders | wc -l)"
	RESP0=$(responders | tr '\n' ' ')
fi

if want responders-kill; then
	# Both at once: lighttpd has no responder until it has started new ones, and answers
	# for itself meanwhile.
	fault responders-kill 8 'kill -KILL $(responders)' 3 :
	echo "# responders-kill: $(field foreign) from lighttpd itself between $(field foreign_first_ms) and $(field foreign_last_ms) ms"
	ours_or_5xx responders-kill
	recovers responders-kill
	check "responders-kill: lighttpd started two more" 2 "$(responders | wc -l)"
	RESP0=$(responders | tr '\n' ' ')
fi

# ---- 14. the prober SIGSTOPped across max_age ---------------------------------------------
if want prober-stop; then
	fault prober-stop 12 'kill -STOP "$PROBER_PID"' 8 'kill -CONT "$PROBER_PID"'
	only_ours prober-stop
	saw prober-stop 200/snapshot-stale
	recovers prober-stop
	intact prober-stop
	same_responders prober-stop "$RESP0"
fi

# ---- 15. a dependency that trickles its reply a byte a second ------------------------------
if want trickle; then
	fault trickle 10 'mode sa2 "trickle 1000"' 6 'mode sa2 200'
	only_ours trickle
	saw trickle 503/dependency-failed
	check "trickle: no answer failed open (every pass published in time)" "0 0" \
		"${ANS[200/snapshot-stale]:-0} ${ANS[200/prober-blind]:-0}"
	recovers trickle
	same_responders trickle "$RESP0"
fi

# ---- 19, 20, 21. nginx in front of the responder pool (deephealth.fcgi -n 2, as systemd
# runs it): the pool rolled (SIGHUP: its workers replaced one at a time), a worker killed,
# nginx reloaded.  The same prober, snapshot and registries as above.
if want pool-roll || want pool-worker-kill || want nginx-reload; then
	PD=$WORK/pool
	mkdir -p "$PD"
	www_dir "$PD/run"
	PSOCK=$PD/run/fcgi.sock
	# shellcheck disable=SC2046 # fcgi_cmd_bin prints a command line
	if pool_start "$PSOCK" "$PD/responder.log" 2 "$CONF" $(fcgi_cmd_bin); then
		ok "pool: two workers answer"
	else
		not_ok "pool: two workers answer"
	fi
	N=$WORK/nginx
	mkdir -p "$N"
	localize_pool_conf conf/nginx-deephealth.conf "$PSOCK" | localize_www "$WORK" >"$N/deephealth.conf"
	NPORT=$(free_port)
	nginx_base "$N" "$NPORT" "$N/deephealth.conf" off
	nginx_start "$N"
	U=http://127.0.0.1:$NPORT
	wait_http "$U/" && ok "nginx: started on the shipped snippet" || not_ok "nginx: started"
	workers() { pgrep -P "$POOL_PID" | sort; }
	t=$(wait_normal)
	check_match "nginx: answers as through lighttpd" '^[0-9.]+$' "$t"
	W0=$(workers | tr '\n' ' ')
fi
if want pool-roll; then
	fault pool-roll 8 'kill -HUP "$POOL_PID"' 4 :
	only_ours pool-roll
	recovers pool-roll
	check "pool-roll: two workers, both new" "2 0" \
		"$(workers | wc -l) $(comm -12 <(workers) <(tr ' ' '\n' <<<"$W0" | sort) | wc -l)"
	W0=$(workers | tr '\n' ' ')
fi
if want pool-worker-kill; then
	# The kernel queues connections on the socket both workers accept from: the survivor
	# takes them; only a request the killed worker was answering is lost (nginx's 502).
	fault pool-worker-kill 8 "kill -KILL $(workers | head -n 1)" 3 :
	echo "# pool-worker-kill: $(field foreign) from nginx itself between $(field foreign_first_ms) and $(field foreign_last_ms) ms"
	ours_or_5xx pool-worker-kill
	recovers pool-worker-kill
	check "pool-worker-kill: the supervisor started another" 2 "$(workers | wc -l)"
fi
if want nginx-reload; then
	fault nginx-reload 8 'kill -HUP "$(cat "$N/nginx.pid")"' 4 :
	only_ours nginx-reload 8
	recovers nginx-reload
fi

finish
