#!/usr/bin/env bash
# fleet.sh: end-to-end suite for one region run as a fleet (docs/fleet.md).  Region A is
# three probers and four front doors on 127.0.0.1.  Each prober has its own configuration,
# snapshot, state and `deephealth-probe -r 1` loop, and its own lighttpd serving that
# snapshot with the shipped conf/lighttpd-snapshot.conf.  The probers share the same
# dependency stand-ins (httpfix, redis), except that prober 1 reaches storage account sa1
# through a stand-in of its own, so one scenario can cut it off alone.  Each front door has
# its own web server (D1 and D3 lighttpd, D2 and D4 Apache, each with the shipped snippet),
# responder and `deephealth-follow -r 1`.  Region B is one machine, as in run.sh, so the
# Traffic Manager emulator has somewhere to send traffic.  The emulator probes the four
# doors and B as five endpoints: a profile stays in A while any door is online for it.  The
# suite also reports what each door said.  Besides the emulator, every door is sampled with
# curl every 100 ms during a scenario.
#
#   bash tests/e2e/fleet.sh               every scenario (about 3 minutes on 2 cores)
#   E2E_FAST=1 bash tests/e2e/fleet.sh    scenarios 1q, 6q and 7q (for make check; about 70 s)
#   FLEET_SCENARIOS="3q 3f" ...           a chosen subset (IDs from the table below)
#   KEEP_WORK=1                           keep the scratch directory (printed at the start)
#   BUILD=dir                             another build directory
# Needs build/deephealth.fcgi, deephealth-probe, deephealth-follow, deephealth-snap,
# deephealthctl, httpfix and tmprobe (make all build/httpfix build/tmprobe), lighttpd with
# mod_deflate, Apache with mod_fcgid, redis-server; faketime for scenario 5 (skipped
# without it).
# Assertions are on orders of events and bounds, never on exact timings.  Prints a table
# and a last line "N passed, N failed"; exits non-zero when any scenario failed.
#
# Shared helpers: this file sources tests/e2e/lib.sh for the work directory, the time-scaled
# settings, region B (setup_region), write_conf (each prober's configuration), start_web,
# start_prober/stop_prober, the emulator's log readers and the bookkeeping.  Anything the
# fleet needs beyond that is in this file.

cd "$(dirname "$0")/../.." || exit 2
. tests/e2e/lib.sh

FOLLOW=$BUILD/deephealth-follow
[ -x "$FOLLOW" ] || { echo "missing $FOLLOW (make all)"; echo "0 passed, 1 failed"; exit 1; }

# ---- the fleet's own settings (lib.sh has the prober's and the emulator's) ----
F_INTERVAL=1      # deephealth-follow -r (s)
F_TIMEOUT=500     # follower.timeout_ms
QUORUM=2
STAT_MS=1000      # lighttpd's stat cache can serve a replaced snapshot file for about 1 s
SAMPLE_MS=100     # how often each door is sampled with curl
PROBERS=(A1 A2 A3)
DOORS=(D1 D2 D3 D4)
declare -A DOORKIND=([D1]=lighttpd [D2]=apache [D3]=lighttpd [D4]=apache)
# what the samples ask each door, in this order (fields 2, 3 and 4 of a sample line)
SAMPLE_HOSTS=(contoso.azurecr.io fabrikam.azurecr.io northwind.azurecr.io)
F_CONTOSO=2 F_FABRIKAM=3 F_NORTHWIND=4
ENFORCING='^200:(healthy|single-region)$'
FAILOPEN='^200:(snapshot-stale|prober-blind)$'

# Budgets (ms), from docs/fleet.md's formulas with this suite's values: the follower's
# interval and the prober web server's stat cache (STAT_MS) on top of one machine's.  With
# quorum the k-th prober decides: one more interval.
D_FRESHEST=$((P_FALL * P_INTERVAL * 1000 + P_DEADLINE * 1000 + F_INTERVAL * 1000 + STAT_MS + RECHECK_MS))
D_QUORUM=$((D_FRESHEST + P_INTERVAL * 1000))
TM_MOVE=$(((TM_TOL + 1) * TM_INTERVAL))
F_BACK=$((P_RISE * P_INTERVAL * 1000 + P_DEADLINE * 1000 + F_INTERVAL * 1000 + STAT_MS + RECHECK_MS + TM_INTERVAL))
Q_BACK=$((F_BACK + P_INTERVAL * 1000))
# fail open: A + F + R + P after the last publish (+1 s: ages are whole seconds)
B_OPEN=$(((MAX_AGE + 1) * 1000 + RECHECK_MS + TM_INTERVAL))  # age counts from the prober
# a restarted prober's snapshot reaches the doors: a pass, the deadline, F, the stat cache, R
B_RESUME=$((P_INTERVAL * 1000 + P_DEADLINE * 1000 + F_INTERVAL * 1000 + STAT_MS + RECHECK_MS))
WINDOW_MAX=$((F_INTERVAL * 1000 + 1500))

# budget_fail POLICY / budget_back POLICY: door to emulator, in ms
budget_door() { if [ "$1" = quorum ]; then echo "$D_QUORUM"; else echo "$D_FRESHEST"; fi; }
budget_fail() { echo $(($(budget_door "$1") + TM_MOVE)); }
budget_back() { if [ "$1" = quorum ]; then echo "$Q_BACK"; else echo "$F_BACK"; fi; }

declare -A PPORT PWEB PFIX DURL DPID FPID
SPIDS=()
POLICY=""

# ---- region A: the shared stand-ins ----
setup_shared() {
	local d
	mkdir -p "$WORK/A"
	for d in "${DEPS[@]}"; do start_fix A "$d"; done
	for _ in 1 2 3; do
		REDIS_PORT[A]=$(free_port)
		start_redis A && break
		stop_redis A
	done
	redis-cli -p "${REDIS_PORT[A]}" ping >/dev/null 2>&1 || { tail -n 5 "$WORK/A/redis.log"; return 1; }
	cat >"$WORK/A/registries.map" <<'EOF'
# name      regions              storage  features
contoso     westeurope,eastus2   sa1      metadata-search
fabrikam    westeurope,eastus2   sa2      -
northwind   westeurope           sa1      -
EOF
	cat >"$WORK/A/hosts.map" <<'EOF'
# custom domains
registry.contoso.com   contoso
cr.fabrikam.example    fabrikam
EOF
}

# ---- a prober: configuration, loop, web server ----
# pweb_start PROBER [FILE]: its lighttpd on its port with the shipped snippet, serving FILE
# (default: its snapshot).  The port stays the prober's for the whole run: the doors'
# sources name it.
pweb_start() {
	local r=$1 file=${2:-$WORK/$1/snapshot} d=$WORK/$1/pweb
	rm -rf "$d"
	mkdir -p "$d/www"
	lighttpd_base "$d" "${PPORT[$r]}" "$d/www"
	sed -e "s#/var/lib/deephealth/snapshot#$file#" \
		-e "s#/var/lib/deephealth/overrides.region#$WORK/$r/overrides.region#" conf/lighttpd-snapshot.conf >>"$d/lighttpd.conf"
	chmod -R a+rX "$d"
	lighttpd -D -f "$d/lighttpd.conf" >>"$d/stdout.log" 2>&1 &
	PWEB[$r]=$!
	PIDS+=($!)
	wait_http "http://127.0.0.1:${PPORT[$r]}/"
}
pweb_stop() { [ -n "${PWEB[$1]:-}" ] && stop_web "${PWEB[$1]}"; PWEB[$1]=""; }

# pfix_start PROBER MODE: an httpfix on the prober's web port instead of its lighttpd
pfix_start() {
	local r=$1 d=$WORK/$1/pfix
	mkdir -p "$d"
	echo "$2" >"$d/mode"
	rm -f "$d/pid.port"
	"$HTTPFIX" -p "${PPORT[$r]}" -f "$d/mode" -P "$d/pid" -l "$d/log" >/dev/null 2>>"$d/log" &
	PFIX[$r]=$!
	PIDS+=($!)
	for _ in $(seq 100); do [ -s "$d/pid.port" ] && return 0; sleep 0.05; done
	echo "#   httpfix did not take port ${PPORT[$r]}: $(tail -n 1 "$d/log")"; return 1
}
pfix_mode() { echo "$2" >"$WORK/$1/pfix/mode.new" && mv "$WORK/$1/pfix/mode.new" "$WORK/$1/pfix/mode"; sleep 0.06; }
pfix_stop() {
	local p=${PFIX[$1]:-}
	[ -n "$p" ] || return 0
	kill "$p" 2>/dev/null
	for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
	wait "$p" 2>/dev/null
	PFIX[$1]=""
}

# prober_start PROBER [PREFIX...]: lib.sh's start_prober, with a command in front (faketime)
prober_start() {
	local r=$1; shift
	"$@" "$PROBE" -v -r "$P_INTERVAL" -d 1800 -c "$WORK/$r/dh.conf" > >(ts_lines >>"$WORK/$r/probe.out") 2>&1 &
	PROBER_PID[$r]=$!
}

setup_prober() { # PROBER
	local r=$1 R=$WORK/$1 d
	mkdir -p "$R"
	for d in "${DEPS[@]}"; do FIX[$r.$d]=${FIX[A.$d]}; done
	# prober 1 reaches sa1 through its own stand-in: scenario 3 cuts it off alone
	[ "$r" = A1 ] && start_fix A1 sa1
	REDIS_PORT[$r]=${REDIS_PORT[A]}
	cp "$WORK/A/registries.map" "$WORK/A/hosts.map" "$R/"
	write_conf "$r" enforce "$R/dh.conf"
	"$PROBE" -t -c "$R/dh.conf" || return 1
	"$PROBE" -c "$R/dh.conf" >>"$R/probe.out" 2>&1
	chmod -R a+rX "$R"
	PPORT[$r]=$(free_port)
	prober_start "$r"
	pweb_start "$r"
}
prober_url() { echo "http://127.0.0.1:${PPORT[$1]}/deephealth-snapshot"; }

# ---- a front door: configuration, follower, web server ----
door_conf() { # DOOR POLICY: written whole and renamed into place
	local D=$WORK/$1 r list=""
	for r in "${PROBERS[@]}"; do list+="${list:+, }\"$(prober_url "$r")\""; done
	cat >"$D/dh.conf.new" <<EOF
snapshot = { path = "$D/snapshot"; max_age = $MAX_AGE; };
responder = { mode = "enforce"; kill_switch = "$D/disable"; overrides = "$D/overrides"; counters = "$WORK/run/$1-counters"; recheck_ms = $RECHECK_MS; detail = "cause"; };
resolver = {
  host_map = "$D/hosts.map";
  rules = ( "^(?<registry>[a-z0-9]{5,50})\\\\.azurecr\\\\.io\$",
            "^(?<registry>[a-z0-9]{5,50})\\\\.[a-z0-9]+\\\\.data\\\\.azurecr\\\\.io\$" );
};
log = { level = "info"; };
follower = { sources = ( $list ); policy = "$2"; quorum = $QUORUM;
             timeout_ms = $F_TIMEOUT; cache = "$D/cache"; };
prober = { event_log = "$D/events.log"; };
EOF
	chmod 644 "$D/dh.conf.new"
	mv "$D/dh.conf.new" "$D/dh.conf"
}
follower_start() { # DOOR
	"$FOLLOW" -v -r "$F_INTERVAL" -d 3600 -c "$WORK/$1/dh.conf" > >(ts_lines >>"$WORK/$1/follow.out") 2>&1 &
	FPID[$1]=$!
}
follower_stop() { # DOOR
	local p=${FPID[$1]:-}
	[ -n "$p" ] || return 0
	kill "$p" 2>/dev/null
	for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
	kill -9 "$p" 2>/dev/null
	wait "$p" 2>/dev/null
	FPID[$1]=""
}
setup_door() { # DOOR POLICY
	local n=$1 D=$WORK/$1 port
	mkdir -p "$D"
	cp "$WORK/A/hosts.map" "$D/"
	door_conf "$n" "$2"
	"$FCGI" -t -c "$D/dh.conf" >/dev/null || return 1
	"$FOLLOW" -t -c "$D/dh.conf" >/dev/null || return 1
	# one pass before the web server starts, so the responders find a snapshot
	"$FOLLOW" -v -c "$D/dh.conf" > >(ts_lines >>"$D/follow.out") 2>&1 || { tail -n 3 "$D/follow.out"; return 1; }
	chmod -R a+rX "$D"
	follower_start "$n"
	port=$(free_port)
	start_web "${DOORKIND[$n]}" "$D/web" "$port" "$D/dh.conf" || return 1
	DPID[$n]=$WEB_PID
	DURL[$n]="http://127.0.0.1:$port"
}

# set_policy POLICY: every door's follower restarted with it (its cache kept)
set_policy() {
	local d
	[ "$POLICY" = "$1" ] && return 0
	for d in "${DOORS[@]}"; do follower_stop "$d"; done
	for d in "${DOORS[@]}"; do door_conf "$d" "$1"; follower_start "$d"; done
	POLICY=$1
	echo "# === followers: policy $1$([ "$1" = quorum ] && echo " $QUORUM")"
}

fl_cleanup() {
	local k
	for k in "${SPIDS[@]}"; do kill "$k" 2>/dev/null; done
	for k in "${DOORS[@]}"; do follower_stop "$k"; done
	for k in "${PROBERS[@]}"; do stop_prober "$k"; done
	e2e_cleanup
}
trap fl_cleanup EXIT

# ---- observing: samples of every door ----
# sampler DOOR: every SAMPLE_MS one curl asks the door about every SAMPLE_HOSTS (one
# connection); a line "EPOCH_MS CODE:REASON ..." per round.
sampler() {
	local url=${DURL[$1]} t left h args=()
	for h in "${SAMPLE_HOSTS[@]}"; do
		[ ${#args[@]} -gt 0 ] && args+=(--next)
		args+=(-s -o /dev/null --max-time 1 -H "Host: $h" -w '%{http_code}:%header{x-deephealth-reason} ' "$url/health")
	done
	while :; do
		t=${EPOCHREALTIME/./}; t=${t:0:-3}
		printf '%s %s\n' "$t" "$(curl "${args[@]}")"
		left=$((t + SAMPLE_MS - $(now_ms)))
		[ "$left" -gt 0 ] && sleep "0.$(printf '%03d' "$left")"
	done
}
slog() { echo "$WORK/samples.$SC.$1.log"; }
samplers_start() {
	local d
	for d in "${DOORS[@]}"; do
		sampler "$d" >"$(slog "$d")" 2>/dev/null &
		SPIDS+=($!)
		PIDS+=($!)
	done
}
samplers_stop() {
	local p
	for p in "${SPIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${SPIDS[@]}"; do wait "$p" 2>/dev/null; done
	SPIDS=()
}
# A sample the door did not answer within curl's --max-time (000: a loaded machine) says
# nothing about what the door would answer: every reader below skips it, and the scenario
# reports how many there were.
# first_at DOOR FIELD REGEX AFTER: epoch ms of the door's first sample after AFTER whose
# FIELD matches REGEX; empty if none yet
first_at() {
	awk -v f="$2" -v re="$3" -v a="$4" '$1 > a && $f !~ /^000:/ && $f ~ re { print $1; exit }' "$(slog "$1")"
}
# settled_at DOOR FIELD REGEX AFTER BEFORE: the sample from which FIELD matched REGEX for
# good in (AFTER, BEFORE): after the last one that did not; empty if the last did not
settled_at() {
	awk -v f="$2" -v re="$3" -v a="$4" -v b="$5" '
		$1 > a && $1 < b && $f !~ /^000:/ { if ($f ~ re) { if (t == "") t = $1 } else t = "" }
		END { print t }' "$(slog "$1")"
}
# off_count DOOR FIELD REGEX FROM TO: samples in (FROM, TO) whose FIELD does not match
off_count() {
	awk -v f="$2" -v re="$3" -v a="$4" -v b="$5" '$1 > a && $1 < b && $f !~ /^000:/ && $f !~ re { n++ } END { print n + 0 }' "$(slog "$1")"
}
# off_example DOOR FIELD REGEX FROM TO: the first such sample, for the report
off_example() {
	awk -v f="$2" -v re="$3" -v a="$4" -v b="$5" '$1 > a && $1 < b && $f !~ /^000:/ && $f !~ re { print; exit }' "$(slog "$1")"
}
# flips DOOR FIELD FROM TO: how often FIELD's code changed in (FROM, TO)
flips() {
	awk -v f="$2" -v a="$3" -v b="$4" '$1 > a && $1 < b && $f !~ /^000:/ { c = substr($f, 1, 3); if (l != "" && c != l) n++; l = c } END { print n + 0 }' "$(slog "$1")"
}
# share DOOR FIELD REGEX FROM TO: percentage of samples in (FROM, TO) matching
share() {
	awk -v f="$2" -v re="$3" -v a="$4" -v b="$5" '$1 > a && $1 < b && $f !~ /^000:/ { n++; if ($f ~ re) m++ } END { printf "%d", n ? 100 * m / n : 0 }' "$(slog "$1")"
}
unanswered() { cat "$WORK"/samples."$SC".*.log 2>/dev/null | grep -c ' 000:'; }
# wait_doors FIELD REGEX AFTER BOUND_MS: until every door has a matching sample after AFTER;
# prints the four times (door order), returns 1 on timeout
wait_doors() {
	local end=$(($(now_ms) + $4)) d t out missing
	while :; do
		out="" missing=""
		for d in "${DOORS[@]}"; do
			t=$(first_at "$d" "$1" "$2" "$3")
			out+="${t:--} "
			[ -z "$t" ] && missing+="$d "
		done
		[ -z "$missing" ] && { echo "${out% }"; return 0; }
		[ "$(now_ms)" -ge "$end" ] && { echo "${out% }"; echo "#   waited $4 ms for /$2/ (field $1) on $missing" >&2; return 1; }
		sleep 0.1
	done
}
# expect_enforcing FROM TO [FIELDS]: every sample of every door in (FROM, TO) enforcing
expect_enforcing() {
	local d f n
	for d in "${DOORS[@]}"; do
		for f in ${3:-$F_CONTOSO $F_FABRIKAM $F_NORTHWIND}; do
			n=$(off_count "$d" "$f" "$ENFORCING" "$1" "$2")
			[ "$n" = 0 ] || fail_because "$d: $n samples of ${SAMPLE_HOSTS[f - 2]} not enforcing, e.g. [$(off_example "$d" "$f" "$ENFORCING" "$1" "$2")]"
		done
	done
}
samples_total() { cat "$WORK"/samples."$SC".*.log 2>/dev/null | wc -l; }
minmax() { tr ' ' '\n' | grep -v '^-*$' | sort -n | sed -n '1p;$p' | tr '\n' ' '; }
spread() { # "T1 T2 ...": max - min
	local m; read -r -a m <<<"$(echo "$1" | minmax)"
	[ ${#m[@]} = 2 ] && echo $((m[1] - m[0])) || echo -
}
latest() { echo "$1" | minmax | awk '{ print $2 }'; }
earliest() { echo "$1" | minmax | awk '{ print $1 }'; }

# ---- observing: the followers, the probers ----
# flog_since DOOR REGEX AFTER: lines of the door's follower log after AFTER matching REGEX
flog_count() { awk -v a="$3" -v re="$2" '$1 > a && $0 ~ re' "$WORK/$1/follow.out" | wc -l; }
# every_door_logged REGEX AFTER BOUND_MS: until each follower logged a line matching REGEX
every_door_logged() {
	local end=$(($(now_ms) + $3)) d missing
	while :; do
		missing=""
		for d in "${DOORS[@]}"; do [ "$(flog_count "$d" "$1" "$2")" -gt 0 ] || missing+="$d "; done
		[ -z "$missing" ] && return 0
		[ "$(now_ms)" -ge "$end" ] && { echo "#   no follower line /$1/ on: $missing" >&2; return 1; }
		sleep 0.1
	done
}
dep_state() { "$SNAPTOOL" dump -a 3600 "$1" 2>/dev/null | awk -v d="$2" '$1 == "dep" && $2 == d { print $3 }'; }
snap_created() { "$SNAPTOOL" dump -a 3600 "$1" 2>/dev/null | sed -n 's/.*: OK: created \([0-9]*\).*/\1/p;' | head -n 1; }
# wait_dep FILE DEP STATE BOUND_MS
wait_dep() {
	local end=$(($(now_ms) + $4))
	while [ "$(now_ms)" -lt "$end" ]; do
		[ "$(dep_state "$1" "$2")" = "$3" ] && return 0
		sleep 0.1
	done
	return 1
}
last_publish() { # the epoch ms of the last snapshot any prober published
	local r t max=0
	for r in "${PROBERS[@]}"; do
		t=$(awk '/debug: published/ { t = $1 } END { print (t == "" ? 0 : t) }' "$WORK/$r/probe.out")
		[ "$t" -gt "$max" ] && max=$t
	done
	echo "$max"
}

# published_from DOOR FROM TO: which prober's snapshot the door's follower published in
# (FROM, TO), freshest only: "A1:12,A2:0,A3:1"
published_from() {
	local r out="" n
	for r in "${PROBERS[@]}"; do
		n=$(awk -v a="$2" -v b="$3" -v u="from $(prober_url "$r") " '$1 > a && $1 < b && index($0, "debug: published") && index($0, u)' "$WORK/$1/follow.out" | wc -l)
		out+="$r:$n,"
	done
	echo "${out%,}"
}

# ---- observing: the emulator over the four doors and B ----
fl_tm_start() {
	local args=() p d
	for p in "${PROFILES[@]}"; do args+=(-r "$p=${HOSTOF[$p]}"); done
	for d in "${DOORS[@]}"; do args+=(-e "A$d=${DURL[$d]}"); done
	TMLOG=$WORK/tm.$SC.log
	"$TMPROBE" "${args[@]}" -e "B=${URL[B]}" -i "$TM_INTERVAL" -w "$TM_TIMEOUT" -f "$TM_TOL" -t 300 >"$TMLOG" 2>&1 &
	TM_PID=$!
	PIDS+=($!)
	for _ in $(seq 100); do [ "$(grep -c '^[0-9]' "$TMLOG")" -ge "${#PROFILES[@]}" ] && break; sleep 0.05; done
}
# fl_route_seq PROFILE: the routing history, any door of A counted as A: "A>B>A"
fl_route_seq() {
	awk -v p="$1" '$2 == p { r = ($3 ~ /^A/) ? "A" : $3; if (r != last) { s = s (s == "" ? "" : ">") r; last = r } } END { print s }' "$TMLOG"
}
# door_seq PROFILE N: door N's (1..4; 5 is B) state history, "online>degraded>online"
door_seq() {
	awk -v p="$1" -v c=$((3 + $2)) '$2 == p && $c != last { s = s (s == "" ? "" : ">") $c; last = $c } END { print s }' "$TMLOG"
}
# fl_wait_route PROFILE REGION AFTER BOUND: epoch ms of the first tick after AFTER routing
# PROFILE to REGION (A: any door)
fl_wait_route() {
	local end=$(($(now_ms) + $4)) s t
	s=$(tm_start_ms)
	while :; do
		t=$(awk -v p="$1" -v r="$2" -v s="$s" -v a="$3" '$2 == p && substr($3, 1, 1) == r && s + $1 > a { printf "%.0f\n", s + $1; exit }' "$TMLOG")
		[ -n "$t" ] && { echo "$t"; return 0; }
		[ "$(now_ms)" -ge "$end" ] && return 1
		sleep 0.1
	done
}
fl_group_route() { # "PROFILES" REGION AFTER BOUND: the latest of the group's first ticks
	local p t max=""
	for p in $1; do
		t=$(fl_wait_route "$p" "$2" "$3" "$4") || { echo ""; return 1; }
		if [ -z "$max" ] || [ "$t" -gt "$max" ]; then max=$t; fi
	done
	echo "$max"
}
# fl_expect_seq "PROFILES" SEQ [DOORSEQ]: each profile routed SEQ; every door's state for it
# went through DOORSEQ (default: online throughout when SEQ is A)
fl_expect_seq() {
	local p got i want=${3:-}
	[ -z "$want" ] && [ "$2" = A ] && want=online
	for p in $1; do
		got=$(fl_route_seq "$p")
		[ "$got" = "$2" ] || fail_because "$p routed $got, expected $2"
		[ -n "$want" ] || continue
		for i in 1 2 3 4; do
			got=$(door_seq "$p" "$i")
			[ "$got" = "$want" ] || fail_because "$p on D$i: $got, expected $want"
		done
	done
}
fl_expect_b_online() {
	local p
	for p in $ALL; do [ "$(door_seq "$p" 5)" = online ] || fail_because "$p: region B went degraded"; done
}
fl_observed() {
	local p out=""
	for p in "${PROFILES[@]}"; do out+="$p:$(fl_route_seq "$p") "; done
	echo "${out% }"
}

# ---- settling, warming up ----
# fl_settle: every prober sees every dependency pass, every door and B answer enforcing
fl_settle() {
	local r d h end=$(($(now_ms) + 30000)) bad why
	while [ "$(now_ms)" -lt "$end" ]; do
		bad=0 why=""
		for r in "${PROBERS[@]}"; do
			[ "$("$SNAPTOOL" dump "$WORK/$r/snapshot" 2>/dev/null | awk '$1 == "dep" && $3 != "pass"' | wc -l)" = 0 ] ||
				{ bad=1; why="$r: a dependency not passing"; }
		done
		for d in "${DOORS[@]}"; do
			for h in "${SAMPLE_HOSTS[@]}"; do
				[[ $(req_reason "${DURL[$d]}" "$h") =~ ^200\ (healthy|single-region) ]] || { bad=1; why="$d $h: $(req_reason "${DURL[$d]}" "$h")"; }
			done
		done
		for h in "${SAMPLE_HOSTS[@]}"; do
			[[ $(req_reason "${URL[B]}" "$h") =~ ^200\ (healthy|single-region) ]] || { bad=1; why="B $h"; }
		done
		[ $bad = 0 ] && return 0
		sleep 0.2
	done
	echo "# the fleet did not settle: $why"; return 1
}
# fl_warm_up: grow the Apache pools (see lib.sh's warm_up), then 8 ticks of 200s everywhere
fl_warm_up() {
	local b i u burst end need
	for b in 1 2 3 4 5 6; do
		burst=()
		for u in "${DURL[D2]}" "${DURL[D4]}" "${URL[B]}"; do
			for i in $(seq 24); do
				curl -s -o /dev/null --max-time 3 -H "Host: contoso.azurecr.io" "$u/health" &
				burst+=($!)
			done
		done
		wait "${burst[@]}"
	done
	SC=warmup; fl_tm_start
	end=$(($(now_ms) + 30000)) need=$((8 * ${#PROFILES[@]}))
	# 8 ticks in a row with every endpoint online and at most 2 of their 240 probes unanswered
	# (a loaded machine misses the odd 400 ms timeout; a door is degraded only after 4 in a row)
	while [ "$(now_ms)" -lt "$end" ]; do
		[ "$(grep '^[0-9]' "$TMLOG" | tail -n "$need" | awk -v need="$need" '
			{ n++; for (i = 4; i <= 8; i++) if ($i != "online") bad = 1
			  for (i = 9; i <= 13; i++) if ($i != "200") miss++ }
			END { print (n >= need && !bad && miss <= 2) ? "ok" : "no" }')" = ok ] &&
			{ tm_stop; return 0; }
		sleep 0.25
	done
	tm_stop; echo "# warm-up: the doors did not answer every probe in time for 8 ticks"; return 1
}

# begin ID TEXT: a scenario's start: settled, emulator and samplers running
begin() {
	sc_begin "$1" "$2"
	fl_settle || fail_because "not settled"
	fl_tm_start
	samplers_start
	hold 1500
}
hold_until() { local left=$(($1 - $(now_ms))); [ "$left" -gt 0 ] && hold "$left"; return 0; }
end_observing() { hold "${1:-1000}"; tm_stop; samplers_stop; }
# fig NAME VALUE: one measured figure for the table and the summary
FIGS=""
fig() { FIGS+="$1=$2 "; echo "#   $1: $2"; }
ROW_SKIP=0
# fl_row ID POLICY TEXT EXPECTED OBSERVED: a row of the table (SKIP when the scenario could
# not run here: neither passed nor failed)
N_SKIP=0
fl_row() {
	local res=PASS n
	n=$(unanswered)
	[ "$n" -gt 0 ] && fig "unanswered_samples" "$n"
	[ "$SC_OK" = 1 ] || res=FAIL
	[ "$ROW_SKIP" = 1 ] && res=SKIP
	case $res in PASS) N_PASS=$((N_PASS + 1)) ;; FAIL) N_FAIL=$((N_FAIL + 1)) ;; SKIP) N_SKIP=$((N_SKIP + 1)) ;; esac
	ROWS+=("$1|$2|$3|$4|$5|${FIGS% }|$res")
	echo "#   -> $res"
	FIGS="" ROW_SKIP=0
}

# ==== the scenarios ====
# Each is called as STEP ID POLICY (the followers already run POLICY) and reports one row.

# 1: one prober killed (its web server goes on serving an aging snapshot)
sc_one_killed() {
	local id=$1 pol=$2 ts tk tst tr tfr u
	u=$(prober_url A2)
	begin "$id" "prober A2 killed, its snapshot left to age"
	ts=$(now_ms)
	tk=$(now_ms); stop_prober A2
	every_door_logged "source $u: stale" "$tk" "$(wait_bound $(((MAX_AGE + 1) * 1000 + F_INTERVAL * 1000)))" ||
		fail_because "no follower saw A2's snapshot go stale"
	tst=$(now_ms)
	hold 1500
	tr=$(now_ms); prober_start A2
	every_door_logged "source $u: fresh" "$tr" "$(wait_bound "$B_RESUME")" || fail_because "A2 not fresh again at every follower"
	tfr=$(now_ms)
	end_observing 1500
	expect_enforcing "$ts" "$(now_ms)"
	fl_expect_seq "$ALL" A
	fl_expect_b_online
	fig "stale_at_followers_ms" $((tst - tk))
	fig "fresh_again_ms" $((tfr - tr))
	fig "samples" "$(samples_total)"
	fl_row "$id" "$pol" "prober A2 killed" "nothing changes; every door enforcing" "$(fl_observed)"
}

# reason_seq DOOR FIELD FROM TO: the door's answers for FIELD, repeats collapsed
reason_seq() {
	awk -v f="$2" -v a="$3" -v b="$4" '$1 > a && $1 < b { r = $f; sub(/^200:/, "", r); if (r != l) { s = s (s == "" ? "" : ">") r; l = r } } END { print s }' "$(slog "$1")"
}

# 2: every prober killed: the doors fail open, A + F + R + P after the last publish at most
sc_all_killed() {
	local id=$1 pol=$2 ts tk tl tr d t open back worst=0 least=999999 seqs="" r
	begin "$id" "every prober killed, then restarted"
	ts=$(now_ms)
	for r in "${PROBERS[@]}"; do kill "${PROBER_PID[$r]}" 2>/dev/null; done
	for r in "${PROBERS[@]}"; do stop_prober "$r"; done
	tk=$(now_ms); tl=$(last_publish)
	open=$(wait_doors "$F_CONTOSO" "$FAILOPEN" "$tk" "$(wait_bound "$B_OPEN")") || fail_because "not every door failed open"
	for t in $open; do
		[ "$t" = - ] && continue
		[ $((t - tl)) -gt "$worst" ] && worst=$((t - tl))
		[ $((t - tl)) -lt "$least" ] && least=$((t - tl))
	done
	[ "$worst" -gt "$B_OPEN" ] && fail_because "a door failed open $worst ms after the last publish (bound A+1+R+P = $B_OPEN)"
	[ "$least" -lt $(((MAX_AGE - 2) * 1000)) ] && fail_because "a door failed open $least ms after the last publish: before its snapshot could be stale"
	# every host fails open too
	wait_doors "$F_FABRIKAM" "$FAILOPEN" "$tk" 3000 >/dev/null || fail_because "fabrikam did not fail open on every door"
	hold 1500
	tr=$(now_ms)
	for r in "${PROBERS[@]}"; do prober_start "$r"; done
	back=$(wait_doors "$F_CONTOSO" "$ENFORCING" "$tr" "$(wait_bound $((B_RESUME + P_INTERVAL * 1000)))") ||
		fail_because "the doors did not enforce again after the probers restarted"
	end_observing 1500
	for d in "${DOORS[@]}"; do
		[ "$(off_count "$d" "$F_CONTOSO" '^200:' "$ts" "$(now_ms)")" = 0 ] || fail_because "$d answered other than 200: [$(off_example "$d" "$F_CONTOSO" '^200:' "$ts" "$(now_ms)")]"
		seqs+="$d:$(reason_seq "$d" "$F_CONTOSO" "$ts" "$(now_ms)") "
		# enforcing until the earliest moment its snapshot could be stale
		[ "$(off_count "$d" "$F_CONTOSO" "$ENFORCING" "$ts" $((tl + (MAX_AGE - 2) * 1000)))" = 0 ] ||
			fail_because "$d failed open early: [$(off_example "$d" "$F_CONTOSO" "$ENFORCING" "$ts" $((tl + (MAX_AGE - 2) * 1000)))]"
	done
	fl_expect_seq "$ALL" A
	fl_expect_b_online
	fig "fail_open_ms_after_last_publish" "$least..$worst (bound $B_OPEN)"
	fig "enforcing_again_ms_after_restart" "$(($(latest "$back") - tr))"
	fig "answers" "${seqs% }"
	fl_row "$id" "$pol" "every prober killed" "every door 200 fail-open within A+F+R+P, back on restart" "$(fl_observed)"
}

# 3: prober A1 alone cut off from storage account sa1 (its own stand-in answers 500)
sc_partition() {
	local id=$1 pol=$2 ts t0 tseen th d shares="" nflips="" pubs="" rec worst=0 t
	begin "$id" "prober A1's path to sa1 broken"
	ts=$(now_ms)
	t0=$(now_ms); fix_mode A1 sa1 500
	wait_dep "$WORK/A1/snapshot" sa1 fail "$(wait_bound $((P_FALL * P_INTERVAL * 1000 + P_DEADLINE * 1000)))" ||
		fail_because "prober A1 never saw sa1 fail"
	tseen=$(now_ms)
	# long enough that a move would have shown at the emulator
	hold_until $((t0 + $(budget_fail "$pol") + 3000))
	[ "$pol" = quorum ] && for d in "${DOORS[@]}"; do
		[ "$(dep_state "$WORK/$d/snapshot" sa1)" = pass ] || fail_because "$d's snapshot says sa1 $(dep_state "$WORK/$d/snapshot" sa1)"
	done
	th=$(now_ms); fix_mode A1 sa1 200
	wait_dep "$WORK/A1/snapshot" sa1 pass "$(wait_bound $((P_RISE * P_INTERVAL * 1000 + P_DEADLINE * 1000)))" ||
		fail_because "prober A1 never saw sa1 pass again"
	rec=$(wait_doors "$F_CONTOSO" "$ENFORCING" "$th" "$(wait_bound "$(budget_back "$pol")")") || fail_because "not every door enforcing after the heal"
	hold "$(budget_back "$pol")"
	end_observing
	if [ "$pol" = quorum ]; then
		expect_enforcing "$ts" "$(now_ms)"
		fl_expect_seq "$ALL" A
	else
		# measured, not asserted: contoso fails on a door whenever A1's snapshot is the newest
		for d in "${DOORS[@]}"; do
			shares+="$d:$(share "$d" "$F_CONTOSO" '^503:' "$tseen" "$th")% "
			pubs+="$d:$(published_from "$d" "$tseen" "$th") "
			nflips+="$d:$(flips "$d" "$F_CONTOSO" "$tseen" "$th") "
			t=$(settled_at "$d" "$F_CONTOSO" "$ENFORCING" "$th" "$(now_ms)")
			if [ -z "$t" ]; then fail_because "$d: contoso not enforcing for good after the heal"
			elif [ $((t - th)) -gt "$worst" ]; then worst=$((t - th)); fi
		done
		[ "$worst" -gt "$(wait_bound "$(budget_back "$pol")")" ] && fail_because "a door took $worst ms to enforce for good after the heal"
		expect_enforcing "$ts" "$(now_ms)" "$F_FABRIKAM $F_NORTHWIND"
		fl_expect_seq "$FABRIKAM northwind" A
		fig "contoso_503_share_while_A1_failing" "${shares% }"
		fig "contoso_flips" "${nflips% }"
		fig "published_from" "${pubs% }"
		fig "contoso_routed" "$(fl_route_seq contoso)"
		fig "settled_after_heal_ms" "$worst"
	fi
	fl_expect_b_online
	fig "A1_saw_sa1_fail_after_ms" $((tseen - t0))
	if [ "$pol" = quorum ]; then
		fl_row "$id" "$pol" "prober A1 cut off from sa1" "nobody moves on any door" "$(fl_observed)"
	else
		fl_row "$id" "$pol" "prober A1 cut off from sa1" "measured: contoso flaps with the newest snapshot; bounded, recovers" "$(fl_observed)"
	fi
}

# bogus FILE CREATED: a snapshot shaped like prober A2's that fails sa1 and every registry
# on it: what no door may ever serve unless a prober really says so
bogus() {
	"$SNAPTOOL" dump -a 3600 "$WORK/A2/snapshot" | awk -v c="$2" '
		NR == 1 { print "created " c; if (match($0, /interval [0-9]+/)) print substr($0, RSTART, RLENGTH); next }
		$1 == "dep" && $2 == "sa1" { $3 = "fail"; sub(/cause=.*/, "cause=HTTP 500"); print; next }
		$1 == "dep" { print; next }
		$1 == "reg" { if ($0 ~ /uses=([^ ]*,)?sa1([, ]|$)/) { $3 = "fail by=sa1" } print }' >"$WORK/bogus.fix"
	"$SNAPTOOL" compile "$WORK/bogus.fix" "$1" >/dev/null || { echo "#   the bogus snapshot did not compile: $(head -c 300 "$WORK/bogus.fix" | tr '\n' '|')"; return 1; }
	chmod 644 "$1"
}
flip_bit() { python3 -c 'import sys; b = bytearray(open(sys.argv[1], "rb").read()); b[len(b) // 2] ^= 0x20; open(sys.argv[1], "wb").write(b)' "$1"; }

# fault_step NAME REGEX: after a fault was set up, until every follower logs REGEX about
# A2, hold, then restore A2's real web server and wait until it is fresh again everywhere
FAULTS_SEEN=""
fault_step() {
	local t=$1 name=$2 re=$3 u
	u=$(prober_url A2)
	if every_door_logged "source $u: $re" "$t" "$(wait_bound $((F_INTERVAL * 1000 + STAT_MS + F_TIMEOUT * 3)))"; then
		FAULTS_SEEN+="$name;"
	else
		fail_because "$name: not every follower logged /$re/"
	fi
	hold 2000
	pfix_stop A2; pweb_stop A2
	t=$(now_ms); pweb_start A2 || fail_because "A2's web server did not restart"
	every_door_logged "source $u: fresh" "$t" "$(wait_bound "$B_RESUME")" || fail_because "after $name: A2 not fresh again"
}

# 4: prober A2's web server misbehaves in every way but saying something valid
sc_websrv() {
	local id=$1 pol=$2 ts t old
	begin "$id" "prober A2's web server misbehaves"
	ts=$(now_ms)
	t=$(now_ms); pweb_stop A2; pfix_start A2 500 || fail_because "no httpfix on A2's port"
	fault_step "$t" "HTTP 500" "unreachable: HTTP 500"
	t=$(now_ms); pweb_stop A2; pfix_start A2 hang
	fault_step "$t" "hang" "unreachable: .*[Tt]imeout"
	t=$(now_ms); pweb_stop A2; pfix_start A2 close
	fault_step "$t" "reply cut short" "unreachable: .*[Pp]artial"
	t=$(now_ms); pweb_stop A2; pfix_start A2 "body <html><body>502 Bad Gateway</body></html>"
	fault_step "$t" "HTML page" "invalid: refused"
	t=$(now_ms); pweb_stop A2
	fault_step "$t" "refused" "unreachable: .*[Cc]onnect"
	# files: A2's lighttpd serving another file than its prober's snapshot
	bogus "$WORK/A2/bad" $(($(date +%s) + 1)) && flip_bit "$WORK/A2/bad"
	t=$(now_ms); pweb_stop A2; pweb_start A2 "$WORK/A2/bad"
	fault_step "$t" "newer snapshot, a bit flipped" "invalid: refused: .*checksum"
	bogus "$WORK/A2/bad2" $(($(date +%s) + 1)) && head -c $(($(stat -c %s "$WORK/A2/bad2") - 100)) "$WORK/A2/bad2" >"$WORK/A2/bad" && chmod 644 "$WORK/A2/bad"
	t=$(now_ms); pweb_stop A2; pweb_start A2 "$WORK/A2/bad"
	fault_step "$t" "newer snapshot, truncated" "invalid: refused: .*length"
	old=$(($(date +%s) - 2))
	bogus "$WORK/A2/bad" "$old"
	t=$(now_ms); pweb_stop A2; pweb_start A2 "$WORK/A2/bad"
	fault_step "$t" "older valid snapshot failing sa1" "fresh, created $old"
	t=$(now_ms); pweb_stop A2; pweb_start A2 "$WORK/A2/missing"
	fault_step "$t" "404" "unreachable: HTTP 404"
	end_observing
	expect_enforcing "$ts" "$(now_ms)"
	fl_expect_seq "$ALL" A
	fl_expect_b_online
	fig "faults_seen_by_every_follower" "$(echo "$FAULTS_SEEN" | tr -cd ';' | wc -c) of 9"
	FAULTS_SEEN=""
	fl_row "$id" "$pol" "A2's web server: 500, hang, cut short, HTML, refused, flipped bit, truncated, older, 404" "no door says what verified content does not; nothing moves" "$(fl_observed)"
}

# 5: prober A3's clock 30 s ahead of the doors'
FAKETIME_LIB=$(ls /usr/lib/*/faketime/libfaketime.so.1 /usr/lib/faketime/libfaketime.so.1 2>/dev/null | head -n 1)
SKEW=(env LD_PRELOAD="$FAKETIME_LIB" FAKETIME=+30 FAKETIME_DONT_FAKE_MONOTONIC=1)
sc_skew() {
	local id=$1 pol=$2 ts t u c now d bad=""
	u=$(prober_url A3)
	if [ -z "$FAKETIME_LIB" ]; then
		sc_begin "$id" "prober A3 30 s ahead"
		echo "#   SKIP: libfaketime is not installed (Debian package faketime)"
		ROW_SKIP=1; fig note "libfaketime-not-installed"
		fl_row "$id" "$pol" "prober A3 30 s ahead" "its snapshots refused; the others used" "-"
		return
	fi
	begin "$id" "prober A3's clock 30 s ahead (faketime)"
	ts=$(now_ms)
	stop_prober A3
	# libfaketime preloaded, not the faketime wrapper: stop_prober must stop the prober itself
	t=$(now_ms); prober_start A3 "${SKEW[@]}"
	every_door_logged "source $u: invalid: refused: .*future" "$t" "$(wait_bound "$B_RESUME")" ||
		fail_because "no refusal of A3's snapshot as from the future"
	c=$("${SKEW[@]}" "$SNAPTOOL" dump "$WORK/A3/snapshot" 2>/dev/null | sed -n 's/.*: OK: created \([0-9]*\).*/\1/p' | head -n 1)
	now=$(date +%s)
	[ -n "$c" ] && [ "$c" -ge $((now + 25)) ] || fail_because "A3's snapshot not from the future (created ${c:-?}, now $now)"
	fig "A3_snapshot_ahead_s" "$((${c:-0} - now))"
	hold 4000
	for d in "${DOORS[@]}"; do
		c=$(snap_created "$WORK/$d/snapshot")
		[ -n "$c" ] && [ "$c" -le $(($(date +%s) + 1)) ] || bad+="$d(${c:-?}) "
	done
	[ -z "$bad" ] || fail_because "a door published a snapshot from the future: $bad"
	stop_prober A3
	t=$(now_ms); prober_start A3
	every_door_logged "source $u: fresh" "$t" "$(wait_bound "$B_RESUME")" || fail_because "A3 not fresh again after its clock was right"
	fig "fresh_again_after_clock_fixed_ms" $(($(now_ms) - t))
	# Measured, not asserted: a clock 4 s ahead is inside the reader's 5 s, so the snapshots
	# are taken, and under freshest they are always the newest.
	stop_prober A3
	prober_start A3 env LD_PRELOAD="$FAKETIME_LIB" FAKETIME=+4 FAKETIME_DONT_FAKE_MONOTONIC=1
	t=$(now_ms); hold 5000
	fig "published_from_with_A3_4s_ahead" "$(for d in "${DOORS[@]}"; do printf '%s:%s ' "$d" "$(published_from "$d" "$t" "$(now_ms)")"; done)"
	stop_prober A3
	t=$(now_ms); prober_start A3
	every_door_logged "source $u: fresh" "$t" "$(wait_bound "$B_RESUME")" || fail_because "A3 not fresh again after its clock was right"
	end_observing
	expect_enforcing "$ts" "$(now_ms)"
	fl_expect_seq "$ALL" A
	fl_expect_b_online
	fl_row "$id" "$pol" "prober A3 30 s ahead (faketime)" "its snapshots refused (future); the others used; nothing moves" "$(fl_observed)"
}

# 6: storage account sa1 fails for real, every prober sees it (prober A1 through its own
# stand-in for it, faulted too)
sc_storage() {
	local id=$1 pol=$2 ts t0 tf th tb d503 d200 d t s1="" s2="" w1 w2 e
	begin "$id" "sa1 fails for every prober, then heals"
	ts=$(now_ms)
	t0=$(now_ms); fix_mode A sa1 500; fix_mode A1 sa1 500
	d503=$(wait_doors "$F_CONTOSO" '^503:' "$t0" "$(wait_bound "$(budget_door "$pol")")") || fail_because "not every door answered 503 for contoso"
	tf=$(fl_group_route "$CONTOSO" B "$t0" "$(wait_bound "$(budget_fail "$pol")")") || fail_because "$CONTOSO did not all move to B"
	hold 1500
	th=$(now_ms); fix_mode A sa1 200; fix_mode A1 sa1 200
	d200=$(wait_doors "$F_CONTOSO" "$ENFORCING" "$th" "$(wait_bound "$(budget_back "$pol")")") || fail_because "not every door enforcing again"
	tb=$(fl_group_route "$CONTOSO" A "$th" "$(wait_bound "$(budget_back "$pol")")") || fail_because "$CONTOSO did not come back to A"
	end_observing 1500
	# the disagreement: from the first door's first 503 to the last door's 503 for good
	for d in "${DOORS[@]}"; do
		t=$(settled_at "$d" "$F_CONTOSO" '^503:' "$t0" "$th"); s1+="${t:--} "
		t=$(settled_at "$d" "$F_CONTOSO" "$ENFORCING" "$th" "$(now_ms)"); s2+="${t:--} "
	done
	e=$(earliest "$d503"); t=$(latest "$s1")
	w1=$(( ${t:-0} - ${e:-0} ))
	e=$(earliest "$d200"); t=$(latest "$s2")
	w2=$(( ${t:-0} - ${e:-0} ))
	[[ $s1 == *-* ]] && fail_because "a door did not stay at 503 until the heal: $s1"
	[[ $s2 == *-* ]] && fail_because "a door did not stay enforcing after the heal: $s2"
	[ "$w1" -lt "$WINDOW_MAX" ] || fail_because "doors disagreed $w1 ms on the way out (at most $WINDOW_MAX)"
	[ "$w2" -lt "$WINDOW_MAX" ] || fail_because "doors disagreed $w2 ms on the way back (at most $WINDOW_MAX)"
	t=$(latest "$d503")
	[ -n "$t" ] && [ $((t - t0)) -gt "$(budget_door "$pol")" ] && fail_because "the last door answered 503 after $((t - t0)) ms (budget $(budget_door "$pol"))"
	fl_expect_seq "$CONTOSO" "A>B>A" "online>degraded>online"
	fl_expect_seq "$FABRIKAM northwind" A
	fl_expect_b_online
	expect_enforcing "$ts" "$(now_ms)" "$F_FABRIKAM $F_NORTHWIND"
	for d in "${DOORS[@]}"; do
		[ "$(off_count "$d" "$F_CONTOSO" "^(503:|$ENFORCING)" "$ts" "$(now_ms)")" = 0 ] ||
			fail_because "$d: contoso answered neither 503 nor enforcing: [$(off_example "$d" "$F_CONTOSO" "^(503:|200:(healthy|single-region)$)" "$ts" "$(now_ms)")]"
	done
	fig "doors_503_ms" "$(($(earliest "$d503") - t0))..$(($(latest "$d503") - t0)) (budget $(budget_door "$pol"))"
	fig "emulator_to_B_ms" "$(ms_or_dash "$tf" "$t0") (budget $(budget_fail "$pol"))"
	fig "doors_back_ms" "$(($(earliest "$d200") - th))..$(($(latest "$d200") - th))"
	fig "emulator_back_ms" "$(ms_or_dash "$tb" "$th") (budget $(budget_back "$pol"))"
	fig "disagreement_ms" "out $w1, back $w2 (max $WINDOW_MAX)"
	fl_row "$id" "$pol" "sa1 fails for every prober" "contoso* 503 on every door -> B -> A; doors disagree < F+1.5 s" "$(fl_observed)"
}

# 7: a region-wide override set once, on one prober: in force on every door within
# F + stat + R; a damaged, truncated or edited file refused on every door, changing no
# answer; with every prober and its web server dead, the last fetched override stays in
# force on every door until its own expiry, and not a second longer than R after it.
ctl_w() { "$BUILD/deephealthctl" -c "$WORK/$1/dh.conf" "${@:2}"; }
iso_s() { date -u -d "$1" +%s; }
sc_rovr() {
	local id=$1 pol=$2 ts t0 tw bound=$((F_INTERVAL * 1000 + STAT_MS + RECHECK_MS)) d r n
	local until end_ms kept ex
	begin "$id" "region-wide overrides: set once on prober A1"
	ts=$(now_ms)
	t0=$(now_ms)
	ctl_w A1 override add registry:fabrikam force-fail -e 10m -r "INC-7: fabrikam out, region-wide" -w \
		>>"$WORK/ctl.$SC.out" 2>&1 || fail_because "deephealthctl override add -w on A1: $(tail -n 1 "$WORK/ctl.$SC.out")"
	tw=$(wait_doors "$F_FABRIKAM" '^503:override-fail$' "$t0" "$(wait_bound "$bound")") ||
		fail_because "not every door answered fabrikam 503 override-fail"
	n=$(($(latest "$tw") - t0))
	[ "$n" -le $((bound + SAMPLE_MS + 300)) ] ||
		fail_because "the last door took $n ms (bound F + stat + R = $bound ms, + the sampling period)"
	fig "override_on_every_door_ms" "$(($(earliest "$tw") - t0))..$n (bound $bound + sampling $SAMPLE_MS)"
	# where it comes from, on every door
	for d in "${DOORS[@]}"; do
		ctl_w "$d" explain fabrikam.azurecr.io 2>/dev/null | grep -q "set in  *region-wide $WORK/$d/overrides.region:[0-9]* from 127.0.0.1:${PPORT[A1]}\$" ||
			fail_because "$d: explain does not name the region-wide file, its line and A1"
	done
	# the history of each door and of A1 says where it was set
	for d in "${DOORS[@]}"; do
		ctl_w "$d" history registry:fabrikam 2>/dev/null | grep -q "override add    registry:fabrikam force-fail until .* (region-wide from 127.0.0.1:${PPORT[A1]}, by .*): INC-7: fabrikam out, region-wide\$" ||
			fail_because "$d: history registry:fabrikam does not show the region-wide override's arrival"
	done
	ctl_w A1 history registry:fabrikam 2>/dev/null | grep -q "override add    registry:fabrikam force-fail until .* (region-wide, by " ||
		fail_because "A1: history does not show the region-wide override as set there"
	# the node's file on a door is not where it goes: -w there is refused, and nothing is written
	ctl_w D1 override add registry:contoso force-fail -e 10m -r "wrong host" -w >/dev/null 2>&1 &&
		fail_because "deephealthctl override add -w on a door succeeded"
	[ -e "$WORK/D1/overrides" ] && fail_because "a door's node file was written"

	# A2 serves A1's file with one byte changed (force-fail made force-pass: the checksum);
	# A3 a forged one that would fail contoso (a line edited: the length).
	sed 's/force-fail/force-pass/' "$WORK/A1/overrides.region" >"$WORK/A2/overrides.region"
	sed 's/registry:fabrikam force-fail/registry:contoso force-fail/' "$WORK/A1/overrides.region" >"$WORK/A3/overrides.region"
	chmod a+r "$WORK/A2/overrides.region" "$WORK/A3/overrides.region"
	t0=$(now_ms)
	for r in A2 A3; do
		every_door_logged "source 127.0.0.1:${PPORT[$r]}: region-wide overrides .* REFUSED whole" "$t0" "$(wait_bound "$bound")" ||
			fail_because "not every door refused $r's file loudly"
	done
	hold $((F_INTERVAL * 1000 + RECHECK_MS)) # the .fleet file is written at the end of the pass
	for d in "${DOORS[@]}"; do
		n=$(ctl_w "$d" status 2>/dev/null | grep -c "region-wide overrides: REFUSED")
		[ "$n" = 2 ] || fail_because "$d: deephealthctl status shows $n sources REFUSED, not 2"
		curl -s --max-time 2 "${DURL[$d]}/deephealth/metrics" | grep -q "^deephealth_fleet_source_overrides_state{source=\"127.0.0.1:${PPORT[A3]}\",state=\"refused\"} 1\$" ||
			fail_because "$d: the metric does not say A3's overrides are refused"
	done
	ex=$(grep -h "REFUSED whole" "$WORK/D1/follow.out" | tail -n 2 | sed 's/.*REFUSED whole ([^:]*:[0-9]*:[0-9]*: \(.*\)); .*/\1/' | tr '\n' '|')
	fig "refused" "${ex%|}"
	rm -f "$WORK/A2/overrides.region" "$WORK/A3/overrides.region"

	# Every prober and its web server dead: what each door last fetched stays in force to its
	# own expiry.
	t0=$(now_ms)
	ctl_w A1 override add registry:northwind force-fail -e 25s -r "INC-8: expires with the probers dead" -w \
		>>"$WORK/ctl.$SC.out" 2>&1 || fail_because "deephealthctl override add -w northwind"
	until=$(iso_s "$(sed -n 's/^registry:northwind force-fail until=\([^ ]*\) .*/\1/p' "$WORK/A1/overrides.region" | tail -n 1)")
	wait_doors "$F_NORTHWIND" '^503:override-fail$' "$t0" "$(wait_bound "$bound")" >/dev/null ||
		fail_because "not every door answered northwind 503 override-fail"
	kept=$(now_ms)
	for r in "${PROBERS[@]}"; do stop_prober "$r"; pweb_stop "$r"; done
	end_ms=$((until * 1000))
	tw=$(wait_doors "$F_NORTHWIND" '^200:' "$kept" "$(wait_bound $((end_ms - $(now_ms) + RECHECK_MS + 1000)))") ||
		fail_because "northwind not 200 again on every door after its override expired"
	for d in "${DOORS[@]}"; do
		n=$(off_count "$d" "$F_NORTHWIND" '^503:override-fail$' "$kept" $((end_ms - 200)))
		[ "$n" = 0 ] || fail_because "$d: northwind not forced with the probers dead, before its expiry: [$(off_example "$d" "$F_NORTHWIND" '^503:override-fail$' "$kept" $((end_ms - 200)))]"
		grep -q "region-wide overrides not fetched" "$WORK/$d/follow.out" || fail_because "$d: its follower did not say it keeps the last copy"
	done
	[ $(($(latest "$tw") - end_ms)) -le $((RECHECK_MS + SAMPLE_MS + 1000)) ] ||
		fail_because "a door kept northwind forced $(($(latest "$tw") - end_ms)) ms past its expiry"
	fig "expiry_with_every_prober_dead_ms" "$(($(earliest "$tw") - end_ms))..$(($(latest "$tw") - end_ms)) after until= (forced $(((end_ms - kept) / 1000)) s with no prober)"

	# back: the probers and their web servers; the override removed where it was set
	for r in "${PROBERS[@]}"; do pweb_start "$r"; prober_start "$r"; done
	t0=$(now_ms)
	ctl_w A1 override remove registry:fabrikam -w >>"$WORK/ctl.$SC.out" 2>&1 || fail_because "override remove -w on A1"
	wait_doors "$F_FABRIKAM" "$ENFORCING" "$t0" "$(wait_bound $((B_RESUME + bound)))" >/dev/null ||
		fail_because "fabrikam not enforcing again on every door after the removal"
	end_observing 1000
	for d in "${DOORS[@]}"; do
		[ "$(off_count "$d" "$F_CONTOSO" '^200:' "$ts" "$(now_ms)")" = 0 ] ||
			fail_because "$d: contoso other than 200 (a refused file made an answer): [$(off_example "$d" "$F_CONTOSO" '^200:' "$ts" "$(now_ms)")]"
	done
	fl_expect_b_online
	fig "samples" "$(samples_total)"
	fl_row "$id" "$pol" "region-wide override on A1" "every door within F+stat+R; bad files refused; kept to expiry with no prober" "$(fl_observed)"
}

# ==== the table: which scenarios exist, with which follower policy ====
TABLE=(
#  ID | POLICY   | STEP
" 1q  | quorum   | sc_one_killed"
" 1f  | freshest | sc_one_killed"
" 2q  | quorum   | sc_all_killed"
" 2f  | freshest | sc_all_killed"
" 3q  | quorum   | sc_partition"
" 3f  | freshest | sc_partition"
" 4f  | freshest | sc_websrv"
" 5f  | freshest | sc_skew"
" 6q  | quorum   | sc_storage"
" 6f  | freshest | sc_storage"
" 7q  | quorum   | sc_rovr"
)
T_ID=() T_POL=() T_STEP=()
for line in "${TABLE[@]}"; do
	IFS='|' read -r a b c <<<"$line"
	read -r a <<<"$a"; read -r b <<<"$b"; read -r c <<<"$c"
	T_ID+=("$a") T_POL+=("$b") T_STEP+=("$c")
done
if [ -n "${FLEET_SCENARIOS:-}" ]; then SEL=" $FLEET_SCENARIOS "
elif [ -n "${E2E_FAST:-}" ]; then SEL=" 1q 6q 7q "
else SEL=" ${T_ID[*]} "; fi
want() { [[ $SEL == *" $1 "* ]]; }
# run order: every quorum row, then every freshest row (one restart of the followers),
# scenario 2 last in each group (it restarts every prober)
ORDER=()
for pol in quorum freshest; do
	for i in "${!T_ID[@]}"; do [ "${T_POL[$i]}" = "$pol" ] && want "${T_ID[$i]}" && [[ ${T_ID[$i]} != 2* ]] && ORDER+=("$i"); done
	for i in "${!T_ID[@]}"; do [ "${T_POL[$i]}" = "$pol" ] && want "${T_ID[$i]}" && [[ ${T_ID[$i]} == 2* ]] && ORDER+=("$i"); done
done
[ ${#ORDER[@]} -gt 0 ] || { echo "# no scenario selected:$SEL"; echo "0 passed, 1 failed"; exit 1; }
echo "# scenarios:$SEL"

# ==== setup ====
ORIENT=fleet
first_pol=${T_POL[${ORDER[0]}]}
if ! setup_shared || ! setup_prober A1 || ! setup_prober A2 || ! setup_prober A3; then
	KEEP_WORK=1; echo "# setting up the probers failed, logs kept in $WORK"; echo "0 passed, 1 failed"; exit 1
fi
for d in "${DOORS[@]}"; do
	setup_door "$d" "$first_pol" || { KEEP_WORK=1; echo "# door $d did not start, logs kept in $WORK"; echo "0 passed, 1 failed"; exit 1; }
done
POLICY=$first_pol
echo "# === followers: policy $POLICY$([ "$POLICY" = quorum ] && echo " $QUORUM")"
setup_region B lighttpd || { KEEP_WORK=1; echo "# region B did not start, logs kept in $WORK"; echo "0 passed, 1 failed"; exit 1; }
echo "# region A: probers ${PROBERS[*]} (web ports ${PPORT[A1]} ${PPORT[A2]} ${PPORT[A3]}); doors: $(for d in "${DOORS[@]}"; do printf '%s=%s:%s ' "$d" "${DOORKIND[$d]}" "${DURL[$d]##*:}"; done)"
fl_warm_up || { KEEP_WORK=1; echo "$(basename "$0" .sh): $N_PASS passed, $((N_FAIL + 1)) failed"; exit 1; }
fl_settle || { KEEP_WORK=1; echo "$(basename "$0" .sh): $N_PASS passed, $((N_FAIL + 1)) failed"; exit 1; }
echo "# set up and warm after $(($(date +%s) - SUITE_START)) s"

for i in "${ORDER[@]}"; do
	set_policy "${T_POL[$i]}"
	SC_START=$(date +%s)
	"${T_STEP[$i]}" "${T_ID[$i]}" "${T_POL[$i]}"
	echo "#   ($(($(date +%s) - SC_START)) s)"
done

# ==== report ====
echo
echo "Settings: prober every ${P_INTERVAL}s (deadline ${P_DEADLINE}s), fall $P_FALL, rise $P_RISE, max_age ${MAX_AGE}s, recheck ${RECHECK_MS}ms;"
echo "  followers every ${F_INTERVAL}s (timeout ${F_TIMEOUT}ms, quorum $QUORUM of ${#PROBERS[@]}); stat cache ${STAT_MS}ms; emulator every ${TM_INTERVAL}ms, $TM_TOL tolerated"
echo "  door 503  = fall*I + D + F + stat + R (quorum: + I)      = $D_FRESHEST ms (quorum $D_QUORUM)"
echo "  failover  = door 503 + (T+1)*P                           = $(budget_fail freshest) ms (quorum $(budget_fail quorum))"
echo "  back      = rise*I + D + F + stat + R + P (quorum: + I)  = $F_BACK ms (quorum $Q_BACK)"
echo "  fail open = (A+1) + R + P after the last publish         = $B_OPEN ms"
echo "  disagreement between doors < F + 1.5 s                   = $WINDOW_MAX ms"
echo
{
	echo "id|policy|scenario|expected|routed (emulator)|measured|result"
	for r in "${ROWS[@]}"; do echo "$r"; done
} | column -t -s '|'
echo "# suite ran $(($(date +%s) - SUITE_START)) s"
[ "$N_SKIP" -gt 0 ] && echo "# $N_SKIP skipped (see SKIP above)"
[ -n "${KEEP_WORK:-}" ] && echo "# kept $WORK"
[ "$N_FAIL" -gt 0 ] && { KEEP_WORK=1; echo "# failures: logs kept in $WORK (tm.*.log, samples.*.log, A*/probe.out, D*/follow.out)"; }
echo "$(basename "$0" .sh): $N_PASS passed, $N_FAIL failed"
[ "$N_FAIL" -eq 0 ] && [ "$N_PASS" -gt 0 ]
