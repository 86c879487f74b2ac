#!/usr/bin/env bash
# test_status_page.sh: the operator status page in a real browser while a real scenario plays
# out.  Real lighttpd runs the shipped snippet (conf/lighttpd.conf, install paths localized) and
# spawns two responders; the real prober, run once per step (fall = rise = 1), checks HTTP
# fixture servers standing in for two storage accounts and an auth witness.  After each step
# headless Chromium loads /deephealth/ and the DOM it leaves is checked against what the step
# did and what the snapshot says:
#   healthy -> sa1 failing (fabrikam, litware fail) -> an operator override on fabrikam
#   -> a blind pass (the witness refuses connections: every answer fails open).
# Also: 25 unknown Hosts answered by both responders show as 25 on the page, the server-side
# search the page uses (status.json?q=), and a credential in a check's request headers and URL
# appears in no DOM, status document or metrics document.  Screenshots in
# $BUILD/screenshots/scenario-*.png.  Loopback only; lib.sh's cleanup stops every server.
. tests/integration/lib.sh
. tests/integration/browser.sh

T0=$SECONDS
browser_require scenario

PROBE=$BUILD/deephealth-probe
CTL=$BUILD/deephealthctl
S=$WORK/state
mkdir -p "$S"
chmod 755 "$S"
SNAP=$S/snapshot
# Credentials the prober sends: a bearer token in a header and a SAS-style signature in the
# URL.  Neither may ever reach the page, the status document or the metrics document.  sa2
# fetches the fixture's echo of its request head and passes only if the token is in it.
CANARY_HDR=canary-SECRET-7f3a
CANARY_URL=canary-SIG-b91e

FIXDIR=$S
start_fix sa1
start_fix sa2
start_fix auth

cat >"$S/registries.map" <<'EOF'
# name     regions             storage  features
contoso    westeurope,eastus   sa2      -
tailspin   westeurope,eastus   sa2      -
fabrikam   westeurope,eastus   sa1      -
litware    westeurope,eastus   sa1      -
EOF
cat >"$S/dh.conf" <<EOF
snapshot = { path = "snapshot"; max_age = 120; };
responder = { kill_switch = "disable"; overrides = "overrides"; recheck_ms = 0;
  counters = "$RUNDIR/counters"; };
resolver = { rules = ( "^(?<registry>[a-z0-9-]{3,50})\\\\.azurecr\\\\.io\$" ); };
prober = { registries = "registries.map"; region = "westeurope"; state = "probe.state";
  lock = "probe.lock"; event_log = "events.jsonl"; interval = 10; deadline = 6; };
dependencies = (
  { name = "sa1"; kind = "storage"; type = "http";
    url = "http://127.0.0.1:${FIXPORT[sa1]}/blob?sv=2024-01-01&sig=$CANARY_URL";
    headers = [ "Authorization: Bearer $CANARY_HDR" ]; timeout_ms = 1500; fall = 1; rise = 1; },
  { name = "sa2"; kind = "storage"; type = "http"; url = "http://127.0.0.1:${FIXPORT[sa2]}/_fix/headers";
    headers = [ "Authorization: Bearer $CANARY_HDR" ]; body_match = "Authorization: Bearer $CANARY_HDR";
    timeout_ms = 1500; fall = 1; rise = 1; },
  { name = "auth"; kind = "auth"; type = "http"; witness = true;
    url = "http://127.0.0.1:${FIXPORT[auth]}/health"; timeout_ms = 1500; fall = 1; rise = 1; }
);
EOF

# probe: one prober pass; its exit status.  Everything it wrote is made readable to the
# responders (www-data) afterwards.
probe() {
	"$PROBE" -c "$S/dh.conf" >>"$S/probe.out" 2>&1
	local rc=$?
	chmod -R a+rX "$S"
	return $rc
}
# failing: "NAME VERDICT DEP" per registry the snapshot does not pass, sorted.
failing() {
	"$SNAPTOOL" dump "$SNAP" 2>/dev/null | awk '$1 == "reg" && $3 != "pass" {
		by = "-"; for (i = 4; i <= NF; i++) if ($i ~ /^by=/) by = substr($i, 4)
		print $2, $3, by }' | sort
}

probe
check "prober pass 1 (healthy): exit 0" 0 "$?"
check "healthy: the snapshot fails no registry" "" "$(failing)"
# sa2 passes only if its request head, as the fixture received it, carried the bearer token.
check "healthy: sa2 passes on its request's echo: the prober sends the bearer token" pass \
	"$("$SNAPTOOL" dump "$SNAP" | awk '$1 == "dep" && $2 == "sa2" { print $3 }')"

# ---- lighttpd from the shipped snippet, the page from a www-data-readable copy. -------------
WWW=$WORK/www
mkdir -p "$WWW"
cp www/admin/index.html www/admin/status.css www/admin/common.js www/admin/status.js "$WWW/"
chmod -R a+rX "$WWW"
L=$WORK/lighttpd
PORT=$(free_port)
U=http://127.0.0.1:$PORT
lighttpd_base "$L" "$PORT" "$L"
localize_conf conf/lighttpd.conf "$(fcgi_cmd_bin)" "$S/dh.conf" "$L/run/deephealth.sock" | localize_www "$WWW" >>"$L/lighttpd.conf"
# lighttpd_base knows .html only; Debian's lighttpd.conf would bring the rest.
cat >>"$L/lighttpd.conf" <<EOF
mimetype.assign += ( ".css" => "text/css; charset=utf-8", ".js" => "text/javascript; charset=utf-8" )
EOF
out=$(lighttpd -tt -f "$L/lighttpd.conf" 2>&1)
check "lighttpd -tt accepts the localized snippet" "" "$out"
lighttpd -D -f "$L/lighttpd.conf" >"$L/stdout.log" 2>&1 &
PIDS+=($!)
if ! wait_http "$U/"; then
	not_ok "lighttpd started" "$(tail -n 5 "$L/error.log" "$L/stdout.log" 2>&1 | tr '\n' ' ')"
	finish
fi
types=$(for p in "" status.css status.js status.json; do
	curl -s -o /dev/null --max-time 10 -w '%{http_code} %{content_type};' "$U/deephealth/$p"; done)
check_match "the page, its style, its script and status.json served with their types" \
	'^200 text/html;200 text/css; charset=utf-8;200 text/javascript; charset=utf-8;200 application/json' "$types"

# responders: the pids of this lighttpd's responders.
responders() { pgrep -P "$(cat "$L/lighttpd.pid" 2>/dev/null)" -f -- "-c $S/dh.conf" | sort; }
for _ in $(seq 50); do [ "$(responders | wc -l)" -ge 2 ] && break; sleep 0.1; done
check "lighttpd runs max-procs 2 responders" 2 "$(responders | wc -l)"
# wchar: "PID:BYTES" written, per responder.
wchar() {
	local p
	for p in $(responders); do echo "$p:$(awk '$1 == "wchar:" { print $2 }' "/proc/$p/io" 2>/dev/null)"; done
}

# Every document the test fetched, for the credential check at the end.
docs() { # docs STEP: status.json and metrics as curl sees them now
	curl -s --max-time 10 -o "$WORK/status-$1.json" "$U/deephealth/status.json"
	curl -s --max-time 10 -o "$WORK/metrics-$1.txt" "$U/deephealth/metrics"
}
# jq_ PY-EXPR FILE: a value of a JSON document (python3, no jq needed); J is the document.
jq_() { python3 -c 'import json, sys; J = json.load(open(sys.argv[2])); r = eval(sys.argv[1]); print(r if isinstance(r, str) else json.dumps(r))' "$1" "$2"; }

# page STEP: load /deephealth/ in Chromium (5 s of virtual time), its DOM into
# $WORK/dom-STEP.html and a screenshot into scenario-STEP.png; DOM names the dump for the
# helpers below.  One Chromium run does both (what browser_dom and browser_shot each do, with
# the same flags): Chromium's start is most of a step's time on a busy machine.  browser_shot
# takes over should that run leave no PNG.
page() {
	local t0=$SECONDS png=$SHOTS/scenario-$1.png
	DOM=$WORK/dom-$1.html
	rm -f "$png"
	browser_run --virtual-time-budget=5000 --hide-scrollbars --window-size=1280,1100 \
		--screenshot="$png" --dump-dom "$U/deephealth/" >"$DOM"
	check "$1: chromium dumped the page" 0 "$?"
	check_match "$1: the page rendered a document (not 'Loading')" '^(ok|failing-open|passthrough)$' "$(a banner data-state)"
	if [ ! -s "$png" ] || [ "$(head -c 4 "$png" | tail -c 3)" != PNG ]; then
		browser_shot "$U/deephealth/" "$png" 1280x1100 || not_ok "$1: screenshot scenario-$1.png"
	fi
	echo "# $1: Chromium took $((SECONDS - t0)) s"
	docs "$1"
}
t() { dom_text "$DOM" "$1"; }
a() { dom_attr "$DOM" "$1" "$2"; }
rows() { dom_rows "$DOM" "$1"; }
# cols TABLE N...: "NAME cell_N|cell_N..." per row of TABLE (cells counted from 1).
cols() {
	rows "$1" | awk -F'\t' -v want="${*:2}" '{
		n = split($2, c, / \| /); k = split(want, w, " "); line = ""
		for (i = 1; i <= k; i++) line = line (i > 1 ? "|" : "") c[w[i]]
		print line }'
}

# ---- Unknown Hosts: 25 at once, so that both responders answer some. ---------------------
before=$(wchar)
# One curl, every transfer at once (-Z): lighttpd hands a request to the least busy responder,
# so overlapping requests spread over both.  (Its stderr: curl's parallel progress meter.)
for i in $(seq 25); do
	[ "$i" -gt 1 ] && echo next
	printf 'url = "%s"\nheader = "Host: nobody.example"\noutput = "/dev/null"\nsilent\nmax-time = 10\nwrite-out = "%s"\n' \
		"$U/health" '%{http_code} %header{x-deephealth-reason}\n'
done >"$WORK/unknown.curl"
codes=$(curl -s -Z --parallel-max 25 -K "$WORK/unknown.curl" 2>/dev/null | sort | uniq -c | xargs)
check "25 requests for Host nobody.example: 200 unknown-host" "25 200 unknown-host" "$codes"
after=$(wchar)
served=0
for p in $after; do
	b=$(echo "$before" | awk -F: -v p="${p%%:*}" '$1 == p { print $2 }')
	[ -n "$b" ] && [ "${p#*:}" -gt "$b" ] && served=$((served + 1))
done
check "both responders answered some of them (bytes written: $(xargs <<<"$before") -> $(xargs <<<"$after"))" 2 "$served"

# ---- 1. healthy ----------------------------------------------------------------------------
page healthy
check "healthy: banner" "ok|Enforcing: 0 registries failing over 4 of 4 pass." "$(a banner data-state)|$(t banner)"
check "healthy: no registry rows" "" "$(rows registries)"
check "healthy: registries counter" "showing 0 of 0" "$(t registries-shown)"
check "healthy: no dependency rows" "" "$(rows dependencies)"
check "healthy: mode card" "enforce|ok" "$(t mode)|$(a card-mode data-level)"
check "healthy: kill switch absent" "absent" "$(t kill-switch)"
check "healthy: the header names the region" "westeurope" "$(t region)"
check "healthy: unknown hosts from both responders" "25 unknown · 0 invalid · 0 error" "$(t unknown-hosts)"
check_match "healthy: counted over all responders" ', all responders on this node$' "$(t hosts-detail)"
check "healthy: status.json agrees (hosts.unknown, counters.shared)" "25 true" \
	"$(jq_ 'J["hosts"]["unknown"]' "$WORK/status-healthy.json") $(jq_ 'J["counters"]["shared"]' "$WORK/status-healthy.json")"

# ---- 2. sa1 answers 500: fabrikam and litware fail over -------------------------------------
mode sa1 500
probe
check "prober pass 2 (sa1 500): exit 0" 0 "$?"
want=$(failing)
check "storage-failing: the snapshot fails fabrikam and litware, by sa1" "fabrikam fail sa1
litware fail sa1" "$want"
page storage-failing
check "storage-failing: banner" "ok|Enforcing: 2 registries failing over 2 of 4 pass." "$(a banner data-state)|$(t banner)"
check "storage-failing: registry rows = the snapshot's (name, verdict, decided by)" "$want" \
	"$(cols registries 1 2 3 | tr '|' ' ' | sort)"
check "storage-failing: registry counts" "2 pass · 0 warn · 2 fail · 0 single-region|fail" \
	"$(t registry-counts)|$(a card-registries data-level)"
check "storage-failing: registries counter" "showing 2 of 2" "$(t registries-shown)"
check "storage-failing: dependencies: sa1, fail, storage, 2 failed" "sa1|fail|storage|2 / 0" "$(cols dependencies 1 2 3 5)"
check_match "storage-failing: sa1's cause is its HTTP status" '^HTTP 500' "$(cols dependencies 7)"
check "storage-failing: dependencies counter" "1 of 3 not passing" "$(t dependencies-shown)"
check_match "storage-failing: the sa1 pass -> fail event" '^sa1	[^|]* \| transition \| sa1 \| pass → fail \| .*HTTP 500' \
	"$(rows transitions | grep -m1 '^sa1	')"
check "storage-failing: the newest event is sa1's" "sa1" "$(rows transitions | head -n 1 | cut -f1)"
check "storage-failing: no warning" "" "$(dom_each "$DOM" warnings data-warning)"

# ---- 3. an operator override on fabrikam ----------------------------------------------------
REASON="INC-7: keep fabrikam here"
"$CTL" -c "$S/dh.conf" override add registry:fabrikam force-pass -e 1h -r "$REASON" >>"$S/ctl.out" 2>&1
check "override add: exit 0" 0 "$?"
chmod -R a+rX "$S"
# Who deephealthctl records: the sudo user behind root, else $USER, else the login name.
by=${SUDO_USER:-}
[ -n "$by" ] || by=${USER:-}
[ -n "$by" ] || by=$(id -un)
page override
check_match "override: fabrikam itself answers 200 by the override" '^200 override' \
	"$(curl -s -o /dev/null --max-time 10 -H 'Host: fabrikam.azurecr.io' -w '%{http_code} %header{x-deephealth-reason}' "$U/health")"
check_match "override: the overrides table (scope, action, expiry, set by, set in, reason)" \
	"^registry:fabrikam	registry:fabrikam \| force-pass \| in (59 min|1 h) \| $by \| this node \| $REASON\$" "$(rows overrides)"
check "override: counter" "1 in force" "$(t overrides-shown)"
check_match "override: the warning" '^overrides	1 operator override in force' "$(dom_each "$DOM" warnings data-warning)"
check_match "override: the override event, newest first" \
	"^registry:fabrikam	[^|]* \| override \| registry:fabrikam \| add \| force-pass by $by: $REASON\$" \
	"$(rows transitions | head -n 1)"
check "override: status.json marks fabrikam's item force-pass" "force-pass" \
	"$(jq_ '[i.get("override") for i in J["not_passing"]["items"] if i["name"] == "fabrikam"][0]' "$WORK/status-override.json")"
check_match "override: fabrikam's row shows it" "^fabrikam	.*override: force-pass" "$(rows registries | grep '^fabrikam	')"
check "override: litware's row shows none" "" "$(rows registries | grep '^litware	' | grep override)"
check "override: status.json counts what probes get: only litware fails over" 1 \
	"$(jq_ 'J["answers"]["failing_over"]' "$WORK/status-override.json")"
check_match "override: the banner says 1 failing over, and why not 2" \
	'^Enforcing: 1 registry failing over .*2 registries fail by the snapshot, overrides decide the rest' "$(t banner)"

# ---- 4. a blind pass: the witness refuses connections ---------------------------------------
mode auth refuse
probe
check "prober pass 4 (witness refused): blind, exit 7" 7 "$?"
page blind
check "blind: banner state" "failing-open" "$(a banner data-state)"
check_match "blind: the banner names prober-blind" '^FAILING OPEN: every registry answers 200 \(prober-blind\)' "$(t banner)"
check_match "blind: the snapshot card says BLIND" ', BLIND$' "$(t snapshot-detail)"
check "blind: the snapshot card is red" "fail" "$(a card-snapshot data-level)"
check_match "blind: the blind warning" '^blind	Snapshot is BLIND' "$(dom_each "$DOM" warnings data-warning)"
check_match "blind: the blind stretch's start, newest first" '^region	[^|]* \| blind \| region \| start \| the witness check failed$' \
	"$(rows transitions | head -n 1)"
check "blind: a failing registry answers 200 prober-blind" "200 prober-blind" \
	"$(curl -s -o /dev/null --max-time 10 -H 'Host: litware.azurecr.io' -w '%{http_code} %header{x-deephealth-reason}' "$U/health")"

# ---- 5. search: the server-side filter the page's search box sends --------------------------
for q in fab FAB; do
	curl -s --max-time 10 -o "$WORK/status-q-$q.json" "$U/deephealth/status.json?q=$q&limit=200"
	check "search q=$q: only fabrikam listed, matched 1" '["fabrikam"] 1 "'$q'"' \
		"$(jq_ '[i["name"] for i in J["not_passing"]["items"]]' "$WORK/status-q-$q.json") $(jq_ 'J["not_passing"]["matched"]' "$WORK/status-q-$q.json") $(jq_ 'json.dumps(J["not_passing"]["query"])' "$WORK/status-q-$q.json")"
done
curl -s --max-time 10 -o "$WORK/status-q-none.json" "$U/deephealth/status.json?q=nomatch&limit=200"
check "search q=nomatch: nothing listed, matched 0" "[] 0" \
	"$(jq_ 'J["not_passing"]["items"]' "$WORK/status-q-none.json") $(jq_ 'J["not_passing"]["matched"]' "$WORK/status-q-none.json")"

# ---- Credentials: sent to the dependency, shown nowhere --------------------------------------
# (The bearer token reached sa2: checked after pass 1.  So their absence below means something.)
check "the URL's signature reached sa1" 1 "$(grep -c -m1 "$CANARY_URL" "$S/sa1.log")"
looked=("$WORK"/dom-*.html "$WORK"/status-*.json "$WORK"/metrics-*.txt)
seen=$(grep -l -e "$CANARY_HDR" -e "$CANARY_URL" "${looked[@]}" 2>/dev/null | xargs)
check "no credential in any dumped DOM, status.json or metrics document (${#looked[@]} files)" "" "$seen"
check "every metrics document fetched was non-empty" "0" "$(find "$WORK" -maxdepth 1 -name 'metrics-*.txt' -empty | wc -l)"

shots=$(cd "$SHOTS" && echo scenario-*.png)
check "screenshots" "scenario-blind.png scenario-healthy.png scenario-override.png scenario-storage-failing.png" "$shots"
el=$((SECONDS - T0))
if [ "$el" -lt 90 ]; then ok "the whole test took ${el} s (< 90)"; else not_ok "the whole test under 90 s" "${el} s"; fi
finish
