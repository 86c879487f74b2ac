#!/usr/bin/env bash
# test_security.sh: what docs/security.md promises, checked on what we ship and on a real run.
#   1. A staged make install: every mode and owner (programs 0755, everything else 0644, no
#      setuid, nothing group- or world-writable), and the systemd units' users and modes.
#   2. A real run on loopback: the prober as an unprivileged user (nobody stands in for
#      deephealth) writes the snapshot, state, lock, event log and metrics with the modes the
#      docs give; deephealthctl (root) writes the override file as that user; lighttpd with
#      the shipped snippets spawns the responders as www-data (sockets in a www-data-only
#      directory, the counters file 0644 theirs) and serves the snapshot to a follower, which
#      caches and publishes it.
#   3. The canary: dependencies whose credentials file (*.cred, 0600) holds
#      "Authorization: Bearer $DH_CANARY" fail (HTTP 500), hang, match a negated pattern on
#      their own echoed request, or cannot be parsed; one passes only when the fixture got the
#      header byte for byte.  Every log, snapshot, event, metric, status document and answer is
#      saved under $WORK, grepped here, and scanned again by finish (lib.sh's canary_scan).
# Loopback only; bounded (about 15 s); every server is stopped by lib.sh's cleanup.
. tests/integration/lib.sh

# ---------------------------------------------------------------- 1. as installed
D=$WORK/stage
make -s --no-print-directory install DESTDIR="$D" PREFIX=/usr >"$WORK/install.out" 2>&1
check "make install DESTDIR=... PREFIX=/usr: exit 0" 0 $?
programs='usr/bin/deephealth-snap
usr/lib/deephealth/deephealth.fcgi
usr/sbin/deephealth-follow
usr/sbin/deephealth-probe
usr/sbin/deephealthctl'
check "installed: the programs, and only they, are 0755" "$programs" \
	"$(cd "$D" && find . -type f -perm -u+x | sed 's#^\./##' | sort)"
check "installed: programs 0755" "755" "$(cd "$D" && echo "$programs" | xargs stat -c %a | sort -u | xargs)"
check "installed: every other file 0644 (configs, snippets, cron, units, man pages, docs, page)" "644" \
	"$(cd "$D" && find . -type f ! -perm -u+x -printf '%m\n' | sort -u | xargs)"
check "installed: every directory 0755" "755" "$(find "$D" -mindepth 1 -type d -printf '%m\n' | sort -u | xargs)"
check "installed: no setuid, setgid or sticky bit, nothing group- or world-writable" "" \
	"$(find "$D" ! -type l -perm /7022 | sed "s#^$D/##")"
if [ "$(id -u)" = 0 ]; then
	check "installed as root: everything belongs to root" "" "$(find "$D" ! -user 0 -o ! -group 0 | sed "s#^$D/##")"
fi
for f in man1/deephealth-snap.1 man5/deephealth.conf.5 man8/deephealth.fcgi.8 man8/deephealth-probe.8 \
	man8/deephealthctl.8 man8/deephealth-follow.8; do
	check "installed: man page $f 0644" 644 "$(stat -c %a "$D/usr/share/man/$f" 2>&1)"
done
check "installed: /etc/cron.d/deephealth 0644 (cron ignores a group- or world-writable file)" 644 \
	"$(stat -c %a "$D/etc/cron.d/deephealth" 2>&1)"
check "installed: the state directory 0755" 755 "$(stat -c %a "$D/var/lib/deephealth" 2>&1)"

# unit_keys FILE KEY...: "KEY=VALUE" for each KEY set in a systemd unit, in the given order.
unit_keys() {
	local f=$1 k; shift
	for k in "$@"; do grep -E "^$k=" "$f"; done | xargs
}
U=$D/usr/lib/systemd/system
check "unit deephealth-fcgi.socket: root-owned socket, the web server's group may connect, nobody else" \
	"ListenStream=/run/deephealth/fcgi.sock SocketUser=root SocketGroup=www-data SocketMode=0660 DirectoryMode=0755" \
	"$(unit_keys "$U/deephealth-fcgi.socket" ListenStream SocketUser SocketGroup SocketMode DirectoryMode)"
check "unit deephealth-fcgi.service: a transient user, private umask, no new privileges, unix sockets only" \
	"DynamicUser=yes UMask=0077 NoNewPrivileges=yes PrivateNetwork=yes RestrictAddressFamilies=AF_UNIX" \
	"$(unit_keys "$U/deephealth-fcgi.service" DynamicUser UMask NoNewPrivileges PrivateNetwork RestrictAddressFamilies)"
for u in deephealth-probe deephealth-follow; do
	check "unit $u.service: runs as deephealth, state directory 0755, umask 0022" \
		"User=deephealth Group=deephealth StateDirectory=deephealth StateDirectoryMode=0755 UMask=0022 NoNewPrivileges=yes" \
		"$(unit_keys "$U/$u.service" User Group StateDirectory StateDirectoryMode UMask NoNewPrivileges)"
done
check_match "cron: the prober runs as deephealth (the line shipped commented out)" '^#?\* \* \* \* \* +deephealth ' "$(grep -E '^#?\* ' "$D/etc/cron.d/deephealth" | grep deephealth-probe)"
# shellcheck disable=SC2016 # the postinst's own variables
check_match "postinst: the state directory deephealth:deephealth 0755" \
	'install -d -o "\$DH_USER" -g "\$DH_USER" -m 0755 "\$STATEDIR"' "$(cat debian/deephealth.postinst)"

# ---------------------------------------------------------------- 2. a real run
PU=nobody                                   # the prober's user (deephealth in production)
PG=$(id -gn "$PU")
PROBE=$(www_bin "$BUILD/deephealth-probe" "$WORK/bin")
FOLLOW=$(www_bin "$BUILD/deephealth-follow" "$WORK/bin")
CTL=$BUILD/deephealthctl
S=$WORK/sec                                 # configuration, credentials, what we fetched
ST=$S/state                                 # /var/lib/deephealth
OUT=$S/out
mkdir -p "$S" "$ST" "$OUT" "$S/creds"
chmod 755 "$S" "$ST" "$OUT"
chown "$PU:$PG" "$ST"
# asuser USER CMD...: CMD as USER with no privileges and the units' umask.
asuser() {
	local u=$1; shift
	(umask 022; exec setpriv --reuid="$u" --regid="$(id -g "$u")" --init-groups --no-new-privs \
		--inh-caps=-all --bounding-set=-all "$@")
}

FIXDIR=$S
start_fix safail
start_fix sahang
start_fix echo
mode safail 500
mode sahang hang

# The credentials: readable by the prober's user only.  bad.cred is not "Name: value".
printf 'Authorization: Bearer %s\n' "$DH_CANARY" >"$S/creds/sa.cred"
printf 'Bearer %s\n' "$DH_CANARY" >"$S/creds/bad.cred"
chown "$PU" "$S/creds/sa.cred" "$S/creds/bad.cred"
chmod 600 "$S/creds/sa.cred" "$S/creds/bad.cred"
chmod 711 "$S/creds"
check "the canary is in the credentials file (what the scan looks for)" "$S/creds/sa.cred" \
	"$(grep -lF -e "$DH_CANARY" "$S/creds/sa.cred")"
# The header the echo check must find in its own request, written so that the canary itself
# never appears in the configuration: every byte as a PCRE2 \xHH escape.
hexpat=
for ((i = 0; i < ${#DH_CANARY}; i++)); do printf -v h '%02x' "'${DH_CANARY:i:1}"; hexpat+='\\x'$h; done

cat >"$ST/registries.map" <<'EOF'
# name     regions             storage  features
contoso    westeurope,eastus   safail   leakcheck,badcred
fabrikam   westeurope,eastus   sahang   -
northwind  westeurope,eastus   -        -
EOF
cat >"$S/dh.conf" <<EOF
snapshot = { path = "$ST/snapshot"; max_age = 120; };
responder = { kill_switch = "$S/disable"; overrides = "$ST/overrides"; recheck_ms = 0;
  counters = "$RUNDIR/sec.counters"; detail = "cause"; };
resolver = { rules = ( "^(?<registry>[a-z0-9]{5,50})\\\\.azurecr\\\\.io\$" ); };
log = { level = "debug"; };
prober = {
  registries = "$ST/registries.map"; region = "westeurope";
  state = "$ST/probe.state"; lock = "$ST/probe.lock"; event_log = "$ST/events.jsonl";
  metrics = "$ST/prober.prom";
  interval = 10; deadline = 6; fall = 1; rise = 1; blind_unknown_pct = 100;
};
dependencies = (
  { name = "safail"; kind = "storage"; type = "http"; credentials = "$S/creds/sa.cred";
    url = "http://127.0.0.1:${FIXPORT[safail]}/blob"; timeout_ms = 1000; },
  { name = "sahang"; kind = "storage"; type = "http"; credentials = "$S/creds/sa.cred";
    url = "http://127.0.0.1:${FIXPORT[sahang]}/blob"; timeout_ms = 1000; },
  { name = "echo"; kind = "auth"; type = "http"; witness = true; credentials = "$S/creds/sa.cred";
    url = "http://127.0.0.1:${FIXPORT[echo]}/_fix/headers"; timeout_ms = 1000;
    body_match = "Authorization: Bearer $hexpat\\\\r\\\\n"; },
  { name = "leak"; kind = "other"; type = "http"; applies = "feature:leakcheck";
    credentials = "$S/creds/sa.cred"; url = "http://127.0.0.1:${FIXPORT[echo]}/_fix/headers";
    timeout_ms = 1000; body_match = "Authorization: Bearer $hexpat"; body_negate = true; },
  { name = "badcred"; kind = "other"; type = "http"; applies = "feature:badcred";
    credentials = "$S/creds/bad.cred"; url = "http://127.0.0.1:${FIXPORT[echo]}/blob";
    timeout_ms = 1000; }
);
EOF
chmod 644 "$S/dh.conf" "$ST/registries.map"
check "the configuration does not hold the canary itself" "" "$(grep -lF -e "$DH_CANARY" "$S/dh.conf")"

# -t reads every credentials file through: bad.cred is named by its configuration line and
# its own line number, never by its content.
out=$(asuser "$PU" "$PROBE" -t -c "$S/dh.conf" 2>&1)
rc=$?
line=$(grep -n 'creds/bad.cred' "$S/dh.conf" | cut -d: -f1)
check "probe -t as $PU: exit 1 for a credentials file that does not parse" 1 "$rc"
check "probe -t as $PU: everything else is fine; bad.cred is named, by line" \
	"$S/dh.conf:$line: dependency \"badcred\": credentials \"$S/creds/bad.cred\": credentials file: line 1 is not \"Name: value\"" "$out"
echo "$out" >"$OUT/probe-t.out"
# probe: one verbose pass as the prober's user (every probe logged at debug).
probe() { asuser "$PU" "$PROBE" -v -c "$S/dh.conf" >>"$S/probe.out" 2>&1; }
probe
mode safail 200
probe
mode safail 500
probe
check "three passes: exit 0 (the last one)" 0 $?

dump=$("$SNAPTOOL" dump "$ST/snapshot")
echo "$dump" >"$OUT/snapshot.dump"
dep() { awk -v d="$1" '$1 == "dep" && $2 == d { print $3; for (i = 4; i <= NF; i++) if ($i ~ /^cause=/) { sub(/^cause=/, "", $i); c = $i; for (j = i + 1; j <= NF; j++) c = c " " $j; print c } }' <<<"$dump" | xargs; }
check "the header from sa.cred reached the fixture byte for byte (echo check passes)" pass "$(dep echo | cut -d' ' -f1)"
check_match "the fixture served its header echo to the prober" 'GET /_fix/headers' "$(cat "$S/echo.log")"
check_match "safail: fail on HTTP 500" '^fail .*HTTP 500' "$(dep safail)"
check_match "sahang: fail on its timeout" '^fail .*timed out after 1000 ms' "$(dep sahang)"
check_match "leak: fail, the cause does not quote the body" '^fail .*HTTP 200, body matched \(negated pattern\)' "$(dep leak)"
# An unknown outcome moves no state (docs/thresholds.md): the log says why, by line number.
check_match "badcred: unknown, the cause names the line, not its content" \
	'probe badcred: unknown \(credentials file: line 1 is not "Name: value"' "$(grep -m1 'probe badcred' "$S/probe.out")"
check "badcred: said at warning level, once in each of the three runs" 3 \
	"$(grep -c "warning: credentials $S/creds/bad.cred: credentials file: line 1 is not \"Name: value\": the check that reads it is unknown" "$S/probe.out")"
check "events: the transitions were logged (safail down, up, down; sahang; leak)" 1 \
	"$([ "$(grep -c '"event":"transition"\|"dependency":' "$ST/events.jsonl")" -ge 4 ] && echo 1)"

# What the prober leaves, as its user, with the unit's umask.
modes() { for f in "$@"; do echo "${f##*/} $(stat -c '%U %a' "$f" 2>&1)"; done; }
check "prober's files: snapshot 0644, state 0600, lock 0600, event log 0644, metrics 0644, all its own" \
	"snapshot $PU 644 probe.state $PU 600 probe.lock $PU 600 events.jsonl $PU 644 prober.prom $PU 644" \
	"$(modes "$ST/snapshot" "$ST/probe.state" "$ST/probe.lock" "$ST/events.jsonl" "$ST/prober.prom" | xargs)"
check "prober: no temp file left in the state directory" "" "$(cd "$ST" && ls -A | grep '\.tmp\.')"

# The operator's override, written by deephealthctl (root here, which becomes the state
# directory's owner: test_owner.sh) with the same umask.
(umask 022; "$CTL" -c "$S/dh.conf" override add registry:northwind force-pass -e 1h -r "INC-9: security test") \
	>"$OUT/ctl-override.out" 2>&1
check "deephealthctl override add: exit 0" 0 $?
check "override file 0644, its lock 0600, both the prober's user's" "overrides $PU 644 overrides.lock $PU 600" \
	"$(modes "$ST/overrides" "$ST/overrides.lock" | xargs)"

# No other account can hold a lock: flock needs a descriptor, and the lock files are 0600.
check "another account cannot open the prober's lock to hold it" "denied" \
	"$(runuser -u www-data -- sh -c "exec 3<'$ST/probe.lock'" 2>/dev/null && echo opened || echo denied)"
# An older, wider lock file is narrowed by its owner's next run.
chmod 644 "$ST/probe.lock"
(umask 022; runuser -u "$PU" -- "$PROBE" -c "$S/dh.conf" >/dev/null 2>&1)
check "a lock file left 0644 is made 0600 again" "600" "$(stat -c %a "$ST/probe.lock")"

# lighttpd with the shipped snippets: the responders (/health, /deephealth/) and, as on a
# prober, the snapshot for followers (/deephealth-snapshot).
WWW=$WORK/www
mkdir -p "$WWW"
cp -R www/admin/. "$WWW/" 2>/dev/null
[ -e "$WWW/index.html" ] || echo '<!doctype html><title>deephealth status (placeholder)</title>' >"$WWW/index.html"
chmod -R a+rX "$WWW"
L=$S/lighttpd
PORT=$(free_port)
lighttpd_base "$L" "$PORT" "$L"
localize_conf conf/lighttpd.conf "$(fcgi_cmd_bin)" "$S/dh.conf" "$L/run/deephealth.sock" | localize_www "$WWW" >>"$L/lighttpd.conf"
sed -e "s#/var/lib/deephealth/snapshot#$ST/snapshot#" conf/lighttpd-snapshot.conf >>"$L/lighttpd.conf"
check "lighttpd -tt accepts both snippets" "" "$(lighttpd -tt -f "$L/lighttpd.conf" 2>&1)"
lighttpd -D -f "$L/lighttpd.conf" >"$L/stdout.log" 2>&1 &
PIDS+=($!)
wait_http "http://127.0.0.1:$PORT/"
U=http://127.0.0.1:$PORT

# fetch NAME URL [curl args...]: the whole answer, headers and body, into $OUT/NAME.
fetch() { local n=$1 u=$2; shift 2; curl -s -i --max-time 10 "$@" "$u" >"$OUT/$n" 2>&1; }
for h in contoso fabrikam northwind nosuchregistry; do
	fetch "health-$h" "$U/health" -H "Host: $h.azurecr.io"
	fetch "health-$h.json" "$U/health" -H "Host: $h.azurecr.io" -H 'Accept: application/health+json'
done
fetch status.json "$U/deephealth/status.json"
fetch status-q.json "$U/deephealth/status.json?q=contoso&limit=5"
fetch metrics "$U/deephealth/metrics"
fetch page.html "$U/deephealth/"
fetch snapshot-206 "$U/deephealth-snapshot" -H 'Range: bytes=0-63'
check_match "/health for contoso: 503, decided by a failing dependency" '^HTTP/1.1 503' "$(head -n 1 "$OUT/health-contoso")"
check_match "/health for northwind: 200 by the operator's override" 'X-Deephealth-Reason: override-pass' "$(cat "$OUT/health-northwind")"
check_match "status.json lists the failing dependencies with their causes" '"name":"safail".*"cause":"HTTP 500' "$(cat "$OUT/status.json")"
check_match "status.json shows the transitions (event log read by group)" '"transitions":\[\{' "$(cat "$OUT/status.json")"
check_match "metrics: the counters are shared by the responders" '^deephealth_responder_counters_shared 1' "$(grep '^deephealth_responder_counters_shared' "$OUT/metrics")"
check_match "/deephealth-snapshot: the header range from loopback" '^HTTP/1.1 206' "$(head -n 1 "$OUT/snapshot-206")"

# The responders: www-data, their sockets in a directory only www-data can enter.
LPID=$(cat "$L/lighttpd.pid")
check "responders: 2, running as www-data" 2 "$(pgrep -u www-data -P "$LPID" -fc "$FCGI")"
check "socket directory: www-data's, 0700" "www-data 700" "$(stat -c '%U %a' "$L/run")"
socks=$(for s in "$L"/run/deephealth.sock-*; do stat -c '%U %F' "$s"; done | sort -u | xargs)
check "each responder socket: a socket of www-data" "www-data socket" "$socks"
check "responder.counters: www-data's, 0644, a regular file" "www-data 644 regular file" \
	"$(stat -c '%U %a %F' "$RUNDIR/sec.counters" 2>&1)"

# A front door's follower, as the unprivileged user, fed by that lighttpd.
F=$S/door
mkdir -p "$F"
chown "$PU:$PG" "$F"
cat >"$F/dh.conf" <<EOF
snapshot = { path = "$F/snapshot"; max_age = 120; };
follower = { sources = ( "http://127.0.0.1:$PORT/deephealth-snapshot" ); timeout_ms = 2000; cache = "$F/cache"; };
EOF
chmod 644 "$F/dh.conf"
asuser "$PU" "$FOLLOW" -c "$F/dh.conf" >"$F/follow.out" 2>&1
check "follower as $PU: one pass, exit 0" 0 $?
check "follower's files: snapshot 0644, .fleet 0644, cache directory 0755" \
	"snapshot $PU 644 snapshot.fleet $PU 644 cache $PU 755" \
	"$(modes "$F/snapshot" "$F/snapshot.fleet" "$F/cache" | xargs)"
check "follower's cache: every copy $PU's, 0644; its lock 0600" "$PU 644 follow.lock $PU 600" \
	"$(find "$F/cache" -type f ! -name follow.lock -printf '%u %m\n' | sort -u | xargs) $(modes "$F/cache/follow.lock")"
check "follower: the snapshot it publishes is the prober's, byte for byte" 0 "$(cmp -s "$F/snapshot" "$ST/snapshot"; echo $?)"

# The operator's tools, whose output is an answer too.
"$CTL" -c "$S/dh.conf" status >"$OUT/ctl-status" 2>&1
"$CTL" -c "$S/dh.conf" --json status >"$OUT/ctl-status.json" 2>&1
"$CTL" -c "$S/dh.conf" explain contoso.azurecr.io fabrikam.azurecr.io >"$OUT/ctl-explain" 2>&1
"$CTL" -c "$S/dh.conf" history 'sa*' >"$OUT/ctl-history" 2>&1
"$CTL" -c "$S/dh.conf" check >"$OUT/ctl-check" 2>&1
"$CTL" -c "$S/dh.conf" --json override list >"$OUT/ctl-overrides.json" 2>&1
check_match "deephealthctl history shows safail's transitions" 'safail' "$(cat "$OUT/ctl-history")"

# ---------------------------------------------------------------- 3. the canary, explicitly
kill "$LPID"
for _ in $(seq 50); do [ -e "$L/lighttpd.pid" ] && kill -0 "$LPID" 2>/dev/null || break; sleep 0.1; done
leaks() { grep -lF -e "$DH_CANARY" -- "$@" 2>/dev/null | sed "s#^$WORK/##" | xargs; }
check "canary: not in the responders' log" "" "$(leaks "$L/responder.log" "$L/error.log" "$L/stdout.log")"
check "canary: not in the prober's log (debug, every probe)" "" "$(leaks "$S/probe.out")"
check "canary: not in the event log, snapshot, state or prober metrics" "" \
	"$(leaks "$ST/events.jsonl" "$ST/snapshot" "$ST/probe.state" "$ST/prober.prom" "$OUT/snapshot.dump")"
check "canary: not in any answer, status document, metrics or deephealthctl output" "" "$(leaks "$OUT"/*)"
check "canary: not in the follower's snapshot, cache, .fleet or log" "" \
	"$(leaks "$F/snapshot" "$F/snapshot.fleet" "$F/follow.out" $(find "$F/cache" -type f))"
check "canary: not in the fixtures' logs" "" "$(leaks "$S"/*.log)"
# The scan finish runs, on a planted copy: it finds a leak and passes over *.cred.
P=$(mktemp -d /tmp/dh-canary.XXXXXX)
echo "x $DH_CANARY y" >"$P/leaked.log"
echo "$DH_CANARY" >"$P/kept.cred"
check "canary scan: finds a planted leak, skips *.cred" "$P/leaked.log" "$(canary_hits "$P")"
rm -rf "$P"
finish
