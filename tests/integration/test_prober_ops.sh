#!/usr/bin/env bash
# test_prober_ops.sh: the prober as operators run it: proxies only when configured, logging
# under journald and syslog, an event log that is valid JSON whatever the names, a registry
# map that changes between passes, and -t run as the prober's (unprivileged) user.
. tests/integration/lib.sh

PROBE=$BUILD/deephealth-probe
P=$WORK/p
mkdir -p "$P"
chmod 755 "$P"

FIXDIR=$P
start_fix sa1
start_fix sa2
start_fix auth
start_fix proxy
mode proxy 500

cat >"$P/registries.map" <<'EOF'
contoso     westeurope,eastus   sa1      -
fabrikam    westeurope,eastus   sa2      -
EOF

# write_conf [PROBER-KEYS] [SA1-KEYS] [AUTH-KEYS] [EXTRA-DEPENDENCY]
write_conf() {
	cat >"$P/dh.conf" <<EOF
snapshot = { path = "snapshot"; max_age = 120; };
prober = {
  registries = "registries.map"; state = "probe.state"; lock = "probe.lock";
  event_log = "events.jsonl"; interval = 1; deadline = 1; ${1:-}
};
dependencies = (
  { name = "sa1"; kind = "storage"; type = "http"; url = "http://127.0.0.1:${FIXPORT[sa1]}/blob";
    timeout_ms = 900; ${2:-} },
  { name = "sa2"; kind = "storage"; type = "http"; url = "http://127.0.0.1:${FIXPORT[sa2]}/blob";
    timeout_ms = 900; },
  { name = "auth"; kind = "auth"; type = "http"; witness = true;
    url = "http://127.0.0.1:${FIXPORT[auth]}/health"; timeout_ms = 900; ${3:-} }${4:-}
);
EOF
}
write_conf
# Ordinary passes and -t checks run under memcheck with make valgrind; -r runs do not (timed).
probe() { "${VG[@]}" "$PROBE" -c "$P/dh.conf" "$@" >>"$P/probe.out" 2>&1; }
verdict() { "$SNAPTOOL" dump "$P/snapshot" | awk -v r="$1" '$1 == "reg" && $2 == r { print $3 }'; }
depstate() { "$SNAPTOOL" dump "$P/snapshot" | awk -v d="$1" '$1 == "dep" && $2 == d { print $3 }'; }

# --- Proxies: the environment's are ignored; a configured one is used.
http_proxy=http://127.0.0.1:1 https_proxy=http://127.0.0.1:1 all_proxy=http://127.0.0.1:1 \
HTTP_PROXY=http://127.0.0.1:1 ALL_PROXY=http://127.0.0.1:1 no_proxy= \
	"${VG[@]}" "$PROBE" -c "$P/dh.conf" >"$P/env.out" 2>&1
check "proxy variables in the environment: pass exits 0" 0 $?
check "proxy variables in the environment are ignored: every check passes" "pass pass pass" \
	"$(for d in sa1 sa2 auth; do depstate $d; done | xargs)"
"$SNAPTOOL" check "$P/snapshot" | grep -q 'not blind'
check "proxy variables in the environment: pass not blind" 0 $?
check "the proxy fixture saw nothing" 0 "$(grep -c 'GET' "$P/proxy.log")"

write_conf "proxy = \"http://127.0.0.1:${FIXPORT[proxy]}\";" "" 'proxy = "";'
probe -v
check_match "prober.proxy: an http check goes through it (absolute URL at the proxy)" \
	"GET http://127.0.0.1:${FIXPORT[sa1]}/blob" "$(cat "$P/proxy.log")"
check_match "prober.proxy: the proxy's answer is the check's (HTTP 500)" 'probe sa1: fail \(HTTP 500' "$(cat "$P/probe.out")"
check "a dependency's proxy = \"\" goes direct" 0 "$(grep -c "/health" "$P/proxy.log")"
check "a direct check still passes" pass "$(depstate auth)"
write_conf 'proxy = "ftp://127.0.0.1:21";'
out=$("${VG[@]}" "$PROBE" -t -c "$P/dh.conf" 2>&1)
check_match "a bad proxy is a config error at file:line" 'dh.conf:4: prober.proxy: "ftp://127.0.0.1:21" is not a proxy URL' "$out"
write_conf "" 'proxy = "127.0.0.1:3128";'
out=$("${VG[@]}" "$PROBE" -t -c "$P/dh.conf" 2>&1)
check_match "a dependency's bad proxy names its own line" 'dh.conf:8: dependencies\[0\].proxy: "127.0.0.1:3128" is not a proxy URL' "$out"
write_conf
rm -f "$P/probe.state"

# --- Logging: journald priorities when stderr is the journal's stream, else ISO times.
mode sa1 500
: >"$P/journal.out"
JS=$(stat -c '%d:%i' "$P/journal.out")
for _ in 1 2 3; do JOURNAL_STREAM=$JS "$PROBE" -c "$P/dh.conf" 2>>"$P/journal.out"; done
check_match "under journald: a state change at priority info (<6>)" '(^|'$'\n'')<6>info: dependency sa1: pass -> fail' "$(cat "$P/journal.out")"
check "under journald: every line has a priority prefix, no time" 0 "$(grep -cv '^<[0-7]>' "$P/journal.out")"
mode auth refuse
JOURNAL_STREAM=$JS "$PROBE" -c "$P/dh.conf" 2>>"$P/journal.out"
check_match "under journald: a blind pass at priority warning (<4>)" '<4>warning: pass is blind' "$(cat "$P/journal.out")"
mode auth 200
# A configuration it cannot run with: each error and the outcome at priority err (<3>).
write_conf 'parallel = 0;'
JOURNAL_STREAM=$JS "$PROBE" -c "$P/dh.conf" 2>>"$P/journal.out"
check "under journald: a bad configuration exits 1" 1 $?
check_match "under journald: its error at priority err (<3>), with file:line" \
	'<3>error: [^ ]*dh.conf:4: prober.parallel: 0 out of range' "$(cat "$P/journal.out")"
check_match "under journald: and what it means, at err: nothing probed, nothing published" \
	'<3>error: [^ ]*dh.conf: cannot run with this configuration \(errors above\): nothing probed, nothing published' \
	"$(cat "$P/journal.out")"
write_conf
JOURNAL_STREAM=1:1 "$PROBE" -c "$P/dh.conf" 2>"$P/notjournal.out"
check "JOURNAL_STREAM naming another stream: plain lines with times" 0 "$(grep -c '^<' "$P/notjournal.out")"
mode sa1 200
"$PROBE" -c "$P/dh.conf" 2>/dev/null
"$PROBE" -S -c "$P/dh.conf" >"$P/syslog.out" 2>&1
rc=$?
check "-S (the cron line): a pass with a state change exits 0" 0 "$rc"
check "-S: nothing on stdout or stderr, so cron mails nothing" "" "$(cat "$P/syslog.out")"
check "-S: the state change did happen" pass "$(depstate sa1)"

# --- Event log: hostile region and plugin output still make one valid JSON line each.
long=$(printf 'x%.0s' $(seq 3000))
# As written in the config (libconfig escapes): we"st\eu<TAB>région <0x01>xxx...
region='we\"st\\eu\tr\xc3\xa9gion \x01'$long
cat >"$P/hostile.sh" <<'EOF'
printf 'bad "q" back\\slash \001 \377 caf\303\251 \t tab\n'
exit 2
EOF
write_conf "region = \"$region\";" "" "" ',
  { name = "plugin"; kind = "other"; type = "exec"; timeout_ms = 900; applies = "all";
    command = [ "/bin/sh", "'"$P"'/hostile.sh" ]; }'
"${VG[@]}" "$PROBE" -t -c "$P/dh.conf" >"$P/t.out" 2>&1
check "hostile region and plugin: config OK" 0 $?
: >"$P/events.jsonl"
mode sa2 500
probe; probe; probe
mode sa2 200
probe; probe
n=$(grep -vc '"event":' "$P/events.jsonl")
check "event log: 3 transitions (sa2 and the plugin down, sa2 back), none dropped" 3 "$n"
parsed=$(python3 - "$P/events.jsonl" <<'PY'
import json, sys
ok = 0
for line in open(sys.argv[1], 'rb'):
    e = json.loads(line.decode('utf-8'))   # strict: raises on invalid JSON or UTF-8
    if e.get('event') == 'verdict':        # a registry's routing change: the same strings
        assert e['region'].startswith('we"st\\eu\tr\u00e9gion \u0001'), repr(e['region'][:30])
        continue
    assert e['region'].startswith('we"st\\eu\tr\u00e9gion \u0001'), repr(e['region'][:30])
    assert len(e['region']) == 17 + 3000, len(e['region'])
    if e['dependency'] == 'plugin':
        # The check engine turns non-printable bytes into '?'; quotes and backslashes stay.
        assert e['cause'] == 'exit 2: bad "q" back\\slash ? ? caf?? ? tab', repr(e['cause'])
    ok += 1
print(ok)
PY
)
check "event log: every line parses as JSON with the hostile strings intact" 3 "$parsed"
check "event log: lines over 1,024 bytes kept whole" "$(wc -l <"$P/events.jsonl")" "$(awk 'length($0) > 3000' "$P/events.jsonl" | wc -l)"
check "event log: the registries' verdict changes too (fabrikam on sa2, and every registry on the plugin)" \
	1 "$([ "$(grep -c '"event":"verdict"' "$P/events.jsonl")" -ge 2 ] && echo 1)"
write_conf

# --- Registry map: a repeating prober sees the map as it is at each pass.
mode sa2 500
probe; probe; probe
check "fabrikam (on failing sa2) fails" fail "$(verdict fabrikam)"
"$PROBE" -r 1 -d 4 -c "$P/dh.conf" >"$P/remap.out" 2>&1 &
RP=$!
sleep 1.3
printf 'contoso westeurope,eastus sa1 -\nfabrikam westeurope,eastus sa1 -\n' >"$P/map.new"
mv "$P/map.new" "$P/registries.map"
wait "$RP"
check "-r: exit 0 across a map change" 0 $?
check "-r: the control plane moved fabrikam to sa1: pass within the same run" pass "$(verdict fabrikam)"
check_match "-r: the new map logged" 'registry map .*registries.map changed: 2 registries' "$(cat "$P/remap.out")"
"$PROBE" -r 1 -d 4 -c "$P/dh.conf" >"$P/nomap.out" 2>&1 &
RP=$!
sleep 1.3
mv "$P/registries.map" "$P/registries.away"
created=$("$SNAPTOOL" check "$P/snapshot" | sed 's/.*created \([0-9]*\).*/\1/')
wait "$RP"
rc=$?
check "-r: a map that cannot be read ends the run with exit 4 (as a fresh run)" 4 "$rc"
check_match "-r: those passes say so" 'pass skipped: nothing probed or published until the registry map can be read' "$(cat "$P/nomap.out")"
after=$("$SNAPTOOL" check "$P/snapshot" | sed 's/.*created \([0-9]*\).*/\1/')
check "-r: nothing published while the map is unreadable" "$created" "$after"
"$PROBE" -c "$P/dh.conf" >"$P/nomap1.out" 2>&1
check "a fresh run without its map: exit 4" 4 $?
check_match "a fresh run without its map: said at err" \
	'error: registry map [^ ]*registries.map cannot be read: nothing probed, nothing published' "$(cat "$P/nomap1.out")"
mv "$P/registries.away" "$P/registries.map"
probe
check "map back: the next run publishes" 0 $?
mode sa2 200

# --- -t as the prober's user: unwritable paths and unreadable credentials are caught.
U=www-data
UPROBE=$(www_bin "$PROBE" "$WORK/bin")   # a copy when the clone is private to root
Q=$WORK/q
mkdir -p "$Q/state"
cp "$P/registries.map" "$Q/"
printf 'Authorization: Bearer x\n' >"$Q/sa1.cred"
chmod 600 "$Q/sa1.cred"   # root's: readable by no one else
sed -e 's#registries = "registries.map"#registries = "'"$Q"'/registries.map"#' \
    -e 's#state = "probe.state"; lock = "probe.lock";#state = "'"$Q"'/state/probe.state"; lock = "'"$Q"'/state/probe.lock";#' \
    -e 's#event_log = "events.jsonl";#event_log = "";#' \
    -e 's#path = "snapshot"#path = "'"$Q"'/state/snapshot"#' \
    -e 's#:'"${FIXPORT[sa1]}"'/blob";#:'"${FIXPORT[sa1]}"'/blob"; credentials = "'"$Q"'/sa1.cred";#' "$P/dh.conf" >"$Q/dh.conf"
chmod 755 "$Q" "$Q/state"
chmod 644 "$Q/dh.conf" "$Q/registries.map"
out=$(runuser -u "$U" -- "$UPROBE" -t -c "$Q/dh.conf" 2>&1)
rc=$?
check "-t as $U: exit 1" 1 "$rc"
check_match "-t as $U: the snapshot directory is not writable, at file:line" "dh.conf:1: snapshot.path: directory \"$Q/state\" is not writable by uid [0-9]+ \\($U\\): Permission denied" "$out"
check_match "-t as $U: the state directory too" "prober.state: directory \"$Q/state\" is not writable by uid [0-9]+ \\($U\\)" "$out"
check_match "-t as $U: root's credentials file is not readable" "dependency \"sa1\": credentials \"$Q/sa1.cred\" not readable by uid [0-9]+ \\($U\\): Permission denied" "$out"
out=$("$PROBE" -t -c "$Q/dh.conf" 2>&1)
check "-t as root: the same file is OK" "$Q/dh.conf: configuration OK (3 dependencies, 2 registries)" "$out"
chown -R "$U" "$Q/state" "$Q/sa1.cred"
out=$(runuser -u "$U" -- "$UPROBE" -t -c "$Q/dh.conf" 2>&1)
check "-t as $U once it owns them: OK" "$Q/dh.conf: configuration OK (3 dependencies, 2 registries)" "$out"
# A pass as that user, with the unit's confinement that setpriv can apply: no new privileges,
# no capabilities.
setpriv --reuid="$U" --regid="$U" --init-groups --no-new-privs --inh-caps=-all --bounding-set=-all \
	"$UPROBE" -c "$Q/dh.conf" >"$Q/pass.out" 2>&1
check "a pass as $U with no privileges: exit 0" 0 $?
check "a pass as $U: snapshot published, owned by $U, readable by others" "$U 644" "$(stat -c '%U %a' "$Q/state/snapshot")"
chown "$U" "$Q"
chmod 700 "$Q/state"
chown root "$Q/state/probe.lock"
out=$(runuser -u "$U" -- "$UPROBE" -t -c "$Q/dh.conf" 2>&1)
check_match "-t as $U: a lock file it cannot write is caught" "prober.lock: \"$Q/state/probe.lock\" is not writable by uid [0-9]+ \\($U\\)" "$out"
finish
