#!/usr/bin/env bash
# test_shipped_conf.sh: the web-server snippets we ship (conf/lighttpd.conf,
# conf/apache-deephealth.conf, conf/nginx-deephealth.conf, conf/apache-deephealth-proxy.conf)
# work as written, with only install paths localized; the last two against a responder pool
# (deephealth.fcgi -n) that survives a killed worker, a reload and stops cleanly.  Each also
# serves the status page at /deephealth/ and its two documents to loopback (what it refuses to
# others: test_admin_paths.sh).
. tests/integration/lib.sh

S=$WORK/state
mkdir -p "$S"
# The responders' counters in a directory of this run that they (www-data) can write.
www_dir "$S/shm"
sed -e "s#/var/lib/deephealth/snapshot#$S/snapshot#" -e "s#/etc/deephealth/disable#$S/disable#" \
	-e "s#/dev/shm/deephealth.counters#$S/shm/counters#" conf/deephealth.conf >"$S/dh.conf"
printf 'created now\ndep sa1 fail storage critical\nreg fabrikam fail by=sa1\nreg contoso pass\n' | snap "$S/snapshot"
# The status page's directory: the repository's www/admin, a placeholder page where it has none.
WWW=$WORK/www
mkdir -p "$WWW"
[ -d www/admin ] && cp -R www/admin/. "$WWW/"
[ -e "$WWW/index.html" ] || echo '<!doctype html><title>deephealth status (placeholder)</title>' >"$WWW/index.html"
chmod -R a+rX "$S" "$WWW"
# answer URL [curl args...]: "CODE responder" when the responder wrote the answer (a health answer
# carries X-Deephealth-Reason; the status documents and health answers Cache-Control: no-store),
# "CODE server" when the web server did (a file, its own 403 or 404).
answer() {
	local url=$1 out; shift
	out=$(curl -s -o /dev/null --max-time 10 "$@" \
		-w '%{http_code} %header{x-deephealth-reason}|%header{cache-control}' "$url")
	case $out in
	*' |no-store' | *' '[a-z]*'|'*) echo "${out%% *} responder" ;;
	*) echo "${out%% *} server" ;;
	esac
}
# admin_open NAME URL: from 127.0.0.1 (allowed by default) the two documents come from the
# responder (until it serves them, its health answer), /deephealth/ is the page, and nothing
# else under /deephealth/ reaches the responder.
admin_open() {
	local p
	for p in /deephealth/status.json '/deephealth/status.json?q=contoso&limit=5' /deephealth/metrics; do
		check_match "$1 snippet: $p from the responder" '^(200|503) responder$' "$(answer "$2$p" -H 'Host: contoso.azurecr.io')"
	done
	check "$1 snippet: /deephealth/ is the page" "200 server" "$(answer "$2/deephealth/")"
	check "$1 snippet: /deephealth/ serves index.html" "$(cat "$WWW/index.html")" "$(curl -s --max-time 10 "$2/deephealth/")"
	for p in /deephealth/metricsx /deephealth/status.json/x; do
		check "$1 snippet: $p is neither a file nor a document" "404 server" "$(answer "$2$p")"
	done
}
out=$("$FCGI" -t -c conf/deephealth.conf 2>&1)
check "shipped deephealth.conf passes -t" "conf/deephealth.conf: configuration OK (0 hosts, 2 rules)" "$out"

# lighttpd: our snippet appended to a minimal server config.
L=$WORK/lighttpd
PORT=$(free_port)
lighttpd_base "$L" "$PORT" "$L"
localize_conf conf/lighttpd.conf "$(fcgi_cmd_bin)" "$S/dh.conf" "$L/run/deephealth.sock" | localize_www "$WWW" >>"$L/lighttpd.conf"
out=$(lighttpd -tt -f "$L/lighttpd.conf" 2>&1)
check "lighttpd -tt accepts the snippet" "" "$out"
lighttpd -D -f "$L/lighttpd.conf" >"$L/stdout.log" 2>&1 &
PIDS+=($!)
wait_http "http://127.0.0.1:$PORT/"
check "lighttpd snippet: /health fail" "503 dependency-failed fail" "$(req "http://127.0.0.1:$PORT/health" fabrikam.azurecr.io)"
check "lighttpd snippet: /health pass" "200 healthy pass" "$(req "http://127.0.0.1:$PORT/health" contoso.azurecr.io)"
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: fabrikam.azurecr.io' "http://127.0.0.1:$PORT/healthz")
check "lighttpd snippet: /healthz is not the health endpoint" 404 "$code"
admin_open lighttpd "http://127.0.0.1:$PORT"
# The documents are served by the same backend as /health: its max-procs 2 sockets, no others.
check "lighttpd snippet: /deephealth/ documents from the /health responders" "deephealth.sock-0 deephealth.sock-1" \
	"$(cd "$L/run" && echo *)"
# This lighttpd's children only: other tests may run responders at the same time.
n=$(pgrep -u www-data -P "$(cat "$L/lighttpd.pid")" -fc "$FCGI")
check "lighttpd snippet: max-procs 2 responders, running as www-data" 2 "$n"
sock_mode=$(stat -c '%U %a' "$L/run")
check "lighttpd snippet: socket directory private to www-data" "www-data 700" "$sock_mode"
kill "$(cat "$L/lighttpd.pid")"

# Apache: our snippet included from a minimal server config.
A=$WORK/apache
PORT=$(free_port)
apache_base "$A" "$PORT"
apache_page_modules "$A/httpd.conf"
localize_conf conf/apache-deephealth.conf "$(fcgi_cmd_bin)" "$S/dh.conf" "" | localize_www "$WWW" >"$A/deephealth.conf"
echo "Include $A/deephealth.conf" >>"$A/httpd.conf"
out=$(apache2 -t -f "$A/httpd.conf" 2>&1)
check "apache2 -t accepts the snippet" "Syntax OK" "$out"
apache2 -f "$A/httpd.conf" -DFOREGROUND >"$A/stdout.log" 2>&1 &
PIDS+=($!)
wait_http "http://127.0.0.1:$PORT/"
check "apache snippet: /health fail" "503 dependency-failed fail" "$(req "http://127.0.0.1:$PORT/health" fabrikam.azurecr.io)"
check "apache snippet: /health pass" "200 healthy pass" "$(req "http://127.0.0.1:$PORT/health" contoso.azurecr.io)"
admin_open apache "http://127.0.0.1:$PORT"
# 8 concurrent clients x 25 requests: with the shipped pool no request waits mod_fcgid's 1 s.
slow=$(for c in $(seq 8); do
	( for i in $(seq 25); do curl -s -o /dev/null -H 'Host: contoso.azurecr.io' -w '%{time_total}\n' "http://127.0.0.1:$PORT/health"; done ) &
done; wait)
n=$(echo "$slow" | wc -l)
nslow=$(echo "$slow" | awk '$1 >= 0.9' | wc -l)
check "apache snippet: 200 requests from 8 clients answered" 200 "$n"
echo "# apache snippet: requests at >= 0.9 s (mod_fcgid queueing while the pool grows): $nslow of $n"
kill "$(cat "$A/run/httpd.pid")"
for _ in $(seq 50); do pgrep -f "$FCGI -c $S/dh.conf" >/dev/null || break; sleep 0.1; done

# The pool, as conf/deephealth-fcgi.service runs it (4 workers), but started here as www-data
# on a socket in a www-data-only directory (systemd: root:www-data 0660 in /run/deephealth).
# nginx and Apache + mod_proxy_fcgi both connect to it through the shipped snippets, with only
# the socket path localized.
P=$WORK/pool
mkdir -p "$P"
www_dir "$P/run"
PSOCK=$P/run/fcgi.sock
PLOG=$P/responder.log
POOL_N=4
start_pool() {
	# shellcheck disable=SC2046 # fcgi_cmd_bin prints a command line
	pool_start "$PSOCK" "$PLOG" "$POOL_N" "$S/dh.conf" $(fcgi_cmd_bin)
}
if start_pool; then ok "pool: started with -n $POOL_N"; else not_ok "pool: started with -n $POOL_N"; fi
n=$(pgrep -u www-data -P "$POOL_PID" | wc -l)
check "pool: $POOL_N workers, running as www-data" "$POOL_N" "$n"

# nginx: our snippet included in the server block of a minimal nginx.conf.
N=$WORK/nginx
NPORT=$(free_port)
mkdir -p "$N"
localize_pool_conf conf/nginx-deephealth.conf "$PSOCK" | localize_www "$WWW" >"$N/deephealth.conf"
nginx_base "$N" "$NPORT" "$N/deephealth.conf"
out=$(nginx_cmd "$N" -t 2>&1)
check_match "nginx -t accepts the snippet" 'test is successful' "$out"
if grep -qE '\[(warn|emerg|alert|crit|error)\]' <<<"$out"; then not_ok "nginx -t: no warnings" "$out"
else ok "nginx -t: no warnings"; fi
nginx_start "$N"
wait_http "http://127.0.0.1:$NPORT/"
NU=http://127.0.0.1:$NPORT

# Apache: our snippet included from a minimal server config with mod_proxy_fcgi.
AP=$WORK/apache-proxy
APORT=$(free_port)
apache_proxy_base "$AP" "$APORT"
apache_page_modules "$AP/httpd.conf"
localize_pool_conf conf/apache-deephealth-proxy.conf "$PSOCK" | localize_www "$WWW" >"$AP/deephealth-proxy-fcgi.conf"
echo "Include $AP/deephealth-proxy-fcgi.conf" >>"$AP/httpd.conf"
out=$(apache2 -t -f "$AP/httpd.conf" 2>&1)
check "apache2 -t accepts the mod_proxy_fcgi snippet" "Syntax OK" "$out"
apache2 -f "$AP/httpd.conf" -DFOREGROUND >"$AP/stdout.log" 2>&1 &
PIDS+=($!)
wait_http "http://127.0.0.1:$APORT/"
AU=http://127.0.0.1:$APORT

for srv in "nginx $NU" "apache-proxy $AU"; do
	read -r name U <<<"$srv"
	check "$name snippet: /health fail" "503 dependency-failed fail" "$(req "$U/health" fabrikam.azurecr.io)"
	check "$name snippet: /health pass" "200 healthy pass" "$(req "$U/health" contoso.azurecr.io)"
	check "$name snippet: HEAD /health" "503 dependency-failed fail" "$(req "$U/health" fabrikam.azurecr.io -I)"
	for path in /healthz /health/x /healt; do
		code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: fabrikam.azurecr.io' "$U$path")
		check "$name snippet: $path is not the health endpoint" 404 "$code"
	done
	admin_open "$name" "$U"
done

# load OUT: 8 clients x 50 requests, half through nginx, half through Apache, each alternating
# a failing and a healthy registry; "CODE REASON" of every answer into OUT.N.  Runs in the
# background: wait_load waits for it.
LOAD=()
load() {
	local c
	LOAD=()
	for c in $(seq 8); do
		local url=$NU/health
		[ $((c % 2)) = 0 ] && url=$AU/health
		(
			for i in $(seq 50); do
				h=contoso.azurecr.io
				[ $((i % 2)) = 0 ] && h=fabrikam.azurecr.io
				curl -s -o /dev/null --max-time 20 -H "Host: $h" \
					-w '%{http_code} %header{x-deephealth-reason}\n' "$url"
			done >"$1.$c"
		) &
		LOAD+=($!)
	done
}
wait_load() { local p; for p in "${LOAD[@]}"; do wait "$p"; done; }
# load_running: true while some client of the load still runs.
load_running() { local p; for p in "${LOAD[@]}"; do proc_gone "$p" || return 0; done; return 1; }
# check_load DESC OUT: every one of the 400 requests got the responder's 200 or 503 (never the
# web server's own 502, 503 or 504: those have no X-Deephealth-Reason).
check_load() {
	local all bad
	all=$(cat "$2".*)
	bad=$(grep -cvE '^(200 healthy|503 dependency-failed)$' <<<"$all")
	check "$1: all 400 requests answered 200 or 503 by the responder ($(grep -c . <<<"$all") answers)" "0 400" "$bad $(grep -c . <<<"$all")"
	[ "$bad" = 0 ] || grep -vE '^(200 healthy|503 dependency-failed)$' <<<"$all" | sort | uniq -c | sed 's/^/#   /'
}
# wait_workers N [SECONDS]: until the supervisor runs N workers (at most SECONDS, default 60).
wait_workers() {
	for _ in $(seq $((${2:-60} * 10))); do [ "$(pool_workers "$POOL_PID")" = "$1" ] && return 0; sleep 0.1; done
	return 1
}
# kill_idle_worker: kill -9 a worker that holds no connection, only the listening socket.  A
# worker killed while it holds one loses that request (the web server answers 502: nothing else
# can answer it); what must hold is that no other request is lost.  Each candidate is stopped
# (SIGSTOP) first, so what it holds cannot change while we look; one that holds a connection
# is let go on (SIGCONT) and another tried.  Any worker if none is seen idle.  The pid in KILLED.
kill_idle_worker() {
	local w st n fd
	for _ in $(seq 100); do
		for w in $(pgrep -P "$POOL_PID"); do
			kill -STOP "$w" 2>/dev/null || continue
			for _ in $(seq 1000); do
				read -r _ _ st _ <"/proc/$w/stat" 2>/dev/null || break
				[ "$st" = T ] && break
			done
			n=0
			for fd in "/proc/$w/fd"/*; do [[ $(readlink "$fd") == socket:* ]] && n=$((n + 1)); done
			if [ "$st" = T ] && [ "$n" = 1 ]; then kill -9 "$w"; KILLED=$w; return; fi
			kill -CONT "$w"
		done
	done
	KILLED=$(pgrep -P "$POOL_PID" | head -n 1)
	echo "# no worker seen idle: killing $KILLED anyway"
	kill -9 "$KILLED"
}

# kill -9 one worker while requests flow: the others keep accepting on the socket, the
# supervisor starts a new one.
load "$WORK/load.kill"
sleep 0.3
running=no; load_running && running=yes
kill_idle_worker
w=$KILLED
wait_load
check "pool: a worker was killed while the load ran" "yes" "$running"
check_load "pool: kill -9 of worker $w under load" "$WORK/load.kill"
if wait_workers "$POOL_N"; then ok "pool: back to $POOL_N workers after the kill"
else not_ok "pool: back to $POOL_N workers after the kill" "$(pool_workers "$POOL_PID") workers"; fi
check_match "pool: the supervisor logged the worker's death" "worker [0-9]+ \\(pid $w\\) killed by signal 9" "$(cat "$PLOG")"

# SIGHUP (systemctl reload) while requests flow: every worker replaced, one at a time.
old=$(pgrep -P "$POOL_PID" | sort)
load "$WORK/load.hup"
sleep 0.3
running=no; load_running && running=yes
kill -HUP "$POOL_PID"
wait_load
check "pool: SIGHUP came while the load ran" "yes" "$running"
check_load "pool: SIGHUP under load" "$WORK/load.hup"
replaced=no
for _ in $(seq 600); do
	now=$(pgrep -P "$POOL_PID" | sort)
	if [ "$(pool_workers "$POOL_PID")" = "$POOL_N" ] && [ -z "$(comm -12 <(echo "$old") <(echo "$now"))" ]; then
		replaced=yes; break
	fi
	sleep 0.1
done
check "pool: SIGHUP replaced all $POOL_N workers" yes "$replaced"
check "pool: every worker replaced is logged" "$POOL_N" "$(grep -c 'worker [0-9]* (pid [0-9]*) replaced' "$PLOG")"

# SIGTERM (systemctl stop): the supervisor stops its workers and exits 0.
workers=$(pgrep -P "$POOL_PID")
pool_stop "$POOL_PID"
check "pool: SIGTERM: the supervisor exits 0" 0 "$POOL_STATUS"
left=0
for w in $workers; do proc_gone "$w" || left=$((left + 1)); done
check "pool: SIGTERM: every worker exited" "0 0" "$POOL_LEFT $left"
check_match "pool: SIGTERM: the stop is logged" 'supervisor: every worker stopped, exiting' "$(cat "$PLOG")"

# With the pool down, each server answers by itself (no X-Deephealth-Reason)...
check "nginx snippet: pool down: nginx's own 502" "502  " "$(req "$NU/health" contoso.azurecr.io)"
check "apache-proxy snippet: pool down: Apache's own 503" "503  " "$(req "$AU/health" contoso.azurecr.io)"
# ...and as soon as it is back, both use it again (Apache: retry=0, no lockout after a failed connect).
if start_pool; then ok "pool: restarted"; else not_ok "pool: restarted"; fi
check "nginx snippet: pool back" "200 healthy pass" "$(req "$NU/health" contoso.azurecr.io)"
check "apache-proxy snippet: pool back at once, no retry lockout" "200 healthy pass" "$(req "$AU/health" contoso.azurecr.io)"

kill "$(cat "$N/nginx.pid")" "$(cat "$AP/run/httpd.pid")"
pool_stop "$POOL_PID"
check "pool: stopped again, exit 0" 0 "$POOL_STATUS"
finish
