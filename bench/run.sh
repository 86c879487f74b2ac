#!/usr/bin/env bash
# run.sh: make bench: deephealth measured against baselines taken in the same run, on loopback.
# Prints one table and writes build/bench.json.  Figures that matter are ratios: the machines
# are shared and noisy.  Never part of make check.
set -u
ROOT=$(pwd)
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
. tests/common.sh
B=$(mktemp -d /tmp/dh-bench.XXXXXX)
chmod 755 "$B"
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$B"' EXIT
DUR=${BENCH_SECONDS:-5}
ROWS=()
JSON=()

row() { # figure, value, baseline, ratio, target, verdict
	ROWS+=("$(printf '%-52s %14s %14s %8s %-14s %s' "$1" "$2" "$3" "$4" "$5" "$6")")
}
json() { JSON+=("\"$1\": $2"); }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "-"; else printf "%.2f", a / b }'; }
meets() { awk -v v="$1" -v op="$2" -v t="$3" 'BEGIN { ok = (op == ">=") ? v >= t : v <= t; print ok ? "met" : "MISSED" }'; }

echo "bench: generating the workload (100,000 registries, 2,000 storage accounts, 10,000 custom domains, 20 rules)" >&2
awk 'BEGIN {
	srand(7);
	print "created now"; print "interval 30";
	for (i = 1; i <= 2000; i++) printf "dep sa%04d %s storage critical\n", i, (i % 97 == 0 ? "fail" : "pass");
	print "dep cache pass cache degraded"; print "dep auth pass auth critical witness";
	for (i = 0; i < 100000; i++) {
		m = i % 100; v = (m == 0 ? "fail" : (m <= 2 ? "warn" : "pass"));
		printf "reg reg%06d %s%s%s\n", i, v, (v == "fail" ? " by=sa0097" : (v == "warn" ? " by=cache" : "")), (i % 50 == 7 ? " single" : "");
	}
}' >"$B/snap.fixture"
"$BUILD/deephealth-snap" compile "$B/snap.fixture" "$B/snapshot" || exit 1
awk 'BEGIN { for (i = 0; i < 10000; i++) printf "cd%06d.custom.example reg%06d\n", i, (i * 7) % 100000 }' >"$B/hosts.map"
{
	echo 'snapshot = { path = "snapshot"; max_age = 86400; };'
	echo 'responder = { kill_switch = "disable"; overrides = "overrides"; counters = "run/counters"; };'
	echo 'resolver = { host_map = "hosts.map"; rules = ('
	for i in $(seq 18); do echo "  \"^(?<registry>[a-z0-9]{5,50})\\\\.zone$i\\\\.example\\\\.net\$\","; done
	echo '  "^(?<registry>[a-z0-9]{5,50})\\.azurecr\\.io$",'
	echo '  "^(?<registry>[a-z0-9]{5,50})\\.[a-z0-9]+\\.data\\.azurecr\\.io$" ); };'
} >"$B/dh.conf"
chmod -R a+rX "$B"
# responder.counters, created by the responders (the web server's user)
mkdir -p "$B/run"
chmod 1777 "$B/run"

# --- in-process figures
make -s --no-print-directory "$BUILD/bench-micro" "$BUILD/bench-bare" "$BUILD/bench-openloop" >&2 || exit 1
# What the web servers spawn as www-data: copies when the clone is private to root.
mkdir -p "$B/bin"
FCGI=$(www_bin "$BUILD/deephealth.fcgi" "$B/bin")
BARE=$(www_bin "$BUILD/bench-bare" "$B/bin")
"$BUILD/bench-micro" "$B/dh.conf" "$B/snapshot" >"$B/micro.out" || exit 1
get() { awk -v k="$1" -v f="${2:-2}" '$1 == k { print $f }' "$B/micro.out"; }
v=$(get snapshot_load_median_ms)
row "snapshot load, 100k registries (median of 20)" "${v} ms" "-" "-" "<= 10 ms" "$(meets "$v" "<=" 10)"
json snapshot_load_ms "$v"
row "snapshot load, first (cold allocation)" "$(get snapshot_load_first_ms) ms" "-" "-" "" ""
json snapshot_load_first_ms "$(get snapshot_load_first_ms)"
maxr=0
for f in global regional custom mixed-case-port unknown; do
	ns=$(get "request_ns_$f" 2); r=$(get "request_ns_$f" 3)
	row "per-request CPU, host form $f" "${ns} ns" "cheapest" "$r" "<= 2x" "$(meets "$r" "<=" 2)"
	json "request_ns_${f//-/_}" "$ns"
	maxr=$(awk -v a="$maxr" -v b="$r" 'BEGIN { print (b > a ? b : a) }')
done
json request_cost_max_ratio "$maxr"
# 1,000 operator overrides in force (exact names, plus 10 globs): what a request costs more.
for k in miss hit miss_globs; do
	set -- $(awk -v k="request_ns_overrides_$k" '$1 == k { print $2, $3, $4 }' "$B/micro.out")
	case $k in
	miss) what="a registry without one" target="<= 1.1x" ;;
	hit) what="a registry with one (forced)" target="<= 1.1x" ;;
	*) what="without one, 10 globs sharing its prefix" target="" ;;
	esac
	row "per-request CPU, 1,000 overrides in force, $what" "$1 ns" "$2 ns" "$3" "$target" \
		"$([ -n "$target" ] && meets "$3" "<=" 1.1)"
	json "request_ns_overrides_$k" "$1"
	json "request_overrides_${k}_ratio" "$3"
done
# Instructions per request (callgrind, deterministic where ns are not): N requests of one
# form under --toggle-collect=one_request.
if command -v valgrind >/dev/null; then
	maxi=0; mini=0
	for f in global regional custom mixed-case-port unknown; do
		ir=$(valgrind --tool=callgrind --toggle-collect=one_request --callgrind-out-file=/dev/null \
			"$BUILD/bench-micro" -n 2000 "$f" "$B/dh.conf" "$B/snapshot" 2>&1 |
			awk '/Collected :/ { printf "%.0f", $NF / 2000 }')
		eval "ir_${f//-/_}=$ir"
		[ "$mini" = 0 ] || [ "$ir" -lt "$mini" ] && mini=$ir
		[ "$ir" -gt "$maxi" ] && maxi=$ir
		json "request_instructions_${f//-/_}" "$ir"
	done
	for f in global regional custom mixed-case-port unknown; do
		eval "ir=\$ir_${f//-/_}"
		r=$(ratio "$ir" "$mini")
		row "per-request instructions (callgrind), $f" "$ir" "cheapest" "$r" "<= 2x" "$(meets "$r" "<=" 2)"
	done
	json request_instructions_max_ratio "$(ratio "$maxi" "$mini")"
fi
v=$(get resolver_worst_us)
row "worst resolver time, adversarial hosts, 20 rules" "${v} us" "-" "-" "<= 1000 us" "$(meets "$v" "<=" 1000)"
json resolver_worst_us "$v"

# --- the responder behind real lighttpd, against a bare libfcgi responder and static files
PORT=$(free_port)
lighttpd_base "$B/l" "$PORT" "$B/l"
echo pass >"$B/l/static.txt"
chmod -R a+rX "$B/l"
cat >>"$B/l/lighttpd.conf" <<EOF
server.modules += ( "mod_fastcgi" )
fastcgi.server = (
  "/bare" => (( "bin-path" => "$BARE", "socket" => "$B/l/run/bare.sock", "max-procs" => 2, "check-local" => "disable" )),
  "/health" => (( "bin-path" => "$FCGI -c $B/dh.conf", "socket" => "$B/l/run/dh.sock", "max-procs" => 2, "check-local" => "disable" )) )
# The status document from the same 2 responders (same socket and bin-path: one backend).
\$HTTP["url"] =~ "^/deephealth/(status\\.json|metrics)\$" {
  fastcgi.server = ( "/deephealth/" => (( "bin-path" => "$FCGI -c $B/dh.conf", "socket" => "$B/l/run/dh.sock", "max-procs" => 2, "check-local" => "disable" )) )
}
EOF
lighttpd -D -f "$B/l/lighttpd.conf" >"$B/l/stdout.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$PORT/static.txt" && break; sleep 0.05; done
cat >"$B/hosts.lua" <<'EOF'
-- Rotate over every host form, deterministic.
local hosts = { "reg050123.azurecr.io", "reg000042.westeurope.data.azurecr.io", "cd004242.custom.example",
                "REG070007.AzureCR.io.:443", "nobody-here.example.org", "reg099999.azurecr.io" }
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", nil, { Host = hosts[(i % #hosts) + 1] })
end
EOF
wrkrun() { # URL [script] -> "rps p50_ms p99_ms"
	wrk -t2 -c16 -d"${DUR}s" --latency ${2:+-s "$2"} "$1" 2>/dev/null | awk '
		/Requests\/sec/ { rps = $2 }
		$1 == "50%" { p50 = $2 } $1 == "99%" { p99 = $2 }
		END {
			n50 = p50 + 0; if (p50 ~ /us$/) n50 /= 1000; if (p50 ~ /[^m]s$/ && p50 !~ /us$/ && p50 !~ /ms$/) n50 *= 1000
			n99 = p99 + 0; if (p99 ~ /us$/) n99 /= 1000; if (p99 ~ /[^m]s$/ && p99 !~ /us$/ && p99 !~ /ms$/) n99 *= 1000
			printf "%.0f %.3f %.3f\n", rps, n50, n99 }'
}
for u in bare health; do curl -s -o /dev/null -H 'Host: reg050123.azurecr.io' "http://127.0.0.1:$PORT/$u"; done
# median VALUES...: the middle one (the lower middle of an even count)
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
read -r st_rps st50 st99 <<<"$(wrkrun "http://127.0.0.1:$PORT/static.txt")"
# Three rounds, alternating, so drift on a shared machine hits both alike; medians.
BR=() DR=() B99=() D99=() D50=()
for _ in 1 2 3; do
	read -r x _ y <<<"$(wrkrun "http://127.0.0.1:$PORT/bare")"; BR+=("$x"); B99+=("$y")
	read -r x z y <<<"$(wrkrun "http://127.0.0.1:$PORT/health" "$B/hosts.lua")"; DR+=("$x"); D99+=("$y"); D50+=("$z")
done
bare_rps=$(median "${BR[@]}"); dh_rps=$(median "${DR[@]}")
bare99b=$(median "${B99[@]}"); dh99b=$(median "${D99[@]}"); dh50=$(median "${D50[@]}")
r=$(ratio "$dh_rps" "$bare_rps")
row "lighttpd: requests/s (wrk, 16 conns, host mix)" "$dh_rps" "$bare_rps" "$r" ">= 0.95x" "$(meets "$r" ">=" 0.95)"
row "lighttpd: static file requests/s (server's own limit)" "$st_rps" "-" "-" "context" ""
r99=$(ratio "$dh99b" "$bare99b")
row "lighttpd: p99 latency ms (closed loop, 16 conns)" "$dh99b" "$bare99b" "$r99" "context" ""
json lighttpd_rps "$dh_rps"; json lighttpd_bare_rps "$bare_rps"; json lighttpd_static_rps "$st_rps"
json lighttpd_p99_closed_ms "$dh99b"; json lighttpd_bare_p99_closed_ms "$bare99b"
# Fixed rate (open loop, latency from each request's scheduled time) at half the bare
# responder's maximum: the figure a load balancer's probes see.  Tail latency below a
# millisecond on a shared 2-core machine drifts with everything else that runs, so both
# streams run at the same time (a quarter of the bare maximum each) and each round gives
# one ratio; the figure is the median of 5 rounds.
RATE=$((bare_rps / 4))
OLH=(); for h in reg050123.azurecr.io reg000042.westeurope.data.azurecr.io cd004242.custom.example \
	REG070007.AzureCR.io.:443 nobody-here.example.org reg099999.azurecr.io; do OLH+=(-H "Host: $h"); done
olget() { tr ' ' '\n' <"$2" | sed -n "s/^$1=//p" | head -n 1; }
OB50=() OB99=() OD50=() OD99=() OR99=() olerr=0
for _ in 1 2 3 4 5; do
	"$BUILD/bench-openloop" -u "http://127.0.0.1:$PORT/bare" -r "$RATE" -d 4 -c 16 >"$B/ol.bare" &
	olpid=$!
	"$BUILD/bench-openloop" -u "http://127.0.0.1:$PORT/health" -r "$RATE" -d 4 -c 16 "${OLH[@]}" >"$B/ol.dh"
	wait "$olpid"
	OB50+=("$(olget p50_ms "$B/ol.bare")"); OB99+=("$(olget p99_ms "$B/ol.bare")")
	OD50+=("$(olget p50_ms "$B/ol.dh")"); OD99+=("$(olget p99_ms "$B/ol.dh")")
	OR99+=("$(ratio "${OD99[-1]}" "${OB99[-1]}")")
	olerr=$((olerr + $(olget errors "$B/ol.dh") + $(olget errors "$B/ol.bare")))
done
ob50=$(median "${OB50[@]}"); ob99=$(median "${OB99[@]}"); od50=$(median "${OD50[@]}"); od99=$(median "${OD99[@]}")
r99=$(median "${OR99[@]}")
row "lighttpd: p50 latency ms, 2 x $RATE/s (open loop)" "$od50" "$ob50" "$(ratio "$od50" "$ob50")" "context" ""
row "lighttpd: p99 latency ms, 2 x $RATE/s (open loop)" "$od99" "$ob99" "$r99" "<= 1.1x" "$(meets "$r99" "<=" 1.1)"
row "  p99 ratio in each of the 5 rounds" "${OR99[*]}" "-" "-" "context" ""
json openloop_rate "$RATE"; json openloop_p50_ms "$od50"; json openloop_bare_p50_ms "$ob50"
json openloop_p99_ms "$od99"; json openloop_bare_p99_ms "$ob99"; json openloop_p99_ratio "$r99"; json openloop_errors "$olerr"
rss() { local t=0 n=0 p; for p in $(pgrep -f "$1"); do t=$((t + $(awk '/VmRSS/ { print $2 }' /proc/$p/status))); n=$((n + 1)); done; echo $((t / (n ? n : 1))); }
dh_rss=$(rss "deephealth.fcgi -c $B/dh.conf"); bare_rss=$(rss "$BARE")
extra=$(awk -v a="$dh_rss" -v b="$bare_rss" 'BEGIN { printf "%.1f", (a - b) / 1024 }')
row "resident memory per responder, 100k registries" "${dh_rss} kB" "${bare_rss} kB" "+${extra} MB" "<= +16 MB" "$(meets "$extra" "<=" 16)"
json responder_rss_kb "$dh_rss"; json bare_rss_kb "$bare_rss"
# /health while the status document is polled: the page asks every 5 s; here 4 times a second
# (100k registries, 1,000 failing: 200 listed), against /health alone, alternating rounds.
ST_URL="http://127.0.0.1:$PORT/deephealth/status.json"
st_bytes=$(curl -s "$ST_URL" | wc -c)
ST=(); for _ in $(seq 20); do ST+=("$(curl -s -o /dev/null -w '%{time_total}' "$ST_URL")"); done
st_ms=$(median "${ST[@]}" | awk '{ printf "%.1f", $1 * 1000 }')
row "status.json: time to answer, 100k registries (median of 20)" "${st_ms} ms" "-" "-" "context ($st_bytes bytes)" ""
poller() { while :; do curl -s -o /dev/null "$ST_URL"; sleep 0.25; done; }
PQ=() PA=() PR=()
for _ in 1 2 3; do
	read -r x _ _ <<<"$(wrkrun "http://127.0.0.1:$PORT/health" "$B/hosts.lua")"; PA+=("$x")
	poller & ppid=$!
	read -r y _ _ <<<"$(wrkrun "http://127.0.0.1:$PORT/health" "$B/hosts.lua")"; PQ+=("$y")
	kill "$ppid"; wait "$ppid" 2>/dev/null
	PR+=("$(ratio "$y" "$x")")
done
pq=$(median "${PQ[@]}"); pa=$(median "${PA[@]}"); r=$(median "${PR[@]}")
row "lighttpd: /health requests/s while status.json is polled 4/s" "$pq" "$pa" "$r" ">= 0.95x" "$(meets "$r" ">=" 0.95)"
row "  ratio in each of the 3 rounds" "${PR[*]}" "-" "-" "context" ""
json status_json_ms "$st_ms"; json status_json_bytes "$st_bytes"
json health_rps_polled "$pq"; json health_rps_unpolled "$pa"; json health_polled_ratio "$r"
# Spawn to first answer, as lighttpd's bin-path or mod_fcgid sees it: exec, configuration,
# 100k-registry snapshot, one request; against the bare libfcgi responder (libfcgi only).
make -s --no-print-directory "$BUILD/bench-spawn" >&2 || exit 1
sp=$("$BUILD/bench-spawn" 20 reg050123.azurecr.io "$FCGI" -c "$B/dh.conf" | awk '$1 == "spawn_ms_median" { print $2 }')
bp=$("$BUILD/bench-spawn" 20 reg050123.azurecr.io "$BARE" | awk '$1 == "spawn_ms_median" { print $2 }')
row "spawn to first answer, 100k registries (median of 20)" "${sp} ms" "${bp} ms" "$(ratio "$sp" "$bp")" "context" ""
json spawn_ms "$sp"; json bare_spawn_ms "$bp"

# --- the pool (deephealth.fcgi -n 4, as conf/deephealth-fcgi.service runs it, as www-data)
# behind nginx (conf/nginx-deephealth.conf) and Apache + mod_proxy_fcgi
# (conf/apache-deephealth-proxy.conf), the shipped snippets with only the socket localized,
# against lighttpd measured again in the same run: requests/s in 3 alternating rounds of the
# same wrk load, medians; and the open-loop p99 at the lighttpd rows' rate, the pool's stream
# and lighttpd's at the same time, one ratio per round, median of 5.
www_dir "$B/pool"
pool_start "$B/pool/fcgi.sock" "$B/pool/responder.log" 4 "$B/dh.conf" "$FCGI" || exit 1
NPORT=$(free_port)
mkdir -p "$B/n"
localize_pool_conf conf/nginx-deephealth.conf "$B/pool/fcgi.sock" >"$B/n/deephealth.conf"
nginx_base "$B/n" "$NPORT" "$B/n/deephealth.conf" off
nginx_start "$B/n"
# The same snippet with persistent FastCGI connections (issue 24 point 7): /health passed to
# an upstream of the same pool with keepalive (http context), fastcgi_keep_conn on.  Each of
# nginx's 2 workers keeps at most KEEP idle connections: 2 x 2 = the pool's 4 workers.
KEEP=${BENCH_KEEP:-2}
KPORT=$(free_port)
mkdir -p "$B/k"
nginx_keepconn "$B/k" "$KPORT" "$B/pool/fcgi.sock" "$KEEP"
nginx_start "$B/k"
XPORT=$(free_port)
apache_proxy_base "$B/x" "$XPORT"
apache_page_modules "$B/x/httpd.conf"
localize_pool_conf conf/apache-deephealth-proxy.conf "$B/pool/fcgi.sock" >"$B/x/deephealth-proxy-fcgi.conf"
echo "Include $B/x/deephealth-proxy-fcgi.conf" >>"$B/x/httpd.conf"
apache2 -f "$B/x/httpd.conf" -DFOREGROUND >"$B/x/stdout.log" 2>&1 &
PIDS+=($!)
for u in "http://127.0.0.1:$NPORT/health" "http://127.0.0.1:$XPORT/health" "http://127.0.0.1:$KPORT/health"; do
	for _ in $(seq 100); do curl -s -o /dev/null -H 'Host: reg050123.azurecr.io' "$u" && break; sleep 0.05; done
done
LR=() NR=() XR=() KR=()
for _ in 1 2 3; do
	read -r x _ <<<"$(wrkrun "http://127.0.0.1:$PORT/health" "$B/hosts.lua")"; LR+=("$x")
	read -r x _ <<<"$(wrkrun "http://127.0.0.1:$NPORT/health" "$B/hosts.lua")"; NR+=("$x")
	read -r x _ <<<"$(wrkrun "http://127.0.0.1:$XPORT/health" "$B/hosts.lua")"; XR+=("$x")
	read -r x _ <<<"$(wrkrun "http://127.0.0.1:$KPORT/health" "$B/hosts.lua")"; KR+=("$x")
done
l_rps=$(median "${LR[@]}")
# pool_openloop NAME URL: 5 rounds, NAME's stream and lighttpd's at RATE each at the same time;
# sets PL99 (median p99 ms), PLL99 (lighttpd's), PR99 (median ratio), PRS (the 5 ratios), PERR.
pool_openloop() {
	local r99=() p99=() l99=() _r
	PERR=0
	for _r in 1 2 3 4 5; do
		"$BUILD/bench-openloop" -u "http://127.0.0.1:$PORT/health" -r "$RATE" -d 4 -c 16 "${OLH[@]}" >"$B/ol.l" &
		olpid=$!
		"$BUILD/bench-openloop" -u "$2" -r "$RATE" -d 4 -c 16 "${OLH[@]}" >"$B/ol.p"
		wait "$olpid"
		p99+=("$(olget p99_ms "$B/ol.p")"); l99+=("$(olget p99_ms "$B/ol.l")")
		r99+=("$(ratio "${p99[-1]}" "${l99[-1]}")")
		PERR=$((PERR + $(olget errors "$B/ol.p")))
	done
	PL99=$(median "${p99[@]}"); PLL99=$(median "${l99[@]}"); PR99=$(median "${r99[@]}"); PRS="${r99[*]}"
}
for srv in "nginx+pool $NPORT nginx" "apache+proxy_fcgi $XPORT apache_proxy"; do
	read -r name sport key <<<"$srv"
	if [ "$key" = nginx ]; then rps=$(median "${NR[@]}"); else rps=$(median "${XR[@]}"); fi
	row "$name: requests/s (pool of 4, wrk, 16 conns)" "$rps" "$l_rps" "$(ratio "$rps" "$l_rps")" "vs lighttpd" ""
	pool_openloop "$name" "http://127.0.0.1:$sport/health"
	row "$name: p99 ms, 2 x $RATE/s (open loop)" "$PL99" "$PLL99" "$PR99" "<= 2x lighttpd" "$(meets "$PR99" "<=" 2)"
	row "  p99 ratio in each of the 5 rounds" "$PRS" "-" "-" "context" ""
	json "${key}_pool_rps" "$rps"; json "${key}_pool_lighttpd_rps" "$l_rps"
	json "${key}_pool_p99_ms" "$PL99"; json "${key}_pool_lighttpd_p99_ms" "$PLL99"
	json "${key}_pool_p99_ratio" "$PR99"; json "${key}_pool_openloop_errors" "$PERR"
done
# Keep-conn against the shipped snippet, the same pool, nginx and load: requests/s (the wrk
# rounds above), and the open-loop p99 at RATE of each, alternating, 5 rounds, medians; every
# answer that is not a responder's counted (a kept connection the pool closes under nginx
# would show as nginx's 502).
n_rps=$(median "${NR[@]}"); k_rps=$(median "${KR[@]}")
r=$(ratio "$k_rps" "$n_rps")
row "nginx+pool keep-conn (keepalive $KEEP x 2): requests/s" "$k_rps" "$n_rps" "$r" ">= 1.3x shipped" "$(meets "$r" ">=" 1.3)"
row "  requests/s in each of the 3 rounds" "${KR[*]}" "${NR[*]}" "-" "context" ""
K99=() N99=() KF=0 NF=0
for _r in 1 2 3 4 5; do
	"$BUILD/bench-openloop" -u "http://127.0.0.1:$NPORT/health" -r "$RATE" -d 4 -c 16 "${OLH[@]}" >"$B/ol.n"
	"$BUILD/bench-openloop" -u "http://127.0.0.1:$KPORT/health" -r "$RATE" -d 4 -c 16 "${OLH[@]}" >"$B/ol.k"
	N99+=("$(olget p99_ms "$B/ol.n")"); K99+=("$(olget p99_ms "$B/ol.k")")
	NF=$((NF + $(olget errors "$B/ol.n") + $(olget foreign "$B/ol.n")))
	KF=$((KF + $(olget errors "$B/ol.k") + $(olget foreign "$B/ol.k")))
done
n99=$(median "${N99[@]}"); k99=$(median "${K99[@]}")
kr99=$(ratio "$k99" "$n99")
row "nginx+pool keep-conn: p99 ms, $RATE/s (open loop, 5 rounds)" "$k99" "$n99" "$kr99" "<= 1x shipped" "$(meets "$kr99" "<=" 1)"
row "  answers not from a responder, or failed (5 rounds)" "$KF" "$NF" "-" "context" ""
json nginx_keepconn_rps "$k_rps"; json nginx_keepconn_rps_ratio "$r"
json nginx_keepconn_p99_ms "$k99"; json nginx_shipped_p99_ms "$n99"; json nginx_keepconn_p99_ratio "$kr99"
json nginx_keepconn_not_ours "$KF"; json nginx_shipped_not_ours "$NF"
kill "$(cat "$B/n/nginx.pid")" "$(cat "$B/x/run/httpd.pid")" "$(cat "$B/k/nginx.pid")" 2>/dev/null
pool_stop "$POOL_PID"
kill "$(cat "$B/l/lighttpd.pid")" 2>/dev/null

# --- Apache + mod_fcgid with the shipped pool settings
APORT=$(free_port)
apache_base "$B/a" "$APORT"
apache_page_modules "$B/a/httpd.conf"
localize_conf conf/apache-deephealth.conf "$FCGI" "$B/dh.conf" "" >"$B/a/deephealth.conf"
echo "Include $B/a/deephealth.conf" >>"$B/a/httpd.conf"
apache2 -f "$B/a/httpd.conf" -DFOREGROUND >"$B/a/stdout.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$APORT/" && break; sleep 0.05; done
# Warm the pool: mod_fcgid spawns on demand, and a request that finds every process busy
# waits a whole second.  Measure once the shipped 16 processes run (at most 30 s of warming).
apool() { pgrep -fc "deephealth.fcgi -c $B/dh.conf" 2>/dev/null || echo 0; }
for _ in $(seq 10); do
	wrk -t2 -c16 -d3s -s "$B/hosts.lua" "http://127.0.0.1:$APORT/health" >/dev/null 2>&1
	[ "$(apool)" -ge 16 ] && break
done
row "apache+mod_fcgid: responder processes after warming" "$(apool)" "-" "-" "context" ""
read -r ap_rps ap50 ap99 <<<"$(wrkrun "http://127.0.0.1:$APORT/health" "$B/hosts.lua")"
row "apache+mod_fcgid: requests/s (shipped pool of 16)" "$ap_rps" "$dh_rps" "$(ratio "$ap_rps" "$dh_rps")" "vs lighttpd" ""
row "apache+mod_fcgid: p50 / p99 latency ms" "$ap50 / $ap99" "$dh50 / $dh99b" "" "context" ""
json apache_rps "$ap_rps"; json apache_p99_ms "$ap99"
kill "$(cat "$B/a/run/httpd.pid")" 2>/dev/null

# --- the prober: 10,000 HTTP checks against lighttpd serving a file, vs curl --parallel
PPORT=$(free_port)
lighttpd_base "$B/s" "$PPORT" "$B/s"
echo ok >"$B/s/ok.txt"
chmod -R a+rX "$B/s"
echo 'server.max-connections = 4096' >>"$B/s/lighttpd.conf"
lighttpd -D -f "$B/s/lighttpd.conf" >"$B/s/stdout.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$PPORT/ok.txt" && break; sleep 0.05; done
probe_conf() { # N [hung-name]: config with N http dependencies
	{
		echo "snapshot = { path = \"$B/p/snapshot\"; };"
		echo "prober = { registries = \"$B/p/reg.map\"; state = \"$B/p/state\"; lock = \"$B/p/lock\"; parallel = 64; deadline = 60; interval = 60; };"
		echo 'dependencies = ('
		awk -v n="$1" -v port="$PPORT" -v hung="${2:-}" -v hport="${3:-0}" 'BEGIN {
			for (i = 1; i <= n; i++)
				printf "  { name = \"sa%05d\"; kind = \"storage\"; type = \"http\"; url = \"http://127.0.0.1:%s/ok.txt?%d\"; timeout_ms = 2000; }%s\n",
				       i, (("sa" sprintf("%05d", i)) == hung ? hport : port), i, (i < n ? "," : "")
		}'
		echo ');'
	} >"$B/p/dh.conf"
}
mkdir -p "$B/p"
awk 'BEGIN { for (i = 0; i < 100000; i++) printf "reg%06d westeurope,eastus sa%05d -\n", i, i % 2000 + 1 }' >"$B/p/reg.map.100k"
awk 'BEGIN { for (i = 1; i <= 10000; i++) printf "r%05d westeurope,eastus sa%05d -\n", i, i }' >"$B/p/reg.map"
probe_conf 10000
secs() { local t0 t1; t0=$(date +%s%N); "$@" >/dev/null 2>&1; t1=$(date +%s%N); awk -v d=$((t1 - t0)) 'BEGIN { printf "%.3f", d / 1e9 }'; }
awk -v port="$PPORT" 'BEGIN { for (i = 1; i <= 10000; i++) printf "url = \"http://127.0.0.1:%s/ok.txt?%d\"\noutput = \"/dev/null\"\n", port, i }' >"$B/p/curl.cfg"
t_curl=$(secs curl -s --parallel --parallel-max 64 --parallel-immediate -K "$B/p/curl.cfg")
t_probe=$(secs "$BUILD/deephealth-probe" -c "$B/p/dh.conf")
"$BUILD/deephealth-snap" check "$B/p/snapshot" >/dev/null 2>&1 || t_probe="failed"
r=$(ratio "$t_curl" "$t_probe")
row "prober: one pass of 10,000 HTTP checks (s)" "$t_probe" "$t_curl" "$r" ">= 0.8x curl" "$(meets "$r" ">=" 0.8)"
json probe_10k_s "$t_probe"; json curl_10k_s "$t_curl"

# 200 checks vs a shell loop of check_http: a pass of a running prober (-r, the way the
# shipped cron line and timer run it), and a whole cold process for one pass, which adds
# the dynamic loading of libcurl and its ~35 libraries (timed alone: curl --version).
probe_conf 200
head -n 200 "$B/p/reg.map" >"$B/p/reg.map.200"; cp "$B/p/reg.map.200" "$B/p/reg.map"
t_plug=$(secs bash -c "for i in \$(seq 200); do /usr/lib/nagios/plugins/check_http -H 127.0.0.1 -p $PPORT -u /ok.txt >/dev/null; done")
t_cold=$(median $(for _ in 1 2 3; do secs "$BUILD/deephealth-probe" -c "$B/p/dh.conf"; echo; done))
t_curlv=$(median $(for _ in 1 2 3; do secs curl --version; echo; done))
t_pass=$(printf '%.3f' "$(median $("$BUILD/deephealth-probe" -v -r 1 -d 5 -c "$B/p/dh.conf" 2>&1 |
	awk '/debug: published/ { for (i = 1; i <= NF; i++) if ($i == "ms") print $(i - 1) / 1000 }'))")
r=$(ratio "$t_plug" "$t_pass")
row "prober: 200 HTTP checks, one pass (s)" "$t_pass" "$t_plug" "${r}x" ">= 50x faster" "$(meets "$r" ">=" 50)"
r=$(ratio "$t_plug" "$t_cold")
row "prober: 200 HTTP checks, cold process (s)" "$t_cold" "$t_plug" "${r}x" ">= 50x faster" "$(meets "$r" ">=" 50)"
row "  of which libcurl's load: curl --version (s)" "$t_curlv" "-" "-" "context" ""
# As shipped (cron line and timer: -r 10 -d 60), one process runs 6 passes.
t_ship=$(awk -v p="$t_pass" -v c="$t_cold" 'BEGIN { printf "%.3f", p + (c - p) / 6 }')
row "prober: 200 checks, per pass as shipped (6 per process)" "$t_ship" "$t_plug" "$(ratio "$t_plug" "$t_ship")x" "context" ""
json probe_200_pass_s "$t_pass"; json probe_200_cold_s "$t_cold"; json curl_version_s "$t_curlv"
json check_http_loop_200_s "$t_plug"

# Load a 100k-registry map, evaluate, publish (2,000 fast local checks included).
probe_conf 2000
cp "$B/p/reg.map.100k" "$B/p/reg.map"
t0=$(date +%s%N)
/usr/bin/time -f '%M' -o "$B/p/peak" "$BUILD/deephealth-probe" -c "$B/p/dh.conf" >/dev/null 2>&1
t_all=$(awk -v d=$(($(date +%s%N) - t0)) 'BEGIN { printf "%.3f", d / 1e9 }')
peak=$(cat "$B/p/peak" 2>/dev/null || echo 0)
row "prober: 100k-registry map + 2,000 checks + publish (s)" "$t_all" "-" "-" "<= 1 s" "$(meets "$t_all" "<=" 1)"
row "prober: peak resident memory for that pass" "$((peak / 1024)) MB" "-" "-" "<= 200 MB" "$(meets "$((peak / 1024))" "<=" 200)"
json probe_100k_s "$t_all"; json probe_100k_peak_kb "$peak"

# One of 2,000 dependencies hung (accepts, never answers): costs at most its timeout (2 s).
HPORT=$(free_port)
echo hang >"$B/p/hang.mode"
"$BUILD/httpfix" -p "$HPORT" -f "$B/p/hang.mode" >/dev/null 2>&1 &
PIDS+=($!)
sleep 0.3
t_none=$(secs "$BUILD/deephealth-probe" -c "$B/p/dh.conf")
probe_conf 2000 sa01000 "$HPORT"
t_hung=$(secs "$BUILD/deephealth-probe" -c "$B/p/dh.conf")
extra=$(awk -v a="$t_hung" -v b="$t_none" 'BEGIN { printf "%.3f", a - b }')
row "prober: pass with 1 of 2,000 hung, extra time (s)" "$extra" "$t_none" "-" "<= 2 s timeout" "$(meets "$extra" "<=" 2)"
json probe_hung_extra_s "$extra"

# --- a region of front doors fed by deephealth-follow
make -s --no-print-directory "$BUILD/deephealth-follow" >&2 || exit 1
. bench/fleet.sh

{
	printf '%-52s %14s %14s %8s %-14s %s\n' figure value baseline ratio target verdict
	printf '%s\n' "${ROWS[@]}"
} | tee "$BUILD/bench.txt"
{
	printf '{\n  "date": "%s",\n  "machine": "%s, %s cores",\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$(uname -m)" "$(nproc)"
	for i in "${!JSON[@]}"; do printf '  %s%s\n' "${JSON[$i]}" "$([ "$i" -lt $((${#JSON[@]} - 1)) ] && echo ,)"; done
	printf '}\n'
} >"$BUILD/bench.json"
echo "bench: wrote $BUILD/bench.json"
