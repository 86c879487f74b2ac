#!/usr/bin/env bash
# test_ctl.sh: deephealthctl against real responders.  explain must say what the responder
# answers: a differential over 14,000 generated hosts (every host form: map, rules, case,
# trailing dot, ports, invalid bytes, IP literals, too long, unknown) through real lighttpd,
# then every decision branch (modes, kill switch, snapshot stale, blind, corrupt, missing,
# config error, unknown_host reject) through real lighttpd and Apache.  Then status, check
# and budget: their figures and exit codes.
. tests/integration/lib.sh
. tests/integration/servers.sh

CTL=$BUILD/deephealthctl
ctl() { "${VG[@]}" "$CTL" "$@"; }
S=$WORK/state
mkdir -p "$S"
SNAP=$S/snapshot
KILL=$S/disable

cat >"$S/hosts.map" <<'EOF'
www.fabrikam-custom.example   fabrikam
pull.contoso.example          contoso
cr.litware.example            litware
cr.gone.example               notinsnapshot
EOF
conf() { # NAME EXTRA-RESPONDER-KEYS
	cat >"$S/$1.conf" <<EOF
snapshot = { path = "snapshot"; max_age = 120; };
responder = { kill_switch = "disable"; overrides = "overrides"; counters = "$RUNDIR/counters"; recheck_ms = 0; $2 };
resolver = {
  host_map = "hosts.map";
  rules = ( "^(?<registry>[a-z0-9]{5,50})\\\\.azurecr\\\\.io\$",
            "^(?<registry>[a-z0-9]{5,50})\\\\.[a-z0-9]+\\\\.data\\\\.azurecr\\\\.io\$" );
};
EOF
}
conf enforce ''
conf shadow 'mode = "shadow";'
conf passthrough 'mode = "passthrough";'
conf reject 'unknown_host = "reject";'
printf 'snapshot = { path = "snapshot"; max_age = 0; };\nresponder = { bogus = 1; };\n' >"$S/broken.conf"
chmod -R a+rX "$S"

FIXTURE='created now
interval 10
dep storage-sa001 pass storage critical
dep storage-sa002 fail storage critical since=now-600 cause=HTTP 500
dep cache warn cache degraded all since=now-60 cause=PING timed out
dep auth pass auth critical witness
reg contoso pass
reg fabrikam fail by=storage-sa002 uses=storage-sa002
reg litware warn by=cache
reg northwind fail single by=storage-sa002
reg tailspin pass'
fresh() { echo "$FIXTURE" | snap "$SNAP"; }
fresh

# gen_hosts N SEED: N hosts of every form, one per line (none with '"' or '\', which the
# curl config below cannot carry).
gen_hosts() {
	python3 - "$1" "$2" <<'EOF'
import random, sys
n, rnd = int(sys.argv[1]), random.Random(int(sys.argv[2]))
regs = ["contoso", "fabrikam", "litware", "northwind", "tailspin", "wingtip", "adatum", "zz"]
custom = ["www.fabrikam-custom.example", "pull.contoso.example", "cr.litware.example", "cr.gone.example"]
def case(s): return "".join(c.upper() if rnd.random() < 0.3 else c for c in s)
forms = [
  lambda: rnd.choice(regs) + ".azurecr.io",
  lambda: rnd.choice(regs) + "." + rnd.choice(["westeurope", "eastus2", "x1"]) + ".data.azurecr.io",
  lambda: rnd.choice(custom),
  lambda: case(rnd.choice(regs) + ".azurecr.io"),
  lambda: case(rnd.choice(custom)) + ".",
  lambda: rnd.choice(regs) + ".azurecr.io:" + rnd.choice(["443", "80", "0", "99999", "8080"]),
  lambda: rnd.choice(regs) + ".azurecr.io.:" + str(rnd.randint(1, 65535)),
  lambda: rnd.choice(regs) + ".azurecr.io:" + rnd.choice(["", "abc", "123456", "-1", "80x"]),
  lambda: rnd.choice(["[::1]", "[::1]:443", "[2001:db8::1]", "127.0.0.1", "10.0.0.1:80"]),
  lambda: rnd.choice(["", ".", ":80", "..", "a..b.azurecr.io"]),
  lambda: "x" * rnd.randint(240, 300) + ".azurecr.io",
  lambda: rnd.choice(regs) + rnd.choice(["_", "*", "%41", "!", "~", "+", "=", "@"]) + ".azurecr.io",
  lambda: "".join(rnd.choice("abcdefghijklmnopqrstuvwxyz0123456789-.") for _ in range(rnd.randint(1, 40))),
  lambda: rnd.choice(regs) + ".other.example",
  lambda: rnd.choice(regs) + ".azurecr.io.evil.example",
]
for _ in range(n):
  print(rnd.choice(forms)())
EOF
}

# answers URL HOSTFILE OUT: one curl for all hosts (keep-alive): "CODE REASON STATUS REGISTRY SHADOW" per host.
answers() {
	local url=$1 hosts=$2 out=$3 cfg=$WORK/curl.cfg h
	: >"$cfg"
	while IFS= read -r h; do
		[ -s "$cfg" ] && echo next >>"$cfg"
		# every option again after "next": it starts a new set
		printf 'url = "%s"\nheader = "Host: %s"\noutput = "/dev/null"\nsilent\nmax-time = 10\nwrite-out = "%s"\n' \
			"$url" "$h" '%{http_code}|%header{x-deephealth-reason}|%header{x-deephealth-status}|%header{x-deephealth-registry}|%header{x-deephealth-shadow}\n' >>"$cfg"
	done <"$hosts"
	curl -K "$cfg" >"$out"
}

# explained CONF HOSTFILE OUT: the same fields from deephealthctl explain --json.
explained() {
	local hosts=()
	mapfile -t hosts <"$2"
	ctl -c "$1" --json explain "${hosts[@]}" 2>/dev/null | python3 -c '
import json, sys
for e in json.load(sys.stdin):
    h = dict(x.split(": ", 1) for x in e["headers"])
    print("|".join([str(e["http"]), h.get("X-Deephealth-Reason", ""), h.get("X-Deephealth-Status", ""),
                    h.get("X-Deephealth-Registry", ""), h.get("X-Deephealth-Shadow", "")]))' >"$3"
}

# differ NAME URL CONF HOSTFILE: compare every answer the responder gave (those carrying
# X-Deephealth-Reason; the web server itself refuses some Host headers) with explain's.
differ() {
	local name=$1 url=$2 conf=$3 hosts=$4 got=$WORK/got.$1 want=$WORK/want.$1 n cmp bad
	answers "$url" "$hosts" "$got"
	explained "$conf" "$hosts" "$want"
	n=$(wc -l <"$hosts")
	check "$SERVER $name: an answer and an explanation for each of $n hosts" "$n $n" "$(wc -l <"$got") $(wc -l <"$want")"
	paste -d'\n' "$got" "$want" | paste - - -d'#' >"$WORK/pairs.$1"
	cmp=$(awk -F'#' '{ split($1, a, "|") } a[2] != ""' "$WORK/pairs.$1" | wc -l)
	bad=$(awk -F'#' '{ split($1, a, "|") } a[2] != "" && $1 != $2' "$WORK/pairs.$1" | wc -l)
	check "$SERVER $name: explain agrees with the responder on all $cmp answers it gave ($((n - cmp)) refused by the server)" 0 "$bad"
	[ "$bad" -gt 0 ] && paste -d'#' "$hosts" "$WORK/pairs.$1" | awk -F'#' '{ split($2, a, "|") } a[2] != "" && $2 != $3' | head -5 | sed 's/^/#   /'
	COMPARED=$((COMPARED + cmp))
	reasons=$(awk -F'#' '{ split($1, a, "|"); if (a[2] != "") print a[1] " " a[2] }' "$WORK/pairs.$1" | sort -u | xargs)
}

SERVER=lighttpd
PORT=$(free_port)
if ! start_server lighttpd "$PORT" /e enforce /s shadow /p passthrough /r reject /b broken; then
	not_ok "lighttpd: started"; finish
fi
U=http://127.0.0.1:$PORT
COMPARED=0
gen_hosts 14000 1 >"$WORK/hosts.big"
differ big "$U/e/health" "$S/enforce.conf" "$WORK/hosts.big"
check_match "lighttpd big: the answers cover 503, 200 healthy, degraded, single-region, unknown-registry and unknown-host" \
	'200 degraded.*200 healthy.*200 single-region.*200 unknown-host.*200 unknown-registry.*503 dependency-failed' "$reasons"
if [ "$COMPARED" -ge 10000 ]; then ok "lighttpd: $COMPARED answers compared (at least 10,000)"
else not_ok "lighttpd: at least 10,000 answers compared" "$COMPARED"; fi

# Every decision branch, on both servers: states x configurations, 300 hosts each.
gen_hosts 300 2 >"$WORK/hosts.small"
branches() {
	fresh
	differ "$SERVER-shadow" "$U/s/health" "$S/shadow.conf" "$WORK/hosts.small"
	check_match "$SERVER shadow: says what enforce would answer" '200 dependency-failed' "$reasons"
	differ "$SERVER-passthrough" "$U/p/health" "$S/passthrough.conf" "$WORK/hosts.small"
	differ "$SERVER-reject" "$U/r/health" "$S/reject.conf" "$WORK/hosts.small"
	check_match "$SERVER reject: 404 for unknown hosts" '404 unknown-host' "$reasons"
	differ "$SERVER-config-error" "$U/b/health" "$S/broken.conf" "$WORK/hosts.small"
	check "$SERVER config error: every answer config-error" "200 config-error" "$reasons"
	touch "$KILL"
	differ "$SERVER-kill-switch" "$U/e/health" "$S/enforce.conf" "$WORK/hosts.small"
	check "$SERVER kill switch: every answer passthrough" "200 passthrough" "$reasons"
	rm -f "$KILL"
	echo "${FIXTURE/created now/created now-1000}" | snap "$SNAP"
	differ "$SERVER-stale" "$U/e/health" "$S/enforce.conf" "$WORK/hosts.small"
	check "$SERVER stale: every answer snapshot-stale" "200 snapshot-stale" "$reasons"
	printf '%s\nblind yes\n' "$FIXTURE" | snap "$SNAP"
	differ "$SERVER-blind" "$U/e/health" "$S/enforce.conf" "$WORK/hosts.small"
	check "$SERVER blind: every answer prober-blind" "200 prober-blind" "$reasons"
	fresh
	head -c 100 "$SNAP" >"$S/trunc" && mv "$S/trunc" "$SNAP" && chmod 644 "$SNAP"
	differ "$SERVER-corrupt" "$U/e/health" "$S/enforce.conf" "$WORK/hosts.small"
	check "$SERVER corrupt: every answer snapshot-corrupt" "200 snapshot-corrupt" "$reasons"
	rm -f "$SNAP"
	differ "$SERVER-missing" "$U/e/health" "$S/enforce.conf" "$WORK/hosts.small"
	check "$SERVER missing: every answer snapshot-missing" "200 snapshot-missing" "$reasons"
	fresh
	# Overrides: a forced pass, a forced fail by glob, a ring in shadow.
	ctl -c "$S/enforce.conf" override add registry:fabrikam force-pass -e 1h -r "keep" >/dev/null
	ctl -c "$S/enforce.conf" override add 'registry:cont*' force-fail -e 1h -r "drain" >/dev/null
	ctl -c "$S/enforce.conf" override add registry:litware shadow -e 1h -r "ring 1" >/dev/null
	ctl -c "$S/enforce.conf" override add registry:northwind enforce -e 1h -r "ring 0" >/dev/null
	differ "$SERVER-overrides" "$U/e/health" "$S/enforce.conf" "$WORK/hosts.small"
	check_match "$SERVER overrides: forced pass and forced fail answered" '200 override-pass.*503 override-fail' "$reasons"
	differ "$SERVER-overrides-shadow" "$U/s/health" "$S/shadow.conf" "$WORK/hosts.small"
	rm -f "$S/overrides"
}
branches
stop_server lighttpd
SERVER=apache
PORT=$(free_port)
if start_server apache "$PORT" /e enforce /s shadow /p passthrough /r reject /b broken; then
	U=http://127.0.0.1:$PORT
	branches
	differ "apache-enforce" "$U/e/health" "$S/enforce.conf" "$WORK/hosts.small"
	stop_server apache
else
	not_ok "apache: started"
fi

# status: figures from the snapshot, exit 0 when enforcing, 3 when the region fails open.
fresh
out=$(ctl -c "$S/enforce.conf" status); rc=$?
check "status: exit 0 while enforcing" 0 "$rc"
check_match "status: registries per verdict" 'registries    5: 2 pass, 1 warn, 1 fail, 1 single-region' "$out"
check_match "status: the failing dependency, what it takes out and why" 'storage-sa002 +fail storage +critical since [0-9T:-]+Z \(10m [0-9]+s\), fails 1 registry: HTTP 500' "$out"
check_match "status: the degraded one" 'cache +warn cache +degraded .*degrades 1: PING timed out' "$out"
json=$(ctl -c "$S/enforce.conf" --json status)
check "status --json: parses, with the counts and the non-pass dependencies" "5 2 1 1 1 storage-sa002:1 cache:0" \
	"$(echo "$json" | python3 -c 'import json,sys; d=json.load(sys.stdin); r=d["registries"]; print(r["total"], r["pass"], r["warn"], r["fail"], r["single_region"], " ".join("%s:%d" % (x["name"], x["registries_failed"]) for x in d["dependencies"]))')"
printf '%s\nblind yes\n' "$FIXTURE" | snap "$SNAP"
out=$(ctl -c "$S/enforce.conf" status); rc=$?
check "status: exit 3 when every answer fails open (blind)" 3 "$rc"
check_match "status: says it loudly, and that the states are old" 'answers       200 prober-blind for every registry \(FAILING OPEN\).*states from before the blind stretch' "$(echo "$out" | tr '\n' ' ')"
rm -f "$SNAP"
check_match "status: a missing snapshot said as such" 'snapshot      .*snapshot: missing' "$(ctl -c "$S/enforce.conf" status)"
out=$(ctl -c "$S/broken.conf" status 2>&1); rc=$?
check "status: exit 1 when the configuration does not load" 1 "$rc"
check_match "status: its errors as file:line" 'broken.conf:2: responder: unknown key "bogus".*NOT LOADED.*200 config-error for every registry' "$(echo "$out" | tr '\n' ' ')"
fresh

# status: the Host counts the responders above shared (lighttpd's 2 processes, Apache's pool).
check_match "status: the responders' unknown-Host counts, summed" 'hosts         [1-9][0-9]* unknown \(' "$(ctl -c "$S/enforce.conf" status)"
# The checks below start with no counts: the unknown-Host alarm has its own case at the end.
rm -f "$RUNDIR/counters"

# check: a Nagios plugin (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN, one line, perfdata).
nag() { local out rc; out=$(ctl -c "$S/${CONFN:-enforce}.conf" check "$@"); rc=$?; echo "$rc $out"; }
fresh
check_match "check: fresh and enforcing is OK, with perfdata" '^0 DEEPHEALTH OK - enforcing, snapshot [0-9]+s old, 1 of 5 registries failed over \| age=[0-9]+s;30;120;0 blind=0 guard=0 kill_switch=0 registries=5 registries_failed=1$' "$(nag)"
echo "${FIXTURE/created now/created now-50}" | snap "$SNAP"
check_match "check: a late prober (50 s, 3 intervals = 30 s) is WARNING" '^1 DEEPHEALTH WARNING - snapshot 5[0-9]s old \(warning above 30s\): the prober is late' "$(nag)"
check_match "check: -w moves the warning" '^0 DEEPHEALTH OK' "$(nag -w 100)"
echo "${FIXTURE/created now/created now-1000}" | snap "$SNAP"
check_match "check: stale is CRITICAL: failover is off" '^2 DEEPHEALTH CRITICAL - every answer is 200 snapshot-stale: failover is off; snapshot [0-9]+s old \(critical above 120s\)' "$(nag)"
printf '%s\nblind yes\n' "$FIXTURE" | snap "$SNAP"
check_match "check: blind is CRITICAL" '^2 DEEPHEALTH CRITICAL - every answer is 200 prober-blind: failover is off; the prober is blind.* blind=1 ' "$(nag)"
rm -f "$SNAP"
check_match "check: no snapshot is CRITICAL" '^2 DEEPHEALTH CRITICAL - .*snapshot .*: missing' "$(nag)"
fresh
touch "$KILL"
check_match "check: a kill switch just set is OK, and said" '^0 DEEPHEALTH OK - kill switch .* present for [0-9]+s: every answer passes through \|.* kill_switch=1 ' "$(nag)"
touch -d '-2 hours' "$KILL"
check_match "check: a kill switch left on for 2 h is WARNING" '^1 DEEPHEALTH WARNING - kill switch .* present for 7[0-9]{3}s \(left on\)' "$(nag)"
check_match "check: -k sets how long is too long" '^0 DEEPHEALTH OK' "$(nag -k 10000)"
rm -f "$KILL"
touch -d '-2 hours' "$S/passthrough.conf"
check_match "check: pass-through mode for 2 h is WARNING" '^1 DEEPHEALTH WARNING - responder.mode is passthrough' "$(CONFN=passthrough nag)"
check_match "check: a configuration that does not load is CRITICAL" '^2 DEEPHEALTH CRITICAL - .*broken.conf does not load' "$(CONFN=broken nag 2>/dev/null)"
check "check: a bad threshold is UNKNOWN, one line naming it" \
	"3 DEEPHEALTH UNKNOWN - usage: -w x: not a whole number of seconds from 1 to 864000 (see deephealthctl -h)" "$(nag -w x)"
check "check: an unknown option is UNKNOWN, one line naming it" \
	"3 DEEPHEALTH UNKNOWN - usage: unknown option -Z (see deephealthctl -h)" "$(nag -Z)"
# unknown-Host answers a minute, from the responders' shared counters: 40 probes that name no
# registry, through a responder of this configuration (over FastCGI, cgi-fcgi as the client).
"$FCGI" -c "$S/enforce.conf" -s "$WORK/ctl.sock" 2>"$WORK/ctl-responder.log" &
RPID=$!
wait_fcgi "$WORK/ctl.sock"
for i in $(seq 40); do
	env -i REQUEST_METHOD=GET HTTP_HOST="nobody$i.example" REQUEST_URI=/health \
		cgi-fcgi -bind -connect "$WORK/ctl.sock" >/dev/null
done
kill "$RPID"; wait "$RPID" 2>/dev/null
check_match "check: unknown-Host answers above 1 a minute are WARNING, with perfdata" \
	'^1 DEEPHEALTH WARNING - 40.0 unknown-Host answers a minute \(warning from 1.0\).* unknown_hosts_per_min=40.00;1.00;;0$' "$(nag)"
check_match "check: -u raises the warning" '^0 DEEPHEALTH OK.* unknown_hosts_per_min=40.00;100.00;;0$' "$(nag -u 100)"
check_match "check: -U sets a critical rate" '^2 DEEPHEALTH CRITICAL - 40.0 unknown-Host answers a minute \(critical from 10.0\)' "$(nag -U 10)"
check "check: a bad rate is UNKNOWN, one line naming it" \
	"3 DEEPHEALTH UNKNOWN - usage: -u x: not a rate from 0 to 1e9 a minute (see deephealthctl -h)" "$(nag -u x)"

# history: the event log's transitions and blind stretches, by glob and time.
sed 's#^snapshot = .*#&\nprober = { event_log = "events.jsonl"; };#' "$S/enforce.conf" >"$S/events.conf"
cat >"$S/events.jsonl" <<'EOF'
{"time":"2026-11-30T07:00:00Z","region":"r","dependency":"storage-sa002","from":"pass","to":"fail","cause":"HTTP 503 \"busy\"","elapsed_ms":1,"consecutive_failures":3,"consecutive_successes":0,"uncleared_failures":0,"registries_affected":70}
{"time":"2026-11-30T07:05:00Z","region":"r","event":"blind","state":"start","cause":"all 1 witness checks failed"}
{"time":"2026-11-30T07:06:00Z","region":"r","event":"blind","state":"end","cause":"witnesses answer again"}
{"time":"2026-11-30T07:10:00Z","region":"r","dependency":"storage-sa002","from":"fail","to":"pass","cause":"HTTP 200","elapsed_ms":1,"consecutive_failures":0,"consecutive_successes":2,"uncleared_failures":0,"registries_affected":70}
{"time":"2026-11-30T07:11:00Z","region":"r","dependency":"cache","from":"pass","to":"warn","cause":"slow","elapsed_ms":1,"consecutive_failures":0,"consecutive_successes":0,"uncleared_failures":0,"registries_affected":5}
{"time":"2026-11-30T07:12:00Z","region":"r","dependency":"storage-sa001","from":"pass","to":"fail","cause":"HTTP 500","elapsed_ms":1,"consecutive_failures":3,"consecutive_successes":0,"uncleared_failures":0,"registries_affected":2}
EOF
h=$(ctl -c "$S/events.conf" history 'storage-*' | awk '{ print $1, $2, $3, $5 }' | xargs)
check "history: a glob's transitions and the blind stretch, oldest first" \
	"2026-11-30T07:00:00Z storage-sa002 pass fail 2026-11-30T07:05:00Z (region) blind all 2026-11-30T07:06:00Z (region) blind witnesses 2026-11-30T07:10:00Z storage-sa002 fail pass 2026-11-30T07:12:00Z storage-sa001 pass fail" "$h"
check_match "history: the cause, unescaped, and the registries touched" 'pass -> fail 70 registries  HTTP 503 "busy"' "$(ctl -c "$S/events.conf" history storage-sa002)"
check "history -s: only what came since" "1" "$(ctl -c "$S/events.conf" history -s 2026-11-30T07:07:00Z storage-sa002 | grep -c storage-sa002)"
check "history --json: the event log's own lines" "storage-sa002 storage-sa002" \
	"$(ctl -c "$S/events.conf" --json history storage-sa002 | python3 -c 'import json,sys; print(" ".join(e["dependency"] for e in json.load(sys.stdin) if "dependency" in e))')"
check_match "history: nothing for an unknown dependency, said so" 'no transition of nothing in ' "$(ctl -c "$S/events.conf" history nothing)"
h=$(ctl -c "$S/events.conf" history registry:fabrikam)
check_match "history registry: its dependencies' transitions replayed into its verdict" \
	'07:00:00Z  storage-sa002 +pass -> fail  fabrikam: pass -> fail  HTTP 503 "busy" +fabrikam leaves this region .*07:10:00Z  storage-sa002 +fail -> pass  fabrikam: fail -> pass  HTTP 200 +fabrikam comes back to this region .*07:11:00Z  cache +pass -> warn  fabrikam: pass -> warn' \
	"$(echo "$h" | tr '\n' ' ')"
check "history registry: nothing of dependencies it does not use" 0 "$(echo "$h" | grep -c 'storage-sa001')"
check "history registry --json: from and to of the registry" "pass>fail fail>pass pass>warn" \
	"$(ctl -c "$S/events.conf" --json history registry:fabrikam | python3 -c 'import json,sys; print(" ".join(e["registry_from"] + ">" + e["registry_to"] for e in json.load(sys.stdin)))')"
check "history registry: one not in the snapshot, exit 1" 1 "$(ctl -c "$S/events.conf" history registry:nobody >/dev/null 2>&1; echo $?)"
check "history: without prober.event_log, exit 1" 1 "$(ctl -c "$S/enforce.conf" history cache >/dev/null 2>&1; echo $?)"
# usage CTL-ARGS...: "EXIT STDERR" of a run that should be a usage error (nothing on stdout).
usage_of() { local err rc; err=$(ctl "$@" 2>&1 >/dev/null); rc=$?; echo "$rc $err"; }
check "history: a bad -s is a usage error, one line naming it" \
	"2 deephealthctl: history: -s yesterday: not a time (2026-11-30T07:00:00Z, epoch seconds, or -N[smhd]) (see deephealthctl -h)" \
	"$(usage_of -c "$S/events.conf" history -s yesterday cache)"
check "history: two subjects is a usage error naming the second" \
	"2 deephealthctl: history: unexpected argument sa1 (see deephealthctl -h)" "$(usage_of -c "$S/events.conf" history cache sa1)"

# budget: the formulas of docs/failover-timing.md with the configuration's values.
b=$(ctl -c "$S/enforce.conf" --json budget -l tm30)
check "budget tm30 (defaults: I 10, D 8, fall 3, rise 2, R 0): failover 110-158 s, recovery 58 s, dead prober 151 s" \
	"110.0 158.0 58.0 151.0" "$(echo "$b" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["failover_min"], d["failover_max"], d["recovery_max"], d["fail_open_prober_dead_max"])')"
b=$(ctl -c "$S/enforce.conf" --json budget -l r53fast)
check "budget r53fast: out after 3 probes, back after 3" "40.0 68.0 58.0" \
	"$(echo "$b" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["failover_min"], d["failover_max"], d["recovery_max"])')"
check_match "budget: custom load balancer" 'probe every 5s, out after 2 failed, back after 1 good' "$(ctl -c "$S/enforce.conf" budget -P 5 -F 2 -B 1)"
# The load balancers deephealthctl lb writes for: their defaults, and what a regions description asks.
bj() { ctl -c "$S/enforce.conf" --json budget "$@" | python3 -c 'import json,sys; d=json.load(sys.stdin); l=d["load_balancer"]; print(l["interval"], l["fail_after"], l["back_after"], l["ttl"], d["failover_max"], d["recovery_max"])'; }
check "budget pdns: 5 s checks, one decides each way" "5 1 1 30 43.0 33.0" "$(bj -l pdns)"
check "budget gdnsd: 10 s, down after 10, up after 20" "10 10 20 30 138.0 228.0" "$(bj -l gdnsd)"
check "budget haproxy: 2 s, fall 3, rise 2, no DNS TTL" "2 3 2 0 44.0 32.0" "$(bj -l haproxy)"
printf 'service = { zone = "azurecr.io"; ttl = 20; };\nload_balancer = { interval = 4; timeout = 2; fall = 2; rise = 3; };\nregions = ( { name = "a"; addresses = [ "127.0.0.2" ]; } );\n' >"$S/regions.conf"
check "budget -r: the regions description's timing; PowerDNS keeps one check each way" "4 1 1 20 42.0 32.0" "$(bj -l pdns -r "$S/regions.conf")"
check "budget -r: gdnsd counts fall and rise" "4 2 3 20 46.0 40.0" "$(bj -l gdnsd -r "$S/regions.conf")"
check "budget -r with -P: a given number wins" "9 2 3 20 56.0 55.0" "$(bj -l gdnsd -P 9 -r "$S/regions.conf")"
check "budget -f 10: a front door fed by a follower: failover and recovery 11 s later, fail-open not" "169.0 69.0 151.0" \
	"$(ctl -c "$S/enforce.conf" --json budget -l tm30 -f 10 | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["failover_max"], d["recovery_max"], d["fail_open_prober_dead_max"])')"
sed 's/^snapshot = .*/&\nfollower = { sources = ( "http:\/\/a\/s", "http:\/\/b\/s" ); policy = "quorum"; quorum = 2; };/' "$S/enforce.conf" >"$S/quorum.conf"
check_match "budget: a quorum of followers adds one prober interval" 'fed by deephealth-follow every 10s, quorum .*failover +110.0s to 179.0s' \
	"$(ctl -c "$S/quorum.conf" budget -l tm30 | tr '\n' ' ')"
check "budget: unknown preset is a usage error, one line naming it" \
	"2 deephealthctl: budget: -l nope: not a preset (tm30, tm10, r53, r53fast, pdns, gdnsd, haproxy) (see deephealthctl -h)" \
	"$(usage_of -c "$S/enforce.conf" budget -l nope)"
check "budget: a bad number is a usage error naming the option" \
	"2 deephealthctl: budget: -P 0: not a whole number from 1 to 3600 (see deephealthctl -h)" \
	"$(usage_of -c "$S/enforce.conf" budget -P 0)"
check "budget: an option without its argument" \
	"2 deephealthctl: budget: option -T needs an argument (see deephealthctl -h)" "$(usage_of -c "$S/enforce.conf" budget -T)"
check "budget: an unknown option" "2 deephealthctl: budget: unknown option -z (see deephealthctl -h)" \
	"$(usage_of -c "$S/enforce.conf" budget -z)"
check "explain without a host is a usage error, one line" \
	"2 deephealthctl: explain: a HOST is required (see deephealthctl -h)" "$(usage_of -c "$S/enforce.conf" explain)"
check "an unknown command is a usage error, one line naming it" \
	"2 deephealthctl: unknown command stauts (see deephealthctl -h)" "$(usage_of -c "$S/enforce.conf" stauts)"
check "status takes no arguments" "2 deephealthctl: status: takes no arguments (see deephealthctl -h)" \
	"$(usage_of -c "$S/enforce.conf" status extra)"
finish
