#!/usr/bin/env bash
# test_prober.sh: deephealth-probe against real dependencies on loopback (HTTP fixture
# servers, redis-server, monitoring-plugins), thresholds, isolation, blind passes,
# crash safety of publishing, and end to end through lighttpd.
. tests/integration/lib.sh
. tests/integration/servers.sh

PROBE=$BUILD/deephealth-probe
P=$WORK/p
S=$P   # servers.sh reads configs from $S
mkdir -p "$P"
chmod 755 "$P"

FIXDIR=$P

start_fix sa1
start_fix sa2
start_fix auth
start_fix meta
start_fix containers
REDIS_PORT=$(free_port)
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --daemonize no \
	>"$P/redis.log" 2>&1 &
REDIS_PID=$!
PIDS+=($REDIS_PID)
for _ in $(seq 100); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.05; done

cat >"$P/registries.map" <<'EOF'
# name      regions             storage  features
contoso     westeurope,eastus   sa1      metadata-search
fabrikam    westeurope,eastus   sa2      -
northwind   westeurope          sa1      -
EOF

# write_conf [EXTRA-PROBER-KEYS]
write_conf() {
	cat >"$P/dh.conf" <<EOF
snapshot = { path = "snapshot"; max_age = 120; };
responder = { kill_switch = "disable"; overrides = "overrides"; counters = "$RUNDIR/counters"; recheck_ms = 0; };
resolver = { rules = ( "^(?<registry>[a-z0-9]{5,50})\\\\.azurecr\\\\.io\$" ); };
prober = {
  registries = "registries.map"; region = "westeurope";
  state = "probe.state"; lock = "probe.lock"; event_log = "events.jsonl";
  interval = 10; deadline = 6; ${1:-}
};
dependencies = (
  { name = "sa1"; kind = "storage"; type = "http"; url = "http://127.0.0.1:${FIXPORT[sa1]}/blob";
    timeout_ms = 1500; connect_timeout_ms = 500; },
  { name = "sa2"; kind = "storage"; type = "http"; url = "http://127.0.0.1:${FIXPORT[sa2]}/blob";
    timeout_ms = 1500; },
  { name = "auth"; kind = "auth"; type = "http"; witness = true;
    url = "http://127.0.0.1:${FIXPORT[auth]}/health"; headers = [ "Host: login.example.net" ];
    timeout_ms = 1500; },
  { name = "cache"; kind = "cache"; type = "tcp"; address = "127.0.0.1:$REDIS_PORT";
    send = "PING\\r\\n"; reply_match = "^\\\\+PONG"; timeout_ms = 1000; },
  { name = "meta"; kind = "metadata"; type = "exec"; timeout_ms = 3000;
    command = [ "/usr/lib/nagios/plugins/check_http", "-H", "127.0.0.1", "-p", "${FIXPORT[meta]}", "-t", "2" ]; },
  { name = "containers"; kind = "containers"; type = "exec"; timeout_ms = 3000;
    command = [ "/usr/lib/nagios/plugins/check_tcp", "-H", "127.0.0.1", "-p", "${FIXPORT[containers]}", "-t", "2" ]; }
);
EOF
}
write_conf

# The ordinary passes run under valgrind with make valgrind (timing and kill tests do not).
if [ -n "${DH_VALGRIND:-}" ]; then
	probe() { valgrind -q --leak-check=full --errors-for-leak-kinds=definite --log-file="$WORK/vg/probe.%p.log" \
		"$PROBE" -c "$P/dh.conf" "$@" >>"$P/probe.out" 2>&1; }
else
	probe() { "$PROBE" -c "$P/dh.conf" "$@" >>"$P/probe.out" 2>&1; }
fi
# Passes whose duration is asserted never run under valgrind.
probe_timed() { "$PROBE" -c "$P/dh.conf" "$@" >>"$P/probe.out" 2>&1; }
# verdict REG: "VERDICT [by=DEP]" from the published snapshot
verdict() { "$SNAPTOOL" dump "$P/snapshot" | awk -v r="$1" '$1 == "reg" && $2 == r { v=$3; for (i=4;i<=NF;i++) if ($i ~ /^by=/) v=v" "$i; print v }'; }
depstate() { "$SNAPTOOL" dump "$P/snapshot" | awk -v d="$1" '$1 == "dep" && $2 == d { print $3 }'; }

out=$("$PROBE" -t -c "$P/dh.conf" 2>&1)
check "probe -t: configuration and registry map OK" "$P/dh.conf: configuration OK (6 dependencies, 3 registries)" "$out"

probe; check "pass 1: exit 0" 0 $?
check "pass 1: snapshot valid" 0 "$("$SNAPTOOL" check "$P/snapshot" >/dev/null 2>&1; echo $?)"
check "pass 1: contoso pass" pass "$(verdict contoso)"
check "pass 1: every dependency pass" "pass pass pass pass pass pass" "$(for d in sa1 sa2 auth cache meta containers; do depstate $d; done | xargs)"
hdrs=$(cat "$P/auth.log")
check_match "custom Host header reaches the dependency" 'login.example.net' "$hdrs"

# fall = 3: two failed passes keep sa1 up, the third takes it down (twice, to show the reset).
for cycle in 1 2; do
	mode sa1 500
	probe; probe
	check "cycle $cycle: fall-1 failures keep sa1 pass" pass "$(depstate sa1)"
	probe
	check "cycle $cycle: fall failures take sa1 down" fail "$(depstate sa1)"
	check "cycle $cycle: contoso (on sa1) fails, decided by sa1" "fail by=sa1" "$(verdict contoso)"
	check "cycle $cycle: fabrikam (on sa2) unaffected" pass "$(verdict fabrikam)"
	mode sa1 200
	probe
	check "cycle $cycle: rise-1 successes keep sa1 down" fail "$(depstate sa1)"
	probe
	check "cycle $cycle: rise successes bring sa1 back" pass "$(depstate sa1)"
	check "cycle $cycle: contoso back to pass" pass "$(verdict contoso)"
done
# Nothing changed between two passes (the exec checks' plugins print a timing each time):
# only the header moves on; the rest is byte for byte the same (what a follower relies on).
probe; cp "$P/snapshot" "$WORK/snap.a"; sleep 1.1; probe
check "two passes with no change: the same bytes after the 64-byte header" "" \
	"$(cmp -s <(tail -c +65 "$WORK/snap.a") <(tail -c +65 "$P/snapshot") ||
		diff <("$SNAPTOOL" dump "$WORK/snap.a" | sed 1d) <("$SNAPTOOL" dump "$P/snapshot" | sed 1d) | xargs)"
check "... and a newer header" 1 "$([ "$(cmp -n 64 "$WORK/snap.a" "$P/snapshot" >/dev/null; echo $?)" = 1 ] && echo 1)"
check_match "transition logged with cause and time" 'dependency sa1: pass -> fail after 3 failures \(HTTP 500, [0-9]+ ms\)' "$(cat "$P/probe.out")"
check_match "recovery logged" 'dependency sa1: fail -> pass after 2 successes' "$(cat "$P/probe.out")"
check_match "registry verdict changes counted" '2 registries changed verdict' "$(cat "$P/probe.out")"
ev=$(grep '"dependency":"sa1"' "$P/events.jsonl" | head -n 1)
check_match "event log: one JSON line per transition" '^\{"time":"[0-9T:-]+Z","region":"westeurope","dependency":"sa1","from":"pass","to":"fail","cause":"HTTP 500".*"consecutive_failures":3.*"registries_affected":2\}$' "$ev"
check "event log: 4 sa1 transitions" 4 "$(grep '"dependency":"sa1"' "$P/events.jsonl" | grep -vc '"event":')"

# A blip shorter than fall, repeated: never a transition.
for i in 1 2 3; do mode sa2 500; probe; probe; mode sa2 200; probe; done
check "blips shorter than fall never fail sa2" pass "$(depstate sa2)"
check "no sa2 transition in the event log" 0 "$(grep -c '"dependency":"sa2"' "$P/events.jsonl")"

# Metadata: only registries with the feature depend on it (check_http plugin as the check).
mode meta 500
probe; probe; probe
check "meta down via check_http" fail "$(depstate meta)"
check "contoso (metadata-search) fails on meta" "fail by=meta" "$(verdict contoso)"
check "fabrikam (no metadata-search) unaffected" pass "$(verdict fabrikam)"
mode meta 200
probe; probe
check "meta back" pass "$(depstate meta)"

# Cache: degraded by default: warn for everyone, no fail.  Redis paused (SIGSTOP) = a hang.
kill -STOP "$REDIS_PID"
start=$(date +%s%N)
probe_timed; probe_timed; probe_timed
elapsed=$((($(date +%s%N) - start) / 1000000))
kill -CONT "$REDIS_PID"
check "hung redis: cache down" fail "$(depstate cache)"
check "cache down is warn, not fail, for registries" "warn by=cache" "$(verdict fabrikam)"
if [ "$elapsed" -lt 6000 ]; then ok "3 passes with a hung redis took ${elapsed} ms (timeout 1000 ms each)"
else not_ok "hung redis bounded by its timeout" "3 passes took ${elapsed} ms"; fi
probe; probe
check "redis resumed: cache back" pass "$(depstate cache)"

# check_tcp plugin against a refused port.
mode containers refuse
probe; probe; probe
check "containers down via check_tcp (refused)" fail "$(depstate containers)"
check "containers down fails every two-region registry" "fail by=containers" "$(verdict fabrikam)"
check "single-region registry still carries its verdict (answered 200 by the responder)" "fail by=containers" "$(verdict northwind)"
mode containers 200
probe; probe

# A hung HTTP dependency costs at most its own timeout.
mode sa2 hang
start=$(date +%s%N)
probe_timed
elapsed=$((($(date +%s%N) - start) / 1000000))
if [ "$elapsed" -lt 3000 ]; then ok "a hung HTTP dependency costs its timeout (pass took ${elapsed} ms, timeout 1500)"
else not_ok "hung HTTP dependency bounded" "pass took ${elapsed} ms"; fi
mode sa2 200
probe

# Blind: the witness (auth) unreachable -> nothing folded, snapshot marked blind.
mode auth refuse
mode sa1 500
begins0=$(grep -c 'blind stretch begins' "$P/probe.out")
probe; check "a blind pass exits 7" 7 $?
probe; probe; probe
"$SNAPTOOL" check "$P/snapshot" | grep -q BLIND
check "witness down: snapshot marked BLIND" 0 $?
check "blind passes fold nothing: sa1 still pass" pass "$(depstate sa1)"
check "a blind run keeps each dependency's cause from the last snapshot (the state file has none)" "" \
	"$("$SNAPTOOL" dump "$P/snapshot" | awk '$1 == "dep" && !/cause=/ { print $2 }')"
check_match "blind pass logged" 'pass is blind \(the witness check failed\)' "$(cat "$P/probe.out")"
check "the start of the blind stretch logged once for 4 blind passes" 1 "$(($(grep -c 'blind stretch begins' "$P/probe.out") - begins0))"
check_match "the start names each witness and its cause" 'blind stretch begins: the witness check failed; witnesses: auth: connect: ' "$(cat "$P/probe.out")"
check "event log: the blind stretch starts" 1 "$(grep -c '"event":"blind","state":"start","cause":"the witness check failed"' "$P/events.jsonl")"
mode auth 200
mode sa1 200
probe; check "the pass after the blind stretch exits 0" 0 $?
"$SNAPTOOL" check "$P/snapshot" | grep -q 'not blind'
check "witness back: snapshot not blind" 0 $?
check_match "the end of the blind stretch logged, with the witnesses' answers" 'blind stretch ended: the witnesses answer again \(last blind pass [0-9T:-]+Z; witnesses: auth: HTTP 200\)' "$(cat "$P/probe.out")"
check "event log: the blind stretch ends" 1 "$(grep -c '"event":"blind","state":"end"' "$P/events.jsonl")"

# Pass deadline: a dependency whose timeout exceeds what is left is abandoned at the deadline.
write_conf 'parallel = 1;'
sed -i 's/interval = 10; deadline = 6;/interval = 2; deadline = 2;/; s/timeout_ms = 1500;/timeout_ms = 1900;/g; s/timeout_ms = 3000;/timeout_ms = 1900;/g; s/timeout_ms = 1000;/timeout_ms = 1900;/' "$P/dh.conf"
mode sa1 hang; mode sa2 hang
start=$(date +%s%N)
probe_timed
elapsed=$((($(date +%s%N) - start) / 1000000))
if [ "$elapsed" -lt 3000 ]; then ok "pass deadline (2 s) respected with two hung checks in series (${elapsed} ms)"
else not_ok "pass deadline respected" "${elapsed} ms"; fi
mode sa1 200; mode sa2 200
write_conf

# Repeated passes inside one run (-r every second for -d 4 s, deadline 2 s): passes start at
# 0, 1 and 2 s; a fourth would end past 4 s.  The run stops by itself.
sed -i 's/interval = 10; deadline = 6;/interval = 1; deadline = 1;/' "$P/dh.conf"
sed -i 's/timeout_ms = 1500;/timeout_ms = 900;/g; s/timeout_ms = 3000;/timeout_ms = 900;/g; s/timeout_ms = 1000;/timeout_ms = 900;/' "$P/dh.conf"
: >"$P/repeat.out"
start=$(date +%s%N)
"$PROBE" -v -r 1 -d 4 -c "$P/dh.conf" >"$P/repeat.out" 2>&1
rc=$?
elapsed=$((($(date +%s%N) - start) / 1000000))
check "-r 1 -d 4: exit 0" 0 "$rc"
n=$(grep -c 'debug: published' "$P/repeat.out")
if [ "$n" -ge 3 ] && [ "$n" -le 4 ]; then ok "-r 1 -d 4: $n passes in ${elapsed} ms"; else not_ok "-r 1 -d 4: 3 or 4 passes" "$n passes in ${elapsed} ms"; fi
if [ "$elapsed" -lt 5000 ]; then ok "-r 1 -d 4 stops by itself within its duration (${elapsed} ms)"; else not_ok "-r/-d bounded" "${elapsed} ms"; fi
write_conf

# Counters older than snapshot.max_age (3 s here) are not trusted: a state file saved
# long ago, and in a -r run a blind stretch longer than max_age, both start fresh, so
# one good pass brings sa1 up instead of rise = 2.  Never under valgrind: a pass slower
# than max_age would make the counters stale between passes.
sed -i 's/max_age = 120;/max_age = 3;/; s/interval = 10; deadline = 6;/interval = 1; deadline = 1;/' "$P/dh.conf"
sed -i 's/timeout_ms = 1500;/timeout_ms = 900;/g; s/timeout_ms = 3000;/timeout_ms = 900;/g; s/timeout_ms = 1000;/timeout_ms = 900;/' "$P/dh.conf"
mode sa1 500
probe_timed; probe_timed; probe_timed
check "max_age 3: sa1 down after fall" fail "$(depstate sa1)"
touch -d '-10 seconds' "$P/probe.state"
mode sa1 200
n0=$(wc -l <"$P/probe.out")
probe_timed
check "state file 10 s old: sa1 up after one good pass" pass "$(depstate sa1)"
check_match "old state file said so" 'saved [0-9]+ s ago, more than snapshot.max_age \(3 s\): its counters are too old to trust' "$(tail -n +$((n0 + 1)) "$P/probe.out")"
mode sa1 500
probe_timed; probe_timed; probe_timed
mode auth refuse
"$PROBE" -v -r 1 -d 7 -c "$P/dh.conf" >"$P/stale.out" 2>&1 &
SP=$!
sleep 4.5
mode auth 200
mode sa1 200
wait "$SP"
check_match "-r: blind for more than max_age, then fresh" 'no pass folded for [0-9]+ s, more than snapshot.max_age \(3 s\): every dependency starts fresh' "$(cat "$P/stale.out")"
check "-r: sa1 up after the blind stretch" pass "$(depstate sa1)"
write_conf

# Overlapping runs: the lock makes the second exit at once with a clear message.
flock "$P/probe.lock" sleep 3 &
FL=$!
sleep 0.3
start=$(date +%s%N)
"$PROBE" -c "$P/dh.conf" >"$P/overlap.out" 2>&1
rc=$?
elapsed=$((($(date +%s%N) - start) / 1000000))
check "overlapping run exits 3" 3 "$rc"
check_match "overlapping run says why" 'another deephealth-probe run holds' "$(cat "$P/overlap.out")"
if [ "$elapsed" -lt 1000 ]; then ok "overlapping run exits at once (${elapsed} ms)"; else not_ok "overlapping run exits at once" "${elapsed} ms"; fi
wait $FL

# Bad registry map lines: reported with file:line, the rest still evaluated.
cp "$P/registries.map" "$P/registries.good"
printf 'broken line\nghost westeurope nosuch -\n' >>"$P/registries.map"
probe
check_match "bad map line reported as file:line" 'registries.map:5: expected "name regions storage features"' "$(cat "$P/probe.out")"
check_match "unknown storage reported" 'registries.map:6: registry ghost: "nosuch" is not a configured dependency' "$(cat "$P/probe.out")"
check "good registries still published" pass "$(verdict fabrikam)"
"$PROBE" -t -c "$P/dh.conf" >/dev/null 2>&1
check "probe -t fails on a bad map" 1 $?
cp "$P/registries.good" "$P/registries.map"

# Crash safety: SIGKILL at random points of 120 runs over a large map: the snapshot is
# always valid (old or new), never torn.
cp "$P/registries.map" "$P/registries.small"
awk 'BEGIN { for (i = 0; i < 60000; i++) printf "reg%06d westeurope,eastus %s -\n", i, (i % 2 ? "sa1" : "sa2") }' >>"$P/registries.map"
probe
torn=0
for i in $(seq 120); do
	"$PROBE" -c "$P/dh.conf" >/dev/null 2>&1 &
	pid=$!
	sleep "0.$(printf '%03d' $((RANDOM % 120)))"
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	"$SNAPTOOL" check "$P/snapshot" >/dev/null 2>&1 || torn=$((torn + 1))
done
check "120 runs killed mid-pass: snapshot valid after every one" 0 "$torn"
probe
check "after the kills, a normal run succeeds" 0 "$?"
left=$(ls -A "$P" | grep -c '\.tmp\.')
check "no temp files left after the next run" 0 "$left"

# Write failure: a file-size limit below the snapshot's size -> exit 5, old snapshot intact.
cp "$P/snapshot" "$P/snapshot.before"
( ulimit -f 100; "$PROBE" -c "$P/dh.conf" >"$P/efbig.out" 2>&1 )
check "publish failure exits 5" 5 $?
check_match "publish failure says the old snapshot stays" 'NOT published, the previous one stays' "$(cat "$P/efbig.out")"
cmp -s "$P/snapshot" "$P/snapshot.before"
check "old snapshot untouched" 0 $?
check "no temp file left by the failed publish" 0 "$(ls -A "$P" | grep -c '^\.snapshot\.tmp\.')"
cp "$P/registries.small" "$P/registries.map"
probe

# Credentials: refused while group/world readable; once 0600, sent, and never written anywhere.
printf 'Authorization: Bearer s3cr3t-t0ken\n' >"$P/sa2.cred"
chmod 644 "$P/sa2.cred"
# sa2 now fetches the fixture's echo of the request head and must find the header in it.
sed -i "s|:${FIXPORT[sa2]}/blob\";|:${FIXPORT[sa2]}/_fix/headers\"; credentials = \"sa2.cred\"; body_match = \"Authorization: Bearer s3cr3t-t0ken\";|" "$P/dh.conf"
out=$("$PROBE" -t -c "$P/dh.conf" 2>&1)
check_match "credentials readable by others: refused with file:line" 'dh.conf:[0-9]+: dependency "sa2": credentials ".*sa2.cred" must be a regular file owned by this user or root and not group/world accessible' "$out"
chmod 600 "$P/sa2.cred"
probe -v
check "credentials 0600: pass runs" pass "$(verdict fabrikam)"
check_match "credentials header reaches the dependency (body match on its echo)" 'probe sa2: pass \(HTTP 200' "$(cat "$P/probe.out")"
leaks=$(grep -l 's3cr3t-t0ken' "$P/snapshot" "$P/events.jsonl" "$P/probe.state" 2>/dev/null | wc -l)
check "the secret is in no snapshot, event log or state file" 0 "$leaks"
check "the secret is not in the prober's log" 0 "$(grep -c 's3cr3t-t0ken' "$P/probe.out")"
write_conf

# End to end: prober -> snapshot -> responder under lighttpd.
PORT=$(free_port)
ln -sf dh.conf "$P/e2e.conf"
chmod -R a+rX "$P"
start_server lighttpd "$PORT" /e e2e
URL="http://127.0.0.1:$PORT/e/health"
check "e2e: contoso healthy" "200 healthy pass" "$(req "$URL" contoso.azurecr.io)"
mode sa1 500
probe; probe
check "e2e: after fall-1 passes still 200" "200 healthy pass" "$(req "$URL" contoso.azurecr.io)"
probe
check "e2e: after fall passes 503" "503 dependency-failed fail" "$(req "$URL" contoso.azurecr.io)"
check "e2e: fabrikam still 200" "200 healthy pass" "$(req "$URL" fabrikam.azurecr.io)"
check "e2e: northwind (single-region) 200" "200 single-region pass" "$(req "$URL" northwind.azurecr.io)"
mode sa1 200
probe
check "e2e: after rise-1 passes still 503" "503 dependency-failed fail" "$(req "$URL" contoso.azurecr.io)"
probe
check "e2e: after rise passes 200 again" "200 healthy pass" "$(req "$URL" contoso.azurecr.io)"
mode auth refuse
probe
check "e2e: blind prober -> 200 prober-blind" "200 prober-blind warn" "$(req "$URL" contoso.azurecr.io)"
mode auth 200
stop_server lighttpd
finish
