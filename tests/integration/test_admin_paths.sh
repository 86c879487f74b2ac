#!/usr/bin/env bash
# test_admin_paths.sh: /deephealth/ in the shipped snippets is private.  Unmodified, each server
# lets 127.0.0.1 and ::1 in and refuses 127.0.0.2.  With the allow-list edited the way an operator
# would (127.0.0.2 only), lighttpd, Apache (mod_fcgid and mod_proxy_fcgi) and nginx refuse
# /deephealth/ and its two documents to 127.0.0.1 and ::1 with 403, under any spelling of the path,
# serve them to 127.0.0.2, and answer /health exactly as the unmodified snippet does.  Also: under
# mod_fcgid the documents are the same process class as /health; without a module the page needs,
# Apache refuses either snippet.
. tests/integration/lib.sh

S=$WORK/state
mkdir -p "$S"
# The responders' counters in a directory of this run that they (www-data) can write.
www_dir "$S/shm"
sed -e "s#/var/lib/deephealth/snapshot#$S/snapshot#" -e "s#/etc/deephealth/disable#$S/disable#" \
	-e "s#/var/lib/deephealth/overrides#$S/overrides#" -e "s#/dev/shm/deephealth.counters#$S/shm/counters#" \
	conf/deephealth.conf >"$S/dh.conf"
printf 'created now\ndep sa1 fail storage critical\nreg fabrikam fail by=sa1\nreg contoso pass\n' | snap "$S/snapshot"

# The status page's directory: the repository's www/admin, a placeholder page where it has none.
WWW=$WORK/www
mkdir -p "$WWW"
[ -d www/admin ] && cp -R www/admin/. "$WWW/"
[ -e "$WWW/index.html" ] || echo '<!doctype html><title>deephealth status (placeholder)</title>' >"$WWW/index.html"
chmod -R a+rX "$S" "$WWW"


# restrict KIND FILE: edit the allow-list of a localized snippet in place, as an operator would, to
# 127.0.0.2 alone.  A failed check if the snippet no longer reads as expected.
restrict() {
	local before after changed want
	before=$(cat "$2")
	# shellcheck disable=SC2016 # $HTTP is lighttpd's, not the shell's
	case $1 in
	lighttpd) sed -i -e 's#^\(\s*\)\$HTTP\["remote-ip"\] == "127.0.0.1" { }#\1$HTTP["remote-ip"] == "127.0.0.2" { }#' \
		-e '/^\s*else \$HTTP\["remote-ip"\] == "::1" { }$/d' "$2" ;;
	apache*) sed -i -e 's#^\(\s*\)Require ip 127.0.0.1 ::1$#\1Require ip 127.0.0.2#' "$2" ;;
	nginx) sed -i -e 's#^\(\s*\)allow 127.0.0.1;$#\1allow 127.0.0.2;#' -e '/^\s*allow ::1;$/d' "$2" ;;
	esac
	after=$(cat "$2")
	changed=$(diff <(echo "$before") <(echo "$after") | grep -c '^[<>]')
	case $1 in lighttpd | nginx) want=3 ;; *) want=2 ;; esac
	check "$1: allow-list edited to 127.0.0.2 only (lines changed)" "$want" "$changed"
}

# answer URL [curl args...]: "CODE responder" when the responder wrote the answer (a health answer
# carries X-Deephealth-Reason; the status documents and health answers Cache-Control: no-store),
# "CODE server" when the web server did (a file, its own 403 or 404).
answer() {
	local url=$1 out; shift
	out=$(curl -s -o /dev/null --max-time 10 --path-as-is "$@" \
		-w '%{http_code} %header{x-deephealth-reason}|%header{cache-control}' "$url")
	case $out in
	*' |no-store' | *' '[a-z]*'|'*) echo "${out%% *} responder" ;;
	*) echo "${out%% *} server" ;;
	esac
}

# health_headers URL HOST [curl args...]: the status code and every X-Deephealth-* header, sorted
# (the snapshot's age as N: it may tick between two runs).
health_headers() {
	local url=$1 host=$2; shift 2
	curl -s -o /dev/null -D - --max-time 10 -H "Host: $host" "$@" "$url" | tr -d '\r' |
		sed -n -e 's/^HTTP\/[0-9.]* \([0-9]*\).*/\1/p' -e 's/^\(x-deephealth-snapshot-age:\) [0-9]*$/\1 N/I' \
			-e '/^x-deephealth-/Ip' | sort
}

# admin_private NAME OPEN_URL CLOSED_URL: OPEN_URL runs the unmodified snippet, CLOSED_URL the one
# that allows 127.0.0.2 only.
admin_private() {
	local name=$1 open=$2 closed=$3 p h want body
	for p in /deephealth/ /deephealth/status.json /deephealth/metrics '/deephealth/status.json?q=x' \
		/deephealth/events.json '/deephealth/events.json?limit=5' /deephealth/regions.json; do
		check "$name: 127.0.0.1 not allowed: $p refused" "403 server" "$(answer "$closed$p")"
	done
	# A file by name, and other spellings of the same paths: the servers match the normalized path.
	for p in /deephealth/index.html //deephealth/metrics /deephealth/./status.json /deephealth/../deephealth/metrics \
		/%64eephealth/metrics /deephealth/%73tatus.json /health/../deephealth/status.json; do
		check "$name: 127.0.0.1 not allowed: $p refused" "403 server" "$(answer "$closed$p")"
	done
	check "$name: 127.0.0.2 allowed: /deephealth/ is the page" "200 server" "$(answer "$closed/deephealth/" --interface 127.0.0.2)"
	body=$(curl -s --max-time 10 --interface 127.0.0.2 "$closed/deephealth/")
	check "$name: 127.0.0.2 allowed: /deephealth/ serves index.html" "$(cat "$WWW/index.html")" "$body"
	for p in /deephealth/status.json /deephealth/metrics '/deephealth/status.json?q=x' \
		/deephealth/events.json '/deephealth/events.json?limit=5' /deephealth/regions.json; do
		check "$name: 127.0.0.2 allowed: $p from the responder" "200 responder" "$(answer "$closed$p" --interface 127.0.0.2)"
	done
	# /health: public, and answered as before the edit.
	for h in fabrikam.azurecr.io contoso.azurecr.io unknown.example; do
		want=$(health_headers "$open/health" "$h")
		check "$name: /health for $h as with the unmodified snippet" "$want" "$(health_headers "$closed/health" "$h")"
		check "$name: /health for $h from 127.0.0.2 too" "$want" "$(health_headers "$closed/health" "$h" --interface 127.0.0.2)"
	done
	check "$name: HEAD /health as with the unmodified snippet" "$(health_headers "$open/health" fabrikam.azurecr.io -I)" \
		"$(health_headers "$closed/health" fabrikam.azurecr.io -I)"
}

# nginx and Apache + mod_proxy_fcgi: one pool, as systemd runs it, for the four servers using it.
P=$WORK/pool
mkdir -p "$P"
www_dir "$P/run"
PSOCK=$P/run/fcgi.sock
# shellcheck disable=SC2046 # fcgi_cmd_bin prints a command line
if pool_start "$PSOCK" "$P/responder.log" 2 "$S/dh.conf" $(fcgi_cmd_bin); then ok "pool: started"; else not_ok "pool: started"; fi

# start KIND DIR [restrict]: a server running the localized snippet (restricted on request), on
# 127.0.0.1 and ::1, the same port; the port in SPORT.  lighttpd and Apache + mod_fcgid spawn
# their own responders.
start() {
	local kind=$1 d=$2 port snip
	port=$(free_port)
	case $kind in
	lighttpd)
		lighttpd_base "$d" "$port" "$d"
		echo "\$SERVER[\"socket\"] == \"[::1]:$port\" { }" >>"$d/lighttpd.conf"
		snip=$d/snippet.conf
		localize_conf conf/lighttpd.conf "$(fcgi_cmd_bin)" "$S/dh.conf" "$d/run/deephealth.sock" | localize_www "$WWW" >"$snip" ;;
	apache)
		apache_base "$d" "$port"
		snip=$d/deephealth.conf
		localize_conf conf/apache-deephealth.conf "$(fcgi_cmd_bin)" "$S/dh.conf" "" | localize_www "$WWW" >"$snip" ;;
	apache-proxy)
		apache_proxy_base "$d" "$port"
		snip=$d/deephealth-proxy-fcgi.conf
		localize_pool_conf conf/apache-deephealth-proxy.conf "$PSOCK" | localize_www "$WWW" >"$snip" ;;
	nginx)
		mkdir -p "$d"
		snip=$d/deephealth.conf
		localize_pool_conf conf/nginx-deephealth.conf "$PSOCK" | localize_www "$WWW" >"$snip" ;;
	esac
	[ $# -gt 2 ] && restrict "$kind" "$snip"
	case $kind in
	lighttpd)
		cat "$snip" >>"$d/lighttpd.conf"
		lighttpd -D -f "$d/lighttpd.conf" >"$d/stdout.log" 2>&1 &
		PIDS+=($!) ;;
	apache*)
		apache_page_modules "$d/httpd.conf"
		printf 'Listen [::1]:%s\nInclude %s\n' "$port" "$snip" >>"$d/httpd.conf"
		apache2 -f "$d/httpd.conf" -DFOREGROUND >"$d/stdout.log" 2>&1 &
		PIDS+=($!) ;;
	nginx)
		echo "listen [::1]:$port;" >>"$snip"
		# A site's own regex location for these suffixes must not take the page's files away
		# from the allow-list ("^~" in the snippet).
		[ $# -gt 2 ] && printf 'location ~ \\.(css|js|json|html)$ {\n    return 200 "regex location\\n";\n}\n' >>"$snip"
		nginx_base "$d" "$port" "$snip"
		nginx_start "$d" ;;
	esac
	wait_http "http://127.0.0.1:$port/"
	SPORT=$port
}

for kind in lighttpd apache nginx apache-proxy; do
	start "$kind" "$WORK/$kind-open"
	open=$SPORT
	start "$kind" "$WORK/$kind-closed" restrict
	closed=$SPORT
	admin_private "$kind" "http://127.0.0.1:$open" "http://127.0.0.1:$closed"
	# ::1 is on the unmodified allow-list, and off the edited one.
	check "$kind: unmodified snippet: ::1 allowed" "200 responder" "$(answer "http://[::1]:$open/deephealth/metrics")"
	check "$kind: unmodified snippet: ::1 allowed: /deephealth/" "200 server" "$(answer "http://[::1]:$open/deephealth/")"
	check "$kind: 127.0.0.2 only: ::1 refused" "403 server" "$(answer "http://[::1]:$closed/deephealth/metrics")"
	# The unmodified snippet lets loopback in, nothing else (test_shipped_conf.sh checks the rest).
	check "$kind: unmodified snippet: 127.0.0.2 refused" "403 server" "$(answer "http://127.0.0.1:$open/deephealth/metrics" --interface 127.0.0.2)"
	check "$kind: unmodified snippet: 127.0.0.2 refused: /deephealth/" "403 server" "$(answer "http://127.0.0.1:$open/deephealth/" --interface 127.0.0.2)"
done

# mod_fcgid: the documents' FcgidWrapper is the same process class as /health's (same command
# line), not a second pool.  With at most one process per class (set after the snippet), one
# class answers everything from one process; a second class would need a process of its own.
d=$WORK/apache-class
port=$(free_port)
apache_base "$d" "$port"
apache_page_modules "$d/httpd.conf"
# Its own copy of the configuration, so its responders are told from the other servers' by name.
cp "$S/dh.conf" "$S/dh-class.conf"
localize_conf conf/apache-deephealth.conf "$(fcgi_cmd_bin)" "$S/dh-class.conf" "" | localize_www "$WWW" >"$d/deephealth.conf"
printf 'Include %s\nFcgidMinProcessesPerClass 1\nFcgidMaxProcessesPerClass 1\n' "$d/deephealth.conf" >>"$d/httpd.conf"
apache2 -f "$d/httpd.conf" -DFOREGROUND >"$d/stdout.log" 2>&1 &
PIDS+=($!)
wait_http "http://127.0.0.1:$port/"
got=""
for p in /health /deephealth/metrics /deephealth/status.json /health; do
	got+="$(answer "http://127.0.0.1:$port$p" -H 'Host: contoso.azurecr.io') "
done
check "apache: /health and the documents answered" "200 responder 200 responder 200 responder 200 responder " "$got"
check "apache: /health and the documents share one mod_fcgid process class" 1 \
	"$(pgrep -u www-data -fc "$FCGI -c $S/dh-class.conf")"
kill "$(cat "$d/run/httpd.pid")"

# Apache without a module the page needs: the snippet stops apache2 -t with its Error.
for snip in "apache-deephealth.conf deephealth.conf" "apache-deephealth-proxy.conf deephealth-proxy-fcgi.conf"; do
	read -r f name <<<"$snip"
	for m in alias authz_host dir; do
		d=$WORK/apache-no-$m-$f
		if [ "$f" = apache-deephealth.conf ]; then apache_base "$d" "$(free_port)"; else apache_proxy_base "$d" "$(free_port)"; fi
		for k in alias authz_host dir; do
			[ "$k" = "$m" ] || echo "LoadModule ${k}_module /usr/lib/apache2/modules/mod_$k.so" >>"$d/httpd.conf"
		done
		localize_conf "conf/$f" "$(fcgi_cmd_bin)" "$S/dh.conf" "" | localize_pool_conf /dev/stdin "$PSOCK" | localize_www "$WWW" >"$d/snippet.conf"
		echo "Include $d/snippet.conf" >>"$d/httpd.conf"
		out=$(apache2 -t -f "$d/httpd.conf" 2>&1)
		check_match "$f without mod_$m: apache2 -t fails naming it" "$name needs mod_$m .*a2enmod $m" "$out"
	done
done

for kind in lighttpd apache nginx apache-proxy; do
	for v in open closed; do
		case $kind in
		lighttpd) kill "$(cat "$WORK/$kind-$v/lighttpd.pid")" ;;
		apache*) kill "$(cat "$WORK/$kind-$v/run/httpd.pid")" ;;
		nginx) kill "$(cat "$WORK/$kind-$v/nginx.pid")" ;;
		esac
	done
done
pool_stop "$POOL_PID"
check "pool: stopped, exit 0" 0 "$POOL_STATUS"
finish
