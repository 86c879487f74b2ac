#!/usr/bin/env bash
# test_guard.sh: the failover guard (docs/guard.md) end to end.  A real prober over 2,000
# multi-region registries on 20 storage accounts (HTTP fixture servers, 100 registries each;
# reg0000 also on a 21st account, sa20, alone), prober.guard_max_failing = "25%" (500);
# real lighttpd spawning the responder over FastCGI; every registry asked in one curl run.
#   30% failing: the snapshot is flagged, all 2,000 answer 200 guard, and every alarm is
#   raised (prober log, event log, prober and responder metrics, responder log, deephealthctl
#   check, status.json);
#   the operator's allow-failover: exactly the 600 failing answer 503;
#   override removed, back to 10%: the guard holds for guard_hold, then lets go by itself;
#   exactly 500 (the bound): no trip;  500 and 501 alternating pass after pass: one trip,
#   no flap (counted in the event log).
. tests/integration/lib.sh

PROBE=$BUILD/deephealth-probe
CTL=$BUILD/deephealthctl
P=$WORK/p
mkdir -p "$P"
chmod 755 "$P"
FIXDIR=$P
HOLD=2 # prober.guard_hold: short, so the test waits it out

for i in $(seq -w 0 20); do start_fix "sa$i"; done
start_fix auth
# fail ACCOUNT...: those storage accounts answer 500, every other one 200 (each mode file
# replaced by rename, as httpfix_mode does, so a server never reads half of one).
fail() {
	local i m
	for i in $(seq -w 0 20); do
		m=200
		[[ " $* " == *" $i "* ]] && m=500
		echo "$m" >"$P/sa$i.mode.new" && mv "$P/sa$i.mode.new" "$P/sa$i.mode"
	done
	sleep 0.06
}

{
	echo "# 2,000 registries, 100 on each of sa00..sa19; reg0000 on sa20 too"
	for i in $(seq 0 1999); do
		s=$(printf 'sa%02d' $((i % 20)))
		[ "$i" -eq 0 ] && s="$s,sa20"
		printf 'reg%04d westeurope,eastus2 %s -\n' "$i" "$s"
	done
} >"$P/registries.map"
{
	cat <<EOF
snapshot = { path = "$P/snapshot"; max_age = 120; };
responder = { overrides = "$P/overrides"; counters = "$RUNDIR/counters"; kill_switch = "$P/disable";
  recheck_ms = 0; };
resolver = { rules = ( "^(?<registry>reg[0-9]{4})\\\\.example\\\\.io\$" ); };
prober = {
  region = "westeurope"; registries = "$P/registries.map"; state = "$P/probe.state";
  lock = "$P/probe.lock"; event_log = "$P/events.log"; metrics = "$P/prober.metrics";
  interval = 5; deadline = 4; fall = 1; rise = 1;
  guard_max_failing = "25%"; guard_hold = $HOLD;
};
dependencies = (
  { name = "auth"; kind = "auth"; type = "http"; witness = true;
    url = "http://127.0.0.1:${FIXPORT[auth]}/auth"; timeout_ms = 900; applies = "all"; }
EOF
	for i in $(seq -w 0 20); do
		echo "  ,{ name = \"sa$i\"; kind = \"storage\"; type = \"http\"; url = \"http://127.0.0.1:${FIXPORT[sa$i]}/blob\"; timeout_ms = 900; }"
	done
	echo ");"
} >"$P/dh.conf"

probe() { "${VG[@]}" "$PROBE" -c "$P/dh.conf" >>"$P/probe.out" 2>&1; }
ctl() { "$CTL" -c "$P/dh.conf" "$@"; }
# guard_events STATE: how many {"event":"guard","state":STATE} lines the event log holds.
guard_events() { grep -c "\"event\":\"guard\",\"state\":\"$1\"" "$P/events.log"; }
guarded() { "$SNAPTOOL" check "$P/snapshot" 2>/dev/null | grep -c ', GUARD,'; }
pmetric() { sed -n "s/^$1 //p" "$P/prober.metrics"; }

# The front door: lighttpd spawning the responder for every path (/health, /deephealth/...).
L=$WORK/lighttpd
PORT=$(free_port)
lighttpd_base "$L" "$PORT" "$L"
cat >>"$L/lighttpd.conf" <<EOF
server.modules += ( "mod_fastcgi" )
fastcgi.server = ( "/" => (( "bin-path" => "$(fcgi_cmd "$P/dh.conf")", "socket" => "$L/run/fcgi.sock",
                             "max-procs" => 1, "check-local" => "disable" )) )
EOF
U=http://127.0.0.1:$PORT
# answers: every registry asked once (one curl, keep-alive): "COUNT CODE REASON" lines, sorted.
for i in $(seq -w 0 1999); do
	[ "$i" = 0000 ] || echo next
	printf 'url = "%s/health"\nheader = "Host: reg%s.example.io"\noutput = "/dev/null"\n' "$U" "$i"
	printf 'write-out = "%%{http_code} %%header{x-deephealth-reason}\\n"\n'
done >"$P/curl.conf"
answers() { curl -s --max-time 60 -K "$P/curl.conf" | sort | uniq -c | sed 's/^ *//' | paste -sd'|'; }
doc() { curl -s --max-time 10 "$U/deephealth/$1"; }

# ---- 0. all healthy: the guard is configured and clear.
fail
probe
lighttpd -D -f "$L/lighttpd.conf" >"$L/stdout.log" 2>&1 &
PIDS+=($!)
wait_http "$U/health" || { tail -n 5 "$L/error.log" | sed 's/^/# /'; finish; }
check "healthy: every registry 200 healthy" "2000 200 healthy" "$(answers)"
check "healthy: the guard clear, nothing counted" "1 0 500" \
	"$(pmetric 'deephealth_prober_guard_state{state="clear"}') $(pmetric deephealth_prober_guard_failing) $(pmetric deephealth_prober_guard_bound)"

# ---- 1. 30% failing (6 accounts, 600 registries) with a 25% guard: held, and loud.
fail 00 01 02 03 04 05
: >"$P/probe.out"
probe
check "30%: the snapshot is flagged GUARD" 1 "$(guarded)"
check "30%: every registry answers 200 guard" "2000 200 guard" "$(answers)"
check_match "30%: the prober warns, with the count and the bound" \
	'warning: failover guard trips: 600 of 2000 multi-region registries would fail over, more than prober.guard_max_failing 25% \(500\)' \
	"$(cat "$P/probe.out")"
check "30%: one guard start event, with the count and the bound" "1 600 500 2000" \
	"$(guard_events start) $(grep '"event":"guard"' "$P/events.log" | python3 -c '
import json, sys
e = json.loads(sys.stdin.readline()); print(e["failing"], e["bound"], e["multi_region"])')"
check "30%: prober metrics: holding, 600 of bound 500, one trip" "1 600 500 1" \
	"$(pmetric 'deephealth_prober_guard_state{state="holding"}') $(pmetric deephealth_prober_guard_failing) $(pmetric deephealth_prober_guard_bound) $(pmetric deephealth_prober_guard_trips_total)"
m=$(doc metrics)
check "30%: responder metrics: region_state guard, not a fail-open" \
	'deephealth_responder_region_state{reason="guard"} 1|deephealth_responder_fail_open 0' \
	"$(grep -E '^deephealth_responder_(region_state\{reason="guard"\}|fail_open) ' <<<"$m" | sort -r | paste -sd'|')"
check_match "30%: the responder logs it, with the count" 'holding failover for every registry: guard \(the prober.s failover guard holds: 600 of 2000' \
	"$(cat "$L/responder.log")"
check "30%: once" 1 "$(grep -c 'holding failover for every registry: guard' "$L/responder.log")"
out=$(ctl check); rc=$?
check_match "30%: deephealthctl check is CRITICAL, with the count and the bound" \
	'^2 DEEPHEALTH CRITICAL - the failover guard holds: 600 of 2000 multi-region registries fail, more than prober.guard_max_failing 25% allows.* guard=1 ' \
	"$rc $out"
check "30%: status.json: every answer guard; the guard's count" "True 200 guard True 600 2000 500" \
	"$(doc status.json | python3 -c '
import json, sys
d = json.load(sys.stdin); a, g = d["answers"], d["guard"]
print(a["regionwide"], a["http"], a["reason"], g["holding"], g["failing"], g["multi_region"], g["bound"])')"

# ---- 2. The operator lets it through: exactly the 600 failing answer 503.
out=$(ctl override add registry:reg0001 allow-failover -e 1h -r "one registry" 2>&1); rc=$?
check "override: allow-failover on anything but the region is a usage error" \
	"2 deephealthctl: override add: allow-failover is for the region only (the failover guard holds the whole region), not registry:reg0001 (see deephealthctl -h)" \
	"$rc $out"
out=$(ctl override add region allow-failover -e 1h -r "INC-23: westeurope storage down")
check_match "override: deephealthctl says the prober will let the 600 through" \
	'the failover guard holds now: lets the 600 of 2000 multi-region registries that fail answer 503' "$out"
check "override: no answer changes before the prober's pass" "2000 200 guard" "$(answers)"
: >"$P/probe.out"
probe
check "override: the snapshot is not flagged" 0 "$(guarded)"
check "override: exactly the 30% answer 503, the rest 200" "1400 200 healthy|600 503 dependency-failed" "$(answers)"
check_match "override: the prober says so at warning" \
	'warning: failover guard LET THROUGH by an operator: the region.s allow-failover by [^ ]+ until .* \(INC-23: westeurope storage down\)' \
	"$(cat "$P/probe.out")"
check "override: an allowed event, with its reason; metrics: allowed" "1 INC-23: westeurope storage down 1" \
	"$(guard_events allowed) $(grep '"state":"allowed"' "$P/events.log" | python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["reason"])') $(pmetric 'deephealth_prober_guard_state{state="allowed"}')"

# ---- 3. Override removed, back to 10% (2 accounts): held for guard_hold, then lets go alone.
ctl override remove region >/dev/null
fail 00 01
probe
check "10%, override gone: held again until the hold has passed" "1 1 2000 200 guard" \
	"$(guarded) $(guard_events held) $(answers)"
sleep "$HOLD"
probe
check "10% for guard_hold: the guard lets go, no override needed" "0 1" "$(guarded) $(guard_events end)"
check "10%: normal answers: the 200 failing answer 503" "1800 200 healthy|200 503 dependency-failed" "$(answers)"
check_match "10%: the prober warns it let go" 'warning: failover guard lets go: 200 of 2000 multi-region registries fail, at or under 500' \
	"$(cat "$P/probe.out")"
out=$(ctl check -u 0); rc=$? # (-u 0: the few unknown Hosts of wait_http are no alarm here)
check_match "10%: deephealthctl check no longer says guard" '^0 DEEPHEALTH OK .* guard=0 ' "$rc $out"
# The responder logged each change once: held (1), let through (2), held again (3), let go.
check "the responder: held twice, enforcing again twice" "2 2" \
	"$(grep -c 'holding failover for every registry: guard' "$L/responder.log") $(grep -c 'enforcing again: guard ended after' "$L/responder.log")"

# ---- 4. Exactly the bound: 5 accounts, 500 registries: no trip.
fail 15 16 17 18 19
probe
probe
check "exactly 500 (the bound): not flagged, no new start event" "0 1" "$(guarded) $(guard_events start)"
check "exactly 500: they fail over" "1500 200 healthy|500 503 dependency-failed" "$(answers)"

# ---- 5. 500 and 501 (sa20 takes reg0000 too) alternating, pass after pass: one trip, no flap.
for k in $(seq 1 12); do
	if [ $((k % 2)) -eq 1 ]; then fail 15 16 17 18 19 20; else fail 15 16 17 18 19; fi
	probe
done
check "alternating 501/500 for 12 passes: one start, no end" "2 1" "$(guard_events start) $(guard_events end)"
check "alternating: still held, every registry 200 guard" "1 2000 200 guard" "$(guarded) $(answers)"
check "alternating: the count seen last was 500, two trips in all" "500 2" \
	"$(pmetric deephealth_prober_guard_failing) $(pmetric deephealth_prober_guard_trips_total)"

# ---- Every event line is whole JSON, and promtool takes the prober's metrics.
check "every event-log line is JSON" 0 \
	"$(python3 -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1])]' "$P/events.log" 2>&1 | wc -l)"
if command -v promtool >/dev/null; then
	out=$(promtool check metrics <"$P/prober.metrics" 2>&1)
	check "promtool check metrics: the prober's, with the guard's series" "0 []" "$? [$out]"
fi
finish
