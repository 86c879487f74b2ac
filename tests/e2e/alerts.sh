#!/usr/bin/env bash
# alerts.sh: the shipped alerting rules (conf/deephealth-alerts.yml) end to end, issue 22
# point 4, and the operator's runbook (docs/operations.md, point 5) run on the same incident.  Two regions on 127.0.0.1 as in run.sh (tests/e2e/lib.sh: a prober loop each, HTTP
# fixture servers and redis as dependencies): westeurope (A) with two front doors, eastus2 (B)
# with one, each a real lighttpd with the shipped snippet spawning deephealth.fcgi.  A real
# Prometheus scrapes the three doors' /deephealth/metrics and each prober's textfile through
# its own node_exporter, every target labelled with its region, and evaluates the rules every
# second; a real Alertmanager (Debian's prometheus-alertmanager, alone: no cluster) delivers
# to a webhook fixture (tests/fixtures/webhook.py) that records every notification.
#
# The rules run as shipped except for their timing, rendered into the work directory: every
# `for:` becomes $FOR and the prober-silence bound $SILENCE s (the shipped minutes would make
# a run of half an hour).  What is asserted: storage account sa1 fails in A: exactly one
# firing notification, for westeurope, naming sa1 (storage) and the 2 registries it takes
# out, though both doors report them; it heals: exactly one resolved.  A's prober stops: the
# doors fail open (snapshot-stale) and the prober is silent: one firing notification each,
# naming the reason; it starts again: one resolved each.  Nothing else is ever notified
# (nothing for eastus2).  Every wait is bounded; every process is stopped at the end.
#
# The runbook: once the storage alert has come, the operator's commands (deephealthctl where,
# status, explain, an override that lets the failover back, history across the regions) run
# as docs/operations.md shows them, against the doors on their own addresses (westeurope
# 127.0.0.2 and 127.0.0.4, eastus2 127.0.0.3, one port) described in a regions description;
# each command and its output go to $BUILD/runbook.txt, and every command the page shows must
# be one this run ran.
#
#   bash tests/e2e/alerts.sh        (about 2 minutes)    KEEP_WORK=1: keep the scratch directory
# Needs what run.sh needs, and prometheus, prometheus-alertmanager, prometheus-node-exporter.
# Prints a last line "N passed, N failed"; exits non-zero when any check failed.

cd "$(dirname "$0")/../.." || exit 2
PROBER_METRICS=1                                    # each prober writes REGION/textfile/prober.prom
EXTRA_REGISTRIES="litware   westeurope,eastus2   sa1   -"  # sa1 decides contoso and litware
. tests/e2e/lib.sh
. tests/integration/prom.sh

# ---- settings ----
FOR=3s          # every for: of the rules, for this run
SILENCE=4       # the prober-silence bound (s), for this run (the prober publishes every second)
WAIT_NOTE=45    # seconds: a change to its notification, at most
QUIET=6         # seconds watched for a notification that must not come (3 group_intervals)
LIMIT=300       # seconds: the whole run, at most
RULES=conf/deephealth-alerts.yml
HOOK=$WORK/notifications.jsonl   # the webhook's record: one JSON line per notification
DOOR_PATH=/deephealth/metrics

for c in prometheus promtool prometheus-alertmanager amtool prometheus-node-exporter python3; do
	command -v "$c" >/dev/null || { not_ok "$c installed"; finish; }
done
fatal() { not_ok "$1"; KEEP_WORK=1; echo "# logs kept in $WORK"; finish; }

# ---- the notifications, as the webhook recorded them ----
# notes: one line per notified alert: "STATUS ALERTNAME REGION CAUSE|SUMMARY|DESCRIPTION", CAUSE
# the dependency, reason or instance label (whichever it has); a POST carrying other than one
# alert prints "BAD n alerts".
notes() {
	[ -s "$HOOK" ] || return 0
	python3 - "$HOOK" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    b = json.loads(line).get("body", {})
    alerts = b.get("alerts", [])
    if len(alerts) != 1:
        print("BAD %d alerts" % len(alerts))
    for a in alerts:
        l, n = a["labels"], a.get("annotations", {})
        cause = l.get("dependency") or l.get("reason") or l.get("instance") or "-"
        print("%s %s %s %s|%s|%s" % (a["status"], l.get("alertname"), l.get("region"), cause,
                                     n.get("summary", ""), n.get("description", "")))
PY
}
# count_notes PATTERN: notified alerts whose line matches the extended regex PATTERN.
count_notes() { notes | grep -cE "$1"; }
# wait_note PATTERN: until a notified alert matches PATTERN (at most WAIT_NOTE s); prints the
# seconds it took.  Non-zero on timeout.
wait_note() {
	local t0=$SECONDS
	while [ $((SECONDS - t0)) -lt "$WAIT_NOTE" ]; do
		[ "$(count_notes "$1")" -gt 0 ] && { echo $((SECONDS - t0)); return 0; }
		sleep 0.25
	done
	return 1
}
# expect_note DESC PATTERN: wait for it; ok with the time, or not_ok with what came instead.
expect_note() {
	local s
	if s=$(wait_note "$2"); then ok "$1 (${s} s)"
	else not_ok "$1" "none in $WAIT_NOTE s; notified: $(notes | cut -d'|' -f1 | paste -sd';')"; fi
}

# ---- two regions, a second door for A, each door on its own address and one port ----
DOOR_PORT=$(free_port)
DOOR_ADDR[A]=127.0.0.2
DOOR_ADDR[B]=127.0.0.3
setup_region A lighttpd || fatal "region A set up"
setup_region B lighttpd || fatal "region B set up"
start_web lighttpd "$WORK/A/web2" "$DOOR_PORT" "$WORK/A/dh.conf" 127.0.0.4 || fatal "region A's second door"
URL2=http://127.0.0.4:$DOOR_PORT
REGIONS=$WORK/regions.conf
cat >"$REGIONS" <<EOF
service = { zone = "azurecr.io"; port = $DOOR_PORT; path = "/health"; };
load_balancer = { interval = 3; timeout = 2; fall = 2; rise = 1; };
regions = (
  { name = "westeurope"; addresses = [ "127.0.0.2", "127.0.0.4" ]; admin = "${URL[A]}"; },
  { name = "eastus2"; addresses = [ "127.0.0.3" ]; admin = "${URL[B]}"; }
);
EOF
for u in "${URL[A]}" "$URL2" "${URL[B]}"; do
	check "$u$DOOR_PATH answers 200" 200 "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$u$DOOR_PATH")"
done

# ---- the webhook, Alertmanager, a node_exporter per prober, Prometheus ----
python3 tests/fixtures/webhook.py "$HOOK" "$WORK/hook.port" "$LIMIT" &
PIDS+=($!)
for _ in $(seq 100); do [ -s "$WORK/hook.port" ] && break; sleep 0.05; done
[ -s "$WORK/hook.port" ] || fatal "the webhook fixture listens"
alertmanager_start "$WORK/am" "$(free_port)" "http://127.0.0.1:$(cat "$WORK/hook.port")/" ||
	fatal "Alertmanager started"
node_exporter_start "$(free_port)" "$WORK/A/textfile" || fatal "node_exporter for A's prober"
NE_A=${NODE_EXPORTER_URL#http://}
node_exporter_start "$(free_port)" "$WORK/B/textfile" || fatal "node_exporter for B's prober"
NE_B=${NODE_EXPORTER_URL#http://}
mkdir -p "$WORK/prom"
sed -E -e "s/^( +for: ).*/\1$FOR/" \
	-e "s/> 60( +# tunable: prober silence)/> $SILENCE\1/" "$RULES" >"$WORK/prom/rules.yml"
check "the rules rendered for this run: every for: $FOR, the prober-silence bound $SILENCE s" \
	"$(grep -c '^ *for: ' "$RULES") 1" \
	"$(grep -c "^ *for: $FOR\$" "$WORK/prom/rules.yml") $(grep -c "> $SILENCE  # tunable: prober silence" "$WORK/prom/rules.yml")"
check_match "promtool check rules: the rendered rules" 'SUCCESS' "$(promtool check rules "$WORK/prom/rules.yml" 2>&1)"
PROM_RULE_FILES=$WORK/prom/rules.yml
PROM_ALERTMANAGER=${AM_URL#http://}
prom_start "$WORK/prom" "$(free_port)" \
	"${URL[A]#http://}$DOOR_PATH|region=westeurope" "${URL2#http://}$DOOR_PATH|region=westeurope" \
	"${URL[B]#http://}$DOOR_PATH|region=eastus2" \
	"$NE_A/metrics|region=westeurope" "$NE_B/metrics|region=eastus2" || fatal "Prometheus started"
prom_wait_up 5 || fatal "Prometheus scrapes the 3 doors and the 2 node_exporters"
ok "Prometheus scrapes the 3 doors and the 2 probers' node_exporters, each with its region"
v=$(prom_wait_value 'count(count by (instance) (deephealth_responder_region_state{reason="per-registry"} == 1))' 3 20)
check "the 3 doors enforce per registry" 3 "$v"
v=$(prom_wait_value 'count(time() - deephealth_prober_last_publish_timestamp_seconds < 3)' 2 20)
check "both probers publish (seen through node_exporter)" 2 "$v"
check "Prometheus sends its alerts to the Alertmanager" "$AM_URL/api/v2/alerts" \
	"$(curl -s --max-time 5 "$PROM_URL/api/v1/alertmanagers" |
		python3 -c 'import json, sys; print(*(a["url"] for a in json.load(sys.stdin)["data"]["activeAlertmanagers"]))')"

# ---- 0. quiet: nothing fires in two healthy regions ----
sleep "$QUIET"
check "healthy: no alert pending or firing" 0 "$(prom_query 'count(ALERTS) or vector(0)')"
check "healthy: no notification" "" "$(notes)"

# ---- 1. sa1 fails in westeurope: one firing notification for the region ----
fix_mode A sa1 500
FO='^firing DeephealthRegistriesFailingOver westeurope sa1\|'
expect_note "sa1 fails in westeurope: a firing notification" "$FO"
v=$(prom_wait_value 'count(deephealth_responder_registries_failing_over_by_dependency{region="westeurope",dependency="sa1"} == 2)' 2 10)
check "both westeurope doors report the 2 registries sa1 takes out" 2 "$v"
sleep "$QUIET"
check "exactly one firing notification for it, though two doors report it" 1 "$(count_notes "$FO")"
line=$(notes | grep -E "$FO" | head -n 1)
check_match "its summary: the region, the dependency and its kind, the count" \
	'\|westeurope: storage dependency sa1 fails; registries failing over: 2\|' "$line"
check_match "its description: the cause and the count" '\|The front doors of westeurope answer 503 for 2 registries because sa1 \(storage\) fails' "$line"
check "its labels: severity warning, kind storage" "warning storage" \
	"$(python3 -c 'import json,sys
for l in open(sys.argv[1]):
    for a in json.loads(l)["body"]["alerts"]:
        if a["labels"]["alertname"] == "DeephealthRegistriesFailingOver":
            print(a["labels"]["severity"], a["labels"]["kind"]); sys.exit()' "$HOOK")"
check "nothing else notified (nothing for eastus2)" "" "$(notes | grep -vE "$FO")"

# ---- the runbook: from the alert to where, status, explain, an override, history ----
. tests/e2e/runbook.sh
rb_alert "$FO"
rb "where is contoso served, and why" where -r "$REGIONS" contoso.azurecr.io
check_match "where: westeurope fails contoso (both its doors), eastus2 serves it" \
	'westeurope: FAILING \(0 of 2 front doors answer 200\).*eastus2: SERVING' "$(rb_last | paste -sd' ')"
check_match "where: why, from westeurope's admin side: sa1 and its cause" 'why: fail since .*: sa1: HTTP 500' "$(rb_last)"
check_match "where: the routing that follows" 'priority \(the first serving region, in the map.s order\): eastus2' "$(rb_last)"
rb "every registry some region fails over" where -r "$REGIONS" --all
check "where --all: contoso and litware (northwind is single-region)" "contoso.azurecr.io litware.azurecr.io" \
	"$(rb_last | sed -n 's/^\([a-z0-9.]*\): registry .*/\1/p' | xargs)"
rb "the region's own view, on one of its front doors" status
rb "what exactly a probe for contoso gets here, and why" explain contoso.azurecr.io
check_match "explain: 503, dependency-failed, sa1" '503' "$(rb_last)"
rb "sa1's history in this region" history sa1
rb_note "The storage team says sa1's check is wrong (the account serves): let contoso and litware back with an override, for long enough to fix the check."
rb "let sa1's registries back" override add dependency:sa1 force-pass -e 4h -r "INC-4711: sa1 check false positive"
RES='^resolved DeephealthRegistriesFailingOver westeurope sa1\|'
expect_note "the override lets them back: the alert resolves" "$RES"
rb "where now" where -r "$REGIONS" contoso.azurecr.io
check_match "where after the override: westeurope serves contoso again" 'westeurope: SERVING \(2 of 2' "$(rb_last)"
check_match "where after the override: why names the override" 'override force-pass by ' "$(rb_last)"
rb_note "The check is fixed (here: sa1 answers again); once the prober sees sa1 pass, the override is no longer needed."
fix_mode A sa1 200
for _ in $(seq 100); do
	[ "$("$SNAPTOOL" dump "$WORK/A/snapshot" | awk '$1 == "dep" && $2 == "sa1" { print $3 }')" = pass ] && break
	sleep 0.2
done
check "the prober sees sa1 pass again (the snapshot)" pass \
	"$("$SNAPTOOL" dump "$WORK/A/snapshot" | awk '$1 == "dep" && $2 == "sa1" { print $3 }')"
rb "the override comes off" override remove dependency:sa1
rb "contoso's routing changes, every region, one timeline" history -r "$REGIONS" --regions registry:contoso
check_match "history --regions: contoso left westeurope (sa1) and came back" \
	'westeurope +pass -> fail \(leaves the region\) +sa1: HTTP 500' "$(rb_last)"
sleep "$QUIET"
check "exactly one resolved and one firing for it in all" "1 1" "$(count_notes "$RES") $(count_notes "$FO")"
check "nothing else notified" "" "$(notes | grep -vE "$FO|$RES")"

# ---- 3. A's prober stops: the doors fail open (snapshot-stale), the prober is silent ----
stop_prober A
OPEN='^firing DeephealthFailOpen westeurope snapshot-stale\|'
SILENT='^firing DeephealthProberNotPublishing westeurope '
expect_note "A's prober stopped: a firing notification for the fail-open, naming its reason" "$OPEN"
expect_note "... and one for the silent prober" "$SILENT"
sleep "$QUIET"
check "exactly one of each" "1 1" "$(count_notes "$OPEN") $(count_notes "$SILENT")"
line=$(notes | grep -E "$OPEN" | head -n 1)
check_match "the fail-open's summary: the region, the reason, both doors" \
	'\|westeurope: failing open \(snapshot-stale\); front doors: 2\|' "$line"
check_match "its description: what every probe gets" '\|2 front doors of westeurope answer every probe 200 snapshot-stale' "$line"
check_match "the silent prober's summary: its region and machine" \
	"\\|westeurope: the prober on $NE_A has not published for " "$(notes | grep -E "$SILENT" | head -n 1)"
rb_alert "$OPEN"
RB_RC=3 rb "the region's view: every answer is 200, and why" status
check_match "status: fail-open, snapshot-stale" 'snapshot-stale' "$(rb_last)"
RB_RC=2 rb "the monitoring plugin's verdict" check
check_match "check: CRITICAL" '^DEEPHEALTH CRITICAL' "$(rb_last)"

# ---- 4. it starts again: both resolved ----
start_prober A
expect_note "A's prober back: the fail-open resolved" '^resolved DeephealthFailOpen westeurope snapshot-stale\|'
expect_note "... and the silent prober's alert" '^resolved DeephealthProberNotPublishing westeurope '
sleep "$QUIET"
want="firing DeephealthFailOpen westeurope snapshot-stale
firing DeephealthProberNotPublishing westeurope $NE_A
firing DeephealthRegistriesFailingOver westeurope sa1
resolved DeephealthFailOpen westeurope snapshot-stale
resolved DeephealthProberNotPublishing westeurope $NE_A
resolved DeephealthRegistriesFailingOver westeurope sa1"
check "the run's notifications: these six, each once, and nothing else" "$(echo "$want" | paste -sd';')" \
	"$(notes | cut -d'|' -f1 | sort | paste -sd';')"

rb_check_doc docs/operations.md

# ---- the end: everything stopped, in bounds ----
e2e_stop_all
check "every process of the run stopped" "" "$(leftovers)"
el=$((SECONDS))
if [ "$el" -le "$LIMIT" ]; then ok "the run took $el s (at most $LIMIT)"; else not_ok "the run within $LIMIT s" "$el s"; fi
[ "$T_FAIL" -gt 0 ] && { KEEP_WORK=1; echo "# failures: logs kept in $WORK (notifications.jsonl, am/, prom/, A/, B/)"; }
finish
