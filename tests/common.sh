# common.sh: shell helpers shared by the demo and the integration tests.
# Callers keep a PIDS array of background processes to stop.

# localize_conf FILE FCGI_CMD CONF SOCKET: print a shipped web-server snippet with
# the install paths replaced.
localize_conf() {
	sed -e "s#/usr/local/lib/deephealth/deephealth.fcgi -c /etc/deephealth/deephealth.conf#$2 -c $3#" \
	    -e "s#/run/lighttpd/deephealth.sock#$4#" "$1"
}

# lighttpd_base DIR PORT DOCROOT: write DIR/lighttpd.conf, a loopback server running
# as www-data with its logs in DIR (responders' stderr in DIR/responder.log) and a
# www-data-only DIR/run for sockets.  Callers append their fastcgi.server.
lighttpd_base() {
	mkdir -p "$1/run"
	chown www-data:www-data "$1/run"
	chmod 700 "$1/run"
	cat >"$1/lighttpd.conf" <<LIGHTTPD_CONF
server.document-root = "$3"
server.bind = "127.0.0.1"
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

# apache_base DIR PORT: write DIR/httpd.conf, a loopback Apache (mpm_event, mod_fcgid) running
# as www-data with its error log in DIR (responders' stderr lands there too) and its fcgid
# sockets in DIR/run.  Callers append their Location blocks or Include lines.
apache_base() {
	mkdir -p "$1/run" "$1/htdocs"
	cat >"$1/httpd.conf" <<APACHE_CONF
ServerRoot "$1"
DefaultRuntimeDir "$1/run"
PidFile "$1/run/httpd.pid"
ErrorLog "$1/error.log"
LogLevel warn
Listen 127.0.0.1:$2
ServerName 127.0.0.1
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

# free_port: print a TCP port on 127.0.0.1 nobody listens on.
free_port() {
	local p lo hi base span
	# Below the kernel's ephemeral range: a port a client connection happens to hold
	# locally makes bind() fail even with nothing listening on it.
	read -r lo hi </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || { lo=32768; hi=60999; }
	if [ "$lo" -ge 13000 ]; then base=$((lo - 12768)); span=12768
	elif [ "$hi" -le 52767 ]; then base=$((hi + 1)); span=12768
	else base=20000; span=20000; fi
	for _ in $(seq 200); do
		p=$((base + RANDOM % span))
		if ! (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null; then echo "$p"; return; fi
	done
	echo "no free port" >&2; return 1
}
