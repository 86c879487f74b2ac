#!/usr/bin/env bash
# test_reload.sh: no answer lost while a front door reloads or rolls its responders (issue 24,
# points 1 and 2).  bench/openloop sends RATE probes a second (1,000; 50 under valgrind),
# rotating over a failing and a passing registry, through each front door while it is
# reloaded again and again, and counts every reply by status and X-Deephealth-Reason:
#   pool-roll      nginx (shipped snippet) in front of a pool -n 2: SIGHUP to the supervisor
#   pool-roll-1    the same with -n 1: the replacement is started and ready before the old
#                  worker is stopped, so no connection waits for a worker to start
#   lighttpd       lighttpd graceful restarts (SIGUSR1, Debian's systemctl reload), the
#                  responders spawned by lighttpd (bin-path)
#   apache         Apache graceful restarts (SIGUSR1, apachectl graceful) with mod_fcgid
#   nginx          nginx reloads (SIGHUP) in front of the pool
#   keepconn       nginx with persistent FastCGI connections (fastcgi_keep_conn, an upstream
#                  keepalive): steady, the pool rolled, nginx reloaded
# and, first, a responder told to stop while it is reading a request: it finishes that
# request (whole, with its END_REQUEST) and then exits; idle, it exits at once.
# Counts: RELOAD_FULL=1 (make e2e): 1,000 rolls and 200 of each reload; else 50 and 20.
# Checked: every answer is a responder's 200 or 503 (an answer the web server makes itself is
# counted, and must be 0); requests that failed on their connection are counted and bounded:
# a web server that closes its idle keep-alive connections as it reloads fails a request
# sent on one at that instant (openloop does not retry; a load balancer's probe opens its
# own connection).  Loopback only; every process it starts is stopped by its cleanup.
. tests/integration/lib.sh
. tests/integration/servers.sh

OPENLOOP=$BUILD/bench-openloop
now_ms() { local t=${EPOCHREALTIME/./}; echo "${t:0:-3}"; }
[ -x "$OPENLOOP" ] || { not_ok "missing $OPENLOOP (make $BUILD/bench-openloop)"; finish; }
RATE=1000 ROLL_GAP=0.05
if [ -n "${RELOAD_FULL:-}" ]; then N_ROLLS=1000 N_RELOADS=200; else N_ROLLS=50 N_RELOADS=20; fi
# Under valgrind a worker takes a second or more to start: a few rolls, slower, fewer probes.
[ -n "${DH_VALGRIND:-}" ] && RATE=50 ROLL_GAP=3 N_ROLLS=3 N_RELOADS=3
S=$WORK/s
mkdir -p "$S"
chmod 755 "$S"

snap "$S/snapshot" <<'EOF'
created now
interval 30
dep sa1 pass storage critical
dep sa2 fail storage critical since=now-60 cause=HTTP 500
dep auth pass auth critical witness
reg alpha pass
reg beta fail by=sa2 since=now-60
EOF
cat >"$S/r.conf" <<EOF
snapshot = { path = "$S/snapshot"; max_age = 86400; };
responder = { kill_switch = "$WORK/disable"; overrides = "$WORK/overrides"; counters = "$RUNDIR/counters"; };
resolver = { rules = ( "^(?<registry>[a-z0-9-]{3,50})\\\\.azurecr\\\\.io\$" ); };
EOF
# A worker slow to start (a 300,000-line host map: about 0.2 s to load), for the -n 1 roll:
# without the readiness wait, every request that comes while it loads would wait for it.
awk 'BEGIN { for (i = 0; i < 300000; i++) printf "host%06d.example.com filler%06d\n", i, i }' >"$S/hosts.map"
sed 's#^resolver = { #resolver = { host_map = "'"$S"'/hosts.map"; #' "$S/r.conf" >"$S/slow.conf"
chmod 644 "$S/r.conf" "$S/slow.conf" "$S/hosts.map"
HOSTS=(-H alpha.azurecr.io -H beta.azurecr.io)
# RELOAD_PHASES="stop pool lighttpd apache" (the default: all) runs only those.
want() { [ -z "${RELOAD_PHASES:-}" ] || [[ " $RELOAD_PHASES " == *" $1 "* ]]; }

# ---- a responder told to stop in the middle of a request -----------------------------------
# fcgi_slow SOCKET PAUSE: one FastCGI request whose PARAMS come in two halves PAUSE seconds
# apart; prints the reply's status line and whether END_REQUEST came.
fcgi_slow() {
	python3 - "$1" "$2" <<'PY'
import socket, struct, sys, time
def rec(t, content):
    return struct.pack(">BBHHBx", 1, t, 1, len(content), 0) + content
def nv(k, v):
    return bytes([len(k), len(v)]) + k + v
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
params = nv(b"REQUEST_METHOD", b"GET") + nv(b"HTTP_HOST", b"beta.azurecr.io") + nv(b"REQUEST_URI", b"/health")
s.sendall(rec(1, struct.pack(">HB5x", 1, 0)) + rec(4, params[:20]))
time.sleep(float(sys.argv[2]))
s.sendall(rec(4, params[20:]) + rec(4, b"") + rec(5, b""))
data = b""
s.settimeout(5)
try:
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
except socket.timeout:
    pass
out, end, i = b"", False, 0
while i + 8 <= len(data):
    ver, t, rid, ln, pad = struct.unpack(">BBHHB", data[i:i + 7])
    body = data[i + 8:i + 8 + ln]
    if t == 6:
        out += body
    if t == 3:
        end = True
    i += 8 + ln + pad
first = out.split(b"\r\n", 1)[0].decode(errors="replace")
print(first + ("|END_REQUEST" if end else "|no END_REQUEST"))
PY
}
if want stop; then
	SOCK1=$WORK/one.sock
	"$FCGI" -s "$SOCK1" -c "$S/r.conf" 2>"$WORK/one.log" &
	ONE=$!
	PIDS+=("$ONE")
	wait_fcgi "$SOCK1"
	fcgi_slow "$SOCK1" 0.6 >"$WORK/slow.out" &
	SLOW=$!
	sleep 0.3
	kill -TERM "$ONE"
	t0=$(now_ms)
	wait "$SLOW"
	check "stop: a request being read when SIGTERM came is answered whole" "Status: 503 Service Unavailable|END_REQUEST" "$(cat "$WORK/slow.out")"
	for _ in $(seq 100); do kill -0 "$ONE" 2>/dev/null || break; sleep 0.02; done
	if kill -0 "$ONE" 2>/dev/null; then not_ok "stop: the responder exits after that request"
	else ok "stop: the responder exits after that request ($(($(now_ms) - t0)) ms after SIGTERM)"; fi
	wait "$ONE" 2>/dev/null
	check "stop: it exited 0" 0 "$?"
	"$FCGI" -s "$SOCK1" -c "$S/r.conf" 2>>"$WORK/one.log" &
	ONE=$!
	PIDS+=("$ONE")
	sleep 0.3
	t0=$(now_ms)
	kill -TERM "$ONE"
	for _ in $(seq 100); do kill -0 "$ONE" 2>/dev/null || break; sleep 0.01; done
	check "stop: idle, it exits at once (< 500 ms)" yes "$([ $(($(now_ms) - t0)) -lt 500 ] && ! kill -0 "$ONE" 2>/dev/null && echo yes)"
fi

# ---- the harness ----------------------------------------------------------------------------
# under_load NAME URL SECONDS ACTION COUNT GAP_S: openloop at RATE for SECONDS; from 1 s in,
# ACTION COUNT times GAP_S apart; then the load's line in LOAD and each answer's count in ANS.
declare -A ANS
under_load() {
	local name=$1 url=$2 secs=$3 action=$4 count=$5 gap=$6 lp kv i
	"$OPENLOOP" -u "$url/health" -r "$RATE" -d "$secs" -c 8 -w 0 "${HOSTS[@]}" \
		>"$WORK/load.$name" 2>"$WORK/load.$name.err" &
	lp=$!
	sleep 1
	for ((i = 0; i < count; i++)); do
		eval "$action"
		sleep "$gap"
	done
	wait "$lp"
	LOAD=$(cat "$WORK/load.$name")
	ANS=()
	for kv in $(sed -n 's/.* answers=\([^ ]*\).*/\1/p' <<<"$LOAD" | tr ',' ' '); do ANS[${kv%:*}]=${kv##*:}; done
	echo "# RELOAD $name: $count x, rate=$RATE $(grep -o 'done=[0-9]* errors=[0-9]*' <<<"$LOAD")" \
		"$(grep -o 'p99_ms=[0-9.]* max_ms=[0-9.]*' <<<"$LOAD") $(grep -o 'answers=.*' <<<"$LOAD")"
}
field() { sed -n "s/.*[ ^]$1=\([^ ]*\).*/\1/p" <<<" $LOAD"; }
# only_ours NAME MAXFAILED: every answer a responder's 200 or 503; at most MAXFAILED
# requests failed on their connection.
only_ours() {
	local k bad=""
	for k in "${!ANS[@]}"; do
		case $k in 200/healthy | 503/dependency-failed) ;; *) bad+=" $k:${ANS[$k]}" ;; esac
	done
	check "$1: every answer a responder's 200 healthy or 503 dependency-failed (none from the web server)" "" "$bad"
	if [ "$(field errors)" -le "$2" ]; then
		ok "$1: $(field errors) requests failed on their connection (at most $2)"
	else
		not_ok "$1: at most $2 requests failed on their connection" "$LOAD"
	fi
	check "$1: every request scheduled was answered or counted" "$(field scheduled)" "$(($(field "done") + $(field errors)))"
}

# reloads NAME URL SIGNAL PID GAP_S: N_RELOADS of SIGNAL to PID, GAP_S apart, under load.  A
# web server closes its idle keep-alive connections to the client as it reloads: at most one
# failed request per connection of the load (8) per reload; every answer still a responder's.
reloads() {
	under_load "$1" "$2" "$(awk -v n="$N_RELOADS" -v g="$5" 'BEGIN { printf "%d", n * g + 3 }')" \
		"kill -$3 $4" "$N_RELOADS" "$5"
	only_ours "$1" $((8 * N_RELOADS))
	echo "# $1: $(field errors) requests failed on a closing keep-alive connection"
}

# ---- nginx in front of the pool, rolled; then -n 1; then nginx reloaded --------------------
if want pool; then
	N=$WORK/nginx
	mkdir -p "$N"
	www_dir "$WORK/pool"
	PSOCK=$WORK/pool/fcgi.sock
	# shellcheck disable=SC2046 # fcgi_cmd_bin prints a command line
	pool_start "$PSOCK" "$WORK/pool.log" 2 "$S/r.conf" $(fcgi_cmd_bin) || not_ok "pool -n 2 started"
	localize_pool_conf conf/nginx-deephealth.conf "$PSOCK" | localize_www "$WORK" >"$N/deephealth.conf"
	NPORT=$(free_port)
	nginx_base "$N" "$NPORT" "$N/deephealth.conf" off
	nginx_start "$N"
	NU=http://127.0.0.1:$NPORT
	wait_http "$NU/" || not_ok "nginx started"

	ROLL_S=$(awk -v n="$N_ROLLS" -v g="$ROLL_GAP" 'BEGIN { printf "%d", n * g + 3 }')
	under_load pool-roll "$NU" "$ROLL_S" "kill -HUP $POOL_PID" "$N_ROLLS" "$ROLL_GAP"
	only_ours pool-roll 0
	rolled=$(grep -c 'replaced$' "$WORK/pool.log")
	echo "# pool-roll: $rolled workers replaced"
	check "pool-roll: workers replaced (each SIGHUP replaces both, one at a time)" yes "$([ "$rolled" -ge "$N_ROLLS" ] && echo yes)"
	pool_stop "$POOL_PID"
	check "pool -n 2 stopped cleanly" "0 0" "$POOL_STATUS $POOL_LEFT"

	: >"$WORK/pool.log"
	# shellcheck disable=SC2046
	pool_start "$PSOCK" "$WORK/pool.log" 1 "$S/slow.conf" $(fcgi_cmd_bin) || not_ok "pool -n 1 started"
	N1=$((N_ROLLS / 10)) GAP1=0.5
	[ -n "${DH_VALGRIND:-}" ] && N1=3 GAP1=5
	under_load pool-roll-1 "$NU" "$(awk -v n="$N1" -v g="$GAP1" 'BEGIN { printf "%d", n * g + 3 }')" \
		"kill -HUP $POOL_PID" "$N1" "$GAP1"
	only_ours pool-roll-1 0
	ready=$(sed -n 's/.*worker 0: pid [0-9]* ready after \([0-9]*\) ms.*/\1/p' "$WORK/pool.log" | sort -n)
	ready_med=$(sed -n "$(( ($(wc -l <<<"$ready") + 1) / 2 ))p" <<<"$ready")
	echo "# pool-roll-1: $(grep -c 'replaced$' "$WORK/pool.log") rolls; a replacement ready after ${ready_med:-?} ms (median); max latency $(field max_ms) ms, p99 $(field p99_ms) ms"
	# A SIGHUP that comes while a roll is on is not lost: the pool rolls once more after it
	# (several during one roll ask for one more).  So the worker serving at the end is the
	# last SIGHUP's, and no roll is done twice.
	last_roll=$(sed -n 's/.*worker 0: pid [0-9]* ready after [0-9]* ms (roll \([0-9]*\)).*/\1/p' "$WORK/pool.log" | tail -n 1)
	check "pool-roll-1: the last SIGHUP's roll done (none lost)" "$N1" "$last_roll"
	check "pool-roll-1: at most one replacement per SIGHUP" yes \
		"$([ "$(grep -c 'replaced$' "$WORK/pool.log")" -le "$N1" ] && echo yes)"
	# No gap: no request waits for a worker to start, which is what a gap would add (the
	# median time a replacement took to load the configuration and the snapshot).
	[ -z "${DH_VALGRIND:-}" ] &&
		check "pool-roll-1: no request waited half as long as a worker takes to start (max $(field max_ms) ms, a start ${ready_med:-?} ms)" yes \
			"$(awk -v m="$(field max_ms)" -v r="${ready_med:-0}" 'BEGIN { print (r >= 50 && m < r / 2) ? "yes" : "no" }')"
	# Two SIGHUPs 50 ms apart, the second while the first's replacement loads: two rolls,
	# the second started only once the first is done.
	r0=$(grep -c 'replaced$' "$WORK/pool.log")
	kill -HUP "$POOL_PID"; sleep 0.05; kill -HUP "$POOL_PID"
	# shellcheck disable=SC2317 # called through wait_until
	rolled_to() { grep -q "ready after [0-9]* ms (roll $1)" "$WORK/pool.log" && [ "$(grep -c 'replaced$' "$WORK/pool.log")" -ge "$2" ]; }
	wait_until 15 rolled_to $((N1 + 2)) $((r0 + 2)) || echo "# pool-roll-1: the second SIGHUP's roll not done in 15 s" >&2
	check "pool-roll-1: a SIGHUP during a roll: one more roll after it (log order)" \
		"SIGHUP (roll $((N1 + 1))) SIGHUP (roll $((N1 + 2))) roll $((N1 + 1)) roll $((N1 + 2))" \
		"$(grep -o 'SIGHUP (roll [0-9]*)\|ready after [0-9]* ms (roll [0-9]*)' "$WORK/pool.log" | sed 's/ready after [0-9]* ms (\(.*\))/\1/' | tail -n 4 | paste -sd ' ')"
	check "pool-roll-1: two replacements for the two SIGHUPs" "$((r0 + 2))" "$(grep -c 'replaced$' "$WORK/pool.log")"
	pool_stop "$POOL_PID"
	: >"$WORK/pool.log"
	# shellcheck disable=SC2046
	pool_start "$PSOCK" "$WORK/pool.log" 2 "$S/r.conf" $(fcgi_cmd_bin) || not_ok "pool -n 2 started again"

	reloads nginx "$NU" HUP "$(cat "$N/nginx.pid")" 0.25

	# Persistent FastCGI connections (fastcgi_keep_conn with an upstream keepalive): each
	# worker waits on every connection nginx keeps to it, so none is closed under nginx
	# (which would log "Broken pipe" and retry); rolled and reloaded under load as above.
	K=$WORK/nginx-keep
	mkdir -p "$K"
	KPORT=$(free_port)
	nginx_keepconn "$K" "$KPORT" "$PSOCK" 2
	nginx_start "$K"
	KU=http://127.0.0.1:$KPORT
	wait_http "$KU/" || not_ok "nginx (keep-conn) started"
	under_load keepconn "$KU" 5 : 1 0
	only_ours keepconn 0
	check "keepconn: nginx logged no upstream error under steady load" 0 \
		"$(grep -c 'upstream' "$K/error.log")"
	# Each worker holds the connections nginx keeps (its sockets beyond the listening one).
	kept=0
	for w in $(pgrep -P "$POOL_PID"); do
		kept=$((kept + $(find /proc/"$w"/fd -lname 'socket:*' 2>/dev/null | wc -l) - 1))
	done
	check "keepconn: the workers hold nginx's idle connections (2 nginx workers x keepalive 2)" yes \
		"$([ "$kept" -ge 1 ] && [ "$kept" -le 4 ] && echo yes)"
	echo "# keepconn: $kept connections kept after the load"
	under_load keepconn-roll "$KU" "$(awk -v n="$N_RELOADS" 'BEGIN { printf "%d", n * 0.25 + 3 }')" \
		"kill -HUP $POOL_PID" "$N_RELOADS" 0.25
	only_ours keepconn-roll 0
	echo "# keepconn-roll: nginx's error log: $(grep -c 'upstream' "$K/error.log") upstream lines (a kept connection closed by a retiring worker: nginx retries it on a new one)"
	reloads keepconn-nginx "$KU" HUP "$(cat "$K/nginx.pid")" 0.25
	kill "$(cat "$K/nginx.pid")" 2>/dev/null
	pool_stop "$POOL_PID"
fi

# ---- lighttpd spawning the responders, gracefully restarted --------------------------------
if want lighttpd; then
	LPORT=$(free_port)
	start_server lighttpd "$LPORT" /r r || not_ok "lighttpd started"
	LU=http://127.0.0.1:$LPORT/r
	reloads lighttpd "$LU" USR1 "$(cat "$WORK/lighttpd/lighttpd.pid" 2>/dev/null)" 0.25
	stop_server lighttpd
fi

# ---- Apache with mod_fcgid, gracefully restarted -------------------------------------------
if want apache; then
	APORT=$(free_port)
	APACHE_SERVER_LIMIT=16 start_server apache "$APORT" /r r || not_ok "Apache started"
	AU=http://127.0.0.1:$APORT/r
	reloads apache "$AU" USR1 "$(cat "$WORK/apache/run/httpd.pid" 2>/dev/null)" 0.5
	stop_server apache
fi

finish
