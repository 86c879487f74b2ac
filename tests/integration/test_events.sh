#!/usr/bin/env bash
# test_events.sh: routing changes as events.  The real prober writes one event-log line per
# registry whose verdict changes (its deciding dependency and cause, which prober), a summary
# line beyond prober.event_log_verdicts; the responder serves the log as /deephealth/events.json
# with a cursor (forward reads, rotation, a registry's events only, bounds).
. tests/integration/lib.sh

PROBE=$BUILD/deephealth-probe
P=$WORK/p
mkdir -p "$P"
chmod 755 "$P"
FIXDIR=$P
start_fix sa1
start_fix sa2

cat >"$P/registries.map" <<'EOF'
contoso     westeurope,eastus   sa1      -
fabrikam    westeurope,eastus   sa2      -
litware     westeurope,eastus   sa1,sa2  -
EOF
# write_conf [PROBER-KEYS]
write_conf() {
	cat >"$P/dh.conf" <<EOF
snapshot = { path = "$P/snapshot"; max_age = 120; };
responder = { overrides = "$P/overrides"; counters = ""; kill_switch = "$P/disable"; recheck_ms = 0; };
prober = {
  region = "westeurope"; registries = "$P/registries.map"; state = "$P/probe.state";
  lock = "$P/probe.lock"; event_log = "$P/events.log"; interval = 5; deadline = 4;
  fall = 1; rise = 1; ${1:-}
};
dependencies = (
  { name = "sa1"; kind = "storage"; type = "http"; url = "http://127.0.0.1:${FIXPORT[sa1]}/blob";
    timeout_ms = 900; },
  { name = "sa2"; kind = "storage"; type = "http"; url = "http://127.0.0.1:${FIXPORT[sa2]}/blob";
    timeout_ms = 900; }
);
EOF
}
write_conf
probe() { "${VG[@]}" "$PROBE" -c "$P/dh.conf" >>"$P/probe.out" 2>&1; }
# The verdict lines of the event log: "registry from to dependency cause prober".
verdicts() {
	python3 -c '
import json, sys
for l in open(sys.argv[1]):
    e = json.loads(l)
    if e.get("event") == "verdict":
        print(e["registry"], e["from"], e["to"], e["dependency"], e["cause"], e["prober"] == sys.argv[2], e["region"])
' "$P/events.log" "$(hostname)"
}

probe
check "a first pass: no verdict changed, no verdict event" "" "$(verdicts)"
mode sa1 500
probe
check "sa1 fails: one event per registry that moved, with what decided and why" \
	"contoso pass fail sa1 HTTP 500 True westeurope|litware pass fail sa1 HTTP 500 True westeurope" \
	"$(verdicts | paste -sd'|')"
check "every line of the log is whole JSON" 0 \
	"$(python3 -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1])]' "$P/events.log" 2>&1 | wc -l)"
mode sa2 500
probe
check "sa2 fails too: fabrikam moves; litware stays failed (no event)" "fabrikam pass fail sa2 HTTP 500" \
	"$(verdicts | sed -n 3p | cut -d' ' -f1-6)"
mode sa1 200
probe
check "sa1 back: contoso returns, told with the dependency that had decided; litware still fails (sa2)" \
	"contoso fail pass sa1 HTTP 200" "$(verdicts | sed -n 4p | cut -d' ' -f1-6)"
check "no event for litware's unchanged verdict" 3 "$(verdicts | grep -c '^litware\|^contoso')"

# The bound: past prober.event_log_verdicts, one summary line.
write_conf "event_log_verdicts = 1;"
mode sa1 500
mode sa2 200
probe
last=$(tail -n 2 "$P/events.log" | python3 -c '
import json, sys
for l in sys.stdin:
    e = json.loads(l); print(e.get("event"), e.get("registry", ""), e.get("changed", ""), e.get("listed", ""))' | paste -sd'|')
check "two changes with event_log_verdicts = 1: one listed, then the summary" \
	"verdict contoso  |verdicts  2 1" "$last"
write_conf "event_log_verdicts = 0;"
n=$(wc -l <"$P/events.log")
mode sa1 200
probe
check "event_log_verdicts = 0: only the summary (and the dependency's transition)" \
	"transition|verdicts" "$(tail -n +$((n + 1)) "$P/events.log" | python3 -c '
import json, sys
print("|".join(json.loads(l).get("event", "transition") for l in sys.stdin))')"
write_conf
out=$("$PROBE" -t -c "$P/dh.conf" 2>&1)
check "-t: event_log_verdicts in range" 0 $?
write_conf "event_log_verdicts = -1;"
out=$("$PROBE" -t -c "$P/dh.conf" 2>&1)
check_match "-t: event_log_verdicts out of range names its line" 'dh.conf:6: prober.event_log_verdicts' "$out"
write_conf

# --- The admin side: /deephealth/events.json from a pool (the FastCGI the web servers speak).
chmod 644 "$P/events.log" "$P/snapshot"
mkdir -m 1777 "$P/sock"
pool_start "$P/sock/fcgi" "$P/sock/pool.log" 1 "$P/dh.conf" $(fcgi_cmd_bin) || exit 1
fcgi() { env -i REQUEST_METHOD=GET HTTP_HOST= REQUEST_URI="$1" cgi-fcgi -bind -connect "$P/sock/fcgi" | sed '1,/^\r*$/d'; }
# ev URI EXPR: a Python expression over the document d.
ev() { fcgi "$1" | python3 -c "import json, sys; d = json.load(sys.stdin); r = d.get('registry') or {}; print($2)"; }

total=$(python3 -c 'import json,sys; print(len([json.loads(l) for l in open(sys.argv[1])]))' "$P/events.log")
check "the latest events, oldest first, as many as the log has" "$total ok westeurope" \
	"$(ev /deephealth/events.json 'len(d["events"]), d["log"]["state"], d["region"]')"
check "a verdict event as listed: its fields" "verdict contoso pass fail sa1 HTTP 500" \
	"$(ev /deephealth/events.json '" ".join(next((e["event"], e["registry"], e["from"], e["to"], e["dependency"], e["cause"]) for e in d["events"] if e["event"] == "verdict"))')"
check "a dependency's transition as listed" "transition sa1 pass fail" \
	"$(ev /deephealth/events.json '" ".join(next((e["event"], e["dependency"], e["from"], e["to"]) for e in d["events"] if e["event"] == "transition"))')"
check "limit=2: the last two" "2 verdicts" "$(ev '/deephealth/events.json?limit=2' 'len(d["events"]), d["events"][-1]["event"]' | tr -d '(),'"'")"
check "registry=fabrikam: its verdict (its return was past the bound) and the summaries" "verdict fabrikam|verdicts|verdicts" \
	"$(ev '/deephealth/events.json?registry=fabrikam' '"|".join(e["event"] + (" " + e["registry"] if "registry" in e else "") for e in d["events"])')"
cur=$(ev /deephealth/events.json 'd["cursor"]')
check "at the end: nothing more" "0 False False" "$(ev "/deephealth/events.json?after=$cur" 'len(d["events"]), d["more"], d["reset"]')"
mode sa2 500
probe
check "after the cursor: only what is new" "transition verdict verdict" \
	"$(ev "/deephealth/events.json?after=$cur" '" ".join(e["event"] for e in d["events"])')"
check "after the cursor with limit=1: one, more to come, and the next cursor goes on" "transition True verdict" \
	"$(ev "/deephealth/events.json?after=$cur&limit=1" 'd["events"][0]["event"], d["more"]' | tr -d "(),'") $(
		c2=$(ev "/deephealth/events.json?after=$cur&limit=1" 'd["cursor"]'); ev "/deephealth/events.json?after=$c2&limit=1" 'd["events"][0]["event"]')"
mv "$P/events.log" "$P/events.log.1"
probe
mode sa2 200
probe
chmod 644 "$P/events.log"
check "the log rotated since the cursor: reset, the new log from its start" "True transition" \
	"$(ev "/deephealth/events.json?after=$cur" 'd["reset"], d["events"][0]["event"]' | tr -d "(),'")"
check "a cursor that is not one: said, nothing listed" "after: not a cursor of this document 0" \
	"$(ev '/deephealth/events.json?after=zz' 'd["error"], len(d["events"])' | tr -d "(),'")"
check "limit beyond 1000 is 1000; below 1 is 1" "1" "$(ev '/deephealth/events.json?limit=0' 'len(d["events"])')"
# A line still being written (no newline yet) is not listed, and the cursor stops before it.
printf '{"time":"2026-12-07T00:00:00Z","event":"blind","state":"start"' >>"$P/events.log"
check "a line still being written: not listed, not passed" "False" \
	"$(ev /deephealth/events.json 'any(e["event"] == "blind" for e in d["events"])')"
c3=$(ev /deephealth/events.json 'd["cursor"]')
printf ',"cause":"x"}\n' >>"$P/events.log"
check "once whole, the next read from the cursor lists it" "blind start" \
	"$(ev "/deephealth/events.json?after=$c3" '" ".join((d["events"][0]["event"], d["events"][0]["state"]))')"
# Lines that are not events, damaged or hostile: passed over, the document stays JSON.
printf 'not json\n{"time":"x","event":"<b>\\"q","cause":"\\u0001"}\n{"time":"t","event":"verdict","registry":"a\\"b"}\n' >>"$P/events.log"
check "damaged lines: the document is still JSON; an event kind that is no word is passed over" "ok verdict" \
	"$(ev /deephealth/events.json 'd["log"]["state"], d["events"][-1]["event"]' | tr -d "(),'")"
# The status document's registry in detail: what where and the global page show as why.
mode sa1 500
probe
probe
check "status.json?registry=contoso: verdict, what decided, its uses, the answer now" \
	"True fail sa1 HTTP 500 ['sa1'] 503 dependency-failed None" \
	"$(ev '/deephealth/status.json?registry=contoso' 'r["found"], r["verdict"], r["decided_by"], r["cause"], r["uses"], r["answer"]["http"], r["answer"]["reason"], r["override"]' 2>&1 | tr -d "(),'" | sed "s/\[/['/; s/\]/']/")"
check "status.json?registry=nosuch: not found, and the answer a probe gets (200)" "False 200" \
	"$(ev '/deephealth/status.json?registry=nosuch' 'd["registry"]["found"], d["registry"]["answer"]["http"]' | tr -d "(),'")"
check "status.json without registry=: no registry field" "False" "$(ev /deephealth/status.json '"registry" in d')"
rm "$P/events.log"
check "no event log: said, not an error" "unreadable 0" "$(ev /deephealth/events.json 'd["log"]["state"], len(d["events"])' | tr -d "(),'")"
pool_stop "$POOL_PID"
finish
