#!/usr/bin/env bash
# test_where.sh: deephealthctl where and history --regions against three regions of real
# lighttpd front doors running the shipped snippet (regions_lib.sh: westeurope, eastus2, and
# centralus where nothing listens): each door's answer to the load balancer's request, why from
# each admin side, the routing that follows, an unreachable region never shown as healthy;
# --all; --json; every region's events merged; the regions document and its CORS.
. tests/integration/lib.sh

CTL=$BUILD/deephealthctl
. tests/integration/regions_lib.sh
regions_setup
region westeurope 127.0.0.2 "created now
interval 10
dep sa1 fail storage critical since=now-300 cause=HTTP 503 on blob
dep sa2 pass storage critical
reg contoso fail by=sa1 since=now-290 uses=sa1
reg fabrikam pass uses=sa2
reg litware fail by=sa1 since=now-290 uses=sa1
reg northwind fail single by=sa1 since=now-290 uses=sa1"
region eastus2 127.0.0.3 "created now
interval 10
dep sa1 pass storage critical
dep sa2 pass storage critical
reg contoso pass uses=sa1
reg fabrikam pass uses=sa2
reg litware pass uses=sa1
reg northwind pass single uses=sa1"
# The tool's own configuration: the registry map (the operator's copy).
printf 'snapshot = { path = "%s/none"; };\nprober = { registries = "%s"; };\n' "$S" "$S/registries.map" >"$S/ctl.conf"
where() { "${VG[@]}" "$CTL" -c "$S/ctl.conf" "$@" 2>&1; }

out=$(where where -r "$S/regions.conf" contoso.azurecr.test)
check "where: exit 0" 0 $?
check_match "the name, its registry, its regions in the map's order" \
	'^contoso.azurecr.test: registry contoso \(registry map line 1\), served by westeurope, eastus2' "$out"
check_match "westeurope fails it: its door's answer as a load balancer gets it" \
	'westeurope: FAILING \(0 of 1 front door answer 200\).*127.0.0.2 +503 fail dependency-failed' "$(echo "$out" | paste -sd' ')"
check_match "why, from westeurope's admin side: verdict, since, dependency, cause, the answer, who decided" \
	"why: fail since [0-9T:-]+Z \((4m [0-9]+s|5m [0-9]+s)\): sa1: HTTP 503 on blob; answer 503 dependency-failed; decided by the prober on $(hostname)" "$out"
check_match "eastus2 serves it" 'eastus2: SERVING \(1 of 1 front door answer 200\)' "$out"
check_match "priority routing: eastus2" 'priority \(the first serving region, in the map.s order\): eastus2' "$out"
check_match "performance routing: clients nearest westeurope go to eastus2" \
	'performance \(clients nearest each region\): westeurope -> eastus2; eastus2 -> eastus2' "$out"

out=$(where where -r "$S/regions.conf" litware)
check_match "a bare registry name is asked as NAME.zone" '^litware.azurecr.test: registry litware' "$out"
check_match "centralus, where nothing listens: unreachable, counted as failing, never healthy" \
	'centralus: UNREACHABLE \(counted as failing\) \(0 of 1 front door answer 200\)' "$out"
check_match "centralus: its admin side unreachable, said" 'why: admin side unreachable \(connection refused or unreachable\)' "$out"
check_match "performance: clients nearest centralus go to the first serving region" 'centralus -> eastus2' "$out"

out=$(where --json where -r "$S/regions.conf" litware)
check "--json: one document; states, the routing" "litware serving/failing/unreachable eastus2 False" \
	"$(echo "$out" | python3 -c '
import json, sys
d = json.load(sys.stdin)
st = {r["name"]: r["state"] for r in d["regions"]}
print(d["registry"], "/".join((st["eastus2"], st["westeurope"], st["centralus"])), d["routing"]["priority"], d["routing"]["all_failing"])')"
check "--json: why, from the admin side (the status document's registry)" "sa1 HTTP 503 on blob 503" \
	"$(echo "$out" | python3 -c '
import json, sys
d = json.load(sys.stdin)
r = [r for r in d["regions"] if r["name"] == "westeurope"][0]["admin"]["registry"]
print(r["decided_by"], r["cause"], r["answer"]["http"])')"

# history --regions: every region's events of one registry, merged oldest first.
ev() { printf '{"time":"%s","region":"%s","prober":"p1","event":"verdict","registry":"%s","from":"%s","to":"%s","dependency":"sa1","cause":"%s"}\n' "$@"; }
{
	ev 2026-12-07T10:00:05Z westeurope contoso pass fail "HTTP 503"
	ev 2026-12-07T10:00:06Z westeurope litware pass fail "HTTP 503"
	ev 2026-12-07T10:20:00Z westeurope contoso fail pass "HTTP 200"
} >"$S/westeurope/events.log"
{
	printf '{"time":"2026-12-07T10:10:00Z","region":"eastus2","event":"blind","state":"start","cause":"the witness check failed"}\n'
	ev 2026-12-07T10:15:00Z eastus2 contoso pass fail "connect: refused"
} >"$S/eastus2/events.log"
chmod 644 "$S"/*/events.log
out=$(where history -r "$S/regions.conf" registry:contoso --regions)
check "history --regions: exit 0" 0 $?
check "history --regions: contoso's events of both regions, merged by time; litware's left out" \
	"2026-12-07T10:00:05Z westeurope pass -> fail|2026-12-07T10:10:00Z eastus2 region blind start:|2026-12-07T10:15:00Z eastus2 pass -> fail|2026-12-07T10:20:00Z westeurope fail -> pass" \
	"$(echo "$out" | grep '^2026' | awk '{ print $1, $2, $3, $4, $5 }' | paste -sd'|')"
check_match "history --regions: each region's clock against this host's" 'westeurope +clock [+-][0-9]+ s against' "$out"
check_match "history --regions: an unreachable region is said, its events missing" \
	'centralus +not asked: connection refused or unreachable: its events are missing below' "$out"
check "history --regions -s: only from then" 2 \
	"$(where history -r "$S/regions.conf" -s 2026-12-07T10:12:00Z registry:contoso --regions | grep -c '^2026')"
check "history --regions --json: the events with their regions" "westeurope eastus2 eastus2 westeurope" \
	"$(where --json history -r "$S/regions.conf" registry:contoso --regions | python3 -c '
import json, sys; print(" ".join(e["region"] for e in json.load(sys.stdin)["events"]))')"
check "history --regions without registry:NAME: usage error" 2 \
	"$(where history --regions sa1 >/dev/null; echo $?)"

# The regions document (responder.regions) and who may read the JSON documents from a page of
# another origin (CORS): the regions' admin origins only.
rj() { curl -s --max-time 5 "$@"; }
check "regions.json: the description, this region marked" "ok westeurope:True eastus2:False centralus:False" \
	"$(rj "http://127.0.0.2:$PORT/deephealth/regions.json" | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(d["file"]["state"], " ".join("%s:%s" % (r["name"], r["self"]) for r in d["description"]["regions"]))')"
acao() { curl -s -o /dev/null -D - --max-time 5 -H "Origin: $1" "$2" | tr -d '\r' | sed -n 's/^access-control-allow-origin: //Ip'; }
check "CORS: eastus2's page may read westeurope's status.json" "http://127.0.0.3:$PORT" \
	"$(acao "http://127.0.0.3:$PORT" "http://127.0.0.2:$PORT/deephealth/status.json")"
check "CORS: and its events.json" "http://127.0.0.3:$PORT" \
	"$(acao "http://127.0.0.3:$PORT" "http://127.0.0.2:$PORT/deephealth/events.json")"
check "CORS: an origin that is no region's admin: nothing" "" \
	"$(acao "http://evil.example" "http://127.0.0.2:$PORT/deephealth/status.json")"
check "CORS: an origin with a path trick: nothing" "" \
	"$(acao "http://127.0.0.3:$PORT.evil.example" "http://127.0.0.2:$PORT/deephealth/status.json")"
check "CORS: never on the metrics" "" "$(acao "http://127.0.0.3:$PORT" "http://127.0.0.2:$PORT/deephealth/metrics")"
check "CORS: never on /health" "" "$(acao "http://127.0.0.3:$PORT" "http://127.0.0.2:$PORT/health")"
check_match "the JSON documents vary by Origin" 'Vary: Origin' \
	"$(curl -s -o /dev/null -D - --max-time 5 "http://127.0.0.2:$PORT/deephealth/status.json" | tr -d '\r')"

printf 'regions = ( { name = "x y"; addresses = [ "127.0.0.9" ]; } );\n' >"$S/bad.regions"
sed "s|$S/regions.conf|$S/bad.regions|" "$S/westeurope/dh.conf" >"$S/bad.conf"
out=$("$BUILD/deephealth.fcgi" -t -c "$S/bad.conf" 2>&1)
check "deephealth.fcgi -t: a bad responder.regions fails the check" 1 $?
check_match "... naming file:line" "bad.regions:1: regions\\[0\\].name" "$out"

# Every region failing: the load balancers' fallback is said.
printf 'created now\ninterval 10\ndep sa1 fail storage critical since=now-60 cause=down\nreg contoso fail by=sa1 since=now-60 uses=sa1\n' |
	snap "$S/eastus2/snapshot"
sleep 1.2 # responder.recheck_ms
out=$(where where -r "$S/regions.conf" contoso.azurecr.test)
check_match "every region fails it: the load balancers serve every region" 'every region fails it: load balancers serve every region' "$out"

# --all: the registries some region fails over, from each admin side; single-region ones are not.
# fabrikam passes everywhere, but an operator drains it from westeurope: a forced fail counts.
printf 'registry:fabrikam force-fail until=%s set=%s by=alice reason="drain"\n' \
	"$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$S/westeurope/overrides"
chmod 644 "$S/westeurope/overrides"
sleep 1.2 # responder.recheck_ms
out=$(where where -r "$S/regions.conf" --all)
check "--all: contoso, fabrikam (forced out) and litware (northwind is single-region)" \
	"contoso.azurecr.test fabrikam.azurecr.test litware.azurecr.test" \
	"$(echo "$out" | sed -n 's/^\([a-z0-9.]*\): registry .*/\1/p' | xargs)"
check_match "--all: the unreachable admin side is said, on stderr" 'centralus: admin side unreachable .*: the registries it fails over are not listed' "$out"

# Not in the map: every region asked; usage errors.
out=$(where where -r "$S/regions.conf" unknown.example)
check_match "a name not in the map: said; every region asked" 'unknown.example: not in the registry map: every region asked' "$out"
check_match "the doors answer it as any unknown Host: 200" '127.0.0.2 +200 warn unknown-host' "$out"
out=$(where where -r "$S/regions.conf")
check "no HOST: usage error, exit 2" "2" "$(where where -r "$S/regions.conf" >/dev/null; echo $?)"
check_match "no HOST: said" 'where: a HOST \(or --all\) is required' "$out"
check "HOST and --all: usage error" "2" "$(where where --all x >/dev/null; echo $?)"
check "a regions file with an error: exit 1" "1" "$(where where -r /nonexistent x.example >/dev/null; echo $?)"
[ -n "${HOLD:-}" ] && sleep "$HOLD"
finish
