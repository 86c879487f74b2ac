#!/usr/bin/env bash
# test_shipped_conf.sh: the web-server snippets we ship (conf/lighttpd.conf,
# conf/apache-deephealth.conf) work as written, with only install paths localized.
. tests/integration/lib.sh

S=$WORK/state
mkdir -p "$S"
sed -e "s#/var/lib/deephealth/snapshot#$S/snapshot#" -e "s#/etc/deephealth/disable#$S/disable#" \
	conf/deephealth.conf >"$S/dh.conf"
printf 'created now\ndep sa1 fail storage critical\nreg fabrikam fail by=sa1\nreg contoso pass\n' | snap "$S/snapshot"
chmod -R a+rX "$S"
out=$("$FCGI" -t -c conf/deephealth.conf 2>&1)
check "shipped deephealth.conf passes -t" "conf/deephealth.conf: configuration OK (0 hosts, 2 rules)" "$out"

# lighttpd: our snippet appended to a minimal server config.
L=$WORK/lighttpd
PORT=$(free_port)
lighttpd_base "$L" "$PORT" "$L"
localize_conf conf/lighttpd.conf "$(fcgi_cmd_bin)" "$S/dh.conf" "$L/run/deephealth.sock" >>"$L/lighttpd.conf"
out=$(lighttpd -tt -f "$L/lighttpd.conf" 2>&1)
check "lighttpd -tt accepts the snippet" "" "$out"
lighttpd -D -f "$L/lighttpd.conf" >"$L/stdout.log" 2>&1 &
PIDS+=($!)
wait_http "http://127.0.0.1:$PORT/"
check "lighttpd snippet: /health fail" "503 dependency-failed fail" "$(req "http://127.0.0.1:$PORT/health" fabrikam.azurecr.io)"
check "lighttpd snippet: /health pass" "200 healthy pass" "$(req "http://127.0.0.1:$PORT/health" contoso.azurecr.io)"
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: fabrikam.azurecr.io' "http://127.0.0.1:$PORT/healthz")
check "lighttpd snippet: /healthz is not the health endpoint" 404 "$code"
n=$(pgrep -u www-data -fc "$FCGI")
check "lighttpd snippet: max-procs 2 responders, running as www-data" 2 "$n"
sock_mode=$(stat -c '%U %a' "$L/run")
check "lighttpd snippet: socket directory private to www-data" "www-data 700" "$sock_mode"
kill "$(cat "$L/lighttpd.pid")"

# Apache: our snippet included from a minimal server config.
A=$WORK/apache
PORT=$(free_port)
apache_base "$A" "$PORT"
localize_conf conf/apache-deephealth.conf "$(fcgi_cmd_bin)" "$S/dh.conf" "" >"$A/deephealth.conf"
echo "Include $A/deephealth.conf" >>"$A/httpd.conf"
out=$(apache2 -t -f "$A/httpd.conf" 2>&1)
check "apache2 -t accepts the snippet" "Syntax OK" "$out"
apache2 -f "$A/httpd.conf" -DFOREGROUND >"$A/stdout.log" 2>&1 &
PIDS+=($!)
wait_http "http://127.0.0.1:$PORT/"
check "apache snippet: /health fail" "503 dependency-failed fail" "$(req "http://127.0.0.1:$PORT/health" fabrikam.azurecr.io)"
check "apache snippet: /health pass" "200 healthy pass" "$(req "http://127.0.0.1:$PORT/health" contoso.azurecr.io)"
# 8 concurrent clients x 25 requests: with the shipped pool no request waits mod_fcgid's 1 s.
slow=$(for c in $(seq 8); do
	( for i in $(seq 25); do curl -s -o /dev/null -H 'Host: contoso.azurecr.io' -w '%{time_total}\n' "http://127.0.0.1:$PORT/health"; done ) &
done; wait)
n=$(echo "$slow" | wc -l)
nslow=$(echo "$slow" | awk '$1 >= 0.9' | wc -l)
check "apache snippet: 200 requests from 8 clients answered" 200 "$n"
echo "# apache snippet: requests at >= 0.9 s (mod_fcgid queueing while the pool grows): $nslow of $n"
kill "$(cat "$A/run/httpd.pid")"
for _ in $(seq 50); do pgrep -f "$FCGI" >/dev/null || break; sleep 0.1; done
finish
