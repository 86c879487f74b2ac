#!/usr/bin/env bash
# test_overrides.sh: operator overrides through real lighttpd and Apache: 1,000 registries
# forced by one glob and released, rollout rings (ring 0 enforcing, the rest in shadow),
# an override expiring on time with no prober running, a damaged file ignored whole (its
# last good copy in force; with none, a healthy answer never becomes a 503), every change in
# the event log; then a prober pass
# records the expiry.
. tests/integration/lib.sh
. tests/integration/servers.sh

CTL=$BUILD/deephealthctl
PROBE=$BUILD/deephealth-probe
ctl() { "${VG[@]}" "$CTL" "$@"; }
S=$WORK/state
mkdir -p "$S"
SNAP=$S/snapshot
OVR=$S/overrides
EV=$S/events.jsonl

conf() { # NAME MODE
	cat >"$S/$1.conf" <<EOF
snapshot = { path = "snapshot"; max_age = 120; };
responder = { kill_switch = "disable"; recheck_ms = 0; mode = "$2"; overrides = "overrides"; counters = "$RUNDIR/counters"; };
resolver = { rules = ( "^(?<registry>[a-z0-9-]{3,50})\\\\.azurecr\\\\.io\$" ); };
prober = { event_log = "events.jsonl"; };
EOF
}
conf enforce enforce
conf shadow shadow
{
	echo "created now"
	echo "interval 10"
	echo "dep sa1 fail storage critical since=now-300 cause=HTTP 500"
	echo "dep sa017 pass storage critical"
	echo "dep auth pass auth critical witness all"
	for i in $(seq -w 1 1000); do echo "reg team1-$i pass"; done
	for i in $(seq -w 1 100); do echo "reg other-$i pass"; done
	echo "reg ring0-a fail by=sa1 uses=sa1"
	echo "reg ring1-a fail by=sa1 uses=sa1"
	echo "reg fabrikam fail by=sa1 uses=sa1"
	echo "reg store-a pass uses=sa017"
	echo "reg store-b fail by=sa1 uses=sa017,sa1"
	echo "reg store-c pass"
} >"$S/fixture"
fresh() { snap "$SNAP" <"$S/fixture"; }
fresh
: >"$EV"
chmod -R a+rX "$S"
chmod a+w "$S" "$EV"

# answers URL HOSTS...: "CODE REASON" per host, one curl for all (keep-alive).
answers() {
	local url=$1 cfg=$WORK/curl.cfg h; shift
	: >"$cfg"
	for h in "$@"; do
		[ -s "$cfg" ] && echo next >>"$cfg"
		printf 'url = "%s"\nheader = "Host: %s.azurecr.io"\noutput = "/dev/null"\nsilent\nmax-time = 10\nwrite-out = "%s"\n' \
			"$url" "$h" '%{http_code} %header{x-deephealth-reason}\n' >>"$cfg"
	done
	curl -K "$cfg"
}
TEAM1=($(for i in $(seq -w 1 1000); do echo "team1-$i"; done))
OTHER=($(for i in $(seq -w 1 100); do echo "other-$i"; done))
count() { sort | uniq -c | awk '{ printf "%s%d %s %s", sep, $1, $2, $3; sep = ", " }'; }

scenario() {
	local U=$1 E=$S/enforce.conf t
	check "$SERVER: no overrides: 1,000 team1 registries healthy" "1000 200 healthy" "$(answers "$U/e/health" "${TEAM1[@]}" | count)"
	ctl -c "$E" override add 'registry:team1-*' force-fail -e 1h -r "drain team1: INC-9" >/dev/null
	check "$SERVER: one glob forces 1,000 registries out at once" "1000 503 override-fail" "$(answers "$U/e/health" "${TEAM1[@]}" | count)"
	check "$SERVER: ... and no other registry" "100 200 healthy" "$(answers "$U/e/health" "${OTHER[@]}" | count)"
	check_match "$SERVER: status lists it, with its reason" 'override      registry:team1-\* force-fail for ([0-9]+h )?[0-9]+m( [0-9]+s)? more \(by [a-z_]+: drain team1: INC-9\)' "$(ctl -c "$E" status)"
	ctl -c "$E" override remove 'registry:team1-*' >/dev/null
	check "$SERVER: removed: all 1,000 back at once" "1000 200 healthy" "$(answers "$U/e/health" "${TEAM1[@]}" | count)"

	# Rings: the region in shadow, ring 0 enforcing (here on the enforce-mode route, the
	# region's mode override does it; on the shadow-mode route, the ring's does).
	ctl -c "$E" override add region shadow -e 1h -r "rollout 2.3: rings" >/dev/null
	ctl -c "$E" override add 'registry:ring0-*' enforce -e 1h -r "rollout 2.3: ring 0" >/dev/null
	check "$SERVER: ring 0 answers 503" "503 dependency-failed" "$(req "$U/e/health" ring0-a.azurecr.io | cut -d' ' -f1,2)"
	check "$SERVER: ring 1 answers 200, in shadow" "200 dependency-failed" "$(req "$U/e/health" ring1-a.azurecr.io | cut -d' ' -f1,2)"
	check_match "$SERVER: ring 1 says what it would answer" 'X-Deephealth-Shadow: 503 fail dependency-failed' \
		"$(curl -s -D - -o /dev/null -H 'Host: ring1-a.azurecr.io' "$U/e/health" | tr -d '\r')"
	check "$SERVER: on a shadow-mode responder, ring 0 still enforces" "503 dependency-failed" "$(req "$U/s/health" ring0-a.azurecr.io | cut -d' ' -f1,2)"
	ctl -c "$E" override remove region >/dev/null
	ctl -c "$E" override remove 'registry:ring0-*' >/dev/null
	check "$SERVER: rings removed: enforcing again" "503 dependency-failed" "$(req "$U/e/health" ring1-a.azurecr.io | cut -d' ' -f1,2)"

	# Expiry with no prober at all: in force, then gone on time.
	ctl -c "$E" override add registry:fabrikam force-pass -e 3s -r "short one" >/dev/null
	check "$SERVER: force-pass keeps a failing registry here" "200 override-pass" "$(req "$U/e/health" fabrikam.azurecr.io | cut -d' ' -f1,2)"
	t=$(date +%s)
	while [ "$(req "$U/e/health" fabrikam.azurecr.io | cut -d' ' -f1)" = 200 ] && [ $(($(date +%s) - t)) -lt 10 ]; do sleep 0.2; done
	t=$(($(date +%s) - t))
	if [ "$t" -ge 2 ] && [ "$t" -le 4 ]; then ok "$SERVER: expired on time with no prober running (${t} s of 3)"
	else not_ok "$SERVER: expired on time with no prober running" "took ${t} s"; fi

	# A dependency taken out: the registries that use it go, the others stay; one forced to pass
	# brings back the registries it alone failed.
	ctl -c "$E" override add dependency:sa017 force-fail -e 1h -r "INC-5: sa017 degraded" >/dev/null
	check "$SERVER: dependency sa017 forced to fail: its registries out (store-b already, by sa1), the others not" \
		"503 override-fail|503 dependency-failed|200 healthy|200 healthy" \
		"$(answers "$U/e/health" store-a store-b store-c team1-0001 | cut -d' ' -f1,2 | paste -sd'|')"
	ctl -c "$E" override add 'dependency:sa*1' force-pass -e 1h -r "INC-6: sa1 is fine" >/dev/null
	check "$SERVER: dependency sa1 forced to pass: the registries it failed are back" \
		"200 override-pass|503 override-fail" \
		"$(answers "$U/e/health" fabrikam store-b | cut -d' ' -f1,2 | paste -sd'|')"
	check_match "$SERVER: explain names the dependency override" 'override-fail -> 503' \
		"$(ctl -c "$E" explain store-a.azurecr.io)"
	ctl -c "$E" override remove dependency:sa017 >/dev/null
	ctl -c "$E" override remove 'dependency:sa*1' >/dev/null
	check "$SERVER: dependency overrides removed: the prober's verdicts again" "503 dependency-failed|200 healthy" \
		"$(answers "$U/e/health" fabrikam store-a | cut -d' ' -f1,2 | paste -sd'|')"

	# A file damaged by hand is ignored whole, and the last good copy (deephealthctl keeps it
	# beside the file) stays in force: never "no overrides" while a good one exists.
	ctl -c "$E" override add registry:team1-0001 force-fail -e 1h -r "about to be damaged" >/dev/null
	check "$SERVER: forced out" "503 override-fail" "$(req "$U/e/health" team1-0001.azurecr.io | cut -d' ' -f1,2)"
	echo "registry:team1-0002 force-fail this line is not an override" >>"$OVR"
	check "$SERVER: damaged file: its last good copy in force, team1-0001 still out" "503 override-fail" "$(req "$U/e/health" team1-0001.azurecr.io | cut -d' ' -f1,2)"
	check "$SERVER: damaged file: team1-0002 healthy, not failed" "200 healthy" "$(req "$U/e/health" team1-0002.azurecr.io | cut -d' ' -f1,2)"
	check_match "$SERVER: damaged file: the responder says so, with file:line and the good copy" \
		"overrides:[0-9]+: .*IGNORED \\(1 bad line above\\): in force instead: its last good copy .*overrides.good \\([0-9]+ overrides?, written" \
		"$(tr '\n' ' ' <"$(server_error_log "$SERVER")")"
	check_match "$SERVER: damaged file: status says DAMAGED, and what is in force" 'overrides     .*DAMAGED \(1 bad line, above\): ignored; in force: its last good copy' "$(ctl -c "$E" status 2>/dev/null)"
	check_match "$SERVER: damaged file: the status document lists the ignored line" \
		'"state":"fallback","bad_lines":1,"fallback":\{"path":"[^"]*overrides.good".*"ignored":\[\{"line":[0-9]+,"text":"registry:team1-0002 force-fail this line is not an override","error":"' \
		"$(ctl -c "$E" --json status 2>/dev/null)"
	check_match "$SERVER: damaged file: check is WARNING, naming the line" '^DEEPHEALTH WARNING - .*overrides .* damaged \(1 bad line, first at line [0-9]+: .*its last good copy is in force' "$(ctl -c "$E" check 2>/dev/null)"
	check "$SERVER: damaged file: override add builds on what is in force" 0 "$(ctl -c "$E" override add registry:team1-0003 force-fail -e 1h -r "on top of the good copy" >/dev/null 2>&1; echo $?)"
	check "$SERVER: ... team1-0001 and team1-0003 out, team1-0002 not" "503 override-fail|200 healthy|503 override-fail" \
		"$(answers "$U/e/health" team1-0001 team1-0002 team1-0003 | cut -d' ' -f1,2 | paste -sd'|')"
	check "$SERVER: ... and the damaged file is kept aside, not lost" 1 "$(grep -c 'this line is not an override' "$OVR.damaged")"
	# Damaged with no good copy: nothing is in force (the prober's answers), and check is CRITICAL.
	rm -f "$OVR.good"
	echo "garbage" >>"$OVR"
	check "$SERVER: damaged, no good copy: team1-0001 healthy again (never a 503 from damage)" "200 healthy" "$(req "$U/e/health" team1-0001.azurecr.io | cut -d' ' -f1,2)"
	check_match "$SERVER: damaged, no good copy: the responder says so" "overrides:[0-9]+: .*IGNORED, every line \\(1 bad line above\\), and no good copy" \
		"$(tr '\n' ' ' <"$(server_error_log "$SERVER")")"
	check_match "$SERVER: damaged, no good copy: check is CRITICAL" '^DEEPHEALTH CRITICAL - .*overrides .* damaged .*and no good copy: NO override is in force' "$(ctl -c "$E" check 2>/dev/null)"
	rm -f "$OVR.good" "$OVR.damaged"
	rm -f "$OVR"
	check "$SERVER: file removed: no overrides" "503 dependency-failed" "$(req "$U/e/health" fabrikam.azurecr.io | cut -d' ' -f1,2)"
}

for SERVER in lighttpd apache; do
	PORT=$(free_port)
	if ! start_server "$SERVER" "$PORT" /e enforce /s shadow; then
		not_ok "$SERVER: started"; continue
	fi
	scenario "http://127.0.0.1:$PORT"
	stop_server "$SERVER"
done

# The event log: every add and removal, by whom and why.
check "event log: 8 adds and 5 removals per server" "16 10" \
	"$(grep -c '"event":"override","change":"add"' "$EV") $(grep -c '"event":"override","change":"remove"' "$EV")"
check_match "event log: the glob's add, with its reason" '"change":"add","scope":"registry:team1-\*","action":"force-fail","until":"[0-9T:-]+Z","by":"[a-z_]+","reason":"drain team1: INC-9"' "$(cat "$EV")"

# The prober records an expiry it finds since its last snapshot, however late it runs.
FIXDIR=$WORK
start_fix auth
cat >"$S/registries.map" <<'EOF'
fabrikam    westeurope,eastus   -   -
EOF
cat >"$S/probe.conf" <<EOF
snapshot = { path = "snapshot"; max_age = 120; };
responder = { overrides = "overrides"; counters = "$RUNDIR/counters"; };
prober = { registries = "registries.map"; region = "westeurope"; state = "probe.state";
  lock = "probe.lock"; event_log = "events.jsonl"; interval = 10; deadline = 6; };
dependencies = ( { name = "auth"; kind = "auth"; type = "http"; witness = true;
  url = "http://127.0.0.1:${FIXPORT[auth]}/health"; timeout_ms = 1500; } );
EOF
fresh
ctl -c "$S/enforce.conf" override add registry:fabrikam force-pass -e 2s -r "expires before the pass" >/dev/null
sleep 3
"${VG[@]}" "$PROBE" -c "$S/probe.conf" >"$WORK/probe.out" 2>&1
check "prober: one pass" 0 "$?"
check_match "the prober's snapshot says which dependencies are region-wide and what each registry uses" \
	'dep auth pass auth critical witness all .*reg fabrikam pass since=[0-9]+$' "$("$SNAPTOOL" dump "$SNAP" | tr '\n' ' ' | sed 's/ $//')"
check "event log: the expiry recorded by the prober" 1 "$(grep -c '"change":"expire","scope":"registry:fabrikam","action":"force-pass"' "$EV")"
check_match "prober log: the expiry" 'override registry:fabrikam force-pass expired at its time' "$(cat "$WORK/probe.out")"
"${VG[@]}" "$PROBE" -c "$S/probe.conf" >>"$WORK/probe.out" 2>&1
check "event log: an expiry is recorded once" 1 "$(grep -c '"change":"expire"' "$EV")"
finish
