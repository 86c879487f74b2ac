#!/usr/bin/env bash
# test_responder.sh: every decision branch through real lighttpd and Apache + mod_fcgid, each
# spawning deephealth.fcgi, and through real nginx and Apache + mod_proxy_fcgi, each connecting
# to a deephealth.fcgi -n pool; all four must give lighttpd's status and reason for the matrix.
. tests/integration/lib.sh
. tests/integration/servers.sh

S=$WORK/state
mkdir -p "$S"
SNAP=$S/snapshot
KILL=$S/disable

cat >"$S/hosts.map" <<'EOF'
# custom domains
www.fabrikam-custom.example   fabrikam
Pull.Contoso.Example.         contoso
EOF

# conf NAME EXTRA-RESPONDER-KEYS [RECHECK]
conf() {
	cat >"$S/$1.conf" <<EOF
snapshot = { path = "snapshot"; max_age = 120; };
responder = { kill_switch = "disable"; overrides = "overrides"; counters = "$RUNDIR/counters"; recheck_ms = ${3:-0}; $2 };
resolver = {
  host_map = "hosts.map";
  rules = ( "^(?<registry>[a-z0-9]{5,50})\\\\.azurecr\\\\.io\$",
            "^(?<registry>[a-z0-9]{5,50})\\\\.[a-z0-9]+\\\\.data\\\\.azurecr\\\\.io\$" );
};
EOF
}
conf enforce ''
conf slow '' 1000
conf shadow 'mode = "shadow";'
conf passthrough 'mode = "passthrough";'
conf reject 'unknown_host = "reject";'
conf cause 'detail = "cause";'
printf 'snapshot = { path = "snapshot"; max_age = 0; };\nresponder = { bogus = 1; };\n' >"$S/broken.conf"
chmod -R a+rX "$S"

BASE_FIXTURE='created now
interval 30
dep storage-sa001 pass storage critical
dep storage-sa002 fail storage critical since=now-600 cause=HTTP 500 from http://10.9.8.7/secret-token
dep cache warn cache degraded
dep auth pass auth critical witness
reg contoso pass
reg fabrikam fail by=storage-sa002
reg litware warn by=cache
reg northwind fail single by=storage-sa002'

base_snapshot() { echo "$BASE_FIXTURE" | snap "$SNAP"; }

# expect NAME URL HOST CODE REASON STATUS [curl args]: one row of the matrix.
MATRIX=
expect() {
	local name=$1 url=$2 host=$3 code=$4 reason=$5 status=$6; shift 6
	local got
	got=$(req "$url" "$host" "$@")
	check "$SERVER: $name" "$code $reason $status" "$got"
	MATRIX+="$name $got"$'\n'
}

# poll_reason URL HOST REASON SECONDS: until the reason shows, print elapsed ms or "timeout".
poll_reason() {
	local start now got
	start=$(date +%s%N)
	while :; do
		got=$(req "$1" "$2")
		now=$(date +%s%N)
		if [ "${got#* }" != "${got}" ] && [ "$(echo "$got" | cut -d' ' -f2)" = "$3" ]; then
			echo $(((now - start) / 1000000)); return
		fi
		if [ $(((now - start) / 1000000)) -gt $(($4 * 1000)) ]; then echo timeout; return; fi
		sleep 0.05
	done
}

matrix() {
	local U=$1 hdrs body
	MATRIX=
	base_snapshot
	rm -f "$KILL"

	# Verdicts, resolver forms, normalization.
	expect pass "$U/e/health" contoso.azurecr.io 200 healthy pass
	expect fail "$U/e/health" fabrikam.azurecr.io 503 dependency-failed fail
	expect warn "$U/e/health" litware.azurecr.io 200 degraded warn
	expect single-region "$U/e/health" northwind.azurecr.io 200 single-region pass
	expect unknown-registry "$U/e/health" nobody1.azurecr.io 200 unknown-registry warn
	expect regional-rule "$U/e/health" fabrikam.westus.data.azurecr.io 503 dependency-failed fail
	expect custom-domain "$U/e/health" www.fabrikam-custom.example 503 dependency-failed fail
	expect custom-domain-mixed "$U/e/health" WWW.Fabrikam-Custom.Example.:8443 503 dependency-failed fail
	expect map-normalized "$U/e/health" pull.contoso.example 200 healthy pass
	expect case-dot-port "$U/e/health" FABRIKAM.AzureCR.io.:443 503 dependency-failed fail
	expect unknown-host "$U/e/health" unknown.example 200 unknown-host warn
	if [ "$SERVER" = nginx ]; then
		# nginx answers an empty Host header itself, 400 "client sent invalid host header",
		# before any location: the responder never sees it.  The one row where a matrix may
		# differ from lighttpd's (left out of that comparison, below).
		expect no-host-http10 "$U/e/health" "" 400 "" "" -0
	else
		expect no-host-http10 "$U/e/health" "" 200 unknown-host warn -0
	fi
	# No Host header at all (curl sends an empty one above): every server passes it on.
	got=$(curl -s -o /dev/null --max-time 10 -0 -H 'Host:' \
		-w '%{http_code} %header{x-deephealth-reason} %header{x-deephealth-status}' "$U/e/health")
	check "$SERVER: no-host-header-http10" "200 unknown-host warn" "$got"
	MATRIX+="no-host-header-http10 $got"$'\n'
	expect post "$U/e/health" fabrikam.azurecr.io 405 method-not-allowed fail -X POST -d ''
	expect head "$U/e/health" fabrikam.azurecr.io 503 dependency-failed fail -I

	hdrs=$(curl -s -D - -o /dev/null -X POST -d '' -H 'Host: fabrikam.azurecr.io' "$U/e/health" | tr -d '\r')
	check_match "$SERVER: 405 carries Allow" $'Allow: GET, HEAD' "$hdrs"
	hdrs=$(curl -s -I -H 'Host: fabrikam.azurecr.io' "$U/e/health" | tr -d '\r')
	check_match "$SERVER: HEAD has Cache-Control no-store" $'Cache-Control: no-store' "$hdrs"
	check_match "$SERVER: HEAD has snapshot age" $'X-Deephealth-Snapshot-Age: [0-9]+' "$hdrs"
	body=$(curl -s -X HEAD -H 'Host: fabrikam.azurecr.io' -w '%{size_download}' "$U/e/health" --max-time 5)
	check "$SERVER: HEAD has no body" 0 "$body"
	body=$(curl -s -H 'Host: fabrikam.azurecr.io' "$U/e/health")
	check "$SERVER: default body is one constant line" fail "$body"
	body=$(curl -s -H 'Host: fabrikam.azurecr.io' -H 'Accept: application/health+json' "$U/e/health")
	check "$SERVER: health+json at detail status" '{"status":"fail"}' "$body"
	body=$(curl -s -H 'Host: fabrikam.azurecr.io' -H 'Accept: application/health+json' "$U/c/health")
	check_match "$SERVER: detail cause names the deciding dependency" '"storage-sa002:status"' "$body"
	if [[ $body == *10.9.8.7* || $body == *secret* || $body == *http:* ]]; then
		not_ok "$SERVER: detail cause leaks the dependency's raw error" "$body"
	else ok "$SERVER: detail cause never shows the raw error"; fi
	# Route 53's string match reads the first 5,120 bytes; Traffic Manager wants 200 or not
	# (docs/load-balancers.md): the verdict is the body's first field, the body far shorter.
	check "$SERVER: the health+json body fits a string match: under 5,120 bytes, the verdict first" "yes" \
		"$([ "${#body}" -le 5120 ] && [[ $body == '{"status":"fail"'* ]] && echo yes)"
	body=$(curl -s -H 'Host: contoso.azurecr.io' -H 'Accept: application/health+json' "$U/c/health")
	check "$SERVER: ... and a healthy registry's says pass first" "yes" \
		"$([ "${#body}" -le 5120 ] && [[ $body == '{"status":"pass"'* ]] && echo yes)"

	# Modes and per-config behaviour.
	expect shadow "$U/s/health" fabrikam.azurecr.io 200 dependency-failed pass
	hdrs=$(curl -s -D - -o /dev/null -H 'Host: fabrikam.azurecr.io' "$U/s/health" | tr -d '\r')
	check_match "$SERVER: shadow says what enforce would answer" $'X-Deephealth-Shadow: 503 fail dependency-failed' "$hdrs"
	expect mode-passthrough "$U/p/health" fabrikam.azurecr.io 200 passthrough pass
	expect reject-unknown "$U/r/health" unknown.example 404 unknown-host fail
	expect reject-known "$U/r/health" contoso.azurecr.io 200 healthy pass
	expect config-error "$U/b/health" fabrikam.azurecr.io 200 config-error warn

	# Kill switch: immediate at recheck 0, within ~1 s at the default recheck.
	touch "$KILL"
	expect kill-switch "$U/e/health" fabrikam.azurecr.io 200 passthrough pass
	t=$(poll_reason "$U/k/health" fabrikam.azurecr.io passthrough 3)
	if [ "$t" != timeout ] && [ "$t" -le 1500 ]; then ok "$SERVER: kill switch seen within 1 s at recheck_ms 1000 (${t} ms)"
	else not_ok "$SERVER: kill switch seen within 1 s at recheck_ms 1000" "$t"; fi
	rm -f "$KILL"
	expect kill-switch-removed "$U/e/health" fabrikam.azurecr.io 503 dependency-failed fail
	t=$(poll_reason "$U/k/health" fabrikam.azurecr.io dependency-failed 3)
	if [ "$t" != timeout ] && [ "$t" -le 1500 ]; then ok "$SERVER: kill switch removal seen within 1 s (${t} ms)"
	else not_ok "$SERVER: kill switch removal seen within 1 s" "$t"; fi

	# Snapshot failures: always fail open.
	echo "${BASE_FIXTURE/created now/created now-1000}" | snap "$SNAP"
	expect stale "$U/e/health" fabrikam.azurecr.io 200 snapshot-stale warn
	hdrs=$(curl -s -D - -o /dev/null -H 'Host: fabrikam.azurecr.io' "$U/e/health" | tr -d '\r')
	check_match "$SERVER: stale answer shows its age" $'X-Deephealth-Snapshot-Age: 10[0-9][0-9]' "$hdrs"
	printf '%s\nblind yes\n' "$BASE_FIXTURE" | snap "$SNAP"
	expect prober-blind "$U/e/health" fabrikam.azurecr.io 200 prober-blind warn
	echo "${BASE_FIXTURE/created now/created now+3600}" | snap "$SNAP"
	expect future "$U/e/health" fabrikam.azurecr.io 200 snapshot-corrupt warn
	base_snapshot
	head -c 100 "$SNAP" >"$S/trunc" && mv "$S/trunc" "$SNAP"
	expect truncated "$U/e/health" fabrikam.azurecr.io 200 snapshot-corrupt warn
	base_snapshot
	printf 'not a snapshot at all, but long enough to have a header of sixty-four bytes.....\n' >"$S/junk" && mv "$S/junk" "$SNAP"
	expect garbage "$U/e/health" fabrikam.azurecr.io 200 snapshot-corrupt warn
	base_snapshot
	cp "$SNAP" "$S/flip"
	printf '\x42' | dd of="$S/flip" bs=1 seek=200 conv=notrunc status=none
	mv "$S/flip" "$SNAP"
	expect bit-flip "$U/e/health" fabrikam.azurecr.io 200 snapshot-corrupt warn
	rm -f "$SNAP"
	expect missing "$U/e/health" fabrikam.azurecr.io 200 snapshot-missing warn
	mkdir "$SNAP"
	expect directory "$U/e/health" fabrikam.azurecr.io 200 snapshot-unreadable warn
	rmdir "$SNAP"
	base_snapshot
	# The web server's user may not read it: a permissions mistake, not damage.
	chmod 600 "$SNAP"
	expect permissions "$U/e/health" fabrikam.azurecr.io 200 snapshot-unreadable warn
	base_snapshot
	expect restored "$U/e/health" fabrikam.azurecr.io 503 dependency-failed fail
}

# swap_storm URL: replace the snapshot 1,000 times (atomic rename) while requests flow.
swap_storm() {
	local U=$1 out=$WORK/storm.$SERVER bad n200 n503
	echo "$BASE_FIXTURE" | snap "$S/A"
	echo "${BASE_FIXTURE/reg fabrikam fail by=storage-sa002/reg fabrikam pass}" | snap "$S/B"
	(
		for i in $(seq 1000); do
			if [ $((i % 2)) = 0 ]; then cp "$S/A" "$S/tmp.swap"; else cp "$S/B" "$S/tmp.swap"; fi
			mv "$S/tmp.swap" "$SNAP"
		done
		touch "$S/storm.done"
	) &
	local storm=$!
	rm -f "$S/storm.done" "$out"
	local urls=() deadline=$((SECONDS + 120))
	for i in $(seq 50); do urls+=(-o /dev/null "$U/e/health"); done
	while [ ! -e "$S/storm.done" ] && [ $SECONDS -lt $deadline ]; do
		curl -s -H 'Host: fabrikam.azurecr.io' --max-time 10 \
			-w '%{http_code} %header{x-deephealth-reason}\n' "${urls[@]}" >>"$out"
	done
	wait $storm
	bad=$(grep -cvE '^(503 dependency-failed|200 healthy)$' "$out")
	n200=$(grep -c '^200 healthy$' "$out"); n503=$(grep -c '^503 dependency-failed$' "$out")
	check "$SERVER: 1,000 snapshot swaps under load: every answer old or new verdict ($(wc -l <"$out") requests)" 0 "$bad"
	if [ "$n200" -gt 0 ] && [ "$n503" -gt 0 ]; then ok "$SERVER: swaps were noticed ($n200 healthy, $n503 failed)"
	else not_ok "$SERVER: swaps were noticed" "$n200 healthy, $n503 failed"; fi
	[ "$bad" -gt 0 ] && grep -vE '^(503 dependency-failed|200 healthy)$' "$out" | sort | uniq -c | head -5 | sed 's/^/#   /'
	base_snapshot
}

# raw PORT EXPR: "CODE REASON" of one request sent as the bytes of the Python expression EXPR
# (reason "-" when the answer is not the responder's), for what curl will not send.
raw() {
	python3 -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(eval(sys.argv[2]))
buf = b""
while b"\r\n\r\n" not in buf:
    c = s.recv(65536)
    if not c:
        break
    buf += c
head = buf.split(b"\r\n\r\n")[0].decode("latin1").split("\r\n")
words = head[0].split(" ")
rs = [h.split(":", 1)[1].strip() for h in head[1:] if h.lower().startswith("x-deephealth-reason:")]
print(words[1] if len(words) > 1 else "none", rs[0] if rs else "-")
' "$1" "$2"
}

# lighttpd_own PORT: the README's table of what lighttpd (Debian 12's 1.4, its default
# http-parseopts) answers itself before the responder sees a request, row by row; and the rows
# it passes on, with the responder's answer.  A load balancer takes lighttpd's 400 for a failed
# probe: this is where a probe with a wrong Host is not failed open.
lighttpd_own() {
	local name req want H='b"GET /e/health HTTP/1.1\r\nHost: ' E='\r\nConnection: close\r\n\r\n"'
	while IFS='|' read -r name req want; do
		[ -n "$name" ] || continue
		check "lighttpd itself: $name" "$want" "$(raw "$1" "$req")"
	done <<ROWS
Host _|${H}_$E|400 -
an underscore in a name|${H}fab_rikam.azurecr.io$E|400 -
HTTP/1.1 with an empty Host|${H}$E|400 -
HTTP/1.1 without Host|b"GET /e/health HTTP/1.1\r\nConnection: close\r\n\r\n"|400 -
HTTP/1.0 with an empty Host: passed on|b"GET /e/health HTTP/1.0\r\nHost: \r\n\r\n"|200 unknown-host
HTTP/1.0 without Host: passed on|b"GET /e/health HTTP/1.0\r\n\r\n"|200 unknown-host
two Host headers|${H}fabrikam.azurecr.io\r\nHost: contoso.azurecr.io$E|400 -
a space in Host|${H}fab rikam.azurecr.io$E|400 -
a control byte in Host|${H}fab\x01rikam.azurecr.io$E|400 -
an 8-bit byte in Host|${H}fabrik\xc3\xa9m.azurecr.io$E|400 -
% / @ in Host|${H}u@fab%72ikam.azurecr.io/x$E|400 -
an empty label|${H}fabrikam..azurecr.io$E|400 -
a leading dot or hyphen|${H}-fabrikam.azurecr.io$E|400 -
a port that is not 1-65535|${H}fabrikam.azurecr.io:65536$E|400 -
a port alone|${H}:443$E|400 -
uppercase, trailing dot, port: passed on|${H}FABRIKAM.AzureCR.io.:443$E|503 dependency-failed
an IP literal: passed on|${H}[::1]:443$E|200 unknown-host
over 253 bytes: passed on|${H}$(printf 'a.b%.0s' $(seq 100)).azurecr.io$E|200 unknown-host
headers over 8 KB|${H}$(printf 'a.b%.0s' $(seq 3000)).azurecr.io$E|431 -
an absolute URI naming another host|b"GET http://contoso.azurecr.io/e/health HTTP/1.1\r\nHost: fabrikam.azurecr.io$E|400 -
POST without a body (no Content-Length)|b"POST /e/health HTTP/1.1\r\nHost: fabrikam.azurecr.io$E|411 -
POST with Content-Length 0: passed on|b"POST /e/health HTTP/1.1\r\nContent-Length: 0\r\nHost: fabrikam.azurecr.io$E|405 method-not-allowed
PUT without a body: passed on|b"PUT /e/health HTTP/1.1\r\nHost: fabrikam.azurecr.io$E|405 method-not-allowed
an unknown method|b"FOO /e/health HTTP/1.1\r\nHost: fabrikam.azurecr.io$E|501 -
ROWS
}

routes() { # fills ROUTE_LIST for the server kind given
	ROUTE_LIST=(/e enforce /k slow /s shadow /p passthrough /r reject /c cause /b broken)
}

routes
for SERVER in "${SERVER_KINDS[@]}"; do
	PORT=$(free_port)
	base_snapshot
	if ! start_server "$SERVER" "$PORT" "${ROUTE_LIST[@]}"; then
		not_ok "$SERVER: started"; continue
	fi
	ok "$SERVER: started on 127.0.0.1:$PORT"
	matrix "http://127.0.0.1:$PORT"
	[ "$SERVER" = lighttpd ] && lighttpd_own "$PORT"
	echo "$MATRIX" >"$WORK/matrix.$SERVER"
	swap_storm "http://127.0.0.1:$PORT"
	log=$(server_error_log "$SERVER")
	check_match "$SERVER: unknown hosts are counted in the log" 'unknown Host: [0-9]+ request' "$(cat "$log")"
	check_match "$SERVER: kill switch change logged" 'kill switch .* present' "$(cat "$log")"
	check_match "$SERVER: unusable snapshot logged with its cause" 'unusable, failing open: checksum mismatch' "$(cat "$log")"
	# Fail-open is loud: every change of what the whole region answers, once per process.
	check_match "$SERVER: stale logged as failing open, with the age" 'failing open for every registry: snapshot-stale \(snapshot [0-9]+ s old, snapshot.max_age [0-9]+ s\)' "$(cat "$log")"
	check_match "$SERVER: blind logged as failing open" 'failing open for every registry: prober-blind' "$(cat "$log")"
	check_match "$SERVER: missing snapshot logged as failing open" 'failing open for every registry: snapshot-missing \(snapshot .*: missing\)' "$(cat "$log")"
	check_match "$SERVER: config error logged as failing open" 'failing open for every registry: config-error' "$(cat "$log")"
	check_match "$SERVER: kill switch logged as passing through" 'passing through for every registry: passthrough \(kill switch .* present\)' "$(cat "$log")"
	check_match "$SERVER: the end of a fail-open state logged, with its length" 'enforcing again: snapshot-[a-z]+ ended after ([0-9]+m )?[0-9]+s' "$(cat "$log")"
	# The matrix enters stale once: no process says so twice (a line per request would).
	n=$(grep -o '\[[0-9]*\]: warning: failing open for every registry: snapshot-stale' "$log" | sort | uniq -c | sort -rn | awk 'NR == 1 { print $1 }')
	check "$SERVER: one line per transition per process, not per request" 1 "${n:-0}"
	check_match "$SERVER: config errors logged as file:line" 'broken.conf:2: responder: unknown key "bogus"' "$(cat "$log")"
	stop_server "$SERVER"
	check_match "$SERVER: responder exits cleanly on stop" 'exiting after [0-9]+ requests' "$(cat "$log")"
done
for SERVER in "${SERVER_KINDS[@]}"; do
	[ "$SERVER" = lighttpd ] && continue
	if [ -s "$WORK/matrix.lighttpd" ] && [ -s "$WORK/matrix.$SERVER" ]; then
		skip='^$'
		[ "$SERVER" = nginx ] && skip='^no-host-http10 ' # an empty Host: nginx's own 400, above
		d=$(diff <(grep -v "$skip" "$WORK/matrix.lighttpd") <(grep -v "$skip" "$WORK/matrix.$SERVER"))
		check "lighttpd and $SERVER give the same status and reason for the whole matrix" "" "$d"
	else
		not_ok "lighttpd and $SERVER give the same status and reason for the whole matrix" "a matrix is missing"
	fi
done
finish
