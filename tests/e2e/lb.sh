#!/usr/bin/env bash
# lb.sh: the failover scenarios end to end with real load balancers (issue 21): PowerDNS
# (LUA ifurlup records), gdnsd (http_status + simplefo) and HAProxy (option httpchk), each
# running the configuration deephealthctl lb generates, in front of two regions: A
# (westeurope) lighttpd on 127.0.0.2, B (eastus2) Apache on 127.0.0.3, both on one port, each
# with its prober and stand-in dependencies (lib.sh).  The DNS servers are asked with dig,
# HAProxy with curl through it (the front door that answered names itself).  Loopback only.
# This file is the table of scenarios, run for every load balancer, their steps and the
# report; lb_lib.sh has the balancers (generate, start, ask, stop) and their budgets.
#
#   bash tests/e2e/lb.sh                  every scenario with every balancer (a few minutes)
#   E2E_FAST=1 bash tests/e2e/lb.sh       HAProxy, scenarios 1 and 2 (test_lb_fast.sh)
#   E2E_LBS="gdnsd" E2E_SCENARIOS="1 4"   a chosen subset;  KEEP_WORK=1 keeps the scratch dir
#
# Budgets (printed with every measured time; a time may exceed its budget by the observer's
# period, OBS_SLACK): a storage fault to the answer moving = our stages (the prober's fall x
# interval + its deadline + the responder's recheck) + the balancer's detection: PowerDNS one
# check (lua-health-checks-interval + the record's timeout: no fall/rise), gdnsd interval x
# down_thresh + 1 s (its coalesced update), HAProxy inter x fall; back likewise with rise.
# When a registry fails in both regions (scenario 4) each balancer does its own thing, and
# the suite asserts it: PowerDNS answers a random candidate per query (every address down:
# its backupSelector, random, over all of them), gdnsd's simplefo keeps the primary, HAProxy
# answers 503 itself ("No server is available") with both servers DOWN.
# Prints one table and a last line "N passed, N failed"; exits non-zero when any row failed.

cd "$(dirname "$0")/../.." || exit 2
. tests/e2e/lib.sh
. tests/e2e/lb_lib.sh

# ---- the scenarios, each run with every balancer ----
# STEP is a function below with (ID, SCENARIO, MOVERS, STAYERS, EXPECTED).  MOVERS must leave
# region A and come back; STAYERS (every other watched name) never leave their preferred
# region.  A row whose EXPECTED is "-" says its balancer's own expectation.
MOVE="contoso contoso-cd"
STAY="fabrikam fabrikam-cd northwind tailspin"
TABLE=(
#  ID | STEP       | SCENARIO                            | MOVERS | STAYERS | EXPECTED
"  1  | lb_steady  | steady state                        | -      | -       | every name at its preferred region (tailspin: B)"
"  2  | lb_failover| sa1 500 (A), then heals             | $MOVE  | $STAY   | contoso* -> B and back, within budget; the rest stay"
"  3  | lb_dead    | prober killed (A), sa1 500 (A)      | -      | -       | fail open (200 snapshot-stale): nobody moves"
"  4  | lb_both    | sa1 500 in B, then A too; heals     | $MOVE  | $STAY   | -"
"  5  | lb_kill    | kill switch (A) during sa1 500 (A)  | $MOVE  | $STAY   | back to A on touch, leave again on rm, within budget"
"  6  | lb_single  | northwind (single-region), all run  | -      | -       | always answered, always A"
)
declare -A BOTH=(
	[pdns]="every address down: a random candidate per query (A and B both seen)"
	[gdnsd]="simplefo, both down: the primary (A) throughout"
	[haproxy]="both servers DOWN: 503 from HAProxy itself, no region")

T_ID=() T_STEP=() T_WHAT=() T_MOVERS=() T_STAYERS=() T_EXPECTED=()
for line in "${TABLE[@]}"; do
	IFS='|' read -r -a f <<<"$line"
	for i in 0 1 2 3 4 5; do read -r "f[$i]" <<<"${f[$i]:-}"; done
	T_ID+=("${f[0]}") T_STEP+=("${f[1]}") T_WHAT+=("${f[2]}")
	T_MOVERS+=("${f[3]/#-/}") T_STAYERS+=("${f[4]/#-/}") T_EXPECTED+=("${f[5]}")
done
if [ -n "${E2E_FAST:-}" ]; then SEL=" 1 2 " KINDS=haproxy
else SEL=" ${E2E_SCENARIOS:-${T_ID[*]}} " KINDS=${E2E_LBS:-$LB_KINDS}; fi

# ---- helpers of the steps ----
# every watched name's samples in (FROM, TO] at its preferred region (and, through HAProxy,
# answered 200): NAMES default every watched name
at_pref() { # FROM TO [NAMES]
	local p bad
	for p in ${3:-${LB_PROFILES[*]}}; do
		bad=$(obs_samples "$p" "$1" "$2" | awk -v r="${PREF[$p]}" '$1 != r || ($2 != "-" && $2 != "200")' | sort | uniq -c | xargs)
		[ -z "$bad" ] || fail_because "$p left ${PREF[$p]}: $bad"
		[ -n "$(obs_samples "$p" "$1" "$2")" ] || fail_because "$p: no sample"
	done
}
# lb_settled BOUND_MS [K]: every watched name at its preference K (3) samples in a row, from now
lb_settled() {
	local t end=$(($(now_ms) + $1)) p
	t=$(now_ms)
	for p in "${LB_PROFILES[@]}"; do
		obs_first "$p" "${PREF[$p]}" "$t" $((end - $(now_ms))) "${2:-3}" >/dev/null || { echo "#   $p not at ${PREF[$p]}: $(obs_seq "$p" "$t")"; return 1; }
	done
}
lb_ready() { settle && lb_settled "$(wait_bound "$(budget_back "$LB")")"; }
# expect_moves "NAMES" SEQ FROM TO
expect_moves() {
	local p got
	for p in $1; do
		got=$(obs_seq "$p" "$3" "$4")
		[ "$got" = "$2" ] || fail_because "$p went $got, expected $2"
	done
}
# within WHAT MS BUDGET: a measured time within its budget (plus the observer's slack)
within() {
	[ -n "$2" ] && [ "$2" != - ] || return 0
	[ "$2" -le $(($3 + OBS_SLACK)) ] || fail_because "$1 took $2 ms: over its budget $3 ms (+ $OBS_SLACK)"
}
# seqs FROM TO [NAMES]: "NAME:A>B>A ..." (a long one shortened: "A>B>A>B...B>A (17 changes)")
seqs() {
	local p s out=""
	for p in ${3:-${LB_PROFILES[*]}}; do
		s=$(obs_seq "$p" "$1" "$2")
		[ ${#s} -gt 24 ] && s="${s:0:7}...${s: -3} ($(tr -cd '>' <<<"$s" | wc -c) changes)"
		out+="$p:$s "
	done
	echo "${out% }"
}
SA1_MS=0  # how long sa1 failed in region A during this balancer's run
fault_a() { FAULT_T=$(now_ms); fix_mode A sa1 "${1:-500}"; }
heal_a() { fix_mode A sa1 200; SA1_MS=$((SA1_MS + $(now_ms) - FAULT_T)); }

# ---- the steps ----
lb_steady() {
	local id=$1 what=$2 expected=$5 t0 odd p
	sc_begin "$id" "$what"
	lb_ready || fail_because "not settled"
	t0=$(now_ms); hold $((2 * LB_INTERVAL * 1000))
	at_pref "$t0" "$(now_ms)"
	# PowerDNS probes with the URL's port in Host: the responder takes the name without it
	[[ $(req_reason "${URL[A]}" "contoso.azurecr.io:$DOOR_PORT") =~ ^200\ healthy ]] ||
		fail_because "Host with :$DOOR_PORT not answered 200 healthy: $(req_reason "${URL[A]}" "contoso.azurecr.io:$DOOR_PORT")"
	# what clients got before the balancer had checked (PowerDNS: a random candidate)
	odd=$(for p in "${LB_PROFILES[@]}"; do obs_samples "$p" 0 "$LB_T1" | awk -v r="${PREF[$p]}" '$1 != r'; done | wc -l)
	row "$id $what" "$expected" "$(seqs "$t0" "$(now_ms)"); before settling: $odd answers elsewhere" - - - -
}

lb_failover() {
	local id=$1 what=$2 movers=$3 stayers=$4 expected=$5 t0 tf th tb end fms bms np nb
	sc_begin "$id" "$what"
	lb_ready || fail_because "not settled"
	t0=$(now_ms); fault_a 500
	tf=$(obs_group_first "$movers" B "$t0" "$(wait_bound "$(budget_fail "$LB")")") || fail_because "$movers did not all move to B"
	hold 1000
	th=$(now_ms); heal_a
	tb=$(obs_group_first "$movers" A "$th" "$(wait_bound "$(budget_back "$LB")")") || fail_because "$movers did not come back to A"
	hold 1500; end=$(now_ms)
	expect_moves "$movers" "A>B>A" "$t0" "$end"
	at_pref "$t0" "$end" "$stayers"
	# the balancer followed region A's verdict: it moved after fall passes, came back after rise
	np=$(passes A "$t0" "${tf:-0}"); nb=$(passes A "$th" "${tb:-0}")
	[ -n "$tf" ] && [ "$np" -lt "$P_FALL" ] && fail_because "moved after $np passes of A's prober (< fall $P_FALL)"
	[ -n "$tb" ] && [ "$nb" -lt "$P_RISE" ] && fail_because "came back after $nb passes of A's prober (< rise $P_RISE)"
	# PowerDNS's check sends the URL's port in Host: region A's 503 reached it all the same
	[ "$LB" = pdns ] && ! grep -q "declaring ${DOOR_ADDR[A]} DOWN for URL http://contoso.azurecr.io:$DOOR_PORT/health" "$LBD/pdns/server.log" &&
		fail_because "PowerDNS never declared ${DOOR_ADDR[A]} down for contoso.azurecr.io:$DOOR_PORT"
	fms=$(ms_or_dash "$tf" "$t0"); bms=$(ms_or_dash "$tb" "$th")
	within failover "$fms" "$(budget_fail "$LB")"; within back "$bms" "$(budget_back "$LB")"
	row "$id $what" "$expected" "$(seqs "$t0" "$end"); A's passes: $np to move, $nb back" "$fms" "$(budget_fail "$LB")" "$bms" "$(budget_back "$LB")"
}

lb_dead() {
	local id=$1 what=$2 expected=$5 tk ts end
	sc_begin "$id" "$what"
	lb_ready || fail_because "not settled"
	tk=$(now_ms); stop_prober A; fault_a 500
	wait_reason "${URL[A]}" contoso.azurecr.io '^200 snapshot-stale' $(((MAX_AGE + 1) * 1000 + RECHECK_MS + 5000)) ||
		fail_because "region A never answered 200 snapshot-stale"
	ts=$(now_ms)
	# as long as a detected fault would have taken to move anyone, and more
	hold $((LB_DOWN[$LB] + OBS_SLACK + 1000)); end=$(now_ms)
	at_pref "$tk" "$end"
	heal_a; start_prober A
	wait_reason "${URL[A]}" contoso.azurecr.io '^200 healthy' "$(wait_bound "$B_BACK")" || fail_because "region A not healthy after the prober restarted"
	row "$id $what" "$expected" "$(seqs "$tk" "$end"); stale after $((ts - tk)) ms" - - - -
}

lb_both() {
	local id=$1 what=$2 movers=$3 stayers=$4 t0 td th tb end st s n
	sc_begin "$id" "$what"
	lb_ready || fail_because "not settled"
	t0=$(now_ms); fix_mode B sa1 500
	wait_reason "${URL[B]}" contoso.azurecr.io '^503 ' "$(wait_bound "$S_FAIL")" || fail_because "region B never answered 503"
	hold $((LB_DOWN[$LB] + OBS_SLACK))  # the balancer has seen B down: nothing moves
	fault_a 500
	wait_reason "${URL[A]}" contoso.azurecr.io '^503 ' "$(wait_bound "$S_FAIL")" || fail_because "region A never answered 503"
	hold $((LB_DOWN[$LB] + OBS_SLACK))  # and A: what does it answer now?
	td=$(now_ms); hold 4000; th=$(now_ms)
	case $LB in
	pdns)
		s=$(for n in $movers; do obs_samples "$n" "$td" "$th"; done | awk '{ print $1 }' | sort | uniq -c | xargs)
		[[ $s =~ ^[0-9]+\ A\ [0-9]+\ B$ ]] || fail_because "not one random candidate per answer, both seen: $s" ;;
	gdnsd)
		st=$(gdnsd_state dh_contoso_azurecr_io)
		[[ $st == *"${DOOR_ADDR[A]}:DOWN"* && $st == *"${DOOR_ADDR[B]}:DOWN"* ]] || fail_because "gdnsd states not both DOWN: $st"
		s="states $st"
		expect_moves "$movers" A "$t0" "$th" ;;
	haproxy)
		st=$(hap_state dh_contoso_azurecr_io)
		[ "$st" = "westeurope_1:0 eastus2_1:0" ] || fail_because "HAProxy servers not both DOWN: $st"
		s=$(for n in $movers; do obs_samples "$n" "$td" "$th"; done | sort | uniq -c | xargs)
		[[ $s =~ ^[0-9]+\ none\ 503$ ]] || fail_because "not HAProxy's own 503 throughout: $s"
		curl -s --max-time 2 --connect-to "::127.0.0.1:$LB_PORT" http://contoso.azurecr.io/health | grep -q 'No server is available' ||
			fail_because "HAProxy's 503 body not 'No server is available'"
		s="servers $st; $s" ;;
	esac
	heal_a
	# back: 5 answers in a row at A (PowerDNS: not a random run); gdnsd answered A all along,
	# so its own state says when A is up again
	tb=$(obs_group_first "$movers" A "$th" "$(wait_bound "$(budget_back "$LB")")" 5) || fail_because "$movers did not settle back at A"
	[ "$LB" = gdnsd ] && { tb=$(gdnsd_up_at dh_contoso_azurecr_io "${DOOR_ADDR[A]}" "$(wait_bound "$(budget_back "$LB")")") ||
		fail_because "gdnsd never had ${DOOR_ADDR[A]} UP again"; }
	fix_mode B sa1 200
	wait_reason "${URL[B]}" contoso.azurecr.io '^200 healthy' "$(wait_bound "$S_BACK")" || fail_because "region B not healthy again"
	hold 1000; end=$(now_ms)
	at_pref "$t0" "$end" "$stayers"
	within back "$(ms_or_dash "$tb" "$th")" "$(budget_back "$LB")"
	row "$id $what" "${BOTH[$LB]}" "$(seqs "$t0" "$end" "$movers") $(seqs "$t0" "$end" "$stayers"); both down: $s" \
		- - "$(ms_or_dash "$tb" "$th")" "$(budget_back "$LB")"
}

lb_kill() {
	local id=$1 what=$2 movers=$3 stayers=$4 expected=$5 t0 tf tk ta tr tf2 th tb end
	sc_begin "$id" "$what"
	lb_ready || fail_because "not settled"
	t0=$(now_ms); fault_a 500
	tf=$(obs_group_first "$movers" B "$t0" "$(wait_bound "$(budget_fail "$LB")")") || fail_because "$movers did not move to B"
	tk=$(now_ms); touch "$WORK/A/disable"
	ta=$(obs_group_first "$movers" A "$tk" "$(wait_bound "$(budget_switch "$LB")")") || fail_because "$movers did not return with the kill switch"
	[[ $(req_reason "${URL[A]}" contoso.azurecr.io) =~ ^200\ passthrough ]] || fail_because "region A not 200 passthrough"
	hold 1000
	tr=$(now_ms); rm -f "$WORK/A/disable"
	tf2=$(obs_group_first "$movers" B "$tr" "$(wait_bound "$(budget_switch_fail "$LB")")") || fail_because "$movers did not leave again"
	th=$(now_ms); heal_a
	tb=$(obs_group_first "$movers" A "$th" "$(wait_bound "$(budget_back "$LB")")") || fail_because "$movers did not come back"
	hold 1500; end=$(now_ms)
	expect_moves "$movers" "A>B>A>B>A" "$t0" "$end"
	at_pref "$t0" "$end" "$stayers"
	within "back on the kill switch" "$(ms_or_dash "$ta" "$tk")" "$(budget_switch "$LB")"
	within "leaving on its removal" "$(ms_or_dash "$tf2" "$tr")" "$(budget_switch_fail "$LB")"
	row "$id $what" "$expected" "$(seqs "$t0" "$end")" "$(ms_or_dash "$tf2" "$tr")" "$(budget_switch_fail "$LB")" \
		"$(ms_or_dash "$ta" "$tk")" "$(budget_switch "$LB")"
}

lb_single() {
	local id=$1 what=$2 expected=$5 n s ans
	sc_begin "$id" "$what"
	n=$(obs_samples northwind "$LB_T0" | wc -l)
	s=$(obs_samples northwind "$LB_T0" | sort | uniq -c | xargs)
	[[ $s =~ ^[0-9]+\ A\ (-|200)$ ]] || fail_because "northwind not always A: $s"
	[ "$n" -gt 0 ] || fail_because "northwind never asked"
	if [ "$LB" != haproxy ]; then
		# a plain record: one address, the zone's TTL, whatever the checks say
		ans=$(dig @127.0.0.1 -p "$LB_PORT" +tries=2 +time=1 +noall +answer northwind.azurecr.io A | awk '{ print $2, $4, $5 }' | xargs)
		[ "$ans" = "$LB_TTL A ${DOOR_ADDR[A]}" ] || fail_because "northwind's answer not one plain A ${DOOR_ADDR[A]} (TTL $LB_TTL): $ans"
	fi
	row "$id $what" "$expected" "$n samples: $s; sa1 failed in A for $((SA1_MS / 1000)) s of them" - - - -
}

# ---- the run ----
for i in "${!T_ID[@]}"; do
	declare -F "${T_STEP[$i]}" >/dev/null || { echo "# table: scenario ${T_ID[$i]} has no step ${T_STEP[$i]}"; echo "0 passed, 1 failed"; exit 1; }
done
need=(dig socat)
for k in $KINDS; do case $k in pdns) need+=(pdns_server) ;; gdnsd) need+=(gdnsd gdnsdctl) ;; haproxy) need+=(haproxy) ;; esac; done
for b in "${need[@]}"; do command -v "$b" >/dev/null || { echo "# missing $b (tests/deps.sh)"; echo "0 passed, 1 failed"; exit 1; }; done
echo "# load balancers: $KINDS; scenarios:$SEL"
DOOR_PORT=$(free_port "${DOOR_ADDR[A]}" "${DOOR_ADDR[B]}")
if ! setup_region A lighttpd || ! setup_region B apache; then
	KEEP_WORK=1; echo "# setup failed, logs kept in $WORK"; echo "0 passed, 1 failed"; exit 1
fi
warm_pools "${URL[A]}" "${URL[B]}"
settle || { KEEP_WORK=1; echo "# the regions never became healthy"; echo "0 passed, 1 failed"; exit 1; }
echo "# region A (westeurope): ${URL[A]} lighttpd; region B (eastus2): ${URL[B]} apache"
LBD=$WORK/lb
mkdir -p "$LBD"
lb_regions "$LBD/regions.conf"
for LB in $KINDS; do
	ORIENT=$LB SA1_MS=0
	echo "# === $LB"
	if ! lb_start "$LB"; then
		lb_stop; KEEP_WORK=1; SC_OK=0
		for i in "${!T_ID[@]}"; do [[ $SEL == *" ${T_ID[$i]} "* ]] && row "${T_ID[$i]} ${T_WHAT[$i]}" "$LB did not start" - - - - - -; done
		continue
	fi
	LB_T0=$(now_ms)
	obs_start "$LBD/$LB.obs" "$OBS_TICK" "lb_ask_$LB"
	lb_settled 30000 5 || echo "# $LB: not every name at its preference within 30 s"
	LB_T1=$(now_ms)
	echo "# $LB answers on 127.0.0.1:$LB_PORT; settled after $((LB_T1 - LB_T0)) ms"
	for i in "${!T_ID[@]}"; do
		[[ $SEL == *" ${T_ID[$i]} "* ]] || continue
		"${T_STEP[$i]}" "${T_ID[$i]}" "${T_WHAT[$i]}" "${T_MOVERS[$i]}" "${T_STAYERS[$i]}" "${T_EXPECTED[$i]}"
	done
	obs_stop
	lb_stop || echo "# $LB did not stop on SIGTERM within 5 s: killed"
done

# ---- report ----
echo
echo "Budgets: prober every ${P_INTERVAL}s (deadline ${P_DEADLINE}s), fall $P_FALL, rise $P_RISE, recheck ${RECHECK_MS}ms;"
echo "  load balancers: interval ${LB_INTERVAL}s, timeout ${LB_TIMEOUT}s, fall $LB_FALL, rise $LB_RISE (regions.conf); observer every ${OBS_TICK}ms (+${OBS_SLACK}ms allowed)"
echo "  our stages: failover $S_FAIL ms (fall*interval + deadline + recheck), back $S_BACK ms (rise*interval + ...)"
for k in $KINDS; do
	echo "  $k: + ${LB_DOWN[$k]} ms down, ${LB_UP[$k]} ms up -> failover $(budget_fail "$k"), back $(budget_back "$k"), kill switch $(budget_switch "$k") / $(budget_switch_fail "$k") ms"
done
echo
{
	echo "LB|scenario|expected|observed|failover ms (budget)|back ms (budget)|result"
	for r in "${ROWS[@]}"; do
		IFS='|' read -r lb id exp obs fms fb bms bb res <<<"$r"
		fb2=""; [ "$fb" != "-" ] && fb2=" ($fb)"
		bb2=""; [ "$bb" != "-" ] && bb2=" ($bb)"
		echo "$lb|$id|$exp|$obs|$fms$fb2|$bms$bb2|$res"
	done
} | column -t -s '|'
# Nothing this run started may outlive it.
e2e_stop_all
left=$(leftovers)
if [ -z "$left" ]; then N_PASS=$((N_PASS + 1)); echo "# every server this run started has stopped"
else N_FAIL=$((N_FAIL + 1)); echo "# FAIL: still running:"; while IFS= read -r l; do echo "#   $l"; done <<<"$left"; fi
echo "# suite ran $(($(date +%s) - SUITE_START)) s"
[ "$N_FAIL" -gt 0 ] && { KEEP_WORK=1; echo "# failures: logs kept in $WORK (lb/*.obs, lb/*/server.log, */probe.out, */web/)"; }
[ -n "${KEEP_WORK:-}" ] && echo "# kept $WORK"
echo "$(basename "$0" .sh): $N_PASS passed, $N_FAIL failed"
[ "$N_FAIL" -eq 0 ] && [ "$N_PASS" -gt 0 ]
