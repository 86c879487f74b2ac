#!/usr/bin/env bash
# test_write_paths.sh: the operator's write paths, as a table.  One region (a real prober over
# fixture dependencies, real lighttpd and the responder) with its state directory on a small
# tmpfs, and a second front door fed by deephealth-follow on a tmpfs of its own; each row does
# one step (deephealthctl override, the prober, the follower) the way operators get it wrong
# (a typo, a bad glob, a mode on a dependency, the wrong order, a hand edit, a full disk, a
# read-only directory, the wrong user) and asserts its exit status, what it said, and that
# the answers of every registry changed only as the operator intended: exactly the
# registries the row names, nothing else.
# Root only (the tmpfs mount, the users).
# shellcheck disable=SC2317,SC2120 # the steps are called from the table, through eval
. tests/integration/lib.sh
. tests/integration/servers.sh

# Other users run them too: copies they can execute when the clone is private (mktemp -d).
CTL=$(www_bin "$BUILD/deephealthctl" "$WORK/bin")
PROBE=$(www_bin "$BUILD/deephealth-probe" "$WORK/bin")
if [ "$(id -u)" != 0 ]; then
	echo "# skipped: needs root (a tmpfs state directory, other users)"
	finish
fi
S=$WORK/state
mkdir -p "$S"
# The follower's front door has a file system of its own (DS): a door is another machine, and
# what the prober's side frees (a replaced snapshot a responder still holds) must not make
# room on the door's full disk in the middle of a row.
DS=$WORK/door
mkdir -p "$DS"
mount -t tmpfs -o size=2m,mode=755 dh-write-paths "$S" || { not_ok "tmpfs mounted"; finish; }
mount -t tmpfs -o size=1m,mode=755 dh-write-paths-door "$DS" || { umount "$S"; not_ok "tmpfs mounted"; finish; }
trap 'umount -l "$S" "$DS" 2>/dev/null; cleanup' EXIT

FIXDIR=$WORK
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
northwind  westeurope          sa1      -
EOF
REGS=(contoso tailspin fabrikam litware northwind)
cat >"$S/dh.conf" <<EOF
snapshot = { path = "snapshot"; max_age = 600; };
responder = { kill_switch = "disable"; overrides = "overrides"; recheck_ms = 0;
  counters = "$RUNDIR/counters"; };
resolver = { rules = ( "^(?<registry>[a-z0-9-]{3,50})\\\\.azurecr\\\\.io\$" ); };
prober = { registries = "registries.map"; region = "westeurope"; state = "probe.state";
  lock = "probe.lock"; event_log = "events.jsonl"; interval = 10; deadline = 6; };
dependencies = (
  { name = "sa1"; kind = "storage"; type = "http"; url = "http://127.0.0.1:${FIXPORT[sa1]}/blob";
    timeout_ms = 1500; fall = 1; rise = 1; },
  { name = "sa2"; kind = "storage"; type = "http"; url = "http://127.0.0.1:${FIXPORT[sa2]}/blob";
    timeout_ms = 1500; fall = 1; rise = 1; },
  { name = "auth"; kind = "auth"; type = "http"; witness = true;
    url = "http://127.0.0.1:${FIXPORT[auth]}/health"; timeout_ms = 1500; }
);
EOF

# A second front door fed by deephealth-follow from the prober's web server: its own
# configuration, snapshot and cache in the same state directory, and its own route.
snapshot_server src
ln -s "$S/snapshot" "$WORK/src/snapshot"
cat >"$S/door.conf" <<EOF
snapshot = { path = "$DS/snapshot"; max_age = 600; };
responder = { kill_switch = "disable"; overrides = "overrides"; recheck_ms = 0;
  counters = "$RUNDIR/door.counters"; };
resolver = { rules = ( "^(?<registry>[a-z0-9-]{3,50})\\\\.azurecr\\\\.io\$" ); };
follower = { sources = ( "http://127.0.0.1:${PPORT[src]}/deephealth-snapshot" ); timeout_ms = 2000;
  cache = "$DS/cache"; };
EOF
FOLLOW=$(www_bin "$BUILD/deephealth-follow" "$WORK/bin")

# The steps rows use.  Each prints what the program said; its exit status is the step's.
ctl() { "${VG[@]}" "$CTL" -c "$S/dh.conf" "$@"; }
probe() { "${VG[@]}" "$PROBE" -c "$S/dh.conf" "$@"; }
follow() { "${VG[@]}" "$FOLLOW" -c "$S/door.conf"; }
# probe_follow: a prober pass, then the follower's: a new snapshot for the door to publish.
probe_follow() { probe >/dev/null 2>&1 && follow; }
# on_full_disk DIR CMD...: CMD with the file system of DIR ($S or $DS) full.
on_full_disk() {
	local d=$1 rc; shift
	dd if=/dev/zero of="$d/filler" bs=16k 2>/dev/null
	"$@"; rc=$?
	rm -f "$d/filler"
	return "$rc"
}
# on_read_only DIR CMD...: CMD with the file system of DIR read-only.  A replaced file that
# a responder or the snapshot's web server still holds open keeps the remount busy until
# they let it go: ask them (each takes up the newest file), then try again, up to 5 s.
on_read_only() {
	local d=$1 rc; shift
	for _ in $(seq 50); do
		mount -o remount,ro "$d" 2>/dev/null && break
		answers >/dev/null
		curl -s -o /dev/null "http://127.0.0.1:${PPORT[src]}/deephealth-snapshot"
		sleep 0.1
	done
	"$@"; rc=$?
	mount -o remount,rw "$d"
	return "$rc"
}
damage() { echo "$1" >>"$S/overrides"; }
# ctl_as USER ARGS..., probe_as USER: the same as another user.
ctl_as() { local u=$1; shift; runuser -u "$u" -- "${VG[@]}" "$CTL" -c "$S/dh.conf" "$@"; }
probe_as() { runuser -u "$1" -- "${VG[@]}" "$PROBE" -c "$S/dh.conf"; }
follow_as() { runuser -u "$1" -- "${VG[@]}" "$FOLLOW" -c "$S/door.conf"; }
# owners DIR FILE...: each file's owner, or - when it is not there.
owners() { local d=$1 f; shift; for f in "$@"; do stat -c %U "$d/$f" 2>/dev/null || echo -; done | xargs; }

# answers: "REGISTRY CODE REASON" for every registry at the prober's front door, then
# "door:REGISTRY CODE REASON" at the follower's; one curl (keep-alive).
answers() {
	local cfg=$WORK/curl.cfg h r p
	: >"$cfg"
	for r in health door; do
		p=""; [ "$r" = door ] && p="door:"
		for h in "${REGS[@]}"; do
			[ -s "$cfg" ] && echo next >>"$cfg"
			printf 'url = "%s"\nheader = "Host: %s.azurecr.io"\noutput = "/dev/null"\nsilent\nmax-time = 10\nwrite-out = "%s"\n' \
				"$U/$r" "$h" "$p$h %{http_code} %header{x-deephealth-reason}\n" >>"$cfg"
		done
	done
	curl -K "$cfg"
}
# changed BEFORE AFTER: the registries whose answer differs, space-separated, or "-".
changed() {
	local c
	c=$(diff <(echo "$1") <(echo "$2") | sed -n 's/^> \([^ ]*\) .*/\1/p' | sort | xargs)
	echo "${c:--}"
}

PORT=$(free_port)
U=http://127.0.0.1:$PORT
probe >"$WORK/probe0.out" 2>&1
check "setup: the prober's first pass" 0 "$?"
chmod -R a+rX "$S"
follow >"$WORK/follow0.out" 2>&1
check "setup: the follower's first pass" 0 "$?"
chmod -R a+rX "$S"
start_server lighttpd "$PORT" /health dh /door door || { not_ok "lighttpd started"; finish; }
check "setup: the answers as the prober sees them, at both doors" \
	"contoso 200 healthy|tailspin 200 healthy|fabrikam 503 dependency-failed|litware 503 dependency-failed|northwind 200 single-region|door:contoso 200 healthy|door:tailspin 200 healthy|door:fabrikam 503 dependency-failed|door:litware 503 dependency-failed|door:northwind 200 single-region" \
	"$(answers | paste -sd'|')"

# The table: NAME | STEP (a command line) | EXIT | CHANGED (registries, sorted; - none) | SAID (regex)
ROWS=(
	"add: one registry kept here (both doors read the file)|ctl override add registry:fabrikam force-pass -e 1h -r INC-1|0|door:fabrikam fabrikam|changed the answer of 1 of 5 registries"
	"add: a typo names nothing: refused|ctl override add registry:fabrikan force-fail -e 1h -r INC-2|1|-|registry:fabrikan names no registry of the snapshot"
	"add: a glob that cannot match: refused|ctl override add 'registry:[abc' force-fail -e 1h -r INC-2|2|-|scope registry:\\[abc: "
	"add: a mode on a dependency: refused|ctl override add dependency:sa1 shadow -e 1h -r INC-2|2|-|a dependency can be forced to pass or fail, not given the mode shadow"
	"add: no expiry: refused|ctl override add registry:contoso force-fail -r INC-2|2|-|-e: an expiry is required"
	"add: an expiry past override_max: refused|ctl override add registry:contoso force-fail -e 30d -r INC-2|2|-|at most responder.override_max"
	"add: a dependency glob naming nothing: refused|ctl override add 'dependency:sb*' force-fail -e 1h -r INC-2|1|-|dependency:sb\\* names no dependency"
	"add: forced past the check|ctl override add registry:newreg force-fail -e 1h -r INC-3 -f|0|-|changed the answer of 0 of 5 registries"
	"dry run: says whose answers change, changes none|ctl override add dependency:sa1 force-pass -e 1h -r INC-4 -n|0|-|litware +503 dependency-failed +-> 200 override-pass.*would change the answer of 1 of 5"
	"add on a full disk: refused, nothing changed|on_full_disk $S ctl override add registry:contoso force-fail -e 1h -r INC-5|1|-|No space left on device"
	"a prober pass on a full disk: the old snapshot stays|on_full_disk $S probe|5|-|No space left on device"
	"add on a read-only directory: refused, nothing changed|on_read_only $S ctl override add registry:contoso force-fail -e 1h -r INC-6|1|-|Read-only file system"
	"a prober pass on a read-only directory: the old snapshot stays|on_read_only $S probe|1|-|Read-only file system"
	"a follower pass on a full disk: the door keeps its snapshot|sleep 1; probe >/dev/null 2>\&1; on_full_disk $DS follow|6|-|No space left on device"
	"a follower pass on a read-only directory: the door keeps its snapshot|sleep 1; probe >/dev/null 2>\&1; on_read_only $DS follow|1|-|Read-only file system"
	"a hand edit that damages the file: the last good copy stays in force|damage 'registry:tailspin force-fail until=soon'|0|-|"
	"check: the damage named, with its line|ctl check|1|-|overrides .* damaged \\(1 bad line, first at line [0-9]+: .*its last good copy is in force"
	"add on the damaged file: built on the good copy|ctl override add registry:tailspin force-fail -e 1h -r INC-7|0|door:tailspin tailspin|the damaged file is kept as .*overrides.damaged"
	"remove what is not there: refused|ctl override remove registry:nosuch|1|-|no override registry:nosuch"
	"remove: the registry back to the prober's answer|ctl override remove registry:fabrikam|0|door:fabrikam fabrikam|removed: .*registry:fabrikam"
	"remove by the list's number|ctl override remove 2|0|door:tailspin tailspin|removed: .*registry:tailspin"
	"check: the file is good again|ctl override check|0|-|OK, 1 override; kept as its good copy"
	# Users: the state directory is root's here; then it is handed to the timer's user, daemon.
	"a user who is not the directory's owner: refused|ctl_as nobody override add registry:contoso force-fail -e 1h -r INC-8|1|-|state directory belongs to root, not to nobody: run as root"
	"the state directories handed to the timer's user (daemon)|chown daemon '$S' '$DS'|0|-|"
	"root adds: as daemon, handing back what root left|ctl override add registry:contoso force-fail -e 1h -r INC-9|0|contoso door:contoso|"
	"... every file it wrote is daemon's|owners $S overrides overrides.good overrides.lock events.jsonl|0|-|daemon daemon daemon daemon"
	"daemon removes what root added|ctl_as daemon override remove registry:contoso|0|contoso door:contoso|removed: .*registry:contoso"
	"daemon adds, then root removes it|ctl_as daemon override add registry:litware force-pass -e 1h -r INC-10|0|door:litware litware|"
	"... root removes what daemon added|ctl override remove registry:litware|0|door:litware litware|removed: .*registry:litware"
	"a prober pass as root: as daemon, handing back its state|probe|0|-|"
	"... then the timer's pass as daemon|probe_as daemon|0|-|"
	"... then root again|probe|0|-|"
	"... every file the prober wrote is daemon's|owners $S snapshot probe.state probe.lock events.jsonl|0|-|daemon daemon daemon daemon"
	"a pass as a third user: refused, nothing written|probe_as nobody|1|-|belongs to daemon, not to nobody"
	"a follower pass as root: as daemon, handing back what root left|probe_follow|0|-|"
	"... then the timer's pass as daemon|probe_as daemon >/dev/null; follow_as daemon|0|-|"
	"... every file the follower wrote is daemon's|owners $DS snapshot snapshot.fleet cache cache/follow.lock|0|-|daemon daemon daemon daemon"
	"a follower pass as a third user: refused, nothing written|follow_as nobody|1|-|belongs to daemon, not to nobody"
)

for row in "${ROWS[@]}"; do
	IFS='|' read -r name step want_rc want_changed want_said <<<"$row"
	before=$(answers)
	said=$(eval "$step" 2>&1); rc=$?
	after=$(answers)
	check "$name: exit $want_rc" "$want_rc" "$rc"
	check "$name: answers changed for: $want_changed" "$want_changed" "$(changed "$before" "$after")"
	[ -n "$want_said" ] && check_match "$name: says so" "$want_said" "$(echo "$said" | tr '\n' ' ')"
done
check "no temporary file left in either state directory" "" "$(find "$S" "$DS" -mindepth 1 -name '.*' -printf '%f ')"
stop_server lighttpd
finish
