# servers.sh: start and stop real web servers on loopback, each route served by deephealth.fcgi
# with its own config: lighttpd and Apache + mod_fcgid spawn the responders; nginx and Apache +
# mod_proxy_fcgi (apache-proxy) connect to a pool per route (deephealth.fcgi -s SOCK -n 2) that
# the test starts as www-data.  Sourced after lib.sh.

SERVER_KINDS=(lighttpd apache nginx apache-proxy)

# start_server KIND PORT PREFIX CONF [PREFIX CONF...]: CONF is a path.  Returns non-zero on failure.
start_server() {
	local kind=$1 port=$2; shift 2
	case $kind in
	lighttpd) start_lighttpd_routes "$port" "$@" ;;
	apache) start_apache_routes "$port" "$@" ;;
	nginx) start_nginx_routes "$port" "$@" ;;
	apache-proxy) start_apache_proxy_routes "$port" "$@" ;;
	*) echo "unknown server $kind" >&2; return 1 ;;
	esac
}

server_error_log() { # KIND: where the responders' stderr lands
	case $1 in
	lighttpd) echo "$WORK/lighttpd/responder.log" ;;
	apache) echo "$WORK/apache/error.log" ;;
	nginx | apache-proxy) echo "$WORK/$1/responder.log" ;;
	esac
}

# stop_server KIND: SIGTERM, wait for the server and its responders to exit.
stop_server() {
	local pidfile
	case $1 in
	lighttpd) pidfile=$WORK/lighttpd/lighttpd.pid ;;
	apache) pidfile=$WORK/apache/run/httpd.pid ;;
	nginx) pidfile=$WORK/nginx/nginx.pid ;;
	apache-proxy) pidfile=$WORK/apache-proxy/run/httpd.pid ;;
	esac
	# Pools first, like a pool restart under a running server; their exits are waited for.
	case $1 in nginx | apache-proxy) stop_pools "$1" ;; esac
	[ -s "$pidfile" ] || return 0
	local pid
	pid=$(cat "$pidfile")
	kill "$pid" 2>/dev/null
	for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	case $1 in nginx | apache-proxy) return 0 ;; esac
	# Give the responders (valgrind ones are slow) time to write their exit lines.
	for _ in $(seq 100); do pgrep -f "$FCGI" >/dev/null || break; sleep 0.1; done
}

# start_pools KIND PREFIX CONF [PREFIX CONF...]: one pool per route, as www-data, sockets in the
# www-data-only $WORK/KIND/pool, every pool's stderr in server_error_log KIND.  Writes one line
# per route, "PREFIX SOCKET", to $WORK/KIND/routes and the supervisors' pids to $WORK/KIND/pools.
start_pools() {
	local kind=$1 dir=$WORK/$1 sock log; shift
	www_dir "$dir/pool"
	log=$(server_error_log "$kind")
	: >"$log"
	chown www-data "$log"
	: >"$dir/routes"
	: >"$dir/pools"
	while [ $# -ge 2 ]; do
		sock=$dir/pool/${1//\//_}.sock
		# shellcheck disable=SC2046 # fcgi_cmd_bin prints a command line
		pool_start "$sock" "$log" 2 "$S/$2.conf" $(fcgi_cmd_bin) || return 1
		echo "$POOL_PID" >>"$dir/pools"
		echo "$1 $sock" >>"$dir/routes"
		shift 2
	done
}

# stop_pools KIND: SIGTERM every pool of KIND, wait for each supervisor and its workers.
stop_pools() {
	local p
	[ -s "$WORK/$1/pools" ] || return 0
	while read -r p; do
		pool_stop "$p"
		[ "$POOL_STATUS" = 0 ] || echo "# $1: pool $p stopped with status $POOL_STATUS" >&2
	done <"$WORK/$1/pools"
	: >"$WORK/$1/pools"
}

start_lighttpd_routes() {
	local port=$1 dir=$WORK/lighttpd routes="" sock; shift
	lighttpd_base "$dir" "$port" "$dir"
	while [ $# -ge 2 ]; do
		sock=$dir/run/${1//\//_}.sock
		routes+="\"$1\" => (( \"bin-path\" => \"$(fcgi_cmd "$S/$2.conf")\", \"socket\" => \"$sock\", \"max-procs\" => 1, \"check-local\" => \"disable\" )),"$'\n'
		shift 2
	done
	printf 'server.modules += ( "mod_fastcgi" )\nfastcgi.server = ( %s )\n' "$routes" >>"$dir/lighttpd.conf"
	lighttpd -D -f "$dir/lighttpd.conf" >>"$dir/stdout.log" 2>&1 &
	PIDS+=($!)
	wait_http "http://127.0.0.1:$port/" || { tail -n 5 "$dir/stdout.log" "$dir/error.log" 2>&1 | sed 's/^/# /'; return 1; }
}

# APACHE_SERVER_LIMIT: child processes (default 2); a suite that restarts Apache gracefully
# many times a second needs more, as the old generation's children finish their requests.
start_apache_routes() {
	local port=$1 dir=$WORK/apache locs=""; shift
	while [ $# -ge 2 ]; do
		locs+="<Location \"$1\">
    SetHandler fcgid-script
    Options +ExecCGI
    FcgidWrapper \"$(fcgi_cmd "$S/$2.conf")\" virtual
    Require all granted
</Location>
"
		shift 2
	done
	apache_base "$dir" "$port"
	cat >>"$dir/httpd.conf" <<EOF
StartServers 1
ServerLimit ${APACHE_SERVER_LIMIT:-2}
ThreadsPerChild 16
MaxRequestWorkers $((16 * ${APACHE_SERVER_LIMIT:-2}))
FcgidMaxProcesses 32
FcgidMaxProcessesPerClass 4
FcgidMinProcessesPerClass 1
FcgidIdleTimeout 0
FcgidProcessLifeTime 0
FcgidMaxRequestsPerProcess 0
FcgidConnectTimeout 10
FcgidIOTimeout 20
$locs
EOF
	apache2 -f "$dir/httpd.conf" -DFOREGROUND >>"$dir/stdout.log" 2>&1 &
	PIDS+=($!)
	wait_http "http://127.0.0.1:$port/" || { tail -n 5 "$dir/stdout.log" "$dir/error.log" 2>&1 | sed 's/^/# /'; return 1; }
}

# nginx: its own minimal nginx.conf (nginx_base), one prefix location per route.
start_nginx_routes() {
	local port=$1 dir=$WORK/nginx prefix sock; shift
	mkdir -p "$dir"
	start_pools nginx "$@" || return 1
	: >"$dir/routes.conf"
	while read -r prefix sock; do
		cat >>"$dir/routes.conf" <<EOF
location $prefix/ {
    fastcgi_pass unix:$sock;
    fastcgi_param REQUEST_METHOD \$request_method;
}
EOF
	done <"$dir/routes"
	nginx_base "$dir" "$port" "$dir/routes.conf"
	nginx_start "$dir"
	wait_http "http://127.0.0.1:$port/" || { tail -n 5 "$dir/stdout.log" "$dir/error.log" 2>&1 | sed 's/^/# /'; return 1; }
}

# Apache + mod_proxy_fcgi: apache_proxy_base, one Location per route passing to its pool's
# socket through the proxy handler.
start_apache_proxy_routes() {
	local port=$1 dir=$WORK/apache-proxy locs="" prefix sock; shift
	mkdir -p "$dir"
	start_pools apache-proxy "$@" || return 1
	while read -r prefix sock; do
		locs+="<Location \"$prefix\">
    SetHandler \"proxy:unix:$sock|fcgi://dh${prefix//\//-}/\"
    Require all granted
</Location>
"
	done <"$dir/routes"
	apache_proxy_base "$dir" "$port"
	cat >>"$dir/httpd.conf" <<EOF
StartServers 1
ServerLimit 2
ThreadsPerChild 16
MaxRequestWorkers 32
$locs
EOF
	apache2 -f "$dir/httpd.conf" -DFOREGROUND >>"$dir/stdout.log" 2>&1 &
	PIDS+=($!)
	wait_http "http://127.0.0.1:$port/" || { tail -n 5 "$dir/stdout.log" "$dir/error.log" 2>&1 | sed 's/^/# /'; return 1; }
}
