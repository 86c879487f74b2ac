#!/usr/bin/env bash
# test_metrics.sh: the metrics, end to end through a real Prometheus.  The real prober runs
# against HTTP fixture servers and writes its textfile (prober.metrics), which a real
# node_exporter serves; real lighttpd spawns two responders that share their counters
# (responder.counters) and serve /health and /deephealth/metrics; Prometheus scrapes both every
# second, and every figure is asserted with PromQL against what the test did: requests sent
# (per code and reason, per kind of Host), the snapshot's verdicts, the dependency made to fail,
# the region failing open when the prober goes blind and when the snapshot goes stale.  Both
# documents pass promtool check metrics; 100,000 failing registries stay within the series cap.
# Loopback only; every server is stopped by lib.sh's cleanup; the whole run is bounded (< 90 s).
. tests/integration/lib.sh
. tests/integration/servers.sh
. tests/integration/prom.sh

# ---- Names: the one place to update when a series, a label or a key is renamed. ----------
METRICS_PATH=/deephealth/metrics             # the responder's metrics document
K_COUNTERS=counters                          # responder.counters
K_PROBER_METRICS=metrics                     # prober.metrics
R_ANSWERS=deephealth_responder_answers_total              # {code, reason}
R_HOSTS=deephealth_responder_hosts_total                  # {kind}
R_LOADS=deephealth_responder_snapshot_loads_total
R_LOAD_FAILS=deephealth_responder_snapshot_load_failures_total
R_FAIL_OPEN=deephealth_responder_fail_open
R_REGION=deephealth_responder_region_state                # {reason}
R_AGE=deephealth_responder_snapshot_age_seconds
R_SHARED=deephealth_responder_counters_shared
R_OVERRIDES=deephealth_responder_overrides_in_force
R_FO=deephealth_responder_registries_failing_over
R_FO_BY_DEP=deephealth_responder_registries_failing_over_by_dependency  # {dependency, kind}
R_FO_FORCED=deephealth_responder_registries_failing_over_forced
R_OVR_SET=deephealth_responder_override_set_timestamp_seconds         # {scope, action}
R_OVR_EXPIRY=deephealth_responder_override_expiry_timestamp_seconds   # {scope, action}
R_OVR_UNLISTED=deephealth_responder_overrides_unlisted
R_INPUT=deephealth_responder_admin_input_state                        # {input, state}: a state set
K_EVENT_LOG=event_log                        # prober.event_log
R_PREFIX=deephealth_responder_                            # every responder series starts so
P_CREATED=deephealth_snapshot_created_timestamp_seconds
P_BLIND=deephealth_prober_blind
P_DURATION=deephealth_prober_pass_duration_seconds
P_LAST_PUBLISH=deephealth_prober_last_publish_timestamp_seconds
P_PASSES=deephealth_prober_passes_total                   # {result}
P_DEADLINE=deephealth_prober_deadline_hits_total
P_CHECKS=deephealth_prober_checks_total                   # {outcome}
P_TRANSITIONS=deephealth_prober_transitions_total
P_DEP_STATE=deephealth_dependency_state                   # {dependency, kind, severity, state}: a state set
P_DEP_STATES=4                                            # ... its states: pass warn fail unknown
B_INFO=deephealth_build_info                              # {program, version}: both documents
P_DEPS=deephealth_dependencies                            # {state}
P_REGS=deephealth_registries                              # {verdict}: pass warn fail single-region
P_REG_NOT_PASSING=deephealth_registry_not_passing         # {registry, verdict}
P_REG_DROPPED=deephealth_registry_not_passing_dropped
P_OVERRIDES=deephealth_prober_overrides_in_force
REG_SERIES_CAP=${DH_REG_SERIES_CAP:-100}                  # most per-registry series allowed
BIG=${DH_METRICS_BIG:-100000}                             # registries in the cardinality run
# --------------------------------------------------------------------------------------------

T0=$SECONDS
for c in prometheus promtool prometheus-node-exporter; do
	command -v "$c" >/dev/null || { not_ok "$c installed (Debian packages prometheus, prometheus-node-exporter)"; finish; }
done
LIMIT=85 # seconds: no wait goes past this point of the run
PROBE=$BUILD/deephealth-probe
CTL=$BUILD/deephealthctl
DH_VER=$("$PROBE" -V | awk '{ print $2 }')
S=$WORK/state
mkdir -p "$S/metrics"
chmod 755 "$S" "$S/metrics"
www_dir "$S/run"   # the responders (www-data) make their counters file here
SNAP=$S/snapshot
TEXTFILE=$S/metrics/deephealth.prom
TALLY=$WORK/answers   # "CODE REASON" of every health answer the test received
: >"$TALLY"

FIXDIR=$S
start_fix sa1
start_fix sa2
start_fix auth
mode sa1 500

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
  $K_COUNTERS = "run/counters"; };
resolver = { rules = ( "^(?<registry>[a-z0-9-]{3,50})\\\\.azurecr\\\\.io\$" ); };
prober = { registries = "registries.map"; region = "westeurope"; state = "probe.state";
  lock = "probe.lock"; interval = 10; deadline = 6; $K_PROBER_METRICS = "metrics/deephealth.prom";
  $K_EVENT_LOG = "events.log"; };
dependencies = (
  { name = "sa1"; kind = "storage"; type = "http"; url = "http://127.0.0.1:${FIXPORT[sa1]}/blob";
    timeout_ms = 1500; fall = 1; rise = 1; },
  { name = "sa2"; kind = "storage"; type = "http"; url = "http://127.0.0.1:${FIXPORT[sa2]}/blob";
    timeout_ms = 1500; fall = 1; rise = 1; },
  { name = "auth"; kind = "auth"; type = "http"; witness = true;
    url = "http://127.0.0.1:${FIXPORT[auth]}/health"; timeout_ms = 1500; }
);
EOF

# probe: one prober pass (under valgrind with make valgrind); its exit status.  The state is
# made readable by the responders afterwards.
probe() {
	"${VG[@]}" "$PROBE" -c "$S/dh.conf" >>"$S/probe.out" 2>&1
	local rc=$?
	chmod -R a+rX "$S"
	return $rc
}
# verdicts: the snapshot's registries per verdict, "fail=N pass=N ..." (sorted).
verdicts() { "$SNAPTOOL" dump "$SNAP" | awk '$1 == "reg" { n[$3]++ } END { for (v in n) print v "=" n[v] }' | sort | xargs; }

# pcheck DESC EXPR EXPECTED: assert that PromQL EXPR reaches EXPECTED (scrapes are
# asynchronous: polled, at most 8 s, and 3 s once past LIMIT).  On failure, the targets.
pcheck() {
	local t=$((LIMIT - (SECONDS - T0)))
	[ "$t" -gt 8 ] && t=8
	[ "$t" -lt 3 ] && t=3
	local v
	if v=$(prom_wait_value "$2" "$3" "$t"); then ok "$1"; return; fi
	not_ok "$1" "expected [$3], got [$v] from $2"
	prom_targets
}

# hit PARALLEL HOST...: one GET of /health per HOST, PARALLEL at a time (curl -Z, so both
# responder processes answer); prints "CODE REASON" per answer and adds it to the tally.
hit() {
	local par=$1 cfg=$WORK/hit.cfg h; shift
	: >"$cfg"
	for h in "$@"; do
		[ -s "$cfg" ] && echo next >>"$cfg"
		printf 'url = "%s"\nheader = "Host: %s"\noutput = "/dev/null"\nsilent\nmax-time = 10\nwrite-out = "%s"\n' \
			"$U/health" "$h" '%{http_code} %header{x-deephealth-reason}\n' >>"$cfg"
	done
	# (stderr: curl 7.88 shows its parallel progress meter even with -s; a failed transfer
	# still prints its line, code 000)
	curl -s -Z --parallel-max "$par" -K "$cfg" 2>/dev/null | tee -a "$TALLY"
}
tally() { sort | uniq -c | awk '{ printf "%s%d %s %s", sep, $1, $2, $3; sep = ", " }'; }
# wchar: "PID:BYTES ..." written by each responder of this test (both are lighttpd's children).
wchar() {
	local p
	for p in $(pgrep -P "$(cat "$L/lighttpd.pid" 2>/dev/null)" -f -- "-c $S/dh.conf"); do
		echo "$p:$(awk '$1 == "wchar:" { print $2 }' "/proc/$p/io" 2>/dev/null)"
	done | xargs
}

# ---- 1. The prober: one pass; sa1 (fall 1) fails, so do fabrikam and litware. ------------
# -f: before the first pass there is no snapshot to check the scope against.
"$CTL" -c "$S/dh.conf" override add registry:contoso force-fail -e 1h -r "metrics test" -f >/dev/null
probe
check "prober pass 1: exit 0" 0 "$?"
check "prober pass 1: the snapshot's verdicts" "fail=2 pass=2" "$(verdicts)"
check "prober pass 1: textfile written (prober.metrics)" yes "$([ -s "$TEXTFILE" ] && echo yes || echo no)"
out=$(promtool check metrics <"$TEXTFILE" 2>&1)
check "promtool check metrics: the prober's textfile is clean" "0 []" "$? [$out]"

# ---- 2. lighttpd: max-procs 2, /health and the metrics document to the same responders. ---
L=$WORK/lighttpd
PORT=$(free_port)
U=http://127.0.0.1:$PORT
lighttpd_base "$L" "$PORT" "$L"
cat >>"$L/lighttpd.conf" <<EOF
server.modules += ( "mod_fastcgi" )
# One backend for both paths (the responder tells them apart by REQUEST_URI); the key "/"
# takes every URL this exact-path condition lets through.
\$HTTP["url"] =~ "^/(health|${METRICS_PATH#/})\$" {
  fastcgi.server = ( "/" => (( "bin-path" => "$(fcgi_cmd "$S/dh.conf")", "socket" => "$L/run/dh.sock",
    "max-procs" => 2, "check-local" => "disable" )) )
}
EOF
out=$(lighttpd -tt -f "$L/lighttpd.conf" 2>&1)
check "lighttpd -tt accepts the configuration" "" "$out"
lighttpd -D -f "$L/lighttpd.conf" >>"$L/stdout.log" 2>&1 &
PIDS+=($!)
if ! wait_http "$U/"; then not_ok "lighttpd started"; finish; fi
for _ in $(seq 50); do [ "$(wchar | wc -w)" -ge 2 ] && break; sleep 0.1; done
check "lighttpd runs 2 responders" 2 "$(wchar | wc -w)"
hdr=$(curl -s -D - -o "$WORK/responder.metrics" "$U$METRICS_PATH" | tr -d '\r')
check_match "the metrics document: 200, text format 0.0.4" '^HTTP/1.1 200 .*Content-Type: text/plain; version=0.0.4' "$(echo "$hdr" | tr '\n' ' ')"
out=$(promtool check metrics <"$WORK/responder.metrics" 2>&1)
check "promtool check metrics: the responder's document is clean" "0 []" "$? [$out]"

# ---- 3. node_exporter on the textfile directory, Prometheus scraping both. ----------------
node_exporter_start "$(free_port)" "$S/metrics" || not_ok "node_exporter started"
if ! prom_start "$WORK/prom" "$(free_port)" "127.0.0.1:$PORT$METRICS_PATH" "${NODE_EXPORTER_URL#http://}/metrics"; then
	not_ok "Prometheus started"; finish
fi
if prom_wait_up 2 20; then ok "Prometheus scrapes the responders (via lighttpd) and node_exporter"
else not_ok "Prometheus: both targets up"; finish; fi
pcheck "node_exporter read the textfile without error" 'node_textfile_scrape_error' 0
out=$(curl -s "$NODE_EXPORTER_URL/metrics" | promtool check metrics 2>&1)
check "promtool check metrics: the prober's figures as node_exporter serves them are clean" "0 []" "$? [$out]"

# ---- 4. The prober's figures against what the snapshot says. ------------------------------
pcheck "prober: not blind" "$P_BLIND" 0
pcheck "prober: 1 pass published" "sum($P_PASSES{result=\"published\"})" 1
pcheck "prober: no blind or failed pass" "sum($P_PASSES{result=~\"blind|failed\"}) or vector(0)" 0
pcheck "prober: no deadline hit" "$P_DEADLINE" 0
pcheck "prober: 3 checks" "sum($P_CHECKS)" 3
pcheck "prober: 1 check failed (sa1)" "sum($P_CHECKS{outcome=\"fail\"})" 1
pcheck "prober: 2 checks passed" "sum($P_CHECKS{outcome=\"pass\"})" 2
pcheck "prober: sa1 (the fixture made to fail) is a failing storage dependency" \
	"$P_DEP_STATE{dependency=\"sa1\",kind=\"storage\",state=\"fail\"}" 1
pcheck "prober: ... and in no other state" "sum($P_DEP_STATE{dependency=\"sa1\",state!=\"fail\"})" 0
pcheck "prober: no other dependency failing" "count($P_DEP_STATE{state=\"fail\"} == 1)" 1
pcheck "prober: each dependency in exactly one state" "count($P_DEP_STATE == 1)" 3
pcheck "prober: a state set: one series per dependency and state" "count($P_DEP_STATE)" $((3 * P_DEP_STATES))
pcheck "prober: its build info" "$B_INFO{program=\"deephealth-probe\",version=\"$DH_VER\"}" 1
pcheck "prober: dependencies: 1 fail" "$P_DEPS{state=\"fail\"}" 1
pcheck "prober: dependencies: 2 pass" "$P_DEPS{state=\"pass\"}" 2
want=$(verdicts)
got=$(for v in fail pass single-region warn; do
	n=$(prom_query "$P_REGS{verdict=\"$v\"}"); [ "$n" = none ] || [ "$n" = 0 ] || echo "$v=$n"
done | xargs)
check "prober: registries per verdict = the snapshot's ($want)" "$want" "$got"
pcheck "prober: fabrikam and litware not passing, each one series" \
	"count($P_REG_NOT_PASSING{registry=~\"fabrikam|litware\",verdict=\"fail\"} == 1)" 2
pcheck "prober: none dropped under the cap" "$P_REG_DROPPED" 0
pcheck "prober: the override in force" "$P_OVERRIDES" 1
pcheck "prober: snapshot created within the last minute" "time() - $P_CREATED < bool 60" 1
pcheck "prober: published within the last minute" "time() - $P_LAST_PUBLISH < bool 60" 1
pcheck "prober: pass duration within the deadline (6 s)" "$P_DURATION < bool 6" 1
pcheck "prober: 1 transition (sa1 pass -> fail)" "$P_TRANSITIONS" 1

# ---- 5. The responders' counters: N unknown hosts spread over both processes, and more. ----
pcheck "responder: counters file shared" "$R_SHARED" 1
pcheck "responder: its build info" "$B_INFO{program=\"deephealth.fcgi\",version=\"$DH_VER\"}" 1
pcheck "responder: not failing open" "$R_FAIL_OPEN" 0
pcheck "responder: enforcing per registry" "$R_REGION{reason=\"per-registry\"}" 1
pcheck "responder: exactly one region state is 1" "count($R_REGION == 1)" 1
N=200
before=$(wchar)
hosts=()
for i in $(seq "$N"); do hosts+=("probe-$i.unknown.example"); done
check "$N requests with an unknown Host: 200 unknown-host" "$N 200 unknown-host" "$(hit 50 "${hosts[@]}" | tally)"
after=$(wchar)
served=0
for p in $after; do
	b=$(echo "$before" | tr ' ' '\n' | awk -F: -v p="${p%%:*}" '$1 == p { print $2 }')
	[ -n "$b" ] && [ "${p#*:}" -gt "$b" ] && served=$((served + 1))
done
check "both responder processes answered some of them (bytes written: $before -> $after)" 2 "$served"
pcheck "sum($R_HOSTS{kind=\"unknown\"}) == $N" "sum($R_HOSTS{kind=\"unknown\"})" "$N"
pcheck "$R_ANSWERS{code=\"200\",reason=\"unknown-host\"} == $N" "sum($R_ANSWERS{code=\"200\",reason=\"unknown-host\"})" "$N"
K=37
hosts=(); for _ in $(seq "$K"); do hosts+=(fabrikam.azurecr.io); done
check "$K requests for a failing registry: 503 dependency-failed" "$K 503 dependency-failed" "$(hit 10 "${hosts[@]}" | tally)"
pcheck "$R_ANSWERS{code=\"503\",reason=\"dependency-failed\"} == $K" "sum($R_ANSWERS{code=\"503\",reason=\"dependency-failed\"})" "$K"
hosts=(); for _ in $(seq 11); do hosts+=(contoso.azurecr.io); done
for _ in $(seq 23); do hosts+=(tailspin.azurecr.io); done
check "an override forces one registry out, the healthy one stays" "23 200 healthy, 11 503 override-fail" \
	"$(hit 10 "${hosts[@]}" | tally)"
pcheck "responder: the override in force" "$R_OVERRIDES" 1
# What the alerting rules (conf/deephealth-alerts.yml) are written over.
pcheck "responder: 3 registries failing over (fabrikam, litware by sa1; contoso forced)" "$R_FO" 3
pcheck "responder: 2 of them decided by sa1, a storage dependency" "$R_FO_BY_DEP{dependency=\"sa1\",kind=\"storage\"}" 2
pcheck "responder: none decided by sa2 or auth" "sum($R_FO_BY_DEP{dependency=~\"sa2|auth\"})" 0
pcheck "responder: one series per dependency of the snapshot" "count($R_FO_BY_DEP)" 3
pcheck "responder: 1 forced out by the override (contoso)" "$R_FO_FORCED" 1
pcheck "responder: failing over = by dependency + forced" "sum($R_FO) - sum($R_FO_BY_DEP) - sum($R_FO_FORCED)" 0
pcheck "responder: the override's set time, within the last minute" \
	"time() - $R_OVR_SET{scope=\"registry:contoso\",action=\"force-fail\"} < bool 60" 1
pcheck "responder: its expiry, 1 h after it was set" \
	"$R_OVR_EXPIRY{scope=\"registry:contoso\",action=\"force-fail\"} - ignoring(__name__) $R_OVR_SET" 3600
pcheck "responder: one series per override" "count($R_OVR_EXPIRY)" 1
pcheck "responder: no override unlisted" "$R_OVR_UNLISTED" 0
pcheck "responder: the event log readable (the prober wrote sa1's transition)" "$R_INPUT{input=\"event_log\",state=\"ok\"}" 1
pcheck "responder: the counters file usable" "$R_INPUT{input=\"counters\",state=\"ok\"}" 1
pcheck "responder: no fleet file (no follower)" "$R_INPUT{input=\"fleet\",state=\"none\"}" 1
pcheck "responder: each admin input in exactly one state" "count($R_INPUT == 1)" 3
chmod 600 "$S/events.log"
echo 'not a fleet file' >"$S/snapshot.fleet"
pcheck "responder: an event log the responders cannot open: unreadable" "$R_INPUT{input=\"event_log\",state=\"unreadable\"}" 1
pcheck "responder: a damaged fleet file: unreadable" "$R_INPUT{input=\"fleet\",state=\"unreadable\"}" 1
chmod 644 "$S/events.log"
rm -f "$S/snapshot.fleet"
pcheck "responder: both readable again" "sum($R_INPUT{input=~\"event_log|fleet\",state=\"unreadable\"})" 0
long=$(printf 'x%.0s' $(seq 300)).azurecr.io
hit 4 "$long" "$long" "$long" "$long" "$long" >/dev/null
pcheck "sum($R_HOSTS{kind=\"too-long\"}) == 5" "sum($R_HOSTS{kind=\"too-long\"})" 5
hit 3 '[::1]:443' '[::1]' '[2001:db8::1]' >/dev/null
pcheck "sum($R_HOSTS{kind=\"ip-literal\"}) == 3 (bracketed IPv6; lighttpd refuses bad bytes and ports itself)" \
	"sum($R_HOSTS{kind=\"ip-literal\"})" 3
curl -s -o /dev/null --data '' -H 'Host: tailspin.azurecr.io' \
	-w '%{http_code} %header{x-deephealth-reason}\n' "$U/health" >>"$TALLY"
# Every (code, reason) the responders answered, as counted by the test, against the metric.
while read -r n code reason; do
	pcheck "$R_ANSWERS{code=\"$code\",reason=\"$reason\"} == $n (as answered)" \
		"sum($R_ANSWERS{code=\"$code\",reason=\"$reason\"})" "$n"
done < <(awk 'NF == 2' "$TALLY" | sort | uniq -c)
total=$(awk 'NF == 2' "$TALLY" | wc -l)
pcheck "sum($R_ANSWERS) == $total: every health answer counted once, nothing else" "sum($R_ANSWERS)" "$total"
pcheck "responder: both processes loaded the snapshot" "$R_LOADS >= bool 2" 1
pcheck "responder: no load failure" "$R_LOAD_FAILS" 0
pcheck "responder: snapshot age under a minute" "$R_AGE < bool 60" 1

# ---- 6. Cardinality: BIG registries, every one failing. -----------------------------------
nseries=$(prom_query "count({__name__=~\"$R_PREFIX.+\"})")
awk -v n="$BIG" 'BEGIN { for (i = 0; i < n; i++) printf "r%06d westeurope,eastus sa1 -\n", i }' >"$S/registries.map"
t=$SECONDS
probe
check "prober pass 2 over $BIG registries: exit 0 ($((SECONDS - t)) s)" 0 "$?"
check "the snapshot: $BIG registries failing" "fail=$BIG" "$(verdicts)"
out=$(promtool check metrics <"$TEXTFILE" 2>&1)
check "promtool check metrics: the textfile is clean with $BIG registries" "0 []" "$? [$out]"
check_match "the textfile stays small ($(wc -l <"$TEXTFILE") lines)" '^[0-9]{1,3}$' "$(($(wc -l <"$TEXTFILE") / 10))"
pcheck "prober: $P_REGS{verdict=\"fail\"} == $BIG" "$P_REGS{verdict=\"fail\"}" "$BIG"
pcheck "prober: the 2 registries of the small map gone from the series" \
	"count($P_REG_NOT_PASSING{registry=~\"fabrikam|litware\"}) or vector(0)" 0
n=$(prom_query "count($P_REG_NOT_PASSING)")
if [[ $n =~ ^[0-9]+$ ]] && [ "$n" -le "$REG_SERIES_CAP" ] && [ "$n" -gt 0 ]; then
	ok "prober: $n per-registry series, at most the cap ($REG_SERIES_CAP)"
else
	not_ok "prober: per-registry series at most the cap ($REG_SERIES_CAP)" "got [$n]"
fi
pcheck "prober: $P_REG_DROPPED == $BIG - $n" "$P_REG_DROPPED" "$((BIG - ${n//[^0-9]/}))"
hosts=(); for i in $(seq 0 499); do hosts+=("$(printf 'r%06d' $((i * 199))).azurecr.io"); done
check "500 different failing registries: 503 dependency-failed" "500 503 dependency-failed" "$(hit 20 "${hosts[@]}" | tally)"
pcheck "responder: the 500 counted" "sum($R_ANSWERS{code=\"503\",reason=\"dependency-failed\"})" "$((K + 500))"
pcheck "responder: no new series for $BIG registries and 500 of them asked ($nseries before)" \
	"count({__name__=~\"$R_PREFIX.+\"})" "$nseries"
# A time: not under make valgrind, whose responders run under memcheck.
[ -n "${DH_VALGRIND:-}" ] ||
	pcheck "responder: its document is scraped in under 0.5 s" "scrape_duration_seconds{job=\"t1\"} < bool 0.5" 1
out=$(curl -s "$U$METRICS_PATH" | promtool check metrics 2>&1)
check "promtool check metrics: the responder's document is clean with $BIG registries" "0 []" "$? [$out]"

# ---- 7. The region fails open: prober blind, then snapshot stale, then corrupt. ----------
# look HOST: after each change, 20 requests at once, so that both responders look at the snapshot.
look() { local h=() i; for ((i = 0; i < 20; i++)); do h+=("$1"); done; hit 20 "${h[@]}" >/dev/null; }
mode auth refuse
probe
check "prober pass 3, the witness refused: blind (exit 7)" 7 "$?"
pcheck "prober: blind" "$P_BLIND" 1
pcheck "prober: 1 blind pass" "sum($P_PASSES{result=\"blind\"})" 1
look fabrikam.azurecr.io
check "a failing registry answered 200 prober-blind" "200 prober-blind" "$(hit 1 fabrikam.azurecr.io)"
pcheck "responder: failing open" "$R_FAIL_OPEN" 1
pcheck "responder: region state prober-blind" "$R_REGION{reason=\"prober-blind\"}" 1
pcheck "failing open: no registry failing over" "sum($R_FO) + sum($R_FO_BY_DEP) + sum($R_FO_FORCED)" 0
pcheck "responder: exactly one region state is 1" "count($R_REGION == 1)" 1
printf 'created now-1000\ninterval 10\ndep sa1 fail storage critical\nreg fabrikam fail by=sa1\n' | snap "$SNAP"
look fabrikam.azurecr.io
pcheck "stale snapshot: failing open" "$R_FAIL_OPEN" 1
pcheck "stale snapshot: region state snapshot-stale" "$R_REGION{reason=\"snapshot-stale\"}" 1
pcheck "stale snapshot: its age seen (over 900 s)" "$R_AGE > bool 900" 1
fails=$(prom_query "$R_LOAD_FAILS")
head -c 100 "$SNAP" >"$S/trunc" && mv "$S/trunc" "$SNAP" && chmod 644 "$SNAP"
look fabrikam.azurecr.io
check "corrupt snapshot: a failing registry answered 200 snapshot-corrupt" "200 snapshot-corrupt" "$(hit 1 fabrikam.azurecr.io)"
pcheck "corrupt snapshot: region state snapshot-corrupt" "$R_REGION{reason=\"snapshot-corrupt\"}" 1
pcheck "corrupt snapshot: load failures counted" "$R_LOAD_FAILS > bool ${fails//[^0-9]/}" 1
pcheck "corrupt snapshot: failing open" "$R_FAIL_OPEN" 1
pcheck "the responders' answers: still every one counted" "sum($R_ANSWERS)" "$(awk 'NF == 2' "$TALLY" | wc -l)"

stop_server lighttpd
el=$((SECONDS - T0))
if [ "$el" -lt 90 ]; then ok "the whole test took ${el} s (< 90)"; else not_ok "the whole test under 90 s" "${el} s"; fi
finish
