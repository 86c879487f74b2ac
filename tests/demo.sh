#!/usr/bin/env bash
# demo.sh: the whole product on 127.0.0.1: stand-in dependencies (HTTP fixture servers and a
# real redis-server), the prober publishing snapshots, and real lighttpd spawning the
# responder.  Breaks a storage account and the cache, and shows the answers change.
# On a terminal it then keeps probing every 10 s and serving until Ctrl-C.  Run: make demo.
# It checks its own story: it exits 1 unless every expected answer (the 503s, the recovery,
# the kill switch and the fail-open answers) was seen, so CI can run it (.ci/run).
set -eu
ROOT=$(pwd)
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
. tests/common.sh
PORT=${DEMO_PORT:-8080}
D=$(mktemp -d /tmp/deephealth-demo.XXXXXX)
chmod 755 "$D"
mkdir -p "$D/www"
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	echo "demo: stopped; files kept in $D"
}
trap cleanup EXIT
if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
	echo "demo: port $PORT is taken; run: make demo DEMO_PORT=8081" >&2; exit 1
fi

# Stand-in dependencies: each HTTP one answers as its mode file says (200, 500, hang...).
declare -A FIX
fixture() { httpfix_start "$BUILD/httpfix" "$D" "$1"; FIX[$1]=$HTTPFIX_PORT; }
mode() { httpfix_mode "$D" "$1" "$2"; }
for f in storage-sa001 storage-sa002 auth containers metadata; do fixture $f; done
REDIS_PORT=$((PORT + 1000))
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no >"$D/redis.log" 2>&1 &
REDIS=$!
PIDS+=($REDIS)

cp www/index.html "$D/www/"
mkdir -p "$D/admin"
cp www/admin/* "$D/admin/"   # the status page, at /deephealth/
cp tests/fixtures/demo.hosts "$D/hosts.map"
cat >"$D/registries.map" <<'EOF'
# name      regions               storage          features
contoso     westeurope,eastus2    storage-sa001    metadata-search
fabrikam    westeurope,eastus2    storage-sa002    -
litware     westeurope,eastus2    storage-sa001    -
northwind   westeurope            storage-sa002    -
EOF
# The shipped config with the demo's paths, then the demo's own dependencies.
sed -e "s#/var/lib/deephealth/snapshot#$D/snapshot#" -e "s#/etc/deephealth/disable#$D/disable#" \
    -e "s#host_map = \"\";#host_map = \"$D/hosts.map\";#" \
    -e "s#/etc/deephealth/registries.map#$D/registries.map#" \
    -e "s#/var/lib/deephealth/probe#$D/probe#" -e "s#event_log = \"[^\"]*\";#event_log = \"$D/events.jsonl\";#" \
    -e "s#region = \"\";#region = \"demo\";#" -e "s#metrics = \"\";#metrics = \"$D/deephealth.prom\";#" \
    -e "s#/dev/shm/deephealth.counters#$D/run/counters#" \
    -e '/^dependencies = (/,$d' conf/deephealth.conf >"$D/deephealth.conf"
cat >>"$D/deephealth.conf" <<EOF
dependencies = (
  { name = "storage-sa001"; kind = "storage"; type = "http"; witness = true; url = "http://127.0.0.1:${FIX[storage-sa001]}/health"; timeout_ms = 2000; },
  { name = "storage-sa002"; kind = "storage"; type = "http"; url = "http://127.0.0.1:${FIX[storage-sa002]}/health"; timeout_ms = 2000; },
  { name = "auth"; kind = "auth"; type = "http"; witness = true; url = "http://127.0.0.1:${FIX[auth]}/health"; timeout_ms = 2000; },
  { name = "containers"; kind = "containers"; type = "exec"; timeout_ms = 3000;
    command = [ "/usr/lib/nagios/plugins/check_tcp", "-H", "127.0.0.1", "-p", "${FIX[containers]}" ]; },
  { name = "metadata"; kind = "metadata"; type = "http"; url = "http://127.0.0.1:${FIX[metadata]}/health"; timeout_ms = 2000; },
  { name = "cache"; kind = "cache"; type = "tcp"; address = "127.0.0.1:$REDIS_PORT";
    send = "PING\\r\\n"; reply_match = "^\\\\+PONG"; timeout_ms = 1000; }
);
EOF
chmod -R a+rX "$D"
mkdir -p "$D/bin"
FCGI=$(www_bin "$BUILD/deephealth.fcgi" "$D/bin")  # lighttpd runs it as www-data
"$FCGI" -t -c "$D/deephealth.conf"
for _ in $(seq 100); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.05; done
"$BUILD/deephealth-probe" -t -c "$D/deephealth.conf"

lighttpd_base "$D" "$PORT" "$D/www"
localize_conf conf/lighttpd.conf "$FCGI" "$D/deephealth.conf" "$D/run/deephealth.sock" |
	localize_www "$D/admin" >>"$D/lighttpd.conf"
lighttpd -D -f "$D/lighttpd.conf" &
PIDS+=($!)
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$PORT/" && break; sleep 0.1; done

pass() { "$BUILD/deephealth-probe" -c "$D/deephealth.conf" 2>>"$D/probe.log" || [ $? = 7 ]; sleep 1.1; } # 7: a blind pass
SEEN=$D/answers
: >"$SEEN"
probe() {
	local got
	got=$(curl -s -o /dev/null -H "Host: $1" -w '%{http_code}  %header{x-deephealth-status}  %header{x-deephealth-reason}' \
		"http://127.0.0.1:$PORT/health")
	printf '  %-34s %s\n' "$1" "$got"
	echo "$STEP $1 $got" >>"$SEEN"
}
# expect STEP HOST "CODE  STATUS  REASON": the demo's story, checked at the end.
EXPECT=()
expect() { EXPECT+=("$1 $2 $3"); }
STEP=start
table() { for h in contoso.azurecr.io litware.azurecr.io fabrikam.azurecr.io northwind.azurecr.io "$@"; do probe "$h"; done; }

echo
echo "deephealth demo: lighttpd on http://127.0.0.1:$PORT, files in $D"
echo "  responder: $D/deephealth.conf; prober log: $D/probe.log; events: $D/events.jsonl"
echo "  status page: http://127.0.0.1:$PORT/deephealth/ (metrics: /deephealth/metrics)"
echo
echo "== before any prober pass (no snapshot yet: fail open)"
probe fabrikam.azurecr.io
expect start fabrikam.azurecr.io "200  warn  snapshot-missing"
pass
STEP=healthy
echo
echo "== after one prober pass: every dependency healthy"
table registry.fabrikam.example FABRIKAM.AzureCR.io.:443 newcomer.azurecr.io www.example.org
expect healthy fabrikam.azurecr.io "200  pass  healthy"
expect healthy northwind.azurecr.io "200  pass  single-region"
echo
echo "== storage-sa002 starts answering 500 (fabrikam and single-region northwind live there)"
mode storage-sa002 500
for i in 1 2 3; do
	pass
	STEP=failed$i
	echo "  after failed pass $i:"; probe fabrikam.azurecr.io; probe northwind.azurecr.io
done
expect failed2 fabrikam.azurecr.io "200  pass  healthy"
expect failed3 fabrikam.azurecr.io "503  fail  dependency-failed"
expect failed3 northwind.azurecr.io "200  pass  single-region"
echo
echo "== redis (the cache) pauses: degraded, so warn (still 200) after 3 passes (sa002 still failing)"
kill -STOP "$REDIS"
pass; pass; pass
STEP=cache
table
expect cache contoso.azurecr.io "200  warn  degraded"
expect cache fabrikam.azurecr.io "503  fail  dependency-failed"
echo
echo "== both heal: back after rise = 2 good passes"
kill -CONT "$REDIS"
mode storage-sa002 200
pass
STEP=heal1
echo "  after 1 good pass:"; probe fabrikam.azurecr.io
pass
STEP=heal2
echo "  after 2 good passes:"; probe fabrikam.azurecr.io
expect heal1 fabrikam.azurecr.io "503  fail  dependency-failed"
expect heal2 fabrikam.azurecr.io "200  pass  healthy"
echo
echo "== kill switch: touch $D/disable (no restart)"
mode storage-sa002 500
pass; pass; pass
STEP=broken-again
probe fabrikam.azurecr.io
touch "$D/disable"; sleep 1.1
STEP=kill-switch
probe fabrikam.azurecr.io
rm -f "$D/disable"; sleep 1.1
expect broken-again fabrikam.azurecr.io "503  fail  dependency-failed"
expect kill-switch fabrikam.azurecr.io "200  pass  passthrough"
echo
echo "== both witnesses (auth, storage-sa001) unreachable: the prober is blind, responders fail open"
mode auth refuse
mode storage-sa001 refuse
pass
STEP=blind
probe fabrikam.azurecr.io
expect blind fabrikam.azurecr.io "200  warn  prober-blind"
mode auth 200
mode storage-sa001 200
mode storage-sa002 200
pass; pass
echo
echo "prober log:"
sed 's/^/  /' "$D/probe.log"
echo "event log (first 3 of $(wc -l <"$D/events.jsonl")):"
head -n 3 "$D/events.jsonl" | sed 's/^/  /'
echo
# What the status page and a Prometheus scrape see now, from the same responders.
STEP=status
st=$(curl -s "http://127.0.0.1:$PORT/deephealth/status.json" | python3 -c '
import json, sys
d = json.load(sys.stdin)
print("%s %d %d" % (d["answers"]["reason"], d["registries"]["total"], d["hosts"]["unknown"] > 0))' 2>&1)
echo "status.json: answers $st (reason, registries, unknown Hosts seen)"
echo "$STEP status.json $st" >>"$SEEN"
expect status status.json "per-registry 4 1"
ans=$(curl -s "http://127.0.0.1:$PORT/deephealth/metrics" |
	awk '/^deephealth_responder_answers_total/ { n += $2 } END { print n + 0 }')
echo "metrics: $ans health answers counted by the responders (all processes)"
[ "$ans" -ge "$(grep -vc '^status ' "$SEEN")" ] && echo "$STEP metrics counted" >>"$SEEN"
expect status metrics counted
echo "deephealthctl status:"
"$BUILD/deephealthctl" -c "$D/deephealth.conf" status | sed 's/^/  /'
echo
missing=0
for e in "${EXPECT[@]}"; do
	if ! grep -qxF "$e" "$SEEN"; then
		echo "demo: expected at step ${e%% *}: ${e#* } -- not seen" >&2
		missing=$((missing + 1))
	fi
done
if [ "$missing" -gt 0 ]; then
	echo "demo: FAILED: $missing of ${#EXPECT[@]} expected answers not seen (all answers: $SEEN)" >&2
	exit 1
fi
echo "demo: all ${#EXPECT[@]} expected answers seen (503s, recovery, kill switch, fail-open)"
if [ -t 0 ]; then
	echo
	echo "Probing every 10 s and serving until Ctrl-C.  Try:"
	echo "  echo 500 > $D/storage-sa001.mode      # break contoso's and litware's storage"
	echo "  curl -i -H 'Host: contoso.azurecr.io' http://127.0.0.1:$PORT/health"
	echo "  open http://127.0.0.1:$PORT/deephealth/ (the status page; from this machine only)"
	while :; do "$BUILD/deephealth-probe" -c "$D/deephealth.conf" -r 10 -d 60 2>>"$D/probe.log" || true; done
fi
