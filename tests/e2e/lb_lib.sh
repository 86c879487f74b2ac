# lb_lib.sh: the real load balancers of the load-balancer suite (tests/e2e/lb.sh), sourced
# after lib.sh: the regions description the suite gives deephealthctl lb, each balancer's
# budgets computed from it, and for each of PowerDNS, gdnsd and HAProxy: its configuration
# generated (never written by hand: the generated configuration is what the suite proves),
# the server started with it on loopback, asked the way a client would (dig at it, curl
# through it) and stopped.  Region A's front door is on 127.0.0.2, B's on 127.0.0.3, both on
# DOOR_PORT; each response names the region that answered (X-E2e-Endpoint, lib.sh's serve).

# ---- the load balancer's settings (regions.conf's load_balancer section) ----
LB_INTERVAL=2     # seconds between two probes of one name at one address (the least
LB_TIMEOUT=1      # interval a whole-second timeout below it allows)
LB_FALL=2
LB_RISE=2
LB_TTL=10
LB_KINDS="pdns gdnsd haproxy"

# ---- budgets (ms) ----
# Our stages, as lib.sh's B_FAIL and B_BACK without the emulator: the prober's fall (rise)
# passes, a pass's deadline, the responder's recheck of the snapshot.
S_FAIL=$((P_FALL * P_INTERVAL * 1000 + P_DEADLINE * 1000 + RECHECK_MS))
S_BACK=$((P_RISE * P_INTERVAL * 1000 + P_DEADLINE * 1000 + RECHECK_MS))
# Each balancer's own detection of a change of answer (docs in tests/e2e/lb.sh's header):
# PowerDNS: one check decides, the next check comes within lua-health-checks-interval and
# takes at most the record's timeout; gdnsd: interval x down_thresh (up_thresh), plus up to
# 1 s for the coalesced state update; HAProxy: inter x fall (rise).
declare -A LB_DOWN=(
	[pdns]=$(((LB_INTERVAL + LB_TIMEOUT) * 1000))
	[gdnsd]=$((LB_INTERVAL * LB_FALL * 1000 + 1000))
	[haproxy]=$((LB_INTERVAL * LB_FALL * 1000)))
declare -A LB_UP=(
	[pdns]=$(((LB_INTERVAL + LB_TIMEOUT) * 1000))
	[gdnsd]=$((LB_INTERVAL * LB_RISE * 1000 + 1000))
	[haproxy]=$((LB_INTERVAL * LB_RISE * 1000)))
# A storage fault to the answer moving, a heal to it coming back; the kill switch touched to
# the answer coming back, removed to it leaving again.
budget_fail() { echo $((S_FAIL + LB_DOWN[$1])); }
budget_back() { echo $((S_BACK + LB_UP[$1])); }
budget_switch() { echo $((RECHECK_MS + LB_UP[$1])); }
budget_switch_fail() { echo $((RECHECK_MS + LB_DOWN[$1])); }
# The observer samples every OBS_TICK ms; a sample (a dig of every name, a curl of every
# name) takes up to OBS_COST ms on a busy machine: a measured time may exceed the real one
# by their sum, which a time is allowed over its budget.
OBS_TICK=200
OBS_COST=400
OBS_SLACK=$((OBS_TICK + OBS_COST))

# ---- the names a balancer answers and where each should go ----
# The library's registries, plus tailspin, which prefers region B (eastus2): a preference
# taken from the registry map, not from the order of the regions.
EXTRA_REGISTRIES="tailspin    eastus2,westeurope   sa2      -"
HOSTOF[tailspin]=tailspin.azurecr.io
PROFILES+=(tailspin)
LB_PROFILES=(contoso contoso-cd fabrikam fabrikam-cd northwind tailspin)
declare -A PREF=([contoso]=A [contoso-cd]=A [fabrikam]=A [fabrikam-cd]=A [northwind]=A [tailspin]=B)
DOOR_ADDR[A]=127.0.0.2
DOOR_ADDR[B]=127.0.0.3

# lb_regions FILE: the regions description every balancer's configuration is generated from.
lb_regions() {
	cat >"$1" <<EOF
service = { zone = "azurecr.io"; port = $DOOR_PORT; path = "/health"; ttl = $LB_TTL; };
load_balancer = { interval = $LB_INTERVAL; timeout = $LB_TIMEOUT; fall = $LB_FALL; rise = $LB_RISE; };
regions = (
  { name = "westeurope"; addresses = [ "${DOOR_ADDR[A]}" ]; },
  { name = "eastus2"; addresses = [ "${DOOR_ADDR[B]}" ]; }
);
EOF
}

# ---- starting, asking, stopping ----
# lb_start KIND: generate KIND's configuration into $LBD/KIND/gen (deephealthctl lb, with
# region A's configuration: its registry map and host map), start the server with it on
# 127.0.0.1:LB_PORT (a new port), wait until it answers, using the generated files as
# written.  LB_PID.
LB_PID="" LB_PORT=""
lb_start() {
	local k=$1 d=$LBD/$1 out
	mkdir -p "$d"
	out=$("$BUILD/deephealthctl" -c "$WORK/A/dh.conf" lb "$k" -r "$LBD/regions.conf" -o "$d/gen" 2>&1) ||
		{ echo "# deephealthctl lb $k failed: $out"; return 1; }
	echo "$out" >"$d/generate.out"
	LB_PORT=$(free_port)
	"lb_start_$k" "$d" || return 1
	LB_PID=$!
	PIDS+=("$LB_PID")
	for _ in $(seq 100); do
		[ -n "$("lb_ask_$k" | awk '$1 == "northwind" && $2 == "A"')" ] && return 0
		kill -0 "$LB_PID" 2>/dev/null || break
		sleep 0.1
	done
	echo "# $k did not answer on 127.0.0.1:$LB_PORT:"; tail -n 5 "$d/server.log" | sed 's/^/#   /'
	return 1
}

# PowerDNS: the generated pdns.conf lines, plus where to listen, its own socket-dir (a second
# instance with the same one exits), in the foreground, no syslog, no security poll; at
# loglevel 6 it logs every check's change ("declaring 127.0.0.2 DOWN for URL ...").
lb_start_pdns() {
	local d=$1
	mkdir -p "$d/etc" "$d/run"
	{ grep -v '^#' "$d/gen/pdns.conf"
	  printf 'local-address=127.0.0.1\nlocal-port=%s\nsocket-dir=%s\n' "$LB_PORT" "$d/run"
	  printf 'daemon=no\nguardian=no\ndisable-syslog=yes\nloglevel=6\nprimary=no\nsecondary=no\n'
	  printf 'security-poll-suffix=\nwebserver=no\napi=no\n'
	} >"$d/etc/pdns.conf"
	pdns_server --config-dir="$d/etc" >"$d/server.log" 2>&1 &
}

# gdnsd: options (loopback, the port, its directories) then the generated config and zones.
lb_start_gdnsd() {
	local d=$1 e=$1/etc
	mkdir -p "$e/zones" "$d/run" "$d/state"
	printf 'options => {\n  listen => [ 127.0.0.1 ]\n  dns_port => %s\n  run_dir => %s\n  state_dir => %s\n}\n' \
		"$LB_PORT" "$d/run" "$d/state" >"$e/config"
	cat "$d/gen/config.deephealth" >>"$e/config"
	cp "$d"/gen/zones/* "$e/zones/"
	gdnsd -c "$e" start >"$d/server.log" 2>&1 &
}

# HAProxy: a frontend on the port that sends each request to its name's backend with the
# generated map (the use_backend line the generated file says to add), the stats socket;
# then the generated backends.
lb_start_haproxy() {
	local d=$1
	cat >"$d/base.cfg" <<EOF
global
    nbthread 1
    stats socket $d/admin.sock mode 600 level admin
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe_registries
    bind 127.0.0.1:$LB_PORT
    use_backend %[req.hdr(host),field(1,:),lower,map($d/gen/hosts.map)]
EOF
	haproxy -db -f "$d/base.cfg" -f "$d/gen/haproxy.cfg" >"$d/server.log" 2>&1 &
}

# lb_stop KIND: SIGTERM (pdns_control quit aborts PowerDNS once its LUA checker runs), at
# most 5 s, then SIGKILL; 1 when it had to be killed.
lb_stop() {
	local rc=0
	[ -n "$LB_PID" ] || return 0
	kill -TERM "$LB_PID" 2>/dev/null
	for _ in $(seq 50); do proc_gone "$LB_PID" && break; sleep 0.1; done
	proc_gone "$LB_PID" || { kill -KILL "$LB_PID" 2>/dev/null; rc=1; }
	wait "$LB_PID" 2>/dev/null
	LB_PID=""
	return $rc
}

# lb_ask_KIND: one sample of every watched name as a client of the running balancer sees it,
# a line each: "PROFILE REGION CODE".  DNS: REGION is where the A answer points (A, B, A+B),
# "none" for an answer without an address, "err" for no answer; CODE is "-".  HAProxy: the
# region whose front door answered (its X-E2e-Endpoint), "none" when HAProxy answered itself,
# "err" when nothing did; CODE the HTTP status.
lb_names() { local p; for p in "${LB_PROFILES[@]}"; do printf '%s %s ' "$p" "${HOSTOF[$p]}"; done; }
lb_ask_dns() {
	local args=() p
	for p in "${LB_PROFILES[@]}"; do args+=("${HOSTOF[$p]}" A); done
	dig @127.0.0.1 -p "$LB_PORT" +tries=1 +time=1 +noall +question +answer "${args[@]}" 2>/dev/null |
		awk -v map="$(lb_names)" -v ra="${DOOR_ADDR[A]}" -v rb="${DOOR_ADDR[B]}" '
		BEGIN { n = split(map, m, " "); for (i = 1; i < n; i += 2) { prof[m[i + 1]] = m[i]; order[++k] = m[i + 1] } }
		/^;/ { h = tolower(substr($1, 2)); sub(/\.$/, "", h); asked[h] = 1; next }
		$4 == "A" { h = tolower($1); sub(/\.$/, "", h); r = $5 == ra ? "A" : $5 == rb ? "B" : $5
		            if (h in got) got[h] = got[h] "+" r; else got[h] = r }
		END { for (i = 1; i <= k; i++) { h = order[i]; v = (h in got) ? got[h] : (h in asked) ? "none" : "err"
		          if (v == "B+A") v = "A+B"; print prof[h], v, "-" } }'
}
lb_ask_pdns() { lb_ask_dns; }
lb_ask_gdnsd() { lb_ask_dns; }
lb_ask_haproxy() {
	local args=() p
	for p in "${LB_PROFILES[@]}"; do args+=(-o /dev/null "http://${HOSTOF[$p]}/health"); done
	curl -s --max-time 2 --connect-to "::127.0.0.1:$LB_PORT" \
		-w '%{url} %{http_code} %header{x-e2e-endpoint}\n' "${args[@]}" 2>/dev/null |
		awk -v map="$(lb_names)" '
		BEGIN { n = split(map, m, " "); for (i = 1; i < n; i += 2) prof[m[i + 1]] = m[i] }
		{ h = $1; sub(/^http:\/\//, "", h); sub(/\/.*/, "", h)
		  print prof[h], ($2 == "000" ? "err" : (NF >= 3 ? $3 : "none")), $2 }'
}

# hap_state BACKEND: "SERVER:STATE ..." from HAProxy's stats socket (show servers state:
# operational state 0 stopped, 1 starting, 2 running, 3 stopping).
hap_state() {
	echo "show servers state $1" | socat - "UNIX-CONNECT:$LBD/haproxy/admin.sock" 2>/dev/null |
		awk 'NF > 6 && $1 ~ /^[0-9]+$/ { printf "%s%s:%s", sep, $4, $6; sep = " " }'
}
# gdnsd_state NAME: "ADDRESS:STATE ..." of NAME's service type from gdnsdctl states.
gdnsd_state() {
	gdnsdctl -c "$LBD/gdnsd/etc" states 2>/dev/null |
		awk -v st="$1" -F'"' '$2 ~ "/" st "$" { split($2, a, "/"); printf "%s%s:%s", sep, a[1], $6; sep = " " }'
}
# gdnsd_up_at NAME ADDRESS BOUND_MS: the epoch ms gdnsd first has ADDRESS UP for NAME's
# service type (polled), waiting at most BOUND_MS; nothing and 1 when it did not.
gdnsd_up_at() {
	local end=$(($(now_ms) + $3))
	while [ "$(now_ms)" -lt "$end" ]; do
		[[ " $(gdnsd_state "$1") " == *" $2:UP "* ]] && { now_ms; return 0; }
		sleep 0.1
	done
	return 1
}
