#!/usr/bin/env bash
# test_global_page.sh: the global page (www/admin/global.html) in headless Chromium over three
# regions of real lighttpd front doors (regions_lib.sh): westeurope (127.0.0.2, which serves the
# page) and eastus2 (127.0.0.3) with snapshots that fail registries over and event logs of
# verdict changes, centralus (127.0.0.4) where nothing listens.  The page reads regions.json
# here, then each region's status.json and events.json (CORS for the others).  Checked on the
# DOM Chromium leaves: every region shown, centralus unknown with its reason; the registries
# served away from a region, since when, why and where else; the single-region and force-pass
# ones apart; every region's routing changes merged newest first, blind stretches and
# overrides marked; hostile causes, reasons and names staying text.  Then eastus2 restarted with
# a description that does not list this page's origin: its responders refuse the page (CORS),
# and it is shown unknown with that reason, never healthy, never counted as serving.  Last,
# westeurope's kill switch: pass-through there, so nothing is failed over by a known region.
# Screenshots in $BUILD/screenshots/global-*.png.
. tests/integration/lib.sh
. tests/integration/browser.sh

browser_require global
CTL=$BUILD/deephealthctl
. tests/integration/regions_lib.sh
regions_setup
U=http://127.0.0.2:$PORT
PAGE=$U/deephealth/global.html
NOW=$(date +%s)
at() { date -u -d "@$((NOW - $1))" +%FT%TZ; } # at SECONDS: that long ago, as the logs write it
HOSTILE='HTTP 503 <script>alert(1)</script> & <b>x</b>'
# (Relative times below are read as "N min ago": each is at least 20 s from the next minute.)

region westeurope 127.0.0.2 "created now
interval 10
dep sa1 fail storage critical since=now-300 cause=$HOSTILE
dep sa2 fail storage critical since=now-610 cause=HTTP 500
reg contoso fail by=sa1 since=now-270 uses=sa1
reg fabrikam fail by=sa2 since=now-600 uses=sa2
reg litware fail by=sa1 since=now-480 uses=sa1
reg northwind fail single by=sa1 since=now-290 uses=sa1"
check "westeurope's door is up" 0 $?
region eastus2 127.0.0.3 "created now
interval 10
dep sa1 fail storage critical since=now-70 cause=HTTP 500
dep sa2 fail storage critical since=now-130 cause=connect: refused
reg contoso pass uses=sa1
reg fabrikam fail by=sa2 since=now-120 uses=sa2
reg litware fail by=sa1 since=now-60 uses=sa1
reg northwind pass single uses=sa1"
check "eastus2's door is up" 0 $?

# The event logs, as the prober writes them (src/prober/prober.c, fill_verdict, fill_blind).
ev() { # ev AGO REGION REGISTRY FROM TO DEPENDENCY CAUSE
	printf '{"time":"%s","region":"%s","prober":"probe-%s","event":"verdict","registry":"%s","from":"%s","to":"%s","dependency":"%s","cause":"%s"}\n' \
		"$(at "$1")" "$2" "$2" "$3" "$4" "$5" "$6" "$7"
}
blind() { printf '{"time":"%s","region":"westeurope","event":"blind","state":"%s","cause":"the witness check failed"}\n' "$(at "$1")" "$2"; }
{
	ev 600 westeurope fabrikam pass fail sa2 "HTTP 500"
	blind 500 start
	ev 480 westeurope litware pass fail sa1 "HTTP 503"
	printf '{"time":"%s","from":"pass","to":"fail","dependency":"sa1","cause":"HTTP 503"}\n' "$(at 300)" # a dependency's: not routing
	blind 400 end
	ev 290 westeurope contoso pass fail sa1 'HTTP 503 <script>alert(1)</script>'
	ev 250 westeurope '<img src=x onerror=alert(3)>' pass fail sa1 '<b>bold</b>'
} >"$S/westeurope/events.log"
{
	ev 550 eastus2 contoso fail pass sa1 "HTTP 200"
	ev 120 eastus2 fabrikam pass fail sa2 "connect: refused"
	ev 60 eastus2 litware pass fail sa1 "HTTP 500"
} >"$S/eastus2/events.log"
# An operator keeps litware in westeurope; deephealthctl logs it (an override event, now).
REASON='INC-9 <script>alert(2)</script> keep litware'
"$CTL" -c "$S/westeurope/dh.conf" override add registry:litware force-pass -e 1h -r "$REASON" >"$WORK/ctl.out" 2>&1
check "override add: exit 0" 0 $?
chmod 644 "$S"/*/events.log "$S/westeurope/overrides"
sleep 1.2 # responder.recheck_ms: the override seen

types=$(for p in global.html global.css global.js status.css; do
	curl -s -o /dev/null --max-time 5 -w '%{http_code} %{content_type};' "$U/deephealth/$p"; done)
check "the page, its styles and script served with their types" \
	"200 text/html;200 text/css; charset=utf-8;200 text/javascript; charset=utf-8;200 text/css; charset=utf-8;" "$types"
check "what the page relies on: eastus2 lets westeurope's origin read its status.json" "$U" \
	"$(curl -s -o /dev/null -D - --max-time 5 -H "Origin: $U" "http://127.0.0.3:$PORT/deephealth/status.json" | tr -d '\r' |
		sed -n 's/^access-control-allow-origin: //Ip')"

# page STEP: load the page (6 s of virtual time: one round of fetches), its DOM into
# $WORK/dom-STEP.html (DOM), a screenshot into global-STEP.png, in one Chromium run.
page() {
	local png=$SHOTS/global-$1.png
	DOM=$WORK/dom-$1.html
	browser_run --virtual-time-budget=6000 --hide-scrollbars --window-size=1280,1500 \
		--screenshot="$png" --dump-dom "$PAGE" >"$DOM"
	check "$1: chromium dumped the page" 0 $?
	if [ ! -s "$png" ] || [ "$(head -c 4 "$png" | tail -c 3)" != PNG ]; then
		browser_shot "$PAGE" "$png" 1280x1500 || not_ok "$1: screenshot global-$1.png"
	fi
}
t() { dom_text "$DOM" "$1"; }
a() { dom_attr "$DOM" "$1" "$2"; }
# cards: "STATE<TAB>text" per region card, in the description's order.
cards() { dom_each "$DOM" regions data-state; }
card() { cards | awk -F'\t' -v r="$1" '{ split($2, w, " ") } w[1] == r { print }'; }
# cols TABLE N...: "cell_N|cell_N..." per row of TABLE (cells counted from 1).
cols() {
	dom_rows "$DOM" "$1" | awk -F'\t' -v want="${*:2}" '{
		n = split($2, c, / \| /); k = split(want, w, " "); line = ""
		for (i = 1; i <= k; i++) line = line (i > 1 ? "|" : "") c[w[i]]
		print line }'
}

# ---- 1. Three regions: two answering, centralus unreachable ---------------------------------
page three
check "three: the banner says centralus is unknown (not green)" "unreachable" "$(a banner data-state)"
check_match "three: the banner's headline and count" '^centralus UNKNOWN · westeurope, eastus2 enforcing 3 registries served away from a region now; an unknown region is never counted as serving one\.$' "$(t banner)"
check "three: every region, in the description's order, and its state" "enforcing westeurope|enforcing eastus2|unknown centralus" \
	"$(cards | awk -F'\t' '{ split($2, w, " "); print $1, w[1] }' | paste -sd'|')"
check "three: 2 of 3 answering" "2 of 3 answering" "$(t regions-shown)"
check_match "three: westeurope: this page's, 2 failing over, which, its snapshot, its prober, its override" \
	'^enforcing	westeurope this page enforcing: 2 registries failing over snapshot [0-9]+ s old, every 10 s decides each registry: its verdict, overrides applied failing over contoso, fabrikam source its prober on probe-westeurope, snapshot [0-9]+ s ago overrides registry:litware force-pass node ' \
	"$(card westeurope)"
check_match "three: eastus2: 2 failing over, a link to its status page" \
	'^enforcing	eastus2 enforcing: 2 registries failing over .*failing over fabrikam, litware .*status page$' "$(card eastus2)"
check_match "three: centralus: UNKNOWN, why: unreachable, no status (never healthy)" \
	'^unknown	centralus UNKNOWN why unreachable: no connection status page$' "$(card centralus)"
check "three: no region clock offset shown (one machine)" "" "$(cards | grep -o 'clock [^ ]*')"
check "three: no warning (the page is at westeurope's admin origin; every list complete)" "" "$(dom_each "$DOM" warnings data-warning)"

# Registries served away: one row each; since, why and where else from the regions' documents.
check "three: served away: contoso, fabrikam, litware (not northwind: single-region)" "contoso fabrikam litware" \
	"$(dom_rows "$DOM" away | cut -f1 | xargs)"
check "three: contoso: westeurope fails it (sa1's hostile cause as text), eastus2 serves it, centralus unknown" \
	"westeurope|4 min ago|sa1: $HOSTILE|eastus2 · centralus: unknown" "$(cols away 2 3 4 5 | sed -n 1p)"
check "three: fabrikam: both answering regions fail it, each since and why; served: none known" \
	"westeurope, eastus2|westeurope: 10 min ago eastus2: 2 min ago|westeurope: sa2: HTTP 500 eastus2: sa2: connect: refused|none known centralus: unknown" \
	"$(cols away 2 3 4 5 | sed -n 2p)"
check "three: litware: eastus2 fails it; westeurope serves it by the operator's override" \
	"eastus2|1 min ago|sa1: HTTP 500|westeurope (override force-pass) · centralus: unknown" "$(cols away 2 3 4 5 | sed -n 3p)"
check "three: an unknown region is never counted as serving (serving counts)" "1 0 1" \
	"$(dom_each "$DOM" away data-serving | cut -f1 | xargs)"
check "three: the count says the unknown region is not counted" "3 registries; 1 region unknown, so not counted" "$(t away-shown)"
check "three: failing but answered 200: litware (force-pass), northwind (single region), both westeurope" \
	"litware|westeurope|override: force-pass
northwind|westeurope|single region" "$(cols kept 1 2 5)"

# Routing changes: both regions' verdict changes merged newest first, blind and override marked;
# the dependency's own transition is no routing change.
# changes: "REGION EVENT REGISTRY" per row of the routing changes, in the page's order.
changes() { paste -d' ' <(cols changes 2) <(dom_each "$DOM" changes data-event | cut -f1) <(cols changes 3); }
check "three: routing changes, newest first across regions (region, event, registry)" \
	"westeurope override registry:litware|eastus2 verdict litware|eastus2 verdict fabrikam|westeurope verdict <img src=x onerror=alert(3)>|westeurope verdict contoso|westeurope blind every registry|westeurope verdict litware|westeurope blind every registry|eastus2 verdict contoso|westeurope verdict fabrikam" \
	"$(changes | paste -sd'|')"
check_match "three: eastus2's fabrikam change: the cause, who decided, its time as written" \
	"^fabrikam	$(at 120 | tr T ' ' | sed 's/Z$/ UTC/') \| eastus2 \| fabrikam \| pass → fail \| sa2: connect: refused \| probe-eastus2$" \
	"$(dom_rows "$DOM" changes | grep -m1 '^fabrikam	')"
check_match "three: litware's change in westeurope's blind stretch is marked" '^litware	.*westeurope \| litware \| pass → fail during blind \| sa1: HTTP 503' \
	"$(dom_rows "$DOM" changes | grep 'westeurope | litware')"
check "three: the blind stretch's start and end" "blind start|blind end" \
	"$(dom_rows "$DOM" changes | awk -F' [|] ' '/^region/ { print $4 }' | tac | paste -sd'|')"
check_match "three: the override, with its reason as text" \
	"^registry:litware	.* \| westeurope \| registry:litware \| override add force-pass \| INC-9 <script>alert\\(2\\)</script> keep litware \(until .*\) \| " \
	"$(dom_rows "$DOM" changes | head -n 1)"
check "three: nothing missing but centralus's changes" "centralus" "$(dom_each "$DOM" changes-missing data-region | cut -f1 | xargs)"
check "three: changes counted" "newest first; 10 of 10 from 2 regions" "$(t changes-shown)"

# Hostile strings: in the DOM as text only: no element made from a cause, reason or name.
check "three: no element from a hostile string (img, b; the page's 2 script tags only: common.js, global.js)" "0 0 2" \
	"$(grep -c '<img' "$DOM") $(grep -c '<b>' "$DOM") $(grep -o '<script' "$DOM" | wc -l)"
check_match "three: the hostile cause is in the DOM, escaped" '&lt;script&gt;alert\(1\)&lt;/script&gt; &amp; &lt;b&gt;x&lt;/b&gt;' "$(cat "$DOM")"
check "three: the page's title" "⚠ deephealth: every region" "$(python3 -c 'import re,sys; print(re.search(r"<title>(.*?)</title>", open(sys.argv[1]).read()).group(1))' "$DOM")"

# ---- 2. eastus2 refuses the page: its description lists another admin origin for westeurope --
sed "s|admin = \"$U\"|admin = \"http://westeurope.invalid:$PORT\"|" "$S/regions.conf" >"$S/regions-other.conf"
chmod 644 "$S/regions-other.conf"
check "the other description names westeurope elsewhere" 1 "$(grep -c 'westeurope.invalid' "$S/regions-other.conf")"
region_stop eastus2
region eastus2 127.0.0.3 "created now
interval 10
dep sa1 fail storage critical since=now-70 cause=HTTP 500
dep sa2 fail storage critical since=now-130 cause=connect: refused
reg contoso pass uses=sa1
reg fabrikam fail by=sa2 since=now-120 uses=sa2
reg litware fail by=sa1 since=now-60 uses=sa1
reg northwind pass single uses=sa1" "$S/regions-other.conf"
check "eastus2's door is up again" 0 $?
check "eastus2 answers status.json to curl (it is up)" 200 \
	"$(curl -s -o /dev/null --max-time 5 -w '%{http_code}' "http://127.0.0.3:$PORT/deephealth/status.json")"
check "... but not to westeurope's origin: no CORS header" "" \
	"$(curl -s -o /dev/null -D - --max-time 5 -H "Origin: $U" "http://127.0.0.3:$PORT/deephealth/status.json" | tr -d '\r' |
		sed -n 's/^access-control-allow-origin: //Ip')"

page refused
check "refused: westeurope enforcing, eastus2 and centralus unknown" "enforcing westeurope|unknown eastus2|unknown centralus" \
	"$(cards | awk -F'\t' '{ split($2, w, " "); print $1, w[1] }' | paste -sd'|')"
check_match "refused: eastus2: why: refused to this page, by CORS, naming the page's origin" \
	"^unknown	eastus2 UNKNOWN why refused to this page: it answered, but not to ${U//./\\.} \(CORS\): its responders do not list this origin" "$(card eastus2)"
check_match "refused: centralus still unreachable" '^unknown	centralus UNKNOWN why unreachable: no connection' "$(card centralus)"
check_match "refused: the banner names both unknown regions" '^eastus2 UNKNOWN · centralus UNKNOWN · westeurope enforcing 2 registries served away' "$(t banner)"
check "refused: only westeurope's failing registries; litware (eastus2's) is not known to fail anywhere" "contoso fabrikam" \
	"$(dom_rows "$DOM" away | cut -f1 | xargs)"
check "refused: served instead: none known: eastus2 and centralus unknown, never serving" \
	"none known eastus2: unknown · centralus: unknown|none known eastus2: unknown · centralus: unknown" "$(cols away 5 | paste -sd'|')"
check "refused: no region serves them (counts)" "0 0" "$(dom_each "$DOM" away data-serving | cut -f1 | xargs)"
check "refused: eastus2's and centralus's changes said missing" "eastus2 centralus" \
	"$(dom_each "$DOM" changes-missing data-region | cut -f1 | xargs)"
check "refused: only westeurope's changes" "westeurope" "$(cols changes 2 | sort -u | xargs)"

# ---- 3. westeurope's kill switch: every answer 200 there, so nothing is failed over ----------
touch "$S/westeurope/disable"
sleep 1.2 # responder.recheck_ms
page passthrough
check "passthrough: the banner is amber, not green" "passthrough" "$(a banner data-state)"
check_match "passthrough: westeurope: every registry answers 200, by the kill switch" \
	'^passthrough	westeurope this page PASS-THROUGH \(kill switch\): every registry answers 200 .*decides every answer: passthrough \(200\)' \
	"$(card westeurope)"
check "passthrough: no registry is served away by a known region" "" "$(dom_rows "$DOM" away)"
check_match "passthrough: said so, with the unknown regions in mind" ' none that a known region fails over$' "$(t away)"
check "passthrough: westeurope's failing ones are not called failing over" "failing over none" \
	"$(dom_each "$DOM" regions data-fact | awk -F'\t' '$1 == "failing over" { print $2; exit }')"

# ---- 4. A forced fail: contoso passes in westeurope, and an operator drains it -------------
rm "$S/westeurope/disable"
snap "$S/westeurope/snapshot" <<'EOF'
created now
interval 10
dep sa1 pass storage critical
reg contoso pass uses=sa1
EOF
"$CTL" -c "$S/westeurope/dh.conf" override add registry:contoso force-fail -e 1h -r "drain for maintenance" \
	>"$WORK/ctl2.out" 2>&1
check "override add force-fail: exit 0" 0 $?
chmod 644 "$S/westeurope/overrides"
sleep 1.2 # responder.recheck_ms
page forced
check "forced: contoso is served away from westeurope though its verdict passes (the failing list)" \
	"contoso|westeurope|operator override: force-fail" "$(dom_rows "$DOM" away | cut -f1 | head -n 1)|$(cols away 2 4 | sed -n 1p)"
check "forced: no count-mismatch warning (the list is whole)" "" \
	"$(dom_each "$DOM" regions data-fact | awk -F'\t' '$1 == "not listed"')"

shots=$(cd "$SHOTS" && echo global-*.png)
check "screenshots" "global-forced.png global-passthrough.png global-refused.png global-three.png" "$shots"
[ -n "${HOLD:-}" ] && sleep "$HOLD"
finish
