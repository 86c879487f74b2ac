#!/usr/bin/env bash
# run.sh: end-to-end failover suite (issue 4).  Two regions on 127.0.0.1, each a real web
# server spawning deephealth.fcgi with its own config, snapshot, prober loop and dependency
# stand-ins (httpfix, redis-server); a Traffic-Manager-style emulator (tmprobe) watches which
# region each registry would be sent to while the scenarios inject and heal faults.
# This file is the table of scenarios, their selection and the report; tests/e2e/lib.sh has
# the setup, the observing and bookkeeping helpers and fault_heal (every scenario that faults
# one dependency and heals it), tests/e2e/scenarios.sh the steps of the other scenarios.
#
#   bash tests/e2e/run.sh              every scenario (under 10 minutes on 2 cores)
#   E2E_FAST=1 bash tests/e2e/run.sh   scenarios 1, 9, 13 (for make check)
#   E2E_SCENARIOS="3 4" ...            a chosen subset;  E2E_SWAP=1: region A on Apache, B on lighttpd
#   KEEP_WORK=1                        keep the scratch directory (printed at the start)
#   BUILD=dir, TMPROBE=path            another build directory, another emulator binary
# Needs build/deephealth.fcgi, deephealth-probe, deephealth-snap, httpfix and build/tmprobe.
# Assertions are on orders of events and bounded waits, never on exact timings.  Prints one
# table and a last line "N passed, N failed"; exits non-zero when any scenario failed.

cd "$(dirname "$0")/../.." || exit 2
. tests/e2e/lib.sh
. tests/e2e/scenarios.sh

# ---- the scenarios: the one place that says which exist and what each expects ----
# STEP is fault_heal (SCENARIO is then "DEP MODE (A)": region A's DEP answers MODE, then
# heals), a function of scenarios.sh, or "after ID": measured by scenario ID's run and
# reported with it.  MOVERS must leave region A and come back, STAYERS must never leave
# (- for nobody; an "after ID" row shares scenario ID's).  SCENARIO and EXPECTED are the
# report's columns.
TABLE=(
#  ID | STEP          | SCENARIO                  | MOVERS              | STAYERS             | EXPECTED
"  1  | fault_heal    | sa1 500 (A)               | $CONTOSO            | $FABRIKAM northwind | contoso*->B, fabrikam,northwind stay"
"  2  | fault_heal    | sa1 hang (A)              | $CONTOSO            | $FABRIKAM northwind | contoso*->B, fabrikam,northwind stay"
"  3  | sc_cache      | redis stopped (A)         | -                   | $ALL                | warn, nobody moves"
"  4  | fault_heal    | auth refuse (A)           | $CONTOSO $FABRIKAM  | northwind           | every two-region registry moves, northwind stays"
"  5  | fault_heal    | meta 500 (A)              | $CONTOSO            | $FABRIKAM northwind | only metadata-search (contoso) moves"
"  6  | fault_heal    | containers refuse (A)     | $CONTOSO $FABRIKAM  | northwind           | every two-region registry moves"
"  7  | sc_blip       | storage blips < fall (A)  | -                   | $ALL                | nobody moves, ever"
"  8  | sc_flap       | sa1 flaps 20 % (A)        | -                   | $ALL                | prober flaps, nobody moves"
"  9  | after 1       | recovery after 1          | $CONTOSO            | $FABRIKAM northwind | back to A only after rise=$P_RISE passes"
" 10  | sc_stale      | prober killed (A)         | $CONTOSO            | $FABRIKAM northwind | stale -> fail open to A"
" 11  | sc_corrupt    | snapshot corrupted (A)    | -                   | $ALL                | fail open, nobody moves"
" 12  | sc_blind      | prober blind (A)          | -                   | $ALL                | fail open, nobody moves"
" 13  | sc_killswitch | kill switch (A) during 1  | $CONTOSO            | $FABRIKAM northwind | back to A on touch, leaves on rm"
" 14  | sc_both       | sa1 fails in A and B      | -                   | $ALL                | both degraded, routed as all healthy (A)"
" 15  | sc_shadow     | shadow mode (A) during 1  | -                   | $ALL                | 200 throughout, X-Deephealth-Shadow: 503"
)
# Scenario 8 is about the prober's thresholds, not the web servers: first orientation only.
FIRST_ONLY=" 8 "

T_ID=() T_STEP=() T_WHAT=() T_MOVERS=() T_STAYERS=() T_EXPECTED=()
for line in "${TABLE[@]}"; do
	IFS='|' read -r -a f <<<"$line"
	for i in 0 1 2 3 4 5; do
		read -r "f[$i]" <<<"${f[$i]:-}"  # without the padding
		[ "${f[$i]}" = - ] && f[i]=""
	done
	if [[ ${f[1]} != after\ * ]] && ! declare -F "${f[1]}" >/dev/null; then
		echo "# table: scenario ${f[0]} has no step ${f[1]}"; echo "0 passed, 1 failed"; exit 1
	fi
	T_ID+=("${f[0]}") T_STEP+=("${f[1]}") T_WHAT+=("${f[2]}")
	T_MOVERS+=("${f[3]}") T_STAYERS+=("${f[4]}") T_EXPECTED+=("${f[5]}")
done

# ---- selection ----
if [ -n "${E2E_SCENARIOS:-}" ]; then SEL=" $E2E_SCENARIOS "
elif [ -n "${E2E_FAST:-}" ]; then SEL=" 1 9 13 "
else SEL=" ${T_ID[*]} "; fi
want() { [[ $SEL == *" $1 "* ]]; }
# runs ID: scenario ID runs when it is selected or a row measured by its run is
runs() {
	local i
	want "$1" && return 0
	for i in "${!T_ID[@]}"; do
		[ "${T_STEP[$i]}" = "after $1" ] && want "${T_ID[$i]}" && return 0
	done
	return 1
}
# region A's shadow-mode twin is served only when a shadow scenario runs
SHADOW_TWIN=""
for i in "${!T_ID[@]}"; do
	[ "${T_STEP[$i]}" = sc_shadow ] && want "${T_ID[$i]}" && SHADOW_TWIN=1
done

# Orientations: region A on lighttpd and B on Apache, then swapped (E2E_SWAP=1: the swapped
# one only; E2E_FAST: the first only).
ORIENTS="lighttpd:apache apache:lighttpd"
[ -n "${E2E_FAST:-}" ] && ORIENTS="lighttpd:apache"
[ -n "${E2E_SWAP:-}" ] && ORIENTS="apache:lighttpd"
echo "# orientations (A:B): $ORIENTS; scenarios:$SEL"

first=1
for ORIENT in $ORIENTS; do
	KA=${ORIENT%%:*} KB=${ORIENT##*:}
	echo "# === region A (westeurope): $KA; region B (eastus2): $KB"
	if [ $first = 1 ]; then
		if ! setup_region A "$KA" || ! setup_region B "$KB"; then
			KEEP_WORK=1; echo "# setup failed, logs kept in $WORK"; echo "0 passed, 1 failed"; exit 1
		fi
	elif ! serve A "$KA" || ! serve B "$KB"; then
		KEEP_WORK=1; echo "# swapping the web servers failed, logs kept in $WORK"; echo "$(basename "$0" .sh): $N_PASS passed, $((N_FAIL + 1)) failed"; exit 1
	fi
	warm_up || { KEEP_WORK=1; echo "$(basename "$0" .sh): $N_PASS passed, $((N_FAIL + 1)) failed"; exit 1; }
	settle || { KEEP_WORK=1; echo "# the regions never became healthy"; echo "$(basename "$0" .sh): $N_PASS passed, $((N_FAIL + 1)) failed"; exit 1; }

	for ti in "${!T_ID[@]}"; do
		id=${T_ID[$ti]}
		[[ ${T_STEP[$ti]} == after\ * ]] && continue  # reported by the run it is measured in
		runs "$id" || continue
		[ $first = 0 ] && [[ $FIRST_ONLY == *" $id "* ]] && continue
		"${T_STEP[$ti]}" "$id" "${T_WHAT[$ti]}" "${T_MOVERS[$ti]}" "${T_STAYERS[$ti]}" "${T_EXPECTED[$ti]}"
	done
	first=0
done

# ---- report ----
echo
echo "Budgets from the configuration: prober every ${P_INTERVAL}s (deadline ${P_DEADLINE}s), fall $P_FALL, rise $P_RISE, recheck ${RECHECK_MS}ms, max_age ${MAX_AGE}s; emulator every ${TM_INTERVAL}ms, $TM_TOL tolerated"
echo "  failover = interval*fall + deadline + recheck + tm_interval*(tolerated+1) = $B_FAIL ms"
echo "  back     = interval*rise + deadline + recheck + tm_interval                = $B_BACK ms"
echo "  stale    = (max_age+1 s) + recheck + tm_interval                           = $B_STALE ms"
echo "  switch   = recheck + tm_interval                                            = $B_SWITCH ms"
echo
{
	echo "A:B|scenario|expected|observed|failover ms (budget)|back ms (budget)|result"
	for r in "${ROWS[@]}"; do
		IFS='|' read -r ori id exp obs fms fb bms bb res <<<"$r"
		fb2=""; [ "$fb" != "-" ] && fb2=" ($fb)"
		bb2=""; [ "$bb" != "-" ] && bb2=" ($bb)"
		echo "$ori|$id|$exp|$obs|$fms$fb2|$bms$bb2|$res"
	done
} | column -t -s '|'
echo "# suite ran $(($(date +%s) - SUITE_START)) s"
[ -n "${KEEP_WORK:-}" ] && echo "# kept $WORK"
[ "$N_FAIL" -gt 0 ] && { KEEP_WORK=1; echo "# failures: logs kept in $WORK (tm.*.log, */probe.out, */web/)"; }
echo "$(basename "$0" .sh): $N_PASS passed, $N_FAIL failed"
[ "$N_FAIL" -eq 0 ] && [ "$N_PASS" -gt 0 ]
