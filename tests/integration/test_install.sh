#!/usr/bin/env bash
# test_install.sh: make install into a DESTDIR gives the documented tree with real paths, and
# make uninstall takes it away; then, on a throwaway machine (root, nothing of ours
# installed, port 80 free), the README's wiring lines run literally against the real
# system with the real lighttpd, a prober pass as the deephealth user is answered through
# it, and the README's unwiring lines leave the system as it was.
. tests/integration/lib.sh

# --- A staged install (what a package build does).
D=$WORK/dest
make -s --no-print-directory install DESTDIR="$D" PREFIX=/usr >"$WORK/install.out" 2>&1
check "make install DESTDIR=... PREFIX=/usr: exit 0" 0 $?
expected='etc/apache2/conf-available/deephealth-proxy-fcgi.conf
etc/apache2/conf-available/deephealth.conf
etc/cron.d/deephealth
etc/deephealth/deephealth.conf
etc/deephealth/regions.conf
etc/deephealth/registries.map
etc/lighttpd/conf-available/50-deephealth.conf
etc/lighttpd/conf-available/51-deephealth-snapshot.conf
etc/nginx/snippets/deephealth.conf
usr/bin/deephealth-snap
usr/lib/deephealth/deephealth.fcgi
usr/lib/systemd/system/deephealth-fcgi.service
usr/lib/systemd/system/deephealth-fcgi.socket
usr/lib/systemd/system/deephealth-follow.service
usr/lib/systemd/system/deephealth-follow.timer
usr/lib/systemd/system/deephealth-probe.service
usr/lib/systemd/system/deephealth-probe.timer
usr/sbin/deephealth-follow
usr/sbin/deephealth-probe
usr/sbin/deephealthctl
usr/share/deephealth/deephealth-alerts.yml
usr/share/deephealth/www/common.js
usr/share/deephealth/www/global.css
usr/share/deephealth/www/global.html
usr/share/deephealth/www/global.js
usr/share/deephealth/www/index.html
usr/share/deephealth/www/status.css
usr/share/deephealth/www/status.js
usr/share/man/man1/deephealth-snap.1
usr/share/man/man5/deephealth.conf.5
usr/share/man/man8/deephealth-follow.8
usr/share/man/man8/deephealth-probe.8
usr/share/man/man8/deephealth.fcgi.8
usr/share/man/man8/deephealthctl.8'
got=$(cd "$D" && find . -type f ! -path './usr/share/doc/*' | sed 's#^\./##' | sort)
check "staged install: every program, man page, unit, config and snippet where it belongs" "$expected" "$got"
check "staged install: README, LICENSE and docs in share/doc" \
	"LICENSE README.md events.md failover-timing.md fleet.md global-page.md guard.md load-balancers.md metrics.md operations.md overrides.md regions.md registries.md reliability.md scaling.md security.md snapshot.md thresholds.md" \
	"$(ls "$D/usr/share/doc/deephealth" | xargs)"
check "staged install: the state directory exists" "755" "$(stat -c %a "$D/var/lib/deephealth" 2>&1)"
check "staged install: no /usr/local left in any installed text file" "" \
	"$(grep -rl /usr/local "$D/etc" "$D/usr/lib/systemd" 2>/dev/null)"
check_match "staged install: the unit runs the installed prober as deephealth" \
	'User=deephealth.*ExecStart=/usr/sbin/deephealth-probe -c /etc/deephealth/deephealth.conf -r 10 -d 60' \
	"$(tr '\n' ' ' <"$D/usr/lib/systemd/system/deephealth-probe.service")"
check_match "staged install: the cron line (commented out) runs the installed prober as deephealth, quietly, if it is there" \
	'#\* \* \* \* \* +deephealth +\[ -d /run/systemd/system \] \|\| \[ ! -x /usr/sbin/deephealth-probe \] \|\| /usr/sbin/deephealth-probe -S -c /etc/deephealth/deephealth.conf -r 10 -d 60' \
	"$(cat "$D/etc/cron.d/deephealth")"
check_match "staged install: the lighttpd snippet spawns the installed responder" \
	'"bin-path" *=> "/usr/lib/deephealth/deephealth.fcgi -c /etc/deephealth/deephealth.conf"' \
	"$(cat "$D/etc/lighttpd/conf-available/50-deephealth.conf")"
score=$(systemd-analyze security --offline=true "$D/usr/lib/systemd/system/deephealth-probe.service" 2>&1 |
	sed -n 's/.*Overall exposure level for .*: \([0-9.]*\) .*/\1/p')
if [ -n "$score" ] && awk -v s="$score" 'BEGIN { exit !(s <= 3.0) }'; then
	ok "systemd-analyze security: prober unit exposure $score (3.0 or better)"
else not_ok "systemd-analyze security: prober unit 3.0 or better" "got [$score]"; fi
# The installed config with the prober user's view: -t passes once the state dir exists.
check "staged install: the shipped config passes the responder's -t" 0 \
	"$("${VG[@]}" "$FCGI" -t -c "$D/etc/deephealth/deephealth.conf" >/dev/null 2>&1; echo $?)"
echo '# edited' >>"$D/etc/deephealth/deephealth.conf"
make -s --no-print-directory install DESTDIR="$D" PREFIX=/usr >"$WORK/install2.out" 2>&1
check "make install again keeps an edited config" "# edited" "$(tail -n 1 "$D/etc/deephealth/deephealth.conf")"
make -s --no-print-directory uninstall DESTDIR="$D" PREFIX=/usr >"$WORK/uninstall.out" 2>&1
check "make uninstall DESTDIR=...: exit 0" 0 $?
check "make uninstall: only the edited config is left" "etc/deephealth/deephealth.conf" \
	"$(cd "$D" && find . -type f | sed 's#^\./##' | sort | xargs)"
check_match "make uninstall says it kept the edited config" 'kept .*/etc/deephealth/deephealth.conf: changed since install' \
	"$(cat "$WORK/uninstall.out")"
check "make uninstall keeps the state directory" "755" "$(stat -c %a "$D/var/lib/deephealth" 2>&1)"

# --- The real system, following the README literally.
skip=""
if [ "$(id -u)" != 0 ]; then skip="not root"
elif [[ $BUILD == *asan* || $BUILD == *valgrind* || -n ${DH_VALGRIND:-} ]]; then skip="sanitizer build (make install builds the plain one)"
elif [ -e /etc/deephealth ] || [ -e /usr/local/sbin/deephealth-probe ] || dpkg -s deephealth >/dev/null 2>&1; then
	skip="deephealth is installed on this machine already: never clobbered"
elif getent passwd deephealth >/dev/null; then skip="a deephealth user exists already"
elif (exec 3<>/dev/tcp/127.0.0.1/80) 2>/dev/null; then skip="port 80 is taken"
elif pgrep -x lighttpd >/dev/null && ! pgrep -f 'lighttpd -D -f /tmp/' >/dev/null; then skip="a system lighttpd runs already"
fi
if [ -n "$skip" ]; then
	echo "# skipped the real-system install: $skip"
	finish
fi

# What the machine looks like before: every file under the places install touches.
snapshot_fs() {
	find /usr/local /etc/deephealth /etc/cron.d /etc/lighttpd /etc/apache2/conf-available \
		/etc/nginx/snippets /etc/passwd /etc/group -xdev \( -type f -o -type l \) 2>/dev/null |
		sort | while read -r f; do echo "$f $(stat -c '%a %U' "$f") $(md5sum <"$f" 2>/dev/null | cut -c1-8)"; done
}
snapshot_fs >"$WORK/fs.before"
getent passwd deephealth >/dev/null && had_user=1 || had_user=0

# Stand-in dependencies for the operator's edit of the config.
FIXDIR=$WORK
start_fix sa1
start_fix auth
chmod 755 "$WORK"
edit_config() {
	sed -i -e '/^dependencies = (/,$d' /etc/deephealth/deephealth.conf
	cat >>/etc/deephealth/deephealth.conf <<EOF
dependencies = (
  { name = "storage-sa001"; kind = "storage"; type = "http"; witness = true;
    url = "http://127.0.0.1:${FIXPORT[sa1]}/health"; timeout_ms = 2000; },
  { name = "auth"; kind = "auth"; type = "http"; witness = true;
    url = "http://127.0.0.1:${FIXPORT[auth]}/health"; timeout_ms = 2000; }
);
EOF
	printf 'contoso westeurope,eastus2 storage-sa001 -\nnorthwind westeurope storage-sa001 -\n' \
		>/etc/deephealth/registries.map
}

# lighttpd serving, as on a front door (its packaged config, port 80).
POLICY_ADDED=0
service lighttpd start >"$WORK/lighttpd-start.out" 2>&1
for _ in $(seq 50); do curl -s -o /dev/null http://127.0.0.1/ && break; sleep 0.1; done

block=$(sed -n '/<!-- wiring:lighttpd -->/,/<!-- \/wiring -->/p' README.md | sed '1,2d;$d' | sed '$d')
check "README has the wiring block" 7 "$(echo "$block" | wc -l)"
n=0
while IFS= read -r line; do
	n=$((n + 1))
	cmd=${line%%  #*}
	cmd=${cmd%"${cmd##*[![:space:]]}"}
	case $cmd in
	editor\ *) edit_config; ok "README line $n: (the operator's edit) $cmd"; continue ;;
	curl\ *) answer=$(bash -c "$cmd -o /dev/null -w '%{http_code} %header{x-deephealth-reason}'" 2>&1)
		check "README line $n: $cmd -> 200 healthy" "200 healthy" "$answer"; continue ;;
	esac
	out=$(bash -c "$cmd" 2>&1)
	rc=$?
	if [ $rc = 0 ]; then ok "README line $n: $cmd"; else not_ok "README line $n: $cmd" "exit $rc: $out"; fi
	case $cmd in *deephealth-probe\ -t*) check_match "the prober's -t as deephealth says OK" 'configuration OK \(2 dependencies, 2 registries\)' "$out" ;; esac
done <<<"$block"

check "state directory deephealth:deephealth 0755" "deephealth deephealth 755" "$(stat -c '%U %G %a' /var/lib/deephealth)"
check "the snapshot is the prober user's, readable by the web server" "deephealth 644" "$(stat -c '%U %a' /var/lib/deephealth/snapshot)"
mode sa1 500
for _ in 1 2 3; do runuser -u deephealth -- deephealth-probe >>"$WORK/passes.out" 2>&1; done
sleep 1.2
answer=$(curl -s -o /dev/null -H 'Host: contoso.azurecr.io' -w '%{http_code} %header{x-deephealth-reason}' http://127.0.0.1/health)
check "after 3 failed passes as deephealth: 503 dependency-failed through the system lighttpd" "503 dependency-failed" "$answer"
answer=$(curl -s -o /dev/null -H 'Host: northwind.azurecr.io' -w '%{http_code} %header{x-deephealth-reason}' http://127.0.0.1/health)
check "single-region registry: 200" "200 single-region" "$answer"
check "the responders run as www-data" "www-data" "$(ps -o user= -C deephealth.fcgi | sort -u | xargs)"

block=$(sed -n '/<!-- unwiring:lighttpd -->/,/<!-- \/unwiring -->/p' README.md | sed '1,2d;$d' | sed '$d')
while IFS= read -r cmd; do
	out=$(bash -c "$cmd" 2>&1)
	rc=$?
	if [ $rc = 0 ]; then ok "README unwiring: $cmd"; else not_ok "README unwiring: $cmd" "exit $rc: $out"; fi
	[ "$cmd" = "make uninstall" ] && echo "$out" >"$WORK/sys-uninstall.out"
done <<<"$block"
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: contoso.azurecr.io' http://127.0.0.1/health)
check "after unwiring, /health is lighttpd's own 404" 404 "$code"
check_match "make uninstall kept the edited configuration and said so" 'kept /etc/deephealth/deephealth.conf: changed since install' "$(cat "$WORK/sys-uninstall.out")"
service lighttpd stop >/dev/null 2>&1
# What the operator removes by hand, as the README says: the files they edited, the state, the user.
rm -f /etc/deephealth/deephealth.conf /etc/deephealth/registries.map
rmdir /etc/deephealth
rm -rf /var/lib/deephealth
[ "$had_user" = 0 ] && userdel deephealth
snapshot_fs >"$WORK/fs.after"
diffs=$(diff "$WORK/fs.before" "$WORK/fs.after")
check "after uninstall and the documented manual steps, the system is as before" "" "$diffs"
finish
