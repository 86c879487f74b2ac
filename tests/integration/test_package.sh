#!/usr/bin/env bash
# test_package.sh: the Debian package (debian/) end to end on this machine: built with
# dpkg-buildpackage from a copy of the tree, hardening flags in the build log, lintian
# without errors, installed with apt-get (user, state directory, conffiles, nothing
# enabled: no timer, the cron line commented out; an example configuration that names
# no public host; the pool's unit checking the configuration before start and reload),
# one prober pass as the deephealth user against HTTP fixtures on loopback, the installed
# lighttpd snippet answering 200 then 503 after fall = 3 failing passes, the event log
# rotated by the installed logrotate file, then remove (the cron line stands down; nginx
# files that include the snippet are named) and purge leaving nothing of ours behind, the
# responders' counters in /dev/shm included.
#
# It changes the real system (a package, a system user), so it runs only as root, never
# for a sanitized build (the package builds its own binaries), and never where deephealth
# is installed already: it would not clobber a real installation.  On exit it purges
# what it installed, removes the user it created, and stops what it started.
. tests/integration/lib.sh

skip() {
	echo "# skipped: $1"
	echo "0 passed, 0 failed"
	exit 0
}
[ "$(id -u)" = 0 ] || skip "not root (installs and purges a package)"
case ${BUILD#"$ROOT"/} in
*asan* | *valgrind*) skip "sanitized build $BUILD (the package builds its own binaries)" ;;
esac
[ -z "${DH_VALGRIND:-}" ] || skip "valgrind run (the package builds its own binaries)"
if st=$(dpkg-query -W -f='${db:Status-Abbrev}' deephealth 2>/dev/null) && [ "${st:1:1}" != n ]; then
	skip "a deephealth package is on this system already (dpkg status '$st')"
fi
[ ! -e /etc/deephealth ] || skip "/etc/deephealth exists (a deephealth installation)"
for t in dpkg-buildpackage dpkg-parsechangelog dh lintian apt-get lighttpd curl runuser readelf; do
	command -v "$t" >/dev/null || skip "$t is not installed"
done
# The counters the installed responders create at the shipped path: the test asserts
# that they appear and that purge removes them.  With no deephealth installed (above), a
# counters file there is a leftover (make uninstall keeps it, as test_install.sh's
# responders leave it): removed first, not taken for the package's.
COUNTERS=/dev/shm/deephealth.counters
if [ -e $COUNTERS ] || [ -L $COUNTERS ]; then
	if [ -f $COUNTERS ] && [ ! -L $COUNTERS ] && [ "$(head -c 7 $COUNTERS)" = DHCOUNT ]; then
		echo "# $COUNTERS: left by the responders of an earlier installation: removed"
		rm -f $COUNTERS
	else
		skip "$COUNTERS exists and is not a deephealth counters file"
	fi
fi

HTTPFIX=$BUILD/httpfix
PKG=$WORK/pkg
VERSION=$(dpkg-parsechangelog -l debian/changelog -S Version)
UPSTREAM=${VERSION%-*}
SRC=$PKG/deephealth-$UPSTREAM
CONF=/etc/deephealth/deephealth.conf
LENABLED=/etc/lighttpd/conf-enabled/50-deephealth.conf
T0=$(date +%s)

# ---- undo everything on any exit
MADE_POLICY=0 MADE_RUNDIR=0 MADE_USER=0 INSTALLED=0 LIGHTTPD_PID="" NGINX_SITE=""
getent passwd deephealth >/dev/null || MADE_USER=1
pkg_cleanup() {
	if [ -n "$LIGHTTPD_PID" ]; then
		kill "$LIGHTTPD_PID" 2>/dev/null
		for _ in $(seq 50); do kill -0 "$LIGHTTPD_PID" 2>/dev/null || break; sleep 0.1; done
	fi
	if [ $INSTALLED = 1 ] && dpkg-query -W -f='${db:Status-Abbrev}' deephealth 2>/dev/null | grep -q '^.[^n]'; then
		echo "# cleanup: purging deephealth"
		DEBIAN_FRONTEND=noninteractive timeout 300 apt-get purge -y -q deephealth >"$WORK/cleanup-purge.out" 2>&1 ||
			timeout 120 dpkg --purge --force-all deephealth >>"$WORK/cleanup-purge.out" 2>&1
	fi
	if [ $INSTALLED = 1 ]; then
		[ -L "$LENABLED" ] && rm -f "$LENABLED"
		[ -L /etc/apache2/conf-enabled/deephealth.conf ] && rm -f /etc/apache2/conf-enabled/deephealth.conf
		rm -f /var/lib/apache2/conf/enabled_by_admin/deephealth /var/lib/apache2/conf/enabled_by_maint/deephealth
	fi
	[ $MADE_POLICY = 1 ] && rm -f /usr/sbin/policy-rc.d
	[ -n "$NGINX_SITE" ] && rm -f "$NGINX_SITE"
	[ $INSTALLED = 1 ] && rm -f $COUNTERS
	if [ $MADE_RUNDIR = 1 ]; then
		rm -rf /run/lighttpd
	else
		rm -f /run/lighttpd/deephealth.sock*
	fi
	if [ $MADE_USER = 1 ] && getent passwd deephealth >/dev/null; then
		userdel deephealth 2>/dev/null
	fi
	[ $MADE_USER = 1 ] && getent group deephealth >/dev/null && groupdel deephealth 2>/dev/null
	return 0
}
trap 'pkg_cleanup; cleanup' EXIT

# abort MESSAGE: a step the rest depends on failed.
abort() {
	not_ok "$1" "${2:-}"
	finish
}

# ---- build from a copy of the tree (dpkg-buildpackage writes into the parent directory)
mkdir -p "$SRC"
if git -C "$ROOT" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	# Tracked and new files (other engineers' work in progress included), not ignored ones.
	git -C "$ROOT" ls-files -z --cached --others --exclude-standard |
		while IFS= read -r -d '' f; do [ -f "$ROOT/$f" ] && printf '%s\0' "$f"; done |
		tar -C "$ROOT" --null -T - -cf - | tar -C "$SRC" -xf -
else
	tar -C "$ROOT" --exclude=./build --exclude=./.git --exclude=./debian/build -cf - . | tar -C "$SRC" -xf -
fi
[ -x "$SRC/debian/rules" ] || abort "source tree copied with debian/rules" "$(ls -la "$SRC/debian" 2>&1)"

t=$(date +%s)
# Not the calling make's jobserver or flags: a package build of its own.
(cd "$SRC" && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL timeout 900 dpkg-buildpackage -us -uc -b) >"$PKG/build.log" 2>&1
rc=$?
echo "# dpkg-buildpackage: exit $rc in $(($(date +%s) - t)) s"
if [ $rc -ne 0 ]; then
	tail -n 40 "$PKG/build.log" | sed 's/^/#   /'
	abort "dpkg-buildpackage -us -uc -b succeeds" "exit $rc"
fi
ok "dpkg-buildpackage -us -uc -b succeeds"
DEB=$(find "$PKG" -maxdepth 1 -name "deephealth_${VERSION}_*.deb" | head -n 1)
CHANGES=$(find "$PKG" -maxdepth 1 -name "deephealth_${VERSION}_*.changes" | head -n 1)
if [ -z "$DEB" ] || [ -z "$CHANGES" ]; then abort "the build wrote the .deb and .changes" "$(ls "$PKG")"; fi

# Hardening (DEB_BUILD_MAINT_OPTIONS=hardening=+all) on every compile and link line.
compiles=$(grep -E '^(cc|gcc)[^ ]* .* -c -o debian/build/obj/' "$PKG/build.log")
links=$(grep -E '^(cc|gcc)[^ ]* .* -o debian/build/deephealth[^/ ]* ' "$PKG/build.log")
check "build log: the responder, prober, follower, operator tool and snapshot tool are linked" 5 "$(grep -c . <<<"$links")"
check "build log: every compile line has -D_FORTIFY_SOURCE=2 and -fstack-protector-strong" "" \
	"$(grep -v -e '-D_FORTIFY_SOURCE=2' <<<"$compiles"; grep -v -e '-fstack-protector-strong' <<<"$compiles")"
check "build log: every link line has -Wl,-z,relro -Wl,-z,now" "" \
	"$(grep -v -e '-Wl,-z,relro' <<<"$links"; grep -v -e '-Wl,-z,now' <<<"$links")"
check "build log: no compiler warning" "" "$(grep -E '^[^ ]+\.[ch]:[0-9]+:[0-9]+: warning:' "$PKG/build.log")"
if command -v blhc >/dev/null; then
	out=$(blhc --debian --all "$PKG/build.log" 2>&1)
	check "blhc --debian --all finds no missing hardening flag" "" "$out"
else
	echo "# blhc not installed: hardening checked from the build log only"
fi
bad=""
for b in usr/sbin/deephealth-probe usr/sbin/deephealthctl usr/sbin/deephealth-follow usr/bin/deephealth-snap \
	 usr/lib/deephealth/deephealth.fcgi; do
	f=$SRC/debian/deephealth/$b
	readelf -h "$f" 2>/dev/null | grep -q 'Type:.*DYN' || bad="$bad $b:not-PIE"
	readelf -d "$f" 2>/dev/null | grep -q 'BIND_NOW' || bad="$bad $b:no-BIND_NOW"
	readelf -d "$f" 2>/dev/null | grep -q 'FLAGS_1.*NOW' || bad="$bad $b:no-NOW"
	readelf -lW "$f" 2>/dev/null | grep -q 'GNU_RELRO' || bad="$bad $b:no-RELRO"
done
check "built binaries are PIE with full RELRO" "" "$bad"

# ---- lintian: no errors; warnings shown
timeout 600 lintian "$CHANGES" >"$PKG/lintian.out" 2>&1
sed 's/^/# lintian: /' "$PKG/lintian.out"
check "lintian: no errors" "" "$(grep '^E: ' "$PKG/lintian.out")"

# ---- install
export DEBIAN_FRONTEND=noninteractive
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\n# test_package.sh: no service starts while it runs\nexit 101\n' >/usr/sbin/policy-rc.d
	chmod 755 /usr/sbin/policy-rc.d
	MADE_POLICY=1
fi
INSTALLED=1
(cd "$PKG" && timeout 600 apt-get install -y -q --no-install-recommends "./${DEB##*/}") >"$PKG/install.log" 2>&1
rc=$?
if [ $rc -ne 0 ]; then
	tail -n 30 "$PKG/install.log" | sed 's/^/#   /'
	abort "apt-get install ./${DEB##*/}" "exit $rc"
fi
ok "apt-get install ./${DEB##*/}"
grep -iE 'warning|error' "$PKG/install.log" | sed 's/^/# install: /'
# Nothing probes until the admin turns it on: no unit started where systemd runs.
if [ -d /run/systemd/system ]; then
	check "where systemd runs: no deephealth unit active after install" "" \
		"$(systemctl list-units --no-legend --state=active 'deephealth*' 2>&1)"
fi
check "dpkg: deephealth installed" "ii $VERSION" "$(dpkg-query -W -f='${db:Status-Abbrev}${Version}' deephealth | tr -s ' ')"

IFS=: read -r _ _ uid gid _ home shell <<<"$(getent passwd deephealth)"
check "user deephealth: home /var/lib/deephealth, no login shell" "/var/lib/deephealth /usr/sbin/nologin" "$home $shell"
check "user deephealth: a system user (uid below 1000)" "yes" "$([ "${uid:-1000}" -lt 1000 ] && echo yes || echo "no: uid '${uid:-}'")"
check "group deephealth is the user's group" "deephealth" "$(getent group "${gid:-x}" | cut -d: -f1)"
check "/var/lib/deephealth: deephealth:deephealth 0755" "deephealth:deephealth 755" \
	"$(stat -c '%U:%G %a' /var/lib/deephealth 2>&1)"

conffiles=$(dpkg-query -W -f='${Conffiles}\n' deephealth | awk 'NF { print $1 }' | sort)
want=$(printf '%s\n' /etc/deephealth/deephealth.conf /etc/deephealth/regions.conf /etc/cron.d/deephealth /etc/logrotate.d/deephealth \
	/etc/lighttpd/conf-available/50-deephealth.conf /etc/apache2/conf-available/deephealth.conf \
	/etc/apache2/conf-available/deephealth-proxy-fcgi.conf /etc/nginx/snippets/deephealth.conf | sort)
etcfiles=$(dpkg -L deephealth | grep '^/etc/' | while read -r f; do [ -f "$f" ] && echo "$f"; done | sort)
check "conffiles: every file the package puts under /etc" "$etcfiles" "$conffiles"
check "conffiles: the configuration, the regions description, cron entry, logrotate file and the four web-server snippets" "" \
	"$(comm -23 <(echo "$want") <(echo "$conffiles"))"
check "the registry map (the control plane's) is installed as an example, not a conffile" \
	"yes no" "$([ -f /etc/deephealth/registries.map ] && echo yes || echo no) $(grep -qx /etc/deephealth/registries.map <<<"$conffiles" && echo yes || echo no)"

# ---- nothing probes until the admin has configured it and turned one schedule on
check "no unit enabled: the prober's timer, the follower's, the pool's socket" "" \
	"$(find /etc/systemd/system -name 'deephealth*' 2>/dev/null)"
check "no prober ran: /var/lib/deephealth is empty" "" "$(ls -A /var/lib/deephealth 2>&1)"
units=""
for u in deephealth-probe.service deephealth-probe.timer deephealth-fcgi.socket deephealth-fcgi.service; do
	[ -s /lib/systemd/system/$u ] && units="$units $u"
done
check "units installed in /lib/systemd/system" " deephealth-probe.service deephealth-probe.timer deephealth-fcgi.socket deephealth-fcgi.service" "$units"
check "prober unit runs /usr/sbin/deephealth-probe as deephealth" \
	"ExecStart=/usr/sbin/deephealth-probe User=deephealth" \
	"$(grep -o '^ExecStart=[^ ]*' /lib/systemd/system/deephealth-probe.service) $(grep '^User=' /lib/systemd/system/deephealth-probe.service)"
CRON=/etc/cron.d/deephealth
check "cron entry: no active line but SHELL and PATH (the schedule ships commented out)" \
	"SHELL=/bin/sh PATH=/usr/sbin:/usr/bin:/sbin:/bin" "$(grep -vE '^[[:space:]]*(#|$)' $CRON | xargs)"
check "cron entry: no directory twice in PATH" "" "$(sed -n 's/^PATH=//p' $CRON | tr : '\n' | sort | uniq -d)"
cronline=$(grep -E '^#\* \* \* \* \* ' $CRON)
check "cron entry runs /usr/sbin/deephealth-probe as deephealth" "deephealth /usr/sbin/deephealth-probe" \
	"$(awk '{ print $6 }' <<<"$cronline") $(grep -o '/[^ ]*/deephealth-probe' <<<"$cronline" | sort -u)"
check "cron entry: stands down where systemd runs, and when the prober is gone" \
	"[ -d /run/systemd/system ] || [ ! -x /usr/sbin/deephealth-probe ] || /usr/sbin/deephealth-probe -S -c $CONF -r 10 -d 60" \
	"$(sed -E 's/^#?([^[:space:]]+[[:space:]]+){6}//' <<<"$cronline")"
# The documented command turns it on (on a copy: a cron daemon may be running).
sed 's/^#\* /* /' $CRON >"$WORK/cron.on"
check "the README's sed line uncomments the schedule, and only it" \
	"< $cronline"$'\n'"> ${cronline#\#}" "$(diff $CRON "$WORK/cron.on" | grep '^[<>]')"
check "no /usr/local path left in installed configuration and units" "" \
	"$(dpkg -L deephealth | grep -E '^/(etc|lib/systemd)/' | while read -r f; do [ -f "$f" ] && grep -l /usr/local "$f"; done)"

check "deephealth-probe --version" "deephealth-probe $UPSTREAM" "$(deephealth-probe --version 2>&1)"
check "deephealth-snap --version" "deephealth-snap $UPSTREAM" "$(deephealth-snap --version 2>&1)"
check "deephealth-follow --version" "deephealth-follow $UPSTREAM" "$(deephealth-follow --version 2>&1)"
check_match "installed deephealth.conf passes the responder's -t" 'configuration OK' \
	"$(/usr/lib/deephealth/deephealth.fcgi -t -c $CONF 2>&1)"

# ---- the example configuration names nothing public: every host a check, the proxy or
# the follower would reach is under .invalid (RFC 6761) or on loopback.  Comments are
# left out; libconfig's "#" comments are whole lines or trail a value here.
conf_hosts() {
	local text
	text=$(sed -e 's/^[[:space:]]*#.*//' -e 's/;[[:space:]]*#.*/;/' "$1")
	grep -oE '"[a-z][a-z0-9+.-]*://[^/:"]+' <<<"$text" | sed 's#.*://##'
	grep -oE 'address[[:space:]]*=[[:space:]]*"[^"]+"' <<<"$text" | sed -E 's/.*"(.*):[0-9]+"/\1/'
	grep -oE '"-H",[[:space:]]*"[^"]+"' <<<"$text" | sed -E 's/.*"([^"]+)"$/\1/'
}
hosts=$(conf_hosts $CONF)
check "example configuration: its hosts, as found (2 URLs, 1 address, 1 plugin -H)" 4 "$(grep -c . <<<"$hosts")"
check "example configuration: every host under .invalid or on loopback" "" \
	"$(grep -vE '(\.invalid|^127\.[0-9.]+|^\[?::1\]?|^localhost)$' <<<"$hosts")"
out=$(timeout 30 runuser -u deephealth -- deephealth-probe -t -c $CONF 2>&1)
check_match "example configuration passes the prober's -t as deephealth (the event log's directory writable)" \
	'configuration OK \(4 dependencies, 3 registries\)' "$out"
check "example configuration: the event log in the state directory, the file /etc/logrotate.d/deephealth rotates" \
	"/var/lib/deephealth/events.log /var/lib/deephealth/events.log" \
	"$(sed -n 's/^ *event_log = "\(.*\)";.*/\1/p' $CONF) $(sed -n 's/^\(\/[^ ]*\) {$/\1/p' /etc/logrotate.d/deephealth)"

# ---- the pool's unit: -t before the start (logged) and before the reload's SIGHUP (refused)
FU=/lib/systemd/system/deephealth-fcgi.service
check "pool unit: ExecStartPre -t (not fatal), ExecReload -t then SIGHUP" \
	"ExecStartPre=-/usr/lib/deephealth/deephealth.fcgi -t -c $CONF|ExecReload=/usr/lib/deephealth/deephealth.fcgi -t -c $CONF|ExecReload=/bin/kill -HUP \$MAINPID" \
	"$(grep -E '^Exec(StartPre|Reload)=' $FU | paste -sd'|')"
sed 's/mode = "enforce";/mode = "bogus";/' $CONF >"$WORK/broken.conf"
reload_check=$(sed -n 's/^ExecReload=//p' $FU | head -n 1)
out=$(${reload_check/$CONF/$WORK/broken.conf} 2>&1)
check_match "pool unit: its reload check refuses a broken configuration, naming file:line (exit 1)" \
	"^1 $WORK/broken\.conf:[0-9]+: " "$? $out"
if command -v systemd-analyze >/dev/null; then
	out=$(cd /lib/systemd/system && timeout 120 systemd-analyze verify --man=no deephealth-fcgi.service \
		deephealth-fcgi.socket deephealth-probe.service deephealth-probe.timer \
		deephealth-follow.service deephealth-follow.timer 2>&1)
	check "systemd-analyze verify: the installed units" "0 " "$? $out"
fi
missing=""
shopt -s nullglob
for m in "$SRC"/docs/man/*.[158] deephealth-probe.8; do
	m=${m##*/}
	[ -e "/usr/share/man/man${m##*.}/$m.gz" ] || missing="$missing $m"
done
shopt -u nullglob
check "man pages installed (every docs/man page, deephealth-probe(8) at least)" "" "$missing"
if command -v man >/dev/null; then
	check_match "man -w deephealth-probe" '^/usr/share/man/man8/deephealth-probe\.8(\.gz)?$' "$(man -w deephealth-probe 2>&1)"
fi

# ---- the installed prober against fixtures on loopback
F=$WORK/fix
mkdir -p "$F"
chmod 755 "$F"
[ -x "$HTTPFIX" ] || abort "fixture server $HTTPFIX built (make build/httpfix)"
httpfix_start "$HTTPFIX" "$F" storage
SPORT=$HTTPFIX_PORT
httpfix_start "$HTTPFIX" "$F" auth
APORT=$HTTPFIX_PORT
httpfix_start "$HTTPFIX" "$F" meta
MPORT=$HTTPFIX_PORT
cp $CONF "$WORK/deephealth.conf.shipped"
{
	sed '/^dependencies = (/,/^);/d' "$WORK/deephealth.conf.shipped"
	cat <<EOF
# test_package.sh: the shipped dependencies' names, on loopback fixtures.
dependencies = (
  { name = "storage-sa001"; kind = "storage"; type = "http"; witness = true;
    url = "http://127.0.0.1:$SPORT/health"; expect = "200-299"; timeout_ms = 2000; },
  { name = "auth"; kind = "auth"; type = "http"; witness = true;
    url = "http://127.0.0.1:$APORT/health"; timeout_ms = 2000; },
  { name = "metadata"; kind = "metadata"; type = "http";
    url = "http://127.0.0.1:$MPORT/health"; timeout_ms = 2000; }
);
EOF
} >$CONF
check "test configuration: every dependency on loopback" "" "$(grep -E 'url|address|command' $CONF | grep -v '^ *#' | grep -v '127\.0\.0\.1')"
check_match "test configuration passes the responder's -t" 'configuration OK' \
	"$(/usr/lib/deephealth/deephealth.fcgi -t -c $CONF 2>&1)"
out=$(timeout 30 runuser -u deephealth -- deephealth-probe -t -c $CONF 2>&1)
check "deephealth-probe -t as deephealth (state directory writable)" "0" "$?"
[ -n "$out" ] && printf '# probe -t: %s\n' "${out//$'\n'/$'\n'# probe -t: }"

# pass: one prober pass as the deephealth user, as the timer and cron run it.
PASS_RCS=""
pass() {
	timeout 30 runuser -u deephealth -- deephealth-probe -c $CONF >>"$WORK/probe.out" 2>&1
	local rc=$?
	PASS_RCS="$PASS_RCS $rc"
	return $rc
}
pass
check "one pass as deephealth: exit 0" 0 "$?"
check "snapshot published: deephealth 0644" "deephealth 644" "$(stat -c '%U %a' /var/lib/deephealth/snapshot 2>&1)"
check_match "snapshot: contoso pass" '(^|'$'\n'')reg contoso pass' "$(deephealth-snap dump /var/lib/deephealth/snapshot 2>&1)"

# ---- the installed lighttpd snippet, included as shipped
if [ ! -d /run/lighttpd ]; then
	install -d -o www-data -g www-data -m 0750 /run/lighttpd
	MADE_RUNDIR=1
fi
L=$WORK/lighttpd
PORT=$(free_port)
lighttpd_base "$L" "$PORT" "$L"
echo 'include "/etc/lighttpd/conf-available/50-deephealth.conf"' >>"$L/lighttpd.conf"
check "lighttpd -tt accepts the installed snippet" "" "$(lighttpd -tt -f "$L/lighttpd.conf" 2>&1)"
lighttpd -D -f "$L/lighttpd.conf" >"$L/stdout.log" 2>&1 &
LIGHTTPD_PID=$!
PIDS+=("$LIGHTTPD_PID")
wait_http "http://127.0.0.1:$PORT/" || sed 's/^/#   /' "$L/error.log" "$L/stdout.log"
URL=http://127.0.0.1:$PORT/health
check "installed responder via lighttpd: contoso 200 healthy" "200 healthy pass" "$(req "$URL" contoso.azurecr.io)"
check "lighttpd spawned /usr/lib/deephealth/deephealth.fcgi as www-data (max-procs 2)" 2 \
	"$(pgrep -u www-data -fc '^/usr/lib/deephealth/deephealth.fcgi')"
check "the responders' counters at the shipped path, the web server's user's" "www-data 644" \
	"$(stat -c '%U %a' $COUNTERS 2>&1)"

# Storage fails: still 200 after two failing passes, 503 after the third (fall = 3).
httpfix_mode "$F" storage 500
pass
pass
sleep 1.2 # responder.recheck_ms = 1000
check "storage 500, two passes: contoso still 200 (fall = 3)" "200 healthy pass" "$(req "$URL" contoso.azurecr.io)"
pass
got=""
for _ in $(seq 30); do
	got=$(req "$URL" contoso.azurecr.io)
	[ "$got" = "503 dependency-failed fail" ] && break
	sleep 0.2
done
check "storage 500, third pass: contoso 503 dependency-failed" "503 dependency-failed fail" "$got"
check "every prober pass exited 0" " 0 0 0 0" "$PASS_RCS"
sed 's/^/# probe: /' "$WORK/probe.out"

# ---- the event log, rotated by the installed logrotate file (a state file of this run's:
# the system's own rotations are left alone).  create: the next run opens a new file.
EV=/var/lib/deephealth/events.log
check_match "event log: the storage failure recorded" '"dependency":"storage-sa001","from":"pass","to":"fail"' \
	"$(cat $EV 2>&1)"
if command -v logrotate >/dev/null; then
	n=$(grep -c . $EV)
	out=$(logrotate -d -s "$WORK/logrotate.state" /etc/logrotate.d/deephealth 2>&1)
	check "logrotate -d: the installed file is valid (exit 0, no error)" "0 " "$? $(grep -i 'error' <<<"$out")"
	out=$(logrotate -f -s "$WORK/logrotate.state" /etc/logrotate.d/deephealth 2>&1)
	check "logrotate -f: exit 0, nothing said" "0 " "$? $out"
	check "rotated: events.log.1 holds the old lines ($n), a new events.log is deephealth's, 0644, empty" \
		"$n deephealth:deephealth 644 0" "$(grep -c . $EV.1 2>&1) $(stat -c '%U:%G %a %s' $EV 2>&1)"
	httpfix_mode "$F" storage 200
	pass
	pass
	check "rotated: storage back (rise = 2), its transition in the new events.log" \
		"0 0 1" "${PASS_RCS: -3} $(grep -v '"event":' $EV 2>&1 | grep -c '"from":"fail","to":"pass"')"
else
	echo "# logrotate is not installed: /etc/logrotate.d/deephealth not exercised"
fi

kill "$LIGHTTPD_PID"
for _ in $(seq 50); do kill -0 "$LIGHTTPD_PID" 2>/dev/null || break; sleep 0.1; done
for _ in $(seq 50); do pgrep -f '^/usr/lib/deephealth/deephealth.fcgi' >/dev/null || break; sleep 0.1; done
LIGHTTPD_PID=

# ---- remove: the program goes, configuration and state stay; enabled snippets are disabled
if [ -d /etc/lighttpd/conf-enabled ] && [ ! -e "$LENABLED" ]; then
	ln -s ../conf-available/50-deephealth.conf "$LENABLED"
fi
# nginx: a server that includes the snippet, as the README says.  The package may not
# remove that line (another package's configuration): remove and purge say where it is.
if command -v nginx >/dev/null && [ -d /etc/nginx/conf.d ] && nginx -t >/dev/null 2>&1; then
	NGINX_SITE=/etc/nginx/conf.d/zz-deephealth-test-$$.conf
	printf '# test_package.sh\nserver {\n    listen 127.0.0.1:%s;\n    include snippets/deephealth.conf;\n}\n' \
		"$(free_port)" >"$NGINX_SITE"
	out=$(nginx -t 2>&1)
	rc=$?
	check "nginx -t: a server that includes the installed snippet" "0" "$rc"
	[ $rc = 0 ] || printf '#   %s\n' "${out//$'\n'/$'\n'#   }"
else
	echo "# nginx not installed, or its configuration fails nginx -t already: include notes not checked"
fi
apache=0
if command -v a2enconf >/dev/null && a2enconf -q deephealth >/dev/null 2>&1; then apache=1; fi
timeout 300 apt-get remove -y -q deephealth >"$PKG/remove.log" 2>&1
check "apt-get remove deephealth" 0 "$?"
check "after remove: dpkg status rc" "rc" "$(dpkg-query -W -f='${db:Status-Abbrev}' deephealth | tr -d ' ')"
check "after remove: program gone, configuration and state kept" "gone kept kept" \
	"$([ -e /usr/sbin/deephealth-probe ] && echo there || echo gone) $([ -e $CONF ] && echo kept || echo gone) $([ -e /var/lib/deephealth/snapshot ] && echo kept || echo gone)"
check "after remove: lighttpd snippet disabled" "no" "$([ -L "$LENABLED" ] && echo yes || echo no)"
if [ $apache = 1 ]; then
	check "after remove: Apache conf deephealth disabled" "no" \
		"$([ -L /etc/apache2/conf-enabled/deephealth.conf ] && echo yes || echo no)"
fi
if [ -n "$NGINX_SITE" ]; then
	check_match "after remove: the nginx file that still includes the snippet is named" \
		"nginx still includes snippets/deephealth\.conf in: +$NGINX_SITE .*answers /health with 502" \
		"$(tr '\r\n' '  ' <"$PKG/remove.log")"
fi
# The cron line, kept with the configuration, run as cron would run it once uncommented
# (as deephealth, with its PATH).  Its systemd guard is made inert here, so that the -x
# guard is what is tested wherever this runs.
cronline=$(grep -E '^#\* \* \* \* \* ' $CRON)
cmd=$(sed -E 's/^#?([^[:space:]]+[[:space:]]+){6}//' <<<"$cronline")
cmd=${cmd//\/run\/systemd\/system//nonexistent/systemd}
out=$(cd / && env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin runuser -u deephealth -- sh -c "$cmd" 2>&1)
check "after remove: the cron line stands down: exit 0, nothing said (cron mails nothing)" "0 " "$? $out"
out=$(cd / && env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin runuser -u deephealth -- \
	sh -c "${cmd/"[ ! -x /usr/sbin/deephealth-probe ] || "/}" 2>&1)
check_match "after remove: without its -x guard, the same line fails (what cron would mail every minute)" \
	'^127 .*not found' "$? $out"

# ---- purge: nothing of ours left but the system user
timeout 300 apt-get purge -y -q deephealth >"$PKG/purge.log" 2>&1
check "apt-get purge deephealth" 0 "$?"
check "after purge: the responders' counters removed ($COUNTERS)" "gone" "$([ -e $COUNTERS ] && echo there || echo gone)"
if [ -n "$NGINX_SITE" ]; then
	check_match "after purge: the nginx file is named again: nginx -t now fails until the line goes" \
		"nginx still includes snippets/deephealth\.conf in: +$NGINX_SITE .*nginx -t fails" \
		"$(tr '\r\n' '  ' <"$PKG/purge.log")"
	check_match "after purge: nginx -t fails, as that note says" 'snippets/deephealth\.conf.*No such file' "$(nginx -t 2>&1)"
	rm -f "$NGINX_SITE"
	NGINX_SITE=
	check "after purge: the include removed, nginx -t passes again" 0 "$(nginx -t >/dev/null 2>&1; echo $?)"
fi
left=""
for p in /etc/deephealth /var/lib/deephealth /usr/sbin/deephealth-probe /usr/bin/deephealth-snap /usr/lib/deephealth \
	/lib/systemd/system/deephealth-probe.service /lib/systemd/system/deephealth-probe.timer \
	/lib/systemd/system/deephealth-fcgi.socket /lib/systemd/system/deephealth-fcgi.service \
	/lib/systemd/system/deephealth-follow.service /lib/systemd/system/deephealth-follow.timer \
	/etc/systemd/system/timers.target.wants/deephealth-probe.timer /etc/cron.d/deephealth \
	/etc/logrotate.d/deephealth $COUNTERS \
	/etc/lighttpd/conf-available/50-deephealth.conf /etc/apache2/conf-available/deephealth.conf \
	/etc/apache2/conf-available/deephealth-proxy-fcgi.conf /etc/nginx/snippets/deephealth.conf \
	/usr/share/doc/deephealth /usr/share/man/man8/deephealth-probe.8.gz; do
	[ -e "$p" ] || [ -L "$p" ] && left="$left $p"
done
left="$left$(find /etc/systemd /var/lib/systemd/deb-systemd-helper-enabled /var/lib/systemd/deb-systemd-helper-masked \
	/var/lib/apache2/conf -name '*deephealth*' 2>/dev/null | sed 's/^/ /' | tr -d '\n')"
check "after purge: nothing of ours left" "" "$left"
check "after purge: dpkg knows no deephealth" "" \
	"$(dpkg-query -W -f='${db:Status-Abbrev}' deephealth 2>/dev/null | grep -v '^un')"
check "after purge: system user deephealth kept (Debian convention)" "deephealth" "$(getent passwd deephealth | cut -d: -f1)"
INSTALLED=0

echo "# test_package.sh took $(($(date +%s) - T0)) s"
finish
