# servers.sh: start and stop real lighttpd and Apache + mod_fcgid on loopback, each route
# spawning deephealth.fcgi with its own config.  Sourced after lib.sh.

# start_server KIND PORT PREFIX CONF [PREFIX CONF...]: CONF is a path.  Returns non-zero on failure.
start_server() {
	local kind=$1 port=$2; shift 2
	case $kind in
	lighttpd) start_lighttpd_routes "$port" "$@" ;;
	apache) start_apache_routes "$port" "$@" ;;
	*) echo "unknown server $kind" >&2; return 1 ;;
	esac
}

server_error_log() { # KIND: where the responders' stderr lands
	case $1 in
	lighttpd) echo "$WORK/lighttpd/responder.log" ;;
	apache) echo "$WORK/apache/error.log" ;;
	esac
}

# stop_server KIND: SIGTERM, wait for the server and its responders to exit.
stop_server() {
	local pidfile
	case $1 in
	lighttpd) pidfile=$WORK/lighttpd/lighttpd.pid ;;
	apache) pidfile=$WORK/apache/run/httpd.pid ;;
	esac
	[ -s "$pidfile" ] || return 0
	local pid
	pid=$(cat "$pidfile")
	kill "$pid" 2>/dev/null
	for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	# Give the responders (valgrind ones are slow) time to write their exit lines.
	for _ in $(seq 100); do pgrep -f "$FCGI" >/dev/null || break; sleep 0.1; done
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
ServerLimit 2
ThreadsPerChild 16
MaxRequestWorkers 32
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
