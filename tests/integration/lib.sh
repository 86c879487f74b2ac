# lib.sh: helpers for integration tests: TAP-ish assertions, free ports, real web servers.
# Sourced by tests/integration/test_*.sh; they run from the repository root.

set -u
ROOT=$(pwd)
. tests/common.sh
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
SNAPTOOL=$BUILD/deephealth-snap
T_PASS=0
T_FAIL=0
T_N=0
PIDS=()

# A private scratch dir the web server user can read (www-data spawns the responder).
WORK=$(mktemp -d /tmp/dh-it.XXXXXX)
chmod 755 "$WORK"
# valgrind logs of responders spawned as the web server user
mkdir -p "$WORK/vg"
chmod 1777 "$WORK/vg"
# responder.counters of the tests' configurations: the responders, spawned as the web server
# user, create it there (as they would in /dev/shm, the default)
RUNDIR=$WORK/run
mkdir -p "$RUNDIR"
chmod 1777 "$RUNDIR"
# The responder as the web server's user can run it (a copy when the clone is private).
mkdir -p "$WORK/bin"
FCGI=$(www_bin "$BUILD/deephealth.fcgi" "$WORK/bin")

# VG: a command prefix that runs one of our programs under memcheck with make valgrind (its
# log in $WORK/vg, scanned by finish), nothing otherwise.  Not for runs whose time is asserted.
VG=()
[ -n "${DH_VALGRIND:-}" ] && VG=(valgrind -q --leak-check=full --errors-for-leak-kinds=definite
	--log-file="$WORK/vg/run.%p.log")

# HTTP fixture servers standing in for dependencies (tests/fixtures/httpfix.md), in
# $FIXDIR: start_fix NAME sets FIXPORT[NAME]; mode NAME MODE switches one.
declare -A FIXPORT
start_fix() { httpfix_start "$BUILD/httpfix" "${FIXDIR:?}" "$1"; FIXPORT[$1]=$HTTPFIX_PORT; }
mode() { httpfix_mode "${FIXDIR:?}" "$1" "$2"; }

ok() {
	T_N=$((T_N + 1)); T_PASS=$((T_PASS + 1)); echo "ok $T_N - $1"
}
not_ok() {
	T_N=$((T_N + 1)); T_FAIL=$((T_FAIL + 1)); echo "not ok $T_N - $1"
	[ $# -gt 1 ] && echo "#   $2"
	return 0
}
# check DESC EXPECTED ACTUAL
check() {
	if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1" "expected [$2], got [$3]"; fi
}
# check_match DESC REGEX ACTUAL
check_match() {
	if [[ $3 =~ $2 ]]; then ok "$1"; else not_ok "$1" "expected /$2/, got [$3]"; fi
}

cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do
		for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$p" 2>/dev/null
	done
	[ -n "${KEEP_WORK:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT

finish() {
	sanitizer_scan
	canary_scan
	echo "$(basename "$0" .sh): $T_PASS passed, $T_FAIL failed"
	[ "$T_FAIL" -eq 0 ]
	exit
}

# Fail the run if any responder wrote a sanitizer or valgrind report.
sanitizer_scan() {
	local f bad=0
	for f in "$WORK"/*.log "$WORK"/*/*.log; do
		[ -e "$f" ] || continue
		if grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|== Invalid|definitely lost: [1-9]|== ERROR SUMMARY: [1-9]' "$f"; then
			bad=1; echo "# sanitizer/valgrind report in $f:"; grep -E 'ERROR|runtime error|Invalid|lost' "$f" | head -20 | sed 's/^/#   /'
		fi
	done
	# A test that runs none of our programs (a static page in a browser) says so: NO_PROGRAMS=1.
	if [ -n "${DH_VALGRIND:-}" ] && [ -z "${NO_PROGRAMS:-}" ] && ! ls "$WORK"/vg/*.log >/dev/null 2>&1; then
		bad=1; echo "# DH_VALGRIND is set but no responder ran under valgrind"
	fi
	if [ $bad -eq 0 ]; then ok "no sanitizer or valgrind reports in responder logs"; else not_ok "sanitizer or valgrind reports found"; fi
}

# The canary: a secret a test puts only in credentials files, whose names end in ".cred"
# (test_security.sh does, for failing and hanging dependencies).  Nothing else the run
# writes under $WORK (logs, snapshots, the event log, metrics, status documents, answers a
# test saved) may contain it: finish fails the run for any file that does.  Not exported:
# no program we start should see it except through a credentials file.  Written in two
# pieces, so a copy of this source tree under $WORK (test_package.sh) does not hold it.
DH_CANARY="canary-7f3c9a51""e04b2d86-do-not-log"

# canary_hits DIR: print every file under DIR that contains $DH_CANARY, except *.cred.
# Symlinks are not followed; sockets, fifos and devices are skipped.
canary_hits() {
	grep -rlF -D skip --exclude='*.cred' -e "$DH_CANARY" -- "$1" 2>/dev/null
}

# Fail the run if a credential placed in a *.cred file shows up anywhere else.
canary_scan() {
	local f hits
	hits=$(canary_hits "$WORK")
	if [ -z "$hits" ]; then
		ok "no credential (the canary of *.cred files) in any file this run wrote"
		return
	fi
	while IFS= read -r f; do
		not_ok "the canary of a credentials file leaked into ${f#"$WORK"/}" \
			"first at line $(grep -anF -m1 -e "$DH_CANARY" -- "$f" | cut -d: -f1) of $f"
	done <<<"$hits"
}

# wait_until SECONDS CMD [ARGS...]: run CMD every 50 ms until it succeeds (0), or SECONDS
# have passed (1).  The one poll loop: a test waits for a state, never for a fixed time.
wait_until() {
	local end=$((SECONDS + $1)); shift
	until "$@"; do
		[ "$SECONDS" -ge "$end" ] && return 1
		sleep 0.05
	done
}

# listening SOCK: does the unix socket SOCK take a connection now?  (The file is there from
# bind(2) on, before listen(2): a client that sees it may still be refused.)
listening() {
	python3 -c 'import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])' "$1" 2>/dev/null
}
# wait_fcgi SOCK: until a responder listens on SOCK, at most 10 s.
wait_fcgi() { wait_until 10 listening "$1" || echo "# $1: nobody listens after 10 s" >&2; }

# wait_http URL: until it answers anything, at most 10 s.
wait_http() {
	for _ in $(seq 100); do
		curl -s -o /dev/null --max-time 1 "$1" && return 0
		sleep 0.1
	done
	echo "# $1 did not come up" >&2; return 1
}

# The command a web server runs to spawn the responder with CONF (valgrind-wrapped on request).
fcgi_cmd() { echo "$(fcgi_cmd_bin) -c $1"; }

# req URL HOST [curl args...]: prints "CODE REASON STATUS" of one request.
req() {
	local url=$1 host=$2; shift 2
	curl -s -o /dev/null --max-time 10 -H "Host: $host" "$@" \
		-w '%{http_code} %header{x-deephealth-reason} %header{x-deephealth-status}' "$url"
}

# snap FIXTURE-TEXT DEST: compile a fixture given on stdin into DEST (atomic publish).
snap() {
	local fix=$WORK/fixture.$$.$RANDOM
	cat >"$fix"
	"$SNAPTOOL" compile "$fix" "$1" || echo "# snapshot compile failed" >&2
	chmod 644 "$1"
	rm -f "$fix"
}

# A prober's web server for followers: real lighttpd with the shipped snippet
# (conf/lighttpd-snapshot.conf) serving $WORK/NAME/snapshot at /deephealth-snapshot.
# snapshot_server NAME: sets PPORT[NAME].
declare -A PPORT
snapshot_server() {
	local d=$WORK/$1 port
	port=$(free_port)
	mkdir -p "$d/www"
	lighttpd_base "$d" "$port" "$d/www"
	sed -e "s#/var/lib/deephealth/snapshot#$d/snapshot#" conf/lighttpd-snapshot.conf >>"$d/lighttpd.conf"
	chmod 755 "$d"
	lighttpd -D -f "$d/lighttpd.conf" >"$d/stdout.log" 2>&1 &
	PIDS+=($!)
	for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.05; done
	# shellcheck disable=SC2034 # read by the tests that source this
	PPORT[$1]=$port
}

# The responder command without -c (for the shipped snippets, which add their own).
fcgi_cmd_bin() {
	if [ -n "${DH_VALGRIND:-}" ]; then
		echo "/usr/bin/valgrind -q --leak-check=full --errors-for-leak-kinds=definite --log-file=$WORK/vg/%p.log $FCGI"
	else
		echo "$FCGI"
	fi
}
