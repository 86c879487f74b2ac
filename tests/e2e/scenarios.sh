# scenarios.sh: the end-to-end scenarios that are not one fault then its heal (those are
# fault_heal in lib.sh).  Sourced by run.sh after lib.sh; each step is called as
# STEP ID SCENARIO MOVERS STAYERS EXPECTED with the fields of its row of run.sh's table, and
# reports one row under that ID with that scenario and expected text.

sc_cache() {
	local id=$1 what=$2 movers=$3 stayers=$4 expected=$5
	sc_begin "$id" "redis stopped in region A"
	settle || fail_because "not settled"
	tm_start "${URL[A]}"
	hold 1500
	stop_redis A
	wait_reason "${URL[A]}" contoso.azurecr.io '^200 degraded' "$(wait_bound $B_FAIL)" || fail_because "region A never said 200 degraded"
	hold "$HOLD_MS"
	start_redis A || fail_because "redis did not restart"
	wait_reason "${URL[A]}" contoso.azurecr.io '^200 healthy' "$(wait_bound $B_BACK)" || fail_because "region A never healthy again"
	hold 1000
	tm_stop
	expect_seq "$stayers" "A"
	row "$id $what" "$expected" "$(observed)" "-" "-" "-" "-"
}

# sc_blip: storage fails for fewer than fall passes, repeated with random spacing
sc_blip() {
	local id=$1 what=$2 movers=$3 stayers=$4 expected=$5 i n ev0
	sc_begin "$id" "storage blips shorter than fall"
	ev0=$(grep -c '"dependency":"sa1"' "$WORK/A/events.jsonl" 2>/dev/null)
	settle || fail_because "not settled"
	tm_start "${URL[A]}"
	hold 1000
	for i in 1 2 3 4; do
		n=$(grep -c 'debug: published' "$WORK/A/probe.out")
		fix_mode A sa1 500
		# at most the pass in flight and the next one see it: 2 < fall
		for _ in $(seq 60); do [ "$(grep -c 'debug: published' "$WORK/A/probe.out")" -gt "$n" ] && break; sleep 0.05; done
		fix_mode A sa1 200
		hold $((1000 * P_INTERVAL * 2 + RANDOM % 1000))
	done
	hold 1500
	tm_stop
	expect_seq "$stayers" "A"
	[ "$(grep -c '"dependency":"sa1"' "$WORK/A/events.jsonl" 2>/dev/null)" = "$ev0" ] || fail_because "sa1 changed state (event log)"
	row "$id $what" "$expected" "$(observed)" "-" "-" "-" "-"
}

# sc_flap: storage failing at random, 20 % of checks, for FLAP_PASSES passes, with the default
# thresholds (fall 3, rise 2, 3 tolerated failures) and the load balancer probing at the
# production ratio to the prober (Traffic Manager every 30 s, prober every 10 s: P = 3 I).
# The draws are httpfix's seeded sequence (seed 1), one per pass: the prober does go down
# (3 failures in a row around pass 30, for 4 passes), and the load balancer, which needs
# (T + 1) x P = 12 s of 503s, must not move anyone.
FLAP_PASSES=45
FLAP_P=$((3 * P_INTERVAL * 1000))
sc_flap() {
	local id=$1 what=$2 movers=$3 stayers=$4 expected=$5 c0 c n downs
	sc_begin "$id" "storage flapping at 20 % (seeded), load balancer at P = 3 x prober interval"
	settle || fail_because "not settled"
	n=$(grep -c '"dependency":"sa1","from":"pass","to":"fail"' "$WORK/A/events.jsonl" 2>/dev/null)
	tm_start "${URL[A]}" "$FLAP_P" $((FLAP_P * 2 / 3))
	hold 1000
	c0=$(curl -s --max-time 2 "http://127.0.0.1:${FIX[A.sa1]}/_fix/count")
	fix_mode A sa1 "flaky 20 1"
	for _ in $(seq $((FLAP_PASSES * 4))); do
		c=$(curl -s --max-time 2 "http://127.0.0.1:${FIX[A.sa1]}/_fix/count")
		[ "${c:-0}" -ge $((c0 + FLAP_PASSES)) ] && break
		sleep 0.5
	done
	[ "${c:-0}" -ge $((c0 + FLAP_PASSES)) ] || fail_because "only $((c - c0)) checks of sa1 in $((FLAP_PASSES * 2)) s"
	fix_mode A sa1 200
	wait_reason "${URL[A]}" contoso.azurecr.io '^200 healthy' "$(wait_bound $B_BACK)" || fail_because "region A not healthy after the flapping"
	hold "$FLAP_P"
	tm_stop
	downs=$(($(grep -c '"dependency":"sa1","from":"pass","to":"fail"' "$WORK/A/events.jsonl" 2>/dev/null) - n))
	[ "$downs" -ge 1 ] || fail_because "the prober never took sa1 down: the scenario did not flap"
	expect_seq "$stayers" "A"
	expect_b_online "$ALL"
	row "$id $what" "$expected" "$(observed); sa1 down in the prober ${downs}x, $(grep -c -- '-> 500' "$WORK/A/sa1.log" 2>/dev/null) failed checks" "-" "-" "-" "-"
}

sc_stale() {
	local id=$1 what=$2 movers=$3 stayers=$4 expected=$5 t0 tf tk ts tr tf2 th tb np
	sc_begin "$id" "prober killed while storage fails"
	settle || fail_because "not settled"
	tm_start "${URL[A]}"
	hold 1500
	t0=$(now_ms); fix_mode A sa1 500
	tf=$(group_route "$movers" B "$t0" "$(wait_bound $B_FAIL)") || fail_because "$movers did not move to B"
	tk=$(now_ms); stop_prober A
	ts=$(group_route "$movers" A "$tk" "$(wait_bound $B_STALE)") || fail_because "$movers did not fail open back to A"
	[[ $(req_reason "${URL[A]}" contoso.azurecr.io) =~ ^200\ snapshot-stale ]] || fail_because "region A not 200 snapshot-stale"
	[ -n "$ts" ] && [ $((ts - tk)) -lt $(((MAX_AGE - P_INTERVAL - P_DEADLINE) * 1000)) ] &&
		fail_because "back after $((ts - tk)) ms, before the snapshot could be stale"
	hold 1000
	# Restarted with storage still failing: its saved counters are older than max_age, so it
	# starts fresh, and contoso leaves again only after fall new passes.
	tr=$(now_ms); start_prober A
	tf2=$(group_route "$movers" B "$tr" "$(wait_bound $B_FAIL)") || fail_because "$movers did not leave again after the restart"
	np=$(passes A "$tr" "$((${tf2:-0} + TM_TIMEOUT))")
	[ -n "$tf2" ] && [ "$np" -lt "$P_FALL" ] && fail_because "left again after $np passes of the restarted prober (< fall $P_FALL)"
	grep -q 'too old to trust, starting fresh' "$WORK/A/probe.out" || fail_because "the restarted prober did not discard its old counters"
	th=$(now_ms); fix_mode A sa1 200
	tb=$(group_route "$movers" A "$th" "$(wait_bound $B_BACK)") || fail_because "$movers did not come back"
	hold 1500
	tm_stop
	expect_seq "$movers" "A>B>A>B>A"
	expect_seq "$stayers" "A"
	row "$id $what" "$expected" "$(observed)" "$(ms_or_dash "$tf" "$t0")" "$B_FAIL" "$(ms_or_dash "$ts" "$tk")" "$B_STALE"
}

sc_corrupt() {
	local id=$1 what=$2 movers=$3 stayers=$4 expected=$5 size
	sc_begin "$id" "snapshot corrupted on disk"
	settle || fail_because "not settled"
	tm_start "${URL[A]}"
	hold 1500
	stop_prober A
	size=$(stat -c %s "$WORK/A/snapshot")
	printf 'CORRUPTED' | dd of="$WORK/A/snapshot" bs=1 seek=$((size / 2)) conv=notrunc status=none
	wait_reason "${URL[A]}" contoso.azurecr.io '^200 snapshot-corrupt' "$(wait_bound $B_SWITCH)" || fail_because "region A not 200 snapshot-corrupt"
	hold "$HOLD_MS"
	start_prober A
	wait_reason "${URL[A]}" contoso.azurecr.io '^200 healthy' "$(wait_bound $B_BACK)" || fail_because "region A not healthy after the prober restarted"
	hold 1000
	tm_stop
	expect_seq "$stayers" "A"
	row "$id $what" "$expected" "$(observed)" "-" "-" "-" "-"
}

sc_blind() {
	local id=$1 what=$2 movers=$3 stayers=$4 expected=$5
	sc_begin "$id" "prober blind: its witnesses unreachable (and storage failing)"
	settle || fail_because "not settled"
	tm_start "${URL[A]}"
	hold 1500
	fix_mode A auth refuse; fix_mode A witness refuse; fix_mode A sa1 refuse
	wait_reason "${URL[A]}" contoso.azurecr.io '^200 prober-blind' "$(wait_bound $B_FAIL)" || fail_because "region A not 200 prober-blind"
	hold "$HOLD_MS"
	fix_mode A sa1 200; fix_mode A auth 200; fix_mode A witness 200
	wait_reason "${URL[A]}" contoso.azurecr.io '^200 healthy' "$(wait_bound $B_BACK)" || fail_because "region A not healthy again"
	hold 1000
	tm_stop
	expect_seq "$stayers" "A"
	row "$id $what" "$expected" "$(observed)" "-" "-" "-" "-"
}

sc_killswitch() {
	local id=$1 what=$2 movers=$3 stayers=$4 expected=$5 t0 tf tk ta tr tf2 th tb
	sc_begin "$id" "kill switch during scenario 1"
	settle || fail_because "not settled"
	tm_start "${URL[A]}"
	hold 1500
	t0=$(now_ms); fix_mode A sa1 500
	tf=$(group_route "$movers" B "$t0" "$(wait_bound $B_FAIL)") || fail_because "$movers did not move to B"
	tk=$(now_ms); touch "$WORK/A/disable"
	ta=$(group_route "$movers" A "$tk" "$(wait_bound $B_SWITCH)") || fail_because "$movers did not return with the kill switch"
	[[ $(req_reason "${URL[A]}" contoso.azurecr.io) =~ ^200\ passthrough ]] || fail_because "region A not 200 passthrough"
	hold 1000
	tr=$(now_ms); rm -f "$WORK/A/disable"
	tf2=$(group_route "$movers" B "$tr" "$(wait_bound $B_SWITCH_FAIL)") || fail_because "$movers did not leave again"
	th=$(now_ms); fix_mode A sa1 200
	tb=$(group_route "$movers" A "$th" "$(wait_bound $B_BACK)") || fail_because "$movers did not come back"
	hold 1500
	tm_stop
	expect_seq "$movers" "A>B>A>B>A"
	expect_seq "$stayers" "A"
	expect_b_online "$ALL"
	row "$id $what" "$expected" "$(observed)" "$(ms_or_dash "$tf2" "$tr")" "$B_SWITCH_FAIL" "$(ms_or_dash "$ta" "$tk")" "$B_SWITCH"
}

sc_both() {
	local id=$1 what=$2 movers=$3 stayers=$4 expected=$5 tb td
	sc_begin "$id" "storage 1 fails in both regions"
	settle || fail_because "not settled"
	tm_start "${URL[A]}"
	hold 1500
	# B first, so the order of detection is fixed: B degraded (still A), then both (all-degraded rule)
	fix_mode B sa1 500
	tb=$(wait_state contoso online degraded 0 "$(wait_bound $B_FAIL)") || fail_because "contoso's B endpoint never degraded"
	fix_mode A sa1 500
	td=$(wait_state contoso degraded degraded 0 "$(wait_bound $B_FAIL)") || fail_because "contoso never degraded in both"
	hold 1500
	fix_mode A sa1 200
	wait_state contoso online degraded "$(now_ms)" "$(wait_bound $B_BACK)" >/dev/null || fail_because "contoso's A endpoint never online again"
	fix_mode B sa1 200
	wait_state contoso online online "$(now_ms)" "$(wait_bound $B_BACK)" >/dev/null || fail_because "contoso's B endpoint never online again"
	hold 1000
	tm_stop
	expect_seq "$stayers" "A"
	row "$id $what" "$expected" "$(observed)" "-" "-" "-" "-"
}

# sc_shadow: region A's front door in shadow mode (a second server, same snapshot)
sc_shadow() {
	local id=$1 what=$2 movers=$3 stayers=$4 expected=$5 t0
	sc_begin "$id" "shadow mode during scenario 1"
	settle || fail_because "not settled"
	tm_start "$SHADOW_URL"
	hold 1500
	t0=$(now_ms); fix_mode A sa1 500
	wait_reason "$SHADOW_URL" contoso.azurecr.io '^200 [a-z-]+ 503 fail dependency-failed' "$(wait_bound $B_FAIL)" ||
		fail_because "shadow endpoint never showed the would-be 503"
	hold "$HOLD_MS"
	fix_mode A sa1 200
	wait_reason "$SHADOW_URL" contoso.azurecr.io '^200 healthy( 200 pass healthy)?$' "$(wait_bound $B_BACK)" || fail_because "shadow endpoint not healthy again"
	hold 1000
	tm_stop
	expect_seq "$stayers" "A"
	row "$id $what" "$expected" "$(observed)" "-" "-" "-" "-"
}
