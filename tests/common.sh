# common.sh: shell helpers shared by the demo and the integration tests.
# Callers keep a PIDS array of background processes to stop.

# localize_conf FILE FCGI_CMD CONF SOCKET: print a shipped web-server snippet with
# the install paths replaced.
localize_conf() {
	sed -e "s#/usr/local/lib/deephealth/deephealth.fcgi -c /etc/deephealth/deephealth.conf#$2 -c $3#" \
	    -e "s#/run/lighttpd/deephealth.sock#$4#" "$1"
}

# localize_www DIR: stdin to stdout with the status page's install directory (the
# snippets' alias for /deephealth/) replaced by DIR, which www-data must be able to read.
localize_www() { sed -e "s#/usr/local/share/deephealth/www/#$1/#"; }

# www_bin FILE DIR: print a path the web server's user (www-data) can execute FILE by: FILE
# itself, or, when it cannot reach it (a clone under a private directory: mktemp -d, /root), a
# copy in DIR, which must be www-data-readable.
www_bin() {
	if [ ! -e "$1" ] || runuser -u www-data -- test -x "$1" 2>/dev/null; then echo "$1"; return; fi
	cp -p "$1" "$2/" && chmod 755 "$2/${1##*/}" && echo "$2/${1##*/}"
}

# lighttpd_base DIR PORT DOCROOT [ADDR]: write DIR/lighttpd.conf, a loopback server (on ADDR,
# default 127.0.0.1) running as www-data with its logs in DIR (responders' stderr in
# DIR/responder.log) and a www-data-only DIR/run for sockets.  Callers append their
# fastcgi.server.
lighttpd_base() {
	mkdir -p "$1/run"
	chown www-data:www-data "$1/run"
	chmod 700 "$1/run"
	cat >"$1/lighttpd.conf" <<LIGHTTPD_CONF
server.document-root = "$3"
server.bind = "${4:-127.0.0.1}"
server.port = $2
server.username = "www-data"
server.groupname = "www-data"
server.errorlog = "$1/error.log"
server.breakagelog = "$1/responder.log"
server.pid-file = "$1/lighttpd.pid"
index-file.names = ( "index.html" )
mimetype.assign = ( ".html" => "text/html" )
LIGHTTPD_CONF
	: >"$1/error.log"
	: >"$1/responder.log"
	chown www-data "$1/error.log" "$1/responder.log"
}

# httpfix_start HTTPFIX DIR NAME: an HTTP fixture server whose behaviour DIR/NAME.mode
# sets; its port in HTTPFIX_PORT.  (Not for $(...): the server would hold the pipe.)
httpfix_start() {
	echo 200 >"$2/$3.mode"
	"$1" -p 0 -f "$2/$3.mode" -P "$2/$3.pid" -l "$2/$3.log" >/dev/null 2>>"$2/$3.log" &
	PIDS+=($!)
	for _ in $(seq 100); do [ -s "$2/$3.pid.port" ] && break; sleep 0.05; done
	HTTPFIX_PORT=$(cat "$2/$3.pid.port")
}

# httpfix_mode DIR NAME MODE: switch a fixture server; it notices within 20 ms (a switch
# to or from refuse at its next check, hence the pause).
httpfix_mode() {
	echo "$3" >"$1/$2.mode.new" && mv "$1/$2.mode.new" "$1/$2.mode"
	sleep 0.06
}

# apache_base DIR PORT [ADDR]: write DIR/httpd.conf, a loopback Apache (mpm_event, mod_fcgid)
# listening on ADDR (default 127.0.0.1), running as www-data with its error log in DIR (responders' stderr lands there too) and its fcgid
# sockets in DIR/run.  Callers append their Location blocks or Include lines.
apache_base() {
	mkdir -p "$1/run" "$1/htdocs"
	cat >"$1/httpd.conf" <<APACHE_CONF
ServerRoot "$1"
DefaultRuntimeDir "$1/run"
PidFile "$1/run/httpd.pid"
ErrorLog "$1/error.log"
LogLevel warn
Listen ${3:-127.0.0.1}:$2
ServerName ${3:-127.0.0.1}
User www-data
Group www-data
LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so
LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so
LoadModule fcgid_module /usr/lib/apache2/modules/mod_fcgid.so
DocumentRoot "$1/htdocs"
<Directory />
    AllowOverride None
    Require all denied
</Directory>
<Directory "$1/htdocs">
    Require all granted
</Directory>
FcgidIPCDir $1/run/fcgidsock
FcgidProcessTableFile $1/run/fcgid_shm
APACHE_CONF
	: >"$1/error.log"
}

# apache_page_modules HTTPD.CONF: load what the shipped snippets' /deephealth/ needs (mod_alias,
# mod_authz_host, mod_dir: Debian enables them by default; apache_base loads none of them).
apache_page_modules() {
	local m
	for m in alias authz_host dir; do
		echo "LoadModule ${m}_module /usr/lib/apache2/modules/mod_$m.so" >>"$1"
	done
}

# free_port [ADDR...]: print a TCP port nobody listens on at any of the loopback addresses
# ADDR (default 127.0.0.1): one port several servers can each bind on their own address.
# shellcheck disable=SC2120 # the addresses are optional
free_port() {
	local p lo hi base span a used
	# Below the kernel's ephemeral range: a port a client connection happens to hold
	# locally makes bind() fail even with nothing listening on it.
	read -r lo hi </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || { lo=32768; hi=60999; }
	if [ "$lo" -ge 13000 ]; then base=$((lo - 12768)); span=12768
	elif [ "$hi" -le 52767 ]; then base=$((hi + 1)); span=12768
	else base=20000; span=20000; fi
	for _ in $(seq 200); do
		p=$((base + RANDOM % span)) used=0
		for a in "${@:-127.0.0.1}"; do
			if (exec 3<>"/dev/tcp/$a/$p") 2>/dev/null; then used=1; break; fi
		done
		[ $used = 0 ] && { echo "$p"; return; }
	done
	echo "no free port" >&2; return 1
}

# www_dir DIR: create DIR private to www-data (0700), for sockets the web server connects to.
www_dir() {
	mkdir -p "$1"
	chown www-data:www-data "$1"
	chmod 700 "$1"
}

# localize_pool_conf FILE SOCKET: print a shipped snippet that connects to the responder pool
# (conf/nginx-deephealth.conf, conf/apache-deephealth-proxy.conf) with the pool's socket
# /run/deephealth/fcgi.sock replaced by SOCKET; nothing else changes.
localize_pool_conf() {
	sed -e "s#/run/deephealth/fcgi.sock#$2#g" "$1"
}

# pool_start SOCKET LOG WORKERS CONF CMD...: start CMD -s SOCKET -n WORKERS -c CONF (CMD: the
# responder, possibly valgrind-wrapped) as www-data in the background, the way a service
# manager would, stderr appended to LOG; wait until it answers over FastCGI and runs WORKERS
# workers (at most 60 s: valgrind starts slowly).  The supervisor's pid in POOL_PID (also added
# to PIDS).  Returns non-zero if it did not come up.
pool_start() {
	local sock=$1 log=$2 n=$3 conf=$4 i; shift 4
	rm -f "$sock"
	setpriv --reuid=www-data --regid=www-data --init-groups "$@" -s "$sock" -n "$n" -c "$conf" \
		</dev/null >/dev/null 2>>"$log" &
	POOL_PID=$!
	PIDS+=("$POOL_PID")
	for i in $(seq 600); do
		proc_gone "$POOL_PID" && break
		if [ "$(pool_workers "$POOL_PID")" -ge "$n" ] && pool_answers "$sock"; then return 0; fi
		sleep 0.1
	done
	echo "# pool on $sock did not come up ($(pool_workers "$POOL_PID") of $n workers):" >&2
	tail -n 5 "$log" | sed 's/^/#   /' >&2
	return 1
}

# pool_answers SOCKET: true when a FastCGI request on SOCKET gets a deephealth answer.
pool_answers() {
	timeout 5 env -i REQUEST_METHOD=GET HTTP_HOST=pool-check.invalid cgi-fcgi -bind -connect "$1" \
		</dev/null 2>/dev/null | grep -q '^X-Deephealth-Reason:'
}

# pool_workers PID: how many workers the supervisor PID has (its live child processes).
pool_workers() {
	local c n=0
	for c in $(pgrep -P "$1"); do proc_gone "$c" || n=$((n + 1)); done
	echo "$n"
}

# proc_gone PID: true once PID has exited (no such process, or a zombie not reaped yet).
proc_gone() {
	local st
	st=$(ps -o stat= -p "$1" 2>/dev/null)
	[ -z "$st" ] || [ "${st:0:1}" = Z ]
}

# pool_stop PID [SECONDS]: SIGTERM a supervisor started by pool_start in this shell and wait,
# at most SECONDS (default 60), for it and its workers to exit.  Its exit status in POOL_STATUS
# ("timeout" if it had to be killed); POOL_LEFT: workers still running after it exited.
pool_stop() {
	local pid=$1 t=${2:-60} kids k i
	kids=$(pgrep -P "$pid")
	kill -TERM "$pid" 2>/dev/null
	for ((i = 0; i < t * 10; i++)); do proc_gone "$pid" && break; sleep 0.1; done
	if proc_gone "$pid"; then
		wait "$pid" 2>/dev/null
		POOL_STATUS=$?
	else
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		POOL_STATUS=timeout
	fi
	POOL_LEFT=0
	for k in $kids; do
		for ((i = 0; i < 50; i++)); do proc_gone "$k" && break; sleep 0.1; done
		proc_gone "$k" || POOL_LEFT=$((POOL_LEFT + 1))
	done
}

# nginx_base DIR PORT INCLUDE [ACCESS_LOG]: write DIR/nginx.conf, a loopback nginx in the
# foreground (workers as www-data) with its pid file, logs and temp files in DIR and one
# server whose locations come from the file INCLUDE.  ACCESS_LOG: a path or "off" (default
# DIR/access.log).  Start it with nginx_start DIR.
nginx_base() {
	mkdir -p "$1/htdocs" "$1/tmp"
	cat >"$1/nginx.conf" <<NGINX_CONF
daemon off;
master_process on;
worker_processes 2;
user www-data www-data;
pid $1/nginx.pid;
error_log $1/error.log warn;
events { worker_connections 1024; }
http {
    access_log ${4:-$1/access.log};
    client_body_temp_path $1/tmp/client_body;
    proxy_temp_path $1/tmp/proxy;
    fastcgi_temp_path $1/tmp/fastcgi;
    uwsgi_temp_path $1/tmp/uwsgi;
    scgi_temp_path $1/tmp/scgi;
    server {
        listen 127.0.0.1:$2;
        server_name _;
        root $1/htdocs;
        include $3;
    }
}
NGINX_CONF
	: >"$1/error.log"
}

# nginx_keepconn DIR PORT SOCKET KEEP: nginx_base for the shipped snippet with persistent
# FastCGI connections: /health passed to an upstream of the pool at SOCKET (http context,
# keepalive KEEP per nginx worker) with fastcgi_keep_conn on; the admin paths as shipped.
nginx_keepconn() {
	localize_pool_conf conf/nginx-deephealth.conf "$3" |
		sed '0,/fastcgi_pass unix:[^;]*;/s##fastcgi_pass deephealth_pool; fastcgi_keep_conn on;#' \
		>"$1/deephealth.conf"
	nginx_base "$1" "$2" "$1/deephealth.conf" off
	sed -i "s#^http {#http {\n    upstream deephealth_pool { server unix:$3; keepalive $4; }#" \
		"$1/nginx.conf"
}

# nginx_cmd DIR [ARGS...]: run nginx on DIR/nginx.conf (nginx_cmd DIR -t checks it).
nginx_cmd() {
	local d=$1; shift
	nginx -p "$d" -e "$d/error.log" -c "$d/nginx.conf" "$@"
}

# nginx_start DIR: start nginx on DIR/nginx.conf in the background, its output appended to
# DIR/stdout.log; its pid (nginx itself, not a subshell) added to PIDS.
nginx_start() {
	nginx -p "$1" -e "$1/error.log" -c "$1/nginx.conf" >>"$1/stdout.log" 2>&1 &
	PIDS+=($!)
}

# apache_proxy_base DIR PORT: apache_base plus mod_proxy and mod_proxy_fcgi, for Location
# blocks that pass to a responder pool.
apache_proxy_base() {
	apache_base "$1" "$2"
	cat >>"$1/httpd.conf" <<APACHE_CONF
LoadModule proxy_module /usr/lib/apache2/modules/mod_proxy.so
LoadModule proxy_fcgi_module /usr/lib/apache2/modules/mod_proxy_fcgi.so
APACHE_CONF
}
