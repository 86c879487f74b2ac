# shellcheck shell=bash
# regions_lib.sh: three regions of real front doors for the cross-region tests (where, history
# --regions, the global page): lighttpd with the shipped snippet on their own addresses, one
# responder configuration each, with the regions description as responder.regions:
# westeurope on 127.0.0.2, eastus2 on 127.0.0.3, and centralus on 127.0.0.4, where nothing
# listens (unreachable).  Sourced after lib.sh.
#
#   regions_setup                  the registry map, $S/regions.conf, the pages' files ($WWW)
#   region NAME ADDRESS FIXTURE [REGIONS]
#                                  a region's door: configuration $S/NAME/dh.conf, snapshot (a
#                                  deephealth-snap fixture), event log $S/NAME/events.log,
#                                  lighttpd on ADDRESS:$PORT; its responder.regions is REGIONS
#                                  (default $S/regions.conf)
#   region_stop NAME               stop that door's lighttpd (and its responders): region may
#                                  start it again, with another description
#
# Set: S (their directory), PORT (every door's port), WWW (the pages as the doors serve them).

S=$WORK/s
WWW=$WORK/www
PORT=

regions_setup() {
	mkdir -p "$S" "$WWW"
	chmod 755 "$S"
	cp -r www/admin/. "$WWW/"
	chmod -R a+rX "$WWW"
	PORT=$(free_port)
	cat >"$S/registries.map" <<'EOF'
contoso     westeurope,eastus2             sa1   -
fabrikam    eastus2,westeurope             sa2   -
litware     westeurope,eastus2,centralus   sa1   -
northwind   westeurope                     sa1   -
EOF
	cat >"$S/regions.conf" <<EOF
service = { zone = "azurecr.test"; port = $PORT; path = "/health"; };
load_balancer = { interval = 3; timeout = 2; };
regions = (
  { name = "westeurope"; addresses = [ "127.0.0.2" ]; admin = "http://127.0.0.2:$PORT"; },
  { name = "eastus2"; addresses = [ "127.0.0.3" ]; admin = "http://127.0.0.3:$PORT"; },
  { name = "centralus"; addresses = [ "127.0.0.4" ]; admin = "http://127.0.0.4:$PORT"; }
);
EOF
	chmod 644 "$S/registries.map" "$S/regions.conf"
}

region() {
	local d=$S/$1
	mkdir -p "$d"
	chmod 755 "$d"
	cat >"$d/dh.conf" <<EOF
snapshot = { path = "$d/snapshot"; max_age = 600; };
responder = { overrides = "$d/overrides"; counters = ""; kill_switch = "$d/disable";
              regions = "${4:-$S/regions.conf}"; };
prober = { region = "$1"; registries = "$S/registries.map"; event_log = "$d/events.log";
           state = "$d/probe.state"; lock = "$d/probe.lock"; };
resolver = { rules = ( "^(?<registry>[a-z0-9]+)\\\\.azurecr\\\\.test\$" ); };
EOF
	chmod 644 "$d/dh.conf"
	snap "$d/snapshot" <<<"$3"
	lighttpd_base "$d" "$PORT" "$d" "$2"
	localize_conf conf/lighttpd.conf "$(fcgi_cmd_bin)" "$d/dh.conf" "$d/run/deephealth.sock" |
		localize_www "$WWW" >>"$d/lighttpd.conf"
	# lighttpd_base knows .html only; Debian's lighttpd.conf would bring the rest (the pages).
	echo 'mimetype.assign += ( ".css" => "text/css; charset=utf-8", ".js" => "text/javascript; charset=utf-8" )' >>"$d/lighttpd.conf"
	lighttpd -D -f "$d/lighttpd.conf" >"$d/stdout.log" 2>&1 &
	PIDS+=($!)
	wait_http "http://$2:$PORT/"
}

region_stop() {
	local pid
	pid=$(cat "$S/$1/lighttpd.pid" 2>/dev/null) || return 0
	kill "$pid" 2>/dev/null
	for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	# Its responders: they exit when lighttpd closes their sockets.
	for _ in $(seq 50); do pgrep -f -- "-c $S/$1/dh.conf" >/dev/null || break; sleep 0.1; done
}
