#!/usr/bin/env bash
# run.sh: end-to-end failover suite (issue 4).  Two regions on 127.0.0.1, each a real web
# server spawning deephealth.fcgi with its own config, snapshot, prober loop and dependency
# stand-ins (httpfix, redis-server); a Traffic-Manager-style emulator (tmprobe) watches which
# region each registry would be sent to while the scenarios inject and heal faults.
#
#   bash tests/e2e/run.sh              every scenario (under 10 minutes on 2 cores)
#   E2E_FAST=1 bash tests/e2e/run.sh   scenarios 1, 9, 13 (for make check)
#   E2E_SCENARIOS="3 4" ...            a chosen subset;  E2E_SWAP=1: region A on Apache, B on lighttpd
#   KEEP_WORK=1                        keep the scratch directory (printed at the start)
# Needs build/deephealth.fcgi, deephealth-probe, deephealth-snap, httpfix and build/tmprobe.
# Assertions are on orders of events and bounded waits, never on exact timings.  Prints one
# table and a last line "N passed, N failed"; exits non-zero when any scenario failed.

cd "$(dirname "$0")/../.." || exit 2
. tests/integration/lib.sh
PROBE=$BUILD/deephealth-probe
HTTPFIX=$BUILD/httpfix
TMPROBE=${TMPROBE:-$BUILD/tmprobe}
for b in "$FCGI" "$PROBE" "$SNAPTOOL" "$HTTPFIX" "$TMPROBE"; do
	[ -x "$b" ] || { echo "missing $b (make all build/httpfix build/tmprobe)"; echo "0 passed, 1 failed"; exit 1; }
done
chmod 755 "$WORK"
echo "# work directory: $WORK"
SUITE_START=$(date +%s)

# ---- time-scaled settings: every budget below is computed from these ----
P_INTERVAL=1      # prober.interval (s): deephealth-probe -r 1
P_DEADLINE=1      # prober.deadline (s)
P_FALL=3
P_RISE=2
MAX_AGE=5         # snapshot.max_age (s)
RECHECK_MS=250    # responder.recheck_ms
TM_INTERVAL=500   # emulator probing interval (ms)
TM_TIMEOUT=400    # emulator probe timeout (ms)
TM_TOL=3          # tolerated failures
CHECK_TIMEOUT=700 # each dependency check's timeout_ms

B_FAIL=$((P_FALL * P_INTERVAL * 1000 + P_DEADLINE * 1000 + RECHECK_MS + (TM_TOL + 1) * TM_INTERVAL))
B_BACK=$((P_RISE * P_INTERVAL * 1000 + P_DEADLINE * 1000 + RECHECK_MS + TM_INTERVAL))
B_STALE=$(((MAX_AGE + 1) * 1000 + RECHECK_MS + TM_INTERVAL))  # +1: ages are whole seconds
B_SWITCH=$((RECHECK_MS + TM_INTERVAL))
B_SWITCH_FAIL=$((RECHECK_MS + (TM_TOL + 1) * TM_INTERVAL))
# generous but bounded waits
wait_bound() { echo $((2 * $1 + 5000)); }
HOLD_MS=$((2 * (TM_TOL + 1) * TM_INTERVAL + 1000))  # watch this long for a move that must not happen

# ---- registries, hostnames, emulator profiles ----
PROFILES=(contoso contoso-cd contoso-rg fabrikam fabrikam-cd northwind)
declare -A HOSTOF=(
	[contoso]=contoso.azurecr.io [contoso-cd]=registry.contoso.com
	[contoso-rg]=contoso.westeurope.data.azurecr.io [fabrikam]=fabrikam.azurecr.io
	[fabrikam-cd]=cr.fabrikam.example [northwind]=northwind.azurecr.io)
CONTOSO="contoso contoso-cd contoso-rg"
FABRIKAM="fabrikam fabrikam-cd"
DEPS=(sa1 sa2 auth witness containers meta)

now_ms() { local t=${EPOCHREALTIME/./}; echo "${t:0:-3}"; }
# ts_lines: prefix every line read with the epoch time in ms
ts_lines() { local l t; while IFS= read -r l; do t=${EPOCHREALTIME/./}; printf '%s %s\n' "${t:0:-3}" "$l"; done; }

declare -A FIX REDIS_PORT REDIS_PID PROBER_PID URL KIND WPID
SHADOW_URL=""

# ---- region setup ----
start_fix() { # REGION NAME
	httpfix_start "$HTTPFIX" "$WORK/$1" "$2"
	FIX[$1.$2]=$HTTPFIX_PORT
}
fix_mode() { httpfix_mode "$WORK/$1" "$2" "$3"; }

start_redis() { # REGION
	local r=$1
	redis-server --port "${REDIS_PORT[$r]}" --bind 127.0.0.1 --save '' --appendonly no \
		--dir "$WORK/$r" --daemonize no >>"$WORK/$r/redis.log" 2>&1 &
	REDIS_PID[$r]=$!
	PIDS+=($!)
	for _ in $(seq 100); do redis-cli -p "${REDIS_PORT[$r]}" ping >/dev/null 2>&1 && return 0; sleep 0.05; done
	echo "# redis $r did not start"; return 1
}
stop_redis() { # REGION
	local p=${REDIS_PID[$1]}
	kill "$p" 2>/dev/null
	for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
	wait "$p" 2>/dev/null
}

write_conf() { # REGION MODE FILE
	local r=$1 R=$WORK/$1 region=westeurope
	[ "$r" = B ] && region=eastus2
	cat >"$3" <<EOF
snapshot = { path = "$R/snapshot"; max_age = $MAX_AGE; };
responder = { mode = "$2"; kill_switch = "$R/disable"; recheck_ms = $RECHECK_MS; detail = "cause"; };
resolver = {
  host_map = "$R/hosts.map";
  rules = ( "^(?<registry>[a-z0-9]{5,50})\\\\.azurecr\\\\.io\$",
            "^(?<registry>[a-z0-9]{5,50})\\\\.[a-z0-9]+\\\\.data\\\\.azurecr\\\\.io\$" );
};
log = { level = "info"; };
prober = {
  registries = "$R/registries.map"; region = "$region";
  state = "$R/probe.state"; lock = "$R/probe.lock"; event_log = "$R/events.jsonl";
  interval = $P_INTERVAL; deadline = $P_DEADLINE; fall = $P_FALL; rise = $P_RISE;
};
dependencies = (
  { name = "sa1"; kind = "storage"; type = "http"; url = "http://127.0.0.1:${FIX[$r.sa1]}/blob";
    timeout_ms = $CHECK_TIMEOUT; connect_timeout_ms = 300; },
  { name = "sa2"; kind = "storage"; type = "http"; url = "http://127.0.0.1:${FIX[$r.sa2]}/blob";
    timeout_ms = $CHECK_TIMEOUT; connect_timeout_ms = 300; },
  { name = "auth"; kind = "auth"; type = "http"; witness = true;
    url = "http://127.0.0.1:${FIX[$r.auth]}/health"; headers = [ "Host: login.example.net" ];
    timeout_ms = $CHECK_TIMEOUT; connect_timeout_ms = 300; },
  { name = "witness"; kind = "other"; severity = "degraded"; witness = true; type = "http";
    url = "http://127.0.0.1:${FIX[$r.witness]}/ping"; timeout_ms = $CHECK_TIMEOUT; connect_timeout_ms = 300; },
  { name = "containers"; kind = "containers"; type = "http";
    url = "http://127.0.0.1:${FIX[$r.containers]}/v2/"; timeout_ms = $CHECK_TIMEOUT; connect_timeout_ms = 300; },
  { name = "meta"; kind = "metadata"; type = "http";
    url = "http://127.0.0.1:${FIX[$r.meta]}/search/health"; timeout_ms = $CHECK_TIMEOUT; connect_timeout_ms = 300; },
  { name = "cache"; kind = "cache"; type = "tcp"; address = "127.0.0.1:${REDIS_PORT[$r]}";
    send = "PING\\r\\n"; reply_match = "^\\\\+PONG"; timeout_ms = $CHECK_TIMEOUT; connect_timeout_ms = 300; }
);
EOF
}

# start_web KIND DIR PORT CONF: the shipped snippet (conf/lighttpd.conf or
# conf/apache-deephealth.conf) in a minimal loopback server.
start_web() {
	local kind=$1 dir=$2 port=$3 conf=$4
	mkdir -p "$dir"
	case $kind in
	lighttpd)
		lighttpd_base "$dir" "$port" "$dir"
		localize_conf conf/lighttpd.conf "$FCGI" "$conf" "$dir/run/deephealth.sock" >>"$dir/lighttpd.conf"
		lighttpd -D -f "$dir/lighttpd.conf" >>"$dir/stdout.log" 2>&1 &
		;;
	apache)
		apache_base "$dir" "$port"
		localize_conf conf/apache-deephealth.conf "$FCGI" "$conf" "" >"$dir/deephealth.conf"
		echo "Include $dir/deephealth.conf" >>"$dir/httpd.conf"
		apache2 -f "$dir/httpd.conf" -DFOREGROUND >>"$dir/stdout.log" 2>&1 &
		;;
	esac
	PIDS+=($!)
	WEB_PID=$!
	wait_http "http://127.0.0.1:$port/"
}

# stop_web PID: a web server and the responders it spawned (both stop their children).
stop_web() {
	kill "$1" 2>/dev/null
	for _ in $(seq 200); do kill -0 "$1" 2>/dev/null || break; sleep 0.05; done
	kill -9 "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}

# serve REGION KIND: (re)start REGION's front door as KIND on a new port (and region A's
# shadow-mode twin when scenario 15 runs).
serve() {
	local r=$1 port
	[ -n "${WPID[$r]:-}" ] && stop_web "${WPID[$r]}"
	port=$(free_port)
	KIND[$r]=$2
	rm -rf "$WORK/$r/web"
	start_web "$2" "$WORK/$r/web" "$port" "$WORK/$r/dh.conf" || return 1
	WPID[$r]=$WEB_PID
	URL[$r]="http://127.0.0.1:$port"
	if [ "$r" = A ] && want 15; then
		[ -n "${WPID[shadow]:-}" ] && stop_web "${WPID[shadow]}"
		write_conf A shadow "$WORK/A/dh-shadow.conf"
		chmod a+r "$WORK/A/dh-shadow.conf"
		port=$(free_port)
		rm -rf "$WORK/A/web-shadow"
		start_web "$2" "$WORK/A/web-shadow" "$port" "$WORK/A/dh-shadow.conf" || return 1
		WPID[shadow]=$WEB_PID
		SHADOW_URL="http://127.0.0.1:$port"
	fi
}

start_prober() { # REGION
	local r=$1
	"$PROBE" -v -r "$P_INTERVAL" -d 1800 -c "$WORK/$r/dh.conf" > >(ts_lines >>"$WORK/$r/probe.out") 2>&1 &
	PROBER_PID[$r]=$!
}
stop_prober() { # REGION
	local p=${PROBER_PID[$1]:-}
	[ -n "$p" ] || return 0
	kill "$p" 2>/dev/null
	for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
	kill -9 "$p" 2>/dev/null
	wait "$p" 2>/dev/null
	PROBER_PID[$1]=""
}

TM_PID=""
e2e_cleanup() {
	[ -n "$TM_PID" ] && kill "$TM_PID" 2>/dev/null
	stop_prober A; stop_prober B
	cleanup
}
trap e2e_cleanup EXIT
trap 'exit 130' INT TERM

setup_region() { # REGION KIND
	local r=$1 R=$WORK/$1 d
	mkdir -p "$R"
	for d in "${DEPS[@]}"; do start_fix "$r" "$d"; done
	# a port free_port found can be taken before redis binds it: try a few
	for _ in 1 2 3; do
		REDIS_PORT[$r]=$(free_port)
		start_redis "$r" && break
		stop_redis "$r"
	done
	redis-cli -p "${REDIS_PORT[$r]}" ping >/dev/null 2>&1 || { tail -n 5 "$WORK/$r/redis.log"; return 1; }
	cat >"$R/registries.map" <<'EOF'
# name      regions              storage  features
contoso     westeurope,eastus2   sa1      metadata-search
fabrikam    westeurope,eastus2   sa2      -
northwind   westeurope           sa1      -
EOF
	cat >"$R/hosts.map" <<'EOF'
# custom domains
registry.contoso.com   contoso
cr.fabrikam.example    fabrikam
EOF
	write_conf "$r" enforce "$R/dh.conf"
	"$PROBE" -t -c "$R/dh.conf" || return 1
	"$FCGI" -t -c "$R/dh.conf" >/dev/null || return 1
	"$PROBE" -c "$R/dh.conf" >>"$R/probe.out" 2>&1  # a first snapshot before the server starts
	chmod -R a+rX "$R"
	start_prober "$r"
	serve "$r" "$2"
}

# ---- observing ----
# req_reason URL HOST: "CODE REASON SHADOW"
req_reason() {
	curl -s -o /dev/null --max-time 2 -H "Host: $2" \
		-w '%{http_code} %header{x-deephealth-reason} %header{x-deephealth-shadow}' "$1/health"
}
# wait_reason URL HOST REGEX BOUND_MS: until "CODE REASON SHADOW" matches
wait_reason() {
	local end=$(($(now_ms) + $4)) got
	while [ "$(now_ms)" -lt "$end" ]; do
		got=$(req_reason "$1" "$2")
		[[ $got =~ $3 ]] && return 0
		sleep 0.1
	done
	echo "#   waited $4 ms for /$3/ from $1 ($2), last: [$got]"
	return 1
}
# settle: both regions answer every host 200 healthy/single-region, with every dependency pass.
settle() {
	local r p end=$(($(now_ms) + 30000)) bad
	while [ "$(now_ms)" -lt "$end" ]; do
		bad=0
		for r in A B; do
			[ "$("$SNAPTOOL" dump "$WORK/$r/snapshot" 2>/dev/null | awk '$1 == "dep" && $3 != "pass"' | wc -l)" = 0 ] || bad=1
			for p in "${PROFILES[@]}"; do
				[[ $(req_reason "${URL[$r]}" "${HOSTOF[$p]}") =~ ^200\ (healthy|single-region|unknown-registry) ]] || bad=1
			done
		done
		[ $bad = 0 ] && return 0
		sleep 0.2
	done
	echo "# regions did not settle"; return 1
}

# tm_start A_URL: the emulator over every profile, endpoints A then B, in the background.
TMLOG=""
# tm_start A_URL [INTERVAL_MS TIMEOUT_MS]: other timings than the suite's (scenario 8)
tm_start() {
	local args=() p
	for p in "${PROFILES[@]}"; do args+=(-r "$p=${HOSTOF[$p]}"); done
	TMLOG=$WORK/tm.${ORIENT/:/-}.$SC.log
	"$TMPROBE" -e "A=$1" -e "B=${URL[B]}" "${args[@]}" -i "${2:-$TM_INTERVAL}" -w "${3:-$TM_TIMEOUT}" \
		-f "$TM_TOL" -t 240 >"$TMLOG" 2>&1 &
	TM_PID=$!
	for _ in $(seq 100); do [ "$(grep -c '^[0-9]' "$TMLOG")" -ge "${#PROFILES[@]}" ] && break; sleep 0.05; done
}
tm_stop() { kill "$TM_PID" 2>/dev/null; wait "$TM_PID" 2>/dev/null; TM_PID=""; }
tm_start_ms() { sed -n '1s/.*start_epoch_ms=\([0-9]*\).*/\1/p' "$TMLOG"; }
# wait_route PROFILE REGION AFTER_MS BOUND_MS: epoch ms of the first tick after AFTER_MS
# routing PROFILE to REGION; empty on timeout.
wait_route() {
	local end=$(($(now_ms) + $4)) s t
	s=$(tm_start_ms)
	while :; do
		t=$(awk -v p="$1" -v r="$2" -v s="$s" -v a="$3" '$2 == p && $3 == r && s + $1 > a { printf "%.0f\n", s + $1; exit }' "$TMLOG")
		[ -n "$t" ] && { echo "$t"; return 0; }
		[ "$(now_ms)" -ge "$end" ] && return 1
		sleep 0.1
	done
}
# wait_state PROFILE ASTATE BSTATE AFTER_MS BOUND_MS
wait_state() {
	local end=$(($(now_ms) + $5)) s t
	s=$(tm_start_ms)
	while :; do
		t=$(awk -v p="$1" -v x="$2" -v y="$3" -v s="$s" -v a="$4" '$2 == p && $4 == x && $5 == y && s + $1 > a { printf "%.0f\n", s + $1; exit }' "$TMLOG")
		[ -n "$t" ] && { echo "$t"; return 0; }
		[ "$(now_ms)" -ge "$end" ] && return 1
		sleep 0.1
	done
}
# route_seq PROFILE: the routing history with repeats collapsed, e.g. "A>B>A"
route_seq() { awk -v p="$1" '$2 == p && $3 != last { s = s (s == "" ? "" : ">") $3; last = $3 } END { print s }' "$TMLOG"; }
# passes REGION FROM_MS TO_MS: snapshots the region's prober published in between
passes() { awk -v a="$2" -v b="$3" '$1 > a && $1 < b && /debug: published/' "$WORK/$1/probe.out" | wc -l; }
# b_always_online PROFILE: 1 when region B stayed online for PROFILE during the scenario
b_always_online() { awk -v p="$1" '$2 == p && $5 != "online" { bad = 1 } END { print bad ? 0 : 1 }' "$TMLOG"; }
hold() { sleep "$(awk -v m="$1" 'BEGIN { printf "%.3f", m / 1000 }')"; }

# ---- scenario bookkeeping ----
N_PASS=0 N_FAIL=0
ROWS=()
SC="" SC_OK=1 SC_NOTE=""
sc_begin() { SC=$1; SC_OK=1; SC_NOTE=""; echo "# --- scenario $1: $2"; }
fail_because() { SC_OK=0; echo "#   FAIL: $1"; SC_NOTE+="$1; "; }
# expect_seq "PROFILES" SEQ: every named profile's routing history is exactly SEQ
expect_seq() {
	local p got
	for p in $1; do
		got=$(route_seq "$p")
		[ "$got" = "$2" ] || fail_because "$p routed $got, expected $2"
	done
}
# expect_b_online "PROFILES"
expect_b_online() {
	local p
	for p in $1; do [ "$(b_always_online "$p")" = 1 ] || fail_because "$p: region B went degraded"; done
}
# row ID EXPECTED OBSERVED FAIL_MS FAIL_BUDGET BACK_MS BACK_BUDGET
row() {
	local res=PASS
	[ "$SC_OK" = 1 ] || res=FAIL
	if [ $res = PASS ]; then N_PASS=$((N_PASS + 1)); else N_FAIL=$((N_FAIL + 1)); fi
	ROWS+=("$ORIENT|$1|$2|$3|$4|$5|$6|$7|$res")
	echo "#   -> $res ($3; failover $4 ms / budget $5, back $6 ms / budget $7)"
}
ms_or_dash() { if [ -n "$1" ] && [ -n "$2" ]; then echo $(($1 - $2)); else echo "-"; fi; }
observed() { # a compact summary of who went where
	local p out=""
	for p in contoso contoso-cd contoso-rg fabrikam fabrikam-cd northwind; do out+="${p}:$(route_seq "$p") "; done
	echo "${out% }"
}
# The first route change to B of the contoso group (all three hostnames must follow).
group_route() { # "PROFILES" REGION AFTER BOUND -> latest of the group's first ticks
	local p t max=""
	for p in $1; do
		t=$(wait_route "$p" "$2" "$3" "$4") || { echo ""; return 1; }
		if [ -z "$max" ] || [ "$t" -gt "$max" ]; then max=$t; fi
	done
	echo "$max"
}

# ---- scenarios ----
# storage_fault ID MODE: scenario 1 (500) or 2 (hang); also scenario 9 (recovery)
sc_storage() {
	local id=$1 fmode=$2 t0 tf th tb np nb
	sc_begin "$id" "storage account 1 in region A: $fmode"
	settle || fail_because "not settled"
	tm_start "${URL[A]}"
	hold 1500
	t0=$(now_ms); fix_mode A sa1 "$fmode"
	tf=$(group_route "$CONTOSO" B "$t0" "$(wait_bound $B_FAIL)") || fail_because "contoso did not move to B"
	np=$(passes A "$t0" "$((${tf:-0} + TM_TIMEOUT))")
	[ -n "$tf" ] && [ "$np" -lt "$P_FALL" ] && fail_because "moved after $np passes (< fall $P_FALL)"
	hold 1000
	th=$(now_ms); fix_mode A sa1 200
	tb=$(group_route "$CONTOSO" A "$th" "$(wait_bound $B_BACK)") || fail_because "contoso did not come back to A"
	nb=$(passes A "$th" "$((${tb:-0} + TM_TIMEOUT))")
	[ -n "$tb" ] && [ "$nb" -lt "$P_RISE" ] && fail_because "came back after $nb passes (< rise $P_RISE)"
	hold 1500
	tm_stop
	expect_seq "$CONTOSO" "A>B>A"
	expect_seq "$FABRIKAM northwind" "A"
	expect_b_online "${PROFILES[*]}"
	if [ "$fmode" = hang ]; then
		# no pass overran: every pass published, none abandoned past the deadline
		if grep -qiE 'overr|deadline exceeded|abandon' "$WORK/A/probe.out"; then
			fail_because "a pass overran: $(grep -iE 'overr|deadline|abandon' "$WORK/A/probe.out" | tail -n 1)"
		fi
	fi
	local fms bms
	fms=$(ms_or_dash "$tf" "$t0"); bms=$(ms_or_dash "$tb" "$th")
	if [ "$id" = 1 ] || [ "$id" = 2 ]; then
		row "$id sa1 $fmode (A)" "contoso*->B, fabrikam,northwind stay" "$(observed); fall passes seen: $np" "$fms" "$B_FAIL" "$bms" "$B_BACK"
	fi
	if [ "$id" = 1 ] && want 9; then
		SC=9
		row "9 recovery after 1" "back to A only after rise=$P_RISE passes" "passes before back: $nb" "-" "-" "$bms" "$B_BACK"
	fi
}

# sc_region_dep ID DEP MODE "MOVERS" "STAYERS" DESC
sc_region_dep() {
	local id=$1 dep=$2 fmode=$3 movers=$4 stayers=$5 t0 tf th tb np nb
	sc_begin "$id" "$6"
	settle || fail_because "not settled"
	tm_start "${URL[A]}"
	hold 1500
	t0=$(now_ms); fix_mode A "$dep" "$fmode"
	tf=$(group_route "$movers" B "$t0" "$(wait_bound $B_FAIL)") || fail_because "$movers did not all move to B"
	np=$(passes A "$t0" "$((${tf:-0} + TM_TIMEOUT))")
	[ -n "$tf" ] && [ "$np" -lt "$P_FALL" ] && fail_because "moved after $np passes (< fall $P_FALL)"
	hold 1000
	th=$(now_ms); fix_mode A "$dep" 200
	tb=$(group_route "$movers" A "$th" "$(wait_bound $B_BACK)") || fail_because "$movers did not come back to A"
	nb=$(passes A "$th" "$((${tb:-0} + TM_TIMEOUT))")
	[ -n "$tb" ] && [ "$nb" -lt "$P_RISE" ] && fail_because "came back after $nb passes (< rise $P_RISE)"
	hold 1500
	tm_stop
	expect_seq "$movers" "A>B>A"
	[ -n "$stayers" ] && expect_seq "$stayers" "A"
	expect_b_online "${PROFILES[*]}"
	row "$id $dep $fmode (A)" "$7" "$(observed)" "$(ms_or_dash "$tf" "$t0")" "$B_FAIL" "$(ms_or_dash "$tb" "$th")" "$B_BACK"
}

sc_cache() { # 3
	sc_begin 3 "redis stopped in region A"
	settle || fail_because "not settled"
	tm_start "${URL[A]}"
	hold 1500
	stop_redis A
	wait_reason "${URL[A]}" contoso.azurecr.io '^200 degraded' "$(wait_bound $B_FAIL)" || fail_because "region A never said 200 degraded"
	hold "$HOLD_MS"
	start_redis A || fail_because "redis did not restart"
	wait_reason "${URL[A]}" contoso.azurecr.io '^200 healthy' "$(wait_bound $B_BACK)" || fail_because "region A never healthy again"
	hold 1000
	tm_stop
	expect_seq "${PROFILES[*]}" "A"
	row "3 redis stopped (A)" "warn, nobody moves" "$(observed)" "-" "-" "-" "-"
}

sc_blip() { # 7: storage fails for fewer than fall passes, repeated with random spacing
	local i n ev0
	sc_begin 7 "storage blips shorter than fall"
	ev0=$(grep -c '"dependency":"sa1"' "$WORK/A/events.jsonl" 2>/dev/null)
	settle || fail_because "not settled"
	tm_start "${URL[A]}"
	hold 1000
	for i in 1 2 3 4; do
		n=$(grep -c 'debug: published' "$WORK/A/probe.out")
		fix_mode A sa1 500
		# at most the pass in flight and the next one see it: 2 < fall
		for _ in $(seq 60); do [ "$(grep -c 'debug: published' "$WORK/A/probe.out")" -gt "$n" ] && break; sleep 0.05; done
		fix_mode A sa1 200
		hold $((1000 * P_INTERVAL * 2 + RANDOM % 1000))
	done
	hold 1500
	tm_stop
	expect_seq "${PROFILES[*]}" "A"
	[ "$(grep -c '"dependency":"sa1"' "$WORK/A/events.jsonl" 2>/dev/null)" = "$ev0" ] || fail_because "sa1 changed state (event log)"
	row "7 storage blips < fall (A)" "nobody moves, ever" "$(observed)" "-" "-" "-" "-"
}

# 8: storage failing at random, 20 % of checks, for FLAP_PASSES passes, with the default
# thresholds (fall 3, rise 2, 3 tolerated failures) and the load balancer probing at the
# production ratio to the prober (Traffic Manager every 30 s, prober every 10 s: P = 3 I).
# The draws are httpfix's seeded sequence (seed 1), one per pass: the prober does go down
# (3 failures in a row around pass 30, for 4 passes), and the load balancer, which needs
# (T + 1) x P = 12 s of 503s, must not move anyone.
FLAP_PASSES=45
FLAP_P=$((3 * P_INTERVAL * 1000))
sc_flap() {
	local c0 c n downs
	sc_begin 8 "storage flapping at 20 % (seeded), load balancer at P = 3 x prober interval"
	settle || fail_because "not settled"
	n=$(grep -c '"dependency":"sa1","from":"pass","to":"fail"' "$WORK/A/events.jsonl" 2>/dev/null)
	tm_start "${URL[A]}" "$FLAP_P" $((FLAP_P * 2 / 3))
	hold 1000
	c0=$(curl -s --max-time 2 "http://127.0.0.1:${FIX[A.sa1]}/_fix/count")
	fix_mode A sa1 "flaky 20 1"
	for _ in $(seq $((FLAP_PASSES * 4))); do
		c=$(curl -s --max-time 2 "http://127.0.0.1:${FIX[A.sa1]}/_fix/count")
		[ "${c:-0}" -ge $((c0 + FLAP_PASSES)) ] && break
		sleep 0.5
	done
	[ "${c:-0}" -ge $((c0 + FLAP_PASSES)) ] || fail_because "only $((c - c0)) checks of sa1 in $((FLAP_PASSES * 2)) s"
	fix_mode A sa1 200
	wait_reason "${URL[A]}" contoso.azurecr.io '^200 healthy' "$(wait_bound $B_BACK)" || fail_because "region A not healthy after the flapping"
	hold "$FLAP_P"
	tm_stop
	downs=$(($(grep -c '"dependency":"sa1","from":"pass","to":"fail"' "$WORK/A/events.jsonl" 2>/dev/null) - n))
	[ "$downs" -ge 1 ] || fail_because "the prober never took sa1 down: the scenario did not flap"
	expect_seq "${PROFILES[*]}" "A"
	expect_b_online "${PROFILES[*]}"
	row "8 sa1 flaps 20 % (A)" "prober flaps, nobody moves" "$(observed); sa1 down in the prober ${downs}x, $(grep -c -- '-> 500' "$WORK/A/sa1.log" 2>/dev/null) failed checks" "-" "-" "-" "-"
}

sc_stale() { # 10
	local t0 tf tk ts tr tf2 th tb np
	sc_begin 10 "prober killed while storage fails"
	settle || fail_because "not settled"
	tm_start "${URL[A]}"
	hold 1500
	t0=$(now_ms); fix_mode A sa1 500
	tf=$(group_route "$CONTOSO" B "$t0" "$(wait_bound $B_FAIL)") || fail_because "contoso did not move to B"
	tk=$(now_ms); stop_prober A
	ts=$(group_route "$CONTOSO" A "$tk" "$(wait_bound $B_STALE)") || fail_because "contoso did not fail open back to A"
	[[ $(req_reason "${URL[A]}" contoso.azurecr.io) =~ ^200\ snapshot-stale ]] || fail_because "region A not 200 snapshot-stale"
	[ -n "$ts" ] && [ $((ts - tk)) -lt $(((MAX_AGE - P_INTERVAL - P_DEADLINE) * 1000)) ] &&
		fail_because "back after $((ts - tk)) ms, before the snapshot could be stale"
	hold 1000
	# Restarted with storage still failing: its saved counters are older than max_age, so it
	# starts fresh, and contoso leaves again only after fall new passes.
	tr=$(now_ms); start_prober A
	tf2=$(group_route "$CONTOSO" B "$tr" "$(wait_bound $B_FAIL)") || fail_because "contoso did not leave again after the restart"
	np=$(passes A "$tr" "$((${tf2:-0} + TM_TIMEOUT))")
	[ -n "$tf2" ] && [ "$np" -lt "$P_FALL" ] && fail_because "left again after $np passes of the restarted prober (< fall $P_FALL)"
	grep -q 'too old to trust, starting fresh' "$WORK/A/probe.out" || fail_because "the restarted prober did not discard its old counters"
	th=$(now_ms); fix_mode A sa1 200
	tb=$(group_route "$CONTOSO" A "$th" "$(wait_bound $B_BACK)") || fail_because "contoso did not come back"
	hold 1500
	tm_stop
	expect_seq "$CONTOSO" "A>B>A>B>A"
	expect_seq "$FABRIKAM northwind" "A"
	row "10 prober killed (A)" "stale -> fail open to A" "$(observed)" "$(ms_or_dash "$tf" "$t0")" "$B_FAIL" "$(ms_or_dash "$ts" "$tk")" "$B_STALE"
}

sc_corrupt() { # 11
	local size
	sc_begin 11 "snapshot corrupted on disk"
	settle || fail_because "not settled"
	tm_start "${URL[A]}"
	hold 1500
	stop_prober A
	size=$(stat -c %s "$WORK/A/snapshot")
	printf 'CORRUPTED' | dd of="$WORK/A/snapshot" bs=1 seek=$((size / 2)) conv=notrunc status=none
	wait_reason "${URL[A]}" contoso.azurecr.io '^200 snapshot-corrupt' "$(wait_bound $B_SWITCH)" || fail_because "region A not 200 snapshot-corrupt"
	hold "$HOLD_MS"
	start_prober A
	wait_reason "${URL[A]}" contoso.azurecr.io '^200 healthy' "$(wait_bound $B_BACK)" || fail_because "region A not healthy after the prober restarted"
	hold 1000
	tm_stop
	expect_seq "${PROFILES[*]}" "A"
	row "11 snapshot corrupted (A)" "fail open, nobody moves" "$(observed)" "-" "-" "-" "-"
}

sc_blind() { # 12
	sc_begin 12 "prober blind: its witnesses unreachable (and storage failing)"
	settle || fail_because "not settled"
	tm_start "${URL[A]}"
	hold 1500
	fix_mode A auth refuse; fix_mode A witness refuse; fix_mode A sa1 refuse
	wait_reason "${URL[A]}" contoso.azurecr.io '^200 prober-blind' "$(wait_bound $B_FAIL)" || fail_because "region A not 200 prober-blind"
	hold "$HOLD_MS"
	fix_mode A sa1 200; fix_mode A auth 200; fix_mode A witness 200
	wait_reason "${URL[A]}" contoso.azurecr.io '^200 healthy' "$(wait_bound $B_BACK)" || fail_because "region A not healthy again"
	hold 1000
	tm_stop
	expect_seq "${PROFILES[*]}" "A"
	row "12 prober blind (A)" "fail open, nobody moves" "$(observed)" "-" "-" "-" "-"
}

sc_killswitch() { # 13
	local t0 tf tk ta tr tf2 th tb
	sc_begin 13 "kill switch during scenario 1"
	settle || fail_because "not settled"
	tm_start "${URL[A]}"
	hold 1500
	t0=$(now_ms); fix_mode A sa1 500
	tf=$(group_route "$CONTOSO" B "$t0" "$(wait_bound $B_FAIL)") || fail_because "contoso did not move to B"
	tk=$(now_ms); touch "$WORK/A/disable"
	ta=$(group_route "$CONTOSO" A "$tk" "$(wait_bound $B_SWITCH)") || fail_because "contoso did not return with the kill switch"
	[[ $(req_reason "${URL[A]}" contoso.azurecr.io) =~ ^200\ passthrough ]] || fail_because "region A not 200 passthrough"
	hold 1000
	tr=$(now_ms); rm -f "$WORK/A/disable"
	tf2=$(group_route "$CONTOSO" B "$tr" "$(wait_bound $B_SWITCH_FAIL)") || fail_because "contoso did not leave again"
	th=$(now_ms); fix_mode A sa1 200
	tb=$(group_route "$CONTOSO" A "$th" "$(wait_bound $B_BACK)") || fail_because "contoso did not come back"
	hold 1500
	tm_stop
	expect_seq "$CONTOSO" "A>B>A>B>A"
	expect_seq "$FABRIKAM northwind" "A"
	expect_b_online "${PROFILES[*]}"
	row "13 kill switch (A) during 1" "back to A on touch, leaves on rm" "$(observed)" "$(ms_or_dash "$tf2" "$tr")" "$B_SWITCH_FAIL" "$(ms_or_dash "$ta" "$tk")" "$B_SWITCH"
}

sc_both() { # 14
	local tb td
	sc_begin 14 "storage 1 fails in both regions"
	settle || fail_because "not settled"
	tm_start "${URL[A]}"
	hold 1500
	# B first, so the order of detection is fixed: B degraded (still A), then both (all-degraded rule)
	fix_mode B sa1 500
	tb=$(wait_state contoso online degraded 0 "$(wait_bound $B_FAIL)") || fail_because "contoso's B endpoint never degraded"
	fix_mode A sa1 500
	td=$(wait_state contoso degraded degraded 0 "$(wait_bound $B_FAIL)") || fail_because "contoso never degraded in both"
	hold 1500
	fix_mode A sa1 200
	wait_state contoso online degraded "$(now_ms)" "$(wait_bound $B_BACK)" >/dev/null || fail_because "contoso's A endpoint never online again"
	fix_mode B sa1 200
	wait_state contoso online online "$(now_ms)" "$(wait_bound $B_BACK)" >/dev/null || fail_because "contoso's B endpoint never online again"
	hold 1000
	tm_stop
	expect_seq "${PROFILES[*]}" "A"
	row "14 sa1 fails in A and B" "both degraded, routed as all healthy (A)" "$(observed)" "-" "-" "-" "-"
}

sc_shadow() { # 15: region A's front door in shadow mode (a second server, same snapshot)
	local t0
	sc_begin 15 "shadow mode during scenario 1"
	settle || fail_because "not settled"
	tm_start "$SHADOW_URL"
	hold 1500
	t0=$(now_ms); fix_mode A sa1 500
	wait_reason "$SHADOW_URL" contoso.azurecr.io '^200 [a-z-]+ 503 fail dependency-failed' "$(wait_bound $B_FAIL)" ||
		fail_because "shadow endpoint never showed the would-be 503"
	hold "$HOLD_MS"
	fix_mode A sa1 200
	wait_reason "$SHADOW_URL" contoso.azurecr.io '^200 healthy( 200 pass healthy)?$' "$(wait_bound $B_BACK)" || fail_because "shadow endpoint not healthy again"
	hold 1000
	tm_stop
	expect_seq "${PROFILES[*]}" "A"
	row "15 shadow mode (A) during 1" "200 throughout, X-Deephealth-Shadow: 503" "$(observed)" "-" "-" "-" "-"
}

# ---- main ----
if [ -n "${E2E_SCENARIOS:-}" ]; then SEL=" $E2E_SCENARIOS "
elif [ -n "${E2E_FAST:-}" ]; then SEL=" 1 9 13 "
else SEL=" 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 "; fi
want() { [[ $SEL == *" $1 "* ]]; }

# Orientations: region A on lighttpd and B on Apache, then swapped (E2E_SWAP=1: the swapped
# one only; E2E_FAST: the first only).  Scenario 8 is about the prober's thresholds, not
# the web servers: it runs in the first orientation only.
ORIENTS="lighttpd:apache apache:lighttpd"
[ -n "${E2E_FAST:-}" ] && ORIENTS="lighttpd:apache"
[ -n "${E2E_SWAP:-}" ] && ORIENTS="apache:lighttpd"
echo "# orientations (A:B): $ORIENTS; scenarios:$SEL"

# Warm until 8 ticks in a row got 200 from both regions for every profile within the
# emulator's timeout (mod_fcgid grows its pool on demand, and a request that finds the
# pool busy waits a whole second: a cold pool must not count as failures later).
# First bursts of 24 concurrent requests at each region: mod_fcgid spawns only when a request
# finds its pool busy, and then makes that request sleep a second; a pool grown here does
# not make the counted ticks wait.  Bounded: at most 6 bursts of 3 s each.
warm_up() {
	local end r i b need burst
	for b in 1 2 3 4 5 6; do
		burst=()
		for r in A B; do
			for i in $(seq 24); do
				curl -s -o /dev/null --max-time 3 -H "Host: ${HOSTOF[${PROFILES[0]}]}" "${URL[$r]}/health" &
				burst+=($!)
			done
		done
		wait "${burst[@]}"
	done
	end=$(($(now_ms) + 30000)) need=$((8 * ${#PROFILES[@]}))
	SC=warmup.$ORIENT; tm_start "${URL[A]}"
	while [ "$(now_ms)" -lt "$end" ]; do
		[ "$(grep '^[0-9]' "$TMLOG" | tail -n "$need" | awk '$6 == "200" && $7 == "200"' | wc -l)" -ge "$need" ] &&
			{ tm_stop; return 0; }
		sleep 0.25
	done
	tm_stop; echo "# warm-up: the regions did not answer every probe in time for 8 ticks"; return 1
}

first=1
for ORIENT in $ORIENTS; do
	KA=${ORIENT%%:*} KB=${ORIENT##*:}
	echo "# === region A (westeurope): $KA; region B (eastus2): $KB"
	if [ $first = 1 ]; then
		if ! setup_region A "$KA" || ! setup_region B "$KB"; then
			KEEP_WORK=1; echo "# setup failed, logs kept in $WORK"; echo "0 passed, 1 failed"; exit 1
		fi
	elif ! serve A "$KA" || ! serve B "$KB"; then
		KEEP_WORK=1; echo "# swapping the web servers failed, logs kept in $WORK"; echo "$N_PASS passed, $((N_FAIL + 1)) failed"; exit 1
	fi
	warm_up || { KEEP_WORK=1; echo "$N_PASS passed, $((N_FAIL + 1)) failed"; exit 1; }
	settle || { KEEP_WORK=1; echo "# the regions never became healthy"; echo "$N_PASS passed, $((N_FAIL + 1)) failed"; exit 1; }

	if want 1 || want 9; then sc_storage 1 500; fi
	want 2 && sc_storage 2 hang
	want 3 && sc_cache
	want 4 && sc_region_dep 4 auth refuse "$CONTOSO $FABRIKAM" northwind "auth service down in region A" "every two-region registry moves, northwind stays"
	want 5 && sc_region_dep 5 meta 500 "$CONTOSO" "$FABRIKAM northwind" "metadata service down in region A" "only metadata-search (contoso) moves"
	want 6 && sc_region_dep 6 containers refuse "$CONTOSO $FABRIKAM" northwind "API containers down in region A" "every two-region registry moves"
	want 7 && sc_blip
	want 8 && [ $first = 1 ] && sc_flap
	want 10 && sc_stale
	want 11 && sc_corrupt
	want 12 && sc_blind
	want 13 && sc_killswitch
	want 14 && sc_both
	want 15 && sc_shadow
	first=0
done

# ---- report ----
echo
echo "Budgets from the configuration: prober every ${P_INTERVAL}s (deadline ${P_DEADLINE}s), fall $P_FALL, rise $P_RISE, recheck ${RECHECK_MS}ms, max_age ${MAX_AGE}s; emulator every ${TM_INTERVAL}ms, $TM_TOL tolerated"
echo "  failover = interval*fall + deadline + recheck + tm_interval*(tolerated+1) = $B_FAIL ms"
echo "  back     = interval*rise + deadline + recheck + tm_interval                = $B_BACK ms"
echo "  stale    = (max_age+1 s) + recheck + tm_interval                           = $B_STALE ms"
echo "  switch   = recheck + tm_interval                                            = $B_SWITCH ms"
echo
{
	echo "A:B|scenario|expected|observed|failover ms (budget)|back ms (budget)|result"
	for r in "${ROWS[@]}"; do
		IFS='|' read -r ori id exp obs fms fb bms bb res <<<"$r"
		fb2=""; [ "$fb" != "-" ] && fb2=" ($fb)"
		bb2=""; [ "$bb" != "-" ] && bb2=" ($bb)"
		echo "$ori|$id|$exp|$obs|$fms$fb2|$bms$bb2|$res"
	done
} | column -t -s '|'
echo "# suite ran $(($(date +%s) - SUITE_START)) s"
[ -n "${KEEP_WORK:-}" ] && echo "# kept $WORK"
[ "$N_FAIL" -gt 0 ] && { KEEP_WORK=1; echo "# failures: logs kept in $WORK (tm.*.log, */probe.out, */web/)"; }
echo "$N_PASS passed, $N_FAIL failed"
[ "$N_FAIL" -eq 0 ] && [ "$N_PASS" -gt 0 ]
