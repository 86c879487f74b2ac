#!/usr/bin/env bash
# test_fcgi_params.sh: hostile FastCGI parameters straight over the FastCGI protocol
# (cgi-fcgi as the client): the responder always answers, fails open, never exits.
. tests/integration/lib.sh

S=$WORK/state
mkdir -p "$S"
cat >"$S/dh.conf" <<'EOF2'
snapshot = { path = "snapshot"; max_age = 120; };
responder = { kill_switch = "disable"; overrides = "overrides"; counters = "counters"; recheck_ms = 0; };
resolver = { rules = ( "^(?<registry>[a-z0-9]{5,50})\\.azurecr\\.io$" ); };
EOF2
printf 'created now\ndep sa1 fail storage critical\nreg fabrikam fail by=sa1\nreg contoso pass\n' | snap "$S/snapshot"
SOCK=$S/fcgi.sock
if [ -n "${DH_VALGRIND:-}" ]; then
	valgrind -q --leak-check=full --errors-for-leak-kinds=definite --log-file="$WORK/vg/%p.log" \
		"$FCGI" -c "$S/dh.conf" -s "$SOCK" 2>"$S/responder.log" &
else
	"$FCGI" -c "$S/dh.conf" -s "$SOCK" 2>"$S/responder.log" &
fi
RPID=$!
PIDS+=($RPID)
wait_fcgi "$SOCK"

# fcgi VAR=VALUE...: one request with exactly these params; prints the raw response.
fcgi() { env -i "$@" cgi-fcgi -bind -connect "$SOCK" </dev/null 2>/dev/null | tr -d '\r'; }
# status_reason RESPONSE
status_reason() {
	local st rs
	st=$(sed -n 's/^Status: \([0-9]*\).*/\1/p' <<<"$1" | head -n 1)
	rs=$(sed -n 's/^X-Deephealth-Reason: //p' <<<"$1" | head -n 1)
	echo "$st $rs"
}

r=$(fcgi REQUEST_METHOD=GET HTTP_HOST=fabrikam.azurecr.io)
check "plain request" "503 dependency-failed" "$(status_reason "$r")"
r=$(fcgi HTTP_HOST=fabrikam.azurecr.io)
check "no REQUEST_METHOD -> 405" "405 method-not-allowed" "$(status_reason "$r")"
r=$(fcgi REQUEST_METHOD=get HTTP_HOST=fabrikam.azurecr.io)
check "lowercase method -> 405" "405 method-not-allowed" "$(status_reason "$r")"
r=$(fcgi)
check "no params at all -> 405" "405 method-not-allowed" "$(status_reason "$r")"
r=$(fcgi REQUEST_METHOD=GET)
check "no HTTP_HOST -> unknown-host" "200 unknown-host" "$(status_reason "$r")"
r=$(fcgi REQUEST_METHOD=GET HTTP_HOST=)
check "empty HTTP_HOST -> unknown-host" "200 unknown-host" "$(status_reason "$r")"
r=$(fcgi REQUEST_METHOD=GET "HTTP_HOST=fabrikam.azurecr.io"$'\r\n'"X-Injected: 1")
check "CR/LF in HTTP_HOST -> unknown-host" "200 unknown-host" "$(status_reason "$r")"
if grep -q '^X-Injected' <<<"$r"; then not_ok "CR/LF in HTTP_HOST is not echoed as a header"; else ok "CR/LF in HTTP_HOST is not echoed as a header"; fi
r=$(fcgi REQUEST_METHOD=GET "HTTP_HOST=$(printf 'fabrik\xc3\xa9m.azurecr.io')")
check "8-bit bytes in HTTP_HOST -> unknown-host" "200 unknown-host" "$(status_reason "$r")"
r=$(fcgi REQUEST_METHOD=GET "HTTP_HOST=$(head -c 20000 /dev/zero | tr '\0' a).azurecr.io")
check "20 kB HTTP_HOST -> unknown-host" "200 unknown-host" "$(status_reason "$r")"
r=$(fcgi REQUEST_METHOD=GET HTTP_HOST=fab_rikam.azurecr.io)
check "underscore -> unknown-host" "200 unknown-host" "$(status_reason "$r")"
r=$(fcgi REQUEST_METHOD=GET "HTTP_HOST=[::1]:443")
check "IPv6 literal -> unknown-host" "200 unknown-host" "$(status_reason "$r")"
r=$(fcgi REQUEST_METHOD=GET HTTP_HOST=fabrikam.azurecr.io:99999999)
check "bad port -> unknown-host" "200 unknown-host" "$(status_reason "$r")"
r=$(fcgi REQUEST_METHOD=GET HTTP_HOST=fabrikam.azurecr.io "HTTP_ACCEPT=$(head -c 30000 /dev/zero | tr '\0' x)application/health+json")
check "30 kB Accept still parsed" "503 dependency-failed" "$(status_reason "$r")"
check_match "health+json body" '\{"status":"fail"\}' "$r"
many=()
for i in $(seq 2000); do many+=("HTTP_X_PARAM_$i=$i"); done
r=$(fcgi REQUEST_METHOD=GET HTTP_HOST=contoso.azurecr.io "${many[@]}")
check "2,000 extra params" "200 healthy" "$(status_reason "$r")"
# Clients that send garbage instead of FastCGI records, or a truncated record.
for i in 1 2 3; do head -c 4096 /dev/urandom | timeout 2 socat -u - "UNIX-CONNECT:$SOCK" >/dev/null 2>&1; done
printf '\x01\x01\x00\x01\x00\x08' | timeout 2 socat -u - "UNIX-CONNECT:$SOCK" >/dev/null 2>&1
# A client that connects and goes away mid-request.
timeout 1 bash -c "exec 3<>/dev/null; cgi-fcgi -bind -connect '$SOCK' </dev/null >/dev/null 2>&1 & sleep 0.01; kill -9 \$! 2>/dev/null" || true

r=$(fcgi REQUEST_METHOD=GET HTTP_HOST=fabrikam.azurecr.io)
check "still answering after hostile input" "503 dependency-failed" "$(status_reason "$r")"
if kill -0 "$RPID" 2>/dev/null; then ok "same responder process alive (never exits on a bad request)"; else not_ok "responder died"; fi
check_match "invalid Host headers are counted in the log" 'invalid Host header: [0-9]+ request' "$(cat "$S/responder.log")"
if grep -q 'X-Injected' "$S/responder.log"; then not_ok "raw header bytes never logged"; else ok "raw header bytes never logged"; fi

# SIGTERM: a clean exit, promptly, even while blocked in accept.
kill -TERM "$RPID"
for _ in $(seq 100); do kill -0 "$RPID" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$RPID" 2>/dev/null; then not_ok "SIGTERM stops the responder within 10 s"; else
	wait "$RPID"; check "SIGTERM: exit status 0" 0 $?
fi
check_match "SIGTERM: exit logged" 'exiting after [0-9]+ requests' "$(cat "$S/responder.log")"
finish
