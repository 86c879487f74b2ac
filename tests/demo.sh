#!/usr/bin/env bash
# demo.sh: real lighttpd on 127.0.0.1 spawning deephealth.fcgi over a sample snapshot.
# Shows a probe's answer for each kind of registry, then (on a terminal) keeps serving
# until Ctrl-C.  Run it through `make demo`.
set -eu
ROOT=$(pwd)
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
. tests/localize.sh
PORT=${DEMO_PORT:-8080}
D=$(mktemp -d /tmp/deephealth-demo.XXXXXX)
chmod 755 "$D"
mkdir -p "$D/run" "$D/www"
chown www-data:www-data "$D/run"; chmod 700 "$D/run"
cp www/index.html "$D/www/"
cp tests/fixtures/demo.hosts "$D/hosts.map"
# The shipped config, pointed at the demo's files.
sed -e "s#/var/lib/deephealth/snapshot#$D/snapshot#" -e "s#/etc/deephealth/disable#$D/disable#" \
    -e "s#host_map = \"\";#host_map = \"$D/hosts.map\";#" conf/deephealth.conf >"$D/deephealth.conf"
"$BUILD/deephealth-snap" compile tests/fixtures/demo.fixture "$D/snapshot"
chmod -R a+rX "$D"
"$BUILD/deephealth.fcgi" -t -c "$D/deephealth.conf"
cat >"$D/lighttpd.conf" <<CONF
server.document-root = "$D/www"
server.bind = "127.0.0.1"
server.port = $PORT
server.username = "www-data"
server.groupname = "www-data"
server.errorlog = "$D/error.log"
server.breakagelog = "$D/responder.log"
server.pid-file = "$D/lighttpd.pid"
index-file.names = ( "index.html" )
mimetype.assign = ( ".html" => "text/html" )
CONF
localize_conf conf/lighttpd.conf "$BUILD/deephealth.fcgi" "$D/deephealth.conf" "$D/run/deephealth.sock" >>"$D/lighttpd.conf"
touch "$D/error.log" "$D/responder.log"; chown www-data "$D/error.log" "$D/responder.log"
if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
	echo "demo: port $PORT is taken; run: make demo DEMO_PORT=8081" >&2; exit 1
fi
lighttpd -D -f "$D/lighttpd.conf" &
LPID=$!
trap 'kill $LPID 2>/dev/null; wait $LPID 2>/dev/null; echo "demo: stopped; files kept in $D"' EXIT
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$PORT/" && break; sleep 0.1; done

probe() {
	printf '%-58s ' "curl -H 'Host: $1' ${2:+$2 }.../health"
	curl -s -o /dev/null -H "Host: $1" ${2:+"$2"} -w '%{http_code}  %header{x-deephealth-status}  %header{x-deephealth-reason}\n' \
		"http://127.0.0.1:$PORT/health"
}
echo
echo "deephealth demo: lighttpd on http://127.0.0.1:$PORT, responder config $D/deephealth.conf"
echo "snapshot: $D/snapshot (from tests/fixtures/demo.fixture)"
echo
printf '%-58s %s\n' probe "code status reason"
probe contoso.azurecr.io
probe litware.azurecr.io
probe fabrikam.azurecr.io
probe northwind.azurecr.io
probe registry.fabrikam.example
probe FABRIKAM.AzureCR.io.:443
probe newcomer.azurecr.io
probe www.example.org
echo
echo "kill switch: touch $D/disable"
touch "$D/disable"; sleep 1.1
probe fabrikam.azurecr.io
rm -f "$D/disable"; sleep 1.1
echo "removed:"
probe fabrikam.azurecr.io
echo
echo "health+json with detail = cause is opt-in; default detail = status:"
curl -s -H 'Host: fabrikam.azurecr.io' -H 'Accept: application/health+json' "http://127.0.0.1:$PORT/health"
echo
echo "responder log ($D/responder.log):"
sed 's/^/  /' "$D/responder.log"
if [ -t 0 ]; then
	echo
	echo "Serving until Ctrl-C.  Try: curl -i -H 'Host: fabrikam.azurecr.io' http://127.0.0.1:$PORT/health"
	wait $LPID
fi
