# lib.sh: the end-to-end suite's library, sourced by tests/e2e/run.sh from the repository
# root: time-scaled settings and budgets, the two regions' setup, what scenarios observe and
# assert with (obs.sh's observers too), the warm-up, and fault_heal, the one step of every
# scenario that faults a dependency in region A and heals it.  The other scenarios' steps
# are in scenarios.sh; which scenarios exist and what each expects is run.sh's table.
# After sourcing it, run.sh sets what this reads at run time: want ID (is scenario ID
# selected), T_* (the table, parsed) and SHADOW_TWIN (serve region A's shadow-mode twin too).

. tests/integration/lib.sh
PROBE=$BUILD/deephealth-probe
HTTPFIX=$BUILD/httpfix
TMPROBE=${TMPROBE:-$BUILD/tmprobe}
for b in "$FCGI" "$PROBE" "$SNAPTOOL" "$BUILD/deephealthctl" "$HTTPFIX" "$TMPROBE"; do
	[ -x "$b" ] || { echo "missing $b (make all build/httpfix build/tmprobe)"; echo "0 passed, 1 failed"; exit 1; }
done
chmod 755 "$WORK"
# responder.counters: created by responders that run as the web server user
mkdir -p "$WORK/run"
chmod 1777 "$WORK/run"
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
ALL="${PROFILES[*]}"
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
	local r=$1 R=$WORK/$1 region=westeurope pm=""
	[ "$r" = B ] && region=eastus2
	# a suite that scrapes the prober's textfile (PROBER_METRICS=1): REGION/textfile/prober.prom
	[ -n "${PROBER_METRICS:-}" ] && mkdir -p "$R/textfile" && pm="metrics = \"$R/textfile/prober.prom\";"
	cat >"$3" <<EOF
snapshot = { path = "$R/snapshot"; max_age = $MAX_AGE; };
responder = { mode = "$2"; kill_switch = "$R/disable"; overrides = "$R/overrides"; counters = "$WORK/run/$1-counters"; recheck_ms = $RECHECK_MS; detail = "cause"; };
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
  $pm
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

# start_web KIND DIR PORT CONF [ADDR [NAME]]: the shipped snippet (conf/lighttpd.conf or
# conf/apache-deephealth.conf) in a minimal loopback server on ADDR (default 127.0.0.1);
# with NAME, every response says which endpoint answered: X-E2e-Endpoint: NAME (for what
# cannot see where a request went: a proxy in front, a DNS answer's address).
start_web() {
	local kind=$1 dir=$2 port=$3 conf=$4 addr=${5:-127.0.0.1} name=${6:-}
	mkdir -p "$dir"
	case $kind in
	lighttpd)
		lighttpd_base "$dir" "$port" "$dir" "$addr"
		localize_conf conf/lighttpd.conf "$FCGI" "$conf" "$dir/run/deephealth.sock" >>"$dir/lighttpd.conf"
		[ -n "$name" ] && printf 'server.modules += ( "mod_setenv" )\nsetenv.add-response-header = ( "X-E2e-Endpoint" => "%s" )\n' \
			"$name" >>"$dir/lighttpd.conf"
		lighttpd -D -f "$dir/lighttpd.conf" >>"$dir/stdout.log" 2>&1 &
		;;
	apache)
		apache_base "$dir" "$port" "$addr"
		apache_page_modules "$dir/httpd.conf"
		localize_conf conf/apache-deephealth.conf "$FCGI" "$conf" "" >"$dir/deephealth.conf"
		echo "Include $dir/deephealth.conf" >>"$dir/httpd.conf"
		[ -n "$name" ] && printf 'LoadModule headers_module /usr/lib/apache2/modules/mod_headers.so\nHeader always set X-E2e-Endpoint "%s"\n' \
			"$name" >>"$dir/httpd.conf"
		apache2 -f "$dir/httpd.conf" -DFOREGROUND >>"$dir/stdout.log" 2>&1 &
		;;
	esac
	PIDS+=($!)
	WEB_PID=$!
	wait_http "http://$addr:$port/"
}

# stop_web PID: a web server and the responders it spawned (both stop their children).
stop_web() {
	kill "$1" 2>/dev/null
	for _ in $(seq 200); do kill -0 "$1" 2>/dev/null || break; sleep 0.05; done
	kill -9 "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}

# serve REGION KIND: (re)start REGION's front door as KIND (and region A's shadow-mode twin
# when a shadow scenario runs: SHADOW_TWIN).  On a new port of 127.0.0.1, or, when
# DOOR_ADDR[REGION] is set, on that address and the port every region shares, DOOR_PORT (set
# both before setup_region); either way its responses name it: X-E2e-Endpoint: REGION.
declare -A DOOR_ADDR
DOOR_PORT=""
serve() {
	local r=$1 port addr=${DOOR_ADDR[$1]:-127.0.0.1}
	[ -n "${WPID[$r]:-}" ] && stop_web "${WPID[$r]}"
	if [ -n "${DOOR_ADDR[$r]:-}" ]; then port=$DOOR_PORT; else port=$(free_port); fi
	KIND[$r]=$2
	rm -rf "$WORK/$r/web"
	start_web "$2" "$WORK/$r/web" "$port" "$WORK/$r/dh.conf" "$addr" "$r" || return 1
	WPID[$r]=$WEB_PID
	URL[$r]="http://$addr:$port"
	if [ "$r" = A ] && [ -n "${SHADOW_TWIN:-}" ]; then
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
# e2e_stop_all: stop every process the suite started (the emulator, the probers, then PIDS:
# observers, web servers, stand-ins, whatever a suite added) and wait for each, at most 5 s
# before SIGKILL; the work directory stays.  The EXIT trap's cleanup finds nothing to stop.
e2e_stop_all() {
	local p
	[ -n "$TM_PID" ] && tm_stop
	stop_prober A; stop_prober B
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do
		for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
}
# leftovers: print every process still running whose command line names the work directory
# (what this run started: servers, responders, probers, stand-ins), waiting up to 5 s for
# them to go; nothing after e2e_stop_all.
leftovers() {
	local left
	for _ in $(seq 50); do
		left=$(pgrep -af -- "$WORK")
		[ -z "$left" ] && return 0
		sleep 0.1
	done
	echo "$left"
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
	# a suite's own registries (lines of the same form) after the library's
	[ -n "${EXTRA_REGISTRIES:-}" ] && printf '%s\n' "$EXTRA_REGISTRIES" >>"$R/registries.map"
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
# what a client sees, sampled (obs_start, obs_first, obs_seq...): obs.sh
. tests/e2e/obs.sh
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

# ---- warm-up ----
# mod_fcgid grows its pool on demand, and a request that finds the pool busy waits a whole
# second: a cold pool must not count as failures later (nor fail a load balancer's probe
# with a timeout of a second: PowerDNS sends all its checks at once).  warm_pools URL...:
# bursts of 24 requests at each URL's /health, all at once (one curl, in parallel): mod_fcgid
# spawns only when a request finds its pool busy, and then makes that request sleep a second;
# a pool grown here does not make a counted probe wait.  Bounded: 6 bursts of at most 3 s.
warm_pools() {
	local u i b args=()
	for u in "$@"; do
		for i in $(seq 24); do args+=(-o /dev/null "$u/health"); done
	done
	for b in 1 2 3 4 5 6; do
		curl -s -Z --parallel-immediate --parallel-max 100 --max-time 3 \
			-H "Host: ${HOSTOF[${PROFILES[0]}]}" "${args[@]}"
	done
}
# warm_up: the pools of both regions, then until 8 ticks in a row got 200 from both regions
# for every profile within the emulator's timeout.
warm_up() {
	local end need
	warm_pools "${URL[A]}" "${URL[B]}"
	# 60 s: under ASan on a busy machine a cold Apache pool has needed more than 30.
	end=$(($(now_ms) + 60000)) need=$((8 * ${#PROFILES[@]}))
	SC=warmup.$ORIENT; tm_start "${URL[A]}"
	while [ "$(now_ms)" -lt "$end" ]; do
		[ "$(grep '^[0-9]' "$TMLOG" | tail -n "$need" | awk '$6 == "200" && $7 == "200"' | wc -l)" -ge "$need" ] &&
			{ tm_stop; return 0; }
		sleep 0.25
	done
	tm_stop; echo "# warm-up: the regions did not answer every probe in time for 8 ticks"; return 1
}

# ---- the fault-then-heal step ----
# fault_heal ID "DEP MODE (A)" "MOVERS" "STAYERS" EXPECTED: region A's DEP answers MODE
# (httpfix: 500, hang, refuse) until every one of MOVERS has moved to B, then is healed until
# they are all back.  Each move must take at least fall (back: rise) passes of A's prober,
# STAYERS never leave A and B stays online throughout; a hanging dependency must not make a
# pass overrun.  Rows of the table whose step is "after ID" are measured by this run and
# reported after its own row (scenario 9: the passes A's prober needed before coming back).
fault_heal() {
	local id=$1 what=$2 movers=$3 stayers=$4 expected=$5 dep fmode t0 tf th tb np nb fms bms i hist
	read -r dep fmode _ <<<"$what"
	sc_begin "$id" "$dep answers $fmode in region A, then heals"
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
	expect_b_online "$ALL"
	# The operator's record of it: the dependency left and came back, in that order.
	hist=$("$BUILD/deephealthctl" -c "$WORK/A/dh.conf" history -s "$((t0 / 1000 - 1))" "$dep" 2>&1)
	[[ $hist == *" $dep "*"pass -> fail"*" $dep "*"fail -> pass"* ]] ||
		fail_because "deephealthctl history $dep: not pass -> fail then fail -> pass: $(echo "$hist" | tr '\n' '|')"
	hist=$("$BUILD/deephealthctl" -c "$WORK/A/dh.conf" history -s "$((t0 / 1000 - 1))" registry:contoso 2>&1)
	[[ $hist == *"contoso leaves this region"*"contoso comes back to this region"* ]] ||
		fail_because "deephealthctl history registry:contoso: did not leave and come back: $(echo "$hist" | tr '\n' '|')"
	if [ "$fmode" = hang ]; then
		# no pass overran: every pass published, none abandoned past the deadline
		if grep -qiE 'overr|deadline exceeded|abandon' "$WORK/A/probe.out"; then
			fail_because "a pass overran: $(grep -iE 'overr|deadline|abandon' "$WORK/A/probe.out" | tail -n 1)"
		fi
	fi
	fms=$(ms_or_dash "$tf" "$t0"); bms=$(ms_or_dash "$tb" "$th")
	row "$id $what" "$expected" "$(observed); fall passes seen: $np" "$fms" "$B_FAIL" "$bms" "$B_BACK"
	for i in "${!T_ID[@]}"; do
		if [ "${T_STEP[$i]}" = "after $id" ] && want "${T_ID[$i]}"; then
			SC=${T_ID[$i]}
			row "${T_ID[$i]} ${T_WHAT[$i]}" "${T_EXPECTED[$i]}" "passes before back: $nb" "-" "-" "$bms" "$B_BACK"
		fi
	done
}
